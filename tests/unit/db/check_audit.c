/* check_audit.c - the hash chain, and tampering behind the store's back. */
#include <check.h>
#include <sqlite3.h>
#include <string.h>

#include "tests/unit/db/testdb.h"

static struct db *
filled(int n)
{
	struct db *db = testdb_open();
	char d[64];

	ck_assert_ptr_nonnull(db);
	for (int i = 0; i < n; i++) {
		snprintf(d, sizeof(d), "{\"i\":%d}", i);
		ck_assert_int_eq(db_audit_append(db, "test", "act", "subj",
		    i == 2 ? NULL : d), DB_OK);
	}
	return db;
}

/* Runs SQL with plain sqlite3, as an attacker with the file would. */
static void
raw_exec(const char *sql)
{
	sqlite3 *raw;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(testdb_path, &raw), SQLITE_OK);
	int rc = sqlite3_exec(raw, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		ck_abort_msg("raw sql: %s", msg);
	sqlite3_close(raw);
}

static void
expect_broken_at(struct db *db, int64_t want)
{
	int64_t bad;
	char why[256];

	ck_assert_int_eq(db_audit_verify(db, &bad, why, sizeof(why)),
	    DB_CORRUPT);
	ck_assert_int_eq(bad, want);
}

START_TEST(intact)
{
	struct db *db = filled(5);
	int64_t bad;
	char why[256];
	ck_assert_int_eq(db_audit_verify(db, &bad, why, sizeof(why)), DB_OK);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(store_cannot_update)
{
	struct db *db = filled(3);
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(testdb_path, &raw), SQLITE_OK);
	ck_assert_int_ne(sqlite3_exec(raw, "DELETE FROM audit WHERE id = 1",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(edit_detected)
{
	struct db *db = filled(5);
	raw_exec("DROP TRIGGER audit_no_update;"
	    "UPDATE audit SET subject = 'other' WHERE id = 3;");
	expect_broken_at(db, 3);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(edit_with_rehash_detected)
{
	/* Changing details and recomputing nothing but the stored hash of
	 * that row still breaks the next row's link. */
	struct db *db = filled(5);
	raw_exec("DROP TRIGGER audit_no_update;"
	    "UPDATE audit SET hash = zeroblob(32) WHERE id = 2;");
	expect_broken_at(db, 2);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(delete_middle_detected)
{
	struct db *db = filled(5);
	raw_exec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2;");
	expect_broken_at(db, 3);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(delete_last_detected)
{
	struct db *db = filled(5);
	raw_exec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 5;");
	expect_broken_at(db, 5);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(in_caller_transaction)
{
	struct db *db = filled(1);
	int n = 0;
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_audit_append(db, "t", "a", "s", NULL), DB_OK);
	ck_assert_int_eq(db_rollback(db), DB_OK);
	int64_t bad;
	char why[256];
	ck_assert_int_eq(db_audit_verify(db, &bad, why, sizeof(why)), DB_OK);
	(void)n;
	db_close(db);
	testdb_cleanup();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("audit");
	TCase *core = tcase_create("Core"), *tamper = tcase_create("Tamper");
	tcase_add_test(core, intact);
	tcase_add_test(core, in_caller_transaction);
	tcase_add_test(tamper, store_cannot_update);
	tcase_add_test(tamper, edit_detected);
	tcase_add_test(tamper, edit_with_rehash_detected);
	tcase_add_test(tamper, delete_middle_detected);
	tcase_add_test(tamper, delete_last_detected);
	suite_add_tcase(s, core);
	suite_add_tcase(s, tamper);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
