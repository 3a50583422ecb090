/*
 * manifest.h - verify a secure-element manifest (MANIFEST-FORMAT.md).
 *
 * A manifest is a JSON array of signed entries.  Each entry is judged on
 * its own: the result holds one ra_manifest_entry per array element, in
 * file order, either ok (with the decoded data the registry needs, as
 * DER, no OpenSSL objects) or rejected (with a stable reason code and a
 * one-line detail).  Only a file that is not a JSON array as a whole
 * (syntax at the top level, nesting too deep, empty) fails the call.
 *
 * Tuned for reels of 10^5 chips: worker threads share the entry array,
 * each intermediate chain (x5c[1..]) is verified against the manufacturer
 * store once per call, and each entry then costs one JWS verify and one
 * device-certificate signature verify (plus an on-curve check per slot
 * key), with the per-verify set-up done once per thread and the device
 * certificate read by a DER walk (ra/certwalk.h) when it is plain.
 */
#ifndef FLEETCA_RA_MANIFEST_H
#define FLEETCA_RA_MANIFEST_H

#include <stddef.h>
#include <time.h>

#include "ra/trust.h"

#define RA_MANIFEST_UID_MAX	64	/* hex digits (32 bytes) */
#define RA_MANIFEST_KID_MAX	16	/* slot name, characters */
#define RA_MANIFEST_DEPTH_MAX	32	/* JSON nesting accepted */

enum ra_manifest_reason {
	RA_MANIFEST_OK = 0,
	RA_MANIFEST_MALFORMED_ENTRY,	/* step 1: not the JWS object shape */
	RA_MANIFEST_BAD_PROTECTED_HEADER, /* step 2 */
	RA_MANIFEST_UNSUPPORTED_ALG,	/* step 2: none, unknown, crit */
	RA_MANIFEST_UNKNOWN_SIGNER,	/* step 2 */
	RA_MANIFEST_BAD_SIGNATURE,	/* step 3 */
	RA_MANIFEST_BAD_PAYLOAD,	/* step 4/5: undecodable or wrong type */
	RA_MANIFEST_MISSING_FIELD,	/* step 4/5: required field absent */
	RA_MANIFEST_UID_MISMATCH,	/* step 4 */
	RA_MANIFEST_UNTRUSTED_CHAIN,	/* step 5 */
	RA_MANIFEST_CHAIN_EXPIRED,	/* step 5: not valid at prov. or now */
	RA_MANIFEST_KEY_MISMATCH,	/* step 5: JWK != certificate key */
	RA_MANIFEST_SUBJECT_MISMATCH,	/* step 6 */
	RA_MANIFEST_INTERNAL		/* out of memory, OpenSSL failure */
};

/* One key slot: SPKI DER built from the JWK (RFC 5480 named curve). */
struct ra_manifest_key {
	char		 kid[RA_MANIFEST_KID_MAX + 1];
	unsigned char	*spki;			/* owned */
	size_t		 spki_len;
};

struct ra_manifest_entry {
	size_t		 index;			/* position in the array */
	enum ra_manifest_reason reason;		/* RA_MANIFEST_OK if ok */
	char		*detail;		/* owned; NULL when ok */
	/* Lower-case hex.  For rejected entries: header.uniqueId when it
	 * is sane hex, else "". */
	char		 uid[RA_MANIFEST_UID_MAX + 1];
	/* The rest is set only for ok entries. */
	char		*model;			/* owned */
	char		*part_number;		/* owned */
	char		*provisioner;		/* owned, organizationName */
	time_t		 provisioned_at;	/* provisioningTimestamp */
	struct ra_manifest_key *keys;		/* owned, slot 0 first */
	size_t		 keysz;
	unsigned char	*cert;			/* owned, IDevID DER */
	size_t		 cert_len;
	/* x5c[1..] DER concatenated, borrowed from the manifest (entries
	 * with the same chain share one copy). */
	const unsigned char *chain;
	size_t		 chain_len;
};

struct ra_manifest;

/*
 * Verifies buf (len bytes, no NUL needed) with trust t at time now, using
 * nthreads worker threads (<= 0 means 1).  On success returns 1 and
 * *out (caller frees with ra_manifest_free()), even if every entry was
 * rejected.  Returns 0 with err filled, *out NULL, if the file as a whole
 * is unusable.  t is only read.
 */
int ra_manifest_verify(const unsigned char *buf, size_t len,
    const struct ra_trust *t, time_t now, int nthreads,
    struct ra_manifest **out, char *err, size_t errlen);
void ra_manifest_free(struct ra_manifest *m);

/*
 * Same, with flags.  RA_MANIFEST_F_REFERENCE judges every entry on the
 * reference path only (jansson for every header, d2i_X509 and the
 * OpenSSL verifier for every certificate, a fresh verify set-up per
 * signature): several times slower, kept so tests can show that the fast
 * path accepts nothing the reference refuses.
 */
#define RA_MANIFEST_F_REFERENCE	0x01
int ra_manifest_verify_flags(const unsigned char *buf, size_t len,
    const struct ra_trust *t, time_t now, int nthreads, int flags,
    struct ra_manifest **out, char *err, size_t errlen);

/* Number of entries; *nok / *nrejected (optional) get the split. */
size_t ra_manifest_count(const struct ra_manifest *m, size_t *nok,
    size_t *nrejected);
/* Entry i in file order, borrowed from m; NULL if i is out of range. */
const struct ra_manifest_entry *ra_manifest_entry(const struct ra_manifest *m,
    size_t i);
/* Stable reason code, e.g. "bad_signature"; "ok" for RA_MANIFEST_OK. */
const char *ra_manifest_reason_str(enum ra_manifest_reason r);

/*
 * Structural scan used before any JSON parser sees untrusted bytes:
 * returns 1 if buf has balanced brackets outside strings and nesting of
 * at most maxdepth, else 0.  Exposed for tests.
 */
int ra_manifest_depth_ok(const unsigned char *buf, size_t len, int maxdepth);

#endif
