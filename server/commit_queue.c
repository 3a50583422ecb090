/*
 * commit_queue.c - the group committer (see commit_queue.h).
 */
#define _GNU_SOURCE		/* pthread_setname_np */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "db/db.h"
#include "server/commit_queue.h"

#define CQ_WAL_AUTOCHECKPOINT 10000	/* pages; see cq_start */

/* One job: on the worker's stack for cq_run (done_fn NULL), malloc'd by
 * cq_submit and freed by the committer after done_fn. */
struct cq_job {
	cq_job_fn fn;
	void *arg;
	cq_done_fn done_fn;
	int done;
	int result;
	struct cq_job *next;
};

struct commit_queue {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* signalled on submit and stop */
	pthread_cond_t done;		/* broadcast after each batch */
	struct cq_job *head, *tail;	/* pending, FIFO */
	int stopping;
	pthread_t thread;
	int started;
	struct db *db;			/* the committer's own handle */
	size_t max_batch;
	cq_idle_fn idle;
	void *idle_arg;
	int64_t idle_ms;		/* the periodic job's period */
	int64_t idle_next_ms;		/* CLOCK_MONOTONIC, when next due */
	int idle_last;			/* it ran last: a batch goes next */
};

/* Runs one job alone in its own transaction. */
static int
run_alone(struct db *db, struct cq_job *j)
{
	if (db_begin(db) != DB_OK) {
		log_err("commit queue: begin: %s", db_errmsg(db));
		return -1;
	}
	if (j->fn(db, j->arg) != 0) {
		db_rollback(db);
		return -1;
	}
	if (db_commit(db) != DB_OK) {
		log_err("commit queue: commit: %s", db_errmsg(db));
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* Runs a batch in one transaction; on any failure, each job alone. */
static void
run_batch(struct commit_queue *q, struct cq_job *batch)
{
	struct cq_job *j;
	int ok = db_begin(q->db) == DB_OK;

	for (j = batch; ok && j != NULL; j = j->next)
		if (j->fn(q->db, j->arg) != 0)
			ok = 0;
	if (ok && db_commit(q->db) != DB_OK) {
		log_err("commit queue: group commit: %s", db_errmsg(q->db));
		ok = 0;
	}
	if (ok) {
		for (j = batch; j != NULL; j = j->next)
			j->result = 0;
		return;
	}
	db_rollback(q->db);
	for (j = batch; j != NULL; j = j->next)
		j->result = batch->next == NULL && j == batch ?
		    -1 : run_alone(q->db, j);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs the periodic job in its own transaction and sets when it is next
 * due: a period from now, or at once when it said more is due.
 * Called without the lock.
 */
static void
run_idle(struct commit_queue *q)
{
	int r = -1;

	if (db_begin(q->db) != DB_OK) {
		log_err("commit queue: begin: %s", db_errmsg(q->db));
	} else if ((r = q->idle(q->db, q->idle_arg)) < 0 ||
	    db_commit(q->db) != DB_OK) {
		if (r >= 0)
			log_err("commit queue: commit: %s", db_errmsg(q->db));
		db_rollback(q->db);
		r = -1;
	}
	q->idle_next_ms = r > 0 ? mono_ms() : mono_ms() + q->idle_ms;
	q->idle_last = 1;
}

/* 1 when the periodic job is due (the lock is held).  When it has more
 * to do, it alternates with the queued batches rather than hold them up
 * until it is through. */
static int
idle_due(struct commit_queue *q)
{
	return q->idle != NULL && !q->stopping &&
	    (q->head == NULL || !q->idle_last) &&
	    mono_ms() >= q->idle_next_ms;
}

/* Hands the batch's outcomes back: done functions, then waiters.  Called
 * without the lock; returns with it held. */
static void
finish_batch(struct commit_queue *q, struct cq_job *batch)
{
	struct cq_job **pp = &batch, *j, *nx;
	int waiters = 0;

	/* Submitted jobs first, outside the lock: their done functions wake
	 * parked requests. */
	while ((j = *pp) != NULL) {
		if (j->done_fn == NULL) {
			waiters = 1;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->done_fn(j->arg, j->result);
		free(j);
	}
	pthread_mutex_lock(&q->lock);
	for (; (j = batch) != NULL; batch = nx) {
		nx = j->next;	/* j may vanish once done */
		j->done = 1;
	}
	if (waiters)
		pthread_cond_broadcast(&q->done);
}

static void *
committer(void *arg)
{
	struct commit_queue *q = arg;
	struct cq_job *batch, *last;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		/* The periodic job runs between batches when due, so load
		 * never starves it; with nothing queued, the wait ends when
		 * it is next due. */
		if (idle_due(q)) {
			pthread_mutex_unlock(&q->lock);
			run_idle(q);
			pthread_mutex_lock(&q->lock);
			continue;
		}
		if (q->head == NULL && !q->stopping) {
			struct timespec ts;
			int64_t wait_ms = q->idle != NULL ?
			    q->idle_next_ms - mono_ms() : 60000;

			if (wait_ms < 0)
				wait_ms = 0;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&q->work, &q->lock, &ts);
			continue;
		}
		if (q->head == NULL && q->stopping)
			break;
		/* Take up to max_batch jobs; the rest wait for the next. */
		batch = last = q->head;
		for (size_t n = 1; n < q->max_batch && last->next != NULL; n++)
			last = last->next;
		q->head = last->next;
		if (q->head == NULL)
			q->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&q->lock);

		run_batch(q, batch);
		finish_batch(q, batch);
		q->idle_last = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct commit_queue *
cq_start(const char *db_path, size_t max_batch, cq_idle_fn idle,
    void *idle_arg, int idle_s, char *err, size_t errlen)
{
	struct commit_queue *q;
	pthread_condattr_t ca;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	/* The committer's timed wait is on the monotonic clock: a clock
	 * step must neither stall nor hurry the periodic job. */
	pthread_cond_init(&q->done, NULL);
	if (pthread_condattr_init(&ca) != 0) {
		snprintf(err, errlen, "cannot set up the committer's clock");
		goto fail;	/* work stays zeroed: destroying it is fine */
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&q->work, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!rc) {
		snprintf(err, errlen, "cannot set up the committer's clock");
		goto fail;
	}
	q->max_batch = max_batch > 0 ? max_batch : 1;
	q->idle = idle;
	q->idle_arg = idle_arg;
	q->idle_ms = (int64_t)(idle_s > 0 ? idle_s : 60) * 1000;
	q->idle_next_ms = mono_ms() + q->idle_ms;
	if ((q->db = db_open(db_path, err, errlen)) == NULL)
		goto fail;
	if (db_set_durable(q->db, 1) != DB_OK) {
		snprintf(err, errlen, "%s: synchronous=FULL: %s", db_path,
		    db_errmsg(q->db));
		goto fail;
	}
	/* 10000 pages (about 40 MB of WAL) instead of SQLite's 1000: the
	 * index pages that random serials and key hashes dirty are then
	 * mostly checkpointed once rather than once per few hundred
	 * enrollments.  Measured with the committer's statements alone
	 * (batches of 40, 30k rows on 30k): 45-58 us of CPU per enrollment
	 * instead of 63-71.  Durability is unchanged: every commit is
	 * still fsync'ed in the WAL. */
	if (db_set_wal_autocheckpoint(q->db, CQ_WAL_AUTOCHECKPOINT) != DB_OK) {
		snprintf(err, errlen, "%s: wal_autocheckpoint: %s", db_path,
		    db_errmsg(q->db));
		goto fail;
	}
	if (pthread_create(&q->thread, NULL, committer, q) != 0) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	q->started = 1;
	/* Named so that profiles and top -H tell its CPU from the workers'. */
	pthread_setname_np(q->thread, "committer");
	return q;
fail:
	cq_free(q);
	return NULL;
}

void
cq_free(struct commit_queue *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stopping = 1;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	db_close(q->db);
	pthread_cond_destroy(&q->done);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int
cq_run(struct commit_queue *q, cq_job_fn fn, void *arg)
{
	struct cq_job j;

	memset(&j, 0, sizeof(j));
	j.fn = fn;
	j.arg = arg;
	j.result = -1;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	if (q->tail != NULL)
		q->tail->next = &j;
	else
		q->head = &j;
	q->tail = &j;
	pthread_cond_signal(&q->work);
	while (!j.done)
		pthread_cond_wait(&q->done, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return j.result;
}

int
cq_submit(struct commit_queue *q, cq_job_fn fn, cq_done_fn done, void *arg)
{
	struct cq_job *j;

	if (done == NULL || (j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	j->done_fn = done;
	j->result = -1;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		free(j);
		return -1;
	}
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return 0;
}
