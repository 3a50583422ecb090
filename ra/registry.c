/*
 * registry.c - trust anchors, manifest imports and claims.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "db/db.h"
#include "ra/devname.h"
#include "ra/manifest.h"
#include "ra/registry.h"
#include "ra/trust.h"

#define TRUST_BLOB_MAX_CERTS 64

static const char *
kind_name(enum ra_trust_kind k, X509 *x)
{
	if (k == RA_TRUST_MANIFEST_SIGNER)
		return "manifest_signer";
	return X509_check_issued(x, x) == X509_V_OK ? "manufacturer_root" :
	    "manufacturer_intermediate";
}

/* Parses PEM blocks (or one DER certificate) into a stack. */
static STACK_OF(X509) *
parse_certs(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *x;

	if (sk == NULL)
		return NULL;
	if (len > 0 && buf[0] == 0x30) {
		const unsigned char *p = buf;

		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
		    p != buf + len || !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, errlen, "not a DER certificate");
			goto fail;
		}
		return sk;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(sk) >= TRUST_BLOB_MAX_CERTS ||
		    !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, errlen, "too many certificates");
			goto fail;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		snprintf(err, errlen, "no certificate found (PEM or DER)");
		goto fail;
	}
	BIO_free(bio);
	return sk;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

int
ra_trust_add_blob(struct db *db, enum ra_trust_kind kind,
    const unsigned char *buf, size_t len, const char *actor, int *added,
    int *known, char *err, size_t errlen)
{
	STACK_OF(X509) *sk;
	int rc = -1;

	*added = *known = 0;
	if ((sk = parse_certs(buf, len, err, errlen)) == NULL)
		return -1;
	/* Check all first: nothing is added unless every one passes. */
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (kind == RA_TRUST_MANUFACTURER && X509_check_ca(x) < 1) {
			char subj[200];

			X509_NAME_oneline(X509_get_subject_name(x), subj,
			    sizeof(subj));
			snprintf(err, errlen, "certificate %d (%s) is not a CA "
			    "certificate; a manufacturer anchor must be one",
			    i + 1, subj);
			goto out;
		}
		if (kind == RA_TRUST_MANIFEST_SIGNER &&
		    X509_get0_pubkey(x) == NULL) {
			snprintf(err, errlen, "certificate %d has no usable "
			    "public key", i + 1);
			goto out;
		}
	}
	if (db_begin(db) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		goto out;
	}
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		unsigned char md[DB_HASH_LEN], *der = NULL;
		unsigned int mdl = 0;
		char subj[256], details[400];
		const char *kn = kind_name(kind, x);
		int n, r;

		X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
		if ((n = i2d_X509(x, &der)) <= 0 ||
		    X509_digest(x, EVP_sha256(), md, &mdl) != 1) {
			OPENSSL_free(der);
			snprintf(err, errlen, "cannot encode certificate");
			goto rollback;
		}
		r = db_trust_insert(db, kn, subj, md, der, (size_t)n, NULL);
		OPENSSL_free(der);
		if (r == DB_EXISTS) {
			(*known)++;
			continue;
		}
		if (r != DB_OK) {
			snprintf(err, errlen, "store: %s", db_errmsg(db));
			goto rollback;
		}
		json_t *j = json_pack("{s:s, s:s}", "kind", kn, "subject", subj);
		char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
		snprintf(details, sizeof(details), "%s", js ? js : "{}");
		free(js);
		json_decref(j);
		if (db_audit_append(db, actor, "trust.add", subj, details) !=
		    DB_OK) {
			snprintf(err, errlen, "audit: %s", db_errmsg(db));
			goto rollback;
		}
		(*added)++;
	}
	if (db_commit(db) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		goto rollback;
	}
	rc = 0;
	goto out;
rollback:
	db_rollback(db);
	*added = *known = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

struct ra_trust *
ra_trust_from_db(struct db *db, char *err, size_t errlen)
{
	struct db_trust *ts = NULL;
	struct ra_trust *t;
	size_t n = 0;

	if (db_trust_list(db, &ts, &n) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		return NULL;
	}
	if ((t = ra_trust_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = ts[i].der;
		X509 *x = d2i_X509(NULL, &p, (long)ts[i].der_len);
		int r;

		if (x == NULL) {
			snprintf(err, errlen, "trust anchor %lld does not parse",
			    (long long)ts[i].id);
			goto fail;
		}
		if (strcmp(ts[i].kind, "manifest_signer") == 0)
			r = ra_trust_add_manifest_signer(t, x, err, errlen);
		else
			r = ra_trust_add_manufacturer(t, x,
			    strcmp(ts[i].kind, "manufacturer_root") == 0, err,
			    errlen);
		X509_free(x);
		if (r != 1)	/* these return 1 on success */
			goto fail;
	}
	for (size_t i = 0; i < n; i++)
		db_trust_clear(&ts[i]);
	free(ts);
	return t;
fail:
	ra_trust_free(t);
	for (size_t i = 0; i < n; i++)
		db_trust_clear(&ts[i]);
	free(ts);
	return NULL;
}

/* Audits one refused entry inside the import transaction. */
static int
audit_reject(struct db *db, const char *actor, const char *source,
    const char *uid, const char *reason, const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "source", source,
	    "reason", reason, "detail", detail ? detail : "");
	char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	rc = db_audit_append(db, actor, "manifest.reject",
	    uid[0] ? uid : "(unknown)", js);
	free(js);
	json_decref(j);
	return rc;
}

/* 0 same device, 1 conflicting, -1 store error. */
static int
compare_known(struct db *db, const struct db_device *old,
    const struct ra_manifest_entry *e, const unsigned char md[DB_HASH_LEN])
{
	unsigned char *spki = NULL;
	size_t sl = 0;
	int r, differs;

	if (memcmp(old->idevid_sha256, md, DB_HASH_LEN) != 0)
		return 1;
	r = db_device_key_get(db, old->id, e->keys[0].kid, &spki, &sl);
	if (r == DB_NOTFOUND)
		return 1;
	if (r != DB_OK)
		return -1;
	differs = sl != e->keys[0].spki_len ||
	    memcmp(spki, e->keys[0].spki, sl) != 0;
	free(spki);
	return differs;
}

static int
insert_entry(struct db *db, const struct ra_manifest_entry *e,
    int64_t manifest_id, const unsigned char md[DB_HASH_LEN])
{
	struct db_device d;
	int64_t id;
	int r;

	memset(&d, 0, sizeof(d));
	snprintf(d.uid, sizeof(d.uid), "%s", e->uid);
	snprintf(d.model, sizeof(d.model), "%s", e->model ? e->model : "");
	snprintf(d.part_number, sizeof(d.part_number), "%s",
	    e->part_number ? e->part_number : "");
	snprintf(d.provisioner, sizeof(d.provisioner), "%s",
	    e->provisioner ? e->provisioner : "");
	d.provisioned_at = (int64_t)e->provisioned_at;
	d.manifest_id = manifest_id;
	d.idevid_der = e->cert;
	d.idevid_len = e->cert_len;
	memcpy(d.idevid_sha256, md, DB_HASH_LEN);
	d.chain_der = (unsigned char *)e->chain;
	d.chain_len = e->chain_len;
	if ((r = db_device_insert(db, &d, &id)) != DB_OK)
		return r;
	for (size_t k = 0; k < e->keysz; k++)
		if ((r = db_device_key_insert(db, id, e->keys[k].kid,
		    e->keys[k].spki, e->keys[k].spki_len)) != DB_OK)
			return r;
	return DB_OK;
}

int
ra_manifest_import(struct db *db, const unsigned char *buf, size_t len,
    const char *source, const char *actor, int nthreads, time_t now,
    ra_import_line_fn line_fn, void *arg, struct ra_import_result *res,
    char *err, size_t errlen)
{
	struct ra_trust *t = NULL;
	struct ra_manifest *m = NULL;
	unsigned char fmd[DB_HASH_LEN];
	unsigned int fmdl = 0;
	int64_t mid = 0;
	size_t n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if ((t = ra_trust_from_db(db, err, errlen)) == NULL)
		return -1;
	if (ra_trust_signer_count(t) == 0) {
		snprintf(err, errlen, "no manifest signer is trusted; add one "
		    "with fleetca trust add --manifest-signer FILE");
		goto out;
	}
	if (ra_trust_manufacturer_count(t) == 0) {
		snprintf(err, errlen, "no manufacturer CA is trusted; add one "
		    "with fleetca trust add --manufacturer FILE");
		goto out;
	}
	if (!ra_manifest_verify(buf, len, t, now, nthreads, &m, err, errlen))
		goto out;
	if (EVP_Digest(buf, len, fmd, &fmdl, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "SHA-256 failed");
		goto out;
	}
	n = ra_manifest_count(m, NULL, NULL);
	res->total = n;
	if (db_begin(db) != DB_OK ||
	    db_manifest_insert(db, fmd, source, (int64_t)n, 0, 0, &mid) !=
	    DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		goto rollback;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ra_manifest_entry *e = ra_manifest_entry(m, i);
		unsigned char md[DB_HASH_LEN];
		unsigned int mdl = 0;
		struct db_device old;
		const char *reason = NULL, *detail = NULL;
		int r;

		if (e->reason != RA_MANIFEST_OK) {
			reason = ra_manifest_reason_str(e->reason);
			detail = e->detail;
		} else if (EVP_Digest(e->cert, e->cert_len, md, &mdl,
		    EVP_sha256(), NULL) != 1 || e->keysz == 0) {
			snprintf(err, errlen, "entry %zu: internal error", i);
			goto rollback;
		} else if ((r = db_device_get(db, e->uid, &old)) == DB_OK) {
			int c = compare_known(db, &old, e, md);

			db_device_clear(&old);
			if (c < 0) {
				snprintf(err, errlen, "store: %s",
				    db_errmsg(db));
				goto rollback;
			}
			if (c == 0) {
				res->known++;
				continue;
			}
			reason = "possible_counterfeit";
			detail = "unique id already registered with a "
			    "different certificate or key; existing record "
			    "kept";
		} else if (r != DB_NOTFOUND) {
			snprintf(err, errlen, "store: %s", db_errmsg(db));
			goto rollback;
		} else if (insert_entry(db, e, mid, md) != DB_OK) {
			snprintf(err, errlen, "entry %s: store: %s", e->uid,
			    db_errmsg(db));
			goto rollback;
		} else {
			res->imported++;
			continue;
		}
		res->rejected++;
		if (audit_reject(db, actor, source, e->uid, reason, detail) !=
		    DB_OK) {
			snprintf(err, errlen, "audit: %s", db_errmsg(db));
			goto rollback;
		}
		if (line_fn != NULL)
			line_fn(arg, e->uid[0] ? e->uid : "(unknown)", reason,
			    detail ? detail : "");
	}
	{
		/* jansson escapes the file name; it may hold any byte. */
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "source",
		    source, "total", (json_int_t)res->total, "imported",
		    (json_int_t)res->imported, "known", (json_int_t)res->known,
		    "rejected", (json_int_t)res->rejected);
		char *details = j ? json_dumps(j, JSON_COMPACT) : NULL;
		int ok = details != NULL &&
		    db_manifest_update_counts(db, mid,
		    (int64_t)(res->imported + res->known),
		    (int64_t)res->rejected) == DB_OK &&
		    db_audit_append(db, actor, "manifest.import", source,
		    details) == DB_OK && db_commit(db) == DB_OK;

		free(details);
		json_decref(j);
		if (!ok) {
			snprintf(err, errlen, "store: %s", db_errmsg(db));
			goto rollback;
		}
	}
	rc = 0;
	goto out;
rollback:
	db_rollback(db);
	memset(res, 0, sizeof(*res));
out:
	ra_manifest_free(m);
	ra_trust_free(t);
	return rc;
}

int
ra_owner_valid(const char *owner)
{
	size_t n = strlen(owner);

	if (n == 0 || n > 253 || owner[0] == '.' || owner[0] == '-' ||
	    owner[n - 1] == '.' || owner[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)owner[i];

		if (!(isalnum(c) || c == '-' || c == '.'))
			return 0;
		if (c == '.' && owner[i + 1] == '.')
			return 0;
	}
	return 1;
}

int
ra_device_claim(struct db *db, const char *uid, const char *owner,
    const char *actor, char *err, size_t errlen)
{
	char nuid[RA_UID_MAX + 1], details[400];
	struct db_device d;
	int r, rc = -1;

	if (ra_uid_normalize(uid, strlen(uid), nuid) != 0) {
		snprintf(err, errlen, "'%s' is not a device unique id (hex)",
		    uid);
		return -1;
	}
	if (!ra_owner_valid(owner)) {
		snprintf(err, errlen, "owner '%s' is not a domain name such as "
		    "acme.example", owner);
		return -1;
	}
	if (db_begin(db) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		return -1;
	}
	if ((r = db_device_get(db, nuid, &d)) != DB_OK) {
		snprintf(err, errlen, r == DB_NOTFOUND ? "unknown device %s" :
		    "store: %s", r == DB_NOTFOUND ? nuid : db_errmsg(db));
		goto out;
	}
	if ((strcmp(d.state, "claimed") == 0 || strcmp(d.state, "active") == 0)
	    && strcmp(d.owner, owner) == 0) {
		rc = 0;		/* already this owner's: nothing to do */
		goto out;
	}
	if (strcmp(d.state, "registered") != 0 &&
	    strcmp(d.state, "returned") != 0) {
		snprintf(err, errlen, "device %s is %s%s%s; claim needs a "
		    "registered or returned device", nuid, d.state,
		    d.owner[0] ? " by " : "", d.owner);
		goto out;
	}
	snprintf(details, sizeof(details), "{\"owner\":\"%s\",\"from\":\"%s\"}",
	    owner, d.state);
	if (db_device_set_state(db, d.id, "claimed", owner) != DB_OK ||
	    db_audit_append(db, actor, "device.claim", nuid, details) != DB_OK ||
	    db_commit(db) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		goto out;
	}
	db_device_clear(&d);
	return 0;
out:
	db_device_clear(&d);
	db_rollback(db);
	return rc;
}
