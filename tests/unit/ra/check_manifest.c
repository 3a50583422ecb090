/*
 * check_manifest.c - ra/manifest.c over manifests made by ra/mfgsim.c:
 * good reels, one evil entry per reason code, and hostile files.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "ra/manifest.h"
#include "ra/mfgsim.h"
#include "ra/trust.h"

#define NOW ((time_t)1750000000)	/* injected clock: 2025-06-15 */

static struct mfgsim *sim;
static struct ra_trust *trust;

static void
setup(void)
{
	char err[256];

	sim = mfgsim_new(NOW, err, sizeof(err));
	ck_assert_msg(sim != NULL, "%s", err);
	ck_assert_ptr_nonnull(trust = ra_trust_new());
	ck_assert_msg(mfgsim_trust(sim, trust, err, sizeof(err)), "%s", err);
}

static void
teardown(void)
{
	ra_trust_free(trust);
	mfgsim_free(sim);
}

static struct ra_manifest *
verify_text(const char *txt, size_t len, int nthreads)
{
	struct ra_manifest *m = NULL;
	char err[256];

	ck_assert_msg(ra_manifest_verify((const unsigned char *)txt, len,
	    trust, NOW, nthreads, &m, err, sizeof(err)) == 1, "%s", err);
	return m;
}

/* Verifies a one-entry manifest and returns the reason of its entry. */
static enum ra_manifest_reason
judge_one(const char *entry)
{
	struct ra_manifest *m;
	enum ra_manifest_reason r;
	size_t n = strlen(entry) + 3;
	char *txt = malloc(n);

	ck_assert_ptr_nonnull(txt);
	snprintf(txt, n, "[%s]", entry);
	m = verify_text(txt, strlen(txt), 1);
	ck_assert_uint_eq(ra_manifest_count(m, NULL, NULL), 1);
	r = ra_manifest_entry(m, 0)->reason;
	if (r != RA_MANIFEST_OK)
		ck_assert_ptr_nonnull(ra_manifest_entry(m, 0)->detail);
	ra_manifest_free(m);
	free(txt);
	return r;
}

static enum ra_manifest_reason
judge_tamper(enum mfgsim_tamper tamper)
{
	ck_assert(mfgsim_add_chips(sim, 1, tamper, 1));
	return judge_one(mfgsim_chip_entry(sim, mfgsim_chip_count(sim) - 1));
}

/* Chip 0's payload with edit applied, signed by the trusted signer. */
static enum ra_manifest_reason
judge_payload_edit(const char *key, json_t *value)
{
	json_error_t je;
	json_t *pl;
	char *txt, *entry;
	enum ra_manifest_reason r;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	pl = json_loads(mfgsim_chip_payload(sim, 0), 0, &je);
	ck_assert_ptr_nonnull(pl);
	if (value == NULL)
		json_object_del(pl, key);
	else
		json_object_set_new(pl, key, value);
	txt = json_dumps(pl, JSON_COMPACT);
	entry = mfgsim_sign_entry(sim, txt, strlen(txt),
	    mfgsim_device_uid(sim, 0));
	ck_assert_ptr_nonnull(entry);
	r = judge_one(entry);
	free(entry);
	free(txt);
	json_decref(pl);
	return r;
}

static enum ra_manifest_reason
judge_raw_payload(const char *payload)
{
	char *entry;
	enum ra_manifest_reason r;

	entry = mfgsim_sign_entry(sim, payload, strlen(payload),
	    "0123aabbccddeeff01");
	ck_assert_ptr_nonnull(entry);
	r = judge_one(entry);
	free(entry);
	return r;
}

static int
der_eq(X509 *x, const unsigned char *der, size_t len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d), eq;

	eq = n > 0 && (size_t)n == len && memcmp(d, der, len) == 0;
	OPENSSL_free(d);
	return eq;
}

/* ---- Core ------------------------------------------------------------ */

START_TEST(test_good_reel)
{
	struct ra_manifest *m;
	const struct ra_manifest_entry *e;
	size_t len, nok, nrej;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 6, MFGSIM_GOOD, 2));
	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_COUNTERFEIT, 1));
	txt = mfgsim_manifest(sim, &len);
	ck_assert_ptr_nonnull(txt);
	m = verify_text(txt, len, 2);
	ck_assert_uint_eq(ra_manifest_count(m, &nok, &nrej), 6);
	ck_assert_uint_eq(nok, 6);
	ck_assert_uint_eq(nrej, 0);
	for (size_t i = 0; i < 6; i++) {
		e = ra_manifest_entry(m, i);
		ck_assert_int_eq(e->reason, RA_MANIFEST_OK);
		ck_assert_uint_eq(e->index, i);
		ck_assert_str_eq(e->uid, mfgsim_device_uid(sim, i));
		ck_assert_uint_eq(strlen(e->uid), 18);
		ck_assert_str_eq(e->model, "ATECC608B");
		ck_assert_str_eq(e->part_number, "ATECC608B-TFLXTLS");
		ck_assert_str_eq(e->provisioner, "Microchip Technology Inc");
		ck_assert_int_eq(e->provisioned_at, NOW - 86400);
		ck_assert_uint_eq(e->keysz, 2);
		ck_assert_str_eq(e->keys[0].kid, "0");
		ck_assert_str_eq(e->keys[1].kid, "1");
		ck_assert_uint_eq(e->keys[0].spki_len, 91);
		ck_assert(der_eq(mfgsim_device_cert(sim, i), e->cert,
		    e->cert_len));
		ck_assert(der_eq(mfgsim_signer_ca(sim), e->chain,
		    e->chain_len));
		ck_assert_ptr_null(e->detail);
	}
	/* The counterfeit chip has a valid IDevID but no entry. */
	for (size_t i = 0; i < 6; i++)
		ck_assert_str_ne(ra_manifest_entry(m, i)->uid,
		    mfgsim_device_uid(sim, 6));
	ck_assert_ptr_nonnull(mfgsim_device_key(sim, 6));
	ck_assert_ptr_null(ra_manifest_entry(m, 6));
	ra_manifest_free(m);
	free(txt);
}
END_TEST

START_TEST(test_threads_agree)
{
	struct ra_manifest *m1, *m4;
	size_t len, n1, n4;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 70, MFGSIM_GOOD, 2));
	ck_assert(mfgsim_add_chips(sim, 30, MFGSIM_TAMPER_PAYLOAD, 2));
	ck_assert(mfgsim_add_chips(sim, 30, MFGSIM_EXPIRED_CHAIN, 2));
	txt = mfgsim_manifest(sim, &len);
	m1 = verify_text(txt, len, 1);
	m4 = verify_text(txt, len, 4);
	ck_assert_uint_eq(ra_manifest_count(m1, &n1, NULL), 130);
	ck_assert_uint_eq(ra_manifest_count(m4, &n4, NULL), 130);
	ck_assert_uint_eq(n1, 70);
	ck_assert_uint_eq(n4, 70);
	for (size_t i = 0; i < 130; i++)
		ck_assert_int_eq(ra_manifest_entry(m1, i)->reason,
		    ra_manifest_entry(m4, i)->reason);
	ck_assert_int_eq(ra_manifest_entry(m4, 100)->reason,
	    RA_MANIFEST_CHAIN_EXPIRED);
	ra_manifest_free(m1);
	ra_manifest_free(m4);
	free(txt);
}
END_TEST

START_TEST(test_mixed_reel_judged_per_entry)
{
	struct ra_manifest *m;
	size_t len, nok, nrej;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 2, MFGSIM_GOOD, 1));
	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_ALG_NONE, 1));
	ck_assert(mfgsim_add_chips(sim, 2, MFGSIM_GOOD, 1));
	txt = mfgsim_manifest(sim, &len);
	m = verify_text(txt, len, 2);
	ra_manifest_count(m, &nok, &nrej);
	ck_assert_uint_eq(nok, 4);
	ck_assert_uint_eq(nrej, 1);
	ck_assert_int_eq(ra_manifest_entry(m, 2)->reason,
	    RA_MANIFEST_UNSUPPORTED_ALG);
	/* A rejected entry still names its chip for the import report. */
	ck_assert_str_eq(ra_manifest_entry(m, 2)->uid,
	    mfgsim_device_uid(sim, 2));
	ck_assert_str_eq(ra_manifest_reason_str(
	    ra_manifest_entry(m, 2)->reason), "unsupported_alg");
	ra_manifest_free(m);
	free(txt);
}
END_TEST

/* ---- one test per reason code ---------------------------------------- */

START_TEST(test_tampered_payload)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_TAMPER_PAYLOAD),
	    RA_MANIFEST_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_copied_signature)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_COPY_SIGNATURE),
	    RA_MANIFEST_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_uid_mismatch)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_UID_MISMATCH),
	    RA_MANIFEST_UID_MISMATCH);
}
END_TEST

START_TEST(test_key_mismatch)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_KEY_MISMATCH),
	    RA_MANIFEST_KEY_MISMATCH);
}
END_TEST

START_TEST(test_subject_mismatch)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_WRONG_SUBJECT),
	    RA_MANIFEST_SUBJECT_MISMATCH);
}
END_TEST

START_TEST(test_untrusted_signer)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_UNTRUSTED_SIGNER),
	    RA_MANIFEST_UNKNOWN_SIGNER);
}
END_TEST

START_TEST(test_alg_none)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_ALG_NONE),
	    RA_MANIFEST_UNSUPPORTED_ALG);
}
END_TEST

START_TEST(test_expired_chain)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_EXPIRED_CHAIN),
	    RA_MANIFEST_CHAIN_EXPIRED);
}
END_TEST

START_TEST(test_rogue_ca)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_ROGUE_CA),
	    RA_MANIFEST_UNTRUSTED_CHAIN);
}
END_TEST

START_TEST(test_good_entry_alone)
{
	ck_assert_int_eq(judge_tamper(MFGSIM_GOOD), RA_MANIFEST_OK);
}
END_TEST

START_TEST(test_bad_protected_header)
{
	json_error_t je;
	json_t *e;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	e = json_loads(mfgsim_chip_entry(sim, 0), 0, &je);
	json_object_set_new(e, "protected", json_string("e30=")); /* '=' */
	txt = json_dumps(e, JSON_COMPACT);
	ck_assert_int_eq(judge_one(txt), RA_MANIFEST_BAD_PROTECTED_HEADER);
	free(txt);
	json_object_set_new(e, "protected", json_string("W10")); /* [] */
	txt = json_dumps(e, JSON_COMPACT);
	ck_assert_int_eq(judge_one(txt), RA_MANIFEST_BAD_PROTECTED_HEADER);
	free(txt);
	json_decref(e);
}
END_TEST

START_TEST(test_missing_field)
{
	ck_assert_int_eq(judge_payload_edit("model", NULL),
	    RA_MANIFEST_MISSING_FIELD);
}
END_TEST

START_TEST(test_missing_keys)
{
	ck_assert_int_eq(judge_payload_edit("publicKeySet", NULL),
	    RA_MANIFEST_MISSING_FIELD);
}
END_TEST

START_TEST(test_missing_timestamp)
{
	ck_assert_int_eq(judge_payload_edit("provisioningTimestamp", NULL),
	    RA_MANIFEST_MISSING_FIELD);
}
END_TEST

START_TEST(test_bad_payload_types)
{
	ck_assert_int_eq(judge_payload_edit("model", json_integer(7)),
	    RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_bad_timestamp)
{
	ck_assert_int_eq(judge_payload_edit("provisioningTimestamp",
	    json_string("2023-02-30T00:00:00Z")), RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_huge_version)
{
	ck_assert_int_eq(judge_payload_edit("version",
	    json_integer(INT64_MAX)), RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_keys_wrong_type)
{
	ck_assert_int_eq(judge_payload_edit("publicKeySet",
	    json_pack("{s:s}", "keys", "x")), RA_MANIFEST_BAD_PAYLOAD);
	ck_assert_int_eq(judge_payload_edit("publicKeySet",
	    json_pack("{s:[]}", "keys")), RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_bad_jwk_coordinate)
{
	json_t *keys = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "keys",
	    "kid", "0", "kty", "EC", "crv", "P-256", "x", "AAAA", "y", "AAAA");

	ck_assert_int_eq(judge_payload_edit("publicKeySet", keys),
	    RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_bad_x5c_base64)
{
	json_error_t je;
	json_t *pl, *slot0;
	char *txt, *entry;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	pl = json_loads(mfgsim_chip_payload(sim, 0), 0, &je);
	slot0 = json_array_get(json_object_get(json_object_get(pl,
	    "publicKeySet"), "keys"), 0);
	json_array_set_new(json_object_get(slot0, "x5c"), 0,
	    json_string("MIIB_-not-base64"));
	txt = json_dumps(pl, JSON_COMPACT);
	entry = mfgsim_sign_entry(sim, txt, strlen(txt),
	    mfgsim_device_uid(sim, 0));
	ck_assert_int_eq(judge_one(entry), RA_MANIFEST_BAD_PAYLOAD);
	free(entry);
	free(txt);
	/* Garbage as the intermediate: the chain cannot be trusted. */
	json_array_set_new(json_object_get(slot0, "x5c"), 0,
	    json_string(json_string_value(json_array_get(
	    json_object_get(slot0, "x5c"), 1))));
	json_array_set_new(json_object_get(slot0, "x5c"), 1,
	    json_string("AAAA"));
	txt = json_dumps(pl, JSON_COMPACT);
	entry = mfgsim_sign_entry(sim, txt, strlen(txt),
	    mfgsim_device_uid(sim, 0));
	ck_assert_int_eq(judge_one(entry), RA_MANIFEST_UNTRUSTED_CHAIN);
	free(entry);
	free(txt);
	json_decref(pl);
}
END_TEST

START_TEST(test_payload_not_json)
{
	ck_assert_int_eq(judge_raw_payload("not json"),
	    RA_MANIFEST_BAD_PAYLOAD);
	ck_assert_int_eq(judge_raw_payload("[1]"), RA_MANIFEST_BAD_PAYLOAD);
	ck_assert_int_eq(judge_raw_payload("{\"a\":1,\"a\":2}"),
	    RA_MANIFEST_BAD_PAYLOAD);
	ck_assert_int_eq(judge_raw_payload("{\"uniqueId\":\"xyz\"}"),
	    RA_MANIFEST_BAD_PAYLOAD);
	ck_assert_int_eq(judge_raw_payload(
	    "{\"uniqueId\":\"0123aabbccddeeff02\"}"), RA_MANIFEST_UID_MISMATCH);
	ck_assert_int_eq(judge_raw_payload(
	    "{\"uniqueId\":\"0123aabbccddeeff01\"}"), RA_MANIFEST_MISSING_FIELD);
}
END_TEST

START_TEST(test_payload_deep)
{
	char deep[200];

	memset(deep, '[', 100);
	memset(deep + 100, ']', 99);
	deep[199] = '\0';
	deep[99] = '1';
	ck_assert_int_eq(judge_raw_payload(deep), RA_MANIFEST_BAD_PAYLOAD);
}
END_TEST

START_TEST(test_malformed_entries)
{
	static const char *bad[] = {
		"1", "\"x\"", "null", "[]", "{}",
		"{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"\"}",
		"{\"payload\":1,\"protected\":\"e30\",\"signature\":\"\","
		    "\"header\":{\"uniqueId\":\"00\"}}",
		"{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"\","
		    "\"header\":{\"uniqueId\":7}}",
		"{\"payload\":\"e30\",\"payload\":\"e30\"}",
		"{\"a\" 1}", "{} {}", "tru",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(judge_one(bad[i]) == RA_MANIFEST_MALFORMED_ENTRY,
		    "%s", bad[i]);
}
END_TEST

START_TEST(test_bad_signature_encoding)
{
	json_error_t je;
	json_t *e;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	e = json_loads(mfgsim_chip_entry(sim, 0), 0, &je);
	json_object_set_new(e, "signature", json_string("AAAA"));
	txt = json_dumps(e, JSON_COMPACT);
	ck_assert_int_eq(judge_one(txt), RA_MANIFEST_BAD_SIGNATURE);
	free(txt);
	json_object_set_new(e, "signature", json_string("!!"));
	txt = json_dumps(e, JSON_COMPACT);
	ck_assert_int_eq(judge_one(txt), RA_MANIFEST_BAD_SIGNATURE);
	free(txt);
	json_decref(e);
}
END_TEST

/* ---- fast path against the reference path ---------------------------- */

/* Verifies txt on both paths and asserts that every entry gets the same
 * reason (and, when ok, the same certificate).  Returns the ok count. */
static size_t
fast_matches_reference(const char *txt, size_t len)
{
	struct ra_manifest *mf = NULL, *mr = NULL;
	size_t n, nok;
	char err[256];

	ck_assert_msg(ra_manifest_verify_flags((const unsigned char *)txt,
	    len, trust, NOW, 2, 0, &mf, err, sizeof(err)), "%s", err);
	ck_assert_msg(ra_manifest_verify_flags((const unsigned char *)txt,
	    len, trust, NOW, 2, RA_MANIFEST_F_REFERENCE, &mr, err,
	    sizeof(err)), "%s", err);
	n = ra_manifest_count(mf, &nok, NULL);
	ck_assert_uint_eq(n, ra_manifest_count(mr, NULL, NULL));
	for (size_t i = 0; i < n; i++) {
		const struct ra_manifest_entry *a = ra_manifest_entry(mf, i);
		const struct ra_manifest_entry *b = ra_manifest_entry(mr, i);

		ck_assert_msg(a->reason == b->reason, "entry %zu: fast %s, "
		    "reference %s (%s)", i, ra_manifest_reason_str(a->reason),
		    ra_manifest_reason_str(b->reason),
		    b->detail != NULL ? b->detail : "");
		ck_assert_str_eq(a->uid, b->uid);
		if (a->reason == RA_MANIFEST_OK) {
			ck_assert_uint_eq(a->cert_len, b->cert_len);
			ck_assert(memcmp(a->cert, b->cert, a->cert_len) == 0);
			ck_assert_uint_eq(a->keysz, b->keysz);
		}
	}
	ra_manifest_free(mf);
	ra_manifest_free(mr);
	return nok;
}

START_TEST(test_fast_equals_reference_reel)
{
	static const enum mfgsim_tamper evil[] = {
		MFGSIM_TAMPER_PAYLOAD, MFGSIM_COPY_SIGNATURE,
		MFGSIM_UID_MISMATCH, MFGSIM_KEY_MISMATCH,
		MFGSIM_WRONG_SUBJECT, MFGSIM_UNTRUSTED_SIGNER,
		MFGSIM_ALG_NONE, MFGSIM_EXPIRED_CHAIN, MFGSIM_ROGUE_CA,
	};
	size_t len;
	char *txt;

	ck_assert(mfgsim_add_chips(sim, 8, MFGSIM_GOOD, 2));
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		ck_assert(mfgsim_add_chips(sim, 2, evil[i], 1));
		ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	}
	txt = mfgsim_manifest(sim, &len);
	ck_assert_ptr_nonnull(txt);
	ck_assert_uint_eq(fast_matches_reference(txt, len), 8 + 9);
	free(txt);
}
END_TEST

/* Chip 0's payload with x5c[0] replaced by der, signed and wrapped into
 * a one-entry manifest (malloc'd). */
static char *
reel_with_device_der(const unsigned char *der, size_t len, size_t *outlen)
{
	json_error_t je;
	json_t *pl, *slot0;
	char *b64, *txt, *entry, *reel;

	pl = json_loads(mfgsim_chip_payload(sim, 0), 0, &je);
	ck_assert_ptr_nonnull(pl);
	slot0 = json_array_get(json_object_get(json_object_get(pl,
	    "publicKeySet"), "keys"), 0);
	ck_assert_ptr_nonnull(b64 = b64_encode(der, len, 0, NULL));
	json_array_set_new(json_object_get(slot0, "x5c"), 0,
	    json_string(b64));
	txt = json_dumps(pl, JSON_COMPACT);
	entry = mfgsim_sign_entry(sim, txt, strlen(txt),
	    mfgsim_device_uid(sim, 0));
	ck_assert_ptr_nonnull(entry);
	*outlen = strlen(entry) + 2;
	ck_assert_ptr_nonnull(reel = malloc(*outlen + 1));
	snprintf(reel, *outlen + 1, "[%s]", entry);
	free(entry);
	free(txt);
	free(b64);
	json_decref(pl);
	return reel;
}

/*
 * Every single-byte change of a good device certificate: the fast path
 * (DER walk) must give exactly the reference path's verdict.  Nearly all
 * break the signature; the rest probe lengths, tags, times and names.
 */
START_TEST(test_fast_equals_reference_mutants)
{
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };
	unsigned char *der = NULL, *mut;
	size_t len, rlen, nok = 0;
	int n;
	char *reel;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	n = i2d_X509(mfgsim_device_cert(sim, 0), &der);
	ck_assert_int_gt(n, 0);
	len = (size_t)n;
	ck_assert_ptr_nonnull(mut = malloc(len));
	reel = reel_with_device_der(der, len, &rlen);
	ck_assert_uint_eq(fast_matches_reference(reel, rlen), 1);
	free(reel);
	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(mut, der, len);
			mut[i] ^= flips[f];
			reel = reel_with_device_der(mut, len, &rlen);
			nok += fast_matches_reference(reel, rlen);
			free(reel);
		}
	}
	/* Truncations and a trailing byte. */
	for (size_t cut = 1; cut < len; cut += 7) {
		reel = reel_with_device_der(der, cut, &rlen);
		ck_assert_uint_eq(fast_matches_reference(reel, rlen), 0);
		free(reel);
	}
	memcpy(mut, der, len);
	free(mut);
	ck_assert_ptr_nonnull(mut = malloc(len + 1));
	memcpy(mut, der, len);
	mut[len] = 0;
	reel = reel_with_device_der(mut, len + 1, &rlen);
	ck_assert_uint_eq(fast_matches_reference(reel, rlen), 0);
	free(reel);
	free(mut);
	OPENSSL_free(der);
	/* A flip in a signature-covered byte can never be ok. */
	ck_assert_uint_le(nok, len);
}
END_TEST

/* Elements the quick element reader leaves to jansson still agree. */
START_TEST(test_fast_equals_reference_shapes)
{
	json_error_t je;
	json_t *e;
	char *entry, *reel;
	size_t n;

	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	e = json_loads(mfgsim_chip_entry(sim, 0), 0, &je);
	ck_assert_ptr_nonnull(e);
	json_object_set_new(e, "extra", json_integer(1));
	json_object_set_new(json_object_get(e, "header"), "x",
	    json_string("\u00e9"));
	entry = json_dumps(e, JSON_COMPACT | JSON_ENSURE_ASCII);
	n = strlen(entry) + strlen(mfgsim_chip_entry(sim, 0)) + 32;
	ck_assert_ptr_nonnull(reel = malloc(n));
	snprintf(reel, n, "[ %s ,\n%s]", entry, mfgsim_chip_entry(sim, 0));
	ck_assert_uint_eq(fast_matches_reference(reel, strlen(reel)), 2);
	free(reel);
	free(entry);
	json_decref(e);
	/* Escapes in a key, duplicates, missing header, spaces. */
	{
		static const char *bad[] = {
			"[{\"payload\":\"e30\",\"payload\":\"e30\"}]",
			"[{\"pay\\u006coad\":\"e30\",\"protected\":\"e30\","
			    "\"signature\":\"\",\"header\":{\"uniqueId\":"
			    "\"00\"}}]",
			"[{ \"payload\" : \"e30\" , \"protected\" : \"e30\" ,"
			    " \"signature\" : \"\" , \"header\" : { "
			    "\"uniqueId\" : \"00\" } }]",
			"[{\"payload\":\"e30\",\"protected\":\"e30\","
			    "\"signature\":\"\",\"header\":{\"uniqueId\":"
			    "\"00\"},\"header\":{\"uniqueId\":\"01\"}}]",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			fast_matches_reference(bad[i], strlen(bad[i]));
	}
}
END_TEST

/* ---- Limits: whole-file errors ---------------------------------------- */

static int
file_fails(const char *txt, size_t len)
{
	struct ra_manifest *m = (struct ra_manifest *)1;
	char err[256] = "";
	int ok;

	ok = ra_manifest_verify((const unsigned char *)txt, len, trust, NOW,
	    2, &m, err, sizeof(err));
	if (ok) {
		ra_manifest_free(m);
		return 0;
	}
	return m == NULL && err[0] != '\0';
}

START_TEST(test_whole_file_errors)
{
	static const char *bad[] = {
		"", "   \n", "{}", "\"x\"", "42", "null", "[", "]", "[1,]",
		"[,1]", "[1,,2]", "[{]", "[{\"a\":1}}", "[] []", "[]x",
		"[\"unterminated]", "[{\"a\":[}]", "\xef\xbb\xbf[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(file_fails(bad[i], strlen(bad[i])), "'%s'",
		    bad[i]);
	/* Embedded NUL after the array. */
	ck_assert(file_fails("[]\0", 3));
}
END_TEST

START_TEST(test_deep_nesting)
{
	size_t depth = 100000, n = 2 * depth;
	char *txt = malloc(n + 1);

	memset(txt, '[', depth);
	memset(txt + depth, ']', depth);
	txt[n] = '\0';
	ck_assert(file_fails(txt, n));
	/* Just inside the limit is structurally fine (an evil entry). */
	memset(txt, '[', 32);
	memset(txt + 32, ']', 32);
	ck_assert(!file_fails(txt, 64));
	memset(txt, '[', 33);
	memset(txt + 33, ']', 33);
	ck_assert(file_fails(txt, 66));
	free(txt);
	ck_assert(ra_manifest_depth_ok((const unsigned char *)"{\"[\":\"{\"}",
	    9, 1));
	ck_assert(!ra_manifest_depth_ok((const unsigned char *)"[[]", 3, 5));
}
END_TEST

START_TEST(test_empty_array)
{
	struct ra_manifest *m = verify_text(" [ \n ] \n", 8, 2);

	ck_assert_uint_eq(ra_manifest_count(m, NULL, NULL), 0);
	ck_assert_ptr_null(ra_manifest_entry(m, 0));
	ra_manifest_free(m);
}
END_TEST

START_TEST(test_strings_with_brackets)
{
	/* Brackets and escaped quotes inside strings are not structure. */
	const char *txt = "[\"a]\\\"],[\", {\"k\":\"}}}\"}]";
	struct ra_manifest *m = verify_text(txt, strlen(txt), 1);

	ck_assert_uint_eq(ra_manifest_count(m, NULL, NULL), 2);
	ck_assert_int_eq(ra_manifest_entry(m, 0)->reason,
	    RA_MANIFEST_MALFORMED_ENTRY);
	ck_assert_int_eq(ra_manifest_entry(m, 1)->reason,
	    RA_MANIFEST_MALFORMED_ENTRY);
	ra_manifest_free(m);
}
END_TEST

START_TEST(test_trust_refuses_non_ca_root)
{
	struct ra_trust *t = ra_trust_new();
	char err[256];

	ck_assert(!ra_trust_add_manufacturer(t, mfgsim_manifest_signer(sim),
	    1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a CA"));
	ck_assert(!ra_trust_add_manufacturer(t, mfgsim_signer_ca(sim), 1,
	    err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "self-signed"));
	ck_assert(ra_trust_add_manufacturer(t, mfgsim_signer_ca(sim), 0,
	    err, sizeof(err)));
	ck_assert(ra_trust_add_manifest_signer(t, mfgsim_manifest_signer(sim),
	    err, sizeof(err)));
	ck_assert(!ra_trust_add_manifest_signer(t,
	    mfgsim_manifest_signer(sim), err, sizeof(err)));
	ck_assert_uint_eq(ra_trust_signer_count(t), 1);
	ck_assert_uint_eq(ra_trust_manufacturer_count(t), 1);
	ra_trust_free(t);
}
END_TEST

START_TEST(test_intermediate_without_root)
{
	/* An intermediate alone is no anchor: chains must end at a root. */
	struct ra_trust *t = ra_trust_new();
	struct ra_manifest *m = NULL;
	char err[256], *txt;
	size_t len;

	ck_assert(ra_trust_add_manufacturer(t, mfgsim_signer_ca(sim), 0,
	    err, sizeof(err)));
	ck_assert(ra_trust_add_manifest_signer(t, mfgsim_manifest_signer(sim),
	    err, sizeof(err)));
	ck_assert(mfgsim_add_chips(sim, 1, MFGSIM_GOOD, 1));
	txt = mfgsim_manifest(sim, &len);
	ck_assert(ra_manifest_verify((unsigned char *)txt, len, t, NOW, 1, &m,
	    err, sizeof(err)));
	ck_assert_int_eq(ra_manifest_entry(m, 0)->reason,
	    RA_MANIFEST_UNTRUSTED_CHAIN);
	ra_manifest_free(m);
	/* Much later the chain has expired, though nothing else changed. */
	ck_assert(ra_manifest_verify((unsigned char *)txt, len, trust,
	    NOW + (time_t)50 * 365 * 86400, 1, &m, err, sizeof(err)));
	ck_assert_int_eq(ra_manifest_entry(m, 0)->reason,
	    RA_MANIFEST_CHAIN_EXPIRED);
	ra_manifest_free(m);
	free(txt);
	ra_trust_free(t);
}
END_TEST

START_TEST(test_files)
{
	char dir[] = "/tmp/check_manifest.XXXXXX", err[256], path[512];
	FILE *fp;
	char line[4096];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert(mfgsim_add_chips(sim, 3, MFGSIM_GOOD, 1));
	ck_assert_msg(mfgsim_write_files(sim, dir, err, sizeof(err)), "%s",
	    err);
	snprintf(path, sizeof(path), "%s/devices.txt", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	ck_assert(strncmp(line, mfgsim_device_uid(sim, 0), 18) == 0);
	fclose(fp);
	ck_assert_msg(mfgsim_write_bulk(sim, dir, 5, 2, err, sizeof(err)),
	    "%s", err);
	{
		static const char *names[] = { "manufacturer_root.pem",
		    "signer_ca.pem", "manifest_signer.pem", "manifest.json",
		    "devices.txt" };
		for (size_t i = 0; i < 5; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			ck_assert_int_eq(unlink(path), 0);
		}
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *core = tcase_create("Core"), *rs = tcase_create("Reasons");
	TCase *lim = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(rs, setup, teardown);
	tcase_add_checked_fixture(lim, setup, teardown);
	tcase_set_timeout(core, 60);
	tcase_set_timeout(rs, 30);
	tcase_set_timeout(lim, 30);
	tcase_add_test(core, test_good_reel);
	tcase_add_test(core, test_threads_agree);
	tcase_add_test(core, test_mixed_reel_judged_per_entry);
	tcase_add_test(core, test_trust_refuses_non_ca_root);
	tcase_add_test(core, test_intermediate_without_root);
	tcase_add_test(core, test_files);
	tcase_add_test(core, test_fast_equals_reference_reel);
	tcase_add_test(core, test_fast_equals_reference_mutants);
	tcase_add_test(core, test_fast_equals_reference_shapes);
	tcase_add_test(rs, test_good_entry_alone);
	tcase_add_test(rs, test_tampered_payload);
	tcase_add_test(rs, test_copied_signature);
	tcase_add_test(rs, test_uid_mismatch);
	tcase_add_test(rs, test_key_mismatch);
	tcase_add_test(rs, test_subject_mismatch);
	tcase_add_test(rs, test_untrusted_signer);
	tcase_add_test(rs, test_alg_none);
	tcase_add_test(rs, test_expired_chain);
	tcase_add_test(rs, test_rogue_ca);
	tcase_add_test(rs, test_bad_protected_header);
	tcase_add_test(rs, test_missing_field);
	tcase_add_test(rs, test_missing_keys);
	tcase_add_test(rs, test_missing_timestamp);
	tcase_add_test(rs, test_bad_payload_types);
	tcase_add_test(rs, test_bad_timestamp);
	tcase_add_test(rs, test_huge_version);
	tcase_add_test(rs, test_keys_wrong_type);
	tcase_add_test(rs, test_bad_jwk_coordinate);
	tcase_add_test(rs, test_bad_x5c_base64);
	tcase_add_test(rs, test_payload_not_json);
	tcase_add_test(rs, test_payload_deep);
	tcase_add_test(rs, test_malformed_entries);
	tcase_add_test(rs, test_bad_signature_encoding);
	tcase_add_test(lim, test_whole_file_errors);
	tcase_add_test(lim, test_deep_nesting);
	tcase_add_test(lim, test_empty_array);
	tcase_add_test(lim, test_strings_with_brackets);
	suite_add_tcase(s, core);
	suite_add_tcase(s, rs);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(manifest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
