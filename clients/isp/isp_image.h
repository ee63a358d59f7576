/* SPDX-License-Identifier: MIT */
/*
 * The ISP's image processing, independent of where pixels live: the sensor,
 * per-line kernels of the CCDC, PREVIEW, RESIZER, H3A AE/AWB and histogram
 * blocks, and the frame checksums. The DMA engines (isp_engines.c) run the
 * kernels on lines they move by DMA; the CPU reference (isp_image.c) runs
 * them on whole frames it computes from the sensor directly.
 *
 * Formats (OMAP3 ISP names in brackets):
 *  - raw: GRBG Bayer, 10-bit samples in 16-bit little-endian containers
 *    [SGRBG10]; the CCDC writes them to memory.
 *  - YUV: 4:2:2, Y0 U Y1 V byte order [YUYV8_2X8]; PREVIEW and RESIZER write it.
 *  - lines start at multiples of 32 bytes in memory (omap3isp's
 *    bpl_alignment for the CCDC, PREVIEW and RESIZER video nodes).
 */
#ifndef IK_CLIENT_ISP_IMAGE_H
#define IK_CLIENT_ISP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define ISP_BPL_ALIGN 32u

/* CCDC: DC level subtracted from every sample (the CCDC's DC subtract). */
#define ISP_CCDC_DCSUB 64u
/* CCDC lens shading: one gain per 2x2 position for each 16x16 paxel. */
#define ISP_LSC_PAXEL_SHIFT 4u
#define ISP_LSC_GAINS 4u /* bytes per paxel */

/* H3A AE/AWB. */
#define ISP_AEWB_MAX_WINS_H 8u
#define ISP_AEWB_MAX_WINS_V 8u
#define ISP_AEWB_INC 4u          /* sub-sampling step, pixels, both ways (even) */
#define ISP_AEWB_SAT_LIMIT 1000u /* a 2x2 block with any sample above is saturated */
#define ISP_AEWB_PACKET 16u      /* bytes: eight 16-bit accumulators */

/* Histogram: one region (the frame), 64 bins per Bayer position, 32-bit bins. */
#define ISP_HIST_BINS 64u
#define ISP_HIST_SIZE (ISP_HIST_BINS * 4u * 4u)

struct isp_geom {
	unsigned int w, h;          /* sensor frame */
	unsigned int ow, oh;        /* resizer output: w / 2 x h / 2 */
	size_t raw_bpl, yuv_bpl, out_bpl; /* bytes per line in memory */
	size_t raw_size, yuv_size, out_size;
	/* lens shading table */
	unsigned int lsc_cols, lsc_rows;
	size_t lsc_bpl, lsc_size;
	/* AE/AWB windows */
	unsigned int aewb_hc, aewb_vc;  /* windows across and down */
	unsigned int aewb_ww, aewb_wh;  /* window size, pixels (even) */
	unsigned int aewb_shift;        /* accumulators hold sum >> shift */
	size_t aewb_size;               /* bytes of statistics */
};

/* Work out every size from the frame size. -EINVAL if the size is unsupported. */
int isp_geom_init(struct isp_geom *g, unsigned int w, unsigned int h);

/* Position in the 2x2 Bayer block: 0 Gr, 1 R, 2 B, 3 Gb (GRBG). */
static inline unsigned int isp_bayer_pos(unsigned int x, unsigned int y)
{
	return ((y & 1u) << 1) | (x & 1u);
}

/* Sensor: line @y of frame @n, @g->w samples. */
void isp_sensor_line(const struct isp_geom *g, unsigned int n, unsigned int y, uint16_t *line);

/* The lens shading table the CPU programs for frame @n: @g->lsc_size bytes. */
void isp_lsc_table(const struct isp_geom *g, unsigned int n, uint8_t *table);

/* CCDC: DC subtract and lens shading of one line (@gains: its paxel row of the table). */
void isp_ccdc_line(const struct isp_geom *g, unsigned int y, const uint16_t *in,
		   const uint8_t *gains, uint16_t *out);

/* PREVIEW: demosaic + RGB to YUV of line @y from raw lines y-1, y, y+1 (mirrored at edges). */
void isp_preview_line(const struct isp_geom *g, unsigned int y, const uint16_t *above,
		      const uint16_t *cur, const uint16_t *below, uint8_t *yuyv);
/* Which raw line PREVIEW reads for line @y (-1 <= y <= h): mirrored at the edges. */
unsigned int isp_mirror(int i, unsigned int n);

/* RESIZER: one output line from input lines 2y and 2y + 1 (2:1 averaging both ways). */
void isp_resizer_line(const struct isp_geom *g, const uint8_t *in0, const uint8_t *in1,
		      uint8_t *out);

/* H3A AE/AWB: accumulators of a frame. */
struct isp_aewb_acc {
	uint32_t sum_clip[ISP_AEWB_MAX_WINS_H * ISP_AEWB_MAX_WINS_V][4];
	uint32_t sum_unsat[ISP_AEWB_MAX_WINS_H * ISP_AEWB_MAX_WINS_V][4];
	uint32_t unsat_blocks[ISP_AEWB_MAX_WINS_H * ISP_AEWB_MAX_WINS_V];
};
void isp_aewb_reset(struct isp_aewb_acc *a);
/* Feed CCDC output lines @y and @y + 1 (@y even): the 2x2 blocks they hold. */
void isp_aewb_lines(const struct isp_geom *g, struct isp_aewb_acc *a, unsigned int y,
		    const uint16_t *l0, const uint16_t *l1);
/* The statistics as the engine writes them: @g->aewb_size bytes. */
void isp_aewb_pack(const struct isp_geom *g, const struct isp_aewb_acc *a, uint8_t *out);

/* Histogram. */
struct isp_hist_acc {
	uint32_t bins[4][ISP_HIST_BINS];
};
void isp_hist_reset(struct isp_hist_acc *h);
void isp_hist_line(const struct isp_geom *g, struct isp_hist_acc *h, unsigned int y,
		   const uint16_t *line);
void isp_hist_pack(const struct isp_hist_acc *h, uint8_t *out); /* ISP_HIST_SIZE bytes */

/* FNV-1a, 64-bit: the frame checksums. */
#define ISP_FNV_INIT 0xcbf29ce484222325ULL
uint64_t isp_fnv1a(uint64_t h, const void *p, size_t len);

/* Checksums of one frame's products, as the CPU reference or as read back. */
struct isp_sums {
	uint64_t raw, yuv, out, aewb, hist;
};

/* The CPU reference: every product of frame @n. Owns its work arrays. */
struct isp_ref;
struct isp_ref *isp_ref_create(const struct isp_geom *g);
void isp_ref_destroy(struct isp_ref *r);
/* Compute frame @n; 0 or -ENOMEM never (arrays are allocated up front). */
void isp_ref_frame(struct isp_ref *r, unsigned int n, struct isp_sums *sums);

#endif /* IK_CLIENT_ISP_IMAGE_H */
