/*
 * conf.h - fleetca.json, the configuration of one data directory.
 *
 * Loaded once at start; every value is checked here so the rest of the
 * server can trust it.  Unknown keys are errors (a typo must not silently
 * fall back to a default).  See fleetca.json(5).
 */
#ifndef FLEETCA_SERVER_CONF_H
#define FLEETCA_SERVER_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE "fleetca.json"

struct fc_config {
	char dir[1024];			/* data directory (absolute) */
	char listen_addr[64];		/* "127.0.0.1" */
	int http_port;			/* OCSP, CRL, CA certs, health */
	int https_port;			/* EST, CMP, admin API */
	char hostname[256];		/* TLS server name */
	char public_http_url[512];	/* base for AIA and CDP, no slash */
	int threads;			/* HTTP worker threads; 0 = cores */
	int log_level;			/* enum log_level */
	/* OCSP */
	int ocsp_validity_s;		/* nextUpdate - thisUpdate */
	size_t ocsp_cache_bytes;	/* memory bound of the cache */
	/* CRL */
	int crl_validity_s;		/* nextUpdate - thisUpdate */
	int crl_refresh_s;		/* re-sign this long before nextUpdate */
	int crl_delta;			/* publish delta CRLs */
	/* limits */
	size_t est_body_max;
	size_t ocsp_body_max;
	size_t api_body_max;
	size_t manifest_max;
	int conn_timeout_s;		/* idle/slow client timeout */
	int conn_limit;			/* simultaneous connections */
};

/* Fills c with defaults for a data directory. */
void config_defaults(struct fc_config *c, const char *dir);
/* Loads DIR/fleetca.json over the defaults.  Returns 0, or -1 with err
 * as "path:line:col: reason" or "path: key: reason". */
int config_load(struct fc_config *c, const char *dir, char *err, size_t len);
/* Writes c to DIR/fleetca.json (new file, 0644). */
int config_write(const struct fc_config *c, char *err, size_t len);

#endif
