// SPDX-License-Identifier: MIT
/*
 * The generic IOMMU core: IOMMU instances, groups, domains, and the
 * map/unmap paths every driver shares. The core checks every argument,
 * splits requests into the largest pages the driver's pgsize_bitmap and
 * the alignment allow, rolls back partial maps, gathers unmaps into one
 * IOTLB invalidation and frees page-table pages only after it, and routes
 * faults to the domain's handler.
 *
 * Locking: group->lock serialises attach/detach of a group's devices.
 * Map and unmap take no core lock: drivers and page-table formats are safe
 * for concurrent calls on disjoint ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/iommu-driver.h"
#include "ik/log.h"
#include "ik/machine.h"

/* --- IOMMU instances --- */

int iommu_device_register(struct iommu_device *iommu, const struct iommu_ops *ops,
			  struct ik_machine *m, const char *name)
{
	if (!iommu || !ops || !m || !ops->domain_alloc || !ops->probe_device)
		return -EINVAL;
	struct bus_type *bus = ik_machine_bus(m);
	iommu->ops = ops;
	iommu->bus = bus;
	iommu->machine = m;
	iommu->name = name;
	INIT_LIST_HEAD(&iommu->devices);
	pthread_mutex_init(&iommu->devices_lock, NULL);
	pthread_mutex_lock(&bus->iommus_lock);
	list_add_tail(&iommu->node, &bus->iommus);
	pthread_mutex_unlock(&bus->iommus_lock);
	return 0;
}

void iommu_device_unregister(struct iommu_device *iommu)
{
	if (!iommu || !iommu->bus)
		return;
	pthread_mutex_lock(&iommu->bus->iommus_lock);
	list_del_init(&iommu->node);
	pthread_mutex_unlock(&iommu->bus->iommus_lock);
	pthread_mutex_destroy(&iommu->devices_lock);
	iommu->bus = NULL;
}

/* --- groups --- */

struct iommu_group *iommu_group_alloc(struct bus_type *bus)
{
	struct iommu_group *group = calloc(1, sizeof(*group));
	if (!group)
		return NULL;
	pthread_mutex_init(&group->lock, NULL);
	INIT_LIST_HEAD(&group->devices);
	group->refcount = 1;
	group->bus = bus;
	group->id = __atomic_fetch_add(&bus->next_group_id, 1, __ATOMIC_RELAXED);
	return group;
}

struct iommu_group *iommu_group_ref(struct iommu_group *group)
{
	__atomic_fetch_add(&group->refcount, 1, __ATOMIC_RELAXED);
	return group;
}

void ik_iommu_group_put(struct iommu_group *group)
{
	if (!group)
		return;
	if (__atomic_sub_fetch(&group->refcount, 1, __ATOMIC_ACQ_REL) == 0) {
		pthread_mutex_destroy(&group->lock);
		free(group);
	}
}

struct iommu_group *ik_iommu_group_get(struct device *dev)
{
	if (!dev || !dev->iommu_group) {
		errno = ENODEV;
		return NULL;
	}
	return iommu_group_ref(dev->iommu_group);
}

int ik_iommu_group_id(const struct iommu_group *group)
{
	return group ? group->id : -EINVAL;
}

int ik_iommu_group_for_each_dev(struct iommu_group *group, void *data,
				int (*fn)(struct device *dev, void *data))
{
	struct device *dev;
	int ret = 0;

	if (!group || !fn)
		return -EINVAL;
	pthread_mutex_lock(&group->lock);
	list_for_each_entry(dev, &group->devices, group_node) {
		ret = fn(dev, data);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&group->lock);
	return ret;
}

/*
 * Devices behind one IOMMU that present the same source ID cannot be told
 * apart by it, so they must share a group; others get their own.
 */
struct iommu_group *generic_device_group(struct device *dev)
{
	struct iommu_device *iommu = dev->iommu;
	struct iommu_group *group = NULL;
	struct device *other;

	pthread_mutex_lock(&iommu->devices_lock);
	list_for_each_entry(other, &iommu->devices, iommu_node) {
		for (unsigned int i = 0; i < other->nr_sids && !group; i++)
			for (unsigned int j = 0; j < dev->nr_sids; j++)
				if (other->sids[i] == dev->sids[j] && other->iommu_group) {
					group = iommu_group_ref(other->iommu_group);
					break;
				}
		if (group)
			break;
	}
	pthread_mutex_unlock(&iommu->devices_lock);
	return group ? group : iommu_group_alloc(dev->bus);
}

int iommu_probe_device(struct device *dev)
{
	struct iommu_device *iommu = dev ? dev->iommu : NULL;
	int ret;

	if (!iommu)
		return -ENODEV;
	if (dev->iommu_group)
		return -EEXIST;
	ret = iommu->ops->probe_device(iommu, dev);
	if (ret)
		return ret;
	struct iommu_group *group = iommu->ops->device_group ?
		iommu->ops->device_group(dev) : generic_device_group(dev);
	if (!group) {
		if (iommu->ops->release_device)
			iommu->ops->release_device(dev);
		return -ENOMEM;
	}
	pthread_mutex_lock(&group->lock);
	list_add_tail(&dev->group_node, &group->devices);
	group->nr_devices++;
	dev->iommu_group = group; /* the device owns the reference */
	pthread_mutex_unlock(&group->lock);

	pthread_mutex_lock(&iommu->devices_lock);
	list_add_tail(&dev->iommu_node, &iommu->devices);
	pthread_mutex_unlock(&iommu->devices_lock);
	return 0;
}

void iommu_release_device(struct device *dev)
{
	struct iommu_group *group = dev ? dev->iommu_group : NULL;
	struct iommu_device *iommu = dev ? dev->iommu : NULL;

	if (!group || !iommu)
		return;
	pthread_mutex_lock(&group->lock);
	if (group->domain) {
		ik_warn("%s: released while attached to a domain; detaching", dev->name);
		group->domain->ops->detach_dev(group->domain, dev);
		if (group->nr_devices == 1) {
			__atomic_fetch_sub(&group->domain->attach_count, 1, __ATOMIC_RELAXED);
			group->domain = NULL;
		}
	}
	list_del_init(&dev->group_node);
	group->nr_devices--;
	dev->iommu_group = NULL;
	pthread_mutex_unlock(&group->lock);

	pthread_mutex_lock(&iommu->devices_lock);
	list_del_init(&dev->iommu_node);
	pthread_mutex_unlock(&iommu->devices_lock);

	if (iommu->ops->release_device)
		iommu->ops->release_device(dev);
	ik_iommu_group_put(group);
}

/* --- domains --- */

static bool domain_type_valid(unsigned int type)
{
	return type == IOMMU_DOMAIN_BLOCKED || type == IOMMU_DOMAIN_IDENTITY ||
	       type == IOMMU_DOMAIN_UNMANAGED || type == IOMMU_DOMAIN_DMA ||
	       type == IOMMU_DOMAIN_DMA_FQ;
}

static struct iommu_domain *domain_alloc(struct iommu_device *iommu, unsigned int type)
{
	if (!domain_type_valid(type)) {
		errno = EINVAL;
		return NULL;
	}
	/* Lazy or strict invalidation is the DMA layer's business, not the driver's. */
	unsigned int drv_type = type == IOMMU_DOMAIN_DMA_FQ ? IOMMU_DOMAIN_DMA : type;
	struct iommu_domain *domain = iommu->ops->domain_alloc(iommu, drv_type);
	if (!domain) {
		if (!errno)
			errno = EOPNOTSUPP;
		return NULL;
	}
	domain->type = type;
	domain->iommu = iommu;
	domain->mem = ik_machine_mem(iommu->machine);
	domain->handler = NULL;
	domain->handler_token = NULL;
	domain->attach_count = 0;
	domain->dma_cookie = NULL;
	domain->put_dma_cookie = NULL;
	if ((type & __IOMMU_DOMAIN_PAGING) && !domain->pgsize_bitmap) {
		ik_err("%s: paging domain without page sizes", iommu->name);
		domain->ops->free(domain);
		errno = EINVAL;
		return NULL;
	}
	domain->min_pagesz = domain->pgsize_bitmap ? 1UL << ik_ffs64(domain->pgsize_bitmap) : 0;
	return domain;
}

struct iommu_domain *ik_iommu_domain_alloc(const struct bus_type *bus)
{
	struct iommu_device *iommu = NULL;

	if (!bus) {
		errno = EINVAL;
		return NULL;
	}
	/* The first IOMMU on the bus decides, as Linux does for a bus. */
	pthread_mutex_lock((pthread_mutex_t *)&bus->iommus_lock);
	if (!list_empty(&bus->iommus))
		iommu = list_entry(bus->iommus.next, struct iommu_device, node);
	pthread_mutex_unlock((pthread_mutex_t *)&bus->iommus_lock);
	if (!iommu) {
		errno = ENODEV;
		return NULL;
	}
	return domain_alloc(iommu, IOMMU_DOMAIN_UNMANAGED);
}

struct iommu_domain *ik_iommu_domain_alloc_type(struct device *dev, unsigned int type)
{
	if (!dev) {
		errno = EINVAL;
		return NULL;
	}
	if (!dev->iommu) {
		errno = ENODEV;
		return NULL;
	}
	return domain_alloc(dev->iommu, type);
}

struct iommu_domain *ik_iommu_paging_domain_alloc(struct device *dev)
{
	return ik_iommu_domain_alloc_type(dev, IOMMU_DOMAIN_UNMANAGED);
}

void ik_iommu_domain_free(struct iommu_domain *domain)
{
	if (!domain)
		return;
	if (__atomic_load_n(&domain->attach_count, __ATOMIC_RELAXED)) {
		ik_err("iommu_domain_free: domain still attached to %u group(s); not freed",
		       domain->attach_count);
		return;
	}
	if (domain->put_dma_cookie)
		domain->put_dma_cookie(domain); /* drains a flush queue before tables go */
	domain->ops->free(domain);
}

unsigned int ik_iommu_domain_type(const struct iommu_domain *domain)
{
	return domain ? domain->type : IOMMU_DOMAIN_BLOCKED;
}

unsigned long ik_iommu_domain_pgsize_bitmap(const struct iommu_domain *domain)
{
	return domain ? domain->pgsize_bitmap : 0;
}

const struct iommu_domain_geometry *ik_iommu_domain_get_geometry(const struct iommu_domain *domain)
{
	return domain ? &domain->geometry : NULL;
}

/* --- attach / detach --- */

static int group_attach(struct iommu_domain *domain, struct iommu_group *group)
{
	struct device *dev, *failed = NULL;
	int ret = 0;

	if (group->domain)
		return group->domain == domain ? 0 : -EBUSY;
	list_for_each_entry(dev, &group->devices, group_node) {
		if (dev->iommu->ops != domain->iommu->ops)
			return -EINVAL; /* a domain serves one driver only */
	}
	list_for_each_entry(dev, &group->devices, group_node) {
		ret = domain->ops->attach_dev(domain, dev);
		if (ret) {
			failed = dev;
			break;
		}
	}
	if (failed) {
		list_for_each_entry(dev, &group->devices, group_node) {
			if (dev == failed)
				break;
			domain->ops->detach_dev(domain, dev);
		}
		return ret;
	}
	group->domain = domain;
	__atomic_fetch_add(&domain->attach_count, 1, __ATOMIC_RELAXED);
	return 0;
}

static int group_detach(struct iommu_domain *domain, struct iommu_group *group)
{
	struct device *dev;

	if (group->domain != domain)
		return -EINVAL;
	list_for_each_entry(dev, &group->devices, group_node) {
		if (domain->type & __IOMMU_DOMAIN_DMA_API)
			ik_dma_domain_detach_dev(domain, dev); /* dma-debug: mappings left behind */
		domain->ops->detach_dev(domain, dev);
	}
	group->domain = NULL;
	__atomic_fetch_sub(&domain->attach_count, 1, __ATOMIC_RELAXED);
	return 0;
}

int ik_iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	if (!domain || !group)
		return -EINVAL;
	pthread_mutex_lock(&group->lock);
	int ret = group->nr_devices ? group_attach(domain, group) : -ENODEV;
	pthread_mutex_unlock(&group->lock);
	return ret;
}

void ik_iommu_detach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	if (!domain || !group)
		return;
	pthread_mutex_lock(&group->lock);
	if (group_detach(domain, group))
		ik_warn("iommu_detach_group: group %d is not attached to that domain", group->id);
	pthread_mutex_unlock(&group->lock);
}

int ik_iommu_attach_device(struct iommu_domain *domain, struct device *dev)
{
	if (!domain || !dev)
		return -EINVAL;
	struct iommu_group *group = dev->iommu_group;
	if (!group)
		return -ENODEV;
	pthread_mutex_lock(&group->lock);
	/* Devices that share a group can only move together: attach the group. */
	int ret = group->nr_devices == 1 ? group_attach(domain, group) : -EINVAL;
	pthread_mutex_unlock(&group->lock);
	return ret;
}

void ik_iommu_detach_device(struct iommu_domain *domain, struct device *dev)
{
	if (!domain || !dev || !dev->iommu_group)
		return;
	struct iommu_group *group = dev->iommu_group;
	pthread_mutex_lock(&group->lock);
	if (group->nr_devices != 1)
		ik_warn("iommu_detach_device: %s shares its group; use iommu_detach_group",
			dev->name);
	else if (group_detach(domain, group))
		ik_warn("iommu_detach_device: %s is not attached to that domain", dev->name);
	pthread_mutex_unlock(&group->lock);
}

struct iommu_domain *ik_iommu_get_domain_for_dev(struct device *dev)
{
	if (!dev || !dev->iommu_group)
		return NULL;
	pthread_mutex_lock(&dev->iommu_group->lock);
	struct iommu_domain *domain = dev->iommu_group->domain;
	pthread_mutex_unlock(&dev->iommu_group->lock);
	return domain;
}

/* --- page-size splitting --- */

size_t iommu_pgsize(unsigned long pgsize_bitmap, dma_addr_t iova, phys_addr_t paddr,
		    size_t size, size_t *count)
{
	uint64_t addr_merge = iova | paddr;
	/* Sizes no larger than the request... */
	uint64_t sizes = pgsize_bitmap & GENMASK_ULL(ik_fls64(size), 0);
	/* ...that both addresses are aligned to. */
	if (addr_merge)
		sizes &= GENMASK_ULL(ik_ffs64(addr_merge), 0);
	unsigned int shift = ik_fls64(sizes);
	size_t pgsize = (size_t)1 << shift;
	size_t span = size;

	/*
	 * Stop this run of pages where the next larger size becomes usable:
	 * at its alignment boundary, if the rest still holds one such page
	 * and the two addresses can ever be aligned to it together.
	 */
	uint64_t larger = pgsize_bitmap & ~GENMASK_ULL(shift, 0);
	if (larger) {
		uint64_t next = 1ULL << ik_ffs64(larger);
		if (!((iova ^ paddr) & (next - 1))) {
			uint64_t to_boundary = next - (addr_merge & (next - 1));
			if (to_boundary + next <= size)
				span = to_boundary;
		}
	}
	*count = span >> shift;
	return pgsize;
}

/* --- map / unmap --- */

static inline unsigned long min_pagesz(const struct iommu_domain *domain)
{
	return domain->min_pagesz;
}

/*
 * The page size for the next run of a map or unmap. One page of a size the
 * hardware has, with both addresses aligned to it, is the common case of
 * per-page callers; it needs none of iommu_pgsize()'s work.
 */
static inline size_t next_pgsize(const struct iommu_domain *domain, dma_addr_t iova,
				 phys_addr_t paddr, size_t size, size_t *count)
{
	if (!(size & (size - 1)) && (domain->pgsize_bitmap & size) &&
	    !((iova | paddr) & (size - 1))) {
		*count = 1;
		return size;
	}
	return iommu_pgsize(domain->pgsize_bitmap, iova, paddr, size, count);
}

/* Common checks of a map or unmap request; 0 or a negative errno. */
static inline int check_range(const struct iommu_domain *domain, dma_addr_t iova, uint64_t paddr,
		       size_t size)
{
	if (!domain || !(domain->type & __IOMMU_DOMAIN_PAGING) || !domain->ops->map_pages)
		return -EINVAL;
	if (!size || !IS_ALIGNED(iova | paddr | size, min_pagesz(domain)))
		return -EINVAL;
	if (iova + size - 1 < iova)
		return -ERANGE;
	if (iova < domain->geometry.aperture_start || iova + size - 1 > domain->geometry.aperture_end)
		return -ERANGE;
	return 0;
}

static size_t unmap_range(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			  struct iommu_iotlb_gather *gather);

static int map_range(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr, size_t size,
		     int prot, gfp_t gfp, size_t *done)
{
	const struct iommu_domain_ops *ops = domain->ops;
	int ret = 0;

	*done = 0;
	if (domain->flags & IK_DOMAIN_F_WHOLE_RANGES) {
		unsigned long pg = min_pagesz(domain);
		return ops->map_pages(domain, iova, paddr, pg, size / pg, prot, gfp, done);
	}
	while (*done < size) {
		size_t count, mapped = 0;
		size_t pgsize = next_pgsize(domain, iova + *done, paddr + *done, size - *done,
					    &count);
		ret = ops->map_pages(domain, iova + *done, paddr + *done, pgsize, count, prot,
				     gfp, &mapped);
		*done += mapped;
		if (ret)
			break;
	}
	return ret;
}

int ik_iommu_map(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr, size_t size,
		 int prot, gfp_t gfp)
{
	size_t done;
	int ret = check_range(domain, iova, paddr, size);

	if (ret)
		return ret;
	if (prot & ~IOMMU_PROT_MASK)
		return -EINVAL;
	ret = map_range(domain, iova, paddr, size, prot, gfp, &done);
	if (!ret && domain->ops->iotlb_sync_map)
		ret = domain->ops->iotlb_sync_map(domain, iova, size);
	if (ret && done) {
		/* Leave nothing behind: undo what this call mapped. */
		struct iommu_iotlb_gather gather;
		ik_iommu_iotlb_gather_init(&gather);
		unmap_range(domain, iova, done, &gather);
		ik_iommu_iotlb_sync(domain, &gather);
	}
	return ret;
}

static size_t unmap_range(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			  struct iommu_iotlb_gather *gather)
{
	const struct iommu_domain_ops *ops = domain->ops;
	size_t unmapped = 0;

	if (domain->flags & IK_DOMAIN_F_WHOLE_RANGES) {
		unsigned long pg = min_pagesz(domain);
		long ret = ops->unmap_pages(domain, iova, pg, size / pg, gather);
		if (ret < 0) {
			errno = (int)-ret;
			return 0;
		}
		if ((size_t)ret < size)
			errno = ENOENT;
		return (size_t)ret;
	}
	while (unmapped < size) {
		size_t count;
		size_t pgsize = next_pgsize(domain, iova + unmapped, iova + unmapped,
					    size - unmapped, &count);
		long ret = ops->unmap_pages(domain, iova + unmapped, pgsize, count, gather);
		if (ret <= 0) {
			errno = ret < 0 ? (int)-ret : ENOENT;
			break;
		}
		unmapped += (size_t)ret;
	}
	return unmapped;
}

size_t ik_iommu_unmap_fast(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			   struct iommu_iotlb_gather *gather)
{
	int ret = check_range(domain, iova, 0, size);

	if (ret || !gather) {
		errno = ret ? -ret : EINVAL;
		return 0;
	}
	return unmap_range(domain, iova, size, gather);
}

size_t ik_iommu_unmap(struct iommu_domain *domain, dma_addr_t iova, size_t size)
{
	struct iommu_iotlb_gather gather;
	int ret = check_range(domain, iova, 0, size);

	if (ret) {
		errno = -ret;
		return 0;
	}
	ik_iommu_iotlb_gather_init(&gather);
	size_t unmapped = unmap_range(domain, iova, size, &gather);
	ik_iommu_iotlb_sync(domain, &gather);
	return unmapped;
}

ssize_t ik_iommu_map_sg(struct iommu_domain *domain, dma_addr_t iova, struct scatterlist *sg,
			unsigned int nents, int prot, gfp_t gfp)
{
	size_t mapped = 0, len = 0;
	phys_addr_t start = 0;
	int ret = 0;

	if (!domain || (!sg && nents))
		return -EINVAL;
	/* Physically contiguous entries are mapped in one go. */
	for (unsigned int i = 0; i <= nents; i++) {
		bool last = i == nents;
		if (!last && len && sg[i].phys == start + len) {
			len += sg[i].length;
			continue;
		}
		if (len) {
			ret = ik_iommu_map(domain, iova + mapped, start, len, prot, gfp);
			if (ret)
				break;
			mapped += len;
		}
		if (!last) {
			start = sg[i].phys;
			len = sg[i].length;
		}
	}
	if (ret) {
		if (mapped)
			ik_iommu_unmap(domain, iova, mapped);
		return ret;
	}
	return (ssize_t)mapped;
}

phys_addr_t ik_iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	if (!domain)
		return 0;
	if (domain->type == IOMMU_DOMAIN_IDENTITY)
		return iova;
	if (!(domain->type & __IOMMU_DOMAIN_PAGING) || !domain->ops->iova_to_phys)
		return 0;
	return domain->ops->iova_to_phys(domain, iova);
}

int ik_iommu_domain_for_each_mapping(struct iommu_domain *domain, ik_mapping_fn fn, void *arg)
{
	if (!domain || !fn)
		return -EINVAL;
	if (!(domain->type & __IOMMU_DOMAIN_PAGING) || !domain->ops->dump)
		return -EOPNOTSUPP;
	return domain->ops->dump(domain, arg, fn);
}

/* --- IOTLB maintenance --- */

void ik_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	gather->start = UINT64_MAX;
	gather->end = 0;
	gather->pgsize = 0;
	gather->freelist.head = 0;
	gather->freelist.count = 0;
	gather->queued = false;
}

static bool gather_empty(const struct iommu_iotlb_gather *gather)
{
	return gather->start > gather->end && !gather->freelist.count;
}

void ik_iommu_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	if (!domain || !gather || gather->queued || gather_empty(gather))
		return;
	if (domain->ops->iotlb_sync)
		domain->ops->iotlb_sync(domain, gather);
	else if (domain->ops->flush_iotlb_all)
		domain->ops->flush_iotlb_all(domain);
	/* Only now can the hardware no longer walk the freed tables. */
	iommu_put_pages_list(domain->mem, gather);
	ik_iommu_iotlb_gather_init(gather);
}

void iommu_iotlb_gather_add_page(struct iommu_domain *domain, struct iommu_iotlb_gather *gather,
				 dma_addr_t iova, size_t size)
{
	dma_addr_t end = iova + size - 1;

	/* One invalidation covers one page size over one contiguous range. */
	if (gather->pgsize && (gather->pgsize != size || end + 1 < gather->start ||
			       iova > gather->end + 1))
		ik_iommu_iotlb_sync(domain, gather);
	gather->pgsize = size;
	gather->start = ik_min(gather->start, iova);
	gather->end = ik_max(gather->end, end);
}

void iommu_pages_list_add(struct ik_mem *mem, struct iommu_iotlb_gather *gather,
			  phys_addr_t table)
{
	struct ik_page *pg = ik_mem_page(mem, table);
	pg->next = gather->freelist.head;
	gather->freelist.head = table;
	gather->freelist.count++;
}

void iommu_put_pages_list(struct ik_mem *mem, struct iommu_iotlb_gather *gather)
{
	phys_addr_t pa = gather->freelist.head;

	for (size_t i = 0; i < gather->freelist.count; i++) {
		phys_addr_t next = ik_mem_page(mem, pa)->next;
		mem->ops->free_pages(mem, pa, 1);
		pa = next;
	}
	gather->freelist.head = 0;
	gather->freelist.count = 0;
}

void ik_iommu_flush_iotlb_all(struct iommu_domain *domain)
{
	if (domain && domain->ops->flush_iotlb_all)
		domain->ops->flush_iotlb_all(domain);
}

/* --- faults --- */

void ik_iommu_set_fault_handler(struct iommu_domain *domain, iommu_fault_handler_t handler,
				void *token)
{
	if (!domain)
		return;
	domain->handler_token = token;
	__atomic_store_n(&domain->handler, handler, __ATOMIC_RELEASE);
}

int ik_report_iommu_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
			  int flags)
{
	iommu_fault_handler_t handler = domain ?
		__atomic_load_n(&domain->handler, __ATOMIC_ACQUIRE) : NULL;

	if (handler)
		return handler(domain, dev, iova, flags, domain->handler_token);
	ik_err("unhandled IOMMU fault: device %s, iova %#llx, %s%s%s%s%s",
	       dev ? dev->name : "?", (unsigned long long)iova,
	       (flags & IOMMU_FAULT_WRITE) ? "write" : "read",
	       (flags & IK_FAULT_TRANSLATION) ? ", translation" : "",
	       (flags & IK_FAULT_PERMISSION) ? ", permission" : "",
	       (flags & IK_FAULT_TLB_MISS) ? ", TLB miss" : "",
	       (flags & (IK_FAULT_TABLE_WALK | IK_FAULT_MULTI_HIT)) ?
		       ((flags & IK_FAULT_TABLE_WALK) ? ", table walk" : ", multi-hit") : "");
	return -ENOSYS;
}

/* --- capabilities --- */

bool ik_device_iommu_capable(struct device *dev, enum iommu_cap cap)
{
	if (!dev || !dev->iommu || !dev->iommu->ops->capable)
		return false;
	return dev->iommu->ops->capable(dev, cap);
}

bool ik_device_iommu_mapped(struct device *dev)
{
	return dev && dev->iommu_group;
}
