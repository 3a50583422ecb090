/*
 * h_crl.c - GET /crl/<ca>.crl (full CRL) and /crl/<ca>-delta.crl (the
 * delta CRL named by Freshest CRL), DER, application/pkix-crl (RFC 5280
 * 4.2.1.13, RFC 2585 4.2).
 *
 * The publisher thread builds CRLs; this only hands out the current one,
 * zero-copy, holding a reference until the body is sent.  CRLs change
 * within a second of a revocation, so HTTP caches must revalidate (the
 * ETag makes that cheap).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/app.h"
#include "server/handlers.h"
#include "server/revocation.h"

static void
date_hdr(struct http_resp *resp, const char *name, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char d[64];

	if (gmtime_r(&tt, &tm) != NULL &&
	    strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		http_resp_header(resp, name, "%s", d);
}

void
h_crl(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	const struct rev_crl *c = NULL;
	size_t rl = strlen(req->rest);
	const char *inm;

	if (a->rev == NULL) {
		http_resp_text(resp, 503, "CRL publisher not running");
		return;
	}
	if (rl > 4 && strcmp(req->rest + rl - 4, ".crl") == 0) {
		size_t nl = rl - 4;

		/* A CA name ending in "-delta" still gets its full CRL. */
		c = revocation_crl_get(a->rev, req->rest, nl, 0);
		if (c == NULL && nl > 6 &&
		    memcmp(req->rest + nl - 6, "-delta", 6) == 0)
			c = revocation_crl_get(a->rev, req->rest, nl - 6, 1);
	}
	if (c == NULL) {
		http_resp_text(resp, 404, "no such CRL");
		return;
	}
	http_resp_header(resp, "Cache-Control", "max-age=0, must-revalidate");
	date_hdr(resp, "Last-Modified", c->this_update);
	date_hdr(resp, "Expires", c->next_update);
	http_resp_header(resp, "ETag", "%s", c->etag);
	inm = http_req_header(req, "If-None-Match");
	if (inm != NULL && strstr(inm, c->etag) != NULL) {
		revocation_crl_release((void *)c);
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->content_type = "application/pkix-crl";
	resp->body = (unsigned char *)c->der;
	resp->len = c->len;
	resp->free_fn = revocation_crl_release;
	resp->free_arg = (void *)c;
}
