// SPDX-License-Identifier: MIT
/*
 * The pipeline's buffers, by kind:
 *  - user-like memory: pages allocated one at a time, scattered and out of
 *    order, as a V4L2 USERPTR buffer is, mapped with dma_map_sg into one
 *    contiguous device-address range (the ISP's engines have no
 *    scatter-gather: the MMU makes the buffer contiguous);
 *  - coherent memory from dma_alloc_coherent, which the CPU reads directly;
 *  - the CCDC's lens shading table: contiguous pages the CPU rewrites,
 *    mapped with dma_map_page;
 *  - statistics buffers from iovmm, mapped with dma_map_sg only for cache
 *    maintenance, as omap3isp's isp_stat_bufs_alloc_iommu() did in 2011.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isp/isp_internal.h"

static size_t pages_of(size_t size)
{
	return (size + ISP_PAGE_SIZE - 1) / ISP_PAGE_SIZE;
}

struct leaf_count {
	dma_addr_t start, end; /* [start, end) */
	uint64_t *hist;
};

static int count_leaf(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		      const char *desc)
{
	struct leaf_count *lc = arg;

	(void)pa, (void)prot, (void)desc;
	if (iova < lc->end && iova + size > lc->start && size)
		lc->hist[__builtin_ctzll(size)]++;
	return 0;
}

/**
 * isp_count_leaves - count the page-table leaves that map part of a range
 * @p: the pipeline
 * @dma: first device address
 * @size: bytes
 * @hist: counters indexed by log2 of the leaf size
 *
 * What the page tables hold, so the count shows which page sizes the DMA
 * layer's mappings really got. Drivers that cannot list leave @hist as is.
 */
void isp_count_leaves(struct isp_pipeline *p, dma_addr_t dma, size_t size, uint64_t *hist)
{
	struct leaf_count lc = { .start = dma, .end = dma + size, .hist = hist };

	ik_iommu_domain_for_each_mapping(p->domain, count_leaf, &lc);
}

void isp_note_dma_range(struct isp_pipeline *p, dma_addr_t dma, size_t size)
{
	if (dma < ISP_DMA_WINDOW_BASE || dma + size > ISP_DMA_WINDOW_BASE + ISP_DMA_WINDOW_SIZE)
		p->st.dma_outside_window++;
}

/* --- user-like buffers --- */

/**
 * isp_ubuf_alloc - user-like memory of @size bytes
 * @p: the pipeline
 * @b: the buffer, zeroed by the caller
 * @size: bytes
 * @seed: varies the page order between buffers
 *
 * Pages are allocated one by one with a page left between each two (and
 * freed again), then put in a shuffled order: no two neighbours in the
 * buffer are neighbours in physical memory.
 *
 * Return: 0, or -ENOMEM with nothing allocated.
 */
int isp_ubuf_alloc(struct isp_pipeline *p, struct isp_ubuf *b, size_t size, unsigned int seed)
{
	size_t n = pages_of(size);
	phys_addr_t *spacers = calloc(n, sizeof(*spacers));
	size_t got = 0, spaced = 0;
	int ret = 0;

	b->size = size;
	b->npages = n;
	b->pages = calloc(n, sizeof(*b->pages));
	b->sg = calloc(n, sizeof(*b->sg));
	if (!spacers || !b->pages || !b->sg) {
		ret = -ENOMEM;
		goto out;
	}
	for (got = 0; got < n; got++) {
		ret = ik_mem_alloc_pages(p->mem, 1, ISP_PAGE_SIZE, &b->pages[got]);
		if (ret)
			break;
		ret = ik_mem_alloc_pages(p->mem, 1, ISP_PAGE_SIZE, &spacers[spaced]);
		if (ret)
			break;
		spaced++;
	}
	if (!ret) {
		/* Fisher-Yates with a small LCG: the same order every run. */
		uint32_t s = seed * 2654435761u + 1;

		for (size_t i = n - 1; i > 0; i--) {
			s = s * 1664525u + 1013904223u;
			size_t j = (s >> 8) % (i + 1);
			phys_addr_t t = b->pages[i];

			b->pages[i] = b->pages[j];
			b->pages[j] = t;
		}
		sg_init_table(b->sg, (unsigned int)n);
		for (size_t i = 0; i < n; i++)
			sg_set_phys(&b->sg[i], b->pages[i], ISP_PAGE_SIZE);
	}
out:
	for (size_t i = 0; i < spaced; i++)
		ik_mem_free_pages(p->mem, spacers[i], 1);
	free(spacers);
	if (ret) {
		for (size_t i = 0; b->pages && i < got; i++)
			ik_mem_free_pages(p->mem, b->pages[i], 1);
		free(b->pages);
		free(b->sg);
		memset(b, 0, sizeof(*b));
	}
	return ret;
}

void isp_ubuf_free(struct isp_pipeline *p, struct isp_ubuf *b)
{
	if (b->dma_nents)
		isp_ubuf_unmap(p, b);
	for (size_t i = 0; b->pages && i < b->npages; i++)
		ik_mem_free_pages(p->mem, b->pages[i], 1);
	free(b->pages);
	free(b->sg);
	memset(b, 0, sizeof(*b));
}

/**
 * isp_ubuf_map - dma_map_sg a user buffer into one device-address range
 * @p: the pipeline
 * @b: an unmapped buffer
 * @dir: the DMA direction
 *
 * Return: 0; -ENOMEM (or the errno the DMA API set) if the map failed;
 * -EINVAL if the DMA layer did not make the buffer contiguous for the
 * device (then it is unmapped again).
 */
int isp_ubuf_map(struct isp_pipeline *p, struct isp_ubuf *b, enum dma_data_direction dir)
{
	size_t len = b->npages * ISP_PAGE_SIZE, total = 0;
	int n;

	if (b->dma_nents)
		return -EBUSY;
	errno = 0;
	n = ik_dma_map_sg_attrs(p->dev, b->sg, (int)b->npages, dir, 0);
	if (n <= 0)
		return errno ? -errno : -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (i && b->sg[i].dma_address != b->sg[i - 1].dma_address + b->sg[i - 1].dma_length)
			break;
		total += b->sg[i].dma_length;
	}
	if (total < len) {
		ik_dma_unmap_sg_attrs(p->dev, b->sg, (int)b->npages, dir, 0);
		return -EINVAL;
	}
	b->dma_nents = n;
	b->dir = dir;
	b->dma = b->sg[0].dma_address;
	p->st.map_calls++;
	isp_count_leaves(p, b->dma, len, p->st.maps);
	isp_note_dma_range(p, b->dma, len);
	return 0;
}

void isp_ubuf_unmap(struct isp_pipeline *p, struct isp_ubuf *b)
{
	if (!b->dma_nents)
		return;
	isp_count_leaves(p, b->dma, b->npages * ISP_PAGE_SIZE, p->st.unmaps);
	/* As in Linux, unmap takes the entries passed to map, not the segments it returned. */
	ik_dma_unmap_sg_attrs(p->dev, b->sg, (int)b->npages, b->dir, 0);
	p->st.unmap_calls++;
	b->dma_nents = 0;
	b->dma = 0;
}

int isp_ubuf_cpu_read(struct isp_pipeline *p, const struct isp_ubuf *b, size_t off, void *dst,
		      size_t len)
{
	uint8_t *d = dst;

	if (off > b->npages * ISP_PAGE_SIZE || len > b->npages * ISP_PAGE_SIZE - off)
		return -EINVAL;
	while (len) {
		size_t in = off % ISP_PAGE_SIZE, chunk = ISP_PAGE_SIZE - in;
		int ret;

		if (chunk > len)
			chunk = len;
		ret = ik_cpu_read(p->m, b->pages[off / ISP_PAGE_SIZE] + in, d, chunk);
		if (ret)
			return ret;
		d += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* --- coherent buffers --- */

int isp_cbuf_alloc(struct isp_pipeline *p, struct isp_cbuf *b, size_t size)
{
	errno = 0;
	b->cpu = ik_dma_alloc_coherent(p->dev, size, &b->dma, GFP_KERNEL);
	if (!b->cpu)
		return errno ? -errno : -ENOMEM;
	b->size = size;
	p->st.map_calls++;
	isp_count_leaves(p, b->dma, size, p->st.maps);
	isp_note_dma_range(p, b->dma, size);
	return 0;
}

void isp_cbuf_free(struct isp_pipeline *p, struct isp_cbuf *b)
{
	if (!b->cpu)
		return;
	isp_count_leaves(p, b->dma, b->size, p->st.unmaps);
	ik_dma_free_coherent(p->dev, b->size, b->cpu, b->dma);
	p->st.unmap_calls++;
	memset(b, 0, sizeof(*b));
}

/* --- the lens shading table --- */

int isp_lsc_alloc(struct isp_pipeline *p, struct isp_lscbuf *b, size_t size)
{
	int ret;

	b->dma = DMA_MAPPING_ERROR;
	b->npages = pages_of(size);
	ret = ik_mem_alloc_pages(p->mem, b->npages, ISP_PAGE_SIZE, &b->pa);
	if (ret) {
		b->npages = 0;
		return ret;
	}
	b->size = size;
	errno = 0;
	b->dma = ik_dma_map_page_attrs(p->dev, b->pa, 0, size, DMA_TO_DEVICE, 0);
	if (ik_dma_mapping_error(p->dev, b->dma)) {
		ret = errno ? -errno : -ENOMEM;
		ik_mem_free_pages(p->mem, b->pa, b->npages);
		memset(b, 0, sizeof(*b));
		b->dma = DMA_MAPPING_ERROR;
		return ret;
	}
	p->st.map_calls++;
	isp_count_leaves(p, b->dma, size, p->st.maps);
	isp_note_dma_range(p, b->dma, size);
	return 0;
}

void isp_lsc_free(struct isp_pipeline *p, struct isp_lscbuf *b)
{
	if (!b->npages)
		return;
	if (b->dma != DMA_MAPPING_ERROR) {
		isp_count_leaves(p, b->dma, b->size, p->st.unmaps);
		ik_dma_unmap_page_attrs(p->dev, b->dma, b->size, DMA_TO_DEVICE, 0);
		p->st.unmap_calls++;
	}
	ik_mem_free_pages(p->mem, b->pa, b->npages);
	memset(b, 0, sizeof(*b));
	b->dma = DMA_MAPPING_ERROR;
}
