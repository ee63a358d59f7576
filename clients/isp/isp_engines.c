// SPDX-License-Identifier: MIT
/*
 * The ISP's DMA engines: CCDC (with H3A AE/AWB and the histogram on its
 * output), PREVIEW and RESIZER, working line by line as the hardware's
 * line memories do. Every byte they move goes through ik_dma_read/
 * ik_dma_write on the one ISP device, and so through the ISP's MMU.
 *
 * OMAP3 ISP data path (OMAP35x TRM, camera ISP chapter): the CCDC takes the
 * sensor's pixels from the parallel port and writes raw frames to memory;
 * PREVIEW and RESIZER can each read their input from memory
 * (memory-to-memory) and write their output to memory; H3A and the
 * histogram take the CCDC's output and write statistics to memory.
 */
#include <errno.h>
#include <string.h>

#include "isp/isp_internal.h"

static int dma_rd(struct isp_pipeline *p, dma_addr_t addr, void *buf, size_t len)
{
	int ret = ik_dma_read(p->dev, addr, buf, len);

	if (!ret)
		p->st.dma_read_bytes += len;
	return ret;
}

static int dma_wr(struct isp_pipeline *p, dma_addr_t addr, const void *buf, size_t len)
{
	int ret = ik_dma_write(p->dev, addr, buf, len);

	if (!ret)
		p->st.dma_write_bytes += len;
	return ret;
}

static void pack_le16(const uint16_t *in, uint8_t *out, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = (uint8_t)in[i];
		out[2 * i + 1] = (uint8_t)(in[i] >> 8);
	}
}

static void unpack_le16(const uint8_t *in, uint16_t *out, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		out[i] = (uint16_t)(in[2 * i] | in[2 * i + 1] << 8);
}

/**
 * isp_ccdc_run - capture frame @n from the sensor
 * @p: the pipeline
 * @n: frame number (what the sensor shows)
 * @raw: mapped raw buffer the CCDC writes
 * @aewb: AE/AWB statistics buffer
 * @hist: histogram buffer
 *
 * Return: 0, or the error of the DMA access that failed (-EFAULT on a fault).
 */
int isp_ccdc_run(struct isp_pipeline *p, unsigned int n, const struct isp_ubuf *raw,
		 const struct isp_statbuf *aewb, const struct isp_statbuf *hist)
{
	const struct isp_geom *g = &p->g;
	int ret = 0;

	isp_aewb_reset(&p->aewb_acc);
	isp_hist_reset(&p->hist_acc);
	for (unsigned int y = 0; y < g->h && !ret; y++) {
		uint16_t *out = p->ccdc_line[y & 1];

		/* The LSC block fetches one row of paxel gains per paxel row. */
		if (!(y & ((1u << ISP_LSC_PAXEL_SHIFT) - 1))) {
			ret = dma_rd(p, p->lsc.dma + (y >> ISP_LSC_PAXEL_SHIFT) * g->lsc_bpl,
				     p->lsc_row, (size_t)g->lsc_cols * ISP_LSC_GAINS);
			if (ret)
				break;
		}
		isp_sensor_line(g, n, y, p->sensor_line);
		isp_ccdc_line(g, y, p->sensor_line, p->lsc_row, out);
		isp_hist_line(g, &p->hist_acc, y, out);
		if (y & 1)
			isp_aewb_lines(g, &p->aewb_acc, y - 1, p->ccdc_line[0], p->ccdc_line[1]);
		pack_le16(out, p->le_line, g->w);
		ret = dma_wr(p, raw->dma + y * g->raw_bpl, p->le_line, (size_t)g->w * 2);
	}
	if (ret)
		return ret;

	/* End of frame: the statistics engines write out what they gathered. */
	isp_aewb_pack(g, &p->aewb_acc, p->stat_cpu);
	ret = dma_wr(p, aewb->da, p->stat_cpu, g->aewb_size);
	if (ret)
		return ret;
	isp_hist_pack(&p->hist_acc, p->stat_cpu);
	return dma_wr(p, hist->da, p->stat_cpu, ISP_HIST_SIZE);
}

/* PREVIEW's line memories: raw line @y, read from memory once. */
static int preview_fetch(struct isp_pipeline *p, const struct isp_ubuf *raw, unsigned int y,
			 unsigned int *tags, const uint16_t **line)
{
	unsigned int slot = y % 3;

	if (tags[slot] != y) {
		int ret = dma_rd(p, raw->dma + y * p->g.raw_bpl, p->le_line, (size_t)p->g.w * 2);

		if (ret)
			return ret;
		unpack_le16(p->le_line, p->prev_lines[slot], p->g.w);
		tags[slot] = y;
	}
	*line = p->prev_lines[slot];
	return 0;
}

/**
 * isp_preview_run - PREVIEW, memory to memory: raw frame to the YUV buffer
 * @p: the pipeline
 * @raw: the raw frame the CCDC wrote
 *
 * Return: 0, or the error of the DMA access that failed.
 */
int isp_preview_run(struct isp_pipeline *p, const struct isp_ubuf *raw)
{
	const struct isp_geom *g = &p->g;
	unsigned int tags[3] = { ~0u, ~0u, ~0u };
	int ret = 0;

	for (unsigned int y = 0; y < g->h && !ret; y++) {
		const uint16_t *above, *cur, *below;

		ret = preview_fetch(p, raw, y, tags, &cur);
		if (!ret)
			ret = preview_fetch(p, raw, isp_mirror((int)y - 1, g->h), tags, &above);
		if (!ret)
			ret = preview_fetch(p, raw, isp_mirror((int)y + 1, g->h), tags, &below);
		if (ret)
			break;
		isp_preview_line(g, y, above, cur, below, p->yuv_lines[0]);
		ret = dma_wr(p, p->yuv.dma + y * g->yuv_bpl, p->yuv_lines[0], (size_t)g->w * 2);
	}
	return ret;
}

/**
 * isp_resizer_run - RESIZER, memory to memory: the YUV frame down-scaled 2:1
 * @p: the pipeline
 * @out: mapped output buffer
 *
 * Return: 0, or the error of the DMA access that failed.
 */
int isp_resizer_run(struct isp_pipeline *p, const struct isp_ubuf *out)
{
	const struct isp_geom *g = &p->g;
	size_t in_len = (size_t)g->w * 2;
	int ret = 0;

	for (unsigned int y = 0; y < g->oh && !ret; y++) {
		ret = dma_rd(p, p->yuv.dma + 2 * y * g->yuv_bpl, p->yuv_lines[0], in_len);
		if (!ret)
			ret = dma_rd(p, p->yuv.dma + (2 * y + 1) * g->yuv_bpl, p->yuv_lines[1],
				     in_len);
		if (ret)
			break;
		isp_resizer_line(g, p->yuv_lines[0], p->yuv_lines[1], p->out_line);
		ret = dma_wr(p, out->dma + y * g->out_bpl, p->out_line, (size_t)g->ow * 2);
	}
	return ret;
}
