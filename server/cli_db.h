/*
 * cli_db.h - shared bits of the admin subcommands: finding the data
 * directory and opening its database.
 */
#ifndef FLEETCA_SERVER_CLI_DB_H
#define FLEETCA_SERVER_CLI_DB_H

struct db;

/* Accepts only --dir DIR (or FLEETCA_DIR); 0 or -1 after a message. */
int cli_parse_dir_only(int argc, char **argv, const char **dir);
/* Opens DIR/fleetca.db, which must exist; NULL after a message. */
struct db *cli_db_open(const char *dir);

#endif
