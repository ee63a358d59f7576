/* SPDX-License-Identifier: MIT */
/*
 * iommukit/dma-mapping.h - the DMA mapping API, on top of the IOMMU API.
 *
 * Linux's <linux/dma-mapping.h> names, signatures and return conventions:
 * dma_map_page/dma_map_single return an address tested with
 * dma_mapping_error(); dma_map_sg returns the number of DMA segments or 0.
 * Each device gets its dma_map_ops chosen at run time: IOMMU-backed when it
 * sits behind an IOMMU and its group is attached to a DMA domain
 * (IOMMU_DOMAIN_DMA: strict invalidation; IOMMU_DOMAIN_DMA_FQ: lazy, through
 * a flush queue), direct otherwise. Callers never see which.
 *
 * Deviations from Linux (docs/API.md): there is no struct page, so
 * dma_map_page takes the physical address of the page; errno is set when a
 * mapping fails; the dma-debug checks can be switched at run time.
 */
#ifndef IOMMUKIT_DMA_MAPPING_H
#define IOMMUKIT_DMA_MAPPING_H

#include <iommukit/types.h>
#include <iommukit/scatterlist.h>

#ifdef __cplusplus
extern "C" {
#endif

struct device;
struct iommu_domain;

enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

#define DMA_MAPPING_ERROR (~(dma_addr_t)0)
#define DMA_BIT_MASK(n) (((n) >= 64) ? ~0ULL : ((1ULL << (n)) - 1))

/* Attributes (the attrs argument of the *_attrs calls). */
#define DMA_ATTR_SKIP_CPU_SYNC (1UL << 5)

/* --- device limits --- */
IK_API int ik_dma_set_mask(struct device *dev, uint64_t mask);
IK_API int ik_dma_set_coherent_mask(struct device *dev, uint64_t mask);
IK_API int ik_dma_set_mask_and_coherent(struct device *dev, uint64_t mask);
IK_API uint64_t ik_dma_get_mask(struct device *dev);
IK_API int ik_dma_set_max_seg_size(struct device *dev, unsigned int size);
IK_API int ik_dma_set_seg_boundary(struct device *dev, unsigned long mask);

/*
 * iommukit extension: the device-address window of an IOMMU_DOMAIN_DMA or
 * _DMA_FQ domain, as Linux's arm_iommu_create_mapping(bus, base, size):
 * the domain's IOVAs and its aperture become [base, base + size). Call it
 * before the DMA API first uses the domain. 0, -EINVAL (not a DMA domain,
 * misaligned, empty), -ERANGE (outside the aperture), -EBUSY (in use).
 */
IK_API int ik_iommu_dma_set_window(struct iommu_domain *domain, dma_addr_t base,
				   uint64_t size);

/* --- streaming mappings --- */
IK_API dma_addr_t ik_dma_map_page_attrs(struct device *dev, phys_addr_t page, size_t offset,
					size_t size, enum dma_data_direction dir,
					unsigned long attrs);
IK_API void ik_dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
				    enum dma_data_direction dir, unsigned long attrs);
/* @cpu_addr is a CPU pointer into the machine's RAM (ik_mem_ptr, dma_alloc_coherent...). */
IK_API dma_addr_t ik_dma_map_single_attrs(struct device *dev, void *cpu_addr, size_t size,
					  enum dma_data_direction dir, unsigned long attrs);
IK_API void ik_dma_unmap_single_attrs(struct device *dev, dma_addr_t addr, size_t size,
				      enum dma_data_direction dir, unsigned long attrs);
IK_API int ik_dma_map_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
			       enum dma_data_direction dir, unsigned long attrs);
IK_API void ik_dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
				  enum dma_data_direction dir, unsigned long attrs);
IK_API int ik_dma_mapping_error(struct device *dev, dma_addr_t addr);

/* --- ownership transfers (cache maintenance on non-coherent machines) --- */
IK_API void ik_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size,
				       enum dma_data_direction dir);
IK_API void ik_dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
					  enum dma_data_direction dir);
IK_API void ik_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg, int nents,
				   enum dma_data_direction dir);
IK_API void ik_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg, int nents,
				      enum dma_data_direction dir);

/* --- coherent allocations --- */
/*
 * Returns a CPU pointer to @size zeroed bytes, contiguous for the CPU and at
 * *@dma_handle for the device, below the coherent mask; NULL with errno.
 */
IK_API void *ik_dma_alloc_coherent(struct device *dev, size_t size, dma_addr_t *dma_handle,
				   gfp_t gfp);
IK_API void ik_dma_free_coherent(struct device *dev, size_t size, void *cpu_addr,
				 dma_addr_t dma_handle);

/* --- dma-debug (iommukit extension) --- */
struct ik_dma_debug_stats {
	uint64_t errors;          /* every check that failed */
	uint64_t leaked;          /* mappings still live at detach/exit checks */
	uint64_t bad_unmap;       /* unmap of nothing, wrong size or wrong direction */
	uint64_t bad_sync;        /* sync outside a mapping or in the wrong direction */
	uint64_t use_after_unmap; /* CPU access to a buffer after its unmap */
	uint64_t live_mappings;   /* currently tracked */
	uint64_t cpu_device_owned; /* CPU access to a buffer a device owns (mapped, not synced back) */
};
IK_API void ik_dma_debug_set_enabled(bool on);
IK_API bool ik_dma_debug_enabled(void);
IK_API void ik_dma_debug_get_stats(struct ik_dma_debug_stats *stats);
IK_API void ik_dma_debug_reset_stats(void);
/* Report (and count as leaked) every mapping @dev still holds; returns how many. */
IK_API unsigned int ik_dma_debug_check_leaks(struct device *dev);

#ifndef IOMMUKIT_NO_LINUX_NAMES
#define dma_set_mask                ik_dma_set_mask
#define dma_set_coherent_mask       ik_dma_set_coherent_mask
#define dma_set_mask_and_coherent   ik_dma_set_mask_and_coherent
#define dma_get_mask                ik_dma_get_mask
#define dma_set_max_seg_size        ik_dma_set_max_seg_size
#define dma_set_seg_boundary        ik_dma_set_seg_boundary
#define dma_map_page_attrs          ik_dma_map_page_attrs
#define dma_unmap_page_attrs        ik_dma_unmap_page_attrs
#define dma_map_single_attrs        ik_dma_map_single_attrs
#define dma_unmap_single_attrs      ik_dma_unmap_single_attrs
#define dma_map_sg_attrs            ik_dma_map_sg_attrs
#define dma_unmap_sg_attrs          ik_dma_unmap_sg_attrs
#define dma_mapping_error           ik_dma_mapping_error
#define dma_sync_single_for_cpu     ik_dma_sync_single_for_cpu
#define dma_sync_single_for_device  ik_dma_sync_single_for_device
#define dma_sync_sg_for_cpu         ik_dma_sync_sg_for_cpu
#define dma_sync_sg_for_device      ik_dma_sync_sg_for_device
#define dma_alloc_coherent          ik_dma_alloc_coherent
#define dma_free_coherent           ik_dma_free_coherent
#define dma_map_page(d, p, o, s, r)   ik_dma_map_page_attrs(d, p, o, s, r, 0)
#define dma_unmap_page(d, a, s, r)    ik_dma_unmap_page_attrs(d, a, s, r, 0)
#define dma_map_single(d, p, s, r)    ik_dma_map_single_attrs(d, p, s, r, 0)
#define dma_unmap_single(d, a, s, r)  ik_dma_unmap_single_attrs(d, a, s, r, 0)
#define dma_map_sg(d, sg, n, r)       ik_dma_map_sg_attrs(d, sg, n, r, 0)
#define dma_unmap_sg(d, sg, n, r)     ik_dma_unmap_sg_attrs(d, sg, n, r, 0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_DMA_MAPPING_H */
