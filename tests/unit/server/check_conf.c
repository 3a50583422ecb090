/* check_conf.c - fleetca.json loading: defaults, round trip, errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "server/conf.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fleetca-conf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, CONFIG_FILE);
	unlink(p);
	rmdir(dir);
}

static void
write_conf(const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, CONFIG_FILE);
	unlink(p);
	ck_assert_int_eq(file_write_new(p, text, strlen(text), 0644), 0);
}

START_TEST(roundtrip)
{
	struct fc_config c, d;
	char err[256];
	config_defaults(&c, dir);
	c.http_port = 1234;
	c.crl_delta = 1;
	ck_assert_int_eq(config_write(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load(&d, dir, err, sizeof(err)), 0);
	ck_assert_int_eq(d.http_port, 1234);
	ck_assert_int_eq(d.crl_delta, 1);
	ck_assert_uint_eq(d.manifest_max, c.manifest_max);
}
END_TEST

START_TEST(bad_json_position)
{
	struct fc_config c;
	char err[256];
	write_conf("{\n  \"http_port\": 80,\n  \"hostname\" \"x\"\n}\n");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, CONFIG_FILE ":3:"));
}
END_TEST

START_TEST(unknown_key_and_range)
{
	struct fc_config c;
	char err[256];
	write_conf("{\"htp_port\": 80}");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "htp_port: unknown key"));
	write_conf("{\"http_port\": 70000}");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "http_port"));
	write_conf("{\"ocsp\": {\"validity_seconds\": \"x\"}}");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "ocsp.validity_seconds"));
	write_conf("{\"http_port\": 1, \"http_port\": 2}");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	write_conf("[]");
	ck_assert_int_eq(config_load(&c, dir, err, sizeof(err)), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *t = tcase_create("Core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, roundtrip);
	tcase_add_test(t, bad_json_position);
	tcase_add_test(t, unknown_key_and_range);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
