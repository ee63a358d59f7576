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
#include "bench_pgtable.h"
#include "ik/mem.h"

#define IOVA     0x40001000ULL  /* misaligned to 2 MiB: forces 4 KiB leaves */
#define PADDR    0x880002000ULL /* (iova ^ paddr) & (2M - 1) != 0 */
#define RAM_BASE 0x880000000ULL /* above 4 GiB, as the "smmu" machine's DRAM */
#define RAM_SIZE (64ULL << 20)  /* tables only: 1 GiB of pages needs ~2 MiB */

int main(int argc, char **argv)
{
	/* Targets: Linux 6.1's LPAE code measured on these machines. */
	static const double targets[5] = { 11, 9, 6, 1, 2.5 };
	const struct ik_region_desc ram = { "ram", RAM_BASE, RAM_SIZE };
	const struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = IK_SZ_4K | IK_SZ_2M | IK_SZ_1G, .ias = 48, .oas = 48,
	};
	struct io_pgtable_cfg keep = cfg;
	int reps = 7;
	bool json = false;

	if (!bench_parse_args(argc, argv, &reps, &json))
		return 2;
	struct ik_mem *mem = ik_sim_mem_create(&ram, 1);
	if (!mem) {
		perror("memory");
		return 1;
	}
	keep.quirks = IO_PGTABLE_QUIRK_KEEP_TABLES;
	pgb_baselines(reps);
	pgb_format(ARM_64_LPAE_S1, cfg, mem, IOVA, PADDR, reps, "", targets);
	pgb_format(ARM_64_LPAE_S1, keep, mem, IOVA, PADDR, reps, " (keep tables)", targets);
	ik_mem_destroy(mem);

	const struct ik_machine_desc *desc = ik_machine_desc_builtin("smmu");
	struct ik_machine *m = desc ? ik_machine_create(desc) : NULL;
	if (!m) {
		perror("smmu machine");
		return 1;
	}
	pgb_core(m, "gpu", IOVA, PADDR, reps);
	ik_machine_destroy(m);
	pgb_print("Arm LPAE page tables, ns per 4 KiB page (1 GiB = 262144 pages)", reps, json);
	return 0;
}
