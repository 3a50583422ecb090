/*
 * profile.h - certificate profiles (the *.json files of policies/), parsed
 * once at load.
 *
 * A profile file is a JSON object with "kind": "profile"; other *.json
 * files in the directory (e.g. policies/ra.json, "kind": "ra_policy") are
 * parsed for well-formedness but otherwise skipped.  The format is
 * described in man/fleetca-policies(5) and by policies/ldevid.json:
 *
 *   kind                 "profile"                         required
 *   name                 [A-Za-z0-9._-]{1,63}              required
 *   description          string                            optional
 *   labels               [name, ...] EST labels / CMP profile names
 *   validity_days        1..3650                           required
 *   renewal_window_days  0..validity_days-1                default 0
 *   key_types            ["p256","p384","ed25519","rsa"]   required
 *   rsa_min_bits         2048..8192                        default 2048
 *   subject              [{"type":"CN","value":"{uid}"}, ...] in order
 *   san                  [{"type":"uri"|"dns","value":"..."}, ...]
 *   key_usage            ["digitalSignature", ...]         required
 *   extended_key_usage   ["clientAuth", ...]               optional
 *   require_new_key      bool                              default true
 *   allow_serverkeygen   bool                              default false
 *   reenroll_old_cert    {"mode":"keep"} or
 *                        {"mode":"revoke_superseded","grace_seconds":N}
 *
 * Templates may use only {uid} and {owner}.  Unknown keys, wrong types and
 * out-of-range values are load errors naming the file and the key.  Names
 * and labels share one namespace and must be unique across all profiles.
 * The per-request path does no JSON work: ca_issue() reads this struct and
 * the extensions it precomputed.
 */
#ifndef FLEETCA_CA_PROFILE_H
#define FLEETCA_CA_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#define CA_PROFILE_MAX_LABELS	16
#define CA_PROFILE_MAX_ATTRS	8
#define CA_PROFILE_MAX_SANS	8
#define CA_PROFILE_MAX_EKUS	8
#define CA_PROFILE_MAX_FILES	64
#define CA_RSA_MAX_BITS		8192	/* bigger keys cost too much to verify */

/* Allowed key types, a bit mask. */
#define CA_PROFILE_KEY_P256	0x01u
#define CA_PROFILE_KEY_P384	0x02u
#define CA_PROFILE_KEY_ED25519	0x04u
#define CA_PROFILE_KEY_RSA	0x08u	/* rsa_min_bits .. CA_RSA_MAX_BITS */

enum ca_reenroll { CA_REENROLL_KEEP, CA_REENROLL_REVOKE_SUPERSEDED };
enum ca_san_type { CA_SAN_URI, CA_SAN_DNS };

struct ca_name_tmpl {
	int nid;		/* attribute type, e.g. NID_commonName */
	char *value;		/* template; owned */
};

struct ca_san_tmpl {
	enum ca_san_type type;
	char *value;		/* template; owned */
};

struct ca_profile {
	char *name;				/* owned */
	char *labels[CA_PROFILE_MAX_LABELS];	/* owned */
	size_t nlabels;
	int validity_days;
	int renewal_window_days;
	unsigned key_types;			/* CA_PROFILE_KEY_* */
	int rsa_min_bits;
	struct ca_name_tmpl subject[CA_PROFILE_MAX_ATTRS];
	size_t nsubject;
	struct ca_san_tmpl san[CA_PROFILE_MAX_SANS];
	size_t nsan;
	unsigned key_usage;			/* CA_KU_* (ca/x509util.h) */
	int eku[CA_PROFILE_MAX_EKUS];		/* NIDs */
	size_t neku;
	int require_new_key;
	int allow_serverkeygen;
	enum ca_reenroll reenroll;
	int64_t grace_seconds;			/* with REVOKE_SUPERSEDED */
	/* Built at load from the fields above; owned.  ext_eku is NULL when
	 * neku is 0. */
	X509_EXTENSION *ext_ku;
	X509_EXTENSION *ext_eku;
};

struct ca_profiles;

/* Loads every profile in dir (see above).  Returns a set (caller frees
 * with ca_profiles_free()) or NULL with err filled, e.g.
 * "policies/x.json:3:5: ..." or "policies/x.json: unknown key \"foo\"".
 * A directory with no profile at all is an error. */
struct ca_profiles *ca_profiles_load(const char *dir, char *err,
    size_t errlen);

/* Parses one profile from a JSON object; name is used in errors.  Returns
 * a profile (caller frees with ca_profile_free()) or NULL with err. */
struct ca_profile *ca_profile_parse(const char *name, json_t *obj,
    char *err, size_t errlen);
void ca_profile_free(struct ca_profile *p);

/* The profile whose name or label is exactly name_or_label, or NULL.
 * Borrowed; valid until ca_profiles_free(). */
const struct ca_profile *ca_profiles_find(const struct ca_profiles *ps,
    const char *name_or_label);
size_t ca_profiles_count(const struct ca_profiles *ps);
/* i-th profile in load order (file names sorted), or NULL. */
const struct ca_profile *ca_profiles_get(const struct ca_profiles *ps,
    size_t i);
void ca_profiles_free(struct ca_profiles *ps);

/*
 * Expands template tmpl with {uid} and {owner} into out.  Returns 0, or -1
 * if out is too small or a placeholder has no value (owner NULL or empty).
 */
int ca_profile_expand(const char *tmpl, const char *uid, const char *owner,
    char *out, size_t outlen);

#endif
