/*
 * main.c - fleetca: dispatch to a subcommand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "server/cli.h"

static const char usage_text[] =
"usage: fleetca <command> [options]\n"
"\n"
"  init     --dir DIR [--name NAME] [--key-type p256|p384|rsa3072|ed25519]\n"
"           [--hostname HOST] [--http-port N] [--https-port N]\n"
"  serve    --dir DIR\n"
"  demo     [--dir DIR] [--devices N] [--serve]\n"
"  trust    add --dir DIR (--manufacturer FILE | --manifest-signer FILE)\n"
"           | list --dir DIR\n"
"  manifest import --dir DIR FILE\n"
"  device   list [--state S] [--owner O] | show ID\n"
"           | claim (ID | --file FILE) --owner OWNER      (each with --dir DIR)\n"
"  cert     list | show SERIAL | revoke SERIAL [--reason NAME]  (--dir DIR)\n"
"  crl      --dir DIR [--out FILE]\n"
"  audit    list|verify --dir DIR\n"
"  version\n"
"\n"
"--dir may come from FLEETCA_DIR.  Exit status: 0 done, 1 refused or\n"
"failed, 2 usage error.  See fleetca(8).\n";

void
cli_usage(void)
{
	fputs(usage_text, stderr);
}

void
cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
cli_dir(const char *opt)
{
	const char *d = opt ? opt : getenv("FLEETCA_DIR");

	if (d == NULL || *d == '\0') {
		cli_fail("no data directory: give --dir DIR or set FLEETCA_DIR");
		return NULL;
	}
	return d;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "init", cmd_init },
	{ "serve", cmd_serve },
	{ "demo", cmd_demo },
	{ "audit", cmd_audit },
	{ "trust", cmd_trust },
	{ "manifest", cmd_manifest },
	{ "device", cmd_device },
	{ "cert", cmd_cert },
	{ "crl", cmd_crl },
};

int
main(int argc, char **argv)
{
	if (argc < 2) {
		cli_usage();
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_DONE;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("fleetca %s\n", PACKAGE_VERSION);
		return EXIT_DONE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	cli_fail("unknown command '%s'", argv[1]);
	cli_usage();
	return EXIT_USAGE;
}
