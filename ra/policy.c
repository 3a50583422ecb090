/*
 * policy.c - policies/ra.json, the RA policy.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonfile.h"
#include "ra/decide.h"

static void
policy_defaults(struct ra_policy *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->default_profile, sizeof(p->default_profile), "ldevid");
	p->require_claim = 1;
	p->require_manifest = 1;
	p->require_idevid_chain = 1;
	p->allow_reenroll_same_key = 0;
	p->reenroll_requires_valid_ldevid = 1;
	p->accept_empty_subject = 0;
}

static int
get_bool(json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

int
ra_policy_load(const char *dir, struct ra_policy *p, char *err, size_t len)
{
	char path[1200];
	const char *k;
	json_t *root, *v;
	FILE *f;
	int rc = -1;

	policy_defaults(p);
	snprintf(path, sizeof(path), "%s/ra.json", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;	/* no file: the defaults above */
	fclose(f);
	if ((root = jsonfile_load(path, 1 << 20, err, len)) == NULL)
		return -1;
	if (!json_is_object(root)) {
		snprintf(err, len, "%s: top level must be an object", path);
		goto out;
	}
	json_object_foreach(root, k, v) {
		int bad = 0;

		if (strcmp(k, "kind") == 0)
			bad = !json_is_string(v) ||
			    strcmp(json_string_value(v), "ra_policy") != 0;
		else if (strcmp(k, "description") == 0)
			bad = !json_is_string(v);
		else if (strcmp(k, "default_profile") == 0) {
			bad = !json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) >= sizeof(p->default_profile);
			if (!bad)
				snprintf(p->default_profile,
				    sizeof(p->default_profile), "%s",
				    json_string_value(v));
		} else if (strcmp(k, "require_claim") == 0)
			bad = get_bool(v, &p->require_claim);
		else if (strcmp(k, "require_manifest") == 0)
			bad = get_bool(v, &p->require_manifest);
		else if (strcmp(k, "require_idevid_chain") == 0)
			bad = get_bool(v, &p->require_idevid_chain);
		else if (strcmp(k, "allow_reenroll_same_key") == 0)
			bad = get_bool(v, &p->allow_reenroll_same_key);
		else if (strcmp(k, "reenroll_requires_valid_ldevid") == 0)
			bad = get_bool(v, &p->reenroll_requires_valid_ldevid);
		else if (strcmp(k, "accepted_subject_forms") == 0) {
			size_t i;
			json_t *e;

			bad = !json_is_array(v);
			json_array_foreach(v, i, e) {
				const char *s = json_string_value(e);

				if (s == NULL || (strcmp(s, "cn_uid") != 0 &&
				    strcmp(s, "serialnumber_uid") != 0 &&
				    strcmp(s, "empty") != 0))
					bad = 1;
				else if (strcmp(s, "empty") == 0)
					p->accept_empty_subject = 1;
			}
		} else {
			snprintf(err, len, "%s: %s: unknown key", path, k);
			goto out;
		}
		if (bad) {
			snprintf(err, len, "%s: %s: wrong type or value", path,
			    k);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
