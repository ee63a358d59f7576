// SPDX-License-Identifier: MIT
/*
 * Cost of the IOVA allocator (src/iova/):
 *   - fast path: alloc_iova_fast + free_iova_fast pairs of 1, 16 and 64
 *     pfns with warm per-thread caches, ns per pair; also with two domains
 *     used in turn (the per-thread cache lookup misses every call);
 *   - slow path: alloc_iova + __free_iova pairs (no caches) in a tree of
 *     100k live ranges with holes, ns per pair;
 *   - churn: with 100k live ranges, free a random live range and allocate
 *     a new one of random size; each such op is timed on its own and the
 *     p50/p90/p99/p99.9/max are reported, through the slow and the fast API.
 * Baselines measured in the same run: an empty loop, a malloc+free pair,
 * and the clock read that brackets each churn op (included in its figures).
 * Every figure is the median of --reps runs (for max: the median of each
 * run's max).
 *
 * usage: bench_iova [--reps N] [--json]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iommukit/iova.h>

#include "bench.h"

#define LIMIT      ((1UL << 24) - 1) /* 64 GiB of 4 KiB pfns */
#define LIVE       100000
#define FAST_PAIRS 10000000
#define SLOW_PAIRS 1000000
#define CHURN_OPS  300000

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static volatile uint64_t sink;

static void die(const char *what)
{
	fprintf(stderr, "bench_iova: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

static void bench_baselines(int reps)
{
	double empty[64], mf[64], clk[64];

	for (int r = 0; r < reps; r++) {
		uint64_t acc = 0;
		double t = bench_now_ns();

		for (uint64_t i = 0; i < FAST_PAIRS; i++) {
			acc += i;
			__asm__ volatile("" : "+r"(acc));
		}
		empty[r] = (bench_now_ns() - t) / FAST_PAIRS;
		sink += acc;

		t = bench_now_ns();
		for (int i = 0; i < FAST_PAIRS / 4; i++) {
			void *p = malloc(64);

			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		mf[r] = (bench_now_ns() - t) / (FAST_PAIRS / 4);

		double c = 0;

		t = bench_now_ns();
		for (int i = 0; i < CHURN_OPS; i++)
			c += bench_now_ns();
		clk[r] = (bench_now_ns() - t) / CHURN_OPS;
		sink += (uint64_t)c;
	}
	bench_record("baseline: empty loop iteration", "ns", empty, reps, 0);
	bench_record("baseline: malloc(64)+free pair", "ns", mf, reps, 0);
	bench_record("baseline: clock_gettime", "ns", clk, reps, 0);
}

static void bench_fast(int reps)
{
	static const unsigned long sizes[] = { 1, 16, 64 };
	struct iova_domain d, e;
	double ns[64], two[64];
	char name[64];

	if (init_iova_domain(&d, 4096, 1) || iova_domain_init_rcaches(&d) ||
	    init_iova_domain(&e, 4096, 1) || iova_domain_init_rcaches(&e))
		die("init");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned long size = sizes[k];

		for (int r = 0; r < reps; r++) {
			unsigned long p = alloc_iova_fast(&d, size, LIMIT, true);

			if (!p || free_iova_fast(&d, p, size)) /* warm: the range is cached */
				die("warm-up");
			double t = bench_now_ns();

			for (int i = 0; i < FAST_PAIRS; i++) {
				p = alloc_iova_fast(&d, size, LIMIT, true);
				free_iova_fast(&d, p, size);
			}
			ns[r] = (bench_now_ns() - t) / FAST_PAIRS;
			sink += p;
		}
		snprintf(name, sizeof(name), "fast: alloc+free %lu pfn%s, warm", size,
			 size > 1 ? "s" : "");
		bench_record(name, "ns/pair", ns, reps, 8);
	}
	for (int r = 0; r < reps; r++) {
		double t = bench_now_ns();

		for (int i = 0; i < FAST_PAIRS / 10; i++) {
			struct iova_domain *x = i & 1 ? &d : &e;
			unsigned long p = alloc_iova_fast(x, 1, LIMIT, true);

			free_iova_fast(x, p, 1);
		}
		two[r] = (bench_now_ns() - t) / (FAST_PAIRS / 10);
	}
	bench_record("fast: 1 pfn, two domains in turn", "ns/pair", two, reps, 0);
	put_iova_domain(&d);
	put_iova_domain(&e);
}

/* LIVE ranges of 1..16 pfns with holes: allocate 1.5x, free a random third. */
static struct iova **populate(struct iova_domain *d, uint64_t *rng)
{
	const int total = LIVE + LIVE / 2;
	struct iova **all = calloc((size_t)total, sizeof(*all));
	struct iova **live = calloc(LIVE, sizeof(*live));
	int n = 0, freed = 0;

	for (int i = 0; i < total; i++) {
		all[i] = alloc_iova(d, 1 + rnd(rng) % 16, LIMIT, true);
		if (!all[i])
			die("populate");
	}
	while (freed < total - LIVE) {
		int i = (int)(rnd(rng) % (uint64_t)total);

		if (all[i]) {
			__free_iova(d, all[i]);
			all[i] = NULL;
			freed++;
		}
	}
	for (int i = 0; i < total; i++)
		if (all[i])
			live[n++] = all[i];
	free(all);
	return live;
}

static void bench_slow(int reps)
{
	struct iova_domain d;
	uint64_t rng = 0x5eed;
	struct iova **live;
	double ns1[64], nsr[64];

	if (init_iova_domain(&d, 4096, 1))
		die("init");
	live = populate(&d, &rng);
	for (int r = 0; r < reps; r++) {
		double t = bench_now_ns();

		for (int i = 0; i < SLOW_PAIRS; i++) {
			struct iova *a = alloc_iova(&d, 1, LIMIT, true);

			__free_iova(&d, a);
		}
		ns1[r] = (bench_now_ns() - t) / SLOW_PAIRS;

		t = bench_now_ns();
		for (int i = 0; i < SLOW_PAIRS; i++) {
			struct iova *a = alloc_iova(&d, 1 + rnd(&rng) % 16, LIMIT, true);

			__free_iova(&d, a);
		}
		nsr[r] = (bench_now_ns() - t) / SLOW_PAIRS;
	}
	bench_record("slow: alloc_iova+__free_iova 1 pfn, 100k live", "ns/pair", ns1, reps, 110);
	bench_record("slow: same, 1..16 pfns aligned, 100k live", "ns/pair", nsr, reps, 110);
	free(live);
	put_iova_domain(&d);
}

struct churn_stats {
	double p50[64], p90[64], p99[64], p999[64], max[64], mean[64];
};

static void churn_record(const char *tag, struct churn_stats *s, int reps)
{
	static const char *const what[] = { "mean", "p50", "p90", "p99", "p99.9", "max" };
	double *v[] = { s->mean, s->p50, s->p90, s->p99, s->p999, s->max };
	char name[64];

	for (int k = 0; k < 6; k++) {
		snprintf(name, sizeof(name), "churn %s: %s", tag, what[k]);
		bench_record(name, "ns/op", v[k], reps, k == 3 ? 2000 : 0);
	}
}

static void churn_stats_add(struct churn_stats *s, int r, double *lat, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), bench_cmp_double);
	s->mean[r] = sum / n;
	s->p50[r] = lat[n / 2];
	s->p90[r] = lat[(long)n * 90 / 100];
	s->p99[r] = lat[(long)n * 99 / 100];
	s->p999[r] = lat[(long)n * 999 / 1000];
	s->max[r] = lat[n - 1];
}

/* Slow API: free a random live range, allocate one of 1..16 pfns. */
static void bench_churn_slow(int reps)
{
	static struct churn_stats s;
	double *lat = malloc(CHURN_OPS * sizeof(*lat));
	struct iova_domain d;
	uint64_t rng = 0xc4a2;
	struct iova **live;

	if (init_iova_domain(&d, 4096, 1))
		die("init");
	live = populate(&d, &rng);
	for (int r = 0; r < reps; r++) {
		for (int i = 0; i < CHURN_OPS; i++) {
			int k = (int)(rnd(&rng) % LIVE);
			unsigned long size = 1 + rnd(&rng) % 16;
			double t = bench_now_ns();

			__free_iova(&d, live[k]);
			live[k] = alloc_iova(&d, size, LIMIT, true);
			lat[i] = bench_now_ns() - t;
			if (!live[k])
				die("churn alloc");
		}
		churn_stats_add(&s, r, lat, CHURN_OPS);
	}
	churn_record("slow (free+alloc_iova, 1..16 pfns)", &s, reps);
	free(live);
	free(lat);
	put_iova_domain(&d);
}

/* Fast API with caches: 100k live ranges of 1..64 pfns. */
static void bench_churn_fast(int reps)
{
	static struct churn_stats s;
	double *lat = malloc(CHURN_OPS * sizeof(*lat));
	unsigned long *pfn = malloc(LIVE * sizeof(*pfn)), *size = malloc(LIVE * sizeof(*size));
	struct iova_domain d;
	uint64_t rng = 0xfa57c4;

	if (init_iova_domain(&d, 4096, 1) || iova_domain_init_rcaches(&d))
		die("init");
	for (int i = 0; i < LIVE; i++) {
		size[i] = 1 + rnd(&rng) % 64;
		pfn[i] = alloc_iova_fast(&d, size[i], LIMIT, true);
		if (!pfn[i])
			die("populate");
	}
	for (int r = 0; r < reps; r++) {
		for (int i = 0; i < CHURN_OPS; i++) {
			int k = (int)(rnd(&rng) % LIVE);
			unsigned long sz = 1 + rnd(&rng) % 64;
			double t = bench_now_ns();

			free_iova_fast(&d, pfn[k], size[k]);
			pfn[k] = alloc_iova_fast(&d, sz, LIMIT, true);
			lat[i] = bench_now_ns() - t;
			size[k] = sz;
			if (!pfn[k])
				die("churn alloc");
		}
		churn_stats_add(&s, r, lat, CHURN_OPS);
	}
	churn_record("fast (free+alloc_iova_fast, 1..64 pfns)", &s, reps);
	free(pfn);
	free(size);
	free(lat);
	put_iova_domain(&d);
}

int main(int argc, char **argv)
{
	int reps = 7;
	bool json = false;
	char title[96];

	if (!bench_parse_args(argc, argv, &reps, &json))
		return 2;
	bench_baselines(reps);
	bench_fast(reps);
	bench_slow(reps);
	bench_churn_slow(reps);
	bench_churn_fast(reps);
	snprintf(title, sizeof(title), "IOVA allocator (%d live ranges where stated)", LIVE);
	bench_print(title, reps, json);
	return 0;
}
