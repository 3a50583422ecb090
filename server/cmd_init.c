/*
 * cmd_init.c - `fleetca init`: a new data directory with its CA hierarchy,
 * configuration, policies and database.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca/ca.h"
#include "common/fileio.h"
#include "db/db.h"
#include "server/cli.h"
#include "server/conf.h"
#include "server/paths.h"

/* 0 when path does not exist or is an empty directory (created/kept),
 * -1 otherwise with a message. */
static int
prepare_dir(const char *path)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST) {
		cli_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		cli_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		closedir(d);
		cli_fail("%s: exists and is not empty; refusing to touch it",
		    path);
		return -1;
	}
	closedir(d);
	return 0;
}

/* Copies every *.json of src into dst (created 0755). */
static int
copy_policies(const char *src, const char *dst, char *err, size_t len)
{
	struct dirent *de;
	DIR *d;
	int n = 0, rc = -1;

	if (mkdir(dst, 0755) == -1) {
		snprintf(err, len, "%s: %s", dst, strerror(errno));
		return -1;
	}
	if ((d = opendir(src)) == NULL) {
		snprintf(err, len, "policies %s: %s", src, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		char from[PATH_MAX], to[PATH_MAX];
		unsigned char *buf;
		size_t blen;

		if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, de->d_name);
		if (file_read_all(from, 1 << 20, &buf, &blen) == -1) {
			snprintf(err, len, "%s: %s", from, strerror(errno));
			goto out;
		}
		if (file_write_new(to, buf, blen, 0644) == -1) {
			snprintf(err, len, "%s: %s", to, strerror(errno));
			free(buf);
			goto out;
		}
		free(buf);
		n++;
	}
	if (n == 0) {
		snprintf(err, len, "%s: no policy files", src);
		goto out;
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

static int
parse_port(const char *s, int *port)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "http-port", required_argument, NULL, 'p' },
		{ "https-port", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir_opt = NULL, *name = "fleetca", *host = "localhost";
	struct ca_init_params p;
	enum ca_key_type kt = CA_KEY_P256;
	struct fc_config cfg;
	char dir[PATH_MAX], path[PATH_MAX + 32], err[512], policies[PATH_MAX];
	struct db *db = NULL;
	int http_port = 8080, https_port = 8443, c, rc = EXIT_REFUSED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'n': name = optarg; break;
		case 'H': host = optarg; break;
		case 'k':
			if (ca_key_type_parse(optarg, &kt) != 0) {
				cli_fail("--key-type: '%s' is not one of p256, "
				    "p384, rsa3072, ed25519", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			if (parse_port(optarg, &http_port) != 0) {
				cli_fail("--http-port: not a port: '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (parse_port(optarg, &https_port) != 0) {
				cli_fail("--https-port: not a port: '%s'",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cli_usage();
			return EXIT_DONE;
		default:
			cli_usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_fail("init: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((dir_opt = cli_dir(dir_opt)) == NULL)
		return EXIT_USAGE;
	if (strlen(host) == 0 || strlen(host) > 200 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:") != strlen(host)) {
		cli_fail("--hostname: '%s' is not a host name or address", host);
		return EXIT_USAGE;
	}
	/* Keys must never be readable by others, not even for an instant:
	 * the umask is strict before anything is created. */
	umask(077);
	if (prepare_dir(dir_opt) != 0)
		return EXIT_REFUSED;
	chmod(dir_opt, 0755);
	if (realpath(dir_opt, dir) == NULL) {
		cli_fail("%s: %s", dir_opt, strerror(errno));
		return EXIT_REFUSED;
	}
	config_defaults(&cfg, dir);
	cfg.http_port = http_port;
	cfg.https_port = https_port;
	snprintf(cfg.hostname, sizeof(cfg.hostname), "%s", host);
	snprintf(cfg.public_http_url, sizeof(cfg.public_http_url),
	    strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host,
	    http_port);
	if (paths_policies_source(policies, sizeof(policies)) != 0) {
		cli_fail("cannot find the policies/ folder to copy; set "
		    "FLEETCA_POLICIES_DIR");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/policies", dir);
	if (copy_policies(policies, path, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		goto out;
	}
	if (config_write(&cfg, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/fleetca.db", dir);
	if ((db = db_open(path, err, sizeof(err))) == NULL) {
		cli_fail("%s", err);
		goto out;
	}
	chmod(path, 0600);
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.name = name;
	p.key_type = kt;
	p.hostname = host;
	if (ca_hierarchy_create(&p, db, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		goto out;
	}
	snprintf(err, sizeof(err), "{\"key_type\":\"%s\",\"hostname\":\"%s\"}",
	    ca_key_type_name(kt), host);
	if (db_audit_append(db, "cli", "init", dir, err) != DB_OK) {
		cli_fail("audit: %s", db_errmsg(db));
		goto out;
	}
	printf("initialized %s (root and issuing CA %s, HTTP %d, HTTPS %d)\n",
	    dir, ca_key_type_name(kt), http_port, https_port);
	rc = EXIT_DONE;
out:
	db_close(db);
	return rc;
}
