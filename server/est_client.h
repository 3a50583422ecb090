/*
 * est_client.h - a small EST (RFC 7030) client over OpenSSL TLS.
 *
 * Used by `fleetca demo` to enroll a simulated fleet and by the load
 * benchmark.  One struct estc is one server endpoint and at most one
 * keep-alive HTTP/1.1 connection to it; it is not thread-safe (use one per
 * thread).  TLS 1.2 or later; the server certificate must chain to the CA
 * file and match the host name (or IP address) given to estc_new().
 *
 * Every exchange has a deadline (estc_set_timeout, default 10 s) covering
 * connect, handshake, request and response, so a silent or slow server
 * cannot hang the caller.  A request made on a reused keep-alive
 * connection that the server had already closed is retried once on a
 * fresh connection.  SIGPIPE is blocked around socket writes, so a reset
 * peer never kills the process.
 *
 * Functions that talk to the server return an enum estc_err and, when
 * the caller passes them, fill *http_status (0 if no response arrived) and
 * reason (a one-line, printable, NUL-terminated text; for HTTP errors the
 * first line of the server's body).
 */
#ifndef FLEETCA_SERVER_EST_CLIENT_H
#define FLEETCA_SERVER_EST_CLIENT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct estc;

enum estc_err {
	ESTC_OK = 0,
	ESTC_ERR_ARG,		/* bad argument */
	ESTC_ERR_CONNECT,	/* name resolution or TCP connect failed */
	ESTC_ERR_TLS,		/* handshake or server verification failed */
	ESTC_ERR_TIMEOUT,	/* deadline passed */
	ESTC_ERR_IO,		/* connection lost mid-exchange */
	ESTC_ERR_PROTO,		/* malformed or oversized HTTP response */
	ESTC_ERR_HTTP,		/* server answered with an error status */
	ESTC_ERR_PENDING,	/* 202: retry later (RFC 7030 4.2.3) */
	ESTC_ERR_DECODE,	/* 200, but the body did not decode */
	ESTC_ERR_INTERNAL	/* allocation or OpenSSL failure */
};

const char *estc_err_str(enum estc_err e);

/* Largest response body accepted, and largest response header block. */
#define ESTC_MAX_BODY	(1024 * 1024)
#define ESTC_MAX_HEAD	(16 * 1024)

/*
 * New client for host:port trusting only the certificates in cafile
 * (PEM).  Does not connect yet.  Returns NULL on error (logged).  Free
 * with estc_free().
 */
struct estc *estc_new(const char *host, unsigned short port,
    const char *cafile);
/* Closes any connection and frees c.  NULL is fine. */
void estc_free(struct estc *c);

/* Deadline for each exchange, in milliseconds (> 0). */
void estc_set_timeout(struct estc *c, int ms);
/* Offer the last session for resumption on reconnect (default on). */
void estc_set_resume(struct estc *c, int on);

/*
 * The TLS client identity for the next connection: cert and key (both or
 * neither; NULL, NULL removes it), chain optional.  All borrowed: c takes
 * its own references.  Closes any open connection and forgets the saved
 * session, since a resumed session would carry the old identity.
 * Returns 1, or 0 if the key does not match the certificate.
 */
int estc_set_identity(struct estc *c, X509 *cert, STACK_OF(X509) *chain,
    EVP_PKEY *key);

/* Connects and handshakes now (the request functions do it lazily). */
enum estc_err estc_connect(struct estc *c, char *reason, size_t reasonsz);
/* Sends close_notify, keeps the session for resumption, closes. */
void estc_close(struct estc *c);
/* 1 if the current connection resumed a session. */
int estc_session_reused(const struct estc *c);

/*
 * GET /.well-known/est[/label]/cacerts.  label may be NULL.  On ESTC_OK
 * *out is a new stack (sk_X509_pop_free(*out, X509_free)); else NULL.
 */
enum estc_err estc_get_cacerts(struct estc *c, const char *label,
    STACK_OF(X509) **out, int *http_status, char *reason, size_t reasonsz);

/*
 * POST simpleenroll / simplereenroll with req.  On ESTC_OK *out is the
 * issued certificate (the first of the certs-only reply; X509_free);
 * otherwise NULL.  ESTC_ERR_PENDING puts the Retry-After value in reason.
 */
enum estc_err estc_simpleenroll(struct estc *c, const char *label,
    X509_REQ *req, X509 **out, int *http_status, char *reason,
    size_t reasonsz);
enum estc_err estc_simplereenroll(struct estc *c, const char *label,
    X509_REQ *req, X509 **out, int *http_status, char *reason,
    size_t reasonsz);

/*
 * simpleenroll with a request already in EST's form (the base64 of the
 * PKCS#10 DER, as est_csr_encode makes it; len bytes, borrowed), without
 * decoding the answer: ESTC_OK when the server answered 200 with a
 * non-empty body of base64 text (its length in *body_len).  For load
 * generators, whose own decoding is not the server's cost.
 */
enum estc_err estc_simpleenroll_raw(struct estc *c, const char *label,
    const char *b64, size_t len, size_t *body_len, int *http_status,
    char *reason, size_t reasonsz);

/*
 * POST serverkeygen.  On ESTC_OK *key (EVP_PKEY_free) and *cert
 * (X509_free) are new; otherwise both NULL.
 */
enum estc_err estc_serverkeygen(struct estc *c, const char *label,
    X509_REQ *req, EVP_PKEY **key, X509 **cert, int *http_status,
    char *reason, size_t reasonsz);

/*
 * A PKCS#10 for key with subject CN=uid, serialNumber=uid, signed with
 * SHA-256 (or pure EdDSA for Ed25519/Ed448).  uid is 1..64 characters of
 * the PrintableString set (RFC 5280 serialNumber).  Returns a new request
 * (X509_REQ_free), or NULL.
 */
X509_REQ *estc_make_csr(EVP_PKEY *key, const char *uid);

#endif
