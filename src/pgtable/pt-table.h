/* SPDX-License-Identifier: MIT */
/*
 * Page-table pages shared by every format: allocation, and the live-entry
 * count that lets a format free a table that became empty while other
 * threads map and unmap disjoint ranges around it without a lock.
 *
 * The count lives in the page's metadata (struct ik_page.users), offset by
 * IK_PAGE_TABLE_BIAS so that zeroed metadata means "not a table":
 *   - pt_table_alloc() adds the bias: a live, empty table;
 *   - a mapper takes a reference for the entries it will write with
 *     pt_table_get() *before* writing them, then re-reads the parent entry:
 *     if it no longer points at this table, it drops the reference and
 *     retries (the table died, or died and was recycled, in between);
 *   - an unmapper drops the references of the entries it cleared with
 *     pt_table_put_kill(): the drop that would bring the count to the bias
 *     kills the table instead (count -> 0, in the same compare-and-swap),
 *     and its caller clears the parent entry and queues the page on the
 *     gather, to be freed after the IOTLB invalidation. A mapper that got
 *     a reference in first keeps the table alive.
 * Every step is an atomic add or a CAS, so transient references taken on a
 * recycled page cancel out and never make a live count wrong (at worst an
 * emptied table stays attached until reused or torn down). The cost is one
 * atomic operation per table touched per call; IO_PGTABLE_QUIRK_KEEP_TABLES
 * skips counting (and freeing) entirely, as Linux does.
 *
 * Emptying and killing must be one step. Seeing the count reach the bias
 * says only that the table was empty at that instant: a mapper may refill
 * it, another unmapper empty, kill and retire it, and the page be freed and
 * allocated again, all before a separate kill runs. A kill that late would claim
 * whatever life the page has then (a new table not yet published, or
 * another table sitting empty) and retire it from a slot it never held.
 *
 * On a non-coherent machine (mem->cpu_cache set) the CPU keeps every table
 * in its cache: formats read and write tables at the CPU's view
 * (ik_mem_cpu_va(), the region's cpu_host) and the walker reads memory.
 * Unless the driver says the walker is coherent (cfg->coherent_walk), a
 * format cleans what it wrote with pt_sync() before the entry can matter to
 * the walker: a table's contents before the entry that points at it, and
 * every entry before the map or unmap returns (Linux's io-pgtable does the
 * same with dma_sync_single_for_device).
 */
#ifndef IK_PT_TABLE_H
#define IK_PT_TABLE_H

#include <errno.h>
#include "ik/compiler.h"
#include "ik/cpu-cache.h"
#include "ik/iommu-driver.h"
#include "ik/mem.h"

/* Allocate a zeroed table of @bytes (a power of two, 4 KiB or more), aligned to its size. */
static inline int pt_table_alloc(struct ik_mem *mem, size_t bytes, phys_addr_t *pa)
{
	size_t npages = bytes >> IK_PAGE_SHIFT;
	int ret = mem->ops->alloc_pages(mem, npages, bytes, pa);
	if (ret)
		return ret;
	/* Zeroed in memory; the CPU's cached view starts the same (pt-table.h top). */
	if (mem->cpu_cache)
		ik_cpu_cache_hold(mem->cpu_cache, *pa, bytes);
	for (size_t i = 0; i < npages; i++) {
		struct ik_page *pg = ik_mem_page(mem, *pa + (i << IK_PAGE_SHIFT));
		__atomic_fetch_add(&pg->users, IK_PAGE_TABLE_BIAS, __ATOMIC_RELAXED);
	}
	return 0;
}

/*
 * The cache a format must clean its table writes from: the CPU cache in
 * front of @mem, unless there is none or the walker snoops it.
 */
static inline struct ik_cpu_cache *pt_clean_cache(struct ik_mem *mem, bool coherent_walk)
{
	return coherent_walk ? NULL : mem->cpu_cache;
}

/*
 * Clean @len bytes of table at @p (a CPU view pointer) to memory for the
 * walker; nothing when @clean is NULL (coherent). Cold: only non-coherent
 * machines get here.
 */
static inline void pt_sync(struct ik_mem *mem, struct ik_cpu_cache *clean, const void *p,
			   size_t len)
{
	if (likely(!clean))
		return;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct ik_mem_region *r = &mem->regions[i];
		uintptr_t off = (uintptr_t)p - (uintptr_t)r->cpu_host;

		if (off < r->size) {
			ik_cpu_cache_maint(clean, r->base + off, len, IK_CPU_CACHE_CLEAN);
			return;
		}
	}
}

/*
 * Free a table that was killed. For a table that was never published, or
 * one torn down, pt_table_discard().
 */
static inline void pt_table_free(struct ik_mem *mem, phys_addr_t pa, size_t bytes)
{
	size_t npages = bytes >> IK_PAGE_SHIFT;
	for (size_t i = 0; i < npages; i++) {
		struct ik_page *pg = ik_mem_page(mem, pa + (i << IK_PAGE_SHIFT));
		int32_t v = __atomic_load_n(&pg->users, __ATOMIC_RELAXED);
		if (v >= IK_PAGE_TABLE_BIAS) /* still live: back to "not a table" */
			__atomic_fetch_sub(&pg->users, v, __ATOMIC_RELAXED);
	}
	mem->ops->free_pages(mem, pa, npages);
}

/*
 * Free a table that was never published, or one torn down, taking back only
 * what its owner put on the count: the bias and @refs, the references it
 * took for entries it meant to write (torn down: one per live entry). Not
 * the whole count: a thread holding a stale pointer to the page's previous
 * life as a table may hold a transient reference (pt_table_get() succeeds
 * on any live table, published or not) and drops it later itself; wiped out
 * here, that drop would leave the page's next table one below the truth, to
 * be killed with an entry still live. At teardown no thread of the domain
 * is left, but one of another domain on the same memory may hold such a
 * reference. A killed table (below the bias) holds nothing of its owner's.
 */
static inline void pt_table_discard(struct ik_mem *mem, phys_addr_t pa, size_t bytes,
				    int32_t refs)
{
	size_t npages = bytes >> IK_PAGE_SHIFT;

	for (size_t i = 0; i < npages; i++) {
		struct ik_page *pg = ik_mem_page(mem, pa + (i << IK_PAGE_SHIFT));

		if (__atomic_load_n(&pg->users, __ATOMIC_RELAXED) >= IK_PAGE_TABLE_BIAS)
			__atomic_fetch_sub(&pg->users, IK_PAGE_TABLE_BIAS + (i ? 0 : refs),
					   __ATOMIC_RELAXED);
	}
	mem->ops->free_pages(mem, pa, npages);
}

/* Take @n references; false if the page is not a live table. */
static inline bool pt_table_get(struct ik_page *pg, int32_t n)
{
	int32_t old = __atomic_fetch_add(&pg->users, n, __ATOMIC_SEQ_CST);
	if (likely(old >= IK_PAGE_TABLE_BIAS))
		return true;
	__atomic_fetch_sub(&pg->users, n, __ATOMIC_RELAXED);
	return false;
}

/*
 * Drop @n references that cannot empty the table, or whose dropping must
 * not retire it (a transient reference, or one the caller backs with
 * another): true if the count reached the bias, for callers that care.
 */
static inline bool pt_table_put(struct ik_page *pg, int32_t n)
{
	return __atomic_sub_fetch(&pg->users, n, __ATOMIC_SEQ_CST) == IK_PAGE_TABLE_BIAS;
}

/**
 * pt_table_put_kill() - drop @n references, killing the table if that empties it
 * @pg: the table's page metadata
 * @n: references to drop (entries the caller removed)
 *
 * The drop that would leave exactly the bias leaves 0 instead, in the same
 * atomic step, so the table is claimed in the life the caller emptied
 * (see the top of the file). The caller then owns the retirement: detach
 * the table and free it after the IOTLB sync.
 *
 * Return: true if the table was emptied and killed.
 */
static inline bool pt_table_put_kill(struct ik_page *pg, int32_t n)
{
	int32_t old = __atomic_load_n(&pg->users, __ATOMIC_RELAXED);
	int32_t new_;

	do {
		new_ = old - n == IK_PAGE_TABLE_BIAS ? 0 : old - n;
	} while (!__atomic_compare_exchange_n(&pg->users, &old, new_, true, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return old - n == IK_PAGE_TABLE_BIAS;
}

/*
 * Claim an empty table at the bias for freeing; false if someone took a
 * reference. Unsafe through a pointer that may be stale (it would claim
 * whatever life the page has): formats use pt_table_put_kill() after
 * dropping references and pt_table_kill_held() on a table they hold.
 */
static inline bool pt_table_kill(struct ik_page *pg)
{
	int32_t empty = IK_PAGE_TABLE_BIAS;
	return __atomic_compare_exchange_n(&pg->users, &empty, 0, 0, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/*
 * Hold an attached table found through the entry at @slot (value @e): a
 * reference, then the entry checked again, so that the table held is the
 * life the entry points at (pt-table.h top). False, holding nothing, if the
 * table is dying or the entry changed.
 */
static inline bool pt_table_hold(struct ik_page *pg, const void *slot, uint64_t e, bool wide)
{
	if (!pt_table_get(pg, 1))
		return false;
	if (wide ? ik_read_le64_acquire(slot) == e : ik_read_le32_acquire(slot) == (uint32_t)e)
		return true;
	pt_table_put(pg, 1);
	return false;
}

/*
 * Claim for freeing an empty table the caller holds (pt_table_hold()): its
 * reference is the only one left, bias + 1 -> 0; false if another thread
 * holds one too. Holding it, the caller cannot claim a later life of the
 * page, as a bare pt_table_kill() through a stale pointer could.
 */
static inline bool pt_table_kill_held(struct ik_page *pg)
{
	int32_t held = IK_PAGE_TABLE_BIAS + 1;

	return __atomic_compare_exchange_n(&pg->users, &held, 0, 0, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/* Live entries counted in a table (negative: not a live table). */
static inline int32_t pt_table_users(struct ik_page *pg)
{
	return __atomic_load_n(&pg->users, __ATOMIC_RELAXED) - IK_PAGE_TABLE_BIAS;
}

/*
 * The loop every format's unmap_pages runs: unmap [@iova, @end) with
 * @step, an expression that unmaps from @va (a uint64_t variable of the
 * caller's) and yields the bytes it removed, 0 (nothing mapped there) or a
 * negative errno. Evaluates to the bytes unmapped, stopping at the first
 * step that removes nothing, or to that step's error (-ENOENT for 0) if it
 * was the first (iommu_domain_ops.unmap_pages).
 */
#define PT_UNMAP_STEPS(iova, end, va, step)                                  \
	({                                                                   \
		long pt_ret_ = 0;                                            \
		for ((va) = (iova); (va) < (end);) {                         \
			long pt_r_ = (step);                                 \
			if (pt_r_ <= 0) {                                    \
				if ((va) == (iova))                          \
					pt_ret_ = pt_r_ ? pt_r_ : -ENOENT;   \
				break;                                       \
			}                                                    \
			(va) += (uint64_t)pt_r_;                             \
		}                                                            \
		pt_ret_ ? pt_ret_ : (long)((va) - (iova));                   \
	})

#endif /* IK_PT_TABLE_H */
