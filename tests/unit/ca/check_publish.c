/*
 * check_publish.c - the pure parts of ca/publish.c: revoked-set order,
 * lookup, put and diff (what the delta CRL and OCSP invalidation rely
 * on), and the delta CRL URL.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ca/publish.h"

static struct crl_entry
ent(unsigned v, int reason)
{
	struct crl_entry e;
	size_t n = 0;
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	memset(&e, 0, sizeof(e));
	while (n < 3 && b[n] == 0)
		n++;
	memcpy(e.serial, b + n, 4 - n);
	e.serial_len = 4 - n;
	e.revoked_at = 1000 + v;
	e.reason = reason;
	return e;
}

START_TEST(put_keeps_numeric_order)
{
	struct ca_revoked_set s = { NULL, 0 };
	unsigned vals[] = { 0x10000, 5, 0xff, 0x100, 1, 0x7f };
	struct crl_entry e;

	for (size_t i = 0; i < 6; i++) {
		e = ent(vals[i], 1);
		ck_assert_int_eq(ca_revoked_put(&s, &e), 0);
	}
	ck_assert_uint_eq(s.n, 6);
	/* shorter magnitudes sort first; then bytes */
	ck_assert_uint_eq(s.e[0].serial[0], 1);
	ck_assert_uint_eq(s.e[5].serial_len, 3);
	e = ent(0xff, 4);		/* replace, not duplicate */
	ck_assert_int_eq(ca_revoked_put(&s, &e), 0);
	ck_assert_uint_eq(s.n, 6);
	e = ent(0x100, 0);
	ck_assert_ptr_nonnull(ca_revoked_find(&s, e.serial, e.serial_len));
	ck_assert_int_eq(ca_revoked_find(&s, (unsigned char *)"\xff", 1)->reason,
	    4);
	e = ent(0x101, 0);
	ck_assert_ptr_null(ca_revoked_find(&s, e.serial, e.serial_len));
	ck_assert_ptr_null(ca_revoked_find(&s, (unsigned char *)"", 0));
	ca_revoked_clear(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_ptr_null(ca_revoked_find(&s, (unsigned char *)"\x01", 1));
}
END_TEST

struct seen {
	int added, removed, changed;
};

static void
count(void *arg, const struct crl_entry *a, const struct crl_entry *b)
{
	struct seen *s = arg;

	if (a == NULL)
		s->added++;
	else if (b == NULL)
		s->removed++;
	else
		s->changed++;
}

START_TEST(diff_finds_each_change)
{
	struct ca_revoked_set a = { NULL, 0 }, b = { NULL, 0 };
	struct seen s = { 0, 0, 0 };
	struct crl_entry e;

	for (unsigned v = 1; v <= 100; v++) {
		e = ent(v, 1);
		ca_revoked_put(&a, &e);
		if (v % 10 == 0)
			continue;		/* removed: 10 */
		if (v % 7 == 0)
			e.reason = 6;		/* changed: 14 - 1 (70) = 13 */
		ca_revoked_put(&b, &e);
	}
	e = ent(5000, 1);
	ca_revoked_put(&b, &e);			/* added: 1 */
	ck_assert_uint_eq(ca_revoked_diff(&a, &b, count, &s), 24);
	ck_assert_int_eq(s.added, 1);
	ck_assert_int_eq(s.removed, 10);
	ck_assert_int_eq(s.changed, 13);
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(ca_revoked_diff(&a, &a, count, &s), 0);
	ca_revoked_clear(&b);
	ck_assert_uint_eq(ca_revoked_diff(&a, &b, count, &s), 100);
	ck_assert_int_eq(s.removed, 100);
	ca_revoked_clear(&a);
}
END_TEST

START_TEST(delta_url)
{
	char u[128];

	ck_assert_int_eq(ca_crl_delta_url("http://h:8080/", "issuing-1", u,
	    sizeof(u)), 0);
	ck_assert_str_eq(u, "http://h:8080/crl/issuing-1-delta.crl");
	ck_assert_int_eq(ca_crl_delta_url("http://h", "x", u, sizeof(u)), 0);
	ck_assert_str_eq(u, "http://h/crl/x-delta.crl");
	ck_assert_int_eq(ca_crl_delta_url("http://h", "x", u, 10), -1);
	ck_assert_int_eq(ca_crl_delta_url("", "x", u, sizeof(u)), -1);
	ck_assert_int_eq(ca_crl_delta_url(NULL, "x", u, sizeof(u)), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("publish");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, put_keeps_numeric_order);
	tcase_add_test(tc, diff_finds_each_change);
	tcase_add_test(tc, delta_url);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
