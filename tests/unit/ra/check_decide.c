/* check_decide.c - every answer of the enrollment decision, from facts
 * built with the simulated manufacturer (no disk, no network, no db). */
#include <check.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/profile.h"
#include "db/db.h"
#include "ra/decide.h"
#include "ra/mfgsim.h"
#include "ra/trust.h"

enum { C_GOOD, C_GOOD2, C_COUNTERFEIT, C_ROGUE, C_EXPIRED, NCHIPS };

static struct mfgsim *sim;
static struct ra_trust *trust;
static struct ca_profiles *profiles;
static struct ra_policy policy;

static void
setup(void)
{
	static const enum mfgsim_tamper kinds[NCHIPS] = { MFGSIM_GOOD,
		MFGSIM_GOOD, MFGSIM_COUNTERFEIT, MFGSIM_ROGUE_CA,
		MFGSIM_EXPIRED_CHAIN };
	const char *src = getenv("srcdir");
	char err[256], path[1024];

	sim = mfgsim_new(time(NULL), err, sizeof(err));
	ck_assert_msg(sim != NULL, "%s", err);
	for (int i = 0; i < NCHIPS; i++)
		ck_assert(mfgsim_add_chips(sim, 1, kinds[i], 1));
	trust = ra_trust_new();
	ck_assert(mfgsim_trust(sim, trust, err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/policies", src ? src : ".");
	profiles = ca_profiles_load(path, err, sizeof(err));
	ck_assert_msg(profiles != NULL, "%s", err);
	ck_assert_int_eq(ra_policy_load(path, &policy, err, sizeof(err)), 0);
}

static void
teardown(void)
{
	ca_profiles_free(profiles);
	ra_trust_free(trust);
	mfgsim_free(sim);
}

/* Everything a decision needs about one chip; freed by facts_free. */
struct fixture {
	struct ra_enroll_facts f;
	struct db_device dev;
	unsigned char *spki;
	EVP_PKEY *newkey;
};

static X509_REQ *
make_csr(EVP_PKEY *key, const char *cn)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_REQ_get_subject_name(r);

	if (cn != NULL)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
		    (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_pubkey(r, key);
	ck_assert_int_gt(X509_REQ_sign(r, key, EVP_PKEY_get_base_id(key) ==
	    EVP_PKEY_ED25519 ? NULL : EVP_sha256()), 0);
	return r;
}

/* A claimed, registered device for chip i, presenting its own chain and
 * a good request with a fresh P-256 key. */
static void
fixture_init(struct fixture *x, int i)
{
	X509 *cert = mfgsim_device_cert(sim, (size_t)i);
	unsigned char *p = NULL;
	int n;

	memset(x, 0, sizeof(*x));
	x->f.chain = sk_X509_new_null();
	sk_X509_push(x->f.chain, cert);
	sk_X509_push(x->f.chain, mfgsim_signer_ca(sim));
	x->f.mfg_store = ra_trust_manufacturer_store(trust);
	x->f.now = time(NULL);
	x->newkey = EVP_EC_gen("P-256");
	x->f.csr = make_csr(x->newkey, mfgsim_device_uid(sim, (size_t)i));
	snprintf(x->dev.uid, sizeof(x->dev.uid), "%s",
	    mfgsim_device_uid(sim, (size_t)i));
	snprintf(x->dev.state, sizeof(x->dev.state), "claimed");
	snprintf(x->dev.owner, sizeof(x->dev.owner), "acme.example");
	n = i2d_X509(cert, &p);
	ck_assert_int_gt(n, 0);
	x->dev.idevid_der = p;
	x->dev.idevid_len = (size_t)n;
	p = NULL;
	n = i2d_PUBKEY(mfgsim_device_key(sim, (size_t)i), &p);
	ck_assert_int_gt(n, 0);
	x->spki = p;
	x->f.slot0_spki = x->spki;
	x->f.slot0_len = (size_t)n;
	x->f.device = &x->dev;
	x->f.policy = &policy;
	x->f.profile = ca_profiles_find(profiles, "ldevid");
	ck_assert_ptr_nonnull(x->f.profile);
}

static void
fixture_free(struct fixture *x)
{
	sk_X509_free(x->f.chain);	/* certificates belong to sim */
	X509_REQ_free(x->f.csr);
	EVP_PKEY_free(x->newkey);
	OPENSSL_free(x->dev.idevid_der);
	OPENSSL_free(x->spki);
}

static void
expect(struct fixture *x, enum ra_reason want)
{
	enum ra_reason got = ra_decide_enroll(&x->f);

	ck_assert_msg(got == want, "got %s, wanted %s", ra_reason_name(got),
	    ra_reason_name(want));
	fixture_free(x);
}

START_TEST(approve)
{
	struct fixture x;
	fixture_init(&x, C_GOOD);
	expect(&x, RA_APPROVE);
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "active");
	expect(&x, RA_APPROVE);	/* new key: allowed once per key */
}
END_TEST

START_TEST(no_client_cert)
{
	struct fixture x;
	fixture_init(&x, C_GOOD);
	sk_X509_zero(x.f.chain);
	expect(&x, RA_NO_CLIENT_CERT);
}
END_TEST

START_TEST(untrusted_and_expired_chains)
{
	struct fixture x;
	fixture_init(&x, C_ROGUE);
	expect(&x, RA_UNTRUSTED_CHAIN);
	fixture_init(&x, C_EXPIRED);
	expect(&x, RA_UNTRUSTED_CHAIN);
	/* A genuine leaf alone, without its signer CA, does not chain. */
	fixture_init(&x, C_GOOD);
	(void)sk_X509_pop(x.f.chain);
	expect(&x, RA_UNTRUSTED_CHAIN);
}
END_TEST

START_TEST(counterfeit_unknown)
{
	struct fixture x;
	fixture_init(&x, C_COUNTERFEIT);
	x.f.device = NULL;	/* valid chain, but in no manifest */
	expect(&x, RA_UNKNOWN_DEVICE);
}
END_TEST

START_TEST(key_and_cert_mismatch)
{
	struct fixture x, y;
	fixture_init(&x, C_GOOD);
	fixture_init(&y, C_GOOD2);
	/* Chip 2's chain presented against chip 1's manifest record. */
	sk_X509_set(x.f.chain, 0, mfgsim_device_cert(sim, C_GOOD2));
	expect(&x, RA_KEY_MISMATCH);
	/* Same key as the manifest, another certificate. */
	fixture_init(&x, C_GOOD);
	x.dev.idevid_der[x.dev.idevid_len - 1] ^= 1;
	expect(&x, RA_CERT_MISMATCH);
	fixture_free(&y);
}
END_TEST

START_TEST(claims_and_states)
{
	struct fixture x;
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "registered");
	x.dev.owner[0] = '\0';
	expect(&x, RA_NOT_CLAIMED);
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "returned");
	expect(&x, RA_NOT_CLAIMED);
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "compromised");
	expect(&x, RA_DEVICE_BLOCKED);
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "decommissioned");
	expect(&x, RA_DEVICE_BLOCKED);
}
END_TEST

START_TEST(request_checks)
{
	struct fixture x;
	unsigned char *der = NULL;
	const unsigned char *p;
	int n;

	/* Signature bytes flipped after signing. */
	fixture_init(&x, C_GOOD);
	n = i2d_X509_REQ(x.f.csr, &der);
	der[n - 3] ^= 0x55;
	p = der;
	X509_REQ_free(x.f.csr);
	x.f.csr = d2i_X509_REQ(NULL, &p, n);
	OPENSSL_free(der);
	ck_assert_ptr_nonnull(x.f.csr);
	expect(&x, RA_BAD_REQUEST_SIGNATURE);

	/* The birth key itself. */
	fixture_init(&x, C_GOOD);
	X509_REQ_free(x.f.csr);
	x.f.csr = make_csr(mfgsim_device_key(sim, C_GOOD),
	    mfgsim_device_uid(sim, C_GOOD));
	expect(&x, RA_KEY_REUSE);

	/* Another chip's name. */
	fixture_init(&x, C_GOOD);
	X509_REQ_free(x.f.csr);
	x.f.csr = make_csr(x.newkey, mfgsim_device_uid(sim, C_GOOD2));
	expect(&x, RA_SUBJECT_MISMATCH);

	/* Microchip's own form names the chip too. */
	fixture_init(&x, C_GOOD);
	X509_REQ_free(x.f.csr);
	{
		char cn[80];
		const char *u = mfgsim_device_uid(sim, C_GOOD);
		snprintf(cn, sizeof(cn), "sn%s", u);
		for (char *c = cn + 2; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		x.f.csr = make_csr(x.newkey, cn);
	}
	expect(&x, RA_APPROVE);

	/* RSA-1024 is below every profile's floor. */
	fixture_init(&x, C_GOOD);
	X509_REQ_free(x.f.csr);
	EVP_PKEY_free(x.newkey);
	x.newkey = EVP_RSA_gen(1024);
	x.f.csr = make_csr(x.newkey, mfgsim_device_uid(sim, C_GOOD));
	expect(&x, RA_KEY_NOT_ALLOWED);

	/* Empty subject: refused unless the policy accepts it. */
	fixture_init(&x, C_GOOD);
	X509_REQ_free(x.f.csr);
	x.f.csr = make_csr(x.newkey, NULL);
	{
		struct ra_policy p = policy;
		p.accept_empty_subject = 0;
		x.f.policy = &p;
		ck_assert_int_eq(ra_decide_enroll(&x.f), RA_SUBJECT_MISMATCH);
		p.accept_empty_subject = 1;
		ck_assert_int_eq(ra_decide_enroll(&x.f), RA_APPROVE);
		x.f.policy = &policy;
	}
	fixture_free(&x);
}
END_TEST

START_TEST(already_enrolled_same_key)
{
	struct fixture x;
	struct ra_policy p = policy;
	fixture_init(&x, C_GOOD);
	snprintf(x.dev.state, sizeof(x.dev.state), "active");
	x.f.has_ldevid_same_key = 1;
	p.allow_reenroll_same_key = 0;
	x.f.policy = &p;
	ck_assert_int_eq(ra_decide_enroll(&x.f), RA_ALREADY_ENROLLED);
	p.allow_reenroll_same_key = 1;
	ck_assert_int_eq(ra_decide_enroll(&x.f), RA_APPROVE);
	fixture_free(&x);
}
END_TEST

START_TEST(reason_names_stable)
{
	ck_assert_str_eq(ra_reason_name(RA_NOT_CLAIMED), "not_claimed");
	ck_assert_str_eq(ra_reason_name(RA_UNKNOWN_DEVICE), "unknown_device");
	ck_assert_str_eq(ra_reason_name(RA_KEY_REUSE), "key_reuse");
	ck_assert_str_eq(ra_reason_name((enum ra_reason)999), "unknown_reason");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("decide");
	TCase *t = tcase_create("Core");
	tcase_add_unchecked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, approve);
	tcase_add_test(t, no_client_cert);
	tcase_add_test(t, untrusted_and_expired_chains);
	tcase_add_test(t, counterfeit_unknown);
	tcase_add_test(t, key_and_cert_mismatch);
	tcase_add_test(t, claims_and_states);
	tcase_add_test(t, request_checks);
	tcase_add_test(t, already_enrolled_same_key);
	tcase_add_test(t, reason_names_stable);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int f = srunner_ntests_failed(r);
	srunner_free(r);
	return f != 0;
}
