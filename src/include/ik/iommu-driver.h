/* SPDX-License-Identifier: MIT */
/*
 * The interface between the generic IOMMU core and IOMMU drivers.
 *
 * As in Linux, a driver has two ops tables: struct iommu_ops for the IOMMU
 * instance (probe a device, allocate a domain, choose a group) and struct
 * iommu_domain_ops for an address space (attach, map/unmap pages, IOTLB
 * maintenance, iova_to_phys, free). The core owns argument checking,
 * page-size splitting, rollback of partial maps, groups and fault dispatch;
 * a driver only ever sees "map @pgcount pages of @pgsize".
 */
#ifndef IK_IOMMU_DRIVER_H
#define IK_IOMMU_DRIVER_H

#include <pthread.h>
#include <iommukit/iommu.h>
#include "ik/list.h"
#include "ik/machine.h"

struct iommu_domain_ops;

/* One IOMMU instance, embedded in the driver's own structure. */
struct iommu_device {
	struct list_head node; /* on bus->iommus */
	const struct iommu_ops *ops;
	struct bus_type *bus;
	struct ik_machine *machine;
	const char *name;
	struct list_head devices; /* probed devices (device.iommu_node), core-owned */
	pthread_mutex_t devices_lock;
};

struct iommu_ops {
	const char *name;
	bool (*capable)(struct device *dev, enum iommu_cap cap);
	/* Allocate a domain of @type for devices behind @iommu; NULL: unsupported. */
	struct iommu_domain *(*domain_alloc)(struct iommu_device *iommu, unsigned int type);
	/* Take @dev under this instance: 0, or a negative errno. */
	int (*probe_device)(struct iommu_device *iommu, struct device *dev);
	void (*release_device)(struct device *dev);
	/*
	 * The group @dev belongs in: an existing one (with a reference taken
	 * by iommu_group_ref()) or a new one from iommu_group_alloc().
	 */
	struct iommu_group *(*device_group)(struct device *dev);
	unsigned long pgsize_bitmap; /* every page size the hardware can map */
};

struct iommu_domain_ops {
	int (*attach_dev)(struct iommu_domain *domain, struct device *dev);
	void (*detach_dev)(struct iommu_domain *domain, struct device *dev);
	/*
	 * Map @pgcount pages of @pgsize (a bit of pgsize_bitmap) at @iova,
	 * which the core has checked for alignment and range. Set *mapped to
	 * the bytes mapped, even on failure, so the core can roll them back.
	 * -EEXIST if any page is already mapped (nothing past it is touched).
	 */
	int (*map_pages)(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr,
			 size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped);
	/*
	 * Unmap up to @pgcount pages of @pgsize at @iova. A leaf larger than
	 * @pgsize is split (only what was asked goes). Returns the bytes
	 * unmapped, or a negative errno if not even the first page could be:
	 * -ENOENT when it is not mapped, -ENOMEM when a split could not
	 * allocate (the block stays intact). What was unmapped is added to
	 * @gather (range and page-table pages to free).
	 */
	long (*unmap_pages)(struct iommu_domain *domain, dma_addr_t iova, size_t pgsize,
			    size_t pgcount, struct iommu_iotlb_gather *gather);
	/* Make new mappings visible to the hardware (caching-mode IOMMUs). */
	int (*iotlb_sync_map)(struct iommu_domain *domain, dma_addr_t iova, size_t size);
	/* Invalidate what @gather collected; the core frees its pages after. */
	void (*iotlb_sync)(struct iommu_domain *domain, struct iommu_iotlb_gather *gather);
	void (*flush_iotlb_all)(struct iommu_domain *domain);
	phys_addr_t (*iova_to_phys)(struct iommu_domain *domain, dma_addr_t iova);
	/* Print the page tables: one call of @emit per leaf (see pgtable dump). */
	int (*dump)(struct iommu_domain *domain, void *arg,
		    int (*emit)(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size,
				int prot, const char *desc));
	void (*free)(struct iommu_domain *domain);
};

/*
 * Domain flags set by the driver at allocation.
 * IK_DOMAIN_F_WHOLE_RANGES: the driver maps whole ranges itself (VFIO: the
 * kernel splits); the core passes a map or unmap as one map_pages call of
 * the smallest page size, never splits, and unmaps must match maps.
 */
#define IK_DOMAIN_F_WHOLE_RANGES (1u << 0)

/* The driver embeds this and fills ops, pgsize_bitmap and geometry. */
struct iommu_domain {
	unsigned int type;
	unsigned int flags;
	const struct iommu_domain_ops *ops;
	struct iommu_device *iommu; /* the instance it was allocated for */
	unsigned long pgsize_bitmap;
	struct iommu_domain_geometry geometry;
	iommu_fault_handler_t handler;
	void *handler_token;
	/* core-private */
	struct ik_mem *mem;      /* where its page tables live */
	unsigned long min_pagesz; /* smallest page in pgsize_bitmap */
	unsigned int attach_count; /* groups attached, under the core's lock */
	/* dma-mapping state of a DMA domain (src/dma), released at domain free */
	void *dma_cookie;
	void (*put_dma_cookie)(struct iommu_domain *domain);
};

struct iommu_group {
	int id;
	int refcount; /* under lock */
	pthread_mutex_t lock;
	struct list_head devices; /* struct device.group_node */
	unsigned int nr_devices;
	struct iommu_domain *domain; /* attached domain, or NULL */
	struct bus_type *bus;
};

/* --- for drivers --- */
int iommu_device_register(struct iommu_device *iommu, const struct iommu_ops *ops,
			  struct ik_machine *m, const char *name);
void iommu_device_unregister(struct iommu_device *iommu);

struct iommu_group *iommu_group_alloc(struct bus_type *bus);
struct iommu_group *iommu_group_ref(struct iommu_group *group);
/* The group of the device behind the same IOMMU with a matching source ID. */
struct iommu_group *generic_device_group(struct device *dev);

/* Called by the core on every device of a machine after the drivers probed. */
int iommu_probe_device(struct device *dev);
void iommu_release_device(struct device *dev);

/*
 * Add [iova, iova + size) to @gather. If it cannot be merged (different
 * page size or not adjacent), the pending range is synced first, as Linux's
 * iommu_iotlb_gather_add_page() does.
 */
void iommu_iotlb_gather_add_page(struct iommu_domain *domain,
				 struct iommu_iotlb_gather *gather,
				 dma_addr_t iova, size_t size);
/* Queue a page-table page to be freed once @gather is synced. */
void iommu_pages_list_add(struct ik_mem *mem, struct iommu_iotlb_gather *gather,
			  phys_addr_t table);
/* Free every page on @gather's freelist (after the invalidation). */
void iommu_put_pages_list(struct ik_mem *mem, struct iommu_iotlb_gather *gather);

/*
 * Choose the largest page size from @pgsize_bitmap that @iova and @paddr
 * are both aligned to and that fits in @size, and how many such pages to
 * map before a larger size becomes usable. Returns the size; *count gets
 * the number of pages. @size must be at least the smallest page.
 */
size_t iommu_pgsize(unsigned long pgsize_bitmap, dma_addr_t iova, phys_addr_t paddr,
		    size_t size, size_t *count);

#endif /* IK_IOMMU_DRIVER_H */
