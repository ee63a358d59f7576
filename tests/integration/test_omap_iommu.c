// SPDX-License-Identifier: MIT
/*
 * The OMAP IOMMU driver end to end on the default "omap3" machine, through
 * the public API: DMA through the ISP MMU at every page size, each fault
 * type the MMU reports, context save/restore across a power cycle, TLB
 * preloading, locking and preserved entries, precise invalidation after an
 * unmap, partial unmaps of large pages, identity and blocked domains, and
 * a domain shared by two MMUs.
 *
 * The hardware model is the oracle: a mapping works only if the driver's
 * registers and the format's tables are right, and a stale TLB entry shows
 * up as a DMA that succeeds where it must fault.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"

#define RW (IOMMU_READ | IOMMU_WRITE)

/*
 * Register offsets the test reads back, from the OMAP36x TRM (SWPU177N),
 * "MMU Register Summary": MMU_CNTL 0x44, MMU_TTB 0x4c, MMU_LOCK 0x50.
 */
#define REG_CNTL 0x44
#define REG_TTB  0x4c
#define REG_LOCK 0x50

/* 16 MiB-aligned IOVA slots, so every page size fits in any of them. */
#define SLOT(n) (0x10000000ull + (dma_addr_t)(n) * IK_SZ_16M)

struct fault_rec {
	unsigned int count;
	struct iommu_domain *domain;
	struct device *dev;
	dma_addr_t iova;
	int flags;
	/* When non-zero: map this page at the faulting page, so a retry succeeds. */
	phys_addr_t map_pa;
	int map_ret;
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *isp;
	struct iommu_domain *dom;
	phys_addr_t isp_mmio;
	struct fault_rec fault;
	/* A table word a test corrupted, put back before the domain is freed. */
	phys_addr_t fix_pa;
	uint32_t fix_word;
};

static int record_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
			int flags, void *token)
{
	struct fault_rec *r = token;

	r->count++;
	r->domain = domain;
	r->dev = dev;
	r->iova = iova;
	r->flags = flags;
	if (r->map_pa)
		r->map_ret = iommu_map(domain, iova & ~(dma_addr_t)(IK_SZ_4K - 1), r->map_pa,
				       IK_SZ_4K, RW, GFP_ATOMIC);
	return 0;
}

static phys_addr_t mmio_base_of(const char *iommu)
{
	const struct ik_machine_desc *d = ik_machine_desc_builtin(NULL);

	assert_non_null(d);
	for (unsigned int i = 0; i < d->nr_iommus; i++)
		if (!strcmp(d->iommus[i].name, iommu))
			return d->iommus[i].mmio_base;
	fail_msg("no IOMMU %s in the default machine", iommu);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->m = ik_machine_create_default();
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->isp = ik_machine_device(f->m, "isp");
	assert_non_null(f->isp);
	f->isp_mmio = mmio_base_of("isp-mmu");
	f->dom = iommu_paging_domain_alloc(f->isp);
	assert_non_null(f->dom);
	assert_int_equal(iommu_attach_device(f->dom, f->isp), 0);
	iommu_set_fault_handler(f->dom, record_fault, &f->fault);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ik_test_log_capture_stop();
	if (f->fix_pa)
		assert_int_equal(ik_mem_write(f->mem, f->fix_pa, &f->fix_word, sizeof(f->fix_word)),
				 0);
	if (iommu_get_domain_for_dev(f->isp) == f->dom)
		iommu_detach_device(f->dom, f->isp);
	iommu_domain_free(f->dom);
	ik_machine_destroy(f->m);
	free(f);
	return 0;
}

/* @size bytes of RAM aligned to @size rounded up to a power of two. */
static phys_addr_t alloc_phys(struct fx *f, size_t size)
{
	size_t align = IK_SZ_4K;

	while (align < size)
		align <<= 1;
	return ik_test_alloc(f->m, size, align);
}

static uint32_t isp_reg(struct fx *f, uint32_t off)
{
	uint32_t v;

	assert_int_equal(ik_machine_mmio_read32(f->m, f->isp_mmio + off, &v), 0);
	return v;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* DMA @len bytes to @iova through @dev; check they land at @pa and read back. */
static void check_dma(struct fx *f, struct device *dev, dma_addr_t iova, phys_addr_t pa,
		      size_t len, unsigned int seed)
{
	uint8_t out[256], in[256], mem[256];

	assert_true(len <= sizeof(out));
	fill_pattern(out, len, seed);
	assert_int_equal(ik_dma_write(dev, iova, out, len), 0);
	assert_int_equal(ik_mem_read(f->mem, pa, mem, len), 0);
	assert_memory_equal(mem, out, len);
	memset(in, 0, sizeof(in));
	assert_int_equal(ik_dma_read(dev, iova, in, len), 0);
	assert_memory_equal(in, out, len);
}

/* A DMA write that must fault: it fails and leaves @pa (if any) as it was. */
static void check_dma_faults(struct fx *f, struct device *dev, dma_addr_t iova, phys_addr_t pa)
{
	uint8_t out[64], before[64], after[64];

	fill_pattern(out, sizeof(out), 99);
	if (pa)
		assert_int_equal(ik_mem_read(f->mem, pa, before, sizeof(before)), 0);
	assert_int_equal(ik_dma_write(dev, iova, out, sizeof(out)), -EFAULT);
	if (pa) {
		assert_int_equal(ik_mem_read(f->mem, pa, after, sizeof(after)), 0);
		assert_memory_equal(after, before, sizeof(before));
	}
}

/* Index of the valid TLB entry tagged @da, or -1. */
static int find_tlb(struct device *dev, uint32_t da, struct omap_iotlb_entry *out)
{
	int n = omap_iommu_tlb_size(dev);

	for (int i = 0; i < n; i++) {
		struct omap_iotlb_entry e;

		assert_int_equal(omap_iommu_tlb_read(dev, (unsigned int)i, &e), 0);
		if (e.valid && e.da == da) {
			if (out)
				*out = e;
			return i;
		}
	}
	return -1;
}

static struct omap_iotlb_entry tlb_entry(uint32_t da, uint32_t pa, uint32_t pgsz, bool preserved)
{
	return (struct omap_iotlb_entry){
		.da = da, .pa = pa, .pgsz = pgsz, .valid = true, .preserved = preserved,
		.endian = OMAP_IOMMU_ENDIAN_LITTLE, .elsz = OMAP_IOMMU_ELSZ_8,
	};
}

static const size_t page_sizes[] = { IK_SZ_4K, IK_SZ_64K, IK_SZ_1M, IK_SZ_16M };

/* --- DMA at every page size --- */

static void test_dma_every_page_size(void **state)
{
	struct fx *f = *state;

	for (unsigned int i = 0; i < 4; i++) {
		size_t size = page_sizes[i];
		dma_addr_t iova = SLOT(i);
		phys_addr_t pa = alloc_phys(f, size);
		struct omap_iotlb_entry e;

		assert_int_equal(iommu_map(f->dom, iova, pa, size, RW, GFP_KERNEL), 0);
		assert_int_equal(iommu_iova_to_phys(f->dom, iova + size - 1), pa + size - 1);
		/* The first and the last bytes of the page. */
		check_dma(f, f->isp, iova, pa, 16, i);
		check_dma(f, f->isp, iova + size - 256, pa + size - 256, 256, i + 10);
		/* The walker loaded one entry for the whole page. */
		assert_true(find_tlb(f->isp, (uint32_t)iova, &e) >= 0);
		assert_int_equal(e.pgsz, size);
		assert_int_equal(e.pa, pa);
	}
	assert_int_equal(f->fault.count, 0);
	/* Translation is on, with the domain's tables. */
	assert_int_not_equal(isp_reg(f, REG_CNTL), 0);
	assert_int_not_equal(isp_reg(f, REG_TTB), 0);
}

/* --- one test per fault type --- */

static void test_fault_translation(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);
	uint8_t out[64], before[64], after[64];

	ik_mem_fill(f->mem, pa, 0x5a, IK_SZ_4K);
	assert_int_equal(iommu_map(f->dom, SLOT(1), pa, IK_SZ_4K, RW, GFP_KERNEL), 0);

	/* A write that starts in the mapped page and runs into the unmapped next one. */
	fill_pattern(out, sizeof(out), 3);
	assert_int_equal(ik_mem_read(f->mem, pa + IK_SZ_4K - 32, before, sizeof(before) / 2), 0);
	assert_int_equal(ik_dma_write(f->isp, SLOT(1) + IK_SZ_4K - 32, out, sizeof(out)), -EFAULT);
	assert_int_equal(ik_mem_read(f->mem, pa + IK_SZ_4K - 32, after, sizeof(after) / 2), 0);
	assert_memory_equal(after, before, sizeof(before) / 2);

	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.domain, f->dom);
	assert_ptr_equal(f->fault.dev, f->isp);
	assert_int_equal(f->fault.iova, SLOT(1) + IK_SZ_4K);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TRANSLATION);

	/* Acknowledged: the MMU goes on translating. */
	check_dma(f, f->isp, SLOT(1), pa, 64, 4);
}

static void test_fault_tlb_miss(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, 2 * IK_SZ_4K);
	dma_addr_t iova = SLOT(2);

	assert_int_equal(iommu_map(f->dom, iova, pa, 2 * IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(omap_iommu_set_twl(f->isp, false), 0);

	/* Mapped in the table, but with the walker off a miss is a fault. */
	check_dma_faults(f, f->isp, iova, pa);
	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.domain, f->dom);
	assert_ptr_equal(f->fault.dev, f->isp);
	assert_int_equal(f->fault.iova, iova);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TLB_MISS);

	/* Software fills the TLB instead. */
	struct omap_iotlb_entry e = tlb_entry((uint32_t)iova, (uint32_t)pa, IK_SZ_4K, false);
	assert_true(omap_iommu_tlb_preload(f->isp, &e, false) >= 0);
	check_dma(f, f->isp, iova, pa, 64, 5);

	/* Walker back on: the second page is found in the table. */
	assert_int_equal(omap_iommu_set_twl(f->isp, true), 0);
	check_dma(f, f->isp, iova + IK_SZ_4K, pa + IK_SZ_4K, 64, 6);
	assert_int_equal(f->fault.count, 1);
}

static void test_fault_table_walk(void **state)
{
	struct fx *f = *state;
	dma_addr_t iova = SLOT(3);
	phys_addr_t ttb = isp_reg(f, REG_TTB) & 0xffffc000u;
	/*
	 * OMAP first-level descriptor (TRM "First-Level Translation Table";
	 * Linux omap-iopgtable.h IOPGD_TABLE): bits [1:0] = 01 means "coarse
	 * page table", whose base is bits [31:10]. 0x00100001 points at a
	 * table at 0x00100000, below RAM (which starts at 0x80000000), so the
	 * walker cannot read the second level.
	 */
	uint32_t bad = 0x00100001u;
	phys_addr_t pgd = ttb + (iova >> 20) * 4;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);

	assert_int_equal(ik_mem_read(f->mem, pgd, &f->fix_word, sizeof(f->fix_word)), 0);
	assert_int_equal(f->fix_word, 0); /* nothing mapped there yet */
	f->fix_pa = pgd;
	assert_int_equal(ik_mem_write(f->mem, pgd, &bad, sizeof(bad)), 0);
	check_dma_faults(f, f->isp, iova + 0x2000, 0);
	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.domain, f->dom);
	assert_ptr_equal(f->fault.dev, f->isp);
	assert_int_equal(f->fault.iova, iova + 0x2000);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TABLE_WALK);

	/* Put the descriptor back (the domain's tables must stay its own). */
	assert_int_equal(ik_mem_write(f->mem, pgd, &f->fix_word, sizeof(f->fix_word)), 0);
	f->fix_pa = 0;
	assert_int_equal(iommu_map(f->dom, iova, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->isp, iova, pa, 64, 7);
}

static void test_fault_multi_hit(void **state)
{
	struct fx *f = *state;
	dma_addr_t iova = SLOT(4);
	phys_addr_t pa64k = alloc_phys(f, IK_SZ_64K), pa4k = alloc_phys(f, IK_SZ_4K);
	struct omap_iotlb_entry big = tlb_entry((uint32_t)iova, (uint32_t)pa64k, IK_SZ_64K, false);
	struct omap_iotlb_entry small = tlb_entry((uint32_t)iova, (uint32_t)pa4k, IK_SZ_4K, false);

	ik_mem_fill(f->mem, pa64k, 0x11, IK_SZ_64K);
	ik_mem_fill(f->mem, pa4k, 0x22, IK_SZ_4K);
	/* Two entries that both translate the first 4 KiB. */
	assert_true(omap_iommu_tlb_preload(f->isp, &big, false) >= 0);
	assert_true(omap_iommu_tlb_preload(f->isp, &small, false) >= 0);

	check_dma_faults(f, f->isp, iova + 0x100, pa64k + 0x100);
	check_dma_faults(f, f->isp, iova + 0x100, pa4k + 0x100);
	assert_int_equal(f->fault.count, 2);
	assert_ptr_equal(f->fault.domain, f->dom);
	assert_ptr_equal(f->fault.dev, f->isp);
	assert_int_equal(f->fault.iova, iova + 0x100);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_MULTI_HIT);

	/* Past the small entry only the big one matches. */
	check_dma(f, f->isp, iova + IK_SZ_4K, pa64k + IK_SZ_4K, 32, 8);
}

static void test_fault_without_handler_is_logged(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);
	struct ik_log_capture cap;
	char want[32];

	iommu_set_fault_handler(f->dom, NULL, NULL);
	ik_test_log_capture_start(&cap);
	check_dma_faults(f, f->isp, SLOT(5) + 0x40, 0);
	ik_test_log_capture_stop();

	assert_int_equal(cap.count, 1);
	snprintf(want, sizeof(want), "%#llx", (unsigned long long)(SLOT(5) + 0x40));
	assert_non_null(strstr(cap.last, want));
	assert_non_null(strstr(cap.last, "isp"));
	assert_int_equal(f->fault.count, 0);

	/* Still translating afterwards. */
	assert_int_equal(iommu_map(f->dom, SLOT(5), pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->isp, SLOT(5), pa, 64, 9);
}

static void test_handler_maps_then_retry_succeeds(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);
	dma_addr_t iova = SLOT(6) + 0x7000;
	uint8_t out[64], mem[64];

	f->fault.map_pa = pa;
	fill_pattern(out, sizeof(out), 10);
	assert_int_equal(ik_dma_write(f->isp, iova + 0x10, out, sizeof(out)), -EFAULT);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(f->fault.map_ret, 0);
	assert_int_equal(iommu_iova_to_phys(f->dom, iova + 0x10), pa + 0x10);

	assert_int_equal(ik_dma_write(f->isp, iova + 0x10, out, sizeof(out)), 0);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(ik_mem_read(f->mem, pa + 0x10, mem, sizeof(mem)), 0);
	assert_memory_equal(mem, out, sizeof(out));
}

/* --- context across a power cycle --- */

static void test_save_restore_ctx(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa[4], locked_pa = alloc_phys(f, IK_SZ_4K);
	dma_addr_t locked_da = SLOT(7);

	for (unsigned int i = 0; i < 4; i++) {
		pa[i] = alloc_phys(f, page_sizes[i]);
		assert_int_equal(iommu_map(f->dom, SLOT(i), pa[i], page_sizes[i], RW, GFP_KERNEL),
				 0);
	}
	/* A translation that lives only in a locked TLB entry, in no table. */
	struct omap_iotlb_entry e = tlb_entry((uint32_t)locked_da, (uint32_t)locked_pa, IK_SZ_4K,
					      false);
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, true), 0);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 1);
	check_dma(f, f->isp, locked_da, locked_pa, 32, 11);

	/* Walker on: save, power off and on, restore. */
	assert_int_equal(omap_iommu_save_ctx(f->isp), 0);
	assert_int_equal(ik_machine_iommu_power(f->m, "isp-mmu", false), 0);
	assert_int_equal(ik_machine_iommu_power(f->m, "isp-mmu", true), 0);
	/* The context really was lost. */
	assert_int_equal(isp_reg(f, REG_TTB), 0);
	assert_int_equal(isp_reg(f, REG_CNTL), 0);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 0);
	assert_int_equal(omap_iommu_restore_ctx(f->isp), 0);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 1);
	for (unsigned int i = 0; i < 4; i++)
		check_dma(f, f->isp, SLOT(i) + page_sizes[i] - 64, pa[i] + page_sizes[i] - 64, 64,
			  20 + i);
	check_dma(f, f->isp, locked_da + 0x80, locked_pa + 0x80, 32, 12);

	/* Walker off: the locked entry alone carries its mapping across the cycle. */
	assert_int_equal(omap_iommu_set_twl(f->isp, false), 0);
	assert_int_equal(omap_iommu_save_ctx(f->isp), 0);
	assert_int_equal(ik_machine_iommu_power(f->m, "isp-mmu", false), 0);
	assert_int_equal(ik_machine_iommu_power(f->m, "isp-mmu", true), 0);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 0);
	assert_int_equal(omap_iommu_restore_ctx(f->isp), 0);
	check_dma(f, f->isp, locked_da + 0x100, locked_pa + 0x100, 32, 13);
	assert_int_equal(f->fault.count, 0);
	/* ...while a table mapping misses, as the walker is still off. */
	check_dma_faults(f, f->isp, SLOT(0), pa[0]);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TLB_MISS);
	assert_int_equal(omap_iommu_set_twl(f->isp, true), 0);
	check_dma(f, f->isp, SLOT(0), pa[0], 32, 14);
}

/* --- preload, lock, preserve --- */

static void test_lock_survives_walk_pressure(void **state)
{
	struct fx *f = *state;
	unsigned int nr = (unsigned int)omap_iommu_tlb_size(f->isp);
	phys_addr_t kpa = alloc_phys(f, 2 * IK_SZ_4K), pages = alloc_phys(f, 16 * IK_SZ_4K);
	struct ik_iommu_hw_stats st;

	assert_int_equal(nr, 8); /* the ISP MMU of the default machine */
	for (unsigned int i = 0; i < 2; i++) {
		struct omap_iotlb_entry e = tlb_entry((uint32_t)(SLOT(8) + i * IK_SZ_4K),
						      (uint32_t)(kpa + i * IK_SZ_4K), IK_SZ_4K,
						      false);
		assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, true), (int)i);
	}
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 2);

	/*
	 * Twice as many table pages as the TLB has entries: the walker must
	 * evict. Mapped one by one so that each is its own 4 KiB leaf.
	 */
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(iommu_map(f->dom, SLOT(9) + i * IK_SZ_4K, pages + i * IK_SZ_4K,
					   IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_machine_iommu_reset_stats(f->m, "isp-mmu"), 0);
	for (unsigned int i = 0; i < 16; i++)
		check_dma(f, f->isp, SLOT(9) + i * IK_SZ_4K, pages + i * IK_SZ_4K, 16, i);
	assert_int_equal(ik_machine_iommu_stats(f->m, "isp-mmu", &st), 0);
	assert_true(st.walks >= 16);

	for (unsigned int i = 0; i < 2; i++) {
		struct omap_iotlb_entry e;

		assert_int_equal(omap_iommu_tlb_read(f->isp, i, &e), 0);
		assert_true(e.valid);
		assert_int_equal(e.da, SLOT(8) + i * IK_SZ_4K);
		assert_int_equal(e.pa, kpa + i * IK_SZ_4K);
		check_dma(f, f->isp, SLOT(8) + i * IK_SZ_4K, kpa + i * IK_SZ_4K, 16, 30 + i);
	}

	/* One entry always stays for the walker: 7 of 8 can be locked. */
	for (unsigned int i = 2; i < nr - 1; i++) {
		struct omap_iotlb_entry e = tlb_entry((uint32_t)(SLOT(10) + i * IK_SZ_4K),
						      (uint32_t)(pages + i * IK_SZ_4K), IK_SZ_4K,
						      false);
		assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, true), (int)i);
	}
	struct omap_iotlb_entry extra = tlb_entry((uint32_t)SLOT(11), (uint32_t)pages, IK_SZ_4K,
						  false);
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &extra, true), -ENOSPC);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), (int)nr - 1);
	/* The table still works through the last entry. */
	for (unsigned int i = 0; i < 3; i++)
		check_dma(f, f->isp, SLOT(9) + i * IK_SZ_4K, pages + i * IK_SZ_4K, 16, 40 + i);

	assert_int_equal(omap_iommu_tlb_unlock_all(f->isp), 0);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 0);
}

static void test_global_flush_spares_preserved(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, 2 * IK_SZ_4K);
	struct omap_iotlb_entry p = tlb_entry((uint32_t)SLOT(12), (uint32_t)pa, IK_SZ_4K, true);
	struct omap_iotlb_entry n = tlb_entry((uint32_t)SLOT(12) + IK_SZ_4K,
					      (uint32_t)pa + IK_SZ_4K, IK_SZ_4K, false);
	struct omap_iotlb_entry e;
	int ip = omap_iommu_tlb_preload(f->isp, &p, false);
	int in = omap_iommu_tlb_preload(f->isp, &n, false);

	assert_true(ip >= 0 && in >= 0 && ip != in);
	iommu_flush_iotlb_all(f->dom);
	assert_int_equal(omap_iommu_tlb_read(f->isp, (unsigned int)ip, &e), 0);
	assert_true(e.valid);
	assert_true(e.preserved);
	assert_int_equal(e.da, SLOT(12));
	assert_int_equal(omap_iommu_tlb_read(f->isp, (unsigned int)in, &e), 0);
	assert_false(e.valid);
	/* The preserved translation still serves DMA; the flushed one faults. */
	check_dma(f, f->isp, SLOT(12), pa, 16, 50);
	check_dma_faults(f, f->isp, SLOT(12) + IK_SZ_4K, pa + IK_SZ_4K);
}

static void test_preload_checks_arguments(void **state)
{
	struct fx *f = *state;
	struct device *sdma = ik_machine_device(f->m, "sdma");
	struct omap_iotlb_entry ok = tlb_entry(0x20000000u, 0x80000000u, IK_SZ_64K, false), e;

	e = ok;
	e.pgsz = 0x2000;
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, false), -EINVAL);
	e = ok;
	e.da += IK_SZ_4K;
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, false), -EINVAL);
	e = ok;
	e.pa += IK_SZ_4K;
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, false), -EINVAL);
	e = ok;
	e.elsz = 4;
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, false), -EINVAL);
	e = ok;
	e.endian = 2;
	assert_int_equal(omap_iommu_tlb_preload(f->isp, &e, false), -EINVAL);
	assert_int_equal(omap_iommu_tlb_preload(f->isp, NULL, false), -EINVAL);
	assert_int_equal(omap_iommu_tlb_read(f->isp, 8, &e), -EINVAL);
	assert_int_equal(omap_iommu_tlb_locked(f->isp), 0);

	/* A device without an OMAP MMU. */
	assert_non_null(sdma);
	assert_int_equal(omap_iommu_tlb_preload(sdma, &ok, false), -ENODEV);
	assert_int_equal(omap_iommu_tlb_read(sdma, 0, &e), -ENODEV);
	assert_int_equal(omap_iommu_tlb_size(sdma), -ENODEV);
	assert_int_equal(omap_iommu_tlb_locked(sdma), -ENODEV);
	assert_int_equal(omap_iommu_tlb_unlock_all(sdma), -ENODEV);
	assert_int_equal(omap_iommu_set_twl(sdma, true), -ENODEV);
	assert_int_equal(omap_iommu_save_ctx(sdma), -ENODEV);
	assert_int_equal(omap_iommu_restore_ctx(sdma), -ENODEV);
	/* Nothing saved yet. */
	assert_int_equal(omap_iommu_restore_ctx(f->isp), -EINVAL);

	/* What a preload wrote reads back field by field. */
	e = ok;
	e.endian = OMAP_IOMMU_ENDIAN_BIG;
	e.elsz = OMAP_IOMMU_ELSZ_16;
	e.mixed = true;
	e.preserved = true;
	int idx = omap_iommu_tlb_preload(f->isp, &e, false);
	struct omap_iotlb_entry r;

	assert_true(idx >= 0);
	uint32_t lock = isp_reg(f, REG_LOCK);
	assert_int_equal(omap_iommu_tlb_read(f->isp, (unsigned int)idx, &r), 0);
	assert_int_equal(isp_reg(f, REG_LOCK), lock);
	assert_int_equal(r.da, e.da);
	assert_int_equal(r.pa, e.pa);
	assert_int_equal(r.pgsz, e.pgsz);
	assert_true(r.valid && r.preserved && r.mixed);
	assert_int_equal(r.endian, OMAP_IOMMU_ENDIAN_BIG);
	assert_int_equal(r.elsz, OMAP_IOMMU_ELSZ_16);
}

/* --- precise invalidation --- */

static void test_unmap_invalidates_only_its_entry(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, 4 * IK_SZ_4K);
	dma_addr_t iova = SLOT(13);
	struct ik_iommu_hw_stats st;
	int idx[4];

	assert_int_equal(iommu_map(f->dom, iova, pa, 4 * IK_SZ_4K, RW, GFP_KERNEL), 0);
	for (unsigned int i = 0; i < 4; i++) {
		struct omap_iotlb_entry e = tlb_entry((uint32_t)(iova + i * IK_SZ_4K),
						      (uint32_t)(pa + i * IK_SZ_4K), IK_SZ_4K,
						      false);
		idx[i] = omap_iommu_tlb_preload(f->isp, &e, false);
		assert_true(idx[i] >= 0);
	}
	assert_int_equal(ik_machine_iommu_reset_stats(f->m, "isp-mmu"), 0);
	assert_int_equal(iommu_unmap(f->dom, iova + IK_SZ_4K, IK_SZ_4K), IK_SZ_4K);
	assert_int_equal(ik_machine_iommu_stats(f->m, "isp-mmu", &st), 0);
	assert_int_equal(st.invalidations, 1);

	for (unsigned int i = 0; i < 4; i++) {
		struct omap_iotlb_entry e;

		assert_int_equal(omap_iommu_tlb_read(f->isp, (unsigned int)idx[i], &e), 0);
		assert_int_equal(e.valid, i != 1);
	}
	/* The others still hit, with no walk. */
	static const unsigned int kept[3] = { 0, 2, 3 };

	assert_int_equal(ik_machine_iommu_reset_stats(f->m, "isp-mmu"), 0);
	for (unsigned int i = 0; i < 3; i++)
		check_dma(f, f->isp, iova + kept[i] * IK_SZ_4K, pa + kept[i] * IK_SZ_4K, 16, 60 + i);
	assert_int_equal(ik_machine_iommu_stats(f->m, "isp-mmu", &st), 0);
	assert_int_equal(st.tlb_misses, 0);
	assert_int_equal(st.walks, 0);
	assert_int_equal(st.tlb_hits, 6); /* three pages, a write and a read each */
	check_dma_faults(f, f->isp, iova + IK_SZ_4K, pa + IK_SZ_4K);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TRANSLATION);
}

static void test_large_unmap_scans_tlb(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, 33 * IK_SZ_4K);
	dma_addr_t iova = SLOT(14);
	static const unsigned int hit[3] = { 0, 5, 31 };
	struct ik_iommu_hw_stats st;
	int idx[4];

	/*
	 * 32 pages (4x the TLB) to unmap, and a 33rd page that stays; each
	 * its own 4 KiB leaf, as the preloaded entries say.
	 */
	for (unsigned int i = 0; i < 33; i++)
		assert_int_equal(iommu_map(f->dom, iova + i * IK_SZ_4K, pa + i * IK_SZ_4K,
					   IK_SZ_4K, RW, GFP_KERNEL), 0);
	for (unsigned int i = 0; i < 4; i++) {
		unsigned int page = i < 3 ? hit[i] : 32;
		struct omap_iotlb_entry e = tlb_entry((uint32_t)(iova + page * IK_SZ_4K),
						      (uint32_t)(pa + page * IK_SZ_4K), IK_SZ_4K,
						      false);
		idx[i] = omap_iommu_tlb_preload(f->isp, &e, false);
		assert_true(idx[i] >= 0);
	}
	uint32_t lock = isp_reg(f, REG_LOCK);

	assert_int_equal(ik_machine_iommu_reset_stats(f->m, "isp-mmu"), 0);
	assert_int_equal(iommu_unmap(f->dom, iova, 32 * IK_SZ_4K), 32 * IK_SZ_4K);
	assert_int_equal(ik_machine_iommu_stats(f->m, "isp-mmu", &st), 0);
	assert_int_equal(st.invalidations, 3);
	/* The scan moved the victim pointer through every entry, and put it back. */
	assert_int_equal(isp_reg(f, REG_LOCK), lock);
	for (unsigned int i = 0; i < 4; i++) {
		struct omap_iotlb_entry e;

		assert_int_equal(omap_iommu_tlb_read(f->isp, (unsigned int)idx[i], &e), 0);
		assert_int_equal(e.valid, i == 3);
	}
	for (unsigned int i = 0; i < 3; i++)
		check_dma_faults(f, f->isp, iova + hit[i] * IK_SZ_4K, pa + hit[i] * IK_SZ_4K);
	check_dma(f, f->isp, iova + 32 * IK_SZ_4K, pa + 32 * IK_SZ_4K, 16, 70);
}

/* --- partial unmaps of large pages --- */

static void test_partial_unmap_of_large_pages(void **state)
{
	struct fx *f = *state;

	for (unsigned int i = 1; i < 4; i++) {
		size_t size = page_sizes[i], hole = page_sizes[i - 1];
		dma_addr_t iova = SLOT(15 + i), mid = iova + size / 2;
		phys_addr_t pa = alloc_phys(f, size);

		assert_int_equal(iommu_map(f->dom, iova, pa, size, RW, GFP_KERNEL), 0);
		/* Load the large page into the TLB, so a stale entry would show. */
		check_dma(f, f->isp, mid, pa + size / 2, 16, 80 + i);

		/* A 4 KiB hole in the middle, and one of the next smaller size. */
		assert_int_equal(iommu_unmap(f->dom, mid, IK_SZ_4K), IK_SZ_4K);
		assert_int_equal(iommu_unmap(f->dom, iova + hole, hole), hole);
		assert_int_equal(iommu_iova_to_phys(f->dom, mid), 0);
		assert_int_equal(iommu_iova_to_phys(f->dom, iova + hole), 0);

		check_dma_faults(f, f->isp, mid, pa + size / 2);
		check_dma_faults(f, f->isp, iova + hole + hole - 64, pa + hole + hole - 64);
		/* The rest still translates, to the right place. */
		check_dma(f, f->isp, iova, pa, 16, 90 + i);
		check_dma(f, f->isp, mid + IK_SZ_4K, pa + size / 2 + IK_SZ_4K, 16, 91 + i);
		check_dma(f, f->isp, mid - 16, pa + size / 2 - 16, 16, 92 + i);
		check_dma(f, f->isp, iova + size - 16, pa + size - 16, 16, 93 + i);
		assert_int_equal(iommu_iova_to_phys(f->dom, iova + size - 1), pa + size - 1);
	}
}

/* --- identity and blocked domains --- */

static void test_identity_domain(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);
	struct iommu_domain *id = iommu_domain_alloc_type(f->isp, IOMMU_DOMAIN_IDENTITY);

	assert_non_null(id);
	iommu_detach_device(f->dom, f->isp);
	assert_int_equal(iommu_attach_device(id, f->isp), 0);
	/* Translation off: bus addresses are physical addresses. */
	assert_int_equal(isp_reg(f, REG_CNTL), 0);
	check_dma(f, f->isp, pa + 0x40, pa + 0x40, 64, 100);
	assert_int_equal(iommu_iova_to_phys(id, pa), pa);
	assert_int_equal(f->fault.count, 0);

	/* Back to paging: the same bus address now faults. */
	iommu_detach_device(id, f->isp);
	assert_int_equal(iommu_attach_device(f->dom, f->isp), 0);
	check_dma_faults(f, f->isp, pa + 0x40, pa + 0x40);
	assert_int_equal(f->fault.count, 1);
	iommu_domain_free(id);
}

static void test_blocked_domain(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, IK_SZ_4K);
	struct fault_rec rec = { 0 };
	struct iommu_domain *blk = iommu_domain_alloc_type(f->isp, IOMMU_DOMAIN_BLOCKED);

	assert_non_null(blk);
	assert_int_equal(iommu_map(f->dom, SLOT(20), pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->isp, SLOT(20), pa, 16, 110);

	iommu_detach_device(f->dom, f->isp);
	iommu_set_fault_handler(blk, record_fault, &rec);
	assert_int_equal(iommu_attach_device(blk, f->isp), 0);
	/* Neither the old mapping (its TLB entry is gone) nor pass-through. */
	check_dma_faults(f, f->isp, SLOT(20), pa);
	check_dma_faults(f, f->isp, pa, pa);
	assert_int_equal(rec.count, 2);
	assert_ptr_equal(rec.domain, blk);
	assert_ptr_equal(rec.dev, f->isp);
	assert_int_equal(rec.iova, pa);
	assert_int_equal(rec.flags, IOMMU_FAULT_READ | IK_FAULT_TRANSLATION);
	assert_int_equal(iommu_map(blk, SLOT(20), pa, IK_SZ_4K, RW, GFP_KERNEL), -EINVAL);

	iommu_detach_device(blk, f->isp);
	iommu_domain_free(blk);
	assert_int_equal(iommu_attach_device(f->dom, f->isp), 0);
	check_dma(f, f->isp, SLOT(20), pa, 16, 111);
}

/* --- one domain on two MMUs --- */

static void test_domain_on_two_mmus(void **state)
{
	struct fx *f = *state;
	struct device *iva = ik_machine_device(f->m, "iva");
	phys_addr_t pa = alloc_phys(f, 2 * IK_SZ_4K);
	dma_addr_t iova = SLOT(21);

	assert_non_null(iva);
	assert_int_equal(omap_iommu_tlb_size(iva), 32);
	assert_int_equal(iommu_attach_device(f->dom, iva), 0);
	assert_int_equal(iommu_map(f->dom, iova, pa, 2 * IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->isp, iova, pa, 32, 120);
	check_dma(f, iva, iova + 0x800, pa + 0x800, 32, 121);

	/* One unmap invalidates the page in both TLBs. */
	assert_int_equal(iommu_unmap(f->dom, iova, IK_SZ_4K), IK_SZ_4K);
	assert_int_equal(find_tlb(f->isp, (uint32_t)iova, NULL), -1);
	assert_int_equal(find_tlb(iva, (uint32_t)iova, NULL), -1);
	check_dma_faults(f, iva, iova, pa);
	assert_ptr_equal(f->fault.dev, iva);
	check_dma_faults(f, f->isp, iova, pa);
	assert_ptr_equal(f->fault.dev, f->isp);
	assert_int_equal(f->fault.count, 2);
	check_dma(f, iva, iova + IK_SZ_4K, pa + IK_SZ_4K, 32, 122);

	/* Detaching one MMU leaves the other translating. */
	iommu_detach_device(f->dom, iva);
	assert_null(iommu_get_domain_for_dev(iva));
	check_dma(f, f->isp, iova + IK_SZ_4K, pa + IK_SZ_4K, 32, 123);
}

/* --- groups, capabilities, attributes --- */

static void test_groups_and_capabilities(void **state)
{
	struct fx *f = *state;
	struct device *iva = ik_machine_device(f->m, "iva");
	struct iommu_group *g1 = iommu_group_get(f->isp), *g2 = iommu_group_get(iva);

	assert_non_null(g1);
	assert_non_null(g2);
	assert_int_not_equal(iommu_group_id(g1), iommu_group_id(g2));
	iommu_group_put(g1);
	iommu_group_put(g2);

	/* OMAP MMUs have no permissions, no NOEXEC, no privilege, no source IDs. */
	assert_false(device_iommu_capable(f->isp, IOMMU_CAP_CACHE_COHERENCY));
	assert_false(device_iommu_capable(f->isp, IOMMU_CAP_NOEXEC));
	assert_false(device_iommu_capable(f->isp, IK_CAP_PERMISSIONS));
	assert_false(device_iommu_capable(f->isp, IK_CAP_PRIV));
	assert_false(device_iommu_capable(f->isp, IK_CAP_SOURCE_ID));

	assert_int_equal(iommu_domain_pgsize_bitmap(f->dom),
			 IK_SZ_4K | IK_SZ_64K | IK_SZ_1M | IK_SZ_16M);
	const struct iommu_domain_geometry *g = iommu_domain_get_geometry(f->dom);
	assert_int_equal(g->aperture_start, 0);
	assert_int_equal(g->aperture_end, 0xffffffffu);
	assert_true(g->force_aperture);
	assert_int_equal(iommu_map(f->dom, 0x100000000ull, 0x80000000u, IK_SZ_4K, RW, GFP_KERNEL),
			 -ERANGE);
}

static void test_domain_attrs_reach_the_tlb(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = alloc_phys(f, 2 * IK_SZ_4K);
	struct iommu_domain *id = iommu_domain_alloc_type(f->isp, IOMMU_DOMAIN_IDENTITY);
	struct omap_iotlb_entry e;

	assert_int_equal(omap_iommu_domain_set_attrs(f->dom, 2, OMAP_IOMMU_ELSZ_8, false),
			 -EINVAL);
	assert_int_equal(omap_iommu_domain_set_attrs(f->dom, 0, 4, false), -EINVAL);
	assert_int_equal(omap_iommu_domain_set_attrs(id, 0, 0, false), -EINVAL);
	assert_int_equal(omap_iommu_domain_set_attrs(NULL, 0, 0, false), -EINVAL);
	iommu_domain_free(id);

	assert_int_equal(omap_iommu_domain_set_attrs(f->dom, OMAP_IOMMU_ENDIAN_BIG,
						     OMAP_IOMMU_ELSZ_32, true), 0);
	assert_int_equal(iommu_map(f->dom, SLOT(22), pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(omap_iommu_domain_set_attrs(f->dom, OMAP_IOMMU_ENDIAN_LITTLE,
						     OMAP_IOMMU_ELSZ_8, false), 0);
	assert_int_equal(iommu_map(f->dom, SLOT(22) + IK_SZ_4K, pa + IK_SZ_4K, IK_SZ_4K, RW,
				   GFP_KERNEL), 0);
	check_dma(f, f->isp, SLOT(22), pa, 16, 130);
	check_dma(f, f->isp, SLOT(22) + IK_SZ_4K, pa + IK_SZ_4K, 16, 131);

	/* The walker copied each page's attributes into its TLB entry. */
	assert_true(find_tlb(f->isp, (uint32_t)SLOT(22), &e) >= 0);
	assert_int_equal(e.endian, OMAP_IOMMU_ENDIAN_BIG);
	assert_int_equal(e.elsz, OMAP_IOMMU_ELSZ_32);
	assert_true(e.mixed);
	assert_true(find_tlb(f->isp, (uint32_t)SLOT(22) + IK_SZ_4K, &e) >= 0);
	assert_int_equal(e.endian, OMAP_IOMMU_ENDIAN_LITTLE);
	assert_int_equal(e.elsz, OMAP_IOMMU_ELSZ_8);
	assert_false(e.mixed);
}

/* --- concurrency --- */

#define NR_THREADS 4
#define NR_ROUNDS  64

struct worker {
	struct fx *f;
	unsigned int id;
	phys_addr_t pa; /* 4 pages */
	int failures;
};

static int count_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
		       int flags, void *token)
{
	__atomic_fetch_add((unsigned int *)token, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Map, DMA, unmap and DMA again (which must fault) in a range of its own. */
static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct fx *f = w->f;
	dma_addr_t base = SLOT(23) + w->id * IK_SZ_1M;

	for (unsigned int r = 0; r < NR_ROUNDS; r++) {
		dma_addr_t iova = base + (r % 16) * IK_SZ_4K;
		phys_addr_t pa = w->pa + (r % 4) * IK_SZ_4K;
		uint8_t out[32], mem[32];

		fill_pattern(out, sizeof(out), w->id * 1000 + r);
		if (iommu_map(f->dom, iova, pa, IK_SZ_4K, RW, GFP_KERNEL) ||
		    ik_dma_write(f->isp, iova + 64, out, sizeof(out)) ||
		    ik_mem_read(f->mem, pa + 64, mem, sizeof(mem)) || memcmp(mem, out, sizeof(out)) ||
		    iommu_unmap(f->dom, iova, IK_SZ_4K) != IK_SZ_4K ||
		    ik_dma_write(f->isp, iova + 64, out, sizeof(out)) != -EFAULT)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_map_unmap_dma(void **state)
{
	struct fx *f = *state;
	struct worker w[NR_THREADS];
	pthread_t th[NR_THREADS];
	unsigned int faults = 0;

	iommu_set_fault_handler(f->dom, count_fault, &faults);
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		w[i] = (struct worker){ .f = f, .id = i, .pa = alloc_phys(f, 4 * IK_SZ_4K) };
		assert_int_equal(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	/*
	 * Every access after an unmap faulted (the workers checked). The MMU
	 * has one IRQSTATUS/FAULT_AD pair, so faults that overlap in time
	 * are coalesced into one report: at least one, never more than one
	 * per faulting access.
	 */
	faults = __atomic_load_n(&faults, __ATOMIC_RELAXED);
	assert_true(faults >= 1 && faults <= NR_THREADS * NR_ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dma_every_page_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_translation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_tlb_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_table_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_multi_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_without_handler_is_logged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handler_maps_then_retry_succeeds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_restore_ctx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_survives_walk_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_flush_spares_preserved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_preload_checks_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_invalidates_only_its_entry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_unmap_scans_tlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_unmap_of_large_pages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocked_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_on_two_mmus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups_and_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_attrs_reach_the_tlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_map_unmap_dma, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
