/*
 * profile.c - loads certificate profiles (the *.json files of policies/)
 * into plain structs (format in ca/profile.h).  Everything that can be
 * decided at load is: template placeholders, attribute types, key usage
 * names, and the keyUsage / extKeyUsage extensions themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "common/jsonfile.h"
#include "common/log.h"
#include "ca/profile.h"
#include "ca/x509util.h"

#define PROFILE_FILE_MAX	(64 * 1024)
#define TMPL_MAX		255
#define VALIDITY_MAX_DAYS	3650
#define GRACE_MAX_SECONDS	(90 * 86400)

struct ca_profiles {
	struct ca_profile *p[CA_PROFILE_MAX_FILES];
	size_t n;
};

static const char *const profile_keys[] = {
	"kind", "name", "description", "labels", "validity_days",
	"renewal_window_days", "key_types", "rsa_min_bits", "subject", "san",
	"key_usage", "extended_key_usage", "require_new_key",
	"allow_serverkeygen", "reenroll_old_cert", NULL
};

/* Subject attributes a profile may use (RFC 5280 4.1.2.4 and 4.1.2.6). */
static const struct { const char *name; int nid; } attr_types[] = {
	{ "CN", NID_commonName }, { "O", NID_organizationName },
	{ "OU", NID_organizationalUnitName }, { "C", NID_countryName },
	{ "ST", NID_stateOrProvinceName }, { "L", NID_localityName },
	{ "serialNumber", NID_serialNumber }, { "UID", NID_userId },
	{ "DC", NID_domainComponent },
};

/* RFC 5280 4.2.1.3 names; CA-only bits are refused for device profiles. */
static const struct { const char *name; unsigned bit; } ku_names[] = {
	{ "digitalSignature", CA_KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", CA_KU_NON_REPUDIATION },
	{ "contentCommitment", CA_KU_NON_REPUDIATION },
	{ "keyEncipherment", CA_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", CA_KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", CA_KU_KEY_AGREEMENT },
};

static const struct { const char *name; int nid; } eku_names[] = {
	{ "clientAuth", NID_client_auth }, { "serverAuth", NID_server_auth },
	{ "codeSigning", NID_code_sign },
	{ "emailProtection", NID_email_protect },
	{ "timeStamping", NID_time_stamp },
};

static const struct { const char *name; unsigned bit; } kt_names[] = {
	{ "p256", CA_PROFILE_KEY_P256 }, { "p384", CA_PROFILE_KEY_P384 },
	{ "ed25519", CA_PROFILE_KEY_ED25519 }, { "rsa", CA_PROFILE_KEY_RSA },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
seterr(char *err, size_t errlen, const char *file, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Names and labels become URL path segments (EST labels). */
static int
valid_ident(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63)
		return 0;
	for (const char *c = s; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
		    *c == '.'))
			return 0;
	return 1;
}

/* A template is printable ASCII with only {uid} and {owner} in braces. */
static int
valid_tmpl(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > TMPL_MAX)
		return 0;
	while (*s != '\0') {
		if (*s == '{') {
			if (strncmp(s, "{uid}", 5) == 0)
				s += 5;
			else if (strncmp(s, "{owner}", 7) == 0)
				s += 7;
			else
				return 0;
			continue;
		}
		if (*s == '}' || *s < 0x20 || *s > 0x7e)
			return 0;
		s++;
	}
	return 1;
}

int
ca_profile_expand(const char *tmpl, const char *uid, const char *owner,
    char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return -1;
	while (*tmpl != '\0') {
		const char *v = NULL;
		size_t vlen;

		if (strncmp(tmpl, "{uid}", 5) == 0) {
			v = uid;
			tmpl += 5;
		} else if (strncmp(tmpl, "{owner}", 7) == 0) {
			v = owner;
			tmpl += 7;
		} else {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *tmpl++;
			continue;
		}
		if (v == NULL || *v == '\0')
			return -1;
		vlen = strlen(v);
		if (vlen >= outlen - n)
			return -1;
		memcpy(out + n, v, vlen);
		n += vlen;
	}
	out[n] = '\0';
	return 0;
}

/* Refuses keys of obj not in allowed (NULL-terminated). */
static int
check_keys(json_t *obj, const char *const *allowed, const char *file,
    const char *where, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i;

		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			seterr(err, errlen, file, "unknown key \"%s%s\"",
			    where, key);
			return -1;
		}
	}
	return 0;
}

/* Integer member key in [min, max]; absent gives def (def < min means
 * required). */
static int
get_int(json_t *obj, const char *key, long long min, long long max,
    long long def, long long *out, const char *file, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (def < min) {
			seterr(err, errlen, file, "missing key \"%s\"", key);
			return -1;
		}
		*out = def;
		return 0;
	}
	if (!json_is_integer(v)) {
		seterr(err, errlen, file, "key \"%s\": expected an integer",
		    key);
		return -1;
	}
	*out = json_integer_value(v);
	if (*out < min || *out > max) {
		seterr(err, errlen, file, "key \"%s\": %lld not in %lld..%lld",
		    key, *out, min, max);
		return -1;
	}
	return 0;
}

static int
get_bool(json_t *obj, const char *key, int def, int *out, const char *file,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v)) {
		seterr(err, errlen, file, "key \"%s\": expected true or false",
		    key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* Array member of at most max entries into *out (borrowed).  An absent
 * optional array gives *out NULL, which jansson treats as empty
 * (json_array_size(NULL) is 0).  Returns 0 or -1 with err. */
static int
get_array(json_t *obj, const char *key, size_t max, int optional,
    json_t **out, const char *file, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL) {
		if (optional)
			return 0;
		seterr(err, errlen, file, "missing key \"%s\"", key);
		return -1;
	}
	if (!json_is_array(v)) {
		seterr(err, errlen, file, "key \"%s\": expected an array", key);
		return -1;
	}
	if (json_array_size(v) > max) {
		seterr(err, errlen, file, "key \"%s\": more than %zu entries",
		    key, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* String element i of array key, or NULL with err. */
static const char *
array_string(json_t *a, size_t i, const char *key, const char *file,
    char *err, size_t errlen)
{
	json_t *v = json_array_get(a, i);

	if (!json_is_string(v)) {
		seterr(err, errlen, file, "key \"%s[%zu]\": expected a string",
		    key, i);
		return NULL;
	}
	return json_string_value(v);
}

static int
parse_labels(struct ca_profile *p, json_t *obj, const char *file, char *err,
    size_t errlen)
{
	json_t *a;

	if (get_array(obj, "labels", CA_PROFILE_MAX_LABELS, 1, &a, file, err,
	    errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s;

		if ((s = array_string(a, i, "labels", file, err,
		    errlen)) == NULL)
			return -1;
		if (!valid_ident(s)) {
			seterr(err, errlen, file, "key \"labels[%zu]\": \"%s\" "
			    "is not 1-63 of [A-Za-z0-9._-]", i, s);
			return -1;
		}
		if ((p->labels[p->nlabels] = strdup(s)) == NULL) {
			seterr(err, errlen, file, "out of memory");
			return -1;
		}
		p->nlabels++;
	}
	return 0;
}

static int
parse_key_types(struct ca_profile *p, json_t *obj, const char *file,
    char *err, size_t errlen)
{
	json_t *a;
	long long bits;

	if (get_array(obj, "key_types", NELEM(kt_names), 0, &a, file, err,
	    errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s;
		size_t k;

		if ((s = array_string(a, i, "key_types", file, err, errlen)) ==
		    NULL)
			return -1;
		for (k = 0; k < NELEM(kt_names); k++)
			if (strcmp(s, kt_names[k].name) == 0)
				break;
		if (k == NELEM(kt_names)) {
			seterr(err, errlen, file, "key \"key_types[%zu]\": "
			    "unknown key type \"%s\" (p256, p384, ed25519, rsa)",
			    i, s);
			return -1;
		}
		p->key_types |= kt_names[k].bit;
	}
	if (p->key_types == 0) {
		seterr(err, errlen, file, "key \"key_types\": empty");
		return -1;
	}
	if (get_int(obj, "rsa_min_bits", 2048, CA_RSA_MAX_BITS, 2048, &bits,
	    file, err, errlen) != 0)
		return -1;
	p->rsa_min_bits = (int)bits;
	return 0;
}

/* Checks the member names of element i of array key, then fetches its
 * "type" and "value" strings. */
static int
type_value(json_t *a, size_t i, const char *key, const char **type,
    const char **value, const char *file, char *err, size_t errlen)
{
	static const char *const tv_keys[] = { "type", "value", NULL };
	json_t *e = json_array_get(a, i), *t, *v;
	char where[64];

	if (!json_is_object(e)) {
		seterr(err, errlen, file, "key \"%s[%zu]\": expected an object",
		    key, i);
		return -1;
	}
	snprintf(where, sizeof(where), "%s[%zu].", key, i);
	if (check_keys(e, tv_keys, file, where, err, errlen) != 0)
		return -1;
	t = json_object_get(e, "type");
	v = json_object_get(e, "value");
	if (!json_is_string(t) || !json_is_string(v)) {
		seterr(err, errlen, file, "key \"%s[%zu]\": needs string "
		    "\"type\" and \"value\"", key, i);
		return -1;
	}
	*type = json_string_value(t);
	*value = json_string_value(v);
	if (!valid_tmpl(*value)) {
		seterr(err, errlen, file, "key \"%s[%zu].value\": bad template "
		    "(printable ASCII, 1-%d chars, only {uid} and {owner})",
		    key, i, TMPL_MAX);
		return -1;
	}
	return 0;
}

static int
parse_subject(struct ca_profile *p, json_t *obj, const char *file, char *err,
    size_t errlen)
{
	json_t *a;

	if (get_array(obj, "subject", CA_PROFILE_MAX_ATTRS, 1, &a, file, err,
	    errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *type, *value;
		size_t k;

		if (type_value(a, i, "subject", &type, &value, file, err,
		    errlen) != 0)
			return -1;
		for (k = 0; k < NELEM(attr_types); k++)
			if (strcmp(type, attr_types[k].name) == 0)
				break;
		if (k == NELEM(attr_types)) {
			seterr(err, errlen, file, "key \"subject[%zu].type\": "
			    "unknown attribute \"%s\"", i, type);
			return -1;
		}
		p->subject[i].nid = attr_types[k].nid;
		if ((p->subject[i].value = strdup(value)) == NULL) {
			seterr(err, errlen, file, "out of memory");
			return -1;
		}
		p->nsubject++;
	}
	return 0;
}

static int
parse_san(struct ca_profile *p, json_t *obj, const char *file, char *err,
    size_t errlen)
{
	json_t *a;

	if (get_array(obj, "san", CA_PROFILE_MAX_SANS, 1, &a, file, err,
	    errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *type, *value;

		if (type_value(a, i, "san", &type, &value, file, err,
		    errlen) != 0)
			return -1;
		if (strcmp(type, "uri") == 0)
			p->san[i].type = CA_SAN_URI;
		else if (strcmp(type, "dns") == 0)
			p->san[i].type = CA_SAN_DNS;
		else {
			seterr(err, errlen, file, "key \"san[%zu].type\": "
			    "\"%s\" is not \"uri\" or \"dns\"", i, type);
			return -1;
		}
		if ((p->san[i].value = strdup(value)) == NULL) {
			seterr(err, errlen, file, "out of memory");
			return -1;
		}
		p->nsan++;
	}
	/* RFC 5280 4.1.2.6: an empty subject needs a (critical) SAN. */
	if (p->nsubject == 0 && p->nsan == 0) {
		seterr(err, errlen, file, "profile has neither \"subject\" "
		    "nor \"san\"");
		return -1;
	}
	return 0;
}

static int
parse_usage(struct ca_profile *p, json_t *obj, const char *file, char *err,
    size_t errlen)
{
	json_t *a;

	if (get_array(obj, "key_usage", NELEM(ku_names), 0, &a, file, err,
	    errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s;
		size_t k;

		if ((s = array_string(a, i, "key_usage", file, err, errlen)) ==
		    NULL)
			return -1;
		for (k = 0; k < NELEM(ku_names); k++)
			if (strcmp(s, ku_names[k].name) == 0)
				break;
		if (k == NELEM(ku_names)) {
			seterr(err, errlen, file, "key \"key_usage[%zu]\": "
			    "\"%s\" is not an end-entity key usage", i, s);
			return -1;
		}
		p->key_usage |= ku_names[k].bit;
	}
	if (p->key_usage == 0) {
		seterr(err, errlen, file, "key \"key_usage\": empty");
		return -1;
	}
	if (get_array(obj, "extended_key_usage", CA_PROFILE_MAX_EKUS, 1, &a,
	    file, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s;
		size_t k;

		if ((s = array_string(a, i, "extended_key_usage", file, err,
		    errlen)) == NULL)
			return -1;
		for (k = 0; k < NELEM(eku_names); k++)
			if (strcmp(s, eku_names[k].name) == 0)
				break;
		if (k == NELEM(eku_names)) {
			seterr(err, errlen, file, "key \"extended_key_usage"
			    "[%zu]\": unknown purpose \"%s\"", i, s);
			return -1;
		}
		p->eku[p->neku++] = eku_names[k].nid;
	}
	if ((p->ext_ku = ca_x509_ku_ext(p->key_usage)) == NULL ||
	    (p->neku > 0 &&
	    (p->ext_eku = ca_x509_eku_ext(p->eku, p->neku)) == NULL)) {
		seterr(err, errlen, file, "cannot build key usage extensions");
		return -1;
	}
	return 0;
}

static int
parse_reenroll(struct ca_profile *p, json_t *obj, const char *file, char *err,
    size_t errlen)
{
	static const char *const re_keys[] = { "mode", "grace_seconds", NULL };
	json_t *o = json_object_get(obj, "reenroll_old_cert"), *m;
	long long grace;
	const char *mode;

	p->reenroll = CA_REENROLL_KEEP;
	if (o == NULL)
		return 0;
	if (!json_is_object(o)) {
		seterr(err, errlen, file, "key \"reenroll_old_cert\": expected "
		    "an object");
		return -1;
	}
	if (check_keys(o, re_keys, file, "reenroll_old_cert.", err,
	    errlen) != 0)
		return -1;
	m = json_object_get(o, "mode");
	mode = json_is_string(m) ? json_string_value(m) : "";
	if (strcmp(mode, "keep") == 0) {
		if (json_object_get(o, "grace_seconds") != NULL) {
			seterr(err, errlen, file, "key \"reenroll_old_cert."
			    "grace_seconds\": only with \"revoke_superseded\"");
			return -1;
		}
		return 0;
	}
	if (strcmp(mode, "revoke_superseded") != 0) {
		seterr(err, errlen, file, "key \"reenroll_old_cert.mode\": "
		    "expected \"keep\" or \"revoke_superseded\"");
		return -1;
	}
	p->reenroll = CA_REENROLL_REVOKE_SUPERSEDED;
	if (get_int(o, "grace_seconds", 0, GRACE_MAX_SECONDS, 0, &grace, file,
	    err, errlen) != 0)
		return -1;
	p->grace_seconds = grace;
	return 0;
}

struct ca_profile *
ca_profile_parse(const char *file, json_t *obj, char *err, size_t errlen)
{
	struct ca_profile *p;
	json_t *v;
	long long n;
	int ok = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		seterr(err, errlen, file, "out of memory");
		return NULL;
	}
	if (!json_is_object(obj)) {
		seterr(err, errlen, file, "expected a JSON object");
		goto out;
	}
	if (check_keys(obj, profile_keys, file, "", err, errlen) != 0)
		goto out;
	v = json_object_get(obj, "kind");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), "profile") != 0) {
		seterr(err, errlen, file, "key \"kind\": expected \"profile\"");
		goto out;
	}
	v = json_object_get(obj, "name");
	if (!json_is_string(v) || !valid_ident(json_string_value(v))) {
		seterr(err, errlen, file, "key \"name\": expected 1-63 of "
		    "[A-Za-z0-9._-]");
		goto out;
	}
	if ((p->name = strdup(json_string_value(v))) == NULL) {
		seterr(err, errlen, file, "out of memory");
		goto out;
	}
	v = json_object_get(obj, "description");
	if (v != NULL && !json_is_string(v)) {
		seterr(err, errlen, file, "key \"description\": expected a "
		    "string");
		goto out;
	}
	if (get_int(obj, "validity_days", 1, VALIDITY_MAX_DAYS, 0, &n, file,
	    err, errlen) != 0)
		goto out;
	p->validity_days = (int)n;
	if (get_int(obj, "renewal_window_days", 0, p->validity_days - 1, 0, &n,
	    file, err, errlen) != 0)
		goto out;
	p->renewal_window_days = (int)n;
	if (parse_labels(p, obj, file, err, errlen) != 0 ||
	    parse_key_types(p, obj, file, err, errlen) != 0 ||
	    parse_subject(p, obj, file, err, errlen) != 0 ||
	    parse_san(p, obj, file, err, errlen) != 0 ||
	    parse_usage(p, obj, file, err, errlen) != 0 ||
	    get_bool(obj, "require_new_key", 1, &p->require_new_key, file, err,
	    errlen) != 0 ||
	    get_bool(obj, "allow_serverkeygen", 0, &p->allow_serverkeygen,
	    file, err, errlen) != 0 ||
	    parse_reenroll(p, obj, file, err, errlen) != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		ca_profile_free(p);
		return NULL;
	}
	return p;
}

void
ca_profile_free(struct ca_profile *p)
{
	if (p == NULL)
		return;
	free(p->name);
	for (size_t i = 0; i < p->nlabels; i++)
		free(p->labels[i]);
	for (size_t i = 0; i < p->nsubject; i++)
		free(p->subject[i].value);
	for (size_t i = 0; i < p->nsan; i++)
		free(p->san[i].value);
	X509_EXTENSION_free(p->ext_ku);
	X509_EXTENSION_free(p->ext_eku);
	free(p);
}

/* Is s already a name or label of a loaded profile? */
static int
name_taken(const struct ca_profiles *ps, const char *s)
{
	return ca_profiles_find(ps, s) != NULL;
}

/* Loads one file; profiles go into ps, other kinds are skipped. */
static int
load_file(struct ca_profiles *ps, const char *path, char *err, size_t errlen)
{
	json_t *j, *kind;
	struct ca_profile *p = NULL;
	int rc = -1;

	if ((j = jsonfile_load(path, PROFILE_FILE_MAX, err, errlen)) == NULL)
		return -1;
	if (!json_is_object(j)) {
		seterr(err, errlen, path, "expected a JSON object");
		goto out;
	}
	kind = json_object_get(j, "kind");
	if (!json_is_string(kind)) {
		seterr(err, errlen, path, "key \"kind\": expected a string");
		goto out;
	}
	if (strcmp(json_string_value(kind), "profile") != 0) {
		rc = 0;		/* another kind of policy file */
		goto out;
	}
	if ((p = ca_profile_parse(path, j, err, errlen)) == NULL)
		goto out;
	if (ps->n == CA_PROFILE_MAX_FILES) {
		seterr(err, errlen, path, "more than %d profiles",
		    CA_PROFILE_MAX_FILES);
		goto out;
	}
	if (name_taken(ps, p->name)) {
		seterr(err, errlen, path, "profile name \"%s\" already used",
		    p->name);
		goto out;
	}
	for (size_t i = 0; i < p->nlabels; i++) {
		int dup = name_taken(ps, p->labels[i]) ||
		    strcmp(p->labels[i], p->name) == 0;

		for (size_t k = 0; k < i; k++)
			dup |= strcmp(p->labels[i], p->labels[k]) == 0;
		if (dup) {
			seterr(err, errlen, path, "label \"%s\" already used",
			    p->labels[i]);
			goto out;
		}
	}
	ps->p[ps->n++] = p;
	p = NULL;	/* owned by ps */
	rc = 0;
out:
	ca_profile_free(p);
	json_decref(j);
	return rc;
}

static int
json_name(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 5 &&
	    strcmp(d->d_name + len - 5, ".json") == 0;
}

struct ca_profiles *
ca_profiles_load(const char *dir, char *err, size_t errlen)
{
	struct ca_profiles *ps;
	struct dirent **names = NULL;
	int n, ok = 0;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	/* Sorted, so errors and load order do not depend on the file
	 * system. */
	if ((n = scandir(dir, &names, json_name, alphasort)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		int len;

		len = snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			snprintf(err, errlen, "%s: path too long", dir);
			goto out;
		}
		if (load_file(ps, path, err, errlen) != 0)
			goto out;
	}
	if (ps->n == 0) {
		snprintf(err, errlen, "%s: no profile (no *.json with "
		    "\"kind\": \"profile\")", dir);
		goto out;
	}
	ok = 1;
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!ok) {
		ca_profiles_free(ps);
		return NULL;
	}
	return ps;
}

const struct ca_profile *
ca_profiles_find(const struct ca_profiles *ps, const char *name_or_label)
{
	if (ps == NULL || name_or_label == NULL)
		return NULL;
	for (size_t i = 0; i < ps->n; i++) {
		const struct ca_profile *p = ps->p[i];

		if (strcmp(p->name, name_or_label) == 0)
			return p;
		for (size_t k = 0; k < p->nlabels; k++)
			if (strcmp(p->labels[k], name_or_label) == 0)
				return p;
	}
	return NULL;
}

size_t
ca_profiles_count(const struct ca_profiles *ps)
{
	return ps == NULL ? 0 : ps->n;
}

const struct ca_profile *
ca_profiles_get(const struct ca_profiles *ps, size_t i)
{
	return ps == NULL || i >= ps->n ? NULL : ps->p[i];
}

void
ca_profiles_free(struct ca_profiles *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n; i++)
		ca_profile_free(ps->p[i]);
	free(ps);
}
