/*
 * serve.h - running the server, for `serve` and for `demo`.
 */
#ifndef FLEETCA_SERVER_SERVE_H
#define FLEETCA_SERVER_SERVE_H

#include <signal.h>

struct app;

struct serve_ports {
	int http, https;
};

/*
 * Runs the listeners for a loaded app.  With stop_flag NULL, returns
 * after SIGINT/SIGTERM (which the caller blocked); otherwise when
 * *stop_flag becomes non-zero.  ports (optional) receives the bound ports
 * as soon as they are known.  0, or -1 when the listeners did not start.
 */
int serve_run(struct app *a, volatile sig_atomic_t *stop_flag,
    struct serve_ports *ports);

#endif
