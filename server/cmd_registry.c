/*
 * cmd_registry.c - `fleetca trust`, `fleetca manifest import` and
 * `fleetca device`: thin wrappers over ra/registry.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "db/db.h"
#include "ra/registry.h"
#include "server/cli.h"
#include "server/cli_db.h"
#include "server/conf.h"

#define TRUST_FILE_MAX (1 << 20)

int
cmd_trust(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "manufacturer", required_argument, NULL, 'm' },
		{ "manifest-signer", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *file = NULL;
	enum ra_trust_kind kind = RA_TRUST_MANUFACTURER;
	int c, nfile = 0, rc = EXIT_REFUSED;
	struct db *db;

	if (argc < 2 || (strcmp(argv[1], "add") != 0 &&
	    strcmp(argv[1], "list") != 0))
		goto usage;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'm': file = optarg; kind = RA_TRUST_MANUFACTURER; nfile++;
			break;
		case 's': file = optarg; kind = RA_TRUST_MANIFEST_SIGNER;
			nfile++; break;
		default: goto usage;
		}
	}
	if (optind != argc || (strcmp(argv[1], "add") == 0) != (nfile == 1)) {
		cli_fail("trust: add takes exactly one of --manufacturer or "
		    "--manifest-signer; list takes neither");
		goto usage;
	}
	if ((dir = cli_dir(dir)) == NULL)
		goto usage;
	if ((db = cli_db_open(dir)) == NULL)
		return EXIT_REFUSED;
	if (strcmp(argv[1], "add") == 0) {
		unsigned char *buf;
		size_t len;
		int added, known;
		char err[512];

		if (file_read_all(file, TRUST_FILE_MAX, &buf, &len) == -1) {
			cli_fail("%s: %s", file, strerror(errno));
			goto out;
		}
		if (ra_trust_add_blob(db, kind, buf, len, "cli", &added, &known,
		    err, sizeof(err)) != 0) {
			cli_fail("%s: %s", file, err);
			free(buf);
			goto out;
		}
		free(buf);
		printf("%d added, %d already trusted\n", added, known);
		rc = EXIT_DONE;
	} else {
		struct db_trust *ts;
		size_t n;

		if (db_trust_list(db, &ts, &n) != DB_OK) {
			cli_fail("%s", db_errmsg(db));
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			printf("%lld\t%s\t", (long long)ts[i].id, ts[i].kind);
			for (int k = 0; k < 8; k++)
				printf("%02x", ts[i].sha256[k]);
			printf("\t%s\n", ts[i].subject);
			db_trust_clear(&ts[i]);
		}
		free(ts);
		rc = EXIT_DONE;
	}
out:
	db_close(db);
	return rc;
usage:
	cli_fail("usage: fleetca trust add --dir DIR (--manufacturer FILE "
	    "| --manifest-signer FILE) | list --dir DIR");
	return EXIT_USAGE;
}

static void
print_reject(void *arg, const char *uid, const char *reason,
    const char *detail)
{
	(void)arg;
	printf("rejected %s %s: %s\n", uid, reason, detail);
}

int
cmd_manifest(int argc, char **argv)
{
	struct ra_import_result res;
	struct fc_config cfg;
	unsigned char *buf;
	const char *dir = NULL;
	char err[512];
	struct db *db;
	size_t len;
	long ncpu;
	int c, rc = EXIT_REFUSED;
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};

	if (argc < 2 || strcmp(argv[1], "import") != 0)
		goto usage;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd')
			goto usage;
		dir = optarg;
	}
	if (optind != argc - 1)
		goto usage;
	if ((dir = cli_dir(dir)) == NULL)
		goto usage;
	if (config_load(&cfg, dir, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		return EXIT_REFUSED;
	}
	if (file_read_all(argv[optind], cfg.manifest_max, &buf, &len) == -1) {
		cli_fail("%s: %s", argv[optind], errno == EFBIG ?
		    "larger than limits.manifest_max" : strerror(errno));
		return EXIT_REFUSED;
	}
	if ((db = cli_db_open(dir)) == NULL) {
		free(buf);
		return EXIT_REFUSED;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ra_manifest_import(db, buf, len, argv[optind], "cli",
	    ncpu > 0 ? (int)ncpu : 1, time(NULL), print_reject, NULL, &res,
	    err, sizeof(err)) != 0) {
		cli_fail("%s: %s", argv[optind], err);
	} else {
		printf("%zu entries: %zu imported, %zu already known, "
		    "%zu rejected\n", res.total, res.imported, res.known,
		    res.rejected);
		rc = res.rejected == 0 ? EXIT_DONE : EXIT_REFUSED;
	}
	free(buf);
	db_close(db);
	return rc;
usage:
	cli_fail("usage: fleetca manifest import --dir DIR FILE");
	return EXIT_USAGE;
}

static int
print_device(void *arg, const struct db_device *d)
{
	(void)arg;
	printf("%s\t%s\t%s\t%s\n", d->uid, d->state,
	    d->owner[0] ? d->owner : "-", d->model);
	return 0;
}

static int
device_show(struct db *db, const char *uid)
{
	struct db_device d;
	struct db_cert *certs = NULL;
	size_t n = 0;
	int r = db_device_get(db, uid, &d);

	if (r != DB_OK) {
		cli_fail(r == DB_NOTFOUND ? "unknown device %s" : "%s",
		    r == DB_NOTFOUND ? uid : db_errmsg(db));
		return EXIT_REFUSED;
	}
	printf("unique_id: %s\nstate: %s\nowner: %s\nmodel: %s\n"
	    "part_number: %s\nprovisioner: %s\nmanifest: %lld\n", d.uid,
	    d.state, d.owner[0] ? d.owner : "-", d.model, d.part_number,
	    d.provisioner, (long long)d.manifest_id);
	if (db_cert_list_device(db, d.id, &certs, &n) == DB_OK) {
		for (size_t i = 0; i < n; i++) {
			printf("certificate: ");
			for (size_t k = 0; k < certs[i].serial_len; k++)
				printf("%02X", certs[i].serial[k]);
			printf(" %s%s\n", certs[i].profile,
			    certs[i].revoked ? " revoked" : "");
		}
		free(certs);
	}
	db_device_clear(&d);
	return EXIT_DONE;
}

/* Claims every id listed in file (one per line; blank lines and #
 * comments skipped).  Each claim is its own transaction. */
static int
claim_file(struct db *db, const char *file, const char *owner)
{
	unsigned char *buf;
	size_t len, ok = 0, bad = 0;
	char *line, *save = NULL, err[512];

	if (file_read_all(file, 64u << 20, &buf, &len) == -1) {
		cli_fail("%s: %s", file, strerror(errno));
		return EXIT_REFUSED;
	}
	for (line = strtok_r((char *)buf, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		line += strspn(line, " \t");
		line[strcspn(line, " \t#")] = '\0';
		if (*line == '\0')
			continue;
		if (ra_device_claim(db, line, owner, "cli", err,
		    sizeof(err)) == 0) {
			ok++;
		} else {
			printf("refused %s: %s\n", line, err);
			bad++;
		}
	}
	free(buf);
	printf("%zu claimed for %s, %zu refused\n", ok, owner, bad);
	return bad == 0 ? EXIT_DONE : EXIT_REFUSED;
}

int
cmd_device(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 's' },
		{ "owner", required_argument, NULL, 'o' },
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *state = NULL, *owner = NULL, *file = NULL;
	const char *sub;
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
		case 's': state = optarg; break;
		case 'o': owner = optarg; break;
		case 'f': file = optarg; break;
		default: goto usage;
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc || file)
			goto usage;
	} else if (strcmp(sub, "show") == 0) {
		if (optind != argc - 1 || state || owner || file)
			goto usage;
	} else if (strcmp(sub, "claim") == 0) {
		if (owner == NULL || state ||
		    (file == NULL) != (optind == argc - 1) ||
		    optind < argc - 1)
			goto usage;
	} else {
		cli_fail("device: unknown subcommand '%s'", sub);
		goto usage;
	}
	if ((dir = cli_dir(dir)) == NULL)
		goto usage;
	if ((db = cli_db_open(dir)) == NULL)
		return EXIT_REFUSED;
	if (strcmp(sub, "list") == 0) {
		if (db_device_foreach(db, state, owner, print_device, NULL) ==
		    DB_OK)
			rc = EXIT_DONE;
		else
			cli_fail("%s", db_errmsg(db));
	} else if (strcmp(sub, "show") == 0) {
		rc = device_show(db, argv[optind]);
	} else if (file != NULL) {
		rc = claim_file(db, file, owner);
	} else if (ra_device_claim(db, argv[optind], owner, "cli", err,
	    sizeof(err)) == 0) {
		printf("%s claimed by %s\n", argv[optind], owner);
		rc = EXIT_DONE;
	} else {
		cli_fail("%s", err);
	}
	db_close(db);
	return rc;
usage:
	cli_fail("usage: fleetca device list [--state S] [--owner O] | "
	    "show ID | claim (ID | --file FILE) --owner OWNER  "
	    "(--dir DIR)");
	return EXIT_USAGE;
}
