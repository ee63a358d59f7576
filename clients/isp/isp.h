/* SPDX-License-Identifier: MIT */
/*
 * An OMAP3-ISP-like camera pipeline, a client of the DMA API and of iovmm.
 *
 * Modelled on the buffer flow of Linux's omap3isp driver
 * (drivers/media/platform/ti/omap3isp) and the camera ISP chapter of the
 * OMAP35x/OMAP36xx technical reference manuals:
 *
 *   sensor --(parallel port)--> CCDC --DMA--> raw frame --DMA--> PREVIEW --DMA--> YUV frame
 *                                |                                                 |
 *                                +--> H3A AE/AWB, histogram                        DMA
 *                                       |                                          v
 *                                       DMA --> statistics (iovmm)    output <--DMA-- RESIZER
 *
 * Every block is a DMA engine of the ISP, and all of them sit behind the
 * ISP's one MMU, which cannot tell them apart: one struct device does all
 * their DMA, as in Linux, where the ISP is one platform device.
 *
 * Buffers: raw frames and outputs are user-like memory (pages allocated one
 * at a time, scattered and out of order) mapped with dma_map_sg; the
 * intermediate YUV frame comes from dma_alloc_coherent; the CCDC's lens
 * shading table is a page mapped with dma_map_page that the CPU rewrites
 * every frame; statistics buffers come from iovmm, as the 2011 driver did.
 * On a non-coherent machine the CPU reads and writes streaming buffers
 * through its cache (ik_cpu_read/ik_cpu_write) and calls the dma_sync_*
 * functions Linux requires; leaving one out corrupts a frame.
 *
 * Each frame is checked against a CPU reference of the same processing
 * computed from the sensor's own frame, so a wrong translation or a
 * missing cache maintenance step is caught, not just counted.
 */
#ifndef IK_CLIENT_ISP_H
#define IK_CLIENT_ISP_H

#include <iommukit/iommukit.h>
#include <iommukit/dma-mapping.h>

/* The ISP's device-address window, as omap3isp's arm_iommu_create_mapping(SZ_1G, SZ_2G). */
#define ISP_DMA_WINDOW_BASE 0x40000000ULL
#define ISP_DMA_WINDOW_SIZE 0x80000000ULL

/* Frame size limits (sensor pixels). */
#define ISP_MIN_WIDTH  32
#define ISP_MAX_WIDTH  4096
#define ISP_MIN_HEIGHT 16
#define ISP_MAX_HEIGHT 4096

/* The syncs a mutation test may leave out (struct isp_params.drop_sync). */
enum isp_sync {
	ISP_SYNC_ALL = 0,        /* leave none out */
	ISP_SYNC_RAW_FOR_CPU,    /* raw frame back to the CPU before its check */
	ISP_SYNC_LSC_FOR_DEVICE, /* lens shading table to the CCDC after the CPU wrote it */
	ISP_SYNC_NR,
};

/* What each frame is checked for. */
enum isp_check {
	ISP_CHECK_RAW,     /* CCDC output */
	ISP_CHECK_YUV,     /* PREVIEW output */
	ISP_CHECK_OUT,     /* RESIZER output */
	ISP_CHECK_AEWB,    /* H3A AE/AWB statistics */
	ISP_CHECK_HIST,    /* histogram */
	ISP_CHECK_NR,
};

struct isp_params {
	unsigned int width, height; /* sensor frame: width a multiple of 4, height even */
	bool lazy;                  /* IOMMU_DOMAIN_DMA_FQ rather than strict IOMMU_DOMAIN_DMA */
	enum isp_sync drop_sync;    /* mutation tests only */
};

/* Counters of a pipeline's life; see isp_get_stats(). */
struct isp_stats {
	uint64_t frames;
	uint64_t frames_ok;
	uint64_t frames_bad;          /* any check failed */
	uint64_t check_bad[ISP_CHECK_NR];
	uint64_t streams;
	uint64_t power_cycles;        /* MMU context saved, powered off, on, restored */
	uint64_t dma_read_bytes;      /* by the ISP's engines */
	uint64_t dma_write_bytes;
	/* Leaves of the page tables added by maps and removed by unmaps, by log2(size). */
	uint64_t maps[64];
	uint64_t unmaps[64];
	uint64_t map_calls;           /* dma_map_*, dma_alloc_coherent, iovmm allocations */
	uint64_t unmap_calls;
	uint64_t faults;              /* reported to the domain's fault handler */
	uint64_t dma_outside_window;  /* device addresses handed out outside the window */
};

/* Where a buffer of the pipeline sits, for tests. */
enum isp_buffer_kind {
	ISP_BUF_RAW,   /* raw frame ring (scattered pages, dma_map_sg), mapped while streaming */
	ISP_BUF_YUV,   /* PREVIEW output (dma_alloc_coherent) */
	ISP_BUF_LSC,   /* lens shading table (dma_map_page) */
	ISP_BUF_AEWB,  /* AE/AWB statistics ring (iovmm) */
	ISP_BUF_HIST,  /* histogram ring (iovmm) */
	ISP_BUF_OUT,   /* RESIZER output ring (scattered pages, mapped per frame) */
};

struct isp_pipeline;

/**
 * isp_pipeline_create - set the ISP up on @dev of machine @m
 * @m: the machine
 * @dev: the ISP's DMA master (all of its engines issue DMA as this device)
 * @params: frame size and domain kind
 * @out: the pipeline
 *
 * Allocates a DMA domain (strict or lazy) for @dev's IOMMU with the ISP's
 * device-address window, attaches @dev's group (every device of it), and
 * allocates every buffer.
 *
 * Return: 0; -EINVAL for bad parameters, -ENODEV if @dev has no IOMMU,
 * -ENOMEM, or the error of the step that failed (nothing is left behind).
 */
int isp_pipeline_create(struct ik_machine *m, struct device *dev,
			const struct isp_params *params, struct isp_pipeline **out);
void isp_pipeline_destroy(struct isp_pipeline *p);

/*
 * Start a stream: after a stop, power the MMU up and restore its context
 * (OMAP); map the raw frame ring. -EBUSY when already streaming.
 */
int isp_stream_start(struct isp_pipeline *p);
/* Stop it: unmap the ring, save the MMU's context and power it off (OMAP). */
int isp_stream_stop(struct isp_pipeline *p);

/**
 * isp_capture_frame - run one frame through the whole pipeline and check it
 * @p: a streaming pipeline
 * @bad_checks: set to a mask of (1 << enum isp_check) that failed; may be NULL
 *
 * Return: 0 when the frame went through (whether or not it checked out:
 * see @bad_checks and the stats); -EINVAL when not streaming, -EFAULT when
 * a DMA access faulted (the frame counts as bad), or another errno.
 */
int isp_capture_frame(struct isp_pipeline *p, unsigned int *bad_checks);

void isp_get_stats(const struct isp_pipeline *p, struct isp_stats *st);
struct iommu_domain *isp_pipeline_domain(struct isp_pipeline *p);
/* The OMAP MMU's context is saved and restored around power-off. */
bool isp_pipeline_has_power_ctx(const struct isp_pipeline *p);
/* Resizer output size. */
void isp_pipeline_out_size(const struct isp_pipeline *p, unsigned int *w, unsigned int *h);

/*
 * Device address and size of buffer @index of @kind, while it is mapped.
 * -ENOENT if there is no such buffer or it is not mapped now, -EINVAL for
 * NULL arguments. (The getters above ignore a NULL pipeline.)
 */
int isp_pipeline_buffer(const struct isp_pipeline *p, enum isp_buffer_kind kind,
			unsigned int index, dma_addr_t *dma, size_t *size);

const char *isp_check_name(enum isp_check c);

#endif /* IK_CLIENT_ISP_H */
