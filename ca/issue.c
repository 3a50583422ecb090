/*
 * issue.c - the signer (issuing CA certificate, key and precomputed
 * extensions) and ca_issue(): the one call that turns an approved request
 * into a certificate recorded in the store.
 *
 * ca_issue() trusts nothing it is given: it verifies the CSR signature,
 * checks key type and size against the profile and key reuse again (the RA
 * checked them first), builds subject and SAN from the profile's templates
 * only, and copies nothing from the CSR but the public key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/der.h"
#include "common/log.h"
#include "db/db.h"
#include "ca/ca.h"
#include "ca/csr.h"
#include "ca/profile.h"
#include "ca/x509util.h"

#define BACKDATE_SECONDS	300	/* tolerate slow device clocks */
#define URL_MAX			512
#define NAME_VALUE_MAX		256
#define ISSUE_TRIES		3	/* serial races with another writer */

struct ca_signer {
	X509 *cert;			/* owned */
	EVP_PKEY *key;			/* owned */
	int64_t ca_id;
	char name[64];			/* db row name, e.g. "issuing-1" */
	time_t not_before, not_after;	/* of the CA certificate */
	/* Added (as copies) to every certificate; owned; freshest may be
	 * NULL. */
	X509_EXTENSION *aki, *aia, *cdp, *freshest;
	/*
	 * The hand-built DER path (cert_der): what every TBSCertificate
	 * carries unchanged, encoded once; each owned (OPENSSL_free).  Made
	 * by signer_der_init; with fast 0 every certificate takes the
	 * X509-object path (build_cert).
	 */
	int fast;
	unsigned char *issuer_der, *sigalg_der, *aki_der, *tail_der;
	size_t issuer_len, sigalg_len, aki_len, tail_len; /* tail: AIA,
							   * CDP, freshest */
	/* DigestSign set up with key; only ever read (EVP_MD_CTX_copy_ex),
	 * so threads share it.  NULL when the key's context cannot be
	 * copied (Ed25519 in 3.0): then each signature sets up afresh. */
	EVP_MD_CTX *sign_tmpl;
	EVP_MD *sha1;			/* fetched once; owned */
	size_t sig_max;			/* EVP_PKEY_get_size(key) */
};

static time_t
now_default(void)
{
	return time(NULL);
}

time_t (*ca_now)(void) = now_default;

const char *
ca_err_name(enum ca_err e)
{
	switch (e) {
	case CA_OK:
		return "ok";
	case CA_ERR_MALFORMED:
		return "malformed_request";
	case CA_ERR_BAD_SIGNATURE:
		return "bad_request_signature";
	case CA_ERR_KEY_NOT_ALLOWED:
		return "key_not_allowed";
	case CA_ERR_KEY_REUSE:
		return "key_reuse";
	case CA_ERR_PROFILE_UNKNOWN:
		return "unknown_profile";
	case CA_ERR_STORE:
		return "store_error";
	case CA_ERR_INTERNAL:
		break;
	}
	return "internal_error";
}

/* ---- signer --------------------------------------------------------- */

/* base_url must be an absolute http(s) URL of printable ASCII without
 * spaces; one trailing slash is dropped. */
static int
base_url_ok(const char *url, char *out, size_t outlen)
{
	size_t len;

	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return 0;
	len = strlen(url);
	if (len >= outlen || len > URL_MAX - 64)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (url[i] <= 0x20 || url[i] >= 0x7f)
			return 0;
	memcpy(out, url, len + 1);
	if (len > 8 && out[len - 1] == '/')
		out[len - 1] = '\0';
	return 1;
}

/* Picks the newest active CA row with role "issuing" into *ca (moved). */
static int
pick_issuing(struct db *db, struct db_ca *ca, char *err, size_t errlen)
{
	struct db_ca *cas = NULL;
	size_t n = 0, best = 0;
	int found = 0, rc;

	if ((rc = db_ca_list(db, &cas, &n)) != DB_OK) {
		snprintf(err, errlen, "listing CAs: %s", db_errmsg(db));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (cas[i].active && strcmp(cas[i].role, "issuing") == 0 &&
		    (!found || cas[i].id > cas[best].id)) {
			best = i;
			found = 1;
		}
	if (found) {
		*ca = cas[best];
		memset(&cas[best], 0, sizeof(cas[best]));	/* moved */
	} else
		snprintf(err, errlen, "no active issuing CA in the database");
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&cas[i]);
	free(cas);
	return found ? 0 : -1;
}

/* Fills the signer's certificate, key and times from the db row. */
static int
signer_load_ca(struct ca_signer *s, const char *dir, const struct db_ca *ca,
    char *err, size_t errlen)
{
	const unsigned char *p = ca->der;
	char path[4096];
	int n;

	if (ca->der_len == 0 || ca->der_len > 65536 ||
	    (s->cert = d2i_X509(NULL, &p, (long)ca->der_len)) == NULL ||
	    p != ca->der + ca->der_len) {
		log_openssl("d2i_X509");
		snprintf(err, errlen, "CA %s: bad certificate in database",
		    ca->name);
		return -1;
	}
	/* key_path is relative to the data dir (db.h). */
	if (ca->key_path[0] == '/' || strstr(ca->key_path, "..") != NULL) {
		snprintf(err, errlen, "CA %s: key path \"%s\" is not inside "
		    "the data dir", ca->name, ca->key_path);
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, ca->key_path);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "CA %s: key path too long", ca->name);
		return -1;
	}
	if ((s->key = ca_key_read(path, err, errlen)) == NULL)
		return -1;
	if (X509_check_private_key(s->cert, s->key) != 1) {
		log_openssl("X509_check_private_key");
		snprintf(err, errlen, "CA %s: %s does not match its "
		    "certificate", ca->name, path);
		return -1;
	}
	if (ca_x509_time(X509_get0_notBefore(s->cert), &s->not_before) != 0 ||
	    ca_x509_time(X509_get0_notAfter(s->cert), &s->not_after) != 0) {
		snprintf(err, errlen, "CA %s: bad validity", ca->name);
		return -1;
	}
	s->ca_id = ca->id;
	snprintf(s->name, sizeof(s->name), "%s", ca->name);
	return 0;
}

/* ---- the signer's constant DER pieces ---------------------------------- */

/* e's DER appended to b (e borrowed; i2d only reads it). */
static void
ext_put(struct ca_dbuf *b, X509_EXTENSION *e)
{
	unsigned char *d = NULL;
	int n;

	if ((n = i2d_X509_EXTENSION(e, &d)) <= 0) {
		b->failed = 1;
		return;
	}
	ca_dbuf_put(b, d, (size_t)n);
	OPENSSL_free(d);
}

/* Moves b's bytes to *out / *len (b is left empty).  0 or -1. */
static int
dbuf_move(struct ca_dbuf *b, unsigned char **out, size_t *len)
{
	if (b->failed || b->len == 0) {
		ca_dbuf_clear(b);
		return -1;
	}
	*out = b->p;
	*len = b->len;
	memset(b, 0, sizeof(*b));
	return 0;
}

/* AIA, CDP and Freshest CRL, in build_cert's order, as one piece. */
static int
signer_tail_der(struct ca_signer *s)
{
	struct ca_dbuf b = { 0 };

	OPENSSL_free(s->tail_der);
	s->tail_der = NULL;
	s->tail_len = 0;
	ext_put(&b, s->aia);
	ext_put(&b, s->cdp);
	if (s->freshest != NULL)
		ext_put(&b, s->freshest);
	return dbuf_move(&b, &s->tail_der, &s->tail_len);
}

/*
 * The signature context template and the AlgorithmIdentifier the
 * provider writes for it (what X509_sign_ctx puts in a certificate,
 * RFC 5280 4.1.1.2 and 4.1.2.3).  0 or -1.
 */
static int
signer_sign_init(struct ca_signer *s)
{
	EVP_MD_CTX *m = NULL, *probe = NULL;
	OSSL_PARAM params[2];
	unsigned char aid[256];
	int rc = -1;

	if ((m = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(m, NULL, ca_x509_digest_name(s->key), NULL,
	    NULL, s->key, NULL) != 1)
		goto out;
	params[0] = OSSL_PARAM_construct_octet_string(
	    OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(EVP_MD_CTX_get_pkey_ctx(m), params) != 1 ||
	    !OSSL_PARAM_modified(&params[0]) || params[0].return_size == 0 ||
	    params[0].return_size > sizeof(aid) ||
	    (s->sigalg_der = OPENSSL_memdup(aid, params[0].return_size)) ==
	    NULL)
		goto out;
	s->sigalg_len = params[0].return_size;
	if ((s->sig_max = (size_t)EVP_PKEY_get_size(s->key)) == 0 ||
	    s->sig_max > 1024)
		goto out;
	/* Only a context that copies can be shared as a template. */
	if ((probe = EVP_MD_CTX_new()) != NULL &&
	    EVP_MD_CTX_copy_ex(probe, m) == 1) {
		s->sign_tmpl = m;
		m = NULL;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(probe);
	EVP_MD_CTX_free(m);
	return rc;
}

/*
 * Encodes once what every certificate of s carries unchanged.  On
 * failure the signer still works, through the object path only (logged
 * at debug: nothing is wrong, it is only slower).
 */
static void
signer_der_init(struct ca_signer *s)
{
	unsigned char *d = NULL;
	struct ca_dbuf b = { 0 };
	int n;

	if ((n = i2d_X509_NAME(X509_get_subject_name(s->cert), &d)) <= 0)
		goto fail;
	s->issuer_der = d;
	s->issuer_len = (size_t)n;
	ext_put(&b, s->aki);
	if (dbuf_move(&b, &s->aki_der, &s->aki_len) != 0 ||
	    signer_tail_der(s) != 0 || signer_sign_init(s) != 0 ||
	    (s->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL)
		goto fail;
	s->fast = 1;
	return;
fail:
	ERR_clear_error();
	log_debug("CA %s: certificates take the object path", s->name);
}

struct ca_signer *
ca_signer_load(const char *dir, struct db *db, const char *base_url,
    char *err, size_t errlen)
{
	struct ca_signer *s;
	struct db_ca ca;
	char base[URL_MAX];
	/* room for base, "/ca/", a 63-char CA name and ".crt" */
	char ocsp[URL_MAX + 80], issuers[URL_MAX + 80], crl[URL_MAX + 80];
	int ok = 0;

	memset(&ca, 0, sizeof(ca));
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!base_url_ok(base_url, base, sizeof(base))) {
		snprintf(err, errlen, "base URL \"%s\": need http(s)://... "
		    "without spaces", base_url ? base_url : "(null)");
		goto out;
	}
	if (pick_issuing(db, &ca, err, errlen) != 0 ||
	    signer_load_ca(s, dir, &ca, err, errlen) != 0)
		goto out;
	/* RFC 5280 4.2.2.1 (AIA) and 4.2.1.13 (CDP), served by server/. */
	snprintf(ocsp, sizeof(ocsp), "%s/ocsp", base);
	snprintf(issuers, sizeof(issuers), "%s/ca/%s.crt", base, s->name);
	snprintf(crl, sizeof(crl), "%s/crl/%s.crl", base, s->name);
	if ((s->aki = ca_x509_aki_ext(s->cert)) == NULL ||
	    (s->aia = ca_x509_aia_ext(ocsp, issuers)) == NULL ||
	    (s->cdp = ca_x509_dp_ext(NID_crl_distribution_points, crl)) ==
	    NULL) {
		snprintf(err, errlen, "CA %s: cannot build extensions",
		    s->name);
		goto out;
	}
	if (s->not_after <= ca_now())
		log_warn("CA %s: certificate has expired", s->name);
	signer_der_init(s);
	ok = 1;
out:
	db_ca_clear(&ca);
	if (!ok) {
		ca_signer_free(s);
		return NULL;
	}
	return s;
}

int
ca_signer_set_freshest(struct ca_signer *s, const char *url)
{
	char u[URL_MAX];
	X509_EXTENSION *e;

	if (!base_url_ok(url, u, sizeof(u)) ||
	    (e = ca_x509_dp_ext(NID_freshest_crl, u)) == NULL)
		return -1;
	X509_EXTENSION_free(s->freshest);
	s->freshest = e;
	/* The tail without the new pointer would be wrong: object path. */
	if (s->fast && signer_tail_der(s) != 0)
		s->fast = 0;
	return 0;
}

void
ca_signer_free(struct ca_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	X509_EXTENSION_free(s->aki);
	X509_EXTENSION_free(s->aia);
	X509_EXTENSION_free(s->cdp);
	X509_EXTENSION_free(s->freshest);
	OPENSSL_free(s->issuer_der);
	OPENSSL_free(s->sigalg_der);
	OPENSSL_free(s->aki_der);
	OPENSSL_free(s->tail_der);
	EVP_MD_CTX_free(s->sign_tmpl);
	EVP_MD_free(s->sha1);
	free(s);
}

X509 *
ca_signer_cert(const struct ca_signer *s)
{
	return s->cert;
}

int64_t
ca_signer_ca_id(const struct ca_signer *s)
{
	return s->ca_id;
}

const char *
ca_signer_name(const struct ca_signer *s)
{
	return s->name;
}

/* ---- request checks --------------------------------------------------- */

enum ca_err
ca_csr_from_der(const unsigned char *der, size_t len, X509_REQ **out)
{
	const unsigned char *p = der;
	X509_REQ *req;

	*out = NULL;
	if (der == NULL || len == 0 || len > CA_CSR_MAX)
		return CA_ERR_MALFORMED;
	/* d2i advances its argument: p is a copy, der stays ours. */
	if ((req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return CA_ERR_MALFORMED;
	}
	if (p != der + len) {
		X509_REQ_free(req);
		return CA_ERR_MALFORMED;	/* trailing bytes */
	}
	*out = req;
	return CA_OK;
}

/* Is key's type and size allowed by prof?  RSA keys over CA_RSA_MAX_BITS
 * are refused whatever the profile says (their verification is a cheap
 * way to burn our CPU). */
static enum ca_err
key_allowed(const struct ca_profile *prof, EVP_PKEY *key)
{
	char group[64];
	size_t glen;
	int nid;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if ((prof->key_types & CA_PROFILE_KEY_RSA) != 0 &&
		    EVP_PKEY_get_bits(key) >= prof->rsa_min_bits &&
		    EVP_PKEY_get_bits(key) <= CA_RSA_MAX_BITS)
			return CA_OK;
		break;
	case EVP_PKEY_ED25519:
		if ((prof->key_types & CA_PROFILE_KEY_ED25519) != 0)
			return CA_OK;
		break;
	case EVP_PKEY_EC:
		/* Named curves only; explicit parameters have no name. */
		if (EVP_PKEY_get_group_name(key, group, sizeof(group),
		    &glen) != 1) {
			ERR_clear_error();
			break;
		}
		nid = OBJ_txt2nid(group);
		if (nid == NID_X9_62_prime256v1 &&
		    (prof->key_types & CA_PROFILE_KEY_P256) != 0)
			return CA_OK;
		if (nid == NID_secp384r1 &&
		    (prof->key_types & CA_PROFILE_KEY_P384) != 0)
			return CA_OK;
		break;
	default:
		break;
	}
	return CA_ERR_KEY_NOT_ALLOWED;
}

/* The request's key (borrowed), from whichever form req carries. */
static EVP_PKEY *
req_key(const struct ca_issue_req *req)
{
	return req->csr != NULL ? X509_REQ_get0_pubkey(req->csr) :
	    ca_csr_key(req->creq);
}

/* The checks of the request itself, cheapest first. */
static enum ca_err
check_request(const struct ca_profile *prof, const struct ca_issue_req *req,
    int csr_verified)
{
	EVP_PKEY *pub;
	enum ca_err e;

	if ((pub = req_key(req)) == NULL) {
		ERR_clear_error();
		return CA_ERR_MALFORMED;
	}
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(pub) > CA_RSA_MAX_BITS)
		return CA_ERR_KEY_NOT_ALLOWED;
	/* X509_REQ_verify returns 1 only for a good signature; 0 and -1
	 * are both refusals.  Skipped only when the caller verified this
	 * very request already (ca.h: csr_verified); a parsed request
	 * carries its verdict. */
	if (!csr_verified && (req->csr != NULL ?
	    X509_REQ_verify(req->csr, pub) != 1 : !ca_csr_sig_ok(req->creq))) {
		ERR_clear_error();
		return CA_ERR_BAD_SIGNATURE;
	}
	if ((e = key_allowed(prof, pub)) != CA_OK)
		return e;
	/* EVP_PKEY_eq: 1 same key; 0 different; negative for different
	 * types, which are different keys too. */
	if (prof->require_new_key && req->idevid_key != NULL &&
	    EVP_PKEY_eq(pub, req->idevid_key) == 1)
		return CA_ERR_KEY_REUSE;
	ERR_clear_error();
	return CA_OK;
}

/* uid and owner are substituted into names: printable ASCII, no braces
 * (which would read as placeholders), bounded. */
static int
value_ok(const char *v, int required)
{
	size_t len;

	if (v == NULL)
		return !required;
	len = strlen(v);
	if (len == 0 || len > 128)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '{' || v[i] == '}')
			return 0;
	return 1;
}

/* RFC 1034 3.5 preferred syntax (letters, digits, hyphens; labels of
 * 1-63, no hyphen at either end), at most 253 characters. */
static int
dns_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') ||
		    (label == 0 && c == '-'))
			return 0;
		label++;
	}
	return 1;
}

/* An absolute URI (RFC 3986 3.1 scheme ":" ...) of visible ASCII with none
 * of the characters RFC 3986 never allows unescaped. */
static int
uri_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (const char *c = s; c < colon; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' ||
		    *c == '.'))
			return 0;
	for (const char *c = s; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f || strchr("\"<>\\^`{|}", *c))
			return 0;
	return 1;
}

/* Subject and SAN from the profile templates.  CA_ERR_MALFORMED when the
 * device's values do not make valid names. */
static enum ca_err
build_names(const struct ca_profile *prof, const struct ca_issue_req *req,
    X509_NAME **subject, GENERAL_NAMES **san)
{
	char v[NAME_VALUE_MAX];

	*subject = NULL;
	*san = NULL;
	if (!value_ok(req->uid, 1) || !value_ok(req->owner, 0)) {
		log_info("issue: uid or owner empty, too long or not "
		    "printable ASCII");
		return CA_ERR_MALFORMED;
	}
	if ((*subject = X509_NAME_new()) == NULL ||
	    (*san = GENERAL_NAMES_new()) == NULL)
		goto internal;
	for (size_t i = 0; i < prof->nsubject; i++) {
		if (ca_profile_expand(prof->subject[i].value, req->uid,
		    req->owner, v, sizeof(v)) != 0 ||
		    ca_x509_name_add(*subject, prof->subject[i].nid, v) != 0)
			goto malformed;
	}
	for (size_t i = 0; i < prof->nsan; i++) {
		int dns = prof->san[i].type == CA_SAN_DNS;

		if (ca_profile_expand(prof->san[i].value, req->uid, req->owner,
		    v, sizeof(v)) != 0 || !(dns ? dns_ok(v) : uri_ok(v)) ||
		    ca_x509_gens_add(*san, dns ? GEN_DNS : GEN_URI, v) != 0)
			goto malformed;
	}
	return CA_OK;
malformed:
	ERR_clear_error();
	/* Only values value_ok() passed reach here, except a name that is
	 * too long or illegal for its string type. */
	log_info("issue: uid \"%s\" owner \"%s\" do not fit profile %s names",
	    req->uid, req->owner != NULL ? req->owner : "", prof->name);
	X509_NAME_free(*subject);
	GENERAL_NAMES_free(*san);
	*subject = NULL;
	*san = NULL;
	return CA_ERR_MALFORMED;
internal:
	X509_NAME_free(*subject);
	GENERAL_NAMES_free(*san);
	*subject = NULL;
	*san = NULL;
	return CA_ERR_INTERNAL;
}

/* What one certificate needs besides the signer and profile. */
struct tbs {
	X509_NAME *subject;		/* borrowed */
	GENERAL_NAMES *san;		/* borrowed */
	EVP_PKEY *pub;			/* borrowed, from the CSR */
	X509_PUBKEY *spki;		/* borrowed, from the CSR; non-NULL
					 * when its bytes can be carried over
					 * as they are (canonical_spki) */
	/* The SPKI TLV for the hand-built DER path (borrowed; from the
	 * request, or the prepared certificate's own copy); NULL: object
	 * path. */
	const unsigned char *spki_der;
	size_t spki_der_len;
	time_t nb, na;
	unsigned char serial[CA_SERIAL_LEN];
};

/*
 * The request's SubjectPublicKeyInfo when it is already in the encoding
 * OpenSSL writes for that key: an EC key on a named curve with an
 * uncompressed point (X9.62 form 0x04), or Ed25519 (RFC 8410: no
 * parameters, 32 octets).  Such bytes go into the certificate and the
 * SPKI hash as they are, with no encoder/decoder round trip (OpenSSL 3.0's
 * are slow and lock-heavy); any other key takes the general path, so the
 * hashes stay comparable with the stored ones.  NULL otherwise.
 */
X509_PUBKEY *
ca_req_canonical_spki(X509_REQ *csr)
{
	X509_PUBKEY *xp = X509_REQ_get_X509_PUBKEY(csr);
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	const void *pval = NULL;
	X509_ALGOR *a = NULL;
	int pklen = 0, ptype = V_ASN1_UNDEF;

	if (xp == NULL || X509_PUBKEY_get0_param(&alg, &pk, &pklen, &a, xp) !=
	    1 || a == NULL || pk == NULL)
		return NULL;
	X509_ALGOR_get0(NULL, &ptype, &pval, a);
	switch (OBJ_obj2nid(alg)) {
	case NID_X9_62_id_ecPublicKey:
		return ptype == V_ASN1_OBJECT && pklen > 1 && pk[0] == 0x04 ?
		    xp : NULL;
	case NID_ED25519:
		return ptype == V_ASN1_UNDEF && pklen == 32 ? xp : NULL;
	default:
		return NULL;
	}
}

/* Puts src's algorithm and key bits into x's (fresh) SubjectPublicKeyInfo.
 * The certificate then has no decoded EVP_PKEY cached: X509_get0_pubkey()
 * on it returns NULL (callers use the request's key). */
static int
copy_spki(X509 *x, X509_PUBKEY *src)
{
	X509_PUBKEY *dst = X509_get_X509_PUBKEY(x);
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	X509_ALGOR *sa = NULL, *da = NULL;
	unsigned char *copy;
	int pklen = 0;

	if (dst == NULL || X509_PUBKEY_get0_param(&alg, &pk, &pklen, &sa,
	    src) != 1 || pklen <= 0)
		return -1;
	if ((copy = OPENSSL_memdup(pk, (size_t)pklen)) == NULL)
		return -1;
	/* set0 takes copy; the algorithm is then copied whole (OID and
	 * parameters) over what set0 wrote. */
	if (X509_PUBKEY_set0_param(dst, OBJ_nid2obj(OBJ_obj2nid(alg)),
	    V_ASN1_UNDEF, NULL, copy, pklen) != 1) {
		OPENSSL_free(copy);
		return -1;
	}
	if (X509_PUBKEY_get0_param(NULL, NULL, NULL, &da, dst) != 1 ||
	    da == NULL || X509_ALGOR_copy(da, sa) != 1)
		return -1;
	return 0;
}

/* Builds and signs the certificate; NULL on failure (logged). */
static X509 *
build_cert(const struct ca_signer *s, const struct ca_profile *prof,
    const struct tbs *t)
{
	X509 *x;
	int ok = 0;

	if ((x = X509_new()) == NULL)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    ca_serial_set(x, t->serial, sizeof(t->serial)) != 0 ||
	    X509_set_issuer_name(x, X509_get_subject_name(s->cert)) != 1 ||
	    X509_set_subject_name(x, t->subject) != 1 ||
	    ca_x509_set_validity(x, t->nb, t->na) != 0 ||
	    (t->spki != NULL ? copy_spki(x, t->spki) != 0 :
	    X509_set_pubkey(x, t->pub) != 1))
		goto out;
	if (ca_x509_add_bc(x, 0, -1) != 0 ||
	    ca_x509_add_ext(x, prof->ext_ku) != 0 ||
	    (prof->ext_eku != NULL && ca_x509_add_ext(x, prof->ext_eku) != 0) ||
	    ca_x509_add_ski(x) != 0 ||
	    ca_x509_add_ext(x, s->aki) != 0)
		goto out;
	/* RFC 5280 4.2.1.6: SAN is critical when the subject is empty. */
	if (sk_GENERAL_NAME_num(t->san) > 0 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, t->san,
	    X509_NAME_entry_count(t->subject) == 0, X509V3_ADD_REPLACE) != 1)
		goto out;
	if (ca_x509_add_ext(x, s->aia) != 0 ||
	    ca_x509_add_ext(x, s->cdp) != 0 ||
	    (s->freshest != NULL && ca_x509_add_ext(x, s->freshest) != 0))
		goto out;
	if (ca_x509_sign(x, s->key) != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		log_openssl("issue: building certificate");
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ---- the certificate written by hand ------------------------------------ */

/*
 * The DER path writes exactly the bytes build_cert's X509 object would
 * encode to (tests/unit/ca/check_issue.c compares them), without making
 * the object: OpenSSL 3.0 spends more on duplicating, setting and
 * encoding (twice) ASN.1 objects than on the ECDSA signature.
 */

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050,
 * both in Z form with seconds, as ASN1_TIME_set writes them. */
static int
time_put(struct ca_dbuf *b, time_t t)
{
	struct tm tm;
	char v[32];
	int n, y;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	y = tm.tm_year + 1900;
	if (y >= 1950 && y < 2050)
		n = snprintf(v, sizeof(v), "%02d%02d%02d%02d%02d%02dZ",
		    y % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
	else if (y >= 0 && y <= 9999)
		n = snprintf(v, sizeof(v), "%04d%02d%02d%02d%02d%02dZ", y,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
	else
		return -1;
	ca_dbuf_tlv(b, y >= 1950 && y < 2050 ? 0x17 : 0x18, v, (size_t)n);
	return 0;
}

/* subjectKeyIdentifier (RFC 5280 4.2.1.2 method 1: SHA-1 of the
 * subjectPublicKey bits), not critical, from the SPKI TLV. */
static int
ski_put(const struct ca_signer *s, struct ca_dbuf *b,
    const unsigned char *spki, size_t spki_len)
{
	static const unsigned char head[] = {
		0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e,	/* id-ce 14 */
		0x04, 0x16, 0x04, 0x14 };
	const unsigned char *p = spki, *v, *bits;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t vlen, bitslen;

	if (!der_expect(&p, spki + spki_len, 0x30, NULL, NULL, &v, &vlen) ||
	    p != spki + spki_len)
		return -1;
	p = v;
	if (!der_expect(&p, v + vlen, 0x30, NULL, NULL, NULL, NULL) ||
	    !der_expect(&p, v + vlen, 0x03, NULL, NULL, &bits, &bitslen) ||
	    p != v + vlen || bitslen < 2 || bits[0] != 0)
		return -1;
	if (EVP_Digest(bits + 1, bitslen - 1, md, &mdlen, s->sha1, NULL) !=
	    1 || mdlen != 20)
		return -1;
	ca_dbuf_put(b, head, sizeof(head));
	ca_dbuf_put(b, md, mdlen);
	return 0;
}

/* subjectAltName from the names build_names made: dNSName [2],
 * uniformResourceIdentifier [6] (IA5String), iPAddress [7]; critical
 * when the subject is empty (RFC 5280 4.2.1.6). */
static int
san_put(struct ca_dbuf *b, GENERAL_NAMES *san, int critical)
{
	static const unsigned char oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x11 };
	static const unsigned char crit[] = { 0x01, 0x01, 0xff };
	struct ca_dbuf names = { 0 };
	int rc = -1;

	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		int type;
		void *v = GENERAL_NAME_get0_value(g, &type);
		const ASN1_STRING *str = v;

		if (type != GEN_DNS && type != GEN_URI && type != GEN_IPADD)
			goto out;
		ca_dbuf_tlv(&names, (unsigned char)(0x80 | type),
		    ASN1_STRING_get0_data(str),
		    (size_t)ASN1_STRING_length(str));
	}
	if (names.failed)
		goto out;
	/* Extension ::= SEQUENCE { OID, critical BOOLEAN DEFAULT FALSE,
	 * OCTET STRING { GeneralNames } } */
	{
		size_t seq = 2 + (names.len < 0x80 ? 0 :
		    names.len <= 0xff ? 1 : 2) + names.len;
		size_t oct = 2 + (seq < 0x80 ? 0 : seq <= 0xff ? 1 : 2) + seq;
		size_t ext = sizeof(oid) + (critical ? sizeof(crit) : 0) + oct;

		if (names.len > 0xffff)
			goto out;
		ca_dbuf_hdr(b, 0x30, ext);
		ca_dbuf_put(b, oid, sizeof(oid));
		if (critical)
			ca_dbuf_put(b, crit, sizeof(crit));
		ca_dbuf_hdr(b, 0x04, seq);
		ca_dbuf_hdr(b, 0x30, names.len);
		ca_dbuf_put(b, names.p, names.len);
	}
	rc = 0;
out:
	ca_dbuf_clear(&names);
	return rc;
}

/* Signs tbs with the signer's key: a copy of the shared template, or a
 * context set up afresh when the key's contexts do not copy.  *sig is
 * OPENSSL_malloc'd (caller frees).  0 or -1. */
static int
sign_tbs(const struct ca_signer *s, const unsigned char *tbs, size_t len,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *m;
	int rc = -1;

	*sig = NULL;
	if ((m = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (s->sign_tmpl != NULL) {
		if (EVP_MD_CTX_copy_ex(m, s->sign_tmpl) != 1)
			goto out;
		/* Sign in this context: no second copy inside Final. */
		EVP_MD_CTX_set_flags(m, EVP_MD_CTX_FLAG_FINALISE);
	} else if (EVP_DigestSignInit_ex(m, NULL,
	    ca_x509_digest_name(s->key), NULL, NULL, s->key, NULL) != 1)
		goto out;
	if ((*sig = OPENSSL_malloc(s->sig_max)) == NULL)
		goto out;
	*siglen = s->sig_max;
	if (EVP_DigestSign(m, *sig, siglen, tbs, len) != 1 || *siglen == 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		OPENSSL_free(*sig);
		*sig = NULL;
	}
	EVP_MD_CTX_free(m);
	return rc;
}

/*
 * The certificate build_cert would make, written directly: version 3,
 * serial, signature algorithm, issuer, validity, subject, the request's
 * SPKI, then the extensions in build_cert's order (basicConstraints,
 * keyUsage, extKeyUsage, SKI, AKI, SAN, AIA, CDP, Freshest CRL).  *out is
 * OPENSSL_malloc'd (caller frees).  CA_OK or CA_ERR_INTERNAL (logged).
 */
static enum ca_err
cert_der(const struct ca_signer *s, const struct ca_profile *prof,
    const struct tbs *t, unsigned char **out, size_t *outlen)
{
	/* RFC 5280 4.2.1.9: critical, cA FALSE (the DEFAULT, so omitted). */
	static const unsigned char bc_leaf[] = {
		0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff,
		0x04, 0x02, 0x30, 0x00 };
	static const unsigned char v3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };
	struct ca_dbuf ext = { 0 }, val = { 0 }, body = { 0 }, tbs = { 0 };
	struct ca_dbuf cert = { 0 };
	unsigned char *subj = NULL, *sig = NULL;
	size_t siglen = 0;
	enum ca_err e = CA_ERR_INTERNAL;
	int n;

	*out = NULL;
	*outlen = 0;
	/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension */
	ca_dbuf_put(&ext, bc_leaf, sizeof(bc_leaf));
	ext_put(&ext, prof->ext_ku);
	if (prof->ext_eku != NULL)
		ext_put(&ext, prof->ext_eku);
	if (ski_put(s, &ext, t->spki_der, t->spki_der_len) != 0)
		goto out;
	ca_dbuf_put(&ext, s->aki_der, s->aki_len);
	if (sk_GENERAL_NAME_num(t->san) > 0 && san_put(&ext, t->san,
	    X509_NAME_entry_count(t->subject) == 0) != 0)
		goto out;
	ca_dbuf_put(&ext, s->tail_der, s->tail_len);
	if (ext.failed)
		goto out;
	/* Validity ::= SEQUENCE { notBefore, notAfter } */
	if (time_put(&val, t->nb) != 0 || time_put(&val, t->na) != 0 ||
	    val.failed)
		goto out;
	/* X509_NAME is not const in i2d; this one is the request's own. */
	if ((n = i2d_X509_NAME(t->subject, &subj)) <= 0)
		goto out;
	ca_dbuf_put(&body, v3, sizeof(v3));
	ca_dbuf_tlv(&body, 0x02, t->serial, sizeof(t->serial));
	ca_dbuf_put(&body, s->sigalg_der, s->sigalg_len);
	ca_dbuf_put(&body, s->issuer_der, s->issuer_len);
	ca_dbuf_tlv(&body, 0x30, val.p, val.len);
	ca_dbuf_put(&body, subj, (size_t)n);
	ca_dbuf_put(&body, t->spki_der, t->spki_der_len);
	/* [3] EXPLICIT Extensions */
	ca_dbuf_hdr(&body, 0xa3, ext.len + 2 + (ext.len < 0x80 ? 0 :
	    ext.len <= 0xff ? 1 : 2));
	if (ext.len > 0xffff)
		goto out;
	ca_dbuf_tlv(&body, 0x30, ext.p, ext.len);
	ca_dbuf_tlv(&tbs, 0x30, body.p, body.len);
	if (body.failed || tbs.failed ||
	    sign_tbs(s, tbs.p, tbs.len, &sig, &siglen) != 0)
		goto out;
	/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING
	 * (no unused bits) } */
	ca_dbuf_hdr(&cert, 0x30, tbs.len + s->sigalg_len +
	    (1 + (siglen + 1 < 0x80 ? 1 : siglen + 1 <= 0xff ? 2 : 3)) +
	    1 + siglen);
	ca_dbuf_put(&cert, tbs.p, tbs.len);
	ca_dbuf_put(&cert, s->sigalg_der, s->sigalg_len);
	ca_dbuf_hdr(&cert, 0x03, siglen + 1);
	ca_dbuf_put(&cert, "", 1);		/* the unused-bits octet */
	ca_dbuf_put(&cert, sig, siglen);
	if (dbuf_move(&cert, out, outlen) != 0)
		goto out;
	e = CA_OK;
out:
	if (e != CA_OK)
		log_openssl("issue: writing certificate");
	OPENSSL_free(subj);
	OPENSSL_free(sig);
	ca_dbuf_clear(&ext);
	ca_dbuf_clear(&val);
	ca_dbuf_clear(&body);
	ca_dbuf_clear(&tbs);
	ca_dbuf_clear(&cert);
	return e;
}

/* One-line RFC 2253 subject for the db row (truncated to fit). */
static void
subject_line(X509_NAME *n, char *out, size_t outlen)
{
	BIO *b;
	char *data;
	long len;

	/* Without a BIO for the usual names (the same text). */
	if (ca_x509_name_rfc2253(n, out, outlen) == 0)
		return;
	out[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) > 0)
		snprintf(out, outlen, "%.*s", (int)len, data);
	BIO_free(b);
}

static int
sha256_of(const unsigned char *p, size_t n, unsigned char md[DB_HASH_LEN])
{
	unsigned int mdl = 0;

	if (EVP_Digest(p, n, md, &mdl, EVP_sha256(), NULL) != 1 ||
	    mdl != DB_HASH_LEN) {
		log_openssl("SHA-256");
		return -1;
	}
	return 0;
}

/* SHA-256 of the key's SubjectPublicKeyInfo DER, so the RA can tell a
 * new key from a reused one without parsing stored certificates. */
static int
spki_sha256(EVP_PKEY *pub, unsigned char md[DB_HASH_LEN])
{
	unsigned char *der = NULL;
	int n, rc;

	if ((n = i2d_PUBKEY(pub, &der)) <= 0) {
		log_openssl("i2d_PUBKEY");
		return -1;
	}
	rc = sha256_of(der, (size_t)n, md);
	OPENSSL_free(der);
	return rc;
}

int
ca_csr_spki_sha256(X509_REQ *csr, unsigned char md[DB_HASH_LEN])
{
	X509_PUBKEY *xp;
	EVP_PKEY *pub;
	unsigned char *der = NULL;
	int n, rc;

	if (csr == NULL)
		return -1;
	/* Canonical bytes hash as they are: what i2d_PUBKEY would give. */
	if ((xp = ca_req_canonical_spki(csr)) != NULL) {
		if ((n = i2d_X509_PUBKEY(xp, &der)) <= 0)
			return -1;
		rc = sha256_of(der, (size_t)n, md);
		OPENSSL_free(der);
		return rc;
	}
	if ((pub = X509_REQ_get0_pubkey(csr)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	return spki_sha256(pub, md);
}

/* A signed certificate not yet in the store (see ca.h). */
struct ca_prepared {
	struct ca_signer *s;			/* borrowed */
	const struct ca_profile *prof;		/* borrowed */
	struct ca_issue_req req;		/* copy; csr etc. borrowed */
	X509_NAME *subject;			/* owned */
	GENERAL_NAMES *san;			/* owned */
	struct tbs t;				/* borrows the above */
	unsigned char *spki_own;		/* t.spki_der when the request
						 * lends none; OPENSSL_free */
	X509 *cert;				/* owned; NULL once taken, and
						 * on the DER path */
	struct db_cert row;			/* row.der owned (OPENSSL_free);
						 * NULL once taken */
};

/* The DER path applies: a signer with its pieces and a request SPKI
 * that goes into the certificate as it is. */
int ca_issue_der_path = 1;

static int
prepared_fast(const struct ca_prepared *p)
{
	return ca_issue_der_path && p->s->fast && p->t.spki != NULL &&
	    p->t.spki_der != NULL;
}

/* Draws a serial (no store look-up: the insert settles uniqueness) and
 * builds, signs and encodes the certificate and its row. */
static enum ca_err
prepared_sign(struct ca_prepared *p)
{
	unsigned char *der = NULL;
	X509 *x;
	int len;

	X509_free(p->cert);
	p->cert = NULL;
	OPENSSL_free(p->row.der);
	p->row.der = NULL;
	if (ca_serial_draw(p->t.serial) != 0)
		return CA_ERR_INTERNAL;
	if (prepared_fast(p)) {
		enum ca_err e;

		if ((e = cert_der(p->s, p->prof, &p->t, &p->row.der,
		    &p->row.der_len)) != CA_OK)
			return e;
		memcpy(p->row.serial, p->t.serial, sizeof(p->t.serial));
		p->row.serial_len = sizeof(p->t.serial);
		return CA_OK;
	}
	if ((x = build_cert(p->s, p->prof, &p->t)) == NULL)
		return CA_ERR_INTERNAL;
	if ((len = i2d_X509(x, &der)) <= 0) {
		log_openssl("i2d_X509");
		X509_free(x);
		return CA_ERR_INTERNAL;
	}
	p->cert = x;
	memcpy(p->row.serial, p->t.serial, sizeof(p->t.serial));
	p->row.serial_len = sizeof(p->t.serial);
	p->row.der = der;
	p->row.der_len = (size_t)len;
	return CA_OK;
}

void
ca_prepared_free(struct ca_prepared *p)
{
	if (p == NULL)
		return;
	X509_NAME_free(p->subject);
	GENERAL_NAMES_free(p->san);
	X509_free(p->cert);
	OPENSSL_free(p->row.der);
	OPENSSL_free(p->spki_own);
	free(p);
}

X509 *
ca_prepared_cert(const struct ca_prepared *p)
{
	return p != NULL ? p->cert : NULL;
}

X509 *
ca_prepared_take(struct ca_prepared *p)
{
	const unsigned char *d;
	X509 *x;

	if (p == NULL)
		return NULL;
	if ((x = p->cert) == NULL && (d = p->row.der) != NULL) {
		/* The DER path made no object: decode one (d2i advances
		 * its argument, d is a copy). */
		if ((x = d2i_X509(NULL, &d, (long)p->row.der_len)) == NULL)
			log_openssl("issue: d2i_X509 of our certificate");
		else if (d != p->row.der + p->row.der_len) {
			X509_free(x);
			x = NULL;
		}
		if (x == NULL)
			return NULL;
		OPENSSL_free(p->row.der);
		p->row.der = NULL;
		p->row.der_len = 0;
	}
	p->cert = NULL;
	return x;
}

const unsigned char *
ca_prepared_der(const struct ca_prepared *p, size_t *len)
{
	if (p == NULL || p->row.der == NULL)
		return NULL;
	*len = p->row.der_len;
	return p->row.der;
}

unsigned char *
ca_prepared_take_der(struct ca_prepared *p, size_t *len)
{
	unsigned char *d;

	if (p == NULL || p->row.der == NULL)
		return NULL;
	d = p->row.der;
	*len = p->row.der_len;
	p->row.der = NULL;
	p->row.der_len = 0;
	X509_free(p->cert);
	p->cert = NULL;
	return d;
}

void
ca_prepared_serial_hex(const struct ca_prepared *p, char *out, size_t len)
{
	if (len == 0)
		return;
	if (p == NULL)
		out[0] = '\0';
	else
		hex_lower(p->row.serial, p->row.serial_len, out, len);
}

enum ca_err
ca_issue_prepare(struct ca_signer *s, const struct ca_profile *prof,
    const struct ca_issue_req *req, int csr_verified,
    struct ca_prepared **out)
{
	struct ca_prepared *p;
	time_t now;
	enum ca_err e;

	if (out == NULL)
		return CA_ERR_INTERNAL;
	*out = NULL;
	if (s == NULL || req == NULL)
		return CA_ERR_INTERNAL;
	if (prof == NULL)
		return CA_ERR_PROFILE_UNKNOWN;
	if (req->csr == NULL && req->creq == NULL)
		return CA_ERR_MALFORMED;
	if ((e = check_request(prof, req, csr_verified)) != CA_OK) {
		log_info("issue: uid %s refused: %s", value_ok(req->uid, 1) ?
		    req->uid : "?", ca_err_name(e));
		return e;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CA_ERR_INTERNAL;
	p->s = s;
	p->prof = prof;
	p->req = *req;
	if ((e = build_names(prof, req, &p->subject, &p->san)) != CA_OK)
		goto fail;
	p->t.subject = p->subject;
	p->t.san = p->san;
	p->t.pub = req_key(req);
	p->t.spki = req->csr != NULL ? ca_req_canonical_spki(req->csr) :
	    ca_csr_canonical_spki(req->creq);
	if (p->t.spki != NULL && s->fast && (req->csr != NULL ||
	    ca_csr_spki_der(req->creq, &p->t.spki_der,
	    &p->t.spki_der_len) != 0)) {
		/* A canonical key the request lends no bytes for: encode
		 * the algorithm and bits once (what copy_spki would). */
		int n;

		if ((n = i2d_X509_PUBKEY(p->t.spki, &p->spki_own)) <= 0) {
			p->spki_own = NULL;
			log_openssl("issue: i2d_X509_PUBKEY");
			e = CA_ERR_INTERNAL;
			goto fail;
		}
		p->t.spki_der = p->spki_own;
		p->t.spki_der_len = (size_t)n;
	}
	now = ca_now();
	if (now >= s->not_after) {
		log_err("issue: CA %s has expired", s->name);
		e = CA_ERR_INTERNAL;
		goto fail;
	}
	/* Backdate a little for device clocks, never before the CA itself;
	 * never outlive the CA (RFC 5280 6.1.3 would fail the chain). */
	p->t.nb = now - BACKDATE_SECONDS;
	if (p->t.nb < s->not_before)
		p->t.nb = s->not_before;
	p->t.na = now + (time_t)prof->validity_days * 86400;
	if (p->t.na > s->not_after)
		p->t.na = s->not_after;
	p->row.ca_id = s->ca_id;
	p->row.device_id = req->device_id;
	snprintf(p->row.profile, sizeof(p->row.profile), "%s", prof->name);
	subject_line(p->subject, p->row.subject, sizeof(p->row.subject));
	p->row.not_before = p->t.nb;
	p->row.not_after = p->t.na;
	if ((e = (req->csr != NULL ? ca_csr_spki_sha256(req->csr,
	    p->row.spki_sha256) : ca_csr_spki_hash(req->creq,
	    p->row.spki_sha256)) != 0 ?
	    CA_ERR_INTERNAL : CA_OK) != CA_OK)
		goto fail;
	if ((e = prepared_sign(p)) != CA_OK)
		goto fail;
	*out = p;
	return CA_OK;
fail:
	ca_prepared_free(p);
	return e;
}

enum ca_err
ca_issue_record(struct ca_prepared *p, struct db *db, int64_t *cert_id)
{
	enum ca_err e;
	int rc = DB_EXISTS;

	if (p == NULL || db == NULL || (p->cert == NULL && p->row.der == NULL))
		return CA_ERR_INTERNAL;
	for (int i = 0; i < ISSUE_TRIES; i++) {
		if (i > 0) {
			log_warn("issue: serial taken at insert, drawing "
			    "again");
			if ((e = prepared_sign(p)) != CA_OK)
				return e;
		}
		p->row.issued_at = ca_now();
		if ((rc = db_cert_insert(db, &p->row, cert_id)) != DB_EXISTS)
			break;
	}
	if (rc != DB_OK) {
		if (rc != DB_EXISTS)
			log_err("issue: storing certificate: %s",
			    db_errmsg(db));
		return CA_ERR_STORE;
	}
	if (log_get_level() >= LOG_LVL_INFO) {
		char hex[2 * CA_SERIAL_LEN + 1];

		hex_lower(p->t.serial, CA_SERIAL_LEN, hex, sizeof(hex));
		log_info("issued serial %s profile %s uid %s device %lld",
		    hex, p->prof->name, p->req.uid,
		    (long long)p->req.device_id);
	}
	return CA_OK;
}

enum ca_err
ca_issue(struct ca_signer *s, struct db *db, const struct ca_profile *prof,
    const struct ca_issue_req *req, X509 **out, int64_t *cert_id)
{
	struct ca_prepared *p = NULL;
	enum ca_err e;

	if (out == NULL)
		return CA_ERR_INTERNAL;
	*out = NULL;
	if (s == NULL || db == NULL || req == NULL)
		return CA_ERR_INTERNAL;
	/* The one-call form checks everything itself and hands back a
	 * certificate with its public key decoded (the general path). */
	if ((e = ca_issue_prepare(s, prof, req, 0, &p)) != CA_OK)
		return e;
	if (p->t.spki != NULL) {
		p->t.spki = NULL;
		if ((e = prepared_sign(p)) != CA_OK)
			goto out;
	}
	if ((e = ca_issue_record(p, db, cert_id)) == CA_OK)
		*out = ca_prepared_take(p);
out:
	ca_prepared_free(p);
	return e;
}

enum ca_err
ca_issue_commit(struct ca_signer *s, struct db *db,
    const struct ca_profile *prof, const struct ca_issue_req *req,
    X509 **out, int64_t *cert_id)
{
	enum ca_err e;

	if (out == NULL || db == NULL)
		return CA_ERR_INTERNAL;
	*out = NULL;
	if (db_begin(db) != DB_OK) {
		log_err("issue: begin: %s", db_errmsg(db));
		return CA_ERR_STORE;
	}
	if ((e = ca_issue(s, db, prof, req, out, cert_id)) != CA_OK) {
		db_rollback(db);
		return e;
	}
	if (db_commit(db) != DB_OK) {
		log_err("issue: commit: %s", db_errmsg(db));
		db_rollback(db);
		X509_free(*out);
		*out = NULL;
		return CA_ERR_STORE;
	}
	return CA_OK;
}
