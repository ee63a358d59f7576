// SPDX-License-Identifier: MIT
/*
 * The ISP's image processing and the CPU reference of a frame.
 *
 * What is modelled on the OMAP3 ISP (OMAP35x TRM SPRUF98 / OMAP36xx TRM
 * SWPU177, chapter "Camera Image Signal Processor"; Linux omap3isp for the
 * defaults), and what is simplified:
 *  - CCDC: DC subtract, then lens shading compensation with one 8-bit gain
 *    per 2x2 Bayer position of each 2^N x 2^M paxel, read from a table in
 *    memory by the CCDC's own DMA. The hardware interpolates gains between
 *    paxel corners; here each paxel uses its gains flat. Gains are U8Q8
 *    added to 1.0 (one of the CCDC's gain formats).
 *  - PREVIEW: CFA interpolation and RGB to YCbCr conversion with the
 *    omap3isp default matrix {66, 129, 25; -38, -75, 112; 112, -94, -18}
 *    (Q8) plus the usual 16/128 offsets, then 4:2:2 by averaging chroma
 *    pairs. The hardware's CFA filter is adaptive and crops a few border
 *    pixels; here it is bilinear with mirrored borders, so the frame keeps
 *    its size. 10-bit data go to 8 bits by dropping the two LSBs (gamma
 *    bypassed).
 *  - RESIZER: the hardware has 4/7-tap polyphase filters; here a fixed 2:1
 *    down-scale by averaging 2x2 pixels (and chroma pairs).
 *  - H3A AE/AWB: windows of 2x2 blocks sub-sampled every ISP_AEWB_INC
 *    pixels; per window eight 16-bit accumulators, one per position of the
 *    2x2 block in two sets (samples clipped at the saturation limit; samples
 *    of unsaturated blocks only), and a count of unsaturated blocks per
 *    window, written as one 16-byte packet after every 8 windows (the
 *    packet layout is this model's; the sizes follow omap3isp's
 *    h3a_aewb_get_buf_size, less the black-level row, not modelled).
 *  - Histogram: one region, 64 bins for each Bayer position, 32-bit bins,
 *    OMAP3ISP_HIST_MEM_SIZE_BINS(64 bins) = 1 KiB. The hardware keeps the
 *    bins in internal memory read out by the CPU or sDMA; here the ISP writes
 *    them to memory itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "isp/isp.h"
#include "isp/isp_image.h"

static inline size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline unsigned int umin(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

int isp_geom_init(struct isp_geom *g, unsigned int w, unsigned int h)
{
	if (w < ISP_MIN_WIDTH || w > ISP_MAX_WIDTH || (w & 3) || h < ISP_MIN_HEIGHT ||
	    h > ISP_MAX_HEIGHT || (h & 1))
		return -EINVAL;
	memset(g, 0, sizeof(*g));
	g->w = w;
	g->h = h;
	g->ow = w / 2;
	g->oh = h / 2;
	g->raw_bpl = align_up((size_t)w * 2, ISP_BPL_ALIGN);
	g->yuv_bpl = align_up((size_t)w * 2, ISP_BPL_ALIGN);
	g->out_bpl = align_up((size_t)g->ow * 2, ISP_BPL_ALIGN);
	g->raw_size = g->raw_bpl * h;
	g->yuv_size = g->yuv_bpl * h;
	g->out_size = g->out_bpl * g->oh;

	g->lsc_cols = (w + (1u << ISP_LSC_PAXEL_SHIFT) - 1) >> ISP_LSC_PAXEL_SHIFT;
	g->lsc_rows = (h + (1u << ISP_LSC_PAXEL_SHIFT) - 1) >> ISP_LSC_PAXEL_SHIFT;
	g->lsc_bpl = align_up((size_t)g->lsc_cols * ISP_LSC_GAINS, ISP_BPL_ALIGN);
	g->lsc_size = g->lsc_bpl * g->lsc_rows;

	g->aewb_hc = umin(ISP_AEWB_MAX_WINS_H, w / 16);
	g->aewb_vc = umin(ISP_AEWB_MAX_WINS_V, h / 16);
	g->aewb_ww = (w / g->aewb_hc) & ~1u;
	g->aewb_wh = (h / g->aewb_vc) & ~1u;
	/* Shift sums so a window of saturated samples still fits 16 bits. */
	uint64_t blocks = (uint64_t)((g->aewb_ww + ISP_AEWB_INC - 1) / ISP_AEWB_INC) *
			  ((g->aewb_wh + ISP_AEWB_INC - 1) / ISP_AEWB_INC);
	while (((blocks * 1023) >> g->aewb_shift) > 0xffff)
		g->aewb_shift++;
	unsigned int wins = g->aewb_hc * g->aewb_vc;
	g->aewb_size = (size_t)(wins + (wins + 7) / 8) * ISP_AEWB_PACKET;
	return 0;
}

/* A small integer hash for sensor noise. */
static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t h = a * 0x9e3779b1u ^ b * 0x85ebca77u ^ c * 0xc2b2ae3du;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h;
}

/*
 * The scene: a ramp per colour moving with the frame number, a bright disc
 * that clips (so the AE/AWB saturation logic has work), and noise. Every
 * frame differs from the one before.
 */
void isp_sensor_line(const struct isp_geom *g, unsigned int n, unsigned int y, uint16_t *line)
{
	unsigned int cx = (n * 13u + g->w / 3) % g->w, cy = g->h / 2;
	unsigned int rad = g->h / 6 + 1;
	unsigned int dy = y > cy ? y - cy : cy - y;

	for (unsigned int x = 0; x < g->w; x++) {
		unsigned int pos = isp_bayer_pos(x, y);
		unsigned int dx = x > cx ? x - cx : cx - x;
		int v;

		if (pos == 1) /* red: across */
			v = (int)((x * 1024u / g->w + n * 37u) & 1023u);
		else if (pos == 2) /* blue: diagonal */
			v = (int)(((x + y) * 1024u / (g->w + g->h) + 512u + n * 29u) & 1023u);
		else /* green: down */
			v = (int)((y * 1024u / g->h + n * 53u) & 1023u);
		if (dx * dx + dy * dy < rad * rad)
			v = 1023;
		v += (int)(hash3(x, y, n) & 15u) - 8;
		line[x] = (uint16_t)(v < 0 ? 0 : v > 1023 ? 1023 : v);
	}
}

/* Radial fall-off compensation whose strength the AE/AWB loop retunes each frame. */
void isp_lsc_table(const struct isp_geom *g, unsigned int n, uint8_t *table)
{
	uint64_t rmax2 = (uint64_t)(g->w / 2) * (g->w / 2) + (uint64_t)(g->h / 2) * (g->h / 2);
	unsigned int strength = 96 + (n % 5) * 32;

	memset(table, 0, g->lsc_size);
	for (unsigned int r = 0; r < g->lsc_rows; r++) {
		uint8_t *row = table + r * g->lsc_bpl;
		int64_t dy = (int64_t)(r << ISP_LSC_PAXEL_SHIFT) + 8 - g->h / 2;

		for (unsigned int c = 0; c < g->lsc_cols; c++) {
			int64_t dx = (int64_t)(c << ISP_LSC_PAXEL_SHIFT) + 8 - g->w / 2;
			uint64_t r2 = (uint64_t)(dx * dx + dy * dy);
			uint64_t gain = r2 * strength / rmax2;

			for (unsigned int pos = 0; pos < ISP_LSC_GAINS; pos++) {
				uint64_t gp = gain + pos * 4 + (n & 3);
				row[c * ISP_LSC_GAINS + pos] = (uint8_t)(gp > 255 ? 255 : gp);
			}
		}
	}
}

void isp_ccdc_line(const struct isp_geom *g, unsigned int y, const uint16_t *in,
		   const uint8_t *gains, uint16_t *out)
{
	for (unsigned int x = 0; x < g->w; x++) {
		uint32_t v = in[x] > ISP_CCDC_DCSUB ? in[x] - ISP_CCDC_DCSUB : 0;
		uint32_t gain = gains[(x >> ISP_LSC_PAXEL_SHIFT) * ISP_LSC_GAINS +
				      isp_bayer_pos(x, y)];

		v += (v * gain + 128) >> 8;
		out[x] = (uint16_t)(v > 1023 ? 1023 : v);
	}
}

unsigned int isp_mirror(int i, unsigned int n)
{
	/* Mirror without repeating the edge, which keeps the Bayer phase. */
	if (i < 0)
		return (unsigned int)-i;
	if ((unsigned int)i >= n)
		return 2 * n - 2 - (unsigned int)i;
	return (unsigned int)i;
}

static inline unsigned int avg2(unsigned int a, unsigned int b)
{
	return (a + b + 1) >> 1;
}

static inline unsigned int avg4(unsigned int a, unsigned int b, unsigned int c, unsigned int d)
{
	return (a + b + c + d + 2) >> 2;
}

static inline uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Q8 matrix product plus rounding, shifted without relying on >> of negatives. */
static inline int csc(int a, int b, int c, int r, int gr, int bl)
{
	return ((a * r + b * gr + c * bl + 128 + (256 << 8)) >> 8) - 256;
}

void isp_preview_line(const struct isp_geom *g, unsigned int y, const uint16_t *above,
		      const uint16_t *cur, const uint16_t *below, uint8_t *yuyv)
{
	unsigned int w = g->w;
	int ys[2], us[2], vs[2];

	for (unsigned int x = 0; x < w; x++) {
		unsigned int l = isp_mirror((int)x - 1, w), r = isp_mirror((int)x + 1, w);
		unsigned int R, G, B;

		switch (isp_bayer_pos(x, y)) {
		case 0: /* Gr: red left and right, blue above and below */
			G = cur[x];
			R = avg2(cur[l], cur[r]);
			B = avg2(above[x], below[x]);
			break;
		case 1: /* R */
			R = cur[x];
			G = avg4(cur[l], cur[r], above[x], below[x]);
			B = avg4(above[l], above[r], below[l], below[r]);
			break;
		case 2: /* B */
			B = cur[x];
			G = avg4(cur[l], cur[r], above[x], below[x]);
			R = avg4(above[l], above[r], below[l], below[r]);
			break;
		default: /* Gb: red above and below, blue left and right */
			G = cur[x];
			R = avg2(above[x], below[x]);
			B = avg2(cur[l], cur[r]);
			break;
		}
		int r8 = (int)(R >> 2), g8 = (int)(G >> 2), b8 = (int)(B >> 2);

		ys[x & 1] = csc(66, 129, 25, r8, g8, b8) + 16;
		us[x & 1] = csc(-38, -75, 112, r8, g8, b8) + 128;
		vs[x & 1] = csc(112, -94, -18, r8, g8, b8) + 128;
		if (x & 1) {
			uint8_t *o = yuyv + (x - 1) * 2;

			o[0] = clamp8(ys[0]);
			o[1] = clamp8((us[0] + us[1] + 1) >> 1);
			o[2] = clamp8(ys[1]);
			o[3] = clamp8((vs[0] + vs[1] + 1) >> 1);
		}
	}
}

void isp_resizer_line(const struct isp_geom *g, const uint8_t *in0, const uint8_t *in1,
		      uint8_t *out)
{
	/* Output pair j covers input pairs 2j and 2j + 1 of both lines. */
	for (unsigned int j = 0; j < g->ow / 2; j++) {
		const uint8_t *a = in0 + j * 8, *b = in1 + j * 8;
		uint8_t *o = out + j * 4;

		o[0] = (uint8_t)avg4(a[0], a[2], b[0], b[2]);
		o[1] = (uint8_t)avg4(a[1], a[5], b[1], b[5]);
		o[2] = (uint8_t)avg4(a[4], a[6], b[4], b[6]);
		o[3] = (uint8_t)avg4(a[3], a[7], b[3], b[7]);
	}
}

void isp_aewb_reset(struct isp_aewb_acc *a)
{
	memset(a, 0, sizeof(*a));
}

void isp_aewb_lines(const struct isp_geom *g, struct isp_aewb_acc *a, unsigned int y,
		    const uint16_t *l0, const uint16_t *l1)
{
	unsigned int wj = y / g->aewb_wh;

	if (wj >= g->aewb_vc || (y - wj * g->aewb_wh) % ISP_AEWB_INC)
		return;
	for (unsigned int wi = 0; wi < g->aewb_hc; wi++) {
		unsigned int win = wj * g->aewb_hc + wi;

		for (unsigned int dx = 0; dx < g->aewb_ww; dx += ISP_AEWB_INC) {
			unsigned int x = wi * g->aewb_ww + dx;
			uint32_t s[4] = { l0[x], l0[x + 1], l1[x], l1[x + 1] };
			bool unsat = true;

			for (unsigned int p = 0; p < 4; p++) {
				if (s[p] >= ISP_AEWB_SAT_LIMIT)
					unsat = false;
				a->sum_clip[win][p] += s[p] < ISP_AEWB_SAT_LIMIT ?
						       s[p] : ISP_AEWB_SAT_LIMIT;
			}
			if (!unsat)
				continue;
			for (unsigned int p = 0; p < 4; p++)
				a->sum_unsat[win][p] += s[p];
			a->unsat_blocks[win]++;
		}
	}
}

static inline void put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

void isp_aewb_pack(const struct isp_geom *g, const struct isp_aewb_acc *a, uint8_t *out)
{
	unsigned int wins = g->aewb_hc * g->aewb_vc;
	uint8_t *p = out;

	memset(out, 0, g->aewb_size);
	for (unsigned int i = 0; i < wins; i++) {
		for (unsigned int k = 0; k < 4; k++) {
			put_le16(p + 2 * k, (a->sum_clip[i][k] >> g->aewb_shift) & 0xffff);
			put_le16(p + 8 + 2 * k, (a->sum_unsat[i][k] >> g->aewb_shift) & 0xffff);
		}
		p += ISP_AEWB_PACKET;
		if (i % 8 == 7 || i == wins - 1) {
			/* Unsaturated block counts of the (up to) 8 windows just written. */
			for (unsigned int k = i - i % 8; k <= i; k++)
				put_le16(p + 2 * (k % 8), a->unsat_blocks[k] & 0xffff);
			p += ISP_AEWB_PACKET;
		}
	}
}

void isp_hist_reset(struct isp_hist_acc *h)
{
	memset(h, 0, sizeof(*h));
}

void isp_hist_line(const struct isp_geom *g, struct isp_hist_acc *h, unsigned int y,
		   const uint16_t *line)
{
	for (unsigned int x = 0; x < g->w; x++)
		h->bins[isp_bayer_pos(x, y)][line[x] >> 4]++; /* 10 bits into 64 bins */
}

void isp_hist_pack(const struct isp_hist_acc *h, uint8_t *out)
{
	for (unsigned int p = 0; p < 4; p++)
		for (unsigned int b = 0; b < ISP_HIST_BINS; b++)
			put_le32(out + (p * ISP_HIST_BINS + b) * 4, h->bins[p][b]);
}

uint64_t isp_fnv1a(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* --- the CPU reference --- */

struct isp_ref {
	struct isp_geom g;
	uint16_t *sensor;  /* w x h */
	uint16_t *raw;     /* w x h, CCDC output */
	uint8_t *raw_le;   /* one line as memory holds it */
	uint8_t *yuv;      /* h lines of w * 2 bytes */
	uint8_t *out;      /* oh lines of ow * 2 bytes */
	uint8_t *lsc;
	uint8_t *aewb;
	uint8_t hist[ISP_HIST_SIZE];
	struct isp_aewb_acc aewb_acc;
	struct isp_hist_acc hist_acc;
};

struct isp_ref *isp_ref_create(const struct isp_geom *g)
{
	struct isp_ref *r = calloc(1, sizeof(*r));
	size_t px = (size_t)g->w * g->h;

	if (!r)
		return NULL;
	r->g = *g;
	r->sensor = malloc(px * sizeof(*r->sensor));
	r->raw = malloc(px * sizeof(*r->raw));
	r->raw_le = malloc((size_t)g->w * 2);
	r->yuv = malloc(px * 2);
	r->out = malloc((size_t)g->ow * g->oh * 2);
	r->lsc = malloc(g->lsc_size);
	r->aewb = malloc(g->aewb_size);
	if (!r->sensor || !r->raw || !r->raw_le || !r->yuv || !r->out || !r->lsc || !r->aewb) {
		isp_ref_destroy(r);
		return NULL;
	}
	return r;
}

void isp_ref_destroy(struct isp_ref *r)
{
	if (!r)
		return;
	free(r->sensor);
	free(r->raw);
	free(r->raw_le);
	free(r->yuv);
	free(r->out);
	free(r->lsc);
	free(r->aewb);
	free(r);
}

void isp_ref_frame(struct isp_ref *r, unsigned int n, struct isp_sums *sums)
{
	const struct isp_geom *g = &r->g;
	unsigned int w = g->w, h = g->h;

	isp_lsc_table(g, n, r->lsc);
	isp_aewb_reset(&r->aewb_acc);
	isp_hist_reset(&r->hist_acc);
	sums->raw = ISP_FNV_INIT;
	for (unsigned int y = 0; y < h; y++) {
		uint16_t *raw = r->raw + (size_t)y * w;

		isp_sensor_line(g, n, y, r->sensor + (size_t)y * w);
		isp_ccdc_line(g, y, r->sensor + (size_t)y * w,
			      r->lsc + (y >> ISP_LSC_PAXEL_SHIFT) * g->lsc_bpl, raw);
		isp_hist_line(g, &r->hist_acc, y, raw);
		if (y & 1)
			isp_aewb_lines(g, &r->aewb_acc, y - 1, raw - w, raw);
		for (unsigned int x = 0; x < w; x++)
			put_le16(r->raw_le + 2 * x, raw[x]);
		sums->raw = isp_fnv1a(sums->raw, r->raw_le, (size_t)w * 2);
	}
	isp_aewb_pack(g, &r->aewb_acc, r->aewb);
	isp_hist_pack(&r->hist_acc, r->hist);
	sums->aewb = isp_fnv1a(ISP_FNV_INIT, r->aewb, g->aewb_size);
	sums->hist = isp_fnv1a(ISP_FNV_INIT, r->hist, ISP_HIST_SIZE);

	for (unsigned int y = 0; y < h; y++)
		isp_preview_line(g, y, r->raw + (size_t)isp_mirror((int)y - 1, h) * w,
				 r->raw + (size_t)y * w,
				 r->raw + (size_t)isp_mirror((int)y + 1, h) * w,
				 r->yuv + (size_t)y * w * 2);
	sums->yuv = isp_fnv1a(ISP_FNV_INIT, r->yuv, (size_t)w * h * 2);

	for (unsigned int y = 0; y < g->oh; y++)
		isp_resizer_line(g, r->yuv + (size_t)2 * y * w * 2,
				 r->yuv + (size_t)(2 * y + 1) * w * 2,
				 r->out + (size_t)y * g->ow * 2);
	sums->out = isp_fnv1a(ISP_FNV_INIT, r->out, (size_t)g->ow * g->oh * 2);
}
