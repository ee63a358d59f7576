// SPDX-License-Identifier: MIT
/*
 * Statistics buffers from iovmm, as omap3isp's ispstat.c allocated them in
 * 2011 (isp_stat_bufs_alloc_iommu()): iommu_vmalloc() gives scattered
 * pages mapped at one device address in the ISP's domain, and the pages go
 * through dma_map_sg(DMA_FROM_DEVICE) so that dma_sync_sg_for_cpu/
 * _for_device can do the cache maintenance around each use. (Back then the
 * ISP's DMA ops did no IOMMU mapping, so that map was cache maintenance
 * only; behind a DMA domain it also gives the pages a second device
 * address, which the engines never use.)
 *
 * The CPU reads statistics through its cache, at the pages' physical
 * addresses: iovmm's CPU view (iovm_struct.va) is a mapping of memory
 * itself, which on silicon would be a cacheable vmalloc mapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isp/isp_internal.h"

/**
 * isp_stat_alloc - a statistics buffer of @size bytes from iovmm
 * @p: the pipeline, with its iovmm context
 * @b: the buffer, zeroed
 * @size: bytes
 *
 * Return: 0, or the error of iommu_vmalloc() or dma_map_sg() (nothing is
 * left allocated).
 */
int isp_stat_alloc(struct isp_pipeline *p, struct isp_statbuf *b, size_t size)
{
	size_t n = (size + ISP_PAGE_SIZE - 1) / ISP_PAGE_SIZE;
	struct iovm_struct area;
	dma_addr_t da;
	int ret;

	da = ik_iommu_vmalloc(p->vm, 0, size, IOMMU_READ | IOMMU_WRITE);
	if (ik_iovmm_is_err(da))
		return ik_iovmm_errno(da);
	ret = ik_find_iovm_area(p->vm, da, &area);
	if (!ret && (!area.va || area.da_end - area.da_start < n * ISP_PAGE_SIZE))
		ret = -EINVAL;
	b->sg = ret ? NULL : calloc(n, sizeof(*b->sg));
	if (!ret && !b->sg)
		ret = -ENOMEM;
	if (!ret)
		sg_init_table(b->sg, (unsigned int)n);
	for (size_t i = 0; i < n && !ret; i++) {
		phys_addr_t pa;

		ret = ik_mem_virt_to_phys(p->mem, (uint8_t *)area.va + i * ISP_PAGE_SIZE, &pa);
		if (!ret)
			sg_set_phys(&b->sg[i], pa, ISP_PAGE_SIZE);
	}
	if (!ret) {
		errno = 0;
		b->dma_nents = ik_dma_map_sg_attrs(p->dev, b->sg, (int)n, DMA_FROM_DEVICE, 0);
		if (b->dma_nents <= 0)
			ret = errno ? -errno : -ENOMEM;
	}
	if (ret) {
		free(b->sg);
		ik_iommu_vfree(p->vm, da);
		memset(b, 0, sizeof(*b));
		return ret;
	}
	b->da = da;
	b->size = size;
	b->nents = (int)n;
	p->st.map_calls += 2;
	isp_count_leaves(p, da, n * ISP_PAGE_SIZE, p->st.maps);
	isp_count_leaves(p, b->sg[0].dma_address, n * ISP_PAGE_SIZE, p->st.maps);
	isp_note_dma_range(p, da, n * ISP_PAGE_SIZE);
	isp_note_dma_range(p, b->sg[0].dma_address, n * ISP_PAGE_SIZE);
	return 0;
}

void isp_stat_free(struct isp_pipeline *p, struct isp_statbuf *b)
{
	size_t len = (size_t)b->nents * ISP_PAGE_SIZE;

	if (!b->da)
		return;
	isp_count_leaves(p, b->sg[0].dma_address, len, p->st.unmaps);
	ik_dma_unmap_sg_attrs(p->dev, b->sg, b->nents, DMA_FROM_DEVICE, 0);
	isp_count_leaves(p, b->da, len, p->st.unmaps);
	ik_iommu_vfree(p->vm, b->da);
	p->st.unmap_calls += 2;
	free(b->sg);
	memset(b, 0, sizeof(*b));
}

/* The first @len bytes of @b as the CPU reads them, through its cache. */
int isp_stat_cpu_read(struct isp_pipeline *p, const struct isp_statbuf *b, void *dst,
		      size_t len)
{
	uint8_t *d = dst;

	if (len > (size_t)b->nents * ISP_PAGE_SIZE)
		return -EINVAL;
	for (size_t off = 0; off < len; off += ISP_PAGE_SIZE) {
		size_t chunk = len - off < ISP_PAGE_SIZE ? len - off : ISP_PAGE_SIZE;
		int ret = ik_cpu_read(p->m, b->sg[off / ISP_PAGE_SIZE].phys, d + off, chunk);

		if (ret)
			return ret;
	}
	return 0;
}
