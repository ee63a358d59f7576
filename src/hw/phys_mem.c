// SPDX-License-Identifier: MIT
/*
 * Simulated physical memory: RAM regions at arbitrary 64-bit bases, each a
 * sparse (MAP_NORESERVE) host mapping, so a machine with gigabytes of RAM
 * costs only the pages that are touched; and a page allocator with per-page
 * metadata, serving page tables and DMA buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ik/log.h"
#include "ik/mem.h"

static void *map_sparse(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static bool regions_valid(const struct ik_region_desc *rd, unsigned int nr)
{
	if (!rd || nr == 0)
		return false;
	for (unsigned int i = 0; i < nr; i++) {
		if (!rd[i].size || !IS_ALIGNED(rd[i].base, IK_PAGE_SIZE) ||
		    !IS_ALIGNED(rd[i].size, IK_PAGE_SIZE) ||
		    rd[i].base + rd[i].size - 1 < rd[i].base)
			return false;
		/* Compare last bytes: a region may end at the top of the space. */
		for (unsigned int j = 0; j < i; j++)
			if (rd[i].base <= rd[j].base + (rd[j].size - 1) &&
			    rd[j].base <= rd[i].base + (rd[i].size - 1))
				return false;
	}
	return true;
}

struct ik_mem *ik_sim_mem_create(const struct ik_region_desc *rd, unsigned int nr)
{
	if (!regions_valid(rd, nr)) {
		errno = EINVAL;
		return NULL;
	}
	struct ik_mem *mem = calloc(1, sizeof(*mem));
	if (!mem)
		return NULL;
	mem->ops = &ik_sim_mem_ops;
	pthread_mutex_init(&mem->lock, NULL);
	mem->regions = calloc(nr, sizeof(*mem->regions));
	if (!mem->regions)
		goto fail;
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_mem_region *r = &mem->regions[i];
		snprintf(r->name, sizeof(r->name), "%s", rd[i].name ? rd[i].name : "ram");
		r->base = rd[i].base;
		r->size = rd[i].size;
		r->nr_pages = rd[i].size >> IK_PAGE_SHIFT;
		r->nr_free = r->nr_pages;
		r->host = map_sparse(r->size);
		r->meta = map_sparse(r->nr_pages * sizeof(*r->meta));
		r->bitmap = map_sparse(ALIGN_UP(r->nr_pages, 64) / 8);
		mem->nr_regions++;
		if (!r->host || !r->meta || !r->bitmap)
			goto fail;
	}
	return mem;
fail:
	ik_mem_destroy(mem);
	errno = ENOMEM;
	return NULL;
}

void ik_mem_destroy(struct ik_mem *mem)
{
	if (!mem)
		return;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct ik_mem_region *r = &mem->regions[i];
		if (r->host)
			munmap(r->host, r->size);
		if (r->meta)
			munmap(r->meta, r->nr_pages * sizeof(*r->meta));
		if (r->bitmap)
			munmap(r->bitmap, ALIGN_UP(r->nr_pages, 64) / 8);
	}
	pthread_mutex_destroy(&mem->lock);
	free(mem->regions);
	free(mem);
}

static bool bit_test(const uint64_t *bm, size_t i) { return bm[i / 64] >> (i % 64) & 1; }
static void bit_set(uint64_t *bm, size_t i) { bm[i / 64] |= 1ULL << (i % 64); }
static void bit_clear(uint64_t *bm, size_t i) { bm[i / 64] &= ~(1ULL << (i % 64)); }

/* First free run of @npages in @r at or after @from, aligned to @align_pages. */
static bool find_run(struct ik_mem_region *r, size_t from, size_t npages, size_t align_pages,
		     size_t *out)
{
	/* Alignment is of the physical address, not of the region index. */
	size_t base_pfn = r->base >> IK_PAGE_SHIFT;
	size_t i = ALIGN_UP(base_pfn + from, align_pages) - base_pfn;
	while (i + npages <= r->nr_pages) {
		if ((i % 64) == 0 && r->bitmap[i / 64] == ~0ULL) {
			i = ALIGN_UP(base_pfn + i + 64, align_pages) - base_pfn;
			continue; /* a fully used word */
		}
		size_t j = 0;
		while (j < npages && !bit_test(r->bitmap, i + j))
			j++;
		if (j == npages) {
			*out = i;
			return true;
		}
		i = ALIGN_UP(base_pfn + i + j + 1, align_pages) - base_pfn;
	}
	return false;
}

static int sim_alloc_pages(struct ik_mem *mem, size_t npages, size_t align, phys_addr_t *pa)
{
	if (!npages || !pa || align < IK_PAGE_SIZE || (align & (align - 1)))
		return -EINVAL;
	size_t align_pages = align >> IK_PAGE_SHIFT;
	pthread_mutex_lock(&mem->lock);
	for (unsigned int ri = 0; ri < mem->nr_regions; ri++) {
		struct ik_mem_region *r = &mem->regions[ri];
		size_t idx;
		if (r->nr_free < npages)
			continue;
		if (!find_run(r, r->hint, npages, align_pages, &idx) &&
		    !find_run(r, 0, npages, align_pages, &idx))
			continue;
		for (size_t k = 0; k < npages; k++)
			bit_set(r->bitmap, idx + k);
		r->nr_free -= npages;
		r->hint = idx + npages;
		pthread_mutex_unlock(&mem->lock);
		memset(r->host + (idx << IK_PAGE_SHIFT), 0, npages << IK_PAGE_SHIFT);
		*pa = r->base + ((phys_addr_t)idx << IK_PAGE_SHIFT);
		return 0;
	}
	pthread_mutex_unlock(&mem->lock);
	return -ENOMEM;
}

static void sim_free_pages(struct ik_mem *mem, phys_addr_t pa, size_t npages)
{
	struct ik_mem_region *r = ik_mem_region_of(mem, pa);
	if (!r || !npages || !IS_ALIGNED(pa, IK_PAGE_SIZE) ||
	    npages > r->nr_pages - ((pa - r->base) >> IK_PAGE_SHIFT)) {
		ik_err("mem: free of %zu pages at %#llx outside RAM", npages,
		       (unsigned long long)pa);
		return;
	}
	size_t idx = (pa - r->base) >> IK_PAGE_SHIFT;
	pthread_mutex_lock(&mem->lock);
	for (size_t k = 0; k < npages; k++) {
		if (!bit_test(r->bitmap, idx + k)) {
			pthread_mutex_unlock(&mem->lock);
			ik_err("mem: double free of page %#llx",
			       (unsigned long long)(pa + (k << IK_PAGE_SHIFT)));
			return;
		}
	}
	for (size_t k = 0; k < npages; k++)
		bit_clear(r->bitmap, idx + k);
	r->nr_free += npages;
	/* Reuse what was freed first: it is touched already and likely cached. */
	if (idx < r->hint)
		r->hint = idx;
	pthread_mutex_unlock(&mem->lock);
}

static void sim_destroy(struct ik_mem *mem)
{
	ik_mem_destroy(mem);
}

const struct ik_mem_ops ik_sim_mem_ops = {
	.alloc_pages = sim_alloc_pages,
	.free_pages = sim_free_pages,
	.destroy = sim_destroy,
};

/* --- public CPU-side access --- */

/* Host pointer for [pa, pa + len) if it lies inside one region. */
void *ik_mem_ptr(struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	struct ik_mem_region *r = mem ? ik_mem_region_of(mem, pa) : NULL;
	if (!r || len > r->size - (pa - r->base))
		return NULL;
	return r->host + (pa - r->base);
}

/*
 * CPU accesses may run from one region into an adjacent one: every byte is
 * RAM. The whole range is checked before a byte moves.
 */
static bool range_is_ram(struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	if (len && pa + (len - 1) < pa)
		return false; /* wraps the address space */
	while (len) {
		struct ik_mem_region *r = ik_mem_region_of(mem, pa);
		if (!r)
			return false;
		uint64_t n = ik_min((uint64_t)len, r->size - (pa - r->base));
		pa += n;
		len -= n;
	}
	return true;
}

/* Apply @fn to each host piece of [pa, pa + len), which is RAM. */
static void for_each_piece(struct ik_mem *mem, phys_addr_t pa, size_t len,
			   void (*fn)(uint8_t *host, size_t n, size_t done, void *arg), void *arg)
{
	size_t done = 0;

	while (done < len) {
		struct ik_mem_region *r = ik_mem_region_of(mem, pa);
		size_t n = ik_min((uint64_t)(len - done), r->size - (pa - r->base));
		fn(r->host + (pa - r->base), n, done, arg);
		pa += n;
		done += n;
	}
}

static void piece_read(uint8_t *host, size_t n, size_t done, void *buf)
{
	memcpy((uint8_t *)buf + done, host, n);
}

static void piece_write(uint8_t *host, size_t n, size_t done, void *buf)
{
	memcpy(host, (const uint8_t *)buf + done, n);
}

static void piece_fill(uint8_t *host, size_t n, size_t done, void *byte)
{
	memset(host, *(int *)byte, n);
}

int ik_mem_read(struct ik_mem *mem, phys_addr_t pa, void *buf, size_t len)
{
	if (!mem || (!buf && len) || !range_is_ram(mem, pa, len) || !ik_mem_region_of(mem, pa))
		return -EFAULT;
	for_each_piece(mem, pa, len, piece_read, buf);
	return 0;
}

int ik_mem_write(struct ik_mem *mem, phys_addr_t pa, const void *buf, size_t len)
{
	if (!mem || (!buf && len) || !range_is_ram(mem, pa, len) || !ik_mem_region_of(mem, pa))
		return -EFAULT;
	/* The buffer is only read: the cast serves the shared callback type. */
	for_each_piece(mem, pa, len, piece_write, (void *)buf);
	return 0;
}

int ik_mem_fill(struct ik_mem *mem, phys_addr_t pa, int byte, size_t len)
{
	if (!mem || !range_is_ram(mem, pa, len) || !ik_mem_region_of(mem, pa))
		return -EFAULT;
	for_each_piece(mem, pa, len, piece_fill, &byte);
	return 0;
}

int ik_mem_alloc_pages(struct ik_mem *mem, size_t npages, size_t align, phys_addr_t *pa)
{
	if (!mem)
		return -EINVAL;
	return mem->ops->alloc_pages(mem, npages, align, pa);
}

void ik_mem_free_pages(struct ik_mem *mem, phys_addr_t pa, size_t npages)
{
	if (mem)
		mem->ops->free_pages(mem, pa, npages);
}

size_t ik_mem_free_count(struct ik_mem *mem)
{
	size_t n = 0;
	if (!mem)
		return 0;
	pthread_mutex_lock(&mem->lock);
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		n += mem->regions[i].nr_free;
	pthread_mutex_unlock(&mem->lock);
	return n;
}
