/*
 * app.c - loading the server's shared state once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/profile.h"
#include "ca/publish.h"
#include "common/fileio.h"
#include "common/log.h"
#include "db/db.h"
#include "server/app.h"
#include "server/enroll.h"

#define PEM_MAX (1 << 20)

static char *
read_text(const char *dir, const char *rel, char *err, size_t len)
{
	char path[1400];
	unsigned char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (file_read_all(path, PEM_MAX, &buf, &n) == -1) {
		snprintf(err, len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	return (char *)buf;
}

struct db *
app_db(struct app *a)
{
	struct db *db = pthread_getspecific(a->db_key);
	char err[512];

	if (db != NULL)
		return db;
	if ((db = db_open(a->db_path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return NULL;
	}
	pthread_mutex_lock(&a->dbs_lock);
	if (a->ndbs == APP_MAX_DBS) {
		pthread_mutex_unlock(&a->dbs_lock);
		db_close(db);
		log_err("too many database handles");
		return NULL;
	}
	a->dbs[a->ndbs++] = db;
	pthread_mutex_unlock(&a->dbs_lock);
	pthread_setspecific(a->db_key, db);
	return db;
}

static int
load_cas(struct app *a, struct db *db, char *err, size_t len)
{
	struct db_ca *cas = NULL;
	size_t n = 0;
	int rc = -1;

	if (db_ca_list(db, &cas, &n) != DB_OK) {
		snprintf(err, len, "reading CAs: %s", db_errmsg(db));
		return -1;
	}
	if ((a->own_store = X509_STORE_new()) == NULL)
		goto out;
	for (size_t i = 0; i < n && a->ncas < APP_MAX_CAS; i++) {
		const unsigned char *p = cas[i].der;
		X509 *x = d2i_X509(NULL, &p, (long)cas[i].der_len);

		if (x == NULL) {
			snprintf(err, len, "CA %s: stored certificate does "
			    "not parse", cas[i].name);
			goto out;
		}
		/* Roots are anchors; issuing CAs are added too so a chain of
		 * just the leaf verifies (they are ours, not the client's). */
		X509_STORE_add_cert(a->own_store, x);
		X509_free(x);
		struct app_ca_pub *pub = &a->cas[a->ncas++];
		snprintf(pub->name, sizeof(pub->name), "%s", cas[i].name);
		pub->der = cas[i].der;
		pub->len = cas[i].der_len;
		cas[i].der = NULL;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&cas[i]);
	free(cas);
	return rc;
}

int
app_load(struct app *a, const struct fc_config *cfg, char *err, size_t len)
{
	struct db *db;

	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	/* Workers never wait on the group commit (an enrollment parks its
	 * request and the committer wakes it: http_req_defer), so one
	 * worker per core is enough: "threads": 0 means that. */
	if (a->cfg.threads <= 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);

		a->cfg.threads = nc > 0 ? (int)nc : 1;
	}
	a->started = time(NULL);
	snprintf(a->db_path, sizeof(a->db_path), "%s/fleetca.db", cfg->dir);
	pthread_mutex_init(&a->dbs_lock, NULL);
	if (pthread_key_create(&a->db_key, NULL) != 0) {
		snprintf(err, len, "pthread_key_create failed");
		return -1;
	}
	if ((db = app_db(a)) == NULL) {
		snprintf(err, len, "%s: cannot open database", a->db_path);
		return -1;
	}
	if (load_cas(a, db, err, len) != 0)
		return -1;
	if ((a->signer = ca_signer_load(cfg->dir, db, cfg->public_http_url,
	    err, len)) == NULL)
		return -1;
	if (cfg->crl_delta) {
		/* RFC 5280 5.2.6: issued certificates point at the delta CRL
		 * that server/revocation.c publishes. */
		char durl[1200];

		if (ca_crl_delta_url(cfg->public_http_url,
		    ca_signer_name(a->signer), durl, sizeof(durl)) != 0 ||
		    ca_signer_set_freshest(a->signer, durl) != 0) {
			snprintf(err, len, "crl.delta: bad delta CRL URL");
			return -1;
		}
	}
	char pdir[1200];
	snprintf(pdir, sizeof(pdir), "%s/policies", cfg->dir);
	if ((a->profiles = ca_profiles_load(pdir, err, len)) == NULL)
		return -1;
	if ((a->tls_cert_pem = read_text(cfg->dir, "certs/tls_server.pem",
	    err, len)) == NULL ||
	    (a->tls_key_pem = read_text(cfg->dir, "secrets/tls_server.key",
	    err, len)) == NULL ||
	    (a->tls_trust_pem = read_text(cfg->dir, "certs/root_ca.pem", err,
	    len)) == NULL)
		return -1;
	if ((a->enroll = enroll_state_load(a, db, err, len)) == NULL)
		return -1;
	return 0;
}

void
app_free(struct app *a)
{
	for (int i = 0; i < a->ndbs; i++)
		db_close(a->dbs[i]);
	a->ndbs = 0;
	enroll_state_free(a->enroll);
	a->enroll = NULL;
	for (int i = 0; i < a->ncas; i++)
		free(a->cas[i].der);
	ca_signer_free(a->signer);
	ca_profiles_free(a->profiles);
	X509_STORE_free(a->own_store);
	if (a->tls_key_pem)
		OPENSSL_cleanse(a->tls_key_pem, strlen(a->tls_key_pem));
	free(a->tls_key_pem);
	free(a->tls_cert_pem);
	free(a->tls_trust_pem);
	pthread_key_delete(a->db_key);
	pthread_mutex_destroy(&a->dbs_lock);
}
