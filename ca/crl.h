/*
 * crl.h - build and sign a full or delta CRL (RFC 5280 section 5).
 *
 * The TBSCertList is written as DER directly rather than through
 * X509_CRL: a fleet CRL may hold a million entries, and the X509_CRL
 * object path (one heap object per entry, a sort, then i2d) costs several
 * times the memory and time.  The result is a normal CertificateList that
 * d2i_X509_CRL parses and X509_CRL_verify accepts.
 *
 * Pure building block: no database, no HTTP.  The caller supplies the CRL
 * number (persisted and strictly increasing, db_crl_next_number) and the
 * revoked entries.
 */
#ifndef FLEETCA_CA_CRL_H
#define FLEETCA_CA_CRL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CRL_SERIAL_MAX 20	/* RFC 5280 4.1.2.2: at most 20 octets */

enum crl_status {
	CRL_OK = 0,
	CRL_EINVAL = -1,	/* bad parameter or entry; reason logged */
	CRL_ENOMEM = -2,
	CRL_ECRYPTO = -3	/* OpenSSL failed (signing, key mismatch) */
};

/* One revoked certificate. */
struct crl_entry {
	/* Big-endian magnitude of the positive serial; leading zero octets
	 * are tolerated and stripped.  1..CRL_SERIAL_MAX octets. */
	unsigned char serial[CRL_SERIAL_MAX];
	size_t serial_len;
	int64_t revoked_at;		/* seconds since the epoch, UTC */
	/* RFC 5280 5.3.1 CRLReason, or -1 for none.  unspecified (0) is
	 * written as no reasonCode, as 5.3.1 asks.  removeFromCRL (8) is
	 * only allowed in a delta CRL. */
	int reason;
	int64_t invalidity_date;	/* 5.3.2; 0 for none */
};

struct crl_params {
	int64_t number;		/* cRLNumber (5.2.3), >= 0 */
	int64_t this_update;	/* seconds since the epoch */
	int64_t next_update;	/* must be > this_update (5.1.2.5) */
	/*
	 * Issuing distribution point URI (5.2.5), or NULL for none.  Must
	 * equal the CRL distribution point URI put in issued certificates,
	 * or relying parties (OpenSSL among them) find the CRL out of scope.
	 * A delta CRL must carry the same value as its base (5.2.4).
	 */
	const char *idp_url;
	/* Freshest CRL (5.2.6) URI of the delta CRL, or NULL.  Only valid in
	 * a full CRL. */
	const char *freshest_url;
	int is_delta;		/* delta CRL (5.2.4) */
	int64_t base_number;	/* deltaCRLIndicator value; < number */
};

/*
 * Builds the CRL described by p with the n entries e (n may be 0; order is
 * kept as given, and each serial must appear once), signed by key, which
 * must be issuer's private key: ECDSA P-256 (SHA-256), P-384 (SHA-384),
 * RSA (SHA-256, PKCS #1 v1.5) or Ed25519.  The authority key identifier
 * is issuer's subject key identifier (or the SHA-1 of its key when the
 * certificate has none).
 *
 * On CRL_OK, *der is malloc'd (caller frees with free()) and *len set; on
 * error *der is NULL and the reason is logged.  Thread-safe (issuer and key
 * are only read).
 */
int crl_build(X509 *issuer, EVP_PKEY *key, const struct crl_params *p,
    const struct crl_entry *e, size_t n, unsigned char **der, size_t *len);

#endif
