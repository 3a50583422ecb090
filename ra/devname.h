/*
 * devname.h - how a certificate or request names a chip.
 *
 * Accepted forms (MANIFEST-FORMAT.md step 6, and the RA policy): CN=sn<HEX>
 * (Microchip Trust&GO / TrustFLEX), CN=<hex>, or serialNumber=<hex>; hex
 * compared case-insensitively.
 */
#ifndef FLEETCA_RA_DEVNAME_H
#define FLEETCA_RA_DEVNAME_H

#include <stddef.h>
#include <openssl/x509.h>

#define RA_UID_MAX 64

/* Normalizes a hex unique id to lower case; 0, or -1 if s is not 2..64
 * hex digits. */
int ra_uid_normalize(const char *s, size_t len, char out[RA_UID_MAX + 1]);

/* The unique id a name carries (first CN, then serialNumber), lower-case
 * hex; 0 or -1 if it names no chip in an accepted form. */
int ra_name_uid(const X509_NAME *name, char out[RA_UID_MAX + 1]);

/* 1 if some CN or serialNumber attribute of name names uid (in any
 * accepted form), else 0. */
int ra_name_names_uid(const X509_NAME *name, const char *uid);

#endif
