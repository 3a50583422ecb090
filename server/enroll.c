/*
 * enroll.c - the enrollment sequence (see enroll.h).
 *
 * Reads happen on the worker's own handle; every write (certificate row,
 * device state, revocation of the superseded LDevID, audit row) happens
 * in one job on the group committer, which re-checks inside its
 * transaction what could have changed since the decision, so two
 * concurrent requests can never both get a certificate for the same key.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/csr.h"
#include "ca/profile.h"
#include "common/b64.h"
#include "common/log.h"
#include "db/db.h"
#include "ra/decide.h"
#include "ra/devname.h"
#include "ra/registry.h"
#include "ra/trust.h"
#include "server/app.h"
#include "server/commit_queue.h"
#include "server/enroll.h"
#include "server/proto/est.h"

#define CRL_REASON_SUPERSEDED 4	/* RFC 5280 section 5.3.1 */
#define CQ_MAX_BATCH 512
#define SWEEP_PERIOD_S 1		/* due revocations are looked for */
#define SWEEP_BATCH 256		/* events per sweep transaction */
#define SWEEP_ACTION "revoke_superseded"
#define ENROLL_PEER_REVERIFY_S 300	/* cached chain verdicts expire */

static const char *const kind_names[] = {
	[ENROLL_FIRST] = "simpleenroll",
	[ENROLL_RE] = "simplereenroll",
	[ENROLL_KEYGEN] = "serverkeygen",
};

/* ---- small helpers ---------------------------------------------------- */

static int
sha256(const unsigned char *p, size_t n, unsigned char out[DB_HASH_LEN])
{
	unsigned int l = 0;

	return EVP_Digest(p, n, out, &l, EVP_sha256(), NULL) == 1 &&
	    l == DB_HASH_LEN ? 0 : -1;
}

static int
cert_sha256(X509 *x, unsigned char out[DB_HASH_LEN])
{
	unsigned char *der = NULL;
	int n, rc;

	if ((n = i2d_X509(x, &der)) <= 0)
		return -1;
	rc = sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

static int
key_sha256(EVP_PKEY *k, unsigned char out[DB_HASH_LEN])
{
	unsigned char *der = NULL;
	int n, rc;

	if (k == NULL || (n = i2d_PUBKEY(k, &der)) <= 0)
		return -1;
	rc = sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

/* Serial of x as lower-case hex into out (for audit rows). */
static void
serial_hex(X509 *x, char *out, size_t len)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);

	if (s == NULL)
		out[0] = '\0';
	else
		hex_lower(s->data, (size_t)s->length, out, len);
}

/* A one-line subject of the leaf, for audit rows about unknown peers. */
static void
leaf_subject(STACK_OF(X509) *chain, char *out, size_t len)
{
	snprintf(out, len, "-");
	if (chain != NULL && sk_X509_num(chain) > 0)
		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(chain,
		    0)), out, (int)len);
}

/* The audit details as compact JSON (malloc'd) or NULL. */
static char *
details_json(const char *op, const char *peer, const char *reason,
    const char *profile, const char *serial, const char *extra_k,
    const char *extra_v)
{
	json_t *o = json_object();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "op", json_string(op));
	json_object_set_new(o, "peer", json_string(peer ? peer : "?"));
	if (reason != NULL)
		json_object_set_new(o, "reason", json_string(reason));
	if (profile != NULL)
		json_object_set_new(o, "profile", json_string(profile));
	if (serial != NULL)
		json_object_set_new(o, "serial", json_string(serial));
	if (extra_k != NULL && extra_v != NULL)
		json_object_set_new(o, extra_k, json_string(extra_v));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* ---- superseded LDevIDs ------------------------------------------------ */

/*
 * A re-enrollment's new certificate supersedes the one the device
 * authenticated with.  Under a profile whose reenroll_old_cert mode is
 * revoke_superseded, the old one is revoked (reason superseded) at once
 * when grace_seconds is 0, else a scheduled_event is written for
 * now + grace, in the caller's (the issuing) transaction; idle_sweep
 * carries it out.  Cost: one or two indexed statements, whatever the
 * number of certificates.  0, or -1 when the store failed.
 */
static int
supersede_old_cert(struct db *db, const struct ca_profile *p,
    int64_t device_id, int64_t old_cert_id, int64_t now)
{
	unsigned char serial[DB_SERIAL_MAX];
	char params[128], hex[2 * DB_SERIAL_MAX + 1];
	size_t sl = 0;
	int r;

	if (old_cert_id == 0 || p->reenroll != CA_REENROLL_REVOKE_SUPERSEDED)
		return 0;
	if (p->grace_seconds == 0) {
		r = db_cert_revoke(db, old_cert_id, now, CRL_REASON_SUPERSEDED,
		    0);
		return r == DB_OK ? 0 : -1;
	}
	/* The serial rides along for people reading the schedule and the
	 * audit row; the sweep acts on the id. */
	if (db_cert_serial_by_id(db, old_cert_id, serial, &sl) != DB_OK)
		return -1;
	hex_lower(serial, sl, hex, sizeof(hex));
	snprintf(params, sizeof(params), "{\"cert_id\":%lld,\"serial\":\"%s\"}",
	    (long long)old_cert_id, hex);
	return db_sched_insert(db, device_id, SWEEP_ACTION, params,
	    now + p->grace_seconds, NULL) == DB_OK ? 0 : -1;
}

/* cert_id and serial from a revoke_superseded event's params. */
static int
sweep_params(const char *params, int64_t *cert_id, const char **serial,
    json_t **root)
{
	json_error_t e;
	json_t *id, *s;

	*root = NULL;
	*serial = "";
	if (params == NULL || (*root = json_loads(params, JSON_REJECT_DUPLICATES,
	    &e)) == NULL || !json_is_object(*root))
		return -1;
	id = json_object_get(*root, "cert_id");
	s = json_object_get(*root, "serial");
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return -1;
	*cert_id = json_integer_value(id);
	if (json_is_string(s))
		*serial = json_string_value(s);
	return 0;
}

/*
 * The committer's periodic job (every SWEEP_PERIOD_S, and at once again
 * while its batches come back full; see cq_start): carries out the
 * revoke_superseded events that are due, at most SWEEP_BATCH of them, in the committer's transaction.  Each
 * certificate still unrevoked and unexpired is revoked (superseded); the
 * event is marked done with what happened; one audit row tells the
 * batch.  Returns 1 when the batch was full (more may be due), 0 when
 * done, -1 when the store failed (all of it is rolled back and retried
 * next period).
 */
static int
idle_sweep(struct db *db, void *arg)
{
	struct db_sched *ev = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);
	json_t *done = NULL, *sum = NULL;
	char *det = NULL;
	int rc = -1, revoked = 0;

	(void)arg;
	if (db_sched_due(db, SWEEP_ACTION, now, SWEEP_BATCH, &ev, &n) !=
	    DB_OK) {
		log_err("est: superseded sweep: %s", db_errmsg(db));
		return -1;
	}
	if (n == 0)
		return 0;
	if ((done = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		enum db_revoke_outcome oc = DB_REVOKE_NOT_FOUND;
		const char *result = "bad_params", *serial;
		json_t *root;
		int64_t cid = 0;

		if (sweep_params(ev[i].params, &cid, &serial, &root) == 0) {
			if (db_cert_revoke_valid(db, cid, now,
			    CRL_REASON_SUPERSEDED, &oc) != DB_OK) {
				json_decref(root);
				goto out;
			}
			result = db_revoke_outcome_name(oc);
			if (oc == DB_REVOKE_DONE) {
				revoked++;
				json_array_append_new(done,
				    json_string(serial));
			}
		} else {
			log_warn("est: scheduled event %lld: bad params, "
			    "dropped", (long long)ev[i].id);
		}
		json_decref(root);
		if (db_sched_done(db, ev[i].id, now, result) != DB_OK)
			goto out;
	}
	/* The details: {"revoked":N,"serials":[...],"skipped":M}; "o"
	 * hands done to the new object, which owns it from here. */
	if ((sum = json_pack("{s:i, s:i, s:o}", "revoked", revoked,
	    "skipped", (int)n - revoked, "serials", done)) == NULL) {
		done = NULL;	/* json_pack consumed it even on failure */
		goto out;
	}
	done = NULL;
	if ((det = json_dumps(sum, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if (db_audit_append(db, "est", "superseded_revoked", "-", det) != DB_OK)
		goto out;
	rc = n == SWEEP_BATCH ? 1 : 0;
out:
	if (rc < 0)
		log_err("est: superseded sweep: %s", db_errmsg(db));
	free(det);
	json_decref(sum);
	json_decref(done);
	for (size_t i = 0; i < n; i++)
		db_sched_clear(&ev[i]);
	free(ev);
	return rc;
}

/*
 * Manufacturer anchors added with the CLI while the server runs take
 * effect here: at most every 200 ms one cheap epoch read, and a rebuild
 * of the trust set only when it moved.  Anchors are only ever added, so
 * verdicts cached against the old set stay true.
 */
static void
trust_refresh(struct enroll_state *es, struct db *db)
{
	struct timespec ts;
	struct ra_trust *nt, *old;
	int64_t ms, last, epoch;
	char err[256];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	last = atomic_load(&es->trust_checked_ms);
	if (ms - last < 200 ||
	    !atomic_compare_exchange_strong(&es->trust_checked_ms, &last, ms))
		return;
	if (db_trust_epoch(db, &epoch) != DB_OK)
		return;
	pthread_rwlock_rdlock(&es->trust_lock);
	last = es->trust_epoch;
	pthread_rwlock_unlock(&es->trust_lock);
	if (epoch == last)
		return;
	if ((nt = ra_trust_from_db(db, err, sizeof(err))) == NULL) {
		log_err("est: reloading manufacturer trust: %s", err);
		return;
	}
	pthread_rwlock_wrlock(&es->trust_lock);
	old = es->trust;
	es->trust = nt;
	es->trust_epoch = epoch;
	pthread_rwlock_unlock(&es->trust_lock);
	ra_trust_free(old);
	log_info("est: manufacturer trust reloaded (epoch %lld)",
	    (long long)epoch);
}

/* ---- per-connection peer facts ------------------------------------------ */

struct enroll_peer {
	STACK_OF(X509) *chain;			/* owned */
	unsigned char list_hash[32];		/* of the list as presented */
	unsigned char leaf_sha256[DB_HASH_LEN];	/* of the leaf DER */
	unsigned char *leaf_spki;		/* i2d_PUBKEY; OPENSSL_free */
	size_t leaf_spki_len;
	/* Positive chain verdicts, [0] manufacturer trust, [1] our own CAs
	 * (client purpose); 0 = none cached.  Atomic: a cached peer is
	 * shared by every connection presenting the same list. */
	_Atomic(time_t) verified_at[2];
	atomic_int refs;	/* enroll_peer_ref / enroll_peer_free */
};

/*
 * Peers seen lately, shared across connections: a device that opens a
 * new TLS connection per enrollment presents the same list each time,
 * and parsing it (OpenSSL 3.0 decodes each key through its provider
 * decoders) and verifying it cost about a third of such an enrollment.
 * Direct-mapped by the list hash; each slot holds a reference.  Only
 * what depends on the list's bytes alone is cached (the verdicts expire
 * as on a connection); device state and revocation are looked up per
 * request.
 */
#define PEER_CACHE_SLOTS 1024

struct enroll_peer_cache {
	pthread_mutex_t lock;
	struct enroll_peer *slot[PEER_CACHE_SLOTS];
};

struct enroll_peer *
enroll_peer_new(STACK_OF(X509) *chain, const unsigned char list_hash[32])
{
	struct enroll_peer *p;
	unsigned char *der = NULL;
	int n;

	if (chain == NULL || sk_X509_num(chain) < 1 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		sk_X509_pop_free(chain, X509_free);
		return NULL;
	}
	p->chain = chain;
	atomic_init(&p->refs, 1);
	memcpy(p->list_hash, list_hash, sizeof(p->list_hash));
	if (cert_sha256(sk_X509_value(chain, 0), p->leaf_sha256) != 0)
		goto fail;
	/* A leaf whose key does not encode is kept without the cache (the
	 * RA then compares the slow way and refuses as before). */
	if ((n = i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(chain, 0)),
	    &der)) > 0) {
		p->leaf_spki = der;
		p->leaf_spki_len = (size_t)n;
	}
	ERR_clear_error();
	return p;
fail:
	enroll_peer_free(p);
	return NULL;
}

int
enroll_peer_matches(const struct enroll_peer *p,
    const unsigned char list_hash[32])
{
	return p != NULL && memcmp(p->list_hash, list_hash,
	    sizeof(p->list_hash)) == 0;
}

STACK_OF(X509) *
enroll_peer_chain(const struct enroll_peer *p)
{
	return p != NULL ? p->chain : NULL;
}

struct enroll_peer *
enroll_peer_ref(struct enroll_peer *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void
enroll_peer_free(void *arg)
{
	struct enroll_peer *p = arg;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) > 1)
		return;
	sk_X509_pop_free(p->chain, X509_free);
	OPENSSL_free(p->leaf_spki);
	free(p);
}

static size_t
peer_slot(const unsigned char list_hash[32])
{
	return ((size_t)list_hash[0] << 8 | list_hash[1]) % PEER_CACHE_SLOTS;
}

struct enroll_peer *
enroll_peer_cached(struct enroll_state *s, const unsigned char list_hash[32])
{
	struct enroll_peer *p;

	if (s == NULL || s->peers == NULL)
		return NULL;
	pthread_mutex_lock(&s->peers->lock);
	p = s->peers->slot[peer_slot(list_hash)];
	p = enroll_peer_matches(p, list_hash) ? enroll_peer_ref(p) : NULL;
	pthread_mutex_unlock(&s->peers->lock);
	return p;
}

void
enroll_peer_remember(struct enroll_state *s, struct enroll_peer *p)
{
	struct enroll_peer *old;
	size_t i;

	if (s == NULL || s->peers == NULL || p == NULL)
		return;
	i = peer_slot(p->list_hash);
	pthread_mutex_lock(&s->peers->lock);
	old = s->peers->slot[i];
	s->peers->slot[i] = enroll_peer_ref(p);
	pthread_mutex_unlock(&s->peers->lock);
	enroll_peer_free(old);
}

static void
peer_cache_free(struct enroll_peer_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < PEER_CACHE_SLOTS; i++)
		enroll_peer_free(c->slot[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * 1 when p's chain verifies against store at now: a cached positive
 * verdict while it is young and every presented certificate is inside its
 * validity, else verified afresh (and cached when good).  0 means "not
 * shown here": the RA then verifies itself and names the reason.
 */
static int
peer_verified(struct enroll_peer *p, X509_STORE *store, int own, time_t now)
{
	time_t at;
	int i;

	if (p == NULL || store == NULL)
		return 0;
	at = atomic_load(&p->verified_at[own]);
	if (at != 0 && now >= at && now - at < ENROLL_PEER_REVERIFY_S) {
		for (i = 0; i < sk_X509_num(p->chain); i++) {
			X509 *x = sk_X509_value(p->chain, i);

			if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0 ||
			    X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
				break;
		}
		if (i == sk_X509_num(p->chain))
			return 1;
	}
	atomic_store(&p->verified_at[own], 0);
	if (!ra_chain_verify(p->chain, store, now, own))
		return 0;
	atomic_store(&p->verified_at[own], now);
	return 1;
}

/* ---- state ------------------------------------------------------------ */

static int
csrattrs_for(const struct ca_profile *p, char **body, size_t *len)
{
	static const char *const p256[] = { "prime256v1" };
	static const char *const p384[] = { "secp384r1" };
	struct est_csrattr at[2];
	size_t n = 0;

	*body = NULL;
	*len = 0;
	/* Hints only where the profile pins one key type; with a choice the
	 * client picks and the answer is 204 (RFC 7030 section 4.5.2). */
	if (p->key_types == CA_PROFILE_KEY_P256) {
		at[n++] = (struct est_csrattr){ "id-ecPublicKey", p256, 1 };
		at[n++] = (struct est_csrattr){ "ecdsa-with-SHA256", NULL, 0 };
	} else if (p->key_types == CA_PROFILE_KEY_P384) {
		at[n++] = (struct est_csrattr){ "id-ecPublicKey", p384, 1 };
		at[n++] = (struct est_csrattr){ "ecdsa-with-SHA384", NULL, 0 };
	} else if (p->key_types == CA_PROFILE_KEY_ED25519) {
		at[n++] = (struct est_csrattr){ "ED25519", NULL, 0 };
	}
	return est_csrattrs_encode(at, n, body, len) == EST_OK ? 0 : -1;
}

struct enroll_state *
enroll_state_load(struct app *a, struct db *db, char *err, size_t errlen)
{
	struct enroll_state *s;
	STACK_OF(X509) *cas = NULL;
	char pdir[1200];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(pdir, sizeof(pdir), "%s/policies", a->cfg.dir);
	if (ra_policy_load(pdir, &s->policy, err, errlen) != 0)
		goto fail;
	if (ca_profiles_find(a->profiles, s->policy.default_profile) == NULL) {
		snprintf(err, errlen, "ra.json: default_profile \"%s\" is not "
		    "a loaded profile", s->policy.default_profile);
		goto fail;
	}
	if (db_trust_epoch(db, &s->trust_epoch) != DB_OK ||
	    (s->trust = ra_trust_from_db(db, err, errlen)) == NULL)
		goto fail;
	pthread_rwlock_init(&s->trust_lock, NULL);
	/* cacerts: the issuing CA(s) first, then the roots (what a device
	 * needs to build a path to its trust anchor). */
	if ((cas = sk_X509_new_null()) == NULL)
		goto oom;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = a->ncas - 1; i >= 0; i--) {
			const unsigned char *p = a->cas[i].der;
			X509 *x = d2i_X509(NULL, &p, (long)a->cas[i].len);
			int root;

			if (x == NULL)
				goto oom;
			root = X509_check_issued(x, x) == X509_V_OK;
			if (root != pass || !sk_X509_push(cas, x))
				X509_free(x);
		}
	}
	if (sk_X509_num(cas) == 0 || est_certs_encode(cas, &s->cacerts,
	    &s->cacerts_len) != EST_OK) {
		snprintf(err, errlen, "cannot encode the CA certificates");
		goto fail;
	}
	s->nprofiles = ca_profiles_count(a->profiles);
	if ((s->csrattrs = calloc(s->nprofiles + 1, sizeof(char *))) == NULL ||
	    (s->csrattrs_len = calloc(s->nprofiles + 1, sizeof(size_t))) ==
	    NULL)
		goto oom;
	for (size_t i = 0; i < s->nprofiles; i++)
		if (csrattrs_for(ca_profiles_get(a->profiles, i),
		    &s->csrattrs[i], &s->csrattrs_len[i]) != 0) {
			snprintf(err, errlen, "cannot encode csrattrs");
			goto fail;
		}
	if ((s->peers = calloc(1, sizeof(*s->peers))) == NULL)
		goto oom;
	pthread_mutex_init(&s->peers->lock, NULL);
	if ((s->cq = cq_start(a->db_path, CQ_MAX_BATCH, idle_sweep, a,
	    SWEEP_PERIOD_S, err, errlen)) == NULL)
		goto fail;
	sk_X509_pop_free(cas, X509_free);
	return s;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	sk_X509_pop_free(cas, X509_free);
	enroll_state_free(s);
	return NULL;
}

void
enroll_state_free(struct enroll_state *s)
{
	if (s == NULL)
		return;
	cq_free(s->cq);
	peer_cache_free(s->peers);
	ra_trust_free(s->trust);
	pthread_rwlock_destroy(&s->trust_lock);
	free(s->cacerts);
	if (s->csrattrs != NULL)
		for (size_t i = 0; i < s->nprofiles; i++)
			free(s->csrattrs[i]);
	free(s->csrattrs);
	free(s->csrattrs_len);
	free(s);
}

/* ---- the committer's jobs ---------------------------------------------- */

/*
 * One enrollment (or one refusal) in flight: everything the committer's
 * job and its completion need, owned here, since the request that asked
 * may be parked (or gone) by the time the committer runs it.  Made by
 * the worker, handed to the committer with cq_submit, freed by
 * task_finish after the caller's done function.
 */
struct enroll_task {
	struct app *a;
	enum enroll_kind kind;
	const struct ca_profile *profile;	/* lives as long as the app */
	char peer[64];
	time_t now;
	struct ca_csr *csr;		/* the client's request; owned */
	X509_REQ *kg_csr;		/* serverkeygen's own request; owned */
	EVP_PKEY *idevid_key;		/* first enrollment; owned ref */
	int64_t device_id;
	int64_t old_cert_id;		/* re-enroll: the presented LDevID */
	unsigned char spki[DB_HASH_LEN];	/* of the key to certify */
	struct ca_prepared *prep;	/* signed by the worker; owned */
	char prep_uid[DB_UID_MAX + 1];	/* the names prep was made for */
	char prep_owner[DB_OWNER_MAX];
	/* refusal audit row */
	char subject[256];
	char *details;			/* malloc'd JSON */
	/* results of issue_apply */
	X509 *cert;			/* set when issued afresh (fallback) */
	int recorded;			/* prep's certificate was recorded */
	enum enroll_status status;
	char reason[64];
	/* the answer, and who gets it */
	struct enroll_out out;
	enroll_done_fn done;
	void *done_arg;
};

static void
task_free(struct enroll_task *t)
{
	if (t == NULL)
		return;
	ca_csr_free(t->csr);
	X509_REQ_free(t->kg_csr);
	EVP_PKEY_free(t->idevid_key);
	ca_prepared_free(t->prep);
	X509_free(t->cert);
	free(t->details);
	enroll_out_clear(&t->out);
	free(t);
}

/* The issued certificate's serial as hex, whichever form holds it. */
static void
task_serial_hex(const struct enroll_task *t, char *out, size_t len)
{
	if (t->recorded)
		ca_prepared_serial_hex(t->prep, out, len);
	else
		serial_hex(t->cert, out, len);
}

/* Hands t->out to the caller's done function, then frees t. */
static void
task_finish(struct enroll_task *t)
{
	if (t->out.status != ENROLL_OK) {
		X509_free(t->out.cert);
		t->out.cert = NULL;
		OPENSSL_free(t->out.cert_der);
		t->out.cert_der = NULL;
		t->out.cert_der_len = 0;
		EVP_PKEY_free(t->out.key);
		t->out.key = NULL;
	}
	t->done(t->done_arg, &t->out);
	task_free(t);
}

/* An audit row for a refusal. */
static int
refusal_apply(struct db *db, void *arg)
{
	struct enroll_task *t = arg;

	return db_audit_append(db, "est", "enroll_refused", t->subject,
	    t->details) == DB_OK ? 0 : -1;
}

static void
refusal_done(void *arg, int result)
{
	struct enroll_task *t = arg;

	if (result != 0)
		log_err("est: could not audit refusal %s from %s",
		    t->out.reason, t->peer);
	task_finish(t);
}

/*
 * Refuses with status st and reason, audited: t->out is set and the
 * audit row is queued; the caller's done function runs once it is
 * committed (the refusal is answered even should the audit fail: logged).
 * Consumes t.
 */
static void
task_refuse(struct enroll_task *t, const char *op, enum enroll_status st,
    const char *reason, const char *subject)
{
	t->out.status = st;
	snprintf(t->out.reason, sizeof(t->out.reason), "%s", reason);
	snprintf(t->subject, sizeof(t->subject), "%s",
	    subject != NULL ? subject : "-");
	atomic_fetch_add(&t->a->m.refused, 1);
	if ((t->details = details_json(op, t->peer, reason,
	    t->profile != NULL ? t->profile->name : NULL, NULL, NULL,
	    NULL)) == NULL || cq_submit(t->a->enroll->cq, refusal_apply,
	    refusal_done, t) != 0)
		refusal_done(t, -1);
}

static struct enroll_task *
task_new(struct app *a, enum enroll_kind kind, const char *peer,
    enroll_done_fn done, void *arg)
{
	struct enroll_task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->a = a;
	t->kind = kind;
	snprintf(t->peer, sizeof(t->peer), "%s", peer ? peer : "?");
	t->out.status = ENROLL_FAILED;
	snprintf(t->out.reason, sizeof(t->out.reason), "internal_error");
	t->done = done;
	t->done_arg = arg;
	return t;
}

/* When not even a task can be made: answer at once, unaudited. */
static void
answer_oom(enroll_done_fn done, void *arg)
{
	struct enroll_out o;

	memset(&o, 0, sizeof(o));
	o.status = ENROLL_FAILED;
	snprintf(o.reason, sizeof(o.reason), "internal_error");
	log_err("est: out of memory");
	done(arg, &o);
	enroll_out_clear(&o);
}

void
enroll_refuse(struct app *a, const char *op, const char *peer,
    const char *reason, STACK_OF(X509) *chain, enum enroll_status st,
    enroll_done_fn done, void *arg)
{
	struct enroll_task *t = task_new(a, ENROLL_FIRST, peer, done, arg);
	char subj[256];

	if (t == NULL) {
		answer_oom(done, arg);
		return;
	}
	leaf_subject(chain, subj, sizeof(subj));
	task_refuse(t, op, st, reason, subj);
}

/*
 * Issuing, run by the committer; re-runnable.  The certificate was built
 * and signed by the worker (prep, for the device's uid and owner as read
 * then); the committer only records it.  Should the owner have changed in
 * between, the committer issues afresh with ca_issue (rare).
 */
static int
issue_apply(struct db *db, void *arg)
{
	struct enroll_task *j = arg;
	struct app *a = j->a;
	const char *op = kind_names[j->kind];
	struct db_device d;
	struct ca_issue_req ir;
	enum ca_err ce;
	char serial[2 * DB_SERIAL_MAX + 1], old[32], *det = NULL;
	int rc = -1;

	X509_free(j->cert);
	j->cert = NULL;
	j->recorded = 0;
	j->status = ENROLL_FAILED;
	snprintf(j->reason, sizeof(j->reason), "internal_error");
	memset(&d, 0, sizeof(d));
	if (db_device_brief_by_id(db, j->device_id, &d) != DB_OK)
		goto out;
	/* Re-checks under the write lock: the decision was made outside. */
	if (strcmp(d.state, "claimed") != 0 && strcmp(d.state, "active") != 0)
		snprintf(j->reason, sizeof(j->reason), "%s",
		    ra_reason_name(RA_DEVICE_BLOCKED));
	else if (j->kind == ENROLL_FIRST &&
	    !a->enroll->policy.allow_reenroll_same_key &&
	    db_cert_device_has_key(db, j->device_id, j->spki,
	    (int64_t)j->now) == DB_EXISTS)
		snprintf(j->reason, sizeof(j->reason), "%s",
		    ra_reason_name(RA_ALREADY_ENROLLED));
	else
		j->reason[0] = '\0';
	if (j->reason[0] != '\0') {
		j->status = ENROLL_REFUSED;
		if ((det = details_json(op, j->peer, j->reason,
		    j->profile->name, NULL, NULL, NULL)) == NULL ||
		    db_audit_append(db, "est", "enroll_refused", d.uid, det) !=
		    DB_OK)
			goto out;
		rc = 0;
		goto out;
	}
	if (j->prep != NULL && strcmp(d.uid, j->prep_uid) == 0 &&
	    strcmp(d.owner, j->prep_owner) == 0) {
		/* The usual case: only the insert happens here. */
		ce = ca_issue_record(j->prep, db, NULL);
		j->recorded = ce == CA_OK;
	} else {
		memset(&ir, 0, sizeof(ir));
		ir.csr = j->kg_csr;
		ir.creq = j->kg_csr != NULL ? NULL : j->csr;
		ir.uid = d.uid;
		ir.owner = d.owner[0] ? d.owner : NULL;
		ir.device_id = d.id;
		ir.idevid_key = j->idevid_key;
		ce = ca_issue(a->signer, db, j->profile, &ir, &j->cert, NULL);
	}
	if (ce == CA_ERR_STORE || ce == CA_ERR_INTERNAL) {
		log_err("est: issuing for %s: %s", d.uid, ca_err_name(ce));
		goto out;
	}
	if (ce != CA_OK) {
		/* The CA's own checks disagree with the RA: refuse, audited. */
		j->status = ENROLL_REFUSED;
		snprintf(j->reason, sizeof(j->reason), "%s", ca_err_name(ce));
		if ((det = details_json(op, j->peer, j->reason,
		    j->profile->name, NULL, NULL, NULL)) == NULL ||
		    db_audit_append(db, "est", "enroll_refused", d.uid, det) !=
		    DB_OK)
			goto out;
		rc = 0;
		goto out;
	}
	if (strcmp(d.state, "active") != 0 &&
	    db_device_set_state(db, d.id, "active", NULL) != DB_OK)
		goto out;
	/* The new certificate supersedes the one presented: revoked now or
	 * scheduled for after the profile's grace (supersede_old_cert). */
	if (supersede_old_cert(db, j->profile, d.id, j->old_cert_id,
	    (int64_t)j->now) != 0)
		goto out;
	task_serial_hex(j, serial, sizeof(serial));
	snprintf(old, sizeof(old), "%lld", (long long)j->old_cert_id);
	if ((det = details_json(op, j->peer, NULL, j->profile->name,
	    serial, j->old_cert_id ? "supersedes_cert_id" : NULL, old)) ==
	    NULL || db_audit_append(db, "est", "ldevid_issued", d.uid, det) !=
	    DB_OK)
		goto out;
	j->status = ENROLL_OK;
	j->reason[0] = '\0';
	rc = 0;
out:
	if (rc != 0) {
		X509_free(j->cert);
		j->cert = NULL;
		j->recorded = 0;
		j->status = ENROLL_FAILED;
	}
	free(det);
	db_device_clear(&d);
	return rc;
}

/* The committer's word on an issue job: the answer to the caller. */
static void
issue_done(void *arg, int result)
{
	struct enroll_task *j = arg;
	struct app *a = j->a;

	if (result != 0) {
		log_err("est: %s for %s: not committed", kind_names[j->kind],
		    j->prep_uid);
		j->out.status = ENROLL_FAILED;
		snprintf(j->out.reason, sizeof(j->out.reason),
		    "internal_error");
		task_finish(j);
		return;
	}
	j->out.status = j->status;
	snprintf(j->out.reason, sizeof(j->out.reason), "%s", j->reason);
	if (j->status == ENROLL_OK) {
		if (j->recorded && j->out.key == NULL &&
		    ca_prepared_der(j->prep, &j->out.cert_der_len) != NULL) {
			/* DER straight to the answer: no object made. */
			j->out.cert_der = ca_prepared_take_der(j->prep,
			    &j->out.cert_der_len);
		} else if (j->recorded) {
			/* serverkeygen's encoder wants the object. */
			if ((j->out.cert = ca_prepared_take(j->prep)) == NULL) {
				j->out.status = ENROLL_FAILED;
				snprintf(j->out.reason, sizeof(j->out.reason),
				    "internal_error");
			}
		} else {
			j->out.cert = j->cert;
			j->cert = NULL;
		}
		atomic_fetch_add(&a->m.issued, 1);
	} else if (j->status == ENROLL_REFUSED) {
		atomic_fetch_add(&a->m.refused, 1);
	}
	task_finish(j);
}

/* ---- the decision ------------------------------------------------------ */

static enum enroll_status
status_of(enum ra_reason r, enum enroll_kind k)
{
	switch (r) {
	case RA_APPROVE:
		return ENROLL_OK;
	case RA_NO_CLIENT_CERT:
	case RA_UNTRUSTED_CHAIN:
		return ENROLL_UNAUTHENTICATED;
	case RA_UNKNOWN_DEVICE:
		/* For re-enrollment: not an LDevID of ours at all. */
		return k == ENROLL_RE ? ENROLL_UNAUTHENTICATED : ENROLL_REFUSED;
	case RA_MALFORMED_REQUEST:
		return ENROLL_BAD_REQUEST;
	default:
		return ENROLL_REFUSED;
	}
}

/*
 * The device for an IDevID leaf: by certificate hash, else by the unique
 * id it names (a different certificate then: counterfeit or re-issued).
 */
static int
find_by_idevid(struct db *db, X509 *leaf, const unsigned char *leaf_sha256,
    struct db_device *d)
{
	unsigned char h[DB_HASH_LEN];
	char uid[RA_UID_MAX + 1];
	int r;

	if (leaf_sha256 != NULL)
		memcpy(h, leaf_sha256, sizeof(h));
	else if (cert_sha256(leaf, h) != 0)
		return DB_ERROR;
	if ((r = db_device_get_by_idevid(db, h, d)) != DB_NOTFOUND)
		return r;
	if (ra_name_uid(X509_get_subject_name(leaf), uid) != 0)
		return DB_NOTFOUND;
	return db_device_get(db, uid, d);
}

/* Is leaf one of our certificates?  Fills c (with der) when it is. */
static int
find_own_cert(struct db *db, X509 *leaf, struct db_cert *c)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(leaf);
	unsigned char *der = NULL;
	int n, r;

	if (s == NULL || s->length <= 0 || s->length > DB_SERIAL_MAX ||
	    (s->type & V_ASN1_NEG))
		return DB_NOTFOUND;
	if ((r = db_cert_get_by_serial(db, s->data, (size_t)s->length, c)) !=
	    DB_OK)
		return r;
	if ((n = i2d_X509(leaf, &der)) <= 0)
		return DB_ERROR;
	/* Same serial is not enough: the bytes must be ours. */
	r = c->der != NULL && (size_t)n == c->der_len &&
	    memcmp(der, c->der, c->der_len) == 0 && c->device_id != 0 ?
	    DB_OK : DB_NOTFOUND;
	OPENSSL_free(der);
	return r;
}

/* The key serverkeygen makes: the first type the profile allows. */
static EVP_PKEY *
keygen_for(const struct ca_profile *p)
{
	if (p->key_types & CA_PROFILE_KEY_P256)
		return ca_key_generate(CA_KEY_P256);
	if (p->key_types & CA_PROFILE_KEY_P384)
		return ca_key_generate(CA_KEY_P384);
	if (p->key_types & CA_PROFILE_KEY_ED25519)
		return ca_key_generate(CA_KEY_ED25519);
	if ((p->key_types & CA_PROFILE_KEY_RSA) && p->rsa_min_bits <= 3072)
		return ca_key_generate(CA_KEY_RSA3072);
	return NULL;
}

/* A request for key naming what the client's request names. */
static X509_REQ *
request_for_key(const struct ca_csr *client, EVP_PKEY *key)
{
	X509_REQ *r;
	const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ?
	    NULL : EVP_sha256();

	if ((r = X509_REQ_new()) == NULL)
		return NULL;
	if (X509_REQ_set_version(r, 0) != 1 ||
	    X509_REQ_set_subject_name(r, ca_csr_subject(client)) !=
	    1 || X509_REQ_set_pubkey(r, key) != 1 ||
	    X509_REQ_sign(r, key, md) <= 0) {
		log_openssl("serverkeygen: building the request");
		X509_REQ_free(r);
		return NULL;
	}
	return r;
}

void
enroll_out_clear(struct enroll_out *o)
{
	X509_free(o->cert);
	OPENSSL_free(o->cert_der);
	EVP_PKEY_free(o->key);
	memset(o, 0, sizeof(*o));
}

/*
 * The worker's half: reads, the RA decision and the signing, in
 * parallel with other workers.  Leaves t ready for issue_apply (returns
 * 1), or has refused or failed it (returns 0; then t->out says which and
 * *refuse_subject is set for a refusal still to audit, *refuse_st its
 * status).
 */
static int
enroll_prepare(struct app *a, const struct enroll_in *in,
    struct enroll_task *t, enum enroll_status *refuse_st, char *reason,
    size_t reasonsz, char *subject, size_t subjsz)
{
	struct enroll_state *es = a->enroll;
	struct db *db = app_db(a);
	struct db_device dev;
	struct db_cert own;
	struct ca_profile kgprof;
	unsigned char *slot0 = NULL;
	size_t slot0_len = 0;
	int have_dev = 0, is_own = 0, r, ready = 0;
	enum ra_reason rr;
	X509 *leaf;

	memset(&dev, 0, sizeof(dev));
	memset(&own, 0, sizeof(own));
	*refuse_st = ENROLL_OK;
	reason[0] = '\0';
	leaf_subject(in->chain, subject, subjsz);
	if (db == NULL)
		goto out;
	if (in->chain == NULL || sk_X509_num(in->chain) < 1) {
		*refuse_st = ENROLL_UNAUTHENTICATED;
		snprintf(reason, reasonsz, "%s",
		    ra_reason_name(RA_NO_CLIENT_CERT));
		goto out;
	}
	leaf = sk_X509_value(in->chain, 0);
	if (ca_csr_spki_hash(t->csr, t->spki) != 0) {
		ERR_clear_error();
		*refuse_st = ENROLL_BAD_REQUEST;
		snprintf(reason, reasonsz, "%s",
		    ra_reason_name(RA_MALFORMED_REQUEST));
		goto out;
	}
	if (in->kind != ENROLL_FIRST) {
		r = find_own_cert(db, leaf, &own);
		if (r != DB_OK && r != DB_NOTFOUND)
			goto out;
		is_own = r == DB_OK;
	}
	if (in->kind == ENROLL_RE || is_own) {
		struct ra_reenroll_facts f;

		if (is_own) {
			if ((r = db_device_get_by_id(db, own.device_id, &dev)) ==
			    DB_OK)
				have_dev = 1;
			else if (r != DB_NOTFOUND)
				goto out;
		}
		memset(&f, 0, sizeof(f));
		f.chain = in->chain;
		f.own_store = a->own_store;
		f.now = in->now;
		f.creq = t->csr;
		f.device = have_dev ? &dev : NULL;
		f.cert_known = is_own;
		f.cert_revoked = is_own && own.revoked;
		f.profile = in->profile;
		f.chain_verified = is_own && !own.revoked &&
		    peer_verified(in->facts, a->own_store, 1, in->now);
		rr = ra_decide_reenroll(&f);
		t->old_cert_id = is_own ? own.id : 0;
	} else {
		struct ra_enroll_facts f;
		int has_key = 0;

		if ((r = find_by_idevid(db, leaf, in->facts != NULL ?
		    in->facts->leaf_sha256 : NULL, &dev)) == DB_OK)
			have_dev = 1;
		else if (r != DB_NOTFOUND)
			goto out;
		if (have_dev) {
			r = db_device_key_get(db, dev.id, "0", &slot0,
			    &slot0_len);
			if (r != DB_OK && r != DB_NOTFOUND)
				goto out;
			r = db_cert_device_has_key(db, dev.id, t->spki,
			    (int64_t)in->now);
			if (r != DB_EXISTS && r != DB_NOTFOUND)
				goto out;
			has_key = r == DB_EXISTS;
		}
		trust_refresh(es, db);
		pthread_rwlock_rdlock(&es->trust_lock);
		memset(&f, 0, sizeof(f));
		f.chain = in->chain;
		f.mfg_store = ra_trust_manufacturer_store(es->trust);
		f.now = in->now;
		f.creq = t->csr;
		f.device = have_dev ? &dev : NULL;
		f.slot0_spki = slot0;
		f.slot0_len = slot0_len;
		f.policy = &es->policy;
		f.profile = in->profile;
		if (in->kind == ENROLL_KEYGEN) {
			/* The key will be ours and fresh: a request signed
			 * with the IDevID key is fine here. */
			kgprof = *in->profile;
			kgprof.require_new_key = 0;
			f.profile = &kgprof;
		}
		f.has_ldevid_same_key = has_key;
		f.chain_verified = have_dev && peer_verified(in->facts,
		    f.mfg_store, 0, in->now);
		if (in->facts != NULL && in->facts->leaf_spki != NULL) {
			f.leaf_spki = in->facts->leaf_spki;
			f.leaf_spki_len = in->facts->leaf_spki_len;
		}
		rr = ra_decide_enroll(&f);
		pthread_rwlock_unlock(&es->trust_lock);
		if ((t->idevid_key = X509_get0_pubkey(leaf)) != NULL &&
		    EVP_PKEY_up_ref(t->idevid_key) != 1) {
			t->idevid_key = NULL;
			goto out;
		}
	}
	if (have_dev)
		snprintf(subject, subjsz, "%s", dev.uid);
	if (rr != RA_APPROVE) {
		*refuse_st = status_of(rr, in->kind);
		snprintf(reason, reasonsz, "%s", ra_reason_name(rr));
		goto out;
	}
	t->device_id = dev.id;
	if (in->kind == ENROLL_KEYGEN) {
		if ((t->out.key = keygen_for(in->profile)) == NULL ||
		    (t->kg_csr = request_for_key(t->csr, t->out.key)) == NULL)
			goto out;
		if (key_sha256(t->out.key, t->spki) != 0)
			goto out;
	}
	/* Build and sign here, in parallel with other workers; the
	 * committer only records.  The RA verified the request signature
	 * (ours signs serverkeygen's), so the CA checks only the key. */
	{
		struct ca_issue_req ir;
		enum ca_err ce;

		/* prep keeps pointers to the request's names until it is
		 * recorded: they must live in t, not on this stack. */
		snprintf(t->prep_uid, sizeof(t->prep_uid), "%s", dev.uid);
		snprintf(t->prep_owner, sizeof(t->prep_owner), "%s",
		    dev.owner);
		memset(&ir, 0, sizeof(ir));
		ir.csr = t->kg_csr;
		ir.creq = t->kg_csr != NULL ? NULL : t->csr;
		ir.uid = t->prep_uid;
		ir.owner = t->prep_owner[0] ? t->prep_owner : NULL;
		ir.device_id = dev.id;
		ir.idevid_key = t->idevid_key;
		ce = ca_issue_prepare(a->signer, in->profile, &ir, 1,
		    &t->prep);
		if (ce == CA_ERR_STORE || ce == CA_ERR_INTERNAL) {
			log_err("est: issuing for %s: %s", dev.uid,
			    ca_err_name(ce));
			goto out;
		}
		if (ce != CA_OK) {
			/* The CA's own checks disagree with the RA. */
			*refuse_st = ENROLL_REFUSED;
			snprintf(reason, reasonsz, "%s", ca_err_name(ce));
			goto out;
		}
	}
	ready = 1;
out:
	free(slot0);
	db_device_clear(&dev);
	db_cert_clear(&own);
	return ready;
}

void
enroll_start(struct app *a, struct enroll_in *in, enroll_done_fn done,
    void *arg)
{
	struct enroll_task *t;
	enum enroll_status st;
	char reason[64], subject[256];

	if ((t = task_new(a, in->kind, in->peer, done, arg)) == NULL) {
		ca_csr_free(in->csr);
		in->csr = NULL;
		answer_oom(done, arg);
		return;
	}
	t->csr = in->csr;
	in->csr = NULL;
	t->profile = in->profile;
	t->now = in->now;
	if (enroll_prepare(a, in, t, &st, reason, sizeof(reason), subject,
	    sizeof(subject))) {
		if (cq_submit(a->enroll->cq, issue_apply, issue_done, t) == 0)
			return;
		issue_done(t, -1);
		return;
	}
	if (st != ENROLL_OK) {
		task_refuse(t, kind_names[in->kind], st, reason, subject);
		return;
	}
	task_finish(t);		/* failed: out says internal_error */
}
