/*
 * cli.h - the fleetca command line: one function per subcommand.
 *
 * Exit status (DESIGN.md): 0 done; 1 refused or failed, with a one-line
 * reason on stderr; 2 usage error.
 */
#ifndef FLEETCA_SERVER_CLI_H
#define FLEETCA_SERVER_CLI_H

#define EXIT_DONE 0
#define EXIT_REFUSED 1
#define EXIT_USAGE 2

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_manifest(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_crl(int argc, char **argv);

/* Prints the one-line usage of the whole program to stderr. */
void cli_usage(void);
/* Prints "fleetca: <msg>" to stderr. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Returns the --dir value or FLEETCA_DIR, or NULL (after a message). */
const char *cli_dir(const char *opt);

#endif
