/*
 * publish.c - CRL signer, revoked-set snapshots, storing full and delta
 * CRLs, and loading the delegated OCSP signer (see publish.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/publish.h"
#include "ca/revoke_reason.h"
#include "common/fileio.h"
#include "common/log.h"
#include "db/db.h"

#define URL_MAX		600
#define CERT_FILE_MAX	(64 * 1024)

struct ca_crl_signer {
	X509 *cert;		/* owned */
	EVP_PKEY *key;		/* owned */
	int64_t ca_id;
	char name[64];
	char idp[URL_MAX];
	char delta[URL_MAX];	/* "" when delta CRLs are off */
};

/* The same normalisation as ca_signer_load(): one trailing slash goes, so
 * our IDP equals the CDP of issued certificates byte for byte. */
static int
base_norm(const char *url, char *out, size_t len)
{
	size_t n;

	if (url == NULL || (n = strlen(url)) == 0 || n >= len)
		return -1;
	memcpy(out, url, n + 1);
	if (n > 8 && out[n - 1] == '/')
		out[n - 1] = '\0';
	return 0;
}

int
ca_crl_delta_url(const char *base_url, const char *name, char *out,
    size_t len)
{
	char base[URL_MAX];
	int n;

	if (base_norm(base_url, base, sizeof(base)) != 0)
		return -1;
	n = snprintf(out, len, "%s/crl/%s-delta.crl", base, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Picks row ca_id, or the newest active issuing CA, into *out (moved). */
static int
pick_ca(struct db *db, int64_t ca_id, struct db_ca *out, char *err,
    size_t errlen)
{
	struct db_ca *cas = NULL;
	size_t n = 0, best = 0;
	int found = 0;

	if (db_ca_list(db, &cas, &n) != DB_OK) {
		snprintf(err, errlen, "listing CAs: %s", db_errmsg(db));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int ok = ca_id != 0 ? cas[i].id == ca_id :
		    cas[i].active && strcmp(cas[i].role, "issuing") == 0;

		if (ok && (!found || cas[i].id > cas[best].id)) {
			best = i;
			found = 1;
		}
	}
	if (found) {
		*out = cas[best];
		memset(&cas[best], 0, sizeof(cas[best]));
	} else if (ca_id != 0)
		snprintf(err, errlen, "no CA with id %lld", (long long)ca_id);
	else
		snprintf(err, errlen, "no active issuing CA in the database");
	for (size_t i = 0; i < n; i++)
		db_ca_clear(&cas[i]);
	free(cas);
	return found ? 0 : -1;
}

struct ca_crl_signer *
ca_crl_signer_load(const char *dir, struct db *db, int64_t ca_id,
    const char *base_url, int delta, char *err, size_t errlen)
{
	struct ca_crl_signer *s;
	struct db_ca ca;
	const unsigned char *p;
	char base[URL_MAX], path[4096];
	int ok = 0, n;

	memset(&ca, 0, sizeof(ca));
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (base_norm(base_url, base, sizeof(base)) != 0) {
		snprintf(err, errlen, "bad public URL");
		goto out;
	}
	if (pick_ca(db, ca_id, &ca, err, errlen) != 0)
		goto out;
	p = ca.der;
	if (ca.der_len == 0 || ca.der_len > CERT_FILE_MAX ||
	    (s->cert = d2i_X509(NULL, &p, (long)ca.der_len)) == NULL) {
		log_openssl("d2i_X509");
		snprintf(err, errlen, "CA %s: bad certificate in database",
		    ca.name);
		goto out;
	}
	/* key_path is relative to the data dir (db.h). */
	if (ca.key_path[0] == '/' || strstr(ca.key_path, "..") != NULL) {
		snprintf(err, errlen, "CA %s: key path outside the data dir",
		    ca.name);
		goto out;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, ca.key_path);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "CA %s: key path too long", ca.name);
		goto out;
	}
	if ((s->key = ca_key_read(path, err, errlen)) == NULL)
		goto out;
	if (X509_check_private_key(s->cert, s->key) != 1) {
		log_openssl("X509_check_private_key");
		snprintf(err, errlen, "CA %s: key does not match", ca.name);
		goto out;
	}
	s->ca_id = ca.id;
	snprintf(s->name, sizeof(s->name), "%s", ca.name);
	n = snprintf(s->idp, sizeof(s->idp), "%s/crl/%s.crl", base, s->name);
	if (n < 0 || (size_t)n >= sizeof(s->idp) || (delta &&
	    ca_crl_delta_url(base, s->name, s->delta, sizeof(s->delta)) != 0)) {
		snprintf(err, errlen, "public URL too long");
		goto out;
	}
	ok = 1;
out:
	db_ca_clear(&ca);
	if (!ok) {
		ca_crl_signer_free(s);
		return NULL;
	}
	return s;
}

void
ca_crl_signer_free(struct ca_crl_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	free(s);
}

X509 *
ca_crl_signer_cert(const struct ca_crl_signer *s)
{
	return s->cert;
}

int64_t
ca_crl_signer_ca_id(const struct ca_crl_signer *s)
{
	return s->ca_id;
}

const char *
ca_crl_signer_name(const struct ca_crl_signer *s)
{
	return s->name;
}

const char *
ca_crl_signer_idp_url(const struct ca_crl_signer *s)
{
	return s->idp;
}

const char *
ca_crl_signer_delta_url(const struct ca_crl_signer *s)
{
	return s->delta[0] != '\0' ? s->delta : NULL;
}

/* ---- revoked set ---------------------------------------------------- */

/* Numeric order of magnitudes without leading zeros: shorter is smaller. */
static int
serial_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct crl_entry *a = x, *b = y;

	return serial_cmp(a->serial, a->serial_len, b->serial, b->serial_len);
}

struct load_ctx {
	struct crl_entry *e;
	size_t n, cap;
};

static int
load_one(void *arg, const struct db_cert *c)
{
	struct load_ctx *l = arg;
	struct crl_entry *e;

	if (c->serial_len == 0 || c->serial_len > CRL_SERIAL_MAX)
		return 0;	/* cannot be listed; db/ never stores these */
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		struct crl_entry *ne = reallocarray(l->e, nc, sizeof(*ne));

		if (ne == NULL)
			return -1;
		l->e = ne;
		l->cap = nc;
	}
	e = &l->e[l->n++];
	memcpy(e->serial, c->serial, c->serial_len);
	e->serial_len = c->serial_len;
	e->revoked_at = c->revoked_at;
	e->reason = c->reason;
	e->invalidity_date = c->invalidity_date;
	return 0;
}

int
ca_revoked_load(struct db *db, int64_t ca_id, struct ca_revoked_set *set)
{
	struct load_ctx l = { NULL, 0, 0 };
	int rc;

	set->e = NULL;
	set->n = 0;
	if ((rc = db_cert_foreach(db, ca_id, 1, load_one, &l)) != 0) {
		log_err("reading revocations: %s", rc == -1 ? "out of memory" :
		    db_errmsg(db));
		free(l.e);
		return -1;
	}
	if (l.n > 1)
		qsort(l.e, l.n, sizeof(*l.e), entry_cmp);
	set->e = l.e;
	set->n = l.n;
	return 0;
}

void
ca_revoked_clear(struct ca_revoked_set *set)
{
	free(set->e);
	set->e = NULL;
	set->n = 0;
}

const struct crl_entry *
ca_revoked_find(const struct ca_revoked_set *set, const unsigned char *serial,
    size_t len)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct crl_entry *e = &set->e[mid];
		int c = serial_cmp(serial, len, e->serial, e->serial_len);

		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
entry_same(const struct crl_entry *a, const struct crl_entry *b)
{
	return a->revoked_at == b->revoked_at && a->reason == b->reason &&
	    a->invalidity_date == b->invalidity_date;
}

/* Merge walk over two sorted sets. */
size_t
ca_revoked_diff(const struct ca_revoked_set *a, const struct ca_revoked_set *b,
    ca_revoked_diff_fn fn, void *arg)
{
	size_t i = 0, j = 0, calls = 0;

	while (i < a->n || j < b->n) {
		int c;

		if (i == a->n)
			c = 1;
		else if (j == b->n)
			c = -1;
		else
			c = entry_cmp(&a->e[i], &b->e[j]);
		if (c < 0) {
			fn(arg, &a->e[i++], NULL);
			calls++;
		} else if (c > 0) {
			fn(arg, NULL, &b->e[j++]);
			calls++;
		} else {
			if (!entry_same(&a->e[i], &b->e[j])) {
				fn(arg, &a->e[i], &b->e[j]);
				calls++;
			}
			i++;
			j++;
		}
	}
	return calls;
}

int
ca_revoked_put(struct ca_revoked_set *set, const struct crl_entry *e)
{
	size_t lo = 0, hi = set->n;
	struct crl_entry *ne;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(e, &set->e[mid]);

		if (c == 0) {
			set->e[mid] = *e;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if ((ne = reallocarray(set->e, set->n + 1, sizeof(*ne))) == NULL)
		return -1;
	memmove(ne + lo + 1, ne + lo, (set->n - lo) * sizeof(*ne));
	ne[lo] = *e;
	set->e = ne;
	set->n++;
	return 0;
}

/* ---- CRLs ----------------------------------------------------------- */

void
ca_crl_out_clear(struct ca_crl_out *o)
{
	free(o->der);
	memset(o, 0, sizeof(*o));
}

/* Takes the next number, signs and inserts, in one transaction. */
static int
publish(const struct ca_crl_signer *s, struct db *db, struct crl_params *p,
    const struct crl_entry *e, size_t n, struct ca_crl_out *out, char *err,
    size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (db_begin(db) != DB_OK) {
		snprintf(err, errlen, "database: %s", db_errmsg(db));
		return -1;
	}
	if (db_crl_next_number(db, s->ca_id, &p->number) != DB_OK) {
		snprintf(err, errlen, "CRL number: %s", db_errmsg(db));
		goto fail;
	}
	if ((rc = crl_build(s->cert, s->key, p, e, n, &out->der,
	    &out->len)) != CRL_OK) {
		snprintf(err, errlen, "signing the CRL failed (%d)", rc);
		goto fail;
	}
	if (db_crl_insert(db, s->ca_id, p->number, p->is_delta,
	    p->base_number, p->this_update, p->next_update, out->der,
	    out->len) != DB_OK || db_commit(db) != DB_OK) {
		snprintf(err, errlen, "storing the CRL: %s", db_errmsg(db));
		goto fail;
	}
	out->number = p->number;
	out->base_number = p->base_number;
	out->this_update = p->this_update;
	out->next_update = p->next_update;
	return 0;
fail:
	if (db_in_transaction(db))
		db_rollback(db);
	ca_crl_out_clear(out);
	return -1;
}

int
ca_crl_publish_full(const struct ca_crl_signer *s, struct db *db,
    const struct ca_revoked_set *set, int64_t now, int validity_s,
    struct ca_crl_out *out, char *err, size_t errlen)
{
	struct crl_params p;

	memset(&p, 0, sizeof(p));
	p.this_update = now;
	p.next_update = now + validity_s;
	p.idp_url = s->idp;
	p.freshest_url = ca_crl_signer_delta_url(s);
	return publish(s, db, &p, set->e, set->n, out, err, errlen);
}

struct delta_ctx {
	struct crl_entry *e;
	size_t n;
	int64_t now;
};

static void
delta_one(void *arg, const struct crl_entry *base, const struct crl_entry *cur)
{
	struct delta_ctx *d = arg;

	if (cur != NULL) {
		d->e[d->n++] = *cur;		/* new or changed */
		return;
	}
	/* In the base, gone now: only a released hold does that (RFC 5280
	 * 5.2.4: list it with reason removeFromCRL). */
	d->e[d->n] = *base;
	d->e[d->n].reason = REVOKE_REASON_REMOVE_FROM_CRL;
	d->e[d->n].revoked_at = d->now;
	d->e[d->n].invalidity_date = 0;
	d->n++;
}

int
ca_crl_publish_delta(const struct ca_crl_signer *s, struct db *db,
    const struct ca_revoked_set *base, int64_t base_number,
    const struct ca_revoked_set *cur, int64_t now, int validity_s,
    struct ca_crl_out *out, char *err, size_t errlen)
{
	struct delta_ctx d = { NULL, 0, now };
	struct crl_params p;
	int rc;

	memset(out, 0, sizeof(*out));
	/* At most every entry of both sets. */
	if ((d.e = calloc(base->n + cur->n + 1, sizeof(*d.e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ca_revoked_diff(base, cur, delta_one, &d);
	memset(&p, 0, sizeof(p));
	p.this_update = now;
	p.next_update = now + validity_s;
	p.idp_url = s->idp;		/* same scope as the base */
	p.is_delta = 1;
	p.base_number = base_number;
	rc = publish(s, db, &p, d.e, d.n, out, err, errlen);
	free(d.e);
	return rc;
}

/* ---- OCSP signer ---------------------------------------------------- */

struct ocsp_responder *
ca_ocsp_responder_load(const char *dir, X509 **cert, char *err, size_t errlen)
{
	struct ocsp_responder *r = NULL;
	unsigned char *buf = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *mem = NULL;
	char path[4096];
	size_t len;

	if (cert != NULL)
		*cert = NULL;
	snprintf(path, sizeof(path), "%s/certs/ocsp_signer.pem", dir);
	if (file_read_all(path, CERT_FILE_MAX, &buf, &len) == -1) {
		snprintf(err, errlen, "%s: cannot read", path);
		goto out;
	}
	if ((mem = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(mem, NULL, NULL, NULL)) == NULL) {
		log_openssl("PEM_read_bio_X509");
		snprintf(err, errlen, "%s: no PEM certificate", path);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/secrets/ocsp_signer.key", dir);
	if ((key = ca_key_read(path, err, errlen)) == NULL)
		goto out;
	if ((r = ocsp_responder_new(x, key)) == NULL) {
		snprintf(err, errlen, "OCSP signer: certificate and key "
		    "unusable (key mismatch or no id-kp-OCSPSigning)");
		goto out;
	}
	if (cert != NULL) {
		*cert = x;
		x = NULL;
	}
out:
	BIO_free(mem);
	free(buf);
	EVP_PKEY_free(key);
	X509_free(x);
	return r;
}
