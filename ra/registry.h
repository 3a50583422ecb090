/*
 * registry.h - the device registry: trust anchors, manifest imports and
 * claims, each change one transaction with its audit rows.
 *
 * These are the core functions behind both the CLI and the admin API, so
 * the two cannot disagree.
 */
#ifndef FLEETCA_RA_REGISTRY_H
#define FLEETCA_RA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct db;
struct ra_trust;

enum ra_trust_kind { RA_TRUST_MANUFACTURER, RA_TRUST_MANIFEST_SIGNER };

/*
 * Adds every certificate of a PEM (or single DER) blob as trust of the
 * given kind.  Manufacturer certificates must be CAs; self-signed ones are
 * roots, others intermediates.  A certificate already trusted is counted
 * as known, not an error.  Nothing is added unless all parse and pass.
 * Returns 0 with the counts in added and known, or -1 with err.
 */
int ra_trust_add_blob(struct db *db, enum ra_trust_kind kind,
    const unsigned char *buf, size_t len, const char *actor, int *added,
    int *known, char *err, size_t errlen);

/* Builds a ra_trust from every anchor in the store.  Returns a new trust
 * (caller frees with ra_trust_free()) or NULL with err. */
struct ra_trust *ra_trust_from_db(struct db *db, char *err, size_t errlen);

/* Called once per rejected or refused manifest entry. */
typedef void (*ra_import_line_fn)(void *arg, const char *uid,
    const char *reason, const char *detail);

struct ra_import_result {
	size_t total;		/* entries in the file */
	size_t imported;	/* new devices */
	size_t known;		/* already registered, identical */
	size_t rejected;	/* failed verification or conflicting */
};

/*
 * Verifies a manifest (nthreads workers) and records its valid entries as
 * registered devices, all in one transaction with one audit row per
 * rejected entry and a summary row.  A known unique id with a different
 * certificate or key is refused as a possible counterfeit; the existing
 * record is untouched.  Importing the same file again changes nothing.
 * Returns 0 (see res; rejected > 0 means some entries failed), or -1 with
 * err when the file as a whole is unusable or the store failed (nothing
 * written then).
 */
int ra_manifest_import(struct db *db, const unsigned char *buf, size_t len,
    const char *source, const char *actor, int nthreads, time_t now,
    ra_import_line_fn line_fn, void *arg, struct ra_import_result *res,
    char *err, size_t errlen);

/*
 * Marks a device as sold to owner (an operational domain such as
 * acme.example: letters, digits, '-', '.').  Allowed from registered or
 * returned; claiming again for the same owner is a no-op.  Returns 0,
 * or -1 with err ("unknown device", "device is compromised", ...).
 */
int ra_device_claim(struct db *db, const char *uid, const char *owner,
    const char *actor, char *err, size_t errlen);

/* 1 if owner is an acceptable operational domain. */
int ra_owner_valid(const char *owner);

#endif
