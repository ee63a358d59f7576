/* SPDX-License-Identifier: MIT */
/*
 * Page-table pages shared by every format: allocation, and the live-entry
 * count that lets a format free a table that became empty while other
 * threads map and unmap disjoint ranges around it without a lock.
 *
 * The count lives in the page's metadata (struct ik_page.users):
 *   - a page that is not a live table holds IK_PAGE_NOT_TABLE (negative);
 *   - pt_table_alloc() adds -IK_PAGE_NOT_TABLE, bringing it to 0;
 *   - a mapper takes a reference for the entries it will write with
 *     pt_table_get() *before* writing them, then re-reads the parent entry:
 *     if it no longer points at this table, it drops the reference and
 *     retries (the table died or was recycled in between);
 *   - an unmapper drops the references of the entries it cleared with
 *     pt_table_put(); whoever brings the count to 0 may pt_table_kill() it
 *     (0 -> IK_PAGE_NOT_TABLE by compare-and-swap, which fails if a mapper
 *     got in first), clear the parent entry, and queue the page on the
 *     gather, to be freed after the IOTLB invalidation.
 * Every step is an atomic add or a CAS, so transient references taken on a
 * recycled page cancel out and never make a live count wrong. The cost is
 * one atomic add per table touched per call; IO_PGTABLE_QUIRK_KEEP_TABLES
 * skips counting (and freeing) entirely, as Linux does.
 */
#ifndef IK_PT_TABLE_H
#define IK_PT_TABLE_H

#include <errno.h>
#include <string.h>
#include "ik/compiler.h"
#include "ik/iommu-driver.h"
#include "ik/mem.h"

/* Allocate a zeroed table of @bytes (power of two, 4 KiB or more), aligned to its size. */
static inline int pt_table_alloc(struct ik_mem *mem, size_t bytes, phys_addr_t *pa)
{
	size_t npages = bytes >> IK_PAGE_SHIFT;
	int ret = mem->ops->alloc_pages(mem, npages, bytes, pa);
	if (ret)
		return ret;
	for (size_t i = 0; i < npages; i++) {
		struct ik_page *pg = ik_mem_page(mem, *pa + (i << IK_PAGE_SHIFT));
		__atomic_fetch_add(&pg->users, -IK_PAGE_NOT_TABLE, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Free a table that was never published, or at teardown. */
static inline void pt_table_free(struct ik_mem *mem, phys_addr_t pa, size_t bytes)
{
	size_t npages = bytes >> IK_PAGE_SHIFT;
	for (size_t i = 0; i < npages; i++) {
		struct ik_page *pg = ik_mem_page(mem, pa + (i << IK_PAGE_SHIFT));
		int32_t v = __atomic_load_n(&pg->users, __ATOMIC_RELAXED);
		/* Bring it back to NOT_TABLE whatever its live count was. */
		if (v >= 0)
			__atomic_fetch_add(&pg->users, IK_PAGE_NOT_TABLE - v, __ATOMIC_RELAXED);
	}
	mem->ops->free_pages(mem, pa, npages);
}

/* Take @n references; false if the table is dead (or not a table). */
static inline bool pt_table_get(struct ik_page *pg, int32_t n)
{
	int32_t old = __atomic_fetch_add(&pg->users, n, __ATOMIC_SEQ_CST);
	if (likely(old >= 0))
		return true;
	__atomic_fetch_sub(&pg->users, n, __ATOMIC_RELAXED);
	return false;
}

/* Drop @n references; true if that emptied the table. */
static inline bool pt_table_put(struct ik_page *pg, int32_t n)
{
	return __atomic_sub_fetch(&pg->users, n, __ATOMIC_SEQ_CST) == 0;
}

/* Claim an empty table for freeing; false if someone took a reference. */
static inline bool pt_table_kill(struct ik_page *pg)
{
	int32_t zero = 0;
	return __atomic_compare_exchange_n(&pg->users, &zero, IK_PAGE_NOT_TABLE, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static inline int32_t pt_table_users(struct ik_page *pg)
{
	return __atomic_load_n(&pg->users, __ATOMIC_RELAXED);
}

#endif /* IK_PT_TABLE_H */
