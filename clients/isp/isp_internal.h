/* SPDX-License-Identifier: MIT */
/* The camera pipeline's internals, shared by the files of clients/isp. */
#ifndef IK_CLIENT_ISP_INTERNAL_H
#define IK_CLIENT_ISP_INTERNAL_H

#include <iommukit/iovmm.h>

#include "isp/isp.h"
#include "isp/isp_image.h"

#define ISP_PAGE_SIZE 4096u

#define ISP_RAW_BUFS  2 /* raw frame ring, mapped for the whole stream */
#define ISP_OUT_BUFS  3 /* output ring, mapped per frame */
#define ISP_STAT_BUFS 2 /* per statistics engine */

/* User-like memory: pages allocated one at a time, scattered, mapped with dma_map_sg. */
struct isp_ubuf {
	size_t size;                /* bytes the pipeline uses */
	size_t npages;
	phys_addr_t *pages;         /* in buffer order */
	struct scatterlist *sg;     /* one entry per page */
	int dma_nents;              /* what dma_map_sg returned; 0 while unmapped */
	dma_addr_t dma;             /* device address of byte 0 while mapped */
	enum dma_data_direction dir;
};

/* A dma_alloc_coherent buffer. */
struct isp_cbuf {
	size_t size;
	void *cpu;
	dma_addr_t dma;
};

/* The CCDC's lens shading table: contiguous pages mapped with dma_map_page. */
struct isp_lscbuf {
	size_t size;
	size_t npages;
	phys_addr_t pa;
	dma_addr_t dma;             /* DMA_MAPPING_ERROR while unmapped */
};

/* A statistics buffer from iovmm, mapped with dma_map_sg for cache maintenance. */
struct isp_statbuf {
	size_t size;
	dma_addr_t da;              /* where iovmm mapped it for the ISP; 0: none */
	struct scatterlist *sg;     /* its pages */
	int nents;
	int dma_nents;
};

struct isp_pipeline {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *dev;
	struct iommu_group *group;
	struct iommu_domain *domain;
	struct iovmm *vm;           /* statistics buffers' address space */
	bool attached;
	bool omap_ctx;              /* the MMU's context is saved/restored around power-off */
	bool powered_off;
	bool streaming;
	struct isp_params params;
	struct isp_geom g;

	struct isp_ubuf raw[ISP_RAW_BUFS];
	struct isp_ubuf out[ISP_OUT_BUFS];
	struct isp_cbuf yuv;
	struct isp_lscbuf lsc;
	struct isp_statbuf aewb[ISP_STAT_BUFS];
	struct isp_statbuf hist[ISP_STAT_BUFS];

	struct isp_ref *ref;
	unsigned int frame;         /* next frame number */
	struct isp_stats st;

	/* engine line memories */
	uint16_t *sensor_line;
	uint16_t *ccdc_line[2];     /* current and previous CCDC output line */
	uint16_t *prev_lines[3];    /* PREVIEW's raw line buffers */
	uint8_t *le_line;           /* a line as memory holds it */
	uint8_t *yuv_lines[2];
	uint8_t *out_line;
	uint8_t *lsc_row;
	uint8_t *lsc_cpu;           /* the table the CPU writes */
	uint8_t *stat_cpu;          /* statistics as the CPU reads them */
	struct isp_aewb_acc aewb_acc;
	struct isp_hist_acc hist_acc;
};

/* --- buffers (isp_buf.c) --- */
int isp_ubuf_alloc(struct isp_pipeline *p, struct isp_ubuf *b, size_t size, unsigned int seed);
void isp_ubuf_free(struct isp_pipeline *p, struct isp_ubuf *b);
int isp_ubuf_map(struct isp_pipeline *p, struct isp_ubuf *b, enum dma_data_direction dir);
void isp_ubuf_unmap(struct isp_pipeline *p, struct isp_ubuf *b);
/* CPU reads of a user buffer through the CPU's cache. */
int isp_ubuf_cpu_read(struct isp_pipeline *p, const struct isp_ubuf *b, size_t off, void *dst,
		      size_t len);

int isp_cbuf_alloc(struct isp_pipeline *p, struct isp_cbuf *b, size_t size);
void isp_cbuf_free(struct isp_pipeline *p, struct isp_cbuf *b);

int isp_lsc_alloc(struct isp_pipeline *p, struct isp_lscbuf *b, size_t size);
void isp_lsc_free(struct isp_pipeline *p, struct isp_lscbuf *b);

int isp_stat_alloc(struct isp_pipeline *p, struct isp_statbuf *b, size_t size);
void isp_stat_free(struct isp_pipeline *p, struct isp_statbuf *b);
int isp_stat_cpu_read(struct isp_pipeline *p, const struct isp_statbuf *b, void *dst,
		      size_t len);

/* Count the leaves of [dma, dma + size) into @hist (by log2 of their size). */
void isp_count_leaves(struct isp_pipeline *p, dma_addr_t dma, size_t size, uint64_t *hist);
/* Note a device address handed out by the DMA API or iovmm. */
void isp_note_dma_range(struct isp_pipeline *p, dma_addr_t dma, size_t size);

/* --- the DMA engines (isp_engines.c); each returns 0 or a DMA error --- */
int isp_ccdc_run(struct isp_pipeline *p, unsigned int n, const struct isp_ubuf *raw,
		 const struct isp_statbuf *aewb, const struct isp_statbuf *hist);
int isp_preview_run(struct isp_pipeline *p, const struct isp_ubuf *raw);
int isp_resizer_run(struct isp_pipeline *p, const struct isp_ubuf *out);

#endif /* IK_CLIENT_ISP_INTERNAL_H */
