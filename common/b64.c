/*
 * b64.c - strict base64 and base64url.
 *
 * Hand-written rather than EVP_Decode*: OpenSSL's decoder accepts some
 * malformed input silently and knows nothing of base64url.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Symbol values, 0..63; 64 for '='; 0xff for anything else.  One table
 * per alphabet, built once (manifests decode hundreds of MB of these). */
static unsigned char std_tab[256], url_tab[256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void
tab_init(void)
{
	memset(std_tab, 0xff, sizeof(std_tab));
	memset(url_tab, 0xff, sizeof(url_tab));
	for (int i = 0; i < 64; i++) {
		std_tab[(unsigned char)std_alpha[i]] = (unsigned char)i;
		url_tab[(unsigned char)url_alpha[i]] = (unsigned char)i;
	}
	std_tab['='] = url_tab['='] = 64;
}

static int
is_ws(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/*
 * Core decoder over a compacted symbol string (no white space).  With
 * padded, the length must be a multiple of 4 and '=' may end the input;
 * otherwise '=' is refused and a remainder of 1 is invalid.
 */
static unsigned char *
decode_syms(const unsigned char *s, size_t n, int url, int padded,
    size_t *outlen)
{
	size_t npad = 0, nsym, olen, o = 0, i;
	const unsigned char *tab;
	unsigned char *out;
	uint32_t acc;

	*outlen = 0;
	if (padded) {
		if (n % 4 != 0)
			return NULL;
		while (npad < 2 && n - npad > 0 && s[n - npad - 1] == '=')
			npad++;
	}
	nsym = n - npad;
	if (nsym % 4 == 1)
		return NULL;
	if (nsym > SIZE_MAX / 3)
		return NULL;
	olen = nsym / 4 * 3 + (nsym % 4 == 0 ? 0 : nsym % 4 - 1);
	if ((out = malloc(olen + 1)) == NULL)
		return NULL;
	pthread_once(&tab_once, tab_init);
	tab = url ? url_tab : std_tab;
	/* Whole groups of four symbols: three bytes each. */
	for (i = 0; i + 4 <= nsym; i += 4) {
		uint32_t a = tab[s[i]], b = tab[s[i + 1]], c = tab[s[i + 2]],
		    d = tab[s[i + 3]];

		if ((a | b | c | d) > 63)
			goto bad;
		acc = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (unsigned char)(acc >> 16);
		out[o++] = (unsigned char)(acc >> 8);
		out[o++] = (unsigned char)acc;
	}
	/* The tail: 2 or 3 symbols carry 1 or 2 bytes; the bits left over
	 * must be zero (canonical encoding, RFC 4648 3.5). */
	if (i < nsym) {
		uint32_t a = tab[s[i]], b = tab[s[i + 1]];
		uint32_t c = nsym - i == 3 ? tab[s[i + 2]] : 0;

		if (a > 63 || b > 63 || c > 63)
			goto bad;
		acc = a << 18 | b << 12 | c << 6;
		out[o++] = (unsigned char)(acc >> 16);
		if (nsym - i == 3)
			out[o++] = (unsigned char)(acc >> 8);
		if ((nsym - i == 2 && (acc & 0xffff) != 0) ||
		    (nsym - i == 3 && (acc & 0xff) != 0))
			goto bad;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

unsigned char *
b64_decode(const char *in, size_t len, int skip_ws, size_t *outlen)
{
	unsigned char *tmp, *out;
	size_t n = 0;

	*outlen = 0;
	if (!skip_ws)	/* nothing to compact: decode in place */
		return decode_syms((const unsigned char *)in, len, 0, 1,
		    outlen);
	if ((tmp = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (skip_ws && is_ws(c))
			continue;
		tmp[n++] = c;
	}
	out = decode_syms(tmp, n, 0, 1, outlen);
	free(tmp);
	return out;
}

unsigned char *
b64url_decode(const char *in, size_t len, size_t *outlen)
{
	return decode_syms((const unsigned char *)in, len, 1, 0, outlen);
}

static char *
encode(const unsigned char *in, size_t len, const char *alpha, int pad,
    int wrap, size_t *outlen)
{
	size_t groups, olen, o = 0, col = 0;
	char *out;

	if (len > (SIZE_MAX / 4 - 4) / 2)
		return NULL;
	groups = (len + 2) / 3;
	olen = groups * 4;
	if (wrap)
		olen += (olen / 64 + 1) * 2;
	if ((out = malloc(olen + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rem = len - i;

		if (rem > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			v |= in[i + 2];
		char q[4] = { alpha[(v >> 18) & 63], alpha[(v >> 12) & 63],
			alpha[(v >> 6) & 63], alpha[v & 63] };
		size_t nq = rem >= 3 ? 4 : rem + 1;
		for (size_t k = 0; k < 4; k++) {
			if (k >= nq && !pad)
				break;
			out[o++] = k < nq ? q[k] : '=';
			if (wrap && ++col == 64) {
				out[o++] = '\r';
				out[o++] = '\n';
				col = 0;
			}
		}
	}
	if (wrap && col != 0) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
}

char *
b64_encode(const unsigned char *in, size_t len, int wrap, size_t *outlen)
{
	return encode(in, len, std_alpha, 1, wrap, outlen);
}

char *
b64url_encode(const unsigned char *in, size_t len, size_t *outlen)
{
	return encode(in, len, url_alpha, 0, 0, outlen);
}

size_t
hex_lower(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < len && o + 3 <= outlen; i++) {
		out[o++] = digits[in[i] >> 4];
		out[o++] = digits[in[i] & 0x0f];
	}
	out[o] = '\0';
	return o;
}
