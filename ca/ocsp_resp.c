/*
 * ocsp_resp.c - BasicOCSPResponse signing (RFC 6960 4.2.1) and CertID
 * matching (RFC 6960 4.1.1).
 *
 * The response is written as DER by hand, like ca/crl.c does for CRLs:
 * requests with a nonce are signed one by one at line rate, and OpenSSL's
 * OCSP_* object path cost several times the signature itself (object
 * trees, a DigestSignInit with provider fetches, re-encoding).  What never
 * changes is computed once per responder: the responderID (byKey: SHA-1
 * of the signer's public key BIT STRING value, RFC 6960 4.2.1), the
 * signatureAlgorithm, the certs field holding the signer certificate, and
 * an initialized signing context that each response copies.
 * The unit tests parse every response back with OpenSSL, check that it
 * re-encodes to the same bytes and verify it with OCSP_basic_verify.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/ocsp_resp.h"
#include "ca/revoke_reason.h"
#include "common/log.h"

#define OCSP_RESP_MAX_SINGLE	64

#define CTX_POOL		8	/* idle signing contexts kept */
#define RESPID_LEN		24	/* [2] { OCTET STRING (20) } */

struct ocsp_responder {
	X509 *signer;		/* owned reference */
	EVP_PKEY *key;		/* owned reference */
	const EVP_MD *md;	/* NULL for Ed25519 */
	size_t sig_max;		/* EVP_PKEY_get_size */
	/* Constant DER, computed once (each owned, malloc'd): */
	unsigned char respid[RESPID_LEN];	/* responderID byKey */
	unsigned char *sigalg;	/* signatureAlgorithm */
	size_t sigalg_len;
	unsigned char *certs;	/* [0] EXPLICIT SEQUENCE { signer cert } */
	size_t certs_len;
	/* A DigestSign context initialized once; responses sign with a
	 * copy (NULL for Ed25519, whose one-shot contexts do not copy:
	 * those are initialized per response). */
	EVP_MD_CTX *tmpl;	/* owned */
	/* Idle contexts for reuse (owned), so a response allocates none. */
	pthread_mutex_t pool_lock;
	EVP_MD_CTX *pool[CTX_POOL];
	size_t npool;
};

/* ---- CertID matching -------------------------------------------------- */

int
ocsp_ca_match_init(struct ocsp_ca_match *m, X509 *ca)
{
	const X509_NAME *name = X509_get_subject_name(ca);
	unsigned int l1 = 0, l2 = 0, l3 = 0, l4 = 0;

	memset(m, 0, sizeof(*m));
	if (!X509_NAME_digest(name, EVP_sha1(), m->sha1_name, &l1) ||
	    !X509_pubkey_digest(ca, EVP_sha1(), m->sha1_key, &l2) ||
	    !X509_NAME_digest(name, EVP_sha256(), m->sha256_name, &l3) ||
	    !X509_pubkey_digest(ca, EVP_sha256(), m->sha256_key, &l4)) {
		log_openssl("ocsp: cannot hash the CA name and key");
		return 0;
	}
	return l1 == 20 && l2 == 20 && l3 == 32 && l4 == 32;
}

int
ocsp_ca_match(const struct ocsp_ca_match *m, const struct ocsp_certid *id)
{
	if (id->hash_nid == NID_sha1)
		return id->name_hash_len == 20 && id->key_hash_len == 20 &&
		    memcmp(id->name_hash, m->sha1_name, 20) == 0 &&
		    memcmp(id->key_hash, m->sha1_key, 20) == 0;
	if (id->hash_nid == NID_sha256)
		return id->name_hash_len == 32 && id->key_hash_len == 32 &&
		    memcmp(id->name_hash, m->sha256_name, 32) == 0 &&
		    memcmp(id->key_hash, m->sha256_key, 32) == 0;
	return 0;
}

/* ---- DER writing -------------------------------------------------------- */

/*
 * A bounded output buffer.  Writers never fail one by one: an overflow
 * sets err and every later write is a no-op, so a builder checks once at
 * the end.  Nested TLVs are written contents first and then wrapped
 * (der_wrap moves the contents right by the header's size); the structures
 * here are a few KiB, so the moves cost far less than the signature.
 */
struct der {
	unsigned char *p;	/* not owned */
	size_t len, cap;
	int err;
};

/* Octets of a tag plus definite length for n content octets. */
static size_t
hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
}

/* Writes tag + definite length (X.690 8.1.3, shortest form) at p. */
static size_t
put_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	size_t h = hdr_len(n);

	p[0] = tag;
	if (h == 2) {
		p[1] = (unsigned char)n;
		return 2;
	}
	p[1] = (unsigned char)(0x80 | (h - 2));
	for (size_t i = h - 1; i >= 2; i--) {
		p[i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	return h;
}

static void
der_put(struct der *d, const void *b, size_t n)
{
	if (d->err || n > d->cap - d->len) {
		d->err = 1;
		return;
	}
	memcpy(d->p + d->len, b, n);
	d->len += n;
}

static void
der_byte(struct der *d, unsigned char c)
{
	der_put(d, &c, 1);
}

/* One whole TLV with n octets of contents b. */
static void
der_tlv(struct der *d, unsigned char tag, const void *b, size_t n)
{
	unsigned char h[5];

	der_put(d, h, put_hdr(h, tag, n));
	der_put(d, b, n);
}

/* Makes everything written since start the contents of one TLV. */
static void
der_wrap(struct der *d, size_t start, unsigned char tag)
{
	size_t n = d->len - start, h = hdr_len(n);

	if (d->err)
		return;
	if (h > d->cap - d->len) {
		d->err = 1;
		return;
	}
	memmove(d->p + start + h, d->p + start, n);
	put_hdr(d->p + start, tag, n);
	d->len += h;
}

/* Inserts n octets b before everything written so far. */
static void
der_prepend(struct der *d, const void *b, size_t n)
{
	if (d->err || n > d->cap - d->len) {
		d->err = 1;
		return;
	}
	memmove(d->p + n, d->p, d->len);
	memcpy(d->p, b, n);
	d->len += n;
}

/*
 * GeneralizedTime "YYYYMMDDHHMMSSZ" (RFC 5280 4.1.2.5.2: UTC, seconds,
 * no fraction).  0 when t is outside years 0000..9999.
 */
static int
der_gtime(struct der *d, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char b[64];

	if (t < -62167219200LL || t > 253402300799LL ||
	    gmtime_r(&tt, &tm) == NULL ||
	    snprintf(b, sizeof(b), "%04d%02d%02d%02d%02d%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec) != 15)
		return 0;
	der_tlv(d, 0x18, b, 15);
	return 1;
}

/* ---- responder -------------------------------------------------------- */

static const EVP_MD *
pick_md(EVP_PKEY *key, int *ok)
{
	char group[64];

	*ok = 1;
	if (EVP_PKEY_is_a(key, "ED25519"))
		return NULL;
	if (EVP_PKEY_is_a(key, "RSA"))
		return EVP_sha256();
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL)) {
		if (strcmp(group, "prime256v1") == 0)
			return EVP_sha256();
		if (strcmp(group, "secp384r1") == 0)
			return EVP_sha384();
	}
	*ok = 0;
	return NULL;
}

#define SIG_MAX		1024	/* RSA 8192 */

/*
 * The constant parts of every response (see the file comment).  The
 * signatureAlgorithm comes from the signature provider itself
 * (OSSL_SIGNATURE_PARAM_ALGORITHM_ID), so it always names what
 * EVP_DigestSign produces.  0 on failure (logged).
 */
static int
responder_precompute(struct ocsp_responder *r)
{
	EVP_PKEY_CTX *pctx = NULL;	/* owned by r->tmpl */
	unsigned char aid[128], kh[EVP_MAX_MD_SIZE], *cert = NULL, *p;
	unsigned int khl = 0;
	OSSL_PARAM par[2];
	struct der d;
	int cl, sz;
	size_t inner;

	if (X509_pubkey_digest(r->signer, EVP_sha1(), kh, &khl) != 1 ||
	    khl != 20) {
		log_openssl("ocsp: signer key hash");
		return 0;
	}
	/* ResponderID byKey: [2] EXPLICIT KeyHash (OCTET STRING). */
	r->respid[0] = 0xa2;
	r->respid[1] = 22;
	r->respid[2] = 0x04;
	r->respid[3] = 20;
	memcpy(r->respid + 4, kh, 20);

	if ((sz = EVP_PKEY_get_size(r->key)) <= 0 || sz > SIG_MAX) {
		log_err("ocsp: signer key: unsupported signature size %d", sz);
		return 0;
	}
	r->sig_max = (size_t)sz;
	if ((r->tmpl = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(r->tmpl, &pctx, r->md, NULL, r->key) != 1) {
		log_openssl("ocsp: EVP_DigestSignInit");
		return 0;
	}
	par[0] = OSSL_PARAM_construct_octet_string(
	    OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid));
	par[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(pctx, par) != 1 ||
	    !OSSL_PARAM_modified(&par[0]) || par[0].return_size < 2 ||
	    par[0].return_size > sizeof(aid) || aid[0] != 0x30) {
		log_openssl("ocsp: signer key: no signature AlgorithmIdentifier");
		return 0;
	}
	if ((r->sigalg = malloc(par[0].return_size)) == NULL)
		return 0;
	memcpy(r->sigalg, aid, par[0].return_size);
	r->sigalg_len = par[0].return_size;
	if (r->md == NULL) {
		/* Ed25519: one-shot contexts are not copied (see above). */
		EVP_MD_CTX_free(r->tmpl);
		r->tmpl = NULL;
	}

	/* certs [0] EXPLICIT SEQUENCE OF Certificate: the signer alone. */
	if ((cl = i2d_X509(r->signer, &cert)) <= 0) {
		log_openssl("ocsp: i2d_X509");
		return 0;
	}
	inner = hdr_len((size_t)cl) + (size_t)cl;
	r->certs_len = hdr_len(inner) + inner;
	if ((p = malloc(r->certs_len)) == NULL) {
		OPENSSL_free(cert);
		return 0;
	}
	d = (struct der){ p, 0, r->certs_len, 0 };
	der_tlv(&d, 0x30, cert, (size_t)cl);
	der_wrap(&d, 0, 0xa0);
	OPENSSL_free(cert);
	r->certs = p;
	if (d.err || d.len != r->certs_len) {
		log_err("ocsp: encoding the signer certificate");
		return 0;
	}
	return 1;
}

struct ocsp_responder *
ocsp_responder_new(X509 *signer, EVP_PKEY *key)
{
	struct ocsp_responder *r = NULL;
	int ok;

	if (signer == NULL || key == NULL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_err("ocsp: out of memory");
		return NULL;
	}
	if (pthread_mutex_init(&r->pool_lock, NULL) != 0) {
		free(r);
		return NULL;
	}
	r->md = pick_md(key, &ok);
	if (!ok) {
		log_err("ocsp: unsupported signer key type");
		goto fail;
	}
	if (X509_check_private_key(signer, key) != 1) {
		log_openssl("ocsp: signer key does not match its certificate");
		goto fail;
	}
	/* RFC 6960 4.2.2.2: a delegated responder's certificate carries
	 * id-kp-OCSPSigning.  Also computes OpenSSL's cached extension
	 * flags now, single-threaded. */
	if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
		log_err("ocsp: signer certificate lacks id-kp-OCSPSigning");
		goto fail;
	}
	if (!X509_up_ref(signer)) {
		log_openssl("ocsp: up_ref");
		goto fail;
	}
	r->signer = signer;
	if (!EVP_PKEY_up_ref(key)) {
		log_openssl("ocsp: up_ref");
		goto fail;
	}
	r->key = key;
	if (!responder_precompute(r))
		goto fail;
	return r;
fail:
	ocsp_responder_free(r);
	return NULL;
}

void
ocsp_responder_free(struct ocsp_responder *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->npool; i++)
		EVP_MD_CTX_free(r->pool[i]);
	EVP_MD_CTX_free(r->tmpl);
	free(r->sigalg);
	free(r->certs);
	X509_free(r->signer);
	EVP_PKEY_free(r->key);
	pthread_mutex_destroy(&r->pool_lock);
	free(r);
}

/* A signing context ready for one EVP_DigestSign; give it back with
 * ctx_put.  NULL on failure (logged). */
static EVP_MD_CTX *
ctx_get(struct ocsp_responder *r)
{
	EVP_MD_CTX *c = NULL;
	int ok;

	pthread_mutex_lock(&r->pool_lock);
	if (r->npool > 0)
		c = r->pool[--r->npool];
	pthread_mutex_unlock(&r->pool_lock);
	if (c == NULL && (c = EVP_MD_CTX_new()) == NULL) {
		log_openssl("ocsp: EVP_MD_CTX_new");
		return NULL;
	}
	if (r->tmpl != NULL) {
		ok = EVP_MD_CTX_copy_ex(c, r->tmpl) == 1;
		/* This copy signs once and is then overwritten: without
		 * the flag EVP_DigestSignFinal would duplicate the whole
		 * provider context again to keep this one reusable (about
		 * a third of the signing cost on P-256). */
		if (ok)
			EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
	} else
		ok = EVP_MD_CTX_reset(c) == 1 &&
		    EVP_DigestSignInit(c, NULL, NULL, NULL, r->key) == 1;
	if (!ok) {
		log_openssl("ocsp: signing context");
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

static void
ctx_put(struct ocsp_responder *r, EVP_MD_CTX *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&r->pool_lock);
	if (r->npool < CTX_POOL) {
		r->pool[r->npool++] = c;
		c = NULL;	/* now the pool's */
	}
	pthread_mutex_unlock(&r->pool_lock);
	EVP_MD_CTX_free(c);
}

/* ---- building ---------------------------------------------------------- */

/*
 * CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash
 * OCTET STRING, issuerKeyHash OCTET STRING, serialNumber INTEGER }, echoed
 * as requested (RFC 6960 4.2.1); parameters NULL, as clients send for
 * SHA-1 and SHA-2.  0 when id is not encodable.
 */
static int
der_certid(struct der *d, const struct ocsp_certid *id)
{
	const ASN1_OBJECT *obj;
	size_t start = d->len, alg;
	int ol;

	if (id->name_hash_len == 0 || id->name_hash_len >
	    OCSP_CERTID_HASH_MAX || id->key_hash_len == 0 ||
	    id->key_hash_len > OCSP_CERTID_HASH_MAX ||
	    id->serial_der_len < 3 || id->serial_der_len >
	    sizeof(id->serial_der) || id->serial_der[0] != 0x02 ||
	    id->serial_der[1] != id->serial_der_len - 2)
		return 0;
	if (id->hash_nid == NID_undef ||
	    (obj = OBJ_nid2obj(id->hash_nid)) == NULL ||
	    (ol = (int)OBJ_length(obj)) <= 0 || ol > 64 ||
	    OBJ_get0_data(obj) == NULL)
		return 0;
	alg = d->len;
	der_tlv(d, 0x06, OBJ_get0_data(obj), (size_t)ol);
	der_byte(d, 0x05);
	der_byte(d, 0x00);
	der_wrap(d, alg, 0x30);
	der_tlv(d, 0x04, id->name_hash, id->name_hash_len);
	der_tlv(d, 0x04, id->key_hash, id->key_hash_len);
	der_put(d, id->serial_der, id->serial_der_len);
	der_wrap(d, start, 0x30);
	return 1;
}

/*
 * SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate,
 * nextUpdate [0] EXPLICIT OPTIONAL }; certStatus is good [0] IMPLICIT
 * NULL, revoked [1] IMPLICIT RevokedInfo { revocationTime,
 * revocationReason [0] EXPLICIT CRLReason OPTIONAL }, or unknown [2]
 * IMPLICIT NULL.  0 on a bad single (logged).
 */
static int
der_single(struct der *d, const struct ocsp_single *s, size_t i)
{
	size_t start = d->len, at;

	switch (s->status) {
	case OCSP_CERT_GOOD:
	case OCSP_CERT_UNKNOWN:
		break;
	case OCSP_CERT_REVOKED:
		if (s->reason != -1 && (!revoke_reason_valid(s->reason) ||
		    s->reason == REVOKE_REASON_REMOVE_FROM_CRL)) {
			log_err("ocsp: single %zu: bad reason %d", i, s->reason);
			return 0;
		}
		break;
	default:
		log_err("ocsp: single %zu: bad status %d", i, (int)s->status);
		return 0;
	}
	if (s->next_update != 0 && s->next_update <= s->this_update) {
		log_err("ocsp: single %zu: nextUpdate not after thisUpdate", i);
		return 0;
	}
	if (!der_certid(d, &s->id)) {
		log_err("ocsp: single %zu: bad CertID", i);
		return 0;
	}
	if (s->status == OCSP_CERT_GOOD) {
		der_byte(d, 0x80);
		der_byte(d, 0x00);
	} else if (s->status == OCSP_CERT_UNKNOWN) {
		der_byte(d, 0x82);
		der_byte(d, 0x00);
	} else {
		at = d->len;
		if (!der_gtime(d, s->revoked_at))
			goto badtime;
		/* unspecified (0) is left out, as in the CRL */
		if (s->reason > 0) {
			unsigned char rr[5] = { 0xa0, 0x03, 0x0a, 0x01,
			    (unsigned char)s->reason };

			der_put(d, rr, sizeof(rr));
		}
		der_wrap(d, at, 0xa1);
	}
	if (!der_gtime(d, s->this_update))
		goto badtime;
	if (s->next_update != 0) {
		at = d->len;
		if (!der_gtime(d, s->next_update))
			goto badtime;
		der_wrap(d, at, 0xa0);
	}
	der_wrap(d, start, 0x30);
	return 1;
badtime:
	log_err("ocsp: single %zu: time out of range", i);
	return 0;
}

/* id-pkix-ocsp-basic (RFC 6960 4.2.1) and id-pkix-ocsp-nonce, as OID TLVs */
static const unsigned char oid_basic[] = { 0x06, 0x09, 0x2b, 0x06, 0x01,
	0x05, 0x05, 0x07, 0x30, 0x01, 0x01 };
static const unsigned char oid_nonce[] = { 0x06, 0x09, 0x2b, 0x06, 0x01,
	0x05, 0x05, 0x07, 0x30, 0x01, 0x02 };

int
ocsp_resp_build(struct ocsp_responder *r, const struct ocsp_single *s,
    size_t n, const unsigned char *nonce_ext, size_t nonce_len,
    unsigned char **der, size_t *len)
{
	static const unsigned char status_ok[] = { 0x0a, 0x01, 0x00 };
	unsigned char sig[SIG_MAX];
	EVP_MD_CTX *ctx = NULL;
	struct der d = { NULL, 0, 0, 0 };
	size_t siglen, at, ext;
	int rc = OCSP_RESP_EINVAL;

	*der = NULL;
	*len = 0;
	if (r == NULL || s == NULL || n == 0 || n > OCSP_RESP_MAX_SINGLE ||
	    (nonce_ext != NULL && (nonce_len == 0 || nonce_len > 128))) {
		log_err("ocsp: bad arguments to ocsp_resp_build");
		goto out;
	}
	/* Bound: a single is at most ~470 octets (two 64-octet hashes, a
	 * 128-octet serial, three times); headers and fixed parts fit in
	 * the rest.  Overflow is still caught by der.err. */
	d.cap = 512 * n + nonce_len + r->sigalg_len + r->certs_len +
	    r->sig_max + 256;
	if ((d.p = malloc(d.cap)) == NULL) {
		log_err("ocsp: out of memory");
		rc = OCSP_RESP_ECRYPTO;
		goto out;
	}

	/* ResponseData ::= SEQUENCE { version [0] DEFAULT v1 (left out),
	 * responderID, producedAt, responses, responseExtensions [1] } */
	der_put(&d, r->respid, sizeof(r->respid));
	if (!der_gtime(&d, (int64_t)time(NULL)))
		goto out;
	at = d.len;
	for (size_t i = 0; i < n; i++)
		if (!der_single(&d, &s[i], i))
			goto out;
	der_wrap(&d, at, 0x30);
	if (nonce_ext != NULL) {
		/* RFC 8954 2.1: the request's extnValue echoed verbatim,
		 * not critical (DEFAULT FALSE, so left out). */
		ext = d.len;
		der_put(&d, oid_nonce, sizeof(oid_nonce));
		der_tlv(&d, 0x04, nonce_ext, nonce_len);
		der_wrap(&d, ext, 0x30);	/* Extension */
		der_wrap(&d, ext, 0x30);	/* Extensions */
		der_wrap(&d, ext, 0xa1);
	}
	der_wrap(&d, 0, 0x30);
	rc = OCSP_RESP_ECRYPTO;
	if (d.err) {
		log_err("ocsp: response larger than its bound");
		goto out;
	}

	/* BasicOCSPResponse ::= SEQUENCE { tbsResponseData,
	 * signatureAlgorithm, signature BIT STRING, certs [0] } */
	siglen = sizeof(sig);
	if ((ctx = ctx_get(r)) == NULL ||
	    EVP_DigestSign(ctx, sig, &siglen, d.p, d.len) != 1 ||
	    siglen == 0 || siglen > r->sig_max) {
		log_openssl("ocsp: EVP_DigestSign");
		goto out;
	}
	der_put(&d, r->sigalg, r->sigalg_len);
	at = d.len;
	der_byte(&d, 0x00);		/* no unused bits */
	der_put(&d, sig, siglen);
	der_wrap(&d, at, 0x03);
	der_put(&d, r->certs, r->certs_len);
	der_wrap(&d, 0, 0x30);

	/* OCSPResponse ::= SEQUENCE { responseStatus successful (0),
	 * responseBytes [0] EXPLICIT SEQUENCE { responseType, response
	 * OCTET STRING } } */
	der_wrap(&d, 0, 0x04);
	der_prepend(&d, oid_basic, sizeof(oid_basic));
	der_wrap(&d, 0, 0x30);
	der_wrap(&d, 0, 0xa0);
	der_prepend(&d, status_ok, sizeof(status_ok));
	der_wrap(&d, 0, 0x30);
	if (d.err) {
		log_err("ocsp: response larger than its bound");
		goto out;
	}
	*der = d.p;
	*len = d.len;
	d.p = NULL;		/* now the caller's */
	rc = OCSP_RESP_OK;
out:
	ctx_put(r, ctx);
	free(d.p);
	return rc;
}
