// SPDX-License-Identifier: MIT
/*
 * The OMAP2/3 MMU hardware model, verified from the bus as a hardware
 * verification engineer would: registers through MMIO, translation tables
 * written word by word into physical memory, DMA translations through the
 * model's translate/walk ops. No driver and no page-table code is used.
 *
 * Descriptor words are derived from the TRM in the comments next to them
 * (OMAP35x/36xx TRM chapter "Memory Management Units"; second-level
 * attribute bits as in Linux's omap-iommu.c):
 *   first level, index VA[31:20], at TTB + 4 * index:
 *     [1:0] = 00 fault, 01 page table (base [31:10]), 10 section
 *     (bit 18 = 0: 1 MiB, base [31:20]; bit 18 = 1: 16 MiB, base [31:24],
 *     repeated 16 times), 11 fault; M bit 17, E bit 15, ES bits 11:10
 *   second level, index VA[19:12], at table base + 4 * index:
 *     [1:0] = 00 fault, 01 large page 64 KiB (base [31:16], repeated 16
 *     times), 1x small page 4 KiB (base [31:12]); M bit 11, E bit 9,
 *     ES bits 5:4
 * and the RAM register holds them as E bit 9, ES bits 8:7, M bit 6.
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

#include "ik/compiler.h"
#include "ik/machine.h"
#include "ik/omap-mmu-regs.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   (64ull << 20)
#define MMU_BASE   0x480bd400ull /* the OMAP3 camera ISP MMU's address */
#define MMU_IRQ    24u
#define TLB_SIZE   8u            /* as the camera MMU (TRM table 15-7) */

/* CNTL values used throughout. */
#define CNTL_WALK  (OMAP_MMU_CNTL_MMU_EN | OMAP_MMU_CNTL_TWL_EN) /* 0x6 */
#define CNTL_NOTWL OMAP_MMU_CNTL_MMU_EN                           /* 0x2 */

struct irq_log {
	struct fx *fx;
	unsigned int count;
	uint32_t status;   /* IRQSTATUS as the handler read it */
	uint32_t fault_ad; /* FAULT_AD as the handler read it */
	bool ack;          /* clear the status it saw (write 1 to clear) */
};

struct fx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct ik_hw_iommu *hw;
	phys_addr_t ttb; /* 16 KiB first-level table, zeroed */
	struct irq_log irq;
	unsigned int async_irqs; /* test_concurrent_dma's handler, atomic */
};

/* --- helpers --- */

static uint32_t rd(struct fx *f, uint32_t off)
{
	uint32_t v = 0xdeadbeef;
	assert_int_equal(ik_machine_mmio_read32(f->m, MMU_BASE + off, &v), 0);
	return v;
}

static void wr(struct fx *f, uint32_t off, uint32_t v)
{
	assert_int_equal(ik_machine_mmio_write32(f->m, MMU_BASE + off, v), 0);
}

static void put32(struct fx *f, phys_addr_t pa, uint32_t v)
{
	uint32_t *p = ik_mem_ptr(f->mem, pa, 4);
	assert_non_null(p);
	ik_write_le32(p, v);
}

/* First-level descriptor for VA index @idx. */
static void put_l1(struct fx *f, uint32_t idx, uint32_t desc)
{
	put32(f, f->ttb + 4ull * idx, desc);
}

static phys_addr_t alloc_l2(struct fx *f)
{
	phys_addr_t pa;
	assert_int_equal(ik_mem_alloc_pages(f->mem, 1, IK_PAGE_SIZE, &pa), 0);
	return pa;
}

static int xlate(struct fx *f, uint64_t va, bool write, struct ik_hw_xlate *x)
{
	return f->hw->ops->translate(f->hw, 0, va, write, 0, x);
}

/* Translate @va, which must succeed, and return the physical address. */
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

static void load_tlb(struct fx *f, unsigned int victim, uint32_t cam, uint32_t ram)
{
	uint32_t lock = rd(f, OMAP_MMU_LOCK) & OMAP_MMU_LOCK_BASE_MASK;
	wr(f, OMAP_MMU_LOCK, lock | (victim << OMAP_MMU_LOCK_VICT_SHIFT));
	wr(f, OMAP_MMU_CAM, cam);
	wr(f, OMAP_MMU_RAM, ram);
	wr(f, OMAP_MMU_LD_TLB, 1);
}

static void read_tlb(struct fx *f, unsigned int victim, uint32_t *cam, uint32_t *ram)
{
	uint32_t lock = rd(f, OMAP_MMU_LOCK) & OMAP_MMU_LOCK_BASE_MASK;
	wr(f, OMAP_MMU_LOCK, lock | (victim << OMAP_MMU_LOCK_VICT_SHIFT));
	*cam = rd(f, OMAP_MMU_READ_CAM);
	*ram = rd(f, OMAP_MMU_READ_RAM);
}

static unsigned int lock_victim(struct fx *f)
{
	return (rd(f, OMAP_MMU_LOCK) & OMAP_MMU_LOCK_VICT_MASK) >> OMAP_MMU_LOCK_VICT_SHIFT;
}

/*
 * The interrupt handler reads and acknowledges the status through the
 * registers, as an ISR does. Were the model lock still held by the
 * faulting thread, these reads would deadlock (and the alarm set in
 * setup() would fail the test).
 */
static void on_irq(unsigned int irq, void *arg)
{
	struct irq_log *log = arg;

	assert_int_equal(irq, MMU_IRQ);
	log->count++;
	log->status = rd(log->fx, OMAP_MMU_IRQSTATUS);
	log->fault_ad = rd(log->fx, OMAP_MMU_FAULT_AD);
	if (log->ack)
		wr(log->fx, OMAP_MMU_IRQSTATUS, log->status);
}

/* Table walking on, every interrupt enabled. */
static void enable_walk(struct fx *f)
{
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb);
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_MASK);
	wr(f, OMAP_MMU_CNTL, CNTL_WALK);
}

static struct ik_hw_iommu *new_model(struct ik_machine *m, phys_addr_t base, unsigned int nr)
{
	const struct ik_iommu_desc desc = {
		.name = "cam-mmu", .compatible = "ti,omap2-iommu", .mmio_base = base,
		.irq = MMU_IRQ, .tlb_entries = nr,
	};
	return ik_omap_mmu_model_type.create(m, &desc);
}

static int setup(void **state)
{
	static const struct ik_region_desc ram = { "dram", RAM_BASE, RAM_SIZE };
	const struct ik_machine_desc md = {
		.size = sizeof(md), .name = "mmu-bench", .regions = &ram, .nr_regions = 1,
	};
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	alarm(20); /* a deadlock fails the test instead of hanging it */
	f->m = ik_machine_create(&md);
	assert_non_null(f->m);
	f->mem = ik_machine_mem(f->m);
	f->hw = new_model(f->m, MMU_BASE, TLB_SIZE);
	assert_non_null(f->hw);
	assert_string_equal(f->hw->name, "cam-mmu");
	/* 4096 words, aligned to the table's size (16 KiB). */
	assert_int_equal(ik_mem_alloc_pages(f->mem, 4, 0x4000, &f->ttb), 0);
	f->irq.fx = f;
	f->irq.ack = true;
	assert_int_equal(ik_request_irq(f->m, MMU_IRQ, on_irq, &f->irq), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ik_free_irq(f->m, MMU_IRQ, on_irq, &f->irq);
	f->hw->ops->destroy(f->hw);
	ik_machine_destroy(f->m);
	free(f);
	alarm(0);
	return 0;
}

/* --- registers --- */

static void test_reset_values(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, OMAP_MMU_REVISION), 0x11); /* v1.1, as OMAP3 reads */
	assert_int_equal(rd(f, OMAP_MMU_SYSCONFIG), 0);
	assert_int_equal(rd(f, OMAP_MMU_SYSSTATUS), 1); /* RESETDONE */
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0);
	assert_int_equal(rd(f, OMAP_MMU_IRQENABLE), 0);
	assert_int_equal(rd(f, OMAP_MMU_WALKING_ST), 0);
	assert_int_equal(rd(f, OMAP_MMU_CNTL), 0);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0);
	assert_int_equal(rd(f, OMAP_MMU_TTB), 0);
	assert_int_equal(rd(f, OMAP_MMU_LOCK), 0);
	assert_int_equal(rd(f, OMAP_MMU_CAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_RAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_READ_CAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_READ_RAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_EMU_FAULT_AD), 0);
	/* Command registers read 0. */
	assert_int_equal(rd(f, OMAP_MMU_LD_TLB), 0);
	assert_int_equal(rd(f, OMAP_MMU_GFLUSH), 0);
	assert_int_equal(rd(f, OMAP_MMU_FLUSH_ENTRY), 0);
}

static void test_register_fields(void **state)
{
	struct fx *f = *state;

	/* Only the defined fields hold what is written. */
	wr(f, OMAP_MMU_SYSCONFIG, ~OMAP_MMU_SYSCONFIG_SOFTRESET);
	/* CLOCKACTIVITY 9:8, IDLEMODE 4:3, AUTOIDLE 0 */
	assert_int_equal(rd(f, OMAP_MMU_SYSCONFIG), 0x319);
	wr(f, OMAP_MMU_IRQENABLE, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_IRQENABLE), 0x1f);
	wr(f, OMAP_MMU_CNTL, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_CNTL), 0xe); /* EML 3, TWL 2, MMU 1 */
	wr(f, OMAP_MMU_TTB, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_TTB), 0xffffff80); /* TTBADDRESS 31:7 */
	wr(f, OMAP_MMU_LOCK, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_LOCK), 0x7df0); /* BASEVALUE 14:10, CURRENTVICTIM 8:4 */
	wr(f, OMAP_MMU_CAM, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_CAM), 0xfffff00f); /* VATAG 31:12, P 3, V 2, PAGESIZE 1:0 */
	wr(f, OMAP_MMU_RAM, 0xffffffff);
	assert_int_equal(rd(f, OMAP_MMU_RAM), 0xfffff3c0); /* PA 31:12, E 9, ES 8:7, M 6 */
	/* Read-only registers ignore writes. */
	wr(f, OMAP_MMU_REVISION, 0);
	wr(f, OMAP_MMU_SYSSTATUS, 0);
	wr(f, OMAP_MMU_FAULT_AD, 0x1234);
	wr(f, OMAP_MMU_WALKING_ST, 1);
	wr(f, OMAP_MMU_EMU_FAULT_AD, 0x1234);
	assert_int_equal(rd(f, OMAP_MMU_REVISION), 0x11);
	assert_int_equal(rd(f, OMAP_MMU_SYSSTATUS), 1);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0);
	assert_int_equal(rd(f, OMAP_MMU_WALKING_ST), 0);
	assert_int_equal(rd(f, OMAP_MMU_EMU_FAULT_AD), 0);
	/* Holes read 0 and ignore writes; so does GP_REG (0x88), OMAP4 and later only. */
	static const uint32_t holes[] = { 0x04, 0x20, 0x3c, 0x74, 0x88, 0xfc };
	for (unsigned int i = 0; i < ARRAY_SIZE(holes); i++) {
		wr(f, holes[i], 0xffffffff);
		assert_int_equal(rd(f, holes[i]), 0);
	}
	/* And nothing else moved. */
	assert_int_equal(rd(f, OMAP_MMU_CNTL), 0xe);
	assert_int_equal(rd(f, OMAP_MMU_IRQENABLE), 0x1f);
}

static void test_softreset(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	enable_walk(f);
	wr(f, OMAP_MMU_SYSCONFIG, 0x19); /* smart idle, autoidle */
	/* A locked, preserved 4K entry at index 0: CAM 0x00005000|P|V|4K = 0x0000500e. */
	load_tlb(f, 0, 0x0000500e, 0x80005000);
	wr(f, OMAP_MMU_LOCK, 1u << OMAP_MMU_LOCK_BASE_SHIFT | 1u << OMAP_MMU_LOCK_VICT_SHIFT);
	f->irq.ack = false;
	assert_int_equal(xlate(f, 0x00700000, false, &x), -EFAULT); /* empty L1: fault */
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), OMAP_MMU_IRQ_TRANSLATIONFAULT);

	wr(f, OMAP_MMU_SYSCONFIG, OMAP_MMU_SYSCONFIG_SOFTRESET);
	assert_int_equal(rd(f, OMAP_MMU_SYSSTATUS), 1);
	assert_int_equal(rd(f, OMAP_MMU_SYSCONFIG), 0); /* SOFTRESET reads 0, fields reset */
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0);
	assert_int_equal(rd(f, OMAP_MMU_IRQENABLE), 0);
	assert_int_equal(rd(f, OMAP_MMU_CNTL), 0);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0);
	assert_int_equal(rd(f, OMAP_MMU_TTB), 0);
	assert_int_equal(rd(f, OMAP_MMU_LOCK), 0);
	assert_int_equal(rd(f, OMAP_MMU_CAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_RAM), 0);
	assert_int_equal(rd(f, OMAP_MMU_READ_CAM), 0); /* entry 0, locked and preserved, gone */
	/* The old entry does not translate even with the MMU back on. */
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	assert_int_equal(xlate(f, 0x5000, false, &x), -EFAULT);
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), OMAP_MMU_IRQ_TLBMISS);
}

/* --- translation --- */

static void test_passthrough(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	/* Tables and a TLB entry exist, but MMU_EN is clear: addresses pass through. */
	put_l1(f, 0, 0x81200002);
	load_tlb(f, 0, 0x00000004, 0x81200000); /* 1M at 0 -> 0x81200000 */
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb);
	wr(f, OMAP_MMU_CNTL, OMAP_MMU_CNTL_TWL_EN);
	assert_int_equal(xlate(f, 0x00012345, true, &x), 0);
	assert_int_equal(x.pa, 0x00012345);
	assert_int_equal(x.page_mask, IK_PAGE_SIZE - 1);

	phys_addr_t pa = 0;
	int prot = 0;
	assert_int_equal(f->hw->ops->walk(f->hw, 0, 0x00012345, &pa, &prot), -EIO);
	assert_int_equal(pa, 0x00012345);

	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.accesses, 1);
	assert_int_equal(s.tlb_hits + s.tlb_misses + s.walks + s.faults, 0);
	/* The master's bus is 32 bits wide: nothing above 4 GiB reaches the MMU. */
	assert_int_equal(xlate(f, 0x100000000ull, false, &x), -EFAULT);
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0);
}

/*
 * One leaf of each size, each walked once, filled into entries 0..3 in
 * turn, then hit.
 */
static void test_leaf_sizes(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);

	/* 1 MiB section: VA 0x00100000 -> PA 0x81200000. Index 1; 0x81200000 | 0b10. */
	put_l1(f, 1, 0x81200002);
	/*
	 * 16 MiB supersection: VA 0x01000000 -> PA 0x82000000, indices 16..31;
	 * 0x82000000 | bit 18 (0x40000) | 0b10 = 0x82040002 in each.
	 */
	for (uint32_t i = 16; i < 32; i++)
		put_l1(f, i, 0x82040002);
	/* Page table for VA 0x00400000 (index 4): table base | 0b01. */
	put_l1(f, 4, (uint32_t)l2 | 1);
	/* 4 KiB small page: VA 0x00403000 -> 0x80123000, L2 index 3; 0x80123000 | 0b10. */
	put32(f, l2 + 4 * 3, 0x80123002);
	/* 64 KiB large page: VA 0x00410000 -> 0x80870000, L2 indices 16..31; | 0b01. */
	for (uint32_t i = 16; i < 32; i++)
		put32(f, l2 + 4 * i, 0x80870001);
	enable_walk(f);

	static const struct {
		uint32_t va, pa;
		uint64_t mask;
		uint32_t cam; /* VA tag | V (0x4) | PAGESIZE */
		uint32_t ram; /* PA, no attributes */
	} leaf[] = {
		{ 0x00154321, 0x81254321, 0xfffff, 0x00100004, 0x81200000 },     /* 1M: PGSZ 00 */
		{ 0x01abcdef, 0x82abcdef, 0xffffff, 0x01000007, 0x82000000 },    /* 16M: PGSZ 11 */
		{ 0x00403abc, 0x80123abc, 0xfff, 0x00403006, 0x80123000 },       /* 4K: PGSZ 10 */
		{ 0x0041fffc, 0x8087fffc, 0xffff, 0x00410005, 0x80870000 },      /* 64K: PGSZ 01 */
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(leaf); i++) {
		struct ik_hw_xlate x;
		assert_int_equal(xlate(f, leaf[i].va, false, &x), 0);
		assert_int_equal(x.pa, leaf[i].pa);
		assert_int_equal(x.page_mask, leaf[i].mask);
		/* The side-effect-free walk agrees. */
		phys_addr_t pa = 0;
		int prot = 0;
		assert_int_equal(f->hw->ops->walk(f->hw, 0, leaf[i].va, &pa, &prot), 0);
		assert_int_equal(pa, leaf[i].pa);
		assert_int_equal(prot, IOMMU_READ | IOMMU_WRITE);
	}
	/* The walker filled entries 0..3 in order; the victim moved to 4. */
	assert_int_equal(lock_victim(f), 4);
	for (unsigned int i = 0; i < ARRAY_SIZE(leaf); i++) {
		uint32_t cam, ram;
		read_tlb(f, i, &cam, &ram);
		assert_int_equal(cam, leaf[i].cam);
		assert_int_equal(ram, leaf[i].ram);
	}
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.walks, 4);
	assert_int_equal(s.tlb_misses, 4);
	/* Other addresses inside each leaf now hit. */
	assert_int_equal(xlate_ok(f, 0x001fffff), 0x812fffff);
	assert_int_equal(xlate_ok(f, 0x01000000), 0x82000000);
	assert_int_equal(xlate_ok(f, 0x00403000), 0x80123000);
	assert_int_equal(xlate_ok(f, 0x00410000), 0x80870000);
	s = stats(f);
	assert_int_equal(s.tlb_hits, 4);
	assert_int_equal(s.walks, 4);
	assert_int_equal(s.stale_accesses, 0);
	assert_int_equal(s.faults, 0);
}

static void test_attributes_to_ram(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);

	/*
	 * Section with M (bit 17, 0x20000), E big (bit 15, 0x8000), ES 16-bit
	 * (01 in bits 11:10, 0x400): 0x83300000 | 0x28400 | 0b10 = 0x83328402.
	 * RAM: PA | E (0x200) | ES 01 << 7 (0x80) | M (0x40) = 0x833002c0.
	 */
	put_l1(f, 2, 0x83328402);
	/*
	 * Small page with M (bit 11, 0x800), E (bit 9, 0x200), ES 32-bit (10 in
	 * bits 5:4, 0x20): 0x80777000 | 0xa20 | 0b10 = 0x80777a22.
	 * RAM: 0x80777000 | 0x200 | 10 << 7 (0x100) | 0x40 = 0x80777340.
	 */
	put_l1(f, 3, (uint32_t)l2 | 1);
	put32(f, l2 + 4 * 9, 0x80777a22);
	enable_walk(f);
	assert_int_equal(xlate_ok(f, 0x00200010), 0x83300010);
	assert_int_equal(xlate_ok(f, 0x00309010), 0x80777010);

	uint32_t cam, ram;
	read_tlb(f, 0, &cam, &ram);
	assert_int_equal(cam, 0x00200004);
	assert_int_equal(ram, 0x833002c0);
	read_tlb(f, 1, &cam, &ram);
	assert_int_equal(cam, 0x00309006);
	assert_int_equal(ram, 0x80777340);
}

/*
 * TTBADDRESS is bits [31:7]: a table 128-byte aligned is walked from there.
 * With TTB = table + 0x80, VA index 1 is read at table + 0x80 + 4.
 */
static void test_ttb_field(void **state)
{
	struct fx *f = *state;

	put32(f, f->ttb + 0x84, 0x81a00002);
	put32(f, f->ttb + 0x04, 0x81b00002); /* what a 16 KiB-masked TTB would read */
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb + 0x80 + 0x7f); /* bits 6:0 are dropped */
	assert_int_equal(rd(f, OMAP_MMU_TTB), (uint32_t)f->ttb + 0x80);
	wr(f, OMAP_MMU_CNTL, CNTL_WALK);
	assert_int_equal(xlate_ok(f, 0x00100004), 0x81a00004);
}

static void test_no_permission_bits(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	put_l1(f, 5, 0x81500002);
	enable_walk(f);
	assert_int_equal(xlate(f, 0x00500000, true, &x), 0);
	assert_int_equal(x.pa, 0x81500000);
	assert_int_equal(xlate(f, 0x00500004, false, &x), 0);
	assert_int_equal(x.pa, 0x81500004);
	assert_int_equal(stats(f).faults, 0);
}

static void test_fill_hit_miss(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);

	put_l1(f, 0, (uint32_t)l2 | 1);
	for (uint32_t i = 0; i < 4; i++)
		put32(f, l2 + 4 * i, (0x80400000 + (i << 12)) | 2);
	enable_walk(f);

	assert_int_equal(xlate_ok(f, 0x0000), 0x80400000); /* miss, walk */
	assert_int_equal(xlate_ok(f, 0x0ffc), 0x80400ffc); /* hit */
	assert_int_equal(xlate_ok(f, 0x0010), 0x80400010); /* hit */
	assert_int_equal(xlate_ok(f, 0x3008), 0x80403008); /* miss, walk */
	assert_int_equal(xlate_ok(f, 0x3000), 0x80403000); /* hit */
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.accesses, 5);
	assert_int_equal(s.tlb_misses, 2);
	assert_int_equal(s.walks, 2);
	assert_int_equal(s.tlb_hits, 3);
	assert_int_equal(s.faults, 0);
	assert_int_equal(lock_victim(f), 2);
}

static void test_round_robin_and_lock(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);

	/* Twelve 4K pages VA 0x00800000 + n * 4K -> 0x80600000 + n * 4K (L1 index 8). */
	put_l1(f, 8, (uint32_t)l2 | 1);
	for (uint32_t i = 0; i < 12; i++)
		put32(f, l2 + 4 * i, (0x80600000 + (i << 12)) | 2);
	/* Two locked entries loaded by hand: 1M at 0x00c00000 and 4K at 0x00d05000. */
	load_tlb(f, 0, 0x00c00004, 0x81c00000);
	load_tlb(f, 1, 0x00d05006, 0x81d05000);
	wr(f, OMAP_MMU_LOCK, 2u << OMAP_MMU_LOCK_BASE_SHIFT | 2u << OMAP_MMU_LOCK_VICT_SHIFT);
	enable_walk(f);

	/* Walks fill 2..7, then wrap to the lock base, 2, never 0 or 1. */
	static const unsigned int next[] = { 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 2 };
	for (uint32_t i = 0; i < 12; i++) {
		assert_int_equal(xlate_ok(f, 0x00800000 + (i << 12)), 0x80600000 + (i << 12));
		assert_int_equal(lock_victim(f), next[i]);
	}
	uint32_t cam, ram;
	read_tlb(f, 0, &cam, &ram);
	assert_int_equal(cam, 0x00c00004);
	assert_int_equal(ram, 0x81c00000);
	read_tlb(f, 1, &cam, &ram);
	assert_int_equal(cam, 0x00d05006);
	/* Entry 2 holds the most recent fill of it: page 6 (fills 0..5 went to 2..7). */
	read_tlb(f, 2, &cam, &ram);
	assert_int_equal(cam, 0x00806006);
	assert_int_equal(ram, 0x80606000);

	/* With walking off, the locked entries still translate; evicted pages miss. */
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	assert_int_equal(xlate_ok(f, 0x00c12345), 0x81c12345);
	assert_int_equal(xlate_ok(f, 0x00d05678), 0x81d05678);
	assert_int_equal(xlate_ok(f, 0x0080b000), 0x8060b000); /* page 11, still cached */
	struct ik_hw_xlate x;
	assert_int_equal(xlate(f, 0x00800000, false, &x), -EFAULT); /* page 0, evicted */
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0); /* the handler acknowledged it */
	assert_int_equal(f->irq.status, OMAP_MMU_IRQ_TLBMISS);
}

static void test_all_entries_locked(void **state)
{
	struct fx *f = *state;

	/* BASEVALUE 8 of 8 entries: the walker has nowhere to cache. */
	put_l1(f, 1, 0x81200002);
	wr(f, OMAP_MMU_LOCK, 8u << OMAP_MMU_LOCK_BASE_SHIFT);
	enable_walk(f);
	assert_int_equal(xlate_ok(f, 0x00100000), 0x81200000);
	assert_int_equal(xlate_ok(f, 0x00100004), 0x81200004);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.walks, 2);
	assert_int_equal(s.tlb_hits, 0);
	for (unsigned int i = 0; i < TLB_SIZE; i++) {
		uint32_t cam, ram;
		read_tlb(f, i, &cam, &ram);
		assert_int_equal(cam, 0);
	}
}

static void test_gflush_spares_preserved(void **state)
{
	struct fx *f = *state;

	/* P set (0x8): 0x0010000c is 1M at 0x00100000, V, preserved. */
	load_tlb(f, 0, 0x0010000c, 0x81100000);
	load_tlb(f, 1, 0x00200004, 0x81200000); /* not preserved */
	/* Locked but not preserved: GFLUSH still drops it. */
	load_tlb(f, 2, 0x00300004, 0x81300000);
	wr(f, OMAP_MMU_LOCK, 3u << OMAP_MMU_LOCK_BASE_SHIFT | 3u << OMAP_MMU_LOCK_VICT_SHIFT);
	/* And one walk-filled entry at index 3. */
	put_l1(f, 4, 0x81400002);
	enable_walk(f);
	assert_int_equal(xlate_ok(f, 0x00400000), 0x81400000);

	wr(f, OMAP_MMU_GFLUSH, 1);
	assert_int_equal(stats(f).invalidations, 3);
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	assert_int_equal(xlate_ok(f, 0x00100000), 0x81100000);
	struct ik_hw_xlate x;
	assert_int_equal(xlate(f, 0x00200000, false, &x), -EFAULT);
	assert_int_equal(xlate(f, 0x00300000, false, &x), -EFAULT);
	assert_int_equal(xlate(f, 0x00400000, false, &x), -EFAULT);
	/* A second flush finds nothing to drop; writing 0 does nothing. */
	wr(f, OMAP_MMU_GFLUSH, 1);
	wr(f, OMAP_MMU_GFLUSH, 0);
	assert_int_equal(stats(f).invalidations, 3);
	assert_int_equal(xlate_ok(f, 0x00100000), 0x81100000);
}

static void test_flush_entry_exact(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	load_tlb(f, 0, 0x0010000c, 0x81100000); /* 1M at 0x00100000, preserved */
	load_tlb(f, 1, 0x00203006, 0x81203000); /* 4K at 0x00203000 */
	load_tlb(f, 2, 0x00204006, 0x81204000); /* 4K at 0x00204000 */
	wr(f, OMAP_MMU_LOCK, 1u << OMAP_MMU_LOCK_BASE_SHIFT | 3u << OMAP_MMU_LOCK_VICT_SHIFT);
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_MASK);

	/* A VA inside the section drops it, preserved and locked as it is. */
	wr(f, OMAP_MMU_CAM, 0x00180000);
	wr(f, OMAP_MMU_FLUSH_ENTRY, 1);
	assert_int_equal(stats(f).invalidations, 1);
	assert_int_equal(xlate(f, 0x00100000, false, &x), -EFAULT);
	/* Exactly the 4K page that holds the VA. */
	wr(f, OMAP_MMU_CAM, 0x00203000);
	wr(f, OMAP_MMU_FLUSH_ENTRY, 1);
	assert_int_equal(stats(f).invalidations, 2);
	assert_int_equal(xlate(f, 0x00203000, false, &x), -EFAULT);
	assert_int_equal(xlate_ok(f, 0x00204000), 0x81204000);
	/* Nothing there: nothing dropped. */
	wr(f, OMAP_MMU_CAM, 0x00900000);
	wr(f, OMAP_MMU_FLUSH_ENTRY, 1);
	assert_int_equal(stats(f).invalidations, 2);
	assert_int_equal(xlate_ok(f, 0x00204000), 0x81204000);
	/* Two overlapping entries that hold the VA both go. */
	load_tlb(f, 3, 0x00200004, 0x82200000); /* 1M over the 4K at 0x00204000 */
	wr(f, OMAP_MMU_CAM, 0x00204000);
	wr(f, OMAP_MMU_FLUSH_ENTRY, 1);
	assert_int_equal(stats(f).invalidations, 4);
}

static void test_read_cam_ram(void **state)
{
	struct fx *f = *state;

	/* CAM 0x12345000 | P | V | 4K = 0x1234500e; RAM PA | E | ES 32 | M = 0x87654340. */
	load_tlb(f, 5, 0x1234500e, 0x87654340);
	uint32_t cam, ram;
	read_tlb(f, 5, &cam, &ram);
	assert_int_equal(cam, 0x1234500e);
	assert_int_equal(ram, 0x87654340);
	/* LD_TLB does not move the victim pointer (software does). */
	assert_int_equal(lock_victim(f), 5);
	/* V clear: loaded but not valid, and it does not translate. */
	load_tlb(f, 6, 0x00500002, 0x80500000);
	read_tlb(f, 6, &cam, &ram);
	assert_int_equal(cam, 0x00500002);
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	struct ik_hw_xlate x;
	assert_int_equal(xlate(f, 0x00500000, false, &x), -EFAULT);
	assert_int_equal(xlate_ok(f, 0x12345ffc), 0x87654ffc);
	/* CURRENTVICTIM past the last of 8 entries selects none. */
	load_tlb(f, 20, 0x00600006, 0x80600000);
	read_tlb(f, 20, &cam, &ram);
	assert_int_equal(cam, 0);
	assert_int_equal(ram, 0);
	assert_int_equal(xlate(f, 0x00600000, false, &x), -EFAULT);
}

/* --- faults --- */

static void test_fault_tlb_miss(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	/* Tables would translate, but walking is off: a miss is a fault. */
	put_l1(f, 1, 0x81200002);
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb);
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_TLBMISS);
	f->irq.ack = false;

	assert_int_equal(xlate(f, 0x00100abc, false, &x), -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.status, OMAP_MMU_IRQ_TLBMISS);
	assert_int_equal(f->irq.fault_ad, 0x00100abc);
	/* A second fault while the first is pending keeps the first address. */
	assert_int_equal(xlate(f, 0x00200def, false, &x), -EFAULT);
	assert_int_equal(f->irq.count, 2);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0x00100abc);
	/* Clear it (write 1 to clear); the next fault latches its own address. */
	wr(f, OMAP_MMU_IRQSTATUS, OMAP_MMU_IRQ_TLBMISS);
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0);
	assert_int_equal(xlate(f, 0x00300123, false, &x), -EFAULT);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0x00300123);
	/* Writing 0 clears nothing. */
	wr(f, OMAP_MMU_IRQSTATUS, 0);
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), OMAP_MMU_IRQ_TLBMISS);
	wr(f, OMAP_MMU_IRQSTATUS, OMAP_MMU_IRQ_TLBMISS);

	/* Masked: status is set, no interrupt. */
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_MASK & ~OMAP_MMU_IRQ_TLBMISS);
	assert_int_equal(xlate(f, 0x00400000, false, &x), -EFAULT);
	assert_int_equal(f->irq.count, 3);
	assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), OMAP_MMU_IRQ_TLBMISS);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.faults, 4);
	assert_int_equal(s.tlb_misses, 4);
	assert_int_equal(s.walks, 0);
}

static void test_fault_translation(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);
	struct ik_hw_xlate x;

	/*
	 * L1 index 1: fault (0). Index 2: type 11, reserved, faults.
	 * Index 3: page table whose entry 5 is a fault (0) and entry 6 a small page.
	 */
	put_l1(f, 2, 0x81200003);
	put_l1(f, 3, (uint32_t)l2 | 1);
	put32(f, l2 + 4 * 6, 0x80666002);
	/*
	 * Second level 0b11 is a small page too (bit 1 set): VA 0x00307000 ->
	 * 0x80668000. Read as a large page it would give 0x80660000 | 0x7xxx.
	 */
	put32(f, l2 + 4 * 7, 0x80668003);
	enable_walk(f);

	static const uint32_t bad[] = { 0x00100000, 0x00200040, 0x00305008 };
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		unsigned int before = f->irq.count;
		assert_int_equal(xlate(f, bad[i], false, &x), -EFAULT);
		assert_int_equal(f->irq.count, before + 1);
		assert_int_equal(f->irq.status, OMAP_MMU_IRQ_TRANSLATIONFAULT);
		assert_int_equal(f->irq.fault_ad, bad[i]);
		assert_int_equal(rd(f, OMAP_MMU_IRQSTATUS), 0); /* acknowledged by the handler */
		phys_addr_t pa;
		int prot;
		assert_int_equal(f->hw->ops->walk(f->hw, 0, bad[i], &pa, &prot), -ENOENT);
	}
	assert_int_equal(xlate_ok(f, 0x00306008), 0x80666008);
	struct ik_hw_xlate x7;
	assert_int_equal(xlate(f, 0x00307ffc, false, &x7), 0);
	assert_int_equal(x7.pa, 0x80668ffc);
	assert_int_equal(x7.page_mask, 0xfff);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.faults, 3);
	assert_int_equal(s.walks, 5);
	/* The walk op latched nothing and counted nothing. */
	assert_int_equal(s.accesses, 5);
	assert_int_equal(rd(f, OMAP_MMU_FAULT_AD), 0x00305008);
}

static void test_fault_table_walk(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t pa;
	int prot;

	/* TTB outside RAM (0x10000000): the first-level fetch itself fails. */
	wr(f, OMAP_MMU_TTB, 0x10000000);
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_MASK);
	wr(f, OMAP_MMU_CNTL, CNTL_WALK);
	assert_int_equal(xlate(f, 0x00100000, false, &x), -EFAULT);
	assert_int_equal(f->irq.status, OMAP_MMU_IRQ_TABLEWALKFAULT);
	assert_int_equal(f->irq.fault_ad, 0x00100000);
	assert_int_equal(f->hw->ops->walk(f->hw, 0, 0x00100000, &pa, &prot), -ENOENT);

	/* A page table outside RAM: 0x00001000 | 0b01 at index 7. */
	put_l1(f, 7, 0x00001001);
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb);
	assert_int_equal(xlate(f, 0x00700000, false, &x), -EFAULT);
	assert_int_equal(f->irq.status, OMAP_MMU_IRQ_TABLEWALKFAULT);
	assert_int_equal(f->irq.fault_ad, 0x00700000);
	assert_int_equal(f->hw->ops->walk(f->hw, 0, 0x00700000, &pa, &prot), -ENOENT);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.faults, 2);
	assert_int_equal(s.walks, 2);
	/* Last word of the table, VA index 0xfff, is read at TTB + 0x3ffc. */
	put_l1(f, 0xfff, 0x84f00002);
	assert_int_equal(xlate_ok(f, 0xfff00010), 0x84f00010);
}

static void test_fault_multi_hit(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;

	/* 1M at 0x00300000 and 4K at 0x00305000 both hold 0x00305010. */
	load_tlb(f, 0, 0x00300004, 0x81300000);
	load_tlb(f, 1, 0x00305006, 0x82305000);
	wr(f, OMAP_MMU_IRQENABLE, OMAP_MMU_IRQ_MASK);
	wr(f, OMAP_MMU_CNTL, CNTL_WALK); /* walking does not matter: it is a hit */

	assert_int_equal(xlate(f, 0x00305010, false, &x), -EFAULT);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(f->irq.status, OMAP_MMU_IRQ_MULTIHITFAULT);
	assert_int_equal(f->irq.fault_ad, 0x00305010);
	/* Elsewhere in the section only one entry matches. */
	assert_int_equal(xlate_ok(f, 0x00306000), 0x81306000);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.faults, 1);
	assert_int_equal(s.tlb_hits, 1);
	assert_int_equal(s.walks, 0);
}

/* --- coherency: the TLB is not kept in step with the tables --- */

static void test_stale_after_pte_change(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);

	put_l1(f, 0, (uint32_t)l2 | 1);
	put32(f, l2 + 4 * 2, 0x80702002); /* VA 0x2000 -> 0x80702000 */
	enable_walk(f);
	assert_int_equal(xlate_ok(f, 0x2010), 0x80702010);
	assert_int_equal(stats(f).stale_accesses, 0);

	/* Remap without flushing: the cached entry still answers. */
	put32(f, l2 + 4 * 2, 0x80999002);
	assert_int_equal(xlate_ok(f, 0x2010), 0x80702010);
	assert_int_equal(stats(f).stale_accesses, 1);
	/* Unmap without flushing: still cached, still stale. */
	put32(f, l2 + 4 * 2, 0);
	assert_int_equal(xlate_ok(f, 0x2020), 0x80702020);
	assert_int_equal(stats(f).stale_accesses, 2);

	/* Remap and flush that page: the next access walks again, nothing stale. */
	put32(f, l2 + 4 * 2, 0x80999002);
	wr(f, OMAP_MMU_CAM, 0x00002000);
	wr(f, OMAP_MMU_FLUSH_ENTRY, 1);
	struct ik_iommu_hw_stats before = stats(f);
	assert_int_equal(xlate_ok(f, 0x2010), 0x80999010);
	assert_int_equal(xlate_ok(f, 0x2ff0), 0x80999ff0);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.walks - before.walks, 1);
	assert_int_equal(s.tlb_hits - before.tlb_hits, 1);
	assert_int_equal(s.stale_accesses, 2);

	/* Entries loaded by hand are not the tables' business: never stale. */
	load_tlb(f, 7, 0x00ab0006, 0x80ab0000);
	assert_int_equal(xlate_ok(f, 0x00ab0000), 0x80ab0000);
	assert_int_equal(stats(f).stale_accesses, 2);
}

/* --- power --- */

static void test_power_cycle(void **state)
{
	struct fx *f = *state;
	struct ik_hw_xlate x;
	phys_addr_t pa = 0;
	int prot;

	put_l1(f, 1, 0x81200002);
	enable_walk(f);
	load_tlb(f, 0, 0x0090000c, 0x81900000); /* preserved */
	wr(f, OMAP_MMU_LOCK, 1u << OMAP_MMU_LOCK_BASE_SHIFT | 1u << OMAP_MMU_LOCK_VICT_SHIFT);
	assert_int_equal(xlate_ok(f, 0x00100000), 0x81200000);
	struct ik_iommu_hw_stats before = stats(f);

	f->hw->ops->power(f->hw, false);
	assert_int_equal(xlate(f, 0x00100000, false, &x), -EIO);
	assert_int_equal(f->irq.count, 0);
	assert_int_equal(rd(f, OMAP_MMU_REVISION), 0); /* no clock: the bus reads 0 */
	assert_int_equal(rd(f, OMAP_MMU_SYSSTATUS), 0);
	wr(f, OMAP_MMU_TTB, (uint32_t)f->ttb); /* ignored */
	wr(f, OMAP_MMU_CNTL, CNTL_WALK);       /* ignored */
	assert_int_equal(f->hw->ops->walk(f->hw, 0, 0x00100000, &pa, &prot), -EIO);
	assert_int_equal(pa, 0x00100000);
	struct ik_iommu_hw_stats s = stats(f);
	assert_memory_equal(&s, &before, sizeof(s)); /* nothing reached the MMU */

	f->hw->ops->power(f->hw, true);
	assert_int_equal(rd(f, OMAP_MMU_REVISION), 0x11);
	assert_int_equal(rd(f, OMAP_MMU_SYSSTATUS), 1);
	assert_int_equal(rd(f, OMAP_MMU_TTB), 0);
	assert_int_equal(rd(f, OMAP_MMU_CNTL), 0);
	assert_int_equal(rd(f, OMAP_MMU_LOCK), 0);
	assert_int_equal(rd(f, OMAP_MMU_IRQENABLE), 0);
	for (unsigned int i = 0; i < TLB_SIZE; i++) {
		uint32_t cam, ram;
		read_tlb(f, i, &cam, &ram);
		assert_int_equal(cam, 0); /* locked and preserved entries too */
	}
	/* Reset state: pass-through until reprogrammed, then tables work again. */
	assert_int_equal(xlate_ok(f, 0x00100000), 0x00100000);
	wr(f, OMAP_MMU_CNTL, CNTL_NOTWL);
	/* The preserved entry is gone. */
	assert_int_equal(xlate(f, 0x00900000, false, &x), -EFAULT);
	wr(f, OMAP_MMU_IRQSTATUS, OMAP_MMU_IRQ_MASK);
	enable_walk(f);
	assert_int_equal(xlate_ok(f, 0x00100000), 0x81200000);
	/* Power on while on changes nothing. */
	f->hw->ops->power(f->hw, true);
	assert_int_equal(rd(f, OMAP_MMU_CNTL), CNTL_WALK);
}

/* --- instances --- */

static void test_tlb_sizes(void **state)
{
	struct fx *f = *state;
	static const struct { unsigned int asked, has; } cfg[] = {
		{ 1, 1 }, { 8, 8 }, { 32, 32 }, { 0, 32 },
	};
	const phys_addr_t base = 0x48100000;

	for (unsigned int c = 0; c < ARRAY_SIZE(cfg); c++) {
		struct fx g = { .m = f->m, .mem = f->mem, .ttb = f->ttb };
		phys_addr_t b = base + c * 0x1000;
		g.hw = new_model(f->m, b, cfg[c].asked);
		assert_non_null(g.hw);
		uint32_t lock_last = (cfg[c].has - 1) << OMAP_MMU_LOCK_VICT_SHIFT;
		uint32_t lock_past = cfg[c].has << OMAP_MMU_LOCK_VICT_SHIFT;
		struct ik_machine *m = f->m;
		uint32_t v;

		/* The last entry exists; the one after it does not. */
		assert_int_equal(ik_machine_mmio_write32(m, b + OMAP_MMU_LOCK, lock_last), 0);
		assert_int_equal(ik_machine_mmio_write32(m, b + OMAP_MMU_CAM, 0x00100004), 0);
		assert_int_equal(ik_machine_mmio_write32(m, b + OMAP_MMU_LD_TLB, 1), 0);
		assert_int_equal(ik_machine_mmio_read32(m, b + OMAP_MMU_READ_CAM, &v), 0);
		assert_int_equal(v, 0x00100004);
		if (cfg[c].has < 32) {
			assert_int_equal(ik_machine_mmio_write32(m, b + OMAP_MMU_LOCK, lock_past), 0);
			assert_int_equal(ik_machine_mmio_write32(m, b + OMAP_MMU_LD_TLB, 1), 0);
			assert_int_equal(ik_machine_mmio_read32(m, b + OMAP_MMU_READ_CAM, &v), 0);
			assert_int_equal(v, 0);
		}
		g.hw->ops->destroy(g.hw);
	}
	/* More than the 5-bit LOCK fields can address. */
	errno = 0;
	assert_null(new_model(f->m, 0x48200000, 33));
	assert_int_equal(errno, EINVAL);
}

static void test_one_entry_tlb(void **state)
{
	struct fx *f = *state;
	const phys_addr_t b = 0x48300000;
	struct ik_hw_iommu *hw = new_model(f->m, b, 1);
	assert_non_null(hw);
	struct fx g = { .m = f->m, .mem = f->mem, .hw = hw, .ttb = f->ttb };

	put_l1(f, 1, 0x81200002);
	put_l1(f, 2, 0x81300002);
	assert_int_equal(ik_machine_mmio_write32(f->m, b + OMAP_MMU_TTB, (uint32_t)f->ttb), 0);
	assert_int_equal(ik_machine_mmio_write32(f->m, b + OMAP_MMU_CNTL, CNTL_WALK), 0);
	/* Every walk replaces entry 0: alternating pages always miss. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(xlate_ok(&g, 0x00100000), 0x81200000);
		assert_int_equal(xlate_ok(&g, 0x00200000), 0x81300000);
	}
	assert_int_equal(xlate_ok(&g, 0x00200000), 0x81300000);
	struct ik_iommu_hw_stats s = stats(&g);
	assert_int_equal(s.walks, 8);
	assert_int_equal(s.tlb_hits, 1);
	hw->ops->destroy(hw);
}

static void test_window_conflicts(void **state)
{
	struct fx *f = *state;

	errno = 0;
	assert_null(new_model(f->m, MMU_BASE, 8)); /* already taken */
	assert_int_equal(errno, EBUSY);
	errno = 0;
	assert_null(new_model(f->m, RAM_BASE + 0x1000, 8)); /* RAM */
	assert_int_equal(errno, EBUSY);
	errno = 0;
	assert_null(ik_omap_mmu_model_type.create(f->m, NULL));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(ik_omap_mmu_model_type.compatible, "ti,omap2-iommu");
	/* The existing instance is unaffected. */
	assert_int_equal(rd(f, OMAP_MMU_REVISION), 0x11);
}

/* --- concurrency: DMA threads against register writes and table edits --- */

struct dma_thread {
	struct fx *f;
	unsigned int faults;
	unsigned int bad;
};

static void *dma_loop(void *arg)
{
	struct dma_thread *t = arg;

	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t va = 0x00100000 + ((i % 16) << 12);
		struct ik_hw_xlate x;
		int ret = xlate(t->f, va, i & 1, &x);
		if (ret == -EFAULT)
			t->faults++;
		else if (ret || (x.pa & 0xfff) != 0)
			t->bad++;
	}
	return NULL;
}

/* An ISR for many threads at once: no cmocka calls, atomic count. */
static void on_irq_async(unsigned int irq, void *arg)
{
	struct fx *f = arg;
	uint32_t status = 0;

	ik_machine_mmio_read32(f->m, MMU_BASE + OMAP_MMU_IRQSTATUS, &status);
	ik_machine_mmio_write32(f->m, MMU_BASE + OMAP_MMU_IRQSTATUS, status);
	__atomic_add_fetch(&f->async_irqs, 1, __ATOMIC_RELAXED);
}

static void test_concurrent_dma(void **state)
{
	struct fx *f = *state;
	phys_addr_t l2 = alloc_l2(f);
	struct dma_thread t[2] = { { .f = f }, { .f = f } };
	pthread_t tid[2];

	ik_free_irq(f->m, MMU_IRQ, on_irq, &f->irq);
	assert_int_equal(ik_request_irq(f->m, MMU_IRQ, on_irq_async, f), 0);
	put_l1(f, 1, (uint32_t)l2 | 1);
	for (uint32_t i = 0; i < 16; i++)
		put32(f, l2 + 4 * i, (0x80800000 + (i << 12)) | 2);
	enable_walk(f);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, dma_loop, &t[i]), 0);
	/* Meanwhile: flush, unmap and remap a page, read registers. */
	for (uint32_t i = 0; i < 500; i++) {
		put32(f, l2 + 4 * (i % 16), (i & 1) ? 0 : (0x80800000 + ((i % 16) << 12)) | 2);
		wr(f, OMAP_MMU_GFLUSH, 1);
		(void)rd(f, OMAP_MMU_LOCK);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	assert_int_equal(t[0].bad + t[1].bad, 0);
	struct ik_iommu_hw_stats s = stats(f);
	assert_int_equal(s.accesses, 6000);
	assert_int_equal(s.tlb_hits + s.tlb_misses, 6000);
	assert_int_equal(s.faults, t[0].faults + t[1].faults);
	/* Every fault was signalled (all interrupts enabled). */
	assert_int_equal(f->async_irqs, s.faults);
	ik_free_irq(f->m, MMU_IRQ, on_irq_async, f);
	assert_int_equal(ik_request_irq(f->m, MMU_IRQ, on_irq, &f->irq), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_softreset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaf_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes_to_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttb_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_permission_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_hit_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_robin_and_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_entries_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gflush_spares_preserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_entry_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_cam_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_tlb_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_translation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_table_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_multi_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_after_pte_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlb_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_entry_tlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_dma, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
