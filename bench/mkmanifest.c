/*
 * mkmanifest.c - write a simulated manufacturer's manifest and devices.
 *
 *   mkmanifest --count N --out DIR [--threads T]
 *
 * DIR gets manufacturer_root.pem, signer_ca.pem, manifest_signer.pem,
 * manifest.json and devices.txt (0600: it holds the device keys).
 * Exit 0 done, 1 failed, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ra/mfgsim.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mkmanifest --count N --out DIR "
	    "[--threads T]\n");
	exit(2);
}

static long
number(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	const char *dir = NULL;
	long count = -1, threads = 2;
	struct mfgsim *sim;
	char err[512];
	int ok;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--count") == 0)
			count = number(argv[++i], 10000000);
		else if (strcmp(argv[i], "--out") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0)
			threads = number(argv[++i], 64);
		else
			usage();
	}
	if (dir == NULL || count < 0)
		usage();
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "mkmanifest: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if ((sim = mfgsim_new(time(NULL), err, sizeof(err))) == NULL) {
		fprintf(stderr, "mkmanifest: %s\n", err);
		return 1;
	}
	ok = mfgsim_write_bulk(sim, dir, (size_t)count, (int)threads, err,
	    sizeof(err));
	if (!ok)
		fprintf(stderr, "mkmanifest: %s\n", err);
	mfgsim_free(sim);
	return ok ? 0 : 1;
}
