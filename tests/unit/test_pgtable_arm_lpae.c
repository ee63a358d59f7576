// SPDX-License-Identifier: MIT
/*
 * The Arm LPAE (VMSAv8-64 stage 1, 4 KiB granule) page-table format.
 *
 * Descriptor words and register values are checked against values worked
 * out by hand from the Arm ARM (DDI 0487, "Translation table descriptor
 * formats", "Memory attribute fields in the VMSAv8-64 translation table
 * format descriptors", TCR_EL1 and MAIR_EL1), never against the format's
 * own output: each golden test writes its derivation next to the expected
 * values. This file walks the tables with its own code. RAM sits at
 * 0x8_8000_0000, above 4 GiB, so that 32-bit truncation shows.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgtable_fx.h"
#include "ik_test.h"
#include "ik/io-pgtable.h"
#include "pgtable/pt-table.h"

#define SZ_4K 0x1000ULL
#define SZ_2M 0x200000ULL
#define SZ_1G 0x40000000ULL
#define LPAE_SIZES (SZ_4K | SZ_2M | SZ_1G)
#define RAM_BASE 0x880000000ULL
#define RW (IOMMU_READ | IOMMU_WRITE)

/* Descriptor fields, from the Arm ARM (see the golden tests). */
#define D_TABLE    0x3ULL
#define D_PAGE     0x3ULL
#define D_BLOCK    0x1ULL
#define D_ADDR     0x0000fffffffff000ULL
#define D_AP1      0x40ULL  /* bit 6 */
#define D_AP2      0x80ULL  /* bit 7 */
#define D_SH_OS    0x200ULL /* SH [9:8] = 0b10 */
#define D_SH_IS    0x300ULL /* SH [9:8] = 0b11 */
#define D_AF       0x400ULL /* bit 10 */
#define D_NG       0x800ULL /* bit 11 */
#define D_XN       (3ULL << 53) /* PXN 53, UXN 54 */
#define D_AI(n)    ((uint64_t)(n) << 2)

/* --- the recording flush-ops stub (tests/support/flush_stub.h) --- */

#define MAX_RECS 300000

/*
 * Nothing mapped in a slot: an invalid descriptor, bit 0 clear (Arm ARM
 * D8.3: the other bits are ignored). The format leaves 0 in slots it never
 * used and a marker in slots whose table it retired.
 */
#define assert_invalid(v) assert_int_equal((uint64_t)(v) & 1, 0)

/* --- fixture --- */

static struct pgt_fx *fx_new_cfg(unsigned long quirks, unsigned int ias, unsigned int oas,
				 uint64_t ram_size)
{
	const struct io_pgtable_cfg cfg = {
		.quirks = quirks, .pgsize_bitmap = LPAE_SIZES, .ias = ias, .oas = oas,
	};

	return pgt_fx_new(ARM_64_LPAE_S1, &cfg, RAM_BASE, ram_size, MAX_RECS);
}

static struct pgt_fx *fx_new(unsigned long quirks)
{
	return fx_new_cfg(quirks, 48, 48, 64ULL << 20);
}

static int map(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count,
	       size_t *mapped)
{
	return pgt_map(f, iova, pa, pgsize, count, RW, mapped);
}

static uint64_t rd64(struct ik_mem *mem, phys_addr_t pa)
{
	uint64_t v;
	assert_int_equal(ik_mem_read(mem, pa, &v, 8), 0);
	return le64toh(v);
}

static uint64_t entry(struct pgt_fx *f, phys_addr_t table, unsigned int idx)
{
	return rd64(f->mem, table + idx * 8);
}

static unsigned int idx_at(uint64_t iova, unsigned int lvl)
{
	return (unsigned int)(iova >> (12 + 9 * (3 - lvl))) & 511;
}

static unsigned int start_level(struct pgt_fx *f)
{
	return f->cfg.ias == 48 ? 0 : 1;
}

/* A table descriptor: type 0b11, no attribute bits, a 4K-aligned table in RAM. */
static phys_addr_t table_of(uint64_t e)
{
	assert_int_equal(e & 3, D_TABLE);
	assert_int_equal(e & ~(D_ADDR | 3), 0);
	phys_addr_t t = e & D_ADDR;
	assert_true(t >= RAM_BASE && t < RAM_BASE + (1ULL << 32));
	return t;
}

/* The table holding level-@lvl entries for @iova (every entry above must be a table). */
static phys_addr_t table_at(struct pgt_fx *f, uint64_t iova, unsigned int lvl)
{
	phys_addr_t t = f->cfg.arm_lpae_s1_cfg.ttbr;
	for (unsigned int l = start_level(f); l < lvl; l++)
		t = table_of(entry(f, t, idx_at(iova, l)));
	return t;
}

static uint64_t entry_at(struct pgt_fx *f, uint64_t iova, unsigned int lvl)
{
	return entry(f, table_at(f, iova, lvl), idx_at(iova, lvl));
}

static void assert_bytes8(struct ik_mem *mem, phys_addr_t pa, const uint8_t want[8])
{
	uint8_t got[8];
	assert_int_equal(ik_mem_read(mem, pa, got, 8), 0);
	assert_memory_equal(got, want, 8);
}

static int32_t table_users(struct pgt_fx *f, phys_addr_t table)
{
	return pt_table_users(ik_mem_page(f->mem, table));
}

/* FNV-1a over every reachable table: "nothing changed" checks. */
static uint64_t hash_table(struct pgt_fx *f, phys_addr_t t, unsigned int lvl, uint64_t h)
{
	const uint8_t *b = ik_mem_ptr(f->mem, t, 4096);
	assert_non_null(b);
	for (size_t i = 0; i < 4096; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	for (unsigned int i = 0; lvl < 3 && i < 512; i++) {
		uint64_t e = entry(f, t, i);
		if ((e & 3) == D_TABLE)
			h = hash_table(f, e & D_ADDR, lvl + 1, h);
	}
	return h;
}

static uint64_t tables_hash(struct pgt_fx *f)
{
	return hash_table(f, f->cfg.arm_lpae_s1_cfg.ttbr, start_level(f), 0xcbf29ce484222325ULL);
}

/* Every table but the root counts exactly its live entries (counted mode). */
static unsigned int check_counts(struct pgt_fx *f, phys_addr_t t, unsigned int lvl, bool root)
{
	unsigned int tables = 1;
	int32_t live = 0;
	for (unsigned int i = 0; i < 512; i++) {
		uint64_t e = entry(f, t, i);
		live += (e & 1) != 0; /* bit 0: valid descriptor */
		if (lvl < 3 && (e & 3) == D_TABLE)
			tables += check_counts(f, e & D_ADDR, lvl + 1, false);
	}
	if (!root && table_users(f, t) != live)
		fail_msg("table %#llx (level %u): users %d, live %d", (unsigned long long)t, lvl,
			 table_users(f, t), live);
	return tables;
}

static unsigned int count_tables(struct pgt_fx *f)
{
	return check_counts(f, f->cfg.arm_lpae_s1_cfg.ttbr, start_level(f), true);
}

/* --- factory and configuration --- */

static void test_factory_config(void **state)
{
	const struct ik_region_desc rd = { "ram", RAM_BASE, 1 << 20 };
	struct ik_mem *mem = ik_sim_mem_create(&rd, 1);
	struct ik_flush_stub tlb = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct iommu_flush_ops no_walk = ik_flush_stub_ops, no_add = ik_flush_stub_ops;
	struct io_pgtable_cfg good = {
		.pgsize_bitmap = LPAE_SIZES, .ias = 48, .oas = 48, .tlb = &ik_flush_stub_ops, .mem = mem,
	}, cfg;
	(void)state;

	assert_non_null(mem);
	size_t free0 = ik_mem_free_count(mem);
	no_walk.tlb_flush_walk = NULL;
	no_add.tlb_add_page = NULL;

	static const char *const bad[] = {
		"no mem", "no tlb", "no tlb_flush_walk", "no tlb_add_page", "unknown quirk",
		"ias 32", "ias 40", "ias 47", "ias 49", "ias 52", "oas 33", "oas 50", "oas 52",
		"no LPAE page size (16K|64K|32M)",
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		cfg = good;
		switch (i) {
		case 0: cfg.mem = NULL; break;
		case 1: cfg.tlb = NULL; break;
		case 2: cfg.tlb = &no_walk; break;
		case 3: cfg.tlb = &no_add; break;
		case 4: cfg.quirks = 1UL << 5; break;
		case 5: cfg.ias = 32; break;
		case 6: cfg.ias = 40; break;
		case 7: cfg.ias = 47; break;
		case 8: cfg.ias = 49; break;
		case 9: cfg.ias = 52; break;
		case 10: cfg.oas = 33; break;
		case 11: cfg.oas = 50; break;
		case 12: cfg.oas = 52; break;
		default: cfg.pgsize_bitmap = 0x4000 | 0x10000 | 0x2000000; break;
		}
		errno = 0;
		if (alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb))
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(alloc_io_pgtable_ops(ARM_64_LPAE_S1, NULL, &tlb));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ik_mem_free_count(mem), free0);

	/*
	 * ias 48, oas 48, every size asked for: the bitmap is cut to
	 * 4K | 2M | 1G. TCR (TCR_EL1 layout, TTBR0 half):
	 *   T0SZ [5:0] = 64 - 48 = 16          = 0x10
	 *   IRGN0 [9:8] = 0b01 (WB RW-alloc)   = 0x100
	 *   ORGN0 [11:10] = 0b01               = 0x400
	 *   SH0 [13:12] = 0b11 (inner)         = 0x3000
	 *   TG0 [15:14] = 0b00 (4 KiB)         = 0
	 *   EPD1 [23] = 1 (no TTBR1 walks)     = 0x800000
	 *   IPS [34:32] = 0b101 (48 bits)      = 0x5_0000_0000
	 *   total 0x5_0080_3510.
	 * MAIR: Attr0 = 0x44 (Normal, inner/outer Non-cacheable: 0b0100 each),
	 * Attr1 = 0xff (Normal WB RW-allocate both), Attr2 = 0x04 (Device,
	 * 0b0000dd00 with dd = 01: nGnRE), Attr3 = 0xf4 (outer WB, inner NC),
	 * byte n at bits [8n+7:8n]: 0xf404ff44.
	 */
	cfg = good;
	cfg.pgsize_bitmap = ~0UL;
	struct io_pgtable_ops *ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.pgsize_bitmap, LPAE_SIZES);
	assert_int_equal(cfg.ias, 48);
	assert_int_equal(cfg.oas, 48);
	assert_int_equal(cfg.arm_lpae_s1_cfg.tcr, 0x500803510ULL);
	assert_int_equal(cfg.arm_lpae_s1_cfg.mair, 0xf404ff44ULL);
	/* TTBR: the level-0 table, 4 KiB aligned (512 entries of 8 bytes), in RAM, zeroed. */
	phys_addr_t ttbr = cfg.arm_lpae_s1_cfg.ttbr;
	assert_int_equal(ttbr & 0xfff, 0);
	assert_true(ttbr >= RAM_BASE && ttbr + 4096 <= RAM_BASE + (1 << 20));
	const uint8_t *l0 = ik_mem_ptr(mem, ttbr, 4096);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(l0[i], 0);
	assert_int_equal(ik_mem_free_count(mem), free0 - 1);
	struct io_pgtable *iop = io_pgtable_ops_to_pgtable(ops);
	assert_int_equal(iop->fmt, ARM_64_LPAE_S1);
	assert_ptr_equal(iop->cookie, &tlb);
	assert_int_equal(iop->cfg.arm_lpae_s1_cfg.ttbr, ttbr);
	free_io_pgtable_ops(ops);
	assert_int_equal(ik_mem_free_count(mem), free0);

	/* 0 means 48 for both widths. */
	cfg = good;
	cfg.ias = 0;
	cfg.oas = 0;
	ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.ias, 48);
	assert_int_equal(cfg.oas, 48);
	assert_int_equal(cfg.arm_lpae_s1_cfg.tcr, 0x500803510ULL);
	free_io_pgtable_ops(ops);

	/*
	 * ias 39, oas 40: T0SZ = 25 = 0x19 (a level-1 start), IPS 0b010:
	 * 0x19 | 0x100 | 0x400 | 0x3000 | 0x800000 | 0x2_0000_0000 = 0x2_0080_3519.
	 * The other IPS encodings: 32 -> 0b000, 36 -> 0b001, 42 -> 0b011,
	 * 44 -> 0b100.
	 */
	static const struct { unsigned int oas; uint64_t ips; } ips[] = {
		{ 40, 2 }, { 32, 0 }, { 36, 1 }, { 42, 3 }, { 44, 4 },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(ips); i++) {
		const struct ik_region_desc low = { "low", 0x80000000ULL, 1 << 20 };
		struct ik_mem *lmem = ik_sim_mem_create(&low, 1);
		cfg = good;
		cfg.mem = lmem;
		cfg.ias = 39;
		cfg.oas = ips[i].oas;
		ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb);
		assert_non_null(ops);
		assert_int_equal(cfg.arm_lpae_s1_cfg.tcr, 0x19ULL | 0x100 | 0x400 | 0x3000 |
							  0x800000 | (ips[i].ips << 32));
		free_io_pgtable_ops(ops);
		ik_mem_destroy(lmem);
	}

	/* RAM above 4 GiB cannot hold tables for a 32-bit output space. */
	cfg = good;
	cfg.oas = 32;
	errno = 0;
	assert_null(alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(ik_mem_free_count(mem), free0);

	/* A narrower bitmap stays narrow, and map refuses what it left out. */
	cfg = good;
	cfg.pgsize_bitmap = SZ_2M | SZ_1G | 0x10000;
	ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.pgsize_bitmap, SZ_2M | SZ_1G);
	size_t m = 1;
	assert_int_equal(ops->map_pages(ops, 0x1000, RAM_BASE, SZ_4K, 1, RW, 0, &m), -EINVAL);
	assert_int_equal(m, 0);
	struct iommu_iotlb_gather g;
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(ops->map_pages(ops, SZ_2M, RAM_BASE, SZ_2M, 1, RW, 0, &m), 0);
	assert_int_equal(ops->unmap_pages(ops, SZ_2M, SZ_4K, 1, &g), -EINVAL);
	assert_int_equal(ops->unmap_pages(ops, SZ_2M, SZ_2M, 1, &g), SZ_2M);
	iommu_put_pages_list(mem, &g);
	free_io_pgtable_ops(ops);
	assert_int_equal(ik_mem_free_count(mem), free0);
	ik_mem_destroy(mem);
}

static void test_map_rejects_bad_arguments(void **state)
{
	struct pgt_fx *f = fx_new_cfg(0, 48, 40, 64ULL << 20);
	size_t m;
	(void)state;

	/* A page under the addresses tried, so one-page calls take the fast path. */
	pgt_map_ok(f, 0x3000, RAM_BASE + 0x3000, SZ_4K, 1);
	uint64_t h = tables_hash(f);
	const uint64_t top = 1ULL << 48, patop = 1ULL << 40;
	struct { uint64_t iova, pa; size_t pgsize, count; int prot; } bad[] = {
		{ 0x1000, RAM_BASE, SZ_4K, 1, 0 },                      /* no READ/WRITE */
		{ 0x1000, RAM_BASE, SZ_4K, 1, IOMMU_CACHE | IOMMU_PRIV },
		{ 0x1000, RAM_BASE, SZ_4K, 1, RW | (1 << 6) },          /* unknown prot bit */
		{ 0x1800, RAM_BASE, SZ_4K, 1, RW },                     /* iova misaligned */
		{ 0x1000, RAM_BASE + 0x800, SZ_4K, 1, RW },             /* pa misaligned */
		{ 0x100000, RAM_BASE, SZ_2M, 1, RW },
		{ SZ_2M, RAM_BASE + 0x100000, SZ_2M, 1, RW },
		{ SZ_2M, 0, SZ_1G, 1, RW },
		{ 0x2000, RAM_BASE, 0x2000, 1, RW },                    /* not a page size */
		{ 0x10000, RAM_BASE, 0x10000, 1, RW },
		{ 0x1000, RAM_BASE, SZ_4K, 0, RW },                     /* no pages */
		{ top, RAM_BASE, SZ_4K, 1, RW },                        /* iova beyond 48 bits */
		{ top - SZ_4K, RAM_BASE, SZ_4K, 2, RW },                /* runs past it */
		{ top - SZ_1G, 0, SZ_1G, 2, RW },
		{ 0x1000, patop, SZ_4K, 1, RW },                        /* pa beyond 40 bits */
		{ 0x1000, patop - SZ_4K, SZ_4K, 2, RW },
		{ 0x1000, 0x8000000000000000ULL, SZ_4K, 1, RW },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		m = 77;
		int ret = pgt_map(f, bad[i].iova, bad[i].pa, bad[i].pgsize, bad[i].count,
				   bad[i].prot, &m);
		if (ret != -EINVAL)
			fail_msg("case %u: got %d, want -EINVAL", i, ret);
		assert_int_equal(m, 0);
	}
	assert_true(tables_hash(f) == h);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4); /* root, L1, L2, L3 */
	/* NULL *mapped is allowed. */
	assert_int_equal(f->ops->map_pages(f->ops, 0x4000, RAM_BASE, SZ_4K, 1, RW, 0, NULL), 0);

	/* The last page of both spaces is mappable. */
	pgt_map_ok(f, top - SZ_4K, patop - SZ_4K, SZ_4K, 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, top - 1), patop - 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, top), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, ~0ULL), 0);

	struct iommu_iotlb_gather g;
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	h = tables_hash(f);
	assert_int_equal(pgt_unmap(f, 0x3000, SZ_4K, 0, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x3800, SZ_4K, 1, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x3000, 0x2000, 1, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x3000, SZ_4K, 1, NULL), -EINVAL);
	assert_int_equal(pgt_unmap(f, top, SZ_4K, 1, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, top - SZ_4K, SZ_4K, 2, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0, SZ_2M, 1, &g), -ENOENT); /* holes in the 2M */
	assert_int_equal(f->tlb.nadds, 0);
	assert_true(tables_hash(f) == h);
	assert_int_equal(pgt_unmap_sync(f, 0x3000, SZ_4K, 2), 2 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, top - SZ_4K, SZ_4K, 1), SZ_4K);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

/* --- golden descriptors --- */

static void test_golden_page(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * 4 KiB, RW, non-cacheable: iova 0x40201000 -> pa 0x8_8000_3000, ias 48.
	 * Indices (9 bits per level): L0 = iova[47:39] = 0, L1 = iova[38:30] =
	 * 0x40201000 >> 30 = 1, L2 = iova[29:21] = 0x201 & 0x1ff = 1, L3 =
	 * iova[20:12] = 0x40201 & 0x1ff = 1.
	 * Levels 0-2 hold table descriptors: next table address [47:12], bits
	 * [1:0] = 0b11, nothing else. The page descriptor (level 3):
	 *   OA[47:12]        0x8_8000_3000
	 *   AttrIndx [4:2]   0 (MAIR Attr0, Non-cacheable)
	 *   AP[1] bit 6      1 (unprivileged access too: no IOMMU_PRIV)  0x40
	 *   AP[2] bit 7      0 (writable)
	 *   SH [9:8]         0b10 outer shareable (not IOMMU_CACHE)     0x200
	 *   AF bit 10        1                                          0x400
	 *   nG bit 11        1 (stage 1, ASID tagged)                   0x800
	 *   [1:0]            0b11 page                                  0x3
	 * = 0x0000_0008_8000_3e43, little endian 43 3e 00 80 08 00 00 00.
	 */
	pgt_map_ok(f, 0x40201000, 0x880003000ULL, SZ_4K, 1);
	phys_addr_t l0 = f->cfg.arm_lpae_s1_cfg.ttbr;
	phys_addr_t l1 = table_of(entry(f, l0, 0));
	phys_addr_t l2 = table_of(entry(f, l1, 1));
	phys_addr_t l3 = table_of(entry(f, l2, 1));
	static const uint8_t page[8] = { 0x43, 0x3e, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00 };
	assert_bytes8(f->mem, l3 + 1 * 8, page);
	assert_invalid(entry(f, l3, 0));
	assert_invalid(entry(f, l3, 2));
	assert_invalid(entry(f, l2, 0));
	assert_invalid(entry(f, l1, 0));
	assert_invalid(entry(f, l0, 1));
	/* Each new table holds one live entry; the root is not counted. */
	assert_int_equal(table_users(f, l1), 1);
	assert_int_equal(table_users(f, l2), 1);
	assert_int_equal(table_users(f, l3), 1);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40201abc), 0x880003abcULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40202000), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40200fff), 0);

	/*
	 * Distinct indices: iova 0x1223_6b5b_7000 = 0x24 << 39 | 0x8d << 30 |
	 * 0x15a << 21 | 0x1b7 << 12 -> pa 0xabc_def0_1000 (40 bits), same prot:
	 * 0xabcdef01000 | 0xe43 = 0x0000_0abc_def0_1e43.
	 */
	pgt_map_ok(f, 0x12236b5b7000ULL, 0xabcdef01000ULL, SZ_4K, 1);
	l1 = table_of(entry(f, l0, 0x24));
	l2 = table_of(entry(f, l1, 0x8d));
	l3 = table_of(entry(f, l2, 0x15a));
	assert_int_equal(entry(f, l3, 0x1b7), 0x00000abcdef01e43ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x12236b5b7fffULL), 0xabcdef01fffULL);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 7);

	assert_int_equal(pgt_unmap_sync(f, 0x40201000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x12236b5b7000ULL, SZ_4K, 1), SZ_4K);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

static void test_golden_prot(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * One page each at iova 0x1000 * (i + 1) -> pa 0x8_8010_0000 + same
	 * offset; expected low/high attribute bits from the Arm ARM:
	 *  READ only:     AP[2] (0x80) on top of 0xe43          -> 0xec3
	 *  WRITE only:    no way to say write-only: RW          -> 0xe43
	 *  RW | PRIV:     AP[1] clear (EL0 no access)           -> 0xe03
	 *  RW | NOEXEC:   PXN (53) and UXN (54) set             -> 0x0060_0000_0000_0e43
	 *  RW | MMIO:     AttrIndx 2 (Device-nGnRE) = 0x8, SH outer -> 0xe4b
	 *  RW | CACHE:    AttrIndx 1 (WB) = 0x4, SH 0b11 inner (0x300) -> 0xf47
	 *  RW|MMIO|CACHE: MMIO wins the index (0x8), SH inner     -> 0xf4b
	 *  READ|PRIV|NOEXEC|CACHE: 0x3|0x4|0x80|0x300|0x400|0x800 | XN
	 *                                                       -> 0x0060_0000_0000_0f87
	 */
	static const struct { int prot; uint64_t low; } want[] = {
		{ IOMMU_READ, 0xec3 },
		{ IOMMU_WRITE, 0xe43 },
		{ RW | IOMMU_PRIV, 0xe03 },
		{ RW | IOMMU_NOEXEC, 0x0060000000000e43ULL },
		{ RW | IOMMU_MMIO, 0xe4b },
		{ RW | IOMMU_CACHE, 0xf47 },
		{ RW | IOMMU_MMIO | IOMMU_CACHE, 0xf4b },
		{ IOMMU_READ | IOMMU_PRIV | IOMMU_NOEXEC | IOMMU_CACHE, 0x0060000000000f87ULL },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		uint64_t iova = SZ_4K * (i + 1), pa = 0x880100000ULL + iova;
		size_t m;
		assert_int_equal(pgt_map(f, iova, pa, SZ_4K, 1, want[i].prot, &m), 0);
		assert_int_equal(entry_at(f, iova, 3), pa | want[i].low);
	}
	/* The same bits on a 2 MiB block (type 0b01 instead of 0b11). */
	size_t m;
	assert_int_equal(pgt_map(f, SZ_2M, 0x880200000ULL, SZ_2M, 1,
				  IOMMU_READ | IOMMU_CACHE | IOMMU_NOEXEC, &m), 0);
	/* 0x1 | AttrIndx 1 (0x4) | AP1 0x40 | AP2 0x80 | SH IS 0x300 | AF | nG | XN */
	assert_int_equal(entry_at(f, SZ_2M, 2), 0x0060000880200fc5ULL);
	assert_int_equal(pgt_unmap_sync(f, SZ_4K, SZ_4K, ARRAY_SIZE(want)), ARRAY_SIZE(want) * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, SZ_2M, SZ_2M, 1), SZ_2M);
	pgt_fx_free(f);
}

static void test_golden_blocks(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * 2 MiB block, RW: iova 0x7f_8060_0000 (L0 0, L1 0x1fe, L2 3) -> pa
	 * 0x8_8060_0000. Block descriptor at level 2: OA[47:21] | attributes
	 * as a page | [1:0] = 0b01: 0x8_8060_0000 | 0xe40 | 0x1 = 0x8_8060_0e41.
	 * No level-3 table is allocated: root + L1 + L2 = 3 pages.
	 */
	pgt_map_ok(f, 0x7f80600000ULL, 0x880600000ULL, SZ_2M, 1);
	assert_int_equal(entry_at(f, 0x7f80600000ULL, 2), 0x880600e41ULL);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 3);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7f807fffffULL), 0x8807fffffULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7f80800000ULL), 0);

	/*
	 * 1 GiB block at level 1: iova 0x80_4000_0000 (L0 1, L1 1) -> pa
	 * 0x1_c000_0000: 0x1_c000_0000 | 0xe41 = 0x1_c000_0e41. One more
	 * table (the L1 under L0 entry 1).
	 */
	pgt_map_ok(f, 0x8040000000ULL, 0x1c0000000ULL, SZ_1G, 1);
	phys_addr_t l1 = table_of(entry(f, f->cfg.arm_lpae_s1_cfg.ttbr, 1));
	assert_int_equal(entry(f, l1, 1), 0x1c0000e41ULL);
	assert_int_equal(table_users(f, l1), 1);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x807fffffffULL), 0x1ffffffffULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x8040123456ULL), 0x1c0123456ULL);

	/* Runs of blocks across a table boundary: 2M x 3 from L2 index 511. */
	pgt_map_ok(f, 0x3fe00000ULL, 0x900000000ULL, SZ_2M, 3);
	assert_int_equal(entry_at(f, 0x3fe00000ULL, 2), 0x900000e41ULL);
	assert_int_equal(entry_at(f, 0x40000000ULL, 2), 0x900200e41ULL);
	assert_int_equal(entry_at(f, 0x40200000ULL, 2), 0x900400e41ULL);

	assert_int_equal(pgt_unmap_sync(f, 0x7f80600000ULL, SZ_2M, 1), SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x8040000000ULL, SZ_1G, 1), SZ_1G);
	assert_int_equal(pgt_unmap_sync(f, 0x3fe00000ULL, SZ_2M, 3), 3 * SZ_2M);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

static void test_golden_ias39(void **state)
{
	struct pgt_fx *f = fx_new_cfg(0, 39, 48, 64ULL << 20);
	(void)state;

	/*
	 * ias 39: T0SZ 25, the walk starts at level 1 and TTBR points at a
	 * level-1 table indexed by iova[38:30].
	 * iova 0x70_d4ff_0000 = 0x1c3 << 30 | 0xa7 << 21 | 0x1f0 << 12 ->
	 * pa 0x8_8123_4000: root[0x1c3] -> L2 table, [0xa7] -> L3 table,
	 * [0x1f0] = 0x8_8123_4000 | 0xe43 = 0x8_8123_4e43. Two tables below the
	 * root.
	 */
	assert_int_equal(f->cfg.arm_lpae_s1_cfg.tcr & 0x3f, 25);
	pgt_map_ok(f, 0x70d4ff0000ULL, 0x881234000ULL, SZ_4K, 1);
	phys_addr_t root = f->cfg.arm_lpae_s1_cfg.ttbr;
	phys_addr_t l2 = table_of(entry(f, root, 0x1c3));
	phys_addr_t l3 = table_of(entry(f, l2, 0xa7));
	assert_int_equal(entry(f, l3, 0x1f0), 0x881234e43ULL);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 3);
	/*
	 * A 1 GiB block sits in the root itself: iova 0x7f_c000_0000 (root
	 * index 0x1ff) -> pa 0x40_0000_0000: 0x40_0000_0e41.
	 */
	pgt_map_ok(f, 0x7fc0000000ULL, 0x4000000000ULL, SZ_1G, 1);
	assert_int_equal(entry(f, root, 0x1ff), 0x4000000e41ULL);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 3);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7fffffffffULL), 0x403fffffffULL);
	/* Nothing above 2^39. */
	size_t m;
	assert_int_equal(map(f, 1ULL << 39, RAM_BASE, SZ_4K, 1, &m), -EINVAL);
	assert_int_equal(map(f, 0x7fc0000000ULL, 0, SZ_1G, 2, &m), -EINVAL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 1ULL << 39), 0);

	/* Splitting a root-level block, and table freeing stopping at the root. */
	struct iommu_iotlb_gather g;
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x7fc0001000ULL, SZ_4K, 1, &g), SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7fc0001000ULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7fc0002000ULL), 0x4000002000ULL);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(pgt_unmap_sync(f, 0x7fc0000000ULL, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x7fc0002000ULL, SZ_4K, 510), 510 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x7fc0200000ULL, SZ_2M, 511), 511 * SZ_2M);
	assert_invalid(entry(f, root, 0x1ff));
	assert_int_equal(pgt_unmap_sync(f, 0x70d4ff0000ULL, SZ_4K, 1), SZ_4K);
	assert_invalid(entry(f, root, 0x1c3));
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

/* --- -EEXIST --- */

static void test_map_overlaps(void **state)
{
	struct pgt_fx *f = fx_new(0);
	size_t m;
	(void)state;

	pgt_map_ok(f, 0x402000, 0x880402000ULL, SZ_4K, 1);
	phys_addr_t l3 = table_at(f, 0x400000, 3);
	uint64_t h = tables_hash(f);

	/* The same page again (fast path) and inside a run (general path). */
	assert_int_equal(map(f, 0x402000, 0x990000000ULL, SZ_4K, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	assert_int_equal(map(f, 0x401000, 0x990001000ULL, SZ_4K, 3, &m), -EEXIST);
	assert_int_equal(m, SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x401000), 0x990001000ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x402000), 0x880402000ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x403000), 0);
	assert_int_equal(table_users(f, l3), 2); /* the unused references were returned */
	assert_int_equal(pgt_unmap_sync(f, 0x401000, SZ_4K, 1), SZ_4K);
	h = tables_hash(f);

	/* 2M over a table with a page, 1G over the tables above it. */
	assert_int_equal(map(f, 0x400000, 0x990000000ULL, SZ_2M, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0, 0x980000000ULL, SZ_1G, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	assert_int_equal(table_users(f, l3), 1);

	/* 4K and 2M inside a 1G block; 4K inside a 2M block. */
	pgt_map_ok(f, 0x80000000ULL, 0x9c0000000ULL, SZ_1G, 1);
	pgt_map_ok(f, 0x600000, 0x880600000ULL, SZ_2M, 1);
	h = tables_hash(f);
	assert_int_equal(map(f, 0x80123000ULL, 0x990000000ULL, SZ_4K, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x80200000ULL, 0x990000000ULL, SZ_2M, 2, &m), -EEXIST);
	assert_int_equal(map(f, 0x7ffff000ULL, 0x990000000ULL, SZ_4K, 2, &m), -EEXIST);
	assert_int_equal(m, SZ_4K); /* the page before the block went in */
	assert_int_equal(pgt_unmap_sync(f, 0x7ffff000ULL, SZ_4K, 1), SZ_4K);
	assert_int_equal(map(f, 0x7ff000, 0x990000000ULL, SZ_4K, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x40000000ULL, 0x1000000000ULL, SZ_1G, 2, &m), -EEXIST);
	assert_int_equal(m, SZ_1G);
	assert_int_equal(pgt_unmap_sync(f, 0x40000000ULL, SZ_1G, 1), SZ_1G);
	assert_true(tables_hash(f) == h);

	/* 4K runs across L3, L2 and L1 table boundaries (one call, many tables). */
	pgt_map_ok(f, 0x7fffffe000ULL, 0xa00000000ULL, SZ_4K, 4);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x7fffffe000ULL), 0xa00000000ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x8000001008ULL), 0xa00003008ULL);
	assert_int_equal(table_users(f, table_at(f, 0x8000000000ULL, 3)), 2);
	assert_int_equal(table_users(f, table_at(f, 0x7fffffe000ULL, 3)), 2);

	assert_int_equal(pgt_unmap_sync(f, 0x402000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x80000000ULL, SZ_1G, 1), SZ_1G);
	assert_int_equal(pgt_unmap_sync(f, 0x600000, SZ_2M, 1), SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x7fffffe000ULL, SZ_4K, 4), 4 * SZ_4K);
	assert_int_equal(count_tables(f), 1);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 1);
	pgt_fx_free(f);
}

/* --- partial unmaps (splits) --- */

static void assert_one_add(struct pgt_fx *f, uint64_t iova, size_t size)
{
	assert_int_equal(f->tlb.nadds, 1);
	assert_int_equal(f->tlb.adds[0].iova, iova);
	assert_int_equal(f->tlb.adds[0].size, size);
}

static void test_split_2m(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	/*
	 * A read-only, cacheable, non-executable 2 MiB block:
	 * 0x8_8a40_0000 | 0x1 | AttrIndx 1 (0x4) | AP1 0x40 | AP2 0x80 |
	 * SH inner 0x300 | AF 0x400 | nG 0x800 | XN (3 << 53).
	 */
	const int prot = IOMMU_READ | IOMMU_CACHE | IOMMU_NOEXEC;
	const uint64_t attrs = 0x0060000000000fc4ULL;
	size_t m;
	assert_int_equal(pgt_map(f, 0x1000400000ULL, 0x88a400000ULL, SZ_2M, 1, prot, &m), 0);
	assert_int_equal(entry_at(f, 0x1000400000ULL, 2), 0x88a400000ULL | attrs | D_BLOCK);
	size_t free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x1000437000ULL, SZ_4K, 1, &g), SZ_4K);
	/* The whole old block is reported: the TLB may hold all of it. */
	assert_one_add(f, 0x1000400000ULL, SZ_2M);
	assert_int_equal(g.start, 0x1000400000ULL);
	assert_int_equal(g.end, 0x10005fffffULL);
	assert_int_equal(g.freelist.count, 0);
	assert_int_equal(f->tlb.nwalks, 0);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1); /* one new L3 table */
	/* 512 pages with the block's attributes and type 0b11, entry 0x37 a fault. */
	phys_addr_t l3 = table_at(f, 0x1000400000ULL, 3);
	for (unsigned int i = 0; i < 512; i++) {
		uint64_t want = i == 0x37 ? 0 : (0x88a400000ULL + i * SZ_4K) | attrs | D_PAGE;
		assert_int_equal(entry(f, l3, i), want);
		assert_int_equal(f->ops->iova_to_phys(f->ops, 0x1000400000ULL + i * SZ_4K + 0xabc),
				 i == 0x37 ? 0 : 0x88a400000ULL + i * SZ_4K + 0xabc);
	}
	assert_int_equal(table_users(f, l3), 511);
	assert_int_equal(table_users(f, table_at(f, 0x1000400000ULL, 2)), 1);

	/* 8K at the end of another block. */
	pgt_map_ok(f, 0x1000600000ULL, 0x88a600000ULL, SZ_2M, 1);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x10007fe000ULL, SZ_4K, 2, &g), 2 * SZ_4K);
	assert_one_add(f, 0x1000600000ULL, SZ_2M);
	assert_int_equal(table_users(f, table_at(f, 0x1000600000ULL, 3)), 510);
	assert_int_equal(entry_at(f, 0x10007fd000ULL, 3), 0x88a7fd000ULL | 0xe43);
	assert_invalid(entry_at(f, 0x10007fe000ULL, 3));
	iommu_put_pages_list(f->mem, &g);

	/* A 2M unmap of all 512 pages of a block, as 4K pages: no split, no table. */
	pgt_map_ok(f, 0x1000800000ULL, 0x88a800000ULL, SZ_2M, 1);
	free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap_sync(f, 0x1000800000ULL, SZ_4K, 512), SZ_2M);
	assert_one_add(f, 0x1000800000ULL, SZ_2M);
	assert_invalid(entry_at(f, 0x1000800000ULL, 2));
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	/* Now 2M over the split table: refused while the hole is there. */
	assert_int_equal(pgt_unmap_sync(f, 0x1000400000ULL, SZ_2M, 1), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x1000400000ULL, SZ_4K, 0x37), 0x37 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x1000438000ULL, SZ_4K, 0x1c8), 0x1c8 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x1000600000ULL, SZ_4K, 510), 510 * SZ_4K);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

static void test_split_1g(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	pgt_map_ok(f, 0x8000000000ULL, 0x1c0000000ULL, SZ_1G, 1);
	size_t free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	/* 4K at 0x80_0a23_4000: 2 MiB piece 0x51 (0x0a200000 / 2M), page 0x34 in it. */
	assert_int_equal(pgt_unmap(f, 0x800a234000ULL, SZ_4K, 1, &g), SZ_4K);
	assert_one_add(f, 0x8000000000ULL, SZ_1G);
	assert_int_equal(g.start, 0x8000000000ULL);
	assert_int_equal(g.end, 0x803fffffffULL);
	/* An L2 table of 2M blocks and one L3 table for the cut piece. */
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 2);
	phys_addr_t l2 = table_at(f, 0x8000000000ULL, 2);
	for (unsigned int i = 0; i < 512; i++) {
		if (i == 0x51)
			continue;
		assert_int_equal(entry(f, l2, i), (0x1c0000000ULL + i * SZ_2M) | 0xe41);
	}
	phys_addr_t l3 = table_of(entry(f, l2, 0x51));
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(entry(f, l3, i),
				 i == 0x34 ? 0 : (0x1ca200000ULL + i * SZ_4K) | 0xe43);
	assert_int_equal(table_users(f, l2), 512);
	assert_int_equal(table_users(f, l3), 511);
	for (uint64_t off = 0; off < SZ_1G; off += 0x3ff000)
		assert_int_equal(f->ops->iova_to_phys(f->ops, 0x8000000000ULL + off + 8),
				 (off & ~0xfffULL) == 0x0a234000 ? 0 : 0x1c0000000ULL + off + 8);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x800a234000ULL), 0);

	/* 2M out of another 1G block: blocks only, one table. */
	pgt_map_ok(f, 0x8040000000ULL, 0x200000000ULL, SZ_1G, 1);
	free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x8040400000ULL, SZ_2M, 3, &g), 3 * SZ_2M);
	assert_one_add(f, 0x8040000000ULL, SZ_1G);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1);
	l2 = table_at(f, 0x8040000000ULL, 2);
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(entry(f, l2, i),
				 (i >= 2 && i <= 4) ? 0 : (0x200000000ULL + i * SZ_2M) | 0xe41);
	assert_int_equal(table_users(f, l2), 509);

	/* A 4K hole across a 2M boundary: two L3 tables, both pieces cut. */
	pgt_map_ok(f, 0x8080000000ULL, 0x240000000ULL, SZ_1G, 1);
	free_before = ik_mem_free_count(f->mem);
	assert_int_equal(pgt_unmap(f, 0x80801fe000ULL, SZ_4K, 4, &g), 4 * SZ_4K);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 3);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x80801fd000ULL), 0x2401fd000ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x80801fe000ULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x8080201fffULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x8080202000ULL), 0x240202000ULL);
	/* Pieces 0 and 1 are tables now, piece 2 still a block. */
	assert_int_equal(entry_at(f, 0x8080000000ULL, 2) & 3, D_TABLE);
	assert_int_equal(entry_at(f, 0x8080400000ULL, 2), 0x240400e41ULL);
	assert_int_equal(table_users(f, table_at(f, 0x8080000000ULL, 2)), 512);
	assert_int_equal(table_users(f, table_at(f, 0x80801fe000ULL, 3)), 510);
	assert_int_equal(table_users(f, table_at(f, 0x8080200000ULL, 3)), 510);
	/* A hole from the middle of a piece to the block's end: one L3 table. */
	pgt_map_ok(f, 0x80c0000000ULL, 0x280000000ULL, SZ_1G, 1);
	free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x80fff00000ULL, SZ_4K, 1024, &g), 256 * SZ_4K);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 2);
	assert_one_add(f, 0x80c0000000ULL, SZ_1G);
	iommu_put_pages_list(f->mem, &g);

	/* 1G over the split tables: refused while a hole is there... */
	uint64_t h = tables_hash(f);
	assert_int_equal(pgt_unmap_sync(f, 0x8000000000ULL, SZ_1G, 1), -ENOENT);
	assert_true(tables_hash(f) == h);
	/* ...and unmaps every leaf below (511 blocks + 512 pages) once it is full. */
	pgt_map_ok(f, 0x800a234000ULL, 0x1ca234000ULL, SZ_4K, 1);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x8000000000ULL, SZ_1G, 1, &g), SZ_1G);
	assert_int_equal(f->tlb.nadds, 511 + 512);
	assert_int_equal(g.freelist.count, 2);
	assert_invalid(entry(f, table_at(f, 0x8000000000ULL, 1), 0));
	iommu_put_pages_list(f->mem, &g);

	assert_int_equal(pgt_unmap_sync(f, 0x8040000000ULL, SZ_2M, 2), 2 * SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x8040a00000ULL, SZ_2M, 507), 507 * SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x8080000000ULL, SZ_2M, 1), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x8080200000ULL, SZ_2M, 1), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x8080000000ULL, SZ_1G, 1), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x80801fe000ULL, SZ_4K, 4), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x8080000000ULL, SZ_4K, 0x1fe), 0x1fe * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x8080202000ULL, SZ_4K, 510), 510 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x8080400000ULL, SZ_2M, 510), 510 * SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x80c0000000ULL, SZ_2M, 511), 511 * SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x80ffe00000ULL, SZ_4K, 256), 256 * SZ_4K);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

static void test_split_without_memory(void **state)
{
	/* 8 pages: the root, an L1 and an L2 table leave 5, all taken below. */
	struct pgt_fx *f = fx_new_cfg(0, 48, 48, 8 * SZ_4K);
	struct iommu_iotlb_gather g;
	phys_addr_t spare[8];
	size_t m, nspare = 0;
	(void)state;

	pgt_map_ok(f, 0x40000000ULL, 0x1c0000000ULL, SZ_1G, 1);   /* L1 table */
	pgt_map_ok(f, 0x80200000ULL, 0x880200000ULL, SZ_2M, 1);   /* L2 table under L1[2] */
	while (ik_mem_alloc_pages(f->mem, 1, SZ_4K, &spare[nspare]) == 0)
		nspare++;
	assert_int_equal(ik_mem_free_count(f->mem), 0);
	uint64_t h = tables_hash(f);
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x80245000ULL, SZ_4K, 1, &g), -ENOMEM);
	assert_int_equal(pgt_unmap(f, 0x40045000ULL, SZ_4K, 1, &g), -ENOMEM);
	assert_int_equal(pgt_unmap(f, 0x40200000ULL, SZ_2M, 1, &g), -ENOMEM);
	/* Blocks intact, nothing reported. */
	assert_true(tables_hash(f) == h);
	assert_int_equal(f->tlb.nadds, 0);
	assert_true(g.start > g.end);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x80245678ULL), 0x880245678ULL);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40045678ULL), 0x1c0045678ULL);
	/* A map needing tables fails cleanly: no partial chain is left behind. */
	assert_int_equal(map(f, 0x9000000000ULL, RAM_BASE, SZ_4K, 1, &m), -ENOMEM);
	assert_int_equal(map(f, 0x80400000ULL, RAM_BASE, SZ_4K, 3, &m), -ENOMEM);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);

	/* One page back: the 2M split goes, a 1G split into 4K still needs two. */
	ik_mem_free_pages(f->mem, spare[--nspare], 1);
	assert_int_equal(pgt_unmap(f, 0x40045000ULL, SZ_4K, 1, &g), -ENOMEM);
	assert_int_equal(ik_mem_free_count(f->mem), 1);
	assert_int_equal(pgt_unmap(f, 0x80245000ULL, SZ_4K, 1, &g), SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x80245000ULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x80246000ULL), 0x880246000ULL);
	/* A 1G split into 2M blocks needs only one table. */
	ik_mem_free_pages(f->mem, spare[--nspare], 1);
	assert_int_equal(pgt_unmap(f, 0x40200000ULL, SZ_2M, 1, &g), SZ_2M);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40200000ULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40400000ULL), 0x1c0400000ULL);
	iommu_put_pages_list(f->mem, &g);
	while (nspare)
		ik_mem_free_pages(f->mem, spare[--nspare], 1);
	assert_int_equal(pgt_unmap_sync(f, 0x40000000ULL, SZ_2M, 1), SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x40400000ULL, SZ_2M, 510), 510 * SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x80200000ULL, SZ_4K, 0x45), 0x45 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x80246000ULL, SZ_4K, 0x1ba), 0x1ba * SZ_4K);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

/* --- -ENOENT and smaller leaves --- */

static void test_unmap_smaller_leaves(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x700000, SZ_4K, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0, SZ_1G, 1, &g), -ENOENT);

	/* 511 of 512 pages: a 2M unmap must change nothing. */
	pgt_map_ok(f, 0x600000, 0x880600000ULL, SZ_4K, 300);
	pgt_map_ok(f, 0x72d000, 0x88072d000ULL, SZ_4K, 211);
	/* 511 of 512 blocks of a gigabyte. */
	pgt_map_ok(f, 0xc0000000ULL, 0x9c0000000ULL, SZ_2M, 511);
	uint64_t h = tables_hash(f);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x600000, SZ_2M, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0, SZ_1G, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0xc0000000ULL, SZ_1G, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x72c000, SZ_4K, 1, &g), -ENOENT);
	assert_true(tables_hash(f) == h);
	assert_int_equal(f->tlb.nadds, 0);
	assert_true(g.start > g.end);
	assert_int_equal(g.freelist.count, 0);

	/* A run that meets a hole stops there and says how far it got. */
	assert_int_equal(pgt_unmap(f, 0x72a000, SZ_4K, 4, &g), 2 * SZ_4K);
	assert_int_equal(pgt_unmap(f, 0xffc00000ULL, SZ_2M, 3, &g), SZ_2M);
	pgt_map_ok(f, 0x72a000, 0x88072a000ULL, SZ_4K, 3);
	/*
	 * Now all 512 pages are there: 2M goes, each leaf reported; the L3
	 * table and its L2 parent (nothing else in it) are freed.
	 */
	ik_flush_stub_reset(&f->tlb);
	phys_addr_t l3 = table_at(f, 0x600000, 3), l2 = table_at(f, 0x600000, 2);
	assert_int_equal(pgt_unmap(f, 0x600000, SZ_2M, 1, &g), SZ_2M);
	assert_int_equal(f->tlb.nadds, 512);
	for (unsigned int i = 0; i < 512; i++) {
		assert_int_equal(f->tlb.adds[i].iova, 0x600000 + i * SZ_4K);
		assert_int_equal(f->tlb.adds[i].size, SZ_4K);
	}
	assert_int_equal(g.freelist.count, 2);
	assert_int_equal(g.freelist.head, l2);
	assert_int_equal(ik_mem_page(f->mem, l2)->next, l3);
	assert_invalid(entry_at(f, 0x600000, 1));
	iommu_put_pages_list(f->mem, &g);

	/* 1G over blocks and a full table of pages. */
	pgt_map_ok(f, 0xffc00000ULL, 0x9ffc00000ULL, SZ_4K, 512);
	pgt_map_ok(f, 0xffe00000ULL, 0x9ffe00000ULL, SZ_2M, 1);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0xc0000000ULL, SZ_1G, 1, &g), SZ_1G);
	assert_int_equal(f->tlb.nadds, 511 + 512);
	assert_int_equal(g.start, 0xc0000000ULL);
	assert_int_equal(g.end, 0xffffffffULL);
	/* The L3 table, the L2 table, and the L1 table (nothing else under it). */
	assert_int_equal(g.freelist.count, 3);
	assert_invalid(entry(f, f->cfg.arm_lpae_s1_cfg.ttbr, 0));
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

/* --- table freeing --- */

static void test_tables_freed_up_the_chain(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	size_t free_before = ik_mem_free_count(f->mem);
	pgt_map_ok(f, 0x4000205000ULL, 0x880205000ULL, SZ_4K, 1);
	phys_addr_t root = f->cfg.arm_lpae_s1_cfg.ttbr;
	phys_addr_t l1 = table_at(f, 0x4000205000ULL, 1);
	phys_addr_t l2 = table_at(f, 0x4000205000ULL, 2);
	phys_addr_t l3 = table_at(f, 0x4000205000ULL, 3);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 3);

	/* A second page in another L3 table under the same L2. */
	pgt_map_ok(f, 0x4000605000ULL, 0x880605000ULL, SZ_4K, 1);
	phys_addr_t l3b = table_at(f, 0x4000605000ULL, 3);
	assert_int_equal(table_users(f, l2), 2);
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x4000605000ULL, SZ_4K, 1, &g), SZ_4K);
	/* Only its L3 table went; the L2 table lost one entry. */
	assert_int_equal(g.freelist.count, 1);
	assert_int_equal(g.freelist.head, l3b);
	assert_true(pt_table_users(ik_mem_page(f->mem, l3b)) < 0); /* dead */
	assert_invalid(entry(f, l2, 3));
	assert_int_equal(table_users(f, l2), 1);
	assert_true(g.start <= 0x4000605000ULL && g.end >= 0x4000605fffULL);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 3);

	/*
	 * The last page: L3, then L2, then L1 empty in turn. Each is detached
	 * from its parent and queued after the leaf was gathered (the freelist
	 * is a stack: L1 on top, then L2, then L3), nothing is freed before the
	 * sync, and the walk caches need no separate flush: the gathered page
	 * lies inside every freed table's range.
	 */
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x4000205000ULL, SZ_4K, 1, &g), SZ_4K);
	assert_one_add(f, 0x4000205000ULL, SZ_4K);
	assert_int_equal(f->tlb.nwalks, 0);
	assert_int_equal(g.freelist.count, 3);
	assert_int_equal(g.freelist.head, l1);
	assert_int_equal(ik_mem_page(f->mem, l1)->next, l2);
	assert_int_equal(ik_mem_page(f->mem, l2)->next, l3);
	for (unsigned int i = 0; i < 512; i++)
		assert_invalid(entry(f, root, i));
	assert_true(pt_table_users(ik_mem_page(f->mem, l1)) < 0);
	assert_true(pt_table_users(ik_mem_page(f->mem, l2)) < 0);
	assert_true(pt_table_users(ik_mem_page(f->mem, l3)) < 0);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 3);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x4000205000ULL), 0);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	/* One call emptying tables under two L1 tables queues all six. */
	pgt_map_ok(f, 0x7ffffff000ULL, 0x880001000ULL, SZ_4K, 2);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x7ffffff000ULL, SZ_4K, 2, &g), 2 * SZ_4K);
	assert_int_equal(g.freelist.count, 6);
	assert_invalid(entry(f, root, 0));
	assert_invalid(entry(f, root, 1));
	iommu_put_pages_list(f->mem, &g);

	/* Blocks count in their table too: the last 2M block frees L2 and L1. */
	pgt_map_ok(f, 0x200000, 0x880200000ULL, SZ_2M, 2);
	assert_int_equal(table_users(f, table_at(f, 0x200000, 2)), 2);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x200000, SZ_2M, 2, &g), 2 * SZ_2M);
	assert_int_equal(g.freelist.count, 2);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	pgt_fx_free(f);
}

static void test_keep_tables_quirk(void **state)
{
	struct pgt_fx *f = fx_new(IO_PGTABLE_QUIRK_KEEP_TABLES);
	struct iommu_iotlb_gather g;
	size_t m;
	(void)state;

	size_t free_before = ik_mem_free_count(f->mem);
	pgt_map_ok(f, 0x605000, 0x880605000ULL, SZ_4K, 3);
	phys_addr_t l3 = table_at(f, 0x600000, 3);
	assert_int_equal(table_users(f, l3), 0); /* no counting at all */
	assert_int_equal(table_users(f, table_at(f, 0x600000, 2)), 0);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x605000, SZ_4K, 3, &g), 3 * SZ_4K);
	assert_int_equal(g.freelist.count, 0);
	assert_int_equal(table_at(f, 0x600000, 3), l3); /* still attached */
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 3);
	/* The next map reuses it. */
	pgt_map_ok(f, 0x610000, 0x880610000ULL, SZ_4K, 16);
	assert_int_equal(table_at(f, 0x600000, 3), l3);
	/* A block over a table with an entry is refused... */
	assert_int_equal(map(f, 0x600000, 0x990600000ULL, SZ_2M, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0, 0x980000000ULL, SZ_1G, 1, &m), -EEXIST);
	assert_int_equal(pgt_unmap_sync(f, 0x610000, SZ_4K, 16), 16 * SZ_4K);
	/* ...over an empty one it replaces the table after a walk flush. */
	ik_flush_stub_reset(&f->tlb);
	pgt_map_ok(f, 0x600000, 0x990600000ULL, SZ_2M, 1);
	assert_int_equal(f->tlb.nwalks, 1);
	assert_int_equal(f->tlb.walks[0].iova, 0x600000);
	assert_int_equal(f->tlb.walks[0].size, SZ_2M);
	assert_int_equal(entry_at(f, 0x600000, 2), 0x990600e41ULL);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 2);

	/* 1G over an L2 table holding an empty L3 table: both go, one flush. */
	pgt_map_ok(f, 0x40345000ULL, 0x880345000ULL, SZ_4K, 1);
	assert_int_equal(pgt_unmap_sync(f, 0x40345000ULL, SZ_4K, 1), SZ_4K);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 4);
	ik_flush_stub_reset(&f->tlb);
	pgt_map_ok(f, 0x40000000ULL, 0x9c0000000ULL, SZ_1G, 1);
	assert_int_equal(f->tlb.nwalks, 1);
	assert_int_equal(f->tlb.walks[0].iova, 0x40000000ULL);
	assert_int_equal(f->tlb.walks[0].size, SZ_1G);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 2);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40345000ULL), 0x9c0345000ULL);
	/* Splits work without counting too, and leave tables uncounted. */
	assert_int_equal(pgt_unmap_sync(f, 0x40234000ULL, SZ_4K, 1), SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40234000ULL), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x40235000ULL), 0x9c0235000ULL);
	assert_int_equal(table_users(f, table_at(f, 0x40200000ULL, 3)), 0);
	assert_int_equal(table_users(f, table_at(f, 0x40200000ULL, 2)), 0);
	/* Smaller leaves cleared by a larger unmap leave their tables too. */
	assert_int_equal(pgt_unmap_sync(f, 0x40200000ULL, SZ_2M, 1), -ENOENT);
	pgt_map_ok(f, 0x40234000ULL, 0x9c0234000ULL, SZ_4K, 1);
	assert_int_equal(pgt_unmap_sync(f, 0x40000000ULL, SZ_1G, 1), SZ_1G);
	assert_int_equal((entry_at(f, 0x40200000ULL, 2) & 3), D_TABLE);
	pgt_fx_free(f); /* frees the kept tables */
}

/*
 * An emptied table stays attached when the unmap that emptied it meets a
 * reference a walker holds for a moment; the test takes such a reference
 * by hand. Whoever drops the last reference while walking retires it (here
 * a map that fails for lack of memory: nothing was gathered, so the walk
 * caches are flushed and the table freed at once), and a block mapped over
 * such tables retires them too, the lower ones first.
 */
static void test_leftover_empty_tables(void **state)
{
	struct pgt_fx *f = fx_new_cfg(0, 48, 48, 16 * SZ_4K);
	const phys_addr_t root = f->cfg.arm_lpae_s1_cfg.ttbr;
	phys_addr_t spare[16];
	size_t nspare = 0, m;
	(void)state;

	/* An empty level-2 table left attached under its level-1 table. */
	pgt_map_ok(f, 0x40000000ULL, 0x9c0000000ULL, SZ_2M, 1);
	phys_addr_t l1 = table_at(f, 0x40000000ULL, 1), l2 = table_at(f, 0x40000000ULL, 2);
	struct ik_page *pg2 = ik_mem_page(f->mem, l2);
	assert_true(pt_table_get(pg2, 1));
	assert_int_equal(pgt_unmap_sync(f, 0x40000000ULL, SZ_2M, 1), SZ_2M);
	assert_int_equal(entry(f, l1, 1), l2 | D_TABLE);
	pt_table_put(pg2, 1);
	assert_int_equal(table_users(f, l2), 0);
	assert_int_equal(table_users(f, l1), 1);

	/* A map walking through it fails for want of a level-3 table and retires it. */
	while (ik_mem_alloc_pages(f->mem, 1, SZ_4K, &spare[nspare]) == 0)
		nspare++;
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(map(f, 0x40203000ULL, RAM_BASE, SZ_4K, 1, &m), -ENOMEM);
	assert_int_equal(f->tlb.nwalks, 2);
	assert_int_equal(f->tlb.walks[0].iova, 0x40000000ULL); /* the level-2 table's 1 GiB */
	assert_int_equal(f->tlb.walks[0].size, SZ_1G);
	assert_int_equal(f->tlb.walks[1].iova, 0);             /* then the level-1 table's */
	assert_int_equal(f->tlb.walks[1].size, 512 * SZ_1G);
	assert_invalid(entry(f, root, 0));
	assert_int_equal(ik_mem_free_count(f->mem), 2); /* both pages back */
	while (nspare)
		ik_mem_free_pages(f->mem, spare[--nspare], 1);
	assert_int_equal(count_tables(f), 1);

	/* An empty level-3 table left under a level-2 table: a 1 GiB block goes over both. */
	pgt_map_ok(f, 0x40003000ULL, 0x880003000ULL, SZ_4K, 1);
	phys_addr_t l3 = table_at(f, 0x40003000ULL, 3);
	l2 = table_at(f, 0x40003000ULL, 2);
	struct ik_page *pg3 = ik_mem_page(f->mem, l3);
	assert_true(pt_table_get(pg3, 1));
	assert_int_equal(pgt_unmap_sync(f, 0x40003000ULL, SZ_4K, 1), SZ_4K);
	pt_table_put(pg3, 1);
	assert_int_equal(table_users(f, l3), 0);
	assert_int_equal(table_users(f, l2), 1);
	size_t free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	pgt_map_ok(f, 0x40000000ULL, 0x9c0000000ULL, SZ_1G, 1);
	assert_int_equal(f->tlb.nwalks, 2);
	assert_int_equal(f->tlb.walks[0].iova, 0x40000000ULL);
	assert_int_equal(f->tlb.walks[0].size, SZ_2M);
	assert_int_equal(f->tlb.walks[1].iova, 0x40000000ULL);
	assert_int_equal(f->tlb.walks[1].size, SZ_1G);
	assert_int_equal(ik_mem_free_count(f->mem), free_before + 2);
	assert_int_equal(entry_at(f, 0x40000000ULL, 1), 0x9c0000e41ULL);
	assert_int_equal(count_tables(f), 2); /* root and level 1, counts exact */
	assert_int_equal(pgt_unmap_sync(f, 0x40000000ULL, SZ_1G, 1), SZ_1G);
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f);
}

/* --- dump --- */

static void test_dump(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct pgt_dump_log log = { .n = 0 };
	size_t m;
	(void)state;

	/* Mapped out of IOVA order; dump reports in IOVA order. */
	assert_int_equal(pgt_map(f, 0x8040000000ULL, 0x1c0000000ULL, SZ_1G, 1,
				  IOMMU_READ | IOMMU_NOEXEC, &m), 0);
	assert_int_equal(pgt_map(f, 0x400000, 0x880400000ULL, SZ_2M, 1,
				  RW | IOMMU_CACHE | IOMMU_PRIV, &m), 0);
	assert_int_equal(pgt_map(f, 0x3000, 0x880003000ULL, SZ_4K, 1, RW | IOMMU_MMIO, &m), 0);
	assert_int_equal(pgt_map(f, 0x1000, 0x880001000ULL, SZ_4K, 1, IOMMU_WRITE, &m), 0);

	assert_int_equal(f->ops->dump(f->ops, pgt_dump_record, &log), 0);
	assert_int_equal(log.n, 4);
	const struct pgt_dump_rec want[] = {
		{ 0x1000, 0x880001000ULL, SZ_4K, RW, "page ai=0 sh=os ng" },
		{ 0x3000, 0x880003000ULL, SZ_4K, RW, "page ai=2 sh=os ng" },
		{ 0x400000, 0x880400000ULL, SZ_2M, RW | IOMMU_PRIV, "block 2M ai=1 sh=is ng" },
		{ 0x8040000000ULL, 0x1c0000000ULL, SZ_1G, IOMMU_READ | IOMMU_NOEXEC,
		  "block 1G ai=0 sh=os ng" },
	};
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(log.r[i].iova, want[i].iova);
		assert_int_equal(log.r[i].pa, want[i].pa);
		assert_int_equal(log.r[i].size, want[i].size);
		assert_int_equal(log.r[i].prot, want[i].prot);
		assert_string_equal(log.r[i].desc, want[i].desc);
	}
	log = (struct pgt_dump_log){ .stop_at = 2 };
	assert_int_equal(f->ops->dump(f->ops, pgt_dump_record, &log), 7);
	assert_int_equal(log.n, 2);
	assert_int_equal(f->ops->dump(f->ops, NULL, &log), -EINVAL);

	assert_int_equal(pgt_unmap_sync(f, 0x1000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x3000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x400000, SZ_2M, 1), SZ_2M);
	assert_int_equal(pgt_unmap_sync(f, 0x8040000000ULL, SZ_1G, 1), SZ_1G);
	pgt_fx_free(f);
}

/* --- randomized against a reference --- */

/* 2 GiB across the level-0 boundary at 512 GiB: two 1 GiB slots, one per L0 entry. */
#define WIN_BASE  0x7fc0000000ULL
#define WIN_PAGES (1u << 19)

/* Where every table is, to check what the gather queued. */
struct tinfo {
	phys_addr_t pa;
	uint64_t va, size;
};

static void collect_tables(struct pgt_fx *f, phys_addr_t t, unsigned int lvl, uint64_t va,
			   struct tinfo *ti, size_t *n)
{
	const uint64_t *w = ik_mem_ptr(f->mem, t, 4096);

	assert_non_null(w);
	for (unsigned int i = 0; lvl < 3 && i < 512; i++) {
		uint64_t e = le64toh(w[i]);
		uint64_t size = 1ULL << (12 + 9 * (3 - lvl));
		if ((e & 3) != D_TABLE)
			continue;
		assert_true(*n < 4096);
		ti[(*n)++] = (struct tinfo){ e & D_ADDR, va + i * size, size };
		collect_tables(f, e & D_ADDR, lvl + 1, va + i * size, ti, n);
	}
}

struct ref_check {
	const uint64_t *ref;
	uint64_t bytes;
	int bad;
};

static int ref_dump_fn(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		       const char *desc)
{
	struct ref_check *c = arg;
	(void)desc;
	if (iova < WIN_BASE || iova + size > WIN_BASE + (uint64_t)WIN_PAGES * SZ_4K ||
	    prot != RW) {
		c->bad++;
		return 0;
	}
	for (uint64_t o = 0; o < size; o += SZ_4K)
		if (c->ref[(iova + o - WIN_BASE) >> 12] != pa + o)
			c->bad++;
	c->bytes += size;
	return 0;
}

/* Translations, counts and dump all agree with @ref. */
static void check_against_ref(struct pgt_fx *f, const uint64_t *ref, uint64_t *rng)
{
	uint64_t mapped = 0;

	for (unsigned int p = 0; p < WIN_PAGES; p++) {
		uint64_t off = ik_test_rand(rng) & 0xfff;
		uint64_t va = WIN_BASE + (uint64_t)p * SZ_4K + off;
		phys_addr_t got = f->ops->iova_to_phys(f->ops, va);
		if (got != (ref[p] ? ref[p] + off : 0))
			fail_msg("page %#llx: %#llx, want %#llx",
				 (unsigned long long)(WIN_BASE + (uint64_t)p * SZ_4K),
				 (unsigned long long)got, (unsigned long long)ref[p]);
		mapped += ref[p] ? SZ_4K : 0;
	}
	if (!(f->cfg.quirks & IO_PGTABLE_QUIRK_KEEP_TABLES))
		count_tables(f);
	struct ref_check c = { ref, 0, 0 };
	assert_int_equal(f->ops->dump(f->ops, ref_dump_fn, &c), 0);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.bytes, mapped);
}

static void random_against_reference(unsigned long quirks, uint64_t seed)
{
	static const size_t sizes[] = { SZ_4K, SZ_2M, SZ_1G };
	struct pgt_fx *f = fx_new_cfg(quirks, 48, 48, 256ULL << 20);
	uint64_t *ref = calloc(WIN_PAGES, sizeof(*ref));
	uint8_t *covered = malloc(WIN_PAGES);
	struct tinfo *ti = malloc(4096 * sizeof(*ti));
	uint64_t rng = ik_test_seed(seed);
	unsigned int maps = 0, unmaps = 0, eexist = 0, enoent = 0, freed = 0;

	assert_non_null(ref);
	assert_non_null(covered);
	assert_non_null(ti);
	for (unsigned int op = 0; op < 3000; op++) {
		uint64_t r = ik_test_rand(&rng);
		/* Small pages most often, so tables fill, split and empty. */
		unsigned int si = (r & 31) < 23 ? 0 : (r & 31) < 31 ? 1 : 2;
		size_t pgsize = sizes[si];
		unsigned int per = (unsigned int)(pgsize >> 12);
		unsigned int slots = WIN_PAGES / per;
		bool do_map = ik_test_rand(&rng) & 1;
		/* Half of the calls are single pages (the fast paths). */
		size_t count = (ik_test_rand(&rng) & 1) ? 1 :
			       1 + (ik_test_rand(&rng) % (si == 0 ? 1100 : si == 1 ? 8 : 2));
		/*
		 * Most calls go near one of four hot spots (one across the
		 * level-0 boundary in the middle), starting at the next free
		 * page for a map and the next mapped page for an unmap, so that
		 * tables fill up and empty again.
		 */
		unsigned int p = (unsigned int)(ik_test_rand(&rng) % WIN_PAGES);
		if (ik_test_rand(&rng) % 5) {
			static const unsigned int hot[] = { 0, WIN_PAGES / 2 - 3000, 300000,
							    WIN_PAGES - 5000 };
			p = hot[ik_test_rand(&rng) % 4] + (unsigned int)(ik_test_rand(&rng) % 5000);
			for (unsigned int k = 0; k < 3000 && p < WIN_PAGES - 1 &&
						 (ref[p] != 0) == do_map; k++)
				p++;
		}
		unsigned int first = ik_min(p / per, slots - 1);
		if (count > slots - first)
			count = slots - first;
		uint64_t iova = WIN_BASE + (uint64_t)first * pgsize;

		if (do_map) {
			uint64_t pa = ((1ULL << 32) + (ik_test_rand(&rng) % (1ULL << 44))) &
				      ~(uint64_t)(pgsize - 1);
			size_t want = 0, m;
			int want_ret = 0;
			for (size_t i = 0; i < count && !want_ret; i++) {
				unsigned int p0 = (first + (unsigned int)i) * per;
				for (unsigned int k = 0; k < per && !want_ret; k++)
					if (ref[p0 + k])
						want_ret = -EEXIST;
				if (want_ret)
					break;
				for (unsigned int k = 0; k < per; k++)
					ref[p0 + k] = pa + i * pgsize + k * SZ_4K;
				want += pgsize;
			}
			int ret = map(f, iova, pa, pgsize, count, &m);
			if (ret != want_ret || m != want)
				fail_msg("op %u: map %#llx +%zu x %zu: %d/%zu, want %d/%zu", op,
					 (unsigned long long)iova, pgsize, count, ret, m, want_ret,
					 want);
			maps++;
			eexist += ret == -EEXIST;
			continue;
		}
		long want = 0;
		for (size_t i = 0; i < count; i++) {
			unsigned int p0 = (first + (unsigned int)i) * per;
			bool all = true;
			for (unsigned int k = 0; k < per && all; k++)
				all = ref[p0 + k] != 0;
			if (!all)
				break;
			for (unsigned int k = 0; k < per; k++)
				ref[p0 + k] = 0;
			want += (long)pgsize;
		}
		if (!want)
			want = -ENOENT;
		size_t nt = 0;
		collect_tables(f, f->cfg.arm_lpae_s1_cfg.ttbr, 0, 0, ti, &nt);
		struct iommu_iotlb_gather g;
		ik_iommu_iotlb_gather_init(&g);
		ik_flush_stub_reset(&f->tlb);
		long ret = pgt_unmap(f, iova, pgsize, count, &g);
		if (ret != want)
			fail_msg("op %u: unmap %#llx +%zu x %zu: %ld, want %ld", op,
				 (unsigned long long)iova, pgsize, count, ret, want);
		/* Every unmapped page is covered by a reported leaf. */
		assert_true(f->tlb.nadds <= MAX_RECS);
		memset(covered, 0, WIN_PAGES);
		for (size_t a = 0; a < f->tlb.nadds; a++) {
			const struct ik_flush_rec *rc = &f->tlb.adds[a];
			assert_true(rc->iova >= WIN_BASE &&
				    rc->iova + rc->size <= WIN_BASE + (uint64_t)WIN_PAGES * SZ_4K);
			memset(&covered[(rc->iova - WIN_BASE) >> 12], 1, rc->size >> 12);
		}
		for (long o = 0; o < ret; o += (long)SZ_4K)
			if (!covered[(iova + (uint64_t)o - WIN_BASE) >> 12])
				fail_msg("op %u: %#llx unmapped but not gathered", op,
					 (unsigned long long)(iova + (uint64_t)o));
		if (ret < 0)
			assert_int_equal(f->tlb.nadds, 0);
		/* Queued tables: dead, detached, and their range within the gather's. */
		phys_addr_t pa = g.freelist.head;
		for (size_t i = 0; i < g.freelist.count; i++) {
			struct ik_page *pg = ik_mem_page(f->mem, pa);
			size_t k = 0;
			assert_true(pt_table_users(pg) < 0);
			while (k < nt && ti[k].pa != pa)
				k++;
			assert_true(k < nt);
			assert_true(ti[k].va <= g.end && ti[k].va + ti[k].size - 1 >= g.start);
			pa = pg->next;
		}
		freed += (unsigned int)g.freelist.count;
		iommu_put_pages_list(f->mem, &g);
		unmaps++;
		enoent += ret == -ENOENT;
		if (op % 1000 == 999)
			check_against_ref(f, ref, &rng);
	}
	check_against_ref(f, ref, &rng);
	/* The mix really exercised both outcomes, and freed tables. */
	assert_true(maps > 1000 && unmaps > 1000 && eexist > 50 && enoent > 50);
	if (!quirks)
		assert_true(freed > 20);
	else
		assert_int_equal(freed, 0);

	/* Tear down page by page: every table comes back through the gather. */
	for (unsigned int p = 0; p < WIN_PAGES; p++)
		if (ref[p])
			assert_int_equal(pgt_unmap_sync(f, WIN_BASE + (uint64_t)p * SZ_4K, SZ_4K, 1),
					 SZ_4K);
	if (!quirks)
		assert_int_equal(count_tables(f), 1);
	free(ref);
	free(covered);
	free(ti);
	pgt_fx_free(f);
}

static void test_random_against_reference(void **state)
{
	(void)state;
	random_against_reference(0, 0x1a9ae5eedULL);
}

static void test_random_keep_tables(void **state)
{
	(void)state;
	random_against_reference(IO_PGTABLE_QUIRK_KEEP_TABLES, 0x4ee95eedULL);
}

/* --- concurrency --- */

#define NTHREADS  3
#define TH_ROUNDS 6000
/*
 * Shared tables: four L3 tables, two under one L2 table, one under another
 * L2 table of the same L1 table, one under another L1 table; every thread
 * owns a 2-page slot in each (interleaved), and a 2 MiB block slot in the
 * first L2 table. Tables empty and go all the time, up the chain.
 */
static const uint64_t th_l3_base[] = {
	0x10000000000ULL, 0x10000200000ULL, 0x10040000000ULL, 0x18000000000ULL,
};
#define TH_SLOTS  ARRAY_SIZE(th_l3_base)
#define TH_BLOCKS 0x10000400000ULL

struct th_arg {
	struct pgt_fx *f;
	unsigned int id;
	uint64_t seed;
	uint64_t ref[TH_SLOTS]; /* pa of the slot's first page, 0: unmapped */
	uint64_t block;         /* pa of the thread's 2M slot, or 0 */
	bool split;             /* the block was split: its first 4K page is gone */
	unsigned long errors, tables_freed, bad_freed;
};

static uint64_t th_iova(unsigned int id, unsigned int slot)
{
	return th_l3_base[slot] + (uint64_t)((id * 37 + slot * 11) % 256) * 2 * SZ_4K;
}

/* Free the gather's tables after checking they are dead (as a sync would). */
static void th_sync(struct th_arg *a, struct iommu_iotlb_gather *g)
{
	phys_addr_t t = g->freelist.head;

	for (size_t i = 0; i < g->freelist.count; i++) {
		struct ik_page *pg = ik_mem_page(a->f->mem, t);
		if (pt_table_users(pg) >= 0)
			a->bad_freed++;
		t = pg->next;
	}
	a->tables_freed += g->freelist.count;
	iommu_put_pages_list(a->f->mem, g);
}

static void th_block_round(struct th_arg *a, uint64_t *rng)
{
	struct io_pgtable_ops *ops = a->f->ops;
	const uint64_t iova = TH_BLOCKS + (uint64_t)a->id * SZ_2M;
	struct iommu_iotlb_gather g;
	size_t m = 0;

	ik_iommu_iotlb_gather_init(&g);
	if (!a->block) {
		a->block = 0x900000000ULL + (uint64_t)a->id * SZ_2M;
		if (ops->map_pages(ops, iova, a->block, SZ_2M, 1, RW, 0, &m) || m != SZ_2M)
			a->errors++;
		a->split = false;
		return;
	}
	if (ops->iova_to_phys(ops, iova + 0x5008) != a->block + 0x5008)
		a->errors++;
	if (!a->split && (ik_test_rand(rng) & 1)) {
		/* Split: the first page goes. */
		if (ops->unmap_pages(ops, iova, SZ_4K, 1, &g) != (long)SZ_4K)
			a->errors++;
		a->split = true;
	} else if (a->split) {
		if (ops->unmap_pages(ops, iova + SZ_4K, SZ_4K, 511, &g) != (long)(511 * SZ_4K))
			a->errors++;
		a->block = 0;
	} else {
		if (ops->unmap_pages(ops, iova, SZ_2M, 1, &g) != (long)SZ_2M)
			a->errors++;
		a->block = 0;
	}
	th_sync(a, &g);
}

/* Map a thread's 2-page slot in one call (general path) or one per page (fast path). */
static void th_map_slot(struct th_arg *a, unsigned int slot, bool pair)
{
	struct io_pgtable_ops *ops = a->f->ops;
	const uint64_t iova = th_iova(a->id, slot);
	const uint64_t pa = 0x880000000ULL + ((uint64_t)a->id << 24) + ((uint64_t)slot << 13);
	size_t m = 0;

	for (unsigned int k = 0; k < 2; k += pair ? 2 : 1) {
		size_t n = pair ? 2 : 1;

		if (ops->map_pages(ops, iova + k * SZ_4K, pa + k * SZ_4K, SZ_4K, n, RW, 0, &m) ||
		    m != n * SZ_4K)
			a->errors++;
	}
	a->ref[slot] = pa;
}

/* Check and unmap a thread's slot, in one call or one per page. */
static void th_unmap_slot(struct th_arg *a, unsigned int slot, bool pair)
{
	struct io_pgtable_ops *ops = a->f->ops;
	const uint64_t iova = th_iova(a->id, slot);
	struct iommu_iotlb_gather g;

	for (unsigned int k = 0; k < 2; k++)
		if (ops->iova_to_phys(ops, iova + k * SZ_4K + 8) != a->ref[slot] + k * SZ_4K + 8)
			a->errors++;
	ik_iommu_iotlb_gather_init(&g);
	for (unsigned int k = 0; k < 2; k += pair ? 2 : 1) {
		size_t n = pair ? 2 : 1;

		if (ops->unmap_pages(ops, iova + k * SZ_4K, SZ_4K, n, &g) != (long)(n * SZ_4K))
			a->errors++;
	}
	a->ref[slot] = 0;
	th_sync(a, &g);
}

static void *th_main(void *p)
{
	struct th_arg *a = p;
	uint64_t rng = a->seed;

	for (unsigned int round = 0; round < TH_ROUNDS; round++) {
		unsigned int slot = (unsigned int)(ik_test_rand(&rng) % (TH_SLOTS + 1));
		bool pair = ik_test_rand(&rng) & 1;

		if (slot == TH_SLOTS)
			th_block_round(a, &rng);
		else if (!a->ref[slot])
			th_map_slot(a, slot, pair);
		else
			th_unmap_slot(a, slot, pair);
	}
	return NULL;
}

static void test_threads_share_tables(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct th_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	uint64_t seed = ik_test_seed(0x7ead5ULL);
	unsigned long freed = 0;
	(void)state;

	for (unsigned int i = 0; i < NTHREADS; i++) {
		args[i] = (struct th_arg){ .f = f, .id = i, .seed = seed * (i + 1) + i };
		assert_int_equal(pthread_create(&th[i], NULL, th_main, &args[i]), 0);
	}
	for (unsigned int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].errors, 0);
		assert_int_equal(args[i].bad_freed, 0);
		freed += args[i].tables_freed;
	}
	/* Tables did empty and go while others were mapping into them. */
	assert_true(freed > 20);

	/* Final state: each thread's pages as it left them; counts exact. */
	for (unsigned int i = 0; i < NTHREADS; i++) {
		for (unsigned int s = 0; s < TH_SLOTS; s++)
			for (unsigned int k = 0; k < 2; k++)
				assert_int_equal(f->ops->iova_to_phys(f->ops,
								      th_iova(i, s) + k * SZ_4K),
						 args[i].ref[s] ? args[i].ref[s] + k * SZ_4K : 0);
		uint64_t biova = TH_BLOCKS + (uint64_t)i * SZ_2M + SZ_4K;
		assert_int_equal(f->ops->iova_to_phys(f->ops, biova),
				 args[i].block ? args[i].block + SZ_4K : 0);
	}
	count_tables(f);
	for (unsigned int i = 0; i < NTHREADS; i++) {
		for (unsigned int s = 0; s < TH_SLOTS; s++)
			if (args[i].ref[s])
				assert_int_equal(pgt_unmap_sync(f, th_iova(i, s), SZ_4K, 2), 2 * SZ_4K);
		uint64_t biova = TH_BLOCKS + (uint64_t)i * SZ_2M;
		if (args[i].block && args[i].split)
			assert_int_equal(pgt_unmap_sync(f, biova + SZ_4K, SZ_4K, 511), 511 * SZ_4K);
		else if (args[i].block)
			assert_int_equal(pgt_unmap_sync(f, biova, SZ_2M, 1), SZ_2M);
	}
	assert_int_equal(count_tables(f), 1);
	pgt_fx_free(f); /* every table page is back: nothing leaked or freed twice */
}

/*
 * Threads unmapping disjoint pages of the same blocks: whoever comes first
 * splits a block (one compare-and-swap), the others find its replacement
 * and unmap their pages from it; a 1 GiB block splits into a table whose
 * 2 MiB pieces split again under them.
 */
#define SB_2M     0x20000000000ULL
#define SB_1G     0x20040000000ULL
#define SB_ROUNDS 30
#define SB_PER    6 /* pages per thread per block */

struct sb_arg {
	struct pgt_fx *f;
	pthread_barrier_t *start, *done;
	unsigned int *line; /* start line: threads leave it together */
	unsigned int id;
	unsigned long errors;
};

/* Page @k of thread @id: odd strides make them distinct across threads. */
static uint64_t sb_page(unsigned int id, unsigned int k, bool big)
{
	unsigned int n = k * NTHREADS + id;

	if (big)
		return SB_1G + (uint64_t)(n * 40503u % 262144u) * SZ_4K;
	return SB_2M + (uint64_t)(n * 97u % 512u) * SZ_4K;
}

static void *sb_main(void *p)
{
	struct sb_arg *a = p;
	struct io_pgtable_ops *ops = a->f->ops;

	for (unsigned int round = 0; round < SB_ROUNDS; round++) {
		pthread_barrier_wait(a->start);
		/*
		 * The barrier wakes threads one by one; spinning (yielding only
		 * now and then, for an overloaded host) lines them up so that
		 * they reach the blocks within a split's time of each other.
		 */
		__atomic_add_fetch(a->line, 1, __ATOMIC_SEQ_CST);
		for (unsigned long spin = 1;
		     __atomic_load_n(a->line, __ATOMIC_SEQ_CST) < (round + 1) * NTHREADS; spin++)
			if (!(spin % 100000))
				sched_yield();
		for (unsigned int k = 0; k < 2 * SB_PER; k++) {
			struct iommu_iotlb_gather g;

			ik_iommu_iotlb_gather_init(&g);
			if (ops->unmap_pages(ops, sb_page(a->id, k / 2, k & 1), SZ_4K, 1, &g) !=
			    (long)SZ_4K)
				a->errors++;
			iommu_put_pages_list(a->f->mem, &g);
		}
		pthread_barrier_wait(a->done);
	}
	return NULL;
}

static bool sb_removed(uint64_t va)
{
	for (unsigned int id = 0; id < NTHREADS; id++)
		for (unsigned int k = 0; k < SB_PER; k++)
			if (sb_page(id, k, false) == va || sb_page(id, k, true) == va)
				return true;
	return false;
}

static void test_threads_split_shared_blocks(void **state)
{
	struct pgt_fx *f = fx_new(0);
	pthread_barrier_t start, done;
	struct sb_arg args[NTHREADS];
	unsigned int line = 0;
	pthread_t th[NTHREADS];
	(void)state;

	assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS + 1), 0);
	assert_int_equal(pthread_barrier_init(&done, NULL, NTHREADS + 1), 0);
	for (unsigned int i = 0; i < NTHREADS; i++) {
		args[i] = (struct sb_arg){ .f = f, .start = &start, .done = &done, .line = &line,
					   .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, sb_main, &args[i]), 0);
	}
	for (unsigned int round = 0; round < SB_ROUNDS; round++) {
		const uint64_t pa2m = 0x900000000ULL + round * SZ_2M, pa1g = 0x1000000000ULL;

		pgt_map_ok(f, SB_2M, pa2m, SZ_2M, 1);
		pgt_map_ok(f, SB_1G, pa1g, SZ_1G, 1);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		/* Exactly the threads' pages are gone; the rest translates as before. */
		for (unsigned int i = 0; i < 512; i++) {
			uint64_t va = SB_2M + i * SZ_4K;
			assert_int_equal(f->ops->iova_to_phys(f->ops, va + 4),
					 sb_removed(va) ? 0 : pa2m + i * SZ_4K + 4);
		}
		for (unsigned int id = 0; id < NTHREADS; id++)
			for (unsigned int k = 0; k < SB_PER; k++) {
				uint64_t va = sb_page(id, k, true);
				assert_int_equal(f->ops->iova_to_phys(f->ops, va), 0);
				if (!sb_removed(va + SZ_4K) && va + SZ_4K < SB_1G + SZ_1G)
					assert_int_equal(f->ops->iova_to_phys(f->ops, va + SZ_4K),
							 pa1g + (va + SZ_4K - SB_1G));
			}
		count_tables(f);
		/* Tear down what is left: pages one by one, whole 2 MiB blocks at once. */
		for (unsigned int i = 0; i < 512; i++)
			if (!sb_removed(SB_2M + i * SZ_4K))
				assert_int_equal(pgt_unmap_sync(f, SB_2M + i * SZ_4K, SZ_4K, 1), SZ_4K);
		for (uint64_t va = SB_1G; va < SB_1G + SZ_1G; va += SZ_2M) {
			if ((entry_at(f, va, 2) & 3) == D_BLOCK) {
				assert_int_equal(pgt_unmap_sync(f, va, SZ_2M, 1), SZ_2M);
				continue;
			}
			for (uint64_t pg = va; pg < va + SZ_2M; pg += SZ_4K)
				if (!sb_removed(pg))
					assert_int_equal(pgt_unmap_sync(f, pg, SZ_4K, 1), SZ_4K);
		}
		assert_int_equal(count_tables(f), 1);
	}
	for (unsigned int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].errors, 0);
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	pgt_fx_free(f);
}

/* --- the per-thread walk cache --- */

/* Something done by another thread, so that this thread's cache stays as it was. */
struct other_job {
	struct pgt_fx *f;
	void (*fn)(struct other_job *j);
};

static void *other_main(void *p)
{
	struct other_job *j = p;
	j->fn(j);
	return NULL;
}

static void in_other_thread(struct pgt_fx *f, void (*fn)(struct other_job *j))
{
	struct other_job j = { f, fn };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, other_main, &j), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/*
 * A page at 0x40201000 (L3 index 1 of the table for 2 MiB at 0x40200000)
 * and one at 0x40401000 that keeps the L2 table alive. Unmapping the first
 * frees its L3 table T; mapping 0x40601000 (L3 index 1 again, under the
 * same L2 table) needs one table, and the allocator hands back T's page
 * (freed pages are reused first). A stale cache entry "0x40200000 -> T"
 * would now translate 0x40201000 through 0x40601000's page.
 */
#define WC_A 0x40201000ULL
#define WC_B 0x40601000ULL
#define WC_C 0x40401000ULL

static phys_addr_t wc_table;

static void wc_retire_and_reuse(struct other_job *j)
{
	wc_table = table_at(j->f, WC_A, 3);
	assert_int_equal(pgt_unmap_sync(j->f, WC_A, SZ_4K, 1), SZ_4K);
	pgt_map_ok(j->f, WC_B, 0x990000000ULL, SZ_4K, 1);
	assert_int_equal(table_at(j->f, WC_B, 3), wc_table);
}

static void test_walk_cache_goes_stale(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	size_t m;
	(void)state;

	pgt_map_ok(f, WC_C, 0x880401000ULL, SZ_4K, 1);
	pgt_map_ok(f, WC_A, 0x880201000ULL, SZ_4K, 1);
	/* This thread now has WC_A's table cached. */
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A), 0x880201000ULL);
	in_other_thread(f, wc_retire_and_reuse);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A + 8), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_B + 8), 0x990000008ULL);
	/* Nor does a one-page unmap or map go through the stale entry. */
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, WC_A, SZ_4K, 1, &g), -ENOENT);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_B), 0x990000000ULL);
	assert_int_equal(map(f, WC_A, 0x880201000ULL, SZ_4K, 1, &m), 0);
	assert_int_not_equal(table_at(f, WC_A, 3), wc_table);
	assert_int_equal(entry(f, wc_table, 1), 0x990000000ULL | 0xe43);
	assert_int_equal(pgt_unmap_sync(f, WC_A, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, WC_B, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, WC_C, SZ_4K, 1), SZ_4K);
	assert_int_equal(count_tables(f), 1);

	/* A new instance never hits an entry of a freed one. */
	pgt_map_ok(f, WC_A, 0x880201000ULL, SZ_4K, 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A), 0x880201000ULL);
	free_io_pgtable_ops(f->ops);
	f->ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &f->cfg, &f->tlb);
	assert_non_null(f->ops);
	pgt_map_ok(f, WC_B, 0x990000000ULL, SZ_4K, 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A), 0);
	assert_int_equal(pgt_unmap(f, WC_A, SZ_4K, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, WC_B, SZ_4K, 1), SZ_4K);
	pgt_fx_free(f);
}

/*
 * Without counting nothing is retired by unmaps, but a block mapped over
 * an empty table frees it: a cache entry for that table goes stale too.
 */
static void wc_block_over_table(struct other_job *j)
{
	wc_table = table_at(j->f, WC_A, 3);
	assert_int_equal(pgt_unmap_sync(j->f, WC_A, SZ_4K, 1), SZ_4K);
	pgt_map_ok(j->f, 0x40200000ULL, 0x9c0200000ULL, SZ_2M, 1); /* frees the table */
	pgt_map_ok(j->f, WC_B, 0x990000000ULL, SZ_4K, 1);
	assert_int_equal(table_at(j->f, WC_B, 3), wc_table);
}

static void test_walk_cache_keep_tables(void **state)
{
	struct pgt_fx *f = fx_new(IO_PGTABLE_QUIRK_KEEP_TABLES);
	(void)state;

	pgt_map_ok(f, WC_C, 0x880401000ULL, SZ_4K, 1);
	pgt_map_ok(f, WC_A, 0x880201000ULL, SZ_4K, 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A), 0x880201000ULL);
	in_other_thread(f, wc_block_over_table);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A + 8), 0x9c0201008ULL);
	assert_int_equal(pgt_unmap_sync(f, WC_A, SZ_4K, 1), SZ_4K); /* splits the block */
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_A), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, WC_B), 0x990000000ULL);
	pgt_fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_factory_config),
		cmocka_unit_test(test_map_rejects_bad_arguments),
		cmocka_unit_test(test_golden_page),
		cmocka_unit_test(test_golden_prot),
		cmocka_unit_test(test_golden_blocks),
		cmocka_unit_test(test_golden_ias39),
		cmocka_unit_test(test_map_overlaps),
		cmocka_unit_test(test_split_2m),
		cmocka_unit_test(test_split_1g),
		cmocka_unit_test(test_split_without_memory),
		cmocka_unit_test(test_unmap_smaller_leaves),
		cmocka_unit_test(test_tables_freed_up_the_chain),
		cmocka_unit_test(test_keep_tables_quirk),
		cmocka_unit_test(test_leftover_empty_tables),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_random_keep_tables),
		cmocka_unit_test(test_threads_share_tables),
		cmocka_unit_test(test_threads_split_shared_blocks),
		cmocka_unit_test(test_walk_cache_goes_stale),
		cmocka_unit_test(test_walk_cache_keep_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
