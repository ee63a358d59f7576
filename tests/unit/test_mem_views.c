// SPDX-License-Identifier: MIT
/*
 * Memory views (src/hw/phys_mem.c): ik_mem_vmap() gives one contiguous CPU
 * view of scattered physical pages whose bytes are physical memory itself;
 * ik_mem_virt_to_phys() resolves direct and vmap pointers.
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
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "ik/log.h"
#include "ik/mem.h"
#include "ik_test.h"

#define PG IK_PAGE_SIZE
#define BASE 0x80000000ULL

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

static long rss_kib(void)
{
	return rss_pages() * (sysconf(_SC_PAGESIZE) / 1024);
}

static struct ik_mem *mem_create1(phys_addr_t base, uint64_t size)
{
	struct ik_region_desc r = { .name = "ram", .base = base, .size = size };

	return ik_sim_mem_create(&r, 1);
}

/* Is [p, p + len) mapped in this process? msync() fails with ENOMEM if not. */
static bool host_mapped(void *p, size_t len)
{
	return msync(p, len, MS_ASYNC) == 0;
}

/* Does @p lie in some region's direct mapping? */
static bool in_direct_map(struct ik_mem *mem, const void *p)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		if ((uintptr_t)p - (uintptr_t)mem->regions[i].host < mem->regions[i].size)
			return true;
	return false;
}

static unsigned int log_errors;

static void count_errors(enum ik_log_level level, const char *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (level == IK_LOG_ERR)
		log_errors++;
}

/* --- one view --- */

/*
 * Four pages in a scrambled order, one of them twice: the view is one
 * contiguous range, and its page i is physical page pages[i] in both
 * directions, across page boundaries too.
 */
static void test_scattered_view_is_physical_memory(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(BASE, 64 * PG);
	const phys_addr_t pages[5] = {
		BASE + 9 * PG, BASE + 2 * PG, BASE + 3 * PG, BASE + 40 * PG, BASE + 9 * PG,
	};
	uint8_t buf[PG], back[PG];
	uint8_t *v;

	assert_non_null(mem);
	v = ik_mem_vmap(mem, pages, 5);
	assert_non_null(v);

	/* CPU writes through the view land on the physical pages. */
	for (size_t i = 0; i < 4; i++)
		memset(v + i * PG, 0x10 + (int)i, PG);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ik_mem_read(mem, pages[i], back, PG), 0);
		memset(buf, 0x10 + (int)i, PG);
		assert_memory_equal(back, buf, PG);
	}
	/* Page 4 is page 0 again: it shows what was written through page 0. */
	assert_int_equal(v[4 * PG + 17], 0x10);
	/* Pages next to the chosen ones were not touched. */
	assert_int_equal(ik_mem_read(mem, BASE + 8 * PG, back, PG), 0);
	memset(buf, 0, PG);
	assert_memory_equal(back, buf, PG);

	/* A write through the view across a page boundary splits physically. */
	memcpy(v + PG - 3, "abcdef", 6); /* page 0's last 3 bytes, page 1's first 3 */
	assert_int_equal(ik_mem_read(mem, pages[0] + PG - 3, back, 3), 0);
	assert_memory_equal(back, "abc", 3);
	assert_int_equal(ik_mem_read(mem, pages[1], back, 3), 0);
	assert_memory_equal(back, "def", 3);
	/* Physical pages 2 and 3 are adjacent: one view run across them. */
	memcpy(v + 2 * PG - 2, "XYZW", 4);
	assert_int_equal(ik_mem_read(mem, BASE + 3 * PG - 2, back, 4), 0);
	assert_memory_equal(back, "XYZW", 4);

	/* Memory writes (what a device does) show through the view. */
	assert_int_equal(ik_mem_write(mem, pages[3] + 100, "device", 6), 0);
	assert_memory_equal(v + 3 * PG + 100, "device", 6);
	assert_int_equal(ik_mem_fill(mem, pages[1], 0x77, PG), 0);
	for (size_t i = 0; i < PG; i++)
		assert_int_equal(v[PG + i], 0x77);
	/* The direct mapping and the view are two names of the same bytes. */
	uint8_t *direct = ik_mem_ptr(mem, pages[0], PG);
	assert_non_null(direct);
	assert_ptr_not_equal(direct, v);
	direct[5] = 0xee;
	assert_int_equal(v[5], 0xee);
	assert_int_equal(v[4 * PG + 5], 0xee);

	ik_mem_vunmap(mem, v, 5);
	assert_false(host_mapped(v, 5 * PG));
	/* Unmapping the view leaves the memory as it was. */
	assert_int_equal(ik_mem_read(mem, pages[3] + 100, back, 6), 0);
	assert_memory_equal(back, "device", 6);
	ik_mem_destroy(mem);
}

/* Adjacent regions are separate files: a run of pages across them still maps right. */
static void test_view_across_adjacent_regions(void **state)
{
	(void)state;
	struct ik_region_desc rd[2] = {
		{ "b", 0x90000000, 16 * PG },
		{ "c", 0x90000000 + 16 * PG, 16 * PG },
	};
	struct ik_mem *mem = ik_sim_mem_create(rd, 2);
	const phys_addr_t pages[3] = { 0x90000000 + 14 * PG, 0x90000000 + 15 * PG,
				       0x90000000 + 16 * PG };
	uint8_t back[8];

	assert_non_null(mem);
	assert_int_equal(ik_mem_write(mem, pages[2], "region-c", 8), 0);
	uint8_t *v = ik_mem_vmap(mem, pages, 3);
	assert_non_null(v);
	assert_memory_equal(v + 2 * PG, "region-c", 8);
	memcpy(v + 2 * PG - 4, "12345678", 8);
	assert_int_equal(ik_mem_read(mem, 0x90000000 + 16 * PG - 4, back, 8), 0);
	assert_memory_equal(back, "12345678", 8);
	ik_mem_vunmap(mem, v, 3);
	ik_mem_destroy(mem);
}

/* --- address translation --- */

static void test_virt_to_phys(void **state)
{
	(void)state;
	struct ik_region_desc rd[2] = {
		{ "a", BASE, 32 * PG },
		{ "hi", 0x880000000ULL, 16 * PG },
	};
	struct ik_mem *mem = ik_sim_mem_create(rd, 2);
	const phys_addr_t pages[3] = { 0x880000000ULL + 5 * PG, BASE + 7 * PG, BASE + PG };
	phys_addr_t pa = 0;
	int on_stack;

	assert_non_null(mem);
	/* Direct mapping: arithmetic, in every region, to its last byte. */
	uint8_t *d = ik_mem_ptr(mem, BASE, 32 * PG);
	assert_non_null(d);
	assert_int_equal(ik_mem_virt_to_phys(mem, d, &pa), 0);
	assert_int_equal(pa, BASE);
	assert_int_equal(ik_mem_virt_to_phys(mem, d + 5 * PG + 123, &pa), 0);
	assert_int_equal(pa, BASE + 5 * PG + 123);
	assert_int_equal(ik_mem_virt_to_phys(mem, d + 32 * PG - 1, &pa), 0);
	assert_int_equal(pa, BASE + 32 * PG - 1);
	uint8_t *hi = ik_mem_ptr(mem, 0x880000000ULL + 3 * PG + 9, 1);
	assert_int_equal(ik_mem_virt_to_phys(mem, hi, &pa), 0);
	assert_int_equal(pa, 0x880000000ULL + 3 * PG + 9);

	/* A view: each page resolves to its own physical page. */
	uint8_t *v = ik_mem_vmap(mem, pages, 3);
	assert_non_null(v);
	for (size_t i = 0; i < 3; i++) {
		const size_t offs[3] = { 0, 1, PG - 1 };

		for (size_t k = 0; k < 3; k++) {
			pa = 0;
			assert_int_equal(ik_mem_virt_to_phys(mem, v + i * PG + offs[k], &pa), 0);
			assert_int_equal(pa, pages[i] + offs[k]);
		}
	}

	/* Not RAM: a stack variable, just past a region's mapping, just past a view. */
	pa = 42;
	assert_int_equal(ik_mem_virt_to_phys(mem, &on_stack, &pa), -EFAULT);
	assert_int_equal(pa, 42);
	/* (The host may put another region's mapping right next to these.) */
	if (!in_direct_map(mem, d + 32 * PG))
		assert_int_equal(ik_mem_virt_to_phys(mem, d + 32 * PG, &pa), -EFAULT);
	if (!in_direct_map(mem, v + 3 * PG))
		assert_int_equal(ik_mem_virt_to_phys(mem, v + 3 * PG, &pa), -EFAULT);
	if (!in_direct_map(mem, v - 1))
		assert_int_equal(ik_mem_virt_to_phys(mem, v - 1, &pa), -EFAULT);
	assert_int_equal(ik_mem_virt_to_phys(mem, NULL, &pa), -EFAULT);
	assert_int_equal(ik_mem_virt_to_phys(NULL, d, &pa), -EINVAL);
	assert_int_equal(ik_mem_virt_to_phys(mem, d, NULL), -EINVAL);

	/* Once unmapped, a view's addresses are nothing. */
	ik_mem_vunmap(mem, v, 3);
	assert_int_equal(ik_mem_virt_to_phys(mem, v + PG, &pa), -EFAULT);
	ik_mem_destroy(mem);
}

/* --- bad input --- */

static void test_vmap_rejects_bad_input(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(BASE, 16 * PG);
	phys_addr_t pages[2] = { BASE, BASE + PG };

	assert_non_null(mem);
	errno = 0;
	assert_null(ik_mem_vmap(mem, pages, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ik_mem_vmap(mem, NULL, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ik_mem_vmap(NULL, pages, 1));
	assert_int_equal(errno, EINVAL);

	const phys_addr_t bad[] = {
		BASE + 0x800,        /* not 4 KiB aligned */
		BASE + 16 * PG,      /* first page after RAM */
		BASE - PG,           /* last page before RAM */
		0,                   /* nowhere near */
		UINT64_MAX & ~(PG - 1),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		pages[1] = bad[i]; /* a good page first: nothing of it may stay mapped */
		errno = 0;
		assert_null(ik_mem_vmap(mem, pages, 2));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(ik_mem_vmap(mem, pages, SIZE_MAX));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mem->nr_vmaps, 0);
	ik_mem_destroy(mem);
}

/* A vunmap of something that is not a view, or of the wrong size, is reported and ignored. */
static void test_vunmap_misuse(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(BASE, 16 * PG);
	const phys_addr_t pages[2] = { BASE + 3 * PG, BASE + PG };
	int on_stack = 0;

	assert_non_null(mem);
	ik_set_log_fn(count_errors, NULL);
	log_errors = 0;
	uint8_t *v = ik_mem_vmap(mem, pages, 2);
	assert_non_null(v);

	ik_mem_vunmap(mem, v, 1);         /* wrong size */
	ik_mem_vunmap(mem, v + PG, 1);    /* inside, not the start */
	ik_mem_vunmap(mem, &on_stack, 1); /* not a view at all */
	assert_int_equal(log_errors, 3);
	ik_mem_vunmap(mem, NULL, 2);      /* nothing to do, as Linux's vunmap(NULL) */
	assert_int_equal(log_errors, 3);
	assert_true(host_mapped(v, 2 * PG));
	v[PG] = 0x5c; /* still usable */
	uint8_t b = 0;
	assert_int_equal(ik_mem_read(mem, BASE + PG, &b, 1), 0);
	assert_int_equal(b, 0x5c);

	ik_mem_vunmap(mem, v, 2);
	assert_int_equal(log_errors, 3);
	assert_false(host_mapped(v, 2 * PG));
	ik_mem_vunmap(mem, v, 2); /* twice */
	assert_int_equal(log_errors, 4);
	ik_set_log_fn(NULL, NULL);
	ik_mem_destroy(mem);
}

/* Views still mapped at destroy are released with a warning, not leaked. */
static void test_destroy_with_live_views(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(BASE, 16 * PG);
	const phys_addr_t page = BASE + 2 * PG;

	assert_non_null(mem);
	ik_set_log_fn(count_errors, NULL);
	uint8_t *v1 = ik_mem_vmap(mem, &page, 1);
	uint8_t *v2 = ik_mem_vmap(mem, &page, 1);
	assert_non_null(v1);
	assert_non_null(v2);
	ik_mem_destroy(mem);
	assert_false(host_mapped(v1, PG));
	assert_false(host_mapped(v2, PG));
	ik_set_log_fn(NULL, NULL);
}

/* --- many views --- */

struct view_rec {
	uint8_t *v;
	size_t n;
	phys_addr_t pages[8];
};

/* 300 views of 1..8 random pages: every byte pointer resolves to its page. */
static void test_many_views(void **state)
{
	(void)state;
	enum { NR = 300, RAM_PAGES = 1024 };
	struct ik_mem *mem = mem_create1(BASE, RAM_PAGES * PG);
	struct view_rec *rec = calloc(NR, sizeof(*rec));
	uint64_t seed = ik_test_seed(0x5eed0001);
	phys_addr_t pa;

	assert_non_null(mem);
	assert_non_null(rec);
	for (size_t i = 0; i < NR; i++) {
		rec[i].n = 1 + ik_test_rand(&seed) % 8;
		for (size_t k = 0; k < rec[i].n; k++)
			rec[i].pages[k] = BASE + (ik_test_rand(&seed) % RAM_PAGES) * PG;
		rec[i].v = ik_mem_vmap(mem, rec[i].pages, rec[i].n);
		assert_non_null(rec[i].v);
	}
	assert_int_equal(mem->nr_vmaps, NR);
	for (size_t i = 0; i < NR; i++) {
		size_t k = ik_test_rand(&seed) % rec[i].n, off = ik_test_rand(&seed) % PG;

		assert_int_equal(ik_mem_virt_to_phys(mem, rec[i].v + k * PG + off, &pa), 0);
		assert_int_equal(pa, rec[i].pages[k] + off);
	}
	/* Unmap every other view, in reverse: the rest still resolve. */
	for (size_t i = NR; i-- > 0;)
		if (i % 2)
			ik_mem_vunmap(mem, rec[i].v, rec[i].n);
	assert_int_equal(mem->nr_vmaps, NR / 2);
	for (size_t i = 0; i < NR; i += 2) {
		size_t k = rec[i].n - 1;

		assert_int_equal(ik_mem_virt_to_phys(mem, rec[i].v + k * PG + 7, &pa), 0);
		assert_int_equal(pa, rec[i].pages[k] + 7);
		ik_mem_vunmap(mem, rec[i].v, rec[i].n);
	}
	assert_int_equal(mem->nr_vmaps, 0);
	free(rec);
	ik_mem_destroy(mem);
}

/* Lookups run while other threads map and unmap views (for TSan). */
struct churn_arg {
	struct ik_mem *mem;
	uint8_t *fixed;   /* a view that stays for the whole test */
	phys_addr_t fixed_page;
	int failures;
	unsigned int id;
};

static void *churn_thread(void *p)
{
	struct churn_arg *a = p;
	uint64_t seed = 0x1234 + a->id;

	for (int i = 0; i < 400; i++) {
		phys_addr_t pages[2] = { BASE + (ik_test_rand(&seed) % 64) * PG,
					 BASE + (ik_test_rand(&seed) % 64) * PG };
		phys_addr_t pa;
		uint8_t *v = ik_mem_vmap(a->mem, pages, 2);

		if (!v || ik_mem_virt_to_phys(a->mem, v + PG + 1, &pa) || pa != pages[1] + 1)
			a->failures++;
		if (ik_mem_virt_to_phys(a->mem, a->fixed + 9, &pa) || pa != a->fixed_page + 9)
			a->failures++;
		if (v)
			ik_mem_vunmap(a->mem, v, 2);
	}
	return NULL;
}

static void test_views_under_threads(void **state)
{
	(void)state;
	struct ik_mem *mem = mem_create1(BASE, 64 * PG);
	const phys_addr_t fixed_page = BASE + 33 * PG;
	struct churn_arg args[3];
	pthread_t th[3];

	assert_non_null(mem);
	uint8_t *fixed = ik_mem_vmap(mem, &fixed_page, 1);
	assert_non_null(fixed);
	for (unsigned int i = 0; i < 3; i++) {
		args[i] = (struct churn_arg){ mem, fixed, fixed_page, 0, i };
		assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &args[i]), 0);
	}
	for (unsigned int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(mem->nr_vmaps, 1);
	ik_mem_vunmap(mem, fixed, 1);
	ik_mem_destroy(mem);
}

/* --- sparseness --- */

/*
 * A view of pages spread over 64 GiB costs nothing until touched, and a
 * touched page costs one host page, whichever mapping touched it.
 */
static void test_views_stay_sparse(void **state)
{
	(void)state;
#ifdef __SANITIZE_THREAD__
	/* gcc's ThreadSanitizer maps shadow for every mapping touched: RSS says nothing here. */
	skip();
#endif
	enum { N = 256 };
	const phys_addr_t base = 0x1000000000ULL;
	const uint64_t size = 64ULL << 30;
	struct ik_mem *mem = mem_create1(base, size);
	phys_addr_t *pages = malloc(N * sizeof(*pages));

	if (!mem && errno == ENOMEM)
		skip();
	assert_non_null(mem);
	assert_non_null(pages);
	for (size_t i = 0; i < N; i++)
		pages[i] = base + i * (size / N); /* 256 MiB apart */
	long kib0 = rss_kib();
	uint8_t *v = ik_mem_vmap(mem, pages, N);
	assert_non_null(v);
	long kib1 = rss_kib();
	assert_true(kib1 - kib0 < 4 * 1024); /* bookkeeping only */

	/* Touch one byte of every other page through the view. */
	for (size_t i = 0; i < N; i += 2)
		v[i * PG + 1] = (uint8_t)(i + 1);
	long kib2 = rss_kib();
	assert_true(kib2 - kib1 >= (long)(N / 2) * 4);
	assert_true(kib2 - kib1 < 8 * 1024);
	for (size_t i = 0; i < N; i++) {
		uint8_t b = 0xff;

		assert_int_equal(ik_mem_read(mem, pages[i] + 1, &b, 1), 0);
		assert_int_equal(b, i % 2 ? 0 : (uint8_t)(i + 1));
	}
	ik_mem_vunmap(mem, v, N);
	free(pages);
	ik_mem_destroy(mem);
}

/*
 * A large allocation is zeroed by dropping its pages: it reads back as zero
 * through every mapping, including a view made before the allocation, and
 * what it used to hold no longer costs memory.
 */
static void test_large_alloc_zeroes_and_releases(void **state)
{
	(void)state;
	const uint64_t size = 64ULL << 20;
	struct ik_mem *mem = mem_create1(BASE, size);
	const size_t npages = size / PG;
	phys_addr_t pa;
	const phys_addr_t probe = BASE + 1000 * PG;

	assert_non_null(mem);
	uint8_t *v = ik_mem_vmap(mem, &probe, 1);
	assert_non_null(v);
	long kib0 = rss_kib();
	assert_int_equal(ik_mem_fill(mem, BASE, 0xa5, size), 0);
	long kib1 = rss_kib();
	assert_true(kib1 - kib0 >= 60 * 1024);
	assert_int_equal(v[77], 0xa5);

	assert_int_equal(ik_mem_alloc_pages(mem, npages, PG, &pa), 0);
	assert_int_equal(pa, BASE);
	long kib2 = rss_kib();
	assert_true(kib1 - kib2 >= 60 * 1024); /* the dirty pages are gone */
	assert_int_equal(v[77], 0);
	const uint8_t *d = ik_mem_ptr(mem, BASE, size);
	for (size_t i = 0; i < size; i += 509)
		if (d[i])
			fail_msg("byte %zu of a fresh allocation is %#x", i, d[i]);
	ik_mem_free_pages(mem, pa, npages);

	/* A small allocation is zeroed in place: the same result. */
	assert_int_equal(ik_mem_fill(mem, BASE, 0x3c, 4 * PG), 0);
	assert_int_equal(ik_mem_alloc_pages(mem, 4, PG, &pa), 0);
	assert_int_equal(pa, BASE);
	for (size_t i = 0; i < 4 * PG; i++)
		assert_int_equal(d[i], 0);
	ik_mem_vunmap(mem, v, 1);
	ik_mem_destroy(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scattered_view_is_physical_memory),
		cmocka_unit_test(test_view_across_adjacent_regions),
		cmocka_unit_test(test_virt_to_phys),
		cmocka_unit_test(test_vmap_rejects_bad_input),
		cmocka_unit_test(test_vunmap_misuse),
		cmocka_unit_test(test_destroy_with_live_views),
		cmocka_unit_test(test_many_views),
		cmocka_unit_test(test_views_under_threads),
		cmocka_unit_test(test_views_stay_sparse),
		cmocka_unit_test(test_large_alloc_zeroes_and_releases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
