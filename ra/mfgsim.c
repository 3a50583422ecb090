/*
 * mfgsim.c - simulated secure-element manufacturer (see mfgsim.h).
 *
 * Chips are independent, so generation runs on worker threads that take
 * indices from an atomic counter; the vendor keys and certificates are
 * only read once mfgsim_new() has returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/log.h"
#include "ra/jws.h"
#include "ra/mfgsim.h"

#define SIM_DAY		86400
#define SIM_YEAR	(365 * SIM_DAY)
#define SIM_ORG		"Microchip Technology Inc"
#define SIM_THREADS_MAX	64
#define SIM_BATCH	2048

struct sim_chip {
	char		 uid[19];	/* 9 bytes, lower-case hex */
	EVP_PKEY	*key;		/* slot 0, owned */
	X509		*cert;		/* IDevID, owned */
	char		*payload;	/* payload JSON text, owned */
	char		*entry;		/* entry JSON text, owned */
	char		*line;		/* bulk mode: devices.txt line */
	int		 counterfeit;
};

/* A CA or signer: key and certificate, owned. */
struct sim_party {
	EVP_PKEY	*key;
	X509		*cert;
	char		*prot;		/* signers: b64url protected header */
	char		*prot_none;	/* signers: same with alg none */
	char		*x5c;		/* CAs: base64 DER for x5c */
};

struct mfgsim {
	time_t		 now;
	unsigned char	 batch[2];	/* random uid bytes for this sim */
	unsigned int	 counter;	/* next chip number (atomic) */
	struct sim_party root, signer_ca, expired_ca, rogue_ca, signer, rogue;
	struct sim_chip	*chips;
	size_t		 chipsz;
};

static void
sim_party_free(struct sim_party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	free(p->prot);
	free(p->prot_none);
	free(p->x5c);
}

static void
sim_chip_free(struct sim_chip *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->payload);
	free(c->entry);
	free(c->line);
	memset(c, 0, sizeof(*c));
}

static EVP_PKEY *
sim_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
sim_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * Issues a certificate for key with subject O=org, CN=cn, signed by
 * issuer (NULL: self-signed).  na_gt, if set, is a GeneralizedTime string
 * for notAfter.  ca: 1 CA with pathlen (pathlen < 0: none), 0 leaf.
 */
static X509 *
sim_cert(EVP_PKEY *key, const char *org, const char *cn,
    const struct sim_party *issuer, time_t nb, time_t na, const char *na_gt,
    int ca, int pathlen)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	unsigned char serial[16];
	X509V3_CTX ctx;
	char bc[64];
	int ok = 0;

	if ((x = X509_new()) == NULL || X509_set_version(x, X509_VERSION_3)
	    != 1)
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] = (serial[0] & 0x7f) | 0x40;	/* positive, 16 octets */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if ((name = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)org, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer->cert) : name) != 1)
		goto out;
	if (ASN1_TIME_set(X509_getm_notBefore(x), nb) == NULL)
		goto out;
	if (na_gt != NULL ? ASN1_TIME_set_string(X509_getm_notAfter(x),
	    na_gt) != 1 : ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL)
		goto out;
	if (X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer->cert : x, x, NULL, NULL,
	    0);
	if (ca && pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d",
		    pathlen);
	else
		snprintf(bc, sizeof(bc), ca ? "critical,CA:TRUE" :
		    "critical,CA:FALSE");
	if (!sim_ext(x, &ctx, NID_basic_constraints, bc) ||
	    !sim_ext(x, &ctx, NID_key_usage, ca ?
	    "critical,keyCertSign,cRLSign" : "critical,digitalSignature") ||
	    !sim_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !sim_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (X509_sign(x, issuer != NULL ? issuer->key : key, EVP_sha256()) <=
	    0)
		goto out;
	ok = 1;
 out:
	if (!ok)
		log_openssl("mfgsim: cannot issue %s", cn);
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Builds the b64url protected header naming signer p (RFC 7515 4.1). */
static char *
sim_protected(const struct sim_party *p, const char *alg)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(p->cert);
	char *kid = NULL, *x5t = NULL, *txt = NULL, *out = NULL;
	json_t *h = NULL;

	if (ski == NULL || X509_digest(p->cert, EVP_sha256(), md, &mdlen) != 1)
		goto out;
	if ((kid = b64url_encode(ASN1_STRING_get0_data(ski),
	    (size_t)ASN1_STRING_length(ski), NULL)) == NULL ||
	    (x5t = b64url_encode(md, mdlen, NULL)) == NULL)
		goto out;
	if ((h = json_pack("{s:s, s:s, s:s, s:s}", "typ", "JWT", "alg", alg,
	    "kid", kid, "x5t#S256", x5t)) == NULL ||
	    (txt = json_dumps(h, JSON_COMPACT)) == NULL)
		goto out;
	out = b64url_encode((unsigned char *)txt, strlen(txt), NULL);
 out:
	free(kid);
	free(x5t);
	free(txt);
	json_decref(h);
	return out;
}

/* Standard padded base64 of a certificate's DER (RFC 7517 4.7). */
static char *
sim_b64_der(X509 *x)
{
	unsigned char *der = NULL;
	char *out;
	int len;

	if ((len = i2d_X509(x, &der)) <= 0)
		return NULL;
	out = b64_encode(der, (size_t)len, 0, NULL);
	OPENSSL_free(der);
	return out;
}

static int
sim_party(struct sim_party *p, const char *cn, const struct sim_party *iss,
    time_t nb, time_t na, int ca, int pathlen, int signer)
{
	if ((p->key = sim_keygen()) == NULL ||
	    (p->cert = sim_cert(p->key, SIM_ORG, cn, iss, nb, na, NULL, ca,
	    pathlen)) == NULL)
		return 0;
	if (ca && (p->x5c = sim_b64_der(p->cert)) == NULL)
		return 0;
	if (signer && ((p->prot = sim_protected(p, "ES256")) == NULL ||
	    (p->prot_none = sim_protected(p, "none")) == NULL))
		return 0;
	return 1;
}

struct mfgsim *
mfgsim_new(time_t now, char *err, size_t errlen)
{
	struct mfgsim *sim;
	time_t t = now;

	if ((sim = calloc(1, sizeof(*sim))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sim->now = now;
	if (RAND_bytes(sim->batch, sizeof(sim->batch)) != 1 ||
	    !sim_party(&sim->root, "Simulated Manufacturer Root CA", NULL,
	    t - 10 * SIM_YEAR, t + 40 * SIM_YEAR, 1, -1, 0) ||
	    !sim_party(&sim->signer_ca, "Simulated Signer CA 2C00",
	    &sim->root, t - 5 * SIM_YEAR, t + 20 * SIM_YEAR, 1, 0, 0) ||
	    !sim_party(&sim->expired_ca, "Simulated Signer CA 1B00",
	    &sim->root, t - 3 * SIM_YEAR, t - 30 * SIM_DAY, 1, 0, 0) ||
	    !sim_party(&sim->rogue_ca, "Rogue Signer CA", NULL,
	    t - 5 * SIM_YEAR, t + 20 * SIM_YEAR, 1, 0, 0) ||
	    !sim_party(&sim->signer, "Simulated Manifest Signer", &sim->root,
	    t - 5 * SIM_YEAR, t + 20 * SIM_YEAR, 0, -1, 1) ||
	    !sim_party(&sim->rogue, "Rogue Manifest Signer", NULL,
	    t - 5 * SIM_YEAR, t + 20 * SIM_YEAR, 0, -1, 1)) {
		snprintf(err, errlen, "mfgsim: cannot create the vendor PKI");
		mfgsim_free(sim);
		return NULL;
	}
	return sim;
}

void
mfgsim_free(struct mfgsim *sim)
{
	if (sim == NULL)
		return;
	sim_party_free(&sim->root);
	sim_party_free(&sim->signer_ca);
	sim_party_free(&sim->expired_ca);
	sim_party_free(&sim->rogue_ca);
	sim_party_free(&sim->signer);
	sim_party_free(&sim->rogue);
	for (size_t i = 0; i < sim->chipsz; i++)
		sim_chip_free(&sim->chips[i]);
	free(sim->chips);
	free(sim);
}

X509 *
mfgsim_root(const struct mfgsim *sim)
{
	return sim->root.cert;
}

X509 *
mfgsim_signer_ca(const struct mfgsim *sim)
{
	return sim->signer_ca.cert;
}

X509 *
mfgsim_manifest_signer(const struct mfgsim *sim)
{
	return sim->signer.cert;
}

int
mfgsim_trust(const struct mfgsim *sim, struct ra_trust *t, char *err,
    size_t errlen)
{
	return ra_trust_add_manufacturer(t, sim->root.cert, 1, err, errlen) &&
	    ra_trust_add_manifest_signer(t, sim->signer.cert, err, errlen);
}

/* ---- chips ------------------------------------------------------------ */

/* ATECC608-shaped 9-byte serial: 01 23 | 2 random | 4 counter | 01. */
static void
sim_uid(const struct mfgsim *sim, unsigned int n, char out[19])
{
	unsigned char b[9] = { 0x01, 0x23, sim->batch[0], sim->batch[1],
	    (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	    (unsigned char)(n >> 8), (unsigned char)n, 0x01 };

	hex_lower(b, sizeof(b), out, 19);
}

/* JWS signature (RFC 7518 3.4 raw r||s, b64url) over prot "." pay. */
static char *
sim_sign(const struct sim_party *p, const char *prot, const char *pay)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL, raw[64];
	size_t derlen = 0;
	char *out = NULL;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, p->key) != 1 ||
	    EVP_DigestSignUpdate(ctx, prot, strlen(prot)) != 1 ||
	    EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
	    EVP_DigestSignUpdate(ctx, pay, strlen(pay)) != 1 ||
	    EVP_DigestSignFinal(ctx, NULL, &derlen) != 1 ||
	    (der = OPENSSL_malloc(derlen)) == NULL ||
	    EVP_DigestSignFinal(ctx, der, &derlen) != 1)
		goto out;
	if (!ra_jws_ecdsa_der_to_raw(der, derlen, 32, raw))
		goto out;
	out = b64url_encode(raw, sizeof(raw), NULL);
 out:
	if (out == NULL)
		log_openssl("mfgsim: signing failed");
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return out;
}

/* RFC 7518 6.2.1 EC public JWK for key k in slot kid. */
static json_t *
sim_jwk(EVP_PKEY *k, const char *kid)
{
	unsigned char pt[65];
	size_t len = 0;
	char *x = NULL, *y = NULL;
	json_t *j = NULL;

	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    sizeof(pt), &len) != 1 || len != 65 || pt[0] != 0x04)
		goto out;
	if ((x = b64url_encode(pt + 1, 32, NULL)) == NULL ||
	    (y = b64url_encode(pt + 33, 32, NULL)) == NULL)
		goto out;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kid", kid, "kty", "EC",
	    "crv", "P-256", "x", x, "y", y);
 out:
	free(x);
	free(y);
	return j;
}

static char *
sim_entry_text(const char *pay, const char *prot, const char *uid,
    const char *sig)
{
	json_t *e;
	char *out;

	if ((e = json_pack("{s:s, s:s, s:{s:s}, s:s}", "payload", pay,
	    "protected", prot, "header", "uniqueId", uid, "signature",
	    sig)) == NULL)
		return NULL;
	out = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return out;
}

static char *
sim_dump_b64url(json_t *j, char **text)
{
	free(*text);
	if ((*text = json_dumps(j, JSON_COMPACT)) == NULL)
		return NULL;
	return b64url_encode((unsigned char *)*text, strlen(*text), NULL);
}

/* Makes chip number n into c.  Returns 1, or 0 (c partly filled; the
 * caller frees it with sim_chip_free()). */
static int
sim_chip_make(const struct mfgsim *sim, unsigned int n,
    enum mfgsim_tamper tamper, struct sim_chip *c)
{
	const struct sim_party *iss = &sim->signer_ca, *sgn = &sim->signer;
	time_t prov = sim->now - SIM_DAY;
	EVP_PKEY *key1 = NULL;
	json_t *pl = NULL, *s0 = NULL, *s1 = NULL;
	char cn[64], other[19], ts[64], *certb64 = NULL, *pay = NULL;
	char *sig = NULL, *junk = NULL;
	struct tm tm;
	int ok = 0;

	if (tamper == MFGSIM_EXPIRED_CHAIN) {
		iss = &sim->expired_ca;
		prov = sim->now - SIM_YEAR;
	} else if (tamper == MFGSIM_ROGUE_CA) {
		iss = &sim->rogue_ca;
	}
	if (tamper == MFGSIM_UNTRUSTED_SIGNER)
		sgn = &sim->rogue;
	sim_uid(sim, n, c->uid);
	sim_uid(sim, n ^ 0x80000000u, other);
	snprintf(cn, sizeof(cn), "sn%s", tamper == MFGSIM_WRONG_SUBJECT ?
	    other : c->uid);
	for (char *p = cn + 2; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if ((c->key = sim_keygen()) == NULL || (key1 = sim_keygen()) == NULL)
		goto out;
	if ((c->cert = sim_cert(c->key, SIM_ORG, cn, iss, prov, 0,
	    "99991231235959Z", 0, -1)) == NULL ||
	    (certb64 = sim_b64_der(c->cert)) == NULL)
		goto out;
	if (gmtime_r(&prov, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S.123Z", &tm) == 0)
		goto out;
	if ((s0 = sim_jwk(tamper == MFGSIM_KEY_MISMATCH ? key1 : c->key,
	    "0")) == NULL || (s1 = sim_jwk(key1, "1")) == NULL ||
	    json_object_set_new(s0, "x5c", json_pack("[s, s]", certb64,
	    iss->x5c)) != 0)
		goto out;
	pl = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, "
	    "s:{s:s, s:s}, s:s, s:s, s:{s:[O, O]}}",
	    "version", 1, "model", "ATECC608B",
	    "partNumber", "ATECC608B-TFLXTLS",
	    "manufacturer", "organizationName", SIM_ORG,
	    "organizationalUnitName", "Secure Products Group",
	    "provisioner", "organizationName", SIM_ORG,
	    "organizationalUnitName", "Secure Products Group",
	    "distributor", "organizationName", "Simulated Distributor",
	    "organizationalUnitName", "Reels",
	    "provisioningTimestamp", ts, "uniqueId", c->uid,
	    "publicKeySet", "keys", s0, s1);
	if (pl == NULL || (pay = sim_dump_b64url(pl, &c->payload)) == NULL)
		goto out;
	if (tamper == MFGSIM_ALG_NONE) {
		sig = strdup("");
	} else if (tamper == MFGSIM_COPY_SIGNATURE) {
		/* A valid signature, but over another chip's entry. */
		if (json_object_set_new(pl, "uniqueId", json_string(other)) !=
		    0 || (junk = sim_dump_b64url(pl, &c->payload)) == NULL)
			goto out;
		sig = sim_sign(sgn, sgn->prot, junk);
		if (json_object_set_new(pl, "uniqueId",
		    json_string(c->uid)) != 0)
			goto out;
		free(pay);
		if ((pay = sim_dump_b64url(pl, &c->payload)) == NULL)
			goto out;
	} else {
		sig = sim_sign(sgn, sgn->prot, pay);
	}
	if (sig == NULL)
		goto out;
	if (tamper == MFGSIM_TAMPER_PAYLOAD) {
		if (json_object_set_new(pl, "model",
		    json_string("ATECC608A")) != 0)
			goto out;
		free(pay);
		if ((pay = sim_dump_b64url(pl, &c->payload)) == NULL)
			goto out;
	}
	if ((c->entry = sim_entry_text(pay, tamper == MFGSIM_ALG_NONE ?
	    sgn->prot_none : sgn->prot, tamper == MFGSIM_UID_MISMATCH ?
	    other : c->uid, sig)) == NULL)
		goto out;
	c->counterfeit = tamper == MFGSIM_COUNTERFEIT;
	ok = 1;
 out:
	EVP_PKEY_free(key1);
	json_decref(s0);
	json_decref(s1);
	json_decref(pl);
	free(certb64);
	free(pay);
	free(junk);
	free(sig);
	ERR_clear_error();
	return ok;
}

/* "uid b64(PKCS#8) b64(cert)\n" for c; the key DER is wiped. */
static char *
sim_line(const struct sim_chip *c)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *kder = NULL, *cder = NULL;
	char *k64 = NULL, *c64 = NULL, *line = NULL;
	int klen = 0, clen;
	size_t n;

	if ((p8 = EVP_PKEY2PKCS8(c->key)) == NULL ||
	    (klen = i2d_PKCS8_PRIV_KEY_INFO(p8, &kder)) <= 0 ||
	    (clen = i2d_X509(c->cert, &cder)) <= 0)
		goto out;
	if ((k64 = b64_encode(kder, (size_t)klen, 0, NULL)) == NULL ||
	    (c64 = b64_encode(cder, (size_t)clen, 0, NULL)) == NULL)
		goto out;
	n = strlen(c->uid) + strlen(k64) + strlen(c64) + 4;
	if ((line = malloc(n)) != NULL)
		snprintf(line, n, "%s %s %s\n", c->uid, k64, c64);
 out:
	if (kder != NULL)
		OPENSSL_clear_free(kder, (size_t)klen);
	if (k64 != NULL)
		OPENSSL_clear_free(k64, strlen(k64));
	OPENSSL_free(cder);
	free(c64);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return line;
}

struct sim_job {
	struct mfgsim		*sim;
	struct sim_chip		*chips;
	size_t			 n;
	size_t			 next;		/* atomic */
	enum mfgsim_tamper	 tamper;
	int			 lines;
	int			 failed;	/* atomic flag */
};

static void *
sim_worker(void *arg)
{
	struct sim_job *job = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) <
	    job->n) {
		unsigned int num = __atomic_fetch_add(&job->sim->counter, 1,
		    __ATOMIC_RELAXED);
		struct sim_chip *c = &job->chips[i];

		if (!sim_chip_make(job->sim, num, job->tamper, c) ||
		    (job->lines && (c->line = sim_line(c)) == NULL))
			__atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
	}
	ERR_clear_error();
	return NULL;
}

static int
sim_run(struct sim_job *job, int nthreads)
{
	pthread_t tids[SIM_THREADS_MAX];
	int started = 0;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > SIM_THREADS_MAX)
		nthreads = SIM_THREADS_MAX;
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&tids[started], NULL, sim_worker, job) == 0)
			started++;
	sim_worker(job);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	return !job->failed;
}

int
mfgsim_add_chips(struct mfgsim *sim, size_t n, enum mfgsim_tamper tamper,
    int nthreads)
{
	struct sim_chip *nc;
	struct sim_job job;

	if (n == 0)
		return 1;
	if ((nc = reallocarray(sim->chips, sim->chipsz + n, sizeof(*nc))) ==
	    NULL)
		return 0;
	sim->chips = nc;
	memset(nc + sim->chipsz, 0, n * sizeof(*nc));
	memset(&job, 0, sizeof(job));
	job.sim = sim;
	job.chips = nc + sim->chipsz;
	job.n = n;
	job.tamper = tamper;
	/* Counted in even on failure, so that mfgsim_free() frees them. */
	sim->chipsz += n;
	return sim_run(&job, nthreads);
}

size_t
mfgsim_chip_count(const struct mfgsim *sim)
{
	return sim->chipsz;
}

const char *
mfgsim_device_uid(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim->chips[i].uid : NULL;
}

EVP_PKEY *
mfgsim_device_key(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim->chips[i].key : NULL;
}

X509 *
mfgsim_device_cert(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim->chips[i].cert : NULL;
}

const char *
mfgsim_chip_entry(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim->chips[i].entry : NULL;
}

const char *
mfgsim_chip_payload(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim->chips[i].payload : NULL;
}

char *
mfgsim_device_line(const struct mfgsim *sim, size_t i)
{
	return i < sim->chipsz ? sim_line(&sim->chips[i]) : NULL;
}

char *
mfgsim_sign_entry(const struct mfgsim *sim, const char *payload, size_t len,
    const char *header_uid)
{
	char *pay, *sig = NULL, *out = NULL;

	if ((pay = b64url_encode((const unsigned char *)payload, len,
	    NULL)) == NULL)
		return NULL;
	if ((sig = sim_sign(&sim->signer, sim->signer.prot, pay)) != NULL)
		out = sim_entry_text(pay, sim->signer.prot, header_uid, sig);
	free(pay);
	free(sig);
	return out;
}

char *
mfgsim_manifest(const struct mfgsim *sim, size_t *len)
{
	size_t total = 4, o = 0;
	char *out;

	for (size_t i = 0; i < sim->chipsz; i++)
		if (!sim->chips[i].counterfeit && sim->chips[i].entry != NULL)
			total += strlen(sim->chips[i].entry) + 2;
	if ((out = malloc(total + 1)) == NULL)
		return NULL;
	out[o++] = '[';
	for (size_t i = 0, k = 0; i < sim->chipsz; i++) {
		size_t n;

		if (sim->chips[i].counterfeit || sim->chips[i].entry == NULL)
			continue;
		out[o++] = k++ == 0 ? '\n' : ',';
		if (k > 1)
			out[o++] = '\n';
		n = strlen(sim->chips[i].entry);
		memcpy(out + o, sim->chips[i].entry, n);
		o += n;
	}
	out[o++] = '\n';
	out[o++] = ']';
	out[o++] = '\n';
	out[o] = '\0';
	*len = o;
	return out;
}

/* ---- files ------------------------------------------------------------ */

/* Creates dir/name afresh with mode (an old file is removed first, so
 * its permissions never carry over to a key file). */
static FILE *
sim_open(const char *dir, const char *name, mode_t mode, char *err,
    size_t errlen)
{
	char path[4096];
	FILE *fp;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return NULL;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return fp;
}

static int
sim_close(FILE *fp, const char *name, int ok, char *err, size_t errlen)
{
	if (fp == NULL)
		return 0;
	if (ferror(fp) || fclose(fp) != 0) {
		if (ok)
			snprintf(err, errlen, "%s: write failed", name);
		return 0;
	}
	return ok;
}

static int
sim_write_pems(const struct mfgsim *sim, const char *dir, char *err,
    size_t errlen)
{
	static const char *names[] = { "manufacturer_root.pem",
	    "signer_ca.pem", "manifest_signer.pem" };
	X509 *certs[] = { sim->root.cert, sim->signer_ca.cert,
	    sim->signer.cert };

	for (size_t i = 0; i < 3; i++) {
		FILE *fp = sim_open(dir, names[i], 0644, err, errlen);
		int ok = fp != NULL && PEM_write_X509(fp, certs[i]) == 1;

		if (fp != NULL && !ok)
			snprintf(err, errlen, "%s: PEM write failed", names[i]);
		if (!sim_close(fp, names[i], ok, err, errlen))
			return 0;
	}
	return 1;
}

int
mfgsim_write_files(const struct mfgsim *sim, const char *dir, char *err,
    size_t errlen)
{
	FILE *mf = NULL, *df = NULL;
	char *json = NULL, *line;
	size_t len;
	int ok = 0;

	if (!sim_write_pems(sim, dir, err, errlen))
		return 0;
	if ((json = mfgsim_manifest(sim, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((mf = sim_open(dir, "manifest.json", 0644, err, errlen)) == NULL ||
	    (df = sim_open(dir, "devices.txt", 0600, err, errlen)) == NULL)
		goto out;
	if (fwrite(json, 1, len, mf) != len)
		goto out;
	for (size_t i = 0; i < sim->chipsz; i++) {
		if ((line = sim_line(&sim->chips[i])) == NULL) {
			snprintf(err, errlen, "cannot encode device %zu", i);
			goto out;
		}
		fputs(line, df);
		OPENSSL_clear_free(line, strlen(line));
	}
	ok = 1;
 out:
	free(json);
	ok = sim_close(mf, "manifest.json", ok, err, errlen);
	ok = sim_close(df, "devices.txt", ok, err, errlen);
	return ok;
}

int
mfgsim_write_bulk(struct mfgsim *sim, const char *dir, size_t count,
    int nthreads, char *err, size_t errlen)
{
	FILE *mf = NULL, *df = NULL;
	struct sim_chip *chips = NULL;
	struct sim_job job;
	size_t done = 0;
	int ok = 0;

	if (!sim_write_pems(sim, dir, err, errlen))
		return 0;
	if ((chips = calloc(SIM_BATCH, sizeof(*chips))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((mf = sim_open(dir, "manifest.json", 0644, err, errlen)) == NULL ||
	    (df = sim_open(dir, "devices.txt", 0600, err, errlen)) == NULL)
		goto out;
	fputs("[", mf);
	while (done < count) {
		size_t n = count - done < SIM_BATCH ? count - done : SIM_BATCH;

		memset(&job, 0, sizeof(job));
		job.sim = sim;
		job.chips = chips;
		job.n = n;
		job.tamper = MFGSIM_GOOD;
		job.lines = 1;
		if (!sim_run(&job, nthreads)) {
			snprintf(err, errlen, "cannot make chips");
			for (size_t i = 0; i < n; i++)
				sim_chip_free(&chips[i]);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			fprintf(mf, "%s\n%s", done + i == 0 ? "" : ",",
			    chips[i].entry);
			fputs(chips[i].line, df);
			OPENSSL_cleanse(chips[i].line, strlen(chips[i].line));
			sim_chip_free(&chips[i]);
		}
		done += n;
	}
	fputs("\n]\n", mf);
	ok = 1;
 out:
	free(chips);
	ok = sim_close(mf, "manifest.json", ok, err, errlen);
	ok = sim_close(df, "devices.txt", ok, err, errlen);
	return ok;
}
