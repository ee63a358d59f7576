// SPDX-License-Identifier: MIT
/*
 * The device-address window of a DMA domain.
 *
 * Linux gives a device's DMA API mappings a window in two ways: 32-bit Arm
 * drivers create one with arm_iommu_create_mapping(bus, base, size) (the
 * OMAP3 ISP: arm_iommu_create_mapping(&platform_bus_type, SZ_1G, SZ_2G) in
 * omap3isp's isp_attach_iommu()), and the generic dma-iommu layer takes
 * one from the bus's "dma-ranges" when it sets up a domain's IOVA space
 * (iommu_dma_init_domain(domain, base, limit)). Here a DMA domain's IOVA
 * space is made from its aperture when the DMA API first uses the domain
 * (src/dma/iommu.c), so a window is the aperture narrowed before that: the
 * DMA API then allocates only inside, iovmm's default window is the same,
 * and iommu_map() refuses (-ERANGE) anything outside.
 */
#include <errno.h>

#include "ik/dma.h"

/**
 * ik_iommu_dma_set_window - restrict a DMA domain to [base, base + size)
 * @domain: an IOMMU_DOMAIN_DMA or IOMMU_DOMAIN_DMA_FQ domain the DMA API
 *          has not used yet (no mapping, no allocation)
 * @base: first device address, aligned to the domain's smallest page
 * @size: bytes, a multiple of the smallest page, not 0
 *
 * Call it before the first DMA API call for a device of @domain; the
 * caller orders it before them, as attach and detach are (see ik/dma.h).
 *
 * Return: 0; -EINVAL (NULL or non-DMA domain, misaligned or empty window,
 * or one that wraps), -ERANGE (not inside the domain's aperture), -EBUSY
 * (the DMA API already made the domain's IOVA space). Nothing changes on
 * error.
 */
int ik_iommu_dma_set_window(struct iommu_domain *domain, dma_addr_t base, uint64_t size)
{
	struct iommu_domain_geometry *geo;
	dma_addr_t last;

	if (!domain || !(domain->type & __IOMMU_DOMAIN_DMA_API) || !domain->min_pagesz || !size)
		return -EINVAL;
	if ((base | size) & (domain->min_pagesz - 1))
		return -EINVAL;
	last = base + (size - 1);
	if (last < base)
		return -EINVAL;
	geo = &domain->geometry;
	if (base < geo->aperture_start || last > geo->aperture_end)
		return -ERANGE;
	if (__atomic_load_n(&domain->dma_cookie, __ATOMIC_ACQUIRE))
		return -EBUSY;
	geo->aperture_start = base;
	geo->aperture_end = last;
	geo->force_aperture = true;
	return 0;
}
