/* SPDX-License-Identifier: MIT */
/*
 * iommukit/iovmm.h - IO virtual memory manager: device-address areas of
 * one IOMMU domain, each backed by memory the caller gives or iovmm
 * allocates, with a CPU view where the memory is RAM.
 *
 * The shape is that of OMAP's iovmm (Linux's omap-iovmm.c until 3.x), moved
 * onto the generic IOMMU API so that it runs over any driver:
 *
 *   call            device addresses   physical memory          CPU view
 *   iommu_kmap      contiguous         contiguous, given        direct
 *   iommu_kmalloc   contiguous         contiguous, allocated    direct
 *   iommu_vmap      contiguous         scattered list, given    vmap (if RAM)
 *   iommu_vmalloc   contiguous         scattered, allocated     vmap
 *
 * Device addresses come from the domain's IOVA allocator: for a DMA domain
 * the one the dma-mapping layer uses, so an iovmm area and a dma_map_*()
 * mapping of the same domain never overlap; for an unmanaged domain one
 * that the iovmm context owns. Addresses are allocated top-down, placed so
 * that the IOMMU's largest pages can be used (a physically contiguous
 * buffer of 16 MiB at a 16 MiB-aligned address is one OMAP supersection).
 * A caller may instead fix the address (IOVMF_DA_FIXED); the range is then
 * taken in the allocator, so dma-mapping can never hand it out either.
 *
 * Differences from Linux:
 *  - A context (struct iovmm) per domain replaces the OMAP IOMMU object;
 *    the Linux names below take it where Linux took the domain and object.
 *  - Calls returning a device address return either the address or a
 *    negative errno cast to dma_addr_t, as Linux's u32 with IS_ERR_VALUE():
 *    test with ik_iovmm_is_err() and decode with ik_iovmm_errno(). errno is
 *    set too. No valid device address is that high: the top 4095 values are
 *    never allocated (no IOMMU here has a 64-bit input space).
 *  - Unmap and free calls return 0 or a negative errno (Linux's were void):
 *    -ENOENT if no area holds @da, -EINVAL if @da is not the first address
 *    of its area or the area was made by another kind of call. Either way
 *    nothing changes, so a double free is reported and harmless.
 *  - find_iovm_area() copies the area out, so the answer stays valid while
 *    other threads free areas.
 *
 * All calls are thread-safe. Destroy the context before freeing its domain.
 */
#ifndef IOMMUKIT_IOVMM_H
#define IOMMUKIT_IOVMM_H

#include <iommukit/types.h>
#include <iommukit/scatterlist.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_domain;
struct iovmm;

/*
 * Area flags. Bits 0..15 are the IOMMU_* permissions of the mapping
 * (<iommukit/iommu.h>: IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC,
 * IOMMU_MMIO, IOMMU_PRIV); a call that gives neither IOMMU_READ nor
 * IOMMU_WRITE maps read-write. Bits 16 and up are iovmm's, at Linux's
 * positions: IOVMF_DA_FIXED is the only one a caller passes; the others
 * describe an area in struct iovm_struct.
 */
#define IOVMF_SW_SHIFT    16
#define IOVMF_HW_MASK     ((1u << IOVMF_SW_SHIFT) - 1)
#define IOVMF_MMIO        (1u << IOVMF_SW_SHIFT)         /* memory given by the caller */
#define IOVMF_ALLOC       (2u << IOVMF_SW_SHIFT)         /* memory allocated by iovmm */
#define IOVMF_ALLOC_MASK  (3u << IOVMF_SW_SHIFT)
#define IOVMF_DISCONT     (1u << (2 + IOVMF_SW_SHIFT))   /* physically scattered */
#define IOVMF_LINEAR      (2u << (2 + IOVMF_SW_SHIFT))   /* physically contiguous */
#define IOVMF_LINEAR_MASK (3u << (2 + IOVMF_SW_SHIFT))
#define IOVMF_DA_FIXED    (1u << (4 + IOVMF_SW_SHIFT))   /* at the address given */

/* What find_iovm_area() reports of an area. */
struct iovm_struct {
	dma_addr_t da_start; /* first device address */
	dma_addr_t da_end;   /* one past the last (Linux's convention) */
	uint32_t flags;      /* IOVMF_* and the IOMMU_* permissions */
	void *va;            /* CPU view of da_start, NULL when none */
	/* iommu_vmap(): the list it was given (returned by iommu_vunmap()) */
	struct scatterlist *sg;
	unsigned int nents;
	/* iommu_kmap()/iommu_kmalloc(): the physical address of da_start */
	phys_addr_t pa;
};

/* Largest errno a device-address return can carry (Linux's MAX_ERRNO). */
#define IK_IOVMM_MAX_ERRNO 4095

/* True when @da, returned by an iovmm call, is an error. */
static inline bool ik_iovmm_is_err(dma_addr_t da)
{
	return da >= (dma_addr_t)-IK_IOVMM_MAX_ERRNO;
}

/* The negative errno in @da, or 0 when @da is an address. */
static inline int ik_iovmm_errno(dma_addr_t da)
{
	return ik_iovmm_is_err(da) ? -(int)(~da + 1) : 0;
}

/**
 * ik_iovmm_create - an IO virtual memory manager for @domain
 * @domain: a paging domain (unmanaged, DMA or DMA_FQ); for a DMA domain,
 *          attach a device first so that the dma-mapping layer has set up
 *          its IOVA allocator
 * @da_start: lowest device address iovmm may use, aligned to the smallest
 *            page (0: the aperture's start; address 0 itself is never used)
 * @da_last: highest device address iovmm may use, the last byte of a page
 *           (0: the aperture's end)
 *
 * Allocated and fixed areas alike lie in [@da_start, @da_last]; for
 * devices that address fewer bits than the aperture, pass their DMA mask
 * as @da_last. For an unmanaged domain the context owns the IOVA space of
 * that window: use one context per domain, or contexts with disjoint
 * windows. For a DMA domain the space is the dma-mapping layer's, shared.
 *
 * Return: the context, or NULL with errno EINVAL (NULL or non-paging
 * domain, empty or misaligned window), ERANGE (window outside the
 * aperture), ENODEV (a DMA domain whose IOVA allocator the dma-mapping
 * layer cannot give), ENOMEM.
 */
IK_API struct iovmm *ik_iovmm_create(struct iommu_domain *domain, dma_addr_t da_start,
				     dma_addr_t da_last);

/**
 * ik_iovmm_destroy - unmap and free every area, then the context
 * @vm: the context; NULL is ignored
 *
 * Areas still present are a caller leak: each is reported with a warning
 * through the library log, then released as its unmap or free call would.
 */
IK_API void ik_iovmm_destroy(struct iovmm *vm);

/* The domain @vm manages, NULL for NULL. */
IK_API struct iommu_domain *ik_iovmm_domain(const struct iovmm *vm);

/* Number of areas @vm holds. */
IK_API size_t ik_iovmm_nr_areas(struct iovmm *vm);

/**
 * ik_iommu_vmap - map a scatter-gather list at one contiguous device address
 * @vm: the context
 * @da: the device address when @flags has IOVMF_DA_FIXED, ignored otherwise
 * @sg: the list; physical addresses and lengths aligned to the domain's
 *      smallest page. It must stay valid until iommu_vunmap(), which
 *      returns it. On success each entry's dma_address/dma_length is set.
 * @nents: entries in @sg, at least 1
 * @flags: IOMMU_* permissions, optionally IOVMF_DA_FIXED
 *
 * The area gets a CPU view (iovm_struct.va) when every entry is RAM.
 *
 * Return: the device address, or a negative errno as a dma_addr_t:
 * -EINVAL (bad argument or alignment, unknown flags), -ERANGE (fixed range
 * outside the window), -EEXIST (fixed range overlaps an iovmm area),
 * -EBUSY (fixed range overlaps other users of the IOVA space), -ENOSPC (no
 * free range), -ENOMEM, or the error of the IOMMU mapping.
 */
IK_API dma_addr_t ik_iommu_vmap(struct iovmm *vm, dma_addr_t da, struct scatterlist *sg,
				unsigned int nents, uint32_t flags);

/**
 * ik_iommu_vunmap - unmap an area made by iommu_vmap()
 * @vm: the context
 * @da: the area's first device address
 *
 * Return: the list given to iommu_vmap(), or NULL with errno ENOENT (no
 * area holds @da) or EINVAL (NULL @vm, @da not an area's start, or an area
 * not made by iommu_vmap()).
 */
IK_API struct scatterlist *ik_iommu_vunmap(struct iovmm *vm, dma_addr_t da);

/**
 * ik_iommu_vmalloc - allocate scattered pages and map them contiguously
 * @vm: the context
 * @da: the device address when @flags has IOVMF_DA_FIXED
 * @bytes: size, rounded up to the domain's smallest page; not 0
 * @flags: as iommu_vmap()
 *
 * The pages are zeroed and each is allocated on its own, so they need not
 * be physically contiguous; the CPU sees them contiguously at
 * iovm_struct.va (or da_to_va()).
 *
 * Return: as iommu_vmap().
 */
IK_API dma_addr_t ik_iommu_vmalloc(struct iovmm *vm, dma_addr_t da, size_t bytes,
				   uint32_t flags);

/* Unmap and free an area made by iommu_vmalloc(); 0 or -ENOENT/-EINVAL. */
IK_API int ik_iommu_vfree(struct iovmm *vm, dma_addr_t da);

/**
 * ik_iommu_kmap - map physically contiguous memory
 * @vm: the context
 * @da: the device address when @flags has IOVMF_DA_FIXED
 * @pa: first physical address, aligned to the domain's smallest page; need
 *      not be RAM (device registers have no CPU view)
 * @bytes: size, a multiple of the domain's smallest page
 * @flags: as iommu_vmap()
 *
 * An allocated address is congruent to @pa modulo the largest page size
 * the buffer can hold, so the mapping is made of the largest pages the
 * IOMMU supports.
 *
 * Return: as iommu_vmap().
 */
IK_API dma_addr_t ik_iommu_kmap(struct iovmm *vm, dma_addr_t da, phys_addr_t pa, size_t bytes,
				uint32_t flags);

/* Unmap an area made by iommu_kmap(); 0 or -ENOENT/-EINVAL. */
IK_API int ik_iommu_kunmap(struct iovmm *vm, dma_addr_t da);

/**
 * ik_iommu_kmalloc - allocate physically contiguous memory and map it
 * @vm: the context
 * @da: the device address when @flags has IOVMF_DA_FIXED
 * @bytes: size, rounded up to the domain's smallest page; not 0
 * @flags: as iommu_vmap()
 *
 * The memory is zeroed and aligned to the largest IOMMU page it can hold
 * (when memory that aligned is free), so it maps with the largest pages.
 *
 * Return: as iommu_vmap().
 */
IK_API dma_addr_t ik_iommu_kmalloc(struct iovmm *vm, dma_addr_t da, size_t bytes,
				   uint32_t flags);

/* Unmap and free an area made by iommu_kmalloc(); 0 or -ENOENT/-EINVAL. */
IK_API int ik_iommu_kfree(struct iovmm *vm, dma_addr_t da);

/**
 * ik_da_to_va - CPU address of device address @da
 * @vm: the context
 * @da: any address inside an area
 *
 * Return: the CPU pointer for @da, or NULL with errno ENOENT (no area holds
 * @da), ENXIO (the area has no CPU view) or EINVAL.
 */
IK_API void *ik_da_to_va(struct iovmm *vm, dma_addr_t da);

/**
 * ik_find_iovm_area - the area that holds device address @da
 * @vm: the context
 * @da: any address inside the area
 * @area: filled in with a copy of the area
 *
 * O(log n) in the number of areas.
 *
 * Return: 0, or -ENOENT (no area holds @da) or -EINVAL.
 */
IK_API int ik_find_iovm_area(struct iovmm *vm, dma_addr_t da, struct iovm_struct *area);

#ifndef IOMMUKIT_NO_LINUX_NAMES
#define iovmm_create    ik_iovmm_create
#define iovmm_destroy   ik_iovmm_destroy
#define iommu_vmap      ik_iommu_vmap
#define iommu_vunmap    ik_iommu_vunmap
#define iommu_vmalloc   ik_iommu_vmalloc
#define iommu_vfree     ik_iommu_vfree
#define iommu_kmap      ik_iommu_kmap
#define iommu_kunmap    ik_iommu_kunmap
#define iommu_kmalloc   ik_iommu_kmalloc
#define iommu_kfree     ik_iommu_kfree
#define da_to_va        ik_da_to_va
#define find_iovm_area  ik_find_iovm_area
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_IOVMM_H */
