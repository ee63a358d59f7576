// SPDX-License-Identifier: MIT
/*
 * Arm VMSAv8-64 stage-1 translation tables, 4 KiB granule (format
 * ARM_64_LPAE_S1), as an SMMU context bank walks them through TTBR0.
 *
 * Sources (facts only):
 *  - Arm Architecture Reference Manual for A-profile architecture (DDI 0487),
 *    chapter D8 "The AArch64 Virtual Memory System Architecture" (chapter D4
 *    "The AArch64 Virtual Memory System Architecture" in revisions before
 *    H.a):
 *     - "Translation table descriptor formats" (D8.3; D4.3 "VMSAv8-64
 *       translation table format descriptors" in older revisions): bits
 *       [1:0] 0b11 table (levels 0-2) or page (level 3), 0b01 block (levels
 *       1-2 with the 4 KiB granule), 0bx0 invalid; next-level table and
 *       output address in bits [47:12];
 *     - "Memory attribute fields in the VMSAv8-64 translation table format
 *       descriptors": AttrIndx [4:2], NS [5], AP[2:1] at [7:6], SH [9:8],
 *       AF [10], nG [11], PXN [53], UXN/XN [54]; AP[1] grants unprivileged
 *       (EL0) access, AP[2] makes the mapping read-only;
 *     - the 4 KiB granule walk: 9 address bits per level, level 0 resolving
 *       IA[47:39] down to level 3 resolving IA[20:12]; T0SZ 16-24 starts at
 *       level 0, 25-33 at level 1;
 *     - register descriptions of TCR_EL1 (T0SZ [5:0], IRGN0 [9:8], ORGN0
 *       [11:10], SH0 [13:12], TG0 [15:14] with 0b00 = 4 KiB, EPD1 [23], IPS
 *       [34:32]: 0b000 32 bits .. 0b101 48 bits) and MAIR_EL1 (Attr<n> in
 *       bits [8n+7:8n]; 0b0000dd00 Device with dd = 01 nGnRE, 0booooiiii
 *       Normal with 0b0100 Non-cacheable and 0b1111 Write-Back
 *       read/write-allocate). Device memory and Normal Non-cacheable memory
 *       are Outer Shareable whatever SH says (Arm DEN0024A 13.3).
 *  - Linux drivers/iommu/io-pgtable-arm.c and arch/arm64/include/asm/
 *    pgtable-hwdef.h, to confirm the positions above, the MAIR values of
 *    the four indices (0x44, 0xff, 0x04, 0xf4) and the stage-1 prot mapping
 *    (nG always; AP[2] for read-only; AP[1] unless IOMMU_PRIV; both XN bits
 *    for IOMMU_NOEXEC; AttrIndx device for IOMMU_MMIO, cacheable for
 *    IOMMU_CACHE; SH inner shareable for IOMMU_CACHE, else outer).
 *
 * Layout: one 4 KiB table of 512 little-endian 64-bit entries per level; an
 * ias of 48 starts at level 0, 39 at level 1. Leaves are 4 KiB pages at
 * level 3 and 2 MiB / 1 GiB blocks at levels 2 / 1.
 *
 * Live entries of every table but the start-level one are counted in its
 * page metadata (pt-table.h), intermediate tables too (a table entry is a
 * live entry of its parent), so that a chain of emptied tables is retired
 * bottom-up onto the gather. IO_PGTABLE_QUIRK_KEEP_TABLES counts nothing.
 *
 * Concurrency: map, unmap and iova_to_phys run on disjoint ranges without
 * locks.
 *  - Counting, a map walk holds a reference on each table while it reads
 *    it (taken, then checked against the entry it came from, as pt-table.h
 *    does for one level), so nothing it reads can be retired, freed and
 *    reused under it; the reference on the table it writes into becomes
 *    those of the entries it writes. Whoever drops the reference that
 *    empties a table retires it.
 *  - An unmap walks without references: the entry it removes keeps its
 *    table, and therefore every table above it, from being emptied.
 *  - Lookups, and unmaps of addresses that turn out not to be mapped, can
 *    meet a table that a neighbour retires meanwhile. Every retirement
 *    bumps lp->retired after detaching the table and before queueing it
 *    (the earliest the page can be freed); a walk checks the count before
 *    reading each table below the root and before changing anything, and
 *    walks again if it moved. Such a walk can still read a page reused
 *    after its last check (and discard what it read): harmless on any
 *    host, but a race in the C11 sense, which TSan would report for these
 *    operations only.
 *  - A table records its parent in its page metadata's freelist link while
 *    it lives (set before it is published, read by whoever killed it), so
 *    an emptied chain is retired bottom-up without a walk.
 *
 * Walk cache. Four dependent loads per walk cost more than the one-page
 * paths may spend, so each thread remembers the last level-3 table it
 * walked to (its instance, its 2 MiB of input addresses, the retirement
 * count of the walk). While the count is unchanged no table has been
 * detached since, so the table is still the one the path leads to and the
 * walk can be skipped; any retirement, anywhere, makes every cached entry
 * stale. The count is 64 bits so that it cannot wrap under an old entry.
 */
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik/io-pgtable.h"
#include "pgtable/pt-table.h"

#define LPAE_LEVELS      4
#define LPAE_LEAF_LEVEL  3 /* pages */
#define LPAE_ENTRIES     512u
#define LPAE_IDX_MASK    (LPAE_ENTRIES - 1)
#define LPAE_TABLE_BYTES IK_PAGE_SIZE
#define LPAE_SZ_4K       IK_SZ_4K
#define LPAE_SZ_2M       IK_SZ_2M
#define LPAE_SZ_1G       IK_SZ_1G
#define LPAE_PGSIZES     (LPAE_SZ_4K | LPAE_SZ_2M | LPAE_SZ_1G)
#define LPAE_DEFAULT_BITS 48

/* Descriptor */
#define PTE_TYPE_MASK   0x3ULL
#define PTE_TYPE_BLOCK  0x1ULL /* levels 1 and 2 */
#define PTE_TYPE_TABLE  0x3ULL /* levels 0 to 2 */
#define PTE_TYPE_PAGE   0x3ULL /* level 3 */
#define PTE_ATTRINDX_SHIFT 2
#define PTE_ATTRINDX_MASK  (0x7ULL << PTE_ATTRINDX_SHIFT)
#define PTE_NS          BIT_ULL(5)
#define PTE_AP_UNPRIV   BIT_ULL(6) /* AP[1] */
#define PTE_AP_RDONLY   BIT_ULL(7) /* AP[2] */
#define PTE_SH_SHIFT    8
#define PTE_SH_MASK     (0x3ULL << PTE_SH_SHIFT)
#define PTE_SH_OS       (0x2ULL << PTE_SH_SHIFT)
#define PTE_SH_IS       (0x3ULL << PTE_SH_SHIFT)
#define PTE_AF          BIT_ULL(10)
#define PTE_NG          BIT_ULL(11)
#define PTE_PXN         BIT_ULL(53)
#define PTE_UXN         BIT_ULL(54)
#define PTE_XN          (PTE_PXN | PTE_UXN)
#define PTE_ADDR_MASK   GENMASK_ULL(47, 12)
#define PTE_ATTR_MASK   (~(PTE_ADDR_MASK | PTE_TYPE_MASK))

/* MAIR indices and their attributes */
#define MAIR_IDX_NC        0 /* Normal, inner and outer Non-cacheable */
#define MAIR_IDX_WB        1 /* Normal, inner and outer Write-Back RW-allocate */
#define MAIR_IDX_DEV       2 /* Device-nGnRE */
#define MAIR_IDX_INC_OWB   3 /* Normal, inner Non-cacheable, outer Write-Back */
#define MAIR_ATTR_NC       0x44ULL
#define MAIR_ATTR_WB       0xffULL
#define MAIR_ATTR_DEV      0x04ULL
#define MAIR_ATTR_INC_OWB  0xf4ULL
#define MAIR_ATTR_SHIFT(n) ((n) * 8)

/* TCR (TTBR0 walks only) */
#define TCR_T0SZ_SHIFT  0
#define TCR_IRGN0_SHIFT 8
#define TCR_ORGN0_SHIFT 10
#define TCR_SH0_SHIFT   12
#define TCR_TG0_SHIFT   14
#define TCR_EPD1        BIT_ULL(23)
#define TCR_IPS_SHIFT   32
#define TCR_RGN_WBWA    0x1ULL
#define TCR_SH_IS       0x3ULL
#define TCR_TG0_4K      0x0ULL

/* Rare paths stay out of line so the per-page ones stay short. */
#define LPAE_COLD __attribute__((noinline, cold))

/* How long to wait for transient references before calling a table busy. */
#define LPAE_KILL_TRIES 1000u

/* One table: its entries, its page metadata (NULL: the start level) and address. */
struct lpae_table {
	uint64_t *pte;
	struct ik_page *pg;
	phys_addr_t pa;
};

struct lpae_pgtable {
	struct io_pgtable iop;
	struct lpae_table root;      /* start-level table; pg NULL: never counted */
	struct ik_mem *mem;
	struct ik_mem_region *rgn;   /* the root's region, tried first on each walk */
	const struct iommu_flush_ops *tlb;
	void *cookie;
	unsigned long pgsizes;
	uint64_t iova_limit;         /* 1 << ias */
	uint64_t pa_limit;           /* 1 << oas */
	unsigned int start_level;
	bool counted;                /* live entries counted (no KEEP_TABLES) */
	bool fast_4k;                /* 4 KiB pages allowed: the one-page paths apply */
	struct ik_cpu_cache *clean;  /* clean table writes from it (pt_sync()) */
	uint64_t id;                 /* unique per instance, for the walk cache */
	/* Tables retired so far; written rarely, read by every walk. */
	alignas(64) uint64_t retired;
	uint64_t marks;              /* retirement markers handed out */
};

static inline struct lpae_pgtable *to_lpae(struct io_pgtable_ops *ops)
{
	return container_of(io_pgtable_ops_to_pgtable(ops), struct lpae_pgtable, iop);
}

static inline unsigned int lvl_shift(unsigned int lvl)
{
	return IK_PAGE_SHIFT + 9 * (LPAE_LEAF_LEVEL - lvl);
}

static inline unsigned int lvl_idx(uint64_t va, unsigned int lvl)
{
	return (unsigned int)(va >> lvl_shift(lvl)) & LPAE_IDX_MASK;
}

static inline bool pte_is_table(uint64_t e, unsigned int lvl)
{
	return lvl < LPAE_LEAF_LEVEL && (e & PTE_TYPE_MASK) == PTE_TYPE_TABLE;
}

static inline bool pte_is_leaf(uint64_t e, unsigned int lvl)
{
	if (lvl == LPAE_LEAF_LEVEL)
		return (e & PTE_TYPE_MASK) == PTE_TYPE_PAGE;
	return lvl > 0 && (e & PTE_TYPE_MASK) == PTE_TYPE_BLOCK;
}

/*
 * A slot whose table was retired holds a marker, not 0: an invalid
 * descriptor (bit 0 clear, so walkers fault and ignore the rest) with a
 * number unique to that retirement. A walk cache may still lead through the
 * slot to the retired table until the retiring unmap's invalidation, so
 * whoever fills the slot again first drops the slot's walk-cache entries,
 * then swaps the exact marker it saw for its table or block: if the slot
 * was filled and retired again meanwhile, the marker differs and the swap
 * fails, so no walk cached in between can survive.
 */
#define PTE_RETIRED 0x2ULL

static inline bool pte_is_retired(uint64_t e)
{
	return (e & PTE_TYPE_MASK) == PTE_RETIRED;
}

/* A slot with nothing mapped: never used, or left by a retired table. */
static inline bool pte_is_free(uint64_t e)
{
	return !e || pte_is_retired(e);
}

static inline uint64_t leaf_type(unsigned int lvl)
{
	return lvl == LPAE_LEAF_LEVEL ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
}

/* The RAM region holding @pa (most often the root's), NULL outside RAM. */
static inline const struct ik_mem_region *lpae_region(const struct lpae_pgtable *lp,
						      phys_addr_t pa)
{
	if (likely(pa - lp->rgn->base < lp->rgn->size))
		return lp->rgn;
	return ik_mem_region_of(lp->mem, pa);
}

/* Host view of a table at @pa, NULL outside RAM. */
static inline uint64_t *lpae_va(const struct lpae_pgtable *lp, phys_addr_t pa)
{
	const struct ik_mem_region *r = lpae_region(lp, pa);

	return r ? (uint64_t *)(void *)(r->cpu_host + (pa - r->base)) : NULL;
}

static inline bool lpae_table_at(const struct lpae_pgtable *lp, phys_addr_t pa,
				 struct lpae_table *t)
{
	const struct ik_mem_region *r = lpae_region(lp, pa);

	if (unlikely(!r))
		return false;
	t->pte = (uint64_t *)(void *)(r->cpu_host + (pa - r->base));
	t->pg = &r->meta[(pa - r->base) >> IK_PAGE_SHIFT];
	t->pa = pa;
	return true;
}

/*
 * Make @n entries the CPU wrote at @p visible to the walker. A mapper also
 * cleans every table entry it walks through (lpae_table_get()): the thread
 * that installed it may not have cleaned it yet, and the map must not
 * return before the walker can reach what it wrote. (Linux's
 * io-pgtable-arm tags cleaned table entries with a software bit to skip
 * those cleans; the one-page fast path here skips them through its walk
 * cache instead, filled only after such a walk.)
 */
static inline void lpae_sync(const struct lpae_pgtable *lp, const uint64_t *p, size_t n)
{
	pt_sync(lp->mem, lp->clean, p, n * sizeof(*p));
}

/* --- retirement count and walk cache (see the top of the file) --- */

/* One per thread: the last level-3 table a one-page path walked to. */
struct lpae_walk_cache {
	uint64_t owner;      /* lp->id, 0: empty */
	uint64_t va_2m;      /* input address >> 21 */
	uint64_t seq;        /* lp->retired of the walk that found it */
	struct lpae_table t;
};

/* Initial-exec: a plain %fs-relative access even in the shared library. */
static __thread struct lpae_walk_cache lpae_wc __attribute__((tls_model("initial-exec")));

static uint64_t lpae_next_id;

static inline uint64_t lpae_seq_begin(const struct lpae_pgtable *lp)
{
	return __atomic_load_n(&lp->retired, __ATOMIC_ACQUIRE);
}

static inline bool lpae_seq_same(const struct lpae_pgtable *lp, uint64_t seq)
{
	return __atomic_load_n(&lp->retired, __ATOMIC_SEQ_CST) == seq;
}

static inline void lpae_seq_retire(struct lpae_pgtable *lp)
{
	__atomic_fetch_add(&lp->retired, 1, __ATOMIC_SEQ_CST);
}

/* --- prot --- */

static inline bool lpae_prot_ok(int prot)
{
	return (prot & (IOMMU_READ | IOMMU_WRITE)) && !(prot & ~IOMMU_PROT_MASK);
}

/* Leaf attributes for @prot (type and address bits clear). */
static inline uint64_t lpae_prot_attrs(int prot)
{
	uint64_t a = PTE_AF | PTE_NG;

	if (!(prot & IOMMU_WRITE))
		a |= PTE_AP_RDONLY;
	if (!(prot & IOMMU_PRIV))
		a |= PTE_AP_UNPRIV;
	if (prot & IOMMU_NOEXEC)
		a |= PTE_XN;
	if (prot & IOMMU_MMIO)
		a |= (uint64_t)MAIR_IDX_DEV << PTE_ATTRINDX_SHIFT;
	else if (prot & IOMMU_CACHE)
		a |= (uint64_t)MAIR_IDX_WB << PTE_ATTRINDX_SHIFT;
	a |= (prot & IOMMU_CACHE) ? PTE_SH_IS : PTE_SH_OS;
	return a;
}

/* What a leaf allows, as IOMMU_* flags (dump). */
static int lpae_leaf_prot(uint64_t e)
{
	int prot = IOMMU_READ;

	if (!(e & PTE_AP_RDONLY))
		prot |= IOMMU_WRITE;
	if (!(e & PTE_AP_UNPRIV))
		prot |= IOMMU_PRIV;
	if (e & PTE_XN)
		prot |= IOMMU_NOEXEC;
	return prot;
}

/* --- walking --- */

/* lpae_walk() result: a table was retired meanwhile, walk again. */
#define LPAE_WALK_MOVED LPAE_LEVELS

/**
 * lpae_walk() - follow table entries for @va
 * @lp: the tables
 * @va: input address
 * @lvl: the deepest level wanted
 * @path: out: path[l] is the table of level-l entries, from the start level
 * @seq: lp->retired when the caller began
 *
 * Before reading a table below the root, checks that no table was retired
 * since @seq: one that was could be freed and reused under the walk.
 *
 * Return: @lvl; the first level whose entry for @va is not a table (or
 * points outside RAM); or LPAE_WALK_MOVED.
 */
static inline unsigned int lpae_walk(const struct lpae_pgtable *lp, uint64_t va,
				     unsigned int lvl, struct lpae_table *path, uint64_t seq)
{
	unsigned int l = lp->start_level;

	path[l] = lp->root;
	for (; l < lvl; l++) {
		if (l > lp->start_level && unlikely(!lpae_seq_same(lp, seq)))
			return LPAE_WALK_MOVED;
		uint64_t e = ik_read_le64_acquire(&path[l].pte[lvl_idx(va, l)]);

		if ((e & PTE_TYPE_MASK) != PTE_TYPE_TABLE ||
		    unlikely(!lpae_table_at(lp, e & PTE_ADDR_MASK, &path[l + 1])))
			break;
	}
	return l;
}

/**
 * lpae_walk_end() - order a walk's reads before the retirement of what it read
 * @lp: the tables
 * @path: the walk
 * @deepest: the deepest level whose table the walk read
 *
 * Killing a table follows every earlier update of its count, so a walk
 * whose last word on a table it read (or one below it) is such an update
 * happens before the table is retired, freed and reused. A walk that ends
 * without writing (an error, a lookup that failed) makes that update here:
 * it adds 0 to the count of the deepest table still alive (those above live
 * at least as long). Counting mode only; error paths only.
 */
LPAE_COLD static void lpae_walk_end(const struct lpae_pgtable *lp, const struct lpae_table *path,
				    unsigned int deepest)
{
	for (unsigned int l = deepest; lp->counted && l > lp->start_level; l--)
		if (__atomic_fetch_add(&path[l].pg->users, 0, __ATOMIC_SEQ_CST) >=
		    IK_PAGE_TABLE_BIAS)
			return;
}

/*
 * Walk to the level-3 table for @va for a lookup, without building a path
 * (as lpae_walk(), nothing below the root is read once the count moved
 * from @seq); false if there is none or the count moved.
 */
static __attribute__((noinline)) bool lpae_leaf_walk(const struct lpae_pgtable *lp, uint64_t va,
						     uint64_t seq, struct lpae_table *t)
{
	const uint64_t *tbl = lp->root.pte;
	uint64_t e;

	for (unsigned int l = lp->start_level; l < LPAE_LEAF_LEVEL - 1; l++) {
		e = ik_read_le64_acquire(&tbl[lvl_idx(va, l)]);
		if ((e & PTE_TYPE_MASK) != PTE_TYPE_TABLE)
			return false;
		tbl = lpae_va(lp, e & PTE_ADDR_MASK);
		if (unlikely(!tbl || !lpae_seq_same(lp, seq)))
			return false;
	}
	e = ik_read_le64_acquire(&tbl[lvl_idx(va, LPAE_LEAF_LEVEL - 1)]);
	return (e & PTE_TYPE_MASK) == PTE_TYPE_TABLE && lpae_table_at(lp, e & PTE_ADDR_MASK, t);
}

/* Remember @t, found by a walk that began at count @seq and was still current after. */
static inline void lpae_wc_fill(const struct lpae_pgtable *lp, uint64_t va, uint64_t seq,
				const struct lpae_table *t)
{
	struct lpae_walk_cache *wc = &lpae_wc;

	wc->owner = lp->id;
	wc->va_2m = va >> 21;
	wc->seq = seq;
	wc->t = *t;
}

/*
 * Record @t's parent in its page metadata's freelist link, unused while the
 * table lives: set before the table is published, read by whoever kills it,
 * before queueing it overwrites the field (see the top of the file).
 */
static inline void lpae_set_parent(const struct lpae_table *t, phys_addr_t parent)
{
	t->pg->next = parent;
}

/* A zeroed table below 2^oas. */
static int lpae_table_alloc(const struct lpae_pgtable *lp, struct lpae_table *t)
{
	phys_addr_t pa;
	int ret = pt_table_alloc(lp->mem, LPAE_TABLE_BYTES, &pa);

	if (ret)
		return ret;
	if (pa + LPAE_TABLE_BYTES > lp->pa_limit || !lpae_table_at(lp, pa, t)) {
		pt_table_discard(lp->mem, pa, LPAE_TABLE_BYTES, 0);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Discard @t, never published or torn down (not the start level): its count
 * holds the bias and, counted, one reference per entry written into it
 * (pt_table_discard()).
 */
static void lpae_table_discard(const struct lpae_pgtable *lp, const struct lpae_table *t)
{
	int32_t refs = 0;

	for (unsigned int i = 0; lp->counted && i < LPAE_ENTRIES; i++)
		refs += !pte_is_free(ik_read_le64(&t->pte[i]));
	pt_table_discard(lp->mem, t->pa, LPAE_TABLE_BYTES, refs);
}

/* Free the tables below @t (a level-@lvl table), then @t. */
static void lpae_free_tree(struct lpae_pgtable *lp, const struct lpae_table *t, unsigned int lvl)
{
	for (unsigned int i = 0; lvl < LPAE_LEAF_LEVEL && i < LPAE_ENTRIES; i++) {
		uint64_t e = ik_read_le64(&t->pte[i]);
		struct lpae_table c;

		if (pte_is_table(e, lvl) && lpae_table_at(lp, e & PTE_ADDR_MASK, &c))
			lpae_free_tree(lp, &c, lvl + 1);
	}
	if (lvl > lp->start_level)
		lpae_table_discard(lp, t);
	else /* the start level is never counted */
		pt_table_discard(lp->mem, t->pa, LPAE_TABLE_BYTES, 0);
}

/* --- retiring emptied tables --- */

/**
 * lpae_retire() - detach an emptied table and those it empties above it
 * @lp: the tables
 * @pg: the emptied table's page metadata, killed by the caller's
 *      pt_table_put_kill() (so in the life the caller emptied)
 * @pa: its address
 * @lvl: the level of its entries
 * @va: an address it covers (the caller knows it is attached there)
 * @gather: where the pages go, to be freed after the IOTLB sync; NULL
 *          outside an unmap: the walk caches for the table's range are
 *          flushed and it is freed at once (nothing was gathered for it)
 *
 * With a gather, the caller has added a removed leaf inside the table's
 * range to it, so the range the driver invalidates reaches the walk caches
 * that may point at it.
 */
/* A marker for a slot whose table is being retired (see PTE_RETIRED). */
static inline uint64_t lpae_mark(struct lpae_pgtable *lp)
{
	return (__atomic_add_fetch(&lp->marks, 1, __ATOMIC_RELAXED) << 2) | PTE_RETIRED;
}

/*
 * Before filling a slot that held a retired table: drop the walk-cache
 * entries for [@va, @va + @size), the slot's span. A walk cache holds
 * table descriptors, the finest of which cover 2 MiB.
 */
static void lpae_drop_stale_walks(struct lpae_pgtable *lp, uint64_t va, uint64_t size)
{
	lp->tlb->tlb_flush_walk(va, size, ik_min(size, (uint64_t)LPAE_SZ_2M), lp->cookie);
}

LPAE_COLD static void lpae_retire(struct lpae_pgtable *lp, struct ik_page *pg, phys_addr_t pa,
				  unsigned int lvl, uint64_t va, struct iommu_iotlb_gather *gather)
{
	for (; lvl > lp->start_level; lvl--) {
		const uint64_t span = 1ULL << lvl_shift(lvl - 1);
		struct lpae_table parent;

		if (unlikely(!lpae_table_at(lp, pg->next, &parent)))
			return;
		ik_write_le64(&parent.pte[lvl_idx(va, lvl - 1)], lpae_mark(lp));
		lpae_sync(lp, &parent.pte[lvl_idx(va, lvl - 1)], 1);
		lpae_seq_retire(lp);
		if (gather) {
			iommu_pages_list_add(lp->mem, gather, pa);
		} else {
			lp->tlb->tlb_flush_walk(va & ~(span - 1), span, LPAE_SZ_4K, lp->cookie);
			pt_table_free(lp->mem, pa, LPAE_TABLE_BYTES);
		}
		/* A mapper holding a reference keeps the parent alive. */
		if (lvl - 1 == lp->start_level || !pt_table_put_kill(parent.pg, 1))
			return;
		pg = parent.pg;
		pa = parent.pa;
	}
}

/* Drop the walk's reference on @t (level-@lvl entries, attached at @va). */
static inline void lpae_release(struct lpae_pgtable *lp, const struct lpae_table *t,
				unsigned int lvl, uint64_t va)
{
	if (t->pg && unlikely(pt_table_put_kill(t->pg, 1)))
		lpae_retire(lp, t->pg, t->pa, lvl, va, NULL);
}

/**
 * lpae_install() - give an empty entry the tables down to @leaf_lvl
 * @lp: the tables
 * @parent: the table holding @p (level @lvl); counted, the caller holds a
 *          reference on it, so it stays attached
 * @p: the empty entry
 * @lvl: its level
 * @va: the address being mapped
 * @leaf_lvl: level of the entries the caller will write
 * @refs: live entries the caller will write into the last table
 * @out: out: the level-@leaf_lvl table
 *
 * The missing tables are allocated and linked privately first (counted:
 * each holds one reference for its link, the last @refs), then published
 * with one compare-and-swap, so a failure changes nothing.
 *
 * Return: 0; -EAGAIN when @p changed (walk again); -ENOMEM.
 */
LPAE_COLD static int lpae_install(struct lpae_pgtable *lp, struct lpae_table *parent,
				  uint64_t *p, uint64_t old, unsigned int lvl, uint64_t va,
				  unsigned int leaf_lvl, int32_t refs, struct lpae_table *out)
{
	struct lpae_table chain[LPAE_LEVELS];
	const unsigned int n = leaf_lvl - lvl;
	const bool count_parent = lp->counted && parent->pg;
	unsigned int k;
	int ret = 0;

	for (k = 0; k < n; k++) {
		ret = lpae_table_alloc(lp, &chain[k]);
		if (ret)
			goto out_free;
	}
	lpae_set_parent(&chain[0], parent->pa);
	for (unsigned int j = 0; j + 1 < n; j++) {
		ik_write_le64(&chain[j].pte[lvl_idx(va, lvl + 1 + j)],
			      chain[j + 1].pa | PTE_TYPE_TABLE);
		lpae_set_parent(&chain[j + 1], chain[j].pa);
		if (lp->counted)
			pt_table_get(chain[j].pg, 1);
	}
	if (lp->counted)
		pt_table_get(chain[n - 1].pg, refs);
	/* The entry added to @parent is counted before it is written. */
	if (count_parent)
		pt_table_get(parent->pg, 1);
	if (pte_is_retired(old))
		lpae_drop_stale_walks(lp, va & ~((1ULL << lvl_shift(lvl)) - 1),
				      1ULL << lvl_shift(lvl));
	/* The chain's links reach memory before the entry that publishes it. */
	for (unsigned int j = 0; j + 1 < n; j++)
		lpae_sync(lp, &chain[j].pte[lvl_idx(va, lvl + 1 + j)], 1);
	if (ik_cmpxchg_le64(p, old, chain[0].pa | PTE_TYPE_TABLE)) {
		lpae_sync(lp, p, 1);
		*out = chain[n - 1];
		return 0;
	}
	if (count_parent)
		pt_table_put(parent->pg, 1); /* the caller's reference keeps it alive */
	/* Each link holds one reference, the last table @refs. */
	while (k--)
		pt_table_discard(lp->mem, chain[k].pa, LPAE_TABLE_BYTES,
				 !lp->counted ? 0 : k + 1 < n ? 1 : refs);
	return -EAGAIN;
out_free:
	while (k--)
		pt_table_discard(lp->mem, chain[k].pa, LPAE_TABLE_BYTES, 0);
	return ret;
}

/* Clean the table entries @path walked through for @va, above level @lvl. */
static void lpae_sync_path(const struct lpae_pgtable *lp, const struct lpae_table *path,
			   uint64_t va, unsigned int lvl)
{
	for (unsigned int k = lp->start_level; lp->clean && k < lvl; k++)
		lpae_sync(lp, &path[k].pte[lvl_idx(va, k)], 1);
}

/* lpae_table_get() without counting: no table is freed under a walk then. */
static int lpae_table_get_uncounted(struct lpae_pgtable *lp, uint64_t va, unsigned int lvl,
				    struct lpae_table *out)
{
	struct lpae_table path[LPAE_LEVELS];

	for (;;) {
		unsigned int l = lpae_walk(lp, va, lvl, path, lpae_seq_begin(lp));
		int ret;

		if (l == LPAE_WALK_MOVED)
			continue;
		if (l == lvl) {
			lpae_sync_path(lp, path, va, lvl);
			*out = path[lvl];
			return 0;
		}
		uint64_t *p = &path[l].pte[lvl_idx(va, l)];
		uint64_t e = ik_read_le64_acquire(p);

		if (pte_is_table(e, l)) {
			struct lpae_table c;
			if (!lpae_table_at(lp, e & PTE_ADDR_MASK, &c))
				return -EFAULT;
			continue; /* installed meanwhile */
		}
		if (!pte_is_free(e))
			return -EEXIST;
		lpae_sync_path(lp, path, va, l);
		ret = lpae_install(lp, &path[l], p, e, l, va, lvl, 0, out);
		if (ret != -EAGAIN)
			return ret;
	}
}

/**
 * lpae_table_get() - the table of level-@lvl entries for @va, for mapping
 * @lp: the tables
 * @va: input address
 * @lvl: level of the entries to write
 * @refs: live entries the caller will write (counted before writing)
 * @out: out: the table
 *
 * Installs missing tables. Counting, the walk holds a reference on each
 * table while it reads it (taken, then checked against the entry it came
 * from), so no table it reads can be retired and reused under it, and ends
 * with @refs references on the table it returns (none on the start level).
 * Dropping a reference that empties a table retires it, at once.
 *
 * Return: 0; -EEXIST if a block covers @va at a higher level; -ENOMEM;
 * -EFAULT if a table entry points outside RAM.
 */
static int lpae_table_get(struct lpae_pgtable *lp, uint64_t va, unsigned int lvl, int32_t refs,
			  struct lpae_table *out)
{
	if (!lp->counted) {
		int ret = lpae_table_get_uncounted(lp, va, lvl, out);

		if (!ret && lvl == LPAE_LEAF_LEVEL)
			lpae_wc_fill(lp, va, lpae_seq_begin(lp), out);
		return ret;
	}
	for (;;) {
		struct lpae_table cur = lp->root; /* no reference on the start level */
		unsigned int l;
		int ret = 0;

		for (l = lp->start_level; l < lvl; l++) {
			uint64_t *p = &cur.pte[lvl_idx(va, l)];
			uint64_t e = ik_read_le64_acquire(p);
			struct lpae_table child;

			if (!pte_is_table(e, l)) {
				ret = !pte_is_free(e) ? -EEXIST :
					  lpae_install(lp, &cur, p, e, l, va, lvl, refs, out);
				break;
			}
			if (!lpae_table_at(lp, e & PTE_ADDR_MASK, &child)) {
				ret = -EFAULT;
				break;
			}
			if (!pt_table_get(child.pg, 1)) {
				sched_yield(); /* dying: its parent entry goes soon */
				ret = -EAGAIN;
				break;
			}
			if (ik_read_le64_acquire(p) != e) {
				/* Retired, maybe reused elsewhere: not ours to retire. */
				pt_table_put(child.pg, 1);
				ret = -EAGAIN;
				break;
			}
			lpae_sync(lp, p, 1);
			lpae_release(lp, &cur, l, va);
			cur = child;
		}
		if (l == lvl) {
			/* The walk's reference (none on the start level) becomes @refs. */
			if (cur.pg && refs > 1)
				pt_table_get(cur.pg, refs - 1);
			*out = cur;
		} else {
			lpae_release(lp, &cur, l, va);
			if (ret == -EAGAIN)
				continue;
			if (ret)
				return ret;
		}
		/* Held, it cannot be retired before a later count. */
		if (lvl == LPAE_LEAF_LEVEL)
			lpae_wc_fill(lp, va, lpae_seq_begin(lp), out);
		return 0;
	}
}

/* --- map --- */

static bool lpae_words_zero(const uint64_t *p)
{
	for (unsigned int i = 0; i < LPAE_ENTRIES; i++)
		if (!pte_is_free(ik_read_le64(&p[i])))
			return false;
	return true;
}

/* Whether the tables below @t (level-@lvl entries) hold no leaf. */
static bool lpae_tree_empty(const struct lpae_pgtable *lp, const struct lpae_table *t,
			    unsigned int lvl)
{
	for (unsigned int i = 0; i < LPAE_ENTRIES; i++) {
		uint64_t e = ik_read_le64_acquire(&t->pte[i]);
		struct lpae_table c;

		if (pte_is_free(e))
			continue;
		if (!pte_is_table(e, lvl) || !lpae_table_at(lp, e & PTE_ADDR_MASK, &c) ||
		    !lpae_tree_empty(lp, &c, lvl + 1))
			return false;
	}
	return true;
}

/**
 * lpae_drop_empty() - remove a table without leaves from slot @p
 * @lp: the tables
 * @t: the table holding the slot
 * @p: the slot, a level-@lvl entry
 * @e: its value, a table pointer
 * @lvl: its level (1 or 2)
 * @va: the first address the slot maps
 *
 * Makes room for a block where unmaps left empty tables attached
 * (KEEP_TABLES, or a rare race when counting). Counted, emptied tables
 * below go first, each killed before its slot is cleared, so no killed
 * table is ever reachable. The walk caches for the range are flushed before
 * the pages are freed, as nothing was gathered for them.
 *
 * Return: 0 with the slot empty (and, counted, its reference in @t
 * dropped); -EEXIST if a leaf is mapped below it, or a mapper kept a
 * reference too long.
 */
LPAE_COLD static int lpae_drop_empty(struct lpae_pgtable *lp, struct lpae_table *t, uint64_t *p,
				     uint64_t e, unsigned int lvl, uint64_t va)
{
	const unsigned int shift = lvl_shift(lvl + 1);
	struct lpae_table c;

	if (!lpae_table_at(lp, e & PTE_ADDR_MASK, &c))
		return -EEXIST;
	if (lp->counted) {
		unsigned int tries = 0;

		/* @e may be stale: hold the table @p points at now, or give up. */
		if (!pt_table_hold(c.pg, p, e, true))
			return -EEXIST;
		for (unsigned int i = 0; i < LPAE_ENTRIES; i++) {
			uint64_t ce = ik_read_le64_acquire(&c.pte[i]);
			int ret;

			if (pte_is_free(ce))
				continue;
			ret = pte_is_table(ce, lvl + 1) ?
				      lpae_drop_empty(lp, &c, &c.pte[i], ce, lvl + 1,
						      va + ((uint64_t)i << shift)) :
				      -EEXIST;
			if (ret) {
				pt_table_put(c.pg, 1);
				return ret;
			}
		}
		/* Its entries are all zero: any other reference is a transient one. */
		while (!pt_table_kill_held(c.pg)) {
			if (++tries > LPAE_KILL_TRIES || !lpae_words_zero(c.pte)) {
				pt_table_put(c.pg, 1);
				return -EEXIST;
			}
			sched_yield();
		}
	} else if (!lpae_tree_empty(lp, &c, lvl + 1)) {
		return -EEXIST;
	}
	/* Killed while held, it is still the table @p points at; uncounted, check. */
	if (lp->counted)
		ik_write_le64(p, 0);
	else if (!ik_cmpxchg_le64(p, e, 0))
		return -EEXIST;
	lpae_sync(lp, p, 1);
	if (lp->counted && t->pg)
		pt_table_put(t->pg, 1);
	lpae_seq_retire(lp);
	lp->tlb->tlb_flush_walk(va, (size_t)1 << lvl_shift(lvl), LPAE_SZ_4K, lp->cookie);
	lpae_free_tree(lp, &c, lvl + 1);
	return 0;
}

/* Checks shared by map and unmap; *lvl gets the leaf level of @pgsize. */
static inline int lpae_check_range(const struct lpae_pgtable *lp, uint64_t iova, size_t pgsize,
				   size_t pgcount, unsigned int *lvl)
{
	unsigned int shift;

	if (unlikely(!(pgsize & lp->pgsizes) || (pgsize & (pgsize - 1)) || !pgcount ||
		     (iova & (pgsize - 1))))
		return -EINVAL;
	shift = ik_ffs64(pgsize);
	if (unlikely(iova >= lp->iova_limit || pgcount > ((lp->iova_limit - iova) >> shift)))
		return -EINVAL;
	*lvl = LPAE_LEAF_LEVEL - (shift - IK_PAGE_SHIFT) / 9;
	return 0;
}

/* Fill empty slots p[0..n) with @desc, @desc + @step, ...: how many, up to the first full one. */
static inline size_t lpae_write_run(uint64_t *p, size_t n, uint64_t desc, uint64_t step)
{
	size_t i;

	for (i = 0; i < n; i++, desc += step) {
		if (unlikely(ik_read_le64(&p[i])))
			break;
		ik_write_le64(&p[i], desc);
	}
	return i;
}

/* lpae_map_pages() for everything but a page of the cached table. */
static int lpae_map_general(struct lpae_pgtable *lp, uint64_t iova, uint64_t paddr,
			    size_t pgsize, size_t pgcount, int prot, size_t *mapped)
{
	unsigned int lvl, shift;
	size_t done = 0;
	int ret;

	if (unlikely(!lpae_prot_ok(prot)))
		return -EINVAL;
	ret = lpae_check_range(lp, iova, pgsize, pgcount, &lvl);
	if (unlikely(ret))
		return ret;
	shift = ik_ffs64(pgsize);
	if (unlikely((paddr & (pgsize - 1)) || paddr >= lp->pa_limit ||
		     pgcount > ((lp->pa_limit - paddr) >> shift)))
		return -EINVAL;

	const uint64_t attrs = lpae_prot_attrs(prot) | leaf_type(lvl);
	while (done < pgcount) {
		const uint64_t va = iova + ((uint64_t)done << shift);
		const unsigned int idx = lvl_idx(va, lvl);
		const size_t n = ik_min(pgcount - done, (size_t)(LPAE_ENTRIES - idx));
		const uint64_t desc = (paddr + ((uint64_t)done << shift)) | attrs;
		struct lpae_table t;
		size_t i;

		ret = lpae_table_get(lp, va, lvl, (int32_t)n, &t);
		if (ret)
			break;
		uint64_t *p = t.pte + idx;
		i = lpae_write_run(p, n, desc, pgsize);
		while (unlikely(i < n)) {
			uint64_t e = ik_read_le64(&p[i]);

			if (pte_is_retired(e)) {
				/* A block where a table was retired: see PTE_RETIRED. */
				lpae_drop_stale_walks(lp, va + ((uint64_t)i << shift), pgsize);
				if (ik_cmpxchg_le64(&p[i], e, desc + i * pgsize))
					i++;
				i += lpae_write_run(p + i, n - i, desc + i * pgsize, pgsize);
				continue;
			}

			/* A table without leaves makes way; our reference stays for the block. */
			if (!pte_is_table(e, lvl) ||
			    lpae_drop_empty(lp, &t, &p[i], e, lvl, va + (i << shift)))
				break;
			i += lpae_write_run(p + i, n - i, desc + i * pgsize, pgsize);
		}
		lpae_sync(lp, p, i);
		done += i;
		if (unlikely(i < n)) {
			/* Return the references of what was not written. */
			if (lp->counted && t.pg)
				pt_table_put(t.pg, (int32_t)(n - i));
			ret = -EEXIST;
			break;
		}
	}
	*mapped = done << shift;
	return ret;
}

/*
 * The map fast path took a reference on its cached table @pg but a table
 * was retired meanwhile: get the table the path leads to now (with a
 * reference), drop the one on @pg, and point *@p into the current one.
 * Dropping it cannot empty the table if it is the current one; if it is
 * not, it was retired and maybe reused elsewhere, not ours to retire.
 * Returns the current table's page, or NULL if the slow path must map.
 */
LPAE_COLD static struct ik_page *lpae_map_recheck(struct lpae_pgtable *lp, uint64_t iova,
						  struct ik_page *pg, uint64_t **p)
{
	struct lpae_table t;
	int ret = lpae_table_get(lp, iova, LPAE_LEAF_LEVEL, 1, &t);

	pt_table_put(pg, 1);
	if (ret)
		return NULL;
	*p = &t.pte[lvl_idx(iova, LPAE_LEAF_LEVEL)];
	return t.pg;
}

/* lpae_map_pages() past the walk cache (a miss fills it for the next page). */
static __attribute__((noinline)) int lpae_map_slow(struct lpae_pgtable *lp, uint64_t iova,
						   uint64_t paddr, size_t pgsize, size_t pgcount,
						   int prot, size_t *mapped)
{
	size_t none;

	if (!mapped)
		mapped = &none;
	*mapped = 0;
	return lpae_map_general(lp, iova, paddr, pgsize, pgcount, prot, mapped);
}

/**
 * lpae_map_pages() - map @pgcount pages of @pgsize at @iova to @paddr
 *
 * See iommu_domain_ops.map_pages. A block slot holding a table without
 * leaves (left by unmaps) is taken over: the table goes after a walk flush.
 *
 * Return: 0; -EINVAL for a bad size, alignment or prot (READ or WRITE is
 * required), or an @iova or @paddr range beyond ias/oas; -EEXIST at the
 * first page already (partly) mapped, *mapped telling what was mapped
 * before it; -ENOMEM when a table cannot be allocated.
 */
static int lpae_map_pages(struct io_pgtable_ops *ops, dma_addr_t iova, phys_addr_t paddr,
			  size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped)
{
	struct lpae_pgtable *lp = to_lpae(ops);
	const struct lpae_walk_cache *wc = &lpae_wc;
	const uint64_t seq = lpae_seq_begin(lp);

	/*
	 * One page into the cached table. A hit also means @iova is below
	 * 2^ias and 4 KiB pages are allowed: the cache holds only level-3
	 * tables of this instance, which exist only then.
	 */
	if (likely(pgsize == LPAE_SZ_4K && pgcount == 1 && mapped && wc->owner == lp->id &&
		   wc->va_2m == iova >> 21 && wc->seq == seq &&
		   !((iova | paddr) & (LPAE_SZ_4K - 1)) && paddr < lp->pa_limit &&
		   lpae_prot_ok(prot))) {
		uint64_t *p = &wc->t.pte[lvl_idx(iova, LPAE_LEAF_LEVEL)];
		struct ik_page *pg = wc->t.pg;

		if (lp->counted) {
			if (unlikely(!pt_table_get(pg, 1)))
				goto slow;
			if (unlikely(!lpae_seq_same(lp, seq))) {
				pg = lpae_map_recheck(lp, iova, pg, &p);
				if (!pg)
					goto slow;
			}
		}
		if (unlikely(ik_read_le64(p))) {
			if (lp->counted)
				pt_table_put(pg, 1);
			*mapped = 0;
			return -EEXIST;
		}
		ik_write_le64(p, paddr | lpae_prot_attrs(prot) | PTE_TYPE_PAGE);
		lpae_sync(lp, p, 1);
		*mapped = LPAE_SZ_4K;
		return 0;
	}
slow:
	return lpae_map_slow(lp, iova, paddr, pgsize, pgcount, prot, mapped);
}

/* --- unmap --- */

static inline void lpae_gather(const struct lpae_pgtable *lp, struct iommu_iotlb_gather *gather,
			       uint64_t iova, size_t size)
{
	lp->tlb->tlb_add_page(gather, iova, size, lp->cookie);
}

/* Whether every input address below @t (level-@lvl entries) is mapped. */
static bool lpae_tree_full(const struct lpae_pgtable *lp, const struct lpae_table *t,
			   unsigned int lvl)
{
	for (unsigned int i = 0; i < LPAE_ENTRIES; i++) {
		uint64_t e = ik_read_le64_acquire(&t->pte[i]);
		struct lpae_table c;

		if (pte_is_leaf(e, lvl))
			continue;
		if (!pte_is_table(e, lvl) || !lpae_table_at(lp, e & PTE_ADDR_MASK, &c) ||
		    !lpae_tree_full(lp, &c, lvl + 1))
			return false;
	}
	return true;
}

/**
 * lpae_clear_tree() - unmap every leaf below a full table
 * @lp: the tables
 * @p: the entry pointing at it (level @lvl - 1)
 * @t: the table, of level-@lvl entries, starting at @va
 * @lvl: its level
 * @va: the first address it maps
 * @gather: what was removed goes here
 *
 * Counted, the emptied table is detached from @p and queued after its
 * leaves were gathered.
 *
 * Return: true if @p was cleared (the parent lost a live entry).
 */
static bool lpae_clear_tree(struct lpae_pgtable *lp, uint64_t *p, const struct lpae_table *t,
			    unsigned int lvl, uint64_t va, struct iommu_iotlb_gather *gather)
{
	const uint64_t size = 1ULL << lvl_shift(lvl);
	int32_t removed = 0;

	for (unsigned int i = 0; i < LPAE_ENTRIES; i++) {
		uint64_t e = ik_read_le64_acquire(&t->pte[i]);
		uint64_t cur = va + i * size;
		struct lpae_table c;

		if (pte_is_leaf(e, lvl)) {
			ik_write_le64(&t->pte[i], 0);
			lpae_gather(lp, gather, cur, size);
			removed++;
		} else if (pte_is_table(e, lvl) && lpae_table_at(lp, e & PTE_ADDR_MASK, &c)) {
			removed += lpae_clear_tree(lp, &t->pte[i], &c, lvl + 1, cur, gather);
		}
	}
	lpae_sync(lp, t->pte, LPAE_ENTRIES);
	if (!lp->counted || !pt_table_put_kill(t->pg, removed))
		return false;
	ik_write_le64(p, lpae_mark(lp));
	lpae_sync(lp, p, 1);
	lpae_seq_retire(lp);
	iommu_pages_list_add(lp->mem, gather, t->pa);
	return true;
}

/*
 * Fill fresh (zeroed) level-@lvl table @t with the leaves of the block at
 * output address @pa that maps [@va, @va + 512 entries), without those in
 * [@rs, @re). Level 2 pieces the hole cuts become tables from @spare.
 * Returns the live entries written.
 */
static int32_t lpae_fill(struct lpae_pgtable *lp, const struct lpae_table *t, unsigned int lvl,
			 uint64_t va, uint64_t pa, uint64_t attrs, uint64_t rs, uint64_t re,
			 struct lpae_table *spare)
{
	const uint64_t size = 1ULL << lvl_shift(lvl);
	const uint64_t type = leaf_type(lvl);
	int32_t live = 0;

	for (unsigned int i = 0; i < LPAE_ENTRIES; i++) {
		uint64_t lo = va + i * size, hi = lo + size;

		if (hi <= rs || lo >= re) {
			ik_write_le64(&t->pte[i], (pa + i * size) | attrs | type);
		} else if (lo >= rs && hi <= re) {
			continue;
		} else {
			/* Only at level 2, with 4 KiB pages: split this 2 MiB piece too. */
			int32_t n = lpae_fill(lp, spare, lvl + 1, lo, pa + i * size, attrs, rs, re,
					      NULL);
			if (lp->counted)
				pt_table_get(spare->pg, n);
			lpae_set_parent(spare, t->pa);
			ik_write_le64(&t->pte[i], spare->pa | PTE_TYPE_TABLE);
			spare++;
		}
		live++;
	}
	return live;
}

/**
 * lpae_split_block() - replace a block by a table of what is left of it
 * @lp: the tables
 * @parent: the table holding the block
 * @p: the block entry
 * @e: its value
 * @lvl: its level (1 or 2)
 * @bstart: the first address it maps
 * @rs: start of the part to remove
 * @re: end of it (inside the block)
 *
 * A 2 MiB block becomes a table of 4 KiB pages, a 1 GiB block a table of
 * 2 MiB blocks in which the (at most two) pieces the hole cuts are tables
 * of pages. Everything is allocated before anything is published, so
 * -ENOMEM leaves the block intact.
 *
 * Return: 0; -ENOMEM; -EAGAIN if the entry changed meanwhile.
 */
LPAE_COLD static int lpae_split_block(struct lpae_pgtable *lp, const struct lpae_table *parent,
				      uint64_t *p, uint64_t e, unsigned int lvl, uint64_t bstart,
				      uint64_t rs, uint64_t re)
{
	const uint64_t size = 1ULL << lvl_shift(lvl);
	struct lpae_table t[3];
	unsigned int n = 1, k;
	int ret = 0;

	if (lvl == 1) {
		/* The first and last 2 MiB pieces of the hole may be cut. */
		n += (rs & (LPAE_SZ_2M - 1)) != 0;
		n += (re & (LPAE_SZ_2M - 1)) != 0 &&
		     ((rs & (LPAE_SZ_2M - 1)) == 0 || (rs ^ (re - 1)) >= LPAE_SZ_2M);
	}
	for (k = 0; k < n; k++) {
		ret = lpae_table_alloc(lp, &t[k]);
		if (ret)
			goto out_free;
	}
	int32_t live = lpae_fill(lp, &t[0], lvl + 1, bstart, e & PTE_ADDR_MASK & ~(size - 1),
				 e & PTE_ATTR_MASK, rs, re, &t[1]);
	if (lp->counted)
		pt_table_get(t[0].pg, live);
	lpae_set_parent(&t[0], parent->pa);
	/* The new tables reach memory before the entry that publishes them. */
	for (k = 0; k < n; k++)
		lpae_sync(lp, t[k].pte, LPAE_ENTRIES);
	if (ik_cmpxchg_le64(p, e, t[0].pa | PTE_TYPE_TABLE)) {
		lpae_sync(lp, p, 1);
		return 0;
	}
	while (k--)
		lpae_table_discard(lp, &t[k]);
	return -EAGAIN;
out_free:
	while (k--)
		pt_table_discard(lp->mem, t[k].pa, LPAE_TABLE_BYTES, 0);
	return ret;
}

/* Unmap from @va inside or over the level-@lvl block @e at @p: bytes or -errno. */
LPAE_COLD static long lpae_unmap_block(struct lpae_pgtable *lp, struct lpae_table *path,
				       unsigned int lvl, uint64_t *p, uint64_t e, uint64_t va,
				       uint64_t end, struct iommu_iotlb_gather *gather)
{
	const uint64_t size = 1ULL << lvl_shift(lvl);
	const uint64_t bstart = va & ~(size - 1), bend = bstart + size;
	const uint64_t rm_end = ik_min(end, bend);
	int ret;

	if (va == bstart && rm_end == bend) {
		/* Smaller pages covering all of it: no split needed. */
		if (!ik_cmpxchg_le64(p, e, 0))
			return -EAGAIN;
		lpae_sync(lp, p, 1);
		lpae_gather(lp, gather, bstart, size);
		if (lp->counted && path[lvl].pg && pt_table_put_kill(path[lvl].pg, 1))
			lpae_retire(lp, path[lvl].pg, path[lvl].pa, lvl, va, gather);
		return (long)size;
	}
	ret = lpae_split_block(lp, &path[lvl], p, e, lvl, bstart, va, rm_end);
	if (ret)
		return ret;
	/* The IOTLB may hold the whole old block. */
	lpae_gather(lp, gather, bstart, size);
	return (long)(rm_end - va);
}

/* Clear the leaves p[0..n) of level @lvl (1 to 3) while there are any: how many. */
static inline size_t lpae_clear_run(uint64_t *p, size_t n, unsigned int lvl)
{
	const uint64_t type = leaf_type(lvl);
	size_t i;

	for (i = 0; i < n; i++) {
		if (unlikely((ik_read_le64(&p[i]) & PTE_TYPE_MASK) != type))
			break;
		ik_write_le64(&p[i], 0);
	}
	return i;
}

/* Report @n removed leaves of @size from @va, one tlb_add_page each. */
static __attribute__((noinline)) void lpae_gather_run(const struct lpae_pgtable *lp,
						      struct iommu_iotlb_gather *gather,
						      uint64_t va, size_t size, size_t n)
{
	void (*add)(struct iommu_iotlb_gather *, dma_addr_t, size_t, void *);
	void *cookie = lp->cookie;
	const uint64_t end = va + n * size;

	add = lp->tlb->tlb_add_page;

	for (; va != end; va += size)
		add(gather, va, size, cookie);
}

/* Unmap level-@lvl leaves of table path[@lvl] from @va towards @end. */
static long lpae_unmap_run(struct lpae_pgtable *lp, struct lpae_table *path, unsigned int lvl,
			   uint64_t va, uint64_t end, struct iommu_iotlb_gather *gather)
{
	const struct lpae_table *t = &path[lvl];
	const unsigned int shift = lvl_shift(lvl), idx = lvl_idx(va, lvl);
	const size_t size = (size_t)1 << shift;
	const size_t n = ik_min((size_t)((end - va) >> shift), (size_t)(LPAE_ENTRIES - idx));
	uint64_t *p = t->pte + idx;
	int32_t removed = 0;
	size_t i = 0;

	for (;;) {
		size_t k = lpae_clear_run(p + i, n - i, lvl);

		/* Reported after clearing, all before the gather is synced. */
		lpae_gather_run(lp, gather, va + i * size, size, k);
		removed += (int32_t)k;
		i += k;
		if (i == n)
			break;
		/* Smaller leaves below: all of them go, or none. */
		uint64_t e = ik_read_le64(&p[i]);
		struct lpae_table c;

		if (!pte_is_table(e, lvl) || !lpae_table_at(lp, e & PTE_ADDR_MASK, &c) ||
		    !lpae_tree_full(lp, &c, lvl + 1))
			break;
		removed += lpae_clear_tree(lp, &p[i], &c, lvl + 1, va + i * size, gather);
		i++;
	}
	lpae_sync(lp, p, i);
	if (removed && lp->counted && t->pg && pt_table_put_kill(t->pg, removed))
		lpae_retire(lp, t->pg, t->pa, lvl, va, gather);
	return (long)(i * size);
}

/* Unmap from @va (aligned to level @lvl) towards @end: bytes done, 0 or -errno. */
static long lpae_unmap_step(struct lpae_pgtable *lp, uint64_t va, unsigned int lvl, uint64_t end,
			    struct iommu_iotlb_gather *gather)
{
	struct lpae_table path[LPAE_LEVELS];
	long ret;

	do {
		uint64_t seq = lpae_seq_begin(lp);
		unsigned int l = lpae_walk(lp, va, lvl, path, seq);

		if (l == LPAE_WALK_MOVED) {
			ret = -EAGAIN;
			continue;
		}
		uint64_t *p = &path[l].pte[lvl_idx(va, l)];
		uint64_t e = ik_read_le64_acquire(p);

		if (!pte_is_leaf(e, l) && !(l == lvl && pte_is_table(e, l))) {
			if (pte_is_table(e, l)) {
				struct lpae_table c;
				if (!lpae_table_at(lp, e & PTE_ADDR_MASK, &c))
					return -EFAULT;
				ret = -EAGAIN; /* installed after the walk passed */
				continue;
			}
			lpae_walk_end(lp, path, l);
			return -ENOENT;
		}
		/* Nothing changes before the path is known to be current. */
		if (!lpae_seq_same(lp, seq)) {
			ret = -EAGAIN;
			continue;
		}
		if (l == LPAE_LEAF_LEVEL)
			lpae_wc_fill(lp, va, seq, &path[l]);
		if (l < lvl)
			ret = lpae_unmap_block(lp, path, l, p, e, va, end, gather);
		else
			ret = lpae_unmap_run(lp, path, lvl, va, end, gather);
		if (ret <= 0 && ret != -EAGAIN)
			lpae_walk_end(lp, path, l);
	} while (ret == -EAGAIN);
	return ret;
}

/* lpae_unmap_pages() for everything but a page of the cached table. */
static __attribute__((noinline)) long lpae_unmap_general(struct lpae_pgtable *lp, uint64_t iova,
							 size_t pgsize, size_t pgcount,
							 struct iommu_iotlb_gather *gather)
{
	unsigned int lvl;
	int ret = lpae_check_range(lp, iova, pgsize, pgcount, &lvl);

	if (unlikely(ret))
		return ret;
	if (unlikely(!gather))
		return -EINVAL;

	const uint64_t end = iova + ((uint64_t)pgcount << ik_ffs64(pgsize));
	uint64_t va;

	return PT_UNMAP_STEPS(iova, end, va, lpae_unmap_step(lp, va, lvl, end, gather));
}

/**
 * lpae_unmap_pages() - unmap @pgcount pages of @pgsize at @iova
 *
 * See iommu_domain_ops.unmap_pages: a larger leaf is split (its whole old
 * range is gathered); smaller leaves go only if they map all of a page.
 * Removed leaves are reported with tlb_add_page, emptied tables are queued
 * on @gather's freelist.
 *
 * Return: bytes unmapped; or, when not even the first page could be,
 * -ENOENT (not mapped), -ENOMEM (a split could not allocate), -EINVAL (bad
 * arguments), -EFAULT (a table entry points outside RAM).
 */
static long lpae_unmap_pages(struct io_pgtable_ops *ops, dma_addr_t iova, size_t pgsize,
			     size_t pgcount, struct iommu_iotlb_gather *gather)
{
	struct lpae_pgtable *lp = to_lpae(ops);
	const struct lpae_walk_cache *wc = &lpae_wc;
	const uint64_t seq = lpae_seq_begin(lp);

	/* One page of the cached table (see lpae_map_pages()). */
	if (likely(pgsize == LPAE_SZ_4K && pgcount == 1 && gather && wc->owner == lp->id &&
		   wc->va_2m == iova >> 21 && wc->seq == seq && !(iova & (LPAE_SZ_4K - 1)))) {
		uint64_t *p = &wc->t.pte[lvl_idx(iova, LPAE_LEAF_LEVEL)];
		/* A copy: the callback below may use this thread's cache. */
		const struct lpae_table t = wc->t;

		if (likely((ik_read_le64(p) & PTE_TYPE_MASK) == PTE_TYPE_PAGE &&
			   lpae_seq_same(lp, seq))) {
			ik_write_le64(p, 0);
			lpae_sync(lp, p, 1);
			lpae_gather(lp, gather, iova, LPAE_SZ_4K);
			if (lp->counted && unlikely(pt_table_put_kill(t.pg, 1)))
				lpae_retire(lp, t.pg, t.pa, LPAE_LEAF_LEVEL, iova, gather);
			return LPAE_SZ_4K;
		}
	}
	return lpae_unmap_general(lp, iova, pgsize, pgcount, gather);
}

/* --- lookups --- */

/*
 * Walk for iova_to_phys: the leaf for @va, 0 if none (or if the count
 * moved from @seq: the caller looks again); *lvl gets its level.
 */
static inline uint64_t lpae_find_leaf(const struct lpae_pgtable *lp, uint64_t va,
				      uint64_t seq, unsigned int *lvl)
{
	const uint64_t *tbl = lp->root.pte;
	unsigned int l = lp->start_level;

	for (;; l++) {
		uint64_t e = ik_read_le64_acquire(&tbl[lvl_idx(va, l)]);

		if (!pte_is_table(e, l)) {
			*lvl = l;
			return pte_is_leaf(e, l) ? e : 0;
		}
		tbl = lpae_va(lp, e & PTE_ADDR_MASK);
		if (unlikely(!tbl || !lpae_seq_same(lp, seq)))
			return 0;
	}
}

/* lpae_iova_to_phys() without the walk cache. */
static __attribute__((noinline)) phys_addr_t lpae_iova_to_phys_slow(const struct lpae_pgtable *lp,
								     uint64_t iova)
{
	if (unlikely(iova >= lp->iova_limit))
		return 0;
	for (;;) {
		const uint64_t seq = lpae_seq_begin(lp);
		unsigned int lvl = LPAE_LEAF_LEVEL;
		struct lpae_table t;
		bool leaf_table;
		uint64_t e;

		leaf_table = lpae_leaf_walk(lp, iova, seq, &t);
		if (likely(leaf_table)) {
			e = ik_read_le64(&t.pte[lvl_idx(iova, LPAE_LEAF_LEVEL)]);
			if ((e & PTE_TYPE_MASK) != PTE_TYPE_PAGE)
				e = 0;
		} else {
			e = lpae_find_leaf(lp, iova, seq, &lvl); /* a block, or nothing */
		}
		if (likely(lpae_seq_same(lp, seq))) {
			const uint64_t mask = (1ULL << lvl_shift(lvl)) - 1;

			if (leaf_table)
				lpae_wc_fill(lp, iova, seq, &t);
			return e ? (e & PTE_ADDR_MASK & ~mask) | (iova & mask) : 0;
		}
	}
}

static phys_addr_t lpae_iova_to_phys(struct io_pgtable_ops *ops, dma_addr_t iova)
{
	struct lpae_pgtable *lp = to_lpae(ops);
	const struct lpae_walk_cache *wc = &lpae_wc;
	const uint64_t seq = lpae_seq_begin(lp);

	if (likely(wc->owner == lp->id && wc->va_2m == iova >> 21 && wc->seq == seq)) {
		uint64_t e = ik_read_le64(&wc->t.pte[lvl_idx(iova, LPAE_LEAF_LEVEL)]);

		if (likely(lpae_seq_same(lp, seq)))
			return (e & PTE_TYPE_MASK) == PTE_TYPE_PAGE ?
			       (e & PTE_ADDR_MASK) | (iova & (LPAE_SZ_4K - 1)) : 0;
	}
	return lpae_iova_to_phys_slow(lp, iova);
}

/* "page ai=0 sh=os ng", "block 2M ai=1 sh=is ng", ... */
static void lpae_desc(char *buf, size_t len, unsigned int lvl, uint64_t e)
{
	static const char *const kind[] = { "", "block 1G", "block 2M", "page" };
	static const char *const sh[] = { "non", "res", "os", "is" };

	snprintf(buf, len, "%s ai=%u sh=%s%s%s", kind[lvl],
		 (unsigned int)((e & PTE_ATTRINDX_MASK) >> PTE_ATTRINDX_SHIFT),
		 sh[(e & PTE_SH_MASK) >> PTE_SH_SHIFT], (e & PTE_NG) ? " ng" : "",
		 (e & PTE_NS) ? " ns" : "");
}

static int lpae_dump_table(struct lpae_pgtable *lp, const uint64_t *tbl, unsigned int lvl,
			   uint64_t va, io_pgtable_dump_fn fn, void *arg)
{
	const uint64_t size = 1ULL << lvl_shift(lvl);
	char desc[48];
	int ret = 0;

	for (unsigned int i = 0; i < LPAE_ENTRIES && !ret; i++) {
		uint64_t e = ik_read_le64_acquire(&tbl[i]);
		uint64_t cur = va + i * size;

		if (pte_is_leaf(e, lvl)) {
			lpae_desc(desc, sizeof(desc), lvl, e);
			ret = fn(arg, cur, e & PTE_ADDR_MASK & ~(size - 1), size, lpae_leaf_prot(e),
				 desc);
		} else if (pte_is_table(e, lvl)) {
			const uint64_t *c = lpae_va(lp, e & PTE_ADDR_MASK);
			if (c)
				ret = lpae_dump_table(lp, c, lvl + 1, cur, fn, arg);
		}
	}
	return ret;
}

static int lpae_dump(struct io_pgtable_ops *ops, io_pgtable_dump_fn fn, void *arg)
{
	struct lpae_pgtable *lp = to_lpae(ops);

	if (!fn)
		return -EINVAL;
	return lpae_dump_table(lp, lp->root.pte, lp->start_level, 0, fn, arg);
}

/* --- allocation --- */

static void lpae_free(struct io_pgtable *iop)
{
	struct lpae_pgtable *lp = container_of(iop, struct lpae_pgtable, iop);

	lpae_free_tree(lp, &lp->root, lp->start_level);
	free(lp);
}

/* TCR.IPS / TCR2.PASize encoding of @oas, -1 if it has none. */
static int lpae_ips(unsigned int oas)
{
	static const unsigned char bits[] = { 32, 36, 40, 42, 44, 48 };

	for (unsigned int i = 0; i < ARRAY_SIZE(bits); i++)
		if (bits[i] == oas)
			return (int)i;
	return -1;
}

/**
 * lpae_alloc() - allocate an empty start-level table
 * @cfg: quirks (KEEP_TABLES only), pgsize_bitmap (masked to 4K|2M|1G),
 *       ias (48 or 39; 0 means 48), oas (32, 36, 40, 42, 44 or 48; 0 means
 *       48), tlb (tlb_add_page and tlb_flush_walk are required), mem.
 *       Out: pgsize_bitmap, ias, oas, arm_lpae_s1_cfg.ttbr/tcr/mair.
 * @cookie: for the flush callbacks
 *
 * Every table lies below 2^oas, where the walker can reach it.
 *
 * Return: the instance, or NULL with errno EINVAL or ENOMEM.
 */
static struct io_pgtable *lpae_alloc(struct io_pgtable_cfg *cfg, void *cookie)
{
	unsigned int ias, oas;
	struct lpae_pgtable *lp;
	unsigned long pgsizes;
	phys_addr_t pa;
	int ips, ret;

	if (!cfg || !cfg->mem || !cfg->tlb || !cfg->tlb->tlb_add_page ||
	    !cfg->tlb->tlb_flush_walk || (cfg->quirks & ~IO_PGTABLE_QUIRK_KEEP_TABLES))
		goto inval;
	ias = cfg->ias ? cfg->ias : LPAE_DEFAULT_BITS;
	oas = cfg->oas ? cfg->oas : LPAE_DEFAULT_BITS;
	ips = lpae_ips(oas);
	pgsizes = cfg->pgsize_bitmap & LPAE_PGSIZES;
	if ((ias != 48 && ias != 39) || ips < 0 || !pgsizes)
		goto inval;

	lp = aligned_alloc(alignof(struct lpae_pgtable), sizeof(*lp));
	if (!lp) {
		errno = ENOMEM;
		return NULL;
	}
	memset(lp, 0, sizeof(*lp));
	lp->mem = cfg->mem;
	lp->pa_limit = 1ULL << oas;
	ret = pt_table_alloc(cfg->mem, LPAE_TABLE_BYTES, &pa);
	if (ret) {
		free(lp);
		errno = -ret;
		return NULL;
	}
	lp->rgn = ik_mem_region_of(cfg->mem, pa);
	if (!lp->rgn || pa + LPAE_TABLE_BYTES > lp->pa_limit) {
		pt_table_discard(cfg->mem, pa, LPAE_TABLE_BYTES, 0);
		free(lp);
		errno = ENOMEM;
		return NULL;
	}
	lpae_table_at(lp, pa, &lp->root);
	lp->root.pg = NULL; /* the start level is never counted nor freed early */
	lp->tlb = cfg->tlb;
	lp->cookie = cookie;
	lp->pgsizes = pgsizes;
	lp->iova_limit = 1ULL << ias;
	lp->start_level = ias == 48 ? 0 : 1;
	lp->counted = !(cfg->quirks & IO_PGTABLE_QUIRK_KEEP_TABLES);
	lp->clean = pt_clean_cache(cfg->mem, cfg->coherent_walk);
	lp->id = __atomic_add_fetch(&lpae_next_id, 1, __ATOMIC_RELAXED);
	lp->fast_4k = pgsizes & LPAE_SZ_4K;

	cfg->pgsize_bitmap = pgsizes;
	cfg->ias = ias;
	cfg->oas = oas;
	cfg->arm_lpae_s1_cfg.ttbr = pa;
	cfg->arm_lpae_s1_cfg.tcr = ((uint64_t)(64 - ias) << TCR_T0SZ_SHIFT) |
				   (TCR_RGN_WBWA << TCR_IRGN0_SHIFT) |
				   (TCR_RGN_WBWA << TCR_ORGN0_SHIFT) |
				   (TCR_SH_IS << TCR_SH0_SHIFT) | (TCR_TG0_4K << TCR_TG0_SHIFT) |
				   TCR_EPD1 | ((uint64_t)ips << TCR_IPS_SHIFT);
	cfg->arm_lpae_s1_cfg.mair = (MAIR_ATTR_NC << MAIR_ATTR_SHIFT(MAIR_IDX_NC)) |
				    (MAIR_ATTR_WB << MAIR_ATTR_SHIFT(MAIR_IDX_WB)) |
				    (MAIR_ATTR_DEV << MAIR_ATTR_SHIFT(MAIR_IDX_DEV)) |
				    (MAIR_ATTR_INC_OWB << MAIR_ATTR_SHIFT(MAIR_IDX_INC_OWB));

	lp->iop.fmt = ARM_64_LPAE_S1;
	lp->iop.cookie = cookie;
	lp->iop.cfg = *cfg;
	lp->iop.ops = (struct io_pgtable_ops){
		.map_pages = lpae_map_pages,
		.unmap_pages = lpae_unmap_pages,
		.iova_to_phys = lpae_iova_to_phys,
		.dump = lpae_dump,
	};
	return &lp->iop;
inval:
	errno = EINVAL;
	return NULL;
}

const struct io_pgtable_init_fns io_pgtable_arm_64_lpae_s1_init_fns = {
	.alloc = lpae_alloc,
	.free = lpae_free,
};
