// SPDX-License-Identifier: MIT
/*
 * Many threads using the DMA API on one domain at once (the suite also runs
 * under TSan): single mappings of random sizes and offsets, scatterlists,
 * coherent buffers, strict and lazy, with dma-debug on and off. Each thread
 * has the device write a pattern of its own through each mapping and
 * checks it landed in its own memory; the device (a well-behaved one) never
 * faults and the IOMMU never serves a stale translation. At the end every
 * page of memory has come back.
 *
 * On the "smmu" machine two devices of one group (cam0, cam1: one stream
 * ID) share the domain, as the camera pipeline's functions will.
 *
 * The threads' IOVAs are confined below 16 MiB (a 24-bit mask), so their
 * buffers share last-level tables, which their unmaps keep emptying while
 * other threads map beside them: on the SMMU that exercises the walk-cache
 * side of table freeing (the LPAE format's retirement markers, see
 * PTE_RETIRED in src/pgtable/arm_lpae.c). Without the markers this test
 * fails on the SMMU in every run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>
#include "ik/dma.h"

#define THREADS 4
#define ITERS   1000
#define PAGES   16 /* per thread */

struct cfg {
	const char *machine;
	const char *dev[2]; /* threads alternate between them; [1] may be NULL */
	unsigned int type;
	bool debug;
};

struct shared {
	const struct cfg *cfg;
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev[2];
	unsigned int faults;
};

struct worker {
	struct shared *sh;
	unsigned int id;
	phys_addr_t buf;
	uint64_t seed;
	const char *failure; /* NULL: all good */
};

static int count_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
		       int flags, void *token)
{
	__atomic_fetch_add((unsigned int *)token, 1, __ATOMIC_RELAXED);
	return 0;
}

/* The device writes @len bytes of @byte at @a; memory at @pa must hold them. */
static bool write_lands(struct worker *w, struct device *dev, dma_addr_t a, phys_addr_t pa,
			size_t len, uint8_t byte)
{
	uint8_t got[64];
	size_t n = len < sizeof(got) ? len : sizeof(got);

	if (ik_dma_fill(dev, a + len - n, byte, n))
		return false;
	if (ik_mem_read(w->sh->mem, pa + len - n, got, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (got[i] != byte)
			return false;
	return true;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	for (unsigned int it = 0; it < ITERS && !w->failure; it++) {
		uint64_t r = ik_test_rand(&w->seed);
		struct device *dev = sh->dev[sh->dev[1] ? (r >> 8) & 1 : 0];
		uint8_t byte = (uint8_t)(w->id * 31 + it);

		switch (r % 8) {
		case 0: { /* a scatterlist of up to 4 entries */
			struct scatterlist sg[4];
			int n = 1 + (int)((r >> 16) % 4);

			sg_init_table(sg, 4);
			for (int i = 0; i < n; i++) {
				unsigned int off = (r >> (20 + i)) & 1 ? 0 :
						   0x100 * (unsigned int)i;
				sg_set_phys(&sg[i], w->buf + (uint64_t)(2 * i) * IK_SZ_4K + off,
					    IK_SZ_4K - off);
			}
			int cnt = dma_map_sg(dev, sg, n, DMA_BIDIRECTIONAL);
			if (cnt <= 0) {
				w->failure = "map_sg failed";
				break;
			}
			if (!write_lands(w, dev, sg_dma_address(&sg[0]), sg[0].phys, sg[0].length,
					 byte))
				w->failure = "sg: device write did not land";
			dma_unmap_sg(dev, sg, n, DMA_BIDIRECTIONAL);
			break;
		}
		case 1: { /* a coherent buffer */
			dma_addr_t h;
			size_t size = IK_SZ_4K * (1 + (r >> 16) % 3);
			uint8_t *cpu = dma_alloc_coherent(dev, size, &h, GFP_KERNEL);

			if (!cpu) {
				w->failure = "alloc_coherent failed";
				break;
			}
			if (ik_dma_fill(dev, h + size - 1, byte, 1) || cpu[size - 1] != byte)
				w->failure = "coherent: device write not seen by the CPU";
			dma_free_coherent(dev, size, cpu, h);
			break;
		}
		default: { /* a single buffer */
			size_t off = (r >> 16) % 0x1000;
			size_t len = 1 + (r >> 32) % (3 * IK_SZ_4K);
			phys_addr_t pa = w->buf + 8 * IK_SZ_4K + off;
			dma_addr_t a = dma_map_page(dev, pa, 0, len, DMA_FROM_DEVICE);

			if (dma_mapping_error(dev, a)) {
				w->failure = "map_page failed";
				break;
			}
			if (!write_lands(w, dev, a, pa, len, byte))
				w->failure = "single: device write did not land";
			dma_unmap_page(dev, a, len, DMA_FROM_DEVICE);
			break;
		}
		}
	}
	return NULL;
}

/* Confine the IOVAs to 16 MiB so that tables are shared and emptied. */
static void confine_iova(struct shared *sh)
{
	for (int i = 0; i < 2; i++)
		if (sh->dev[i])
			assert_int_equal(dma_set_mask_and_coherent(sh->dev[i], DMA_BIT_MASK(24)),
					 0);
}

static void run(void **state)
{
	const struct cfg *cfg = *state;
	struct shared sh = { .cfg = cfg };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct iommu_domain *dom;
	struct iommu_group *group;
	size_t free_at_start;

	ik_dma_debug_set_enabled(cfg->debug);
	ik_dma_debug_reset_stats();
	sh.m = ik_machine_create(ik_machine_desc_builtin(cfg->machine));
	assert_non_null(sh.m);
	sh.mem = ik_machine_mem(sh.m);
	free_at_start = ik_mem_free_count(sh.mem);
	for (int i = 0; i < 2; i++)
		sh.dev[i] = cfg->dev[i] ? ik_machine_device(sh.m, cfg->dev[i]) : NULL;
	group = iommu_group_get(sh.dev[0]);
	dom = iommu_domain_alloc_type(sh.dev[0], cfg->type);
	assert_non_null(dom);
	assert_int_equal(iommu_attach_group(dom, group), 0);
	iommu_set_fault_handler(dom, count_fault, &sh.faults);
	confine_iova(&sh);
	uint64_t seed = ik_test_seed(0x7468);
	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i, .seed = seed + i * 0x9e3779b9ULL };
		w[i].buf = ik_test_alloc(sh.m, PAGES * IK_SZ_4K, IK_SZ_4K);
	}
	for (unsigned int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (unsigned int i = 0; i < THREADS; i++)
		if (w[i].failure)
			fail_msg("thread %u: %s", i, w[i].failure);

	struct ik_iommu_hw_stats hw;
	assert_int_equal(ik_machine_iommu_stats(sh.m, ik_device_iommu_name(sh.dev[0]), &hw), 0);
	assert_int_equal(sh.faults, 0);
	assert_int_equal(hw.stale_accesses, 0);
	struct ik_dma_debug_stats st;
	ik_dma_debug_get_stats(&st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.live_mappings, 0);

	iommu_detach_group(dom, group);
	iommu_group_put(group);
	iommu_domain_free(dom);
	for (unsigned int i = 0; i < THREADS; i++)
		ik_mem_free_pages(sh.mem, w[i].buf, PAGES);
	assert_int_equal(ik_mem_free_count(sh.mem), free_at_start);
	ik_machine_destroy(sh.m);
}

static const struct cfg cfgs[] = {
	{ "smmu", { "cam0", "cam1" }, IOMMU_DOMAIN_DMA, true },
	{ "smmu", { "cam0", "cam1" }, IOMMU_DOMAIN_DMA_FQ, true },
	{ "smmu", { "gpu", NULL }, IOMMU_DOMAIN_DMA, false },
	{ "smmu", { "gpu", NULL }, IOMMU_DOMAIN_DMA_FQ, false },
	{ "omap3", { "isp", NULL }, IOMMU_DOMAIN_DMA, true },
	{ "omap3", { "isp", NULL }, IOMMU_DOMAIN_DMA_FQ, false },
	/* Tables cleaned for a walker that does not snoop: see test_noncoherent_walk.c. */
	{ "smmu-noncoherent", { "gpu", NULL }, IOMMU_DOMAIN_DMA, false },
	{ "smmu-noncoherent", { "gpu", NULL }, IOMMU_DOMAIN_DMA_FQ, false },
};

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(run, (void *)&cfgs[0]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[1]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[2]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[3]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[4]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[5]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[6]),
		cmocka_unit_test_prestate(run, (void *)&cfgs[7]),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
