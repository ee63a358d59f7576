// SPDX-License-Identifier: MIT
/*
 * Three-way cross-check, per driver target: a randomized sequence of maps
 * and unmaps, after which three views that share no code must agree on
 * every page of the window:
 *   1. iommu_iova_to_phys()      - the driver's software view of its tables;
 *   2. ik_machine_iommu_walk()   - the hardware model's own table walker;
 *   3. a reference built only from the log of API calls, never from tables.
 * Device DMA is checked too: mapped pages reach the reference's physical
 * page, unmapped pages fault, and no access is ever served stale.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"

#define WINDOW_PAGES 16384u /* 64 MiB of 4 KiB pages */
#define POOL_SIZE    (128u << 20)
#define STEPS        2500
#define VERIFY_EVERY 100

static const struct ik_test_target *target;

struct xcheck {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	const char *mmu;
	struct iommu_domain *d;
	dma_addr_t base;
	size_t page;              /* smallest page size */
	phys_addr_t pool;         /* physical memory the mappings point into */
	phys_addr_t *ref;         /* reference: pa of each page, 0 if unmapped */
	uint64_t rng;
	unsigned long maps, unmaps, eexist, enoent;
};

static void verify_all(struct xcheck *x)
{
	for (unsigned int i = 0; i < WINDOW_PAGES; i++) {
		dma_addr_t iova = x->base + (dma_addr_t)i * x->page;
		phys_addr_t want = x->ref[i];
		phys_addr_t sw = iommu_iova_to_phys(x->d, iova + 0x10);
		phys_addr_t hw = 0;
		int prot = 0;
		int ret = ik_machine_iommu_walk(x->m, x->mmu, ik_device_sid(x->dev), iova + 0x10,
						&hw, &prot);
		if (want) {
			if (sw != want + 0x10 || ret != 0 || hw != want + 0x10)
				fail_msg("page %#llx: reference %#llx, iova_to_phys %#llx, "
					 "model walk %d/%#llx", (unsigned long long)iova,
					 (unsigned long long)want, (unsigned long long)sw, ret,
					 (unsigned long long)hw);
			assert_true(prot & IOMMU_READ);
		} else if (sw != 0 || ret != -ENOENT) {
			fail_msg("page %#llx: unmapped in the reference, iova_to_phys %#llx, "
				 "model walk %d/%#llx", (unsigned long long)iova,
				 (unsigned long long)sw, ret, (unsigned long long)hw);
		}
	}
}

/* DMA to a few random pages: mapped ones land right, unmapped ones fault. */
static void verify_dma(struct xcheck *x)
{
	for (int k = 0; k < 32; k++) {
		unsigned int i = (unsigned int)(ik_test_rand(&x->rng) % WINDOW_PAGES);
		dma_addr_t iova = x->base + (dma_addr_t)i * x->page + 0x40;
		uint64_t tag = ik_test_rand(&x->rng), back = 0;
		int ret = ik_dma_write(x->dev, iova, &tag, sizeof(tag));
		if (!x->ref[i]) {
			assert_int_equal(ret, -EFAULT);
			continue;
		}
		assert_int_equal(ret, 0);
		ik_mem_read(x->mem, x->ref[i] + 0x40, &back, sizeof(back));
		assert_true(back == tag);
	}
}

static bool range_state(struct xcheck *x, unsigned int first, unsigned int n, bool mapped)
{
	for (unsigned int i = first; i < first + n; i++)
		if ((x->ref[i] != 0) != mapped)
			return false;
	return true;
}

/* A random map: sizes and alignments chosen to hit every page size. */
static void random_map(struct xcheck *x)
{
	unsigned long sizes = iommu_domain_pgsize_bitmap(x->d);
	/* pick a page size that fits in the window, then a length of 1-3 of it */
	size_t pg;
	do {
		pg = (size_t)1 << (ik_test_rand(&x->rng) % 64);
	} while (!(sizes & pg) || pg > (WINDOW_PAGES * x->page) / 4);
	unsigned int pg_pages = (unsigned int)(pg / x->page);
	unsigned int n = pg_pages * (1 + (unsigned int)(ik_test_rand(&x->rng) % 3));
	if (pg_pages == 1)
		n = 1 + (unsigned int)(ik_test_rand(&x->rng) % 40);
	unsigned int first = (unsigned int)(ik_test_rand(&x->rng) % (WINDOW_PAGES - n + 1));
	/* half the time aligned so large pages apply, else smallest-page aligned */
	if (ik_test_rand(&x->rng) & 1)
		first &= ~(pg_pages - 1);
	size_t pool_pages = POOL_SIZE / x->page;
	size_t poff = ik_test_rand(&x->rng) % (pool_pages - n + 1);
	if (first % pg_pages == 0 && (ik_test_rand(&x->rng) & 1))
		poff &= ~(size_t)(pg_pages - 1);
	phys_addr_t pa = x->pool + poff * x->page;
	dma_addr_t iova = x->base + (dma_addr_t)first * x->page;

	int ret = iommu_map(x->d, iova, pa, (size_t)n * x->page, IOMMU_READ | IOMMU_WRITE,
			    GFP_KERNEL);
	if (range_state(x, first, n, false)) {
		assert_int_equal(ret, 0);
		for (unsigned int i = 0; i < n; i++)
			x->ref[first + i] = pa + (phys_addr_t)i * x->page;
		x->maps++;
	} else {
		assert_int_equal(ret, -EEXIST); /* and nothing changed: verify_all checks */
		x->eexist++;
	}
}

/* A random unmap of a range the reference says is mapped, or of a hole. */
static void random_unmap(struct xcheck *x)
{
	unsigned int start = (unsigned int)(ik_test_rand(&x->rng) % WINDOW_PAGES);
	unsigned int first = start;
	while (first < WINDOW_PAGES && !x->ref[first])
		first++;
	if (first == WINDOW_PAGES) {
		/* a hole: nothing is unmapped, and the caller is told */
		if (!x->ref[start]) {
			errno = 0;
			assert_int_equal(iommu_unmap(x->d, x->base + (dma_addr_t)start * x->page,
						     x->page), 0);
			assert_int_equal(errno, ENOENT);
			x->enoent++;
		}
		return;
	}
	unsigned int n = 1;
	unsigned int want = 1 + (unsigned int)(ik_test_rand(&x->rng) % 600);
	while (n < want && first + n < WINDOW_PAGES && x->ref[first + n])
		n++;
	size_t bytes = (size_t)n * x->page;
	assert_int_equal(iommu_unmap(x->d, x->base + (dma_addr_t)first * x->page, bytes), bytes);
	memset(&x->ref[first], 0, n * sizeof(x->ref[0]));
	x->unmaps++;
}

static void test_three_way(void **state)
{
	struct xcheck x = { 0 };
	(void)state;
	x.m = ik_machine_create(ik_machine_desc_builtin(target->machine));
	assert_non_null(x.m);
	x.mem = ik_machine_mem(x.m);
	x.dev = ik_machine_device(x.m, target->device);
	x.mmu = ik_device_iommu_name(x.dev);
	x.d = iommu_paging_domain_alloc(x.dev);
	assert_non_null(x.d);
	assert_int_equal(iommu_attach_device(x.d, x.dev), 0);
	unsigned long sizes = iommu_domain_pgsize_bitmap(x.d);
	x.page = (size_t)1 << __builtin_ctzl(sizes);
	assert_int_equal(x.page, 4096);
	const struct iommu_domain_geometry *g = iommu_domain_get_geometry(x.d);
	x.base = (g->aperture_start + (64u << 20)) & ~(dma_addr_t)((64u << 20) - 1);
	x.pool = ik_test_alloc(x.m, POOL_SIZE, 16u << 20);
	x.ref = calloc(WINDOW_PAGES, sizeof(*x.ref));
	assert_non_null(x.ref);
	x.rng = ik_test_seed(0x5eed0000u + (uint64_t)(target - &ik_test_targets[0]));
	size_t free_before = ik_mem_free_count(x.mem);

	for (int step = 1; step <= STEPS; step++) {
		if (ik_test_rand(&x.rng) % 100 < 55)
			random_map(&x);
		else
			random_unmap(&x);
		if (step % VERIFY_EVERY == 0) {
			verify_all(&x);
			verify_dma(&x);
		}
	}
	struct ik_iommu_hw_stats st;
	assert_int_equal(ik_machine_iommu_stats(x.m, x.mmu, &st), 0);
	assert_int_equal(st.stale_accesses, 0);
	assert_true(x.maps > 100 && x.unmaps > 100 && x.eexist > 10);

	/* Tear everything down: no table may stay behind. */
	for (unsigned int i = 0; i < WINDOW_PAGES; i++)
		if (x.ref[i]) {
			assert_int_equal(iommu_unmap(x.d, x.base + (dma_addr_t)i * x.page, x.page),
					 x.page);
			x.ref[i] = 0;
		}
	verify_all(&x);
	assert_int_equal(ik_mem_free_count(x.mem), free_before);

	free(x.ref);
	iommu_detach_device(x.d, x.dev);
	iommu_domain_free(x.d);
	ik_machine_destroy(x.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_way),
	};
	int failed = 0;
	for (unsigned int i = 0; i < ik_test_nr_targets; i++) {
		target = &ik_test_targets[i];
		failed += cmocka_run_group_tests_name(target->name, tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
