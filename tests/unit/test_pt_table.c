// SPDX-License-Identifier: MIT
/*
 * The live-entry count of page-table pages (src/pgtable/pt-table.h), and
 * what freeing a table does to it when another thread holds a transient
 * reference through a stale pointer.
 *
 * The protocol lets any thread take a reference on a page it once saw as a
 * table (pt_table_get()), check the entry it came from, and drop it again:
 * such transient references cancel out because every step is an atomic add.
 * pt_table_get() succeeds on any live table, also one a mapper allocated but
 * has not published yet, or one of another domain on the same memory. Freeing
 * such a table must leave the transient reference alone (pt_table_discard()).
 * Resetting the count to zero instead (what pt_table_free() did for all of
 * them) made the holder's drop leave the page at -1: the next table on that
 * page was born dead (pt_table_get() refused it for ever, and every map below
 * it spun), or, reused meanwhile, it counted one entry too few and was retired
 * with an entry still in it, which led to a double free of the page. Each
 * test below plays both threads' steps in that order, in one thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "flush_stub.h"
#include "ik_test.h"
#include "ik/io-pgtable.h"
#include "ik/mem.h"
#include "pgtable/pt-table.h"

#define RAM_BASE 0x80000000ULL /* below 4 GiB: the OMAP format needs it */
#define SZ_4K 0x1000ULL
#define SZ_64K 0x10000ULL
#define SZ_2M 0x200000ULL
#define RW (IOMMU_READ | IOMMU_WRITE)

static struct ik_mem *mem_new(void)
{
	const struct ik_region_desc rd = { "ram", RAM_BASE, 16ULL << 20 };
	struct ik_mem *mem = ik_sim_mem_create(&rd, 1);

	assert_non_null(mem);
	return mem;
}

static int32_t raw_users(struct ik_mem *mem, phys_addr_t pa)
{
	return __atomic_load_n(&ik_mem_page(mem, pa)->users, __ATOMIC_SEQ_CST);
}

/*
 * A mapper allocates a table and counts 3 entries on it; a thread with a
 * stale pointer takes a reference; the mapper loses its race and discards
 * the table; the other thread drops its reference. The page must end up
 * "not a table" (0), and the next table allocated there must be live.
 */
static void test_transient_survives_discard(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa, pa2;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 3));  /* the mapper's entries-to-be */
	assert_true(pt_table_get(pg, 1));  /* stale holder: a live table, so it succeeds */
	pt_table_discard(mem, pa, SZ_4K, 3);
	assert_int_equal(raw_users(mem, pa), 1); /* only the holder's reference is left */
	assert_false(pt_table_put(pg, 1));  /* the holder's re-check failed: it drops it */
	assert_int_equal(raw_users(mem, pa), 0);

	/* The allocator hands out the page it got back first: the same one. */
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_int_equal(pt_table_users(pg), 0);
	assert_true(pt_table_get(pg, 1));   /* a live table, not a dead one */
	assert_true(pt_table_put(pg, 1));   /* emptied exactly at the bias */
	assert_true(pt_table_kill(pg));
	pt_table_discard(mem, pa2, SZ_4K, 0);
	ik_mem_destroy(mem);
}

/*
 * The same, but the page is a new table with one entry by the time the
 * holder drops its reference: the count must still say one entry, so that
 * removing it (and only that) empties the table.
 */
static void test_transient_dropped_in_next_life(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa, pa2;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 1));
	assert_true(pt_table_get(pg, 1));   /* stale holder */
	pt_table_discard(mem, pa, SZ_4K, 1);
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_true(pt_table_get(pg, 1));   /* its new owner writes one entry */
	assert_false(pt_table_put(pg, 1));  /* the holder drops its reference */
	assert_int_equal(pt_table_users(pg), 1);
	assert_true(pt_table_put(pg, 1));   /* the entry goes: now it is empty */
	assert_true(pt_table_kill(pg));
	pt_table_discard(mem, pa2, SZ_4K, 0);
	ik_mem_destroy(mem);
}

/* A killed table holds nothing of its owner's: discarding it subtracts nothing. */
static void test_discard_killed(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_kill(pg));
	/* The first half of a failing pt_table_get() of another thread. */
	__atomic_fetch_add(&pg->users, 1, __ATOMIC_SEQ_CST);
	pt_table_discard(mem, pa, SZ_4K, 0);
	assert_int_equal(raw_users(mem, pa), 1);
	__atomic_fetch_sub(&pg->users, 1, __ATOMIC_SEQ_CST); /* ... and its second half */
	assert_int_equal(raw_users(mem, pa), 0);
	ik_mem_destroy(mem);
}

/* A multi-page table: the bias comes off every page, @refs off the first. */
static void test_discard_multi_page(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, 4 * SZ_4K, &pa), 0);
	assert_true(pt_table_get(ik_mem_page(mem, pa), 5));
	pt_table_discard(mem, pa, 4 * SZ_4K, 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(raw_users(mem, pa + i * SZ_4K), 0);
	ik_mem_destroy(mem);
}

/*
 * Teardown frees live tables: each gives back its bias and one reference
 * per entry, and the transient reference a thread of another domain on the
 * same memory holds on one of them (a stale pointer) survives.
 */
static void teardown_case(enum io_pgtable_fmt fmt, unsigned long pgsizes, void (*find)(
				  struct ik_mem *mem, const struct io_pgtable_cfg *cfg,
				  phys_addr_t *table))
{
	struct ik_mem *mem = mem_new();
	struct ik_flush_stub tlb = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = pgsizes, .tlb = &ik_flush_stub_ops, .mem = mem,
	};
	size_t free0 = ik_mem_free_count(mem), m;
	phys_addr_t table;

	if (fmt == ARM_64_LPAE_S1)
		cfg.ias = cfg.oas = 48;
	struct io_pgtable_ops *ops = alloc_io_pgtable_ops(fmt, &cfg, &tlb);
	assert_non_null(ops);
	/* Three 4 KiB pages and a 64 KiB one (OMAP) in the first table, one in another. */
	assert_int_equal(ops->map_pages(ops, 0x100000, RAM_BASE + 0x400000, SZ_4K, 3, RW,
					GFP_KERNEL, &m), 0);
	if (pgsizes & SZ_64K)
		assert_int_equal(ops->map_pages(ops, 0x110000, RAM_BASE + 0x410000, SZ_64K, 1,
						RW, GFP_KERNEL, &m), 0);
	assert_int_equal(ops->map_pages(ops, 0x100000 + 4 * SZ_2M, RAM_BASE + 0x500000, SZ_4K, 1,
					RW, GFP_KERNEL, &m), 0);
	find(mem, &cfg, &table);
	struct ik_page *pg = ik_mem_page(mem, table);
	assert_true(pt_table_get(pg, 1)); /* stale holder */
	free_io_pgtable_ops(ops);
	assert_false(pt_table_put(pg, 1));
	assert_int_equal(raw_users(mem, table), 0);
	assert_int_equal(ik_mem_free_count(mem), free0);
	ik_mem_destroy(mem);
}

static uint64_t rd64(struct ik_mem *mem, phys_addr_t pa)
{
	uint64_t e;

	assert_int_equal(ik_mem_read(mem, pa, &e, sizeof(e)), 0);
	return e;
}

/* The level-3 table of IOVA 0x100000 (Arm ARM: table address in bits [47:12]). */
static void lpae_find(struct ik_mem *mem, const struct io_pgtable_cfg *cfg, phys_addr_t *table)
{
	phys_addr_t t = cfg->arm_lpae_s1_cfg.ttbr;

	for (int lvl = 0; lvl < 3; lvl++) /* index 0 at levels 0, 1 and 2 */
		t = rd64(mem, t) & 0x0000fffffffff000ULL;
	*table = t;
}

/* The second-level table of IOVA 0x100000 (OMAP35x TRM: L1 index iova[31:20], address [31:10]). */
static void omap_find(struct ik_mem *mem, const struct io_pgtable_cfg *cfg, phys_addr_t *table)
{
	uint32_t e;

	assert_int_equal(ik_mem_read(mem, cfg->omap.ttb + 1 * 4, &e, sizeof(e)), 0);
	*table = e & 0xfffffc00u;
}

static void test_teardown_lpae(void **state)
{
	(void)state;
	teardown_case(ARM_64_LPAE_S1, SZ_4K | SZ_2M, lpae_find);
}

static void test_teardown_omap(void **state)
{
	(void)state;
	teardown_case(OMAP_IOMMU_PGTABLE, SZ_4K | SZ_64K, omap_find);
}

/*
 * --- killing: pt_table_put_kill() and pt_table_kill_held() ---
 *
 * Emptying a page table and claiming it for freeing are one step
 * (pt_table_put_kill(), src/pgtable/pt-table.h).
 *
 * They were two: pt_table_put() said the count reached the bias, then
 * pt_table_kill() swapped the bias for 0. Under load an unmapper could be
 * preempted between the two. Meanwhile a mapper refilled the table,
 * another unmapper emptied, killed and retired it, the page was freed and
 * allocated again as a new table, and the late kill then claimed that new
 * table (still at the bias: allocated, not counted yet, or sitting empty
 * elsewhere). Its retirement read the page's freelist link as the parent
 * ("bad parent 0"), or marked the slot of its own stale address in the new
 * table's parent, and the page was queued and freed twice. The stress of
 * tests/integration/test_dma_threads.c hit it in about 1% of runs.
 *
 * Each test plays the threads' steps in one thread, in the order of that
 * interleaving, and checks the count after each.
 */

/*
 * Threads B and C each have a leaf in table T. C removes its leaf, then B
 * removes the last one: B's drop kills T in the same step, so the mapper M
 * that walks to T next is refused (it walks again) instead of refilling a
 * table that B is about to claim. B retires T; the page comes back as A's
 * new table, which nothing but A's own entries can empty.
 */
static void test_last_drop_kills(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa, pa2;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 1));         /* B's leaf */
	assert_true(pt_table_get(pg, 1));         /* C's leaf */
	assert_false(pt_table_put_kill(pg, 1));   /* C's leaf goes: one is left */
	assert_int_equal(pt_table_users(pg), 1);
	assert_true(pt_table_put_kill(pg, 1));    /* B's leaf goes: emptied and killed */
	assert_int_equal(raw_users(mem, pa), 0);
	assert_false(pt_table_get(pg, 1));        /* M: dead, walk again */
	assert_int_equal(raw_users(mem, pa), 0);       /* M's try left nothing behind */
	assert_false(pt_table_kill(pg));          /* nobody else can claim it */

	/* B retires T; the allocator hands the page out again, to A. */
	ik_mem_free_pages(mem, pa, 1);
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_int_equal(pt_table_users(pg), 0);  /* a live, empty table */
	assert_true(pt_table_get(pg, 2));         /* A counts its two entries */
	assert_false(pt_table_put_kill(pg, 1));
	assert_true(pt_table_put_kill(pg, 1));    /* only A's last entry empties it */
	assert_int_equal(raw_users(mem, pa), 0);
	ik_mem_free_pages(mem, pa2, 1);
	ik_mem_destroy(mem);
}

/*
 * The interleaving that the two steps allowed, replayed against the one
 * step: B's drop empties T, and what the others do before B "gets to" the
 * kill (M refills T; U empties it again) cannot make B claim anything, as
 * B already holds the kill: M is refused, and U has no entry to remove.
 */
static void test_no_late_kill(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 1));         /* B's leaf */
	assert_true(pt_table_put_kill(pg, 1));    /* B empties T: killed at once */
	assert_false(pt_table_get(pg, 1));        /* M cannot refill it */
	assert_int_equal(raw_users(mem, pa), 0);
	/*
	 * A new table on the page, at the bias (allocated, entries not counted
	 * yet): only a drop of one of its own references can kill it, and
	 * there is none yet; B has nothing left to do to this page.
	 */
	ik_mem_free_pages(mem, pa, 1);
	phys_addr_t pa2;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_int_equal(raw_users(mem, pa), IK_PAGE_TABLE_BIAS);
	assert_true(pt_table_get(pg, 3));         /* its owner counts 3 entries */
	assert_int_equal(pt_table_users(pg), 3);
	pt_table_discard(mem, pa2, SZ_4K, 3);
	assert_int_equal(raw_users(mem, pa), 0);
	ik_mem_destroy(mem);
}

/*
 * A transient reference (a mapper that will find the parent entry changed)
 * keeps the last drop from killing; the holder's own drop empties the
 * table but must not kill it (it does not retire): the table stays live
 * and attached, refillable, and the next unmapper to empty it kills it.
 */
static void test_transient_holder_keeps_it_alive(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 1));         /* B's leaf */
	assert_true(pt_table_get(pg, 1));         /* H: transient */
	assert_false(pt_table_put_kill(pg, 1));   /* B: H holds it */
	assert_int_equal(pt_table_users(pg), 1);
	assert_true(pt_table_put(pg, 1));         /* H: empty, but left alive */
	assert_int_equal(pt_table_users(pg), 0);
	assert_true(pt_table_get(pg, 2));         /* a mapper refills it */
	assert_false(pt_table_put_kill(pg, 1));
	assert_true(pt_table_put_kill(pg, 1));    /* its last entry goes: killed */
	assert_int_equal(raw_users(mem, pa), 0);
	ik_mem_free_pages(mem, pa, 1);
	ik_mem_destroy(mem);
}

/* Several entries at once: only the drop that lands exactly on the bias kills. */
static void test_drop_many(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	assert_true(pt_table_get(pg, 512));
	assert_false(pt_table_put_kill(pg, 500));
	assert_int_equal(pt_table_users(pg), 12);
	assert_true(pt_table_put_kill(pg, 12));
	assert_int_equal(raw_users(mem, pa), 0);
	ik_mem_free_pages(mem, pa, 1);
	ik_mem_destroy(mem);
}

/*
 * A mapper making room for a block drops an empty table it found through
 * a slot. Holding it first (a reference, then the slot checked again), its
 * kill can only be of that life: a stale pointer finds the slot changed
 * and claims nothing, whatever the page has become.
 */
static void test_hold_then_kill(void **state)
{
	struct ik_mem *mem = mem_new();
	phys_addr_t pa;
	uint64_t slot;

	(void)state;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa), 0);
	struct ik_page *pg = ik_mem_page(mem, pa);
	const uint64_t e = pa | 3;

	slot = e;
	assert_true(pt_table_hold(pg, &slot, e, true));
	assert_true(pt_table_get(pg, 1));          /* a walker passing by */
	assert_false(pt_table_kill_held(pg));      /* not the only reference */
	pt_table_put(pg, 1);
	assert_true(pt_table_kill_held(pg));
	assert_int_equal(raw_users(mem, pa), 0);

	/* The slot moved on (retired, the page reused as a fresh table): no claim. */
	pt_table_discard(mem, pa, SZ_4K, 0);
	phys_addr_t pa2;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	slot = 2; /* a retirement marker */
	assert_false(pt_table_hold(pg, &slot, e, true));
	assert_int_equal(raw_users(mem, pa), IK_PAGE_TABLE_BIAS); /* the new life is untouched */
	/* 32-bit slots (OMAP) alike. */
	uint32_t slot32 = (uint32_t)e;
	assert_true(pt_table_hold(pg, &slot32, e, false));
	assert_true(pt_table_kill_held(pg));
	pt_table_discard(mem, pa, SZ_4K, 0);
	ik_mem_destroy(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient_survives_discard),
		cmocka_unit_test(test_transient_dropped_in_next_life),
		cmocka_unit_test(test_discard_killed),
		cmocka_unit_test(test_discard_multi_page),
		cmocka_unit_test(test_teardown_lpae),
		cmocka_unit_test(test_teardown_omap),
		cmocka_unit_test(test_hold_then_kill),
		cmocka_unit_test(test_last_drop_kills),
		cmocka_unit_test(test_no_late_kill),
		cmocka_unit_test(test_transient_holder_keeps_it_alive),
		cmocka_unit_test(test_drop_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
