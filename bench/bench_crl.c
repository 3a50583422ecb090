/*
 * bench_crl.c - time crl_build on 1,000,000 revocations against
 * `openssl ca -gencrl` on the same revocations.
 *
 * Usage: bench_crl [N]   (default 1000000)
 * Makes a throwaway P-256 CA in-process, builds the CRL with crl_build
 * (checking that OpenSSL parses and verifies it), then writes the CA, an
 * index.txt with N "R" lines and a minimal openssl.cnf into a mkdtemp
 * directory and times `openssl ca -gencrl` there.  Prints both times and
 * their ratio.  The temp directory is removed at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "ca/revoke_reason.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* Self-signed P-256 CA; NULL on failure. */
static X509 *
make_ca(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n;

	if (x == NULL)
		return NULL;
	n = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"bench CA", -1, -1, 0) ||
	    !X509_set_issuer_name(x, n) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    !X509_set_pubkey(x, key) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, NID_subject_key_identifier, "hash") ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
write_text(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static int
write_pki(const char *dir, X509 *ca, EVP_PKEY *key)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	ok = PEM_write_X509(f, ca);
	if (fclose(f) != 0 || !ok)
		return 0;
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok;
}

/* index.txt line per revocation, in the format `openssl ca` keeps. */
static int
write_index(const char *dir, const struct crl_entry *e, size_t n)
{
	char path[4096], when[16];
	FILE *f;
	struct tm tm;
	int ok = 1;

	snprintf(path, sizeof(path), "%s/index.txt", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	for (size_t i = 0; i < n && ok; i++) {
		time_t t = (time_t)e[i].revoked_at;
		const char *rn = e[i].reason > 0 ?
		    revoke_reason_name(e[i].reason) : NULL;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%y%m%d%H%M%SZ", &tm);
		ok = fprintf(f, "R\t491231235959Z\t%s%s%s\t", when,
		    rn != NULL ? "," : "", rn != NULL ? rn : "") > 0;
		for (size_t k = 0; k < e[i].serial_len && ok; k++)
			ok = fprintf(f, "%02X", e[i].serial[k]) > 0;
		ok = ok && fprintf(f, "\tunknown\t/CN=device %zu\n", i) > 0;
	}
	return fclose(f) == 0 && ok;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/bench_crl.XXXXXX", cmd[8192], cnf[4096];
	struct crl_entry *e = NULL;
	struct crl_params p;
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len = 0;
	double t0, t_ours, t_parse, t_openssl;
	uint64_t x = 0x243f6a8885a308d3ULL;
	int rc = 1, have_dir = 0;
	time_t now = time(NULL);

	if (n == 0 || (e = calloc(n, sizeof(*e))) == NULL) {
		fprintf(stderr, "bench_crl: bad count or out of memory\n");
		goto out;
	}
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (ca = make_ca(key)) == NULL) {
		fprintf(stderr, "bench_crl: cannot make the CA\n");
		goto out;
	}
	/* 16-octet random serials, as fleetca issues (>= 64 bits). */
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 16; k += 8) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			for (int b = 0; b < 8; b++)
				e[i].serial[k + b] = (unsigned char)(x >> (8 * b));
		}
		e[i].serial[0] = (e[i].serial[0] & 0x7f) | 0x01;
		e[i].serial_len = 16;
		e[i].revoked_at = (int64_t)now - (int64_t)(i % 31536000);
		e[i].reason = (int)(i % 6);
	}
	memset(&p, 0, sizeof(p));
	p.number = 1;
	p.this_update = now;
	p.next_update = now + 86400;
	p.idp_url = "http://pki.example.test/crl/bench.crl";

	t0 = now_s();
	if (crl_build(ca, key, &p, e, n, &der, &len) != CRL_OK) {
		fprintf(stderr, "bench_crl: crl_build failed\n");
		goto out;
	}
	t_ours = now_s() - t0;

	t0 = now_s();
	q = der;
	if ((crl = d2i_X509_CRL(NULL, &q, (long)len)) == NULL ||
	    X509_CRL_verify(crl, key) != 1) {
		fprintf(stderr, "bench_crl: our CRL does not parse/verify\n");
		goto out;
	}
	t_parse = now_s() - t0;
	printf("crl_build:           %zu entries, %zu bytes, %.3f s\n", n, len,
	    t_ours);
	printf("  (OpenSSL d2i+verify of it: %.3f s)\n", t_parse);
	fflush(stdout);

	if (mkdtemp(dir) == NULL) {
		perror("bench_crl: mkdtemp");
		goto out;
	}
	have_dir = 1;
	snprintf(cnf, sizeof(cnf),
	    "[ ca ]\ndefault_ca = bench\n"
	    "[ bench ]\ndir = %s\ndatabase = $dir/index.txt\n"
	    "certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\n"
	    "crlnumber = $dir/crlnumber\nnew_certs_dir = $dir\n"
	    "serial = $dir/serial\ndefault_md = sha256\n"
	    "default_crl_days = 1\nunique_subject = no\npolicy = pol\n"
	    "crl_extensions = crl_ext\n"
	    "[ pol ]\ncommonName = supplied\n"
	    "[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n", dir);
	if (!write_text(dir, "openssl.cnf", cnf) ||
	    !write_text(dir, "crlnumber", "01\n") ||
	    !write_text(dir, "index.txt.attr", "unique_subject = no\n") ||
	    !write_pki(dir, ca, key) || !write_index(dir, e, n)) {
		fprintf(stderr, "bench_crl: cannot write %s\n", dir);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "openssl ca -batch -gencrl -config "
	    "%s/openssl.cnf -out %s/openssl.crl", dir, dir);
	t0 = now_s();
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_crl: `%s` failed\n", cmd);
		goto out;
	}
	t_openssl = now_s() - t0;
	printf("openssl ca -gencrl:  %zu entries, %.3f s\n", n, t_openssl);
	printf("ratio openssl/crl_build: %.1fx\n", t_openssl / t_ours);
	rc = 0;
out:
	if (have_dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_crl: could not remove %s\n", dir);
	}
	X509_CRL_free(crl);
	free(der);
	X509_free(ca);
	EVP_PKEY_free(key);
	free(e);
	return rc;
}
