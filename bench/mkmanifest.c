/*
 * mkmanifest.c - write a simulated manufacturer's manifest and devices.
 *
 *   mkmanifest --count N --out DIR [--threads T] [--evil]
 *
 * With --evil, one chip of every tampering kind follows the N good ones
 * (tampered payload, copied signature, uid mismatch, key mismatch, wrong
 * subject, untrusted signer, alg none, expired chain, rogue CA, and a
 * counterfeit left out of the manifest); DIR/evil.txt lists "uid kind"
 * for each, so tests know what to expect.
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
	    "[--threads T] [--evil]\n");
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

static const struct {
	enum mfgsim_tamper kind;
	const char *name;
} evil_kinds[] = {
	{ MFGSIM_TAMPER_PAYLOAD, "tampered_payload" },
	{ MFGSIM_COPY_SIGNATURE, "copied_signature" },
	{ MFGSIM_UID_MISMATCH, "uid_mismatch" },
	{ MFGSIM_KEY_MISMATCH, "key_mismatch" },
	{ MFGSIM_WRONG_SUBJECT, "wrong_subject" },
	{ MFGSIM_UNTRUSTED_SIGNER, "untrusted_signer" },
	{ MFGSIM_ALG_NONE, "alg_none" },
	{ MFGSIM_EXPIRED_CHAIN, "expired_chain" },
	{ MFGSIM_ROGUE_CA, "rogue_ca" },
	{ MFGSIM_COUNTERFEIT, "counterfeit" },
};

/* Good chips, then one of each evil kind, kept in memory (small N). */
static int
write_evil(struct mfgsim *sim, const char *dir, size_t count, int threads,
    char *err, size_t errlen)
{
	char path[4096];
	FILE *f;
	size_t first;

	if (!mfgsim_add_chips(sim, count, MFGSIM_GOOD, threads)) {
		snprintf(err, errlen, "cannot make chips");
		return 0;
	}
	first = mfgsim_chip_count(sim);
	for (size_t k = 0; k < sizeof(evil_kinds) / sizeof(evil_kinds[0]);
	    k++) {
		if (!mfgsim_add_chips(sim, 1, evil_kinds[k].kind, 1)) {
			snprintf(err, errlen, "cannot make %s chip",
			    evil_kinds[k].name);
			return 0;
		}
	}
	if (!mfgsim_write_files(sim, dir, err, errlen))
		return 0;
	snprintf(path, sizeof(path), "%s/evil.txt", dir);
	if ((f = fopen(path, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return 0;
	}
	for (size_t k = 0; k < sizeof(evil_kinds) / sizeof(evil_kinds[0]);
	    k++)
		fprintf(f, "%s %s\n", mfgsim_device_uid(sim, first + k),
		    evil_kinds[k].name);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: write failed", path);
		return 0;
	}
	return 1;
}

int
main(int argc, char *argv[])
{
	const char *dir = NULL;
	long count = -1, threads = 2;
	int evil = 0;
	struct mfgsim *sim;
	char err[512];
	int ok;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--evil") == 0) {
			evil = 1;
			continue;
		}
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
	if (evil)
		ok = write_evil(sim, dir, (size_t)count, (int)threads, err,
		    sizeof(err));
	else
		ok = mfgsim_write_bulk(sim, dir, (size_t)count, (int)threads,
		    err, sizeof(err));
	if (!ok)
		fprintf(stderr, "mkmanifest: %s\n", err);
	mfgsim_free(sim);
	return ok ? 0 : 1;
}
