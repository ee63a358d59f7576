// SPDX-License-Identifier: MIT
/*
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
#include <stdlib.h>

#include "ik_test.h"
#include "ik/mem.h"
#include "pgtable/pt-table.h"

#define RAM_BASE 0x80000000ULL
#define SZ_4K    0x1000ULL

static struct ik_mem *mem_new(void)
{
	const struct ik_region_desc rd = { "ram", RAM_BASE, 1ULL << 20 };
	struct ik_mem *mem = ik_sim_mem_create(&rd, 1);

	assert_non_null(mem);
	return mem;
}

static int32_t raw_users(struct ik_page *pg)
{
	return __atomic_load_n(&pg->users, __ATOMIC_SEQ_CST);
}

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
	assert_int_equal(raw_users(pg), 0);
	assert_false(pt_table_get(pg, 1));        /* M: dead, walk again */
	assert_int_equal(raw_users(pg), 0);       /* M's try left nothing behind */
	assert_false(pt_table_kill(pg));          /* nobody else can claim it */

	/* B retires T; the allocator hands the page out again, to A. */
	ik_mem_free_pages(mem, pa, 1);
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_int_equal(pt_table_users(pg), 0);  /* a live, empty table */
	assert_true(pt_table_get(pg, 2));         /* A counts its two entries */
	assert_false(pt_table_put_kill(pg, 1));
	assert_true(pt_table_put_kill(pg, 1));    /* only A's last entry empties it */
	assert_int_equal(raw_users(pg), 0);
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
	assert_int_equal(raw_users(pg), 0);
	/*
	 * A new table on the page, at the bias (allocated, entries not counted
	 * yet): only a drop of one of its own references can kill it, and
	 * there is none yet; B has nothing left to do to this page.
	 */
	ik_mem_free_pages(mem, pa, 1);
	phys_addr_t pa2;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	assert_int_equal(raw_users(pg), IK_PAGE_TABLE_BIAS);
	assert_true(pt_table_get(pg, 3));         /* its owner counts 3 entries */
	assert_int_equal(pt_table_users(pg), 3);
	pt_table_discard(mem, pa2, SZ_4K, 3);
	assert_int_equal(raw_users(pg), 0);
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
	assert_int_equal(raw_users(pg), 0);
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
	assert_int_equal(raw_users(pg), 0);
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
	assert_int_equal(raw_users(pg), 0);

	/* The slot moved on (retired, the page reused as a fresh table): no claim. */
	pt_table_discard(mem, pa, SZ_4K, 0);
	phys_addr_t pa2;
	assert_int_equal(pt_table_alloc(mem, SZ_4K, &pa2), 0);
	assert_int_equal(pa2, pa);
	slot = 2; /* a retirement marker */
	assert_false(pt_table_hold(pg, &slot, e, true));
	assert_int_equal(raw_users(pg), IK_PAGE_TABLE_BIAS); /* the new life is untouched */
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
		cmocka_unit_test(test_hold_then_kill),
		cmocka_unit_test(test_last_drop_kills),
		cmocka_unit_test(test_no_late_kill),
		cmocka_unit_test(test_transient_holder_keeps_it_alive),
		cmocka_unit_test(test_drop_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
