/*
 * enroll.h - the enrollment sequence behind EST (and later CMP).
 *
 * One call per request: gather the facts from the store (worker thread,
 * its own read handle) -> ra_decide_enroll / ra_decide_reenroll -> sign
 * (worker) -> hand a job to the group committer, which, inside one
 * transaction, re-checks what may have changed since (device state, key
 * already certified), records the certificate, marks the device
 * "active", supersedes the old LDevID per profile and appends the audit
 * row -> durable commit -> the caller's done function gets the answer.
 * Refusals are audited too (actor "est", peer, reason), and answered
 * once their audit row is committed.  The worker never waits for the
 * commit: enroll_start returns as soon as the job is queued.
 *
 * Protocol-free: the caller maps enum enroll_status to its own answer.
 */
#ifndef FLEETCA_SERVER_ENROLL_H
#define FLEETCA_SERVER_ENROLL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ra/decide.h"

struct app;
struct ca_csr;
struct ca_profile;
struct commit_queue;
struct db;

/* What the server holds for enrollment, loaded once (app_load). */
struct enroll_state {
	struct ra_policy policy;
	struct ra_trust *trust;		/* manufacturer trust; owned */
	/* trust is replaced when anchors are added while the server runs:
	 * readers hold trust_lock shared while they use it. */
	pthread_rwlock_t trust_lock;
	int64_t trust_epoch;		/* db_trust_epoch() of trust */
	_Atomic(int64_t) trust_checked_ms;	/* last epoch check */
	struct commit_queue *cq;	/* group committer; owned */
	char *cacerts;			/* certs-only base64 of our CAs */
	size_t cacerts_len;
	char **csrattrs;		/* per profile index; NULL = none */
	size_t *csrattrs_len;
	size_t nprofiles;
	struct enroll_peer_cache *peers;	/* recent peers; owned */
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
 * looked up per request.  Reference counted and safe to share between
 * threads (the verdicts are atomic): one is kept per connection and, by
 * list hash, in a small process-wide cache for devices that reconnect.
 */
struct enroll_peer;
struct enroll_peer_cache;

/* Takes ownership of chain (leaf first).  list_hash identifies the
 * certificate list as presented (http_req_peer_hash).  NULL on failure
 * (then chain is freed). */
struct enroll_peer *enroll_peer_new(STACK_OF(X509) *chain,
    const unsigned char list_hash[32]);
/* 1 when p was built from the list with this hash. */
int enroll_peer_matches(const struct enroll_peer *p,
    const unsigned char list_hash[32]);
STACK_OF(X509) *enroll_peer_chain(const struct enroll_peer *p);
/* Drops a reference; the last frees p (void * for use as a
 * connection-slot destructor).  NULL is fine. */
void enroll_peer_free(void *p);
/* Another reference to p (returned). */
struct enroll_peer *enroll_peer_ref(struct enroll_peer *p);
/* The cached peer for this list (a new reference), or NULL. */
struct enroll_peer *enroll_peer_cached(struct enroll_state *s,
    const unsigned char list_hash[32]);
/* Caches p (the cache takes its own reference; p stays the caller's). */
void enroll_peer_remember(struct enroll_state *s, struct enroll_peer *p);

struct enroll_in {
	enum enroll_kind kind;
	STACK_OF(X509) *chain;		/* presented, leaf first; borrowed */
	struct enroll_peer *facts;	/* optional, the chain's cached facts
					 * (then chain is its chain); borrowed */
	struct ca_csr *csr;		/* parsed request (ca/csr.h); taken
					 * by enroll_start (NULLed) */
	const struct ca_profile *profile;
	const char *peer;		/* client address, for the audit */
	time_t now;
};

struct enroll_out {
	enum enroll_status status;
	char reason[64];		/* stable snake_case code */
	X509 *cert;			/* issued (serverkeygen, fallback);
					 * caller frees */
	unsigned char *cert_der;	/* issued, as DER, when cert is NULL
					 * (the usual case); OPENSSL_free */
	size_t cert_der_len;
	EVP_PKEY *key;			/* serverkeygen's key; caller frees */
};

/*
 * The answer to one enrollment.  out is lent for the call: done may take
 * out->cert, out->cert_der and out->key (setting them NULL); the rest is
 * freed after it
 * returns.  Runs on the committer thread (after the commit), or on the
 * caller's thread inside enroll_start when it failed before anything was
 * queued; it must not block either way.
 */
typedef void (*enroll_done_fn)(void *arg, struct enroll_out *out);

/*
 * Runs one enrollment and calls done(arg, out) exactly once with its
 * whole result (never half of one).  in and what it points to are only
 * needed during the call, except in->csr, which enroll_start takes.
 */
void enroll_start(struct app *a, struct enroll_in *in, enroll_done_fn done,
    void *arg);
void enroll_out_clear(struct enroll_out *o);

/*
 * A refusal decided before enroll_start (bad body, unknown label, wrong
 * media type): audited (actor "est", action "enroll_refused", the leaf's
 * subject), then done(arg, out) with out->status st and out->reason, as
 * for enroll_start.  chain may be NULL.
 */
void enroll_refuse(struct app *a, const char *op, const char *peer,
    const char *reason, STACK_OF(X509) *chain, enum enroll_status st,
    enroll_done_fn done, void *arg);

#endif
