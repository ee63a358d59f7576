// SPDX-License-Identifier: MIT
/*
 * DMA on a machine whose devices do not snoop the CPU cache (the default
 * "omap3"): the CPU reads and writes through a write-back cache
 * (ik_cpu_read/ik_cpu_write), devices see memory. The DMA API's ownership
 * transfers must do the cache maintenance:
 *   map / sync_for_device, TO_DEVICE or BIDIRECTIONAL: clean, so the
 *     device reads what the CPU wrote;
 *   unmap / sync_for_cpu, FROM_DEVICE or BIDIRECTIONAL: invalidate, so the
 *     CPU reads what the device wrote.
 * Each rule is shown both ways: with the calls the data is right, and with
 * a call left out (DMA_ATTR_SKIP_CPU_SYNC, or a missing sync) the device
 * or the CPU sees stale data. Run for a device behind the ISP MMU (IOMMU
 * ops) and for the system DMA controller (direct ops).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include <iommukit/dma-mapping.h>

#define LEN 0x1000

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct iommu_domain *dom;
	phys_addr_t buf;
};

static int setup(void **state)
{
	const char *name = *state;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ik_dma_debug_set_enabled(true);
	f->m = ik_machine_create_default();
	assert_non_null(f->m);
	assert_false(ik_machine_dma_coherent(f->m));
	f->mem = ik_machine_mem(f->m);
	f->dev = ik_machine_device(f->m, name);
	assert_non_null(f->dev);
	if (ik_device_iommu_name(f->dev)) {
		f->dom = iommu_domain_alloc_type(f->dev, IOMMU_DOMAIN_DMA);
		assert_int_equal(iommu_attach_device(f->dom, f->dev), 0);
	}
	/* Cache-line aligned, as DMA buffers must be on a non-coherent machine. */
	f->buf = ik_test_alloc(f->m, LEN, IK_SZ_4K);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct ik_dma_debug_stats st;

	ik_dma_debug_get_stats(&st);
	assert_int_equal(ik_dma_debug_check_leaks(f->dev), 0);
	ik_mem_free_pages(f->mem, f->buf, 1);
	if (f->dom) {
		iommu_detach_device(f->dom, f->dev);
		iommu_domain_free(f->dom);
	}
	ik_machine_destroy(f->m);
	free(f);
	return 0;
}

static void fill(uint8_t *p, int seed)
{
	for (int i = 0; i < LEN; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* The CPU writes @seed's pattern into the buffer: it stays dirty in the cache. */
static void cpu_writes(struct fx *f, int seed)
{
	uint8_t p[LEN];

	fill(p, seed);
	assert_int_equal(ik_cpu_write(f->m, f->buf, p, LEN), 0);
}

/* Whether the CPU reads @seed's pattern. */
static bool cpu_reads(struct fx *f, int seed)
{
	uint8_t p[LEN], want[LEN];

	fill(want, seed);
	assert_int_equal(ik_cpu_read(f->m, f->buf, p, LEN), 0);
	return !memcmp(p, want, LEN);
}

static void device_writes(struct fx *f, dma_addr_t a, int seed)
{
	uint8_t p[LEN];

	fill(p, seed);
	assert_int_equal(ik_dma_write(f->dev, a, p, LEN), 0);
}

static bool device_reads(struct fx *f, dma_addr_t a, int seed)
{
	uint8_t p[LEN], want[LEN];

	fill(want, seed);
	assert_int_equal(ik_dma_read(f->dev, a, p, LEN), 0);
	return !memcmp(p, want, LEN);
}

/* Memory starts as pattern 1, and the CPU has it cached clean. */
static void start_clean(struct fx *f)
{
	uint8_t p[LEN];

	fill(p, 1);
	assert_int_equal(ik_mem_write(f->mem, f->buf, p, LEN), 0);
	assert_int_equal(ik_cpu_cache_invalidate(f->m, f->buf, LEN), 0);
	assert_true(cpu_reads(f, 1));
}

static void test_to_device(void **state)
{
	struct fx *f = *state;

	start_clean(f);
	cpu_writes(f, 2);
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, LEN, DMA_TO_DEVICE);
	assert_true(device_reads(f, a, 2)); /* the map cleaned the cache */
	dma_unmap_page(f->dev, a, LEN, DMA_TO_DEVICE);

	/* Without the clean, the device reads what memory held before. */
	start_clean(f);
	cpu_writes(f, 3);
	a = dma_map_page_attrs(f->dev, f->buf, 0, LEN, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
	assert_false(device_reads(f, a, 3));
	assert_true(device_reads(f, a, 1));
	dma_unmap_page(f->dev, a, LEN, DMA_TO_DEVICE);
}

/*
 * The CPU holds the buffer's old contents in its cache (start_clean); real
 * CPUs may also fetch lines speculatively while the device owns a buffer,
 * which is why the unmap invalidates even though the map already did.
 */
static void test_from_device(void **state)
{
	struct fx *f = *state;

	/* The whole flow: map, device writes, unmap, the CPU reads the new data. */
	start_clean(f);
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, LEN, DMA_FROM_DEVICE);
	device_writes(f, a, 4);
	dma_unmap_page(f->dev, a, LEN, DMA_FROM_DEVICE);
	assert_true(cpu_reads(f, 4));

	/* Stale lines survive the map (skipped): the unmap's invalidation alone fixes it. */
	start_clean(f);
	a = dma_map_page_attrs(f->dev, f->buf, 0, LEN, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
	device_writes(f, a, 5);
	dma_unmap_page(f->dev, a, LEN, DMA_FROM_DEVICE);
	assert_true(cpu_reads(f, 5));

	/* Without any invalidation, the CPU keeps reading its stale lines. */
	start_clean(f);
	a = dma_map_page_attrs(f->dev, f->buf, 0, LEN, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
	device_writes(f, a, 6);
	dma_unmap_page_attrs(f->dev, a, LEN, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
	assert_false(cpu_reads(f, 6));
	assert_true(cpu_reads(f, 1));
}

/*
 * A dirty line left over from before the map must not be written back over
 * what the device wrote: the map of a FROM_DEVICE buffer cleans and drops
 * it, so a later eviction has nothing to write.
 */
static void test_from_device_dirty_lines_dropped(void **state)
{
	struct fx *f = *state;

	start_clean(f);
	cpu_writes(f, 7); /* dirty */
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, LEN, DMA_FROM_DEVICE);
	device_writes(f, a, 8);
	/* Whatever the cache does now (here: write back everything it holds)... */
	assert_int_equal(ik_cpu_cache_clean(f->m, f->buf, LEN), 0);
	dma_unmap_page(f->dev, a, LEN, DMA_FROM_DEVICE);
	/* ...the device's data survives. */
	assert_true(cpu_reads(f, 8));
}

/* A long-lived bidirectional buffer, handed back and forth with syncs. */
static void test_bidirectional_syncs(void **state)
{
	struct fx *f = *state;

	start_clean(f);
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, LEN, DMA_BIDIRECTIONAL);
	for (int round = 0; round < 3; round++) {
		/* Device writes, CPU reads: needs sync_for_cpu. */
		device_writes(f, a, 10 + round);
		dma_sync_single_for_cpu(f->dev, a, LEN, DMA_BIDIRECTIONAL);
		assert_true(cpu_reads(f, 10 + round));
		/* CPU writes, device reads: needs sync_for_device. */
		cpu_writes(f, 20 + round);
		dma_sync_single_for_device(f->dev, a, LEN, DMA_BIDIRECTIONAL);
		assert_true(device_reads(f, a, 20 + round));
	}
	/* Leave out the syncs and both sides see old data. */
	assert_true(cpu_reads(f, 22));
	device_writes(f, a, 30);
	assert_false(cpu_reads(f, 30));
	dma_sync_single_for_cpu(f->dev, a, LEN, DMA_BIDIRECTIONAL);
	assert_true(cpu_reads(f, 30));
	cpu_writes(f, 31);
	assert_false(device_reads(f, a, 31));
	dma_sync_single_for_device(f->dev, a, LEN, DMA_BIDIRECTIONAL);
	assert_true(device_reads(f, a, 31));
	dma_unmap_page(f->dev, a, LEN, DMA_BIDIRECTIONAL);
}

/* Partial syncs reach the lines of that range only. */
static void test_partial_sync(void **state)
{
	struct fx *f = *state;
	uint8_t p[LEN], want[LEN];

	start_clean(f);
	/* Bidirectional: the map cleans, and the CPU's clean lines stay. */
	dma_addr_t a = dma_map_page(f->dev, f->buf, 0, LEN, DMA_BIDIRECTIONAL);
	device_writes(f, a, 40);
	dma_sync_single_for_cpu(f->dev, a + 0x400, 0x400, DMA_BIDIRECTIONAL);
	assert_int_equal(ik_cpu_read(f->m, f->buf, p, LEN), 0);
	fill(want, 40);
	assert_memory_equal(p + 0x400, want + 0x400, 0x400); /* synced */
	fill(want, 1);
	assert_memory_equal(p, want, 0x400);                 /* still stale */
	dma_sync_single_for_device(f->dev, a, LEN, DMA_BIDIRECTIONAL);
	dma_unmap_page(f->dev, a, LEN, DMA_BIDIRECTIONAL);
	assert_true(cpu_reads(f, 40));
}

static void test_sg(void **state)
{
	struct fx *f = *state;
	struct scatterlist sg[2];

	start_clean(f);
	cpu_writes(f, 50);
	sg_init_table(sg, 2);
	sg_set_phys(&sg[0], f->buf, LEN / 2);
	sg_set_phys(&sg[1], f->buf + LEN / 2, LEN / 2);
	int n = dma_map_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL);
	assert_true(n >= 1);
	/* The device reads the CPU's data through the segments. */
	uint8_t got[LEN], want[LEN];
	size_t done = 0;
	for (int i = 0; i < n; i++) {
		assert_int_equal(ik_dma_read(f->dev, sg_dma_address(&sg[i]), got + done,
					     sg_dma_len(&sg[i])), 0);
		done += sg_dma_len(&sg[i]);
	}
	fill(want, 50);
	assert_memory_equal(got, want, LEN);
	/* The device overwrites it; sync_sg_for_cpu makes it visible. */
	fill(want, 51);
	done = 0;
	for (int i = 0; i < n; i++) {
		assert_int_equal(ik_dma_write(f->dev, sg_dma_address(&sg[i]), want + done,
					      sg_dma_len(&sg[i])), 0);
		done += sg_dma_len(&sg[i]);
	}
	assert_false(cpu_reads(f, 51));
	dma_sync_sg_for_cpu(f->dev, sg, 2, DMA_BIDIRECTIONAL);
	assert_true(cpu_reads(f, 51));
	cpu_writes(f, 52);
	dma_sync_sg_for_device(f->dev, sg, 2, DMA_BIDIRECTIONAL);
	dma_unmap_sg(f->dev, sg, 2, DMA_BIDIRECTIONAL);
	assert_true(cpu_reads(f, 52));
	uint8_t mem[LEN];
	ik_mem_read(f->mem, f->buf, mem, LEN);
	fill(want, 52);
	assert_memory_equal(mem, want, LEN);
}

/*
 * Coherent buffers: the CPU's pointer is uncached, so both sides see each
 * other's writes at once. And the allocation drops lines the CPU still had
 * dirty for those pages, so a later write-back cannot land in the buffer.
 */
static void test_coherent(void **state)
{
	struct fx *f = *state;
	dma_addr_t h;
	uint8_t b = 0xab;

	/* Leave dirty lines for a page, then free the page: the next allocation reuses it. */
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	uint8_t junk[256];
	memset(junk, 0xee, sizeof(junk));
	assert_int_equal(ik_cpu_write(f->m, pa, junk, sizeof(junk)), 0);
	ik_mem_free_pages(f->mem, pa, 1);

	uint8_t *cpu = dma_alloc_coherent(f->dev, IK_SZ_4K, &h, GFP_KERNEL);
	assert_non_null(cpu);
	phys_addr_t got;
	assert_int_equal(ik_mem_virt_to_phys(f->mem, cpu, &got), 0);
	assert_int_equal(got, pa); /* the allocator reuses freed pages first */
	/* Whatever the cache writes back now, the buffer stays zero. */
	assert_int_equal(ik_cpu_cache_clean(f->m, pa, IK_SZ_4K), 0);
	for (int i = 0; i < 256; i++)
		assert_int_equal(cpu[i], 0);
	cpu[3] = 0x12;
	uint8_t r;
	assert_int_equal(ik_dma_read(f->dev, h + 3, &r, 1), 0);
	assert_int_equal(r, 0x12);
	assert_int_equal(ik_dma_write(f->dev, h + 5, &b, 1), 0);
	assert_int_equal(cpu[5], 0xab);
	dma_free_coherent(f->dev, IK_SZ_4K, cpu, h);
}

int main(void)
{
	static const char isp[] = "isp", sdma[] = "sdma";
	const struct CMUnitTest tests[] = {
#define BOTH(fn)                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)isp), \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)sdma)
		BOTH(test_to_device),
		BOTH(test_from_device),
		BOTH(test_from_device_dirty_lines_dropped),
		BOTH(test_bidirectional_syncs),
		BOTH(test_partial_sync),
		BOTH(test_sg),
		BOTH(test_coherent),
#undef BOTH
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
