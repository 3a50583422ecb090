/*
 * enroll.h - the enrollment sequence behind EST (and later CMP).
 *
 * One call per request: gather the facts from the store (worker thread,
 * its own read handle) -> ra_decide_enroll / ra_decide_reenroll -> hand a
 * job to the group committer, which, inside one transaction, re-checks
 * what may have changed since (device state, key already certified),
 * calls ca_issue, marks the device "active", supersedes the old LDevID
 * per profile and appends the audit row -> durable commit -> the caller
 * answers.  Refusals are audited too (actor "est", peer, reason).
 *
 * Protocol-free: the caller maps enum enroll_status to its own answer.
 */
#ifndef FLEETCA_SERVER_ENROLL_H
#define FLEETCA_SERVER_ENROLL_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ra/decide.h"

struct app;
struct ca_profile;
struct commit_queue;
struct db;

/* What the server holds for enrollment, loaded once (app_load). */
struct enroll_state {
	struct ra_policy policy;
	struct ra_trust *trust;		/* manufacturer trust; owned */
	struct commit_queue *cq;	/* group committer; owned */
	char *cacerts;			/* certs-only base64 of our CAs */
	size_t cacerts_len;
	char **csrattrs;		/* per profile index; NULL = none */
	size_t *csrattrs_len;
	size_t nprofiles;
};

/*
 * Loads the RA policy (dir/policies/ra.json), manufacturer trust from db,
 * the cacerts and csrattrs bodies, and starts the committer on its own
 * durable handle to db_path.  Returns a new state (enroll_state_free) or
 * NULL with err.
 */
struct enroll_state *enroll_state_load(struct app *a, struct db *db,
    char *err, size_t errlen);
void enroll_state_free(struct enroll_state *s);

enum enroll_kind {
	ENROLL_FIRST,		/* simpleenroll: IDevID */
	ENROLL_RE,		/* simplereenroll: our LDevID */
	ENROLL_KEYGEN		/* serverkeygen: IDevID or our LDevID */
};

enum enroll_status {
	ENROLL_OK = 0,
	ENROLL_UNAUTHENTICATED,	/* no or untrusted client certificate */
	ENROLL_REFUSED,		/* RA or policy said no */
	ENROLL_BAD_REQUEST,	/* malformed request */
	ENROLL_FAILED		/* our fault: store or OpenSSL */
};

/*
 * What a TLS connection's client certificate list gives, worked out once
 * per connection and reused by its later requests (keep-alive): the parsed
 * chain, hashes of the leaf, its key's SPKI DER and the chain verification
 * results.  A verification is reused only while the chain's certificates
 * are inside their validity and for at most ENROLL_PEER_REVERIFY_S; a
 * failed one is never reused.  Device state, revocation and key reuse are
 * looked up per request.  Used by one thread at a time.
 */
struct enroll_peer;

/* Takes ownership of chain (leaf first).  list_hash identifies the
 * certificate list as presented (http_req_peer_hash).  NULL on failure
 * (then chain is freed). */
struct enroll_peer *enroll_peer_new(STACK_OF(X509) *chain,
    const unsigned char list_hash[32]);
/* 1 when p was built from the list with this hash. */
int enroll_peer_matches(const struct enroll_peer *p,
    const unsigned char list_hash[32]);
STACK_OF(X509) *enroll_peer_chain(const struct enroll_peer *p);
/* Frees p (void * for use as a connection-slot destructor). */
void enroll_peer_free(void *p);

struct enroll_in {
	enum enroll_kind kind;
	STACK_OF(X509) *chain;		/* presented, leaf first; borrowed */
	struct enroll_peer *facts;	/* optional, the chain's cached facts
					 * (then chain is its chain); borrowed */
	X509_REQ *csr;			/* borrowed */
	const struct ca_profile *profile;
	const char *peer;		/* client address, for the audit */
	time_t now;
};

struct enroll_out {
	enum enroll_status status;
	char reason[64];		/* stable snake_case code */
	X509 *cert;			/* issued; caller frees */
	EVP_PKEY *key;			/* serverkeygen's key; caller frees */
};

/* Runs one enrollment; always fills out (never returns half a result). */
void enroll_run(struct app *a, const struct enroll_in *in,
    struct enroll_out *out);
void enroll_out_clear(struct enroll_out *o);

/*
 * Audits a refusal that happened before enroll_run (bad body, unknown
 * label, wrong media type): actor "est", action "enroll_refused".
 */
void enroll_audit_refusal(struct app *a, const char *op, const char *peer,
    const char *reason, STACK_OF(X509) *chain);

/*
 * Revokes (reason superseded) every unrevoked certificate of every device
 * that has a newer one issued at least grace_seconds ago, where the
 * older certificate's profile says revoke_superseded.  Runs in the
 * caller's transaction.  Returns the count revoked, or -1.
 */
int enroll_sweep_superseded(struct app *a, struct db *db, int64_t device_id,
    time_t now);

#endif
