// SPDX-License-Identifier: MIT
/*
 * Strict (IOMMU_DOMAIN_DMA) against lazy (IOMMU_DOMAIN_DMA_FQ) unmapping,
 * seen from the device: the IOMMU models count every access that a stale
 * IOTLB entry served (ik_machine_iommu_stats().stale_accesses).
 *  - strict: once dma_unmap returns, the device faults; no stale access,
 *    ever, with a well-behaved or an adversarial device;
 *  - lazy: the device may still reach an unmapped buffer until the flush
 *    queue flushes: when a shard holds IK_DMA_FQ_SIZE entries or when the
 *    timeout expires. Page-table pages an unmap freed wait in the queue
 *    too, and go back to the allocator only after that flush. The test measures
 *    the worst window an adversarial master gets (time and accesses after
 *    dma_unmap returned) and checks it against the timeout;
 *  - an IOVA is not handed out again before its flush;
 *  - freeing a lazy domain with entries pending leaks nothing.
 *
 * A resident mapping keeps the page tables of the IOVA region alive, as
 * the other buffers of a busy device do; without it every unmap of the
 * region's last buffer frees its tables.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>
#include "ik/dma.h"

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	const char *iommu;
	struct iommu_domain *dom;
	phys_addr_t buf;         /* 16 pages for the tests */
	dma_addr_t resident;     /* keeps the region's tables */
	unsigned int faults;
	size_t mem_free_at_start;
};

struct target {
	const char *machine, *device;
	unsigned int type;
};

static int count_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
		       int flags, void *token)
{
	__atomic_fetch_add((unsigned int *)token, 1, __ATOMIC_RELAXED);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
	const struct target *t = *state;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ik_dma_debug_set_enabled(true);
	f->m = ik_machine_create(ik_machine_desc_builtin(t->machine));
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->dev = ik_machine_device(f->m, t->device);
	f->iommu = ik_device_iommu_name(f->dev);
	f->mem_free_at_start = ik_mem_free_count(f->mem);
	f->dom = iommu_domain_alloc_type(f->dev, t->type);
	assert_non_null(f->dom);
	assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	iommu_set_fault_handler(f->dom, count_fault, &f->faults);
	f->buf = ik_test_alloc(f->m, 16 * IK_SZ_4K, IK_SZ_4K);
	ik_mem_fill(f->mem, f->buf, 0x5a, 16 * IK_SZ_4K);
	f->resident = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, f->resident));
	ik_machine_iommu_reset_stats(f->m, f->iommu);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dma_unmap_page(f->dev, f->resident, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(ik_dma_debug_check_leaks(f->dev), 0);
	iommu_detach_device(f->dom, f->dev);
	iommu_domain_free(f->dom);
	ik_mem_free_pages(f->mem, f->buf, 16);
	/* Domain tables, flush-queue tables and buffers all came back. */
	assert_int_equal(ik_mem_free_count(f->mem), f->mem_free_at_start);
	ik_machine_destroy(f->m);
	ik_dma_fq_timeout_ns = IK_DMA_FQ_TIMEOUT_NS;
	free(f);
	return 0;
}

static uint64_t stale(struct fx *f)
{
	struct ik_iommu_hw_stats st;

	assert_int_equal(ik_machine_iommu_stats(f->m, f->iommu, &st), 0);
	return st.stale_accesses;
}

static unsigned int pending(struct fx *f, struct ik_dma_fq_stats *st)
{
	unsigned int n = 0;

	if (ik_dma_fq_get_stats(f->dom, st, &n))
		return 0;
	return n;
}

/* A well-behaved device: map, use, unmap, never touch it again. Never stale. */
static void test_well_behaved_device_never_stale(void **state)
{
	struct fx *f = *state;
	uint64_t seed = ik_test_seed(0xd1a5);
	dma_addr_t live[8] = { 0 };
	size_t size[8];
	uint8_t b[64];

	for (int i = 0; i < 2000; i++) {
		unsigned int k = (unsigned int)(ik_test_rand(&seed) % 8);

		if (live[k]) {
			assert_int_equal(ik_dma_read(f->dev, live[k], b, sizeof(b)), 0);
			dma_unmap_page(f->dev, live[k], size[k], DMA_BIDIRECTIONAL);
			live[k] = 0;
			continue;
		}
		size_t off = ik_test_rand(&seed) % 0x1000;
		size[k] = 64 + ik_test_rand(&seed) % (3 * IK_SZ_4K);
		live[k] = dma_map_page(f->dev, f->buf + IK_SZ_4K, off, size[k], DMA_BIDIRECTIONAL);
		assert_false(dma_mapping_error(f->dev, live[k]));
		assert_int_equal(ik_dma_write(f->dev, live[k], b, sizeof(b)), 0);
	}
	for (int k = 0; k < 8; k++)
		if (live[k])
			dma_unmap_page(f->dev, live[k], size[k], DMA_BIDIRECTIONAL);
	assert_int_equal(stale(f), 0);
	assert_int_equal(f->faults, 0);
}

/* Strict: the device touches the buffer, it is unmapped, the next touch faults. */
static void test_strict_unmap_leaves_nothing_stale(void **state)
{
	struct fx *f = *state;
	uint8_t b;

	for (int i = 0; i < 200; i++) {
		dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, (size_t)i * 8, 0x1000,
					    DMA_TO_DEVICE);
		assert_int_equal(ik_dma_read(f->dev, a, &b, 1), 0); /* now in the IOTLB */
		dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
		assert_int_equal(ik_dma_read(f->dev, a, &b, 1), -EFAULT);
	}
	assert_int_equal(f->faults, 200);
	assert_int_equal(stale(f), 0);
}

/* Lazy: the IOTLB keeps the old translation until the queue flushes. */
static void test_lazy_stale_until_flush(void **state)
{
	struct fx *f = *state;
	struct ik_dma_fq_stats st;
	uint8_t b;

	ik_dma_fq_flush(f->dom);
	dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
	assert_int_equal(ik_dma_read(f->dev, a, &b, 1), 0);
	dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
	assert_int_equal(pending(f, &st), 1);
	/* The translation is gone from the tables, but the IOTLB still serves it. */
	assert_int_equal(iommu_iova_to_phys(f->dom, a), 0);
	assert_int_equal(ik_dma_read(f->dev, a, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	assert_int_equal(stale(f), 1);
	ik_dma_fq_flush(f->dom);
	assert_int_equal(pending(f, &st), 0);
	assert_int_equal(ik_dma_read(f->dev, a, &b, 1), -EFAULT);
	assert_int_equal(stale(f), 1);
}

/*
 * Lazy: an unmap that frees page tables queues them with its IOVA, without
 * a flush; they go back to the allocator only after the flush. Meanwhile a
 * new mapping in the same span gets new tables and works.
 */
static void test_lazy_tables_wait_for_flush(void **state)
{
	struct fx *f = *state;
	struct ik_dma_fq_stats st;
	uint8_t b;

	/* No resident mapping: the region's tables come and go with the buffer. */
	dma_unmap_page(f->dev, f->resident, IK_SZ_4K, DMA_TO_DEVICE);
	ik_dma_fq_flush(f->dom);
	assert_int_equal(pending(f, &st), 0);
	size_t free0 = ik_mem_free_count(f->mem);

	dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, a));
	size_t tables = free0 - ik_mem_free_count(f->mem);
	assert_true(tables >= 1);
	uint64_t flushes = st.flushes;
	dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
	/* Queued, tables included: no flush, no page back yet. */
	assert_int_equal(pending(f, &st), 1);
	assert_int_equal(st.flushes, flushes);
	assert_int_equal(ik_mem_free_count(f->mem), free0 - tables);

	/* The same span again: new tables, while the old ones wait. */
	dma_addr_t c = dma_map_page(f->dev, f->buf + 2 * IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, c));
	assert_true(c != a); /* an IOVA is not reused before its flush */
	assert_int_equal(ik_mem_free_count(f->mem), free0 - 2 * tables);
	assert_int_equal(iommu_iova_to_phys(f->dom, c), f->buf + 2 * IK_SZ_4K);
	assert_int_equal(ik_dma_read(f->dev, c, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	dma_unmap_page(f->dev, c, 0x1000, DMA_TO_DEVICE);
	assert_int_equal(pending(f, &st), 2);

	/* The flush frees both sets of tables. */
	ik_dma_fq_flush(f->dom);
	assert_int_equal(pending(f, &st), 0);
	assert_int_equal(ik_mem_free_count(f->mem), free0);
	assert_int_equal(ik_dma_read(f->dev, c, &b, 1), -EFAULT);

	f->resident = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, f->resident));
}


/*
 * One thread, one shard: IK_DMA_FQ_SIZE unmaps fill it without a flush;
 * the next one flushes (full) and the shard holds just that entry. The
 * IOVAs stay distinct until that flush: none is reused before it.
 */
static void test_queue_bound(void **state)
{
	struct fx *f = *state;
	static dma_addr_t seen[IK_DMA_FQ_SIZE + 1];
	struct ik_dma_fq_stats st;

	ik_dma_fq_flush(f->dom);
	assert_int_equal(pending(f, &st), 0);
	uint64_t full_before = st.full_flushes;
	for (unsigned int i = 0; i < IK_DMA_FQ_SIZE; i++) {
		seen[i] = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
		assert_false(dma_mapping_error(f->dev, seen[i]));
		for (unsigned int j = 0; j < i; j++)
			if (seen[j] == seen[i])
				fail_msg("IOVA %#llx reused before its flush",
					 (unsigned long long)seen[i]);
		dma_unmap_page(f->dev, seen[i], 0x1000, DMA_TO_DEVICE);
	}
	assert_int_equal(pending(f, &st), IK_DMA_FQ_SIZE);
	assert_int_equal(st.full_flushes, full_before);
	assert_int_equal(st.max_pending, IK_DMA_FQ_SIZE);
	dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
	dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
	assert_int_equal(pending(f, &st), 1);
	assert_int_equal(st.full_flushes, full_before + 1);
	assert_int_equal(st.max_pending, IK_DMA_FQ_SIZE);
}

static int setup_long_timeout(void **state)
{
	ik_dma_fq_timeout_ns = 3600ULL * 1000000000ULL; /* no timeout flush during the count */
	return setup(state);
}

/* The timer flushes within the timeout (10 ms), with nobody calling the DMA API. */
static void test_timeout_flush(void **state)
{
	struct fx *f = *state;
	struct ik_dma_fq_stats st;
	uint8_t b;

	ik_dma_fq_flush(f->dom);
	dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);
	assert_int_equal(ik_dma_read(f->dev, a, &b, 1), 0);
	dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
	uint64_t t0 = now_ns();
	assert_int_equal(pending(f, &st), 1);
	uint64_t timeouts = st.timeout_flushes;
	while (pending(f, &st) && now_ns() - t0 < 2000000000ULL) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	uint64_t waited = now_ns() - t0;
	print_message("# timeout flush after %.2f ms (timeout %.0f ms)\n", waited / 1e6,
		      IK_DMA_FQ_TIMEOUT_NS / 1e6);
	assert_int_equal(pending(f, &st), 0);
	assert_true(st.timeout_flushes > timeouts);
	assert_int_equal(ik_dma_read(f->dev, a, &b, 1), -EFAULT);
}

/*
 * IOVA space smaller than a shard: with a 24-bit mask and one page kept
 * mapped in each 2 MiB region, 248 size-aligned 64 KiB ranges remain, so
 * the queue runs the space out before it fills, and every such map must
 * flush, release and retry. Meanwhile another flush has begun and is held
 * before its end, as when the scheduler stops the timer thread there: it
 * must not hold back the releases of the flushes that complete after it.
 */
static void test_exhaustion_flushes_and_retries(void **state)
{
	struct fx *f = *state;
	static dma_addr_t all[4096];
	dma_addr_t keep[8];
	unsigned int n = 0, kept = 0;
	phys_addr_t big = ik_test_alloc(f->m, 16 * IK_SZ_4K, IK_SZ_64K);

	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	while (n < 4096) {
		dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);

		if (dma_mapping_error(f->dev, a))
			break;
		all[n++] = a;
	}
	assert_int_equal(n, 4095);
	for (unsigned int i = 0; i < n; i++) {
		if (!kept || (keep[kept - 1] >> 21) != (all[i] >> 21))
			keep[kept++] = all[i];
		else
			dma_unmap_page(f->dev, all[i], IK_SZ_4K, DMA_TO_DEVICE);
	}
	assert_int_equal(kept, 8);
	ik_dma_fq_flush(f->dom); /* every entry from now on comes after the stalled ticket */
	uint64_t stalled = ik_dma_fq_flush_begin(f->dom);
	assert_true(stalled != 0);
	for (int i = 0; i < 3000; i++) {
		dma_addr_t a = dma_map_page(f->dev, big, 0, IK_SZ_64K, DMA_TO_DEVICE);

		if (dma_mapping_error(f->dev, a))
			fail_msg("map %d: %s", i, strerror(errno));
		dma_unmap_page(f->dev, a, IK_SZ_64K, DMA_TO_DEVICE);
	}
	ik_dma_fq_flush_end(f->dom, stalled);
	for (unsigned int i = 0; i < kept; i++)
		dma_unmap_page(f->dev, keep[i], IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(32)), 0);
	ik_mem_free_pages(f->mem, big, 16);
}

/* --- the adversarial master --- */

struct adversary {
	struct fx *f;
	dma_addr_t addr;          /* what it hammers this round */
	int round;                /* set by main: a new address to hammer */
	int unmapped_round;       /* set by main once dma_unmap returned */
	uint64_t unmapped_at;     /* when */
	int done_round;           /* set by the adversary: it faulted */
	int touched_round;        /* set by the adversary: it read the mapped buffer */
	uint64_t after;           /* successful accesses that began after unmap returned */
	uint64_t last_ok;         /* time of the last of them */
	bool stop;
};

static void *adversary_fn(void *arg)
{
	struct adversary *adv = arg;
	uint8_t b;

	for (;;) {
		if (__atomic_load_n(&adv->stop, __ATOMIC_ACQUIRE))
			return NULL;
		int round = __atomic_load_n(&adv->round, __ATOMIC_ACQUIRE);

		if (round == __atomic_load_n(&adv->done_round, __ATOMIC_RELAXED)) {
			sched_yield();
			continue;
		}
		dma_addr_t addr = __atomic_load_n(&adv->addr, __ATOMIC_RELAXED);
		/* Whether this access begins after the unmap returned. */
		bool after = __atomic_load_n(&adv->unmapped_round, __ATOMIC_ACQUIRE) == round;
		int ret = ik_dma_read(adv->f->dev, addr, &b, 1);

		if (ret) {
			__atomic_store_n(&adv->done_round, round, __ATOMIC_RELEASE);
			continue;
		}
		__atomic_store_n(&adv->touched_round, round, __ATOMIC_RELEASE);
		if (after) {
			adv->after++;
			adv->last_ok = now_ns();
		}
	}
}

/*
 * Each round: map, wait for the adversary to use the buffer, unmap, and
 * wait for it to fault. Report the worst window: accesses served, and time,
 * after dma_unmap returned.
 */
static void measure_window(struct fx *f, int rounds, uint64_t *worst_ns, uint64_t *worst_accesses)
{
	struct adversary adv = { .f = f };
	pthread_t th;

	*worst_ns = 0;
	*worst_accesses = 0;
	assert_int_equal(pthread_create(&th, NULL, adversary_fn, &adv), 0);
	for (int r = 1; r <= rounds; r++) {
		dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, 0x1000, DMA_TO_DEVICE);

		adv.after = 0;
		adv.last_ok = 0;
		__atomic_store_n(&adv.addr, a, __ATOMIC_RELAXED);
		__atomic_store_n(&adv.round, r, __ATOMIC_RELEASE);
		while (__atomic_load_n(&adv.touched_round, __ATOMIC_ACQUIRE) != r)
			sched_yield();
		dma_unmap_page(f->dev, a, 0x1000, DMA_TO_DEVICE);
		adv.unmapped_at = now_ns();
		__atomic_store_n(&adv.unmapped_round, r, __ATOMIC_RELEASE);
		while (__atomic_load_n(&adv.done_round, __ATOMIC_ACQUIRE) != r)
			sched_yield();
		/* The adversary is idle until the next round: its counters are stable. */
		uint64_t window = adv.after ? adv.last_ok - adv.unmapped_at : 0;
		if (window > *worst_ns)
			*worst_ns = window;
		if (adv.after > *worst_accesses)
			*worst_accesses = adv.after;
	}
	__atomic_store_n(&adv.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
}

static void test_adversary_strict(void **state)
{
	struct fx *f = *state;
	uint64_t ns, accesses;

	measure_window(f, 100, &ns, &accesses);
	print_message("# strict: worst window after dma_unmap returned: %llu accesses, %.3f ms; "
		      "model stale accesses %llu (all begun before dma_unmap returned)\n",
		      (unsigned long long)accesses, ns / 1e6, (unsigned long long)stale(f));
	assert_int_equal(accesses, 0);
}

static void test_adversary_lazy(void **state)
{
	struct fx *f = *state;
	uint64_t ns, accesses;

	measure_window(f, 20, &ns, &accesses);
	print_message("# lazy: worst window after dma_unmap returned: %llu accesses, %.3f ms "
		      "(timeout %.0f ms); model stale accesses %llu\n",
		      (unsigned long long)accesses, ns / 1e6, IK_DMA_FQ_TIMEOUT_NS / 1e6,
		      (unsigned long long)stale(f));
	/* The device did get through: that is lazy mode. */
	assert_true(accesses > 0);
	assert_true(stale(f) >= accesses);
	/*
	 * Bounded by the timeout plus the timer thread's wake-up; a loaded
	 * 2-core machine can delay that, hence the generous margin.
	 */
	assert_true(ns < 20 * IK_DMA_FQ_TIMEOUT_NS);
}

/* Freeing a lazy domain with entries pending: its timer stops, everything is released. */
static void test_free_domain_with_pending(void **state)
{
	struct fx *f = *state;
	struct ik_dma_fq_stats st;

	for (int i = 0; i < 50; i++) {
		dma_addr_t a = dma_map_page(f->dev, f->buf + 2 * IK_SZ_4K, 0, 0x3000,
					    DMA_BIDIRECTIONAL);
		dma_unmap_page(f->dev, a, 0x3000, DMA_BIDIRECTIONAL);
	}
	assert_true(pending(f, &st) > 0);
	/* The teardown frees the domain now and checks that all memory came back. */
}

static const struct target smmu_strict = { "smmu", "gpu", IOMMU_DOMAIN_DMA };
static const struct target smmu_lazy = { "smmu", "gpu", IOMMU_DOMAIN_DMA_FQ };
static const struct target omap_strict = { "omap3", "isp", IOMMU_DOMAIN_DMA };
static const struct target omap_lazy = { "omap3", "isp", IOMMU_DOMAIN_DMA_FQ };

#define T(fn, setup, target) \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&target)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_well_behaved_device_never_stale, setup, smmu_strict),
		T(test_well_behaved_device_never_stale, setup, smmu_lazy),
		T(test_well_behaved_device_never_stale, setup, omap_strict),
		T(test_well_behaved_device_never_stale, setup, omap_lazy),
		T(test_strict_unmap_leaves_nothing_stale, setup, smmu_strict),
		T(test_strict_unmap_leaves_nothing_stale, setup, omap_strict),
		T(test_lazy_stale_until_flush, setup_long_timeout, smmu_lazy),
		T(test_lazy_stale_until_flush, setup_long_timeout, omap_lazy),
		T(test_lazy_tables_wait_for_flush, setup_long_timeout, smmu_lazy),
		T(test_lazy_tables_wait_for_flush, setup_long_timeout, omap_lazy),
		T(test_queue_bound, setup_long_timeout, smmu_lazy),
		T(test_exhaustion_flushes_and_retries, setup_long_timeout, smmu_lazy),
		T(test_timeout_flush, setup, smmu_lazy),
		T(test_timeout_flush, setup, omap_lazy),
		T(test_adversary_strict, setup, smmu_strict),
		T(test_adversary_strict, setup, omap_strict),
		T(test_adversary_lazy, setup, smmu_lazy),
		T(test_adversary_lazy, setup, omap_lazy),
		T(test_free_domain_with_pending, setup_long_timeout, smmu_lazy),
		T(test_free_domain_with_pending, setup_long_timeout, omap_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
