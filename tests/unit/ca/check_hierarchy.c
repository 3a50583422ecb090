/*
 * check_hierarchy.c - ca/hierarchy.c: the files `fleetca init` leaves, the
 * chains they form, and the extensions each certificate carries.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"
#include "db/db.h"
#include "ca/ca.h"
#include "ca_testutil.h"

static char dir[64];
static struct db *db;

static void
setup(void)
{
	char path[128], err[256];

	tu_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/fleetca.db", dir);
	db = db_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "db_open: %s", err);
}

static void
teardown(void)
{
	db_close(db);
	tu_rmtree(dir);
}

static int
init(enum ca_key_type t, const char *name, const char *host, char *err,
    size_t errlen)
{
	struct ca_init_params p = { dir, name, t, host };

	return ca_hierarchy_create(&p, db, err, errlen);
}

static int
init_ok(enum ca_key_type t, const char *host)
{
	char err[256];
	int rc = init(t, "Acme", host, err, sizeof(err));

	ck_assert_msg(rc == 0, "init: %s", err);
	return rc;
}

/* All certificates of certs/<name>.pem; caller frees. */
static STACK_OF(X509) *
load_pem(const char *name)
{
	char path[128];
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b;
	X509 *x;

	snprintf(path, sizeof(path), "%s/certs/%s.pem", dir, name);
	b = BIO_new_file(path, "r");
	ck_assert_msg(b != NULL, "%s missing", path);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(b);
	ck_assert_int_gt(sk_X509_num(sk), 0);
	return sk;
}

static X509 *
load1(const char *name)
{
	STACK_OF(X509) *sk = load_pem(name);
	X509 *x = sk_X509_shift(sk);

	sk_X509_pop_free(sk, X509_free);
	return x;
}

static int
mode_of(const char *sub)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
	return st.st_mode & 0777;
}

/* X509_verify_cert of leaf with root trusted and issuing untrusted. */
static int
verify(X509 *root, X509 *issuing, X509 *leaf, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int r;

	X509_STORE_add_cert(st, root);
	if (issuing != NULL)
		sk_X509_push(untrusted, issuing);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
	if (purpose != 0)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	r = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	return r;
}

static int
critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	ck_assert_msg(i >= 0, "extension %s missing", OBJ_nid2sn(nid));
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void
check_aki(X509 *x, X509 *issuer)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);

	ck_assert_ptr_nonnull(aki);
	ck_assert_ptr_nonnull(ski);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(aki, ski), 0);
}

static void
check_key(const char *name, X509 *x)
{
	char path[128], err[256];
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/secrets/%s.key", dir, name);
	ck_assert_int_eq(mode_of(path + strlen(dir) + 1), 0600);
	k = ca_key_read(path, err, sizeof(err));
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_int_eq(X509_check_private_key(x, k), 1);
	EVP_PKEY_free(k);
}

static void
cn_is(X509 *x, const char *want)
{
	char cn[128];

	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, want);
}

START_TEST(test_create_all_types)
{
	enum ca_key_type t = (enum ca_key_type)_i;
	X509 *root, *iss, *ocsp, *tls, *admin;
	STACK_OF(X509) *chain;
	struct db_ca *cas;
	size_t n;
	unsigned char *der = NULL;
	int len;

	init_ok(t, "ca.example.net");
	ck_assert_int_eq(mode_of("certs"), 0755);
	ck_assert_int_eq(mode_of("secrets"), 0700);

	root = load1("root_ca");
	iss = load1("issuing_ca");
	ocsp = load1("ocsp_signer");
	tls = load1("tls_server");
	admin = load1("admin");
	check_key("root_ca", root);
	check_key("issuing_ca", iss);
	check_key("ocsp_signer", ocsp);
	check_key("tls_server", tls);
	check_key("admin", admin);
	cn_is(root, "Acme Root CA");
	cn_is(iss, "Acme Issuing CA 1");
	cn_is(admin, "fleetca-admin");

	/* Chains. */
	ck_assert_int_eq(verify(root, NULL, root, 0), 1);
	ck_assert_int_eq(verify(root, NULL, iss, 0), 1);
	ck_assert_int_eq(verify(root, iss, ocsp, X509_PURPOSE_OCSP_HELPER),
	    1);
	ck_assert_int_eq(verify(root, iss, tls, X509_PURPOSE_SSL_SERVER), 1);
	ck_assert_int_eq(verify(root, iss, admin, X509_PURPOSE_SSL_CLIENT), 1);
	/* The issuing CA alone is not a trust anchor for the root. */
	ck_assert_int_ne(verify(iss, NULL, root, 0), 1);

	/* Root: CA, no path length, keyCertSign + cRLSign, SKI. */
	ck_assert_int_eq(critical(root, NID_basic_constraints), 1);
	ck_assert_int_eq(X509_check_ca(root), 1);
	ck_assert_int_eq(X509_get_pathlen(root), -1);
	ck_assert_int_eq(critical(root, NID_key_usage), 1);
	ck_assert_uint_eq(X509_get_key_usage(root),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(root));
	ck_assert_int_eq(X509_check_issued(root, root), X509_V_OK);

	/* Issuing: CA pathlen 0, + digitalSignature, AKI = root SKI. */
	ck_assert_int_eq(critical(iss, NID_basic_constraints), 1);
	ck_assert_int_eq(X509_check_ca(iss), 1);
	ck_assert_int_eq(X509_get_pathlen(iss), 0);
	ck_assert_uint_eq(X509_get_key_usage(iss),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(iss));
	check_aki(iss, root);
	ck_assert_int_le(ASN1_TIME_compare(X509_get0_notAfter(iss),
	    X509_get0_notAfter(root)), 0);

	/* OCSP signer. */
	ck_assert_int_eq(X509_check_ca(ocsp), 0);
	ck_assert_uint_eq(X509_get_extended_key_usage(ocsp), XKU_OCSP_SIGN);
	ck_assert_uint_eq(X509_get_key_usage(ocsp), KU_DIGITAL_SIGNATURE);
	ck_assert_int_eq(critical(ocsp, NID_id_pkix_OCSP_noCheck), 0);
	check_aki(ocsp, iss);

	/* TLS server: SAN, serverAuth, chain in the file. */
	ck_assert_uint_eq(X509_get_extended_key_usage(tls), XKU_SSL_SERVER);
	ck_assert_int_eq(X509_check_host(tls, "ca.example.net", 0, 0, NULL),
	    1);
	ck_assert_int_eq(X509_check_host(tls, "localhost", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_ip_asc(tls, "127.0.0.1", 0), 1);
	ck_assert_int_eq(X509_check_host(tls, "evil.example", 0, 0, NULL), 0);
	check_aki(tls, iss);
	chain = load_pem("tls_server");
	ck_assert_int_eq(sk_X509_num(chain), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 1), iss), 0);
	sk_X509_pop_free(chain, X509_free);

	/* Admin: clientAuth, chain in the file. */
	ck_assert_uint_eq(X509_get_extended_key_usage(admin), XKU_SSL_CLIENT);
	chain = load_pem("admin");
	ck_assert_int_eq(sk_X509_num(chain), 2);
	sk_X509_pop_free(chain, X509_free);

	/* Serials: positive, 16 octets. */
	ck_assert_int_eq(ASN1_INTEGER_get_int64(&(int64_t){0},
	    X509_get0_serialNumber(iss)), 0);	/* too big for int64 */
	ck_assert_int_eq(X509_get0_serialNumber(iss)->type, V_ASN1_INTEGER);
	ck_assert_int_eq(X509_get0_serialNumber(iss)->length, 16);

	/* Database rows. */
	ck_assert_int_eq(db_ca_list(db, &cas, &n), DB_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cas[0].name, "root-1");
	ck_assert_str_eq(cas[0].role, "root");
	ck_assert_str_eq(cas[0].key_path, "secrets/root_ca.key");
	ck_assert_str_eq(cas[1].name, "issuing-1");
	ck_assert_str_eq(cas[1].role, "issuing");
	ck_assert_str_eq(cas[1].key_path, "secrets/issuing_ca.key");
	ck_assert_int_eq(cas[1].active, 1);
	len = i2d_X509(iss, &der);
	ck_assert_uint_eq(cas[1].der_len, (size_t)len);
	ck_assert_int_eq(memcmp(cas[1].der, der, (size_t)len), 0);
	OPENSSL_free(der);
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&cas[i]);
	free(cas);

	X509_free(root);
	X509_free(iss);
	X509_free(ocsp);
	X509_free(tls);
	X509_free(admin);
}
END_TEST

START_TEST(test_ip_host)
{
	X509 *tls;

	init_ok(CA_KEY_P256, "192.0.2.7");
	tls = load1("tls_server");
	ck_assert_int_eq(X509_check_ip_asc(tls, "192.0.2.7", 0), 1);
	ck_assert_int_eq(X509_check_ip_asc(tls, "127.0.0.1", 0), 1);
	ck_assert_int_eq(X509_check_host(tls, "localhost", 0, 0, NULL), 1);
	/* An IP literal is not also a DNS name. */
	ck_assert_int_eq(X509_check_host(tls, "192.0.2.7", 0, 0, NULL), 0);
	X509_free(tls);
}
END_TEST

START_TEST(test_defaults)
{
	struct ca_init_params p = { dir, NULL, CA_KEY_P256, NULL };
	char err[256];
	X509 *x;

	ck_assert_msg(ca_hierarchy_create(&p, db, err, sizeof(err)) == 0,
	    "%s", err);
	x = load1("root_ca");
	cn_is(x, "fleetca Root CA");
	X509_free(x);
	x = load1("tls_server");
	ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	X509_free(x);
}
END_TEST

static size_t
ca_rows(void)
{
	struct db_ca *cas;
	size_t n;

	ck_assert_int_eq(db_ca_list(db, &cas, &n), DB_OK);
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&cas[i]);
	free(cas);
	return n;
}

/* A second init refuses and leaves the first one's files alone. */
START_TEST(test_no_overwrite)
{
	char err[256], path[128];
	unsigned char *a, *b;
	size_t alen, blen;

	init_ok(CA_KEY_P256, NULL);
	snprintf(path, sizeof(path), "%s/certs/root_ca.pem", dir);
	ck_assert_int_eq(file_read_all(path, 1 << 20, &a, &alen), 0);
	ck_assert_int_eq(init(CA_KEY_P256, "Acme", NULL, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "exists") != NULL, "%s", err);
	ck_assert_int_eq(file_read_all(path, 1 << 20, &b, &blen), 0);
	ck_assert_uint_eq(alen, blen);
	ck_assert_int_eq(memcmp(a, b, alen), 0);
	free(a);
	free(b);
	ck_assert_uint_eq(ca_rows(), 2);
}
END_TEST

/* A failure after every file is written (the CA row name is taken)
 * removes what this run wrote and rolls the CA rows back. */
START_TEST(test_failure_cleans_up)
{
	static const char *const files[] = {
		"secrets/root_ca.key", "secrets/issuing_ca.key",
		"secrets/admin.key", "certs/root_ca.pem", "certs/admin.pem",
	};
	char err[256], path[128];
	struct stat st;

	ck_assert_int_eq(db_ca_insert(db, "issuing-1", "issuing", 0,
	    (const unsigned char *)"x", 1, "k", NULL), DB_OK);
	ck_assert_int_eq(init(CA_KEY_P256, "Acme", NULL, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "issuing-1") != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		ck_assert_msg(stat(path, &st) == -1, "%s left behind", path);
	}
	ck_assert_uint_eq(ca_rows(), 1);	/* root-1 rolled back */
}
END_TEST

/* Any one file already there stops init before it does anything. */
START_TEST(test_existing_file_refused)
{
	char err[256], path[128];

	ck_assert_int_eq(mkdir(strcat(strcpy(path, dir), "/certs"), 0755), 0);
	snprintf(path, sizeof(path), "%s/certs/admin.pem", dir);
	ck_assert_int_eq(file_write_new(path, "x", 1, 0644), 0);
	ck_assert_int_eq(init(CA_KEY_P256, "Acme", NULL, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "admin.pem already exists") != NULL, "%s",
	    err);
	snprintf(path, sizeof(path), "%s/secrets/root_ca.key", dir);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_uint_eq(ca_rows(), 0);
}
END_TEST

START_TEST(test_bad_params)
{
	static const char *const bad_names[] = {
		"", "This name is much too long for a CN of sixty four",
		"tab\there", " lead", "trail ", "caf\xc3\xa9",
	};
	static const char *const bad_hosts[] = {
		"", "bad host", "a..b", "-x.example", "x_y.example",
		"host/path", "1.2.3.4.5:6",
	};
	struct ca_init_params p = { dir, "Acme", CA_KEY_P256, NULL };
	char err[256];

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(init(CA_KEY_P256, bad_names[i], NULL, err,
		    sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "name"));
	}
	for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(init(CA_KEY_P256, "Acme", bad_hosts[i], err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, "host") != NULL, "%s: %s",
		    bad_hosts[i], err);
	}
	ck_assert_int_eq(init((enum ca_key_type)9, "Acme", NULL, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "key type"));
	p.dir = "/nonexistent/dir";
	ck_assert_int_eq(ca_hierarchy_create(&p, db, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir"));
	ck_assert_int_eq(ca_hierarchy_create(NULL, db, err, sizeof(err)), -1);
	ck_assert_uint_eq(ca_rows(), 0);
}
END_TEST

static Suite *
hierarchy_suite(void)
{
	Suite *s = suite_create("ca_hierarchy");
	TCase *core = tcase_create("Core"), *bad = tcase_create("Bad");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_set_timeout(core, 180);
	tcase_add_loop_test(core, test_create_all_types, 0, 4);
	tcase_add_test(core, test_ip_host);
	tcase_add_test(core, test_defaults);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_set_timeout(bad, 60);
	tcase_add_test(bad, test_no_overwrite);
	tcase_add_test(bad, test_failure_cleans_up);
	tcase_add_test(bad, test_existing_file_refused);
	tcase_add_test(bad, test_bad_params);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hierarchy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
