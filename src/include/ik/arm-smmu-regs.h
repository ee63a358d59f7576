/* SPDX-License-Identifier: MIT */
/*
 * Arm System MMU architecture version 2 (SMMUv2) register map, as the
 * iommukit model implements it: stage 1 only, AArch64 (VMSAv8-64) context
 * banks with the 4 KiB granule, stream matching.
 *
 * This header is the datasheet both sides read: the driver programs these
 * offsets, the hardware model decodes them. Translation-table descriptor
 * bits are NOT here: the page-table format and the model's walker each
 * define those independently, so that one cannot hide the other's mistake.
 *
 * Sources (facts only): Arm IHI 0062 "ARM System Memory Management Unit
 * Architecture Specification, SMMU architecture versions 1.0 and 2.0",
 * its global address space register descriptions (SMMU_sCR0, SMMU_sIDR0-2/7,
 * SMMU_sGFAR/sGFSR/sGFSYNR0-1, global TLB maintenance, SMMU_SMRn,
 * SMMU_S2CRn, SMMU_CBARn, SMMU_CBFRSYNRAn, SMMU_CBA2Rn) and translation
 * context bank register descriptions (SMMU_CBn_SCTLR, TCR2, TTBRm,
 * TCR, MAIRm, PAR, FSR, FAR, FSYNR0, TLBI*, TLBSYNC, TLBSTATUS); cross-
 * checked against Linux drivers/iommu/arm/arm-smmu/arm-smmu.h and a
 * vendor's MMU-500 register description (field layouts), and the reset
 * values published for MMU-500 instances (Intel Stratix 10 / Agilex HPS
 * "SMMU_SCR0" reset 0x00200001: CLIENTPD = 1; AMD UG1087 "SMMU_S2CRn"
 * reset 0x00020000: TYPE = fault).
 *
 * Layout of the window (IHI 0062, the SMMU address map): the lower half
 * is the global address space, NUMPAGE pages of PAGESIZE; page 0 is GR0,
 * page 1 is GR1. The upper half holds one page per translation context
 * bank. This model: 4 KiB pages, NUMPAGE = 8, so 64 KiB in all.
 *
 * 64-bit registers are two 32-bit words, low word at the lower address;
 * the model latches each half as it is written.
 *
 * Interrupts: the model drives ONE interrupt line (the IOMMU description's
 * irq) for global and context faults alike; a handler reads sGFSR and each
 * bank's FSR to see which raised it.
 */
#ifndef IK_ARM_SMMU_REGS_H
#define IK_ARM_SMMU_REGS_H

#include <stdint.h>

/* Compatible string of the model and of the driver that binds to it. */
#define SMMU_COMPATIBLE         "arm,smmu-v2"

/* --- geometry --- */
#define SMMU_PAGE_SHIFT         12
#define SMMU_PAGE_SIZE          0x1000u
#define SMMU_NUMPAGE            8u  /* global pages = context bank pages */
#define SMMU_NUMPAGENDXB        2u  /* NUMPAGE = 2^(NUMPAGENDXB + 1) */
#define SMMU_WINDOW_SIZE        (2u * SMMU_NUMPAGE * SMMU_PAGE_SIZE) /* 64 KiB */
#define SMMU_NUMCB              8u  /* context banks, all stage-1 capable */
#define SMMU_NUMSMRG            16u /* stream match register groups */
#define SMMU_NUMSIDB            15u /* stream ID bits */
#define SMMU_SID_MASK           0x7fffu

#define SMMU_GR0_BASE           0x0u
#define SMMU_GR1_BASE           SMMU_PAGE_SIZE
#define SMMU_CB_BASE            (SMMU_NUMPAGE * SMMU_PAGE_SIZE)
/* Window offset of context bank @n's page. */
#define SMMU_CB(n)              (SMMU_CB_BASE + (uint32_t)(n) * SMMU_PAGE_SIZE)

/* --- global register space 0 (offsets from SMMU_GR0_BASE) --- */
#define SMMU_GR0_sCR0           0x00
#define SMMU_sCR0_CLIENTPD      (1u << 0)  /* 1: all transactions bypass */
#define SMMU_sCR0_GFRE          (1u << 1)  /* global fault report enable */
#define SMMU_sCR0_GFIE          (1u << 2)  /* global fault interrupt enable */
#define SMMU_sCR0_GCFGFRE       (1u << 4)
#define SMMU_sCR0_GCFGFIE       (1u << 5)
#define SMMU_sCR0_USFCFG        (1u << 10) /* unmatched stream: 1 fault, 0 bypass */
#define SMMU_sCR0_VMIDPNE       (1u << 11)
#define SMMU_sCR0_PTM           (1u << 12) /* private TLB maintenance */
#define SMMU_sCR0_FB            (1u << 13) /* force broadcast */
#define SMMU_sCR0_BSU_SHIFT     14
#define SMMU_sCR0_BSU_MASK      (3u << 14)
#define SMMU_sCR0_SMCFCFG       (1u << 21) /* RO 1: stream match conflict faults */
/* Reset value: CLIENTPD set (everything bypasses), SMCFCFG reads 1. */
#define SMMU_sCR0_RESET         (SMMU_sCR0_CLIENTPD | SMMU_sCR0_SMCFCFG)

#define SMMU_GR0_sIDR0          0x20
#define SMMU_IDR0_NUMSMRG_MASK  0xffu
#define SMMU_IDR0_NUMSIDB_SHIFT 9
#define SMMU_IDR0_NUMSIDB_MASK  (0xfu << 9)
#define SMMU_IDR0_CTTW          (1u << 14) /* coherent table walks */
#define SMMU_IDR0_NUMIRPT_SHIFT 16
#define SMMU_IDR0_NUMIRPT_MASK  (0xffu << 16)
#define SMMU_IDR0_PTFS_NO_AARCH32  (1u << 25) /* no AArch32 long-descriptor */
#define SMMU_IDR0_PTFS_NO_AARCH32S (1u << 24) /* no AArch32 short-descriptor */
#define SMMU_IDR0_ATOSNS        (1u << 26) /* 1: no address translation operations */
#define SMMU_IDR0_SMS           (1u << 27) /* stream matching */
#define SMMU_IDR0_NTS           (1u << 28) /* nested translation */
#define SMMU_IDR0_S2TS          (1u << 29) /* stage 2 */
#define SMMU_IDR0_S1TS          (1u << 30) /* stage 1 */
#define SMMU_IDR0_SES           (1u << 31) /* security extensions */

#define SMMU_GR0_sIDR1          0x24
#define SMMU_IDR1_NUMCB_MASK    0xffu
#define SMMU_IDR1_NUMS2CB_SHIFT 16
#define SMMU_IDR1_NUMS2CB_MASK  (0xffu << 16)
#define SMMU_IDR1_NUMPAGENDXB_SHIFT 28
#define SMMU_IDR1_NUMPAGENDXB_MASK  (7u << 28)
#define SMMU_IDR1_PAGESIZE      (1u << 31) /* 0: 4 KiB, 1: 64 KiB */

#define SMMU_GR0_sIDR2          0x28
#define SMMU_IDR2_IAS_MASK      0xfu
#define SMMU_IDR2_OAS_SHIFT     4
#define SMMU_IDR2_OAS_MASK      (0xfu << 4)
#define SMMU_IDR2_UBS_SHIFT     8
#define SMMU_IDR2_UBS_MASK      (0xfu << 8)
#define SMMU_IDR2_PTFSV8_4K     (1u << 12)
#define SMMU_IDR2_PTFSV8_16K    (1u << 13)
#define SMMU_IDR2_PTFSV8_64K    (1u << 14)
/* Address size encoding (IAS/OAS/UBS, TCR2.PASIZE): 0:32 1:36 2:40 3:42 4:44 5:48 bits. */
#define SMMU_ADDR_SIZE_32       0u
#define SMMU_ADDR_SIZE_36       1u
#define SMMU_ADDR_SIZE_40       2u
#define SMMU_ADDR_SIZE_42       3u
#define SMMU_ADDR_SIZE_44       4u
#define SMMU_ADDR_SIZE_48       5u

#define SMMU_GR0_sIDR7          0x3c
#define SMMU_IDR7_MINOR_MASK    0xfu
#define SMMU_IDR7_MAJOR_SHIFT   4
#define SMMU_IDR7_MAJOR_MASK    (0xfu << 4)

/* The values this model's ID registers read. */
#define SMMU_IDR0_VALUE (SMMU_IDR0_S1TS | SMMU_IDR0_SMS | SMMU_IDR0_ATOSNS | \
			 SMMU_IDR0_PTFS_NO_AARCH32 | SMMU_IDR0_CTTW | \
			 (SMMU_NUMSIDB << SMMU_IDR0_NUMSIDB_SHIFT) | SMMU_NUMSMRG)
#define SMMU_IDR1_VALUE ((SMMU_NUMPAGENDXB << SMMU_IDR1_NUMPAGENDXB_SHIFT) | SMMU_NUMCB)
#define SMMU_IDR2_VALUE (SMMU_IDR2_PTFSV8_4K | (SMMU_ADDR_SIZE_48 << SMMU_IDR2_UBS_SHIFT) | \
			 (SMMU_ADDR_SIZE_48 << SMMU_IDR2_OAS_SHIFT) | SMMU_ADDR_SIZE_48)
#define SMMU_IDR7_VALUE 0u

#define SMMU_GR0_sGFAR          0x40 /* 64-bit: address of the global fault */
#define SMMU_GR0_sGFSR          0x48 /* write 1 to clear */
#define SMMU_sGFSR_ICF          (1u << 0) /* invalid context (bad CBNDX / CBAR type) */
#define SMMU_sGFSR_USF          (1u << 1) /* unidentified stream */
#define SMMU_sGFSR_SMCF         (1u << 2) /* stream match conflict */
#define SMMU_sGFSR_UCBF         (1u << 3)
#define SMMU_sGFSR_UCIF         (1u << 4)
#define SMMU_sGFSR_CAF          (1u << 5)
#define SMMU_sGFSR_EF           (1u << 6)
#define SMMU_sGFSR_PF           (1u << 7)
#define SMMU_sGFSR_UUT          (1u << 8)
#define SMMU_sGFSR_MULTI        (1u << 31) /* a fault while another was recorded */
#define SMMU_sGFSR_MASK         (0x1ffu | SMMU_sGFSR_MULTI)
#define SMMU_GR0_sGFSYNR0       0x50
#define SMMU_sGFSYNR0_NESTED    (1u << 0)
#define SMMU_sGFSYNR0_WNR       (1u << 1) /* write */
#define SMMU_sGFSYNR0_PNU       (1u << 2) /* privileged */
#define SMMU_sGFSYNR0_IND       (1u << 3) /* instruction fetch */
#define SMMU_sGFSYNR0_NSSTATE   (1u << 4)
#define SMMU_sGFSYNR0_NSATTR    (1u << 5)
#define SMMU_GR0_sGFSYNR1       0x54 /* stream ID in 15:0 */
#define SMMU_sGFSYNR1_SID_MASK  0xffffu
#define SMMU_GR0_sGFSYNR2       0x58

/* Global TLB maintenance: completes at once; status is busy until a sync. */
#define SMMU_GR0_TLBIVMID       0x64 /* VMID in 7:0 */
#define SMMU_GR0_TLBIALLNSNH    0x68
#define SMMU_GR0_sTLBGSYNC      0x70
#define SMMU_GR0_sTLBGSTATUS    0x74
#define SMMU_sTLBGSTATUS_GSACTIVE (1u << 0)

/* Stream match registers (EXIDS not implemented: 15-bit ID and MASK). */
#define SMMU_GR0_SMR(n)         (0x800u + ((uint32_t)(n) << 2))
#define SMMU_SMR_VALID          (1u << 31)
#define SMMU_SMR_MASK_SHIFT     16
#define SMMU_SMR_MASK_MASK      (0x7fffu << 16) /* 1 bits: don't care */
#define SMMU_SMR_ID_MASK        0x7fffu

/* Stream-to-context registers. Reset: TYPE = fault. */
#define SMMU_GR0_S2CR(n)        (0xc00u + ((uint32_t)(n) << 2))
#define SMMU_S2CR_CBNDX_MASK    0xffu
#define SMMU_S2CR_TYPE_SHIFT    16
#define SMMU_S2CR_TYPE_MASK     (3u << 16)
#define SMMU_S2CR_TYPE_TRANS    0u /* translate through context bank CBNDX */
#define SMMU_S2CR_TYPE_BYPASS   1u
#define SMMU_S2CR_TYPE_FAULT    2u
#define SMMU_S2CR_PRIVCFG_SHIFT 24
#define SMMU_S2CR_PRIVCFG_MASK  (3u << 24)
#define SMMU_S2CR_RESET         (SMMU_S2CR_TYPE_FAULT << SMMU_S2CR_TYPE_SHIFT)

/*
 * Page 2 of the global space is IMPLEMENTATION DEFINED (IHI 0062 address map).
 * This model puts a debug counter there: the number of TLB invalidations
 * that were still unsynced (no TLBSYNC/sTLBGSYNC since) when a
 * translation next went through the context bank they target (global
 * ones: any bank). Read-only count, saturating; any write clears it.
 */
#define SMMU_IMPDEF_BASE        (2u * SMMU_PAGE_SIZE)
#define SMMU_IMPDEF_UNSYNCED_TLBI (SMMU_IMPDEF_BASE + 0x0)

/* --- global register space 1 (offsets from SMMU_GR1_BASE) --- */
#define SMMU_GR1_CBAR(n)        (0x000u + ((uint32_t)(n) << 2))
#define SMMU_CBAR_VMID_MASK     0xffu
#define SMMU_CBAR_S1_BPSHCFG_SHIFT 8
#define SMMU_CBAR_S1_BPSHCFG_MASK  (3u << 8)
#define SMMU_CBAR_S1_MEMATTR_SHIFT 12
#define SMMU_CBAR_S1_MEMATTR_MASK  (0xfu << 12)
#define SMMU_CBAR_TYPE_SHIFT    16
#define SMMU_CBAR_TYPE_MASK     (3u << 16)
#define SMMU_CBAR_TYPE_S2_TRANS         0u
#define SMMU_CBAR_TYPE_S1_TRANS_S2_BYPASS 1u /* the only type this model translates */
#define SMMU_CBAR_TYPE_S1_TRANS_S2_FAULT  2u
#define SMMU_CBAR_TYPE_S1_TRANS_S2_TRANS  3u
#define SMMU_CBAR_IRPTNDX_SHIFT 24
#define SMMU_CBAR_IRPTNDX_MASK  (0xffu << 24)
#define SMMU_GR1_CBFRSYNRA(n)   (0x400u + ((uint32_t)(n) << 2)) /* SID of the last fault */
#define SMMU_CBFRSYNRA_SID_MASK 0xffffu
#define SMMU_GR1_CBA2R(n)       (0x800u + ((uint32_t)(n) << 2))
#define SMMU_CBA2R_VA64         (1u << 0) /* AArch64 translation tables */

/* --- translation context bank (offsets from SMMU_CB(n)) --- */
#define SMMU_CB_SCTLR           0x000
#define SMMU_SCTLR_M            (1u << 0) /* translation on; off: bypass */
#define SMMU_SCTLR_TRE          (1u << 1)
#define SMMU_SCTLR_AFE          (1u << 2)
#define SMMU_SCTLR_AFFD         (1u << 3)
#define SMMU_SCTLR_E            (1u << 4)
#define SMMU_SCTLR_CFRE         (1u << 5) /* context fault report enable */
#define SMMU_SCTLR_CFIE         (1u << 6) /* context fault interrupt enable */
#define SMMU_SCTLR_CFCFG        (1u << 7) /* 1: stall (not modelled: always terminate) */
#define SMMU_SCTLR_HUPCF        (1u << 8)
#define SMMU_SCTLR_WXN          (1u << 9)
#define SMMU_SCTLR_UWXN         (1u << 10)
#define SMMU_SCTLR_ASIDPNE      (1u << 12)
#define SMMU_CB_RESUME          0x008
#define SMMU_RESUME_TERMINATE   (1u << 0)
#define SMMU_CB_TCR2            0x010
#define SMMU_TCR2_PASIZE_MASK   0x7u
#define SMMU_TCR2_AS            (1u << 4) /* 16-bit ASID */
#define SMMU_TCR2_SEP_SHIFT     15
#define SMMU_TCR2_SEP_MASK      (7u << 15)
#define SMMU_TCR2_SEP_UPSTREAM  7u
#define SMMU_CB_TTBR0           0x020 /* 64-bit */
#define SMMU_CB_TTBR1           0x028 /* 64-bit */
#define SMMU_TTBR_ASID_SHIFT    48    /* ASID in 63:48 (VA64) */
#define SMMU_TTBR_ASID_MASK     (0xffffull << 48)
#define SMMU_TTBR_ADDR_MASK     0x0000fffffffff000ull /* 4 KiB-aligned table, 48-bit PA */
#define SMMU_CB_TCR             0x030 /* AArch64 TCR_EL1 layout, low 32 bits */
#define SMMU_TCR_T0SZ_MASK      0x3fu
#define SMMU_TCR_EPD0           (1u << 7)
#define SMMU_TCR_IRGN0_SHIFT    8
#define SMMU_TCR_IRGN0_MASK     (3u << 8)
#define SMMU_TCR_ORGN0_SHIFT    10
#define SMMU_TCR_ORGN0_MASK     (3u << 10)
#define SMMU_TCR_SH0_SHIFT      12
#define SMMU_TCR_SH0_MASK       (3u << 12)
#define SMMU_TCR_TG0_SHIFT      14
#define SMMU_TCR_TG0_MASK       (3u << 14)
#define SMMU_TCR_TG0_4K         0u
#define SMMU_TCR_TG0_64K        1u
#define SMMU_TCR_TG0_16K        2u
#define SMMU_TCR_T1SZ_SHIFT     16
#define SMMU_TCR_T1SZ_MASK      (0x3fu << 16)
#define SMMU_TCR_A1             (1u << 22)
#define SMMU_TCR_EPD1           (1u << 23)
#define SMMU_CB_CONTEXTIDR      0x034
#define SMMU_CB_MAIR0           0x038
#define SMMU_CB_MAIR1           0x03c
#define SMMU_CB_PAR             0x050 /* 64-bit; no ATOS here: reads 0 */
#define SMMU_PAR_F              (1u << 0)
#define SMMU_CB_FSR             0x058 /* write 1 to clear */
#define SMMU_FSR_TF             (1u << 1) /* translation fault */
#define SMMU_FSR_AFF            (1u << 2) /* access flag fault */
#define SMMU_FSR_PF             (1u << 3) /* permission fault */
#define SMMU_FSR_EF             (1u << 4) /* external fault (table walk) */
#define SMMU_FSR_TLBMCF         (1u << 5) /* TLB match conflict */
#define SMMU_FSR_TLBLKF         (1u << 6)
#define SMMU_FSR_ASF            (1u << 7) /* address size fault */
#define SMMU_FSR_UUT            (1u << 8)
#define SMMU_FSR_SS             (1u << 30)
#define SMMU_FSR_MULTI          (1u << 31)
#define SMMU_FSR_FAULT          (SMMU_FSR_TF | SMMU_FSR_AFF | SMMU_FSR_PF | SMMU_FSR_EF | \
				 SMMU_FSR_TLBMCF | SMMU_FSR_TLBLKF | SMMU_FSR_ASF | \
				 SMMU_FSR_UUT | SMMU_FSR_SS | SMMU_FSR_MULTI)
#define SMMU_CB_FAR             0x060 /* 64-bit: faulting input address */
#define SMMU_CB_FSYNR0          0x068
#define SMMU_FSYNR0_PLVL_MASK   0x3u      /* level of the faulting descriptor */
#define SMMU_FSYNR0_WNR         (1u << 4) /* write */
#define SMMU_FSYNR0_PNU         (1u << 5) /* privileged */
#define SMMU_FSYNR0_IND         (1u << 6) /* instruction fetch */
#define SMMU_FSYNR0_NSATTR      (1u << 8)
#define SMMU_FSYNR0_PTWF        (1u << 10) /* fault on a table walk fetch */
#define SMMU_FSYNR0_AFR         (1u << 11)

/*
 * TLB maintenance, 64-bit writes for the VA forms (AArch64 context):
 * VA[55:12] in bits 43:0, ASID in bits 63:48. TLBIVAA/TLBIVAAL ignore the
 * ASID; the L forms drop leaf entries only and keep walk-cache entries.
 * TLBIASID takes the ASID in bits 15:0; TLBIALL ignores its value.
 */
#define SMMU_CB_TLBIVA          0x600
#define SMMU_CB_TLBIVAA         0x608
#define SMMU_CB_TLBIASID        0x610
#define SMMU_CB_TLBIALL         0x618
#define SMMU_CB_TLBIVAL         0x620
#define SMMU_CB_TLBIVAAL        0x628
#define SMMU_TLBI_VA_MASK       0x00000fffffffffffull /* VA >> 12 */
#define SMMU_TLBI_ASID_SHIFT    48
#define SMMU_CB_TLBSYNC         0x7f0
#define SMMU_CB_TLBSTATUS       0x7f4
#define SMMU_TLBSTATUS_SACTIVE  (1u << 0)

#endif /* IK_ARM_SMMU_REGS_H */
