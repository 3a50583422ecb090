/*
 * jws.c - verify a flattened-JSON JWS against trusted manifest signers.
 *
 * Kept apart from manifest.c so that the part touching keys sees only
 * three base64url strings, never the rest of an untrusted entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/b64.h"
#include "ra/jws.h"

#define JWS_PROT_MAX	4096	/* encoded protected header, bytes */
#define JWS_SIG_MAX	1400	/* encoded signature: RSA-8192 is 1366 */
#define JWS_RSA_MIN_BITS 2048	/* RFC 7518 3.3 */

enum jws_kty { JWS_KTY_EC, JWS_KTY_RSA, JWS_KTY_RSA_PSS };

struct jws_alg {
	const char	*name;
	enum jws_kty	 kty;
	const char	*group;		/* EC: OpenSSL group name */
	size_t		 nlen;		/* EC: bytes of r and of s */
	const char	*md;
};

/* RFC 7518 3.1; PS256 uses a salt as long as the hash (3.5). */
static const struct jws_alg jws_algs[] = {
	{ "ES256", JWS_KTY_EC, "prime256v1", 32, "SHA256" },
	{ "ES384", JWS_KTY_EC, "secp384r1", 48, "SHA384" },
	{ "ES512", JWS_KTY_EC, "secp521r1", 66, "SHA512" },
	{ "RS256", JWS_KTY_RSA, NULL, 0, "SHA256" },
	{ "RS384", JWS_KTY_RSA, NULL, 0, "SHA384" },
	{ "RS512", JWS_KTY_RSA, NULL, 0, "SHA512" },
	{ "PS256", JWS_KTY_RSA_PSS, NULL, 0, "SHA256" },
};

static const struct jws_alg *
jws_alg_find(const char *name)
{
	for (size_t i = 0; i < sizeof(jws_algs) / sizeof(jws_algs[0]); i++)
		if (strcmp(jws_algs[i].name, name) == 0)
			return &jws_algs[i];
	return NULL;
}

/* Untrusted text goes into a one-line detail only if short and printable. */
static const char *
jws_printable(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n >= 16 || s[n] < 0x20 || s[n] > 0x7e || s[n] == '"')
			return "?";
	return s;
}

static const EVP_MD *
jws_md(const char *name)
{
	if (strcmp(name, "SHA256") == 0)
		return EVP_sha256();
	if (strcmp(name, "SHA384") == 0)
		return EVP_sha384();
	return EVP_sha512();
}

unsigned char *
ra_jws_ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen,
    size_t *derlen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	size_t n = rawlen / 2;
	int len;

	*derlen = 0;
	if (rawlen == 0 || rawlen % 2 != 0 || rawlen > 2 * 66)
		goto out;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(raw, (int)n, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + n, (int)n, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;		/* es owns them now */
	if ((len = i2d_ECDSA_SIG(es, &der)) <= 0) {
		der = NULL;
		goto out;
	}
	*derlen = (size_t)len;
 out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return der;
}

int
ra_jws_ecdsa_der_to_raw(const unsigned char *der, size_t derlen,
    size_t nlen, unsigned char *raw)
{
	ECDSA_SIG *es = NULL;
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	int ok = 0;

	if (derlen > 1024 || nlen == 0 || nlen > 66)
		goto out;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, raw, (int)nlen) != (int)nlen ||
	    BN_bn2binpad(s, raw + nlen, (int)nlen) != (int)nlen)
		goto out;
	ok = 1;
 out:
	ECDSA_SIG_free(es);
	ERR_clear_error();
	return ok;
}

/*
 * Parses the protected header: alg, and the signer named by x5t#S256 or
 * kid.  Returns RA_JWS_OK with *alg and *signer set.
 */
static enum ra_jws_status
jws_header(const struct ra_trust *t, const char *prot, size_t protlen,
    const struct jws_alg **alg, X509 **signer, char *detail, size_t detlen)
{
	enum ra_jws_status rc = RA_JWS_BAD_HEADER;
	unsigned char *raw = NULL, *x5t = NULL, *kid = NULL;
	size_t rawlen, x5tlen = 0, kidlen = 0;
	json_t *h = NULL, *v;
	json_error_t je;
	const char *name;

	*alg = NULL;
	*signer = NULL;
	if (protlen == 0 || protlen > JWS_PROT_MAX) {
		snprintf(detail, detlen, "protected header: length %zu",
		    protlen);
		goto out;
	}
	if ((raw = b64url_decode(prot, protlen, &rawlen)) == NULL) {
		snprintf(detail, detlen, "protected header: bad base64url");
		goto out;
	}
	if ((h = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    &je)) == NULL || !json_is_object(h)) {
		snprintf(detail, detlen, "protected header: %s",
		    h == NULL ? je.text : "not a JSON object");
		goto out;
	}
	v = json_object_get(h, "alg");
	if (!json_is_string(v)) {
		snprintf(detail, detlen, "protected header: alg %s",
		    v == NULL ? "missing" : "not a string");
		goto out;
	}
	name = json_string_value(v);
	if ((*alg = jws_alg_find(name)) == NULL) {
		rc = RA_JWS_UNSUPPORTED_ALG;
		snprintf(detail, detlen, "alg \"%s\" not accepted",
		    jws_printable(name));
		goto out;
	}
	/* RFC 7515 4.1.11: we understand no extension, so crit is fatal. */
	if (json_object_get(h, "crit") != NULL) {
		rc = RA_JWS_UNSUPPORTED_ALG;
		snprintf(detail, detlen, "protected header: crit not supported");
		goto out;
	}
	if ((v = json_object_get(h, "x5t#S256")) != NULL) {
		if (!json_is_string(v) || (x5t = b64url_decode(
		    json_string_value(v), json_string_length(v), &x5tlen)) ==
		    NULL || x5tlen != RA_TRUST_X5T_LEN) {
			snprintf(detail, detlen,
			    "protected header: x5t#S256 is not base64url of "
			    "32 bytes");
			goto out;
		}
	}
	if ((v = json_object_get(h, "kid")) != NULL) {
		if (!json_is_string(v) || (kid = b64url_decode(
		    json_string_value(v), json_string_length(v), &kidlen)) ==
		    NULL || kidlen == 0) {
			snprintf(detail, detlen,
			    "protected header: kid is not base64url");
			goto out;
		}
	}
	if (x5t == NULL && kid == NULL) {
		snprintf(detail, detlen,
		    "protected header: neither x5t#S256 nor kid");
		goto out;
	}
	/* A re-issued signer keeps its key and SKI: kid still finds it. */
	if (x5t != NULL)
		*signer = ra_trust_signer_by_x5t(t, x5t, x5tlen);
	if (*signer == NULL && kid != NULL)
		*signer = ra_trust_signer_by_kid(t, kid, kidlen);
	if (*signer == NULL) {
		rc = RA_JWS_UNKNOWN_SIGNER;
		snprintf(detail, detlen, "no trusted manifest signer matches "
		    "%s", x5t != NULL ? "x5t#S256 or kid" : "kid");
		goto out;
	}
	rc = RA_JWS_OK;
 out:
	free(raw);
	free(x5t);
	free(kid);
	json_decref(h);
	return rc;
}

/* Checks that key is of the type alg needs (RFC 7518 3.3, 3.4). */
static int
jws_key_fits(const struct jws_alg *alg, EVP_PKEY *key, char *detail,
    size_t detlen)
{
	char group[64];

	if (alg->kty == JWS_KTY_EC) {
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
		    EVP_PKEY_get_group_name(key, group, sizeof(group),
		    NULL) != 1 || strcmp(group, alg->group) != 0) {
			ERR_clear_error();
			snprintf(detail, detlen, "alg %s needs a %s key; the "
			    "signer's key differs", alg->name, alg->group);
			return 0;
		}
		return 1;
	}
	if ((EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA &&
	    !(alg->kty == JWS_KTY_RSA_PSS &&
	    EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS)) ||
	    EVP_PKEY_get_bits(key) < JWS_RSA_MIN_BITS) {
		snprintf(detail, detlen, "alg %s needs an RSA key of at least "
		    "%d bits", alg->name, JWS_RSA_MIN_BITS);
		return 0;
	}
	return 1;
}

enum ra_jws_status
ra_jws_verify(const struct ra_trust *t, const char *prot, size_t protlen,
    const char *payload, size_t paylen, const char *sig, size_t siglen,
    X509 **signer, char *detail, size_t detlen)
{
	enum ra_jws_status rc;
	const struct jws_alg *alg;
	unsigned char *raw = NULL, *der = NULL;
	const unsigned char *s;
	size_t rawlen = 0, derlen = 0, slen;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *key;
	X509 *cert;

	if (signer != NULL)
		*signer = NULL;
	detail[0] = '\0';
	rc = jws_header(t, prot, protlen, &alg, &cert, detail, detlen);
	if (rc != RA_JWS_OK)
		goto out;
	rc = RA_JWS_BAD_SIGNATURE;
	if ((key = X509_get0_pubkey(cert)) == NULL) {
		ERR_clear_error();
		snprintf(detail, detlen, "signer has no usable key");
		goto out;
	}
	if (!jws_key_fits(alg, key, detail, detlen))
		goto out;
	if (siglen == 0 || siglen > JWS_SIG_MAX ||
	    (raw = b64url_decode(sig, siglen, &rawlen)) == NULL) {
		snprintf(detail, detlen, "signature: bad base64url");
		goto out;
	}
	if (alg->kty == JWS_KTY_EC) {
		/* RFC 7518 3.4: exactly 2 * nlen octets, not DER. */
		if (rawlen != 2 * alg->nlen) {
			snprintf(detail, detlen, "signature: %zu bytes, %s "
			    "needs %zu", rawlen, alg->name, 2 * alg->nlen);
			goto out;
		}
		if ((der = ra_jws_ecdsa_raw_to_der(raw, rawlen, &derlen)) ==
		    NULL) {
			rc = RA_JWS_ERROR;
			snprintf(detail, detlen, "signature: conversion failed");
			goto out;
		}
		s = der;
		slen = derlen;
	} else {
		if (rawlen != (size_t)EVP_PKEY_get_size(key)) {
			snprintf(detail, detlen, "signature: %zu bytes, key "
			    "needs %d", rawlen, EVP_PKEY_get_size(key));
			goto out;
		}
		s = raw;
		slen = rawlen;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, &pctx, jws_md(alg->md), NULL, key) !=
	    1) {
		rc = RA_JWS_ERROR;
		snprintf(detail, detlen, "EVP_DigestVerifyInit failed");
		goto out;
	}
	if (alg->kty == JWS_KTY_RSA_PSS &&
	    EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) !=
	    1)) {
		rc = RA_JWS_ERROR;
		snprintf(detail, detlen, "cannot set up RSA-PSS");
		goto out;
	}
	/* RFC 7515 5.2 step 8: ASCII(protected || '.' || payload). */
	if (EVP_DigestVerifyUpdate(ctx, prot, protlen) != 1 ||
	    EVP_DigestVerifyUpdate(ctx, ".", 1) != 1 ||
	    EVP_DigestVerifyUpdate(ctx, payload, paylen) != 1) {
		rc = RA_JWS_ERROR;
		snprintf(detail, detlen, "EVP_DigestVerifyUpdate failed");
		goto out;
	}
	if (EVP_DigestVerifyFinal(ctx, s, slen) != 1) {
		snprintf(detail, detlen, "signature does not verify with the "
		    "%s signer key", alg->name);
		goto out;
	}
	if (signer != NULL)
		*signer = cert;
	rc = RA_JWS_OK;
 out:
	ERR_clear_error();	/* expected failures must not blame others */
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	free(raw);
	return rc;
}

/* ---- per-thread verifier ------------------------------------------ */

#define JWS_CACHE_SLOTS	4	/* distinct protected headers kept */

/* One protected header seen before, with its verify set-up. */
struct jws_slot {
	char			*prot;		/* owned copy of the text */
	size_t			 protlen;
	const struct jws_alg	*alg;
	X509			*signer;	/* lent by the trust set */
	EVP_PKEY_CTX		*pctx;		/* owned; verify-initialised */
	const EVP_MD		*md;		/* lent by the verifier */
};

struct ra_jws_verifier {
	const struct ra_trust	*trust;
	EVP_MD_CTX		*mdctx;		/* owned, reused per entry */
	EVP_MD			*md[3];		/* owned: SHA-256/384/512 */
	struct jws_slot		 slots[JWS_CACHE_SLOTS];
	size_t			 nslots;
	size_t			 victim;	/* next slot to replace */
};

static void
jws_slot_clear(struct jws_slot *s)
{
	free(s->prot);
	EVP_PKEY_CTX_free(s->pctx);
	memset(s, 0, sizeof(*s));
}

struct ra_jws_verifier *
ra_jws_verifier_new(const struct ra_trust *t)
{
	static const char *const names[3] = { "SHA256", "SHA384", "SHA512" };
	struct ra_jws_verifier *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->trust = t;
	/* Explicit fetches: the implicit EVP_sha256() path looks the
	 * algorithm up again in every EVP_DigestInit_ex(). */
	if ((v->mdctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	for (size_t i = 0; i < 3; i++)
		if ((v->md[i] = EVP_MD_fetch(NULL, names[i], NULL)) == NULL)
			goto fail;
	return v;
 fail:
	ERR_clear_error();
	ra_jws_verifier_free(v);
	return NULL;
}

void
ra_jws_verifier_free(struct ra_jws_verifier *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nslots; i++)
		jws_slot_clear(&v->slots[i]);
	for (size_t i = 0; i < 3; i++)
		EVP_MD_free(v->md[i]);
	EVP_MD_CTX_free(v->mdctx);
	free(v);
}

/* DER INTEGER of the n-byte unsigned big-endian value at b; returns the
 * bytes written to out (at most n + 3). */
static size_t
jws_der_uint(const unsigned char *b, size_t n, unsigned char *out)
{
	size_t i = 0, len, o = 0;

	while (i < n && b[i] == 0)	/* X.690 8.3.2: minimal octets */
		i++;
	len = n - i;
	out[o++] = 0x02;
	if (len == 0) {
		out[o++] = 1;
		out[o++] = 0;
		return o;
	}
	out[o++] = (unsigned char)(len + ((b[i] & 0x80) != 0));
	if (b[i] & 0x80)		/* keep it positive */
		out[o++] = 0;
	memcpy(out + o, b + i, len);
	return o + len;
}

size_t
ra_jws_ecdsa_raw_to_der_buf(const unsigned char *raw, size_t rawlen,
    unsigned char der[RA_JWS_ECDSA_DER_MAX])
{
	unsigned char body[RA_JWS_ECDSA_DER_MAX];
	size_t n = rawlen / 2, blen, o = 0;

	if (rawlen == 0 || rawlen % 2 != 0 || rawlen > 2 * 66)
		return 0;
	blen = jws_der_uint(raw, n, body);
	blen += jws_der_uint(raw + n, n, body + blen);
	der[o++] = 0x30;
	if (blen >= 0x80)
		der[o++] = 0x81;
	der[o++] = (unsigned char)blen;
	memcpy(der + o, body, blen);
	return o + blen;
}

/*
 * Finds or builds the slot for protected header prot.  Returns RA_JWS_OK
 * with *slot set, or the header's refusal.  *slot is NULL with RA_JWS_OK
 * when the alg is not one this path handles (RSA): use ra_jws_verify().
 */
static enum ra_jws_status
jws_slot_get(struct ra_jws_verifier *v, const char *prot, size_t protlen,
    struct jws_slot **slot, char *detail, size_t detlen)
{
	enum ra_jws_status rc;
	const struct jws_alg *alg;
	struct jws_slot *s;
	EVP_PKEY *key;
	X509 *cert;
	const EVP_MD *md;

	*slot = NULL;
	for (size_t i = 0; i < v->nslots; i++) {
		s = &v->slots[i];
		if (s->protlen == protlen && memcmp(s->prot, prot, protlen) ==
		    0) {
			*slot = s;
			return RA_JWS_OK;
		}
	}
	/* Not cached: refusals are judged afresh each time (rare). */
	rc = jws_header(v->trust, prot, protlen, &alg, &cert, detail, detlen);
	if (rc != RA_JWS_OK)
		return rc;
	if (alg->kty != JWS_KTY_EC)
		return RA_JWS_OK;
	if ((key = X509_get0_pubkey(cert)) == NULL) {
		ERR_clear_error();
		snprintf(detail, detlen, "signer has no usable key");
		return RA_JWS_BAD_SIGNATURE;
	}
	if (!jws_key_fits(alg, key, detail, detlen))
		return RA_JWS_BAD_SIGNATURE;
	md = strcmp(alg->md, "SHA256") == 0 ? v->md[0] :
	    strcmp(alg->md, "SHA384") == 0 ? v->md[1] : v->md[2];
	if (v->nslots < JWS_CACHE_SLOTS) {
		s = &v->slots[v->nslots++];
	} else {
		s = &v->slots[v->victim];
		v->victim = (v->victim + 1) % JWS_CACHE_SLOTS;
		jws_slot_clear(s);
	}
	if ((s->prot = malloc(protlen)) == NULL ||
	    (s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_verify_init(s->pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(s->pctx, md) != 1) {
		jws_slot_clear(s);
		/* Keep the slot array dense: move the last one here. */
		if (s != &v->slots[v->nslots - 1]) {
			*s = v->slots[v->nslots - 1];
			memset(&v->slots[v->nslots - 1], 0, sizeof(*s));
		}
		v->nslots--;
		v->victim = 0;
		ERR_clear_error();
		snprintf(detail, detlen, "cannot set up the %s verifier",
		    alg->name);
		return RA_JWS_ERROR;
	}
	memcpy(s->prot, prot, protlen);
	s->protlen = protlen;
	s->alg = alg;
	s->signer = cert;
	s->md = md;
	*slot = s;
	return RA_JWS_OK;
}

enum ra_jws_status
ra_jws_verifier_verify(struct ra_jws_verifier *v, const char *prot,
    size_t protlen, const char *payload, size_t paylen, const char *sig,
    size_t siglen, X509 **signer, char *detail, size_t detlen)
{
	enum ra_jws_status rc;
	struct jws_slot *s;
	unsigned char *raw = NULL, der[RA_JWS_ECDSA_DER_MAX];
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	size_t rawlen = 0, derlen;

	if (signer != NULL)
		*signer = NULL;
	detail[0] = '\0';
	if ((rc = jws_slot_get(v, prot, protlen, &s, detail, detlen)) !=
	    RA_JWS_OK)
		goto out;
	if (s == NULL)
		return ra_jws_verify(v->trust, prot, protlen, payload, paylen,
		    sig, siglen, signer, detail, detlen);
	rc = RA_JWS_BAD_SIGNATURE;
	if (siglen == 0 || siglen > JWS_SIG_MAX ||
	    (raw = b64url_decode(sig, siglen, &rawlen)) == NULL) {
		snprintf(detail, detlen, "signature: bad base64url");
		goto out;
	}
	/* RFC 7518 3.4: exactly 2 * nlen octets, not DER. */
	if (rawlen != 2 * s->alg->nlen) {
		snprintf(detail, detlen, "signature: %zu bytes, %s needs %zu",
		    rawlen, s->alg->name, 2 * s->alg->nlen);
		goto out;
	}
	if ((derlen = ra_jws_ecdsa_raw_to_der_buf(raw, rawlen, der)) == 0) {
		rc = RA_JWS_ERROR;
		snprintf(detail, detlen, "signature: conversion failed");
		goto out;
	}
	/* RFC 7515 5.2 step 8: ASCII(protected || '.' || payload). */
	if (EVP_DigestInit_ex2(v->mdctx, s->md, NULL) != 1 ||
	    EVP_DigestUpdate(v->mdctx, prot, protlen) != 1 ||
	    EVP_DigestUpdate(v->mdctx, ".", 1) != 1 ||
	    EVP_DigestUpdate(v->mdctx, payload, paylen) != 1 ||
	    EVP_DigestFinal_ex(v->mdctx, dgst, &dlen) != 1) {
		rc = RA_JWS_ERROR;
		snprintf(detail, detlen, "digest failed");
		goto out;
	}
	if (EVP_PKEY_verify(s->pctx, der, derlen, dgst, dlen) != 1) {
		snprintf(detail, detlen, "signature does not verify with the "
		    "%s signer key", s->alg->name);
		goto out;
	}
	if (signer != NULL)
		*signer = s->signer;
	rc = RA_JWS_OK;
 out:
	ERR_clear_error();
	free(raw);
	return rc;
}
