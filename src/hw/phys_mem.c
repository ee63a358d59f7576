// SPDX-License-Identifier: MIT
/*
 * Simulated physical memory: RAM regions at arbitrary 64-bit bases and a
 * page allocator with per-page metadata, serving page tables and DMA
 * buffers.
 *
 * Each region's bytes live in a memfd as large as the region. A tmpfs file
 * is sparse: a page exists only once it is touched, so a machine with
 * gigabytes of RAM costs only the pages that are used. The file is mapped
 * shared once as the region's direct mapping (ik_mem_ptr() and friends);
 * ik_mem_vmap() maps chosen pages of it again, in any order, into a fresh
 * contiguous range, as Linux's vmap() builds a virtually contiguous view of
 * scattered pages. Both mappings reach the same file pages, so a byte
 * written through one is read back through the other.
 *
 * The vmaps are kept in an array sorted by address under a read-write lock,
 * so that ik_mem_virt_to_phys() (on the dma_map_single() path) is a binary
 * search under a shared lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ik/log.h"
#include "ik/mem.h"

/* Allocations this large are zeroed by dropping their pages from the file. */
#define ZERO_BY_PUNCH_PAGES 64

static void *map_sparse(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Back @r with a sparse memfd of its size and map it shared; false on failure. */
static bool region_map_ram(struct ik_mem_region *r)
{
	void *p;

	r->fd = memfd_create(r->name, MFD_CLOEXEC);
	if (r->fd < 0)
		return false;
	if (ftruncate(r->fd, (off_t)r->size))
		return false;
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r->fd, 0);
	if (p == MAP_FAILED)
		return false;
	r->host = p;
	r->cpu_host = p; /* until a CPU cache holds pages (cpu_cache.c) */
	return true;
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
	mem->alloc_budget = -1;
	pthread_mutex_init(&mem->lock, NULL);
	pthread_rwlock_init(&mem->vmap_lock, NULL);
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
		r->fd = -1;
		mem->nr_regions++;
		if (!region_map_ram(r))
			goto fail;
		r->meta = map_sparse(r->nr_pages * sizeof(*r->meta));
		r->bitmap = map_sparse(ALIGN_UP(r->nr_pages, 64) / 8);
		if (!r->meta || !r->bitmap)
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
	if (mem->nr_vmaps)
		ik_warn("mem: %zu vmaps still mapped at destroy; unmapping them", mem->nr_vmaps);
	for (size_t i = 0; i < mem->nr_vmaps; i++) {
		munmap(mem->vmaps[i].addr, mem->vmaps[i].npages << IK_PAGE_SHIFT);
		free(mem->vmaps[i].pages);
	}
	free(mem->vmaps);
	pthread_rwlock_destroy(&mem->vmap_lock);
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct ik_mem_region *r = &mem->regions[i];
		if (r->host)
			munmap(r->host, r->size);
		if (r->fd >= 0)
			close(r->fd);
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

/*
 * Zero pages [idx, idx + npages) of @r. A large run is punched out of the
 * file instead of written: it reads back as zeroes and costs no memory
 * until touched again, as a fresh region does.
 */
static void zero_pages(struct ik_mem_region *r, size_t idx, size_t npages)
{
	off_t off = (off_t)idx << IK_PAGE_SHIFT, len = (off_t)npages << IK_PAGE_SHIFT;

	if (npages >= ZERO_BY_PUNCH_PAGES &&
	    !fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		return;
	memset(r->host + off, 0, (size_t)len);
}

static int sim_alloc_pages(struct ik_mem *mem, size_t npages, size_t align, phys_addr_t *pa)
{
	if (!npages || !pa || align < IK_PAGE_SIZE || (align & (align - 1)))
		return -EINVAL;
	size_t align_pages = align >> IK_PAGE_SHIFT;
	pthread_mutex_lock(&mem->lock);
	if (mem->alloc_budget >= 0) {
		if ((size_t)mem->alloc_budget < npages) {
			pthread_mutex_unlock(&mem->lock);
			return -ENOMEM;
		}
		mem->alloc_budget -= (long)npages;
	}
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
		zero_pages(r, idx, npages);
		*pa = r->base + ((phys_addr_t)idx << IK_PAGE_SHIFT);
		return 0;
	}
	if (mem->alloc_budget >= 0)
		mem->alloc_budget += (long)npages; /* nothing was handed out */
	pthread_mutex_unlock(&mem->lock);
	return -ENOMEM;
}

int ik_mem_fail_after(struct ik_mem *mem, long npages)
{
	if (!mem || npages < -1)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	mem->alloc_budget = npages;
	pthread_mutex_unlock(&mem->lock);
	return 0;
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
	for (size_t k = 0; k < npages; k++) {
		bit_clear(r->bitmap, idx + k);
		/* Its contents are dead: no CPU cache holds it any more. */
		__atomic_and_fetch(&r->meta[idx + k].flags, ~IK_PAGE_CPU_HELD, __ATOMIC_RELAXED);
	}
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
bool ik_mem_range_is_ram(struct ik_mem *mem, phys_addr_t pa, size_t len)
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

/* A CPU access of @len bytes at @pa; even an empty one must start in RAM. */
static bool access_ok(struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	return ik_mem_region_of(mem, pa) && ik_mem_range_is_ram(mem, pa, len);
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
	if (!mem || (!buf && len) || !access_ok(mem, pa, len))
		return -EFAULT;
	for_each_piece(mem, pa, len, piece_read, buf);
	return 0;
}

int ik_mem_write(struct ik_mem *mem, phys_addr_t pa, const void *buf, size_t len)
{
	if (!mem || (!buf && len) || !access_ok(mem, pa, len))
		return -EFAULT;
	/* The buffer is only read: the cast serves the shared callback type. */
	for_each_piece(mem, pa, len, piece_write, (void *)buf);
	return 0;
}

int ik_mem_fill(struct ik_mem *mem, phys_addr_t pa, int byte, size_t len)
{
	if (!mem || !access_ok(mem, pa, len))
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

/* --- contiguous views of scattered pages --- */

/* Index of the first vmap that starts above @addr, under vmap_lock. */
static size_t vmap_upper_bound(const struct ik_mem *mem, uintptr_t addr)
{
	size_t lo = 0, hi = mem->nr_vmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)mem->vmaps[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int vmap_insert(struct ik_mem *mem, const struct ik_mem_vmap *v)
{
	pthread_rwlock_wrlock(&mem->vmap_lock);
	if (mem->nr_vmaps == mem->vmap_cap) {
		size_t cap = mem->vmap_cap ? 2 * mem->vmap_cap : 16;
		struct ik_mem_vmap *t = realloc(mem->vmaps, cap * sizeof(*t));

		if (!t) {
			pthread_rwlock_unlock(&mem->vmap_lock);
			return -ENOMEM;
		}
		mem->vmaps = t;
		mem->vmap_cap = cap;
	}
	size_t i = vmap_upper_bound(mem, (uintptr_t)v->addr);

	memmove(&mem->vmaps[i + 1], &mem->vmaps[i], (mem->nr_vmaps - i) * sizeof(*v));
	mem->vmaps[i] = *v;
	mem->nr_vmaps++;
	pthread_rwlock_unlock(&mem->vmap_lock);
	return 0;
}

/*
 * Map @npages pages of @pages (validated: in RAM, 4 KiB aligned) into the
 * reserved range at @base, one mmap() per run of pages that are adjacent
 * in one region.
 */
static int vmap_map_pages(struct ik_mem *mem, uint8_t *base, const phys_addr_t *pages,
			  size_t npages)
{
	size_t i = 0;

	while (i < npages) {
		struct ik_mem_region *r = ik_mem_region_of(mem, pages[i]);
		size_t j = i + 1;

		while (j < npages && pages[j] == pages[j - 1] + IK_PAGE_SIZE &&
		       pages[j] - r->base < r->size)
			j++;
		void *p = mmap(base + (i << IK_PAGE_SHIFT), (j - i) << IK_PAGE_SHIFT,
			       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r->fd,
			       (off_t)(pages[i] - r->base));
		if (p == MAP_FAILED)
			return -ENOMEM;
		i = j;
	}
	return 0;
}

/**
 * ik_mem_vmap - a contiguous CPU view of scattered physical pages
 * @mem: physical memory
 * @pages: physical address of each page of the view, 4 KiB aligned, in RAM;
 *         a page may appear more than once
 * @npages: number of pages, at least one
 *
 * The view's bytes are physical memory itself: what the CPU writes through
 * it, ik_mem_read() and devices see, and the other way round. Each run of
 * physically adjacent pages costs one host mapping, and the host limits a
 * process's mappings (vm.max_map_count), so very fragmented views fail
 * sooner than contiguous ones.
 *
 * Return: the view, valid until ik_mem_vunmap(); NULL with errno EINVAL
 * (NULL argument, no pages, a page unaligned or outside RAM), ENOMEM, or
 * EOPNOTSUPP on a host whose pages are not 4 KiB.
 */
void *ik_mem_vmap(struct ik_mem *mem, const phys_addr_t *pages, size_t npages)
{
	struct ik_mem_vmap v = { .npages = npages };
	int ret = -EINVAL;

	if (!mem || !pages || !npages || npages > (SIZE_MAX >> IK_PAGE_SHIFT))
		goto fail;
	for (size_t i = 0; i < npages; i++)
		if (!IS_ALIGNED(pages[i], IK_PAGE_SIZE) || !ik_mem_region_of(mem, pages[i]))
			goto fail;
	ret = -EOPNOTSUPP;
	if (sysconf(_SC_PAGESIZE) != (long)IK_PAGE_SIZE)
		goto fail; /* file offsets of 4 KiB pages cannot be mapped */

	ret = -ENOMEM;
	v.pages = malloc(npages * sizeof(*v.pages));
	if (!v.pages)
		goto fail;
	memcpy(v.pages, pages, npages * sizeof(*v.pages));
	/* Reserve the whole range, then map the pages over it. */
	void *base = mmap(NULL, npages << IK_PAGE_SHIFT, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto fail_free;
	v.addr = base;
	ret = vmap_map_pages(mem, v.addr, pages, npages);
	if (!ret)
		ret = vmap_insert(mem, &v);
	if (!ret)
		return v.addr;
	munmap(base, npages << IK_PAGE_SHIFT);
fail_free:
	free(v.pages);
fail:
	errno = -ret;
	return NULL;
}

/**
 * ik_mem_vunmap - release a view made by ik_mem_vmap()
 * @mem: physical memory
 * @addr: the view (NULL: nothing to do)
 * @npages: its size in pages, as passed to ik_mem_vmap()
 *
 * An address that is not a live view, or a wrong size, is reported and
 * changes nothing. The pages themselves are untouched.
 */
void ik_mem_vunmap(struct ik_mem *mem, void *addr, size_t npages)
{
	struct ik_mem_vmap v;

	if (!mem || !addr)
		return;
	pthread_rwlock_wrlock(&mem->vmap_lock);
	size_t i = vmap_upper_bound(mem, (uintptr_t)addr);

	if (!i || mem->vmaps[i - 1].addr != addr || mem->vmaps[i - 1].npages != npages) {
		pthread_rwlock_unlock(&mem->vmap_lock);
		ik_err("mem: vunmap of %p (%zu pages), which is not a vmap of that size",
		       addr, npages);
		return;
	}
	v = mem->vmaps[i - 1];
	memmove(&mem->vmaps[i - 1], &mem->vmaps[i], (mem->nr_vmaps - i) * sizeof(v));
	mem->nr_vmaps--;
	pthread_rwlock_unlock(&mem->vmap_lock);
	munmap(v.addr, v.npages << IK_PAGE_SHIFT);
	free(v.pages);
}

/**
 * ik_mem_virt_to_phys - physical address of a CPU pointer
 * @mem: physical memory
 * @addr: a pointer into a region's direct mapping (ik_mem_ptr()) or into a
 *        live view (ik_mem_vmap())
 * @pa: the physical address, on success
 *
 * Return: 0; -EINVAL for NULL @mem or @pa; -EFAULT if @addr is neither.
 */
int ik_mem_virt_to_phys(struct ik_mem *mem, const void *addr, phys_addr_t *pa)
{
	uintptr_t a = (uintptr_t)addr;
	int ret = -EFAULT;

	if (!mem || !pa)
		return -EINVAL;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct ik_mem_region *r = &mem->regions[i];

		if (a - (uintptr_t)r->host < r->size) {
			*pa = r->base + (a - (uintptr_t)r->host);
			return 0;
		}
	}
	pthread_rwlock_rdlock(&mem->vmap_lock);
	size_t i = vmap_upper_bound(mem, a);

	if (i) {
		const struct ik_mem_vmap *v = &mem->vmaps[i - 1];
		size_t off = a - (uintptr_t)v->addr;

		if (off >> IK_PAGE_SHIFT < v->npages) {
			*pa = v->pages[off >> IK_PAGE_SHIFT] + (off & (IK_PAGE_SIZE - 1));
			ret = 0;
		}
	}
	pthread_rwlock_unlock(&mem->vmap_lock);
	return ret;
}
