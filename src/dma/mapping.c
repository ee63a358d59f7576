// SPDX-License-Identifier: MIT
/*
 * The DMA mapping API (include/iommukit/dma-mapping.h): argument checks,
 * device limits, the choice of implementation per device at each call,
 * CPU cache maintenance on machines whose DMA is not cache-coherent, and
 * the dma-debug hooks. The implementations are src/dma/direct.c and
 * src/dma/iommu.c.
 *
 * Cache maintenance (non-coherent machines, unless DMA_ATTR_SKIP_CPU_SYNC):
 *   handing a buffer to the device (map, sync_for_device):
 *     TO_DEVICE, BIDIRECTIONAL  clean: the device must read what the CPU wrote;
 *     FROM_DEVICE               clean + invalidate: no dirty line may be
 *                               evicted over what the device writes later;
 *   handing it back (unmap, sync_for_cpu):
 *     FROM_DEVICE, BIDIRECTIONAL invalidate: the CPU must not read lines it
 *                               cached before the device wrote memory;
 *     TO_DEVICE                 nothing: the device only read.
 * Maintenance is by whole cache lines, so, as in Linux, a buffer that
 * shares a line with other data the CPU writes meanwhile is not safe for
 * FROM_DEVICE or BIDIRECTIONAL DMA.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/log.h"
#include "ik/mem.h"

static inline bool dir_valid(enum dma_data_direction dir)
{
	return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

/* Every machine has memory, so a device with a machine is one we can work for. */
static inline bool dev_valid(const struct device *dev)
{
	return dev && dev->machine;
}

/* The ops for @dev now, and the DMA domain they work in (NULL: direct). */
static inline const struct ik_dma_map_ops *dma_ops(struct device *dev,
						    struct iommu_domain **domain)
{
	*domain = ik_dma_dev_domain(dev);
	return *domain ? &ik_dma_iommu_ops : &ik_dma_direct_ops;
}

static inline dma_addr_t map_error(int err)
{
	errno = err;
	return DMA_MAPPING_ERROR;
}

/*
 * A mapping made while dma-debug is off: if it is switched on later, it
 * cannot trust that an unknown unmap is a bad one. Read first, so the
 * common path only reads a shared line.
 */
static inline void note_untracked(void)
{
	if (unlikely(!__atomic_load_n(&ik_dma_debug_untracked, __ATOMIC_RELAXED)))
		__atomic_store_n(&ik_dma_debug_untracked, true, __ATOMIC_RELAXED);
}

static inline bool range_is_ram(struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	struct ik_mem_region *r = ik_mem_region_of(mem, pa);

	if (likely(r && len <= r->size - (pa - r->base)))
		return true; /* the common case: inside one region */
	return ik_mem_range_is_ram(mem, pa, len); /* across adjacent regions */
}

/* --- device limits --- */

/*
 * Whether @dev can use DMA addresses below @mask at all: a device behind an
 * IOMMU can be given IOVAs anywhere in its domain's aperture, so any mask
 * of 24 bits or more works (the map fails later if the aperture starts
 * above it); a device without one needs RAM below the mask.
 */
static bool mask_supported(struct device *dev, uint64_t mask)
{
	struct ik_mem *mem = ik_machine_mem(dev->machine);

	if (mask < DMA_BIT_MASK(24) || (mask & (mask + 1)))
		return false;
	if (dev->iommu)
		return true;
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].base + IK_PAGE_SIZE - 1 <= mask)
			return true;
	return false;
}

/**
 * ik_dma_set_mask - set the addresses a device can generate for streaming DMA
 * @dev: the device
 * @mask: a mask of the form 2^n - 1 (n from 24 to 64)
 *
 * Return: 0; -EINVAL for a NULL @dev; -EIO (as Linux) for a mask that is
 * not of the form 2^n - 1, narrower than 24 bits, or, for a device with no
 * IOMMU in front of it, below every page of RAM. The mask is unchanged on
 * failure.
 */
int ik_dma_set_mask(struct device *dev, uint64_t mask)
{
	if (!dev_valid(dev))
		return -EINVAL;
	if (!mask_supported(dev, mask))
		return -EIO;
	__atomic_store_n(&dev->dma_mask, mask, __ATOMIC_RELAXED);
	return 0;
}

/** ik_dma_set_coherent_mask - the same for coherent allocations; errors as ik_dma_set_mask() */
int ik_dma_set_coherent_mask(struct device *dev, uint64_t mask)
{
	if (!dev_valid(dev))
		return -EINVAL;
	if (!mask_supported(dev, mask))
		return -EIO;
	__atomic_store_n(&dev->coherent_dma_mask, mask, __ATOMIC_RELAXED);
	return 0;
}

/** ik_dma_set_mask_and_coherent - both masks at once; neither changes on failure */
int ik_dma_set_mask_and_coherent(struct device *dev, uint64_t mask)
{
	int ret = ik_dma_set_mask(dev, mask);

	if (!ret)
		ret = ik_dma_set_coherent_mask(dev, mask);
	return ret;
}

/** ik_dma_get_mask - the streaming DMA mask of @dev; 0 for NULL */
uint64_t ik_dma_get_mask(struct device *dev)
{
	return dev ? ik_dma_dev_mask(dev) : 0;
}

/**
 * ik_dma_set_max_seg_size - the longest DMA segment @dev handles
 * @dev: the device
 * @size: bytes, at least 4 KiB
 *
 * dma_map_sg() never builds a longer segment and refuses a list with a
 * longer entry. Return: 0, or -EINVAL (NULL @dev, @size below 4 KiB).
 */
int ik_dma_set_max_seg_size(struct device *dev, unsigned int size)
{
	if (!dev_valid(dev) || size < IK_PAGE_SIZE)
		return -EINVAL;
	__atomic_store_n(&dev->max_seg_size, size, __ATOMIC_RELAXED);
	return 0;
}

/**
 * ik_dma_set_seg_boundary - the address boundary no DMA segment of @dev may cross
 * @dev: the device
 * @mask: 2^n - 1 with 2^n at least 4 KiB (~0UL: no boundary)
 *
 * Return: 0, or -EINVAL (NULL @dev, a mask of another form).
 */
int ik_dma_set_seg_boundary(struct device *dev, unsigned long mask)
{
	if (!dev_valid(dev) || mask < IK_PAGE_SIZE - 1 || (mask & (mask + 1)))
		return -EINVAL;
	__atomic_store_n(&dev->seg_boundary_mask, mask, __ATOMIC_RELAXED);
	return 0;
}

/* --- CPU views --- */

/**
 * ik_dma_virt_to_phys - physical address of a CPU pointer into RAM
 * @dev: the device whose machine's memory @cpu_addr points into
 * @cpu_addr: a pointer from ik_mem_ptr(), or into an ik_mem_vmap() view
 * @phys: set on success
 *
 * Return: 0, or -EFAULT if @cpu_addr is not RAM of that machine.
 */
int ik_dma_virt_to_phys(struct device *dev, const void *cpu_addr, phys_addr_t *phys)
{
	struct ik_mem *mem = ik_machine_mem(dev->machine);
	uintptr_t p = (uintptr_t)cpu_addr;

	/* The direct map first: one compare per region, no lock. */
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct ik_mem_region *r = &mem->regions[i];

		if (p - (uintptr_t)r->host < r->size) {
			*phys = r->base + (p - (uintptr_t)r->host);
			return 0;
		}
	}
	return ik_mem_virt_to_phys(mem, cpu_addr, phys);
}

/*
 * Physical address of [cpu_addr, cpu_addr + size), which must be
 * physically contiguous (a view built by ik_mem_vmap() usually is not,
 * and cannot be mapped as one buffer; Linux forbids vmalloc memory too).
 */
static int single_to_phys(struct ik_mem *mem, struct device *dev, const void *cpu_addr,
			  size_t size, phys_addr_t *phys)
{
	const uint8_t *p = cpu_addr;
	uintptr_t v = (uintptr_t)cpu_addr;
	phys_addr_t pa, next;
	size_t done;

	/* The direct map: one region holds the whole buffer, contiguous and RAM. */
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct ik_mem_region *r = &mem->regions[i];
		uintptr_t off = v - (uintptr_t)r->host;

		if (off < r->size) {
			if (unlikely(size > r->size - off))
				break; /* runs into the next region: check page by page */
			*phys = r->base + off;
			return 0;
		}
	}
	if (ik_dma_virt_to_phys(dev, p, &pa))
		return -EFAULT;
	/* Each further page must follow in physical memory. */
	done = IK_PAGE_SIZE - (pa & (IK_PAGE_SIZE - 1));
	while (done < size) {
		if (ik_dma_virt_to_phys(dev, p + done, &next))
			return -EFAULT;
		if (next != pa + done)
			return -EINVAL;
		done += IK_PAGE_SIZE;
	}
	if (!range_is_ram(mem, pa, size))
		return -EFAULT;
	*phys = pa;
	return 0;
}

/* --- CPU cache maintenance --- */

static inline bool dev_coherent(struct device *dev)
{
	return ik_machine_dma_coherent(dev->machine);
}

/* The CPU hands [phys, phys + size) to the device. */
static void cache_for_device(struct device *dev, phys_addr_t phys, size_t size,
			     enum dma_data_direction dir)
{
	if (dir == DMA_FROM_DEVICE)
		ik_cpu_cache_flush(dev->machine, phys, size);
	else
		ik_cpu_cache_clean(dev->machine, phys, size);
}

/* The device hands [phys, phys + size) back to the CPU. */
static void cache_for_cpu(struct device *dev, phys_addr_t phys, size_t size,
			  enum dma_data_direction dir)
{
	if (dir != DMA_TO_DEVICE)
		ik_cpu_cache_invalidate(dev->machine, phys, size);
}

/*
 * Apply @fn to the physical pieces behind [addr, addr + size) of a live
 * mapping, granule by granule through the IOMMU (pieces that follow each
 * other physically are joined). Returns -EFAULT at the first address
 * with nothing mapped, after the pieces before it.
 */
static int for_each_phys_piece(struct device *dev, dma_addr_t addr, size_t size,
			       enum dma_data_direction dir,
			       void (*fn)(struct device *dev, phys_addr_t phys, size_t size,
					  enum dma_data_direction dir))
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops = dma_ops(dev, &domain);
	phys_addr_t start = 0, pa;
	size_t len = 0, done = 0;
	int ret = 0;

	if (!domain) {
		if (ops->to_phys(dev, NULL, addr, &pa))
			return -EFAULT;
		fn(dev, pa, size, dir);
		return 0;
	}
	size_t granule = domain->min_pagesz;
	while (done < size) {
		size_t n = ik_min(size - done, granule - ((addr + done) & (granule - 1)));

		ret = ops->to_phys(dev, domain, addr + done, &pa);
		if (ret)
			break;
		if (len && pa == start + len) {
			len += n;
		} else {
			if (len)
				fn(dev, start, len, dir);
			start = pa;
			len = n;
		}
		done += n;
	}
	if (len)
		fn(dev, start, len, dir);
	return ret;
}

/* --- streaming mappings --- */

/* Map [phys, phys + size), which is RAM. */
static dma_addr_t map_phys(struct device *dev, phys_addr_t phys, size_t size,
			   enum dma_data_direction dir, unsigned long attrs,
			   enum ik_dma_debug_type type)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;
	dma_addr_t addr;

	ops = dma_ops(dev, &domain);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && !dev_coherent(dev))
		cache_for_device(dev, phys, size, dir);
	addr = ops->map_phys(dev, domain, phys, size, dir);
	if (addr == DMA_MAPPING_ERROR)
		return addr;
	if (ik_dma_debug_active())
		ik_dma_debug_add(&(struct ik_dma_debug_ref){
			.dev = dev, .addr = addr, .size = size, .phys = phys, .dir = dir,
			.type = type });
	else
		note_untracked();
	return addr;
}

static bool map_args_ok(struct device *dev, size_t size, enum dma_data_direction dir,
			unsigned long attrs)
{
	return dev_valid(dev) && size && dir_valid(dir) && !(attrs & ~IK_DMA_ATTR_KNOWN);
}

/**
 * ik_dma_map_page_attrs - map part of physical memory for a device
 * @dev: the device
 * @page: physical address of a page (there is no struct page here)
 * @offset: offset of the buffer from @page
 * @size: bytes, at least 1
 * @dir: DMA_TO_DEVICE (the device may only read), DMA_FROM_DEVICE or
 *       DMA_BIDIRECTIONAL
 * @attrs: 0 or DMA_ATTR_SKIP_CPU_SYNC
 *
 * Return: the device address of the buffer, or DMA_MAPPING_ERROR with
 * errno: EINVAL (bad argument), EFAULT (not RAM), ERANGE (beyond the
 * device's mask and no IOMMU to remap it, or a mask below the IOMMU's
 * aperture), ENOSPC (no IOVA space left below the mask), ENOMEM.
 */
dma_addr_t ik_dma_map_page_attrs(struct device *dev, phys_addr_t page, size_t offset,
				 size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	phys_addr_t phys = page + offset;

	if (!map_args_ok(dev, size, dir, attrs) || phys < page)
		return map_error(EINVAL);
	if (!range_is_ram(ik_machine_mem(dev->machine), phys, size)) {
		ik_err("dma: %s: mapping %#llx+%#zx, which is not RAM", dev->name,
		       (unsigned long long)phys, size);
		return map_error(EFAULT);
	}
	return map_phys(dev, phys, size, dir, attrs, IK_DMA_DEBUG_PAGE);
}

/**
 * ik_dma_map_single_attrs - map a CPU buffer for a device
 * @cpu_addr: a pointer into RAM (ik_mem_ptr(), a coherent buffer's first
 *            page...); the buffer must be physically contiguous
 *
 * Otherwise as ik_dma_map_page_attrs(); EFAULT also for a pointer that is
 * not RAM, EINVAL for a buffer that is not physically contiguous.
 */
dma_addr_t ik_dma_map_single_attrs(struct device *dev, void *cpu_addr, size_t size,
				   enum dma_data_direction dir, unsigned long attrs)
{
	phys_addr_t phys;
	int ret;

	if (!map_args_ok(dev, size, dir, attrs) || !cpu_addr)
		return map_error(EINVAL);
	ret = single_to_phys(ik_machine_mem(dev->machine), dev, cpu_addr, size, &phys);
	if (ret) {
		ik_err("dma: %s: map_single of %p+%#zx: %s", dev->name, cpu_addr, size,
		       ret == -EFAULT ? "not RAM" : "not physically contiguous");
		return map_error(-ret);
	}
	return map_phys(dev, phys, size, dir, attrs, IK_DMA_DEBUG_SINGLE);
}

static void unmap_phys(struct device *dev, dma_addr_t addr, size_t size,
		       enum dma_data_direction dir, unsigned long attrs,
		       enum ik_dma_debug_type type, const char *what)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;

	if (!dev_valid(dev) || !dir_valid(dir) || !size || (attrs & ~IK_DMA_ATTR_KNOWN)) {
		ik_dma_debug_error("dma: %s: %s of %#llx+%#zx (%s): invalid arguments; ignored",
				   dev ? dev->name : "(null)", what, (unsigned long long)addr,
				   size, ik_dma_dir_name(dir));
		return;
	}
	if (ik_dma_debug_active()) {
		struct ik_dma_debug_ref ref = {
			.dev = dev, .addr = addr, .size = size, .dir = dir, .type = type,
		};

		if (ik_dma_debug_remove(&ref))
			return; /* nothing mapped there: touching the IOMMU could only harm */
		size = ref.size;
		dir = ref.dir;
	}
	ops = dma_ops(dev, &domain);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && dir != DMA_TO_DEVICE && !dev_coherent(dev))
		for_each_phys_piece(dev, addr, size, dir, cache_for_cpu);
	ops->unmap_phys(dev, domain, addr, size, dir);
}

/**
 * ik_dma_unmap_page_attrs - undo ik_dma_map_page_attrs()
 * @addr, @size, @dir: as mapped (@size as given to the map)
 *
 * With dma-debug on, an unmap of nothing is reported and ignored, and one
 * with the wrong size or direction is reported and done as mapped.
 */
void ik_dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
			     enum dma_data_direction dir, unsigned long attrs)
{
	unmap_phys(dev, addr, size, dir, attrs, IK_DMA_DEBUG_PAGE, "unmap_page");
}

/** ik_dma_unmap_single_attrs - undo ik_dma_map_single_attrs(); as ik_dma_unmap_page_attrs() */
void ik_dma_unmap_single_attrs(struct device *dev, dma_addr_t addr, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	unmap_phys(dev, addr, size, dir, attrs, IK_DMA_DEBUG_SINGLE, "unmap_single");
}

/* Mark every entry of @sg unmapped. */
static void sg_clear_dma(struct scatterlist *sg, int nents)
{
	for (int i = 0; i < nents; i++) {
		sg[i].dma_address = DMA_MAPPING_ERROR;
		sg[i].dma_length = 0;
	}
}

/**
 * ik_dma_map_sg_attrs - map a scatterlist for a device
 * @dev: the device
 * @sg: @nents entries, each of 1 or more bytes of RAM, none longer than the
 *      device's max segment size nor crossing its segment boundary
 * @nents: entries in @sg, at least 1
 * @dir, @attrs: as ik_dma_map_page_attrs()
 *
 * Behind an IOMMU the whole list gets one IOVA range, laid out so that
 * entries which start and end on granule boundaries run into each other
 * and merge into one DMA segment, as long as the segment stays within the
 * max segment size and does not cross the segment boundary. Without one,
 * each entry is its own segment at its physical address.
 *
 * Return: the number of DMA segments, N <= @nents: sg_dma_address() and
 * sg_dma_len() of the first N entries describe them (the others read
 * DMA_MAPPING_ERROR and 0). 0 on failure, with errno as
 * ik_dma_map_page_attrs(); nothing stays mapped then. Unmap with the
 * original @nents.
 */
int ik_dma_map_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
			enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;
	struct ik_mem *mem;
	int count;

	if (!dev_valid(dev) || !sg || nents <= 0 || !dir_valid(dir) ||
	    (attrs & ~IK_DMA_ATTR_KNOWN)) {
		errno = EINVAL;
		return 0;
	}
	mem = ik_machine_mem(dev->machine);
	for (int i = 0; i < nents; i++) {
		if (!sg[i].length || !range_is_ram(mem, sg[i].phys, sg[i].length)) {
			ik_err("dma: %s: map_sg entry %d (%#llx+%#x) is %s", dev->name, i,
			       (unsigned long long)sg[i].phys, sg[i].length,
			       sg[i].length ? "not RAM" : "empty");
			sg_clear_dma(sg, nents);
			errno = sg[i].length ? EFAULT : EINVAL;
			return 0;
		}
	}
	if (ik_dma_sg_check(dev, sg, nents)) {
		sg_clear_dma(sg, nents);
		errno = EINVAL;
		return 0;
	}
	ops = dma_ops(dev, &domain);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && !dev_coherent(dev))
		for (int i = 0; i < nents; i++)
			cache_for_device(dev, sg[i].phys, sg[i].length, dir);
	count = ops->map_sg(dev, domain, sg, nents, dir);
	if (count <= 0) {
		sg_clear_dma(sg, nents);
		return 0;
	}
	if (ik_dma_debug_active())
		ik_dma_debug_add_sg(dev, sg, nents, count, dir);
	else
		note_untracked();
	return count;
}

/**
 * ik_dma_unmap_sg_attrs - undo ik_dma_map_sg_attrs()
 * @sg: the list as mapped (its phys and length unchanged)
 * @nents: the @nents given to the map, not the count it returned
 */
void ik_dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
			   enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;

	if (!dev_valid(dev) || !sg || nents <= 0 || !dir_valid(dir) ||
	    (attrs & ~IK_DMA_ATTR_KNOWN)) {
		ik_dma_debug_error("dma: %s: unmap_sg of %d entries (%s): invalid arguments; "
				   "ignored",
				   dev ? dev->name : "(null)", nents, ik_dma_dir_name(dir));
		return;
	}
	/* What was really mapped decides what is undone; nothing if nothing was. */
	if (ik_dma_debug_active() && ik_dma_debug_remove_sg(dev, sg, &nents, &dir))
		return;
	ops = dma_ops(dev, &domain);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && dir != DMA_TO_DEVICE && !dev_coherent(dev))
		for (int i = 0; i < nents; i++)
			cache_for_cpu(dev, sg[i].phys, sg[i].length, dir);
	ops->unmap_sg(dev, domain, sg, nents, dir);
}

/** ik_dma_mapping_error - whether @addr is the error value: -ENOMEM (as Linux) or 0 */
int ik_dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return addr == DMA_MAPPING_ERROR ? -ENOMEM : 0;
}

/* --- ownership transfers --- */

static void sync_single(struct device *dev, dma_addr_t addr, size_t size,
			enum dma_data_direction dir, bool for_cpu)
{
	const char *what = for_cpu ? "sync_single_for_cpu" : "sync_single_for_device";

	if (!dev_valid(dev) || !dir_valid(dir) || !size) {
		ik_dma_debug_error("dma: %s: %s of %#llx+%#zx (%s): invalid arguments; ignored",
				   dev ? dev->name : "(null)", what, (unsigned long long)addr,
				   size, ik_dma_dir_name(dir));
		return;
	}
	if (ik_dma_debug_active())
		ik_dma_debug_sync(dev, addr, size, dir, for_cpu);
	if (dev_coherent(dev) || (for_cpu && dir == DMA_TO_DEVICE))
		return;
	if (for_each_phys_piece(dev, addr, size, dir, for_cpu ? cache_for_cpu : cache_for_device))
		ik_dma_debug_error("dma: %s: %s of %#llx+%#zx: not mapped", dev->name, what,
				   (unsigned long long)addr, size);
}

/**
 * ik_dma_sync_single_for_cpu - give a mapped buffer (or part of it) back to the CPU
 * @addr, @size: a range inside a live single or page mapping
 * @dir: the mapping's direction
 *
 * On a non-coherent machine, FROM_DEVICE and BIDIRECTIONAL invalidate the
 * CPU's cached lines of the range.
 */
void ik_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size,
				enum dma_data_direction dir)
{
	sync_single(dev, addr, size, dir, true);
}

/**
 * ik_dma_sync_single_for_device - give a mapped buffer (or part of it) to the device
 *
 * On a non-coherent machine, cleans the CPU's cached lines of the range
 * (and for FROM_DEVICE also drops them).
 */
void ik_dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
				   enum dma_data_direction dir)
{
	sync_single(dev, addr, size, dir, false);
}

static void sync_sg(struct device *dev, struct scatterlist *sg, int nents,
		    enum dma_data_direction dir, bool for_cpu)
{
	if (!dev_valid(dev) || !sg || nents <= 0 || !dir_valid(dir)) {
		ik_dma_debug_error("dma: %s: sync_sg_for_%s of %d entries (%s): invalid "
				   "arguments; ignored",
				   dev ? dev->name : "(null)", for_cpu ? "cpu" : "device", nents,
				   ik_dma_dir_name(dir));
		return;
	}
	if (ik_dma_debug_active())
		ik_dma_debug_sync_sg(dev, sg, nents, dir, for_cpu);
	if (dev_coherent(dev) || (for_cpu && dir == DMA_TO_DEVICE))
		return;
	for (int i = 0; i < nents; i++) {
		if (for_cpu)
			cache_for_cpu(dev, sg[i].phys, sg[i].length, dir);
		else
			cache_for_device(dev, sg[i].phys, sg[i].length, dir);
	}
}

/** ik_dma_sync_sg_for_cpu - ik_dma_sync_single_for_cpu() for a mapped list (original @nents) */
void ik_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg, int nents,
			    enum dma_data_direction dir)
{
	sync_sg(dev, sg, nents, dir, true);
}

/** ik_dma_sync_sg_for_device - ik_dma_sync_single_for_device() for a mapped list */
void ik_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg, int nents,
			       enum dma_data_direction dir)
{
	sync_sg(dev, sg, nents, dir, false);
}

/* --- coherent allocations --- */

/**
 * ik_dma_alloc_coherent - allocate a buffer the CPU and the device share
 * @dev: the device
 * @size: bytes, at least 1 (rounded up to whole pages)
 * @dma_handle: set to the buffer's device address
 * @gfp: GFP_KERNEL or GFP_ATOMIC (both may sleep here)
 *
 * Behind an IOMMU the pages are allocated in the largest power-of-two
 * chunks available and need not be physically contiguous: they are mapped
 * contiguously in IOVA space below the coherent mask and viewed
 * contiguously by the CPU (ik_mem_vmap()). Without one they are physically
 * contiguous and below the coherent mask. The CPU's view is not cached, so
 * a write through the pointer is in memory at once (use the pointer, not
 * ik_cpu_read()/ik_cpu_write(), which go through the CPU cache).
 *
 * Return: the CPU pointer to @size zeroed bytes, or NULL with errno:
 * EINVAL (bad argument), ERANGE (coherent mask below the aperture),
 * ENOSPC (no IOVA space), ENOMEM (no memory below the mask).
 */
void *ik_dma_alloc_coherent(struct device *dev, size_t size, dma_addr_t *dma_handle, gfp_t gfp)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;
	void *cpu_addr;

	if (!dev_valid(dev) || !size || !dma_handle || gfp > GFP_ATOMIC ||
	    size > SIZE_MAX - IK_SZ_2M) {
		errno = EINVAL;
		return NULL;
	}
	ops = dma_ops(dev, &domain);
	cpu_addr = ops->alloc(dev, domain, size, dma_handle);
	if (!cpu_addr)
		return NULL;
	if (ik_dma_debug_active())
		ik_dma_debug_add(&(struct ik_dma_debug_ref){
			.dev = dev, .addr = *dma_handle, .size = size, .dir = DMA_BIDIRECTIONAL,
			.type = IK_DMA_DEBUG_COHERENT, .cpu_addr = cpu_addr });
	else
		note_untracked();
	return cpu_addr;
}

/**
 * ik_dma_free_coherent - free what ik_dma_alloc_coherent() returned
 * @size, @cpu_addr, @dma_handle: exactly as allocated
 *
 * A buffer that was never allocated (or is freed twice) is reported and
 * nothing is freed. A NULL @cpu_addr does nothing.
 */
void ik_dma_free_coherent(struct device *dev, size_t size, void *cpu_addr, dma_addr_t dma_handle)
{
	struct iommu_domain *domain;
	const struct ik_dma_map_ops *ops;

	if (!cpu_addr)
		return; /* as free(NULL) */
	if (!dev_valid(dev)) {
		ik_dma_debug_error("dma: free_coherent of %p without a device; ignored", cpu_addr);
		return;
	}
	if (ik_dma_debug_active()) {
		struct ik_dma_debug_ref ref = {
			.dev = dev, .addr = dma_handle, .size = size, .dir = DMA_BIDIRECTIONAL,
			.type = IK_DMA_DEBUG_COHERENT, .cpu_addr = cpu_addr,
		};

		if (ik_dma_debug_remove(&ref))
			return;
		size = ref.size;
	}
	ops = dma_ops(dev, &domain);
	if (ops->free(dev, domain, size, cpu_addr, dma_handle))
		ik_dma_debug_error("dma: %s: free_coherent of %p (dma %#llx, %#zx bytes): not a "
				   "live coherent buffer; ignored",
				   dev->name, cpu_addr, (unsigned long long)dma_handle, size);
}
