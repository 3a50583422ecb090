#!/bin/sh
# Revocation service end to end with independent clients: openssl ocsp
# (POST, -nonce / -no_nonce), GnuTLS ocsptool, curl for the RFC 5019 GET
# form and its caching headers, openssl crl / verify -crl_check and GnuTLS
# certtool for full and delta CRLs; good, revoked (reason), unknown,
# unauthorized, a CLI revocation while the server runs (seen within 2 s),
# certificateHold and removeFromCRL, garbage bodies (never a 5xx).
. "$(dirname "$0")/lib.sh"

: "${top_builddir:=$(dirname "$FLEETCA")}"
MKCERTS=$top_builddir/bench/mkcerts
if [ ! -x "$MKCERTS" ]; then
	make -C "$top_builddir" bench/mkcerts >/dev/null 2>&1 ||
		fail "cannot build bench/mkcerts"
fi

D=$T/data
init_dir "$D"
# Delta CRLs on, before any certificate is issued (they carry the
# Freshest CRL pointer).
python3 - "$D/fleetca.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["crl"]["delta"] = True
c["log_level"] = "warn"
json.dump(c, open(p, "w"), indent=1)
PY
mkdir "$T/c"
"$MKCERTS" --dir "$D" --count 20 --pem 5 --out "$T/c" 2>"$T/mk.log" ||
	{ cat "$T/mk.log" >&2; fail "mkcerts"; }
CA=$D/certs/issuing_ca.pem
ROOT=$D/certs/root_ca.pem
C0=$T/c/cert-0.pem
C1=$T/c/cert-1.pem
C2=$T/c/cert-2.pem
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

openssl x509 -in "$C0" -noout -text >"$T/c0.txt"
grep -q "URI:$BASE/crl/issuing-1.crl" "$T/c0.txt" || fail "CDP"
grep -q "URI:$BASE/crl/issuing-1-delta.crl" "$T/c0.txt" ||
	fail "no Freshest CRL pointer in issued certificates"
grep -q "OCSP - URI:$BASE/ocsp" "$T/c0.txt" || fail "AIA OCSP"
ok "issued certificates point at our CDP, delta CRL and OCSP URL"

start_server "$D"

# ocsp CERT [args...]: openssl ocsp against the server, output in $T/o.
ocsp() {
	c=$1; shift
	openssl ocsp -issuer "$CA" -cert "$c" -CAfile "$ROOT" \
		-url "$BASE/ocsp" "$@" >"$T/o" 2>&1
}

ocsp "$C0" -no_nonce || fail "openssl ocsp: $(cat "$T/o")"
grep -q "Response verify OK" "$T/o" || fail "response does not verify"
grep -q "cert-0.pem: good" "$T/o" || fail "good: $(cat "$T/o")"
ok "openssl ocsp POST -no_nonce: good, signature verifies"

ocsp "$C0" -nonce || fail "openssl ocsp -nonce"
grep -q "cert-0.pem: good" "$T/o" || fail "nonce: $(cat "$T/o")"
grep -qi "nonce" "$T/o" && fail "nonce not echoed: $(cat "$T/o")"
ok "openssl ocsp -nonce: fresh response echoes the nonce"

openssl ocsp -issuer "$CA" -cert "$C0" -cert "$C1" -serial 0x1234567 \
	-CAfile "$ROOT" -url "$BASE/ocsp" >"$T/o" 2>&1 || fail "multi"
grep -q "cert-0.pem: good" "$T/o" && grep -q "cert-1.pem: good" "$T/o" &&
	grep -q "0x1234567: unknown" "$T/o" || fail "multi: $(cat "$T/o")"
ok "three single requests in one message: good, good, unknown"

# A CA we do not serve: a throwaway one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/o.key" -subj /CN=other -days 2 -out "$T/other.pem" \
	>/dev/null 2>&1 || fail "other CA"
openssl ocsp -issuer "$T/other.pem" -serial 0x42 -url "$BASE/ocsp" \
	>"$T/o" 2>&1 || true
grep -q "unauthorized" "$T/o" || fail "foreign CA: $(cat "$T/o")"
openssl ocsp -issuer "$T/other.pem" -serial 0x42 -issuer "$CA" \
	-cert "$C0" -url "$BASE/ocsp" >"$T/o" 2>&1 || true
grep -q "unauthorized" "$T/o" || fail "mixed CAs: $(cat "$T/o")"
ok "CertIDs of a CA we do not serve: unauthorized (alone or mixed)"

ocsptool --ask="$BASE/ocsp" --load-issuer "$CA" --load-cert "$C0" \
	--load-signer "$D/certs/ocsp_signer.pem" >"$T/g" 2>&1 ||
	fail "ocsptool: $(cat "$T/g")"
grep -q "Certificate Status: good" "$T/g" || fail "ocsptool: $(cat "$T/g")"
grep -q "Verifying OCSP Response: Success" "$T/g" || fail "ocsptool verify"
ok "GnuTLS ocsptool --ask: good, verifies"

# RFC 5019 GET form with caching headers, and 304 on If-None-Match.
openssl ocsp -issuer "$CA" -cert "$C0" -no_nonce -reqout "$T/req.der" \
	>/dev/null 2>&1 || fail "reqout"
GETP=$(python3 -c 'import base64,sys,urllib.parse
print(urllib.parse.quote(base64.b64encode(open(sys.argv[1],"rb").read()).decode(), safe=""))' "$T/req.der")
curl -s -D "$T/h" -o "$T/resp.der" "$BASE/ocsp/$GETP" || fail "curl GET"
grep -qi "^content-type: application/ocsp-response" "$T/h" || fail "ctype"
for h in Cache-Control Last-Modified Expires ETag; do
	grep -qi "^$h:" "$T/h" || fail "GET: no $h header"
done
grep -qi "^cache-control: max-age=[0-9]" "$T/h" || fail "max-age"
openssl ocsp -respin "$T/resp.der" -issuer "$CA" -cert "$C0" \
	-CAfile "$ROOT" >"$T/o" 2>&1 || fail "GET response: $(cat "$T/o")"
grep -q "cert-0.pem: good" "$T/o" || fail "GET status"
ETAG=$(grep -i '^etag:' "$T/h" | cut -d' ' -f2 | tr -d '\r')
st=$(http_status "$BASE/ocsp/$GETP" -H "If-None-Match: $ETAG")
[ "$st" = 304 ] || fail "If-None-Match gave $st"
ok "curl GET /ocsp/<base64>: good, RFC 5019 headers, 304 on ETag"

# CRL before any revocation.
curl -s -D "$T/h" -o "$T/crl1.der" "$BASE/crl/issuing-1.crl" || fail "CRL"
grep -qi "^content-type: application/pkix-crl" "$T/h" || fail "CRL ctype"
N1=$(openssl crl -inform DER -in "$T/crl1.der" -noout -crlnumber |
	sed "s/.*=0x//")

# Revoke from the CLI while the server runs.
S1=$(serial "$C1")
"$FLEETCA" cert revoke "$S1" --reason keyCompromise --dir "$D" \
	>/dev/null || fail "cert revoke"
i=0
until ocsp "$C1" -no_nonce && grep -q "cert-1.pem: revoked" "$T/o"; do
	i=$((i + 1))
	[ $i -lt 40 ] || fail "OCSP still says $(cat "$T/o") after 2 s"
	sleep 0.05
done
grep -q "Reason: keyCompromise" "$T/o" || fail "reason: $(cat "$T/o")"
ok "CLI revocation seen by OCSP (cached path) within $((i * 50)) ms"
ocsp "$C1" -nonce && grep -q "cert-1.pem: revoked" "$T/o" ||
	fail "nonce path after revocation"
st=$(http_status "$BASE/ocsp/$GETP")
openssl ocsp -respin "$T/body" -issuer "$CA" -cert "$C0" -CAfile "$ROOT" \
	2>&1 | grep -q "cert-0.pem: good" || fail "unrelated entry dropped"
ok "nonce path says revoked; other certificates still good"

i=0
while :; do
	curl -s -o "$T/crl2.der" "$BASE/crl/issuing-1.crl"
	openssl crl -inform DER -in "$T/crl2.der" -noout -text >"$T/crl.txt"
	grep -q "$S1" "$T/crl.txt" && break
	i=$((i + 1))
	[ $i -lt 40 ] || fail "CRL lacks the revocation after 2 s"
	sleep 0.05
done
grep -q "Key Compromise" "$T/crl.txt" || fail "CRL reason"
grep -q "Authority Key Identifier" "$T/crl.txt" || fail "CRL AKI"
grep -q "URI:$BASE/crl/issuing-1.crl" "$T/crl.txt" || fail "CRL IDP"
grep -q "URI:$BASE/crl/issuing-1-delta.crl" "$T/crl.txt" ||
	fail "CRL Freshest CRL"
N2=$(openssl crl -inform DER -in "$T/crl2.der" -noout -crlnumber |
	sed "s/.*=0x//")
[ $((0x$N2)) -gt $((0x$N1)) ] || fail "CRL number $N2 not above $N1"
ok "full CRL within $((i * 50)) ms: reason, AKI, IDP = CDP, number up"

openssl crl -inform DER -in "$T/crl2.der" -out "$T/crl.pem" ||
	fail "crl to PEM"
cat "$ROOT" "$CA" >"$T/chain.pem"
openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/crl.pem" \
	"$C0" >/dev/null 2>&1 || fail "verify -crl_check: good cert refused"
openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/crl.pem" \
	"$C1" >"$T/v" 2>&1 && fail "verify -crl_check accepts revoked cert"
grep -q "revoked" "$T/v" || fail "verify: $(cat "$T/v")"
ok "openssl verify -crl_check: good passes, revoked refused"

certtool --crl-info --inder --infile "$T/crl2.der" >"$T/ct" 2>&1 ||
	fail "certtool: $(cat "$T/ct")"
grep -qi "$S1" "$T/ct" || fail "certtool: serial missing"
ok "GnuTLS certtool --crl-info reads the CRL"

# certificateHold, then removeFromCRL: the delta CRL says so.
S2=$(serial "$C2")
"$FLEETCA" cert revoke "$S2" --reason certificateHold --dir "$D" \
	>/dev/null || fail "hold"
i=0
until ocsp "$C2" -no_nonce && grep -q "Reason: certificateHold" "$T/o"; do
	i=$((i + 1)); [ $i -lt 40 ] || fail "hold not seen"; sleep 0.05
done
"$FLEETCA" cert revoke "$S2" --reason removeFromCRL --dir "$D" \
	>/dev/null || fail "removeFromCRL"
i=0
until ocsp "$C2" -no_nonce && grep -q "cert-2.pem: good" "$T/o"; do
	i=$((i + 1)); [ $i -lt 40 ] || fail "release not seen"; sleep 0.05
done
i=0
while :; do
	curl -s -o "$T/delta.der" "$BASE/crl/issuing-1-delta.crl"
	openssl crl -inform DER -in "$T/delta.der" -noout -text >"$T/d.txt"
	grep -q "Remove From CRL" "$T/d.txt" && break
	i=$((i + 1)); [ $i -lt 40 ] || fail "delta: $(cat "$T/d.txt")"
	sleep 0.05
done
grep -q "Delta CRL Indicator" "$T/d.txt" || fail "no delta indicator"
grep -q "$S1" "$T/d.txt" || fail "delta lacks the new revocation"
grep -q "URI:$BASE/crl/issuing-1.crl" "$T/d.txt" || fail "delta IDP"
ok "hold then removeFromCRL: OCSP good again, delta CRL lists removeFromCRL"

# fleetca crl while the server runs: its own number, strictly above.
"$FLEETCA" crl --dir "$D" --out "$T/cli.pem" >/dev/null ||
	fail "fleetca crl"
N3=$(openssl crl -in "$T/cli.pem" -noout -crlnumber | sed "s/.*=0x//")
[ $((0x$N3)) -gt $((0x$N2)) ] || fail "CLI CRL number $N3"
openssl crl -in "$T/cli.pem" -noout -text | grep -q "$S1" ||
	fail "CLI CRL lacks the revocation"
"$FLEETCA" crl --dir "$D" --out "$T/cli.der" >/dev/null || fail "DER out"
openssl crl -inform DER -in "$T/cli.der" -noout || fail "DER CRL"
rc=0; "$FLEETCA" crl >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "crl without --dir: exit $rc"
ok "fleetca crl --out (PEM and DER) beside the server, numbers increase"

# Garbage: malformedRequest, never a 5xx.
head -c 300 /dev/urandom >"$T/junk"
for body in "$T/junk" /dev/null "$T/crl2.der"; do
	st=$(http_status "$BASE/ocsp" -X POST --data-binary "@$body" \
		-H 'Content-Type: application/ocsp-request')
	[ "$st" = 200 ] || fail "garbage POST gave HTTP $st"
	openssl ocsp -respin "$T/body" -resp_text 2>&1 |
		grep -qi "malformedRequest" || fail "garbage: not malformedRequest"
done
for p in "%ZZ" "AAAA" "!!!" "$(printf 'A%.0s' $(seq 1 300))"; do
	st=$(http_status "$BASE/ocsp/$p")
	[ "$st" = 200 ] || fail "garbage GET $p gave HTTP $st"
	openssl ocsp -respin "$T/body" -resp_text 2>&1 |
		grep -qi "malformedRequest" || fail "GET garbage $p"
done
# A nonce of 40 octets (RFC 8954: at most 32) is refused.
python3 - "$T/req.der" "$T/bignonce.der" <<'PY'
import sys
def tlv(t, v):
    n = len(v)
    if n < 128: l = bytes([n])
    elif n < 256: l = bytes([0x81, n])
    else: l = bytes([0x82, n >> 8, n & 255])
    return bytes([t]) + l + v
def split(b):
    t, n, i = b[0], b[1], 2
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[2:2 + k], "big"); i = 2 + k
    return t, b[i:i + n]
_, outer = split(open(sys.argv[1], "rb").read())
_, tbs = split(outer)
nonce_oid = bytes.fromhex("06092b0601050507300102")
ext = tlv(0x30, nonce_oid + tlv(0x04, tlv(0x04, b"\x01" * 40)))
tbs += tlv(0xa2, tlv(0x30, ext))
open(sys.argv[2], "wb").write(tlv(0x30, tlv(0x30, tbs)))
PY
st=$(http_status "$BASE/ocsp" -X POST --data-binary "@$T/bignonce.der")
[ "$st" = 200 ] || fail "long nonce gave HTTP $st"
openssl ocsp -respin "$T/body" -resp_text 2>&1 | grep -qi "malformedRequest" ||
	fail "a 40-octet nonce was not refused"
head -c 20000 /dev/zero >"$T/big"
st=$(http_status "$BASE/ocsp" -X POST --data-binary "@$T/big")
[ "$st" = 413 ] || fail "oversized POST gave $st"
ok "garbage, a 40-octet nonce and oversized bodies: malformedRequest / 413"

st=$(http_status "$BASE/crl/nosuch.crl")
[ "$st" = 404 ] || fail "unknown CRL gave $st"
grep -q ' 5[0-9][0-9] ' "$T/server.log" && fail "a 5xx was logged"
kill -0 "$SERVER_PID" || fail "server died"
stop_server
ok "unknown CRL 404, no 5xx, clean shutdown"
