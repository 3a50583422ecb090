/*
 * certwalk.c - the plain-shape DER walk of certwalk.h.
 *
 * Why: OpenSSL 3.0's d2i_X509 sets up a key decoder for every public key
 * it meets, which made it a quarter of the cost of a manifest entry.  The
 * manifest verifier only needs byte ranges, so it walks the DER here and
 * keeps the full d2i_X509 path for anything this file does not know.
 * Every check errs towards "unusual" (return 0): being too strict costs
 * speed only, being too lax could accept what OpenSSL refuses.
 */
#include <string.h>

#include "common/civtime.h"
#include "common/der.h"
#include "ra/certwalk.h"

#define CW_TAG_BOOLEAN		0x01
#define CW_TAG_INTEGER		0x02
#define CW_TAG_BITSTRING	0x03
#define CW_TAG_OCTETSTRING	0x04
#define CW_TAG_OID		0x06
#define CW_TAG_UTCTIME		0x17
#define CW_TAG_GENTIME		0x18
#define CW_TAG_SEQUENCE		0x30
#define CW_TAG_CTX0		0xa0	/* [0] EXPLICIT version */
#define CW_TAG_CTX3		0xa3	/* [3] EXPLICIT extensions */
#define CW_TAG_KEYID		0x80	/* AKID [0] IMPLICIT keyIdentifier */
#define CW_ID_MAX		64	/* SKI / AKID octets accepted */

/* id-ce arcs (RFC 5280 4.2.1): 2.5.29.x is 55 1d x. */
#define CW_CE_SKI		0x0e
#define CW_CE_KU		0x0f
#define CW_CE_BC		0x13
#define CW_CE_AKID		0x23

int
ra_certwalk_tlv(const unsigned char **p, size_t len, unsigned char *tag,
    const unsigned char **val, size_t *vlen)
{
	return der_tlv(p, *p + len, tag, val, vlen);
}


/*
 * RFC 5280 4.1.2.5.1/2: UTCTime YYMMDDHHMMSSZ (YY < 50 is 20YY),
 * GeneralizedTime YYYYMMDDHHMMSSZ.  Field ranges as OpenSSL's
 * ASN1_TIME_to_tm() checks them (no leap second), so an accepted time
 * converts to the same time_t as ASN1_TIME_to_tm() + timegm().
 */
static int
cw_time(unsigned char tag, const unsigned char *v, size_t n, time_t *t)
{
	int Y, M, D, h, m, s, off;

	if (tag == CW_TAG_UTCTIME && n == 13) {
		if (!civtime_digits(v, 2, &Y))
			return 0;
		Y += Y < 50 ? 2000 : 1900;
		off = 2;
	} else if (tag == CW_TAG_GENTIME && n == 15) {
		if (!civtime_digits(v, 4, &Y))
			return 0;
		off = 4;
	} else {
		return 0;
	}
	if (!civtime_digits(v + off, 2, &M) || !civtime_digits(v + off + 2, 2, &D) ||
	    !civtime_digits(v + off + 4, 2, &h) || !civtime_digits(v + off + 6, 2, &m) ||
	    !civtime_digits(v + off + 8, 2, &s) || v[off + 10] != 'Z')
		return 0;
	return civtime_to_time(Y, M, D, h, m, s, 59, t);
}

/*
 * One extension value.  seen is a bit set of the arcs met so far (a
 * repeat is unusual: OpenSSL flags duplicates as invalid).
 */
static int
cw_ext(struct ra_certwalk *cw, unsigned char arc, const unsigned char *v,
    size_t n, unsigned *seen)
{
	const unsigned char *p = v, *val;
	size_t vlen;
	unsigned char tag;
	unsigned bit;

	switch (arc) {
	case CW_CE_SKI:
		bit = 1;
		break;
	case CW_CE_KU:
		bit = 2;
		break;
	case CW_CE_BC:
		bit = 4;
		break;
	case CW_CE_AKID:
		bit = 8;
		break;
	default:
		return 0;
	}
	if (*seen & bit)
		return 0;
	*seen |= bit;
	if (!ra_certwalk_tlv(&p, n, &tag, &val, &vlen) || p != v + n)
		return 0;
	switch (arc) {
	case CW_CE_SKI:		/* RFC 5280 4.2.1.2: OCTET STRING */
		if (tag != CW_TAG_OCTETSTRING || vlen == 0 ||
		    vlen > CW_ID_MAX)
			return 0;
		cw->ski = val;
		cw->ski_len = vlen;
		return 1;
	case CW_CE_KU:		/* 4.2.1.3: DER BIT STRING of 1..2 octets */
		if (tag != CW_TAG_BITSTRING || vlen < 2 || vlen > 3 ||
		    val[0] > 7 || val[vlen - 1] == 0 ||
		    (val[vlen - 1] & ((1u << val[0]) - 1)) != 0)
			return 0;
		return 1;
	case CW_CE_BC:		/* 4.2.1.9: only the empty SEQUENCE */
		return tag == CW_TAG_SEQUENCE && vlen == 0;
	default:		/* 4.2.1.1: SEQUENCE { [0] keyIdentifier } */
		if (tag != CW_TAG_SEQUENCE)
			return 0;
		p = val;
		if (!ra_certwalk_tlv(&p, vlen, &tag, &cw->akid,
		    &cw->akid_len) || p != val + vlen || tag != CW_TAG_KEYID ||
		    cw->akid_len == 0 || cw->akid_len > CW_ID_MAX)
			return 0;
		return 1;
	}
}

/* [3] EXPLICIT Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension. */
static int
cw_exts(struct ra_certwalk *cw, const unsigned char *v, size_t n)
{
	const unsigned char *p = v, *end = v + n, *seq, *ext, *eend, *oid;
	const unsigned char *val, *b;
	size_t seqlen, extlen, oidlen, vlen, blen;
	unsigned seen = 0;

	if (!der_expect(&p, end, CW_TAG_SEQUENCE, NULL, NULL, &seq, &seqlen) ||
	    p != end || seqlen == 0)
		return 0;
	p = seq;
	end = seq + seqlen;
	while (p < end) {
		if (!der_expect(&p, end, CW_TAG_SEQUENCE, NULL, NULL, &ext,
		    &extlen))
			return 0;
		eend = ext + extlen;
		if (!der_expect(&ext, eend, CW_TAG_OID, NULL, NULL, &oid,
		    &oidlen) || oidlen != 3 || oid[0] != 0x55 ||
		    oid[1] != 0x1d)
			return 0;
		/* critical BOOLEAN DEFAULT FALSE: DER only allows TRUE. */
		if (ext < eend && *ext == CW_TAG_BOOLEAN) {
			if (!der_expect(&ext, eend, CW_TAG_BOOLEAN, NULL, NULL,
			    &b, &blen) || blen != 1 || b[0] != 0xff)
				return 0;
		}
		if (!der_expect(&ext, eend, CW_TAG_OCTETSTRING, NULL, NULL,
		    &val, &vlen) || ext != eend)
			return 0;
		if (!cw_ext(cw, oid[2], val, vlen, &seen))
			return 0;
	}
	return 1;
}

int
ra_certwalk_parse(const unsigned char *der, size_t len,
    struct ra_certwalk *cw)
{
	const unsigned char *p = der, *end = der + len, *cert, *tbs, *v;
	const unsigned char *tbsalg, *validity, *tend, *sig;
	size_t certlen, tbslen, vlen, tbsalglen, validitylen, siglen;
	unsigned char tag;

	memset(cw, 0, sizeof(*cw));
	if (!der_expect(&p, end, CW_TAG_SEQUENCE, NULL, NULL, &cert, &certlen) ||
	    p != end)
		return 0;
	p = cert;
	end = cert + certlen;
	if (!der_expect(&p, end, CW_TAG_SEQUENCE, &cw->tbs, &cw->tbs_len, &tbs,
	    &tbslen) ||
	    !der_expect(&p, end, CW_TAG_SEQUENCE, &cw->sigalg, &cw->sigalg_len,
	    &v, &vlen) ||
	    !der_expect(&p, end, CW_TAG_BITSTRING, NULL, NULL, &sig, &siglen) ||
	    p != end)
		return 0;
	if (siglen < 2 || sig[0] != 0)	/* no unused bits */
		return 0;
	cw->sig = sig + 1;
	cw->sig_len = siglen - 1;

	p = tbs;
	tend = tbs + tbslen;
	/* version [0] EXPLICIT INTEGER v3(2), exactly. */
	if (!der_expect(&p, tend, CW_TAG_CTX0, NULL, NULL, &v, &vlen) ||
	    vlen != 3 || v[0] != CW_TAG_INTEGER || v[1] != 1 || v[2] != 2)
		return 0;
	/* serialNumber: positive, minimal, at most 20 octets (4.1.2.2). */
	if (!der_expect(&p, tend, CW_TAG_INTEGER, NULL, NULL, &v, &vlen) ||
	    vlen == 0 || vlen > 21 || (v[0] & 0x80) != 0 ||
	    (vlen > 1 && v[0] == 0 && (v[1] & 0x80) == 0))
		return 0;
	if (!der_expect(&p, tend, CW_TAG_SEQUENCE, &tbsalg, &tbsalglen, &v,
	    &vlen) || tbsalglen != cw->sigalg_len ||
	    memcmp(tbsalg, cw->sigalg, tbsalglen) != 0)
		return 0;
	if (!der_expect(&p, tend, CW_TAG_SEQUENCE, &cw->issuer,
	    &cw->issuer_len, &v, &vlen))
		return 0;
	if (!der_expect(&p, tend, CW_TAG_SEQUENCE, NULL, NULL, &validity,
	    &validitylen))
		return 0;
	{
		const unsigned char *q = validity, *qend = validity +
		    validitylen;

		if (q >= qend || !ra_certwalk_tlv(&q, (size_t)(qend - q), &tag,
		    &v, &vlen) || !cw_time(tag, v, vlen, &cw->not_before))
			return 0;
		if (q >= qend || !ra_certwalk_tlv(&q, (size_t)(qend - q), &tag,
		    &v, &vlen) || !cw_time(tag, v, vlen, &cw->not_after) ||
		    q != qend)
			return 0;
	}
	if (!der_expect(&p, tend, CW_TAG_SEQUENCE, &cw->subject,
	    &cw->subject_len, &v, &vlen) || vlen == 0)
		return 0;
	if (!der_expect(&p, tend, CW_TAG_SEQUENCE, &cw->spki, &cw->spki_len,
	    &v, &vlen))
		return 0;
	/* No issuerUniqueID / subjectUniqueID; extensions are optional. */
	if (p == tend)
		return 1;
	if (!der_expect(&p, tend, CW_TAG_CTX3, NULL, NULL, &v, &vlen) ||
	    p != tend)
		return 0;
	return cw_exts(cw, v, vlen);
}
