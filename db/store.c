/*
 * store.c - opening the database, the statement cache, transactions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "db/db_int.h"

static time_t
default_now(void)
{
	return time(NULL);
}

time_t (*db_now)(void) = default_now;

int
db_status_from(struct db *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return DB_OK;
	case SQLITE_CONSTRAINT:
		snprintf(db->err, sizeof(db->err), "%s",
		    sqlite3_errmsg(db->conn));
		return rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY ? DB_EXISTS : DB_ERROR;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(db->err, sizeof(db->err), "database is busy");
		return DB_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		snprintf(db->err, sizeof(db->err), "%s",
		    sqlite3_errmsg(db->conn));
		return DB_CORRUPT;
	default:
		snprintf(db->err, sizeof(db->err), "%s",
		    sqlite3_errmsg(db->conn));
		return DB_ERROR;
	}
}

sqlite3_stmt *
db_stmt(struct db *db, int id, const char *sql)
{
	sqlite3_stmt *st = db->stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(db->conn, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			snprintf(db->err, sizeof(db->err), "prepare: %s",
			    sqlite3_errmsg(db->conn));
			return NULL;
		}
		db->stmts[id] = st;
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return st;
}

int
db_step_done(struct db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(st);
		return DB_OK;
	}
	rc = sqlite3_extended_errcode(db->conn);
	sqlite3_reset(st);
	return db_status_from(db, rc);
}

char *
db_col_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s == NULL ? NULL : strdup((const char *)s);
}

void
db_col_strcpy(sqlite3_stmt *st, int col, char *dst, size_t dstlen)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, dstlen, "%s", s ? (const char *)s : "");
}

int
db_col_blobdup(sqlite3_stmt *st, int col, unsigned char **out, size_t *len)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	*out = NULL;
	*len = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	if ((*out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return 0;
}

void *
db_array_push(void *arrayp, size_t *n, size_t elt)
{
	unsigned char *old, *na;

	/* arrayp is the address of a typed array pointer: read and write it
	 * through memcpy so no object is accessed as void *. */
	memcpy(&old, arrayp, sizeof(old));
	if (*n >= SIZE_MAX / elt - 1 ||
	    (na = realloc(old, (*n + 1) * elt)) == NULL)
		return NULL;
	memcpy(arrayp, &na, sizeof(na));
	memset(na + *n * elt, 0, elt);
	return na + (*n)++ * elt;
}

static int
exec_simple(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int st = db_status_from(db, sqlite3_extended_errcode(db->conn));

		snprintf(db->err, sizeof(db->err), "%s", msg ? msg : "error");
		sqlite3_free(msg);
		return st == DB_OK ? DB_ERROR : st;
	}
	return DB_OK;
}

struct db *
db_open(const char *path, char *err, size_t errlen)
{
	struct db *db;
	int rc;

	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    db->conn ? sqlite3_errmsg(db->conn) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	/* Writers wait for each other rather than fail: the CLI may run
	 * while the server holds the write lock for a moment. */
	sqlite3_busy_timeout(db->conn, 10000);
	if (exec_simple(db, "PRAGMA journal_mode = WAL") != DB_OK ||
	    exec_simple(db, "PRAGMA foreign_keys = ON") != DB_OK ||
	    exec_simple(db, "PRAGMA synchronous = FULL") != DB_OK) {
		snprintf(err, errlen, "%s: %s", path, db->err);
		goto fail;
	}
	if (db_schema_migrate(db) != DB_OK) {
		snprintf(err, errlen, "%s: %s", path, db->err);
		goto fail;
	}
	return db;
fail:
	db_close(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->conn);
	free(db);
}

const char *
db_errmsg(struct db *db)
{
	return db->err;
}

int
db_set_durable(struct db *db, int full)
{
	return exec_simple(db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL");
}

int
db_set_wal_autocheckpoint(struct db *db, int pages)
{
	char sql[64];

	if (pages < 0) {
		snprintf(db->err, sizeof(db->err),
		    "wal_autocheckpoint: negative page count");
		return DB_ERROR;
	}
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d", pages);
	return exec_simple(db, sql);
}

int
db_begin(struct db *db)
{
	return exec_simple(db, "BEGIN IMMEDIATE");
}

int
db_commit(struct db *db)
{
	return exec_simple(db, "COMMIT");
}

int
db_rollback(struct db *db)
{
	if (sqlite3_get_autocommit(db->conn))
		return DB_OK;	/* nothing open: SQLite already rolled back */
	return exec_simple(db, "ROLLBACK");
}

int
db_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(db->conn);
}

int
db_revocation_epoch(struct db *db, int64_t *epoch)
{
	sqlite3_stmt *st = db_stmt(db, ST_EPOCH_GET,
	    "SELECT value FROM meta WHERE key = 'revocation_epoch'");
	int rc;

	*epoch = 0;
	if (st == NULL)
		return DB_ERROR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*epoch = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DB_OK : db_status_from(db, rc);
}

int
db_epoch_bump(struct db *db)
{
	sqlite3_stmt *st = db_stmt(db, ST_EPOCH_BUMP,
	    "UPDATE meta SET value = value + 1 WHERE key = 'revocation_epoch'");

	return st == NULL ? DB_ERROR : db_step_done(db, st);
}

/* ---- CAs ---------------------------------------------------------- */

void
db_ca_clear(struct db_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->der);
	memset(ca, 0, sizeof(*ca));
}

int
db_ca_insert(struct db *db, const char *name, const char *role, int active,
    const unsigned char *der, size_t len, const char *key_path, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_CA_INSERT,
	    "INSERT INTO ca(name, role, active, der, key_path, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, active != 0);
	sqlite3_bind_blob(st, 4, der, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, key_path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)db_now());
	rc = db_step_done(db, st);
	if (rc == DB_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

int
db_ca_list(struct db *db, struct db_ca **cas, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, ST_CA_LIST,
	    "SELECT id, name, role, active, der, key_path, created_at "
	    "FROM ca ORDER BY id");
	struct db_ca *a = NULL;
	size_t cnt = 0;
	int rc;

	*cas = NULL;
	*n = 0;
	if (st == NULL)
		return DB_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_ca *c = db_array_push(&a, &cnt, sizeof(*a));

		if (c == NULL)
			goto oom;
		c->id = sqlite3_column_int64(st, 0);
		db_col_strcpy(st, 1, c->name, sizeof(c->name));
		db_col_strcpy(st, 2, c->role, sizeof(c->role));
		c->active = sqlite3_column_int(st, 3);
		if (db_col_blobdup(st, 4, &c->der, &c->der_len) != 0)
			goto oom;
		db_col_strcpy(st, 5, c->key_path, sizeof(c->key_path));
		c->created_at = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = db_status_from(db, rc);
		goto fail;
	}
	*cas = a;
	*n = cnt;
	return DB_OK;
oom:
	sqlite3_reset(st);
	snprintf(db->err, sizeof(db->err), "out of memory");
	rc = DB_ERROR;
fail:
	for (size_t i = 0; a != NULL && i < cnt; i++)
		db_ca_clear(&a[i]);
	free(a);
	return rc;
}

int
db_ca_set_active(struct db *db, int64_t id, int active)
{
	sqlite3_stmt *st = db_stmt(db, ST_CA_SET_ACTIVE,
	    "UPDATE ca SET active = ? WHERE id = ?");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int(st, 1, active != 0);
	sqlite3_bind_int64(st, 2, id);
	rc = db_step_done(db, st);
	if (rc == DB_OK && sqlite3_changes(db->conn) == 0)
		return DB_NOTFOUND;
	return rc;
}
