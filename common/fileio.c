/*
 * fileio.c - bounded whole-file reads and careful file creation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

int
file_read_all(const char *path, size_t max, unsigned char **buf, size_t *len)
{
	struct stat st;
	unsigned char *p = NULL;
	size_t cap, n = 0;
	int fd, saved;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (st.st_size > 0 && (unsigned long long)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	/* Size from fstat is a hint only (pipes, growing files): read until
	 * EOF, refusing to grow past max. */
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if ((p = malloc(cap + 1)) == NULL)
		goto fail;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			unsigned char *q;

			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((q = realloc(p, cap + 1)) == NULL)
				goto fail;
			p = q;
		}
		r = read(fd, p + n, cap - n);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
fail:
	saved = errno;
	free(p);
	close(fd);
	errno = saved;
	return -1;
}

static int
write_fd_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	/* open() honours the umask; make the mode exact in case the umask
	 * was looser or stricter than intended. */
	if (fchmod(fd, mode) == -1 || write_fd_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	unlink(tmp);
	if (file_write_new(tmp, data, len, mode) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}
