/*
 * revoke.h - the one revocation function behind the CLI, the admin API,
 * CMP rr and the device lifecycle.
 */
#ifndef FLEETCA_RA_REVOKE_H
#define FLEETCA_RA_REVOKE_H

#include <stddef.h>
#include <stdint.h>

struct db;

enum ra_revoke_result {
	RA_REVOKED = 0,		/* newly revoked (or reason changed) */
	RA_REVOKE_ALREADY,	/* same serial, same reason: nothing to do */
	RA_REVOKE_UNHELD,	/* removeFromCRL took a certificateHold off */
	RA_REVOKE_ERROR		/* see err */
};

/*
 * Revokes the certificate with this serial (hex, case-insensitive, colons
 * allowed) for reason (an RFC 5280 name such as "keyCompromise"; NULL
 * means "unspecified").  Idempotent for the same serial and reason.  A
 * certificate on hold may be revoked for good with another reason;
 * "removeFromCRL" releases a hold and is refused for anything else.
 * Records time and reason, bumps the revocation epoch (so OCSP and CRL
 * follow within a second), and appends an audit row, in one transaction
 * (or inside the caller's, if one is open).  err is filled on error.
 */
enum ra_revoke_result ra_revoke_serial(struct db *db, const char *serial_hex,
    const char *reason, int64_t invalidity_date, const char *actor,
    char *err, size_t errlen);

/* Same, for a certificate row id (the lifecycle knows ids, not serials). */
enum ra_revoke_result ra_revoke_cert_id(struct db *db, int64_t cert_id,
    int reason_code, const char *actor, char *err, size_t errlen);

/* Parses hex serial text into big-endian magnitude bytes without leading
 * zeros; 0, or -1 if not 1..20 octets of hex. */
int ra_serial_parse(const char *hex, unsigned char *out, size_t *len);

#endif
