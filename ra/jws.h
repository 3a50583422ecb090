/*
 * jws.h - JWS (RFC 7515) flattened JSON serialization, verify side, as
 * used by secure-element manifests (see MANIFEST-FORMAT.md).
 *
 * Supported algs (RFC 7518 3.1): ES256/ES384/ES512 (raw r||s of exactly
 * 2*32, 2*48, 2*66 bytes), RS256/RS384/RS512 and PS256.  "none" and any
 * other alg are refused.  The signer is a trusted manifest-signer
 * certificate found by x5t#S256, falling back to kid (its SKI).
 */
#ifndef FLEETCA_RA_JWS_H
#define FLEETCA_RA_JWS_H

#include <stddef.h>
#include <openssl/x509.h>

#include "ra/trust.h"

enum ra_jws_status {
	RA_JWS_OK = 0,
	RA_JWS_BAD_HEADER,	/* protected header not b64url / JSON / object */
	RA_JWS_UNSUPPORTED_ALG,	/* none, unknown alg, or crit present */
	RA_JWS_UNKNOWN_SIGNER,	/* no trusted signer by x5t#S256 or kid */
	RA_JWS_BAD_SIGNATURE,	/* wrong length, key type or signature */
	RA_JWS_ERROR		/* internal (allocation, OpenSSL) */
};

/*
 * Verifies one flattened JWS.  prot, payload and sig are the base64url
 * strings exactly as in the document (no NUL needed); the signing input
 * is prot "." payload (RFC 7515 5.2 step 8).  On RA_JWS_OK, *signer (if
 * not NULL) lends the trusted certificate that signed.  detail gets a
 * one-line reason on failure.  Safe to call from several threads.
 */
enum ra_jws_status ra_jws_verify(const struct ra_trust *t,
    const char *prot, size_t protlen, const char *payload, size_t paylen,
    const char *sig, size_t siglen, X509 **signer, char *detail,
    size_t detlen);

/*
 * A per-thread verifier for reels: the same protected header repeats on
 * every entry, so the verifier keeps, per distinct protected header text
 * (a few), the parsed alg, the signer and an EVP_PKEY_CTX set up for
 * verification once.  Per entry it then hashes protected "." payload and
 * verifies the digest.  The result is exactly that of ra_jws_verify() (RSA
 * algs go through it).  One verifier per thread: not shareable.  t must
 * outlive the verifier.  new returns NULL when out of memory; free accepts
 * NULL.
 */
struct ra_jws_verifier;

struct ra_jws_verifier *ra_jws_verifier_new(const struct ra_trust *t);
void ra_jws_verifier_free(struct ra_jws_verifier *v);
enum ra_jws_status ra_jws_verifier_verify(struct ra_jws_verifier *v,
    const char *prot, size_t protlen, const char *payload, size_t paylen,
    const char *sig, size_t siglen, X509 **signer, char *detail,
    size_t detlen);

/*
 * Encodes the raw r||s (rawlen even, at most 2 * 66) as a DER
 * ECDSA-Sig-Value into der (room for RA_JWS_ECDSA_DER_MAX bytes) without
 * allocating.  Returns the DER length, or 0 when rawlen is bad.
 */
#define RA_JWS_ECDSA_DER_MAX (2 * (66 + 4) + 4)
size_t ra_jws_ecdsa_raw_to_der_buf(const unsigned char *raw, size_t rawlen,
    unsigned char der[RA_JWS_ECDSA_DER_MAX]);

/*
 * Conversions between JWS's fixed-size r||s (RFC 7518 3.4) and DER
 * ECDSA-Sig-Value.  raw_to_der: rawlen must be even; returns a malloc'd
 * (OPENSSL_free) DER buffer or NULL.  der_to_raw: writes 2*nlen bytes,
 * left-padded; returns 0 when r or s does not fit in nlen bytes or the
 * DER is bad.
 */
unsigned char *ra_jws_ecdsa_raw_to_der(const unsigned char *raw,
    size_t rawlen, size_t *derlen);
int ra_jws_ecdsa_der_to_raw(const unsigned char *der, size_t derlen,
    size_t nlen, unsigned char *raw);

#endif
