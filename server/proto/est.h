/*
 * est.h - EST (RFC 7030) message codec: HTTP bodies <-> OpenSSL objects.
 *
 * Pure code: bytes and a length in, OpenSSL objects or a typed error out
 * (and back).  No HTTP library, no store, no clock.  The HTTP glue in
 * server/ maps enum est_err to a status (all decode errors are the
 * client's fault: 400; EST_ERR_INTERNAL is 500) and uses est_err_str()
 * as the one-line reason.
 *
 * EST bodies are base64 (RFC 7030 section 4: Content-Transfer-Encoding:
 * base64).  Decoders accept the text folded or not, with CRLF or LF line
 * ends, and white space around it; encoders fold at 64 columns with CRLF.
 * Every body the encoders return is a malloc'd NUL-terminated string the
 * caller frees with free(), except where a comment says it holds a secret.
 */
#ifndef FLEETCA_SERVER_PROTO_EST_H
#define FLEETCA_SERVER_PROTO_EST_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Media types (RFC 7030 sections 4.1.3, 4.2.1, 4.4.2, 4.5.2). */
#define EST_CT_PKCS10		"application/pkcs10"
#define EST_CT_CERTS_ONLY	"application/pkcs7-mime; smime-type=certs-only"
#define EST_CT_CACERTS		"application/pkcs7-mime"
#define EST_CT_CSRATTRS		"application/csrattrs"
#define EST_CT_PKCS8		"application/pkcs8"

/* Largest base64 body the decoders look at.  A PKCS#10 with an RSA-4096
 * key and a few extensions is under 3 KiB of base64; a CA bundle of a few
 * certificates under 16 KiB.  Callers may cap lower. */
#define EST_MAX_CSR_BODY	(64 * 1024)
#define EST_MAX_CERTS_BODY	(1024 * 1024)

/* Largest boundary RFC 2046 section 5.1.1 allows. */
#define EST_BOUNDARY_MAX	70

enum est_err {
	EST_OK = 0,
	EST_ERR_EMPTY,		/* body empty or only white space */
	EST_ERR_TOO_LARGE,	/* body over the codec's cap */
	EST_ERR_BASE64,		/* not canonical padded base64 */
	EST_ERR_DER,		/* decoded bytes are not well-formed DER */
	EST_ERR_TRAILING,	/* bytes after the one DER element */
	EST_ERR_NOT_CSR,	/* DER, but not a PKCS#10 CertificationRequest */
	EST_ERR_NOT_CERTS,	/* DER, but not a PKCS#7 SignedData */
	EST_ERR_NO_CERTS,	/* certs-only PKCS#7 without any certificate */
	EST_ERR_MULTIPART,	/* malformed multipart/mixed body or header */
	EST_ERR_NOT_KEY,	/* DER, but not a PKCS#8 PrivateKeyInfo */
	EST_ERR_ARG,		/* caller bug: bad argument (e.g. boundary) */
	EST_ERR_INTERNAL	/* allocation or OpenSSL failure (logged) */
};

/* Static one-line English text for e; never NULL. */
const char *est_err_str(enum est_err e);

/*
 * Operations, from the last path segment (RFC 7030 section 3.2.2).
 */
enum est_op {
	EST_OP_CACERTS,
	EST_OP_CSRATTRS,
	EST_OP_SIMPLEENROLL,
	EST_OP_SIMPLEREENROLL,
	EST_OP_SERVERKEYGEN
};

#define EST_LABEL_MAX	64

/*
 * Splits a request path "/.well-known/est[/<label>]/<op>" (len bytes, no
 * NUL needed, no query string).  label receives the label or "" (labelsz
 * must be > EST_LABEL_MAX); a label is 1..EST_LABEL_MAX characters of
 * [A-Za-z0-9._-] and not "." or "..".  Names compare exactly
 * (case-sensitive).  Returns 1 and sets *op, or 0 if the path is not an
 * EST path this server knows.
 */
int est_path_parse(const char *path, size_t len, char *label, size_t labelsz,
    enum est_op *op);
/* The path segment of op ("cacerts", ...); never NULL. */
const char *est_op_name(enum est_op op);

/*
 * simpleenroll / simplereenroll request body (RFC 7030 section 4.2.1):
 * base64 of a DER PKCS#10.  On EST_OK *out is a new X509_REQ the caller
 * frees with X509_REQ_free(); otherwise *out is NULL.  Only the encoding
 * is checked: the signature and content are the RA's business.
 */
enum est_err est_csr_decode(const char *body, size_t len, X509_REQ **out);

/*
 * The same for the server's enrollment path, without OpenSSL 3.0's
 * provider key decoder for the common P-256/P-384 requests (ca/csr.h):
 * on EST_OK *out is a new parsed request (ca_csr_free()) whose key and
 * signature verdict are known; otherwise *out is NULL.  Accepts and
 * refuses exactly what est_csr_decode does.
 */
struct ca_csr;
enum est_err est_csr_parse(const char *body, size_t len, struct ca_csr **out);

/* Client side: base64 (folded) of the DER of req into *body (*len chars). */
enum est_err est_csr_encode(X509_REQ *req, char **body, size_t *len);

/*
 * Certs-only PKCS#7 (RFC 7030 sections 4.1.3 and 4.2.3; a degenerate
 * SignedData with no signers, RFC 5652 section 5), base64.  certs is
 * borrowed; it must hold at least one certificate.  Order is kept.
 */
enum est_err est_certs_encode(STACK_OF(X509) *certs, char **body,
    size_t *len);
/* Convenience for one certificate (the enroll response). */
enum est_err est_cert_encode(X509 *cert, char **body, size_t *len);
/*
 * The same from n (1..64) DER certificates (ders[i] of lens[i] octets,
 * borrowed), written directly: the bytes est_certs_encode gives for the
 * same certificates, without PKCS7 or X509 objects (the enroll hot
 * path).  Each must be one DER element (EST_ERR_ARG otherwise).
 */
enum est_err est_certs_der_encode(const unsigned char *const *ders,
    const size_t *lens, size_t n, char **body, size_t *len);

/*
 * Client side: the reverse.  On EST_OK *out is a new stack the caller
 * frees with sk_X509_pop_free(*out, X509_free); it holds at least one
 * certificate, in the order of the message.  Otherwise *out is NULL.
 */
enum est_err est_certs_decode(const char *body, size_t len,
    STACK_OF(X509) **out);

/*
 * One AttrOrOID of a CsrAttrs (RFC 7030 section 4.5.2).  With nvalues 0
 * it is a bare OBJECT IDENTIFIER (e.g. ecdsa-with-SHA256: "sign with
 * this"); otherwise an Attribute whose SET holds nvalues OBJECT
 * IDENTIFIERs (e.g. id-ecPublicKey with { secp256r1 }: "an EC key on this
 * curve").  OIDs are dotted text or OpenSSL short/long names.
 */
struct est_csrattr {
	const char		 *oid;
	const char *const	 *values;
	size_t			  nvalues;
};

/*
 * Encodes CsrAttrs ::= SEQUENCE OF AttrOrOID as base64 DER.  With
 * nattrs 0, returns EST_OK with *body NULL and *len 0: the server answers
 * 204 No Content (RFC 7030 section 4.5.2) rather than an empty SEQUENCE.
 * An unknown OID name gives EST_ERR_ARG.
 */
enum est_err est_csrattrs_encode(const struct est_csrattr *attrs,
    size_t nattrs, char **body, size_t *len);

/*
 * serverkeygen response (RFC 7030 section 4.4.2): multipart/mixed with
 * part 1 application/pkcs8 (the unencrypted PrivateKeyInfo, base64) and
 * part 2 the certs-only PKCS#7 holding cert (base64).  boundary is 1..70
 * characters of RFC 2046 bchars without space.  Base64 text never holds
 * '-', so no boundary can occur inside a part.  ctype receives the
 * Content-Type header value ("multipart/mixed; boundary=...").
 *
 * *body holds the private key: the caller releases it with
 * est_secret_free(*body, *len), which wipes it first.
 */
enum est_err est_serverkeygen_encode(EVP_PKEY *key, X509 *cert,
    const char *boundary, char **body, size_t *len, char *ctype,
    size_t ctypesz);

/*
 * Client side: parses the response given its Content-Type value (ctype,
 * NUL-terminated) and body.  Parts are recognised by their Content-Type,
 * in either order; each must appear once.  On EST_OK *key and *cert are
 * new objects the caller frees (EVP_PKEY_free, X509_free); otherwise both
 * are NULL.
 */
enum est_err est_serverkeygen_decode(const char *ctype, const char *body,
    size_t len, EVP_PKEY **key, X509 **cert);

/* Wipes len bytes of p, then free(p).  NULL is fine. */
void est_secret_free(void *p, size_t len);

#endif
