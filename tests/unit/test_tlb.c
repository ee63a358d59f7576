// SPDX-License-Identifier: MIT
/*
 * The shared TLB engine: matching (page sizes, tags, multi-hit), the two
 * replacement policies with a lock base, direct writes, and each kind of
 * invalidation with its count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ik/tlb.h"

#define SZ_4K  0x1000ull
#define SZ_64K 0x10000ull
#define SZ_1M  0x100000ull

static struct ik_tlb_entry page(uint64_t va, uint64_t pa, uint64_t size)
{
	return (struct ik_tlb_entry){ .va = va, .pa = pa, .mask = size - 1,
				      .flags = IK_TLB_VALID };
}

static struct ik_tlb_entry tagged(uint64_t va, uint64_t pa, uint32_t tag)
{
	struct ik_tlb_entry e = page(va, pa, SZ_4K);
	e.tag = tag;
	e.tag_mask = 0xffff;
	return e;
}

static unsigned int nr_valid(const struct ik_tlb *tlb)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < tlb->nr; i++)
		n += !!(ik_tlb_flags(tlb, i) & IK_TLB_VALID);
	return n;
}

static void test_init_args(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 0, IK_TLB_ROUND_ROBIN), -EINVAL);
	assert_int_equal(ik_tlb_init(&tlb, 4, (enum ik_tlb_policy)7), -EINVAL);
	assert_int_equal(ik_tlb_init(NULL, 4, IK_TLB_LRU), -EINVAL);
	static const unsigned int sizes[] = { 1, 8, 32, 64, 128 };
	for (unsigned int s = 0; s < 5; s++) {
		assert_int_equal(ik_tlb_init(&tlb, sizes[s], IK_TLB_ROUND_ROBIN), 0);
		assert_int_equal(tlb.nr, sizes[s]);
		assert_int_equal(nr_valid(&tlb), 0);
		/* Fill every entry; each page is found at its own index. */
		for (unsigned int i = 0; i < sizes[s]; i++) {
			struct ik_tlb_entry e = page(i * SZ_4K, 0x80000000ull + i * SZ_4K, SZ_4K);
			assert_int_equal(ik_tlb_insert(&tlb, &e), (int)i);
		}
		for (unsigned int i = 0; i < sizes[s]; i++) {
			unsigned int idx = ~0u;
			assert_int_equal(ik_tlb_lookup(&tlb, i * SZ_4K + 0x10, 0, &idx), 1);
			assert_int_equal(idx, i);
		}
		ik_tlb_destroy(&tlb);
	}
}

static void test_lookup_sizes(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 8, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry e4k = page(0x1000, 0x80005000, SZ_4K);
	struct ik_tlb_entry e64k = page(0x40000, 0x80070000, SZ_64K);
	struct ik_tlb_entry e1m = page(0x300000, 0x80900000, SZ_1M);
	assert_int_equal(ik_tlb_insert(&tlb, &e4k), 0);
	assert_int_equal(ik_tlb_insert(&tlb, &e64k), 1);
	assert_int_equal(ik_tlb_insert(&tlb, &e1m), 2);

	unsigned int idx = ~0u;
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1abc, 0, &idx), 1);
	assert_int_equal(idx, 0);
	assert_int_equal(ik_tlb_entry_pa(ik_tlb_get(&tlb, idx), 0x1abc), 0x80005abc);
	/* 0x4fffc is the last word of the 64K page at 0x40000. */
	assert_int_equal(ik_tlb_lookup(&tlb, 0x4fffc, 0, &idx), 1);
	assert_int_equal(idx, 1);
	assert_int_equal(ik_tlb_entry_pa(ik_tlb_get(&tlb, idx), 0x4fffc), 0x8007fffc);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x3abcde, 0, &idx), 1);
	assert_int_equal(ik_tlb_entry_pa(ik_tlb_get(&tlb, idx), 0x3abcde), 0x809abcde);
	/* Just outside each page. */
	idx = 77;
	assert_int_equal(ik_tlb_lookup(&tlb, 0x0fff, 0, &idx), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x2000, 0, &idx), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x50000, 0, &idx), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x400000, 0, &idx), 0);
	assert_int_equal(idx, 77); /* untouched on a miss */

	/* Bits below the page size are kept but ignored. */
	struct ik_tlb_entry sloppy = page(0x500123, 0x80a45000, SZ_1M);
	assert_int_equal(ik_tlb_write(&tlb, 5, &sloppy), 0);
	assert_int_equal(ik_tlb_get(&tlb, 5)->va, 0x500123);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x5f0000, 0, &idx), 1);
	assert_int_equal(idx, 5);
	/* 0x80a45000 keeps only its 1M frame 0x80a00000; the offset 0xf0000 is the VA's. */
	assert_int_equal(ik_tlb_entry_pa(ik_tlb_get(&tlb, 5), 0x5f0000), 0x80af0000);

	/* An invalid entry never matches. */
	struct ik_tlb_entry off = page(0x7000, 0x80000000, SZ_4K);
	off.flags = 0;
	assert_int_equal(ik_tlb_write(&tlb, 6, &off), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x7000, 0, &idx), 0);
	ik_tlb_destroy(&tlb);
}

static void test_multi_hit(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 8, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry a = page(0x100000, 0x80100000, SZ_1M);
	struct ik_tlb_entry b = page(0x123000, 0x90123000, SZ_4K);
	assert_int_equal(ik_tlb_write(&tlb, 3, &a), 0);
	assert_int_equal(ik_tlb_write(&tlb, 6, &b), 0);
	unsigned int idx;
	assert_int_equal(ik_tlb_lookup(&tlb, 0x123456, 0, &idx), 2);
	assert_int_equal(idx, 3);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x124000, 0, &idx), 1);
	assert_int_equal(idx, 3);
	ik_tlb_destroy(&tlb);
}

static void test_tags(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 4, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry t5 = tagged(0x1000, 0x80001000, 5);
	struct ik_tlb_entry t6 = tagged(0x1000, 0x80002000, 6);
	struct ik_tlb_entry global = page(0x9000, 0x80009000, SZ_4K);
	assert_int_equal(ik_tlb_insert(&tlb, &t5), 0);
	assert_int_equal(ik_tlb_insert(&tlb, &t6), 1);
	assert_int_equal(ik_tlb_insert(&tlb, &global), 2);

	unsigned int idx;
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 5, &idx), 1);
	assert_int_equal(idx, 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 6, &idx), 1);
	assert_int_equal(idx, 1);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 7, &idx), 0);
	/* Tag bits outside tag_mask (0xffff) do not matter. */
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 0x10005, &idx), 1);
	assert_int_equal(idx, 0);
	/* A global entry (tag_mask 0) matches every tag. */
	assert_int_equal(ik_tlb_lookup(&tlb, 0x9000, 5, &idx), 1);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x9000, 0xdead, &idx), 1);

	/* By tag: only the tagged entry of that tag goes; global entries stay. */
	assert_int_equal(ik_tlb_invalidate_tag(&tlb, 5, 0), 1);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 5, &idx), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 6, &idx), 1);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x9000, 5, &idx), 1);
	assert_int_equal(ik_tlb_invalidate_tag(&tlb, 5, 0), 0);

	/* Range and tag together, global entries included (as a TLBI by VA and ASID). */
	assert_int_equal(ik_tlb_invalidate(&tlb, &(struct ik_tlb_inv){
		.match = IK_TLB_INV_RANGE | IK_TLB_INV_TAG, .start = 0, .last = 0xffff,
		.tag = 9 }), 1); /* the global entry; tag 6 does not match 9 */
	assert_int_equal(ik_tlb_lookup(&tlb, 0x9000, 0, &idx), 0);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 6, &idx), 1);
	ik_tlb_destroy(&tlb);
}

static void test_round_robin_lock(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 4, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry locked0 = page(0xa000, 0x8000a000, SZ_4K);
	struct ik_tlb_entry locked1 = page(0xb000, 0x8000b000, SZ_4K);
	assert_int_equal(ik_tlb_write(&tlb, 0, &locked0), 0);
	assert_int_equal(ik_tlb_write(&tlb, 1, &locked1), 0);
	tlb.lock_base = 2;
	tlb.victim = 2;
	assert_true(ik_tlb_flags(&tlb, 1) & IK_TLB_LOCKED);
	assert_false(ik_tlb_flags(&tlb, 2) & IK_TLB_LOCKED);

	/* Replacement cycles through 2, 3, 2, 3, ... and never touches 0 and 1. */
	static const int expect[] = { 2, 3, 2, 3, 2 };
	for (unsigned int i = 0; i < 5; i++) {
		struct ik_tlb_entry e = page(0x100000 + i * SZ_4K, 0x90000000 + i * SZ_4K, SZ_4K);
		assert_int_equal(ik_tlb_insert(&tlb, &e), expect[i]);
		assert_int_equal(tlb.victim, expect[i] == 2 ? 3 : 2);
	}
	assert_int_equal(ik_tlb_get(&tlb, 0)->va, 0xa000);
	assert_int_equal(ik_tlb_get(&tlb, 1)->va, 0xb000);
	unsigned int idx;
	assert_int_equal(ik_tlb_lookup(&tlb, 0xa000, 0, &idx), 1);
	assert_int_equal(ik_tlb_lookup(&tlb, 0xb000, 0, &idx), 1);
	/* The victim pointer below the lock base or past the end falls back to the base. */
	tlb.victim = 0;
	struct ik_tlb_entry e = page(0x200000, 0x90200000, SZ_4K);
	assert_int_equal(ik_tlb_insert(&tlb, &e), 2);
	tlb.victim = 31;
	assert_int_equal(ik_tlb_insert(&tlb, &e), 2);
	assert_int_equal(tlb.victim, 3);

	/* Everything locked: no room, nothing changes. */
	tlb.lock_base = 4;
	struct ik_tlb_entry before[4];
	for (unsigned int i = 0; i < 4; i++)
		before[i] = *ik_tlb_get(&tlb, i);
	assert_int_equal(ik_tlb_insert(&tlb, &e), -ENOSPC);
	for (unsigned int i = 0; i < 4; i++)
		assert_memory_equal(&before[i], ik_tlb_get(&tlb, i), sizeof(before[i]));
	ik_tlb_destroy(&tlb);
}

static void test_bad_entries(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 2, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry bad = page(0, 0, SZ_4K);
	bad.mask = 0x1001; /* not 2^n - 1 */
	assert_int_equal(ik_tlb_insert(&tlb, &bad), -EINVAL);
	assert_int_equal(ik_tlb_write(&tlb, 0, &bad), -EINVAL);
	bad.mask = 0xfff;
	bad.flags |= IK_TLB_LOCKED; /* derived, never stored */
	assert_int_equal(ik_tlb_insert(&tlb, &bad), -EINVAL);
	assert_int_equal(ik_tlb_insert(&tlb, NULL), -EINVAL);
	struct ik_tlb_entry good = page(0, 0, SZ_4K);
	assert_int_equal(ik_tlb_write(&tlb, 2, &good), -EINVAL);
	assert_int_equal(nr_valid(&tlb), 0);
	assert_int_equal(tlb.victim, 0);
	assert_null(ik_tlb_get(&tlb, 2));
	assert_int_equal(ik_tlb_flags(&tlb, 2), 0);
	/* A whole-space entry (mask all ones) is well formed. */
	good.mask = UINT64_MAX;
	assert_int_equal(ik_tlb_insert(&tlb, &good), 0);
	unsigned int idx;
	assert_int_equal(ik_tlb_lookup(&tlb, 0xfedcba9876543210ull, 0, &idx), 1);
	ik_tlb_destroy(&tlb);
}

static void test_lru(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 4, IK_TLB_LRU), 0);
	tlb.lock_base = 1;
	struct ik_tlb_entry pinned = page(0xf000, 0x8000f000, SZ_4K);
	assert_int_equal(ik_tlb_write(&tlb, 0, &pinned), 0);
	/* Free entries fill first, in order. */
	for (unsigned int i = 0; i < 3; i++) {
		struct ik_tlb_entry e = page(i * SZ_4K, 0x90000000 + i * SZ_4K, SZ_4K);
		assert_int_equal(ik_tlb_insert(&tlb, &e), (int)i + 1);
	}
	/* Use pages 0 and 2 (entries 1 and 3): entry 2 is now least recently used. */
	unsigned int idx;
	assert_int_equal(ik_tlb_lookup(&tlb, 0x0000, 0, &idx), 1);
	ik_tlb_touch(&tlb, idx);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x2000, 0, &idx), 1);
	ik_tlb_touch(&tlb, idx);
	/* The locked entry is never the victim even though it is the oldest. */
	struct ik_tlb_entry e = page(0x10000, 0x90010000, SZ_4K);
	assert_int_equal(ik_tlb_insert(&tlb, &e), 2);
	assert_int_equal(ik_tlb_lookup(&tlb, 0x1000, 0, &idx), 0);
	/* Next victim: entry 1 (page 0), touched before entry 3. */
	e.va = 0x20000;
	assert_int_equal(ik_tlb_insert(&tlb, &e), 1);
	/* An invalidated entry is refilled before any valid one is evicted. */
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x10000, 0x10000, 0), 1);
	e.va = 0x30000;
	assert_int_equal(ik_tlb_insert(&tlb, &e), 2);
	assert_int_equal(ik_tlb_get(&tlb, 0)->va, 0xf000);
	ik_tlb_destroy(&tlb);
}

static void test_invalidate_all(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 6, IK_TLB_ROUND_ROBIN), 0);
	for (unsigned int i = 0; i < 6; i++) {
		struct ik_tlb_entry e = page(i * SZ_1M, 0x80000000 + i * SZ_1M, SZ_1M);
		if (i == 1 || i == 4)
			e.flags |= IK_TLB_PRESERVED;
		assert_int_equal(ik_tlb_write(&tlb, i, &e), 0);
	}
	tlb.lock_base = 3; /* entries 0..2 locked; 1 is also preserved */

	/* Spare preserved only: 1 and 4 stay, locked 0 and 2 go. */
	assert_int_equal(ik_tlb_invalidate_all(&tlb, IK_TLB_PRESERVED), 4);
	assert_int_equal(nr_valid(&tlb), 2);
	assert_true(ik_tlb_flags(&tlb, 1) & IK_TLB_VALID);
	assert_true(ik_tlb_flags(&tlb, 4) & IK_TLB_VALID);
	/* Nothing left to drop under the same rule. */
	assert_int_equal(ik_tlb_invalidate_all(&tlb, IK_TLB_PRESERVED), 0);
	/* Spare the locked region: 4 goes, 1 (locked) stays. */
	assert_int_equal(ik_tlb_invalidate_all(&tlb, IK_TLB_LOCKED), 1);
	assert_true(ik_tlb_flags(&tlb, 1) & IK_TLB_VALID);
	/* Spare nothing. */
	assert_int_equal(ik_tlb_invalidate_all(&tlb, 0), 1);
	assert_int_equal(nr_valid(&tlb), 0);
	assert_int_equal(ik_tlb_invalidate(&tlb, NULL), 0);
	ik_tlb_destroy(&tlb);
}

static void test_invalidate_range(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 8, IK_TLB_ROUND_ROBIN), 0);
	/* [0x100000, 0x1fffff] 1M, [0x200000, 0x200fff] 4K, [0x210000, 0x21ffff] 64K */
	struct ik_tlb_entry a = page(0x100000, 0x80100000, SZ_1M);
	struct ik_tlb_entry b = page(0x200000, 0x80200000, SZ_4K);
	struct ik_tlb_entry c = page(0x210000, 0x80210000, SZ_64K);
	c.flags |= IK_TLB_PRESERVED;
	assert_int_equal(ik_tlb_insert(&tlb, &a), 0);
	assert_int_equal(ik_tlb_insert(&tlb, &b), 1);
	assert_int_equal(ik_tlb_insert(&tlb, &c), 2);

	/* Ranges that touch none: the gap between b and c, and beyond c. */
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x201000, 0x20ffff, 0), 0);
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x220000, 0x2fffff, 0), 0);
	/* start > last selects nothing. */
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x1fffff, 0x100000, 0), 0);
	/* A single address inside the 1M page drops the whole entry. */
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x1ff000, 0x1ff000, 0), 1);
	assert_false(ik_tlb_flags(&tlb, 0) & IK_TLB_VALID);
	/* A range straddling b's end and c's start drops both... unless spared. */
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x200ffc, 0x210003, IK_TLB_PRESERVED), 1);
	assert_true(ik_tlb_flags(&tlb, 2) & IK_TLB_VALID);
	assert_int_equal(ik_tlb_invalidate_range(&tlb, 0x200ffc, 0x210003, 0), 1);
	assert_int_equal(nr_valid(&tlb), 0);
	ik_tlb_destroy(&tlb);
}

static void test_reset(void **state)
{
	struct ik_tlb tlb;
	assert_int_equal(ik_tlb_init(&tlb, 3, IK_TLB_ROUND_ROBIN), 0);
	struct ik_tlb_entry e = page(0x1000, 0x80001000, SZ_4K);
	e.flags |= IK_TLB_PRESERVED;
	assert_int_equal(ik_tlb_write(&tlb, 0, &e), 0);
	tlb.lock_base = 1;
	tlb.victim = 2;
	ik_tlb_reset(&tlb);
	assert_int_equal(nr_valid(&tlb), 0);
	assert_int_equal(tlb.lock_base, 0);
	assert_int_equal(tlb.victim, 0);
	ik_tlb_destroy(&tlb);
	ik_tlb_destroy(&tlb); /* harmless twice */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),
		cmocka_unit_test(test_lookup_sizes),
		cmocka_unit_test(test_multi_hit),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_round_robin_lock),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_invalidate_all),
		cmocka_unit_test(test_invalidate_range),
		cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
