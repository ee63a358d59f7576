// SPDX-License-Identifier: MIT
/*
 * Map/unmap/iova_to_phys cost of the Arm LPAE stage-1 page-table format,
 * and of the same operations through the generic core on a domain of the
 * "smmu" machine's SMMUv2, in ns per 4 KiB page:
 *   - one page per call, over 1 GiB of IOVA;
 *   - 1 GiB in one call, with iova and paddr misaligned to 2 MiB so that
 *     every leaf is a 4 KiB page;
 *   - the format with live-entry counting (emptied tables are freed) and
 *     with IO_PGTABLE_QUIRK_KEEP_TABLES (no counting, Linux's behaviour);
 *   - through the core, unmap with the IOTLB flush per call (iommu_unmap)
 *     and without it (iommu_unmap_fast, one sync at the end).
 * Baselines measured in the same run: a plain 64-bit store per page and an
 * atomic add per page, to read the figures against this machine's speed.
 * Every figure is the median of --reps runs.
 *
 * usage: bench_lpae_map [--reps N] [--json]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iommukit/iommukit.h>
#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"
#include "ik/mem.h"

#define NPAGES   (1u << 18) /* 1 GiB of 4 KiB pages */
#define PG       0x1000UL
#define IOVA     0x40001000ULL  /* misaligned to 2 MiB: forces 4 KiB leaves */
#define PADDR    0x880002000ULL /* (iova ^ paddr) & (2M - 1) != 0 */
#define RAM_BASE 0x880000000ULL /* above 4 GiB, as the "smmu" machine's DRAM */
#define RAM_SIZE (64ULL << 20)  /* tables only: 1 GiB of pages needs ~2 MiB */
#define RW       (IOMMU_READ | IOMMU_WRITE)

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- the format on its own --- */

static void nop_flush_all(void *cookie)
{
	(void)cookie;
}

static void nop_flush_walk(dma_addr_t iova, size_t size, size_t granule, void *cookie)
{
	(void)iova, (void)size, (void)granule, (void)cookie;
}

/* Gather the range as a driver would, without any invalidation behind it. */
static void gather_add(struct iommu_iotlb_gather *g, dma_addr_t iova, size_t granule,
		       void *cookie)
{
	(void)cookie;
	if (iova < g->start)
		g->start = iova;
	if (iova + granule - 1 > g->end)
		g->end = iova + granule - 1;
	g->pgsize = granule;
}

static const struct iommu_flush_ops bench_flush_ops = {
	.tlb_flush_all = nop_flush_all,
	.tlb_flush_walk = nop_flush_walk,
	.tlb_add_page = gather_add,
};

struct result {
	char name[64];
	double ns_per_page;
	double target; /* 0: none */
};

#define MAX_RESULTS 32
#define MAX_REPS    64
static struct result results[MAX_RESULTS];
static int nr_results;

static void record(const char *name, double *samples, int reps, double target)
{
	struct result *r = &results[nr_results++];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->ns_per_page = median(samples, reps);
	r->target = target;
}

static volatile uint64_t sink;

static void bench_baselines(int reps)
{
	uint64_t *words = calloc(NPAGES, sizeof(*words));
	double store[MAX_REPS], atom[MAX_REPS];

	if (!words)
		exit(1);
	for (int r = 0; r < reps; r++) {
		double t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			__atomic_store_n(&words[i], ((uint64_t)i << 12) | 3, __ATOMIC_RELAXED);
		store[r] = (now_ns() - t) / NPAGES;
		int32_t counter = 0;
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++) {
			__atomic_store_n(&words[i], 0, __ATOMIC_RELAXED);
			__atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
		}
		atom[r] = (now_ns() - t) / NPAGES;
		sink += (uint64_t)counter;
	}
	record("baseline: plain store per page", store, reps, 0);
	record("baseline: store + atomic add per page", atom, reps, 0);
	free(words);
}

static void bench_format(struct ik_mem *mem, int reps, unsigned long quirks, const char *tag)
{
	double map1[MAX_REPS], unmap1[MAX_REPS], xlate[MAX_REPS], mapbig[MAX_REPS],
		unmapbig[MAX_REPS];
	struct io_pgtable_cfg cfg = {
		.quirks = quirks,
		.pgsize_bitmap = IK_SZ_4K | IK_SZ_2M | IK_SZ_1G,
		.ias = 48, .oas = 48,
		.tlb = &bench_flush_ops,
		.mem = mem,
	};
	struct io_pgtable_ops *ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, NULL);

	if (!ops) {
		perror("alloc_io_pgtable_ops");
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		struct iommu_iotlb_gather g;
		size_t mapped;
		double t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			if (ops->map_pages(ops, IOVA + i * PG, PADDR + i * PG, PG, 1, RW,
					   GFP_KERNEL, &mapped))
				exit(2);
		map1[r] = (now_ns() - t) / NPAGES;

		uint64_t acc = 0;
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			acc += ops->iova_to_phys(ops, IOVA + i * PG + 8);
		xlate[r] = (now_ns() - t) / NPAGES;
		sink += acc;

		ik_iommu_iotlb_gather_init(&g);
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			if (ops->unmap_pages(ops, IOVA + i * PG, PG, 1, &g) != (long)PG)
				exit(3);
		unmap1[r] = (now_ns() - t) / NPAGES;
		iommu_put_pages_list(mem, &g);

		t = now_ns();
		if (ops->map_pages(ops, IOVA, PADDR, PG, NPAGES, RW, GFP_KERNEL, &mapped) ||
		    mapped != NPAGES * PG)
			exit(4);
		mapbig[r] = (now_ns() - t) / NPAGES;
		ik_iommu_iotlb_gather_init(&g);
		t = now_ns();
		if (ops->unmap_pages(ops, IOVA, PG, NPAGES, &g) != (long)(NPAGES * PG))
			exit(5);
		unmapbig[r] = (now_ns() - t) / NPAGES;
		iommu_put_pages_list(mem, &g);
	}
	free_io_pgtable_ops(ops);

	static const char *const what[5] = { "map 4K/call", "unmap 4K/call", "iova_to_phys",
					     "map 1G/call", "unmap 1G/call" };
	static const double tg[5] = { 11, 9, 6, 1, 2.5 };
	double *v[5] = { map1, unmap1, xlate, mapbig, unmapbig };
	for (int k = 0; k < 5; k++) {
		char name[64];
		snprintf(name, sizeof(name), "format%s: %s", tag, what[k]);
		record(name, v[k], reps, tg[k]);
	}
}

static void bench_core(struct ik_machine *m, int reps)
{
	struct device *dev = ik_machine_device(m, "gpu");
	struct iommu_domain *d = dev ? iommu_paging_domain_alloc(dev) : NULL;
	double map1[MAX_REPS], unmap_flush[MAX_REPS], unmap_fast[MAX_REPS], xlate[MAX_REPS],
		mapbig[MAX_REPS], unmapbig[MAX_REPS];

	if (!d || iommu_attach_device(d, dev)) {
		fprintf(stderr, "domain setup failed\n");
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		double t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			if (iommu_map(d, IOVA + i * PG, PADDR + i * PG, PG, RW, GFP_KERNEL))
				exit(6);
		map1[r] = (now_ns() - t) / NPAGES;

		uint64_t acc = 0;
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			acc += iommu_iova_to_phys(d, IOVA + i * PG + 8);
		xlate[r] = (now_ns() - t) / NPAGES;
		sink += acc;

		/* Without the flush per call: gather everything, sync once. */
		struct iommu_iotlb_gather g;
		iommu_iotlb_gather_init(&g);
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			if (iommu_unmap_fast(d, IOVA + i * PG, PG, &g) != PG)
				exit(7);
		iommu_iotlb_sync(d, &g);
		unmap_fast[r] = (now_ns() - t) / NPAGES;

		/* With the flush: each unmap invalidates its page in the IOTLB. */
		if (iommu_map(d, IOVA, PADDR, NPAGES * PG, RW, GFP_KERNEL))
			exit(8);
		t = now_ns();
		for (uint32_t i = 0; i < NPAGES; i++)
			if (iommu_unmap(d, IOVA + i * PG, PG) != PG)
				exit(9);
		unmap_flush[r] = (now_ns() - t) / NPAGES;

		t = now_ns();
		if (iommu_map(d, IOVA, PADDR, NPAGES * PG, RW, GFP_KERNEL))
			exit(10);
		mapbig[r] = (now_ns() - t) / NPAGES;
		t = now_ns();
		if (iommu_unmap(d, IOVA, NPAGES * PG) != NPAGES * PG)
			exit(11);
		unmapbig[r] = (now_ns() - t) / NPAGES;
	}
	record("core: map 4K/call", map1, reps, 0);
	record("core: unmap 4K/call, no flush", unmap_fast, reps, 0);
	record("core: unmap 4K/call + IOTLB flush", unmap_flush, reps, 0);
	record("core: iova_to_phys", xlate, reps, 0);
	record("core: map 1G/call", mapbig, reps, 0);
	record("core: unmap 1G/call + IOTLB flush", unmapbig, reps, 0);
	iommu_detach_device(d, dev);
	iommu_domain_free(d);
}

static const struct result *find(const char *name)
{
	for (int i = 0; i < nr_results; i++)
		if (!strcmp(results[i].name, name))
			return &results[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct ik_region_desc ram = { "ram", RAM_BASE, RAM_SIZE };
	int reps = 7;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "usage: %s [--reps N (1-%d)] [--json]\n", argv[0],
				MAX_REPS);
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "--reps must be 1..%d\n", MAX_REPS);
		return 2;
	}

	struct ik_mem *mem = ik_sim_mem_create(&ram, 1);
	if (!mem) {
		perror("memory");
		return 1;
	}
	bench_baselines(reps);
	bench_format(mem, reps, 0, "");
	bench_format(mem, reps, IO_PGTABLE_QUIRK_KEEP_TABLES, " (keep tables)");
	ik_mem_destroy(mem);

	const struct ik_machine_desc *desc = ik_machine_desc_builtin("smmu");
	struct ik_machine *m = desc ? ik_machine_create(desc) : NULL;
	if (!m) {
		perror("smmu machine");
		return 1;
	}
	bench_core(m, reps);
	ik_machine_destroy(m);

	/* The core's overhead over the format, per operation. */
	static const char *const pairs[][2] = {
		{ "core: map 4K/call", "format: map 4K/call" },
		{ "core: unmap 4K/call, no flush", "format: unmap 4K/call" },
		{ "core: iova_to_phys", "format: iova_to_phys" },
		{ "core: map 1G/call", "format: map 1G/call" },
	};

	if (json) {
		printf("{\n  \"reps\": %d,\n  \"results\": [\n", reps);
		for (int i = 0; i < nr_results; i++)
			printf("    {\"name\": \"%s\", \"ns_per_page\": %.3f, "
			       "\"target\": %.1f}%s\n", results[i].name, results[i].ns_per_page,
			       results[i].target, i + 1 < nr_results ? "," : "");
		printf("  ]\n}\n");
		return 0;
	}
	printf("Arm LPAE page tables, ns per 4 KiB page (median of %d runs; 1 GiB = %u pages)\n\n",
	       reps, NPAGES);
	printf("%-44s %10s %10s\n", "operation", "ns/page", "target");
	for (int i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];
		char tg[24] = "";
		if (r->target)
			snprintf(tg, sizeof(tg), "< %.1f %s", r->target,
				 r->ns_per_page < r->target ? "ok" : "MISS");
		printf("%-44s %10.2f %10s\n", r->name, r->ns_per_page, tg);
	}
	printf("\ncore overhead over the format:\n");
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct result *c = find(pairs[i][0]), *f = find(pairs[i][1]);
		if (c && f && f->ns_per_page > 0)
			printf("  %-42s %+7.1f%%\n", pairs[i][0],
			       100.0 * (c->ns_per_page - f->ns_per_page) / f->ns_per_page);
	}
	return 0;
}
