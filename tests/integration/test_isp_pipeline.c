// SPDX-License-Identifier: MIT
/*
 * The camera pipeline (clients/isp) end to end: frames check out against
 * the CPU reference on the OMAP3 machine with strict and lazy DMA domains
 * and on the SMMU machine (a camera group of two devices); the MMU's
 * context survives power-off between streams and is needed for that; both
 * kinds of buffer are used (scattered pages through dma_map_sg, coherent
 * memory) and the statistics come from iovmm; every device address the DMA
 * API hands out lies in the ISP's window.
 *
 * And the checks bite: two page-table entries of a mapped raw buffer
 * swapped in memory, or one dma_sync left out on the non-coherent machine,
 * fail the frame check. Frames are small (64x48) so this runs fast under
 * the sanitizers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include "ik/compiler.h"
#include "ik/omap-mmu-regs.h"
#include "isp/isp.h"

#define W 64
#define H 48

struct fx {
	struct ik_machine *m;
	struct device *dev;
	struct isp_pipeline *p;
	size_t free_before;
};

static void fx_create(struct fx *f, const char *machine, const char *device,
		      const struct isp_params *params)
{
	f->m = ik_machine_create(ik_machine_desc_builtin(machine));
	assert_non_null(f->m);
	f->dev = ik_machine_device(f->m, device);
	assert_non_null(f->dev);
	f->free_before = ik_mem_free_count(ik_machine_mem(f->m));
	assert_int_equal(isp_pipeline_create(f->m, f->dev, params, &f->p), 0);
}

static void fx_destroy(struct fx *f)
{
	isp_pipeline_destroy(f->p);
	/* Every page the pipeline took (buffers, page tables) is back. */
	assert_int_equal(ik_mem_free_count(ik_machine_mem(f->m)), f->free_before);
	ik_machine_destroy(f->m);
}

/* Capture @n frames; each must go through and check out. */
static void capture_ok(struct fx *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		unsigned int bad = ~0u;

		assert_int_equal(isp_capture_frame(f->p, &bad), 0);
		assert_int_equal(bad, 0);
	}
}

static void assert_in_window(dma_addr_t dma, size_t size)
{
	assert_true(dma >= ISP_DMA_WINDOW_BASE);
	assert_true(dma + size <= ISP_DMA_WINDOW_BASE + ISP_DMA_WINDOW_SIZE);
}

/* Two streams with the ISP powered off between them; everything checks out. */
static void run_two_streams(const char *machine, const char *device, bool lazy)
{
	struct isp_params params = { .width = W, .height = H, .lazy = lazy };
	struct ik_iommu_hw_stats hw;
	struct isp_stats st;
	struct fx f;

	ik_dma_debug_set_enabled(true);
	ik_dma_debug_reset_stats();
	fx_create(&f, machine, device, &params);
	assert_int_equal(isp_stream_start(f.p), 0);
	assert_int_equal(isp_stream_start(f.p), -EBUSY);
	capture_ok(&f, 4);
	assert_int_equal(isp_stream_stop(f.p), 0);
	assert_int_equal(isp_capture_frame(f.p, NULL), -EINVAL); /* not streaming */
	assert_int_equal(isp_stream_start(f.p), 0);
	capture_ok(&f, 3);
	assert_int_equal(isp_stream_stop(f.p), 0);

	isp_get_stats(f.p, &st);
	assert_int_equal(st.frames, 7);
	assert_int_equal(st.frames_ok, 7);
	assert_int_equal(st.frames_bad, 0);
	assert_int_equal(st.streams, 2);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.dma_outside_window, 0);
	assert_true(st.maps[12] > 0);  /* scattered pages: 4 KiB leaves */
	assert_true(st.unmaps[12] > 0); /* output buffers are unmapped every frame */
	assert_true(st.dma_read_bytes > 0 && st.dma_write_bytes > 0);
	assert_int_equal(ik_machine_iommu_stats(f.m, ik_device_iommu_name(f.dev), &hw), 0);
	assert_int_equal(hw.faults, 0);
	assert_true(hw.walks > 0);
	if (!lazy)
		assert_int_equal(hw.stale_accesses, 0);
	if (isp_pipeline_has_power_ctx(f.p))
		assert_int_equal(st.power_cycles, 1);
	fx_destroy(&f);

	/* The pipeline kept the rules: no CPU access to device-owned memory, no leak. */
	struct ik_dma_debug_stats dbg;

	ik_dma_debug_get_stats(&dbg);
	assert_int_equal(dbg.errors, 0);
	assert_int_equal(dbg.cpu_device_owned, 0);
	assert_int_equal(dbg.live_mappings, 0);
}

static void test_omap_strict(void **state)
{
	(void)state;
	run_two_streams("omap3", "isp", false);
}

static void test_omap_lazy(void **state)
{
	(void)state;
	run_two_streams("omap3", "isp", true);
}

static int count_dev(struct device *dev, void *data)
{
	(void)dev;
	(*(unsigned int *)data)++;
	return 0;
}

/* On the SMMU machine the camera's group holds cam0 and cam1; both get the domain. */
static void test_smmu(void **state)
{
	struct isp_params params = { .width = W, .height = H };
	unsigned int ndev = 0;
	struct fx f;

	(void)state;
	fx_create(&f, "smmu", "cam0", &params);
	assert_false(isp_pipeline_has_power_ctx(f.p));
	struct iommu_group *g = ik_iommu_group_get(f.dev);

	assert_non_null(g);
	ik_iommu_group_for_each_dev(g, &ndev, count_dev);
	ik_iommu_group_put(g);
	assert_int_equal(ndev, 2);
	assert_ptr_equal(ik_iommu_get_domain_for_dev(ik_machine_device(f.m, "cam1")),
			 isp_pipeline_domain(f.p));
	fx_destroy(&f);

	run_two_streams("smmu", "cam0", false);
	run_two_streams("smmu", "cam0", true);
}

/* The raw buffers are scattered pages; the YUV buffer is coherent memory; all in the window. */
static void test_buffers(void **state)
{
	struct isp_params params = { .width = W, .height = H };
	dma_addr_t dma;
	size_t size;
	struct fx f;

	(void)state;
	fx_create(&f, "omap3", "isp", &params);
	/* Not streaming: the raw ring is not mapped. */
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_RAW, 0, &dma, &size), -ENOENT);
	assert_int_equal(isp_stream_start(f.p), 0);
	for (unsigned int i = 0; i < 2; i++) {
		struct iommu_domain *d = isp_pipeline_domain(f.p);
		unsigned int adjacent = 0;

		assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_RAW, i, &dma, &size), 0);
		assert_in_window(dma, size);
		assert_true(size >= (size_t)W * 2 * H);
		for (size_t off = 4096; off < size; off += 4096)
			adjacent += ik_iommu_iova_to_phys(d, dma + off) ==
				    ik_iommu_iova_to_phys(d, dma + off - 4096) + 4096;
		assert_int_equal(adjacent, 0);
	}
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_YUV, 0, &dma, &size), 0);
	assert_in_window(dma, size);
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_LSC, 0, &dma, &size), 0);
	assert_in_window(dma, size);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_AEWB, i, &dma, &size), 0);
		assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_HIST, i, &dma, &size), 0);
	}
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_RAW, 2, &dma, &size), -ENOENT);
	assert_int_equal(isp_pipeline_buffer(NULL, ISP_BUF_RAW, 0, &dma, &size), -EINVAL);
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_RAW, 0, NULL, &size), -EINVAL);
	capture_ok(&f, 2);
	fx_destroy(&f);
}

/*
 * The context is what keeps the mappings alive: power the MMU off and on
 * behind the pipeline's back without restoring, and DMA no longer reaches
 * the buffers; restore it and frames check out again.
 */
static void test_power_needs_restore(void **state)
{
	struct isp_params params = { .width = W, .height = H };
	unsigned int bad = 0;
	struct fx f;
	int ret;

	(void)state;
	fx_create(&f, "omap3", "isp", &params);
	assert_true(isp_pipeline_has_power_ctx(f.p));
	assert_int_equal(isp_stream_start(f.p), 0);
	capture_ok(&f, 1);
	assert_int_equal(ik_omap_iommu_save_ctx(f.dev), 0);
	assert_int_equal(ik_machine_iommu_power(f.m, "isp-mmu", false), 0);
	assert_int_equal(ik_machine_iommu_power(f.m, "isp-mmu", true), 0);
	ret = isp_capture_frame(f.p, &bad);
	assert_true(ret != 0 || bad != 0);
	assert_int_equal(ik_omap_iommu_restore_ctx(f.dev), 0);
	capture_ok(&f, 2);
	fx_destroy(&f);
}

struct two_leaves {
	dma_addr_t start, end;
	dma_addr_t iova[2];
	unsigned int n;
};

static int pick_leaves(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		       const char *desc)
{
	struct two_leaves *t = arg;

	(void)pa, (void)prot, (void)desc;
	if (size == 4096 && iova >= t->start && iova + size <= t->end && t->n < 2)
		t->iova[t->n++] = iova;
	return t->n == 2;
}

/*
 * Where the OMAP MMU keeps the small-page entry for @iova (OMAP35x TRM,
 * MMU chapter, "translation tables"): the first-level entry at
 * TTB + VA[31:20] * 4 is a coarse page table descriptor (bits [1:0] = 01)
 * whose bits [31:10] give the second-level table; the entry sits at
 * that base + VA[19:12] * 4.
 */
static phys_addr_t omap_pte(struct fx *f, dma_addr_t iova)
{
	const struct ik_machine_desc *d = ik_machine_desc_builtin("omap3");
	struct ik_mem *mem = ik_machine_mem(f->m);
	phys_addr_t mmio = 0;
	uint32_t ttb, l1;

	for (unsigned int i = 0; i < d->nr_iommus; i++)
		if (!strcmp(d->iommus[i].name, ik_device_iommu_name(f->dev)))
			mmio = d->iommus[i].mmio_base;
	assert_int_equal(ik_machine_mmio_read32(f->m, mmio + OMAP_MMU_TTB, &ttb), 0);
	assert_int_equal(ik_mem_read(mem, ttb + (iova >> 20) * 4, &l1, 4), 0);
	assert_int_equal(l1 & 3, 1);
	return (l1 & 0xfffffc00u) + ((iova >> 12) & 0xff) * 4;
}

/*
 * Write a PTE as a driver does on this non-coherent machine: through the
 * CPU cache, then clean it, or the walker would not see it (and the next
 * clean of the same line by the format would undo a write made behind the
 * cache's back).
 */
static void cpu_set_pte(struct fx *f, phys_addr_t pte, uint32_t v)
{
	uint32_t le = htole32(v);

	assert_int_equal(ik_cpu_write(f->m, pte, &le, 4), 0);
	assert_int_equal(ik_cpu_cache_clean(f->m, pte, 4), 0);
}

static uint32_t cpu_get_pte(struct fx *f, phys_addr_t pte)
{
	uint32_t le;

	assert_int_equal(ik_cpu_read(f->m, pte, &le, 4), 0);
	return le32toh(le);
}

/* Mutation (a): two PTEs of a mapped raw buffer swapped fail the check. */
static void test_mutation_swapped_ptes(void **state)
{
	struct isp_params params = { .width = W, .height = H };
	struct two_leaves t = { 0 };
	phys_addr_t pa0, pa1, pa;
	phys_addr_t pte0, pte1;
	uint32_t v0, v1;
	unsigned int bad = 0;
	dma_addr_t dma;
	size_t size;
	int prot;
	struct fx f;

	(void)state;
	fx_create(&f, "omap3", "isp", &params);
	struct iommu_domain *d = isp_pipeline_domain(f.p);

	assert_int_equal(isp_stream_start(f.p), 0);
	/* Frame 0 goes to raw buffer 0: swap two of its pages' entries first. */
	assert_int_equal(isp_pipeline_buffer(f.p, ISP_BUF_RAW, 0, &dma, &size), 0);
	t.start = dma;
	t.end = dma + size;
	ik_iommu_domain_for_each_mapping(d, pick_leaves, &t);
	assert_int_equal(t.n, 2);
	pa0 = ik_iommu_iova_to_phys(d, t.iova[0]);
	pa1 = ik_iommu_iova_to_phys(d, t.iova[1]);
	pte0 = omap_pte(&f, t.iova[0]);
	pte1 = omap_pte(&f, t.iova[1]);
	v0 = cpu_get_pte(&f, pte0);
	v1 = cpu_get_pte(&f, pte1);
	assert_int_equal(v0 & 0xfffff000u, pa0);
	assert_int_equal(v1 & 0xfffff000u, pa1);
	cpu_set_pte(&f, pte0, v1);
	cpu_set_pte(&f, pte1, v0);
	ik_iommu_flush_iotlb_all(d);
	/* The hardware now translates them the other way round. */
	assert_int_equal(ik_machine_iommu_walk(f.m, "isp-mmu", 0, t.iova[0], &pa, &prot), 0);
	assert_int_equal(pa, pa1);

	assert_int_equal(isp_capture_frame(f.p, &bad), 0);
	assert_true(bad & (1u << ISP_CHECK_RAW));

	/* Put them back: the next frame on that buffer checks out again. */
	cpu_set_pte(&f, pte0, v0);
	cpu_set_pte(&f, pte1, v1);
	ik_iommu_flush_iotlb_all(d);
	capture_ok(&f, 2);
	fx_destroy(&f);
}

/* Mutation (b): leaving out one dma_sync on the non-coherent machine fails the check. */
static void run_dropped_sync(enum isp_sync drop, unsigned int expect_checks)
{
	struct isp_params params = { .width = W, .height = H, .drop_sync = drop };
	unsigned int all_bad = 0;
	struct isp_stats st;
	struct fx f;

	fx_create(&f, "omap3", "isp", &params);
	assert_int_equal(isp_stream_start(f.p), 0);
	for (unsigned int i = 0; i < 4; i++) {
		unsigned int bad = 0;

		assert_int_equal(isp_capture_frame(f.p, &bad), 0);
		all_bad |= bad;
	}
	isp_get_stats(f.p, &st);
	assert_true(st.frames_bad > 0);
	assert_true(all_bad & expect_checks);
	fx_destroy(&f);
}

static void test_mutation_dropped_sync(void **state)
{
	(void)state;
	ik_dma_debug_set_enabled(false); /* it would (rightly) complain */
	run_dropped_sync(ISP_SYNC_RAW_FOR_CPU, 1u << ISP_CHECK_RAW);
	run_dropped_sync(ISP_SYNC_LSC_FOR_DEVICE, 1u << ISP_CHECK_RAW);
	ik_dma_debug_set_enabled(true);
}

/* ik_iommu_dma_set_window(): what the pipeline relies on, and what it refuses. */
static void test_dma_window(void **state)
{
	struct ik_machine *m = ik_machine_create_default();
	struct device *isp = ik_machine_device(m, "isp");
	struct iommu_domain *um = ik_iommu_paging_domain_alloc(isp);
	struct iommu_domain *d = ik_iommu_domain_alloc_type(isp, IOMMU_DOMAIN_DMA);
	const struct iommu_domain_geometry *geo = ik_iommu_domain_get_geometry(d);
	struct iommu_group *g = ik_iommu_group_get(isp);
	phys_addr_t pa;
	dma_addr_t h;
	void *cpu;

	(void)state;
	assert_non_null(um);
	assert_non_null(d);
	assert_int_equal(ik_iommu_dma_set_window(NULL, 0x40000000, 0x1000), -EINVAL);
	assert_int_equal(ik_iommu_dma_set_window(um, 0x40000000, 0x1000), -EINVAL);
	assert_int_equal(ik_iommu_dma_set_window(d, 0x40000000, 0), -EINVAL);
	assert_int_equal(ik_iommu_dma_set_window(d, 0x40000800, 0x1000), -EINVAL);
	assert_int_equal(ik_iommu_dma_set_window(d, 0x40000000, 0x1800), -EINVAL);
	assert_int_equal(ik_iommu_dma_set_window(d, 0xfffff000, 0x2000), -ERANGE);
	assert_int_equal(ik_iommu_dma_set_window(d, 0xfffff000ULL, ~0ULL - 0xfff), -EINVAL);
	assert_int_equal(geo->aperture_start, 0); /* refused calls changed nothing */
	assert_int_equal(geo->aperture_end, 0xffffffffULL);
	assert_int_equal(ik_iommu_dma_set_window(d, ISP_DMA_WINDOW_BASE, ISP_DMA_WINDOW_SIZE), 0);
	assert_int_equal(geo->aperture_start, ISP_DMA_WINDOW_BASE);
	assert_int_equal(geo->aperture_end, ISP_DMA_WINDOW_BASE + ISP_DMA_WINDOW_SIZE - 1);
	/* Narrowing again is fine before first use. */
	assert_int_equal(ik_iommu_dma_set_window(d, ISP_DMA_WINDOW_BASE, ISP_DMA_WINDOW_SIZE), 0);

	/* Nothing maps outside; the DMA API allocates inside. */
	pa = ik_test_alloc(m, 0x1000, 0x1000);
	assert_int_equal(ik_iommu_map(d, 0x1000, pa, 0x1000, IOMMU_READ, GFP_KERNEL), -ERANGE);
	assert_int_equal(ik_iommu_attach_group(d, g), 0);
	cpu = ik_dma_alloc_coherent(isp, 0x3000, &h, GFP_KERNEL);
	assert_non_null(cpu);
	assert_in_window(h, 0x3000);
	/* The IOVA space exists now: the window can no longer move. */
	assert_int_equal(ik_iommu_dma_set_window(d, ISP_DMA_WINDOW_BASE, 0x100000), -EBUSY);
	ik_dma_free_coherent(isp, 0x3000, cpu, h);
	ik_iommu_detach_group(d, g);
	ik_iommu_group_put(g);
	ik_iommu_domain_free(d);
	ik_iommu_domain_free(um);
	ik_mem_free_pages(ik_machine_mem(m), pa, 1);
	ik_machine_destroy(m);
}

/* Bad parameters are refused and leave nothing behind. */
static void test_bad_params(void **state)
{
	static const unsigned int sizes[][2] = { { 30, 48 }, { 66, 48 }, { 64, 47 },
						 { 64, 8 }, { 8192, 48 } };
	struct ik_machine *m = ik_machine_create_default();
	struct isp_pipeline *p = (struct isp_pipeline *)1;
	size_t before = ik_mem_free_count(ik_machine_mem(m));

	(void)state;
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct isp_params params = { .width = sizes[i][0], .height = sizes[i][1] };

		assert_int_equal(isp_pipeline_create(m, ik_machine_device(m, "isp"), &params, &p),
				 -EINVAL);
		assert_null(p);
	}
	struct isp_params params = { .width = W, .height = H };

	assert_int_equal(isp_pipeline_create(m, ik_machine_device(m, "sdma"), &params, &p),
			 -ENODEV);
	params.drop_sync = ISP_SYNC_NR;
	assert_int_equal(isp_pipeline_create(m, ik_machine_device(m, "isp"), &params, &p),
			 -EINVAL);
	assert_int_equal(isp_pipeline_create(NULL, NULL, &params, &p), -EINVAL);
	assert_int_equal(isp_stream_start(NULL), -EINVAL);
	assert_int_equal(isp_stream_stop(NULL), -EINVAL);
	assert_int_equal(isp_capture_frame(NULL, NULL), -EINVAL);
	assert_null(isp_pipeline_domain(NULL));
	isp_pipeline_destroy(NULL);
	assert_int_equal(ik_mem_free_count(ik_machine_mem(m)), before);
	assert_null(ik_iommu_get_domain_for_dev(ik_machine_device(m, "isp")));
	ik_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_omap_strict),
		cmocka_unit_test(test_omap_lazy),
		cmocka_unit_test(test_smmu),
		cmocka_unit_test(test_buffers),
		cmocka_unit_test(test_power_needs_restore),
		cmocka_unit_test(test_mutation_swapped_ptes),
		cmocka_unit_test(test_mutation_dropped_sync),
		cmocka_unit_test(test_dma_window),
		cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
