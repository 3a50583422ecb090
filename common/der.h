/*
 * der.h - reading DER one TLV at a time, for the hand-written walkers of
 * certificates, requests and OCSP messages on the hot paths.
 *
 * Strict: single-octet tags, minimal definite lengths below 2^24
 * (X.690 10.1).  Anything else is "malformed" and the callers fall back to
 * OpenSSL's full parser or refuse.
 */
#ifndef FLEETCA_COMMON_DER_H
#define FLEETCA_COMMON_DER_H

#include <stddef.h>

/* One TLV at *p, at most end - *p bytes: sets the tag and the value
 * range and advances *p past it.  1, or 0 when malformed. */
int der_tlv(const unsigned char **p, const unsigned char *end,
    unsigned char *tag, const unsigned char **val, size_t *vlen);

/* One TLV that must carry tag want; the whole TLV in tlv and tlvlen,
 * the value in val and vlen, each pair optional (NULL).  1 or 0. */
int der_expect(const unsigned char **p, const unsigned char *end,
    unsigned char want, const unsigned char **tlv, size_t *tlvlen,
    const unsigned char **val, size_t *vlen);

#endif
