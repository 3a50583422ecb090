/*
 * ocsp_cache.h - pre-signed OCSP responses for requests without a nonce
 * (RFC 5019 section 6: cacheable responses), shared by all server threads.
 *
 * Keyed by (CA index, serial).  Lookups are the hot path (tens of
 * thousands per second per core): a lookup hashes the key, takes one of
 * 64 striped read locks, walks a short chain and takes a reference on
 * the entry; it never copies the response and never allocates.  Writers
 * (put, invalidate, eviction) take the write lock of one stripe at a
 * time.  Memory is bounded by max_bytes (response bytes plus per-entry
 * overhead); when over, eviction samples a few entries of a random stripe
 * and drops the expired or least recently used one (approximate LRU, as
 * Redis does, so hits never touch a shared list).
 *
 * Revocation: ocsp_cache_invalidate() removes the entry and bumps a
 * generation counter; a put carries the generation read before the
 * status was looked up, and is refused if it changed meanwhile, so a
 * slow background signer can never re-insert a pre-revocation "good".
 *
 * Time comes from the caller's clock (seconds since the epoch).
 */
#ifndef FLEETCA_CA_OCSP_CACHE_H
#define FLEETCA_CA_OCSP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define OCSP_CACHE_SERIAL_MAX	20

enum ocsp_cache_err {
	OCSP_CACHE_OK = 0,
	OCSP_CACHE_STALE = -1,	/* generation changed: re-read, re-sign */
	OCSP_CACHE_EINVAL = -2,	/* bad item (sizes, times) */
	OCSP_CACHE_ENOMEM = -3
};

typedef int64_t (*ocsp_cache_clock_fn)(void *arg);

struct ocsp_cache_cfg {
	size_t max_bytes;	/* memory bound; > 0 */
	size_t nbuckets;	/* hash buckets, rounded up to a power of two;
				 * 0: 65536.  About the expected entries. */
	ocsp_cache_clock_fn now; /* NULL: time(NULL) */
	void *now_arg;
};

/* What put stores.  All pointers are only read during the call. */
struct ocsp_cache_item {
	uint32_t ca;			/* caller's CA index */
	const unsigned char *serial;	/* magnitude, 1..20 octets */
	size_t serial_len;
	const unsigned char *der;	/* the signed OCSPResponse */
	size_t len;
	int64_t this_update;
	int64_t next_update;		/* > this_update; served until then */
	int64_t produced_at;		/* for Last-Modified */
	/* The certificate status the response states, so that a request
	 * the cache cannot answer (a nonce) still needs no store lookup
	 * for it.  has_status 0: not recorded (the entry is then never
	 * used as a status).  status: enum ocsp_cert_status (ocsp_resp.h);
	 * revoked_at and reason as in struct ocsp_single. */
	int has_status;
	int status;
	int reason;
	int64_t revoked_at;
};

/* A cached response, read-only, valid until ocsp_cache_release(). */
struct ocsp_cached {
	const unsigned char *der;
	size_t len;
	int64_t this_update, next_update, last_modified;
	/* Quoted strong ETag: hex of the first 8 octets of SHA-256(der). */
	char etag[20];
	/* As put (struct ocsp_cache_item). */
	int has_status, status, reason;
	int64_t revoked_at;
};

struct ocsp_cache;

/* NULL on bad cfg or no memory.  Free with ocsp_cache_free once no
 * thread uses it and every lookup has been released. */
struct ocsp_cache *ocsp_cache_new(const struct ocsp_cache_cfg *cfg);
void ocsp_cache_free(struct ocsp_cache *c);

/*
 * The fresh (now < next_update) response for (ca, serial), with a
 * reference the caller gives back with ocsp_cache_release (for example
 * from the HTTP library's free callback once the body is sent); NULL on
 * a miss.  Thread-safe; never blocks on anything but a stripe writer.
 */
const struct ocsp_cached *ocsp_cache_get(struct ocsp_cache *c, uint32_t ca,
    const unsigned char *serial, size_t serial_len);
void ocsp_cache_release(struct ocsp_cache *c, const struct ocsp_cached *r);

/* Current generation: read it BEFORE looking up the status to sign. */
uint64_t ocsp_cache_gen(struct ocsp_cache *c);

/*
 * Stores a copy of it->der, replacing any entry for the key, unless the
 * generation is no longer gen (OCSP_CACHE_STALE).  Evicts as needed to
 * stay under max_bytes; an item larger than max_bytes is EINVAL.
 */
int ocsp_cache_put(struct ocsp_cache *c, const struct ocsp_cache_item *it,
    uint64_t gen);

/* Drops (ca, serial) and bumps the generation; call after committing a
 * revocation.  Returns 1 if an entry was dropped, else 0. */
int ocsp_cache_invalidate(struct ocsp_cache *c, uint32_t ca,
    const unsigned char *serial, size_t serial_len);
/* Drops every entry of ca (key change, CA rollover) and bumps the
 * generation.  Returns the number dropped. */
size_t ocsp_cache_invalidate_ca(struct ocsp_cache *c, uint32_t ca);

/*
 * Pre-signing, for a background thread.  For each key with no entry, or
 * one expiring within margin seconds, calls sign(arg, ...) outside any
 * lock; sign fills *der (malloc'd by sign, freed here with free()) and,
 * in *it (zeroed), len, the times and the status fields, and returns 1,
 * or returns 0 to skip the key (fill sets it->ca, serial and der).  sign
 * must look the status up itself (after fill read the generation).
 * Returns the number stored;
 * stale results (a revocation raced the signing) are dropped silently and
 * the next fill round retries them.
 */
struct ocsp_cache_key {
	uint32_t ca;
	unsigned char serial[OCSP_CACHE_SERIAL_MAX];
	size_t serial_len;
};
typedef int (*ocsp_cache_sign_fn)(void *arg, const struct ocsp_cache_key *k,
    unsigned char **der, struct ocsp_cache_item *it);
size_t ocsp_cache_fill(struct ocsp_cache *c, const struct ocsp_cache_key *keys,
    size_t n, int64_t margin, ocsp_cache_sign_fn sign, void *arg);

/* Entries and accounted bytes right now (approximate under writers). */
void ocsp_cache_stats(struct ocsp_cache *c, size_t *entries, size_t *bytes);

#endif
