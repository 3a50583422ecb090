/* check_store.c - schema, migrations, certificates, revocations, CRLs. */
#include <check.h>
#include <sqlite3.h>
#include <string.h>

#include "tests/unit/db/testdb.h"

static int64_t
add_ca(struct db *db)
{
	int64_t id;
	unsigned char der[4] = { 0x30, 0x02, 0x05, 0x00 };
	ck_assert_int_eq(db_ca_insert(db, "issuing-1", "issuing", 1, der, 4,
	    "secrets/issuing_ca.key", &id), DB_OK);
	return id;
}

static int64_t
add_cert(struct db *db, int64_t ca, unsigned char s0)
{
	struct db_cert c;
	unsigned char der[3] = { 1, 2, 3 };
	int64_t id;

	memset(&c, 0, sizeof(c));
	c.ca_id = ca;
	c.serial[0] = s0;
	c.serial[1] = 0x42;
	c.serial_len = 2;
	snprintf(c.profile, sizeof(c.profile), "ldevid");
	snprintf(c.subject, sizeof(c.subject), "CN=x");
	c.not_before = 1;
	c.not_after = 2;
	c.der = der;
	c.der_len = 3;
	int rc = db_cert_insert(db, &c, &id);
	return rc == DB_OK ? id : rc;
}

START_TEST(schema_version)
{
	struct db *db = testdb_open();
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	/* Reopening migrates nothing and keeps the version. */
	char err[256];
	db = db_open(testdb_path, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct db *db = testdb_open();
	sqlite3 *raw;
	char err[256];

	db_close(db);
	ck_assert_int_eq(sqlite3_open(testdb_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version = 999", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	ck_assert_ptr_null(db_open(testdb_path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	testdb_cleanup();
}
END_TEST

START_TEST(cert_unique_serial)
{
	struct db *db = testdb_open();
	int64_t ca = add_ca(db);
	int64_t id = add_cert(db, ca, 0x11);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(add_cert(db, ca, 0x11), DB_EXISTS);
	unsigned char s[2] = { 0x11, 0x42 };
	ck_assert_int_eq(db_cert_serial_exists(db, s, 2), DB_EXISTS);
	s[0] = 0x12;
	ck_assert_int_eq(db_cert_serial_exists(db, s, 2), DB_NOTFOUND);
	db_close(db);
	testdb_cleanup();
}
END_TEST

static int
count_cb(void *arg, const struct db_cert *c)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

START_TEST(revoke_epoch)
{
	struct db *db = testdb_open();
	int64_t ca = add_ca(db), e0, e1;
	int64_t id = add_cert(db, ca, 0x21);
	struct db_cert c;
	unsigned char s[2] = { 0x21, 0x42 };
	int n = 0;

	ck_assert_int_eq(db_revocation_epoch(db, &e0), DB_OK);
	ck_assert_int_eq(db_cert_revoke(db, id, 100, 1, 90), DB_OK);
	ck_assert_int_eq(db_revocation_epoch(db, &e1), DB_OK);
	ck_assert_int_eq(e1, e0 + 1);
	ck_assert_int_eq(db_cert_get_by_serial(db, s, 2, &c), DB_OK);
	ck_assert_int_eq(c.revoked, 1);
	ck_assert_int_eq(c.reason, 1);
	ck_assert_int_eq(c.revoked_at, 100);
	ck_assert_int_eq(c.invalidity_date, 90);
	ck_assert_uint_eq(c.der_len, 3);
	db_cert_clear(&c);
	/* Changing the reason keeps the original revocation time. */
	ck_assert_int_eq(db_cert_revoke(db, id, 200, 4, 0), DB_OK);
	ck_assert_int_eq(db_cert_get_by_serial(db, s, 2, &c), DB_OK);
	ck_assert_int_eq(c.revoked_at, 100);
	ck_assert_int_eq(c.reason, 4);
	db_cert_clear(&c);
	ck_assert_int_eq(db_cert_foreach(db, 0, 1, count_cb, &n), DB_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(db_cert_unrevoke(db, id), DB_OK);
	ck_assert_int_eq(db_cert_unrevoke(db, id), DB_NOTFOUND);
	ck_assert_int_eq(db_cert_revoke(db, 9999, 1, 1, 0), DB_NOTFOUND);
	n = 0;
	ck_assert_int_eq(db_cert_foreach(db, ca, 1, count_cb, &n), DB_OK);
	ck_assert_int_eq(n, 0);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(rollback_loses_nothing_else)
{
	struct db *db = testdb_open();
	int64_t ca = add_ca(db);
	unsigned char s[2] = { 0x31, 0x42 };

	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_gt(add_cert(db, ca, 0x31), 0);
	ck_assert_int_eq(db_rollback(db), DB_OK);
	ck_assert_int_eq(db_cert_serial_exists(db, s, 2), DB_NOTFOUND);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(crl_numbers)
{
	struct db *db = testdb_open();
	int64_t ca = add_ca(db), num;
	unsigned char *der;
	size_t len;

	ck_assert_int_eq(db_crl_next_number(db, ca, &num), DB_OK);
	ck_assert_int_eq(num, 1);
	ck_assert_int_eq(db_crl_latest(db, ca, 0, &num, &der, &len),
	    DB_NOTFOUND);
	ck_assert_int_eq(db_crl_insert(db, ca, 1, 0, 0, 10, 20,
	    (const unsigned char *)"abc", 3), DB_OK);
	ck_assert_int_eq(db_crl_insert(db, ca, 1, 0, 0, 10, 20,
	    (const unsigned char *)"abc", 3), DB_EXISTS);
	ck_assert_int_eq(db_crl_next_number(db, ca, &num), DB_OK);
	ck_assert_int_eq(num, 2);
	ck_assert_int_eq(db_crl_latest(db, ca, 0, &num, &der, &len), DB_OK);
	ck_assert_int_eq(num, 1);
	ck_assert_uint_eq(len, 3);
	free(der);
	db_close(db);
	testdb_cleanup();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *core = tcase_create("Core");
	tcase_add_test(core, schema_version);
	tcase_add_test(core, newer_schema_refused);
	tcase_add_test(core, cert_unique_serial);
	tcase_add_test(core, revoke_epoch);
	tcase_add_test(core, rollback_loses_nothing_else);
	tcase_add_test(core, crl_numbers);
	suite_add_tcase(s, core);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
