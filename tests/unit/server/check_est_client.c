/*
 * check_est_client.c - unit tests for server/est_client.c.
 *
 * Each test starts a tiny OpenSSL TLS server on 127.0.0.1, port 0, in a
 * thread.  It plays a script: for each request it records what arrived
 * and answers with canned bytes (or stalls, or hangs up).  All waits are
 * bounded (poll and socket timeouts of a few seconds, libcheck timeout).
 * Only the CA file touches the disk (a mkstemp file, removed at the end),
 * since estc_new() takes a path.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "server/est_client.h"
#include "server/proto/est.h"

#define MAX_STEPS	6

/* ---- PKI fixture ---- */

struct pki {
	EVP_PKEY	*ca_key, *srv_key, *cli_key, *other_key;
	X509		*ca, *srv, *cli, *other_ca, *issued;
	char		 cafile[64], otherfile[64];
};

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &v3, nid, val);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* Issues a cert for key named cn; self-signed when issuer is NULL. */
static X509 *
issue(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    const char *san, int ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer ?
	    X509_get_subject_name(issuer) : n), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	if (ca)
		add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		    "critical,CA:TRUE");
	if (san != NULL)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	ck_assert_int_gt(X509_sign(x, ikey ? ikey : key, EVP_sha256()), 0);
	return x;
}

static void
write_pem(char *path, X509 *x)
{
	int fd;
	FILE *f;

	strcpy(path, "/tmp/check_estc_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
}

static void
pki_init(struct pki *p)
{
	memset(p, 0, sizeof(*p));
	p->ca_key = new_key();
	p->srv_key = new_key();
	p->cli_key = new_key();
	p->other_key = new_key();
	p->ca = issue(p->ca_key, "Test Root", NULL, NULL, NULL, 1, 1);
	p->srv = issue(p->srv_key, "est server", p->ca, p->ca_key,
	    "IP:127.0.0.1", 0, 2);
	p->cli = issue(p->cli_key, "idevid-0042", p->ca, p->ca_key, NULL, 0, 3);
	p->issued = issue(p->cli_key, "ldevid-0042", p->ca, p->ca_key, NULL, 0,
	    4);
	p->other_ca = issue(p->other_key, "Other Root", NULL, NULL, NULL, 1, 5);
	write_pem(p->cafile, p->ca);
	write_pem(p->otherfile, p->other_ca);
}

static void
pki_free(struct pki *p)
{
	unlink(p->cafile);
	unlink(p->otherfile);
	X509_free(p->ca);
	X509_free(p->srv);
	X509_free(p->cli);
	X509_free(p->issued);
	X509_free(p->other_ca);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->srv_key);
	EVP_PKEY_free(p->cli_key);
	EVP_PKEY_free(p->other_key);
}

/* ---- scripted TLS server ---- */

struct step {
	char	*resp;		/* bytes to send (owned), or NULL */
	int	 stall;		/* send nothing; wait for the client to go */
	int	 hangup;	/* close the connection after answering */
};

struct srv {
	SSL_CTX		*ctx;
	int		 lfd;
	unsigned short	 port;
	pthread_t	 th;
	struct step	 steps[MAX_STEPS];
	int		 nsteps;
	/* Filled by the thread, read after join. */
	int		 nreq;
	int		 nconn;
	int		 nresumed;
	char		 path[MAX_STEPS][128];
	char		*body[MAX_STEPS];
	size_t		 blen[MAX_STEPS];
	char		 peer_cn[64];
};

static int
accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;	/* test server: ask for a client cert, take any */
}

/* Reads one request; returns 1, or 0 on EOF / error / timeout. */
static int
srv_read_request(SSL *ssl, struct srv *s, int i)
{
	char buf[65536], *end, *cl;
	size_t n = 0, hl, want = 0;

	for (;;) {
		size_t got = 0;

		if (n + 1 >= sizeof(buf) ||
		    SSL_read_ex(ssl, buf + n, sizeof(buf) - 1 - n, &got) != 1)
			return 0;
		n += got;
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hl = (size_t)(end - buf) + 4;
	sscanf(buf, "%*s %127s", s->path[i]);
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL && cl < end)
		want = strtoul(cl + 17, NULL, 10);
	while (n - hl < want) {
		size_t got = 0;

		if (n + 1 >= sizeof(buf) ||
		    SSL_read_ex(ssl, buf + n, sizeof(buf) - 1 - n, &got) != 1)
			return 0;
		n += got;
	}
	s->body[i] = malloc(want + 1);
	ck_assert_ptr_nonnull(s->body[i]);
	memcpy(s->body[i], buf + hl, want);
	s->body[i][want] = '\0';
	s->blen[i] = want;
	return 1;
}

static void
srv_peer(SSL *ssl, struct srv *s)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);

	if (peer != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
		    NID_commonName, s->peer_cn, sizeof(s->peer_cn));
	if (SSL_session_reused(ssl))
		s->nresumed++;
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct timeval tv = { 5, 0 };
	sigset_t set;

	/* A write to a departed client must not kill the test. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* With no steps: one connection (a handshake test), then end. */
	while (s->nreq < s->nsteps || s->nconn == 0) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		SSL *ssl;
		int fd;

		if (poll(&p, 1, 5000) != 1)
			break;
		if ((fd = accept(s->lfd, NULL, NULL)) == -1)
			break;
		s->nconn++;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1) {
			SSL_free(ssl);
			close(fd);
			ERR_clear_error();
			if (s->nsteps == 0)
				break;
			continue;
		}
		srv_peer(ssl, s);
		while (s->nreq < s->nsteps && srv_read_request(ssl, s, s->nreq)) {
			struct step *st = &s->steps[s->nreq++];
			char junk[256];
			size_t got;

			if (st->stall) {
				/* Until the client gives up (or 5 s). */
				while (SSL_read_ex(ssl, junk, sizeof(junk),
				    &got) == 1)
					;
				break;
			}
			if (st->resp != NULL)
				SSL_write(ssl, st->resp, (int)strlen(st->resp));
			if (st->hangup)
				break;
		}
		if (s->nreq >= s->nsteps) {
			char junk[256];
			size_t got;

			/* Let the client finish reading, then end. */
			while (SSL_read_ex(ssl, junk, sizeof(junk), &got) == 1)
				;
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
	}
	return NULL;
}

static void
srv_start(struct srv *s, struct pki *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	s->ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(s->ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate(s->ctx, p->srv), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(s->ctx, p->srv_key), 1);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, accept_any);
	/* OpenSSL resumes client-authenticated sessions only with this. */
	ck_assert_int_eq(SSL_CTX_set_session_id_context(s->ctx,
	    (const unsigned char *)"estc-test", 9), 1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(s->lfd, 8), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

/* Waits for the thread; what it recorded stays until srv_free(). */
static void
srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

static void
srv_free(struct srv *s)
{
	for (int i = 0; i < MAX_STEPS; i++) {
		free(s->steps[i].resp);
		free(s->body[i]);
	}
}

static void
step(struct srv *s, char *resp)
{
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_lt(s->nsteps, MAX_STEPS);
	s->steps[s->nsteps++].resp = resp;
}

/* A 200 with Content-Length framing. */
static char *
resp_len(const char *ctype, const char *body)
{
	char *r;

	if (asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	    "Content-Transfer-Encoding: base64\r\nContent-Length: %zu\r\n\r\n%s",
	    ctype, strlen(body), body) < 0)
		return NULL;
	return r;
}

/* A 200 with chunked framing: chunks of 100, an extension, a trailer. */
static char *
resp_chunked(const char *ctype, const char *body)
{
	size_t n = strlen(body), cap = 2 * n + 512, o;
	char *r = malloc(cap);

	ck_assert_ptr_nonnull(r);
	o = (size_t)snprintf(r, cap, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", ctype);
	for (size_t i = 0; i < n; i += 100) {
		size_t k = n - i < 100 ? n - i : 100;

		o += (size_t)snprintf(r + o, cap - o, "%zx%s\r\n", k,
		    i == 0 ? ";ext=1" : "");
		memcpy(r + o, body + i, k);
		o += k;
		o += (size_t)snprintf(r + o, cap - o, "\r\n");
	}
	snprintf(r + o, cap - o, "0\r\nX-Trailer: yes\r\n\r\n");
	return r;
}

static char *
cert_body(X509 *x)
{
	char *b;
	size_t len;

	ck_assert_int_eq(est_cert_encode(x, &b, &len), EST_OK);
	return b;
}

static struct estc *
client(struct pki *p, struct srv *s, const char *host, const char *cafile)
{
	struct estc *c = estc_new(host, s->port, cafile ? cafile : p->cafile);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(estc_set_identity(c, p->cli, NULL, p->cli_key), 1);
	estc_set_timeout(c, 5000);
	return c;
}

static long long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests ---- */

START_TEST(enroll_content_length)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req, *got = NULL;
	X509 *out = NULL;
	char reason[256], *b;
	int status;

	pki_init(&p);
	b = cert_body(p.issued);
	step(&s, resp_len(EST_CT_CERTS_ONLY, b));
	free(b);
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_OK);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(X509_cmp(out, p.issued), 0);
	estc_free(c);
	srv_stop(&s);

	/* What the server saw: the path, a decodable CSR, our identity. */
	ck_assert_str_eq(s.path[0], "/.well-known/est/simpleenroll");
	ck_assert_int_eq(est_csr_decode(s.body[0], s.blen[0], &got), EST_OK);
	ck_assert_int_eq(X509_REQ_verify(got, p.cli_key), 1);
	ck_assert_str_eq(s.peer_cn, "idevid-0042");
	X509_REQ_free(got);
	X509_REQ_free(req);
	X509_free(out);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(keepalive_chunked_then_cacerts)
{
	STACK_OF(X509) *sk = sk_X509_new_null(), *cas = NULL;
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256], *b;
	size_t len;
	int status;

	pki_init(&p);
	b = cert_body(p.issued);
	step(&s, resp_chunked(EST_CT_CERTS_ONLY, b));
	free(b);
	sk_X509_push(sk, p.ca);
	sk_X509_push(sk, p.other_ca);
	ck_assert_int_eq(est_certs_encode(sk, &b, &len), EST_OK);
	step(&s, resp_len(EST_CT_CACERTS, b));
	free(b);
	sk_X509_free(sk);
	srv_start(&s, &p);

	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	ck_assert_int_eq(estc_simplereenroll(c, "fleet-a", req, &out, &status,
	    reason, sizeof(reason)), ESTC_OK);
	ck_assert_int_eq(X509_cmp(out, p.issued), 0);
	ck_assert_int_eq(estc_get_cacerts(c, NULL, &cas, &status, reason,
	    sizeof(reason)), ESTC_OK);
	ck_assert_int_eq(sk_X509_num(cas), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(cas, 0), p.ca), 0);
	estc_free(c);
	srv_stop(&s);

	ck_assert_int_eq(s.nconn, 1);	/* keep-alive held */
	ck_assert_str_eq(s.path[0], "/.well-known/est/fleet-a/simplereenroll");
	ck_assert_str_eq(s.path[1], "/.well-known/est/cacerts");
	ck_assert_uint_eq(s.blen[1], 0);
	sk_X509_pop_free(cas, X509_free);
	X509_REQ_free(req);
	X509_free(out);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(http_errors)
{
	static const char e400[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 31\r\n\r\n"
	    "bad CSR: trailing data\x01\r\nmore\r\n";
	static const char e202[] = "HTTP/1.1 202 Accepted\r\n"
	    "Retry-After: 30\r\nContent-Length: 0\r\n\r\n";
	static const char e500[] = "HTTP/1.1 500 Oops\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256];
	int status;

	pki_init(&p);
	step(&s, strdup(e400));
	step(&s, strdup(e202));
	step(&s, strdup(e500));
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_ERR_HTTP);
	ck_assert_int_eq(status, 400);
	ck_assert_str_eq(reason, "bad CSR: trailing data?");
	ck_assert_ptr_null(out);
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_ERR_PENDING);
	ck_assert_int_eq(status, 202);
	ck_assert_ptr_nonnull(strstr(reason, "30"));
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    5), ESTC_ERR_HTTP);
	ck_assert_int_eq(status, 500);
	ck_assert_str_eq(reason, "HTTP");	/* truncated, terminated */
	estc_free(c);
	srv_stop(&s);
	ck_assert_int_eq(s.nconn, 1);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(bad_responses)
{
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
		    "\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"SMTP ready\r\n\r\n",
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256];
	int status;

	pki_init(&p);
	for (size_t i = 0; i < nbad; i++)
		step(&s, strdup(bad[i]));
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	for (size_t i = 0; i < nbad; i++) {
		ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status,
		    reason, sizeof(reason)), ESTC_ERR_PROTO);
		ck_assert_ptr_null(out);
	}
	estc_free(c);
	srv_stop(&s);
	/* Each broken response closed the connection. */
	ck_assert_int_eq(s.nconn, (int)nbad);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(undecodable_200)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256], *b;
	size_t len;
	int status;

	pki_init(&p);
	req = estc_make_csr(p.cli_key, "dev-0042");
	/* A CSR where a PKCS#7 belongs. */
	ck_assert_int_eq(est_csr_encode(req, &b, &len), EST_OK);
	step(&s, resp_len(EST_CT_CERTS_ONLY, b));
	free(b);
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_ERR_DECODE);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(reason, "PKCS#7"));
	ck_assert_ptr_null(out);
	estc_free(c);
	srv_stop(&s);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(timeout)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256];
	long long t0;
	int status;

	pki_init(&p);
	s.steps[s.nsteps++].stall = 1;
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	estc_set_timeout(c, 300);
	req = estc_make_csr(p.cli_key, "dev-0042");
	t0 = ms_now();
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_ERR_TIMEOUT);
	ck_assert_int_lt(ms_now() - t0, 3000);
	ck_assert_int_eq(status, 0);
	ck_assert_ptr_nonnull(strstr(reason, "300 ms"));
	estc_free(c);	/* closes: the stalled server sees EOF */
	srv_stop(&s);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(untrusted_server)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	char reason[256];

	pki_init(&p);
	srv_start(&s, &p);	/* no steps: one handshake attempt, then end */
	c = client(&p, &s, "127.0.0.1", p.otherfile);
	ck_assert_int_eq(estc_connect(c, reason, sizeof(reason)), ESTC_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(reason, "server certificate"));
	estc_free(c);
	srv_stop(&s);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(wrong_name)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	char reason[256];

	pki_init(&p);
	srv_start(&s, &p);
	/* The server certificate names 127.0.0.1 only. */
	c = client(&p, &s, "localhost", NULL);
	ck_assert_int_eq(estc_connect(c, reason, sizeof(reason)), ESTC_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(reason, "mismatch"));
	estc_free(c);
	srv_stop(&s);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(refused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct pki p;
	struct estc *c;
	char reason[256];
	int fd;

	/* A port bound but not listening: connect is refused, and keeping
	 * it bound stops the kernel from picking it as our source port (a
	 * TCP self-connect would "succeed"). */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	pki_init(&p);
	c = estc_new("127.0.0.1", ntohs(sa.sin_port), p.cafile);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(estc_connect(c, reason, sizeof(reason)),
	    ESTC_ERR_CONNECT);
	ck_assert_ptr_nonnull(strstr(reason, "refused"));
	estc_free(c);
	close(fd);
	ck_assert_ptr_null(estc_new("127.0.0.1", 1, "/nonexistent/ca.pem"));
	ck_assert_ptr_null(estc_new("", 1, p.cafile));
	ck_assert_ptr_null(estc_new("127.0.0.1", 0, p.cafile));
	ERR_clear_error();
	pki_free(&p);
}
END_TEST

START_TEST(stale_keepalive_and_resume)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	X509 *out = NULL;
	char reason[256], *b;
	int status;

	pki_init(&p);
	b = cert_body(p.issued);
	step(&s, resp_len(EST_CT_CERTS_ONLY, b));
	s.steps[0].hangup = 1;	/* closes without saying so */
	step(&s, resp_len(EST_CT_CERTS_ONLY, b));
	free(b);
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_OK);
	X509_free(out);
	/* Let the server's close arrive, as an idle timeout would. */
	usleep(100 * 1000);
	ck_assert_int_eq(estc_simpleenroll(c, NULL, req, &out, &status, reason,
	    sizeof(reason)), ESTC_OK);
	ck_assert_int_eq(X509_cmp(out, p.issued), 0);
	ck_assert_int_eq(estc_session_reused(c), 1);
	X509_free(out);
	estc_free(c);
	srv_stop(&s);
	ck_assert_int_eq(s.nconn, 2);
	ck_assert_int_eq(s.nresumed, 1);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(serverkeygen)
{
	struct pki p;
	struct srv s = { 0 };
	struct estc *c;
	X509_REQ *req;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	char reason[256], ctype[128], *b, *r;
	size_t len;
	int status;

	pki_init(&p);
	ck_assert_int_eq(est_serverkeygen_encode(p.cli_key, p.issued, "xyz",
	    &b, &len, ctype, sizeof(ctype)), EST_OK);
	ck_assert_int_ge(asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n\r\n%s", ctype, len, b), 0);
	est_secret_free(b, len);
	step(&s, r);
	srv_start(&s, &p);
	c = client(&p, &s, "127.0.0.1", NULL);
	req = estc_make_csr(p.cli_key, "dev-0042");
	ck_assert_int_eq(estc_serverkeygen(c, "p", req, &k, &x, &status, reason,
	    sizeof(reason)), ESTC_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, p.cli_key), 1);
	ck_assert_int_eq(X509_cmp(x, p.issued), 0);
	estc_free(c);
	srv_stop(&s);
	ck_assert_str_eq(s.path[0], "/.well-known/est/p/serverkeygen");
	EVP_PKEY_free(k);
	X509_free(x);
	X509_REQ_free(req);
	srv_free(&s);
	pki_free(&p);
}
END_TEST

START_TEST(make_csr)
{
	EVP_PKEY *ec = new_key(), *ed;
	X509_REQ *r;
	char buf[80];
	X509_NAME *n;

	r = estc_make_csr(ec, "SN-00042");
	ck_assert_ptr_nonnull(r);
	n = X509_REQ_get_subject_name(r);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(n, NID_commonName, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "SN-00042");
	ck_assert_int_gt(X509_NAME_get_text_by_NID(n, NID_serialNumber, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "SN-00042");
	ck_assert_int_eq(X509_REQ_verify(r, ec), 1);
	X509_REQ_free(r);

	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(ed);
	r = estc_make_csr(ed, "dev-1");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(X509_REQ_verify(r, ed), 1);
	X509_REQ_free(r);

	ck_assert_ptr_null(estc_make_csr(ec, ""));
	ck_assert_ptr_null(estc_make_csr(ec, NULL));
	ck_assert_ptr_null(estc_make_csr(NULL, "x"));
	ck_assert_ptr_null(estc_make_csr(ec, "under_score"));	/* not PrintableString */
	memset(buf, 'a', 65);
	buf[65] = '\0';
	ck_assert_ptr_null(estc_make_csr(ec, buf));
	ERR_clear_error();
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}
END_TEST

START_TEST(identity_and_args)
{
	struct pki p;
	struct estc *c;
	X509 *out = (X509 *)1;
	char reason[64];
	int status = 7;

	pki_init(&p);
	c = estc_new("127.0.0.1", 9, p.cafile);
	ck_assert_ptr_nonnull(c);
	/* Key and certificate must match, and come together. */
	ck_assert_int_eq(estc_set_identity(c, p.cli, NULL, p.srv_key), 0);
	ck_assert_int_eq(estc_set_identity(c, p.cli, NULL, NULL), 0);
	ck_assert_int_eq(estc_set_identity(c, p.cli, NULL, p.cli_key), 1);
	ck_assert_int_eq(estc_set_identity(c, NULL, NULL, NULL), 1);
	ck_assert_int_eq(estc_simpleenroll(c, NULL, NULL, &out, &status,
	    reason, sizeof(reason)), ESTC_ERR_ARG);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(status, 0);
	/* Bad labels are refused before any connection is tried. */
	{
		STACK_OF(X509) *sk = NULL;
		static const char *const bad[] = { "a/b", "x?y", "..",
		    "sp ace", "crlf\r\nX: 1", "0123456789012345678901234567890123456789"
		    "0123456789012345678901234567890" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			enum estc_err e = estc_get_cacerts(c, bad[i], &sk,
			    &status, reason, sizeof(reason));

			ck_assert_int_eq(e, ESTC_ERR_ARG);
			ck_assert_ptr_null(sk);
		}
	}
	ck_assert_str_eq(estc_err_str(ESTC_ERR_TIMEOUT), "timed out");
	ck_assert_str_eq(estc_err_str((enum estc_err)99), "unknown error");
	ERR_clear_error();
	estc_free(c);
	estc_free(NULL);
	pki_free(&p);
}
END_TEST

static Suite *
est_client_suite(void)
{
	Suite *s = suite_create("est_client");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, enroll_content_length);
	tcase_add_test(tc, keepalive_chunked_then_cacerts);
	tcase_add_test(tc, http_errors);
	tcase_add_test(tc, bad_responses);
	tcase_add_test(tc, undecodable_200);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, untrusted_server);
	tcase_add_test(tc, wrong_name);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, stale_keepalive_and_resume);
	tcase_add_test(tc, serverkeygen);
	tcase_add_test(tc, make_csr);
	tcase_add_test(tc, identity_and_args);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(est_client_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail != 0;
}
