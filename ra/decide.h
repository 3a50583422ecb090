/*
 * decide.h - the enrollment decision: may this device get an LDevID?
 *
 * Pure functions over facts the caller gathers (presented chain, request,
 * device record, policy); no I/O, no clock (time is an input).  The answer
 * is RA_APPROVE or a stable reason code that reaches the client (EST 403
 * body, CMP failInfo text) and the audit log.
 */
#ifndef FLEETCA_RA_DECIDE_H
#define FLEETCA_RA_DECIDE_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct ca_csr;
struct ca_profile;
struct db_device;

enum ra_reason {
	RA_APPROVE = 0,
	RA_NO_CLIENT_CERT,	/* no certificate presented */
	RA_UNTRUSTED_CHAIN,	/* does not chain to manufacturer trust */
	RA_UNKNOWN_DEVICE,	/* not in any imported manifest */
	RA_KEY_MISMATCH,	/* presented key is not the manifest's */
	RA_CERT_MISMATCH,	/* same key, different birth certificate */
	RA_NOT_CLAIMED,		/* no owner yet: on hold */
	RA_DEVICE_BLOCKED,	/* state forbids enrollment */
	RA_BAD_REQUEST_SIGNATURE,
	RA_KEY_NOT_ALLOWED,	/* key type/size outside the profile */
	RA_KEY_REUSE,		/* LDevID key equals the IDevID key */
	RA_SUBJECT_MISMATCH,	/* request names another device */
	RA_CERT_REVOKED,	/* re-enrollment with a revoked LDevID */
	RA_CERT_EXPIRED,	/* re-enrollment with an expired LDevID */
	RA_ALREADY_ENROLLED,	/* policy: one LDevID per key */
	RA_MALFORMED_REQUEST
};

/* Stable snake_case name, e.g. "not_claimed"; never NULL. */
const char *ra_reason_name(enum ra_reason r);

/* RA policy (policies/ra.json), parsed once. */
struct ra_policy {
	char default_profile[64];
	int require_claim;		/* unclaimed devices are on hold */
	int require_manifest;		/* must be in an imported manifest */
	int require_idevid_chain;	/* IDevID must chain to mfg trust */
	/* A device with an LDevID may enroll again with its IDevID, once per
	 * new key; with this set, also again with the same key. */
	int allow_reenroll_same_key;
	int reenroll_requires_valid_ldevid;
	int accept_empty_subject;	/* "empty" in accepted_subject_forms */
};
/* Loads dir/ra.json (defaults when absent; unknown keys are errors).
 * 0, or -1 with err naming file and key. */
int ra_policy_load(const char *dir, struct ra_policy *p, char *err,
    size_t len);

struct ra_enroll_facts {
	STACK_OF(X509) *chain;		/* as presented, leaf first; borrowed */
	X509_STORE *mfg_store;		/* manufacturer trust; borrowed */
	time_t now;
	X509_REQ *csr;			/* borrowed */
	/* Or, with csr NULL, the request as ca_csr_parse() gave it
	 * (ca/csr.h; borrowed): its signature verdict is used as is. */
	const struct ca_csr *creq;
	/* The registry record found for the leaf (by certificate hash, or
	 * by the unique id it names), or NULL when none. */
	const struct db_device *device;
	const unsigned char *slot0_spki;	/* manifest slot-0 key DER */
	size_t slot0_len;
	const struct ra_policy *policy;
	const struct ca_profile *profile;
	int has_ldevid_same_key;	/* an unrevoked LDevID with this key */
	/* Work the caller may have done once per connection (all optional,
	 * zero means "not done"): chain_verified is 1 only when this very
	 * chain verified against mfg_store at now (ra_chain_verify); leaf
	 * _spki is the leaf key's SubjectPublicKeyInfo DER as i2d_PUBKEY
	 * gives it (borrowed). */
	int chain_verified;
	const unsigned char *leaf_spki;
	size_t leaf_spki_len;
};

/*
 * First enrollment with the birth certificate (EST simpleenroll, CMP ir).
 * Checks, in order: a chain was presented and verifies to manufacturer
 * trust at now; the device is registered; the presented certificate and
 * key are the manifest entry's; it is claimed and its state allows
 * enrollment; the request's signature verifies; its key is allowed by
 * the profile and (unless the profile says otherwise) differs from the
 * IDevID key; its subject names this device.
 */
enum ra_reason ra_decide_enroll(const struct ra_enroll_facts *f);

struct ra_reenroll_facts {
	STACK_OF(X509) *chain;		/* presented LDevID first */
	X509_STORE *own_store;		/* fleetca's CAs */
	time_t now;
	X509_REQ *csr;
	const struct ca_csr *creq;	/* alternative to csr, as above */
	const struct db_device *device;	/* device the LDevID was issued to */
	int cert_known;			/* LDevID is in our certificate table */
	int cert_revoked;
	const struct ca_profile *profile;
	/* 1 only when this very chain verified against own_store at now
	 * (ra_chain_verify with the client purpose); see ra_enroll_facts. */
	int chain_verified;
};

/* Re-enrollment with the current LDevID (EST simplereenroll, CMP kur). */
enum ra_reason ra_decide_reenroll(const struct ra_reenroll_facts *f);

/* Verifies chain (leaf first) against store at now; 1 if it verifies. */
int ra_chain_verify(STACK_OF(X509) *chain, X509_STORE *store, time_t now,
    int purpose_client);

/* 1 when the CSR's key type and size are allowed by the profile. */
int ra_key_allowed(const struct ca_profile *prof, EVP_PKEY *key);

#endif
