// SPDX-License-Identifier: MIT
/*
 * Built-in machine descriptions.
 *
 * "omap3" (the default) is modelled on a TI OMAP35x SoC (the OMAP3 family
 * shares these facts; sources below):
 *  - SDRAM at 0x80000000, the base of SDRC chip-select 0, which the TRM
 *    says is always 0x8000_0000 (OMAP36xx TRM SWPU177N, section 2.2
 *    "Global Memory Space Mapping"). 512 MiB, as on a BeagleBoard-xM:
 *    one region here for what is CS0 followed by CS1 on the board.
 *  - The camera ISP's MMU (MMU1) with registers at 0x480bd400 and
 *    interrupt 24, and the IVA2.2 (DSP) MMU (MMU2) at 0x5d000000 with
 *    interrupt 28: Linux's arch/arm/mach-omap2/omap-iommu.c
 *    (OMAP3_MMU1_BASE/IRQ, OMAP3_MMU2_BASE/IRQ) and the ti,omap-iommu
 *    device-tree binding's OMAP3 ISP MMU example (reg 0x480bd400,
 *    interrupts 24). TLB entries: 8 for MMU1 and 32 for MMU2 (TRM table
 *    15-7 "Design Parameters of the MMU Instances"; Linux's
 *    nr_tlb_entries for "isp" and "iva2" agree). Both "ti,omap2-iommu".
 *  - DMA masters: the ISP behind MMU1, the IVA2.2 DSP behind MMU2, and
 *    the system DMA controller (sDMA), which sees physical addresses
 *    directly. Each MMU serves a single master, source ID 0.
 *  - DMA is not coherent with the CPU's caches (OMAP3 has no coherency
 *    port: Linux's omap2plus platforms do cache maintenance for every
 *    streaming DMA mapping), so the machine is IK_MACHINE_NONCOHERENT.
 *    The modelled cache has the Cortex-A8 L2's geometry: 64-byte lines,
 *    8 ways (Cortex-A8 TRM, ARM DDI 0344, chapters 7 "Level 1 Memory
 *    System" and 8 "Level 2 Memory System"), 256 KiB, the L2 size of the
 *    OMAP35x parts (TI Embedded Processors Wiki, "Cortex-A8 Features":
 *    "integrated, 256 KB unified L2 cache").
 *
 * "smmu" is modelled on the memory map of the Arm Juno development
 * platform, with its GPU SMMU (an MMU-400, SMMUv1, on the board) replaced
 * by an SMMUv2 as in MMU-500 designs (the model: src/hw/arm_smmu.c):
 *  - DRAM: 2 GiB at 0x8_8000_0000, the start of Juno's second DRAM bank
 *    (juno-base.dtsi: memory@80000000 has <0x8 0x80000000 0x1 0x80000000>).
 *    All of it lies above 4 GiB, so that any 32-bit truncation of a
 *    physical address in a driver, a format or a model shows at once.
 *  - The SMMU at 0x2b400000, interrupt 38: Juno's "smmu_gpu" node
 *    (reg 0x2b400000, GIC SPI 38 for its global and context interrupts,
 *    which share the line as they do here).
 *  - Masters, each with the stream ID it presents: "gpu" 0x100, "dsp"
 *    0x200, "cam0" and "cam1" both 0x300 (two functions of one camera
 *    block behind one stream ID: the SMMU cannot tell them apart, so
 *    they form one IOMMU group), "usb" 0x400; and "dma", a system DMA
 *    controller wired straight to memory. The stream IDs are this
 *    machine's own choice, not Juno's.
 *  - DMA is coherent: no CPU cache is modelled (a server-class SMMU system
 *    with I/O coherent masters).
 */
#include <errno.h>
#include <string.h>

#include "ik/arm-smmu-regs.h"
#include "ik/compiler.h"
#include "ik/machine.h"

#define OMAP3_SDRAM_BASE 0x80000000ULL
#define OMAP3_SDRAM_SIZE (512ULL << 20)
#define OMAP3_MMU1_BASE  0x480bd400ULL /* camera ISP MMU */
#define OMAP3_MMU1_IRQ   24
#define OMAP3_MMU2_BASE  0x5d000000ULL /* IVA2.2 MMU */
#define OMAP3_MMU2_IRQ   28
#define OMAP3_CACHE_LINE 64
#define OMAP3_CACHE_SIZE (256u << 10)

static const struct ik_region_desc omap3_regions[] = {
	{ .name = "dram", .base = OMAP3_SDRAM_BASE, .size = OMAP3_SDRAM_SIZE },
};

static const struct ik_iommu_desc omap3_iommus[] = {
	{
		.name = "isp-mmu",
		.compatible = "ti,omap2-iommu",
		.mmio_base = OMAP3_MMU1_BASE,
		.irq = OMAP3_MMU1_IRQ,
		.tlb_entries = 8,
	},
	{
		.name = "iva-mmu",
		.compatible = "ti,omap2-iommu",
		.mmio_base = OMAP3_MMU2_BASE,
		.irq = OMAP3_MMU2_IRQ,
		.tlb_entries = 32,
	},
};

static const struct ik_master_desc omap3_masters[] = {
	{ .name = "isp", .iommu = "isp-mmu", .sid = 0 },
	{ .name = "iva", .iommu = "iva-mmu", .sid = 0 },
	{ .name = "sdma", .iommu = NULL, .sid = 0 },
};

static const struct ik_machine_desc omap3_desc = {
	.size = sizeof(struct ik_machine_desc),
	.name = "omap3",
	.regions = omap3_regions,
	.nr_regions = ARRAY_SIZE(omap3_regions),
	.iommus = omap3_iommus,
	.nr_iommus = ARRAY_SIZE(omap3_iommus),
	.masters = omap3_masters,
	.nr_masters = ARRAY_SIZE(omap3_masters),
	.flags = IK_MACHINE_NONCOHERENT,
	.cache_line = OMAP3_CACHE_LINE,
	.cache_size = OMAP3_CACHE_SIZE,
};

#define SMMU_SOC_DRAM_BASE 0x880000000ULL
#define SMMU_SOC_DRAM_SIZE (2ULL << 30)
#define SMMU_SOC_SMMU_BASE 0x2b400000ULL
#define SMMU_SOC_SMMU_IRQ  38

static const struct ik_region_desc smmu_soc_regions[] = {
	{ .name = "dram", .base = SMMU_SOC_DRAM_BASE, .size = SMMU_SOC_DRAM_SIZE },
};

static const struct ik_iommu_desc smmu_soc_iommus[] = {
	{
		.name = "smmu",
		.compatible = SMMU_COMPATIBLE,
		.mmio_base = SMMU_SOC_SMMU_BASE,
		.irq = SMMU_SOC_SMMU_IRQ,
		.tlb_entries = 0,
	},
};

static const struct ik_master_desc smmu_soc_masters[] = {
	{ .name = "gpu", .iommu = "smmu", .sid = 0x100 },
	{ .name = "dsp", .iommu = "smmu", .sid = 0x200 },
	{ .name = "cam0", .iommu = "smmu", .sid = 0x300 },
	{ .name = "cam1", .iommu = "smmu", .sid = 0x300 },
	{ .name = "usb", .iommu = "smmu", .sid = 0x400 },
	{ .name = "dma", .iommu = NULL, .sid = 0 },
};

/* The SoC's memory, SMMU and masters, shared by its two variants. */
#define SMMU_SOC_LAYOUT                                          \
	.size = sizeof(struct ik_machine_desc),                  \
	.regions = smmu_soc_regions,                             \
	.nr_regions = ARRAY_SIZE(smmu_soc_regions),              \
	.iommus = smmu_soc_iommus,                               \
	.nr_iommus = ARRAY_SIZE(smmu_soc_iommus),                \
	.masters = smmu_soc_masters,                             \
	.nr_masters = ARRAY_SIZE(smmu_soc_masters)

static const struct ik_machine_desc smmu_soc_desc = {
	SMMU_SOC_LAYOUT,
	.name = "smmu",
};

/*
 * The same SoC with DMA that does not snoop the CPU caches, the SMMU's
 * table walker included (it reports sIDR0.CTTW clear), as on many mobile
 * SoCs: the driver must clean every table write.
 */
static const struct ik_machine_desc smmu_soc_noncoherent_desc = {
	SMMU_SOC_LAYOUT,
	.name = "smmu-noncoherent",
	.flags = IK_MACHINE_NONCOHERENT,
};

static const struct ik_machine_desc *const builtin_descs[] = {
	&omap3_desc,
	&smmu_soc_desc,
	&smmu_soc_noncoherent_desc,
};

/**
 * ik_machine_desc_builtin - a built-in machine description
 * @name: its name; NULL for the default ("omap3")
 *
 * Return: the description (static, never freed), or NULL with errno
 * ENOENT for an unknown name.
 */
const struct ik_machine_desc *ik_machine_desc_builtin(const char *name)
{
	if (!name)
		return builtin_descs[0];
	for (size_t i = 0; i < ARRAY_SIZE(builtin_descs); i++)
		if (!strcmp(builtin_descs[i]->name, name))
			return builtin_descs[i];
	errno = ENOENT;
	return NULL;
}

/** ik_machine_create_default - build the default machine; as ik_machine_create() */
struct ik_machine *ik_machine_create_default(void)
{
	return ik_machine_create(ik_machine_desc_builtin(NULL));
}
