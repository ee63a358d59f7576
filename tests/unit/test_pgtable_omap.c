// SPDX-License-Identifier: MIT
/*
 * The OMAP2/3 MMU page-table format and the io-pgtable factory.
 *
 * Descriptor bytes are checked against values worked out by hand from the
 * OMAP35x TRM "Translation Tables" section (and TI SPRUGX9 Table 1-11 for
 * the same MMU), never against the format's own output: each golden test
 * writes its derivation next to the expected bytes. RAM sits at 0x80000000
 * so that zero-based address assumptions show.
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
#include "ik/omap-mmu-regs.h"
#include "pgtable/pt-table.h"

#define SZ_4K  0x1000UL
#define SZ_64K 0x10000UL
#define SZ_1M  0x100000UL
#define SZ_16M 0x1000000UL
#define OMAP_SIZES (SZ_4K | SZ_64K | SZ_1M | SZ_16M)
#define RAM_BASE 0x80000000ULL
#define RW (IOMMU_READ | IOMMU_WRITE)

/* --- the recording flush-ops stub (tests/support/flush_stub.h) --- */

#define MAX_RECS 65536

/* --- fixture --- */

static struct pgt_fx *fx_new_mem(unsigned long quirks, uint64_t ram_size)
{
	const struct io_pgtable_cfg cfg = { .quirks = quirks, .pgsize_bitmap = OMAP_SIZES };

	return pgt_fx_new(OMAP_IOMMU_PGTABLE, &cfg, RAM_BASE, ram_size, MAX_RECS);
}

static struct pgt_fx *fx_new(unsigned long quirks)
{
	return fx_new_mem(quirks, 64ULL << 20);
}

static struct io_pgtable_cfg *live_cfg(struct pgt_fx *f)
{
	return &io_pgtable_ops_to_pgtable(f->ops)->cfg;
}

static int map(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count,
	       size_t *mapped)
{
	return pgt_map(f, iova, pa, pgsize, count, RW, mapped);
}

static uint32_t rd32(struct ik_mem *mem, phys_addr_t pa)
{
	uint32_t v;
	assert_int_equal(ik_mem_read(mem, pa, &v, 4), 0);
	return le32toh(v);
}

static uint32_t l1_word(struct pgt_fx *f, uint64_t iova)
{
	return rd32(f->mem, f->cfg.omap.ttb + (iova >> 20) * 4);
}

/* The second-level table under @iova (the L1 word must be a table pointer). */
static phys_addr_t l2_table(struct pgt_fx *f, uint64_t iova)
{
	uint32_t e = l1_word(f, iova);
	assert_int_equal(e & 3, 1);
	return e & 0xfffffc00u;
}

static uint32_t l2_word(struct pgt_fx *f, uint64_t iova)
{
	return rd32(f->mem, l2_table(f, iova) + ((iova >> 12) & 0xff) * 4);
}

static void assert_bytes(struct ik_mem *mem, phys_addr_t pa, const uint8_t want[4])
{
	uint8_t got[4];
	assert_int_equal(ik_mem_read(mem, pa, got, 4), 0);
	assert_memory_equal(got, want, 4);
}

static int32_t table_users(struct pgt_fx *f, phys_addr_t table)
{
	return pt_table_users(ik_mem_page(f->mem, table));
}

/* FNV-1a over the L1 table and every L2 table: "nothing changed" checks. */
static uint64_t tables_hash(struct pgt_fx *f)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *l1 = ik_mem_ptr(f->mem, f->cfg.omap.ttb, 16384);

	assert_non_null(l1);
	for (size_t i = 0; i < 16384; i++)
		h = (h ^ l1[i]) * 0x100000001b3ULL;
	for (unsigned int i = 0; i < 4096; i++) {
		uint32_t e = l1_word(f, (uint64_t)i << 20);
		if ((e & 3) != 1)
			continue;
		const uint8_t *t = ik_mem_ptr(f->mem, e & 0xfffffc00u, 1024);
		assert_non_null(t);
		for (size_t k = 0; k < 1024; k++)
			h = (h ^ t[k]) * 0x100000001b3ULL;
	}
	return h;
}

/* --- factory and configuration --- */

static void test_factory_rejects_bad_config(void **state)
{
	const struct ik_region_desc rd = { "ram", RAM_BASE, 1 << 20 };
	struct ik_mem *mem = ik_sim_mem_create(&rd, 1);
	static struct ik_flush_rec recs[MAX_RECS];
	struct ik_flush_stub tlb = { .lock = PTHREAD_MUTEX_INITIALIZER, .adds = recs,
				     .max_adds = MAX_RECS };
	struct iommu_flush_ops no_walk = ik_flush_stub_ops;
	struct io_pgtable_cfg good = {
		.pgsize_bitmap = OMAP_SIZES, .tlb = &ik_flush_stub_ops, .mem = mem,
	}, cfg;
	size_t free0 = ik_mem_free_count(mem);
	(void)state;

	no_walk.tlb_flush_walk = NULL;
	assert_non_null(mem);

	errno = 0;
	assert_null(alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, NULL, &tlb));
	assert_int_equal(errno, EINVAL);
	cfg = good;
	cfg.mem = NULL;
	errno = 0;
	assert_null(alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb));
	assert_int_equal(errno, EINVAL);
	cfg = good;
	cfg.tlb = NULL;
	errno = 0;
	assert_null(alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb));
	assert_int_equal(errno, EINVAL);

	static const char *const bad[] = {
		"ias > 32", "oas > 32", "no OMAP page size", "unknown quirk",
		"attrs outside the MMU_RAM fields",
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		cfg = good;
		switch (i) {
		case 0: cfg.ias = 33; break;
		case 1: cfg.oas = 40; break;
		case 2: cfg.pgsize_bitmap = (1UL << 21) | (1UL << 30); break;
		case 3: cfg.quirks = 1UL << 7; break;
		default: cfg.omap.attrs = OMAP_MMU_RAM_MIXED | 1u; break;
		}
		errno = 0;
		if (alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb))
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	cfg = good;
	cfg.tlb = &no_walk;
	errno = 0;
	assert_null(alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(alloc_io_pgtable_ops(IO_PGTABLE_NUM_FMTS, &good, &tlb));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(alloc_io_pgtable_ops((enum io_pgtable_fmt)-1, &good, &tlb));
	assert_int_equal(errno, EINVAL);
	/* Nothing leaked by the refusals. */
	assert_int_equal(ik_mem_free_count(mem), free0);

	/* Out fields: sizes masked to the format's, 32-bit spaces, TTB. */
	cfg = good;
	cfg.pgsize_bitmap = ~0UL;
	struct io_pgtable_ops *ops = alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.pgsize_bitmap, OMAP_SIZES);
	assert_int_equal(cfg.ias, 32);
	assert_int_equal(cfg.oas, 32);
	/* 16 KiB aligned (TTB register bits 13:0 are zero), inside RAM, zeroed */
	assert_int_equal(cfg.omap.ttb & 0x3fff, 0);
	assert_true(cfg.omap.ttb >= RAM_BASE && cfg.omap.ttb + 16384 <= RAM_BASE + (1 << 20));
	assert_int_equal(ik_mem_free_count(mem), free0 - 4);
	const uint8_t *l1 = ik_mem_ptr(mem, cfg.omap.ttb, 16384);
	for (size_t i = 0; i < 16384; i++)
		assert_int_equal(l1[i], 0);
	struct io_pgtable *iop = io_pgtable_ops_to_pgtable(ops);
	assert_int_equal(iop->fmt, OMAP_IOMMU_PGTABLE);
	assert_ptr_equal(iop->cookie, &tlb);
	assert_int_equal(iop->cfg.omap.ttb, cfg.omap.ttb);
	free_io_pgtable_ops(ops);
	free_io_pgtable_ops(NULL);
	assert_int_equal(ik_mem_free_count(mem), free0);

	/* Fewer address bits than a small page: refused. */
	cfg = good;
	cfg.ias = 8;
	errno = 0;
	assert_null(alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb));
	assert_int_equal(errno, EINVAL);

	/* A 24-bit input and 28-bit output space are enforced by map and unmap. */
	cfg = good;
	cfg.ias = 24;
	cfg.oas = 28;
	ops = alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.ias, 24);
	assert_int_equal(cfg.oas, 28);
	size_t m = 1;
	struct iommu_iotlb_gather g;
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(ops->map_pages(ops, 0x00ffe000, 0x0fffe000, SZ_4K, 1, RW, 0, &m), 0);
	assert_int_equal(m, SZ_4K);
	assert_int_equal(ops->map_pages(ops, 0x01000000, 0x0f000000, SZ_4K, 1, RW, 0, &m), -ERANGE);
	assert_int_equal(ops->map_pages(ops, 0x00fff000, 0x10000000, SZ_4K, 1, RW, 0, &m), -ERANGE);
	assert_int_equal(ops->map_pages(ops, 0x00ffe000, 0x0f000000, SZ_4K, 3, RW, 0, &m), -ERANGE);
	assert_int_equal(ops->map_pages(ops, 0x00fff000, 0x0ffff000, SZ_4K, 1, RW, 0, &m), 0);
	assert_int_equal(m, SZ_4K);
	assert_int_equal(ops->iova_to_phys(ops, 0x00fff123), 0x0ffff123);
	assert_int_equal(ops->iova_to_phys(ops, 0x01fff123), 0);
	assert_int_equal(ops->unmap_pages(ops, 0x01fff000, SZ_4K, 1, &g), -ERANGE);
	assert_int_equal(ops->unmap_pages(ops, 0x00ffe000, SZ_4K, 2, &g), 2 * SZ_4K);
	iommu_put_pages_list(mem, &g);
	free_io_pgtable_ops(ops);
	assert_int_equal(ik_mem_free_count(mem), free0);

	/* A narrower bitmap stays narrow, and map refuses what it left out. */
	cfg = good;
	cfg.pgsize_bitmap = SZ_4K | SZ_1M;
	ops = alloc_io_pgtable_ops(OMAP_IOMMU_PGTABLE, &cfg, &tlb);
	assert_non_null(ops);
	assert_int_equal(cfg.pgsize_bitmap, SZ_4K | SZ_1M);
	m = 1;
	assert_int_equal(ops->map_pages(ops, 0, RAM_BASE, SZ_64K, 1, RW, 0, &m), -EINVAL);
	assert_int_equal(m, 0);
	free_io_pgtable_ops(ops);
	ik_mem_destroy(mem);
}

static void test_map_rejects_bad_arguments(void **state)
{
	struct pgt_fx *f = fx_new(0);
	size_t m;
	(void)state;

	/* A table under the addresses tried, so one-page calls take the fast path. */
	pgt_map_ok(f, 0x3000, 0x80003000, SZ_4K, 1);
	uint64_t h = tables_hash(f);
	struct { uint64_t iova, pa; size_t pgsize, count; int prot, err; } bad[] = {
		{ 0x1000, 0x80001000, SZ_4K, 1, 0, -EINVAL },            /* no READ/WRITE */
		{ 0x1000, 0x80001000, SZ_4K, 1, IOMMU_CACHE, -EINVAL },
		{ 0x1000, 0x80001000, SZ_4K, 1, RW | (1 << 6), -EINVAL }, /* unknown prot bit */
		{ 0x1800, 0x80001000, SZ_4K, 1, RW, -EINVAL },           /* iova misaligned */
		{ 0x1000, 0x80001800, SZ_4K, 1, RW, -EINVAL },           /* pa misaligned */
		{ 0x18000, 0x80000000, SZ_64K, 1, RW, -EINVAL },
		{ 0x100000, 0x80080000, SZ_1M, 1, RW, -EINVAL },
		{ 0x800000, 0x81000000, SZ_16M, 1, RW, -EINVAL },
		{ 0x2000, 0x80002000, 0x2000, 1, RW, -EINVAL },          /* not a page size */
		{ 0x0, 0x80000000, 0x200000, 1, RW, -EINVAL },
		{ 0x1000, 0x80001000, SZ_4K, 0, RW, -EINVAL },           /* no pages */
		{ 0x100000000ULL, 0x80000000, SZ_4K, 1, RW, -ERANGE },   /* iova beyond 32 bits */
		{ 0xfffff000, 0x80000000, SZ_4K, 2, RW, -ERANGE },       /* runs past 4 GiB */
		{ 0x1000, 0x100000000ULL, SZ_4K, 1, RW, -ERANGE },       /* pa beyond 32 bits */
		{ 0x0, 0xff000000, SZ_16M, 2, RW, -ERANGE },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		m = 77;
		int ret = f->ops->map_pages(f->ops, bad[i].iova, bad[i].pa, bad[i].pgsize,
					    bad[i].count, bad[i].prot, 0, &m);
		if (ret != bad[i].err)
			fail_msg("case %u: got %d, want %d", i, ret, bad[i].err);
		assert_int_equal(m, 0);
	}
	assert_true(tables_hash(f) == h);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 5);
	assert_int_equal(pgt_unmap_sync(f, 0x3000, SZ_4K, 1), SZ_4K);

	/* No permission bits in this MMU: every legal prot is accepted. */
	int prots[] = { IOMMU_READ, IOMMU_WRITE, RW | IOMMU_CACHE | IOMMU_NOEXEC,
			IOMMU_WRITE | IOMMU_MMIO | IOMMU_PRIV };
	for (unsigned int i = 0; i < ARRAY_SIZE(prots); i++) {
		assert_int_equal(f->ops->map_pages(f->ops, 0x10000 + i * SZ_4K, 0x80010000 + i * SZ_4K,
						   SZ_4K, 1, prots[i], 0, &m), 0);
		assert_int_equal(m, SZ_4K);
	}
	/* The last 4K page of the 32-bit space is mappable. */
	pgt_map_ok(f, 0xfffff000, 0xfffff000, SZ_4K, 1);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0xffffffff), 0xffffffff);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x100000000ULL), 0);

	struct iommu_iotlb_gather g;
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x10000, SZ_4K, 0, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x10800, SZ_4K, 1, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x10000, 0x2000, 1, &g), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x10000, SZ_4K, 1, NULL), -EINVAL);
	assert_int_equal(pgt_unmap(f, 0x100000000ULL, SZ_4K, 1, &g), -ERANGE);
	assert_int_equal(f->tlb.nadds, 0);
	assert_int_equal(pgt_unmap_sync(f, 0x10000, SZ_4K, 4), 4 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0xfffff000, SZ_4K, 1), SZ_4K);
	pgt_fx_free(f);
}

/* --- golden descriptors --- */

static void test_golden_small_page(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * iova 0x12345000 -> pa 0x87654000, 4 KiB, attributes 0 (little endian,
	 * 8-bit elements, not mixed).
	 * First level: index = iova[31:20] = 0x123, word at TTB + 0x123 * 4 =
	 * TTB + 0x48c; it holds the L2 table base in [31:10] and type 0b01.
	 * Second level: index = iova[19:12] = 0x45, at table + 0x114; small page
	 * = PA[31:12] | type 0b10 = 0x87654000 | 0x2 = 0x87654002, stored
	 * little endian: 02 40 65 87.
	 */
	pgt_map_ok(f, 0x12345000, 0x87654000, SZ_4K, 1);
	uint32_t l1 = rd32(f->mem, f->cfg.omap.ttb + 0x48c);
	assert_int_equal(l1 & 0x3ff, 0x001);
	phys_addr_t table = l1 & 0xfffffc00u;
	assert_int_equal(table & 0xfff, 0); /* each table has its own page */
	assert_true(table >= RAM_BASE && table < RAM_BASE + (64 << 20));
	static const uint8_t small[4] = { 0x02, 0x40, 0x65, 0x87 };
	assert_bytes(f->mem, table + 0x114, small);
	assert_int_equal(rd32(f->mem, table + 0x110), 0);
	assert_int_equal(rd32(f->mem, table + 0x118), 0);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x488), 0);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x490), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x12345abc), 0x87654abc);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x12346000), 0);
	assert_int_equal(table_users(f, table), 1);
	assert_int_equal(pgt_unmap_sync(f, 0x12345000, SZ_4K, 1), SZ_4K);
	pgt_fx_free(f);
}

static void test_golden_large_page(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * iova 0x00230000 -> pa 0x9abc0000, 64 KiB.
	 * L1 index 0x002 (word at TTB + 0x8) points to a table. iova[19:12] =
	 * 0x30, so the large page fills L2 entries 0x30..0x3f (a 16-aligned run
	 * of 16 identical words, TRM: "must be repeated 16 times"). Large page
	 * = PA[31:16] | 0b01 = 0x9abc0001, little endian 01 00 bc 9a.
	 */
	pgt_map_ok(f, 0x00230000, 0x9abc0000, SZ_64K, 1);
	phys_addr_t table = rd32(f->mem, f->cfg.omap.ttb + 0x8) & 0xfffffc00u;
	static const uint8_t large[4] = { 0x01, 0x00, 0xbc, 0x9a };
	for (unsigned int i = 0x30; i <= 0x3f; i++)
		assert_bytes(f->mem, table + i * 4, large);
	assert_int_equal(rd32(f->mem, table + 0x2f * 4), 0);
	assert_int_equal(rd32(f->mem, table + 0x40 * 4), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x0023fffc), 0x9abcfffc);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00230000), 0x9abc0000);
	assert_int_equal(table_users(f, table), 16); /* 16 words counted */
	assert_int_equal(pgt_unmap_sync(f, 0x00230000, SZ_64K, 1), SZ_64K);
	pgt_fx_free(f);
}

static void test_golden_section(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * iova 0x40100000 -> pa 0x81200000, 1 MiB, attributes big endian,
	 * 32-bit elements, mixed (MMU_RAM encoding 0x200 | 0x100 | 0x40).
	 * L1 index 0x401, word at TTB + 0x1004. Section = PA[31:20] | type 0b10,
	 * bit 18 clear; first-level attribute fields (SPRUGX9 Table 1-11):
	 * M bit 17 = 0x20000, E bit 15 = 0x8000, ES[11:10] = 0b10 = 0x800.
	 * 0x81200000 | 0x20000 | 0x8000 | 0x800 | 0x2 = 0x81228802,
	 * little endian 02 88 22 81.
	 */
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_32 |
				  OMAP_MMU_RAM_MIXED;
	pgt_map_ok(f, 0x40100000, 0x81200000, SZ_1M, 1);
	static const uint8_t section[4] = { 0x02, 0x88, 0x22, 0x81 };
	assert_bytes(f->mem, f->cfg.omap.ttb + 0x1004, section);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x1000), 0);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x1008), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x401fffff), 0x812fffff);
	/* No table was allocated for a section. */
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4);
	assert_int_equal(pgt_unmap_sync(f, 0x40100000, SZ_1M, 1), SZ_1M);
	pgt_fx_free(f);
}

static void test_golden_supersection(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * iova 0x05000000 -> pa 0x83000000, 16 MiB, 16-bit elements (MMU_RAM
	 * ELSZ 0b01 << 7), little endian, not mixed.
	 * L1 indices 0x050..0x05f (words at TTB + 0x140..0x17c), 16 identical
	 * words. Supersection = PA[31:24] | bit 18 (0x40000) | ES[11:10] = 0b01
	 * (0x400) | 0b10 = 0x83040402, little endian 02 04 04 83.
	 */
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_16;
	pgt_map_ok(f, 0x05000000, 0x83000000, SZ_16M, 1);
	static const uint8_t super[4] = { 0x02, 0x04, 0x04, 0x83 };
	for (unsigned int i = 0x50; i <= 0x5f; i++)
		assert_bytes(f->mem, f->cfg.omap.ttb + i * 4, super);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x4f * 4), 0);
	assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + 0x60 * 4), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x05abcdef), 0x83abcdef);
	assert_int_equal(pgt_unmap_sync(f, 0x05000000, SZ_16M, 1), SZ_16M);
	for (unsigned int i = 0x50; i <= 0x5f; i++)
		assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + i * 4), 0);
	pgt_fx_free(f);
}

static void test_golden_attributes(void **state)
{
	struct pgt_fx *f = fx_new(0);
	(void)state;

	/*
	 * Second-level attribute positions (Linux get_iopte_attr(): MMU_RAM
	 * endian bit 9 stays at 9, elsz bits 8:7 move to 5:4, mixed bit 6
	 * moves to 11):
	 *  - small page, big endian + no conversion (ES 0b11) + mixed:
	 *    0x87001000 | 0x200 | 0x30 | 0x800 | 0x2 = 0x87001a32
	 *  - large page, 16-bit elements: 0x87010000 | 0x10 | 0x1 = 0x87010011
	 *  - section, no conversion: ES 0b11 at [11:10] = 0xc00:
	 *    0x87100000 | 0xc00 | 0x2 = 0x87100c02
	 * Attributes are read at each map: changing them affects later maps only.
	 */
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_NONE |
				  OMAP_MMU_RAM_MIXED;
	pgt_map_ok(f, 0x00001000, 0x87001000, SZ_4K, 1);
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_16;
	pgt_map_ok(f, 0x00010000, 0x87010000, SZ_64K, 1);
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_NONE;
	pgt_map_ok(f, 0x00100000, 0x87100000, SZ_1M, 1);
	/*
	 * A small page into the now existing table, little endian, 32-bit
	 * elements, mixed: 0x87002000 | 0x20 | 0x800 | 0x2 = 0x87002822.
	 */
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_32 | OMAP_MMU_RAM_MIXED;
	pgt_map_ok(f, 0x00002000, 0x87002000, SZ_4K, 1);
	static const uint8_t small2[4] = { 0x22, 0x28, 0x00, 0x87 };

	static const uint8_t small[4] = { 0x32, 0x1a, 0x00, 0x87 };
	static const uint8_t large[4] = { 0x11, 0x00, 0x01, 0x87 };
	static const uint8_t section[4] = { 0x02, 0x0c, 0x10, 0x87 };
	phys_addr_t table = l2_table(f, 0);
	assert_bytes(f->mem, table + 1 * 4, small);
	assert_bytes(f->mem, table + 2 * 4, small2);
	for (unsigned int i = 0x10; i <= 0x1f; i++)
		assert_bytes(f->mem, table + i * 4, large);
	assert_bytes(f->mem, f->cfg.omap.ttb + 1 * 4, section);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00001234), 0x87001234);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00012345), 0x87012345);
	assert_int_equal(pgt_unmap_sync(f, 0, SZ_16M, 1), -ENOENT); /* not all mapped */
	assert_int_equal(pgt_unmap_sync(f, 0x00001000, SZ_4K, 2), 2 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00010000, SZ_64K, 1), SZ_64K);
	assert_int_equal(pgt_unmap_sync(f, 0x00100000, SZ_1M, 1), SZ_1M);
	pgt_fx_free(f);
}

/* --- -EEXIST --- */

static void test_map_overlaps(void **state)
{
	struct pgt_fx *f = fx_new(0);
	size_t m;
	(void)state;

	pgt_map_ok(f, 0x00402000, 0x80402000, SZ_4K, 1);
	phys_addr_t table = l2_table(f, 0x00400000);
	uint64_t h = tables_hash(f);

	/* The same page again. */
	assert_int_equal(map(f, 0x00402000, 0x90000000, SZ_4K, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	/* A run whose second page collides: the first one is mapped. */
	assert_int_equal(map(f, 0x00401000, 0x90001000, SZ_4K, 3, &m), -EEXIST);
	assert_int_equal(m, SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00401000), 0x90001000);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00402000), 0x80402000);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00403000), 0);
	assert_int_equal(table_users(f, table), 2); /* the unused reference was returned */
	assert_int_equal(pgt_unmap_sync(f, 0x00401000, SZ_4K, 1), SZ_4K);
	h = tables_hash(f);

	/* 64K over a group holding one small page: nothing of it written. */
	assert_int_equal(map(f, 0x00400000, 0x90000000, SZ_64K, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	/* 1M over a table with an entry, 16M over it: the L1 word stays. */
	assert_int_equal(map(f, 0x00400000, 0x90000000, SZ_1M, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x00000000, 0x90000000, SZ_16M, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	assert_int_equal(table_users(f, table), 1);

	/* 4K and 64K inside a section; 16M over a range with one section. */
	pgt_map_ok(f, 0x01500000, 0x81500000, SZ_1M, 1);
	h = tables_hash(f);
	assert_int_equal(map(f, 0x01534000, 0x90000000, SZ_4K, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x01530000, 0x90000000, SZ_64K, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x01000000, 0x90000000, SZ_16M, 1, &m), -EEXIST);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	/* Two sections, the second collides: the first is mapped. */
	assert_int_equal(map(f, 0x01400000, 0x91400000, SZ_1M, 2, &m), -EEXIST);
	assert_int_equal(m, SZ_1M);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01400010), 0x91400010);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01500010), 0x81500010);
	/* A supersection blocks everything inside it. */
	pgt_map_ok(f, 0x02000000, 0x82000000, SZ_16M, 1);
	h = tables_hash(f);
	assert_int_equal(map(f, 0x02f00000, 0x90000000, SZ_1M, 1, &m), -EEXIST);
	assert_int_equal(map(f, 0x02f0f000, 0x90000000, SZ_4K, 1, &m), -EEXIST);
	assert_true(tables_hash(f) == h);
	/* 64K run over the end of a table into the next (crossing L1 words). */
	pgt_map_ok(f, 0x030f0000, 0x830f0000, SZ_64K, 2);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x03100008), 0x83100008);

	assert_int_equal(pgt_unmap_sync(f, 0x00402000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x01400000, SZ_1M, 2), 2 * SZ_1M);
	assert_int_equal(pgt_unmap_sync(f, 0x02000000, SZ_16M, 1), SZ_16M);
	assert_int_equal(pgt_unmap_sync(f, 0x030f0000, SZ_64K, 2), 2 * SZ_64K);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4);
	pgt_fx_free(f);
}

/* --- partial unmaps (splits) --- */

static void assert_one_add(struct pgt_fx *f, uint64_t iova, size_t size)
{
	assert_int_equal(f->tlb.nadds, 1);
	assert_int_equal(f->tlb.adds[0].iova, iova);
	assert_int_equal(f->tlb.adds[0].size, size);
}

static void test_split_large_page(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	pgt_map_ok(f, 0x00410000, 0x88870000, SZ_64K, 1);
	phys_addr_t table = l2_table(f, 0x00410000);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x00415000, SZ_4K, 1, &g), SZ_4K);
	/* The whole old 64K leaf is reported: the TLB may hold all of it. */
	assert_one_add(f, 0x00410000, SZ_64K);
	assert_int_equal(g.start, 0x00410000);
	assert_int_equal(g.end, 0x0041ffff);
	assert_int_equal(g.freelist.count, 0);
	/*
	 * Entries 0x10..0x1f become small pages 0x88870000 + k * 4K | 0b10,
	 * entry 0x15 (the hole) a fault.
	 */
	for (unsigned int k = 0; k < 16; k++) {
		uint32_t want = k == 5 ? 0 : (0x88870000 + k * 0x1000) | 0x2;
		assert_int_equal(rd32(f->mem, table + (0x10 + k) * 4), want);
		uint64_t va = 0x00410000 + k * 0x1000 + 0x123;
		assert_int_equal(f->ops->iova_to_phys(f->ops, va), k == 5 ? 0 : want - 2 + 0x123);
	}
	assert_int_equal(table_users(f, table), 15);

	/* 8K at the end of another large page, with attributes kept (be, elsz32). */
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_32;
	pgt_map_ok(f, 0x00420000, 0x88880000, SZ_64K, 1);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x0042e000, SZ_4K, 2, &g), 2 * SZ_4K);
	assert_one_add(f, 0x00420000, SZ_64K);
	for (unsigned int k = 0; k < 16; k++) {
		uint32_t want = k >= 14 ? 0 : (0x88880000 + k * 0x1000) | 0x200 | 0x20 | 0x2;
		assert_int_equal(rd32(f->mem, table + (0x20 + k) * 4), want);
	}
	assert_int_equal(table_users(f, table), 29);
	iommu_put_pages_list(f->mem, &g);

	/* Unmapping the rest as 4K pages, then as 64K over small pages. */
	assert_int_equal(pgt_unmap_sync(f, 0x00420000, SZ_4K, 14), 14 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00410000, SZ_64K, 1), -ENOENT); /* hole at 0x15 */
	assert_int_equal(pgt_unmap_sync(f, 0x00410000, SZ_4K, 5), 5 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00416000, SZ_4K, 10), 10 * SZ_4K);
	assert_int_equal(l1_word(f, 0x00400000), 0);
	pgt_fx_free(f);
}

static void test_split_section(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_32;
	pgt_map_ok(f, 0x00800000, 0x8a500000, SZ_1M, 1);
	size_t free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x00837000, SZ_4K, 1, &g), SZ_4K);
	assert_one_add(f, 0x00800000, SZ_1M);
	assert_int_equal(f->tlb.nwalks, 0);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1); /* one new table */
	/*
	 * The section's attributes (L1: E bit 15, ES 0b10 at 11:10) move to the
	 * L2 positions: E bit 9 = 0x200, ES 0b10 at 5:4 = 0x20. Whole 64K
	 * pieces become large pages (0b01), the piece with the hole (group 3,
	 * entries 0x30..0x3f) small pages (0b10), entry 0x37 a fault.
	 */
	phys_addr_t table = l2_table(f, 0x00800000);
	for (unsigned int i = 0; i < 256; i++) {
		uint32_t want;
		if (i == 0x37)
			want = 0;
		else if (i >> 4 == 3)
			want = (0x8a500000 + i * 0x1000) | 0x220 | 0x2;
		else
			want = (0x8a500000 + (i >> 4) * 0x10000) | 0x220 | 0x1;
		assert_int_equal(rd32(f->mem, table + i * 4), want);
		uint64_t va = 0x00800000 + i * 0x1000 + 0xabc;
		assert_int_equal(f->ops->iova_to_phys(f->ops, va),
				 i == 0x37 ? 0 : 0x8a500000 + i * 0x1000 + 0xabc);
	}
	assert_int_equal(table_users(f, table), 255);

	/* 64K out of another section: one group missing, no small pages. */
	pgt_map_ok(f, 0x00900000, 0x8a600000, SZ_1M, 1);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x00910000, SZ_64K, 1, &g), SZ_64K);
	assert_one_add(f, 0x00900000, SZ_1M);
	table = l2_table(f, 0x00900000);
	for (unsigned int i = 0; i < 256; i++) {
		uint32_t want = i >> 4 == 1 ? 0 : (0x8a600000 + (i >> 4) * 0x10000) | 0x220 | 0x1;
		assert_int_equal(rd32(f->mem, table + i * 4), want);
	}
	assert_int_equal(table_users(f, table), 240);
	iommu_put_pages_list(f->mem, &g);

	/* 64K pages of a whole section, 16 at once: no split, no table. */
	pgt_map_ok(f, 0x00a00000, 0x8a700000, SZ_1M, 1);
	free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap_sync(f, 0x00a00000, SZ_64K, 16), SZ_1M);
	assert_one_add(f, 0x00a00000, SZ_1M);
	assert_int_equal(l1_word(f, 0x00a00000), 0);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	assert_int_equal(pgt_unmap_sync(f, 0x00800000, SZ_1M, 1), -ENOENT); /* the hole */
	assert_int_equal(pgt_unmap_sync(f, 0x00800000, SZ_4K, 0x37), 0x37 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00838000, SZ_4K, 0xc8), 0xc8 * SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00900000, SZ_64K, 1), SZ_64K);
	assert_int_equal(pgt_unmap_sync(f, 0x00920000, SZ_64K, 14), 14 * SZ_64K);
	assert_int_equal(l1_word(f, 0x00800000), 0);
	assert_int_equal(l1_word(f, 0x00900000), 0);
	pgt_fx_free(f);
}

static void test_split_supersection(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_MIXED;
	pgt_map_ok(f, 0x10000000, 0x84000000, SZ_16M, 1);
	size_t free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x10523000, SZ_4K, 1, &g), SZ_4K);
	assert_one_add(f, 0x10000000, SZ_16M);
	assert_int_equal(g.start, 0x10000000);
	assert_int_equal(g.end, 0x10ffffff);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1);
	/*
	 * 15 sections: PA 0x84000000 + i MiB, M bit 17 (0x20000), type 0b10,
	 * bit 18 clear. The 6th MiB (index 0x105) becomes a table: large pages
	 * with M at bit 11 (0x800), 0b01; group 2 small pages (0b10) with
	 * entry 0x23 a fault.
	 */
	for (unsigned int i = 0; i < 16; i++) {
		if (i == 5)
			continue;
		assert_int_equal(l1_word(f, 0x10000000 + i * SZ_1M),
				 (0x84000000 + i * 0x100000) | 0x20000 | 0x2);
	}
	phys_addr_t table = l2_table(f, 0x10500000);
	for (unsigned int i = 0; i < 256; i++) {
		uint32_t want;
		if (i == 0x23)
			want = 0;
		else if (i >> 4 == 2)
			want = (0x84500000 + i * 0x1000) | 0x800 | 0x2;
		else
			want = (0x84500000 + (i >> 4) * 0x10000) | 0x800 | 0x1;
		assert_int_equal(rd32(f->mem, table + i * 4), want);
	}
	assert_int_equal(table_users(f, table), 255);
	for (uint64_t va = 0x10000000; va < 0x11000000; va += 0x3000)
		assert_int_equal(f->ops->iova_to_phys(f->ops, va + 0x10),
				 (va & ~0xfffULL) == 0x10523000 ? 0 : va - 0x10000000 + 0x84000010);

	/* 2 MiB out of another supersection: sections only, nothing allocated. */
	pgt_map_ok(f, 0x12000000, 0x86000000, SZ_16M, 1);
	free_before = ik_mem_free_count(f->mem);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x12200000, SZ_1M, 2, &g), 2 * SZ_1M);
	assert_one_add(f, 0x12000000, SZ_16M);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	for (unsigned int i = 0; i < 16; i++) {
		uint32_t want = (i == 2 || i == 3) ? 0 : (0x86000000 + i * 0x100000) | 0x20000 | 0x2;
		assert_int_equal(l1_word(f, 0x12000000 + i * SZ_1M), want);
	}
	/* A hole across a MiB boundary: two tables, both pieces cut. */
	pgt_map_ok(f, 0x13000000, 0x87000000, SZ_16M, 1);
	free_before = ik_mem_free_count(f->mem);
	assert_int_equal(pgt_unmap(f, 0x131f0000, SZ_64K, 2, &g), 2 * SZ_64K);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 2);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x131ef000), 0x871ef000);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x131f0000), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x1320ffff), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x13210000), 0x87210000);
	assert_int_equal(l2_word(f, 0x131e0000), 0x871e0000 | 0x800 | 0x1);
	assert_int_equal(l2_word(f, 0x13210000), 0x87210000 | 0x800 | 0x1);
	iommu_put_pages_list(f->mem, &g);

	/* 16M unmap over sections and full tables works only when all mapped. */
	assert_int_equal(pgt_unmap_sync(f, 0x10000000, SZ_16M, 1), -ENOENT);
	pgt_map_ok(f, 0x10523000, 0x84523000, SZ_4K, 1);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap_sync(f, 0x10000000, SZ_16M, 1), SZ_16M);
	/* 15 sections + the table's 15 large pages and 16 small pages */
	assert_int_equal(f->tlb.nadds, 15 + 15 + 16);
	assert_int_equal(pgt_unmap_sync(f, 0x12000000, SZ_1M, 2), 2 * SZ_1M);
	assert_int_equal(pgt_unmap_sync(f, 0x12400000, SZ_1M, 12), 12 * SZ_1M);
	assert_int_equal(pgt_unmap_sync(f, 0x13000000, SZ_1M, 1), SZ_1M);
	assert_int_equal(pgt_unmap_sync(f, 0x13100000, SZ_64K, 15), 15 * SZ_64K);
	assert_int_equal(pgt_unmap_sync(f, 0x13210000, SZ_64K, 15), 15 * SZ_64K);
	assert_int_equal(pgt_unmap_sync(f, 0x13300000, SZ_1M, 13), 13 * SZ_1M);
	for (unsigned int i = 0x100; i < 0x140; i++)
		assert_int_equal(rd32(f->mem, f->cfg.omap.ttb + i * 4), 0);
	pgt_fx_free(f);
}

static void test_split_without_memory(void **state)
{
	/* 5 pages: 4 for the L1 table, the fifth taken so the allocator is empty. */
	struct pgt_fx *f = fx_new_mem(0, 5 * SZ_4K);
	struct iommu_iotlb_gather g;
	phys_addr_t last;
	size_t m;
	(void)state;

	assert_int_equal(ik_mem_alloc_pages(f->mem, 1, SZ_4K, &last), 0);
	assert_int_equal(ik_mem_free_count(f->mem), 0);

	pgt_map_ok(f, 0x00300000, 0x81300000, SZ_1M, 1);
	pgt_map_ok(f, 0x01000000, 0x82000000, SZ_16M, 1);
	uint64_t h = tables_hash(f);
	ik_iommu_iotlb_gather_init(&g);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x00345000, SZ_4K, 1, &g), -ENOMEM);
	assert_int_equal(pgt_unmap(f, 0x01345000, SZ_4K, 1, &g), -ENOMEM);
	assert_int_equal(pgt_unmap(f, 0x01340000, SZ_64K, 1, &g), -ENOMEM);
	/* Blocks intact, nothing reported. */
	assert_true(tables_hash(f) == h);
	assert_int_equal(f->tlb.nadds, 0);
	assert_true(g.start > g.end);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00345678), 0x81345678);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01345678), 0x82345678);
	/* A map needing a table fails cleanly too. */
	assert_int_equal(map(f, 0x00500000, 0x80500000, SZ_4K, 1, &m), -ENOMEM);
	assert_int_equal(m, 0);
	assert_true(tables_hash(f) == h);
	/* Whole MiBs of the supersection need no table. */
	assert_int_equal(pgt_unmap(f, 0x01f00000, SZ_1M, 1, &g), SZ_1M);
	assert_int_equal(l1_word(f, 0x01e00000), 0x82e00002);
	assert_int_equal(l1_word(f, 0x01f00000), 0);

	/* With a page back, the split goes through. */
	ik_mem_free_pages(f->mem, last, 1);
	assert_int_equal(pgt_unmap(f, 0x00345000, SZ_4K, 1, &g), SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00345678), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00346678), 0x81346678);
	iommu_put_pages_list(f->mem, &g);
	pgt_fx_free(f);
}

/* --- -ENOENT --- */

static void test_unmap_unmapped(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x00700000, SZ_4K, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x01000000, SZ_16M, 1, &g), -ENOENT);

	/* 255 of 256 pages: a 1M unmap must change nothing. */
	pgt_map_ok(f, 0x00700000, 0x80700000, SZ_4K, 200);
	pgt_map_ok(f, 0x007c9000, 0x807c9000, SZ_4K, 55);
	/* 15 of 16 small pages of a 64K piece, 15 sections of 16. */
	pgt_map_ok(f, 0x03000000, 0x83000000, SZ_1M, 15);
	uint64_t h = tables_hash(f);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x00700000, SZ_1M, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x007c0000, SZ_64K, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x00000000, SZ_16M, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x03000000, SZ_16M, 1, &g), -ENOENT);
	assert_int_equal(pgt_unmap(f, 0x007c8000, SZ_4K, 1, &g), -ENOENT);
	assert_true(tables_hash(f) == h);
	assert_int_equal(f->tlb.nadds, 0);
	assert_true(g.start > g.end);
	assert_int_equal(g.freelist.count, 0);

	/* A run that meets a hole stops there and says how far it got. */
	assert_int_equal(pgt_unmap(f, 0x007c6000, SZ_4K, 4, &g), 2 * SZ_4K);
	assert_int_equal(pgt_unmap(f, 0x03e00000, SZ_1M, 3, &g), SZ_1M);
	pgt_map_ok(f, 0x007c6000, 0x807c6000, SZ_4K, 3);
	/* Now all 256 small pages are there: 1M goes, each leaf reported. */
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x00700000, SZ_1M, 1, &g), SZ_1M);
	assert_int_equal(f->tlb.nadds, 256);
	assert_int_equal(g.freelist.count, 1);
	assert_int_equal(l1_word(f, 0x00700000), 0);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(pgt_unmap_sync(f, 0x03000000, SZ_1M, 14), 14 * SZ_1M);
	pgt_fx_free(f);
}

/* --- table freeing --- */

static void test_tables_freed_through_gather(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct iommu_iotlb_gather g;
	(void)state;

	size_t free_before = ik_mem_free_count(f->mem);
	pgt_map_ok(f, 0x00605000, 0x80605000, SZ_4K, 1);
	pgt_map_ok(f, 0x00606000, 0x80606000, SZ_4K, 1);
	phys_addr_t table = l2_table(f, 0x00600000);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1);
	assert_int_equal(table_users(f, table), 2);

	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x00605000, SZ_4K, 1, &g), SZ_4K);
	assert_int_equal(g.freelist.count, 0); /* one entry left */
	assert_int_equal(table_users(f, table), 1);
	ik_flush_stub_reset(&f->tlb);
	assert_int_equal(pgt_unmap(f, 0x00606000, SZ_4K, 1, &g), SZ_4K);
	/* Emptied: detached, queued on the gather, not yet freed. */
	assert_int_equal(g.freelist.count, 1);
	assert_int_equal(g.freelist.head, table);
	assert_int_equal(l1_word(f, 0x00600000), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x00606000), 0);
	assert_true(pt_table_users(ik_mem_page(f->mem, table)) < 0); /* dead */
	assert_one_add(f, 0x00606000, SZ_4K);
	assert_true(g.start <= 0x00606000 && g.end >= 0x00606fff);
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	/* One call emptying two tables queues both. */
	pgt_map_ok(f, 0x006ff000, 0x806ff000, SZ_4K, 2);
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x006ff000, SZ_4K, 2, &g), 2 * SZ_4K);
	assert_int_equal(g.freelist.count, 2);
	assert_int_equal(l1_word(f, 0x00600000), 0);
	assert_int_equal(l1_word(f, 0x00700000), 0);
	iommu_put_pages_list(f->mem, &g);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	/* A table that becomes empty is replaced by a fresh one on the next map. */
	pgt_map_ok(f, 0x00600000, 0x80600000, SZ_64K, 1);
	assert_int_equal(table_users(f, l2_table(f, 0x00600000)), 16);
	assert_int_equal(pgt_unmap_sync(f, 0x00600000, SZ_64K, 1), SZ_64K);
	assert_int_equal(l1_word(f, 0x00600000), 0);
	pgt_fx_free(f);
}

static void test_keep_tables_quirk(void **state)
{
	struct pgt_fx *f = fx_new(IO_PGTABLE_QUIRK_KEEP_TABLES);
	struct iommu_iotlb_gather g;
	size_t m;
	(void)state;

	size_t free_before = ik_mem_free_count(f->mem);
	pgt_map_ok(f, 0x00605000, 0x80605000, SZ_4K, 3);
	phys_addr_t table = l2_table(f, 0x00600000);
	assert_int_equal(table_users(f, table), 0); /* no counting at all */
	ik_iommu_iotlb_gather_init(&g);
	assert_int_equal(pgt_unmap(f, 0x00605000, SZ_4K, 3, &g), 3 * SZ_4K);
	assert_int_equal(g.freelist.count, 0);
	assert_int_equal(l2_table(f, 0x00600000), table); /* still attached */
	assert_int_equal(ik_mem_free_count(f->mem), free_before - 1);
	/* The next map reuses it. */
	pgt_map_ok(f, 0x00610000, 0x80610000, SZ_64K, 1);
	assert_int_equal(l2_table(f, 0x00600000), table);
	assert_int_equal(table_users(f, table), 0);
	/* A section over a table with an entry is refused... */
	assert_int_equal(map(f, 0x00600000, 0x90600000, SZ_1M, 1, &m), -EEXIST);
	assert_int_equal(pgt_unmap_sync(f, 0x00610000, SZ_4K, 16), SZ_64K);
	/* ...over an empty one it replaces the table after a walk flush. */
	ik_flush_stub_reset(&f->tlb);
	pgt_map_ok(f, 0x00600000, 0x90600000, SZ_1M, 1);
	assert_int_equal(f->tlb.nwalks, 1);
	assert_int_equal(f->tlb.walks[0].iova, 0x00600000);
	assert_int_equal(f->tlb.walks[0].size, SZ_1M);
	assert_int_equal(l1_word(f, 0x00600000), 0x90600002);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);

	/* Same for a supersection over empty tables and empty entries. */
	pgt_map_ok(f, 0x01000000, 0x81000000, SZ_4K, 1);
	pgt_map_ok(f, 0x01f00000, 0x81f00000, SZ_64K, 1);
	assert_int_equal(pgt_unmap_sync(f, 0x01000000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x01f00000, SZ_64K, 1), SZ_64K);
	ik_flush_stub_reset(&f->tlb);
	pgt_map_ok(f, 0x01000000, 0x91000000, SZ_16M, 1);
	assert_int_equal(f->tlb.nwalks, 2);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01f00004), 0x91f00004);
	assert_int_equal(ik_mem_free_count(f->mem), free_before);
	/* Splits work without counting too. */
	assert_int_equal(pgt_unmap_sync(f, 0x01234000, SZ_4K, 1), SZ_4K);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01234000), 0);
	assert_int_equal(f->ops->iova_to_phys(f->ops, 0x01235000), 0x91235000);
	assert_int_equal(table_users(f, l2_table(f, 0x01200000)), 0);
	pgt_fx_free(f); /* frees the kept tables */
}

/* --- dump --- */

static void test_dump(void **state)
{
	struct pgt_fx *f = fx_new(0);
	struct pgt_dump_log log = { .n = 0 };
	(void)state;

	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_NONE;
	pgt_map_ok(f, 0x05000000, 0x85000000, SZ_16M, 1);
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ELSZ_32 | OMAP_MMU_RAM_MIXED;
	pgt_map_ok(f, 0x00300000, 0x81300000, SZ_1M, 1);
	live_cfg(f)->omap.attrs = OMAP_MMU_RAM_ENDIAN_BIG | OMAP_MMU_RAM_ELSZ_16;
	pgt_map_ok(f, 0x00020000, 0x80020000, SZ_64K, 1);
	live_cfg(f)->omap.attrs = 0;
	pgt_map_ok(f, 0x00001000, 0x80001000, SZ_4K, 1);

	assert_int_equal(f->ops->dump(f->ops, pgt_dump_record, &log), 0);
	assert_int_equal(log.n, 4);
	const struct pgt_dump_rec want[] = {
		{ 0x00001000, 0x80001000, SZ_4K, RW, "small le elsz8" },
		{ 0x00020000, 0x80020000, SZ_64K, RW, "large be elsz16" },
		{ 0x00300000, 0x81300000, SZ_1M, RW, "section le elsz32 mixed" },
		{ 0x05000000, 0x85000000, SZ_16M, RW, "supersection le elsznone" },
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

	assert_int_equal(pgt_unmap_sync(f, 0x00000000, SZ_16M, 1), -ENOENT);
	assert_int_equal(pgt_unmap_sync(f, 0x00001000, SZ_4K, 1), SZ_4K);
	assert_int_equal(pgt_unmap_sync(f, 0x00020000, SZ_64K, 1), SZ_64K);
	assert_int_equal(pgt_unmap_sync(f, 0x00300000, SZ_1M, 1), SZ_1M);
	assert_int_equal(pgt_unmap_sync(f, 0x05000000, SZ_16M, 1), SZ_16M);
	pgt_fx_free(f);
}

/* --- randomized against a reference --- */

#define WIN_BASE  0x20000000ULL
#define WIN_PAGES 16384u /* 64 MiB: four supersections */

struct ref_check {
	const uint32_t *ref;
	uint64_t bytes;
	int bad;
};

static int ref_dump_fn(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		       const char *desc)
{
	struct ref_check *c = arg;
	(void)prot;
	(void)desc;
	if (iova < WIN_BASE || iova + size > WIN_BASE + (uint64_t)WIN_PAGES * SZ_4K) {
		c->bad++;
		return 0;
	}
	for (uint64_t o = 0; o < size; o += SZ_4K)
		if (c->ref[(iova + o - WIN_BASE) >> 12] != pa + o)
			c->bad++;
	c->bytes += size;
	return 0;
}

/* Walk every table: translations, counts, dump all agree with @ref. */
static void check_against_ref(struct pgt_fx *f, const uint32_t *ref, uint64_t *rng)
{
	uint64_t mapped = 0;

	for (unsigned int p = 0; p < WIN_PAGES; p++) {
		uint64_t off = ik_test_rand(rng) & 0xfff;
		phys_addr_t got = f->ops->iova_to_phys(f->ops, WIN_BASE + (uint64_t)p * SZ_4K + off);
		if (got != (ref[p] ? ref[p] + off : 0))
			fail_msg("page %#llx: %#llx, want %#llx",
				 (unsigned long long)(WIN_BASE + (uint64_t)p * SZ_4K),
				 (unsigned long long)got, (unsigned long long)ref[p]);
		mapped += ref[p] ? SZ_4K : 0;
	}
	for (unsigned int i = 0; i < 4096; i++) {
		uint32_t e = l1_word(f, (uint64_t)i << 20);
		if ((e & 3) != 1)
			continue;
		int32_t live = 0;
		for (unsigned int k = 0; k < 256; k++)
			live += rd32(f->mem, (e & 0xfffffc00u) + k * 4) != 0;
		assert_int_equal(table_users(f, e & 0xfffffc00u), live);
	}
	struct ref_check c = { ref, 0, 0 };
	assert_int_equal(f->ops->dump(f->ops, ref_dump_fn, &c), 0);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.bytes, mapped);
}

static void test_random_against_reference(void **state)
{
	static const size_t sizes[] = { SZ_4K, SZ_64K, SZ_1M, SZ_16M };
	struct pgt_fx *f = fx_new(0);
	uint32_t *ref = calloc(WIN_PAGES, sizeof(*ref));
	uint8_t *covered = malloc(WIN_PAGES);
	uint64_t rng = ik_test_seed(0x0a11ce5eedULL);
	unsigned int maps = 0, unmaps = 0, eexist = 0, enoent = 0;
	(void)state;

	assert_non_null(ref);
	assert_non_null(covered);
	for (unsigned int op = 0; op < 6000; op++) {
		uint64_t r = ik_test_rand(&rng);
		/* Small pages most often, so tables fill, split and empty. */
		unsigned int si = (r & 7) < 4 ? 0 : (r & 7) < 6 ? 1 : (r & 7) == 6 ? 2 : 3;
		size_t pgsize = sizes[si];
		unsigned int per = (unsigned int)(pgsize >> 12);
		unsigned int slots = WIN_PAGES / per;
		/* Half of the calls are single pages (the fast paths). */
		size_t count = (ik_test_rand(&rng) & 1) ? 1 :
			       1 + (ik_test_rand(&rng) % (si == 0 ? 300 : si == 3 ? 2 : 8));
		if (count > slots)
			count = slots;
		unsigned int first = (unsigned int)(ik_test_rand(&rng) % (slots - count + 1));
		uint64_t iova = WIN_BASE + (uint64_t)first * pgsize;
		bool do_map = ik_test_rand(&rng) & 1;

		if (do_map) {
			uint64_t pa = (0x40000000 + (ik_test_rand(&rng) % 0x80000000)) & ~(pgsize - 1);
			if (pa + count * pgsize > 0x100000000ULL)
				pa -= count * pgsize;
			size_t want = 0, m;
			int want_ret = 0;
			for (size_t i = 0; i < count && !want_ret; i++) {
				unsigned int p0 = (first + (unsigned int)i) * per;
				for (unsigned int k = 0; k < per; k++)
					if (ref[p0 + k])
						want_ret = -EEXIST;
				if (want_ret)
					break;
				for (unsigned int k = 0; k < per; k++)
					ref[p0 + k] = (uint32_t)(pa + i * pgsize + k * SZ_4K);
				want += pgsize;
			}
			int ret = map(f, iova, pa, pgsize, count, &m);
			if (ret != want_ret || m != want)
				fail_msg("op %u: map %#llx +%zu x %zu: %d/%zu, want %d/%zu", op,
					 (unsigned long long)iova, pgsize, count, ret, m, want_ret,
					 want);
			maps++;
			eexist += ret == -EEXIST;
		} else {
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
					    rc->iova + rc->size <= WIN_BASE + WIN_PAGES * SZ_4K);
				memset(&covered[(rc->iova - WIN_BASE) >> 12], 1, rc->size >> 12);
			}
			for (long o = 0; o < ret; o += SZ_4K)
				if (!covered[(iova + (uint64_t)o - WIN_BASE) >> 12])
					fail_msg("op %u: %#llx unmapped but not gathered", op,
						 (unsigned long long)(iova + (uint64_t)o));
			if (ret < 0)
				assert_int_equal(f->tlb.nadds, 0);
			/* Queued tables are dead and detached. */
			phys_addr_t pa = g.freelist.head;
			for (size_t i = 0; i < g.freelist.count; i++) {
				struct ik_page *pg = ik_mem_page(f->mem, pa);
				assert_true(pt_table_users(pg) < 0);
				for (unsigned int l = 0; l < WIN_PAGES / 256; l++)
					assert_int_not_equal(l1_word(f, WIN_BASE + (uint64_t)l * SZ_1M) &
							     0xfffffc00u, pa);
				pa = pg->next;
			}
			iommu_put_pages_list(f->mem, &g);
			unmaps++;
			enoent += ret == -ENOENT;
		}
		if (op % 1000 == 999)
			check_against_ref(f, ref, &rng);
	}
	check_against_ref(f, ref, &rng);
	/* The mix really exercised both outcomes. */
	assert_true(maps > 1000 && unmaps > 1000 && eexist > 50 && enoent > 50);

	/* Tear down page by page: every table comes back through the gather. */
	for (unsigned int p = 0; p < WIN_PAGES; p++)
		if (ref[p])
			assert_int_equal(pgt_unmap_sync(f, WIN_BASE + (uint64_t)p * SZ_4K, SZ_4K, 1), SZ_4K);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(l1_word(f, (uint64_t)i << 20), 0);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0 - 4);
	free(ref);
	free(covered);
	pgt_fx_free(f);
}

/* --- concurrency --- */

#define NTHREADS   4
#define TH_BASE    0x40000000ULL
#define TH_TABLES  4
#define TH_SLOTS   1 /* 2-page slots per thread per table: tables empty often */
#define TH_ROUNDS  4000

struct th_arg {
	struct pgt_fx *f;
	unsigned int id;
	uint64_t seed;
	uint32_t ref[TH_TABLES * TH_SLOTS]; /* pa of the slot's first page, 0: unmapped */
	unsigned long errors, tables_freed, bad_freed;
};

/* Thread @id's slot: two pages; the slots of all threads interleave in each table. */
static uint64_t th_iova(unsigned int id, unsigned int slot)
{
	unsigned int table = slot / TH_SLOTS, k = slot % TH_SLOTS;
	return TH_BASE + (uint64_t)table * SZ_1M +
	       ((uint64_t)(k * NTHREADS + id) * 37 % 128) * 2 * SZ_4K;
}

/* Free the gather's tables after checking they are dead (as a sync would). */
static void th_sync(struct th_arg *a, struct iommu_iotlb_gather *g)
{
	phys_addr_t t = g->freelist.head;

	for (size_t i = 0; i < g->freelist.count; i++) {
		struct ik_page *pg = ik_mem_page(a->f->mem, t);
		/* Killed: the bias is gone. */
		if (pt_table_users(pg) >= 0)
			a->bad_freed++;
		t = pg->next;
	}
	a->tables_freed += g->freelist.count;
	iommu_put_pages_list(a->f->mem, g);
}

static void *th_main(void *p)
{
	struct th_arg *a = p;
	struct io_pgtable_ops *ops = a->f->ops;
	uint64_t rng = a->seed;

	for (unsigned int round = 0; round < TH_ROUNDS; round++) {
		unsigned int slot = (unsigned int)(ik_test_rand(&rng) % (TH_TABLES * TH_SLOTS));
		uint64_t iova = th_iova(a->id, slot);
		/* One call for both pages (general path) or one per page (fast path). */
		bool pair = ik_test_rand(&rng) & 1;
		struct iommu_iotlb_gather g;
		size_t m = 0;

		if (!a->ref[slot]) {
			uint32_t pa = 0x80000000u + ((uint32_t)a->id << 24) + ((uint32_t)slot << 13);
			if (pair) {
				if (ops->map_pages(ops, iova, pa, SZ_4K, 2, RW, 0, &m) || m != 2 * SZ_4K)
					a->errors++;
			} else {
				for (unsigned int k = 0; k < 2; k++)
					if (ops->map_pages(ops, iova + k * SZ_4K, pa + k * SZ_4K, SZ_4K,
							   1, RW, 0, &m) || m != SZ_4K)
						a->errors++;
			}
			a->ref[slot] = pa;
			continue;
		}
		for (unsigned int k = 0; k < 2; k++)
			if (ops->iova_to_phys(ops, iova + k * SZ_4K + 8) != a->ref[slot] + k * SZ_4K + 8)
				a->errors++;
		ik_iommu_iotlb_gather_init(&g);
		if (pair) {
			if (ops->unmap_pages(ops, iova, SZ_4K, 2, &g) != (long)(2 * SZ_4K))
				a->errors++;
		} else {
			for (unsigned int k = 0; k < 2; k++)
				if (ops->unmap_pages(ops, iova + k * SZ_4K, SZ_4K, 1, &g) != (long)SZ_4K)
					a->errors++;
		}
		a->ref[slot] = 0;
		th_sync(a, &g);
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
	assert_true(freed > 10);

	/* Final state: each thread's pages as it left them; counts exact. */
	for (unsigned int i = 0; i < NTHREADS; i++)
		for (unsigned int s = 0; s < TH_TABLES * TH_SLOTS; s++)
			for (unsigned int k = 0; k < 2; k++)
				assert_int_equal(f->ops->iova_to_phys(f->ops, th_iova(i, s) + k * SZ_4K),
						 args[i].ref[s] ? args[i].ref[s] + k * SZ_4K : 0);
	for (unsigned int t = 0; t < TH_TABLES; t++) {
		uint32_t e = l1_word(f, TH_BASE + t * SZ_1M);
		if (!e)
			continue;
		assert_int_equal(e & 3, 1);
		int32_t live = 0;
		for (unsigned int k = 0; k < 256; k++)
			live += rd32(f->mem, (e & 0xfffffc00u) + k * 4) != 0;
		assert_int_equal(table_users(f, e & 0xfffffc00u), live);
	}
	for (unsigned int i = 0; i < NTHREADS; i++)
		for (unsigned int s = 0; s < TH_TABLES * TH_SLOTS; s++)
			if (args[i].ref[s])
				assert_int_equal(pgt_unmap_sync(f, th_iova(i, s), SZ_4K, 2), 2 * SZ_4K);
	pgt_fx_free(f); /* every table page is back: nothing leaked or freed twice */
}

/*
 * Threads unmapping disjoint pages of the same blocks: a supersection, a
 * section and two large pages are split by whichever thread comes first
 * while the others unmap their own pages of them.
 */
#define SB_SUPER   0x20000000ULL
#define SB_SECTION 0x21000000ULL
#define SB_LARGE   0x21100000ULL
#define SB_ROUNDS  60
#define SB_PER     4 /* pages per thread in the supersection */

struct sb_arg {
	struct pgt_fx *f;
	pthread_barrier_t *start, *done;
	unsigned int *ready; /* start line: threads leave it together */
	unsigned int id;
	unsigned long errors;
};

/* The pages thread @id unmaps, @n at most; returns how many. */
static unsigned int sb_pages(unsigned int id, uint64_t *va)
{
	unsigned int n = 0;

	for (unsigned int k = 0; k < SB_PER; k++) /* 97 is odd: distinct mod 4096 */
		va[n++] = SB_SUPER + (uint64_t)((k * NTHREADS + id) * 97 % 4096) * SZ_4K;
	for (unsigned int k = 0; k < 2; k++)
		va[n++] = SB_SECTION + (uint64_t)((k * NTHREADS + id) * 37 % 256) * SZ_4K;
	for (unsigned int k = 0; k < 2; k++)
		va[n++] = SB_LARGE + k * SZ_64K + (uint64_t)id * SZ_4K;
	return n;
}

static void *sb_main(void *p)
{
	struct sb_arg *a = p;
	struct io_pgtable_ops *ops = a->f->ops;
	uint64_t va[SB_PER + 4];
	unsigned int n = sb_pages(a->id, va);

	for (unsigned int round = 0; round < SB_ROUNDS; round++) {
		pthread_barrier_wait(a->start);
		__atomic_add_fetch(a->ready, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(a->ready, __ATOMIC_SEQ_CST) < (round + 1) * NTHREADS)
			sched_yield();
		struct iommu_iotlb_gather g;
		ik_iommu_iotlb_gather_init(&g);
		for (unsigned int i = 0; i < n; i++)
			if (ops->unmap_pages(ops, va[(i + a->id) % n], SZ_4K, 1, &g) != (long)SZ_4K)
				a->errors++;
		iommu_put_pages_list(a->f->mem, &g);
		pthread_barrier_wait(a->done);
	}
	return NULL;
}

/* Unmap whatever is left in [va, end), runs between holes at a time. */
static void sb_teardown(struct pgt_fx *f, uint64_t va, uint64_t end)
{
	while (va < end) {
		long r = pgt_unmap_sync(f, va, SZ_4K, (end - va) / SZ_4K);
		va += r > 0 ? (uint64_t)r : SZ_4K;
	}
}

static void test_threads_split_shared_blocks(void **state)
{
	struct pgt_fx *f = fx_new(0);
	pthread_barrier_t start, done;
	struct sb_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	static uint8_t gone[4096 + 256 + 32];
	unsigned int ready = 0;
	(void)state;

	pthread_barrier_init(&start, NULL, NTHREADS + 1);
	pthread_barrier_init(&done, NULL, NTHREADS + 1);
	memset(gone, 0, sizeof(gone));
	for (unsigned int i = 0; i < NTHREADS; i++) {
		uint64_t va[SB_PER + 4];
		unsigned int n = sb_pages(i, va);
		for (unsigned int k = 0; k < n; k++)
			gone[(va[k] - SB_SUPER) >> 12 < 4096 ? (va[k] - SB_SUPER) >> 12 :
			     4096 + ((va[k] - SB_SECTION) >> 12)] = 1;
		args[i] = (struct sb_arg){
			.f = f, .start = &start, .done = &done, .ready = &ready, .id = i,
		};
		assert_int_equal(pthread_create(&th[i], NULL, sb_main, &args[i]), 0);
	}
	for (unsigned int round = 0; round < SB_ROUNDS; round++) {
		pgt_map_ok(f, SB_SUPER, 0x90000000, SZ_16M, 1);
		pgt_map_ok(f, SB_SECTION, 0x91000000, SZ_1M, 1);
		pgt_map_ok(f, SB_LARGE, 0x91100000, SZ_64K, 2);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);

		/* Exactly the threads' pages are gone; the rest is as mapped. */
		for (unsigned int i = 0; i < 4096 + 256 + 32; i++) {
			uint64_t va = i < 4096 ? SB_SUPER + (uint64_t)i * SZ_4K :
					     SB_SECTION + (uint64_t)(i - 4096) * SZ_4K;
			uint64_t pa = (i < 4096 ? 0x90000000 : 0x91000000) +
				      (i < 4096 ? i : i - 4096) * SZ_4K;
			assert_int_equal(f->ops->iova_to_phys(f->ops, va + 4), gone[i] ? 0 : pa + 4);
		}
		for (uint64_t va = SB_SUPER; va < SB_LARGE + SZ_1M; va += SZ_1M) {
			uint32_t e = l1_word(f, va);
			if ((e & 3) != 1)
				continue;
			int32_t live = 0;
			for (unsigned int k = 0; k < 256; k++)
				live += rd32(f->mem, (e & 0xfffffc00u) + k * 4) != 0;
			assert_int_equal(table_users(f, e & 0xfffffc00u), live);
		}
		sb_teardown(f, SB_SUPER, SB_LARGE + SZ_1M);
		for (uint64_t va = SB_SUPER; va < SB_LARGE + SZ_1M; va += SZ_1M)
			assert_int_equal(l1_word(f, va), 0);
	}
	for (unsigned int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].errors, 0);
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	pgt_fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_factory_rejects_bad_config),
		cmocka_unit_test(test_map_rejects_bad_arguments),
		cmocka_unit_test(test_golden_small_page),
		cmocka_unit_test(test_golden_large_page),
		cmocka_unit_test(test_golden_section),
		cmocka_unit_test(test_golden_supersection),
		cmocka_unit_test(test_golden_attributes),
		cmocka_unit_test(test_map_overlaps),
		cmocka_unit_test(test_split_large_page),
		cmocka_unit_test(test_split_section),
		cmocka_unit_test(test_split_supersection),
		cmocka_unit_test(test_split_without_memory),
		cmocka_unit_test(test_unmap_unmapped),
		cmocka_unit_test(test_tables_freed_through_gather),
		cmocka_unit_test(test_keep_tables_quirk),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_threads_share_tables),
		cmocka_unit_test(test_threads_split_shared_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
