// SPDX-License-Identifier: MIT
/*
 * The DMA API without an IOMMU (src/dma/direct.c) and the argument and
 * limit checks every call makes (src/dma/mapping.c): bus address =
 * physical address, refused beyond the device's mask; scatterlists entry
 * for entry; physically contiguous coherent buffers below the coherent
 * mask; dma_set_mask() and friends; bad arguments.
 *
 * A small machine puts RAM across a mask boundary: 32 MiB at physical 0,
 * so a 24-bit mask reaches the first 16 MiB only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>

static const struct ik_region_desc low_ram[] = {
	{ .name = "dram", .base = 0, .size = 32 * IK_SZ_1M },
};
static const struct ik_master_desc low_masters[] = {
	{ .name = "dma", .iommu = NULL, .sid = 0 },
};
static const struct ik_machine_desc low_desc = {
	.size = sizeof(struct ik_machine_desc),
	.name = "low",
	.regions = low_ram,
	.nr_regions = 1,
	.masters = low_masters,
	.nr_masters = 1,
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct ik_log_capture log;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->m = ik_machine_create(&low_desc);
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->dev = ik_machine_device(f->m, "dma");
	ik_dma_debug_set_enabled(true);
	ik_dma_debug_reset_stats();
	ik_test_log_capture_start(&f->log);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ik_test_log_capture_stop();
	assert_int_equal(ik_dma_debug_check_leaks(f->dev), 0);
	ik_machine_destroy(f->m);
	free(f);
	return 0;
}

static uint64_t errors(void)
{
	struct ik_dma_debug_stats st;

	ik_dma_debug_get_stats(&st);
	return st.errors;
}

/* --- limits --- */

static void test_set_mask(void **state)
{
	struct fx *f = *state;

	/* Linux's defaults for a platform device. */
	assert_int_equal(dma_get_mask(f->dev), DMA_BIT_MASK(32));
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	assert_int_equal(dma_get_mask(f->dev), DMA_BIT_MASK(24));
	/* Narrower than 24 bits, or not of the form 2^n - 1: -EIO, mask unchanged. */
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(23)), -EIO);
	assert_int_equal(dma_set_mask(f->dev, 0xff00ffffULL), -EIO);
	assert_int_equal(dma_get_mask(f->dev), DMA_BIT_MASK(24));
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(64)), 0);
	assert_int_equal(dma_set_mask_and_coherent(f->dev, DMA_BIT_MASK(30)), 0);
	assert_int_equal(dma_get_mask(f->dev), DMA_BIT_MASK(30));
	assert_int_equal(dma_set_mask(NULL, DMA_BIT_MASK(32)), -EINVAL);
	assert_int_equal(dma_get_mask(NULL), 0);
	assert_int_equal(dma_set_coherent_mask(NULL, DMA_BIT_MASK(32)), -EINVAL);
}

/* Without an IOMMU a mask must reach some RAM: the "smmu" machine's DRAM is above 4 GiB. */
static void test_mask_must_reach_ram_without_iommu(void **state)
{
	struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin("smmu"));
	struct device *dma = ik_machine_device(m, "dma"), *gpu = ik_machine_device(m, "gpu");

	assert_int_equal(dma_set_mask(dma, DMA_BIT_MASK(32)), -EIO);
	assert_int_equal(dma_set_coherent_mask(dma, DMA_BIT_MASK(35)), -EIO);
	assert_int_equal(dma_set_mask(dma, DMA_BIT_MASK(36)), 0);
	/* Behind an IOMMU any IOVA width will do. */
	assert_int_equal(dma_set_mask(gpu, DMA_BIT_MASK(24)), 0);
	ik_machine_destroy(m);
}

static void test_segment_limits(void **state)
{
	struct fx *f = *state;

	assert_int_equal(dma_set_max_seg_size(f->dev, 0x1000), 0);
	assert_int_equal(dma_set_max_seg_size(f->dev, 0xfff), -EINVAL);
	assert_int_equal(dma_set_max_seg_size(NULL, 0x1000), -EINVAL);
	assert_int_equal(dma_set_seg_boundary(f->dev, 0xfff), 0);
	assert_int_equal(dma_set_seg_boundary(f->dev, 0x7ff), -EINVAL);  /* below a page */
	assert_int_equal(dma_set_seg_boundary(f->dev, 0x1800), -EINVAL); /* not 2^n - 1 */
	assert_int_equal(dma_set_seg_boundary(f->dev, ~0UL), 0);
}

/* --- streaming --- */

static void test_map_is_physical(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, 2 * IK_SZ_4K, IK_SZ_4K);
	uint8_t b = 0x42, r;

	dma_addr_t a = dma_map_page(f->dev, pa, 0x10, 0x1800, DMA_BIDIRECTIONAL);
	assert_int_equal(a, pa + 0x10);
	assert_int_equal(ik_dma_write(f->dev, a, &b, 1), 0);
	assert_int_equal(ik_mem_read(f->mem, pa + 0x10, &r, 1), 0);
	assert_int_equal(r, 0x42);
	dma_unmap_page(f->dev, a, 0x1800, DMA_BIDIRECTIONAL);

	a = dma_map_single(f->dev, ik_mem_ptr(f->mem, pa + 0x20, 8), 8, DMA_TO_DEVICE);
	assert_int_equal(a, pa + 0x20);
	dma_unmap_single(f->dev, a, 8, DMA_TO_DEVICE);
	ik_mem_free_pages(f->mem, pa, 2);
	assert_int_equal(errors(), 0);
}

/* 20 MiB is beyond a 24-bit mask, and there is no IOMMU to remap it: ERANGE. */
static void test_map_beyond_mask(void **state)
{
	struct fx *f = *state;

	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	errno = 0;
	dma_addr_t a = dma_map_page(f->dev, 20 * IK_SZ_1M, 0, 0x100, DMA_TO_DEVICE);
	assert_int_equal(a, DMA_MAPPING_ERROR);
	assert_int_equal(dma_mapping_error(f->dev, a), -ENOMEM);
	assert_int_equal(errno, ERANGE);
	/* Straddling the limit is beyond it too. */
	errno = 0;
	a = dma_map_page(f->dev, IK_SZ_16M - 0x100, 0, 0x200, DMA_TO_DEVICE);
	assert_int_equal(a, DMA_MAPPING_ERROR);
	assert_int_equal(errno, ERANGE);
	/* Up to the last byte is fine. */
	a = dma_map_page(f->dev, IK_SZ_16M - 0x100, 0, 0x100, DMA_TO_DEVICE);
	assert_int_equal(a, IK_SZ_16M - 0x100);
	dma_unmap_page(f->dev, a, 0x100, DMA_TO_DEVICE);
}

static void test_sg_entry_for_entry(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = ik_test_alloc(f->m, 4 * IK_SZ_4K, IK_SZ_4K);
	struct scatterlist sg[3];

	sg_init_table(sg, 3);
	/* Physically contiguous whole pages: still three segments, at their addresses. */
	sg_set_phys(&sg[0], p, 0x1000);
	sg_set_phys(&sg[1], p + 0x1000, 0x1000);
	sg_set_phys(&sg[2], p + 0x2800, 0x100);
	assert_int_equal(dma_map_sg(f->dev, sg, 3, DMA_TO_DEVICE), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sg_dma_address(&sg[i]), sg[i].phys);
		assert_int_equal(sg_dma_len(&sg[i]), sg[i].length);
	}
	dma_unmap_sg(f->dev, sg, 3, DMA_TO_DEVICE);

	/* An entry across the segment boundary cannot be moved without an IOMMU. */
	assert_int_equal(dma_set_seg_boundary(f->dev, 0xfff), 0);
	sg_set_phys(&sg[2], p + 0x2800, 0x1000);
	errno = 0;
	assert_int_equal(dma_map_sg(f->dev, sg, 3, DMA_TO_DEVICE), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sg_dma_len(&sg[0]), 0);
	assert_int_equal(dma_set_seg_boundary(f->dev, ~0UL), 0);
	/* Beyond the mask: ERANGE, nothing mapped. */
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	sg_set_phys(&sg[2], 24 * IK_SZ_1M, 0x100);
	errno = 0;
	assert_int_equal(dma_map_sg(f->dev, sg, 3, DMA_TO_DEVICE), 0);
	assert_int_equal(errno, ERANGE);
	ik_mem_free_pages(f->mem, p, 4);
	assert_int_equal(errors(), 0);
}

/* --- bad arguments: refused with EINVAL or EFAULT, nothing mapped, nothing crashes --- */

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	struct scatterlist sg[2];
	dma_addr_t h;

#define REFUSED(call, err)                                  \
	do {                                                \
		errno = 0;                                  \
		assert_int_equal(call, DMA_MAPPING_ERROR);  \
		assert_int_equal(errno, err);               \
	} while (0)
	REFUSED(dma_map_page(NULL, pa, 0, 16, DMA_TO_DEVICE), EINVAL);
	REFUSED(dma_map_page(f->dev, pa, 0, 0, DMA_TO_DEVICE), EINVAL);
	REFUSED(dma_map_page(f->dev, pa, 0, 16, DMA_NONE), EINVAL);
	REFUSED(dma_map_page(f->dev, pa, 0, 16, (enum dma_data_direction)7), EINVAL);
	REFUSED(dma_map_page_attrs(f->dev, pa, 0, 16, DMA_TO_DEVICE, 1UL << 3), EINVAL);
	REFUSED(dma_map_page(f->dev, ~0ULL - 4, 8, 16, DMA_TO_DEVICE), EINVAL);
	/* Not RAM. */
	REFUSED(dma_map_page(f->dev, 64 * IK_SZ_1M, 0, 16, DMA_TO_DEVICE), EFAULT);
	REFUSED(dma_map_page(f->dev, 32 * IK_SZ_1M - 8, 0, 16, DMA_TO_DEVICE), EFAULT);
	REFUSED(dma_map_single(f->dev, NULL, 16, DMA_TO_DEVICE), EINVAL);
	REFUSED(dma_map_single(f->dev, &h, sizeof(h), DMA_TO_DEVICE), EFAULT);
#undef REFUSED
	/* A view of two pages that are not adjacent is no single buffer. */
	phys_addr_t two[2] = { pa, 4 * IK_SZ_1M };
	uint8_t *view = ik_mem_vmap(f->mem, two, 2);
	assert_non_null(view);
	errno = 0;
	assert_int_equal(dma_map_single(f->dev, view + 0xf00, 0x200, DMA_TO_DEVICE),
			 DMA_MAPPING_ERROR);
	assert_int_equal(errno, EINVAL);
	/* Within one of its pages it is. */
	dma_addr_t a = dma_map_single(f->dev, view + 0x1000, 0x200, DMA_TO_DEVICE);
	assert_int_equal(a, 4 * IK_SZ_1M);
	dma_unmap_single(f->dev, a, 0x200, DMA_TO_DEVICE);
	ik_mem_vunmap(f->mem, view, 2);

	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], pa, 0x100);
	errno = 0;
	assert_int_equal(dma_map_sg(f->dev, sg, 0, DMA_TO_DEVICE), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dma_map_sg(f->dev, NULL, 1, DMA_TO_DEVICE), 0);
	assert_int_equal(dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE), 0); /* sg[1] is empty */
	assert_int_equal(errno, EINVAL);
	sg_set_phys(&sg[1], 40 * IK_SZ_1M, 0x100);
	assert_int_equal(dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE), 0);
	assert_int_equal(errno, EFAULT);

	errno = 0;
	assert_null(dma_alloc_coherent(f->dev, 0, &h, GFP_KERNEL));
	assert_int_equal(errno, EINVAL);
	assert_null(dma_alloc_coherent(f->dev, 16, NULL, GFP_KERNEL));
	assert_null(dma_alloc_coherent(NULL, 16, &h, GFP_KERNEL));
	assert_null(dma_alloc_coherent(f->dev, 16, &h, 7));
	/* Unmaps and syncs with bad arguments are ignored, and counted as errors. */
	uint64_t before = errors();
	dma_unmap_page(NULL, 0x1000, 16, DMA_TO_DEVICE);
	dma_unmap_page(f->dev, 0x1000, 16, DMA_NONE);
	dma_unmap_sg(f->dev, NULL, 1, DMA_TO_DEVICE);
	dma_sync_single_for_cpu(f->dev, 0x1000, 0, DMA_FROM_DEVICE);
	dma_sync_sg_for_device(f->dev, sg, -1, DMA_TO_DEVICE);
	dma_free_coherent(f->dev, 16, NULL, 0);
	assert_int_equal(errors(), before + 5); /* the NULL free is a no-op */
	assert_int_equal(dma_mapping_error(f->dev, 0), 0);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- coherent --- */

static void test_coherent_contiguous_below_mask(void **state)
{
	struct fx *f = *state;
	dma_addr_t h1, h2;

	assert_int_equal(dma_set_coherent_mask(f->dev, DMA_BIT_MASK(24)), 0);
	/* Make the pages dirty in memory first: the buffer must still come back zeroed. */
	phys_addr_t pa = ik_test_alloc(f->m, 3 * IK_SZ_4K, IK_SZ_4K);
	ik_mem_fill(f->mem, pa, 0xff, 3 * IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 3);

	uint8_t *p = dma_alloc_coherent(f->dev, 3 * IK_SZ_4K - 10, &h1, GFP_KERNEL);
	assert_non_null(p);
	assert_true(h1 + 3 * IK_SZ_4K - 1 <= DMA_BIT_MASK(24));
	for (size_t i = 0; i < 3 * IK_SZ_4K; i++)
		assert_int_equal(p[i], 0);
	/* Physically contiguous: the CPU pointer is RAM at the handle. */
	phys_addr_t got;
	assert_int_equal(ik_mem_virt_to_phys(f->mem, p + 0x2100, &got), 0);
	assert_int_equal(got, h1 + 0x2100);
	p[5] = 0x77;
	uint8_t r;
	assert_int_equal(ik_dma_read(f->dev, h1 + 5, &r, 1), 0);
	assert_int_equal(r, 0x77);

	/* Memory below 16 MiB runs out: then no buffer, ENOMEM, nothing lost. */
	phys_addr_t hog;
	size_t free_before;
	assert_int_equal(ik_mem_alloc_pages(f->mem, (IK_SZ_16M >> 12) - 16, IK_SZ_4K, &hog), 0);
	free_before = ik_mem_free_count(f->mem);
	errno = 0;
	void *q = dma_alloc_coherent(f->dev, 64 * IK_SZ_4K, &h2, GFP_KERNEL);
	if (q) {
		/* It may have fitted between: then it must still be below the mask. */
		assert_true(h2 + 64 * IK_SZ_4K - 1 <= DMA_BIT_MASK(24));
		dma_free_coherent(f->dev, 64 * IK_SZ_4K, q, h2);
	} else {
		assert_int_equal(errno, ENOMEM);
	}
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	ik_mem_free_pages(f->mem, hog, (IK_SZ_16M >> 12) - 16);
	dma_free_coherent(f->dev, 3 * IK_SZ_4K - 10, p, h1);
	assert_int_equal(errors(), 0);
}

static void test_coherent_bad_free(void **state)
{
	struct fx *f = *state;
	dma_addr_t h;
	uint8_t *p = dma_alloc_coherent(f->dev, 100, &h, GFP_KERNEL);
	size_t free_count;

	assert_non_null(p);
	free_count = ik_mem_free_count(f->mem);
	/* Off by one page, wrong handle, wrong size: refused, nothing freed. */
	dma_free_coherent(f->dev, 100, p + IK_SZ_4K, h + IK_SZ_4K);
	dma_free_coherent(f->dev, 100, p, h + 1);
	assert_int_equal(ik_mem_free_count(f->mem), free_count);
	assert_int_equal(errors(), 2);
	/* With dma-debug off the implementation's own records still refuse it. */
	ik_dma_debug_set_enabled(false);
	dma_free_coherent(f->dev, 100, p, h + IK_SZ_4K);
	dma_free_coherent(f->dev, 3 * IK_SZ_4K, p, h);
	assert_int_equal(ik_mem_free_count(f->mem), free_count);
	assert_int_equal(errors(), 4);
	dma_free_coherent(f->dev, 100, p, h);
	assert_int_equal(ik_mem_free_count(f->mem), free_count + 1);
	dma_free_coherent(f->dev, 100, p, h); /* double free */
	assert_int_equal(ik_mem_free_count(f->mem), free_count + 1);
	assert_int_equal(errors(), 5);
	ik_dma_debug_set_enabled(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_mask, setup, teardown),
		cmocka_unit_test(test_mask_must_reach_ram_without_iommu),
		cmocka_unit_test_setup_teardown(test_segment_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_is_physical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_beyond_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sg_entry_for_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coherent_contiguous_below_mask, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coherent_bad_free, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
