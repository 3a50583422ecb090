/*
 * ocsp.h - OCSP request codec (RFC 6960 4.1, RFC 5019 GET form, RFC 8954
 * nonce) and the fixed error responses.
 *
 * Pure: bytes in, a plain struct or an error out.  No database, no HTTP
 * library; the handler in server/ maps the result to what it sends.
 * Every parse failure is a malformedRequest (RFC 6960 4.2.1) except
 * running out of memory, which is an internalError.
 */
#ifndef FLEETCA_SERVER_PROTO_OCSP_H
#define FLEETCA_SERVER_PROTO_OCSP_H

#include <stddef.h>

#include "ca/ocsp_resp.h"	/* struct ocsp_certid */

#define OCSP_REQ_MAX_SINGLE	64	/* single requests per message */
#define OCSP_NONCE_MAX		32	/* RFC 8954 2.1: 1..32 octets */

enum ocsp_codec_err {
	OCSP_CODEC_OK = 0,
	OCSP_CODEC_MALFORMED = -1,	/* not a valid OCSPRequest */
	OCSP_CODEC_TOO_LARGE = -2,	/* over the caller's size cap */
	OCSP_CODEC_TOO_MANY = -3,	/* over OCSP_REQ_MAX_SINGLE */
	OCSP_CODEC_NOMEM = -4
};

/* OCSPResponseStatus values (RFC 6960 4.2.1) that carry no body. */
enum ocsp_resp_status {
	OCSP_ST_MALFORMED_REQUEST = 1,
	OCSP_ST_INTERNAL_ERROR = 2,
	OCSP_ST_TRY_LATER = 3,
	OCSP_ST_SIG_REQUIRED = 5,
	OCSP_ST_UNAUTHORIZED = 6
};

/* A decoded request.  Owns ids (free with ocsp_request_clear). */
struct ocsp_request {
	struct ocsp_certid *ids;	/* nids elements, in request order */
	size_t nids;			/* 1..OCSP_REQ_MAX_SINGLE */
	int has_nonce;
	/* The nonce extension's extnValue, for a verbatim echo, and the
	 * nonce octets inside it (RFC 8954: Nonce ::= OCTET STRING). */
	unsigned char nonce_ext[2 + OCSP_NONCE_MAX];
	size_t nonce_ext_len;
	unsigned char nonce[OCSP_NONCE_MAX];
	size_t nonce_len;
	int is_signed;			/* optionalSignature present (not
					 * verified: we never require it) */
};

/*
 * Parses a DER OCSPRequest (a POST body) of len bytes; max_len caps len.
 * On OCSP_CODEC_OK *req is filled (caller clears it); on error *req is
 * left empty and why (if not NULL) holds a one-line reason.
 * Unknown extensions are ignored unless critical (then refused); a nonce
 * must be an OCTET STRING of 1..32 octets and appear once.
 */
int ocsp_request_parse(const unsigned char *der, size_t len, size_t max_len,
    struct ocsp_request *req, char *why, size_t whylen);

/*
 * The two halves of ocsp_request_parse, for the tests that check they
 * agree.  _fast: 1 with *req filled when der is one of the common shapes
 * (see ocsp.c), else 0 with *req empty (never an error of its own).
 * _openssl: the full decoder, same contract as ocsp_request_parse.
 */
int ocsp_request_parse_fast(const unsigned char *der, size_t len,
    struct ocsp_request *req);
int ocsp_request_parse_openssl(const unsigned char *der, size_t len,
    size_t max_len, struct ocsp_request *req, char *why, size_t whylen);

/*
 * RFC 6960 appendix A.1 / RFC 5019 5: the GET form.  path is the part
 * after "/ocsp/" (pathlen bytes, no NUL needed): percent-decoded (%XX in
 * either case; '+' stays '+'), then standard base64, with missing '='
 * padding tolerated.  max_der caps the decoded request.  On OCSP_CODEC_OK
 * *der is malloc'd (caller frees with free()).
 */
int ocsp_get_decode(const char *path, size_t pathlen, size_t max_der,
    unsigned char **der, size_t *len, char *why, size_t whylen);

/* ocsp_get_decode then ocsp_request_parse. */
int ocsp_request_parse_get(const char *path, size_t pathlen, size_t max_der,
    struct ocsp_request *req, char *why, size_t whylen);

void ocsp_request_clear(struct ocsp_request *req);

/* The OCSPResponseStatus to answer a codec error with. */
enum ocsp_resp_status ocsp_codec_err_status(int err);

/*
 * DER of an OCSPResponse with status st and no responseBytes (static
 * storage, never freed), or NULL if st is not one of enum
 * ocsp_resp_status.
 */
const unsigned char *ocsp_error_response(enum ocsp_resp_status st,
    size_t *len);

#endif
