/*
 * jsonfile.h - strict JSON loading with errors that name file and position.
 */
#ifndef FLEETCA_COMMON_JSONFILE_H
#define FLEETCA_COMMON_JSONFILE_H

#include <stddef.h>
#include <jansson.h>

/*
 * Loads a JSON document from path (at most max bytes), rejecting
 * duplicate object keys.  Returns a new reference (caller json_decref()s)
 * or NULL with err filled as "path:line:column: reason".
 */
json_t *jsonfile_load(const char *path, size_t max, char *err, size_t errlen);

/* Same for a buffer; name is used in the error text in place of a path. */
json_t *jsonfile_loadb(const char *name, const void *buf, size_t len,
    char *err, size_t errlen);

#endif
