/*
 * device.c - the device registry rows and their key slots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

enum {
	ST_DEV_INSERT = ST__EXT_FIRST + 16, ST_DEV_KEY_INSERT, ST_DEV_KEY_GET,
	ST_DEV_GET, ST_DEV_GET_ID, ST_DEV_SET_STATE, ST_DEV_SET_STATE_OWNER,
	ST_DEV_LIST, ST_DEV_GET_IDEVID, ST_DEV_BRIEF
};

#define DEV_COLS \
	"id, unique_id, IFNULL(model, ''), IFNULL(part_number, ''), " \
	"IFNULL(provisioner, ''), IFNULL(provisioned_at, 0), " \
	"IFNULL(manifest_id, 0), idevid_sha256, state, IFNULL(owner, ''), " \
	"created_at, updated_at"

void
db_device_clear(struct db_device *d)
{
	if (d == NULL)
		return;
	free(d->idevid_der);
	free(d->chain_der);
	memset(d, 0, sizeof(*d));
}

static void
dev_from_row(sqlite3_stmt *st, struct db_device *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	db_col_strcpy(st, 1, d->uid, sizeof(d->uid));
	db_col_strcpy(st, 2, d->model, sizeof(d->model));
	db_col_strcpy(st, 3, d->part_number, sizeof(d->part_number));
	db_col_strcpy(st, 4, d->provisioner, sizeof(d->provisioner));
	d->provisioned_at = sqlite3_column_int64(st, 5);
	d->manifest_id = sqlite3_column_int64(st, 6);
	if (sqlite3_column_bytes(st, 7) == DB_HASH_LEN)
		memcpy(d->idevid_sha256, sqlite3_column_blob(st, 7),
		    DB_HASH_LEN);
	db_col_strcpy(st, 8, d->state, sizeof(d->state));
	db_col_strcpy(st, 9, d->owner, sizeof(d->owner));
	d->created_at = sqlite3_column_int64(st, 10);
	d->updated_at = sqlite3_column_int64(st, 11);
}

int
db_device_insert(struct db *db, const struct db_device *d, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_INSERT,
	    "INSERT INTO device(unique_id, model, part_number, provisioner, "
	    "provisioned_at, manifest_id, idevid_der, idevid_sha256, "
	    "chain_der, state, owner, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'registered', NULL, ?, ?)");
	int64_t now = (int64_t)db_now();
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_text(st, 1, d->uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->part_number, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->provisioner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, d->provisioned_at);
	if (d->manifest_id)
		sqlite3_bind_int64(st, 6, d->manifest_id);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_blob(st, 7, d->idevid_der, (int)d->idevid_len,
	    SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, d->idevid_sha256, DB_HASH_LEN, SQLITE_STATIC);
	if (d->chain_der)
		sqlite3_bind_blob(st, 9, d->chain_der, (int)d->chain_len,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	sqlite3_bind_int64(st, 10, now);
	sqlite3_bind_int64(st, 11, now);
	rc = db_step_done(db, st);
	if (rc == DB_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

int
db_device_key_insert(struct db *db, int64_t device_id, const char *slot,
    const unsigned char *spki, size_t len)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_KEY_INSERT,
	    "INSERT INTO device_key(device_id, slot, spki_der) VALUES (?, ?, ?)");

	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_text(st, 2, slot, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, spki, (int)len, SQLITE_STATIC);
	return db_step_done(db, st);
}

int
db_device_key_get(struct db *db, int64_t device_id, const char *slot,
    unsigned char **spki, size_t *len)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_KEY_GET,
	    "SELECT spki_der FROM device_key WHERE device_id = ? AND slot = ?");
	int rc;

	*spki = NULL;
	*len = 0;
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_text(st, 2, slot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_blobdup(st, 0, spki, len) == 0 ? DB_OK : DB_ERROR;
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

static int
get_one(struct db *db, sqlite3_stmt *st, struct db_device *d)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		dev_from_row(st, d);
		if (db_col_blobdup(st, 12, &d->idevid_der, &d->idevid_len) != 0 ||
		    db_col_blobdup(st, 13, &d->chain_der, &d->chain_len) != 0) {
			sqlite3_reset(st);
			db_device_clear(d);
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
db_device_get(struct db *db, const char *uid, struct db_device *d)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_GET, "SELECT " DEV_COLS
	    ", idevid_der, chain_der FROM device WHERE unique_id = ?");

	memset(d, 0, sizeof(*d));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	return get_one(db, st, d);
}

int
db_device_get_by_id(struct db *db, int64_t id, struct db_device *d)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_GET_ID, "SELECT " DEV_COLS
	    ", idevid_der, chain_der FROM device WHERE id = ?");

	memset(d, 0, sizeof(*d));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, d);
}

int
db_device_brief_by_id(struct db *db, int64_t id, struct db_device *d)
{
	/* Only what an issuing transaction re-checks: no blobs copied and
	 * no columns decoded that nobody reads there. */
	sqlite3_stmt *st = db_stmt(db, ST_DEV_BRIEF,
	    "SELECT unique_id, state, IFNULL(owner, '') FROM device "
	    "WHERE id = ?");
	int rc;

	memset(d, 0, sizeof(*d));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		d->id = id;
		db_col_strcpy(st, 0, d->uid, sizeof(d->uid));
		db_col_strcpy(st, 1, d->state, sizeof(d->state));
		db_col_strcpy(st, 2, d->owner, sizeof(d->owner));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	return rc == SQLITE_DONE ? DB_NOTFOUND : db_status_from(db, rc);
}

int
db_device_get_by_idevid(struct db *db, const unsigned char sha256[DB_HASH_LEN],
    struct db_device *d)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_GET_IDEVID, "SELECT " DEV_COLS
	    ", idevid_der, chain_der FROM device WHERE idevid_sha256 = ?");

	memset(d, 0, sizeof(*d));
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_blob(st, 1, sha256, DB_HASH_LEN, SQLITE_STATIC);
	return get_one(db, st, d);
}

int
db_device_set_state(struct db *db, int64_t id, const char *state,
    const char *owner)
{
	sqlite3_stmt *st;
	int rc;

	if (owner != NULL)
		st = db_stmt(db, ST_DEV_SET_STATE_OWNER,
		    "UPDATE device SET state = ?1, updated_at = ?2, "
		    "owner = NULLIF(?4, '') WHERE id = ?3");
	else
		st = db_stmt(db, ST_DEV_SET_STATE,
		    "UPDATE device SET state = ?1, updated_at = ?2 "
		    "WHERE id = ?3");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)db_now());
	sqlite3_bind_int64(st, 3, id);
	if (owner != NULL)
		sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
	rc = db_step_done(db, st);
	if (rc == DB_OK && sqlite3_changes(db->conn) == 0)
		return DB_NOTFOUND;
	return rc;
}

int
db_device_foreach(struct db *db, const char *state, const char *owner,
    db_device_fn fn, void *arg)
{
	sqlite3_stmt *st = db_stmt(db, ST_DEV_LIST, "SELECT " DEV_COLS
	    " FROM device WHERE (?1 IS NULL OR state = ?1) AND "
	    "(?2 IS NULL OR owner = ?2) ORDER BY unique_id");
	struct db_device d;
	int rc, stop = 0;

	if (st == NULL)
		return DB_ERROR;
	if (state)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (owner)
		sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dev_from_row(st, &d);
		if ((stop = fn(arg, &d)) != 0)
			break;
	}
	sqlite3_reset(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? DB_OK : db_status_from(db, rc);
}
