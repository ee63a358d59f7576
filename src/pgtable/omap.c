// SPDX-License-Identifier: MIT
/*
 * TI OMAP2/3 MMU translation tables (format OMAP_IOMMU_PGTABLE).
 *
 * Sources (facts only):
 *  - OMAP35x Technical Reference Manual (SPRUF98), chapter "Memory
 *    Management Units", MMU functional description, "Translation Tables":
 *    "First-Level Translation Table", "First-Level Descriptor Format",
 *    "Two-Level Translation" / "Second-Level Descriptor Format". The same
 *    MMU is documented in TI SPRUGX9 section 1.4.3.1.2 ("System MMU"),
 *    whose Table 1-11 gives the first-level layout used below: section
 *    base [31:20], supersection base [31:24] with bit 18 set, M (mixed)
 *    bit 17, E (endianness) bit 15, ES (element size) bits 11:10, type
 *    [1:0] = 00 fault, 01 page table, 10 (super)section, 11 fault; and
 *    "a large page descriptor must be repeated 16 times".
 *  - Linux drivers/iommu/omap-iopgtable.h: descriptor type encodings
 *    (table 0b01 with base [31:10], section 0b10, supersection 0b10|BIT(18);
 *    small page bit 1 set, large page 0b01) and
 *    drivers/iommu/omap-iommu.c get_iopte_attr(): the MMU_RAM attribute
 *    fields (endian bit 9, elsz bits 8:7, mixed bit 6) land in a second-
 *    level entry at endian bit 9, elsz bits 5:4, mixed bit 11, and in a
 *    first-level entry 6 bits higher (endian 15, elsz 11:10, mixed 17),
 *    which agrees with SPRUGX9 Table 1-11.
 *
 * Layout: a 16 KiB first-level (L1) table of 4096 little-endian words
 * indexed by iova[31:20]; each word is a fault, a 1 MiB section, one of 16
 * identical supersection words (16 MiB, 16-aligned index), or a pointer to
 * a 1 KiB second-level (L2, "coarse") table of 256 words indexed by
 * iova[19:12], each a fault, a 4 KiB small page or one of 16 identical
 * 64 KiB large-page words. Every L2 table gets its own 4 KiB page so that
 * its live entries can be counted in the page metadata (pt-table.h).
 *
 * Concurrency (disjoint IOVA ranges, no locks): new L2 tables are
 * published with a CAS on the L1 word; mappers count the entries they will
 * write before writing them and re-check the L1 word (pt-table.h); the
 * unmapper that empties a table kills it, clears the L1 word and queues the
 * page on the gather. A block split by two threads unmapping different
 * parts of it is decided by a CAS on the block's first word (sections have
 * only that one); the loser retries on the replacement.
 *
 * Permissions: this MMU has none. IOMMU_READ/WRITE/CACHE/NOEXEC/MMIO/PRIV
 * are accepted (a map needs READ or WRITE) but not enforced: every mapping
 * is readable and writable by the device. Access attributes (endianness
 * conversion) come from cfg->omap.attrs instead.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "ik/io-pgtable.h"
#include "ik/omap-mmu-regs.h"
#include "pgtable/pt-table.h"

#define OMAP_SZ_4K  0x00001000u
#define OMAP_SZ_64K 0x00010000u
#define OMAP_SZ_1M  0x00100000u
#define OMAP_SZ_16M 0x01000000u
#define OMAP_PGSIZES (IK_SZ_4K | IK_SZ_64K | IK_SZ_1M | IK_SZ_16M)
#define OMAP_ADDR_BITS 32
#define OMAP_MIN_ADDR_BITS 12 /* at least one small page */

#define L1_ENTRIES     4096u
#define L1_BYTES       (L1_ENTRIES * sizeof(uint32_t)) /* 16 KiB, 16 KiB aligned */
#define L2_ENTRIES     256u
#define L2_ALLOC_BYTES IK_PAGE_SIZE /* the 1 KiB table, alone in its page */
#define L1_INDEX(va)   ((uint32_t)(va) >> 20)
#define L2_INDEX(va)   (((uint32_t)(va) >> 12) & 0xffu)
#define REPEAT         16u /* words per supersection / large page */

/* First-level descriptor */
#define L1_TYPE_MASK    0x3u
#define L1_TYPE_TABLE   0x1u
#define L1_TYPE_SECTION 0x2u /* section or, with L1_SUPER, supersection */
#define L1_SUPER        (1u << 18)
#define L1_TABLE_ADDR   0xfffffc00u
#define L1_SECTION_ADDR 0xfff00000u
#define L1_SUPER_ADDR   0xff000000u
#define L1_ATTR_SHIFT   6 /* attributes sit 6 bits above the L2 positions */

/* Second-level descriptor */
#define L2_SMALL      0x2u /* bit 1 set: small page (0b11 too; we write 0b10) */
#define L2_LARGE      0x1u /* 0b01 */
#define L2_SMALL_ADDR 0xfffff000u
#define L2_LARGE_ADDR 0xffff0000u
#define L2_ENDIAN_BIG (1u << 9)
#define L2_ELSZ_SHIFT 4
#define L2_ELSZ_MASK  (3u << L2_ELSZ_SHIFT)
#define L2_MIXED      (1u << 11)
#define L2_ATTR_MASK  (L2_ENDIAN_BIG | L2_ELSZ_MASK | L2_MIXED)
#define L1_ATTR_MASK  (L2_ATTR_MASK << L1_ATTR_SHIFT)

#define OMAP_RAM_ATTRS (OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_MASK | OMAP_MMU_RAM_MIXED)

/* Rare paths stay out of line so the per-page ones stay short. */
#define OMAP_COLD __attribute__((noinline, cold))
/* Multi-page paths: out of line (small fast-path frames) but optimized for speed. */
#define OMAP_NOINLINE __attribute__((noinline))

/* How long to wait for transient references before calling a table busy. */
#define OMAP_KILL_TRIES 1000u

struct omap_pgtable {
	struct io_pgtable iop;
	uint32_t *l1;                     /* host view of the first-level table */
	phys_addr_t l1_pa;
	struct ik_mem *mem;
	const struct iommu_flush_ops *tlb;
	void *cookie;
	unsigned long pgsizes;
	uint64_t iova_limit;              /* 1 << ias */
	uint64_t pa_limit;                /* 1 << oas */
	bool counted;                     /* live entries counted (no KEEP_TABLES) */
	struct ik_cpu_cache *clean;       /* clean table writes from it (pt_sync()) */
};

/* A second-level table: its words, its page metadata and its address. */
struct omap_l2 {
	uint32_t *pte;
	struct ik_page *pg;
	phys_addr_t pa;
};

static inline struct omap_pgtable *to_omap(struct io_pgtable_ops *ops)
{
	return container_of(io_pgtable_ops_to_pgtable(ops), struct omap_pgtable, iop);
}

/* MMU_RAM attribute fields -> their second-level descriptor positions. */
static inline uint32_t omap_l2_attrs(uint32_t ram)
{
	uint32_t a = (ram & OMAP_MMU_RAM_ENDIAN_BIG) ? L2_ENDIAN_BIG : 0;

	a |= ((ram & OMAP_MMU_RAM_ELSZ_MASK) >> OMAP_MMU_RAM_ELSZ_SHIFT) << L2_ELSZ_SHIFT;
	if (ram & OMAP_MMU_RAM_MIXED)
		a |= L2_MIXED;
	return a;
}

static inline bool omap_l2_at(const struct omap_pgtable *op, phys_addr_t pa, struct omap_l2 *t)
{
	struct ik_mem_region *r = ik_mem_region_of(op->mem, pa);
	uint64_t off;

	if (unlikely(!r))
		return false;
	off = pa - r->base;
	t->pte = (uint32_t *)(void *)(r->cpu_host + off);
	t->pg = &r->meta[off >> IK_PAGE_SHIFT];
	t->pa = pa;
	return true;
}

/*
 * Make @n table words the CPU wrote at @p visible to the walker.
 *
 * A mapper that finds a second-level table through the CPU's view cannot
 * know that whoever installed it has cleaned the first-level entry yet: it
 * cleans that entry itself before its map returns, or the walker could
 * fault on a page the map reported mapped. (Linux's io-pgtable-arm marks
 * cleaned table entries with a software bit to skip that clean; the OMAP
 * descriptor has no bit to spare, so we always clean.)
 */
static inline void omap_sync(const struct omap_pgtable *op, const uint32_t *p, size_t n)
{
	pt_sync(op->mem, op->clean, p, n * sizeof(*p));
}

static bool omap_words_zero(const uint32_t *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (ik_read_le32(&p[i]))
			return false;
	return true;
}

static bool omap_words_set(const uint32_t *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!ik_read_le32(&p[i]))
			return false;
	return true;
}

static inline void omap_gather(struct omap_pgtable *op, struct iommu_iotlb_gather *gather,
			       uint64_t iova, size_t size)
{
	op->tlb->tlb_add_page(gather, iova, size, op->cookie);
}

/* A zeroed second-level table below 4 GiB (the descriptors hold 32 bits). */
OMAP_COLD
static int omap_l2_alloc(struct omap_pgtable *op, struct omap_l2 *t)
{
	phys_addr_t pa;
	int ret = pt_table_alloc(op->mem, L2_ALLOC_BYTES, &pa);

	if (ret)
		return ret;
	if (pa + L2_ALLOC_BYTES - 1 > UINT32_MAX || !omap_l2_at(op, pa, t)) {
		pt_table_discard(op->mem, pa, L2_ALLOC_BYTES, 0);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Discard @t, never published or torn down: its count holds the bias and,
 * counted, one reference per word written into it (pt_table_discard()).
 */
static void omap_l2_discard(const struct omap_pgtable *op, const struct omap_l2 *t)
{
	int32_t refs = 0;

	for (unsigned int i = 0; op->counted && i < L2_ENTRIES; i++)
		refs += ik_read_le32(&t->pte[i]) != 0;
	pt_table_discard(op->mem, t->pa, L2_ALLOC_BYTES, refs);
}

/* omap_l2_get() when the entry is not (yet) a live table: install one or retry. */
OMAP_COLD
static int omap_l2_get_slow(struct omap_pgtable *op, uint32_t *l1p, int32_t refs,
			    struct omap_l2 *t)
{
	for (;;) {
		uint32_t e = ik_read_le32_acquire(l1p);

		if ((e & L1_TYPE_MASK) == L1_TYPE_TABLE) {
			if (unlikely(!omap_l2_at(op, e & L1_TABLE_ADDR, t)))
				return -EFAULT;
			if (!op->counted)
				return 0;
			if (pt_table_get(t->pg, refs)) {
				if (ik_read_le32_acquire(l1p) == e)
					return 0;
				/* Died (and maybe was recycled) meanwhile. */
				pt_table_put(t->pg, refs);
			} else {
				sched_yield(); /* its killer is about to clear @l1p */
			}
			continue;
		}
		if (e)
			return -EEXIST;

		int ret = omap_l2_alloc(op, t);
		if (ret)
			return ret;
		if (op->counted)
			pt_table_get(t->pg, refs);
		/* Zero in memory and in the CPU's view; omap_map_l2() cleans @l1p. */
		if (ik_cmpxchg_le32(l1p, 0, (uint32_t)t->pa | L1_TYPE_TABLE))
			return 0;
		pt_table_discard(op->mem, t->pa, L2_ALLOC_BYTES, op->counted ? refs : 0);
	}
}

/**
 * omap_l2_get() - the second-level table under an L1 entry, for mapping
 * @op: the tables
 * @l1p: the first-level entry
 * @refs: live entries the caller will write (counted before writing)
 * @t: out: the table
 *
 * Installs a new table if the entry is empty (losing a race frees ours and
 * uses the winner's). Unless KEEP_TABLES, takes @refs references and then
 * re-checks that @l1p still points at the table (pt-table.h protocol).
 *
 * Return: 0; -EEXIST if the entry is a section or supersection; -ENOMEM;
 * -EFAULT if the entry points outside RAM.
 */
static inline int omap_l2_get(struct omap_pgtable *op, uint32_t *l1p, int32_t refs,
			      struct omap_l2 *t)
{
	uint32_t e = ik_read_le32_acquire(l1p);

	if (likely((e & L1_TYPE_MASK) == L1_TYPE_TABLE) &&
	    likely(omap_l2_at(op, e & L1_TABLE_ADDR, t))) {
		if (!op->counted)
			return 0;
		if (likely(pt_table_get(t->pg, refs))) {
			if (likely(ik_read_le32_acquire(l1p) == e))
				return 0;
			pt_table_put(t->pg, refs);
		}
	}
	return omap_l2_get_slow(op, l1p, refs, t);
}

/* Map pages of 4 KiB or 64 KiB: one reference batch per second-level table. */
static int omap_map_l2(struct omap_pgtable *op, uint32_t iova, uint32_t paddr, uint32_t pgsize,
		       size_t pgcount, uint32_t attr, size_t *mapped)
{
	const bool large = pgsize == OMAP_SZ_64K;
	const unsigned int words_shift = large ? 4 : 0; /* log2(words per page) */
	const unsigned int words = 1u << words_shift;
	const uint32_t type = large ? L2_LARGE : L2_SMALL;
	size_t done = 0;
	int ret = 0;

	while (done < pgcount) {
		uint32_t va = iova + (uint32_t)(done * pgsize);
		unsigned int idx = L2_INDEX(va);
		size_t n = ik_min(pgcount - done, (size_t)(L2_ENTRIES - idx) >> words_shift);
		uint32_t desc = (paddr + (uint32_t)(done * pgsize)) | attr | type;
		struct omap_l2 t;
		size_t i;

		ret = omap_l2_get(op, &op->l1[L1_INDEX(va)], (int32_t)(n * words), &t);
		if (ret)
			break;
		/* Its installer may not have cleaned the entry yet (see omap_sync()). */
		omap_sync(op, &op->l1[L1_INDEX(va)], 1);
		uint32_t *p = t.pte + idx;
		if (!large) {
			for (i = 0; i < n; i++, desc += OMAP_SZ_4K) {
				if (unlikely(ik_read_le32(&p[i])))
					break;
				ik_write_le32(&p[i], desc);
			}
		} else {
			for (i = 0; i < n; i++, p += REPEAT, desc += OMAP_SZ_64K) {
				if (unlikely(!omap_words_zero(p, REPEAT)))
					break;
				for (unsigned int k = 0; k < REPEAT; k++)
					ik_write_le32(&p[k], desc);
			}
		}
		omap_sync(op, t.pte + idx, i * words);
		done += i;
		if (unlikely(i < n)) {
			/* Return the references of what was not written. */
			if (op->counted)
				pt_table_put(t.pg, (int32_t)((n - i) * words));
			ret = -EEXIST;
			break;
		}
	}
	*mapped = done * pgsize;
	return ret;
}

/*
 * Remove an empty second-level table from @l1p (value @e) so that a section
 * can take its place: the walk cache for that 1 MiB is flushed before the
 * page is freed.
 */
OMAP_COLD
static int omap_l1_drop_table(struct omap_pgtable *op, uint32_t *l1p, uint32_t e, uint32_t va)
{
	struct omap_l2 t;

	if (!omap_l2_at(op, e & L1_TABLE_ADDR, &t))
		return -EFAULT;
	if (op->counted) {
		unsigned int tries = 0;

		/* @e may be stale: hold the table @l1p points at now, or give up. */
		if (!pt_table_hold(t.pg, l1p, e, false))
			return -EEXIST;
		/* Its words are all zero: any other reference is a transient one. */
		while (!pt_table_kill_held(t.pg)) {
			if (++tries > OMAP_KILL_TRIES || !omap_words_zero(t.pte, L2_ENTRIES)) {
				pt_table_put(t.pg, 1);
				return -EEXIST;
			}
			sched_yield();
		}
	}
	/* Killed while held, it is still the table @l1p points at; uncounted, check. */
	if (op->counted)
		ik_write_le32(l1p, 0);
	else if (!ik_cmpxchg_le32(l1p, e, 0))
		return -EEXIST;
	omap_sync(op, l1p, 1);
	op->tlb->tlb_flush_walk(va, OMAP_SZ_1M, OMAP_SZ_4K, op->cookie);
	pt_table_free(op->mem, t.pa, L2_ALLOC_BYTES);
	return 0;
}

/*
 * Make @n first-level entries at @l1p free for a section or supersection:
 * each must be a fault entry or point to an empty table, which goes. Checks
 * all before changing any.
 */
OMAP_COLD
static int omap_l1_claim(struct omap_pgtable *op, uint32_t *l1p, unsigned int n, uint32_t va)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t e = ik_read_le32_acquire(&l1p[i]);
		struct omap_l2 t;

		if (!e)
			continue;
		if ((e & L1_TYPE_MASK) != L1_TYPE_TABLE || !omap_l2_at(op, e & L1_TABLE_ADDR, &t) ||
		    !omap_words_zero(t.pte, L2_ENTRIES))
			return -EEXIST;
	}
	for (i = 0; i < n; i++) {
		uint32_t e = ik_read_le32_acquire(&l1p[i]);

		if (e) {
			int ret = omap_l1_drop_table(op, &l1p[i], e, va + (i << 20));
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Map sections (1 MiB) or supersections (16 MiB). */
OMAP_COLD
static int omap_map_l1(struct omap_pgtable *op, uint32_t iova, uint32_t paddr, uint32_t pgsize,
		       size_t pgcount, uint32_t attr, size_t *mapped)
{
	const bool super = pgsize == OMAP_SZ_16M;
	const unsigned int words = super ? REPEAT : 1;
	const uint32_t type = L1_TYPE_SECTION | (super ? L1_SUPER : 0) | (attr << L1_ATTR_SHIFT);
	size_t i;
	int ret = 0;

	for (i = 0; i < pgcount; i++) {
		uint32_t va = iova + (uint32_t)(i * pgsize);
		uint32_t desc = (paddr + (uint32_t)(i * pgsize)) | type;
		uint32_t *l1p = &op->l1[L1_INDEX(va)];
		unsigned int j;

		ret = omap_l1_claim(op, l1p, words, va);
		if (ret)
			break;
		for (j = 0; j < words; j++)
			if (!ik_cmpxchg_le32(&l1p[j], 0, desc))
				break;
		if (j < words) {
			while (j--)
				ik_write_le32(&l1p[j], 0);
			omap_sync(op, l1p, words);
			ret = -EEXIST;
			break;
		}
		omap_sync(op, l1p, words);
	}
	*mapped = i * pgsize;
	return ret;
}

/* Checks shared by map and unmap; *shift gets log2(pgsize). */
static inline int omap_check_range(const struct omap_pgtable *op, uint64_t iova, size_t pgsize,
				   size_t pgcount, unsigned int *shift)
{
	if (unlikely(!(pgsize & op->pgsizes) || (pgsize & (pgsize - 1)) || !pgcount ||
		     (iova & (pgsize - 1))))
		return -EINVAL;
	*shift = ik_ffs64(pgsize);
	if (unlikely(iova >= op->iova_limit || pgcount > ((op->iova_limit - iova) >> *shift)))
		return -ERANGE;
	return 0;
}

/* Map arguments that need a closer look than the fast paths give them. */
static inline bool omap_map_args_unusual(const struct omap_pgtable *op, uint64_t iova,
					 uint64_t paddr, int prot)
{
	return ((iova | paddr) & (OMAP_SZ_4K - 1)) || iova >= op->iova_limit ||
	       paddr >= op->pa_limit || !(prot & (IOMMU_READ | IOMMU_WRITE)) ||
	       (prot & ~IOMMU_PROT_MASK) || !(op->pgsizes & OMAP_SZ_4K);
}

/*
 * One 4 KiB page into an existing table, the common case of the DMA API.
 * Returns 0, -EEXIST, or 1 when the general path must handle it.
 */
static inline int omap_map_one_small(struct omap_pgtable *op, uint64_t iova, uint64_t paddr,
				     int prot)
{
	uint32_t *l1p = &op->l1[L1_INDEX(iova)];
	uint32_t e, *p;
	struct omap_l2 t;

	if (unlikely(omap_map_args_unusual(op, iova, paddr, prot)))
		return 1;
	e = ik_read_le32_acquire(l1p);
	if (unlikely((e & L1_TYPE_MASK) != L1_TYPE_TABLE || !omap_l2_at(op, e & L1_TABLE_ADDR, &t)))
		return 1;
	if (op->counted) {
		if (unlikely(!pt_table_get(t.pg, 1)))
			return 1;
		if (unlikely(ik_read_le32_acquire(l1p) != e)) {
			pt_table_put(t.pg, 1);
			return 1;
		}
	}
	p = &t.pte[L2_INDEX(iova)];
	if (unlikely(ik_read_le32(p))) {
		if (op->counted)
			pt_table_put(t.pg, 1);
		return -EEXIST;
	}
	omap_sync(op, l1p, 1); /* as in omap_map_l2() */
	uint32_t ram = __atomic_load_n(&op->iop.cfg.omap.attrs, __ATOMIC_RELAXED);
	ik_write_le32(p, (uint32_t)paddr | omap_l2_attrs(ram) | L2_SMALL);
	omap_sync(op, p, 1);
	return 0;
}

/* omap_map_pages() for everything but the fast path. */
OMAP_NOINLINE
static int omap_map_general(struct omap_pgtable *op, uint64_t iova, uint64_t paddr, size_t pgsize,
			    size_t pgcount, int prot, size_t *mapped)
{
	unsigned int shift;
	int ret;

	if (unlikely(!(prot & (IOMMU_READ | IOMMU_WRITE)) || (prot & ~IOMMU_PROT_MASK)))
		return -EINVAL;
	ret = omap_check_range(op, iova, pgsize, pgcount, &shift);
	if (unlikely(ret))
		return ret;
	if (unlikely(paddr & (pgsize - 1)))
		return -EINVAL;
	if (unlikely(paddr >= op->pa_limit || pgcount > ((op->pa_limit - paddr) >> shift)))
		return -ERANGE;

	uint32_t attr = omap_l2_attrs(__atomic_load_n(&op->iop.cfg.omap.attrs, __ATOMIC_RELAXED));
	if (pgsize < OMAP_SZ_1M)
		return omap_map_l2(op, (uint32_t)iova, (uint32_t)paddr, (uint32_t)pgsize, pgcount,
				   attr, mapped);
	return omap_map_l1(op, (uint32_t)iova, (uint32_t)paddr, (uint32_t)pgsize, pgcount, attr,
			   mapped);
}

/**
 * omap_map_pages() - map @pgcount pages of @pgsize at @iova to @paddr
 *
 * See iommu_domain_ops.map_pages. Return: 0; -EINVAL for a bad size,
 * alignment or prot (READ or WRITE is required); -ERANGE beyond ias/oas;
 * -EEXIST at the first page already (partly) mapped, *mapped telling what
 * was mapped before it; -ENOMEM when a table cannot be allocated.
 */
static int omap_map_pages(struct io_pgtable_ops *ops, dma_addr_t iova, phys_addr_t paddr,
			  size_t pgsize, size_t pgcount, int prot, gfp_t gfp, size_t *mapped)
{
	struct omap_pgtable *op = to_omap(ops);
	size_t none;

	if (!mapped)
		mapped = &none;
	*mapped = 0;
	if (likely(pgsize == OMAP_SZ_4K && pgcount == 1)) {
		int ret = omap_map_one_small(op, iova, paddr, prot);
		if (likely(ret <= 0)) {
			if (!ret)
				*mapped = OMAP_SZ_4K;
			return ret;
		}
	}
	return omap_map_general(op, iova, paddr, pgsize, pgcount, prot, mapped);
}

/*
 * A table the caller emptied and killed with pt_table_put_kill(): detach
 * it, free it after the IOTLB sync.
 */
OMAP_COLD
static void omap_l2_release(struct omap_pgtable *op, uint32_t *l1p, const struct omap_l2 *t,
			    struct iommu_iotlb_gather *gather)
{
	/* Only the killer detaches it; a failed CAS would mean a broken caller contract. */
	if (ik_cmpxchg_le32(l1p, (uint32_t)t->pa | L1_TYPE_TABLE, 0)) {
		omap_sync(op, l1p, 1);
		iommu_pages_list_add(op->mem, gather, t->pa);
	}
}

/* Clear every leaf of a full table at @va (1 MiB aligned), each gathered. */
OMAP_COLD
static void omap_l2_clear_all(struct omap_pgtable *op, uint32_t *l1p, const struct omap_l2 *t,
			      uint32_t va, struct iommu_iotlb_gather *gather)
{
	unsigned int idx = 0;

	while (idx < L2_ENTRIES) {
		uint32_t e = ik_read_le32(&t->pte[idx]);

		if (e & L2_SMALL) {
			ik_write_le32(&t->pte[idx], 0);
			omap_gather(op, gather, va + (idx << 12), OMAP_SZ_4K);
			idx++;
			continue;
		}
		unsigned int first = idx & ~(REPEAT - 1);
		for (; idx < first + REPEAT; idx++)
			ik_write_le32(&t->pte[idx], 0);
		omap_gather(op, gather, va + (first << 12), OMAP_SZ_64K);
	}
	omap_sync(op, t->pte, L2_ENTRIES);
	if (op->counted && pt_table_put_kill(t->pg, (int32_t)L2_ENTRIES))
		omap_l2_release(op, l1p, t, gather);
}

/*
 * Unmap [va, va + size) (1 or 16 MiB) that smaller leaves map: only if all
 * of it is mapped, else -ENOENT with nothing changed.
 */
OMAP_COLD
static long omap_unmap_cover(struct omap_pgtable *op, uint32_t va, size_t size,
			     struct iommu_iotlb_gather *gather)
{
	const unsigned int n = (unsigned int)(size >> 20);
	uint32_t *l1p = &op->l1[L1_INDEX(va)];
	struct omap_l2 t;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t e = ik_read_le32_acquire(&l1p[i]);

		if ((e & (L1_TYPE_MASK | L1_SUPER)) == L1_TYPE_SECTION)
			continue;
		if ((e & L1_TYPE_MASK) != L1_TYPE_TABLE || !omap_l2_at(op, e & L1_TABLE_ADDR, &t) ||
		    !omap_words_set(t.pte, L2_ENTRIES))
			return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		uint32_t e = ik_read_le32_acquire(&l1p[i]);
		uint32_t cur = va + (i << 20);

		if ((e & L1_TYPE_MASK) == L1_TYPE_SECTION) {
			ik_write_le32(&l1p[i], 0);
			omap_sync(op, &l1p[i], 1);
			omap_gather(op, gather, cur, OMAP_SZ_1M);
		} else if (omap_l2_at(op, e & L1_TABLE_ADDR, &t)) {
			omap_l2_clear_all(op, &l1p[i], &t, cur, gather);
		}
	}
	return (long)size;
}

/*
 * Fill a fresh (zeroed) table with the 1 MiB at physical @pa_1m, leaving
 * out the offsets [rm_lo, rm_hi): 64 KiB pages where a whole one is kept,
 * 4 KiB pages around the hole. Returns the live entries written.
 */
static int32_t omap_l2_fill(uint32_t *pte, uint32_t pa_1m, uint32_t attr, uint32_t rm_lo,
			    uint32_t rm_hi)
{
	int32_t live = 0;

	for (uint32_t off = 0; off < OMAP_SZ_1M; off += OMAP_SZ_64K) {
		uint32_t *p = &pte[off >> 12];

		if (off >= rm_hi || off + OMAP_SZ_64K <= rm_lo) {
			uint32_t d = (pa_1m + off) | attr | L2_LARGE;
			for (unsigned int k = 0; k < REPEAT; k++)
				ik_write_le32(&p[k], d);
			live += REPEAT;
			continue;
		}
		for (unsigned int k = 0; k < REPEAT; k++) {
			uint32_t o = off + (k << 12);
			if (o >= rm_lo && o < rm_hi)
				continue;
			ik_write_le32(&p[k], (pa_1m + o) | attr | L2_SMALL);
			live++;
		}
	}
	return live;
}

/* Replace section @e at @l1p by a table without [rs, re). */
OMAP_COLD
static int omap_split_section(struct omap_pgtable *op, uint32_t *l1p, uint32_t e, uint64_t lstart,
			      uint64_t rs, uint64_t re)
{
	struct omap_l2 t;
	int ret = omap_l2_alloc(op, &t);

	if (ret)
		return ret;
	int32_t live = omap_l2_fill(t.pte, e & L1_SECTION_ADDR, (e >> L1_ATTR_SHIFT) & L2_ATTR_MASK,
				    (uint32_t)(rs - lstart), (uint32_t)(re - lstart));
	if (op->counted)
		pt_table_get(t.pg, live);
	omap_sync(op, t.pte, L2_ENTRIES); /* the table before the entry that points at it */
	if (!ik_cmpxchg_le32(l1p, e, (uint32_t)t.pa | L1_TYPE_TABLE)) {
		omap_l2_discard(op, &t);
		return -EAGAIN; /* changed under us: look again */
	}
	omap_sync(op, l1p, 1);
	return 0;
}

/*
 * Replace supersection @e (at @lstart) by sections, fault entries and, for
 * the at most two 1 MiB pieces the hole cuts, tables. All allocation comes
 * first so that -ENOMEM leaves the supersection intact.
 */
OMAP_COLD
static int omap_split_super(struct omap_pgtable *op, uint32_t e, uint64_t lstart, uint64_t rs,
			    uint64_t re)
{
	uint32_t *first = &op->l1[L1_INDEX(lstart)];
	const uint32_t base = e & L1_SUPER_ADDR, attr = e & L1_ATTR_MASK;
	const uint32_t r_lo = (uint32_t)(rs - lstart), r_hi = (uint32_t)(re - lstart);
	uint32_t next[REPEAT];
	struct omap_l2 tables[2];
	unsigned int nt = 0, i;

	for (i = 0; i < REPEAT; i++) {
		uint32_t lo = i << 20, hi = lo + OMAP_SZ_1M;

		if (hi <= r_lo || lo >= r_hi) {
			next[i] = (base + lo) | attr | L1_TYPE_SECTION;
		} else if (lo >= r_lo && hi <= r_hi) {
			next[i] = 0;
		} else {
			struct omap_l2 *t = &tables[nt];
			int ret = nt < 2 ? omap_l2_alloc(op, t) : -EINVAL;
			if (ret) {
				while (nt--)
					omap_l2_discard(op, &tables[nt]);
				return ret;
			}
			nt++;
			int32_t live = omap_l2_fill(t->pte, base + lo, attr >> L1_ATTR_SHIFT,
						    ik_max(r_lo, lo) - lo, ik_min(r_hi, hi) - lo);
			if (op->counted)
				pt_table_get(t->pg, live);
			omap_sync(op, t->pte, L2_ENTRIES);
			next[i] = (uint32_t)t->pa | L1_TYPE_TABLE;
		}
	}
	/*
	 * Whoever moves the first word off the supersection owns the split;
	 * a concurrent splitter (unmapping another part of the same block)
	 * retries and finds the replacement. Each word goes from the
	 * supersection to its own replacement, so every address translates
	 * correctly at every moment.
	 */
	if (!ik_cmpxchg_le32(&first[0], e, next[0])) {
		while (nt--)
			omap_l2_discard(op, &tables[nt]);
		return -EAGAIN;
	}
	for (i = 1; i < REPEAT; i++)
		ik_cmpxchg_le32(&first[i], e, next[i]);
	omap_sync(op, first, REPEAT);
	return 0;
}

/* Unmap at @va inside or over the section/supersection @e. */
OMAP_COLD
static long omap_unmap_l1_leaf(struct omap_pgtable *op, uint32_t *l1p, uint32_t e, uint32_t va,
			       size_t pgsize, uint64_t end, struct iommu_iotlb_gather *gather)
{
	const bool super = e & L1_SUPER;
	const uint32_t lsize = super ? OMAP_SZ_16M : OMAP_SZ_1M;
	const uint64_t lstart = va & ~(uint64_t)(lsize - 1), lend = lstart + lsize;
	const uint64_t rm_end = ik_min(end, lend);
	int ret;

	if (pgsize > lsize)
		return omap_unmap_cover(op, va, pgsize, gather);
	if (va == lstart && rm_end == lend) {
		uint32_t *p = &op->l1[L1_INDEX(lstart)];
		for (unsigned int i = 0; i < (super ? REPEAT : 1); i++)
			ik_write_le32(&p[i], 0);
		omap_sync(op, p, super ? REPEAT : 1);
	} else {
		ret = super ? omap_split_super(op, e, lstart, va, rm_end) :
			      omap_split_section(op, l1p, e, lstart, va, rm_end);
		if (ret)
			return ret;
	}
	/* The TLB may hold the whole old block. */
	omap_gather(op, gather, lstart, lsize);
	return (long)(rm_end - va);
}

/*
 * Turn large page @e at @p (16 words, from @lstart) into small pages
 * without [rs, re). False if a concurrent split of the same page got there
 * first (the caller looks again); as for supersections, the first word
 * decides, and each word goes straight from @e to its replacement.
 */
OMAP_COLD
static bool omap_split_large(uint32_t *p, uint32_t e, uint64_t lstart, uint64_t rs, uint64_t re)
{
	const uint32_t base = e & L2_LARGE_ADDR, attr = e & L2_ATTR_MASK;

	for (unsigned int k = 0; k < REPEAT; k++) {
		uint64_t a = lstart + ((uint64_t)k << 12);
		uint32_t v = (a >= rs && a < re) ? 0 : (base + (k << 12)) | attr | L2_SMALL;

		if (!ik_cmpxchg_le32(&p[k], e, v) && k == 0)
			return false;
	}
	return true;
}

/* Unmap 4K/64K pages from @va up to @end within the table at @l1p. */
static long omap_unmap_l2(struct omap_pgtable *op, uint32_t *l1p, uint32_t l1e, uint32_t va,
			  size_t pgsize, uint64_t end, struct iommu_iotlb_gather *gather)
{
	const uint64_t lim = ik_min(end, ((uint64_t)va | (OMAP_SZ_1M - 1)) + 1);
	uint64_t cur = va;
	int32_t removed = 0;
	struct omap_l2 t;

	if (unlikely(!omap_l2_at(op, l1e & L1_TABLE_ADDR, &t)))
		return -EFAULT;
	while (cur < lim) {
		unsigned int idx = L2_INDEX(cur);
		uint32_t e = ik_read_le32(&t.pte[idx]);

		if (e & L2_SMALL) {
			if (likely(pgsize == OMAP_SZ_4K)) {
				ik_write_le32(&t.pte[idx], 0);
				omap_gather(op, gather, cur, OMAP_SZ_4K);
				removed++;
				cur += OMAP_SZ_4K;
				continue;
			}
			/* A 64K page made of small pages goes whole or not at all. */
			if (!omap_words_set(&t.pte[idx], REPEAT))
				break;
			for (unsigned int k = 0; k < REPEAT; k++) {
				ik_write_le32(&t.pte[idx + k], 0);
				omap_gather(op, gather, cur + (k << 12), OMAP_SZ_4K);
			}
			removed += REPEAT;
			cur += OMAP_SZ_64K;
			continue;
		}
		if (e & L2_LARGE) {
			const uint64_t lstart = cur & ~(uint64_t)(OMAP_SZ_64K - 1);
			const uint64_t rm_end = ik_min(lim, lstart + OMAP_SZ_64K);
			uint32_t *p = &t.pte[idx & ~(REPEAT - 1)];

			if (cur == lstart && rm_end == lstart + OMAP_SZ_64K) {
				for (unsigned int k = 0; k < REPEAT; k++)
					ik_write_le32(&p[k], 0);
			} else if (!omap_split_large(p, e, lstart, cur, rm_end)) {
				sched_yield();
				continue; /* split by another thread: look again */
			}
			omap_gather(op, gather, lstart, OMAP_SZ_64K);
			removed += (int32_t)((rm_end - cur) >> 12);
			cur = rm_end;
			continue;
		}
		break; /* not mapped */
	}
	if (cur > va) {
		/* From the first 64K page touched to the end of the last one. */
		unsigned int first = L2_INDEX(va) & ~(REPEAT - 1);
		unsigned int last = (unsigned int)((cur - 1) >> 12 & 0xffu) | (REPEAT - 1);

		omap_sync(op, &t.pte[first], last - first + 1);
	}
	if (removed && op->counted && pt_table_put_kill(t.pg, removed))
		omap_l2_release(op, l1p, &t, gather);
	return (long)(cur - va);
}

/* Unmap from @va (pgsize aligned) towards @end: bytes done, 0 or -errno. */
static long omap_unmap_step(struct omap_pgtable *op, uint32_t va, size_t pgsize, uint64_t end,
			    struct iommu_iotlb_gather *gather)
{
	long ret;

	do {
		uint32_t *l1p = &op->l1[L1_INDEX(va)];
		uint32_t e = ik_read_le32_acquire(l1p);

		switch (e & L1_TYPE_MASK) {
		case L1_TYPE_TABLE:
			if (pgsize >= OMAP_SZ_1M)
				ret = omap_unmap_cover(op, va, pgsize, gather);
			else
				ret = omap_unmap_l2(op, l1p, e, va, pgsize, end, gather);
			break;
		case L1_TYPE_SECTION:
			ret = omap_unmap_l1_leaf(op, l1p, e, va, pgsize, end, gather);
			break;
		default:
			return -ENOENT;
		}
		if (ret == -EAGAIN)
			sched_yield(); /* another thread is splitting this block */
	} while (ret == -EAGAIN);
	return ret;
}

/*
 * One 4 KiB small page, the common case: bytes unmapped, or 0 when the
 * general path must handle it.
 */
static inline long omap_unmap_one_small(struct omap_pgtable *op, uint64_t iova,
					struct iommu_iotlb_gather *gather)
{
	uint32_t *l1p = &op->l1[L1_INDEX(iova)];
	uint32_t e, *p;
	struct omap_l2 t;

	if (unlikely((iova & (OMAP_SZ_4K - 1)) || iova >= op->iova_limit || !gather ||
		     !(op->pgsizes & OMAP_SZ_4K)))
		return 0;
	e = ik_read_le32_acquire(l1p);
	if (unlikely((e & L1_TYPE_MASK) != L1_TYPE_TABLE || !omap_l2_at(op, e & L1_TABLE_ADDR, &t)))
		return 0;
	p = &t.pte[L2_INDEX(iova)];
	if (unlikely(!(ik_read_le32(p) & L2_SMALL)))
		return 0; /* not mapped, or part of a large page */
	ik_write_le32(p, 0);
	omap_sync(op, p, 1);
	omap_gather(op, gather, iova, OMAP_SZ_4K);
	if (op->counted && unlikely(pt_table_put_kill(t.pg, 1)))
		omap_l2_release(op, l1p, &t, gather);
	return OMAP_SZ_4K;
}

/* omap_unmap_pages() for everything but the fast path. */
OMAP_NOINLINE
static long omap_unmap_general(struct omap_pgtable *op, uint64_t iova, size_t pgsize,
			       size_t pgcount, struct iommu_iotlb_gather *gather)
{
	unsigned int shift;
	int ret = omap_check_range(op, iova, pgsize, pgcount, &shift);

	if (unlikely(ret))
		return ret;
	if (unlikely(!gather))
		return -EINVAL;

	const uint64_t end = iova + ((uint64_t)pgcount << shift);
	uint64_t va;

	return PT_UNMAP_STEPS(iova, end, va, omap_unmap_step(op, (uint32_t)va, pgsize, end, gather));
}

/**
 * omap_unmap_pages() - unmap @pgcount pages of @pgsize at @iova
 *
 * See iommu_domain_ops.unmap_pages: a larger leaf is split (its whole old
 * range is gathered); smaller leaves go only if they map all of a page.
 * Removed leaves are reported with tlb_add_page, emptied tables are queued
 * on @gather's freelist.
 *
 * Return: bytes unmapped; or, when not even the first page could be,
 * -ENOENT (not mapped), -ENOMEM (a split could not allocate), -EINVAL or
 * -ERANGE (bad arguments).
 */
static long omap_unmap_pages(struct io_pgtable_ops *ops, dma_addr_t iova, size_t pgsize,
			     size_t pgcount, struct iommu_iotlb_gather *gather)
{
	struct omap_pgtable *op = to_omap(ops);

	if (likely(pgsize == OMAP_SZ_4K && pgcount == 1)) {
		long ret = omap_unmap_one_small(op, iova, gather);
		if (likely(ret))
			return ret;
	}
	return omap_unmap_general(op, iova, pgsize, pgcount, gather);
}

static phys_addr_t omap_iova_to_phys(struct io_pgtable_ops *ops, dma_addr_t iova)
{
	struct omap_pgtable *op = to_omap(ops);
	struct omap_l2 t;
	uint32_t e;

	if (unlikely(iova >= op->iova_limit))
		return 0;
	e = ik_read_le32_acquire(&op->l1[L1_INDEX(iova)]);
	switch (e & L1_TYPE_MASK) {
	case L1_TYPE_SECTION:
		if (e & L1_SUPER)
			return (e & L1_SUPER_ADDR) | (iova & (OMAP_SZ_16M - 1));
		return (e & L1_SECTION_ADDR) | (iova & (OMAP_SZ_1M - 1));
	case L1_TYPE_TABLE:
		if (unlikely(!omap_l2_at(op, e & L1_TABLE_ADDR, &t)))
			return 0;
		e = ik_read_le32(&t.pte[L2_INDEX(iova)]);
		if (e & L2_SMALL)
			return (e & L2_SMALL_ADDR) | (iova & (OMAP_SZ_4K - 1));
		if (e & L2_LARGE)
			return (e & L2_LARGE_ADDR) | (iova & (OMAP_SZ_64K - 1));
		return 0;
	default:
		return 0;
	}
}

/* "section le elsz8", "small be elsz32 mixed", ... from L2-position attributes. */
static void omap_desc(char *buf, size_t len, const char *kind, uint32_t attr)
{
	static const char *const elsz[] = { "elsz8", "elsz16", "elsz32", "elsznone" };

	snprintf(buf, len, "%s %s %s%s", kind, (attr & L2_ENDIAN_BIG) ? "be" : "le",
		 elsz[(attr & L2_ELSZ_MASK) >> L2_ELSZ_SHIFT], (attr & L2_MIXED) ? " mixed" : "");
}

static int omap_dump_l2(struct omap_pgtable *op, uint32_t l1e, uint32_t va,
			io_pgtable_dump_fn fn, void *arg)
{
	const int prot = IOMMU_READ | IOMMU_WRITE;
	struct omap_l2 t;
	char desc[48];
	int ret = 0;

	if (!omap_l2_at(op, l1e & L1_TABLE_ADDR, &t))
		return 0;
	for (unsigned int idx = 0; idx < L2_ENTRIES && !ret; idx++) {
		uint32_t e = ik_read_le32(&t.pte[idx]);

		if (e & L2_SMALL) {
			omap_desc(desc, sizeof(desc), "small", e);
			ret = fn(arg, va + (idx << 12), e & L2_SMALL_ADDR, OMAP_SZ_4K, prot, desc);
		} else if (e & L2_LARGE) {
			omap_desc(desc, sizeof(desc), "large", e);
			ret = fn(arg, va + ((idx & ~(REPEAT - 1)) << 12), e & L2_LARGE_ADDR,
				 OMAP_SZ_64K, prot, desc);
			idx |= REPEAT - 1;
		}
	}
	return ret;
}

static int omap_dump(struct io_pgtable_ops *ops, io_pgtable_dump_fn fn, void *arg)
{
	struct omap_pgtable *op = to_omap(ops);
	const int prot = IOMMU_READ | IOMMU_WRITE;
	char desc[48];

	if (!fn)
		return -EINVAL;
	for (unsigned int i = 0; i < L1_ENTRIES; i++) {
		uint32_t e = ik_read_le32_acquire(&op->l1[i]);
		uint32_t va = i << 20;
		int ret = 0;

		switch (e & L1_TYPE_MASK) {
		case L1_TYPE_SECTION:
			if (e & L1_SUPER) {
				omap_desc(desc, sizeof(desc), "supersection", e >> L1_ATTR_SHIFT);
				ret = fn(arg, va & ~(OMAP_SZ_16M - 1), e & L1_SUPER_ADDR, OMAP_SZ_16M,
					 prot, desc);
				i |= REPEAT - 1;
			} else {
				omap_desc(desc, sizeof(desc), "section", e >> L1_ATTR_SHIFT);
				ret = fn(arg, va, e & L1_SECTION_ADDR, OMAP_SZ_1M, prot, desc);
			}
			break;
		case L1_TYPE_TABLE:
			ret = omap_dump_l2(op, e, va, fn, arg);
			break;
		default:
			break;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void omap_free(struct io_pgtable *iop)
{
	struct omap_pgtable *op = container_of(iop, struct omap_pgtable, iop);

	for (unsigned int i = 0; i < L1_ENTRIES; i++) {
		uint32_t e = ik_read_le32(&op->l1[i]);
		struct omap_l2 t;

		if ((e & L1_TYPE_MASK) == L1_TYPE_TABLE && omap_l2_at(op, e & L1_TABLE_ADDR, &t))
			omap_l2_discard(op, &t);
	}
	pt_table_discard(op->mem, op->l1_pa, L1_BYTES, 0); /* never counted */
	free(op);
}

/**
 * omap_alloc() - allocate an empty first-level table
 * @cfg: quirks (KEEP_TABLES only), pgsize_bitmap (masked to 4K|64K|1M|16M),
 *       ias/oas (0 means 32; 12..32 accepted), omap.attrs
 *       (MMU_RAM attribute fields only), tlb (tlb_add_page and
 *       tlb_flush_walk are required), mem. Out: pgsize_bitmap, ias, oas,
 *       omap.ttb.
 * @cookie: for the flush callbacks
 *
 * Return: the instance, or NULL with errno EINVAL or ENOMEM.
 */
static struct io_pgtable *omap_alloc(struct io_pgtable_cfg *cfg, void *cookie)
{
	struct omap_pgtable *op;
	unsigned long pgsizes;
	phys_addr_t pa;
	int ret;

	if (!cfg || !cfg->mem || !cfg->tlb || !cfg->tlb->tlb_add_page ||
	    !cfg->tlb->tlb_flush_walk || (cfg->quirks & ~IO_PGTABLE_QUIRK_KEEP_TABLES) ||
	    cfg->ias > OMAP_ADDR_BITS || cfg->oas > OMAP_ADDR_BITS ||
	    (cfg->ias && cfg->ias < OMAP_MIN_ADDR_BITS) ||
	    (cfg->oas && cfg->oas < OMAP_MIN_ADDR_BITS) ||
	    (cfg->omap.attrs & ~OMAP_RAM_ATTRS))
		goto inval;
	pgsizes = cfg->pgsize_bitmap & OMAP_PGSIZES;
	if (!pgsizes)
		goto inval;

	op = calloc(1, sizeof(*op));
	if (!op) {
		errno = ENOMEM;
		return NULL;
	}
	ret = pt_table_alloc(cfg->mem, L1_BYTES, &pa);
	if (ret) {
		free(op);
		errno = -ret;
		return NULL;
	}
	/* Regions hold whole pages: the 16 KiB, in RAM, lies in one. */
	op->l1 = ik_mem_ptr(cfg->mem, pa, L1_BYTES) ? ik_mem_cpu_va(cfg->mem, pa) : NULL;
	if (!op->l1 || pa + L1_BYTES - 1 > UINT32_MAX) {
		pt_table_discard(cfg->mem, pa, L1_BYTES, 0);
		free(op);
		errno = ENOMEM;
		return NULL;
	}
	cfg->pgsize_bitmap = pgsizes;
	cfg->ias = cfg->ias ? cfg->ias : OMAP_ADDR_BITS;
	cfg->oas = cfg->oas ? cfg->oas : OMAP_ADDR_BITS;
	cfg->omap.ttb = pa;

	op->l1_pa = pa;
	op->mem = cfg->mem;
	op->tlb = cfg->tlb;
	op->cookie = cookie;
	op->pgsizes = pgsizes;
	op->iova_limit = 1ULL << cfg->ias;
	op->pa_limit = 1ULL << cfg->oas;
	op->counted = !(cfg->quirks & IO_PGTABLE_QUIRK_KEEP_TABLES);
	op->clean = pt_clean_cache(cfg->mem, cfg->coherent_walk);
	op->iop.fmt = OMAP_IOMMU_PGTABLE;
	op->iop.cookie = cookie;
	op->iop.cfg = *cfg;
	op->iop.ops = (struct io_pgtable_ops){
		.map_pages = omap_map_pages,
		.unmap_pages = omap_unmap_pages,
		.iova_to_phys = omap_iova_to_phys,
		.dump = omap_dump,
	};
	return &op->iop;
inval:
	errno = EINVAL;
	return NULL;
}

const struct io_pgtable_init_fns io_pgtable_omap_init_fns = {
	.alloc = omap_alloc,
	.free = omap_free,
};
