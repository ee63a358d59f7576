// SPDX-License-Identifier: MIT
/*
 * iovmm: the OMAP IO virtual memory manager's four kinds of area (kmap,
 * kmalloc, vmap, vmalloc; Linux's omap-iovmm.c) on the generic IOMMU API
 * and the shared IOVA allocator, so that it runs over any driver.
 *
 * Device addresses. Every area holds one range of the domain's IOVA
 * allocator: the dma-mapping layer's for a DMA domain (so the two never
 * overlap), our own for an unmanaged one. Ranges are found top-down below
 * the window's last address. To let the core use the IOMMU's largest
 * pages, an allocated area is placed congruent to its physical memory
 * modulo the largest page size P some physically contiguous run of it can
 * hold: the allocator only aligns a range to its size rounded up to a
 * power of two, so we take residue + size pfns size-aligned (an alignment
 * of at least P) and start the area residue bytes in; the pad is unmapped.
 * If no such range is free we fall back to any range (smaller pages).
 *
 * A fixed address is taken in the allocator as an allocation, not with
 * reserve_iova(): a reservation silently merges with an overlapping one,
 * which would hide an overlap and make the free drop someone else's
 * window. An allocation of the range's size with its last pfn as the limit
 * lands exactly on the range if and only if the range is free (allocation
 * is top-down: the highest fit at or below the limit), so the test and the
 * taking are one atomic allocator call.
 *
 * Areas are kept in an array sorted by device address under a read-write
 * lock: lookups are a binary search under the shared lock. An area is
 * inserted unpublished (invisible to lookups and frees, but counted for
 * overlap reports) once its range is taken, then mapped outside the lock,
 * then published; a free unlinks it under the lock before unmapping, so
 * two threads can never release one area.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <iommukit/iommu.h>
#include <iommukit/iova.h>
#include <iommukit/iovmm.h>
#include <iommukit/platform.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/iommu-driver.h"
#include "ik/log.h"

/*
 * The dma-mapping layer's allocator of a DMA domain (src/include/ik/dma.h).
 * Declared here as well, and weak, until src/dma defines it: without it
 * DMA domains are refused with ENODEV.
 */
struct iova_domain *iommu_dma_get_iovad(struct iommu_domain *domain);
#pragma weak iommu_dma_get_iovad

/* What kind of call made an area: its IOVMF_ALLOC_MASK | IOVMF_LINEAR_MASK bits. */
#define KIND_MASK    (IOVMF_ALLOC_MASK | IOVMF_LINEAR_MASK)
#define KIND_VMAP    (IOVMF_MMIO | IOVMF_DISCONT)
#define KIND_VMALLOC (IOVMF_ALLOC | IOVMF_DISCONT)
#define KIND_KMAP    (IOVMF_MMIO | IOVMF_LINEAR)
#define KIND_KMALLOC (IOVMF_ALLOC | IOVMF_LINEAR)

/* Device addresses at or above this encode errors (see ik_iovmm_is_err()). */
#define DA_ERR_FIRST ((dma_addr_t)-IK_IOVMM_MAX_ERRNO)

struct iovm_area {
	dma_addr_t da;      /* first device address */
	size_t size;        /* bytes mapped at da */
	uint32_t flags;     /* kind and IOMMU_* permissions */
	bool published;     /* mapped and visible to lookups; under vm->lock */
	struct iova *iova;  /* the IOVA range holding [da, da + size) */
	void *va;           /* CPU view, NULL for none */
	size_t view_pages;  /* 4 KiB pages of an ik_mem_vmap() view; 0: direct or none */
	/* what is mapped: a list (vmap, vmalloc) or one run (kmap, kmalloc) */
	struct scatterlist *sg;
	unsigned int nents;
	phys_addr_t pa;
	size_t alloc_pages; /* kmalloc: 4 KiB pages allocated at pa */
};

struct iovmm {
	struct iommu_domain *domain;
	struct ik_mem *mem;
	unsigned long pgsize_bitmap;
	size_t min_pagesz;
	struct iova_domain *iovad; /* the DMA cookie's, or own_iovad */
	struct iova_domain own_iovad;
	bool owns_iovad;
	dma_addr_t win_start, win_last; /* where areas may lie, inclusive */
	unsigned long lo_pfn, limit_pfn; /* the same window in whole IOVA pfns */
	pthread_rwlock_t lock;
	struct iovm_area **areas; /* sorted by da; published or not */
	size_t nr_areas, cap_areas;
};

static inline dma_addr_t err_da(int err)
{
	errno = -err;
	return (dma_addr_t)(int64_t)err;
}

/* --- the area index --- */

/* Index of the first area starting above @da (so @da's candidate is the one before). */
static size_t index_above(const struct iovmm *vm, dma_addr_t da)
{
	size_t lo = 0, hi = vm->nr_areas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vm->areas[mid]->da <= da)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The published area holding @da, or NULL; lock held. */
static struct iovm_area *lookup_locked(const struct iovmm *vm, dma_addr_t da, size_t *idx)
{
	size_t i = index_above(vm, da);
	struct iovm_area *a;

	if (!i)
		return NULL;
	a = vm->areas[i - 1];
	if (!a->published || da - a->da >= a->size)
		return NULL;
	if (idx)
		*idx = i - 1;
	return a;
}

/* Does any area, published or not, overlap [da, da + size)? */
static bool overlaps_area(struct iovmm *vm, dma_addr_t da, size_t size)
{
	bool hit = false;
	size_t i;

	pthread_rwlock_rdlock(&vm->lock);
	i = index_above(vm, da + size - 1);
	if (i) {
		const struct iovm_area *a = vm->areas[i - 1];

		hit = a->da + a->size > da;
	}
	pthread_rwlock_unlock(&vm->lock);
	return hit;
}

/* Insert @a unpublished; 0 or -ENOMEM. */
static int insert_area(struct iovmm *vm, struct iovm_area *a)
{
	size_t i;

	pthread_rwlock_wrlock(&vm->lock);
	if (vm->nr_areas == vm->cap_areas) {
		size_t cap = vm->cap_areas ? 2 * vm->cap_areas : 16;
		struct iovm_area **n = realloc(vm->areas, cap * sizeof(*n));

		if (!n) {
			pthread_rwlock_unlock(&vm->lock);
			return -ENOMEM;
		}
		vm->areas = n;
		vm->cap_areas = cap;
	}
	i = index_above(vm, a->da);
	memmove(&vm->areas[i + 1], &vm->areas[i], (vm->nr_areas - i) * sizeof(*vm->areas));
	vm->areas[i] = a;
	vm->nr_areas++;
	a->published = false;
	pthread_rwlock_unlock(&vm->lock);
	return 0;
}

/* Remove the area at index @i; lock held for writing. */
static void remove_at_locked(struct iovmm *vm, size_t i)
{
	memmove(&vm->areas[i], &vm->areas[i + 1], (vm->nr_areas - i - 1) * sizeof(*vm->areas));
	vm->nr_areas--;
}

/* Unlink @a, unpublished and found by pointer (a failed install). */
static void remove_area(struct iovmm *vm, struct iovm_area *a)
{
	size_t i;

	pthread_rwlock_wrlock(&vm->lock);
	i = index_above(vm, a->da);
	if (i && vm->areas[i - 1] == a)
		remove_at_locked(vm, i - 1);
	pthread_rwlock_unlock(&vm->lock);
}

/* --- device addresses --- */

/*
 * Take exactly [da, da + size) in the allocator (see the top of the file).
 * Returns 0, -EBUSY if any of it is in use, -ENOMEM.
 */
static int take_fixed(struct iovmm *vm, dma_addr_t da, size_t size, struct iova **out)
{
	unsigned int shift = ik_iova_shift(vm->iovad);
	unsigned long lo = (unsigned long)(da >> shift);
	unsigned long hi = (unsigned long)((da + size - 1) >> shift);

	for (int attempt = 0; attempt < 2; attempt++) {
		struct iova *iova = ik_alloc_iova(vm->iovad, hi - lo + 1, hi, false);

		if (iova && iova->pfn_lo == lo) {
			*out = iova;
			return 0;
		}
		if (iova)
			ik___free_iova(vm->iovad, iova);
		else if (errno == ENOMEM)
			return -ENOMEM;
		/* Ranges freed into per-thread caches are free: drain them, look again. */
		if (!attempt)
			ik_iova_flush_rcaches(vm->iovad);
	}
	return -EBUSY;
}

/*
 * Take a range for @size bytes whose start is congruent to @residue modulo
 * @align (both multiples of the smallest page, @align a power of two),
 * falling back to any range. Returns 0 with *da set, -ENOSPC, -ENOMEM.
 */
static int take_any(struct iovmm *vm, size_t size, size_t align, size_t residue,
		    struct iova **out, dma_addr_t *da)
{
	struct iova_domain *iovad = vm->iovad;
	unsigned int shift = ik_iova_shift(iovad);
	struct iova *iova;

	if (align > iovad->granule) {
		unsigned long n = (unsigned long)((residue + size + iovad->granule - 1) >> shift);

		iova = ik_alloc_iova(iovad, n, vm->limit_pfn, true);
		if (iova && iova->pfn_lo >= vm->lo_pfn) {
			*out = iova;
			*da = ((dma_addr_t)iova->pfn_lo << shift) + residue;
			return 0;
		}
		if (iova)
			ik___free_iova(iovad, iova);
		else if (errno == ENOMEM)
			return -ENOMEM;
	}
	iova = ik_alloc_iova(iovad, (unsigned long)((size + iovad->granule - 1) >> shift),
			     vm->limit_pfn, false);
	if (!iova)
		return errno == ENOMEM ? -ENOMEM : -ENOSPC;
	/* Top-down: the highest fit lies below the window, so nothing fits in it. */
	if (iova->pfn_lo < vm->lo_pfn) {
		ik___free_iova(iovad, iova);
		return -ENOSPC;
	}
	*out = iova;
	*da = (dma_addr_t)iova->pfn_lo << shift;
	return 0;
}

/* A physically contiguous run of an area's memory, at @off bytes into the area. */
struct run {
	phys_addr_t pa;
	size_t len;
	size_t off;
};

/* Next run of @sg from entry *@i on (entries that continue each other merge). */
static bool next_run(const struct scatterlist *sg, unsigned int nents, unsigned int *i,
		     size_t *off, struct run *r)
{
	if (*i >= nents)
		return false;
	r->pa = sg[*i].phys;
	r->len = sg[*i].length;
	r->off = *off;
	for ((*i)++; *i < nents && sg[*i].phys == r->pa + r->len; (*i)++)
		r->len += sg[*i].length;
	*off += r->len;
	return true;
}

/* Does the run hold a whole P-page at a P-aligned physical address? */
static bool run_holds_page(const struct run *r, size_t p)
{
	phys_addr_t first = ALIGN_UP(r->pa, (phys_addr_t)p);

	return first >= r->pa && first - r->pa + p <= r->len;
}

/*
 * The largest page size P, and the residue, such that some run can use a
 * P-page when the area starts at an address congruent to the residue
 * modulo P: the run at area offset off maps its aligned P-blocks with
 * P-pages iff da + off == pa (mod P). @sg NULL: one run at @pa.
 */
static void choose_placement(const struct iovmm *vm, const struct scatterlist *sg,
			     unsigned int nents, phys_addr_t pa, size_t size, size_t *align,
			     size_t *residue)
{
	unsigned long sizes = vm->pgsize_bitmap & ~(unsigned long)(2 * vm->min_pagesz - 1);

	for (; sizes; sizes &= ~(1UL << ik_fls64(sizes))) {
		size_t p = (size_t)1 << ik_fls64(sizes);
		struct run r = { .pa = pa, .len = size, .off = 0 };
		unsigned int i = 0;
		size_t off = 0;
		bool found;

		if (p > size)
			continue;
		if (!sg) {
			found = run_holds_page(&r, p);
		} else {
			found = false;
			while (!found && next_run(sg, nents, &i, &off, &r))
				found = run_holds_page(&r, p);
		}
		if (found) {
			*align = p;
			*residue = (size_t)((r.pa - r.off) & (p - 1));
			return;
		}
	}
	*align = vm->min_pagesz;
	*residue = 0;
}

/* --- CPU views --- */

/*
 * Give @a a CPU view of @npages 4 KiB pages at @pages: the direct mapping
 * when they are contiguous RAM in one region, a vmap when they are all RAM,
 * none otherwise. 0 or -ENOMEM.
 */
static int make_view(struct iovmm *vm, struct iovm_area *a, const phys_addr_t *pages,
		     size_t npages)
{
	bool contiguous = true;

	for (size_t i = 0; i < npages; i++) {
		if (!ik_mem_ptr(vm->mem, pages[i], IK_PAGE_SIZE))
			return 0; /* not RAM: device-only */
		if (i && pages[i] != pages[i - 1] + IK_PAGE_SIZE)
			contiguous = false;
	}
	if (contiguous) {
		a->va = ik_mem_ptr(vm->mem, pages[0], npages * IK_PAGE_SIZE);
		if (a->va)
			return 0;
	}
	a->va = ik_mem_vmap(vm->mem, pages, npages);
	if (!a->va)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	a->view_pages = npages;
	return 0;
}

/* The 4 KiB pages of @a's memory, in device-address order; NULL on ENOMEM. */
static phys_addr_t *area_pages(const struct iovm_area *a, size_t *npages)
{
	phys_addr_t *pages;
	size_t n = 0;

	*npages = a->size / IK_PAGE_SIZE;
	pages = malloc(*npages * sizeof(*pages));
	if (!pages)
		return NULL;
	if (!a->sg) {
		for (; n < *npages; n++)
			pages[n] = a->pa + n * IK_PAGE_SIZE;
		return pages;
	}
	for (unsigned int i = 0; i < a->nents; i++)
		for (size_t off = 0; off < a->sg[i].length; off += IK_PAGE_SIZE)
			pages[n++] = a->sg[i].phys + off;
	return pages;
}

/* --- making and releasing areas --- */

/* Check caller flags; returns the IOMMU_* permissions to map with, or -EINVAL. */
static int check_flags(uint32_t flags)
{
	uint32_t prot = flags & IOVMF_HW_MASK;

	if ((flags & ~(IOVMF_HW_MASK | IOVMF_DA_FIXED)) || (prot & ~(uint32_t)IOMMU_PROT_MASK))
		return -EINVAL;
	if (!(prot & (IOMMU_READ | IOMMU_WRITE)))
		prot |= IOMMU_READ | IOMMU_WRITE;
	return (int)prot;
}

/*
 * Give @a (memory described, size set) device addresses, map it, give it a
 * CPU view and publish it. On failure everything this did is undone and
 * @a is left for the caller to free.
 */
static dma_addr_t install(struct iovmm *vm, struct iovm_area *a, dma_addr_t da, uint32_t flags,
			  uint32_t kind)
{
	int prot = check_flags(flags);
	phys_addr_t *pages;
	size_t npages;
	int ret;

	if (prot < 0)
		return err_da(prot);
	a->flags = kind | (uint32_t)prot | (flags & IOVMF_DA_FIXED);
	if (flags & IOVMF_DA_FIXED) {
		if (!IS_ALIGNED(da, vm->min_pagesz))
			return err_da(-EINVAL);
		if (da < vm->win_start || da > vm->win_last || a->size - 1 > vm->win_last - da)
			return err_da(-ERANGE);
		ret = take_fixed(vm, da, a->size, &a->iova);
		if (ret == -EBUSY && overlaps_area(vm, da, a->size))
			ret = -EEXIST;
		a->da = da;
	} else {
		size_t align, residue;

		choose_placement(vm, a->sg, a->nents, a->pa, a->size, &align, &residue);
		ret = take_any(vm, a->size, align, residue, &a->iova, &a->da);
	}
	if (ret)
		return err_da(ret);
	ret = insert_area(vm, a);
	if (ret)
		goto free_iova;

	if (a->sg) {
		ssize_t mapped = ik_iommu_map_sg(vm->domain, a->da, a->sg, a->nents, prot,
						 GFP_KERNEL);

		ret = mapped < 0 ? (int)mapped : 0;
		if (!ret && (size_t)mapped != a->size) { /* cannot happen: the core maps all */
			ik_iommu_unmap(vm->domain, a->da, (size_t)mapped);
			ret = -EIO;
		}
	} else {
		ret = ik_iommu_map(vm->domain, a->da, a->pa, a->size, prot, GFP_KERNEL);
	}
	if (ret)
		goto unlink;

	pages = area_pages(a, &npages);
	ret = pages ? make_view(vm, a, pages, npages) : -ENOMEM;
	free(pages);
	if (ret)
		goto unmap;

	pthread_rwlock_wrlock(&vm->lock);
	a->published = true;
	pthread_rwlock_unlock(&vm->lock);
	return a->da;

unmap:
	ik_iommu_unmap(vm->domain, a->da, a->size);
unlink:
	remove_area(vm, a);
free_iova:
	ik___free_iova(vm->iovad, a->iova);
	a->iova = NULL;
	return err_da(ret);
}

/*
 * Unlink the published area that starts at @da and was made by a @kind
 * call. Returns it, or NULL with *err -ENOENT (no area holds @da) or
 * -EINVAL (not its start, or another kind).
 */
static struct iovm_area *unlink_area(struct iovmm *vm, dma_addr_t da, uint32_t kind, int *err)
{
	struct iovm_area *a;
	size_t i;

	if (!vm) {
		*err = -EINVAL;
		return NULL;
	}
	pthread_rwlock_wrlock(&vm->lock);
	a = lookup_locked(vm, da, &i);
	if (!a)
		*err = -ENOENT;
	else if (a->da != da || (a->flags & KIND_MASK) != kind)
		*err = -EINVAL;
	else
		remove_at_locked(vm, i);
	pthread_rwlock_unlock(&vm->lock);
	if (*err)
		return NULL;
	return a;
}

/*
 * Unmap [da, da + size). If someone punched a hole in it behind our back
 * the core stops there; go on past each hole so nothing stays mapped.
 */
static void unmap_all(struct iovmm *vm, dma_addr_t da, size_t size)
{
	size_t done = ik_iommu_unmap(vm->domain, da, size);

	if (done == size)
		return;
	ik_warn("iovmm: area %#llx+%#zx was partly unmapped by someone else",
		(unsigned long long)da, size);
	while (done < size) {
		size_t n = ik_iommu_unmap(vm->domain, da + done, size - done);

		done += n ? n : vm->min_pagesz;
	}
}

/* Free the memory iovmm allocated for @a. */
static void free_memory(struct iovmm *vm, struct iovm_area *a)
{
	uint32_t kind = a->flags & KIND_MASK;

	if (kind == KIND_VMALLOC) {
		for (unsigned int i = 0; i < a->nents; i++)
			ik_mem_free_pages(vm->mem, a->sg[i].phys, a->sg[i].length / IK_PAGE_SIZE);
		free(a->sg);
	} else if (kind == KIND_KMALLOC) {
		ik_mem_free_pages(vm->mem, a->pa, a->alloc_pages);
	}
}

/* Unmap a published, unlinked area and free all it holds. */
static void release(struct iovmm *vm, struct iovm_area *a)
{
	if (a->view_pages)
		ik_mem_vunmap(vm->mem, a->va, a->view_pages);
	unmap_all(vm, a->da, a->size);
	ik___free_iova(vm->iovad, a->iova);
	free_memory(vm, a);
	free(a);
}

/* --- the API --- */

struct iovmm *ik_iovmm_create(struct iommu_domain *domain, dma_addr_t da_start, dma_addr_t da_last)
{
	const struct iommu_domain_geometry *geo;
	struct iovmm *vm;
	unsigned int shift;
	dma_addr_t start, last;
	int ret;

	if (!domain || !(ik_iommu_domain_type(domain) & __IOMMU_DOMAIN_PAGING) ||
	    !ik_iommu_domain_pgsize_bitmap(domain)) {
		errno = EINVAL;
		return NULL;
	}
	geo = ik_iommu_domain_get_geometry(domain);
	start = da_start ? da_start : geo->aperture_start;
	last = da_last ? da_last : geo->aperture_end;
	if (start < geo->aperture_start || last > geo->aperture_end) {
		errno = ERANGE;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		errno = ENOMEM;
		return NULL;
	}
	vm->domain = domain;
	vm->mem = domain->mem;
	vm->pgsize_bitmap = ik_iommu_domain_pgsize_bitmap(domain);
	vm->min_pagesz = (size_t)1 << ik_ffs64(vm->pgsize_bitmap);
	/* Keep clear of the addresses that encode errors. */
	last = ik_min(last, ALIGN_DOWN(DA_ERR_FIRST, vm->min_pagesz) - 1);
	if (!IS_ALIGNED(start, vm->min_pagesz) || !IS_ALIGNED(last + 1, vm->min_pagesz) ||
	    start > last) {
		ret = -EINVAL;
		goto fail;
	}

	if (ik_iommu_domain_type(domain) & __IOMMU_DOMAIN_DMA_API) {
		vm->iovad = iommu_dma_get_iovad ? iommu_dma_get_iovad(domain) : NULL;
		if (!vm->iovad) {
			ret = -ENODEV;
			goto fail;
		}
	} else {
		shift = ik_ffs64(vm->min_pagesz);
		ret = ik_init_iova_domain(&vm->own_iovad, vm->min_pagesz,
					  ik_max(1UL, (unsigned long)(start >> shift)));
		if (ret)
			goto fail;
		vm->iovad = &vm->own_iovad;
		vm->owns_iovad = true;
	}
	shift = ik_iova_shift(vm->iovad);
	/* Whole pfns inside [start, last], none below the allocator's first. */
	vm->lo_pfn = ik_max((unsigned long)((start + vm->iovad->granule - 1) >> shift),
			    vm->iovad->start_pfn);
	vm->limit_pfn = (unsigned long)((last + 1) >> shift) - 1;
	if ((last + 1) >> shift == 0 || vm->lo_pfn > vm->limit_pfn) {
		ret = -EINVAL;
		goto fail_iovad;
	}
	vm->win_start = ik_max(start, (dma_addr_t)vm->iovad->start_pfn << shift);
	vm->win_last = last;
	ret = pthread_rwlock_init(&vm->lock, NULL);
	if (ret) {
		ret = -ret;
		goto fail_iovad;
	}
	return vm;

fail_iovad:
	if (vm->owns_iovad)
		ik_put_iova_domain(&vm->own_iovad);
fail:
	free(vm);
	errno = -ret;
	return NULL;
}

static const char *kind_name(uint32_t flags)
{
	switch (flags & KIND_MASK) {
	case KIND_VMAP:
		return "vmap";
	case KIND_VMALLOC:
		return "vmalloc";
	case KIND_KMAP:
		return "kmap";
	default:
		return "kmalloc";
	}
}

void ik_iovmm_destroy(struct iovmm *vm)
{
	if (!vm)
		return;
	/* Every area is published: install() and frees run inside calls that returned. */
	for (size_t i = 0; i < vm->nr_areas; i++) {
		struct iovm_area *a = vm->areas[i];

		ik_warn("iovmm: %s area %#llx-%#llx still present at destroy; releasing it",
			kind_name(a->flags), (unsigned long long)a->da,
			(unsigned long long)(a->da + a->size - 1));
		release(vm, a);
	}
	free(vm->areas);
	pthread_rwlock_destroy(&vm->lock);
	if (vm->owns_iovad)
		ik_put_iova_domain(&vm->own_iovad);
	free(vm);
}

struct iommu_domain *ik_iovmm_domain(const struct iovmm *vm)
{
	return vm ? vm->domain : NULL;
}

size_t ik_iovmm_nr_areas(struct iovmm *vm)
{
	size_t n = 0;

	if (!vm)
		return 0;
	pthread_rwlock_rdlock(&vm->lock);
	for (size_t i = 0; i < vm->nr_areas; i++)
		n += vm->areas[i]->published;
	pthread_rwlock_unlock(&vm->lock);
	return n;
}

/* @len bytes at @pa: aligned to the smallest page and not empty. */
static bool run_ok(const struct iovmm *vm, phys_addr_t pa, size_t len)
{
	return len && IS_ALIGNED(pa | len, vm->min_pagesz) && pa + len - 1 >= pa;
}

dma_addr_t ik_iommu_vmap(struct iovmm *vm, dma_addr_t da, struct scatterlist *sg,
			 unsigned int nents, uint32_t flags)
{
	struct iovm_area *a;
	size_t size = 0;
	dma_addr_t ret;

	if (!vm || !sg || !nents)
		return err_da(-EINVAL);
	for (unsigned int i = 0; i < nents; i++) {
		if (!run_ok(vm, sg[i].phys, sg[i].length) || size + sg[i].length < size)
			return err_da(-EINVAL);
		size += sg[i].length;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_da(-ENOMEM);
	a->sg = sg;
	a->nents = nents;
	a->size = size;
	ret = install(vm, a, da, flags, KIND_VMAP);
	if (ik_iovmm_is_err(ret)) {
		free(a);
		return ret;
	}
	/* @a may already be freed by another thread: use only locals now. */
	size = 0;
	for (unsigned int i = 0; i < nents; i++) {
		sg[i].dma_address = ret + size;
		sg[i].dma_length = sg[i].length;
		size += sg[i].length;
	}
	return ret;
}

struct scatterlist *ik_iommu_vunmap(struct iovmm *vm, dma_addr_t da)
{
	struct scatterlist *sg;
	struct iovm_area *a;
	int err = 0;

	a = unlink_area(vm, da, KIND_VMAP, &err);
	if (!a) {
		errno = -err;
		return NULL;
	}
	sg = a->sg;
	release(vm, a);
	return sg;
}

/* Round a size to allocate up to the smallest page; 0 for 0 or overflow. */
static size_t alloc_size(const struct iovmm *vm, size_t bytes)
{
	size_t size = ALIGN_UP(bytes, vm->min_pagesz);

	return size >= bytes ? size : 0;
}

dma_addr_t ik_iommu_vmalloc(struct iovmm *vm, dma_addr_t da, size_t bytes, uint32_t flags)
{
	size_t size = vm ? alloc_size(vm, bytes) : 0;
	struct iovm_area *a;
	dma_addr_t ret;
	size_t n;

	if (!size || check_flags(flags) < 0 || size / vm->min_pagesz > UINT32_MAX)
		return err_da(-EINVAL);
	n = size / vm->min_pagesz;
	a = calloc(1, sizeof(*a));
	if (a)
		a->sg = calloc(n, sizeof(*a->sg));
	if (!a || !a->sg) {
		free(a);
		return err_da(-ENOMEM);
	}
	a->size = size;
	/* One smallest page at a time: the memory need not be contiguous. */
	for (a->nents = 0; a->nents < n; a->nents++) {
		phys_addr_t pa;

		if (ik_mem_alloc_pages(vm->mem, vm->min_pagesz / IK_PAGE_SIZE, vm->min_pagesz,
				       &pa)) {
			ret = err_da(-ENOMEM);
			goto fail;
		}
		sg_set_phys(&a->sg[a->nents], pa, (unsigned int)vm->min_pagesz);
	}
	ret = install(vm, a, da, flags, KIND_VMALLOC);
	if (!ik_iovmm_is_err(ret))
		return ret;
fail:
	for (unsigned int i = 0; i < a->nents; i++)
		ik_mem_free_pages(vm->mem, a->sg[i].phys, vm->min_pagesz / IK_PAGE_SIZE);
	free(a->sg);
	free(a);
	errno = -ik_iovmm_errno(ret);
	return ret;
}

int ik_iommu_vfree(struct iovmm *vm, dma_addr_t da)
{
	int err = 0;
	struct iovm_area *a = unlink_area(vm, da, KIND_VMALLOC, &err);

	if (a)
		release(vm, a);
	return err;
}

dma_addr_t ik_iommu_kmap(struct iovmm *vm, dma_addr_t da, phys_addr_t pa, size_t bytes,
			 uint32_t flags)
{
	struct iovm_area *a;
	dma_addr_t ret;

	if (!vm || !run_ok(vm, pa, bytes))
		return err_da(-EINVAL);
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_da(-ENOMEM);
	a->pa = pa;
	a->size = bytes;
	ret = install(vm, a, da, flags, KIND_KMAP);
	if (ik_iovmm_is_err(ret))
		free(a);
	return ret;
}

int ik_iommu_kunmap(struct iovmm *vm, dma_addr_t da)
{
	int err = 0;
	struct iovm_area *a = unlink_area(vm, da, KIND_KMAP, &err);

	if (a)
		release(vm, a);
	return err;
}

dma_addr_t ik_iommu_kmalloc(struct iovmm *vm, dma_addr_t da, size_t bytes, uint32_t flags)
{
	size_t size = vm ? alloc_size(vm, bytes) : 0;
	unsigned long sizes;
	struct iovm_area *a;
	dma_addr_t ret;
	int err = -ENOMEM;

	if (!size || check_flags(flags) < 0)
		return err_da(-EINVAL);
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_da(-ENOMEM);
	a->size = size;
	a->alloc_pages = size / IK_PAGE_SIZE;
	/* Aligned to the largest page it holds, or the next one down if memory is short. */
	sizes = vm->pgsize_bitmap & GENMASK_ULL(ik_fls64(size), 0);
	while (sizes && err) {
		size_t align = (size_t)1 << ik_fls64(sizes);

		sizes &= ~(unsigned long)align;
		err = ik_mem_alloc_pages(vm->mem, a->alloc_pages, ik_max(align, IK_PAGE_SIZE),
					 &a->pa);
	}
	if (err) {
		free(a);
		return err_da(-ENOMEM);
	}
	ret = install(vm, a, da, flags, KIND_KMALLOC);
	if (ik_iovmm_is_err(ret)) {
		ik_mem_free_pages(vm->mem, a->pa, a->alloc_pages);
		free(a);
		errno = -ik_iovmm_errno(ret);
	}
	return ret;
}

int ik_iommu_kfree(struct iovmm *vm, dma_addr_t da)
{
	int err = 0;
	struct iovm_area *a = unlink_area(vm, da, KIND_KMALLOC, &err);

	if (a)
		release(vm, a);
	return err;
}

void *ik_da_to_va(struct iovmm *vm, dma_addr_t da)
{
	struct iovm_area *a;
	void *va = NULL;
	int err = 0;

	if (!vm) {
		errno = EINVAL;
		return NULL;
	}
	pthread_rwlock_rdlock(&vm->lock);
	a = lookup_locked(vm, da, NULL);
	if (!a)
		err = ENOENT;
	else if (!a->va)
		err = ENXIO;
	else
		va = (char *)a->va + (da - a->da);
	pthread_rwlock_unlock(&vm->lock);
	if (err)
		errno = err;
	return va;
}

int ik_find_iovm_area(struct iovmm *vm, dma_addr_t da, struct iovm_struct *area)
{
	struct iovm_area *a;
	int ret = 0;

	if (!vm || !area)
		return -EINVAL;
	pthread_rwlock_rdlock(&vm->lock);
	a = lookup_locked(vm, da, NULL);
	if (a) {
		uint32_t kind = a->flags & KIND_MASK;

		*area = (struct iovm_struct){
			.da_start = a->da,
			.da_end = a->da + a->size,
			.flags = a->flags,
			.va = a->va,
			.sg = kind == KIND_VMAP ? a->sg : NULL,
			.nents = kind == KIND_VMAP ? a->nents : 0,
			.pa = a->sg ? 0 : a->pa,
		};
	} else {
		ret = -ENOENT;
	}
	pthread_rwlock_unlock(&vm->lock);
	return ret;
}
