/*
 * csrwalk.c - the plain-shape DER walk of csrwalk.h.
 *
 * Why: OpenSSL 3.0's d2i_X509_REQ sets up a provider key decoder
 * (OSSL_DECODER_CTX_new_for_pkey) for the request's public key, about
 * 200 us of a ~700 us EST enrollment.  The EST path only needs byte
 * ranges and the EC point, so it walks the DER here and keeps
 * d2i_X509_REQ for anything this file does not know.  Every check errs
 * towards "unusual" (return 0): too strict costs speed only, too lax
 * could accept what OpenSSL refuses.
 */
#include <string.h>

#include "ca/csrwalk.h"
#include "common/der.h"

#define CSW_TAG_BOOLEAN		0x01
#define CSW_TAG_INTEGER		0x02
#define CSW_TAG_BITSTRING	0x03
#define CSW_TAG_OCTETSTRING	0x04
#define CSW_TAG_NULL		0x05
#define CSW_TAG_OID		0x06
#define CSW_TAG_UTF8STRING	0x0c
#define CSW_TAG_PRINTABLE	0x13
#define CSW_TAG_IA5STRING	0x16
#define CSW_TAG_SEQUENCE	0x30
#define CSW_TAG_SET		0x31
#define CSW_TAG_ATTRS		0xa0	/* [0] IMPLICIT SET OF Attribute */
#define CSW_DEPTH_MAX		8	/* nesting inside an attribute value */

/* RFC 5480 2.1.1 / 2.1.1.1 and RFC 5758 3.2, as full OID TLVs. */
static const unsigned char oid_ec_pub[] = {
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p256[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = {
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_ecdsa_sha256[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char oid_ecdsa_sha384[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };



/* X.690 8.19: subidentifiers in minimal base-128, the last one closed. */
static int
csw_oid_ok(const unsigned char *v, size_t n)
{
	int start = 1;

	if (n == 0 || (v[n - 1] & 0x80) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (start && v[i] == 0x80)
			return 0;
		start = (v[i] & 0x80) == 0;
	}
	return 1;
}

/*
 * A value inside an attribute: well-formed DER of the types OpenSSL's
 * ASN1_ANY checks the same way or not at all.  Others (BMPString,
 * constructed strings, times, ...) are unusual here.
 */
static int
csw_value_ok(unsigned char tag, const unsigned char *v, size_t n, int depth)
{
	const unsigned char *p = v, *end = v + n, *cv;
	unsigned char ct;
	size_t cn;

	if (tag == CSW_TAG_SEQUENCE || tag == CSW_TAG_SET ||
	    (tag & 0xe0) == 0xa0) {	/* context-specific constructed */
		if (depth >= CSW_DEPTH_MAX)
			return 0;
		while (p < end)
			if (!der_tlv(&p, end, &ct, &cv, &cn) ||
			    !csw_value_ok(ct, cv, cn, depth + 1))
				return 0;
		return 1;
	}
	if ((tag & 0xe0) == 0x80)	/* context-specific primitive */
		return 1;
	switch (tag) {
	case CSW_TAG_BOOLEAN:
		return n == 1 && (v[0] == 0x00 || v[0] == 0xff);
	case CSW_TAG_INTEGER:		/* X.690 8.3.2: minimal */
		return n >= 1 && !(n > 1 && ((v[0] == 0x00 &&
		    (v[1] & 0x80) == 0) || (v[0] == 0xff &&
		    (v[1] & 0x80) != 0)));
	case CSW_TAG_BITSTRING:		/* X.690 11.2: unused bits zero */
		return n >= 1 && v[0] <= 7 && (n > 1 || v[0] == 0) &&
		    (v[n - 1] & ((1u << v[0]) - 1)) == 0;
	case CSW_TAG_NULL:
		return n == 0;
	case CSW_TAG_OID:
		return csw_oid_ok(v, n);
	case CSW_TAG_OCTETSTRING:
	case CSW_TAG_UTF8STRING:
	case CSW_TAG_PRINTABLE:
	case CSW_TAG_IA5STRING:
		return 1;
	default:
		return 0;
	}
}

/*
 * RFC 2986 4.1: attributes [0] Attributes, each Attribute ::= SEQUENCE {
 * type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ANY }.
 */
static int
csw_attrs(struct ca_csrwalk *w, const unsigned char *v, size_t n)
{
	const unsigned char *p = v, *end = v + n, *a, *aend, *oid, *set;
	const unsigned char *q, *cv;
	size_t alen, oidlen, setlen, cn;
	unsigned char ct;

	w->attrs = v;
	w->attrs_len = n;
	while (p < end) {
		if (!der_expect(&p, end, CSW_TAG_SEQUENCE, NULL, NULL, &a,
		    &alen))
			return 0;
		aend = a + alen;
		if (!der_expect(&a, aend, CSW_TAG_OID, NULL, NULL, &oid,
		    &oidlen) || !csw_oid_ok(oid, oidlen) ||
		    !der_expect(&a, aend, CSW_TAG_SET, NULL, NULL, &set,
		    &setlen) || a != aend || setlen == 0)
			return 0;
		for (q = set; q < set + setlen; )
			if (!der_tlv(&q, set + setlen, &ct, &cv, &cn) ||
			    !csw_value_ok(ct, cv, cn, 1))
				return 0;
		w->nattrs++;
	}
	return 1;
}

/*
 * RFC 5280 4.1.2.4 Name: SEQUENCE OF RelativeDistinguishedName (a
 * non-empty SET OF AttributeTypeAndValue { OID, string }).  Only the
 * shape; d2i_X509_NAME judges the strings.
 */
static int
csw_name(const unsigned char *v, size_t n)
{
	const unsigned char *p = v, *end = v + n, *rdn, *rend, *atv, *aend;
	const unsigned char *oid, *sv;
	size_t rdnlen, atvlen, oidlen, sn;
	unsigned char st;

	while (p < end) {
		if (!der_expect(&p, end, CSW_TAG_SET, NULL, NULL, &rdn,
		    &rdnlen) || rdnlen == 0)
			return 0;
		rend = rdn + rdnlen;
		while (rdn < rend) {
			if (!der_expect(&rdn, rend, CSW_TAG_SEQUENCE, NULL,
			    NULL, &atv, &atvlen))
				return 0;
			aend = atv + atvlen;
			if (!der_expect(&atv, aend, CSW_TAG_OID, NULL, NULL,
			    &oid, &oidlen) || !csw_oid_ok(oid, oidlen) ||
			    !der_tlv(&atv, aend, &st, &sv, &sn) || atv != aend)
				return 0;
			if (st != CSW_TAG_UTF8STRING && st != CSW_TAG_PRINTABLE &&
			    st != CSW_TAG_IA5STRING)
				return 0;
		}
	}
	return 1;
}

/* SubjectPublicKeyInfo: id-ecPublicKey, namedCurve, uncompressed point. */
static int
csw_spki(struct ca_csrwalk *w, const unsigned char *v, size_t n)
{
	const unsigned char *p = v, *end = v + n, *alg, *aend, *bits, *o;
	size_t alglen, bitslen, olen, want;

	if (!der_expect(&p, end, CSW_TAG_SEQUENCE, NULL, NULL, &alg,
	    &alglen) ||
	    !der_expect(&p, end, CSW_TAG_BITSTRING, NULL, NULL, &bits,
	    &bitslen) || p != end)
		return 0;
	aend = alg + alglen;
	if (!der_expect(&alg, aend, CSW_TAG_OID, &o, &olen, NULL, NULL) ||
	    olen != sizeof(oid_ec_pub) || memcmp(o, oid_ec_pub, olen) != 0 ||
	    !der_expect(&alg, aend, CSW_TAG_OID, &o, &olen, NULL, NULL) ||
	    alg != aend)
		return 0;
	if (olen == sizeof(oid_p256) && memcmp(o, oid_p256, olen) == 0) {
		w->curve = CA_CSRWALK_P256;
		want = 1 + 2 * 32;
	} else if (olen == sizeof(oid_p384) && memcmp(o, oid_p384, olen) ==
	    0) {
		w->curve = CA_CSRWALK_P384;
		want = 1 + 2 * 48;
	} else {
		return 0;
	}
	/* RFC 5480 2.2: the ECPoint octets are the key bits; no unused
	 * bits, uncompressed form (0x04) of the curve's size. */
	if (bitslen != 1 + want || bits[0] != 0 || bits[1] != 0x04)
		return 0;
	w->point = bits + 1;
	w->point_len = want;
	return 1;
}

/* RFC 5758 3.2: ecdsa-with-SHA256/384, parameters absent. */
static int
csw_sigalg(struct ca_csrwalk *w, const unsigned char *v, size_t n)
{
	const unsigned char *p = v, *end = v + n, *o;
	size_t olen;

	if (!der_expect(&p, end, CSW_TAG_OID, &o, &olen, NULL, NULL) ||
	    p != end)
		return 0;
	if (olen == sizeof(oid_ecdsa_sha256) &&
	    memcmp(o, oid_ecdsa_sha256, olen) == 0)
		w->hash = CA_CSRWALK_SHA256;
	else if (olen == sizeof(oid_ecdsa_sha384) &&
	    memcmp(o, oid_ecdsa_sha384, olen) == 0)
		w->hash = CA_CSRWALK_SHA384;
	else
		return 0;
	return 1;
}

static int
csw_walk(const unsigned char *der, size_t len, struct ca_csrwalk *w)
{
	const unsigned char *p = der, *end = der + len, *req, *info, *v;
	const unsigned char *iend, *sig;
	size_t reqlen, infolen, vlen, siglen;

	/* CertificationRequest ::= SEQUENCE { info, sigalg, signature } */
	if (!der_expect(&p, end, CSW_TAG_SEQUENCE, NULL, NULL, &req,
	    &reqlen) || p != end)
		return 0;
	p = req;
	end = req + reqlen;
	if (!der_expect(&p, end, CSW_TAG_SEQUENCE, &w->info, &w->info_len,
	    &info, &infolen) ||
	    !der_expect(&p, end, CSW_TAG_SEQUENCE, &w->sigalg,
	    &w->sigalg_len, &v, &vlen) || !csw_sigalg(w, v, vlen) ||
	    !der_expect(&p, end, CSW_TAG_BITSTRING, NULL, NULL, &sig,
	    &siglen) || p != end)
		return 0;
	if (siglen < 2 || sig[0] != 0)		/* no unused bits */
		return 0;
	w->sig = sig + 1;
	w->sig_len = siglen - 1;

	p = info;
	iend = info + infolen;
	/* version INTEGER { v1(0) } (RFC 2986 4.1), exactly. */
	if (!der_expect(&p, iend, CSW_TAG_INTEGER, NULL, NULL, &v, &vlen) ||
	    vlen != 1 || v[0] != 0)
		return 0;
	if (!der_expect(&p, iend, CSW_TAG_SEQUENCE, &w->subject,
	    &w->subject_len, &v, &vlen) || !csw_name(v, vlen))
		return 0;
	if (!der_expect(&p, iend, CSW_TAG_SEQUENCE, &w->spki, &w->spki_len,
	    &v, &vlen) || !csw_spki(w, v, vlen))
		return 0;
	if (!der_expect(&p, iend, CSW_TAG_ATTRS, NULL, NULL, &v, &vlen) ||
	    p != iend || !csw_attrs(w, v, vlen))
		return 0;
	return 1;
}

int
ca_csrwalk_parse(const unsigned char *der, size_t len, struct ca_csrwalk *w)
{
	memset(w, 0, sizeof(*w));
	if (der == NULL || len == 0)
		return 0;
	if (!csw_walk(der, len, w)) {
		memset(w, 0, sizeof(*w));
		return 0;
	}
	return 1;
}
