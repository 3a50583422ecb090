/*
 * b64.h - base64 (RFC 4648 section 4) and base64url (section 5) codecs.
 *
 * Decoders take bytes and a length (no NUL needed) and return a newly
 * malloc'd buffer that the caller frees with free(); the buffer is always
 * NUL-terminated one past *outlen for convenience.  They compute the exact
 * output size before allocating and fail (return NULL) on any character
 * outside the alphabet, on bad padding and on lengths that cannot be valid.
 */
#ifndef FLEETCA_COMMON_B64_H
#define FLEETCA_COMMON_B64_H

#include <stddef.h>

/* Standard alphabet, padding required.  With skip_ws, ASCII white space
 * (CR, LF, space, tab) anywhere is ignored, as EST bodies may be folded. */
unsigned char *b64_decode(const char *in, size_t len, int skip_ws,
    size_t *outlen);
/* base64url without padding (JWS, RFC 7515 section 2); '=' is refused. */
unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen);

/* Encoders return a malloc'd NUL-terminated string; *outlen (optional)
 * excludes the NUL.  b64_encode folds lines at 64 characters with CRLF
 * when wrap is non-zero. */
char *b64_encode(const unsigned char *in, size_t len, int wrap,
    size_t *outlen);
char *b64url_encode(const unsigned char *in, size_t len, size_t *outlen);

/* Lower-case hex of in[0..len) into out (NUL-terminated); stops at whole
 * bytes when out (outlen bytes) is too short.  Returns the characters
 * written. */
size_t hex_lower(const unsigned char *in, size_t len, char *out,
    size_t outlen);

#endif
