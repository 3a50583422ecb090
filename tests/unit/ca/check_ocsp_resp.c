/*
 * check_ocsp_resp.c - unit tests for ca/ocsp_resp.c.
 *
 * Throwaway hierarchy made in-process: EC P-256 root -> issuing CA ->
 * delegated OCSP signer (id-kp-OCSPSigning, id-pkix-ocsp-nocheck), plus
 * leaf certificates to ask about.  Responses are checked with OpenSSL's
 * client side: OCSP_basic_verify, OCSP_resp_find_status, OCSP_check_nonce.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ocsp_resp.h"
#include "server/proto/ocsp.h"

enum kind { LEAF, CA, SIGNER, SIGNER_NO_EKU };

static EVP_PKEY *
gen_key(const char *kind)
{
	EVP_PKEY *k = NULL;

	if (strcmp(kind, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "rsa") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(k);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *ikey, enum kind kind)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notBefore(x), -1, 0,
	    NULL));
	ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notAfter(x), 365, 0,
	    NULL));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	switch (kind) {
	case CA:
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case SIGNER:
		add_ext(x, issuer, NID_ext_key_usage, "OCSPSigning");
		add_ext(x, issuer, NID_id_pkix_OCSP_noCheck, "ignored");
		/* FALLTHROUGH */
	case SIGNER_NO_EKU:
	case LEAF:
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		break;
	}
	if (ikey == NULL)
		ikey = key;
	ck_assert_int_gt(X509_sign(x, ikey, EVP_PKEY_is_a(ikey, "ED25519") ?
	    NULL : EVP_sha256()), 0);
	return x;
}

/* The hierarchy, rebuilt per test (fork mode: nothing leaks across). */
static EVP_PKEY *root_key, *ca_key, *signer_key, *leaf_key;
static X509 *root, *ca, *signer, *leaf[3];

static void
pki_make(const char *signer_kind)
{
	root_key = gen_key("p256");
	root = make_cert("Test Root", 1, root_key, NULL, NULL, CA);
	ca_key = gen_key("p256");
	ca = make_cert("Test Issuing", 2, ca_key, root, root_key, CA);
	signer_key = gen_key(signer_kind);
	signer = make_cert("Test OCSP signer", 3, signer_key, ca, ca_key,
	    SIGNER);
	leaf_key = gen_key("p256");
	for (int i = 0; i < 3; i++)
		leaf[i] = make_cert("leaf", 0x1000 + i, leaf_key, ca, ca_key,
		    LEAF);
}

static void
setup(void)
{
	pki_make("p256");
}

static void
teardown(void)
{
	for (int i = 0; i < 3; i++)
		X509_free(leaf[i]);
	X509_free(signer);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(root_key);
}

/* A client request for leaves 0..n-1 (md for all), optional nonce,
 * parsed by our codec into *pr; returns OpenSSL's request too. */
static OCSP_REQUEST *
client_request(const EVP_MD *md, int n, int nonce, struct ocsp_request *pr)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int len;

	for (int i = 0; i < n; i++)
		ck_assert_ptr_nonnull(OCSP_request_add0_id(req,
		    OCSP_cert_to_id(md, leaf[i], ca)));
	if (nonce)
		ck_assert_int_eq(OCSP_request_add1_nonce(req, NULL, 32), 1);
	len = i2d_OCSP_REQUEST(req, &der);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(ocsp_request_parse(der, (size_t)len, 65536, pr, NULL,
	    0), OCSP_CODEC_OK);
	OPENSSL_free(der);
	return req;
}

/* Parses der as a successful response and verifies it against root with
 * the issuing CA as untrusted intermediate.  Caller frees. */
static OCSP_BASICRESP *
verified_basic(const unsigned char *der, size_t len, unsigned long flags)
{
	const unsigned char *q = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, (long)len);
	OCSP_BASICRESP *bs;
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	const ASN1_OCTET_STRING *kid = NULL;
	const X509_NAME *rname = NULL;

	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_eq(q, der + len);
	ck_assert_int_eq(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(X509_STORE_add_cert(st, root), 1);
	ck_assert_int_eq(sk_X509_push(chain, ca), 1);
	ck_assert_int_eq(OCSP_basic_verify(bs, chain, st, flags), 1);
	/* responderID byKey; the signer certificate travels in certs. */
	ck_assert_int_eq(OCSP_resp_get0_id(bs, &kid, &rname), 1);
	ck_assert_ptr_nonnull(kid);
	ck_assert_ptr_null(rname);
	ck_assert_int_eq(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0),
	    signer), 0);
	sk_X509_free(chain);
	X509_STORE_free(st);
	OCSP_RESPONSE_free(resp);
	return bs;
}

/* ---- Core -------------------------------------------------------------- */

START_TEST(test_ca_match)
{
	struct ocsp_ca_match m, other_m;
	struct ocsp_request r;
	OCSP_REQUEST *req;
	EVP_PKEY *ok = gen_key("p256");
	X509 *other = make_cert("Test Issuing", 9, ok, root, root_key, CA);

	ck_assert_int_eq(ocsp_ca_match_init(&m, ca), 1);
	ck_assert_int_eq(ocsp_ca_match_init(&other_m, other), 1);
	req = client_request(EVP_sha1(), 2, 0, &r);
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[0]), 1);
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[1]), 1);
	/* Same name, other key: the key hash tells them apart. */
	ck_assert_int_eq(ocsp_ca_match(&other_m, &r.ids[0]), 0);
	r.ids[0].name_hash[3] ^= 1;
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[0]), 0);
	r.ids[1].name_hash_len = 19;
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[1]), 0);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);

	req = client_request(EVP_sha256(), 1, 0, &r);
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[0]), 1);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
	req = client_request(EVP_sha384(), 1, 0, &r);
	ck_assert_int_eq(ocsp_ca_match(&m, &r.ids[0]), 0);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
	X509_free(other);
	EVP_PKEY_free(ok);
}
END_TEST

/* good / revoked / unknown in one response, nonce echoed. */
START_TEST(test_statuses_and_nonce)
{
	struct ocsp_request r;
	OCSP_REQUEST *req = client_request(EVP_sha1(), 3, 1, &r);
	struct ocsp_responder *rs = ocsp_responder_new(signer, signer_key);
	struct ocsp_single s[3];
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;
	time_t now = time(NULL);

	ck_assert_ptr_nonnull(rs);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 3; i++) {
		s[i].id = r.ids[i];
		s[i].this_update = now - 60;
		s[i].next_update = now + 3600;
		s[i].reason = -1;
	}
	s[0].status = OCSP_CERT_GOOD;
	s[1].status = OCSP_CERT_REVOKED;
	s[1].revoked_at = now - 1000;
	s[1].reason = 1;
	s[2].status = OCSP_CERT_UNKNOWN;
	s[2].next_update = 0;
	ck_assert_int_eq(ocsp_resp_build(rs, s, 3, r.nonce_ext,
	    r.nonce_ext_len, &der, &len), OCSP_RESP_OK);
	bs = verified_basic(der, len, 0);
	ck_assert_int_eq(OCSP_check_nonce(req, bs), 1);
	for (int i = 0; i < 3; i++) {
		OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf[i], ca);
		ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
		int st = -9, reason = -9;

		ck_assert_int_eq(OCSP_resp_find_status(bs, id, &st, &reason,
		    &rev, &tu, &nu), 1);
		ck_assert_int_eq(OCSP_check_validity(tu, nu, 300, -1), 1);
		ck_assert_int_eq(ASN1_TIME_cmp_time_t(tu, now - 60), 0);
		if (i == 0) {
			ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
			ck_assert_int_eq(ASN1_TIME_cmp_time_t(nu, now + 3600),
			    0);
		} else if (i == 1) {
			ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
			ck_assert_int_eq(reason, 1);
			ck_assert_int_eq(ASN1_TIME_cmp_time_t(rev, now - 1000),
			    0);
		} else {
			ck_assert_int_eq(st, V_OCSP_CERTSTATUS_UNKNOWN);
			ck_assert_ptr_null(nu);
		}
		OCSP_CERTID_free(id);
	}
	OCSP_BASICRESP_free(bs);
	free(der);
	ocsp_responder_free(rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

/* Without a nonce (the cacheable form), SHA-256 CertIDs, reason
 * unspecified left out. */
START_TEST(test_no_nonce_sha256)
{
	struct ocsp_request r;
	OCSP_REQUEST *req = client_request(EVP_sha256(), 1, 0, &r);
	struct ocsp_responder *rs = ocsp_responder_new(signer, signer_key);
	struct ocsp_single s;
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha256(), leaf[0], ca);
	int st, reason;
	time_t now = time(NULL);

	memset(&s, 0, sizeof(s));
	s.id = r.ids[0];
	s.status = OCSP_CERT_REVOKED;
	s.reason = 0;
	s.revoked_at = now - 5;
	s.this_update = now;
	s.next_update = now + 60;
	ck_assert_int_eq(ocsp_resp_build(rs, &s, 1, NULL, 0, &der, &len),
	    OCSP_RESP_OK);
	bs = verified_basic(der, len, 0);
	/* 2: neither side has a nonce. */
	ck_assert_int_eq(OCSP_check_nonce(req, bs), 2);
	ck_assert_int_eq(OCSP_resp_find_status(bs, id, &st, &reason, NULL,
	    NULL, NULL), 1);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(reason, -1);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	free(der);
	ocsp_responder_free(rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

static const char *const signer_kinds[] = { "p256", "p384", "rsa",
	"ed25519" };

START_TEST(test_signer_key_types)
{
	struct ocsp_request r;
	OCSP_REQUEST *req;
	struct ocsp_responder *rs;
	struct ocsp_single s;
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;

	teardown();
	pki_make(signer_kinds[_i]);
	req = client_request(EVP_sha1(), 1, 1, &r);
	rs = ocsp_responder_new(signer, signer_key);
	ck_assert_ptr_nonnull(rs);
	memset(&s, 0, sizeof(s));
	s.id = r.ids[0];
	s.this_update = time(NULL);
	s.reason = -1;
	ck_assert_int_eq(ocsp_resp_build(rs, &s, 1, r.nonce_ext,
	    r.nonce_ext_len, &der, &len), OCSP_RESP_OK);
	bs = verified_basic(der, len, 0);
	ck_assert_int_eq(OCSP_check_nonce(req, bs), 1);
	OCSP_BASICRESP_free(bs);
	free(der);
	ocsp_responder_free(rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

/* An odd CertID (foreign CA, INTEGER with a leading zero) comes back
 * exactly as asked. */
START_TEST(test_echo_foreign_certid)
{
	struct ocsp_responder *rs = ocsp_responder_new(signer, signer_key);
	struct ocsp_single s;
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	int st;

	memset(&s, 0, sizeof(s));
	s.id.hash_nid = NID_sha1;
	memset(s.id.name_hash, 0x11, 20);
	s.id.name_hash_len = 20;
	memset(s.id.key_hash, 0x22, 20);
	s.id.key_hash_len = 20;
	memcpy(s.id.serial_der, "\x02\x02\x00\x99", 4);
	s.id.serial_der_len = 4;
	s.status = OCSP_CERT_UNKNOWN;
	s.this_update = time(NULL);
	s.reason = -1;
	ck_assert_int_eq(ocsp_resp_build(rs, &s, 1, NULL, 0, &der, &len),
	    OCSP_RESP_OK);
	/*
	 * Signature only: RFC 6960 4.2.2.2 makes clients refuse a delegated
	 * signer for a CertID of another issuer, which is why the server
	 * answers "unauthorized" rather than signing such a response.
	 */
	bs = verified_basic(der, len, OCSP_NOCHECKS);
	{
		OCSP_SINGLERESP *one = OCSP_resp_get0(bs, 0);
		const OCSP_CERTID *cid = OCSP_SINGLERESP_get0_id(one);
		ASN1_OCTET_STRING *nh, *kh;
		ASN1_OBJECT *alg;
		ASN1_INTEGER *ser;

		ck_assert_int_eq(OCSP_id_get0_info(&nh, &alg, &kh, &ser,
		    (OCSP_CERTID *)cid), 1);
		ck_assert_int_eq(OBJ_obj2nid(alg), NID_sha1);
		ck_assert_int_eq(ASN1_STRING_get0_data(nh)[0], 0x11);
		ck_assert_int_eq(ASN1_STRING_get0_data(kh)[19], 0x22);
		ck_assert_int_eq(ASN1_INTEGER_get(ser), 0x99);
		ck_assert_int_eq(OCSP_single_get0_status(one, NULL, NULL, NULL,
		    NULL), V_OCSP_CERTSTATUS_UNKNOWN);
	}
	ck_assert_int_eq(ASN1_INTEGER_set(ai, 0x99), 1);
	id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca),
	    X509_get0_pubkey_bitstr(ca), ai);
	/* Not ours: a lookup by our real CertID finds nothing. */
	ck_assert_int_eq(OCSP_resp_find_status(bs, id, &st, NULL, NULL, NULL,
	    NULL), 0);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(ai);
	OCSP_BASICRESP_free(bs);
	free(der);
	ocsp_responder_free(rs);
}
END_TEST

/*
 * The hand-written DER against OpenSSL's own encoder: every response,
 * parsed by d2i_OCSP_RESPONSE, re-encodes to exactly the same octets
 * (so it is canonical DER as OpenSSL would write it), and a reference
 * response built with OpenSSL's OCSP_* API from the same data carries the
 * same single responses, nonce and responder ID.
 */
static void
assert_reencodes(const unsigned char *der, size_t len)
{
	const unsigned char *q = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, (long)len);
	OCSP_BASICRESP *bs;
	unsigned char *again = NULL, *tbs = NULL;
	int l;

	ck_assert_ptr_nonnull(resp);
	l = i2d_OCSP_RESPONSE(resp, &again);
	ck_assert_int_eq(l, (int)len);
	ck_assert_mem_eq(again, der, len);
	bs = OCSP_response_get1_basic(resp);
	ck_assert_ptr_nonnull(bs);
	l = ASN1_item_i2d((ASN1_VALUE *)OCSP_resp_get0_respdata(bs), &tbs,
	    ASN1_ITEM_rptr(OCSP_RESPDATA));
	ck_assert_int_gt(l, 0);
	OPENSSL_free(tbs);
	OPENSSL_free(again);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
}

/* The DER of the i-th SingleResponse of bs, for comparing. */
static int
single_der(OCSP_BASICRESP *bs, int i, unsigned char **out)
{
	return i2d_OCSP_SINGLERESP(OCSP_resp_get0(bs, i), out);
}

START_TEST(test_matches_openssl)
{
	struct ocsp_request r;
	OCSP_REQUEST *req = client_request(EVP_sha1(), 3, 1, &r);
	struct ocsp_responder *rs;
	struct ocsp_single s[3];
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs, *ref = OCSP_BASICRESP_new();
	time_t now = time(NULL);
	const ASN1_OCTET_STRING *kid = NULL, *rkid = NULL;
	const X509_NAME *nm = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_sha256();

	teardown();
	pki_make(signer_kinds[_i]);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
	req = client_request(EVP_sha1(), 3, 1, &r);
	if (EVP_PKEY_is_a(signer_key, "ED25519"))
		md = NULL;
	else if (EVP_PKEY_is_a(signer_key, "EC") &&
	    EVP_PKEY_get_bits(signer_key) == 384)
		md = EVP_sha384();
	rs = ocsp_responder_new(signer, signer_key);
	ck_assert_ptr_nonnull(rs);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 3; i++) {
		OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf[i], ca);
		ASN1_TIME *tu = ASN1_GENERALIZEDTIME_set(NULL, now - 60);
		ASN1_TIME *nu = ASN1_GENERALIZEDTIME_set(NULL, now + 3600);
		ASN1_TIME *rv = ASN1_GENERALIZEDTIME_set(NULL, now - 1000);
		int st = i == 0 ? V_OCSP_CERTSTATUS_GOOD : i == 1 ?
		    V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_UNKNOWN;

		s[i].id = r.ids[i];
		s[i].this_update = now - 60;
		s[i].next_update = i == 2 ? 0 : now + 3600;
		s[i].status = i;	/* good, revoked, unknown */
		s[i].revoked_at = now - 1000;
		s[i].reason = i == 1 ? 4 : -1;
		ck_assert_ptr_nonnull(OCSP_basic_add1_status(ref, id, st,
		    i == 1 ? 4 : -1, i == 1 ? rv : NULL, tu,
		    i == 2 ? NULL : nu));
		OCSP_CERTID_free(id);
		ASN1_TIME_free(tu);
		ASN1_TIME_free(nu);
		ASN1_TIME_free(rv);
	}
	ck_assert_int_eq(OCSP_copy_nonce(ref, req), 1);
	ck_assert_int_eq(EVP_DigestSignInit(mctx, NULL, md, NULL, signer_key),
	    1);
	ck_assert_int_eq(OCSP_basic_sign_ctx(ref, signer, mctx, NULL,
	    OCSP_RESPID_KEY), 1);
	ck_assert_int_eq(ocsp_resp_build(rs, s, 3, r.nonce_ext,
	    r.nonce_ext_len, &der, &len), OCSP_RESP_OK);
	assert_reencodes(der, len);
	bs = verified_basic(der, len, 0);
	ck_assert_int_eq(OCSP_check_nonce(req, bs), 1);
	ck_assert_int_eq(OCSP_resp_count(bs), 3);
	for (int i = 0; i < 3; i++) {
		unsigned char *a = NULL, *b = NULL;
		int la = single_der(bs, i, &a), lb = single_der(ref, i, &b);

		ck_assert_int_gt(la, 0);
		ck_assert_int_eq(la, lb);
		ck_assert_mem_eq(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
	}
	ck_assert_int_eq(OCSP_resp_get0_id(bs, &kid, &nm), 1);
	ck_assert_int_eq(OCSP_resp_get0_id(ref, &rkid, &nm), 1);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(kid, rkid), 0);
	ck_assert_int_eq(OBJ_cmp(OCSP_resp_get0_tbs_sigalg(bs)->algorithm,
	    OCSP_resp_get0_tbs_sigalg(ref)->algorithm), 0);
	ck_assert_int_eq(X509_ALGOR_cmp(OCSP_resp_get0_tbs_sigalg(bs),
	    OCSP_resp_get0_tbs_sigalg(ref)), 0);
	/* the nonce extension, byte for byte */
	{
		unsigned char *a = NULL, *b = NULL;
		int ia = OCSP_BASICRESP_get_ext_by_NID(bs,
		    NID_id_pkix_OCSP_Nonce, -1);
		int ib = OCSP_BASICRESP_get_ext_by_NID(ref,
		    NID_id_pkix_OCSP_Nonce, -1);
		int la = i2d_X509_EXTENSION(OCSP_BASICRESP_get_ext(bs, ia), &a);
		int lb = i2d_X509_EXTENSION(OCSP_BASICRESP_get_ext(ref, ib),
		    &b);

		ck_assert_int_gt(la, 0);
		ck_assert_int_eq(la, lb);
		ck_assert_mem_eq(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
	}
	OCSP_BASICRESP_free(bs);
	OCSP_BASICRESP_free(ref);
	EVP_MD_CTX_free(mctx);
	free(der);
	ocsp_responder_free(rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

/* Long-form lengths: 64 singles with the largest CertIDs. */
START_TEST(test_large_reencodes)
{
	struct ocsp_responder *rs = ocsp_responder_new(signer, signer_key);
	struct ocsp_single s[64];
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;

	memset(s, 0, sizeof(s));
	for (int i = 0; i < 64; i++) {
		s[i].id.hash_nid = NID_sha512;
		memset(s[i].id.name_hash, i, 64);
		s[i].id.name_hash_len = 64;
		memset(s[i].id.key_hash, 0x22, 64);
		s[i].id.key_hash_len = 64;
		s[i].id.serial_der[0] = 0x02;
		s[i].id.serial_der[1] = 126;
		memset(s[i].id.serial_der + 2, 0x7f, 126);
		s[i].id.serial_der_len = 128;
		s[i].status = OCSP_CERT_REVOKED;
		s[i].revoked_at = 1;
		s[i].reason = 1;
		s[i].this_update = 253402300000LL;	/* year 9999 */
		s[i].next_update = 253402300799LL;
	}
	ck_assert_int_eq(ocsp_resp_build(rs, s, 64, (const unsigned char *)
	    "\x04\x20" "abcdefghijklmnopqrstuvwxyz012345", 34, &der, &len),
	    OCSP_RESP_OK);
	ck_assert_uint_gt(len, 0x4000);	/* 3-octet lengths */
	assert_reencodes(der, len);
	bs = verified_basic(der, len, OCSP_NOCHECKS);
	ck_assert_int_eq(OCSP_resp_count(bs), 64);
	OCSP_BASICRESP_free(bs);
	free(der);
	/* a time past year 9999 cannot be a GeneralizedTime */
	s[0].next_update = 253402300800LL;
	der = (unsigned char *)1;
	ck_assert_int_eq(ocsp_resp_build(rs, s, 1, NULL, 0, &der, &len),
	    OCSP_RESP_EINVAL);
	ck_assert_ptr_null(der);
	/* a serial whose length octet disagrees with its size */
	s[0].next_update = 0;
	s[0].id.serial_der[1] = 5;
	ck_assert_int_eq(ocsp_resp_build(rs, s, 1, NULL, 0, &der, &len),
	    OCSP_RESP_EINVAL);
	ocsp_responder_free(rs);
}
END_TEST

/* Many threads share one responder (its context pool). */
struct thr_arg {
	struct ocsp_responder *rs;
	struct ocsp_single s;
	int fails;
};

static void *
thr_sign(void *p)
{
	struct thr_arg *a = p;

	for (int i = 0; i < 200; i++) {
		unsigned char *der = NULL;
		size_t len = 0;

		if (ocsp_resp_build(a->rs, &a->s, 1, (const unsigned char *)
		    "\x04\x01x", 3, &der, &len) != OCSP_RESP_OK)
			a->fails++;
		free(der);
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct ocsp_request r;
	OCSP_REQUEST *req = client_request(EVP_sha1(), 1, 0, &r);
	struct thr_arg a[12];
	pthread_t t[12];

	memset(a, 0, sizeof(a));
	a[0].rs = ocsp_responder_new(signer, signer_key);
	ck_assert_ptr_nonnull(a[0].rs);
	for (int i = 0; i < 12; i++) {
		a[i].rs = a[0].rs;
		a[i].s.id = r.ids[0];
		a[i].s.this_update = time(NULL);
		a[i].s.reason = -1;
		ck_assert_int_eq(pthread_create(&t[i], NULL, thr_sign, &a[i]),
		    0);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].fails, 0);
	}
	ocsp_responder_free(a[0].rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

/* ---- Limits ------------------------------------------------------------ */

START_TEST(test_bad_inputs)
{
	struct ocsp_request r;
	OCSP_REQUEST *req = client_request(EVP_sha1(), 1, 0, &r);
	struct ocsp_responder *rs = ocsp_responder_new(signer, signer_key);
	struct ocsp_single s[65], good;
	unsigned char *der = (unsigned char *)1, nonce[200];
	size_t len = 5;

	memset(&good, 0, sizeof(good));
	good.id = r.ids[0];
	good.this_update = time(NULL);
	good.reason = -1;
	for (int i = 0; i < 65; i++)
		s[i] = good;
#define BAD(arr, n, nonce_p, nonce_l, want) do {			\
	der = (unsigned char *)1; len = 5;				\
	ck_assert_int_eq(ocsp_resp_build(rs, arr, n, nonce_p, nonce_l,	\
	    &der, &len), want);						\
	ck_assert_ptr_null(der);					\
	ck_assert_uint_eq(len, 0);					\
} while (0)
	BAD(s, 0, NULL, 0, OCSP_RESP_EINVAL);
	BAD(s, 65, NULL, 0, OCSP_RESP_EINVAL);
	BAD(NULL, 1, NULL, 0, OCSP_RESP_EINVAL);
	memset(nonce, 4, sizeof(nonce));
	BAD(s, 1, nonce, 0, OCSP_RESP_EINVAL);
	BAD(s, 1, nonce, sizeof(nonce), OCSP_RESP_EINVAL);
	s[0].status = 7;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0] = good;
	s[0].status = OCSP_CERT_REVOKED;
	s[0].reason = 7;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0].reason = 8;		/* removeFromCRL: not a revocation */
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0] = good;
	s[0].next_update = s[0].this_update;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0] = good;
	s[0].id.serial_der_len = 0;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0] = good;
	s[0].id.hash_nid = NID_undef;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
	s[0] = good;
	s[0].id.name_hash_len = 65;
	BAD(s, 1, NULL, 0, OCSP_RESP_EINVAL);
#undef BAD
	/* 64 singles is the cap and still fine. */
	ck_assert_int_eq(ocsp_resp_build(rs, s + 1, 64, NULL, 0, &der, &len),
	    OCSP_RESP_OK);
	free(der);
	ocsp_responder_free(rs);
	ocsp_request_clear(&r);
	OCSP_REQUEST_free(req);
}
END_TEST

START_TEST(test_bad_responder)
{
	EVP_PKEY *k = gen_key("p256");
	X509 *no_eku = make_cert("not a signer", 77, k, ca, ca_key,
	    SIGNER_NO_EKU);

	ck_assert_ptr_null(ocsp_responder_new(no_eku, k));
	ck_assert_ptr_null(ocsp_responder_new(signer, k));	/* mismatch */
	ck_assert_ptr_null(ocsp_responder_new(NULL, k));
	ck_assert_ptr_null(ocsp_responder_new(signer, NULL));
	ocsp_responder_free(NULL);
	X509_free(no_eku);
	EVP_PKEY_free(k);
}
END_TEST

static Suite *
resp_suite(void)
{
	Suite *s = suite_create("ocsp_resp");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");

	tcase_set_timeout(core, 60);
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(lim, setup, teardown);
	tcase_add_test(core, test_ca_match);
	tcase_add_test(core, test_statuses_and_nonce);
	tcase_add_test(core, test_no_nonce_sha256);
	tcase_add_loop_test(core, test_signer_key_types, 0,
	    sizeof(signer_kinds) / sizeof(signer_kinds[0]));
	tcase_add_test(core, test_echo_foreign_certid);
	tcase_add_loop_test(core, test_matches_openssl, 0,
	    sizeof(signer_kinds) / sizeof(signer_kinds[0]));
	tcase_add_test(core, test_large_reencodes);
	tcase_add_test(core, test_threads);
	tcase_add_test(lim, test_bad_inputs);
	tcase_add_test(lim, test_bad_responder);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(resp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
