/*
 * cmd_audit.c - `fleetca audit list|verify`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "server/cli.h"
#include "server/cli_db.h"

static int
print_row(void *arg, const struct db_audit_row *r)
{
	char ts[32];
	struct tm tm;
	time_t t = (time_t)r->ts;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)r->id, ts,
	    r->actor ? r->actor : "", r->action ? r->action : "",
	    r->subject ? r->subject : "", r->details ? r->details : "");
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	const char *sub, *dir = NULL;
	struct db *db;
	int rc = EXIT_REFUSED;

	if (argc < 2 || (strcmp(argv[1], "list") != 0 &&
	    strcmp(argv[1], "verify") != 0)) {
		cli_fail("usage: fleetca audit list|verify --dir DIR");
		return EXIT_USAGE;
	}
	sub = argv[1];
	if (cli_parse_dir_only(argc - 1, argv + 1, &dir) != 0)
		return EXIT_USAGE;
	if ((db = cli_db_open(dir)) == NULL)
		return EXIT_REFUSED;
	if (strcmp(sub, "list") == 0) {
		if (db_audit_foreach(db, print_row, NULL) == DB_OK)
			rc = EXIT_DONE;
		else
			cli_fail("audit list: %s", db_errmsg(db));
	} else {
		int64_t bad = 0;
		char why[256];
		int v = db_audit_verify(db, &bad, why, sizeof(why));

		if (v == DB_OK) {
			printf("audit log intact\n");
			rc = EXIT_DONE;
		} else if (v == DB_CORRUPT) {
			cli_fail("audit log broken at row %lld: %s",
			    (long long)bad, why);
		} else {
			cli_fail("audit verify: %s", db_errmsg(db));
		}
	}
	db_close(db);
	return rc;
}
