/*
 * http.h - the libmicrohttpd glue: routing, limits, bodies, request log.
 *
 * Only server/http.c and server/tls_peer.c include microhttpd.h or
 * GnuTLS headers.  Handlers see a plain struct http_req and fill a
 * struct http_resp; they never block on the network.
 */
#ifndef FLEETCA_SERVER_HTTP_H
#define FLEETCA_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct http_conn;	/* opaque: the underlying connection */

/* Which listener a route lives on. */
#define HTTP_PLAIN 0x1
#define HTTP_TLS 0x2

#define HTTP_M_GET 0x1
#define HTTP_M_POST 0x2
#define HTTP_M_HEAD 0x4

struct http_req {
	uint64_t id;			/* request id for log lines */
	int method;			/* HTTP_M_* */
	const char *method_str;
	const char *path;		/* URL path, no query */
	const char *rest;		/* path after the route prefix */
	const char *content_type;	/* NULL if absent */
	const unsigned char *body;	/* NUL-terminated one past len */
	size_t body_len;
	char peer[64];			/* client address */
	int tls;			/* came in on the TLS listener */
	struct http_conn *conn;		/* for http_req_header, peer chain */
	void *priv;			/* http.c's request state; not yours */
};

#define HTTP_MAX_HEADERS 8

struct http_resp {
	int status;
	const char *content_type;	/* static string */
	unsigned char *body;		/* owned unless free_fn given */
	size_t len;
	void (*free_fn)(void *arg);	/* when set, called with free_arg */
	void *free_arg;			/* instead of free(body) */
	struct { const char *name; char value[128]; } hdr[HTTP_MAX_HEADERS];
	int nhdr;
	char reason[160];		/* refusal reason for the log line */
};

/* resp->status of a handler that deferred its answer (http_req_defer). */
#define HTTP_DEFERRED (-1)

typedef void (*http_handler)(void *app, struct http_req *req,
    struct http_resp *resp);

struct http_route {
	int listeners;		/* HTTP_PLAIN | HTTP_TLS */
	int methods;		/* allowed HTTP_M_* */
	const char *path;	/* exact path, or prefix when ends in '/' */
	size_t body_max;	/* larger bodies get 413 */
	http_handler fn;
};

struct http_tls {
	const char *cert_pem;	/* server chain, PEM text */
	const char *key_pem;	/* server key, PEM text */
	const char *trust_pem;	/* CAs to advertise in CertificateRequest */
};

struct http_server;

/*
 * Starts the listeners: plain on port (if > 0) and TLS on tls_port (if
 * > 0 and tls given).  Routes are borrowed and must outlive the server.
 * Port 0 asks the system for a free port; http_server_port() tells it.
 */
struct http_server *http_server_start(const char *addr, int port,
    int tls_port, const struct http_tls *tls, const struct http_route *r,
    size_t nroutes, void *app, int threads, int timeout_s, int conn_limit,
    char *err, size_t errlen);
int http_server_port(struct http_server *s, int tls);
void http_server_stop(struct http_server *s);

/* Value of a request header, or NULL (borrowed: valid during the call). */
const char *http_req_header(struct http_req *req, const char *name);

/* Response helpers.  http_resp_text copies msg (one line, newline added). */
void http_resp_text(struct http_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes ownership of body (malloc'd). */
void http_resp_body(struct http_resp *r, int status, const char *ctype,
    unsigned char *body, size_t len);
void http_resp_header(struct http_resp *r, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The TLS client's certificate chain as presented (leaf first), as a new
 * stack of X509 that the caller frees with sk_X509_pop_free(.., X509_free).
 * NULL when the request is not on TLS or the client sent no certificate.
 */
STACK_OF(X509) *http_req_peer_chain(struct http_req *req);

/*
 * SHA-256 over the client's certificate list as presented on this TLS
 * connection (each certificate's DER, length-prefixed, leaf first): a
 * cheap key for state derived from the peer's identity, so such state
 * is never reused for a different list.  0, or -1 when the request is
 * not on TLS or the client sent no certificate.
 */
int http_req_peer_hash(struct http_req *req, unsigned char out[32]);

/*
 * One pointer of handler state per connection (for instance the parsed
 * and verified peer chain, so a keep-alive client costs that work once).
 * http_req_conn_get returns what was set on this connection, or NULL.
 * http_req_conn_set replaces it (the old value is freed with its own
 * free_fn) and takes ownership of p: free_fn(p) runs when the connection
 * closes or the value is replaced.  Returns 0, or -1 when the request has
 * no connection slot (then p stays the caller's).  A slot is only touched
 * by the thread serving its connection, one request at a time.
 */
void *http_req_conn_get(struct http_req *req);
int http_req_conn_set(struct http_req *req, void *p, void (*free_fn)(void *));

/*
 * Deferred answers: a handler whose answer waits on another thread (the
 * group commit) does not block its worker.  It calls http_req_defer,
 * which parks the connection (libmicrohttpd suspend) and returns a
 * token, hands the token to the other thread and returns at once; the
 * worker goes on serving its other connections.  Exactly once, from any
 * thread, the token's owner calls http_deferred_complete with the
 * answer, which wakes the connection; its worker then sends the answer
 * and writes the request's log line.
 *
 * The token outlives the connection: should the connection be torn down
 * first (only when the server stops), completing it just frees the
 * answer.  req and its body are valid only until the handler returns, so
 * copy what the other thread needs.  http_server_stop waits (bounded) for
 * outstanding tokens; from when it starts, http_req_defer refuses.
 */
struct http_deferred;

/*
 * Defers req's answer: marks resp as deferred (the handler leaves it
 * alone after this) and returns the token.  NULL when the answer cannot
 * be deferred (out of memory, the server is stopping, no connection):
 * then the handler answers in resp as usual.
 */
struct http_deferred *http_req_defer(struct http_req *req,
    struct http_resp *resp);

/*
 * Delivers the deferred answer and releases the token (do not use it
 * afterwards).  Takes resp's body (free_fn or free) and headers; resp is
 * left empty.  Any thread, exactly once per token; never blocks beyond a
 * short lock.
 */
void http_deferred_complete(struct http_deferred *t, struct http_resp *resp);

#endif
