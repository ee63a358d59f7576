// SPDX-License-Identifier: MIT
/*
 * The camera pipeline: set-up, streams, one frame at a time, checks.
 *
 * The buffer flow follows Linux's omap3isp and videobuf2:
 *  - the ISP gets a DMA domain with a device-address window of 2 GiB at
 *    1 GiB (isp_attach_iommu(): arm_iommu_create_mapping(..., SZ_1G, SZ_2G)),
 *    strict (IOMMU_DOMAIN_DMA) or lazy (IOMMU_DOMAIN_DMA_FQ);
 *  - its DMA mask is 32 bits and its segments unlimited (omap3isp sets
 *    vb2_dma_contig_set_max_seg_size(dev, DMA_BIT_MASK(32))), so a mapped
 *    scatterlist is one device-address range;
 *  - the raw frame ring is mapped while streaming; each raw buffer is
 *    handed to the CPU (dma_sync_sg_for_cpu) to be checked and back
 *    (dma_sync_sg_for_device) when re-queued;
 *  - output buffers are mapped when queued and unmapped once the CPU has
 *    looked at them, as videobuf2 does for USERPTR buffers;
 *  - the CPU rewrites the lens shading table between frames, between
 *    dma_sync_single_for_cpu and dma_sync_single_for_device;
 *  - statistics buffers come from iovmm and are synced for the CPU before
 *    it reads them and for the device before the ISP writes them again
 *    (omap3isp's isp_stat_buf_sync_for_cpu/_for_device);
 *  - between streams the ISP is powered off; its MMU loses its registers,
 *    so the context is saved before and restored after
 *    (omap3isp's isp_save_ctx()/isp_restore_ctx() around power transitions
 *    call omap_iommu_save_ctx()/omap_iommu_restore_ctx()). Only the OMAP
 *    MMU needs that; on another IOMMU the step is skipped.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "isp/isp_internal.h"

static int isp_fault(struct iommu_domain *domain, struct device *dev, dma_addr_t iova,
		     int flags, void *token)
{
	struct isp_pipeline *p = token;

	(void)domain, (void)dev, (void)iova, (void)flags;
	__atomic_add_fetch(&p->st.faults, 1, __ATOMIC_RELAXED);
	return 0; /* counted; the faulting access is aborted and its engine reports it */
}

const char *isp_check_name(enum isp_check c)
{
	static const char *const names[ISP_CHECK_NR] = {
		[ISP_CHECK_RAW] = "raw",
		[ISP_CHECK_YUV] = "yuv",
		[ISP_CHECK_OUT] = "out",
		[ISP_CHECK_AEWB] = "aewb",
		[ISP_CHECK_HIST] = "hist",
	};
	return (unsigned int)c < ISP_CHECK_NR ? names[c] : "?";
}

static int alloc_lines(struct isp_pipeline *p)
{
	const struct isp_geom *g = &p->g;
	size_t stat = g->aewb_size > ISP_HIST_SIZE ? g->aewb_size : ISP_HIST_SIZE;

	p->sensor_line = malloc((size_t)g->w * sizeof(uint16_t));
	for (int i = 0; i < 2; i++) {
		p->ccdc_line[i] = malloc((size_t)g->w * sizeof(uint16_t));
		p->yuv_lines[i] = malloc((size_t)g->w * 2);
	}
	for (int i = 0; i < 3; i++)
		p->prev_lines[i] = malloc((size_t)g->w * sizeof(uint16_t));
	p->le_line = malloc((size_t)g->w * 2);
	p->out_line = malloc((size_t)g->ow * 2);
	p->lsc_row = malloc(g->lsc_bpl);
	p->lsc_cpu = malloc(g->lsc_size);
	p->stat_cpu = malloc(stat);
	p->ref = isp_ref_create(g);
	if (!p->sensor_line || !p->ccdc_line[0] || !p->ccdc_line[1] || !p->yuv_lines[0] ||
	    !p->yuv_lines[1] || !p->prev_lines[0] || !p->prev_lines[1] || !p->prev_lines[2] ||
	    !p->le_line || !p->out_line || !p->lsc_row || !p->lsc_cpu || !p->stat_cpu || !p->ref)
		return -ENOMEM;
	return 0;
}

static void free_lines(struct isp_pipeline *p)
{
	free(p->sensor_line);
	for (int i = 0; i < 2; i++) {
		free(p->ccdc_line[i]);
		free(p->yuv_lines[i]);
	}
	for (int i = 0; i < 3; i++)
		free(p->prev_lines[i]);
	free(p->le_line);
	free(p->out_line);
	free(p->lsc_row);
	free(p->lsc_cpu);
	free(p->stat_cpu);
	isp_ref_destroy(p->ref);
}

static int power_on(struct isp_pipeline *p)
{
	const char *mmu = ik_device_iommu_name(p->dev);
	int ret;

	if (!p->powered_off)
		return 0;
	ret = ik_machine_iommu_power(p->m, mmu, true);
	if (!ret)
		ret = ik_omap_iommu_restore_ctx(p->dev);
	if (!ret) {
		p->powered_off = false;
		p->st.power_cycles++;
	}
	return ret;
}

static int power_off(struct isp_pipeline *p)
{
	int ret;

	if (!p->omap_ctx || p->powered_off)
		return 0;
	ret = ik_omap_iommu_save_ctx(p->dev);
	if (!ret)
		ret = ik_machine_iommu_power(p->m, ik_device_iommu_name(p->dev), false);
	if (!ret)
		p->powered_off = true;
	return ret;
}

/* The DMA domain with the ISP's window, attached to the ISP's whole group. */
static int setup_domain(struct isp_pipeline *p)
{
	int ret;

	ret = ik_dma_set_mask_and_coherent(p->dev, DMA_BIT_MASK(32));
	if (!ret)
		ret = ik_dma_set_max_seg_size(p->dev, UINT_MAX);
	if (ret)
		return ret;
	p->group = ik_iommu_group_get(p->dev);
	if (!p->group)
		return -ENODEV;
	p->domain = ik_iommu_domain_alloc_type(p->dev, p->params.lazy ? IOMMU_DOMAIN_DMA_FQ :
								      IOMMU_DOMAIN_DMA);
	if (!p->domain)
		return errno ? -errno : -ENOMEM;
	ret = ik_iommu_dma_set_window(p->domain, ISP_DMA_WINDOW_BASE, ISP_DMA_WINDOW_SIZE);
	if (ret)
		return ret;
	ik_iommu_set_fault_handler(p->domain, isp_fault, p);
	ret = ik_iommu_attach_group(p->domain, p->group);
	if (ret)
		return ret;
	p->attached = true;
	p->omap_ctx = ik_omap_iommu_tlb_size(p->dev) > 0;
	return 0;
}

static int alloc_buffers(struct isp_pipeline *p)
{
	const struct isp_geom *g = &p->g;
	int ret = 0;

	ret = isp_cbuf_alloc(p, &p->yuv, g->yuv_size);
	if (!ret)
		ret = isp_lsc_alloc(p, &p->lsc, g->lsc_size);
	/*
	 * iovmm shares the DMA layer's IOVA allocator, in the same window; the
	 * DMA layer has made it by now (it does so on the domain's first use).
	 */
	if (!ret) {
		p->vm = ik_iovmm_create(p->domain, ISP_DMA_WINDOW_BASE,
					ISP_DMA_WINDOW_BASE + ISP_DMA_WINDOW_SIZE - 1);
		if (!p->vm)
			ret = errno ? -errno : -ENOMEM;
	}
	for (unsigned int i = 0; i < ISP_RAW_BUFS && !ret; i++)
		ret = isp_ubuf_alloc(p, &p->raw[i], g->raw_size, i + 1);
	for (unsigned int i = 0; i < ISP_OUT_BUFS && !ret; i++)
		ret = isp_ubuf_alloc(p, &p->out[i], g->out_size, i + 101);
	for (unsigned int i = 0; i < ISP_STAT_BUFS && !ret; i++) {
		ret = isp_stat_alloc(p, &p->aewb[i], g->aewb_size);
		if (!ret)
			ret = isp_stat_alloc(p, &p->hist[i], ISP_HIST_SIZE);
	}
	return ret;
}

static void free_buffers(struct isp_pipeline *p)
{
	for (unsigned int i = 0; i < ISP_STAT_BUFS; i++) {
		isp_stat_free(p, &p->aewb[i]);
		isp_stat_free(p, &p->hist[i]);
	}
	isp_lsc_free(p, &p->lsc);
	isp_cbuf_free(p, &p->yuv);
	for (unsigned int i = 0; i < ISP_OUT_BUFS; i++)
		isp_ubuf_free(p, &p->out[i]);
	for (unsigned int i = 0; i < ISP_RAW_BUFS; i++)
		isp_ubuf_free(p, &p->raw[i]);
}

void isp_pipeline_destroy(struct isp_pipeline *p)
{
	if (!p)
		return;
	if (p->streaming)
		isp_stream_stop(p);
	/* Tear down with the MMU running, as a driver's remove() does. */
	power_on(p);
	if (p->domain)
		free_buffers(p);
	ik_iovmm_destroy(p->vm);
	if (p->attached)
		ik_iommu_detach_group(p->domain, p->group);
	if (p->domain)
		ik_iommu_domain_free(p->domain);
	if (p->group)
		ik_iommu_group_put(p->group);
	free_lines(p);
	free(p);
}

int isp_pipeline_create(struct ik_machine *m, struct device *dev,
			const struct isp_params *params, struct isp_pipeline **out)
{
	struct isp_pipeline *p;
	int ret;

	if (!m || !dev || !params || !out || (unsigned int)params->drop_sync >= ISP_SYNC_NR)
		return -EINVAL;
	*out = NULL;
	if (!ik_device_iommu_name(dev))
		return -ENODEV;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->m = m;
	p->mem = ik_machine_mem(m);
	p->dev = dev;
	p->params = *params;
	p->lsc.dma = DMA_MAPPING_ERROR;
	ret = isp_geom_init(&p->g, params->width, params->height);
	if (!ret)
		ret = alloc_lines(p);
	if (!ret)
		ret = setup_domain(p);
	if (!ret)
		ret = alloc_buffers(p);
	if (ret) {
		isp_pipeline_destroy(p);
		return ret;
	}
	*out = p;
	return 0;
}

int isp_stream_start(struct isp_pipeline *p)
{
	int ret;

	if (!p)
		return -EINVAL;
	if (p->streaming)
		return -EBUSY;
	ret = power_on(p);
	for (unsigned int i = 0; i < ISP_RAW_BUFS && !ret; i++) {
		ret = isp_ubuf_map(p, &p->raw[i], DMA_BIDIRECTIONAL);
		if (ret)
			while (i--)
				isp_ubuf_unmap(p, &p->raw[i]);
	}
	if (ret)
		return ret;
	p->streaming = true;
	p->st.streams++;
	return 0;
}

int isp_stream_stop(struct isp_pipeline *p)
{
	if (!p || !p->streaming)
		return -EINVAL;
	for (unsigned int i = 0; i < ISP_RAW_BUFS; i++)
		isp_ubuf_unmap(p, &p->raw[i]);
	p->streaming = false;
	return power_off(p);
}

/* Checksum of @lines lines of @len bytes, @bpl apart, in a user buffer as the CPU sees it. */
static int ubuf_sum(struct isp_pipeline *p, const struct isp_ubuf *b, unsigned int lines,
		    size_t len, size_t bpl, uint8_t *tmp, uint64_t *sum)
{
	uint64_t h = ISP_FNV_INIT;

	for (unsigned int y = 0; y < lines; y++) {
		int ret = isp_ubuf_cpu_read(p, b, y * bpl, tmp, len);

		if (ret)
			return ret;
		h = isp_fnv1a(h, tmp, len);
	}
	*sum = h;
	return 0;
}

static int stat_sum(struct isp_pipeline *p, const struct isp_statbuf *b, size_t len,
		    uint64_t *sum)
{
	int ret = isp_stat_cpu_read(p, b, p->stat_cpu, len);

	if (!ret)
		*sum = isp_fnv1a(ISP_FNV_INIT, p->stat_cpu, len);
	return ret;
}

/* Hand the frame's buffers to the CPU, read them back and compare with the reference. */
static int check_frame(struct isp_pipeline *p, unsigned int n, struct isp_ubuf *raw,
		       struct isp_ubuf *out, struct isp_statbuf *aewb, struct isp_statbuf *hist,
		       unsigned int *bad)
{
	const struct isp_geom *g = &p->g;
	enum isp_sync drop = p->params.drop_sync;
	struct isp_sums want, got;
	int ret;

	isp_ref_frame(p->ref, n, &want);

	if (drop != ISP_SYNC_RAW_FOR_CPU)
		ik_dma_sync_sg_for_cpu(p->dev, raw->sg, (int)raw->npages, DMA_BIDIRECTIONAL);
	ret = ubuf_sum(p, raw, g->h, (size_t)g->w * 2, g->raw_bpl, p->le_line, &got.raw);
	ik_dma_sync_sg_for_device(p->dev, raw->sg, (int)raw->npages, DMA_BIDIRECTIONAL);
	if (ret)
		return ret;

	/* Coherent memory: the CPU reads it as it is, no sync. */
	got.yuv = ISP_FNV_INIT;
	for (unsigned int y = 0; y < g->h; y++)
		got.yuv = isp_fnv1a(got.yuv, (const uint8_t *)p->yuv.cpu + y * g->yuv_bpl,
				    (size_t)g->w * 2);

	ik_dma_sync_sg_for_cpu(p->dev, out->sg, (int)out->npages, DMA_FROM_DEVICE);
	ret = ubuf_sum(p, out, g->oh, (size_t)g->ow * 2, g->out_bpl, p->out_line, &got.out);
	if (ret)
		return ret;

	ik_dma_sync_sg_for_cpu(p->dev, aewb->sg, aewb->nents, DMA_FROM_DEVICE);
	ik_dma_sync_sg_for_cpu(p->dev, hist->sg, hist->nents, DMA_FROM_DEVICE);
	ret = stat_sum(p, aewb, g->aewb_size, &got.aewb);
	if (!ret)
		ret = stat_sum(p, hist, ISP_HIST_SIZE, &got.hist);
	ik_dma_sync_sg_for_device(p->dev, aewb->sg, aewb->nents, DMA_FROM_DEVICE);
	ik_dma_sync_sg_for_device(p->dev, hist->sg, hist->nents, DMA_FROM_DEVICE);
	if (ret)
		return ret;

	*bad = (got.raw != want.raw) << ISP_CHECK_RAW | (got.yuv != want.yuv) << ISP_CHECK_YUV |
	       (got.out != want.out) << ISP_CHECK_OUT | (got.aewb != want.aewb) << ISP_CHECK_AEWB |
	       (got.hist != want.hist) << ISP_CHECK_HIST;
	return 0;
}

/* The CPU programs the lens shading table for frame @n. */
static int write_lsc(struct isp_pipeline *p, unsigned int n)
{
	int ret;

	ik_dma_sync_single_for_cpu(p->dev, p->lsc.dma, p->lsc.size, DMA_TO_DEVICE);
	isp_lsc_table(&p->g, n, p->lsc_cpu);
	ret = ik_cpu_write(p->m, p->lsc.pa, p->lsc_cpu, p->lsc.size);
	if (p->params.drop_sync != ISP_SYNC_LSC_FOR_DEVICE)
		ik_dma_sync_single_for_device(p->dev, p->lsc.dma, p->lsc.size, DMA_TO_DEVICE);
	return ret;
}

int isp_capture_frame(struct isp_pipeline *p, unsigned int *bad_checks)
{
	unsigned int bad = 0, n;
	struct isp_ubuf *raw, *out;
	struct isp_statbuf *aewb, *hist;
	int ret;

	if (bad_checks)
		*bad_checks = 0;
	if (!p || !p->streaming)
		return -EINVAL;
	n = p->frame++;
	raw = &p->raw[n % ISP_RAW_BUFS];
	out = &p->out[n % ISP_OUT_BUFS];
	aewb = &p->aewb[n % ISP_STAT_BUFS];
	hist = &p->hist[n % ISP_STAT_BUFS];

	ret = isp_ubuf_map(p, out, DMA_FROM_DEVICE); /* QBUF */
	if (ret)
		return ret;
	ret = write_lsc(p, n);
	if (!ret)
		ret = isp_ccdc_run(p, n, raw, aewb, hist);
	if (!ret)
		ret = isp_preview_run(p, raw);
	if (!ret)
		ret = isp_resizer_run(p, out);
	if (!ret)
		ret = check_frame(p, n, raw, out, aewb, hist, &bad); /* DQBUF */
	isp_ubuf_unmap(p, out);

	p->st.frames++;
	if (ret)
		bad = (1u << ISP_CHECK_NR) - 1; /* nothing of a failed frame can be trusted */
	for (unsigned int c = 0; c < ISP_CHECK_NR; c++)
		p->st.check_bad[c] += (bad >> c) & 1;
	if (bad)
		p->st.frames_bad++;
	else
		p->st.frames_ok++;
	if (bad_checks)
		*bad_checks = bad;
	return ret;
}

void isp_get_stats(const struct isp_pipeline *p, struct isp_stats *st)
{
	if (!p || !st)
		return;
	*st = p->st;
	st->faults = __atomic_load_n(&p->st.faults, __ATOMIC_RELAXED);
}

struct iommu_domain *isp_pipeline_domain(struct isp_pipeline *p)
{
	return p ? p->domain : NULL;
}

bool isp_pipeline_has_power_ctx(const struct isp_pipeline *p)
{
	return p && p->omap_ctx;
}

void isp_pipeline_out_size(const struct isp_pipeline *p, unsigned int *w, unsigned int *h)
{
	if (!p || !w || !h)
		return;
	*w = p->g.ow;
	*h = p->g.oh;
}

int isp_pipeline_buffer(const struct isp_pipeline *p, enum isp_buffer_kind kind,
			unsigned int index, dma_addr_t *dma, size_t *size)
{
	const struct isp_ubuf *u = NULL;
	const struct isp_statbuf *s = NULL;

	if (!p || !dma || !size)
		return -EINVAL;
	switch (kind) {
	case ISP_BUF_RAW:
		u = index < ISP_RAW_BUFS ? &p->raw[index] : NULL;
		break;
	case ISP_BUF_OUT:
		u = index < ISP_OUT_BUFS ? &p->out[index] : NULL;
		break;
	case ISP_BUF_AEWB:
		s = index < ISP_STAT_BUFS ? &p->aewb[index] : NULL;
		break;
	case ISP_BUF_HIST:
		s = index < ISP_STAT_BUFS ? &p->hist[index] : NULL;
		break;
	case ISP_BUF_YUV:
		if (index || !p->yuv.cpu)
			return -ENOENT;
		*dma = p->yuv.dma;
		*size = p->yuv.size;
		return 0;
	case ISP_BUF_LSC:
		if (index || p->lsc.dma == DMA_MAPPING_ERROR)
			return -ENOENT;
		*dma = p->lsc.dma;
		*size = p->lsc.size;
		return 0;
	}
	if (u && u->dma_nents) {
		*dma = u->dma;
		*size = u->npages * ISP_PAGE_SIZE;
		return 0;
	}
	if (s && s->da) {
		*dma = s->da;
		*size = s->size;
		return 0;
	}
	return -ENOENT;
}
