/*
 * conf.c - reading and writing fleetca.json.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fileio.h"
#include "common/jsonfile.h"
#include "common/log.h"
#include "server/conf.h"

#define CONFIG_MAX_BYTES (1 << 20)

void
config_defaults(struct fc_config *c, const char *dir)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(c->listen_addr, sizeof(c->listen_addr), "127.0.0.1");
	c->http_port = 8080;
	c->https_port = 8443;
	snprintf(c->hostname, sizeof(c->hostname), "localhost");
	snprintf(c->public_http_url, sizeof(c->public_http_url),
	    "http://localhost:8080");
	c->threads = 0;
	c->log_level = LOG_LVL_INFO;
	c->ocsp_validity_s = 3600;
	c->ocsp_cache_bytes = 64u << 20;
	c->crl_validity_s = 86400;
	c->crl_refresh_s = 3600;
	c->crl_delta = 0;
	c->est_body_max = 64u << 10;
	c->ocsp_body_max = 16u << 10;
	c->api_body_max = 1u << 20;
	c->manifest_max = 256u << 20;
	c->conn_timeout_s = 15;
	c->conn_limit = 1024;
}

/* Key tables: a key, where it lives in the struct and its bounds. */
enum kind { K_STR, K_INT, K_SIZE, K_BOOL, K_LEVEL };
struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;		/* for strings: buffer size */
	long long min, max;
};

#define S(n, f) { n, K_STR, offsetof(struct fc_config, f), \
	sizeof(((struct fc_config *)0)->f), 0, 0 }
#define I(n, f, lo, hi) { n, K_INT, offsetof(struct fc_config, f), 0, lo, hi }
#define Z(n, f, lo, hi) { n, K_SIZE, offsetof(struct fc_config, f), 0, lo, hi }
#define B(n, f) { n, K_BOOL, offsetof(struct fc_config, f), 0, 0, 1 }

static const struct key top_keys[] = {
	S("listen_address", listen_addr),
	I("http_port", http_port, 0, 65535),
	I("https_port", https_port, 0, 65535),
	S("hostname", hostname),
	S("public_http_url", public_http_url),
	I("threads", threads, 0, 256),
	{ "log_level", K_LEVEL, offsetof(struct fc_config, log_level), 0, 0, 0 },
	I("conn_timeout_seconds", conn_timeout_s, 1, 3600),
	I("conn_limit", conn_limit, 1, 100000),
};
static const struct key ocsp_keys[] = {
	I("validity_seconds", ocsp_validity_s, 60, 7 * 86400),
	Z("cache_bytes", ocsp_cache_bytes, 0, 1LL << 34),
	Z("body_max", ocsp_body_max, 512, 1 << 20),
};
static const struct key crl_keys[] = {
	I("validity_seconds", crl_validity_s, 300, 90 * 86400),
	I("refresh_seconds", crl_refresh_s, 60, 90 * 86400),
	B("delta", crl_delta),
};
static const struct key limit_keys[] = {
	Z("est_body_max", est_body_max, 1024, 16 << 20),
	Z("api_body_max", api_body_max, 1024, 64 << 20),
	Z("manifest_max", manifest_max, 1024, 1LL << 34),
};

#define NKEYS(a) (sizeof(a) / sizeof(a[0]))

static int
apply_keys(struct fc_config *c, json_t *obj, const char *section,
    const struct key *keys, size_t nkeys, const char *path, char *err,
    size_t len)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj)) {
		snprintf(err, len, "%s: %s: must be an object", path, section);
		return -1;
	}
	json_object_foreach(obj, k, v) {
		const struct key *kd = NULL;
		char *field;

		for (size_t i = 0; i < nkeys; i++)
			if (strcmp(keys[i].name, k) == 0)
				kd = &keys[i];
		if (kd == NULL) {
			snprintf(err, len, "%s: %s%s%s: unknown key", path,
			    section, *section ? "." : "", k);
			return -1;
		}
		field = (char *)c + kd->off;
		switch (kd->kind) {
		case K_STR:
			if (!json_is_string(v) ||
			    json_string_length(v) >= kd->size ||
			    strlen(json_string_value(v)) != json_string_length(v))
				goto bad;
			memcpy(field, json_string_value(v),
			    json_string_length(v) + 1);
			break;
		case K_INT:
		case K_SIZE: {
			json_int_t n;

			if (!json_is_integer(v))
				goto bad;
			n = json_integer_value(v);
			if (n < kd->min || n > kd->max)
				goto bad;
			if (kd->kind == K_INT)
				*(int *)field = (int)n;
			else
				*(size_t *)field = (size_t)n;
			break;
		}
		case K_BOOL:
			if (!json_is_boolean(v))
				goto bad;
			*(int *)field = json_is_true(v);
			break;
		case K_LEVEL: {
			int lvl;

			if (!json_is_string(v) ||
			    (lvl = log_level_parse(json_string_value(v))) < 0)
				goto bad;
			*(int *)field = lvl;
			break;
		}
		}
		continue;
bad:
		if (kd->kind == K_INT || kd->kind == K_SIZE)
			snprintf(err, len, "%s: %s%s%s: must be an integer from "
			    "%lld to %lld", path, section, *section ? "." : "",
			    k, kd->min, kd->max);
		else
			snprintf(err, len, "%s: %s%s%s: wrong type or value",
			    path, section, *section ? "." : "", k);
		return -1;
	}
	return 0;
}

int
config_load(struct fc_config *c, const char *dir, char *err, size_t len)
{
	char path[1200];
	json_t *root, *sub;
	const char *k;
	json_t *v;
	int rc = -1;

	config_defaults(c, dir);
	snprintf(path, sizeof(path), "%s/%s", dir, CONFIG_FILE);
	if ((root = jsonfile_load(path, CONFIG_MAX_BYTES, err, len)) == NULL)
		return -1;
	if (!json_is_object(root)) {
		snprintf(err, len, "%s: top level must be an object", path);
		goto out;
	}
	/* Split the top level into plain keys and sections. */
	json_t *plain = json_object();
	if (plain == NULL)
		goto out;
	json_object_foreach(root, k, v) {
		if (strcmp(k, "ocsp") == 0 || strcmp(k, "crl") == 0 ||
		    strcmp(k, "limits") == 0)
			continue;
		json_object_set(plain, k, v);
	}
	rc = apply_keys(c, plain, "", top_keys, NKEYS(top_keys), path, err,
	    len);
	json_decref(plain);
	if (rc != 0)
		goto out;
	rc = -1;
	if ((sub = json_object_get(root, "ocsp")) != NULL &&
	    apply_keys(c, sub, "ocsp", ocsp_keys, NKEYS(ocsp_keys), path, err,
	    len) != 0)
		goto out;
	if ((sub = json_object_get(root, "crl")) != NULL &&
	    apply_keys(c, sub, "crl", crl_keys, NKEYS(crl_keys), path, err,
	    len) != 0)
		goto out;
	if ((sub = json_object_get(root, "limits")) != NULL &&
	    apply_keys(c, sub, "limits", limit_keys, NKEYS(limit_keys), path,
	    err, len) != 0)
		goto out;
	if (c->crl_refresh_s >= c->crl_validity_s) {
		snprintf(err, len, "%s: crl.refresh_seconds must be below "
		    "crl.validity_seconds", path);
		goto out;
	}
	if (strncmp(c->public_http_url, "http://", 7) != 0 &&
	    strncmp(c->public_http_url, "https://", 8) != 0) {
		snprintf(err, len, "%s: public_http_url: must start with "
		    "http:// or https://", path);
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
config_write(const struct fc_config *c, char *err, size_t len)
{
	char path[1200];
	json_t *root;
	char *text = NULL;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", c->dir, CONFIG_FILE);
	root = json_pack("{s:s, s:i, s:i, s:s, s:s, s:i, s:s, s:i, s:i,"
	    " s:{s:i, s:I, s:I}, s:{s:i, s:i, s:b},"
	    " s:{s:I, s:I, s:I}}",
	    "listen_address", c->listen_addr,
	    "http_port", c->http_port,
	    "https_port", c->https_port,
	    "hostname", c->hostname,
	    "public_http_url", c->public_http_url,
	    "threads", c->threads,
	    "log_level", "info",
	    "conn_timeout_seconds", c->conn_timeout_s,
	    "conn_limit", c->conn_limit,
	    "ocsp", "validity_seconds", c->ocsp_validity_s,
	    "cache_bytes", (json_int_t)c->ocsp_cache_bytes,
	    "body_max", (json_int_t)c->ocsp_body_max,
	    "crl", "validity_seconds", c->crl_validity_s,
	    "refresh_seconds", c->crl_refresh_s,
	    "delta", c->crl_delta,
	    "limits", "est_body_max", (json_int_t)c->est_body_max,
	    "api_body_max", (json_int_t)c->api_body_max,
	    "manifest_max", (json_int_t)c->manifest_max);
	if (root == NULL ||
	    (text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		snprintf(err, len, "%s: cannot encode configuration", path);
		goto out;
	}
	size_t tl = strlen(text);
	text[tl] = '\n';	/* replace NUL; length passed explicitly */
	if (file_write_new(path, text, tl + 1, 0644) == -1) {
		snprintf(err, len, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(text);
	json_decref(root);
	return rc;
}
