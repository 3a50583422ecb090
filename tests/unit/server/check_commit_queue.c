/* check_commit_queue.c - the group committer and its periodic job. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/commit_queue.h"
#include "tests/unit/db/testdb.h"

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The periodic job's counters; each test sets the behaviour. */
static atomic_int idle_calls;
static atomic_int idle_more;	/* return 1 this many more times */
static int idle_fail;		/* write, then return -1 */

static int
idle_count(struct db *db, void *arg)
{
	(void)arg;
	atomic_fetch_add(&idle_calls, 1);
	if (idle_fail) {
		db_audit_append(db, "test", "idle", "-", NULL);
		return -1;
	}
	if (atomic_load(&idle_more) > 0) {
		atomic_fetch_sub(&idle_more, 1);
		return 1;
	}
	return 0;
}

static int
job_audit(struct db *db, void *arg)
{
	return db_audit_append(db, "test", "job", (const char *)arg, NULL) ==
	    DB_OK ? 0 : -1;
}

static int
job_fail(struct db *db, void *arg)
{
	(void)db;
	(void)arg;
	return -1;
}

static atomic_int done_ok, done_bad;

static void
on_done(void *arg, int result)
{
	(void)arg;
	atomic_fetch_add(result == 0 ? &done_ok : &done_bad, 1);
}

static int
count_audit(void *arg, const struct db_audit_row *r)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int
audit_rows(void)
{
	char err[256];
	struct db *db = db_open(testdb_path, err, sizeof(err));
	int n = 0;

	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db_audit_foreach(db, count_audit, &n), DB_OK);
	db_close(db);
	return n;
}

static struct commit_queue *
start(int with_idle)
{
	struct db *db = testdb_open();
	struct commit_queue *q;
	char err[256];

	ck_assert_ptr_nonnull(db);
	db_close(db);
	atomic_store(&idle_calls, 0);
	atomic_store(&idle_more, 0);
	idle_fail = 0;
	q = cq_start(testdb_path, 8, with_idle ? idle_count : NULL, NULL, 1,
	    err, sizeof(err));
	ck_assert_msg(q != NULL, "cq_start: %s", err);
	return q;
}

START_TEST(run_and_submit)
{
	struct commit_queue *q = start(0);

	ck_assert_int_eq(cq_run(q, job_audit, "a"), 0);
	ck_assert_int_eq(cq_run(q, job_fail, NULL), -1);
	atomic_store(&done_ok, 0);
	atomic_store(&done_bad, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(cq_submit(q, i == 7 ? job_fail : job_audit,
		    on_done, "s"), 0);
	ck_assert_int_eq(cq_submit(q, job_audit, NULL, "x"), -1);
	cq_free(q);		/* pending jobs still run */
	ck_assert_int_eq(atomic_load(&done_ok), 19);
	ck_assert_int_eq(atomic_load(&done_bad), 1);
	/* One failing job cost the others of its batch nothing. */
	ck_assert_int_eq(audit_rows(), 20);
	testdb_cleanup();
}
END_TEST

START_TEST(bad_path)
{
	char err[256] = "";
	struct commit_queue *q = cq_start("/nonexistent-dir/x/t.db", 8, NULL,
	    NULL, 1, err, sizeof(err));

	ck_assert_ptr_null(q);
	ck_assert_str_ne(err, "");
	cq_free(NULL);
}
END_TEST

struct loader {
	struct commit_queue *q;
	atomic_int stop;
	int jobs;
};

static void *
load(void *arg)
{
	struct loader *l = arg;

	while (!atomic_load(&l->stop))
		if (cq_run(l->q, job_audit, "load") == 0)
			l->jobs++;
	return NULL;
}

/* Under constant load the queue is never idle: the periodic job must run
 * anyway, about once a second, and no more often. */
START_TEST(periodic_under_load)
{
	struct commit_queue *q = start(1);
	struct loader l = { q, 0, 0 };
	pthread_t t;
	int n;

	ck_assert_int_eq(pthread_create(&t, NULL, load, &l), 0);
	sleep_ms(3500);
	atomic_store(&l.stop, 1);
	pthread_join(t, NULL);
	n = atomic_load(&idle_calls);
	ck_assert_msg(n >= 2 && n <= 4, "periodic job ran %d times in 3.5 s",
	    n);
	ck_assert_int_gt(l.jobs, 10);
	cq_free(q);
	testdb_cleanup();
}
END_TEST

/* Idle: about once a second, not on every idle moment. */
START_TEST(periodic_when_idle)
{
	struct commit_queue *q = start(1);
	int n;

	sleep_ms(500);
	ck_assert_int_eq(atomic_load(&idle_calls), 0);
	sleep_ms(2000);
	n = atomic_load(&idle_calls);
	ck_assert_msg(n >= 1 && n <= 3, "periodic job ran %d times in 2.5 s",
	    n);
	cq_free(q);
	testdb_cleanup();
}
END_TEST

/* "More is due" (1) has it run again at once, not a period later. */
START_TEST(periodic_more)
{
	struct commit_queue *q = start(1);

	atomic_store(&idle_more, 3);
	sleep_ms(1500);
	/* First run after ~1 s, then three more at once. */
	ck_assert_int_eq(atomic_load(&idle_calls), 4);
	cq_free(q);
	testdb_cleanup();
}
END_TEST

/* A periodic job that always has more takes turns with the batches: it
 * runs over and over, and the jobs still get through. */
START_TEST(periodic_more_under_load)
{
	struct commit_queue *q = start(1);
	struct loader l = { q, 0, 0 };
	pthread_t t;

	atomic_store(&idle_more, 1000000);
	ck_assert_int_eq(pthread_create(&t, NULL, load, &l), 0);
	sleep_ms(2500);
	atomic_store(&l.stop, 1);
	pthread_join(t, NULL);
	ck_assert_int_gt(atomic_load(&idle_calls), 10);
	ck_assert_int_gt(l.jobs, 10);
	cq_free(q);
	testdb_cleanup();
}
END_TEST

/* A failing periodic job leaves nothing behind and jobs still commit. */
START_TEST(periodic_fails)
{
	struct commit_queue *q = start(1);

	idle_fail = 1;
	sleep_ms(1300);
	ck_assert_int_ge(atomic_load(&idle_calls), 1);
	ck_assert_int_eq(cq_run(q, job_audit, "after"), 0);
	cq_free(q);
	ck_assert_int_eq(audit_rows(), 1);
	testdb_cleanup();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("commit_queue");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, run_and_submit);
	tcase_add_test(tc, bad_path);
	tcase_add_test(tc, periodic_under_load);
	tcase_add_test(tc, periodic_when_idle);
	tcase_add_test(tc, periodic_more);
	tcase_add_test(tc, periodic_more_under_load);
	tcase_add_test(tc, periodic_fails);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
