/*
 * tls_peer.h - the one place that sees GnuTLS types: turns the peer's
 * certificate list of a TLS session into OpenSSL X509 objects.
 */
#ifndef FLEETCA_SERVER_TLS_PEER_H
#define FLEETCA_SERVER_TLS_PEER_H

#include <openssl/x509.h>

/* session is a gnutls_session_t passed as void * so callers need no
 * GnuTLS header.  Returns a new stack (leaf first; caller frees with
 * sk_X509_pop_free(s, X509_free)) or NULL when no certificate was sent
 * or one did not parse. */
STACK_OF(X509) *tls_peer_chain(void *session);

/* SHA-256 over the peer's certificate list (for each certificate its
 * 4-byte big-endian length, then its DER).  0, or -1 when no certificate
 * was sent, the list is over the chain cap, or hashing failed. */
int tls_peer_hash(void *session, unsigned char out[32]);

#endif
