/*
 * check_est_codec.c - unit tests for server/proto/est.c.
 *
 * Keys, requests and certificates are made in-process; no disk, no
 * network, no clock beyond certificate validity.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "server/proto/est.h"

/* ---- fixtures ---- */

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

static X509_REQ *
make_csr(EVP_PKEY *k, const char *cn)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_REQ_get_subject_name(r);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_REQ_set_pubkey(r, k), 1);
	ck_assert_int_gt(X509_REQ_sign(r, k, EVP_sha256()), 0);
	return r;
}

static X509 *
make_cert(EVP_PKEY *k, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, n), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, k), 1);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	return x;
}

static unsigned char *
csr_der(size_t *len)
{
	EVP_PKEY *k = make_key();
	X509_REQ *r = make_csr(k, "dev-0001");
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(r, &der);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	return der;
}

/* Decodes base64 of der[0..len) wrapped or not; returns the code. */
static enum est_err
decode_b64_of(const unsigned char *der, size_t len, int wrap)
{
	size_t blen;
	char *b = b64_encode(der, len, wrap, &blen);
	X509_REQ *r = NULL;
	enum est_err rc;

	ck_assert_ptr_nonnull(b);
	rc = est_csr_decode(b, blen, &r);
	if (rc == EST_OK)
		ck_assert_ptr_nonnull(r);
	else
		ck_assert_ptr_null(r);
	X509_REQ_free(r);
	free(b);
	return rc;
}

/* Replaces every CRLF by LF in place; returns the new length. */
static size_t
crlf_to_lf(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
			s[o++] = s[i];
	s[o] = '\0';
	return o;
}

/* ---- PKCS#10 ---- */

START_TEST(csr_roundtrip)
{
	EVP_PKEY *k = make_key();
	X509_REQ *r = make_csr(k, "dev-0001"), *back = NULL;
	unsigned char *d1 = NULL, *d2 = NULL;
	char *body;
	size_t len;
	int n1, n2;

	ck_assert_int_eq(est_csr_encode(r, &body, &len), EST_OK);
	ck_assert_uint_eq(strlen(body), len);
	ck_assert_ptr_nonnull(strstr(body, "\r\n"));
	ck_assert_int_eq(est_csr_decode(body, len, &back), EST_OK);
	n1 = i2d_X509_REQ(r, &d1);
	n2 = i2d_X509_REQ(back, &d2);
	ck_assert_int_eq(n1, n2);
	ck_assert_int_eq(memcmp(d1, d2, (size_t)n1), 0);
	ck_assert_int_eq(X509_REQ_verify(back, k), 1);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	free(body);
	X509_REQ_free(r);
	X509_REQ_free(back);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_line_breaks)
{
	size_t len, blen;
	unsigned char *der = csr_der(&len);
	char *b, *ws;
	X509_REQ *r = NULL;

	ck_assert_int_eq(decode_b64_of(der, len, 0), EST_OK);
	ck_assert_int_eq(decode_b64_of(der, len, 1), EST_OK);

	/* LF only. */
	b = b64_encode(der, len, 1, &blen);
	blen = crlf_to_lf(b, blen);
	ck_assert_ptr_null(strchr(b, '\r'));
	ck_assert_int_eq(est_csr_decode(b, blen, &r), EST_OK);
	X509_REQ_free(r);
	r = NULL;

	/* Surrounding white space, and no NUL: pass a prefix length. */
	ws = malloc(blen + 32);
	ck_assert_ptr_nonnull(ws);
	memcpy(ws, " \t\r\n", 4);
	memcpy(ws + 4, b, blen);
	memcpy(ws + 4 + blen, "\r\n\n  JUNK", 9);
	ck_assert_int_eq(est_csr_decode(ws, 4 + blen + 5, &r), EST_OK);
	X509_REQ_free(r);
	r = NULL;
	/* ...but the junk after it is refused when included: "JUNK" is a
	 * valid quad, so three bytes trail the DER, unless the text ended in
	 * padding (signature sizes vary), after which nothing may follow. */
	ck_assert_int_eq(est_csr_decode(ws, 4 + blen + 9, &r),
	    strchr(b, '=') != NULL ? EST_ERR_BASE64 : EST_ERR_TRAILING);
	ck_assert_ptr_null(r);
	ws[4 + blen + 6] = '*';
	ck_assert_int_eq(est_csr_decode(ws, 4 + blen + 9, &r),
	    EST_ERR_BASE64);
	free(ws);
	free(b);
	OPENSSL_free(der);
}
END_TEST

START_TEST(csr_empty_and_garbage)
{
	X509_REQ *r = (X509_REQ *)1;

	ck_assert_int_eq(est_csr_decode("", 0, &r), EST_ERR_EMPTY);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(est_csr_decode(NULL, 0, &r), EST_ERR_EMPTY);
	ck_assert_int_eq(est_csr_decode(" \r\n\t ", 5, &r), EST_ERR_EMPTY);
	ck_assert_int_eq(est_csr_decode("!!!!", 4, &r), EST_ERR_BASE64);
	ck_assert_int_eq(est_csr_decode("abc", 3, &r), EST_ERR_BASE64);
	ck_assert_int_eq(est_csr_decode("====", 4, &r), EST_ERR_BASE64);
	ck_assert_int_eq(est_csr_decode("MIIB\0AAA", 8, &r), EST_ERR_BASE64);
	ck_assert_int_eq(est_csr_decode("-----BEGIN CERTIFICATE REQUEST-----",
	    35, &r), EST_ERR_BASE64);
	/* Non-zero pad bits: not canonical. */
	ck_assert_int_eq(est_csr_decode("MB==", 4, &r), EST_ERR_BASE64);
	/* Valid base64 of non-DER bytes. */
	ck_assert_int_eq(est_csr_decode("aGVsbG8gd29ybGQ=", 16, &r),
	    EST_ERR_DER);
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(csr_truncated)
{
	size_t len;
	unsigned char *der = csr_der(&len);

	ck_assert_int_eq(decode_b64_of(der, len - 1, 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(der, len / 2, 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(der, 1, 0), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(der, 3, 0), EST_ERR_DER);
	OPENSSL_free(der);
}
END_TEST

START_TEST(csr_trailing)
{
	size_t len;
	unsigned char *der = csr_der(&len), *two;

	two = malloc(2 * len);
	ck_assert_ptr_nonnull(two);
	memcpy(two, der, len);
	memcpy(two + len, der, len);
	ck_assert_int_eq(decode_b64_of(two, 2 * len, 1), EST_ERR_TRAILING);
	two[len] = 0;
	ck_assert_int_eq(decode_b64_of(two, len + 1, 1), EST_ERR_TRAILING);
	ck_assert_int_eq(decode_b64_of(two, len + 2, 0), EST_ERR_TRAILING);
	free(two);
	OPENSSL_free(der);
}
END_TEST

START_TEST(csr_not_a_csr)
{
	static const unsigned char seq_int[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	static const unsigned char octets[] = { 0x04, 0x02, 0xab, 0xcd };
	static const unsigned char null_der[] = { 0x05, 0x00 };
	EVP_PKEY *k = make_key();
	X509 *x = make_cert(k, "not a csr", 7);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(decode_b64_of(der, (size_t)n, 1), EST_ERR_NOT_CSR);
	ck_assert_int_eq(decode_b64_of(seq_int, sizeof(seq_int), 1),
	    EST_ERR_NOT_CSR);
	ck_assert_int_eq(decode_b64_of(octets, sizeof(octets), 1),
	    EST_ERR_NOT_CSR);
	ck_assert_int_eq(decode_b64_of(null_der, sizeof(null_der), 1),
	    EST_ERR_NOT_CSR);
	/* The expected failure left nothing in the error queue. */
	ck_assert_uint_eq(ERR_peek_error(), 0);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- Limits: DER rules and sizes ---- */

START_TEST(der_limits)
{
	/* BER indefinite length. */
	static const unsigned char indef[] = { 0x30, 0x80, 0x02, 0x01, 0x01,
	    0x00, 0x00 };
	/* Long form for a short length. */
	static const unsigned char longform[] = { 0x30, 0x81, 0x03, 0x02, 0x01,
	    0x01 };
	/* Leading zero length octet. */
	static const unsigned char lead0[] = { 0x30, 0x82, 0x00, 0x03, 0x02,
	    0x01, 0x01 };
	/* Inner element overruns its parent. */
	static const unsigned char inner[] = { 0x30, 0x03, 0x02, 0x05, 0x01 };
	/* Length far beyond the buffer. */
	static const unsigned char huge[] = { 0x30, 0x88, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	/* Reserved 0xff length. */
	static const unsigned char resv[] = { 0x30, 0xff, 0x00 };
	/* High tag number form for a low tag. */
	static const unsigned char hightag[] = { 0x1f, 0x05, 0x00 };
	unsigned char deep[2 * 40];
	size_t i;

	ck_assert_int_eq(decode_b64_of(indef, sizeof(indef), 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(longform, sizeof(longform), 1),
	    EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(lead0, sizeof(lead0), 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(inner, sizeof(inner), 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(huge, sizeof(huge), 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(resv, sizeof(resv), 1), EST_ERR_DER);
	ck_assert_int_eq(decode_b64_of(hightag, sizeof(hightag), 1),
	    EST_ERR_DER);
	/* 40 nested SEQUENCEs: over the depth cap. */
	for (i = 0; i < 40; i++) {
		deep[2 * i] = 0x30;
		deep[2 * i + 1] = (unsigned char)(2 * (39 - i));
	}
	ck_assert_int_eq(decode_b64_of(deep, sizeof(deep), 1), EST_ERR_DER);
	/* 20 nested: fine as DER, not a CSR. */
	ck_assert_int_eq(decode_b64_of(deep + 40, 40, 1), EST_ERR_NOT_CSR);
}
END_TEST

START_TEST(csr_too_large)
{
	size_t n = EST_MAX_CSR_BODY + 4;
	char *b = malloc(n);
	X509_REQ *r = NULL;

	ck_assert_ptr_nonnull(b);
	memset(b, 'A', n);
	ck_assert_int_eq(est_csr_decode(b, n, &r), EST_ERR_TOO_LARGE);
	ck_assert_ptr_null(r);
	free(b);
}
END_TEST

START_TEST(err_strings)
{
	for (int e = EST_OK; e <= EST_ERR_INTERNAL; e++)
		ck_assert_ptr_nonnull(est_err_str((enum est_err)e));
	ck_assert_str_eq(est_err_str((enum est_err)999), "unknown error");
	ck_assert_str_ne(est_err_str(EST_ERR_DER), est_err_str(EST_ERR_NOT_CSR));
}
END_TEST

/* ---- certs-only PKCS#7 ---- */

START_TEST(certs_only)
{
	EVP_PKEY *k = make_key();
	X509 *a = make_cert(k, "root", 1), *b = make_cert(k, "issuing", 2);
	STACK_OF(X509) *sk = sk_X509_new_null(), *back = NULL;
	unsigned char *der;
	const unsigned char *p;
	PKCS7 *p7;
	char *body;
	size_t len, dlen;

	ck_assert_int_eq(sk_X509_push(sk, a), 1);
	ck_assert_int_eq(sk_X509_push(sk, b), 2);
	ck_assert_int_eq(est_certs_encode(sk, &body, &len), EST_OK);

	/* Independent parse with OpenSSL. */
	der = b64_decode(body, len, 1, &dlen);
	ck_assert_ptr_nonnull(der);
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)dlen);
	ck_assert_ptr_nonnull(p7);
	ck_assert_uint_eq((size_t)(p - der), dlen);
	ck_assert(PKCS7_type_is_signed(p7));
	ck_assert_int_eq(ASN1_INTEGER_get(p7->d.sign->version), 1);
	ck_assert_int_eq(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	ck_assert_int_eq(OBJ_obj2nid(p7->d.sign->contents->type),
	    NID_pkcs7_data);
	ck_assert_ptr_null(p7->d.sign->contents->d.data);	/* detached */
	ck_assert_int_eq(sk_X509_num(p7->d.sign->cert), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), a), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(p7->d.sign->cert, 1), b), 0);
	PKCS7_free(p7);
	free(der);

	/* Our own decoder, same order. */
	ck_assert_int_eq(est_certs_decode(body, len, &back), EST_OK);
	ck_assert_int_eq(sk_X509_num(back), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(back, 0), a), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(back, 1), b), 0);
	sk_X509_pop_free(back, X509_free);
	free(body);

	/* One certificate. */
	ck_assert_int_eq(est_cert_encode(a, &body, &len), EST_OK);
	ck_assert_int_eq(est_certs_decode(body, len, &back), EST_OK);
	ck_assert_int_eq(sk_X509_num(back), 1);
	sk_X509_pop_free(back, X509_free);
	free(body);

	sk_X509_pop_free(sk, X509_free);
	EVP_PKEY_free(k);
}
END_TEST

/* DER of x; caller frees with OPENSSL_free(). */
static unsigned char *
cert_der(X509 *x, size_t *len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	return d;
}

/*
 * The hand-written certs-only message equals the PKCS7 encoder's byte for
 * byte, for one, two and many certificates of sizes that move the length
 * octets across the 1-, 2- and 3-octet forms; openssl pkcs7 reads it.
 */
START_TEST(certs_der_equal)
{
	EVP_PKEY *k = make_key();
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *ders[40];
	unsigned char *own[40];
	size_t lens[40];
	char *b1, *b2, path[64], cmd[256];
	size_t l1, l2;
	FILE *f;
	int fd;

	for (int i = 0; i < 40; i++) {
		X509 *x = make_cert(k, i % 2 ? "issuing" : "root", i + 1);

		ck_assert_int_gt(sk_X509_push(sk, x), 0);
		own[i] = cert_der(x, &lens[i]);
		ders[i] = own[i];
	}
	for (size_t n = 1; n <= 40; n += (n < 3 ? 1 : 9)) {
		STACK_OF(X509) *part = sk_X509_new_null();

		for (size_t i = 0; i < n; i++)
			sk_X509_push(part, sk_X509_value(sk, (int)i));
		ck_assert_int_eq(est_certs_encode(part, &b1, &l1), EST_OK);
		ck_assert_int_eq(est_certs_der_encode(ders, lens, n, &b2, &l2),
		    EST_OK);
		ck_assert_uint_eq(l1, l2);
		ck_assert_msg(memcmp(b1, b2, l1) == 0, "differs for %zu", n);
		if (n == 2) {
			snprintf(path, sizeof(path), "/tmp/est-codec-XXXXXX");
			ck_assert_int_ge(fd = mkstemp(path), 0);
			ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
			/* The body may end in its own CRLF: no blank line
			 * before the END line (PEM would stop there). */
			while (l2 > 0 && (b2[l2 - 1] == '\n' ||
			    b2[l2 - 1] == '\r'))
				l2--;
			fprintf(f, "-----BEGIN PKCS7-----\n%.*s\n"
			    "-----END PKCS7-----\n", (int)l2, b2);
			fclose(f);
			snprintf(cmd, sizeof(cmd), "openssl pkcs7 -in %s "
			    "-print_certs -noout 2>/dev/null | grep -c "
			    "'^subject=' | grep -qx 2", path);
			ck_assert_msg(system(cmd) == 0, "%s", cmd);
			unlink(path);
		}
		free(b1);
		free(b2);
		sk_X509_free(part);
	}
	for (int i = 0; i < 40; i++)
		OPENSSL_free(own[i]);
	sk_X509_pop_free(sk, X509_free);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(certs_der_bad)
{
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01 };
	static const unsigned char trailing[] = { 0x30, 0x00, 0x00 };
	static const unsigned char ok[] = { 0x30, 0x00 };
	const unsigned char *d[2] = { ok, NULL };
	size_t l[2] = { sizeof(ok), 0 }, len = 7;
	char *body = (char *)1;

	ck_assert_int_eq(est_certs_der_encode(NULL, l, 1, &body, &len),
	    EST_ERR_ARG);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(est_certs_der_encode(d, NULL, 1, &body, &len),
	    EST_ERR_ARG);
	ck_assert_int_eq(est_certs_der_encode(d, l, 0, &body, &len),
	    EST_ERR_ARG);
	ck_assert_int_eq(est_certs_der_encode(d, l, 65, &body, &len),
	    EST_ERR_ARG);
	ck_assert_int_eq(est_certs_der_encode(d, l, 2, &body, &len),
	    EST_ERR_ARG);			/* NULL second */
	d[0] = junk;
	l[0] = sizeof(junk);
	ck_assert_int_eq(est_certs_der_encode(d, l, 1, &body, &len),
	    EST_ERR_ARG);			/* truncated */
	d[0] = trailing;
	l[0] = sizeof(trailing);
	ck_assert_int_eq(est_certs_der_encode(d, l, 1, &body, &len),
	    EST_ERR_ARG);			/* trailing octet */
	l[0] = 0;
	ck_assert_int_eq(est_certs_der_encode(d, l, 1, &body, &len),
	    EST_ERR_ARG);			/* empty */
	ck_assert_ptr_null(body);
}
END_TEST

START_TEST(certs_bad)
{
	STACK_OF(X509) *sk = sk_X509_new_null(), *back = NULL;
	EVP_PKEY *k = make_key();
	X509_REQ *r = make_csr(k, "x");
	PKCS7 *p7 = PKCS7_new();
	unsigned char *der = NULL;
	char *body = (char *)1;
	size_t len;
	int n;

	ck_assert_int_eq(est_certs_encode(sk, &body, &len), EST_ERR_ARG);
	ck_assert_ptr_null(body);
	ck_assert_int_eq(est_certs_encode(NULL, &body, &len), EST_ERR_ARG);
	ck_assert_int_eq(est_cert_encode(NULL, &body, &len), EST_ERR_ARG);

	/* A CSR is not a PKCS#7. */
	ck_assert_int_eq(est_csr_encode(r, &body, &len), EST_OK);
	ck_assert_int_eq(est_certs_decode(body, len, &back), EST_ERR_NOT_CERTS);
	ck_assert_ptr_null(back);
	free(body);

	/* SignedData with no certificates. */
	ck_assert_int_eq(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	ck_assert_int_eq(PKCS7_set0_type_other(p7->d.sign->contents,
	    NID_pkcs7_data, NULL), 1);
	n = i2d_PKCS7(p7, &der);
	ck_assert_int_gt(n, 0);
	body = b64_encode(der, (size_t)n, 1, &len);
	ck_assert_int_eq(est_certs_decode(body, len, &back), EST_ERR_NO_CERTS);
	ck_assert_ptr_null(back);
	free(body);
	ck_assert_int_eq(est_certs_decode("", 0, &back), EST_ERR_EMPTY);
	ck_assert_int_eq(est_certs_decode("@@@@", 4, &back), EST_ERR_BASE64);

	OPENSSL_free(der);
	PKCS7_free(p7);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	sk_X509_free(sk);
}
END_TEST

/* ---- CsrAttrs ---- */

START_TEST(csrattrs_encode)
{
	static const char *const curve[] = { "prime256v1" };
	static const struct est_csrattr attrs[] = {
		{ "id-ecPublicKey", curve, 1 },
		{ "1.2.840.10045.4.3.2", NULL, 0 },	/* ecdsa-with-SHA256 */
	};
	/* Worked out by hand from X.690. */
	static const unsigned char want[] = {
		0x30, 0x21,
		  0x30, 0x15,
		    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		    0x31, 0x0a,
		      0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
		      0x07,
		  0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
	};
	STACK_OF(ASN1_TYPE) *seq;
	const unsigned char *p;
	unsigned char *der;
	char *body;
	size_t len, dlen;

	ck_assert_int_eq(est_csrattrs_encode(attrs, 2, &body, &len), EST_OK);
	der = b64_decode(body, len, 1, &dlen);
	ck_assert_ptr_nonnull(der);
	ck_assert_uint_eq(dlen, sizeof(want));
	ck_assert_int_eq(memcmp(der, want, dlen), 0);

	/* And OpenSSL reads it as a SEQUENCE of two items. */
	p = der;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)dlen);
	ck_assert_ptr_nonnull(seq);
	ck_assert_int_eq(sk_ASN1_TYPE_num(seq), 2);
	ck_assert_int_eq(ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 0)),
	    V_ASN1_SEQUENCE);
	ck_assert_int_eq(ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)),
	    V_ASN1_OBJECT);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	free(der);
	free(body);
}
END_TEST

START_TEST(csrattrs_set_order_and_errors)
{
	/* prime256v1 (..3.1.7) sorts after secp384r1 (1.3.132.0.34) as
	 * DER: 06 08 2a... > 06 05 2b...: shorter length byte first. */
	static const char *const curves[] = { "prime256v1", "secp384r1" };
	static const char *const bad[] = { "no-such-oid-name" };
	struct est_csrattr a = { "id-ecPublicKey", curves, 2 };
	struct est_csrattr b = { "id-ecPublicKey", bad, 1 };
	struct est_csrattr c = { "1.2.3.", NULL, 0 };
	struct est_csrattr d = { "id-ecPublicKey", NULL, 2 };
	struct est_csrattr e = { "1..2", NULL, 0 };
	unsigned char *der;
	char *body = (char *)1;
	size_t len = 1, dlen;

	ck_assert_int_eq(est_csrattrs_encode(NULL, 0, &body, &len), EST_OK);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(est_csrattrs_encode(&a, 1, &body, &len), EST_OK);
	der = b64_decode(body, len, 1, &dlen);
	ck_assert_ptr_nonnull(der);
	/* 30 L 30 L 06 07 <7> 31 L 06 05 <secp384r1> 06 08 <p256> */
	ck_assert_uint_eq(der[4], 0x06);
	ck_assert_uint_eq(der[13], 0x31);
	ck_assert_uint_eq(der[15], 0x06);
	ck_assert_uint_eq(der[16], 0x05);
	ck_assert_uint_eq(der[22], 0x06);
	ck_assert_uint_eq(der[23], 0x08);
	free(der);
	free(body);

	ck_assert_int_eq(est_csrattrs_encode(&b, 1, &body, &len), EST_ERR_ARG);
	ck_assert_ptr_null(body);
	ck_assert_int_eq(est_csrattrs_encode(&c, 1, &body, &len), EST_ERR_ARG);
	ck_assert_int_eq(est_csrattrs_encode(&d, 1, &body, &len), EST_ERR_ARG);
	ck_assert_int_eq(est_csrattrs_encode(&e, 1, &body, &len), EST_ERR_ARG);
	ck_assert_int_eq(est_csrattrs_encode(NULL, 1, &body, &len),
	    EST_ERR_ARG);
	ERR_clear_error();
}
END_TEST

/* ---- serverkeygen ---- */

/* Finds the boundary in a ctype by hand, independently of the codec. */
static void
check_multipart_by_hand(const char *ctype, const char *body, size_t len)
{
	const char *b = strstr(ctype, "boundary=");
	char delim[80], close[84];
	const char *p1, *p2, *p3;
	size_t blen;

	ck_assert_ptr_nonnull(b);
	b += 9;
	if (*b == '"')
		b++;
	blen = strcspn(b, "\"");
	snprintf(delim, sizeof(delim), "--%.*s\r\n", (int)blen, b);
	snprintf(close, sizeof(close), "\r\n--%.*s--\r\n", (int)blen, b);
	ck_assert_int_eq(strncmp(body, delim, strlen(delim)), 0);
	p1 = strstr(body + 1, delim);
	ck_assert_ptr_nonnull(p1);
	p2 = strstr(p1, "\r\n\r\n");
	ck_assert_ptr_nonnull(p2);
	p3 = strstr(p2, close);
	ck_assert_ptr_nonnull(p3);
	ck_assert_uint_eq((size_t)(p3 - body) + strlen(close), len);
	ck_assert_ptr_nonnull(strstr(body, "Content-Type: application/pkcs8"
	    "\r\n"));
	ck_assert_ptr_nonnull(strstr(body, "Content-Type: application/"
	    "pkcs7-mime; smime-type=certs-only\r\n"));
}

START_TEST(serverkeygen_roundtrip)
{
	EVP_PKEY *k = make_key(), *kback = NULL;
	X509 *x = make_cert(k, "dev", 9), *xback = NULL;
	char ctype[128], *body;
	size_t len;

	ck_assert_int_eq(est_serverkeygen_encode(k, x, "est-b0und4ry", &body,
	    &len, ctype, sizeof(ctype)), EST_OK);
	ck_assert_str_eq(ctype, "multipart/mixed; boundary=est-b0und4ry");
	check_multipart_by_hand(ctype, body, len);
	ck_assert_int_eq(est_serverkeygen_decode(ctype, body, len, &kback,
	    &xback), EST_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, kback), 1);
	ck_assert_int_eq(X509_cmp(x, xback), 0);
	EVP_PKEY_free(kback);
	X509_free(xback);

	/* LF line ends decode too. */
	len = crlf_to_lf(body, len);
	ck_assert_int_eq(est_serverkeygen_decode(ctype, body, len, &kback,
	    &xback), EST_OK);
	EVP_PKEY_free(kback);
	X509_free(xback);
	est_secret_free(body, len);

	/* A boundary with tspecials is quoted. */
	ck_assert_int_eq(est_serverkeygen_encode(k, x, "a:b=c?", &body, &len,
	    ctype, sizeof(ctype)), EST_OK);
	ck_assert_str_eq(ctype, "multipart/mixed; boundary=\"a:b=c?\"");
	check_multipart_by_hand(ctype, body, len);
	ck_assert_int_eq(est_serverkeygen_decode(ctype, body, len, &kback,
	    &xback), EST_OK);
	EVP_PKEY_free(kback);
	X509_free(xback);
	est_secret_free(body, len);

	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(serverkeygen_bad)
{
	EVP_PKEY *k = make_key(), *kback = NULL;
	X509 *x = make_cert(k, "dev", 9), *xback = NULL;
	char ctype[128], small[10], *body, *cut;
	char long_b[EST_BOUNDARY_MAX + 2];
	size_t len;

	memset(long_b, 'x', sizeof(long_b) - 1);
	long_b[sizeof(long_b) - 1] = '\0';
	ck_assert_int_eq(est_serverkeygen_encode(k, x, "", &body, &len, ctype,
	    sizeof(ctype)), EST_ERR_ARG);
	ck_assert_int_eq(est_serverkeygen_encode(k, x, "a b", &body, &len,
	    ctype, sizeof(ctype)), EST_ERR_ARG);
	ck_assert_int_eq(est_serverkeygen_encode(k, x, long_b, &body, &len,
	    ctype, sizeof(ctype)), EST_ERR_ARG);
	ck_assert_int_eq(est_serverkeygen_encode(k, x, "ok", &body, &len,
	    small, sizeof(small)), EST_ERR_ARG);
	ck_assert_int_eq(est_serverkeygen_encode(NULL, x, "ok", &body, &len,
	    ctype, sizeof(ctype)), EST_ERR_ARG);
	ck_assert_ptr_null(body);

	ck_assert_int_eq(est_serverkeygen_encode(k, x, "BND", &body, &len,
	    ctype, sizeof(ctype)), EST_OK);
	/* Wrong boundary, wrong type, no boundary. */
	ck_assert_int_eq(est_serverkeygen_decode("multipart/mixed; "
	    "boundary=XYZ", body, len, &kback, &xback), EST_ERR_MULTIPART);
	ck_assert_int_eq(est_serverkeygen_decode("multipart/signed; "
	    "boundary=BND", body, len, &kback, &xback), EST_ERR_MULTIPART);
	ck_assert_int_eq(est_serverkeygen_decode("multipart/mixed",
	    body, len, &kback, &xback), EST_ERR_MULTIPART);
	/* Header parameters in other case and order are fine. */
	ck_assert_int_eq(est_serverkeygen_decode("Multipart/Mixed; foo=bar; "
	    "Boundary=\"BND\"", body, len, &kback, &xback), EST_OK);
	EVP_PKEY_free(kback);
	X509_free(xback);
	/* No close delimiter. */
	ck_assert_int_eq(est_serverkeygen_decode(ctype, body, len - 8, &kback,
	    &xback), EST_ERR_MULTIPART);
	ck_assert_ptr_null(kback);
	ck_assert_ptr_null(xback);
	/* Damaged key part: base64 broken inside the first part. */
	cut = strstr(body, "\r\n\r\n");
	ck_assert_ptr_nonnull(cut);
	cut[6] = '*';
	ck_assert_int_eq(est_serverkeygen_decode(ctype, body, len, &kback,
	    &xback), EST_ERR_BASE64);
	ck_assert_ptr_null(kback);
	ck_assert_ptr_null(xback);
	est_secret_free(body, len);
	ck_assert_int_eq(est_serverkeygen_decode(ctype, "", 0, &kback,
	    &xback), EST_ERR_MULTIPART);

	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- paths ---- */

START_TEST(paths)
{
	char label[EST_LABEL_MAX + 1];
	enum est_op op;
#define P(s) (s), strlen(s), label, sizeof(label), &op

	ck_assert_int_eq(est_path_parse(P("/.well-known/est/cacerts")), 1);
	ck_assert_int_eq(op, EST_OP_CACERTS);
	ck_assert_str_eq(label, "");
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/fleet-a/"
	    "simplereenroll")), 1);
	ck_assert_int_eq(op, EST_OP_SIMPLEREENROLL);
	ck_assert_str_eq(label, "fleet-a");
	ck_assert_str_eq(est_op_name(op), "simplereenroll");
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/serverkeygen")), 1);
	ck_assert_int_eq(op, EST_OP_SERVERKEYGEN);

	ck_assert_int_eq(est_path_parse(P("/.well-known/est/")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/cacert")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/cacertsx")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/CACERTS")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est//cacerts")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/../cacerts")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/a/b/cacerts")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/a%2f/cacerts")), 0);
	ck_assert_int_eq(est_path_parse(P("/.well-known/est/cacerts/")), 0);
	ck_assert_int_eq(est_path_parse(P("/well-known/est/cacerts")), 0);
	/* Length is honoured: the NUL is not looked for. */
	ck_assert_int_eq(est_path_parse("/.well-known/est/cacertsXX", 24,
	    label, sizeof(label), &op), 1);
	ck_assert_int_eq(est_path_parse("/.well-known/est/cacerts", 24,
	    label, 4, &op), 0);
#undef P
}
END_TEST

static Suite *
est_codec_suite(void)
{
	Suite *s = suite_create("est_codec");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");

	tcase_add_test(core, csr_roundtrip);
	tcase_add_test(core, csr_line_breaks);
	tcase_add_test(core, csr_empty_and_garbage);
	tcase_add_test(core, csr_truncated);
	tcase_add_test(core, csr_trailing);
	tcase_add_test(core, csr_not_a_csr);
	tcase_add_test(core, err_strings);
	tcase_add_test(core, certs_only);
	tcase_add_test(core, certs_bad);
	tcase_add_test(core, certs_der_equal);
	tcase_add_test(core, certs_der_bad);
	tcase_add_test(core, csrattrs_encode);
	tcase_add_test(core, csrattrs_set_order_and_errors);
	tcase_add_test(core, serverkeygen_roundtrip);
	tcase_add_test(core, serverkeygen_bad);
	tcase_add_test(core, paths);
	tcase_add_test(lim, der_limits);
	tcase_add_test(lim, csr_too_large);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(est_codec_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail != 0;
}
