// SPDX-License-Identifier: MIT
/*
 * Arm System MMU architecture version 2 driver: stage-1 translation with
 * AArch64 (VMSAv8-64) context banks and the 4 KiB granule, stream matching.
 *
 * Facts from: Arm IHI 0062 "ARM System Memory Management Unit Architecture
 * Specification, SMMU architecture versions 1.0 and 2.0", by register
 * name: 8.1 "SMMU address map" (the global half of the window is NUMPAGE
 * pages of PAGESIZE, context bank n is page n of the upper half); chapter
 * 9, the global address space: SMMU_sCR0 (CLIENTPD, USFCFG: unmatched
 * streams fault, GFRE/GFIE/GCFGFRE/GCFGFIE), SMMU_sIDR0-2 (S1TS, SMS,
 * CTTW, NUMSMRG, NUMSIDB, NUMCB, NUMS2CB - the first NUMS2CB banks only do
 * stage 2 -, PAGESIZE, NUMPAGENDXB, IAS/OAS/UBS and their size encoding,
 * PTFSv8_4kB), SMMU_SMRn/S2CRn (a stream matches an SMR, whose S2CR says
 * translate through a bank, bypass or fault), SMMU_CBARn (type "stage 1
 * with stage 2 bypass", VMID), SMMU_CBA2Rn.VA64, SMMU_CBFRSYNRAn,
 * SMMU_sGFSR/sGFSYNR0-1, TLBIALLNSNH and sTLBGSYNC/sTLBGSTATUS.GSACTIVE;
 * chapter 10, the context banks: SCTLR, TCR/TCR2 (PASIZE, AS), TTBR0 with
 * the ASID in bits 63:48, MAIR0/1, FSR/FAR/FSYNR0, and TLB maintenance:
 * TLBIVA/TLBIVAL take VA[55:12] and the ASID, the L form acting on leaf
 * (last level) entries only so that walk caches keep their table entries;
 * TLBIASID, TLBIALL; completion through TLBSYNC/TLBSTATUS.SACTIVE. The
 * bring-up order (clear faults, reset every SMR/S2CR and bank, invalidate,
 * then sCR0) and the bank programming order (CBA2R, CBAR, TCR2, TCR, TTBRs,
 * MAIRs, SCTLR last) were confirmed against Linux's drivers/iommu/arm/
 * arm-smmu/arm-smmu.c (arm_smmu_device_reset, arm_smmu_write_context_bank).
 * The register map is src/include/ik/arm-smmu-regs.h.
 *
 * Shape: one context bank and one ASID per (domain, SMMU instance), taken
 * at the domain's first attach to a device behind that instance and kept
 * until the domain is freed; devices attach by stream ID, each ID through
 * one stream match register (SMR, ID = stream ID, MASK = 0) whose S2CR
 * points at the bank. Devices that share a stream ID share the SMR (they
 * are one group, by the core's generic_device_group()). Identity and
 * blocked domains are S2CRs of type bypass and fault; a detached stream
 * has no SMR and faults as unmatched (sCR0.USFCFG).
 *
 * Page tables are the Arm LPAE stage-1 io-pgtable format, allocated with
 * the domain. Unmaps are invalidated precisely: one TLBIVAL per page the
 * gather covers (leaf entries only), or TLBIVA when the gather also frees
 * tables (so walk caches drop their pointers to them), then TLBSYNC; past
 * ARM_SMMU_TLBI_MAX_PAGES pages a TLBIASID is cheaper. Every invalidation
 * goes to every SMMU instance the domain has a bank on.
 *
 * Locking (outermost first): the core's group lock > domain->lock (the
 * list of a domain's banks) > smmu->lock (bank, ASID and SMR allocation,
 * masters' attachment, and every MMIO sequence on that instance) > the
 * model's lock. Map and unmap take no lock. The interrupt handler takes
 * only smmu->lock, to read and acknowledge the fault registers and to find
 * the device by stream ID, and drops it before it reports the fault, so a
 * fault handler may map and unmap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik/arm-smmu-regs.h"
#include "ik/compiler.h"
#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"
#include "ik/log.h"
#include "ik/machine.h"

#define ARM_SMMU_POLLS          1000u /* status reads before a sync times out */
#define ARM_SMMU_TLBI_MAX_PAGES 128u  /* per-page invalidations before TLBIASID */
#define ARM_SMMU_PGSIZES_4K     (IK_SZ_4K | IK_SZ_2M | IK_SZ_1G)
#define ARM_SMMU_VA_MAX_BITS    48u   /* AArch64, 4 KiB granule, no TTBR1 */

/* One stream match register group (SMR + S2CR) as the driver uses it. */
struct arm_smmu_smr {
	unsigned int refs; /* stream IDs of attached masters using it; 0: free */
	uint16_t id;
	uint32_t s2cr;
};

struct arm_smmu_ctx;

/* One SMMU instance. */
struct arm_smmu_device {
	struct iommu_device iommu;
	struct ik_machine *machine;
	const struct ik_mmio *mmio;
	unsigned int irq;
	char name[32];

	/* From the ID registers. */
	unsigned int pgshift;      /* register page size */
	uint32_t cb_base;          /* window offset of context bank 0 */
	unsigned int num_cbs;
	unsigned int num_s2_cbs;   /* banks [0, num_s2_cbs) only do stage 2 */
	unsigned int num_smrs;
	uint32_t sid_mask;
	unsigned int ias, oas;     /* stage-1 input and output address bits */
	unsigned int asid_bits;    /* 16 if TCR2.AS is implemented, else 8 */
	unsigned long pgsize_bitmap;
	bool coherent_walk;

	pthread_mutex_t lock;
	struct arm_smmu_ctx **cbs;  /* owner of each context bank, NULL: free */
	uint64_t *asid_map;         /* bit set: ASID in use */
	struct arm_smmu_smr *smrs;
	struct list_head masters;   /* struct arm_smmu_master.node */
};

struct arm_smmu_domain;

/* Per-device state, in dev->iommu_priv from probe_device to release_device. */
struct arm_smmu_master {
	struct list_head node; /* on smmu->masters */
	struct device *dev;
	struct arm_smmu_device *smmu;
	struct arm_smmu_domain *domain; /* attached domain, under smmu->lock */
	int smr[IK_MAX_SIDS];           /* SMR index of each stream ID while attached */
};

/* A paging domain's context bank on one SMMU instance. */
struct arm_smmu_ctx {
	struct list_head node; /* on domain->ctxs */
	struct arm_smmu_device *smmu;
	struct arm_smmu_domain *sdom;
	unsigned int cbndx;
	uint16_t asid;
};

struct arm_smmu_domain {
	struct iommu_domain domain;
	struct io_pgtable_ops *pgtbl; /* NULL for identity and blocked domains */
	uint64_t ttbr, tcr, mair;     /* what the format asks the bank to hold */
	unsigned int ias, oas;
	pthread_mutex_t lock;
	struct list_head ctxs;        /* struct arm_smmu_ctx.node */
};

static const struct iommu_ops arm_smmu_ops;
static const struct iommu_domain_ops arm_smmu_paging_ops;
static const struct iommu_domain_ops arm_smmu_fixed_ops;

static struct arm_smmu_domain *to_smmu_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct arm_smmu_domain, domain);
}

static struct arm_smmu_device *to_smmu(struct iommu_device *iommu)
{
	return container_of(iommu, struct arm_smmu_device, iommu);
}

/* The master state of @dev if an SMMU of this driver is in front of it. */
static struct arm_smmu_master *dev_to_master(struct device *dev)
{
	if (!dev || !dev->iommu || dev->iommu->ops != &arm_smmu_ops)
		return NULL;
	return dev->iommu_priv;
}

/* --- register access --- */

static uint32_t gr0_read(struct arm_smmu_device *smmu, uint32_t reg)
{
	return ik_readl(smmu->mmio, SMMU_GR0_BASE + reg);
}

static void gr0_write(struct arm_smmu_device *smmu, uint32_t reg, uint32_t val)
{
	ik_writel(smmu->mmio, SMMU_GR0_BASE + reg, val);
}

static uint32_t gr1_read(struct arm_smmu_device *smmu, uint32_t reg)
{
	return ik_readl(smmu->mmio, (1u << smmu->pgshift) + reg);
}

static void gr1_write(struct arm_smmu_device *smmu, uint32_t reg, uint32_t val)
{
	ik_writel(smmu->mmio, (1u << smmu->pgshift) + reg, val);
}

static uint32_t cb_off(struct arm_smmu_device *smmu, unsigned int idx, uint32_t reg)
{
	return smmu->cb_base + ((uint32_t)idx << smmu->pgshift) + reg;
}

static uint32_t cb_read(struct arm_smmu_device *smmu, unsigned int idx, uint32_t reg)
{
	return ik_readl(smmu->mmio, cb_off(smmu, idx, reg));
}

static void cb_write(struct arm_smmu_device *smmu, unsigned int idx, uint32_t reg, uint32_t val)
{
	ik_writel(smmu->mmio, cb_off(smmu, idx, reg), val);
}

static uint64_t cb_readq(struct arm_smmu_device *smmu, unsigned int idx, uint32_t reg)
{
	return ik_readq(smmu->mmio, cb_off(smmu, idx, reg));
}

static void cb_writeq(struct arm_smmu_device *smmu, unsigned int idx, uint32_t reg, uint64_t val)
{
	ik_writeq(smmu->mmio, cb_off(smmu, idx, reg), val);
}

/* Bits of an IAS/OAS/UBS/PASIZE code (IHI 0062 9.6.2, SMMU_IDR2). */
static unsigned int addr_size_bits(unsigned int code)
{
	static const unsigned int bits[] = { 32, 36, 40, 42, 44, 48 };

	return code < ARRAY_SIZE(bits) ? bits[code] : 48;
}

/* TCR2.PASIZE code for an output size of @bits (the largest not above it). */
static uint32_t pasize_code(unsigned int bits)
{
	uint32_t code = SMMU_ADDR_SIZE_32;

	for (uint32_t c = SMMU_ADDR_SIZE_32; c <= SMMU_ADDR_SIZE_48; c++)
		if (addr_size_bits(c) <= bits)
			code = c;
	return code;
}

/* --- TLB maintenance --- */

/* Wait for a context bank's TLB maintenance to complete. Under smmu->lock. */
static int cb_tlb_sync_locked(struct arm_smmu_device *smmu, unsigned int idx)
{
	cb_write(smmu, idx, SMMU_CB_TLBSYNC, 0);
	for (unsigned int i = 0; i < ARM_SMMU_POLLS; i++)
		if (!(cb_read(smmu, idx, SMMU_CB_TLBSTATUS) & SMMU_TLBSTATUS_SACTIVE))
			return 0;
	ik_err("%s: context bank %u TLB sync timed out", smmu->name, idx);
	return -ETIMEDOUT;
}

/* Wait for global TLB maintenance to complete. Under smmu->lock (or at probe). */
static int tlb_global_sync_locked(struct arm_smmu_device *smmu)
{
	gr0_write(smmu, SMMU_GR0_sTLBGSYNC, 0);
	for (unsigned int i = 0; i < ARM_SMMU_POLLS; i++)
		if (!(gr0_read(smmu, SMMU_GR0_sTLBGSTATUS) & SMMU_sTLBGSTATUS_GSACTIVE))
			return 0;
	ik_err("%s: global TLB sync timed out", smmu->name);
	return -ETIMEDOUT;
}

/* Drop every TLB and walk-cache entry of @ctx's ASID. Under smmu->lock. */
static void ctx_flush_all_locked(struct arm_smmu_ctx *ctx)
{
	cb_write(ctx->smmu, ctx->cbndx, SMMU_CB_TLBIASID, ctx->asid);
	cb_tlb_sync_locked(ctx->smmu, ctx->cbndx);
}

/*
 * Drop everything bank @ctx->cbndx's VMID holds, global (nG clear) entries
 * too, which no ASID invalidation reaches: for a bank changing hands.
 * Under smmu->lock.
 */
static void ctx_flush_bank_locked(struct arm_smmu_ctx *ctx)
{
	cb_write(ctx->smmu, ctx->cbndx, SMMU_CB_TLBIALL, 0);
	cb_tlb_sync_locked(ctx->smmu, ctx->cbndx);
}

/*
 * Invalidate the pages of @pgsize that hold [@start, @end] (inclusive) in
 * @ctx's ASID: leaf entries only when @leaf, else walk-cache entries for
 * those addresses too. Under smmu->lock.
 */
static void ctx_inv_range_locked(struct arm_smmu_ctx *ctx, dma_addr_t start, dma_addr_t end,
				 size_t pgsize, bool leaf)
{
	struct arm_smmu_device *smmu = ctx->smmu;
	dma_addr_t first = ALIGN_DOWN(start, (dma_addr_t)pgsize);
	uint64_t npages = (end - first) / pgsize + 1;
	uint32_t reg = leaf ? SMMU_CB_TLBIVAL : SMMU_CB_TLBIVA;

	if (npages > ARM_SMMU_TLBI_MAX_PAGES) {
		ctx_flush_all_locked(ctx);
		return;
	}
	for (uint64_t i = 0; i < npages; i++) {
		dma_addr_t va = first + i * pgsize;

		cb_writeq(smmu, ctx->cbndx, reg, ((va >> 12) & SMMU_TLBI_VA_MASK) |
			  ((uint64_t)ctx->asid << SMMU_TLBI_ASID_SHIFT));
	}
	cb_tlb_sync_locked(smmu, ctx->cbndx);
}

static void domain_flush_all(struct arm_smmu_domain *sdom)
{
	struct arm_smmu_ctx *ctx;

	pthread_mutex_lock(&sdom->lock);
	list_for_each_entry(ctx, &sdom->ctxs, node) {
		pthread_mutex_lock(&ctx->smmu->lock);
		ctx_flush_all_locked(ctx);
		pthread_mutex_unlock(&ctx->smmu->lock);
	}
	pthread_mutex_unlock(&sdom->lock);
}

static void domain_inv_range(struct arm_smmu_domain *sdom, dma_addr_t start, dma_addr_t end,
			     size_t pgsize, bool leaf)
{
	struct arm_smmu_ctx *ctx;

	pthread_mutex_lock(&sdom->lock);
	list_for_each_entry(ctx, &sdom->ctxs, node) {
		pthread_mutex_lock(&ctx->smmu->lock);
		ctx_inv_range_locked(ctx, start, end, pgsize, leaf);
		pthread_mutex_unlock(&ctx->smmu->lock);
	}
	pthread_mutex_unlock(&sdom->lock);
}

static void arm_smmu_tlb_flush_all(void *cookie)
{
	domain_flush_all(cookie);
}

/* A table covering [iova, iova + size) changed: its walk-cache entries must go too. */
static void arm_smmu_tlb_flush_walk(dma_addr_t iova, size_t size, size_t granule, void *cookie)
{
	if (size && granule)
		domain_inv_range(cookie, iova, iova + size - 1, granule, false);
}

static void arm_smmu_tlb_add_page(struct iommu_iotlb_gather *gather, dma_addr_t iova,
				  size_t granule, void *cookie)
{
	struct arm_smmu_domain *sdom = cookie;

	iommu_iotlb_gather_add_page(&sdom->domain, gather, iova, granule);
}

static const struct iommu_flush_ops arm_smmu_flush_ops = {
	.tlb_flush_all = arm_smmu_tlb_flush_all,
	.tlb_flush_walk = arm_smmu_tlb_flush_walk,
	.tlb_add_page = arm_smmu_tlb_add_page,
};

/* --- context banks --- */

static bool asid_test_and_set(struct arm_smmu_device *smmu, unsigned int asid)
{
	uint64_t bit = 1ULL << (asid % 64);
	bool was = smmu->asid_map[asid / 64] & bit;

	smmu->asid_map[asid / 64] |= bit;
	return was;
}

static void asid_clear(struct arm_smmu_device *smmu, unsigned int asid)
{
	smmu->asid_map[asid / 64] &= ~(1ULL << (asid % 64));
}

/*
 * Program context bank @ctx->cbndx for @ctx->sdom's tables and turn it on:
 * AArch64 format, stage 1 with stage 2 bypass, fault reporting and
 * interrupts on. SCTLR goes last so that the bank translates only once
 * everything else is in place. Under smmu->lock.
 */
static void ctx_program_locked(struct arm_smmu_ctx *ctx)
{
	struct arm_smmu_device *smmu = ctx->smmu;
	struct arm_smmu_domain *sdom = ctx->sdom;
	unsigned int idx = ctx->cbndx;
	uint32_t tcr2 = pasize_code(sdom->oas) |
			(SMMU_TCR2_SEP_UPSTREAM << SMMU_TCR2_SEP_SHIFT);

	if (smmu->asid_bits == 16)
		tcr2 |= SMMU_TCR2_AS;
	cb_write(smmu, idx, SMMU_CB_SCTLR, 0);
	gr1_write(smmu, SMMU_GR1_CBA2R(idx), SMMU_CBA2R_VA64);
	/*
	 * One interrupt line for everything: every bank uses index 0. A VMID
	 * per bank keeps one bank's TLBIALL from reaching the others.
	 */
	gr1_write(smmu, SMMU_GR1_CBAR(idx),
		  (SMMU_CBAR_TYPE_S1_TRANS_S2_BYPASS << SMMU_CBAR_TYPE_SHIFT) |
		  (idx & SMMU_CBAR_VMID_MASK));
	cb_write(smmu, idx, SMMU_CB_TCR2, tcr2);
	cb_write(smmu, idx, SMMU_CB_TCR, (uint32_t)sdom->tcr);
	cb_writeq(smmu, idx, SMMU_CB_TTBR0, (sdom->ttbr & SMMU_TTBR_ADDR_MASK) |
		  ((uint64_t)ctx->asid << SMMU_TTBR_ASID_SHIFT));
	cb_writeq(smmu, idx, SMMU_CB_TTBR1, (uint64_t)ctx->asid << SMMU_TTBR_ASID_SHIFT);
	cb_write(smmu, idx, SMMU_CB_MAIR0, (uint32_t)sdom->mair);
	cb_write(smmu, idx, SMMU_CB_MAIR1, (uint32_t)(sdom->mair >> 32));
	cb_write(smmu, idx, SMMU_CB_FSR, SMMU_FSR_FAULT);
	/* Nothing of an earlier owner of this bank or ASID may survive. */
	ctx_flush_bank_locked(ctx);
	cb_write(smmu, idx, SMMU_CB_SCTLR, SMMU_SCTLR_M | SMMU_SCTLR_TRE | SMMU_SCTLR_AFE |
					   SMMU_SCTLR_CFRE | SMMU_SCTLR_CFIE);
}

/*
 * Take a context bank and an ASID on @smmu for @sdom and program the bank.
 * -EINVAL if this instance cannot walk the domain's tables (smaller
 * address sizes or page sizes), -ENOSPC when no bank or ASID is free,
 * -ENOMEM. Under domain->lock and smmu->lock.
 */
static int ctx_create_locked(struct arm_smmu_domain *sdom, struct arm_smmu_device *smmu,
			     struct arm_smmu_ctx **out)
{
	unsigned int idx, asid, nr_asids = 1u << smmu->asid_bits;

	if (smmu->ias < sdom->ias || smmu->oas < sdom->oas ||
	    (sdom->domain.pgsize_bitmap & ~smmu->pgsize_bitmap))
		return -EINVAL;
	for (idx = smmu->num_s2_cbs; idx < smmu->num_cbs && smmu->cbs[idx]; idx++)
		;
	if (idx == smmu->num_cbs)
		return -ENOSPC;
	/* ASID 0 stays unused, so a zeroed TTBR never aliases a live context. */
	for (asid = 1; asid < nr_asids && asid_test_and_set(smmu, asid); asid++)
		;
	if (asid == nr_asids)
		return -ENOSPC;
	struct arm_smmu_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		asid_clear(smmu, asid);
		return -ENOMEM;
	}
	ctx->smmu = smmu;
	ctx->sdom = sdom;
	ctx->cbndx = idx;
	ctx->asid = (uint16_t)asid;
	smmu->cbs[idx] = ctx;
	list_add_tail(&ctx->node, &sdom->ctxs);
	ctx_program_locked(ctx);
	*out = ctx;
	return 0;
}

/*
 * Turn @ctx's bank off, drop what the TLB holds for it, and give the bank
 * and the ASID back. Under domain->lock and smmu->lock.
 */
static void ctx_destroy_locked(struct arm_smmu_ctx *ctx)
{
	struct arm_smmu_device *smmu = ctx->smmu;

	cb_write(smmu, ctx->cbndx, SMMU_CB_SCTLR, 0);
	ctx_flush_bank_locked(ctx);
	cb_write(smmu, ctx->cbndx, SMMU_CB_FSR, SMMU_FSR_FAULT);
	smmu->cbs[ctx->cbndx] = NULL;
	asid_clear(smmu, ctx->asid);
	list_del_init(&ctx->node);
	free(ctx);
}

static struct arm_smmu_ctx *domain_ctx_on(struct arm_smmu_domain *sdom,
					  struct arm_smmu_device *smmu)
{
	struct arm_smmu_ctx *ctx;

	list_for_each_entry(ctx, &sdom->ctxs, node)
		if (ctx->smmu == smmu)
			return ctx;
	return NULL;
}

/* --- stream mapping --- */

/* Release one use of SMR @idx; the last one invalidates it. Under smmu->lock. */
static void smr_put_locked(struct arm_smmu_device *smmu, int idx)
{
	struct arm_smmu_smr *smr = &smmu->smrs[idx];

	if (--smr->refs)
		return;
	/* Stop matching first, then make the group fault. */
	gr0_write(smmu, SMMU_GR0_SMR(idx), 0);
	gr0_write(smmu, SMMU_GR0_S2CR(idx), SMMU_S2CR_RESET);
	smr->s2cr = SMMU_S2CR_RESET;
}

/*
 * Route stream ID @sid to @s2cr: share the SMR that already matches it
 * (a device of the same group) or take a free one. -EBUSY if the stream
 * is routed elsewhere, -ENOSPC when every SMR is taken. Under smmu->lock.
 */
static int smr_get_locked(struct arm_smmu_device *smmu, uint16_t sid, uint32_t s2cr)
{
	int free_idx = -1;

	for (unsigned int i = 0; i < smmu->num_smrs; i++) {
		struct arm_smmu_smr *smr = &smmu->smrs[i];

		if (!smr->refs) {
			if (free_idx < 0)
				free_idx = (int)i;
			continue;
		}
		if (smr->id != sid)
			continue;
		if (smr->s2cr != s2cr)
			return -EBUSY;
		smr->refs++;
		return (int)i;
	}
	if (free_idx < 0)
		return -ENOSPC;
	struct arm_smmu_smr *smr = &smmu->smrs[free_idx];

	smr->refs = 1;
	smr->id = sid;
	smr->s2cr = s2cr;
	/* The S2CR first: the stream must never match into an old one. */
	gr0_write(smmu, SMMU_GR0_S2CR(free_idx), s2cr);
	gr0_write(smmu, SMMU_GR0_SMR(free_idx), SMMU_SMR_VALID | sid);
	return free_idx;
}

/* Route every stream ID of @master to @s2cr, or none of them. Under smmu->lock. */
static int master_route_locked(struct arm_smmu_device *smmu, struct arm_smmu_master *master,
			       uint32_t s2cr)
{
	struct device *dev = master->dev;

	for (unsigned int k = 0; k < dev->nr_sids; k++) {
		int idx = smr_get_locked(smmu, (uint16_t)dev->sids[k], s2cr);

		if (idx < 0) {
			while (k--) {
				smr_put_locked(smmu, master->smr[k]);
				master->smr[k] = -1;
			}
			return idx;
		}
		master->smr[k] = idx;
	}
	return 0;
}

static void master_unroute_locked(struct arm_smmu_device *smmu, struct arm_smmu_master *master)
{
	for (unsigned int k = 0; k < master->dev->nr_sids; k++) {
		if (master->smr[k] >= 0)
			smr_put_locked(smmu, master->smr[k]);
		master->smr[k] = -1;
	}
}

/* --- attach / detach --- */

static uint32_t s2cr_value(uint32_t type, unsigned int cbndx)
{
	return (type << SMMU_S2CR_TYPE_SHIFT) | (cbndx & SMMU_S2CR_CBNDX_MASK);
}

static int arm_smmu_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct arm_smmu_domain *sdom = to_smmu_domain(domain);
	struct arm_smmu_master *master = dev_to_master(dev);
	struct arm_smmu_ctx *ctx = NULL;
	bool new_ctx = false;
	uint32_t s2cr;
	int ret;

	if (!master)
		return -ENODEV;
	struct arm_smmu_device *smmu = master->smmu;

	pthread_mutex_lock(&sdom->lock);
	pthread_mutex_lock(&smmu->lock);
	if (master->domain) {
		ret = master->domain == sdom ? 0 : -EBUSY;
		goto out;
	}
	if (sdom->pgtbl) {
		ctx = domain_ctx_on(sdom, smmu);
		if (!ctx) {
			ret = ctx_create_locked(sdom, smmu, &ctx);
			if (ret)
				goto out;
			new_ctx = true;
		}
		s2cr = s2cr_value(SMMU_S2CR_TYPE_TRANS, ctx->cbndx);
	} else if (domain->type == IOMMU_DOMAIN_IDENTITY) {
		s2cr = s2cr_value(SMMU_S2CR_TYPE_BYPASS, 0);
	} else {
		s2cr = s2cr_value(SMMU_S2CR_TYPE_FAULT, 0);
	}
	ret = master_route_locked(smmu, master, s2cr);
	if (ret) {
		if (new_ctx)
			ctx_destroy_locked(ctx);
		goto out;
	}
	master->domain = sdom;
out:
	pthread_mutex_unlock(&smmu->lock);
	pthread_mutex_unlock(&sdom->lock);
	return ret;
}

static void arm_smmu_detach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct arm_smmu_domain *sdom = to_smmu_domain(domain);
	struct arm_smmu_master *master = dev_to_master(dev);

	if (!master)
		return;
	struct arm_smmu_device *smmu = master->smmu;

	pthread_mutex_lock(&sdom->lock);
	pthread_mutex_lock(&smmu->lock);
	if (master->domain == sdom) {
		master_unroute_locked(smmu, master);
		master->domain = NULL;
	} else {
		ik_warn("%s: %s is not attached to this domain", smmu->name, dev->name);
	}
	pthread_mutex_unlock(&smmu->lock);
	pthread_mutex_unlock(&sdom->lock);
}

/*
 * Detach @master from whatever domain it is attached to, taking the locks
 * in order. For teardown paths that run without the core having detached.
 */
static void master_detach_any(struct arm_smmu_master *master)
{
	struct arm_smmu_device *smmu = master->smmu;

	for (;;) {
		pthread_mutex_lock(&smmu->lock);
		struct arm_smmu_domain *sdom = master->domain;
		pthread_mutex_unlock(&smmu->lock);

		if (!sdom)
			return;
		pthread_mutex_lock(&sdom->lock);
		pthread_mutex_lock(&smmu->lock);
		bool same = master->domain == sdom;

		if (same) {
			master_unroute_locked(smmu, master);
			master->domain = NULL;
		}
		pthread_mutex_unlock(&smmu->lock);
		pthread_mutex_unlock(&sdom->lock);
		if (same)
			return;
	}
}

/* --- map / unmap / IOTLB --- */

static int arm_smmu_map_pages(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr,
			      size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped)
{
	struct io_pgtable_ops *pgtbl = to_smmu_domain(domain)->pgtbl;

	return pgtbl->map_pages(pgtbl, iova, paddr, pgsize, pgcount, prot, gfp, mapped);
}

static long arm_smmu_unmap_pages(struct iommu_domain *domain, dma_addr_t iova, size_t pgsize,
				 size_t pgcount, struct iommu_iotlb_gather *gather)
{
	struct io_pgtable_ops *pgtbl = to_smmu_domain(domain)->pgtbl;

	return pgtbl->unmap_pages(pgtbl, iova, pgsize, pgcount, gather);
}

/*
 * Invalidate exactly what @gather collected on every instance the domain
 * has a bank on. Leaf invalidation suffices unless tables are about to be
 * freed: then the walk caches must forget them too, or a later walk could
 * read a recycled page as a table.
 */
static void arm_smmu_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	struct arm_smmu_domain *sdom = to_smmu_domain(domain);

	if (gather->start > gather->end || !gather->pgsize) {
		if (gather->freelist.count)
			domain_flush_all(sdom);
		return;
	}
	domain_inv_range(sdom, gather->start, gather->end, gather->pgsize,
			 gather->freelist.count == 0);
}

static void arm_smmu_flush_iotlb_all(struct iommu_domain *domain)
{
	domain_flush_all(to_smmu_domain(domain));
}

static phys_addr_t arm_smmu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	struct io_pgtable_ops *pgtbl = to_smmu_domain(domain)->pgtbl;

	return pgtbl ? pgtbl->iova_to_phys(pgtbl, iova) : 0;
}

static int arm_smmu_dump(struct iommu_domain *domain, void *arg,
			 int (*emit)(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size,
				     int prot, const char *desc))
{
	struct io_pgtable_ops *pgtbl = to_smmu_domain(domain)->pgtbl;

	if (!pgtbl)
		return -EOPNOTSUPP;
	return pgtbl->dump(pgtbl, emit, arg);
}

static void arm_smmu_domain_free(struct iommu_domain *domain)
{
	struct arm_smmu_domain *sdom = to_smmu_domain(domain);

	/*
	 * The core detaches every group first. A bank stays with its domain
	 * until here: turn each off and flush its ASID before the tables go.
	 */
	pthread_mutex_lock(&sdom->lock);
	while (!list_empty(&sdom->ctxs)) {
		struct arm_smmu_ctx *ctx = list_entry(sdom->ctxs.next, struct arm_smmu_ctx, node);
		struct arm_smmu_device *smmu = ctx->smmu;

		pthread_mutex_lock(&smmu->lock);
		ctx_destroy_locked(ctx);
		pthread_mutex_unlock(&smmu->lock);
	}
	pthread_mutex_unlock(&sdom->lock);
	if (sdom->pgtbl)
		free_io_pgtable_ops(sdom->pgtbl);
	pthread_mutex_destroy(&sdom->lock);
	free(sdom);
}

static const struct iommu_domain_ops arm_smmu_paging_ops = {
	.attach_dev = arm_smmu_attach_dev,
	.detach_dev = arm_smmu_detach_dev,
	.map_pages = arm_smmu_map_pages,
	.unmap_pages = arm_smmu_unmap_pages,
	.iotlb_sync = arm_smmu_iotlb_sync,
	.flush_iotlb_all = arm_smmu_flush_iotlb_all,
	.iova_to_phys = arm_smmu_iova_to_phys,
	.dump = arm_smmu_dump,
	.free = arm_smmu_domain_free,
};

/* Identity and blocked domains: an S2CR type, no tables, nothing cached. */
static const struct iommu_domain_ops arm_smmu_fixed_ops = {
	.attach_dev = arm_smmu_attach_dev,
	.detach_dev = arm_smmu_detach_dev,
	.iova_to_phys = arm_smmu_iova_to_phys,
	.dump = arm_smmu_dump,
	.free = arm_smmu_domain_free,
};

/* --- instance ops --- */

/*
 * Allocate a domain. Paging domains get their LPAE stage-1 tables now, for
 * this instance's address sizes; the context bank comes at the first
 * attach. Identity and blocked domains are only an S2CR type.
 */
static struct iommu_domain *arm_smmu_domain_alloc(struct iommu_device *iommu, unsigned int type)
{
	struct arm_smmu_device *smmu = to_smmu(iommu);
	bool paging = type == IOMMU_DOMAIN_UNMANAGED || type == IOMMU_DOMAIN_DMA;

	if (!paging && type != IOMMU_DOMAIN_BLOCKED && type != IOMMU_DOMAIN_IDENTITY) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	struct arm_smmu_domain *sdom = calloc(1, sizeof(*sdom));
	if (!sdom) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&sdom->lock, NULL);
	INIT_LIST_HEAD(&sdom->ctxs);
	sdom->domain.type = type;
	sdom->domain.ops = &arm_smmu_fixed_ops;
	if (!paging)
		return &sdom->domain;

	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = smmu->pgsize_bitmap,
		.ias = smmu->ias,
		.oas = smmu->oas,
		.tlb = &arm_smmu_flush_ops,
		.mem = ik_machine_mem(iommu->machine),
		.coherent_walk = smmu->coherent_walk, /* sIDR0.CTTW */
	};

	errno = 0;
	sdom->pgtbl = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, sdom);
	if (!sdom->pgtbl) {
		int err = errno ? errno : ENOMEM;

		pthread_mutex_destroy(&sdom->lock);
		free(sdom);
		errno = err;
		return NULL;
	}
	sdom->ttbr = cfg.arm_lpae_s1_cfg.ttbr;
	sdom->tcr = cfg.arm_lpae_s1_cfg.tcr;
	sdom->mair = cfg.arm_lpae_s1_cfg.mair;
	sdom->ias = cfg.ias;
	sdom->oas = cfg.oas;
	sdom->domain.ops = &arm_smmu_paging_ops;
	sdom->domain.pgsize_bitmap = cfg.pgsize_bitmap;
	sdom->domain.geometry.aperture_start = 0;
	sdom->domain.geometry.aperture_end = (1ULL << cfg.ias) - 1;
	sdom->domain.geometry.force_aperture = true;
	return &sdom->domain;
}

static int arm_smmu_probe_device(struct iommu_device *iommu, struct device *dev)
{
	struct arm_smmu_device *smmu = to_smmu(iommu);

	if (!dev || dev->iommu != iommu)
		return -ENODEV;
	if (!dev->nr_sids || dev->nr_sids > IK_MAX_SIDS)
		return -EINVAL;
	for (unsigned int k = 0; k < dev->nr_sids; k++)
		if (dev->sids[k] & ~smmu->sid_mask) {
			ik_err("%s: %s: stream ID %#x wider than the SMMU's %#x", smmu->name,
			       dev->name, dev->sids[k], smmu->sid_mask);
			return -EINVAL;
		}
	struct arm_smmu_master *master = calloc(1, sizeof(*master));
	if (!master)
		return -ENOMEM;
	master->dev = dev;
	master->smmu = smmu;
	for (unsigned int k = 0; k < IK_MAX_SIDS; k++)
		master->smr[k] = -1;
	pthread_mutex_lock(&smmu->lock);
	list_add_tail(&master->node, &smmu->masters);
	pthread_mutex_unlock(&smmu->lock);
	dev->iommu_priv = master;
	return 0;
}

static void arm_smmu_release_device(struct device *dev)
{
	struct arm_smmu_master *master = dev_to_master(dev);

	if (!master)
		return;
	/* The core detaches first; this is a last resort. */
	master_detach_any(master);
	pthread_mutex_lock(&master->smmu->lock);
	list_del_init(&master->node);
	pthread_mutex_unlock(&master->smmu->lock);
	dev->iommu_priv = NULL;
	free(master);
}

/* Devices that present the same stream ID cannot be told apart: one group. */
static struct iommu_group *arm_smmu_device_group(struct device *dev)
{
	return generic_device_group(dev);
}

static bool arm_smmu_capable(struct device *dev, enum iommu_cap cap)
{
	struct arm_smmu_master *master = dev_to_master(dev);

	if (!master)
		return false;
	switch (cap) {
	case IK_CAP_PERMISSIONS: /* AP[2:1] of every descriptor */
	case IOMMU_CAP_NOEXEC:   /* XN */
	case IK_CAP_PRIV:        /* AP[1]: EL0 (unprivileged) access */
	case IK_CAP_SOURCE_ID:   /* stream matching */
		return true;
	case IOMMU_CAP_CACHE_COHERENCY:
		return master->smmu->coherent_walk;
	}
	return false;
}

static const struct iommu_ops arm_smmu_ops = {
	.name = "arm-smmu",
	.capable = arm_smmu_capable,
	.domain_alloc = arm_smmu_domain_alloc,
	.probe_device = arm_smmu_probe_device,
	.release_device = arm_smmu_release_device,
	.device_group = arm_smmu_device_group,
	.pgsize_bitmap = ARM_SMMU_PGSIZES_4K,
};

/* --- faults --- */

/* The master attached to @sdom that presents stream ID @sid, or NULL. Under smmu->lock. */
static struct arm_smmu_master *master_by_sid_locked(struct arm_smmu_device *smmu, uint32_t sid,
						    const struct arm_smmu_domain *sdom)
{
	struct arm_smmu_master *master;

	list_for_each_entry(master, &smmu->masters, node) {
		if (master->domain != sdom)
			continue;
		for (unsigned int k = 0; k < master->dev->nr_sids; k++)
			if (master->dev->sids[k] == sid)
				return master;
	}
	return NULL;
}

/* Any probed device with stream ID @sid, for messages. Under smmu->lock. */
static const char *sid_name_locked(struct arm_smmu_device *smmu, uint32_t sid)
{
	struct arm_smmu_master *master;

	list_for_each_entry(master, &smmu->masters, node)
		for (unsigned int k = 0; k < master->dev->nr_sids; k++)
			if (master->dev->sids[k] == sid)
				return master->dev->name;
	return "?";
}

/*
 * A context bank's fault: read the syndrome, find the device by the stream
 * ID the bank latched, acknowledge (FSR is write-1-to-clear) and report to
 * the domain whose bank it is. Returns true if the bank had a fault.
 */
static bool handle_context_fault(struct arm_smmu_device *smmu, unsigned int idx)
{
	pthread_mutex_lock(&smmu->lock);
	uint32_t fsr = cb_read(smmu, idx, SMMU_CB_FSR);

	if (!(fsr & SMMU_FSR_FAULT)) {
		pthread_mutex_unlock(&smmu->lock);
		return false;
	}
	uint64_t far = cb_readq(smmu, idx, SMMU_CB_FAR);
	uint32_t fsynr0 = cb_read(smmu, idx, SMMU_CB_FSYNR0);
	uint32_t sid = gr1_read(smmu, SMMU_GR1_CBFRSYNRA(idx)) & SMMU_CBFRSYNRA_SID_MASK;
	struct arm_smmu_ctx *ctx = smmu->cbs[idx];
	struct arm_smmu_domain *sdom = ctx ? ctx->sdom : NULL;
	struct arm_smmu_master *master = sdom ? master_by_sid_locked(smmu, sid, sdom) : NULL;
	struct device *dev = master ? master->dev : NULL;

	cb_write(smmu, idx, SMMU_CB_FSR, fsr);
	pthread_mutex_unlock(&smmu->lock);

	int flags = (fsynr0 & SMMU_FSYNR0_WNR) ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ;

	if (fsr & (SMMU_FSR_TF | SMMU_FSR_ASF))
		flags |= IK_FAULT_TRANSLATION;
	if (fsr & SMMU_FSR_PF)
		flags |= IK_FAULT_PERMISSION;
	if (fsr & SMMU_FSR_AFF)
		flags |= IK_FAULT_ACCESS_FLAG;
	if (fsr & SMMU_FSR_EF)
		flags |= IK_FAULT_TABLE_WALK;
	if (fsr & SMMU_FSR_TLBMCF)
		flags |= IK_FAULT_MULTI_HIT;
	if (fsynr0 & SMMU_FSYNR0_PNU)
		flags |= IK_FAULT_PRIV;
	if (fsynr0 & SMMU_FSYNR0_IND)
		flags |= IK_FAULT_EXEC;

	if (sdom)
		ik_report_iommu_fault(&sdom->domain, dev, far, flags);
	else
		ik_err("%s: fault in unused context bank %u: iova %#llx, sid %#x, FSR %#x",
		       smmu->name, idx, (unsigned long long)far, sid, fsr);
	return true;
}

/*
 * A global fault: an unmatched stream (a device that is not attached), a
 * stream match conflict or a bad context bank. No domain owns it: log it
 * with the device the stream ID names, and acknowledge it (sGFSR is
 * write-1-to-clear).
 */
static void handle_global_fault(struct arm_smmu_device *smmu)
{
	pthread_mutex_lock(&smmu->lock);
	uint32_t gfsr = gr0_read(smmu, SMMU_GR0_sGFSR) & SMMU_sGFSR_MASK;

	if (!gfsr) {
		pthread_mutex_unlock(&smmu->lock);
		return;
	}
	uint64_t gfar = ik_readq(smmu->mmio, SMMU_GR0_BASE + SMMU_GR0_sGFAR);
	uint32_t syn0 = gr0_read(smmu, SMMU_GR0_sGFSYNR0);
	uint32_t sid = gr0_read(smmu, SMMU_GR0_sGFSYNR1) & SMMU_sGFSYNR1_SID_MASK;
	const char *who = sid_name_locked(smmu, sid);

	gr0_write(smmu, SMMU_GR0_sGFSR, gfsr);
	pthread_mutex_unlock(&smmu->lock);

	ik_err("%s: global fault: device %s (stream %#x), iova %#llx, %s%s%s%s%s", smmu->name,
	       who, sid, (unsigned long long)gfar,
	       (syn0 & SMMU_sGFSYNR0_WNR) ? "write" : "read",
	       (gfsr & SMMU_sGFSR_USF) ? ", unmatched stream" : "",
	       (gfsr & SMMU_sGFSR_SMCF) ? ", stream match conflict" : "",
	       (gfsr & SMMU_sGFSR_ICF) ? ", invalid context" : "",
	       (gfsr & SMMU_sGFSR_MULTI) ? ", more faults lost" : "");
}

/* The SMMU's one interrupt line: global faults, then each bank's. */
static void arm_smmu_isr(unsigned int irq, void *arg)
{
	struct arm_smmu_device *smmu = arg;

	handle_global_fault(smmu);
	for (unsigned int idx = smmu->num_s2_cbs; idx < smmu->num_cbs; idx++)
		handle_context_fault(smmu, idx);
}

/* --- probe and remove --- */

/*
 * Read the ID registers: stage 1, stream matching and the AArch64 4 KiB
 * granule are required. -ENODEV when the hardware lacks one of them.
 */
static int arm_smmu_read_ids(struct arm_smmu_device *smmu)
{
	uint32_t id0 = gr0_read(smmu, SMMU_GR0_sIDR0);
	uint32_t id1 = gr0_read(smmu, SMMU_GR0_sIDR1);
	uint32_t id2 = gr0_read(smmu, SMMU_GR0_sIDR2);

	if (!(id0 & SMMU_IDR0_S1TS)) {
		ik_err("%s: no stage-1 translation", smmu->name);
		return -ENODEV;
	}
	if (!(id0 & SMMU_IDR0_SMS)) {
		ik_err("%s: no stream matching", smmu->name);
		return -ENODEV;
	}
	if (!(id2 & SMMU_IDR2_PTFSV8_4K)) {
		ik_err("%s: no AArch64 4 KiB granule", smmu->name);
		return -ENODEV;
	}
	smmu->coherent_walk = id0 & SMMU_IDR0_CTTW;
	smmu->num_smrs = id0 & SMMU_IDR0_NUMSMRG_MASK;
	unsigned int sidb = (id0 & SMMU_IDR0_NUMSIDB_MASK) >> SMMU_IDR0_NUMSIDB_SHIFT;
	smmu->sid_mask = (1u << sidb) - 1;
	smmu->num_cbs = id1 & SMMU_IDR1_NUMCB_MASK;
	smmu->num_s2_cbs = (id1 & SMMU_IDR1_NUMS2CB_MASK) >> SMMU_IDR1_NUMS2CB_SHIFT;
	if (!smmu->num_smrs || smmu->num_s2_cbs >= smmu->num_cbs) {
		ik_err("%s: %u SMRs, %u context banks of which %u stage-2 only", smmu->name,
		       smmu->num_smrs, smmu->num_cbs, smmu->num_s2_cbs);
		return -ENODEV;
	}
	/*
	 * Stage 1 takes the upstream bus's addresses (UBS; at most 48 bits
	 * with one TTBR) and produces an intermediate physical address
	 * (IAS) which, stage 2 bypassed, goes out as a physical one (OAS).
	 */
	unsigned int ubs = addr_size_bits((id2 & SMMU_IDR2_UBS_MASK) >> SMMU_IDR2_UBS_SHIFT);
	unsigned int ipa = addr_size_bits(id2 & SMMU_IDR2_IAS_MASK);
	unsigned int pa = addr_size_bits((id2 & SMMU_IDR2_OAS_MASK) >> SMMU_IDR2_OAS_SHIFT);

	smmu->ias = ik_min(ubs, ARM_SMMU_VA_MAX_BITS);
	smmu->oas = ik_min(ipa, pa);
	smmu->pgsize_bitmap = ARM_SMMU_PGSIZES_4K;
	return 0;
}

/*
 * Put the SMMU in a known state: no recorded faults, every stream mapping
 * group invalid and faulting, every bank off, TLBs empty; then enable it
 * with unmatched streams faulting and fault reporting on. -ETIMEDOUT if
 * the TLB invalidation never completes.
 */
static int arm_smmu_reset(struct arm_smmu_device *smmu)
{
	gr0_write(smmu, SMMU_GR0_sGFSR, gr0_read(smmu, SMMU_GR0_sGFSR));
	for (unsigned int i = 0; i < smmu->num_smrs; i++) {
		gr0_write(smmu, SMMU_GR0_SMR(i), 0);
		gr0_write(smmu, SMMU_GR0_S2CR(i), SMMU_S2CR_RESET);
		smmu->smrs[i].s2cr = SMMU_S2CR_RESET;
	}
	for (unsigned int i = 0; i < smmu->num_cbs; i++) {
		cb_write(smmu, i, SMMU_CB_SCTLR, 0);
		cb_write(smmu, i, SMMU_CB_FSR, SMMU_FSR_FAULT);
	}
	/*
	 * 16-bit ASIDs if TCR2.AS is implemented: a bit that is not reads as
	 * zero. Try it on the first stage-1 bank, which is off.
	 */
	unsigned int probe = smmu->num_s2_cbs;

	cb_write(smmu, probe, SMMU_CB_TCR2, SMMU_TCR2_AS);
	smmu->asid_bits = (cb_read(smmu, probe, SMMU_CB_TCR2) & SMMU_TCR2_AS) ? 16 : 8;
	cb_write(smmu, probe, SMMU_CB_TCR2, 0);

	gr0_write(smmu, SMMU_GR0_TLBIALLNSNH, 0);
	int ret = tlb_global_sync_locked(smmu);
	if (ret)
		return ret;

	uint32_t cr0 = gr0_read(smmu, SMMU_GR0_sCR0);

	cr0 &= ~(SMMU_sCR0_CLIENTPD | SMMU_sCR0_PTM | SMMU_sCR0_FB | SMMU_sCR0_BSU_MASK |
		 SMMU_sCR0_VMIDPNE);
	cr0 |= SMMU_sCR0_GFRE | SMMU_sCR0_GFIE | SMMU_sCR0_GCFGFRE | SMMU_sCR0_GCFGFIE |
	       SMMU_sCR0_USFCFG;
	gr0_write(smmu, SMMU_GR0_sCR0, cr0);
	return 0;
}

static void arm_smmu_free(struct arm_smmu_device *smmu)
{
	free(smmu->cbs);
	free(smmu->asid_map);
	free(smmu->smrs);
	pthread_mutex_destroy(&smmu->lock);
	free(smmu);
}

/**
 * arm_smmu_probe - bind to the SMMU described by @desc
 * @m: the machine
 * @desc: its register window and interrupt line
 *
 * Reads the ID registers, resets the SMMU (every stream faults until a
 * device is attached), hooks the interrupt and registers with the core.
 * Return: the instance, or NULL with errno set (ENODEV: no window or
 * hardware this driver cannot use; ETIMEDOUT: TLB invalidation never
 * completed; ENOMEM).
 */
static struct iommu_device *arm_smmu_probe(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	struct arm_smmu_device *smmu;
	int ret;

	if (!m || !desc) {
		errno = EINVAL;
		return NULL;
	}
	smmu = calloc(1, sizeof(*smmu));
	if (!smmu) {
		errno = ENOMEM;
		return NULL;
	}
	smmu->machine = m;
	smmu->irq = desc->irq;
	snprintf(smmu->name, sizeof(smmu->name), "%s", desc->name ? desc->name : "arm-smmu");
	pthread_mutex_init(&smmu->lock, NULL);
	INIT_LIST_HEAD(&smmu->masters);

	/* GR0 first: its ID registers say how large the whole window is. */
	smmu->mmio = ik_ioremap(m, desc->mmio_base, SMMU_PAGE_SIZE);
	if (!smmu->mmio) {
		ret = -ENODEV;
		goto fail;
	}
	uint32_t id1 = ik_readl(smmu->mmio, SMMU_GR0_BASE + SMMU_GR0_sIDR1);
	unsigned int numpage = 2u << ((id1 & SMMU_IDR1_NUMPAGENDXB_MASK) >>
				      SMMU_IDR1_NUMPAGENDXB_SHIFT);

	smmu->pgshift = (id1 & SMMU_IDR1_PAGESIZE) ? 16 : 12;
	smmu->cb_base = numpage << smmu->pgshift;
	smmu->mmio = ik_ioremap(m, desc->mmio_base, 2 * smmu->cb_base);
	if (!smmu->mmio) {
		ik_err("%s: register window smaller than the %#x bytes the ID registers say",
		       smmu->name, 2 * smmu->cb_base);
		ret = -ENODEV;
		goto fail;
	}
	ret = arm_smmu_read_ids(smmu);
	if (ret)
		goto fail;
	if (smmu->num_cbs > numpage) {
		ik_err("%s: %u context banks in %u pages", smmu->name, smmu->num_cbs, numpage);
		ret = -ENODEV;
		goto fail;
	}
	smmu->cbs = calloc(smmu->num_cbs, sizeof(*smmu->cbs));
	smmu->smrs = calloc(smmu->num_smrs, sizeof(*smmu->smrs));
	smmu->asid_map = calloc((1u << 16) / 64, sizeof(*smmu->asid_map));
	if (!smmu->cbs || !smmu->smrs || !smmu->asid_map) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = arm_smmu_reset(smmu);
	if (ret)
		goto fail;
	ret = ik_request_irq(m, smmu->irq, arm_smmu_isr, smmu);
	if (ret)
		goto fail;
	ret = iommu_device_register(&smmu->iommu, &arm_smmu_ops, m, smmu->name);
	if (ret)
		goto fail_irq;
	ik_dbg("%s: SMMUv2, %u context banks, %u SMRs, %u-bit IOVA, %u-bit PA, %u-bit ASIDs",
	       smmu->name, smmu->num_cbs, smmu->num_smrs, smmu->ias, smmu->oas,
	       smmu->asid_bits);
	return &smmu->iommu;

fail_irq:
	ik_free_irq(m, smmu->irq, arm_smmu_isr, smmu);
fail:
	arm_smmu_free(smmu);
	errno = -ret;
	return NULL;
}

static void arm_smmu_remove(struct iommu_device *iommu)
{
	struct arm_smmu_device *smmu = to_smmu(iommu);
	struct arm_smmu_master *master, *tmp;

	iommu_device_unregister(iommu);
	ik_free_irq(smmu->machine, smmu->irq, arm_smmu_isr, smmu);

	/* Devices are released first; if one was not, let go of it now. */
	list_for_each_entry_safe(master, tmp, &smmu->masters, node) {
		ik_warn("%s: %s still probed at removal", smmu->name, master->dev->name);
		master_detach_any(master);
		list_del_init(&master->node);
		master->dev->iommu_priv = NULL;
		free(master);
	}
	/* A domain that outlives its SMMU loses its bank here. */
	for (unsigned int idx = 0; idx < smmu->num_cbs; idx++) {
		pthread_mutex_lock(&smmu->lock);
		struct arm_smmu_ctx *ctx = smmu->cbs[idx];
		struct arm_smmu_domain *sdom = ctx ? ctx->sdom : NULL;
		pthread_mutex_unlock(&smmu->lock);

		if (!sdom)
			continue;
		ik_warn("%s: a domain still holds context bank %u", smmu->name, idx);
		pthread_mutex_lock(&sdom->lock);
		pthread_mutex_lock(&smmu->lock);
		if (smmu->cbs[idx] == ctx)
			ctx_destroy_locked(ctx);
		pthread_mutex_unlock(&smmu->lock);
		pthread_mutex_unlock(&sdom->lock);
	}
	/* Off: the SMMU goes back to letting every transaction through, as at reset. */
	gr0_write(smmu, SMMU_GR0_sCR0, SMMU_sCR0_CLIENTPD);
	arm_smmu_free(smmu);
}

const struct ik_iommu_driver_type ik_arm_smmu_driver_type = {
	.compatible = SMMU_COMPATIBLE,
	.probe = arm_smmu_probe,
	.remove = arm_smmu_remove,
};
