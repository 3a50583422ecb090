/*
 * log.h - the one logging sink of fleetca.
 *
 * Lines go to stderr as "LEVEL message".  The level is checked before any
 * formatting.  log_openssl() drains the whole OpenSSL error queue of the
 * calling thread into the log so that a stale queue never blames the next
 * request (see STYLE.md section 4).
 */
#ifndef FLEETCA_COMMON_LOG_H
#define FLEETCA_COMMON_LOG_H

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Logs msg at error level followed by every queued OpenSSL error, then
 * leaves the queue empty. */
void log_openssl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_get_level() >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
