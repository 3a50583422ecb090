/*
 * publish.h - what the revocation service needs from ca/: a CRL signer
 * (issuing CA certificate and key, loaded here because only ca/ loads CA
 * private keys), the revoked-certificate snapshot it signs over, building
 * and storing full and delta CRLs, and loading the delegated OCSP signer.
 *
 * Used by the server's publisher thread (server/revocation.c) and by
 * `fleetca crl`, so both write CRLs the same way.
 */
#ifndef FLEETCA_CA_PUBLISH_H
#define FLEETCA_CA_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ca/crl.h"
#include "ca/ocsp_resp.h"

struct db;

/* ---- CRL signer ----------------------------------------------------- */

struct ca_crl_signer;

/*
 * Loads the CA row ca_id (0: the newest active "issuing" CA) and its key
 * from dir.  The IDP URL is <base_url>/crl/<name>.crl, byte for byte the
 * CRL distribution point ca_signer_load() puts in issued certificates;
 * with delta set, the delta CRL lives at <base_url>/crl/<name>-delta.crl
 * and full CRLs carry it as Freshest CRL (RFC 5280 5.2.6).  Returns a
 * signer (free with ca_crl_signer_free) or NULL with err filled.
 * Immutable afterwards; safe to share between threads.
 */
struct ca_crl_signer *ca_crl_signer_load(const char *dir, struct db *db,
    int64_t ca_id, const char *base_url, int delta, char *err,
    size_t errlen);
void ca_crl_signer_free(struct ca_crl_signer *s);
/* Borrowed, valid until ca_crl_signer_free(). */
X509 *ca_crl_signer_cert(const struct ca_crl_signer *s);
int64_t ca_crl_signer_ca_id(const struct ca_crl_signer *s);
const char *ca_crl_signer_name(const struct ca_crl_signer *s);
const char *ca_crl_signer_idp_url(const struct ca_crl_signer *s);
/* NULL when delta CRLs are off. */
const char *ca_crl_signer_delta_url(const struct ca_crl_signer *s);

/* The freshest-CRL URL for base_url and CA name, as above; 0 or -1 when
 * it does not fit in len. */
int ca_crl_delta_url(const char *base_url, const char *name, char *out,
    size_t len);

/* ---- revoked set ---------------------------------------------------- */

/* Revoked certificates of one CA, sorted by serial (numeric order), so
 * lookups are a binary search and two snapshots diff by a merge.  Owns
 * e (free with ca_revoked_clear). */
struct ca_revoked_set {
	struct crl_entry *e;
	size_t n;
};

/* Reads every revoked certificate of ca_id.  0, or -1 (logged). */
int ca_revoked_load(struct db *db, int64_t ca_id, struct ca_revoked_set *set);
void ca_revoked_clear(struct ca_revoked_set *set);
/* The entry for serial (magnitude without leading zeros) or NULL. */
const struct crl_entry *ca_revoked_find(const struct ca_revoked_set *set,
    const unsigned char *serial, size_t len);
/* Calls fn for every serial whose entry differs between a and b: with
 * (entry in a or NULL, entry in b or NULL).  Returns the number of calls. */
typedef void (*ca_revoked_diff_fn)(void *arg, const struct crl_entry *a,
    const struct crl_entry *b);
size_t ca_revoked_diff(const struct ca_revoked_set *a,
    const struct ca_revoked_set *b, ca_revoked_diff_fn fn, void *arg);
/* Inserts a copy of e in order (replacing an entry with its serial).
 * 0 or -1 (no memory). */
int ca_revoked_put(struct ca_revoked_set *set, const struct crl_entry *e);

/* ---- CRLs ----------------------------------------------------------- */

struct ca_crl_out {
	unsigned char *der;	/* malloc'd, owned by the caller */
	size_t len;
	int64_t number, base_number;
	int64_t this_update, next_update;
};

/*
 * Signs a full CRL over set (thisUpdate now, nextUpdate now +
 * validity_s) and stores it; the CRL number is taken and the row inserted
 * in one transaction, so another process publishing at the same time
 * (`fleetca crl` beside the server) can never reuse a number.  0 with
 * *out filled, or -1 with err filled.
 */
int ca_crl_publish_full(const struct ca_crl_signer *s, struct db *db,
    const struct ca_revoked_set *set, int64_t now, int validity_s,
    struct ca_crl_out *out, char *err, size_t errlen);

/*
 * Signs and stores a delta CRL (RFC 5280 5.2.4) against the full CRL
 * base_number whose entries were base: every entry of cur that is new or
 * changed, and removeFromCRL for every entry of base no longer in cur
 * (a released certificateHold).  Same IDP as the base.  0 or -1.
 */
int ca_crl_publish_delta(const struct ca_crl_signer *s, struct db *db,
    const struct ca_revoked_set *base, int64_t base_number,
    const struct ca_revoked_set *cur, int64_t now, int validity_s,
    struct ca_crl_out *out, char *err, size_t errlen);

void ca_crl_out_clear(struct ca_crl_out *o);

/* ---- OCSP signer ---------------------------------------------------- */

/*
 * Loads dir/certs/ocsp_signer.pem and dir/secrets/ocsp_signer.key into a
 * responder.  *cert (optional) gets a new reference on the signer
 * certificate (caller frees), to tell which CA delegated it.  NULL with
 * err filled on failure.
 */
struct ocsp_responder *ca_ocsp_responder_load(const char *dir, X509 **cert,
    char *err, size_t errlen);

#endif
