// SPDX-License-Identifier: MIT
/*
 * The Arm SMMUv2 driver end to end on the built-in "smmu" machine (DRAM
 * above 4 GiB), through the public API: what probe reads from the ID
 * registers, the stream and context-bank programming an attach leaves
 * behind, DMA at every page size, permission, privilege, execute-never and
 * access-flag faults, stream-ID groups, several groups and several SMMUs
 * in one domain, identity and blocked domains, detach, and the
 * incoherence of the TLB and of the walk cache with the tables in memory.
 *
 * The hardware model is the oracle: a mapping works only if the driver's
 * registers and the format's tables are right, and a stale TLB or
 * walk-cache entry shows up as DMA served where memory says otherwise
 * (the model counts those as stale accesses).
 *
 * Register values are checked against the encodings of Arm IHI 0062 (the
 * SMMUv2 specification), worked out by hand below; descriptor bits against
 * the VMSAv8-64 format of the Arm ARM (DDI 0487, "VMSAv8-64 translation
 * table format descriptors").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include "ik/arm-smmu-regs.h"
#include "ik/iommu-driver.h"

#define RW (IOMMU_READ | IOMMU_WRITE)

/* An IOVA window clear of everything else the tests map: 1 GiB aligned. */
#define IOVA_BASE 0x4000000000ull /* 256 GiB: above 32 bits on purpose */

struct fault_rec {
	unsigned int count;
	struct iommu_domain *domain;
	struct device *dev;
	dma_addr_t iova;
	int flags;
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	phys_addr_t mmio;
	struct device *gpu, *dsp, *cam0, *cam1, *usb, *dma;
	struct iommu_domain *dom; /* paging domain, attached to gpu */
	struct fault_rec fault;
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
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const struct ik_machine_desc *d = ik_machine_desc_builtin("smmu");

	assert_non_null(f);
	assert_non_null(d);
	assert_int_equal(d->nr_iommus, 1);
	f->mmio = d->iommus[0].mmio_base;
	f->m = ik_machine_create(d);
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->gpu = ik_machine_device(f->m, "gpu");
	f->dsp = ik_machine_device(f->m, "dsp");
	f->cam0 = ik_machine_device(f->m, "cam0");
	f->cam1 = ik_machine_device(f->m, "cam1");
	f->usb = ik_machine_device(f->m, "usb");
	f->dma = ik_machine_device(f->m, "dma");
	assert_true(f->gpu && f->dsp && f->cam0 && f->cam1 && f->usb && f->dma);
	f->dom = iommu_paging_domain_alloc(f->gpu);
	assert_non_null(f->dom);
	assert_int_equal(iommu_attach_device(f->dom, f->gpu), 0);
	iommu_set_fault_handler(f->dom, record_fault, &f->fault);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ik_test_log_capture_stop();
	if (iommu_get_domain_for_dev(f->gpu) == f->dom)
		iommu_detach_device(f->dom, f->gpu);
	iommu_domain_free(f->dom);
	ik_machine_destroy(f->m);
	free(f);
	return 0;
}

/* --- registers, read the way a debugger would --- */

static uint32_t reg(struct fx *f, uint32_t off)
{
	uint32_t v;

	assert_int_equal(ik_machine_mmio_read32(f->m, f->mmio + off, &v), 0);
	return v;
}

static uint64_t reg64(struct fx *f, uint32_t off)
{
	return reg(f, off) | ((uint64_t)reg(f, off + 4) << 32);
}

/* Index of the valid SMR that matches exactly stream @sid, or -1; fails on duplicates. */
static int find_smr(struct fx *f, uint32_t sid)
{
	int found = -1;

	for (unsigned int i = 0; i < SMMU_NUMSMRG; i++) {
		uint32_t smr = reg(f, SMMU_GR0_SMR(i));

		/* SMRn: VALID bit 31, MASK 30:16, ID 14:0 (IHI 0062, SMMU_SMRn). */
		if ((smr & 0x80000000u) && (smr & 0x7fffu) == sid) {
			assert_int_equal(smr & 0x7fff0000u, 0); /* exact match, no mask */
			assert_int_equal(found, -1);            /* one SMR per stream */
			found = (int)i;
		}
	}
	return found;
}

/* Context bank that stream @sid translates through; fails if it does not translate. */
static unsigned int bank_of(struct fx *f, uint32_t sid)
{
	int smr = find_smr(f, sid);

	assert_true(smr >= 0);
	uint32_t s2cr = reg(f, SMMU_GR0_S2CR(smr));
	/* S2CRn: TYPE 17:16, 0 = translate; CBNDX 7:0. */
	assert_int_equal((s2cr >> 16) & 3, 0);
	return s2cr & 0xff;
}

static uint32_t cb_reg(struct fx *f, unsigned int bank, uint32_t off)
{
	return reg(f, SMMU_CB(bank) + off);
}

static uint64_t stale(struct fx *f)
{
	struct ik_iommu_hw_stats st;

	assert_int_equal(ik_machine_iommu_stats(f->m, "smmu", &st), 0);
	return st.stale_accesses;
}

/* --- DMA helpers --- */

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* DMA @len bytes to @iova through @dev; check they land at @pa and read back. */
static void check_dma(struct fx *f, struct device *dev, dma_addr_t iova, phys_addr_t pa,
		      size_t len, unsigned int seed)
{
	uint8_t out[128], in[128], mem[128];

	assert_true(len <= sizeof(out));
	fill_pattern(out, len, seed);
	assert_int_equal(ik_dma_write(dev, iova, out, len), 0);
	assert_int_equal(ik_mem_read(f->mem, pa, mem, len), 0);
	assert_memory_equal(mem, out, len);
	memset(in, 0, sizeof(in));
	assert_int_equal(ik_dma_read(dev, iova, in, len), 0);
	assert_memory_equal(in, out, len);
}

/* A DMA write through @dev that must fault and leave @pa (if any) as it was. */
static void check_write_faults(struct fx *f, struct device *dev, dma_addr_t iova, phys_addr_t pa,
			       unsigned int attrs)
{
	uint8_t out[64], before[64], after[64];

	fill_pattern(out, sizeof(out), 99);
	if (pa)
		assert_int_equal(ik_mem_read(f->mem, pa, before, sizeof(before)), 0);
	assert_int_equal(ik_dma_rw(dev, iova, out, sizeof(out), true, attrs), -EFAULT);
	if (pa) {
		assert_int_equal(ik_mem_read(f->mem, pa, after, sizeof(after)), 0);
		assert_memory_equal(after, before, sizeof(before));
	}
}

/* --- probe --- */

static void test_probe_from_id_registers(void **state)
{
	struct fx *f = *state;
	uint32_t id0 = reg(f, SMMU_GR0_sIDR0), id2 = reg(f, SMMU_GR0_sIDR2);

	/*
	 * IHI 0062, SMMU_sIDR2: UBS 11:8 is the upstream (input) address
	 * size, code 5 = 48 bits; PTFSv8_4KB (bit 12) says AArch64 tables
	 * with the 4 KiB granule work, whose leaves are 4 KiB pages (level 3),
	 * 2 MiB blocks (level 2) and 1 GiB blocks (level 1).
	 */
	assert_true(id2 & (1u << 12));
	assert_int_equal((id2 >> 8) & 0xf, 5);
	assert_int_equal(iommu_domain_pgsize_bitmap(f->dom), 0x1000ul | 0x200000ul | 0x40000000ul);
	const struct iommu_domain_geometry *g = iommu_domain_get_geometry(f->dom);
	assert_int_equal(g->aperture_start, 0);
	assert_int_equal(g->aperture_end, (1ull << 48) - 1);
	assert_true(g->force_aperture);

	assert_true(device_iommu_capable(f->gpu, IK_CAP_PERMISSIONS));
	assert_true(device_iommu_capable(f->gpu, IOMMU_CAP_NOEXEC));
	assert_true(device_iommu_capable(f->gpu, IK_CAP_PRIV));
	assert_true(device_iommu_capable(f->gpu, IK_CAP_SOURCE_ID));
	/* SMMU_sIDR0.CTTW, bit 14: coherent translation table walks. */
	assert_int_equal(device_iommu_capable(f->gpu, IOMMU_CAP_CACHE_COHERENCY),
			 (id0 >> 14) & 1);
	assert_false(device_iommu_capable(f->dma, IK_CAP_PERMISSIONS));

	/*
	 * SMMU_sCR0 after probe: CLIENTPD (bit 0) clear so that streams are
	 * translated, GFRE/GFIE (bits 1, 2), GCFGFRE/GCFGFIE (4, 5) and
	 * USFCFG (10: unmatched streams fault) set.
	 */
	assert_int_equal(reg(f, SMMU_GR0_sCR0) & 0x437u, 0x436u);
	/* Only the attached gpu's stream is matched. */
	assert_true(find_smr(f, 0x100) >= 0);
	assert_int_equal(find_smr(f, 0x200), -1);
	assert_int_equal(find_smr(f, 0x300), -1);
	assert_int_equal(find_smr(f, 0x400), -1);
}

/*
 * Walk the tables of context bank @bank by hand to the level-3 descriptor
 * of @iova: TTBR0 bits 47:12 hold the level-0 table (T0SZ 16: 48-bit
 * input, the walk starts at level 0); levels 0-2 index with IA[47:39],
 * [38:30], [29:21] and hold table descriptors (bits 1:0 = 0b11, next table
 * in bits 47:12); level 3 indexes with IA[20:12]. Returns the physical
 * address of the level-3 descriptor.
 */
static phys_addr_t l3_desc_pa(struct fx *f, unsigned int bank, dma_addr_t iova)
{
	uint64_t table = reg64(f, SMMU_CB(bank) + SMMU_CB_TTBR0) & 0x0000fffffffff000ull;

	assert_int_equal(cb_reg(f, bank, SMMU_CB_TCR) & 0x3f, 16);
	for (unsigned int level = 0; level < 3; level++) {
		unsigned int shift = 39 - 9 * level;
		uint64_t d;

		assert_int_equal(ik_mem_read(f->mem, table + ((iova >> shift) & 0x1ff) * 8, &d,
					     8), 0);
		assert_int_equal(d & 3, 3);
		table = d & 0x0000fffffffff000ull;
	}
	return table + ((iova >> 12) & 0x1ff) * 8;
}

static void test_attach_programs_stream_and_bank(void **state)
{
	struct fx *f = *state;
	unsigned int bank = bank_of(f, 0x100);

	assert_true(bank < SMMU_NUMCB);
	/* CBA2Rn.VA64 (bit 0): AArch64 tables; CBARn.TYPE 17:16 = 1: stage 1, stage 2 bypass. */
	assert_int_equal(reg(f, SMMU_GR1_BASE + SMMU_GR1_CBA2R(bank)) & 1, 1);
	assert_int_equal((reg(f, SMMU_GR1_BASE + SMMU_GR1_CBAR(bank)) >> 16) & 3, 1);
	/* SCTLR: M (0), TRE (1), AFE (2), CFRE (5), CFIE (6) = 0x67. */
	assert_int_equal(cb_reg(f, bank, SMMU_CB_SCTLR) & 0x7f, 0x67);
	/* TCR2.PASIZE 2:0 = 5: 48-bit output, as sIDR2.IAS/OAS allow. */
	assert_int_equal(cb_reg(f, bank, SMMU_CB_TCR2) & 7, 5);
	/* TCR (TCR_EL1 layout): T0SZ 5:0 = 64 - 48, TG0 15:14 = 0 (4 KiB). */
	uint32_t tcr = cb_reg(f, bank, SMMU_CB_TCR);
	assert_int_equal(tcr & 0x3f, 16);
	assert_int_equal((tcr >> 14) & 3, 0);
	/* The ASID lives in TTBR0 63:48; a second domain gets another bank and ASID. */
	uint64_t asid = reg64(f, SMMU_CB(bank) + SMMU_CB_TTBR0) >> 48;

	struct iommu_domain *d2 = iommu_paging_domain_alloc(f->dsp);
	assert_non_null(d2);
	assert_int_equal(iommu_attach_device(d2, f->dsp), 0);
	unsigned int bank2 = bank_of(f, 0x200);
	assert_int_not_equal(bank2, bank);
	assert_int_not_equal(reg64(f, SMMU_CB(bank2) + SMMU_CB_TTBR0) >> 48, asid);

	/* A mapping is where the hand walk says, with AF (bit 10) set. */
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	assert_int_equal(iommu_map(f->dom, IOVA_BASE + 0x5000, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	uint64_t d;
	assert_int_equal(ik_mem_read(f->mem, l3_desc_pa(f, bank, IOVA_BASE + 0x5000), &d, 8), 0);
	assert_int_equal(d & 3, 3);
	assert_int_equal(d & 0x0000fffffffff000ull, pa);
	assert_true(d & (1u << 10));
	check_dma(f, f->gpu, IOVA_BASE + 0x5000, pa, 64, 1);

	/* Detach: the stream loses its SMR, and the bank is gone with the domain. */
	iommu_detach_device(d2, f->dsp);
	assert_int_equal(find_smr(f, 0x200), -1);
	iommu_domain_free(d2);
	assert_int_equal(cb_reg(f, bank2, SMMU_CB_SCTLR) & 1, 0);
	assert_int_equal(iommu_unmap(f->dom, IOVA_BASE + 0x5000, IK_SZ_4K), IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- DMA and page sizes --- */

static void test_dma_above_4g_every_page_size(void **state)
{
	struct fx *f = *state;
	static const size_t sizes[] = { IK_SZ_4K, IK_SZ_2M, IK_SZ_1G };

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t size = sizes[i];
		phys_addr_t pa = ik_test_alloc(f->m, size, size);
		dma_addr_t iova = IOVA_BASE + (dma_addr_t)(i + 1) * IK_SZ_1G;

		assert_true(pa >> 32); /* all RAM is above 4 GiB */
		assert_int_equal(iommu_map(f->dom, iova, pa, size, RW, GFP_KERNEL), 0);
		assert_int_equal(iommu_iova_to_phys(f->dom, iova + size - 8), pa + size - 8);
		check_dma(f, f->gpu, iova, pa, 64, i);
		check_dma(f, f->gpu, iova + size - 64, pa + size - 64, 64, i + 10);
		phys_addr_t walked;
		int prot;
		assert_int_equal(ik_machine_iommu_walk(f->m, "smmu", 0x100, iova + size / 2,
						       &walked, &prot), 0);
		assert_int_equal(walked, pa + size / 2);
		assert_int_equal(prot & RW, RW);
		assert_int_equal(iommu_unmap(f->dom, iova, size), size);
		check_write_faults(f, f->gpu, iova, pa, 0);
		ik_mem_free_pages(f->mem, pa, size >> 12);
	}
	assert_int_equal(stale(f), 0);
}

/* --- permissions --- */

static void test_write_to_readonly_faults(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	dma_addr_t iova = IOVA_BASE + 0x3000;
	uint8_t buf[16];

	ik_mem_fill(f->mem, pa, 0xa5, IK_SZ_4K);
	assert_int_equal(iommu_map(f->dom, iova, pa, IK_SZ_4K, IOMMU_READ, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(f->gpu, iova + 16, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], 0xa5);
	assert_int_equal(f->fault.count, 0);

	check_write_faults(f, f->gpu, iova + 0x40, pa + 0x40, 0);
	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.domain, f->dom);
	assert_ptr_equal(f->fault.dev, f->gpu);
	assert_int_equal(f->fault.iova, iova + 0x40);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_WRITE | IK_FAULT_PERMISSION);
	/* The page is still readable: the fault was acknowledged, nothing cached wrong. */
	assert_int_equal(ik_dma_read(f->gpu, iova, buf, sizeof(buf)), 0);
	assert_int_equal(iommu_unmap(f->dom, iova, IK_SZ_4K), IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 1);
}

static void test_priv_mapping(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, 2 * IK_SZ_4K, IK_SZ_4K);
	dma_addr_t priv = IOVA_BASE + 0x10000, plain = priv + IK_SZ_4K;
	uint8_t buf[8] = "priv!!!";

	assert_int_equal(iommu_map(f->dom, priv, pa, IK_SZ_4K, RW | IOMMU_PRIV, GFP_KERNEL), 0);
	assert_int_equal(iommu_map(f->dom, plain, pa + IK_SZ_4K, IK_SZ_4K, RW, GFP_KERNEL), 0);

	/* An unprivileged access to a privileged-only page is refused... */
	check_write_faults(f, f->gpu, priv, pa, 0);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_WRITE | IK_FAULT_PERMISSION);
	assert_int_equal(ik_dma_rw(f->gpu, priv, buf, sizeof(buf), false, 0), -EFAULT);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_PERMISSION);
	/* ...a privileged one goes through, and privilege is no obstacle elsewhere. */
	assert_int_equal(ik_dma_rw(f->gpu, priv + 8, buf, sizeof(buf), true, IK_DMA_ATTR_PRIV), 0);
	uint8_t back[8];
	ik_mem_read(f->mem, pa + 8, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(ik_dma_rw(f->gpu, plain, buf, sizeof(buf), true, IK_DMA_ATTR_PRIV), 0);
	assert_int_equal(ik_dma_rw(f->gpu, plain, buf, sizeof(buf), true, 0), 0);
	assert_int_equal(f->fault.count, 2);

	/* A privileged access that faults says so. */
	check_write_faults(f, f->gpu, IOVA_BASE + 0x20000, 0, IK_DMA_ATTR_PRIV);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_WRITE | IK_FAULT_TRANSLATION | IK_FAULT_PRIV);

	/* The model's walk reports the privilege the tables hold. */
	phys_addr_t walked;
	int prot;
	assert_int_equal(ik_machine_iommu_walk(f->m, "smmu", 0x100, priv, &walked, &prot), 0);
	assert_true(prot & IOMMU_PRIV);
	assert_int_equal(ik_machine_iommu_walk(f->m, "smmu", 0x100, plain, &walked, &prot), 0);
	assert_false(prot & IOMMU_PRIV);
	assert_int_equal(iommu_unmap(f->dom, priv, 2 * IK_SZ_4K), 2 * IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 2);
}

static void test_noexec_mapping(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, 2 * IK_SZ_4K, IK_SZ_4K);
	dma_addr_t nx = IOVA_BASE + 0x40000, x = nx + IK_SZ_4K;
	uint8_t buf[16];

	assert_int_equal(iommu_map(f->dom, nx, pa, IK_SZ_4K, RW | IOMMU_NOEXEC, GFP_KERNEL), 0);
	assert_int_equal(iommu_map(f->dom, x, pa + IK_SZ_4K, IK_SZ_4K, IOMMU_READ, GFP_KERNEL),
			 0);
	/* Data reads are fine; an instruction fetch is not. */
	assert_int_equal(ik_dma_rw(f->gpu, nx, buf, sizeof(buf), false, 0), 0);
	assert_int_equal(ik_dma_rw(f->gpu, nx, buf, sizeof(buf), false, IK_DMA_ATTR_EXEC),
			 -EFAULT);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_PERMISSION | IK_FAULT_EXEC);
	assert_int_equal(f->fault.iova, nx);
	/* Privileged fetches are refused too (PXN as well as UXN). */
	assert_int_equal(ik_dma_rw(f->gpu, nx, buf, sizeof(buf), false,
				   IK_DMA_ATTR_EXEC | IK_DMA_ATTR_PRIV), -EFAULT);
	assert_int_equal(f->fault.flags,
			 IOMMU_FAULT_READ | IK_FAULT_PERMISSION | IK_FAULT_EXEC | IK_FAULT_PRIV);
	/* Without IOMMU_NOEXEC, code may be fetched. */
	assert_int_equal(ik_dma_rw(f->gpu, x, buf, sizeof(buf), false, IK_DMA_ATTR_EXEC), 0);
	assert_int_equal(f->fault.count, 2);
	assert_int_equal(iommu_unmap(f->dom, nx, 2 * IK_SZ_4K), 2 * IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 2);
}

/*
 * SCTLR.AFE is set and AFFD clear, so a descriptor whose access flag
 * (bit 10) is clear faults with FSR.AFF instead of being used.
 */
static void test_access_flag_fault(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	dma_addr_t iova = IOVA_BASE + 0x7000;
	uint64_t d;

	assert_int_equal(iommu_map(f->dom, iova, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	phys_addr_t dpa = l3_desc_pa(f, bank_of(f, 0x100), iova);
	assert_int_equal(ik_mem_read(f->mem, dpa, &d, 8), 0);
	assert_true(d & (1u << 10));
	d &= ~(uint64_t)(1u << 10);
	assert_int_equal(ik_mem_write(f->mem, dpa, &d, 8), 0);
	iommu_flush_iotlb_all(f->dom);

	check_write_faults(f, f->gpu, iova, pa, 0);
	assert_int_equal(f->fault.count, 1);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_WRITE | IK_FAULT_ACCESS_FLAG);

	d |= 1u << 10;
	assert_int_equal(ik_mem_write(f->mem, dpa, &d, 8), 0);
	check_dma(f, f->gpu, iova, pa, 32, 3);
	assert_int_equal(iommu_unmap(f->dom, iova, IK_SZ_4K), IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- groups and stream IDs --- */

static void test_devices_sharing_a_stream_id_share_a_group(void **state)
{
	struct fx *f = *state;
	struct iommu_group *g0 = iommu_group_get(f->cam0), *g1 = iommu_group_get(f->cam1);
	struct iommu_group *gg = iommu_group_get(f->gpu), *gd = iommu_group_get(f->dsp);

	assert_non_null(g0);
	assert_non_null(g1);
	assert_ptr_equal(g0, g1);
	assert_ptr_not_equal(gg, gd);
	assert_ptr_not_equal(gg, g0);

	struct iommu_domain *cam = iommu_paging_domain_alloc(f->cam0);
	assert_non_null(cam);
	/* One device of a shared group cannot move alone. */
	assert_int_equal(iommu_attach_device(cam, f->cam0), -EINVAL);
	assert_int_equal(iommu_attach_device(cam, f->cam1), -EINVAL);
	assert_null(iommu_get_domain_for_dev(f->cam0));
	assert_int_equal(iommu_attach_group(cam, g0), 0);
	assert_ptr_equal(iommu_get_domain_for_dev(f->cam1), cam);

	/* Both reach memory through the one domain, over one SMR. */
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_2M, IK_SZ_2M);
	assert_int_equal(iommu_map(cam, IOVA_BASE, pa, IK_SZ_2M, RW, GFP_KERNEL), 0);
	check_dma(f, f->cam0, IOVA_BASE + 0x100, pa + 0x100, 64, 1);
	check_dma(f, f->cam1, IOVA_BASE + 0x1000, pa + 0x1000, 64, 2);
	assert_true(find_smr(f, 0x300) >= 0);

	/* A fault of the stream is reported for one of its two devices. */
	struct fault_rec r = { 0 };
	iommu_set_fault_handler(cam, record_fault, &r);
	check_write_faults(f, f->cam1, IOVA_BASE + IK_SZ_2M, 0, 0);
	assert_int_equal(r.count, 1);
	assert_true(r.dev == f->cam0 || r.dev == f->cam1);
	assert_int_equal(r.flags, IOMMU_FAULT_WRITE | IK_FAULT_TRANSLATION);

	/* Detaching the group takes both off; their SMR goes. */
	iommu_detach_group(cam, g0);
	assert_int_equal(find_smr(f, 0x300), -1);
	check_write_faults(f, f->cam0, IOVA_BASE, pa, 0);
	check_write_faults(f, f->cam1, IOVA_BASE, pa, 0);
	assert_int_equal(r.count, 1); /* unmatched: a global fault, no domain's business */

	iommu_domain_free(cam);
	iommu_group_put(g0);
	iommu_group_put(g1);
	iommu_group_put(gg);
	iommu_group_put(gd);
	ik_mem_free_pages(f->mem, pa, IK_SZ_2M >> 12);
}

static void test_two_groups_one_domain(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, 4 * IK_SZ_4K, IK_SZ_4K);
	dma_addr_t iova = IOVA_BASE + 0x100000;

	assert_int_equal(iommu_attach_device(f->dom, f->dsp), 0);
	/* Both streams go through the one bank of the domain. */
	assert_int_equal(bank_of(f, 0x100), bank_of(f, 0x200));
	assert_int_equal(iommu_map(f->dom, iova, pa, 4 * IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->gpu, iova, pa, 64, 1);
	check_dma(f, f->dsp, iova + 0x20, pa + 0x20, 64, 2);

	/* The stream ID names the faulting device. */
	check_write_faults(f, f->dsp, iova + 4 * IK_SZ_4K, 0, 0);
	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.dev, f->dsp);
	check_write_faults(f, f->gpu, iova + 5 * IK_SZ_4K, 0, 0);
	assert_int_equal(f->fault.count, 2);
	assert_ptr_equal(f->fault.dev, f->gpu);
	assert_int_equal(f->fault.iova, iova + 5 * IK_SZ_4K);

	/* One unmap reaches both: each had the page in the TLB. */
	assert_int_equal(iommu_unmap(f->dom, iova, IK_SZ_4K), IK_SZ_4K);
	check_write_faults(f, f->gpu, iova, pa, 0);
	check_write_faults(f, f->dsp, iova, pa, 0);
	assert_int_equal(stale(f), 0);
	check_dma(f, f->dsp, iova + IK_SZ_4K, pa + IK_SZ_4K, 64, 3);

	/* The dsp leaves; the gpu keeps the domain. */
	iommu_detach_device(f->dom, f->dsp);
	assert_int_equal(find_smr(f, 0x200), -1);
	check_write_faults(f, f->dsp, iova + IK_SZ_4K, pa + IK_SZ_4K, 0);
	check_dma(f, f->gpu, iova + IK_SZ_4K, pa + IK_SZ_4K, 64, 4);
	assert_int_equal(iommu_unmap(f->dom, iova + IK_SZ_4K, 3 * IK_SZ_4K), 3 * IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 4);
}

/* Separate domains: each fault goes to the handler of the right one. */
static void test_fault_goes_to_the_devices_domain(void **state)
{
	struct fx *f = *state;
	struct iommu_domain *ud = iommu_paging_domain_alloc(f->usb);
	struct fault_rec r = { 0 };

	assert_non_null(ud);
	assert_int_equal(iommu_attach_device(ud, f->usb), 0);
	iommu_set_fault_handler(ud, record_fault, &r);
	check_write_faults(f, f->usb, 0x123000, 0, 0);
	assert_int_equal(r.count, 1);
	assert_ptr_equal(r.domain, ud);
	assert_ptr_equal(r.dev, f->usb);
	assert_int_equal(r.iova, 0x123000);
	assert_int_equal(f->fault.count, 0);
	uint8_t b;
	assert_int_equal(ik_dma_read(f->gpu, 0x456008, &b, 1), -EFAULT);
	assert_int_equal(f->fault.count, 1);
	assert_ptr_equal(f->fault.dev, f->gpu);
	assert_int_equal(f->fault.iova, 0x456008);
	assert_int_equal(f->fault.flags, IOMMU_FAULT_READ | IK_FAULT_TRANSLATION);
	assert_int_equal(r.count, 1);
	iommu_detach_device(ud, f->usb);
	iommu_domain_free(ud);
}

/* --- identity, blocked, detached --- */

static void test_identity_and_blocked(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	struct iommu_domain *id = iommu_domain_alloc_type(f->usb, IOMMU_DOMAIN_IDENTITY);
	struct iommu_domain *blk = iommu_domain_alloc_type(f->usb, IOMMU_DOMAIN_BLOCKED);

	assert_non_null(id);
	assert_non_null(blk);
	/* Identity: S2CR type bypass (1), addresses above 4 GiB go straight through. */
	assert_int_equal(iommu_attach_device(id, f->usb), 0);
	int smr = find_smr(f, 0x400);
	assert_true(smr >= 0);
	assert_int_equal((reg(f, SMMU_GR0_S2CR(smr)) >> 16) & 3, 1);
	check_dma(f, f->usb, pa + 0x80, pa + 0x80, 64, 5);
	assert_int_equal(iommu_map(id, pa, pa, IK_SZ_4K, RW, GFP_KERNEL), -EINVAL);
	iommu_detach_device(id, f->usb);

	/* Blocked: S2CR type fault (2); every access aborts and nothing moves. */
	assert_int_equal(iommu_attach_device(blk, f->usb), 0);
	smr = find_smr(f, 0x400);
	assert_true(smr >= 0);
	assert_int_equal((reg(f, SMMU_GR0_S2CR(smr)) >> 16) & 3, 2);
	check_write_faults(f, f->usb, pa, pa, 0);
	iommu_detach_device(blk, f->usb);
	assert_int_equal(find_smr(f, 0x400), -1);
	iommu_domain_free(id);
	iommu_domain_free(blk);
	ik_mem_free_pages(f->mem, pa, 1);
}

static void test_detach_makes_the_stream_fault(void **state)
{
	struct fx *f = *state;
	struct ik_log_capture cap;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	dma_addr_t iova = IOVA_BASE + 0x9000;

	assert_int_equal(iommu_map(f->dom, iova, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	check_dma(f, f->gpu, iova, pa, 64, 6);
	iommu_detach_device(f->dom, f->gpu);
	assert_null(iommu_get_domain_for_dev(f->gpu));
	assert_int_equal(find_smr(f, 0x100), -1);

	/* Unmatched stream: a global fault (sGFSR.USF), logged with the device's name. */
	ik_test_log_capture_start(&cap);
	check_write_faults(f, f->gpu, iova, pa, 0);
	check_write_faults(f, f->gpu, pa, pa, 0); /* nor does it bypass */
	ik_test_log_capture_stop();
	assert_int_equal(cap.count, 2);
	assert_non_null(strstr(cap.last, "gpu"));
	assert_non_null(strstr(cap.last, "unmatched"));
	assert_int_equal(f->fault.count, 0);
	assert_int_equal(reg(f, SMMU_GR0_sGFSR), 0); /* acknowledged */

	/* Back again: the domain kept its tables and its bank. */
	assert_int_equal(iommu_attach_device(f->dom, f->gpu), 0);
	check_dma(f, f->gpu, iova, pa, 64, 7);
	assert_int_equal(iommu_unmap(f->dom, iova, IK_SZ_4K), IK_SZ_4K);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- the TLB and the walk cache are caches --- */

static void test_unmap_fast_without_sync_is_stale(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	dma_addr_t iova = IOVA_BASE + 0x200000;
	struct iommu_iotlb_gather gather;
	uint8_t b;

	assert_int_equal(iommu_map(f->dom, iova, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(f->gpu, iova, &b, 1), 0); /* into the TLB */
	ik_machine_iommu_reset_stats(f->m, "smmu");
	iommu_iotlb_gather_init(&gather);
	assert_int_equal(iommu_unmap_fast(f->dom, iova, IK_SZ_4K, &gather), IK_SZ_4K);
	assert_int_equal(iommu_iova_to_phys(f->dom, iova), 0);
	/* Memory says unmapped; the TLB still translates. */
	assert_int_equal(ik_dma_read(f->gpu, iova, &b, 1), 0);
	assert_true(stale(f) >= 1);
	iommu_iotlb_sync(f->dom, &gather);
	check_write_faults(f, f->gpu, iova, pa, 0);
	ik_mem_free_pages(f->mem, pa, 1);
}

/*
 * Tables freed by an unmap must be dropped from the walk cache (TLBIVA,
 * not the leaf-only TLBIVAL) before their pages are reused. Done right
 * (the core frees the gather's tables after the driver's sync), the next
 * access to the unmapped address faults and nothing is stale; done wrong
 * (tables freed first, so the sync sees no tables and invalidates leaves
 * only), the walk cache leads the next walk into the recycled pages, here
 * filled with page descriptors pointing at another buffer.
 */
static void walk_cache_round(struct fx *f, bool broken)
{
	phys_addr_t a = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	phys_addr_t b = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
	/* Alone in its 1 GiB region, so its level-2 and level-3 tables go. */
	dma_addr_t x = IOVA_BASE + 8 * IK_SZ_1G;
	struct iommu_iotlb_gather gather;
	uint8_t want[64], got[64];
	phys_addr_t reuse[8];
	/*
	 * Level-3 page descriptor for b: AF (bit 10), SH inner shareable
	 * (bits 9:8 = 0b11), AP[1] unprivileged access (bit 6), AttrIndx 0,
	 * type 0b11 (Arm ARM D8.3) = b | 0x743.
	 */
	const uint64_t desc_b = b | 0x743;

	fill_pattern(want, sizeof(want), 42);
	ik_mem_write(f->mem, a, want, sizeof(want));
	ik_mem_fill(f->mem, b, 0x5a, IK_SZ_4K);
	assert_int_equal(iommu_map(f->dom, x, a, IK_SZ_4K, RW, GFP_KERNEL), 0);
	/* Fill the TLB and the walk cache. */
	assert_int_equal(ik_dma_read(f->gpu, x, got, sizeof(got)), 0);
	ik_machine_iommu_reset_stats(f->m, "smmu");

	iommu_iotlb_gather_init(&gather);
	assert_int_equal(iommu_unmap_fast(f->dom, x, IK_SZ_4K, &gather), IK_SZ_4K);
	assert_true(gather.freelist.count >= 1); /* x's tables emptied */
	if (broken)
		iommu_put_pages_list(f->dom->mem, &gather);
	iommu_iotlb_sync(f->dom, &gather);

	/* Freed pages are handed out again first: make them look like tables. */
	for (unsigned int i = 0; i < 8; i++) {
		reuse[i] = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);
		for (unsigned int e = 0; e < 512; e++)
			ik_mem_write(f->mem, reuse[i] + 8 * e, &desc_b, sizeof(desc_b));
	}
	memset(got, 0, sizeof(got));
	int ret = ik_dma_read(f->gpu, x, got, sizeof(got));
	if (broken) {
		assert_true(stale(f) >= 1);
		assert_int_equal(ret, 0); /* served from b through a recycled page */
		assert_int_equal(got[0], 0x5a);
		iommu_flush_iotlb_all(f->dom); /* clean up after ourselves */
	} else {
		assert_int_equal(ret, -EFAULT);
		assert_int_equal(stale(f), 0);
	}
	f->fault.count = 0;
	for (unsigned int i = 0; i < 8; i++)
		ik_mem_free_pages(f->mem, reuse[i], 1);
	ik_mem_free_pages(f->mem, a, 1);
	ik_mem_free_pages(f->mem, b, 1);
}

static void test_freed_tables_need_walk_cache_invalidation(void **state)
{
	struct fx *f = *state;

	walk_cache_round(f, false);
	walk_cache_round(f, true);
}

/*
 * A random workload heavy in emptied and freed tables: 2 MiB blocks that
 * get split, runs of pages, and whole regions unmapped so that their
 * tables go, with DMA in between so that the TLB and the walk cache hold
 * what is about to change.
 */
#define RW_REGIONS 8u
#define RW_PAGES   512u /* 4 KiB pages per 2 MiB region */
#define RW_BASE    (IOVA_BASE + 16 * IK_SZ_1G)

struct workload {
	struct fx *f;
	phys_addr_t pool;  /* RW_REGIONS * 2 MiB of RAM, 2 MiB aligned */
	phys_addr_t *ref;  /* pa of each page, 0: unmapped */
	uint64_t rng;
};

static bool run_is(const phys_addr_t *rr, unsigned int first, unsigned int n, bool mapped)
{
	for (unsigned int i = first; i < first + n; i++)
		if (!rr[i] == mapped)
			return false;
	return true;
}

/* Map region @r whole as one block, if it is empty. */
static void wl_map_block(struct workload *wl, unsigned int r)
{
	phys_addr_t *rr = &wl->ref[r * RW_PAGES], pa = wl->pool + r * IK_SZ_2M;

	if (!run_is(rr, 0, RW_PAGES, false))
		return;
	assert_int_equal(iommu_map(wl->f->dom, RW_BASE + r * IK_SZ_2M, pa, IK_SZ_2M, RW,
				   GFP_KERNEL), 0);
	for (unsigned int i = 0; i < RW_PAGES; i++)
		rr[i] = pa + (phys_addr_t)i * IK_SZ_4K;
}

/* Map pages [@first, @first + @n) of region @r anywhere in the pool, if free. */
static void wl_map_pages(struct workload *wl, unsigned int r, unsigned int first, unsigned int n)
{
	phys_addr_t *rr = &wl->ref[r * RW_PAGES];
	uint64_t pool_pages = RW_REGIONS * RW_PAGES;
	phys_addr_t pa = wl->pool + (ik_test_rand(&wl->rng) % (pool_pages - n)) * IK_SZ_4K;

	if (!run_is(rr, first, n, false))
		return;
	assert_int_equal(iommu_map(wl->f->dom, RW_BASE + r * IK_SZ_2M + first * IK_SZ_4K, pa,
				   n * IK_SZ_4K, RW, GFP_KERNEL), 0);
	for (unsigned int i = 0; i < n; i++)
		rr[first + i] = pa + (phys_addr_t)i * IK_SZ_4K;
}

/* Unmap the mapped run at page @first of region @r, at most @n pages. */
static unsigned int wl_unmap_run(struct workload *wl, unsigned int r, unsigned int first,
				 unsigned int n)
{
	phys_addr_t *rr = &wl->ref[r * RW_PAGES];
	unsigned int len = 0;

	while (first + len < RW_PAGES && len < n && rr[first + len])
		len++;
	if (len) {
		size_t bytes = (size_t)len * IK_SZ_4K;

		assert_int_equal(iommu_unmap(wl->f->dom, RW_BASE + r * IK_SZ_2M +
					     first * IK_SZ_4K, bytes), bytes);
		memset(&rr[first], 0, len * sizeof(*rr));
	}
	return len;
}

/* DMA to a few random pages: mapped ones land right, unmapped ones fault. */
static void wl_touch(struct workload *wl)
{
	for (unsigned int k = 0; k < 4; k++) {
		unsigned int p = (unsigned int)(ik_test_rand(&wl->rng) % (RW_REGIONS * RW_PAGES));
		uint64_t tag = ik_test_rand(&wl->rng), back = 0;
		struct ik_log_capture cap;

		ik_test_log_capture_start(&cap);
		int ret = ik_dma_write(wl->f->gpu, RW_BASE + (dma_addr_t)p * IK_SZ_4K + 8, &tag,
				       sizeof(tag));
		ik_test_log_capture_stop();
		if (!wl->ref[p]) {
			assert_int_equal(ret, -EFAULT);
			continue;
		}
		assert_int_equal(ret, 0);
		ik_mem_read(wl->f->mem, wl->ref[p] + 8, &back, sizeof(back));
		assert_true(back == tag);
	}
}

/*
 * The driver's own invalidation never lets the device see a stale
 * translation, and every TLB invalidation is synced before the next
 * translation through its bank (the model's debug counter of unsynced
 * invalidations stays 0).
 */
static void test_random_workload_is_never_stale(void **state)
{
	struct fx *f = *state;
	struct workload wl = {
		.f = f,
		.pool = ik_test_alloc(f->m, RW_REGIONS * IK_SZ_2M, IK_SZ_2M),
		.ref = calloc(RW_REGIONS * RW_PAGES, sizeof(phys_addr_t)),
		.rng = ik_test_seed(0x5317a11),
	};
	size_t free_before = ik_mem_free_count(f->mem);

	assert_non_null(wl.ref);
	iommu_set_fault_handler(f->dom, NULL, NULL);
	ik_machine_iommu_reset_stats(f->m, "smmu");
	assert_int_equal(ik_machine_mmio_write32(f->m, f->mmio + SMMU_IMPDEF_UNSYNCED_TLBI, 0), 0);
	for (unsigned int step = 0; step < 1500; step++) {
		unsigned int r = (unsigned int)(ik_test_rand(&wl.rng) % RW_REGIONS);
		unsigned int first = (unsigned int)(ik_test_rand(&wl.rng) % RW_PAGES);
		unsigned int n = 1 + (unsigned int)(ik_test_rand(&wl.rng) % 64);
		unsigned int kind = (unsigned int)(ik_test_rand(&wl.rng) % 8);

		n = ik_min(n, RW_PAGES - first);
		if (kind == 0) {
			wl_map_block(&wl, r);
		} else if (kind < 4) {
			wl_map_pages(&wl, r, first, n);
		} else if (kind < 7) {
			wl_unmap_run(&wl, r, first, n); /* splits blocks too */
		} else {
			for (unsigned int i = 0; i < RW_PAGES; i++) /* all of it: tables go */
				i += wl_unmap_run(&wl, r, i, RW_PAGES);
		}
		wl_touch(&wl);
	}
	assert_int_equal(stale(f), 0);
	assert_int_equal(reg(f, SMMU_IMPDEF_UNSYNCED_TLBI), 0);
	for (unsigned int r = 0; r < RW_REGIONS; r++)
		for (unsigned int i = 0; i < RW_PAGES; i++)
			i += wl_unmap_run(&wl, r, i, RW_PAGES);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	free(wl.ref);
	ik_mem_free_pages(f->mem, wl.pool, (RW_REGIONS * IK_SZ_2M) >> 12);
}

/* --- several SMMUs, and running out of context banks --- */

static void test_one_domain_on_two_smmus(void **state)
{
	(void)state;
	static const struct ik_region_desc regions[] = {
		{ .name = "dram", .base = 0x880000000ull, .size = 256ull << 20 },
	};
	static const struct ik_iommu_desc iommus[] = {
		{ .name = "smmu0", .compatible = SMMU_COMPATIBLE, .mmio_base = 0x2b400000,
		  .irq = 38 },
		{ .name = "smmu1", .compatible = SMMU_COMPATIBLE, .mmio_base = 0x2b500000,
		  .irq = 39 },
	};
	static const struct ik_master_desc masters[] = {
		{ .name = "a", .iommu = "smmu0", .sid = 0x10 },
		{ .name = "b", .iommu = "smmu1", .sid = 0x10 },
	};
	const struct ik_machine_desc desc = {
		.size = sizeof(desc), .name = "two-smmus",
		.regions = regions, .nr_regions = 1, .iommus = iommus, .nr_iommus = 2,
		.masters = masters, .nr_masters = 2,
	};
	struct ik_machine *m = ik_machine_create(&desc);
	assert_non_null(m);
	struct ik_mem *mem = ik_machine_mem(m);
	struct device *a = ik_machine_device(m, "a"), *b = ik_machine_device(m, "b");
	struct iommu_group *ga = iommu_group_get(a), *gb = iommu_group_get(b);
	struct fault_rec r = { 0 };

	/* The same stream ID on two SMMUs is two streams: two groups. */
	assert_ptr_not_equal(ga, gb);
	iommu_group_put(ga);
	iommu_group_put(gb);
	struct iommu_domain *d = iommu_paging_domain_alloc(a);
	assert_non_null(d);
	iommu_set_fault_handler(d, record_fault, &r);
	assert_int_equal(iommu_attach_device(d, a), 0);
	assert_int_equal(iommu_attach_device(d, b), 0);

	phys_addr_t pa;
	assert_int_equal(ik_mem_alloc_pages(mem, 2, IK_SZ_4K, &pa), 0);
	assert_int_equal(iommu_map(d, 0x10000, pa, 2 * IK_SZ_4K, RW, GFP_KERNEL), 0);
	uint64_t v = 0x1122334455667788ull, back = 0;
	assert_int_equal(ik_dma_write(a, 0x10008, &v, sizeof(v)), 0);
	assert_int_equal(ik_dma_read(b, 0x10008, &back, sizeof(back)), 0);
	assert_true(back == v);
	for (unsigned int k = 0; k < 2; k++) { /* the second round hits in each TLB */
		assert_int_equal(ik_dma_read(a, 0x10000, &back, sizeof(back)), 0);
		assert_int_equal(ik_dma_read(b, 0x10000, &back, sizeof(back)), 0);
		assert_int_equal(ik_dma_read(a, 0x11000, &back, sizeof(back)), 0);
		assert_int_equal(ik_dma_read(b, 0x11000, &back, sizeof(back)), 0);
	}

	/* Both TLBs hold the pages; one unmap must invalidate both. */
	assert_int_equal(iommu_unmap(d, 0x10000, IK_SZ_4K), IK_SZ_4K);
	assert_int_equal(ik_dma_read(a, 0x10008, &back, sizeof(back)), -EFAULT);
	assert_int_equal(ik_dma_read(b, 0x10008, &back, sizeof(back)), -EFAULT);
	assert_int_equal(r.count, 2);
	assert_ptr_equal(r.dev, b);
	assert_int_equal(iommu_unmap(d, 0x11000, IK_SZ_4K), IK_SZ_4K);
	assert_int_equal(ik_dma_read(b, 0x11000, &back, sizeof(back)), -EFAULT);
	assert_int_equal(ik_dma_read(a, 0x11000, &back, sizeof(back)), -EFAULT);
	assert_ptr_equal(r.dev, a);
	for (unsigned int i = 0; i < 2; i++) {
		struct ik_iommu_hw_stats st;

		assert_int_equal(ik_machine_iommu_stats(m, iommus[i].name, &st), 0);
		assert_int_equal(st.stale_accesses, 0);
		assert_true(st.tlb_hits >= 2);
	}
	iommu_detach_device(d, a);
	iommu_detach_device(d, b);
	iommu_domain_free(d);
	ik_mem_free_pages(mem, pa, 2);
	ik_machine_destroy(m);
}

static void test_context_banks_run_out_and_come_back(void **state)
{
	struct fx *f = *state;
	/* SMMU_sIDR1: NUMCB 7:0, NUMS2CB 23:16 (banks that only do stage 2). */
	uint32_t id1 = reg(f, SMMU_GR0_sIDR1);
	unsigned int nr = (id1 & 0xff) - ((id1 >> 16) & 0xff);
	struct iommu_domain *d[256];
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);

	assert_true(nr >= 4);
	/* f->dom holds one bank; a domain keeps its bank after a detach. */
	for (unsigned int i = 0; i < nr - 1; i++) {
		d[i] = iommu_paging_domain_alloc(f->usb);
		assert_non_null(d[i]);
		assert_int_equal(iommu_attach_device(d[i], f->usb), 0);
		iommu_detach_device(d[i], f->usb);
	}
	d[nr - 1] = iommu_paging_domain_alloc(f->usb);
	assert_non_null(d[nr - 1]);
	assert_int_equal(iommu_attach_device(d[nr - 1], f->usb), -ENOSPC);
	/* Nothing half done: the stream is not matched and faults. */
	assert_null(iommu_get_domain_for_dev(f->usb));
	assert_int_equal(find_smr(f, 0x400), -1);
	assert_int_equal(iommu_map(d[nr - 1], 0x8000, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);

	iommu_domain_free(d[3]);
	assert_int_equal(iommu_attach_device(d[nr - 1], f->usb), 0);
	check_dma(f, f->usb, 0x8000, pa, 64, 8);
	iommu_detach_device(d[nr - 1], f->usb);
	for (unsigned int i = 0; i < nr; i++)
		if (i != 3)
			iommu_domain_free(d[i]);
	ik_mem_free_pages(f->mem, pa, 1);
}

/*
 * A bank changes hands only empty: what the TLB and the walk cache held for
 * a freed domain must not translate for the next domain given the bank.
 */
static void test_reused_bank_starts_empty(void **state)
{
	struct fx *f = *state;
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_2M, IK_SZ_2M);
	struct iommu_domain *old = iommu_paging_domain_alloc(f->usb);
	uint8_t b;

	assert_non_null(old);
	assert_int_equal(iommu_attach_device(old, f->usb), 0);
	unsigned int bank = bank_of(f, 0x400);
	assert_int_equal(iommu_map(old, 0x200000, pa, IK_SZ_2M, RW, GFP_KERNEL), 0);
	assert_int_equal(iommu_map(old, 0x400000, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(ik_dma_read(f->usb, 0x200000, &b, 1), 0); /* a block in the TLB */
	assert_int_equal(ik_dma_read(f->usb, 0x400000, &b, 1), 0); /* tables in the walk cache */
	iommu_detach_device(old, f->usb);
	/* Freed with its mappings in place: the domain's tables go with it. */
	iommu_domain_free(old);

	struct iommu_domain *d = iommu_paging_domain_alloc(f->usb);
	assert_non_null(d);
	assert_int_equal(iommu_attach_device(d, f->usb), 0);
	assert_int_equal(bank_of(f, 0x400), bank);
	ik_machine_iommu_reset_stats(f->m, "smmu");
	struct ik_log_capture cap;
	ik_test_log_capture_start(&cap);
	check_write_faults(f, f->usb, 0x200040, pa + 0x40, 0);
	check_write_faults(f, f->usb, 0x400000, pa, 0);
	ik_test_log_capture_stop();
	assert_int_equal(cap.count, 2); /* two unhandled translation faults */
	assert_int_equal(stale(f), 0);
	iommu_detach_device(d, f->usb);
	iommu_domain_free(d);
	ik_mem_free_pages(f->mem, pa, IK_SZ_2M >> 12);
}

/* Tables exist from allocation: mapping before the first attach is fine. */
static void test_map_before_attach(void **state)
{
	struct fx *f = *state;
	struct iommu_domain *d = iommu_paging_domain_alloc(f->dsp);
	phys_addr_t pa = ik_test_alloc(f->m, IK_SZ_4K, IK_SZ_4K);

	assert_non_null(d);
	assert_int_equal(iommu_iova_to_phys(d, 0x4000), 0);
	assert_int_equal(iommu_map(d, 0x4000, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0x4010), pa + 0x10);
	assert_int_equal(iommu_unmap(d, 0x4000, IK_SZ_4K), IK_SZ_4K); /* no bank to flush yet */
	assert_int_equal(iommu_map(d, 0x4000, pa, IK_SZ_4K, RW, GFP_KERNEL), 0);
	assert_int_equal(iommu_attach_device(d, f->dsp), 0);
	check_dma(f, f->dsp, 0x4000, pa, 64, 9);
	iommu_detach_device(d, f->dsp);
	iommu_domain_free(d);
	ik_mem_free_pages(f->mem, pa, 1);
}

/* --- concurrency: DMA, faults and map/unmap at once --- */

/* A device's window: 64 pages that the fault handler maps on demand. */
struct window {
	struct fx *f;
	struct device *dev;
	dma_addr_t iova;
	phys_addr_t pa;
	int errors;
	int stale, stuck, wrong; /* which check failed, for the message */
};

#define WINDOW_PAGES 64u

/* The device whose DMA this thread issues. */
static __thread struct device *this_threads_dev;

static int map_on_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
			int flags, void *token)
{
	struct window *w = token; /* both windows */

	/*
	 * The interrupt runs in whichever thread raised it, and a bank latches
	 * one fault at a time: this thread may be handed the other device's
	 * fault, and could act on it late, after that device has retried, got
	 * its page and unmapped its window again. Leave it: its own retry
	 * faults again, in its own thread.
	 */
	if (dev != this_threads_dev)
		return 0;

	for (unsigned int i = 0; i < 2; i++) {
		if (iova - w[i].iova >= WINDOW_PAGES * IK_SZ_4K)
			continue;
		dma_addr_t page = iova & ~(dma_addr_t)(IK_SZ_4K - 1);
		int ret = iommu_map(domain, page, w[i].pa + (page - w[i].iova), IK_SZ_4K, RW,
				    GFP_ATOMIC);
		return ret == -EEXIST ? 0 : ret; /* a lost race with a second report */
	}
	return -EINVAL;
}

/*
 * Each round: every page of the window faults on first touch (it was
 * unmapped and invalidated) and the handler maps it; the retry lands; then
 * the whole window goes, tables included. Two devices at once on one
 * domain, their windows in different 512 GiB regions so that they share
 * only the level-0 table, which is never freed. (Were they to share a
 * lower table, one thread could retire it while the other installs a new
 * one under the same parent entry; until the first thread's sync the walk
 * cache would still lead to the retired, empty table: a spurious fault.)
 * A fault that arrives while the bank still holds the other device's
 * unacknowledged one is only counted (FSR.MULTI), not reported, so a retry
 * may fault again: retries are bounded, not one.
 */
static void *window_worker(void *arg)
{
	struct window *w = arg;

	this_threads_dev = w->dev;
	for (uint32_t round = 0; round < 20; round++) {
		for (unsigned int i = 0; i < WINDOW_PAGES; i++) {
			dma_addr_t iova = w->iova + i * IK_SZ_4K + 4 * (i % 8);
			uint32_t v = round * 1000 + i, back = 0;
			int tries = 1;

			if (!ik_dma_write(w->dev, iova, &v, sizeof(v))) {
				w->errors++; /* served by a stale translation */
				w->stale++;
			}
			while (ik_dma_write(w->dev, iova, &v, sizeof(v)) && tries < 1000)
				tries++;
			if (tries == 1000) {
				w->errors++;
				w->stuck++;
			} else if (ik_dma_read(w->dev, iova, &back, sizeof(back)) || back != v) {
				w->errors++;
				w->wrong++;
			}
		}
		if (iommu_unmap(w->f->dom, w->iova, WINDOW_PAGES * IK_SZ_4K) !=
		    WINDOW_PAGES * IK_SZ_4K)
			w->errors++;
	}
	return NULL;
}

static void test_concurrent_dma_faults_and_unmaps(void **state)
{
	struct fx *f = *state;
	struct window w[2];
	pthread_t th[2];
	phys_addr_t pa = ik_test_alloc(f->m, 2 * WINDOW_PAGES * IK_SZ_4K, IK_SZ_4K);

	assert_int_equal(iommu_attach_device(f->dom, f->dsp), 0);
	w[0] = (struct window){ .f = f, .dev = f->gpu, .iova = 1ull << 39, .pa = pa };
	w[1] = (struct window){ .f = f, .dev = f->dsp, .iova = 2ull << 39,
				.pa = pa + WINDOW_PAGES * IK_SZ_4K };
	iommu_set_fault_handler(f->dom, map_on_fault, w);
	for (unsigned int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, window_worker, &w[i]), 0);
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (unsigned int i = 0; i < 2; i++)
		if (w[i].errors)
			fail_msg("window %u: %d errors (%d stale, %d stuck, %d wrong)", i,
				 w[i].errors, w[i].stale, w[i].stuck, w[i].wrong);
	/*
	 * No stale translation, ever. (Unsynced invalidations are not checked
	 * here: one device's DMA may well pass while the other's unmap is
	 * between its TLBI writes and its TLBSYNC.)
	 */
	assert_int_equal(stale(f), 0);
	assert_int_equal(iommu_iova_to_phys(f->dom, w[0].iova), 0);
	assert_int_equal(iommu_iova_to_phys(f->dom, w[1].iova), 0);
	iommu_set_fault_handler(f->dom, record_fault, &f->fault);
	iommu_detach_device(f->dom, f->dsp);
	ik_mem_free_pages(f->mem, pa, 2 * WINDOW_PAGES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_from_id_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_programs_stream_and_bank, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dma_above_4g_every_page_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_to_readonly_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priv_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noexec_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_flag_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices_sharing_a_stream_id_share_a_group,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_groups_one_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_goes_to_the_devices_domain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_and_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_makes_the_stream_fault, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmap_fast_without_sync_is_stale, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_freed_tables_need_walk_cache_invalidation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_workload_is_never_stale, setup,
						teardown),
		cmocka_unit_test(test_one_domain_on_two_smmus),
		cmocka_unit_test_setup_teardown(test_context_banks_run_out_and_come_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reused_bank_starts_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_before_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_dma_faults_and_unmaps, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
