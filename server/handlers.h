/*
 * handlers.h - one function per endpoint; routes in server/routes.c.
 */
#ifndef FLEETCA_SERVER_HANDLERS_H
#define FLEETCA_SERVER_HANDLERS_H

#include "server/conf.h"
#include "server/http.h"

void h_healthz(void *app, struct http_req *req, struct http_resp *resp);
void h_metrics(void *app, struct http_req *req, struct http_resp *resp);
void h_ca_cert(void *app, struct http_req *req, struct http_resp *resp);
/* server/h_ocsp.c, server/h_crl.c (revocation service) */
void h_ocsp(void *app, struct http_req *req, struct http_resp *resp);
void h_ocsp_static_free(void *arg);
void h_crl(void *app, struct http_req *req, struct http_resp *resp);
/* EST (RFC 7030): /.well-known/est[/<label>]/<op>, TLS only. */
void h_est(void *app, struct http_req *req, struct http_resp *resp);

/* The route table for `fleetca serve`; body caps come from the config. */
const struct http_route *routes_get(const struct fc_config *cfg, size_t *n);

#endif
