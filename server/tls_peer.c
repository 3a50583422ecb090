/*
 * tls_peer.c - GnuTLS peer certificates out as OpenSSL objects.
 *
 * GnuTLS only carries the bytes here: the chain is verified with OpenSSL
 * by the handler, against the store that fits the endpoint.
 */
#include <gnutls/gnutls.h>
#include <openssl/evp.h>

#include "server/tls_peer.h"

/* A client may send a long list; more than this is not a real chain. */
#define PEER_CHAIN_MAX 8

STACK_OF(X509) *
tls_peer_chain(void *session)
{
	const gnutls_datum_t *certs;
	unsigned int n = 0;
	STACK_OF(X509) *sk;

	certs = gnutls_certificate_get_peers((gnutls_session_t)session, &n);
	if (certs == NULL || n == 0 || n > PEER_CHAIN_MAX)
		return NULL;
	if ((sk = sk_X509_new_null()) == NULL)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *p = certs[i].data;
		X509 *x = d2i_X509(NULL, &p, (long)certs[i].size);

		if (x == NULL || p != certs[i].data + certs[i].size ||
		    !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
	}
	return sk;
}

int
tls_peer_hash(void *session, unsigned char out[32])
{
	const gnutls_datum_t *certs;
	unsigned int n = 0, mdlen = 0;
	EVP_MD_CTX *md;
	int ok;

	certs = gnutls_certificate_get_peers((gnutls_session_t)session, &n);
	if (certs == NULL || n == 0 || n > PEER_CHAIN_MAX)
		return -1;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (unsigned int i = 0; ok && i < n; i++) {
		unsigned char l[4];

		/* Length-prefixed, so no two lists hash the same bytes. */
		l[0] = (unsigned char)(certs[i].size >> 24);
		l[1] = (unsigned char)(certs[i].size >> 16);
		l[2] = (unsigned char)(certs[i].size >> 8);
		l[3] = (unsigned char)certs[i].size;
		ok = EVP_DigestUpdate(md, l, sizeof(l)) == 1 &&
		    EVP_DigestUpdate(md, certs[i].data, certs[i].size) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, out, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}
