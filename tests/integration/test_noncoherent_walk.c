// SPDX-License-Identifier: MIT
/*
 * Page tables on non-coherent machines. The CPU keeps tables in its cache,
 * the IOMMU's walker reads memory: the formats clean every table write
 * unless the driver says the walker snoops (cfg.coherent_walk), and a
 * table write nobody cleaned leaves the walker on the old entry, which the
 * models count (ik_iommu_hw_stats.incoherent_walks).
 *
 * Descriptor values below come from the specifications, not from our
 * output:
 *  - OMAP35x TRM, MMU "Second-Level Descriptor Format": a small page is
 *    base [31:12] with bits [1:0] = 0b10 (bit 1 set); the driver's default
 *    attributes (little-endian, 8-bit elements, not mixed) put zeros in
 *    E (bit 9), ES (bits 5:4) and M (bit 11). So page 0x8123_4000 maps as
 *    0x8123_4002. A first-level "page table" entry has bits [1:0] = 0b01.
 *  - Arm ARM, VMSAv8-64 descriptors: bits [1:0] = 0b11 are a table at
 *    levels 0-2; 0 is invalid.
 *  - SMMUv2 architecture, SMMU_sIDR0 (offset 0x20 of the global register
 *    space): CTTW, bit 14, "coherent translation table walk".
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"
#include "ik/omap-mmu-regs.h"
#include "flush_stub.h"
#include "ik_test.h"

#define IOVA 0x10000000u
#define SZ_4K 0x1000u

static phys_addr_t iommu_mmio(const char *machine, const char *iommu)
{
	const struct ik_machine_desc *d = ik_machine_desc_builtin(machine);

	for (unsigned int i = 0; i < d->nr_iommus; i++)
		if (!strcmp(d->iommus[i].name, iommu))
			return d->iommus[i].mmio_base;
	fail_msg("no IOMMU %s on %s", iommu, machine);
	return 0;
}

static struct ik_iommu_hw_stats hw_stats(struct ik_machine *m, const char *iommu)
{
	struct ik_iommu_hw_stats st;

	assert_int_equal(ik_machine_iommu_stats(m, iommu, &st), 0);
	return st;
}

static uint32_t mem_word(struct ik_machine *m, phys_addr_t pa)
{
	uint32_t le;

	assert_int_equal(ik_mem_read(ik_machine_mem(m), pa, &le, 4), 0);
	return le32toh(le);
}

static uint32_t cpu_word(struct ik_machine *m, phys_addr_t pa)
{
	uint32_t le;

	assert_int_equal(ik_cpu_read(m, pa, &le, 4), 0);
	return le32toh(le);
}

/* The OMAP MMU's second-level entry for @iova, found from MMU_TTB in memory. */
static phys_addr_t omap_pte_addr(struct ik_machine *m, phys_addr_t mmio, uint32_t iova)
{
	uint32_t ttb, l1;

	assert_int_equal(ik_machine_mmio_read32(m, mmio + OMAP_MMU_TTB, &ttb), 0);
	l1 = mem_word(m, ttb + (iova >> 20) * 4);
	assert_int_equal(l1 & 3, 1); /* a page-table entry */
	return (l1 & 0xfffffc00u) + ((iova >> 12) & 0xff) * 4;
}

/*
 * On the OMAP3 the driver's writes reach memory (it cleans); a PTE changed
 * through the CPU cache without a clean is not seen by the walker, even
 * after an IOTLB flush, until it is cleaned.
 */
static void test_omap_uncleaned_pte_is_stale(void **state)
{
	struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin("omap3"));
	const phys_addr_t mmio = iommu_mmio("omap3", "isp-mmu");
	uint8_t buf[16];
	phys_addr_t a, b, pte, pa;
	int prot;

	(void)state;
	assert_non_null(m);
	struct device *dev = ik_machine_device(m, "isp");
	struct iommu_domain *d = iommu_paging_domain_alloc(dev);

	assert_non_null(d);
	assert_int_equal(iommu_attach_device(d, dev), 0);
	a = ik_test_alloc(m, SZ_4K, SZ_4K);
	b = ik_test_alloc(m, SZ_4K, SZ_4K);
	assert_int_equal(iommu_map(d, IOVA, a, SZ_4K, IOMMU_READ | IOMMU_WRITE, 0), 0);

	/* The entry, as the TRM encodes it, in memory and in the CPU's view alike. */
	pte = omap_pte_addr(m, mmio, IOVA);
	assert_int_equal(mem_word(m, pte), (uint32_t)a | 0x2);
	assert_int_equal(cpu_word(m, pte), (uint32_t)a | 0x2);
	assert_int_equal(ik_machine_iommu_reset_stats(m, "isp-mmu"), 0);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(ik_dma_write(dev, IOVA, buf, sizeof(buf)), 0);
	assert_int_equal(mem_word(m, a), 0x11111111u);
	assert_int_equal(hw_stats(m, "isp-mmu").incoherent_walks, 0);

	/* A driver that forgets the clean: the new entry stays in the CPU cache. */
	uint32_t le = htole32((uint32_t)b | 0x2);

	assert_int_equal(ik_cpu_write(m, pte, &le, 4), 0);
	assert_int_equal(mem_word(m, pte), (uint32_t)a | 0x2);
	iommu_flush_iotlb_all(d);
	memset(buf, 0x22, sizeof(buf));
	assert_int_equal(ik_dma_write(dev, IOVA, buf, sizeof(buf)), 0);
	assert_int_equal(mem_word(m, a), 0x22222222u); /* the old page */
	assert_int_equal(mem_word(m, b), 0);
	struct ik_iommu_hw_stats st = hw_stats(m, "isp-mmu");
	assert_int_equal(st.walks, 2);
	assert_int_equal(st.incoherent_walks, 1);
	assert_int_equal(ik_machine_iommu_walk(m, "isp-mmu", 0, IOVA, &pa, &prot), 0);
	assert_int_equal(pa, a);
	assert_int_equal(iommu_iova_to_phys(d, IOVA), b); /* the CPU's view */

	/* Cleaned (and the TLB flushed), the walker follows it. */
	assert_int_equal(ik_cpu_cache_clean(m, pte, 4), 0);
	iommu_flush_iotlb_all(d);
	memset(buf, 0x33, sizeof(buf));
	assert_int_equal(ik_dma_write(dev, IOVA, buf, sizeof(buf)), 0);
	assert_int_equal(mem_word(m, b), 0x33333333u);
	assert_int_equal(mem_word(m, a), 0x22222222u);
	assert_int_equal(hw_stats(m, "isp-mmu").incoherent_walks, 1);

	/* Unmapped, the entry is 0 in memory too. */
	assert_int_equal(iommu_unmap(d, IOVA, SZ_4K), SZ_4K);
	assert_int_equal(mem_word(m, pte), 0);
	iommu_detach_device(d, dev);
	iommu_domain_free(d);
	ik_machine_destroy(m);
}

/*
 * The SMMU reports CTTW only where its walks snoop the CPU caches; the
 * driver takes it as cfg.coherent_walk, and on the non-coherent SoC every
 * walk still finds cleaned tables.
 */
static void test_smmu_cttw_follows_machine(void **state)
{
	static const struct {
		const char *machine;
		bool cttw;
	} cases[] = { { "smmu", true }, { "smmu-noncoherent", false } };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin(cases[i].machine));
		uint32_t idr0;

		assert_non_null(m);
		assert_int_equal(ik_machine_mmio_read32(m, iommu_mmio(cases[i].machine, "smmu") + 0x20,
							&idr0),
				 0);
		assert_int_equal(!!(idr0 & (1u << 14)), cases[i].cttw);

		struct device *dev = ik_machine_device(m, "gpu");
		struct iommu_domain *d = iommu_paging_domain_alloc(dev);
		uint8_t buf[64], back[64];

		assert_non_null(d);
		assert_int_equal(iommu_attach_device(d, dev), 0);
		assert_int_equal(device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY), cases[i].cttw);
		phys_addr_t a = ik_test_alloc(m, 64 * SZ_4K, SZ_4K);
		assert_int_equal(iommu_map(d, IOVA, a, 64 * SZ_4K, IOMMU_READ | IOMMU_WRITE, 0), 0);
		for (unsigned int k = 0; k < 64; k++) {
			memset(buf, (int)k, sizeof(buf));
			assert_int_equal(ik_dma_write(dev, IOVA + k * SZ_4K, buf, sizeof(buf)), 0);
			assert_int_equal(ik_mem_read(ik_machine_mem(m), a + k * SZ_4K, back,
						     sizeof(back)),
					 0);
			assert_memory_equal(buf, back, sizeof(buf));
		}
		assert_int_equal(hw_stats(m, "smmu").incoherent_walks, 0);
		assert_int_equal(iommu_unmap(d, IOVA, 64 * SZ_4K), 64 * SZ_4K);
		struct ik_log_capture cap;

		ik_test_log_capture_start(&cap); /* the fault is reported; expected */
		assert_int_equal(ik_dma_write(dev, IOVA, buf, 4), -EFAULT);
		ik_test_log_capture_stop();
		assert_int_equal(cap.count, 1);
		iommu_detach_device(d, dev);
		iommu_domain_free(d);
		ik_machine_destroy(m);
	}
}

/* First-level (OMAP) or start-level (LPAE) entry for @iova, in memory. */
static uint64_t root_entry_in_memory(struct ik_mem *mem, enum io_pgtable_fmt fmt,
				     const struct io_pgtable_cfg *cfg, uint32_t iova)
{
	uint64_t e = 0;

	if (fmt == OMAP_IOMMU_PGTABLE) {
		uint32_t w;

		assert_int_equal(ik_mem_read(mem, cfg->omap.ttb + (iova >> 20) * 4, &w, 4), 0);
		return le32toh(w);
	}
	/* ias 39: the walk starts at level 1, indexed by VA[38:30]. */
	assert_int_equal(ik_mem_read(mem, (cfg->arm_lpae_s1_cfg.ttbr & ~0xfffULL) +
					  ((iova >> 30) & 0x1ff) * 8,
				     &e, 8),
			 0);
	return le64toh(e);
}

/*
 * A driver that claims a coherent walker on a non-coherent machine gets
 * tables that never reach memory: the format reads its own writes back,
 * the walker's memory stays empty. Claiming none, every write is cleaned.
 */
static void test_format_coherent_walk_claim(void **state)
{
	static const enum io_pgtable_fmt fmts[] = { OMAP_IOMMU_PGTABLE, ARM_64_LPAE_S1 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
		for (int claim = 0; claim <= 1; claim++) {
			struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin("omap3"));
			struct ik_mem *mem = ik_machine_mem(m);
			struct ik_flush_stub stub = { 0 };
			struct io_pgtable_cfg cfg = {
				.pgsize_bitmap = IK_SZ_4K | IK_SZ_64K | IK_SZ_1M | IK_SZ_2M,
				.ias = fmts[i] == OMAP_IOMMU_PGTABLE ? 32 : 39,
				.oas = fmts[i] == OMAP_IOMMU_PGTABLE ? 32 : 40,
				.tlb = &ik_flush_stub_ops,
				.mem = mem,
				.coherent_walk = claim,
			};
			struct iommu_iotlb_gather g;
			size_t mapped = 0;

			ik_flush_stub_reset(&stub);
			struct io_pgtable_ops *ops = alloc_io_pgtable_ops(fmts[i], &cfg, &stub);
			assert_non_null(ops);
			phys_addr_t a = ik_test_alloc(m, SZ_4K, SZ_4K);
			assert_int_equal(ops->map_pages(ops, IOVA, a, SZ_4K, 1,
							IOMMU_READ | IOMMU_WRITE, 0, &mapped),
					 0);
			assert_int_equal(ops->iova_to_phys(ops, IOVA), a);
			uint64_t e = root_entry_in_memory(mem, fmts[i], &cfg, IOVA);

			if (claim)
				assert_int_equal(e, 0);
			else /* a table pointer: 0b01 (OMAP) or 0b11 (LPAE) */
				assert_int_equal(e & 3, fmts[i] == OMAP_IOMMU_PGTABLE ? 1 : 3);
			ik_iommu_iotlb_gather_init(&g);
			assert_int_equal(ops->unmap_pages(ops, IOVA, SZ_4K, 1, &g), SZ_4K);
			iommu_put_pages_list(mem, &g);
			free_io_pgtable_ops(ops);
			ik_machine_destroy(m);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_omap_uncleaned_pte_is_stale),
		cmocka_unit_test(test_smmu_cttw_follows_machine),
		cmocka_unit_test(test_format_coherent_walk_claim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
