// SPDX-License-Identifier: MIT
/*
 * Simulated physical memory (src/hw/phys_mem.c): sparse backing, bounds of
 * CPU accesses, the page allocator and its metadata.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ik/log.h"
#include "ik/mem.h"

#define PG IK_PAGE_SIZE

/* Resident set size in pages (second field of /proc/self/statm). */
static long rss_pages(void)
{
	long size = -1, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident;
}

static struct ik_mem *mem_create1(phys_addr_t base, uint64_t size)
{
	struct ik_region_desc r = { .name = "ram", .base = base, .size = size };

	return ik_sim_mem_create(&r, 1);
}

/* --- log capture --- */

struct log_capture {
	unsigned int errors;
	char last[256];
};

static void capture_log(enum ik_log_level level, const char *msg, void *arg)
{
	struct log_capture *c = arg;

	if (level == IK_LOG_ERR)
		c->errors++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

/* --- creation --- */

static void test_create_rejects_bad_regions(void **state)
{
	(void)state;
	struct ik_region_desc two[2] = {
		{ "a", 0x80000000, 16 * PG },
		{ "b", 0x80000000 + 15 * PG, 16 * PG }, /* overlaps a's last page */
	};
	struct ik_region_desc r;

	errno = 0;
	assert_null(ik_sim_mem_create(NULL, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(ik_sim_mem_create(two, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ik_sim_mem_create(two, 2));
	assert_int_equal(errno, EINVAL);

	r = (struct ik_region_desc){ "x", 0x80000800, 16 * PG }; /* base not 4K aligned */
	assert_null(ik_sim_mem_create(&r, 1));
	r = (struct ik_region_desc){ "x", 0x80000000, 16 * PG + 1 }; /* size not 4K multiple */
	assert_null(ik_sim_mem_create(&r, 1));
	r = (struct ik_region_desc){ "x", 0x80000000, 0 };
	assert_null(ik_sim_mem_create(&r, 1));
	r = (struct ik_region_desc){ "x", UINT64_MAX - PG + 1, 2 * PG }; /* wraps */
	assert_null(ik_sim_mem_create(&r, 1));
	assert_int_equal(errno, EINVAL);

	/* Adjacent regions do not overlap; one may end at the top of the space. */
	two[1].base = 0x80000000 + 16 * PG;
	struct ik_mem *mem = ik_sim_mem_create(two, 2);
	assert_non_null(mem);
	ik_mem_destroy(mem);
	r = (struct ik_region_desc){ "top", UINT64_MAX - 4 * PG + 1, 4 * PG };
	mem = ik_sim_mem_create(&r, 1);
	assert_non_null(mem);
	assert_int_equal(ik_mem_fill(mem, UINT64_MAX, 0x5a, 1), 0);
	assert_int_equal(ik_mem_fill(mem, UINT64_MAX, 0x5a, 2), -EFAULT); /* would wrap */
	ik_mem_destroy(mem);
}

/*
 * 64 GiB of RAM at 0x10_0000_0000 costs only the pages that are touched:
 * the region is a MAP_NORESERVE mapping, its metadata and bitmap too.
 */
static void test_sparse_backing(void **state)
{
	(void)state;
	const phys_addr_t base = 0x1000000000ULL;
	const uint64_t size = 64ULL << 30;
	const unsigned int touches = 64;
	long rss0 = rss_pages();
	struct ik_mem *mem = mem_create1(base, size);

	if (!mem && errno == ENOMEM)
		skip(); /* strict overcommit: the host refuses even a sparse 64 GiB */
	assert_non_null(mem);
	assert_true(rss0 > 0);
	long rss1 = rss_pages();
	long page_kib = sysconf(_SC_PAGESIZE) / 1024;
	/* Creation commits next to nothing (a few bookkeeping pages, not GiBs). */
	assert_true((rss1 - rss0) * page_kib < 16 * 1024);

	/* Touch 64 pages 1 GiB apart; each costs one host page (plus the
	 * sanitizers' shadow, when built with them: hence the slack). */
	for (unsigned int i = 0; i < touches; i++) {
		phys_addr_t pa = base + (uint64_t)i * (size / touches) + 123;
		uint8_t v = (uint8_t)(i + 1), back = 0;

		assert_int_equal(ik_mem_write(mem, pa, &v, 1), 0);
		assert_int_equal(ik_mem_read(mem, pa, &back, 1), 0);
		assert_int_equal(back, v);
	}
	long rss2 = rss_pages();
	assert_true(rss2 - rss1 >= (long)touches * (long)(PG / 1024) / page_kib);
	assert_true((rss2 - rss1) * page_kib < 32 * 1024);

	/* The last byte of the region is RAM, the next is not. */
	assert_int_equal(ik_mem_fill(mem, base + size - 1, 0xff, 1), 0);
	assert_int_equal(ik_mem_fill(mem, base + size - 1, 0xff, 2), -EFAULT);
	assert_int_equal(ik_mem_free_count(mem), size / PG);
	ik_mem_destroy(mem);
}

/* --- CPU-side bounds --- */

static void test_bounds(void **state)
{
	(void)state;
	/* A: 1 MiB at 0x80000000; B: 64 KiB at 0x90000000; C right after B. */
	struct ik_region_desc rd[3] = {
		{ "a", 0x80000000, 1 << 20 },
		{ "b", 0x90000000, 16 * PG },
		{ "c", 0x90000000 + 16 * PG, 16 * PG },
	};
	struct ik_mem *mem = ik_sim_mem_create(rd, 3);
	uint8_t buf[64], zero[64] = { 0 };
	const phys_addr_t a_end = 0x80000000 + (1 << 20);

	assert_non_null(mem);
	memset(buf, 0x11, sizeof(buf));
	/* Last bytes of A: fine. */
	assert_int_equal(ik_mem_write(mem, a_end - 64, buf, 64), 0);
	/* Across A's end: -EFAULT and the bytes inside A are left alone. */
	memset(buf, 0x22, sizeof(buf));
	assert_int_equal(ik_mem_write(mem, a_end - 32, buf, 64), -EFAULT);
	assert_int_equal(ik_mem_fill(mem, a_end - 32, 0x33, 64), -EFAULT);
	assert_int_equal(ik_mem_read(mem, a_end - 32, buf, 64), -EFAULT);
	assert_int_equal(ik_mem_read(mem, a_end - 64, buf, 64), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf[i], 0x11);
	assert_null(ik_mem_ptr(mem, a_end - 32, 64));
	assert_non_null(ik_mem_ptr(mem, a_end - 64, 64));

	/* Between regions, below the first, above the last. */
	assert_int_equal(ik_mem_read(mem, 0x88000000, buf, 1), -EFAULT);
	assert_int_equal(ik_mem_read(mem, 0x7ffffff0, buf, 32), -EFAULT);
	assert_int_equal(ik_mem_read(mem, 0x90000000 + 32 * PG, buf, 1), -EFAULT);
	assert_int_equal(ik_mem_write(mem, 0x88000000, buf, 1), -EFAULT);
	assert_int_equal(ik_mem_fill(mem, 0x88000000, 0, 1), -EFAULT);
	assert_null(ik_mem_ptr(mem, 0x88000000, 1));

	/* B and C are adjacent: every byte of an access across them is RAM. */
	memset(buf, 0x44, sizeof(buf));
	assert_int_equal(ik_mem_write(mem, 0x90000000 + 16 * PG - 16, buf, 32), 0);
	assert_int_equal(ik_mem_read(mem, 0x90000000 + 16 * PG - 20, buf, 40), 0);
	assert_memory_equal(buf, zero, 4);
	for (int i = 4; i < 36; i++)
		assert_int_equal(buf[i], 0x44);
	assert_memory_equal(buf + 36, zero, 4);
	/* ...but no single host pointer covers it. */
	assert_null(ik_mem_ptr(mem, 0x90000000 + 16 * PG - 16, 32));
	/* Running past C's end fails whole: the part in B stays unwritten. */
	assert_int_equal(ik_mem_fill(mem, 0x90000000 + 8 * PG, 0x55, 24 * PG + 1), -EFAULT);
	assert_int_equal(ik_mem_read(mem, 0x90000000 + 8 * PG, buf, 16), 0);
	assert_memory_equal(buf, zero, 16);

	/* NULL arguments. */
	assert_int_equal(ik_mem_read(NULL, 0x80000000, buf, 1), -EFAULT);
	assert_int_equal(ik_mem_read(mem, 0x80000000, NULL, 1), -EFAULT);
	assert_int_equal(ik_mem_write(mem, 0x80000000, NULL, 1), -EFAULT);
	assert_int_equal(ik_mem_read(mem, 0x80000000, NULL, 0), 0);
	ik_mem_destroy(mem);
}

/* --- allocator --- */

/* Fault injection: a budget of pages, then -ENOMEM; failures cost nothing. */
static void test_fail_after(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(0x80000000, 16ULL << 20);
	phys_addr_t a, b, c;

	assert_non_null(mem);
	size_t free0 = ik_mem_free_count(mem);
	assert_int_equal(ik_mem_fail_after(mem, 3), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 2, PG, &a), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 2, PG, &b), -ENOMEM); /* 1 left */
	/* A request that fails for lack of RAM does not use up the budget. */
	assert_int_equal(ik_mem_alloc_pages(mem, 1, 1ULL << 40, &b), -ENOMEM);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &b), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &c), -ENOMEM);
	assert_int_equal(ik_mem_free_count(mem), free0 - 3);
	assert_int_equal(ik_mem_fail_after(mem, -1), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &c), 0);
	assert_int_equal(ik_mem_fail_after(mem, -2), -EINVAL);
	assert_int_equal(ik_mem_fail_after(NULL, 0), -EINVAL);
	ik_mem_free_pages(mem, a, 2);
	ik_mem_free_pages(mem, b, 1);
	ik_mem_free_pages(mem, c, 1);
	assert_int_equal(ik_mem_free_count(mem), free0);
	ik_mem_destroy(mem);
}

static void test_alloc_alignment_and_zeroing(void **state)
{
	(void)state;
	/* A base that is 4K- but not 64K- or 16M-aligned: alignment is of the
	 * physical address, not of the offset in the region. */
	const phys_addr_t base = 0x80001000;
	const uint64_t size = 64ULL << 20;
	struct ik_mem *mem = mem_create1(base, size);
	phys_addr_t pa, pa64k, pa16m;

	assert_non_null(mem);
	/* Dirty all of RAM so that "zeroed" means the allocator zeroed it. */
	assert_int_equal(ik_mem_fill(mem, base, 0xa5, size), 0);

	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &pa), 0);
	assert_true(pa >= base && pa < base + size);
	assert_true(IS_ALIGNED(pa, PG));
	assert_int_equal(ik_mem_alloc_pages(mem, 16, 64 * 1024, &pa64k), 0);
	assert_true(IS_ALIGNED(pa64k, 64 * 1024));
	assert_int_equal(ik_mem_alloc_pages(mem, 256, 16 << 20, &pa16m), 0);
	assert_true(IS_ALIGNED(pa16m, 16 << 20));

	const uint8_t *p = ik_mem_ptr(mem, pa16m, 256 * PG);
	assert_non_null(p);
	for (size_t i = 0; i < 256 * PG; i++)
		if (p[i])
			fail_msg("byte %zu of a fresh allocation is %#x", i, p[i]);
	p = ik_mem_ptr(mem, pa64k, 16 * PG);
	for (size_t i = 0; i < 16 * PG; i++)
		assert_int_equal(p[i], 0);
	/* Neighbours of an allocation are not cleared. */
	uint8_t b = 0;
	assert_int_equal(ik_mem_read(mem, pa16m - 1, &b, 1), 0);
	assert_int_equal(b, 0xa5);

	/* No two allocations overlap. */
	assert_true(pa + PG <= pa64k || pa64k + 16 * PG <= pa);
	assert_true(pa + PG <= pa16m || pa16m + 256 * PG <= pa);
	assert_true(pa64k + 16 * PG <= pa16m || pa16m + 256 * PG <= pa64k);
	assert_int_equal(ik_mem_free_count(mem), size / PG - 1 - 16 - 256);

	/* An alignment the region cannot satisfy, and bad arguments. */
	assert_int_equal(ik_mem_alloc_pages(mem, 1, 1ULL << 30, &pa), -ENOMEM);
	assert_int_equal(ik_mem_alloc_pages(mem, 0, PG, &pa), -EINVAL);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, 0, &pa), -EINVAL);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, 2048, &pa), -EINVAL);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, 3 * PG, &pa), -EINVAL);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, NULL), -EINVAL);
	assert_int_equal(ik_mem_alloc_pages(NULL, 1, PG, &pa), -EINVAL);
	assert_int_equal(ik_mem_free_count(mem), size / PG - 1 - 16 - 256);
	assert_int_equal(ik_mem_free_count(NULL), 0);

	ik_mem_free_pages(mem, pa16m, 256);
	ik_mem_free_pages(mem, pa64k, 16);
	assert_int_equal(ik_mem_free_count(mem), size / PG - 1);
	ik_mem_destroy(mem);
}

static void test_alloc_exhaustion_and_free(void **state)
{
	(void)state;
	const phys_addr_t base = 0x80000000;
	struct ik_mem *mem = mem_create1(base, 16 * PG);
	phys_addr_t pages[16], pa;
	bool seen[16] = { false };

	assert_non_null(mem);
	assert_int_equal(ik_mem_free_count(mem), 16);
	assert_int_equal(ik_mem_alloc_pages(mem, 17, PG, &pa), -ENOMEM);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &pages[i]), 0);
		size_t idx = (pages[i] - base) / PG;
		assert_true(idx < 16);
		assert_false(seen[idx]); /* never handed out twice */
		seen[idx] = true;
		assert_int_equal(ik_mem_free_count(mem), 15 - i);
	}
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &pa), -ENOMEM);
	assert_int_equal(ik_mem_free_count(mem), 0);

	/* Free every other page: 8 free pages, no two contiguous. */
	for (int i = 0; i < 16; i++)
		if ((pages[i] - base) / PG % 2 == 0)
			ik_mem_free_pages(mem, pages[i], 1);
	assert_int_equal(ik_mem_free_count(mem), 8);
	assert_int_equal(ik_mem_alloc_pages(mem, 2, PG, &pa), -ENOMEM);
	assert_int_equal(ik_mem_free_count(mem), 8);
	/* Freeing one odd page makes a run of three: pages 0..2 if page 1 goes. */
	ik_mem_free_pages(mem, base + PG, 1);
	assert_int_equal(ik_mem_alloc_pages(mem, 3, PG, &pa), 0);
	assert_int_equal(pa, base);
	assert_int_equal(ik_mem_free_count(mem), 6);
	ik_mem_destroy(mem);
}

static void test_alloc_spills_to_next_region(void **state)
{
	(void)state;
	struct ik_region_desc rd[2] = {
		{ "small", 0x80000000, 4 * PG },
		{ "big", 0x100000000ULL, 64 * PG },
	};
	struct ik_mem *mem = ik_sim_mem_create(rd, 2);
	phys_addr_t pa;

	assert_non_null(mem);
	assert_int_equal(ik_mem_free_count(mem), 68);
	/* Too big for the first region: comes from the second. */
	assert_int_equal(ik_mem_alloc_pages(mem, 8, PG, &pa), 0);
	assert_true(pa >= 0x100000000ULL && pa + 8 * PG <= 0x100000000ULL + 64 * PG);
	assert_int_equal(ik_mem_alloc_pages(mem, 4, PG, &pa), 0);
	assert_int_equal(pa, 0x80000000);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &pa), 0);
	assert_true(pa >= 0x100000000ULL);
	/* A run never spans two regions, even adjacent ones. */
	assert_int_equal(ik_mem_alloc_pages(mem, 64, PG, &pa), -ENOMEM);
	assert_int_equal(ik_mem_free_count(mem), 68 - 13);
	ik_mem_destroy(mem);
}

static void test_double_free_is_reported(void **state)
{
	(void)state;
	const phys_addr_t base = 0x80000000;
	struct ik_mem *mem = mem_create1(base, 16 * PG);
	struct log_capture cap = { 0 };
	phys_addr_t a, b;

	assert_non_null(mem);
	ik_set_log_fn(capture_log, &cap);
	assert_int_equal(ik_mem_alloc_pages(mem, 2, PG, &a), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &b), 0);
	ik_mem_free_pages(mem, a, 2);
	assert_int_equal(cap.errors, 0);
	assert_int_equal(ik_mem_free_count(mem), 15);

	ik_mem_free_pages(mem, a, 2); /* double free */
	assert_int_equal(cap.errors, 1);
	assert_non_null(strstr(cap.last, "double free"));
	assert_int_equal(ik_mem_free_count(mem), 15);

	/* A range of one free and one used page: reported, nothing freed. */
	assert_true(b == a + 2 * PG);
	ik_mem_free_pages(mem, a + PG, 2);
	assert_int_equal(cap.errors, 2);
	assert_int_equal(ik_mem_free_count(mem), 15);
	/* b is still allocated: the allocator does not hand it out again. */
	for (int i = 0; i < 15; i++) {
		phys_addr_t pa;
		assert_int_equal(ik_mem_alloc_pages(mem, 1, PG, &pa), 0);
		assert_true(pa != b);
	}
	assert_int_equal(ik_mem_free_count(mem), 0);

	/* Outside RAM, misaligned, zero pages, past the end: reported, ignored. */
	ik_mem_free_pages(mem, 0x10000000, 1);
	ik_mem_free_pages(mem, b + 8, 1);
	ik_mem_free_pages(mem, b, 0);
	ik_mem_free_pages(mem, base + 15 * PG, 2);
	assert_int_equal(cap.errors, 6);
	assert_int_equal(ik_mem_free_count(mem), 0);
	ik_mem_free_pages(mem, b, 1);
	assert_int_equal(ik_mem_free_count(mem), 1);
	assert_int_equal(cap.errors, 6);
	ik_set_log_fn(NULL, NULL);
	ik_mem_destroy(mem);
}

static void test_metadata_zeroed(void **state)
{
	(void)state;
	const phys_addr_t base = 0x80000000;
	struct ik_mem *mem = mem_create1(base, 256 * PG);
	phys_addr_t pa;

	assert_non_null(mem);
	assert_int_equal(ik_mem_alloc_pages(mem, 4, PG, &pa), 0);
	for (size_t i = 0; i < 256; i++) {
		struct ik_page *pg = ik_mem_page(mem, base + i * PG + (i % 7));
		assert_non_null(pg);
		assert_int_equal(pg->users, 0);
		assert_int_equal(pg->flags, 0);
		assert_int_equal(pg->next, 0);
	}
	/* One record per page, in order. */
	assert_ptr_equal(ik_mem_page(mem, base + PG), ik_mem_page(mem, base) + 1);
	assert_ptr_equal(ik_mem_page(mem, base + PG - 1), ik_mem_page(mem, base));
	assert_null(ik_mem_page(mem, base + 256 * PG));
	assert_null(ik_mem_page(mem, base - 1));
	assert_ptr_equal(ik_mem_va(mem, base + 5), ik_mem_ptr(mem, base + 5, 1));
	assert_null(ik_mem_va(mem, base - 1));
	ik_mem_destroy(mem);
}

/* --- concurrency --- */

struct churn_arg {
	struct ik_mem *mem;
	uint8_t tag;
	int failures;
};

static void *churn(void *p)
{
	struct churn_arg *a = p;

	for (int i = 0; i < 300; i++) {
		size_t n = 1 + (size_t)(i % 3);
		phys_addr_t pa;

		if (ik_mem_alloc_pages(a->mem, n, PG << (i % 2), &pa)) {
			a->failures++;
			continue;
		}
		/* Own the pages: fill, yield, check nobody else was given them. */
		uint8_t *h = ik_mem_ptr(a->mem, pa, n * PG);
		memset(h, a->tag, n * PG);
		sched_yield();
		for (size_t k = 0; k < n * PG; k += 512)
			if (h[k] != a->tag)
				a->failures++;
		ik_mem_free_pages(a->mem, pa, n);
	}
	return NULL;
}

static void test_concurrent_alloc_free(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(0x80000000, 64 * PG);
	struct churn_arg args[2];
	pthread_t t[2];

	assert_non_null(mem);
	for (int i = 0; i < 2; i++) {
		args[i] = (struct churn_arg){ mem, (uint8_t)(0x10 + i), 0 };
		assert_int_equal(pthread_create(&t[i], NULL, churn, &args[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(ik_mem_free_count(mem), 64);
	ik_mem_destroy(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_regions),
		cmocka_unit_test(test_sparse_backing),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_fail_after),
		cmocka_unit_test(test_alloc_alignment_and_zeroing),
		cmocka_unit_test(test_alloc_exhaustion_and_free),
		cmocka_unit_test(test_alloc_spills_to_next_region),
		cmocka_unit_test(test_double_free_is_reported),
		cmocka_unit_test(test_metadata_zeroed),
		cmocka_unit_test(test_concurrent_alloc_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
