#!/bin/sh
# init + serve on 127.0.0.1 with free ports; checks the files init leaves,
# their modes, the certificates (openssl verify / x509 -text), /healthz over
# HTTP and HTTPS, /ca/, 404/405/413, and clean shutdown.
. "$(dirname "$0")/lib.sh"

D=$T/data
init_dir "$D" --name "IT Fleet"

for f in fleetca.json fleetca.db certs/root_ca.pem certs/issuing_ca.pem \
    certs/ocsp_signer.pem certs/tls_server.pem certs/admin.pem \
    secrets/root_ca.key secrets/issuing_ca.key secrets/ocsp_signer.key \
    secrets/tls_server.key secrets/admin.key policies/ldevid.json; do
	[ -f "$D/$f" ] || fail "init did not create $f"
done
for k in "$D"/secrets/*.key; do
	m=$(stat -c %a "$k")
	[ "$m" = 600 ] || fail "$k has mode $m"
done
ok "init leaves every file, keys 0600"

"$FLEETCA" init --dir "$D" >/dev/null 2>&1 && fail "init over a non-empty dir"
ok "init refuses a non-empty directory"

rc=0
"$FLEETCA" init --dir "$T/x" --key-type dsa >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "bad --key-type is not a usage error (exit $rc)"
ok "bad key type is a usage error (exit 2)"

R=$D/certs/root_ca.pem
openssl verify -CAfile "$R" "$D/certs/issuing_ca.pem" >/dev/null ||
	fail "issuing CA does not verify"
openssl verify -CAfile "$R" -untrusted "$D/certs/issuing_ca.pem" \
	"$D/certs/ocsp_signer.pem" >/dev/null || fail "OCSP signer"
openssl verify -CAfile "$R" -untrusted "$D/certs/tls_server.pem" \
	"$D/certs/tls_server.pem" >/dev/null || fail "TLS server cert"
openssl verify -CAfile "$R" -untrusted "$D/certs/admin.pem" \
	"$D/certs/admin.pem" >/dev/null || fail "admin cert"
openssl x509 -in "$D/certs/ocsp_signer.pem" -noout -text >"$T/ocsp.txt"
grep -q "OCSP Signing" "$T/ocsp.txt" || fail "OCSP signer lacks EKU"
grep -q "OCSP No Check" "$T/ocsp.txt" || fail "OCSP signer lacks nocheck"
openssl x509 -in "$R" -noout -text >"$T/root.txt"
grep -q "CA:TRUE" "$T/root.txt" || fail "root lacks CA:TRUE"
grep -q "Certificate Sign, CRL Sign" "$T/root.txt" || fail "root key usage"
openssl x509 -in "$D/certs/tls_server.pem" -noout -text >"$T/tls.txt"
grep -q "IP Address:127.0.0.1" "$T/tls.txt" || fail "TLS cert lacks IP SAN"
ok "certificates verify with openssl and carry the right extensions"

# Short idle timeout so the slow-client check below stays quick.
sed -i 's/"conn_timeout_seconds": 15/"conn_timeout_seconds": 2/' "$D/fleetca.json"
start_server "$D"
[ "$(curl -fsS "$BASE/healthz")" = ok ] || fail "healthz over HTTP"
[ "$(curl -fsS --cacert "$R" "$TBASE/healthz")" = ok ] ||
	fail "healthz over HTTPS with --cacert root_ca.pem"
ok "/healthz over HTTP and HTTPS (TLS verified against root_ca.pem)"

curl -fsS --tlsv1.3 --cacert "$R" "$TBASE/healthz" >/dev/null || fail "TLS 1.3"
curl -fsS --tlsv1.2 --tls-max 1.2 --cacert "$R" "$TBASE/healthz" >/dev/null ||
	fail "TLS 1.2"
ok "TLS 1.2 and 1.3"

curl -fsS "$BASE/ca/issuing-1.crt" -o "$T/ca.der" || fail "/ca/issuing-1.crt"
openssl x509 -inform DER -in "$T/ca.der" -noout || fail "CA cert is not DER"
ok "/ca/<ca>.crt serves DER"

[ "$(http_status "$BASE/nope")" = 404 ] || fail "unknown path not 404"
[ "$(http_status "$BASE/healthz" -X POST -d x)" = 405 ] || fail "not 405"
[ "$(http_status "$BASE/ca/nope.crt")" = 404 ] || fail "unknown CA not 404"
ok "404 and 405"

head -c 100000 /dev/zero >"$T/big"
[ "$(http_status "$BASE/ocsp" -X POST -H 'Content-Type: application/ocsp-request' \
	-H 'Expect: 100-continue' --data-binary @"$T/big")" = 413 ] ||
	fail "oversized body not 413"
ok "413 for a body over the endpoint's cap (decided from Content-Length)"

# A client that sends half a request and goes quiet is dropped.
python3 - "$HTTP_PORT" <<'PY' || fail "slow client was not timed out"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
s.settimeout(10)
t = time.time()
try:
    while s.recv(4096):
        pass
except socket.timeout:
    sys.exit(1)
sys.exit(0 if time.time() - t < 8 else 1)
PY
curl -fsS "$BASE/healthz" >/dev/null || fail "server unhealthy after slow client"
ok "a slow client is disconnected after the idle timeout; the server stays up"

stop_server
grep -q "shutting down" "$T/server.log" || fail "no clean shutdown"
ok "clean shutdown on SIGTERM"

"$FLEETCA" audit verify --dir "$D" >/dev/null || fail "audit verify"
"$FLEETCA" audit list --dir "$D" | grep -q "init" || fail "audit list"
ok "audit verify / list"
