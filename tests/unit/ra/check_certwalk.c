/*
 * check_certwalk.c - ra/certwalk.c against OpenSSL's own reading of the
 * same certificates, and its refusals of unusual or broken DER.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ra/certwalk.h"

/* A P-256 certificate with the given extensions (conf strings, NULL
 * ends), self-signed; *der gets its DER (OPENSSL_free). */
static size_t
make_cert(const char *const *exts, int version, unsigned char **der)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int n;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, version), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"sn0123", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x),
	    1700000000));
	ck_assert_int_eq(ASN1_TIME_set_string(X509_getm_notAfter(x),
	    "99991231235959Z"), 1);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (size_t i = 0; exts != NULL && exts[i] != NULL; i += 2) {
		X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &ctx, exts[i],
		    exts[i + 1]);

		ck_assert_ptr_nonnull(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	*der = NULL;
	n = i2d_X509(x, der);
	ck_assert_int_gt(n, 0);
	X509_free(x);
	EVP_PKEY_free(key);
	return (size_t)n;
}

static const char *const plain_exts[] = {
	"basicConstraints", "critical,CA:FALSE",
	"keyUsage", "critical,digitalSignature",
	"subjectKeyIdentifier", "hash",
	"authorityKeyIdentifier", "keyid:always",
	NULL
};

START_TEST(test_plain_matches_openssl)
{
	unsigned char *der, *tbs = NULL, *nm = NULL, *spki = NULL;
	const unsigned char *p;
	struct ra_certwalk cw;
	size_t len = make_cert(plain_exts, X509_VERSION_3, &der);
	const ASN1_BIT_STRING *sig;
	X509 *x;
	int n;
	struct tm tm;

	ck_assert_int_eq(ra_certwalk_parse(der, len, &cw), 1);
	p = der;
	ck_assert_ptr_nonnull(x = d2i_X509(NULL, &p, (long)len));
	n = i2d_re_X509_tbs(x, &tbs);
	ck_assert_uint_eq(cw.tbs_len, (size_t)n);
	ck_assert(memcmp(cw.tbs, tbs, cw.tbs_len) == 0);
	n = i2d_X509_NAME(X509_get_issuer_name(x), &nm);
	ck_assert_uint_eq(cw.issuer_len, (size_t)n);
	ck_assert(memcmp(cw.issuer, nm, cw.issuer_len) == 0);
	ck_assert_uint_eq(cw.subject_len, (size_t)n);	/* self-issued */
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	ck_assert_uint_eq(cw.spki_len, (size_t)n);
	ck_assert(memcmp(cw.spki, spki, cw.spki_len) == 0);
	ck_assert_int_eq(cw.not_before, 1700000000);
	ck_assert_int_eq(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	ck_assert_int_eq(cw.not_after, timegm(&tm));
	ck_assert_ptr_nonnull(cw.ski);
	ck_assert_uint_eq(cw.ski_len, 20);
	ck_assert_ptr_nonnull(cw.akid);
	ck_assert(memcmp(cw.akid, cw.ski, 20) == 0);
	X509_get0_signature(&sig, NULL, x);
	ck_assert_uint_eq(cw.sig_len, (size_t)ASN1_STRING_length(sig));
	ck_assert(memcmp(cw.sig, ASN1_STRING_get0_data(sig), cw.sig_len) == 0);
	OPENSSL_free(tbs);
	OPENSSL_free(nm);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

/* Shapes the fast path must leave to OpenSSL. */
START_TEST(test_unusual_shapes)
{
	static const char *const other_ext[] = {
		"extendedKeyUsage", "clientAuth", NULL };
	static const char *const ca_true[] = {
		"basicConstraints", "critical,CA:TRUE", NULL };
	static const char *const akid_issuer[] = {
		"subjectKeyIdentifier", "hash",
		"authorityKeyIdentifier", "keyid:always,issuer:always", NULL };
	const char *const *cases[] = { other_ext, ca_true, akid_issuer };
	struct ra_certwalk cw;
	unsigned char *der;
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		len = make_cert(cases[i], X509_VERSION_3, &der);
		ck_assert_msg(ra_certwalk_parse(der, len, &cw) == 0,
		    "case %zu", i);
		OPENSSL_free(der);
	}
	/* v1 certificate, no extensions. */
	len = make_cert(NULL, X509_VERSION_1, &der);
	ck_assert_int_eq(ra_certwalk_parse(der, len, &cw), 0);
	OPENSSL_free(der);
	/* v3 without extensions is plain. */
	len = make_cert(NULL, X509_VERSION_3, &der);
	ck_assert_int_eq(ra_certwalk_parse(der, len, &cw), 1);
	ck_assert_ptr_null(cw.akid);
	OPENSSL_free(der);
}
END_TEST

/* Every truncation, a trailing byte, and each single-byte change: never
 * a crash, and nothing read outside the buffer (ASan). */
START_TEST(test_broken_der)
{
	struct ra_certwalk cw;
	unsigned char *der, *buf;
	size_t len = make_cert(plain_exts, X509_VERSION_3, &der);

	for (size_t cut = 0; cut < len; cut++) {
		ck_assert_ptr_nonnull(buf = malloc(cut + 1));
		memcpy(buf, der, cut);
		ck_assert_int_eq(ra_certwalk_parse(buf, cut, &cw), 0);
		free(buf);
	}
	ck_assert_ptr_nonnull(buf = malloc(len + 1));
	memcpy(buf, der, len);
	buf[len] = 0;
	ck_assert_int_eq(ra_certwalk_parse(buf, len + 1, &cw), 0);
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, der, len);
		buf[i] ^= 0xff;
		(void)ra_certwalk_parse(buf, len, &cw);
	}
	free(buf);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_tlv_lengths)
{
	static const unsigned char ok1[] = { 0x04, 0x81, 0x80 };
	static const unsigned char nonmin1[] = { 0x04, 0x81, 0x7f };
	static const unsigned char nonmin2[] = { 0x04, 0x82, 0x00, 0xff };
	static const unsigned char indef[] = { 0x30, 0x80, 0x00, 0x00 };
	static const unsigned char hightag[] = { 0x1f, 0x01, 0x00 };
	static const unsigned char over[] = { 0x04, 0x05, 0x00 };
	unsigned char big[3 + 0x80];
	const unsigned char *p, *v;
	unsigned char tag;
	size_t vlen;

	memcpy(big, ok1, 3);
	memset(big + 3, 0, 0x80);
	p = big;
	ck_assert_int_eq(ra_certwalk_tlv(&p, sizeof(big), &tag, &v, &vlen), 1);
	ck_assert_uint_eq(vlen, 0x80);
	ck_assert_ptr_eq(p, big + sizeof(big));
	p = ok1;
	ck_assert_int_eq(ra_certwalk_tlv(&p, sizeof(ok1), &tag, &v, &vlen), 0);
	p = nonmin1;
	ck_assert_int_eq(ra_certwalk_tlv(&p, 130, &tag, &v, &vlen), 0);
	p = nonmin2;
	ck_assert_int_eq(ra_certwalk_tlv(&p, 300, &tag, &v, &vlen), 0);
	p = indef;
	ck_assert_int_eq(ra_certwalk_tlv(&p, sizeof(indef), &tag, &v, &vlen),
	    0);
	p = hightag;
	ck_assert_int_eq(ra_certwalk_tlv(&p, sizeof(hightag), &tag, &v,
	    &vlen), 0);
	p = over;
	ck_assert_int_eq(ra_certwalk_tlv(&p, sizeof(over), &tag, &v, &vlen),
	    0);
	p = over;
	ck_assert_int_eq(ra_certwalk_tlv(&p, 1, &tag, &v, &vlen), 0);
}
END_TEST

static Suite *
certwalk_suite(void)
{
	Suite *s = suite_create("certwalk");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");

	tcase_add_test(core, test_plain_matches_openssl);
	tcase_add_test(core, test_unusual_shapes);
	tcase_add_test(lim, test_broken_der);
	tcase_add_test(lim, test_tlv_lengths);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(certwalk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
