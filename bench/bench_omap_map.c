// SPDX-License-Identifier: MIT
/*
 * Map/unmap/iova_to_phys cost of the OMAP page-table format, on its own and
 * through the generic core on a domain attached to the OMAP3 ISP's MMU
 * model (bench_pgtable.h says what is measured). The format runs as the
 * driver uses it on the non-coherent OMAP3 (emptied tables freed, one atomic
 * per table per call, every table write cleaned from the modelled CPU
 * cache), then on a coherent twin of that machine (no CPU cache model: the
 * format's own cost, which the targets are about, as Linux's code was
 * measured on plain memory), there also with IO_PGTABLE_QUIRK_KEEP_TABLES
 * (Linux's behaviour).
 * The core rows go through the driver, so they compare with the first.
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
	static const double none[5] = { 0 };
	const struct io_pgtable_cfg cfg = { .pgsize_bitmap = 0x1111000, .ias = 32, .oas = 32 };
	struct io_pgtable_cfg coherent = cfg, keep = cfg;
	int reps = 7;
	bool json = false;

	if (!bench_parse_args(argc, argv, &reps, &json))
		return 2;
	struct ik_machine *m = ik_machine_create_default();
	struct ik_machine_desc twin = *ik_machine_desc_builtin("omap3");

	twin.flags &= ~IK_MACHINE_NONCOHERENT;
	struct ik_machine *mc = ik_machine_create(&twin);
	if (!m || !mc) {
		perror("machine");
		return 1;
	}
	coherent.coherent_walk = true;
	keep.coherent_walk = true;
	keep.quirks = IO_PGTABLE_QUIRK_KEEP_TABLES;
	pgb_baselines(reps);
	pgb_format(OMAP_IOMMU_PGTABLE, cfg, ik_machine_mem(m), IOVA, PADDR, reps, "", none);
	pgb_format(OMAP_IOMMU_PGTABLE, coherent, ik_machine_mem(mc), IOVA, PADDR, reps,
		   " (coherent)", targets);
	pgb_format(OMAP_IOMMU_PGTABLE, keep, ik_machine_mem(mc), IOVA, PADDR, reps,
		   " (coherent, keep tables)", targets);
	pgb_core(m, "isp", IOVA, PADDR, reps);
	ik_machine_destroy(m);
	ik_machine_destroy(mc);
	pgb_print("OMAP page tables, ns per 4 KiB page (1 GiB = 262144 pages)", reps, json);
	return 0;
}
