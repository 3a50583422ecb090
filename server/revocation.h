/*
 * revocation.h - the revocation service of a running server: the
 * background publisher that keeps CRLs and pre-signed OCSP responses
 * current, and the OCSP answer logic the HTTP handlers call.
 *
 * Publisher thread: polls db_revocation_epoch() every REV_POLL_MS (so a
 * revocation made by another process, the CLI, is seen too); on a change
 * it re-reads the revoked sets, signs ONE new full CRL per CA for the whole
 * burst (and a delta CRL when crl.delta is on), stores it, swaps the
 * served DER, drops the cached OCSP responses of exactly the serials whose
 * status changed and signs them again.  It re-signs the CRL
 * crl.refresh_seconds before its nextUpdate, and between polls it
 * pre-signs OCSP responses for issued certificates (as many as
 * ocsp.cache_bytes holds) and refreshes them before their nextUpdate.
 * The request path never builds a CRL and does no SQL on a cache hit;
 * a request with a nonce takes each certificate's status from the cached
 * response of that certificate when there is one (see revocation.c), and
 * asks the store only for certificates not in the cache.
 */
#ifndef FLEETCA_SERVER_REVOCATION_H
#define FLEETCA_SERVER_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ocsp_cache.h"
#include "server/proto/ocsp.h"

struct app;
struct revocation;

#define REV_POLL_MS	100	/* epoch poll period */
#define REV_MAX_CAS	8

/*
 * Loads the CRL signers of every issuing CA and the delegated OCSP signer
 * from a->cfg.dir, creates the response cache and publishes the first
 * CRLs (so /crl/ answers from the first request).  a must outlive the
 * result.  NULL with err filled on failure.
 */
struct revocation *revocation_new(struct app *a, char *err, size_t errlen);
/* Starts / stops (and joins) the publisher thread.  start: 0 or -1. */
int revocation_start(struct revocation *r);
void revocation_stop(struct revocation *r);
/* Stops the thread if running, frees everything. */
void revocation_free(struct revocation *r);

/* ---- CRL ------------------------------------------------------------ */

/* A published CRL, shared read-only until its last release. */
struct rev_crl {
	const unsigned char *der;
	size_t len;
	int64_t number, this_update, next_update;
	char etag[24];		/* quoted: "<number hex>-<this_update hex>" */
};

/*
 * The current CRL named name (the CA name, e.g. "issuing-1"; namelen
 * bytes), full or delta, with a reference; NULL if there is none.  Give
 * it back with revocation_crl_release (fits http_resp.free_fn).
 */
const struct rev_crl *revocation_crl_get(struct revocation *r,
    const char *name, size_t namelen, int delta);
void revocation_crl_release(void *crl);

/* ---- OCSP ----------------------------------------------------------- */

struct rev_ocsp {
	/* Exactly one of cached / der is set on success. */
	const struct ocsp_cached *cached;	/* release: revocation_ocsp_release */
	unsigned char *der;			/* malloc'd, caller frees */
	size_t len;
	int cacheable;		/* no nonce, one CertID: RFC 5019 headers */
	int64_t produced_at, this_update, next_update;
	char etag[20];		/* quoted, when cacheable */
};

/*
 * Answers a parsed request.  Returns 0 with *out filled, or the
 * OCSPResponseStatus to send instead (OCSP_ST_UNAUTHORIZED when a CertID
 * names a CA we do not serve, OCSP_ST_INTERNAL_ERROR / TRY_LATER on
 * failure).  Without a nonce and with one CertID the answer comes from
 * the cache, or is signed, cached and returned; otherwise it is freshly
 * signed (echoing the nonce).
 */
int revocation_ocsp(struct revocation *r, const struct ocsp_request *req,
    struct rev_ocsp *out);
/* Gives a cached answer back (fits http_resp.free_fn). */
void revocation_ocsp_release(void *cached);

/* Cache entries / bytes, and counters, for /metrics and tests. */
void revocation_stats(struct revocation *r, size_t *entries, size_t *bytes,
    uint64_t *crls_signed);

#endif
