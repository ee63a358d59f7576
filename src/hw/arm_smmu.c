// SPDX-License-Identifier: MIT
/*
 * Arm System MMU architecture version 2 (SMMUv2), modelled from the
 * hardware's side: stream matching, stage-1 context banks with AArch64
 * (VMSAv8-64) translation tables and the 4 KiB granule, a per-bank TLB and
 * walk cache, context and global faults.
 *
 * Sources (facts only):
 *   - Arm IHI 0062 "ARM System Memory Management Unit Architecture
 *     Specification, SMMU architecture versions 1.0 and 2.0" (facts taken
 *     by register and chapter; section numbers not relied on): the stream
 *     mapping chapter and the global address space registers (SMMU_SMRn
 *     ID/MASK matching with MASK bits as don't-care, SMMU_S2CRn TYPE
 *     translate/bypass/fault, sCR0 CLIENTPD, USFCFG and SMCFCFG, sGFSR
 *     USF/SMCF/ICF, sGFSYNR0/1, global TLBIVMID, TLBIALLNSNH,
 *     sTLBGSYNC/sTLBGSTATUS.GSACTIVE); the translation context bank
 *     registers (SCTLR M/AFFD/CFIE/WXN, TCR/TCR2, TTBR0 with the ASID in
 *     bits 63:48, FSR/FAR/FSYNR0 syndrome, CBFRSYNRA, TLBIVA/TLBIVAA/
 *     TLBIVAL/TLBIVAAL ("L": last level only), TLBIASID, TLBIALL,
 *     TLBSYNC/TLBSTATUS.SACTIVE); the address map (global pages, then one
 *     page per context bank; IMPLEMENTATION DEFINED global page 2).
 *   - Arm Architecture Reference Manual for A-profile (DDI 0487), D5.2
 *     "The VMSAv8-64 address translation system" (4 KiB granule: 9 index
 *     bits per level, start level from T0SZ, level-0 blocks invalid,
 *     address size faults against the PA size) and D5.3 "VMSAv8-64
 *     translation table format descriptors" (bit 0 valid, bit 1 table or
 *     page, output address bits 47:n, AttrIndx 4:2, AP[2:1] 7:6, AF 10,
 *     nG 11, PXN 53, UXN 54, PXNTable 59, UXNTable 60, APTable 62:61);
 *     D13.2 MAIR_EL1 (memory attribute encodings).
 *   - Register layouts as in src/include/ik/arm-smmu-regs.h (its header
 *     comment lists the cross-checks), reset values of MMU-500 instances.
 *
 * Model choices where the architecture leaves room or describes timing:
 *   - One interrupt line (the description's irq) carries global and
 *     context faults; it is raised after the model lock is dropped, for a
 *     context fault only if SCTLR.CFIE is set, for a global fault only if
 *     sCR0.GFIE is set.
 *   - Faults always terminate the transaction (-EFAULT): stall mode
 *     (SCTLR.CFCFG), RESUME and the RAZ/WI behaviour of CFRE/GFRE = 0 are
 *     not modelled. The first fault is recorded in FSR/FAR/FSYNR0/
 *     CBFRSYNRA (sGFSR/sGFAR/sGFSYNR0-1); a fault while FSR (sGFSR) holds
 *     one only sets MULTI.
 *   - An S2CR of type fault (or the reserved type 3) aborts the
 *     transaction without a fault record. A translate S2CR that names a
 *     context bank past NUMCB, a bank whose CBAR.TYPE is not "stage 1,
 *     stage 2 bypass", or one without CBA2R.VA64 (AArch32 formats are not
 *     implemented, sIDR0.PTFS says so) raises a global invalid context
 *     fault (sGFSR.ICF).
 *   - Stream IDs are NUMSIDB (15) bits wide: higher bits of a master's ID
 *     do not reach the SMMU.
 *   - Only TTBR0 walks: TCR.TG0 other than 4 KiB, T0SZ outside 16..39,
 *     TCR.EPD0 set, or an address at or above 2^(64 - T0SZ) give a level-0
 *     translation fault. TCR2.PASIZE bounds table and output addresses
 *     (address size fault, FSR.ASF). Table descriptors' APTable/XNTable
 *     restrictions apply to everything below them. SCTLR.AFFD turns off
 *     access flag faults; otherwise a clear AF faults (no hardware update).
 *   - Instruction fetches check PXN (privileged) or UXN (unprivileged),
 *     and SCTLR.WXN makes writable memory execute-never.
 *   - TLB and walk cache per context bank, LRU, on the shared TLB engine.
 *     The TLB caches leaves (a block as one entry) tagged by ASID (global
 *     when nG is clear); the walk cache holds level 0-2 table descriptors
 *     keyed by ASID, level and the input range the descriptor covers.
 *     Maintenance completes at once, but TLBSTATUS.SACTIVE
 *     (sTLBGSTATUS.GSACTIVE) reads 1 from an invalidation until the next
 *     TLBSYNC (sTLBGSYNC); invalidations still unsynced when a translation
 *     next uses their bank are counted in an IMPLEMENTATION DEFINED debug
 *     register (SMMU_IMPDEF_UNSYNCED_TLBI).
 *   - 64-bit registers are two 32-bit halves; a 64-bit TLB operation is
 *     performed when its high word is written, with the low word latched.
 *   - PAR reads 0 (no address translation operations, sIDR0.ATOSNS = 1).
 *
 * The walker below decodes descriptors on its own; it shares nothing with
 * the driver's page-table format, so each checks the other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ik/arm-smmu-regs.h"
#include "ik/compiler.h"
#include "ik/cpu-cache.h"
#include "ik/machine.h"
#include "ik/tlb.h"

#define SMMU_DEFAULT_TLB 64u   /* leaf entries per context bank */
#define SMMU_MAX_TLB     4096u
#define SMMU_WALK_CACHE  32u   /* table descriptors per context bank */

/* Writable bits of each register (the rest are reserved or read-only). */
#define sCR0_RW  (SMMU_sCR0_CLIENTPD | SMMU_sCR0_GFRE | SMMU_sCR0_GFIE | SMMU_sCR0_GCFGFRE | \
		  SMMU_sCR0_GCFGFIE | SMMU_sCR0_USFCFG | SMMU_sCR0_VMIDPNE | SMMU_sCR0_PTM | \
		  SMMU_sCR0_FB | SMMU_sCR0_BSU_MASK)
#define SMR_RW   (SMMU_SMR_VALID | SMMU_SMR_MASK_MASK | SMMU_SMR_ID_MASK)
#define S2CR_RW  0x3ffffbffu /* all but EXIDVALID (bit 10) and 31:30 */
#define CBAR_RW  (SMMU_CBAR_IRPTNDX_MASK | SMMU_CBAR_TYPE_MASK | SMMU_CBAR_S1_MEMATTR_MASK | \
		  (3u << 10) | SMMU_CBAR_S1_BPSHCFG_MASK | SMMU_CBAR_VMID_MASK)
#define SCTLR_RW 0x7fdfd7ffu /* bits 10:0, 12, 20:14, 30:22 */
#define TCR_RW   0xffffffbfu /* bit 6 is RES0 */
#define TCR2_RW  0x4003c077u /* PASIZE, AS, TBI0/1, NSCFG0, SEP, NSCFG1 */

/* --- translation table descriptors, as the walker reads them --- */

#define DESC_VALID       BIT_ULL(0)
#define DESC_TABLE       BIT_ULL(1)  /* levels 0-2: table; level 3: page */
#define DESC_ATTRIDX_SHIFT 2         /* 3 bits: MAIR byte */
#define DESC_AP_UNPRIV   BIT_ULL(6)  /* AP[1]: EL0 (unprivileged) access */
#define DESC_AP_RDONLY   BIT_ULL(7)  /* AP[2]: read-only */
#define DESC_AF          BIT_ULL(10)
#define DESC_NG          BIT_ULL(11)
#define DESC_PXN         BIT_ULL(53)
#define DESC_UXN         BIT_ULL(54)
#define DESC_PXNTABLE    BIT_ULL(59)
#define DESC_UXNTABLE    BIT_ULL(60)
#define DESC_APT_NOUNPRIV BIT_ULL(61) /* APTable[0]: no EL0 access below */
#define DESC_APT_RDONLY  BIT_ULL(62)  /* APTable[1]: no writes below */
#define DESC_ADDR_MASK   GENMASK_ULL(47, 12)

/* Attribute word of TLB and walk-cache entries (and walk results). */
#define A_LEVEL_MASK     0x3u        /* level of the descriptor */
#define A_RDONLY         (1u << 2)
#define A_PRIVONLY       (1u << 3)   /* AP[1] clear, or APTable[0] above */
#define A_PXN            (1u << 4)
#define A_UXN            (1u << 5)
#define A_ATTRIDX_SHIFT  6
#define A_ATTRIDX_MASK   (7u << 6)
#define A_PERM           (A_RDONLY | A_PRIVONLY | A_PXN | A_UXN)

/* Input bits a level-@level descriptor resolves start here (4 KiB granule). */
static inline unsigned int level_shift(unsigned int level)
{
	return 12 + 9 * (3 - level);
}

struct smmu_cb {
	uint32_t sctlr, tcr2, tcr, contextidr, mair[2];
	uint64_t ttbr[2];
	uint32_t fsr, fsynr0;
	uint64_t far;
	uint32_t cbar, cba2r, cbfrsynra; /* GR1 registers of this bank */
	uint32_t tlbi_lo[6];   /* latched low words of the 64-bit TLBI registers */
	bool sactive;          /* TLBSTATUS.SACTIVE */
	unsigned int pending;  /* invalidations since the last TLBSYNC */
	struct ik_tlb tlb;     /* leaves */
	struct ik_tlb wc;      /* walk cache: table descriptors */
};

struct arm_smmu {
	struct ik_hw_iommu hw;
	pthread_mutex_t lock; /* the model lock: registers, TLBs, stats */
	struct ik_mem *mem;
	unsigned int irq;
	bool powered;
	uint32_t idr0;          /* sIDR0: CTTW only when walks snoop the CPU caches */

	uint32_t scr0;
	uint64_t gfar;
	uint32_t gfsr, gfsynr0, gfsynr1, gfsynr2;
	bool gsactive;          /* sTLBGSTATUS.GSACTIVE */
	unsigned int gpending;  /* global invalidations since the last sTLBGSYNC */
	uint32_t unsynced_tlbi; /* SMMU_IMPDEF_UNSYNCED_TLBI */
	uint32_t smr[SMMU_NUMSMRG];
	uint32_t s2cr[SMMU_NUMSMRG];
	struct smmu_cb cb[SMMU_NUMCB];
};

static struct arm_smmu *to_arm_smmu(struct ik_hw_iommu *hw)
{
	return container_of(hw, struct arm_smmu, hw);
}

/* --- state --- */

/* Every register to its reset value, every TLB and walk-cache entry gone. Lock held. */
static void reset_state(struct arm_smmu *s)
{
	s->scr0 = SMMU_sCR0_RESET;
	s->gfar = 0;
	s->gfsr = s->gfsynr0 = s->gfsynr1 = s->gfsynr2 = 0;
	s->gsactive = false;
	s->gpending = 0;
	s->unsynced_tlbi = 0;
	for (unsigned int i = 0; i < SMMU_NUMSMRG; i++) {
		s->smr[i] = 0;
		s->s2cr[i] = SMMU_S2CR_RESET;
	}
	for (unsigned int i = 0; i < SMMU_NUMCB; i++) {
		struct smmu_cb *cb = &s->cb[i];
		struct ik_tlb tlb = cb->tlb, wc = cb->wc;

		*cb = (struct smmu_cb){ .tlb = tlb, .wc = wc };
		ik_tlb_reset(&cb->tlb);
		ik_tlb_reset(&cb->wc);
	}
}

static uint32_t asid_mask(const struct smmu_cb *cb)
{
	return (cb->tcr2 & SMMU_TCR2_AS) ? 0xffffu : 0xffu;
}

static uint32_t cb_asid(const struct smmu_cb *cb)
{
	return (uint32_t)(cb->ttbr[0] >> SMMU_TTBR_ASID_SHIFT) & asid_mask(cb);
}

/* Physical address bits TCR2.PASIZE allows (never more than OAS, 48). */
static unsigned int pa_bits(const struct smmu_cb *cb)
{
	static const unsigned char bits[8] = { 32, 36, 40, 42, 44, 48, 48, 48 };
	return bits[cb->tcr2 & SMMU_TCR2_PASIZE_MASK];
}

/* --- stream mapping --- */

enum smmu_route {
	ROUTE_BYPASS,  /* pa = iova */
	ROUTE_ABORT,   /* S2CR fault type: terminate, nothing recorded */
	ROUTE_GFAULT,  /* global fault: *gfault holds the sGFSR bit */
	ROUTE_CONTEXT, /* translate through context bank *cbndx */
};

/* Where the SMRs and S2CRs send stream @sid. Lock held; reads only. */
static enum smmu_route route_stream(const struct arm_smmu *s, uint32_t sid,
				    unsigned int *cbndx, uint32_t *gfault)
{
	unsigned int matches = 0, group = 0;

	if (s->scr0 & SMMU_sCR0_CLIENTPD)
		return ROUTE_BYPASS;
	sid &= SMMU_SID_MASK;
	for (unsigned int i = 0; i < SMMU_NUMSMRG; i++) {
		uint32_t smr = s->smr[i];
		uint32_t mask = (smr & SMMU_SMR_MASK_MASK) >> SMMU_SMR_MASK_SHIFT;

		if ((smr & SMMU_SMR_VALID) && !((sid ^ smr) & SMMU_SMR_ID_MASK & ~mask)) {
			if (matches++ == 0)
				group = i;
		}
	}
	if (matches == 0) {
		if (!(s->scr0 & SMMU_sCR0_USFCFG))
			return ROUTE_BYPASS;
		*gfault = SMMU_sGFSR_USF;
		return ROUTE_GFAULT;
	}
	if (matches > 1) { /* sCR0.SMCFCFG reads 1: conflicts fault */
		*gfault = SMMU_sGFSR_SMCF;
		return ROUTE_GFAULT;
	}

	uint32_t s2cr = s->s2cr[group];
	switch ((s2cr & SMMU_S2CR_TYPE_MASK) >> SMMU_S2CR_TYPE_SHIFT) {
	case SMMU_S2CR_TYPE_BYPASS:
		return ROUTE_BYPASS;
	case SMMU_S2CR_TYPE_TRANS:
		break;
	default: /* fault, and the reserved encoding */
		return ROUTE_ABORT;
	}
	unsigned int n = s2cr & SMMU_S2CR_CBNDX_MASK;
	if (n >= SMMU_NUMCB ||
	    (s->cb[n].cbar & SMMU_CBAR_TYPE_MASK) >> SMMU_CBAR_TYPE_SHIFT !=
		    SMMU_CBAR_TYPE_S1_TRANS_S2_BYPASS ||
	    !(s->cb[n].cba2r & SMMU_CBA2R_VA64)) {
		*gfault = SMMU_sGFSR_ICF;
		return ROUTE_GFAULT;
	}
	*cbndx = n;
	return ROUTE_CONTEXT;
}

/* --- the table walk --- */

/* A walk's outcome. */
struct smmu_walk {
	uint64_t oa;        /* output base of the page or block */
	uint64_t mask;      /* its size - 1 */
	uint32_t attrs;     /* A_* (level, permissions, AttrIndx) */
	bool global;        /* nG clear */
	bool used_wc;       /* started from a walk-cache entry */
	unsigned int level; /* level reached (of the fault, if any) */
	unsigned int incoherent; /* descriptors read that the CPU had not cleaned */
};

static uint32_t leaf_attrs(uint64_t d)
{
	return ((d & DESC_AP_RDONLY) ? A_RDONLY : 0) | ((d & DESC_AP_UNPRIV) ? 0 : A_PRIVONLY) |
	       ((d & DESC_PXN) ? A_PXN : 0) | ((d & DESC_UXN) ? A_UXN : 0) |
	       (((uint32_t)(d >> DESC_ATTRIDX_SHIFT) & 7u) << A_ATTRIDX_SHIFT);
}

static uint32_t table_attrs(uint64_t d)
{
	return ((d & DESC_APT_RDONLY) ? A_RDONLY : 0) | ((d & DESC_APT_NOUNPRIV) ? A_PRIVONLY : 0) |
	       ((d & DESC_PXNTABLE) ? A_PXN : 0) | ((d & DESC_UXNTABLE) ? A_UXN : 0);
}

/*
 * The deepest walk-cache entry of level @start or below that covers @va
 * for @asid, or -1. Lock held.
 */
static int wc_find(const struct smmu_cb *cb, uint64_t va, uint32_t asid, unsigned int start)
{
	int best = -1;
	unsigned int best_level = 0;

	for (unsigned int i = 0; i < cb->wc.nr; i++) {
		const struct ik_tlb_entry *e = ik_tlb_get(&cb->wc, i);
		unsigned int level = e->attrs & A_LEVEL_MASK;

		if (!(e->flags & IK_TLB_VALID) || ((va ^ e->va) & ~e->mask) ||
		    ((asid ^ e->tag) & e->tag_mask) || level < start)
			continue;
		if (best < 0 || level > best_level) {
			best = (int)i;
			best_level = level;
		}
	}
	return best;
}

/**
 * cb_walk() - the stage-1 table walk of one input address in a context bank
 * @s: the SMMU (for memory)
 * @cb: the context bank: TCR, TCR2, TTBR0, SCTLR.AFFD, walk cache
 * @va: input address
 * @cached: consult and fill the walk cache (the translation path); false
 *          for a walk from memory alone that changes nothing
 * @w: the result; w->level is set on faults too
 *
 * Lock held. Reads PTEs with acquire loads, so that a table published by
 * its parent entry is seen whole.
 *
 * Return: 0, or the FSR bit of the fault: SMMU_FSR_TF (invalid or reserved
 * descriptor, unsupported configuration, address out of range),
 * SMMU_FSR_ASF (address beyond TCR2.PASIZE), SMMU_FSR_EF (descriptor
 * fetch outside RAM) or SMMU_FSR_AFF (access flag clear).
 */
static uint32_t cb_walk(struct arm_smmu *s, struct smmu_cb *cb, uint64_t va, bool cached,
			struct smmu_walk *w)
{
	unsigned int t0sz = cb->tcr & SMMU_TCR_T0SZ_MASK;
	uint64_t pa_limit = ~0ull << pa_bits(cb); /* address bits that must be clear */
	uint32_t asid = cb_asid(cb), tattrs = 0;

	w->level = 0;
	w->used_wc = false;
	w->incoherent = 0;
	if ((cb->tcr & SMMU_TCR_TG0_MASK) >> SMMU_TCR_TG0_SHIFT != SMMU_TCR_TG0_4K ||
	    t0sz < 16 || t0sz > 39 || (cb->tcr & SMMU_TCR_EPD0))
		return SMMU_FSR_TF;
	unsigned int ias = 64 - t0sz;
	if (va >> ias)
		return SMMU_FSR_TF;
	unsigned int start = 4 - (ias - 12 + 8) / 9;          /* 48 bits: 0, 39: 1 */
	unsigned int start_bits = ias - level_shift(start);   /* index bits at start */
	unsigned int align = ik_max(3 + start_bits, 6u);      /* table alignment */
	uint64_t table = cb->ttbr[0] & GENMASK_ULL(47, align);
	if (table & pa_limit)
		return SMMU_FSR_ASF;

	unsigned int level = start;
	if (cached) {
		int i = wc_find(cb, va, asid, start);
		if (i >= 0) {
			const struct ik_tlb_entry *e = ik_tlb_get(&cb->wc, (unsigned int)i);
			ik_tlb_touch(&cb->wc, (unsigned int)i);
			level = (e->attrs & A_LEVEL_MASK) + 1;
			table = e->pa;
			tattrs = e->attrs & A_PERM;
			w->used_wc = true;
		}
	}

	for (;; level++) {
		unsigned int shift = level_shift(level);
		uint64_t idx_mask = level == start ? (1ull << start_bits) - 1 : 0x1ff;
		phys_addr_t dpa = table + ((va >> shift) & idx_mask) * 8;
		const uint64_t *p = ik_mem_va(s->mem, dpa);

		w->level = level;
		if (!p)
			return SMMU_FSR_EF;
		uint64_t d = ik_read_le64_acquire(p);
		/* Not hardware: a checker noting that the CPU's cache has a newer word. */
		if (unlikely(s->mem->cpu_cache) &&
		    ik_cpu_cache_device_stale(s->mem->cpu_cache, dpa, 8))
			w->incoherent++;
		if (!(d & DESC_VALID))
			return SMMU_FSR_TF;
		if (level < 3 && (d & DESC_TABLE)) {
			uint64_t next = d & DESC_ADDR_MASK;
			if (next & pa_limit)
				return SMMU_FSR_ASF;
			tattrs |= table_attrs(d);
			if (cached) {
				uint64_t mask = (1ull << shift) - 1;
				struct ik_tlb_entry e = {
					.va = va & ~mask, .pa = next, .mask = mask,
					.tag = asid, .tag_mask = asid_mask(cb),
					.attrs = level | tattrs,
					.flags = IK_TLB_VALID | IK_TLB_WALKED,
				};
				ik_tlb_insert(&cb->wc, &e);
			}
			table = next;
			continue;
		}
		/* A block at level 0, or the reserved encoding at level 3. */
		if (level == 0 || (level == 3 && !(d & DESC_TABLE)))
			return SMMU_FSR_TF;
		uint64_t mask = (1ull << shift) - 1;
		uint64_t oa = d & DESC_ADDR_MASK & ~mask;
		if (oa & pa_limit)
			return SMMU_FSR_ASF;
		if (!(d & DESC_AF) && !(cb->sctlr & SMMU_SCTLR_AFFD))
			return SMMU_FSR_AFF;
		w->oa = oa;
		w->mask = mask;
		w->global = !(d & DESC_NG);
		w->attrs = level | tattrs | leaf_attrs(d);
		return 0;
	}
}

/* Whether @a (A_* of a translation) forbids this access: FSR.PF or 0. */
static uint32_t check_perm(const struct smmu_cb *cb, uint32_t a, bool write, unsigned int attrs)
{
	bool priv = attrs & IK_DMA_ATTR_PRIV;

	if (!priv && (a & A_PRIVONLY))
		return SMMU_FSR_PF;
	if (write && (a & A_RDONLY))
		return SMMU_FSR_PF;
	if (attrs & IK_DMA_ATTR_EXEC) {
		if (a & (priv ? A_PXN : A_UXN))
			return SMMU_FSR_PF;
		if ((cb->sctlr & SMMU_SCTLR_WXN) && !(a & A_RDONLY))
			return SMMU_FSR_PF;
	}
	return 0;
}

/* --- faults --- */

static uint32_t syndrome(bool write, unsigned int attrs, uint32_t wnr, uint32_t pnu, uint32_t ind)
{
	return (write ? wnr : 0) | ((attrs & IK_DMA_ATTR_PRIV) ? pnu : 0) |
	       ((attrs & IK_DMA_ATTR_EXEC) ? ind : 0);
}

/*
 * Record a context fault of kind @bit in bank @cb. Lock held. Returns
 * whether the interrupt must be raised (after unlocking).
 */
static bool record_context_fault(struct smmu_cb *cb, uint32_t bit, unsigned int level,
				 uint32_t sid, uint64_t va, bool write, unsigned int attrs)
{
	if (cb->fsr & SMMU_FSR_FAULT) {
		cb->fsr |= SMMU_FSR_MULTI;
	} else {
		cb->fsr = bit;
		cb->far = va;
		cb->fsynr0 = (level & SMMU_FSYNR0_PLVL_MASK) |
			     syndrome(write, attrs, SMMU_FSYNR0_WNR, SMMU_FSYNR0_PNU,
				      SMMU_FSYNR0_IND);
		cb->cbfrsynra = sid & SMMU_CBFRSYNRA_SID_MASK;
	}
	return cb->sctlr & SMMU_SCTLR_CFIE;
}

/* Record a global fault of kind @bit. Lock held. Returns whether to raise the IRQ. */
static bool record_global_fault(struct arm_smmu *s, uint32_t bit, uint32_t sid, uint64_t va,
				bool write, unsigned int attrs)
{
	if (s->gfsr & SMMU_sGFSR_MASK) {
		s->gfsr |= SMMU_sGFSR_MULTI;
	} else {
		s->gfsr = bit;
		s->gfar = va;
		s->gfsynr0 = syndrome(write, attrs, SMMU_sGFSYNR0_WNR, SMMU_sGFSYNR0_PNU,
				      SMMU_sGFSYNR0_IND);
		s->gfsynr1 = sid & SMMU_sGFSYNR1_SID_MASK;
	}
	return s->scr0 & SMMU_sCR0_GFIE;
}

/* --- TLB maintenance --- */

static uint32_t sat_add(uint32_t a, unsigned int b)
{
	return b > UINT32_MAX - a ? UINT32_MAX : a + b;
}

/* TLBIVA/TLBIVAA/TLBIVAL/TLBIVAAL with the 64-bit value @v. Lock held. */
static unsigned int tlbi_va(struct smmu_cb *cb, uint64_t v, bool by_asid, bool leaf_only)
{
	uint64_t va = (v & SMMU_TLBI_VA_MASK) << 12;
	struct ik_tlb_inv inv = {
		.match = IK_TLB_INV_RANGE | (by_asid ? IK_TLB_INV_TAG : 0),
		.start = va,
		.last = va,
		/* Global entries match every ASID, so they go too. */
		.tag = (uint32_t)(v >> SMMU_TLBI_ASID_SHIFT) & asid_mask(cb),
	};
	unsigned int n = ik_tlb_invalidate(&cb->tlb, &inv);

	if (!leaf_only)
		n += ik_tlb_invalidate(&cb->wc, &inv);
	return n;
}

static unsigned int tlbi_asid(struct smmu_cb *cb, uint32_t asid)
{
	asid &= asid_mask(cb);
	/* Global (nG clear) leaves are not the ASID's: they stay. */
	return ik_tlb_invalidate_tag(&cb->tlb, asid, 0) + ik_tlb_invalidate_tag(&cb->wc, asid, 0);
}

static unsigned int tlbi_all(struct smmu_cb *cb)
{
	return ik_tlb_invalidate_all(&cb->tlb, 0) + ik_tlb_invalidate_all(&cb->wc, 0);
}

/* A context bank's TLB operation at page offset @off. Lock held. Returns entries dropped. */
static unsigned int cb_tlbi(struct smmu_cb *cb, uint32_t off, uint32_t val)
{
	unsigned int n;

	switch (off) {
	case SMMU_CB_TLBIVA + 4:
	case SMMU_CB_TLBIVAA + 4:
	case SMMU_CB_TLBIVAL + 4:
	case SMMU_CB_TLBIVAAL + 4: {
		unsigned int slot = (off - SMMU_CB_TLBIVA) >> 3;
		uint64_t v = ((uint64_t)val << 32) | cb->tlbi_lo[slot];
		bool by_asid = off == SMMU_CB_TLBIVA + 4 || off == SMMU_CB_TLBIVAL + 4;
		bool leaf = off == SMMU_CB_TLBIVAL + 4 || off == SMMU_CB_TLBIVAAL + 4;
		n = tlbi_va(cb, v, by_asid, leaf);
		break;
	}
	case SMMU_CB_TLBIASID:
		n = tlbi_asid(cb, val);
		break;
	case SMMU_CB_TLBIALL:
		n = tlbi_all(cb);
		break;
	default:
		return 0;
	}
	cb->sactive = true;
	cb->pending++;
	return n;
}

/* --- registers --- */

static uint32_t lo32(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t hi32(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

/* Replace the 32-bit half of @reg at byte @half (0 or 4) with @val. */
static void set_half(uint64_t *reg, uint32_t half, uint32_t val)
{
	if (half)
		*reg = (*reg & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*reg = (*reg & ~0xffffffffull) | val;
}

static uint32_t gr0_read(const struct arm_smmu *s, uint32_t off)
{
	switch (off) {
	case SMMU_GR0_sCR0:
		return s->scr0;
	case SMMU_GR0_sIDR0:
		return s->idr0;
	case SMMU_GR0_sIDR1:
		return SMMU_IDR1_VALUE;
	case SMMU_GR0_sIDR2:
		return SMMU_IDR2_VALUE;
	case SMMU_GR0_sIDR7:
		return SMMU_IDR7_VALUE;
	case SMMU_GR0_sGFAR:
		return lo32(s->gfar);
	case SMMU_GR0_sGFAR + 4:
		return hi32(s->gfar);
	case SMMU_GR0_sGFSR:
		return s->gfsr;
	case SMMU_GR0_sGFSYNR0:
		return s->gfsynr0;
	case SMMU_GR0_sGFSYNR1:
		return s->gfsynr1;
	case SMMU_GR0_sGFSYNR2:
		return s->gfsynr2;
	case SMMU_GR0_sTLBGSTATUS:
		return s->gsactive ? SMMU_sTLBGSTATUS_GSACTIVE : 0;
	}
	if (off >= SMMU_GR0_SMR(0) && off < SMMU_GR0_SMR(SMMU_NUMSMRG))
		return s->smr[(off - SMMU_GR0_SMR(0)) >> 2];
	if (off >= SMMU_GR0_S2CR(0) && off < SMMU_GR0_S2CR(SMMU_NUMSMRG))
		return s->s2cr[(off - SMMU_GR0_S2CR(0)) >> 2];
	return 0; /* other ID registers, write-only registers, holes */
}

/* Returns entries dropped by a TLB operation. */
static unsigned int gr0_write(struct arm_smmu *s, uint32_t off, uint32_t val)
{
	unsigned int n = 0;

	switch (off) {
	case SMMU_GR0_sCR0:
		s->scr0 = (val & sCR0_RW) | SMMU_sCR0_SMCFCFG;
		return 0;
	case SMMU_GR0_sGFAR:
	case SMMU_GR0_sGFAR + 4:
		set_half(&s->gfar, off - SMMU_GR0_sGFAR, val);
		return 0;
	case SMMU_GR0_sGFSR:
		s->gfsr &= ~(val & SMMU_sGFSR_MASK);
		return 0;
	case SMMU_GR0_sGFSYNR0:
		s->gfsynr0 = val;
		return 0;
	case SMMU_GR0_sGFSYNR1:
		s->gfsynr1 = val;
		return 0;
	case SMMU_GR0_sGFSYNR2:
		s->gfsynr2 = val;
		return 0;
	case SMMU_GR0_TLBIVMID:
		for (unsigned int i = 0; i < SMMU_NUMCB; i++)
			if ((s->cb[i].cbar & SMMU_CBAR_VMID_MASK) == (val & SMMU_CBAR_VMID_MASK))
				n += tlbi_all(&s->cb[i]);
		break;
	case SMMU_GR0_TLBIALLNSNH:
		for (unsigned int i = 0; i < SMMU_NUMCB; i++)
			n += tlbi_all(&s->cb[i]);
		break;
	case SMMU_GR0_sTLBGSYNC:
		s->gsactive = false;
		s->gpending = 0;
		return 0;
	default:
		if (off >= SMMU_GR0_SMR(0) && off < SMMU_GR0_SMR(SMMU_NUMSMRG))
			s->smr[(off - SMMU_GR0_SMR(0)) >> 2] = val & SMR_RW;
		else if (off >= SMMU_GR0_S2CR(0) && off < SMMU_GR0_S2CR(SMMU_NUMSMRG))
			s->s2cr[(off - SMMU_GR0_S2CR(0)) >> 2] = val & S2CR_RW;
		return 0;
	}
	s->gsactive = true;
	s->gpending++;
	return n;
}

static uint32_t gr1_read(const struct arm_smmu *s, uint32_t off)
{
	unsigned int n = (off & 0x3ff) >> 2;

	if (n >= SMMU_NUMCB)
		return 0;
	switch (off & ~0x3ffu) {
	case SMMU_GR1_CBAR(0):
		return s->cb[n].cbar;
	case SMMU_GR1_CBFRSYNRA(0):
		return s->cb[n].cbfrsynra;
	case SMMU_GR1_CBA2R(0):
		return s->cb[n].cba2r;
	}
	return 0;
}

static void gr1_write(struct arm_smmu *s, uint32_t off, uint32_t val)
{
	unsigned int n = (off & 0x3ff) >> 2;

	if (n >= SMMU_NUMCB)
		return;
	switch (off & ~0x3ffu) {
	case SMMU_GR1_CBAR(0):
		s->cb[n].cbar = val & CBAR_RW;
		break;
	case SMMU_GR1_CBFRSYNRA(0):
		s->cb[n].cbfrsynra = val & SMMU_CBFRSYNRA_SID_MASK;
		break;
	case SMMU_GR1_CBA2R(0):
		s->cb[n].cba2r = val & SMMU_CBA2R_VA64;
		break;
	}
}

static uint32_t cb_read(const struct smmu_cb *cb, uint32_t off)
{
	switch (off) {
	case SMMU_CB_SCTLR:
		return cb->sctlr;
	case SMMU_CB_TCR2:
		return cb->tcr2;
	case SMMU_CB_TTBR0:
		return lo32(cb->ttbr[0]);
	case SMMU_CB_TTBR0 + 4:
		return hi32(cb->ttbr[0]);
	case SMMU_CB_TTBR1:
		return lo32(cb->ttbr[1]);
	case SMMU_CB_TTBR1 + 4:
		return hi32(cb->ttbr[1]);
	case SMMU_CB_TCR:
		return cb->tcr;
	case SMMU_CB_CONTEXTIDR:
		return cb->contextidr;
	case SMMU_CB_MAIR0:
		return cb->mair[0];
	case SMMU_CB_MAIR1:
		return cb->mair[1];
	case SMMU_CB_FSR:
		return cb->fsr;
	case SMMU_CB_FAR:
		return lo32(cb->far);
	case SMMU_CB_FAR + 4:
		return hi32(cb->far);
	case SMMU_CB_FSYNR0:
		return cb->fsynr0;
	case SMMU_CB_TLBSTATUS:
		return cb->sactive ? SMMU_TLBSTATUS_SACTIVE : 0;
	}
	return 0; /* PAR (no ATOS), write-only registers, holes */
}

/* Returns entries dropped by a TLB operation. */
static unsigned int cb_write(struct smmu_cb *cb, uint32_t off, uint32_t val)
{
	switch (off) {
	case SMMU_CB_SCTLR:
		cb->sctlr = val & SCTLR_RW;
		break;
	case SMMU_CB_TCR2:
		cb->tcr2 = val & TCR2_RW;
		break;
	case SMMU_CB_TTBR0:
	case SMMU_CB_TTBR0 + 4:
		set_half(&cb->ttbr[0], off - SMMU_CB_TTBR0, val);
		break;
	case SMMU_CB_TTBR1:
	case SMMU_CB_TTBR1 + 4:
		set_half(&cb->ttbr[1], off - SMMU_CB_TTBR1, val);
		break;
	case SMMU_CB_TCR:
		cb->tcr = val & TCR_RW;
		break;
	case SMMU_CB_CONTEXTIDR:
		cb->contextidr = val;
		break;
	case SMMU_CB_MAIR0:
	case SMMU_CB_MAIR1:
		cb->mair[(off - SMMU_CB_MAIR0) >> 2] = val;
		break;
	case SMMU_CB_FSR:
		cb->fsr &= ~(val & SMMU_FSR_FAULT);
		break;
	case SMMU_CB_FAR:
	case SMMU_CB_FAR + 4:
		set_half(&cb->far, off - SMMU_CB_FAR, val);
		break;
	case SMMU_CB_FSYNR0:
		cb->fsynr0 = val;
		break;
	case SMMU_CB_TLBIVA:
	case SMMU_CB_TLBIVAA:
	case SMMU_CB_TLBIVAL:
	case SMMU_CB_TLBIVAAL:
		cb->tlbi_lo[(off - SMMU_CB_TLBIVA) >> 3] = val;
		break;
	case SMMU_CB_TLBSYNC:
		cb->sactive = false;
		cb->pending = 0;
		break;
	default:
		return cb_tlbi(cb, off, val);
	}
	return 0;
}

static uint32_t arm_smmu_read(void *opaque, uint32_t off)
{
	struct arm_smmu *s = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->powered || (off & 3) || off >= SMMU_WINDOW_SIZE)
		goto out; /* no clock, or not a 32-bit register access: reads 0 */
	if (off >= SMMU_CB_BASE)
		v = cb_read(&s->cb[(off - SMMU_CB_BASE) >> SMMU_PAGE_SHIFT],
			    off & (SMMU_PAGE_SIZE - 1));
	else if (off < SMMU_GR1_BASE)
		v = gr0_read(s, off);
	else if (off < SMMU_IMPDEF_BASE)
		v = gr1_read(s, off - SMMU_GR1_BASE);
	else if (off == SMMU_IMPDEF_UNSYNCED_TLBI)
		v = s->unsynced_tlbi;
out:
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* A 32-bit register write. Lock held. Returns TLB entries it invalidated. */
static unsigned int smmu_write_locked(struct arm_smmu *s, uint32_t off, uint32_t val)
{
	unsigned int n = 0;

	if (!s->powered || (off & 3) || off >= SMMU_WINDOW_SIZE)
		return 0;
	if (off >= SMMU_CB_BASE)
		n = cb_write(&s->cb[(off - SMMU_CB_BASE) >> SMMU_PAGE_SHIFT],
			     off & (SMMU_PAGE_SIZE - 1), val);
	else if (off < SMMU_GR1_BASE)
		n = gr0_write(s, off, val);
	else if (off < SMMU_IMPDEF_BASE)
		gr1_write(s, off - SMMU_GR1_BASE, val);
	else if (off == SMMU_IMPDEF_UNSYNCED_TLBI)
		s->unsynced_tlbi = 0;
	return n;
}

static void arm_smmu_write(void *opaque, uint32_t off, uint32_t val)
{
	struct arm_smmu *s = opaque;
	struct ik_iommu_hw_stats delta = { 0 };

	pthread_mutex_lock(&s->lock);
	delta.invalidations = smmu_write_locked(s, off, val);
	if (delta.invalidations)
		ik_hw_iommu_add_stats(&s->hw, &delta);
	pthread_mutex_unlock(&s->lock);
}

/*
 * A 64-bit write (SMMUv2 allows 64-bit accesses to its 64-bit registers):
 * the two halves under one lock, low word first, as the architecture's
 * 32-bit split defines their effect.
 */
static void arm_smmu_write64(void *opaque, uint32_t off, uint64_t val)
{
	struct arm_smmu *s = opaque;
	struct ik_iommu_hw_stats delta = { 0 };

	pthread_mutex_lock(&s->lock);
	delta.invalidations = smmu_write_locked(s, off, (uint32_t)val);
	delta.invalidations += smmu_write_locked(s, off + 4, (uint32_t)(val >> 32));
	if (delta.invalidations)
		ik_hw_iommu_add_stats(&s->hw, &delta);
	pthread_mutex_unlock(&s->lock);
}

static const struct ik_mmio_ops arm_smmu_mmio_ops = {
	.read32 = arm_smmu_read,
	.write32 = arm_smmu_write,
	.write64 = arm_smmu_write64,
};

/* --- the translation path --- */

/* Whether two translations of @va agree (output address and permissions). */
static bool same_translation(uint64_t va, uint64_t pa, uint32_t attrs, const struct smmu_walk *w)
{
	return (w->oa | (va & w->mask)) == pa && (w->attrs & A_PERM) == (attrs & A_PERM);
}

/*
 * Translate @va through context bank @n. Lock held. Fills @out and returns
 * 0, or records the fault and returns -EFAULT (*raise: the IRQ is due).
 */
static int cb_translate(struct arm_smmu *s, unsigned int n, uint32_t sid, uint64_t va,
			bool write, unsigned int attrs, struct ik_hw_xlate *out,
			struct ik_iommu_hw_stats *delta, bool *raise)
{
	struct smmu_cb *cb = &s->cb[n];
	struct smmu_walk w, fresh;
	uint32_t fault = 0, a = 0;
	unsigned int level = 0, idx;
	uint64_t pa = 0, mask = 0;

	if (!(cb->sctlr & SMMU_SCTLR_M)) {
		out->pa = va;
		out->page_mask = IK_PAGE_SIZE - 1;
		return 0;
	}
	if (cb->pending || s->gpending) {
		s->unsynced_tlbi = sat_add(s->unsynced_tlbi, cb->pending + s->gpending);
		cb->pending = 0;
		s->gpending = 0;
	}

	uint32_t asid = cb_asid(cb);
	unsigned int hits = ik_tlb_lookup(&cb->tlb, va, asid, &idx);
	if (hits > 1) {
		fault = SMMU_FSR_TLBMCF;
	} else if (hits == 1) {
		const struct ik_tlb_entry *e = ik_tlb_get(&cb->tlb, idx);
		ik_tlb_touch(&cb->tlb, idx);
		delta->tlb_hits = 1;
		pa = ik_tlb_entry_pa(e, va);
		mask = e->mask;
		a = e->attrs;
		level = a & A_LEVEL_MASK;
		/* Silicon uses the cached entry; we also check it against memory. */
		if (cb_walk(s, cb, va, false, &fresh) || !same_translation(va, pa, a, &fresh))
			delta->stale_accesses = 1;
	} else {
		delta->tlb_misses = 1;
		delta->walks = 1;
		fault = cb_walk(s, cb, va, true, &w);
		delta->incoherent_walks = w.incoherent != 0;
		level = w.level;
		if (w.used_wc) {
			/* The walk cache skipped levels: would memory alone agree? */
			uint32_t f2 = cb_walk(s, cb, va, false, &fresh);
			uint64_t got = w.oa | (va & w.mask);
			if (f2 != fault || (!fault && !same_translation(va, got, w.attrs, &fresh)))
				delta->stale_accesses = 1;
		}
		if (!fault) {
			struct ik_tlb_entry e = {
				.va = va & ~w.mask, .pa = w.oa, .mask = w.mask,
				.tag = asid, .tag_mask = w.global ? 0 : asid_mask(cb),
				.attrs = w.attrs, .flags = IK_TLB_VALID | IK_TLB_WALKED,
			};
			ik_tlb_insert(&cb->tlb, &e);
			pa = w.oa | (va & w.mask);
			mask = w.mask;
			a = w.attrs;
		}
	}
	if (!fault)
		fault = check_perm(cb, a, write, attrs);
	if (fault) {
		delta->faults = 1;
		*raise = record_context_fault(cb, fault, level, sid, va, write, attrs);
		return -EFAULT;
	}
	out->pa = pa;
	out->page_mask = mask;
	return 0;
}

static int arm_smmu_translate(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr, bool write,
			      unsigned int attrs, struct ik_hw_xlate *out)
{
	struct arm_smmu *s = to_arm_smmu(hw);
	struct ik_iommu_hw_stats delta = { .accesses = 1 };
	unsigned int cbndx = 0;
	uint32_t gfault = 0;
	bool raise = false;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->powered) {
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	switch (route_stream(s, sid, &cbndx, &gfault)) {
	case ROUTE_BYPASS:
		out->pa = addr;
		out->page_mask = IK_PAGE_SIZE - 1;
		break;
	case ROUTE_ABORT:
		delta.faults = 1;
		ret = -EFAULT;
		break;
	case ROUTE_GFAULT:
		delta.faults = 1;
		raise = record_global_fault(s, gfault, sid, addr, write, attrs);
		ret = -EFAULT;
		break;
	case ROUTE_CONTEXT:
		ret = cb_translate(s, cbndx, sid, addr, write, attrs, out, &delta, &raise);
		break;
	}
	ik_hw_iommu_add_stats(&s->hw, &delta);
	pthread_mutex_unlock(&s->lock);
	if (raise)
		ik_irq_raise(hw->machine, s->irq);
	return ret;
}

/* MAIR nibble (inner or outer) of Normal memory that is Write-Back. */
static bool mair_wb(unsigned int nibble)
{
	return (nibble & 0xc) == 0xc || ((nibble & 0xc) == 0x4 && (nibble & 3));
}

/* IOMMU_* permissions of a translation with attributes @a. */
static int walk_prot(const struct smmu_cb *cb, uint32_t a)
{
	unsigned int idx = (a & A_ATTRIDX_MASK) >> A_ATTRIDX_SHIFT;
	unsigned int attr = (cb->mair[idx / 4] >> (8 * (idx % 4))) & 0xff;
	int prot = IOMMU_READ;

	if (!(a & A_RDONLY))
		prot |= IOMMU_WRITE;
	if (a & A_PRIVONLY)
		prot |= IOMMU_PRIV;
	/* Execute-never for whoever may access: privileged-only pages check PXN. */
	if (a & ((a & A_PRIVONLY) ? A_PXN : A_UXN))
		prot |= IOMMU_NOEXEC;
	if (!(attr & 0xf0))
		prot |= IOMMU_MMIO; /* Device memory */
	else if (mair_wb(attr >> 4) && mair_wb(attr & 0xf))
		prot |= IOMMU_CACHE;
	return prot;
}

static int arm_smmu_walk(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t iova, phys_addr_t *pa,
			 int *prot)
{
	struct arm_smmu *s = to_arm_smmu(hw);
	unsigned int cbndx = 0;
	uint32_t gfault = 0;
	struct smmu_walk w;
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	switch (route_stream(s, sid, &cbndx, &gfault)) {
	case ROUTE_BYPASS:
		*pa = iova;
		ret = -EIO;
		break;
	case ROUTE_ABORT:
	case ROUTE_GFAULT:
		break;
	case ROUTE_CONTEXT: {
		struct smmu_cb *cb = &s->cb[cbndx];
		if (!(cb->sctlr & SMMU_SCTLR_M)) {
			*pa = iova;
			ret = -EIO;
		} else if (!cb_walk(s, cb, iova, false, &w)) {
			*pa = w.oa | (iova & w.mask);
			*prot = walk_prot(cb, w.attrs);
			ret = 0;
		}
		break;
	}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void arm_smmu_power(struct ik_hw_iommu *hw, bool on)
{
	struct arm_smmu *s = to_arm_smmu(hw);

	pthread_mutex_lock(&s->lock);
	/* Off loses the context; on from off starts at the reset state. */
	if (!on || !s->powered)
		reset_state(s);
	s->powered = on;
	pthread_mutex_unlock(&s->lock);
}

static void arm_smmu_destroy(struct ik_hw_iommu *hw)
{
	if (!hw)
		return;
	struct arm_smmu *s = to_arm_smmu(hw);
	for (unsigned int i = 0; i < SMMU_NUMCB; i++) {
		ik_tlb_destroy(&s->cb[i].tlb);
		ik_tlb_destroy(&s->cb[i].wc);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct ik_hw_iommu_ops arm_smmu_ops = {
	.translate = arm_smmu_translate,
	.walk = arm_smmu_walk,
	.power = arm_smmu_power,
	.destroy = arm_smmu_destroy,
};

/**
 * arm_smmu_create() - build an SMMUv2 and map its registers
 * @m: the machine
 * @desc: the instance: name, register window (aligned to its 64 KiB size,
 *        as the architecture requires), interrupt line, TLB entries per
 *        context bank (0: 64; at most 4096)
 *
 * Return: the model, powered on in its reset state; NULL with errno set
 * (EINVAL for a bad description, ENOMEM, or ik_machine_add_mmio()'s error).
 */
static struct ik_hw_iommu *arm_smmu_create(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	int ret = 0;

	if (!m || !desc || desc->tlb_entries > SMMU_MAX_TLB || !ik_machine_mem(m) ||
	    !IS_ALIGNED(desc->mmio_base, SMMU_WINDOW_SIZE)) {
		errno = EINVAL;
		return NULL;
	}
	unsigned int nr = desc->tlb_entries ? desc->tlb_entries : SMMU_DEFAULT_TLB;

	struct arm_smmu *s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->hw.stats_lock = &s->lock;
	for (unsigned int i = 0; i < SMMU_NUMCB && !ret; i++) {
		ret = ik_tlb_init(&s->cb[i].tlb, nr, IK_TLB_LRU);
		if (!ret)
			ret = ik_tlb_init(&s->cb[i].wc, SMMU_WALK_CACHE, IK_TLB_LRU);
	}
	s->hw.ops = &arm_smmu_ops;
	s->hw.machine = m;
	snprintf(s->hw.name, sizeof(s->hw.name), "%s", desc->name ? desc->name : "arm-smmu");
	s->mem = ik_machine_mem(m);
	/* The walker reads memory: coherent only when the machine's DMA is. */
	s->idr0 = SMMU_IDR0_VALUE & ~(ik_machine_dma_coherent(m) ? 0 : SMMU_IDR0_CTTW);
	s->irq = desc->irq;
	s->powered = true;
	if (!ret) {
		reset_state(s);
		ret = ik_machine_add_mmio(m, desc->mmio_base, SMMU_WINDOW_SIZE, &arm_smmu_mmio_ops,
					  s);
	}
	if (ret) {
		arm_smmu_destroy(&s->hw); /* destroys what was initialised; the rest is zero */
		errno = -ret;
		return NULL;
	}
	return &s->hw;
}

const struct ik_hw_model_type ik_arm_smmu_model_type = {
	.compatible = SMMU_COMPATIBLE,
	.create = arm_smmu_create,
	.mmio_size = SMMU_WINDOW_SIZE,
};
