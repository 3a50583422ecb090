/* check_b64.c - base64 and base64url codecs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

START_TEST(roundtrip)
{
	unsigned char in[300];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7);
	for (size_t n = 0; n < sizeof(in); n++) {
		size_t el, dl;
		char *e = b64_encode(in, n, n % 2, &el);
		unsigned char *d = b64_decode(e, el, 1, &dl);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(dl, n);
		ck_assert_mem_eq(d, in, n);
		free(e);
		free(d);
		e = b64url_encode(in, n, &el);
		ck_assert_ptr_null(strchr(e, '='));
		d = b64url_decode(e, el, &dl);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(dl, n);
		ck_assert_mem_eq(d, in, n);
		free(e);
		free(d);
	}
}
END_TEST

START_TEST(known_vectors)
{
	size_t l;
	unsigned char *d = b64_decode("Zm9vYmFy", 8, 0, &l);
	ck_assert_uint_eq(l, 6);
	ck_assert_mem_eq(d, "foobar", 6);
	free(d);
	d = b64_decode("Zm9vYg==", 8, 0, &l);
	ck_assert_uint_eq(l, 4);
	free(d);
	d = b64_decode("Zm9v\r\nYg==\n", 11, 1, &l);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(l, 4);
	free(d);
	d = b64url_decode("-_8", 3, &l);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(l, 2);
	ck_assert_int_eq(d[0], 0xfb);
	ck_assert_int_eq(d[1], 0xff);
	free(d);
}
END_TEST

START_TEST(rejects)
{
	size_t l;
	const char *bad_std[] = { "Zm9", "Zm9v=", "Zm=v", "Zm9vY===", "Zm9*",
		"Zm9vYh==" /* non-zero trailing bits */, "Zm9v\nYg==" };
	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
		ck_assert_ptr_null(b64_decode(bad_std[i], strlen(bad_std[i]),
		    0, &l));
	const char *bad_url[] = { "Zm9vYg==", "Z", "ab+c", "ab/c", "a b" };
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		ck_assert_ptr_null(b64url_decode(bad_url[i],
		    strlen(bad_url[i]), &l));
	/* NUL inside the length is garbage, not a terminator. */
	ck_assert_ptr_null(b64_decode("Zm9v\0AAA", 8, 0, &l));
}
END_TEST

START_TEST(hex)
{
	const unsigned char b[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9], small[6];

	ck_assert_uint_eq(hex_lower(b, sizeof(b), out, sizeof(out)), 8);
	ck_assert_str_eq(out, "000fa5ff");
	/* Too short: whole bytes only, always terminated. */
	ck_assert_uint_eq(hex_lower(b, sizeof(b), small, sizeof(small)), 4);
	ck_assert_str_eq(small, "000f");
	ck_assert_uint_eq(hex_lower(b, 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(hex_lower(b, sizeof(b), out, 0), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("b64");
	TCase *core = tcase_create("Core"), *lim = tcase_create("Limits");
	tcase_add_test(core, roundtrip);
	tcase_add_test(core, known_vectors);
	tcase_add_test(core, hex);
	tcase_add_test(lim, rejects);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
