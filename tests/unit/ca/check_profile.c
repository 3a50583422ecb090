/*
 * check_profile.c - ca/profile.c: loading profile files, refusing bad
 * ones with file:line:col or file + key, and template expansion.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"
#include "ca/profile.h"
#include "ca/x509util.h"
#include "ca_testutil.h"

static char dir[64];
static char err[512];

static const char good[] =
	"{\n"
	"  \"kind\": \"profile\",\n"
	"  \"name\": \"dev\",\n"
	"  \"labels\": [\"est-dev\", \"cmp-dev\"],\n"
	"  \"validity_days\": 90,\n"
	"  \"renewal_window_days\": 10,\n"
	"  \"key_types\": [\"p256\", \"rsa\"],\n"
	"  \"rsa_min_bits\": 3072,\n"
	"  \"subject\": [{\"type\": \"CN\", \"value\": \"{uid}\"},\n"
	"              {\"type\": \"O\", \"value\": \"Owner {owner}\"}],\n"
	"  \"san\": [{\"type\": \"uri\", \"value\": \"urn:x:{uid}\"},\n"
	"          {\"type\": \"dns\", \"value\": \"{uid}.{owner}\"}],\n"
	"  \"key_usage\": [\"digitalSignature\", \"keyEncipherment\"],\n"
	"  \"extended_key_usage\": [\"clientAuth\", \"serverAuth\"],\n"
	"  \"require_new_key\": false,\n"
	"  \"allow_serverkeygen\": true,\n"
	"  \"reenroll_old_cert\": {\"mode\": \"revoke_superseded\",\n"
	"                        \"grace_seconds\": 600}\n"
	"}\n";

static void
setup(void)
{
	tu_mkdtemp(dir, sizeof(dir));
	err[0] = '\0';
}

static void
teardown(void)
{
	tu_rmtree(dir);
}

static void
put(const char *name, const char *text)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(file_write_new(path, text, strlen(text), 0644), 0);
}

/* Writes the good profile with key set to the JSON text val (NULL:
 * removed) as dir/name. */
static void
put_mod(const char *name, const char *key, const char *val)
{
	json_t *j = json_loads(good, 0, NULL);
	char *text;

	ck_assert_ptr_nonnull(j);
	if (val == NULL)
		json_object_del(j, key);
	else
		json_object_set_new(j, key, json_loads(val,
		    JSON_DECODE_ANY, NULL));
	text = json_dumps(j, JSON_INDENT(2));
	put(name, text);
	free(text);
	json_decref(j);
}

/* Loads dir expecting failure; returns the error. */
static const char *
load_fails(void)
{
	struct ca_profiles *ps = ca_profiles_load(dir, err, sizeof(err));

	ck_assert_msg(ps == NULL, "loaded a bad profile");
	return err;
}

static void
err_has(const char *want)
{
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"",
	    err, want);
}

START_TEST(test_good)
{
	struct ca_profiles *ps;
	const struct ca_profile *p;

	put("dev.json", good);
	put("ra.json", "{\"kind\": \"ra_policy\", \"whatever\": 1}");
	put("notes.txt", "not json at all");
	ps = ca_profiles_load(dir, err, sizeof(err));
	ck_assert_msg(ps != NULL, "%s", err);
	ck_assert_uint_eq(ca_profiles_count(ps), 1);
	p = ca_profiles_find(ps, "dev");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(ca_profiles_find(ps, "est-dev"), p);
	ck_assert_ptr_eq(ca_profiles_find(ps, "cmp-dev"), p);
	ck_assert_ptr_eq(ca_profiles_get(ps, 0), p);
	ck_assert_ptr_null(ca_profiles_get(ps, 1));
	ck_assert_ptr_null(ca_profiles_find(ps, "Dev"));
	ck_assert_ptr_null(ca_profiles_find(ps, "est"));
	ck_assert_ptr_null(ca_profiles_find(ps, NULL));

	ck_assert_int_eq(p->validity_days, 90);
	ck_assert_int_eq(p->renewal_window_days, 10);
	ck_assert_uint_eq(p->key_types, CA_PROFILE_KEY_P256 |
	    CA_PROFILE_KEY_RSA);
	ck_assert_int_eq(p->rsa_min_bits, 3072);
	ck_assert_uint_eq(p->nsubject, 2);
	ck_assert_int_eq(p->subject[0].nid, NID_commonName);
	ck_assert_str_eq(p->subject[1].value, "Owner {owner}");
	ck_assert_uint_eq(p->nsan, 2);
	ck_assert_int_eq(p->san[0].type, CA_SAN_URI);
	ck_assert_int_eq(p->san[1].type, CA_SAN_DNS);
	ck_assert_uint_eq(p->key_usage, CA_KU_DIGITAL_SIGNATURE |
	    CA_KU_KEY_ENCIPHERMENT);
	ck_assert_uint_eq(p->neku, 2);
	ck_assert_int_eq(p->eku[1], NID_server_auth);
	ck_assert_int_eq(p->require_new_key, 0);
	ck_assert_int_eq(p->allow_serverkeygen, 1);
	ck_assert_int_eq(p->reenroll, CA_REENROLL_REVOKE_SUPERSEDED);
	ck_assert_int_eq(p->grace_seconds, 600);
	ck_assert_ptr_nonnull(p->ext_ku);
	ck_assert_int_eq(X509_EXTENSION_get_critical(p->ext_ku), 1);
	ck_assert_ptr_nonnull(p->ext_eku);
	ca_profiles_free(ps);
}
END_TEST

/* Defaults of optional keys. */
START_TEST(test_defaults)
{
	struct ca_profiles *ps;
	const struct ca_profile *p;

	put("min.json", "{\"kind\":\"profile\",\"name\":\"m\","
	    "\"validity_days\":1,\"key_types\":[\"ed25519\"],"
	    "\"subject\":[{\"type\":\"CN\",\"value\":\"{uid}\"}],"
	    "\"key_usage\":[\"digitalSignature\"]}");
	ps = ca_profiles_load(dir, err, sizeof(err));
	ck_assert_msg(ps != NULL, "%s", err);
	p = ca_profiles_find(ps, "m");
	ck_assert_int_eq(p->require_new_key, 1);
	ck_assert_int_eq(p->allow_serverkeygen, 0);
	ck_assert_int_eq(p->reenroll, CA_REENROLL_KEEP);
	ck_assert_int_eq(p->rsa_min_bits, 2048);
	ck_assert_uint_eq(p->nlabels, 0);
	ck_assert_uint_eq(p->nsan, 0);
	ck_assert_ptr_null(p->ext_eku);
	ca_profiles_free(ps);
}
END_TEST

/* The profiles shipped in policies/ load (run from the source tree or
 * with srcdir set, as automake does). */
START_TEST(test_shipped)
{
	const char *src = getenv("srcdir");
	char path[512];
	struct ca_profiles *ps;
	const struct ca_profile *p;

	snprintf(path, sizeof(path), "%s/policies", src ? src : ".");
	ps = ca_profiles_load(path, err, sizeof(err));
	ck_assert_msg(ps != NULL, "%s", err);
	p = ca_profiles_find(ps, "ldevid");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(ca_profiles_find(ps, "default"), p);
	ck_assert_int_eq(p->require_new_key, 1);
	ca_profiles_free(ps);
}
END_TEST

START_TEST(test_bad_json_position)
{
	char want[128];

	put("a.json", "{\n  \"kind\": \"profile\",\n  \"name\": ,\n}\n");
	load_fails();
	snprintf(want, sizeof(want), "%s/a.json:3:", dir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(test_duplicate_key)
{
	char want[128];

	put("a.json", "{\"kind\": \"profile\",\n\"kind\": \"profile\"}");
	load_fails();
	snprintf(want, sizeof(want), "%s/a.json:2:", dir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	err_has("duplicate");
}
END_TEST

START_TEST(test_unknown_key)
{
	put_mod("a.json", "colour", "\"blue\"");
	load_fails();
	err_has("a.json: unknown key \"colour\"");
}
END_TEST

START_TEST(test_unknown_nested_key)
{
	put_mod("a.json", "subject",
	    "[{\"type\":\"CN\",\"value\":\"x\",\"extra\":1}]");
	load_fails();
	err_has("a.json: unknown key \"subject[0].extra\"");
	teardown();
	setup();
	put_mod("b.json", "reenroll_old_cert", "{\"mode\":\"keep\",\"x\":1}");
	load_fails();
	err_has("b.json: unknown key \"reenroll_old_cert.x\"");
}
END_TEST

/* Each bad value gives an error naming the file and the key. */
START_TEST(test_bad_values)
{
	static const struct { const char *key, *val, *want; } cases[] = {
		{ "validity_days", "\"365\"", "\"validity_days\": expected an integer" },
		{ "validity_days", "0", "\"validity_days\": 0 not in" },
		{ "validity_days", "99999", "\"validity_days\"" },
		{ "validity_days", NULL, "missing key \"validity_days\"" },
		{ "renewal_window_days", "90", "\"renewal_window_days\"" },
		{ "name", "\"has space\"", "\"name\"" },
		{ "name", "7", "\"name\"" },
		{ "kind", "7", "key \"kind\": expected a string" },
		{ "labels", "\"x\"", "\"labels\": expected an array" },
		{ "labels", "[\"a/b\"]", "\"labels[0]\"" },
		{ "labels", "[\"dev\"]", "label \"dev\" already used" },
		{ "labels", "[\"a\",\"a\"]", "label \"a\" already used" },
		{ "key_types", "[\"p521\"]", "unknown key type \"p521\"" },
		{ "key_types", "[]", "\"key_types\": empty" },
		{ "key_types", "[1]", "\"key_types[0]\": expected a string" },
		{ "rsa_min_bits", "1024", "\"rsa_min_bits\": 1024 not in" },
		{ "rsa_min_bits", "2048.5", "\"rsa_min_bits\": expected an integer" },
		{ "subject", "[{\"type\":\"XX\",\"value\":\"x\"}]", "unknown attribute \"XX\"" },
		{ "subject", "[{\"type\":\"CN\",\"value\":\"{serial}\"}]", "\"subject[0].value\": bad template" },
		{ "subject", "[{\"type\":\"CN\",\"value\":\"a}b\"}]", "bad template" },
		{ "subject", "[{\"type\":\"CN\",\"value\":\"\"}]", "bad template" },
		{ "subject", "[{\"type\":\"CN\"}]", "\"subject[0]\": needs string" },
		{ "subject", "[\"CN={uid}\"]", "\"subject[0]\": expected an object" },
		{ "san", "[{\"type\":\"email\",\"value\":\"x\"}]", "\"san[0].type\"" },
		{ "key_usage", "[\"keyCertSign\"]", "not an end-entity key usage" },
		{ "key_usage", "[]", "\"key_usage\": empty" },
		{ "extended_key_usage", "[\"anyPurpose\"]", "unknown purpose" },
		{ "require_new_key", "1", "\"require_new_key\": expected true or false" },
		{ "allow_serverkeygen", "\"no\"", "\"allow_serverkeygen\"" },
		{ "reenroll_old_cert", "\"keep\"", "expected an object" },
		{ "reenroll_old_cert", "{\"mode\":\"delete\"}", "\"reenroll_old_cert.mode\"" },
		{ "reenroll_old_cert", "{\"mode\":\"keep\",\"grace_seconds\":5}", "only with" },
		{ "reenroll_old_cert", "{\"mode\":\"revoke_superseded\",\"grace_seconds\":-1}", "grace_seconds" },
		{ "description", "[]", "\"description\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];

		teardown();
		setup();
		snprintf(name, sizeof(name), "case%zu.json", i);
		put_mod(name, cases[i].key, cases[i].val);
		load_fails();
		if (strstr(err, name) == NULL ||
		    (cases[i].want != NULL && strstr(err, cases[i].want) ==
		    NULL))
			ck_abort_msg("case %zu (%s=%s): error \"%s\"", i,
			    cases[i].key, cases[i].val ? cases[i].val : "-",
			    err);
	}
}
END_TEST

START_TEST(test_no_subject_no_san)
{
	put("a.json", "{\"kind\":\"profile\",\"name\":\"m\","
	    "\"validity_days\":1,\"key_types\":[\"ed25519\"],"
	    "\"key_usage\":[\"digitalSignature\"]}");
	load_fails();
	err_has("neither");
}
END_TEST

START_TEST(test_duplicate_name_across_files)
{
	put("a.json", good);
	put("b.json", good);
	load_fails();
	err_has("b.json: profile name \"dev\" already used");
}
END_TEST

START_TEST(test_not_object_or_kind)
{
	put("a.json", "[1, 2]");
	load_fails();
	err_has("a.json: expected a JSON object");
	teardown();
	setup();
	put("a.json", "{\"name\": \"x\"}");
	load_fails();
	err_has("a.json: key \"kind\"");
}
END_TEST

START_TEST(test_empty_and_missing_dir)
{
	load_fails();
	err_has("no profile");
	put("ra.json", "{\"kind\": \"ra_policy\"}");
	load_fails();
	err_has("no profile");
	ck_assert_ptr_null(ca_profiles_load("/nonexistent/policies", err,
	    sizeof(err)));
	err_has("/nonexistent/policies");
}
END_TEST

START_TEST(test_too_large)
{
	size_t n = 70 * 1024;
	char *big = malloc(n + 1);

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	put("a.json", big);
	free(big);
	load_fails();
	err_has("too large");
}
END_TEST

START_TEST(test_expand)
{
	char out[32];

	ck_assert_int_eq(ca_profile_expand("{uid}.{owner}", "abc", "ex.org",
	    out, sizeof(out)), 0);
	ck_assert_str_eq(out, "abc.ex.org");
	ck_assert_int_eq(ca_profile_expand("plain", NULL, NULL, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "plain");
	ck_assert_int_eq(ca_profile_expand("{owner}", "abc", NULL, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(ca_profile_expand("{owner}", "abc", "", out,
	    sizeof(out)), -1);
	ck_assert_int_eq(ca_profile_expand("{uid}{uid}{uid}",
	    "0123456789", NULL, out, sizeof(out)), 0);
	ck_assert_int_eq(ca_profile_expand("{uid}{uid}{uid}{uid}",
	    "0123456789", NULL, out, sizeof(out)), -1);
	ck_assert_int_eq(ca_profile_expand("x", "a", NULL, out, 1), -1);
	ck_assert_int_eq(ca_profile_expand("x", "a", NULL, out, 2), 0);
}
END_TEST

static Suite *
profile_suite(void)
{
	Suite *s = suite_create("ca_profile");
	TCase *core = tcase_create("Core"), *bad = tcase_create("Bad");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_good);
	tcase_add_test(core, test_defaults);
	tcase_add_test(core, test_shipped);
	tcase_add_test(core, test_expand);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, test_bad_json_position);
	tcase_add_test(bad, test_duplicate_key);
	tcase_add_test(bad, test_unknown_key);
	tcase_add_test(bad, test_unknown_nested_key);
	tcase_add_test(bad, test_bad_values);
	tcase_add_test(bad, test_no_subject_no_san);
	tcase_add_test(bad, test_duplicate_name_across_files);
	tcase_add_test(bad, test_not_object_or_kind);
	tcase_add_test(bad, test_empty_and_missing_dir);
	tcase_add_test(bad, test_too_large);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(profile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
