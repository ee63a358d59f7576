/* SPDX-License-Identifier: MIT */
/*
 * iommukit/iommu.h - the generic IOMMU API.
 *
 * The names, signatures and return conventions follow Linux's
 * <linux/iommu.h> (6.x). The library exports every function with an "ik_"
 * prefix so that a program linking another library with iommu_* symbols
 * still links; unless IOMMUKIT_NO_LINUX_NAMES is defined before inclusion,
 * this header maps the Linux names onto them (as liburcu maps rcu_* onto its
 * flavoured symbols). docs/API.md lists where we deviate from Linux.
 *
 * Errors: functions returning int give 0 or a negative errno; functions
 * returning a pointer give NULL and set errno; functions returning a size
 * give the bytes done and set errno when that is less than asked.
 */
#ifndef IOMMUKIT_IOMMU_H
#define IOMMUKIT_IOMMU_H

#include <iommukit/types.h>
#include <iommukit/scatterlist.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bus_type;
struct device;
struct iommu_domain;
struct iommu_group;

/* Mapping permissions and attributes (the prot argument of iommu_map). */
#define IOMMU_READ   (1 << 0)
#define IOMMU_WRITE  (1 << 1)
#define IOMMU_CACHE  (1 << 2) /* cache-coherent (snooped) access */
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO   (1 << 4) /* device memory, not normal memory */
#define IOMMU_PRIV   (1 << 5) /* privileged (supervisor) accesses only */
#define IOMMU_PROT_MASK \
	(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV)

/* Domain types, as Linux's __IOMMU_DOMAIN_* compositions. */
#define __IOMMU_DOMAIN_PAGING  (1U << 0) /* supports iommu_map/unmap */
#define __IOMMU_DOMAIN_DMA_API (1U << 1) /* owned by the dma-mapping layer */
#define __IOMMU_DOMAIN_PT      (1U << 2) /* identity (pass-through) */
#define __IOMMU_DOMAIN_DMA_FQ  (1U << 3) /* DMA API with a flush queue (lazy) */
#define IOMMU_DOMAIN_BLOCKED   (0U)
#define IOMMU_DOMAIN_IDENTITY  (__IOMMU_DOMAIN_PT)
#define IOMMU_DOMAIN_UNMANAGED (__IOMMU_DOMAIN_PAGING)
#define IOMMU_DOMAIN_DMA       (__IOMMU_DOMAIN_PAGING | __IOMMU_DOMAIN_DMA_API)
#define IOMMU_DOMAIN_DMA_FQ    (__IOMMU_DOMAIN_PAGING | __IOMMU_DOMAIN_DMA_API | \
				__IOMMU_DOMAIN_DMA_FQ)

/* Fault flags passed to fault handlers. Bit 0 is Linux's. */
#define IOMMU_FAULT_READ  0x0
#define IOMMU_FAULT_WRITE 0x1
/*
 * iommukit extension: what kind of fault the hardware reported, in bits
 * 8 and up, so one handler can tell a missing mapping from a permission
 * violation. Hardware that cannot tell the direction reports READ.
 */
#define IK_FAULT_TRANSLATION (1 << 8)  /* no valid mapping */
#define IK_FAULT_PERMISSION  (1 << 9)  /* mapping forbids this access */
#define IK_FAULT_TLB_MISS    (1 << 10) /* TLB miss with table walk off */
#define IK_FAULT_TABLE_WALK  (1 << 11) /* walker hit a bad table entry */
#define IK_FAULT_MULTI_HIT   (1 << 12) /* several TLB entries matched */
#define IK_FAULT_ACCESS_FLAG (1 << 13) /* descriptor's access flag clear */
#define IK_FAULT_EXEC        (1 << 14) /* instruction fetch */
#define IK_FAULT_PRIV        (1 << 15) /* privileged access */

/**
 * iommu_fault_handler_t - a domain's fault handler
 * @domain: the domain the faulting device is attached to
 * @dev: the device whose access faulted
 * @iova: the faulting device address
 * @flags: IOMMU_FAULT_READ/WRITE ORed with IK_FAULT_* bits
 * @token: the token given to iommu_set_fault_handler()
 *
 * Runs in the context of the faulting DMA access, with no iommukit lock
 * held, so it may call iommu_map() and iommu_unmap(). Return 0 if the
 * fault was handled, or a negative errno; the faulting access is aborted
 * either way (the device may retry it).
 */
typedef int (*iommu_fault_handler_t)(struct iommu_domain *domain,
				     struct device *dev, dma_addr_t iova,
				     int flags, void *token);

/* The device-address window a domain can map. */
struct iommu_domain_geometry {
	dma_addr_t aperture_start; /* first address that can be mapped */
	dma_addr_t aperture_end;   /* last address that can be mapped */
	bool force_aperture;       /* DMA only inside the aperture */
};

/* Capabilities a device's IOMMU may have (device_iommu_capable()). */
enum iommu_cap {
	IOMMU_CAP_CACHE_COHERENCY, /* IOMMU_CACHE is honoured */
	IOMMU_CAP_NOEXEC,          /* IOMMU_NOEXEC is honoured */
	IK_CAP_PERMISSIONS,        /* read/write permissions are enforced */
	IK_CAP_PRIV,               /* IOMMU_PRIV is honoured */
	IK_CAP_SOURCE_ID,          /* transactions are told apart by source ID */
};

/*
 * Gathers what an unmap removed so that one IOTLB invalidation covers it:
 * the address range (inclusive end), the page size, and the page-table
 * pages that became unused, which are freed only after that invalidation.
 * Initialise with iommu_iotlb_gather_init(). Private fields are for the
 * core and the drivers.
 */
struct iommu_iotlb_gather {
	dma_addr_t start;
	dma_addr_t end;
	size_t pgsize;
	struct {
		phys_addr_t head; /* first page, linked through page metadata */
		size_t count;
	} freelist;
	bool queued; /* a flush queue owns the invalidation */
};

/* --- domains --- */
IK_API struct iommu_domain *ik_iommu_domain_alloc(const struct bus_type *bus);
IK_API struct iommu_domain *ik_iommu_paging_domain_alloc(struct device *dev);
IK_API struct iommu_domain *ik_iommu_domain_alloc_type(struct device *dev,
						       unsigned int type);
IK_API void ik_iommu_domain_free(struct iommu_domain *domain);
IK_API unsigned int ik_iommu_domain_type(const struct iommu_domain *domain);
IK_API unsigned long ik_iommu_domain_pgsize_bitmap(const struct iommu_domain *domain);
IK_API const struct iommu_domain_geometry *
ik_iommu_domain_get_geometry(const struct iommu_domain *domain);

/* --- attaching devices and groups --- */
IK_API int ik_iommu_attach_device(struct iommu_domain *domain, struct device *dev);
IK_API void ik_iommu_detach_device(struct iommu_domain *domain, struct device *dev);
IK_API int ik_iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group);
IK_API void ik_iommu_detach_group(struct iommu_domain *domain, struct iommu_group *group);
IK_API struct iommu_domain *ik_iommu_get_domain_for_dev(struct device *dev);

/* --- groups --- */
IK_API struct iommu_group *ik_iommu_group_get(struct device *dev);
IK_API void ik_iommu_group_put(struct iommu_group *group);
IK_API int ik_iommu_group_id(const struct iommu_group *group);
IK_API int ik_iommu_group_for_each_dev(struct iommu_group *group, void *data,
				       int (*fn)(struct device *dev, void *data));

/* --- mapping --- */
IK_API int ik_iommu_map(struct iommu_domain *domain, dma_addr_t iova,
			phys_addr_t paddr, size_t size, int prot, gfp_t gfp);
IK_API size_t ik_iommu_unmap(struct iommu_domain *domain, dma_addr_t iova, size_t size);
IK_API size_t ik_iommu_unmap_fast(struct iommu_domain *domain, dma_addr_t iova,
				  size_t size, struct iommu_iotlb_gather *gather);
IK_API ssize_t ik_iommu_map_sg(struct iommu_domain *domain, dma_addr_t iova,
			       struct scatterlist *sg, unsigned int nents, int prot,
			       gfp_t gfp);
IK_API phys_addr_t ik_iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova);

/* --- IOTLB maintenance --- */
IK_API void ik_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather);
IK_API void ik_iommu_iotlb_sync(struct iommu_domain *domain,
				struct iommu_iotlb_gather *gather);
IK_API void ik_iommu_flush_iotlb_all(struct iommu_domain *domain);

/* --- faults --- */
IK_API void ik_iommu_set_fault_handler(struct iommu_domain *domain,
				       iommu_fault_handler_t handler, void *token);
IK_API int ik_report_iommu_fault(struct iommu_domain *domain, struct device *dev,
				 dma_addr_t iova, int flags);

/* --- capabilities --- */
IK_API bool ik_device_iommu_capable(struct device *dev, enum iommu_cap cap);
IK_API bool ik_device_iommu_mapped(struct device *dev);

/*
 * iommukit extension: call @fn once per leaf mapping of @domain in IOVA
 * order (a large page is one call), as its page tables hold it; @desc names
 * the descriptor type. Stops when @fn returns non-zero and returns that.
 * -EINVAL for a NULL argument, -EOPNOTSUPP if the driver cannot list.
 */
typedef int (*ik_mapping_fn)(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
			     const char *desc);
IK_API int ik_iommu_domain_for_each_mapping(struct iommu_domain *domain, ik_mapping_fn fn,
					    void *arg);

/*
 * Library diagnostics (for example a fault with no handler) go to this
 * function; the default writes them to stderr. Pass NULL to restore it.
 */
enum ik_log_level { IK_LOG_ERR, IK_LOG_WARN, IK_LOG_INFO, IK_LOG_DEBUG };
typedef void (*ik_log_fn)(enum ik_log_level level, const char *msg, void *arg);
IK_API void ik_set_log_fn(ik_log_fn fn, void *arg);

#ifndef IOMMUKIT_NO_LINUX_NAMES
#define iommu_domain_alloc         ik_iommu_domain_alloc
#define iommu_paging_domain_alloc  ik_iommu_paging_domain_alloc
#define iommu_domain_alloc_type    ik_iommu_domain_alloc_type
#define iommu_domain_free          ik_iommu_domain_free
#define iommu_domain_type          ik_iommu_domain_type
#define iommu_domain_pgsize_bitmap ik_iommu_domain_pgsize_bitmap
#define iommu_domain_get_geometry  ik_iommu_domain_get_geometry
#define iommu_attach_device        ik_iommu_attach_device
#define iommu_detach_device        ik_iommu_detach_device
#define iommu_attach_group         ik_iommu_attach_group
#define iommu_detach_group         ik_iommu_detach_group
#define iommu_get_domain_for_dev   ik_iommu_get_domain_for_dev
#define iommu_group_get            ik_iommu_group_get
#define iommu_group_put            ik_iommu_group_put
#define iommu_group_id             ik_iommu_group_id
#define iommu_group_for_each_dev   ik_iommu_group_for_each_dev
#define iommu_map                  ik_iommu_map
#define iommu_unmap                ik_iommu_unmap
#define iommu_unmap_fast           ik_iommu_unmap_fast
#define iommu_map_sg               ik_iommu_map_sg
#define iommu_iova_to_phys         ik_iommu_iova_to_phys
#define iommu_iotlb_gather_init    ik_iommu_iotlb_gather_init
#define iommu_iotlb_sync           ik_iommu_iotlb_sync
#define iommu_flush_iotlb_all      ik_iommu_flush_iotlb_all
#define iommu_set_fault_handler    ik_iommu_set_fault_handler
#define report_iommu_fault         ik_report_iommu_fault
#define device_iommu_capable       ik_device_iommu_capable
#define device_iommu_mapped        ik_device_iommu_mapped
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_IOMMU_H */
