/*
 * certwalk.h - a short DER walk over an X.509 certificate (RFC 5280 4.1)
 * for the manifest verifier's fast path.
 *
 * This is a shape filter, not a validator: it says "this certificate has
 * the plain, common shape, and here are its parts as byte ranges", or
 * "unusual, use the full OpenSSL path".  Plain means: strict DER (definite
 * minimal lengths, the whole buffer is one Certificate), version v3, no
 * unique identifiers, the inner and outer signature algorithms byte-equal,
 * validity as UTCTime/GeneralizedTime in the RFC 5280 4.1.2.5 "Z" forms,
 * a signature BIT STRING without unused bits, and extensions drawn only
 * from basicConstraints (cA FALSE, no pathLen), keyUsage, SKI and an AKID
 * holding only a keyIdentifier, each at most once and each well formed.
 * Anything else returns 0; callers must then not judge the certificate
 * from this walk.
 *
 * Allocates nothing; every pointer in the result borrows from der.
 */
#ifndef FLEETCA_RA_CERTWALK_H
#define FLEETCA_RA_CERTWALK_H

#include <stddef.h>
#include <time.h>

struct ra_certwalk {
	const unsigned char	*tbs;		/* TBSCertificate TLV */
	size_t			 tbs_len;
	const unsigned char	*sigalg;	/* AlgorithmIdentifier TLV */
	size_t			 sigalg_len;
	const unsigned char	*sig;		/* BIT STRING bits (no pad octet) */
	size_t			 sig_len;
	const unsigned char	*issuer;	/* Name TLV */
	size_t			 issuer_len;
	const unsigned char	*subject;	/* Name TLV */
	size_t			 subject_len;
	const unsigned char	*spki;		/* SubjectPublicKeyInfo TLV */
	size_t			 spki_len;
	time_t			 not_before;	/* seconds since the epoch, UTC */
	time_t			 not_after;
	const unsigned char	*ski;		/* SKI octets, NULL if absent */
	size_t			 ski_len;
	const unsigned char	*akid;		/* AKID keyIdentifier octets, */
	size_t			 akid_len;	/* NULL if no AKID */
};

/*
 * Walks der (len bytes).  Returns 1 with *cw filled when the certificate
 * has the plain shape described above, else 0 (cw is then undefined).
 */
int ra_certwalk_parse(const unsigned char *der, size_t len,
    struct ra_certwalk *cw);

/*
 * One DER TLV at *p (at most len bytes): tag in *tag, value in
 * [*val, *val + *vlen), *p advanced past it.  Single-octet tags only,
 * minimal definite lengths below 2^24.  Returns 1, or 0 if malformed.
 */
int ra_certwalk_tlv(const unsigned char **p, size_t len, unsigned char *tag,
    const unsigned char **val, size_t *vlen);

#endif
