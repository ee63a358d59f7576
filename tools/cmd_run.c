// SPDX-License-Identifier: MIT
/*
 * iommukit run: the main job. Captures a short stream through the camera
 * pipeline (clients/isp) on a simulated machine: by default an OMAP3 whose
 * ISP sits behind its MMU, with non-coherent DMA and a modelled CPU cache.
 * The frames go out in two streams with the ISP powered off in between (its
 * MMU context saved and restored). Every frame is checked against a CPU
 * reference; the report says how many checked out, what moved, what the
 * DMA layer mapped and unmapped by page size, what the IOTLB and the CPU
 * cache did, and how long it took.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isp/isp.h"
#include "tool.h"

struct run_opts {
	unsigned int frames;
	unsigned int width, height;
	bool lazy;
	unsigned int tlb;    /* 0: the machine's own */
	bool smmu;
	bool json;
	enum isp_sync drop_sync;
};

/* What the run is made of, so one report routine drives text and JSON. */
struct run_result {
	char machine[32], iommu[32]; /* copied: the machine goes before the report */
	const char *device;
	unsigned int tlb_entries;
	unsigned int out_w, out_h;
	unsigned long pgsizes;
	struct isp_stats isp;
	struct ik_iommu_hw_stats hw;
	bool have_cache;
	struct ik_cpu_cache_stats cache;
	bool have_debug;
	struct ik_dma_debug_stats debug;
	unsigned int errors; /* frames that failed with a DMA error */
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_usage(FILE *out)
{
	fputs("usage: iommukit run [--frames N] [--width W] [--height H] [--strict | --lazy]\n"
	      "                    [--tlb N] [--iommu omap|smmu] [--json]\n"
	      "Captures a stream through an OMAP3-ISP-like camera pipeline (CCDC, PREVIEW,\n"
	      "RESIZER, H3A and histogram statistics) using the DMA API and iovmm, checks\n"
	      "every frame against a CPU reference, and reports.\n"
	      "  --frames N     frames to capture (default 8, 1..100000), in two streams with\n"
	      "                 the ISP powered off in between\n"
	      "  --width W      sensor width in pixels (default 640, 32..4096, a multiple of 4)\n"
	      "  --height H     sensor height in lines (default 480, 16..4096, even)\n"
	      "  --strict       strict DMA domain: IOTLB invalidated at every unmap (default)\n"
	      "  --lazy         lazy DMA_FQ domain: invalidations batched in a flush queue\n"
	      "  --tlb N        TLB entries of the camera's IOMMU (omap 1..32, smmu 1..4096)\n"
	      "  --iommu NAME   omap: the default OMAP3 machine, ISP behind its MMU;\n"
	      "                 smmu: the \"smmu\" machine, camera \"cam0\" behind an SMMUv2\n"
	      "  --drop-sync S  leave one dma_sync out to watch the checks catch it:\n"
	      "                 raw (raw frame to the CPU) or lsc (lens shading table to the ISP)\n"
	      "  --json         machine-readable report\n"
	      "exit status: 0 every frame checked out, 1 a frame was corrupted or failed,\n"
	      "2 usage error\n", out);
}

static bool parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *out)
{
	uint64_t v;

	if (!parse_size(s, &v) || v < lo || v > hi)
		return false;
	*out = (unsigned int)v;
	return true;
}

static const char *pgsize_name(unsigned int shift, char *buf, size_t len)
{
	if (shift >= 30)
		snprintf(buf, len, "%uG", 1u << (shift - 30));
	else if (shift >= 20)
		snprintf(buf, len, "%uM", 1u << (shift - 20));
	else
		snprintf(buf, len, "%uK", 1u << (shift - 10));
	return buf;
}

static void emit_by_pgsize(struct emitter *e, const char *key, const char *title,
			   unsigned long pgsizes, const uint64_t *counts)
{
	char name[16];

	emit_begin_object(e, key, title);
	for (unsigned int s = 0; s < 64; s++)
		if ((pgsizes >> s) & 1 || counts[s])
			emit_u64(e, pgsize_name(s, name, sizeof(name)),
				 pgsize_name(s, name, sizeof(name)), counts[s]);
	emit_end_object(e);
}

static void report(const struct run_opts *o, const struct run_result *r)
{
	const struct isp_stats *st = &r->isp;
	bool ok = !st->frames_bad && !r->errors && st->frames == o->frames &&
		  !(r->have_debug && r->debug.errors);
	struct emitter e;
	char title[160];

	emit_init(&e, stdout, o->json);
	snprintf(title, sizeof(title), "iommukit run: camera pipeline on the %s machine (%s)",
		 r->machine, ok ? "ok" : "FAILED");
	emit_begin_object(&e, NULL, title);
	emit_str(&e, "result", "result", ok ? "ok" : "failed");
	emit_u64(&e, "frames", "frames captured", st->frames);
	emit_u64(&e, "frames_ok", "frames matching the CPU", st->frames_ok);
	emit_u64(&e, "frames_bad", "frames corrupted", st->frames_bad);
	emit_begin_object(&e, "checks_failed", "checks failed, by product:");
	for (unsigned int c = 0; c < ISP_CHECK_NR; c++)
		emit_u64(&e, isp_check_name(c), isp_check_name(c), st->check_bad[c]);
	emit_end_object(&e);

	emit_begin_object(&e, "setup", "set-up:");
	emit_str(&e, "machine", "machine", r->machine);
	emit_str(&e, "device", "ISP device", r->device);
	emit_str(&e, "iommu", "IOMMU", r->iommu);
	emit_str(&e, "domain", "DMA domain", o->lazy ? "lazy (DMA_FQ)" : "strict (DMA)");
	emit_u64(&e, "tlb_entries", "TLB entries (0: default)", r->tlb_entries);
	emit_str(&e, "dropped_sync", "dma_sync left out",
		 o->drop_sync == ISP_SYNC_RAW_FOR_CPU ? "raw" :
		 o->drop_sync == ISP_SYNC_LSC_FOR_DEVICE ? "lsc" : "none");
	emit_u64(&e, "width", "sensor width", o->width);
	emit_u64(&e, "height", "sensor height", o->height);
	emit_u64(&e, "out_width", "output width", r->out_w);
	emit_u64(&e, "out_height", "output height", r->out_h);
	emit_u64(&e, "streams", "streams", st->streams);
	emit_u64(&e, "power_cycles", "MMU power cycles", st->power_cycles);
	emit_end_object(&e);

	emit_u64(&e, "bytes_moved", "bytes moved by DMA", st->dma_read_bytes + st->dma_write_bytes);
	emit_u64(&e, "bytes_read", "  read by the ISP", st->dma_read_bytes);
	emit_u64(&e, "bytes_written", "  written by the ISP", st->dma_write_bytes);
	emit_u64(&e, "map_calls", "DMA API/iovmm maps", st->map_calls);
	emit_u64(&e, "unmap_calls", "DMA API/iovmm unmaps", st->unmap_calls);
	emit_by_pgsize(&e, "maps", "page-table leaves mapped, by page size:", r->pgsizes,
		       st->maps);
	emit_by_pgsize(&e, "unmaps", "page-table leaves unmapped, by page size:", r->pgsizes,
		       st->unmaps);
	emit_u64(&e, "faults", "IOMMU faults reported", st->faults);
	emit_u64(&e, "outside_window", "DMA addresses outside window", st->dma_outside_window);

	emit_hw_stats(&e, "IOTLB and table walker:", &r->hw);

	if (r->have_cache) {
		emit_begin_object(&e, "cpu_cache", "CPU cache (lines):");
		emit_u64(&e, "hits", "hits", r->cache.hits);
		emit_u64(&e, "misses", "misses", r->cache.misses);
		emit_u64(&e, "evictions", "evictions", r->cache.evictions);
		emit_u64(&e, "writebacks", "write-backs", r->cache.writebacks);
		emit_u64(&e, "cleans", "cleaned by maintenance", r->cache.cleans);
		emit_u64(&e, "invalidates", "invalidated by maintenance", r->cache.invalidates);
		emit_u64(&e, "dirty_discards", "dirty lines discarded", r->cache.dirty_discards);
		emit_end_object(&e);
	}
	if (r->have_debug) {
		emit_begin_object(&e, "dma_debug", "dma-debug:");
		emit_u64(&e, "errors", "errors", r->debug.errors);
		emit_u64(&e, "cpu_device_owned", "CPU touched device-owned",
			 r->debug.cpu_device_owned);
		emit_u64(&e, "leaked", "leaked mappings", r->debug.leaked);
		emit_end_object(&e);
	}
	emit_double(&e, "wall_seconds", "wall time", r->seconds, "s");
	emit_double(&e, "frames_per_second", "frame rate", r->seconds > 0 ?
		    (double)st->frames / r->seconds : 0.0, "frames/s");
	emit_end_object(&e);
	emit_finish(&e);
}

/*
 * The machine to run on: a copy of the built-in description, with the TLB
 * of the camera's IOMMU resized when asked.
 */
struct machine_copy {
	struct ik_machine_desc desc;
	struct ik_iommu_desc *iommus;
};

static struct ik_machine *make_machine(const struct run_opts *o, const char *camera,
				       struct run_result *r)
{
	const struct ik_machine_desc *base = ik_machine_desc_builtin(o->smmu ? "smmu" : "omap3");
	struct machine_copy mc;
	const char *mmu = NULL;
	struct ik_machine *m;

	if (!base)
		return NULL;
	mc.desc = *base;
	mc.iommus = calloc(base->nr_iommus, sizeof(*mc.iommus));
	if (!mc.iommus)
		return NULL;
	memcpy(mc.iommus, base->iommus, base->nr_iommus * sizeof(*mc.iommus));
	for (unsigned int i = 0; i < base->nr_masters; i++)
		if (!strcmp(base->masters[i].name, camera))
			mmu = base->masters[i].iommu;
	for (unsigned int i = 0; mmu && i < base->nr_iommus; i++) {
		if (strcmp(mc.iommus[i].name, mmu))
			continue;
		if (o->tlb)
			mc.iommus[i].tlb_entries = o->tlb;
		r->tlb_entries = mc.iommus[i].tlb_entries;
	}
	mc.desc.iommus = mc.iommus;
	m = ik_machine_create(&mc.desc);
	free(mc.iommus);
	return m;
}

static void progress(double t0, unsigned int done, unsigned int total, double *last)
{
	bool tty = isatty(STDERR_FILENO);
	double t = now();

	/* A terminal gets one line kept up to date; a log gets a line every 2 s. */
	if (t - t0 < 2.0 || t - *last < (tty ? 0.25 : 2.0))
		return;
	*last = t;
	fprintf(stderr, tty ? "\riommukit run: frame %u/%u (%.1f s)" :
		"iommukit run: frame %u/%u (%.1f s)\n", done, total, t - t0);
}

/* Run the stream; 0, or the setup error (frame errors are counted, not returned). */
static int run_stream(const struct run_opts *o, struct run_result *r)
{
	const char *camera = o->smmu ? "cam0" : "isp";
	struct isp_params params = { .width = o->width, .height = o->height, .lazy = o->lazy,
				     .drop_sync = o->drop_sync };
	struct isp_pipeline *p = NULL;
	unsigned int streams = o->frames > 1 ? 2 : 1, done = 0;
	double t0 = now(), last = 0;
	bool shown = false;
	struct ik_machine *m;
	struct device *dev;
	int ret;

	/* dma-debug watches the pipeline keep the DMA API's rules (on before any mapping). */
	ik_dma_debug_set_enabled(true);
	ik_dma_debug_reset_stats();
	m = make_machine(o, camera, r);
	if (!m) {
		perror("iommukit run: machine");
		return -EINVAL;
	}
	snprintf(r->machine, sizeof(r->machine), "%s", ik_machine_name(m));
	r->device = camera;
	dev = ik_machine_device(m, camera);
	snprintf(r->iommu, sizeof(r->iommu), "%s", dev ? ik_device_iommu_name(dev) : "none");
	ret = dev ? isp_pipeline_create(m, dev, &params, &p) : -ENODEV;
	if (ret) {
		fprintf(stderr, "iommukit run: pipeline set-up failed: %s\n", strerror(-ret));
		ik_machine_destroy(m);
		return ret;
	}
	r->pgsizes = ik_iommu_domain_pgsize_bitmap(isp_pipeline_domain(p));
	isp_pipeline_out_size(p, &r->out_w, &r->out_h);

	for (unsigned int s = 0; s < streams && !ret; s++) {
		unsigned int n = o->frames / streams + (s < o->frames % streams);

		ret = isp_stream_start(p);
		for (unsigned int i = 0; i < n && !ret; i++) {
			int err = isp_capture_frame(p, NULL);

			if (err) {
				r->errors++;
				if (r->errors == 1)
					fprintf(stderr, "iommukit run: frame %u failed: %s\n", done,
						strerror(-err));
			}
			progress(t0, ++done, o->frames, &last);
			shown |= last > 0;
		}
		if (!ret)
			ret = isp_stream_stop(p);
	}
	if (shown && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (ret)
		fprintf(stderr, "iommukit run: stream failed: %s\n", strerror(-ret));

	isp_get_stats(p, &r->isp);
	ik_machine_iommu_stats(m, r->iommu, &r->hw);
	r->have_cache = !ik_machine_cpu_cache_stats(m, &r->cache);
	r->have_debug = ik_dma_debug_enabled();
	isp_pipeline_destroy(p);
	if (r->have_debug)
		ik_dma_debug_get_stats(&r->debug);
	ik_machine_destroy(m);
	return ret;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "width", required_argument, NULL, 'W' },
		{ "height", required_argument, NULL, 'H' },
		{ "strict", no_argument, NULL, 's' },
		{ "lazy", no_argument, NULL, 'l' },
		{ "tlb", required_argument, NULL, 't' },
		{ "iommu", required_argument, NULL, 'i' },
		{ "drop-sync", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .frames = 8, .width = 640, .height = 480 };
	struct run_result r = { 0 };
	bool strict = false;
	int opt, ret, idx = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		switch (opt) {
		case 'f':
			if (!parse_uint(optarg, 1, 100000, &o.frames))
				goto bad;
			break;
		case 'W':
			if (!parse_uint(optarg, ISP_MIN_WIDTH, ISP_MAX_WIDTH, &o.width) ||
			    o.width % 4)
				goto bad;
			break;
		case 'H':
			if (!parse_uint(optarg, ISP_MIN_HEIGHT, ISP_MAX_HEIGHT, &o.height) ||
			    o.height % 2)
				goto bad;
			break;
		case 's': strict = true; break;
		case 'l': o.lazy = true; break;
		case 't':
			if (!parse_uint(optarg, 1, 4096, &o.tlb))
				goto bad;
			break;
		case 'i':
			if (!strcmp(optarg, "smmu"))
				o.smmu = true;
			else if (strcmp(optarg, "omap"))
				goto bad;
			break;
		case 'd':
			if (!strcmp(optarg, "raw"))
				o.drop_sync = ISP_SYNC_RAW_FOR_CPU;
			else if (!strcmp(optarg, "lsc"))
				o.drop_sync = ISP_SYNC_LSC_FOR_DEVICE;
			else
				goto bad;
			break;
		case 'j': o.json = true; break;
		case 'h': run_usage(stdout); return EXIT_OK;
		default:
			fprintf(stderr, "iommukit run: unknown option '%s'\n", argv[optind - 1]);
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "iommukit run: unexpected argument '%s'\n", argv[optind]);
		run_usage(stderr);
		return EXIT_USAGE;
	}
	if (strict && o.lazy) {
		fputs("iommukit run: --strict and --lazy exclude each other\n", stderr);
		run_usage(stderr);
		return EXIT_USAGE;
	}
	if (!o.smmu && o.tlb > 32) {
		fprintf(stderr, "iommukit run: the OMAP MMU has at most 32 TLB entries\n");
		run_usage(stderr);
		return EXIT_USAGE;
	}

	double t0 = now();
	ret = run_stream(&o, &r);
	r.seconds = now() - t0;
	if (ret && !r.isp.frames)
		return EXIT_FAILED;
	report(&o, &r);
	if (ret || r.errors || r.isp.frames_bad || r.isp.frames != o.frames ||
	    (r.have_debug && r.debug.errors))
		return EXIT_FAILED;
	return EXIT_OK;
bad:
	fprintf(stderr, "iommukit run: bad value '%s' for --%s\n", optarg, opts[idx].name);
	run_usage(stderr);
	return EXIT_USAGE;
}
