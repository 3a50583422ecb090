/*
 * revocation.c - the publisher thread and OCSP answering (revocation.h).
 *
 * Ownership: struct revocation owns the CRL signers, the OCSP responder,
 * the cache, the publisher's own db handle and the published CRL blobs
 * (each blob refcounted: one reference for "current", one per response
 * being sent).  The revoked sets, key list and delta bases belong to the
 * publisher thread alone (before start: to revocation_new).
 *
 * Cache keys: the cache's CA index is 2 * (our CA index) + 1 for SHA-256
 * CertIDs, + 0 for SHA-1, because a response echoes the CertID and a
 * client matches it including the hash algorithm.  Pre-signing covers
 * SHA-1 (RFC 5019 2.1.1); SHA-256 entries are filled on first request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ocsp_cache.h"
#include "ca/ocsp_resp.h"
#include "ca/publish.h"
#include "common/log.h"
#include "db/db.h"
#include "server/app.h"
#include "server/revocation.h"

#define FILL_CHUNK	256	/* signatures between two epoch polls */
#define ENTRY_OVERHEAD	192	/* cache bookkeeping per entry, estimate */

struct rev_blob {
	struct rev_crl pub;		/* first: handlers see only this */
	atomic_int refs;
	unsigned char der[];
};

struct rev_ca {
	struct ca_crl_signer *signer;
	int64_t ca_id;
	char name[64];
	int ocsp;			/* the OCSP signer speaks for it */
	struct ocsp_ca_match match;
	/* publisher thread only */
	struct ca_revoked_set cur;
	struct ca_revoked_set base;	/* entries of the delta's base */
	int64_t base_number;
	int64_t next_update;		/* of the served full CRL */
	/* guarded by revocation.lock */
	struct rev_blob *full, *delta;
};

struct revocation {
	struct app *a;
	struct rev_ca cas[REV_MAX_CAS];
	size_t ncas;
	struct ocsp_responder *resp;
	struct ocsp_cache *cache;
	pthread_mutex_t lock;
	pthread_t tid;
	int running;
	atomic_int stop;
	atomic_uint_fast64_t crls_signed;
	/* publisher thread only */
	struct db *db;
	int64_t epoch;
	struct ocsp_cache_key *keys;
	size_t nkeys, keys_max, fill_pos;
	int64_t keys_loaded_at;
};

/* The cache whose entries revocation_ocsp_release gives back: one
 * revocation service per process (free_fn carries one pointer only). */
static struct ocsp_cache *release_cache;

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- CRL blobs ---------------------------------------------------- */

static struct rev_blob *
blob_new(const struct ca_crl_out *o)
{
	struct rev_blob *b = malloc(sizeof(*b) + o->len);

	if (b == NULL)
		return NULL;
	memcpy(b->der, o->der, o->len);
	b->pub.der = b->der;
	b->pub.len = o->len;
	b->pub.number = o->number;
	b->pub.this_update = o->this_update;
	b->pub.next_update = o->next_update;
	snprintf(b->pub.etag, sizeof(b->pub.etag), "\"%llx-%llx\"",
	    (unsigned long long)o->number,
	    (unsigned long long)o->this_update);
	atomic_init(&b->refs, 1);
	return b;
}

static void
blob_unref(struct rev_blob *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

void
revocation_crl_release(void *crl)
{
	blob_unref(crl);
}

const struct rev_crl *
revocation_crl_get(struct revocation *r, const char *name, size_t namelen,
    int delta)
{
	struct rev_blob *b = NULL;

	for (size_t i = 0; i < r->ncas; i++) {
		struct rev_ca *ca = &r->cas[i];

		if (strlen(ca->name) != namelen ||
		    memcmp(ca->name, name, namelen) != 0)
			continue;
		pthread_mutex_lock(&r->lock);
		if ((b = delta ? ca->delta : ca->full) != NULL)
			atomic_fetch_add(&b->refs, 1);
		pthread_mutex_unlock(&r->lock);
		break;
	}
	return b != NULL ? &b->pub : NULL;
}

/* Replaces the served blob *slot with o (copied). */
static int
blob_swap(struct revocation *r, struct rev_blob **slot,
    const struct ca_crl_out *o)
{
	struct rev_blob *nb = blob_new(o), *old;

	if (nb == NULL)
		return -1;
	pthread_mutex_lock(&r->lock);
	old = *slot;
	*slot = nb;
	pthread_mutex_unlock(&r->lock);
	blob_unref(old);
	return 0;
}

/*
 * Publishes a full CRL of ca->cur and, with deltas on, a delta against
 * the base.  rebase makes this full CRL the new delta base (on the
 * refresh schedule and at start); otherwise the delta grows with the
 * changes since the last rebase.
 */
static int
publish_ca(struct revocation *r, struct rev_ca *ca, int rebase)
{
	const struct fc_config *cfg = &r->a->cfg;
	struct ca_crl_out full, delta;
	char err[256];
	int64_t now = now_s();
	int rc = -1;

	memset(&delta, 0, sizeof(delta));
	if (ca_crl_publish_full(ca->signer, r->db, &ca->cur, now,
	    cfg->crl_validity_s, &full, err, sizeof(err)) != 0) {
		log_err("CRL %s: %s", ca->name, err);
		return -1;
	}
	atomic_fetch_add(&r->crls_signed, 1);
	if (blob_swap(r, &ca->full, &full) != 0)
		goto out;
	ca->next_update = full.next_update;
	if (!cfg->crl_delta) {
		rc = 0;
		goto out;
	}
	if (rebase) {
		struct crl_entry *copy = NULL;

		if (ca->cur.n > 0 && (copy = malloc(ca->cur.n *
		    sizeof(*copy))) == NULL)
			goto out;
		if (copy != NULL)
			memcpy(copy, ca->cur.e, ca->cur.n * sizeof(*copy));
		ca_revoked_clear(&ca->base);
		ca->base.e = copy;
		ca->base.n = ca->cur.n;
		ca->base_number = full.number;
	}
	if (ca_crl_publish_delta(ca->signer, r->db, &ca->base,
	    ca->base_number, &ca->cur, now, cfg->crl_validity_s, &delta, err,
	    sizeof(err)) != 0) {
		log_err("delta CRL %s: %s", ca->name, err);
		goto out;
	}
	atomic_fetch_add(&r->crls_signed, 1);
	if (blob_swap(r, &ca->delta, &delta) != 0)
		goto out;
	rc = 0;
out:
	if (rc == 0)
		log_info("CRL %s: number %lld, %zu entries%s", ca->name,
		    (long long)full.number, ca->cur.n,
		    cfg->crl_delta ? ", with delta" : "");
	ca_crl_out_clear(&full);
	ca_crl_out_clear(&delta);
	return rc;
}

/* ---- OCSP singles --------------------------------------------------- */

/* Fills id as a CertID of ca for serial (magnitude, no leading zero). */
static void
certid_make(const struct rev_ca *ca, int sha256, const unsigned char *serial,
    size_t len, struct ocsp_certid *id)
{
	size_t hl = sha256 ? 32 : 20, pad = (serial[0] & 0x80) ? 1 : 0;

	memset(id, 0, sizeof(*id));
	id->hash_nid = sha256 ? NID_sha256 : NID_sha1;
	memcpy(id->name_hash, sha256 ? ca->match.sha256_name :
	    ca->match.sha1_name, hl);
	memcpy(id->key_hash, sha256 ? ca->match.sha256_key :
	    ca->match.sha1_key, hl);
	id->name_hash_len = id->key_hash_len = hl;
	memcpy(id->serial, serial, len);
	id->serial_len = len;
	id->serial_der[0] = 0x02;
	id->serial_der[1] = (unsigned char)(len + pad);
	id->serial_der[2] = 0;
	memcpy(id->serial_der + 2 + pad, serial, len);
	id->serial_der_len = 2 + pad + len;
}

static void
single_times(struct revocation *r, struct ocsp_single *s)
{
	s->this_update = now_s();
	s->next_update = s->this_update + r->a->cfg.ocsp_validity_s;
}

/* Status of id (of our CA ca) from the store; 0 or -1. */
static int
status_from_db(struct db *db, const struct rev_ca *ca, struct ocsp_single *s)
{
	struct db_cert c;
	int rc;

	s->status = OCSP_CERT_UNKNOWN;
	s->reason = -1;
	if (s->id.serial_len == 0)
		return 0;	/* zero, negative or too long: never ours */
	rc = db_cert_status_by_serial(db, s->id.serial, s->id.serial_len,
	    &c);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != DB_OK) {
		log_err("OCSP status: %s", db_errmsg(db));
		return -1;
	}
	if (c.ca_id == ca->ca_id) {
		s->status = c.revoked ? OCSP_CERT_REVOKED : OCSP_CERT_GOOD;
		s->revoked_at = c.revoked_at;
		s->reason = c.revoked ? c.reason : -1;
	}
	db_cert_clear(&c);
	return 0;
}

/* Our CA index for id, or -1. */
static int
ca_index(const struct revocation *r, const struct ocsp_certid *id)
{
	for (size_t i = 0; i < r->ncas; i++)
		if (r->cas[i].ocsp && ocsp_ca_match(&r->cas[i].match, id))
			return (int)i;
	return -1;
}

static uint32_t
cache_ca(int idx, const struct ocsp_certid *id)
{
	return (uint32_t)idx * 2 + (id->hash_nid == NID_sha256 ? 1 : 0);
}

/* ---- pre-signing (publisher thread) -------------------------------- */

/* ocsp_cache_fill callback: status from the publisher's revoked set. */
static int
fill_sign(void *arg, const struct ocsp_cache_key *k, unsigned char **der,
    struct ocsp_cache_item *it)
{
	struct revocation *r = arg;
	struct rev_ca *ca = &r->cas[k->ca / 2];
	const struct crl_entry *e;
	struct ocsp_single s;

	memset(&s, 0, sizeof(s));
	certid_make(ca, k->ca & 1, k->serial, k->serial_len, &s.id);
	s.status = OCSP_CERT_GOOD;
	s.reason = -1;
	if ((e = ca_revoked_find(&ca->cur, k->serial, k->serial_len)) !=
	    NULL) {
		s.status = OCSP_CERT_REVOKED;
		s.revoked_at = e->revoked_at;
		s.reason = e->reason;
	}
	single_times(r, &s);
	if (ocsp_resp_build(r->resp, &s, 1, NULL, 0, der, &it->len) !=
	    OCSP_RESP_OK)
		return 0;
	it->this_update = s.this_update;
	it->next_update = s.next_update;
	it->produced_at = s.this_update;
	it->has_status = 1;
	it->status = (int)s.status;
	it->reason = s.reason;
	it->revoked_at = s.revoked_at;
	return 1;
}

struct keys_ctx {
	struct revocation *r;
	uint32_t ca;
	int64_t now;
};

static int
keys_add(void *arg, const struct db_cert *c)
{
	struct keys_ctx *k = arg;
	struct revocation *r = k->r;
	struct ocsp_cache_key *key;

	if (r->nkeys == r->keys_max)
		return 1;	/* as many as the cache holds: stop */
	if (c->not_after < k->now || c->serial_len == 0 ||
	    c->serial_len > OCSP_CACHE_SERIAL_MAX)
		return 0;	/* expired: nobody should ask */
	key = &r->keys[r->nkeys++];
	key->ca = k->ca;
	memcpy(key->serial, c->serial, c->serial_len);
	key->serial_len = c->serial_len;
	return 0;
}

/* Re-reads which certificates to keep pre-signed. */
static void
keys_load(struct revocation *r)
{
	r->nkeys = 0;
	r->fill_pos = 0;
	r->keys_loaded_at = now_s();
	for (size_t i = 0; i < r->ncas; i++) {
		struct keys_ctx k = { r, (uint32_t)i * 2, r->keys_loaded_at };
		int rc;

		if (!r->cas[i].ocsp)
			continue;
		rc = db_cert_foreach(r->db, r->cas[i].ca_id, 0, keys_add, &k);
		if (rc < 0)
			log_err("OCSP pre-signing: %s", db_errmsg(r->db));
		if (rc != 0)
			break;
	}
	log_info("OCSP: pre-signing %zu certificates", r->nkeys);
}

/* The bound of pre-signed keys: what the cache holds, with headroom for
 * SHA-256 and on-demand entries. */
static size_t
keys_bound(struct revocation *r)
{
	struct ocsp_single s;
	unsigned char *der = NULL, one = 1;
	size_t len = 0, per;

	memset(&s, 0, sizeof(s));
	certid_make(&r->cas[0], 0, &one, 1, &s.id);
	s.status = OCSP_CERT_GOOD;
	s.reason = -1;
	single_times(r, &s);
	if (ocsp_resp_build(r->resp, &s, 1, NULL, 0, &der, &len) !=
	    OCSP_RESP_OK)
		len = 1024;
	free(der);
	per = len + 16 + ENTRY_OVERHEAD;
	return r->a->cfg.ocsp_cache_bytes / per * 8 / 10;
}

/* One chunk of pre-signing; 1 when more work is pending. */
static int
fill_step(struct revocation *r)
{
	int64_t validity = r->a->cfg.ocsp_validity_s;
	int64_t margin = validity / 4 > 30 ? validity / 4 : 30;
	size_t n;

	if (r->keys_loaded_at == 0 || now_s() - r->keys_loaded_at > margin)
		keys_load(r);
	if (r->fill_pos >= r->nkeys)
		return 0;
	n = r->nkeys - r->fill_pos;
	if (n > FILL_CHUNK)
		n = FILL_CHUNK;
	ocsp_cache_fill(r->cache, r->keys + r->fill_pos, n, margin, fill_sign,
	    r);
	r->fill_pos += n;
	return r->fill_pos < r->nkeys;
}

/* ---- reacting to revocations (publisher thread) --------------------- */

struct inval_ctx {
	struct revocation *r;
	size_t idx;
	struct ocsp_cache_key *redo;
	size_t nredo, cap;
};

static void
inval_one(void *arg, const struct crl_entry *old, const struct crl_entry *cur)
{
	struct inval_ctx *x = arg;
	struct rev_ca *rca = &x->r->cas[x->idx];
	const struct crl_entry *e = old != NULL ? old : cur;
	const unsigned char *serial = e->serial;
	size_t len = e->serial_len;
	uint32_t ca = (uint32_t)x->idx * 2;

	/* Released from hold since the delta base: keep it in the base set
	 * so every later delta says removeFromCRL (RFC 5280 5.2.4), even if
	 * the hold itself came after the base. */
	if (cur == NULL && x->r->a->cfg.crl_delta &&
	    ca_revoked_find(&rca->base, serial, len) == NULL &&
	    ca_revoked_put(&rca->base, old) != 0)
		log_warn("delta CRL: out of memory");

	if (!rca->ocsp)
		return;
	ocsp_cache_invalidate(x->r->cache, ca, serial, len);
	ocsp_cache_invalidate(x->r->cache, ca + 1, serial, len);
	if (x->nredo < x->cap && len <= OCSP_CACHE_SERIAL_MAX) {
		struct ocsp_cache_key *k = &x->redo[x->nredo++];

		k->ca = ca;
		memcpy(k->serial, serial, len);
		k->serial_len = len;
	}
}

/* The revocation state changed: new CRLs, and exactly the changed OCSP
 * answers dropped and signed again.  0 or -1 (retried next poll). */
static int
on_change(struct revocation *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->ncas; i++) {
		struct rev_ca *ca = &r->cas[i];
		struct ca_revoked_set now_set;
		struct inval_ctx x = { r, i, NULL, 0, 0 };

		if (ca_revoked_load(r->db, ca->ca_id, &now_set) != 0) {
			rc = -1;
			continue;
		}
		/* Bounded re-signing list; beyond it, pre-signing or the
		 * first request signs again. */
		x.cap = 4096;
		x.redo = calloc(x.cap, sizeof(*x.redo));
		if (x.redo == NULL)
			x.cap = 0;
		ca_revoked_diff(&ca->cur, &now_set, inval_one, &x);
		ca_revoked_clear(&ca->cur);
		ca->cur = now_set;
		if (publish_ca(r, ca, 0) != 0)
			rc = -1;
		if (x.nredo > 0)
			ocsp_cache_fill(r->cache, x.redo, x.nredo, 0,
			    fill_sign, r);
		free(x.redo);
	}
	return rc;
}

static void *
publisher_run(void *arg)
{
	struct revocation *r = arg;
	const struct fc_config *cfg = &r->a->cfg;
	int busy = 0;

	while (!atomic_load(&r->stop)) {
		int64_t epoch, now;

		if (!busy) {
			struct timespec ts = { 0, REV_POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
		/* Epoch first, then the sets: a change after this read is
		 * seen on the next round. */
		if (db_revocation_epoch(r->db, &epoch) != DB_OK) {
			log_err("revocation epoch: %s", db_errmsg(r->db));
			busy = 0;
			continue;
		}
		if (epoch != r->epoch) {
			int64_t old = r->epoch;

			r->epoch = epoch;
			if (on_change(r) != 0)
				r->epoch = old;		/* try again */
		}
		now = now_s();
		for (size_t i = 0; i < r->ncas; i++) {
			struct rev_ca *ca = &r->cas[i];

			if (now >= ca->next_update - cfg->crl_refresh_s)
				publish_ca(r, ca, 1);
		}
		busy = fill_step(r);
	}
	return NULL;
}

/* ---- life cycle ----------------------------------------------------- */

/* Loads one CRL signer per issuing CA whose key we have. */
static int
load_cas(struct revocation *r, X509 *ocsp_cert, char *err, size_t errlen)
{
	struct db_ca *rows = NULL;
	size_t n = 0;
	int rc = -1;

	if (db_ca_list(r->db, &rows, &n) != DB_OK) {
		snprintf(err, errlen, "listing CAs: %s", db_errmsg(r->db));
		return -1;
	}
	for (size_t i = 0; i < n && r->ncas < REV_MAX_CAS; i++) {
		struct rev_ca *ca = &r->cas[r->ncas];
		char e2[256];

		if (strcmp(rows[i].role, "issuing") != 0)
			continue;
		ca->signer = ca_crl_signer_load(r->a->cfg.dir, r->db,
		    rows[i].id, r->a->cfg.public_http_url, r->a->cfg.crl_delta,
		    e2, sizeof(e2));
		if (ca->signer == NULL) {
			log_warn("CA %s: no CRLs: %s", rows[i].name, e2);
			continue;
		}
		ca->ca_id = rows[i].id;
		snprintf(ca->name, sizeof(ca->name), "%s", rows[i].name);
		if (ocsp_ca_match_init(&ca->match,
		    ca_crl_signer_cert(ca->signer)) != 1) {
			snprintf(err, errlen, "CA %s: CertID hashes failed",
			    ca->name);
			goto out;
		}
		/* A delegated responder speaks only for the CA that issued
		 * its certificate (RFC 6960 4.2.2.2). */
		ca->ocsp = X509_check_issued(ca_crl_signer_cert(ca->signer),
		    ocsp_cert) == X509_V_OK;
		r->ncas++;
	}
	if (r->ncas == 0) {
		snprintf(err, errlen, "no issuing CA with a usable key");
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&rows[i]);
	free(rows);
	return rc;
}

struct revocation *
revocation_new(struct app *a, char *err, size_t errlen)
{
	struct revocation *r;
	struct ocsp_cache_cfg cc;
	X509 *ocsp_cert = NULL;
	char path[1300];
	int ok = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->a = a;
	pthread_mutex_init(&r->lock, NULL);
	snprintf(path, sizeof(path), "%s/fleetca.db", a->cfg.dir);
	if ((r->db = db_open(path, err, errlen)) == NULL)
		goto out;
	if ((r->resp = ca_ocsp_responder_load(a->cfg.dir, &ocsp_cert, err,
	    errlen)) == NULL)
		goto out;
	if (load_cas(r, ocsp_cert, err, errlen) != 0)
		goto out;
	memset(&cc, 0, sizeof(cc));
	cc.max_bytes = a->cfg.ocsp_cache_bytes;
	r->keys_max = keys_bound(r);
	cc.nbuckets = r->keys_max + 1024;
	if (cc.max_bytes == 0 || (r->cache = ocsp_cache_new(&cc)) == NULL) {
		snprintf(err, errlen, "OCSP cache: cannot create (%zu bytes)",
		    cc.max_bytes);
		goto out;
	}
	if ((r->keys = calloc(r->keys_max + 1, sizeof(*r->keys))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	release_cache = r->cache;
	if (db_revocation_epoch(r->db, &r->epoch) != DB_OK) {
		snprintf(err, errlen, "revocation epoch: %s",
		    db_errmsg(r->db));
		goto out;
	}
	for (size_t i = 0; i < r->ncas; i++) {
		if (ca_revoked_load(r->db, r->cas[i].ca_id,
		    &r->cas[i].cur) != 0 ||
		    publish_ca(r, &r->cas[i], 1) != 0) {
			snprintf(err, errlen, "CA %s: first CRL failed",
			    r->cas[i].name);
			goto out;
		}
	}
	ok = 1;
out:
	X509_free(ocsp_cert);
	if (!ok) {
		revocation_free(r);
		return NULL;
	}
	return r;
}

int
revocation_start(struct revocation *r)
{
	atomic_store(&r->stop, 0);
	if (pthread_create(&r->tid, NULL, publisher_run, r) != 0) {
		log_err("revocation publisher: cannot start thread");
		return -1;
	}
	r->running = 1;
	return 0;
}

void
revocation_stop(struct revocation *r)
{
	if (r == NULL || !r->running)
		return;
	atomic_store(&r->stop, 1);
	pthread_join(r->tid, NULL);
	r->running = 0;
}

void
revocation_free(struct revocation *r)
{
	if (r == NULL)
		return;
	revocation_stop(r);
	for (size_t i = 0; i < r->ncas; i++) {
		struct rev_ca *ca = &r->cas[i];

		ca_crl_signer_free(ca->signer);
		ca_revoked_clear(&ca->cur);
		ca_revoked_clear(&ca->base);
		blob_unref(ca->full);
		blob_unref(ca->delta);
	}
	if (release_cache == r->cache)
		release_cache = NULL;
	ocsp_cache_free(r->cache);
	ocsp_responder_free(r->resp);
	free(r->keys);
	db_close(r->db);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void
revocation_stats(struct revocation *r, size_t *entries, size_t *bytes,
    uint64_t *crls_signed)
{
	ocsp_cache_stats(r->cache, entries, bytes);
	*crls_signed = atomic_load(&r->crls_signed);
}

/* ---- answering (request threads) ------------------------------------ */

void
revocation_ocsp_release(void *cached)
{
	ocsp_cache_release(release_cache, cached);
}

static void
from_cache(struct rev_ocsp *out, const struct ocsp_cached *c)
{
	out->cached = c;
	out->len = c->len;
	out->cacheable = 1;
	out->produced_at = c->last_modified;
	out->this_update = c->this_update;
	out->next_update = c->next_update;
	memcpy(out->etag, c->etag, sizeof(out->etag));
}

/*
 * Status of s->id (of our CA idx) from a cached response for the same
 * certificate, under either CertID hash: 1 when found.  A cache entry
 * exists only for a certificate we issued (unknown answers are never
 * cached) and is dropped by the publisher as soon as it sees the
 * certificate's status change (REV_POLL_MS), which is the same freshness
 * the cached answers themselves have; so a nonce request for a
 * pre-signed certificate needs no SQL.
 */
static int
status_from_cache(struct revocation *r, int idx, struct ocsp_single *s)
{
	for (uint32_t h = 0; h < 2; h++) {
		const struct ocsp_cached *c = ocsp_cache_get(r->cache,
		    (uint32_t)idx * 2 + h, s->id.serial, s->id.serial_len);
		int ok;

		if (c == NULL)
			continue;
		ok = c->has_status && (c->status == OCSP_CERT_GOOD ||
		    c->status == OCSP_CERT_REVOKED);
		if (ok) {
			s->status = (enum ocsp_cert_status)c->status;
			s->reason = c->status == OCSP_CERT_REVOKED ?
			    c->reason : -1;
			s->revoked_at = c->revoked_at;
		}
		ocsp_cache_release(r->cache, c);
		if (ok)
			return 1;
	}
	return 0;
}

/* Freshly signs req (statuses from the cache or the store); caches a
 * one-CertID answer without nonce. */
static int
sign_fresh(struct revocation *r, const struct ocsp_request *req,
    const int *idx, struct rev_ocsp *out)
{
	struct ocsp_single s[OCSP_REQ_MAX_SINGLE];
	struct db *db = app_db(r->a);
	int cacheable = !req->has_nonce && req->nids == 1;
	uint64_t gen = ocsp_cache_gen(r->cache);	/* before the status */

	if (db == NULL || req->nids > OCSP_REQ_MAX_SINGLE)
		return OCSP_ST_TRY_LATER;
	for (size_t i = 0; i < req->nids; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].id = req->ids[i];
		if ((s[i].id.serial_len == 0 ||
		    !status_from_cache(r, idx[i], &s[i])) &&
		    status_from_db(db, &r->cas[idx[i]], &s[i]) != 0)
			return OCSP_ST_TRY_LATER;
		single_times(r, &s[i]);
	}
	if (ocsp_resp_build(r->resp, s, req->nids,
	    req->has_nonce ? req->nonce_ext : NULL,
	    req->has_nonce ? req->nonce_ext_len : 0, &out->der, &out->len) !=
	    OCSP_RESP_OK)
		return OCSP_ST_INTERNAL_ERROR;
	/* Unknown answers are not kept: a flood of made-up serials must not
	 * push real entries out. */
	if (cacheable && s[0].status != OCSP_CERT_UNKNOWN &&
	    req->ids[0].serial_len > 0) {
		struct ocsp_cache_item it;

		memset(&it, 0, sizeof(it));
		it.ca = cache_ca(idx[0], &req->ids[0]);
		it.serial = req->ids[0].serial;
		it.serial_len = req->ids[0].serial_len;
		it.der = out->der;
		it.len = out->len;
		it.this_update = s[0].this_update;
		it.next_update = s[0].next_update;
		it.produced_at = s[0].this_update;
		it.has_status = 1;
		it.status = (int)s[0].status;
		it.reason = s[0].reason;
		it.revoked_at = s[0].revoked_at;
		(void)ocsp_cache_put(r->cache, &it, gen);
		/* Serve the cached copy so the headers (ETag) match what a
		 * later hit returns; if the put lost a race, send ours. */
		const struct ocsp_cached *c = ocsp_cache_get(r->cache, it.ca,
		    it.serial, it.serial_len);
		if (c != NULL && c->this_update == it.this_update) {
			free(out->der);
			out->der = NULL;
			from_cache(out, c);
			return 0;
		}
		ocsp_cache_release(r->cache, c);
	}
	return 0;
}

int
revocation_ocsp(struct revocation *r, const struct ocsp_request *req,
    struct rev_ocsp *out)
{
	int idx[OCSP_REQ_MAX_SINGLE];

	memset(out, 0, sizeof(*out));
	if (req->nids == 0 || req->nids > OCSP_REQ_MAX_SINGLE)
		return OCSP_ST_MALFORMED_REQUEST;
	/* Any CertID of a CA we do not serve: the whole request is
	 * unauthorized (clients reject partial answers). */
	for (size_t i = 0; i < req->nids; i++)
		if ((idx[i] = ca_index(r, &req->ids[i])) < 0)
			return OCSP_ST_UNAUTHORIZED;
	if (!req->has_nonce && req->nids == 1 && req->ids[0].serial_len > 0) {
		const struct ocsp_cached *c = ocsp_cache_get(r->cache,
		    cache_ca(idx[0], &req->ids[0]), req->ids[0].serial,
		    req->ids[0].serial_len);

		if (c != NULL) {
			from_cache(out, c);
			return 0;
		}
	}
	return sign_fresh(r, req, idx, out);
}
