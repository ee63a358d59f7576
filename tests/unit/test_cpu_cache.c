// SPDX-License-Identifier: MIT
/*
 * The CPU cache model (src/hw/cpu_cache.c) and the CPU's view of memory:
 * on a non-coherent machine CPU writes stay in the cache until cleaned,
 * device writes stay invisible to cached lines until invalidated, dirty
 * victims reach memory when evicted; on a coherent machine the CPU sees
 * memory itself.
 *
 * Geometry arithmetic used below, worked out from the model's definition
 * (a line at pa goes to set (pa / line) % sets):
 *  - the default omap3 machine: 256 KiB / 64-byte lines = 4096 lines, in
 *    8 ways = 512 sets;
 *  - the small machine here: 1 KiB / 64 = 16 lines, 8 ways, 2 sets. Lines
 *    128 bytes apart (2 sets * 64) fall in the same set; line-aligned
 *    addresses with bit 6 clear are in set 0.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ik/cpu-cache.h"
#include "ik/machine.h"
#include "ik_test.h"

#define LINE 64
#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (16ULL << 20)
#define SET_STRIDE 128 /* small machine: 2 sets of 64-byte lines */

static const struct ik_region_desc small_regions[] = {
	{ "dram", RAM_BASE, RAM_SIZE },
	{ "dram2", RAM_BASE + RAM_SIZE, 1ULL << 20 }, /* adjacent */
};
static const struct ik_master_desc small_masters[] = { { "dma", NULL, 0 } };

static struct ik_machine_desc small_desc(unsigned int flags, unsigned int line,
					 unsigned int size)
{
	return (struct ik_machine_desc){
		.size = sizeof(struct ik_machine_desc),
		.name = "cachebox",
		.regions = small_regions,
		.nr_regions = ARRAY_SIZE(small_regions),
		.masters = small_masters,
		.nr_masters = ARRAY_SIZE(small_masters),
		.flags = flags,
		.cache_line = line,
		.cache_size = size,
	};
}

static struct ik_machine *small_machine(void)
{
	struct ik_machine_desc d = small_desc(IK_MACHINE_NONCOHERENT, 64, 1024);
	struct ik_machine *m = ik_machine_create(&d);

	assert_non_null(m);
	return m;
}

static void get_stats(struct ik_machine *m, struct ik_cpu_cache_stats *st)
{
	assert_int_equal(ik_machine_cpu_cache_stats(m, st), 0);
}

/* RAM at @pa holds @len bytes of @byte (memory itself, not the cache). */
static void assert_mem_is(struct ik_machine *m, phys_addr_t pa, int byte, size_t len)
{
	uint8_t buf[512];

	assert_true(len <= sizeof(buf));
	assert_int_equal(ik_mem_read(ik_machine_mem(m), pa, buf, len), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)byte)
			fail_msg("memory byte %zu at %#llx is %#x, not %#x", i,
				 (unsigned long long)pa, buf[i], byte);
}

/* The CPU reads @len bytes of @byte at @pa. */
static void assert_cpu_sees(struct ik_machine *m, phys_addr_t pa, int byte, size_t len)
{
	uint8_t buf[512];

	assert_true(len <= sizeof(buf));
	assert_int_equal(ik_cpu_read(m, pa, buf, len), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)byte)
			fail_msg("CPU byte %zu at %#llx is %#x, not %#x", i,
				 (unsigned long long)pa, buf[i], byte);
}

static void cpu_fill(struct ik_machine *m, phys_addr_t pa, int byte, size_t len)
{
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	memset(buf, byte, len);
	assert_int_equal(ik_cpu_write(m, pa, buf, len), 0);
}

/*
 * Held pages (page tables): the CPU's view lives apart from memory until
 * cleaned, is never evicted, reloads on invalidate, and ends when the
 * pages are freed.
 */
static void test_held_pages(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_mem *mem = ik_machine_mem(m);
	struct ik_cpu_cache *c = ik_machine_cpu_cache(m);
	struct ik_cpu_cache_stats st0, st;
	phys_addr_t pa = ik_test_alloc(m, 4096, 4096);

	/* A stale dirty line from the page's previous life is dropped, not written. */
	cpu_fill(m, pa, 0xaa, LINE);
	assert_int_equal(ik_cpu_cache_hold(c, pa, 4096), 0);
	assert_cpu_sees(m, pa, 0, LINE);
	assert_mem_is(m, pa, 0, LINE);
	assert_int_equal(ik_cpu_cache_line_state(c, pa), IK_CPU_LINE_CLEAN);

	/* A CPU write stays in the cache; the device-side check notices. */
	cpu_fill(m, pa + LINE, 0x5a, 8);
	assert_cpu_sees(m, pa + LINE, 0x5a, 8);
	assert_mem_is(m, pa + LINE, 0, 8);
	assert_int_equal(((uint8_t *)ik_mem_cpu_va(mem, pa + LINE))[7], 0x5a);
	assert_true(ik_cpu_cache_device_stale(c, pa + LINE, 8));
	assert_false(ik_cpu_cache_device_stale(c, pa, 8));
	assert_int_equal(ik_cpu_cache_line_state(c, pa + LINE), IK_CPU_LINE_DIRTY);

	/* Far more traffic than the 1 KiB cache holds, some in the same set: no eviction. */
	for (unsigned int i = 0; i < 64; i++)
		cpu_fill(m, pa + 4096 * 4 + i * SET_STRIDE, i, LINE);
	assert_mem_is(m, pa + LINE, 0, 8);
	assert_cpu_sees(m, pa + LINE, 0x5a, 8);

	/* Clean: memory gets it, the line stays held. */
	get_stats(m, &st0);
	assert_int_equal(ik_cpu_cache_clean(m, pa + LINE + 3, 1), 0);
	assert_mem_is(m, pa + LINE, 0x5a, 8);
	assert_false(ik_cpu_cache_device_stale(c, pa + LINE, 8));
	get_stats(m, &st);
	assert_int_equal(st.cleans - st0.cleans, 1);

	/* A device write is seen only after an invalidate, which reloads the line. */
	assert_int_equal(ik_mem_fill(mem, pa + 2 * LINE, 0x33, LINE), 0);
	assert_cpu_sees(m, pa + 2 * LINE, 0, LINE);
	assert_int_equal(ik_cpu_cache_invalidate(m, pa + 2 * LINE, LINE), 0);
	assert_cpu_sees(m, pa + 2 * LINE, 0x33, LINE);
	/* Invalidating a dirty held line discards the CPU's write. */
	cpu_fill(m, pa + 3 * LINE, 0x44, 4);
	get_stats(m, &st0);
	assert_int_equal(ik_cpu_cache_invalidate(m, pa + 3 * LINE, LINE), 0);
	get_stats(m, &st);
	assert_int_equal(st.dirty_discards - st0.dirty_discards, 1);
	assert_cpu_sees(m, pa + 3 * LINE, 0, 4);

	/* Freed, the page is ordinary memory again: CPU writes use normal lines. */
	ik_mem_free_pages(mem, pa, 1);
	cpu_fill(m, pa + LINE, 0x77, 8);
	assert_int_equal(((uint8_t *)ik_mem_cpu_va(mem, pa + LINE))[0], 0x5a);
	assert_mem_is(m, pa + LINE, 0x5a, 8);
	assert_cpu_sees(m, pa + LINE, 0x77, 8);
	assert_true(ik_cpu_cache_device_stale(c, pa + LINE, 8));
	assert_int_equal(ik_cpu_cache_flush(m, pa + LINE, 8), 0);
	assert_false(ik_cpu_cache_device_stale(c, pa + LINE, 8));
	assert_mem_is(m, pa + LINE, 0x77, 8);

	/* Bad ranges. */
	assert_int_equal(ik_cpu_cache_hold(c, pa + 8, 4096), -EINVAL);
	assert_int_equal(ik_cpu_cache_hold(c, pa, 100), -EINVAL);
	assert_int_equal(ik_cpu_cache_hold(c, RAM_BASE - 4096, 4096), -EFAULT);
	assert_false(ik_cpu_cache_device_stale(c, RAM_BASE - 4096, 4));
	ik_machine_destroy(m);
}

/* --- the built-in machines --- */

static void test_builtin_machines(void **state)
{
	(void)state;
	struct ik_machine *m = ik_machine_create_default();
	struct ik_cpu_cache_geometry g;
	struct ik_cpu_cache_stats st;

	assert_non_null(m);
	assert_false(ik_machine_dma_coherent(m));
	assert_non_null(ik_machine_cpu_cache(m));
	ik_cpu_cache_get_geometry(ik_machine_cpu_cache(m), &g);
	assert_int_equal(g.line, 64);
	assert_int_equal(g.size, 256 * 1024);
	assert_int_equal(g.ways, 8);
	assert_int_equal(g.sets, 512);
	get_stats(m, &st);
	assert_int_equal(st.hits + st.misses, 0);
	ik_machine_destroy(m);

	m = ik_machine_create(ik_machine_desc_builtin("smmu"));
	assert_non_null(m);
	assert_true(ik_machine_dma_coherent(m));
	assert_null(ik_machine_cpu_cache(m));
	assert_int_equal(ik_machine_cpu_cache_stats(m, &st), -ENODEV);
	assert_int_equal(ik_machine_cpu_cache_reset_stats(m), -ENODEV);
	ik_machine_destroy(m);

	assert_int_equal(ik_machine_cpu_cache_stats(NULL, &st), -EINVAL);
	assert_int_equal(ik_machine_cpu_cache_reset_stats(NULL), -EINVAL);
	assert_true(ik_machine_dma_coherent(NULL));
}

/* --- visibility between the CPU and devices (default omap3 machine, sDMA) --- */

/* A CPU write is invisible to a device until the line is cleaned. */
static void test_cpu_write_needs_clean(void **state)
{
	(void)state;
	struct ik_machine *m = ik_machine_create_default();
	struct device *sdma = ik_machine_device(m, "sdma");
	uint8_t buf[16];

	assert_non_null(sdma);
	phys_addr_t pa = ik_test_alloc(m, 4096, 4096);

	assert_int_equal(ik_cpu_write(m, pa + 8, "cpu data", 8), 0);
	assert_int_equal(ik_cpu_cache_line_state(ik_machine_cpu_cache(m), pa), IK_CPU_LINE_DIRTY);
	/* The device and memory see what was there before: zeroes. */
	assert_int_equal(ik_dma_read(sdma, pa + 8, buf, 8), 0);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
	assert_mem_is(m, pa, 0, LINE);
	/* The CPU sees its own write. */
	assert_int_equal(ik_cpu_read(m, pa + 8, buf, 8), 0);
	assert_memory_equal(buf, "cpu data", 8);

	assert_int_equal(ik_cpu_cache_clean(m, pa + 8, 8), 0);
	assert_int_equal(ik_dma_read(sdma, pa + 8, buf, 8), 0);
	assert_memory_equal(buf, "cpu data", 8);
	/* Cleaning keeps the line, now clean: the CPU still hits. */
	assert_int_equal(ik_cpu_cache_line_state(ik_machine_cpu_cache(m), pa), IK_CPU_LINE_CLEAN);
	struct ik_cpu_cache_stats st;

	get_stats(m, &st);
	assert_int_equal(st.cleans, 1);
	assert_int_equal(st.writebacks, 1);
	assert_int_equal(ik_cpu_read(m, pa + 8, buf, 8), 0);
	get_stats(m, &st);
	assert_int_equal(st.misses, 1); /* only the first write missed */
	assert_int_equal(st.hits, 2);
	ik_machine_destroy(m);
}

/* A device write is invisible to a CPU read of a cached line until invalidated. */
static void test_device_write_needs_invalidate(void **state)
{
	(void)state;
	struct ik_machine *m = ik_machine_create_default();
	struct device *sdma = ik_machine_device(m, "sdma");
	uint8_t buf[16];

	phys_addr_t pa = ik_test_alloc(m, 4096, 4096);

	/* The CPU reads the buffer first: its lines are now cached. */
	assert_cpu_sees(m, pa, 0, 2 * LINE);
	assert_int_equal(ik_dma_write(sdma, pa + 4, "from dev", 8), 0);
	assert_int_equal(ik_mem_write(ik_machine_mem(m), pa + LINE, "mem-wr", 6), 0);
	/* Stale: the CPU still reads its cached copies. */
	assert_cpu_sees(m, pa, 0, 2 * LINE);
	/* A line that was not cached is read from memory. */
	assert_int_equal(ik_dma_write(sdma, pa + 4 * LINE, "uncached", 8), 0);
	assert_int_equal(ik_cpu_read(m, pa + 4 * LINE, buf, 8), 0);
	assert_memory_equal(buf, "uncached", 8);

	assert_int_equal(ik_cpu_cache_invalidate(m, pa, 2 * LINE), 0);
	assert_int_equal(ik_cpu_read(m, pa + 4, buf, 8), 0);
	assert_memory_equal(buf, "from dev", 8);
	assert_int_equal(ik_cpu_read(m, pa + LINE, buf, 6), 0);
	assert_memory_equal(buf, "mem-wr", 6);
	ik_machine_destroy(m);
}

/* Invalidate discards dirty data (DCIMVAC); flush writes it first. */
static void test_invalidate_discards_and_flush_keeps(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_cpu_cache_stats st;
	const phys_addr_t a = RAM_BASE + 0x1000, b = RAM_BASE + 0x2000;

	assert_int_equal(ik_mem_fill(ik_machine_mem(m), a, 0x11, LINE), 0);
	cpu_fill(m, a, 0x22, LINE);
	assert_int_equal(ik_cpu_cache_invalidate(m, a, LINE), 0);
	assert_mem_is(m, a, 0x11, LINE);  /* never written back */
	assert_cpu_sees(m, a, 0x11, LINE); /* the CPU's write is gone */
	get_stats(m, &st);
	assert_int_equal(st.invalidates, 1);
	assert_int_equal(st.dirty_discards, 1);
	assert_int_equal(st.writebacks, 0);

	cpu_fill(m, b, 0x33, LINE);
	assert_int_equal(ik_cpu_cache_flush(m, b, LINE), 0);
	assert_mem_is(m, b, 0x33, LINE);
	assert_int_equal(ik_cpu_cache_line_state(ik_machine_cpu_cache(m), b), IK_CPU_LINE_ABSENT);
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), b, 0x44, LINE), 0);
	assert_cpu_sees(m, b, 0x44, LINE); /* refetched */
	get_stats(m, &st);
	assert_int_equal(st.cleans, 1);
	assert_int_equal(st.invalidates, 2);
	assert_int_equal(st.dirty_discards, 1);

	/* Invalidating a clean line or an absent one loses nothing. */
	assert_int_equal(ik_cpu_cache_invalidate(m, b, LINE), 0);
	assert_int_equal(ik_cpu_cache_invalidate(m, b, LINE), 0);
	get_stats(m, &st);
	assert_int_equal(st.invalidates, 3);
	assert_int_equal(st.dirty_discards, 1);
	ik_machine_destroy(m);
}

/*
 * Eviction writes a dirty victim back, with no maintenance: in an 8-way
 * set, the 9th distinct line evicts the least recently used one.
 */
static void test_eviction_writes_back(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_cpu_cache *c = ik_machine_cpu_cache(m);
	struct ik_cpu_cache_stats st;
	const phys_addr_t a = RAM_BASE; /* set 0 */
	uint8_t b;

	cpu_fill(m, a, 0x5a, LINE);
	/* Seven more lines of set 0: the set is full, a still cached. */
	for (int k = 1; k <= 7; k++)
		assert_int_equal(ik_cpu_read(m, a + k * SET_STRIDE, &b, 1), 0);
	/* Lines of set 1 do not compete. */
	for (int k = 0; k < 8; k++)
		assert_int_equal(ik_cpu_read(m, a + LINE + k * SET_STRIDE, &b, 1), 0);
	assert_int_equal(ik_cpu_cache_line_state(c, a), IK_CPU_LINE_DIRTY);
	assert_mem_is(m, a, 0, LINE);

	/* Touch a again: now a + 1 * SET_STRIDE is the least recently used. */
	assert_int_equal(ik_cpu_read(m, a, &b, 1), 0);
	assert_int_equal(ik_cpu_read(m, a + 8 * SET_STRIDE, &b, 1), 0);
	assert_int_equal(ik_cpu_cache_line_state(c, a + SET_STRIDE), IK_CPU_LINE_ABSENT);
	assert_int_equal(ik_cpu_cache_line_state(c, a), IK_CPU_LINE_DIRTY);
	get_stats(m, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.writebacks, 0); /* the victim was clean */

	/* Seven new lines later, a is the oldest and goes: its data reaches memory. */
	for (int k = 9; k <= 15; k++)
		assert_int_equal(ik_cpu_read(m, a + k * SET_STRIDE, &b, 1), 0);
	assert_int_equal(ik_cpu_cache_line_state(c, a), IK_CPU_LINE_ABSENT);
	assert_mem_is(m, a, 0x5a, LINE);
	get_stats(m, &st);
	assert_int_equal(st.evictions, 8);
	assert_int_equal(st.writebacks, 1);
	assert_int_equal(st.cleans, 0);
	ik_machine_destroy(m);
}

/* Maintenance at unaligned range ends acts on the whole lines. */
static void test_whole_line_maintenance(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_cpu_cache *c = ik_machine_cpu_cache(m);
	const phys_addr_t l0 = RAM_BASE + 0x4000, l1 = l0 + LINE, l2 = l1 + LINE;

	/* Three dirty lines; clean 8 bytes straddling l0 and l1. */
	cpu_fill(m, l0, 0xa0, 3 * LINE);
	assert_int_equal(ik_cpu_cache_clean(m, l0 + LINE - 4, 8), 0);
	assert_mem_is(m, l0, 0xa0, 2 * LINE); /* both lines whole, not just 8 bytes */
	assert_mem_is(m, l2, 0, LINE);        /* untouched by the range */
	assert_int_equal(ik_cpu_cache_line_state(c, l2), IK_CPU_LINE_DIRTY);

	/* Dirty bytes 0..15 of l1; invalidating its last byte drops them all. */
	cpu_fill(m, l1, 0xb1, 16);
	assert_int_equal(ik_cpu_cache_invalidate(m, l1 + LINE - 1, 1), 0);
	assert_cpu_sees(m, l1, 0xa0, LINE); /* memory's copy: the clean above */
	assert_int_equal(ik_cpu_cache_line_state(c, l0), IK_CPU_LINE_CLEAN);

	/* A one-byte flush at l2's start writes and drops all of l2. */
	assert_int_equal(ik_cpu_cache_flush(m, l2, 1), 0);
	assert_mem_is(m, l2, 0xa0, LINE);
	assert_int_equal(ik_cpu_cache_line_state(c, l2), IK_CPU_LINE_ABSENT);

	/* An empty range maintains nothing. */
	cpu_fill(m, l0, 0xc0, 1);
	assert_int_equal(ik_cpu_cache_clean(m, l0, 0), 0);
	assert_int_equal(ik_cpu_cache_invalidate(m, l0, 0), 0);
	assert_int_equal(ik_cpu_cache_line_state(c, l0), IK_CPU_LINE_DIRTY);
	ik_machine_destroy(m);
}

/* A range larger than the cache is maintained by walking the cache: same result. */
static void test_large_range_maintenance(void **state)
{
	(void)state;
	struct ik_machine *m = ik_machine_create_default();
	struct ik_cpu_cache *c = ik_machine_cpu_cache(m);
	const size_t size = 2u << 20; /* 8 times the cache */
	phys_addr_t buf = ik_test_alloc(m, size, 4096);
	phys_addr_t outside = ik_test_alloc(m, 4096, 4096);
	uint64_t seed = ik_test_seed(0xcace);
	phys_addr_t lines[64];

	for (int i = 0; i < 64; i++) {
		lines[i] = buf + (ik_test_rand(&seed) % (size / LINE)) * LINE;
		cpu_fill(m, lines[i], 0x60 + i, LINE);
	}
	cpu_fill(m, outside, 0x99, LINE);
	assert_int_equal(ik_cpu_cache_clean(m, buf, size), 0);
	/* Each line holds the last value written to it (a line may repeat). */
	for (int i = 0; i < 64; i++) {
		int last = i;

		for (int j = i + 1; j < 64; j++)
			if (lines[j] == lines[i])
				last = j;
		assert_mem_is(m, lines[i], 0x60 + last, LINE);
		assert_int_equal(ik_cpu_cache_line_state(c, lines[i]), IK_CPU_LINE_CLEAN);
	}
	assert_int_equal(ik_cpu_cache_line_state(c, outside), IK_CPU_LINE_DIRTY);
	assert_mem_is(m, outside, 0, LINE);

	assert_int_equal(ik_cpu_cache_invalidate(m, buf, size), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(ik_cpu_cache_line_state(c, lines[i]), IK_CPU_LINE_ABSENT);
	assert_int_equal(ik_cpu_cache_line_state(c, outside), IK_CPU_LINE_DIRTY);
	ik_machine_destroy(m);
}

/* --- accesses: spans, bounds, arguments --- */

static void test_accesses_and_bounds(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_cpu_cache *c = ik_machine_cpu_cache(m);
	struct ik_cpu_cache_stats st;
	uint8_t buf[300], back[300];
	const phys_addr_t end = RAM_BASE + RAM_SIZE + (1ULL << 20); /* end of dram2 */

	/* An unaligned access over five lines and across the two adjacent regions. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	const phys_addr_t pa = RAM_BASE + RAM_SIZE - 150;

	assert_int_equal(ik_cpu_write(m, pa, buf, sizeof(buf)), 0);
	assert_int_equal(ik_cpu_read(m, pa, back, sizeof(back)), 0);
	assert_memory_equal(back, buf, sizeof(buf));
	assert_mem_is(m, pa, 0, sizeof(buf));
	get_stats(m, &st);
	/*
	 * dram ends 16 MiB up, so pa is 42 bytes into a line (-150 mod 64):
	 * the access covers 22 + 64 + 64 bytes of dram, 64 + 64 + 22 of dram2.
	 */
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.hits, 6);
	assert_int_equal(ik_cpu_cache_flush(m, pa, sizeof(buf)), 0);
	assert_int_equal(ik_mem_read(ik_machine_mem(m), pa, back, sizeof(back)), 0);
	assert_memory_equal(back, buf, sizeof(buf));

	/* Outside RAM: -EFAULT, and nothing allocated or changed. */
	ik_machine_cpu_cache_reset_stats(m);
	assert_int_equal(ik_cpu_write(m, end - 8, buf, 16), -EFAULT);
	assert_int_equal(ik_cpu_read(m, end - 8, back, 16), -EFAULT);
	assert_int_equal(ik_cpu_read(m, RAM_BASE - 1, back, 2), -EFAULT);
	assert_int_equal(ik_cpu_read(m, end, back, 0), -EFAULT);
	assert_int_equal(ik_cpu_write(m, UINT64_MAX - 3, buf, 8), -EFAULT);
	assert_int_equal(ik_cpu_cache_line_state(c, end - 8), IK_CPU_LINE_ABSENT);
	assert_int_equal(ik_cpu_cache_clean(m, end - 8, 16), -EFAULT);
	assert_int_equal(ik_cpu_cache_invalidate(m, RAM_BASE - 64, 128), -EFAULT);
	assert_int_equal(ik_cpu_cache_flush(m, 0, 1), -EFAULT);
	get_stats(m, &st);
	assert_int_equal(st.hits + st.misses + st.invalidates + st.cleans, 0);

	/* NULL arguments. */
	assert_int_equal(ik_cpu_read(NULL, RAM_BASE, back, 1), -EINVAL);
	assert_int_equal(ik_cpu_write(NULL, RAM_BASE, buf, 1), -EINVAL);
	assert_int_equal(ik_cpu_cache_clean(NULL, RAM_BASE, 1), -EINVAL);
	assert_int_equal(ik_cpu_cache_invalidate(NULL, RAM_BASE, 1), -EINVAL);
	assert_int_equal(ik_cpu_cache_flush(NULL, RAM_BASE, 1), -EINVAL);
	assert_int_equal(ik_cpu_read(m, RAM_BASE, NULL, 1), -EFAULT);
	assert_int_equal(ik_cpu_write(m, RAM_BASE, NULL, 1), -EFAULT);
	assert_int_equal(ik_cpu_read(m, RAM_BASE, NULL, 0), 0);
	assert_int_equal(ik_machine_cpu_cache_stats(m, NULL), -EINVAL);
	assert_int_equal(ik_cpu_cache_maint(c, RAM_BASE, 1, 0), -EINVAL);
	assert_int_equal(ik_cpu_cache_maint(c, RAM_BASE, 1, 4), -EINVAL);
	ik_machine_destroy(m);
}

/* --- coherent machines --- */

static void test_coherent_machine_is_plain_memory(void **state)
{
	(void)state;
	struct ik_machine_desc d = small_desc(0, 0, 0);
	struct ik_machine *m = ik_machine_create(&d);
	struct device *dma;
	uint8_t buf[8];

	assert_non_null(m);
	assert_true(ik_machine_dma_coherent(m));
	dma = ik_machine_device(m, "dma");
	assert_int_equal(ik_cpu_write(m, RAM_BASE + 3, "coherent", 8), 0);
	assert_int_equal(ik_dma_read(dma, RAM_BASE + 3, buf, 8), 0);
	assert_memory_equal(buf, "coherent", 8);
	assert_int_equal(ik_dma_write(dma, RAM_BASE + 3, "dev-data", 8), 0);
	assert_int_equal(ik_cpu_read(m, RAM_BASE + 3, buf, 8), 0);
	assert_memory_equal(buf, "dev-data", 8);
	/* Maintenance has nothing to do and loses nothing. */
	assert_int_equal(ik_cpu_cache_clean(m, RAM_BASE, 64), 0);
	assert_int_equal(ik_cpu_cache_invalidate(m, RAM_BASE, 64), 0);
	assert_int_equal(ik_cpu_cache_flush(m, RAM_BASE, 64), 0);
	assert_int_equal(ik_cpu_read(m, RAM_BASE + 3, buf, 8), 0);
	assert_memory_equal(buf, "dev-data", 8);
	/* ...but a range outside RAM is an error on every machine. */
	assert_int_equal(ik_cpu_cache_clean(m, RAM_BASE - 64, 64), -EFAULT);
	assert_int_equal(ik_cpu_read(m, RAM_BASE - 1, buf, 1), -EFAULT);
	ik_machine_destroy(m);
}

/* --- describing the cache --- */

static void expect_geometry(unsigned int line, unsigned int size, unsigned int eline,
			    unsigned int esize, unsigned int eways, unsigned int esets)
{
	struct ik_machine_desc d = small_desc(IK_MACHINE_NONCOHERENT, line, size);
	struct ik_machine *m = ik_machine_create(&d);
	struct ik_cpu_cache_geometry g;

	assert_non_null(m);
	ik_cpu_cache_get_geometry(ik_machine_cpu_cache(m), &g);
	assert_int_equal(g.line, eline);
	assert_int_equal(g.size, esize);
	assert_int_equal(g.ways, eways);
	assert_int_equal(g.sets, esets);
	ik_machine_destroy(m);
}

static void expect_rejected(unsigned int flags, unsigned int line, unsigned int size)
{
	struct ik_machine_desc d = small_desc(flags, line, size);

	errno = 0;
	assert_null(ik_machine_create(&d));
	assert_int_equal(errno, EINVAL);
}

static void test_geometry_from_description(void **state)
{
	(void)state;
	/* Defaults: 64-byte lines, 256 KiB: 4096 lines, 8 ways, 512 sets. */
	expect_geometry(0, 0, 64, 256 << 10, 8, 512);
	expect_geometry(32, 0, 32, 256 << 10, 8, 1024);       /* 8192 lines */
	expect_geometry(0, 8192, 64, 8192, 8, 16);            /* 128 lines */
	expect_geometry(16, 16, 16, 16, 1, 1);                /* a single line */
	expect_geometry(256, 256 * 12, 256, 256 * 12, 4, 3);  /* 12 lines: 4 ways */
	expect_geometry(64, 64 * 3, 64, 64 * 3, 1, 3);        /* 3 lines: direct mapped */

	expect_rejected(1u << 1, 0, 0);               /* unknown flag */
	expect_rejected(IK_MACHINE_NONCOHERENT, 8, 0);  /* line too small */
	expect_rejected(IK_MACHINE_NONCOHERENT, 512, 0); /* line too large */
	expect_rejected(IK_MACHINE_NONCOHERENT, 48, 0);  /* not a power of two */
	expect_rejected(IK_MACHINE_NONCOHERENT, 64, 100); /* not a multiple of the line */
	expect_rejected(IK_MACHINE_NONCOHERENT, 64, 32); /* smaller than a line */
	expect_rejected(IK_MACHINE_NONCOHERENT, 64, 128u << 20); /* absurdly large */
	/* The geometry is checked on coherent machines too. */
	expect_rejected(0, 48, 0);

	/* A description from before the cache fields existed is coherent. */
	struct ik_machine_desc d = small_desc(IK_MACHINE_NONCOHERENT, 64, 1024);

	d.size = offsetof(struct ik_machine_desc, flags);
	struct ik_machine *m = ik_machine_create(&d);

	assert_non_null(m);
	assert_true(ik_machine_dma_coherent(m));
	ik_machine_destroy(m);
}

/* --- threads (for TSan) --- */

struct worker {
	struct ik_machine *m;
	phys_addr_t base;
	unsigned int id;
	int failures;
};

/*
 * Each worker owns every fourth line of a shared buffer, so that the
 * workers' lines share sets and evict one another; it writes, cleans,
 * checks memory, invalidates and reads back.
 */
static void *worker_fn(void *p)
{
	struct worker *w = p;
	uint8_t line[LINE], back[LINE];

	for (unsigned int round = 0; round < 150; round++) {
		for (unsigned int k = 0; k < 64; k++) {
			phys_addr_t pa = w->base + (k * 4 + w->id) * LINE;

			memset(line, (int)(w->id * 64 + round), LINE);
			if (ik_cpu_write(w->m, pa, line, LINE))
				w->failures++;
			if (round % 2 ? ik_cpu_cache_clean(w->m, pa, LINE) :
					ik_cpu_cache_flush(w->m, pa, LINE))
				w->failures++;
			if (ik_mem_read(ik_machine_mem(w->m), pa, back, LINE) ||
			    memcmp(back, line, LINE))
				w->failures++;
			if (ik_cpu_cache_invalidate(w->m, pa, LINE) ||
			    ik_cpu_read(w->m, pa, back, LINE) || memcmp(back, line, LINE))
				w->failures++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct ik_machine *m = small_machine();
	struct ik_cpu_cache_stats st;
	struct worker w[4];
	pthread_t th[4];
	phys_addr_t base = ik_test_alloc(m, 4 * 64 * LINE, 4096);

	for (unsigned int i = 0; i < 4; i++) {
		w[i] = (struct worker){ m, base, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	get_stats(m, &st);
	/*
	 * Per line and round: a write and a read, and one dirty episode,
	 * written back once: by the clean, or by an eviction that another
	 * worker's access caused first.
	 */
	assert_int_equal(st.hits + st.misses, 4 * 150 * 64 * 2);
	assert_int_equal(st.writebacks, 4 * 150 * 64);
	assert_true(st.cleans <= st.writebacks);
	assert_int_equal(st.dirty_discards, 0);
	ik_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_machines),
		cmocka_unit_test(test_cpu_write_needs_clean),
		cmocka_unit_test(test_device_write_needs_invalidate),
		cmocka_unit_test(test_invalidate_discards_and_flush_keeps),
		cmocka_unit_test(test_eviction_writes_back),
		cmocka_unit_test(test_whole_line_maintenance),
		cmocka_unit_test(test_large_range_maintenance),
		cmocka_unit_test(test_accesses_and_bounds),
		cmocka_unit_test(test_coherent_machine_is_plain_memory),
		cmocka_unit_test(test_geometry_from_description),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_held_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
