/*
 * check_crl.c - unit tests for ca/crl.c.
 *
 * Every test makes its own throwaway CA in-process (no files, no
 * network) and checks the DER that crl_build writes with OpenSSL's own
 * parser and verifier: d2i_X509_CRL, X509_CRL_verify, X509_verify_cert.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "ca/revoke_reason.h"

#define IDP_URL		"http://pki.example.test/crl/issuing-1.crl"
#define DELTA_URL	"http://pki.example.test/crl/issuing-1-delta.crl"
#define T0		1700000000LL	/* 2023-11-14T22:13:20Z */

/* ---- throwaway PKI ------------------------------------------------- */

static EVP_PKEY *
gen_key(const char *kind)
{
	EVP_PKEY *k = NULL;

	if (strcmp(kind, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "p521") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else if (strcmp(kind, "rsa") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(k);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* issuer/ikey NULL: self-signed.  Caller frees with X509_free. */
static X509 *
make_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *ikey, int is_ca, const char *cdp)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	const EVP_MD *md;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notBefore(x), -1,
	    0, NULL));
	ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notAfter(x), 3650,
	    0, NULL));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (is_ca) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
	}
	if (cdp != NULL) {
		char v[256];

		snprintf(v, sizeof(v), "URI:%s", cdp);
		add_ext(x, issuer, NID_crl_distribution_points, v);
	}
	if (ikey == NULL)
		ikey = key;
	md = EVP_PKEY_is_a(ikey, "ED25519") ? NULL : EVP_sha256();
	ck_assert_int_gt(X509_sign(x, ikey, md), 0);
	return x;
}

struct pki {
	EVP_PKEY *root_key, *ca_key;
	X509 *root, *ca;
};

static void
pki_make(struct pki *p, const char *kind)
{
	p->root_key = gen_key("p256");
	p->root = make_cert("Test Root", 1, p->root_key, NULL, NULL, 1, NULL);
	p->ca_key = gen_key(kind);
	p->ca = make_cert("Test Issuing", 2, p->ca_key, p->root, p->root_key,
	    1, NULL);
}

static void
pki_free(struct pki *p)
{
	X509_free(p->root);
	X509_free(p->ca);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->ca_key);
}

static void
params_default(struct crl_params *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->number = 7;
	cp->this_update = T0;
	cp->next_update = T0 + 86400;
	cp->idp_url = IDP_URL;
}

static void
entry_set(struct crl_entry *e, uint64_t serial, int64_t at, int reason,
    int64_t inval)
{
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 8; i++)
		e->serial[i] = (unsigned char)(serial >> (56 - 8 * i));
	e->serial_len = 8;
	e->revoked_at = at;
	e->reason = reason;
	e->invalidity_date = inval;
}

/* Builds, parses and verifies; returns the parsed CRL (caller frees). */
static X509_CRL *
build_ok(struct pki *p, const struct crl_params *cp,
    const struct crl_entry *e, size_t n)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len = 0;
	X509_CRL *crl;

	ck_assert_int_eq(crl_build(p->ca, p->ca_key, cp, e, n, &der, &len),
	    CRL_OK);
	ck_assert_ptr_nonnull(der);
	q = der;
	crl = d2i_X509_CRL(NULL, &q, (long)len);
	ck_assert_ptr_nonnull(crl);
	ck_assert_ptr_eq(q, der + len);		/* no trailing bytes */
	ck_assert_int_eq(X509_CRL_verify(crl, p->ca_key), 1);
	/* Re-encoding gives the same bytes: our DER is canonical. */
	{
		unsigned char *re = NULL;
		int rl = i2d_X509_CRL(crl, &re);

		ck_assert_int_eq(rl, (int)len);
		ck_assert_int_eq(memcmp(re, der, len), 0);
		OPENSSL_free(re);
	}
	free(der);
	return crl;
}

static int64_t
asn1_int64(const ASN1_INTEGER *ai)
{
	int64_t v = -1;

	ck_assert_int_eq(ASN1_INTEGER_get_int64(&v, ai), 1);
	return v;
}

static X509_REVOKED *
find_revoked(X509_CRL *crl, uint64_t serial)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	X509_REVOKED *r = NULL;

	ck_assert_int_eq(ASN1_INTEGER_set_uint64(ai, serial), 1);
	/* 2 means found with reason removeFromCRL. */
	if (X509_CRL_get0_by_serial(crl, &r, ai) == 0)
		r = NULL;
	ASN1_INTEGER_free(ai);
	return r;
}

static int
revoked_reason(X509_REVOKED *r)
{
	ASN1_ENUMERATED *en;
	int crit = 0;
	long v;

	en = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	if (en == NULL)
		return -1;
	v = ASN1_ENUMERATED_get(en);
	ASN1_ENUMERATED_free(en);
	ck_assert_int_eq(crit, 0);
	return (int)v;
}

/* ---- Core ---------------------------------------------------------- */

START_TEST(test_full_crl_fields)
{
	struct pki p;
	struct crl_params cp;
	struct crl_entry e[4];
	X509_CRL *crl;
	ASN1_INTEGER *num;
	AUTHORITY_KEYID *aki;
	ISSUING_DIST_POINT *idp;
	X509_REVOKED *r;
	GENERAL_NAME *gn;
	int crit;

	pki_make(&p, "p256");
	params_default(&cp);
	entry_set(&e[0], 0x1122334455667788ULL, T0 - 100,
	    REVOKE_REASON_KEY_COMPROMISE, T0 - 5000);
	entry_set(&e[1], 0x8000000000000001ULL, T0 - 50, -1, 0);
	entry_set(&e[2], 0x42ULL, T0 - 10, REVOKE_REASON_UNSPECIFIED, 0);
	entry_set(&e[3], 0x77ULL, T0 - 1, REVOKE_REASON_CERTIFICATE_HOLD, 0);
	crl = build_ok(&p, &cp, e, 4);

	ck_assert_int_eq(X509_CRL_get_version(crl), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(p.ca)), 0);
	ck_assert_int_eq(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl),
	    (time_t)T0), 0);
	ck_assert_int_eq(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl),
	    (time_t)(T0 + 86400)), 0);

	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	ck_assert_ptr_nonnull(num);
	ck_assert_int_eq(crit, 0);
	ck_assert_int_eq(asn1_int64(num), 7);
	ASN1_INTEGER_free(num);

	aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit,
	    NULL);
	ck_assert_ptr_nonnull(aki);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(aki->keyid,
	    X509_get0_subject_key_id(p.ca)), 0);
	AUTHORITY_KEYID_free(aki);

	idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit,
	    NULL);
	ck_assert_ptr_nonnull(idp);
	ck_assert_int_eq(crit, 1);
	ck_assert_int_eq(idp->distpoint->type, 0);
	gn = sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0);
	ck_assert_int_eq(gn->type, GEN_URI);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), IDP_URL);
	ISSUING_DIST_POINT_free(idp);
	ck_assert_ptr_null(X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit,
	    NULL));
	ck_assert_ptr_null(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit,
	    NULL));

	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 4);
	r = find_revoked(crl, 0x1122334455667788ULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(revoked_reason(r), REVOKE_REASON_KEY_COMPROMISE);
	ck_assert_int_eq(ASN1_TIME_cmp_time_t(
	    X509_REVOKED_get0_revocationDate(r), (time_t)(T0 - 100)), 0);
	{
		ASN1_GENERALIZEDTIME *gt = X509_REVOKED_get_ext_d2i(r,
		    NID_invalidity_date, &crit, NULL);

		ck_assert_ptr_nonnull(gt);
		ck_assert_int_eq(ASN1_STRING_type(gt), V_ASN1_GENERALIZEDTIME);
		ck_assert_int_eq(ASN1_TIME_cmp_time_t(gt, (time_t)(T0 - 5000)),
		    0);
		ASN1_GENERALIZEDTIME_free(gt);
	}
	/* High bit set: the INTEGER needs a leading zero to stay positive. */
	r = find_revoked(crl, 0x8000000000000001ULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(revoked_reason(r), -1);
	ck_assert_ptr_null(X509_REVOKED_get_ext_d2i(r, NID_invalidity_date,
	    &crit, NULL));
	/* unspecified is written as no reasonCode (RFC 5280 5.3.1). */
	r = find_revoked(crl, 0x42ULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(revoked_reason(r), -1);
	r = find_revoked(crl, 0x77ULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(revoked_reason(r), REVOKE_REASON_CERTIFICATE_HOLD);
	ck_assert_ptr_null(find_revoked(crl, 0x78ULL));

	X509_CRL_free(crl);
	pki_free(&p);
}
END_TEST

START_TEST(test_empty_crl)
{
	struct pki p;
	struct crl_params cp;
	X509_CRL *crl;

	pki_make(&p, "p256");
	params_default(&cp);
	cp.idp_url = NULL;
	crl = build_ok(&p, &cp, NULL, 0);
	/* RFC 5280 5.1.2.6: absent, not an empty SEQUENCE. */
	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0,
	    1);
	{
		int crit;

		ck_assert_ptr_null(X509_CRL_get_ext_d2i(crl,
		    NID_issuing_distribution_point, &crit, NULL));
	}
	X509_CRL_free(crl);
	pki_free(&p);
}
END_TEST

START_TEST(test_delta_and_freshest)
{
	struct pki p;
	struct crl_params cp;
	struct crl_entry e[2];
	X509_CRL *crl;
	ASN1_INTEGER *base;
	CRL_DIST_POINTS *fresh;
	DIST_POINT *dp;
	GENERAL_NAME *gn;
	int crit;

	pki_make(&p, "p256");
	/* Full CRL with a Freshest CRL pointer to the delta. */
	params_default(&cp);
	cp.freshest_url = DELTA_URL;
	crl = build_ok(&p, &cp, NULL, 0);
	fresh = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, NULL);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_int_eq(crit, 0);
	dp = sk_DIST_POINT_value(fresh, 0);
	gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), DELTA_URL);
	CRL_DIST_POINTS_free(fresh);
	X509_CRL_free(crl);

	/* Delta: critical indicator with the base number, removeFromCRL. */
	params_default(&cp);
	cp.number = 9;
	cp.is_delta = 1;
	cp.base_number = 7;
	entry_set(&e[0], 0x1234, T0 - 5, REVOKE_REASON_REMOVE_FROM_CRL, 0);
	entry_set(&e[1], 0x1235, T0 - 5, REVOKE_REASON_SUPERSEDED, 0);
	crl = build_ok(&p, &cp, e, 2);
	base = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(crit, 1);
	ck_assert_int_eq(asn1_int64(base), 7);
	ASN1_INTEGER_free(base);
	ck_assert_int_eq(revoked_reason(find_revoked(crl, 0x1234)),
	    REVOKE_REASON_REMOVE_FROM_CRL);
	X509_CRL_free(crl);
	pki_free(&p);
}
END_TEST

static const char *const key_kinds[] = { "p256", "p384", "rsa", "ed25519" };

START_TEST(test_key_types)
{
	struct pki p;
	struct crl_params cp;
	struct crl_entry e;
	X509_CRL *crl;

	pki_make(&p, key_kinds[_i]);
	params_default(&cp);
	entry_set(&e, 99, T0 - 1, REVOKE_REASON_SUPERSEDED, 0);
	crl = build_ok(&p, &cp, &e, 1);
	X509_CRL_free(crl);
	pki_free(&p);
}
END_TEST

/* Time boundaries (RFC 5280 5.1.2.4): UTCTime through 2049, then
 * GeneralizedTime; and our own calendar against OpenSSL's. */
START_TEST(test_time_encoding)
{
	static const int64_t fixed[] = {
		-631152000LL,		/* 1950-01-01T00:00:00Z */
		0, 951782400LL,		/* 2000-02-29 */
		951868799LL,		/* 2000-03-01T23:59:59 */
		2524607999LL,		/* 2049-12-31T23:59:59Z: UTCTime */
		2524608000LL,		/* 2050-01-01: GeneralizedTime */
		4107542400LL,		/* 2100-03-01 (2100 not leap) */
		253402300799LL		/* 9999-12-31T23:59:59Z */
	};
	enum { NRAND = 200 };
	struct crl_entry e[sizeof(fixed) / sizeof(fixed[0]) + NRAND];
	size_t n = 0;
	struct pki p;
	struct crl_params cp;
	X509_CRL *crl;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++, n++)
		entry_set(&e[n], n + 1, fixed[i], -1, fixed[i]);
	for (int i = 0; i < NRAND; i++, n++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		entry_set(&e[n], n + 1, -631152000LL +
		    (int64_t)(x % 254033452800ULL), -1, 0);
	}
	pki_make(&p, "p256");
	params_default(&cp);
	crl = build_ok(&p, &cp, e, n);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = find_revoked(crl, i + 1);
		const ASN1_TIME *t;

		ck_assert_ptr_nonnull(r);
		t = X509_REVOKED_get0_revocationDate(r);
		ck_assert_int_eq(ASN1_STRING_type(t), e[i].revoked_at <
		    2524608000LL ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);
		ck_assert_msg(ASN1_TIME_cmp_time_t(t, (time_t)e[i].revoked_at)
		    == 0, "time %lld", (long long)e[i].revoked_at);
	}
	X509_CRL_free(crl);
	pki_free(&p);
}
END_TEST

/* OpenSSL's chain verifier with CRL checking: the revoked leaf is
 * refused, the other accepted; IDP matches the leaf's CDP. */
START_TEST(test_verify_chain)
{
	struct pki p;
	struct crl_params cp;
	struct crl_entry e;
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len;
	X509_CRL *crl, *root_crl;
	EVP_PKEY *lk = gen_key("p256");
	X509 *good, *bad;
	X509_STORE *st;

	pki_make(&p, "p256");
	good = make_cert("good leaf", 1001, lk, p.ca, p.ca_key, 0, IDP_URL);
	bad = make_cert("bad leaf", 1002, lk, p.ca, p.ca_key, 0, IDP_URL);
	params_default(&cp);
	cp.this_update = time(NULL) - 60;
	cp.next_update = cp.this_update + 3600;
	entry_set(&e, 1002, cp.this_update - 10, REVOKE_REASON_KEY_COMPROMISE,
	    0);
	ck_assert_int_eq(crl_build(p.ca, p.ca_key, &cp, &e, 1, &der, &len),
	    CRL_OK);
	q = der;
	crl = d2i_X509_CRL(NULL, &q, (long)len);
	free(der);
	ck_assert_ptr_nonnull(crl);
	/* The root's CRL for the issuing CA itself (no IDP, empty). */
	{
		struct pki rp = { p.root_key, NULL, p.root, NULL };
		struct crl_params rcp = cp;

		rcp.idp_url = NULL;
		ck_assert_int_eq(crl_build(rp.root, rp.root_key, &rcp, NULL, 0,
		    &der, &len), CRL_OK);
		q = der;
		root_crl = d2i_X509_CRL(NULL, &q, (long)len);
		free(der);
		ck_assert_ptr_nonnull(root_crl);
	}
	st = X509_STORE_new();
	ck_assert_int_eq(X509_STORE_add_cert(st, p.root), 1);
	ck_assert_int_eq(X509_STORE_add_crl(st, crl), 1);
	ck_assert_int_eq(X509_STORE_add_crl(st, root_crl), 1);
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
	    X509_V_FLAG_CRL_CHECK_ALL);
	for (int i = 0; i < 2; i++) {
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		STACK_OF(X509) *chain = sk_X509_new_null();
		int rc;

		ck_assert_int_eq(sk_X509_push(chain, p.ca), 1);
		ck_assert_int_eq(X509_STORE_CTX_init(ctx, st, i ? bad : good,
		    chain), 1);
		rc = X509_verify_cert(ctx);
		if (i == 0)
			ck_assert_msg(rc == 1, "good leaf: %s",
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx)));
		else {
			ck_assert_int_ne(rc, 1);
			ck_assert_int_eq(X509_STORE_CTX_get_error(ctx),
			    X509_V_ERR_CERT_REVOKED);
		}
		X509_STORE_CTX_free(ctx);
		sk_X509_free(chain);
	}
	X509_STORE_free(st);
	X509_CRL_free(crl);
	X509_CRL_free(root_crl);
	X509_free(good);
	X509_free(bad);
	EVP_PKEY_free(lk);
	pki_free(&p);
}
END_TEST

START_TEST(test_many_entries)
{
	enum { N = 20000 };
	struct crl_entry *e = calloc(N, sizeof(*e));
	struct pki p;
	struct crl_params cp;
	X509_CRL *crl;

	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < N; i++) {
		entry_set(&e[i], 0x0100000000000000ULL + i * 7919, T0 - (int)i,
		    (int)(i % 7), i % 3 ? 0 : T0 - 100000);
		/* 16-octet serials too, with leading zero octets stripped. */
		if (i % 2) {
			memset(e[i].serial, 0, 20);
			e[i].serial[19] = (unsigned char)i;
			e[i].serial[4] = 0x80 | (unsigned char)(i >> 8);
			e[i].serial[5] = (unsigned char)(i >> 16);
			e[i].serial_len = 20;
		}
	}
	pki_make(&p, "p256");
	params_default(&cp);
	crl = build_ok(&p, &cp, e, N);
	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), N);
	X509_CRL_free(crl);
	pki_free(&p);
	free(e);
}
END_TEST

/* ---- Limits: every bad input is refused, nothing is returned -------- */

static void
expect_fail(struct pki *p, EVP_PKEY *key, const struct crl_params *cp,
    const struct crl_entry *e, size_t n, int want)
{
	unsigned char *der = (unsigned char *)1;
	size_t len = 99;

	ck_assert_int_eq(crl_build(p->ca, key, cp, e, n, &der, &len), want);
	ck_assert_ptr_null(der);
	ck_assert_uint_eq(len, 0);
}

START_TEST(test_bad_entries)
{
	struct pki p;
	struct crl_params cp;
	struct crl_entry e;

	pki_make(&p, "p256");
	params_default(&cp);
	entry_set(&e, 5, T0, -1, 0);
	e.serial_len = 0;
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	e.serial_len = 21;
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	memset(e.serial, 0, sizeof(e.serial));		/* serial zero */
	e.serial_len = 8;
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, T0, 7, 0);			/* unassigned */
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, T0, 11, 0);
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, T0, -2, 0);
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, T0, REVOKE_REASON_REMOVE_FROM_CRL, 0);	/* full */
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, -631152001LL, -1, 0);		/* before 1950 */
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, 253402300800LL, -1, 0);	/* after 9999 */
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	entry_set(&e, 5, T0, -1, INT64_MAX);
	expect_fail(&p, p.ca_key, &cp, &e, 1, CRL_EINVAL);
	expect_fail(&p, p.ca_key, &cp, NULL, 1, CRL_EINVAL);
	pki_free(&p);
}
END_TEST

START_TEST(test_bad_params)
{
	struct pki p;
	struct crl_params cp;
	EVP_PKEY *other = gen_key("p256"), *p521 = gen_key("p521");

	pki_make(&p, "p256");
	params_default(&cp);
	cp.number = -1;
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	params_default(&cp);
	cp.next_update = cp.this_update;
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	params_default(&cp);
	cp.this_update = INT64_MIN;
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	params_default(&cp);
	cp.is_delta = 1;
	cp.base_number = 7;			/* not below number */
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	cp.base_number = -3;
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	cp.base_number = 3;
	cp.freshest_url = DELTA_URL;		/* not in a delta */
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	params_default(&cp);
	cp.idp_url = "";
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	cp.idp_url = "http://x/a b";
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	cp.idp_url = "http://x/\xc3\xa9";
	expect_fail(&p, p.ca_key, &cp, NULL, 0, CRL_EINVAL);
	params_default(&cp);
	expect_fail(&p, other, &cp, NULL, 0, CRL_ECRYPTO);	/* mismatch */
	expect_fail(&p, p521, &cp, NULL, 0, CRL_EINVAL);	/* unsupported */
	expect_fail(&p, NULL, &cp, NULL, 0, CRL_EINVAL);
	expect_fail(&p, p.ca_key, NULL, NULL, 0, CRL_EINVAL);
	EVP_PKEY_free(other);
	EVP_PKEY_free(p521);
	pki_free(&p);
}
END_TEST

START_TEST(test_reason_names)
{
	ck_assert_str_eq(revoke_reason_name(1), "keyCompromise");
	ck_assert_str_eq(revoke_reason_name(5), "cessationOfOperation");
	ck_assert_str_eq(revoke_reason_name(10), "aACompromise");
	ck_assert_ptr_null(revoke_reason_name(7));
	ck_assert_ptr_null(revoke_reason_name(-1));
	ck_assert_ptr_null(revoke_reason_name(11));
	for (int i = 0; i <= 10; i++)
		if (i != 7)
			ck_assert_int_eq(revoke_reason_parse(
			    revoke_reason_name(i)), i);
	ck_assert_int_eq(revoke_reason_parse("KeyCompromise"), -1);
	ck_assert_int_eq(revoke_reason_parse("keyCompromise "), -1);
	ck_assert_int_eq(revoke_reason_parse(""), -1);
	ck_assert_int_eq(revoke_reason_parse(NULL), -1);
	ck_assert_int_eq(revoke_reason_valid(8), 1);
	ck_assert_int_eq(revoke_reason_valid(7), 0);
}
END_TEST

static Suite *
crl_suite(void)
{
	Suite *s = suite_create("crl");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");

	tcase_set_timeout(core, 60);
	tcase_add_test(core, test_full_crl_fields);
	tcase_add_test(core, test_empty_crl);
	tcase_add_test(core, test_delta_and_freshest);
	tcase_add_loop_test(core, test_key_types, 0,
	    sizeof(key_kinds) / sizeof(key_kinds[0]));
	tcase_add_test(core, test_time_encoding);
	tcase_add_test(core, test_verify_chain);
	tcase_add_test(core, test_many_entries);
	tcase_add_test(core, test_reason_names);
	tcase_add_test(lim, test_bad_entries);
	tcase_add_test(lim, test_bad_params);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(crl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
