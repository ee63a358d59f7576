/* SPDX-License-Identifier: MIT */
/*
 * The page-table benchmark every format runs, in ns per 4 KiB page:
 *   - baselines: a plain 64-bit store per page, and a store plus an atomic
 *     add (what counting a table's entries costs);
 *   - the format on its own: map, iova_to_phys and unmap one page per call
 *     over 1 GiB, then 1 GiB in one call (iova and paddr misaligned so that
 *     every leaf is 4 KiB), with a stub that only gathers;
 *   - through the core on a domain attached to a device behind the IOMMU
 *     model: the same, with unmap with and without the IOTLB flush per call.
 */
#ifndef IK_BENCH_PGTABLE_H
#define IK_BENCH_PGTABLE_H

#include <iommukit/iommukit.h>
#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"
#include "bench.h"

#define PGB_NPAGES (1u << 18) /* 1 GiB of 4 KiB pages */
#define PGB_PG     0x1000UL
#define PGB_RW     (IOMMU_READ | IOMMU_WRITE)

static volatile uint64_t pgb_sink;

static void pgb_nop_flush_all(void *cookie)
{
	(void)cookie;
}

static void pgb_nop_flush_walk(dma_addr_t iova, size_t size, size_t granule, void *cookie)
{
	(void)iova, (void)size, (void)granule, (void)cookie;
}

/* Gather the range as a driver would, without any invalidation behind it. */
static void pgb_gather_add(struct iommu_iotlb_gather *g, dma_addr_t iova, size_t granule,
			   void *cookie)
{
	(void)cookie;
	if (iova < g->start)
		g->start = iova;
	if (iova + granule - 1 > g->end)
		g->end = iova + granule - 1;
	g->pgsize = granule;
}

static const struct iommu_flush_ops pgb_flush_ops = {
	.tlb_flush_all = pgb_nop_flush_all,
	.tlb_flush_walk = pgb_nop_flush_walk,
	.tlb_add_page = pgb_gather_add,
};

static inline void pgb_baselines(int reps)
{
	uint64_t *words = calloc(PGB_NPAGES, sizeof(*words));
	double store[BENCH_MAX_REPS], atom[BENCH_MAX_REPS];

	if (!words)
		exit(1);
	for (int r = 0; r < reps; r++) {
		double t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			__atomic_store_n(&words[i], ((uint64_t)i << 12) | 3, __ATOMIC_RELAXED);
		store[r] = (bench_now_ns() - t) / PGB_NPAGES;
		int32_t counter = 0;
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++) {
			__atomic_store_n(&words[i], 0, __ATOMIC_RELAXED);
			__atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
		}
		atom[r] = (bench_now_ns() - t) / PGB_NPAGES;
		pgb_sink += (uint64_t)counter;
	}
	bench_record("baseline: plain store per page", "ns/page", store, reps, 0);
	bench_record("baseline: store + atomic add per page", "ns/page", atom, reps, 0);
	free(words);
}

/*
 * The format @fmt as @cfg configures it (tlb and mem are filled in here),
 * at @iova -> @paddr; @targets for map, unmap, iova_to_phys per page and
 * map, unmap of 1 GiB per call (0: none); @tag goes into the names.
 */
static inline void pgb_format(enum io_pgtable_fmt fmt, struct io_pgtable_cfg cfg,
			      struct ik_mem *mem, uint64_t iova, uint64_t paddr, int reps,
			      const char *tag, const double targets[5])
{
	double map1[BENCH_MAX_REPS], unmap1[BENCH_MAX_REPS], xlate[BENCH_MAX_REPS],
		mapbig[BENCH_MAX_REPS], unmapbig[BENCH_MAX_REPS];
	struct io_pgtable_ops *ops;

	cfg.tlb = &pgb_flush_ops;
	cfg.mem = mem;
	ops = alloc_io_pgtable_ops(fmt, &cfg, NULL);
	if (!ops) {
		perror("alloc_io_pgtable_ops");
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		struct iommu_iotlb_gather g;
		size_t mapped;
		double t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			if (ops->map_pages(ops, iova + i * PGB_PG, paddr + i * PGB_PG, PGB_PG, 1,
					   PGB_RW, GFP_KERNEL, &mapped))
				exit(2);
		map1[r] = (bench_now_ns() - t) / PGB_NPAGES;

		uint64_t acc = 0;
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			acc += ops->iova_to_phys(ops, iova + i * PGB_PG + 8);
		xlate[r] = (bench_now_ns() - t) / PGB_NPAGES;
		pgb_sink += acc;

		ik_iommu_iotlb_gather_init(&g);
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			if (ops->unmap_pages(ops, iova + i * PGB_PG, PGB_PG, 1, &g) != (long)PGB_PG)
				exit(3);
		unmap1[r] = (bench_now_ns() - t) / PGB_NPAGES;
		iommu_put_pages_list(mem, &g);

		t = bench_now_ns();
		if (ops->map_pages(ops, iova, paddr, PGB_PG, PGB_NPAGES, PGB_RW, GFP_KERNEL,
				   &mapped) || mapped != PGB_NPAGES * PGB_PG)
			exit(4);
		mapbig[r] = (bench_now_ns() - t) / PGB_NPAGES;
		ik_iommu_iotlb_gather_init(&g);
		t = bench_now_ns();
		if (ops->unmap_pages(ops, iova, PGB_PG, PGB_NPAGES, &g) !=
		    (long)(PGB_NPAGES * PGB_PG))
			exit(5);
		unmapbig[r] = (bench_now_ns() - t) / PGB_NPAGES;
		iommu_put_pages_list(mem, &g);
	}
	free_io_pgtable_ops(ops);

	static const char *const what[5] = { "map 4K/call", "unmap 4K/call", "iova_to_phys",
					     "map 1G/call", "unmap 1G/call" };
	double *v[5] = { map1, unmap1, xlate, mapbig, unmapbig };
	for (int k = 0; k < 5; k++) {
		char name[64];
		snprintf(name, sizeof(name), "format%s: %s", tag, what[k]);
		bench_record(name, "ns/page", v[k], reps, targets[k]);
	}
}

/* The same through the core, on a domain attached to @devname of @m. */
static inline void pgb_core(struct ik_machine *m, const char *devname, uint64_t iova,
			    uint64_t paddr, int reps)
{
	struct device *dev = ik_machine_device(m, devname);
	struct iommu_domain *d = dev ? iommu_paging_domain_alloc(dev) : NULL;
	double map1[BENCH_MAX_REPS], unmap_flush[BENCH_MAX_REPS], unmap_fast[BENCH_MAX_REPS],
		xlate[BENCH_MAX_REPS], mapbig[BENCH_MAX_REPS], unmapbig[BENCH_MAX_REPS];
	const size_t all = PGB_NPAGES * PGB_PG;

	if (!d || iommu_attach_device(d, dev)) {
		fprintf(stderr, "domain setup on %s failed\n", devname);
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		double t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			if (iommu_map(d, iova + i * PGB_PG, paddr + i * PGB_PG, PGB_PG, PGB_RW,
				      GFP_KERNEL))
				exit(6);
		map1[r] = (bench_now_ns() - t) / PGB_NPAGES;

		uint64_t acc = 0;
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			acc += iommu_iova_to_phys(d, iova + i * PGB_PG + 8);
		xlate[r] = (bench_now_ns() - t) / PGB_NPAGES;
		pgb_sink += acc;

		/* Without the flush per call: gather everything, sync once. */
		struct iommu_iotlb_gather g;
		iommu_iotlb_gather_init(&g);
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			if (iommu_unmap_fast(d, iova + i * PGB_PG, PGB_PG, &g) != PGB_PG)
				exit(7);
		iommu_iotlb_sync(d, &g);
		unmap_fast[r] = (bench_now_ns() - t) / PGB_NPAGES;

		/* With the flush: each unmap invalidates its page in the IOTLB. */
		if (iommu_map(d, iova, paddr, all, PGB_RW, GFP_KERNEL))
			exit(8);
		t = bench_now_ns();
		for (uint32_t i = 0; i < PGB_NPAGES; i++)
			if (iommu_unmap(d, iova + i * PGB_PG, PGB_PG) != PGB_PG)
				exit(9);
		unmap_flush[r] = (bench_now_ns() - t) / PGB_NPAGES;

		t = bench_now_ns();
		if (iommu_map(d, iova, paddr, all, PGB_RW, GFP_KERNEL))
			exit(10);
		mapbig[r] = (bench_now_ns() - t) / PGB_NPAGES;
		t = bench_now_ns();
		if (iommu_unmap(d, iova, all) != all)
			exit(11);
		unmapbig[r] = (bench_now_ns() - t) / PGB_NPAGES;
	}
	bench_record("core: map 4K/call", "ns/page", map1, reps, 0);
	bench_record("core: unmap 4K/call, no flush", "ns/page", unmap_fast, reps, 0);
	bench_record("core: unmap 4K/call + IOTLB flush", "ns/page", unmap_flush, reps, 0);
	bench_record("core: iova_to_phys", "ns/page", xlate, reps, 0);
	bench_record("core: map 1G/call", "ns/page", mapbig, reps, 0);
	bench_record("core: unmap 1G/call + IOTLB flush", "ns/page", unmapbig, reps, 0);
	iommu_detach_device(d, dev);
	iommu_domain_free(d);
}

/* The core's overhead over the format, per operation (text output only). */
static inline void pgb_print(const char *title, int reps, bool json)
{
	static const char *const pairs[][2] = {
		{ "core: map 4K/call", "format: map 4K/call" },
		{ "core: unmap 4K/call, no flush", "format: unmap 4K/call" },
		{ "core: iova_to_phys", "format: iova_to_phys" },
		{ "core: map 1G/call", "format: map 1G/call" },
	};

	bench_print(title, reps, json);
	if (!json)
		bench_print_overhead(pairs, 4, 50);
}

#endif /* IK_BENCH_PGTABLE_H */
