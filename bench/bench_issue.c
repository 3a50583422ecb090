/*
 * bench_issue.c - how many certificates per second ca_issue() delivers
 * with durable commits (one fsync'ed transaction per certificate), with 1
 * and 2 threads, next to `openssl speed ecdsap256` on the same machine.
 *
 * usage: bench_issue [--seconds N] [--dir TMPDIR]
 *
 * A scratch data dir (P-256 hierarchy, its own profile) is made under
 * TMPDIR (default /tmp) and removed afterwards.  Each thread has its own
 * struct db on the same file and its own CSR; the signer is shared, as in
 * the server.  The ratio compares issuing (CSR verify + sign + store +
 * fsync) with a bare ECDSA P-256 signature.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "db/db.h"
#include "ca/ca.h"
#include "ca/profile.h"

static const char bench_profile[] =
	"{\"kind\": \"profile\", \"name\": \"bench\","
	" \"validity_days\": 365, \"key_types\": [\"p256\"],"
	" \"subject\": [{\"type\": \"CN\", \"value\": \"{uid}\"}],"
	" \"san\": [{\"type\": \"uri\", \"value\": \"urn:dev:ops:{uid}\"}],"
	" \"key_usage\": [\"digitalSignature\"],"
	" \"extended_key_usage\": [\"clientAuth\"],"
	" \"require_new_key\": false}\n";

struct bench {
	char dir[4096];
	char dbpath[4200];
	struct ca_signer *signer;
	const struct ca_profile *prof;
	double seconds;
	int batch;	/* certificates per durable transaction */
};

struct worker {
	struct bench *b;
	pthread_t tid;
	long issued;
	int failed;
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_issue [--seconds N] [--dir TMPDIR]\n");
	exit(2);
}

/* Removes the scratch tree (files one level down, at most). */
static void
rm_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[4400];

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	remove(path);
}

/* A P-256 CSR; caller frees. */
static X509_REQ *
make_csr(void)
{
	EVP_PKEY *k = ca_key_generate(CA_KEY_P256);
	X509_REQ *r = X509_REQ_new();

	if (k == NULL || r == NULL || X509_REQ_set_pubkey(r, k) != 1 ||
	    X509_REQ_sign(r, k, EVP_sha256()) <= 0) {
		X509_REQ_free(r);
		r = NULL;
	}
	EVP_PKEY_free(k);
	return r;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char err[256], uid[32];
	struct db *db;
	X509_REQ *csr;
	double end;

	if ((db = db_open(w->b->dbpath, err, sizeof(err))) == NULL ||
	    db_set_durable(db, 1) != DB_OK || (csr = make_csr()) == NULL) {
		fprintf(stderr, "bench: worker setup: %s\n",
		    db ? db_errmsg(db) : err);
		db_close(db);
		w->failed = 1;
		return NULL;
	}
	end = mono() + w->b->seconds;
	while (mono() < end) {
		enum ca_err e = CA_OK;
		int k;

		/* One durable transaction for batch certificates: what a server
		 * doing group commit achieves (each commit is still fsync'ed
		 * before any certificate of the batch would be handed out). */
		if (db_begin(db) != DB_OK) {
			w->failed = 1;
			break;
		}
		for (k = 0; k < w->b->batch && e == CA_OK; k++) {
			struct ca_issue_req req = { csr, uid, NULL, 0, NULL, NULL };
			X509 *x = NULL;

			snprintf(uid, sizeof(uid), "bench%lx-%ld",
			    (unsigned long)(uintptr_t)w, w->issued + k);
			e = ca_issue(w->b->signer, db, w->b->prof, &req, &x,
			    NULL);
			X509_free(x);
		}
		if (e != CA_OK || db_commit(db) != DB_OK) {
			fprintf(stderr, "bench: issue: %s\n", e != CA_OK ?
			    ca_err_name(e) : db_errmsg(db));
			db_rollback(db);
			w->failed = 1;
			break;
		}
		w->issued += k;
	}
	X509_REQ_free(csr);
	db_close(db);
	return NULL;
}

/* Runs n threads for b->seconds; returns certificates per second or -1. */
static double
run(struct bench *b, int n)
{
	struct worker w[8];
	double t0, el;
	long total = 0;
	int failed = 0;

	memset(w, 0, sizeof(w));
	t0 = mono();
	for (int i = 0; i < n; i++) {
		w[i].b = b;
		if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			n = i;
			failed = 1;
			break;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		total += w[i].issued;
		failed |= w[i].failed;
	}
	el = mono() - t0;
	if (failed || el <= 0)
		return -1;
	return (double)total / el;
}

/* sign/s of `openssl speed -seconds N ecdsap256`, or -1. */
static double
openssl_speed(int seconds)
{
	char cmd[128], line[512];
	double sign = -1, t1, t2, s, v;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
	    "openssl speed -seconds %d ecdsap256 2>/dev/null", seconds);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	/* " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0" */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, "(nistp256)");

		if (p != NULL && sscanf(p + 10, " %lfs %lfs %lf %lf", &t1, &t2,
		    &s, &v) == 4)
			sign = s;
	}
	if (pclose(f) != 0)
		return -1;
	return sign;
}

static int
setup(struct bench *b, const char *tmp, struct ca_profiles **ps)
{
	struct ca_init_params ip = { NULL, "Bench", CA_KEY_P256, NULL };
	char err[512], path[4200];
	struct db *db;
	int rc = -1;

	snprintf(b->dir, sizeof(b->dir), "%s/fleetca-bench-XXXXXX", tmp);
	if (mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", b->dir, strerror(errno));
		b->dir[0] = '\0';
		return -1;
	}
	ip.dir = b->dir;
	snprintf(b->dbpath, sizeof(b->dbpath), "%s/fleetca.db", b->dir);
	snprintf(path, sizeof(path), "%s/policies", b->dir);
	if (mkdir(path, 0755) == -1) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/policies/bench.json", b->dir);
	if (file_write_new(path, bench_profile, strlen(bench_profile),
	    0644) == -1) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((db = db_open(b->dbpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/policies", b->dir);
	if (ca_hierarchy_create(&ip, db, err, sizeof(err)) != 0 ||
	    (b->signer = ca_signer_load(b->dir, db, "http://localhost:8080",
	    err, sizeof(err))) == NULL ||
	    (*ps = ca_profiles_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench: %s\n", err);
		goto out;
	}
	b->prof = ca_profiles_find(*ps, "bench");
	rc = 0;
out:
	db_close(db);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct ca_profiles *ps = NULL;
	const char *tmp = "/tmp";
	double one, two, one_b, two_b, speed;
	int seconds = 3, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0' || v < 1 || v > 600)
				usage();
			seconds = (int)v;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			tmp = argv[++i];
		else
			usage();
	}
	memset(&b, 0, sizeof(b));
	b.seconds = seconds;
	log_set_level(LOG_LVL_WARN);	/* no line per certificate */
	if (setup(&b, tmp, &ps) != 0)
		goto out;

	b.batch = 1;
	one = run(&b, 1);
	two = run(&b, 2);
	b.batch = 64;
	one_b = run(&b, 1);
	two_b = run(&b, 2);
	speed = openssl_speed(seconds);
	if (one < 0 || two < 0 || one_b < 0 || two_b < 0) {
		fprintf(stderr, "bench: issuing failed\n");
		goto out;
	}
	printf("ca_issue, durable commit per cert,  1 thread:  %10.1f certs/s\n",
	    one);
	printf("ca_issue, durable commit per cert,  2 threads: %10.1f certs/s\n",
	    two);
	printf("ca_issue, durable commit per 64,    1 thread:  %10.1f certs/s\n",
	    one_b);
	printf("ca_issue, durable commit per 64,    2 threads: %10.1f certs/s\n",
	    two_b);
	if (speed > 0) {
		printf("openssl speed ecdsap256 sign:                  %10.1f sign/s\n",
		    speed);
		printf("ratio issue/sign: per cert 1t %.3f 2t %.3f; per 64 1t "
		    "%.3f 2t %.3f\n", one / speed, two / speed, one_b / speed,
		    two_b / speed);
	} else
		printf("openssl speed ecdsap256: not available\n");
	rc = 0;
out:
	ca_profiles_free(ps);
	ca_signer_free(b.signer);
	if (b.dir[0] != '\0')
		rm_tree(b.dir);
	return rc;
}
