/*
 * check_jws.c - ra/jws.c: every supported alg, and every way a header or
 * signature can be wrong.  Keys and signer certificates are made here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "ra/jws.h"
#include "ra/trust.h"

static const char payload[] = "eyJ1bmlxdWVJZCI6IjAxMjMifQ";

struct signer {
	EVP_PKEY	*key;
	X509		*cert;
	char		*x5t;	/* b64url */
	char		*kid;	/* b64url of SKI */
};

static void
signer_make(struct signer *s, const char *type, const char *param)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	unsigned char md[32];
	unsigned int mdlen;
	const ASN1_OCTET_STRING *ski;

	memset(s, 0, sizeof(*s));
	if (strcmp(type, "RSA") == 0)
		s->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		s->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	ck_assert_ptr_nonnull(s->key);
	ck_assert_ptr_nonnull(s->cert = X509_new());
	ck_assert_int_eq(X509_set_version(s->cert, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(s->cert), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(s->cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)"signer", -1, -1, 0);
	X509_set_issuer_name(s->cert, X509_get_subject_name(s->cert));
	X509_gmtime_adj(X509_getm_notBefore(s->cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(s->cert), 86400);
	X509_set_pubkey(s->cert, s->key);
	X509V3_set_ctx(&ctx, s->cert, s->cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier,
	    "hash");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(s->cert, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(s->cert, s->key, EVP_sha256()), 0);
	ck_assert_int_eq(X509_digest(s->cert, EVP_sha256(), md, &mdlen), 1);
	s->x5t = b64url_encode(md, mdlen, NULL);
	ski = X509_get0_subject_key_id(s->cert);
	s->kid = b64url_encode(ASN1_STRING_get0_data(ski),
	    (size_t)ASN1_STRING_length(ski), NULL);
}

static void
signer_free(struct signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s->x5t);
	free(s->kid);
}

static char *
b64url_str(const char *s)
{
	return b64url_encode((const unsigned char *)s, strlen(s), NULL);
}

/* JWS signature over prot "." payload; EC as raw r||s of nlen each. */
static char *
sign(const struct signer *s, const char *prot, const char *md, size_t nlen,
    int pss)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char der[1024], raw[132];
	size_t derlen = sizeof(der);
	char *out;

	ck_assert_int_eq(EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL,
	    s->key, NULL), 1);
	if (pss) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
	}
	EVP_DigestSignUpdate(ctx, prot, strlen(prot));
	EVP_DigestSignUpdate(ctx, ".", 1);
	EVP_DigestSignUpdate(ctx, payload, strlen(payload));
	ck_assert_int_eq(EVP_DigestSignFinal(ctx, der, &derlen), 1);
	EVP_MD_CTX_free(ctx);
	if (nlen == 0)
		return b64url_encode(der, derlen, NULL);
	ck_assert(ra_jws_ecdsa_der_to_raw(der, derlen, nlen, raw));
	out = b64url_encode(raw, 2 * nlen, NULL);
	return out;
}

static char *
header(const char *alg, const struct signer *s, int with_x5t, int with_kid)
{
	char txt[512];

	snprintf(txt, sizeof(txt), "{\"typ\":\"JWT\",\"alg\":\"%s\"%s%s%s%s%s%s}",
	    alg, with_x5t ? ",\"x5t#S256\":\"" : "", with_x5t ? s->x5t : "",
	    with_x5t ? "\"" : "", with_kid ? ",\"kid\":\"" : "",
	    with_kid ? s->kid : "", with_kid ? "\"" : "");
	return b64url_str(txt);
}

/*
 * Verifies with ra_jws_verify() and with a per-thread verifier (twice:
 * cold, then with the header cached) and insists all three agree, so
 * every test below also shows the fast path equals the reference.
 */
static enum ra_jws_status
check(const struct ra_trust *t, const char *prot, const char *sig)
{
	char detail[256];
	enum ra_jws_status r, rv;
	X509 *who = NULL, *whov;
	struct ra_jws_verifier *v = ra_jws_verifier_new(t);

	ck_assert_ptr_nonnull(v);
	r = ra_jws_verify(t, prot, strlen(prot), payload, strlen(payload),
	    sig, strlen(sig), &who, detail, sizeof(detail));
	if (r != RA_JWS_OK) {
		ck_assert(detail[0] != '\0');
		ck_assert_ptr_null(who);
	} else {
		ck_assert_ptr_nonnull(who);
	}
	for (int pass = 0; pass < 2; pass++) {
		whov = (X509 *)1;
		rv = ra_jws_verifier_verify(v, prot, strlen(prot), payload,
		    strlen(payload), sig, strlen(sig), &whov, detail,
		    sizeof(detail));
		ck_assert_int_eq(rv, r);
		ck_assert_ptr_eq(whov, who);
		if (rv != RA_JWS_OK)
			ck_assert(detail[0] != '\0');
	}
	ra_jws_verifier_free(v);
	return r;
}

static enum ra_jws_status
roundtrip(const char *type, const char *param, const char *alg,
    const char *md, size_t nlen, int pss)
{
	struct signer s;
	struct ra_trust *t = ra_trust_new();
	char err[256], *prot, *sig;
	enum ra_jws_status r;

	signer_make(&s, type, param);
	ck_assert(ra_trust_add_manifest_signer(t, s.cert, err, sizeof(err)));
	prot = header(alg, &s, 1, 1);
	sig = sign(&s, prot, md, nlen, pss);
	r = check(t, prot, sig);
	free(prot);
	free(sig);
	signer_free(&s);
	ra_trust_free(t);
	return r;
}

START_TEST(test_algs)
{
	ck_assert_int_eq(roundtrip("EC", "P-256", "ES256", "SHA256", 32, 0),
	    RA_JWS_OK);
	ck_assert_int_eq(roundtrip("EC", "P-384", "ES384", "SHA384", 48, 0),
	    RA_JWS_OK);
	ck_assert_int_eq(roundtrip("EC", "P-521", "ES512", "SHA512", 66, 0),
	    RA_JWS_OK);
	ck_assert_int_eq(roundtrip("RSA", NULL, "RS256", "SHA256", 0, 0),
	    RA_JWS_OK);
	ck_assert_int_eq(roundtrip("RSA", NULL, "PS256", "SHA256", 0, 1),
	    RA_JWS_OK);
}
END_TEST

START_TEST(test_alg_key_mismatch)
{
	/* ES384 named, P-256 key: refused before any maths. */
	ck_assert_int_eq(roundtrip("EC", "P-256", "ES384", "SHA384", 48, 0),
	    RA_JWS_BAD_SIGNATURE);
	ck_assert_int_eq(roundtrip("EC", "P-256", "RS256", "SHA256", 32, 0),
	    RA_JWS_BAD_SIGNATURE);
	/* RS256 named, PSS signature. */
	ck_assert_int_eq(roundtrip("RSA", NULL, "RS256", "SHA256", 0, 1),
	    RA_JWS_BAD_SIGNATURE);
}
END_TEST

struct fixture {
	struct signer	 s;
	struct ra_trust	*t;
};

static void
fixture_make(struct fixture *f)
{
	char err[256];

	signer_make(&f->s, "EC", "P-256");
	f->t = ra_trust_new();
	ck_assert(ra_trust_add_manifest_signer(f->t, f->s.cert, err,
	    sizeof(err)));
}

static void
fixture_free(struct fixture *f)
{
	signer_free(&f->s);
	ra_trust_free(f->t);
}

START_TEST(test_signer_lookup)
{
	struct fixture f;
	struct signer other;
	char *prot, *sig;

	fixture_make(&f);
	/* kid alone finds the signer. */
	prot = header("ES256", &f.s, 0, 1);
	sig = sign(&f.s, prot, "SHA256", 32, 0);
	ck_assert_int_eq(check(f.t, prot, sig), RA_JWS_OK);
	free(prot);
	free(sig);
	/* Neither: bad header.  Unknown signer: unknown. */
	prot = header("ES256", &f.s, 0, 0);
	ck_assert_int_eq(check(f.t, prot, "AAAA"), RA_JWS_BAD_HEADER);
	free(prot);
	signer_make(&other, "EC", "P-256");
	prot = header("ES256", &other, 1, 1);
	sig = sign(&other, prot, "SHA256", 32, 0);
	ck_assert_int_eq(check(f.t, prot, sig), RA_JWS_UNKNOWN_SIGNER);
	free(prot);
	free(sig);
	signer_free(&other);
	fixture_free(&f);
}
END_TEST

START_TEST(test_bad_signatures)
{
	struct fixture f;
	char *prot, *sig, *der;
	unsigned char raw[64];
	size_t n;
	unsigned char *dec;

	fixture_make(&f);
	prot = header("ES256", &f.s, 1, 0);
	sig = sign(&f.s, prot, "SHA256", 32, 0);
	/* DER instead of raw r||s: wrong length. */
	der = sign(&f.s, prot, "SHA256", 0, 0);
	ck_assert_int_eq(check(f.t, prot, der), RA_JWS_BAD_SIGNATURE);
	/* One bit flipped. */
	dec = b64url_decode(sig, strlen(sig), &n);
	ck_assert_uint_eq(n, 64);
	memcpy(raw, dec, 64);
	raw[10] ^= 1;
	free(dec);
	free(der);
	der = b64url_encode(raw, 64, NULL);
	ck_assert_int_eq(check(f.t, prot, der), RA_JWS_BAD_SIGNATURE);
	/* Empty, padded, non-alphabet, truncated. */
	ck_assert_int_eq(check(f.t, prot, ""), RA_JWS_BAD_SIGNATURE);
	ck_assert_int_eq(check(f.t, prot, "AAAA=="), RA_JWS_BAD_SIGNATURE);
	ck_assert_int_eq(check(f.t, prot, "A+/A"), RA_JWS_BAD_SIGNATURE);
	sig[strlen(sig) - 3] = '\0';
	ck_assert_int_eq(check(f.t, prot, sig), RA_JWS_BAD_SIGNATURE);
	/* r = 0 and s = 0. */
	memset(raw, 0, sizeof(raw));
	free(der);
	der = b64url_encode(raw, 64, NULL);
	ck_assert_int_eq(check(f.t, prot, der), RA_JWS_BAD_SIGNATURE);
	free(der);
	free(sig);
	free(prot);
	fixture_free(&f);
}
END_TEST

START_TEST(test_bad_headers)
{
	static const char *hdrs[] = {
		"[]", "1", "not json", "{\"alg\":5}", "{}",
		"{\"alg\":\"ES256\",\"alg\":\"ES256\"}",
		"{\"alg\":\"ES256\",\"x5t#S256\":7}",
		"{\"alg\":\"ES256\",\"x5t#S256\":\"AAAA\"}",
		"{\"alg\":\"ES256\",\"kid\":\"\"}",
		"{\"alg\":\"ES256\",\"kid\":\"a=\"}",
		"{\"alg\":\"ES256\\u0000\"}",	/* jansson refuses NUL */
	};
	struct fixture f;
	char *prot;

	fixture_make(&f);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		prot = b64url_str(hdrs[i]);
		ck_assert_msg(check(f.t, prot, "AAAA") == RA_JWS_BAD_HEADER,
		    "%s", hdrs[i]);
		free(prot);
	}
	ck_assert_int_eq(check(f.t, "e30=", "AAAA"), RA_JWS_BAD_HEADER);
	ck_assert_int_eq(check(f.t, "", "AAAA"), RA_JWS_BAD_HEADER);
	ck_assert_int_eq(check(f.t, "e30!", "AAAA"), RA_JWS_BAD_HEADER);
	fixture_free(&f);
}
END_TEST

START_TEST(test_unsupported_algs)
{
	static const char *algs[] = { "none", "HS256", "ES256K", "EdDSA",
	    "es256", "ES256 ", "\\n" };
	struct fixture f;
	char txt[256], *prot;

	fixture_make(&f);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(txt, sizeof(txt), "{\"alg\":\"%s\",\"x5t#S256\":"
		    "\"%s\"}", algs[i], f.s.x5t);
		prot = b64url_str(txt);
		ck_assert_msg(check(f.t, prot, "") == RA_JWS_UNSUPPORTED_ALG,
		    "%s", algs[i]);
		free(prot);
	}
	snprintf(txt, sizeof(txt), "{\"alg\":\"ES256\",\"crit\":[\"b64\"],"
	    "\"b64\":false,\"x5t#S256\":\"%s\"}", f.s.x5t);
	prot = b64url_str(txt);
	ck_assert_int_eq(check(f.t, prot, "AAAA"), RA_JWS_UNSUPPORTED_ALG);
	free(prot);
	fixture_free(&f);
}
END_TEST

START_TEST(test_signing_input_exact)
{
	/* The signature covers the encoded strings, not decoded JSON. */
	struct fixture f;
	char *prot, *sig, detail[128];
	const char other[] = "eyJ1bmlxdWVJZCI6IjAxMjMifR";

	fixture_make(&f);
	prot = header("ES256", &f.s, 1, 0);
	sig = sign(&f.s, prot, "SHA256", 32, 0);
	ck_assert_int_eq(ra_jws_verify(f.t, prot, strlen(prot), other,
	    strlen(other), sig, strlen(sig), NULL, detail, sizeof(detail)),
	    RA_JWS_BAD_SIGNATURE);
	free(prot);
	free(sig);
	fixture_free(&f);
}
END_TEST

START_TEST(test_raw_der_conversion)
{
	unsigned char raw[64], back[64], *der;
	size_t derlen;

	for (size_t i = 0; i < 64; i++)
		raw[i] = (unsigned char)(i < 5 ? 0 : i);
	der = ra_jws_ecdsa_raw_to_der(raw, 64, &derlen);
	ck_assert_ptr_nonnull(der);
	ck_assert(ra_jws_ecdsa_der_to_raw(der, derlen, 32, back));
	ck_assert_mem_eq(raw, back, 64);
	/* r does not fit in 16 bytes. */
	ck_assert(!ra_jws_ecdsa_der_to_raw(der, derlen, 16, back));
	ck_assert(!ra_jws_ecdsa_der_to_raw(der, derlen - 1, 32, back));
	OPENSSL_free(der);
	ck_assert_ptr_null(ra_jws_ecdsa_raw_to_der(raw, 63, &derlen));
	ck_assert_ptr_null(ra_jws_ecdsa_raw_to_der(raw, 0, &derlen));
}
END_TEST

/* The allocation-free DER encoder gives i2d_ECDSA_SIG's bytes. */
START_TEST(test_raw_der_buf)
{
	unsigned char raw[132], der[RA_JWS_ECDSA_DER_MAX], *ref;
	size_t n, refn;
	static const size_t sizes[] = { 32, 48, 66 };

	for (size_t z = 0; z < 3; z++) {
		for (int i = 0; i < 200; i++) {
			size_t nl = sizes[z];

			RAND_bytes(raw, (int)(2 * nl));
			/* Leading zeros, high bits, zero values. */
			if (i % 4 == 1)
				memset(raw, 0, (size_t)(i % nl) + 1);
			if (i % 4 == 2)
				raw[nl] |= 0x80;
			if (i == 3)
				memset(raw, 0, 2 * nl);
			n = ra_jws_ecdsa_raw_to_der_buf(raw, 2 * nl, der);
			ref = ra_jws_ecdsa_raw_to_der(raw, 2 * nl, &refn);
			ck_assert_ptr_nonnull(ref);
			ck_assert_uint_eq(n, refn);
			ck_assert(memcmp(der, ref, n) == 0);
			OPENSSL_free(ref);
		}
	}
	ck_assert_uint_eq(ra_jws_ecdsa_raw_to_der_buf(raw, 0, der), 0);
	ck_assert_uint_eq(ra_jws_ecdsa_raw_to_der_buf(raw, 63, der), 0);
	ck_assert_uint_eq(ra_jws_ecdsa_raw_to_der_buf(raw, 134, der), 0);
}
END_TEST

/* One verifier across several headers and signers (cache eviction). */
START_TEST(test_verifier_many_headers)
{
	struct signer s[6];
	struct ra_trust *t = ra_trust_new();
	struct ra_jws_verifier *v = ra_jws_verifier_new(t);
	char err[256], detail[256], *prot[6], *sig[6];
	X509 *who;

	for (int i = 0; i < 6; i++) {
		signer_make(&s[i], "EC", i % 2 ? "P-384" : "P-256");
		ck_assert(ra_trust_add_manifest_signer(t, s[i].cert, err,
		    sizeof(err)));
		prot[i] = header(i % 2 ? "ES384" : "ES256", &s[i], 1, 0);
		sig[i] = sign(&s[i], prot[i], i % 2 ? "SHA384" : "SHA256",
		    i % 2 ? 48 : 32, 0);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 6; i++) {
			ck_assert_int_eq(ra_jws_verifier_verify(v, prot[i],
			    strlen(prot[i]), payload, strlen(payload), sig[i],
			    strlen(sig[i]), &who, detail, sizeof(detail)),
			    RA_JWS_OK);
			ck_assert_ptr_eq(who, s[i].cert);
			/* Another signer's signature never passes. */
			ck_assert_int_eq(ra_jws_verifier_verify(v, prot[i],
			    strlen(prot[i]), payload, strlen(payload),
			    sig[(i + 2) % 6], strlen(sig[(i + 2) % 6]), &who,
			    detail, sizeof(detail)), RA_JWS_BAD_SIGNATURE);
		}
	}
	for (int i = 0; i < 6; i++) {
		free(prot[i]);
		free(sig[i]);
		signer_free(&s[i]);
	}
	ra_jws_verifier_free(v);
	ra_jws_verifier_free(NULL);
	ra_trust_free(t);
}
END_TEST

static Suite *
jws_suite(void)
{
	Suite *s = suite_create("jws");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");

	tcase_set_timeout(core, 30);
	tcase_add_test(core, test_algs);
	tcase_add_test(core, test_signer_lookup);
	tcase_add_test(core, test_signing_input_exact);
	tcase_add_test(core, test_raw_der_conversion);
	tcase_add_test(core, test_raw_der_buf);
	tcase_add_test(core, test_verifier_many_headers);
	tcase_add_test(lim, test_alg_key_mismatch);
	tcase_add_test(lim, test_bad_signatures);
	tcase_add_test(lim, test_bad_headers);
	tcase_add_test(lim, test_unsupported_algs);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(jws_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
