/*
 * csr.h - a parsed, signature-checked PKCS#10 request for the enrollment
 * hot path, without OpenSSL 3.0's provider key decoder.
 *
 * ca_csr_parse walks the DER (ca/csrwalk.h).  A plain P-256/P-384 request
 * gets its key built straight from the point (the curve's parameters
 * copied from a ready key, then EVP_PKEY_set1_encoded_public_key, which
 * refuses a point off the curve), its subject from the Name bytes and its
 * signature checked over the CertificationRequestInfo bytes; anything else
 * (RSA, Ed25519, unusual encodings, garbage) goes through d2i_X509_REQ and
 * X509_REQ_verify as before, so both paths accept and refuse the same
 * requests.  The result is read-only after the parse and may be shared
 * between threads.
 *
 * The RA (ra_enroll_facts.creq) and the CA (ca_issue_req.creq) accept it
 * in place of an X509_REQ.
 */
#ifndef FLEETCA_CA_CSR_H
#define FLEETCA_CA_CSR_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

struct ca_csr;

/*
 * Parses exactly len DER bytes (at most CA_CSR_MAX).  CA_ERR_MALFORMED
 * when they are not one PKCS#10 request (nothing else: a bad signature or
 * an undecodable key is a property of the parsed request, see below);
 * CA_ERR_INTERNAL on allocation or OpenSSL failure (logged).  On CA_OK
 * *out is new (caller frees with ca_csr_free()); otherwise NULL.  Leaves
 * the OpenSSL error queue empty.
 */
enum ca_err ca_csr_parse(const unsigned char *der, size_t len,
    struct ca_csr **out);

/* Wraps req (taken: freed with c) with the same checks as ca_csr_parse
 * does on its slow path.  For callers that already hold an X509_REQ
 * (serverkeygen's own request, tests).  NULL on failure (req freed). */
struct ca_csr *ca_csr_from_req(X509_REQ *req);

void ca_csr_free(struct ca_csr *c);

/* The request's public key (borrowed), or NULL when it does not decode. */
EVP_PKEY *ca_csr_key(const struct ca_csr *c);
/* 1 when the request's self-signature verified with its key, else 0. */
int ca_csr_sig_ok(const struct ca_csr *c);
/* The subject (borrowed, never NULL for a parsed request). */
const X509_NAME *ca_csr_subject(const struct ca_csr *c);
/* 1 when the fast path parsed c (no X509_REQ behind it). */
int ca_csr_is_fast(const struct ca_csr *c);
/* The X509_REQ of the slow path (borrowed), NULL on the fast path. */
X509_REQ *ca_csr_req(const struct ca_csr *c);

/*
 * The SubjectPublicKeyInfo as it can go into a certificate unchanged, or
 * NULL when it must be re-encoded from the key (see ca_issue_prepare).
 * Borrowed.  On the fast path it holds the algorithm and the point only:
 * X509_PUBKEY_get0() on it fails; use ca_csr_key().
 */
X509_PUBKEY *ca_csr_canonical_spki(const struct ca_csr *c);

/*
 * The fast path's SubjectPublicKeyInfo exactly as the request carries it
 * (the walker admits strict DER only, so these are the bytes OpenSSL
 * would write): *der borrowed from c, *len its length.  0, or -1 on the
 * slow path (use ca_csr_canonical_spki()).
 */
int ca_csr_spki_der(const struct ca_csr *c, const unsigned char **der,
    size_t *len);

/* The same for an X509_REQ (implemented in ca/issue.c). */
X509_PUBKEY *ca_req_canonical_spki(X509_REQ *csr);

/* SHA-256 of the SPKI DER as i2d_PUBKEY writes the key (the value
 * db_cert.spki_sha256 holds).  0, or -1. */
int ca_csr_spki_hash(const struct ca_csr *c, unsigned char md[32]);

#endif
