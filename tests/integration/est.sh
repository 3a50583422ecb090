#!/bin/sh
# EST (RFC 7030) end to end with curl and openssl: a simulated manufacturer
# (bench/mkmanifest), its trust and manifest imported, devices claimed;
# then cacerts, csrattrs, simpleenroll with the IDevID, simplereenroll with
# the LDevID, labels, and every refusal (401 / 403 reason / 400 / 413 /
# 415), each refusal audited and the audit chain intact afterwards.
. "$(dirname "$0")/lib.sh"

: "${MKMANIFEST:=${top_builddir:-$(pwd)}/bench/mkmanifest}"
[ -x "$MKMANIFEST" ] || fail "no mkmanifest at $MKMANIFEST"

D=$T/data
init_dir "$D"
R=$D/certs/root_ca.pem
EST=/.well-known/est

# Two vendors' worth of chips: both roots trusted, only the first
# manifest imported, so the second vendor's chips chain to trust but are
# in no manifest (counterfeit / unknown).
"$MKMANIFEST" --count 6 --out "$T/mfg" >/dev/null || fail "mkmanifest"
"$MKMANIFEST" --count 1 --out "$T/mfg2" >/dev/null || fail "mkmanifest 2"
for m in "$T/mfg" "$T/mfg2"; do
	"$FLEETCA" trust add --dir "$D" --manufacturer "$m/manufacturer_root.pem" \
		>/dev/null || fail "trust add manufacturer"
done
"$FLEETCA" trust add --dir "$D" --manifest-signer "$T/mfg/manifest_signer.pem" \
	>/dev/null || fail "trust add manifest signer"
"$FLEETCA" manifest import --dir "$D" "$T/mfg/manifest.json" >/dev/null ||
	fail "manifest import"

# dev N DIR: writes $T/devN.{key,crt,chain} from line N of DIR/devices.txt
# and sets UID to its unique id.  The chain file holds the IDevID and the
# vendor's signer CA, which a device presents in its TLS handshake.
dev() {
	line=$(sed -n "$1p" "$2/devices.txt")
	set -- $line "$1" "$2"
	UID_=$1
	echo "$2" | base64 -d | openssl pkey -inform DER -out "$T/dev$4.key" ||
		fail "device key"
	echo "$3" | base64 -d | openssl x509 -inform DER -out "$T/dev$4.crt" ||
		fail "device cert"
	cat "$T/dev$4.crt" "$5/signer_ca.pem" >"$T/dev$4.chain"
}

for n in 1 2 3 4; do
	dev $n "$T/mfg"
	"$FLEETCA" device claim --dir "$D" "$UID_" --owner acme.example \
		>/dev/null || fail "claim $UID_"
done
dev 1 "$T/mfg"; U1=$UID_
dev 2 "$T/mfg"; U2=$UID_
dev 3 "$T/mfg"; U3=$UID_
dev 4 "$T/mfg"; U4=$UID_
dev 5 "$T/mfg"; U5=$UID_		# registered, never claimed
dev 1 "$T/mfg2"; U9=$UID_		# trusted vendor, not in any manifest
mv "$T/dev1.key" "$T/dev9.key"; mv "$T/dev1.crt" "$T/dev9.crt"
mv "$T/dev1.chain" "$T/dev9.chain"
dev 1 "$T/mfg"

# A profile that revokes the superseded LDevID at once, served at label
# "quick", next to the shipped one (grace of a day).
sed -e 's/"name": "ldevid"/"name": "quick"/' \
    -e 's/"labels": \[[^]]*\]/"labels": ["fast"]/' \
    -e 's/"grace_seconds": [0-9]*/"grace_seconds": 0/' \
    "$D/policies/ldevid.json" >"$D/policies/quick.json"

start_server "$D"

# csr KEYOUT CN [extra openssl req args]: a base64 PKCS#10 on stdout.
csr() {
	k=$1; cn=$2; shift 2
	if [ -f "$k" ]; then
		openssl req -new -key "$k" -subj "/CN=$cn" -outform DER "$@"
	else
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$k" -subj "/CN=$cn" -outform DER "$@" \
			2>/dev/null
	fi | base64 -w 64
}

# post OP FILE [curl args]: POSTs FILE as application/pkcs10; status only.
post() {
	op=$1; f=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' --cacert "$R" \
		-H 'Content-Type: application/pkcs10' --data-binary "@$f" \
		"$@" "$TBASE$EST/$op" || true
}

# expect STATUS BODY-FIRST-LINE-OR-- WHAT: checks the last answer.
expect() {
	[ "$got" = "$1" ] || fail "$3: status $got, wanted $1 ($(head -c 200 "$T/body"))"
	if [ "$2" != - ]; then
		[ "$(head -n 1 "$T/body")" = "$2" ] ||
			fail "$3: body '$(head -n 1 "$T/body")', wanted '$2'"
	fi
	ok "$3"
}

# cert_of: the single certificate of the last certs-only answer.
cert_of() {
	tr -d '\r' <"$T/body" | base64 -d | openssl pkcs7 -inform DER -print_certs \
		-out "$1" || fail "answer is not a certs-only PKCS#7"
}

IDEV1="--cert $T/dev1.chain --key $T/dev1.key"

# ---- cacerts and csrattrs --------------------------------------------
got=$(http_status "$TBASE$EST/cacerts" --cacert "$R")
expect 200 - "cacerts answers 200"
tr -d '\r' <"$T/body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/cas.pem" ||
	fail "cacerts is not PKCS#7"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cas.pem")" = 2 ] ||
	fail "cacerts does not hold issuing CA and root"
openssl x509 -in "$D/certs/issuing_ca.pem" -outform DER >"$T/i.der"
openssl x509 -in "$T/cas.pem" -outform DER >"$T/first.der"
cmp -s "$T/i.der" "$T/first.der" || fail "cacerts: issuing CA not first"
curl -s -D "$T/hdr" -o /dev/null --cacert "$R" "$TBASE$EST/cacerts"
grep -qi '^content-type: application/pkcs7-mime' "$T/hdr" ||
	fail "cacerts content type"
ok "cacerts: issuing CA and root, certs-only base64, application/pkcs7-mime"

got=$(http_status "$TBASE$EST/csrattrs" --cacert "$R")
expect 204 - "csrattrs: 204 when the profile asks for nothing"
got=$(http_status "$TBASE$EST/nolabel/cacerts" --cacert "$R")
expect 404 - "unknown label: 404"
got=$(http_status "$TBASE$EST/device/cacerts" --cacert "$R")
expect 200 - "label 'device' selects the ldevid profile"
got=$(http_status "$TBASE$EST/cacerts" --cacert "$R" -X POST -d x)
expect 405 - "POST cacerts: 405"
[ "$(http_status "$BASE$EST/cacerts")" = 404 ] || fail "EST on plain HTTP"
ok "EST is not served on the plain HTTP port"

# ---- first enrollment ---------------------------------------------
csr "$T/l1.key" "$U1" >"$T/c1.b64"
got=$(post simpleenroll "$T/c1.b64" $IDEV1)
expect 200 - "simpleenroll with the IDevID"
cert_of "$T/ldev1.pem"
openssl verify -CAfile "$R" -untrusted "$D/certs/issuing_ca.pem" \
	-purpose sslclient "$T/ldev1.pem" >/dev/null || fail "LDevID does not verify"
openssl x509 -in "$T/ldev1.pem" -noout -subject | grep -q "$U1" ||
	fail "LDevID subject does not name the device"
[ "$(openssl x509 -in "$T/ldev1.pem" -noout -pubkey)" = \
  "$(openssl pkey -in "$T/l1.key" -pubout)" ] || fail "LDevID key is not the CSR's"
"$FLEETCA" device show --dir "$D" "$U1" | grep -q "state: active" ||
	fail "device not active after enrollment"
ok "LDevID verifies to the root, names the device, has the CSR key; device active"

# Folded with CRLF and unfolded bodies are both fine.
csr "$T/l2.key" "$U2" | tr -d '\n' >"$T/c2.b64"
got=$(post simpleenroll "$T/c2.b64" --cert "$T/dev2.chain" --key "$T/dev2.key")
expect 200 - "simpleenroll with an unfolded base64 body"
csr "$T/l3.key" "$U3" | sed 's/$/\r/' >"$T/c3.b64"
got=$(post device/simpleenroll "$T/c3.b64" --cert "$T/dev3.chain" \
	--key "$T/dev3.key")
expect 200 - "simpleenroll with CRLF lines under label 'device'"
cert_of "$T/ldev3.pem"

# Same key again with the IDevID: once per key (policy default).
got=$(post simpleenroll "$T/c1.b64" $IDEV1)
expect 403 already_enrolled "same request again: 403 already_enrolled"
csr "$T/l1n.key" "$U1" >"$T/c1n.b64"
got=$(post simpleenroll "$T/c1n.b64" $IDEV1)
expect 200 - "IDevID again with a new key: allowed"

# ---- refusals ----------------------------------------------------------
got=$(post simpleenroll "$T/c1.b64")
expect 401 no_client_cert "no client certificate: 401"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/self.key" -subj "/CN=$U1" -days 2 -out "$T/self.crt" \
	2>/dev/null
got=$(post simpleenroll "$T/c1.b64" --cert "$T/self.crt" --key "$T/self.key")
expect 401 untrusted_chain "self-signed client certificate: 401"
got=$(post simpleenroll "$T/c1.b64" --cert "$T/dev1.crt" --key "$T/dev1.key")
expect 401 untrusted_chain "IDevID without its signer CA: 401 untrusted_chain"

csr "$T/l9.key" "$U9" >"$T/c9.b64"
got=$(post simpleenroll "$T/c9.b64" --cert "$T/dev9.chain" --key "$T/dev9.key")
expect 403 unknown_device "chip in no manifest (counterfeit): 403 unknown_device"
csr "$T/l5.key" "$U5" >"$T/c5.b64"
got=$(post simpleenroll "$T/c5.b64" --cert "$T/dev5.chain" --key "$T/dev5.key")
expect 403 not_claimed "unclaimed device: 403 not_claimed"
csr "$T/dev4.key" "$U4" >"$T/c4r.b64"
got=$(post simpleenroll "$T/c4r.b64" --cert "$T/dev4.chain" --key "$T/dev4.key")
expect 403 key_reuse "CSR with the IDevID key: 403 key_reuse"
csr "$T/l4.key" "$U2" >"$T/c4s.b64"
got=$(post simpleenroll "$T/c4s.b64" --cert "$T/dev4.chain" --key "$T/dev4.key")
expect 403 subject_mismatch "CSR naming another device: 403 subject_mismatch"

printf 'this is not base64 %%%%%%\n' >"$T/garbage"
got=$(post simpleenroll "$T/garbage" --cert "$T/dev4.chain" --key "$T/dev4.key")
expect 400 - "garbage base64: 400"
openssl x509 -in "$T/ldev1.pem" -outform DER | base64 -w 64 >"$T/notcsr.b64"
got=$(post simpleenroll "$T/notcsr.b64" --cert "$T/dev4.chain" --key "$T/dev4.key")
expect 400 - "a certificate instead of a CSR: 400"
: >"$T/empty"
got=$(post simpleenroll "$T/empty" --cert "$T/dev4.chain" --key "$T/dev4.key")
expect 400 - "empty body: 400"
head -c 70000 /dev/zero | tr '\0' 'A' >"$T/big"
# The server answers 413 from Content-Length and closes; curl may see the
# reset while still sending, so a lost answer (000) is retried.
for i in 1 2 3 4 5; do
	got=$(post simpleenroll "$T/big" --cert "$T/dev4.chain" --key "$T/dev4.key")
	[ "$got" = 000 ] || break
done
expect 413 - "body over 64 KiB: 413"
got=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$R" \
	-H 'Content-Type: text/plain' --data-binary "@$T/c1.b64" $IDEV1 \
	"$TBASE$EST/simpleenroll" || true)
expect 415 - "wrong media type: 415"
got=$(post serverkeygen "$T/c1.b64" $IDEV1)
expect 403 serverkeygen_not_allowed "serverkeygen where the profile forbids it: 403"
got=$(post nolabel/simpleenroll "$T/c1.b64" $IDEV1)
expect 404 - "unknown label on simpleenroll: 404"

# ---- re-enrollment ------------------------------------------------------
LDEV1="--cert $T/ldev1.pem --key $T/l1.key"
csr "$T/r1.key" "$U1" >"$T/r1.b64"
got=$(post simplereenroll "$T/r1.b64" $LDEV1)
expect 200 - "simplereenroll with the LDevID (new key)"
cert_of "$T/ldev1r.pem"
openssl verify -CAfile "$R" -untrusted "$D/certs/issuing_ca.pem" \
	"$T/ldev1r.pem" >/dev/null || fail "re-enrolled LDevID does not verify"
S1=$(openssl x509 -in "$T/ldev1.pem" -noout -serial | cut -d= -f2)
"$FLEETCA" cert show --dir "$D" "$S1" | grep -q "status: valid" ||
	fail "old LDevID revoked before the grace period ended"
ok "old LDevID stays valid during the profile's grace period"

got=$(post simplereenroll "$T/r1.b64" $IDEV1)
expect 401 - "simplereenroll with the IDevID: 401"
csr "$T/rx.key" "$U2" >"$T/rx.b64"
got=$(post simplereenroll "$T/rx.b64" --cert "$T/ldev1r.pem" --key "$T/r1.key")
expect 403 subject_mismatch "simplereenroll naming another device: 403"

# Label "fast": the superseded certificate is revoked at once.
LDEV3="--cert $T/ldev3.pem --key $T/l3.key"
csr "$T/r3.key" "$U3" >"$T/r3.b64"
got=$(post fast/simplereenroll "$T/r3.b64" $LDEV3)
expect 200 - "simplereenroll under a revoke-at-once profile"
S3=$(openssl x509 -in "$T/ldev3.pem" -noout -serial | cut -d= -f2)
"$FLEETCA" cert show --dir "$D" "$S3" | grep -q "revoked (superseded" ||
	fail "superseded LDevID not revoked: $("$FLEETCA" cert show --dir "$D" "$S3")"
ok "superseded LDevID revoked (superseded) at once"
got=$(post simplereenroll "$T/r3.b64" $LDEV3)
expect 403 cert_revoked "simplereenroll with a revoked LDevID: 403 cert_revoked"

# Revoked by the operator while the server runs.
S1R=$(openssl x509 -in "$T/ldev1r.pem" -noout -serial | cut -d= -f2)
"$FLEETCA" cert revoke --dir "$D" "$S1R" --reason keyCompromise >/dev/null ||
	fail "cert revoke"
csr "$T/r1b.key" "$U1" >"$T/r1b.b64"
got=$(post simplereenroll "$T/r1b.b64" --cert "$T/ldev1r.pem" --key "$T/r1.key")
expect 403 cert_revoked "LDevID revoked by the CLI: 403 cert_revoked"

# ---- a manufacturer trusted while the server runs ------------------------
"$MKMANIFEST" --count 1 --out "$T/mfg3" >/dev/null || fail "mkmanifest 3"
dev 1 "$T/mfg3"; U7=$UID_
mv "$T/dev1.key" "$T/dev7.key"; mv "$T/dev1.crt" "$T/dev7.crt"
mv "$T/dev1.chain" "$T/dev7.chain"
csr "$T/l7.key" "$U7" >"$T/c7.b64"
got=$(post simpleenroll "$T/c7.b64" --cert "$T/dev7.chain" --key "$T/dev7.key")
expect 401 - "a vendor nobody trusts yet: 401"
"$FLEETCA" trust add --dir "$D" --manufacturer "$T/mfg3/manufacturer_root.pem" \
	>/dev/null || fail "trust add vendor 3"
"$FLEETCA" trust add --dir "$D" --manifest-signer "$T/mfg3/manifest_signer.pem" \
	>/dev/null || fail "trust add signer 3"
"$FLEETCA" manifest import --dir "$D" "$T/mfg3/manifest.json" >/dev/null ||
	fail "manifest import 3"
"$FLEETCA" device claim --dir "$D" "$U7" --owner acme.example >/dev/null ||
	fail "claim $U7"
i=0
while :; do
	got=$(post simpleenroll "$T/c7.b64" --cert "$T/dev7.chain" --key "$T/dev7.key")
	[ "$got" = 200 ] && break
	i=$((i + 1))
	[ $i -lt 20 ] || break
	sleep 0.1
done
expect 200 - "vendor trusted with the CLI while the server runs: enrolls within 2 s"

# ---- audit --------------------------------------------------------------
stop_server
"$FLEETCA" audit verify --dir "$D" >/dev/null || fail "audit chain broken"
"$FLEETCA" audit list --dir "$D" >"$T/audit.txt"
for r in no_client_cert untrusted_chain unknown_device not_claimed key_reuse \
    subject_mismatch already_enrolled malformed_request \
    unsupported_media_type serverkeygen_not_allowed cert_revoked; do
	grep "enroll_refused" "$T/audit.txt" | grep -q "$r" ||
		fail "refusal $r not audited"
done
grep "enroll_refused" "$T/audit.txt" | grep -q '127.0.0.1' ||
	fail "refusals do not name the peer"
n=$(grep -c "ldevid_issued" "$T/audit.txt")
[ "$n" = 7 ] || fail "expected 7 issuance audit rows, found $n"
ok "every refusal audited with peer and reason; 7 issuances; chain verifies"
