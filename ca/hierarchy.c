/*
 * hierarchy.c - the CA hierarchy that `fleetca init` creates:
 *
 *   root CA (self-signed, 20 years)
 *     issuing CA 1 (10 years, pathlen 0)
 *       OCSP signer (2 years, id-kp-OCSPSigning + id-pkix-ocsp-nocheck)
 *       TLS server  (2 years, serverAuth, SAN host + localhost)
 *       admin       (2 years, clientAuth, CN=fleetca-admin)
 *
 * Keys go to secrets/ (0700) as 0600 files, certificates to certs/ (0755).
 * Nothing is overwritten, and a failure removes what this run created, so
 * init either completes or leaves the directory as it found it (apart from
 * the two subdirectories).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"
#include "common/log.h"
#include "db/db.h"
#include "ca/ca.h"
#include "ca/x509util.h"

#define DAY		86400
#define ROOT_DAYS	7305	/* 20 years */
#define ISSUING_DAYS	3653	/* 10 years */
#define LEAF_DAYS	730	/* 2 years */
/* "<name> Issuing CA 1" must fit ub-common-name (64). */
#define NAME_MAX_LEN	40
#define NFILES		10

/* What to put in one certificate. */
struct mkcert {
	const char *cn;
	const char *org;		/* may be NULL */
	EVP_PKEY *key;			/* subject key */
	X509 *issuer;			/* NULL: self-signed */
	EVP_PKEY *issuer_key;
	int days;
	int is_ca, pathlen;
	unsigned ku;
	int eku;			/* NID or 0 */
	int ocsp_nocheck;
	GENERAL_NAMES *san;		/* borrowed; may be NULL */
};

/* The five keys and certificates, indexed alike. */
enum { ROOT, ISSUING, OCSP, TLS, ADMIN, NOBJ };
static const char *const obj_names[NOBJ] = {
	"root_ca", "issuing_ca", "ocsp_signer", "tls_server", "admin"
};

struct created {
	char paths[NFILES][4096];
	size_t n;
};

static int
name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > NAME_MAX_LEN || s[0] == ' ' ||
	    s[len - 1] == ' ')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* A DNS name of letters, digits, hyphens and dots (RFC 1123 2.1). */
static int
host_dns_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.'))
			return 0;
	return strstr(s, "..") == NULL;
}

static int
is_ip(const char *s)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
	int r = ip != NULL;

	ERR_clear_error();
	ASN1_OCTET_STRING_free(ip);
	return r;
}

static X509 *
make_cert(const struct mkcert *m)
{
	X509 *x, *issuer;
	X509_NAME *name;
	unsigned char serial[CA_SERIAL_LEN];
	time_t now = ca_now(), na, ina;
	int ok = 0;

	if ((x = X509_new()) == NULL)
		goto out;
	issuer = m->issuer != NULL ? m->issuer : x;
	name = X509_get_subject_name(x);
	if (ca_x509_name_add(name, NID_commonName, m->cn) != 0 ||
	    (m->org != NULL &&
	    ca_x509_name_add(name, NID_organizationName, m->org) != 0))
		goto out;
	na = now + (time_t)m->days * DAY;
	/* A certificate never outlives its issuer. */
	if (m->issuer != NULL) {
		if (ca_x509_time(X509_get0_notAfter(m->issuer), &ina) != 0)
			goto out;
		if (na > ina)
			na = ina;
	}
	if (ca_serial_draw(serial) != 0 ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    ca_serial_set(x, serial, sizeof(serial)) != 0 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
	    ca_x509_set_validity(x, now - 300, na) != 0 ||
	    X509_set_pubkey(x, m->key) != 1)
		goto out;
	if (ca_x509_add_bc(x, m->is_ca, m->pathlen) != 0 ||
	    ca_x509_add_ext_free(x, ca_x509_ku_ext(m->ku)) != 0 ||
	    (m->eku != 0 &&
	    ca_x509_add_ext_free(x, ca_x509_eku_ext(&m->eku, 1)) != 0) ||
	    ca_x509_add_ski(x) != 0 ||
	    (m->issuer != NULL &&
	    ca_x509_add_ext_free(x, ca_x509_aki_ext(m->issuer)) != 0))
		goto out;
	if (m->san != NULL && X509_add1_ext_i2d(x, NID_subject_alt_name,
	    m->san, 0, X509V3_ADD_REPLACE) != 1)
		goto out;
	/* RFC 6960 4.2.2.2.1: the responder's certificate need not be
	 * checked for revocation; the extension value is NULL. */
	if (m->ocsp_nocheck) {
		ASN1_NULL *nul = ASN1_NULL_new();
		int r = nul != NULL && X509_add1_ext_i2d(x,
		    NID_id_pkix_OCSP_noCheck, nul, 0, X509V3_ADD_REPLACE) == 1;

		ASN1_NULL_free(nul);
		if (!r)
			goto out;
	}
	if (ca_x509_sign(x, m->issuer_key) != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		log_openssl("init: building certificate \"%s\"", m->cn);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* SAN of the TLS server: host (as DNS or IP) plus localhost and
 * 127.0.0.1 so local tools always work. */
static GENERAL_NAMES *
tls_san(const char *host)
{
	GENERAL_NAMES *g;
	int ok = 0;

	if ((g = GENERAL_NAMES_new()) == NULL)
		return NULL;
	if (is_ip(host)) {
		if (ca_x509_gens_add(g, GEN_IPADD, host) != 0)
			goto out;
	} else if (strcmp(host, "localhost") != 0 &&
	    ca_x509_gens_add(g, GEN_DNS, host) != 0)
		goto out;
	if (ca_x509_gens_add(g, GEN_DNS, "localhost") != 0 ||
	    (strcmp(host, "127.0.0.1") != 0 &&
	    ca_x509_gens_add(g, GEN_IPADD, "127.0.0.1") != 0))
		goto out;
	ok = 1;
out:
	if (!ok) {
		GENERAL_NAMES_free(g);
		return NULL;
	}
	return g;
}

/* mkdir with an exact mode; an existing directory is fine (and gets that
 * mode), anything else in the way is not. */
static int
make_dir(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	if (chmod(path, mode) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
path_join(char *out, size_t outlen, const char *dir, const char *sub,
    const char *name, const char *ext)
{
	int n = snprintf(out, outlen, "%s/%s/%s%s", dir, sub, name, ext);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Writes the PEM of certs[0..n) as a new 0644 file. */
static int
write_certs(struct created *c, const char *path, X509 *const *certs, size_t n,
    char *err, size_t errlen)
{
	BIO *b;
	char *data;
	long len;
	int rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (ca_x509_write_pem(b, certs[i]) != 0)
			goto out;
	if ((len = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	if (file_write_new(path, data, (size_t)len, 0644) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(c->paths[c->n++], sizeof(c->paths[0]), "%s", path);
	rc = 0;
out:
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "%s: cannot encode certificate", path);
	BIO_free(b);
	return rc;
}

static int
write_all(struct created *c, const char *dir, EVP_PKEY *const *keys,
    X509 *const *certs, char *err, size_t errlen)
{
	char path[4096];

	for (int i = 0; i < NOBJ; i++) {
		if (path_join(path, sizeof(path), dir, "secrets", obj_names[i],
		    ".key") != 0) {
			snprintf(err, errlen, "%s: path too long", dir);
			return -1;
		}
		if (ca_key_write(path, keys[i], err, errlen) != 0)
			return -1;
		snprintf(c->paths[c->n++], sizeof(c->paths[0]), "%s", path);
	}
	for (int i = 0; i < NOBJ; i++) {
		/* Leaves that TLS stacks load carry their chain (leaf,
		 * issuing CA); the root stays the peer's trust anchor. */
		X509 *chain[2] = { certs[i], certs[ISSUING] };
		size_t n = (i == TLS || i == ADMIN) ? 2 : 1;

		if (path_join(path, sizeof(path), dir, "certs", obj_names[i],
		    ".pem") != 0) {
			snprintf(err, errlen, "%s: path too long", dir);
			return -1;
		}
		if (write_certs(c, path, chain, n, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* A clear message before any work; O_EXCL still guards the writes. */
static int
refuse_existing(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[2][2] = {
		{ "secrets", ".key" }, { "certs", ".pem" }
	};
	char path[4096];
	struct stat st;

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < NOBJ; i++) {
			if (path_join(path, sizeof(path), dir, sub[k][0],
			    obj_names[i], sub[k][1]) != 0) {
				snprintf(err, errlen, "%s: path too long", dir);
				return -1;
			}
			if (lstat(path, &st) == 0) {
				snprintf(err, errlen, "%s already exists; "
				    "refusing to overwrite", path);
				return -1;
			}
		}
	return 0;
}

static int
insert_rows(struct db *db, X509 *const *certs, char *err, size_t errlen)
{
	static const char *const rows[2][3] = {
		{ "root-1", "root", "secrets/root_ca.key" },
		{ "issuing-1", "issuing", "secrets/issuing_ca.key" },
	};

	for (int i = 0; i < 2; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(certs[i == 0 ? ROOT : ISSUING], &der), rc;

		if (len <= 0) {
			log_openssl("i2d_X509");
			snprintf(err, errlen, "cannot encode CA certificate");
			return -1;
		}
		/* Both rows are in service: the root signs its own CRL,
		 * the issuing CA issues. */
		rc = db_ca_insert(db, rows[i][0], rows[i][1], 1, der,
		    (size_t)len, rows[i][2], NULL);
		OPENSSL_free(der);
		if (rc != DB_OK) {
			snprintf(err, errlen, "storing CA %s: %s", rows[i][0],
			    db_errmsg(db));
			return -1;
		}
	}
	return 0;
}

/* The five certificates; leaf keys are P-256 (RSA-3072 with an RSA
 * hierarchy, for peers that only do RSA). */
static int
make_all(const struct ca_init_params *p, const char *name, const char *host,
    EVP_PKEY **keys, X509 **certs, char *err, size_t errlen)
{
	enum ca_key_type leaf = p->key_type == CA_KEY_RSA3072 ?
	    CA_KEY_RSA3072 : CA_KEY_P256;
	char cn_root[80], cn_iss[80], cn_ocsp[80], cn_tls[80];
	GENERAL_NAMES *san = NULL;
	int rc = -1;

	for (int i = 0; i < NOBJ; i++)
		if ((keys[i] = ca_key_generate(i <= ISSUING ? p->key_type :
		    leaf)) == NULL) {
			snprintf(err, errlen, "cannot generate %s key",
			    obj_names[i]);
			return -1;
		}
	snprintf(cn_root, sizeof(cn_root), "%s Root CA", name);
	snprintf(cn_iss, sizeof(cn_iss), "%s Issuing CA 1", name);
	snprintf(cn_ocsp, sizeof(cn_ocsp), "%s OCSP Signer", name);
	/* ub-common-name is 64; a long host name stays in the SAN only. */
	snprintf(cn_tls, sizeof(cn_tls), "%s", strlen(host) <= 64 ? host :
	    "fleetca server");
	if ((san = tls_san(host)) == NULL) {
		snprintf(err, errlen, "bad host name \"%s\"", host);
		goto out;
	}
	{
		const struct mkcert m[NOBJ] = {
			[ROOT] = { cn_root, name, keys[ROOT], NULL, keys[ROOT],
			    ROOT_DAYS, 1, -1, CA_KU_KEY_CERT_SIGN |
			    CA_KU_CRL_SIGN, 0, 0, NULL },
			[ISSUING] = { cn_iss, name, keys[ISSUING], NULL,
			    keys[ROOT], ISSUING_DAYS, 1, 0,
			    CA_KU_KEY_CERT_SIGN | CA_KU_CRL_SIGN |
			    CA_KU_DIGITAL_SIGNATURE, 0, 0, NULL },
			[OCSP] = { cn_ocsp, name, keys[OCSP], NULL,
			    keys[ISSUING], LEAF_DAYS, 0, -1,
			    CA_KU_DIGITAL_SIGNATURE, NID_OCSP_sign, 1, NULL },
			[TLS] = { cn_tls, name, keys[TLS], NULL, keys[ISSUING],
			    LEAF_DAYS, 0, -1, CA_KU_DIGITAL_SIGNATURE |
			    (leaf == CA_KEY_RSA3072 ?
			    CA_KU_KEY_ENCIPHERMENT : 0), NID_server_auth, 0,
			    san },
			[ADMIN] = { "fleetca-admin", name, keys[ADMIN], NULL,
			    keys[ISSUING], LEAF_DAYS, 0, -1,
			    CA_KU_DIGITAL_SIGNATURE, NID_client_auth, 0, NULL },
		};

		for (int i = 0; i < NOBJ; i++) {
			struct mkcert mi = m[i];

			mi.issuer = i == ROOT ? NULL : i == ISSUING ?
			    certs[ROOT] : certs[ISSUING];
			if ((certs[i] = make_cert(&mi)) == NULL) {
				snprintf(err, errlen, "cannot build %s "
				    "certificate", obj_names[i]);
				goto out;
			}
		}
	}
	rc = 0;
out:
	GENERAL_NAMES_free(san);
	return rc;
}

int
ca_hierarchy_create(const struct ca_init_params *p, struct db *db, char *err,
    size_t errlen)
{
	EVP_PKEY *keys[NOBJ] = { NULL };
	X509 *certs[NOBJ] = { NULL };
	struct created c;
	char path[4096];
	const char *name, *host;
	int in_tx = 0, rc = -1;

	err[0] = '\0';
	c.n = 0;
	if (p == NULL || p->dir == NULL || db == NULL) {
		snprintf(err, errlen, "init: no directory or database");
		return -1;
	}
	name = p->name != NULL ? p->name : "fleetca";
	host = p->hostname != NULL ? p->hostname : "localhost";
	if (!name_ok(name)) {
		snprintf(err, errlen, "name \"%s\": need 1-%d printable ASCII "
		    "characters", name, NAME_MAX_LEN);
		return -1;
	}
	if (!is_ip(host) && !host_dns_ok(host)) {
		snprintf(err, errlen, "host \"%s\": not a DNS name or IP "
		    "address", host);
		return -1;
	}
	if (strcmp(ca_key_type_name(p->key_type), "?") == 0) {
		snprintf(err, errlen, "unknown key type %d", (int)p->key_type);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/certs", p->dir) >=
	    (int)sizeof(path) - 32) {
		snprintf(err, errlen, "%s: path too long", p->dir);
		return -1;
	}
	if (make_dir(path, 0755, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/secrets", p->dir);
	if (make_dir(path, 0700, err, errlen) != 0)
		return -1;
	if (refuse_existing(p->dir, err, errlen) != 0 ||
	    make_all(p, name, host, keys, certs, err, errlen) != 0)
		goto out;
	if (db_begin(db) != DB_OK) {
		snprintf(err, errlen, "database: %s", db_errmsg(db));
		goto out;
	}
	in_tx = 1;
	if (write_all(&c, p->dir, keys, certs, err, errlen) != 0 ||
	    insert_rows(db, certs, err, errlen) != 0)
		goto out;
	if (db_commit(db) != DB_OK) {
		snprintf(err, errlen, "database commit: %s", db_errmsg(db));
		goto out;
	}
	in_tx = 0;
	log_info("init: %s hierarchy (%s) created in %s", name,
	    ca_key_type_name(p->key_type), p->dir);
	rc = 0;
out:
	if (rc != 0) {
		if (in_tx)
			db_rollback(db);
		for (size_t i = 0; i < c.n; i++)
			unlink(c.paths[i]);
	}
	for (int i = 0; i < NOBJ; i++) {
		EVP_PKEY_free(keys[i]);
		X509_free(certs[i]);
	}
	return rc;
}
