/*
 * h_est.c - EST (RFC 7030) over HTTPS: /.well-known/est[/<label>]/<op>.
 *
 * The handler settles what is HTTP (path, label, method, media type,
 * body encoding) and leaves the enrollment itself to server/enroll.c.
 * Status codes: no or untrusted client certificate 401, RA refusal 403
 * with the reason code as a one-line text body, malformed body 400, wrong
 * media type 415 (the 413 for an oversized body comes from http.c);
 * nothing a client sends gives a 5xx.
 *
 * Enrollments and audited refusals are answered after their group commit:
 * the handler defers its answer (http_req_defer) and returns, and the
 * committer's completion (est_done) hands the answer to http.c, so the
 * worker thread goes on with its other connections meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/x509.h>

#include "ca/csr.h"
#include "ca/profile.h"
#include "server/app.h"
#include "server/enroll.h"
#include "server/handlers.h"
#include "server/http.h"
#include "server/proto/est.h"

/* RFC 2046 bchars without '-'-free worries: base64 never holds '-'. */
#define EST_BOUNDARY "fleetca-est-keygen-boundary"
#define EST_CT_KEYGEN "multipart/mixed; boundary=" EST_BOUNDARY

/* 1 if the Content-Type value names media type mt (parameters allowed). */
static int
ctype_is(const char *v, const char *mt)
{
	size_t n = strlen(mt);

	if (v == NULL)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, mt, n) != 0)
		return 0;
	v += n;
	return *v == '\0' || *v == ';' || *v == ' ' || *v == '\t';
}

static void
copy_body(struct http_resp *resp, int status, const char *ctype,
    const char *body, size_t len)
{
	unsigned char *b = malloc(len > 0 ? len : 1);

	if (b == NULL) {
		http_resp_text(resp, 503, "out of memory");
		return;
	}
	memcpy(b, body, len);
	http_resp_body(resp, status, ctype, b, len);
}

/* The serverkeygen body holds a private key: wiped before it is freed. */
struct secret_body {
	char *p;
	size_t len;
};

static void
secret_body_free(void *arg)
{
	struct secret_body *s = arg;

	est_secret_free(s->p, s->len);
	free(s);
}

static void
answer_enroll(struct http_resp *resp, struct enroll_out *o)
{
	char *body = NULL, ctype[128];
	size_t len = 0;
	enum est_err e;

	switch (o->status) {
	case ENROLL_OK:
		break;
	case ENROLL_UNAUTHENTICATED:
		http_resp_text(resp, 401, "%s", o->reason);
		return;
	case ENROLL_REFUSED:
		http_resp_text(resp, 403, "%s", o->reason);
		return;
	case ENROLL_BAD_REQUEST:
		http_resp_text(resp, 400, "%s", o->reason);
		return;
	default:
		http_resp_text(resp, 500, "internal error");
		return;
	}
	if (o->key != NULL) {
		struct secret_body *s = malloc(sizeof(*s));

		if (s == NULL || (e = est_serverkeygen_encode(o->key, o->cert,
		    EST_BOUNDARY, &body, &len, ctype, sizeof(ctype))) !=
		    EST_OK) {
			free(s);
			http_resp_text(resp, 500, "cannot encode the answer");
			return;
		}
		s->p = body;
		s->len = len;
		resp->status = 200;
		resp->content_type = EST_CT_KEYGEN;
		resp->body = (unsigned char *)body;
		resp->len = len;
		resp->free_fn = secret_body_free;
		resp->free_arg = s;
		return;
	}
	if (o->cert == NULL && o->cert_der != NULL) {
		const unsigned char *d = o->cert_der;

		e = est_certs_der_encode(&d, &o->cert_der_len, 1, &body, &len);
	} else {
		e = est_cert_encode(o->cert, &body, &len);
	}
	if (e != EST_OK) {
		http_resp_text(resp, 500, "cannot encode the certificate");
		return;
	}
	http_resp_body(resp, 200, EST_CT_CERTS_ONLY, (unsigned char *)body,
	    len);
	http_resp_header(resp, "Content-Transfer-Encoding", "base64");
}

/*
 * One deferred EST answer: the token, and the answer already decided
 * when the refusal came before the enrollment (pre).  Allocated by
 * est_defer, freed by est_done.
 */
struct est_pending {
	struct http_deferred *tok;
	struct http_resp pre;
	int have_pre;
};

/* Called once the enrollment (or the refusal's audit) is committed. */
static void
est_done(void *arg, struct enroll_out *out)
{
	struct est_pending *p = arg;
	struct http_resp resp;

	if (p->have_pre) {
		resp = p->pre;
	} else {
		memset(&resp, 0, sizeof(resp));
		answer_enroll(&resp, out);
	}
	http_deferred_complete(p->tok, &resp);
	free(p);
}

/* Parks the request; NULL (with a 503 in resp) when it cannot be. */
static struct est_pending *
est_defer(struct http_req *req, struct http_resp *resp)
{
	struct est_pending *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->tok = http_req_defer(req, resp)) == NULL) {
		free(p);
		http_resp_text(resp, 503, "busy: retry later");
		http_resp_header(resp, "Retry-After", "1");
		return NULL;
	}
	return p;
}

/* An audited refusal whose answer p->pre already holds; consumes p. */
static void
est_refuse(struct app *a, struct est_pending *p, const char *op,
    const char *peer, const char *reason, STACK_OF(X509) *chain)
{
	p->have_pre = 1;
	enroll_refuse(a, op, peer, reason, chain, ENROLL_REFUSED, est_done, p);
}

/*
 * The client's chain and what it gives, parsed (and later verified) once
 * per TLS connection and kept in the connection's slot for its next
 * requests.  The cache is keyed by the hash of the certificate list as
 * presented, so a different list on the same connection is never answered
 * with another's facts; the same key finds the peer in the process-wide
 * cache when the device reconnects.  *chain is borrowed from the returned
 * peer; when there is no slot, *owned holds the reference to drop.  NULL
 * peer and chain when the client sent no (parsable) certificate.
 */
static struct enroll_peer *
peer_of(struct enroll_state *es, struct http_req *req,
    STACK_OF(X509) **chain, struct enroll_peer **owned)
{
	struct enroll_peer *p;
	unsigned char h[32];

	*chain = NULL;
	*owned = NULL;
	if (http_req_peer_hash(req, h) != 0)
		return NULL;
	p = http_req_conn_get(req);
	if (p == NULL || !enroll_peer_matches(p, h)) {
		/* A reconnecting device: its list parsed and verified once. */
		if ((p = enroll_peer_cached(es, h)) == NULL) {
			if ((p = enroll_peer_new(http_req_peer_chain(req), h)) ==
			    NULL)
				return NULL;
			enroll_peer_remember(es, p);
		}
		if (http_req_conn_set(req, p, enroll_peer_free) != 0)
			*owned = p;
	}
	*chain = enroll_peer_chain(p);
	return p;
}

static void
do_enroll(struct app *a, struct http_req *req, struct http_resp *resp,
    enum est_op op, const struct ca_profile *prof)
{
	struct enroll_in in;
	struct enroll_peer *peer, *owned = NULL;
	struct est_pending *p;
	STACK_OF(X509) *chain = NULL;
	struct ca_csr *csr = NULL;
	enum est_err e;
	const char *opn = est_op_name(op);

	if ((p = est_defer(req, resp)) == NULL)
		return;
	/* From here on every path ends in est_done (or completes p). */
	peer = peer_of(a->enroll, req, &chain, &owned);
	if (!ctype_is(req->content_type, EST_CT_PKCS10)) {
		http_resp_text(&p->pre, 415, "unsupported_media_type: expected "
		    EST_CT_PKCS10);
		est_refuse(a, p, opn, req->peer, "unsupported_media_type",
		    chain);
		goto out;
	}
	if ((e = est_csr_parse((const char *)req->body, req->body_len,
	    &csr)) != EST_OK) {
		if (e == EST_ERR_INTERNAL) {
			http_resp_text(&p->pre, 500, "internal error");
			http_deferred_complete(p->tok, &p->pre);
			free(p);
			goto out;
		}
		http_resp_text(&p->pre, e == EST_ERR_TOO_LARGE ? 413 : 400,
		    "malformed_request: %s", est_err_str(e));
		est_refuse(a, p, opn, req->peer, "malformed_request", chain);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.kind = op == EST_OP_SIMPLEENROLL ? ENROLL_FIRST :
	    op == EST_OP_SIMPLEREENROLL ? ENROLL_RE : ENROLL_KEYGEN;
	in.chain = chain;
	in.facts = peer;
	in.csr = csr;
	in.profile = prof;
	in.peer = req->peer;
	in.now = time(NULL);
	enroll_start(a, &in, est_done, p);	/* takes csr */
	csr = in.csr;
out:
	ca_csr_free(csr);
	enroll_peer_free(owned);
}

void
h_est(void *app, struct http_req *req, struct http_resp *resp)
{
	struct app *a = app;
	struct enroll_state *es = a->enroll;
	const struct ca_profile *prof;
	char label[EST_LABEL_MAX + 2];
	enum est_op op;

	atomic_fetch_add(&a->m.requests, 1);
	if (!est_path_parse(req->path, strlen(req->path), label,
	    sizeof(label), &op)) {
		http_resp_text(resp, 404, "no such EST resource");
		return;
	}
	prof = ca_profiles_find(a->profiles, label[0] ? label :
	    es->policy.default_profile);
	if (prof == NULL) {
		http_resp_text(resp, 404, "unknown EST label \"%s\"", label);
		return;
	}
	if (op == EST_OP_CACERTS || op == EST_OP_CSRATTRS) {
		if (!(req->method & (HTTP_M_GET | HTTP_M_HEAD))) {
			http_resp_text(resp, 405, "use GET for %s",
			    est_op_name(op));
			http_resp_header(resp, "Allow", "GET, HEAD");
			return;
		}
		if (op == EST_OP_CACERTS) {
			copy_body(resp, 200, EST_CT_CACERTS, es->cacerts,
			    es->cacerts_len);
			http_resp_header(resp, "Content-Transfer-Encoding",
			    "base64");
			return;
		}
		for (size_t i = 0; i < es->nprofiles; i++) {
			if (ca_profiles_get(a->profiles, i) != prof)
				continue;
			if (es->csrattrs[i] == NULL) {
				resp->status = 204;
				return;
			}
			copy_body(resp, 200, EST_CT_CSRATTRS, es->csrattrs[i],
			    es->csrattrs_len[i]);
			http_resp_header(resp, "Content-Transfer-Encoding",
			    "base64");
			return;
		}
		resp->status = 204;
		return;
	}
	if (req->method != HTTP_M_POST) {
		http_resp_text(resp, 405, "use POST for %s", est_op_name(op));
		http_resp_header(resp, "Allow", "POST");
		return;
	}
	if (op == EST_OP_SERVERKEYGEN && !prof->allow_serverkeygen) {
		STACK_OF(X509) *chain;
		struct est_pending *p;

		if ((p = est_defer(req, resp)) == NULL)
			return;
		chain = http_req_peer_chain(req);
		http_resp_text(&p->pre, 403, "serverkeygen_not_allowed");
		est_refuse(a, p, "serverkeygen", req->peer,
		    "serverkeygen_not_allowed", chain);
		sk_X509_pop_free(chain, X509_free);
		return;
	}
	do_enroll(a, req, resp, op, prof);
}
