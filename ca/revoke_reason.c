/*
 * revoke_reason.c - CRLReason names <-> codes (RFC 5280 section 5.3.1).
 */
#include <stddef.h>
#include <string.h>

#include "ca/revoke_reason.h"

/* Indexed by code; NULL marks the unassigned value 7. */
static const char *const reason_names[] = {
	"unspecified",
	"keyCompromise",
	"cACompromise",
	"affiliationChanged",
	"superseded",
	"cessationOfOperation",
	"certificateHold",
	NULL,
	"removeFromCRL",
	"privilegeWithdrawn",
	"aACompromise"
};

#define NREASONS (sizeof(reason_names) / sizeof(reason_names[0]))

const char *
revoke_reason_name(int code)
{
	if (code < 0 || (size_t)code >= NREASONS)
		return NULL;
	return reason_names[code];
}

int
revoke_reason_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < NREASONS; i++)
		if (reason_names[i] != NULL && strcmp(name, reason_names[i]) == 0)
			return (int)i;
	return -1;
}

int
revoke_reason_valid(int code)
{
	return revoke_reason_name(code) != NULL;
}
