// SPDX-License-Identifier: MIT
/*
 * dma-debug: track every live DMA mapping and check each call against it,
 * in the spirit of Linux's kernel/dma/debug.c (its checks, our code).
 *
 * A mapping (one map, map_sg or alloc_coherent call) is recorded with its
 * device, direction and type, its DMA segments (hashed by device and
 * device address, for unmaps and syncs) and its physical ranges (hashed by
 * address, for CPU-access checks). Caught, counted and logged:
 *  - an unmap or free where nothing is mapped, told apart from a double
 *    unmap through a ring of recent unmaps; the call is not passed on, so
 *    it cannot unmap somebody else's mapping that reuses the address;
 *  - an unmap with another size, direction, entry count or type than
 *    mapped: it is done as mapped (single and page are interchangeable),
 *    except that a scatterlist or coherent buffer undone through another
 *    kind of call, or the other way round, is refused, as is an unmap_sg
 *    of a list whose entries changed since it was mapped;
 *  - a sync of a range that is not inside one live streaming mapping, or
 *    in another direction than the mapping's (the direction chooses the
 *    cache maintenance, so a wrong one silently skips some);
 *  - mappings still live when their device leaves its DMA domain (the core
 *    calls ik_dma_domain_detach_dev()), at ik_dma_debug_check_leaks(), and
 *    at exit;
 *  - CPU accesses reported through ik_dma_debug_cpu_access(): to memory a
 *    device owns (mapped, and not handed back by a sync for the CPU): any
 *    write, or a read of a FROM_DEVICE or BIDIRECTIONAL buffer (Linux's
 *    "cpu touching an active dma mapped cacheline"); and to a coherent
 *    buffer's memory after dma_free_coherent() (a ring of recent frees,
 *    forgotten when the memory is DMA-allocated or mapped again).
 *    After a streaming unmap the buffer belongs to the CPU again, so CPU
 *    use after an unmap is the normal order of things and is not flagged.
 *
 * Tracking is exact only when dma-debug is on before the first mapping.
 * If a mapping was made while it was off, an unmap it does not know is
 * passed on (the mapping may predate tracking) and only logged. Switching
 * it off forgets everything.
 *
 * One mutex guards the tables: dma-debug is for tests, not for speed. The
 * counters are atomics, read without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/list.h"
#include "ik/log.h"

#define HASH_SHIFT   13 /* 8 KiB of address per hash step */
#define HASH_BUCKETS 4096
#define RECENT_SLOTS 64
#define FREED_COHERENT_MAX 16

bool ik_dma_debug_on;
bool ik_dma_debug_untracked;

struct dbg_map;

/* A DMA segment: what the device is given. */
struct dbg_seg {
	struct list_head hnode; /* in seg_hash */
	struct dbg_map *map;
	dma_addr_t addr;
	size_t size;
};

/* A physical range behind the mapping. */
struct dbg_phys {
	struct list_head hnode; /* in phys_hash */
	struct dbg_map *map;
	phys_addr_t phys;
	size_t size;
};

struct dbg_map {
	struct list_head node; /* in all_maps, or freed_coherent once freed */
	struct device *dev;
	char dev_name[32];
	struct ik_machine *machine;
	enum dma_data_direction dir;
	enum ik_dma_debug_type type;
	int sg_nents;   /* sg: entries given to map_sg */
	const void *cpu_addr;
	bool cpu_owned; /* synced for the CPU since the last map or sync for the device */
	unsigned int nr_segs, nr_phys;
	struct dbg_seg *segs;
	struct dbg_phys *phys;
};

/* A recent unmap or free, to tell a double unmap from an unmap of nothing. */
struct dbg_recent {
	const struct device *dev;
	dma_addr_t addr;
	enum ik_dma_debug_type type;
	bool valid;
};

static pthread_mutex_t dbg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head all_maps = LIST_HEAD_INIT(all_maps);
/* The last coherent buffers freed, oldest first; their phys ranges are off the hash. */
static struct list_head freed_coherent = LIST_HEAD_INIT(freed_coherent);
static unsigned int nr_freed_coherent;
static struct list_head seg_hash[HASH_BUCKETS];
static struct list_head phys_hash[HASH_BUCKETS];
static bool hash_ready;
static size_t max_seg_size, max_phys_size; /* longest ever tracked: bounds the lookups */
static struct dbg_recent recent[RECENT_SLOTS];
static unsigned int recent_next;
static struct ik_dma_debug_stats stats;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static const char *type_str(enum ik_dma_debug_type type)
{
	switch (type) {
	case IK_DMA_DEBUG_SINGLE:
		return "single";
	case IK_DMA_DEBUG_PAGE:
		return "page";
	case IK_DMA_DEBUG_SG:
		return "scatter-gather";
	default:
		return "coherent";
	}
}

/* Count one failed check of kind @counter (and in errors) and log it. */
static void __attribute__((format(printf, 2, 3))) report(uint64_t *counter, const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (counter)
		__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&stats.errors, 1, __ATOMIC_RELAXED);
	ik_err("DMA-API: %s", msg);
}

/**
 * ik_dma_debug_error - count and log a bad DMA API call
 *
 * For misuse found outside dma-debug's own checks (by argument checks or
 * by the implementations), so that it is counted whether dma-debug is on
 * or not.
 */
void ik_dma_debug_error(const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	__atomic_fetch_add(&stats.errors, 1, __ATOMIC_RELAXED);
	ik_err("%s", msg);
}

static inline unsigned int hash_of(const void *key, uint64_t addr)
{
	uint64_t h = (addr >> HASH_SHIFT) ^ ((uintptr_t)key >> 4);

	return (unsigned int)((h * 0x9e3779b97f4a7c15ULL) >> 40) & (HASH_BUCKETS - 1);
}

/* Under dbg_lock. */
static void hash_init(void)
{
	if (hash_ready)
		return;
	for (unsigned int i = 0; i < HASH_BUCKETS; i++) {
		INIT_LIST_HEAD(&seg_hash[i]);
		INIT_LIST_HEAD(&phys_hash[i]);
	}
	hash_ready = true;
}

static void map_free(struct dbg_map *m)
{
	if (!m)
		return;
	free(m->segs);
	free(m->phys);
	free(m);
}

static struct dbg_map *map_alloc(struct device *dev, unsigned int nr_segs, unsigned int nr_phys)
{
	struct dbg_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->segs = calloc(nr_segs, sizeof(*m->segs));
	m->phys = nr_phys ? calloc(nr_phys, sizeof(*m->phys)) : NULL;
	if (!m->segs || (nr_phys && !m->phys)) {
		map_free(m);
		return NULL;
	}
	m->nr_segs = nr_segs;
	m->nr_phys = nr_phys;
	m->dev = dev;
	m->machine = dev->machine;
	snprintf(m->dev_name, sizeof(m->dev_name), "%s", dev->name);
	return m;
}

/* The range of @m's physical memory that [pa, pa + len) touches, or NULL. */
static const struct dbg_phys *map_phys_overlap(const struct dbg_map *m, phys_addr_t pa,
					       size_t len)
{
	for (unsigned int i = 0; i < m->nr_phys; i++)
		if (m->phys[i].phys < pa + len && pa < m->phys[i].phys + m->phys[i].size)
			return &m->phys[i];
	return NULL;
}

/* Forget freed coherent buffers that overlap [phys, phys + size): reused. Under dbg_lock. */
static void freed_forget_phys(struct ik_machine *machine, phys_addr_t phys, size_t size)
{
	struct dbg_map *m, *tmp;

	list_for_each_entry_safe(m, tmp, &freed_coherent, node) {
		if (m->machine == machine && map_phys_overlap(m, phys, size)) {
			list_del_init(&m->node);
			nr_freed_coherent--;
			map_free(m);
		}
	}
}

/* Keep unlinked coherent @m as recently freed, dropping the oldest. Under dbg_lock. */
static void freed_add(struct dbg_map *m)
{
	if (nr_freed_coherent == FREED_COHERENT_MAX) {
		struct dbg_map *old = list_entry(freed_coherent.next, struct dbg_map, node);

		list_del_init(&old->node);
		nr_freed_coherent--;
		map_free(old);
	}
	list_add_tail(&m->node, &freed_coherent);
	nr_freed_coherent++;
}

/* Enter @m in the tables; under dbg_lock. */
static void map_link(struct dbg_map *m)
{
	hash_init();
	list_add_tail(&m->node, &all_maps);
	for (unsigned int i = 0; i < m->nr_segs; i++) {
		m->segs[i].map = m;
		list_add_tail(&m->segs[i].hnode, &seg_hash[hash_of(m->dev, m->segs[i].addr)]);
		max_seg_size = ik_max(max_seg_size, m->segs[i].size);
	}
	for (unsigned int i = 0; i < m->nr_phys; i++) {
		m->phys[i].map = m;
		list_add_tail(&m->phys[i].hnode, &phys_hash[hash_of(m->machine, m->phys[i].phys)]);
		max_phys_size = ik_max(max_phys_size, m->phys[i].size);
		freed_forget_phys(m->machine, m->phys[i].phys, m->phys[i].size);
	}
	__atomic_fetch_add(&stats.live_mappings, 1, __ATOMIC_RELAXED);
}

/* Take @m out of the tables; under dbg_lock. */
static void map_unlink(struct dbg_map *m)
{
	for (unsigned int i = 0; i < m->nr_segs; i++)
		list_del_init(&m->segs[i].hnode);
	for (unsigned int i = 0; i < m->nr_phys; i++)
		list_del_init(&m->phys[i].hnode);
	list_del_init(&m->node);
	__atomic_fetch_sub(&stats.live_mappings, 1, __ATOMIC_RELAXED);
}

/* Remember an unmap or free of @m; under dbg_lock. */
static void recent_add(const struct dbg_map *m)
{
	recent[recent_next] = (struct dbg_recent){
		.dev = m->dev, .addr = m->segs[0].addr, .type = m->type, .valid = true,
	};
	recent_next = (recent_next + 1) % RECENT_SLOTS;
}

static const struct dbg_recent *recent_find(const struct device *dev, dma_addr_t addr)
{
	for (unsigned int i = 0; i < RECENT_SLOTS; i++)
		if (recent[i].valid && recent[i].dev == dev && recent[i].addr == addr)
			return &recent[i];
	return NULL;
}

/* --- lookups, under dbg_lock --- */

/* The mapping of @dev whose first segment starts at @addr, best matching @type, @size, @dir. */
static struct dbg_map *map_find_exact(const struct device *dev, dma_addr_t addr,
				      enum ik_dma_debug_type type, size_t size,
				      enum dma_data_direction dir)
{
	struct dbg_seg *s;
	struct dbg_map *best = NULL;
	int best_score = -1;

	if (!hash_ready)
		return NULL;
	list_for_each_entry(s, &seg_hash[hash_of(dev, addr)], hnode) {
		struct dbg_map *m = s->map;

		if (m->dev != dev || s->addr != addr || s != &m->segs[0])
			continue;
		int score = (m->type == type) * 4 + (s->size == size) * 2 + (m->dir == dir);
		if (score > best_score) {
			best = m;
			best_score = score;
		}
	}
	return best;
}

/* The segment of @dev that contains [addr, addr + size). */
static struct dbg_seg *seg_find_containing(const struct device *dev, dma_addr_t addr, size_t size)
{
	const uint64_t step = 1ULL << HASH_SHIFT;
	uint64_t a = ALIGN_DOWN(addr, step);
	uint64_t lowest = ALIGN_DOWN(addr > max_seg_size ? addr - max_seg_size : 0, step);

	if (!hash_ready)
		return NULL;
	for (;;) {
		struct dbg_seg *s;

		list_for_each_entry(s, &seg_hash[hash_of(dev, a)], hnode) {
			if (s->map->dev == dev && s->addr <= addr && addr - s->addr < s->size &&
			    size <= s->size - (addr - s->addr))
				return s;
		}
		if (a <= lowest)
			return NULL;
		a -= step;
	}
}

/* --- recording --- */

static void exit_report(void);

static void register_exit_report(void)
{
	atexit(exit_report);
}

static void untracked(const struct device *dev)
{
	__atomic_store_n(&ik_dma_debug_untracked, true, __ATOMIC_RELAXED);
	report(NULL, "out of memory: a mapping of %s goes untracked", dev->name);
}

/*
 * Runs of physically adjacent pages behind a coherent buffer's CPU view,
 * into @out (NULL: count only). Returns how many.
 */
static unsigned int coherent_runs(struct device *dev, const void *cpu_addr, size_t size,
				  struct dbg_phys *out)
{
	const uint8_t *p = cpu_addr;
	unsigned int n = 0;
	phys_addr_t start = 0, pa;
	size_t len = 0;

	for (size_t off = 0; off < size; off += IK_PAGE_SIZE) {
		size_t chunk = ik_min(size - off, IK_PAGE_SIZE);

		if (ik_dma_virt_to_phys(dev, p + off, &pa))
			break;
		if (len && pa == start + len) {
			len += chunk;
			continue;
		}
		if (len && out)
			out[n - 1] = (struct dbg_phys){ .phys = start, .size = len };
		start = pa;
		len = chunk;
		n++;
	}
	if (len && out)
		out[n - 1] = (struct dbg_phys){ .phys = start, .size = len };
	return n;
}

void ik_dma_debug_add(const struct ik_dma_debug_ref *ref)
{
	bool coherent = ref->type == IK_DMA_DEBUG_COHERENT;
	unsigned int nr_phys = 1;
	struct dbg_map *m;

	if (coherent)
		nr_phys = coherent_runs(ref->dev, ref->cpu_addr, ref->size, NULL);
	m = map_alloc(ref->dev, 1, nr_phys);

	if (!m) {
		untracked(ref->dev);
		return;
	}
	m->dir = ref->dir;
	m->type = ref->type;
	m->cpu_addr = ref->cpu_addr;
	m->segs[0].addr = ref->addr;
	m->segs[0].size = ref->size;
	if (coherent) {
		coherent_runs(ref->dev, ref->cpu_addr, ref->size, m->phys);
	} else {
		m->phys[0].phys = ref->phys;
		m->phys[0].size = ref->size;
	}
	pthread_mutex_lock(&dbg_lock);
	map_link(m);
	pthread_mutex_unlock(&dbg_lock);
}

void ik_dma_debug_add_sg(struct device *dev, const struct scatterlist *sg, int nents, int count,
			 enum dma_data_direction dir)
{
	struct dbg_map *m = map_alloc(dev, (unsigned int)count, (unsigned int)nents);

	if (!m) {
		untracked(dev);
		return;
	}
	m->dir = dir;
	m->type = IK_DMA_DEBUG_SG;
	m->sg_nents = nents;
	for (int i = 0; i < count; i++) {
		m->segs[i].addr = sg[i].dma_address;
		m->segs[i].size = sg[i].dma_length;
	}
	for (int i = 0; i < nents; i++) {
		m->phys[i].phys = sg[i].phys;
		m->phys[i].size = sg[i].length;
	}
	pthread_mutex_lock(&dbg_lock);
	map_link(m);
	pthread_mutex_unlock(&dbg_lock);
}

/* The message for an unmap that found nothing; returns the error for the caller. */
static int report_not_mapped(const struct device *dev, dma_addr_t addr, size_t size,
			     const char *what)
{
	const struct dbg_recent *r = recent_find(dev, addr);

	if (__atomic_load_n(&ik_dma_debug_untracked, __ATOMIC_RELAXED)) {
		/* It may be a mapping made while dma-debug was off: let it through. */
		ik_info("DMA-API: %s: %s of %#llx+%#zx, which dma-debug does not know (mapped "
			"while it was off?)",
			dev->name, what, (unsigned long long)addr, size);
		return 0;
	}
	if (r)
		report(&stats.bad_unmap, "%s: %s of %#llx+%#zx: already unmapped (double %s; "
		       "it was a %s mapping)",
		       dev->name, what, (unsigned long long)addr, size, what, type_str(r->type));
	else
		report(&stats.bad_unmap, "%s: %s of %#llx+%#zx: nothing is mapped there",
		       dev->name, what, (unsigned long long)addr, size);
	return -ENOENT;
}

static const char *unmap_name(enum ik_dma_debug_type type)
{
	switch (type) {
	case IK_DMA_DEBUG_SINGLE:
		return "unmap_single";
	case IK_DMA_DEBUG_PAGE:
		return "unmap_page";
	case IK_DMA_DEBUG_SG:
		return "unmap_sg";
	default:
		return "free_coherent";
	}
}

/* Whether undoing a mapping of @mapped through a call for @called is safe. */
static bool kinds_compatible(enum ik_dma_debug_type mapped, enum ik_dma_debug_type called)
{
	bool streaming_single = mapped == IK_DMA_DEBUG_SINGLE || mapped == IK_DMA_DEBUG_PAGE;

	return mapped == called ||
	       (streaming_single && (called == IK_DMA_DEBUG_SINGLE || called == IK_DMA_DEBUG_PAGE));
}

int ik_dma_debug_remove(struct ik_dma_debug_ref *ref)
{
	const char *what = unmap_name(ref->type);
	struct dbg_map *m;

	pthread_mutex_lock(&dbg_lock);
	m = map_find_exact(ref->dev, ref->addr, ref->type, ref->size, ref->dir);
	if (!m) {
		int ret = report_not_mapped(ref->dev, ref->addr, ref->size, what);

		pthread_mutex_unlock(&dbg_lock);
		return ret;
	}
	if (!kinds_compatible(m->type, ref->type)) {
		pthread_mutex_unlock(&dbg_lock);
		report(&stats.bad_unmap, "%s: %s of %#llx, which was mapped as %s; refused",
		       ref->dev->name, what, (unsigned long long)ref->addr, type_str(m->type));
		return -EINVAL;
	}
	if (m->type != ref->type)
		report(&stats.bad_unmap, "%s: %s of %#llx, which was mapped as %s",
		       ref->dev->name, what, (unsigned long long)ref->addr, type_str(m->type));
	if (m->segs[0].size != ref->size)
		report(&stats.bad_unmap, "%s: %s of %#llx with size %#zx, mapped with %#zx; "
		       "unmapping %#zx",
		       ref->dev->name, what, (unsigned long long)ref->addr, ref->size,
		       m->segs[0].size, m->segs[0].size);
	if (m->dir != ref->dir && m->type != IK_DMA_DEBUG_COHERENT)
		report(&stats.bad_unmap, "%s: %s of %#llx as %s, mapped %s",
		       ref->dev->name, what, (unsigned long long)ref->addr, ik_dma_dir_name(ref->dir),
		       ik_dma_dir_name(m->dir));
	if (m->type == IK_DMA_DEBUG_COHERENT && m->cpu_addr != ref->cpu_addr) {
		pthread_mutex_unlock(&dbg_lock);
		report(&stats.bad_unmap, "%s: free_coherent of dma %#llx with CPU address %p, "
		       "allocated at %p; refused",
		       ref->dev->name, (unsigned long long)ref->addr, ref->cpu_addr, m->cpu_addr);
		return -EINVAL;
	}
	ref->size = m->segs[0].size;
	ref->dir = m->dir;
	map_unlink(m);
	recent_add(m);
	if (m->type == IK_DMA_DEBUG_COHERENT)
		freed_add(m); /* its memory is watched for a while */
	else
		map_free(m);
	pthread_mutex_unlock(&dbg_lock);
	return 0;
}

int ik_dma_debug_remove_sg(struct device *dev, const struct scatterlist *sg, int *nents,
			   enum dma_data_direction *dir)
{
	dma_addr_t addr = sg[0].dma_address;
	struct dbg_map *m;
	int i;

	pthread_mutex_lock(&dbg_lock);
	m = map_find_exact(dev, addr, IK_DMA_DEBUG_SG, sg[0].dma_length, *dir);
	if (!m) {
		int ret = report_not_mapped(dev, addr, sg[0].dma_length, "unmap_sg");

		pthread_mutex_unlock(&dbg_lock);
		return ret;
	}
	if (m->type != IK_DMA_DEBUG_SG) {
		pthread_mutex_unlock(&dbg_lock);
		report(&stats.bad_unmap, "%s: unmap_sg at %#llx, which was mapped as %s; refused",
		       dev->name, (unsigned long long)addr, type_str(m->type));
		return -EINVAL;
	}
	if (*nents != m->sg_nents)
		report(&stats.bad_unmap, "%s: unmap_sg at %#llx with %d entries, mapped with %d "
		       "(pass map_sg's nents, not its result)",
		       dev->name, (unsigned long long)addr, *nents, m->sg_nents);
	if (*dir != m->dir)
		report(&stats.bad_unmap, "%s: unmap_sg at %#llx as %s, mapped %s", dev->name,
		       (unsigned long long)addr, ik_dma_dir_name(*dir), ik_dma_dir_name(m->dir));
	/* The unmap lays the list out again from its entries: they must be as mapped. */
	for (i = 0; i < m->sg_nents; i++)
		if (sg[i].phys != m->phys[i].phys || sg[i].length != m->phys[i].size)
			break;
	if (i < m->sg_nents) {
		pthread_mutex_unlock(&dbg_lock);
		report(&stats.bad_unmap, "%s: unmap_sg at %#llx: entry %d changed since the map "
		       "(%#llx+%#x, mapped %#llx+%#zx); refused",
		       dev->name, (unsigned long long)addr, i, (unsigned long long)sg[i].phys,
		       sg[i].length, (unsigned long long)m->phys[i].phys, m->phys[i].size);
		return -EINVAL;
	}
	*nents = m->sg_nents;
	*dir = m->dir;
	map_unlink(m);
	recent_add(m);
	pthread_mutex_unlock(&dbg_lock);
	map_free(m);
	return 0;
}

/* --- syncs --- */

/* Check one sync of [addr, addr + size) against the mapping holding it; under dbg_lock. */
static struct dbg_map *check_sync(struct device *dev, dma_addr_t addr, size_t size,
				  enum dma_data_direction dir, bool for_cpu, const char *what)
{
	struct dbg_seg *s = seg_find_containing(dev, addr, size);
	struct dbg_map *m;

	if (!s) {
		report(&stats.bad_sync, "%s: %s of %#llx+%#zx: not inside a live mapping",
		       dev->name, what, (unsigned long long)addr, size);
		return NULL;
	}
	m = s->map;
	if (m->type == IK_DMA_DEBUG_COHERENT) {
		report(&stats.bad_sync, "%s: %s of %#llx+%#zx: a coherent buffer needs no sync",
		       dev->name, what, (unsigned long long)addr, size);
		return NULL;
	}
	if (m->dir != dir)
		report(&stats.bad_sync, "%s: %s of %#llx+%#zx as %s, mapped %s", dev->name, what,
		       (unsigned long long)addr, size, ik_dma_dir_name(dir), ik_dma_dir_name(m->dir));
	return m;
}

void ik_dma_debug_sync(struct device *dev, dma_addr_t addr, size_t size,
		       enum dma_data_direction dir, bool for_cpu)
{
	const char *what = for_cpu ? "sync_single_for_cpu" : "sync_single_for_device";
	struct dbg_map *m;

	pthread_mutex_lock(&dbg_lock);
	m = check_sync(dev, addr, size, dir, for_cpu, what);
	if (m && m->type == IK_DMA_DEBUG_SG)
		report(&stats.bad_sync, "%s: %s of %#llx+%#zx, part of a scatterlist (use sync_sg)",
		       dev->name, what, (unsigned long long)addr, size);
	if (m)
		m->cpu_owned = for_cpu;
	pthread_mutex_unlock(&dbg_lock);
}

void ik_dma_debug_sync_sg(struct device *dev, const struct scatterlist *sg, int nents,
			  enum dma_data_direction dir, bool for_cpu)
{
	const char *what = for_cpu ? "sync_sg_for_cpu" : "sync_sg_for_device";
	struct dbg_map *first = NULL;

	pthread_mutex_lock(&dbg_lock);
	for (int i = 0; i < nents && sg[i].dma_length; i++) {
		struct dbg_map *m = check_sync(dev, sg[i].dma_address, sg[i].dma_length, dir,
					       for_cpu, what);

		if (!m)
			break;
		if (m->type != IK_DMA_DEBUG_SG) {
			report(&stats.bad_sync, "%s: %s of %#llx: a %s mapping, not a scatterlist",
			       dev->name, what, (unsigned long long)sg[i].dma_address,
			       type_str(m->type));
			break;
		}
		if (!first) {
			first = m;
			if (m->sg_nents != nents)
				report(&stats.bad_sync,
				       "%s: %s at %#llx with %d entries, mapped with %d",
				       dev->name, what, (unsigned long long)sg[i].dma_address,
				       nents, m->sg_nents);
		} else if (m != first) {
			report(&stats.bad_sync, "%s: %s: entry %d belongs to another mapping",
			       dev->name, what, i);
			break;
		}
		m->cpu_owned = for_cpu;
		if ((unsigned int)i + 1 == m->nr_segs)
			break;
	}
	pthread_mutex_unlock(&dbg_lock);
}

/* --- CPU accesses --- */

/**
 * ik_dma_debug_cpu_access - check a CPU access against DMA ownership
 * @m: the machine
 * @pa: physical address accessed
 * @len: bytes
 * @write: a write (else a read)
 *
 * Counts (cpu_device_owned) a CPU access to memory of a live streaming
 * mapping whose device owns it: a write to any, or a read of a
 * FROM_DEVICE or BIDIRECTIONAL one; and (use_after_unmap) an access to a
 * coherent buffer's memory after it was freed. For the CPU access path
 * (ik_cpu_read/ik_cpu_write); a no-op while dma-debug is off.
 */
void ik_dma_debug_cpu_access(struct ik_machine *m, phys_addr_t pa, size_t len, bool write)
{
	const uint64_t step = 1ULL << HASH_SHIFT;

	if (!ik_dma_debug_active() || !m || !len)
		return;
	pthread_mutex_lock(&dbg_lock);
	if (hash_ready) {
		uint64_t lo = ALIGN_DOWN(pa > max_phys_size ? pa - max_phys_size : 0, step);
		uint64_t hi = ALIGN_DOWN(pa + len - 1, step);
		/* Past one pass over the table, more steps only revisit buckets. */
		uint64_t steps = ik_min((hi - lo) / step + 1, (uint64_t)HASH_BUCKETS);
		bool found = false;

		for (uint64_t k = 0; k < steps && !found; k++) {
			struct dbg_phys *p;
			unsigned int b = steps == HASH_BUCKETS ? (unsigned int)k :
							       hash_of(m, lo + k * step);

			list_for_each_entry(p, &phys_hash[b], hnode) {
				struct dbg_map *mp = p->map;

				if (mp->machine != m || mp->cpu_owned || p->phys >= pa + len ||
				    pa >= p->phys + p->size || mp->type == IK_DMA_DEBUG_COHERENT)
					continue;
				if (!write && mp->dir == DMA_TO_DEVICE)
					continue; /* both may read what the device reads */
				report(&stats.cpu_device_owned,
				       "CPU %s of %#llx+%#zx while %s owns it (%s %s mapping at "
				       "%#llx; sync it for the CPU first)",
				       write ? "write" : "read", (unsigned long long)pa, len,
				       mp->dev_name, ik_dma_dir_name(mp->dir), type_str(mp->type),
				       (unsigned long long)mp->segs[0].addr);
				found = true;
				break;
			}
		}
	}
	struct dbg_map *fm;

	list_for_each_entry(fm, &freed_coherent, node) {
		if (fm->machine == m && map_phys_overlap(fm, pa, len)) {
			report(&stats.use_after_unmap, "CPU %s of %#llx+%#zx: memory of a coherent "
			       "buffer %s freed (dma %#llx)",
			       write ? "write" : "read", (unsigned long long)pa, len, fm->dev_name,
			       (unsigned long long)fm->segs[0].addr);
			break;
		}
	}
	pthread_mutex_unlock(&dbg_lock);
}

/* --- leaks --- */

/* Report and forget every mapping of @dev (NULL: all); under dbg_lock. */
static unsigned int leaks_locked(const struct device *dev, const char *when)
{
	struct dbg_map *m, *tmp;
	unsigned int n = 0;

	list_for_each_entry_safe(m, tmp, &all_maps, node) {
		if (dev && m->dev != dev)
			continue;
		report(&stats.leaked, "%s: %s mapping %#llx+%#zx (%s) still live %s",
		       m->dev_name, type_str(m->type), (unsigned long long)m->segs[0].addr,
		       m->segs[0].size, ik_dma_dir_name(m->dir), when);
		map_unlink(m);
		map_free(m);
		n++;
	}
	return n;
}

/**
 * ik_dma_debug_check_leaks - report every mapping @dev still holds
 * @dev: the device
 *
 * Each live mapping is logged, counted in leaked (and errors), and
 * forgotten, so it is reported once. The core calls this (through
 * ik_dma_domain_detach_dev()) when a device leaves its DMA domain; call it
 * yourself before destroying a machine whose direct-mapped devices may
 * still hold mappings.
 *
 * Return: the number of mappings reported; 0 when dma-debug is off.
 */
unsigned int ik_dma_debug_check_leaks(struct device *dev)
{
	unsigned int n;

	if (!dev || !ik_dma_debug_active())
		return 0;
	pthread_mutex_lock(&dbg_lock);
	n = leaks_locked(dev, "at the leak check");
	pthread_mutex_unlock(&dbg_lock);
	return n;
}

void ik_dma_domain_detach_dev(struct iommu_domain *domain, struct device *dev)
{
	if (!ik_dma_debug_active() || !dev)
		return;
	pthread_mutex_lock(&dbg_lock);
	leaks_locked(dev, "when it left its DMA domain");
	pthread_mutex_unlock(&dbg_lock);
}

static void exit_report(void)
{
	if (!ik_dma_debug_active())
		return;
	pthread_mutex_lock(&dbg_lock);
	leaks_locked(NULL, "at exit");
	pthread_mutex_unlock(&dbg_lock);
}

/* --- control --- */

/**
 * ik_dma_debug_set_enabled - switch dma-debug on or off
 * @on: the new state
 *
 * Turn it on before the first mapping for exact tracking. Turning it off
 * forgets every tracked mapping (without reporting them).
 */
void ik_dma_debug_set_enabled(bool on)
{
	pthread_mutex_lock(&dbg_lock);
	if (on) {
		pthread_once(&exit_once, register_exit_report);
		hash_init();
	} else {
		struct dbg_map *m, *tmp;

		list_for_each_entry_safe(m, tmp, &all_maps, node) {
			map_unlink(m);
			map_free(m);
		}
		list_for_each_entry_safe(m, tmp, &freed_coherent, node) {
			list_del_init(&m->node);
			map_free(m);
		}
		nr_freed_coherent = 0;
		memset(recent, 0, sizeof(recent));
	}
	__atomic_store_n(&ik_dma_debug_on, on, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dbg_lock);
}

bool ik_dma_debug_enabled(void)
{
	return ik_dma_debug_active();
}

/** ik_dma_debug_get_stats - the counters (all zero if @stats is NULL: nothing done) */
void ik_dma_debug_get_stats(struct ik_dma_debug_stats *out)
{
	if (!out)
		return;
	out->errors = __atomic_load_n(&stats.errors, __ATOMIC_RELAXED);
	out->leaked = __atomic_load_n(&stats.leaked, __ATOMIC_RELAXED);
	out->bad_unmap = __atomic_load_n(&stats.bad_unmap, __ATOMIC_RELAXED);
	out->bad_sync = __atomic_load_n(&stats.bad_sync, __ATOMIC_RELAXED);
	out->use_after_unmap = __atomic_load_n(&stats.use_after_unmap, __ATOMIC_RELAXED);
	out->live_mappings = __atomic_load_n(&stats.live_mappings, __ATOMIC_RELAXED);
	out->cpu_device_owned = __atomic_load_n(&stats.cpu_device_owned, __ATOMIC_RELAXED);
}

/** ik_dma_debug_reset_stats - zero the counters (live_mappings keeps counting what is live) */
void ik_dma_debug_reset_stats(void)
{
	__atomic_store_n(&stats.errors, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.leaked, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.bad_unmap, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.bad_sync, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.use_after_unmap, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.cpu_device_owned, 0, __ATOMIC_RELAXED);
}
