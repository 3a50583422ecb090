/*
 * check_issue.c - ca/issue.c and ca/serial.c: the signer, every extension
 * of an issued certificate, serials, and each refusal.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"
#include "db/db.h"
#include "ca/ca.h"
#include "ca/csr.h"
#include "ca/profile.h"
#include "common/der.h"
#include "ca/x509util.h"
#include "ca_testutil.h"

#define UID	"0123a1b2c3d4e5f601"
#define OWNER	"acme.example"
#define BASE	"http://ca.example:8080"

static const char profile_json[] =
	"{\"kind\": \"profile\", \"name\": \"ldevid\", \"labels\": [\"dev\"],"
	" \"validity_days\": 365, \"renewal_window_days\": 30,"
	" \"key_types\": [\"p256\", \"p384\", \"ed25519\", \"rsa\"],"
	" \"rsa_min_bits\": 2048,"
	" \"subject\": [{\"type\": \"CN\", \"value\": \"{uid}\"},"
	"   {\"type\": \"serialNumber\", \"value\": \"{uid}\"},"
	"   {\"type\": \"O\", \"value\": \"{owner}\"}],"
	" \"san\": [{\"type\": \"uri\", \"value\": \"urn:dev:ops:{owner}:{uid}\"},"
	"   {\"type\": \"dns\", \"value\": \"{uid}.devices.{owner}\"}],"
	" \"key_usage\": [\"digitalSignature\", \"keyAgreement\"],"
	" \"extended_key_usage\": [\"clientAuth\"],"
	" \"require_new_key\": true}";

static char dir[64];
static struct db *db;
static struct ca_signer *signer;
static struct ca_profile *prof;
static X509 *root;
static time_t fixed_now;

static time_t
test_now(void)
{
	return fixed_now;
}

static struct db *
open_db(void)
{
	char path[128], err[256];
	struct db *d;

	snprintf(path, sizeof(path), "%s/fleetca.db", dir);
	d = db_open(path, err, sizeof(err));
	ck_assert_msg(d != NULL, "db_open: %s", err);
	return d;
}

static struct ca_profile *
parse_profile(const char *text)
{
	char err[256];
	json_t *j = json_loads(text, 0, NULL);
	struct ca_profile *p;

	ck_assert_ptr_nonnull(j);
	p = ca_profile_parse("test", j, err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	json_decref(j);
	return p;
}

static X509 *
read_cert(const char *name)
{
	char path[128];
	BIO *b;
	X509 *x;

	snprintf(path, sizeof(path), "%s/certs/%s.pem", dir, name);
	ck_assert_ptr_nonnull(b = BIO_new_file(path, "r"));
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert_ptr_nonnull(x);
	return x;
}

static void
setup_type(enum ca_key_type t)
{
	struct ca_init_params p = { NULL, "Acme", t, NULL };
	char err[256];

	tu_mkdtemp(dir, sizeof(dir));
	p.dir = dir;
	fixed_now = time(NULL);
	ca_now = test_now;
	db = open_db();
	ck_assert_msg(ca_hierarchy_create(&p, db, err, sizeof(err)) == 0,
	    "%s", err);
	signer = ca_signer_load(dir, db, BASE "/", err, sizeof(err));
	ck_assert_msg(signer != NULL, "%s", err);
	prof = parse_profile(profile_json);
	root = read_cert("root_ca");
}

static void
setup(void)
{
	setup_type(CA_KEY_P256);
}

static void
teardown(void)
{
	X509_free(root);
	ca_profile_free(prof);
	ca_signer_free(signer);
	db_close(db);
	tu_rmtree(dir);
}

static int
count_cb(void *arg, const struct db_cert *c)
{
	(void)c;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
cert_rows(struct db *d)
{
	size_t n = 0;

	ck_assert_int_eq(db_cert_foreach(d, 0, 0, count_cb, &n), DB_OK);
	return n;
}

/* Issues for key under prof in a committed transaction. */
static enum ca_err
issue_key(EVP_PKEY *key, EVP_PKEY *idevid, X509 **out)
{
	X509_REQ *csr = tu_csr(key, "whatever the device says");
	struct ca_issue_req req = { csr, UID, OWNER, 0, idevid, NULL };
	enum ca_err e;

	ck_assert_ptr_nonnull(csr);
	e = ca_issue_commit(signer, db, prof, &req, out, NULL);
	X509_REQ_free(csr);
	return e;
}

static X509 *
issue_ok(EVP_PKEY *key)
{
	X509 *x = NULL;
	enum ca_err e = issue_key(key, NULL, &x);

	ck_assert_msg(e == CA_OK, "issue: %s", ca_err_name(e));
	ck_assert_ptr_nonnull(x);
	return x;
}

static int
verify(X509 *leaf)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int r;

	X509_STORE_add_cert(st, root);
	sk_X509_push(untrusted, ca_signer_cert(signer));
	X509_STORE_CTX_init(ctx, st, leaf, untrusted);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	r = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	return r;
}

static void
name_is(X509 *x, int nid, const char *want)
{
	char buf[256];

	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    nid, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
}

static void
uri_is(const GENERAL_NAME *gn, const char *want)
{
	ck_assert_int_eq(gn->type, GEN_URI);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), want);
}

static int
is_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	ck_assert_msg(i >= 0, "%s missing", OBJ_nid2sn(nid));
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void
check_dp(X509 *x, int nid, const char *url)
{
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, nid, NULL, NULL);
	DIST_POINT *dp;

	ck_assert_ptr_nonnull(dps);
	ck_assert_int_eq(sk_DIST_POINT_num(dps), 1);
	dp = sk_DIST_POINT_value(dps, 0);
	ck_assert_int_eq(dp->distpoint->type, 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
	uri_is(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0), url);
	CRL_DIST_POINTS_free(dps);
}

START_TEST(test_issue_extensions)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "evil");
	struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };
	X509 *x = NULL;
	int64_t id = 0;
	AUTHORITY_INFO_ACCESS *aia;
	GENERAL_NAMES *san;
	ASN1_OCTET_STRING *ski;
	unsigned char md[20];
	const unsigned char *pk;
	int pklen;
	time_t nb, na;

	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(ca_issue(signer, db, prof, &req, &x, &id), CA_OK);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(verify(x), 1);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);

	/* Subject from the template, not from the CSR. */
	name_is(x, NID_commonName, UID);
	name_is(x, NID_serialNumber, UID);
	name_is(x, NID_organizationName, OWNER);
	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 3);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(ca_signer_cert(signer))), 0);

	/* SAN from the templates, not critical (the subject is not
	 * empty). */
	ck_assert_int_eq(is_critical(x, NID_subject_alt_name), 0);
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_int_eq(sk_GENERAL_NAME_num(san), 2);
	uri_is(sk_GENERAL_NAME_value(san, 0), "urn:dev:ops:" OWNER ":" UID);
	ck_assert_int_eq(sk_GENERAL_NAME_value(san, 1)->type, GEN_DNS);
	GENERAL_NAMES_free(san);
	ck_assert_int_eq(X509_check_host(x, UID ".devices." OWNER, 0, 0, NULL),
	    1);

	/* Usage. */
	ck_assert_int_eq(is_critical(x, NID_basic_constraints), 1);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_int_eq(is_critical(x, NID_key_usage), 1);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE |
	    KU_KEY_AGREEMENT);
	ck_assert_int_eq(is_critical(x, NID_ext_key_usage), 0);
	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);

	/* SKI = SHA-1 of the public key bits; AKI = issuer SKI. */
	ski = X509_get_ext_d2i(x, NID_subject_key_identifier, NULL, NULL);
	ck_assert_ptr_nonnull(ski);
	X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
	    X509_get_X509_PUBKEY(x));
	SHA1(pk, (size_t)pklen, md);
	ck_assert_int_eq(ASN1_STRING_length(ski), 20);
	ck_assert_int_eq(memcmp(ASN1_STRING_get0_data(ski), md, 20), 0);
	ASN1_OCTET_STRING_free(ski);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(ca_signer_cert(signer))), 0);

	/* AIA and CDP under the base URL (trailing slash dropped). */
	aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	ck_assert_int_eq(sk_ACCESS_DESCRIPTION_num(aia), 2);
	ck_assert_int_eq(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia,
	    0)->method), NID_ad_OCSP);
	uri_is(sk_ACCESS_DESCRIPTION_value(aia, 0)->location, BASE "/ocsp");
	ck_assert_int_eq(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia,
	    1)->method), NID_ad_ca_issuers);
	uri_is(sk_ACCESS_DESCRIPTION_value(aia, 1)->location,
	    BASE "/ca/issuing-1.crt");
	AUTHORITY_INFO_ACCESS_free(aia);
	check_dp(x, NID_crl_distribution_points, BASE "/crl/issuing-1.crl");
	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_freshest_crl, -1), 0);

	/* Validity: 5 minutes back, validity_days forward. */
	ck_assert_int_eq(ca_x509_time(X509_get0_notBefore(x), &nb), 0);
	ck_assert_int_eq(ca_x509_time(X509_get0_notAfter(x), &na), 0);
	ck_assert_int_eq(nb, fixed_now - 300);
	ck_assert_int_eq(na, fixed_now + 365 * 86400);
	/* BC KU EKU SKI AKI SAN AIA CDP, nothing else. */
	ck_assert_int_eq(X509_get_ext_count(x), 8);

	X509_REQ_free(csr);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

/* The stored row matches what was returned. */
START_TEST(test_db_row)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509 *x = issue_ok(key);
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	struct db_cert row;
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	ck_assert_int_eq(db_cert_get_by_serial(db, sn->data, (size_t)sn->length,
	    &row), DB_OK);
	ck_assert_int_eq(row.ca_id, ca_signer_ca_id(signer));
	ck_assert_str_eq(row.profile, "ldevid");
	ck_assert_ptr_nonnull(strstr(row.subject, "CN=" UID));
	ck_assert_int_eq(row.not_before, fixed_now - 300);
	ck_assert_uint_eq(row.der_len, (size_t)len);
	ck_assert_int_eq(memcmp(row.der, der, (size_t)len), 0);
	ck_assert_int_eq(row.revoked, 0);
	db_cert_clear(&row);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

/* Serials: positive, 16 octets, >= 64 bits, distinct. */
START_TEST(test_serials)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	BIGNUM *seen[40];

	prof->require_new_key = 0;
	for (int i = 0; i < 40; i++) {
		X509 *x = issue_ok(key);
		const ASN1_INTEGER *sn = X509_get0_serialNumber(x);

		ck_assert_int_eq(sn->type, V_ASN1_INTEGER);	/* positive */
		ck_assert_int_eq(sn->length, 16);
		ck_assert_int_ne(sn->data[0], 0);
		ck_assert_int_lt(sn->data[0], 0x80);
		seen[i] = ASN1_INTEGER_to_BN(sn, NULL);
		ck_assert_int_ge(BN_num_bits(seen[i]), 64);
		for (int k = 0; k < i; k++)
			ck_assert_int_ne(BN_cmp(seen[i], seen[k]), 0);
		X509_free(x);
	}
	ck_assert_uint_eq(cert_rows(db), 40);
	for (int i = 0; i < 40; i++)
		BN_free(seen[i]);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_serial_draw)
{
	unsigned char b[CA_SERIAL_LEN];

	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(ca_serial_draw(b), 0);
		ck_assert(b[0] >= 1 && b[0] <= 0x7f);
	}
}
END_TEST

/* Validity stops at the CA's notAfter. */
START_TEST(test_validity_clipped)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	time_t ca_na, na;
	X509 *x;

	ck_assert_int_eq(ca_x509_time(X509_get0_notAfter(
	    ca_signer_cert(signer)), &ca_na), 0);
	fixed_now = ca_na - 10 * 86400;
	x = issue_ok(key);
	ck_assert_int_eq(ca_x509_time(X509_get0_notAfter(x), &na), 0);
	ck_assert_int_eq(na, ca_na);
	X509_free(x);
	/* After the CA expired: refused, nothing stored. */
	fixed_now = ca_na + 1;
	x = (X509 *)1;
	ck_assert_int_eq(issue_key(key, NULL, &x), CA_ERR_INTERNAL);
	ck_assert_ptr_null(x);
	ck_assert_uint_eq(cert_rows(db), 1);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_freshest)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509 *x;

	ck_assert_int_eq(ca_signer_set_freshest(signer, "ftp://x"), -1);
	ck_assert_int_eq(ca_signer_set_freshest(signer,
	    BASE "/crl/issuing-1-delta.crl"), 0);
	x = issue_ok(key);
	check_dp(x, NID_freshest_crl, BASE "/crl/issuing-1-delta.crl");
	ck_assert_int_eq(verify(x), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

/* Every allowed key type is issued; CSR extensions are not copied. */
START_TEST(test_key_types_and_csr_exts)
{
	EVP_PKEY *keys[4] = {
		ca_key_generate(CA_KEY_P384), ca_key_generate(CA_KEY_ED25519),
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
		ca_key_generate(CA_KEY_P256),
	};
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509V3_CTX ctx;
	X509_REQ *csr;
	X509 *x = NULL;

	for (int i = 0; i < 3; i++) {
		x = issue_ok(keys[i]);
		ck_assert_int_eq(verify(x), 1);
		X509_free(x);
	}
	/* A CSR asking for CA:TRUE and its own SAN gets neither. */
	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_basic_constraints, "critical,CA:TRUE"));
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_subject_alt_name, "DNS:evil.example"));
	csr = X509_REQ_new();
	X509_REQ_set_pubkey(csr, keys[3]);
	X509_REQ_add_extensions(csr, exts);
	X509_REQ_sign(csr, keys[3], EVP_sha256());
	{
		struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };

		ck_assert_int_eq(ca_issue_commit(signer, db, prof, &req, &x,
		    NULL), CA_OK);
	}
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_int_eq(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
	X509_free(x);
	X509_REQ_free(csr);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(keys[i]);
}
END_TEST

/* Signed by an Ed25519 or RSA CA, issued certificates verify too. */
START_TEST(test_other_ca_types)
{
	EVP_PKEY *key;
	X509 *x;

	teardown();
	setup_type(_i == 0 ? CA_KEY_ED25519 : _i == 1 ? CA_KEY_P384 :
	    CA_KEY_RSA3072);
	key = ca_key_generate(CA_KEY_P256);
	x = issue_ok(key);
	ck_assert_int_eq(verify(x), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

/* ---- the hand-built DER path against the object path ----------------- */

/* The TBSCertificate TLV of a certificate DER, and the offset of its
 * 16 serial octets inside it. */
static void
tbs_of(const unsigned char *der, size_t len, const unsigned char **tbs,
    size_t *tbslen, size_t *serial_off)
{
	const unsigned char *p = der, *v, *q, *sv;
	size_t vlen, sn;

	ck_assert(der_expect(&p, der + len, 0x30, NULL, NULL, &v, &vlen));
	ck_assert(p == der + len);
	p = v;
	ck_assert(der_expect(&p, v + vlen, 0x30, tbs, tbslen, &q, &vlen));
	ck_assert(der_expect(&q, q + vlen, 0xa0, NULL, NULL, NULL, NULL));
	ck_assert(der_expect(&q, *tbs + *tbslen, 0x02, NULL, NULL, &sv, &sn));
	ck_assert_uint_eq(sn, 16);
	*serial_off = (size_t)(sv - *tbs);
}

/* A prepared certificate for c; the DER path when der_path. */
static struct ca_prepared *
prepare(const struct ca_csr *c, const char *uid, const char *owner,
    int der_path)
{
	struct ca_issue_req req = { NULL, uid, owner, 0, NULL, c };
	struct ca_prepared *p = NULL;
	enum ca_err e;

	ca_issue_der_path = der_path;
	e = ca_issue_prepare(signer, prof, &req, 0, &p);
	ca_issue_der_path = 1;
	ck_assert_msg(e == CA_OK, "prepare: %s", ca_err_name(e));
	return p;
}

static void
write_file(const char *path, const unsigned char *d, size_t n, int pem)
{
	FILE *f = fopen(path, "w");
	const unsigned char *q = d;
	X509 *x;

	ck_assert_ptr_nonnull(f);
	if (pem) {
		ck_assert_ptr_nonnull(x = d2i_X509(NULL, &q, (long)n));
		ck_assert_int_eq(PEM_write_X509(f, x), 1);
		X509_free(x);
	} else {
		ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * For many requests (EC keys on both curves, names with characters that
 * need care, no owner, Freshest CRL on and off) under every CA key type:
 * the DER path's TBSCertificate equals the object path's byte for byte
 * once the (random) serial is set aside, the signature algorithm is the
 * same, the signature verifies, the chain verifies, and the openssl
 * command line reads and verifies the certificate.
 */
START_TEST(test_der_path_equal)
{
	/* Names OpenSSL must escape or type-check go through a profile
	 * without a SAN (a DNS name could not hold them); one without a
	 * subject makes the SAN critical (RFC 5280 4.2.1.6). */
	static const char *const uids[] = { UID, "dev-1", "a,b+c=d",
		" lead", "x\\y\"z", "#hash", "semi;colon<>" };
	static const char *const owners[] = { OWNER, "example.org", NULL };
	static const char nosan[] = "{\"kind\": \"profile\", \"name\": "
	    "\"nosan\", \"validity_days\": 30, \"key_types\": [\"p256\", "
	    "\"p384\"], \"subject\": [{\"type\": \"CN\", \"value\": "
	    "\"{uid}\"}, {\"type\": \"serialNumber\", \"value\": \"42\"},"
	    " {\"type\": \"C\", \"value\": \"DE\"}], \"key_usage\": "
	    "[\"digitalSignature\"]}";
	static const char nosubj[] = "{\"kind\": \"profile\", \"name\": "
	    "\"nosubj\", \"validity_days\": 3650, \"key_types\": "
	    "[\"p256\", \"p384\"], \"san\": [{\"type\": \"dns\", "
	    "\"value\": \"{uid}.example\"}, {\"type\": \"uri\", "
	    "\"value\": \"urn:x:{uid}\"}], \"key_usage\": "
	    "[\"digitalSignature\", \"keyAgreement\"], "
	    "\"extended_key_usage\": [\"clientAuth\", \"serverAuth\"]}";
	struct ca_profile *profs[3];
	const enum ca_key_type cat[] = { CA_KEY_P256, CA_KEY_P384,
		CA_KEY_RSA3072, CA_KEY_ED25519 };
	EVP_PKEY *keys[2];
	char leaf[128], cmd[1024];

	if (_i != 0) {
		teardown();
		setup_type(cat[_i]);
	}
	keys[0] = ca_key_generate(CA_KEY_P256);
	keys[1] = ca_key_generate(CA_KEY_P384);
	profs[0] = prof;
	profs[1] = parse_profile(nosan);
	profs[2] = parse_profile(nosubj);
	for (int n = 0; n < 63; n++) {
		X509_REQ *r = tu_csr(keys[n % 2], "whatever");
		unsigned char *rd = NULL, *t2 = NULL;
		int rl = i2d_X509_REQ(r, &rd);
		const char *uid = uids[n % 7], *owner = owners[n % 3];
		struct ca_csr *c = NULL;
		struct ca_prepared *p1, *p2;
		const unsigned char *d1, *d2, *tb1, *tb2, *q;
		size_t l1, l2, tl1, tl2, so1, so2;
		char hex[40], hex2[40];
		X509 *x1;

		prof = profs[n % 3];
		if (prof != profs[1] && n % 7 > 1)
			uid = n % 2 ? "dev-7" : "X";
		if (n == 31)
			ck_assert_int_eq(ca_signer_set_freshest(signer,
			    BASE "/crl/delta.crl"), 0);
		ck_assert_int_gt(rl, 0);
		ck_assert_int_eq(ca_csr_parse(rd, (size_t)rl, &c), CA_OK);
		ck_assert(ca_csr_is_fast(c));
		if (owner == NULL && prof == profs[0])
			owner = "o.example";
		p1 = prepare(c, uid, owner, 1);
		p2 = prepare(c, uid, owner, 0);
		/* The DER path made no object; the object path did. */
		ck_assert_ptr_null(ca_prepared_cert(p1));
		ck_assert_ptr_nonnull(ca_prepared_cert(p2));
		ck_assert_ptr_nonnull(d1 = ca_prepared_der(p1, &l1));
		ck_assert_ptr_nonnull(d2 = ca_prepared_der(p2, &l2));
		tbs_of(d1, l1, &tb1, &tl1, &so1);
		tbs_of(d2, l2, &tb2, &tl2, &so2);
		ck_assert_uint_eq(tl1, tl2);
		ck_assert_uint_eq(so1, so2);
		ck_assert_ptr_nonnull(t2 = OPENSSL_memdup(tb2, tl2));
		memcpy(t2 + so2, tb1 + so1, 16);
		ck_assert_msg(memcmp(tb1, t2, tl1) == 0, "TBS differs (CA %d, "
		    "request %d)", _i, n);
		/* Outer signatureAlgorithm: the bytes after the TBS. */
		q = tb1 + tl1;
		ck_assert_int_eq(memcmp(q, tb2 + tl2, 2 + q[1]), 0);
		/* The serial as hex, both ways. */
		ca_prepared_serial_hex(p1, hex, sizeof(hex));
		q = d1;
		ck_assert_ptr_nonnull(x1 = d2i_X509(NULL, &q, (long)l1));
		ck_assert(q == d1 + l1);
		{
			const ASN1_INTEGER *sn = X509_get0_serialNumber(x1);

			for (int i = 0; i < sn->length; i++)
				snprintf(hex2 + 2 * i, 3, "%02x", sn->data[i]);
		}
		ck_assert_str_eq(hex, hex2);
		ck_assert_int_eq(X509_verify(x1, X509_get0_pubkey(
		    ca_signer_cert(signer))), 1);
		ck_assert_int_eq(verify(x1), 1);
		ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x1),
		    keys[n % 2]), 1);
		if (n < 4) {
			snprintf(leaf, sizeof(leaf), "%s/leaf.pem", dir);
			write_file(leaf, d1, l1, 1);
			snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout "
			    "-text >/dev/null 2>&1 && openssl verify -CAfile "
			    "%s/certs/root_ca.pem -untrusted "
			    "%s/certs/issuing_ca.pem %s >/dev/null 2>&1",
			    leaf, dir, dir, leaf);
			ck_assert_msg(system(cmd) == 0, "%s", cmd);
		}
		X509_free(x1);
		OPENSSL_free(t2);
		ca_prepared_free(p1);
		ca_prepared_free(p2);
		ca_csr_free(c);
		OPENSSL_free(rd);
		X509_REQ_free(r);
	}
	prof = profs[0];
	ca_profile_free(profs[1]);
	ca_profile_free(profs[2]);
	EVP_PKEY_free(keys[0]);
	EVP_PKEY_free(keys[1]);
}
END_TEST

/* X509_NAME_print_ex(XN_FLAG_RFC2253) of n, truncated to outlen. */
static void
print_2253(X509_NAME *n, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_ge(X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253), 0);
	len = BIO_get_mem_data(b, &data);
	snprintf(out, outlen, "%.*s", (int)len, len > 0 ? data : "");
	BIO_free(b);
}

static void
same_2253(X509_NAME *n, size_t outlen)
{
	char want[1100], got[1100];

	ck_assert_uint_le(outlen, sizeof(got));
	print_2253(n, want, outlen);
	memset(got, 'x', sizeof(got));
	ck_assert_int_eq(ca_x509_name_rfc2253(n, got, outlen), 0);
	ck_assert_str_eq(got, want);
}

/* The BIO-less RFC 2253 line equals OpenSSL's for every printable
 * character at the start, inside and at the end of a value of each
 * string type, several RDNs, truncation and the empty name; it declines
 * what it does not print the same way. */
START_TEST(test_name_rfc2253)
{
	static const int types[] = { V_ASN1_UTF8STRING, V_ASN1_IA5STRING,
		V_ASN1_PRINTABLESTRING };
	X509_NAME *n;
	char v[8], out[64];

	for (int c = 0x20; c <= 0x7e; c++) {
		for (size_t t = 0; t < 3; t++) {
			n = X509_NAME_new();
			snprintf(v, sizeof(v), "%c", c);
			ck_assert_int_eq(X509_NAME_add_entry_by_NID(n,
			    NID_commonName, types[t], (unsigned char *)v, -1,
			    -1, 0), 1);
			snprintf(v, sizeof(v), "%ca%cb%c", c, c, c);
			ck_assert_int_eq(X509_NAME_add_entry_by_NID(n,
			    NID_organizationName, types[t], (unsigned char *)v,
			    -1, -1, 0), 1);
			ck_assert_int_eq(X509_NAME_add_entry_by_NID(n,
			    NID_serialNumber, types[t], (unsigned char *)"1 2",
			    -1, -1, 0), 1);
			same_2253(n, 256);
			same_2253(n, 5);
			same_2253(n, 1);
			X509_NAME_free(n);
		}
	}
	n = X509_NAME_new();
	same_2253(n, 16);				/* empty */
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN",
	    V_ASN1_UTF8STRING, (unsigned char *)"", 0, -1, 0), 1);
	same_2253(n, 16);				/* empty value */
	X509_NAME_free(n);
	/* Declined: non-ASCII, a control character, multi-valued RDN, a
	 * BMPString, an attribute OpenSSL has no name for. */
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (unsigned char *)"caf\xc3\xa9", -1, -1, 0);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	X509_NAME_free(n);
	n = X509_NAME_new();
	X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
	    (unsigned char *)"a\tb", -1, -1, 0);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	X509_NAME_free(n);
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (unsigned char *)"a", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (unsigned char *)"b", -1, -1, -1);	/* same RDN as CN */
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	X509_NAME_free(n);
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_BMPSTRING,
	    (unsigned char *)"\0a", 2, -1, 0);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	X509_NAME_free(n);
	n = X509_NAME_new();
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "1.2.3.4.5.6.7",
	    V_ASN1_UTF8STRING, (unsigned char *)"a", -1, -1, 0), 1);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, 0), -1);
	X509_NAME_free(n);
	/* Long: past the formatter's own buffer, declined. */
	n = X509_NAME_new();
	for (int i = 0; i < 20; i++)
		X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName,
		    V_ASN1_UTF8STRING, (unsigned char *)"0123456789012345678901"
		    "23456789012345678901234567890123456789012345678901234567"
		    "89", -1, -1, 0);
	ck_assert_int_eq(ca_x509_name_rfc2253(n, out, sizeof(out)), -1);
	X509_NAME_free(n);
	ERR_clear_error();
}
END_TEST

/* The DER path through record, take and take_der. */
START_TEST(test_der_path_record)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *r = tu_csr(key, "x");
	unsigned char *rd = NULL, *d;
	int rl = i2d_X509_REQ(r, &rd);
	struct ca_csr *c = NULL;
	struct ca_prepared *p;
	struct db_cert row;
	int64_t id = 0;
	size_t l;
	X509 *x;

	ck_assert_int_eq(ca_csr_parse(rd, (size_t)rl, &c), CA_OK);
	p = prepare(c, UID, OWNER, 1);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(ca_issue_record(p, db, &id), CA_OK);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_gt(id, 0);
	ck_assert_ptr_nonnull(d = ca_prepared_take_der(p, &l));
	ck_assert_ptr_null(ca_prepared_der(p, &l));
	ck_assert_ptr_null(ca_prepared_take_der(p, &l));
	ck_assert_ptr_null(ca_prepared_take(p));
	ck_assert_int_eq(ca_issue_record(p, db, NULL), CA_ERR_INTERNAL);
	{
		const unsigned char *q = d;
		const ASN1_INTEGER *sn;

		ck_assert_ptr_nonnull(x = d2i_X509(NULL, &q, (long)l));
		sn = X509_get0_serialNumber(x);
		ck_assert_int_eq(db_cert_get_by_serial(db, sn->data,
		    (size_t)sn->length, &row), DB_OK);
		ck_assert_uint_eq(row.der_len, l);
		ck_assert_int_eq(memcmp(row.der, d, l), 0);
		ck_assert_ptr_nonnull(strstr(row.subject, "CN=" UID));
		db_cert_clear(&row);
		X509_free(x);
	}
	OPENSSL_free(d);
	ca_prepared_free(p);
	/* take() decodes an object from the DER. */
	p = prepare(c, UID, OWNER, 1);
	ck_assert_ptr_nonnull(x = ca_prepared_take(p));
	ck_assert_int_eq(verify(x), 1);
	ck_assert_ptr_null(ca_prepared_take(p));
	ck_assert_ptr_null(ca_prepared_der(p, &l));
	X509_free(x);
	ca_prepared_free(p);
	ca_prepared_serial_hex(NULL, (char[4]){ 0 }, 4);
	ca_csr_free(c);
	OPENSSL_free(rd);
	X509_REQ_free(r);
	EVP_PKEY_free(key);
}
END_TEST

/* ---- refusals -------------------------------------------------------- */

static void
refused(enum ca_err got, enum ca_err want)
{
	ck_assert_msg(got == want, "got %s, want %s", ca_err_name(got),
	    ca_err_name(want));
	ck_assert_uint_eq(cert_rows(db), 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);	/* no stale queue */
}

START_TEST(test_bad_signature)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "x");
	struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };
	const ASN1_BIT_STRING *sig;
	X509 *x = (X509 *)1;

	X509_REQ_get0_signature(csr, &sig, NULL);
	((ASN1_BIT_STRING *)sig)->data[sig->length - 2] ^= 0x01;
	refused(ca_issue_commit(signer, db, prof, &req, &x, NULL),
	    CA_ERR_BAD_SIGNATURE);
	ck_assert_ptr_null(x);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
}
END_TEST

/* Content changed after signing (here, the public key: a CSR that claims
 * another key than the one that signed it). */
START_TEST(test_swapped_key)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	EVP_PKEY *other = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "x");
	struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };
	X509 *x;

	ck_assert_int_eq(X509_REQ_set_pubkey(csr, other), 1);
	refused(ca_issue_commit(signer, db, prof, &req, &x, NULL),
	    CA_ERR_BAD_SIGNATURE);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}
END_TEST

START_TEST(test_key_not_allowed)
{
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = ca_key_generate(CA_KEY_ED25519);
	X509 *x;

	refused(issue_key(rsa1024, NULL, &x), CA_ERR_KEY_NOT_ALLOWED);
	refused(issue_key(p521, NULL, &x), CA_ERR_KEY_NOT_ALLOWED);
	prof->rsa_min_bits = 3072;
	refused(issue_key(rsa2048, NULL, &x), CA_ERR_KEY_NOT_ALLOWED);
	prof->key_types = CA_PROFILE_KEY_P256;
	refused(issue_key(ed, NULL, &x), CA_ERR_KEY_NOT_ALLOWED);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(test_key_reuse)
{
	EVP_PKEY *idevid = ca_key_generate(CA_KEY_P256);
	EVP_PKEY *pub = NULL, *other = ca_key_generate(CA_KEY_ED25519);
	unsigned char *der = NULL, *p;
	int len;
	X509 *x;

	/* The forbidden key as a public key only, as the RA has it. */
	len = i2d_PUBKEY(idevid, &der);
	p = der;
	pub = d2i_PUBKEY(NULL, (const unsigned char **)&p, len);
	ck_assert_ptr_nonnull(pub);
	refused(issue_key(idevid, pub, &x), CA_ERR_KEY_REUSE);
	/* A key of another type is a different key. */
	x = NULL;
	ck_assert_int_eq(issue_key(other, pub, &x), CA_OK);
	X509_free(x);
	/* A profile that allows reuse issues. */
	prof->require_new_key = 0;
	ck_assert_int_eq(issue_key(idevid, pub, &x), CA_OK);
	X509_free(x);
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(idevid);
	EVP_PKEY_free(other);
}
END_TEST

/* Device values that do not make valid names are refused. */
START_TEST(test_bad_names)
{
	static const struct { const char *uid, *owner; } cases[] = {
		{ NULL, OWNER }, { "", OWNER }, { "ab\ncd", OWNER },
		{ "a_b", OWNER },		/* not a DNS label */
		{ "{owner}", OWNER },		/* no re-expansion */
		{ UID, NULL },			/* profile uses {owner} */
		{ UID, "bad owner" },		/* space in URI and DNS */
		{ "caf\xc3\xa9", OWNER },	/* not ASCII */
		{ "0123456789012345678901234567890123456789"
		  "0123456789012345678901234", OWNER },	/* CN > 64 */
	};
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "x");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ca_issue_req req = { csr, cases[i].uid, cases[i].owner,
		    0, NULL, NULL };
		X509 *x;

		refused(ca_issue_commit(signer, db, prof, &req, &x, NULL),
		    CA_ERR_MALFORMED);
		ERR_clear_error();
	}
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_bad_args)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "x");
	struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };
	struct ca_issue_req nocsr = { NULL, UID, OWNER, 0, NULL, NULL };
	X509 *x;

	refused(ca_issue_commit(signer, db, NULL, &req, &x, NULL),
	    CA_ERR_PROFILE_UNKNOWN);
	refused(ca_issue_commit(signer, db, prof, &nocsr, &x, NULL),
	    CA_ERR_MALFORMED);
	refused(ca_issue_commit(signer, db, prof, NULL, &x, NULL),
	    CA_ERR_INTERNAL);
	refused(ca_issue(NULL, db, prof, &req, &x, NULL), CA_ERR_INTERNAL);
	/* The failed calls left no transaction open. */
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_rollback(db), DB_OK);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_csr_from_der)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_P256);
	X509_REQ *csr = tu_csr(key, "x"), *back = (X509_REQ *)1;
	unsigned char *der = NULL, *big;
	int len = i2d_X509_REQ(csr, &der);

	ck_assert_int_eq(ca_csr_from_der(der, (size_t)len, &back), CA_OK);
	ck_assert_int_eq(X509_REQ_verify(back, X509_REQ_get0_pubkey(back)), 1);
	X509_REQ_free(back);

	ck_assert_int_eq(ca_csr_from_der((const unsigned char *)"hello", 5,
	    &back), CA_ERR_MALFORMED);
	ck_assert_ptr_null(back);
	ck_assert_int_eq(ca_csr_from_der(der, 0, &back), CA_ERR_MALFORMED);
	ck_assert_int_eq(ca_csr_from_der(NULL, 10, &back), CA_ERR_MALFORMED);
	for (int cut = 1; cut < len; cut += 7)
		ck_assert_int_eq(ca_csr_from_der(der, (size_t)(len - cut),
		    &back), CA_ERR_MALFORMED);
	big = malloc((size_t)len + 1);
	memcpy(big, der, (size_t)len);
	big[len] = 0;
	ck_assert_int_eq(ca_csr_from_der(big, (size_t)len + 1, &back),
	    CA_ERR_MALFORMED);	/* trailing byte */
	free(big);
	big = calloc(1, CA_CSR_MAX + 1);
	ck_assert_int_eq(ca_csr_from_der(big, CA_CSR_MAX + 1, &back),
	    CA_ERR_MALFORMED);
	free(big);
	/* A certificate is not a CSR. */
	ck_assert_int_eq(ca_csr_from_der((const unsigned char *)"\x30\x03"
	    "\x02\x01\x01", 5, &back), CA_ERR_MALFORMED);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	OPENSSL_free(der);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_err_names)
{
	ck_assert_str_eq(ca_err_name(CA_OK), "ok");
	ck_assert_str_eq(ca_err_name(CA_ERR_MALFORMED), "malformed_request");
	ck_assert_str_eq(ca_err_name(CA_ERR_BAD_SIGNATURE),
	    "bad_request_signature");
	ck_assert_str_eq(ca_err_name(CA_ERR_KEY_NOT_ALLOWED),
	    "key_not_allowed");
	ck_assert_str_eq(ca_err_name(CA_ERR_KEY_REUSE), "key_reuse");
	ck_assert_str_eq(ca_err_name(CA_ERR_PROFILE_UNKNOWN),
	    "unknown_profile");
	ck_assert_str_eq(ca_err_name(CA_ERR_STORE), "store_error");
	ck_assert_str_eq(ca_err_name(CA_ERR_INTERNAL), "internal_error");
	ck_assert_str_eq(ca_err_name((enum ca_err)77), "internal_error");
}
END_TEST

START_TEST(test_signer_load_bad)
{
	char err[256], path[128], path2[128];
	unsigned char *buf;
	size_t len;

	ck_assert_ptr_null(ca_signer_load(dir, db, "ftp://x", err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "base URL"));
	ck_assert_ptr_null(ca_signer_load(dir, db, "http://a b", err,
	    sizeof(err)));
	ck_assert_ptr_null(ca_signer_load(dir, db, NULL, err, sizeof(err)));
	/* Key file missing, then not matching the certificate. */
	snprintf(path, sizeof(path), "%s/secrets/issuing_ca.key", dir);
	snprintf(path2, sizeof(path2), "%s/secrets/ocsp_signer.key", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_ptr_null(ca_signer_load(dir, db, BASE, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "issuing_ca.key"));
	ck_assert_int_eq(file_read_all(path2, 65536, &buf, &len), 0);
	ck_assert_int_eq(file_write_new(path, buf, len, 0600), 0);
	free(buf);
	ck_assert_ptr_null(ca_signer_load(dir, db, BASE, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
}
END_TEST

START_TEST(test_signer_load_empty_db)
{
	char err[256], sub[128];
	struct db *d;
	char err2[256];

	snprintf(sub, sizeof(sub), "%s/other.db", dir);
	d = db_open(sub, err2, sizeof(err2));
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(ca_signer_load(dir, d, BASE, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no active issuing CA"));
	db_close(d);
}
END_TEST

START_TEST(test_signer_getters)
{
	ck_assert_str_eq(ca_signer_name(signer), "issuing-1");
	ck_assert_int_gt(ca_signer_ca_id(signer), 0);
	ck_assert_ptr_nonnull(ca_signer_cert(signer));
}
END_TEST

/* ---- threads ----------------------------------------------------------- */

#define PER_THREAD 15

static void *
issue_thread(void *arg)
{
	struct db *d = open_db();
	EVP_PKEY *key = arg;
	long ok = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		X509_REQ *csr = tu_csr(key, "t");
		struct ca_issue_req req = { csr, UID, OWNER, 0, NULL, NULL };
		X509 *x = NULL;

		if (ca_issue_commit(signer, d, prof, &req, &x, NULL) == CA_OK &&
		    verify(x) == 1)
			ok++;
		X509_free(x);
		X509_REQ_free(csr);
	}
	db_close(d);
	return (void *)ok;
}

START_TEST(test_threads)
{
	pthread_t t[2];
	EVP_PKEY *keys[2] = {
		ca_key_generate(CA_KEY_P256), ca_key_generate(CA_KEY_ED25519)
	};
	void *ok;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, issue_thread,
		    keys[i]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ok), 0);
		ck_assert_int_eq((long)ok, PER_THREAD);
	}
	ck_assert_uint_eq(cert_rows(db), 2 * PER_THREAD);
	EVP_PKEY_free(keys[0]);
	EVP_PKEY_free(keys[1]);
}
END_TEST

static Suite *
issue_suite(void)
{
	Suite *s = suite_create("ca_issue");
	TCase *core = tcase_create("Core"), *bad = tcase_create("Refusals");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_set_timeout(core, 120);
	tcase_add_test(core, test_issue_extensions);
	tcase_add_test(core, test_db_row);
	tcase_add_test(core, test_serials);
	tcase_add_test(core, test_serial_draw);
	tcase_add_test(core, test_validity_clipped);
	tcase_add_test(core, test_freshest);
	tcase_add_test(core, test_key_types_and_csr_exts);
	tcase_add_loop_test(core, test_other_ca_types, 0, 3);
	tcase_add_test(core, test_signer_getters);
	tcase_add_test(core, test_threads);
	tcase_add_loop_test(core, test_der_path_equal, 0, 4);
	tcase_add_test(core, test_der_path_record);
	tcase_add_test(core, test_name_rfc2253);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_set_timeout(bad, 60);
	tcase_add_test(bad, test_bad_signature);
	tcase_add_test(bad, test_swapped_key);
	tcase_add_test(bad, test_key_not_allowed);
	tcase_add_test(bad, test_key_reuse);
	tcase_add_test(bad, test_bad_names);
	tcase_add_test(bad, test_bad_args);
	tcase_add_test(bad, test_csr_from_der);
	tcase_add_test(bad, test_err_names);
	tcase_add_test(bad, test_signer_load_bad);
	tcase_add_test(bad, test_signer_load_empty_db);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(issue_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
