/* SPDX-License-Identifier: MIT */
/*
 * The dma-mapping layer, library-internal view (src/dma/).
 *
 * mapping.c is the public entry: argument checks, the choice of ops per
 * device at each call, CPU cache maintenance on non-coherent machines and
 * the dma-debug hooks. It calls one of two ops tables:
 *  - direct.c: bus address = physical address, checked against the masks;
 *  - iommu.c: IOVAs from a per-domain cookie (an iova_domain), page tables
 *    through the IOMMU core, strict or lazy (flush queue) invalidation.
 * debug.c tracks every live mapping when dma-debug is on.
 *
 * Concurrency contract (as Linux's, where a device's default domain cannot
 * change while its driver uses the DMA API): every call may run from any
 * thread at once, but attaching or detaching the device's group must not
 * race DMA API calls for that device.
 */
#ifndef IK_DMA_H
#define IK_DMA_H

#include <iommukit/dma-mapping.h>
#include "ik/iommu-driver.h"
#include "ik/machine.h"

/* Every attribute this implementation knows; others are rejected. */
#define IK_DMA_ATTR_KNOWN DMA_ATTR_SKIP_CPU_SYNC

/*
 * One implementation of the DMA API. @domain is the DMA domain the
 * device's group is attached to (NULL for the direct ops). Arguments have
 * been checked by mapping.c; CPU cache maintenance is mapping.c's job
 * too, except for coherent allocations, which the ops prepare themselves.
 */
struct ik_dma_map_ops {
	const char *name;
	/* Map [phys, phys + size); errno set on DMA_MAPPING_ERROR. */
	dma_addr_t (*map_phys)(struct device *dev, struct iommu_domain *domain,
			       phys_addr_t phys, size_t size, enum dma_data_direction dir);
	void (*unmap_phys)(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
			   size_t size, enum dma_data_direction dir);
	/* The number of DMA segments, or 0 with errno set. */
	int (*map_sg)(struct device *dev, struct iommu_domain *domain, struct scatterlist *sg,
		      int nents, enum dma_data_direction dir);
	void (*unmap_sg)(struct device *dev, struct iommu_domain *domain, struct scatterlist *sg,
			 int nents, enum dma_data_direction dir);
	/* Physical address behind a live mapping's @addr, or -EFAULT. */
	int (*to_phys)(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
		       phys_addr_t *phys);
	void *(*alloc)(struct device *dev, struct iommu_domain *domain, size_t size,
		       dma_addr_t *handle);
	/* 0, or -ENOENT if @cpu_addr/@handle is no live allocation (nothing done). */
	int (*free)(struct device *dev, struct iommu_domain *domain, size_t size, void *cpu_addr,
		    dma_addr_t handle);
};

extern const struct ik_dma_map_ops ik_dma_direct_ops;
extern const struct ik_dma_map_ops ik_dma_iommu_ops;

/*
 * The DMA domain @dev's group is attached to, or NULL (no IOMMU, no
 * domain, or a domain the DMA API does not own: identity, unmanaged).
 * Lock-free: see the concurrency contract above.
 */
static inline struct iommu_domain *ik_dma_dev_domain(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;
	struct iommu_domain *domain;

	if (!group)
		return NULL;
	domain = __atomic_load_n(&group->domain, __ATOMIC_ACQUIRE);
	if (domain && (domain->type & __IOMMU_DOMAIN_DMA_API))
		return domain;
	return NULL;
}

/* Device limits, read without a lock while ik_dma_set_* may write them. */
static inline uint64_t ik_dma_dev_mask(const struct device *dev)
{
	return __atomic_load_n(&dev->dma_mask, __ATOMIC_RELAXED);
}

static inline uint64_t ik_dma_dev_coherent_mask(const struct device *dev)
{
	return __atomic_load_n(&dev->coherent_dma_mask, __ATOMIC_RELAXED);
}

static inline unsigned int ik_dma_dev_max_seg(const struct device *dev)
{
	return __atomic_load_n(&dev->max_seg_size, __ATOMIC_RELAXED);
}

static inline unsigned long ik_dma_dev_seg_boundary(const struct device *dev)
{
	return __atomic_load_n(&dev->seg_boundary_mask, __ATOMIC_RELAXED);
}

/* Physical address of a CPU pointer into RAM or a vmap; -EFAULT if none. */
int ik_dma_virt_to_phys(struct device *dev, const void *cpu_addr, phys_addr_t *phys);

/*
 * Where the layout of a mapped scatterlist stands (direct.c and iommu.c):
 * each entry's segment checked against the device's limits. 0 or -EINVAL.
 */
int ik_dma_sg_check(struct device *dev, const struct scatterlist *sg, int nents);

/* --- the IOMMU-backed ops' internals that tests and benchmarks reach --- */

/* Entries per flush-queue shard (Linux: 256 per CPU). */
#define IK_DMA_FQ_SIZE 256
/* Flush-queue timeout: pending invalidations are done within this (Linux: 10 ms). */
#define IK_DMA_FQ_TIMEOUT_NS 10000000ULL
/* The timeout new DMA_FQ domains get (tests lengthen it to count entries undisturbed). */
extern uint64_t ik_dma_fq_timeout_ns;

/*
 * Flush-queue shards per domain; threads are spread over them. Read when
 * a domain's cookie is created (first DMA API use), so benchmarks can
 * compare one shared queue with several. 1..IK_DMA_FQ_MAX_SHARDS, rounded
 * down to a power of two.
 */
#define IK_DMA_FQ_MAX_SHARDS 16
extern unsigned int ik_dma_fq_nr_shards;

struct ik_dma_fq_stats {
	uint64_t queued;         /* IOVA ranges queued */
	uint64_t flushes;        /* IOTLB flushes the queue did */
	uint64_t full_flushes;   /* ... because a shard was full */
	uint64_t timeout_flushes; /* ... because the oldest entry timed out */
	uint64_t max_pending;    /* most entries one shard held */
};

/*
 * The flush queue of @domain (a DMA_FQ domain with a cookie): counters, and
 * pending entries (IOVA ranges not yet invalidated). -ENOENT without one.
 */
int ik_dma_fq_get_stats(struct iommu_domain *domain, struct ik_dma_fq_stats *stats,
			unsigned int *pending);
/* Invalidate and release everything @domain's flush queue holds now. */
void ik_dma_fq_flush(struct iommu_domain *domain);
/*
 * The two halves of one flush, for tests that stop a flusher in between
 * (as the scheduler may stop the timer thread): begin returns the flush's
 * ticket (0 without a flush queue), end invalidates and publishes it.
 */
uint64_t ik_dma_fq_flush_begin(struct iommu_domain *domain);
void ik_dma_fq_flush_end(struct iommu_domain *domain, uint64_t ticket);

/* --- dma-debug (debug.c), called by mapping.c --- */

enum ik_dma_debug_type {
	IK_DMA_DEBUG_SINGLE,
	IK_DMA_DEBUG_PAGE,
	IK_DMA_DEBUG_SG,
	IK_DMA_DEBUG_COHERENT,
};

/* What a map, unmap or sync says about one mapping. */
struct ik_dma_debug_ref {
	struct device *dev;
	dma_addr_t addr;
	size_t size;
	phys_addr_t phys;
	enum dma_data_direction dir;
	enum ik_dma_debug_type type;
	const void *cpu_addr; /* coherent: the CPU pointer */
};

extern bool ik_dma_debug_on;

static inline bool ik_dma_debug_active(void)
{
	return __atomic_load_n(&ik_dma_debug_on, __ATOMIC_RELAXED);
}

/* Record a single, page or coherent mapping. */
void ik_dma_debug_add(const struct ik_dma_debug_ref *ref);
/* Record a mapped scatterlist: @count DMA segments made of @nents entries. */
void ik_dma_debug_add_sg(struct device *dev, const struct scatterlist *sg, int nents, int count,
			 enum dma_data_direction dir);
/*
 * Check an unmap (or free) of a single, page or coherent mapping against
 * what was mapped, and forget the mapping. Returns 0 with @ref corrected
 * to what was really mapped (size, direction) when the unmap may proceed;
 * -ENOENT when nothing is mapped there, -EINVAL when the call does not
 * fit the mapping's kind (sg or coherent through another call): the
 * caller must then do nothing. Every mismatch is logged and counted.
 */
int ik_dma_debug_remove(struct ik_dma_debug_ref *ref);
/*
 * The same for unmap_sg: @nents and @dir are corrected to the map's.
 * Also refuses (-EINVAL) a list whose entries changed since the map,
 * since the unmap recomputes the layout from them.
 */
int ik_dma_debug_remove_sg(struct device *dev, const struct scatterlist *sg, int *nents,
			   enum dma_data_direction *dir);
/* Check a sync of [addr, addr + size) in @dir, for the CPU or the device. */
void ik_dma_debug_sync(struct device *dev, dma_addr_t addr, size_t size,
		       enum dma_data_direction dir, bool for_cpu);
/* Check an sg sync: every DMA segment of the list must be a live sg mapping. */
void ik_dma_debug_sync_sg(struct device *dev, const struct scatterlist *sg, int nents,
			  enum dma_data_direction dir, bool for_cpu);
/* Count (in errors) and log a bad call found outside the checks above. */
void ik_dma_debug_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A CPU access of [pa, pa + len) on @m: counts and logs an access to memory
 * a device owns, or to a coherent buffer already freed. For the CPU access
 * path (ik_cpu_read/ik_cpu_write) to call when ik_dma_debug_active().
 */
void ik_dma_debug_cpu_access(struct ik_machine *m, phys_addr_t pa, size_t len, bool write);
/* A mapping was made while dma-debug was off (tracking may be incomplete). */
extern bool ik_dma_debug_untracked;

/*
 * Called by the core when a group leaves a DMA domain, for each of its
 * devices, before the driver detaches it: with dma-debug on, reports the
 * mappings the device still holds (ik_dma_debug_check_leaks()).
 */
void ik_dma_domain_detach_dev(struct iommu_domain *domain, struct device *dev);

/* --- for other users of a DMA domain's device-address space (iovmm) --- */

/**
 * iommu_dma_get_iovad - the IOVA allocator of a DMA domain's cookie
 * @domain: an IOMMU_DOMAIN_DMA or IOMMU_DOMAIN_DMA_FQ domain
 *
 * Creates the cookie if the DMA API has not used the domain yet, as the
 * first DMA API call would. Ranges another user takes from the allocator
 * (alloc_iova(), never the fast path) are never handed out by the DMA API,
 * and the reverse. Valid until the domain is freed.
 *
 * Return: the initialised allocator, or NULL with errno EINVAL (not a DMA
 * domain) or the cookie's creation error.
 */
struct iova_domain *iommu_dma_get_iovad(struct iommu_domain *domain);

/* A direction's name, for messages. */
static inline const char *ik_dma_dir_name(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_BIDIRECTIONAL:
		return "bidirectional";
	case DMA_TO_DEVICE:
		return "to-device";
	case DMA_FROM_DEVICE:
		return "from-device";
	default:
		return "invalid";
	}
}

#endif /* IK_DMA_H */
