/*
 * est_client.c - EST client: TLS with OpenSSL, minimal HTTP/1.1.
 *
 * The socket is non-blocking and every wait is a poll(2) bounded by the
 * exchange's deadline, so no single slow byte can stretch an exchange.
 * Received bytes go through one buffer (struct estc.buf) that both the
 * header and the body parsers read from; it is reset per response.
 *
 * HTTP framing handled (RFC 9112): Content-Length, chunked transfer
 * coding (trailers skipped), and read-until-close; 1xx interim responses
 * are skipped; 204 has no body.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "server/est_client.h"
#include "server/proto/est.h"

#define ESTC_DEFAULT_TIMEOUT_MS	10000

struct estc {
	char		*host;		/* owned */
	unsigned short	 port;
	int		 host_is_ip;	/* no SNI for address literals */
	SSL_CTX		*ctx;		/* owned */
	X509		*cert;		/* owned reference, or NULL */
	EVP_PKEY	*key;		/* owned reference, or NULL */
	STACK_OF(X509)	*chain;		/* owned (up-ref'd certs), or NULL */
	SSL		*ssl;		/* current connection, or NULL */
	int		 fd;		/* -1 when not connected */
	SSL_SESSION	*sess;		/* last session, for resumption */
	int		 resume;
	int		 timeout_ms;
	unsigned char	*buf;		/* owned; received, unconsumed */
	size_t		 blen;
	size_t		 bcap;
};

/* One HTTP response; body is owned (malloc'd, NUL-terminated). */
struct http_resp {
	int	 status;
	int	 close;		/* connection must close after it */
	long	 retry_after;	/* seconds, -1 if absent */
	char	 ctype[256];
	char	*body;
	size_t	 len;
};

static const char *const err_text[] = {
	[ESTC_OK] = "ok",
	[ESTC_ERR_ARG] = "invalid argument",
	[ESTC_ERR_CONNECT] = "connect failed",
	[ESTC_ERR_TLS] = "TLS handshake failed",
	[ESTC_ERR_TIMEOUT] = "timed out",
	[ESTC_ERR_IO] = "connection lost",
	[ESTC_ERR_PROTO] = "malformed HTTP response",
	[ESTC_ERR_HTTP] = "server refused",
	[ESTC_ERR_PENDING] = "request pending, retry later",
	[ESTC_ERR_DECODE] = "response body did not decode",
	[ESTC_ERR_INTERNAL] = "internal error",
};

const char *
estc_err_str(enum estc_err e)
{
	if ((unsigned)e >= sizeof(err_text) / sizeof(err_text[0]))
		return "unknown error";
	return err_text[e];
}

static void
set_reason(char *reason, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_reason(char *reason, size_t sz, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || sz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sz, fmt, ap);
	va_end(ap);
}

/* Copies the first line of text into reason, masking non-printables. */
static void
reason_from_body(char *reason, size_t sz, const char *text, size_t len)
{
	size_t i, o = 0;

	if (reason == NULL || sz == 0)
		return;
	for (i = 0; i < len && o + 1 < sz; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\r' || ch == '\n') {
			if (o > 0)
				break;
			continue;
		}
		reason[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	reason[o] = '\0';
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SIGPIPE guard: a write to a reset socket must not kill us ---- */

struct pipe_guard {
	sigset_t	old;
	int		was_pending;
};

static void
guard_enter(struct pipe_guard *g)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pend);
	g->was_pending = sigismember(&pend, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void
guard_leave(struct pipe_guard *g)
{
	sigset_t set, pend;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pend);
	/* Swallow only a SIGPIPE we caused. */
	if (!g->was_pending && sigismember(&pend, SIGPIPE))
		while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- life cycle ---- */

struct estc *
estc_new(const char *host, unsigned short port, const char *cafile)
{
	struct in6_addr a6;
	struct estc *c;

	if (host == NULL || *host == '\0' || port == 0 || cafile == NULL) {
		log_err("estc: host, port and CA file are required");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	c->resume = 1;
	c->timeout_ms = ESTC_DEFAULT_TIMEOUT_MS;
	c->port = port;
	c->host_is_ip = inet_pton(AF_INET, host, &a6) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
	if ((c->host = strdup(host)) == NULL)
		goto fail;
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		log_openssl("estc: SSL_CTX_new");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION)) {
		log_openssl("estc: SSL_CTX_set_min_proto_version");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(c->ctx, cafile, NULL) != 1) {
		log_openssl("estc: cannot load CA file %s", cafile);
		goto fail;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	/* We keep sessions ourselves (c->sess); no internal cache needed. */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	return c;
 fail:
	estc_free(c);
	return NULL;
}

/*
 * Keeps a copy of the connection's current session for the next connect.
 * Called after each good exchange, because TLS 1.3 tickets arrive after
 * the handshake.  A copy, not a reference: a fatal alert on the
 * connection (a stale keep-alive socket) marks its session object
 * unresumable in place, which would poison a shared reference.
 */
static void
save_session(struct estc *c)
{
	SSL_SESSION *cur, *copy;

	if (!c->resume || c->ssl == NULL || !SSL_is_init_finished(c->ssl) ||
	    (cur = SSL_get0_session(c->ssl)) == NULL ||
	    !SSL_SESSION_is_resumable(cur))
		return;
	if ((copy = SSL_SESSION_dup(cur)) == NULL) {
		ERR_clear_error();
		return;		/* no resumption next time; not an error */
	}
	SSL_SESSION_free(c->sess);
	c->sess = copy;
}

/* Drops the connection without a close_notify (state is unknown). */
static void
conn_drop(struct estc *c)
{
	if (c->ssl != NULL) {
		save_session(c);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	c->blen = 0;
}

void
estc_close(struct estc *c)
{
	struct pipe_guard g;

	if (c == NULL)
		return;
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		/* Best effort, non-blocking: one try, no waiting. */
		guard_enter(&g);
		(void)SSL_shutdown(c->ssl);
		guard_leave(&g);
		ERR_clear_error();
	}
	conn_drop(c);
}

void
estc_free(struct estc *c)
{
	if (c == NULL)
		return;
	estc_close(c);
	SSL_SESSION_free(c->sess);
	SSL_CTX_free(c->ctx);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	sk_X509_pop_free(c->chain, X509_free);
	free(c->buf);
	free(c->host);
	free(c);
}

void
estc_set_timeout(struct estc *c, int ms)
{
	if (c != NULL && ms > 0)
		c->timeout_ms = ms;
}

void
estc_set_resume(struct estc *c, int on)
{
	if (c == NULL)
		return;
	c->resume = on != 0;
	if (!on) {
		SSL_SESSION_free(c->sess);
		c->sess = NULL;
	}
}

int
estc_set_identity(struct estc *c, X509 *cert, STACK_OF(X509) *chain,
    EVP_PKEY *key)
{
	STACK_OF(X509) *ch = NULL;

	if (c == NULL || (cert == NULL) != (key == NULL))
		return 0;
	if (cert != NULL && X509_check_private_key(cert, key) != 1) {
		log_openssl("estc: client key does not match certificate");
		return 0;
	}
	if (chain != NULL && (ch = X509_chain_up_ref(chain)) == NULL) {
		log_openssl("estc: X509_chain_up_ref");
		return 0;
	}
	if ((cert != NULL && !X509_up_ref(cert)) ||
	    (key != NULL && !EVP_PKEY_up_ref(key))) {
		/* Cannot fail in practice; undo what we can. */
		sk_X509_pop_free(ch, X509_free);
		return 0;
	}
	estc_close(c);
	SSL_SESSION_free(c->sess);
	c->sess = NULL;
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	sk_X509_pop_free(c->chain, X509_free);
	c->cert = cert;
	c->key = key;
	c->chain = ch;
	return 1;
}

int
estc_session_reused(const struct estc *c)
{
	return c != NULL && c->ssl != NULL && SSL_session_reused(c->ssl) == 1;
}

/* ---- waiting and TLS I/O ---- */

/* Waits for fd readiness; ESTC_ERR_TIMEOUT once deadline has passed. */
static enum estc_err
wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (left <= 0)
			return ESTC_ERR_TIMEOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return ESTC_OK;
		if (n == 0)
			return ESTC_ERR_TIMEOUT;
		if (errno != EINTR)
			return ESTC_ERR_IO;
	}
}

/*
 * After an SSL_* call returned r <= 0: wait and return ESTC_OK to retry,
 * or the error to give up with.
 */
static enum estc_err
ssl_retry(struct estc *c, int r, long long deadline)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c->fd, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c->fd, POLLOUT, deadline);
	default:
		return ESTC_ERR_IO;
	}
}

static enum estc_err
tcp_connect(struct estc *c, long long deadline, char *reason, size_t rsz)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	enum estc_err rc = ESTC_ERR_CONNECT;
	char port[8];
	int gai, one = 1, err = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", c->port);
	/* getaddrinfo has no timeout; numeric hosts and /etc/hosts are
	 * instant, and DNS is the resolver's own business. */
	if ((gai = getaddrinfo(c->host, port, &hints, &res)) != 0) {
		set_reason(reason, rsz, "resolve %s: %s", c->host,
		    gai_strerror(gai));
		return ESTC_ERR_CONNECT;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		socklen_t sl = sizeof(err);
		int fd;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			if (errno != EINPROGRESS) {
				err = errno;
				close(fd);
				continue;
			}
			enum estc_err w = wait_fd(fd, POLLOUT, deadline);

			if (w != ESTC_OK) {
				close(fd);
				if (w == ESTC_ERR_TIMEOUT) {
					err = ETIMEDOUT;
					rc = ESTC_ERR_TIMEOUT;
					break;
				}
				err = EIO;
				continue;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) ==
			    -1 || err != 0) {
				if (err == 0)
					err = errno;
				close(fd);
				continue;
			}
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c->fd = fd;
		rc = ESTC_OK;
		break;
	}
	freeaddrinfo(res);
	if (rc != ESTC_OK) {
		if (rc != ESTC_ERR_TIMEOUT)
			rc = ESTC_ERR_CONNECT;
		set_reason(reason, rsz, "connect %s:%u: %s", c->host, c->port,
		    strerror(err ? err : ECONNREFUSED));
	}
	return rc;
}

static enum estc_err
tls_handshake(struct estc *c, long long deadline, char *reason, size_t rsz)
{
	enum estc_err rc;
	int r;

	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set1_host(c->ssl, c->host) != 1 ||
	    (!c->host_is_ip &&
	    SSL_set_tlsext_host_name(c->ssl, c->host) != 1) ||
	    (c->cert != NULL &&
	    SSL_use_cert_and_key(c->ssl, c->cert, c->key, c->chain, 1) != 1) ||
	    (c->resume && c->sess != NULL &&
	    SSL_set_session(c->ssl, c->sess) != 1)) {
		log_openssl("estc: setting up TLS");
		set_reason(reason, rsz, "TLS setup failed");
		return ESTC_ERR_INTERNAL;
	}
	while ((r = SSL_connect(c->ssl)) != 1) {
		if ((rc = ssl_retry(c, r, deadline)) == ESTC_OK)
			continue;
		if (rc == ESTC_ERR_TIMEOUT) {
			set_reason(reason, rsz, "TLS handshake timed out");
			return rc;
		}
		if (SSL_get_verify_result(c->ssl) != X509_V_OK)
			set_reason(reason, rsz, "server certificate: %s",
			    X509_verify_cert_error_string(
			    SSL_get_verify_result(c->ssl)));
		else {
			unsigned long e = ERR_peek_last_error();
			char buf[160];

			ERR_error_string_n(e, buf, sizeof(buf));
			set_reason(reason, rsz, "TLS handshake: %s",
			    e ? buf : "connection closed");
		}
		ERR_clear_error();
		return ESTC_ERR_TLS;
	}
	/* A failed resumption is not an error: the full handshake ran. */
	return ESTC_OK;
}

static enum estc_err
do_connect(struct estc *c, long long deadline, char *reason, size_t rsz)
{
	enum estc_err rc;

	conn_drop(c);
	ERR_clear_error();
	if ((rc = tcp_connect(c, deadline, reason, rsz)) == ESTC_OK &&
	    (rc = tls_handshake(c, deadline, reason, rsz)) == ESTC_OK)
		return ESTC_OK;
	/* Do not keep the session of a failed handshake. */
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	conn_drop(c);
	return rc;
}

enum estc_err
estc_connect(struct estc *c, char *reason, size_t reasonsz)
{
	struct pipe_guard g;
	enum estc_err rc;

	set_reason(reason, reasonsz, "%s", "");
	if (c == NULL)
		return ESTC_ERR_ARG;
	guard_enter(&g);
	rc = do_connect(c, now_ms() + c->timeout_ms, reason, reasonsz);
	guard_leave(&g);
	return rc;
}

static enum estc_err
tls_write_all(struct estc *c, const void *p, size_t len, long long deadline)
{
	enum estc_err rc;
	size_t done = 0;

	while (done < len) {
		size_t w = 0;
		int r = SSL_write_ex(c->ssl, (const char *)p + done, len - done,
		    &w);

		if (r == 1) {
			done += w;
			continue;
		}
		if ((rc = ssl_retry(c, r, deadline)) != ESTC_OK)
			return rc;
	}
	return ESTC_OK;
}

/*
 * Reads more bytes into c->buf (at most ESTC_MAX_HEAD + ESTC_MAX_BODY in
 * all).  Returns ESTC_OK with *eof set when the peer closed.
 */
static enum estc_err
read_more(struct estc *c, long long deadline, int *eof)
{
	const size_t limit = ESTC_MAX_HEAD + ESTC_MAX_BODY + 64;
	enum estc_err rc;

	*eof = 0;
	if (c->bcap - c->blen < 4096) {
		size_t ncap = c->bcap ? c->bcap * 2 : 16384;
		unsigned char *nb;

		if (c->blen >= limit)
			return ESTC_ERR_PROTO;
		if (ncap > limit)
			ncap = limit;
		if ((nb = realloc(c->buf, ncap + 1)) == NULL)
			return ESTC_ERR_INTERNAL;
		c->buf = nb;
		c->bcap = ncap;
	}
	for (;;) {
		size_t got = 0;
		int r;

		errno = 0;	/* SSL_ERROR_SYSCALL with errno 0 is EOF */
		r = SSL_read_ex(c->ssl, c->buf + c->blen, c->bcap - c->blen,
		    &got);

		if (r == 1) {
			c->blen += got;
			c->buf[c->blen] = '\0';
			return ESTC_OK;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_ZERO_RETURN:
			*eof = 1;
			return ESTC_OK;
		case SSL_ERROR_SSL:
			/* OpenSSL 3 reports a TCP close without close_notify
			 * here; framing decides whether that is fine. */
			if (ERR_GET_REASON(ERR_peek_last_error()) ==
			    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				ERR_clear_error();
				*eof = 1;
				return ESTC_OK;
			}
			ERR_clear_error();
			return ESTC_ERR_IO;
		case SSL_ERROR_SYSCALL:
			ERR_clear_error();
			if (errno == 0) {
				*eof = 1;
				return ESTC_OK;
			}
			return ESTC_ERR_IO;
		default:
			if ((rc = ssl_retry(c, r, deadline)) != ESTC_OK)
				return rc;
		}
	}
}

/* Drops the first n bytes of the buffer. */
static void
consume(struct estc *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->blen - n);
	c->blen -= n;
	if (c->buf != NULL)
		c->buf[c->blen] = '\0';
}

/* ---- HTTP response parsing ---- */

/* Finds the end of the header block (blank line); returns its length. */
static size_t
head_end(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Parses a decimal number made only of digits; -1 if not one. */
static long long
parse_dec(const char *s, size_t n, long long max)
{
	long long v = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > max ? -1 : v;
}

static const char *
trim(const char *s, size_t *n)
{
	while (*n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' ||
	    s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

/* Does the comma-separated list v[0..n) hold token tok? */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	while (n > 0) {
		const char *comma = memchr(v, ',', n);
		size_t l = comma ? (size_t)(comma - v) : n;
		size_t tn = l;
		const char *t = trim(v, &tn);

		if (tn == tl && strncasecmp(t, tok, tl) == 0)
			return 1;
		if (comma == NULL)
			break;
		v += l + 1;
		n -= l + 1;
	}
	return 0;
}

struct framing {
	long long	clen;		/* -1 if no Content-Length */
	int		chunked;
	int		http10;
};

/* Parses status line and headers of h[0..n). */
static enum estc_err
parse_head(const char *h, size_t n, struct http_resp *r, struct framing *f)
{
	const char *nl = memchr(h, '\n', n);
	size_t ll;

	f->clen = -1;
	f->chunked = 0;
	r->retry_after = -1;
	r->ctype[0] = '\0';
	ll = (size_t)(nl - h);
	/* "HTTP/1.x SP 3DIGIT [SP reason]" */
	if (ll < 12 || memcmp(h, "HTTP/1.", 7) != 0 ||
	    (h[7] != '0' && h[7] != '1') || h[8] != ' ' ||
	    (r->status = (int)parse_dec(h + 9, 3, 999)) < 100 ||
	    (ll > 12 && h[12] != ' ' && h[12] != '\r'))
		return ESTC_ERR_PROTO;
	f->http10 = h[7] == '0';
	r->close = f->http10;
	for (h = nl + 1, n -= ll + 1; n > 0; h = nl + 1, n -= ll + 1) {
		const char *colon, *v;
		size_t vn, nn;

		nl = memchr(h, '\n', n);
		ll = (size_t)(nl - h);
		if (ll == 0 || (ll == 1 && h[0] == '\r'))
			break;
		if ((colon = memchr(h, ':', ll)) == NULL || colon == h)
			return ESTC_ERR_PROTO;
		nn = (size_t)(colon - h);
		vn = ll - nn - 1;
		v = trim(colon + 1, &vn);
#define IS(name) (nn == sizeof(name) - 1 && strncasecmp(h, name, nn) == 0)
		if (IS("Content-Length")) {
			long long cl = parse_dec(v, vn, ESTC_MAX_BODY);

			/* Over the cap, not a number, or two that differ. */
			if (cl < 0 || (f->clen >= 0 && f->clen != cl))
				return ESTC_ERR_PROTO;
			f->clen = cl;
		} else if (IS("Transfer-Encoding")) {
			/* Only "chunked" is understood (RFC 9112 6.1). */
			if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
				return ESTC_ERR_PROTO;
			f->chunked = 1;
		} else if (IS("Connection")) {
			if (has_token(v, vn, "close"))
				r->close = 1;
			else if (f->http10 && has_token(v, vn, "keep-alive"))
				r->close = 0;
		} else if (IS("Content-Type")) {
			if (vn >= sizeof(r->ctype))
				return ESTC_ERR_PROTO;
			memcpy(r->ctype, v, vn);
			r->ctype[vn] = '\0';
		} else if (IS("Retry-After")) {
			r->retry_after = (long)parse_dec(v, vn, 86400 * 365);
		}
#undef IS
	}
	/* RFC 9112 6.3: chunked wins, and a sender must not send both. */
	if (f->chunked && f->clen >= 0)
		return ESTC_ERR_PROTO;
	return ESTC_OK;
}

/* Makes sure at least n bytes are buffered. */
static enum estc_err
need(struct estc *c, size_t n, long long deadline)
{
	enum estc_err rc;
	int eof;

	while (c->blen < n) {
		if ((rc = read_more(c, deadline, &eof)) != ESTC_OK)
			return rc;
		if (eof)
			return ESTC_ERR_IO;
	}
	return ESTC_OK;
}

/* Makes sure a full line is buffered; *ll is its length with the LF. */
static enum estc_err
need_line(struct estc *c, size_t max, long long deadline, size_t *ll)
{
	enum estc_err rc;
	unsigned char *nl;
	size_t scanned = 0;
	int eof;

	for (;;) {
		if ((nl = memchr(c->buf + scanned, '\n', c->blen - scanned))) {
			*ll = (size_t)(nl - c->buf) + 1;
			return ESTC_OK;
		}
		scanned = c->blen;
		if (c->blen > max)
			return ESTC_ERR_PROTO;
		if ((rc = read_more(c, deadline, &eof)) != ESTC_OK)
			return rc;
		if (eof)
			return ESTC_ERR_IO;
	}
}

/* Appends src[0..n) to the response body, within ESTC_MAX_BODY. */
static enum estc_err
body_put(struct http_resp *r, const void *src, size_t n)
{
	char *nb;

	if (n > ESTC_MAX_BODY - r->len)
		return ESTC_ERR_PROTO;
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return ESTC_ERR_INTERNAL;
	r->body = nb;
	memcpy(r->body + r->len, src, n);
	r->len += n;
	r->body[r->len] = '\0';
	return ESTC_OK;
}

/* Chunked body (RFC 9112 section 7.1): size [; ext] CRLF data CRLF ... */
static enum estc_err
read_chunked(struct estc *c, struct http_resp *r, long long deadline)
{
	enum estc_err rc;
	size_t ll;

	for (;;) {
		size_t sz = 0, i, nd = 0;

		if ((rc = need_line(c, 1024, deadline, &ll)) != ESTC_OK)
			return rc;
		for (i = 0; i < ll; i++) {
			int ch = c->buf[i], d;

			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				break;
			if (++nd > 8)
				return ESTC_ERR_PROTO;
			sz = sz * 16 + (size_t)d;
		}
		if (nd == 0 || (c->buf[i] != ';' && c->buf[i] != '\r' &&
		    c->buf[i] != '\n' && c->buf[i] != ' ' && c->buf[i] != '\t'))
			return ESTC_ERR_PROTO;
		if (sz > ESTC_MAX_BODY)
			return ESTC_ERR_PROTO;
		consume(c, ll);
		if (sz == 0)
			break;
		if ((rc = need(c, sz, deadline)) != ESTC_OK ||
		    (rc = body_put(r, c->buf, sz)) != ESTC_OK)
			return rc;
		consume(c, sz);
		if ((rc = need_line(c, 2, deadline, &ll)) != ESTC_OK)
			return rc;
		if (!(ll == 1 || (ll == 2 && c->buf[0] == '\r')))
			return ESTC_ERR_PROTO;
		consume(c, ll);
	}
	/* Trailer section: skip fields up to the blank line, capped. */
	for (size_t total = 0;;) {
		int blank;

		if ((rc = need_line(c, ESTC_MAX_HEAD, deadline, &ll)) !=
		    ESTC_OK)
			return rc;
		blank = ll == 1 || (ll == 2 && c->buf[0] == '\r');
		consume(c, ll);
		if (blank)
			return ESTC_OK;
		if ((total += ll) > ESTC_MAX_HEAD)
			return ESTC_ERR_PROTO;
	}
}

/* Reads one full response into r (1xx responses skipped). */
static enum estc_err
read_response(struct estc *c, struct http_resp *r, long long deadline,
    int *got_bytes)
{
	struct framing f;
	enum estc_err rc;
	size_t hl;
	int eof;

	*got_bytes = 0;
	for (;;) {
		while ((hl = head_end(c->buf, c->blen)) == 0) {
			if (c->blen > ESTC_MAX_HEAD)
				return ESTC_ERR_PROTO;
			if ((rc = read_more(c, deadline, &eof)) != ESTC_OK)
				return rc;
			if (eof)
				return ESTC_ERR_IO;
			*got_bytes = 1;
		}
		*got_bytes = 1;
		if (hl > ESTC_MAX_HEAD)
			return ESTC_ERR_PROTO;
		if ((rc = parse_head((const char *)c->buf, hl, r, &f)) !=
		    ESTC_OK)
			return rc;
		consume(c, hl);
		if (r->status >= 200)
			break;
		if (r->status == 101)
			return ESTC_ERR_PROTO;
	}
	if (r->status == 204 || r->status == 304)
		return ESTC_OK;
	if (f.chunked)
		return read_chunked(c, r, deadline);
	if (f.clen >= 0) {
		if ((rc = need(c, (size_t)f.clen, deadline)) != ESTC_OK ||
		    (rc = body_put(r, c->buf, (size_t)f.clen)) != ESTC_OK)
			return rc;
		consume(c, (size_t)f.clen);
		return ESTC_OK;
	}
	/* Neither: the body runs to the end of the connection. */
	r->close = 1;
	for (;;) {
		if (c->blen > 0) {
			if ((rc = body_put(r, c->buf, c->blen)) != ESTC_OK)
				return rc;
			consume(c, c->blen);
		}
		if ((rc = read_more(c, deadline, &eof)) != ESTC_OK)
			return rc;
		if (eof)
			break;
	}
	if (c->blen > 0 && (rc = body_put(r, c->buf, c->blen)) != ESTC_OK)
		return rc;
	consume(c, c->blen);
	return ESTC_OK;
}

static void
resp_clear(struct http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Sends one request; reads its response. */
static enum estc_err
exchange_once(struct estc *c, const char *req, size_t reqlen,
    struct http_resp *r, long long deadline, int *got_bytes)
{
	enum estc_err rc;

	*got_bytes = 0;
	c->blen = 0;
	if ((rc = tls_write_all(c, req, reqlen, deadline)) != ESTC_OK)
		return rc;
	return read_response(c, r, deadline, got_bytes);
}

/*
 * One request/response on the keep-alive connection, connecting if
 * needed.  A reused connection that fails before any response byte is
 * retried once on a fresh one (the server closed it while idle).
 */
static enum estc_err
exchange(struct estc *c, const char *method, const char *label,
    enum est_op op, const char *ctype, const char *body, size_t blen,
    struct http_resp *r, char *reason, size_t rsz)
{
	long long deadline = now_ms() + c->timeout_ms;
	char *req = NULL, path[128], hosthdr[300], lbl[EST_LABEL_MAX + 1];
	enum est_op chk;
	struct pipe_guard g;
	enum estc_err rc;
	size_t reqlen;
	int n, fresh = 0, got;

	memset(r, 0, sizeof(*r));
	if (label != NULL && *label != '\0')
		n = snprintf(path, sizeof(path), "/.well-known/est/%s/%s",
		    label, est_op_name(op));
	else
		n = snprintf(path, sizeof(path), "/.well-known/est/%s",
		    est_op_name(op));
	/* Round-trip through the server's own path rule: a label such as
	 * "a/b" or "x?y" must be refused here, not sent. */
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    !est_path_parse(path, (size_t)n, lbl, sizeof(lbl), &chk) ||
	    chk != op) {
		set_reason(reason, rsz, "invalid EST label");
		return ESTC_ERR_ARG;
	}
	n = snprintf(hosthdr, sizeof(hosthdr), strchr(c->host, ':') ?
	    "[%s]:%u" : "%s:%u", c->host, c->port);
	if (n < 0 || (size_t)n >= sizeof(hosthdr))
		return ESTC_ERR_ARG;
	reqlen = strlen(method) + strlen(path) + strlen(hosthdr) + 256 +
	    (ctype ? strlen(ctype) : 0) + blen;
	if ((req = malloc(reqlen)) == NULL)
		return ESTC_ERR_INTERNAL;
	if (body != NULL)
		n = snprintf(req, reqlen, "%s %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: fleetca-estc\r\nContent-Type: %s\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "Content-Length: %zu\r\n\r\n", method, path, hosthdr,
		    ctype, blen);
	else
		n = snprintf(req, reqlen, "%s %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: fleetca-estc\r\n\r\n", method, path, hosthdr);
	if (n < 0 || (size_t)n + blen >= reqlen) {
		free(req);
		return ESTC_ERR_INTERNAL;
	}
	if (body != NULL)
		memcpy(req + n, body, blen);
	reqlen = (size_t)n + blen;

	guard_enter(&g);
	if (c->ssl == NULL) {
		if ((rc = do_connect(c, deadline, reason, rsz)) != ESTC_OK)
			goto out;
		fresh = 1;
	}
	rc = exchange_once(c, req, reqlen, r, deadline, &got);
	if (rc != ESTC_OK && rc != ESTC_ERR_TIMEOUT && !fresh && !got) {
		resp_clear(r);
		if ((rc = do_connect(c, deadline, reason, rsz)) != ESTC_OK)
			goto out;
		rc = exchange_once(c, req, reqlen, r, deadline, &got);
	}
	if (rc != ESTC_OK) {
		if (rc == ESTC_ERR_TIMEOUT)
			set_reason(reason, rsz, "no response within %d ms",
			    c->timeout_ms);
		else if (rc == ESTC_ERR_IO)
			set_reason(reason, rsz, "connection lost%s",
			    got ? " during the response" : "");
		else
			set_reason(reason, rsz, "%s", estc_err_str(rc));
		ERR_clear_error();
		conn_drop(c);
		resp_clear(r);
		goto out;
	}
	save_session(c);
	if (r->close)
		estc_close(c);
 out:
	guard_leave(&g);
	free(req);
	return rc;
}

/*
 * Maps a non-200 response to an error with a reason.  Returns ESTC_OK
 * only for 200.
 */
static enum estc_err
check_status(const struct http_resp *r, char *reason, size_t rsz)
{
	if (r->status == 200)
		return ESTC_OK;
	if (r->status == 202) {
		set_reason(reason, rsz, "pending, retry after %ld s",
		    r->retry_after);
		return ESTC_ERR_PENDING;
	}
	if (r->body != NULL && r->len > 0)
		reason_from_body(reason, rsz, r->body, r->len);
	else
		set_reason(reason, rsz, "HTTP status %d", r->status);
	return ESTC_ERR_HTTP;
}

/* ---- EST operations ---- */

enum estc_err
estc_get_cacerts(struct estc *c, const char *label, STACK_OF(X509) **out,
    int *http_status, char *reason, size_t reasonsz)
{
	struct http_resp r;
	enum estc_err rc;
	enum est_err e;

	if (out != NULL)
		*out = NULL;
	if (http_status != NULL)
		*http_status = 0;
	set_reason(reason, reasonsz, "%s", "");
	if (c == NULL || out == NULL)
		return ESTC_ERR_ARG;
	rc = exchange(c, "GET", label, EST_OP_CACERTS, NULL, NULL, 0, &r,
	    reason, reasonsz);
	if (rc != ESTC_OK)
		return rc;
	if (http_status != NULL)
		*http_status = r.status;
	if ((rc = check_status(&r, reason, reasonsz)) == ESTC_OK &&
	    (e = est_certs_decode(r.body, r.len, out)) != EST_OK) {
		set_reason(reason, reasonsz, "cacerts: %s", est_err_str(e));
		rc = ESTC_ERR_DECODE;
	}
	resp_clear(&r);
	return rc;
}

static enum estc_err
enroll(struct estc *c, enum est_op op, const char *label, X509_REQ *req,
    X509 **out, int *http_status, char *reason, size_t reasonsz)
{
	STACK_OF(X509) *sk = NULL;
	struct http_resp r;
	enum estc_err rc;
	enum est_err e;
	char *body = NULL;
	size_t blen = 0;

	if (out != NULL)
		*out = NULL;
	if (http_status != NULL)
		*http_status = 0;
	set_reason(reason, reasonsz, "%s", "");
	if (c == NULL || req == NULL || out == NULL)
		return ESTC_ERR_ARG;
	if (est_csr_encode(req, &body, &blen) != EST_OK)
		return ESTC_ERR_INTERNAL;
	rc = exchange(c, "POST", label, op, EST_CT_PKCS10, body, blen, &r,
	    reason, reasonsz);
	free(body);
	if (rc != ESTC_OK)
		return rc;
	if (http_status != NULL)
		*http_status = r.status;
	if ((rc = check_status(&r, reason, reasonsz)) == ESTC_OK) {
		if ((e = est_certs_decode(r.body, r.len, &sk)) != EST_OK) {
			set_reason(reason, reasonsz, "%s: %s", est_op_name(op),
			    est_err_str(e));
			rc = ESTC_ERR_DECODE;
		} else {
			/* The issued certificate first (RFC 7030 4.2.3). */
			*out = sk_X509_shift(sk);
		}
	}
	sk_X509_pop_free(sk, X509_free);
	resp_clear(&r);
	return rc;
}

/* 1 when b[0..n) is non-empty and only base64 text (RFC 4648 alphabet,
 * padding, line breaks). */
static int
looks_base64(const char *b, size_t n)
{
	size_t sig = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/')
			sig++;
		else if (ch != '=' && ch != '\r' && ch != '\n')
			return 0;
	}
	return sig > 0;
}

enum estc_err
estc_simpleenroll_raw(struct estc *c, const char *label, const char *b64,
    size_t len, size_t *body_len, int *http_status, char *reason,
    size_t reasonsz)
{
	struct http_resp r;
	enum estc_err rc;

	if (body_len != NULL)
		*body_len = 0;
	if (http_status != NULL)
		*http_status = 0;
	set_reason(reason, reasonsz, "%s", "");
	if (c == NULL || b64 == NULL || len == 0)
		return ESTC_ERR_ARG;
	rc = exchange(c, "POST", label, EST_OP_SIMPLEENROLL, EST_CT_PKCS10,
	    b64, len, &r, reason, reasonsz);
	if (rc != ESTC_OK)
		return rc;
	if (http_status != NULL)
		*http_status = r.status;
	if ((rc = check_status(&r, reason, reasonsz)) == ESTC_OK) {
		if (!looks_base64(r.body, r.len)) {
			set_reason(reason, reasonsz, "simpleenroll: the answer "
			    "is not base64");
			rc = ESTC_ERR_DECODE;
		} else if (body_len != NULL) {
			*body_len = r.len;
		}
	}
	resp_clear(&r);
	return rc;
}

enum estc_err
estc_simpleenroll(struct estc *c, const char *label, X509_REQ *req,
    X509 **out, int *http_status, char *reason, size_t reasonsz)
{
	return enroll(c, EST_OP_SIMPLEENROLL, label, req, out, http_status,
	    reason, reasonsz);
}

enum estc_err
estc_simplereenroll(struct estc *c, const char *label, X509_REQ *req,
    X509 **out, int *http_status, char *reason, size_t reasonsz)
{
	return enroll(c, EST_OP_SIMPLEREENROLL, label, req, out, http_status,
	    reason, reasonsz);
}

enum estc_err
estc_serverkeygen(struct estc *c, const char *label, X509_REQ *req,
    EVP_PKEY **key, X509 **cert, int *http_status, char *reason,
    size_t reasonsz)
{
	struct http_resp r;
	enum estc_err rc;
	enum est_err e;
	char *body = NULL;
	size_t blen = 0;

	if (key != NULL)
		*key = NULL;
	if (cert != NULL)
		*cert = NULL;
	if (http_status != NULL)
		*http_status = 0;
	set_reason(reason, reasonsz, "%s", "");
	if (c == NULL || req == NULL || key == NULL || cert == NULL)
		return ESTC_ERR_ARG;
	if (est_csr_encode(req, &body, &blen) != EST_OK)
		return ESTC_ERR_INTERNAL;
	rc = exchange(c, "POST", label, EST_OP_SERVERKEYGEN, EST_CT_PKCS10,
	    body, blen, &r, reason, reasonsz);
	free(body);
	if (rc != ESTC_OK)
		return rc;
	if (http_status != NULL)
		*http_status = r.status;
	if ((rc = check_status(&r, reason, reasonsz)) == ESTC_OK &&
	    (e = est_serverkeygen_decode(r.ctype, r.body, r.len, key, cert)) !=
	    EST_OK) {
		set_reason(reason, reasonsz, "serverkeygen: %s",
		    est_err_str(e));
		rc = ESTC_ERR_DECODE;
	}
	/* The body held a private key. */
	if (r.body != NULL)
		OPENSSL_cleanse(r.body, r.len);
	resp_clear(&r);
	return rc;
}

/* ---- CSR helper ---- */

X509_REQ *
estc_make_csr(EVP_PKEY *key, const char *uid)
{
	const EVP_MD *md = EVP_sha256();
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	size_t n;

	if (key == NULL || uid == NULL || (n = strlen(uid)) == 0 || n > 64)
		return NULL;
	/* EdDSA signs the message itself: no separate digest. */
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		md = NULL;
	if ((req = X509_REQ_new()) == NULL || (name = X509_NAME_new()) == NULL)
		goto fail;
	/* serialNumber is a PrintableString (RFC 5280 Appendix A.1); the
	 * string table makes OpenSSL refuse other characters. */
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)uid, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_ASC,
	    (const unsigned char *)uid, -1, -1, 0) != 1 ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, md) <= 0)
		goto fail;
	X509_NAME_free(name);
	return req;
 fail:
	log_openssl("estc: making CSR for \"%.64s\"", uid);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return NULL;
}
