/*
 * ca.h - the certificate authority core: CA keys, the CA hierarchy made by
 * `fleetca init`, and issuing device certificates from an approved request.
 *
 * Only ca/ ever loads a CA private key.  Callers hand ca_issue() a request
 * that ra/ has already approved; ca_issue() checks it again against the
 * profile (signature, key type and size, key reuse) before it signs, so a
 * separate signer process later is a mechanical change.
 *
 * Thread safety: a struct ca_signer is immutable after ca_signer_load() (and
 * the optional ca_signer_set_freshest() done before it is shared) and may be
 * used by any number of threads at once; each thread brings its own struct
 * db handle.  OpenSSL EVP signing with a shared EVP_PKEY is thread-safe.
 */
#ifndef FLEETCA_CA_CA_H
#define FLEETCA_CA_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct db;
struct ca_profile;

/* ---- errors -------------------------------------------------------- */

enum ca_err {
	CA_OK = 0,
	CA_ERR_MALFORMED,	/* request undecodable or names unusable */
	CA_ERR_BAD_SIGNATURE,	/* CSR self-signature does not verify */
	CA_ERR_KEY_NOT_ALLOWED,	/* key type or size outside the profile */
	CA_ERR_KEY_REUSE,	/* key equals the forbidden (IDevID) key */
	CA_ERR_PROFILE_UNKNOWN,	/* no such profile */
	CA_ERR_STORE,		/* the database refused or failed */
	CA_ERR_INTERNAL		/* OpenSSL or allocation failure */
};

/* Stable snake_case reason code for logs, audit rows and protocol error
 * texts ("malformed_request", "bad_request_signature", ...).  Never NULL. */
const char *ca_err_name(enum ca_err e);

/* Clock used for validity periods; tests may point it elsewhere. */
extern time_t (*ca_now)(void);

/* ---- keys (ca/keys.c) ---------------------------------------------- */

enum ca_key_type { CA_KEY_P256, CA_KEY_P384, CA_KEY_RSA3072, CA_KEY_ED25519 };

/* Parses "p256", "p384", "rsa3072" or "ed25519" (exact, lowercase).
 * Returns 0, or -1 for anything else. */
int ca_key_type_parse(const char *s, enum ca_key_type *t);
/* The name ca_key_type_parse() accepts; "?" for an out-of-range value. */
const char *ca_key_type_name(enum ca_key_type t);

/* A fresh key of type t; caller frees with EVP_PKEY_free().  NULL on
 * failure (logged). */
EVP_PKEY *ca_key_generate(enum ca_key_type t);

/* Writes key as unencrypted PEM PKCS#8 to a new file created 0600 (never
 * overwrites: O_EXCL).  The PEM buffer is wiped after use.  Returns 0 or
 * -1 with err filled. */
int ca_key_write(const char *path, EVP_PKEY *key, char *err, size_t errlen);

/* Reads a PEM private key written by ca_key_write() (at most 64 KiB).
 * Returns a new key (caller frees with EVP_PKEY_free()) or NULL with err
 * filled.  The file buffer is wiped after use. */
EVP_PKEY *ca_key_read(const char *path, char *err, size_t errlen);

/* ---- hierarchy (ca/hierarchy.c) ------------------------------------- */

struct ca_init_params {
	const char *dir;	/* data dir; must exist */
	const char *name;	/* subject prefix, 1..40 printable chars;
				 * NULL means "fleetca" */
	enum ca_key_type key_type;	/* root and issuing CA keys */
	const char *hostname;	/* TLS server name or IP literal; NULL means
				 * "localhost" */
};

/*
 * Creates the CA hierarchy of `fleetca init` in p->dir:
 *   certs/{root_ca,issuing_ca,ocsp_signer,tls_server,admin}.pem
 *   secrets/{root_ca,issuing_ca,ocsp_signer,tls_server,admin}.key (0600)
 * and, in one transaction on db, the CA rows "root-1" (role "root") and
 * "issuing-1" (role "issuing", active).  tls_server.pem and admin.pem hold
 * the leaf followed by the issuing CA.  Refuses to overwrite anything; on
 * failure, files it created are removed and the transaction rolled back.
 * Returns 0, or -1 with err filled.
 */
int ca_hierarchy_create(const struct ca_init_params *p, struct db *db,
    char *err, size_t errlen);

/* ---- signer and issuing (ca/issue.c) -------------------------------- */

struct ca_signer;

/*
 * Loads the active issuing CA (newest active row with role "issuing") from
 * db and its key from dir/<key_path>, checks that they match, and
 * precomputes the extensions every issued certificate carries:
 *   AIA  OCSP       <base_url>/ocsp
 *        caIssuers  <base_url>/ca/<caname>.crt
 *   CDP             <base_url>/crl/<caname>.crl
 *   AKI             keyid of the issuing CA
 * base_url has no trailing slash (one is stripped).  Returns a signer
 * (caller frees with ca_signer_free()) or NULL with err filled.
 */
struct ca_signer *ca_signer_load(const char *dir, struct db *db,
    const char *base_url, char *err, size_t errlen);
/* Adds a Freshest CRL (delta CRL) pointer with this URL to every issued
 * certificate.  Call before the signer is shared.  Returns 0 or -1. */
int ca_signer_set_freshest(struct ca_signer *s, const char *url);
void ca_signer_free(struct ca_signer *s);
/* Borrowed; valid until ca_signer_free(). */
X509 *ca_signer_cert(const struct ca_signer *s);
int64_t ca_signer_ca_id(const struct ca_signer *s);
/* CA name of the db row, e.g. "issuing-1"; borrowed. */
const char *ca_signer_name(const struct ca_signer *s);

struct ca_csr;

struct ca_issue_req {
	X509_REQ *csr;		/* borrowed */
	const char *uid;	/* device unique id, fills {uid}; required */
	const char *owner;	/* owner's domain, fills {owner}; may be NULL
				 * if the profile does not use it */
	int64_t device_id;	/* db device row; 0 for none */
	EVP_PKEY *idevid_key;	/* borrowed; with prof->require_new_key the
				 * CSR key must differ from it; may be NULL */
	/* Or, with csr NULL, the request as ca_csr_parse() gave it (ca/csr.h;
	 * borrowed): its verdicts are used, nothing is decoded again.  Last,
	 * so positional initialisers of the fields above stay valid. */
	const struct ca_csr *creq;
};

/*
 * Issues a certificate for req under prof, signed by s.  Checks again:
 * CSR signature (X509_REQ_verify == 1), key type/size against the profile,
 * key differs from req->idevid_key when the profile requires a new key.
 * Subject and SAN come from the profile templates only; nothing is copied
 * from the CSR but its public key.  Validity is now-5min .. min(now +
 * validity_days, CA notAfter).  The serial is 16 CSPRNG bytes (positive,
 * about 127 bits); a collision draws again.
 *
 * The db_cert row is inserted in the CALLER's open transaction: the caller
 * must commit before handing the certificate to anyone (DESIGN.md: an
 * issued certificate is committed before it is returned), and roll back on
 * any error.  On success *out is a new X509 (caller frees with X509_free())
 * and *cert_id (optional) the db row id.  On failure *out is NULL.
 */
enum ca_err ca_issue(struct ca_signer *s, struct db *db,
    const struct ca_profile *prof, const struct ca_issue_req *req,
    X509 **out, int64_t *cert_id);

/* ca_issue() inside its own db_begin()/db_commit() (rollback on failure),
 * for tools and the benchmark. */
enum ca_err ca_issue_commit(struct ca_signer *s, struct db *db,
    const struct ca_profile *prof, const struct ca_issue_req *req,
    X509 **out, int64_t *cert_id);

/*
 * ca_issue() in two steps, so the costly part (checks, building, signing)
 * runs in the caller's thread and only the short insert in the writer's
 * transaction:
 *
 * ca_issue_prepare does every check of ca_issue(), except the CSR
 * signature when csr_verified is 1 (the caller verified this very csr
 * already, as the RA does; key type/size and reuse are still checked), draws a serial (no store look-up: the insert
 * settles uniqueness) and builds and signs the certificate.  No store
 * access.  req is copied, but what it points to (csr, uid, owner,
 * idevid_key) is borrowed and must outlive the prepared certificate.  On
 * CA_OK *out is new (ca_prepared_free); otherwise *out is NULL.
 *
 * The certificate carries the request's SubjectPublicKeyInfo bytes when
 * they are canonical (uncompressed named-curve EC, Ed25519); it then has
 * no decoded public key cached, so X509_get0_pubkey() on it returns NULL:
 * use the request's key.
 *
 * ca_issue_record inserts the row in the CALLER's open transaction (same
 * contract as ca_issue: commit before handing the certificate out).  If
 * the serial is taken it signs again under a new serial, so the
 * certificate may change: take it only after a successful record.  May be
 * called again after a rollback.
 */
struct ca_prepared;
enum ca_err ca_issue_prepare(struct ca_signer *s,
    const struct ca_profile *prof, const struct ca_issue_req *req,
    int csr_verified, struct ca_prepared **out);
enum ca_err ca_issue_record(struct ca_prepared *p, struct db *db,
    int64_t *cert_id);
/*
 * With a canonical request key (above) and an EC or RSA CA key, the
 * certificate is written as DER directly, byte for byte what the X509
 * object path encodes, and no X509 object exists: ca_prepared_cert()
 * then returns NULL.  Use ca_prepared_der() / ca_prepared_take_der() on
 * the hot path; ca_prepared_take() decodes an object when one is needed.
 */
/* 1 (default): the DER path where it applies; tests and benchmarks set
 * 0 before any thread issues to force the object path. */
extern int ca_issue_der_path;
/* The certificate object (borrowed), or NULL once taken or on the DER
 * path. */
X509 *ca_prepared_cert(const struct ca_prepared *p);
/* Hands the certificate to the caller (X509_free), decoding the DER when
 * there is no object; NULL if taken or on failure. */
X509 *ca_prepared_take(struct ca_prepared *p);
/* The certificate's DER (borrowed, valid until the next call on p), its
 * length in *len; NULL once taken. */
const unsigned char *ca_prepared_der(const struct ca_prepared *p,
    size_t *len);
/* Hands the DER to the caller (OPENSSL_free), length in *len; p then
 * holds no certificate.  NULL if taken. */
unsigned char *ca_prepared_take_der(struct ca_prepared *p, size_t *len);
/* The serial as lower-case hex into out (truncated to fit; "" for
 * NULL). */
void ca_prepared_serial_hex(const struct ca_prepared *p, char *out,
    size_t len);
void ca_prepared_free(struct ca_prepared *p);

/*
 * SHA-256 of the CSR's SubjectPublicKeyInfo as OpenSSL encodes the key
 * (the value db_cert.spki_sha256 holds), without an encoder round trip
 * when the request's bytes are already canonical.  0, or -1.
 */
int ca_csr_spki_sha256(X509_REQ *csr, unsigned char md[32]);

/* Maximum DER size of a CSR accepted by ca_csr_from_der(). */
#define CA_CSR_MAX 65536

/*
 * Decodes a PKCS#10 CSR from exactly len DER bytes.  Refuses garbage,
 * trailing bytes, empty input and sizes over CA_CSR_MAX with
 * CA_ERR_MALFORMED.  Does not verify the signature (ca_issue does).  On
 * success *out is a new X509_REQ (caller frees with X509_REQ_free()).
 */
enum ca_err ca_csr_from_der(const unsigned char *der, size_t len,
    X509_REQ **out);

#endif
