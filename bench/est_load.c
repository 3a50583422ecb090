/*
 * est_load.c - EST enrollment load against a running fleetca server.
 *
 *   est_load --port N --cacert ROOT.pem --devices DEVICES.txt
 *            --signer-ca SIGNER_CA.pem [--host 127.0.0.1] [--threads T]
 *            [--count M] [--mode keepalive|newconn] [--resume]
 *            [--label L] [--pid SERVER_PID] [--no-decode]
 *            [--op enroll|handshake]
 *
 * T threads, each a simulated device (device t % N of the mkmanifest
 * devices file, presenting its IDevID and the vendor's signer CA), make M
 * simpleenroll requests in all, each with a fresh P-256 key (the policy
 * allows one LDevID per key).  Keys and CSRs are made before the clock
 * starts: a device makes its request before it connects.  keepalive: one
 * TLS connection per device for all its requests; newconn: a new TCP +
 * mutual-TLS handshake per enrollment (full handshake unless --resume).
 *
 * --no-decode sends the requests pre-encoded (base64 DER made before the
 * clock starts) and does not decode the answers (it still requires 200
 * and a non-empty base64 body): the client's own parsing is not the
 * server's cost, and on a 2-core machine it competes for the same CPU.
 *
 * --op handshake (with --mode newconn) makes each operation a TCP connect
 * and a full mutual-TLS handshake with nothing sent over it: the floor
 * under a new-connection enrollment on this machine, for both sides.
 *
 * Reports operations/s, p50/p99 latency and, with --pid, the server's
 * CPU time per operation from /proc/PID/stat (utime + stime), with the
 * rate the server alone could sustain on this machine's cores at that
 * CPU cost (the load client shares them; its own CPU is printed too).
 * Exit 0 when every enrollment succeeded, 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/fileio.h"
#include "server/est_client.h"
#include "server/proto/est.h"

struct device {
	char uid[72];
	EVP_PKEY *key;
	X509 *cert;
};

struct worker {
	pthread_t tid;
	const struct device *dev;
	size_t n;			/* enrollments to make */
	X509_REQ **csrs;		/* n requests, made up front */
	char **b64;			/* --no-decode: their EST bodies */
	size_t *b64_len;
	double *lat_ms;			/* n latencies */
	size_t ok, failed;
	char last_err[160];
};

static const char *host = "127.0.0.1", *label = NULL, *cafile;
static unsigned short port;
static int newconn, resume, no_decode, handshake_only;
static STACK_OF(X509) *signer_chain;

static void
usage(void)
{
	fprintf(stderr, "usage: est_load --port N --cacert ROOT.pem "
	    "--devices FILE --signer-ca FILE [--host H] [--threads T] "
	    "[--count M] [--mode keepalive|newconn] [--resume] [--label L] "
	    "[--pid PID] [--no-decode] [--op enroll|handshake]\n");
	exit(2);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* utime + stime of pid in clock ticks, or -1. */
static long long
proc_cpu(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields resume after ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static int
b64_field(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	return (*out = b64_decode(s, len, 0, outlen)) == NULL ? -1 : 0;
}

/* Parses devices.txt lines "uid b64(PKCS#8) b64(cert)". */
static struct device *
load_devices(const char *path, size_t *n)
{
	unsigned char *buf;
	size_t len, cap = 0;
	struct device *d = NULL;
	char *line, *save = NULL;

	*n = 0;
	if (file_read_all(path, 1u << 30, &buf, &len) == -1) {
		fprintf(stderr, "est_load: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *uid = line, *k, *c;
		unsigned char *der = NULL;
		const unsigned char *p;
		size_t dl;

		if ((k = strchr(uid, ' ')) == NULL ||
		    (c = strchr(k + 1, ' ')) == NULL)
			goto bad;
		*k++ = '\0';
		*c++ = '\0';
		if (*n == cap) {
			struct device *nd;

			cap = cap ? cap * 2 : 256;
			if ((nd = realloc(d, cap * sizeof(*d))) == NULL)
				goto bad;
			d = nd;
		}
		memset(&d[*n], 0, sizeof(d[*n]));
		snprintf(d[*n].uid, sizeof(d[*n].uid), "%s", uid);
		if (b64_field(k, strlen(k), &der, &dl) != 0)
			goto bad;
		p = der;
		d[*n].key = d2i_AutoPrivateKey(NULL, &p, (long)dl);
		OPENSSL_cleanse(der, dl);
		free(der);
		if (b64_field(c, strlen(c), &der, &dl) != 0)
			goto bad;
		p = der;
		d[*n].cert = d2i_X509(NULL, &p, (long)dl);
		free(der);
		if (d[*n].key == NULL || d[*n].cert == NULL)
			goto bad;
		(*n)++;
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	return d;
bad:
	fprintf(stderr, "est_load: %s: malformed line %zu\n", path, *n + 1);
	OPENSSL_cleanse(buf, len);
	free(buf);
	exit(1);
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct estc *c;
	char reason[160];

	if ((c = estc_new(host, port, cafile)) == NULL) {
		w->failed = w->n;
		snprintf(w->last_err, sizeof(w->last_err), "estc_new failed");
		return NULL;
	}
	estc_set_resume(c, resume);
	if (!estc_set_identity(c, w->dev->cert, signer_chain, w->dev->key)) {
		w->failed = w->n;
		snprintf(w->last_err, sizeof(w->last_err), "identity");
		estc_free(c);
		return NULL;
	}
	for (size_t i = 0; i < w->n; i++) {
		X509 *cert = NULL;
		int st = 0;
		double t0 = now_ms();
		enum estc_err e = handshake_only ?
		    estc_connect(c, reason, sizeof(reason)) : no_decode ?
		    estc_simpleenroll_raw(c, label, w->b64[i], w->b64_len[i],
		    NULL, &st, reason, sizeof(reason)) :
		    estc_simpleenroll(c, label, w->csrs[i], &cert, &st, reason,
		    sizeof(reason));

		if (newconn)
			estc_close(c);
		w->lat_ms[i] = now_ms() - t0;
		if (e == ESTC_OK) {
			w->ok++;
		} else {
			w->failed++;
			snprintf(w->last_err, sizeof(w->last_err), "%s (%d %s)",
			    estc_err_str(e), st, reason);
		}
		X509_free(cert);
	}
	estc_free(c);
	return NULL;
}

/* This process's CPU time (user + system) in seconds. */
static double
self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	const char *devfile = NULL, *signerfile = NULL;
	long threads = 32, count = 20000, pid = 0;
	struct device *devs;
	struct worker *w;
	size_t ndev, total = 0, ok = 0, failed = 0, k = 0;
	double t0, t1, c0, c1, *all;
	const char *opname, *opunit;
	long long cpu0 = -1, cpu1 = -1;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--resume") == 0) {
			resume = 1;
			continue;
		}
		if (strcmp(argv[i], "--no-decode") == 0) {
			no_decode = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--host") == 0)
			host = argv[++i];
		else if (strcmp(argv[i], "--port") == 0)
			port = (unsigned short)number(argv[++i], 1, 65535);
		else if (strcmp(argv[i], "--cacert") == 0)
			cafile = argv[++i];
		else if (strcmp(argv[i], "--devices") == 0)
			devfile = argv[++i];
		else if (strcmp(argv[i], "--signer-ca") == 0)
			signerfile = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0)
			threads = number(argv[++i], 1, 4096);
		else if (strcmp(argv[i], "--count") == 0)
			count = number(argv[++i], 1, 100000000);
		else if (strcmp(argv[i], "--label") == 0)
			label = argv[++i];
		else if (strcmp(argv[i], "--pid") == 0)
			pid = number(argv[++i], 1, 1L << 30);
		else if (strcmp(argv[i], "--op") == 0) {
			i++;
			if (strcmp(argv[i], "enroll") == 0)
				handshake_only = 0;
			else if (strcmp(argv[i], "handshake") == 0)
				handshake_only = 1;
			else
				usage();
		} else if (strcmp(argv[i], "--mode") == 0) {
			i++;
			if (strcmp(argv[i], "keepalive") == 0)
				newconn = 0;
			else if (strcmp(argv[i], "newconn") == 0)
				newconn = 1;
			else
				usage();
		} else
			usage();
	}
	if (port == 0 || cafile == NULL || devfile == NULL ||
	    signerfile == NULL || (handshake_only && !newconn))
		usage();
	if ((devs = load_devices(devfile, &ndev)) == NULL || ndev == 0) {
		fprintf(stderr, "est_load: no devices\n");
		return 1;
	}
	if ((f = fopen(signerfile, "r")) == NULL) {
		fprintf(stderr, "est_load: %s: %s\n", signerfile,
		    strerror(errno));
		return 1;
	}
	signer_chain = sk_X509_new_null();
	for (X509 *x; (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL;)
		sk_X509_push(signer_chain, x);
	fclose(f);
	if ((w = calloc((size_t)threads, sizeof(*w))) == NULL)
		return 1;
	/* Requests first (fresh key each): not part of the timed phase. */
	for (long t = 0; t < threads; t++) {
		w[t].dev = &devs[(size_t)t % ndev];
		w[t].n = (size_t)(count / threads + (t < count % threads));
		w[t].csrs = calloc(w[t].n + 1, sizeof(X509_REQ *));
		w[t].lat_ms = calloc(w[t].n + 1, sizeof(double));
		w[t].b64 = calloc(w[t].n + 1, sizeof(char *));
		w[t].b64_len = calloc(w[t].n + 1, sizeof(size_t));
		if (w[t].csrs == NULL || w[t].lat_ms == NULL ||
		    w[t].b64 == NULL || w[t].b64_len == NULL)
			return 1;
		for (size_t i = 0; i < w[t].n; i++) {
			EVP_PKEY *k2 = EVP_EC_gen("P-256");

			if (k2 == NULL || (w[t].csrs[i] = estc_make_csr(k2,
			    w[t].dev->uid)) == NULL) {
				fprintf(stderr, "est_load: making CSRs\n");
				return 1;
			}
			EVP_PKEY_free(k2);
			if (no_decode && est_csr_encode(w[t].csrs[i],
			    &w[t].b64[i], &w[t].b64_len[i]) != EST_OK) {
				fprintf(stderr, "est_load: encoding CSRs\n");
				return 1;
			}
		}
	}
	if (pid > 0)
		cpu0 = proc_cpu(pid);
	c0 = self_cpu();
	t0 = now_ms();
	for (long t = 0; t < threads; t++)
		if (pthread_create(&w[t].tid, NULL, run, &w[t]) != 0) {
			fprintf(stderr, "est_load: pthread_create\n");
			return 1;
		}
	for (long t = 0; t < threads; t++)
		pthread_join(w[t].tid, NULL);
	t1 = now_ms();
	c1 = self_cpu();
	if (pid > 0)
		cpu1 = proc_cpu(pid);
	for (long t = 0; t < threads; t++) {
		total += w[t].n;
		ok += w[t].ok;
		failed += w[t].failed;
	}
	if ((all = calloc(total + 1, sizeof(double))) == NULL)
		return 1;
	for (long t = 0; t < threads; t++)
		for (size_t i = 0; i < w[t].n; i++)
			all[k++] = w[t].lat_ms[i];
	qsort(all, total, sizeof(double), cmp_double);
	opname = handshake_only ? "handshakes" : "enrollments";
	opunit = handshake_only ? "handshake" : "enrollment";
	printf("mode %s%s%s, %ld devices/threads, %zu %s: %zu ok, "
	    "%zu failed\n", newconn ? "newconn" : "keepalive",
	    newconn && resume ? " (resumption)" : "",
	    handshake_only ? " (handshakes only)" :
	    no_decode ? " (answers not decoded)" : "", threads, total, opname,
	    ok, failed);
	printf("elapsed %.3f s, %.0f %s/s, latency p50 %.2f ms, "
	    "p99 %.2f ms, max %.2f ms\n", (t1 - t0) / 1e3,
	    ok / ((t1 - t0) / 1e3), opname, all[total / 2],
	    all[(size_t)((double)total * 0.99)], all[total - 1]);
	if (cpu0 >= 0 && cpu1 >= 0 && ok > 0) {
		double tick = (double)sysconf(_SC_CLK_TCK);
		double us = (double)(cpu1 - cpu0) / tick * 1e6 / (double)ok;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		printf("server CPU %.2f s total, %.1f us per %s "
		    "(%ld cores at that cost: %.0f/s for the server alone)\n",
		    (double)(cpu1 - cpu0) / tick, us, opunit,
		    ncpu, us > 0 ? (double)ncpu * 1e6 / us : 0.0);
	}
	if (ok > 0)
		printf("client CPU %.2f s total, %.1f us per %s\n",
		    c1 - c0, (c1 - c0) * 1e6 / (double)ok, opunit);
	for (long t = 0; t < threads; t++)
		if (w[t].failed > 0) {
			printf("last error (thread %ld): %s\n", t,
			    w[t].last_err);
			break;
		}
	for (long t = 0; t < threads; t++) {
		for (size_t i = 0; i < w[t].n; i++) {
			X509_REQ_free(w[t].csrs[i]);
			free(w[t].b64[i]);
		}
		free(w[t].csrs);
		free(w[t].b64);
		free(w[t].b64_len);
		free(w[t].lat_ms);
	}
	free(w);
	free(all);
	for (size_t i = 0; i < ndev; i++) {
		EVP_PKEY_free(devs[i].key);
		X509_free(devs[i].cert);
	}
	free(devs);
	sk_X509_pop_free(signer_chain, X509_free);
	return failed == 0 ? 0 : 1;
}
