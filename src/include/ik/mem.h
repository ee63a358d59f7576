/* SPDX-License-Identifier: MIT */
/*
 * Physical memory, library-internal view.
 *
 * RAM is a few regions at 64-bit bases, each backed by a sparse memfd that
 * is mapped shared once as the region's direct mapping, so physical-to-host
 * translation is a bounds check and an add. The same file pages can be
 * mapped again, in any order, into a contiguous CPU view (ik_mem_vmap()):
 * bytes written through either mapping are the same physical memory.
 * Pages handed out by the page allocator carry metadata (struct ik_page),
 * as Linux's struct page: page-table formats count live entries in it and
 * the IOTLB gather links freed table pages through it.
 *
 * Allocation goes through ik_mem_ops so that another backing (real process
 * memory under VFIO) can supply pages; the simulated machine's is
 * ik_sim_mem_ops.
 */
#ifndef IK_MEM_H
#define IK_MEM_H

#include <pthread.h>
#include <iommukit/platform.h>
#include "ik/compiler.h"

/* Page metadata. */
struct ik_page {
	/*
	 * IK_PAGE_TABLE_BIAS + live entries of a page-table page; below the
	 * bias (0 for a fresh page) the page is not a live table. Formats own
	 * this field (see src/pgtable/pt-table.h for the protocol).
	 */
	int32_t users;
	uint32_t flags;   /* IK_PAGE_*; atomic */
	phys_addr_t next; /* link in an IOTLB gather's freelist */
};
#define IK_PAGE_TABLE_BIAS ((int32_t)0x40000000)
/*
 * Held in the CPU cache (ik_cpu_cache_hold(), src/hw/cpu_cache.c): the
 * CPU's view of the page is at the region's cpu_host, not its host.
 * Cleared when the page is freed.
 */
#define IK_PAGE_CPU_HELD (1u << 0)
/*
 * The CPU cache may hold ordinary lines of the page (set when it fills
 * one, cleared when ik_cpu_cache_hold() drops them): a hint that spares
 * holding a fresh page the search for lines it cannot have.
 */
#define IK_PAGE_CPU_LINES (1u << 1)

struct ik_mem_region {
	char name[32];
	phys_addr_t base;
	uint64_t size;
	uint8_t *host;        /* direct host mapping of [base, base + size) */
	/*
	 * Where the CPU sees the pages it keeps in its cache (page tables on
	 * a non-coherent machine, IK_PAGE_CPU_HELD): a mapping of its own
	 * owned by the CPU cache model; == host when there is no CPU cache.
	 * Page-table formats read and write tables here, walkers read host.
	 */
	uint8_t *cpu_host;
	int fd;               /* memfd holding the bytes; -1 when not created */
	struct ik_page *meta; /* one per 4 KiB page */
	uint64_t *bitmap;     /* allocator: bit set = page in use */
	size_t nr_pages;
	size_t nr_free;
	size_t hint;          /* next-fit start */
};

struct ik_mem;
struct ik_cpu_cache;
struct ik_mem_ops {
	int (*alloc_pages)(struct ik_mem *mem, size_t npages, size_t align, phys_addr_t *pa);
	void (*free_pages)(struct ik_mem *mem, phys_addr_t pa, size_t npages);
	void (*destroy)(struct ik_mem *mem);
};

/* A contiguous CPU view of scattered pages (ik_mem_vmap()). */
struct ik_mem_vmap {
	uint8_t *addr;
	size_t npages;
	phys_addr_t *pages; /* physical page of each view page */
};

struct ik_mem {
	const struct ik_mem_ops *ops;
	pthread_mutex_t lock; /* allocator state; never held across a call out */
	unsigned int nr_regions;
	struct ik_mem_region *regions;
	/* live vmaps, sorted by address; a leaf lock */
	pthread_rwlock_t vmap_lock;
	struct ik_mem_vmap *vmaps;
	size_t nr_vmaps;
	size_t vmap_cap;
	/* fault injection: pages still allowed before -ENOMEM, -1 unlimited (under lock) */
	long alloc_budget;
	/* The CPU cache in front of this memory (non-coherent machine), else NULL. */
	struct ik_cpu_cache *cpu_cache;
};

extern const struct ik_mem_ops ik_sim_mem_ops;

struct ik_mem *ik_sim_mem_create(const struct ik_region_desc *regions, unsigned int nr);
void ik_mem_destroy(struct ik_mem *mem);

/* Every byte of [pa, pa + len) is RAM (it may run across adjacent regions). */
bool ik_mem_range_is_ram(struct ik_mem *mem, phys_addr_t pa, size_t len);

static inline struct ik_mem_region *ik_mem_region_of(struct ik_mem *mem, phys_addr_t pa)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct ik_mem_region *r = &mem->regions[i];
		if (pa - r->base < r->size)
			return r;
	}
	return NULL;
}

/* Host pointer for @pa, NULL outside RAM. The caller bounds the length. */
static inline void *ik_mem_va(struct ik_mem *mem, phys_addr_t pa)
{
	struct ik_mem_region *r = ik_mem_region_of(mem, pa);
	return r ? r->host + (pa - r->base) : NULL;
}

/* The CPU's view of page-table memory at @pa (see cpu_host), NULL outside RAM. */
static inline void *ik_mem_cpu_va(struct ik_mem *mem, phys_addr_t pa)
{
	struct ik_mem_region *r = ik_mem_region_of(mem, pa);
	return r ? r->cpu_host + (pa - r->base) : NULL;
}

/* Metadata of the RAM page holding @pa, NULL outside RAM. */
static inline struct ik_page *ik_mem_page(struct ik_mem *mem, phys_addr_t pa)
{
	struct ik_mem_region *r = ik_mem_region_of(mem, pa);
	return r ? &r->meta[(pa - r->base) >> IK_PAGE_SHIFT] : NULL;
}

#endif /* IK_MEM_H */
