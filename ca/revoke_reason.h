/*
 * revoke_reason.h - RFC 5280 section 5.3.1 CRLReason names and codes.
 *
 * The names are the ASN.1 identifiers of the RFC ("keyCompromise"), which
 * is what the CLI and the admin API accept and print (DESIGN.md).  Value 7
 * is unassigned and refused.
 */
#ifndef FLEETCA_CA_REVOKE_REASON_H
#define FLEETCA_CA_REVOKE_REASON_H

enum revoke_reason {
	REVOKE_REASON_UNSPECIFIED = 0,
	REVOKE_REASON_KEY_COMPROMISE = 1,
	REVOKE_REASON_CA_COMPROMISE = 2,
	REVOKE_REASON_AFFILIATION_CHANGED = 3,
	REVOKE_REASON_SUPERSEDED = 4,
	REVOKE_REASON_CESSATION_OF_OPERATION = 5,
	REVOKE_REASON_CERTIFICATE_HOLD = 6,
	/* 7 is not used (RFC 5280 5.3.1) */
	REVOKE_REASON_REMOVE_FROM_CRL = 8,
	REVOKE_REASON_PRIVILEGE_WITHDRAWN = 9,
	REVOKE_REASON_AA_COMPROMISE = 10
};

/* Returns the RFC 5280 name (static string) or NULL for an unassigned
 * code. */
const char *revoke_reason_name(int code);

/* Parses an exact, case-sensitive RFC 5280 name; returns the code or -1. */
int revoke_reason_parse(const char *name);

/* 1 when code is an assigned CRLReason value (0..10 except 7), else 0. */
int revoke_reason_valid(int code);

#endif
