#!/bin/sh
# Superseded LDevIDs under a short grace, end to end (est.sh covers grace 0
# and a day): the old certificate stays valid through the grace and is
# revoked (superseded) by the server's schedule about a second after it; a
# certificate the operator revoked meanwhile keeps its reason; malformed
# scheduled events, more than one batch of them, are retired as bad_params
# without harming the server; the audit chain stays intact.
. "$(dirname "$0")/lib.sh"

: "${MKMANIFEST:=${top_builddir:-$(pwd)}/bench/mkmanifest}"
[ -x "$MKMANIFEST" ] || fail "no mkmanifest at $MKMANIFEST"
D=$T/data
init_dir "$D"
R=$D/certs/root_ca.pem
EST=/.well-known/est
"$MKMANIFEST" --count 3 --out "$T/mfg" >/dev/null || fail "mkmanifest"
"$FLEETCA" trust add --dir "$D" --manufacturer "$T/mfg/manufacturer_root.pem" >/dev/null || fail trust
"$FLEETCA" trust add --dir "$D" --manifest-signer "$T/mfg/manifest_signer.pem" >/dev/null || fail trust2
"$FLEETCA" manifest import --dir "$D" "$T/mfg/manifest.json" >/dev/null || fail import
dev() {
	line=$(sed -n "$1p" "$2/devices.txt")
	set -- $line "$1" "$2"
	UID_=$1
	echo "$2" | base64 -d | openssl pkey -inform DER -out "$T/dev$4.key" || fail key
	echo "$3" | base64 -d | openssl x509 -inform DER -out "$T/dev$4.crt" || fail crt
	cat "$T/dev$4.crt" "$5/signer_ca.pem" >"$T/dev$4.chain"
}
for n in 1 2; do
	dev $n "$T/mfg"; eval U$n=\$UID_
	"$FLEETCA" device claim --dir "$D" "$UID_" --owner acme.example >/dev/null || fail claim
done
sed -e 's/"name": "ldevid"/"name": "short"/' \
    -e 's/"labels": \[[^]]*\]/"labels": ["brief"]/' \
    -e 's/"grace_seconds": [0-9]*/"grace_seconds": 2/' \
    "$D/policies/ldevid.json" >"$D/policies/short.json"
start_server "$D"
post() {
	op=$1; f=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' --cacert "$R" \
		-H 'Content-Type: application/pkcs10' --data-binary "@$f" \
		"$@" "$TBASE$EST/$op" || true
}
csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1" -subj "/CN=$2" -outform DER 2>/dev/null | base64 -w 64
}
cert_of() {
	tr -d '\r' <"$T/body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$1" || fail "not pkcs7"
}
for n in 1 2; do
	eval u=\$U$n
	csr "$T/l$n.key" "$u" >"$T/c$n.b64"
	got=$(post simpleenroll "$T/c$n.b64" --cert "$T/dev$n.chain" --key "$T/dev$n.key")
	[ "$got" = 200 ] || fail "enroll $n: $got"
	cert_of "$T/ldev$n.pem"
	csr "$T/r$n.key" "$u" >"$T/r$n.b64"
	got=$(post brief/simplereenroll "$T/r$n.b64" --cert "$T/ldev$n.pem" --key "$T/l$n.key")
	[ "$got" = 200 ] || fail "reenroll $n: $got"
done
S1=$(openssl x509 -in "$T/ldev1.pem" -noout -serial | cut -d= -f2)
S2=$(openssl x509 -in "$T/ldev2.pem" -noout -serial | cut -d= -f2)
"$FLEETCA" cert show --dir "$D" "$S1" | grep -q "status: valid" || fail "revoked before grace"
ok "short grace: old LDevID valid right after re-enrollment"
# The operator revokes the second one during the grace: it must stay so.
"$FLEETCA" cert revoke --dir "$D" "$S2" --reason keyCompromise >/dev/null || fail "cli revoke"
i=0
until "$FLEETCA" cert show --dir "$D" "$S1" | grep -q "revoked (superseded"; do
	i=$((i + 1)); [ $i -lt 80 ] || fail "not revoked after grace: $("$FLEETCA" cert show --dir "$D" "$S1")"
	sleep 0.1
done
ok "short grace: revoked (superseded) after the grace, within $((i / 10)).$((i % 10)) s of polling"
"$FLEETCA" cert show --dir "$D" "$S2" | grep -qi "keyCompromise" || fail "operator's reason overwritten: $("$FLEETCA" cert show --dir "$D" "$S2")"
ok "short grace: a certificate revoked meanwhile keeps its reason"
sleep 1.5
"$FLEETCA" audit list --dir "$D" | grep -q superseded_revoked || fail "no audit row"
"$FLEETCA" audit verify --dir "$D" >/dev/null || fail "audit chain"
ok "short grace: one audit row, chain intact"
# Bad params, and more due than one batch: all done, in two batches.
sqlite3 -cmd ".timeout 5000" "$D/fleetca.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 300) INSERT INTO scheduled_event(device_id, action, params, due_at) SELECT 1, 'revoke_superseded', CASE WHEN i % 2 THEN 'not json' ELSE '{\"cert_id\":-3}' END, 0 FROM n" || fail "insert events"
i=0
until [ "$(sqlite3 -cmd ".timeout 5000" "$D/fleetca.db" "SELECT COUNT(*) FROM scheduled_event WHERE done_at IS NULL")" = 0 ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "bad events not done"
	sleep 0.1
done
[ "$(sqlite3 "$D/fleetca.db" "SELECT COUNT(*) FROM scheduled_event WHERE result = 'bad_params'")" = 300 ] || fail "bad_params results"
"$FLEETCA" audit list --dir "$D" | grep -c '"skipped":256' | grep -q 1 || fail "no full batch"
"$FLEETCA" audit verify --dir "$D" >/dev/null || fail "audit chain"
got=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$R" "$TBASE/healthz" || true)
[ "$got" = 200 ] || fail "server unhealthy after bad events: $got"
ok "300 bad events: dropped with bad_params in batches of 256, server fine"
