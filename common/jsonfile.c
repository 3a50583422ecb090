/*
 * jsonfile.c - jansson with JSON_REJECT_DUPLICATES and positioned errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonfile.h"

json_t *
jsonfile_loadb(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		snprintf(err, errlen, "%s:%d:%d: %s", name, je.line, je.column,
		    je.text);
	return j;
}

json_t *
jsonfile_load(const char *path, size_t max, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	json_t *j;

	if (file_read_all(path, max, &buf, &len) == -1) {
		snprintf(err, errlen, "%s: %s", path,
		    errno == EFBIG ? "file too large" : strerror(errno));
		return NULL;
	}
	j = jsonfile_loadb(path, buf, len, err, errlen);
	free(buf);
	return j;
}
