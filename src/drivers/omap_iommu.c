// SPDX-License-Identifier: MIT
/*
 * TI OMAP2/3 MMU driver (the ISP and IVA2.2 MMUs of OMAP3).
 *
 * Facts from: OMAP35x/OMAP36x Technical Reference Manual (SWPU177N),
 * chapter "Memory Management Units": 15.3.4 "TLB" (entry format, the
 * preserved bit and the global flush, the lock base/victim mechanism),
 * 15.4.1 "MMU Basic Programming Model" (loading an entry through CAM/RAM,
 * CURRENTVICTIM and LDTLBITEM; fault interrupts and FAULT_AD), 15.4.1.1
 * "Protecting TLB Entries" (the first n < total entries can be locked);
 * the register map in src/include/ik/omap-mmu-regs.h. SYSCONFIG idle-mode
 * encoding (smart idle = 2) and the revision value 0x11 as used by Linux's
 * arch/arm/mach-omap2/iommu2.c.
 *
 * The driver sees the hardware only as MMIO registers and the page tables
 * it writes through the OMAP io-pgtable format; it never looks inside the
 * hardware model.
 *
 * Differences from Linux's omap-iommu:
 *  - A fault is reported to the attached domain's handler and then
 *    acknowledged in IRQSTATUS whatever the handler returned; Linux instead
 *    disables the MMU interrupt when the handler fails. Here the faulting
 *    access is aborted either way and the device may simply retry it (after
 *    the handler mapped the page, for instance).
 *  - IOTLB invalidation after an unmap is precise (one FLUSH_ENTRY per
 *    unmapped page, or a scan of the TLB for large ranges) rather than a
 *    flush per page found by scanning, and fans out to every MMU the domain
 *    is attached to.
 *
 * Locking (outermost first): domain->lock (the list of MMUs a domain is
 * attached to) > mmu->lock (attachment state and every MMIO sequence that
 * goes through CAM/RAM/LOCK, which are shared per MMU) > the model's lock.
 * The interrupt handler takes neither: it reads the attached domain and
 * device with atomic loads, so a fault handler may map and unmap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iommukit/omap-iommu.h>

#include "ik/compiler.h"
#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"
#include "ik/log.h"
#include "ik/machine.h"
#include "ik/omap-mmu-regs.h"

#define OMAP_MMU_MAX_TLB_ENTRIES 32u	/* LOCK.BASE/VICTIM are 5 bits */
#define OMAP_MMU_RESET_POLLS     1000u	/* SYSSTATUS reads before giving up */
#define OMAP_MMU_PGSIZES (IK_SZ_4K | IK_SZ_64K | IK_SZ_1M | IK_SZ_16M)

/* Interrupts the driver handles (the EMU miss is the emulator's business). */
#define OMAP_MMU_IRQ_FAULTS \
	(OMAP_MMU_IRQ_TRANSLATIONFAULT | OMAP_MMU_IRQ_TABLEWALKFAULT | OMAP_MMU_IRQ_MULTIHITFAULT)

/* Register context kept across a power-off (ik_omap_iommu_save_ctx). */
struct omap_iommu_ctx {
	bool valid;
	uint32_t sysconfig;
	uint32_t irqenable;
	uint32_t cntl;
	uint32_t ttb;
	uint32_t lock;
	unsigned int nr_locked;
	uint32_t cam[OMAP_MMU_MAX_TLB_ENTRIES];
	uint32_t ram[OMAP_MMU_MAX_TLB_ENTRIES];
};

struct omap_iommu_domain;

/* One MMU instance. */
struct omap_iommu {
	struct iommu_device iommu;
	struct ik_machine *machine;
	const struct ik_mmio *mmio;
	unsigned int irq;
	unsigned int nr_tlb_entries;
	char name[32];

	pthread_mutex_t lock;
	/* Attached domain and the device faults are reported for: atomic for the ISR. */
	struct omap_iommu_domain *domain;
	struct device *fault_dev;
	struct list_head masters;     /* attached struct omap_iommu_master, under lock */
	struct list_head domain_node; /* on domain->mmus, under domain->lock */
	bool twl;                     /* hardware table walking wanted */
	struct omap_iommu_ctx ctx;
};

/* Per-device state, in dev->iommu_priv from probe_device to release_device. */
struct omap_iommu_master {
	struct list_head node; /* on omap_iommu.masters while attached */
	struct device *dev;
	bool attached;
};

struct omap_iommu_domain {
	struct iommu_domain domain;
	struct io_pgtable_ops *pgtbl; /* NULL for an identity domain */
	phys_addr_t ttb;
	pthread_mutex_t lock;
	struct list_head mmus; /* struct omap_iommu.domain_node */
};

static const struct iommu_ops omap_iommu_ops;
static const struct iommu_domain_ops omap_paging_domain_ops;
static const struct iommu_domain_ops omap_fixed_domain_ops;

static struct omap_iommu_domain *to_omap_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct omap_iommu_domain, domain);
}

static struct omap_iommu *to_omap_iommu(struct iommu_device *iommu)
{
	return container_of(iommu, struct omap_iommu, iommu);
}

/* The OMAP MMU in front of @dev, or NULL if it has none (or another kind). */
static struct omap_iommu *dev_to_omap_iommu(struct device *dev)
{
	if (!dev || !dev->iommu || dev->iommu->ops != &omap_iommu_ops)
		return NULL;
	return to_omap_iommu(dev->iommu);
}

static uint32_t mmu_read(struct omap_iommu *obj, uint32_t reg)
{
	return ik_readl(obj->mmio, reg);
}

static void mmu_write(struct omap_iommu *obj, uint32_t reg, uint32_t val)
{
	ik_writel(obj->mmio, reg, val);
}

/* --- TLB entry encoding --- */

/* MMU_CAM page-size code for @bytes, or -1 if the MMU has no such page. */
static int pgsz_to_cam(uint64_t bytes)
{
	switch (bytes) {
	case IK_SZ_4K:
		return OMAP_MMU_CAM_PGSZ_4K;
	case IK_SZ_64K:
		return OMAP_MMU_CAM_PGSZ_64K;
	case IK_SZ_1M:
		return OMAP_MMU_CAM_PGSZ_1M;
	case IK_SZ_16M:
		return OMAP_MMU_CAM_PGSZ_16M;
	default:
		return -1;
	}
}

static uint32_t cam_to_pgsz(uint32_t cam)
{
	static const uint32_t sizes[4] = {
		[OMAP_MMU_CAM_PGSZ_1M] = IK_SZ_1M,
		[OMAP_MMU_CAM_PGSZ_64K] = IK_SZ_64K,
		[OMAP_MMU_CAM_PGSZ_4K] = IK_SZ_4K,
		[OMAP_MMU_CAM_PGSZ_16M] = IK_SZ_16M,
	};
	return sizes[cam & OMAP_MMU_CAM_PGSZ_MASK];
}

static uint32_t lock_value(unsigned int base, unsigned int victim)
{
	return (base << OMAP_MMU_LOCK_BASE_SHIFT) | (victim << OMAP_MMU_LOCK_VICT_SHIFT);
}

static unsigned int lock_base(uint32_t lock)
{
	return (lock & OMAP_MMU_LOCK_BASE_MASK) >> OMAP_MMU_LOCK_BASE_SHIFT;
}

static unsigned int lock_victim(uint32_t lock)
{
	return (lock & OMAP_MMU_LOCK_VICT_MASK) >> OMAP_MMU_LOCK_VICT_SHIFT;
}

/*
 * Read TLB entry @index into *cam and *ram: point the victim at it and
 * read READ_CAM/READ_RAM. The caller restores LOCK. Under obj->lock.
 */
static void tlb_read_locked(struct omap_iommu *obj, uint32_t lock, unsigned int index,
			    uint32_t *cam, uint32_t *ram)
{
	mmu_write(obj, OMAP_MMU_LOCK, lock_value(lock_base(lock), index));
	*cam = mmu_read(obj, OMAP_MMU_READ_CAM);
	if (ram)
		*ram = mmu_read(obj, OMAP_MMU_READ_RAM);
}

/* Write @cam/@ram into TLB entry @index (LD_TLB at the victim). Under obj->lock. */
static void tlb_load_locked(struct omap_iommu *obj, unsigned int base, unsigned int index,
			    uint32_t cam, uint32_t ram)
{
	mmu_write(obj, OMAP_MMU_LOCK, lock_value(base, index));
	mmu_write(obj, OMAP_MMU_CAM, cam);
	mmu_write(obj, OMAP_MMU_RAM, ram);
	mmu_write(obj, OMAP_MMU_LD_TLB, OMAP_MMU_LD_TLB_ITEM);
}

/* Invalidate the TLB entries that translate the address in @cam. Under obj->lock. */
static void tlb_flush_entry_locked(struct omap_iommu *obj, uint32_t cam)
{
	mmu_write(obj, OMAP_MMU_CAM, cam);
	mmu_write(obj, OMAP_MMU_FLUSH_ENTRY, OMAP_MMU_FLUSH_ENTRY_GO);
}

/*
 * Invalidate every TLB entry of @obj that translates any address in
 * [@start, @end] (inclusive), @pgsize being the size of the pages unmapped
 * there. Few pages: one FLUSH_ENTRY per page, which invalidates whatever
 * entry translates that page's first address, preserved or not (a larger
 * entry from before a split included). More pages than the TLB has
 * entries: reading every entry and flushing those that overlap the range
 * costs fewer register accesses for the same result. Entries the walker
 * loads always match the tables; an entry a client preloaded smaller than
 * the table's page, away from that page's start, is only caught by the
 * scan, and is the client's to flush. Under obj->lock.
 */
static void tlb_invalidate_range_locked(struct omap_iommu *obj, dma_addr_t start, dma_addr_t end,
					size_t pgsize)
{
	int code = pgsz_to_cam(pgsize);

	if (code >= 0) {
		dma_addr_t first = ALIGN_DOWN(start, (dma_addr_t)pgsize);
		uint64_t npages = (end - first) / pgsize + 1;

		if (npages <= obj->nr_tlb_entries) {
			for (uint64_t i = 0; i < npages; i++) {
				uint32_t va = (uint32_t)(first + i * pgsize);

				tlb_flush_entry_locked(obj, (va & OMAP_MMU_CAM_VATAG_MASK) |
							    (uint32_t)code | OMAP_MMU_CAM_V);
			}
			return;
		}
	}

	uint32_t lock = mmu_read(obj, OMAP_MMU_LOCK);

	for (unsigned int i = 0; i < obj->nr_tlb_entries; i++) {
		uint32_t cam;

		tlb_read_locked(obj, lock, i, &cam, NULL);
		if (!(cam & OMAP_MMU_CAM_V))
			continue;
		uint32_t size = cam_to_pgsz(cam);
		uint64_t va = cam & OMAP_MMU_CAM_VATAG_MASK & ~(size - 1);

		if (va <= end && va + size - 1 >= start)
			tlb_flush_entry_locked(obj, cam);
	}
	mmu_write(obj, OMAP_MMU_LOCK, lock);
}

/* --- enabling and disabling translation --- */

static uint32_t mmu_irq_enable(const struct omap_iommu *obj)
{
	/* With the walker off, a miss is a fault of its own. */
	return OMAP_MMU_IRQ_FAULTS | (obj->twl ? 0 : OMAP_MMU_IRQ_TLBMISS);
}

static uint32_t mmu_cntl(const struct omap_iommu *obj)
{
	return OMAP_MMU_CNTL_MMU_EN | (obj->twl ? OMAP_MMU_CNTL_TWL_EN : 0);
}

/*
 * Point @obj at @odom's tables and turn translation on; an identity domain
 * turns it off (addresses pass through). The global flush drops what a
 * previous domain left in the TLB, except preserved entries, which survive
 * it by hardware design (they must be flushed or unlocked explicitly).
 * Under obj->lock.
 */
static void mmu_enable_locked(struct omap_iommu *obj, struct omap_iommu_domain *odom)
{
	if (!odom->pgtbl) {
		mmu_write(obj, OMAP_MMU_CNTL, 0);
		mmu_write(obj, OMAP_MMU_IRQENABLE, 0);
		mmu_write(obj, OMAP_MMU_TTB, 0);
		mmu_write(obj, OMAP_MMU_GFLUSH, OMAP_MMU_GFLUSH_ALL);
		return;
	}
	mmu_write(obj, OMAP_MMU_TTB, (uint32_t)odom->ttb);
	mmu_write(obj, OMAP_MMU_GFLUSH, OMAP_MMU_GFLUSH_ALL);
	mmu_write(obj, OMAP_MMU_IRQENABLE, mmu_irq_enable(obj));
	mmu_write(obj, OMAP_MMU_CNTL, mmu_cntl(obj));
}

static void mmu_disable_locked(struct omap_iommu *obj)
{
	mmu_write(obj, OMAP_MMU_CNTL, 0);
	mmu_write(obj, OMAP_MMU_IRQENABLE, 0);
	mmu_write(obj, OMAP_MMU_TTB, 0);
	mmu_write(obj, OMAP_MMU_GFLUSH, OMAP_MMU_GFLUSH_ALL);
}

/* --- fault interrupt --- */

/*
 * The MMU's interrupt: latch the fault, report it to the attached domain
 * (whose handler may map the page so that the device can retry), then
 * acknowledge it so that the MMU serves the next access. The OMAP MMU does
 * not record the access direction, so every fault is reported as a read.
 */
static void omap_iommu_isr(unsigned int irq, void *arg)
{
	struct omap_iommu *obj = arg;
	uint32_t status = mmu_read(obj, OMAP_MMU_IRQSTATUS) & OMAP_MMU_IRQ_MASK;

	if (!status)
		return; /* a shared line, raised by someone else */

	uint32_t fault_ad = mmu_read(obj, OMAP_MMU_FAULT_AD);
	int flags = IOMMU_FAULT_READ;

	if (status & OMAP_MMU_IRQ_TRANSLATIONFAULT)
		flags |= IK_FAULT_TRANSLATION;
	if (status & OMAP_MMU_IRQ_TLBMISS)
		flags |= IK_FAULT_TLB_MISS;
	if (status & OMAP_MMU_IRQ_TABLEWALKFAULT)
		flags |= IK_FAULT_TABLE_WALK;
	if (status & OMAP_MMU_IRQ_MULTIHITFAULT)
		flags |= IK_FAULT_MULTI_HIT;

	struct omap_iommu_domain *odom = __atomic_load_n(&obj->domain, __ATOMIC_ACQUIRE);
	struct device *dev = __atomic_load_n(&obj->fault_dev, __ATOMIC_ACQUIRE);

	if (odom)
		ik_report_iommu_fault(&odom->domain, dev, fault_ad, flags);
	else
		ik_err("%s: fault at %#x with no domain attached (status %#x)", obj->name,
		       fault_ad, status);
	mmu_write(obj, OMAP_MMU_IRQSTATUS, status);
}

/* --- IOTLB maintenance for the page-table format and the core --- */

static void omap_domain_flush_all(struct omap_iommu_domain *odom)
{
	struct omap_iommu *obj;

	pthread_mutex_lock(&odom->lock);
	list_for_each_entry(obj, &odom->mmus, domain_node) {
		pthread_mutex_lock(&obj->lock);
		mmu_write(obj, OMAP_MMU_GFLUSH, OMAP_MMU_GFLUSH_ALL);
		pthread_mutex_unlock(&obj->lock);
	}
	pthread_mutex_unlock(&odom->lock);
}

static void omap_domain_invalidate_range(struct omap_iommu_domain *odom, dma_addr_t start,
					 dma_addr_t end, size_t pgsize)
{
	struct omap_iommu *obj;

	pthread_mutex_lock(&odom->lock);
	list_for_each_entry(obj, &odom->mmus, domain_node) {
		pthread_mutex_lock(&obj->lock);
		tlb_invalidate_range_locked(obj, start, end, pgsize);
		pthread_mutex_unlock(&obj->lock);
	}
	pthread_mutex_unlock(&odom->lock);
}

static void omap_tlb_flush_all(void *cookie)
{
	omap_domain_flush_all(cookie);
}

/* The OMAP TLB caches leaves only, so a changed table means its leaves. */
static void omap_tlb_flush_walk(dma_addr_t iova, size_t size, size_t granule, void *cookie)
{
	if (size)
		omap_domain_invalidate_range(cookie, iova, iova + size - 1, granule);
}

static void omap_tlb_add_page(struct iommu_iotlb_gather *gather, dma_addr_t iova, size_t granule,
			      void *cookie)
{
	struct omap_iommu_domain *odom = cookie;

	iommu_iotlb_gather_add_page(&odom->domain, gather, iova, granule);
}

static const struct iommu_flush_ops omap_flush_ops = {
	.tlb_flush_all = omap_tlb_flush_all,
	.tlb_flush_walk = omap_tlb_flush_walk,
	.tlb_add_page = omap_tlb_add_page,
};

/* --- domain ops --- */

static int omap_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct omap_iommu_domain *odom = to_omap_domain(domain);
	struct omap_iommu *obj = dev_to_omap_iommu(dev);
	struct omap_iommu_master *master = obj ? dev->iommu_priv : NULL;
	int ret = 0;

	if (!master)
		return -ENODEV;
	pthread_mutex_lock(&odom->lock);
	pthread_mutex_lock(&obj->lock);
	if (master->attached) {
		ret = obj->domain == odom ? 0 : -EBUSY;
		goto out;
	}
	if (obj->domain && obj->domain != odom) {
		/* One MMU, one set of tables: the old domain must go first. */
		ret = -EBUSY;
		goto out;
	}
	/* The ISR reads the device after the domain: publish it first. */
	if (!obj->fault_dev)
		__atomic_store_n(&obj->fault_dev, dev, __ATOMIC_RELEASE);
	if (!obj->domain) {
		mmu_enable_locked(obj, odom);
		list_add_tail(&obj->domain_node, &odom->mmus);
		__atomic_store_n(&obj->domain, odom, __ATOMIC_RELEASE);
	}
	list_add_tail(&master->node, &obj->masters);
	master->attached = true;
out:
	pthread_mutex_unlock(&obj->lock);
	pthread_mutex_unlock(&odom->lock);
	return ret;
}

static void omap_attach_remove_locked(struct omap_iommu *obj, struct omap_iommu_master *master)
{
	list_del_init(&master->node);
	master->attached = false;
	if (list_empty(&obj->masters)) {
		mmu_disable_locked(obj);
		list_del_init(&obj->domain_node);
		__atomic_store_n(&obj->domain, NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&obj->fault_dev, NULL, __ATOMIC_RELEASE);
	} else if (obj->fault_dev == master->dev) {
		struct omap_iommu_master *next =
			list_entry(obj->masters.next, struct omap_iommu_master, node);
		__atomic_store_n(&obj->fault_dev, next->dev, __ATOMIC_RELEASE);
	}
}

/*
 * Detach @master (every master when NULL) from whatever domain @obj holds,
 * taking the locks in order. For teardown paths that run without the core
 * having detached first.
 */
static void omap_detach_masters(struct omap_iommu *obj, struct omap_iommu_master *master)
{
	struct omap_iommu_domain *odom;

	while ((odom = __atomic_load_n(&obj->domain, __ATOMIC_ACQUIRE))) {
		pthread_mutex_lock(&odom->lock);
		pthread_mutex_lock(&obj->lock);
		bool same = obj->domain == odom;

		if (same && master && master->attached)
			omap_attach_remove_locked(obj, master);
		while (same && !master && !list_empty(&obj->masters))
			omap_attach_remove_locked(obj, list_entry(obj->masters.next,
								  struct omap_iommu_master, node));
		pthread_mutex_unlock(&obj->lock);
		pthread_mutex_unlock(&odom->lock);
		if (same)
			return;
	}
}

static void omap_detach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct omap_iommu_domain *odom = to_omap_domain(domain);
	struct omap_iommu *obj = dev_to_omap_iommu(dev);
	struct omap_iommu_master *master = obj ? dev->iommu_priv : NULL;

	if (!master)
		return;
	pthread_mutex_lock(&odom->lock);
	pthread_mutex_lock(&obj->lock);
	if (master->attached && obj->domain == odom)
		omap_attach_remove_locked(obj, master);
	else
		ik_warn("%s: %s is not attached to this domain", obj->name, dev->name);
	pthread_mutex_unlock(&obj->lock);
	pthread_mutex_unlock(&odom->lock);
}

static int omap_map_pages(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr,
			  size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped)
{
	struct io_pgtable_ops *pgtbl = to_omap_domain(domain)->pgtbl;

	return pgtbl->map_pages(pgtbl, iova, paddr, pgsize, pgcount, prot, gfp, mapped);
}

static long omap_unmap_pages(struct iommu_domain *domain, dma_addr_t iova, size_t pgsize,
			     size_t pgcount, struct iommu_iotlb_gather *gather)
{
	struct io_pgtable_ops *pgtbl = to_omap_domain(domain)->pgtbl;

	return pgtbl->unmap_pages(pgtbl, iova, pgsize, pgcount, gather);
}

/*
 * Invalidate what an unmap gathered, precisely, on every MMU the domain is
 * attached to. A gather with only tables to free needs nothing: the OMAP
 * TLB holds no table-walk entries.
 */
static void omap_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	if (!gather->pgsize || gather->start > gather->end)
		return;
	omap_domain_invalidate_range(to_omap_domain(domain), gather->start, gather->end,
				     gather->pgsize);
}

/* Global flush: note that preserved TLB entries survive it by hardware design. */
static void omap_flush_iotlb_all(struct iommu_domain *domain)
{
	omap_domain_flush_all(to_omap_domain(domain));
}

static phys_addr_t omap_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	struct io_pgtable_ops *pgtbl = to_omap_domain(domain)->pgtbl;

	return pgtbl->iova_to_phys(pgtbl, iova);
}

static int omap_dump(struct iommu_domain *domain, void *arg,
		     int (*emit)(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
				 const char *desc))
{
	struct io_pgtable_ops *pgtbl = to_omap_domain(domain)->pgtbl;

	if (!pgtbl)
		return -EOPNOTSUPP;
	return pgtbl->dump(pgtbl, emit, arg);
}

static void omap_domain_free(struct iommu_domain *domain)
{
	struct omap_iommu_domain *odom = to_omap_domain(domain);

	/*
	 * The core detaches first; if it did not, never leave an MMU on freed
	 * tables. An MMU is on this list exactly while it holds this domain.
	 */
	for (;;) {
		struct omap_iommu *obj = NULL;

		pthread_mutex_lock(&odom->lock);
		if (!list_empty(&odom->mmus))
			obj = list_entry(odom->mmus.next, struct omap_iommu, domain_node);
		pthread_mutex_unlock(&odom->lock);
		if (!obj)
			break;
		ik_warn("%s: freeing a domain still attached; detaching", obj->name);
		omap_detach_masters(obj, NULL);
	}
	if (odom->pgtbl)
		free_io_pgtable_ops(odom->pgtbl);
	pthread_mutex_destroy(&odom->lock);
	free(odom);
}

static const struct iommu_domain_ops omap_paging_domain_ops = {
	.attach_dev = omap_attach_dev,
	.detach_dev = omap_detach_dev,
	.map_pages = omap_map_pages,
	.unmap_pages = omap_unmap_pages,
	.iotlb_sync = omap_iotlb_sync,
	.flush_iotlb_all = omap_flush_iotlb_all,
	.iova_to_phys = omap_iova_to_phys,
	.dump = omap_dump,
	.free = omap_domain_free,
};

/* Identity and blocked domains: nothing to map, nothing cached to flush. */
static const struct iommu_domain_ops omap_fixed_domain_ops = {
	.attach_dev = omap_attach_dev,
	.detach_dev = omap_detach_dev,
	.dump = omap_dump,
	.free = omap_domain_free,
};

/* --- instance ops --- */

/*
 * Allocate a domain: paging (unmanaged or DMA) domains get OMAP page
 * tables; a blocked domain gets empty ones, so that every access faults;
 * an identity domain turns translation off when attached.
 */
static struct iommu_domain *omap_domain_alloc(struct iommu_device *iommu, unsigned int type)
{
	bool paging = type == IOMMU_DOMAIN_UNMANAGED || type == IOMMU_DOMAIN_DMA;

	if (!paging && type != IOMMU_DOMAIN_BLOCKED && type != IOMMU_DOMAIN_IDENTITY) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	struct omap_iommu_domain *odom = calloc(1, sizeof(*odom));
	if (!odom)
		return NULL;
	pthread_mutex_init(&odom->lock, NULL);
	INIT_LIST_HEAD(&odom->mmus);
	odom->domain.type = type;
	odom->domain.ops = &omap_fixed_domain_ops;

	if (type != IOMMU_DOMAIN_IDENTITY) {
		struct io_pgtable_cfg cfg = {
			.pgsize_bitmap = OMAP_MMU_PGSIZES,
			.ias = 32,
			.oas = 32,
			.tlb = &omap_flush_ops,
			.mem = ik_machine_mem(iommu->machine),
			/*
			 * The MMU's walker reads DRAM and never snoops the CPU
			 * caches: table writes are cleaned (as Linux's
			 * flush_iopte_range()); on a coherent machine that is free.
			 */
			.coherent_walk = false,
			/* Little-endian, 8-bit elements, not mixed: as Linux's iotlb_init_entry. */
			.omap.attrs = OMAP_MMU_RAM_ELSZ_8,
		};

		odom->pgtbl = alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, odom);
		if (!odom->pgtbl) {
			int err = errno ? errno : ENOMEM;

			pthread_mutex_destroy(&odom->lock);
			free(odom);
			errno = err;
			return NULL;
		}
		odom->ttb = cfg.omap.ttb;
	}
	if (paging) {
		odom->domain.ops = &omap_paging_domain_ops;
		odom->domain.pgsize_bitmap = OMAP_MMU_PGSIZES;
		odom->domain.geometry.aperture_start = 0;
		odom->domain.geometry.aperture_end = 0xffffffffu;
		odom->domain.geometry.force_aperture = true;
	}
	return &odom->domain;
}

static int omap_probe_device(struct iommu_device *iommu, struct device *dev)
{
	if (!dev || dev->iommu != iommu)
		return -ENODEV;
	struct omap_iommu_master *master = calloc(1, sizeof(*master));
	if (!master)
		return -ENOMEM;
	INIT_LIST_HEAD(&master->node);
	master->dev = dev;
	dev->iommu_priv = master;
	return 0;
}

static void omap_release_device(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);
	struct omap_iommu_master *master = dev->iommu_priv;

	if (!master)
		return;
	/* The core detaches first; this is a last resort. */
	if (obj)
		omap_detach_masters(obj, master);
	dev->iommu_priv = NULL;
	free(master);
}

/*
 * An OMAP MMU cannot tell its masters apart (its transactions carry no
 * source ID), so every device behind one MMU shares one group.
 */
static struct iommu_group *omap_device_group(struct device *dev)
{
	struct iommu_device *iommu = dev->iommu;
	struct iommu_group *group = NULL;
	struct device *other;

	pthread_mutex_lock(&iommu->devices_lock);
	list_for_each_entry(other, &iommu->devices, iommu_node) {
		if (other != dev && other->iommu_group) {
			group = iommu_group_ref(other->iommu_group);
			break;
		}
	}
	pthread_mutex_unlock(&iommu->devices_lock);
	return group ? group : iommu_group_alloc(dev->bus);
}

/*
 * The OMAP MMU has no access permissions (a mapping is readable and
 * writable), no execute-never, no privilege checks, no cache-coherency
 * control and no source IDs: every capability is false.
 */
static bool omap_capable(struct device *dev, enum iommu_cap cap)
{
	return false;
}

static const struct iommu_ops omap_iommu_ops = {
	.name = "omap-iommu",
	.capable = omap_capable,
	.domain_alloc = omap_domain_alloc,
	.probe_device = omap_probe_device,
	.release_device = omap_release_device,
	.device_group = omap_device_group,
	.pgsize_bitmap = OMAP_MMU_PGSIZES,
};

/* --- probe and remove --- */

/* Soft-reset the MMU and put it in smart idle; -ETIMEDOUT if it never comes out. */
static int mmu_reset(struct omap_iommu *obj)
{
	mmu_write(obj, OMAP_MMU_SYSCONFIG, OMAP_MMU_SYSCONFIG_SOFTRESET);
	for (unsigned int i = 0;; i++) {
		if (mmu_read(obj, OMAP_MMU_SYSSTATUS) & OMAP_MMU_SYSSTATUS_RESETDONE)
			break;
		if (i == OMAP_MMU_RESET_POLLS)
			return -ETIMEDOUT;
	}
	mmu_write(obj, OMAP_MMU_SYSCONFIG,
		  (2u << OMAP_MMU_SYSCONFIG_IDLEMODE_SHIFT) | OMAP_MMU_SYSCONFIG_AUTOIDLE);
	return 0;
}

/**
 * omap_iommu_probe - bind to the OMAP MMU described by @desc
 * @m: the machine
 * @desc: its register window, interrupt line and TLB size
 *
 * Checks the revision, soft-resets the MMU (translation stays off until a
 * domain is attached), hooks the fault interrupt and registers with the
 * core. Return: the instance, or NULL with errno set (ENODEV: no or
 * unknown hardware; EINVAL: bad TLB size; ETIMEDOUT: reset never completed;
 * ENOMEM).
 */
static struct iommu_device *omap_iommu_probe(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	struct omap_iommu *obj;
	int ret;

	if (!m || !desc) {
		errno = EINVAL;
		return NULL;
	}
	if (desc->tlb_entries > OMAP_MMU_MAX_TLB_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	obj = calloc(1, sizeof(*obj));
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	obj->machine = m;
	obj->irq = desc->irq;
	/* As Linux's "ti,#tlb-entries": 32 unless the integration says otherwise. */
	obj->nr_tlb_entries = desc->tlb_entries ? desc->tlb_entries : OMAP_MMU_MAX_TLB_ENTRIES;
	obj->twl = true;
	snprintf(obj->name, sizeof(obj->name), "%s", desc->name ? desc->name : "omap-mmu");
	pthread_mutex_init(&obj->lock, NULL);
	INIT_LIST_HEAD(&obj->masters);
	INIT_LIST_HEAD(&obj->domain_node);

	obj->mmio = ik_ioremap(m, desc->mmio_base, OMAP_MMU_WINDOW_SIZE);
	if (!obj->mmio) {
		ret = -ENODEV;
		goto fail;
	}
	uint32_t rev = mmu_read(obj, OMAP_MMU_REVISION);
	if ((rev & 0xf0) != (OMAP_MMU_REVISION_OMAP3 & 0xf0)) {
		ik_err("%s: unknown MMU revision %#x", obj->name, rev);
		ret = -ENODEV;
		goto fail;
	}
	ret = mmu_reset(obj);
	if (ret) {
		ik_err("%s: MMU does not come out of reset", obj->name);
		goto fail;
	}
	ret = ik_request_irq(m, obj->irq, omap_iommu_isr, obj);
	if (ret)
		goto fail;
	ret = iommu_device_register(&obj->iommu, &omap_iommu_ops, m, obj->name);
	if (ret)
		goto fail_irq;
	ik_dbg("%s: OMAP MMU v%u.%u, %u TLB entries", obj->name, (rev >> 4) & 0xf, rev & 0xf,
	       obj->nr_tlb_entries);
	return &obj->iommu;

fail_irq:
	ik_free_irq(m, obj->irq, omap_iommu_isr, obj);
fail:
	pthread_mutex_destroy(&obj->lock);
	free(obj);
	errno = -ret;
	return NULL;
}

static void omap_iommu_remove(struct iommu_device *iommu)
{
	struct omap_iommu *obj = to_omap_iommu(iommu);

	iommu_device_unregister(iommu);
	ik_free_irq(obj->machine, obj->irq, omap_iommu_isr, obj);

	/* Devices are released before drivers; if one was not, let go of the domain. */
	omap_detach_masters(obj, NULL);
	pthread_mutex_lock(&obj->lock);
	mmu_disable_locked(obj);
	pthread_mutex_unlock(&obj->lock);
	pthread_mutex_destroy(&obj->lock);
	free(obj);
}

const struct ik_iommu_driver_type ik_omap_iommu_driver_type = {
	.compatible = "ti,omap2-iommu",
	.probe = omap_iommu_probe,
	.remove = omap_iommu_remove,
};

/* --- OMAP-specific public API --- */

static int entry_to_cam_ram(const struct omap_iotlb_entry *e, uint32_t *cam, uint32_t *ram)
{
	int code = pgsz_to_cam(e->pgsz);

	if (code < 0 || !IS_ALIGNED(e->da, e->pgsz) || !IS_ALIGNED(e->pa, e->pgsz) ||
	    e->endian > OMAP_IOMMU_ENDIAN_BIG || e->elsz > OMAP_IOMMU_ELSZ_NONE)
		return -EINVAL;
	*cam = e->da | (uint32_t)code | (e->preserved ? OMAP_MMU_CAM_P : 0) |
	       (e->valid ? OMAP_MMU_CAM_V : 0);
	*ram = e->pa | (e->endian ? OMAP_MMU_RAM_ENDIAN_BIG : 0) |
	       ((uint32_t)e->elsz << OMAP_MMU_RAM_ELSZ_SHIFT) | (e->mixed ? OMAP_MMU_RAM_MIXED : 0);
	return 0;
}

static void cam_ram_to_entry(uint32_t cam, uint32_t ram, struct omap_iotlb_entry *e)
{
	uint32_t size = cam_to_pgsz(cam);

	e->pgsz = size;
	e->da = cam & OMAP_MMU_CAM_VATAG_MASK & ~(size - 1);
	e->pa = ram & OMAP_MMU_RAM_PADDR_MASK & ~(size - 1);
	e->valid = cam & OMAP_MMU_CAM_V;
	e->preserved = cam & OMAP_MMU_CAM_P;
	e->endian = (ram & OMAP_MMU_RAM_ENDIAN_BIG) ? OMAP_IOMMU_ENDIAN_BIG : OMAP_IOMMU_ENDIAN_LITTLE;
	e->elsz = (uint8_t)((ram & OMAP_MMU_RAM_ELSZ_MASK) >> OMAP_MMU_RAM_ELSZ_SHIFT);
	e->mixed = ram & OMAP_MMU_RAM_MIXED;
}

/**
 * ik_omap_iommu_tlb_preload - load a translation into the TLB
 * @dev: a device behind the MMU
 * @e: the entry (valid, preserved and the attributes are taken as given)
 * @lock: lock it: load it at the lock base and raise the base past it
 *
 * Unlocked, the entry goes to the first invalid unlocked entry, or else to
 * the current victim. At least one entry always stays unlocked for the
 * table walker (TRM 15.4.1.1: n < total entries may be protected).
 * Return: the entry's index; -ENODEV, -EINVAL (bad size, alignment or
 * attributes), -ENOSPC (no entry left to lock).
 */
int ik_omap_iommu_tlb_preload(struct device *dev, const struct omap_iotlb_entry *e, bool lock)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);
	uint32_t cam, ram;
	unsigned int index;

	if (!obj)
		return -ENODEV;
	if (!e || entry_to_cam_ram(e, &cam, &ram))
		return -EINVAL;

	pthread_mutex_lock(&obj->lock);
	uint32_t l = mmu_read(obj, OMAP_MMU_LOCK);
	unsigned int base = lock_base(l), victim = lock_victim(l);
	unsigned int nr = obj->nr_tlb_entries;

	if (base >= nr || (lock && base + 1 >= nr)) {
		pthread_mutex_unlock(&obj->lock);
		return -ENOSPC;
	}
	if (lock) {
		index = base++;
		victim = base;
	} else {
		index = victim >= base && victim < nr ? victim : base;
		for (unsigned int i = base; i < nr; i++) {
			uint32_t c;

			tlb_read_locked(obj, l, i, &c, NULL);
			if (!(c & OMAP_MMU_CAM_V)) {
				index = i;
				break;
			}
		}
		victim = index + 1 < nr ? index + 1 : base;
	}
	tlb_load_locked(obj, lock_base(l), index, cam, ram);
	mmu_write(obj, OMAP_MMU_LOCK, lock_value(base, victim));
	pthread_mutex_unlock(&obj->lock);
	return (int)index;
}

/**
 * ik_omap_iommu_tlb_read - read one TLB entry
 * @dev: a device behind the MMU
 * @index: entry number, below ik_omap_iommu_tlb_size()
 * @e: filled with the entry
 *
 * Return: 0; -ENODEV; -EINVAL for a bad index or NULL @e.
 */
int ik_omap_iommu_tlb_read(struct device *dev, unsigned int index, struct omap_iotlb_entry *e)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);
	uint32_t cam, ram;

	if (!obj)
		return -ENODEV;
	if (!e || index >= obj->nr_tlb_entries)
		return -EINVAL;
	pthread_mutex_lock(&obj->lock);
	uint32_t l = mmu_read(obj, OMAP_MMU_LOCK);
	tlb_read_locked(obj, l, index, &cam, &ram);
	mmu_write(obj, OMAP_MMU_LOCK, l);
	pthread_mutex_unlock(&obj->lock);
	cam_ram_to_entry(cam, ram, e);
	return 0;
}

int ik_omap_iommu_tlb_size(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	return obj ? (int)obj->nr_tlb_entries : -ENODEV;
}

int ik_omap_iommu_tlb_locked(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	if (!obj)
		return -ENODEV;
	pthread_mutex_lock(&obj->lock);
	uint32_t l = mmu_read(obj, OMAP_MMU_LOCK);
	pthread_mutex_unlock(&obj->lock);
	return (int)lock_base(l);
}

int ik_omap_iommu_tlb_unlock_all(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	if (!obj)
		return -ENODEV;
	pthread_mutex_lock(&obj->lock);
	mmu_write(obj, OMAP_MMU_LOCK, lock_value(0, 0));
	pthread_mutex_unlock(&obj->lock);
	return 0;
}

/**
 * ik_omap_iommu_set_twl - turn hardware table walking on or off
 * @dev: a device behind the MMU
 * @on: walk the tables on a TLB miss; off, a miss raises a TLB-miss fault
 *
 * Takes effect at once if translation is on, else at the next attach.
 * Return: 0 or -ENODEV.
 */
int ik_omap_iommu_set_twl(struct device *dev, bool on)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	if (!obj)
		return -ENODEV;
	pthread_mutex_lock(&obj->lock);
	obj->twl = on;
	if (mmu_read(obj, OMAP_MMU_CNTL) & OMAP_MMU_CNTL_MMU_EN) {
		mmu_write(obj, OMAP_MMU_IRQENABLE, mmu_irq_enable(obj));
		mmu_write(obj, OMAP_MMU_CNTL, mmu_cntl(obj));
	}
	pthread_mutex_unlock(&obj->lock);
	return 0;
}

/**
 * ik_omap_iommu_domain_set_attrs - access attributes of later mappings
 * @domain: an OMAP paging domain
 * @endian: OMAP_IOMMU_ENDIAN_*
 * @elsz: OMAP_IOMMU_ELSZ_*
 * @mixed: use the CPU's element size and endianness for this page
 *
 * Existing mappings keep theirs. Return: 0; -ENODEV for a domain of
 * another driver; -EINVAL for bad attributes or a domain that cannot map.
 */
int ik_omap_iommu_domain_set_attrs(struct iommu_domain *domain, unsigned int endian,
				   unsigned int elsz, bool mixed)
{
	if (!domain)
		return -EINVAL;
	if (domain->ops != &omap_paging_domain_ops)
		return domain->ops == &omap_fixed_domain_ops ? -EINVAL : -ENODEV;
	if (endian > OMAP_IOMMU_ENDIAN_BIG || elsz > OMAP_IOMMU_ELSZ_NONE)
		return -EINVAL;

	struct io_pgtable *iop = io_pgtable_ops_to_pgtable(to_omap_domain(domain)->pgtbl);
	uint32_t attrs = (endian ? OMAP_MMU_RAM_ENDIAN_BIG : 0) |
			 (elsz << OMAP_MMU_RAM_ELSZ_SHIFT) | (mixed ? OMAP_MMU_RAM_MIXED : 0);

	__atomic_store_n(&iop->cfg.omap.attrs, attrs, __ATOMIC_RELAXED);
	return 0;
}

/**
 * ik_omap_iommu_save_ctx - save the MMU's context before its power goes off
 * @dev: a device behind the MMU
 *
 * Saves SYSCONFIG, IRQENABLE, CNTL, TTB, LOCK and every locked TLB entry.
 * Return: 0 or -ENODEV.
 */
int ik_omap_iommu_save_ctx(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	if (!obj)
		return -ENODEV;
	pthread_mutex_lock(&obj->lock);
	struct omap_iommu_ctx *ctx = &obj->ctx;

	ctx->sysconfig = mmu_read(obj, OMAP_MMU_SYSCONFIG);
	ctx->irqenable = mmu_read(obj, OMAP_MMU_IRQENABLE);
	ctx->cntl = mmu_read(obj, OMAP_MMU_CNTL);
	ctx->ttb = mmu_read(obj, OMAP_MMU_TTB);
	ctx->lock = mmu_read(obj, OMAP_MMU_LOCK);
	ctx->nr_locked = ik_min(lock_base(ctx->lock), obj->nr_tlb_entries);
	for (unsigned int i = 0; i < ctx->nr_locked; i++)
		tlb_read_locked(obj, ctx->lock, i, &ctx->cam[i], &ctx->ram[i]);
	mmu_write(obj, OMAP_MMU_LOCK, ctx->lock);
	ctx->valid = true;
	pthread_mutex_unlock(&obj->lock);
	return 0;
}

/**
 * ik_omap_iommu_restore_ctx - restore the context saved before a power-off
 * @dev: a device behind the MMU
 *
 * Reloads the locked TLB entries at their indices, then the lock
 * base/victim, TTB, interrupt enables and, last, CNTL, which turns
 * translation back on. No global flush: it would drop the reloaded
 * entries that are not preserved.
 * Return: 0; -ENODEV; -EINVAL if no context was saved.
 */
int ik_omap_iommu_restore_ctx(struct device *dev)
{
	struct omap_iommu *obj = dev_to_omap_iommu(dev);

	if (!obj)
		return -ENODEV;
	pthread_mutex_lock(&obj->lock);
	const struct omap_iommu_ctx *ctx = &obj->ctx;

	if (!ctx->valid) {
		pthread_mutex_unlock(&obj->lock);
		return -EINVAL;
	}
	mmu_write(obj, OMAP_MMU_SYSCONFIG, ctx->sysconfig & ~OMAP_MMU_SYSCONFIG_SOFTRESET);
	for (unsigned int i = 0; i < ctx->nr_locked; i++)
		tlb_load_locked(obj, 0, i, ctx->cam[i], ctx->ram[i]);
	mmu_write(obj, OMAP_MMU_LOCK, ctx->lock);
	mmu_write(obj, OMAP_MMU_TTB, ctx->ttb);
	mmu_write(obj, OMAP_MMU_IRQENABLE, ctx->irqenable);
	mmu_write(obj, OMAP_MMU_CNTL, ctx->cntl);
	pthread_mutex_unlock(&obj->lock);
	return 0;
}
