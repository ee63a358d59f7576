/* SPDX-License-Identifier: MIT */
/*
 * What every benchmark shares: the clock, medians, the command line
 * (--reps N, --json), and one table of results printed as text or JSON.
 * Header-only: each bench_*.c is its own program.
 */
#ifndef IK_BENCH_H
#define IK_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_REPS    64
#define BENCH_MAX_RESULTS 48

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @n samples (sorts them). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct bench_result {
	char name[64];
	const char *unit;
	double value;
	double target; /* 0: none; a result meets it when below */
};

static struct bench_result bench_results[BENCH_MAX_RESULTS];
static int bench_nr_results;

/* Record the median of @samples as result @name. */
static inline void bench_record(const char *name, const char *unit, double *samples, int reps,
				double target)
{
	struct bench_result *r;

	if (bench_nr_results == BENCH_MAX_RESULTS)
		return;
	r = &bench_results[bench_nr_results++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->unit = unit;
	r->value = bench_median(samples, reps);
	r->target = target;
}

static inline const struct bench_result *bench_find(const char *name)
{
	for (int i = 0; i < bench_nr_results; i++)
		if (!strcmp(bench_results[i].name, name))
			return &bench_results[i];
	return NULL;
}

/* --reps N (1..BENCH_MAX_REPS) and --json; returns false on a usage error. */
static inline bool bench_parse_args(int argc, char **argv, int *reps, bool *json)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			*reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else {
			fprintf(stderr, "usage: %s [--reps N (1-%d)] [--json]\n", argv[0],
				BENCH_MAX_REPS);
			return false;
		}
	}
	if (*reps < 1 || *reps > BENCH_MAX_REPS) {
		fprintf(stderr, "--reps must be 1..%d\n", BENCH_MAX_REPS);
		return false;
	}
	return true;
}

/* Every result, as a table under @title or as JSON. */
static inline void bench_print(const char *title, int reps, bool json)
{
	if (json) {
		printf("{\n  \"reps\": %d,\n  \"results\": [\n", reps);
		for (int i = 0; i < bench_nr_results; i++)
			printf("    {\"name\": \"%s\", \"unit\": \"%s\", \"value\": %.3f, "
			       "\"target\": %.1f}%s\n",
			       bench_results[i].name, bench_results[i].unit, bench_results[i].value,
			       bench_results[i].target, i + 1 < bench_nr_results ? "," : "");
		printf("  ]\n}\n");
		return;
	}
	printf("%s (median of %d runs)\n\n", title, reps);
	printf("%-56s %10s %-8s %12s\n", "operation", "value", "unit", "target");
	for (int i = 0; i < bench_nr_results; i++) {
		const struct bench_result *r = &bench_results[i];
		char tg[24] = "";

		if (r->target)
			snprintf(tg, sizeof(tg), "< %.1f %s", r->target,
				 r->value < r->target ? "ok" : "MISS");
		printf("%-56s %10.2f %-8s %12s\n", r->name, r->value, r->unit, tg);
	}
}

/* Text only: how much result pairs[i][0] adds over pairs[i][1]. */
static inline void bench_print_overhead(const char *const (*pairs)[2], int n, double limit_pct)
{
	printf("\nthrough the core vs the format alone (target: at most +%.0f%%):\n", limit_pct);
	for (int i = 0; i < n; i++) {
		const struct bench_result *c = bench_find(pairs[i][0]), *f = bench_find(pairs[i][1]);

		if (c && f && f->value > 0)
			printf("  %-44s %+7.1f%%\n", pairs[i][0],
			       100.0 * (c->value - f->value) / f->value);
	}
}

#endif /* IK_BENCH_H */
