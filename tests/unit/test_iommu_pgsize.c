// SPDX-License-Identifier: MIT
/*
 * The core's page-size splitting (iommu_pgsize): table-driven cases worked
 * out by hand, then a randomized comparison against a page-at-a-time
 * greedy reference that shares no code with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ik/iommu-driver.h"

#define SZ_4K  0x1000UL
#define SZ_64K 0x10000UL
#define SZ_1M  0x100000UL
#define SZ_2M  0x200000UL
#define SZ_16M 0x1000000UL
#define SZ_1G  0x40000000UL

#define OMAP_SIZES (SZ_4K | SZ_64K | SZ_1M | SZ_16M)
#define LPAE_SIZES (SZ_4K | SZ_2M | SZ_1G)

struct pgsize_case {
	unsigned long bitmap;
	uint64_t iova, pa, size;
	size_t want_pgsize, want_count;
	const char *why;
};

static const struct pgsize_case cases[] = {
	{ OMAP_SIZES, 0, 0x80000000, SZ_4K, SZ_4K, 1, "one small page" },
	{ OMAP_SIZES, 0, 0x80000000, SZ_16M, SZ_16M, 1, "all aligned to 16M" },
	{ OMAP_SIZES, 0, 0x80000000, 2 * SZ_16M + SZ_4K, SZ_16M, 2,
	  "two supersections, the tail is left for later calls" },
	/* 0x1000: 64K boundary is 15 pages away and 2M holds a 64K page */
	{ OMAP_SIZES, 0x1000, 0x80001000, SZ_2M, SZ_4K, 15, "run up to the 64K boundary" },
	/* 1M from a 64K boundary: the 1M boundary is 960K away, too far to
	 * fit a 1M page before the end, so all 16 large pages go at once */
	{ OMAP_SIZES, 0x10000, 0x80010000, SZ_1M, SZ_64K, 16, "large pages to the end" },
	/* iova and pa disagree modulo 64K: only 4K pages can ever be used */
	{ OMAP_SIZES, 0x1000, 0x80002000, SZ_1G, SZ_4K, SZ_1G / SZ_4K,
	  "1 GiB forced to 4K leaves in one call" },
	{ OMAP_SIZES, 0x100000, 0x80100000, 15 * SZ_1M, SZ_1M, 15,
	  "sections up to the 16M boundary" },
	/* 2M blocks stop at the 1G boundary only if a whole 1G page follows */
	{ LPAE_SIZES, 0x200000, 0x40200000, 2 * SZ_1G, SZ_2M, 511,
	  "2M blocks up to the 1G boundary" },
	{ LPAE_SIZES, 0x200000, 0x40200000, SZ_1G + SZ_2M, SZ_2M, 513,
	  "no 1G page fits after the boundary: 2M blocks to the end" },
	{ LPAE_SIZES, 0x40000000, 0x80000000, SZ_1G, SZ_1G, 1, "one 1G block" },
};

static void test_pgsize_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pgsize_case *c = &cases[i];
		size_t count = 0;
		size_t pg = iommu_pgsize(c->bitmap, c->iova, c->pa, c->size, &count);
		if (pg != c->want_pgsize || count != c->want_count)
			fail_msg("case %zu (%s): got %zu x %#zx, want %zu x %#zx", i, c->why,
				 count, pg, c->want_count, c->want_pgsize);
	}
}

/* Reference: the largest page that fits, decided one page at a time. */
static size_t greedy_page(unsigned long bitmap, uint64_t iova, uint64_t pa, uint64_t left)
{
	for (int bit = 63 - __builtin_clzl(bitmap); bit >= 0; bit--) {
		uint64_t sz = 1ULL << bit;
		if (!(bitmap & sz) || sz > left)
			continue;
		if ((iova | pa) & (sz - 1))
			continue;
		return sz;
	}
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_split(unsigned long bitmap, uint64_t iova, uint64_t pa, uint64_t size)
{
	uint64_t done = 0;
	while (done < size) {
		size_t count;
		size_t pg = iommu_pgsize(bitmap, iova + done, pa + done, size - done, &count);
		assert_true(count >= 1);
		for (size_t k = 0; k < count; k++) {
			size_t want = greedy_page(bitmap, iova + done, pa + done, size - done);
			if (want != pg)
				fail_msg("iova %#llx pa %#llx size %#llx: page at +%#llx is %#zx, "
					 "greedy says %#zx", (unsigned long long)iova,
					 (unsigned long long)pa, (unsigned long long)size,
					 (unsigned long long)done, pg, want);
			done += pg;
		}
	}
	assert_int_equal(done, size);
}

static void test_pgsize_matches_greedy(void **state)
{
	static const unsigned long bitmaps[] = { OMAP_SIZES, LPAE_SIZES, SZ_4K,
						 SZ_4K | SZ_64K | SZ_2M | 0x2000000UL };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	(void)state;
	for (int n = 0; n < 3000; n++) {
		unsigned long bm = bitmaps[n % 4];
		/* Addresses near size-aligned boundaries are where splits go wrong. */
		uint64_t iova = (rnd(&seed) & 0xffff000ULL) | ((rnd(&seed) & 3) << 30);
		uint64_t pa = rnd(&seed) & 3 ? (iova + ((rnd(&seed) & 0xff) << 24)) :
					      (rnd(&seed) & 0xfffff000ULL);
		uint64_t size = ((rnd(&seed) % 0x1000) + 1) << 12;
		if (n % 300 == 0)
			size += SZ_1G;
		check_split(bm, iova, pa, size);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgsize_cases),
		cmocka_unit_test(test_pgsize_matches_greedy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
