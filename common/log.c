/*
 * log.c - leveled logging to stderr, one line per call.
 *
 * Each call formats into a stack buffer and writes it with one write(2) so
 * lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/log.h"

static volatile int cur_level = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level
log_get_level(void)
{
	return (enum log_level)cur_level;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_vwrite(enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	n = snprintf(line, sizeof(line), "%s ", level_names[lvl]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (suffix != NULL) {
		m = snprintf(line + n, sizeof(line) - (size_t)n - 1, "%s", suffix);
		if (m > 0)
			n += m;
		if ((size_t)n > sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* One write per line; a short write to stderr is not worth retrying. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > cur_level)
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, NULL, fmt, ap);
	va_end(ap);
}

void
log_openssl(const char *fmt, ...)
{
	char errs[1024] = "";
	size_t off = 0;
	unsigned long e;
	va_list ap;

	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		int n = snprintf(errs + off, sizeof(errs) - off, ": %s", one);
		if (n < 0 || (size_t)n >= sizeof(errs) - off)
			break;
		off += (size_t)n;
	}
	ERR_clear_error();
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, errs, fmt, ap);
	va_end(ap);
}
