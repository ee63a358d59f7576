/* SPDX-License-Identifier: MIT */
/*
 * TI OMAP2/3 MMU register map (OMAP35x Technical Reference Manual, chapter
 * "MMU", section "MMU Registers"; the same map serves the ISP MMU and the
 * IVA2.2 MMU). This header is the datasheet both sides read: the driver
 * programs these offsets, the hardware model decodes them. Page-table
 * descriptor bits are NOT here: the driver's page-table format and the
 * model's walker each define those independently, so that one cannot hide
 * the other's mistake.
 */
#ifndef IK_OMAP_MMU_REGS_H
#define IK_OMAP_MMU_REGS_H

#define OMAP_MMU_REVISION       0x00
#define OMAP_MMU_SYSCONFIG      0x10
#define OMAP_MMU_SYSSTATUS      0x14
#define OMAP_MMU_IRQSTATUS      0x18
#define OMAP_MMU_IRQENABLE      0x1c
#define OMAP_MMU_WALKING_ST     0x40
#define OMAP_MMU_CNTL           0x44
#define OMAP_MMU_FAULT_AD       0x48
#define OMAP_MMU_TTB            0x4c
#define OMAP_MMU_LOCK           0x50
#define OMAP_MMU_LD_TLB         0x54
#define OMAP_MMU_CAM            0x58
#define OMAP_MMU_RAM            0x5c
#define OMAP_MMU_GFLUSH         0x60
#define OMAP_MMU_FLUSH_ENTRY    0x64
#define OMAP_MMU_READ_CAM       0x68
#define OMAP_MMU_READ_RAM       0x6c
#define OMAP_MMU_EMU_FAULT_AD   0x70
#define OMAP_MMU_WINDOW_SIZE    0x100

/* REVISION: 4-bit major.minor; the OMAP3 MMUs read 0x11 (v1.1). */
#define OMAP_MMU_REVISION_OMAP3 0x11

/* SYSCONFIG / SYSSTATUS */
#define OMAP_MMU_SYSCONFIG_AUTOIDLE   (1u << 0)
#define OMAP_MMU_SYSCONFIG_SOFTRESET  (1u << 1)
#define OMAP_MMU_SYSCONFIG_IDLEMODE_SHIFT 3
#define OMAP_MMU_SYSCONFIG_IDLEMODE_MASK  (3u << 3)
#define OMAP_MMU_SYSCONFIG_CLOCKACTIVITY_MASK (3u << 8)
#define OMAP_MMU_SYSSTATUS_RESETDONE  (1u << 0)

/* IRQSTATUS / IRQENABLE (write 1 to clear a status bit) */
#define OMAP_MMU_IRQ_TLBMISS          (1u << 0)
#define OMAP_MMU_IRQ_TRANSLATIONFAULT (1u << 1)
#define OMAP_MMU_IRQ_EMUMISS          (1u << 2)
#define OMAP_MMU_IRQ_TABLEWALKFAULT   (1u << 3)
#define OMAP_MMU_IRQ_MULTIHITFAULT    (1u << 4)
#define OMAP_MMU_IRQ_MASK             0x1fu

/* WALKING_ST */
#define OMAP_MMU_WALKING_ST_TWLRUNNING (1u << 0)

/* CNTL */
#define OMAP_MMU_CNTL_MMU_EN  (1u << 1)
#define OMAP_MMU_CNTL_TWL_EN  (1u << 2)
#define OMAP_MMU_CNTL_EML_EN  (1u << 3)

/*
 * TTB: the register holds TTBADDRESS, bits [31:7] (bits [6:0] are reserved
 * and read 0). The first-level table must be aligned to its own size with
 * a 128-byte minimum, so a full 4096-entry table (4 GiB) needs 16 KiB:
 * OMAP_MMU_TTB_MASK is that alignment, OMAP_MMU_TTB_ADDR_MASK the field.
 */
#define OMAP_MMU_TTB_MASK      0xffffc000u
#define OMAP_MMU_TTB_ADDR_MASK 0xffffff80u

/* LOCK: entries [0, BASE) are locked; VICTIM is the next entry written. */
#define OMAP_MMU_LOCK_BASE_SHIFT  10
#define OMAP_MMU_LOCK_BASE_MASK   (0x1fu << OMAP_MMU_LOCK_BASE_SHIFT)
#define OMAP_MMU_LOCK_VICT_SHIFT  4
#define OMAP_MMU_LOCK_VICT_MASK   (0x1fu << OMAP_MMU_LOCK_VICT_SHIFT)

/* LD_TLB / GFLUSH / FLUSH_ENTRY: write 1 to act. */
#define OMAP_MMU_LD_TLB_ITEM      (1u << 0)
#define OMAP_MMU_GFLUSH_ALL       (1u << 0)
#define OMAP_MMU_FLUSH_ENTRY_GO   (1u << 0)

/* CAM: virtual tag, preserved, valid, page size */
#define OMAP_MMU_CAM_VATAG_MASK   0xfffff000u
#define OMAP_MMU_CAM_P            (1u << 3)
#define OMAP_MMU_CAM_V            (1u << 2)
#define OMAP_MMU_CAM_PGSZ_MASK    3u
#define OMAP_MMU_CAM_PGSZ_1M      0u
#define OMAP_MMU_CAM_PGSZ_64K     1u
#define OMAP_MMU_CAM_PGSZ_4K      2u
#define OMAP_MMU_CAM_PGSZ_16M     3u

/* RAM: physical address and access attributes */
#define OMAP_MMU_RAM_PADDR_MASK   0xfffff000u
#define OMAP_MMU_RAM_ENDIAN_BIG   (1u << 9)
#define OMAP_MMU_RAM_ELSZ_SHIFT   7
#define OMAP_MMU_RAM_ELSZ_MASK    (3u << 7)
#define OMAP_MMU_RAM_ELSZ_8       (0u << 7)
#define OMAP_MMU_RAM_ELSZ_16      (1u << 7)
#define OMAP_MMU_RAM_ELSZ_32      (2u << 7)
#define OMAP_MMU_RAM_ELSZ_NONE    (3u << 7)
#define OMAP_MMU_RAM_MIXED        (1u << 6)

#endif /* IK_OMAP_MMU_REGS_H */
