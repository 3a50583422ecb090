/*
 * http.c - libmicrohttpd glue.
 *
 * Per request: the first callback settles everything that does not need
 * the body (route, method, Content-Length against the route's cap) and
 * answers 404/405/413 at once; later callbacks append the body, refusing
 * to grow past the cap (chunked bodies have no Content-Length); the last
 * callback runs the handler.  One log line per request.
 *
 * Deferred answers (http_req_defer): the handler suspends the connection
 * and returns; whoever completes the token stores the answer in it and
 * resumes the connection, and libmicrohttpd then calls the access handler
 * again, which sends what the token holds.  A token has two references,
 * the request's (dropped by the completion callback) and the completer's
 * (dropped by http_deferred_complete), so neither side can see it freed.
 * The connection itself can only go away while suspended when the daemon
 * stops, and http_server_stop first waits for every completer to be done
 * with it (libmicrohttpd forbids stopping with suspended connections).
 */
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/log.h"
#include "server/http.h"
#include "server/tls_peer.h"

struct http_server {
	struct MHD_Daemon *plain, *tls;
	const struct http_route *routes;
	size_t nroutes;
	void *app;
	int defer_refused;	/* stopping; under defer_lock */
};

struct listener {
	struct http_server *srv;
	int is_tls;
};

enum defer_state {
	DEFER_PENDING,		/* suspended, waiting for its answer */
	DEFER_DONE,		/* answer stored, connection resumed */
	DEFER_DEAD		/* request ended first: answer is dropped */
};

struct http_deferred {
	struct MHD_Connection *c;	/* valid while state is PENDING */
	enum defer_state state;
	int refs;			/* request + completer */
	int completer;			/* completer's reference still held */
	struct http_resp resp;		/* the answer once DONE; owned */
	struct http_deferred *prev, *next;	/* pending list */
};

/* Deferred-answer bookkeeping, one for the process (like the listeners):
 * a token may outlive the struct http_server. */
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t defer_idle = PTHREAD_COND_INITIALIZER;
static struct http_deferred *defer_head;	/* completer ref still held */
static size_t defer_inflight;	/* tokens whose completer is not done */

/* Per-request state, created on the first callback and freed in the
 * completion callback however the request ended. */
struct req_ctx {
	const struct http_route *route;
	unsigned char *body;
	size_t len, cap;
	int too_large;
	int reject;		/* 404/405/413 decided; body is discarded */
	size_t drained;		/* body bytes discarded so far */
	uint64_t id;
	struct timespec start;
	struct http_server *srv;
	struct http_deferred *defer;	/* request's reference, or NULL */
	char peer[64];			/* client address, for the log */
};

/* Per-connection handler state (http_req_conn_set); the socket context
 * of the connection, created when it opens, freed when it closes. */
struct conn_slot {
	void *p;
	void (*free_fn)(void *);
};

#define HTTP_STOP_WAIT_S 10	/* for deferred answers at stop */

/* Bodies of refused requests up to this size are read and discarded
 * before answering (see access_cb). */
#define HTTP_DRAIN_MAX (1024 * 1024)

static atomic_uint_fast64_t next_req_id = 1;
static struct listener plain_listener, tls_listener;

static const struct http_route *
route_find(const struct http_server *s, int is_tls, const char *path,
    const char **rest)
{
	int want = is_tls ? HTTP_TLS : HTTP_PLAIN;

	for (size_t i = 0; i < s->nroutes; i++) {
		const struct http_route *r = &s->routes[i];
		size_t pl = strlen(r->path);

		if ((r->listeners & want) == 0)
			continue;
		if (pl > 0 && r->path[pl - 1] == '/') {
			if (strncmp(path, r->path, pl) == 0) {
				*rest = path + pl;
				return r;
			}
		} else if (strcmp(path, r->path) == 0) {
			*rest = path + pl;
			return r;
		}
	}
	return NULL;
}

static int
method_bit(const char *m)
{
	if (strcmp(m, MHD_HTTP_METHOD_GET) == 0)
		return HTTP_M_GET;
	if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
		return HTTP_M_POST;
	if (strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
		return HTTP_M_HEAD;
	return 0;
}

static void
peer_string(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(buf, len, "?");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		    (socklen_t)len);
}

void
http_resp_text(struct http_resp *r, int status, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (status >= 400)
		snprintf(r->reason, sizeof(r->reason), "%.*s", n, line);
	line[n++] = '\n';
	free(r->body);
	r->body = malloc((size_t)n);
	r->len = r->body ? (size_t)n : 0;
	if (r->body)
		memcpy(r->body, line, (size_t)n);
	r->free_fn = NULL;
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
}

void
http_resp_body(struct http_resp *r, int status, const char *ctype,
    unsigned char *body, size_t len)
{
	free(r->body);
	r->status = status;
	r->content_type = ctype;
	r->body = body;
	r->len = len;
}

void
http_resp_header(struct http_resp *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nhdr >= HTTP_MAX_HEADERS)
		return;
	r->hdr[r->nhdr].name = name;
	va_start(ap, fmt);
	vsnprintf(r->hdr[r->nhdr].value, sizeof(r->hdr[r->nhdr].value), fmt,
	    ap);
	va_end(ap);
	r->nhdr++;
}

const char *
http_req_header(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
	    MHD_HEADER_KIND, name);
}

STACK_OF(X509) *
http_req_peer_chain(struct http_req *req)
{
	const union MHD_ConnectionInfo *ci;

	if (!req->tls)
		return NULL;
	ci = MHD_get_connection_info((struct MHD_Connection *)req->conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return NULL;
	return tls_peer_chain(ci->tls_session);
}

int
http_req_peer_hash(struct http_req *req, unsigned char out[32])
{
	const union MHD_ConnectionInfo *ci;

	if (!req->tls)
		return -1;
	ci = MHD_get_connection_info((struct MHD_Connection *)req->conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return -1;
	return tls_peer_hash(ci->tls_session, out);
}

static struct conn_slot *
conn_slot_of(struct http_req *req)
{
	const union MHD_ConnectionInfo *ci;

	if (req->conn == NULL)
		return NULL;
	ci = MHD_get_connection_info((struct MHD_Connection *)req->conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

void *
http_req_conn_get(struct http_req *req)
{
	struct conn_slot *cs = conn_slot_of(req);

	return cs != NULL ? cs->p : NULL;
}

int
http_req_conn_set(struct http_req *req, void *p, void (*free_fn)(void *))
{
	struct conn_slot *cs = conn_slot_of(req);

	if (cs == NULL)
		return -1;
	if (cs->p != NULL && cs->p != p && cs->free_fn != NULL)
		cs->free_fn(cs->p);
	cs->p = p;
	cs->free_fn = free_fn;
	return 0;
}

/* Frees what an unsent answer holds. */
static void
resp_release(struct http_resp *r)
{
	if (r->free_fn != NULL)
		r->free_fn(r->free_arg);
	else
		free(r->body);
	r->body = NULL;
	r->free_fn = NULL;
	r->free_arg = NULL;
	r->len = 0;
}

/* Drops one reference; called with defer_lock held. */
static void
defer_unref(struct http_deferred *t)
{
	if (--t->refs > 0)
		return;
	resp_release(&t->resp);
	free(t);
}

static void
defer_unlink(struct http_deferred *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else if (defer_head == t)
		defer_head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

struct http_deferred *
http_req_defer(struct http_req *req, struct http_resp *resp)
{
	struct req_ctx *rc = req->priv;
	struct http_deferred *t;

	if (rc == NULL || req->conn == NULL || rc->defer != NULL)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->c = (struct MHD_Connection *)req->conn;
	t->state = DEFER_PENDING;
	t->refs = 2;
	t->completer = 1;
	pthread_mutex_lock(&defer_lock);
	if (rc->srv->defer_refused) {
		pthread_mutex_unlock(&defer_lock);
		free(t);
		return NULL;
	}
	t->next = defer_head;
	if (defer_head != NULL)
		defer_head->prev = t;
	defer_head = t;
	defer_inflight++;
	pthread_mutex_unlock(&defer_lock);
	rc->defer = t;
	/* Suspended before the token leaves this thread, so a resume can
	 * never come first (that would be undefined in libmicrohttpd). */
	MHD_suspend_connection(t->c);
	resp_release(resp);
	resp->status = HTTP_DEFERRED;
	return t;
}

void
http_deferred_complete(struct http_deferred *t, struct http_resp *resp)
{
	struct MHD_Connection *wake = NULL;

	pthread_mutex_lock(&defer_lock);
	if (t->state == DEFER_PENDING) {
		t->resp = *resp;
		t->state = DEFER_DONE;
		wake = t->c;
	} else {
		resp_release(resp);
	}
	memset(resp, 0, sizeof(*resp));
	if (t->completer)
		defer_unlink(t);
	pthread_mutex_unlock(&defer_lock);
	/* Outside the lock (libmicrohttpd takes its own); the connection
	 * stays valid: the daemon cannot stop while we are in flight. */
	if (wake != NULL)
		MHD_resume_connection(wake);
	pthread_mutex_lock(&defer_lock);
	if (t->completer) {
		t->completer = 0;
		defer_inflight--;
		if (defer_inflight == 0)
			pthread_cond_broadcast(&defer_idle);
	}
	defer_unref(t);
	pthread_mutex_unlock(&defer_lock);
}

/*
 * Before the daemons stop: refuse new deferrals and wait (bounded) for
 * the outstanding ones.  Whatever is still pending after wait_s is
 * answered 503 here so its connection is resumed; its completer's late
 * answer is then dropped.
 */
static void
defer_drain(struct http_server *s, int wait_s)
{
	struct timespec ts;
	struct http_deferred *t;

	pthread_mutex_lock(&defer_lock);
	s->defer_refused = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_s;
	while (defer_inflight > 0)
		if (pthread_cond_timedwait(&defer_idle, &defer_lock, &ts) ==
		    ETIMEDOUT)
			break;
	while ((t = defer_head) != NULL) {
		struct MHD_Connection *c = t->c;

		log_err("http: stopping with a deferred answer outstanding");
		/* The late completer then only drops its reference. */
		defer_unlink(t);
		t->completer = 0;
		defer_inflight--;
		if (t->state == DEFER_PENDING) {
			http_resp_text(&t->resp, 503, "server stopping");
			t->state = DEFER_DONE;
			pthread_mutex_unlock(&defer_lock);
			MHD_resume_connection(c);
			pthread_mutex_lock(&defer_lock);
		}
	}
	pthread_mutex_unlock(&defer_lock);
}

/* Connection opened / closed: the slot lives exactly as long. */
static void
notify_conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct conn_slot *cs;

	(void)cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		/* Failure only costs the cache: handlers then see no slot. */
		*socket_context = calloc(1, sizeof(struct conn_slot));
		return;
	}
	if ((cs = *socket_context) == NULL)
		return;
	if (cs->p != NULL && cs->free_fn != NULL)
		cs->free_fn(cs->p);
	free(cs);
	*socket_context = NULL;
}

static void
resp_free_cb(void *arg)
{
	(void)arg;
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct req_ctx *rc, const char *method,
    const char *url, const char *peer, struct http_resp *r)
{
	struct MHD_Response *mr;
	struct timespec end;
	enum MHD_Result ret;
	long usec;

	if (r->status == 0)
		http_resp_text(r, 500, "handler gave no answer");
	if (r->free_fn != NULL) {
		mr = MHD_create_response_from_buffer_with_free_callback_cls(
		    r->len, r->body, r->free_fn, r->free_arg);
	} else {
		mr = MHD_create_response_from_buffer(r->len,
		    r->body ? r->body : (void *)"", r->body ?
		    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	}
	if (mr == NULL) {
		if (r->free_fn)
			r->free_fn(r->free_arg);
		else
			free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (r->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->content_type);
	for (int i = 0; i < r->nhdr; i++)
		MHD_add_response_header(mr, r->hdr[i].name, r->hdr[i].value);
	ret = MHD_queue_response(c, (unsigned int)r->status, mr);
	MHD_destroy_response(mr);
	clock_gettime(CLOCK_MONOTONIC, &end);
	usec = (end.tv_sec - rc->start.tv_sec) * 1000000L +
	    (end.tv_nsec - rc->start.tv_nsec) / 1000;
	if (log_get_level() >= LOG_LVL_INFO)
		log_info("req=%llu peer=%s %s %s %d %ldus%s%s",
		    (unsigned long long)rc->id, peer, method, url, r->status,
		    usec, r->reason[0] ? " reason=" : "", r->reason);
	return ret;
}

/* The access handler's call after a deferred answer resumed c. */
static enum MHD_Result
deferred_send(struct MHD_Connection *c, struct req_ctx *rc,
    const char *method, const char *url)
{
	struct http_resp resp;
	struct http_deferred *t = rc->defer;

	memset(&resp, 0, sizeof(resp));
	pthread_mutex_lock(&defer_lock);
	if (t->state != DEFER_DONE) {
		/* Not ours to answer yet (cannot happen while suspended). */
		pthread_mutex_unlock(&defer_lock);
		return MHD_YES;
	}
	resp = t->resp;
	memset(&t->resp, 0, sizeof(t->resp));
	pthread_mutex_unlock(&defer_lock);
	return send_resp(c, rc, method, url, rc->peer, &resp);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct http_server *s = l->srv;
	struct req_ctx *rc = *con_cls;
	struct http_resp resp;
	struct http_req req;
	const char *rest = "";
	unsigned long long declared = 0;
	char *peer;

	(void)version;
	if (rc != NULL && rc->defer != NULL)
		return deferred_send(c, rc, method, url);
	if (rc == NULL) {
		const char *cl;

		if ((rc = calloc(1, sizeof(*rc))) == NULL)
			return MHD_NO;
		rc->id = atomic_fetch_add(&next_req_id, 1);
		rc->srv = s;
		clock_gettime(CLOCK_MONOTONIC, &rc->start);
		*con_cls = rc;
		rc->route = route_find(s, l->is_tls, url, &rest);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end;

			declared = strtoull(cl, &end, 10);
			if (*end != '\0')
				declared = ULLONG_MAX;
		}
		if (rc->route != NULL && cl != NULL &&
		    declared > rc->route->body_max)
			rc->too_large = 1;
		rc->reject = rc->route == NULL || !(method_bit(method) &
		    rc->route->methods) || rc->too_large;
		/*
		 * Settle what we can before the body arrives.  A client that
		 * asked "Expect: 100-continue", or announced a body too big to
		 * be worth reading, gets the answer now (libmicrohttpd then
		 * discards the body and closes).  A small body is read and
		 * thrown away first: answering while a client is still
		 * sending makes many clients see a reset instead of the 4xx.
		 */
		if (rc->reject && (MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT) != NULL ||
		    (cl != NULL && (declared == 0 ||
		    declared > HTTP_DRAIN_MAX)) ||
		    (cl == NULL && MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ==
		    NULL)))
			goto answer;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (rc->reject || rc->too_large) {
			rc->drained += *upload_size;
			*upload_size = 0;
			/* Streaming past the drain limit: answer and close. */
			if (rc->drained > HTTP_DRAIN_MAX)
				goto answer;
			return MHD_YES;
		}
		{
			size_t want = rc->len + *upload_size;

			if (want > rc->route->body_max || want < rc->len) {
				rc->too_large = 1;
			} else {
				if (want + 1 > rc->cap) {
					size_t nc = rc->cap ? rc->cap : 4096;
					unsigned char *nb;

					while (nc < want + 1)
						nc *= 2;
					if (nc > rc->route->body_max + 1)
						nc = rc->route->body_max + 1;
					if ((nb = realloc(rc->body, nc)) == NULL)
						return MHD_NO;
					rc->body = nb;
					rc->cap = nc;
				}
				memcpy(rc->body + rc->len, upload_data,
				    *upload_size);
				rc->len = want;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
answer:
	memset(&resp, 0, sizeof(resp));
	peer = rc->peer;
	peer_string(c, peer, sizeof(rc->peer));
	if (rc->route == NULL) {
		http_resp_text(&resp, 404, "no such resource: %s", url);
	} else if (!(method_bit(method) & rc->route->methods)) {
		char allow[32] = "";

		snprintf(allow, sizeof(allow), "%s%s%s",
		    rc->route->methods & HTTP_M_GET ? "GET" : "",
		    (rc->route->methods & HTTP_M_GET) &&
		    (rc->route->methods & HTTP_M_POST) ? ", " : "",
		    rc->route->methods & HTTP_M_POST ? "POST" : "");
		http_resp_text(&resp, 405, "method %s not allowed here",
		    method);
		http_resp_header(&resp, MHD_HTTP_HEADER_ALLOW, "%s", allow);
	} else if (rc->too_large) {
		http_resp_text(&resp, 413, "body larger than %zu bytes",
		    rc->route->body_max);
	} else {
		memset(&req, 0, sizeof(req));
		req.id = rc->id;
		req.method = method_bit(method);
		req.method_str = method;
		req.path = url;
		route_find(s, l->is_tls, url, &rest);
		req.rest = rest;
		req.content_type = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		req.body = rc->body ? rc->body : (const unsigned char *)"";
		if (rc->body)
			rc->body[rc->len] = '\0';
		req.body_len = rc->len;
		snprintf(req.peer, sizeof(req.peer), "%s", peer);
		req.tls = l->is_tls;
		req.conn = (struct http_conn *)c;
		req.priv = rc;
		rc->route->fn(s->app, &req, &resp);
		if (resp.status == HTTP_DEFERRED && rc->defer != NULL)
			return MHD_YES;		/* suspended; see deferred_send */
		if (resp.status == HTTP_DEFERRED)
			resp.status = 0;	/* bogus: becomes a 500 */
	}
	(void)resp_free_cb;
	return send_resp(c, rc, method, url, peer, &resp);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rc == NULL)
		return;
	if (rc->defer != NULL) {
		pthread_mutex_lock(&defer_lock);
		if (rc->defer->state == DEFER_PENDING)
			rc->defer->state = DEFER_DEAD;
		defer_unref(rc->defer);
		pthread_mutex_unlock(&defer_lock);
	}
	free(rc->body);
	free(rc);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

static struct MHD_Daemon *
start_one(struct listener *l, const char *addr, int port, int threads,
    int timeout_s, int conn_limit, const struct http_tls *tls)
{
	struct sockaddr_in sin;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return NULL;
	if (tls == NULL)
		return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
		    access_cb, l,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout_s,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)conn_limit,
		    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
		    MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, NULL,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_END);
	return MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL,
	    access_cb, l,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout_s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)conn_limit,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_HTTPS_MEM_CERT, tls->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, tls->key_pem,
	    MHD_OPTION_HTTPS_MEM_TRUST, tls->trust_pem,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_END);
}

struct http_server *
http_server_start(const char *addr, int port, int tls_port,
    const struct http_tls *tls, const struct http_route *routes,
    size_t nroutes, void *app, int threads, int timeout_s, int conn_limit,
    char *err, size_t errlen)
{
	struct http_server *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->routes = routes;
	s->nroutes = nroutes;
	s->app = app;
	plain_listener.srv = s;
	plain_listener.is_tls = 0;
	tls_listener.srv = s;
	tls_listener.is_tls = 1;
	if (threads < 1)
		threads = 1;
	if (port >= 0 && (s->plain = start_one(&plain_listener, addr, port,
	    threads, timeout_s, conn_limit, NULL)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d (HTTP)", addr,
		    port);
		goto fail;
	}
	if (tls_port >= 0 && tls != NULL && (s->tls = start_one(&tls_listener,
	    addr, tls_port, threads, timeout_s, conn_limit, tls)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d (HTTPS)", addr,
		    tls_port);
		goto fail;
	}
	return s;
fail:
	http_server_stop(s);
	return NULL;
}

int
http_server_port(struct http_server *s, int tls)
{
	struct MHD_Daemon *d = tls ? s->tls : s->plain;
	const union MHD_DaemonInfo *di;

	if (d == NULL)
		return -1;
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return di ? di->port : -1;
}

void
http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* libmicrohttpd must not stop with a connection suspended. */
	defer_drain(s, HTTP_STOP_WAIT_S);
	if (s->plain)
		MHD_stop_daemon(s->plain);
	if (s->tls)
		MHD_stop_daemon(s->tls);
	free(s);
}
