/* testdb.h - a fresh database in a temporary directory for db tests. */
#ifndef TESTDB_H
#define TESTDB_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "db/db.h"

static char testdb_dir[64];
static char testdb_path[128];

static struct db *
testdb_open(void)
{
	char err[256];
	struct db *db;

	snprintf(testdb_dir, sizeof(testdb_dir), "/tmp/fleetca-dbtest-XXXXXX");
	if (mkdtemp(testdb_dir) == NULL)
		return NULL;
	snprintf(testdb_path, sizeof(testdb_path), "%s/t.db", testdb_dir);
	db = db_open(testdb_path, err, sizeof(err));
	if (db == NULL)
		fprintf(stderr, "%s\n", err);
	return db;
}

static void
testdb_cleanup(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", testdb_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}
#endif
