#!/bin/sh
# ocsp_bench.sh - OCSP load: fleetca (POST cached, GET cached, POST with
# nonce) and `openssl ocsp -index ... -multi 2` (POST, GET, nonce) over the
# same N issued certificates, with the same load client (wrk, 64 keep-alive
# connections, bench/ocsp_wrk.lua).  Prints responses/s, p50/p99, server
# CPU per response (utime+stime from /proc/PID/stat, the openssl children
# included), wrk's own CPU, fleetca's peak RSS and the ratios.
#
# usage: bench/ocsp_bench.sh [--count N] [--seconds S] [--cache-mib M]
#            [--threads T] [--data DIR] [--synthetic] [--no-openssl]
#            [--rss-only]
#   --data DIR    keep the data dir and certificate lists in DIR and reuse
#                 them when DIR already holds a run for the same N (the
#                 100,000 real certificates take 1.5 minutes to issue)
#   --synthetic   bench/mkcerts --synthetic (one real certificate, the
#                 rest synthetic rows: see bench/mkcerts.c); for the
#                 1,000,000-certificate RSS run
#   --rss-only    serve, load GET and POST once, print VmHWM (RSS), stop
# Run from the build directory (needs ./fleetca and bench/mkcerts).
# Bounded: every wrk run and wait has a timeout; every process started here
# is stopped by PID on exit.
set -eu

N=100000
SECS=10
CACHE_MIB=200
THREADS=2
DATA=""
SYNTH=""
OPENSSL=1
RSS_ONLY=0
while [ $# -gt 0 ]; do
	case $1 in
	--count) N=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	--cache-mib) CACHE_MIB=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--synthetic) SYNTH=--synthetic; shift ;;
	--no-openssl) OPENSSL=0; shift ;;
	--rss-only) RSS_ONLY=1; OPENSSL=0; shift ;;
	*) echo "usage: $0 [--count N] [--seconds S] [--cache-mib M]" \
	       "[--threads T] [--data DIR] [--synthetic] [--no-openssl]" \
	       "[--rss-only]" >&2
	   exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/ocsp_wrk.lua
[ -x ./fleetca ] && [ -x bench/mkcerts ] ||
	{ echo "run from the build dir after make fleetca bench/mkcerts" >&2;
	  exit 2; }
for t in wrk curl python3 xxd; do
	command -v $t >/dev/null || { echo "$t not installed" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/fleetca-ocspbench-XXXXXX)
if [ -n "$DATA" ]; then
	mkdir -p "$DATA"
	W=$(cd "$DATA" && pwd)
else
	W=$TMP
fi
FPID=""
OPID=""
# stop PID: TERM, then KILL after 5 s; children of an openssl -multi
# parent are stopped by their own PIDs too.
stop() {
	kids=$(pgrep -P "$1" 2>/dev/null || true)
	kill "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	for k in $kids; do
		kill "$k" 2>/dev/null || true
	done
	sleep 0.2
	for k in $kids; do
		kill -9 "$k" 2>/dev/null || true
	done
	wait "$1" 2>/dev/null || true
}
cleanup() {
	[ -n "$FPID" ] && stop "$FPID"
	[ -n "$OPID" ] && stop "$OPID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
P1=$(port); P2=$(port); P3=$(port)

# ---- data: reuse DIR when it holds N certificates ----
if [ -f "$W/ready" ] && [ "$(cat "$W/ready")" = "$N $SYNTH" ]; then
	echo "reusing $W ($N certificates)"
else
	rm -rf "$W/d" "$W/c" "$W/ready"
	./fleetca init --dir "$W/d" --http-port "$P1" --https-port "$P2" \
		>/dev/null
	mkdir "$W/c"
	echo "issuing $N certificates ${SYNTH:+(synthetic rows) }..."
	bench/mkcerts --dir "$W/d" --count "$N" --pem 0 --out "$W/c" $SYNTH
	echo "$N $SYNTH" >"$W/ready"
fi
python3 - "$W/d/fleetca.json" "$CACHE_MIB" "$THREADS" "$P1" "$P2" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["threads"] = int(sys.argv[3])
c["log_level"] = "warn"
c["ocsp"]["cache_bytes"] = int(sys.argv[2]) << 20
c["http_port"] = int(sys.argv[4])
c["https_port"] = int(sys.argv[5])
json.dump(c, open(p, "w"), indent=1)
PY

# cpu_ticks PID: utime+stime of PID (all threads) and its live children.
cpu_ticks() {
	t=0
	for p in $1 $(pgrep -P "$1" || true); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null ||
			echo 0)
		t=$((t + v))
	done
	echo $t
}
HZ=$(getconf CLK_TCK)

# load LABEL URL MODE PID PATH: one wrk run (bounded); prints one line.
load() {
	c0=$(cpu_ticks "$4")
	OCSP_REQS=$W/c/reqs.hex OCSP_GETS=$W/c/reqs.get OCSP_MODE=$3 \
	    OCSP_PATH=$5 timeout $((SECS + 60 + N / 10000)) /usr/bin/time -f 'wrkcpu %U %S' \
	    wrk -t2 -c64 -d"${SECS}s" --timeout 5s --latency -s "$LUA" \
	    "$2" >"$TMP/wrk.out" 2>&1 || true
	c1=$(cpu_ticks "$4")
	python3 - "$1" "$TMP/wrk.out" $((c1 - c0)) "$HZ" <<'PY'
import re, sys
label, path, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = open(path).read()
m = re.search(r"Requests/sec:\s+([\d.]+)", t)
if not m:
    print("%-30s wrk failed:\n%s" % (label, t[-2000:]))
    open(path + ".rps", "w").write("0\n")
    sys.exit(0)
rps = float(m.group(1))
n = int(re.search(r"(\d+) requests in", t).group(1))
p = re.search(r"p50_us (\d+) p99_us (\d+)", t)
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
w = re.search(r"wrkcpu ([\d.]+) ([\d.]+)", t)
cpu_us = ticks * 1e6 / hz / n if n else 0
wcpu = (float(w.group(1)) + float(w.group(2))) * 1e6 / n if w and n else 0
print("%-30s %8.0f resp/s  p50 %6.2f ms  p99 %6.2f ms  server cpu %6.1f us/resp  wrk cpu %5.1f us/resp%s%s" % (
    label, rps, int(p.group(1)) / 1000.0, int(p.group(2)) / 1000.0, cpu_us,
    wcpu, "  non-2xx %s" % errs.group(1) if errs else "",
    "  socket errors: %s" % sock.group(1) if sock else ""))
open(path + ".rps", "w").write("%f\n" % rps)
PY
	cp "$TMP/wrk.out.rps" "$TMP/rps.$3.$6"
}

# ---- fleetca ----
./fleetca serve --dir "$W/d" >"$TMP/fleetca.log" 2>&1 &
FPID=$!
i=0
until curl -fs -m 2 -o /dev/null "http://127.0.0.1:$P1/healthz"; do
	i=$((i + 1))
	[ $i -lt 200 ] && kill -0 "$FPID" 2>/dev/null ||
		{ cat "$TMP/fleetca.log"; exit 1; }
	sleep 0.05
done
# One answer checked end to end: good, signed by the delegated signer.
head -n 1 "$W/c/reqs.hex" | xxd -r -p >"$TMP/one.der"
curl -fs -m 5 -o "$TMP/one.resp" --data-binary "@$TMP/one.der" \
	-H 'Content-Type: application/ocsp-request' \
	"http://127.0.0.1:$P1/ocsp"
openssl ocsp -respin "$TMP/one.resp" -CAfile "$W/d/certs/root_ca.pem" \
	-verify_other "$W/d/certs/issuing_ca.pem" -resp_text 2>&1 |
	grep -E "Response verify|Cert Status" | sed 's/^ */  fleetca check: /'
echo "warming up (pre-signing, then one pass over the requests)..."
# The publisher thread pre-signs in the background: wait until fleetca
# has been idle for a second (at most 300 s).
i=0
prev=-1
while [ $i -lt 300 ]; do
	sleep 1
	cur=$(cpu_ticks "$FPID")
	[ $((cur - prev)) -le $((HZ / 50)) ] && break
	prev=$cur; i=$((i + 1))
done
echo "  pre-signing done after ${i} s"
if [ $RSS_ONLY = 1 ]; then
	# Over N certificates most GETs miss the bounded cache: signed on
	# demand, then cached (evicting), which is what drives memory.
	load "fleetca GET (N=$N)" "http://127.0.0.1:$P1" get "$FPID" /ocsp f
else
	load "fleetca warm-up" "http://127.0.0.1:$P1" get "$FPID" /ocsp f \
	    >/dev/null
	load "fleetca POST (cached)" "http://127.0.0.1:$P1" post "$FPID" \
	    /ocsp f
	load "fleetca GET (cached)" "http://127.0.0.1:$P1" get "$FPID" /ocsp f
	load "fleetca POST with nonce" "http://127.0.0.1:$P1" nonce "$FPID" \
	    /ocsp f
fi
echo "fleetca memory: $(awk '/VmRSS|VmHWM/ {printf "%s %d MiB  ", $1, $2 / 1024}' \
	/proc/$FPID/status)"
stop "$FPID"; FPID=""
[ $OPENSSL = 1 ] || exit 0

# ---- openssl ocsp -index, same requests, same client ----
# Synthetic rows share one subject: tell openssl's index not to insist
# on unique subjects.
echo "unique_subject = no" >"$W/c/index.txt.attr"
# openssl's responder children stop answering once a wrk run has ended
# (they block on the connections wrk dropped), so every mode gets a fresh
# responder, stopped by PID (children too) afterwards.
ossl_load() {
	openssl ocsp -index "$W/c/index.txt" -port "$P3" \
		-rsigner "$W/d/certs/ocsp_signer.pem" \
		-rkey "$W/d/secrets/ocsp_signer.key" \
		-CA "$W/d/certs/issuing_ca.pem" -multi 2 -nmin 60 \
		>"$TMP/openssl.log" 2>&1 </dev/null &
	OPID=$!
	i=0
	until curl -fs -m 2 -o /dev/null --data-binary "@$TMP/one.der" \
	    -H 'Content-Type: application/ocsp-request' \
	    "http://127.0.0.1:$P3/"; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 "$OPID" 2>/dev/null ||
			{ echo "openssl ocsp did not answer:";
			  cat "$TMP/openssl.log"; exit 1; }
		sleep 0.1
	done
	load "openssl ocsp -multi 2 $1" "http://127.0.0.1:$P3" "$2" "$OPID" \
	    "" o
	stop "$OPID"; OPID=""
}
ossl_load POST post
ossl_load GET get
ossl_load nonce nonce
python3 - "$TMP" <<'PY'
import sys
d = sys.argv[1]
r = lambda m, w: float(open("%s/rps.%s.%s" % (d, m, w)).read())
for m in ("post", "get", "nonce"):
    print("ratio fleetca/openssl %-5s: %5.1fx" % (m, r(m, "f") / max(r(m, "o"), 1e-9)))
PY
