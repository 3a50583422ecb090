/*
 * manifest.c - verify secure-element manifests (MANIFEST-FORMAT.md).
 *
 * Shape of the work: one serial pass over the bytes checks the top-level
 * array (brackets balanced outside strings, depth capped, nothing after
 * the array) and records where each element starts and ends.  Worker
 * threads then take elements by index, parse each one with jansson on
 * its own (so the document is never held as one big tree: a 100,000-chip
 * reel is about 250 MB of base64), judge it and keep only DER and short
 * strings.  Malformed JSON inside one element rejects that element;
 * malformed structure around the elements rejects the file.
 *
 * Intermediate chains (x5c[1..]) repeat on every entry of a reel, so they
 * are verified against the manufacturer store once per call and cached by
 * SHA-256 of their text (canonical base64 maps 1:1 to DER).  Per entry
 * the device certificate is then checked against the cached issuer:
 * issuer match, signature, critical extensions, and the validity window,
 * which is the intersection of every certificate's validity in the chain.
 * Chains whose CAs carry name constraints take the full X509_verify_cert
 * path for every entry instead, as those depend on the leaf.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/civtime.h"
#include "ra/certwalk.h"
#include "ra/jws.h"
#include "ra/manifest.h"

#define MF_ENTRIES_MAX	1000000	/* elements per file */
#define MF_PAYLOAD_MAX	(256 * 1024)	/* encoded payload, bytes */
#define MF_KEYS_MAX	16	/* slots per chip */
#define MF_X5C_MAX	8	/* certificates in x5c */
#define MF_CERT_MAX	(16 * 1024)	/* encoded certificate, bytes */
#define MF_TEXT_MAX	128	/* model, partNumber, organizationName */
#define MF_DETAIL_MAX	160
#define MF_THREADS_MAX	64
#define MF_CHUNK	32	/* entries a worker takes at once */
#define MF_BUCKETS	4096
#define MF_ISSUERS	4	/* issuer verify set-ups kept per thread */
#define MF_ID_MAX	64	/* SKI octets kept for the AKID check */

/* Where one array element lies in the input. */
struct mf_span {
	size_t		 off;
	size_t		 len;
};

/* One verified (or refused) intermediate chain x5c[1..]. */
struct mf_chain {
	struct mf_chain	*next;		/* bucket list */
	unsigned char	 key[32];	/* SHA-256 over the x5c[1..] text */
	int		 ok;
	char		 detail[MF_DETAIL_MAX];	/* when !ok */
	unsigned char	*der;		/* x5c[1..] DER concatenated */
	size_t		 derlen;
	X509		*issuer;	/* x5c[1] */
	STACK_OF(X509)	*untrusted;	/* x5c[1..], for the full path */
	int		 full;		/* name constraints: full verify */
	time_t		 nb, na;	/* validity window of the chain */
	/* Facts for the per-entry fast path (fast != 0 when usable):
	 * x5c[1]'s subject DER, SKI, and that its key is EC and its
	 * keyUsage (if any) has keyCertSign (X509_check_issued()). */
	int		 fast;
	unsigned char	*iss_name;	/* OPENSSL_malloc'd */
	size_t		 iss_name_len;
	unsigned char	 ski[MF_ID_MAX];
	size_t		 skilen;	/* 0: x5c[1] has no SKI */
};

/* One issuer key set up for verification on one thread. */
struct mf_issuer {
	const struct mf_chain	*chain;		/* lent; NULL if unused */
	EVP_PKEY_CTX		*pctx;		/* owned */
};

/*
 * Per-thread state of a worker: everything that OpenSSL would otherwise
 * set up again for every entry.  Owned by the worker that made it.
 */
struct mf_tls {
	int			 fast;		/* 0: reference path only */
	struct ra_jws_verifier	*jws;
	EVP_MD_CTX		*mdctx;
	EVP_MD			*sha256, *sha384;
	BN_CTX			*bn;
	EC_GROUP		*p256, *p384;
	EC_POINT		*pt256, *pt384;
	struct mf_issuer	 issuers[MF_ISSUERS];
	size_t			 victim;
};

struct ra_manifest {
	struct ra_manifest_entry *entries;
	size_t		 entriesz;
	size_t		 nok;
	pthread_mutex_t	 mu;		/* guards buckets */
	struct mf_chain	*buckets[MF_BUCKETS];
};

/* What every worker shares during one ra_manifest_verify() call. */
struct mf_job {
	const unsigned char	*buf;
	const struct mf_span	*spans;
	size_t			 nspans;
	size_t			 next;		/* atomic work index */
	const struct ra_trust	*trust;
	time_t			 now;
	struct ra_manifest	*m;
	int			 flags;		/* RA_MANIFEST_F_* */
	int			 failed;	/* a worker could not start */
};

static const char *const mf_reasons[] = {
	[RA_MANIFEST_OK] = "ok",
	[RA_MANIFEST_MALFORMED_ENTRY] = "malformed_entry",
	[RA_MANIFEST_BAD_PROTECTED_HEADER] = "bad_protected_header",
	[RA_MANIFEST_UNSUPPORTED_ALG] = "unsupported_alg",
	[RA_MANIFEST_UNKNOWN_SIGNER] = "unknown_signer",
	[RA_MANIFEST_BAD_SIGNATURE] = "bad_signature",
	[RA_MANIFEST_BAD_PAYLOAD] = "bad_payload",
	[RA_MANIFEST_MISSING_FIELD] = "missing_field",
	[RA_MANIFEST_UID_MISMATCH] = "uid_mismatch",
	[RA_MANIFEST_UNTRUSTED_CHAIN] = "untrusted_chain",
	[RA_MANIFEST_CHAIN_EXPIRED] = "chain_expired",
	[RA_MANIFEST_KEY_MISMATCH] = "key_mismatch",
	[RA_MANIFEST_SUBJECT_MISMATCH] = "subject_mismatch",
	[RA_MANIFEST_INTERNAL] = "internal_error",
};

const char *
ra_manifest_reason_str(enum ra_manifest_reason r)
{
	if ((size_t)r >= sizeof(mf_reasons) / sizeof(mf_reasons[0]))
		return "unknown";
	return mf_reasons[r];
}

/* ---- structural scan ------------------------------------------------ */

static int
mf_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
mf_span_push(struct mf_span **spans, size_t *n, size_t *cap, size_t off,
    size_t end)
{
	struct mf_span *ns;

	if (*n == *cap) {
		size_t nc = *cap == 0 ? 1024 : *cap * 2;

		if ((ns = reallocarray(*spans, nc, sizeof(*ns))) == NULL)
			return 0;
		*spans = ns;
		*cap = nc;
	}
	(*spans)[*n].off = off;
	(*spans)[(*n)++].len = end - off;
	return 1;
}

/*
 * Scans buf for balanced brackets outside strings, depth <= maxdepth.
 * With spans != NULL the value must be one array followed only by white
 * space, and the extent of each top-level element is recorded (caller
 * frees *spans).  Returns 1, or 0 with err filled.
 */
static int
mf_scan(const unsigned char *buf, size_t len, int maxdepth,
    struct mf_span **spans, size_t *nspans, char *err, size_t errlen)
{
	char stack[RA_MANIFEST_DEPTH_MAX];
	size_t i, estart = SIZE_MAX, elast = 0, cap = 0;
	int depth = 0, instr = 0, started = 0, done = 0, comma = 0;
	int top = spans != NULL;

	if (maxdepth > RA_MANIFEST_DEPTH_MAX)
		maxdepth = RA_MANIFEST_DEPTH_MAX;
	if (top) {
		*spans = NULL;
		*nspans = 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = buf[i];

		if (instr) {
			if (c == '\\' && ++i >= len)
				break;
			if (c == '"')
				instr = 0;
			elast = i + 1;
			continue;
		}
		if (mf_is_ws(c))
			continue;
		if (top && depth == 0) {
			if (done) {
				snprintf(err, errlen, "offset %zu: data after "
				    "the top-level array", i);
				goto fail;
			}
			if (c != '[') {
				snprintf(err, errlen, "top level is not a "
				    "JSON array");
				goto fail;
			}
			stack[depth++] = '[';
			started = 1;
			continue;
		}
		if (top && depth == 1 && c == ',') {
			if (estart == SIZE_MAX) {
				snprintf(err, errlen, "offset %zu: empty array "
				    "element", i);
				goto fail;
			}
			if (*nspans >= MF_ENTRIES_MAX) {
				snprintf(err, errlen, "more than %d entries",
				    MF_ENTRIES_MAX);
				goto fail;
			}
			if (!mf_span_push(spans, nspans, &cap, estart, elast)) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			estart = SIZE_MAX;
			comma = 1;
			continue;
		}
		if (c == ']' || c == '}') {
			if (depth == 0 ||
			    stack[depth - 1] != (c == ']' ? '[' : '{')) {
				snprintf(err, errlen, "offset %zu: unbalanced "
				    "'%c'", i, c);
				goto fail;
			}
			depth--;
			if (top && depth == 0) {
				if (estart != SIZE_MAX) {
					if (*nspans >= MF_ENTRIES_MAX ||
					    !mf_span_push(spans, nspans, &cap,
					    estart, elast)) {
						snprintf(err, errlen, "too many "
						    "entries or out of memory");
						goto fail;
					}
				} else if (comma) {
					snprintf(err, errlen, "offset %zu: "
					    "trailing comma", i);
					goto fail;
				}
				done = 1;
				continue;
			}
			elast = i + 1;
			continue;
		}
		if (top && depth == 1 && estart == SIZE_MAX)
			estart = i;
		elast = i + 1;
		if (c == '"') {
			instr = 1;
		} else if (c == '[' || c == '{') {
			if (depth >= maxdepth) {
				snprintf(err, errlen, "offset %zu: nesting "
				    "deeper than %d", i, maxdepth);
				goto fail;
			}
			stack[depth++] = (char)c;
		}
	}
	if (instr) {
		snprintf(err, errlen, "unterminated string");
		goto fail;
	}
	if (top && !started) {
		snprintf(err, errlen, "empty file");
		goto fail;
	}
	if (depth != 0) {
		snprintf(err, errlen, "unexpected end of file");
		goto fail;
	}
	return 1;
 fail:
	if (top) {
		free(*spans);
		*spans = NULL;
		*nspans = 0;
	}
	return 0;
}

int
ra_manifest_depth_ok(const unsigned char *buf, size_t len, int maxdepth)
{
	char err[8];

	return mf_scan(buf, len, maxdepth, NULL, NULL, err, sizeof(err));
}

/* ---- small parsers ------------------------------------------------- */

static int
mf_xdigit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies an even-length 2..RA_MANIFEST_UID_MAX hex string to out in lower
 * case.  Returns 0 if s is not one. */
static int
mf_uid_norm(const char *s, size_t n, char out[RA_MANIFEST_UID_MAX + 1])
{
	if (n < 2 || n > RA_MANIFEST_UID_MAX || n % 2 != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int v = mf_xdigit((unsigned char)s[i]);

		if (v < 0)
			return 0;
		out[i] = "0123456789abcdef"[v];
	}
	out[n] = '\0';
	return 1;
}

/* 1 if the n bytes at p are the hex digits of uid (lower case), in any
 * case. */
static int
mf_hex_eq(const unsigned char *p, size_t n, const char *uid)
{
	size_t ul = strlen(uid);

	if (n != ul)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int v = mf_xdigit(p[i]);

		if (v < 0 || "0123456789abcdef"[v] != uid[i])
			return 0;
	}
	return 1;
}

/*
 * RFC 3339 section 5.6 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm).
 * Fractions are dropped.  Returns 1 with *t set.
 */
static int
mf_rfc3339(const char *s, size_t n, time_t *t)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;

	if (n < 20 || n > 40 || !civtime_digits(s, 4, &Y) || s[4] != '-' ||
	    !civtime_digits(s + 5, 2, &M) || s[7] != '-' ||
	    !civtime_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    !civtime_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !civtime_digits(s + 14, 2, &m) || s[16] != ':' ||
	    !civtime_digits(s + 17, 2, &sec))
		return 0;
	if (s[i] == '.') {
		size_t f = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return 0;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (n - i != 6 || !civtime_digits(s + i + 1, 2, &oh) ||
		    s[i + 3] != ':' || !civtime_digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return 0;
		i += 6;
	} else {
		return 0;
	}
	if (i != n)
		return 0;
	if (!civtime_to_time(Y, M, D, h, m, sec, 60, t))
		return 0;
	*t -= (time_t)sign * (oh * 3600 + om * 60);
	return 1;
}

static int
mf_asn1_time(const ASN1_TIME *a, time_t *t)
{
	struct tm tm;

	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return 0;
	*t = timegm(&tm);
	return 1;
}

/* ---- entry results -------------------------------------------------- */

static void
mf_entry_clear(struct ra_manifest_entry *e)
{
	free(e->detail);
	free(e->model);
	free(e->part_number);
	free(e->provisioner);
	for (size_t k = 0; k < e->keysz; k++)
		free(e->keys[k].spki);
	free(e->keys);
	free(e->cert);
	e->detail = e->model = e->part_number = e->provisioner = NULL;
	e->keys = NULL;
	e->keysz = 0;
	e->cert = NULL;
	e->cert_len = 0;
	e->chain = NULL;
	e->chain_len = 0;
}

/* Rejects e: drops what was gathered, keeps index and uid. */
static enum ra_manifest_reason
mf_reject(struct ra_manifest_entry *e, enum ra_manifest_reason r,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum ra_manifest_reason
mf_reject(struct ra_manifest_entry *e, enum ra_manifest_reason r,
    const char *fmt, ...)
{
	char buf[MF_DETAIL_MAX];
	va_list ap;

	/* Format first: the arguments may point into e. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mf_entry_clear(e);
	/* Details quote untrusted text: keep them one printable line. */
	for (char *c = buf; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	e->reason = r;
	e->detail = strdup(buf);	/* NULL on OOM: the code still says */
	return r;
}

/* ---- payload fields ------------------------------------------------- */

/*
 * Fetches a short text field of obj (named path for the detail).  Absent
 * is missing_field; wrong type, empty, too long or control characters
 * are bad_payload.  On success *out is a malloc'd copy.
 */
static enum ra_manifest_reason
mf_text(struct ra_manifest_entry *e, json_t *obj, const char *key,
    const char *path, char **out)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (v == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: %s missing", path);
	if (!json_is_string(v))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: %s is not a string", path);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > MF_TEXT_MAX || strlen(s) != n)
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: %s is empty or longer than %d", path,
		    MF_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
			    "payload: %s holds control characters", path);
	if ((*out = strdup(s)) == NULL)
		return mf_reject(e, RA_MANIFEST_INTERNAL, "out of memory");
	return RA_MANIFEST_OK;
}

/* RFC 5480 SubjectPublicKeyInfo prefixes for uncompressed named-curve
 * points; the 0x04 point-format octet follows. */
static const unsigned char mf_spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00
};
static const unsigned char mf_spki_p384[] = {
	0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62,
	0x00
};

/* Decodes JWK coordinate name of key k (RFC 7518 6.2.1.2: exactly the
 * field size) into out. */
static enum ra_manifest_reason
mf_coord(struct ra_manifest_entry *e, json_t *k, const char *name,
    size_t flen, const char *kid, unsigned char *out)
{
	json_t *v = json_object_get(k, name);
	unsigned char *raw;
	size_t rawlen;

	if (v == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: key %s: %s missing", kid, name);
	if (!json_is_string(v) || (raw = b64url_decode(json_string_value(v),
	    json_string_length(v), &rawlen)) == NULL)
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: key %s: %s is not base64url", kid, name);
	if (rawlen != flen) {
		free(raw);
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: key %s: %s is %zu bytes, not %zu", kid, name,
		    rawlen, flen);
	}
	memcpy(out, raw, flen);
	free(raw);
	return RA_MANIFEST_OK;
}

/*
 * 1 if the uncompressed point oct (1 + 2 * flen bytes) is on P-256
 * (flen 32) or P-384.  Checking a JWK point this way avoids d2i_PUBKEY(),
 * whose decoder set-up costs OpenSSL 3.0 more than the check itself; the
 * thread's BN_CTX and point spare an allocation per call.
 */
static int
mf_on_curve(struct mf_tls *tls, size_t flen, const unsigned char *oct)
{
	int on = EC_POINT_oct2point(flen == 32 ? tls->p256 : tls->p384,
	    flen == 32 ? tls->pt256 : tls->pt384, oct, 1 + 2 * flen,
	    tls->bn) == 1;

	ERR_clear_error();
	return on;
}

/*
 * Turns one JWK into SPKI DER in *dst.  Keys other than slot 0 are
 * decoded once to make sure the point is on the curve; slot 0 is
 * compared byte for byte with the certificate's key later instead.
 */
static enum ra_manifest_reason
mf_jwk(struct mf_tls *tls, struct ra_manifest_entry *e, json_t *k,
    struct ra_manifest_key *dst)
{
	const unsigned char *prefix;
	unsigned char *spki;
	json_t *v;
	size_t plen, flen;
	enum ra_manifest_reason r;

	v = json_object_get(k, "kid");
	if (v == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: key without kid");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > RA_MANIFEST_KID_MAX)
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: key kid is not a short string");
	for (const char *c = json_string_value(v); *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
			    "payload: key kid is not printable");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: key kid holds NUL");
	strcpy(dst->kid, json_string_value(v));
	v = json_object_get(k, "kty");
	if (!json_is_string(v) || strcmp(json_string_value(v), "EC") != 0)
		return mf_reject(e, v == NULL ? RA_MANIFEST_MISSING_FIELD :
		    RA_MANIFEST_BAD_PAYLOAD, "payload: key %s: kty is not "
		    "\"EC\"", dst->kid);
	v = json_object_get(k, "crv");
	if (json_is_string(v) && strcmp(json_string_value(v), "P-256") == 0) {
		prefix = mf_spki_p256;
		plen = sizeof(mf_spki_p256);
		flen = 32;
	} else if (json_is_string(v) &&
	    strcmp(json_string_value(v), "P-384") == 0) {
		prefix = mf_spki_p384;
		plen = sizeof(mf_spki_p384);
		flen = 48;
	} else {
		return mf_reject(e, v == NULL ? RA_MANIFEST_MISSING_FIELD :
		    RA_MANIFEST_BAD_PAYLOAD, "payload: key %s: crv is not "
		    "P-256 or P-384", dst->kid);
	}
	if ((spki = malloc(plen + 1 + 2 * flen)) == NULL)
		return mf_reject(e, RA_MANIFEST_INTERNAL, "out of memory");
	memcpy(spki, prefix, plen);
	spki[plen] = 0x04;
	if ((r = mf_coord(e, k, "x", flen, dst->kid, spki + plen + 1)) !=
	    RA_MANIFEST_OK || (r = mf_coord(e, k, "y", flen, dst->kid,
	    spki + plen + 1 + flen)) != RA_MANIFEST_OK) {
		free(spki);
		return r;
	}
	dst->spki = spki;
	dst->spki_len = plen + 1 + 2 * flen;
	if (strcmp(dst->kid, "0") != 0 && !mf_on_curve(tls, flen,
	    spki + plen))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: key %s: point is not on the curve", dst->kid);
	return RA_MANIFEST_OK;
}

/* Reads publicKeySet.keys into e->keys (slot 0 first) and lends slot 0's
 * JSON object in *slot0. */
static enum ra_manifest_reason
mf_keys(struct mf_tls *tls, struct ra_manifest_entry *e, json_t *pl,
    json_t **slot0)
{
	json_t *set, *keys, *k;
	size_t n, i, j, i0 = SIZE_MAX;
	enum ra_manifest_reason r;

	*slot0 = NULL;
	if ((set = json_object_get(pl, "publicKeySet")) == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: publicKeySet missing");
	if (!json_is_object(set))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: publicKeySet is not an object");
	if ((keys = json_object_get(set, "keys")) == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: publicKeySet.keys missing");
	if (!json_is_array(keys) || (n = json_array_size(keys)) == 0 ||
	    n > MF_KEYS_MAX)
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: publicKeySet.keys is not an array of 1..%d",
		    MF_KEYS_MAX);
	if ((e->keys = calloc(n, sizeof(*e->keys))) == NULL)
		return mf_reject(e, RA_MANIFEST_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		k = json_array_get(keys, i);
		if (!json_is_object(k))
			return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
			    "payload: keys[%zu] is not an object", i);
		if ((r = mf_jwk(tls, e, k, &e->keys[i])) != RA_MANIFEST_OK)
			return r;
		e->keysz = i + 1;
		for (j = 0; j < i; j++)
			if (strcmp(e->keys[j].kid, e->keys[i].kid) == 0)
				return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
				    "payload: key slot %s twice",
				    e->keys[i].kid);
		if (strcmp(e->keys[i].kid, "0") == 0) {
			i0 = i;
			*slot0 = k;
		}
	}
	if (i0 == SIZE_MAX)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: no key for slot \"0\"");
	if (i0 != 0) {
		struct ra_manifest_key tmp = e->keys[0];

		e->keys[0] = e->keys[i0];
		e->keys[i0] = tmp;
	}
	return RA_MANIFEST_OK;
}

/* ---- chains ----------------------------------------------------------- */

static void
mf_chain_free(struct mf_chain *c)
{
	if (c == NULL)
		return;
	free(c->der);
	OPENSSL_free(c->iss_name);
	X509_free(c->issuer);
	sk_X509_pop_free(c->untrusted, X509_free);
	free(c);
}

/*
 * Verifies target against the manufacturer store with the untrusted
 * certificates, ignoring time (windows are checked per entry), and
 * returns in [*nb, *na] the intersection of the validity of every
 * certificate in the built chain.  With ca_target, target is x5c[1] and
 * will have the device certificate below it, so every CA above must
 * allow one more intermediate than OpenSSL checked (RFC 5280 4.2.1.9).
 * *nc is set if any chain certificate carries name constraints.
 */
static int
mf_verify_path(X509_STORE *store, X509 *target, STACK_OF(X509) *untrusted,
    int ca_target, time_t *nb, time_t *na, int *nc, char *detail,
    size_t detlen)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *chain;
	time_t b, a;
	int ok = 0;

	*nb = INT64_MIN;
	*na = INT64_MAX;
	*nc = 0;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, target, untrusted) != 1) {
		snprintf(detail, detlen, "X509_STORE_CTX_init failed");
		goto out;
	}
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
	    X509_V_FLAG_NO_CHECK_TIME);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(detail, detlen, "x5c chain: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		long pl;

		if (!mf_asn1_time(X509_get0_notBefore(c), &b) ||
		    !mf_asn1_time(X509_get0_notAfter(c), &a)) {
			snprintf(detail, detlen, "chain[%d]: bad validity", i);
			goto out;
		}
		if (b > *nb)
			*nb = b;
		if (a < *na)
			*na = a;
		if (ca_target && i >= 1 && (pl = X509_get_pathlen(c)) >= 0 &&
		    pl < i) {
			snprintf(detail, detlen, "chain[%d]: pathLenConstraint "
			    "%ld leaves no room for the device certificate",
			    i, pl);
			goto out;
		}
		if (X509_get_ext_by_NID(c, NID_name_constraints, -1) >= 0)
			*nc = 1;
	}
	ok = 1;
 out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Decodes one x5c element (RFC 7517 4.7: padded standard base64 of DER).
 * Returns the certificate and its DER in *der (caller frees both). */
static X509 *
mf_x5c_cert(json_t *s, unsigned char **der, size_t *derlen)
{
	const unsigned char *p;
	X509 *x;

	*der = b64_decode(json_string_value(s), json_string_length(s), 0,
	    derlen);
	if (*der == NULL)
		return NULL;
	p = *der;
	if ((x = d2i_X509(NULL, &p, (long)*derlen)) == NULL ||
	    p != *der + *derlen) {
		X509_free(x);
		ERR_clear_error();
		free(*der);
		*der = NULL;
		return NULL;
	}
	return x;
}

/*
 * Records what the fast path needs to know about x5c[1] to reach the
 * same answer as X509_check_issued(): its subject (the device issuer
 * must be byte-equal), SKI (AKID match, RFC 5280 4.2.1.1), keyCertSign
 * in keyUsage, and an EC key.  c->fast stays 0 when any is unusual.
 * Returns 0 only on OOM.
 */
static int
mf_chain_fast(struct mf_chain *c)
{
	const ASN1_OCTET_STRING *ski;
	EVP_PKEY *key = X509_get0_pubkey(c->issuer);
	char group[32];
	int n;

	c->fast = 0;
	if ((X509_get_key_usage(c->issuer) & KU_KEY_CERT_SIGN) == 0)
		return 1;
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1 ||
	    (strcmp(group, "prime256v1") != 0 &&
	    strcmp(group, "secp384r1") != 0)) {
		ERR_clear_error();
		return 1;
	}
	if ((ski = X509_get0_subject_key_id(c->issuer)) != NULL) {
		n = ASN1_STRING_length(ski);
		if (n <= 0 || n > MF_ID_MAX)
			return 1;
		memcpy(c->ski, ASN1_STRING_get0_data(ski), (size_t)n);
		c->skilen = (size_t)n;
	}
	ERR_clear_error();
	n = i2d_X509_NAME(X509_get_subject_name(c->issuer), &c->iss_name);
	if (n <= 0) {
		c->iss_name = NULL;
		return 0;
	}
	c->iss_name_len = (size_t)n;
	c->fast = 1;
	return 1;
}

/* Builds the cache record for x5c[1..]: a refused chain is a record too,
 * so a reel of bad entries costs one verify.  NULL only on OOM. */
static struct mf_chain *
mf_chain_build(const struct ra_trust *t, json_t *x5c,
    const unsigned char key[32])
{
	struct mf_chain *c;
	unsigned char *der, *nd;
	size_t derlen;
	X509 *x;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	memcpy(c->key, key, sizeof(c->key));
	if ((c->untrusted = sk_X509_new_null()) == NULL)
		goto oom;
	for (size_t i = 1; i < json_array_size(x5c); i++) {
		if ((x = mf_x5c_cert(json_array_get(x5c, i), &der, &derlen)) ==
		    NULL) {
			snprintf(c->detail, sizeof(c->detail), "x5c[%zu] is not "
			    "base64 of a DER certificate", i);
			return c;
		}
		nd = realloc(c->der, c->derlen + derlen);
		if (nd == NULL || sk_X509_push(c->untrusted, x) <= 0) {
			if (nd != NULL)
				c->der = nd;
			X509_free(x);
			free(der);
			goto oom;
		}
		c->der = nd;
		memcpy(c->der + c->derlen, der, derlen);
		c->derlen += derlen;
		free(der);
	}
	c->issuer = sk_X509_value(c->untrusted, 0);
	if (X509_up_ref(c->issuer) != 1) {
		c->issuer = NULL;
		goto oom;
	}
	/* Also caches the extensions, so that later readers only read. */
	if (X509_check_ca(c->issuer) != 1) {
		snprintf(c->detail, sizeof(c->detail),
		    "x5c[1] is not a CA certificate");
		return c;
	}
	if (!mf_verify_path(ra_trust_manufacturer_store(t), c->issuer,
	    c->untrusted, 1, &c->nb, &c->na, &c->full, c->detail,
	    sizeof(c->detail)))
		return c;
	if (X509_get0_pubkey(c->issuer) == NULL) {
		snprintf(c->detail, sizeof(c->detail),
		    "x5c[1] has an unusable public key");
		return c;
	}
	if (!c->full) {
		sk_X509_pop_free(c->untrusted, X509_free);
		c->untrusted = NULL;
		if (!mf_chain_fast(c))
			goto oom;
	}
	c->ok = 1;
	return c;
 oom:
	mf_chain_free(c);
	ERR_clear_error();
	return NULL;
}

/* Returns the (shared, manifest-owned) record for x5c[1..], building it
 * on first sight.  NULL only on OOM. */
static struct mf_chain *
mf_chain_get(struct mf_job *job, struct mf_tls *tls, json_t *x5c)
{
	struct ra_manifest *m = job->m;
	unsigned char key[32];
	unsigned int klen = 0;
	EVP_MD_CTX *md = tls->mdctx;
	struct mf_chain *c, *nc;
	size_t b;
	int ok;

	/* The thread's context and prefetched SHA-256: no per-entry
	 * allocation or algorithm look-up. */
	ok = EVP_DigestInit_ex2(md, tls->sha256, NULL) == 1;
	for (size_t i = 1; ok && i < json_array_size(x5c); i++) {
		json_t *s = json_array_get(x5c, i);

		/* NUL separates elements; base64 never holds one. */
		ok = EVP_DigestUpdate(md, json_string_value(s),
		    json_string_length(s) + 1) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, key, &klen) == 1;
	if (!ok)
		return NULL;
	b = ((size_t)key[0] << 4 | key[1] >> 4) % MF_BUCKETS;
	pthread_mutex_lock(&m->mu);
	for (c = m->buckets[b]; c != NULL; c = c->next)
		if (memcmp(c->key, key, sizeof(key)) == 0)
			break;
	pthread_mutex_unlock(&m->mu);
	if (c != NULL)
		return c;
	/* Built outside the lock; a racing twin is dropped below. */
	if ((nc = mf_chain_build(job->trust, x5c, key)) == NULL)
		return NULL;
	pthread_mutex_lock(&m->mu);
	for (c = m->buckets[b]; c != NULL; c = c->next)
		if (memcmp(c->key, key, sizeof(key)) == 0)
			break;
	if (c == NULL) {
		nc->next = m->buckets[b];
		m->buckets[b] = nc;
		c = nc;
		nc = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	mf_chain_free(nc);
	return c;
}

/* Step 6: CN=sn<HEX> (Microchip), CN=<hex> or serialNumber=<hex>. */
static int
mf_names_chip(const X509_NAME *name, const char *uid)
{
	static const int nids[] = { NID_commonName, NID_serialNumber };

	for (size_t k = 0; k < 2; k++) {
		int idx = -1;

		while ((idx = X509_NAME_get_index_by_NID(name, nids[k],
		    idx)) >= 0) {
			const ASN1_STRING *d = X509_NAME_ENTRY_get_data(
			    X509_NAME_get_entry(name, idx));
			const unsigned char *p = ASN1_STRING_get0_data(d);
			int n = ASN1_STRING_length(d);

			if (n <= 0)
				continue;
			if (mf_hex_eq(p, (size_t)n, uid))
				return 1;
			if (nids[k] == NID_commonName && n > 2 &&
			    (p[0] == 's' || p[0] == 'S') &&
			    (p[1] == 'n' || p[1] == 'N') &&
			    mf_hex_eq(p + 2, (size_t)n - 2, uid))
				return 1;
		}
	}
	return 0;
}

/* ecdsa-with-SHA256 / -SHA384 AlgorithmIdentifier TLVs (RFC 5758 3.2:
 * parameters absent). */
static const unsigned char mf_alg_es256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02
};
static const unsigned char mf_alg_es384[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03
};

/* The thread's verify set-up for c's issuer key; NULL on failure. */
static EVP_PKEY_CTX *
mf_issuer_ctx(struct mf_tls *tls, const struct mf_chain *c)
{
	struct mf_issuer *is;

	for (size_t i = 0; i < MF_ISSUERS; i++)
		if (tls->issuers[i].chain == c)
			return tls->issuers[i].pctx;
	is = &tls->issuers[tls->victim];
	tls->victim = (tls->victim + 1) % MF_ISSUERS;
	EVP_PKEY_CTX_free(is->pctx);
	is->chain = NULL;
	/* No signature md is set: the caller hands over the digest. */
	if ((is->pctx = EVP_PKEY_CTX_new_from_pkey(NULL,
	    X509_get0_pubkey(c->issuer), NULL)) == NULL ||
	    EVP_PKEY_verify_init(is->pctx) != 1) {
		EVP_PKEY_CTX_free(is->pctx);
		is->pctx = NULL;
		ERR_clear_error();
		return NULL;
	}
	is->chain = c;
	return is->pctx;
}

/*
 * The fast form of steps 5 and 6 for a device certificate (der) under a
 * cached, plain chain c.  Returns 1 only when the entry passes every
 * check the reference path makes: X509_check_issued() (issuer name
 * byte-equal to x5c[1]'s subject, AKID keyid equal to its SKI, EC
 * signature alg for an EC key, keyCertSign checked per chain), the
 * signature, no unknown critical or invalid extension (certwalk only
 * passes four known, well-formed ones), validity at prov and now, the
 * SPKI byte-equal to the slot-0 JWK with the point on the curve, and the
 * subject naming the chip.  0 means "judge it on the reference path",
 * never "refused".
 */
static int
mf_fast_cert(struct mf_tls *tls, const struct mf_chain *c,
    const struct ra_manifest_entry *e, const unsigned char *der,
    size_t derlen, time_t prov, time_t now)
{
	struct ra_certwalk cw;
	const struct ra_manifest_key *k0 = &e->keys[0];
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	const unsigned char *p;
	X509_NAME *subj = NULL;
	EVP_PKEY_CTX *pctx;
	EVP_MD *md;
	time_t nb, na;
	int ok = 0;

	if (!ra_certwalk_parse(der, derlen, &cw))
		goto out;
	if (cw.sigalg_len == sizeof(mf_alg_es256) &&
	    memcmp(cw.sigalg, mf_alg_es256, sizeof(mf_alg_es256)) == 0)
		md = tls->sha256;
	else if (cw.sigalg_len == sizeof(mf_alg_es384) &&
	    memcmp(cw.sigalg, mf_alg_es384, sizeof(mf_alg_es384)) == 0)
		md = tls->sha384;
	else
		goto out;
	if (cw.issuer_len != c->iss_name_len ||
	    memcmp(cw.issuer, c->iss_name, cw.issuer_len) != 0)
		goto out;
	if (cw.akid != NULL && c->skilen != 0 && (cw.akid_len != c->skilen ||
	    memcmp(cw.akid, c->ski, c->skilen) != 0))
		goto out;
	nb = cw.not_before > c->nb ? cw.not_before : c->nb;
	na = cw.not_after < c->na ? cw.not_after : c->na;
	if (prov < nb || prov > na || now < nb || now > na)
		goto out;
	/* The JWK SPKI is canonical RFC 5480 form; equal bytes mean equal
	 * keys, and the on-curve check is what d2i of the key would do. */
	if (cw.spki_len != k0->spki_len ||
	    memcmp(cw.spki, k0->spki, k0->spki_len) != 0)
		goto out;
	if (k0->spki_len == sizeof(mf_spki_p256) + 65) {
		if (!mf_on_curve(tls, 32, k0->spki + sizeof(mf_spki_p256)))
			goto out;
	} else if (k0->spki_len == sizeof(mf_spki_p384) + 97) {
		if (!mf_on_curve(tls, 48, k0->spki + sizeof(mf_spki_p384)))
			goto out;
	} else {
		goto out;
	}
	if ((pctx = mf_issuer_ctx(tls, c)) == NULL)
		goto out;
	if (EVP_DigestInit_ex2(tls->mdctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(tls->mdctx, cw.tbs, cw.tbs_len) != 1 ||
	    EVP_DigestFinal_ex(tls->mdctx, dgst, &dlen) != 1)
		goto out;
	if (EVP_PKEY_verify(pctx, cw.sig, cw.sig_len, dgst, dlen) != 1)
		goto out;
	p = cw.subject;
	if ((subj = d2i_X509_NAME(NULL, &p, (long)cw.subject_len)) == NULL ||
	    p != cw.subject + cw.subject_len)
		goto out;
	if (!mf_names_chip(subj, e->uid))
		goto out;
	ok = 1;
 out:
	X509_NAME_free(subj);
	ERR_clear_error();
	return ok;
}

/*
 * Step 5 and 6 for slot 0 of entry e: chain to manufacturer trust, valid
 * at prov and at now, key equal to the JWK, subject naming the chip.  On
 * success e->cert owns the device DER and e->chain lends the chain.
 */
static enum ra_manifest_reason
mf_check_cert(struct mf_job *job, struct mf_tls *tls,
    struct ra_manifest_entry *e, json_t *slot0, time_t prov)
{
	enum ra_manifest_reason r = RA_MANIFEST_INTERNAL;
	X509_STORE *store = ra_trust_manufacturer_store(job->trust);
	json_t *x5c = json_object_get(slot0, "x5c"), *s0;
	unsigned char *der = NULL, *spki = NULL;
	const unsigned char *p;
	size_t derlen, n;
	X509 *dev = NULL;
	struct mf_chain *c = NULL;
	time_t nb, na, b, a;
	int nc, spkilen;
	char detail[MF_DETAIL_MAX];

	if (x5c == NULL) {
		r = mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: key 0 has no x5c");
		goto out;
	}
	if (!json_is_array(x5c) || (n = json_array_size(x5c)) == 0 ||
	    n > MF_X5C_MAX) {
		r = mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: x5c is not an array of 1..%d", MF_X5C_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(x5c, i);

		if (!json_is_string(s) || json_string_length(s) > MF_CERT_MAX) {
			r = mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
			    "payload: x5c[%zu] is not a string of at most %d",
			    i, MF_CERT_MAX);
			goto out;
		}
	}
	s0 = json_array_get(x5c, 0);
	if ((der = b64_decode(json_string_value(s0), json_string_length(s0),
	    0, &derlen)) == NULL) {
		r = mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: x5c[0] is not base64 of a DER certificate");
		goto out;
	}
	if (n > 1) {
		if ((c = mf_chain_get(job, tls, x5c)) == NULL) {
			r = mf_reject(e, RA_MANIFEST_INTERNAL, "out of memory");
			goto out;
		}
	}
	/* Fast path first; it only ever accepts.  A chain refused as a
	 * whole is refused below after x5c[0] parses, as before. */
	if (tls->fast && c != NULL && c->ok && !c->full && c->fast &&
	    mf_fast_cert(tls, c, e, der, derlen, prov, job->now))
		goto accept;
	p = der;
	if ((dev = d2i_X509(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen) {
		r = mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: x5c[0] is not base64 of a DER certificate");
		goto out;
	}
	if (c != NULL && !c->ok) {
		r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN, "%s", c->detail);
		goto out;
	}
	if (c == NULL || c->full) {
		if (!mf_verify_path(store, dev, c != NULL ? c->untrusted :
		    NULL, 0, &nb, &na, &nc, detail, sizeof(detail))) {
			r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN, "%s",
			    detail);
			goto out;
		}
	} else {
		if (X509_check_issued(c->issuer, dev) != X509_V_OK) {
			r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN,
			    "x5c[0] was not issued by x5c[1]");
			goto out;
		}
		if (X509_verify(dev, X509_get0_pubkey(c->issuer)) != 1) {
			r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN,
			    "x5c[0] signature does not verify with x5c[1]");
			goto out;
		}
		if ((X509_get_extension_flags(dev) &
		    (EXFLAG_INVALID | EXFLAG_CRITICAL)) != 0) {
			r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN,
			    "x5c[0] has an invalid or unknown critical "
			    "extension");
			goto out;
		}
		if (!mf_asn1_time(X509_get0_notBefore(dev), &b) ||
		    !mf_asn1_time(X509_get0_notAfter(dev), &a)) {
			r = mf_reject(e, RA_MANIFEST_UNTRUSTED_CHAIN,
			    "x5c[0] has a bad validity");
			goto out;
		}
		nb = b > c->nb ? b : c->nb;
		na = a < c->na ? a : c->na;
	}
	if (prov < nb || prov > na) {
		r = mf_reject(e, RA_MANIFEST_CHAIN_EXPIRED, "chain not valid "
		    "at provisioningTimestamp");
		goto out;
	}
	if (job->now < nb || job->now > na) {
		r = mf_reject(e, RA_MANIFEST_CHAIN_EXPIRED, "chain not valid "
		    "now (%s)", job->now < nb ? "not yet valid" : "expired");
		goto out;
	}
	spkilen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(dev), &spki);
	if (spkilen <= 0 || X509_get0_pubkey(dev) == NULL ||
	    (size_t)spkilen != e->keys[0].spki_len ||
	    memcmp(spki, e->keys[0].spki, (size_t)spkilen) != 0) {
		r = mf_reject(e, RA_MANIFEST_KEY_MISMATCH, "slot 0 JWK is not "
		    "the key of x5c[0]");
		goto out;
	}
	if (!mf_names_chip(X509_get_subject_name(dev), e->uid)) {
		r = mf_reject(e, RA_MANIFEST_SUBJECT_MISMATCH, "x5c[0] subject "
		    "names no CN=sn<uid>, CN=<uid> or serialNumber=<uid>");
		goto out;
	}
 accept:
	e->cert = der;
	e->cert_len = derlen;
	der = NULL;
	if (c != NULL) {
		e->chain = c->der;
		e->chain_len = c->derlen;
	}
	r = RA_MANIFEST_OK;
 out:
	OPENSSL_free(spki);
	free(der);
	X509_free(dev);
	ERR_clear_error();
	return r;
}

/* ---- one entry ------------------------------------------------------ */

/* Steps 4 and 5 on the decoded payload object pl. */
static enum ra_manifest_reason
mf_payload(struct mf_job *job, struct mf_tls *tls,
    struct ra_manifest_entry *e, json_t *pl, const char *huid)
{
	enum ra_manifest_reason r;
	json_t *v, *slot0;
	char *ts = NULL, puid[RA_MANIFEST_UID_MAX + 1];
	time_t prov;

	if ((v = json_object_get(pl, "uniqueId")) == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: uniqueId missing");
	if (!json_is_string(v) || !mf_uid_norm(json_string_value(v),
	    json_string_length(v), puid))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: uniqueId is not 1..%d bytes of hex",
		    RA_MANIFEST_UID_MAX / 2);
	/* Step 4 compares the strings as written, case included. */
	if (strcmp(json_string_value(v), huid) != 0)
		return mf_reject(e, RA_MANIFEST_UID_MISMATCH,
		    "payload uniqueId %s differs from header.uniqueId", puid);
	memcpy(e->uid, puid, sizeof(puid));
	if ((v = json_object_get(pl, "version")) == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: version missing");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: version is not 1");
	if ((r = mf_text(e, pl, "model", "model", &e->model)) !=
	    RA_MANIFEST_OK || (r = mf_text(e, pl, "partNumber", "partNumber",
	    &e->part_number)) != RA_MANIFEST_OK)
		return r;
	if ((v = json_object_get(pl, "provisioner")) == NULL)
		return mf_reject(e, RA_MANIFEST_MISSING_FIELD,
		    "payload: provisioner missing");
	if (!json_is_object(v))
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: provisioner is not an object");
	if ((r = mf_text(e, v, "organizationName",
	    "provisioner.organizationName", &e->provisioner)) !=
	    RA_MANIFEST_OK)
		return r;
	if ((r = mf_text(e, pl, "provisioningTimestamp",
	    "provisioningTimestamp", &ts)) != RA_MANIFEST_OK)
		return r;
	if (!mf_rfc3339(ts, strlen(ts), &prov)) {
		free(ts);
		return mf_reject(e, RA_MANIFEST_BAD_PAYLOAD,
		    "payload: provisioningTimestamp is not RFC 3339");
	}
	free(ts);
	e->provisioned_at = prov;
	if ((r = mf_keys(tls, e, pl, &slot0)) != RA_MANIFEST_OK)
		return r;
	return mf_check_cert(job, tls, e, slot0, prov);
}

/* The four strings of an element (step 1), borrowed. */
struct mf_el {
	const char	*prot, *pay, *sig, *huid;
	size_t		 protlen, paylen, siglen, huidlen;
};

#define MF_QUICK_UID_MAX 128	/* longer header ids go through jansson */

/* Skips white space; returns the new position. */
static size_t
mf_ws(const unsigned char *p, size_t n, size_t i)
{
	while (i < n && mf_is_ws(p[i]))
		i++;
	return i;
}

/* A string of printable ASCII without escapes at p[i] == '"'. */
static int
mf_quick_str(const unsigned char *p, size_t n, size_t *i, const char **s,
    size_t *len)
{
	size_t j;

	if (*i >= n || p[*i] != '"')
		return 0;
	for (j = *i + 1; j < n && p[j] != '"'; j++)
		if (p[j] < 0x20 || p[j] > 0x7e || p[j] == '\\')
			return 0;
	if (j >= n)
		return 0;
	*s = (const char *)p + *i + 1;
	*len = j - *i - 1;
	*i = j + 1;
	return 1;
}

/*
 * Reads the common element shape without building a JSON tree: one
 * object holding exactly payload, protected, signature (strings) and
 * header: {"uniqueId": string}, once each, strings of printable ASCII
 * without escapes.  For such input jansson would yield the very same
 * strings; anything else (escapes, other keys, duplicates, missing keys)
 * returns 0 and the element goes through jansson, which judges it.
 */
static int
mf_el_quick(const unsigned char *p, size_t n, struct mf_el *el)
{
	const char *k, *v;
	size_t i = mf_ws(p, n, 0), klen, vlen;
	int seen = 0, bit;

	memset(el, 0, sizeof(*el));
	if (i >= n || p[i++] != '{')
		return 0;
	for (;;) {
		i = mf_ws(p, n, i);
		if (!mf_quick_str(p, n, &i, &k, &klen))
			return 0;
		i = mf_ws(p, n, i);
		if (i >= n || p[i++] != ':')
			return 0;
		i = mf_ws(p, n, i);
		if (klen == 6 && memcmp(k, "header", 6) == 0) {
			bit = 8;
			if (i >= n || p[i++] != '{')
				return 0;
			i = mf_ws(p, n, i);
			if (!mf_quick_str(p, n, &i, &k, &klen) || klen != 8 ||
			    memcmp(k, "uniqueId", 8) != 0)
				return 0;
			i = mf_ws(p, n, i);
			if (i >= n || p[i++] != ':')
				return 0;
			i = mf_ws(p, n, i);
			if (!mf_quick_str(p, n, &i, &el->huid, &el->huidlen) ||
			    el->huidlen > MF_QUICK_UID_MAX)
				return 0;
			i = mf_ws(p, n, i);
			if (i >= n || p[i++] != '}')
				return 0;
		} else {
			if (!mf_quick_str(p, n, &i, &v, &vlen))
				return 0;
			if (klen == 7 && memcmp(k, "payload", 7) == 0) {
				bit = 1;
				el->pay = v;
				el->paylen = vlen;
			} else if (klen == 9 && memcmp(k, "protected", 9) == 0) {
				bit = 2;
				el->prot = v;
				el->protlen = vlen;
			} else if (klen == 9 && memcmp(k, "signature", 9) == 0) {
				bit = 4;
				el->sig = v;
				el->siglen = vlen;
			} else {
				return 0;
			}
		}
		if (seen & bit)
			return 0;
		seen |= bit;
		i = mf_ws(p, n, i);
		if (i < n && p[i] == ',') {
			i++;
			continue;
		}
		if (i >= n || p[i++] != '}')
			return 0;
		break;
	}
	return seen == 15 && mf_ws(p, n, i) == n;
}

/* Judges the element at p (n bytes) into e, steps 1 to 6. */
static void
mf_judge(struct mf_job *job, struct mf_tls *tls, const unsigned char *p,
    size_t n, struct ra_manifest_entry *e)
{
	json_t *el = NULL, *pl = NULL, *prot, *pay, *sig, *hdr, *huid;
	unsigned char *praw = NULL;
	size_t prawlen;
	json_error_t je;
	char detail[MF_DETAIL_MAX], huidbuf[MF_QUICK_UID_MAX + 1];
	enum ra_jws_status js;
	struct mf_el q;

	e->reason = RA_MANIFEST_OK;
	if (tls->fast && mf_el_quick(p, n, &q)) {
		memcpy(huidbuf, q.huid, q.huidlen);
		huidbuf[q.huidlen] = '\0';
		q.huid = huidbuf;
		goto judge;
	}
	if ((el = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		mf_reject(e, RA_MANIFEST_MALFORMED_ENTRY, "entry is not valid "
		    "JSON: %s", je.text);
		goto out;
	}
	prot = json_object_get(el, "protected");
	pay = json_object_get(el, "payload");
	sig = json_object_get(el, "signature");
	hdr = json_object_get(el, "header");
	huid = json_object_get(hdr, "uniqueId");
	if (!json_is_object(el) || !json_is_string(prot) ||
	    !json_is_string(pay) || !json_is_string(sig) ||
	    !json_is_object(hdr) || !json_is_string(huid)) {
		mf_reject(e, RA_MANIFEST_MALFORMED_ENTRY, "entry needs string "
		    "payload, protected, signature and header.uniqueId");
		goto out;
	}
	q.prot = json_string_value(prot);
	q.protlen = json_string_length(prot);
	q.pay = json_string_value(pay);
	q.paylen = json_string_length(pay);
	q.sig = json_string_value(sig);
	q.siglen = json_string_length(sig);
	q.huid = json_string_value(huid);
	q.huidlen = json_string_length(huid);
 judge:
	if (!mf_uid_norm(q.huid, q.huidlen, e->uid))
		e->uid[0] = '\0';
	if (q.paylen > MF_PAYLOAD_MAX) {
		mf_reject(e, RA_MANIFEST_BAD_PAYLOAD, "payload longer than %d",
		    MF_PAYLOAD_MAX);
		goto out;
	}
	if (tls->fast)
		js = ra_jws_verifier_verify(tls->jws, q.prot, q.protlen, q.pay,
		    q.paylen, q.sig, q.siglen, NULL, detail, sizeof(detail));
	else
		js = ra_jws_verify(job->trust, q.prot, q.protlen, q.pay,
		    q.paylen, q.sig, q.siglen, NULL, detail, sizeof(detail));
	switch (js) {
	case RA_JWS_OK:
		break;
	case RA_JWS_BAD_HEADER:
		mf_reject(e, RA_MANIFEST_BAD_PROTECTED_HEADER, "%s", detail);
		goto out;
	case RA_JWS_UNSUPPORTED_ALG:
		mf_reject(e, RA_MANIFEST_UNSUPPORTED_ALG, "%s", detail);
		goto out;
	case RA_JWS_UNKNOWN_SIGNER:
		mf_reject(e, RA_MANIFEST_UNKNOWN_SIGNER, "%s", detail);
		goto out;
	case RA_JWS_BAD_SIGNATURE:
		mf_reject(e, RA_MANIFEST_BAD_SIGNATURE, "%s", detail);
		goto out;
	default:
		mf_reject(e, RA_MANIFEST_INTERNAL, "%s", detail);
		goto out;
	}
	if ((praw = b64url_decode(q.pay, q.paylen, &prawlen)) == NULL) {
		mf_reject(e, RA_MANIFEST_BAD_PAYLOAD, "payload is not base64url");
		goto out;
	}
	if (!ra_manifest_depth_ok(praw, prawlen, RA_MANIFEST_DEPTH_MAX)) {
		mf_reject(e, RA_MANIFEST_BAD_PAYLOAD, "payload nesting too deep "
		    "or unbalanced");
		goto out;
	}
	if ((pl = json_loadb((const char *)praw, prawlen,
	    JSON_REJECT_DUPLICATES, &je)) == NULL || !json_is_object(pl)) {
		mf_reject(e, RA_MANIFEST_BAD_PAYLOAD, "payload is not a JSON "
		    "object: %s", pl == NULL ? je.text : "wrong type");
		goto out;
	}
	mf_payload(job, tls, e, pl, q.huid);
 out:
	free(praw);
	json_decref(pl);
	json_decref(el);
	ERR_clear_error();
}

/* ---- driver ----------------------------------------------------------- */

static void
mf_tls_clear(struct mf_tls *tls)
{
	for (size_t i = 0; i < MF_ISSUERS; i++)
		EVP_PKEY_CTX_free(tls->issuers[i].pctx);
	ra_jws_verifier_free(tls->jws);
	EVP_MD_CTX_free(tls->mdctx);
	EVP_MD_free(tls->sha256);
	EVP_MD_free(tls->sha384);
	EC_POINT_free(tls->pt256);
	EC_POINT_free(tls->pt384);
	EC_GROUP_free(tls->p256);
	EC_GROUP_free(tls->p384);
	BN_CTX_free(tls->bn);
	memset(tls, 0, sizeof(*tls));
}

/* Sets up one worker's state; returns 0 on failure (tls cleared). */
static int
mf_tls_init(struct mf_tls *tls, const struct mf_job *job)
{
	memset(tls, 0, sizeof(*tls));
	tls->fast = (job->flags & RA_MANIFEST_F_REFERENCE) == 0;
	if ((tls->bn = BN_CTX_new()) == NULL ||
	    (tls->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) ==
	    NULL ||
	    (tls->p384 = EC_GROUP_new_by_curve_name(NID_secp384r1)) == NULL ||
	    (tls->pt256 = EC_POINT_new(tls->p256)) == NULL ||
	    (tls->pt384 = EC_POINT_new(tls->p384)) == NULL ||
	    (tls->mdctx = EVP_MD_CTX_new()) == NULL ||
	    (tls->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (tls->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL)) == NULL ||
	    (tls->jws = ra_jws_verifier_new(job->trust)) == NULL) {
		ERR_clear_error();
		mf_tls_clear(tls);
		return 0;
	}
	return 1;
}

static void *
mf_worker(void *arg)
{
	struct mf_job *job = arg;
	struct mf_tls tls;

	if (!mf_tls_init(&tls, job)) {
		/* Others may still run; the caller fails the call. */
		__atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	for (;;) {
		size_t i = __atomic_fetch_add(&job->next, MF_CHUNK,
		    __ATOMIC_RELAXED);
		size_t end;

		if (i >= job->nspans)
			break;
		end = i + MF_CHUNK < job->nspans ? i + MF_CHUNK : job->nspans;
		for (; i < end; i++) {
			struct ra_manifest_entry *e = &job->m->entries[i];

			e->index = i;
			mf_judge(job, &tls, job->buf + job->spans[i].off,
			    job->spans[i].len, e);
		}
	}
	mf_tls_clear(&tls);
	return NULL;
}

int
ra_manifest_verify(const unsigned char *buf, size_t len,
    const struct ra_trust *t, time_t now, int nthreads,
    struct ra_manifest **out, char *err, size_t errlen)
{
	return ra_manifest_verify_flags(buf, len, t, now, nthreads, 0, out,
	    err, errlen);
}

int
ra_manifest_verify_flags(const unsigned char *buf, size_t len,
    const struct ra_trust *t, time_t now, int nthreads, int flags,
    struct ra_manifest **out, char *err, size_t errlen)
{
	struct ra_manifest *m = NULL;
	struct mf_span *spans = NULL;
	size_t nspans = 0, nstarted = 0;
	pthread_t tids[MF_THREADS_MAX];
	struct mf_job job;
	int ok = 0;

	*out = NULL;
	if (buf == NULL || t == NULL) {
		snprintf(err, errlen, "no manifest or no trust");
		return 0;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		snprintf(err, errlen, "pthread_mutex_init failed");
		return 0;
	}
	memset(&job, 0, sizeof(job));
	if (!mf_scan(buf, len, RA_MANIFEST_DEPTH_MAX, &spans, &nspans, err,
	    errlen))
		goto out;
	if ((m->entries = calloc(nspans + 1, sizeof(*m->entries))) == NULL) {
		snprintf(err, errlen, "out of memory for %zu entries", nspans);
		goto out;
	}
	m->entriesz = nspans;
	job.buf = buf;
	job.spans = spans;
	job.nspans = nspans;
	job.trust = t;
	job.now = now;
	job.m = m;
	job.flags = flags;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MF_THREADS_MAX)
		nthreads = MF_THREADS_MAX;
	if ((size_t)nthreads > nspans / MF_CHUNK + 1)
		nthreads = (int)(nspans / MF_CHUNK + 1);
	/* This thread is worker 0; a failed create just means fewer. */
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&tids[nstarted], NULL, mf_worker, &job) == 0)
			nstarted++;
	mf_worker(&job);
	for (size_t i = 0; i < nstarted; i++)
		pthread_join(tids[i], NULL);
	/* A worker that could not set up judged nothing: its entries may
	 * have been taken by others, but nothing says so; fail safe. */
	if (job.failed) {
		snprintf(err, errlen, "out of memory setting up workers");
		goto out;
	}
	for (size_t i = 0; i < nspans; i++)
		if (m->entries[i].reason == RA_MANIFEST_OK)
			m->nok++;
	ok = 1;
	*out = m;
	m = NULL;
 out:
	free(spans);
	ra_manifest_free(m);
	return ok;
}

void
ra_manifest_free(struct ra_manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->entriesz; i++)
		mf_entry_clear(&m->entries[i]);
	free(m->entries);
	for (size_t b = 0; b < MF_BUCKETS; b++) {
		struct mf_chain *c, *next;

		for (c = m->buckets[b]; c != NULL; c = next) {
			next = c->next;
			mf_chain_free(c);
		}
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

size_t
ra_manifest_count(const struct ra_manifest *m, size_t *nok,
    size_t *nrejected)
{
	if (nok != NULL)
		*nok = m->nok;
	if (nrejected != NULL)
		*nrejected = m->entriesz - m->nok;
	return m->entriesz;
}

const struct ra_manifest_entry *
ra_manifest_entry(const struct ra_manifest *m, size_t i)
{
	if (i >= m->entriesz)
		return NULL;
	return &m->entries[i];
}
