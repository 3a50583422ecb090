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

/* ---- scheduled events and conditional revocation ------------------------ */

static int64_t
add_device(struct db *db, const char *uid)
{
	struct db_device d;
	unsigned char der[3] = { 9, 9, 9 };
	int64_t id;

	memset(&d, 0, sizeof(d));
	snprintf(d.uid, sizeof(d.uid), "%s", uid);
	d.idevid_der = der;
	d.idevid_len = sizeof(der);
	d.idevid_sha256[0] = (unsigned char)uid[0];
	ck_assert_int_eq(db_device_insert(db, &d, &id), DB_OK);
	return id;
}

/* A certificate valid until not_after. */
static int64_t
add_cert_until(struct db *db, int64_t ca, unsigned char s0, int64_t not_after)
{
	struct db_cert c;
	unsigned char der[3] = { 1, 2, 3 };
	int64_t id;

	memset(&c, 0, sizeof(c));
	c.ca_id = ca;
	c.serial[0] = s0;
	c.serial[1] = 0x77;
	c.serial_len = 2;
	snprintf(c.profile, sizeof(c.profile), "ldevid");
	snprintf(c.subject, sizeof(c.subject), "CN=y");
	c.not_before = 1;
	c.not_after = not_after;
	c.der = der;
	c.der_len = 3;
	ck_assert_int_eq(db_cert_insert(db, &c, &id), DB_OK);
	return id;
}

static void
free_events(struct db_sched *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_sched_clear(&ev[i]);
	free(ev);
}

START_TEST(sched_due_and_done)
{
	struct db *db = testdb_open();
	struct db_sched *ev;
	size_t n;
	int64_t dev, e1, e2, e3, e4;

	ck_assert_ptr_nonnull(db);
	dev = add_device(db, "dev-a");
	ck_assert_int_eq(db_sched_insert(db, dev, "revoke_superseded",
	    "{\"cert_id\":7}", 100, &e1), DB_OK);
	ck_assert_int_eq(db_sched_insert(db, dev, "revoke_superseded", NULL,
	    50, &e2), DB_OK);
	ck_assert_int_eq(db_sched_insert(db, dev, "revoke_superseded", "{}",
	    200, &e3), DB_OK);
	ck_assert_int_eq(db_sched_insert(db, dev, "something_else", "{}",
	    10, &e4), DB_OK);

	/* Due at 150: the two earlier ones of this action, earliest first. */
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 150, 10, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ev[0].id, e2);
	ck_assert_ptr_null(ev[0].params);
	ck_assert_int_eq(ev[0].due_at, 50);
	ck_assert_int_eq(ev[1].id, e1);
	ck_assert_str_eq(ev[1].params, "{\"cert_id\":7}");
	ck_assert_str_eq(ev[1].action, "revoke_superseded");
	ck_assert_int_eq(ev[1].device_id, dev);
	free_events(ev, n);

	/* The batch bound holds. */
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 1000, 1, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].id, e2);
	free_events(ev, n);
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 1000, 0, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(ev);

	/* Done ones are gone from the due list; done twice is NOTFOUND. */
	ck_assert_int_eq(db_sched_done(db, e2, 150, "revoked"), DB_OK);
	ck_assert_int_eq(db_sched_done(db, e2, 151, "again"), DB_NOTFOUND);
	ck_assert_int_eq(db_sched_done(db, 9999, 151, "x"), DB_NOTFOUND);
	ck_assert_int_eq(db_sched_done(db, e1, 150, NULL), DB_OK);
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 150, 10, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 200, 10, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].id, e3);
	free_events(ev, n);
	/* The other action is untouched by all this. */
	ck_assert_int_eq(db_sched_due(db, "something_else", 200, 10, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].id, e4);
	free_events(ev, n);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(sched_bad_input)
{
	struct db *db = testdb_open();
	struct db_sched *ev = (struct db_sched *)1;
	size_t n = 5;
	int64_t dev;

	ck_assert_ptr_nonnull(db);
	dev = add_device(db, "dev-b");
	ck_assert_int_eq(db_sched_insert(db, dev, NULL, NULL, 1, NULL),
	    DB_ERROR);
	ck_assert_int_eq(db_sched_insert(db, dev, "", NULL, 1, NULL),
	    DB_ERROR);
	ck_assert_ptr_nonnull(strstr(db_errmsg(db), "no action"));
	/* No such device: the foreign key says no. */
	ck_assert_int_eq(db_sched_insert(db, dev + 100, "revoke_superseded",
	    NULL, 1, NULL), DB_ERROR);
	ck_assert_int_eq(db_sched_due(db, NULL, 1, 10, &ev, &n), DB_ERROR);
	ck_assert_ptr_null(ev);
	ck_assert_uint_eq(n, 0);
	db_sched_clear(NULL);
	db_close(db);
	testdb_cleanup();
}
END_TEST

/* Many done events and few pending: the due read goes through the
 * partial index (the planner must be able to use it: INDEXED BY). */
START_TEST(sched_many_done)
{
	struct db *db = testdb_open();
	struct db_sched *ev;
	size_t n;
	int64_t dev, id = 0;

	ck_assert_ptr_nonnull(db);
	dev = add_device(db, "dev-c");
	ck_assert_int_eq(db_begin(db), DB_OK);
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(db_sched_insert(db, dev, "revoke_superseded",
		    NULL, i, &id), DB_OK);
		if (i != 1999)
			ck_assert_int_eq(db_sched_done(db, id, i, "revoked"),
			    DB_OK);
	}
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 5000, 256, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].id, id);
	free_events(ev, n);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(revoke_valid_outcomes)
{
	struct db *db = testdb_open();
	struct db_cert c;
	enum db_revoke_outcome o;
	int64_t ca, valid, expired, held, e0, e1;
	unsigned char serial[DB_SERIAL_MAX];
	size_t sl;

	ck_assert_ptr_nonnull(db);
	ca = add_ca(db);
	valid = add_cert_until(db, ca, 1, 1000);
	expired = add_cert_until(db, ca, 2, 100);
	held = add_cert_until(db, ca, 3, 1000);
	ck_assert_int_eq(db_cert_revoke(db, held, 10, 1, 0), DB_OK);

	ck_assert_int_eq(db_revocation_epoch(db, &e0), DB_OK);
	ck_assert_int_eq(db_cert_revoke_valid(db, valid, 500, 4, &o), DB_OK);
	ck_assert_int_eq(o, DB_REVOKE_DONE);
	ck_assert_str_eq(db_revoke_outcome_name(o), "revoked");
	ck_assert_int_eq(db_revocation_epoch(db, &e1), DB_OK);
	ck_assert_int_eq(e1, e0 + 1);
	ck_assert_int_eq(db_cert_get_by_id(db, valid, &c), DB_OK);
	ck_assert_int_eq(c.revoked, 1);
	ck_assert_int_eq(c.reason, 4);
	ck_assert_int_eq(c.revoked_at, 500);
	ck_assert_int_eq(c.invalidity_date, 0);
	db_cert_clear(&c);

	/* Again: left as it was, epoch unmoved. */
	ck_assert_int_eq(db_cert_revoke_valid(db, valid, 600, 4, &o), DB_OK);
	ck_assert_int_eq(o, DB_REVOKE_WAS_REVOKED);
	ck_assert_str_eq(db_revoke_outcome_name(o), "already_revoked");
	/* An operator's keyCompromise is never turned into superseded. */
	ck_assert_int_eq(db_cert_revoke_valid(db, held, 600, 4, &o), DB_OK);
	ck_assert_int_eq(o, DB_REVOKE_WAS_REVOKED);
	ck_assert_int_eq(db_cert_get_by_id(db, held, &c), DB_OK);
	ck_assert_int_eq(c.reason, 1);
	ck_assert_int_eq(c.revoked_at, 10);
	db_cert_clear(&c);
	/* Expired at when (not_after 100 <= 100): not revoked. */
	ck_assert_int_eq(db_cert_revoke_valid(db, expired, 100, 4, &o), DB_OK);
	ck_assert_int_eq(o, DB_REVOKE_EXPIRED);
	ck_assert_str_eq(db_revoke_outcome_name(o), "expired");
	ck_assert_int_eq(db_cert_get_by_id(db, expired, &c), DB_OK);
	ck_assert_int_eq(c.revoked, 0);
	db_cert_clear(&c);
	ck_assert_int_eq(db_cert_revoke_valid(db, 424242, 100, 4, &o), DB_OK);
	ck_assert_int_eq(o, DB_REVOKE_NOT_FOUND);
	ck_assert_str_eq(db_revoke_outcome_name(o), "no_such_certificate");
	ck_assert_int_eq(db_revocation_epoch(db, &e0), DB_OK);
	ck_assert_int_eq(e0, e1);

	ck_assert_int_eq(db_cert_serial_by_id(db, expired, serial, &sl), DB_OK);
	ck_assert_uint_eq(sl, 2);
	ck_assert_int_eq(serial[0], 2);
	ck_assert_int_eq(serial[1], 0x77);
	ck_assert_int_eq(db_cert_serial_by_id(db, 424242, serial, &sl),
	    DB_NOTFOUND);
	ck_assert_uint_eq(sl, 0);
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(device_brief)
{
	struct db *db = testdb_open();
	struct db_device d;
	int64_t dev;

	ck_assert_ptr_nonnull(db);
	dev = add_device(db, "dev-e");
	ck_assert_int_eq(db_device_set_state(db, dev, "claimed", "acme"),
	    DB_OK);
	ck_assert_int_eq(db_device_brief_by_id(db, dev, &d), DB_OK);
	ck_assert_int_eq(d.id, dev);
	ck_assert_str_eq(d.uid, "dev-e");
	ck_assert_str_eq(d.state, "claimed");
	ck_assert_str_eq(d.owner, "acme");
	ck_assert_ptr_null(d.idevid_der);
	ck_assert_ptr_null(d.chain_der);
	db_device_clear(&d);
	ck_assert_int_eq(db_device_set_state(db, dev, "returned", ""), DB_OK);
	ck_assert_int_eq(db_device_brief_by_id(db, dev, &d), DB_OK);
	ck_assert_str_eq(d.owner, "");
	ck_assert_int_eq(db_device_brief_by_id(db, dev + 1, &d), DB_NOTFOUND);
	ck_assert_str_eq(d.uid, "");
	db_close(db);
	testdb_cleanup();
}
END_TEST

START_TEST(wal_autocheckpoint)
{
	struct db *db = testdb_open();
	sqlite3 *raw;
	sqlite3_stmt *st;

	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db_set_wal_autocheckpoint(db, -1), DB_ERROR);
	ck_assert_int_eq(db_set_wal_autocheckpoint(db, 10000), DB_OK);
	ck_assert_int_eq(db_set_wal_autocheckpoint(db, 0), DB_OK);
	db_close(db);
	/* A per-connection setting: the file keeps WAL mode, nothing else. */
	ck_assert_int_eq(sqlite3_open(testdb_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(raw);
	testdb_cleanup();
}
END_TEST

/* A schedule written in a transaction that rolls back is not there. */
START_TEST(sched_rolls_back)
{
	struct db *db = testdb_open();
	struct db_sched *ev;
	size_t n;
	int64_t dev;

	ck_assert_ptr_nonnull(db);
	dev = add_device(db, "dev-d");
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_sched_insert(db, dev, "revoke_superseded", NULL,
	    1, NULL), DB_OK);
	ck_assert_int_eq(db_rollback(db), DB_OK);
	ck_assert_int_eq(db_sched_due(db, "revoke_superseded", 10, 10, &ev,
	    &n), DB_OK);
	ck_assert_uint_eq(n, 0);
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
	TCase *sched = tcase_create("Sched");
	tcase_add_test(sched, sched_due_and_done);
	tcase_add_test(sched, sched_bad_input);
	tcase_add_test(sched, sched_many_done);
	tcase_add_test(sched, revoke_valid_outcomes);
	tcase_add_test(sched, sched_rolls_back);
	tcase_add_test(sched, device_brief);
	tcase_add_test(sched, wal_autocheckpoint);
	suite_add_tcase(s, sched);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
