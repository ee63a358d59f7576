// SPDX-License-Identifier: MIT
/*
 * The Arm SMMUv2 hardware model, verified from the bus as a hardware
 * verification engineer would: registers through MMIO, AArch64 translation
 * tables written word by word into physical memory, DMA translations
 * through the model's translate/walk ops. No driver and no page-table code
 * is used.
 *
 * Register values are worked out from the SMMUv2 architecture (Arm IHI
 * 0062, register descriptions) in the comments next to them. Descriptor words
 * come from the Arm ARM (DDI 0487, D5.3 "VMSAv8-64 translation table
 * format descriptors", 4 KiB granule):
 *   bits 1:0   11 table (levels 0-2) or page (level 3); 01 block (levels
 *              1-2); x0 invalid
 *   bits 47:12 next-level table address (table), output address bits
 *              47:12 / 47:21 / 47:30 (page / 2 MiB block / 1 GiB block)
 *   bits 4:2 AttrIndx, bit 6 AP[1] (EL0, i.e. unprivileged, access),
 *   bit 7 AP[2] (read-only), bit 10 AF, bit 11 nG, bit 53 PXN, bit 54 UXN;
 *   table descriptors: bit 59 PXNTable, 60 UXNTable, 61 APTable[0] (no EL0
 *   access below), 62 APTable[1] (no writes below).
 * Hence, for the words used below:
 *   TABLE           = 0x3                  (valid, table)
 *   PAGE_USER       = 0xc43 = 0x800 nG | 0x400 AF | 0x40 AP[1] | 0x3
 *   BLOCK_USER      = 0xc41 = the same with bits 1:0 = 01
 *   PAGE_RO         = 0xcc3 = PAGE_USER | 0x80 AP[2]
 *   PAGE_PRIV       = 0xc03 = PAGE_USER without AP[1]
 *   PAGE_NOAF       = 0x843 = PAGE_USER without AF
 *   PAGE_GLOBAL     = 0x443 = PAGE_USER without nG
 *   UXN             = 1 << 54 = 0x0040000000000000
 * and the index of a 48-bit input address at level L is bits
 * [47 - 9L : 39 - 9L] ... i.e. L0 = VA[47:39], L1 = VA[38:30],
 * L2 = VA[29:21], L3 = VA[20:12]. The indices below are worked out by hand
 * from each address, NOT computed by the test.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <iommukit/iommu.h>
#include <iommukit/platform.h>

#include "ik/arm-smmu-regs.h"
#include "ik/compiler.h"
#include "ik/machine.h"

/* DRAM above 4 GiB, 1 GiB aligned so that a 1 GiB block can map its base. */
#define RAM_BASE   0x880000000ull
#define RAM_SIZE   (1ull << 30)
#define SMMU_BASE  0x2b400000ull /* 64 KiB aligned */
#define SMMU_IRQ   38u
#define SID        0x12u
#define ASID       0x5u

/* Descriptor words (derivation in the header comment). */
#define TABLE       0x3ull
#define PAGE_USER   0xc43ull
#define BLOCK_USER  0xc41ull
#define PAGE_RO     0xcc3ull
#define PAGE_PRIV   0xc03ull
#define PAGE_NOAF   0x843ull
#define PAGE_GLOBAL 0x443ull
#define UXN         0x0040000000000000ull

/*
 * Register values used throughout:
 *   sCR0 0x6: GFRE (bit 1) | GFIE (bit 2), CLIENTPD (bit 0) clear
 *   SMR  0x80000012: VALID (bit 31) | ID 0x12
 *   CBAR 0x00010000: TYPE (17:16) = 1, stage 1 with stage 2 bypass
 *   TCR  0x00803510: T0SZ 16 (48-bit input) | IRGN0 1 (9:8) | ORGN0 1
 *        (11:10) | SH0 3 (13:12) | TG0 0 = 4 KiB (15:14) | EPD1 (bit 23)
 *   TCR2 0x15: PASIZE 5 = 48 bits (2:0) | AS (bit 4, 16-bit ASID)
 *   MAIR0 0x004404ff: attr0 0xff Normal WB, attr1 0x04 Device-nGnRE,
 *        attr2 0x44 Normal non-cacheable
 *   SCTLR 0x61: M (bit 0) | CFRE (bit 5) | CFIE (bit 6)
 */
#define SCR0_ON    0x6u
#define SMR_SID    0x80000012u
#define CBAR_S1    0x00010000u
#define TCR_48     0x00803510u
#define TCR2_48    0x15u
#define MAIR0_VAL  0x004404ffu
#define SCTLR_ON   0x61u

struct irq_log {
	struct fx *fx;
	unsigned int count;
	uint32_t fsr;  /* CB0 FSR as the handler read it */
	uint64_t far;  /* CB0 FAR */
	uint32_t gfsr; /* sGFSR */
	bool ack;      /* clear what it saw (write 1 to clear) */
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct ik_hw_iommu *hw;
	phys_addr_t l0; /* context bank 0's level-0 table */
	struct irq_log irq;
};

/* --- helpers --- */

static uint32_t rd(struct fx *f, uint32_t off)
{
	uint32_t v = 0xdeadbeef;
	assert_int_equal(ik_machine_mmio_read32(f->m, SMMU_BASE + off, &v), 0);
	return v;
}

static void wr(struct fx *f, uint32_t off, uint32_t v)
{
	assert_int_equal(ik_machine_mmio_write32(f->m, SMMU_BASE + off, v), 0);
}

/* 64-bit register: low word first, as ik_writeq(). */
static void wrq(struct fx *f, uint32_t off, uint64_t v)
{
	wr(f, off, (uint32_t)v);
	wr(f, off + 4, (uint32_t)(v >> 32));
}

static uint64_t rdq(struct fx *f, uint32_t off)
{
	uint64_t lo = rd(f, off);
	return lo | ((uint64_t)rd(f, off + 4) << 32);
}

static void put64(struct fx *f, phys_addr_t pa, uint64_t v)
{
	uint64_t *p = ik_mem_ptr(f->mem, pa, 8);
	assert_non_null(p);
	ik_write_le64(p, v);
}

/* Descriptor @idx of the table at @table. */
static void put_desc(struct fx *f, phys_addr_t table, unsigned int idx, uint64_t desc)
{
	put64(f, table + 8ull * idx, desc);
}

static phys_addr_t new_table(struct fx *f)
{
	phys_addr_t pa;
	assert_int_equal(ik_mem_alloc_pages(f->mem, 1, IK_PAGE_SIZE, &pa), 0);
	return pa;
}

static int xlate_attrs(struct fx *f, uint32_t sid, uint64_t va, bool write, unsigned int attrs,
		       struct ik_hw_xlate *x)
{
	return f->hw->ops->translate(f->hw, sid, va, write, attrs, x);
}

static int xlate(struct fx *f, uint64_t va, bool write, struct ik_hw_xlate *x)
{
	return xlate_attrs(f, SID, va, write, 0, x);
}

/* Translate a read of @va by SID, which must succeed; the physical address. */
static uint64_t xlate_ok(struct fx *f, uint64_t va)
{
	struct ik_hw_xlate x = { 0 };
	assert_int_equal(xlate(f, va, false, &x), 0);
	return x.pa;
}

static struct ik_iommu_hw_stats stats(struct fx *f)
{
	struct ik_iommu_hw_stats s;
	pthread_mutex_lock(f->hw->stats_lock);
	s = f->hw->stats;
	pthread_mutex_unlock(f->hw->stats_lock);
	return s;
}

/*
 * The interrupt handler reads and acknowledges the fault through the
 * registers, as an ISR does. Were the model lock still held by the
 * faulting thread, these reads would deadlock (and the alarm set in
 * setup() would fail the test).
 */
static void on_irq(unsigned int irq, void *arg)
{
	struct irq_log *log = arg;

	assert_int_equal(irq, SMMU_IRQ);
	log->count++;
	log->fsr = rd(log->fx, SMMU_CB(0) + SMMU_CB_FSR);
	log->far = rdq(log->fx, SMMU_CB(0) + SMMU_CB_FAR);
	log->gfsr = rd(log->fx, SMMU_GR0_sGFSR);
	if (log->ack) {
		wr(log->fx, SMMU_CB(0) + SMMU_CB_FSR, log->fsr);
		wr(log->fx, SMMU_GR0_sGFSR, log->gfsr);
	}
}

/*
 * Context bank @cb: stage 1, AArch64, tables at @ttb, @asid, TCR @tcr,
 * enabled with fault interrupts. Stream match group @smr sends @sid there.
 */
static void setup_ctx(struct fx *f, unsigned int cb, unsigned int smr, uint32_t sid,
		      phys_addr_t ttb, uint16_t asid, uint32_t tcr)
{
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBAR(cb), CBAR_S1);
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBA2R(cb), SMMU_CBA2R_VA64);
	wr(f, SMMU_CB(cb) + SMMU_CB_TCR2, TCR2_48);
	wrq(f, SMMU_CB(cb) + SMMU_CB_TTBR0, ttb | ((uint64_t)asid << 48));
	wr(f, SMMU_CB(cb) + SMMU_CB_TCR, tcr);
	wr(f, SMMU_CB(cb) + SMMU_CB_MAIR0, MAIR0_VAL);
	wr(f, SMMU_CB(cb) + SMMU_CB_SCTLR, SCTLR_ON);
	wr(f, SMMU_GR0_SMR(smr), SMMU_SMR_VALID | sid);
	wr(f, SMMU_GR0_S2CR(smr), cb); /* TYPE 0 (translate), CBNDX = cb */
	wr(f, SMMU_GR0_sCR0, SCR0_ON);
}

static struct ik_hw_iommu *new_model(struct ik_machine *m, phys_addr_t base, unsigned int nr)
{
	const struct ik_iommu_desc desc = {
		.name = "smmu", .compatible = SMMU_COMPATIBLE, .mmio_base = base,
		.irq = SMMU_IRQ, .tlb_entries = nr,
	};
	return ik_arm_smmu_model_type.create(m, &desc);
}

static int setup(void **state)
{
	static const struct ik_region_desc ram = { "dram", RAM_BASE, RAM_SIZE };
	const struct ik_machine_desc md = {
		.size = sizeof(md), .name = "smmu-bench", .regions = &ram, .nr_regions = 1,
	};
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	alarm(20); /* a deadlock fails the test instead of hanging it */
	f->m = ik_machine_create(&md);
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->hw = new_model(f->m, SMMU_BASE, 0);
	assert_non_null(f->hw);
	assert_string_equal(f->hw->name, "smmu");
	f->l0 = new_table(f);
	f->irq.fx = f;
	f->irq.ack = true;
	assert_int_equal(ik_request_irq(f->m, SMMU_IRQ, on_irq, &f->irq), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ik_free_irq(f->m, SMMU_IRQ, on_irq, &f->irq);
	f->hw->ops->destroy(f->hw);
	ik_machine_destroy(f->m);
	free(f);
	alarm(0);
	return 0;
}

/*
 * A 4 KiB page at VA 0x40_0020_3000 -> @pa, with tables allocated here.
 * Indices by hand: 0x40_0020_3000 = 0b0100_0000 << 32 | 0x0020_3000, so
 * VA[47:39] = 0, VA[38:30] = 0x100 (bit 38 set), VA[29:21] = 1 (0x20_0000
 * is bit 21), VA[20:12] = 3. Returns the level-3 table.
 */
#define VA_4K 0x4000203000ull
static phys_addr_t map_4k(struct fx *f, uint64_t pa, uint64_t attrs, phys_addr_t *l2_out)
{
	phys_addr_t l1 = new_table(f), l2 = new_table(f), l3 = new_table(f);

	put_desc(f, f->l0, 0, l1 | TABLE);
	put_desc(f, l1, 0x100, l2 | TABLE);
	put_desc(f, l2, 1, l3 | TABLE);
	put_desc(f, l3, 3, pa | attrs);
	if (l2_out)
		*l2_out = l2;
	return l3;
}

static void tlbi_sync(struct fx *f, unsigned int cb)
{
	wr(f, SMMU_CB(cb) + SMMU_CB_TLBSYNC, 0);
	assert_int_equal(rd(f, SMMU_CB(cb) + SMMU_CB_TLBSTATUS), 0);
}

/* --- ID and reset values --- */

static void test_id_registers(void **state)
{
	struct fx *f = *state;

	/*
	 * sIDR0: S1TS bit 30 (0x40000000), SMS bit 27 (0x08000000), ATOSNS
	 * bit 26 (0x04000000: no ATOS), PTFS bit 25 (0x02000000: no AArch32
	 * formats), CTTW bit 14 (0x4000), NUMSIDB 15 in 12:9 (0x1e00),
	 * NUMSMRG 16 in 7:0 (0x10): 0x4e005e10.
	 */
	assert_int_equal(rd(f, SMMU_GR0_sIDR0), 0x4e005e10);
	/* sIDR1: PAGESIZE 0 = 4 KiB, NUMPAGENDXB 2 in 30:28, NUMS2CB 0, NUMCB 8. */
	assert_int_equal(rd(f, SMMU_GR0_sIDR1), 0x20000008);
	/* sIDR2: PTFSv8 4 KiB bit 12, UBS 5 (11:8), OAS 5 (7:4), IAS 5: 48 bits each. */
	assert_int_equal(rd(f, SMMU_GR0_sIDR2), 0x00001555);
	assert_int_equal(rd(f, SMMU_GR0_sIDR7), 0);

	/* The window is 2 * NUMPAGE * PAGESIZE, NUMPAGE = 2^(NUMPAGENDXB + 1). */
	uint32_t idr1 = rd(f, SMMU_GR0_sIDR1);
	uint32_t numpage = 1u << (((idr1 >> 28) & 7) + 1);
	assert_int_equal(2 * numpage * 4096, 0x10000);
	assert_int_equal(ik_arm_smmu_model_type.mmio_size, 0x10000);
	assert_string_equal(ik_arm_smmu_model_type.compatible, "arm,smmu-v2");
	/* The last context bank's page is the window's last page. */
	wr(f, 0xf000 + SMMU_CB_CONTEXTIDR, 0x1234);
	assert_int_equal(rd(f, 0xf000 + SMMU_CB_CONTEXTIDR), 0x1234);
	assert_int_equal(ik_machine_mmio_read32(f->m, SMMU_BASE + 0x10000, &idr1), -ENXIO);
}

static void test_reset_values(void **state)
{
	struct fx *f = *state;

	/* sCR0 resets to 0x00200001: CLIENTPD (bit 0) and SMCFCFG (bit 21, RO 1). */
	assert_int_equal(rd(f, SMMU_GR0_sCR0), 0x00200001);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(rd(f, SMMU_GR0_SMR(i)), 0);
		/* S2CR resets to TYPE (17:16) = 2, fault: 0x00020000. */
		assert_int_equal(rd(f, SMMU_GR0_S2CR(i)), 0x00020000);
	}
	for (unsigned int cb = 0; cb < 8; cb++) {
		assert_int_equal(rd(f, SMMU_CB(cb) + SMMU_CB_SCTLR), 0);
		assert_int_equal(rd(f, SMMU_CB(cb) + SMMU_CB_FSR), 0);
		assert_int_equal(rd(f, SMMU_CB(cb) + SMMU_CB_TLBSTATUS), 0);
		assert_int_equal(rd(f, SMMU_GR1_BASE + SMMU_GR1_CBAR(cb)), 0);
	}
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0);
	assert_int_equal(rd(f, SMMU_GR0_sTLBGSTATUS), 0);
}

static void test_register_fields(void **state)
{
	struct fx *f = *state;

	/* sCR0: reserved bits read 0, SMCFCFG stays 1. */
	wr(f, SMMU_GR0_sCR0, 0);
	assert_int_equal(rd(f, SMMU_GR0_sCR0), 0x00200000);
	/* SMR: bit 15 is reserved (15-bit ID and MASK): 0xffff7fff. */
	wr(f, SMMU_GR0_SMR(3), 0xffffffff);
	assert_int_equal(rd(f, SMMU_GR0_SMR(3)), 0xffff7fff);
	/* Registers past NUMSMRG / NUMCB are holes. */
	wr(f, SMMU_GR0_SMR(16), 0xffffffff);
	assert_int_equal(rd(f, SMMU_GR0_SMR(16)), 0);
	/* CBA2R: only VA64 (bit 0) is implemented. */
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBA2R(2), 0xffffffff);
	assert_int_equal(rd(f, SMMU_GR1_BASE + SMMU_GR1_CBA2R(2)), 1);
	/* 64-bit registers are written and read as two words. */
	wrq(f, SMMU_CB(5) + SMMU_CB_TTBR0, 0x0123456789abc000ull);
	assert_int_equal(rd(f, SMMU_CB(5) + SMMU_CB_TTBR0), 0x89abc000);
	assert_int_equal(rd(f, SMMU_CB(5) + SMMU_CB_TTBR0 + 4), 0x01234567);
	wr(f, SMMU_CB(5) + SMMU_CB_TTBR0, 0x1000);
	assert_int_equal(rdq(f, SMMU_CB(5) + SMMU_CB_TTBR0), 0x0123456700001000ull);
	/* TCR2: PASIZE 2:0, AS 4, TBI0/1 6:5, NSCFG0 14, SEP 17:15, NSCFG1 30. */
	wr(f, SMMU_CB(1) + SMMU_CB_TCR2, 0xffffffff);
	assert_int_equal(rd(f, SMMU_CB(1) + SMMU_CB_TCR2), 0x4003c077);
	/* FSR is write-1-to-clear and not written otherwise; PAR reads 0. */
	wr(f, SMMU_CB(1) + SMMU_CB_FSR, 0xffffffff);
	assert_int_equal(rd(f, SMMU_CB(1) + SMMU_CB_FSR), 0);
	assert_int_equal(rdq(f, SMMU_CB(1) + SMMU_CB_PAR), 0);
}

/* --- stream mapping --- */

static void test_clientpd_bypass(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x = { 0 };
	phys_addr_t pa;
	int prot = 0;

	/* Reset: CLIENTPD = 1, every stream passes through untranslated. */
	assert_int_equal(xlate_attrs(f, 0x7ff, 0x123456789ull, true, 0, &x), 0);
	assert_int_equal(x.pa, 0x123456789ull);
	assert_int_equal(x.page_mask, 0xfff);
	assert_int_equal(f->hw->ops->walk(f->hw, 3, 0x5000, &pa, &prot), -EIO);
	assert_int_equal(pa, 0x5000);
	/* Even a stream that would translate, while CLIENTPD is set. */
	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	wr(f, SMMU_GR0_sCR0, SCR0_ON | SMMU_sCR0_CLIENTPD);
	assert_int_equal(xlate_ok(f, VA_4K), VA_4K);
	assert_int_equal(stats(f).faults, 0);
}

static void test_stream_match_mask(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	/* SMR1: VALID | MASK 0x00f (30:16) | ID 0x040: streams 0x040-0x04f. */
	wr(f, SMMU_GR0_SMR(1), 0x800f0040);
	wr(f, SMMU_GR0_S2CR(1), 0); /* translate through bank 0 */
	for (uint32_t sid = 0x40; sid <= 0x4f; sid++) {
		assert_int_equal(xlate_attrs(f, sid, VA_4K, false, 0, &x), 0);
		assert_int_equal(x.pa, 0x880100000ull);
	}
	/* 0x50 differs in bit 4, which the mask does not cover: unmatched, bypass. */
	assert_int_equal(xlate_attrs(f, 0x50, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, VA_4K);
	/* Stream IDs are 15 bits wide: 0x8042 reaches the SMMU as 0x0042. */
	assert_int_equal(xlate_attrs(f, 0x8042, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x880100000ull);
	/* An invalid SMR matches nothing. */
	wr(f, SMMU_GR0_SMR(1), 0x000f0040);
	assert_int_equal(xlate_attrs(f, 0x41, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, VA_4K);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0);
}

static void test_s2cr_types(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t pa = 0;
	int prot;

	wr(f, SMMU_GR0_sCR0, SCR0_ON);
	/* S2CR TYPE 1 (0x00010000): bypass. */
	wr(f, SMMU_GR0_SMR(4), SMMU_SMR_VALID | 0x21);
	wr(f, SMMU_GR0_S2CR(4), 0x00010000);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, true, 0, &x), 0);
	assert_int_equal(x.pa, 0xabc000);
	assert_int_equal(f->hw->ops->walk(f->hw, 0x21, 0xabc000, &pa, &prot), -EIO);
	assert_int_equal(pa, 0xabc000);
	/* TYPE 2 (0x00020000): fault; aborted, no interrupt, nothing recorded. */
	wr(f, SMMU_GR0_S2CR(4), 0x00020000);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, true, 0, &x), -EFAULT);
	assert_int_equal(f->hw->ops->walk(f->hw, 0x21, 0xabc000, &pa, &prot), -ENOENT);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0);
	assert_int_equal(f->irq.count, 0);
	assert_int_equal(stats(f).faults, 1);

	/* Translate to bank 9 (past NUMCB): invalid context fault, sGFSR.ICF (bit 0). */
	f->irq.ack = false;
	wr(f, SMMU_GR0_S2CR(4), 9);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, false, 0, &x), -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.gfsr, 0x1);
	wr(f, SMMU_GR0_sGFSR, 0x1);
	/* Bank 2 with CBAR.TYPE 0 (stage 2 only): ICF as well. */
	wr(f, SMMU_GR0_S2CR(4), 2);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, false, 0, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0x1);
	wr(f, SMMU_GR0_sGFSR, 0x1);
	/* Stage 1 type but AArch32 (CBA2R.VA64 clear): ICF. */
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBAR(2), CBAR_S1);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, false, 0, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0x1);
	assert_int_equal(f->hw->ops->walk(f->hw, 0x21, 0xabc000, &pa, &prot), -ENOENT);
	/* With VA64 and SCTLR.M clear, the bank passes addresses through. */
	wr(f, SMMU_GR0_sGFSR, 0x1);
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBA2R(2), SMMU_CBA2R_VA64);
	assert_int_equal(xlate_attrs(f, 0x21, 0xabc000, false, 0, &x), 0);
	assert_int_equal(x.pa, 0xabc000);
	assert_int_equal(f->hw->ops->walk(f->hw, 0x21, 0xabc000, &pa, &prot), -EIO);
}

static void test_unidentified_stream(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t pa;
	int prot;

	/* USFCFG (bit 10) clear: unmatched streams bypass. */
	wr(f, SMMU_GR0_sCR0, SCR0_ON);
	assert_int_equal(xlate_attrs(f, 0x333, 0x9000, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x9000);
	/* USFCFG set: an unidentified stream fault, sGFSR.USF (bit 1). */
	f->irq.ack = false;
	wr(f, SMMU_GR0_sCR0, SCR0_ON | 0x400);
	assert_int_equal(xlate_attrs(f, 0x333, 0x89abcdef01ull, true, IK_DMA_ATTR_PRIV, &x),
			 -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.gfsr, 0x2);
	assert_int_equal(rdq(f, SMMU_GR0_sGFAR), 0x89abcdef01ull);
	/* sGFSYNR0: WNR bit 1 (write) | PNU bit 2 (privileged) = 0x6. */
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR0), 0x6);
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR1), 0x333);
	assert_int_equal(f->hw->ops->walk(f->hw, 0x333, 0x9000, &pa, &prot), -ENOENT);
	/* A second fault before the first is cleared only sets MULTI (bit 31). */
	assert_int_equal(xlate_attrs(f, 0x334, 0x1000, false, IK_DMA_ATTR_EXEC, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0x80000002);
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR1), 0x333);
	/* Cleared: the next fault is recorded; IND (bit 3) for an instruction fetch. */
	wr(f, SMMU_GR0_sGFSR, 0x80000002);
	assert_int_equal(xlate_attrs(f, 0x334, 0x1000, false, IK_DMA_ATTR_EXEC, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR0), 0x8);
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR1), 0x334);
	/* GFIE (bit 2) clear: recorded, no interrupt. */
	unsigned int n = f->irq.count;
	wr(f, SMMU_GR0_sGFSR, 0xffffffff);
	wr(f, SMMU_GR0_sCR0, 0x2 | 0x400);
	assert_int_equal(xlate_attrs(f, 0x335, 0x1000, false, 0, &x), -EFAULT);
	assert_int_equal(f->irq.count, n);
	assert_int_equal(rd(f, SMMU_GR0_sGFSR), 0x2);
}

static void test_stream_match_conflict(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	f->irq.ack = false;
	wr(f, SMMU_GR0_sCR0, SCR0_ON);
	/* SMR0 matches 0x10-0x1f (MASK 0xf), SMR1 exactly 0x18. */
	wr(f, SMMU_GR0_SMR(0), 0x800f0010);
	wr(f, SMMU_GR0_S2CR(0), 0x00010000);
	wr(f, SMMU_GR0_SMR(1), 0x80000018);
	wr(f, SMMU_GR0_S2CR(1), 0x00010000);
	assert_int_equal(xlate_attrs(f, 0x17, 0x4000, false, 0, &x), 0);
	/* Two matches: a stream match conflict fault, sGFSR.SMCF (bit 2). */
	assert_int_equal(xlate_attrs(f, 0x18, 0x4000, false, 0, &x), -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.gfsr, 0x4);
	assert_int_equal(rd(f, SMMU_GR0_sGFSYNR1), 0x18);
}

/* --- translation --- */

static void test_translate_sizes(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x = { 0 };
	phys_addr_t l1 = new_table(f), l1b = new_table(f), l2 = new_table(f), l3 = new_table(f);

	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	/*
	 * VA 0x40_0020_3000: L0 0, L1 0x100, L2 1, L3 3 -> page 0x8_8010_0000.
	 * VA 0x40_0060_0000: L0 0, L1 0x100, L2 3 (0x60_0000 >> 21) -> 2 MiB
	 *   block 0x8_8020_0000 (0x8_8020_0000 / 2 MiB = 0x4401: aligned).
	 * VA 0x80_4000_0000: L0 1 (bit 39), L1 1 (0x4000_0000 is bit 30)
	 *   -> 1 GiB block 0x8_8000_0000.
	 */
	put_desc(f, f->l0, 0, l1 | TABLE);
	put_desc(f, l1, 0x100, l2 | TABLE);
	put_desc(f, l2, 1, l3 | TABLE);
	put_desc(f, l3, 3, 0x880100000ull | PAGE_USER);
	put_desc(f, l2, 3, 0x880200000ull | BLOCK_USER);
	put_desc(f, f->l0, 1, l1b | TABLE);
	put_desc(f, l1b, 1, 0x880000000ull | BLOCK_USER);

	assert_int_equal(xlate(f, VA_4K + 0x123, false, &x), 0);
	assert_int_equal(x.pa, 0x880100123ull);
	assert_int_equal(x.page_mask, 0xfff);
	assert_int_equal(xlate(f, 0x4000600000ull + 0x1abcde, true, &x), 0);
	assert_int_equal(x.pa, 0x8803abcdeull);
	assert_int_equal(x.page_mask, 0x1fffff);
	assert_int_equal(xlate(f, 0x8040000000ull + 0x12345678, false, &x), 0);
	assert_int_equal(x.pa, 0x892345678ull);
	assert_int_equal(x.page_mask, 0x3fffffff);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.accesses, 3);
	assert_int_equal(s.tlb_misses, 3);
	assert_int_equal(s.walks, 3);

	/* A block is one TLB entry: elsewhere in the same 2 MiB and 1 GiB, hits. */
	assert_int_equal(xlate_ok(f, 0x4000600000ull + 0x1ff000), 0x8803ff000ull);
	assert_int_equal(xlate_ok(f, 0x8040000000ull + 0x3ffff000), 0x8bffff000ull);
	s = stats(f);
	assert_int_equal(s.tlb_hits, 2);
	assert_int_equal(s.walks, 3);
	assert_int_equal(s.stale_accesses, 0);
	assert_int_equal(s.faults, 0);
}

static void test_start_level_t0sz(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t l2 = new_table(f), l3 = new_table(f);

	/*
	 * T0SZ 25: a 39-bit input space, so the walk starts at level 1 and
	 * TTBR0 points at a level-1 table (TCR 0x00803519). f->l0 serves as
	 * that level-1 table: VA 0x40_0020_3000 < 2^39 has L1 index 0x100.
	 */
	setup_ctx(f, 0, 0, SID, f->l0, ASID, 0x00803519);
	put_desc(f, f->l0, 0x100, l2 | TABLE);
	put_desc(f, l2, 1, l3 | TABLE);
	put_desc(f, l3, 3, 0x880105000ull | PAGE_USER);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880105000ull);
	/* 2^39 and above is outside TTBR0's range: level-0 translation fault. */
	f->irq.ack = false;
	assert_int_equal(xlate(f, 1ull << 39, false, &x), -EFAULT);
	assert_int_equal(f->irq.fsr, 0x2);
	assert_int_equal(f->irq.far, 1ull << 39);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0);
}

static void test_bad_configuration(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIALL, 0);
	f->irq.ack = false;
	/* TG0 = 1 (64 KiB, bits 15:14 = 01: 0x4000): not implemented, level-0 TF. */
	wr(f, SMMU_CB(0) + SMMU_CB_TCR, TCR_48 | 0x4000);
	assert_int_equal(xlate(f, VA_4K, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x2);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* EPD0 (bit 7): no walks from TTBR0. */
	wr(f, SMMU_CB(0) + SMMU_CB_TCR, TCR_48 | 0x80);
	assert_int_equal(xlate(f, VA_4K, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x2);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* PASIZE 0 (32 bits): tables above 4 GiB give an address size fault (bit 7). */
	wr(f, SMMU_CB(0) + SMMU_CB_TCR, TCR_48);
	wr(f, SMMU_CB(0) + SMMU_CB_TCR2, 0x10);
	assert_int_equal(xlate(f, VA_4K, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x80);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x80);
	wr(f, SMMU_CB(0) + SMMU_CB_TCR2, TCR2_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
}

/* --- faults --- */

static void test_permission_faults(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_RO, NULL);

	/* The same level-3 table, pages 4, 5: priv-only; user with UXN. */
	put_desc(f, l3, 4, 0x880104000ull | PAGE_PRIV);
	put_desc(f, l3, 5, 0x880105000ull | PAGE_USER | UXN);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	f->irq.ack = false;

	/* Read-only page: reads pass, a write faults PF (FSR bit 3). */
	assert_int_equal(xlate_ok(f, VA_4K + 8), 0x880100008ull);
	assert_int_equal(xlate(f, VA_4K + 0x10, true, &x), -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.fsr, 0x8);
	assert_int_equal(f->irq.far, VA_4K + 0x10);
	/* FSYNR0: PLVL 3 (1:0) | WNR (bit 4) = 0x13; CBFRSYNRA holds the stream. */
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x13);
	assert_int_equal(rd(f, SMMU_GR1_BASE + SMMU_GR1_CBFRSYNRA(0)), SID);
	/* A second fault before the clear: MULTI (bit 31), the record stays. */
	assert_int_equal(xlate(f, VA_4K + 0x20, true, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x80000008);
	assert_int_equal(rdq(f, SMMU_CB(0) + SMMU_CB_FAR), VA_4K + 0x10);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x80000008);

	/* Privileged-only page (VA + 0x1000, L3 index 4). */
	assert_int_equal(xlate(f, VA_4K + 0x1000, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x8);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x3); /* PLVL 3, read, user */
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x8);
	assert_int_equal(xlate_attrs(f, SID, VA_4K + 0x1000, true, IK_DMA_ATTR_PRIV, &x), 0);
	assert_int_equal(x.pa, 0x880104000ull);

	/* UXN page (index 5): data passes, an unprivileged fetch faults. */
	assert_int_equal(xlate_ok(f, VA_4K + 0x2000), 0x880105000ull);
	assert_int_equal(xlate_attrs(f, SID, VA_4K + 0x2004, false, IK_DMA_ATTR_EXEC, &x),
			 -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x8);
	/* PLVL 3 | IND (bit 6) = 0x43. */
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x43);
	assert_int_equal(rdq(f, SMMU_CB(0) + SMMU_CB_FAR), VA_4K + 0x2004);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x8);
	/* PXN is clear: a privileged fetch passes. */
	assert_int_equal(xlate_attrs(f, SID, VA_4K + 0x2004, false,
				     IK_DMA_ATTR_EXEC | IK_DMA_ATTR_PRIV, &x), 0);
	/* A privileged write fault: PLVL 3 | WNR | PNU (bit 5) = 0x33. */
	assert_int_equal(xlate_attrs(f, SID, VA_4K, true, IK_DMA_ATTR_PRIV, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x33);
	assert_int_equal(stats(f).faults, 5);
	assert_int_equal(f->irq.count, 5);

	/* CFIE clear (SCTLR 0x21): recorded, no interrupt. */
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0xffffffff);
	wr(f, SMMU_CB(0) + SMMU_CB_SCTLR, 0x21);
	assert_int_equal(xlate(f, VA_4K, true, &x), -EFAULT);
	assert_int_equal(f->irq.count, 5);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x8);
}

static void test_table_permissions(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t l2;

	map_4k(f, 0x880100000ull, PAGE_USER, &l2);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	/* APTable[1] (bit 62) on the level-1 entry: no writes anywhere below. */
	put_desc(f, f->l0, 0, 0);
	phys_addr_t l1 = new_table(f);
	put_desc(f, f->l0, 0, l1 | TABLE);
	put_desc(f, l1, 0x100, l2 | TABLE | (1ull << 62));
	f->irq.ack = false;
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(xlate(f, VA_4K, true, &x), -EFAULT);
	/* The fault comes from the cached leaf: PLVL 3 | WNR. */
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x8);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x13);
}

static void test_access_flag(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	map_4k(f, 0x880100000ull, PAGE_NOAF, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	f->irq.ack = false;
	/* AF clear: access flag fault, FSR.AFF (bit 2), PLVL 3. */
	assert_int_equal(xlate(f, VA_4K, false, &x), -EFAULT);
	assert_int_equal(f->irq.fsr, 0x4);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x3);
	phys_addr_t pa;
	int prot;
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K, &pa, &prot), -ENOENT);
	/* SCTLR.AFFD (bit 3) disables the fault: SCTLR 0x69. */
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x4);
	wr(f, SMMU_CB(0) + SMMU_CB_SCTLR, 0x69);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K, &pa, &prot), 0);
}

static void test_translation_faults(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t l2;

	map_4k(f, 0x880100000ull, PAGE_USER, &l2);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	f->irq.ack = false;
	/* Level-3 entry 4 is zero: translation fault (FSR bit 1), PLVL 3. */
	assert_int_equal(xlate(f, VA_4K + 0x1000, false, &x), -EFAULT);
	assert_int_equal(f->irq.fsr, 0x2);
	assert_int_equal(f->irq.far, VA_4K + 0x1000);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x3);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* VA 0x40_0040_0000: L2 index 2, empty: PLVL 2. */
	assert_int_equal(xlate(f, 0x4000400000ull, true, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x2);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x12);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* A block descriptor at level 0 (bits 1:0 = 01) is invalid: PLVL 0. */
	put_desc(f, f->l0, 2, 0x880000000ull | BLOCK_USER);
	assert_int_equal(xlate(f, 2ull << 39, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x2);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x0);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* Bits 1:0 = 01 at level 3 are reserved: a fault, PLVL 3. */
	phys_addr_t l3 = new_table(f);
	put_desc(f, l2, 5, l3 | TABLE);
	put_desc(f, l3, 0, 0x880100000ull | BLOCK_USER);
	assert_int_equal(xlate(f, 0x4000a00000ull, false, &x), -EFAULT); /* L2 5, L3 0 */
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x3);
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x2);
	/* 2^48 and above (T0SZ 16): level 0. */
	assert_int_equal(xlate(f, 1ull << 48, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x2);
	assert_int_equal(rdq(f, SMMU_CB(0) + SMMU_CB_FAR), 1ull << 48);
	assert_int_equal(stats(f).faults, 5);
	assert_int_equal(f->irq.count, 5);
}

static void test_external_fault(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t l2;

	map_4k(f, 0x880100000ull, PAGE_USER, &l2);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	/* L2 entry 2 names a level-3 table at 0x1000_0000: not RAM. */
	put_desc(f, l2, 2, 0x10000000ull | TABLE);
	f->irq.ack = false;
	assert_int_equal(xlate(f, 0x4000400000ull, false, &x), -EFAULT);
	/* FSR.EF (bit 4), on the level-3 fetch. */
	assert_int_equal(f->irq.fsr, 0x10);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x3);
	/* TTBR0 outside RAM: EF on the first fetch, PLVL 0. */
	wr(f, SMMU_CB(0) + SMMU_CB_FSR, 0x10);
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, 0x20000000ull | ((uint64_t)ASID << 48));
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIALL, 0); /* the walk cache holds the old tables */
	assert_int_equal(xlate(f, VA_4K, false, &x), -EFAULT);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0x10);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSYNR0), 0x0);
}

static void test_walk_prot(void **state)
{
	struct fx *f = *state;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	phys_addr_t pa = 0;
	int prot = 0;

	/* Index 4: RO, AttrIndx 1 (bits 4:2 = 001: 0x4) = Device in MAIR0. */
	put_desc(f, l3, 4, 0x880104000ull | PAGE_RO | 0x4);
	/* Index 5: priv-only, PXN (bit 53), AttrIndx 2 (0x8) = Normal NC. */
	put_desc(f, l3, 5, 0x880105000ull | PAGE_PRIV | (1ull << 53) | 0x8);
	/* Index 6: user, UXN. */
	put_desc(f, l3, 6, 0x880106000ull | PAGE_USER | UXN);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);

	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K + 0x10, &pa, &prot), 0);
	assert_int_equal(pa, 0x880100010ull);
	assert_int_equal(prot, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K + 0x1000, &pa, &prot), 0);
	assert_int_equal(prot, IOMMU_READ | IOMMU_MMIO);
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K + 0x2000, &pa, &prot), 0);
	assert_int_equal(prot, IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV | IOMMU_NOEXEC);
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K + 0x3000, &pa, &prot), 0);
	assert_int_equal(pa, 0x880106000ull);
	assert_int_equal(prot, IOMMU_READ | IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_CACHE);
	assert_int_equal(f->hw->ops->walk(f->hw, SID, VA_4K + 0x4000, &pa, &prot), -ENOENT);
	/* Side-effect free: no TLB fill, no fault recorded, no stats. */
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.accesses + s.walks + s.faults, 0);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_FSR), 0);
	assert_int_equal(f->irq.count, 0);
	xlate_ok(f, VA_4K);
	assert_int_equal(stats(f).tlb_misses, 1);
}

/* --- TLB maintenance --- */

static void test_tlbiva_leaf(void **state)
{
	struct fx *f = *state;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_USER, NULL);

	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	/* The PTE changes without maintenance: the TLB still answers, stale. */
	put_desc(f, l3, 3, 0x880200000ull | PAGE_USER);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(stats(f).stale_accesses, 1);

	/* Only the low word of TLBIVA: nothing happens until the high word. */
	uint64_t op = (VA_4K >> 12) | ((uint64_t)ASID << 48);
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIVAL, (uint32_t)op);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_TLBSTATUS), 0);
	/* A TLBIVAL for another ASID leaves it. */
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVAL, (VA_4K >> 12) | (7ull << 48));
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	/* TLBSTATUS.SACTIVE reads 1 until TLBSYNC. */
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_TLBSTATUS), 1);
	tlbi_sync(f, 0);

	struct ik_iommu_hw_stats before = stats(f);
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVAL, op);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_TLBSTATUS), 1);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880200000ull);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.invalidations - before.invalidations, 1);
	assert_int_equal(s.stale_accesses, before.stale_accesses);
	assert_int_equal(s.tlb_misses - before.tlb_misses, 1);
	/* Only the ASID-7 invalidation was used before its sync. */
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 1);
}

/*
 * The walk cache: a level-2 table entry changes to a new level-3 table.
 * TLBIVAL drops the leaf but keeps the cached table entry, so the walk
 * goes through the old level-3 table (freed memory, still holding the old
 * PTE): a stale access. TLBIVA drops both.
 */
static void test_walk_cache(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2;
	uint64_t op = (VA_4K >> 12) | ((uint64_t)ASID << 48);

	map_4k(f, 0x880100000ull, PAGE_USER, &l2);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);

	phys_addr_t l3b = new_table(f);
	put_desc(f, l3b, 3, 0x880300000ull | PAGE_USER);
	put_desc(f, l2, 1, l3b | TABLE);
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVAL, op);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.stale_accesses, 1);
	assert_int_equal(s.walks, 2);

	/* TLBIVA: leaf and walk-cache entries covering the address. */
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVA, op);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880300000ull);
	s = stats(f);
	assert_int_equal(s.stale_accesses, 1);
	assert_int_equal(s.walks, 3);
	/* The hit that follows agrees with memory. */
	assert_int_equal(xlate_ok(f, VA_4K), 0x880300000ull);
	assert_int_equal(stats(f).stale_accesses, 1);

	/* Walks that use the cache but agree with memory are not stale. */
	put_desc(f, l3b, 4, 0x880304000ull | PAGE_USER);
	assert_int_equal(xlate_ok(f, VA_4K + 0x1000), 0x880304000ull);
	assert_int_equal(stats(f).stale_accesses, 1);

	/* A walk-cache path into a zeroed (freed) table faults, memory says mapped: stale. */
	phys_addr_t l3c = new_table(f);
	put_desc(f, l3c, 5, 0x880405000ull | PAGE_USER);
	put_desc(f, l3b, 5, 0);
	put_desc(f, l2, 1, l3c | TABLE);
	struct ik_hw_xlate x;
	assert_int_equal(xlate(f, VA_4K + 0x2000, false, &x), -EFAULT);
	assert_int_equal(stats(f).stale_accesses, 2);
}

static void test_tlbi_asid_isolation(void **state)
{
	struct fx *f = *state;
	phys_addr_t l0b = new_table(f), l1b = new_table(f), l2b = new_table(f);
	phys_addr_t l3b = new_table(f);

	/* ASID 5 maps VA_4K to 0x8_8010_0000; ASID 6's tables to 0x8_8060_0000. */
	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	put_desc(f, l0b, 0, l1b | TABLE);
	put_desc(f, l1b, 0x100, l2b | TABLE);
	put_desc(f, l2b, 1, l3b | TABLE);
	put_desc(f, l3b, 3, 0x880600000ull | PAGE_USER);
	setup_ctx(f, 0, 0, SID, f->l0, 5, TCR_48);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	/* Switch the bank to ASID 6: its own entries, no hit on ASID 5's. */
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, l0b | (6ull << 48));
	assert_int_equal(xlate_ok(f, VA_4K), 0x880600000ull);
	/* Back to ASID 5: its entry is still cached (a hit, and not stale). */
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, f->l0 | (5ull << 48));
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.tlb_hits, 1);
	assert_int_equal(s.walks, 2);
	assert_int_equal(s.stale_accesses, 0);

	/* TLBIASID 6 leaves ASID 5 alone... */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIASID, 6);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(stats(f).tlb_hits, 2);
	/* ...TLBIASID 5 takes its leaf and its walk-cache entries. */
	put_desc(f, f->l0, 0, l1b | TABLE); /* ASID 5's walk now reaches 0x8_8060_0000 */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIASID, 5);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880600000ull);
	s = stats(f);
	assert_int_equal(s.walks, 3);
	assert_int_equal(s.stale_accesses, 0);
	/* TLBIASID 6 took ASID 6's entry: back on ASID 6, a miss. */
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, l0b | (6ull << 48));
	assert_int_equal(xlate_ok(f, VA_4K), 0x880600000ull);
	s = stats(f);
	assert_int_equal(s.tlb_hits, 2);
	assert_int_equal(s.tlb_misses, 4);
}

static void test_global_entries(void **state)
{
	struct fx *f = *state;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_GLOBAL, NULL);
	struct ik_hw_xlate x;

	setup_ctx(f, 0, 0, SID, f->l0, 5, TCR_48);
	/* nG clear: the entry is global and hits for every ASID. */
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, f->l0 | (9ull << 48));
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(stats(f).tlb_hits, 1);
	/* TLBIASID does not touch global entries; TLBIVA (any ASID) does. */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIASID, 9);
	xlate_ok(f, VA_4K);
	assert_int_equal(stats(f).tlb_hits, 2);
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVA, (VA_4K >> 12) | (3ull << 48));
	xlate_ok(f, VA_4K);
	assert_int_equal(stats(f).tlb_misses, 2);

	/*
	 * A match conflict: ASID 9 caches an nG page at VA_4K + 0x1000, then a
	 * global 2 MiB block over it is cached through another address.
	 */
	put_desc(f, l3, 4, 0x880104000ull | PAGE_USER);
	xlate_ok(f, VA_4K + 0x1000);
	phys_addr_t l2b = new_table(f), l1b = new_table(f), l0b = new_table(f);
	put_desc(f, l0b, 0, l1b | TABLE);
	put_desc(f, l1b, 0x100, l2b | TABLE);
	/* 2 MiB block at L2 index 1, global (nG clear): 0x441. */
	put_desc(f, l2b, 1, 0x880200000ull | 0x441);
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, l0b | (10ull << 48));
	/* VA_4K + 0x5000 = 0x40_0020_8000: offset 0x8000 into the block. */
	assert_int_equal(xlate_ok(f, VA_4K + 0x5000), 0x880208000ull);
	wrq(f, SMMU_CB(0) + SMMU_CB_TTBR0, f->l0 | (9ull << 48));
	f->irq.ack = false;
	assert_int_equal(xlate(f, VA_4K + 0x1000, false, &x), -EFAULT);
	/* FSR.TLBMCF (bit 5). */
	assert_int_equal(f->irq.fsr, 0x20);
}

static void test_tlbi_all_and_global(void **state)
{
	struct fx *f = *state;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_USER, NULL);

	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	setup_ctx(f, 1, 1, SID + 1, f->l0, ASID, TCR_48);
	/* Bank 1's VMID (CBAR 7:0) is 3. */
	wr(f, SMMU_GR1_BASE + SMMU_GR1_CBAR(1), CBAR_S1 | 3);
	xlate_ok(f, VA_4K);
	assert_int_equal(xlate_attrs(f, SID + 1, VA_4K, false, 0, &(struct ik_hw_xlate){ 0 }), 0);
	put_desc(f, l3, 3, 0x880700000ull | PAGE_USER);

	/* TLBIALL on bank 0 only. */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIALL, 0);
	assert_int_equal(rd(f, SMMU_CB(1) + SMMU_CB_TLBSTATUS), 0);
	tlbi_sync(f, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880700000ull);
	struct ik_hw_xlate x;
	assert_int_equal(xlate_attrs(f, SID + 1, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x880100000ull);
	assert_int_equal(stats(f).stale_accesses, 1);

	/* TLBIVMID 2: no bank has it (bank 1 stays stale). TLBIVMID 3: bank 1. */
	wr(f, SMMU_GR0_TLBIVMID, 2);
	assert_int_equal(rd(f, SMMU_GR0_sTLBGSTATUS), 1);
	assert_int_equal(xlate_attrs(f, SID + 1, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x880100000ull);
	wr(f, SMMU_GR0_TLBIVMID, 3);
	wr(f, SMMU_GR0_sTLBGSYNC, 0);
	assert_int_equal(rd(f, SMMU_GR0_sTLBGSTATUS), 0);
	assert_int_equal(xlate_attrs(f, SID + 1, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x880700000ull);

	/* TLBIALLNSNH: every bank. */
	put_desc(f, l3, 3, 0x880800000ull | PAGE_USER);
	wr(f, SMMU_GR0_TLBIALLNSNH, 0);
	assert_int_equal(rd(f, SMMU_GR0_sTLBGSTATUS), 1);
	wr(f, SMMU_GR0_sTLBGSYNC, 0);
	assert_int_equal(xlate_ok(f, VA_4K), 0x880800000ull);
	assert_int_equal(xlate_attrs(f, SID + 1, VA_4K, false, 0, &x), 0);
	assert_int_equal(x.pa, 0x880800000ull);
	assert_int_equal(stats(f).stale_accesses, 2);
}

static void test_unsynced_counter(void **state)
{
	struct fx *f = *state;

	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	xlate_ok(f, VA_4K);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 0);
	/* Synced, then used: not counted. */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIALL, 0);
	tlbi_sync(f, 0);
	xlate_ok(f, VA_4K);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 0);
	/* Two invalidations, no sync, then a translation: 2, counted once. */
	wr(f, SMMU_CB(0) + SMMU_CB_TLBIASID, ASID);
	wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVA, VA_4K >> 12);
	xlate_ok(f, VA_4K);
	xlate_ok(f, VA_4K);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 2);
	/* Another bank's pending invalidation does not count here. */
	wr(f, SMMU_CB(3) + SMMU_CB_TLBIALL, 0);
	xlate_ok(f, VA_4K);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 2);
	/* A global one does. Writing the counter clears it. */
	wr(f, SMMU_GR0_TLBIALLNSNH, 0);
	xlate_ok(f, VA_4K);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 3);
	wr(f, SMMU_IMPDEF_UNSYNCED_TLBI, 0);
	assert_int_equal(rd(f, SMMU_IMPDEF_UNSYNCED_TLBI), 0);
}

static void test_tlb_capacity_lru(void **state)
{
	struct fx *f = *state;
	const struct ik_iommu_desc desc = {
		.name = "small", .compatible = SMMU_COMPATIBLE, .mmio_base = 0x2b500000ull,
		.irq = SMMU_IRQ, .tlb_entries = 2,
	};
	struct ik_hw_iommu *hw = ik_arm_smmu_model_type.create(f->m, &desc);
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	struct ik_hw_xlate x;
	const uint32_t b = 0x100000; /* the second SMMU's offset from SMMU_BASE */

	assert_non_null(hw);
	put_desc(f, l3, 4, 0x880104000ull | PAGE_USER);
	put_desc(f, l3, 5, 0x880105000ull | PAGE_USER);
	wr(f, b + SMMU_GR1_BASE + SMMU_GR1_CBAR(0), CBAR_S1);
	wr(f, b + SMMU_GR1_BASE + SMMU_GR1_CBA2R(0), SMMU_CBA2R_VA64);
	wr(f, b + SMMU_CB(0) + SMMU_CB_TCR2, TCR2_48);
	wrq(f, b + SMMU_CB(0) + SMMU_CB_TTBR0, f->l0 | ((uint64_t)ASID << 48));
	wr(f, b + SMMU_CB(0) + SMMU_CB_TCR, TCR_48);
	wr(f, b + SMMU_CB(0) + SMMU_CB_SCTLR, SCTLR_ON);
	wr(f, b + SMMU_GR0_SMR(0), SMR_SID);
	wr(f, b + SMMU_GR0_S2CR(0), 0);
	wr(f, b + SMMU_GR0_sCR0, SCR0_ON);
	/* Pages 3, 4 fill the two entries; 3 is used again; 5 evicts 4 (LRU). */
	uint64_t va[] = { VA_4K, VA_4K + 0x1000, VA_4K, VA_4K + 0x2000, VA_4K, VA_4K + 0x1000 };
	for (size_t i = 0; i < ARRAY_SIZE(va); i++)
		assert_int_equal(hw->ops->translate(hw, SID, va[i], false, 0, &x), 0);
	pthread_mutex_lock(hw->stats_lock);
	struct ik_iommu_hw_stats s = hw->stats;
	pthread_mutex_unlock(hw->stats_lock);
	/* Misses: 3, 4, 5, 4 again. Hits: 3, 3. */
	assert_int_equal(s.tlb_misses, 4);
	assert_int_equal(s.tlb_hits, 2);
	hw->ops->destroy(hw);
}

/* --- power and creation --- */

static void test_power(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	xlate_ok(f, VA_4K);
	f->hw->ops->power(f->hw, false);
	/* Off: the bus reads 0, writes are lost, translations fail. */
	assert_int_equal(rd(f, SMMU_GR0_sIDR0), 0);
	wr(f, SMMU_GR0_sCR0, SCR0_ON);
	assert_int_equal(xlate(f, VA_4K, false, &x), -EIO);
	f->hw->ops->power(f->hw, true);
	/* On: reset values, CLIENTPD set, the TLB and walk cache empty. */
	assert_int_equal(rd(f, SMMU_GR0_sCR0), 0x00200001);
	assert_int_equal(rd(f, SMMU_CB(0) + SMMU_CB_SCTLR), 0);
	assert_int_equal(rdq(f, SMMU_CB(0) + SMMU_CB_TTBR0), 0);
	assert_int_equal(xlate_ok(f, VA_4K), VA_4K);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	uint64_t misses = stats(f).tlb_misses;
	assert_int_equal(xlate_ok(f, VA_4K), 0x880100000ull);
	assert_int_equal(stats(f).tlb_misses, misses + 1);
	/* On while on changes nothing. */
	f->hw->ops->power(f->hw, true);
	assert_int_equal(rd(f, SMMU_GR0_sCR0), 0x00200006);
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct ik_iommu_desc desc = {
		.name = "bad", .compatible = SMMU_COMPATIBLE, .mmio_base = 0x2b408000ull,
		.irq = 1,
	};

	/* The window must be aligned to its 64 KiB size. */
	errno = 0;
	assert_null(ik_arm_smmu_model_type.create(f->m, &desc));
	assert_int_equal(errno, EINVAL);
	desc.mmio_base = 0x2b600000ull;
	desc.tlb_entries = 4097;
	assert_null(ik_arm_smmu_model_type.create(f->m, &desc));
	assert_int_equal(errno, EINVAL);
	assert_null(ik_arm_smmu_model_type.create(f->m, NULL));
	assert_null(ik_arm_smmu_model_type.create(NULL, &desc));
	/* Overlapping the first SMMU's window. */
	desc.tlb_entries = 0;
	desc.mmio_base = SMMU_BASE;
	errno = 0;
	assert_null(ik_arm_smmu_model_type.create(f->m, &desc));
	assert_int_equal(errno, EBUSY);
}

/* --- concurrency (for the sanitizers) --- */

struct dma_thread {
	struct fx *f;
	uint64_t va;
	uint64_t pa;
	int errors;
};

static void *dma_loop(void *arg)
{
	struct dma_thread *t = arg;
	struct ik_hw_xlate x;

	for (int i = 0; i < 2000; i++) {
		if (t->f->hw->ops->translate(t->f->hw, SID, t->va, false, 0, &x) || x.pa != t->pa)
			t->errors++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	phys_addr_t l3 = map_4k(f, 0x880100000ull, PAGE_USER, NULL);
	struct dma_thread t[2] = {
		{ f, VA_4K, 0x880100000ull, 0 }, { f, VA_4K + 0x1000, 0x880104000ull, 0 },
	};
	pthread_t tid[2];

	put_desc(f, l3, 4, 0x880104000ull | PAGE_USER);
	setup_ctx(f, 0, 0, SID, f->l0, ASID, TCR_48);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, dma_loop, &t[i]), 0);
	/* Invalidate and rewrite the same PTE words meanwhile. */
	for (int i = 0; i < 500; i++) {
		put_desc(f, l3, 4, 0x880104000ull | PAGE_USER);
		wrq(f, SMMU_CB(0) + SMMU_CB_TLBIVA, ((VA_4K >> 12) + 1) | ((uint64_t)ASID << 48));
		wr(f, SMMU_CB(0) + SMMU_CB_TLBSYNC, 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].errors, 0);
	}
	assert_int_equal(stats(f).faults, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_id_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clientpd_bypass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_match_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s2cr_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unidentified_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_match_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_level_t0sz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_configuration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translation_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_prot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlbiva_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlbi_asid_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlbi_all_and_global, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlb_capacity_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
