/*
 * b64.c - strict base64 and base64url.
 *
 * Hand-written rather than EVP_Decode*: OpenSSL's decoder accepts some
 * malformed input silently and knows nothing of base64url.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for alphabet members, 64 for '=', 0xff for anything else. */
static int
sym_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	if (c == '=')
		return 64;
	return 0xff;
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
	size_t npad = 0, nsym, olen, o = 0;
	unsigned char *out;
	uint32_t acc = 0;
	int bits = 0;

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
	for (size_t i = 0; i < nsym; i++) {
		int v = sym_value(s[i], url);

		if (v > 63) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Left-over bits must be zero (canonical encoding, RFC 4648 3.5). */
	if (acc != 0) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

unsigned char *
b64_decode(const char *in, size_t len, int skip_ws, size_t *outlen)
{
	unsigned char *tmp, *out;
	size_t n = 0;

	*outlen = 0;
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
