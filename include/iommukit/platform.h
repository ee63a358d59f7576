/* SPDX-License-Identifier: MIT */
/*
 * iommukit/platform.h - the simulated machine.
 *
 * A machine is physical memory (RAM regions at 64-bit bases, sparsely
 * backed), IOMMU hardware models with MMIO register windows and interrupt
 * lines, and DMA-master devices behind them. Everything the library's
 * drivers see of it is registers and memory; everything a program sees is
 * below, so a test can read page tables and registers with a walker of its
 * own.
 */
#ifndef IOMMUKIT_PLATFORM_H
#define IOMMUKIT_PLATFORM_H

#include <iommukit/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bus_type;
struct device;
struct ik_machine;
struct ik_mem;

/* --- describing a machine --- */

/* A RAM region. Bases need not be zero: OMAP3 DRAM starts at 0x80000000. */
struct ik_region_desc {
	const char *name;
	phys_addr_t base; /* 4 KiB aligned */
	uint64_t size;    /* 4 KiB multiple; backing is allocated on touch */
};

/* An IOMMU instance: a hardware model and the driver that binds to it. */
struct ik_iommu_desc {
	const char *name;       /* unique within the machine, e.g. "isp-mmu" */
	const char *compatible; /* model and driver, e.g. "ti,omap2-iommu" */
	phys_addr_t mmio_base;  /* register window */
	unsigned int irq;       /* interrupt line */
	unsigned int tlb_entries; /* 0: the model's default */
};

/* A DMA master. */
struct ik_master_desc {
	const char *name;  /* unique within the machine, e.g. "isp" */
	const char *iommu; /* name of the IOMMU in front of it; NULL: none */
	uint32_t sid;      /* source (requester/stream) ID on that IOMMU */
};

/* Machine flags. */
/*
 * DMA is not coherent with the CPU caches (as on OMAP3): CPU accesses
 * through ik_cpu_read/ik_cpu_write go through a modelled write-back cache;
 * devices see memory. CPU writes reach memory only when cleaned; device
 * writes become visible to the CPU only after the lines are invalidated.
 */
#define IK_MACHINE_NONCOHERENT (1u << 0)

struct ik_machine_desc {
	size_t size; /* sizeof(struct ik_machine_desc), for growth */
	const char *name;
	const struct ik_region_desc *regions;
	unsigned int nr_regions;
	const struct ik_iommu_desc *iommus;
	unsigned int nr_iommus;
	const struct ik_master_desc *masters;
	unsigned int nr_masters;
	unsigned int flags;            /* IK_MACHINE_* */
	unsigned int cache_line;       /* CPU cache line bytes (0: 64) */
	unsigned int cache_size;       /* CPU cache bytes (0: 256 KiB) */
};

/* Built-in machines, by name (NULL or "omap3": the default). */
IK_API const struct ik_machine_desc *ik_machine_desc_builtin(const char *name);

/* Returns NULL and sets errno (EINVAL for a bad description). */
IK_API struct ik_machine *ik_machine_create(const struct ik_machine_desc *desc);
IK_API struct ik_machine *ik_machine_create_default(void);
IK_API void ik_machine_destroy(struct ik_machine *m);

IK_API struct ik_mem *ik_machine_mem(struct ik_machine *m);
IK_API struct bus_type *ik_machine_bus(struct ik_machine *m);
IK_API const char *ik_machine_name(const struct ik_machine *m);

/* Devices (DMA masters), by name or index; NULL when there is none. */
IK_API struct device *ik_machine_device(struct ik_machine *m, const char *name);
IK_API struct device *ik_machine_device_at(struct ik_machine *m, unsigned int index);
IK_API const char *ik_device_name(const struct device *dev);
IK_API uint32_t ik_device_sid(const struct device *dev);
/* Name of the IOMMU instance in front of @dev, NULL for none. */
IK_API const char *ik_device_iommu_name(const struct device *dev);

/* --- physical memory --- */

/* CPU accesses. -EFAULT when any byte lies outside RAM. */
IK_API int ik_mem_read(struct ik_mem *mem, phys_addr_t pa, void *buf, size_t len);
IK_API int ik_mem_write(struct ik_mem *mem, phys_addr_t pa, const void *buf, size_t len);
IK_API int ik_mem_fill(struct ik_mem *mem, phys_addr_t pa, int byte, size_t len);
/* Host pointer to RAM at @pa valid for @len bytes, or NULL. */
IK_API void *ik_mem_ptr(struct ik_mem *mem, phys_addr_t pa, size_t len);

/* Page allocator: @npages physically contiguous 4 KiB pages aligned to
 * @align bytes (a power of two, at least 4 KiB), zeroed. */
IK_API int ik_mem_alloc_pages(struct ik_mem *mem, size_t npages, size_t align,
			      phys_addr_t *pa);
IK_API void ik_mem_free_pages(struct ik_mem *mem, phys_addr_t pa, size_t npages);
IK_API size_t ik_mem_free_count(struct ik_mem *mem); /* free pages */
/*
 * Fault injection, for testing code that must survive running out of
 * memory: after @npages more pages have been handed out, allocations fail
 * with -ENOMEM (0: fail from now on; -1: back to normal).
 */
IK_API int ik_mem_fail_after(struct ik_mem *mem, long npages);

/*
 * Contiguous CPU view of scattered physical pages (Linux's vmap): the
 * pointer stays valid until ik_mem_vunmap(). NULL with errno (EINVAL for
 * pages outside RAM, ENOMEM).
 */
IK_API void *ik_mem_vmap(struct ik_mem *mem, const phys_addr_t *pages, size_t npages);
IK_API void ik_mem_vunmap(struct ik_mem *mem, void *addr, size_t npages);
/* Physical address of a CPU pointer into RAM or into a vmap; -EFAULT if none. */
IK_API int ik_mem_virt_to_phys(struct ik_mem *mem, const void *addr, phys_addr_t *pa);

/* --- the CPU's view and its caches --- */

/*
 * CPU accesses to RAM. On a coherent machine they are ik_mem_read/write; on
 * an IK_MACHINE_NONCOHERENT one they go through the modelled CPU cache.
 * ik_mem_read/ik_mem_write always access memory itself (what devices see).
 */
IK_API int ik_cpu_read(struct ik_machine *m, phys_addr_t pa, void *buf, size_t len);
IK_API int ik_cpu_write(struct ik_machine *m, phys_addr_t pa, const void *buf, size_t len);
/* Cache maintenance by physical range (whole lines): write back, discard, both. */
IK_API int ik_cpu_cache_clean(struct ik_machine *m, phys_addr_t pa, size_t len);
IK_API int ik_cpu_cache_invalidate(struct ik_machine *m, phys_addr_t pa, size_t len);
IK_API int ik_cpu_cache_flush(struct ik_machine *m, phys_addr_t pa, size_t len);
IK_API bool ik_machine_dma_coherent(const struct ik_machine *m);

/* Counters of the modelled CPU cache, counted in lines. */
struct ik_cpu_cache_stats {
	uint64_t hits;           /* CPU accesses found in the cache */
	uint64_t misses;         /* CPU accesses that allocated a line */
	uint64_t evictions;      /* valid lines replaced to make room */
	uint64_t writebacks;     /* dirty lines written to memory, by eviction or clean */
	uint64_t cleans;         /* dirty lines written back by clean or flush */
	uint64_t invalidates;    /* valid lines dropped by invalidate or flush */
	uint64_t dirty_discards; /* of those, dirty ones: CPU writes lost */
};
/* 0; -EINVAL for NULL arguments; -ENODEV on a coherent machine (no cache). */
IK_API int ik_machine_cpu_cache_stats(struct ik_machine *m, struct ik_cpu_cache_stats *stats);
IK_API int ik_machine_cpu_cache_reset_stats(struct ik_machine *m);

/* --- MMIO and interrupts --- */

/* Register access at a physical address inside some model's window. */
IK_API int ik_machine_mmio_read32(struct ik_machine *m, phys_addr_t addr, uint32_t *val);
IK_API int ik_machine_mmio_write32(struct ik_machine *m, phys_addr_t addr, uint32_t val);

/* --- DMA from devices --- */

/* Attributes of one DMA access. */
#define IK_DMA_ATTR_PRIV (1u << 0) /* privileged */
#define IK_DMA_ATTR_EXEC (1u << 1) /* instruction fetch */

/*
 * Device accesses at bus addresses, through the device's IOMMU if it has
 * one. Every page is translated before any byte moves: an access that
 * faults anywhere is aborted whole, reported to the IOMMU (and from there
 * to the domain's fault handler), touches no memory and returns -EFAULT.
 */
IK_API int ik_dma_read(struct device *dev, dma_addr_t addr, void *buf, size_t len);
IK_API int ik_dma_write(struct device *dev, dma_addr_t addr, const void *buf, size_t len);
IK_API int ik_dma_rw(struct device *dev, dma_addr_t addr, void *buf, size_t len,
		     bool write, unsigned int attrs);
IK_API int ik_dma_fill(struct device *dev, dma_addr_t addr, int byte, size_t len);
IK_API int ik_dma_copy(struct device *dev, dma_addr_t dst, dma_addr_t src, size_t len);

/* --- looking inside the IOMMU models --- */

struct ik_iommu_hw_stats {
	uint64_t accesses;       /* translations asked for (one per page) */
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint64_t walks;          /* hardware table walks */
	uint64_t faults;
	uint64_t stale_accesses; /* TLB hits that a fresh walk contradicts */
	uint64_t invalidations;  /* TLB entries invalidated */
	/*
	 * Walks that read a descriptor the CPU had changed in its cache and
	 * not cleaned (non-coherent machines): the walker used the old one.
	 */
	uint64_t incoherent_walks;
};

IK_API int ik_machine_iommu_stats(struct ik_machine *m, const char *iommu,
				  struct ik_iommu_hw_stats *stats);
IK_API int ik_machine_iommu_reset_stats(struct ik_machine *m, const char *iommu);

/* Permissions a model's walk found (IOMMU_READ/IOMMU_WRITE/...). */
/*
 * Walk @iova for source @sid the way the hardware would, from the tables
 * in memory, ignoring and not filling the TLB, with no side effects.
 * Returns 0 with *pa and *prot set, -ENOENT if the walk faults, -ENODEV
 * for an unknown IOMMU, -EIO when translation is off (pass-through: *pa
 * is then @iova).
 */
IK_API int ik_machine_iommu_walk(struct ik_machine *m, const char *iommu, uint32_t sid,
				 dma_addr_t iova, phys_addr_t *pa, int *prot);

/* Model power: off loses every register and TLB entry, on resets them. */
IK_API int ik_machine_iommu_power(struct ik_machine *m, const char *iommu, bool on);

/* Number of IOMMU instances and their names, for enumeration. */
IK_API unsigned int ik_machine_nr_iommus(const struct ik_machine *m);
IK_API const char *ik_machine_iommu_name(const struct ik_machine *m, unsigned int index);

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_PLATFORM_H */
