#!/bin/sh
# est_bench.sh - EST enrollment throughput, end to end on 127.0.0.1.
#
#   bench/est_bench.sh [BUILD_DIR] [COUNT] [THREADS] [NDEV]
#
# Sets up a fresh data dir in a temporary directory (fleetca init, a
# simulated manufacturer with NDEV devices, its trust and manifest
# imported, every device claimed), starts "fleetca serve" (durable
# commits: the committer's handle is synchronous=FULL), then runs
# bench/est_load in keepalive, newconn (a full mutual-TLS handshake per
# enrollment) and handshake modes (a new connection and full handshake per
# operation and no request: the floor under newconn on this machine); on
# request also newconn --resume, which tries TLS session resumption (the
# server, on libmicrohttpd 0.9.75, issues no tickets, so it falls back to
# full handshakes).  Each run prints
# throughput, p50/p99 latency, the server's CPU per operation (utime+stime
# from /proc/PID/stat), the rate the server alone could sustain on this
# machine's cores at that cost, and the load client's own CPU (it shares
# the cores).  The server is stopped by its PID; every step is bounded
# with timeout(1).
#
# BUILD_DIR defaults to the current directory (a configured build where
# "make bench/est_load" works).
#
# Environment: SERVER_THREADS (worker threads per listener, 0 = default),
# MODES (default "keepalive newconn handshake"; "resume" is also known),
# LOAD_ARGS (extra est_load options, e.g. "--no-decode"), PERF_OUT (record the server with
# "perf record -g" into that file during the timed runs).
set -eu

B=$(cd "${1:-.}" && pwd)
COUNT=${2:-20000}
THREADS=${3:-64}
NDEV=${4:-64}
W=$(mktemp -d /tmp/est_bench.XXXXXX)
SPID=
PPID_PERF=

cleanup() {
	if [ -n "$PPID_PERF" ] && kill -0 "$PPID_PERF" 2>/dev/null; then
		kill -INT "$PPID_PERF"
		wait "$PPID_PERF" 2>/dev/null || true
	fi
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill "$SPID"
		# Bounded wait, then give up loudly.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$SPID" 2>/dev/null && kill -9 "$SPID"
	fi
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

[ -x "$B/fleetca" ] || { echo "no fleetca in $B" >&2; exit 1; }
[ -x "$B/bench/est_load" ] || (cd "$B" && make bench/est_load >/dev/null)
[ -x "$B/bench/mkmanifest" ] || (cd "$B" && make bench/mkmanifest >/dev/null)

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
P1=$(freeport)
P2=$(freeport)
D=$W/data
F="$B/fleetca"
$F init --dir "$D" --hostname 127.0.0.1 --http-port "$P1" \
	--https-port "$P2" >/dev/null 2>&1
"$B/bench/mkmanifest" --count "$NDEV" --out "$W/mfg" >/dev/null
$F trust add --dir "$D" --manufacturer "$W/mfg/manufacturer_root.pem" >/dev/null
$F trust add --dir "$D" --manifest-signer "$W/mfg/manifest_signer.pem" >/dev/null
$F manifest import --dir "$D" "$W/mfg/manifest.json" >/dev/null
$F device claim --dir "$D" --file "$W/mfg/devices.txt" --owner acme.example \
	>/dev/null
# Quiet request log: the bench measures enrollment, not the logger.
sed -i 's/"log_level": "info"/"log_level": "warn"/' "$D/fleetca.json"
# SERVER_THREADS overrides the worker threads per listener (0 = default).
if [ -n "${SERVER_THREADS:-}" ]; then
	sed -i "s/\"threads\": 0/\"threads\": $SERVER_THREADS/" "$D/fleetca.json"
fi

$F serve --dir "$D" >"$W/serve.log" 2>&1 &
SPID=$!
i=0
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$P2),0.2)" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "server did not start" >&2; cat "$W/serve.log" >&2; exit 1; }
	kill -0 "$SPID" 2>/dev/null || { cat "$W/serve.log" >&2; exit 1; }
	sleep 0.1
done

run() {
	echo "== $*"
	timeout 600 "$B/bench/est_load" --port "$P2" \
		--cacert "$D/certs/root_ca.pem" --devices "$W/mfg/devices.txt" \
		--signer-ca "$W/mfg/signer_ca.pem" --threads "$THREADS" \
		--count "$COUNT" --pid "$SPID" ${LOAD_ARGS:-} "$@" ||
		echo "(est_load exit $?)"
}
# A short warm-up so page cache and lazy init are not in the figures.
timeout 120 "$B/bench/est_load" --port "$P2" --cacert "$D/certs/root_ca.pem" \
	--devices "$W/mfg/devices.txt" --signer-ca "$W/mfg/signer_ca.pem" \
	--threads 8 --count 400 >/dev/null || true
if [ -n "${PERF_OUT:-}" ]; then
	perf record -q -F 499 ${PERF_ARGS:--g} -p "$SPID" -o "$PERF_OUT" >/dev/null 2>&1 &
	PPID_PERF=$!
	sleep 0.5
fi
for m in ${MODES:-keepalive newconn handshake}; do
	case $m in
	resume) run --mode newconn --resume ;;
	handshake) run --mode newconn --op handshake ;;
	*) run --mode "$m" ;;
	esac
done
if [ -n "$PPID_PERF" ]; then
	kill -INT "$PPID_PERF"
	wait "$PPID_PERF" 2>/dev/null || true
	PPID_PERF=
fi
