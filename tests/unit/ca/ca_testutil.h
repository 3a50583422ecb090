/*
 * ca_testutil.h - helpers shared by the ca/ unit suites: scratch
 * directories and in-process CSRs.  Header-only (static) so each suite
 * stays one file plus the sources under test.
 */
#ifndef FLEETCA_TESTS_CA_TESTUTIL_H
#define FLEETCA_TESTS_CA_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TU_UNUSED __attribute__((unused))

static void
tu_rm_r(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[4096];

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			tu_rm_r(sub);
		}
		closedir(d);
	}
	remove(path);
}

/* Removes a scratch tree made by tu_mkdtemp() (and nothing else). */
static TU_UNUSED void
tu_rmtree(const char *dir)
{
	if (dir != NULL && strncmp(dir, "/tmp/ca-core-", 13) == 0)
		tu_rm_r(dir);
}

/* Fills buf with a fresh /tmp/ca-core-XXXXXX directory. */
static TU_UNUSED void
tu_mkdtemp(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/ca-core-XXXXXX");
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

/* A CSR for key with subject CN=cn, signed by key (NULL md for
 * Ed25519).  Caller frees with X509_REQ_free(). */
static TU_UNUSED X509_REQ *
tu_csr(EVP_PKEY *key, const char *cn)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ?
	    NULL : EVP_sha256();

	if (r == NULL || n == NULL ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(r, n) != 1 ||
	    X509_REQ_set_pubkey(r, key) != 1 ||
	    X509_REQ_sign(r, key, md) <= 0) {
		X509_REQ_free(r);
		r = NULL;
	}
	X509_NAME_free(n);
	return r;
}

#endif
