/*
 * bench_manifest.c - how fast and how lean is ra_manifest_verify()?
 *
 *   bench_manifest [--count N] [--threads T] [--dir DIR] [--no-speed]
 *                  [--reference]
 *
 * Without --dir, a child process generates N (default 100,000) chips
 * with mfgsim into a temporary directory, so that generation does not
 * count in this process's peak RSS.  Prints wall seconds, entries/s,
 * peak RSS (getrusage ru_maxrss) and the cost of one entry in P-256
 * verifies, against `openssl speed -seconds 3 ecdsap256` run here.
 * The cost per entry is given from wall time * threads and from CPU time
 * (user + system), which stays meaningful on a shared, busy machine.
 * --reference measures the slow reference path (RA_MANIFEST_F_REFERENCE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common/fileio.h"
#include "ra/manifest.h"
#include "ra/mfgsim.h"
#include "ra/trust.h"

#define BENCH_FILE_MAX ((size_t)2 << 30)

static int
load_pem(const char *dir, const char *name, X509 **x)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 0;
	}
	*x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (*x == NULL)
		fprintf(stderr, "%s: not a PEM certificate\n", path);
	return *x != NULL;
}

static int
generate(const char *dir, size_t count, int threads)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		char err[512];
		struct mfgsim *sim = mfgsim_new(time(NULL), err, sizeof(err));
		int ok = sim != NULL && mfgsim_write_bulk(sim, dir, count,
		    threads, err, sizeof(err));

		if (!ok)
			fprintf(stderr, "generate: %s\n", err);
		mfgsim_free(sim);
		_exit(ok ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) == -1)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Verify rate (per second, one core) from `openssl speed ecdsap256`. */
static double
openssl_verify_rate(void)
{
	FILE *p = popen("openssl speed -seconds 3 ecdsap256 2>/dev/null", "r");
	char line[512];
	double sign, verify, rate = 0;

	if (p == NULL)
		return 0;
	while (fgets(line, sizeof(line), p) != NULL) {
		char *s = strstr(line, "(nistp256)");

		if (s != NULL && sscanf(s + 10, " %*fs %*fs %lf %lf", &sign,
		    &verify) == 2)
			rate = verify;
	}
	pclose(p);
	return rate;
}

/* User + system CPU seconds of this process, all threads. */
static double
cpu_seconds(void)
{
	struct rusage r;

	if (getrusage(RUSAGE_SELF, &r) != 0)
		return 0;
	return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 +
	    r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	char tmpl[] = "/tmp/bench_manifest.XXXXXX", err[512], path[4096];
	const char *dir = NULL;
	size_t count = 100000, len = 0, nok = 0, nrej = 0, n;
	int threads = 2, speed = 1, rc = 1, flags = 0;
	unsigned char *buf = NULL;
	X509 *root = NULL, *signer = NULL;
	struct ra_trust *t = NULL;
	struct ra_manifest *m = NULL;
	struct rusage ru;
	double t0, dt, rate, cpu0, cpu;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--no-speed") == 0)
			speed = 0;
		else if (strcmp(argv[i], "--reference") == 0)
			flags |= RA_MANIFEST_F_REFERENCE;
		else {
			fprintf(stderr, "usage: bench_manifest [--count N] "
			    "[--threads T] [--dir DIR] [--no-speed] [--reference]\n");
			return 2;
		}
	}
	if (dir == NULL) {
		if ((dir = mkdtemp(tmpl)) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		t0 = seconds();
		if (!generate(dir, count, threads)) {
			fprintf(stderr, "generation failed\n");
			return 1;
		}
		printf("generated %zu chips in %.1f s into %s\n", count,
		    seconds() - t0, dir);
	}
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (file_read_all(path, BENCH_FILE_MAX, &buf, &len) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if (!load_pem(dir, "manufacturer_root.pem", &root) ||
	    !load_pem(dir, "manifest_signer.pem", &signer))
		goto out;
	if ((t = ra_trust_new()) == NULL ||
	    !ra_trust_add_manufacturer(t, root, 1, err, sizeof(err)) ||
	    !ra_trust_add_manifest_signer(t, signer, err, sizeof(err))) {
		fprintf(stderr, "trust: %s\n", err);
		goto out;
	}
	cpu0 = cpu_seconds();
	t0 = seconds();
	if (!ra_manifest_verify_flags(buf, len, t, time(NULL), threads, flags,
	    &m, err, sizeof(err))) {
		fprintf(stderr, "verify: %s\n", err);
		goto out;
	}
	dt = seconds() - t0;
	cpu = cpu_seconds() - cpu0;
	n = ra_manifest_count(m, &nok, &nrej);
	getrusage(RUSAGE_SELF, &ru);
	printf("manifest: %zu bytes, %zu entries (%zu ok, %zu rejected), "
	    "%d threads\n", len, n, nok, nrej, threads);
	printf("verify%s: %.2f s, %.0f entries/s, peak RSS %.1f MiB, CPU "
	    "%.2f s (%.0f%% of %d threads)\n", flags ? " (reference path)" :
	    "", dt, n / dt, ru.ru_maxrss / 1024.0, cpu,
	    100.0 * cpu / (dt * threads), threads);
	if (speed && (rate = openssl_verify_rate()) > 0) {
		double per_entry = dt * threads / (double)n;

		printf("openssl speed ecdsap256: %.0f verify/s per core; one "
		    "entry costs %.2f verifies (%.1f us per entry per core)\n",
		    rate, per_entry * rate, per_entry * 1e6);
		printf("by CPU time: one entry costs %.2f verifies (%.1f us)\n",
		    cpu / (double)n * rate, cpu / (double)n * 1e6);
	}
	rc = nrej == 0 ? 0 : 1;
 out:
	ra_manifest_free(m);
	ra_trust_free(t);
	X509_free(root);
	X509_free(signer);
	free(buf);
	return rc;
}
