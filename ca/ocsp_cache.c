/*
 * ocsp_cache.c - striped-lock hash table of pre-signed OCSP responses.
 *
 * Shape (see ocsp_cache.h for the contract):
 *   - a fixed power-of-two array of buckets, each a singly linked chain;
 *     never resized, so a lookup needs only its stripe's read lock;
 *   - bucket b is guarded by stripe b % NSTRIPES, a writer-preferring
 *     rwlock on its own cache line;
 *   - each entry is one allocation (header + DER) with a reference count:
 *     the table holds one reference, each outstanding lookup one more;
 *     the last release frees it, so eviction never waits for readers;
 *   - bytes and the generation are atomics shared by all stripes.
 * No function ever holds two stripe locks, so there is no lock order.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ca/ocsp_cache.h"
#include "common/log.h"

#define NSTRIPES	64
#define SAMPLE		5	/* entries looked at per eviction */
#define DEF_BUCKETS	65536
#define MAX_BUCKETS	(1u << 26)

/*
 * Everything a lookup touches (chain link, key, freshness, counters) sits
 * in the first 64 octets, and entries are allocated 64-aligned, so a hit
 * costs one cache miss per chain step plus the caller's reads of der.
 */
struct ent {
	struct ent *next;		/* chain; guarded by the stripe */
	uint32_t ca;
	uint8_t serial_len;
	unsigned char serial[OCSP_CACHE_SERIAL_MAX];
	atomic_int refs;
	_Atomic int64_t last_used;	/* clock at the last hit */
	int64_t next_update;		/* copy of pub.next_update */
	size_t cost;			/* bytes charged to the bound */
	struct ocsp_cached pub;		/* the caller's view */
	unsigned char der[];		/* pub.der points here */
};

#define ENT_OF(r) ((struct ent *)(uintptr_t)((const char *)(r) - \
	offsetof(struct ent, pub)))

struct stripe {
	pthread_rwlock_t lock;
	/* Pad to a cache line so readers of neighbouring stripes do not
	 * bounce each other's lock word between cores. */
	char pad[64 - sizeof(pthread_rwlock_t) % 64];
};

struct ocsp_cache {
	struct stripe stripes[NSTRIPES];
	struct ent **buckets;
	size_t nbuckets;		/* power of two, >= NSTRIPES */
	size_t max_bytes;
	ocsp_cache_clock_fn now;
	void *now_arg;
	uint64_t seed;
	_Atomic size_t bytes;
	_Atomic size_t count;
	_Atomic uint64_t gen;
	_Atomic uint64_t rnd;		/* eviction stripe picker */
};

static int64_t
clock_default(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static int64_t
now(struct ocsp_cache *c)
{
	return c->now(c->now_arg);
}

/* FNV-1a over (ca, serial), seeded, then a final mix so the low bits
 * used for the bucket depend on every input octet. */
static size_t
bucket_of(const struct ocsp_cache *c, uint32_t ca, const unsigned char *s,
    size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ c->seed;

	for (int i = 0; i < 4; i++) {
		h ^= (ca >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (c->nbuckets - 1);
}

static pthread_rwlock_t *
lock_of(struct ocsp_cache *c, size_t bucket)
{
	return &c->stripes[bucket % NSTRIPES].lock;
}

static int
key_eq(const struct ent *e, uint32_t ca, const unsigned char *s, size_t n)
{
	return e->ca == ca && e->serial_len == n &&
	    memcmp(e->serial, s, n) == 0;
}

static void
ent_unref(struct ent *e)
{
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
		free(e);
}

struct ocsp_cache *
ocsp_cache_new(const struct ocsp_cache_cfg *cfg)
{
	struct ocsp_cache *c;
	pthread_rwlockattr_t attr;
	size_t nb = NSTRIPES, want;
	int i = 0;

	if (cfg == NULL || cfg->max_bytes == 0)
		return NULL;
	want = cfg->nbuckets == 0 ? DEF_BUCKETS : cfg->nbuckets;
	if (want > MAX_BUCKETS)
		want = MAX_BUCKETS;
	while (nb < want)
		nb <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->buckets = calloc(nb, sizeof(*c->buckets))) == NULL) {
		free(c);
		return NULL;
	}
	c->nbuckets = nb;
	c->max_bytes = cfg->max_bytes;
	c->now = cfg->now != NULL ? cfg->now : clock_default;
	c->now_arg = cfg->now_arg;
	c->seed = (uint64_t)(uintptr_t)c ^ ((uint64_t)time(NULL) << 20);
	atomic_init(&c->bytes, 0);
	atomic_init(&c->count, 0);
	atomic_init(&c->gen, 1);
	atomic_init(&c->rnd, c->seed | 1);
	if (pthread_rwlockattr_init(&attr) != 0)
		goto fail;
	/* glibc prefers readers by default, which can starve invalidation
	 * under a steady stream of lookups. */
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (i = 0; i < NSTRIPES; i++)
		if (pthread_rwlock_init(&c->stripes[i].lock, &attr) != 0)
			break;
	pthread_rwlockattr_destroy(&attr);
	if (i == NSTRIPES)
		return c;
	while (i-- > 0)
		pthread_rwlock_destroy(&c->stripes[i].lock);
fail:
	free(c->buckets);
	free(c);
	return NULL;
}

void
ocsp_cache_free(struct ocsp_cache *c)
{
	if (c == NULL)
		return;
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct ent *e = c->buckets[b], *nx;

		for (; e != NULL; e = nx) {
			nx = e->next;
			ent_unref(e);
		}
	}
	for (int i = 0; i < NSTRIPES; i++)
		pthread_rwlock_destroy(&c->stripes[i].lock);
	free(c->buckets);
	free(c);
}

const struct ocsp_cached *
ocsp_cache_get(struct ocsp_cache *c, uint32_t ca, const unsigned char *serial,
    size_t serial_len)
{
	size_t b;
	struct ent *e;
	int64_t t;

	if (serial_len == 0 || serial_len > OCSP_CACHE_SERIAL_MAX)
		return NULL;
	t = now(c);
	b = bucket_of(c, ca, serial, serial_len);
	pthread_rwlock_rdlock(lock_of(c, b));
	for (e = c->buckets[b]; e != NULL; e = e->next)
		if (key_eq(e, ca, serial, serial_len))
			break;
	if (e != NULL && t < e->next_update) {
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
		/* Skip the store when unchanged: fewer dirty cache lines. */
		if (atomic_load_explicit(&e->last_used,
		    memory_order_relaxed) != t)
			atomic_store_explicit(&e->last_used, t,
			    memory_order_relaxed);
	} else
		e = NULL;
	pthread_rwlock_unlock(lock_of(c, b));
	return e != NULL ? &e->pub : NULL;
}

void
ocsp_cache_release(struct ocsp_cache *c, const struct ocsp_cached *r)
{
	(void)c;
	if (r != NULL)
		ent_unref(ENT_OF(r));
}

uint64_t
ocsp_cache_gen(struct ocsp_cache *c)
{
	return atomic_load_explicit(&c->gen, memory_order_acquire);
}

/* Unlinks *pp (stripe write-locked) and returns it for ent_unref after
 * the unlock. */
static struct ent *
unlink_at(struct ocsp_cache *c, struct ent **pp)
{
	struct ent *e = *pp;

	*pp = e->next;
	e->next = NULL;
	atomic_fetch_sub(&c->bytes, e->cost);
	atomic_fetch_sub(&c->count, 1);
	return e;
}

/*
 * Evicts one entry: looks at up to SAMPLE entries taken from random
 * stripes (each under its read lock, one at a time), then removes the
 * best candidate, an expired entry or else the least recently used, under
 * its stripe's write lock if it is still there.  Returns 0 when the table
 * is empty.  Sampling over several stripes keeps a hot entry alone in
 * its stripe from being the only candidate.
 */
static int
evict_one(struct ocsp_cache *c)
{
	uint64_t r = atomic_fetch_add(&c->rnd, 0x9e3779b97f4a7c15ULL);
	size_t per = c->nbuckets / NSTRIPES, start, best_b = 0;
	int64_t t = now(c), best_score = INT64_MAX;
	struct ent *victim = NULL, **pp;
	uint32_t best_ca = 0;
	unsigned char best_serial[OCSP_CACHE_SERIAL_MAX];
	size_t best_len = 0;
	int seen = 0, found = 0;

	r ^= r >> 31;
	r *= 0xbf58476d1ce4e5b9ULL;
	r ^= r >> 29;
	start = (size_t)(r >> 8);
	for (size_t k = 0; k < NSTRIPES && seen < SAMPLE; k++) {
		size_t s = (size_t)(r + k) % NSTRIPES;
		int here = 0;

		pthread_rwlock_rdlock(&c->stripes[s].lock);
		/* at most 2 entries per stripe, to spread the sample */
		for (size_t j = 0; j < per && here < 2; j++) {
			/* buckets of stripe s: s, s+NSTRIPES, ... */
			size_t b = s + ((start + j) % per) * NSTRIPES;
			struct ent *e;

			for (e = c->buckets[b]; e != NULL && here < 2;
			    e = e->next, here++) {
				int64_t sc = e->next_update <= t ?
				    INT64_MIN : atomic_load_explicit(
				    &e->last_used, memory_order_relaxed);

				if (!found || sc < best_score) {
					found = 1;
					best_score = sc;
					best_b = b;
					best_ca = e->ca;
					best_len = e->serial_len;
					memcpy(best_serial, e->serial,
					    best_len);
				}
			}
		}
		pthread_rwlock_unlock(&c->stripes[s].lock);
		seen += here;
	}
	if (!found)
		return 0;
	pthread_rwlock_wrlock(lock_of(c, best_b));
	for (pp = &c->buckets[best_b]; *pp != NULL; pp = &(*pp)->next)
		if (key_eq(*pp, best_ca, best_serial, best_len)) {
			victim = unlink_at(c, pp);
			break;
		}
	pthread_rwlock_unlock(lock_of(c, best_b));
	if (victim != NULL)
		ent_unref(victim);
	/* Someone else removed it meanwhile: progress all the same. */
	return 1;
}

static const char hexdig[] = "0123456789abcdef";

int
ocsp_cache_put(struct ocsp_cache *c, const struct ocsp_cache_item *it,
    uint64_t gen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct ent *e, *old = NULL, **pp;
	size_t b, cost;
	pthread_rwlock_t *lk;

	if (it == NULL || it->serial == NULL || it->serial_len == 0 ||
	    it->serial_len > OCSP_CACHE_SERIAL_MAX || it->der == NULL ||
	    it->len == 0 || it->next_update <= it->this_update)
		return OCSP_CACHE_EINVAL;
	if (it->len > c->max_bytes ||
	    (cost = sizeof(struct ent) + it->len) > c->max_bytes)
		return OCSP_CACHE_EINVAL;
	if (ocsp_cache_gen(c) != gen)
		return OCSP_CACHE_STALE;
	/* Build the entry outside any lock. */
	if (posix_memalign((void **)&e, 64, cost) != 0)
		return OCSP_CACHE_ENOMEM;
	memset(e, 0, sizeof(*e));
	memcpy(e->der, it->der, it->len);
	if (!EVP_Digest(it->der, it->len, md, &mdlen, EVP_sha256(), NULL)) {
		log_openssl("ocsp cache: SHA-256");
		free(e);
		return OCSP_CACHE_ENOMEM;
	}
	e->pub.etag[0] = '"';
	for (int i = 0; i < 8; i++) {
		e->pub.etag[1 + 2 * i] = hexdig[md[i] >> 4];
		e->pub.etag[2 + 2 * i] = hexdig[md[i] & 15];
	}
	e->pub.etag[17] = '"';
	e->pub.etag[18] = '\0';
	e->pub.der = e->der;
	e->pub.len = it->len;
	e->pub.this_update = it->this_update;
	e->pub.next_update = it->next_update;
	e->next_update = it->next_update;
	e->pub.last_modified = it->produced_at;
	e->pub.has_status = it->has_status != 0;
	e->pub.status = it->status;
	e->pub.reason = it->reason;
	e->pub.revoked_at = it->revoked_at;
	atomic_init(&e->refs, 1);		/* the table's reference */
	atomic_init(&e->last_used, now(c));
	e->cost = cost;
	e->ca = it->ca;
	e->serial_len = (uint8_t)it->serial_len;
	memcpy(e->serial, it->serial, it->serial_len);

	b = bucket_of(c, it->ca, it->serial, it->serial_len);
	lk = lock_of(c, b);
	pthread_rwlock_wrlock(lk);
	/* Re-checked under the key's stripe lock, which invalidate also
	 * holds when it bumps the generation: no stale re-insert. */
	if (ocsp_cache_gen(c) != gen) {
		pthread_rwlock_unlock(lk);
		free(e);
		return OCSP_CACHE_STALE;
	}
	for (pp = &c->buckets[b]; *pp != NULL; pp = &(*pp)->next)
		if (key_eq(*pp, it->ca, it->serial, it->serial_len)) {
			old = unlink_at(c, pp);
			break;
		}
	e->next = c->buckets[b];
	c->buckets[b] = e;
	atomic_fetch_add(&c->bytes, cost);
	atomic_fetch_add(&c->count, 1);
	pthread_rwlock_unlock(lk);
	if (old != NULL)
		ent_unref(old);
	while (atomic_load(&c->bytes) > c->max_bytes)
		if (!evict_one(c))
			break;
	return OCSP_CACHE_OK;
}

int
ocsp_cache_invalidate(struct ocsp_cache *c, uint32_t ca,
    const unsigned char *serial, size_t serial_len)
{
	struct ent *old = NULL, **pp;
	size_t b;
	pthread_rwlock_t *lk;

	if (serial_len == 0 || serial_len > OCSP_CACHE_SERIAL_MAX) {
		atomic_fetch_add(&c->gen, 1);
		return 0;
	}
	b = bucket_of(c, ca, serial, serial_len);
	lk = lock_of(c, b);
	pthread_rwlock_wrlock(lk);
	atomic_fetch_add(&c->gen, 1);
	for (pp = &c->buckets[b]; *pp != NULL; pp = &(*pp)->next)
		if (key_eq(*pp, ca, serial, serial_len)) {
			old = unlink_at(c, pp);
			break;
		}
	pthread_rwlock_unlock(lk);
	if (old == NULL)
		return 0;
	ent_unref(old);
	return 1;
}

size_t
ocsp_cache_invalidate_ca(struct ocsp_cache *c, uint32_t ca)
{
	size_t dropped = 0;

	for (size_t s = 0; s < NSTRIPES; s++) {
		struct ent *gone = NULL;

		pthread_rwlock_wrlock(&c->stripes[s].lock);
		atomic_fetch_add(&c->gen, 1);
		for (size_t b = s; b < c->nbuckets; b += NSTRIPES) {
			struct ent **pp = &c->buckets[b];

			while (*pp != NULL) {
				if ((*pp)->ca == ca) {
					struct ent *e = unlink_at(c, pp);

					e->next = gone;
					gone = e;
					dropped++;
				} else
					pp = &(*pp)->next;
			}
		}
		pthread_rwlock_unlock(&c->stripes[s].lock);
		while (gone != NULL) {
			struct ent *nx = gone->next;

			ent_unref(gone);
			gone = nx;
		}
	}
	return dropped;
}

/* 1 if (ca, serial) has an entry valid for more than margin seconds. */
static int
fresh_enough(struct ocsp_cache *c, const struct ocsp_cache_key *k,
    int64_t margin)
{
	const struct ocsp_cached *r;
	int ok;

	if ((r = ocsp_cache_get(c, k->ca, k->serial, k->serial_len)) == NULL)
		return 0;
	ok = r->next_update - now(c) > margin;
	ocsp_cache_release(c, r);
	return ok;
}

size_t
ocsp_cache_fill(struct ocsp_cache *c, const struct ocsp_cache_key *keys,
    size_t n, int64_t margin, ocsp_cache_sign_fn sign, void *arg)
{
	size_t stored = 0;

	for (size_t i = 0; i < n; i++) {
		struct ocsp_cache_item it;
		unsigned char *der = NULL;
		uint64_t gen;

		if (fresh_enough(c, &keys[i], margin))
			continue;
		memset(&it, 0, sizeof(it));
		gen = ocsp_cache_gen(c);	/* before sign reads status */
		if (!sign(arg, &keys[i], &der, &it)) {
			free(der);
			continue;
		}
		it.ca = keys[i].ca;
		it.serial = keys[i].serial;
		it.serial_len = keys[i].serial_len;
		it.der = der;
		if (ocsp_cache_put(c, &it, gen) == OCSP_CACHE_OK)
			stored++;
		free(der);
	}
	return stored;
}

void
ocsp_cache_stats(struct ocsp_cache *c, size_t *entries, size_t *bytes)
{
	if (entries != NULL)
		*entries = atomic_load(&c->count);
	if (bytes != NULL)
		*bytes = atomic_load(&c->bytes);
}
