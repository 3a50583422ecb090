/*
 * commit_queue.h - group commit: many requests share one durable commit.
 *
 * With synchronous=FULL every COMMIT costs an fsync (milliseconds on a
 * virtual disk), and SQLite has one writer at a time.  So writers do not
 * open their own transactions: a worker hands its writes to the committer
 * thread as a job (a function run on the committer's handle) and blocks.
 * The committer takes every pending job, runs them all inside one
 * BEGIN IMMEDIATE ... COMMIT, and wakes each worker once the commit (and
 * its fsync) is done, so "committed before answered" still holds.
 *
 * If a job fails (returns -1) or the commit fails, the batch is rolled
 * back and every job of it is run again alone in its own transaction, so
 * one bad job never costs the others.  A job must therefore be
 * re-runnable: it resets whatever it produced before doing its work.
 *
 * Two ways to hand in a job: cq_run blocks its caller until the commit;
 * cq_submit returns at once and the committer calls the job's done
 * function after the commit, so a server worker never waits on the fsync
 * (it parks the request instead: http_req_defer).
 */
#ifndef FLEETCA_SERVER_COMMIT_QUEUE_H
#define FLEETCA_SERVER_COMMIT_QUEUE_H

#include <stddef.h>

struct db;
struct commit_queue;

/* Runs inside the committer's open transaction.  0 to keep its writes,
 * -1 when the store failed (the transaction is then rolled back). */
typedef int (*cq_job_fn)(struct db *db, void *arg);

/*
 * The periodic job, for scheduled work (may be NULL): the committer runs
 * it every idle_s seconds, between batches when busy (so load cannot
 * starve it) and on a timer when not, each time in its own transaction.
 * It returns 0 when done, 1 when done with a bounded part and more is
 * due (it then runs again at once, taking turns with the queued
 * batches), -1 when the
 * store failed (rolled back; tried again next period).  It must keep
 * each run short: every queued job waits behind it.
 */
typedef int (*cq_idle_fn)(struct db *db, void *arg);

/*
 * Opens db_path on a new durable handle (synchronous=FULL, WAL
 * checkpointed every 10000 pages rather than 1000) and starts the
 * committer thread, named "committer".  max_batch caps the jobs per
 * transaction; idle (may be NULL) runs every idle_s seconds (60 when not
 * positive), the first time idle_s after the start.  Returns the queue
 * (cq_free) or NULL with err.
 */
struct commit_queue *cq_start(const char *db_path, size_t max_batch,
    cq_idle_fn idle, void *idle_arg, int idle_s, char *err, size_t errlen);

/* Stops the thread after the pending jobs are done, closes the handle. */
void cq_free(struct commit_queue *q);

/*
 * Runs fn(db, arg) in a group transaction and waits until it is durably
 * committed.  Returns 0 when committed, -1 when the job or the store
 * failed (nothing of this job was written).
 */
int cq_run(struct commit_queue *q, cq_job_fn fn, void *arg);

/* Told the outcome of a submitted job: result 0 when its writes are
 * durably committed, -1 when the job or the store failed (nothing of it
 * was written).  Runs on the committer thread: must not block, and should
 * be short (every job of the batch waits behind it). */
typedef void (*cq_done_fn)(void *arg, int result);

/*
 * Queues fn(db, arg) for the next group transaction and returns.  On 0,
 * done(arg, result) is called exactly once, on the committer thread,
 * after the batch's commit (pending jobs are still run when the queue is
 * freed).  -1 when the queue is stopping or out of memory: then neither
 * fn nor done is ever called and arg stays the caller's.
 */
int cq_submit(struct commit_queue *q, cq_job_fn fn, cq_done_fn done,
    void *arg);

#endif
