# lib.sh - shared helpers for integration tests (sourced, POSIX sh + bash).
#
# Each test gets its own temporary directory and free ports; servers bind
# to 127.0.0.1 only and are stopped by PID on exit.  Waiting is done by
# polling for readiness with a deadline, never by fixed sleeps.

set -eu

: "${FLEETCA:=$(pwd)/fleetca}"
T=$(mktemp -d /tmp/fleetca-it-XXXXXX)
SERVER_PID=""

cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/server.log" ]; then
		echo "--- server log (tail) ---" >&2
		tail -n 30 "$T/server.log" >&2
	fi
	exit 1
}

ok() {
	echo "ok - $*"
}

# free_port: asks the kernel for a free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# init_dir DIR [extra init args...]: runs fleetca init with free ports.
init_dir() {
	d=$1; shift
	HTTP_PORT=$(free_port)
	HTTPS_PORT=$(free_port)
	while [ "$HTTPS_PORT" = "$HTTP_PORT" ]; do HTTPS_PORT=$(free_port); done
	"$FLEETCA" init --dir "$d" --hostname 127.0.0.1 \
		--http-port "$HTTP_PORT" --https-port "$HTTPS_PORT" "$@" \
		>"$T/init.out" 2>&1 || { cat "$T/init.out" >&2; fail "init"; }
	BASE="http://127.0.0.1:$HTTP_PORT"
	TBASE="https://127.0.0.1:$HTTPS_PORT"
}

# start_server DIR: starts fleetca serve and waits until /healthz answers.
start_server() {
	"$FLEETCA" serve --dir "$1" >"$T/server.log" 2>&1 &
	SERVER_PID=$!
	i=0
	while [ $i -lt 200 ]; do
		if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited"
		sleep 0.05
		i=$((i + 1))
	done
	fail "server did not become ready"
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=""
}

# http_status URL [curl args...]: prints the status code only.
http_status() {
	url=$1; shift
	curl -s -o "$T/body" -w '%{http_code}' "$@" "$url" || true
}
