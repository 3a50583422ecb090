/*
 * db_int.h - private to db/: the connection struct and statement cache.
 */
#ifndef FLEETCA_DB_INT_H
#define FLEETCA_DB_INT_H

#include <sqlite3.h>

#include "db/db.h"

/* Every statement the store runs has a slot here; they are prepared on
 * first use and kept for the life of the handle. */
enum db_stmt_id {
	ST_EPOCH_GET, ST_EPOCH_BUMP,
	ST_CA_INSERT, ST_CA_LIST, ST_CA_SET_ACTIVE,
	ST_CERT_INSERT, ST_CERT_BY_SERIAL, ST_CERT_SERIAL_EXISTS,
	ST_CERT_LIST_DEVICE, ST_CERT_FOREACH_ALL, ST_CERT_FOREACH_CA,
	ST_CERT_FOREACH_REV_ALL, ST_CERT_FOREACH_REV_CA,
	ST_CERT_REVOKE, ST_CERT_UNREVOKE, ST_CERT_DEVICE_KEY, ST_CERT_BY_ID, ST_CERT_STATUS,
	ST_CRL_NEXT, ST_CRL_INSERT, ST_CRL_LATEST,
	ST_AUDIT_LAST, ST_AUDIT_INSERT, ST_AUDIT_ALL,
	ST_CERT_REVOKE_VALID, ST_CERT_WHY_SKIPPED, ST_CERT_SERIAL_BY_ID,
	ST_SCHED_INSERT, ST_SCHED_DUE, ST_SCHED_DONE,
	ST__EXT_FIRST,		/* slots for other db/ files */
	ST__MAX = ST__EXT_FIRST + 64
};

struct db {
	sqlite3 *conn;
	sqlite3_stmt *stmts[ST__MAX];
	char err[256];
};

/* Returns the cached statement for id, reset and with bindings cleared,
 * preparing sql on first use; NULL on error (db->err filled). */
sqlite3_stmt *db_stmt(struct db *db, int id, const char *sql);
/* Maps an SQLite result code to enum db_status, saving the message. */
int db_status_from(struct db *db, int rc);
/* Executes a statement with no result rows; returns DB_OK or error. */
int db_step_done(struct db *db, sqlite3_stmt *st);
/* Copies a column as a malloc'd NUL-terminated string (NULL stays NULL). */
char *db_col_strdup(sqlite3_stmt *st, int col);
void db_col_strcpy(sqlite3_stmt *st, int col, char *dst, size_t dstlen);
/* Copies a BLOB column into a malloc'd buffer (NULL and 0 for SQL NULL);
 * 0, or -1 when out of memory. */
int db_col_blobdup(sqlite3_stmt *st, int col, unsigned char **out,
    size_t *len);
/* Grows the array whose pointer is at arrayp (a struct x **), holding *n
 * elements of size elt, by one zeroed element and returns it; NULL when
 * out of memory (the array is left as it was). */
void *db_array_push(void *arrayp, size_t *n, size_t elt);
/* Bumps the revocation epoch inside the current transaction. */
int db_epoch_bump(struct db *db);
int db_schema_migrate(struct db *db);

#endif
