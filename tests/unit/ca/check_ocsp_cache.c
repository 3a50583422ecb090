/*
 * check_ocsp_cache.c - unit tests for ca/ocsp_cache.c.
 *
 * The clock is injected (fake_now).  The "responses" are synthetic byte
 * strings that encode their own key, so concurrent readers can check that
 * what they got belongs to what they asked for.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ocsp_cache.h"

static _Atomic int64_t fake_now = 1700000000;

static int64_t
clock_fake(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

static struct ocsp_cache *
cache_new(size_t max_bytes, size_t nbuckets)
{
	struct ocsp_cache_cfg cfg = { max_bytes, nbuckets, clock_fake, NULL };
	struct ocsp_cache *c = ocsp_cache_new(&cfg);

	ck_assert_ptr_nonnull(c);
	return c;
}

/* Serial bytes for key number k (8 octets, first octet non-zero). */
static void
serial_of(unsigned k, unsigned char s[8])
{
	s[0] = 0x42;
	for (int i = 1; i < 8; i++)
		s[i] = (unsigned char)((uint64_t)k >> (8 * (7 - i)));
}

/* Response body for (ca, k, version): a header naming the key, then
 * filler; len >= 16. */
static unsigned char *
body_of(uint32_t ca, unsigned k, unsigned version, size_t len)
{
	unsigned char *b = malloc(len);

	memset(b, (int)(version & 0xff), len);
	memcpy(b, &ca, 4);
	memcpy(b + 4, &k, 4);
	memcpy(b + 8, &version, 4);
	return b;
}

static int
put_key(struct ocsp_cache *c, uint32_t ca, unsigned k, unsigned version,
    size_t len, int64_t ttl, uint64_t gen)
{
	unsigned char s[8], *b = body_of(ca, k, version, len);
	struct ocsp_cache_item it;
	int rc;

	serial_of(k, s);
	memset(&it, 0, sizeof(it));
	it.ca = ca;
	it.serial = s;
	it.serial_len = 8;
	it.der = b;
	it.len = len;
	it.this_update = atomic_load(&fake_now);
	it.next_update = it.this_update + ttl;
	it.produced_at = it.this_update - 1;
	rc = ocsp_cache_put(c, &it, gen);
	free(b);
	return rc;
}

static const struct ocsp_cached *
get_key(struct ocsp_cache *c, uint32_t ca, unsigned k)
{
	unsigned char s[8];

	serial_of(k, s);
	return ocsp_cache_get(c, ca, s, 8);
}

/* ---- Core ---------------------------------------------------------------- */

START_TEST(test_put_get)
{
	struct ocsp_cache *c = cache_new(1 << 20, 0);
	const struct ocsp_cached *r;
	unsigned char *want = body_of(1, 7, 1, 300);
	size_t n, bytes;

	ck_assert_ptr_null(get_key(c, 1, 7));
	ck_assert_int_eq(put_key(c, 1, 7, 1, 300, 600, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	r = get_key(c, 1, 7);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->len, 300);
	ck_assert_int_eq(memcmp(r->der, want, 300), 0);
	ck_assert_int_eq(r->this_update, atomic_load(&fake_now));
	ck_assert_int_eq(r->next_update, atomic_load(&fake_now) + 600);
	ck_assert_int_eq(r->last_modified, atomic_load(&fake_now) - 1);
	ck_assert_int_eq(r->has_status, 0);	/* put_key records none */
	ck_assert_uint_eq(strlen(r->etag), 18);
	ck_assert_int_eq(r->etag[0], '"');
	ck_assert_int_eq(r->etag[17], '"');
	for (int i = 1; i < 17; i++)
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", r->etag[i]));
	ocsp_cache_release(c, r);
	/* Other CA index, other serial: misses. */
	ck_assert_ptr_null(get_key(c, 2, 7));
	ck_assert_ptr_null(get_key(c, 1, 8));
	ck_assert_ptr_null(ocsp_cache_get(c, 1, NULL, 0));
	ocsp_cache_stats(c, &n, &bytes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_ge(bytes, 300);
	free(want);
	ocsp_cache_free(c);
}
END_TEST

START_TEST(test_expiry)
{
	struct ocsp_cache *c = cache_new(1 << 20, 0);
	const struct ocsp_cached *r;

	ck_assert_int_eq(put_key(c, 0, 1, 1, 100, 60, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	atomic_fetch_add(&fake_now, 59);
	r = get_key(c, 0, 1);
	ck_assert_ptr_nonnull(r);
	ocsp_cache_release(c, r);
	atomic_fetch_add(&fake_now, 1);		/* now == nextUpdate */
	ck_assert_ptr_null(get_key(c, 0, 1));
	ocsp_cache_free(c);
}
END_TEST

/* A replaced or invalidated entry stays readable by whoever holds it. */
START_TEST(test_replace_while_held)
{
	struct ocsp_cache *c = cache_new(1 << 20, 0);
	const struct ocsp_cached *old, *cur;
	unsigned char *v1 = body_of(0, 3, 1, 500);
	char etag1[20];

	ck_assert_int_eq(put_key(c, 0, 3, 1, 500, 60, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	old = get_key(c, 0, 3);
	ck_assert_ptr_nonnull(old);
	memcpy(etag1, old->etag, sizeof(etag1));
	ck_assert_int_eq(put_key(c, 0, 3, 2, 400, 60, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	cur = get_key(c, 0, 3);
	ck_assert_ptr_nonnull(cur);
	ck_assert_uint_eq(cur->len, 400);
	ck_assert_str_ne(cur->etag, etag1);
	ck_assert_int_eq(ocsp_cache_invalidate(c, 0, (const unsigned char *)
	    "\x42\0\0\0\0\0\0\x03", 8), 1);
	/* Both still intact (ASan would catch a use after free). */
	ck_assert_int_eq(memcmp(old->der, v1, 500), 0);
	ck_assert_int_eq(cur->der[8], 2);
	ocsp_cache_release(c, old);
	ocsp_cache_release(c, cur);
	ocsp_cache_release(c, NULL);
	free(v1);
	ocsp_cache_free(c);
}
END_TEST

START_TEST(test_invalidate_and_gen)
{
	struct ocsp_cache *c = cache_new(1 << 20, 0);
	unsigned char s[8];
	uint64_t g;

	g = ocsp_cache_gen(c);
	ck_assert_int_eq(put_key(c, 0, 5, 1, 100, 60, g), OCSP_CACHE_OK);
	serial_of(5, s);
	ck_assert_int_eq(ocsp_cache_invalidate(c, 0, s, 8), 1);
	ck_assert_ptr_null(get_key(c, 0, 5));
	ck_assert_int_eq(ocsp_cache_invalidate(c, 0, s, 8), 0);
	/* A response signed before the revocation is refused. */
	ck_assert_int_eq(put_key(c, 0, 5, 1, 100, 60, g), OCSP_CACHE_STALE);
	ck_assert_ptr_null(get_key(c, 0, 5));
	ck_assert_int_eq(put_key(c, 0, 5, 2, 100, 60, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	/* Whole CA. */
	for (unsigned k = 10; k < 30; k++) {
		ck_assert_int_eq(put_key(c, 1, k, 1, 100, 60,
		    ocsp_cache_gen(c)), OCSP_CACHE_OK);
	}
	ck_assert_uint_eq(ocsp_cache_invalidate_ca(c, 1), 20);
	ck_assert_ptr_null(get_key(c, 1, 15));
	{
		const struct ocsp_cached *r = get_key(c, 0, 5);

		ck_assert_ptr_nonnull(r);
		ocsp_cache_release(c, r);
	}
	ocsp_cache_free(c);
}
END_TEST

/* ---- fill -------------------------------------------------------------- */

struct signer_state {
	int calls;
	struct ocsp_cache *c;
	int revoke_during;	/* key number revoked while it is signed */
};

static int
sign_cb(void *arg, const struct ocsp_cache_key *k, unsigned char **der,
    struct ocsp_cache_item *it)
{
	struct signer_state *st = arg;
	unsigned kn = (unsigned)k->serial[7] | (unsigned)k->serial[6] << 8;

	st->calls++;
	if (kn == 999)
		return 0;			/* "not ours": skipped */
	if ((int)kn == st->revoke_during)
		ocsp_cache_invalidate(st->c, k->ca, k->serial, k->serial_len);
	*der = body_of(k->ca, kn, 1, 200);
	it->len = 200;
	it->this_update = atomic_load(&fake_now);
	it->next_update = it->this_update + 3600;
	it->produced_at = it->this_update;
	it->has_status = 1;
	it->status = 1;
	it->reason = 4;
	it->revoked_at = 77;
	return 1;
}

START_TEST(test_fill)
{
	struct ocsp_cache *c = cache_new(1 << 20, 0);
	struct ocsp_cache_key keys[11];
	struct signer_state st = { 0, c, -1 };

	memset(keys, 0, sizeof(keys));
	for (unsigned i = 0; i < 10; i++) {
		serial_of(i, keys[i].serial);
		keys[i].serial_len = 8;
	}
	serial_of(999, keys[10].serial);
	keys[10].serial_len = 8;
	ck_assert_uint_eq(ocsp_cache_fill(c, keys, 11, 600, sign_cb, &st), 10);
	ck_assert_int_eq(st.calls, 11);
	/* The status the signer recorded comes back with the entry. */
	{
		const struct ocsp_cached *r = get_key(c, 0, 3);

		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->has_status, 1);
		ck_assert_int_eq(r->status, 1);
		ck_assert_int_eq(r->reason, 4);
		ck_assert_int_eq(r->revoked_at, 77);
		ocsp_cache_release(c, r);
	}
	/* All fresh: only the skipped key is tried again. */
	st.calls = 0;
	ck_assert_uint_eq(ocsp_cache_fill(c, keys, 11, 600, sign_cb, &st), 0);
	ck_assert_int_eq(st.calls, 1);
	/* Within the margin of nextUpdate: re-signed. */
	atomic_fetch_add(&fake_now, 3600 - 599);
	st.calls = 0;
	ck_assert_uint_eq(ocsp_cache_fill(c, keys, 10, 600, sign_cb, &st), 10);
	/* A revocation racing the signer: that key is not stored. */
	ocsp_cache_invalidate_ca(c, 0);
	st.revoke_during = 4;
	ck_assert_uint_eq(ocsp_cache_fill(c, keys, 10, 600, sign_cb, &st), 9);
	ck_assert_ptr_null(get_key(c, 0, 4));
	ocsp_cache_free(c);
}
END_TEST

/* ---- Limits ------------------------------------------------------------ */

START_TEST(test_bad_items)
{
	struct ocsp_cache *c = cache_new(4096, 64);
	struct ocsp_cache_item it;
	unsigned char s[21] = { 1 }, d[8192] = { 0 };
	struct ocsp_cache_cfg bad = { 0, 0, NULL, NULL };

	ck_assert_ptr_null(ocsp_cache_new(&bad));
	ck_assert_ptr_null(ocsp_cache_new(NULL));
	memset(&it, 0, sizeof(it));
	it.serial = s;
	it.serial_len = 8;
	it.der = d;
	it.len = 100;
	it.this_update = 10;
	it.next_update = 20;
	ck_assert_int_eq(ocsp_cache_put(c, &it, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
#define BAD(field, value) do {						\
	struct ocsp_cache_item b = it;					\
	b.field = value;						\
	ck_assert_int_eq(ocsp_cache_put(c, &b, ocsp_cache_gen(c)),	\
	    OCSP_CACHE_EINVAL);						\
} while (0)
	BAD(serial_len, 0);
	BAD(serial_len, 21);
	BAD(serial, NULL);
	BAD(der, NULL);
	BAD(len, 0);
	BAD(len, 4096);			/* over the whole bound */
	BAD(next_update, 10);
#undef BAD
	ck_assert_int_eq(ocsp_cache_put(c, NULL, 0), OCSP_CACHE_EINVAL);
	ck_assert_int_eq(ocsp_cache_invalidate(c, 0, s, 21), 0);
	ck_assert_ptr_null(ocsp_cache_get(c, 0, s, 21));
	ocsp_cache_free(c);
	ocsp_cache_free(NULL);
}
END_TEST

START_TEST(test_eviction_bound)
{
	const size_t max = 64 * 1024;
	struct ocsp_cache *c = cache_new(max, 1024);
	size_t n, bytes;
	int hot_alive = 0;

	ck_assert_int_eq(put_key(c, 0, 0, 1, 1000, 1 << 20,
	    ocsp_cache_gen(c)), OCSP_CACHE_OK);
	for (unsigned k = 1; k < 2000; k++) {
		const struct ocsp_cached *r;

		atomic_fetch_add(&fake_now, 1);
		/* key 0 is hot: read before every insertion */
		if ((r = get_key(c, 0, 0)) != NULL) {
			ocsp_cache_release(c, r);
			hot_alive++;
		}
		ck_assert_int_eq(put_key(c, 0, k, 1, 1000, 1 << 20,
		    ocsp_cache_gen(c)), OCSP_CACHE_OK);
		ocsp_cache_stats(c, &n, &bytes);
		ck_assert_uint_le(bytes, max);
	}
	ocsp_cache_stats(c, &n, &bytes);
	ck_assert_uint_gt(n, 30);		/* the bound is used, */
	ck_assert_uint_lt(n, 65);		/* not exceeded */
	/* Approximate LRU: the hot key survives nearly always. */
	ck_assert_int_gt(hot_alive, 1900);
	/* Expired entries go first. */
	atomic_fetch_add(&fake_now, 1 << 21);
	ck_assert_int_eq(put_key(c, 0, 5000, 1, 1000, 60, ocsp_cache_gen(c)),
	    OCSP_CACHE_OK);
	{
		const struct ocsp_cached *r = get_key(c, 0, 5000);

		ck_assert_ptr_nonnull(r);
		ocsp_cache_release(c, r);
	}
	ocsp_cache_free(c);
}
END_TEST

/* ---- concurrency --------------------------------------------------------- */

#define NKEYS	512
static _Atomic int stop;
static _Atomic long reads, hits;

static void *
reader(void *arg)
{
	struct ocsp_cache *c = arg;
	unsigned x = (unsigned)(uintptr_t)pthread_self();

	while (!atomic_load(&stop)) {
		unsigned k;
		uint32_t ca, kk;
		const struct ocsp_cached *r;

		x = x * 1103515245u + 12345u;
		k = (x >> 8) % NKEYS;
		if ((r = get_key(c, k & 1, k)) != NULL) {
			memcpy(&ca, r->der, 4);
			memcpy(&kk, r->der + 4, 4);
			/* right entry, intact (ck_assert only on failure:
			 * each call is a pipe write) */
			if (ca != (k & 1) || kk != k ||
			    r->der[r->len - 1] != r->der[8])
				ck_abort_msg("wrong or torn entry for %u", k);
			ocsp_cache_release(c, r);
			atomic_fetch_add_explicit(&hits, 1,
			    memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
	}
	return NULL;
}

static void *
writer(void *arg)
{
	struct ocsp_cache *c = arg;
	unsigned x = 12345, v = 1;

	while (!atomic_load(&stop)) {
		unsigned k;
		unsigned char s[8];

		x = x * 1103515245u + 12345u;
		k = (x >> 8) % NKEYS;
		if (x % 8 == 0) {
			serial_of(k, s);
			ocsp_cache_invalidate(c, k & 1, s, 8);
		} else
			(void)put_key(c, k & 1, k, v++, 200 + (x >> 4) % 800,
			    3600, ocsp_cache_gen(c));
	}
	return NULL;
}

START_TEST(test_concurrent_readers)
{
	/* Small bound: eviction runs all the time too. */
	struct ocsp_cache *c = cache_new(128 * 1024, 256);
	pthread_t th[6];
	struct timespec ts = { 1, 0 };
	size_t n, bytes;

	for (unsigned k = 0; k < NKEYS; k++)
		(void)put_key(c, k & 1, k, 0, 300, 3600, ocsp_cache_gen(c));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, c), 0);
	for (int i = 4; i < 6; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer, c), 0);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ocsp_cache_stats(c, &n, &bytes);
	ck_assert_uint_le(bytes, 128 * 1024);
	ck_assert_int_gt(atomic_load(&hits), 0);
	ocsp_cache_free(c);
}
END_TEST

/* Informational: cost of one hit (get + release), single thread. */
START_TEST(test_lookup_cost)
{
	struct ocsp_cache *c = cache_new(64 << 20, 65536);
	struct timespec a, b;
	const long iters = 2000000;
	unsigned char s[8];
	double ns;
	long missing = 0;

	for (unsigned k = 0; k < 50000; k++)
		(void)put_key(c, 0, k, 1, 500, 3600, ocsp_cache_gen(c));
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++) {
		const struct ocsp_cached *r;

		serial_of((unsigned)(i * 7919) % 50000, s);
		/* No ck_assert in the loop: each one writes to a pipe. */
		if ((r = ocsp_cache_get(c, 0, s, 8)) == NULL)
			missing++;
		ocsp_cache_release(c, r);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_eq(missing, 0);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	    (double)(b.tv_nsec - a.tv_nsec)) / (double)iters;
	fprintf(stderr, "ocsp_cache: %.0f ns per hit (get+release)\n", ns);
	ocsp_cache_free(c);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("ocsp_cache");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits"),
	    *conc = tcase_create("Concurrency");

	tcase_add_test(core, test_put_get);
	tcase_add_test(core, test_expiry);
	tcase_add_test(core, test_replace_while_held);
	tcase_add_test(core, test_invalidate_and_gen);
	tcase_add_test(core, test_fill);
	tcase_add_test(lim, test_bad_items);
	tcase_add_test(lim, test_eviction_bound);
	tcase_set_timeout(conc, 60);
	tcase_add_test(conc, test_concurrent_readers);
	tcase_add_test(conc, test_lookup_cost);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	suite_add_tcase(s, conc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
