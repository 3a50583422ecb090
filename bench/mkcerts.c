/*
 * mkcerts.c - issue N certificates fast into an existing data dir, for the
 * OCSP benchmark and the integration tests.
 *
 * usage: mkcerts --dir DIR --count N --out OUTDIR [--pem K] [--profile P]
 *                [--synthetic]
 *
 * One P-256 key and one CSR serve every certificate (the benchmark needs
 * many serials, not many keys); ca_issue() runs in transactions of
 * BATCH certificates with NORMAL durability.  OUTDIR receives:
 *   index.txt     an `openssl ca` index of the certificates (for
 *                 `openssl ocsp -index`)
 *   serials.txt   one hex serial per line
 *   reqs.hex      one DER OCSPRequest (SHA-1 CertID, no nonce) per line,
 *                 hex, for POST load
 *   reqs.get      the same requests as GET paths: "/ocsp/" + percent-
 *                 encoded base64
 *   cert-<i>.pem  the first K certificates (default 3)
 *
 * --synthetic: BENCH ONLY.  Issues one real certificate, then inserts
 * N-1 further certificate rows that reuse its DER, subject and key with a
 * fresh random serial each.  The OCSP responder and the CRL publisher
 * read only the serial, CA, validity and revocation columns, so for them
 * these rows are real issued certificates; nothing else should be run
 * against such a database.  It makes 1,000,000 rows in seconds instead of
 * the ~15 minutes ca_issue needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/profile.h"
#include "ca/publish.h"
#include "common/log.h"
#include "db/db.h"
#include "server/conf.h"

#define BATCH 5000

struct outs {
	FILE *index, *serials, *hex, *get;
};

static void
usage(void)
{
	fprintf(stderr, "usage: mkcerts --dir DIR --count N --out OUTDIR "
	    "[--pem K] [--profile NAME] [--synthetic]\n");
	exit(2);
}

static X509_REQ *
make_csr(void)
{
	EVP_PKEY *k = ca_key_generate(CA_KEY_P256);
	X509_REQ *r = X509_REQ_new();

	if (k == NULL || r == NULL || X509_REQ_set_pubkey(r, k) != 1 ||
	    X509_REQ_sign(r, k, EVP_sha256()) <= 0) {
		X509_REQ_free(r);
		r = NULL;
	}
	EVP_PKEY_free(k);
	return r;
}

static FILE *
open_out(const char *dir, const char *name)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fprintf(stderr, "mkcerts: %s: %s\n", path, strerror(errno));
	return f;
}

/* The percent-encoded base64 of der, RFC 5019 5 / RFC 3986. */
static void
put_get(FILE *f, const unsigned char *der, int len)
{
	unsigned char b64[2048];
	int n = EVP_EncodeBlock(b64, der, len);

	fputs("/ocsp/", f);
	for (int i = 0; i < n; i++) {
		if (b64[i] == '+')
			fputs("%2B", f);
		else if (b64[i] == '/')
			fputs("%2F", f);
		else if (b64[i] == '=')
			fputs("%3D", f);
		else
			fputc(b64[i], f);
	}
	fputc('\n', f);
}

/* Writes the index line and the OCSP request of x, for serial sn (x's
 * own when NULL); 0 or -1. */
static int
record(struct outs *o, X509 *x, X509 *issuer, const ASN1_INTEGER *sn)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id;

	if (sn == NULL)
		sn = X509_get0_serialNumber(x);
	id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), sn);
	unsigned char *der = NULL;
	char subj[256], exp[32];
	struct tm tm;
	int len, rc = -1;

	if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) ==
	    NULL) {
		OCSP_CERTID_free(id);
		goto out;
	}
	if ((len = i2d_OCSP_REQUEST(req, &der)) <= 0 || len > 1000)
		goto out;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto out;
	strftime(exp, sizeof(exp), "%y%m%d%H%M%SZ", &tm);
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	fprintf(o->index, "V\t%s\t\t", exp);
	for (int i = 0; i < sn->length; i++) {
		fprintf(o->index, "%02X", sn->data[i]);
		fprintf(o->serials, "%02X", sn->data[i]);
	}
	fprintf(o->index, "\tunknown\t%s\n", subj);
	fputc('\n', o->serials);
	for (int i = 0; i < len; i++)
		fprintf(o->hex, "%02x", der[i]);
	fputc('\n', o->hex);
	put_get(o->get, der, len);
	rc = 0;
out:
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	return rc;
}

/*
 * --synthetic rows (see the file comment): copies of tmpl (issued for
 * real) under fresh random serials of tmpl's length, positive, no
 * leading zero octet.  Rows go in one transaction.  0 or -1.
 */
static int
synthetic(struct db *db, struct outs *o, X509 *tmpl, X509 *issuer,
    int64_t ca_id, long count)
{
	struct db_cert c;
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;
	unsigned char *der = NULL;
	int dl, rc = -1;
	size_t sl = (size_t)ASN1_STRING_length(X509_get0_serialNumber(tmpl));

	memset(&c, 0, sizeof(c));
	if (sl < 8 || sl > DB_SERIAL_MAX)
		sl = 16;
	if ((dl = i2d_X509(tmpl, &der)) <= 0 || (bn = BN_new()) == NULL)
		goto out;
	c.ca_id = ca_id;
	c.der = der;
	c.der_len = (size_t)dl;
	snprintf(c.profile, sizeof(c.profile), "synthetic");
	X509_NAME_oneline(X509_get_subject_name(tmpl), c.subject,
	    sizeof(c.subject));
	c.not_before = (int64_t)time(NULL) - 60;
	c.not_after = c.not_before + 365 * 86400;
	if (db_begin(db) != DB_OK)
		goto out;
	for (long i = 0; i < count; i++) {
		int e;

		if (RAND_bytes(c.serial, (int)sl) != 1)
			goto rollback;
		c.serial[0] = (unsigned char)((c.serial[0] & 0x7f) | 0x40);
		c.serial_len = sl;
		if ((e = db_cert_insert(db, &c, NULL)) == DB_EXISTS) {
			i--;
			continue;
		}
		if (e != DB_OK) {
			fprintf(stderr, "mkcerts: %s\n", db_errmsg(db));
			goto rollback;
		}
		if (BN_bin2bn(c.serial, (int)sl, bn) == NULL ||
		    (ai = BN_to_ASN1_INTEGER(bn, ai)) == NULL ||
		    record(o, tmpl, issuer, ai) != 0)
			goto rollback;
	}
	if (db_commit(db) != DB_OK)
		goto out;
	rc = 0;
	goto out;
rollback:
	db_rollback(db);
out:
	c.der = NULL;
	OPENSSL_free(der);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *outdir = NULL, *pname = "ldevid";
	long count = -1, npem = 3, done = 0;
	struct ca_profiles *ps = NULL;
	const struct ca_profile *prof;
	struct ca_signer *s = NULL;
	struct outs o = { NULL, NULL, NULL, NULL };
	struct fc_config cfg;
	X509_REQ *csr = NULL;
	struct db *db = NULL;
	char err[512], path[4200];
	time_t t0 = time(NULL);
	int rc = 1, synth = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--synthetic") == 0) {
			synth = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--out") == 0)
			outdir = argv[++i];
		else if (strcmp(argv[i], "--profile") == 0)
			pname = argv[++i];
		else if (strcmp(argv[i], "--count") == 0)
			count = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pem") == 0)
			npem = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (dir == NULL || outdir == NULL || count < 1 || count > 10000000)
		usage();
	log_set_level(LOG_LVL_WARN);
	snprintf(path, sizeof(path), "%s/policies", dir);
	if (config_load(&cfg, dir, err, sizeof(err)) != 0 ||
	    (db = db_open(strcat(strcpy(path + 2100, dir), "/fleetca.db"),
	    err, sizeof(err))) == NULL ||
	    (s = ca_signer_load(dir, db, cfg.public_http_url, err,
	    sizeof(err))) == NULL ||
	    (ps = ca_profiles_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mkcerts: %s\n", err);
		goto out;
	}
	if (cfg.crl_delta) {
		char durl[1200];

		if (ca_crl_delta_url(cfg.public_http_url, ca_signer_name(s),
		    durl, sizeof(durl)) != 0 ||
		    ca_signer_set_freshest(s, durl) != 0)
			goto out;
	}
	if ((prof = ca_profiles_find(ps, pname)) == NULL) {
		fprintf(stderr, "mkcerts: no profile %s\n", pname);
		goto out;
	}
	db_set_durable(db, 0);
	if ((csr = make_csr()) == NULL ||
	    (o.index = open_out(outdir, "index.txt")) == NULL ||
	    (o.serials = open_out(outdir, "serials.txt")) == NULL ||
	    (o.hex = open_out(outdir, "reqs.hex")) == NULL ||
	    (o.get = open_out(outdir, "reqs.get")) == NULL)
		goto out;
	while (done < count) {
		if (db_begin(db) != DB_OK)
			goto dberr;
		for (long b = 0; b < BATCH && done < count; b++, done++) {
			char uid[32];
			struct ca_issue_req req = { csr, uid, "bench.example",
			    0, NULL, NULL };
			X509 *x = NULL;
			enum ca_err e;

			snprintf(uid, sizeof(uid), "dev%07ld-%lx", done,
			    (long)t0);
			if ((e = ca_issue(s, db, prof, &req, &x, NULL)) !=
			    CA_OK) {
				fprintf(stderr, "mkcerts: issue: %s\n",
				    ca_err_name(e));
				db_rollback(db);
				goto out;
			}
			if (record(&o, x, ca_signer_cert(s), NULL) != 0) {
				X509_free(x);
				db_rollback(db);
				goto out;
			}
			if (done < npem) {
				FILE *f;

				snprintf(path, sizeof(path), "cert-%ld.pem",
				    done);
				if ((f = open_out(outdir, path)) != NULL) {
					PEM_write_X509(f, x);
					fclose(f);
				}
			}
			if (synth) {
				/* one real certificate, then synthetic rows */
				if (db_commit(db) != DB_OK ||
				    synthetic(db, &o, x, ca_signer_cert(s),
				    ca_signer_ca_id(s), count - 1) != 0) {
					X509_free(x);
					goto dberr;
				}
				done = count - 1;	/* the loop adds one */
			}
			X509_free(x);
		}
		if (!synth && db_commit(db) != DB_OK)
			goto dberr;
	}
	fprintf(stderr, "mkcerts: %ld certificates in %lld s\n", done,
	    (long long)(time(NULL) - t0));
	rc = 0;
	goto out;
dberr:
	fprintf(stderr, "mkcerts: database: %s\n", db_errmsg(db));
out:
	if (o.index)
		fclose(o.index);
	if (o.serials)
		fclose(o.serials);
	if (o.hex)
		fclose(o.hex);
	if (o.get)
		fclose(o.get);
	X509_REQ_free(csr);
	ca_profiles_free(ps);
	ca_signer_free(s);
	db_close(db);
	return rc;
}
