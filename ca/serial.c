/*
 * serial.c - certificate serial numbers (RFC 5280 4.1.2.2: positive, at
 * most 20 octets, unique per CA; CA/B-style >= 64 bits of CSPRNG output
 * so that serials are unpredictable).
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "db/db.h"
#include "ca/x509util.h"

/* Draws before giving up: a collision among 2^127 values is a sign of a
 * broken RNG, not bad luck. */
#define SERIAL_TRIES 4

int
ca_serial_draw(unsigned char buf[CA_SERIAL_LEN])
{
	if (RAND_bytes(buf, CA_SERIAL_LEN) != 1) {
		log_openssl("RAND_bytes");
		return -1;
	}
	/* Clear the sign bit (positive), then make the first octet non-zero
	 * so the INTEGER needs no padding octet and is never shortened:
	 * draw that octet again rather than forcing a bit, keeping it
	 * uniform over 1..127. */
	buf[0] &= 0x7f;
	while (buf[0] == 0) {
		if (RAND_bytes(buf, 1) != 1) {
			log_openssl("RAND_bytes");
			return -1;
		}
		buf[0] &= 0x7f;
	}
	return 0;
}

int
ca_serial_draw_unique(struct db *db, unsigned char buf[CA_SERIAL_LEN])
{
	for (int i = 0; i < SERIAL_TRIES; i++) {
		int r;

		if (ca_serial_draw(buf) != 0)
			return -1;
		/* DB_NOTFOUND: free; DB_EXISTS: taken; anything else: the
		 * store failed. */
		r = db_cert_serial_exists(db, buf, CA_SERIAL_LEN);
		if (r == DB_NOTFOUND)
			return 0;
		if (r != DB_EXISTS) {
			log_err("serial lookup: %s", db_errmsg(db));
			return -1;
		}
		log_warn("serial collision, drawing again");
	}
	log_err("serial: %d draws all collided", SERIAL_TRIES);
	return -1;
}

int
ca_serial_set(X509 *x, const unsigned char *buf, size_t len)
{
	BIGNUM *bn;
	ASN1_INTEGER *ai = NULL;
	int rc = -1;

	if ((bn = BN_bin2bn(buf, (int)len, NULL)) == NULL ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, ai) != 1)
		log_openssl("serial number");
	else
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}
