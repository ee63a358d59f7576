// SPDX-License-Identifier: MIT
/*
 * The generic IOMMU API conformance suite: written once against the public
 * API, run against every driver target in ik_test_targets[]. Nothing here
 * may know which driver is underneath; what differs between IOMMUs comes
 * from the domain (page sizes, aperture) and device_iommu_capable().
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"

static const struct ik_test_target *target;

struct fixture {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct iommu_domain *domain;
	dma_addr_t base;     /* aligned to the largest page size, inside the aperture */
	unsigned long sizes; /* the domain's pgsize_bitmap */
	size_t min_page;
	size_t free_pages_at_start;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->m = ik_machine_create(ik_machine_desc_builtin(target->machine));
	assert_non_null(fx->m);
	fx->mem = ik_machine_mem(fx->m);
	fx->dev = ik_machine_device(fx->m, target->device);
	assert_non_null(fx->dev);
	fx->domain = iommu_paging_domain_alloc(fx->dev);
	assert_non_null(fx->domain);
	assert_int_equal(iommu_attach_device(fx->domain, fx->dev), 0);
	fx->sizes = iommu_domain_pgsize_bitmap(fx->domain);
	assert_true(fx->sizes != 0);
	fx->min_page = (size_t)1 << __builtin_ctzl(fx->sizes);
	size_t largest = (size_t)1 << (63 - __builtin_clzl(fx->sizes));
	const struct iommu_domain_geometry *g = iommu_domain_get_geometry(fx->domain);
	fx->base = ((g->aperture_start + largest) & ~(dma_addr_t)(largest - 1)) + 4 * largest;
	assert_true(fx->base + 64 * largest - 1 <= g->aperture_end);
	fx->free_pages_at_start = ik_mem_free_count(fx->mem);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->domain) {
		iommu_detach_device(fx->domain, fx->dev);
		iommu_domain_free(fx->domain);
	}
	ik_machine_destroy(fx->m);
	free(fx);
	return 0;
}

#define RW (IOMMU_READ | IOMMU_WRITE)

static size_t count_leaves_cb_n;
static int count_leaves_cb(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
			   const char *desc)
{
	size_t *sizes = arg;
	(void)iova, (void)pa, (void)prot, (void)desc;
	if (sizes && count_leaves_cb_n < 64)
		sizes[count_leaves_cb_n] = size;
	count_leaves_cb_n++;
	return 0;
}

static size_t list_leaves(struct iommu_domain *d, size_t *sizes)
{
	count_leaves_cb_n = 0;
	assert_int_equal(ik_iommu_domain_for_each_mapping(d, count_leaves_cb, sizes), 0);
	return count_leaves_cb_n;
}

/* --- domains and attachment --- */

static void test_domain_alloc_errors(void **state)
{
	struct fixture *fx = *state;
	errno = 0;
	assert_null(iommu_domain_alloc_type(NULL, IOMMU_DOMAIN_UNMANAGED));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(iommu_domain_alloc_type(fx->dev, 0x40));
	assert_int_equal(errno, EINVAL);
	if (target->direct_device) {
		struct device *direct = ik_machine_device(fx->m, target->direct_device);
		assert_non_null(direct);
		errno = 0;
		assert_null(iommu_paging_domain_alloc(direct));
		assert_int_equal(errno, ENODEV);
		assert_false(device_iommu_mapped(direct));
		assert_int_equal(iommu_attach_device(fx->domain, direct), -ENODEV);
	}
	struct iommu_domain *d = iommu_domain_alloc(ik_machine_bus(fx->m));
	assert_non_null(d);
	assert_int_equal(iommu_domain_type(d), IOMMU_DOMAIN_UNMANAGED);
	iommu_domain_free(d);
	errno = 0;
	assert_null(iommu_domain_alloc(NULL));
	assert_int_equal(errno, EINVAL);
}

static void test_attach_rules(void **state)
{
	struct fixture *fx = *state;
	struct ik_log_capture cap;
	struct iommu_domain *other = iommu_paging_domain_alloc(fx->dev);

	assert_non_null(other);
	assert_ptr_equal(iommu_get_domain_for_dev(fx->dev), fx->domain);
	assert_true(device_iommu_mapped(fx->dev));
	/* A group holds one domain at a time. */
	assert_int_equal(iommu_attach_device(other, fx->dev), -EBUSY);
	/* Freeing an attached domain is refused, loudly. */
	ik_test_log_capture_start(&cap);
	iommu_domain_free(fx->domain);
	ik_test_log_capture_stop();
	assert_true(cap.count >= 1);
	assert_ptr_equal(iommu_get_domain_for_dev(fx->dev), fx->domain);
	/* Detaching a domain that is not attached changes nothing. */
	ik_test_log_capture_start(&cap);
	iommu_detach_device(other, fx->dev);
	ik_test_log_capture_stop();
	assert_true(cap.count >= 1);
	assert_ptr_equal(iommu_get_domain_for_dev(fx->dev), fx->domain);

	iommu_detach_device(fx->domain, fx->dev);
	assert_null(iommu_get_domain_for_dev(fx->dev));
	assert_int_equal(iommu_attach_device(other, fx->dev), 0);
	iommu_detach_device(other, fx->dev);
	iommu_domain_free(other);
	assert_int_equal(iommu_attach_device(fx->domain, fx->dev), 0);

	struct iommu_group *g = iommu_group_get(fx->dev);
	assert_non_null(g);
	assert_true(iommu_group_id(g) >= 0);
	iommu_group_put(g);
	assert_int_equal(iommu_attach_device(NULL, fx->dev), -EINVAL);
	assert_int_equal(iommu_attach_device(fx->domain, NULL), -EINVAL);
}

/* --- mapping --- */

static void check_dma_roundtrip(struct fixture *fx, dma_addr_t iova, phys_addr_t pa, size_t len)
{
	char msg[32], back[32];
	snprintf(msg, sizeof(msg), "iova %#llx", (unsigned long long)iova);
	assert_int_equal(ik_dma_write(fx->dev, iova + len - sizeof(msg), msg, sizeof(msg)), 0);
	assert_int_equal(ik_mem_read(fx->mem, pa + len - sizeof(msg), back, sizeof(back)), 0);
	assert_memory_equal(msg, back, sizeof(msg));
	memset(back, 0, sizeof(back));
	assert_int_equal(ik_dma_read(fx->dev, iova + len - sizeof(msg), back, sizeof(back)), 0);
	assert_memory_equal(msg, back, sizeof(msg));
}

static void test_map_every_page_size(void **state)
{
	struct fixture *fx = *state;
	unsigned long sizes = fx->sizes;
	dma_addr_t iova = fx->base;

	while (sizes) {
		size_t size = (size_t)1 << __builtin_ctzl(sizes);
		sizes &= sizes - 1;
		if (size > (64UL << 20))
			continue; /* 1 GiB blocks are exercised where memory allows */
		phys_addr_t pa = ik_test_alloc(fx->m, size, size);
		iova = (iova + size - 1) & ~(dma_addr_t)(size - 1);
		assert_int_equal(iommu_map(fx->domain, iova, pa, size, RW, GFP_KERNEL), 0);
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova), pa);
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova + size / 2 + 0x123),
				 pa + size / 2 + 0x123);
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova + size - 1), pa + size - 1);
		size_t leaf[64];
		assert_int_equal(list_leaves(fx->domain, leaf), 1);
		assert_int_equal(leaf[0], size); /* one leaf: the largest page fits */
		check_dma_roundtrip(fx, iova, pa, size);
		assert_int_equal(iommu_unmap(fx->domain, iova, size), size);
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova), 0);
		char b;
		assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), -EFAULT);
		ik_mem_free_pages(fx->mem, pa, size >> 12);
		iova += size;
	}
}

/* The core must choose, page by page, the largest size both addresses allow. */
static void test_map_uses_largest_pages(void **state)
{
	struct fixture *fx = *state;
	size_t largest = (size_t)1 << (63 - __builtin_clzl(fx->sizes));
	if (largest > (64UL << 20))
		largest = (size_t)1 << (63 - __builtin_clzl(fx->sizes & ((64UL << 21) - 1)));
	/* Start one smallest page below a largest-page boundary... */
	size_t size = 2 * largest + 3 * fx->min_page;
	phys_addr_t region = ik_test_alloc(fx->m, 3 * largest, largest);
	phys_addr_t pa = region + largest - fx->min_page;
	dma_addr_t iova = fx->base + 8 * largest - fx->min_page;

	assert_int_equal(iommu_map(fx->domain, iova, pa, size, RW, GFP_KERNEL), 0);
	size_t leaf[64], want[64], n = 0;
	for (uint64_t off = 0; off < size && n < 64;) {
		size_t pg = 0;
		for (int bit = 63; bit >= 0; bit--) {
			size_t s = (size_t)1 << bit;
			if ((fx->sizes & s) && s <= size - off && !((iova + off) & (s - 1)) &&
			    !((pa + off) & (s - 1))) {
				pg = s;
				break;
			}
		}
		want[n++] = pg;
		off += pg;
	}
	assert_int_equal(list_leaves(fx->domain, leaf), n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(leaf[i], want[i]);
	for (uint64_t off = 0; off < size; off += fx->min_page)
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova + off), pa + off);
	assert_int_equal(iommu_unmap(fx->domain, iova, size), size);
	assert_int_equal(list_leaves(fx->domain, NULL), 0);
	ik_mem_free_pages(fx->mem, region, (3 * largest) >> 12);
}

static void test_bad_inputs(void **state)
{
	struct fixture *fx = *state;
	const struct iommu_domain_geometry *g = iommu_domain_get_geometry(fx->domain);
	size_t p = fx->min_page;
	phys_addr_t pa = ik_test_alloc(fx->m, 4 * p, p);
	dma_addr_t iova = fx->base;

	assert_int_equal(iommu_map(fx->domain, iova, pa, p, RW, GFP_KERNEL), 0);

	assert_int_equal(iommu_map(NULL, iova, pa, p, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_map(fx->domain, iova + 2 * p, pa, 0, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_map(fx->domain, iova + 2 * p + 1, pa, p, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_map(fx->domain, iova + 2 * p, pa + 1, p, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_map(fx->domain, iova + 2 * p, pa, p + 1, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_map(fx->domain, iova + 2 * p, pa, p, RW | 0x100, GFP_KERNEL),
			 -EINVAL);
	if (g->aperture_end < UINT64_MAX - p)
		assert_int_equal(iommu_map(fx->domain, (g->aperture_end + 1) & ~(dma_addr_t)(p - 1),
					   pa, p, RW, GFP_KERNEL), -ERANGE);
	if (g->aperture_start >= p)
		assert_int_equal(iommu_map(fx->domain, g->aperture_start - p, pa, p, RW,
					   GFP_KERNEL), -ERANGE);
	assert_int_equal(iommu_map(fx->domain, UINT64_MAX & ~(dma_addr_t)(p - 1), pa, 2 * p, RW,
				   GFP_KERNEL), -ERANGE); /* wraps */
	/* Overlap: -EEXIST, and nothing of the new range stays mapped. */
	assert_int_equal(iommu_map(fx->domain, iova - p, pa + p, 2 * p, RW, GFP_KERNEL), -EEXIST);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova - p), 0);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), pa);

	/* Unmap: bad arguments unmap nothing and say why. */
	errno = 0;
	assert_int_equal(iommu_unmap(NULL, iova, p), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommu_unmap(fx->domain, iova + 1, p), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommu_unmap(fx->domain, iova, 0), 0);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(iommu_unmap(fx->domain, iova + 8 * p, p), 0);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), pa);
	/* A range that runs into a hole stops there (Linux semantics). */
	errno = 0;
	assert_int_equal(iommu_unmap(fx->domain, iova, 2 * p), p);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), 0);
	/* Double unmap. */
	errno = 0;
	assert_int_equal(iommu_unmap(fx->domain, iova, p), 0);
	assert_int_equal(errno, ENOENT);
	ik_mem_free_pages(fx->mem, pa, 4);
}

static void test_partial_unmap_of_blocks(void **state)
{
	struct fixture *fx = *state;
	unsigned long sizes = fx->sizes & ~(unsigned long)fx->min_page;
	dma_addr_t iova = fx->base;
	size_t p = fx->min_page;

	while (sizes) {
		size_t size = (size_t)1 << __builtin_ctzl(sizes);
		sizes &= sizes - 1;
		if (size > (64UL << 20))
			continue;
		iova = (iova + size - 1) & ~(dma_addr_t)(size - 1);
		phys_addr_t pa = ik_test_alloc(fx->m, size, size);
		dma_addr_t hole = iova + size / 2 + p;
		assert_int_equal(iommu_map(fx->domain, iova, pa, size, RW, GFP_KERNEL), 0);
		/* Take one smallest page out of the middle of the block. */
		assert_int_equal(iommu_unmap(fx->domain, hole, p), p);
		for (uint64_t off = 0; off < size; off += p) {
			phys_addr_t want = iova + off == hole ? 0 : pa + off;
			assert_int_equal(iommu_iova_to_phys(fx->domain, iova + off), want);
		}
		char b = 0x5a;
		assert_int_equal(ik_dma_write(fx->dev, hole, &b, 1), -EFAULT);
		check_dma_roundtrip(fx, iova, pa, p);
		check_dma_roundtrip(fx, hole + p, pa + (hole + p - iova), p);
		/* The rest goes in two calls, exactly as asked. */
		assert_int_equal(iommu_unmap(fx->domain, iova, hole - iova), hole - iova);
		assert_int_equal(iommu_unmap(fx->domain, hole + p, iova + size - hole - p),
				 iova + size - hole - p);
		assert_int_equal(list_leaves(fx->domain, NULL), 0);
		ik_mem_free_pages(fx->mem, pa, size >> 12);
		iova += size;
	}
	/* Every table the splits allocated went back. */
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

/*
 * Splitting a block may need a new table. Without memory the unmap fails
 * with ENOMEM and the whole block stays mapped; with memory it succeeds.
 */
static void test_partial_unmap_enomem_keeps_block(void **state)
{
	struct fixture *fx = *state;
	unsigned long sizes = fx->sizes & ~(unsigned long)fx->min_page;
	size_t p = fx->min_page;
	dma_addr_t iova = fx->base;
	unsigned int saw_enomem = 0;

	while (sizes) {
		size_t size = (size_t)1 << __builtin_ctzl(sizes);
		sizes &= sizes - 1;
		if (size > (64UL << 20))
			continue;
		iova = (iova + size - 1) & ~(dma_addr_t)(size - 1);
		phys_addr_t pa = ik_test_alloc(fx->m, size, size);
		dma_addr_t hole = iova + size / 2;
		assert_int_equal(iommu_map(fx->domain, iova, pa, size, RW, GFP_KERNEL), 0);
		assert_int_equal(ik_mem_fail_after(fx->mem, 0), 0); /* no page for a new table */
		errno = 0;
		size_t got = iommu_unmap(fx->domain, hole, p);
		assert_int_equal(ik_mem_fail_after(fx->mem, -1), 0);
		if (got == 0) {
			assert_int_equal(errno, ENOMEM);
			saw_enomem++;
			for (uint64_t off = 0; off < size; off += p)
				assert_int_equal(iommu_iova_to_phys(fx->domain, iova + off), pa + off);
			check_dma_roundtrip(fx, hole, pa + size / 2, p);
			assert_int_equal(iommu_unmap(fx->domain, hole, p), p);
		} else {
			assert_int_equal(got, p); /* this split needed no new table */
		}
		assert_int_equal(iommu_iova_to_phys(fx->domain, hole), 0);
		assert_int_equal(iommu_iova_to_phys(fx->domain, hole + p), pa + size / 2 + p);
		assert_int_equal(iommu_unmap(fx->domain, iova, size / 2), size / 2);
		assert_int_equal(iommu_unmap(fx->domain, hole + p, size / 2 - p), size / 2 - p);
		ik_mem_free_pages(fx->mem, pa, size >> 12);
		iova += size;
	}
	assert_true(saw_enomem >= 1); /* some block size needs a table to split */
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

/* Out of memory part way: the map fails whole and leaves nothing behind. */
static void test_map_enomem_rolls_back(void **state)
{
	struct fixture *fx = *state;
	size_t p = fx->min_page;
	phys_addr_t buf = ik_test_alloc(fx->m, 2 * p, p);
	/* Straddle the boundaries of every table level, with misaligned pa. */
	size_t largest = (size_t)1 << (63 - __builtin_clzl(fx->sizes));
	dma_addr_t iova = fx->base + 2 * largest - p;
	bool saw_enomem = false, saw_success = false;
	size_t free_before = ik_mem_free_count(fx->mem);

	for (long budget = 0; budget <= 6; budget++) {
		assert_int_equal(ik_mem_fail_after(fx->mem, budget), 0);
		int ret = iommu_map(fx->domain, iova, buf + p, 2 * p, RW, GFP_KERNEL);
		assert_int_equal(ik_mem_fail_after(fx->mem, -1), 0);
		if (ret == 0) {
			saw_success = true;
			assert_int_equal(iommu_iova_to_phys(fx->domain, iova + p), buf + 2 * p);
			assert_int_equal(iommu_unmap(fx->domain, iova, 2 * p), 2 * p);
		} else {
			saw_enomem = true;
			assert_int_equal(ret, -ENOMEM);
			assert_int_equal(iommu_iova_to_phys(fx->domain, iova), 0);
			assert_int_equal(iommu_iova_to_phys(fx->domain, iova + p), 0);
		}
		/* Whatever happened, every page taken was given back. */
		assert_int_equal(ik_mem_free_count(fx->mem), free_before);
	}
	assert_true(saw_enomem);
	assert_true(saw_success);
	ik_mem_free_pages(fx->mem, buf, 2);
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

static void test_map_sg(void **state)
{
	struct fixture *fx = *state;
	size_t p = fx->min_page;
	struct scatterlist sg[9];
	phys_addr_t pages[16];
	dma_addr_t iova = fx->base;

	for (int i = 0; i < 16; i++)
		pages[i] = ik_test_alloc(fx->m, p, p);
	sg_init_table(sg, 9);
	for (int i = 0; i < 8; i++) /* every other page: no two contiguous */
		sg_set_phys(&sg[i], pages[2 * i], (unsigned int)p);
	phys_addr_t chunk = ik_test_alloc(fx->m, 16 * p, 16 * p);
	sg_set_phys(&sg[8], chunk, (unsigned int)(16 * p));
	assert_int_equal(iommu_map_sg(fx->domain, iova, sg, 9, RW, GFP_KERNEL), 24 * p);
	for (int i = 0; i < 8; i++)
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova + i * p + 7), pages[2 * i] + 7);
	for (int i = 0; i < 16; i++)
		assert_int_equal(iommu_iova_to_phys(fx->domain, iova + (8 + i) * p), chunk + i * p);
	check_dma_roundtrip(fx, iova + 3 * p, pages[6], p);
	/* A list that collides with an existing mapping maps nothing. */
	assert_int_equal(iommu_map_sg(fx->domain, iova - 4 * p, sg, 9, RW, GFP_KERNEL), -EEXIST);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova - 4 * p), 0);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), pages[0]);
	assert_int_equal(iommu_unmap(fx->domain, iova, 24 * p), 24 * p);
	/* Misaligned segment: -EINVAL, nothing mapped. */
	sg_set_phys(&sg[1], pages[2] + 8, (unsigned int)p);
	assert_int_equal(iommu_map_sg(fx->domain, iova, sg, 9, RW, GFP_KERNEL), -EINVAL);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), 0);
	for (int i = 0; i < 16; i++)
		ik_mem_free_pages(fx->mem, pages[i], 1);
	ik_mem_free_pages(fx->mem, chunk, 16);
}

/* --- faults --- */

struct fault_log {
	unsigned int calls;
	struct iommu_domain *domain;
	struct device *dev;
	dma_addr_t iova;
	int flags;
	/* optional: map this on fault */
	phys_addr_t fix_pa;
	size_t fix_size;
};

static int record_fault(struct iommu_domain *d, struct device *dev, dma_addr_t iova, int flags,
			void *token)
{
	struct fault_log *fl = token;
	fl->calls++;
	fl->domain = d;
	fl->dev = dev;
	fl->iova = iova;
	fl->flags = flags;
	if (fl->fix_size) /* a handler may map: no iommukit lock is held here */
		return iommu_map(d, iova & ~(dma_addr_t)(fl->fix_size - 1), fl->fix_pa,
				 fl->fix_size, RW, GFP_ATOMIC);
	return 0;
}

static void test_fault_reaches_handler(void **state)
{
	struct fixture *fx = *state;
	size_t p = fx->min_page;
	struct fault_log fl = { 0 };
	phys_addr_t pa = ik_test_alloc(fx->m, p, p);
	dma_addr_t iova = fx->base + 4 * p;
	static const char canary[16] = "canary-canary-c";
	char buf[16] = "device-write!!!";

	iommu_set_fault_handler(fx->domain, record_fault, &fl);
	assert_int_equal(iommu_map(fx->domain, iova, pa, p, RW, GFP_KERNEL), 0);
	check_dma_roundtrip(fx, iova, pa, p);
	assert_int_equal(iommu_unmap(fx->domain, iova, p), p);
	ik_mem_write(fx->mem, pa, canary, sizeof(canary));

	assert_int_equal(ik_dma_write(fx->dev, iova + 0x10, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(fl.calls, 1);
	assert_ptr_equal(fl.domain, fx->domain);
	assert_ptr_equal(fl.dev, fx->dev);
	assert_int_equal(fl.iova, iova + 0x10);
	assert_true(fl.flags & IK_FAULT_TRANSLATION);
	if (device_iommu_capable(fx->dev, IK_CAP_PERMISSIONS))
		assert_true(fl.flags & IOMMU_FAULT_WRITE);
	/* The aborted write touched nothing. */
	ik_mem_read(fx->mem, pa, buf, sizeof(buf));
	assert_memory_equal(buf, canary, sizeof(canary));

	/* An access that faults on its second page moves no byte at all. */
	phys_addr_t pa2 = ik_test_alloc(fx->m, p, p);
	ik_mem_write(fx->mem, pa2 + p - 8, canary, 8);
	assert_int_equal(iommu_map(fx->domain, iova - p, pa2, p, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_write(fx->dev, iova - 8, "ABCDEFGHIJKLMNOP", 16), -EFAULT);
	ik_mem_read(fx->mem, pa2 + p - 8, buf, 8);
	assert_memory_equal(buf, canary, 8);
	assert_int_equal(fl.calls, 2);
	assert_int_equal(fl.iova & ~(dma_addr_t)(p - 1), iova);
	iommu_unmap(fx->domain, iova - p, p);
	ik_mem_free_pages(fx->mem, pa, 1);
	ik_mem_free_pages(fx->mem, pa2, 1);
}

static void test_fault_without_handler_is_logged(void **state)
{
	struct fixture *fx = *state;
	struct ik_log_capture cap;
	char b[4] = "abc";

	ik_test_log_capture_start(&cap);
	assert_int_equal(ik_dma_write(fx->dev, fx->base + 0x2000, b, sizeof(b)), -EFAULT);
	ik_test_log_capture_stop();
	assert_true(cap.count >= 1);
	assert_non_null(strstr(cap.last, target->device));
}

static void test_fault_handler_may_map(void **state)
{
	struct fixture *fx = *state;
	size_t p = fx->min_page;
	struct fault_log fl = { 0 };
	dma_addr_t iova = fx->base + 9 * p;
	char msg[8] = "retried", back[8];

	fl.fix_pa = ik_test_alloc(fx->m, p, p);
	fl.fix_size = p;
	iommu_set_fault_handler(fx->domain, record_fault, &fl);
	assert_int_equal(ik_dma_write(fx->dev, iova + 3, msg, sizeof(msg)), -EFAULT);
	assert_int_equal(fl.calls, 1);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova + 3), fl.fix_pa + 3);
	assert_int_equal(ik_dma_write(fx->dev, iova + 3, msg, sizeof(msg)), 0);
	ik_mem_read(fx->mem, fl.fix_pa + 3, back, sizeof(back));
	assert_memory_equal(msg, back, sizeof(msg));
	assert_int_equal(fl.calls, 1);
	iommu_unmap(fx->domain, iova, p);
	ik_mem_free_pages(fx->mem, fl.fix_pa, 1);
}

/* --- the IOTLB is not coherent with the page tables --- */

static void test_unmap_without_sync_is_stale(void **state)
{
	struct fixture *fx = *state;
	const char *mmu = ik_device_iommu_name(fx->dev);
	size_t p = fx->min_page;
	phys_addr_t pa = ik_test_alloc(fx->m, p, p);
	dma_addr_t iova = fx->base;
	struct ik_iommu_hw_stats st;
	struct iommu_iotlb_gather gather;
	char b;

	/* With the core's flush: the device loses the page at once. */
	assert_int_equal(iommu_map(fx->domain, iova, pa, p, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), 0); /* fills the IOTLB */
	ik_machine_iommu_reset_stats(fx->m, mmu);
	assert_int_equal(iommu_unmap(fx->domain, iova, p), p);
	assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), -EFAULT);
	ik_machine_iommu_stats(fx->m, mmu, &st);
	assert_int_equal(st.stale_accesses, 0);

	/* Leave the invalidation out: the cached translation still serves DMA. */
	assert_int_equal(iommu_map(fx->domain, iova, pa, p, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), 0);
	ik_machine_iommu_reset_stats(fx->m, mmu);
	iommu_iotlb_gather_init(&gather);
	assert_int_equal(iommu_unmap_fast(fx->domain, iova, p, &gather), p);
	assert_int_equal(iommu_iova_to_phys(fx->domain, iova), 0);
	assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), 0);
	ik_machine_iommu_stats(fx->m, mmu, &st);
	assert_true(st.stale_accesses >= 1);
	iommu_iotlb_sync(fx->domain, &gather);
	assert_int_equal(ik_dma_read(fx->dev, iova, &b, 1), -EFAULT);
	ik_mem_free_pages(fx->mem, pa, 1);
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

/*
 * An unmap that empties a table, not yet synced, must not break a map of a
 * neighbouring page made meanwhile: hardware that caches table walks may
 * still point at the emptied table until the invalidation, so the new
 * table must not be reachable through that stale entry.
 */
static void test_map_beside_unsynced_unmap(void **state)
{
	struct fixture *fx = *state;
	size_t p = fx->min_page;
	phys_addr_t pa = ik_test_alloc(fx->m, 2 * p, p);
	dma_addr_t x = fx->base, y = fx->base + 8 * p; /* same last-level table */
	struct iommu_iotlb_gather gather;
	char b = 0;

	assert_int_equal(iommu_map(fx->domain, x, pa, p, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(fx->dev, x, &b, 1), 0); /* caches the walk */
	iommu_iotlb_gather_init(&gather);
	assert_int_equal(iommu_unmap_fast(fx->domain, x, p, &gather), p);
	assert_int_equal(iommu_map(fx->domain, y, pa + p, p, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_write(fx->dev, y, "y", 1), 0);
	ik_mem_read(fx->mem, pa + p, &b, 1);
	assert_int_equal(b, 'y');
	iommu_iotlb_sync(fx->domain, &gather);
	assert_int_equal(ik_dma_read(fx->dev, y, &b, 1), 0);
	assert_int_equal(ik_dma_read(fx->dev, x, &b, 1), -EFAULT);
	assert_int_equal(iommu_unmap(fx->domain, y, p), p);
	ik_mem_free_pages(fx->mem, pa, 2);
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

/* --- concurrency --- */

struct worker {
	struct fixture *fx;
	unsigned int id, nr;
	phys_addr_t pa;
	int errors;
};

static void *disjoint_worker(void *arg)
{
	struct worker *w = arg;
	struct fixture *fx = w->fx;
	size_t p = fx->min_page;
	/* Pages interleave between threads, so every table is shared. */
	for (int round = 0; round < 20; round++) {
		for (unsigned int i = w->id; i < 1024; i += w->nr) {
			dma_addr_t iova = fx->base + i * p;
			if (iommu_map(fx->domain, iova, w->pa + i * p, p, RW, GFP_KERNEL))
				w->errors++;
		}
		for (unsigned int i = w->id; i < 1024; i += w->nr)
			if (iommu_iova_to_phys(fx->domain, fx->base + i * p) != w->pa + i * p)
				w->errors++;
		for (unsigned int i = w->id; i < 1024; i += w->nr)
			if (iommu_unmap(fx->domain, fx->base + i * p, p) != p)
				w->errors++;
	}
	return NULL;
}

static void test_concurrent_disjoint_map_unmap(void **state)
{
	struct fixture *fx = *state;
	enum { NR = 3 };
	pthread_t th[NR];
	struct worker w[NR];
	phys_addr_t pa = ik_test_alloc(fx->m, 1024 * fx->min_page, fx->min_page);

	for (unsigned int i = 0; i < NR; i++) {
		w[i] = (struct worker){ .fx = fx, .id = i, .nr = NR, .pa = pa };
		assert_int_equal(pthread_create(&th[i], NULL, disjoint_worker, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NR; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(list_leaves(fx->domain, NULL), 0);
	ik_mem_free_pages(fx->mem, pa, 1024 * fx->min_page >> 12);
	assert_int_equal(ik_mem_free_count(fx->mem), fx->free_pages_at_start);
}

/* --- non-paging domains --- */

static void test_identity_and_blocked(void **state)
{
	struct fixture *fx = *state;
	phys_addr_t pa = ik_test_alloc(fx->m, 0x1000, 0x1000);
	char msg[8] = "direct", back[8];

	iommu_detach_device(fx->domain, fx->dev);
	struct iommu_domain *id = iommu_domain_alloc_type(fx->dev, IOMMU_DOMAIN_IDENTITY);
	if (id) {
		assert_int_equal(iommu_attach_device(id, fx->dev), 0);
		assert_int_equal(iommu_map(id, pa, pa, 0x1000, RW, GFP_KERNEL), -EINVAL);
		assert_int_equal(iommu_iova_to_phys(id, pa + 5), pa + 5);
		assert_int_equal(ik_dma_write(fx->dev, pa, msg, sizeof(msg)), 0);
		ik_mem_read(fx->mem, pa, back, sizeof(back));
		assert_memory_equal(msg, back, sizeof(msg));
		iommu_detach_device(id, fx->dev);
		iommu_domain_free(id);
	} else {
		assert_int_equal(errno, EOPNOTSUPP);
	}
	struct iommu_domain *blk = iommu_domain_alloc_type(fx->dev, IOMMU_DOMAIN_BLOCKED);
	if (blk) {
		struct ik_log_capture cap;
		assert_int_equal(iommu_attach_device(blk, fx->dev), 0);
		ik_test_log_capture_start(&cap);
		assert_int_equal(ik_dma_read(fx->dev, pa, back, 1), -EFAULT);
		ik_test_log_capture_stop();
		assert_int_equal(iommu_iova_to_phys(blk, pa), 0);
		iommu_detach_device(blk, fx->dev);
		iommu_domain_free(blk);
	} else {
		assert_int_equal(errno, EOPNOTSUPP);
	}
	assert_int_equal(iommu_attach_device(fx->domain, fx->dev), 0);
	ik_mem_free_pages(fx->mem, pa, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_domain_alloc_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_every_page_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_uses_largest_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_unmap_of_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_enomem_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_unmap_enomem_keeps_block, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_sg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_reaches_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_without_handler_is_logged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_handler_may_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_without_sync_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_beside_unsynced_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_disjoint_map_unmap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_and_blocked, setup, teardown),
	};
	int failed = 0;
	for (unsigned int i = 0; i < ik_test_nr_targets; i++) {
		target = &ik_test_targets[i];
		failed += cmocka_run_group_tests_name(target->name, tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
