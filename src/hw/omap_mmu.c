// SPDX-License-Identifier: MIT
/*
 * TI OMAP2/3 MMU (camera ISP MMU, IVA2.2 MMU), modelled from the
 * hardware's side.
 *
 * Sources (facts only):
 *   - OMAP35x / OMAP36xx Technical Reference Manual (SPRUF98, SWPU177N),
 *     chapter "Memory Management Units" (section numbers of SWPU177N):
 *     15.3 "MMU Functional Description" (TLB, translation tables, table
 *     walking, faults; 16 MiB and 64 KiB descriptors repeated 16 times),
 *     15.4 "MMU Basic Programming Model" (loading TLB entries through
 *     CAM/RAM, LD_TLB and CURRENTVICTIM; 15.4.1.1 "Protecting TLB
 *     Entries" with BASEVALUE), and the chapter's register manual
 *     (offsets, fields, reset values; field layout as in TI's
 *     hw_ipu_mmu.h). Table 15-7 gives 8 TLB entries for the camera MMU,
 *     32 for the IVA2.2 MMU.
 *   - The same TI MMU in SPRUGX9 ("System MMU", 1.4.3.1.2): first-level
 *     descriptor formats (fault / page table / section / supersection,
 *     M bit 17, E bit 15, ES bits 11:10) and the descriptor address,
 *     translation table base + (VA[31:20] << 2).
 *   - Linux drivers/iommu/omap-iommu.h and omap-iopgtable.h for bit
 *     positions: second-level descriptors (01 large page 64K, 1x small
 *     page 4K; M bit 11, E bit 9, ES bits 5:4), CAM/RAM and LOCK fields.
 *
 * Model choices where the TRM is silent or describes timing:
 *   - A table walk completes within the access, so WALKING_ST reads 0 and
 *     a softreset completes at once (SYSSTATUS.RESETDONE reads 1).
 *   - The master's bus is 32 bits: an address above 4 GiB cannot reach
 *     the MMU and is refused with -EFAULT, latching nothing.
 *   - A faulting access is aborted; the MMU does not stall later ones.
 *   - The walker fills the entry at CURRENTVICTIM (BASEVALUE when the
 *     pointer is below it or past the last entry) and advances the pointer,
 *     wrapping to BASEVALUE; LD_TLB does not move it (software does, as
 *     the programming model says). With every entry locked the walk
 *     result is used but not cached.
 *
 * The walker below decodes descriptors on its own; it shares nothing with
 * the driver's page-table format, so each checks the other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ik/compiler.h"
#include "ik/cpu-cache.h"
#include "ik/machine.h"
#include "ik/omap-mmu-regs.h"
#include "ik/tlb.h"

#define OMAP_MMU_DEFAULT_TLB 32u
#define OMAP_MMU_MAX_TLB     32u /* LOCK fields are 5 bits wide */

/* Writable bits of each register (the rest are reserved or read-only). */
#define SYSCONFIG_RW (OMAP_MMU_SYSCONFIG_AUTOIDLE | OMAP_MMU_SYSCONFIG_IDLEMODE_MASK | \
		      OMAP_MMU_SYSCONFIG_CLOCKACTIVITY_MASK)
#define CNTL_RW      (OMAP_MMU_CNTL_MMU_EN | OMAP_MMU_CNTL_TWL_EN | OMAP_MMU_CNTL_EML_EN)
#define CAM_RW       (OMAP_MMU_CAM_VATAG_MASK | OMAP_MMU_CAM_P | OMAP_MMU_CAM_V | \
		      OMAP_MMU_CAM_PGSZ_MASK)
#define RAM_ATTRS    (OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_MASK | OMAP_MMU_RAM_MIXED)
#define RAM_RW       (OMAP_MMU_RAM_PADDR_MASK | RAM_ATTRS)

/* --- translation table descriptors, as the walker reads them --- */

/* First level: one word per 1 MiB, indexed by VA[31:20]. */
#define L1_TYPE_MASK        3u
#define L1_TYPE_FAULT       0u
#define L1_TYPE_TABLE       1u /* second-level table at bits [31:10] */
#define L1_TYPE_SECTION     2u /* bit 18 selects a 16 MiB supersection */
#define L1_TYPE_RESERVED    3u /* faults */
#define L1_SUPER            (1u << 18)
#define L1_TABLE_BASE       0xfffffc00u
#define L1_SECTION_BASE     0xfff00000u
#define L1_SUPER_BASE       0xff000000u
#define L1_MIXED            (1u << 17)
#define L1_ENDIAN_BIG       (1u << 15)
#define L1_ELSZ_SHIFT       10
/* Second level: 256 words per 1 MiB, indexed by VA[19:12]. */
#define L2_LARGE            1u /* bits [1:0] == 01 */
#define L2_SMALL            2u /* bit 1 set: 10 or 11 */
#define L2_LARGE_BASE       0xffff0000u
#define L2_SMALL_BASE       0xfffff000u
#define L2_MIXED            (1u << 11)
#define L2_ENDIAN_BIG       (1u << 9)
#define L2_ELSZ_SHIFT       4

struct omap_mmu {
	struct ik_hw_iommu hw;
	pthread_mutex_t lock; /* the model lock: registers, TLB, stats */
	struct ik_mem *mem;
	unsigned int irq;
	bool powered;

	uint32_t sysconfig;
	uint32_t irqstatus;
	uint32_t irqenable;
	uint32_t cntl;
	uint32_t fault_ad;
	uint32_t ttb;
	uint32_t cam;
	uint32_t ram;
	/* MMU_LOCK lives in the TLB engine: tlb.lock_base and tlb.victim. */
	struct ik_tlb tlb;
};

static struct omap_mmu *to_omap_mmu(struct ik_hw_iommu *hw)
{
	return container_of(hw, struct omap_mmu, hw);
}

/* One leaf the walker found. */
struct omap_leaf {
	uint32_t pa;    /* physical base of the page */
	uint32_t mask;  /* page size - 1 */
	uint32_t attrs; /* as the RAM register holds them */
	unsigned int incoherent; /* descriptors read that the CPU had not cleaned */
};

static uint32_t ram_attrs(bool mixed, bool big, uint32_t elsz)
{
	return (mixed ? OMAP_MMU_RAM_MIXED : 0) | (big ? OMAP_MMU_RAM_ENDIAN_BIG : 0) |
	       ((elsz & 3u) << OMAP_MMU_RAM_ELSZ_SHIFT);
}

/* Fetch a descriptor word; false when the address is not RAM. */
static bool fetch(struct ik_mem *mem, uint32_t pa, uint32_t *word, unsigned int *incoherent)
{
	const uint32_t *p = ik_mem_va(mem, pa);
	if (!p)
		return false;
	/* Acquire: a table published by its parent entry is seen whole. */
	*word = ik_read_le32_acquire(p);
	/* Not hardware: a checker noting that the CPU's cache has a newer word. */
	if (unlikely(mem->cpu_cache) && ik_cpu_cache_device_stale(mem->cpu_cache, pa, 4))
		(*incoherent)++;
	return true;
}

/**
 * walk_tables() - the hardware table walk for one virtual address
 * @mem: physical memory
 * @ttb: MMU_TTB
 * @va: virtual address
 * @leaf: the page found
 *
 * Reads memory only; changes no state.
 *
 * Return: 0, OMAP_MMU_IRQ_TRANSLATIONFAULT for a fault or reserved
 * descriptor at either level, OMAP_MMU_IRQ_TABLEWALKFAULT when a
 * descriptor fetch falls outside RAM.
 */
static uint32_t walk_tables(struct ik_mem *mem, uint32_t ttb, uint32_t va,
			    struct omap_leaf *leaf)
{
	uint32_t l1_addr = (ttb & OMAP_MMU_TTB_ADDR_MASK) + ((va >> 20) << 2);
	uint32_t l1, l2;

	leaf->incoherent = 0;
	if (!fetch(mem, l1_addr, &l1, &leaf->incoherent))
		return OMAP_MMU_IRQ_TABLEWALKFAULT;

	switch (l1 & L1_TYPE_MASK) {
	case L1_TYPE_SECTION:
		if (l1 & L1_SUPER) {
			leaf->pa = l1 & L1_SUPER_BASE;
			leaf->mask = ~L1_SUPER_BASE;
		} else {
			leaf->pa = l1 & L1_SECTION_BASE;
			leaf->mask = ~L1_SECTION_BASE;
		}
		leaf->attrs = ram_attrs(l1 & L1_MIXED, l1 & L1_ENDIAN_BIG, l1 >> L1_ELSZ_SHIFT);
		return 0;
	case L1_TYPE_TABLE:
		break;
	default: /* L1_TYPE_FAULT, L1_TYPE_RESERVED */
		return OMAP_MMU_IRQ_TRANSLATIONFAULT;
	}

	uint32_t l2_addr = (l1 & L1_TABLE_BASE) + (((va >> 12) & 0xffu) << 2);
	if (!fetch(mem, l2_addr, &l2, &leaf->incoherent))
		return OMAP_MMU_IRQ_TABLEWALKFAULT;
	if (l2 & L2_SMALL) {
		leaf->pa = l2 & L2_SMALL_BASE;
		leaf->mask = ~L2_SMALL_BASE;
	} else if (l2 & L2_LARGE) {
		leaf->pa = l2 & L2_LARGE_BASE;
		leaf->mask = ~L2_LARGE_BASE;
	} else {
		return OMAP_MMU_IRQ_TRANSLATIONFAULT;
	}
	leaf->attrs = ram_attrs(l2 & L2_MIXED, l2 & L2_ENDIAN_BIG, l2 >> L2_ELSZ_SHIFT);
	return 0;
}

/* --- CAM/RAM words <-> TLB entries --- */

static uint64_t pgsz_mask(uint32_t cam)
{
	switch (cam & OMAP_MMU_CAM_PGSZ_MASK) {
	case OMAP_MMU_CAM_PGSZ_64K:
		return IK_SZ_64K - 1;
	case OMAP_MMU_CAM_PGSZ_4K:
		return IK_SZ_4K - 1;
	case OMAP_MMU_CAM_PGSZ_16M:
		return IK_SZ_16M - 1;
	default:
		return IK_SZ_1M - 1;
	}
}

static uint32_t mask_pgsz(uint64_t mask)
{
	switch (mask) {
	case IK_SZ_64K - 1:
		return OMAP_MMU_CAM_PGSZ_64K;
	case IK_SZ_4K - 1:
		return OMAP_MMU_CAM_PGSZ_4K;
	case IK_SZ_16M - 1:
		return OMAP_MMU_CAM_PGSZ_16M;
	default:
		return OMAP_MMU_CAM_PGSZ_1M;
	}
}

static struct ik_tlb_entry entry_from_cam_ram(uint32_t cam, uint32_t ram)
{
	return (struct ik_tlb_entry){
		.va = cam & OMAP_MMU_CAM_VATAG_MASK,
		.pa = ram & OMAP_MMU_RAM_PADDR_MASK,
		.mask = pgsz_mask(cam),
		.attrs = ram & RAM_ATTRS,
		.flags = ((cam & OMAP_MMU_CAM_V) ? IK_TLB_VALID : 0) |
			 ((cam & OMAP_MMU_CAM_P) ? IK_TLB_PRESERVED : 0),
	};
}

static uint32_t entry_cam(const struct ik_tlb_entry *e)
{
	if (!e->mask)
		return 0; /* never written since reset */
	return ((uint32_t)e->va & OMAP_MMU_CAM_VATAG_MASK) | mask_pgsz(e->mask) |
	       ((e->flags & IK_TLB_VALID) ? OMAP_MMU_CAM_V : 0) |
	       ((e->flags & IK_TLB_PRESERVED) ? OMAP_MMU_CAM_P : 0);
}

static uint32_t entry_ram(const struct ik_tlb_entry *e)
{
	return ((uint32_t)e->pa & OMAP_MMU_RAM_PADDR_MASK) | e->attrs;
}

/* --- state --- */

/* Every register to its reset value, every TLB entry gone. Model lock held. */
static void reset_state(struct omap_mmu *mmu)
{
	mmu->sysconfig = 0;
	mmu->irqstatus = 0;
	mmu->irqenable = 0;
	mmu->cntl = 0;
	mmu->fault_ad = 0;
	mmu->ttb = 0;
	mmu->cam = 0;
	mmu->ram = 0;
	ik_tlb_reset(&mmu->tlb);
}

/*
 * Record a fault of kind @bit at @va. FAULT_AD keeps the first faulting
 * address until software clears every status bit. Model lock held.
 * Returns whether the interrupt line must be raised (after unlocking).
 */
static bool record_fault(struct omap_mmu *mmu, uint32_t bit, uint32_t va,
			 struct ik_iommu_hw_stats *delta)
{
	if (!(mmu->irqstatus & OMAP_MMU_IRQ_MASK))
		mmu->fault_ad = va;
	mmu->irqstatus |= bit;
	delta->faults++;
	return (mmu->irqenable & bit) != 0;
}

/* --- registers --- */

static uint32_t omap_mmu_read(void *opaque, uint32_t off)
{
	struct omap_mmu *mmu = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&mmu->lock);
	if (!mmu->powered)
		goto out; /* no clock, no context: the bus reads 0 */
	switch (off) {
	case OMAP_MMU_REVISION:
		v = OMAP_MMU_REVISION_OMAP3;
		break;
	case OMAP_MMU_SYSCONFIG:
		v = mmu->sysconfig;
		break;
	case OMAP_MMU_SYSSTATUS:
		v = OMAP_MMU_SYSSTATUS_RESETDONE;
		break;
	case OMAP_MMU_IRQSTATUS:
		v = mmu->irqstatus;
		break;
	case OMAP_MMU_IRQENABLE:
		v = mmu->irqenable;
		break;
	case OMAP_MMU_CNTL:
		v = mmu->cntl;
		break;
	case OMAP_MMU_FAULT_AD:
		v = mmu->fault_ad;
		break;
	case OMAP_MMU_TTB:
		v = mmu->ttb;
		break;
	case OMAP_MMU_LOCK:
		v = (mmu->tlb.lock_base << OMAP_MMU_LOCK_BASE_SHIFT) |
		    (mmu->tlb.victim << OMAP_MMU_LOCK_VICT_SHIFT);
		break;
	case OMAP_MMU_CAM:
		v = mmu->cam;
		break;
	case OMAP_MMU_RAM:
		v = mmu->ram;
		break;
	case OMAP_MMU_READ_CAM:
	case OMAP_MMU_READ_RAM: {
		const struct ik_tlb_entry *e = ik_tlb_get(&mmu->tlb, mmu->tlb.victim);
		if (e)
			v = off == OMAP_MMU_READ_CAM ? entry_cam(e) : entry_ram(e);
		break;
	}
	default: /* WALKING_ST, the command registers, EMU_FAULT_AD, holes */
		break;
	}
out:
	pthread_mutex_unlock(&mmu->lock);
	return v;
}

static void omap_mmu_write(void *opaque, uint32_t off, uint32_t val)
{
	struct omap_mmu *mmu = opaque;
	struct ik_iommu_hw_stats delta = { 0 };

	pthread_mutex_lock(&mmu->lock);
	if (!mmu->powered)
		goto out;
	switch (off) {
	case OMAP_MMU_SYSCONFIG:
		if (val & OMAP_MMU_SYSCONFIG_SOFTRESET)
			reset_state(mmu);
		else
			mmu->sysconfig = val & SYSCONFIG_RW;
		break;
	case OMAP_MMU_IRQSTATUS:
		mmu->irqstatus &= ~(val & OMAP_MMU_IRQ_MASK);
		break;
	case OMAP_MMU_IRQENABLE:
		mmu->irqenable = val & OMAP_MMU_IRQ_MASK;
		break;
	case OMAP_MMU_CNTL:
		mmu->cntl = val & CNTL_RW;
		break;
	case OMAP_MMU_TTB:
		mmu->ttb = val & OMAP_MMU_TTB_ADDR_MASK;
		break;
	case OMAP_MMU_LOCK:
		mmu->tlb.lock_base = (val & OMAP_MMU_LOCK_BASE_MASK) >> OMAP_MMU_LOCK_BASE_SHIFT;
		mmu->tlb.victim = (val & OMAP_MMU_LOCK_VICT_MASK) >> OMAP_MMU_LOCK_VICT_SHIFT;
		break;
	case OMAP_MMU_LD_TLB:
		if (val & OMAP_MMU_LD_TLB_ITEM) {
			struct ik_tlb_entry e = entry_from_cam_ram(mmu->cam, mmu->ram);
			/* A victim past the last entry selects nothing. */
			ik_tlb_write(&mmu->tlb, mmu->tlb.victim, &e);
		}
		break;
	case OMAP_MMU_CAM:
		mmu->cam = val & CAM_RW;
		break;
	case OMAP_MMU_RAM:
		mmu->ram = val & RAM_RW;
		break;
	case OMAP_MMU_GFLUSH:
		if (val & OMAP_MMU_GFLUSH_ALL)
			delta.invalidations = ik_tlb_invalidate_all(&mmu->tlb, IK_TLB_PRESERVED);
		break;
	case OMAP_MMU_FLUSH_ENTRY:
		if (val & OMAP_MMU_FLUSH_ENTRY_GO) {
			uint32_t va = mmu->cam & OMAP_MMU_CAM_VATAG_MASK;
			delta.invalidations = ik_tlb_invalidate_range(&mmu->tlb, va, va, 0);
		}
		break;
	default: /* read-only registers and holes */
		break;
	}
	if (delta.invalidations)
		ik_hw_iommu_add_stats(&mmu->hw, &delta);
out:
	pthread_mutex_unlock(&mmu->lock);
}

static const struct ik_mmio_ops omap_mmu_mmio_ops = {
	.read32 = omap_mmu_read,
	.write32 = omap_mmu_write,
};

/* --- the translation path --- */

static int omap_mmu_translate(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr,
			      bool write, unsigned int attrs, struct ik_hw_xlate *out)
{
	struct omap_mmu *mmu = to_omap_mmu(hw);
	struct ik_iommu_hw_stats delta = { 0 };
	struct omap_leaf leaf;
	bool raise = false;
	uint32_t fault = 0;
	unsigned int idx;
	int ret = 0;

	pthread_mutex_lock(&mmu->lock);
	if (!mmu->powered || addr > UINT32_MAX) {
		pthread_mutex_unlock(&mmu->lock);
		return mmu->powered ? -EFAULT : -EIO;
	}
	uint32_t va = (uint32_t)addr;
	delta.accesses = 1;
	if (!(mmu->cntl & OMAP_MMU_CNTL_MMU_EN)) {
		out->pa = va;
		out->page_mask = IK_PAGE_SIZE - 1;
		goto done;
	}

	unsigned int hits = ik_tlb_lookup(&mmu->tlb, va, 0, &idx);
	if (hits > 1) {
		fault = OMAP_MMU_IRQ_MULTIHITFAULT;
	} else if (hits == 1) {
		const struct ik_tlb_entry *e = ik_tlb_get(&mmu->tlb, idx);
		delta.tlb_hits = 1;
		out->pa = ik_tlb_entry_pa(e, va);
		out->page_mask = e->mask;
		/* Silicon uses the cached entry; we also check it against memory. */
		if ((e->flags & IK_TLB_WALKED) &&
		    (walk_tables(mmu->mem, mmu->ttb, va, &leaf) ||
		     (leaf.pa | (va & leaf.mask)) != out->pa))
			delta.stale_accesses = 1;
	} else {
		delta.tlb_misses = 1;
		if (!(mmu->cntl & OMAP_MMU_CNTL_TWL_EN)) {
			fault = OMAP_MMU_IRQ_TLBMISS;
		} else {
			delta.walks = 1;
			fault = walk_tables(mmu->mem, mmu->ttb, va, &leaf);
			delta.incoherent_walks = leaf.incoherent != 0;
		}
		if (!fault) {
			struct ik_tlb_entry e = {
				.va = va & ~leaf.mask, .pa = leaf.pa, .mask = leaf.mask,
				.attrs = leaf.attrs, .flags = IK_TLB_VALID | IK_TLB_WALKED,
			};
			/* -ENOSPC (all locked): translate without caching. */
			ik_tlb_insert(&mmu->tlb, &e);
			out->pa = leaf.pa | (va & leaf.mask);
			out->page_mask = leaf.mask;
		}
	}
	if (fault) {
		raise = record_fault(mmu, fault, va, &delta);
		ret = -EFAULT;
	}
done:
	ik_hw_iommu_add_stats(&mmu->hw, &delta);
	pthread_mutex_unlock(&mmu->lock);
	if (raise)
		ik_irq_raise(hw->machine, mmu->irq);
	return ret;
}

static int omap_mmu_walk(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t iova,
			 phys_addr_t *pa, int *prot)
{
	struct omap_mmu *mmu = to_omap_mmu(hw);
	struct omap_leaf leaf;
	int ret = 0;

	pthread_mutex_lock(&mmu->lock);
	if (!(mmu->cntl & OMAP_MMU_CNTL_MMU_EN)) {
		*pa = iova;
		ret = -EIO;
	} else if (iova > UINT32_MAX || walk_tables(mmu->mem, mmu->ttb, (uint32_t)iova, &leaf)) {
		ret = -ENOENT;
	} else {
		*pa = leaf.pa | ((uint32_t)iova & leaf.mask);
		/* No permission bits: reads and writes both pass. */
		*prot = IOMMU_READ | IOMMU_WRITE;
	}
	pthread_mutex_unlock(&mmu->lock);
	return ret;
}

static void omap_mmu_power(struct ik_hw_iommu *hw, bool on)
{
	struct omap_mmu *mmu = to_omap_mmu(hw);

	pthread_mutex_lock(&mmu->lock);
	/* Off loses the context; on from off starts at the reset state. */
	if (!on || !mmu->powered)
		reset_state(mmu);
	mmu->powered = on;
	pthread_mutex_unlock(&mmu->lock);
}

static void omap_mmu_destroy(struct ik_hw_iommu *hw)
{
	if (!hw)
		return;
	struct omap_mmu *mmu = to_omap_mmu(hw);
	ik_tlb_destroy(&mmu->tlb);
	pthread_mutex_destroy(&mmu->lock);
	free(mmu);
}

static const struct ik_hw_iommu_ops omap_mmu_ops = {
	.translate = omap_mmu_translate,
	.walk = omap_mmu_walk,
	.power = omap_mmu_power,
	.destroy = omap_mmu_destroy,
};

/**
 * omap_mmu_create() - build an OMAP MMU and map its registers
 * @m: the machine
 * @desc: the instance: name, register window, interrupt line, TLB size
 *        (0: 32 entries; 1..32 allowed, the LOCK fields being 5 bits)
 *
 * Return: the model, powered on in its reset state; NULL with errno set
 * (EINVAL for a bad description, ENOMEM, or ik_machine_add_mmio()'s error).
 */
static struct ik_hw_iommu *omap_mmu_create(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	unsigned int nr;
	int ret;

	if (!m || !desc || desc->tlb_entries > OMAP_MMU_MAX_TLB || !ik_machine_mem(m)) {
		errno = EINVAL;
		return NULL;
	}
	nr = desc->tlb_entries ? desc->tlb_entries : OMAP_MMU_DEFAULT_TLB;

	struct omap_mmu *mmu = calloc(1, sizeof(*mmu));
	if (!mmu) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ik_tlb_init(&mmu->tlb, nr, IK_TLB_ROUND_ROBIN);
	if (ret) {
		free(mmu);
		errno = -ret;
		return NULL;
	}
	mmu->hw.ops = &omap_mmu_ops;
	mmu->hw.machine = m;
	snprintf(mmu->hw.name, sizeof(mmu->hw.name), "%s", desc->name ? desc->name : "omap-mmu");
	pthread_mutex_init(&mmu->lock, NULL);
	mmu->hw.stats_lock = &mmu->lock;
	mmu->mem = ik_machine_mem(m);
	mmu->irq = desc->irq;
	mmu->powered = true;
	reset_state(mmu);

	ret = ik_machine_add_mmio(m, desc->mmio_base, OMAP_MMU_WINDOW_SIZE, &omap_mmu_mmio_ops,
				  mmu);
	if (ret) {
		omap_mmu_destroy(&mmu->hw);
		errno = -ret;
		return NULL;
	}
	return &mmu->hw;
}

const struct ik_hw_model_type ik_omap_mmu_model_type = {
	.compatible = "ti,omap2-iommu",
	.create = omap_mmu_create,
	.mmio_size = OMAP_MMU_WINDOW_SIZE,
};
