/*
 * csrwalk.h - a short DER walk over a PKCS#10 CertificationRequest
 * (RFC 2986 section 4) for the EST fast path.
 *
 * Like ra/certwalk.h, a shape filter, not a validator: it says "this
 * request has the plain, common shape, and here are its parts as byte
 * ranges", or "unusual: use OpenSSL's d2i_X509_REQ".  Plain means: strict
 * DER (definite minimal lengths, the whole buffer is one element, nothing
 * after it), version v1(0), a SubjectPublicKeyInfo for id-ecPublicKey on
 * the named curve P-256 or P-384 (RFC 5480 section 2.1.1) with an
 * uncompressed point of the curve's size (section 2.2), the attributes
 * [0] present and each Attribute a SEQUENCE { OID, non-empty SET } whose
 * values are well-formed DER of common types, and ecdsa-with-SHA256 or
 * ecdsa-with-SHA384 without parameters (RFC 5758 section 3.2) as the
 * signatureAlgorithm, the signature a BIT STRING without unused bits.
 * Anything else returns 0: the caller must then not judge the request
 * from this walk.
 *
 * The point is not checked to be on the curve, nor the signature: that is
 * the job of the code that makes the key (ca/csr.c).
 *
 * Allocates nothing; every pointer in the result borrows from der.
 */
#ifndef FLEETCA_CA_CSRWALK_H
#define FLEETCA_CA_CSRWALK_H

#include <stddef.h>

enum ca_csrwalk_curve { CA_CSRWALK_P256 = 1, CA_CSRWALK_P384 };
enum ca_csrwalk_hash { CA_CSRWALK_SHA256 = 1, CA_CSRWALK_SHA384 };

struct ca_csrwalk {
	const unsigned char	*info;		/* CertificationRequestInfo TLV */
	size_t			 info_len;	/* (what the signature covers) */
	const unsigned char	*subject;	/* Name TLV */
	size_t			 subject_len;
	const unsigned char	*spki;		/* SubjectPublicKeyInfo TLV */
	size_t			 spki_len;
	enum ca_csrwalk_curve	 curve;
	const unsigned char	*point;		/* 0x04 || X || Y */
	size_t			 point_len;
	const unsigned char	*attrs;		/* [0] contents (may be empty) */
	size_t			 attrs_len;
	size_t			 nattrs;
	const unsigned char	*sigalg;	/* AlgorithmIdentifier TLV */
	size_t			 sigalg_len;
	enum ca_csrwalk_hash	 hash;
	const unsigned char	*sig;		/* BIT STRING bits (no pad octet):
						 * the DER Ecdsa-Sig-Value */
	size_t			 sig_len;
};

/*
 * Walks der (len bytes).  Returns 1 with *w filled when the request has
 * the plain shape described above, else 0 (then *w is zeroed).
 */
int ca_csrwalk_parse(const unsigned char *der, size_t len,
    struct ca_csrwalk *w);

#endif
