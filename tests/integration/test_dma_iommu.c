// SPDX-License-Identifier: MIT
/*
 * The IOMMU-backed DMA API end to end: streaming maps of single buffers
 * and scatterlists, coherent allocations, direction enforcement, masks
 * and IOVA exhaustion, on the built-in "smmu" machine (Arm SMMUv2, LPAE
 * tables, DRAM above 4 GiB) and the default "omap3" (OMAP MMU), in strict
 * (IOMMU_DOMAIN_DMA) and lazy (IOMMU_DOMAIN_DMA_FQ) domains.
 *
 * The device model is the oracle: every mapping is checked by DMA from the
 * device through the IOMMU model, which faults unless the tables are right.
 * Expected DMA addresses and segment layouts are worked out by hand from
 * the rules in src/dma/iommu.c's header (the layout rules of Linux's
 * iommu_dma_map_sg), in comments beside each check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>
#include <iommukit/iova.h>
#include "ik/arm-smmu-regs.h"
#include "ik/dma.h"

struct fault_rec {
	unsigned int count;
	dma_addr_t iova;
	int flags;
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct iommu_domain *dom;
	struct fault_rec fault;
	unsigned int type;
	struct ik_log_capture log;
};

static int record_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
			int flags, void *token)
{
	struct fault_rec *r = token;

	r->count++;
	r->iova = iova;
	r->flags = flags;
	return 0;
}

/* A machine, @devname behind its IOMMU, attached to a new domain of @type. */
static struct fx *fx_new(const struct ik_machine_desc *desc, const char *devname,
			 unsigned int type)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->m = ik_machine_create(desc);
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->dev = ik_machine_device(f->m, devname);
	assert_non_null(f->dev);
	f->type = type;
	f->dom = iommu_domain_alloc_type(f->dev, type);
	assert_non_null(f->dom);
	assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	iommu_set_fault_handler(f->dom, record_fault, &f->fault);
	return f;
}

static void fx_free(struct fx *f)
{
	iommu_detach_device(f->dom, f->dev);
	iommu_domain_free(f->dom);
	ik_machine_destroy(f->m);
	free(f);
}

static int setup_smmu(void **state)
{
	unsigned int type = *state ? *(unsigned int *)*state : IOMMU_DOMAIN_DMA;

	ik_dma_debug_set_enabled(true);
	ik_dma_debug_reset_stats();
	*state = fx_new(ik_machine_desc_builtin("smmu"), "gpu", type);
	ik_test_log_capture_start(&((struct fx *)*state)->log);
	return 0;
}

static int setup_omap(void **state)
{
	unsigned int type = *state ? *(unsigned int *)*state : IOMMU_DOMAIN_DMA;

	ik_dma_debug_set_enabled(true);
	ik_dma_debug_reset_stats();
	*state = fx_new(ik_machine_desc_builtin("omap3"), "isp", type);
	ik_test_log_capture_start(&((struct fx *)*state)->log);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct ik_dma_debug_stats st;
	unsigned int leaked = ik_dma_debug_check_leaks(f->dev);

	ik_test_log_capture_stop();
	ik_dma_debug_get_stats(&st);
	fx_free(f);
	/* Every test unmaps what it maps, and no call was a bad one. */
	assert_int_equal(leaked, 0);
	assert_int_equal(st.errors, 0);
	return 0;
}

static unsigned int strict_type = IOMMU_DOMAIN_DMA, lazy_type = IOMMU_DOMAIN_DMA_FQ;

/* @n pages of RAM, page i filled with byte @seed + i. */
static phys_addr_t pages_with_pattern(struct fx *f, unsigned int n, int seed)
{
	phys_addr_t pa = ik_test_alloc(f->m, (size_t)n * IK_SZ_4K, IK_SZ_4K);

	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(ik_mem_fill(f->mem, pa + i * IK_SZ_4K, seed + (int)i, IK_SZ_4K),
				 0);
	return pa;
}

/* The device reads @len bytes at @addr and finds memory at @pa. */
static void device_sees(struct fx *f, dma_addr_t addr, phys_addr_t pa, size_t len)
{
	uint8_t *got = malloc(len), *want = malloc(len);

	assert_true(got && want);
	assert_int_equal(ik_dma_read(f->dev, addr, got, len), 0);
	assert_int_equal(ik_mem_read(f->mem, pa, want, len), 0);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

/* --- single mappings --- */

static void test_map_page_roundtrip(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 3, 0x40);
	const struct iommu_domain_geometry *geo = iommu_domain_get_geometry(f->dom);
	uint8_t b;

	/* 0x2000 bytes from offset 0x123: granules 0..2 of the buffer are mapped. */
	dma_addr_t a = dma_map_page(f->dev, pa, 0x123, 0x2000, DMA_BIDIRECTIONAL);
	assert_false(dma_mapping_error(f->dev, a));
	/* The IOVA keeps the offset in the granule, is not 0, and is below mask and aperture. */
	assert_int_equal(a & 0xfff, 0x123);
	assert_true(a >= 0x1000);
	assert_true(a + 0x2000 - 1 <= ik_dma_get_mask(f->dev));
	assert_true(a + 0x2000 - 1 <= geo->aperture_end);
	assert_int_equal(iommu_iova_to_phys(f->dom, a), pa + 0x123);
	device_sees(f, a, pa + 0x123, 0x2000);
	/* Written through the mapping, landing in memory. */
	assert_int_equal(ik_dma_fill(f->dev, a + 0x10, 0xee, 4), 0);
	assert_int_equal(ik_mem_read(f->mem, pa + 0x133, &b, 1), 0);
	assert_int_equal(b, 0xee);
	dma_unmap_page(f->dev, a, 0x2000, DMA_BIDIRECTIONAL);
	assert_int_equal(iommu_iova_to_phys(f->dom, a), 0);
	if (f->type == IOMMU_DOMAIN_DMA) {
		/* Strict: no stale translation survives the unmap. */
		assert_int_equal(ik_dma_read(f->dev, a, &b, 1), -EFAULT);
	}
	ik_mem_free_pages(f->mem, pa, 3);
}

static void test_map_single_from_cpu_pointer(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 2, 0x10);
	uint8_t *cpu = ik_mem_ptr(f->mem, pa, 2 * IK_SZ_4K);

	dma_addr_t a = dma_map_single(f->dev, cpu + 0x800, 0x1000, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, a));
	assert_int_equal(a & 0xfff, 0x800);
	device_sees(f, a, pa + 0x800, 0x1000);
	dma_unmap_single(f->dev, a, 0x1000, DMA_TO_DEVICE);
	ik_mem_free_pages(f->mem, pa, 2);
}

/* IOVAs come from below the device's mask, and from above IOVA 0. */
static void test_iova_below_mask(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 1, 1);
	dma_addr_t a[64];

	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	for (int i = 0; i < 64; i++) {
		a[i] = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
		assert_false(dma_mapping_error(f->dev, a[i]));
		assert_true(a[i] + IK_SZ_4K - 1 <= DMA_BIT_MASK(24));
		assert_true(a[i] != 0);
	}
	for (int i = 0; i < 64; i++)
		dma_unmap_page(f->dev, a[i], IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(32)), 0);
	ik_mem_free_pages(f->mem, pa, 1);
}

/*
 * A 24-bit mask leaves 16 MiB of IOVA space: pfns 1..4095 of 4 KiB. An
 * 8 MiB mapping is size-aligned, so it can only go at 8 MiB (0 is never
 * used); a second one finds no room and fails with ENOSPC, leaving
 * nothing behind; 4 MiB still fits at 4 MiB.
 */
static void test_exhausted_iova_space(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_16M, IK_SZ_4K);
	size_t free_before;

	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(24)), 0);
	dma_addr_t a = dma_map_page(f->dev, pa, 0, 8 * IK_SZ_1M, DMA_FROM_DEVICE);
	assert_int_equal(a, 8 * IK_SZ_1M);
	free_before = ik_mem_free_count(f->mem);
	errno = 0;
	dma_addr_t b = dma_map_page(f->dev, pa + 8 * IK_SZ_1M, 0, 8 * IK_SZ_1M, DMA_FROM_DEVICE);
	assert_true(dma_mapping_error(f->dev, b));
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	/* A list needing 8 MiB of IOVA (two 4 MiB entries) fails the same way: 0. */
	struct scatterlist sg[2];
	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], pa + 8 * IK_SZ_1M, 4 * IK_SZ_1M);
	sg_set_phys(&sg[1], pa + 12 * IK_SZ_1M, 4 * IK_SZ_1M);
	assert_int_equal(dma_set_max_seg_size(f->dev, 4 * IK_SZ_1M), 0);
	errno = 0;
	assert_int_equal(dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE), 0);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(sg_dma_len(&sg[0]), 0);
	assert_int_equal(sg_dma_address(&sg[0]), DMA_MAPPING_ERROR);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], pa + 8 * IK_SZ_1M, 0x10000);
	sg_set_phys(&sg[1], pa + 9 * IK_SZ_1M, 0x10000);
	assert_int_equal(dma_set_max_seg_size(f->dev, 0x10000), 0);
	dma_addr_t c = dma_map_page(f->dev, pa, 0, 4 * IK_SZ_1M, DMA_FROM_DEVICE);
	assert_int_equal(c, 4 * IK_SZ_1M);
	/* What is left: 4 KiB .. 4 MiB, where 2 MiB fits but not 4 MiB... */
	errno = 0;
	assert_true(dma_mapping_error(f->dev,
				      dma_map_page(f->dev, pa, 0, 4 * IK_SZ_1M, DMA_TO_DEVICE)));
	assert_int_equal(errno, ENOSPC);
	/* ...and the sg list (128 KiB) does: two 64 KiB segments (the max segment). */
	assert_int_equal(dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE), 2);
	assert_true(sg_dma_address(&sg[1]) + 0x10000 - 1 < 4 * IK_SZ_1M);
	dma_unmap_sg(f->dev, sg, 2, DMA_TO_DEVICE);
	dma_unmap_page(f->dev, c, 4 * IK_SZ_1M, DMA_FROM_DEVICE);
	dma_unmap_page(f->dev, a, 8 * IK_SZ_1M, DMA_FROM_DEVICE);
	/* All of it came back: the same 8 MiB mapping works again. */
	a = dma_map_page(f->dev, pa, 0, 8 * IK_SZ_1M, DMA_FROM_DEVICE);
	assert_int_equal(a, 8 * IK_SZ_1M);
	dma_unmap_page(f->dev, a, 8 * IK_SZ_1M, DMA_FROM_DEVICE);
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(32)), 0);
	ik_mem_free_pages(f->mem, pa, IK_SZ_16M / IK_SZ_4K);
}

/* --- direction enforcement --- */

static void test_direction_enforced_on_smmu(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 1, 0x33);
	uint8_t b = 0x99, r;

	assert_true(device_iommu_capable(f->dev, IK_CAP_PERMISSIONS));
	/* TO_DEVICE: the device may read, and a write faults as a permission fault. */
	dma_addr_t a = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, a));
	assert_int_equal(ik_dma_read(f->dev, a, &r, 1), 0);
	assert_int_equal(r, 0x33);
	assert_int_equal(ik_dma_write(f->dev, a + 8, &b, 1), -EFAULT);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(f->fault.iova, a + 8);
	assert_true(f->fault.flags & IOMMU_FAULT_WRITE);
	assert_true(f->fault.flags & IK_FAULT_PERMISSION);
	assert_int_equal(ik_mem_read(f->mem, pa + 8, &r, 1), 0);
	assert_int_equal(r, 0x33); /* memory untouched */
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);

	/*
	 * FROM_DEVICE asks for IOMMU_WRITE only; VMSAv8 stage 1 has no
	 * write-only encoding (AP[2:1] gives read-write or read-only), so
	 * the format maps it read-write and reads also work.
	 */
	a = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_FROM_DEVICE);
	assert_false(dma_mapping_error(f->dev, a));
	assert_int_equal(ik_dma_write(f->dev, a + 8, &b, 1), 0);
	assert_int_equal(ik_dma_read(f->dev, a + 8, &r, 1), 0);
	assert_int_equal(r, 0x99);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);

	a = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_BIDIRECTIONAL);
	assert_int_equal(ik_dma_write(f->dev, a, &b, 1), 0);
	assert_int_equal(ik_dma_read(f->dev, a, &r, 1), 0);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_BIDIRECTIONAL);
	assert_int_equal(f->fault.count, 1);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* The OMAP MMU has no permission bits: a TO_DEVICE buffer is writable (docs/API.md). */
static void test_omap_cannot_enforce_direction(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 1, 0x33);
	uint8_t b = 0x99, r;

	assert_false(device_iommu_capable(f->dev, IK_CAP_PERMISSIONS));
	dma_addr_t a = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(f->dev, a));
	assert_int_equal(ik_dma_write(f->dev, a, &b, 1), 0);
	assert_int_equal(ik_mem_read(f->mem, pa, &r, 1), 0);
	assert_int_equal(r, 0x99);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- scatterlists --- */

/* Map @n entries; return the segment count, with the entries' dma fields. */
static int map_list(struct fx *f, struct scatterlist *sg, int n, const phys_addr_t *pa,
		    const unsigned int *len)
{
	sg_init_table(sg, (unsigned int)n);
	for (int i = 0; i < n; i++)
		sg_set_phys(&sg[i], pa[i], len[i]);
	return dma_map_sg(f->dev, sg, n, DMA_BIDIRECTIONAL);
}

/* The device reads segment @seg and finds entries [first, first + cnt) in a row. */
static void segment_holds(struct fx *f, const struct scatterlist *sg, int seg, int first, int cnt)
{
	size_t total = 0, done = 0;

	for (int i = first; i < first + cnt; i++)
		total += sg[i].length;
	assert_int_equal(sg_dma_len(&sg[seg]), total);
	uint8_t *got = malloc(total), *want = malloc(total);
	assert_true(got && want);
	assert_int_equal(ik_dma_read(f->dev, sg_dma_address(&sg[seg]), got, total), 0);
	for (int i = first; i < first + cnt; i++) {
		assert_int_equal(ik_mem_read(f->mem, sg[i].phys, want + done, sg[i].length), 0);
		done += sg[i].length;
	}
	assert_memory_equal(got, want, total);
	free(got);
	free(want);
}

/*
 * Whole scattered pages: each starts at granule offset 0 and the one
 * before it filled its granule, so all run together into one segment
 * (12 KiB <= the default 64 KiB max segment, no boundary crossed).
 */
static void test_sg_whole_pages_merge(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 6, 0x20);
	/* Out of physical order on purpose: pages 4, 0, 2. */
	phys_addr_t pa[3] = { p + 4 * IK_SZ_4K, p, p + 2 * IK_SZ_4K };
	unsigned int len[3] = { 0x1000, 0x1000, 0x1000 };
	struct scatterlist sg[3];

	assert_int_equal(map_list(f, sg, 3, pa, len), 1);
	segment_holds(f, sg, 0, 0, 3);
	/* Entries past the count are marked unused. */
	assert_int_equal(sg_dma_len(&sg[1]), 0);
	assert_int_equal(sg_dma_address(&sg[2]), DMA_MAPPING_ERROR);
	dma_unmap_sg(f->dev, sg, 3, DMA_BIDIRECTIONAL);
	ik_mem_free_pages(f->mem, p, 6);
}

/*
 * Entry 0 starts at offset 0x100 and ends on its granule's end
 * (0x100 + 0xf00 = 0x1000); entry 1 starts on a granule: they merge, the
 * segment starting at base + 0x100, 0x1f00 bytes long.
 * Entry 2 starts at offset 0x200: it cannot join (its IOVA would be
 * base + 0x2000 + 0x200, not contiguous with the segment's end); it is
 * its own segment at base + 0x2200.
 * Entry 3 (0x800 bytes at offset 0) follows entry 2, but entry 2 did not
 * fill its granule (0x200 + 0x400 < 0x1000): own segment at base + 0x3000.
 * Entry 4 starts at offset 0 but entry 3 ended at 0x800: own segment,
 * base + 0x4000.
 */
static void test_sg_merge_only_at_granule_boundaries(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 8, 0x60);
	phys_addr_t pa[5] = { p + 0x100, p + 0x2000, p + 0x4200, p + 0x6000, p + 0x7000 };
	unsigned int len[5] = { 0xf00, 0x1000, 0x400, 0x800, 0x1000 };
	struct scatterlist sg[5];

	assert_int_equal(map_list(f, sg, 5, pa, len), 4);
	dma_addr_t base = sg_dma_address(&sg[0]) - 0x100;
	assert_int_equal(base & 0xfff, 0);
	assert_int_equal(sg_dma_len(&sg[0]), 0x1f00);
	assert_int_equal(sg_dma_address(&sg[1]), base + 0x2200);
	assert_int_equal(sg_dma_len(&sg[1]), 0x400);
	assert_int_equal(sg_dma_address(&sg[2]), base + 0x3000);
	assert_int_equal(sg_dma_len(&sg[2]), 0x800);
	assert_int_equal(sg_dma_address(&sg[3]), base + 0x4000);
	assert_int_equal(sg_dma_len(&sg[3]), 0x1000);
	assert_int_equal(sg_dma_len(&sg[4]), 0);
	/* Read back through the device, segment by segment. */
	uint8_t buf[0x1f00], want[0x1f00];
	assert_int_equal(ik_dma_read(f->dev, sg_dma_address(&sg[0]), buf, 0x1f00), 0);
	ik_mem_read(f->mem, p + 0x100, want, 0xf00);
	ik_mem_read(f->mem, p + 0x2000, want + 0xf00, 0x1000);
	assert_memory_equal(buf, want, 0x1f00);
	assert_int_equal(ik_dma_read(f->dev, sg_dma_address(&sg[1]), buf, 0x400), 0);
	ik_mem_read(f->mem, p + 0x4200, want, 0x400);
	assert_memory_equal(buf, want, 0x400);
	dma_unmap_sg(f->dev, sg, 5, DMA_BIDIRECTIONAL);
	ik_mem_free_pages(f->mem, p, 8);
}

/*
 * Max segment size 8 KiB: three whole pages merge into 8 KiB + 4 KiB
 * (two segments), never one of 12 KiB.
 */
static void test_sg_max_segment_size(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 3, 0x70);
	phys_addr_t pa[3] = { p, p + 0x2000, p + 0x1000 };
	unsigned int len[3] = { 0x1000, 0x1000, 0x1000 };
	struct scatterlist sg[3];

	assert_int_equal(dma_set_max_seg_size(f->dev, 0x2000), 0);
	assert_int_equal(map_list(f, sg, 3, pa, len), 2);
	segment_holds(f, sg, 0, 0, 2);
	assert_int_equal(sg_dma_address(&sg[1]), sg_dma_address(&sg[0]) + 0x2000);
	assert_int_equal(sg_dma_len(&sg[1]), 0x1000);
	dma_unmap_sg(f->dev, sg, 3, DMA_BIDIRECTIONAL);

	/* An entry longer than the max segment cannot be one segment: refused. */
	phys_addr_t big[1] = { p };
	unsigned int biglen[1] = { 0x3000 };
	errno = 0;
	assert_int_equal(map_list(f, sg, 1, big, biglen), 0);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(f->log.last, "longer than its max segment"));
	assert_int_equal(sg_dma_len(&sg[0]), 0);
	assert_int_equal(dma_set_max_seg_size(f->dev, 0x10000), 0);
	ik_mem_free_pages(f->mem, p, 3);
}

/*
 * Segment boundary 8 KiB (mask 0x1fff). The IOVA range is aligned to its
 * size rounded up to a power of two (>= 8 KiB here), so boundaries fall at
 * offsets 0x2000, 0x4000... of the layout.
 * List 1, three whole pages at offsets 0, 0x1000, 0x2000: entries 0 and 1
 * join at 0x1000 (not a boundary); entry 2 would join at 0x2000, a
 * boundary: new segment. Segments: base + 0 (0x2000), base + 0x2000 (0x1000).
 * List 2: entry 0 is 0x800 bytes at offset 0x800 (granule at 0); entry 1
 * is 0x1800 bytes at offset 0, two granules: at 0x1000 it would span
 * 0x1000..0x2fff across the boundary at 0x2000, so it moves up to 0x2000.
 * Segments: base + 0x800 (0x800) and base + 0x2000 (0x1800); the granule at
 * 0x1000 is a gap that stays unmapped.
 */
static void test_sg_segment_boundary(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 6, 0x80);
	struct scatterlist sg[3];
	uint8_t b;

	assert_int_equal(dma_set_seg_boundary(f->dev, 0x1fff), 0);
	phys_addr_t pa1[3] = { p, p + 0x1000, p + 0x2000 };
	unsigned int len1[3] = { 0x1000, 0x1000, 0x1000 };
	assert_int_equal(map_list(f, sg, 3, pa1, len1), 2);
	dma_addr_t base = sg_dma_address(&sg[0]);
	assert_int_equal(base & 0x1fff, 0);
	segment_holds(f, sg, 0, 0, 2);
	assert_int_equal(sg_dma_address(&sg[1]), base + 0x2000);
	assert_int_equal(sg_dma_len(&sg[1]), 0x1000);
	dma_unmap_sg(f->dev, sg, 3, DMA_BIDIRECTIONAL);

	phys_addr_t pa2[2] = { p + 0x3800, p + 0x4000 };
	unsigned int len2[2] = { 0x800, 0x1800 };
	assert_int_equal(map_list(f, sg, 2, pa2, len2), 2);
	base = sg_dma_address(&sg[0]) - 0x800;
	assert_int_equal(base & 0x1fff, 0);
	assert_int_equal(sg_dma_len(&sg[0]), 0x800);
	assert_int_equal(sg_dma_address(&sg[1]), base + 0x2000);
	assert_int_equal(sg_dma_len(&sg[1]), 0x1800);
	segment_holds(f, sg, 1, 1, 1);
	/* No segment crosses a boundary. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(sg_dma_address(&sg[i]) & ~0x1fffull,
				 (sg_dma_address(&sg[i]) + sg_dma_len(&sg[i]) - 1) & ~0x1fffull);
	/* The gap is not mapped: the device faults there. */
	assert_int_equal(ik_dma_read(f->dev, base + 0x1000, &b, 1), -EFAULT);
	f->fault.count = 0;
	dma_unmap_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL);

	/* An entry that cannot fit between two boundaries is refused. */
	phys_addr_t pa3[1] = { p + 0x800 };
	unsigned int len3[1] = { 0x2000 }; /* offset 0x800 + 0x2000 > 0x2000 */
	errno = 0;
	assert_int_equal(map_list(f, sg, 1, pa3, len3), 0);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(f->log.last, "crosses its segment boundary"));
	assert_int_equal(dma_set_seg_boundary(f->dev, 0xffffffffUL), 0);
	ik_mem_free_pages(f->mem, p, 6);
}

/*
 * Two entries in one page (offsets 0 and 0x800): each maps the same
 * granule at its own IOVA; no merge (entry 0 ends at 0x800).
 */
static void test_sg_entries_sharing_a_page(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 1, 0x90);
	phys_addr_t pa[2] = { p, p + 0x800 };
	unsigned int len[2] = { 0x800, 0x800 };
	struct scatterlist sg[2];

	assert_int_equal(map_list(f, sg, 2, pa, len), 2);
	assert_int_equal(sg_dma_address(&sg[1]), sg_dma_address(&sg[0]) + 0x1800);
	segment_holds(f, sg, 0, 0, 1);
	segment_holds(f, sg, 1, 1, 1);
	dma_unmap_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL);
	ik_mem_free_pages(f->mem, p, 1);
}

/* Unmap takes the nents given to map_sg; afterwards nothing is left mapped. */
static void test_sg_unmap_with_original_nents(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = pages_with_pattern(f, 16, 0);
	struct scatterlist sg[16];
	phys_addr_t pa[16];
	unsigned int len[16];
	uint8_t b;

	for (int i = 0; i < 16; i++) {
		pa[i] = p + (uint64_t)(15 - i) * IK_SZ_4K;
		len[i] = 0x1000;
	}
	/* 16 whole pages, 64 KiB max segment: one segment. */
	assert_int_equal(map_list(f, sg, 16, pa, len), 1);
	dma_addr_t a = sg_dma_address(&sg[0]);
	segment_holds(f, sg, 0, 0, 16);
	dma_unmap_sg(f->dev, sg, 16, DMA_BIDIRECTIONAL);
	for (int i = 0; i < 16; i++)
		assert_int_equal(iommu_iova_to_phys(f->dom, a + (uint64_t)i * IK_SZ_4K), 0);
	if (f->type == IOMMU_DOMAIN_DMA)
		assert_int_equal(ik_dma_read(f->dev, a, &b, 1), -EFAULT);
	ik_mem_free_pages(f->mem, p, 16);
}

/* --- coherent allocations --- */

/*
 * A machine with 4 MiB of RAM and one SMMU master, so that memory can be
 * fragmented: a coherent buffer then has to be built of scattered pages.
 */
static const struct ik_region_desc small_ram[] = {
	{ .name = "dram", .base = 0x880000000ULL, .size = 4 * IK_SZ_1M },
};
static const struct ik_iommu_desc small_smmu[] = {
	{ .name = "smmu", .compatible = SMMU_COMPATIBLE, .mmio_base = 0x2b400000, .irq = 38 },
};
static const struct ik_master_desc small_masters[] = {
	{ .name = "gpu", .iommu = "smmu", .sid = 0x100 },
};
static const struct ik_machine_desc small_desc = {
	.size = sizeof(struct ik_machine_desc),
	.name = "small",
	.regions = small_ram,
	.nr_regions = 1,
	.iommus = small_smmu,
	.nr_iommus = 1,
	.masters = small_masters,
	.nr_masters = 1,
};

static void test_coherent_scattered_pages_contiguous_view(void **state)
{
	struct fx *f = fx_new(&small_desc, "gpu", *(unsigned int *)*state);
	phys_addr_t taken[1024];
	size_t nr = 0;
	dma_addr_t handle;
	phys_addr_t pa;

	ik_dma_debug_set_enabled(true);
	/* Warm the tables up so that they need no more memory than a page or two. */
	void *warm = dma_alloc_coherent(f->dev, IK_SZ_4K, &handle, GFP_KERNEL);
	assert_non_null(warm);
	dma_free_coherent(f->dev, IK_SZ_4K, warm, handle);
	/* Take every page, dirty them, then give back every other one of the first 64. */
	while (nr < 1024 && !ik_mem_alloc_pages(f->mem, 1, IK_SZ_4K, &pa)) {
		ik_mem_fill(f->mem, pa, 0xa5, IK_SZ_4K);
		taken[nr++] = pa;
	}
	assert_true(nr > 128);
	for (size_t i = 0; i < 64; i += 2)
		ik_mem_free_pages(f->mem, taken[i], 1);

	assert_int_equal(dma_set_coherent_mask(f->dev, DMA_BIT_MASK(28)), 0);
	size_t size = 12 * IK_SZ_4K + 100;
	uint8_t *cpu = dma_alloc_coherent(f->dev, size, &handle, GFP_KERNEL);
	assert_non_null(cpu);
	/* Below the coherent mask, granule aligned. */
	assert_true(handle + size - 1 <= DMA_BIT_MASK(28));
	assert_int_equal(handle & 0xfff, 0);
	/* Zeroed, although the pages were dirty. */
	for (size_t i = 0; i < size; i++)
		if (cpu[i])
			fail_msg("byte %zu of the coherent buffer is %#x", i, cpu[i]);
	/* Physically scattered: no two pages of it adjacent. */
	phys_addr_t prev = 0;
	for (size_t off = 0; off < size; off += IK_SZ_4K) {
		assert_int_equal(ik_mem_virt_to_phys(f->mem, cpu + off, &pa), 0);
		if (off)
			assert_true(pa != prev + IK_SZ_4K);
		prev = pa;
	}
	/* One contiguous view for the CPU and for the device. */
	for (size_t i = 0; i < size; i++)
		cpu[i] = (uint8_t)(i * 7 + 3);
	uint8_t *got = malloc(size);
	assert_non_null(got);
	assert_int_equal(ik_dma_read(f->dev, handle, got, size), 0);
	assert_memory_equal(got, cpu, size);
	/* The device's writes are at once visible through the pointer. */
	assert_int_equal(ik_dma_fill(f->dev, handle + 0x3000, 0x5c, 0x20), 0);
	assert_int_equal(cpu[0x3000], 0x5c);
	assert_int_equal(cpu[0x301f], 0x5c);
	free(got);

	size_t free_before = ik_mem_free_count(f->mem);
	dma_free_coherent(f->dev, size, cpu, handle);
	assert_true(ik_mem_free_count(f->mem) >= free_before + 13);
	uint8_t b;
	assert_int_equal(ik_dma_read(f->dev, handle, &b, 1), -EFAULT);
	f->fault.count = 0;
	for (size_t i = 64; i < nr; i++)
		ik_mem_free_pages(f->mem, taken[i], 1);
	for (size_t i = 1; i < 64; i += 2)
		ik_mem_free_pages(f->mem, taken[i], 1);
	fx_free(f);
}

/* Large buffers come in large chunks, mapped with large pages where they fit. */
static void test_coherent_large(void **state)
{
	struct fx *f = *state;
	dma_addr_t handle;
	size_t size = 5 * IK_SZ_1M;
	uint8_t *cpu = dma_alloc_coherent(f->dev, size, &handle, GFP_KERNEL);

	assert_non_null(cpu);
	assert_true(handle + size - 1 <= DMA_BIT_MASK(32));
	cpu[0] = 1;
	cpu[size - 1] = 2;
	uint8_t a, b;
	assert_int_equal(ik_dma_read(f->dev, handle, &a, 1), 0);
	assert_int_equal(ik_dma_read(f->dev, handle + size - 1, &b, 1), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	dma_free_coherent(f->dev, size, cpu, handle);
}

/* --- domains the DMA API does not own --- */

static void test_identity_and_unmanaged_domains_are_direct(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 1, 0x11);
	unsigned int types[2] = { IOMMU_DOMAIN_IDENTITY, IOMMU_DOMAIN_UNMANAGED };

	iommu_detach_device(f->dom, f->dev);
	/* DRAM is above 4 GiB: without an IOMMU to remap, the device needs a wider mask. */
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(40)), 0);
	for (int i = 0; i < 2; i++) {
		struct iommu_domain *d = iommu_domain_alloc_type(f->dev, types[i]);

		assert_non_null(d);
		assert_int_equal(iommu_attach_device(d, f->dev), 0);
		dma_addr_t a = dma_map_page(f->dev, pa, 0x10, 0x100, DMA_TO_DEVICE);
		assert_int_equal(a, pa + 0x10);
		dma_unmap_page(f->dev, a, 0x100, DMA_TO_DEVICE);
		iommu_detach_device(d, f->dev);
		iommu_domain_free(d);
	}
	assert_int_equal(dma_set_mask(f->dev, DMA_BIT_MASK(32)), 0);
	assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* Two devices of one group share the domain and its IOVA space. */
static void test_group_shares_the_cookie(void **state)
{
	struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin("smmu"));
	struct device *cam0 = ik_machine_device(m, "cam0"), *cam1 = ik_machine_device(m, "cam1");
	struct iommu_group *g = iommu_group_get(cam0);
	struct iommu_domain *d = iommu_domain_alloc_type(cam0, *(unsigned int *)*state);
	phys_addr_t pa = ik_test_alloc(m, IK_SZ_4K, IK_SZ_4K);
	uint8_t b;

	ik_dma_debug_set_enabled(true);
	assert_non_null(d);
	assert_int_equal(iommu_attach_group(d, g), 0);
	assert_int_equal(dma_set_mask(cam1, DMA_BIT_MASK(26)), 0);
	dma_addr_t a0 = dma_map_page(cam0, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
	dma_addr_t a1 = dma_map_page(cam1, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
	assert_false(dma_mapping_error(cam0, a0));
	assert_false(dma_mapping_error(cam1, a1));
	assert_true(a0 != a1);
	assert_true(a1 <= DMA_BIT_MASK(26));
	/* One stream ID: each device reaches both mappings. */
	assert_int_equal(ik_dma_read(cam0, a1, &b, 1), 0);
	assert_int_equal(ik_dma_read(cam1, a0, &b, 1), 0);
	dma_unmap_page(cam0, a0, IK_SZ_4K, DMA_TO_DEVICE);
	dma_unmap_page(cam1, a1, IK_SZ_4K, DMA_TO_DEVICE);
	iommu_detach_group(d, g);
	iommu_group_put(g);
	iommu_domain_free(d);
	ik_machine_destroy(m);
}

/*
 * The cookie's IOVA allocator, as other users of the domain (iovmm) get it:
 * made on first use from the aperture (here a window set before that, as
 * the OMAP3 ISP's 2 GiB at 1 GiB), granule = the smallest page, never pfn
 * 0; what they take with alloc_iova() the DMA API never hands out.
 */
static void test_cookie_iovad_and_window(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = pages_with_pattern(f, 1, 3);

	errno = 0;
	assert_int_equal(ik_iommu_dma_set_window(f->dom, IK_SZ_1G, 2 * IK_SZ_1G), 0);
	struct iova_domain *iovad = iommu_dma_get_iovad(f->dom);
	assert_non_null(iovad);
	assert_ptr_equal(iommu_dma_get_iovad(f->dom), iovad);
	assert_int_equal(iovad->granule, IK_SZ_4K);
	assert_int_equal(iovad->start_pfn, IK_SZ_1G >> 12);
	/* Made now: the window can no longer change. */
	assert_int_equal(ik_iommu_dma_set_window(f->dom, IK_SZ_1G, IK_SZ_1G), -EBUSY);
	/* Another user takes the top 1 MiB of the window... */
	struct iova *taken = alloc_iova(iovad, 256, (3 * IK_SZ_1G - 1) >> 12, true);
	assert_non_null(taken);
	/* ...and the DMA API allocates inside the window, around it. */
	for (int i = 0; i < 300; i++) {
		dma_addr_t a = dma_map_page(f->dev, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);

		assert_false(dma_mapping_error(f->dev, a));
		assert_true(a >= IK_SZ_1G && a < 3 * IK_SZ_1G);
		assert_true(a >> 12 < taken->pfn_lo || a >> 12 > taken->pfn_hi);
		dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	}
	assert_int_equal(__free_iova(iovad, taken), 0);
	/* Not a DMA domain: no allocator. */
	struct iommu_domain *plain = iommu_paging_domain_alloc(f->dev);
	errno = 0;
	assert_null(iommu_dma_get_iovad(plain));
	assert_int_equal(errno, EINVAL);
	assert_null(iommu_dma_get_iovad(NULL));
	iommu_domain_free(plain);
	ik_mem_free_pages(f->mem, pa, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define BOTH(fn, setup)                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &strict_type),      \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &lazy_type)
		BOTH(test_map_page_roundtrip, setup_smmu),
		BOTH(test_map_page_roundtrip, setup_omap),
		BOTH(test_map_single_from_cpu_pointer, setup_smmu),
		BOTH(test_iova_below_mask, setup_smmu),
		BOTH(test_iova_below_mask, setup_omap),
		BOTH(test_exhausted_iova_space, setup_smmu),
		BOTH(test_direction_enforced_on_smmu, setup_smmu),
		cmocka_unit_test_setup_teardown(test_omap_cannot_enforce_direction, setup_omap,
						teardown),
		BOTH(test_sg_whole_pages_merge, setup_smmu),
		BOTH(test_sg_whole_pages_merge, setup_omap),
		BOTH(test_sg_merge_only_at_granule_boundaries, setup_smmu),
		BOTH(test_sg_max_segment_size, setup_smmu),
		BOTH(test_sg_segment_boundary, setup_smmu),
		BOTH(test_sg_segment_boundary, setup_omap),
		BOTH(test_sg_entries_sharing_a_page, setup_smmu),
		BOTH(test_sg_unmap_with_original_nents, setup_smmu),
		BOTH(test_sg_unmap_with_original_nents, setup_omap),
		cmocka_unit_test_prestate(test_coherent_scattered_pages_contiguous_view,
					  &strict_type),
		cmocka_unit_test_prestate(test_coherent_scattered_pages_contiguous_view,
					  &lazy_type),
		BOTH(test_coherent_large, setup_smmu),
		BOTH(test_coherent_large, setup_omap),
		cmocka_unit_test_setup_teardown(test_identity_and_unmanaged_domains_are_direct,
						setup_smmu, teardown),
		BOTH(test_cookie_iovad_and_window, setup_omap),
		cmocka_unit_test_prestate(test_group_shares_the_cookie, &strict_type),
		cmocka_unit_test_prestate(test_group_shares_the_cookie, &lazy_type),
#undef BOTH
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
