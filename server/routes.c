/*
 * routes.c - which handler answers which path on which listener.
 *
 * The HTTP listener serves only what is signed or public (DESIGN.md);
 * everything that needs a client identity lives on the TLS listener.
 */
#include <stddef.h>

#include "server/handlers.h"

#define NROUTES_MAX 32

static struct http_route table[NROUTES_MAX];

const struct http_route *
routes_get(const struct fc_config *cfg, size_t *n)
{
	size_t i = 0;

	(void)cfg;
	table[i++] = (struct http_route){ HTTP_PLAIN | HTTP_TLS,
	    HTTP_M_GET | HTTP_M_HEAD, "/healthz", 0, h_healthz };
	table[i++] = (struct http_route){ HTTP_PLAIN,
	    HTTP_M_GET | HTTP_M_HEAD, "/metrics", 0, h_metrics };
	table[i++] = (struct http_route){ HTTP_PLAIN | HTTP_TLS,
	    HTTP_M_GET | HTTP_M_HEAD, "/ca/", 0, h_ca_cert };
	/* RFC 6960 A.1: POST body, or GET with the request in the path. */
	table[i++] = (struct http_route){ HTTP_PLAIN,
	    HTTP_M_POST, "/ocsp", cfg->ocsp_body_max, h_ocsp };
	table[i++] = (struct http_route){ HTTP_PLAIN,
	    HTTP_M_GET | HTTP_M_HEAD, "/ocsp/", 0, h_ocsp };
	table[i++] = (struct http_route){ HTTP_PLAIN | HTTP_TLS,
	    HTTP_M_GET | HTTP_M_HEAD, "/crl/", 0, h_crl };
	table[i++] = (struct http_route){ HTTP_TLS,
	    HTTP_M_GET | HTTP_M_HEAD | HTTP_M_POST, "/.well-known/est/",
	    cfg->est_body_max, h_est };
	*n = i;
	return table;
}
