/*
 * trust.c - trust anchors and manifest import records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

enum {
	ST_TRUST_INSERT = ST__EXT_FIRST + 8, ST_TRUST_LIST,
	ST_MANIFEST_INSERT, ST_MANIFEST_COUNTS, ST_TRUST_EPOCH_BUMP,
	ST_TRUST_EPOCH_GET
};

void
db_trust_clear(struct db_trust *t)
{
	if (t == NULL)
		return;
	free(t->der);
	memset(t, 0, sizeof(*t));
}

int
db_trust_insert(struct db *db, const char *kind, const char *subject,
    const unsigned char sha256[DB_HASH_LEN], const unsigned char *der,
    size_t len, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_TRUST_INSERT,
	    "INSERT INTO trust_anchor(kind, subject, sha256, der, added_at) "
	    "VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sha256, DB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, der, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)db_now());
	rc = db_step_done(db, st);
	if (rc != DB_OK)
		return rc;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	st = db_stmt(db, ST_TRUST_EPOCH_BUMP,
	    "INSERT INTO meta(key, value) VALUES ('trust_epoch', 1) "
	    "ON CONFLICT(key) DO UPDATE SET value = value + 1");
	return st == NULL ? DB_ERROR : db_step_done(db, st);
}

int
db_trust_epoch(struct db *db, int64_t *epoch)
{
	sqlite3_stmt *st = db_stmt(db, ST_TRUST_EPOCH_GET,
	    "SELECT value FROM meta WHERE key = 'trust_epoch'");
	int rc;

	*epoch = 0;
	if (st == NULL)
		return DB_ERROR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*epoch = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? DB_OK :
	    db_status_from(db, rc);
}

int
db_trust_list(struct db *db, struct db_trust **out, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, ST_TRUST_LIST,
	    "SELECT id, kind, subject, sha256, der, added_at "
	    "FROM trust_anchor ORDER BY id");
	struct db_trust *a = NULL;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return DB_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_trust *t = db_array_push(&a, &cnt,
		    sizeof(*a));

		if (t == NULL)
			goto oom;
		t->id = sqlite3_column_int64(st, 0);
		db_col_strcpy(st, 1, t->kind, sizeof(t->kind));
		db_col_strcpy(st, 2, t->subject, sizeof(t->subject));
		if (sqlite3_column_bytes(st, 3) == DB_HASH_LEN)
			memcpy(t->sha256, sqlite3_column_blob(st, 3),
			    DB_HASH_LEN);
		if (db_col_blobdup(st, 4, &t->der, &t->der_len) != 0)
			goto oom;
		t->added_at = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = db_status_from(db, rc);
		goto fail;
	}
	*out = a;
	*n = cnt;
	return DB_OK;
oom:
	sqlite3_reset(st);
	snprintf(db->err, sizeof(db->err), "out of memory");
	rc = DB_ERROR;
fail:
	for (size_t i = 0; i < cnt; i++)
		db_trust_clear(&a[i]);
	free(a);
	return rc;
}

int
db_manifest_insert(struct db *db, const unsigned char sha256[DB_HASH_LEN],
    const char *source, int64_t total, int64_t ok, int64_t rejected,
    int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_MANIFEST_INSERT,
	    "INSERT INTO manifest_import(sha256, source, imported_at, "
	    "entries_total, entries_ok, entries_rejected) "
	    "VALUES (?, ?, ?, ?, ?, ?)");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_blob(st, 1, sha256, DB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)db_now());
	sqlite3_bind_int64(st, 4, total);
	sqlite3_bind_int64(st, 5, ok);
	sqlite3_bind_int64(st, 6, rejected);
	rc = db_step_done(db, st);
	if (rc == DB_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

int
db_manifest_update_counts(struct db *db, int64_t id, int64_t ok,
    int64_t rejected)
{
	sqlite3_stmt *st = db_stmt(db, ST_MANIFEST_COUNTS,
	    "UPDATE manifest_import SET entries_ok = ?, entries_rejected = ? "
	    "WHERE id = ?");

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, ok);
	sqlite3_bind_int64(st, 2, rejected);
	sqlite3_bind_int64(st, 3, id);
	return db_step_done(db, st);
}
