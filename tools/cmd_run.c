// SPDX-License-Identifier: MIT
/*
 * iommukit run: the built-in workload. Until the camera pipeline lands it
 * is a small OMAP3 ISP-like stream: the ISP writes raw frames into
 * scattered pages mapped with iommu_map_sg, reads them back, converts them
 * and writes the result into a physically contiguous buffer mapped with
 * large pages. Every output frame is checked against the same conversion
 * done by the CPU on physical memory, so a wrong translation is caught, not
 * just counted. Halfway through, the ISP powers off and its MMU context is
 * saved and restored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define RAW_IOVA 0x40000000ULL /* the ISP window starts at 1 GiB, as omap3isp sets it up */
#define ALIGN_UP_1M(x) (((x) + 0xfffffULL) & ~0xfffffULL)

struct run_opts {
	unsigned int frames;
	unsigned int width, height;
	bool json;
};

struct run_stats {
	uint64_t frames_ok, frames_bad;
	uint64_t bytes;
	uint64_t leaves[4]; /* 4K, 64K, 1M, 16M leaves mapped */
	uint64_t faults;
	struct ik_iommu_hw_stats hw;
	double seconds;
};

struct run_ctx {
	struct ik_machine *m;
	struct ik_mem *mem;
	struct device *isp;
	struct iommu_domain *domain;
	bool attached;
	struct scatterlist *raw_sg; /* one entry per scattered page */
	unsigned int raw_pages;
	phys_addr_t *page_pool;     /* every page allocated for raw_sg */
	phys_addr_t out_pa;
	size_t out_pages;
	dma_addr_t out_iova;
	size_t raw_bytes, out_bytes;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int count_fault(struct iommu_domain *d, struct device *dev, dma_addr_t iova, int flags,
		       void *token)
{
	(void)d, (void)dev, (void)iova, (void)flags;
	(*(uint64_t *)token)++;
	return 0;
}

static int count_leaf(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		      const char *desc)
{
	uint64_t *leaves = arg;
	(void)iova, (void)pa, (void)prot, (void)desc;
	switch (size) {
	case 0x1000: leaves[0]++; break;
	case 0x10000: leaves[1]++; break;
	case 0x100000: leaves[2]++; break;
	case 0x1000000: leaves[3]++; break;
	default: break;
	}
	return 0;
}

/* The sensor's raw frame n: 16-bit samples, a moving pattern. */
static uint16_t raw_sample(unsigned int n, unsigned int x, unsigned int y)
{
	return (uint16_t)(((x * 7u + y * 13u + n * 31u) ^ (x * y)) & 0x3ff);
}

/* The conversion: 10-bit raw to 8-bit, with a frame-dependent offset. */
static uint8_t convert(uint16_t raw, unsigned int n)
{
	return (uint8_t)((raw >> 2) + n);
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Scatter the raw buffer: allocate pages one by one, skipping every other. */
static int alloc_buffers(struct run_ctx *c)
{
	c->raw_pages = (unsigned int)((c->raw_bytes + 0xfff) >> 12);
	c->raw_sg = calloc(c->raw_pages, sizeof(*c->raw_sg));
	c->page_pool = calloc(2 * (size_t)c->raw_pages, sizeof(*c->page_pool));
	if (!c->raw_sg || !c->page_pool)
		return -ENOMEM;
	for (unsigned int i = 0; i < 2 * c->raw_pages; i++) {
		int ret = ik_mem_alloc_pages(c->mem, 1, 0x1000, &c->page_pool[i]);
		if (ret)
			return ret;
	}
	sg_init_table(c->raw_sg, c->raw_pages);
	for (unsigned int i = 0; i < c->raw_pages; i++)
		sg_set_phys(&c->raw_sg[i], c->page_pool[2 * i], 0x1000);
	/* The output: contiguous, 1 MiB aligned, so it maps with large pages. */
	c->out_pages = (c->out_bytes + 0xfff) >> 12;
	return ik_mem_alloc_pages(c->mem, c->out_pages, 0x100000, &c->out_pa);
}

static int map_buffers(struct run_ctx *c)
{
	ssize_t n = iommu_map_sg(c->domain, RAW_IOVA, c->raw_sg, c->raw_pages,
				 IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
	if (n < 0)
		return (int)n;
	c->out_iova = RAW_IOVA + ALIGN_UP_1M((uint64_t)c->raw_pages << 12);
	return iommu_map(c->domain, c->out_iova, c->out_pa, c->out_pages << 12,
			 IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
}

/* CPU reference of frame n, read from physical memory through the sg list. */
static uint64_t cpu_reference(struct run_ctx *c, unsigned int n, const struct run_opts *o)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint8_t line[4096];
	for (unsigned int y = 0; y < o->height; y++) {
		for (unsigned int x = 0; x < o->width; x++) {
			size_t off = ((size_t)y * o->width + x) * 2;
			uint16_t raw;
			ik_mem_read(c->mem, c->raw_sg[off >> 12].phys + (off & 0xfff), &raw, 2);
			line[x % sizeof(line)] = convert(raw, n);
			if (x % sizeof(line) == sizeof(line) - 1 || x == o->width - 1)
				h = fnv1a(h, line, x % sizeof(line) + 1);
		}
	}
	return h;
}

/* One frame through the ISP: sensor -> raw buffer -> convert -> output. */
static int run_frame(struct run_ctx *c, unsigned int n, const struct run_opts *o,
		     struct run_stats *st)
{
	size_t row_raw = (size_t)o->width * 2;
	uint16_t *rraw = malloc(row_raw);
	uint8_t *rout = malloc(o->width);
	int ret = rraw && rout ? 0 : -ENOMEM;

	for (unsigned int y = 0; y < o->height && !ret; y++) {
		for (unsigned int x = 0; x < o->width; x++)
			rraw[x] = raw_sample(n, x, y);
		ret = ik_dma_write(c->isp, RAW_IOVA + y * row_raw, rraw, row_raw);
	}
	for (unsigned int y = 0; y < o->height && !ret; y++) {
		ret = ik_dma_read(c->isp, RAW_IOVA + y * row_raw, rraw, row_raw);
		for (unsigned int x = 0; x < o->width && !ret; x++)
			rout[x] = convert(rraw[x], n);
		if (!ret)
			ret = ik_dma_write(c->isp, c->out_iova + (size_t)y * o->width, rout, o->width);
	}
	free(rraw);
	free(rout);
	if (ret)
		return ret;
	st->bytes += 2 * c->raw_bytes + c->out_bytes;

	/* Check the output the CPU sees in memory against the CPU's own work. */
	uint64_t got = fnv1a(0xcbf29ce484222325ULL, ik_mem_ptr(c->mem, c->out_pa, c->out_bytes),
			     c->out_bytes);
	if (got == cpu_reference(c, n, o))
		st->frames_ok++;
	else
		st->frames_bad++;
	return 0;
}

static void release(struct run_ctx *c)
{
	if (c->domain) {
		if (c->attached) {
			iommu_unmap(c->domain, RAW_IOVA, (size_t)c->raw_pages << 12);
			iommu_unmap(c->domain, c->out_iova, c->out_pages << 12);
			iommu_detach_device(c->domain, c->isp);
		}
		iommu_domain_free(c->domain);
	}
	free(c->raw_sg);
	free(c->page_pool);
	ik_machine_destroy(c->m);
}

static void run_usage(FILE *out)
{
	fputs("usage: iommukit run [--frames N] [--width W] [--height H] [--json]\n"
	      "Streams frames through an OMAP3 ISP-like master behind its IOMMU on the\n"
	      "default machine, checks every frame against a CPU reference, and reports.\n"
	      "  --frames N   frames to capture (default 8, 1..100000)\n"
	      "  --width W    frame width in pixels (default 640, 16..4096)\n"
	      "  --height H   frame height in lines (default 480, 16..4096)\n"
	      "  --json       machine-readable report\n", out);
}

static bool parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *out)
{
	uint64_t v;
	if (!parse_size(s, &v) || v < lo || v > hi)
		return false;
	*out = (unsigned int)v;
	return true;
}

static void report(const struct run_opts *o, const struct run_stats *st)
{
	static const char *const names[] = { "4K", "64K", "1M", "16M" };
	struct emitter e;
	emit_init(&e, stdout, o->json);
	emit_begin_object(&e, NULL, "iommukit run: OMAP3 ISP stream on the default machine");
	emit_u64(&e, "frames", "frames", o->frames);
	emit_u64(&e, "frames_ok", "frames matching CPU", st->frames_ok);
	emit_u64(&e, "frames_bad", "frames corrupted", st->frames_bad);
	emit_u64(&e, "bytes_moved", "bytes moved by DMA", st->bytes);
	emit_begin_object(&e, "leaves_mapped", "pages mapped by size:");
	for (int i = 0; i < 4; i++)
		emit_u64(&e, names[i], names[i], st->leaves[i]);
	emit_end_object(&e);
	emit_u64(&e, "faults", "faults reported", st->faults);
	emit_begin_object(&e, "iotlb", "isp-mmu IOTLB and walker:");
	emit_u64(&e, "translations", "translations", st->hw.accesses);
	emit_u64(&e, "hits", "hits", st->hw.tlb_hits);
	emit_u64(&e, "misses", "misses", st->hw.tlb_misses);
	emit_u64(&e, "walks", "table walks", st->hw.walks);
	emit_u64(&e, "faults", "faults", st->hw.faults);
	emit_u64(&e, "stale_accesses", "stale accesses", st->hw.stale_accesses);
	emit_end_object(&e);
	emit_double(&e, "wall_seconds", "wall time", st->seconds, "s");
	emit_end_object(&e);
	emit_finish(&e);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "width", required_argument, NULL, 'W' },
		{ "height", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .frames = 8, .width = 640, .height = 480 };
	struct run_stats st = { 0 };
	struct run_ctx c = { 0 };
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:W:H:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!parse_uint(optarg, 1, 100000, &o.frames))
				goto bad;
			break;
		case 'W':
			if (!parse_uint(optarg, 16, 4096, &o.width))
				goto bad;
			break;
		case 'H':
			if (!parse_uint(optarg, 16, 4096, &o.height))
				goto bad;
			break;
		case 'j': o.json = true; break;
		case 'h': run_usage(stdout); return EXIT_OK;
		default: run_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "iommukit run: unexpected argument '%s'\n", argv[optind]);
		run_usage(stderr);
		return EXIT_USAGE;
	}

	double t0 = now();
	c.m = ik_machine_create_default();
	if (!c.m) {
		perror("iommukit: machine");
		return EXIT_FAILED;
	}
	c.mem = ik_machine_mem(c.m);
	c.isp = ik_machine_device(c.m, "isp");
	c.raw_bytes = (size_t)o.width * o.height * 2;
	c.out_bytes = (size_t)o.width * o.height;
	c.domain = iommu_paging_domain_alloc(c.isp);
	ret = c.domain ? iommu_attach_device(c.domain, c.isp) : -errno;
	c.attached = !ret;
	if (!ret)
		ret = alloc_buffers(&c);
	if (!ret)
		ret = map_buffers(&c);
	if (ret) {
		fprintf(stderr, "iommukit run: setup failed: %s\n", strerror(-ret));
		release(&c);
		return EXIT_FAILED;
	}
	iommu_set_fault_handler(c.domain, count_fault, &st.faults);
	ik_iommu_domain_for_each_mapping(c.domain, count_leaf, st.leaves);

	bool progress = isatty(STDERR_FILENO);
	for (unsigned int n = 0; n < o.frames && !ret; n++) {
		if (n == o.frames / 2 && o.frames > 1) {
			/* Between streams the ISP powers off; its MMU loses its context. */
			ret = omap_iommu_save_ctx(c.isp);
			if (!ret)
				ret = ik_machine_iommu_power(c.m, ik_device_iommu_name(c.isp), false);
			if (!ret)
				ret = ik_machine_iommu_power(c.m, ik_device_iommu_name(c.isp), true);
			if (!ret)
				ret = omap_iommu_restore_ctx(c.isp);
			if (ret)
				break;
		}
		ret = run_frame(&c, n, &o, &st);
		if (progress && now() - t0 > 2.0)
			fprintf(stderr, "\rframe %u/%u", n + 1, o.frames);
	}
	if (progress && now() - t0 > 2.0)
		fputc('\n', stderr);
	ik_machine_iommu_stats(c.m, ik_device_iommu_name(c.isp), &st.hw);
	st.seconds = now() - t0;
	if (ret)
		fprintf(stderr, "iommukit run: frame failed: %s\n", strerror(-ret));
	else
		report(&o, &st);
	release(&c);
	return ret || st.frames_bad ? EXIT_FAILED : EXIT_OK;
bad:
	fprintf(stderr, "iommukit run: bad value '%s'\n", optarg);
	run_usage(stderr);
	return EXIT_USAGE;
}
