/*
 * der.c - strict DER TLV reading.
 */
#include "common/der.h"

int
der_tlv(const unsigned char **p, const unsigned char *end, unsigned char *tag,
    const unsigned char **val, size_t *vlen)
{
	const unsigned char *s = *p;
	size_t len, n, hdr;

	if (s >= end || (len = (size_t)(end - s)) < 2)
		return 0;
	*tag = s[0];
	if ((s[0] & 0x1f) == 0x1f)	/* high tag number form */
		return 0;
	if (s[1] < 0x80) {
		n = s[1];
		hdr = 2;
	} else if (s[1] == 0x81) {
		if (len < 3 || s[2] < 0x80)	/* X.690 10.1: minimal */
			return 0;
		n = s[2];
		hdr = 3;
	} else if (s[1] == 0x82) {
		if (len < 4 || s[2] == 0)
			return 0;
		n = (size_t)s[2] << 8 | s[3];
		hdr = 4;
		if (n < 0x100)
			return 0;
	} else if (s[1] == 0x83) {
		if (len < 5 || s[2] == 0)
			return 0;
		n = (size_t)s[2] << 16 | (size_t)s[3] << 8 | s[4];
		hdr = 5;
		if (n < 0x10000)
			return 0;
	} else {
		return 0;	/* indefinite (0x80) or too long */
	}
	if (n > len - hdr)
		return 0;
	*val = s + hdr;
	*vlen = n;
	*p = s + hdr + n;
	return 1;
}

int
der_expect(const unsigned char **p, const unsigned char *end,
    unsigned char want, const unsigned char **tlv, size_t *tlvlen,
    const unsigned char **val, size_t *vlen)
{
	const unsigned char *start = *p, *v;
	unsigned char tag;
	size_t n;

	if (!der_tlv(p, end, &tag, &v, &n) || tag != want)
		return 0;
	if (val != NULL) {
		*val = v;
		*vlen = n;
	}
	if (tlv != NULL) {
		*tlv = start;
		*tlvlen = (size_t)(*p - start);
	}
	return 1;
}
