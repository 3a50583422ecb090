/*
 * ocsp.c - OCSP request codec.
 *
 * Two decoders, one answer.  The common shapes (what openssl ocsp,
 * GnuTLS, browsers and the RFC 5019 profile send: no signature, no
 * version, no requestorName, SHA-1 or SHA-256 CertIDs, at most a nonce
 * as request extension) are walked here directly as strict DER, with no
 * OpenSSL objects and no allocation besides the CertID array: a nonce
 * request is answered at line rate and d2i_OCSP_REQUEST cost about as
 * much as a tenth of the whole answer.  The fast walker only ever says
 * "yes, this is it" or "not mine": anything else (every error included)
 * goes through OpenSSL's d2i_OCSP_REQUEST (a well-fuzzed template
 * decoder) and the checks after it, so error reasons and the accepted
 * language stay those of the OpenSSL path.  The walker accepts a subset
 * of that language (strict DER: shortest lengths, minimal INTEGERs) and
 * fills the same struct; the unit tests check both agree on every input
 * they make.  Sizes are capped before anything is allocated from them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "common/b64.h"
#include "server/proto/ocsp.h"

static void
set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

void
ocsp_request_clear(struct ocsp_request *req)
{
	if (req == NULL)
		return;
	free(req->ids);
	memset(req, 0, sizeof(*req));
}

/* Fills id from an OpenSSL CertID.  0 (with why) if it is malformed. */
static int
certid_copy(OCSP_CERTID *cid, struct ocsp_certid *id, char *why,
    size_t whylen)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	ASN1_INTEGER *serial = NULL;
	const unsigned char *mag;
	unsigned char *p;
	int l, ml;

	if (!OCSP_id_get0_info(&nh, &alg, &kh, &serial, cid) || nh == NULL ||
	    alg == NULL || kh == NULL || serial == NULL) {
		set_why(why, whylen, "CertID incomplete");
		return 0;
	}
	if ((id->hash_nid = OBJ_obj2nid(alg)) == NID_undef) {
		set_why(why, whylen, "CertID hash algorithm not recognized");
		return 0;
	}
	if (ASN1_STRING_length(nh) <= 0 ||
	    ASN1_STRING_length(nh) > OCSP_CERTID_HASH_MAX ||
	    ASN1_STRING_length(kh) <= 0 ||
	    ASN1_STRING_length(kh) > OCSP_CERTID_HASH_MAX) {
		set_why(why, whylen, "CertID hash of bad length");
		return 0;
	}
	id->name_hash_len = (size_t)ASN1_STRING_length(nh);
	memcpy(id->name_hash, ASN1_STRING_get0_data(nh), id->name_hash_len);
	id->key_hash_len = (size_t)ASN1_STRING_length(kh);
	memcpy(id->key_hash, ASN1_STRING_get0_data(kh), id->key_hash_len);

	/* Keep the INTEGER as sent, for the echo in the response. */
	l = i2d_ASN1_INTEGER(serial, NULL);
	if (l < 3 || (size_t)l > sizeof(id->serial_der)) {
		set_why(why, whylen, "CertID serial of bad length");
		return 0;
	}
	p = id->serial_der;
	if (i2d_ASN1_INTEGER(serial, &p) != l) {
		set_why(why, whylen, "CertID serial does not re-encode");
		return 0;
	}
	id->serial_der_len = (size_t)l;

	/* Magnitude as db/ stores it; serial_len 0 if it cannot be ours. */
	id->serial_len = 0;
	mag = ASN1_STRING_get0_data(serial);
	ml = ASN1_STRING_length(serial);
	while (ml > 0 && *mag == 0) {
		mag++;
		ml--;
	}
	if (ASN1_STRING_type(serial) == V_ASN1_INTEGER && ml > 0 &&
	    ml <= OCSP_CERTID_SERIAL_MAX) {
		memcpy(id->serial, mag, (size_t)ml);
		id->serial_len = (size_t)ml;
	}
	return 1;
}

/* RFC 8954 2.1: extnValue holds Nonce ::= OCTET STRING (SIZE(1..32)). */
static int
nonce_copy(X509_EXTENSION *ext, struct ocsp_request *req, char *why,
    size_t whylen)
{
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	const unsigned char *d = ASN1_STRING_get0_data(v);
	int l = ASN1_STRING_length(v);

	if (req->has_nonce) {
		set_why(why, whylen, "nonce extension appears twice");
		return 0;
	}
	if (l < 3 || d[0] != 0x04 || d[1] != l - 2 ||
	    l - 2 > OCSP_NONCE_MAX) {
		set_why(why, whylen, "nonce is not an OCTET STRING of 1..%d "
		    "octets (RFC 8954)", OCSP_NONCE_MAX);
		return 0;
	}
	req->has_nonce = 1;
	memcpy(req->nonce_ext, d, (size_t)l);
	req->nonce_ext_len = (size_t)l;
	memcpy(req->nonce, d + 2, (size_t)l - 2);
	req->nonce_len = (size_t)l - 2;
	return 1;
}

static int
request_exts(OCSP_REQUEST *r, struct ocsp_request *req, char *why,
    size_t whylen)
{
	int n = OCSP_REQUEST_get_ext_count(r);

	for (int i = 0; i < n; i++) {
		X509_EXTENSION *ext = OCSP_REQUEST_get_ext(r, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));

		if (nid == NID_id_pkix_OCSP_Nonce) {
			if (!nonce_copy(ext, req, why, whylen))
				return 0;
		} else if (X509_EXTENSION_get_critical(ext)) {
			set_why(why, whylen, "unsupported critical request "
			    "extension");
			return 0;
		}
	}
	return 1;
}

int
ocsp_request_parse_openssl(const unsigned char *der, size_t len,
    size_t max_len, struct ocsp_request *req, char *why, size_t whylen)
{
	OCSP_REQUEST *r = NULL;
	const unsigned char *q = der;
	int rc = OCSP_CODEC_MALFORMED, n;

	memset(req, 0, sizeof(*req));
	set_why(why, whylen, "ok");
	if (der == NULL || len == 0) {
		set_why(why, whylen, "empty request");
		goto out;
	}
	if (len > max_len || len > 0x7fffffff) {
		set_why(why, whylen, "request of %zu bytes over the %zu cap",
		    len, max_len);
		rc = OCSP_CODEC_TOO_LARGE;
		goto out;
	}
	if ((r = d2i_OCSP_REQUEST(NULL, &q, (long)len)) == NULL) {
		set_why(why, whylen, "not a DER OCSPRequest");
		goto out;
	}
	if (q != der + len) {
		set_why(why, whylen, "%zu bytes after the OCSPRequest",
		    (size_t)(der + len - q));
		goto out;
	}
	n = OCSP_request_onereq_count(r);
	if (n <= 0) {
		set_why(why, whylen, "no single request");
		goto out;
	}
	if (n > OCSP_REQ_MAX_SINGLE) {
		set_why(why, whylen, "%d single requests, at most %d", n,
		    OCSP_REQ_MAX_SINGLE);
		rc = OCSP_CODEC_TOO_MANY;
		goto out;
	}
	if ((req->ids = calloc((size_t)n, sizeof(*req->ids))) == NULL) {
		set_why(why, whylen, "out of memory");
		rc = OCSP_CODEC_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		OCSP_ONEREQ *one = OCSP_request_onereq_get0(r, i);
		int ne = OCSP_ONEREQ_get_ext_count(one);

		if (!certid_copy(OCSP_onereq_get0_id(one), &req->ids[i], why,
		    whylen))
			goto out;
		for (int k = 0; k < ne; k++)
			if (X509_EXTENSION_get_critical(
			    OCSP_ONEREQ_get_ext(one, k))) {
				set_why(why, whylen, "unsupported critical "
				    "singleRequestExtension");
				goto out;
			}
		req->nids++;
	}
	if (!request_exts(r, req, why, whylen))
		goto out;
	req->is_signed = OCSP_request_is_signed(r);
	rc = OCSP_CODEC_OK;
out:
	/* Garbage is expected here; keep its errors out of the next
	 * request's log line (STYLE.md 4). */
	ERR_clear_error();
	OCSP_REQUEST_free(r);
	if (rc != OCSP_CODEC_OK)
		ocsp_request_clear(req);
	return rc;
}


/* ---- the fast walker ------------------------------------------------ */

/* A DER cursor over [p, end). */
struct dcur {
	const unsigned char *p, *end;
};

/*
 * Reads one TLV with tag (single-octet tags only) at c: contents in
 * *body, c advanced past it.  1, or 0 if the octets there are not such a
 * TLV in DER (X.690 10.1: definite length in the shortest form).
 */
static int
dtlv(struct dcur *c, unsigned char tag, struct dcur *body)
{
	const unsigned char *p = c->p;
	size_t avail = (size_t)(c->end - p), n, h;

	if (avail < 2 || p[0] != tag)
		return 0;
	if (p[1] < 0x80) {
		n = p[1];
		h = 2;
	} else if (p[1] == 0x81) {
		if (avail < 3 || p[2] < 0x80)
			return 0;
		n = p[2];
		h = 3;
	} else if (p[1] == 0x82) {
		if (avail < 4 || p[2] == 0)
			return 0;
		n = (size_t)p[2] << 8 | p[3];
		h = 4;
	} else
		return 0;	/* > 64 KiB, indefinite or not shortest */
	if (n > avail - h)
		return 0;
	body->p = p + h;
	body->end = p + h + n;
	c->p = body->end;
	return 1;
}

static int
dpeek(const struct dcur *c, unsigned char tag)
{
	return c->p < c->end && c->p[0] == tag;
}

/* hashAlgorithm OIDs (contents) the fast path knows. */
static const unsigned char oid_sha1[] = { 0x2b, 0x0e, 0x03, 0x02, 0x1a };
static const unsigned char oid_sha256[] = { 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01 };
/* id-pkix-ocsp-nonce contents (1.3.6.1.5.5.7.48.1.2). */
static const unsigned char oid_nonce_c[] = { 0x2b, 0x06, 0x01, 0x05, 0x05,
	0x07, 0x30, 0x01, 0x02 };

static int
deq(const struct dcur *c, const unsigned char *b, size_t n)
{
	return (size_t)(c->end - c->p) == n && memcmp(c->p, b, n) == 0;
}

/* CertID (RFC 6960 4.1.1) into id; 0 if not the common shape. */
static int
fast_certid(struct dcur *c, struct ocsp_certid *id)
{
	struct dcur cid, alg, oid, par, nh, kh, ser;
	const unsigned char *mag;
	size_t sl, ml;

	if (!dtlv(c, 0x30, &cid) || c->p != c->end)
		return 0;
	if (!dtlv(&cid, 0x30, &alg) || !dtlv(&alg, 0x06, &oid))
		return 0;
	/* parameters: absent or NULL (both are sent for SHA-1/SHA-2) */
	if (alg.p != alg.end && (!dtlv(&alg, 0x05, &par) ||
	    par.p != par.end || alg.p != alg.end))
		return 0;
	if (deq(&oid, oid_sha1, sizeof(oid_sha1)))
		id->hash_nid = NID_sha1;
	else if (deq(&oid, oid_sha256, sizeof(oid_sha256)))
		id->hash_nid = NID_sha256;
	else
		return 0;
	if (!dtlv(&cid, 0x04, &nh) || !dtlv(&cid, 0x04, &kh) ||
	    !dtlv(&cid, 0x02, &ser) || cid.p != cid.end)
		return 0;
	id->name_hash_len = (size_t)(nh.end - nh.p);
	id->key_hash_len = (size_t)(kh.end - kh.p);
	if (id->name_hash_len == 0 || id->name_hash_len >
	    OCSP_CERTID_HASH_MAX || id->key_hash_len == 0 ||
	    id->key_hash_len > OCSP_CERTID_HASH_MAX)
		return 0;
	memcpy(id->name_hash, nh.p, id->name_hash_len);
	memcpy(id->key_hash, kh.p, id->key_hash_len);

	/* INTEGER: X.690 8.3.2 minimal, and short enough for serial_der
	 * (what the OpenSSL path re-encodes: same octets when minimal). */
	sl = (size_t)(ser.end - ser.p);
	if (sl == 0 || sl > sizeof(id->serial_der) - 2 ||
	    (sl > 1 && ((ser.p[0] == 0x00 && ser.p[1] < 0x80) ||
	    (ser.p[0] == 0xff && ser.p[1] >= 0x80))))
		return 0;
	id->serial_der[0] = 0x02;
	id->serial_der[1] = (unsigned char)sl;
	memcpy(id->serial_der + 2, ser.p, sl);
	id->serial_der_len = sl + 2;
	/* Magnitude as db/ stores it; serial_len 0 if it cannot be ours
	 * (negative, zero, over 20 octets). */
	id->serial_len = 0;
	if (ser.p[0] & 0x80)
		return 1;
	mag = ser.p;
	ml = sl;
	while (ml > 0 && *mag == 0) {
		mag++;
		ml--;
	}
	if (ml > 0 && ml <= OCSP_CERTID_SERIAL_MAX) {
		memcpy(id->serial, mag, ml);
		id->serial_len = ml;
	}
	return 1;
}

/*
 * requestExtensions [2] EXPLICIT Extensions holding exactly one
 * extension, a non-critical nonce with Nonce ::= OCTET STRING (1..32)
 * (RFC 8954 2.1).  0 for anything else.
 */
static int
fast_exts(struct dcur *c, struct ocsp_request *req)
{
	struct dcur x, exts, ext, oid, val, in;
	size_t vl;

	if (!dtlv(c, 0xa2, &x) || !dtlv(&x, 0x30, &exts) || x.p != x.end ||
	    !dtlv(&exts, 0x30, &ext) || exts.p != exts.end)
		return 0;
	/* critical absent: DER leaves out the DEFAULT FALSE */
	if (!dtlv(&ext, 0x06, &oid) || !deq(&oid, oid_nonce_c,
	    sizeof(oid_nonce_c)) || !dtlv(&ext, 0x04, &val) ||
	    ext.p != ext.end)
		return 0;
	vl = (size_t)(val.end - val.p);
	in = val;
	if (!dtlv(&in, 0x04, &x) || in.p != in.end || x.p == x.end ||
	    (size_t)(x.end - x.p) > OCSP_NONCE_MAX)
		return 0;
	req->has_nonce = 1;
	memcpy(req->nonce_ext, val.p, vl);
	req->nonce_ext_len = vl;
	memcpy(req->nonce, x.p, (size_t)(x.end - x.p));
	req->nonce_len = (size_t)(x.end - x.p);
	return 1;
}

int
ocsp_request_parse_fast(const unsigned char *der, size_t len,
    struct ocsp_request *req)
{
	struct dcur all = { der, der + len }, top, tbs, list, one, tmp;
	size_t n = 0;

	memset(req, 0, sizeof(*req));
	if (der == NULL || len == 0)
		return 0;
	/* OCSPRequest { tbsRequest } (no optionalSignature) */
	if (!dtlv(&all, 0x30, &top) || all.p != all.end ||
	    !dtlv(&top, 0x30, &tbs) || top.p != top.end)
		return 0;
	/* TBSRequest { requestList, requestExtensions [2] OPTIONAL }:
	 * version [0] and requestorName [1] make it not ours. */
	if (!dtlv(&tbs, 0x30, &list) || list.p == list.end)
		return 0;
	tmp = list;
	while (tmp.p != tmp.end) {
		if (!dtlv(&tmp, 0x30, &one) || ++n > OCSP_REQ_MAX_SINGLE)
			return 0;
	}
	if (dpeek(&tbs, 0xa2) && !fast_exts(&tbs, req))
		goto no;
	if (tbs.p != tbs.end)
		goto no;
	if ((req->ids = calloc(n, sizeof(*req->ids))) == NULL)
		goto no;	/* the OpenSSL path reports it */
	while (list.p != list.end) {
		/* Request { reqCert } (no singleRequestExtensions) */
		if (!dtlv(&list, 0x30, &one) ||
		    !fast_certid(&one, &req->ids[req->nids]))
			goto no;
		req->nids++;
	}
	return 1;
no:
	ocsp_request_clear(req);
	return 0;
}

int
ocsp_request_parse(const unsigned char *der, size_t len, size_t max_len,
    struct ocsp_request *req, char *why, size_t whylen)
{
	if (der != NULL && len > 0 && len <= max_len &&
	    ocsp_request_parse_fast(der, len, req)) {
		set_why(why, whylen, "ok");
		return OCSP_CODEC_OK;
	}
	return ocsp_request_parse_openssl(der, len, max_len, req, why,
	    whylen);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ocsp_get_decode(const char *path, size_t pathlen, size_t max_der,
    unsigned char **der, size_t *len, char *why, size_t whylen)
{
	char *b = NULL;
	size_t n = 0, cap;
	unsigned char *out = NULL;
	size_t outlen = 0;
	int rc = OCSP_CODEC_MALFORMED;

	*der = NULL;
	*len = 0;
	set_why(why, whylen, "ok");
	if (path == NULL || pathlen == 0) {
		set_why(why, whylen, "empty GET request");
		goto out;
	}
	/* Base64 of max_der bytes, each character possibly as %XX. */
	if (max_der > (SIZE_MAX - 16) / 12)
		max_der = (SIZE_MAX - 16) / 12;
	cap = ((max_der + 2) / 3 * 4) * 3;
	if (pathlen > cap) {
		set_why(why, whylen, "GET request of %zu characters over the "
		    "cap", pathlen);
		rc = OCSP_CODEC_TOO_LARGE;
		goto out;
	}
	if ((b = malloc(pathlen + 4)) == NULL) {
		set_why(why, whylen, "out of memory");
		rc = OCSP_CODEC_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < pathlen; i++) {
		char c = path[i];

		if (c == '%') {
			int hi, lo;

			if (pathlen - i < 3) {
				set_why(why, whylen, "truncated %%-escape");
				goto out;
			}
			if ((hi = hexval(path[i + 1])) < 0 ||
			    (lo = hexval(path[i + 2])) < 0) {
				set_why(why, whylen, "bad %%-escape");
				goto out;
			}
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		b[n++] = c;
	}
	/* Tolerate missing '=' padding (some clients strip it). */
	if (n % 4 == 1) {
		set_why(why, whylen, "base64 of impossible length");
		goto out;
	}
	while (n % 4 != 0)
		b[n++] = '=';
	if ((out = b64_decode(b, n, 0, &outlen)) == NULL) {
		set_why(why, whylen, "not valid base64");
		goto out;
	}
	if (outlen == 0) {
		set_why(why, whylen, "empty GET request");
		goto out;
	}
	if (outlen > max_der) {
		set_why(why, whylen, "request of %zu bytes over the %zu cap",
		    outlen, max_der);
		rc = OCSP_CODEC_TOO_LARGE;
		goto out;
	}
	*der = out;
	*len = outlen;
	out = NULL;		/* now the caller's */
	rc = OCSP_CODEC_OK;
out:
	free(out);
	free(b);
	return rc;
}

int
ocsp_request_parse_get(const char *path, size_t pathlen, size_t max_der,
    struct ocsp_request *req, char *why, size_t whylen)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int rc;

	memset(req, 0, sizeof(*req));
	rc = ocsp_get_decode(path, pathlen, max_der, &der, &len, why, whylen);
	if (rc == OCSP_CODEC_OK)
		rc = ocsp_request_parse(der, len, max_der, req, why, whylen);
	free(der);
	return rc;
}

enum ocsp_resp_status
ocsp_codec_err_status(int err)
{
	return err == OCSP_CODEC_NOMEM ? OCSP_ST_INTERNAL_ERROR :
	    OCSP_ST_MALFORMED_REQUEST;
}

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } (no
 * responseBytes, RFC 6960 4.2.1): 30 03 0a 01 st. */
static const unsigned char err_resp[7][5] = {
	{ 0 },
	{ 0x30, 0x03, 0x0a, 0x01, 0x01 },
	{ 0x30, 0x03, 0x0a, 0x01, 0x02 },
	{ 0x30, 0x03, 0x0a, 0x01, 0x03 },
	{ 0 },
	{ 0x30, 0x03, 0x0a, 0x01, 0x05 },
	{ 0x30, 0x03, 0x0a, 0x01, 0x06 }
};

const unsigned char *
ocsp_error_response(enum ocsp_resp_status st, size_t *len)
{
	*len = 0;
	switch (st) {
	case OCSP_ST_MALFORMED_REQUEST:
	case OCSP_ST_INTERNAL_ERROR:
	case OCSP_ST_TRY_LATER:
	case OCSP_ST_SIG_REQUIRED:
	case OCSP_ST_UNAUTHORIZED:
		*len = sizeof(err_resp[st]);
		return err_resp[st];
	}
	return NULL;
}
