// SPDX-License-Identifier: MIT
/*
 * The IOVA allocator (src/iova/): input checking, the helpers, top-down
 * size-aligned placement, reservations, the occupancy report, and
 * randomized sequences checked against a bitmap model of the space.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ik_test.h"
#include <iommukit/iova.h>
#include "iova/iova-internal.h"

#define MAXCLS IK_IOVA_RCACHE_MAX_PFNS

static unsigned long pow2_up(unsigned long x)
{
	unsigned long p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

static void check_tree(struct iova_domain *d)
{
	assert_int_equal(iova_tree_check(d), 0);
}

/* --- gap arithmetic --- */

/* Brute force: largest k with an aligned [m*2^k, (m+1)*2^k) inside [lo, end). */
static int brute_gap_order(unsigned long lo, unsigned long end)
{
	for (int k = 63; k >= 0; k--) {
		unsigned long blk = 1UL << k;
		unsigned long first = (lo + blk - 1) & ~(blk - 1);

		if (first < lo) /* rounding wrapped past ULONG_MAX */
			continue;
		if (first <= end && end - first >= blk)
			return k;
	}
	return -1;
}

static void test_gap_order(void **state)
{
	uint64_t rng = ik_test_seed(0x1234);

	(void)state;
	for (unsigned long lo = 1; lo < 300; lo++)
		for (unsigned long end = lo; end < lo + 300; end++)
			if (iova_gap_order(lo, end) != brute_gap_order(lo, end))
				fail_msg("gap_order(%lu, %lu) = %d, brute force %d", lo, end,
					 iova_gap_order(lo, end), brute_gap_order(lo, end));
	/* Wide and high gaps, up to the anchor at ULONG_MAX. */
	for (int i = 0; i < 100000; i++) {
		unsigned long a = ik_test_rand(&rng) >> (ik_test_rand(&rng) % 64);
		unsigned long b = ik_test_rand(&rng) >> (ik_test_rand(&rng) % 64);
		unsigned long lo = a < b ? a : b, end = a < b ? b : a;

		if (!lo)
			lo = 1;
		if (end == ULONG_MAX && i & 1)
			lo = end - (ik_test_rand(&rng) % 4096);
		assert_int_equal(iova_gap_order(lo, end), brute_gap_order(lo, end));
	}
	/* Worked by hand: [8, 16) is the aligned block of order 3 itself. */
	assert_int_equal(iova_gap_order(8, 16), 3);
	/* [7, 17): 8..15 is the biggest aligned block; 16 alone is order 0. */
	assert_int_equal(iova_gap_order(7, 17), 3);
	/* [9, 16): 12..15 (order 2). */
	assert_int_equal(iova_gap_order(9, 16), 2);
	assert_int_equal(iova_gap_order(5, 5), -1);
	assert_int_equal(iova_gap_order(5, 6), 0);
	/* [1, 2^64 - 1): no order-63 block fits (2^63 .. 2^64 - 2 is one short); 2^62 .. does. */
	assert_int_equal(iova_gap_order(1, ULONG_MAX), 62);
}

/* Brute force: the key of [lo, end) from its definition. */
static unsigned long brute_gap_key(unsigned long lo, unsigned long end)
{
	int k = brute_gap_order(lo, end);
	unsigned long blk, m, tail = 0;

	if (k < 0)
		return 0;
	blk = 1UL << (k + 1);
	m = (lo + blk - 1) & ~(blk - 1);
	if (m >= lo && m < end) /* m < lo: the rounding wrapped */
		tail = end - m;
	return (unsigned long)(k + 1) << IOVA_KEY_SHIFT |
	       (tail < IOVA_KEY_TAIL ? tail : IOVA_KEY_TAIL);
}

/* Brute force: some multiple of @align in [lo, end - size]. */
static bool brute_fits(unsigned long lo, unsigned long end, unsigned long size,
		       unsigned long align)
{
	for (unsigned long m = (lo + align - 1) / align * align; m + size <= end; m += align)
		return true;
	return false;
}

static void test_gap_key(void **state)
{
	uint64_t rng = ik_test_seed(0x6e7);

	(void)state;
	for (unsigned long lo = 1; lo < 200; lo++)
		for (unsigned long end = lo; end < lo + 200; end++) {
			unsigned long key = iova_gap_key(lo, end);

			if (key != brute_gap_key(lo, end))
				fail_msg("gap_key(%lu, %lu) = %#lx, brute force %#lx", lo, end, key,
					 brute_gap_key(lo, end));
			/* The key decides every size-aligned request exactly. */
			for (unsigned long size = 1; size <= 70; size++) {
				int order = iova_log2_up(size);
				bool fits = brute_fits(lo, end, size, 1UL << order);

				if ((key >= iova_fit_key(size, order)) != fits)
					fail_msg("[%lu, %lu) size %lu: key says %d, brute force %d",
						 lo, end, size, !fits, fits);
			}
		}
	for (int i = 0; i < 100000; i++) {
		unsigned long a = ik_test_rand(&rng) >> (ik_test_rand(&rng) % 64);
		unsigned long b = ik_test_rand(&rng) >> (ik_test_rand(&rng) % 64);
		unsigned long lo = a < b ? a : b, end = a < b ? b : a;

		if (!lo)
			lo = 1;
		if (i & 1) /* narrow gaps high up */
			end = lo + ik_test_rand(&rng) % 4096;
		if (end == ULONG_MAX || end < lo)
			end = ULONG_MAX - 1;
		assert_int_equal(iova_gap_key(lo, end), brute_gap_key(lo, end));
	}
	/*
	 * By hand: [5, 13) holds 8..11 (order 2); the one multiple of 8 in it
	 * is 8, followed by 5 pfns: key (3 << 58) | 5. Five pfns aligned to 8
	 * fit (8..12), six do not.
	 */
	assert_int_equal(iova_gap_key(5, 13), 3UL << IOVA_KEY_SHIFT | 5);
	assert_true(iova_gap_key(5, 13) >= iova_fit_key(5, 3));
	assert_false(iova_gap_key(5, 13) >= iova_fit_key(6, 3));
	assert_false(iova_gap_key(5, 13) >= iova_fit_key(8, 3));
}

/* --- helpers and input checking --- */

static void test_helpers(void **state)
{
	struct iova_domain d;
	struct iova r = { .pfn_hi = 0x1003, .pfn_lo = 0x1000 };

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_shift(&d), 12);
	assert_int_equal(iova_mask(&d), 0xfff);
	assert_int_equal(iova_offset(&d, 0x12345678), 0x678);
	assert_int_equal(iova_align(&d, 1), 4096);
	assert_int_equal(iova_align(&d, 4096), 4096);
	assert_int_equal(iova_align(&d, 4097), 8192);
	assert_int_equal(iova_align_down(&d, 8191), 4096);
	assert_int_equal(iova_pfn(&d, 0x12345678), 0x12345);
	assert_int_equal(iova_size(&r), 4);
	assert_int_equal(iova_dma_addr(&d, &r), 0x1000000);
	put_iova_domain(&d);

	/* A 512-byte granule: shift 9. */
	assert_int_equal(init_iova_domain(&d, 512, 8), 0);
	assert_int_equal(iova_shift(&d), 9);
	assert_int_equal(iova_dma_addr(&d, &r), 0x1000UL << 9);
	assert_int_equal(iova_pfn(&d, 0x400), 2);
	put_iova_domain(&d);
}

static void test_init_errors(void **state)
{
	struct iova_domain d;

	(void)state;
	assert_int_equal(init_iova_domain(NULL, 4096, 1), -EINVAL);
	assert_int_equal(init_iova_domain(&d, 0, 1), -EINVAL);
	assert_int_equal(init_iova_domain(&d, 3000, 1), -EINVAL);
	assert_int_equal(init_iova_domain(&d, 4096, 0), -EINVAL); /* pfn 0 must stay unused */
	assert_int_equal(init_iova_domain(&d, 4096, ULONG_MAX), -EINVAL);

	/* A put domain is inert: every call refuses it, put again is harmless. */
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	put_iova_domain(&d);
	put_iova_domain(&d);
	put_iova_domain(NULL);
	errno = 0;
	assert_null(alloc_iova(&d, 1, 100, false));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(alloc_iova_fast(&d, 1, 100, true), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(free_iova(&d, 5), -EINVAL);
	assert_int_equal(free_iova_fast(&d, 5, 1), -EINVAL);
	assert_int_equal(iova_domain_init_rcaches(&d), -EINVAL);
	assert_int_equal(ik_iova_flush_rcaches(&d), -EINVAL);
	assert_null(find_iova(&d, 5));
	assert_null(reserve_iova(&d, 5, 6));
	assert_int_equal(errno, EINVAL);
}

static void test_alloc_errors(void **state)
{
	struct iova_domain d;
	struct ik_iova_report rep;
	struct iova *a;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 16), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0); /* again: nothing changes */

	errno = 0;
	assert_null(alloc_iova(&d, 0, 100, false));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(alloc_iova(&d, 1, 15, false)); /* limit below start_pfn */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, 0, 100, true), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, 1, 15, true), 0);
	assert_int_equal(errno, EINVAL);
	/* Bigger than the window, or than the whole space. */
	errno = 0;
	assert_null(alloc_iova(&d, 86, 100, false));
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_null(alloc_iova(&d, ULONG_MAX, ULONG_MAX, false));
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_null(alloc_iova(&d, (1UL << 63) + 1, ULONG_MAX, true));
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, 200, 100, true), 0);
	assert_int_equal(errno, ENOSPC);

	/* Frees of what was never allocated. */
	assert_int_equal(free_iova(&d, 50), -ENOENT);
	assert_int_equal(free_iova(&d, 3), -ENOENT); /* below start_pfn: not a range */
	assert_int_equal(free_iova(&d, ULONG_MAX), -ENOENT); /* the anchor */
	assert_int_equal(__free_iova(&d, NULL), -EINVAL);
	assert_int_equal(free_iova_fast(&d, 50, 1), -ENOENT);
	assert_int_equal(free_iova_fast(&d, 50, 0), -EINVAL);
	assert_int_equal(free_iova_fast(&d, 50, 500), -ENOENT);

	/* Slow range: double free and wrong-size fast free leave it intact. */
	a = alloc_iova(&d, 3, 100, false);
	assert_non_null(a);
	assert_int_equal(a->pfn_lo, 98);
	assert_int_equal(free_iova_fast(&d, 98, 2), -EINVAL);
	assert_int_equal(free_iova_fast(&d, 99, 1), -EINVAL); /* inside, not the start */
	assert_ptr_equal(find_iova(&d, 99), a);
	assert_int_equal(__free_iova(&d, a), 0);
	assert_int_equal(__free_iova(&d, a), -ENOENT);
	assert_int_equal(free_iova(&d, 98), -ENOENT);
	check_tree(&d);

	/* Fast range: double free while cached, then after the cache drained. */
	unsigned long p = alloc_iova_fast(&d, 3, 100, true); /* 4 pfns, aligned to 4 */
	assert_int_equal(p, 96);
	assert_int_equal(free_iova_fast(&d, p, 8), -EINVAL);
	assert_int_equal(free_iova_fast(&d, p, 1), -EINVAL);
	assert_int_equal(free_iova_fast(&d, p, 3), 0); /* the size asked for */
	assert_int_equal(free_iova_fast(&d, p, 3), -ENOENT);
	assert_int_equal(free_iova_fast(&d, p, 4), -ENOENT);
	assert_int_equal(free_iova(&d, p), -ENOENT);
	assert_null(find_iova(&d, p));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.cached_pfns, 4);
	assert_int_equal(ik_iova_flush_rcaches(&d), 0);
	assert_int_equal(free_iova_fast(&d, p, 4), -ENOENT);
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.cached_pfns, 0);
	assert_int_equal(rep.free_pfns, 85);
	/* free_iova_fast with the real size of a non-power-of-two slow range. */
	a = alloc_iova(&d, 3, 100, false);
	assert_int_equal(free_iova_fast(&d, a->pfn_lo, 3), 0);
	/* Bad report arguments. */
	assert_int_equal(ik_iova_domain_report(&d, 15, &rep), -EINVAL);
	assert_int_equal(ik_iova_domain_report(&d, 100, NULL), -EINVAL);
	check_tree(&d);
	put_iova_domain(&d);
}

/* --- placement --- */

static void test_top_down_placement(void **state)
{
	struct iova_domain d;
	struct iova *a;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	/* Highest first: 0xfff, then 0xffe. */
	assert_int_equal(alloc_iova(&d, 1, 0xfff, false)->pfn_lo, 0xfff);
	assert_int_equal(alloc_iova(&d, 1, 0xfff, false)->pfn_lo, 0xffe);
	/* Four aligned to 4: 0xffc..0xfff is taken, so 0xff8. */
	a = alloc_iova(&d, 4, 0xfff, true);
	assert_int_equal(a->pfn_lo, 0xff8);
	assert_int_equal(a->pfn_hi, 0xffb);
	/*
	 * Three aligned to 4 (Linux: alignment is the size rounded up, three
	 * pfns allocated): the gap is 1..0xff7, the top start 0xff5 rounds down
	 * to 0xff4, so 0xff4..0xff6, leaving 0xff7 free.
	 */
	a = alloc_iova(&d, 3, 0xfff, true);
	assert_int_equal(a->pfn_lo, 0xff4);
	assert_int_equal(a->pfn_hi, 0xff6);
	/* Single pfns fill the holes left above, highest first: 0xffd, 0xffc, 0xff7. */
	assert_int_equal(alloc_iova(&d, 1, 0xfff, false)->pfn_lo, 0xffd);
	assert_int_equal(alloc_iova(&d, 1, 0xfff, false)->pfn_lo, 0xffc);
	assert_int_equal(alloc_iova(&d, 1, 0xfff, false)->pfn_lo, 0xff7);
	/* Unaligned three below it. */
	a = alloc_iova(&d, 3, 0xfff, false);
	assert_int_equal(a->pfn_lo, 0xff1);
	/*
	 * A lower limit is honoured, inclusive: 0x10..0x11 would cross it, so
	 * 0xe..0xf; then 0x10 alone is too small, so 0xc..0xd.
	 */
	assert_int_equal(alloc_iova(&d, 2, 0x10, true)->pfn_lo, 0xe);
	assert_int_equal(alloc_iova(&d, 2, 0x10, true)->pfn_lo, 0xc);
	/* 16 aligned to 16 under 0x10: only 0..15, which holds pfn 0: no. */
	errno = 0;
	assert_null(alloc_iova(&d, 16, 0x10, true));
	assert_int_equal(errno, ENOSPC);
	check_tree(&d);
	put_iova_domain(&d);

	/* The very top of the space, and the radix index far up. */
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	assert_int_equal(alloc_iova(&d, 1, ULONG_MAX, false)->pfn_lo, ULONG_MAX - 1);
	a = alloc_iova(&d, 1UL << 40, ULONG_MAX, true);
	assert_int_equal(a->pfn_lo, ULONG_MAX - (1UL << 41) + 1);
	/* Free above it: 2^64 - 2^40 .. 2^64 - 3; the top 64-aligned block starts at 2^64 - 128. */
	unsigned long p = alloc_iova_fast(&d, 64, ULONG_MAX, true);
	assert_int_equal(p, ULONG_MAX - 127);
	assert_int_equal(free_iova_fast(&d, p, 64), 0);
	assert_int_equal(alloc_iova_fast(&d, 64, ULONG_MAX, true), p); /* from the cache */
	assert_int_equal(free_iova_fast(&d, p, 64), 0);
	check_tree(&d);
	put_iova_domain(&d);
}

static void test_pfn_zero_never(void **state)
{
	struct iova_domain d;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	for (unsigned long want = 7; want >= 1; want--)
		assert_int_equal(alloc_iova_fast(&d, 1, 7, true), want);
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, 1, 7, true), 0);
	assert_int_equal(errno, ENOSPC);
	assert_null(alloc_iova(&d, 1, 7, false));
	assert_int_equal(errno, ENOSPC);
	put_iova_domain(&d);
}

/* --- reservations --- */

static void test_reserve(void **state)
{
	struct iova_domain d;
	struct ik_iova_report rep;
	struct iova *r, *r2, *a;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 10), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	errno = 0;
	assert_null(reserve_iova(&d, 20, 19));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(reserve_iova(&d, 0, 9)); /* all below start_pfn */
	assert_int_equal(errno, ERANGE);
	/* Partly below start_pfn: clipped. */
	r = reserve_iova(&d, 5, 12);
	assert_non_null(r);
	assert_int_equal(r->pfn_lo, 10);
	assert_int_equal(r->pfn_hi, 12);

	r = reserve_iova(&d, 100, 200);
	assert_non_null(r);
	/* Overlapping reservations merge into the first one. */
	r2 = reserve_iova(&d, 150, 300);
	assert_ptr_equal(r2, r);
	assert_int_equal(r->pfn_lo, 100);
	assert_int_equal(r->pfn_hi, 300);
	r2 = reserve_iova(&d, 90, 110);
	assert_ptr_equal(r2, r);
	assert_int_equal(r->pfn_lo, 90);
	/* Bridging two reservations folds both into the lower one. */
	r2 = reserve_iova(&d, 400, 410);
	assert_non_null(r2);
	assert_ptr_equal(reserve_iova(&d, 250, 405), r);
	assert_int_equal(r->pfn_hi, 410);
	/* Adjacent, not overlapping: separate. */
	r2 = reserve_iova(&d, 411, 420);
	assert_ptr_not_equal(r2, r);
	assert_ptr_equal(find_iova(&d, 411), r2);
	assert_ptr_equal(find_iova(&d, 300), r);
	check_tree(&d);

	/* Allocations go around reservations. */
	/* Below 420 only 13..89 is free (77 pfns). */
	errno = 0;
	assert_null(alloc_iova(&d, 78, 420, false));
	assert_int_equal(errno, ENOSPC);
	a = alloc_iova(&d, 50, 420, false);
	assert_non_null(a);
	assert_int_equal(a->pfn_lo, 40);
	assert_int_equal(a->pfn_hi, 89);
	errno = 0;
	assert_null(reserve_iova(&d, 80, 95)); /* overlaps the allocation */
	assert_int_equal(errno, EBUSY);
	assert_int_equal(r->pfn_lo, 90); /* unchanged */
	assert_ptr_equal(find_iova(&d, 85), a);
	check_tree(&d);

	/* A range freed into a cache is free: reserving over it drains it. */
	unsigned long p = alloc_iova_fast(&d, 8, 1000, true);
	assert_int_equal(p, 992);
	assert_int_equal(free_iova_fast(&d, p, 8), 0);
	r2 = reserve_iova(&d, 995, 995);
	assert_non_null(r2);
	assert_int_equal(ik_iova_domain_report(&d, 1000, &rep), 0);
	assert_int_equal(rep.cached_pfns, 0);
	assert_int_equal(free_iova_fast(&d, 995, 1), -EINVAL); /* a reservation */
	/* Releasing a reservation (Linux allows free_iova on one). */
	assert_int_equal(free_iova(&d, 995), 0);
	assert_null(find_iova(&d, 995));
	check_tree(&d);
	put_iova_domain(&d);
}

/* --- report --- */

static void test_report(void **state)
{
	struct iova_domain d;
	struct ik_iova_report rep;
	struct iova *a;
	unsigned long p;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	/* Empty: one gap 1..100. */
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.free_pfns, 100);
	assert_int_equal(rep.free_gaps, 1);
	assert_int_equal(rep.largest_free_gap, 100);
	assert_int_equal(rep.allocated_ranges + rep.reserved_ranges + rep.cached_ranges, 0);

	a = alloc_iova(&d, 10, 100, false); /* 91..100 */
	assert_int_equal(a->pfn_lo, 91);
	assert_non_null(reserve_iova(&d, 50, 59));
	p = alloc_iova_fast(&d, 4, 100, true); /* highest aligned 4 in 60..90: 84..87 */
	assert_int_equal(p, 84);
	assert_int_equal(free_iova_fast(&d, p, 4), 0);
	/*
	 * Allocated 91..100 (10), reserved 50..59 (10), cached 84..87 (4);
	 * free 1..49 (49), 60..83 (24), 88..90 (3): 76 pfns in 3 gaps.
	 */
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.allocated_pfns, 10);
	assert_int_equal(rep.allocated_ranges, 1);
	assert_int_equal(rep.reserved_pfns, 10);
	assert_int_equal(rep.reserved_ranges, 1);
	assert_int_equal(rep.cached_pfns, 4);
	assert_int_equal(rep.cached_ranges, 1);
	assert_int_equal(rep.free_pfns, 76);
	assert_int_equal(rep.free_gaps, 3);
	assert_int_equal(rep.largest_free_gap, 49);
	/* Drained: 60..90 is one gap of 31. */
	assert_int_equal(ik_iova_flush_rcaches(&d), 0);
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.cached_pfns, 0);
	assert_int_equal(rep.free_pfns, 80);
	assert_int_equal(rep.free_gaps, 2);
	/* A window ending at 70: 1..49 and 60..70. */
	assert_int_equal(ik_iova_domain_report(&d, 70, &rep), 0);
	assert_int_equal(rep.free_pfns, 60);
	assert_int_equal(rep.free_gaps, 2);
	assert_int_equal(rep.largest_free_gap, 49);
	/* Everything freed: back to one gap. */
	assert_int_equal(__free_iova(&d, a), 0);
	assert_int_equal(free_iova(&d, 55), 0);
	assert_int_equal(ik_iova_domain_report(&d, 100, &rep), 0);
	assert_int_equal(rep.free_pfns, 100);
	assert_int_equal(rep.free_gaps, 1);
	assert_int_equal(rep.allocated_ranges + rep.reserved_ranges + rep.cached_ranges, 0);
	put_iova_domain(&d);
}

/* --- caches --- */

static void test_enospc_drains_cache(void **state)
{
	struct iova_domain d;
	unsigned long pfns[64];

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 64), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	/* 64..127: fill with single pfns, free them all into this thread's cache. */
	for (int i = 0; i < 64; i++) {
		pfns[i] = alloc_iova_fast(&d, 1, 127, true);
		assert_int_equal(pfns[i], 127 - i);
	}
	for (int i = 0; i < 64; i++)
		assert_int_equal(free_iova_fast(&d, pfns[i], 1), 0);
	/* Without flush_rcache the tree has no room for 64 (Linux semantics). */
	errno = 0;
	assert_int_equal(alloc_iova_fast(&d, 64, 127, false), 0);
	assert_int_equal(errno, ENOSPC);
	/* With it, the cache drains and the whole window is one range. */
	assert_int_equal(alloc_iova_fast(&d, 64, 127, true), 64);
	assert_int_equal(free_iova_fast(&d, 64, 64), 0);
	/* alloc_iova drains too. */
	for (int i = 0; i < 64; i++)
		assert_int_equal(free_iova_fast(&d, alloc_iova_fast(&d, 1, 127, true), 1), 0);
	assert_non_null(alloc_iova(&d, 64, 127, true));
	check_tree(&d);
	put_iova_domain(&d); /* frees a live range and caches */
}

/* Several domains used in turn by one thread keep their caches apart. */
static void test_two_domains(void **state)
{
	struct iova_domain a, b;
	struct ik_iova_report rep;

	(void)state;
	assert_int_equal(init_iova_domain(&a, 4096, 1), 0);
	assert_int_equal(init_iova_domain(&b, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&a), 0);
	assert_int_equal(iova_domain_init_rcaches(&b), 0);
	for (int round = 0; round < 3; round++) {
		unsigned long pa = alloc_iova_fast(&a, 2, 1000, true);
		unsigned long pb = alloc_iova_fast(&b, 2, 500, true);

		assert_int_equal(pa, 999 - 1);
		assert_int_equal(pb, 499 - 1);
		assert_int_equal(free_iova_fast(&a, pa, 2), 0);
		/* b's range is not a's. */
		assert_int_equal(free_iova_fast(&a, pb, 2), -ENOENT);
		assert_int_equal(free_iova_fast(&b, pb, 2), 0);
	}
	/* A range of one domain is not freed through another. */
	struct iova *ra = alloc_iova(&a, 1, 100, false);

	assert_non_null(ra);
	assert_int_equal(__free_iova(&b, ra), -ENOENT);
	assert_int_equal(free_iova(&b, ra->pfn_lo), -ENOENT);
	assert_ptr_equal(find_iova(&a, 100), ra);
	assert_int_equal(__free_iova(&a, ra), 0);
	assert_int_equal(ik_iova_domain_report(&a, 1000, &rep), 0);
	assert_int_equal(rep.cached_pfns, 2);
	/* Put a; b goes on; a's memory is set up again and starts empty. */
	put_iova_domain(&a);
	assert_int_equal(alloc_iova_fast(&b, 2, 500, true), 498);
	assert_int_equal(init_iova_domain(&a, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&a), 0);
	assert_int_equal(ik_iova_domain_report(&a, 1000, &rep), 0);
	assert_int_equal(rep.cached_pfns + rep.allocated_pfns, 0);
	assert_int_equal(alloc_iova_fast(&a, 2, 1000, true), 998);
	assert_int_equal(free_iova_fast(&b, 498, 2), 0);
	put_iova_domain(&a);
	put_iova_domain(&b);
}

/* Magazine and depot turnover: many ranges of one class freed and taken again. */
static void test_magazine_turnover(void **state)
{
	enum { N = IOVA_MAG_SIZE * (IOVA_DEPOT_MAX_FULL + 6) };
	static unsigned long pfns[N];
	struct iova_domain d;
	struct ik_iova_report rep;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	assert_int_equal(iova_domain_init_rcaches(&d), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			pfns[i] = alloc_iova_fast(&d, 1, 1UL << 20, true);
			assert_int_not_equal(pfns[i], 0);
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(free_iova_fast(&d, pfns[i], 1), 0);
		assert_int_equal(ik_iova_domain_report(&d, 1UL << 20, &rep), 0);
		assert_int_equal(rep.allocated_pfns, 0);
		/* Two magazines per thread plus a bounded depot; the rest went back. */
		assert_true(rep.cached_pfns <= IOVA_MAG_SIZE * (IOVA_DEPOT_MAX_FULL + 2));
		assert_true(rep.cached_pfns >= IOVA_MAG_SIZE * IOVA_DEPOT_MAX_FULL);
		assert_int_equal(rep.free_pfns + rep.cached_pfns, 1UL << 20);
		check_tree(&d);
	}
	put_iova_domain(&d);
}

/* --- randomized sequences against a bitmap model --- */

#define SPACE  2048 /* pfns modelled: 0 .. SPACE - 1; limits stay below */
#define MAXR   4096

struct model_range {
	unsigned long lo, hi;
	unsigned long fast_size; /* size given to alloc_iova_fast, 0: slow or reserved */
	bool reserved, live;
	struct iova *iova;
};

struct model {
	unsigned long start;
	int owner[SPACE];             /* -1: free (cached ranges are free) */
	struct model_range r[MAXR];
	int nr;
	unsigned int run[SPACE + 1];  /* free pfns from p upward */
};

static void model_init(struct model *m, unsigned long start)
{
	m->start = start;
	m->nr = 0;
	for (int p = 0; p < SPACE; p++)
		m->owner[p] = -1;
}

static void model_runs(struct model *m)
{
	m->run[SPACE] = 0;
	for (int p = SPACE - 1; p >= 0; p--)
		m->run[p] = (unsigned long)p >= m->start && m->owner[p] < 0 ?
			    m->run[p + 1] + 1 : 0;
}

/* Highest aligned start of @size free pfns at or below @limit, or -1. */
static long model_fit(struct model *m, unsigned long size, unsigned long limit,
		      unsigned long align)
{
	long lo;

	model_runs(m);
	if (limit + 1 < size)
		return -1;
	for (lo = (long)((limit - size + 1) & ~(align - 1)); lo >= (long)m->start;
	     lo -= (long)align)
		if (m->run[lo] >= size)
			return lo;
	return -1;
}

static int model_add(struct model *m, unsigned long lo, unsigned long hi, bool reserved,
		     unsigned long fast_size, struct iova *iova)
{
	int id = m->nr++;

	assert_true(id < MAXR);
	m->r[id] = (struct model_range){ lo, hi, fast_size, reserved, true, iova };
	for (unsigned long p = lo; p <= hi; p++) {
		if (m->owner[p] >= 0)
			fail_msg("[%#lx, %#lx] overlaps range %d at %#lx", lo, hi, m->owner[p], p);
		m->owner[p] = id;
	}
	return id;
}

static void model_del(struct model *m, int id)
{
	for (unsigned long p = m->r[id].lo; p <= m->r[id].hi; p++)
		m->owner[p] = -1;
	m->r[id].live = false;
}

static int model_pick_live(struct model *m, uint64_t *rng, bool want_reserved)
{
	int ids[MAXR], n = 0;

	for (int i = 0; i < m->nr; i++)
		if (m->r[i].live && m->r[i].reserved == want_reserved)
			ids[n++] = i;
	return n ? ids[ik_test_rand(rng) % (uint64_t)n] : -1;
}

/* The report against the model, in the window start .. limit. */
static void model_check_report(struct model *m, struct iova_domain *d, unsigned long limit)
{
	struct ik_iova_report rep;
	unsigned long alloc = 0, res = 0, nalloc = 0, nres = 0, free_ = 0, gaps = 0, best = 0;
	unsigned long run = 0;

	assert_int_equal(ik_iova_domain_report(d, limit, &rep), 0);
	for (int i = 0; i < m->nr; i++) {
		if (!m->r[i].live)
			continue;
		if (m->r[i].reserved) {
			res += m->r[i].hi - m->r[i].lo + 1;
			nres++;
		} else {
			alloc += m->r[i].hi - m->r[i].lo + 1;
			nalloc++;
		}
	}
	for (unsigned long p = m->start; p <= limit + 1; p++) {
		if (p <= limit && m->owner[p] < 0) {
			run++;
			continue;
		}
		if (run) {
			gaps++;
			free_ += run;
			best = run > best ? run : best;
		}
		run = 0;
	}
	assert_int_equal(rep.allocated_pfns, alloc);
	assert_int_equal(rep.allocated_ranges, nalloc);
	assert_int_equal(rep.reserved_pfns, res);
	assert_int_equal(rep.reserved_ranges, nres);
	/* Cached ranges are free in the model, not yet in the tree. */
	assert_int_equal(rep.free_pfns + rep.cached_pfns, free_);
	if (!rep.cached_pfns) {
		assert_int_equal(rep.free_gaps, gaps);
		assert_int_equal(rep.largest_free_gap, best);
	}
}

static void do_reserve(struct model *m, struct iova_domain *d, uint64_t *rng)
{
	unsigned long lo = ik_test_rand(rng) % (SPACE - 16), hi = lo + ik_test_rand(rng) % 12;
	unsigned long clo = lo < m->start ? m->start : lo;
	unsigned long ulo = clo, uhi = hi;
	int first = -1, busy = 0;
	struct iova *r;

	if (clo > hi) {
		errno = 0;
		assert_null(reserve_iova(d, lo, hi));
		assert_int_equal(errno, ERANGE);
		return;
	}
	for (unsigned long p = clo; p <= hi; p++) {
		int o = m->owner[p];

		if (o < 0)
			continue;
		if (!m->r[o].reserved)
			busy = 1;
		else if (first < 0 || m->r[o].lo < m->r[first].lo)
			first = o;
	}
	errno = 0;
	r = reserve_iova(d, lo, hi);
	if (busy) {
		assert_null(r);
		assert_int_equal(errno, EBUSY);
		return;
	}
	assert_non_null(r);
	/* Fold every overlapped reservation into the union. */
	for (unsigned long p = clo; p <= hi; p++) {
		int o = m->owner[p];

		if (o >= 0) {
			ulo = m->r[o].lo < ulo ? m->r[o].lo : ulo;
			uhi = m->r[o].hi > uhi ? m->r[o].hi : uhi;
			model_del(m, o);
		}
	}
	if (first >= 0)
		assert_ptr_equal(r, m->r[first].iova);
	assert_int_equal(r->pfn_lo, ulo);
	assert_int_equal(r->pfn_hi, uhi);
	model_add(m, ulo, uhi, true, 0, r);
}

static void do_slow_alloc(struct model *m, struct iova_domain *d, uint64_t *rng)
{
	unsigned long size = 1 + ik_test_rand(rng) % (ik_test_rand(rng) % 4 ? 8 : 90);
	unsigned long limit = m->start + ik_test_rand(rng) % (SPACE - m->start);
	bool aligned = ik_test_rand(rng) & 1;
	long want = model_fit(m, size, limit, aligned ? pow2_up(size) : 1);
	struct ik_iova_report rep;
	struct iova *a;

	/* Cached ranges are free in the model but held by the tree until drained. */
	assert_int_equal(ik_iova_domain_report(d, SPACE - 1, &rep), 0);
	errno = 0;
	a = alloc_iova(d, size, limit, aligned);
	if (want < 0) {
		if (a)
			fail_msg("alloc_iova(%lu, %#lx, %d) = %#lx, model: no fit", size, limit,
				 aligned, a->pfn_lo);
		assert_int_equal(errno, ENOSPC);
		return;
	}
	if (!a)
		fail_msg("alloc_iova(%lu, %#lx, %d) failed (%d), model fits at %#lx", size, limit,
			 aligned, errno, want);
	assert_int_equal(a->pfn_hi, a->pfn_lo + size - 1);
	assert_true(a->pfn_lo >= m->start && a->pfn_hi <= limit);
	if (aligned)
		assert_int_equal(a->pfn_lo & (pow2_up(size) - 1), 0);
	/* The highest fitting range, exactly, when nothing is cached. */
	if (!rep.cached_pfns)
		assert_int_equal(a->pfn_lo, want);
	model_add(m, a->pfn_lo, a->pfn_hi, false, 0, a);
}

static void do_fast_alloc(struct model *m, struct iova_domain *d, uint64_t *rng)
{
	unsigned long size = 1 + ik_test_rand(rng) % (ik_test_rand(rng) % 8 ? MAXCLS : 100);
	unsigned long real = size <= MAXCLS ? pow2_up(size) : size;
	unsigned long limit = m->start + ik_test_rand(rng) % (SPACE - m->start);
	long fit = model_fit(m, real, limit, pow2_up(size));
	unsigned long p;

	errno = 0;
	p = alloc_iova_fast(d, size, limit, true);
	if (fit < 0) {
		/* ENOSPC exactly when no fitting gap exists once caches are drained. */
		if (p)
			fail_msg("alloc_iova_fast(%lu, %#lx) = %#lx, model: no fit", size, limit,
				 p);
		assert_int_equal(errno, ENOSPC);
		return;
	}
	if (!p)
		fail_msg("alloc_iova_fast(%lu, %#lx) failed (%d), model fits at %#lx", size, limit,
			 errno, fit);
	assert_true(p >= m->start);
	assert_true(p + real - 1 <= limit);
	assert_int_equal(p & (pow2_up(size) - 1), 0);
	model_add(m, p, p + real - 1, false, size, find_iova(d, p)); /* fails on overlap */
	assert_non_null(m->r[m->nr - 1].iova);
	assert_int_equal(m->r[m->nr - 1].iova->pfn_hi, p + real - 1);
}

static void do_free(struct model *m, struct iova_domain *d, uint64_t *rng)
{
	int id = model_pick_live(m, rng, ik_test_rand(rng) % 8 == 0);
	struct model_range *r;
	unsigned long mid;

	if (id < 0)
		return;
	r = &m->r[id];
	mid = r->lo + ik_test_rand(rng) % (r->hi - r->lo + 1);
	if (r->fast_size) {
		assert_int_equal(free_iova_fast(d, r->lo, r->fast_size), 0);
		model_del(m, id);
		/* A double free is refused and changes nothing. */
		if (ik_test_rand(rng) % 4 == 0)
			assert_int_equal(free_iova_fast(d, r->lo, r->fast_size), -ENOENT);
		return;
	}
	switch (ik_test_rand(rng) % 3) {
	case 0:
		assert_int_equal(__free_iova(d, r->iova), 0);
		break;
	case 1:
		assert_int_equal(free_iova(d, mid), 0); /* any pfn of the range */
		break;
	default:
		assert_int_equal(free_iova(d, r->lo), 0);
		break;
	}
	model_del(m, id);
	if (ik_test_rand(rng) % 4 == 0)
		assert_int_equal(free_iova(d, mid), -ENOENT);
}

static void do_find(struct model *m, struct iova_domain *d, uint64_t *rng)
{
	unsigned long p = ik_test_rand(rng) % SPACE;
	struct iova *f = find_iova(d, p);
	int o = m->owner[p];

	if (o < 0) {
		assert_null(f);
	} else {
		assert_ptr_equal(f, m->r[o].iova);
		assert_int_equal(f->pfn_lo, m->r[o].lo);
	}
}

static void run_random(uint64_t seed, bool fast, int steps)
{
	static struct model m;
	struct iova_domain d;
	uint64_t rng = seed;
	unsigned long start = 1 + ik_test_rand(&rng) % 16;

	model_init(&m, start);
	assert_int_equal(init_iova_domain(&d, 4096, start), 0);
	if (fast)
		assert_int_equal(iova_domain_init_rcaches(&d), 0);
	for (int i = 0; i < steps; i++) {
		unsigned int op = ik_test_rand(&rng) % 16;

		if (m.nr > MAXR - 16)
			break;
		if (op < 6)
			(fast && op < 4 ? do_fast_alloc : do_slow_alloc)(&m, &d, &rng);
		else if (op < 11)
			do_free(&m, &d, &rng);
		else if (op < 12)
			do_reserve(&m, &d, &rng);
		else if (op < 14)
			do_find(&m, &d, &rng);
		else if (op == 14 && fast)
			assert_int_equal(ik_iova_flush_rcaches(&d), 0);
		if (i % 16 == 0) {
			check_tree(&d);
			model_check_report(&m, &d, SPACE - 1);
		}
	}
	/* Free everything but the reservations: all space comes back. */
	for (int i = 0; i < m.nr; i++) {
		struct model_range *r = &m.r[i];

		if (!r->live || r->reserved)
			continue;
		if (r->fast_size)
			assert_int_equal(free_iova_fast(&d, r->lo, r->fast_size), 0);
		else
			assert_int_equal(free_iova(&d, r->lo), 0);
		model_del(&m, i);
	}
	assert_int_equal(ik_iova_flush_rcaches(&d), 0);
	check_tree(&d);
	model_check_report(&m, &d, SPACE - 1);
	for (int i = 0; i < m.nr; i++)
		if (m.r[i].live)
			assert_int_equal(__free_iova(&d, m.r[i].iova), 0);
	{
		struct ik_iova_report rep;

		assert_int_equal(ik_iova_domain_report(&d, SPACE - 1, &rep), 0);
		assert_int_equal(rep.free_pfns, SPACE - start);
		assert_int_equal(rep.free_gaps, 1);
		assert_int_equal(rep.allocated_ranges + rep.reserved_ranges + rep.cached_ranges, 0);
	}
	put_iova_domain(&d);
}

static void test_random_slow(void **state)
{
	uint64_t seed = ik_test_seed(0x51057);

	(void)state;
	for (int i = 0; i < 6; i++)
		run_random(seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL, false, 3000);
}

static void test_random_fast(void **state)
{
	uint64_t seed = ik_test_seed(0xfa57);

	(void)state;
	for (int i = 0; i < 6; i++)
		run_random(seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL, true, 3000);
}

/* The same with owners fencing themselves (the path for kernels without membarrier). */
static void test_random_fast_fence_mode(void **state)
{
	uint64_t seed = ik_test_seed(0xfe7ce);

	(void)state;
	assert_int_equal(iova_rcache_set_fence_mode(true), 0);
	run_random(seed, true, 3000);
	iova_rcache_set_fence_mode(false); /* back to membarrier where there is one */
}

/* A big tree: many rotations, and the invariants after each phase. */
static void test_big_tree(void **state)
{
	enum { N = 20000 };
	static struct iova *a[N];
	struct iova_domain d;
	uint64_t rng = ik_test_seed(0xb16);
	struct ik_iova_report rep;

	(void)state;
	assert_int_equal(init_iova_domain(&d, 4096, 1), 0);
	for (int i = 0; i < N; i++) {
		a[i] = alloc_iova(&d, 1 + ik_test_rand(&rng) % 16, 1UL << 32,
				  ik_test_rand(&rng) & 1);
		assert_non_null(a[i]);
	}
	check_tree(&d);
	/* Free a random half, then allocate again into the holes. */
	for (int i = 0; i < N; i++) {
		int j = (int)(ik_test_rand(&rng) % N);

		if (a[j]) {
			assert_int_equal(__free_iova(&d, a[j]), 0);
			a[j] = NULL;
		}
	}
	check_tree(&d);
	for (int i = 0; i < N; i++)
		if (!a[i])
			assert_non_null(a[i] = alloc_iova(&d, 1 + ik_test_rand(&rng) % 4,
							   1UL << 32, true));
	check_tree(&d);
	for (int i = 0; i < N; i++)
		assert_int_equal(__free_iova(&d, a[i]), 0);
	check_tree(&d);
	assert_int_equal(ik_iova_domain_report(&d, 1UL << 32, &rep), 0);
	assert_int_equal(rep.free_pfns, 1UL << 32);
	assert_int_equal(rep.free_gaps, 1);
	put_iova_domain(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gap_order),
		cmocka_unit_test(test_gap_key),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_alloc_errors),
		cmocka_unit_test(test_top_down_placement),
		cmocka_unit_test(test_pfn_zero_never),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_enospc_drains_cache),
		cmocka_unit_test(test_two_domains),
		cmocka_unit_test(test_magazine_turnover),
		cmocka_unit_test(test_random_slow),
		cmocka_unit_test(test_random_fast),
		cmocka_unit_test(test_random_fast_fence_mode),
		cmocka_unit_test(test_big_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
