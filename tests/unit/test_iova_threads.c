// SPDX-License-Identifier: MIT
/*
 * The IOVA allocator under threads: concurrent fast and slow allocations
 * never overlap, caches of exiting threads come back, ENOSPC drains the
 * caches of threads that are alive but idle, put_iova_domain() reclaims
 * caches of running threads, and draining races with the lock-free fast
 * path. Meant to run clean under TSan and ASan as well.
 *
 * Overlap is caught with a claim per pfn: a thread that receives a range
 * exchanges 1 into every pfn's claim and must find 0; it clears them
 * before freeing. Threads only count failures; main asserts on them.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ik_test.h"
#include <iommukit/iova.h>
#include "iova/iova-internal.h"

#define WINDOW   4096 /* pfns 1 .. WINDOW */
#define NTHREADS 4

static unsigned char claims[WINDOW + 1];
static unsigned long failures;
static char failure_msg[256];

static void fail_later(const char *fmt, unsigned long a, unsigned long b)
{
	if (__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED) == 0)
		snprintf(failure_msg, sizeof(failure_msg), fmt, a, b);
}

static void check_no_failures(void)
{
	if (__atomic_load_n(&failures, __ATOMIC_RELAXED))
		fail_msg("%lu failures in threads; first: %s", failures, failure_msg);
}

static void claim(unsigned long lo, unsigned long hi)
{
	if (hi > WINDOW || lo < 1) {
		fail_later("range %#lx..%#lx outside the window", lo, hi);
		return;
	}
	for (unsigned long p = lo; p <= hi; p++)
		if (__atomic_exchange_n(&claims[p], 1, __ATOMIC_ACQ_REL))
			fail_later("pfn %#lx handed out twice (range starts %#lx)", p, lo);
}

static void unclaim(unsigned long lo, unsigned long hi)
{
	for (unsigned long p = lo; p <= hi; p++)
		__atomic_store_n(&claims[p], 0, __ATOMIC_RELEASE);
}

static unsigned long pow2_up(unsigned long x)
{
	unsigned long p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* What one thread holds. */
struct held {
	unsigned long pfn, size, real; /* size: as asked; real: pfns */
	struct iova *iova;             /* slow ranges */
};

struct worker {
	struct iova_domain *d;
	pthread_t tid;
	uint64_t seed;
	int iters;
	int max_held;
	unsigned long max_size; /* fast sizes up to this; larger go through alloc_iova */
	const unsigned long *race_rounds; /* atomic: go on until this many drains ran */
	unsigned long min_rounds;
	unsigned long enospc;
};

static void drop(struct worker *w, struct held *h)
{
	unclaim(h->pfn, h->pfn + h->real - 1);
	if (h->iova) {
		if (__free_iova(w->d, h->iova))
			fail_later("__free_iova(%#lx) failed (%lu)", h->pfn, 0);
	} else if (free_iova_fast(w->d, h->pfn, h->size)) {
		fail_later("free_iova_fast(%#lx, %lu) failed", h->pfn, h->size);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct held *held = calloc((size_t)w->max_held, sizeof(*held));
	uint64_t rng = w->seed;
	int n = 0;

	for (int i = 0; i < w->iters || (w->race_rounds && i < 100 * w->iters &&
			 __atomic_load_n(w->race_rounds, __ATOMIC_RELAXED) < w->min_rounds); i++) {
		bool alloc = n == 0 || (n < w->max_held && ik_test_rand(&rng) % 2);

		if (alloc) {
			unsigned long size = 1 + ik_test_rand(&rng) % w->max_size;
			struct held *h = &held[n];

			h->size = size;
			h->iova = NULL;
			if (size <= IK_IOVA_RCACHE_MAX_PFNS || ik_test_rand(&rng) % 2) {
				h->real = size <= IK_IOVA_RCACHE_MAX_PFNS ? pow2_up(size) : size;
				h->pfn = alloc_iova_fast(w->d, size, WINDOW, true);
				if (h->pfn && h->pfn & (pow2_up(size) - 1))
					fail_later("%#lx not aligned for %lu", h->pfn, size);
			} else {
				h->real = size;
				h->iova = alloc_iova(w->d, size, WINDOW, ik_test_rand(&rng) % 2);
				h->pfn = h->iova ? h->iova->pfn_lo : 0;
			}
			if (!h->pfn) {
				if (errno != ENOSPC)
					fail_later("allocation failed with errno %lu (size %lu)",
						   (unsigned long)errno, size);
				w->enospc++;
				continue;
			}
			claim(h->pfn, h->pfn + h->real - 1);
			n++;
		} else {
			int k = (int)(ik_test_rand(&rng) % (uint64_t)n);

			drop(w, &held[k]);
			held[k] = held[--n];
		}
	}
	/* Free what is left: fast ranges go to the magazines this thread exits with. */
	while (n)
		drop(w, &held[--n]);
	free(held);
	return NULL;
}

static void run_workers(struct iova_domain *d, struct worker *w, int nr)
{
	for (int i = 0; i < nr; i++) {
		w[i].d = d;
		assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < nr; i++)
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
	check_no_failures();
}

/* Everything freed and drained: the window is one free gap again. */
static void check_all_free(struct iova_domain *d)
{
	struct ik_iova_report rep;

	assert_int_equal(ik_iova_domain_report(d, WINDOW, &rep), 0);
	assert_int_equal(rep.allocated_pfns, 0);
	assert_int_equal(rep.allocated_ranges, 0);
	assert_int_equal(rep.free_pfns + rep.cached_pfns, WINDOW);
	assert_int_equal(ik_iova_flush_rcaches(d), 0);
	assert_int_equal(ik_iova_domain_report(d, WINDOW, &rep), 0);
	assert_int_equal(rep.cached_pfns, 0);
	assert_int_equal(rep.free_pfns, WINDOW);
	assert_int_equal(rep.free_gaps, 1);
	assert_int_equal(iova_tree_check(d), 0);
	for (unsigned long p = 0; p <= WINDOW; p++)
		assert_int_equal(claims[p], 0);
}

/* 4 threads, fast and slow sizes, a window small enough to run out. */
static void test_concurrent_mixed(void **state)
{
	uint64_t seed = ik_test_seed(0x7ead5);
	struct worker w[NTHREADS];
	struct iova_domain d;
	unsigned long enospc = 0;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	for (int i = 0; i < NTHREADS; i++)
		w[i] = (struct worker){ .seed = seed + (uint64_t)i * 7919, .iters = 20000,
					.max_held = 40, .max_size = i < 2 ? 16 : 120 };
	run_workers(&d, w, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		enospc += w[i].enospc;
	printf("# ENOSPC (drains under contention): %lu\n", enospc);
	check_all_free(&d);
	put_iova_domain(&d);
}

/* Threads exit with full magazines: the ranges come back to depot and tree. */
static void test_exit_with_full_magazines(void **state)
{
	uint64_t seed = ik_test_seed(0xe417);
	struct worker w[NTHREADS];
	struct iova_domain d;
	struct ik_iova_report rep;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	for (int i = 0; i < NTHREADS; i++)
		/* Hold up to 500 single pages, free them all, exit. */
		w[i] = (struct worker){ .seed = seed + (uint64_t)i, .iters = 3000,
					.max_held = 500, .max_size = 1 };
	run_workers(&d, w, NTHREADS);
	assert_int_equal(ik_iova_domain_report(&d, WINDOW, &rep), 0);
	assert_int_equal(rep.allocated_pfns, 0);
	/* Full magazines wait in the depot for the next thread. */
	assert_true(rep.cached_pfns % IOVA_MAG_SIZE == 0);
	assert_true(rep.cached_pfns <= IOVA_MAG_SIZE * IOVA_DEPOT_MAX_FULL);
	check_all_free(&d);
	put_iova_domain(&d);
}

/* A thread that fills its cache, then idles until told to go on. */
struct idler {
	struct iova_domain *d, *other;
	pthread_barrier_t *bar;
	unsigned long npfns;
	unsigned long first_after; /* first pfn it got after main re-created d */
};

static void *idler_main(void *arg)
{
	struct idler *t = arg;
	unsigned long *p = calloc(t->npfns, sizeof(*p));

	for (unsigned long i = 0; i < t->npfns; i++) {
		p[i] = alloc_iova_fast(t->d, 1, WINDOW, true);
		if (!p[i])
			fail_later("idler: alloc %lu failed (%lu)", i, (unsigned long)errno);
	}
	for (unsigned long i = 0; i < t->npfns; i++)
		if (p[i] && free_iova_fast(t->d, p[i], 1))
			fail_later("idler: free %#lx failed", p[i], 0);
	free(p);
	pthread_barrier_wait(t->bar); /* 1: our caches are full; main works */
	pthread_barrier_wait(t->bar); /* 2: main is done */
	if (t->other) {
		/* Another domain first, so the dead cache is met on the slow lookup. */
		unsigned long q = alloc_iova_fast(t->other, 1, WINDOW, true);

		if (!q || free_iova_fast(t->other, q, 1))
			fail_later("idler: other domain failed", 0, 0);
		t->first_after = alloc_iova_fast(t->d, 1, WINDOW, true);
		if (!t->first_after || free_iova_fast(t->d, t->first_after, 1))
			fail_later("idler: new domain failed", 0, 0);
	}
	return NULL;
}

/* ENOSPC drains the magazines of a thread that is alive but idle. */
static void test_enospc_drains_idle_thread(void **state)
{
	struct iova_domain d;
	struct ik_iova_report rep;
	pthread_barrier_t bar;
	struct idler t = { .d = &d, .bar = &bar, .npfns = WINDOW };
	pthread_t tid;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	pthread_barrier_init(&bar, NULL, 2);
	assert_int_equal(pthread_create(&tid, NULL, idler_main, &t), 0);
	pthread_barrier_wait(&bar);
	check_no_failures();
	/* The whole window was freed by the thread; some of it sits in its cache. */
	assert_int_equal(ik_iova_domain_report(&d, WINDOW, &rep), 0);
	assert_true(rep.cached_pfns >= 2 * IOVA_MAG_SIZE);
	/* The first half of the window to go was cached: no room without a drain. */
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, WINDOW / 2, WINDOW, false), 0);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(alloc_iova_fast(&d, WINDOW / 2, WINDOW, true), WINDOW / 2);
	/* That drain emptied the idle thread's magazines too, not only the depot. */
	assert_int_equal(ik_iova_domain_report(&d, WINDOW, &rep), 0);
	assert_int_equal(rep.cached_pfns, 0);
	assert_int_equal(free_iova_fast(&d, WINDOW / 2, WINDOW / 2), 0);
	pthread_barrier_wait(&bar);
	assert_int_equal(pthread_join(tid, NULL), 0);
	check_no_failures();
	check_all_free(&d);
	put_iova_domain(&d);
	pthread_barrier_destroy(&bar);
}

/* put_iova_domain() with a live thread holding caches; the memory is reused. */
static void test_put_with_live_thread(void **state)
{
	struct iova_domain d, e;
	struct ik_iova_report rep;
	pthread_barrier_t bar;
	struct idler t = { .d = &d, .other = &e, .bar = &bar, .npfns = 300 };
	pthread_t tid;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	assert_int_equal(init_iova_domain(&e, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&e), 0);
	pthread_barrier_init(&bar, NULL, 2);
	assert_int_equal(pthread_create(&tid, NULL, idler_main, &t), 0);
	pthread_barrier_wait(&bar);
	/* The thread's magazines for d hold ranges; put frees them (ASan checks). */
	put_iova_domain(&d);
	/* Same memory, new domain, with a different start: nothing of the old one. */
	assert_int_equal(init_iova_domain(&d, 4096, 100), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	assert_int_equal(ik_iova_domain_report(&d, WINDOW, &rep), 0);
	assert_int_equal(rep.cached_pfns + rep.allocated_pfns, 0);
	pthread_barrier_wait(&bar);
	assert_int_equal(pthread_join(tid, NULL), 0);
	check_no_failures();
	/* A fresh domain hands out its top pfn first, not a stale cached one. */
	assert_int_equal(t.first_after, WINDOW);
	assert_int_equal(ik_iova_flush_rcaches(&d), 0);
	assert_int_equal(ik_iova_domain_report(&d, WINDOW, &rep), 0);
	assert_int_equal(rep.free_pfns, WINDOW - 99);
	put_iova_domain(&d);
	put_iova_domain(&e);
	pthread_barrier_destroy(&bar);
}

/* Draining races with the fast path: one thread flushes in a loop. */
struct flusher {
	struct iova_domain *d;
	int stop; /* atomic */
	unsigned long rounds; /* atomic */
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct ik_iova_report rep;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		if (ik_iova_flush_rcaches(f->d))
			fail_later("flush failed", 0, 0);
		if (ik_iova_domain_report(f->d, WINDOW, &rep))
			fail_later("report failed", 0, 0);
		__atomic_store_n(&f->rounds, f->rounds + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void drain_race(uint64_t seed)
{
	struct worker w[3];
	struct iova_domain d;
	struct flusher f = { .d = &d };
	pthread_t ftid;

	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	assert_int_equal(pthread_create(&ftid, NULL, flusher_main, &f), 0);
	/* Start the workers once the flusher runs; they go on until 200 drains overlapped. */
	while (!__atomic_load_n(&f.rounds, __ATOMIC_RELAXED))
		sched_yield();
	for (int i = 0; i < 3; i++)
		w[i] = (struct worker){ .seed = seed + (uint64_t)i * 31, .iters = 200000,
					.max_held = 8, .max_size = 4,
					.race_rounds = &f.rounds, .min_rounds = 2000 };
	run_workers(&d, w, 3);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(ftid, NULL), 0);
	check_no_failures();
	printf("# %lu drains raced with the fast path\n", f.rounds);
	check_all_free(&d);
	put_iova_domain(&d);
}

static void test_drain_races_fast_path(void **state)
{
	(void)state;
	drain_race(ik_test_seed(0xd7a1));
}

static void test_drain_races_fence_mode(void **state)
{
	(void)state;
	assert_int_equal(iova_rcache_set_fence_mode(true), 0);
	drain_race(ik_test_seed(0xfe2));
	iova_rcache_set_fence_mode(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_mixed),
		cmocka_unit_test(test_exit_with_full_magazines),
		cmocka_unit_test(test_enospc_drains_idle_thread),
		cmocka_unit_test(test_put_with_live_thread),
		cmocka_unit_test(test_drain_races_fast_path),
		cmocka_unit_test(test_drain_races_fence_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
