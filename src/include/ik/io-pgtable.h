/* SPDX-License-Identifier: MIT */
/*
 * Page-table formats: one implementation per hardware format, shared by
 * every driver that uses it, behind one factory (Linux's io-pgtable shape).
 *
 * A format writes tables into physical memory (cfg->mem) bit-exact to its
 * specification. It reports what it removed through the IOTLB gather and
 * never frees a table page itself while the hardware may still cache it:
 * emptied tables go on gather->freelist, and the core frees them after
 * the invalidation that covers them.
 *
 * Concurrency: map_pages/unmap_pages/iova_to_phys may run concurrently
 * on disjoint IOVA ranges of one table without locks. Tables are
 * installed with compare-and-swap; live entries of each table are counted
 * in its page metadata so that emptied tables can be freed (pt-table.h).
 */
#ifndef IK_IO_PGTABLE_H
#define IK_IO_PGTABLE_H

#include <iommukit/iommu.h>
#include "ik/mem.h"

enum io_pgtable_fmt {
	OMAP_IOMMU_PGTABLE, /* TI OMAP2/3/4 MMU: 2-level 4K/64K/1M/16M */
	ARM_64_LPAE_S1,     /* Arm VMSAv8-64 stage 1, 4 KiB granule: 4K/2M/1G */
	IO_PGTABLE_NUM_FMTS,
};

/* How a format asks the driver to invalidate (Linux's iommu_flush_ops). */
struct iommu_flush_ops {
	void (*tlb_flush_all)(void *cookie);
	/* A table covering [iova, iova + size) was removed or changed. */
	void (*tlb_flush_walk)(dma_addr_t iova, size_t size, size_t granule, void *cookie);
	/* One leaf of @granule at @iova was removed: gather it. */
	void (*tlb_add_page)(struct iommu_iotlb_gather *gather, dma_addr_t iova,
			     size_t granule, void *cookie);
};

/* Quirks. */
/* Never free tables that become empty (Linux's behaviour; no counting). */
#define IO_PGTABLE_QUIRK_KEEP_TABLES (1UL << 0)

struct io_pgtable_cfg {
	unsigned long quirks;
	unsigned long pgsize_bitmap; /* in: wanted; out: what the format does */
	unsigned int ias;            /* input (IOVA) address bits */
	unsigned int oas;            /* output (physical) address bits */
	const struct iommu_flush_ops *tlb;
	struct ik_mem *mem;          /* memory that holds the tables */
	/*
	 * The walker snoops the CPU caches (Linux's name): table writes need
	 * no cleaning. False on a non-coherent machine makes the format clean
	 * every table write to memory (see src/pgtable/pt-table.h).
	 */
	bool coherent_walk;
	union {
		struct {
			phys_addr_t ttb; /* out: first-level table, 16 KiB aligned */
			/*
			 * in: access attributes of new leaves, in the MMU_RAM
			 * register's encoding (OMAP_MMU_RAM_ENDIAN_BIG,
			 * OMAP_MMU_RAM_ELSZ_*, OMAP_MMU_RAM_MIXED); the format
			 * moves them to each descriptor type's bit positions.
			 * May be changed between maps.
			 */
			uint32_t attrs;
		} omap;
		/*
		 * Arm LPAE stage 1 (Arm ARM, VMSAv8-64 translation table
		 * format): out fields the driver writes into the context
		 * bank; ias selects the start level (48 -> level 0, 39 ->
		 * level 1).
		 */
		struct {
			uint64_t ttbr; /* out: level-0/1 table address (+ ASID by the driver) */
			uint64_t tcr;  /* out: T0SZ, IRGN0, ORGN0, SH0, TG0, IPS, EPD1 */
			uint64_t mair; /* out: MAIR value matching the AttrIndx used */
		} arm_lpae_s1_cfg;
	};
};

/* Prot flags a format understands are IOMMU_READ/WRITE/... from iommu.h. */

/* Called once per leaf by dump, in IOVA order. */
typedef int (*io_pgtable_dump_fn)(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size,
				  int prot, const char *desc);

struct io_pgtable_ops {
	/* As iommu_domain_ops.map_pages (see iommu-driver.h). */
	int (*map_pages)(struct io_pgtable_ops *ops, dma_addr_t iova, phys_addr_t paddr,
			 size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped);
	/* As iommu_domain_ops.unmap_pages: bytes unmapped or negative errno. */
	long (*unmap_pages)(struct io_pgtable_ops *ops, dma_addr_t iova, size_t pgsize,
			    size_t pgcount, struct iommu_iotlb_gather *gather);
	/* 0 when @iova is not mapped. */
	phys_addr_t (*iova_to_phys)(struct io_pgtable_ops *ops, dma_addr_t iova);
	/* Every leaf in IOVA order; stops early if @fn returns non-zero. */
	int (*dump)(struct io_pgtable_ops *ops, io_pgtable_dump_fn fn, void *arg);
};

struct io_pgtable {
	enum io_pgtable_fmt fmt;
	void *cookie;
	struct io_pgtable_cfg cfg;
	struct io_pgtable_ops ops;
};

#define io_pgtable_ops_to_pgtable(x) container_of((x), struct io_pgtable, ops)

struct io_pgtable_init_fns {
	struct io_pgtable *(*alloc)(struct io_pgtable_cfg *cfg, void *cookie);
	void (*free)(struct io_pgtable *iop);
};

extern const struct io_pgtable_init_fns io_pgtable_omap_init_fns;
extern const struct io_pgtable_init_fns io_pgtable_arm_64_lpae_s1_init_fns;

/*
 * Allocate tables of format @fmt as @cfg says (updating its out fields).
 * Returns NULL and sets errno (EINVAL: bad config; ENOMEM).
 */
struct io_pgtable_ops *alloc_io_pgtable_ops(enum io_pgtable_fmt fmt,
					    struct io_pgtable_cfg *cfg, void *cookie);
/* Free every table; the caller has invalidated the hardware already. */
void free_io_pgtable_ops(struct io_pgtable_ops *ops);

#endif /* IK_IO_PGTABLE_H */
