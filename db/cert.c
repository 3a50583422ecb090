/*
 * cert.c - issued certificates and their revocations.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define CERT_COLS \
	"c.id, c.ca_id, c.serial, IFNULL(c.device_id, 0), c.profile, " \
	"c.subject, c.not_before, c.not_after, c.issued_at, " \
	"r.revoked_at, r.reason, IFNULL(r.invalidity_date, 0), c.spki_sha256"
#define CERT_NCOLS 13
/* The same shape from the revocation table alone (what a CRL needs):
 * profile, subject and validity come back empty. */
#define REV_COLS \
	"r.cert_id, r.ca_id, r.serial, 0, '', '', 0, 0, 0, " \
	"r.revoked_at, r.reason, IFNULL(r.invalidity_date, 0), NULL"
#define CERT_FROM \
	" FROM certificate c LEFT JOIN revocation r ON r.cert_id = c.id"

void
db_cert_clear(struct db_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

/* Fills c from a row laid out as CERT_COLS (der not touched). */
static void
cert_from_row(sqlite3_stmt *st, struct db_cert *c)
{
	int sl = sqlite3_column_bytes(st, 2);

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->ca_id = sqlite3_column_int64(st, 1);
	if (sl > DB_SERIAL_MAX)
		sl = DB_SERIAL_MAX;
	memcpy(c->serial, sqlite3_column_blob(st, 2), (size_t)sl);
	c->serial_len = (size_t)sl;
	c->device_id = sqlite3_column_int64(st, 3);
	db_col_strcpy(st, 4, c->profile, sizeof(c->profile));
	db_col_strcpy(st, 5, c->subject, sizeof(c->subject));
	c->not_before = sqlite3_column_int64(st, 6);
	c->not_after = sqlite3_column_int64(st, 7);
	c->issued_at = sqlite3_column_int64(st, 8);
	if (sqlite3_column_type(st, 9) != SQLITE_NULL) {
		c->revoked = 1;
		c->revoked_at = sqlite3_column_int64(st, 9);
		c->reason = sqlite3_column_int(st, 10);
		c->invalidity_date = sqlite3_column_int64(st, 11);
	}
	if (sqlite3_column_bytes(st, 12) == DB_HASH_LEN)
		memcpy(c->spki_sha256, sqlite3_column_blob(st, 12), DB_HASH_LEN);
}

static int
hash_is_zero(const unsigned char h[DB_HASH_LEN])
{
	unsigned char acc = 0;

	for (int i = 0; i < DB_HASH_LEN; i++)
		acc |= h[i];
	return acc == 0;
}

int
db_cert_device_has_key(struct db *db, int64_t device_id,
    const unsigned char spki_sha256[DB_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_DEVICE_KEY,
	    /* The SPKI hash is nearly unique; "+" keeps SQLite from
	     * choosing the device index and walking every certificate of
	     * the device instead. */
	    "SELECT 1 FROM certificate c WHERE +c.device_id = ? AND "
	    "c.spki_sha256 = ? AND c.not_after > ? AND NOT EXISTS "
	    "(SELECT 1 FROM revocation r WHERE r.cert_id = c.id)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_blob(st, 2, spki_sha256, DB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_EXISTS;
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_cert_insert(struct db *db, const struct db_cert *c, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_INSERT,
	    "INSERT INTO certificate(ca_id, serial, device_id, profile, "
	    "subject, not_before, not_after, issued_at, der, spki_sha256) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	if (c->serial_len == 0 || c->serial_len > DB_SERIAL_MAX ||
	    c->der == NULL) {
		snprintf(db->err, sizeof(db->err), "bad certificate row");
		return DB_ERROR;
	}
	sqlite3_bind_int64(st, 1, c->ca_id);
	sqlite3_bind_blob(st, 2, c->serial, (int)c->serial_len, SQLITE_STATIC);
	if (c->device_id != 0)
		sqlite3_bind_int64(st, 3, c->device_id);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, c->profile, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, c->not_before);
	sqlite3_bind_int64(st, 7, c->not_after);
	sqlite3_bind_int64(st, 8, c->issued_at ? c->issued_at :
	    (int64_t)db_now());
	sqlite3_bind_blob(st, 9, c->der, (int)c->der_len, SQLITE_STATIC);
	if (!hash_is_zero(c->spki_sha256))
		sqlite3_bind_blob(st, 10, c->spki_sha256, DB_HASH_LEN,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	rc = db_step_done(db, st);
	if (rc == DB_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

static int cert_get_one(struct db *db, sqlite3_stmt *st, struct db_cert *c);

int
db_cert_get_by_serial(struct db *db, const unsigned char *serial, size_t len,
    struct db_cert *c)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_BY_SERIAL,
	    "SELECT " CERT_COLS ", c.der" CERT_FROM " WHERE c.serial = ?");

	memset(c, 0, sizeof(*c));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_blob(st, 1, serial, (int)len, SQLITE_STATIC);
	return cert_get_one(db, st, c);
}

int
db_cert_status_by_serial(struct db *db, const unsigned char *serial,
    size_t len, struct db_cert *c)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_STATUS,
	    "SELECT " CERT_COLS CERT_FROM " WHERE c.serial = ?");
	int rc;

	memset(c, 0, sizeof(*c));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_blob(st, 1, serial, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cert_from_row(st, c);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_cert_get_by_id(struct db *db, int64_t id, struct db_cert *c)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_BY_ID,
	    "SELECT " CERT_COLS ", c.der" CERT_FROM " WHERE c.id = ?");

	memset(c, 0, sizeof(*c));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return cert_get_one(db, st, c);
}

/* Steps a one-row certificate query whose last column is der. */
static int
cert_get_one(struct db *db, sqlite3_stmt *st, struct db_cert *c)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		cert_from_row(st, c);
		if (db_col_blobdup(st, CERT_NCOLS, &c->der, &c->der_len) != 0) {
			sqlite3_reset(st);
			snprintf(db->err, sizeof(db->err), "out of memory");
			return DB_ERROR;
		}
		sqlite3_reset(st);
		return DB_OK;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_cert_serial_exists(struct db *db, const unsigned char *serial, size_t len)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_SERIAL_EXISTS,
	    "SELECT 1 FROM certificate WHERE serial = ?");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_blob(st, 1, serial, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_EXISTS;
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_cert_serial_by_id(struct db *db, int64_t id,
    unsigned char serial[DB_SERIAL_MAX], size_t *len)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_SERIAL_BY_ID,
	    "SELECT serial FROM certificate WHERE id = ?");
	int rc, sl;

	*len = 0;
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((sl = sqlite3_column_bytes(st, 0)) > DB_SERIAL_MAX)
			sl = DB_SERIAL_MAX;
		if (sl > 0)
			memcpy(serial, sqlite3_column_blob(st, 0), (size_t)sl);
		*len = (size_t)sl;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_cert_list_device(struct db *db, int64_t device_id, struct db_cert **certs,
    size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_LIST_DEVICE,
	    "SELECT " CERT_COLS CERT_FROM " WHERE c.device_id = ? "
	    "ORDER BY c.id DESC");
	struct db_cert *a = NULL;
	size_t cnt = 0;
	int rc;

	*certs = NULL;
	*n = 0;
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_cert *c = db_array_push(&a, &cnt,
		    sizeof(*a));

		if (c == NULL) {
			sqlite3_reset(st);
			free(a);
			snprintf(db->err, sizeof(db->err), "out of memory");
			return DB_ERROR;
		}
		cert_from_row(st, c);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(a);
		return db_status_from(db, rc);
	}
	*certs = a;
	*n = cnt;
	return DB_OK;
}

int
db_cert_foreach(struct db *db, int64_t ca_id, int only_revoked, db_cert_fn fn,
    void *arg)
{
	static const char *const sql[4] = {
		"SELECT " CERT_COLS CERT_FROM " ORDER BY c.id",
		"SELECT " CERT_COLS CERT_FROM " WHERE c.ca_id = ? ORDER BY c.id",
		"SELECT " REV_COLS " FROM revocation r ORDER BY r.cert_id",
		"SELECT " REV_COLS " FROM revocation r WHERE r.ca_id = ? "
		    "ORDER BY r.cert_id",
	};
	static const int ids[4] = { ST_CERT_FOREACH_ALL, ST_CERT_FOREACH_CA,
		ST_CERT_FOREACH_REV_ALL, ST_CERT_FOREACH_REV_CA };
	int k = (only_revoked ? 2 : 0) + (ca_id != 0 ? 1 : 0);
	sqlite3_stmt *st = db_stmt(db, ids[k], sql[k]);
	struct db_cert c;
	int rc, stop = 0;

	if (st == NULL)
		return DB_ERROR;
	if (ca_id != 0)
		sqlite3_bind_int64(st, 1, ca_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cert_from_row(st, &c);
		if ((stop = fn(arg, &c)) != 0)
			break;
	}
	sqlite3_reset(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? DB_OK : db_status_from(db, rc);
}

int
db_cert_revoke(struct db *db, int64_t cert_id, int64_t when, int reason,
    int64_t invalidity_date)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_CERT_REVOKE,
	    "INSERT INTO revocation(cert_id, ca_id, serial, revoked_at, "
	    "reason, invalidity_date) SELECT id, ca_id, serial, ?2, ?3, ?4 "
	    "FROM certificate WHERE id = ?1 "
	    "ON CONFLICT(cert_id) DO UPDATE SET reason = excluded.reason, "
	    "invalidity_date = excluded.invalidity_date");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, cert_id);
	sqlite3_bind_int64(st, 2, when);
	sqlite3_bind_int(st, 3, reason);
	if (invalidity_date != 0)
		sqlite3_bind_int64(st, 4, invalidity_date);
	else
		sqlite3_bind_null(st, 4);
	if ((rc = db_step_done(db, st)) != DB_OK)
		return rc;
	/* The INSERT ... SELECT wrote nothing: no such certificate. */
	if (sqlite3_changes(db->conn) == 0)
		return DB_NOTFOUND;
	return db_epoch_bump(db);
}

int
db_cert_unrevoke(struct db *db, int64_t cert_id)
{
	sqlite3_stmt *st = db_stmt(db, ST_CERT_UNREVOKE,
	    "DELETE FROM revocation WHERE cert_id = ?");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, cert_id);
	if ((rc = db_step_done(db, st)) != DB_OK)
		return rc;
	if (sqlite3_changes(db->conn) == 0)
		return DB_NOTFOUND;
	return db_epoch_bump(db);
}

/*
 * Revokes cert_id only while it still counts: unrevoked and not expired at
 * when.  One INSERT ... SELECT does the check and the write, so the
 * common case costs one statement; only a skipped row costs a second
 * read, to say why.
 */
int
db_cert_revoke_valid(struct db *db, int64_t cert_id, int64_t when, int reason,
    enum db_revoke_outcome *outcome)
{
	sqlite3_stmt *st;
	int rc;

	*outcome = DB_REVOKE_NOT_FOUND;
	st = db_stmt(db, ST_CERT_REVOKE_VALID,
	    "INSERT INTO revocation(cert_id, ca_id, serial, revoked_at, "
	    "reason) SELECT c.id, c.ca_id, c.serial, ?2, ?3 "
	    "FROM certificate c WHERE c.id = ?1 AND c.not_after > ?2 AND "
	    "NOT EXISTS (SELECT 1 FROM revocation r WHERE r.cert_id = c.id)");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, cert_id);
	sqlite3_bind_int64(st, 2, when);
	sqlite3_bind_int(st, 3, reason);
	if ((rc = db_step_done(db, st)) != DB_OK)
		return rc;
	if (sqlite3_changes(db->conn) == 1) {
		*outcome = DB_REVOKE_DONE;
		return db_epoch_bump(db);
	}
	st = db_stmt(db, ST_CERT_WHY_SKIPPED,
	    "SELECT r.cert_id IS NOT NULL FROM certificate c "
	    "LEFT JOIN revocation r ON r.cert_id = c.id WHERE c.id = ?");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, cert_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*outcome = sqlite3_column_int(st, 0) ? DB_REVOKE_WAS_REVOKED :
		    DB_REVOKE_EXPIRED;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? DB_OK :
	    db_status_from(db, rc);
}

const char *
db_revoke_outcome_name(enum db_revoke_outcome o)
{
	switch (o) {
	case DB_REVOKE_DONE:
		return "revoked";
	case DB_REVOKE_WAS_REVOKED:
		return "already_revoked";
	case DB_REVOKE_EXPIRED:
		return "expired";
	case DB_REVOKE_NOT_FOUND:
		break;
	}
	return "no_such_certificate";
}

/* ---- scheduled events --------------------------------------------- */

void
db_sched_clear(struct db_sched *e)
{
	if (e == NULL)
		return;
	free(e->params);
	memset(e, 0, sizeof(*e));
}

int
db_sched_insert(struct db *db, int64_t device_id, const char *action,
    const char *params, int64_t due_at, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_SCHED_INSERT,
	    "INSERT INTO scheduled_event(device_id, action, params, due_at) "
	    "VALUES (?, ?, ?, ?)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	if (action == NULL || action[0] == '\0') {
		snprintf(db->err, sizeof(db->err), "scheduled event: no action");
		return DB_ERROR;
	}
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	if (params != NULL)
		sqlite3_bind_text(st, 3, params, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, due_at);
	rc = db_step_done(db, st);
	if (rc == DB_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

int
db_sched_due(struct db *db, const char *action, int64_t now, size_t max,
    struct db_sched **evs, size_t *n)
{
	/* The partial index scheduled_due holds exactly the pending rows,
	 * ordered by due_at: this reads max of them and no more, however
	 * many events were ever done. */
	sqlite3_stmt *st = db_stmt(db, ST_SCHED_DUE,
	    "SELECT id, device_id, action, params, due_at "
	    "FROM scheduled_event INDEXED BY scheduled_due "
	    "WHERE done_at IS NULL AND due_at <= ?1 AND action = ?2 "
	    "ORDER BY due_at, id LIMIT ?3");
	struct db_sched *a = NULL;
	size_t cnt = 0;
	int rc;

	*evs = NULL;
	*n = 0;
	if (st == NULL)
		return DB_ERROR;
	if (action == NULL) {
		snprintf(db->err, sizeof(db->err), "scheduled event: no action");
		return DB_ERROR;
	}
	if (max == 0)
		return DB_OK;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, max > INT32_MAX ? INT32_MAX : (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_sched *e = db_array_push(&a, &cnt, sizeof(*a));

		if (e == NULL)
			goto oom;
		e->id = sqlite3_column_int64(st, 0);
		e->device_id = sqlite3_column_int64(st, 1);
		db_col_strcpy(st, 2, e->action, sizeof(e->action));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
		    (e->params = db_col_strdup(st, 3)) == NULL)
			goto oom;
		e->due_at = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = db_status_from(db, rc);
		goto fail;
	}
	*evs = a;
	*n = cnt;
	return DB_OK;
oom:
	sqlite3_reset(st);
	snprintf(db->err, sizeof(db->err), "out of memory");
	rc = DB_ERROR;
fail:
	for (size_t i = 0; a != NULL && i < cnt; i++)
		db_sched_clear(&a[i]);
	free(a);
	return rc;
}

int
db_sched_done(struct db *db, int64_t id, int64_t done_at, const char *result)
{
	sqlite3_stmt *st = db_stmt(db, ST_SCHED_DONE,
	    "UPDATE scheduled_event SET done_at = ?, result = ? "
	    "WHERE id = ? AND done_at IS NULL");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, done_at);
	if (result != NULL)
		sqlite3_bind_text(st, 2, result, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, id);
	rc = db_step_done(db, st);
	if (rc == DB_OK && sqlite3_changes(db->conn) == 0)
		return DB_NOTFOUND;
	return rc;
}

/* ---- CRLs --------------------------------------------------------- */

int
db_crl_next_number(struct db *db, int64_t ca_id, int64_t *number)
{
	sqlite3_stmt *st = db_stmt(db, ST_CRL_NEXT,
	    "SELECT IFNULL(MAX(number), 0) + 1 FROM crl WHERE ca_id = ?");
	int rc;

	*number = 0;
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, ca_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*number = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DB_OK : db_status_from(db, rc);
}

int
db_crl_insert(struct db *db, int64_t ca_id, int64_t number, int is_delta,
    int64_t base_number, int64_t this_update, int64_t next_update,
    const unsigned char *der, size_t len)
{
	sqlite3_stmt *st = db_stmt(db, ST_CRL_INSERT,
	    "INSERT INTO crl(ca_id, number, is_delta, base_number, "
	    "this_update, next_update, der) VALUES (?, ?, ?, ?, ?, ?, ?)");

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, ca_id);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_int(st, 3, is_delta != 0);
	if (is_delta)
		sqlite3_bind_int64(st, 4, base_number);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, this_update);
	sqlite3_bind_int64(st, 6, next_update);
	sqlite3_bind_blob(st, 7, der, (int)len, SQLITE_STATIC);
	return db_step_done(db, st);
}

int
db_crl_latest(struct db *db, int64_t ca_id, int is_delta, int64_t *number,
    unsigned char **der, size_t *len)
{
	sqlite3_stmt *st = db_stmt(db, ST_CRL_LATEST,
	    "SELECT number, der FROM crl WHERE ca_id = ? AND is_delta = ? "
	    "ORDER BY number DESC LIMIT 1");
	int rc;

	*der = NULL;
	*len = 0;
	*number = 0;
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, ca_id);
	sqlite3_bind_int(st, 2, is_delta != 0);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*number = sqlite3_column_int64(st, 0);
		rc = db_col_blobdup(st, 1, der, len) == 0 ? DB_OK : DB_ERROR;
		sqlite3_reset(st);
		if (rc != DB_OK)
			snprintf(db->err, sizeof(db->err), "out of memory");
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}
