/*
 * mfgsim.h - a simulated secure-element manufacturer.
 *
 * Plays the chip vendor for `fleetca demo`, unit tests and benchmarks: a
 * manufacturer root CA, a signer CA (the intermediate that appears as
 * x5c[1]), a manifest-signer certificate, and chips, each with a P-256
 * slot-0 key and IDevID (O=Microchip Technology Inc, CN=sn<UPPERHEX>,
 * valid from provisioning to 9999-12-31) plus a slot-1 key.  Entries can
 * be made evil on purpose (enum mfgsim_tamper) so that every rejection
 * path of ra/manifest.c can be exercised.
 *
 * Time is injected (now) so that tests are reproducible; randomness is
 * OpenSSL's.  Not for production: private keys are held in memory and
 * written to devices.txt in the clear (mode 0600).
 */
#ifndef FLEETCA_RA_MFGSIM_H
#define FLEETCA_RA_MFGSIM_H

#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ra/trust.h"

enum mfgsim_tamper {
	MFGSIM_GOOD = 0,
	MFGSIM_TAMPER_PAYLOAD,	/* payload edited after signing */
	MFGSIM_COPY_SIGNATURE,	/* signature made over another entry */
	MFGSIM_UID_MISMATCH,	/* header.uniqueId names another chip */
	MFGSIM_KEY_MISMATCH,	/* slot-0 JWK is the slot-1 key */
	MFGSIM_WRONG_SUBJECT,	/* IDevID names another chip */
	MFGSIM_UNTRUSTED_SIGNER, /* signed by a signer nobody trusts */
	MFGSIM_ALG_NONE,	/* alg "none", empty signature */
	MFGSIM_EXPIRED_CHAIN,	/* IDevID from a signer CA expired by now */
	MFGSIM_ROGUE_CA,	/* IDevID from a CA outside manufacturer trust */
	MFGSIM_COUNTERFEIT	/* genuine-looking chip left out of the manifest */
};

struct mfgsim;

/* Creates the vendor PKI valid around now.  Caller frees with
 * mfgsim_free().  NULL with err filled on failure. */
struct mfgsim *mfgsim_new(time_t now, char *err, size_t errlen);
void mfgsim_free(struct mfgsim *sim);

/* Vendor certificates, lent (valid while sim lives). */
X509 *mfgsim_root(const struct mfgsim *sim);
X509 *mfgsim_signer_ca(const struct mfgsim *sim);
X509 *mfgsim_manifest_signer(const struct mfgsim *sim);

/* Adds what a buyer trusts: the root (as root) and the manifest signer.
 * Returns 1, or 0 with err filled. */
int mfgsim_trust(const struct mfgsim *sim, struct ra_trust *t, char *err,
    size_t errlen);

/*
 * Makes n chips with the given tampering, kept in sim (indices continue
 * from mfgsim_chip_count()), on nthreads threads.  Returns 1 or 0.
 */
int mfgsim_add_chips(struct mfgsim *sim, size_t n, enum mfgsim_tamper tamper,
    int nthreads);
size_t mfgsim_chip_count(const struct mfgsim *sim);
/* Chip i: unique id (lower-case hex), slot-0 private key and IDevID,
 * lent; NULL if i is out of range. */
const char *mfgsim_device_uid(const struct mfgsim *sim, size_t i);
EVP_PKEY *mfgsim_device_key(const struct mfgsim *sim, size_t i);
X509 *mfgsim_device_cert(const struct mfgsim *sim, size_t i);
/* Chip i's manifest entry and its decoded payload JSON (lent). */
const char *mfgsim_chip_entry(const struct mfgsim *sim, size_t i);
const char *mfgsim_chip_payload(const struct mfgsim *sim, size_t i);

/*
 * The manifest of all chips in sim except counterfeits, as a JSON array
 * (MANIFEST-FORMAT.md).  malloc'd, NUL-terminated, caller frees; *len
 * excludes the NUL.  NULL on OOM.
 */
char *mfgsim_manifest(const struct mfgsim *sim, size_t *len);

/*
 * Signs an arbitrary payload (JSON text) with the trusted manifest
 * signer and returns the entry object as JSON text (malloc'd).  For
 * tests that build evil payloads by hand.
 */
char *mfgsim_sign_entry(const struct mfgsim *sim, const char *payload,
    size_t len, const char *header_uid);

/* One devices.txt line for chip i: "uid b64(PKCS#8 DER) b64(cert DER)\n"
 * (malloc'd, caller frees; holds a private key). */
char *mfgsim_device_line(const struct mfgsim *sim, size_t i);

/*
 * Writes dir/manufacturer_root.pem, signer_ca.pem, manifest_signer.pem,
 * manifest.json and devices.txt (0600) for the chips in sim.  Files are
 * replaced.  Returns 1, or 0 with err filled.
 */
int mfgsim_write_files(const struct mfgsim *sim, const char *dir, char *err,
    size_t errlen);

/*
 * Same files for count fresh good chips generated in batches on nthreads
 * threads and streamed out, so memory stays flat for 10^5 chips.  The
 * chips are not kept in sim.  Returns 1, or 0 with err filled.
 */
int mfgsim_write_bulk(struct mfgsim *sim, const char *dir, size_t count,
    int nthreads, char *err, size_t errlen);

#endif
