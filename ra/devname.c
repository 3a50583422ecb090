/*
 * devname.c - chip unique ids inside X.509 names.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/objects.h>

#include "ra/devname.h"

int
ra_uid_normalize(const char *s, size_t len, char out[RA_UID_MAX + 1])
{
	if (len < 2 || len > RA_UID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[len] = '\0';
	return 0;
}

/* The uid in one attribute value: "sn"+hex only for CN (Microchip), plain
 * hex for either. */
static int
value_uid(const ASN1_STRING *v, int is_cn, char out[RA_UID_MAX + 1])
{
	const char *p = (const char *)ASN1_STRING_get0_data(v);
	size_t n = (size_t)ASN1_STRING_length(v);

	if (p == NULL || memchr(p, '\0', n) != NULL)
		return -1;
	if (ra_uid_normalize(p, n, out) == 0)
		return 0;
	if (is_cn && n > 2 && (p[0] == 's' || p[0] == 'S') &&
	    (p[1] == 'n' || p[1] == 'N'))
		return ra_uid_normalize(p + 2, n - 2, out);
	return -1;
}

int
ra_name_uid(const X509_NAME *name, char out[RA_UID_MAX + 1])
{
	static const int nids[2] = { NID_commonName, NID_serialNumber };

	for (int k = 0; k < 2; k++) {
		int i = -1;

		while ((i = X509_NAME_get_index_by_NID(name, nids[k], i)) >= 0) {
			X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);

			if (value_uid(X509_NAME_ENTRY_get_data(e), k == 0,
			    out) == 0)
				return 0;
		}
	}
	return -1;
}

int
ra_name_names_uid(const X509_NAME *name, const char *uid)
{
	static const int nids[2] = { NID_commonName, NID_serialNumber };
	char got[RA_UID_MAX + 1];

	for (int k = 0; k < 2; k++) {
		int i = -1;

		while ((i = X509_NAME_get_index_by_NID(name, nids[k], i)) >= 0) {
			X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);

			if (value_uid(X509_NAME_ENTRY_get_data(e), k == 0,
			    got) == 0 && strcmp(got, uid) == 0)
				return 1;
		}
	}
	return 0;
}
