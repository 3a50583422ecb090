/*
 * cmd_crl.c - `fleetca crl --dir DIR [--out FILE]`: sign, store and write
 * the current full CRL of the active issuing CA.
 *
 * The same code path as the server's publisher (ca/publish.h), so the
 * number sequence is shared: running this beside a server is safe and the
 * server's next CRL simply takes the following number.  The file is DER,
 * or PEM when FILE ends in ".pem"; it is replaced atomically.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/publish.h"
#include "common/fileio.h"
#include "common/log.h"
#include "db/db.h"
#include "server/cli.h"
#include "server/cli_db.h"
#include "server/conf.h"

/* PEM text of a DER CRL into *pem (malloc'd); 0 or -1. */
static int
crl_to_pem(const unsigned char *der, size_t len, char **pem, size_t *plen)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	BIO *mem = NULL;
	char *data;
	long n;
	int rc = -1;

	*pem = NULL;
	if (crl == NULL || (mem = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_CRL(mem, crl) != 1 ||
	    (n = BIO_get_mem_data(mem, &data)) <= 0 ||
	    (*pem = malloc((size_t)n)) == NULL) {
		log_openssl("PEM_write_bio_X509_CRL");
		goto out;
	}
	memcpy(*pem, data, (size_t)n);
	*plen = (size_t)n;
	rc = 0;
out:
	BIO_free(mem);
	X509_CRL_free(crl);
	return rc;
}

static int
write_out(const char *path, const struct ca_crl_out *o)
{
	size_t pl = strlen(path), len;
	char *pem = NULL;
	const void *data = o->der;
	int rc;

	len = o->len;
	if (pl > 4 && strcmp(path + pl - 4, ".pem") == 0) {
		if (crl_to_pem(o->der, o->len, &pem, &len) != 0) {
			cli_fail("crl: cannot encode PEM");
			return -1;
		}
		data = pem;
	}
	rc = file_replace(path, data, len, 0644);
	if (rc != 0)
		cli_fail("crl: %s: cannot write", path);
	free(pem);
	return rc;
}

int
cmd_crl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *outp = NULL;
	struct ca_crl_signer *s = NULL;
	struct ca_revoked_set set = { NULL, 0 };
	struct ca_crl_out o;
	struct fc_config cfg;
	struct db *db = NULL;
	char err[512];
	int c, rc = EXIT_REFUSED;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'o')
			outp = optarg;
		else {
			cli_usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_fail("crl: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((dir = cli_dir(dir)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, dir, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		return EXIT_REFUSED;
	}
	log_set_level(LOG_LVL_WARN);
	if ((db = cli_db_open(cfg.dir)) == NULL)
		return EXIT_REFUSED;
	if ((s = ca_crl_signer_load(cfg.dir, db, 0, cfg.public_http_url,
	    cfg.crl_delta, err, sizeof(err))) == NULL) {
		cli_fail("crl: %s", err);
		goto out;
	}
	if (ca_revoked_load(db, ca_crl_signer_ca_id(s), &set) != 0) {
		cli_fail("crl: cannot read revocations");
		goto out;
	}
	if (ca_crl_publish_full(s, db, &set, (int64_t)time(NULL),
	    cfg.crl_validity_s, &o, err, sizeof(err)) != 0) {
		cli_fail("crl: %s", err);
		goto out;
	}
	if (outp != NULL && write_out(outp, &o) != 0)
		goto out;
	printf("CRL %s number %lld: %zu revoked, next update in %d s%s%s\n",
	    ca_crl_signer_name(s), (long long)o.number, set.n,
	    cfg.crl_validity_s, outp ? ", written to " : "",
	    outp ? outp : "");
	rc = EXIT_DONE;
out:
	ca_crl_out_clear(&o);
	ca_revoked_clear(&set);
	ca_crl_signer_free(s);
	db_close(db);
	return rc;
}
