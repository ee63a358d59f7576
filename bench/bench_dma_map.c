// SPDX-License-Identifier: MIT
/*
 * Cost of dma_map_single + dma_unmap_single, after Linux's
 * dma_map_benchmark (tools/testing/selftests/dma): N threads map and unmap
 * a buffer of --granule pages in a loop for --seconds, and the average and
 * standard deviation of the map and of the unmap latency are reported
 * (each call timed on its own, clock reads included, as there), together
 * with the cost of a map+unmap pair measured in bulk (no clock per call),
 * both in wall time and in the thread's CPU time: on a machine shared with
 * other work, wall time also counts the time the thread was preempted.
 *
 * Modes, in one run on the same machine:
 *   direct     a device without an IOMMU (the baseline: checks only);
 *   strict     IOMMU_DOMAIN_DMA: IOVA, page table, IOTLB invalidation
 *              through the IOMMU model before the unmap returns; each
 *              thread's buffer alone in its 2 MiB region, so each map
 *              allocates a page table and each unmap frees it;
 *   strict+busy  the same with other buffers of the device kept mapped
 *              (one in each 2 MiB region), so tables stay;
 *   lazy       IOMMU_DOMAIN_DMA_FQ, each thread's buffer alone in its
 *              region: every unmap empties a page table, which forces a
 *              flush (see src/dma/iommu.c);
 *   lazy+busy  IOMMU_DOMAIN_DMA_FQ with other buffers of the device kept
 *              mapped, so tables stay: invalidations are batched by the
 *              flush queue (the case lazy mode is for);
 *   lazy+busy, 1 queue   the same with one flush-queue shard for all threads.
 * Then the window lazy mode gives an adversarial device: a thread that keeps
 * reading a buffer while it is unmapped, counting the accesses still served
 * (and for how long) after dma_unmap returned.
 *
 * dma-debug is off. By default the buffer is DMA_TO_DEVICE (Linux's tool
 * defaults to bidirectional: --dir bidi) on the coherent "smmu" machine,
 * so no CPU cache maintenance is included; on "omap3" it is.
 *
 * usage: bench_dma_map [--threads N] [--granule PAGES] [--seconds S]
 *                      [--machine smmu|omap3] [--dir to|from|bidi] [--only MODE]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iommukit/iommukit.h>
#include <iommukit/dma-mapping.h>
#include "ik/dma.h"

#define MAX_THREADS 64
#define TARGET_STRICT_NS 60.0
#define TARGET_LAZY_NS   35.0

static inline uint64_t clock_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ns(void)
{
	return clock_of(CLOCK_MONOTONIC);
}

/* Square root by Newton's method (no libm for one call per mode). */
static double sqrt_pos(double x)
{
	double r = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 64; i++)
		r = (r + x / r) / 2;
	return r;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_dma_map: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

struct opts {
	unsigned int threads;
	unsigned int granule; /* pages per mapping */
	double seconds;
	const char *machine;
	enum dma_data_direction dir;
};

struct mode {
	const char *name;
	unsigned int type;     /* 0: direct */
	bool busy;             /* keep other buffers mapped */
	unsigned int shards;   /* flush-queue shards */
};

struct worker {
	struct device *dev;
	void *buf;
	size_t size;
	enum dma_data_direction dir;
	double seconds;
	bool timed;            /* time each call, or only the loop */
	/* results */
	uint64_t loops;
	double map_sum, map_sq, unmap_sum, unmap_sq;
	double elapsed, cpu;
	bool failed;
	int err;
};

static pthread_barrier_t start_barrier;

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	uint64_t end, t0 = 0;

	pthread_barrier_wait(&start_barrier);
	uint64_t start = now_ns(), cpu_start = clock_of(CLOCK_THREAD_CPUTIME_ID);
	end = start + (uint64_t)(w->seconds * 1e9);
	do {
		/* 256 iterations between clock checks for the bulk measurement. */
		for (int i = 0; i < 256; i++) {
			if (w->timed)
				t0 = now_ns();
			dma_addr_t a = dma_map_single(w->dev, w->buf, w->size, w->dir);
			if (w->timed) {
				uint64_t t1 = now_ns();
				double m = (double)(t1 - t0);

				w->map_sum += m;
				w->map_sq += m * m;
				t0 = t1;
			}
			if (dma_mapping_error(w->dev, a)) {
				w->err = errno;
				w->failed = true;
				return NULL;
			}
			dma_unmap_single(w->dev, a, w->size, w->dir);
			if (w->timed) {
				double u = (double)(now_ns() - t0);

				w->unmap_sum += u;
				w->unmap_sq += u * u;
			}
		}
		w->loops += 256;
	} while (now_ns() < end);
	w->elapsed = (double)(now_ns() - start);
	w->cpu = (double)(clock_of(CLOCK_THREAD_CPUTIME_ID) - cpu_start);
	return NULL;
}

struct result {
	double map_avg, map_sd, unmap_avg, unmap_sd; /* ns, timed run */
	double pair_ns;    /* bulk run: per pair, per thread, wall time */
	double pair_cpu;   /* the same in the thread's CPU time */
	double mpairs_s;   /* bulk run: all threads, millions of pairs per second */
	struct ik_dma_fq_stats fq;
	bool have_fq;
};

/* Run the workers once, timed per call or in bulk. */
static void run_workers(struct ik_machine *m, struct device *dev, const struct opts *o,
			bool timed, struct result *res)
{
	struct ik_mem *mem = ik_machine_mem(m);
	struct worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	size_t size = (size_t)o->granule * IK_SZ_4K;

	memset(w, 0, sizeof(w));
	if (pthread_barrier_init(&start_barrier, NULL, o->threads))
		die("barrier");
	for (unsigned int i = 0; i < o->threads; i++) {
		phys_addr_t pa;

		if (ik_mem_alloc_pages(mem, o->granule, IK_SZ_4K, &pa))
			die("buffer");
		w[i] = (struct worker){ .dev = dev, .buf = ik_mem_ptr(mem, pa, size), .size = size,
					.dir = o->dir, .seconds = o->seconds / 2, .timed = timed };
	}
	for (unsigned int i = 0; i < o->threads; i++)
		if (pthread_create(&th[i], NULL, worker_fn, &w[i]))
			die("pthread_create");
	for (unsigned int i = 0; i < o->threads; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start_barrier);

	double n = 0, ms = 0, mq = 0, us = 0, uq = 0, per = 0, per_cpu = 0, tput = 0;
	for (unsigned int i = 0; i < o->threads; i++) {
		if (w[i].failed) {
			fprintf(stderr, "bench_dma_map: a mapping failed: %s\n",
				strerror(w[i].err));
			exit(1);
		}
		n += (double)w[i].loops;
		ms += w[i].map_sum;
		mq += w[i].map_sq;
		us += w[i].unmap_sum;
		uq += w[i].unmap_sq;
		per += w[i].elapsed / (double)w[i].loops;
		per_cpu += w[i].cpu / (double)w[i].loops;
		tput += (double)w[i].loops / w[i].elapsed * 1e3; /* millions per second */
		phys_addr_t pa;
		ik_mem_virt_to_phys(mem, w[i].buf, &pa);
		ik_mem_free_pages(mem, pa, o->granule);
	}
	if (timed) {
		res->map_avg = ms / n;
		res->map_sd = sqrt_pos(mq / n - res->map_avg * res->map_avg);
		res->unmap_avg = us / n;
		res->unmap_sd = sqrt_pos(uq / n - res->unmap_avg * res->unmap_avg);
	} else {
		res->pair_ns = per / o->threads;
		res->pair_cpu = per_cpu / o->threads;
		res->mpairs_s = tput;
	}
}

/*
 * "busy": keep one page mapped in each 2 MiB region of the device's IOVA
 * space (a 24-bit mask: 8 regions), as the other buffers of a busy device
 * would be, so that no unmap empties a page table.
 */
static unsigned int make_busy(struct device *dev, phys_addr_t page, dma_addr_t *keep)
{
	static dma_addr_t all[4096];
	unsigned int n = 0, kept = 0;

	if (dma_set_mask(dev, DMA_BIT_MASK(24)))
		die("dma_set_mask");
	while (n < 4096) {
		dma_addr_t a = dma_map_page(dev, page, 0, IK_SZ_4K, DMA_TO_DEVICE);

		if (dma_mapping_error(dev, a))
			break;
		all[n++] = a;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (!kept || (keep[kept - 1] >> 21) != (all[i] >> 21))
			keep[kept++] = all[i];
		else
			dma_unmap_page(dev, all[i], IK_SZ_4K, DMA_TO_DEVICE);
	}
	return kept;
}

static void run_mode(const struct opts *o, const struct mode *md, struct result *res)
{
	struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin(o->machine));
	struct iommu_domain *dom = NULL;
	struct device *dev;
	dma_addr_t keep[16];
	unsigned int nr_keep = 0;
	phys_addr_t page = 0;

	if (!m)
		die("ik_machine_create");
	memset(res, 0, sizeof(*res));
	if (!md->type) {
		dev = ik_machine_device(m, !strcmp(o->machine, "smmu") ? "dma" : "sdma");
		if (dma_set_mask(dev, DMA_BIT_MASK(40)))
			die("dma_set_mask");
	} else {
		dev = ik_machine_device(m, !strcmp(o->machine, "smmu") ? "gpu" : "isp");
		ik_dma_fq_nr_shards = md->shards;
		dom = iommu_domain_alloc_type(dev, md->type);
		if (!dom || iommu_attach_device(dom, dev))
			die("DMA domain");
		if (md->busy) {
			if (ik_mem_alloc_pages(ik_machine_mem(m), 1, IK_SZ_4K, &page))
				die("page");
			nr_keep = make_busy(dev, page, keep);
		}
		ik_dma_fq_flush(dom);
	}
	run_workers(m, dev, o, true, res);
	run_workers(m, dev, o, false, res);
	if (dom && !ik_dma_fq_get_stats(dom, &res->fq, NULL))
		res->have_fq = true;
	for (unsigned int i = 0; i < nr_keep; i++)
		dma_unmap_page(dev, keep[i], IK_SZ_4K, DMA_TO_DEVICE);
	if (dom) {
		iommu_detach_device(dom, dev);
		iommu_domain_free(dom);
	}
	if (page)
		ik_mem_free_pages(ik_machine_mem(m), page, 1);
	ik_machine_destroy(m);
	ik_dma_fq_nr_shards = 8;
}

/* --- the adversarial device --- */

struct adversary {
	struct device *dev;
	dma_addr_t addr;
	int round, unmapped_round, done_round, touched_round;
	uint64_t after, last_ok;
	bool stop;
};

static void *adversary_fn(void *arg)
{
	struct adversary *adv = arg;
	uint8_t b;

	while (!__atomic_load_n(&adv->stop, __ATOMIC_ACQUIRE)) {
		int round = __atomic_load_n(&adv->round, __ATOMIC_ACQUIRE);

		if (round == __atomic_load_n(&adv->done_round, __ATOMIC_RELAXED)) {
			sched_yield();
			continue;
		}
		dma_addr_t addr = __atomic_load_n(&adv->addr, __ATOMIC_RELAXED);
		bool after = __atomic_load_n(&adv->unmapped_round, __ATOMIC_ACQUIRE) == round;

		if (ik_dma_read(adv->dev, addr, &b, 1)) {
			__atomic_store_n(&adv->done_round, round, __ATOMIC_RELEASE);
			continue;
		}
		__atomic_store_n(&adv->touched_round, round, __ATOMIC_RELEASE);
		if (after) {
			adv->after++;
			adv->last_ok = now_ns();
		}
	}
	return NULL;
}

static int ignore_fault(struct iommu_domain *d, struct device *dev, dma_addr_t iova, int flags,
			void *token)
{
	return 0;
}

static void stale_window(const struct opts *o, unsigned int type, int rounds)
{
	struct ik_machine *m = ik_machine_create(ik_machine_desc_builtin(o->machine));
	struct device *dev = ik_machine_device(m, !strcmp(o->machine, "smmu") ? "gpu" : "isp");
	struct iommu_domain *dom = iommu_domain_alloc_type(dev, type);
	struct adversary adv = { .dev = dev };
	phys_addr_t pa = 0;
	dma_addr_t keep[16];
	uint64_t worst_ns = 0, worst_n = 0, total_n = 0;
	pthread_t th;

	if (!dom || iommu_attach_device(dom, dev) || ik_mem_alloc_pages(ik_machine_mem(m), 1,
									 IK_SZ_4K, &pa))
		die("stale-window setup");
	iommu_set_fault_handler(dom, ignore_fault, NULL);
	unsigned int nr_keep = make_busy(dev, pa, keep);
	ik_dma_fq_flush(dom);
	if (pthread_create(&th, NULL, adversary_fn, &adv))
		die("pthread_create");
	for (int r = 1; r <= rounds; r++) {
		dma_addr_t a = dma_map_page(dev, pa, 0, IK_SZ_4K, DMA_TO_DEVICE);
		uint64_t unmapped_at;

		adv.after = 0;
		adv.last_ok = 0;
		__atomic_store_n(&adv.addr, a, __ATOMIC_RELAXED);
		__atomic_store_n(&adv.round, r, __ATOMIC_RELEASE);
		while (__atomic_load_n(&adv.touched_round, __ATOMIC_ACQUIRE) != r)
			sched_yield();
		dma_unmap_page(dev, a, IK_SZ_4K, DMA_TO_DEVICE);
		unmapped_at = now_ns();
		__atomic_store_n(&adv.unmapped_round, r, __ATOMIC_RELEASE);
		while (__atomic_load_n(&adv.done_round, __ATOMIC_ACQUIRE) != r)
			sched_yield();
		uint64_t w = adv.after ? adv.last_ok - unmapped_at : 0;
		worst_ns = w > worst_ns ? w : worst_ns;
		worst_n = adv.after > worst_n ? adv.after : worst_n;
		total_n += adv.after;
	}
	__atomic_store_n(&adv.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	struct ik_iommu_hw_stats hw;
	ik_machine_iommu_stats(m, ik_device_iommu_name(dev), &hw);
	printf("  %-8s %3d rounds: worst %8llu accesses, %8.3f ms after dma_unmap returned; "
	       "mean %.0f accesses; model stale accesses %llu\n",
	       type == IOMMU_DOMAIN_DMA ? "strict" : "lazy", rounds,
	       (unsigned long long)worst_n, worst_ns / 1e6, (double)total_n / rounds,
	       (unsigned long long)hw.stale_accesses);
	for (unsigned int i = 0; i < nr_keep; i++)
		dma_unmap_page(dev, keep[i], IK_SZ_4K, DMA_TO_DEVICE);
	iommu_detach_device(dom, dev);
	iommu_domain_free(dom);
	ik_mem_free_pages(ik_machine_mem(m), pa, 1);
	ik_machine_destroy(m);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--threads N (1-%d)] [--granule PAGES (1-1024)] [--seconds S]\n"
			"          [--machine smmu|omap3] [--dir to|from|bidi] [--only MODE]\n",
		argv0, MAX_THREADS);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .threads = 1, .granule = 1, .seconds = 1.0, .machine = "smmu",
			  .dir = DMA_TO_DEVICE };
	const char *only = NULL;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--threads") && v)
			o.threads = (unsigned int)atoi(v);
		else if (!strcmp(a, "--granule") && v)
			o.granule = (unsigned int)atoi(v);
		else if (!strcmp(a, "--seconds") && v)
			o.seconds = atof(v);
		else if (!strcmp(a, "--machine") && v)
			o.machine = v;
		else if (!strcmp(a, "--only") && v)
			only = v;
		else if (!strcmp(a, "--dir") && v)
			o.dir = !strcmp(v, "from") ? DMA_FROM_DEVICE :
				!strcmp(v, "bidi") ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
		else
			usage(argv[0]);
	}
	if (!o.threads || o.threads > MAX_THREADS || !o.granule || o.granule > 1024 ||
	    o.seconds <= 0 || !ik_machine_desc_builtin(o.machine))
		usage(argv[0]);

	static const struct mode modes[] = {
		{ "direct", 0, false, 8 },
		{ "strict", IOMMU_DOMAIN_DMA, false, 8 },
		{ "strict+busy", IOMMU_DOMAIN_DMA, true, 8 },
		{ "lazy", IOMMU_DOMAIN_DMA_FQ, false, 8 },
		{ "lazy+busy", IOMMU_DOMAIN_DMA_FQ, true, 8 },
		{ "lazy+busy, 1 queue", IOMMU_DOMAIN_DMA_FQ, true, 1 },
	};
	printf("dma_map_single + dma_unmap_single: %s machine, %u thread%s, %u page%s (%u KiB), "
	       "%s, %.1f s per mode\n\n",
	       o.machine, o.threads, o.threads > 1 ? "s" : "", o.granule,
	       o.granule > 1 ? "s" : "", o.granule * 4,
	       o.dir == DMA_TO_DEVICE ? "to-device" : o.dir == DMA_FROM_DEVICE ? "from-device" :
									 "bidirectional",
	       o.seconds);
	printf("%-20s %20s %20s %9s %9s %9s   %s\n", "mode", "map ns (avg +- sd)",
	       "unmap ns (avg +- sd)", "pair ns", "pair cpu", "Mpairs/s", "flush queue");
	struct result res[6] = { 0 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct mode *md = &modes[i];
		char fq[96] = "";

		if (md->shards == 1 && o.threads == 1)
			continue; /* the same as the line above */
		if (only && strcmp(only, md->name))
			continue;
		run_mode(&o, md, &res[i]);
		if (res[i].have_fq)
			snprintf(fq, sizeof(fq),
				 "%llu flushes (%llu full, %llu timeout)",
				 (unsigned long long)res[i].fq.flushes,
				 (unsigned long long)res[i].fq.full_flushes,
				 (unsigned long long)res[i].fq.timeout_flushes);
		printf("%-20s %8.1f +- %-9.1f %8.1f +- %-9.1f %9.1f %9.1f %9.2f   %s\n", md->name,
		       res[i].map_avg, res[i].map_sd, res[i].unmap_avg, res[i].unmap_sd,
		       res[i].pair_ns, res[i].pair_cpu, res[i].mpairs_s, fq);
	}
	if (only)
		return 0;
	if (o.granule == 1) {
		printf("\ntargets for a 4 KiB pair (bulk, per thread, CPU time): "
		       "strict < %.0f ns: %.1f (busy) %s; lazy < %.0f ns: %.1f (busy) %s\n",
		       TARGET_STRICT_NS, res[2].pair_cpu,
		       res[2].pair_cpu < TARGET_STRICT_NS ? "ok" : "MISS", TARGET_LAZY_NS,
		       res[4].pair_cpu, res[4].pair_cpu < TARGET_LAZY_NS ? "ok" : "MISS");
		printf("pair CPU time over direct: strict +%.1f ns, strict+busy +%.1f ns, "
		       "lazy +%.1f ns, lazy+busy +%.1f ns\n",
		       res[1].pair_cpu - res[0].pair_cpu, res[2].pair_cpu - res[0].pair_cpu,
		       res[3].pair_cpu - res[0].pair_cpu, res[4].pair_cpu - res[0].pair_cpu);
	}

	printf("\nstale window for an adversarial device (keeps reading a buffer while it is "
	       "unmapped; busy device):\n");
	stale_window(&o, IOMMU_DOMAIN_DMA, 50);
	stale_window(&o, IOMMU_DOMAIN_DMA_FQ, 20);
	return 0;
}
