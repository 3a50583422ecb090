/*
 * cmd_demo.c - `fleetca demo [--dir DIR] [--devices N] [--serve]`: the
 * whole onboarding story in one command, on free 127.0.0.1 ports.
 *
 * init -> a simulated chip vendor (ra/mfgsim) with N chips, plus one chip
 * left unclaimed and one counterfeit (genuine-looking, in no manifest) ->
 * trust its root and manifest signer -> import the manifest -> claim the
 * N chips for acme.example -> serve in-process -> every chip enrolls over
 * EST with its IDevID (our own C client) -> a few re-enroll with their
 * LDevID -> the unclaimed and the counterfeit chip are refused -> one
 * LDevID is revoked and OCSP is asked until it says so -> summary.
 */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "db/db.h"
#include "ra/mfgsim.h"
#include "ca/ca.h"
#include "ra/registry.h"
#include "ra/revoke.h"
#include "server/app.h"
#include "server/cli.h"
#include "server/conf.h"
#include "server/est_client.h"
#include "server/serve.h"

#define DEMO_OWNER "acme.example"
#define DEMO_REENROLL 3
#define DEMO_MAX_DEVICES 100000

static volatile sig_atomic_t demo_stop;

struct serve_arg {
	struct app *a;
	struct serve_ports ports;
	int rc;
};

static void *
serve_thread(void *arg)
{
	struct serve_arg *s = arg;

	s->rc = serve_run(s->a, &demo_stop, &s->ports);
	return NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	demo_stop = 1;
}

/* A free TCP port on 127.0.0.1 (the kernel's choice), or -1. */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
der_of(X509 *x, unsigned char **der, size_t *len)
{
	int n;

	*der = NULL;
	if ((n = i2d_X509(x, der)) <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

static int
trust_cert(struct db *db, enum ra_trust_kind kind, X509 *x)
{
	unsigned char *der;
	size_t len;
	char err[256];
	int added = 0, known = 0, rc;

	if (der_of(x, &der, &len) != 0)
		return -1;
	rc = ra_trust_add_blob(db, kind, der, len, "demo", &added, &known,
	    err, sizeof(err));
	OPENSSL_free(der);
	if (rc != 0)
		cli_fail("demo: trust: %s", err);
	return rc;
}

/* Enrolls chip i with its IDevID.  Returns the ESTC status; on success
 * *ldevid and *lkey are the new certificate and key. */
static enum estc_err
enroll_chip(const struct mfgsim *sim, size_t i, unsigned short port,
    const char *cafile, X509 **ldevid, EVP_PKEY **lkey, char *reason,
    size_t rlen)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct estc *c = NULL;
	X509_REQ *req = NULL;
	enum estc_err e = ESTC_ERR_INTERNAL;
	int st = 0;

	*ldevid = NULL;
	*lkey = NULL;
	snprintf(reason, rlen, "internal error");
	if (chain == NULL || !sk_X509_push(chain, mfgsim_signer_ca(sim)) ||
	    (c = estc_new("127.0.0.1", port, cafile)) == NULL ||
	    !estc_set_identity(c, mfgsim_device_cert(sim, i), chain,
	    mfgsim_device_key(sim, i)) ||
	    (*lkey = EVP_EC_gen("P-256")) == NULL ||
	    (req = estc_make_csr(*lkey, mfgsim_device_uid(sim, i))) == NULL)
		goto out;
	e = estc_simpleenroll(c, NULL, req, ldevid, &st, reason, rlen);
out:
	if (e != ESTC_OK) {
		EVP_PKEY_free(*lkey);
		*lkey = NULL;
	}
	X509_REQ_free(req);
	estc_free(c);
	sk_X509_free(chain);	/* members are lent by sim */
	return e;
}

static enum estc_err
reenroll(const char *uid, X509 *cert, EVP_PKEY *key, unsigned short port,
    const char *cafile, X509 **out, EVP_PKEY **okey, char *reason,
    size_t rlen)
{
	struct estc *c = NULL;
	X509_REQ *req = NULL;
	enum estc_err e = ESTC_ERR_INTERNAL;
	int st = 0;

	*out = NULL;
	if ((c = estc_new("127.0.0.1", port, cafile)) == NULL ||
	    !estc_set_identity(c, cert, NULL, key) ||
	    (*okey = EVP_EC_gen("P-256")) == NULL ||
	    (req = estc_make_csr(*okey, uid)) == NULL)
		goto out;
	e = estc_simplereenroll(c, NULL, req, out, &st, reason, rlen);
out:
	X509_REQ_free(req);
	estc_free(c);
	return e;
}

/*
 * Asks the running responder (plain HTTP, as any relying party would)
 * about cert; returns V_OCSP_CERTSTATUS_GOOD/REVOKED/UNKNOWN, or -1.
 * The response's signature is checked against the root in cafile.
 */
static int
ocsp_status(unsigned short port, X509 *cert, X509 *issuer, const char *cafile)
{
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *basic = NULL;
	X509_STORE *store = NULL;
	OCSP_CERTID *id = NULL;
	STACK_OF(X509) *untrusted = NULL;
	BIO *bio = NULL;
	char host[64];
	int status = -1, reason = 0;

	snprintf(host, sizeof(host), "127.0.0.1:%u", port);
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL ||
	    OCSP_request_add0_id(req, OCSP_CERTID_dup(id)) == NULL ||
	    (bio = BIO_new_connect(host)) == NULL ||
	    BIO_do_connect(bio) <= 0 ||
	    (resp = OCSP_sendreq_bio(bio, "/ocsp", req)) == NULL ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL ||
	    (store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(store, cafile) != 1 ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(untrusted, issuer) ||	/* the signer's issuer */
	    OCSP_basic_verify(basic, untrusted, store, 0) != 1 ||
	    OCSP_resp_find_status(basic, id, &status, &reason, NULL, NULL,
	    NULL) != 1)
		status = -1;
	ERR_clear_error();
	sk_X509_free(untrusted);	/* borrowed certificate */
	X509_STORE_free(store);
	OCSP_BASICRESP_free(basic);
	OCSP_RESPONSE_free(resp);
	BIO_free_all(bio);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return status;
}

/* Revokes one LDevID through the core function (as `fleetca cert revoke`
 * does) and polls OCSP until the responder says so; 1 when it did. */
static int
demo_revocation(struct db *db, X509 *good, X509 *victim, X509 *issuer,
    unsigned short http_port, const char *cafile)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(victim);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL, err[256];
	struct timespec t0, t1;
	int st = -1, ok = 0;

	if (hex == NULL || db == NULL)
		goto out;
	printf("== OCSP before: device 1 %s, device 2 %s\n",
	    ocsp_status(http_port, good, issuer, cafile) ==
	    V_OCSP_CERTSTATUS_GOOD ? "good" : "NOT GOOD",
	    ocsp_status(http_port, victim, issuer, cafile) ==
	    V_OCSP_CERTSTATUS_GOOD ? "good" : "NOT GOOD");
	if (ra_revoke_serial(db, hex, "keyCompromise", 0, "demo", err,
	    sizeof(err)) != RA_REVOKED) {
		printf("   revocation failed: %s\n", err);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 40; i++) {	/* 2 s at most */
		st = ocsp_status(http_port, victim, issuer, cafile);
		if (st == V_OCSP_CERTSTATUS_REVOKED)
			break;
		usleep(50000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok = st == V_OCSP_CERTSTATUS_REVOKED;
	printf("== revoked device 2's LDevID %s (keyCompromise): OCSP says "
	    "%s after %.0f ms\n", hex, ok ? "revoked" : "NOT revoked",
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return ok;
}

int
cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "devices", required_argument, NULL, 'n' },
		{ "serve", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	char dir[PATH_MAX], cafile[PATH_MAX + 32], err[512], hp[16], sp[16];
	const char *dir_opt = NULL;
	long ndev = 20;
	int keep_serving = 0, c, rc = EXIT_REFUSED, http_port, https_port;
	struct mfgsim *sim = NULL;
	struct db *db = NULL;
	struct app *a = NULL;
	struct fc_config cfg;
	struct serve_arg sa;
	pthread_t st;
	int serving = 0;
	size_t ok = 0, refused_ok = 0, re_ok = 0;
	int revoked_ok = 0;
	X509 **ldev = NULL;
	EVP_PKEY **lkey = NULL;
	char *manifest = NULL;
	size_t mlen;
	struct ra_import_result res;
	double t0, t1;
	struct timespec ts;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'd':
			dir_opt = optarg;
			break;
		case 'n':
			ndev = strtol(optarg, &end, 10);
			if (*end != '\0' || ndev < 1 || ndev > DEMO_MAX_DEVICES) {
				cli_fail("demo: --devices takes 1..%d",
				    DEMO_MAX_DEVICES);
				return EXIT_USAGE;
			}
			break;
		case 's':
			keep_serving = 1;
			break;
		default:
			cli_fail("usage: fleetca demo [--dir DIR] "
			    "[--devices N] [--serve]");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_fail("demo: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (dir_opt != NULL) {
		snprintf(dir, sizeof(dir), "%s", dir_opt);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/fleetca-demo-XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			cli_fail("demo: cannot create a temporary folder");
			return EXIT_REFUSED;
		}
		/* init wants an empty or absent directory: use a child. */
		strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	}
	if ((http_port = free_port()) < 0 || (https_port = free_port()) < 0 ||
	    http_port == https_port) {
		cli_fail("demo: no free port");
		return EXIT_REFUSED;
	}
	snprintf(hp, sizeof(hp), "%d", http_port);
	snprintf(sp, sizeof(sp), "%d", https_port);
	printf("== fleetca demo: data directory %s\n", dir);
	fflush(stdout);
	{
		char *iargv[] = { "init", "--dir", dir, "--name",
		    "fleetca demo", "--hostname", "127.0.0.1", "--http-port",
		    hp, "--https-port", sp, NULL };

		if (cmd_init(11, iargv) != EXIT_DONE)
			return EXIT_REFUSED;
	}
	if (config_load(&cfg, dir, err, sizeof(err)) != 0) {
		cli_fail("demo: %s", err);
		return EXIT_REFUSED;
	}
	snprintf(cafile, sizeof(cafile), "%s/certs/root_ca.pem", dir);
	snprintf(err, sizeof(err), "%s/fleetca.db", dir);
	if ((db = db_open(err, err, sizeof(err))) == NULL) {
		cli_fail("demo: %s", err);
		return EXIT_REFUSED;
	}

	/* The chip vendor: N chips to sell, one kept back, one counterfeit. */
	printf("== simulated manufacturer: %ld chips + 1 unclaimed + 1 "
	    "counterfeit\n", ndev);
	if ((sim = mfgsim_new(time(NULL), err, sizeof(err))) == NULL) {
		cli_fail("demo: %s", err);
		goto out;
	}
	if (!mfgsim_add_chips(sim, (size_t)ndev + 1, MFGSIM_GOOD, 2) ||
	    !mfgsim_add_chips(sim, 1, MFGSIM_COUNTERFEIT, 1)) {
		cli_fail("demo: making chips failed");
		goto out;
	}
	if (trust_cert(db, RA_TRUST_MANUFACTURER, mfgsim_root(sim)) != 0 ||
	    trust_cert(db, RA_TRUST_MANIFEST_SIGNER,
	    mfgsim_manifest_signer(sim)) != 0)
		goto out;
	printf("   trusted the vendor's root CA and manifest signer\n");
	if ((manifest = mfgsim_manifest(sim, &mlen)) == NULL ||
	    ra_manifest_import(db, (unsigned char *)manifest, mlen,
	    "demo-manifest.json", "demo", 2, time(NULL), NULL, NULL, &res,
	    err, sizeof(err)) != 0) {
		cli_fail("demo: manifest import: %s", manifest ? err :
		    "out of memory");
		goto out;
	}
	printf("   imported the manifest: %zu entries, %zu devices "
	    "registered, %zu rejected\n", res.total, res.imported,
	    res.rejected);
	for (long i = 0; i < ndev; i++)
		if (ra_device_claim(db, mfgsim_device_uid(sim, (size_t)i),
		    DEMO_OWNER, "demo", err, sizeof(err)) != 0) {
			cli_fail("demo: claim: %s", err);
			goto out;
		}
	printf("   claimed %ld devices for %s (chip %s left unclaimed)\n",
	    ndev, DEMO_OWNER, mfgsim_device_uid(sim, (size_t)ndev));
	db_close(db);
	db = NULL;

	/* Serve in-process on the free ports. */
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto out;
	log_set_level(LOG_LVL_WARN);
	if (app_load(a, &cfg, err, sizeof(err)) != 0) {
		cli_fail("demo: %s", err);
		free(a);
		a = NULL;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.a = a;
	sa.ports.http = sa.ports.https = 0;
	demo_stop = 0;
	if (pthread_create(&st, NULL, serve_thread, &sa) != 0)
		goto out;
	serving = 1;
	for (int i = 0; i < 200 && sa.ports.https <= 0 && sa.rc == 0; i++)
		usleep(20000);
	if (sa.ports.https <= 0) {
		cli_fail("demo: the server did not start");
		goto out;
	}
	printf("== serving: HTTP 127.0.0.1:%d, HTTPS (EST) 127.0.0.1:%d\n",
	    sa.ports.http, sa.ports.https);

	if ((ldev = calloc((size_t)ndev, sizeof(*ldev))) == NULL ||
	    (lkey = calloc((size_t)ndev, sizeof(*lkey))) == NULL)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec + ts.tv_nsec / 1e9;
	for (long i = 0; i < ndev; i++) {
		char reason[160];
		enum estc_err e = enroll_chip(sim, (size_t)i,
		    (unsigned short)sa.ports.https, cafile, &ldev[i], &lkey[i],
		    reason, sizeof(reason));

		if (e == ESTC_OK)
			ok++;
		else
			printf("   %s: enrollment failed: %s: %s\n",
			    mfgsim_device_uid(sim, (size_t)i), estc_err_str(e),
			    reason);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = ts.tv_sec + ts.tv_nsec / 1e9;
	printf("== simpleenroll with the IDevID: %zu of %ld devices got an "
	    "LDevID (%.2f s, one new mutual-TLS connection each)\n", ok, ndev,
	    t1 - t0);
	if (ok > 0 && ldev[0] != NULL) {
		char subj[256];

		X509_NAME_oneline(X509_get_subject_name(ldev[0]), subj,
		    sizeof(subj));
		printf("   e.g. %s\n", subj);
	}
	for (long i = 0; i < ndev && i < DEMO_REENROLL; i++) {
		X509 *nc = NULL;
		EVP_PKEY *nk = NULL;
		char reason[160];
		enum estc_err e;

		if (ldev[i] == NULL)
			continue;
		e = reenroll(mfgsim_device_uid(sim, (size_t)i), ldev[i],
		    lkey[i], (unsigned short)sa.ports.https, cafile, &nc, &nk,
		    reason, sizeof(reason));
		if (e == ESTC_OK) {
			re_ok++;
			X509_free(ldev[i]);
			EVP_PKEY_free(lkey[i]);
			ldev[i] = nc;
			lkey[i] = nk;
		} else {
			printf("   %s: re-enrollment failed: %s: %s\n",
			    mfgsim_device_uid(sim, (size_t)i), estc_err_str(e),
			    reason);
			EVP_PKEY_free(nk);
		}
	}
	printf("== simplereenroll with the LDevID: %zu of %d devices renewed "
	    "(new key each)\n", re_ok, ndev < DEMO_REENROLL ? (int)ndev :
	    DEMO_REENROLL);
	{
		static const char *const what[] = { "unclaimed chip",
		    "counterfeit chip (not in any manifest)" };
		static const char *const want[] = { "not_claimed",
		    "unknown_device" };

		for (size_t k = 0; k < 2; k++) {
			X509 *x = NULL;
			EVP_PKEY *kk = NULL;
			char reason[160];
			size_t idx = (size_t)ndev + k;
			enum estc_err e = enroll_chip(sim, idx,
			    (unsigned short)sa.ports.https, cafile, &x, &kk,
			    reason, sizeof(reason));

			printf("== refusal, %s %s: %s%s%s\n", what[k],
			    mfgsim_device_uid(sim, idx), e == ESTC_OK ?
			    "ENROLLED (unexpected)" : estc_err_str(e),
			    e == ESTC_OK ? "" : ": ", e == ESTC_OK ? "" :
			    reason);
			if (e == ESTC_ERR_HTTP && strcmp(reason, want[k]) == 0)
				refused_ok++;
			X509_free(x);
			EVP_PKEY_free(kk);
		}
	}
	if (ndev >= 2 && ldev[0] != NULL && ldev[1] != NULL)
		revoked_ok = demo_revocation(app_db(a), ldev[0], ldev[1],
		    ca_signer_cert(a->signer), (unsigned short)sa.ports.http,
		    cafile);
	printf("== summary: %zu/%ld enrolled, %zu/%d re-enrolled, %zu/2 "
	    "refusals as expected, revocation %s; metrics: %llu issued, "
	    "%llu refused\n",
	    ok, ndev, re_ok, ndev < DEMO_REENROLL ? (int)ndev : DEMO_REENROLL,
	    refused_ok, revoked_ok ? "seen by OCSP" : "NOT seen",
	    (unsigned long long)a->m.issued,
	    (unsigned long long)a->m.refused);
	printf("   data directory: %s\n   try: fleetca device list --dir %s"
	    "\n        fleetca audit verify --dir %s\n", dir, dir, dir);
	if (keep_serving) {
		printf("== serving until Ctrl-C (EST at https://127.0.0.1:%d"
		    "/.well-known/est/, CA %s)\n", sa.ports.https, cafile);
		fflush(stdout);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!demo_stop)
			pause();
	}
	rc = ok == (size_t)ndev && refused_ok == 2 &&
	    (ndev < 2 || revoked_ok) &&
	    re_ok == (size_t)(ndev < DEMO_REENROLL ? ndev : DEMO_REENROLL) ?
	    EXIT_DONE : EXIT_REFUSED;
out:
	if (serving) {
		demo_stop = 1;
		pthread_join(st, NULL);
	}
	for (long i = 0; ldev != NULL && i < ndev; i++)
		X509_free(ldev[i]);
	for (long i = 0; lkey != NULL && i < ndev; i++)
		EVP_PKEY_free(lkey[i]);
	free(ldev);
	free(lkey);
	free(manifest);
	if (a != NULL) {
		app_free(a);
		free(a);
	}
	db_close(db);
	mfgsim_free(sim);
	return rc;
}
