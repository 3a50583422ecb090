/*
 * schema.c - the SQLite schema and its forward migrations.
 *
 * PRAGMA user_version holds the schema version.  migrations[i] brings a
 * database from version i to i+1; each runs in its own transaction with
 * the version bump, so a crash mid-migration leaves the old version.
 * Never edit a released migration: append a new one.
 */
#include <stdio.h>

#include "db/db_int.h"

static const char *const migrations[] = {
	/* 0 -> 1: initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta(key, value) VALUES ('revocation_epoch', 0);"
	"CREATE TABLE ca ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN ('root', 'issuing')),"
	"  active INTEGER NOT NULL DEFAULT 1,"
	"  der BLOB NOT NULL,"
	"  key_path TEXT,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE trust_anchor ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('manufacturer_root',"
	"    'manufacturer_intermediate', 'manifest_signer')),"
	"  subject TEXT NOT NULL,"
	"  sha256 BLOB NOT NULL,"
	"  ski BLOB,"
	"  der BLOB NOT NULL,"
	"  added_at INTEGER NOT NULL,"
	"  UNIQUE (kind, sha256));"
	"CREATE TABLE manifest_import ("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 BLOB NOT NULL,"
	"  source TEXT,"
	"  imported_at INTEGER NOT NULL,"
	"  entries_total INTEGER NOT NULL,"
	"  entries_ok INTEGER NOT NULL,"
	"  entries_rejected INTEGER NOT NULL);"
	"CREATE TABLE device ("
	"  id INTEGER PRIMARY KEY,"
	"  unique_id TEXT NOT NULL UNIQUE,"
	"  model TEXT, part_number TEXT, provisioner TEXT,"
	"  provisioned_at INTEGER,"
	"  manifest_id INTEGER REFERENCES manifest_import(id),"
	"  idevid_der BLOB NOT NULL,"
	"  idevid_sha256 BLOB NOT NULL,"
	"  chain_der BLOB,"
	"  state TEXT NOT NULL CHECK (state IN ('registered', 'claimed',"
	"    'active', 'returned', 'decommissioned', 'compromised')),"
	"  owner TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX device_owner ON device(owner);"
	"CREATE INDEX device_state ON device(state);"
	"CREATE INDEX device_idevid ON device(idevid_sha256);"
	"CREATE TABLE device_key ("
	"  device_id INTEGER NOT NULL REFERENCES device(id),"
	"  slot TEXT NOT NULL,"
	"  spki_der BLOB NOT NULL,"
	"  PRIMARY KEY (device_id, slot)) WITHOUT ROWID;"
	"CREATE TABLE certificate ("
	"  id INTEGER PRIMARY KEY,"
	"  ca_id INTEGER NOT NULL REFERENCES ca(id),"
	"  serial BLOB NOT NULL UNIQUE,"
	"  device_id INTEGER REFERENCES device(id),"
	"  profile TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL,"
	"  spki_sha256 BLOB,"
	"  der BLOB NOT NULL);"
	"CREATE INDEX certificate_spki ON certificate(spki_sha256);"
	"CREATE INDEX certificate_device ON certificate(device_id);"
	"CREATE INDEX certificate_not_after ON certificate(not_after);"
	/* ca_id and serial repeat the certificate's so that building a CRL
	 * reads this small table only, never the certificate blobs. */
	"CREATE TABLE revocation ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certificate(id),"
	"  ca_id INTEGER NOT NULL REFERENCES ca(id),"
	"  serial BLOB NOT NULL,"
	"  revoked_at INTEGER NOT NULL,"
	"  reason INTEGER NOT NULL,"
	"  invalidity_date INTEGER);"
	"CREATE INDEX revocation_ca ON revocation(ca_id);"
	"CREATE TABLE crl ("
	"  id INTEGER PRIMARY KEY,"
	"  ca_id INTEGER NOT NULL REFERENCES ca(id),"
	"  number INTEGER NOT NULL,"
	"  is_delta INTEGER NOT NULL DEFAULT 0,"
	"  base_number INTEGER,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL,"
	"  der BLOB NOT NULL,"
	"  UNIQUE (ca_id, number));"
	"CREATE TABLE scheduled_event ("
	"  id INTEGER PRIMARY KEY,"
	"  device_id INTEGER NOT NULL REFERENCES device(id),"
	"  action TEXT NOT NULL,"
	"  params TEXT,"
	"  due_at INTEGER NOT NULL,"
	"  done_at INTEGER,"
	"  result TEXT);"
	"CREATE INDEX scheduled_due ON scheduled_event(due_at) WHERE done_at IS NULL;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  details TEXT,"
	"  prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL);"
	/* Append-only: the store never updates or deletes audit rows; these
	 * triggers make an accidental UPDATE/DELETE through the store fail.
	 * (Someone with the file can drop them; audit verify catches that.) */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int
db_schema_version(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
db_schema_migrate(struct db *db)
{
	int v = db_schema_version(db);

	if (v < 0)
		return db_status_from(db, sqlite3_errcode(db->conn));
	if (v > N_MIGRATIONS) {
		snprintf(db->err, sizeof(db->err),
		    "database schema version %d is newer than this fleetca "
		    "(%d)", v, N_MIGRATIONS);
		return DB_CORRUPT;
	}
	for (; v < N_MIGRATIONS; v++) {
		char bump[64];
		char *msg = NULL;

		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, &msg)
		    != SQLITE_OK ||
		    sqlite3_exec(db->conn, migrations[v], NULL, NULL, &msg)
		    != SQLITE_OK ||
		    sqlite3_exec(db->conn, bump, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db->conn, "COMMIT", NULL, NULL, &msg)
		    != SQLITE_OK) {
			snprintf(db->err, sizeof(db->err),
			    "migration to schema %d: %s", v + 1,
			    msg ? msg : "unknown error");
			sqlite3_free(msg);
			sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
			return DB_ERROR;
		}
	}
	return DB_OK;
}
