/*
 * check_keys.c - ca/keys.c: key types, generation, 0600 PKCS#8 files.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "common/fileio.h"
#include "ca/ca.h"
#include "ca_testutil.h"

static char dir[64];

static void
setup(void)
{
	tu_mkdtemp(dir, sizeof(dir));
}

static void
teardown(void)
{
	tu_rmtree(dir);
}

START_TEST(test_type_parse)
{
	static const char *names[] = { "p256", "p384", "rsa3072", "ed25519" };
	enum ca_key_type t;

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ca_key_type_parse(names[i], &t), 0);
		ck_assert_int_eq(t, i);
		ck_assert_str_eq(ca_key_type_name(t), names[i]);
	}
	ck_assert_int_eq(ca_key_type_parse("P256", &t), -1);
	ck_assert_int_eq(ca_key_type_parse("", &t), -1);
	ck_assert_int_eq(ca_key_type_parse("rsa", &t), -1);
	ck_assert_int_eq(ca_key_type_parse("p256 ", &t), -1);
	ck_assert_int_eq(ca_key_type_parse(NULL, &t), -1);
	ck_assert_str_eq(ca_key_type_name((enum ca_key_type)42), "?");
}
END_TEST

/* Generates each type, writes it, checks mode and PEM form, reads it
 * back, and compares. */
START_TEST(test_generate_write_read)
{
	static const struct { int base; int bits; } want[] = {
		[CA_KEY_P256] = { EVP_PKEY_EC, 256 },
		[CA_KEY_P384] = { EVP_PKEY_EC, 384 },
		[CA_KEY_RSA3072] = { EVP_PKEY_RSA, 3072 },
		[CA_KEY_ED25519] = { EVP_PKEY_ED25519, 256 },
	};
	enum ca_key_type t = (enum ca_key_type)_i;
	char path[128], err[256];
	EVP_PKEY *k, *back;
	struct stat st;
	unsigned char *buf;
	size_t len;

	k = ca_key_generate(t);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_get_base_id(k), want[t].base);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), want[t].bits);

	snprintf(path, sizeof(path), "%s/%s.key", dir, ca_key_type_name(t));
	umask(0);	/* the file must be 0600 whatever the umask */
	ck_assert_int_eq(ca_key_write(path, k, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(file_read_all(path, 65536, &buf, &len), 0);
	ck_assert_ptr_nonnull(strstr((char *)buf,
	    "-----BEGIN PRIVATE KEY-----"));
	free(buf);

	back = ca_key_read(path, err, sizeof(err));
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(EVP_PKEY_eq(k, back), 1);
	EVP_PKEY_free(back);

	/* Never overwrites. */
	ck_assert_int_eq(ca_key_write(path, k, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_generate_bad_type)
{
	ck_assert_ptr_null(ca_key_generate((enum ca_key_type)99));
}
END_TEST

START_TEST(test_read_missing)
{
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/nope.key", dir);
	ck_assert_ptr_null(ca_key_read(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(test_read_garbage)
{
	static const char *bodies[] = {
		"",
		"hello\n",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	};
	char path[128], err[256];

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		snprintf(path, sizeof(path), "%s/bad%zu.key", dir, i);
		ck_assert_int_eq(file_write_new(path, bodies[i],
		    strlen(bodies[i]), 0600), 0);
		err[0] = '\0';
		ck_assert_ptr_null(ca_key_read(path, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "not a PEM private key"));
	}
}
END_TEST

/* An encrypted key must fail at once, not prompt for a passphrase. */
START_TEST(test_read_encrypted)
{
	char path[128], err[256];
	EVP_PKEY *k = ca_key_generate(CA_KEY_P256);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(PEM_write_bio_PrivateKey(b, k, EVP_aes_128_cbc(),
	    (unsigned char *)"secret", 6, NULL, NULL), 1);
	len = BIO_get_mem_data(b, &data);
	snprintf(path, sizeof(path), "%s/enc.key", dir);
	ck_assert_int_eq(file_write_new(path, data, (size_t)len, 0600), 0);
	/* No terminal to prompt on: stdin closed. */
	close(0);
	ck_assert_ptr_null(ca_key_read(path, err, sizeof(err)));
	BIO_free(b);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_read_too_large)
{
	char path[128], err[256];
	size_t n = 70 * 1024;
	char *big = malloc(n);

	memset(big, 'A', n);
	snprintf(path, sizeof(path), "%s/big.key", dir);
	ck_assert_int_eq(file_write_new(path, big, n, 0600), 0);
	free(big);
	ck_assert_ptr_null(ca_key_read(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "too large"));
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s = suite_create("ca_keys");
	TCase *core = tcase_create("Core"), *bad = tcase_create("Bad");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_set_timeout(core, 60);
	tcase_add_test(core, test_type_parse);
	tcase_add_loop_test(core, test_generate_write_read, 0, 4);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, test_generate_bad_type);
	tcase_add_test(bad, test_read_missing);
	tcase_add_test(bad, test_read_garbage);
	tcase_add_test(bad, test_read_encrypted);
	tcase_add_test(bad, test_read_too_large);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(keys_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
