// SPDX-License-Identifier: MIT
/*
 * dma-debug (src/dma/debug.c): each misuse it catches is made once, and
 * the test checks the counter it lands in, the message, and that the bad
 * call did no harm (other mappings intact, nothing unmapped twice, nothing
 * leaked). Run behind an IOMMU (the "smmu" machine's gpu, strict domain),
 * where a wrong unmap could hit another mapping, and without one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>
#include "ik/dma.h"

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct iommu_domain *dom;
	phys_addr_t buf; /* 8 pages */
	struct ik_log_capture log;
};

static int setup(void **state)
{
	const char *devname = *state;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ik_dma_debug_set_enabled(true);
	f->m = ik_machine_create(ik_machine_desc_builtin("smmu"));
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->dev = ik_machine_device(f->m, devname);
	if (ik_device_iommu_name(f->dev)) {
		f->dom = iommu_domain_alloc_type(f->dev, IOMMU_DOMAIN_DMA);
		assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	} else {
		/* DRAM is above 4 GiB. */
		assert_int_equal(dma_set_mask_and_coherent(f->dev, DMA_BIT_MASK(40)), 0);
	}
	f->buf = ik_test_alloc(f->m, 8 * IK_SZ_4K, IK_SZ_4K);
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
	if (f->dom) {
		iommu_detach_device(f->dom, f->dev);
		iommu_domain_free(f->dom);
	}
	ik_mem_free_pages(f->mem, f->buf, 8);
	ik_machine_destroy(f->m);
	free(f);
	return 0;
}

static struct ik_dma_debug_stats stats(void)
{
	struct ik_dma_debug_stats st;

	ik_dma_debug_get_stats(&st);
	return st;
}

/* The last message logged contains @what. */
static void logged(struct fx *f, const char *what)
{
	if (!strstr(f->log.last, what))
		fail_msg("expected a message with \"%s\", last was \"%s\"", what, f->log.last);
}

static bool device_can_read(struct fx *f, dma_addr_t a)
{
	uint8_t b;

	return ik_dma_read(f->dev, a, &b, 1) == 0;
}

static void test_unmap_of_nothing(void **state)
{
	struct fx *f = *state;
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, 2 * IK_SZ_4K, DMA_TO_DEVICE);

	/* The second page of a live mapping was never mapped on its own. */
	dma_unmap_page(f->dev, a + IK_SZ_4K, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	assert_int_equal(stats().errors, 1);
	logged(f, "nothing is mapped there");
	/* And it was not touched: the whole mapping still works. */
	assert_true(device_can_read(f, a + IK_SZ_4K));
	assert_int_equal(stats().live_mappings, 1);
	dma_unmap_page(f->dev, a, 2 * IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().live_mappings, 0);
	assert_int_equal(stats().errors, 1);
}

/*
 * A second unmap of a handle that was mapped again in between cannot be
 * told from an unmap of the new mapping (as in Linux): the new mapping
 * goes, and its own unmap is then the one reported. Without an IOMMU the
 * address is the same physical buffer, mapped in another direction here.
 */
static void test_double_unmap_after_reuse(void **state)
{
	struct fx *f = *state;
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);

	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	dma_addr_t b = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, IK_SZ_4K, DMA_TO_DEVICE);
	if (f->dom)
		assert_int_equal(b, a); /* the IOVA came straight back from the cache */
	else
		b = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_FROM_DEVICE); /* same address */
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	if (!f->dom) {
		/* Without an IOMMU the address is live again: a direction mismatch. */
		assert_int_equal(stats().bad_unmap, 1);
		logged(f, "mapped from-device");
		dma_unmap_page(f->dev, f->buf + IK_SZ_4K, IK_SZ_4K, DMA_TO_DEVICE);
		dma_unmap_page(f->dev, f->buf + IK_SZ_4K, IK_SZ_4K, DMA_TO_DEVICE);
		logged(f, "already unmapped");
		assert_int_equal(stats().bad_unmap, 2);
		return;
	}
	/* Behind the IOMMU: a and b are the same IOVA, the second unmap is b's... */
	assert_int_equal(stats().bad_unmap, 0);
	assert_false(device_can_read(f, b));
	dma_unmap_page(f->dev, b, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "already unmapped");
}

/* The real double unmap: the same handle twice with nothing mapped in between. */
static void test_double_unmap_refused(void **state)
{
	struct fx *f = *state;
	dma_addr_t keep = dma_map_page(f->dev, f->buf + 2 * IK_SZ_4K, 0, IK_SZ_4K, DMA_TO_DEVICE);
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);

	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "already unmapped (double unmap_page");
	assert_true(device_can_read(f, keep));
	dma_unmap_page(f->dev, keep, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().errors, 1);
}

/* A wrong size is reported and the mapping undone as mapped: nothing leaks, no neighbour hit. */
static void test_unmap_wrong_size(void **state)
{
	struct fx *f = *state;
	dma_addr_t upper = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	dma_addr_t a = dma_map_page(f->dev, f->buf + IK_SZ_4K, 0, IK_SZ_4K, DMA_TO_DEVICE);

	if (f->dom)
		assert_int_equal(a + IK_SZ_4K, upper); /* top-down: a's neighbour */
	dma_unmap_page(f->dev, a, 2 * IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "with size 0x2000, mapped with 0x1000");
	assert_true(device_can_read(f, upper));
	if (f->dom)
		assert_false(device_can_read(f, a));
	assert_int_equal(stats().live_mappings, 1);
	dma_unmap_page(f->dev, upper, IK_SZ_4K, DMA_TO_DEVICE);
}

static void test_unmap_wrong_direction(void **state)
{
	struct fx *f = *state;
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);

	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "as from-device, mapped to-device");
	assert_int_equal(stats().live_mappings, 0);
}

static void test_unmap_wrong_type(void **state)
{
	struct fx *f = *state;
	struct scatterlist sg[2];

	/* single/page mix-ups are reported, and harmless. */
	dma_addr_t a = dma_map_single(f->dev, ik_mem_ptr(f->mem, f->buf, 16), 16, DMA_TO_DEVICE);
	dma_unmap_page(f->dev, a, 16, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "which was mapped as single");
	assert_int_equal(stats().live_mappings, 0);

	/* A scatterlist undone as a single mapping is refused: the list stays mapped. */
	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], f->buf, IK_SZ_4K);
	sg_set_phys(&sg[1], f->buf + 3 * IK_SZ_4K, IK_SZ_4K);
	int n = dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE);
	assert_true(n >= 1);
	dma_unmap_single(f->dev, sg_dma_address(&sg[0]), sg_dma_len(&sg[0]), DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 2);
	logged(f, "mapped as scatter-gather; refused");
	assert_true(device_can_read(f, sg_dma_address(&sg[0])));
	/* unmap_sg with the count map_sg returned instead of nents: reported, done right. */
	if (n == 1) {
		dma_unmap_sg(f->dev, sg, 1, DMA_TO_DEVICE);
		assert_int_equal(stats().bad_unmap, 3);
		logged(f, "with 1 entries, mapped with 2");
	} else {
		dma_unmap_sg(f->dev, sg, 2, DMA_TO_DEVICE);
	}
	assert_int_equal(stats().live_mappings, 0);
	if (f->dom)
		assert_false(device_can_read(f, sg_dma_address(&sg[0])));

	/* A coherent buffer unmapped as a streaming one: refused. */
	dma_addr_t h;
	void *cpu = dma_alloc_coherent(f->dev, IK_SZ_4K, &h, GFP_KERNEL);
	assert_non_null(cpu);
	uint64_t before = stats().bad_unmap;
	dma_unmap_page(f->dev, h, IK_SZ_4K, DMA_BIDIRECTIONAL);
	assert_int_equal(stats().bad_unmap, before + 1);
	logged(f, "mapped as coherent; refused");
	assert_true(device_can_read(f, h));
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);
}

/* The list changed between map and unmap: the unmap would lay it out differently. */
static void test_unmap_sg_of_a_changed_list(void **state)
{
	struct fx *f = *state;
	struct scatterlist sg[2];

	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], f->buf, IK_SZ_4K);
	sg_set_phys(&sg[1], f->buf + 2 * IK_SZ_4K, IK_SZ_4K);
	assert_true(dma_map_sg(f->dev, sg, 2, DMA_TO_DEVICE) >= 1);
	sg[1].length = 0x800;
	dma_unmap_sg(f->dev, sg, 2, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "entry 1 changed since the map");
	sg[1].length = IK_SZ_4K;
	dma_unmap_sg(f->dev, sg, 2, DMA_TO_DEVICE);
	assert_int_equal(stats().live_mappings, 0);
	assert_int_equal(stats().errors, 1);
}

static void test_free_coherent_mismatch(void **state)
{
	struct fx *f = *state;
	dma_addr_t h;
	uint8_t *cpu = dma_alloc_coherent(f->dev, IK_SZ_4K, &h, GFP_KERNEL);

	assert_non_null(cpu);
	dma_free_coherent(f->dev, IK_SZ_4K, cpu + 64, h);
	assert_int_equal(stats().bad_unmap, 1);
	logged(f, "refused");
	cpu[0] = 1; /* still ours */
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);
	assert_int_equal(stats().bad_unmap, 2);
	logged(f, "already unmapped (double free_coherent");
}

static void test_sync_checks(void **state)
{
	struct fx *f = *state;
	struct scatterlist sg[1];
	dma_addr_t h;

	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, 2 * IK_SZ_4K, DMA_FROM_DEVICE);
	/* Inside the mapping, right direction: fine, partial or whole. */
	dma_sync_single_for_cpu(f->dev, a + 0x100, 0x200, DMA_FROM_DEVICE);
	dma_sync_single_for_device(f->dev, a, 2 * IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(stats().errors, 0);
	/* Past its end. */
	dma_sync_single_for_cpu(f->dev, a + IK_SZ_4K, 2 * IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(stats().bad_sync, 1);
	logged(f, "not inside a live mapping");
	/* Wrong direction: its cache maintenance would not be the mapping's. */
	dma_sync_single_for_cpu(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().bad_sync, 2);
	logged(f, "as to-device, mapped from-device");
	dma_unmap_page(f->dev, a, 2 * IK_SZ_4K, DMA_FROM_DEVICE);
	/* After the unmap. */
	dma_sync_single_for_device(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(stats().bad_sync, 3);

	/* A coherent buffer needs no sync. */
	void *cpu = dma_alloc_coherent(f->dev, IK_SZ_4K, &h, GFP_KERNEL);
	dma_sync_single_for_cpu(f->dev, h, 64, DMA_BIDIRECTIONAL);
	assert_int_equal(stats().bad_sync, 4);
	logged(f, "coherent buffer needs no sync");
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);

	/* sg: sync_sg with the list, not sync_single on a segment. */
	sg_init_table(sg, 1);
	sg_set_phys(&sg[0], f->buf, IK_SZ_4K);
	assert_int_equal(dma_map_sg(f->dev, sg, 1, DMA_BIDIRECTIONAL), 1);
	dma_sync_sg_for_cpu(f->dev, sg, 1, DMA_BIDIRECTIONAL);
	assert_int_equal(stats().bad_sync, 4);
	dma_sync_single_for_cpu(f->dev, sg_dma_address(&sg[0]), 64, DMA_BIDIRECTIONAL);
	assert_int_equal(stats().bad_sync, 5);
	logged(f, "use sync_sg");
	dma_sync_sg_for_device(f->dev, sg, 1, DMA_FROM_DEVICE);
	assert_int_equal(stats().bad_sync, 6);
	dma_unmap_sg(f->dev, sg, 1, DMA_BIDIRECTIONAL);
	dma_sync_sg_for_cpu(f->dev, sg, 1, DMA_BIDIRECTIONAL);
	assert_int_equal(stats().bad_sync, 7);
	assert_int_equal(stats().errors, 7);
}

/* Leaks: at the check, at detach from a DMA domain (the core's hook). */
static void test_leaks(void **state)
{
	struct fx *f = *state;
	dma_addr_t h;

	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	void *cpu = dma_alloc_coherent(f->dev, IK_SZ_4K, &h, GFP_KERNEL);
	assert_int_equal(stats().live_mappings, 2);
	assert_int_equal(ik_dma_debug_check_leaks(f->dev), 2);
	assert_int_equal(stats().leaked, 2);
	assert_int_equal(stats().live_mappings, 0);
	logged(f, "still live at the leak check");
	/* Reported once: the check forgot them. */
	assert_int_equal(ik_dma_debug_check_leaks(f->dev), 0);
	/*
	 * dma-debug no longer knows them, so their unmaps would be refused as
	 * unmaps of nothing; the real leak-free path is to unmap before the
	 * check. Undo them with dma-debug off.
	 */
	ik_dma_debug_set_enabled(false);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);
	ik_dma_debug_set_enabled(true);

	if (!f->dom)
		return;
	a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	iommu_detach_device(f->dom, f->dev);
	assert_int_equal(stats().leaked, 3);
	logged(f, "when it left its DMA domain");
	assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	ik_dma_debug_set_enabled(false);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	ik_dma_debug_set_enabled(true);
}

/* The CPU access helpers report to dma-debug themselves. */
static void test_cpu_helpers_report(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = f->buf;
	uint64_t before = stats().cpu_device_owned;
	char b[8] = { 0 };

	dma_addr_t a = dma_map_page(f->dev, p, 0, IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(ik_cpu_read(f->m, p + 8, b, sizeof(b)), 0);
	assert_int_equal(stats().cpu_device_owned, before + 1);
	assert_int_equal(ik_cpu_write(f->m, p + 8, b, sizeof(b)), 0);
	assert_int_equal(stats().cpu_device_owned, before + 2);
	dma_sync_single_for_cpu(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	assert_int_equal(ik_cpu_read(f->m, p + 8, b, sizeof(b)), 0); /* the CPU's now */
	assert_int_equal(stats().cpu_device_owned, before + 2);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	ik_dma_debug_reset_stats();
}

/* CPU accesses as the CPU access path reports them (ik_dma_debug_cpu_access()). */
static void test_cpu_access(void **state)
{
	struct fx *f = *state;
	phys_addr_t p = f->buf;

	/* A device owns a FROM_DEVICE buffer: the CPU may neither read nor write it. */
	dma_addr_t a = dma_map_page(f->dev, p, 0, IK_SZ_4K, DMA_FROM_DEVICE);
	char msg[64];
	ik_dma_debug_cpu_access(f->m, p + 0x10, 4, false);
	assert_int_equal(stats().cpu_device_owned, 1);
	snprintf(msg, sizeof(msg), "while %s owns it", ik_device_name(f->dev));
	logged(f, msg);
	ik_dma_debug_cpu_access(f->m, p + 0xffc, 8, true); /* overlaps the end */
	assert_int_equal(stats().cpu_device_owned, 2);
	ik_dma_debug_cpu_access(f->m, p + IK_SZ_4K, 8, true); /* just past it */
	assert_int_equal(stats().cpu_device_owned, 2);
	/* Handed back with a sync: the CPU's now. */
	dma_sync_single_for_cpu(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	ik_dma_debug_cpu_access(f->m, p, 8, false);
	assert_int_equal(stats().cpu_device_owned, 2);
	/* And the device's again. */
	dma_sync_single_for_device(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	ik_dma_debug_cpu_access(f->m, p, 8, false);
	assert_int_equal(stats().cpu_device_owned, 3);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	/* After the unmap the buffer is the CPU's: no error. */
	ik_dma_debug_cpu_access(f->m, p, 8, true);
	assert_int_equal(stats().cpu_device_owned, 3);

	/* TO_DEVICE: both may read; a CPU write is an error. */
	a = dma_map_page(f->dev, p, 0, IK_SZ_4K, DMA_TO_DEVICE);
	ik_dma_debug_cpu_access(f->m, p, 8, false);
	assert_int_equal(stats().cpu_device_owned, 3);
	ik_dma_debug_cpu_access(f->m, p, 8, true);
	assert_int_equal(stats().cpu_device_owned, 4);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);

	/* A scatterlist's entries are watched one by one. */
	struct scatterlist sg[2];
	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], p + 4 * IK_SZ_4K, IK_SZ_4K);
	sg_set_phys(&sg[1], p + 6 * IK_SZ_4K, IK_SZ_4K);
	assert_true(dma_map_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL) >= 1);
	ik_dma_debug_cpu_access(f->m, p + 5 * IK_SZ_4K, 8, true); /* between them */
	assert_int_equal(stats().cpu_device_owned, 4);
	ik_dma_debug_cpu_access(f->m, p + 6 * IK_SZ_4K + 8, 8, false);
	assert_int_equal(stats().cpu_device_owned, 5);
	dma_unmap_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL);

	/* A coherent buffer is shared: fine while live, an error once freed. */
	dma_addr_t h;
	uint8_t *cpu = dma_alloc_coherent(f->dev, 2 * IK_SZ_4K, &h, GFP_KERNEL);
	phys_addr_t cp;
	assert_int_equal(ik_mem_virt_to_phys(f->mem, cpu + IK_SZ_4K, &cp), 0);
	ik_dma_debug_cpu_access(f->m, cp, 8, true);
	assert_int_equal(stats().errors, 5);
	dma_free_coherent(f->dev, 2 * IK_SZ_4K, cpu, h);
	ik_dma_debug_cpu_access(f->m, cp + 8, 8, false);
	assert_int_equal(stats().use_after_unmap, 1);
	snprintf(msg, sizeof(msg), "coherent buffer %s freed", ik_device_name(f->dev));
	logged(f, msg);
	/* Once the memory is the DMA API's again, it is forgotten. */
	cpu = dma_alloc_coherent(f->dev, 2 * IK_SZ_4K, &h, GFP_KERNEL);
	ik_dma_debug_cpu_access(f->m, cp + 8, 8, false);
	assert_int_equal(stats().use_after_unmap, 1);
	dma_free_coherent(f->dev, 2 * IK_SZ_4K, cpu, h);
	assert_int_equal(stats().errors, 6);
}

/*
 * Switched off, dma-debug checks nothing and counts nothing. (A mapping made
 * while it is off makes it lenient for good: see test_enabled_late.)
 */
static void test_off(void **state)
{
	struct fx *f = *state;

	ik_dma_debug_set_enabled(false);
	assert_false(ik_dma_debug_enabled());
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	dma_sync_single_for_cpu(f->dev, a, IK_SZ_4K, DMA_FROM_DEVICE);
	ik_dma_debug_cpu_access(f->m, f->buf, 8, true);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().errors, 0);
	assert_int_equal(stats().live_mappings, 0);
	ik_dma_debug_set_enabled(true);
}

/*
 * Switched on after a mapping was made: that mapping's unmap is unknown to
 * dma-debug, which then lets it through (and only notes it) rather than
 * leaking it. Run last: the process stays in that mode.
 */
static void test_enabled_late(void **state)
{
	struct fx *f = *state;

	ik_dma_debug_set_enabled(false);
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, IK_SZ_4K, DMA_TO_DEVICE);
	ik_dma_debug_set_enabled(true);
	dma_unmap_page(f->dev, a, IK_SZ_4K, DMA_TO_DEVICE);
	assert_int_equal(stats().errors, 0);
	if (f->dom)
		assert_int_equal(iommu_iova_to_phys(f->dom, a), 0);
}

int main(void)
{
	static const char gpu[] = "gpu", dma[] = "dma";
	const struct CMUnitTest tests[] = {
#define BOTH(fn)                                                                  \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)gpu), \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)dma)
		BOTH(test_unmap_of_nothing),
		BOTH(test_double_unmap_after_reuse),
		BOTH(test_double_unmap_refused),
		BOTH(test_unmap_wrong_size),
		BOTH(test_unmap_wrong_direction),
		BOTH(test_unmap_wrong_type),
		BOTH(test_unmap_sg_of_a_changed_list),
		BOTH(test_free_coherent_mismatch),
		BOTH(test_sync_checks),
		BOTH(test_leaks),
		BOTH(test_cpu_helpers_report),
		BOTH(test_cpu_access),
		BOTH(test_off),
		BOTH(test_enabled_late),
#undef BOTH
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
