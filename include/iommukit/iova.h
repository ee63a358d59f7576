/* SPDX-License-Identifier: MIT */
/*
 * iommukit/iova.h - the IOVA allocator: hands out ranges of device-address
 * frames ("pfns" of @granule bytes) for the dma-mapping layer and iovmm.
 *
 * Names and semantics follow Linux's <linux/iova.h> (6.x); the library
 * exports them with an "ik_" prefix and, unless IOMMUKIT_NO_LINUX_NAMES is
 * defined, maps the Linux names onto them, as iommu.h does. The allocator
 * knows nothing of IOMMUs: it manages numbers.
 *
 * Semantics, and where they differ from Linux:
 *  - Ranges are allocated top-down: the highest range that fits at or below
 *    @limit_pfn (inclusive; callers pass min(DMA mask, aperture end) >>
 *    iova_shift()). pfns below @start_pfn, and so pfn 0, are never handed out.
 *  - size_aligned: pfn_lo is a multiple of the size rounded up to a power of
 *    two, and exactly @size pfns are allocated (as Linux's alloc_iova).
 *    alloc_iova_fast() always size-aligns and, for sizes up to
 *    IK_IOVA_RCACHE_MAX_PFNS, allocates the size rounded up to a power of two
 *    (as Linux does for its cached sizes), so free_iova_fast() accepts the
 *    size asked for or the rounded one.
 *  - Functions that return int give 0 or a negative errno where Linux returns
 *    void, so a double free or a free of what was never allocated is reported
 *    (-ENOENT) and changes nothing. Pointer- and pfn-returning functions give
 *    NULL / 0 and set errno: EINVAL (bad argument), ENOSPC (no fitting range,
 *    after every per-thread cache was drained), ENOMEM.
 *  - alloc_iova() also drains the caches before giving up (Linux's does not),
 *    so a caller mixing both interfaces does not see ENOSPC while freed
 *    ranges sit in a cache.
 *  - The per-thread caches are enabled by iova_domain_init_rcaches(), as in
 *    Linux; without them alloc_iova_fast()/free_iova_fast() use the tree.
 *
 * Concurrency: every function may be called from any thread at the same
 * time on one domain, except init_iova_domain() and put_iova_domain(), which
 * the caller must order before and after all other use of that domain.
 * Racing two frees of the same range from two threads is a caller bug the
 * lock-free fast path cannot always catch (as free() in a C library).
 *
 * Thread-local state uses the initial-exec TLS model, so the shared library
 * must be linked at program start (not dlopen()ed late into a process whose
 * static TLS space is already used up).
 */
#ifndef IOMMUKIT_IOVA_H
#define IOMMUKIT_IOVA_H

#include <iommukit/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An allocated or reserved range: pfns pfn_lo..pfn_hi inclusive. */
struct iova {
	unsigned long pfn_hi; /* highest pfn of the range */
	unsigned long pfn_lo; /* lowest pfn of the range */
};

struct ik_iova_state;

/*
 * One IOVA space. The caller owns the memory (embed it, as Linux's
 * dma-iommu cookie does) and must not copy it. @granule and @start_pfn are
 * read-only after init_iova_domain(); everything else is behind ik_priv,
 * which is private to the library: the tree, its lock and the caches
 * change shape between releases without changing this struct.
 */
struct iova_domain {
	unsigned long granule;   /* bytes per pfn: a power of two */
	unsigned long start_pfn; /* lowest pfn ever handed out (>= 1) */
	/* private: */
	struct ik_iova_state *ik_priv;
};

/* Largest size, in pfns, served by the per-thread caches (Linux: 32). */
#define IK_IOVA_RCACHE_MAX_PFNS 64UL

/**
 * ik_init_iova_domain - set up an empty IOVA space
 * @iovad: caller-owned domain; any previous contents are ignored
 * @granule: bytes per pfn, a power of two
 * @start_pfn: lowest pfn to hand out; at least 1 so that IOVA 0 is never used
 *
 * Return: 0, or -EINVAL (NULL @iovad, @granule not a power of two,
 * @start_pfn 0), -ENOMEM.
 */
IK_API int ik_init_iova_domain(struct iova_domain *iovad, unsigned long granule,
			       unsigned long start_pfn);

/**
 * ik_iova_domain_init_rcaches - enable the per-thread range caches
 * @iovad: an initialised domain
 *
 * After this, alloc_iova_fast()/free_iova_fast() of up to
 * IK_IOVA_RCACHE_MAX_PFNS pfns are served by per-thread magazines without a
 * lock. Calling it again does nothing.
 *
 * Return: 0, or -EINVAL for an uninitialised domain.
 */
IK_API int ik_iova_domain_init_rcaches(struct iova_domain *iovad);

/**
 * ik_put_iova_domain - free everything a domain holds
 * @iovad: the domain; NULL or an already-put domain is ignored
 *
 * Frees every range (returned struct iova pointers become invalid) and the
 * caches of every thread, including threads still running. The memory may
 * then be initialised again.
 */
IK_API void ik_put_iova_domain(struct iova_domain *iovad);

/**
 * ik_alloc_iova - allocate a range from the tree
 * @iovad: the domain
 * @size: pfns to allocate, at least 1
 * @limit_pfn: highest pfn the range may include, at least start_pfn
 * @size_aligned: align pfn_lo to @size rounded up to a power of two
 *
 * Return: the range, valid until freed, or NULL with errno EINVAL, ENOSPC
 * (no fitting free range, after draining the caches) or ENOMEM.
 */
IK_API struct iova *ik_alloc_iova(struct iova_domain *iovad, unsigned long size,
				  unsigned long limit_pfn, bool size_aligned);

/**
 * ik___free_iova - free a range returned by alloc_iova(), find_iova() or
 * reserve_iova()
 * @iovad: the domain
 * @iova: the range
 *
 * Return: 0, -EINVAL for NULL, -ENOENT if @iova is not a live range of
 * @iovad (for example already freed).
 */
IK_API int ik___free_iova(struct iova_domain *iovad, struct iova *iova);

/**
 * ik_free_iova - free the allocated or reserved range that contains @pfn
 * @iovad: the domain
 * @pfn: any pfn of the range
 *
 * Return: 0, -EINVAL for a bad domain, -ENOENT if no live range contains
 * @pfn (including a range already freed into a cache).
 */
IK_API int ik_free_iova(struct iova_domain *iovad, unsigned long pfn);

/**
 * ik_alloc_iova_fast - allocate a size-aligned range, from this thread's
 * cache when it can
 * @iovad: the domain
 * @size: pfns; up to IK_IOVA_RCACHE_MAX_PFNS it is rounded up to a power of two
 * @limit_pfn: highest pfn the range may include, at least start_pfn
 * @flush_rcache: on failure, drain every thread's cache into the tree and retry
 *
 * Return: the range's first pfn, or 0 with errno EINVAL, ENOSPC or ENOMEM.
 */
IK_API unsigned long ik_alloc_iova_fast(struct iova_domain *iovad, unsigned long size,
					unsigned long limit_pfn, bool flush_rcache);

/**
 * ik_free_iova_fast - free a range from alloc_iova_fast(), into this
 * thread's cache when it can
 * @iovad: the domain
 * @pfn: the range's first pfn
 * @size: the size given to alloc_iova_fast() (or the range's real size)
 *
 * Return: 0; -EINVAL for size 0, a size that does not match the range, or a
 * reserved range; -ENOENT if no live range starts at @pfn (double free).
 */
IK_API int ik_free_iova_fast(struct iova_domain *iovad, unsigned long pfn,
			     unsigned long size);

/**
 * ik_reserve_iova - keep pfns pfn_lo..pfn_hi from ever being allocated
 * @iovad: the domain
 * @pfn_lo: first pfn
 * @pfn_hi: last pfn (inclusive)
 *
 * Used for windows the device cannot use, such as an MSI doorbell. The part
 * below start_pfn is dropped (those pfns are never allocated anyway). A
 * reservation that overlaps existing reservations is merged with them into
 * one range, which is returned (pointers to the merged ones become
 * invalid); one that overlaps an allocated range is refused. Freed ranges
 * still in a cache are drained first, so they do not count as allocated.
 *
 * Return: the reserved range, or NULL with errno EINVAL (@pfn_lo > @pfn_hi,
 * bad domain), ERANGE (nothing left at or above start_pfn), EBUSY (overlaps
 * an allocation), ENOMEM.
 */
IK_API struct iova *ik_reserve_iova(struct iova_domain *iovad, unsigned long pfn_lo,
				    unsigned long pfn_hi);

/**
 * ik_find_iova - the allocated or reserved range that contains @pfn
 * @iovad: the domain
 * @pfn: the pfn
 *
 * Return: the range, or NULL with errno ENOENT (free, or freed into a
 * cache) or EINVAL.
 */
IK_API struct iova *ik_find_iova(struct iova_domain *iovad, unsigned long pfn);

/**
 * ik_iova_flush_rcaches - drain every thread's cache and the shared depot
 * into the tree (iommukit extension; Linux's free_cpu_cached_iovas() and
 * free_global_cached_iovas() for all CPUs)
 * @iovad: the domain
 *
 * Return: 0, or -EINVAL for a bad domain.
 */
IK_API int ik_iova_flush_rcaches(struct iova_domain *iovad);

/*
 * Occupancy of a domain (iommukit extension), counted in pfns and ranges.
 * Free space is counted in the window start_pfn..limit_pfn given to
 * ik_iova_domain_report(); the other fields count all ranges. "Cached"
 * ranges were freed by free_iova_fast() into a cache: free for users,
 * still held by the tree until a cache drains.
 */
struct ik_iova_report {
	unsigned long allocated_pfns;   /* handed out and not freed */
	unsigned long allocated_ranges;
	unsigned long reserved_pfns;    /* reserve_iova() windows */
	unsigned long reserved_ranges;
	unsigned long cached_pfns;      /* freed into a per-thread cache or the depot */
	unsigned long cached_ranges;
	unsigned long free_pfns;        /* in the window and in no range */
	unsigned long free_gaps;        /* maximal runs of free pfns in the window */
	unsigned long largest_free_gap; /* pfns in the longest run */
};

/**
 * ik_iova_domain_report - snapshot of a domain's occupancy
 * @iovad: the domain
 * @limit_pfn: top of the window free space is counted in (>= start_pfn)
 * @report: filled in
 *
 * Walks the whole tree under its lock: for diagnostics, not hot paths.
 *
 * Return: 0, or -EINVAL for a bad argument.
 */
IK_API int ik_iova_domain_report(struct iova_domain *iovad, unsigned long limit_pfn,
				 struct ik_iova_report *report);

/* --- helpers (inline, as in Linux) --- */

/* pfns in @iova. */
static inline unsigned long ik_iova_size(const struct iova *iova)
{
	return iova->pfn_hi - iova->pfn_lo + 1;
}

/* log2 of the granule. */
static inline unsigned int ik_iova_shift(const struct iova_domain *iovad)
{
	return (unsigned int)__builtin_ctzl(iovad->granule);
}

/* Mask of the offset bits inside one granule. */
static inline unsigned long ik_iova_mask(const struct iova_domain *iovad)
{
	return iovad->granule - 1;
}

/* Offset of @iova inside its granule. */
static inline size_t ik_iova_offset(const struct iova_domain *iovad, dma_addr_t iova)
{
	return (size_t)(iova & ik_iova_mask(iovad));
}

/* @size rounded up to whole granules. */
static inline size_t ik_iova_align(const struct iova_domain *iovad, size_t size)
{
	return (size + iovad->granule - 1) & ~(size_t)(iovad->granule - 1);
}

/* @size rounded down to whole granules. */
static inline size_t ik_iova_align_down(const struct iova_domain *iovad, size_t size)
{
	return size & ~(size_t)(iovad->granule - 1);
}

/* Device address of the first byte of @iova. */
static inline dma_addr_t ik_iova_dma_addr(const struct iova_domain *iovad,
					  const struct iova *iova)
{
	return (dma_addr_t)iova->pfn_lo << ik_iova_shift(iovad);
}

/* pfn that contains device address @iova. */
static inline unsigned long ik_iova_pfn(const struct iova_domain *iovad, dma_addr_t iova)
{
	return (unsigned long)(iova >> ik_iova_shift(iovad));
}

#ifndef IOMMUKIT_NO_LINUX_NAMES
#define init_iova_domain         ik_init_iova_domain
#define iova_domain_init_rcaches ik_iova_domain_init_rcaches
#define put_iova_domain          ik_put_iova_domain
#define alloc_iova               ik_alloc_iova
#define __free_iova              ik___free_iova
#define free_iova                ik_free_iova
#define alloc_iova_fast          ik_alloc_iova_fast
#define free_iova_fast           ik_free_iova_fast
#define reserve_iova             ik_reserve_iova
#define find_iova                ik_find_iova
#define iova_size                ik_iova_size
#define iova_shift               ik_iova_shift
#define iova_mask                ik_iova_mask
#define iova_offset              ik_iova_offset
#define iova_align               ik_iova_align
#define iova_align_down          ik_iova_align_down
#define iova_dma_addr            ik_iova_dma_addr
#define iova_pfn                 ik_iova_pfn
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_IOVA_H */
