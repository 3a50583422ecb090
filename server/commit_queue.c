/*
 * commit_queue.c - the group committer (see commit_queue.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "db/db.h"
#include "server/commit_queue.h"

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
	int idle_s;
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

static void
run_idle(struct commit_queue *q)
{
	if (q->idle == NULL)
		return;
	if (db_begin(q->db) != DB_OK)
		return;
	if (q->idle(q->db, q->idle_arg) != 0 || db_commit(q->db) != DB_OK)
		db_rollback(q->db);
}

static void *
committer(void *arg)
{
	struct commit_queue *q = arg;
	struct cq_job *batch, *last;
	time_t last_idle = time(NULL);

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->head == NULL && !q->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += q->idle_s > 0 ? q->idle_s : 60;
			if (pthread_cond_timedwait(&q->work, &q->lock, &ts) ==
			    ETIMEDOUT && q->head == NULL && q->idle_s > 0 &&
			    time(NULL) - last_idle >= q->idle_s) {
				pthread_mutex_unlock(&q->lock);
				run_idle(q);
				last_idle = time(NULL);
				pthread_mutex_lock(&q->lock);
			}
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

		/* Submitted jobs first, outside the lock: their done
		 * functions wake parked requests. */
		{
			struct cq_job **pp = &batch, *j;
			int waiters = 0;

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
			for (struct cq_job *nx; (j = batch) != NULL;
			    batch = nx) {
				nx = j->next;	/* j may vanish once done */
				j->done = 1;
			}
			if (waiters)
				pthread_cond_broadcast(&q->done);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct commit_queue *
cq_start(const char *db_path, size_t max_batch, cq_idle_fn idle,
    void *idle_arg, int idle_s, char *err, size_t errlen)
{
	struct commit_queue *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->done, NULL);
	q->max_batch = max_batch > 0 ? max_batch : 1;
	q->idle = idle;
	q->idle_arg = idle_arg;
	q->idle_s = idle_s;
	if ((q->db = db_open(db_path, err, errlen)) == NULL)
		goto fail;
	if (db_set_durable(q->db, 1) != DB_OK) {
		snprintf(err, errlen, "%s: synchronous=FULL: %s", db_path,
		    db_errmsg(q->db));
		goto fail;
	}
	if (pthread_create(&q->thread, NULL, committer, q) != 0) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	q->started = 1;
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
