/* check_revoke.c - the core revocation function: parsing, idempotency,
 * holds, refusals, audit rows and the revocation epoch. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ca/revoke_reason.h"
#include "db/db.h"
#include "ra/revoke.h"
#include "tests/unit/db/testdb.h"

static struct db *db;

static void
setup(void)
{
	unsigned char der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct db_cert c;
	int64_t ca;

	db = testdb_open();
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db_ca_insert(db, "issuing-1", "issuing", 1, der, 4,
	    "k", &ca), DB_OK);
	memset(&c, 0, sizeof(c));
	c.ca_id = ca;
	c.serial[0] = 0x0a;
	c.serial[1] = 0xbc;
	c.serial_len = 2;
	snprintf(c.profile, sizeof(c.profile), "ldevid");
	snprintf(c.subject, sizeof(c.subject), "CN=x");
	c.not_after = 10;
	c.der = der;
	c.der_len = 4;
	ck_assert_int_eq(db_cert_insert(db, &c, NULL), DB_OK);
}

static void
teardown(void)
{
	db_close(db);
	testdb_cleanup();
}

static int
count_rows(void *arg, const struct db_audit_row *r)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int
audit_rows(void)
{
	int n = 0;
	ck_assert_int_eq(db_audit_foreach(db, count_rows, &n), DB_OK);
	return n;
}

START_TEST(serial_parse)
{
	unsigned char s[DB_SERIAL_MAX];
	size_t n;

	ck_assert_int_eq(ra_serial_parse("0ABC", s, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(s[0], 0x0a);
	ck_assert_int_eq(ra_serial_parse("ab:c", s, &n), 0);	/* odd, colons */
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(s[1], 0xbc);
	ck_assert_int_eq(ra_serial_parse("00000abc", s, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ra_serial_parse("", s, &n), -1);
	ck_assert_int_eq(ra_serial_parse("00", s, &n), -1);	/* zero */
	ck_assert_int_eq(ra_serial_parse("xyz", s, &n), -1);
	ck_assert_int_eq(ra_serial_parse(
	    "0102030405060708090a0b0c0d0e0f101112131415", s, &n), -1);
}
END_TEST

START_TEST(revoke_idempotent)
{
	char err[256];
	int64_t e0, e1;
	int a0 = audit_rows();

	ck_assert_int_eq(db_revocation_epoch(db, &e0), DB_OK);
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "keyCompromise", 0,
	    "test", err, sizeof(err)), RA_REVOKED);
	ck_assert_int_eq(ra_revoke_serial(db, "0ABC", "keyCompromise", 0,
	    "test", err, sizeof(err)), RA_REVOKE_ALREADY);
	ck_assert_int_eq(db_revocation_epoch(db, &e1), DB_OK);
	ck_assert_int_eq(e1, e0 + 1);
	ck_assert_int_eq(audit_rows(), a0 + 1);
	/* A final revocation cannot be weakened. */
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "superseded", 0, "test",
	    err, sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "already revoked"));
}
END_TEST

START_TEST(hold_and_release)
{
	char err[256];
	unsigned char s[2] = { 0x0a, 0xbc };
	struct db_cert c;

	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "removeFromCRL", 0,
	    "test", err, sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "certificateHold", 0,
	    "test", err, sizeof(err)), RA_REVOKED);
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "removeFromCRL", 0,
	    "test", err, sizeof(err)), RA_REVOKE_UNHELD);
	ck_assert_int_eq(db_cert_get_by_serial(db, s, 2, &c), DB_OK);
	ck_assert_int_eq(c.revoked, 0);
	db_cert_clear(&c);
	/* On hold, then revoked for good with another reason. */
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "certificateHold", 0,
	    "test", err, sizeof(err)), RA_REVOKED);
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "cessationOfOperation",
	    0, "test", err, sizeof(err)), RA_REVOKED);
	ck_assert_int_eq(db_cert_get_by_serial(db, s, 2, &c), DB_OK);
	ck_assert_int_eq(c.reason, REVOKE_REASON_CESSATION_OF_OPERATION);
	db_cert_clear(&c);
}
END_TEST

START_TEST(refusals)
{
	char err[256];
	int a0 = audit_rows();

	ck_assert_int_eq(ra_revoke_serial(db, "0abd", NULL, 0, "test", err,
	    sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "no certificate"));
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "becauseISaidSo", 0,
	    "test", err, sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "unknown reason"));
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "cACompromise", 0,
	    "test", err, sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_int_eq(ra_revoke_serial(db, "zz", NULL, 0, "test", err,
	    sizeof(err)), RA_REVOKE_ERROR);
	ck_assert_int_eq(audit_rows(), a0);	/* refusals write nothing */
}
END_TEST

START_TEST(inside_caller_transaction)
{
	char err[256];
	unsigned char s[2] = { 0x0a, 0xbc };
	struct db_cert c;

	/* A lifecycle transition rolls back: so does the revocation. */
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(ra_revoke_serial(db, "0abc", "affiliationChanged", 0,
	    "test", err, sizeof(err)), RA_REVOKED);
	ck_assert_int_eq(db_rollback(db), DB_OK);
	ck_assert_int_eq(db_cert_get_by_serial(db, s, 2, &c), DB_OK);
	ck_assert_int_eq(c.revoked, 0);
	db_cert_clear(&c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("revoke");
	TCase *t = tcase_create("Core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, serial_parse);
	tcase_add_test(t, revoke_idempotent);
	tcase_add_test(t, hold_and_release);
	tcase_add_test(t, refusals);
	tcase_add_test(t, inside_caller_transaction);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
