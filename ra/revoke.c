/*
 * revoke.c - revocation as one audited state change.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ca/revoke_reason.h"
#include "db/db.h"
#include "ra/revoke.h"

int
ra_serial_parse(const char *hex, unsigned char *out, size_t *len)
{
	unsigned char buf[64];
	size_t nd = 0, n, skip = 0;

	for (const char *p = hex; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || nd >= 2 * sizeof(buf))
			return -1;
		nd++;
	}
	if (nd == 0)
		return -1;
	/* Right-align the digits into bytes. */
	n = (nd + 1) / 2;
	memset(buf, 0, sizeof(buf));
	size_t i = 2 * n - nd;	/* 1 when odd: the first nibble is low */
	for (const char *p = hex; *p != '\0'; p++) {
		int v;

		if (*p == ':')
			continue;
		v = isdigit((unsigned char)*p) ? *p - '0' :
		    tolower((unsigned char)*p) - 'a' + 10;
		buf[i / 2] |= (unsigned char)(i % 2 == 0 ? v << 4 : v);
		i++;
	}
	while (skip < n - 1 && buf[skip] == 0)
		skip++;
	if (n - skip > DB_SERIAL_MAX || (n - skip == 1 && buf[skip] == 0))
		return -1;
	memcpy(out, buf + skip, n - skip);
	*len = n - skip;
	return 0;
}

static void
serial_hex(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 3 <= outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02X", s[i]);
	if (o < outlen)
		out[o] = '\0';
}

/* The decision and the writes, inside an open transaction. */
static enum ra_revoke_result
revoke_locked(struct db *db, const struct db_cert *c, int code,
    int64_t invalidity, const char *actor, char *err, size_t errlen)
{
	char serial[2 * DB_SERIAL_MAX + 1], details[256];
	const char *action = "cert.revoke";
	enum ra_revoke_result res = RA_REVOKED;
	int rc;

	serial_hex(c->serial, c->serial_len, serial, sizeof(serial));
	if (code == REVOKE_REASON_REMOVE_FROM_CRL) {
		/* RFC 5280 5.3.1: only a hold can be released. */
		if (!c->revoked || c->reason != REVOKE_REASON_CERTIFICATE_HOLD) {
			snprintf(err, errlen, "%s is not on hold; removeFromCRL "
			    "only releases certificateHold", serial);
			return RA_REVOKE_ERROR;
		}
		rc = db_cert_unrevoke(db, c->id);
		action = "cert.unhold";
		res = RA_REVOKE_UNHELD;
	} else if (c->revoked && c->reason == code) {
		return RA_REVOKE_ALREADY;
	} else if (c->revoked && c->reason != REVOKE_REASON_CERTIFICATE_HOLD) {
		/* A final revocation stands; only its reason may be made
		 * stronger, as to keyCompromise. */
		if (code != REVOKE_REASON_KEY_COMPROMISE) {
			snprintf(err, errlen, "%s is already revoked (%s)",
			    serial, revoke_reason_name(c->reason));
			return RA_REVOKE_ERROR;
		}
		rc = db_cert_revoke(db, c->id, c->revoked_at, code, invalidity);
	} else {
		rc = db_cert_revoke(db, c->id, (int64_t)db_now(), code,
		    invalidity);
	}
	if (rc != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		return RA_REVOKE_ERROR;
	}
	snprintf(details, sizeof(details), "{\"reason\":\"%s\",\"cert_id\":%lld}",
	    revoke_reason_name(code), (long long)c->id);
	if (db_audit_append(db, actor, action, serial, details) != DB_OK) {
		snprintf(err, errlen, "audit: %s", db_errmsg(db));
		return RA_REVOKE_ERROR;
	}
	return res;
}

static enum ra_revoke_result
revoke_tx(struct db *db, const unsigned char *serial, size_t slen,
    int64_t cert_id, int code, int64_t invalidity, const char *actor,
    char *err, size_t errlen)
{
	enum ra_revoke_result res = RA_REVOKE_ERROR;
	struct db_cert c;
	int own, rc;

	memset(&c, 0, sizeof(c));
	/* Join the caller's transaction (a lifecycle transition) or open
	 * our own. */
	own = !db_in_transaction(db);
	if (own && db_begin(db) != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		return RA_REVOKE_ERROR;
	}
	if (serial != NULL)
		rc = db_cert_get_by_serial(db, serial, slen, &c);
	else
		rc = db_cert_get_by_id(db, cert_id, &c);
	if (rc == DB_NOTFOUND) {
		snprintf(err, errlen, "no certificate with that serial");
		goto out;
	}
	if (rc != DB_OK) {
		snprintf(err, errlen, "store: %s", db_errmsg(db));
		goto out;
	}
	res = revoke_locked(db, &c, code, invalidity, actor, err, errlen);
	if (own) {
		if (res == RA_REVOKED || res == RA_REVOKE_UNHELD) {
			if (db_commit(db) != DB_OK) {
				snprintf(err, errlen, "store: %s", db_errmsg(db));
				res = RA_REVOKE_ERROR;
			}
		}
	}
out:
	if (own && res != RA_REVOKED && res != RA_REVOKE_UNHELD)
		db_rollback(db);
	db_cert_clear(&c);
	return res;
}

enum ra_revoke_result
ra_revoke_serial(struct db *db, const char *serial_hex, const char *reason,
    int64_t invalidity_date, const char *actor, char *err, size_t errlen)
{
	unsigned char serial[DB_SERIAL_MAX];
	size_t slen;
	int code = REVOKE_REASON_UNSPECIFIED;

	if (ra_serial_parse(serial_hex, serial, &slen) != 0) {
		snprintf(err, errlen, "'%s' is not a serial number (hex, at "
		    "most 20 octets)", serial_hex);
		return RA_REVOKE_ERROR;
	}
	if (reason != NULL && (code = revoke_reason_parse(reason)) < 0) {
		snprintf(err, errlen, "unknown reason '%s' (RFC 5280 names: "
		    "keyCompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, certificateHold, removeFromCRL, "
		    "privilegeWithdrawn, unspecified)", reason);
		return RA_REVOKE_ERROR;
	}
	if (code == 7 || code == REVOKE_REASON_CA_COMPROMISE ||
	    code == REVOKE_REASON_AA_COMPROMISE) {
		snprintf(err, errlen, "reason '%s' does not apply to an "
		    "end-entity certificate", reason);
		return RA_REVOKE_ERROR;
	}
	return revoke_tx(db, serial, slen, 0, code, invalidity_date, actor, err,
	    errlen);
}

enum ra_revoke_result
ra_revoke_cert_id(struct db *db, int64_t cert_id, int reason_code,
    const char *actor, char *err, size_t errlen)
{
	if (!revoke_reason_valid(reason_code)) {
		snprintf(err, errlen, "invalid reason code %d", reason_code);
		return RA_REVOKE_ERROR;
	}
	return revoke_tx(db, NULL, 0, cert_id, reason_code, 0, actor, err,
	    errlen);
}
