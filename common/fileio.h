/*
 * fileio.h - whole-file reads with a size cap and safe file creation.
 */
#ifndef FLEETCA_COMMON_FILEIO_H
#define FLEETCA_COMMON_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads all of path into a malloc'd buffer (NUL-terminated one past *len;
 * caller frees with free()).  Files larger than max bytes are refused.
 * Returns 0 on success, -1 with errno set (EFBIG when over max).
 */
int file_read_all(const char *path, size_t max, unsigned char **buf,
    size_t *len);

/*
 * Creates path with the given mode (O_EXCL: never overwrites) and writes
 * data.  The file is created with that mode from the start, so a key is
 * never readable by others, not even for an instant.  On failure the
 * partial file is removed.  Returns 0 or -1 with errno set.
 */
int file_write_new(const char *path, const void *data, size_t len,
    mode_t mode);

/*
 * Atomically replaces path: writes path.tmp, fsyncs, renames.
 * Returns 0 or -1 with errno set.
 */
int file_replace(const char *path, const void *data, size_t len,
    mode_t mode);

#endif
