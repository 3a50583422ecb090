/*
 * keys.c - CA and service key generation and PEM PKCS#8 key files.
 *
 * Key files are created 0600 with O_EXCL (common/fileio.h), so a key is
 * never readable by others and an existing key is never overwritten.
 * Buffers that held key material are wiped before they are freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/fileio.h"
#include "common/log.h"
#include "ca/ca.h"

/* A PEM key of any supported type is a few KiB at most. */
#define KEY_FILE_MAX (64 * 1024)

static const char *const key_type_names[] = {
	[CA_KEY_P256] = "p256",
	[CA_KEY_P384] = "p384",
	[CA_KEY_RSA3072] = "rsa3072",
	[CA_KEY_ED25519] = "ed25519",
};
#define NKEY_TYPES (sizeof(key_type_names) / sizeof(key_type_names[0]))

int
ca_key_type_parse(const char *s, enum ca_key_type *t)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < NKEY_TYPES; i++)
		if (strcmp(s, key_type_names[i]) == 0) {
			*t = (enum ca_key_type)i;
			return 0;
		}
	return -1;
}

const char *
ca_key_type_name(enum ca_key_type t)
{
	if ((unsigned)t >= NKEY_TYPES)
		return "?";
	return key_type_names[t];
}

EVP_PKEY *
ca_key_generate(enum ca_key_type t)
{
	EVP_PKEY *k = NULL;

	switch (t) {
	case CA_KEY_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CA_KEY_P384:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case CA_KEY_RSA3072:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case CA_KEY_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		log_err("key generation: unknown key type %d", (int)t);
		return NULL;
	}
	if (k == NULL)
		log_openssl("EVP_PKEY_Q_keygen(%s)", ca_key_type_name(t));
	return k;
}

int
ca_key_write(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
	BIO *mem;
	char *data;
	long len;
	int rc = -1;

	if ((mem = BIO_new(BIO_s_secmem())) == NULL) {
		log_openssl("BIO_new");
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* PEM_write_bio_PrivateKey with no cipher writes PKCS#8
	 * "PRIVATE KEY" in OpenSSL 3. */
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		log_openssl("PEM_write_bio_PrivateKey");
		snprintf(err, errlen, "%s: cannot encode key", path);
		goto out;
	}
	if ((len = BIO_get_mem_data(mem, &data)) <= 0) {
		snprintf(err, errlen, "%s: cannot encode key", path);
		goto out;
	}
	if (file_write_new(path, data, (size_t)len, 0600) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	/* A secure-memory BIO clears its buffer when freed. */
	BIO_free(mem);
	return rc;
}

/* Passphrase callback for reading: key files are never encrypted, and
 * OpenSSL's default callback would prompt on the terminal (a hang in a
 * daemon), so refuse. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *
ca_key_read(const char *path, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;
	BIO *mem = NULL;
	EVP_PKEY *k = NULL;

	if (file_read_all(path, KEY_FILE_MAX, &buf, &len) == -1) {
		snprintf(err, errlen, "%s: %s", path,
		    errno == EFBIG ? "file too large" : strerror(errno));
		return NULL;
	}
	/* A key others can read is still used (the operator may have a
	 * reason), but it is worth a warning. */
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("%s: private key is accessible to group or others",
		    path);
	if (len > INT32_MAX ||
	    (mem = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(err, errlen, "%s: cannot read key", path);
		goto out;
	}
	if ((k = PEM_read_bio_PrivateKey(mem, NULL, no_passphrase,
	    NULL)) == NULL) {
		log_openssl("PEM_read_bio_PrivateKey(%s)", path);
		snprintf(err, errlen, "%s: not a PEM private key", path);
		goto out;
	}
out:
	BIO_free(mem);
	OPENSSL_clear_free(buf, len + 1);
	return k;
}
