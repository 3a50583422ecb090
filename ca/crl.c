/*
 * crl.c - CertificateList as hand-written DER (RFC 5280 section 5).
 *
 * Why by hand: see crl.h.  Shape of the work, tuned for 10^6 entries:
 *   1. check every entry and sum the exact encoded size (no allocation);
 *   2. allocate the whole CertificateList once, with a few bytes of head
 *      room, and write the TBSCertList straight into it;
 *   3. sign the TBS bytes in place with EVP_DigestSign;
 *   4. append signatureAlgorithm and the BIT STRING, put the outer SEQUENCE
 *      header in the head room and slide the result to the buffer start.
 * Entries keep the caller's order: RFC 5280 asks no order, and relying
 * parties (OpenSSL included) sort or hash on load.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "ca/revoke_reason.h"
#include "common/log.h"

/* Longest DER header we ever write: tag, 0x84, four length octets. */
#define HEAD_ROOM	8
#define URL_MAX		1024

/*
 * Byte buffer.  Writers never fail individually; the first allocation
 * failure sets err and later writes are dropped, so a sequence of writes
 * needs one check at its end.  Owns p (free with sb_free).
 */
struct sb {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void
sb_free(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
sb_reserve(struct sb *b, size_t need)
{
	size_t ncap;
	unsigned char *np;

	if (b->err)
		return 0;
	if (need <= b->cap - b->len)
		return 1;
	if (need > SIZE_MAX / 2 - b->len) {
		b->err = 1;
		return 0;
	}
	ncap = b->cap * 2 > b->len + need ? b->cap * 2 : b->len + need + 64;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->err = 1;
		return 0;
	}
	b->p = np;
	b->cap = ncap;
	return 1;
}

static void
sb_put(struct sb *b, const void *d, size_t n)
{
	if (n == 0 || !sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
sb_byte(struct sb *b, unsigned char c)
{
	sb_put(b, &c, 1);
}

/* Size of a DER tag + definite length for n content octets. */
static size_t
der_hdr_len(size_t n)
{
	size_t l = 2;

	if (n < 0x80)
		return l;
	for (; n > 0; n >>= 8)
		l++;
	return l;
}

static void
sb_hdr(struct sb *b, unsigned char tag, size_t n)
{
	unsigned char h[HEAD_ROOM];
	size_t hl = der_hdr_len(n);

	h[0] = tag;
	if (hl == 2)
		h[1] = (unsigned char)n;
	else {
		h[1] = (unsigned char)(0x80 | (hl - 2));
		for (size_t i = hl - 1; i >= 2; i--, n >>= 8)
			h[i] = (unsigned char)(n & 0xff);
	}
	sb_put(b, h, hl);
}

/* Appends tag, length and the whole of in as content. */
static void
sb_wrap(struct sb *b, unsigned char tag, const struct sb *in)
{
	if (in->err) {
		b->err = 1;
		return;
	}
	sb_hdr(b, tag, in->len);
	sb_put(b, in->p, in->len);
}

/* Non-negative INTEGER, minimal two's complement (X.690 8.3.2). */
static void
sb_uint(struct sb *b, uint64_t v)
{
	unsigned char c[9];
	size_t n = 0;

	do {
		c[8 - n++] = (unsigned char)(v & 0xff);
		v >>= 8;
	} while (v != 0);
	if (c[9 - n] & 0x80)
		c[8 - n++] = 0;
	sb_hdr(b, 0x02, n);
	sb_put(b, c + 9 - n, n);
}

/* ---- time ---------------------------------------------------------- */

/* 1950-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what Time can hold. */
#define TIME_MIN	(-631152000LL)
#define TIME_MAX	(253402300799LL)
#define UTC_END		(2524608000LL)	/* 2050-01-01: GeneralizedTime after */

struct civil {
	int y, mo, d, h, mi, s;
};

/*
 * Seconds since the epoch to a proleptic Gregorian UTC date, without
 * gmtime_r (time zone machinery, and this runs twice per CRL entry).
 * Counts days from 0000-03-01 so that the leap day ends each 400/100/4
 * year cycle.  t must be within TIME_MIN..TIME_MAX.
 */
static void
civil_from_time(int64_t t, struct civil *c)
{
	int64_t days = t / 86400, sec = t % 86400;
	int64_t era, doe, yoe, doy, mp;

	if (sec < 0) {
		sec += 86400;
		days--;
	}
	c->h = (int)(sec / 3600);
	c->mi = (int)(sec / 60 % 60);
	c->s = (int)(sec % 60);
	days += 719468;			/* 1970-01-01 is day 719468 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;	/* day of 400-year era */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;	/* March = 0 */
	c->d = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->y = (int)(era * 400 + yoe + (c->mo <= 2));
}

static int
time_ok(int64_t t)
{
	return t >= TIME_MIN && t <= TIME_MAX;
}

static unsigned char *
put2(unsigned char *p, int v)
{
	p[0] = (unsigned char)('0' + v / 10);
	p[1] = (unsigned char)('0' + v % 10);
	return p + 2;
}

/*
 * Writes a Time TLV into out (17 octets at most) and returns its length.
 * RFC 5280 4.1.2.5 / 5.1.2.4: UTCTime through 2049, GeneralizedTime from
 * 2050, always Zulu with seconds; gen forces GeneralizedTime (5.3.2).
 */
static size_t
time_tlv(int64_t t, int gen, unsigned char *out)
{
	struct civil c;
	unsigned char *p = out + 2;

	civil_from_time(t, &c);
	if (!gen && t < UTC_END) {
		out[0] = 0x17;
		out[1] = 13;
		p = put2(p, c.y % 100);
	} else {
		out[0] = 0x18;
		out[1] = 15;
		p = put2(p, c.y / 100);
		p = put2(p, c.y % 100);
	}
	p = put2(p, c.mo);
	p = put2(p, c.d);
	p = put2(p, c.h);
	p = put2(p, c.mi);
	p = put2(p, c.s);
	*p++ = 'Z';
	return (size_t)(p - out);
}

/* ---- entries ------------------------------------------------------- */

static const unsigned char oid_reason[] = { 0x06, 0x03, 0x55, 0x1d, 0x15 };
static const unsigned char oid_invalidity[] = { 0x06, 0x03, 0x55, 0x1d, 0x18 };
static const unsigned char oid_aki[] = { 0x06, 0x03, 0x55, 0x1d, 0x23 };
static const unsigned char oid_crl_number[] = { 0x06, 0x03, 0x55, 0x1d, 0x14 };
static const unsigned char oid_delta_ind[] = { 0x06, 0x03, 0x55, 0x1d, 0x1b };
static const unsigned char oid_idp[] = { 0x06, 0x03, 0x55, 0x1d, 0x1c };
static const unsigned char oid_freshest[] = { 0x06, 0x03, 0x55, 0x1d, 0x2e };
static const unsigned char critical_true[] = { 0x01, 0x01, 0xff };

/* Extension = SEQUENCE { OID, OCTET STRING { ENUMERATED r } }: 12 octets. */
#define REASON_EXT_LEN	12
/* Extension = SEQUENCE { OID, OCTET STRING { GeneralizedTime } }: 26. */
#define INVAL_EXT_LEN	26

/* Encoded sizes of one entry, computed once in the checking pass. */
struct ent_size {
	size_t mag_off;		/* first non-zero serial octet */
	size_t int_len;		/* INTEGER content octets (<= 21) */
	size_t ext_len;		/* crlEntryExtensions content, 0 = absent */
	size_t content;		/* SEQUENCE content */
};

static int
entry_size(const struct crl_entry *e, int is_delta, size_t i,
    struct ent_size *s)
{
	size_t off = 0;

	if (e->serial_len == 0 || e->serial_len > CRL_SERIAL_MAX) {
		log_err("crl: entry %zu: serial length %zu not in 1..%d",
		    i, e->serial_len, CRL_SERIAL_MAX);
		return 0;
	}
	while (off < e->serial_len && e->serial[off] == 0)
		off++;
	if (off == e->serial_len) {
		log_err("crl: entry %zu: serial is zero (RFC 5280 4.1.2.2 "
		    "wants a positive integer)", i);
		return 0;
	}
	if (!time_ok(e->revoked_at)) {
		log_err("crl: entry %zu: revocation time %lld out of range",
		    i, (long long)e->revoked_at);
		return 0;
	}
	if (e->reason != -1 && !revoke_reason_valid(e->reason)) {
		log_err("crl: entry %zu: reason %d is not an RFC 5280 "
		    "CRLReason", i, e->reason);
		return 0;
	}
	if (e->reason == REVOKE_REASON_REMOVE_FROM_CRL && !is_delta) {
		log_err("crl: entry %zu: removeFromCRL is only for delta CRLs "
		    "(RFC 5280 5.3.1)", i);
		return 0;
	}
	if (e->invalidity_date != 0 && !time_ok(e->invalidity_date)) {
		log_err("crl: entry %zu: invalidity date %lld out of range",
		    i, (long long)e->invalidity_date);
		return 0;
	}
	s->mag_off = off;
	s->int_len = e->serial_len - off + ((e->serial[off] & 0x80) != 0);
	s->ext_len = 0;
	if (e->reason > 0)
		s->ext_len += REASON_EXT_LEN;
	if (e->invalidity_date != 0)
		s->ext_len += INVAL_EXT_LEN;
	s->content = 2 + s->int_len + (e->revoked_at < UTC_END ? 15 : 17);
	if (s->ext_len > 0)
		s->content += 2 + s->ext_len;	/* ext_len < 128 */
	return 1;
}

/* Writes one revokedCertificates element; sizes from entry_size. */
static void
entry_write(struct sb *b, const struct crl_entry *e, const struct ent_size *s)
{
	unsigned char buf[96], *p = buf;	/* max 82 octets */
	size_t mag = e->serial_len - s->mag_off;

	/* Build in a stack buffer, append once: the hot path for 10^6. */
	*p++ = 0x30;
	*p++ = (unsigned char)s->content;	/* content < 128 always */
	*p++ = 0x02;
	*p++ = (unsigned char)s->int_len;
	if (s->int_len > mag)
		*p++ = 0;
	memcpy(p, e->serial + s->mag_off, mag);
	p += mag;
	p += time_tlv(e->revoked_at, 0, p);
	if (s->ext_len > 0) {
		*p++ = 0x30;
		*p++ = (unsigned char)s->ext_len;
		if (e->reason > 0) {
			*p++ = 0x30;
			*p++ = 10;
			memcpy(p, oid_reason, sizeof(oid_reason));
			p += sizeof(oid_reason);
			*p++ = 0x04;
			*p++ = 3;
			*p++ = 0x0a;
			*p++ = 1;
			*p++ = (unsigned char)e->reason;
		}
		if (e->invalidity_date != 0) {
			*p++ = 0x30;
			*p++ = 24;
			memcpy(p, oid_invalidity, sizeof(oid_invalidity));
			p += sizeof(oid_invalidity);
			*p++ = 0x04;
			*p++ = 17;
			p += time_tlv(e->invalidity_date, 1, p);
		}
	}
	sb_put(b, buf, (size_t)(p - buf));
}

/* ---- CRL extensions ------------------------------------------------ */

static int
url_ok(const char *u)
{
	size_t n;

	if (u == NULL)
		return 1;
	n = strlen(u);
	if (n == 0 || n > URL_MAX)
		return 0;
	/* IA5String, and no white space or controls inside a URI. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return 0;
	return 1;
}

/* DistributionPointName ::= [0] { fullName [0] { [6] uri } }: the form
 * shared by IDP (5.2.5) and Freshest CRL / CDP (4.2.1.13). */
static void
sb_dpname(struct sb *b, const char *uri)
{
	struct sb gn = { 0 }, full = { 0 };

	sb_hdr(&gn, 0x86, strlen(uri));
	sb_put(&gn, uri, strlen(uri));
	sb_wrap(&full, 0xa0, &gn);
	sb_wrap(b, 0xa0, &full);
	sb_free(&gn);
	sb_free(&full);
}

/* Extension ::= SEQUENCE { extnID, critical, extnValue OCTET STRING }. */
static void
sb_ext(struct sb *b, const unsigned char *oid, size_t oidlen, int critical,
    const struct sb *value)
{
	struct sb e = { 0 };

	sb_put(&e, oid, oidlen);
	if (critical)
		sb_put(&e, critical_true, sizeof(critical_true));
	sb_wrap(&e, 0x04, value);
	sb_wrap(b, 0x30, &e);
	sb_free(&e);
}

/* Fills b with crlExtensions content (the Extension elements). */
static int
crl_exts(X509 *issuer, const struct crl_params *p, struct sb *b)
{
	struct sb v = { 0 }, t = { 0 };
	unsigned char kid[EVP_MAX_MD_SIZE];
	unsigned int kidlen = 0;
	const ASN1_OCTET_STRING *ski;
	int ok = 0;

	/* 5.2.1: keyIdentifier, equal to the issuer's SKI (4.2.1.2). */
	if ((ski = X509_get0_subject_key_id(issuer)) != NULL) {
		kidlen = (unsigned int)ASN1_STRING_length(ski);
		if (kidlen == 0 || kidlen > sizeof(kid)) {
			log_err("crl: issuer SKI has bad length %u", kidlen);
			goto out;
		}
		memcpy(kid, ASN1_STRING_get0_data(ski), kidlen);
	} else if (!X509_pubkey_digest(issuer, EVP_sha1(), kid, &kidlen)) {
		log_openssl("crl: X509_pubkey_digest");
		goto out;
	}
	sb_hdr(&t, 0x80, kidlen);
	sb_put(&t, kid, kidlen);
	sb_wrap(&v, 0x30, &t);
	sb_ext(b, oid_aki, sizeof(oid_aki), 0, &v);
	sb_free(&v);
	sb_free(&t);

	sb_uint(&v, (uint64_t)p->number);		/* 5.2.3 */
	sb_ext(b, oid_crl_number, sizeof(oid_crl_number), 0, &v);
	sb_free(&v);

	if (p->is_delta) {				/* 5.2.4: critical */
		sb_uint(&v, (uint64_t)p->base_number);
		sb_ext(b, oid_delta_ind, sizeof(oid_delta_ind), 1, &v);
		sb_free(&v);
	}
	if (p->idp_url != NULL) {			/* 5.2.5: critical */
		sb_dpname(&t, p->idp_url);
		sb_wrap(&v, 0x30, &t);
		sb_ext(b, oid_idp, sizeof(oid_idp), 1, &v);
		sb_free(&v);
		sb_free(&t);
	}
	if (p->freshest_url != NULL) {			/* 5.2.6 */
		struct sb dp = { 0 };

		sb_dpname(&dp, p->freshest_url);
		sb_wrap(&t, 0x30, &dp);		/* DistributionPoint */
		sb_wrap(&v, 0x30, &t);		/* CRLDistributionPoints */
		sb_ext(b, oid_freshest, sizeof(oid_freshest), 0, &v);
		sb_free(&dp);
	}
	if (b->err || v.err || t.err) {
		log_err("crl: out of memory encoding extensions");
		goto out;
	}
	ok = 1;
out:
	sb_free(&v);
	sb_free(&t);
	return ok;
}

/* ---- signature algorithm -------------------------------------------- */

static const unsigned char alg_ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08,
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char alg_ecdsa_sha384[] = { 0x30, 0x0a, 0x06, 0x08,
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
/* RFC 4055 section 5: the parameters of sha256WithRSAEncryption are NULL. */
static const unsigned char alg_rsa_sha256[] = { 0x30, 0x0d, 0x06, 0x09,
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
/* RFC 8410 section 3: Ed25519 has absent parameters. */
static const unsigned char alg_ed25519[] = { 0x30, 0x05, 0x06, 0x03,
	0x2b, 0x65, 0x70 };

/* Picks digest and AlgorithmIdentifier DER for key; 0 if unsupported. */
static int
sig_choose(EVP_PKEY *key, const EVP_MD **md, const unsigned char **alg,
    size_t *alglen)
{
	char group[64];

	if (EVP_PKEY_is_a(key, "EC")) {
		if (!EVP_PKEY_get_group_name(key, group, sizeof(group), NULL))
			return 0;
		if (strcmp(group, "prime256v1") == 0) {
			*md = EVP_sha256();
			*alg = alg_ecdsa_sha256;
			*alglen = sizeof(alg_ecdsa_sha256);
			return 1;
		}
		if (strcmp(group, "secp384r1") == 0) {
			*md = EVP_sha384();
			*alg = alg_ecdsa_sha384;
			*alglen = sizeof(alg_ecdsa_sha384);
			return 1;
		}
		return 0;
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		*md = EVP_sha256();
		*alg = alg_rsa_sha256;
		*alglen = sizeof(alg_rsa_sha256);
		return 1;
	}
	if (EVP_PKEY_is_a(key, "ED25519")) {
		*md = NULL;			/* pure EdDSA, RFC 8032 */
		*alg = alg_ed25519;
		*alglen = sizeof(alg_ed25519);
		return 1;
	}
	return 0;
}

/* ---- the CRL --------------------------------------------------------- */

static int
params_ok(const struct crl_params *p)
{
	if (p->number < 0) {
		log_err("crl: negative CRL number (RFC 5280 5.2.3)");
		return 0;
	}
	if (!time_ok(p->this_update) || !time_ok(p->next_update) ||
	    p->next_update <= p->this_update) {
		log_err("crl: thisUpdate %lld / nextUpdate %lld out of range "
		    "or not increasing", (long long)p->this_update,
		    (long long)p->next_update);
		return 0;
	}
	if (p->is_delta && (p->base_number < 0 ||
	    p->base_number >= p->number)) {
		log_err("crl: delta base %lld must be in 0..number-1 (%lld)",
		    (long long)p->base_number, (long long)p->number);
		return 0;
	}
	if (p->is_delta && p->freshest_url != NULL) {
		log_err("crl: Freshest CRL extension not allowed in a delta "
		    "CRL (RFC 5280 5.2.6)");
		return 0;
	}
	if (!url_ok(p->idp_url) || !url_ok(p->freshest_url)) {
		log_err("crl: distribution point URI empty, too long or not "
		    "printable ASCII");
		return 0;
	}
	return 1;
}

/* Signs tbs and appends AlgorithmIdentifier and BIT STRING to b. */
static int
sign_append(EVP_PKEY *key, const EVP_MD *md, const unsigned char *alg,
    size_t alglen, size_t tbs_off, size_t tbs_len, struct sb *b)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *sig = NULL;
	size_t siglen;
	int ok = 0, max;

	if ((max = EVP_PKEY_get_size(key)) <= 0) {
		log_openssl("crl: EVP_PKEY_get_size");
		goto out;
	}
	siglen = (size_t)max;
	if ((sig = malloc(siglen)) == NULL) {
		log_err("crl: out of memory");
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		log_openssl("crl: EVP_MD_CTX_new");
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1) {
		log_openssl("crl: EVP_DigestSignInit");
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, b->p + tbs_off, tbs_len) != 1) {
		log_openssl("crl: EVP_DigestSign");
		goto out;
	}
	sb_put(b, alg, alglen);
	sb_hdr(b, 0x03, siglen + 1);
	sb_byte(b, 0);				/* no unused bits */
	sb_put(b, sig, siglen);
	ok = !b->err;
out:
	EVP_MD_CTX_free(ctx);
	free(sig);
	return ok;
}

int
crl_build(X509 *issuer, EVP_PKEY *key, const struct crl_params *p,
    const struct crl_entry *e, size_t n, unsigned char **der, size_t *len)
{
	struct sb b = { 0 }, ext = { 0 };
	struct ent_size s;
	const EVP_MD *md;
	const unsigned char *alg, *name_der;
	const X509_NAME *name;
	unsigned char t1[17], t2[17];
	size_t alglen, name_len, t1_len, t2_len, rev_len = 0, tbs_len, total;
	size_t tbs_off, hl;
	int rc = CRL_EINVAL;

	*der = NULL;
	*len = 0;
	if (issuer == NULL || key == NULL || p == NULL || (n > 0 && e == NULL))
		goto out;
	if (!params_ok(p))
		goto out;
	if (!sig_choose(key, &md, &alg, &alglen)) {
		log_err("crl: unsupported CA key type (want P-256, P-384, RSA "
		    "or Ed25519)");
		goto out;
	}
	if (X509_check_private_key(issuer, key) != 1) {
		log_openssl("crl: key does not match the issuer certificate");
		rc = CRL_ECRYPTO;
		goto out;
	}
	name = X509_get_subject_name(issuer);
	if (!X509_NAME_get0_der((X509_NAME *)name, &name_der, &name_len)) {
		log_openssl("crl: X509_NAME_get0_der");
		rc = CRL_ECRYPTO;
		goto out;
	}

	/* Pass 1: validate and size every entry. */
	for (size_t i = 0; i < n; i++) {
		if (!entry_size(&e[i], p->is_delta, i, &s))
			goto out;
		rev_len += der_hdr_len(s.content) + s.content;
	}
	if (!crl_exts(issuer, p, &ext)) {
		rc = CRL_ENOMEM;
		goto out;
	}
	t1_len = time_tlv(p->this_update, 0, t1);
	t2_len = time_tlv(p->next_update, 0, t2);

	/* version v2 (3 octets) is required with extensions (5.1.2.1). */
	tbs_len = 3 + alglen + name_len + t1_len + t2_len;
	if (n > 0)	/* an empty list MUST be absent (5.1.2.6) */
		tbs_len += der_hdr_len(rev_len) + rev_len;
	tbs_len += der_hdr_len(der_hdr_len(ext.len) + ext.len) +
	    der_hdr_len(ext.len) + ext.len;
	tbs_off = HEAD_ROOM + der_hdr_len(tbs_len);
	total = tbs_off + tbs_len + alglen + 8 + (size_t)EVP_PKEY_get_size(key);

	/* Pass 2: one allocation, the whole CertificateList. */
	rc = CRL_ENOMEM;
	if (!sb_reserve(&b, total)) {
		log_err("crl: cannot allocate %zu bytes", total);
		goto out;
	}
	b.len = HEAD_ROOM;
	sb_hdr(&b, 0x30, tbs_len);
	sb_put(&b, "\x02\x01\x01", 3);
	sb_put(&b, alg, alglen);
	sb_put(&b, name_der, name_len);
	sb_put(&b, t1, t1_len);
	sb_put(&b, t2, t2_len);
	if (n > 0) {
		sb_hdr(&b, 0x30, rev_len);
		for (size_t i = 0; i < n; i++) {
			(void)entry_size(&e[i], p->is_delta, i, &s);
			entry_write(&b, &e[i], &s);
		}
	}
	sb_hdr(&b, 0xa0, der_hdr_len(ext.len) + ext.len);
	sb_wrap(&b, 0x30, &ext);
	if (b.err || b.len != tbs_off + tbs_len) {
		log_err("crl: internal error: TBS is %zu octets, expected %zu",
		    b.len - tbs_off, tbs_len);
		rc = CRL_ENOMEM;
		goto out;
	}
	rc = CRL_ECRYPTO;
	if (!sign_append(key, md, alg, alglen, HEAD_ROOM, b.len - HEAD_ROOM,
	    &b))
		goto out;

	/* Outer SEQUENCE header into the head room, then slide down. */
	total = b.len - HEAD_ROOM;
	hl = der_hdr_len(total);
	{
		struct sb h = { 0 };

		sb_hdr(&h, 0x30, total);
		if (h.err) {
			rc = CRL_ENOMEM;
			sb_free(&h);
			goto out;
		}
		memcpy(b.p + HEAD_ROOM - hl, h.p, hl);
		sb_free(&h);
	}
	memmove(b.p, b.p + HEAD_ROOM - hl, total + hl);
	*der = b.p;
	*len = total + hl;
	b.p = NULL;		/* ownership moved to the caller */
	rc = CRL_OK;
out:
	sb_free(&b);
	sb_free(&ext);
	return rc;
}
