/*
 * check_csr.c - ca/csrwalk.c and ca/csr.c against OpenSSL's own reading
 * (d2i_X509_REQ + X509_REQ_verify) of the same requests: good ones of
 * every fast-path shape, the slow-path key types, every truncation, byte
 * flips, trailing bytes, a bad signature and a point off the curve.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/csr.h"
#include "ca/csrwalk.h"

/*
 * A request for a new key of type alg/param ("EC","P-256"; "RSA", NULL;
 * "ED25519", NULL), subject CN=cn (none when NULL), with a SAN and key
 * usage extensionRequest when exts, signed with md.  *der gets the DER
 * (OPENSSL_free); *keyp (optional) the key.
 */
static size_t
make_csr(const char *alg, const char *param, const char *cn, int exts,
    const EVP_MD *md, unsigned char **der, EVP_PKEY **keyp)
{
	EVP_PKEY *key;
	X509_REQ *r = X509_REQ_new();
	int n;

	if (strcmp(alg, "RSA") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (param != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, alg, param);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, alg);
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(r);
	if (cn != NULL)
		ck_assert_int_eq(X509_NAME_add_entry_by_txt(
		    X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
		    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_REQ_set_pubkey(r, key), 1);
	if (exts) {
		STACK_OF(X509_EXTENSION) *sk = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e;

		e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
		    "DNS:dev.example,URI:urn:dev:1");
		ck_assert_ptr_nonnull(e);
		sk_X509_EXTENSION_push(sk, e);
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
		    "critical,digitalSignature");
		ck_assert_ptr_nonnull(e);
		sk_X509_EXTENSION_push(sk, e);
		ck_assert_int_eq(X509_REQ_add_extensions(r, sk), 1);
		sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
		ck_assert_int_eq(X509_REQ_add1_attr_by_txt(r,
		    "challengePassword", MBSTRING_ASC,
		    (const unsigned char *)"s3cret", -1), 1);
	}
	ck_assert_int_gt(X509_REQ_sign(r, key, md), 0);
	*der = NULL;
	n = i2d_X509_REQ(r, der);
	ck_assert_int_gt(n, 0);
	X509_REQ_free(r);
	if (keyp != NULL)
		*keyp = key;
	else
		EVP_PKEY_free(key);
	return (size_t)n;
}

/* OpenSSL's reading: the request when der is exactly one, else NULL. */
static X509_REQ *
ossl_read(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *r = d2i_X509_REQ(NULL, &p, (long)len);

	if (r != NULL && p != der + len) {
		X509_REQ_free(r);
		r = NULL;
	}
	ERR_clear_error();
	return r;
}

/*
 * The property the fast path must keep: ca_csr_parse accepts exactly
 * what OpenSSL reads, and then agrees on key, signature and subject.
 * Returns 1 when the fast path took it.
 */
static int
agrees(const unsigned char *der, size_t len)
{
	struct ca_csr *c = NULL;
	X509_REQ *r = ossl_read(der, len);
	enum ca_err e = ca_csr_parse(der, len, &c);
	EVP_PKEY *ok;
	int fast;

	if (r == NULL) {
		ck_assert_int_eq(e, CA_ERR_MALFORMED);
		ck_assert_ptr_null(c);
		return 0;
	}
	ck_assert_int_eq(e, CA_OK);
	ck_assert_ptr_nonnull(c);
	ok = X509_REQ_get0_pubkey(r);
	if (ok == NULL) {
		ck_assert_ptr_null(ca_csr_key(c));
		ck_assert_int_eq(ca_csr_sig_ok(c), 0);
	} else {
		ck_assert_ptr_nonnull(ca_csr_key(c));
		ck_assert_int_eq(EVP_PKEY_eq(ok, ca_csr_key(c)), 1);
		ck_assert_int_eq(ca_csr_sig_ok(c), X509_REQ_verify(r, ok) ==
		    1);
	}
	ck_assert_int_eq(X509_NAME_cmp(X509_REQ_get_subject_name(r),
	    ca_csr_subject(c)), 0);
	fast = ca_csr_is_fast(c);
	ERR_clear_error();
	ca_csr_free(c);
	X509_REQ_free(r);
	return fast;
}

static const struct {
	const char *curve;
	const char *md;
	const char *cn;
	int exts;
} good[] = {
	{ "P-256", "SHA256", "dev-0001", 0 },
	{ "P-256", "SHA256", "dev-0001", 1 },
	{ "P-384", "SHA384", "dev-0002", 0 },
	{ "P-384", "SHA384", "dev-0002", 1 },
	{ "P-384", "SHA256", "dev-0003", 1 },
	{ "P-256", "SHA384", NULL, 0 },		/* empty subject */
};

START_TEST(test_good_fast)
{
	unsigned char *der, md[32], *spki = NULL, h[32];
	struct ca_csrwalk w;
	struct ca_csr *c = NULL;
	EVP_PKEY *key;
	size_t len;
	int n;

	len = make_csr("EC", good[_i].curve, good[_i].cn, good[_i].exts,
	    EVP_get_digestbyname(good[_i].md), &der, &key);
	ck_assert_int_eq(ca_csrwalk_parse(der, len, &w), 1);
	ck_assert_uint_eq(w.curve, strcmp(good[_i].curve, "P-256") == 0 ?
	    CA_CSRWALK_P256 : CA_CSRWALK_P384);
	ck_assert_uint_eq(w.nattrs, good[_i].exts ? 2 : 0);
	/* The walker's SPKI is what OpenSSL writes for the key. */
	n = i2d_PUBKEY(key, &spki);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(w.spki_len, (size_t)n);
	ck_assert_mem_eq(w.spki, spki, (size_t)n);
	ck_assert_ptr_eq(w.info, der + (der[1] == 0x81 ? 3 : 4));

	ck_assert_int_eq(agrees(der, len), 1);
	ck_assert_int_eq(ca_csr_parse(der, len, &c), CA_OK);
	ck_assert_int_eq(ca_csr_sig_ok(c), 1);
	ck_assert_int_eq(EVP_PKEY_eq(ca_csr_key(c), key), 1);
	ck_assert_ptr_nonnull(ca_csr_canonical_spki(c));
	ck_assert_ptr_null(ca_csr_req(c));
	ck_assert_int_eq(ca_csr_spki_hash(c, md), 0);
	ck_assert_int_eq(EVP_Digest(spki, (size_t)n, h, NULL, EVP_sha256(),
	    NULL), 1);
	ck_assert_mem_eq(md, h, 32);
	/* The SPKI lent to the certificate is the request's, and the key
	 * made from the point (parameters copied from the per-curve key)
	 * encodes to the same bytes, on any thread's first use too. */
	{
		const unsigned char *sd = NULL;
		unsigned char *k2 = NULL;
		size_t sl = 0;
		int n2;

		ck_assert_int_eq(ca_csr_spki_der(c, &sd, &sl), 0);
		ck_assert_uint_eq(sl, (size_t)n);
		ck_assert_mem_eq(sd, spki, sl);
		ck_assert_int_eq(n2 = i2d_PUBKEY(ca_csr_key(c), &k2), n);
		ck_assert_mem_eq(k2, spki, (size_t)n2);
		OPENSSL_free(k2);
	}
	ca_csr_free(c);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
}
END_TEST

/* Key types the fast path leaves to OpenSSL: same answers. */
START_TEST(test_slow_types)
{
	unsigned char *der;
	struct ca_csrwalk w;
	struct ca_csr *c = NULL;
	size_t len;

	len = make_csr("RSA", NULL, "dev-r", 1, EVP_sha256(), &der, NULL);
	ck_assert_int_eq(ca_csrwalk_parse(der, len, &w), 0);
	ck_assert_int_eq(agrees(der, len), 0);
	ck_assert_int_eq(ca_csr_parse(der, len, &c), CA_OK);
	ck_assert_int_eq(ca_csr_sig_ok(c), 1);
	ck_assert_ptr_nonnull(ca_csr_req(c));
	{
		const unsigned char *sd = NULL;
		size_t sl = 0;

		/* The slow path lends no SPKI bytes. */
		ck_assert_int_eq(ca_csr_spki_der(c, &sd, &sl), -1);
		ck_assert_int_eq(ca_csr_spki_der(NULL, &sd, &sl), -1);
	}
	ca_csr_free(c);
	OPENSSL_free(der);

	len = make_csr("ED25519", NULL, "dev-e", 0, NULL, &der, NULL);
	ck_assert_int_eq(ca_csrwalk_parse(der, len, &w), 0);
	ck_assert_int_eq(agrees(der, len), 0);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_truncations)
{
	unsigned char *der;
	size_t len;
	struct ca_csrwalk w;

	len = make_csr("EC", "P-256", "dev-t", 1, EVP_sha256(), &der, NULL);
	for (size_t i = 0; i < len; i++) {
		ck_assert_int_eq(ca_csrwalk_parse(der, i, &w), 0);
		ck_assert_int_eq(agrees(der, i), 0);
	}
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_trailing)
{
	unsigned char *der, *big;
	struct ca_csr *c = NULL;
	struct ca_csrwalk w;
	size_t len;

	len = make_csr("EC", "P-384", "dev-x", 1, EVP_sha384(), &der, NULL);
	big = malloc(len + 2);
	ck_assert_ptr_nonnull(big);
	memcpy(big, der, len);
	big[len] = 0x00;
	big[len + 1] = 0x00;
	for (size_t extra = 1; extra <= 2; extra++) {
		ck_assert_int_eq(ca_csrwalk_parse(big, len + extra, &w), 0);
		ck_assert_int_eq(ca_csr_parse(big, len + extra, &c),
		    CA_ERR_MALFORMED);
		ck_assert_ptr_null(c);
	}
	ck_assert_int_eq(ca_csr_parse(NULL, 0, &c), CA_ERR_MALFORMED);
	ck_assert_int_eq(ca_csr_parse(der, 0, &c), CA_ERR_MALFORMED);
	free(big);
	OPENSSL_free(der);
}
END_TEST

/* Every byte, three ways: never a crash, always OpenSSL's verdict. */
START_TEST(test_flips)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff };
	unsigned char *der;
	size_t len;

	len = make_csr("EC", good[_i].curve, good[_i].cn, good[_i].exts,
	    EVP_get_digestbyname(good[_i].md), &der, NULL);
	for (size_t i = 0; i < len; i++)
		for (size_t m = 0; m < sizeof(masks); m++) {
			der[i] ^= masks[m];
			(void)agrees(der, len);
			der[i] ^= masks[m];
		}
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_bad_signature)
{
	unsigned char *der;
	struct ca_csr *c = NULL;
	size_t len;

	len = make_csr("EC", "P-256", "dev-s", 0, EVP_sha256(), &der, NULL);
	/* The last octet is the end of s in the Ecdsa-Sig-Value. */
	der[len - 1] ^= 0x01;
	ck_assert_int_eq(agrees(der, len), 1);
	ck_assert_int_eq(ca_csr_parse(der, len, &c), CA_OK);
	ck_assert_int_eq(ca_csr_sig_ok(c), 0);
	ck_assert_ptr_nonnull(ca_csr_key(c));
	ca_csr_free(c);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_point_off_curve)
{
	unsigned char *der;
	struct ca_csrwalk w;
	struct ca_csr *c = NULL;
	size_t len, off;

	len = make_csr("EC", "P-256", "dev-p", 0, EVP_sha256(), &der, NULL);
	ck_assert_int_eq(ca_csrwalk_parse(der, len, &w), 1);
	off = (size_t)(w.point - der) + w.point_len - 1;
	der[off] ^= 0x01;	/* last octet of Y */
	ck_assert_int_eq(ca_csrwalk_parse(der, len, &w), 1);
	ck_assert_int_eq(agrees(der, len), 0);
	ck_assert_int_eq(ca_csr_parse(der, len, &c), CA_OK);
	ck_assert_ptr_null(ca_csr_key(c));
	ck_assert_int_eq(ca_csr_sig_ok(c), 0);
	ca_csr_free(c);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_from_req)
{
	unsigned char *der;
	const unsigned char *p;
	struct ca_csr *c;
	size_t len;

	len = make_csr("EC", "P-256", "dev-q", 0, EVP_sha256(), &der, NULL);
	p = der;
	c = ca_csr_from_req(d2i_X509_REQ(NULL, &p, (long)len));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ca_csr_sig_ok(c), 1);
	ck_assert_int_eq(ca_csr_is_fast(c), 0);
	ck_assert_ptr_null(ca_csr_from_req(NULL));
	ca_csr_free(c);
	ca_csr_free(NULL);
	OPENSSL_free(der);
}
END_TEST

static Suite *
csr_suite(void)
{
	Suite *s = suite_create("csr");
	TCase *tc = tcase_create("core");
	int ngood = (int)(sizeof(good) / sizeof(good[0]));

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_good_fast, 0, ngood);
	tcase_add_test(tc, test_slow_types);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_trailing);
	tcase_add_loop_test(tc, test_flips, 0, ngood);
	tcase_add_test(tc, test_bad_signature);
	tcase_add_test(tc, test_point_off_curve);
	tcase_add_test(tc, test_from_req);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
