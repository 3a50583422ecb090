/*
 * ocsp_resp.c - BasicOCSPResponse signing (RFC 6960 4.2.1) and CertID
 * matching (RFC 6960 4.1.1) through OpenSSL's OCSP_* API.
 *
 * The OpenSSL object path is fine here: a response holds a handful of
 * single responses and the signature dominates its cost.  Only the CertID
 * is rebuilt from DER, because a CertID must be echoed exactly as the
 * client sent it (hash algorithm, hashes and serial) even when it names
 * no certificate of ours, and OpenSSL has no setter for its fields.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/ocsp_resp.h"
#include "ca/revoke_reason.h"
#include "common/log.h"

#define OCSP_RESP_MAX_SINGLE	64

struct ocsp_responder {
	X509 *signer;		/* owned reference */
	EVP_PKEY *key;		/* owned reference */
	const EVP_MD *md;	/* NULL for Ed25519 */
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
	if (!X509_up_ref(signer) || !EVP_PKEY_up_ref(key)) {
		log_openssl("ocsp: up_ref");
		goto fail;
	}
	r->signer = signer;
	r->key = key;
	return r;
fail:
	free(r);
	return NULL;
}

void
ocsp_responder_free(struct ocsp_responder *r)
{
	if (r == NULL)
		return;
	X509_free(r->signer);
	EVP_PKEY_free(r->key);
	free(r);
}

/* ---- building ---------------------------------------------------------- */

/* Appends tag + definite length (contents < 64 KiB here). */
static size_t
put_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	p[0] = tag;
	if (n < 0x80) {
		p[1] = (unsigned char)n;
		return 2;
	}
	if (n < 0x100) {
		p[1] = 0x81;
		p[2] = (unsigned char)n;
		return 3;
	}
	p[1] = 0x82;
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 4;
}

/*
 * Rebuilds the OCSP_CERTID for id from DER (see the file comment).
 * CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier (parameters
 * NULL, as clients send for SHA-1 and SHA-2), issuerNameHash, issuerKeyHash
 * OCTET STRING, serialNumber INTEGER }.  Caller frees with OCSP_CERTID_free.
 */
static OCSP_CERTID *
certid_make(const struct ocsp_certid *id)
{
	unsigned char buf[512], body[512], oid[64], *op = oid;
	const unsigned char *q;
	const ASN1_OBJECT *obj;
	size_t n = 0, alg;
	int oidlen;

	if (id->name_hash_len > OCSP_CERTID_HASH_MAX ||
	    id->key_hash_len > OCSP_CERTID_HASH_MAX ||
	    id->serial_der_len < 3 || id->serial_der_len >
	    sizeof(id->serial_der) || id->serial_der[0] != 0x02)
		return NULL;
	if ((obj = OBJ_nid2obj(id->hash_nid)) == NULL ||
	    (oidlen = i2d_ASN1_OBJECT(obj, NULL)) <= 0 ||
	    (size_t)oidlen > sizeof(oid) || i2d_ASN1_OBJECT(obj, &op) != oidlen)
		return NULL;
	alg = (size_t)oidlen + 2;
	n += put_hdr(body + n, 0x30, alg);
	memcpy(body + n, oid, (size_t)oidlen);
	n += (size_t)oidlen;
	body[n++] = 0x05;
	body[n++] = 0x00;
	n += put_hdr(body + n, 0x04, id->name_hash_len);
	memcpy(body + n, id->name_hash, id->name_hash_len);
	n += id->name_hash_len;
	n += put_hdr(body + n, 0x04, id->key_hash_len);
	memcpy(body + n, id->key_hash, id->key_hash_len);
	n += id->key_hash_len;
	memcpy(body + n, id->serial_der, id->serial_der_len);
	n += id->serial_der_len;
	alg = put_hdr(buf, 0x30, n);
	memcpy(buf + alg, body, n);
	q = buf;
	return d2i_OCSP_CERTID(NULL, &q, (long)(alg + n));
}

/* Adds one SingleResponse to bs.  0 on failure (logged). */
static int
add_single(OCSP_BASICRESP *bs, const struct ocsp_single *s, size_t i)
{
	OCSP_CERTID *cid = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int reason = -1, ok = 0, st;

	switch (s->status) {
	case OCSP_CERT_GOOD:
		st = V_OCSP_CERTSTATUS_GOOD;
		break;
	case OCSP_CERT_REVOKED:
		st = V_OCSP_CERTSTATUS_REVOKED;
		if (s->reason != -1 && (!revoke_reason_valid(s->reason) ||
		    s->reason == REVOKE_REASON_REMOVE_FROM_CRL)) {
			log_err("ocsp: single %zu: bad reason %d", i, s->reason);
			goto out;
		}
		reason = s->reason > 0 ? s->reason : -1;
		if ((rev = ASN1_GENERALIZEDTIME_set(NULL,
		    (time_t)s->revoked_at)) == NULL) {
			log_openssl("ocsp: single %zu: revocation time", i);
			goto out;
		}
		break;
	case OCSP_CERT_UNKNOWN:
		st = V_OCSP_CERTSTATUS_UNKNOWN;
		break;
	default:
		log_err("ocsp: single %zu: bad status %d", i, (int)s->status);
		goto out;
	}
	if (s->next_update != 0 && s->next_update <= s->this_update) {
		log_err("ocsp: single %zu: nextUpdate not after thisUpdate", i);
		goto out;
	}
	if ((cid = certid_make(&s->id)) == NULL) {
		log_openssl("ocsp: single %zu: bad CertID", i);
		goto out;
	}
	if ((thisupd = ASN1_GENERALIZEDTIME_set(NULL,
	    (time_t)s->this_update)) == NULL || (s->next_update != 0 &&
	    (nextupd = ASN1_GENERALIZEDTIME_set(NULL,
	    (time_t)s->next_update)) == NULL)) {
		log_openssl("ocsp: single %zu: update times", i);
		goto out;
	}
	if (OCSP_basic_add1_status(bs, cid, st, reason, rev, thisupd,
	    nextupd) == NULL) {
		log_openssl("ocsp: OCSP_basic_add1_status");
		goto out;
	}
	ok = 1;
out:
	OCSP_CERTID_free(cid);
	ASN1_GENERALIZEDTIME_free(rev);
	ASN1_GENERALIZEDTIME_free(thisupd);
	ASN1_GENERALIZEDTIME_free(nextupd);
	return ok;
}

/* Echoes the request's nonce extnValue (RFC 8954 2.1; not critical). */
static int
add_nonce(OCSP_BASICRESP *bs, const unsigned char *v, size_t len)
{
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	int ok = 0;

	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, v, (int)len) ||
	    (ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce,
	    0, os)) == NULL || !OCSP_BASICRESP_add_ext(bs, ext, -1)) {
		log_openssl("ocsp: cannot add the nonce");
		goto out;
	}
	ok = 1;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	return ok;
}

int
ocsp_resp_build(const struct ocsp_responder *r, const struct ocsp_single *s,
    size_t n, const unsigned char *nonce_ext, size_t nonce_len,
    unsigned char **der, size_t *len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL, *p;
	int rc = OCSP_RESP_EINVAL, dl;

	*der = NULL;
	*len = 0;
	if (r == NULL || s == NULL || n == 0 || n > OCSP_RESP_MAX_SINGLE ||
	    (nonce_ext != NULL && (nonce_len == 0 || nonce_len > 128))) {
		log_err("ocsp: bad arguments to ocsp_resp_build");
		goto out;
	}
	if ((bs = OCSP_BASICRESP_new()) == NULL) {
		rc = OCSP_RESP_ECRYPTO;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!add_single(bs, &s[i], i))
			goto out;
	rc = OCSP_RESP_ECRYPTO;
	if (nonce_ext != NULL && !add_nonce(bs, nonce_ext, nonce_len))
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, r->md, NULL, r->key) != 1) {
		log_openssl("ocsp: EVP_DigestSignInit");
		goto out;
	}
	/* byKey (RFC 6960 4.2.1; RFC 5019 2.2.3 prefers it), with the signer
	 * certificate in certs so clients can check the delegation. */
	if (OCSP_basic_sign_ctx(bs, r->signer, ctx, NULL,
	    OCSP_RESPID_KEY) != 1) {
		log_openssl("ocsp: OCSP_basic_sign_ctx");
		goto out;
	}
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	    bs)) == NULL || (dl = i2d_OCSP_RESPONSE(resp, NULL)) <= 0) {
		log_openssl("ocsp: encoding the response");
		goto out;
	}
	if ((buf = malloc((size_t)dl)) == NULL) {
		log_err("ocsp: out of memory");
		goto out;
	}
	p = buf;
	if (i2d_OCSP_RESPONSE(resp, &p) != dl) {
		log_openssl("ocsp: i2d_OCSP_RESPONSE");
		goto out;
	}
	*der = buf;
	*len = (size_t)dl;
	buf = NULL;		/* now the caller's */
	rc = OCSP_RESP_OK;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return rc;
}
