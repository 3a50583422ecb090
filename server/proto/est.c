/*
 * est.c - EST (RFC 7030) message codec.
 *
 * Decoding runs in three steps so each failure has its own code: base64 to
 * bytes (common/b64.c, strict), a structural DER walk that owns the
 * "is this DER at all, and is there anything after it" questions, and only
 * then OpenSSL's d2i for the one type we expect.  OpenSSL's d2i alone
 * cannot tell "garbage" from "wrong type" and accepts some BER.
 *
 * Encoding uses OpenSSL for the objects (PKCS#7, PKCS#8) and a few lines
 * of hand-made DER for CsrAttrs, which has no OpenSSL type.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/csr.h"
#include "common/b64.h"
#include "common/log.h"
#include "server/proto/est.h"

/* Deepest nesting the DER walk accepts; a CSR needs about ten. */
#define DER_MAX_DEPTH	32

static const char *const err_text[] = {
	[EST_OK] = "ok",
	[EST_ERR_EMPTY] = "empty body",
	[EST_ERR_TOO_LARGE] = "body too large",
	[EST_ERR_BASE64] = "body is not valid base64",
	[EST_ERR_DER] = "body is not well-formed DER",
	[EST_ERR_TRAILING] = "trailing data after the DER element",
	[EST_ERR_NOT_CSR] = "DER is not a PKCS#10 CertificationRequest",
	[EST_ERR_NOT_CERTS] = "DER is not a PKCS#7 SignedData",
	[EST_ERR_NO_CERTS] = "PKCS#7 holds no certificate",
	[EST_ERR_MULTIPART] = "malformed multipart/mixed body",
	[EST_ERR_NOT_KEY] = "DER is not a PKCS#8 PrivateKeyInfo",
	[EST_ERR_ARG] = "invalid argument",
	[EST_ERR_INTERNAL] = "internal error",
};

const char *
est_err_str(enum est_err e)
{
	if ((unsigned)e >= sizeof(err_text) / sizeof(err_text[0]) ||
	    err_text[e] == NULL)
		return "unknown error";
	return err_text[e];
}

void
est_secret_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* ---- paths (RFC 7030 section 3.2.2) ---- */

static const char *const op_names[] = {
	[EST_OP_CACERTS] = "cacerts",
	[EST_OP_CSRATTRS] = "csrattrs",
	[EST_OP_SIMPLEENROLL] = "simpleenroll",
	[EST_OP_SIMPLEREENROLL] = "simplereenroll",
	[EST_OP_SERVERKEYGEN] = "serverkeygen",
};

const char *
est_op_name(enum est_op op)
{
	if ((unsigned)op >= sizeof(op_names) / sizeof(op_names[0]))
		return "unknown";
	return op_names[op];
}

static int
label_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-';
}

int
est_path_parse(const char *path, size_t len, char *label, size_t labelsz,
    enum est_op *op)
{
	static const char pfx[] = "/.well-known/est/";
	const size_t pfxlen = sizeof(pfx) - 1;
	const char *seg, *slash;
	size_t seglen, lablen = 0;

	if (labelsz <= EST_LABEL_MAX)
		return 0;
	label[0] = '\0';
	if (len <= pfxlen || memcmp(path, pfx, pfxlen) != 0)
		return 0;
	seg = path + pfxlen;
	seglen = len - pfxlen;
	if ((slash = memchr(seg, '/', seglen)) != NULL) {
		lablen = (size_t)(slash - seg);
		if (lablen == 0 || lablen > EST_LABEL_MAX)
			return 0;
		for (size_t i = 0; i < lablen; i++)
			if (!label_char((unsigned char)seg[i]))
				return 0;
		if ((lablen == 1 && seg[0] == '.') ||
		    (lablen == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		seg = slash + 1;
		seglen -= lablen + 1;
		/* Only one label level; "/a/b/cacerts" is not EST. */
		if (memchr(seg, '/', seglen) != NULL)
			return 0;
	}
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strlen(op_names[i]) == seglen &&
		    memcmp(op_names[i], seg, seglen) == 0) {
			memcpy(label, path + pfxlen, lablen);
			label[lablen] = '\0';
			*op = (enum est_op)i;
			return 1;
		}
	}
	return 0;
}

/* ---- DER structure (X.690 section 10: definite lengths, minimal) ---- */

/*
 * Reads one TLV header at p (len bytes available).  Sets the header
 * length, the content length (known to fit in len) and whether the
 * encoding is constructed.  Returns 0 on anything DER forbids.
 */
static int
der_header(const unsigned char *p, size_t len, int *cons, size_t *hlen,
    size_t *clen)
{
	size_t i = 0, n = 0;

	if (len < 2)
		return 0;
	*cons = (p[0] & 0x20) != 0;
	if ((p[i++] & 0x1f) == 0x1f) {
		/* High tag number, base 128 (X.690 8.1.2.4): no leading
		 * 0x80, at most 4 octets (we need far fewer), >= 31. */
		size_t nb = 0, tag = 0;

		do {
			if (i >= len || nb >= 4 || (nb == 0 && p[i] == 0x80))
				return 0;
			tag = (tag << 7) | (p[i] & 0x7f);
			nb++;
		} while (p[i++] & 0x80);
		if (tag < 31)
			return 0;
	}
	if (i >= len)
		return 0;
	if (p[i] < 0x80) {
		n = p[i++];
	} else {
		size_t k = p[i++] & 0x7f;

		/* 0x80 is BER's indefinite length (X.690 10.1); 0xff is
		 * reserved; the long form must be minimal (10.1, 8.1.3.5). */
		if (k == 0 || k > sizeof(size_t) || k > len - i || p[i] == 0)
			return 0;
		while (k-- > 0)
			n = (n << 8) | p[i++];
		if (n < 0x80)
			return 0;
	}
	if (n > len - i)
		return 0;
	*hlen = i;
	*clen = n;
	return 1;
}

/* Checks that p..p+len is a sequence of well-formed TLVs, recursively. */
static int
der_walk(const unsigned char *p, size_t len, int depth)
{
	while (len > 0) {
		size_t h, c;
		int cons;

		if (!der_header(p, len, &cons, &h, &c))
			return 0;
		if (cons && (depth >= DER_MAX_DEPTH ||
		    !der_walk(p + h, c, depth + 1)))
			return 0;
		p += h + c;
		len -= h + c;
	}
	return 1;
}

/*
 * Checks that der holds exactly one well-formed DER element.  On EST_OK
 * *elen is its length (== len).
 */
static enum est_err
der_check_one(const unsigned char *der, size_t len, size_t *elen)
{
	size_t h, c;
	int cons;

	*elen = 0;
	if (!der_header(der, len, &cons, &h, &c))
		return EST_ERR_DER;
	if (cons && !der_walk(der + h, c, 1))
		return EST_ERR_DER;
	if (h + c != len)
		return EST_ERR_TRAILING;
	*elen = h + c;
	return EST_OK;
}

/* ---- base64 bodies ---- */

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Base64 body to one checked DER element.  On EST_OK *der is malloc'd
 * (caller frees) and *derlen its length; otherwise *der is NULL.
 */
static enum est_err
body_to_der(const char *body, size_t len, size_t max, unsigned char **der,
    size_t *derlen)
{
	unsigned char *buf = NULL;
	enum est_err rc;
	size_t n = 0, i;

	*der = NULL;
	*derlen = 0;
	if (body == NULL)
		return EST_ERR_EMPTY;
	if (len > max)
		return EST_ERR_TOO_LARGE;
	for (i = 0; i < len && is_ws((unsigned char)body[i]); i++)
		;
	if (i == len)
		return EST_ERR_EMPTY;
	/* NULL here is bad input or, rarely, ENOMEM; both refuse. */
	if ((buf = b64_decode(body, len, 1, &n)) == NULL)
		return EST_ERR_BASE64;
	if ((rc = der_check_one(buf, n, &n)) != EST_OK) {
		free(buf);
		return rc;
	}
	*der = buf;
	*derlen = n;
	return EST_OK;
}

/* DER to folded base64.  On EST_OK *body is malloc'd (caller frees). */
static enum est_err
der_to_body(const unsigned char *der, size_t len, char **body, size_t *blen)
{
	if ((*body = b64_encode(der, len, 1, blen)) == NULL) {
		*blen = 0;
		log_err("est: out of memory encoding %zu bytes", len);
		return EST_ERR_INTERNAL;
	}
	return EST_OK;
}

/* ---- PKCS#10 ---- */

enum est_err
est_csr_decode(const char *body, size_t len, X509_REQ **out)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	enum est_err rc;
	size_t dlen;

	*out = NULL;
	if ((rc = body_to_der(body, len, EST_MAX_CSR_BODY, &der, &dlen)) !=
	    EST_OK)
		goto out;
	p = der;	/* d2i advances its argument: work on a copy */
	req = d2i_X509_REQ(NULL, &p, (long)dlen);
	if (req == NULL || (size_t)(p - der) != dlen) {
		/* Expected on bad input: do not leave it to the next call. */
		ERR_clear_error();
		rc = EST_ERR_NOT_CSR;
		goto out;
	}
	*out = req;
	req = NULL;
	rc = EST_OK;
 out:
	X509_REQ_free(req);
	free(der);
	return rc;
}

enum est_err
est_csr_parse(const char *body, size_t len, struct ca_csr **out)
{
	unsigned char *der = NULL;
	enum est_err rc;
	enum ca_err ce;
	size_t dlen;

	*out = NULL;
	if ((rc = body_to_der(body, len, EST_MAX_CSR_BODY, &der, &dlen)) !=
	    EST_OK)
		goto out;
	/* Same verdicts as d2i_X509_REQ in est_csr_decode: the slow path
	 * of ca_csr_parse is that call. */
	if ((ce = ca_csr_parse(der, dlen, out)) != CA_OK)
		rc = ce == CA_ERR_MALFORMED ? EST_ERR_NOT_CSR :
		    EST_ERR_INTERNAL;
out:
	free(der);
	return rc;
}

enum est_err
est_csr_encode(X509_REQ *req, char **body, size_t *len)
{
	unsigned char *der = NULL;
	enum est_err rc;
	int n;

	*body = NULL;
	*len = 0;
	if (req == NULL)
		return EST_ERR_ARG;
	if ((n = i2d_X509_REQ(req, &der)) <= 0) {
		log_openssl("est: i2d_X509_REQ");
		return EST_ERR_INTERNAL;
	}
	rc = der_to_body(der, (size_t)n, body, len);
	OPENSSL_free(der);
	return rc;
}

/* ---- certs-only PKCS#7 ---- */

enum est_err
est_certs_encode(STACK_OF(X509) *certs, char **body, size_t *len)
{
	unsigned char *der = NULL;
	enum est_err rc = EST_ERR_INTERNAL;
	PKCS7 *p7 = NULL;
	int n;

	*body = NULL;
	*len = 0;
	if (certs == NULL || sk_X509_num(certs) <= 0)
		return EST_ERR_ARG;
	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed)) {
		log_openssl("est: PKCS7_set_type");
		goto out;
	}
	/*
	 * Degenerate SignedData (RFC 5652 section 5.2, RFC 7030 4.1.3):
	 * encapContentInfo is id-data with the content absent, no digest
	 * algorithms, no signers.  PKCS7_set_type gave version 1.
	 */
	if (!PKCS7_set0_type_other(p7->d.sign->contents, NID_pkcs7_data,
	    NULL)) {
		log_openssl("est: PKCS7_set0_type_other");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		/* Takes its own reference. */
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i))) {
			log_openssl("est: PKCS7_add_certificate");
			goto out;
		}
	}
	if ((n = i2d_PKCS7(p7, &der)) <= 0) {
		log_openssl("est: i2d_PKCS7");
		goto out;
	}
	rc = der_to_body(der, (size_t)n, body, len);
 out:
	OPENSSL_free(der);
	PKCS7_free(p7);
	return rc;
}

/* Octets of a DER header (one tag octet) for content of len octets. */
static size_t
hdr_len(size_t len)
{
	size_t n = 2;

	for (size_t l = len; len >= 0x80 && l != 0; l >>= 8)
		n++;
	return n;
}

/* Writes a header for len content octets at p; returns the octets. */
static size_t
hdr_put(unsigned char *p, unsigned char tag, size_t len)
{
	size_t n = hdr_len(len), i;

	p[0] = tag;
	if (n == 2) {
		p[1] = (unsigned char)len;
		return n;
	}
	p[1] = (unsigned char)(0x80 | (n - 2));
	for (i = n - 1; i >= 2; i--, len >>= 8)
		p[i] = (unsigned char)len;
	return n;
}

enum est_err
est_certs_der_encode(const unsigned char *const *ders, const size_t *lens,
    size_t n, char **body, size_t *len)
{
	/* id-signedData, and the version, empty digestAlgorithms SET and
	 * encapContentInfo { id-data } without content that follow it. */
	static const unsigned char oid_signed[] = { 0x06, 0x09, 0x2a, 0x86,
		0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
	static const unsigned char head[] = { 0x02, 0x01, 0x01, 0x31, 0x00,
		0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x07, 0x01 };
	static const unsigned char no_signers[] = { 0x31, 0x00 };
	unsigned char *der = NULL, *p;
	size_t certs = 0, sd, exp, ci, elen;
	enum est_err rc;

	*body = NULL;
	*len = 0;
	if (ders == NULL || lens == NULL || n == 0 || n > 64)
		return EST_ERR_ARG;
	for (size_t i = 0; i < n; i++) {
		/* Each one DER element (ours, but checked: cheap). */
		if (ders[i] == NULL || lens[i] == 0 || lens[i] > (1u << 20) ||
		    der_check_one(ders[i], lens[i], &elen) != EST_OK)
			return EST_ERR_ARG;
		certs += lens[i];
	}
	/*
	 * ContentInfo { id-signedData, [0] EXPLICIT SignedData { version 1,
	 * digestAlgorithms {}, encapContentInfo { id-data }, [0] IMPLICIT
	 * certificates, signerInfos {} } } (RFC 5652 section 5.1; the
	 * degenerate certs-only form of RFC 7030 4.1.3), laid out exactly as
	 * OpenSSL's PKCS7 encoder does.
	 */
	sd = sizeof(head) + hdr_len(certs) + certs + sizeof(no_signers);
	exp = hdr_len(sd) + sd;
	ci = sizeof(oid_signed) + hdr_len(exp) + exp;
	if ((der = malloc(hdr_len(ci) + ci)) == NULL) {
		log_err("est: out of memory encoding certificates");
		return EST_ERR_INTERNAL;
	}
	p = der;
	p += hdr_put(p, 0x30, ci);
	memcpy(p, oid_signed, sizeof(oid_signed));
	p += sizeof(oid_signed);
	p += hdr_put(p, 0xa0, exp);
	p += hdr_put(p, 0x30, sd);
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	p += hdr_put(p, 0xa0, certs);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, ders[i], lens[i]);
		p += lens[i];
	}
	memcpy(p, no_signers, sizeof(no_signers));
	p += sizeof(no_signers);
	rc = der_to_body(der, (size_t)(p - der), body, len);
	free(der);
	return rc;
}

enum est_err
est_cert_encode(X509 *cert, char **body, size_t *len)
{
	STACK_OF(X509) *sk;
	enum est_err rc;

	*body = NULL;
	*len = 0;
	if (cert == NULL)
		return EST_ERR_ARG;
	if ((sk = sk_X509_new_null()) == NULL || !sk_X509_push(sk, cert)) {
		sk_X509_free(sk);
		log_openssl("est: sk_X509_push");
		return EST_ERR_INTERNAL;
	}
	rc = est_certs_encode(sk, body, len);
	sk_X509_free(sk);	/* borrowed the one cert: no pop_free */
	return rc;
}

enum est_err
est_certs_decode(const char *body, size_t len, STACK_OF(X509) **out)
{
	STACK_OF(X509) *res = NULL, *in;
	unsigned char *der = NULL;
	const unsigned char *p;
	PKCS7 *p7 = NULL;
	enum est_err rc;
	size_t dlen;

	*out = NULL;
	if ((rc = body_to_der(body, len, EST_MAX_CERTS_BODY, &der, &dlen)) !=
	    EST_OK)
		goto out;
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)dlen);
	/* d.sign is [0] OPTIONAL in the ASN.1 template: check it. */
	if (p7 == NULL || (size_t)(p - der) != dlen ||
	    !PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
		ERR_clear_error();
		rc = EST_ERR_NOT_CERTS;
		goto out;
	}
	in = p7->d.sign->cert;
	if (in == NULL || sk_X509_num(in) <= 0) {
		rc = EST_ERR_NO_CERTS;
		goto out;
	}
	rc = EST_ERR_INTERNAL;
	if ((res = sk_X509_new_null()) == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(in); i++) {
		X509 *x = sk_X509_value(in, i);

		if (!X509_up_ref(x))
			goto out;
		if (!sk_X509_push(res, x)) {
			X509_free(x);
			goto out;
		}
	}
	*out = res;
	res = NULL;
	rc = EST_OK;
 out:
	if (rc == EST_ERR_INTERNAL)
		log_openssl("est: copying certificates");
	sk_X509_pop_free(res, X509_free);
	PKCS7_free(p7);
	free(der);
	return rc;
}

/* ---- CsrAttrs (RFC 7030 section 4.5.2), hand-made DER ---- */

struct dbuf {
	unsigned char	*p;	/* owned, malloc'd */
	size_t		 len;
	size_t		 cap;
};

static int
dbuf_put(struct dbuf *b, const void *data, size_t len)
{
	if (len > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 64;
		unsigned char *np;

		while (ncap - b->len < len) {
			if (ncap > ((size_t)-1) / 2)
				return 0;
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL)
			return 0;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 1;
}

/* Appends a DER header for tag with content length n (definite, minimal). */
static int
dbuf_header(struct dbuf *b, unsigned char tag, size_t n)
{
	unsigned char h[2 + sizeof(size_t)];
	size_t i = 0, k = 0;

	h[i++] = tag;
	if (n < 0x80) {
		h[i++] = (unsigned char)n;
	} else {
		for (size_t t = n; t > 0; t >>= 8)
			k++;
		h[i++] = (unsigned char)(0x80 | k);
		while (k-- > 0)
			h[i++] = (unsigned char)(n >> (8 * k));
	}
	return dbuf_put(b, h, i);
}

/*
 * Dotted text must be arcs of digits joined by single dots: OBJ_txt2obj
 * quietly reads "1..2" as 1.0.2 and "1.2.3." as 1.2.3.
 */
static int
oid_text_ok(const char *t)
{
	size_t i, digits = 0;

	if (!isdigit((unsigned char)t[0]))
		return 1;	/* a name: OBJ_txt2obj looks it up */
	for (i = 0; t[i] != '\0'; i++) {
		if (isdigit((unsigned char)t[i]))
			digits++;
		else if (t[i] == '.' && digits > 0)
			digits = 0;
		else
			return 0;
	}
	return digits > 0;
}

/* Appends the DER of an OBJECT IDENTIFIER named by text. */
static enum est_err
dbuf_oid(struct dbuf *b, const char *text)
{
	unsigned char *der = NULL;
	ASN1_OBJECT *obj;
	enum est_err rc = EST_ERR_INTERNAL;
	int n;

	if (text == NULL || !oid_text_ok(text))
		return EST_ERR_ARG;
	if ((obj = OBJ_txt2obj(text, 0)) == NULL) {
		ERR_clear_error();
		log_warn("est: csrattrs: unknown OID \"%s\"", text);
		return EST_ERR_ARG;
	}
	if ((n = i2d_ASN1_OBJECT(obj, &der)) <= 0)
		log_openssl("est: i2d_ASN1_OBJECT");
	else if (dbuf_put(b, der, (size_t)n))
		rc = EST_OK;
	OPENSSL_free(der);
	ASN1_OBJECT_free(obj);
	return rc;
}

/* X.690 11.6: SET OF components ascending as octet strings. */
static int
der_cmp(const void *a, const void *b)
{
	const struct dbuf *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Appends Attribute ::= SEQUENCE { type OID, values SET OF OID }. */
static enum est_err
dbuf_attr(struct dbuf *out, const struct est_csrattr *a)
{
	struct dbuf type = { 0 }, set = { 0 }, *vals = NULL;
	enum est_err rc;
	size_t i;

	if ((vals = calloc(a->nvalues, sizeof(*vals))) == NULL)
		return EST_ERR_INTERNAL;
	if ((rc = dbuf_oid(&type, a->oid)) != EST_OK)
		goto out;
	for (i = 0; i < a->nvalues; i++)
		if ((rc = dbuf_oid(&vals[i], a->values[i])) != EST_OK)
			goto out;
	qsort(vals, a->nvalues, sizeof(*vals), der_cmp);
	rc = EST_ERR_INTERNAL;
	for (i = 0; i < a->nvalues; i++)
		if (!dbuf_put(&set, vals[i].p, vals[i].len))
			goto out;
	/* SET header length depends on the set's size: compute first. */
	{
		struct dbuf seqc = { 0 };
		int ok = dbuf_put(&seqc, type.p, type.len) &&
		    dbuf_header(&seqc, 0x31, set.len) &&
		    dbuf_put(&seqc, set.p, set.len) &&
		    dbuf_header(out, 0x30, seqc.len) &&
		    dbuf_put(out, seqc.p, seqc.len);

		free(seqc.p);
		if (!ok)
			goto out;
	}
	rc = EST_OK;
 out:
	for (i = 0; i < a->nvalues; i++)
		free(vals[i].p);
	free(vals);
	free(type.p);
	free(set.p);
	return rc;
}

enum est_err
est_csrattrs_encode(const struct est_csrattr *attrs, size_t nattrs,
    char **body, size_t *len)
{
	struct dbuf items = { 0 }, all = { 0 };
	enum est_err rc = EST_OK;

	*body = NULL;
	*len = 0;
	if (nattrs == 0)
		return EST_OK;	/* 204: nothing to say (RFC 7030 4.5.2) */
	if (attrs == NULL)
		return EST_ERR_ARG;
	for (size_t i = 0; i < nattrs && rc == EST_OK; i++) {
		if (attrs[i].nvalues > 0 && attrs[i].values == NULL)
			rc = EST_ERR_ARG;
		else if (attrs[i].nvalues == 0)
			rc = dbuf_oid(&items, attrs[i].oid);
		else
			rc = dbuf_attr(&items, &attrs[i]);
	}
	if (rc != EST_OK)
		goto out;
	if (!dbuf_header(&all, 0x30, items.len) ||
	    !dbuf_put(&all, items.p, items.len)) {
		rc = EST_ERR_INTERNAL;
		goto out;
	}
	rc = der_to_body(all.p, all.len, body, len);
 out:
	free(items.p);
	free(all.p);
	return rc;
}

/* ---- serverkeygen multipart/mixed (RFC 7030 4.4.2, RFC 2046 5.1) ---- */

/* RFC 2046 5.1.1 bcharsnospace. */
static int
bchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("'()+_,-./:=?", c) != NULL);
}

/* RFC 2045 tspecials that occur in bchars: the value must be quoted. */
static int
needs_quote(const char *s)
{
	return strpbrk(s, "(),/:=?") != NULL;
}

static int
boundary_ok(const char *b)
{
	size_t n;

	if (b == NULL || (n = strlen(b)) == 0 || n > EST_BOUNDARY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!bchar((unsigned char)b[i]))
			return 0;
	return 1;
}

/* The PKCS#8 DER of key, base64.  *b64 is secret (est_secret_free). */
static enum est_err
key_to_b64(EVP_PKEY *key, char **b64, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	enum est_err rc = EST_ERR_INTERNAL;
	int n = 0;

	*b64 = NULL;
	*len = 0;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL) {
		log_openssl("est: EVP_PKEY2PKCS8");
		goto out;
	}
	if ((n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
		log_openssl("est: i2d_PKCS8_PRIV_KEY_INFO");
		n = 0;
		goto out;
	}
	rc = der_to_body(der, (size_t)n, b64, len);
 out:
	OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

enum est_err
est_serverkeygen_encode(EVP_PKEY *key, X509 *cert, const char *boundary,
    char **body, size_t *len, char *ctype, size_t ctypesz)
{
	static const char hkey[] = "Content-Type: " EST_CT_PKCS8 "\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n";
	static const char hcert[] = "Content-Type: " EST_CT_CERTS_ONLY "\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n";
	char *kb = NULL, *cb = NULL, *out = NULL;
	size_t klen = 0, clen = 0, blen, total, o;
	enum est_err rc;
	int n;

	*body = NULL;
	*len = 0;
	if (key == NULL || cert == NULL || !boundary_ok(boundary) ||
	    ctype == NULL || ctypesz == 0)
		return EST_ERR_ARG;
	ctype[0] = '\0';
	n = snprintf(ctype, ctypesz, needs_quote(boundary) ?
	    "multipart/mixed; boundary=\"%s\"" :
	    "multipart/mixed; boundary=%s", boundary);
	if (n < 0 || (size_t)n >= ctypesz) {
		ctype[0] = '\0';
		return EST_ERR_ARG;
	}
	if ((rc = key_to_b64(key, &kb, &klen)) != EST_OK ||
	    (rc = est_cert_encode(cert, &cb, &clen)) != EST_OK)
		goto out;
	/*
	 * "--B\r\n" hkey KEY "--B\r\n" hcert CERT "--B--\r\n".  Both base64
	 * texts end in CRLF, which RFC 2046 counts as part of the next
	 * delimiter.  Sizes are small (capped keys and certs): no overflow.
	 */
	blen = strlen(boundary);
	total = 3 * (blen + 4) + 2 + sizeof(hkey) - 1 + sizeof(hcert) - 1 +
	    klen + clen;
	rc = EST_ERR_INTERNAL;
	if ((out = malloc(total + 1)) == NULL)
		goto out;
	o = 0;
#define PUT(s, l) do { memcpy(out + o, (s), (l)); o += (l); } while (0)
	PUT("--", 2); PUT(boundary, blen); PUT("\r\n", 2);
	PUT(hkey, sizeof(hkey) - 1); PUT(kb, klen);
	PUT("--", 2); PUT(boundary, blen); PUT("\r\n", 2);
	PUT(hcert, sizeof(hcert) - 1); PUT(cb, clen);
	PUT("--", 2); PUT(boundary, blen); PUT("--\r\n", 4);
#undef PUT
	out[o] = '\0';
	*body = out;
	*len = o;
	rc = EST_OK;
 out:
	if (rc != EST_OK)
		ctype[0] = '\0';
	est_secret_free(kb, klen);
	free(cb);
	return rc;
}

/* Case-insensitive compare of s[0..n) with NUL-terminated lit. */
static int
span_ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Trims ASCII white space off both ends of s[0..*n). */
static const char *
span_trim(const char *s, size_t *n)
{
	while (*n > 0 && is_ws((unsigned char)s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_ws((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

/*
 * Finds the boundary parameter of a multipart/mixed Content-Type value
 * (RFC 2045 section 5.1: quoted or token) into b (EST_BOUNDARY_MAX + 1).
 */
static int
ctype_boundary(const char *ctype, char *b)
{
	const char *p = ctype, *semi;
	size_t n;

	if ((semi = strchr(p, ';')) == NULL)
		return 0;
	n = (size_t)(semi - p);
	p = span_trim(p, &n);
	if (!span_ieq(p, n, "multipart/mixed"))
		return 0;
	for (p = semi + 1; *p != '\0'; p = semi + 1) {
		const char *eq, *v;
		size_t vn;

		if ((semi = strchr(p, ';')) == NULL)
			semi = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(semi - p))) != NULL) {
			n = (size_t)(eq - p);
			p = span_trim(p, &n);
			vn = (size_t)(semi - eq - 1);
			v = span_trim(eq + 1, &vn);
			if (span_ieq(p, n, "boundary")) {
				if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
					v++;
					vn -= 2;
				}
				if (vn == 0 || vn > EST_BOUNDARY_MAX)
					return 0;
				memcpy(b, v, vn);
				b[vn] = '\0';
				return boundary_ok(b);
			}
		}
		if (*semi == '\0')
			break;
	}
	return 0;
}

/* One body part: its Content-Type media type and its content range. */
struct part {
	const char	*type;
	size_t		 typelen;
	const char	*data;
	size_t		 datalen;
	int		 b64;	/* Content-Transfer-Encoding base64 or absent */
};

/*
 * Is the line s[0..n) (line end stripped) a delimiter for b?  Returns 1
 * for "--b", 2 for the close "--b--", 0 otherwise.  Transport padding
 * (trailing white space, RFC 2046 5.1.1) is allowed.
 */
static int
delim_kind(const char *s, size_t n, const char *b, size_t blen)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n < blen + 2 || s[0] != '-' || s[1] != '-' ||
	    memcmp(s + 2, b, blen) != 0)
		return 0;
	if (n == blen + 2)
		return 1;
	if (n == blen + 4 && s[blen + 2] == '-' && s[blen + 3] == '-')
		return 2;
	return 0;
}

/* Parses the header lines of a part, s[0..n) without the blank line. */
static int
part_headers(const char *s, size_t n, struct part *pt)
{
	while (n > 0) {
		const char *nl = memchr(s, '\n', n), *colon;
		size_t ll = nl ? (size_t)(nl - s) : n, hn, vn;
		const char *v;

		if ((colon = memchr(s, ':', ll)) == NULL)
			return 0;
		hn = (size_t)(colon - s);
		vn = ll - hn - 1;
		v = span_trim(colon + 1, &vn);
		if (span_ieq(s, hn, "Content-Type")) {
			const char *semi = memchr(v, ';', vn);

			pt->type = v;
			pt->typelen = semi ? (size_t)(semi - v) : vn;
			pt->type = span_trim(pt->type, &pt->typelen);
		} else if (span_ieq(s, hn, "Content-Transfer-Encoding")) {
			pt->b64 = span_ieq(v, vn, "base64");
		}
		ll = nl ? ll + 1 : ll;
		s += ll;
		n -= ll;
	}
	return 1;
}

/*
 * Splits body into at most maxparts parts.  Lines end in CRLF or LF.
 * Returns the number of parts, or -1 if the framing is broken.
 */
static int
multipart_split(const char *body, size_t len, const char *b,
    struct part *parts, int maxparts)
{
	const char *p = body, *end = body + len, *start = NULL;
	size_t blen = strlen(b);
	int np = -1;	/* -1: preamble */

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t ll = (size_t)((nl ? nl : end) - p);
		int k;

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		k = delim_kind(p, ll, b, blen);
		if (k != 0 && np >= 0) {
			/* Close the current part: headers, blank, content. */
			struct part *pt = &parts[np];
			const char *hend = start, *q = start;

			while (q < p) {
				const char *e = memchr(q, '\n', (size_t)(p - q));
				size_t l;

				if (e == NULL)
					return -1;
				l = (size_t)(e - q);
				if (l == 0 || (l == 1 && q[0] == '\r'))
					break;
				q = e + 1;
			}
			if (q >= p)
				return -1;	/* no blank line */
			hend = q;
			pt->b64 = 1;
			if (!part_headers(start, (size_t)(hend - start), pt))
				return -1;
			q = memchr(q, '\n', (size_t)(p - q)) + 1;
			pt->data = q;
			pt->datalen = (size_t)(p - q);
		}
		if (k == 2)
			return np + 1;
		if (k == 1) {
			if (++np >= maxparts)
				return -1;
			memset(&parts[np], 0, sizeof(parts[np]));
			start = next;
		}
		p = next;
	}
	return -1;	/* no close delimiter */
}

static enum est_err
part_key(const struct part *pt, EVP_PKEY **key)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	enum est_err rc;
	size_t dlen = 0;

	if ((rc = body_to_der(pt->data, pt->datalen, EST_MAX_CSR_BODY, &der,
	    &dlen)) != EST_OK)
		return rc;
	p = der;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)dlen)) == NULL ||
	    (size_t)(p - der) != dlen ||
	    (*key = EVP_PKCS82PKEY(p8)) == NULL) {
		ERR_clear_error();
		rc = EST_ERR_NOT_KEY;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	est_secret_free(der, dlen);
	return rc;
}

enum est_err
est_serverkeygen_decode(const char *ctype, const char *body, size_t len,
    EVP_PKEY **key, X509 **cert)
{
	char b[EST_BOUNDARY_MAX + 1];
	struct part parts[2];
	STACK_OF(X509) *sk = NULL;
	enum est_err rc;
	int np, ik = -1, ic = -1;

	*key = NULL;
	*cert = NULL;
	if (ctype == NULL || body == NULL || !ctype_boundary(ctype, b))
		return EST_ERR_MULTIPART;
	if (len > EST_MAX_CERTS_BODY + EST_MAX_CSR_BODY)
		return EST_ERR_TOO_LARGE;
	if ((np = multipart_split(body, len, b, parts, 2)) != 2)
		return EST_ERR_MULTIPART;
	for (int i = 0; i < np; i++) {
		if (!parts[i].b64 || parts[i].type == NULL)
			return EST_ERR_MULTIPART;
		if (span_ieq(parts[i].type, parts[i].typelen, EST_CT_PKCS8))
			ik = i;
		else if (span_ieq(parts[i].type, parts[i].typelen,
		    EST_CT_CACERTS))
			ic = i;
	}
	if (ik < 0 || ic < 0)
		return EST_ERR_MULTIPART;
	if ((rc = part_key(&parts[ik], key)) != EST_OK)
		goto out;
	if ((rc = est_certs_decode(parts[ic].data, parts[ic].datalen, &sk)) !=
	    EST_OK)
		goto out;
	/* The issued certificate comes first (RFC 7030 4.4.2 via 4.2.3). */
	*cert = sk_X509_shift(sk);
 out:
	if (rc != EST_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	sk_X509_pop_free(sk, X509_free);
	return rc;
}
