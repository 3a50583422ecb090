/*
 * app.h - the running server's shared state, handed to every handler.
 *
 * Everything here is loaded once at start (trust stores, profiles, CA key,
 * TLS material) so the per-request path does no parsing that could have
 * been done before.  Fields are read-only after app_load() unless noted.
 */
#ifndef FLEETCA_SERVER_APP_H
#define FLEETCA_SERVER_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "server/conf.h"

struct db;
struct ca_signer;
struct ca_profiles;
struct revocation;
struct enroll_state;

#define APP_MAX_CAS 16
#define APP_MAX_DBS 256

struct app_ca_pub {
	char name[64];		/* "issuing-1": served at /ca/<name>.crt */
	unsigned char *der;
	size_t len;
};

struct app_metrics {
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t issued;
	atomic_uint_fast64_t refused;
	atomic_uint_fast64_t ocsp;
};

struct app {
	struct fc_config cfg;
	char db_path[1200];
	pthread_key_t db_key;
	pthread_mutex_t dbs_lock;	/* guards dbs/ndbs */
	struct db *dbs[APP_MAX_DBS];	/* every per-thread handle, to close */
	int ndbs;
	struct ca_signer *signer;
	struct ca_profiles *profiles;
	X509_STORE *own_store;		/* fleetca's root (+ issuing) */
	struct app_ca_pub cas[APP_MAX_CAS];
	int ncas;
	char *tls_cert_pem, *tls_key_pem, *tls_trust_pem;
	struct app_metrics m;
	struct revocation *rev;		/* set by serve_run; may be NULL */
	/* EST/enrollment: RA policy, manufacturer trust, group committer
	 * (server/enroll.h); owned. */
	struct enroll_state *enroll;
	time_t started;
};

/* Loads everything a server needs from cfg->dir.  0, or -1 with err. */
int app_load(struct app *a, const struct fc_config *cfg, char *err,
    size_t len);
void app_free(struct app *a);

/* This thread's database handle, opened on first use; NULL on failure
 * (logged).  Handles live until app_free(). */
struct db *app_db(struct app *a);

#endif
