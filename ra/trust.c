/*
 * trust.c - manifest-signer and manufacturer trust for the RA.
 *
 * The sets are small (a handful of certificates per vendor), so lookups
 * are linear scans over precomputed SHA-256 and SKI values; what matters
 * is that they allocate nothing and take no lock, so that the manifest
 * verifier's worker threads can call them concurrently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "ra/trust.h"

#define TRUST_SKI_MAX 64	/* RFC 5280 4.2.1.2 SKIs are 20 bytes in practice */

struct trust_signer {
	X509		*cert;			/* owned reference */
	unsigned char	 x5t[RA_TRUST_X5T_LEN];	/* SHA-256 of DER */
	unsigned char	 ski[TRUST_SKI_MAX];
	size_t		 skilen;		/* 0: no SKI */
};

struct trust_mfg {
	X509		*cert;			/* owned reference */
	int		 is_root;
};

struct ra_trust {
	struct trust_signer	*signers;
	size_t			 signersz;
	struct trust_mfg	*mfgs;
	size_t			 mfgsz;
	X509_STORE		*store;		/* roots + intermediates */
};

struct ra_trust *
ra_trust_new(void)
{
	struct ra_trust *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->store = X509_STORE_new()) == NULL) {
		log_openssl("X509_STORE_new");
		free(t);
		return NULL;
	}
	return t;
}

void
ra_trust_free(struct ra_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->signersz; i++)
		X509_free(t->signers[i].cert);
	for (size_t i = 0; i < t->mfgsz; i++)
		X509_free(t->mfgs[i].cert);
	free(t->signers);
	free(t->mfgs);
	X509_STORE_free(t->store);
	free(t);
}

int
ra_trust_add_manifest_signer(struct ra_trust *t, X509 *cert, char *err,
    size_t errlen)
{
	struct trust_signer s, *ns;
	const ASN1_OCTET_STRING *ski;
	unsigned int mdlen = 0;

	memset(&s, 0, sizeof(s));
	if (X509_get0_pubkey(cert) == NULL) {
		ERR_clear_error();
		snprintf(err, errlen, "manifest signer: unusable public key");
		return 0;
	}
	if (X509_digest(cert, EVP_sha256(), s.x5t, &mdlen) != 1 ||
	    mdlen != RA_TRUST_X5T_LEN) {
		log_openssl("X509_digest");
		snprintf(err, errlen, "manifest signer: cannot hash certificate");
		return 0;
	}
	if (ra_trust_signer_by_x5t(t, s.x5t, sizeof(s.x5t)) != NULL) {
		snprintf(err, errlen, "manifest signer: already trusted");
		return 0;
	}
	if ((ski = X509_get0_subject_key_id(cert)) != NULL) {
		int n = ASN1_STRING_length(ski);

		if (n <= 0 || n > TRUST_SKI_MAX) {
			snprintf(err, errlen,
			    "manifest signer: subjectKeyIdentifier of %d bytes",
			    n);
			return 0;
		}
		memcpy(s.ski, ASN1_STRING_get0_data(ski), (size_t)n);
		s.skilen = (size_t)n;
	}
	ERR_clear_error();	/* X509_get0_subject_key_id may queue */
	ns = reallocarray(t->signers, t->signersz + 1, sizeof(*ns));
	if (ns == NULL) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	t->signers = ns;
	if (X509_up_ref(cert) != 1) {
		snprintf(err, errlen, "X509_up_ref failed");
		return 0;
	}
	s.cert = cert;
	t->signers[t->signersz++] = s;
	return 1;
}

int
ra_trust_add_manufacturer(struct ra_trust *t, X509 *cert, int is_root,
    char *err, size_t errlen)
{
	struct trust_mfg *nm;
	const char *what = is_root ? "manufacturer root" : "manufacturer CA";

	/* X509_check_ca() == 1 only for basicConstraints cA TRUE (v3). */
	if (X509_check_ca(cert) != 1) {
		snprintf(err, errlen, "%s: not a CA certificate "
		    "(basicConstraints cA is not TRUE)", what);
		return 0;
	}
	if (is_root && X509_self_signed(cert, 1) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: not self-signed (add it as an "
		    "intermediate, with its root)", what);
		return 0;
	}
	for (size_t i = 0; i < t->mfgsz; i++) {
		if (X509_cmp(t->mfgs[i].cert, cert) == 0) {
			snprintf(err, errlen, "%s: already trusted", what);
			return 0;
		}
	}
	nm = reallocarray(t->mfgs, t->mfgsz + 1, sizeof(*nm));
	if (nm == NULL) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	t->mfgs = nm;
	/* The store takes its own reference. */
	if (X509_STORE_add_cert(t->store, cert) != 1) {
		log_openssl("X509_STORE_add_cert");
		snprintf(err, errlen, "%s: X509_STORE_add_cert failed", what);
		return 0;
	}
	if (X509_up_ref(cert) != 1) {
		snprintf(err, errlen, "X509_up_ref failed");
		return 0;
	}
	t->mfgs[t->mfgsz].cert = cert;
	t->mfgs[t->mfgsz].is_root = is_root != 0;
	t->mfgsz++;
	return 1;
}

X509 *
ra_trust_signer_by_x5t(const struct ra_trust *t, const unsigned char *x5t,
    size_t len)
{
	if (len != RA_TRUST_X5T_LEN)
		return NULL;
	for (size_t i = 0; i < t->signersz; i++)
		if (memcmp(t->signers[i].x5t, x5t, len) == 0)
			return t->signers[i].cert;
	return NULL;
}

X509 *
ra_trust_signer_by_kid(const struct ra_trust *t, const unsigned char *kid,
    size_t len)
{
	if (len == 0)
		return NULL;
	for (size_t i = 0; i < t->signersz; i++)
		if (t->signers[i].skilen == len &&
		    memcmp(t->signers[i].ski, kid, len) == 0)
			return t->signers[i].cert;
	return NULL;
}

X509_STORE *
ra_trust_manufacturer_store(const struct ra_trust *t)
{
	return t->store;
}

size_t
ra_trust_manufacturer_count(const struct ra_trust *t)
{
	return t->mfgsz;
}

X509 *
ra_trust_manufacturer_get0(const struct ra_trust *t, size_t i, int *is_root)
{
	if (i >= t->mfgsz)
		return NULL;
	if (is_root != NULL)
		*is_root = t->mfgs[i].is_root;
	return t->mfgs[i].cert;
}

size_t
ra_trust_signer_count(const struct ra_trust *t)
{
	return t->signersz;
}
