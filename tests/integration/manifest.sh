#!/bin/sh
# Registration authority through the CLI: trust anchors, manifest import
# (good, tampered, counterfeit, hostile files), idempotency, claims.
. "$(dirname "$0")/lib.sh"

MK=${MKMANIFEST:-$(dirname "$FLEETCA")/bench/mkmanifest}
D=$T/data
M=$T/mfg
init_dir "$D"
"$MK" --count 5 --out "$M" --evil >/dev/null || fail "mkmanifest"

# expect_exit CODE CMD...: runs CMD, output in $T/out, checks exit status.
expect_exit() {
	want=$1; shift
	rc=0
	"$@" >"$T/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || { cat "$T/out" >&2; fail "exit $rc, wanted $want: $*"; }
}

expect_exit 1 "$FLEETCA" manifest import --dir "$D" "$M/manifest.json"
grep -q "no manifest signer is trusted" "$T/out" || fail "import without trust"
ok "import without trust anchors is refused with a reason"

printf 'not a certificate\n' >"$T/garbage.pem"
expect_exit 1 "$FLEETCA" trust add --dir "$D" --manufacturer "$T/garbage.pem"
expect_exit 1 "$FLEETCA" trust add --dir "$D" --manufacturer "$M/manifest_signer.pem"
grep -q "not a CA" "$T/out" || fail "non-CA manufacturer root accepted"
expect_exit 2 "$FLEETCA" trust add --dir "$D"
ok "garbage and non-CA manufacturer anchors are refused"

cat "$M/manufacturer_root.pem" "$M/signer_ca.pem" >"$T/mfg-bundle.pem"
expect_exit 0 "$FLEETCA" trust add --dir "$D" --manufacturer "$T/mfg-bundle.pem"
grep -q "2 added" "$T/out" || fail "bundle with two PEM blocks: $(cat "$T/out")"
expect_exit 0 "$FLEETCA" trust add --dir "$D" --manifest-signer "$M/manifest_signer.pem"
expect_exit 0 "$FLEETCA" trust add --dir "$D" --manifest-signer "$M/manifest_signer.pem"
grep -q "1 already trusted" "$T/out" || fail "re-adding a signer"
"$FLEETCA" trust list --dir "$D" >"$T/trust"
grep -q manufacturer_root "$T/trust" && grep -q manufacturer_intermediate "$T/trust" &&
	grep -q manifest_signer "$T/trust" || fail "trust list: $(cat "$T/trust")"
ok "trust add (root + intermediate bundle, manifest signer), idempotent; trust list"

expect_exit 1 "$FLEETCA" manifest import --dir "$D" "$M/manifest.json"
cp "$T/out" "$T/import1"
grep -q "5 imported" "$T/import1" || fail "good entries not imported: $(cat "$T/import1")"
check_reject() {
	uid=$(awk -v k="$1" '$2 == k { print $1 }' "$M/evil.txt")
	# The line names the header's id; for uid_mismatch that is another
	# chip's, and the payload's id appears in the detail.
	grep "^rejected " "$T/import1" | grep " $2:" | grep -q "$uid" ||
		fail "$1 entry ($uid) not rejected as $2: $(cat "$T/import1")"
}
check_reject tampered_payload bad_signature
check_reject copied_signature bad_signature
check_reject uid_mismatch uid_mismatch
check_reject key_mismatch key_mismatch
check_reject wrong_subject subject_mismatch
check_reject untrusted_signer unknown_signer
check_reject alg_none unsupported_alg
check_reject expired_chain chain_expired
check_reject rogue_ca untrusted_chain
cf=$(awk '$2 == "counterfeit" { print $1 }' "$M/evil.txt")
grep -q "$cf" "$T/import1" && fail "counterfeit chip appears in the manifest import"
ok "valid entries imported; each tampered entry rejected with its reason (exit 1)"

n=$("$FLEETCA" device list --dir "$D" --state registered | wc -l)
[ "$n" = 5 ] || fail "device list shows $n registered devices"
"$FLEETCA" device show --dir "$D" "$cf" >/dev/null 2>&1 && fail "counterfeit registered"
ok "registry holds exactly the 5 genuine chips"

# Idempotency: the good entries alone import as 'already known', exit 0.
python3 - "$M/manifest.json" "$M/evil.txt" "$T/good.json" <<'PY'
import base64, json, sys
evil = {l.split()[0] for l in open(sys.argv[2])}
def puid(e):
    p = e["payload"]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["uniqueId"]
entries = json.load(open(sys.argv[1]))
good = [e for e in entries if e["header"]["uniqueId"] not in evil and puid(e) not in evil]
json.dump(good, open(sys.argv[3], "w"))
PY
expect_exit 0 "$FLEETCA" manifest import --dir "$D" "$T/good.json"
grep -q "0 imported, 5 already known, 0 rejected" "$T/out" || fail "re-import: $(cat "$T/out")"
ok "importing the same entries again changes nothing (exit 0)"

# A known unique id arriving with another certificate: possible counterfeit.
uid0=$(head -n1 "$M/devices.txt" | cut -d' ' -f1)
sqlite3 "$D/fleetca.db" "UPDATE device SET idevid_sha256 = zeroblob(32) WHERE unique_id = '$uid0'"
expect_exit 1 "$FLEETCA" manifest import --dir "$D" "$T/good.json"
grep -q "^rejected $uid0 possible_counterfeit" "$T/out" || fail "conflict not flagged: $(cat "$T/out")"
ok "a known id with a different certificate is refused as possible_counterfeit"

for bad in '{"a":1}' '[' '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' \
    '[{"payload":1,"protected":2,"header":{},"signature":3}]' '' '[{"a":1,"a":2}]'; do
	printf '%s' "$bad" >"$T/bad.json"
	rc=0
	"$FLEETCA" manifest import --dir "$D" "$T/bad.json" >"$T/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "hostile manifest '$bad' gave exit $rc"
done
head -c 300000 /dev/urandom >"$T/bad.json"
expect_exit 1 "$FLEETCA" manifest import --dir "$D" "$T/bad.json"
ok "hostile files (non-array, truncated, deep nesting, wrong types, empty, duplicate keys, random bytes) exit 1, no crash"

uids=$(cut -d' ' -f1 "$M/devices.txt" | head -n 5)
u1=$(echo "$uids" | sed -n 2p)
expect_exit 0 "$FLEETCA" device claim --dir "$D" "$u1" --owner acme.example
expect_exit 0 "$FLEETCA" device claim --dir "$D" "$u1" --owner acme.example
expect_exit 1 "$FLEETCA" device claim --dir "$D" "$u1" --owner other.example
expect_exit 1 "$FLEETCA" device claim --dir "$D" "$u1" --owner 'bad owner'
expect_exit 1 "$FLEETCA" device claim --dir "$D" ffff00000000000001 --owner acme.example
expect_exit 1 "$FLEETCA" device claim --dir "$D" "$cf" --owner acme.example
expect_exit 2 "$FLEETCA" device claim --dir "$D" "$u1"
echo "$uids" | sed -n '3,5p' >"$T/ids.txt"
printf '# a comment\n\n' >>"$T/ids.txt"
expect_exit 0 "$FLEETCA" device claim --dir "$D" --file "$T/ids.txt" --owner acme.example
grep -q "3 claimed for acme.example, 0 refused" "$T/out" || fail "bulk claim: $(cat "$T/out")"
n=$("$FLEETCA" device list --dir "$D" --state claimed --owner acme.example | wc -l)
[ "$n" = 4 ] || fail "$n devices claimed by acme.example"
"$FLEETCA" device show --dir "$D" "$u1" | grep -q "owner: acme.example" || fail "device show"
ok "claim, idempotent re-claim, refusals (other owner, bad owner, unknown, counterfeit), bulk claim"

"$FLEETCA" audit verify --dir "$D" >/dev/null || fail "audit verify"
"$FLEETCA" audit list --dir "$D" >"$T/audit"
grep -q "manifest.reject" "$T/audit" && grep -q "device.claim" "$T/audit" &&
	grep -q "trust.add" "$T/audit" || fail "audit rows missing"
ok "every change is audited and the chain verifies"
