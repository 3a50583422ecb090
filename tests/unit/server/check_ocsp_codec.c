/*
 * check_ocsp_codec.c - unit tests for server/proto/ocsp.c.
 *
 * Requests are made in-process with OpenSSL's client API
 * (OCSP_request_add0_id, OCSP_request_add1_nonce) against a throwaway CA;
 * hostile inputs are derived from them (truncations, trailing bytes,
 * flipped octets) plus hand-made garbage.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "server/proto/ocsp.h"

#define MAXREQ	65536

static EVP_PKEY *ca_key;
static X509 *ca;

static void
setup(void)
{
	X509_NAME *n;

	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(ca_key);
	ca = X509_new();
	n = X509_get_subject_name(ca);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Codec CA", -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(ca, n), 1);
	ck_assert_int_eq(X509_set_pubkey(ca, ca_key), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(ca), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(ca), 3600));
	ck_assert_int_gt(X509_sign(ca, ca_key, EVP_sha256()), 0);
}

static void
teardown(void)
{
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static OCSP_CERTID *
certid(const EVP_MD *md, long serial)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	OCSP_CERTID *id;

	ck_assert_int_eq(ASN1_INTEGER_set(ai, serial), 1);
	id = OCSP_cert_id_new(md, X509_get_subject_name(ca),
	    X509_get0_pubkey_bitstr(ca), ai);
	ck_assert_ptr_nonnull(id);
	ASN1_INTEGER_free(ai);
	return id;
}

/* DER of req (malloc'd); frees req. */
static unsigned char *
req_der(OCSP_REQUEST *req, size_t *len)
{
	unsigned char *der = NULL, *p;
	int l = i2d_OCSP_REQUEST(req, NULL);

	ck_assert_int_gt(l, 0);
	der = malloc((size_t)l);
	p = der;
	ck_assert_int_eq(i2d_OCSP_REQUEST(req, &p), l);
	OCSP_REQUEST_free(req);
	*len = (size_t)l;
	return der;
}

/* Request with n CertIDs, alternating SHA-1 / SHA-256, serials 1000+i. */
static unsigned char *
make_req(int n, int nonce_len, size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();

	for (int i = 0; i < n; i++)
		ck_assert_ptr_nonnull(OCSP_request_add0_id(req,
		    certid(i % 2 ? EVP_sha256() : EVP_sha1(), 1000 + i)));
	if (nonce_len > 0)
		ck_assert_int_eq(OCSP_request_add1_nonce(req, NULL,
		    nonce_len), 1);
	return req_der(req, len);
}

static void
check_id(const struct ocsp_certid *id, const EVP_MD *md, long serial)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl;

	ck_assert_int_eq(id->hash_nid, EVP_MD_get_type(md));
	ck_assert_int_eq(X509_NAME_digest(X509_get_subject_name(ca), md, h,
	    &hl), 1);
	ck_assert_uint_eq(id->name_hash_len, hl);
	ck_assert_int_eq(memcmp(id->name_hash, h, hl), 0);
	ck_assert_int_eq(X509_pubkey_digest(ca, md, h, &hl), 1);
	ck_assert_uint_eq(id->key_hash_len, hl);
	ck_assert_int_eq(memcmp(id->key_hash, h, hl), 0);
	ck_assert_uint_eq(id->serial_len, 2);
	ck_assert_int_eq(id->serial[0], (serial >> 8) & 0xff);
	ck_assert_int_eq(id->serial[1], serial & 0xff);
	ck_assert_int_eq(id->serial_der[0], 0x02);
}

/* ---- Core ------------------------------------------------------------ */

START_TEST(test_single_sha1_no_nonce)
{
	struct ocsp_request r;
	size_t len;
	unsigned char *der = make_req(1, 0, &len);
	char why[128];

	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, why,
	    sizeof(why)), OCSP_CODEC_OK);
	ck_assert_uint_eq(r.nids, 1);
	check_id(&r.ids[0], EVP_sha1(), 1000);
	ck_assert_int_eq(r.has_nonce, 0);
	ck_assert_int_eq(r.is_signed, 0);
	ocsp_request_clear(&r);
	ocsp_request_clear(&r);		/* idempotent */
	free(der);
}
END_TEST

START_TEST(test_multi_with_nonce)
{
	struct ocsp_request r;
	size_t len;
	unsigned char *der = make_req(5, 16, &len);

	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_uint_eq(r.nids, 5);
	for (int i = 0; i < 5; i++)
		check_id(&r.ids[i], i % 2 ? EVP_sha256() : EVP_sha1(),
		    1000 + i);
	ck_assert_int_eq(r.has_nonce, 1);
	ck_assert_uint_eq(r.nonce_len, 16);
	ck_assert_uint_eq(r.nonce_ext_len, 18);
	ck_assert_int_eq(r.nonce_ext[0], 0x04);
	ck_assert_int_eq(memcmp(r.nonce_ext + 2, r.nonce, 16), 0);
	ocsp_request_clear(&r);
	free(der);
}
END_TEST

START_TEST(test_nonce_given_bytes)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char nonce[32], *der;
	struct ocsp_request r;
	size_t len;

	for (int i = 0; i < 32; i++)
		nonce[i] = (unsigned char)(0xa0 + i);
	ck_assert_ptr_nonnull(OCSP_request_add0_id(req, certid(EVP_sha256(),
	    0x1234)));
	ck_assert_int_eq(OCSP_request_add1_nonce(req, nonce, 32), 1);
	der = req_der(req, &len);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_uint_eq(r.nonce_len, 32);
	ck_assert_int_eq(memcmp(r.nonce, nonce, 32), 0);
	ocsp_request_clear(&r);
	free(der);
}
END_TEST

START_TEST(test_odd_serials)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct ocsp_request r;
	unsigned char *der;
	size_t len;

	/* Negative and zero serials parse but can never be ours. */
	ck_assert_ptr_nonnull(OCSP_request_add0_id(req, certid(EVP_sha1(),
	    -5)));
	ck_assert_ptr_nonnull(OCSP_request_add0_id(req, certid(EVP_sha1(),
	    0)));
	ck_assert_ptr_nonnull(OCSP_request_add0_id(req, certid(EVP_sha1(),
	    0x80)));
	der = req_der(req, &len);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_uint_eq(r.ids[0].serial_len, 0);
	ck_assert_uint_eq(r.ids[1].serial_len, 0);
	ck_assert_uint_eq(r.ids[2].serial_len, 1);
	ck_assert_int_eq(r.ids[2].serial[0], 0x80);
	/* The INTEGER as sent: 02 02 00 80. */
	ck_assert_uint_eq(r.ids[2].serial_der_len, 4);
	ck_assert_int_eq(r.ids[2].serial_der[2], 0);
	ocsp_request_clear(&r);
	free(der);
}
END_TEST

/* Percent-encodes every '/', '+', '=' (upper or lower hex) and, with
 * strip, drops the padding. */
static char *
get_form(const unsigned char *der, size_t len, int lower, int strip)
{
	char *b = b64_encode(der, len, 0, NULL), *out;
	size_t o = 0;

	ck_assert_ptr_nonnull(b);
	out = malloc(strlen(b) * 3 + 1);
	for (const char *p = b; *p != '\0'; p++) {
		const char *esc = NULL;

		if (*p == '/')
			esc = lower ? "%2f" : "%2F";
		else if (*p == '+')
			esc = lower ? "%2b" : "%2B";
		else if (*p == '=') {
			if (strip)
				continue;
			esc = "%3D";
		}
		if (esc != NULL) {
			memcpy(out + o, esc, 3);
			o += 3;
		} else
			out[o++] = *p;
	}
	out[o] = '\0';
	free(b);
	return out;
}

START_TEST(test_get_form)
{
	size_t len, dl;
	unsigned char *der = NULL, *got;
	struct ocsp_request r;
	int found_special = 0;

	/* Find a request whose base64 holds '/', '+' and padding. */
	for (int tries = 0; tries < 200 && !found_special; tries++) {
		char *b;

		free(der);
		der = make_req(2, 16, &len);
		b = b64_encode(der, len, 0, NULL);
		found_special = strchr(b, '/') && strchr(b, '+') &&
		    strchr(b, '=');
		free(b);
	}
	ck_assert_int_eq(found_special, 1);
	for (int v = 0; v < 4; v++) {
		char *g = get_form(der, len, v & 1, v & 2);

		ck_assert_int_eq(ocsp_get_decode(g, strlen(g), MAXREQ, &got,
		    &dl, NULL, 0), OCSP_CODEC_OK);
		ck_assert_uint_eq(dl, len);
		ck_assert_int_eq(memcmp(got, der, len), 0);
		free(got);
		ck_assert_int_eq(ocsp_request_parse_get(g, strlen(g), MAXREQ,
		    &r, NULL, 0), OCSP_CODEC_OK);
		ck_assert_uint_eq(r.nids, 2);
		ck_assert_int_eq(r.has_nonce, 1);
		ocsp_request_clear(&r);
		free(g);
	}
	/* Raw (unescaped) '/' and '+' are fine too. */
	{
		char *b = b64_encode(der, len, 0, NULL);

		ck_assert_int_eq(ocsp_request_parse_get(b, strlen(b), MAXREQ,
		    &r, NULL, 0), OCSP_CODEC_OK);
		ocsp_request_clear(&r);
		free(b);
	}
	free(der);
}
END_TEST

START_TEST(test_error_responses)
{
	static const enum ocsp_resp_status st[] = { OCSP_ST_MALFORMED_REQUEST,
	    OCSP_ST_INTERNAL_ERROR, OCSP_ST_TRY_LATER, OCSP_ST_SIG_REQUIRED,
	    OCSP_ST_UNAUTHORIZED };

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		size_t len;
		const unsigned char *d = ocsp_error_response(st[i], &len), *q;
		OCSP_RESPONSE *resp;

		ck_assert_ptr_nonnull(d);
		q = d;
		resp = d2i_OCSP_RESPONSE(NULL, &q, (long)len);
		ck_assert_ptr_nonnull(resp);
		ck_assert_ptr_eq(q, d + len);
		ck_assert_int_eq(OCSP_response_status(resp), (int)st[i]);
		ck_assert_ptr_null(OCSP_response_get1_basic(resp));
		OCSP_RESPONSE_free(resp);
	}
	{
		size_t len = 9;

		ck_assert_ptr_null(ocsp_error_response(0, &len));
		ck_assert_uint_eq(len, 0);
		ck_assert_ptr_null(ocsp_error_response(4, &len));
		ck_assert_ptr_null(ocsp_error_response(7, &len));
		ck_assert_ptr_null(ocsp_error_response(-1, &len));
	}
	ck_assert_int_eq(ocsp_codec_err_status(OCSP_CODEC_MALFORMED),
	    OCSP_ST_MALFORMED_REQUEST);
	ck_assert_int_eq(ocsp_codec_err_status(OCSP_CODEC_TOO_MANY),
	    OCSP_ST_MALFORMED_REQUEST);
	ck_assert_int_eq(ocsp_codec_err_status(OCSP_CODEC_NOMEM),
	    OCSP_ST_INTERNAL_ERROR);
}
END_TEST

/* ---- Limits ---------------------------------------------------------- */

static void
expect_err(const unsigned char *d, size_t len, size_t max, int want)
{
	struct ocsp_request r;
	char why[128] = "";

	memset(&r, 0x5a, sizeof(r));
	ck_assert_int_eq(ocsp_request_parse(d, len, max, &r, why,
	    sizeof(why)), want);
	ck_assert_ptr_null(r.ids);
	ck_assert_uint_eq(r.nids, 0);
	ck_assert_msg(strlen(why) > 0 && strcmp(why, "ok") != 0, "no reason");
}

START_TEST(test_garbage)
{
	static const unsigned char junk[] = "GET / HTTP/1.1\r\n\r\n";
	static const unsigned char empty_seq[] = { 0x30, 0x00 };
	static const unsigned char huge_len[] = { 0x30, 0x84, 0x7f, 0xff,
	    0xff, 0xff, 0x30 };
	size_t len;
	unsigned char *der = make_req(3, 16, &len), *cp;

	expect_err(junk, sizeof(junk) - 1, MAXREQ, OCSP_CODEC_MALFORMED);
	expect_err(empty_seq, sizeof(empty_seq), MAXREQ, OCSP_CODEC_MALFORMED);
	expect_err(huge_len, sizeof(huge_len), MAXREQ, OCSP_CODEC_MALFORMED);
	expect_err(NULL, 0, MAXREQ, OCSP_CODEC_MALFORMED);
	expect_err(der, 0, MAXREQ, OCSP_CODEC_MALFORMED);
	/* Every truncation fails. */
	for (size_t l = 1; l < len; l++)
		expect_err(der, l, MAXREQ, OCSP_CODEC_MALFORMED);
	/* Trailing garbage fails. */
	cp = malloc(len + 1);
	memcpy(cp, der, len);
	cp[len] = 0;
	expect_err(cp, len + 1, MAXREQ, OCSP_CODEC_MALFORMED);
	/* Oversized for the caller's cap. */
	expect_err(der, len, len - 1, OCSP_CODEC_TOO_LARGE);
	/* Single octet flips: never a crash; either an error or a parse. */
	for (size_t i = 0; i < len; i++) {
		struct ocsp_request r;

		memcpy(cp, der, len);
		cp[i] ^= 0xff;
		if (ocsp_request_parse(cp, len, MAXREQ, &r, NULL, 0) ==
		    OCSP_CODEC_OK)
			ocsp_request_clear(&r);
	}
	free(cp);
	free(der);
}
END_TEST

START_TEST(test_too_many)
{
	size_t len;
	unsigned char *der;
	struct ocsp_request r;

	der = make_req(OCSP_REQ_MAX_SINGLE, 0, &len);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_uint_eq(r.nids, OCSP_REQ_MAX_SINGLE);
	ocsp_request_clear(&r);
	free(der);
	der = make_req(OCSP_REQ_MAX_SINGLE + 1, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_TOO_MANY);
	free(der);
	/* An empty requestList. */
	der = make_req(0, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
}
END_TEST

static unsigned char *
req_with_ext(int nid, int crit, const unsigned char *v, int vlen, int twice,
    size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	ck_assert_ptr_nonnull(OCSP_request_add0_id(req, certid(EVP_sha1(),
	    77)));
	ck_assert_int_eq(ASN1_OCTET_STRING_set(os, v, vlen), 1);
	ext = X509_EXTENSION_create_by_NID(NULL, nid, crit, os);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	if (twice)
		ck_assert_int_eq(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	return req_der(req, len);
}

START_TEST(test_bad_nonce_and_exts)
{
	unsigned char v[40], *der;
	size_t len;
	struct ocsp_request r;

	memset(v, 0x11, sizeof(v));
	/* Nonce not wrapped in an OCTET STRING (RFC 8954). */
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 0, v, 16, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	/* 33 octets: over RFC 8954's 32. */
	v[0] = 0x04;
	v[1] = 33;
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 0, v, 35, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	/* Empty nonce. */
	v[1] = 0;
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 0, v, 2, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	/* Inner length disagreeing with the outer one. */
	v[1] = 10;
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 0, v, 8, 0, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	/* Two nonces. */
	v[1] = 8;
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 0, v, 10, 1, &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	/* Unknown critical extension refused, non-critical ignored. */
	der = req_with_ext(NID_id_pkix_OCSP_acceptableResponses, 1, v, 10, 0,
	    &len);
	expect_err(der, len, MAXREQ, OCSP_CODEC_MALFORMED);
	free(der);
	der = req_with_ext(NID_id_pkix_OCSP_acceptableResponses, 0, v, 10, 0,
	    &len);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_int_eq(r.has_nonce, 0);
	ocsp_request_clear(&r);
	free(der);
}
END_TEST

START_TEST(test_unknown_hash_alg)
{
	/* CertID with hashAlgorithm 1.2.3.4 (not a digest OpenSSL knows). */
	static const unsigned char der[] = {
		0x30, 0x20, 0x30, 0x1e, 0x30, 0x1c, 0x30, 0x1a, 0x30, 0x18,
		0x30, 0x07, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x05, 0x00,
		0x04, 0x04, 1, 2, 3, 4,
		0x04, 0x04, 5, 6, 7, 8,
		0x02, 0x01, 0x09,
	};
	struct ocsp_request r;
	char why[128];

	expect_err(der, sizeof(der), MAXREQ, OCSP_CODEC_MALFORMED);
	ocsp_request_parse(der, sizeof(der), MAXREQ, &r, why, sizeof(why));
	ck_assert_ptr_nonnull(strstr(why, "hash algorithm"));
	/* Same bytes with SHA-1's OID (1.3.14.3.2.26) parse. */
	{
		static const unsigned char sha1_body[] = {
			0x30, 0x22, 0x30, 0x20, 0x30, 0x1e, 0x30, 0x1c,
			0x30, 0x1a, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
			0x05, 0x00,
			0x04, 0x04, 1, 2, 3, 4,
			0x04, 0x04, 5, 6, 7, 8,
			0x02, 0x01, 0x09,
		};

		ck_assert_int_eq(ocsp_request_parse(sha1_body,
		    sizeof(sha1_body), MAXREQ, &r, NULL, 0), OCSP_CODEC_OK);
		ck_assert_int_eq(r.ids[0].hash_nid, NID_sha1);
		ck_assert_uint_eq(r.ids[0].name_hash_len, 4);
		ck_assert_uint_eq(r.ids[0].serial_len, 1);
		ck_assert_int_eq(r.ids[0].serial[0], 9);
		ocsp_request_clear(&r);
	}
}
END_TEST

START_TEST(test_get_bad)
{
	static const char *const bad[] = {
		"%", "%2", "%G0", "%0g", "MEU*", "MEUwQz",	/* 6 % 4 != 1 */
		"M", "MEUwQ", "====", "MA%3D%3D%3D", "ME U", "MEU\n",
	};
	unsigned char *der = (unsigned char *)1;
	size_t len = 7;
	char why[128];
	struct ocsp_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ocsp_get_decode(bad[i], strlen(bad[i]), MAXREQ, &der,
		    &len, why, sizeof(why));

		if (rc == OCSP_CODEC_OK) {
			/* decodable base64 must then fail as a request */
			ck_assert_int_ne(ocsp_request_parse(der, len, MAXREQ,
			    &r, NULL, 0), OCSP_CODEC_OK);
			free(der);
			continue;
		}
		ck_assert_ptr_null(der);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_int_eq(ocsp_get_decode("", 0, MAXREQ, &der, &len, NULL, 0),
	    OCSP_CODEC_MALFORMED);
	ck_assert_int_eq(ocsp_get_decode(NULL, 5, MAXREQ, &der, &len, NULL,
	    0), OCSP_CODEC_MALFORMED);
	/* Over the cap, before or after decoding. */
	{
		size_t n = 5000;
		char *big = malloc(n);

		memset(big, 'A', n);
		ck_assert_int_eq(ocsp_get_decode(big, n, 100, &der, &len, NULL,
		    0), OCSP_CODEC_TOO_LARGE);
		ck_assert_int_eq(ocsp_get_decode(big, 200, 100, &der, &len,
		    NULL, 0), OCSP_CODEC_TOO_LARGE);
		ck_assert_int_eq(ocsp_request_parse_get(big, n, 100, &r, NULL,
		    0), OCSP_CODEC_TOO_LARGE);
		ck_assert_ptr_null(r.ids);
		free(big);
	}
}
END_TEST


/* ---- Fast walker against the OpenSSL path ---------------------------- */

/* Same decoded request, field by field (the structs hold padding). */
static void
same_req(const struct ocsp_request *a, const struct ocsp_request *b)
{
	ck_assert_uint_eq(a->nids, b->nids);
	for (size_t i = 0; i < a->nids; i++) {
		const struct ocsp_certid *x = &a->ids[i], *y = &b->ids[i];

		ck_assert_int_eq(x->hash_nid, y->hash_nid);
		ck_assert_uint_eq(x->name_hash_len, y->name_hash_len);
		ck_assert_int_eq(memcmp(x->name_hash, y->name_hash,
		    x->name_hash_len), 0);
		ck_assert_uint_eq(x->key_hash_len, y->key_hash_len);
		ck_assert_int_eq(memcmp(x->key_hash, y->key_hash,
		    x->key_hash_len), 0);
		ck_assert_uint_eq(x->serial_len, y->serial_len);
		ck_assert_int_eq(memcmp(x->serial, y->serial, x->serial_len),
		    0);
		ck_assert_uint_eq(x->serial_der_len, y->serial_der_len);
		ck_assert_int_eq(memcmp(x->serial_der, y->serial_der,
		    x->serial_der_len), 0);
	}
	ck_assert_int_eq(a->has_nonce, b->has_nonce);
	ck_assert_uint_eq(a->nonce_ext_len, b->nonce_ext_len);
	ck_assert_int_eq(memcmp(a->nonce_ext, b->nonce_ext, a->nonce_ext_len),
	    0);
	ck_assert_uint_eq(a->nonce_len, b->nonce_len);
	ck_assert_int_eq(memcmp(a->nonce, b->nonce, a->nonce_len), 0);
	ck_assert_int_eq(a->is_signed, b->is_signed);
}

/*
 * The fast walker never accepts what the OpenSSL path refuses, and when
 * it accepts, both decode the same.  Returns what the walker said.
 */
static int
agree(const unsigned char *d, size_t len)
{
	struct ocsp_request f, o;
	int fr, orc;

	memset(&f, 0x5a, sizeof(f));
	fr = ocsp_request_parse_fast(d, len, &f);
	if (!fr) {
		ck_assert_ptr_null(f.ids);
		ck_assert_uint_eq(f.nids, 0);
		ck_assert_int_eq(f.has_nonce, 0);
		return 0;
	}
	orc = ocsp_request_parse_openssl(d, len, MAXREQ, &o, NULL, 0);
	ck_assert_msg(orc == OCSP_CODEC_OK, "fast path accepted what "
	    "OpenSSL refuses (%zu octets)", len);
	same_req(&f, &o);
	ocsp_request_clear(&o);
	ocsp_request_clear(&f);
	return 1;
}

START_TEST(test_fast_common_shapes)
{
	static const int shapes[][2] = { { 1, 0 }, { 1, 16 }, { 1, 32 },
	    { 2, 1 }, { 7, 0 }, { OCSP_REQ_MAX_SINGLE, 20 } };
	unsigned char *der;
	size_t len;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		der = make_req(shapes[i][0], shapes[i][1], &len);
		ck_assert_msg(agree(der, len), "shape %zu not on the fast "
		    "path", i);
		free(der);
	}
	/* Odd serials (negative, zero, 0x80 with its padding octet). */
	{
		OCSP_REQUEST *req = OCSP_REQUEST_new();
		static const long ser[] = { -5, 0, 0x80, -0x80, 0x7f, 1 };

		for (size_t i = 0; i < sizeof(ser) / sizeof(ser[0]); i++)
			ck_assert_ptr_nonnull(OCSP_request_add0_id(req,
			    certid(EVP_sha256(), ser[i])));
		der = req_der(req, &len);
		ck_assert_int_eq(agree(der, len), 1);
		free(der);
	}
	/* Long serial: 20 octets (ours at most) and 21 (never ours). */
	for (int sl = 19; sl <= 22; sl++) {
		OCSP_REQUEST *req = OCSP_REQUEST_new();
		BIGNUM *bn = BN_new();
		ASN1_INTEGER *ai;
		OCSP_CERTID *id;
		struct ocsp_request r;

		ck_assert_int_eq(BN_set_word(bn, 0x55), 1);
		ck_assert_int_eq(BN_lshift(bn, bn, (sl - 1) * 8), 1);
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca),
		    X509_get0_pubkey_bitstr(ca), ai);
		ck_assert_ptr_nonnull(OCSP_request_add0_id(req, id));
		der = req_der(req, &len);
		ck_assert_int_eq(agree(der, len), 1);
		ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r,
		    NULL, 0), OCSP_CODEC_OK);
		ck_assert_uint_eq(r.ids[0].serial_len, sl <= 20 ? sl : 0);
		ocsp_request_clear(&r);
		ASN1_INTEGER_free(ai);
		BN_free(bn);
		free(der);
	}
}
END_TEST

/* Shapes the walker leaves to OpenSSL, which must still decode them. */
START_TEST(test_fast_declines)
{
	unsigned char *der, v[12];
	size_t len;
	struct ocsp_request r;
	OCSP_REQUEST *req;

	/* A signed request (optionalSignature). */
	{
		EVP_PKEY *k = ca_key;

		req = OCSP_REQUEST_new();
		ck_assert_ptr_nonnull(OCSP_request_add0_id(req,
		    certid(EVP_sha1(), 5)));
		ck_assert_int_eq(OCSP_request_sign(req, ca, k, EVP_sha256(),
		    NULL, 0), 1);
		der = req_der(req, &len);
		ck_assert_int_eq(agree(der, len), 0);
		ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r,
		    NULL, 0), OCSP_CODEC_OK);
		ck_assert_int_eq(r.is_signed, 1);
		ck_assert_uint_eq(r.nids, 1);
		ocsp_request_clear(&r);
		free(der);
	}
	/* A non-critical extension other than the nonce. */
	memset(v, 0x11, sizeof(v));
	der = req_with_ext(NID_id_pkix_OCSP_acceptableResponses, 0, v, 10, 0,
	    &len);
	ck_assert_int_eq(agree(der, len), 0);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ocsp_request_clear(&r);
	free(der);
	/* A nonce marked critical (DER TRUE). */
	v[0] = 0x04;
	v[1] = 8;
	der = req_with_ext(NID_id_pkix_OCSP_Nonce, 1, v, 10, 0, &len);
	ck_assert_int_eq(agree(der, len), 0);
	ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r, NULL, 0),
	    OCSP_CODEC_OK);
	ck_assert_int_eq(r.has_nonce, 1);
	ck_assert_uint_eq(r.nonce_len, 8);
	ocsp_request_clear(&r);
	free(der);
	/* singleRequestExtensions present. */
	{
		OCSP_ONEREQ *one;
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext;

		req = OCSP_REQUEST_new();
		one = OCSP_request_add0_id(req, certid(EVP_sha1(), 6));
		ck_assert_ptr_nonnull(one);
		ck_assert_int_eq(ASN1_OCTET_STRING_set(os, v, 4), 1);
		ext = X509_EXTENSION_create_by_NID(NULL,
		    NID_id_pkix_OCSP_serviceLocator, 0, os);
		ck_assert_ptr_nonnull(ext);
		ck_assert_int_eq(OCSP_ONEREQ_add_ext(one, ext, -1), 1);
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(os);
		der = req_der(req, &len);
		ck_assert_int_eq(agree(der, len), 0);
		ck_assert_int_eq(ocsp_request_parse(der, len, MAXREQ, &r,
		    NULL, 0), OCSP_CODEC_OK);
		ocsp_request_clear(&r);
		free(der);
	}
	/* Hand-made: hashAlgorithm without parameters is on the fast path;
	 * a non-minimal INTEGER (02 02 00 09) and a long-form length that
	 * is not the shortest (81 05) are not. */
	{
		static const unsigned char noparam[] = {
			0x30, 0x20, 0x30, 0x1e, 0x30, 0x1c, 0x30, 0x1a,
			0x30, 0x18, 0x30, 0x07,
			0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
			0x04, 0x04, 1, 2, 3, 4,
			0x04, 0x04, 5, 6, 7, 8,
			0x02, 0x01, 0x09,
		};
		static const unsigned char padint[] = {
			0x30, 0x23, 0x30, 0x21, 0x30, 0x1f, 0x30, 0x1d,
			0x30, 0x1b, 0x30, 0x09,
			0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
			0x05, 0x00,
			0x04, 0x04, 1, 2, 3, 4,
			0x04, 0x04, 5, 6, 7, 8,
			0x02, 0x02, 0x00, 0x09,
		};
		static const unsigned char longlen[] = {
			0x30, 0x23, 0x30, 0x21, 0x30, 0x1f, 0x30, 0x1d,
			0x30, 0x1b, 0x30, 0x09,
			0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
			0x05, 0x00,
			0x04, 0x81, 0x04, 1, 2, 3, 4,
			0x04, 0x04, 5, 6, 7, 8,
			0x02, 0x01, 0x09,
		};

		ck_assert_int_eq(agree(noparam, sizeof(noparam)), 1);
		ck_assert_int_eq(agree(padint, sizeof(padint)), 0);
		ck_assert_int_eq(agree(longlen, sizeof(longlen)), 0);
		/* whatever OpenSSL says about them is the answer: no crash */
		if (ocsp_request_parse(padint, sizeof(padint), MAXREQ, &r,
		    NULL, 0) == OCSP_CODEC_OK)
			ocsp_request_clear(&r);
		if (ocsp_request_parse(longlen, sizeof(longlen), MAXREQ, &r,
		    NULL, 0) == OCSP_CODEC_OK)
			ocsp_request_clear(&r);
	}
}
END_TEST

/* Every truncation, extension and single-octet change of a few real
 * requests: the walker and OpenSSL agree (see agree()). */
START_TEST(test_fast_mutations)
{
	static const int shapes[][2] = { { 1, 0 }, { 1, 16 }, { 3, 32 } };
	size_t accepted = 0;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		size_t len;
		unsigned char *der = make_req(shapes[s][0], shapes[s][1], &len);
		unsigned char *cp = malloc(len + 2);

		for (size_t l = 0; l < len; l++)
			ck_assert_int_eq(agree(der, l), 0);
		memcpy(cp, der, len);
		cp[len] = 0;
		cp[len + 1] = 0;
		ck_assert_int_eq(agree(cp, len + 2), 0);
		for (size_t i = 0; i < len; i++) {
			static const unsigned char x[] = { 0xff, 0x01, 0x80,
			    0x7f, 0x20 };

			for (size_t k = 0; k < sizeof(x); k++) {
				memcpy(cp, der, len);
				cp[i] ^= x[k];
				accepted += (size_t)agree(cp, len);
				cp[i] = 0;
				accepted += (size_t)agree(cp, len);
			}
		}
		free(cp);
		free(der);
	}
	/* Changes inside the hashes and serial still parse: the walker took
	 * some of them. */
	ck_assert_uint_gt(accepted, 0);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("ocsp_codec");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");
	TCase *fast = tcase_create("Fast");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(lim, setup, teardown);
	tcase_add_checked_fixture(fast, setup, teardown);
	tcase_set_timeout(fast, 60);
	tcase_add_test(core, test_single_sha1_no_nonce);
	tcase_add_test(core, test_multi_with_nonce);
	tcase_add_test(core, test_nonce_given_bytes);
	tcase_add_test(core, test_odd_serials);
	tcase_add_test(core, test_get_form);
	tcase_add_test(core, test_error_responses);
	tcase_add_test(lim, test_garbage);
	tcase_add_test(lim, test_too_many);
	tcase_add_test(lim, test_bad_nonce_and_exts);
	tcase_add_test(lim, test_unknown_hash_alg);
	tcase_add_test(lim, test_get_bad);
	tcase_add_test(fast, test_fast_common_shapes);
	tcase_add_test(fast, test_fast_declines);
	tcase_add_test(fast, test_fast_mutations);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	suite_add_tcase(s, fast);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
