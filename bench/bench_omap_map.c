// SPDX-License-Identifier: MIT
/*
 * Map/unmap/iova_to_phys cost of the OMAP page-table format, on its own and
 * through the generic core on a domain attached to the OMAP3 ISP's MMU
 * model (bench_pgtable.h says what is measured). The format runs both as
 * the driver uses it (emptied tables freed, one atomic per table per call)
 * and with IO_PGTABLE_QUIRK_KEEP_TABLES (Linux's behaviour).
 *
 * usage: bench_omap_map [--reps N] [--json]
 */
#include "bench_pgtable.h"

#define IOVA  0x40001000ULL /* misaligned to 64 KiB: forces 4 KiB leaves */
#define PADDR 0x80002000ULL /* (iova ^ paddr) & 0xffff != 0 */

int main(int argc, char **argv)
{
	/* Targets: Linux 6.1's ARM page-table code measured on these machines. */
	static const double targets[5] = { 11, 9, 6, 0, 0 };
	const struct io_pgtable_cfg cfg = { .pgsize_bitmap = 0x1111000, .ias = 32, .oas = 32 };
	struct io_pgtable_cfg keep = cfg;
	int reps = 7;
	bool json = false;

	if (!bench_parse_args(argc, argv, &reps, &json))
		return 2;
	struct ik_machine *m = ik_machine_create_default();
	if (!m) {
		perror("machine");
		return 1;
	}
	keep.quirks = IO_PGTABLE_QUIRK_KEEP_TABLES;
	pgb_baselines(reps);
	pgb_format(OMAP_IOMMU_PGTABLE, cfg, ik_machine_mem(m), IOVA, PADDR, reps, "", targets);
	pgb_format(OMAP_IOMMU_PGTABLE, keep, ik_machine_mem(m), IOVA, PADDR, reps,
		   " (keep tables)", targets);
	pgb_core(m, "isp", IOVA, PADDR, reps);
	ik_machine_destroy(m);
	pgb_print("OMAP page tables, ns per 4 KiB page (1 GiB = 262144 pages)", reps, json);
	return 0;
}
