/*
 * csr.c - PKCS#10 requests without the provider key decoder (see csr.h).
 *
 * Why: d2i_X509_REQ in OpenSSL 3.0 runs OSSL_DECODER_CTX_new_for_pkey for
 * the public key (about 200 us, lock-heavy); building the key from the
 * point on a copy of a ready per-curve key costs about 10 us.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/csr.h"
#include "ca/csrwalk.h"
#include "common/log.h"

struct ca_csr {
	X509_REQ	*req;		/* slow path; owned; NULL when fast */
	EVP_PKEY	*key;		/* owned reference; NULL: undecodable */
	X509_NAME	*subject;	/* fast path; owned */
	X509_PUBKEY	*spki;		/* fast path: algorithm + point, no
					 * decoded key; owned */
	unsigned char	*spki_der;	/* fast path: the request's SPKI TLV
					 * (strict DER, so canonical);
					 * owned (OPENSSL_free) */
	size_t		 spki_der_len;
	unsigned char	 spki_md[32];	/* fast path: SHA-256 of SPKI DER */
	int		 sig_ok;
};

/* ---- the EC key builder ------------------------------------------------ */

/*
 * One parameters-only key per curve, made once and then only read.
 * Building a key from the group name (EVP_PKEY_fromdata) makes OpenSSL
 * 3.0 construct the curve group afresh (EC_GROUP_new_by_curve_name_ex,
 * BN_MONT_CTX_set) for every request; copying the parameters of a ready
 * key copies the group instead, at about a third of the cost.  Owned by
 * this file for the life of the process (reachable, so no leak report).
 */
static pthread_once_t csr_once = PTHREAD_ONCE_INIT;
static EVP_PKEY *csr_curve[2];		/* [0] P-256, [1] P-384 */

static void
csr_curve_init(void)
{
	static const char *const names[2] = { "prime256v1", "secp384r1" };
	EVP_PKEY_CTX *ctx;
	OSSL_PARAM params[2];
	char group[16];

	for (int i = 0; i < 2; i++) {
		snprintf(group, sizeof(group), "%s", names[i]);
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
		params[1] = OSSL_PARAM_construct_end();
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ==
		    NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, &csr_curve[i],
		    EVP_PKEY_KEY_PARAMETERS, params) != 1)
			csr_curve[i] = NULL;	/* then every parse fails */
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
}

/*
 * The EC public key for point on the walker's curve.  OpenSSL's EC import
 * (EC_POINT_oct2point) refuses a point that is not on the curve: then
 * *key is NULL and the return is still 0 (the request's key is bad, which
 * is the RA's finding, not ours).  -1 only when the builder failed.
 */
static int
csr_ec_key(enum ca_csrwalk_curve curve, const unsigned char *point,
    size_t len, EVP_PKEY **key)
{
	EVP_PKEY *tmpl, *k;

	*key = NULL;
	if (pthread_once(&csr_once, csr_curve_init) != 0 ||
	    (tmpl = csr_curve[curve == CA_CSRWALK_P256 ? 0 : 1]) == NULL ||
	    (k = EVP_PKEY_new()) == NULL)
		return -1;
	if (EVP_PKEY_copy_parameters(k, tmpl) != 1) {
		EVP_PKEY_free(k);
		return -1;
	}
	/* Validates the encoding and that the point is on the curve. */
	if (EVP_PKEY_set1_encoded_public_key(k, point, len) != 1) {
		EVP_PKEY_free(k);
		ERR_clear_error();
		return 0;
	}
	*key = k;
	return 0;
}

/* Checks the ECDSA signature over the CertificationRequestInfo bytes. */
static int
csr_verify(EVP_PKEY *key, const struct ca_csrwalk *w)
{
	EVP_MD_CTX *md;
	int ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestVerifyInit(md, NULL, w->hash == CA_CSRWALK_SHA256 ?
	    EVP_sha256() : EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, w->sig, w->sig_len, w->info, w->info_len) ==
	    1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();	/* a bad signature is an answer, not a fault */
	return ok;
}

/* Algorithm and point as an X509_PUBKEY, built without any encoder. */
static X509_PUBKEY *
csr_spki(const struct ca_csrwalk *w)
{
	X509_PUBKEY *xp;
	unsigned char *pt;
	int nid = w->curve == CA_CSRWALK_P256 ? NID_X9_62_prime256v1 :
	    NID_secp384r1;

	if ((xp = X509_PUBKEY_new()) == NULL)
		return NULL;
	if ((pt = OPENSSL_memdup(w->point, w->point_len)) == NULL)
		goto fail;
	/* set0 takes pt on success. */
	if (X509_PUBKEY_set0_param(xp, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(nid), pt, (int)w->point_len) != 1) {
		OPENSSL_free(pt);
		goto fail;
	}
	return xp;
fail:
	X509_PUBKEY_free(xp);
	return NULL;
}

/*
 * The fast path.  1 done (*c filled), 0 "not for the fast path" (the
 * caller takes the slow path), -1 failure of ours.
 */
static int
csr_fast(const unsigned char *der, size_t len, struct ca_csr *c)
{
	struct ca_csrwalk w;
	const unsigned char *p;
	unsigned int mdlen = 0;
	int v;

	if (!ca_csrwalk_parse(der, len, &w))
		return 0;
	p = w.subject;		/* d2i advances its argument: a copy */
	if ((c->subject = d2i_X509_NAME(NULL, &p, (long)w.subject_len)) ==
	    NULL || p != w.subject + w.subject_len) {
		/* A Name OpenSSL refuses: let d2i_X509_REQ say so. */
		X509_NAME_free(c->subject);
		c->subject = NULL;
		ERR_clear_error();
		return 0;
	}
	if (csr_ec_key(w.curve, w.point, w.point_len, &c->key) != 0)
		return -1;
	if (c->key == NULL) {
		/* Off the curve: the slow path gives the same verdict (no
		 * key) through the route every other bad key takes. */
		return 0;
	}
	if ((v = csr_verify(c->key, &w)) < 0)
		return -1;
	c->sig_ok = v;
	if ((c->spki = csr_spki(&w)) == NULL)
		return -1;
	if ((c->spki_der = OPENSSL_memdup(w.spki, w.spki_len)) == NULL)
		return -1;
	c->spki_der_len = w.spki_len;
	if (EVP_Digest(w.spki, w.spki_len, c->spki_md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != sizeof(c->spki_md))
		return -1;
	return 1;
}

/* Fills the slow-path facts of c from c->req. */
static int
csr_slow_facts(struct ca_csr *c)
{
	EVP_PKEY *k = X509_REQ_get0_pubkey(c->req);

	if (k != NULL) {
		if (EVP_PKEY_up_ref(k) != 1)
			return -1;
		c->key = k;
		/* 1 only for a good signature; 0 and -1 both refuse. */
		c->sig_ok = X509_REQ_verify(c->req, k) == 1;
	}
	ERR_clear_error();
	return 0;
}

static void
csr_clear_fast(struct ca_csr *c)
{
	EVP_PKEY_free(c->key);
	X509_NAME_free(c->subject);
	X509_PUBKEY_free(c->spki);
	OPENSSL_free(c->spki_der);
	c->key = NULL;
	c->subject = NULL;
	c->spki = NULL;
	c->spki_der = NULL;
	c->spki_der_len = 0;
	c->sig_ok = 0;
}

enum ca_err
ca_csr_parse(const unsigned char *der, size_t len, struct ca_csr **out)
{
	struct ca_csr *c = NULL;
	enum ca_err e = CA_ERR_INTERNAL;
	int r;

	if (out == NULL)
		return CA_ERR_INTERNAL;
	*out = NULL;
	if (der == NULL || len == 0 || len > CA_CSR_MAX)
		return CA_ERR_MALFORMED;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CA_ERR_INTERNAL;
	if ((r = csr_fast(der, len, c)) < 0) {
		log_openssl("csr: fast path");
		goto out;
	}
	if (r == 0) {
		csr_clear_fast(c);
		if ((e = ca_csr_from_der(der, len, &c->req)) != CA_OK)
			goto out;
		e = CA_ERR_INTERNAL;
		if (csr_slow_facts(c) != 0)
			goto out;
	}
	*out = c;
	c = NULL;
	e = CA_OK;
out:
	ca_csr_free(c);
	ERR_clear_error();
	return e;
}

struct ca_csr *
ca_csr_from_req(X509_REQ *req)
{
	struct ca_csr *c;

	if (req == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		X509_REQ_free(req);
		return NULL;
	}
	c->req = req;
	if (csr_slow_facts(c) != 0) {
		ca_csr_free(c);
		return NULL;
	}
	return c;
}

void
ca_csr_free(struct ca_csr *c)
{
	if (c == NULL)
		return;
	csr_clear_fast(c);
	X509_REQ_free(c->req);
	free(c);
}

EVP_PKEY *
ca_csr_key(const struct ca_csr *c)
{
	return c != NULL ? c->key : NULL;
}

int
ca_csr_sig_ok(const struct ca_csr *c)
{
	return c != NULL && c->sig_ok;
}

const X509_NAME *
ca_csr_subject(const struct ca_csr *c)
{
	if (c == NULL)
		return NULL;
	return c->req != NULL ? X509_REQ_get_subject_name(c->req) :
	    c->subject;
}

int
ca_csr_is_fast(const struct ca_csr *c)
{
	return c != NULL && c->req == NULL;
}

X509_REQ *
ca_csr_req(const struct ca_csr *c)
{
	return c != NULL ? c->req : NULL;
}

X509_PUBKEY *
ca_csr_canonical_spki(const struct ca_csr *c)
{
	if (c == NULL)
		return NULL;
	return c->req != NULL ? ca_req_canonical_spki(c->req) : c->spki;
}

int
ca_csr_spki_hash(const struct ca_csr *c, unsigned char md[32])
{
	if (c == NULL)
		return -1;
	if (c->req != NULL)
		return ca_csr_spki_sha256(c->req, md);
	memcpy(md, c->spki_md, sizeof(c->spki_md));
	return 0;
}

int
ca_csr_spki_der(const struct ca_csr *c, const unsigned char **der,
    size_t *len)
{
	if (c == NULL || c->req != NULL || c->spki_der == NULL)
		return -1;
	*der = c->spki_der;
	*len = c->spki_der_len;
	return 0;
}
