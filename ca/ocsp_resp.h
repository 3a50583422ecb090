/*
 * ocsp_resp.h - sign OCSP responses (RFC 6960 4.2, RFC 5019 profile) and
 * match CertIDs against our issuing CAs.
 *
 * Pure building block: the caller looked up each certificate's status;
 * this module only encodes and signs.  Responses are signed by a
 * delegated OCSP signer (id-kp-OCSPSigning, RFC 6960 4.2.2.2), name the
 * responder byKey and carry the signer certificate so that clients can
 * check the delegation.
 */
#ifndef FLEETCA_CA_OCSP_RESP_H
#define FLEETCA_CA_OCSP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define OCSP_CERTID_HASH_MAX	64	/* SHA-512 */
#define OCSP_CERTID_SERIAL_MAX	20	/* RFC 5280 4.1.2.2 */

/*
 * A CertID (RFC 6960 4.1.1) as plain data; the request codec
 * (server/proto/ocsp.h) fills it and responses echo it.
 */
struct ocsp_certid {
	int hash_nid;		/* NID of hashAlgorithm; NID_undef if unknown */
	unsigned char name_hash[OCSP_CERTID_HASH_MAX];
	size_t name_hash_len;
	unsigned char key_hash[OCSP_CERTID_HASH_MAX];
	size_t key_hash_len;
	/* Big-endian magnitude, no leading zero octet (as db/ stores it).
	 * serial_len 0 means the requested serial cannot be one of ours
	 * (zero, negative or over 20 octets); serial_der always holds the
	 * INTEGER as requested so that the response can echo it. */
	unsigned char serial[OCSP_CERTID_SERIAL_MAX];
	size_t serial_len;
	unsigned char serial_der[2 + 126];	/* the INTEGER TLV */
	size_t serial_der_len;
};

/* ---- matching a CertID against one of our CAs ----------------------- */

/* Hashes of one CA, computed once (RFC 6960 4.1.1: issuerNameHash over
 * the DER of the issuer's subject, issuerKeyHash over the BIT STRING
 * value of its subjectPublicKey). */
struct ocsp_ca_match {
	unsigned char sha1_name[20], sha1_key[20];
	unsigned char sha256_name[32], sha256_key[32];
};

/* Fills m for ca.  Returns 1, or 0 on OpenSSL failure (logged). */
int ocsp_ca_match_init(struct ocsp_ca_match *m, X509 *ca);

/* 1 when id names a certificate issued by m's CA (SHA-1 or SHA-256
 * CertID), else 0.  Other hash algorithms never match. */
int ocsp_ca_match(const struct ocsp_ca_match *m, const struct ocsp_certid *id);

/* ---- building responses --------------------------------------------- */

enum ocsp_cert_status {
	OCSP_CERT_GOOD = 0,
	OCSP_CERT_REVOKED = 1,
	OCSP_CERT_UNKNOWN = 2
};

struct ocsp_single {
	struct ocsp_certid id;	/* as requested */
	enum ocsp_cert_status status;
	int64_t revoked_at;	/* OCSP_CERT_REVOKED only */
	/* RFC 5280 CRLReason or -1 for none; 0 (unspecified) is left out,
	 * as in the CRL, so both sources say the same. */
	int reason;
	int64_t this_update;
	int64_t next_update;	/* 0: none (RFC 6960 4.2.2.1: newer info
				 * is always available) */
};

/* A delegated signer: its certificate and key (opaque, thread-safe to
 * share once made; every build uses its own signing context). */
struct ocsp_responder;

/*
 * Takes references on signer and key (the caller keeps its own).  Checks
 * that key matches signer and that signer carries id-kp-OCSPSigning
 * (RFC 6960 4.2.2.2).  Digest: SHA-256 for P-256 and RSA, SHA-384 for
 * P-384, none for Ed25519.  Returns NULL on failure (logged).
 */
struct ocsp_responder *ocsp_responder_new(X509 *signer, EVP_PKEY *key);
void ocsp_responder_free(struct ocsp_responder *r);

enum ocsp_resp_err {
	OCSP_RESP_OK = 0,
	OCSP_RESP_EINVAL = -1,	/* bad single response or nonce */
	OCSP_RESP_ECRYPTO = -2	/* OpenSSL failed (incl. memory) */
};

/*
 * Builds a successful OCSPResponse holding a BasicOCSPResponse with the n
 * (1..64) single responses s, signed by r.  nonce_ext / nonce_len: the
 * request's nonce extnValue octets, echoed verbatim (RFC 8954), or NULL.
 * producedAt is the current time of the system clock.
 *
 * On OCSP_RESP_OK, *der is malloc'd (caller frees with free()).
 */
int ocsp_resp_build(struct ocsp_responder *r,
    const struct ocsp_single *s, size_t n, const unsigned char *nonce_ext,
    size_t nonce_len, unsigned char **der, size_t *len);

#endif
