/*
 * cmd_serve.c - `fleetca serve`: run the listeners until SIGINT/SIGTERM.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "server/app.h"
#include "server/cli.h"
#include "server/conf.h"
#include "server/handlers.h"
#include "server/http.h"
#include "server/revocation.h"
#include "server/serve.h"

int
serve_run(struct app *a, volatile sig_atomic_t *stop_flag,
    struct serve_ports *ports)
{
	const struct http_route *routes;
	struct http_server *hs;
	struct http_tls tls;
	char err[512];
	size_t nroutes;
	int threads = a->cfg.threads;

	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (int)n : 1;
	}
	/* The revocation publisher runs while the listeners do; its first
	 * CRLs are signed before the first request can ask. */
	if (a->rev == NULL && ((a->rev = revocation_new(a, err,
	    sizeof(err))) == NULL || revocation_start(a->rev) != 0)) {
		log_err("revocation service: %s", a->rev ? "thread" : err);
		revocation_free(a->rev);
		a->rev = NULL;
		return -1;
	}
	routes = routes_get(&a->cfg, &nroutes);
	tls.cert_pem = a->tls_cert_pem;
	tls.key_pem = a->tls_key_pem;
	tls.trust_pem = a->tls_trust_pem;
	hs = http_server_start(a->cfg.listen_addr, a->cfg.http_port,
	    a->cfg.https_port, &tls, routes, nroutes, a, threads,
	    a->cfg.conn_timeout_s, a->cfg.conn_limit, err, sizeof(err));
	if (hs == NULL) {
		log_err("%s", err);
		revocation_free(a->rev);
		a->rev = NULL;
		return -1;
	}
	if (ports != NULL) {
		ports->http = http_server_port(hs, 0);
		ports->https = http_server_port(hs, 1);
	}
	log_info("serving %s: HTTP %s:%d, HTTPS %s:%d, %d threads",
	    a->cfg.dir, a->cfg.listen_addr, http_server_port(hs, 0),
	    a->cfg.listen_addr, http_server_port(hs, 1), threads);
	if (stop_flag == NULL) {
		/* Block until a signal; sigwait keeps handlers out of it. */
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigwait(&set, &sig);
		log_info("signal %d: shutting down", sig);
	} else {
		while (!*stop_flag)
			usleep(100000);
	}
	http_server_stop(hs);
	revocation_free(a->rev);	/* after the listeners: no request left */
	a->rev = NULL;
	return 0;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL;
	struct fc_config cfg;
	struct app *a;
	sigset_t set;
	char err[512];
	int c, rc = EXIT_REFUSED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd') {
			cli_usage();
			return EXIT_USAGE;
		}
		dir = optarg;
	}
	if (optind != argc) {
		cli_fail("serve: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((dir = cli_dir(dir)) == NULL)
		return EXIT_USAGE;
	if (config_load(&cfg, dir, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		return EXIT_REFUSED;
	}
	log_set_level(cfg.log_level);
	/* Block the stop signals in every thread (workers inherit the mask)
	 * so only serve_run's sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return EXIT_REFUSED;
	if (app_load(a, &cfg, err, sizeof(err)) != 0) {
		cli_fail("%s", err);
		goto out;
	}
	if (serve_run(a, NULL, NULL) == 0)
		rc = EXIT_DONE;
out:
	app_free(a);
	free(a);
	return rc;
}
