// SPDX-License-Identifier: MIT
/*
 * The CPU data cache of a non-coherent machine, and the CPU's accesses to
 * memory (ik_cpu_read/ik_cpu_write and cache maintenance).
 *
 * On a SoC like OMAP3 DMA masters are not coherent with the CPU caches: a
 * device reads and writes DRAM, while the CPU reads and writes its cache.
 * Software must clean lines (write dirty data back) before a device reads
 * a buffer and invalidate them (drop stale copies) before the CPU reads
 * what a device wrote. This file models just enough of such a cache for
 * those mistakes to show: a single level standing for the L1 and L2 data
 * caches together.
 *
 * Facts (the default omap3 machine's geometry, src/hw/machine_builtin.c):
 *  - Cortex-A8 TRM (ARM DDI 0344), chapter 8 "Level 2 Memory System",
 *    section "Cache organization": the L2 cache is 8-way set associative
 *    and physically addressed, its size configurable up to 1 MiB.
 *    Chapter 7 "Level 1 Memory System": 64-byte lines; Linux selects
 *    ARM_L1_CACHE_SHIFT_6 (64-byte lines) for every ARMv7 CPU.
 *  - ARMv7-A ARM (ARM DDI 0406C), section B4.2.1 "Cache and branch
 *    predictor maintenance operations": DCCMVAC cleans a line to the point
 *    of coherency (it stays valid), DCIMVAC invalidates it (dirty data is
 *    discarded, not written), DCCIMVAC does both; all act on the whole
 *    line holding the address. Clean, invalidate and flush here are those.
 *
 * Model:
 *  - Write-back, write-allocate; physically indexed and tagged. A line at
 *    physical address pa goes to set (pa / line) % sets, in any of its ways.
 *  - Replacement is exact LRU within a set (hardware uses pseudo-random or
 *    pseudo-LRU policies; exact LRU is one of the behaviours they allow and
 *    makes evictions predictable for tests). A dirty victim is written back
 *    when it is evicted, at a moment the program does not choose: that is
 *    how dirty CPU data reaches memory "by itself" on real hardware.
 *  - A write of a whole line allocates it without reading memory (the
 *    result is the same as a fill followed by the write).
 *
 *  - Held pages: software may ask for a range to be held in the cache for
 *    as long as it stays allocated (ik_cpu_cache_hold(); the page-table
 *    formats do, for every table on a non-coherent machine). Held lines
 *    are never evicted and live in a mapping of their own (the region's
 *    cpu_host), so that the formats keep reading and writing them with
 *    plain atomic accesses, lock-free, while walkers read memory. Cleaning
 *    copies them to memory, invalidating reloads them. This stands for
 *    cache lockdown (the Cortex-A8 L2 can lock ways, TRM chapter 8); its
 *    point here is that a missing clean is never hidden by a lucky
 *    eviction: the walker then reads the stale entry every time.
 *
 * Locking: one mutex per set, taken for each line of an access; an access
 * spanning lines is not atomic (neither is a CPU's). Nothing is allocated
 * after creation. Statistics are per set, under the set's lock, and summed
 * when read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ik/dma.h"
#include "ik/cpu-cache.h"
#include "ik/machine.h"

struct cache_line {
	phys_addr_t tag;   /* physical address of the line */
	uint64_t last_use; /* the set's clock at the last access */
	bool valid;
	bool dirty;
};

struct cache_set {
	pthread_mutex_t lock;
	uint64_t clock;
	struct cache_line *ways;
	uint8_t *data; /* ways * line bytes */
	struct ik_cpu_cache_stats stats;
};

struct ik_cpu_cache {
	struct ik_mem *mem;
	unsigned int line;
	unsigned int line_shift;
	unsigned int size;
	unsigned int ways;
	unsigned int nr_sets;
	struct cache_set *sets;
	struct cache_line *lines;
	uint8_t *data;
	uint8_t **held; /* per memory region: its held-page mapping */
	uint64_t set_mask; /* nr_sets - 1 when a power of two, else 0 */
};

/* --- held pages --- */

/* Give every region a mapping for its held pages and make it the CPU's view. */
static int held_map(struct ik_cpu_cache *c)
{
	struct ik_mem *mem = c->mem;

	if (mem->cpu_cache)
		return -EBUSY; /* one CPU cache per memory */
	c->held = calloc(mem->nr_regions, sizeof(*c->held));
	if (!c->held)
		return -ENOMEM;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		/* Sparse like the RAM itself: only held pages cost memory. */
		void *p = mmap(NULL, mem->regions[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return -ENOMEM;
		c->held[i] = p;
	}
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		mem->regions[i].cpu_host = c->held[i];
	mem->cpu_cache = c;
	return 0;
}

static void held_unmap(struct ik_cpu_cache *c)
{
	struct ik_mem *mem = c->mem;

	if (!c->held)
		return;
	if (mem->cpu_cache == c) {
		for (unsigned int i = 0; i < mem->nr_regions; i++)
			mem->regions[i].cpu_host = mem->regions[i].host;
		mem->cpu_cache = NULL;
	}
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		if (c->held[i])
			munmap(c->held[i], mem->regions[i].size);
	free(c->held);
	c->held = NULL;
}

/**
 * ik_cpu_cache_create - build a CPU cache in front of memory
 * @mem: the memory it caches
 * @line: line size in bytes, a power of two from 16 to 4096
 * @size: total size in bytes, a non-zero multiple of @line
 * @ways: the most ways a set may have (at least 1)
 *
 * Return: the cache, all lines invalid; NULL with errno EINVAL or ENOMEM.
 */
struct ik_cpu_cache *ik_cpu_cache_create(struct ik_mem *mem, unsigned int line,
					 unsigned int size, unsigned int ways)
{
	struct ik_cpu_cache *c;
	unsigned int nr_lines;

	if (!mem || line < 16 || line > IK_PAGE_SIZE || (line & (line - 1)) || !size ||
	    size % line || !ways) {
		errno = EINVAL;
		return NULL;
	}
	nr_lines = size / line;
	/* The largest power of two up to @ways that divides the line count. */
	while (ways & (ways - 1))
		ways &= ways - 1;
	while (nr_lines % ways)
		ways /= 2;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->mem = mem;
	c->line = line;
	c->line_shift = ik_ffs64(line);
	c->size = size;
	c->ways = ways;
	c->nr_sets = nr_lines / ways;
	if (!(c->nr_sets & (c->nr_sets - 1)))
		c->set_mask = c->nr_sets - 1; /* 0 for one set: n % 1 is 0 too */
	c->sets = calloc(c->nr_sets, sizeof(*c->sets));
	c->lines = calloc(nr_lines, sizeof(*c->lines));
	c->data = malloc(size);
	if (!c->sets || !c->lines || !c->data) {
		free(c->sets);
		free(c->lines);
		free(c->data);
		free(c);
		goto nomem;
	}
	for (unsigned int s = 0; s < c->nr_sets; s++) {
		pthread_mutex_init(&c->sets[s].lock, NULL);
		c->sets[s].ways = &c->lines[(size_t)s * ways];
		c->sets[s].data = &c->data[(size_t)s * ways * line];
	}
	int ret = held_map(c);

	if (ret) {
		ik_cpu_cache_destroy(c);
		errno = -ret;
		return NULL;
	}
	return c;
nomem:
	errno = ENOMEM;
	return NULL;
}

/* ik_cpu_cache_destroy - free the cache; dirty lines are lost, as at power-off. */
void ik_cpu_cache_destroy(struct ik_cpu_cache *c)
{
	if (!c)
		return;
	held_unmap(c);
	for (unsigned int s = 0; s < c->nr_sets; s++)
		pthread_mutex_destroy(&c->sets[s].lock);
	free(c->sets);
	free(c->lines);
	free(c->data);
	free(c);
}

static inline struct cache_set *set_of(struct ik_cpu_cache *c, phys_addr_t line_pa)
{
	uint64_t n = line_pa >> c->line_shift;

	/* A mask when the set count is a power of two (it always is built in): no division. */
	return &c->sets[c->set_mask ? n & c->set_mask : n % c->nr_sets];
}

static inline uint8_t *line_data(struct ik_cpu_cache *c, struct cache_set *set,
				 unsigned int way)
{
	return set->data + (size_t)way * c->line;
}

/* Way of @set holding @line_pa, or -1. Under the set's lock. */
static int set_lookup(struct ik_cpu_cache *c, struct cache_set *set, phys_addr_t line_pa)
{
	for (unsigned int w = 0; w < c->ways; w++)
		if (set->ways[w].valid && set->ways[w].tag == line_pa)
			return (int)w;
	return -1;
}

/* Write a dirty line back to memory and mark it clean. Under the set's lock. */
static void line_writeback(struct ik_cpu_cache *c, struct cache_set *set, unsigned int way)
{
	struct cache_line *l = &set->ways[way];

	/* Lines never cross a region: regions are page aligned, lines divide a page. */
	memcpy(ik_mem_va(c->mem, l->tag), line_data(c, set, way), c->line);
	l->dirty = false;
	set->stats.writebacks++;
}

/*
 * Allocate a way of @set for @line_pa: an invalid way if there is one, else
 * the least recently used, written back first if dirty. Fill it from
 * memory if @fill. Under the set's lock.
 */
static unsigned int set_allocate(struct ik_cpu_cache *c, struct cache_set *set,
				 phys_addr_t line_pa, bool fill)
{
	unsigned int victim = 0;

	for (unsigned int w = 0; w < c->ways; w++) {
		if (!set->ways[w].valid) {
			victim = w;
			break;
		}
		if (set->ways[w].last_use < set->ways[victim].last_use)
			victim = w;
	}
	struct cache_line *l = &set->ways[victim];

	if (l->valid) {
		set->stats.evictions++;
		if (l->dirty)
			line_writeback(c, set, victim);
	}
	if (fill)
		memcpy(line_data(c, set, victim), ik_mem_va(c->mem, line_pa), c->line);
	l->tag = line_pa;
	l->valid = true;
	l->dirty = false;
	return victim;
}

/* A CPU access of @len bytes at @pa; even an empty one must start in RAM. */
static bool range_ok(struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	return ik_mem_region_of(mem, pa) && ik_mem_range_is_ram(mem, pa, len);
}

/* --- held pages (see the top of the file) --- */

static inline bool page_held(struct ik_mem *mem, phys_addr_t pa)
{
	const struct ik_page *pg = ik_mem_page(mem, pa);

	return pg && (__atomic_load_n(&pg->flags, __ATOMIC_ACQUIRE) & IK_PAGE_CPU_HELD);
}

/*
 * Copy @n bytes between the held view and memory (or a caller's buffer)
 * with atomic accesses: formats read and write held tables concurrently,
 * lock-free. Whole aligned words where both sides allow, bytes elsewhere.
 */
static void copy_atomic(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (!(((uintptr_t)d | (uintptr_t)s | n) & 7)) {
		for (size_t i = 0; i < n; i += 8)
			__atomic_store_n((uint64_t *)(void *)(d + i),
					 __atomic_load_n((const uint64_t *)(const void *)(s + i),
							 __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
		return;
	}
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&d[i], __atomic_load_n(&s[i], __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
}

/* Whether the held view and memory differ in [pa, pa + n) (within one page). */
static bool held_differs(struct ik_mem *mem, phys_addr_t pa, size_t n)
{
	const uint8_t *cpu = ik_mem_cpu_va(mem, pa), *ram = ik_mem_va(mem, pa);

	if (!((pa | n) & 7)) { /* whole words: a line, or a descriptor */
		for (size_t i = 0; i < n; i += 8)
			if (__atomic_load_n((const uint64_t *)(const void *)(cpu + i),
					    __ATOMIC_ACQUIRE) !=
			    __atomic_load_n((const uint64_t *)(const void *)(ram + i),
					    __ATOMIC_ACQUIRE))
				return true;
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&cpu[i], __ATOMIC_ACQUIRE) !=
		    __atomic_load_n(&ram[i], __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/**
 * ik_cpu_cache_hold - keep [pa, pa + len) in the cache while it is allocated
 * @c: the cache
 * @pa: start, page aligned
 * @len: length, a whole number of pages
 *
 * For memory just allocated: lines the cache still has of the range are
 * dropped (whatever they held is dead), and the CPU's view starts as what
 * memory holds. From then on the CPU reads and writes the range in the
 * cache, at the region's cpu_host, until the pages are freed; maintenance
 * works on it as on any line.
 *
 * Return: 0; -EINVAL for a misaligned range; -EFAULT outside RAM.
 */
int ik_cpu_cache_hold(struct ik_cpu_cache *c, phys_addr_t pa, size_t len)
{
	if (!IS_ALIGNED(pa, IK_PAGE_SIZE) || !IS_ALIGNED(len, IK_PAGE_SIZE))
		return -EINVAL;
	if (!range_ok(c->mem, pa, len))
		return -EFAULT;
	for (size_t off = 0; off < len; off += IK_PAGE_SIZE) {
		phys_addr_t page = pa + off;
		struct ik_page *pg = ik_mem_page(c->mem, page);
		/* Lines only if it had some since it was last held (IK_PAGE_CPU_LINES). */
		bool lines = __atomic_fetch_and(&pg->flags, ~IK_PAGE_CPU_LINES, __ATOMIC_RELAXED) &
			     IK_PAGE_CPU_LINES;

		for (size_t l = 0; lines && l < IK_PAGE_SIZE; l += c->line) {
			struct cache_set *set = set_of(c, page + l);

			pthread_mutex_lock(&set->lock);
			int way = set_lookup(c, set, page + l);

			if (way >= 0) {
				set->ways[way].valid = false;
				set->ways[way].dirty = false;
			}
			pthread_mutex_unlock(&set->lock);
		}
		copy_atomic(ik_mem_cpu_va(c->mem, page), ik_mem_va(c->mem, page), IK_PAGE_SIZE);
		__atomic_or_fetch(&pg->flags, IK_PAGE_CPU_HELD, __ATOMIC_RELEASE);
	}
	return 0;
}

/*
 * Maintenance of one held line: clean copies the CPU's view to memory,
 * invalidate reloads it. Under the set's lock, so that two cleans of one
 * line cannot write memory out of order.
 */
static void held_maint(struct ik_cpu_cache *c, phys_addr_t line_pa, unsigned int op)
{
	uint8_t *cpu = ik_mem_cpu_va(c->mem, line_pa), *ram = ik_mem_va(c->mem, line_pa);
	struct cache_set *set;

	/*
	 * Memory already equal to the CPU's view holds every write made to the
	 * line before this call: a clean has nothing to do (formats clean
	 * table entries they only walked through, mostly clean already).
	 */
	if (op == IK_CPU_CACHE_CLEAN && !held_differs(c->mem, line_pa, c->line))
		return;
	set = set_of(c, line_pa);
	pthread_mutex_lock(&set->lock);
	if (op & IK_CPU_CACHE_CLEAN) {
		if (held_differs(c->mem, line_pa, c->line)) {
			set->stats.cleans++;
			set->stats.writebacks++;
		}
		copy_atomic(ram, cpu, c->line);
	}
	if (op & IK_CPU_CACHE_INVALIDATE) {
		/* The line stays held: it is refilled, as lockdown would. */
		if (!(op & IK_CPU_CACHE_CLEAN) && held_differs(c->mem, line_pa, c->line))
			set->stats.dirty_discards++;
		copy_atomic(cpu, ram, c->line);
		set->stats.invalidates++;
	}
	pthread_mutex_unlock(&set->lock);
}

/**
 * ik_cpu_cache_device_stale - would a device reading memory miss CPU writes?
 * @c: the cache
 * @pa: start of what the device reads
 * @len: its length (a descriptor: within one line)
 *
 * True when the CPU's view of [pa, pa + len) differs from memory: the CPU
 * wrote there and did not clean. For checkers (a walker counts the
 * descriptors it reads stale); it changes nothing.
 */
bool ik_cpu_cache_device_stale(struct ik_cpu_cache *c, phys_addr_t pa, size_t len)
{
	phys_addr_t line_pa = pa & ~((phys_addr_t)c->line - 1);
	bool stale = false;

	if (!len || !range_ok(c->mem, pa, len) || pa + len - line_pa > c->line)
		return false;
	if (page_held(c->mem, pa))
		return held_differs(c->mem, pa, len);

	struct cache_set *set = set_of(c, line_pa);

	pthread_mutex_lock(&set->lock);
	int way = set_lookup(c, set, line_pa);

	if (way >= 0 && set->ways[way].dirty)
		stale = memcmp(line_data(c, set, (unsigned int)way) + (pa - line_pa),
			       ik_mem_va(c->mem, pa), len) != 0;
	pthread_mutex_unlock(&set->lock);
	return stale;
}

/**
 * ik_cpu_cache_access - a CPU read or write through the cache
 * @c: the cache
 * @pa: physical address
 * @buf: bytes to write, or room for the bytes read
 * @len: length; the range may span lines and adjacent RAM regions
 * @write: a write (write-allocate: the line is marked dirty, memory is
 *         unchanged) rather than a read
 *
 * Return: 0; -EFAULT if any byte is outside RAM or @buf is NULL (nothing
 * is accessed then).
 */
int ik_cpu_cache_access(struct ik_cpu_cache *c, phys_addr_t pa, void *buf, size_t len,
			bool write)
{
	uint8_t *p = buf;

	if ((!buf && len) || !range_ok(c->mem, pa, len))
		return -EFAULT;
	while (len) {
		phys_addr_t line_pa = pa & ~((phys_addr_t)c->line - 1);
		size_t off = pa - line_pa, n = ik_min(len, c->line - off);
		struct cache_set *set = set_of(c, line_pa);

		if (page_held(c->mem, line_pa)) {
			uint8_t *cpu = ik_mem_cpu_va(c->mem, pa);

			/* Atomic, lock-free: formats access held tables so too. */
			if (write)
				copy_atomic(cpu, p, n);
			else
				copy_atomic(p, cpu, n);
			pthread_mutex_lock(&set->lock);
			set->stats.hits++;
			pthread_mutex_unlock(&set->lock);
			pa += n;
			p += n;
			len -= n;
			continue;
		}
		pthread_mutex_lock(&set->lock);
		int way = set_lookup(c, set, line_pa);

		if (way >= 0) {
			set->stats.hits++;
		} else {
			set->stats.misses++;
			way = (int)set_allocate(c, set, line_pa, !(write && n == c->line));
			__atomic_or_fetch(&ik_mem_page(c->mem, line_pa)->flags, IK_PAGE_CPU_LINES,
					  __ATOMIC_RELAXED);
		}
		set->ways[way].last_use = ++set->clock;
		if (write) {
			memcpy(line_data(c, set, (unsigned int)way) + off, p, n);
			set->ways[way].dirty = true;
		} else {
			memcpy(p, line_data(c, set, (unsigned int)way) + off, n);
		}
		pthread_mutex_unlock(&set->lock);
		pa += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Apply maintenance @op to way @way of @set. Under the set's lock. */
static void line_maint(struct ik_cpu_cache *c, struct cache_set *set, unsigned int way,
		       unsigned int op)
{
	struct cache_line *l = &set->ways[way];

	if ((op & IK_CPU_CACHE_CLEAN) && l->dirty) {
		line_writeback(c, set, way);
		set->stats.cleans++;
	}
	if (op & IK_CPU_CACHE_INVALIDATE) {
		if (l->dirty)
			set->stats.dirty_discards++;
		l->valid = false;
		l->dirty = false;
		set->stats.invalidates++;
	}
}

/**
 * ik_cpu_cache_maint - clean and/or invalidate by physical range
 * @c: the cache
 * @pa: start of the range
 * @len: its length; every line it touches is maintained whole, as by-address
 *       cache operations act on whole lines
 * @op: IK_CPU_CACHE_CLEAN, IK_CPU_CACHE_INVALIDATE, or both (clean first)
 *
 * A range larger than the cache is done by walking the cache rather than
 * the range, as operating systems switch to set/way operations for big
 * ranges; the result is the same.
 *
 * Return: 0; -EINVAL for a bad @op; -EFAULT if any byte is outside RAM.
 */
int ik_cpu_cache_maint(struct ik_cpu_cache *c, phys_addr_t pa, size_t len, unsigned int op)
{
	if (!op || (op & ~(IK_CPU_CACHE_CLEAN | IK_CPU_CACHE_INVALIDATE)))
		return -EINVAL;
	if (!range_ok(c->mem, pa, len))
		return -EFAULT;
	if (!len)
		return 0;

	const phys_addr_t mask = ~((phys_addr_t)c->line - 1);
	phys_addr_t first = pa & mask, last = (pa + (len - 1)) & mask;
	uint64_t nr_lines = ((last - first) >> c->line_shift) + 1;

	/* Held lines first: they are not in the sets' ways. */
	for (phys_addr_t page = first & ~((phys_addr_t)IK_PAGE_SIZE - 1); page <= last;
	     page += IK_PAGE_SIZE) {
		if (!page_held(c->mem, page))
			continue;
		for (phys_addr_t l = ik_max(page, first); l <= last && l < page + IK_PAGE_SIZE;
		     l += c->line)
			held_maint(c, l, op);
	}
	if (nr_lines > (uint64_t)c->nr_sets * c->ways) {
		for (unsigned int s = 0; s < c->nr_sets; s++) {
			struct cache_set *set = &c->sets[s];

			pthread_mutex_lock(&set->lock);
			for (unsigned int w = 0; w < c->ways; w++)
				if (set->ways[w].valid && set->ways[w].tag >= first &&
				    set->ways[w].tag <= last)
					line_maint(c, set, w, op);
			pthread_mutex_unlock(&set->lock);
		}
		return 0;
	}
	for (uint64_t i = 0; i < nr_lines; i++) {
		phys_addr_t line_pa = first + (i << c->line_shift);

		if (page_held(c->mem, line_pa))
			continue; /* done above; never in the ways */
		struct cache_set *set = set_of(c, line_pa);

		pthread_mutex_lock(&set->lock);
		int way = set_lookup(c, set, line_pa);

		if (way >= 0)
			line_maint(c, set, (unsigned int)way, op);
		pthread_mutex_unlock(&set->lock);
	}
	return 0;
}

void ik_cpu_cache_get_geometry(const struct ik_cpu_cache *c, struct ik_cpu_cache_geometry *g)
{
	*g = (struct ik_cpu_cache_geometry){
		.line = c->line, .size = c->size, .ways = c->ways, .sets = c->nr_sets,
	};
}

enum ik_cpu_line_state ik_cpu_cache_line_state(struct ik_cpu_cache *c, phys_addr_t pa)
{
	phys_addr_t line_pa = pa & ~((phys_addr_t)c->line - 1);
	struct cache_set *set = set_of(c, line_pa);
	enum ik_cpu_line_state st = IK_CPU_LINE_ABSENT;

	if (page_held(c->mem, line_pa)) /* always present; dirty while it differs */
		return held_differs(c->mem, line_pa, c->line) ? IK_CPU_LINE_DIRTY :
								IK_CPU_LINE_CLEAN;
	pthread_mutex_lock(&set->lock);
	int way = set_lookup(c, set, line_pa);

	if (way >= 0)
		st = set->ways[way].dirty ? IK_CPU_LINE_DIRTY : IK_CPU_LINE_CLEAN;
	pthread_mutex_unlock(&set->lock);
	return st;
}

void ik_cpu_cache_get_stats(struct ik_cpu_cache *c, struct ik_cpu_cache_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	for (unsigned int s = 0; s < c->nr_sets; s++) {
		struct cache_set *set = &c->sets[s];

		pthread_mutex_lock(&set->lock);
		stats->hits += set->stats.hits;
		stats->misses += set->stats.misses;
		stats->evictions += set->stats.evictions;
		stats->writebacks += set->stats.writebacks;
		stats->cleans += set->stats.cleans;
		stats->invalidates += set->stats.invalidates;
		stats->dirty_discards += set->stats.dirty_discards;
		pthread_mutex_unlock(&set->lock);
	}
}

void ik_cpu_cache_reset_stats(struct ik_cpu_cache *c)
{
	for (unsigned int s = 0; s < c->nr_sets; s++) {
		pthread_mutex_lock(&c->sets[s].lock);
		memset(&c->sets[s].stats, 0, sizeof(c->sets[s].stats));
		pthread_mutex_unlock(&c->sets[s].lock);
	}
}

/* --- the public CPU view --- */

/**
 * ik_cpu_read - a CPU read of RAM
 * @m: the machine
 * @pa: physical address
 * @buf: where the bytes go
 * @len: length
 *
 * Through the cache on a non-coherent machine, from memory otherwise.
 * Return: 0; -EINVAL for a NULL machine; -EFAULT if any byte is outside
 * RAM or @buf is NULL.
 */
int ik_cpu_read(struct ik_machine *m, phys_addr_t pa, void *buf, size_t len)
{
	struct ik_cpu_cache *c = m ? ik_machine_cpu_cache(m) : NULL;

	if (!m)
		return -EINVAL;
	ik_dma_debug_cpu_access(m, pa, len, false); /* dma-debug's ownership check */
	if (!c)
		return ik_mem_read(ik_machine_mem(m), pa, buf, len);
	return ik_cpu_cache_access(c, pa, buf, len, false);
}

/** ik_cpu_write - a CPU write of RAM; as ik_cpu_read() */
int ik_cpu_write(struct ik_machine *m, phys_addr_t pa, const void *buf, size_t len)
{
	struct ik_cpu_cache *c = m ? ik_machine_cpu_cache(m) : NULL;

	if (!m)
		return -EINVAL;
	ik_dma_debug_cpu_access(m, pa, len, true);
	if (!c)
		return ik_mem_write(ik_machine_mem(m), pa, buf, len);
	/* Only read: the cast serves the shared access function. */
	return ik_cpu_cache_access(c, pa, (void *)buf, len, true);
}

/*
 * Maintenance on @m. A coherent machine has nothing to maintain, but the
 * range is checked alike, so that a bad range fails on every machine.
 */
static int cpu_maint(struct ik_machine *m, phys_addr_t pa, size_t len, unsigned int op)
{
	struct ik_cpu_cache *c = m ? ik_machine_cpu_cache(m) : NULL;

	if (!m)
		return -EINVAL;
	if (!c)
		return range_ok(ik_machine_mem(m), pa, len) ? 0 : -EFAULT;
	return ik_cpu_cache_maint(c, pa, len, op);
}

/**
 * ik_cpu_cache_clean - write dirty lines of [pa, pa + len) back to memory
 * @m: the machine
 * @pa, @len: the range; every line it touches is cleaned whole
 *
 * Return: 0 (also on a coherent machine, where there is nothing to do);
 * -EINVAL for a NULL machine; -EFAULT if any byte is outside RAM.
 */
int ik_cpu_cache_clean(struct ik_machine *m, phys_addr_t pa, size_t len)
{
	return cpu_maint(m, pa, len, IK_CPU_CACHE_CLEAN);
}

/**
 * ik_cpu_cache_invalidate - drop the lines of [pa, pa + len) without writing back
 *
 * Dirty data in those lines is lost, including bytes of partial lines at
 * the ends that lie outside the range. Otherwise as ik_cpu_cache_clean().
 */
int ik_cpu_cache_invalidate(struct ik_machine *m, phys_addr_t pa, size_t len)
{
	return cpu_maint(m, pa, len, IK_CPU_CACHE_INVALIDATE);
}

/** ik_cpu_cache_flush - clean, then invalidate; as ik_cpu_cache_clean() */
int ik_cpu_cache_flush(struct ik_machine *m, phys_addr_t pa, size_t len)
{
	return cpu_maint(m, pa, len, IK_CPU_CACHE_CLEAN | IK_CPU_CACHE_INVALIDATE);
}

/**
 * ik_machine_cpu_cache_stats - counters of the machine's CPU cache
 * Return: 0; -EINVAL for NULL arguments; -ENODEV on a coherent machine.
 */
int ik_machine_cpu_cache_stats(struct ik_machine *m, struct ik_cpu_cache_stats *stats)
{
	struct ik_cpu_cache *c;

	if (!m || !stats)
		return -EINVAL;
	c = ik_machine_cpu_cache(m);
	if (!c)
		return -ENODEV;
	ik_cpu_cache_get_stats(c, stats);
	return 0;
}

/** ik_machine_cpu_cache_reset_stats - zero the counters; as ik_machine_cpu_cache_stats() */
int ik_machine_cpu_cache_reset_stats(struct ik_machine *m)
{
	struct ik_cpu_cache *c;

	if (!m)
		return -EINVAL;
	c = ik_machine_cpu_cache(m);
	if (!c)
		return -ENODEV;
	ik_cpu_cache_reset_stats(c);
	return 0;
}
