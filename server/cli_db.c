/*
 * cli_db.c - data directory and database for admin subcommands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "server/cli.h"
#include "server/cli_db.h"

int
cli_parse_dir_only(int argc, char **argv, const char **dir)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *d = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd')
			return -1;
		d = optarg;
	}
	if (optind != argc) {
		cli_fail("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if ((*dir = cli_dir(d)) == NULL)
		return -1;
	return 0;
}

struct db *
cli_db_open(const char *dir)
{
	char path[4096], err[512];
	struct db *db;

	snprintf(path, sizeof(path), "%s/fleetca.db", dir);
	/* Never create a database by accident in a wrong directory. */
	if (access(path, R_OK | W_OK) != 0) {
		cli_fail("%s: %s (is --dir a fleetca data directory?)", path,
		    strerror(errno));
		return NULL;
	}
	if ((db = db_open(path, err, sizeof(err))) == NULL)
		cli_fail("%s", err);
	return db;
}
