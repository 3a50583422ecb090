/*
 * h_ocsp.c - POST /ocsp and GET /ocsp/<base64> (RFC 6960 appendix A,
 * RFC 5019 section 5 and 6).
 *
 * HTTP mapping only: the codec parses, revocation.c answers.  Every OCSP
 * outcome, errors included, is an HTTP 200 carrying an OCSPResponse
 * (malformedRequest for garbage, unauthorized for a CA we do not serve),
 * so a client always gets something it can parse; never a 5xx.
 * Cached answers are sent zero-copy: the body points into the cache and
 * the reference is given back by the HTTP library's free callback.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/app.h"
#include "server/handlers.h"
#include "server/proto/ocsp.h"
#include "server/revocation.h"

#define OCSP_CTYPE "application/ocsp-response"

/* RFC 7231 7.1.1.1 IMF-fixdate. */
static void
http_date(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void
send_status(struct http_resp *resp, enum ocsp_resp_status st,
    const char *why)
{
	size_t len;
	const unsigned char *der = ocsp_error_response(st, &len);

	/* Static storage: a no-op free callback keeps it from free(). */
	resp->status = 200;
	resp->content_type = OCSP_CTYPE;
	resp->body = (unsigned char *)der;
	resp->len = len;
	resp->free_fn = h_ocsp_static_free;
	resp->free_arg = NULL;
	snprintf(resp->reason, sizeof(resp->reason), "ocsp status %d: %s",
	    (int)st, why);
}

void
h_ocsp_static_free(void *arg)
{
	(void)arg;
}

/* RFC 5019 6.2: caching headers of a pre-signed answer. */
static void
cache_headers(struct http_resp *resp, const struct rev_ocsp *o)
{
	char d[64];
	int64_t now = (int64_t)time(NULL);
	int64_t age = o->next_update - now;

	if (age < 0)
		age = 0;
	http_resp_header(resp, "Cache-Control",
	    "max-age=%lld, public, no-transform, must-revalidate",
	    (long long)age);
	http_date(o->produced_at, d, sizeof(d));
	http_resp_header(resp, "Last-Modified", "%s", d);
	http_date(o->next_update, d, sizeof(d));
	http_resp_header(resp, "Expires", "%s", d);
	http_resp_header(resp, "ETag", "%s", o->etag);
}

/* 1 when If-None-Match lists etag (or is "*"). */
static int
etag_matches(struct http_req *req, const char *etag)
{
	const char *inm = http_req_header(req, "If-None-Match");

	if (inm == NULL)
		return 0;
	return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

void
h_ocsp(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	struct ocsp_request oreq;
	struct rev_ocsp o;
	char why[160];
	int rc;

	atomic_fetch_add(&a->m.ocsp, 1);
	if (a->rev == NULL) {
		send_status(resp, OCSP_ST_TRY_LATER, "responder not running");
		return;
	}
	why[0] = '\0';
	if (req->method == HTTP_M_POST)
		rc = ocsp_request_parse(req->body, req->body_len,
		    a->cfg.ocsp_body_max, &oreq, why, sizeof(why));
	else
		rc = ocsp_request_parse_get(req->rest, strlen(req->rest),
		    a->cfg.ocsp_body_max, &oreq, why, sizeof(why));
	if (rc != OCSP_CODEC_OK) {
		send_status(resp, ocsp_codec_err_status(rc), why);
		return;
	}
	rc = revocation_ocsp(a->rev, &oreq, &o);
	ocsp_request_clear(&oreq);
	if (rc != 0) {
		send_status(resp, (enum ocsp_resp_status)rc,
		    rc == OCSP_ST_UNAUTHORIZED ? "CA not served here" :
		    "cannot answer now");
		return;
	}
	if (o.cached != NULL) {
		cache_headers(resp, &o);
		if (etag_matches(req, o.etag)) {
			revocation_ocsp_release((void *)o.cached);
			resp->status = 304;
			resp->body = NULL;
			resp->len = 0;
			return;
		}
		resp->status = 200;
		resp->content_type = OCSP_CTYPE;
		resp->body = (unsigned char *)o.cached->der;
		resp->len = o.len;
		resp->free_fn = revocation_ocsp_release;
		resp->free_arg = (void *)o.cached;
		return;
	}
	http_resp_body(resp, 200, OCSP_CTYPE, o.der, o.len);
}
