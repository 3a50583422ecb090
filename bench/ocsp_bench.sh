#!/bin/sh
# ocsp_bench.sh - OCSP load: fleetca (POST cached, GET cached, POST with
# nonce) and `openssl ocsp -index ... -multi 2` over the same N issued
# certificates, with the same load client (wrk, 64 keep-alive
# connections, bench/ocsp_wrk.lua).  Reports responses/s, p99, server CPU
# time per response (utime+stime from /proc, children included) and RSS.
#
# usage: bench/ocsp_bench.sh [--count N] [--seconds S] [--cache-mib M]
# Run from the build directory (needs ./fleetca and bench/mkcerts; make
# bench/mkcerts builds it).  Everything lives in a temporary directory.
set -eu

N=100000
SECS=10
CACHE_MIB=200
while [ $# -gt 0 ]; do
	case $1 in
	--count) N=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	--cache-mib) CACHE_MIB=$2; shift 2 ;;
	*) echo "usage: $0 [--count N] [--seconds S] [--cache-mib M]" >&2
	   exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/ocsp_wrk.lua
[ -x ./fleetca ] && [ -x bench/mkcerts ] ||
	{ echo "run from the build dir after make fleetca bench/mkcerts" >&2;
	  exit 2; }
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 2; }
W=$(mktemp -d /tmp/fleetca-ocspbench-XXXXXX)
FPID=""
OPID=""
cleanup() {
	[ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
	[ -n "$OPID" ] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
P1=$(port); P2=$(port); P3=$(port)

./fleetca init --dir "$W/d" --http-port "$P1" --https-port "$P2" >/dev/null
python3 - "$W/d/fleetca.json" "$CACHE_MIB" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["threads"] = 2
c["log_level"] = "warn"
c["ocsp"]["cache_bytes"] = int(sys.argv[2]) << 20
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
mkdir "$W/c"
echo "issuing $N certificates..."
bench/mkcerts --dir "$W/d" --count "$N" --pem 0 --out "$W/c"

# cpu_ticks PID: utime+stime of PID and its live children.
cpu_ticks() {
	t=0
	for p in $1 $(pgrep -P "$1" || true); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo $t
}
HZ=$(getconf CLK_TCK)

# load LABEL URL MODE PID: one wrk run; prints one result line.
load() {
	c0=$(cpu_ticks "$4")
	OCSP_REQS=$W/c/reqs.hex OCSP_MODE=$3 wrk -t2 -c64 -d"${SECS}s" \
		--latency -s "$LUA" "$2" >"$W/wrk.out" 2>&1
	c1=$(cpu_ticks "$4")
	python3 - "$1" "$W/wrk.out" $((c1 - c0)) "$HZ" <<'PY'
import re, sys
label, path, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = open(path).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
n = int(re.search(r"(\d+) requests in", t).group(1))
p99 = re.search(r"p99_us (\d+)", t).group(1)
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
cpu_us = ticks * 1e6 / hz / n if n else 0
print("%-28s %10.0f resp/s  p99 %6.2f ms  cpu %6.1f us/resp%s%s" % (
    label, rps, int(p99) / 1000.0, cpu_us,
    "  non-2xx %s" % errs.group(1) if errs else "",
    "  socket errors: %s" % sock.group(1) if sock else ""))
open(path + ".rps", "w").write("%f\n" % rps)
PY
}

./fleetca serve --dir "$W/d" >"$W/fleetca.log" 2>&1 &
FPID=$!
i=0
until curl -fs -o /dev/null "http://127.0.0.1:$P1/healthz"; do
	i=$((i + 1)); [ $i -lt 200 ] || { cat "$W/fleetca.log"; exit 1; }
	sleep 0.05
done
echo "warming up (pre-signing and first pass)..."
sleep 3
load "fleetca warm-up" "http://127.0.0.1:$P1" post "$FPID" >/dev/null
load "fleetca POST (cached)" "http://127.0.0.1:$P1" post "$FPID"
FPOST=$(cat "$W/wrk.out.rps")
load "fleetca GET (cached)" "http://127.0.0.1:$P1" get "$FPID"
load "fleetca POST with nonce" "http://127.0.0.1:$P1" nonce "$FPID"
echo "fleetca RSS: $(awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' \
	/proc/$FPID/status)"
kill "$FPID"; wait "$FPID" 2>/dev/null || true; FPID=""

openssl ocsp -index "$W/c/index.txt" -port "$P3" \
	-rsigner "$W/d/certs/ocsp_signer.pem" -rkey "$W/d/secrets/ocsp_signer.key" \
	-CA "$W/d/certs/issuing_ca.pem" -multi 2 -nmin 60 >"$W/openssl.log" 2>&1 &
OPID=$!
i=0
head -n 1 "$W/c/reqs.hex" | xxd -r -p >"$W/one.der"
until curl -s -m 2 -o /dev/null -X POST --data-binary "@$W/one.der" \
    -H 'Content-Type: application/ocsp-request' "http://127.0.0.1:$P3/"; do
	i=$((i + 1)); [ $i -lt 200 ] || { cat "$W/openssl.log"; exit 1; }
	sleep 0.05
done
load "openssl ocsp -multi 2 POST" "http://127.0.0.1:$P3" post "$OPID"
OPOST=$(cat "$W/wrk.out.rps")
python3 -c "import sys; print('ratio fleetca/openssl (POST): %.1fx' % (float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9)))" "$FPOST" "$OPOST"
