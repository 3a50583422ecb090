/*
 * x509util.h - ca/-internal helpers for building X.509 certificates:
 * extensions built from structures (never from config strings, so a
 * device id or URL can never inject a second name), validity, signing,
 * and serial numbers (ca/serial.c).  Not for use outside ca/.
 *
 * Functions returning int give 0 on success and -1 on failure, with the
 * OpenSSL error queue drained into the log.
 */
#ifndef FLEETCA_CA_X509UTIL_H
#define FLEETCA_CA_X509UTIL_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct db;

/* Key usage bits as masks of the RFC 5280 4.2.1.3 bit numbers. */
#define CA_KU_DIGITAL_SIGNATURE	(1u << 0)
#define CA_KU_NON_REPUDIATION	(1u << 1)
#define CA_KU_KEY_ENCIPHERMENT	(1u << 2)
#define CA_KU_DATA_ENCIPHERMENT	(1u << 3)
#define CA_KU_KEY_AGREEMENT	(1u << 4)
#define CA_KU_KEY_CERT_SIGN	(1u << 5)
#define CA_KU_CRL_SIGN		(1u << 6)

/* Digest to sign with key: "SHA384" for P-384, NULL for Ed25519 (pure
 * EdDSA, RFC 8410 section 6), "SHA256" otherwise. */
const char *ca_x509_digest_name(EVP_PKEY *key);
/* Signs x (sets the signature algorithm too) with key. */
int ca_x509_sign(X509 *x, EVP_PKEY *key);

/* notBefore/notAfter from epoch seconds (UTCTime before 2050,
 * GeneralizedTime after, RFC 5280 4.1.2.5). */
int ca_x509_set_validity(X509 *x, time_t nb, time_t na);
/* ASN1_TIME to epoch seconds. */
int ca_x509_time(const ASN1_TIME *t, time_t *out);

/* Appends one attribute (UTF8String unless the attribute needs another
 * type, e.g. countryName) to n.  Does not log: the OpenSSL error stays
 * queued for the caller to log or clear. */
int ca_x509_name_add(X509_NAME *n, int nid, const char *value);

/*
 * n in one line as X509_NAME_print_ex(..., XN_FLAG_RFC2253) prints it,
 * truncated to fit out, without a BIO: for names of single-valued RDNs
 * of known attributes whose values are printable ASCII UTF8String,
 * PrintableString or IA5String.  0, or -1 for any other name (out
 * untouched: print it the general way).
 */
int ca_x509_name_rfc2253(const X509_NAME *n, char *out, size_t outlen);

/* Appends a GEN_DNS, GEN_URI or GEN_IPADD (value is an IP literal) name. */
int ca_x509_gens_add(GENERAL_NAMES *g, int type, const char *value);

/* Adds basicConstraints (critical); pathlen < 0 means none. */
int ca_x509_add_bc(X509 *x, int is_ca, int pathlen);
/* New keyUsage extension (critical) with the CA_KU_* bits; caller frees
 * with X509_EXTENSION_free(). */
X509_EXTENSION *ca_x509_ku_ext(unsigned bits);
/* New extKeyUsage extension (not critical) from n NIDs. */
X509_EXTENSION *ca_x509_eku_ext(const int *nids, size_t n);
/* Adds subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280
 * 4.2.1.2 method 1). */
int ca_x509_add_ski(X509 *x);
/* New authorityKeyIdentifier carrying the issuer's SKI (computed as above
 * when the issuer has none). */
X509_EXTENSION *ca_x509_aki_ext(X509 *issuer);
/* New AIA with an OCSP and a caIssuers URI (either may be NULL). */
X509_EXTENSION *ca_x509_aia_ext(const char *ocsp, const char *ca_issuers);
/* New CRL distribution points (nid NID_crl_distribution_points) or
 * Freshest CRL (NID_freshest_crl) extension with one full-name URI. */
X509_EXTENSION *ca_x509_dp_ext(int nid, const char *url);
/* Adds a copy of e (e stays the caller's). */
int ca_x509_add_ext(X509 *x, X509_EXTENSION *e);
/* Adds a freshly made extension and frees it whatever happens. */
int ca_x509_add_ext_free(X509 *x, X509_EXTENSION *e);

/* PEM of x appended to bio. */
int ca_x509_write_pem(BIO *bio, X509 *x);

/* ---- writing DER by hand ------------------------------------------- */

/*
 * A growable byte buffer for DER built by hand (the issuing hot path,
 * where OpenSSL's ASN.1 object encoders cost more than the signature).
 * Start from all zeroes.  p is OPENSSL_malloc'd and owned by whoever
 * holds the struct (ca_dbuf_clear frees it).  After an allocation failure
 * failed is set and later writes do nothing, so a builder checks once at
 * the end.
 */
struct ca_dbuf {
	unsigned char	*p;
	size_t		 len, cap;
	int		 failed;
};

void ca_dbuf_put(struct ca_dbuf *b, const void *d, size_t n);
/* A single-octet tag and a minimal definite length (X.690 8.1.3). */
void ca_dbuf_hdr(struct ca_dbuf *b, unsigned char tag, size_t len);
/* Header and value. */
void ca_dbuf_tlv(struct ca_dbuf *b, unsigned char tag, const void *v,
    size_t n);
void ca_dbuf_clear(struct ca_dbuf *b);

/* ---- serial numbers (ca/serial.c) ---------------------------------- */

#define CA_SERIAL_LEN 16

/*
 * Draws a serial: CA_SERIAL_LEN bytes from the CSPRNG with the top bit
 * cleared (positive) and a non-zero first byte (so the DER INTEGER is
 * minimal and exactly CA_SERIAL_LEN octets), about 127 bits of entropy,
 * well over the 64 bits DESIGN.md asks for.
 */
int ca_serial_draw(unsigned char buf[CA_SERIAL_LEN]);
/*
 * Draws serials until one is not in db (at most a few tries; a repeat is
 * astronomically unlikely unless the RNG is broken).  Returns 0, or -1 if
 * the store failed or every draw collided.
 */
int ca_serial_draw_unique(struct db *db, unsigned char buf[CA_SERIAL_LEN]);
/* Sets x's serial number to the positive big-endian integer in buf. */
int ca_serial_set(X509 *x, const unsigned char *buf, size_t len);

#endif
