/*
 * trust.h - what the RA trusts when it reads a manifest.
 *
 * Two sets: the manifest signers (certificates that sign manifest entries,
 * found by the x5t#S256 or kid of a JWS protected header) and the
 * manufacturer trust (roots and optional intermediates that issue IDevIDs,
 * kept as an X509_STORE for chain building plus a plain list).
 *
 * Built once by one thread, then shared read-only: every lookup is const
 * and may run from many threads at once.  Adding after sharing is not
 * allowed.
 */
#ifndef FLEETCA_RA_TRUST_H
#define FLEETCA_RA_TRUST_H

#include <stddef.h>
#include <openssl/x509.h>

#define RA_TRUST_X5T_LEN 32	/* SHA-256 of the certificate DER */

struct ra_trust;

/* Returns a new empty trust set (caller frees with ra_trust_free()), or
 * NULL when out of memory. */
struct ra_trust *ra_trust_new(void);
void ra_trust_free(struct ra_trust *t);

/*
 * Trusts cert as a manifest signer.  The set takes its own reference; the
 * caller keeps its own.  Refused (0, reason in err) when the certificate
 * has no usable public key or is already present.  Returns 1 on success.
 * A signer without a subjectKeyIdentifier can only be found by x5t#S256.
 */
int ra_trust_add_manifest_signer(struct ra_trust *t, X509 *cert, char *err,
    size_t errlen);

/*
 * Trusts cert as manufacturer root (is_root != 0) or intermediate.  Both
 * must be CA certificates (basicConstraints cA TRUE); a root must also be
 * self-signed, because OpenSSL only anchors chains at self-signed store
 * members (no partial chains).  Takes its own reference.  Returns 1, or 0
 * with the reason in err.
 */
int ra_trust_add_manufacturer(struct ra_trust *t, X509 *cert, int is_root,
    char *err, size_t errlen);

/* Lookups lend (get0): the result lives as long as t.  NULL if absent. */
X509 *ra_trust_signer_by_x5t(const struct ra_trust *t,
    const unsigned char *x5t, size_t len);
X509 *ra_trust_signer_by_kid(const struct ra_trust *t,
    const unsigned char *kid, size_t len);

/* The manufacturer store (borrowed; X509_STORE_CTX_init() only reads it)
 * and the list in insertion order. */
X509_STORE *ra_trust_manufacturer_store(const struct ra_trust *t);
size_t ra_trust_manufacturer_count(const struct ra_trust *t);
X509 *ra_trust_manufacturer_get0(const struct ra_trust *t, size_t i,
    int *is_root);
size_t ra_trust_signer_count(const struct ra_trust *t);

#endif
