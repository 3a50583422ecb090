/*
 * decide.c - the enrollment decision, as pure checks over given facts.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/csr.h"
#include "ca/profile.h"
#include "db/db.h"
#include "ra/decide.h"
#include "ra/devname.h"

static const char *const reason_names[] = {
	[RA_APPROVE] = "approved",
	[RA_NO_CLIENT_CERT] = "no_client_cert",
	[RA_UNTRUSTED_CHAIN] = "untrusted_chain",
	[RA_UNKNOWN_DEVICE] = "unknown_device",
	[RA_KEY_MISMATCH] = "key_mismatch",
	[RA_CERT_MISMATCH] = "cert_mismatch",
	[RA_NOT_CLAIMED] = "not_claimed",
	[RA_DEVICE_BLOCKED] = "device_blocked",
	[RA_BAD_REQUEST_SIGNATURE] = "bad_request_signature",
	[RA_KEY_NOT_ALLOWED] = "key_not_allowed",
	[RA_KEY_REUSE] = "key_reuse",
	[RA_SUBJECT_MISMATCH] = "subject_mismatch",
	[RA_CERT_REVOKED] = "cert_revoked",
	[RA_CERT_EXPIRED] = "cert_expired",
	[RA_ALREADY_ENROLLED] = "already_enrolled",
	[RA_MALFORMED_REQUEST] = "malformed_request",
};

const char *
ra_reason_name(enum ra_reason r)
{
	if ((size_t)r < sizeof(reason_names) / sizeof(reason_names[0]) &&
	    reason_names[r] != NULL)
		return reason_names[r];
	return "unknown_reason";
}

int
ra_chain_verify(STACK_OF(X509) *chain, X509_STORE *store, time_t now,
    int purpose_client)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509_VERIFY_PARAM *vp;
	int ok = 0;

	if (chain == NULL || sk_X509_num(chain) < 1 || store == NULL)
		return 0;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    (untrusted = sk_X509_dup(chain)) == NULL)
		goto out;
	(void)sk_X509_shift(untrusted);	/* the rest are candidates only */
	if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0),
	    untrusted) != 1)
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(vp, now);
	/* Birth certificates often carry no EKU; only check the purpose for
	 * our own LDevIDs. */
	if (purpose_client)
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx) == 1;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	return ok;
}

int
ra_key_allowed(const struct ca_profile *prof, EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);

	if (id == EVP_PKEY_EC) {
		char grp[64];
		size_t gl = 0;

		if (EVP_PKEY_get_utf8_string_param(key, "group", grp,
		    sizeof(grp), &gl) != 1)
			return 0;
		if (strcmp(grp, "prime256v1") == 0)
			return (prof->key_types & CA_PROFILE_KEY_P256) != 0;
		if (strcmp(grp, "secp384r1") == 0)
			return (prof->key_types & CA_PROFILE_KEY_P384) != 0;
		return 0;
	}
	if (id == EVP_PKEY_ED25519)
		return (prof->key_types & CA_PROFILE_KEY_ED25519) != 0;
	if (id == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(key);

		return (prof->key_types & CA_PROFILE_KEY_RSA) != 0 &&
		    bits >= prof->rsa_min_bits && bits <= CA_RSA_MAX_BITS;
	}
	return 0;
}

/* Compares a key with SPKI DER; 1 when equal. */
static int
key_equals_spki(EVP_PKEY *key, const unsigned char *spki, size_t len)
{
	unsigned char *der = NULL;
	int n, eq;

	if (key == NULL || spki == NULL)
		return 0;
	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		return 0;
	eq = (size_t)n == len && memcmp(der, spki, len) == 0;
	OPENSSL_free(der);
	return eq;
}

/*
 * Request checks shared by first enrollment and re-enrollment.  The
 * request comes as an X509_REQ (csr) or, with csr NULL, parsed by
 * ca_csr_parse (creq), which has checked its signature already.
 */
static enum ra_reason
check_request(X509_REQ *csr, const struct ca_csr *creq,
    const struct ca_profile *prof, const char *uid, EVP_PKEY *forbidden,
    int accept_empty)
{
	const X509_NAME *subj;
	EVP_PKEY *key;
	int sig_ok;

	if (csr != NULL) {
		if ((key = X509_REQ_get0_pubkey(csr)) == NULL)
			return RA_MALFORMED_REQUEST;
		sig_ok = X509_REQ_verify(csr, key) == 1;
		subj = X509_REQ_get_subject_name(csr);
	} else {
		if (creq == NULL || (key = ca_csr_key(creq)) == NULL)
			return RA_MALFORMED_REQUEST;
		sig_ok = ca_csr_sig_ok(creq);
		subj = ca_csr_subject(creq);
	}
	if (!sig_ok)
		return RA_BAD_REQUEST_SIGNATURE;
	if (!ra_key_allowed(prof, key))
		return RA_KEY_NOT_ALLOWED;
	if (prof->require_new_key && forbidden != NULL &&
	    EVP_PKEY_eq(key, forbidden) == 1)
		return RA_KEY_REUSE;
	/* The certificate's subject comes from the profile, never from the
	 * request; an empty request subject is fine where policy says so. */
	if (!(accept_empty && X509_NAME_entry_count(subj) == 0) &&
	    !ra_name_names_uid(subj, uid))
		return RA_SUBJECT_MISMATCH;
	return RA_APPROVE;
}

enum ra_reason
ra_decide_enroll(const struct ra_enroll_facts *f)
{
	const struct db_device *d = f->device;
	unsigned char *der = NULL;
	X509 *leaf;
	EVP_PKEY *leaf_key;
	int n, same_cert;
	enum ra_reason r;

	if (f->chain == NULL || sk_X509_num(f->chain) < 1)
		return RA_NO_CLIENT_CERT;
	leaf = sk_X509_value(f->chain, 0);
	if (!f->chain_verified &&
	    !ra_chain_verify(f->chain, f->mfg_store, f->now, 0))
		return RA_UNTRUSTED_CHAIN;
	if (d == NULL)
		return RA_UNKNOWN_DEVICE;
	leaf_key = X509_get0_pubkey(leaf);
	if (f->leaf_spki != NULL ? f->slot0_spki == NULL ||
	    f->leaf_spki_len != f->slot0_len ||
	    memcmp(f->leaf_spki, f->slot0_spki, f->slot0_len) != 0 :
	    !key_equals_spki(leaf_key, f->slot0_spki, f->slot0_len))
		return RA_KEY_MISMATCH;
	if ((n = i2d_X509(leaf, &der)) <= 0)
		return RA_MALFORMED_REQUEST;
	same_cert = d->idevid_der != NULL && (size_t)n == d->idevid_len &&
	    memcmp(der, d->idevid_der, (size_t)n) == 0;
	OPENSSL_free(der);
	if (!same_cert)
		return RA_CERT_MISMATCH;
	if (strcmp(d->state, "compromised") == 0 ||
	    strcmp(d->state, "decommissioned") == 0)
		return RA_DEVICE_BLOCKED;
	if (strcmp(d->state, "registered") == 0 ||
	    strcmp(d->state, "returned") == 0 || d->owner[0] == '\0')
		return f->policy->require_claim ? RA_NOT_CLAIMED :
		    RA_DEVICE_BLOCKED;
	if (strcmp(d->state, "claimed") != 0 &&
	    strcmp(d->state, "active") != 0)
		return RA_DEVICE_BLOCKED;
	if ((r = check_request(f->csr, f->creq, f->profile, d->uid, leaf_key,
	    f->policy->accept_empty_subject)) != RA_APPROVE)
		return r;
	if (f->has_ldevid_same_key && !f->policy->allow_reenroll_same_key)
		return RA_ALREADY_ENROLLED;
	return RA_APPROVE;
}

enum ra_reason
ra_decide_reenroll(const struct ra_reenroll_facts *f)
{
	const struct db_device *d = f->device;
	X509 *leaf;

	if (f->chain == NULL || sk_X509_num(f->chain) < 1)
		return RA_NO_CLIENT_CERT;
	leaf = sk_X509_value(f->chain, 0);
	if (!f->cert_known)
		return RA_UNKNOWN_DEVICE;
	if (f->cert_revoked)
		return RA_CERT_REVOKED;
	if (X509_cmp_time(X509_get0_notAfter(leaf), (time_t *)&f->now) <= 0)
		return RA_CERT_EXPIRED;
	if (!f->chain_verified &&
	    !ra_chain_verify(f->chain, f->own_store, f->now, 1))
		return RA_UNTRUSTED_CHAIN;
	if (d == NULL)
		return RA_UNKNOWN_DEVICE;
	if (strcmp(d->state, "active") != 0 &&
	    strcmp(d->state, "claimed") != 0)
		return RA_DEVICE_BLOCKED;
	/* Re-key is allowed; the same key (plain renewal) is too. */
	return check_request(f->csr, f->creq, f->profile, d->uid, NULL,
	    0);
}
