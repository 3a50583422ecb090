/*
 * cmd_cert.c - `fleetca cert list|show|revoke`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/revoke_reason.h"
#include "db/db.h"
#include "ra/revoke.h"
#include "server/cli.h"
#include "server/cli_db.h"

static void
print_time(int64_t t)
{
	char buf[32];
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(buf, stdout);
}

static void
print_serial(const struct db_cert *c)
{
	for (size_t i = 0; i < c->serial_len; i++)
		printf("%02X", c->serial[i]);
}

static int
list_one(void *arg, const struct db_cert *c)
{
	(void)arg;
	print_serial(c);
	printf("\t%s\t", c->profile);
	print_time(c->not_after);
	printf("\t%s\t%s\n", c->revoked ? revoke_reason_name(c->reason) :
	    "valid", c->subject);
	return 0;
}

static int
cert_show(struct db *db, const char *hex)
{
	unsigned char serial[DB_SERIAL_MAX];
	const unsigned char *p;
	struct db_cert c;
	size_t len;
	X509 *x;
	int r;

	if (ra_serial_parse(hex, serial, &len) != 0) {
		cli_fail("'%s' is not a serial number", hex);
		return EXIT_USAGE;
	}
	if ((r = db_cert_get_by_serial(db, serial, len, &c)) != DB_OK) {
		cli_fail(r == DB_NOTFOUND ? "no certificate with serial %s" :
		    "%s", r == DB_NOTFOUND ? hex : db_errmsg(db));
		return EXIT_REFUSED;
	}
	printf("serial: ");
	print_serial(&c);
	printf("\nsubject: %s\nprofile: %s\nnot_before: ", c.subject,
	    c.profile);
	print_time(c.not_before);
	printf("\nnot_after: ");
	print_time(c.not_after);
	printf("\nstatus: %s", c.revoked ? "revoked" : "valid");
	if (c.revoked) {
		printf(" (%s, ", revoke_reason_name(c.reason));
		print_time(c.revoked_at);
		printf(")");
	}
	printf("\n");
	p = c.der;
	if ((x = d2i_X509(NULL, &p, (long)c.der_len)) != NULL) {
		PEM_write_X509(stdout, x);
		X509_free(x);
	}
	db_cert_clear(&c);
	return EXIT_DONE;
}

int
cmd_cert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *reason = NULL, *sub;
	struct db *db;
	char err[512];
	int c, rc = EXIT_REFUSED;

	if (argc < 2)
		goto usage;
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': reason = optarg; break;
		default: goto usage;
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc || reason)
			goto usage;
	} else if (strcmp(sub, "show") == 0) {
		if (optind != argc - 1 || reason)
			goto usage;
	} else if (strcmp(sub, "revoke") == 0) {
		if (optind != argc - 1)
			goto usage;
	} else {
		cli_fail("cert: unknown subcommand '%s'", sub);
		goto usage;
	}
	if ((dir = cli_dir(dir)) == NULL)
		goto usage;
	if ((db = cli_db_open(dir)) == NULL)
		return EXIT_REFUSED;
	if (strcmp(sub, "list") == 0) {
		if (db_cert_foreach(db, 0, 0, list_one, NULL) == DB_OK)
			rc = EXIT_DONE;
		else
			cli_fail("%s", db_errmsg(db));
	} else if (strcmp(sub, "show") == 0) {
		rc = cert_show(db, argv[optind]);
	} else {
		switch (ra_revoke_serial(db, argv[optind], reason, 0, "cli",
		    err, sizeof(err))) {
		case RA_REVOKED:
			printf("revoked %s (%s)\n", argv[optind],
			    reason ? reason : "unspecified");
			rc = EXIT_DONE;
			break;
		case RA_REVOKE_ALREADY:
			printf("%s was already revoked (%s)\n", argv[optind],
			    reason ? reason : "unspecified");
			rc = EXIT_DONE;
			break;
		case RA_REVOKE_UNHELD:
			printf("released hold on %s\n", argv[optind]);
			rc = EXIT_DONE;
			break;
		default:
			cli_fail("%s", err);
		}
	}
	db_close(db);
	return rc;
usage:
	cli_fail("usage: fleetca cert list | show SERIAL | revoke SERIAL "
	    "[--reason NAME]  (--dir DIR)");
	return EXIT_USAGE;
}
