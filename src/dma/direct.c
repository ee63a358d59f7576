// SPDX-License-Identifier: MIT
/*
 * Direct DMA: the device sees physical memory at its physical address (no
 * IOMMU, or an IOMMU in pass-through or an identity domain). A mapping is
 * only a check that the device can reach the buffer with its mask; a
 * scatterlist maps entry for entry, each entry checked against the
 * device's segment limits; a coherent buffer is physically contiguous
 * below the coherent mask.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/log.h"
#include "ik/mem.h"

/* Coherent buffers handed out, so that a bad free never frees someone else's pages. */
struct direct_coherent {
	struct direct_coherent *next;
	struct device *dev;
	void *cpu_addr;
	phys_addr_t phys;
	size_t npages;
};

static pthread_mutex_t coherent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct direct_coherent *coherent_list;

/* Whether @dev reaches [phys, phys + size) with @mask. */
static inline bool reachable(uint64_t mask, phys_addr_t phys, size_t size)
{
	return phys <= mask && size - 1 <= mask - phys;
}

static dma_addr_t direct_map_phys(struct device *dev, struct iommu_domain *domain,
				  phys_addr_t phys, size_t size, enum dma_data_direction dir)
{
	uint64_t mask = ik_dma_dev_mask(dev);

	if (unlikely(!reachable(mask, phys, size))) {
		ik_err("dma: %s: %#llx+%#zx is beyond its DMA mask %#llx and it has no IOMMU to "
		       "remap it",
		       dev->name, (unsigned long long)phys, size, (unsigned long long)mask);
		errno = ERANGE;
		return DMA_MAPPING_ERROR;
	}
	return phys;
}

static void direct_unmap_phys(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
			      size_t size, enum dma_data_direction dir)
{
	/* Nothing to undo: the device always sees physical memory. */
}

/**
 * ik_dma_sg_check - check each entry of @sg against @dev's segment limits
 *
 * An entry longer than the device's max segment size, or crossing its
 * segment boundary at the address it will have, could not be handed to the
 * device as one segment. Without an IOMMU that address is the physical
 * one; behind an IOMMU only the offset in the IOVA granule is fixed (the
 * layout can move the entry to the next boundary), so the entry must fit
 * a boundary-sized window from that offset.
 *
 * Return: 0, or -EINVAL after logging the first offending entry.
 */
int ik_dma_sg_check(struct device *dev, const struct scatterlist *sg, int nents)
{
	struct iommu_domain *domain = ik_dma_dev_domain(dev);
	unsigned int max_seg = ik_dma_dev_max_seg(dev);
	unsigned long boundary = ik_dma_dev_seg_boundary(dev);
	uint64_t gmask = domain ? domain->min_pagesz - 1 : UINT64_MAX;

	for (int i = 0; i < nents; i++) {
		uint64_t first = sg[i].phys & gmask, last = first + sg[i].length - 1;

		if (sg[i].length > max_seg) {
			ik_err("dma: %s: sg entry %d is %#x bytes, longer than its max segment %#x",
			       dev->name, i, sg[i].length, max_seg);
			return -EINVAL;
		}
		if ((first & ~(uint64_t)boundary) != (last & ~(uint64_t)boundary)) {
			ik_err("dma: %s: sg entry %d (%#llx+%#x) crosses its segment boundary "
			       "(mask %#lx)", dev->name, i, (unsigned long long)sg[i].phys,
			       sg[i].length, boundary);
			return -EINVAL;
		}
	}
	return 0;
}

static int direct_map_sg(struct device *dev, struct iommu_domain *domain, struct scatterlist *sg,
			 int nents, enum dma_data_direction dir)
{
	uint64_t mask = ik_dma_dev_mask(dev);

	for (int i = 0; i < nents; i++) {
		if (!reachable(mask, sg[i].phys, sg[i].length)) {
			ik_err("dma: %s: sg entry %d (%#llx+%#x) is beyond its DMA mask %#llx "
			       "and it has no IOMMU to remap it",
			       dev->name, i, (unsigned long long)sg[i].phys, sg[i].length,
			       (unsigned long long)mask);
			errno = ERANGE;
			return 0;
		}
	}
	for (int i = 0; i < nents; i++) {
		sg[i].dma_address = sg[i].phys;
		sg[i].dma_length = sg[i].length;
	}
	return nents;
}

static void direct_unmap_sg(struct device *dev, struct iommu_domain *domain,
			    struct scatterlist *sg, int nents, enum dma_data_direction dir)
{
}

static int direct_to_phys(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
			  phys_addr_t *phys)
{
	if (!ik_mem_region_of(ik_machine_mem(dev->machine), addr))
		return -EFAULT;
	*phys = addr;
	return 0;
}

static void *direct_alloc(struct device *dev, struct iommu_domain *domain, size_t size,
			  dma_addr_t *handle)
{
	struct ik_mem *mem = ik_machine_mem(dev->machine);
	size_t npages = ALIGN_UP(size, IK_PAGE_SIZE) >> IK_PAGE_SHIFT;
	uint64_t mask = ik_dma_dev_coherent_mask(dev);
	struct direct_coherent *rec = malloc(sizeof(*rec));
	phys_addr_t pa;
	void *cpu_addr;
	int ret;

	if (!rec) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ik_mem_alloc_pages(mem, npages, IK_PAGE_SIZE, &pa);
	if (ret) {
		free(rec);
		errno = -ret;
		return NULL;
	}
	/* The allocator takes the lowest free run it finds first; it cannot aim lower. */
	if (!reachable(mask, pa, npages << IK_PAGE_SHIFT)) {
		ik_mem_free_pages(mem, pa, npages);
		free(rec);
		ik_err("dma: %s: no memory below its coherent mask %#llx", dev->name,
		       (unsigned long long)mask);
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * The pages were free, so lines the CPU still caches for them are
	 * garbage; a dirty one written back later would land in the buffer.
	 * Drop them (no write-back), then the buffer is zero in memory.
	 */
	if (!ik_machine_dma_coherent(dev->machine))
		ik_cpu_cache_invalidate(dev->machine, pa, npages << IK_PAGE_SHIFT);
	cpu_addr = ik_mem_ptr(mem, pa, npages << IK_PAGE_SHIFT);
	*rec = (struct direct_coherent){ .dev = dev, .cpu_addr = cpu_addr, .phys = pa,
					 .npages = npages };
	pthread_mutex_lock(&coherent_lock);
	rec->next = coherent_list;
	coherent_list = rec;
	pthread_mutex_unlock(&coherent_lock);
	*handle = pa;
	return cpu_addr;
}

static int direct_free(struct device *dev, struct iommu_domain *domain, size_t size,
		       void *cpu_addr, dma_addr_t handle)
{
	size_t npages = ALIGN_UP(size, IK_PAGE_SIZE) >> IK_PAGE_SHIFT;
	struct direct_coherent **pp, *rec = NULL;

	pthread_mutex_lock(&coherent_lock);
	for (pp = &coherent_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->cpu_addr == cpu_addr && (*pp)->dev == dev) {
			rec = *pp;
			if (rec->phys == handle && rec->npages == npages)
				*pp = rec->next;
			break;
		}
	}
	pthread_mutex_unlock(&coherent_lock);
	if (!rec)
		return -ENOENT;
	if (rec->phys != handle || rec->npages != npages) {
		ik_err("dma: %s: free_coherent of %p with dma %#llx and %zu pages, allocated as "
		       "%#llx and %zu pages",
		       dev->name, cpu_addr, (unsigned long long)handle, npages,
		       (unsigned long long)rec->phys, rec->npages);
		return -ENOENT;
	}
	ik_mem_free_pages(ik_machine_mem(dev->machine), rec->phys, rec->npages);
	free(rec);
	return 0;
}

const struct ik_dma_map_ops ik_dma_direct_ops = {
	.name = "direct",
	.map_phys = direct_map_phys,
	.unmap_phys = direct_unmap_phys,
	.map_sg = direct_map_sg,
	.unmap_sg = direct_unmap_sg,
	.to_phys = direct_to_phys,
	.alloc = direct_alloc,
	.free = direct_free,
};
