/*
 * audit.c - the append-only, hash-chained audit log.
 *
 * Row hash = SHA-256(prev_hash || canonical(row)), where canonical(row) is
 *   id (8 bytes big endian) || ts (8 bytes big endian) ||
 *   field(actor) || field(action) || field(subject) || field(details)
 * and field(s) = 4-byte big-endian length || bytes, or 0xffffffff for a
 * NULL details.  Length prefixes make the encoding unambiguous, so no two
 * different rows share a canonical form.  The first row links to 32 zero
 * bytes.  The id of the newest row is also kept in meta('audit_last_id'),
 * so dropping rows off the end is caught too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db/db_int.h"

enum { ST_AUDIT_HEAD_SET = ST__EXT_FIRST, ST_AUDIT_HEAD_GET };

static void
put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static int
digest_field(EVP_MD_CTX *md, const char *s)
{
	unsigned char len[4];
	uint32_t n = s == NULL ? 0xffffffffu : (uint32_t)strlen(s);

	len[0] = (unsigned char)(n >> 24);
	len[1] = (unsigned char)(n >> 16);
	len[2] = (unsigned char)(n >> 8);
	len[3] = (unsigned char)n;
	if (EVP_DigestUpdate(md, len, 4) != 1)
		return 0;
	return s == NULL || EVP_DigestUpdate(md, s, n) == 1;
}

/* Computes the row hash into out; returns 1 on success. */
static int
audit_hash(const unsigned char prev[DB_HASH_LEN], int64_t id, int64_t ts,
    const char *actor, const char *action, const char *subject,
    const char *details, unsigned char out[DB_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char nums[16];
	unsigned int olen = 0;
	int ok = 0;

	if (md == NULL)
		return 0;
	put_u64(nums, (uint64_t)id);
	put_u64(nums + 8, (uint64_t)ts);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, prev, DB_HASH_LEN) == 1 &&
	    EVP_DigestUpdate(md, nums, sizeof(nums)) == 1 &&
	    digest_field(md, actor) && digest_field(md, action) &&
	    digest_field(md, subject) && digest_field(md, details) &&
	    EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == DB_HASH_LEN)
		ok = 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static int
audit_append_locked(struct db *db, const char *actor, const char *action,
    const char *subject, const char *details)
{
	unsigned char prev[DB_HASH_LEN] = { 0 }, hash[DB_HASH_LEN];
	int64_t id = 1, ts = (int64_t)db_now();
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_AUDIT_LAST,
	    "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
	if (st == NULL)
		return DB_ERROR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0) + 1;
		if (sqlite3_column_bytes(st, 1) == DB_HASH_LEN)
			memcpy(prev, sqlite3_column_blob(st, 1), DB_HASH_LEN);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_status_from(db, rc);
	if (!audit_hash(prev, id, ts, actor, action, subject, details, hash)) {
		snprintf(db->err, sizeof(db->err), "audit: SHA-256 failed");
		return DB_ERROR;
	}
	st = db_stmt(db, ST_AUDIT_INSERT,
	    "INSERT INTO audit(id, ts, actor, action, subject, details, "
	    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC);
	if (details != NULL)
		sqlite3_bind_text(st, 6, details, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_blob(st, 7, prev, DB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, hash, DB_HASH_LEN, SQLITE_STATIC);
	if ((rc = db_step_done(db, st)) != DB_OK)
		return rc;
	st = db_stmt(db, ST_AUDIT_HEAD_SET,
	    "INSERT INTO meta(key, value) VALUES ('audit_last_id', ?) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	if (st == NULL)
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return db_step_done(db, st);
}

int
db_audit_append(struct db *db, const char *actor, const char *action,
    const char *subject, const char *details)
{
	int own, rc;

	if (actor == NULL || action == NULL || subject == NULL) {
		snprintf(db->err, sizeof(db->err), "audit: missing field");
		return DB_ERROR;
	}
	/* Join the caller's transaction if one is open: the audit row then
	 * commits or rolls back with the change it records. */
	own = sqlite3_get_autocommit(db->conn);
	if (own && (rc = db_begin(db)) != DB_OK)
		return rc;
	rc = audit_append_locked(db, actor, action, subject, details);
	if (own) {
		if (rc == DB_OK)
			rc = db_commit(db);
		if (rc != DB_OK)
			db_rollback(db);
	}
	return rc;
}

static void
row_free(struct db_audit_row *r)
{
	free(r->actor);
	free(r->action);
	free(r->subject);
	free(r->details);
}

int
db_audit_foreach(struct db *db, db_audit_fn fn, void *arg)
{
	sqlite3_stmt *st = db_stmt(db, ST_AUDIT_ALL,
	    "SELECT id, ts, actor, action, subject, details, prev_hash, hash "
	    "FROM audit ORDER BY id");
	int rc, stop = 0;

	if (st == NULL)
		return DB_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_audit_row r;

		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(st, 0);
		r.ts = sqlite3_column_int64(st, 1);
		r.actor = db_col_strdup(st, 2);
		r.action = db_col_strdup(st, 3);
		r.subject = db_col_strdup(st, 4);
		r.details = db_col_strdup(st, 5);
		/* A hash column of the wrong size stays zero: verify flags it. */
		if (sqlite3_column_bytes(st, 6) == DB_HASH_LEN)
			memcpy(r.prev_hash, sqlite3_column_blob(st, 6),
			    DB_HASH_LEN);
		if (sqlite3_column_bytes(st, 7) == DB_HASH_LEN)
			memcpy(r.hash, sqlite3_column_blob(st, 7), DB_HASH_LEN);
		stop = fn(arg, &r);
		row_free(&r);
		if (stop != 0)
			break;
	}
	sqlite3_reset(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? DB_OK : db_status_from(db, rc);
}

struct verify_state {
	unsigned char prev[DB_HASH_LEN];
	int64_t last_id;
	int64_t bad_id;
	char why[160];
};

static int
verify_row(void *arg, const struct db_audit_row *r)
{
	struct verify_state *vs = arg;
	unsigned char h[DB_HASH_LEN];

	if (r->id != vs->last_id + 1) {
		vs->bad_id = r->id;
		snprintf(vs->why, sizeof(vs->why),
		    "row %lld follows row %lld: rows are missing",
		    (long long)r->id, (long long)vs->last_id);
		return 1;
	}
	if (memcmp(r->prev_hash, vs->prev, DB_HASH_LEN) != 0) {
		vs->bad_id = r->id;
		snprintf(vs->why, sizeof(vs->why),
		    "row %lld does not link to the previous row's hash",
		    (long long)r->id);
		return 1;
	}
	if (!audit_hash(r->prev_hash, r->id, r->ts, r->actor ? r->actor : "",
	    r->action ? r->action : "", r->subject ? r->subject : "",
	    r->details, h) || memcmp(h, r->hash, DB_HASH_LEN) != 0) {
		vs->bad_id = r->id;
		snprintf(vs->why, sizeof(vs->why),
		    "row %lld content does not match its hash",
		    (long long)r->id);
		return 1;
	}
	memcpy(vs->prev, r->hash, DB_HASH_LEN);
	vs->last_id = r->id;
	return 0;
}

int
db_audit_verify(struct db *db, int64_t *bad_id, char *why, size_t len)
{
	struct verify_state vs;
	sqlite3_stmt *st;
	int64_t head = 0;
	int rc;

	memset(&vs, 0, sizeof(vs));
	*bad_id = 0;
	snprintf(why, len, "ok");
	rc = db_audit_foreach(db, verify_row, &vs);
	if (rc == 1) {
		*bad_id = vs.bad_id;
		snprintf(why, len, "%s", vs.why);
		return DB_CORRUPT;
	}
	if (rc != DB_OK)
		return rc;
	st = db_stmt(db, ST_AUDIT_HEAD_GET,
	    "SELECT value FROM meta WHERE key = 'audit_last_id'");
	if (st == NULL)
		return DB_ERROR;
	if (sqlite3_step(st) == SQLITE_ROW)
		head = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (head != vs.last_id) {
		*bad_id = vs.last_id + 1;
		snprintf(why, len, "log ends at row %lld but row %lld was "
		    "written: rows were removed from the end",
		    (long long)vs.last_id, (long long)head);
		return DB_CORRUPT;
	}
	return DB_OK;
}
