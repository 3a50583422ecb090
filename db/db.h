/*
 * db.h - the store: every SQL statement of fleetca lives behind this API.
 *
 * One struct db wraps one SQLite connection (WAL, foreign keys on, busy
 * timeout) and its prepared statements.  A handle is NOT thread-safe: each
 * thread opens its own (the server keeps one per worker thread).
 *
 * Writes that belong together run between db_begin() and db_commit() (or
 * db_rollback()); the single-row helpers do not open transactions of their
 * own, so callers compose them into one transaction per state change.
 * Functions return DB_OK or a negative enum db_status; the text of the last
 * SQLite error is available from db_errmsg().
 *
 * Times are seconds since the epoch (UTC).  Serial numbers are stored as
 * the big-endian magnitude bytes of the positive INTEGER, no leading zero.
 */
#ifndef FLEETCA_DB_DB_H
#define FLEETCA_DB_DB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DB_SCHEMA_VERSION 1
#define DB_SERIAL_MAX 20	/* RFC 5280 4.1.2.2: at most 20 octets */
#define DB_HASH_LEN 32		/* SHA-256 */

enum db_status {
	DB_OK = 0,
	DB_NOTFOUND = -1,	/* no such row */
	DB_EXISTS = -2,		/* a UNIQUE constraint said no */
	DB_BUSY = -3,		/* locked past the busy timeout */
	DB_ERROR = -4,		/* anything else; see db_errmsg() */
	DB_CORRUPT = -5		/* audit chain broken, bad schema version */
};

struct db;

/* Opens (creating if needed) the database at path and migrates it forward
 * to DB_SCHEMA_VERSION.  A database newer than this build is refused.
 * On failure returns NULL and fills err. */
struct db *db_open(const char *path, char *err, size_t errlen);
void db_close(struct db *db);
const char *db_errmsg(struct db *db);
int db_schema_version(struct db *db);

/* Durability: with full, every commit is fsync'ed (synchronous=FULL);
 * otherwise NORMAL (WAL keeps consistency, may lose the last commits on
 * power loss).  The server uses full. */
int db_set_durable(struct db *db, int full);

/*
 * The WAL is copied back into the database (checkpointed, inside a
 * commit of this handle) once it holds pages pages; 0 = never
 * automatically.  SQLite's default is 1000.  For the handle that does
 * the server's writes: a larger WAL between checkpoints copies a page
 * written by many commits once instead of many times.
 */
int db_set_wal_autocheckpoint(struct db *db, int pages);

int db_begin(struct db *db);	/* BEGIN IMMEDIATE: takes the write lock */
int db_commit(struct db *db);
int db_rollback(struct db *db);
/* 1 while a transaction is open on this handle. */
int db_in_transaction(struct db *db);

/*
 * Change counter: incremented in the same transaction as every revocation
 * or change of revocation state, so readers in other processes (the CLI
 * revoking while the server runs) can notice with one cheap query.
 */
int db_revocation_epoch(struct db *db, int64_t *epoch);

/* ---- CAs ---------------------------------------------------------- */

struct db_ca {
	int64_t id;
	char name[64];		/* e.g. "issuing-1"; used in /crl/<name>.crl */
	char role[16];		/* "root", "issuing" */
	int active;		/* issues new certificates */
	unsigned char *der;	/* certificate; owned by the struct */
	size_t der_len;
	char key_path[512];	/* relative to the data dir */
	int64_t created_at;
};
void db_ca_clear(struct db_ca *ca);	/* frees der; safe on zeroed struct */

int db_ca_insert(struct db *db, const char *name, const char *role,
    int active, const unsigned char *der, size_t len, const char *key_path,
    int64_t *id);
/* Fills *cas (malloc'd array, caller frees each with db_ca_clear then the
 * array with free) with every CA, oldest first. */
int db_ca_list(struct db *db, struct db_ca **cas, size_t *n);
int db_ca_set_active(struct db *db, int64_t id, int active);

/* ---- certificates ------------------------------------------------- */

struct db_cert {
	int64_t id;
	int64_t ca_id;
	unsigned char serial[DB_SERIAL_MAX];
	size_t serial_len;
	int64_t device_id;	/* 0 when not a device certificate */
	char profile[64];
	char subject[256];	/* one-line RFC 2253 subject */
	int64_t not_before, not_after, issued_at;
	/* SHA-256 of the certificate's SubjectPublicKeyInfo DER; all zero
	 * when unknown.  Lets the RA tell a new key from a reused one. */
	unsigned char spki_sha256[DB_HASH_LEN];
	unsigned char *der;	/* owned by the struct; NULL if not loaded */
	size_t der_len;
	/* revocation, valid when revoked != 0 */
	int revoked;
	int64_t revoked_at;
	int reason;		/* RFC 5280 CRLReason value */
	int64_t invalidity_date;	/* 0 when none */
};
void db_cert_clear(struct db_cert *c);

/* Inserts an issued certificate.  DB_EXISTS when the serial is taken (the
 * caller draws a new one). */
int db_cert_insert(struct db *db, const struct db_cert *c, int64_t *id);
/* serial lookup: fills *c (with der) or DB_NOTFOUND. */
int db_cert_get_by_serial(struct db *db, const unsigned char *serial,
    size_t len, struct db_cert *c);
/* Like db_cert_get_by_serial but without der: the OCSP responder's
 * status lookup, which must not read certificate blobs. */
int db_cert_status_by_serial(struct db *db, const unsigned char *serial,
    size_t len, struct db_cert *c);
/* By row id (with der), or DB_NOTFOUND. */
int db_cert_get_by_id(struct db *db, int64_t id, struct db_cert *c);
/* Only reports whether serial exists (cheap; for collision checks). */
int db_cert_serial_exists(struct db *db, const unsigned char *serial,
    size_t len);
/* DB_EXISTS when device_id holds an unrevoked, unexpired (at now)
 * certificate for the key with this SPKI hash; DB_NOTFOUND otherwise. */
int db_cert_device_has_key(struct db *db, int64_t device_id,
    const unsigned char spki_sha256[DB_HASH_LEN], int64_t now);
/* The serial of certificate id alone (no blob read), or DB_NOTFOUND. */
int db_cert_serial_by_id(struct db *db, int64_t id,
    unsigned char serial[DB_SERIAL_MAX], size_t *len);
/* Certificates of a device, newest first, without der. */
int db_cert_list_device(struct db *db, int64_t device_id,
    struct db_cert **certs, size_t *n);

/*
 * Iterates over certificates (without der), calling fn for each; a
 * non-zero return from fn stops the walk and is returned.  With ca_id 0,
 * every CA.  only_revoked limits to revoked ones; it is the CRL builder's
 * input and reads the revocation table only, so those rows carry the
 * serial, CA and revocation fields but no profile, subject or validity.
 * Rows come in id order.
 */
typedef int (*db_cert_fn)(void *arg, const struct db_cert *c);
int db_cert_foreach(struct db *db, int64_t ca_id, int only_revoked,
    db_cert_fn fn, void *arg);

/*
 * Records a revocation (or changes its reason, e.g. certificateHold to
 * keyCompromise) and bumps the revocation epoch.  DB_NOTFOUND if no such
 * certificate.  Use db_cert_unrevoke for removeFromCRL.
 */
int db_cert_revoke(struct db *db, int64_t cert_id, int64_t when, int reason,
    int64_t invalidity_date);
int db_cert_unrevoke(struct db *db, int64_t cert_id);

/* What db_cert_revoke_valid did. */
enum db_revoke_outcome {
	DB_REVOKE_DONE,		/* revoked now */
	DB_REVOKE_WAS_REVOKED,	/* already revoked: left as it was */
	DB_REVOKE_EXPIRED,	/* past notAfter at when: left alone */
	DB_REVOKE_NOT_FOUND	/* no such certificate */
};
/*
 * Revokes cert_id at when with reason (no invalidity date) only if it is
 * unrevoked and unexpired at when, bumping the revocation epoch then; an
 * existing revocation is never changed.  *outcome says which; DB_OK
 * unless the store failed.  For scheduled revocations, where the
 * certificate may have been revoked or have expired meanwhile.
 */
int db_cert_revoke_valid(struct db *db, int64_t cert_id, int64_t when,
    int reason, enum db_revoke_outcome *outcome);
/* "revoked", "already_revoked", "expired", "no_such_certificate". */
const char *db_revoke_outcome_name(enum db_revoke_outcome o);

/* ---- scheduled events --------------------------------------------- */

/*
 * Work due later (e.g. revoking a superseded certificate after its grace
 * period): a row is pending until db_sched_done stamps it done with a
 * result.  Pending rows are found through a partial index on due_at, so
 * reading the due ones costs what is due, not what was ever scheduled.
 */
struct db_sched {
	int64_t id;
	int64_t device_id;
	char action[32];	/* e.g. "revoke_superseded" */
	char *params;		/* JSON text or NULL; owned by the struct */
	int64_t due_at;
};
void db_sched_clear(struct db_sched *e);	/* safe on zeroed struct */
int db_sched_insert(struct db *db, int64_t device_id, const char *action,
    const char *params, int64_t due_at, int64_t *id);
/* At most max pending events of action due at now (due_at <= now),
 * earliest first.
 * *evs is malloc'd: the caller clears each with db_sched_clear and frees
 * the array. */
int db_sched_due(struct db *db, const char *action, int64_t now, size_t max,
    struct db_sched **evs, size_t *n);
/* Marks a pending event done with result (text or NULL); DB_NOTFOUND if
 * no such event is pending. */
int db_sched_done(struct db *db, int64_t id, int64_t done_at,
    const char *result);

/* ---- CRLs --------------------------------------------------------- */

/* Next CRL number for ca_id (persisted; strictly increasing) is one more
 * than the largest stored; 1 for the first. */
int db_crl_next_number(struct db *db, int64_t ca_id, int64_t *number);
int db_crl_insert(struct db *db, int64_t ca_id, int64_t number,
    int is_delta, int64_t base_number, int64_t this_update,
    int64_t next_update, const unsigned char *der, size_t len);
/* Latest full (is_delta 0) or delta CRL; *der malloc'd, caller frees. */
int db_crl_latest(struct db *db, int64_t ca_id, int is_delta,
    int64_t *number, unsigned char **der, size_t *len);

/* ---- trust anchors (manufacturer CAs, manifest signers) ------------ */

struct db_trust {
	int64_t id;
	char kind[32];		/* "manufacturer_root",
				 * "manufacturer_intermediate",
				 * "manifest_signer" */
	char subject[256];
	unsigned char sha256[DB_HASH_LEN];	/* of der */
	unsigned char *der;	/* owned */
	size_t der_len;
	int64_t added_at;
};
void db_trust_clear(struct db_trust *t);
/* DB_EXISTS when the same certificate is already trusted as kind. */
int db_trust_insert(struct db *db, const char *kind, const char *subject,
    const unsigned char sha256[DB_HASH_LEN], const unsigned char *der,
    size_t len, int64_t *id);
/* Bumped with every trust anchor added (0 when none ever was), so a
 * running server notices anchors added by the CLI. */
int db_trust_epoch(struct db *db, int64_t *epoch);
/* Every anchor, oldest first; caller clears each and frees the array. */
int db_trust_list(struct db *db, struct db_trust **out, size_t *n);

/* ---- manifests and devices ----------------------------------------- */

int db_manifest_insert(struct db *db, const unsigned char sha256[DB_HASH_LEN],
    const char *source, int64_t total, int64_t ok, int64_t rejected,
    int64_t *id);
int db_manifest_update_counts(struct db *db, int64_t id, int64_t ok,
    int64_t rejected);

#define DB_UID_MAX 64
#define DB_OWNER_MAX 256

struct db_device {
	int64_t id;
	char uid[DB_UID_MAX + 1];
	char model[64];
	char part_number[64];
	char provisioner[128];
	int64_t provisioned_at;
	int64_t manifest_id;
	unsigned char *idevid_der;	/* owned; NULL in list walks */
	size_t idevid_len;
	unsigned char idevid_sha256[DB_HASH_LEN];
	unsigned char *chain_der;	/* owned; may be NULL */
	size_t chain_len;
	char state[16];		/* registered, claimed, active, returned,
				 * decommissioned, compromised */
	char owner[DB_OWNER_MAX];	/* "" when unowned */
	int64_t created_at, updated_at;
};
void db_device_clear(struct db_device *d);
/* Inserts a device in state "registered"; DB_EXISTS if uid is known. */
int db_device_insert(struct db *db, const struct db_device *d, int64_t *id);
int db_device_key_insert(struct db *db, int64_t device_id, const char *slot,
    const unsigned char *spki, size_t len);
/* Slot's SPKI DER (*spki malloc'd, caller frees) or DB_NOTFOUND. */
int db_device_key_get(struct db *db, int64_t device_id, const char *slot,
    unsigned char **spki, size_t *len);
/* Full record (with DER) by unique id, or DB_NOTFOUND. */
int db_device_get(struct db *db, const char *uid, struct db_device *d);
int db_device_get_by_id(struct db *db, int64_t id, struct db_device *d);
/* By row id, only id, uid, state and owner filled (the rest zero, no
 * DER): the committer's re-check before it records a certificate. */
int db_device_brief_by_id(struct db *db, int64_t id, struct db_device *d);
/* By SHA-256 of the IDevID certificate DER, or DB_NOTFOUND. */
int db_device_get_by_idevid(struct db *db,
    const unsigned char sha256[DB_HASH_LEN], struct db_device *d);
/* Sets state, and owner unless owner is NULL ("" clears it). */
int db_device_set_state(struct db *db, int64_t id, const char *state,
    const char *owner);
typedef int (*db_device_fn)(void *arg, const struct db_device *d);
/* Walks devices (without DER) in uid order; state/owner NULL = any. */
int db_device_foreach(struct db *db, const char *state, const char *owner,
    db_device_fn fn, void *arg);

/* ---- audit log ---------------------------------------------------- */

/*
 * Appends one row to the hash-chained audit log inside the caller's
 * transaction (or its own, if none is open).  details is a JSON text or
 * NULL.  hash = SHA-256(prev_hash || canonical(id, ts, actor, action,
 * subject, details)); see db/audit.c for the exact encoding.
 */
int db_audit_append(struct db *db, const char *actor, const char *action,
    const char *subject, const char *details);

struct db_audit_row {
	int64_t id, ts;
	char *actor, *action, *subject, *details;	/* owned */
	unsigned char prev_hash[DB_HASH_LEN], hash[DB_HASH_LEN];
};
typedef int (*db_audit_fn)(void *arg, const struct db_audit_row *r);
int db_audit_foreach(struct db *db, db_audit_fn fn, void *arg);
/*
 * Walks the whole chain.  DB_OK when intact; DB_CORRUPT with *bad_id set
 * to the first row whose hash or link is wrong (or the id after which a
 * row is missing), and why filled.
 */
int db_audit_verify(struct db *db, int64_t *bad_id, char *why, size_t len);

/* Test and migration hook: clock for audit rows and default times. */
extern time_t (*db_now)(void);

#endif
