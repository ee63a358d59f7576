/* SPDX-License-Identifier: MIT */
/*
 * iommukit/omap-iommu.h - what only the TI OMAP MMU offers, beyond the
 * generic API: its TLB can be preloaded and locked (so a mapping can live
 * in a locked entry with table walking off), and its register context is
 * lost when its power domain goes off, so the client saves and restores it
 * around power transitions (as the OMAP3 ISP driver does).
 *
 * Each function takes the device behind the MMU. Errors: -ENODEV if @dev
 * has no OMAP MMU, -EINVAL for bad arguments, -ENOSPC when every TLB
 * entry is locked.
 */
#ifndef IOMMUKIT_OMAP_IOMMU_H
#define IOMMUKIT_OMAP_IOMMU_H

#include <iommukit/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct device;
struct iommu_domain;

/* Access attributes of an OMAP mapping (the MMU_RAM attribute fields). */
#define OMAP_IOMMU_ENDIAN_LITTLE 0u
#define OMAP_IOMMU_ENDIAN_BIG    1u
#define OMAP_IOMMU_ELSZ_8        0u
#define OMAP_IOMMU_ELSZ_16       1u
#define OMAP_IOMMU_ELSZ_32       2u
#define OMAP_IOMMU_ELSZ_NONE     3u

/* One TLB entry, as the CAM/RAM registers hold it. */
struct omap_iotlb_entry {
	uint32_t da;     /* device (virtual) address, aligned to pgsz */
	uint32_t pa;     /* physical address, aligned to pgsz */
	uint32_t pgsz;   /* bytes: 4K, 64K, 1M or 16M */
	bool valid;
	bool preserved;  /* survives a global flush */
	uint8_t endian;  /* OMAP_IOMMU_ENDIAN_* */
	uint8_t elsz;    /* OMAP_IOMMU_ELSZ_* */
	bool mixed;
};

/*
 * Load @e into the TLB at the victim entry; with @lock, lock it (raise the
 * lock base past it) so replacement never evicts it. Returns the entry's
 * index or a negative errno.
 */
IK_API int ik_omap_iommu_tlb_preload(struct device *dev, const struct omap_iotlb_entry *e,
				     bool lock);
/* Read TLB entry @index (0 .. nr-1) through READ_CAM/READ_RAM. */
IK_API int ik_omap_iommu_tlb_read(struct device *dev, unsigned int index,
				  struct omap_iotlb_entry *e);
/* Number of TLB entries, and how many are locked. */
IK_API int ik_omap_iommu_tlb_size(struct device *dev);
IK_API int ik_omap_iommu_tlb_locked(struct device *dev);
/* Unlock every locked entry (they stay valid until replaced or flushed). */
IK_API int ik_omap_iommu_tlb_unlock_all(struct device *dev);
/* Hardware table walking on or off; off, a TLB miss faults. */
IK_API int ik_omap_iommu_set_twl(struct device *dev, bool on);

/* Attributes every later mapping of @domain gets (default little, 8-bit, not mixed). */
IK_API int ik_omap_iommu_domain_set_attrs(struct iommu_domain *domain, unsigned int endian,
					  unsigned int elsz, bool mixed);

/*
 * Save the MMU's register context and locked TLB entries before power-off;
 * restore them after power-on (TTB, control, interrupt enables, lock base,
 * locked entries), after which every mapping works as before.
 */
IK_API int ik_omap_iommu_save_ctx(struct device *dev);
IK_API int ik_omap_iommu_restore_ctx(struct device *dev);

#ifndef IOMMUKIT_NO_LINUX_NAMES
#define omap_iommu_tlb_preload      ik_omap_iommu_tlb_preload
#define omap_iommu_tlb_read         ik_omap_iommu_tlb_read
#define omap_iommu_tlb_size         ik_omap_iommu_tlb_size
#define omap_iommu_tlb_locked       ik_omap_iommu_tlb_locked
#define omap_iommu_tlb_unlock_all   ik_omap_iommu_tlb_unlock_all
#define omap_iommu_set_twl          ik_omap_iommu_set_twl
#define omap_iommu_domain_set_attrs ik_omap_iommu_domain_set_attrs
#define omap_iommu_save_ctx         ik_omap_iommu_save_ctx
#define omap_iommu_restore_ctx      ik_omap_iommu_restore_ctx
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_OMAP_IOMMU_H */
