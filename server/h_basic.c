/*
 * h_basic.c - /healthz, /metrics and /ca/<name>.crt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "server/app.h"
#include "server/handlers.h"

void
h_healthz(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	struct db *db = app_db(a);
	int64_t epoch;

	(void)req;
	/* Healthy means the store answers, not just that a thread runs. */
	if (db == NULL || db_revocation_epoch(db, &epoch) != DB_OK) {
		http_resp_text(resp, 503, "database unavailable");
		return;
	}
	http_resp_text(resp, 200, "ok");
}

void
h_metrics(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	char *buf;
	int n;

	(void)req;
	if ((buf = malloc(1024)) == NULL) {
		http_resp_text(resp, 503, "out of memory");
		return;
	}
	n = snprintf(buf, 1024,
	    "# TYPE fleetca_requests_total counter\n"
	    "fleetca_requests_total %llu\n"
	    "# TYPE fleetca_certificates_issued_total counter\n"
	    "fleetca_certificates_issued_total %llu\n"
	    "# TYPE fleetca_enrollments_refused_total counter\n"
	    "fleetca_enrollments_refused_total %llu\n"
	    "# TYPE fleetca_ocsp_responses_total counter\n"
	    "fleetca_ocsp_responses_total %llu\n"
	    "# TYPE fleetca_start_time_seconds gauge\n"
	    "fleetca_start_time_seconds %lld\n",
	    (unsigned long long)a->m.requests,
	    (unsigned long long)a->m.issued,
	    (unsigned long long)a->m.refused,
	    (unsigned long long)a->m.ocsp,
	    (long long)a->started);
	http_resp_body(resp, 200, "text/plain; version=0.0.4",
	    (unsigned char *)buf, n > 0 ? (size_t)n : 0);
}

void
h_ca_cert(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	size_t rl = strlen(req->rest);

	if (rl > 4 && strcmp(req->rest + rl - 4, ".crt") == 0) {
		for (int i = 0; i < a->ncas; i++) {
			if (strlen(a->cas[i].name) == rl - 4 &&
			    memcmp(a->cas[i].name, req->rest, rl - 4) == 0) {
				unsigned char *b = malloc(a->cas[i].len);

				if (b == NULL) {
					http_resp_text(resp, 503, "out of memory");
					return;
				}
				memcpy(b, a->cas[i].der, a->cas[i].len);
				http_resp_body(resp, 200, "application/pkix-cert",
				    b, a->cas[i].len);
				return;
			}
		}
	}
	http_resp_text(resp, 404, "no such CA certificate");
}
