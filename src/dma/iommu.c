// SPDX-License-Identifier: MIT
/*
 * IOMMU-backed DMA: the ops for devices whose group is attached to an
 * IOMMU_DOMAIN_DMA (strict) or IOMMU_DOMAIN_DMA_FQ (lazy) domain.
 *
 * Each such domain gets a cookie on first use: an IOVA space (granule =
 * the domain's smallest page, from the aperture's start but never pfn 0,
 * with per-thread range caches), the coherent buffers it backs, and for a
 * lazy domain a flush queue. IOVAs are allocated top-down below
 * min(device mask, aperture end).
 *
 * Permissions follow the direction, as Linux's dma_info_to_prot():
 * TO_DEVICE maps IOMMU_READ only (the device may not write the buffer),
 * FROM_DEVICE IOMMU_WRITE only, BIDIRECTIONAL both. FROM_DEVICE without
 * READ is least privilege: a receive buffer may hold the CPU's old data,
 * which the device has no business reading. Page-table formats that
 * cannot express write-only (Arm LPAE stage 1: AP has no such encoding)
 * map it read-write, so a device that reads back what it wrote still
 * works there; the OMAP MMU has no permissions at all.
 *
 * Strict (DMA): an unmap clears the PTEs and invalidates the IOTLB before
 * it returns; the IOVA is freed after that.
 * Lazy (DMA_FQ): an unmap clears the PTEs into a gather marked queued and
 * puts the IOVA range and the page-table pages the gather freed into a
 * flush queue. The queue is flushed (one flush_iotlb_all, then the IOVAs
 * and the tables are released) when a shard fills (IK_DMA_FQ_SIZE
 * entries), when its oldest entry is older than the timeout (10 ms)
 * (checked on the unmap path and by a per-domain timer thread, joined
 * when the domain is freed), when IOVA space runs out, and at domain
 * free. Until then a device can still reach the old pages through its
 * IOTLB: that window is the price of lazy mode (measured by
 * bench_dma_map and tests/integration/test_dma_lazy.c).
 * Page-table pages an unmap emptied wait in the queue with their range and
 * are freed after its flush, like the IOVAs: walk caches may still point at
 * them until then. A new mapping in the same span meanwhile is safe: the
 * format drops the slot's walk-cache entries before it fills a slot whose
 * table it retired (PTE_RETIRED in src/pgtable/arm_lpae.c).
 *
 * An entry is released only once a flush that started after it was queued
 * has finished. Each flush takes a ticket (flush_start, incremented); each
 * entry records flush_start when queued; flush_finish is the highest
 * ticket of a completed flush. The flush with ticket t started after every
 * entry that recorded less than t, so finish > an entry's count means it
 * is covered. (Linux's fq_flush_finish_cnt counts completed flushes
 * instead: there a flusher stalled between its two counts - here, a
 * preempted timer thread - would hold back every release behind it.)
 * Linux orders the PTE clears before reading the count with a full
 * barrier on every unmap. Here the flusher pays instead:
 * after counting a flush as started it takes and drops every shard lock
 * before invalidating, so a queuer that read the old count under its lock
 * has released that lock, and its PTE clears happen before the
 * invalidation; a queuer that takes its lock later reads the new count.
 * The unmap path needs only its shard lock; a flusher never holds one.
 *
 * The flush queue is split in shards, each a ring with a spinlock, and
 * each thread uses one (threads are spread round-robin); bench_dma_map
 * compares one shared queue with several.
 *
 * Lock order: a shard lock is held only to queue and release entries
 * (shard lock > iova and mem locks), never across a flush; the timer
 * thread holds its own lock only to sleep and to arm.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iommukit/iova.h>

#include "ik/compiler.h"
#include "ik/dma.h"
#include "ik/list.h"
#include "ik/log.h"
#include "ik/mem.h"

unsigned int ik_dma_fq_nr_shards = 8;
uint64_t ik_dma_fq_timeout_ns = IK_DMA_FQ_TIMEOUT_NS;

/* Check the oldest entry's age every this many queued entries. */
#define FQ_TIMEOUT_CHECK_EVERY 32
/* Largest chunk a coherent allocation asks the page allocator for. */
#define COHERENT_MAX_CHUNK (4UL << 20)

struct fq_entry {
	unsigned long pfn;    /* first pfn of the IOVA range */
	unsigned long pages;  /* its size in pfns */
	phys_addr_t freelist; /* page-table pages to free once flushed */
	size_t nr_free;
	uint64_t counter;     /* flush_start when queued */
};

struct fq_shard {
	int lock;
	unsigned int head;      /* oldest entry */
	unsigned int count;     /* entries in use */
	unsigned int since_check;
	uint64_t oldest_ns;     /* coarse clock when the oldest entry was queued */
	uint64_t queued;        /* statistics */
	uint64_t full_flushes;
	uint64_t timeout_flushes;
	unsigned int max_pending;
	struct fq_entry e[IK_DMA_FQ_SIZE];
} __attribute__((aligned(64)));

struct dma_fq {
	uint64_t flush_start __attribute__((aligned(64)));
	uint64_t flush_finish __attribute__((aligned(64)));
	uint64_t flushes;
	uint64_t timer_flushes;
	bool timer_armed __attribute__((aligned(64)));
	/* the timer thread */
	pthread_t timer;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond;
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: not armed */
	uint64_t timeout_ns;
	bool stop;
	unsigned int nr_shards;
	struct fq_shard shards[];
};

/* A coherent buffer this domain backs. */
struct dma_coherent {
	struct list_head node;
	struct device *dev;
	void *cpu_addr;
	dma_addr_t iova;
	size_t len;           /* bytes mapped (whole granules) */
	size_t npages;        /* 4 KiB pages */
	phys_addr_t pages[];  /* each page, in CPU and IOVA order */
};

struct dma_cookie {
	struct iova_domain iovad;
	struct iommu_domain *domain;
	struct ik_mem *mem;
	unsigned int shift;       /* log2 of the granule */
	dma_addr_t aperture_end;
	struct dma_fq *fq;        /* NULL: strict */
	pthread_mutex_t coherent_lock;
	struct list_head coherent; /* struct dma_coherent */
};

/* --- time --- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- the flush queue --- */

static inline void shard_lock(struct fq_shard *s)
{
	unsigned int spins = 0;

	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED)) {
			/* The holder may be flushing, or preempted: do not burn the CPU. */
			if (++spins > 64)
				sched_yield();
		}
	}
}

static inline void shard_unlock(struct fq_shard *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static unsigned int next_thread_shard;
static __thread unsigned int thread_shard; /* 1 + index, 0: not chosen yet */

static inline struct fq_shard *my_shard(struct dma_fq *fq)
{
	if (unlikely(!thread_shard))
		thread_shard = 1 + __atomic_fetch_add(&next_thread_shard, 1, __ATOMIC_RELAXED) %
					   IK_DMA_FQ_MAX_SHARDS;
	return &fq->shards[(thread_shard - 1) & (fq->nr_shards - 1)];
}

/* Start a flush: take a ticket and wait out queuers that read the old count. */
static uint64_t fq_flush_begin(struct dma_fq *fq)
{
	uint64_t ticket = __atomic_add_fetch(&fq->flush_start, 1, __ATOMIC_RELAXED);

	for (unsigned int i = 0; i < fq->nr_shards; i++) {
		shard_lock(&fq->shards[i]);
		shard_unlock(&fq->shards[i]);
	}
	return ticket;
}

/* Invalidate, then publish finish = max(finish, @ticket) (release: before any free). */
static void fq_flush_end(struct dma_cookie *c, uint64_t ticket)
{
	struct dma_fq *fq = c->fq;
	uint64_t done;

	ik_iommu_flush_iotlb_all(c->domain);
	done = __atomic_load_n(&fq->flush_finish, __ATOMIC_RELAXED);
	while (done < ticket && !__atomic_compare_exchange_n(&fq->flush_finish, &done, ticket, true,
							     __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/*
 * Invalidate the whole IOTLB of the domain; every entry queued before is
 * then covered. The caller holds no shard lock.
 */
static void fq_flush_iotlb(struct dma_cookie *c)
{
	struct dma_fq *fq = c->fq;

	fq_flush_end(c, fq_flush_begin(fq));
	__atomic_fetch_add(&fq->flushes, 1, __ATOMIC_RELAXED);
}

static void fq_entry_release(struct dma_cookie *c, const struct fq_entry *e)
{
	if (e->nr_free) {
		struct iommu_iotlb_gather g;

		ik_iommu_iotlb_gather_init(&g);
		g.freelist.head = e->freelist;
		g.freelist.count = e->nr_free;
		iommu_put_pages_list(c->mem, &g);
	}
	if (e->pages && ik_free_iova_fast(&c->iovad, e->pfn, e->pages))
		ik_err("dma: flush queue: IOVA pfn %#lx+%lu was not allocated as unmapped",
		       e->pfn, e->pages);
}

/*
 * Release the entries of @s that a finished flush covers (all of them if
 * @all: the caller just flushed). Shard lock held. Returns how many remain.
 */
static unsigned int fq_ring_release(struct dma_cookie *c, struct fq_shard *s, bool all)
{
	uint64_t finish = __atomic_load_n(&c->fq->flush_finish, __ATOMIC_ACQUIRE);

	while (s->count) {
		struct fq_entry *e = &s->e[s->head];

		if (!all && e->counter >= finish)
			break;
		fq_entry_release(c, e);
		s->head = (s->head + 1) % IK_DMA_FQ_SIZE;
		s->count--;
	}
	return s->count;
}

/* Flush, then release what every shard holds. Returns whether entries remain. */
static bool fq_flush_all(struct dma_cookie *c)
{
	struct dma_fq *fq = c->fq;
	bool left = false;

	fq_flush_iotlb(c);
	for (unsigned int i = 0; i < fq->nr_shards; i++) {
		struct fq_shard *s = &fq->shards[i];

		shard_lock(s);
		if (fq_ring_release(c, s, false))
			left = true;
		shard_unlock(s);
	}
	return left;
}

/* Make sure the timer will flush within the timeout. */
static void fq_arm_timer(struct dma_fq *fq)
{
	if (__atomic_load_n(&fq->timer_armed, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&fq->timer_armed, true, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&fq->timer_lock);
	if (!fq->deadline) {
		fq->deadline = clock_ns(CLOCK_MONOTONIC) + fq->timeout_ns;
		pthread_cond_signal(&fq->timer_cond);
	}
	pthread_mutex_unlock(&fq->timer_lock);
}

static void *fq_timer_fn(void *arg)
{
	struct dma_cookie *c = arg;
	struct dma_fq *fq = c->fq;

	pthread_mutex_lock(&fq->timer_lock);
	while (!fq->stop) {
		if (!fq->deadline) {
			pthread_cond_wait(&fq->timer_cond, &fq->timer_lock);
			continue;
		}
		if (clock_ns(CLOCK_MONOTONIC) < fq->deadline) {
			struct timespec ts = {
				.tv_sec = (time_t)(fq->deadline / 1000000000ULL),
				.tv_nsec = (long)(fq->deadline % 1000000000ULL),
			};
			pthread_cond_timedwait(&fq->timer_cond, &fq->timer_lock, &ts);
			continue;
		}
		fq->deadline = 0;
		/*
		 * Disarm before flushing: an entry queued after a shard is
		 * scanned below sees the timer disarmed and arms it again.
		 */
		__atomic_store_n(&fq->timer_armed, false, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&fq->timer_lock);
		__atomic_fetch_add(&fq->timer_flushes, 1, __ATOMIC_RELAXED);
		bool left = fq_flush_all(c);
		if (left)
			fq_arm_timer(fq);
		pthread_mutex_lock(&fq->timer_lock);
	}
	pthread_mutex_unlock(&fq->timer_lock);
	return NULL;
}

static struct dma_fq *fq_create(struct dma_cookie *c)
{
	unsigned int nr = ik_dma_fq_nr_shards;
	struct dma_fq *fq;
	pthread_condattr_t ca;
	int ret;

	if (nr < 1 || nr > IK_DMA_FQ_MAX_SHARDS)
		nr = IK_DMA_FQ_MAX_SHARDS;
	nr = 1u << ik_fls64(nr); /* a power of two: threads pick one by mask */
	if (posix_memalign((void **)&fq, 64, sizeof(*fq) + nr * sizeof(fq->shards[0]))) {
		errno = ENOMEM;
		return NULL;
	}
	memset(fq, 0, sizeof(*fq) + nr * sizeof(fq->shards[0]));
	fq->nr_shards = nr;
	fq->timeout_ns = ik_dma_fq_timeout_ns ? ik_dma_fq_timeout_ns : IK_DMA_FQ_TIMEOUT_NS;
	pthread_mutex_init(&fq->timer_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fq->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	c->fq = fq;
	ret = pthread_create(&fq->timer, NULL, fq_timer_fn, c);
	if (ret) {
		pthread_cond_destroy(&fq->timer_cond);
		pthread_mutex_destroy(&fq->timer_lock);
		free(fq);
		c->fq = NULL;
		errno = ret == EAGAIN ? ENOMEM : ret;
		return NULL;
	}
	return fq;
}

/* Stop the timer, flush, and release everything (domain teardown). */
static void fq_destroy(struct dma_cookie *c)
{
	struct dma_fq *fq = c->fq;

	pthread_mutex_lock(&fq->timer_lock);
	fq->stop = true;
	pthread_cond_signal(&fq->timer_cond);
	pthread_mutex_unlock(&fq->timer_lock);
	pthread_join(fq->timer, NULL);

	fq_flush_iotlb(c);
	for (unsigned int i = 0; i < fq->nr_shards; i++)
		fq_ring_release(c, &fq->shards[i], true);
	pthread_cond_destroy(&fq->timer_cond);
	pthread_mutex_destroy(&fq->timer_lock);
	free(fq);
	c->fq = NULL;
}

/*
 * Queue an IOVA range whose PTEs were cleared into @gather (queued: not
 * invalidated yet), with the table pages the gather freed. Every entry is
 * released only after a flush that covers it.
 */
static void fq_queue(struct dma_cookie *c, unsigned long pfn, unsigned long pages,
		     struct iommu_iotlb_gather *gather)
{
	struct dma_fq *fq = c->fq;
	struct fq_shard *s = my_shard(fq);
	enum { NONE, TIMEOUT } flush = NONE;

	shard_lock(s);
	fq_ring_release(c, s, false);
	while (unlikely(s->count == IK_DMA_FQ_SIZE)) {
		/* Flush without the lock, then release what that covered. */
		s->full_flushes++;
		shard_unlock(s);
		fq_flush_iotlb(c);
		shard_lock(s);
		fq_ring_release(c, s, false);
	}
	struct fq_entry *e = &s->e[(s->head + s->count) % IK_DMA_FQ_SIZE];
	*e = (struct fq_entry){
		.pfn = pfn, .pages = pages,
		.freelist = gather->freelist.head, .nr_free = gather->freelist.count,
		.counter = __atomic_load_n(&fq->flush_start, __ATOMIC_RELAXED),
	};
	if (!s->count++) {
		s->oldest_ns = clock_ns(CLOCK_MONOTONIC_COARSE);
		s->since_check = 0;
	} else if (++s->since_check >= FQ_TIMEOUT_CHECK_EVERY) {
		s->since_check = 0;
		if (clock_ns(CLOCK_MONOTONIC_COARSE) - s->oldest_ns >= fq->timeout_ns)
			flush = TIMEOUT;
	}
	s->queued++;
	if (s->count > s->max_pending)
		s->max_pending = s->count;
	if (flush == TIMEOUT)
		s->timeout_flushes++;
	shard_unlock(s);
	if (flush != NONE) {
		fq_flush_iotlb(c);
		shard_lock(s);
		bool left = fq_ring_release(c, s, false) != 0;
		shard_unlock(s);
		if (!left)
			return;
	}
	fq_arm_timer(fq);
}

/* --- the cookie --- */

static void iommu_dma_put_cookie(struct iommu_domain *domain);

/* Highest pfn whose whole granule lies at or below @limit (an address). */
static inline unsigned long limit_pfn(const struct dma_cookie *c, uint64_t limit)
{
	uint64_t end = ik_min(limit, c->aperture_end);

	if (end == UINT64_MAX)
		return (unsigned long)(end >> c->shift);
	return (unsigned long)(((end + 1) >> c->shift) - 1);
}

static void cookie_free(struct dma_cookie *c)
{
	ik_put_iova_domain(&c->iovad);
	pthread_mutex_destroy(&c->coherent_lock);
	free(c);
}

static struct dma_cookie *__attribute__((noinline)) cookie_create(struct iommu_domain *domain)
{
	unsigned long granule = domain->min_pagesz;
	const struct iommu_domain_geometry *geo = &domain->geometry;
	struct dma_cookie *c, *old = NULL;
	unsigned long start_pfn;
	int ret;

	if (!granule || (granule & (granule - 1)) || geo->aperture_end < geo->aperture_start) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->domain = domain;
	c->mem = domain->mem;
	c->shift = (unsigned int)ik_ffs64(granule);
	c->aperture_end = geo->aperture_end;
	pthread_mutex_init(&c->coherent_lock, NULL);
	INIT_LIST_HEAD(&c->coherent);
	/* From the first whole granule of the aperture; IOVA 0 is never handed out. */
	start_pfn = (unsigned long)(ALIGN_UP(geo->aperture_start, (uint64_t)granule) >> c->shift);
	if (!start_pfn)
		start_pfn = 1;
	ret = ik_init_iova_domain(&c->iovad, granule, start_pfn);
	if (!ret)
		ret = ik_iova_domain_init_rcaches(&c->iovad);
	if (ret) {
		ik_put_iova_domain(&c->iovad);
		pthread_mutex_destroy(&c->coherent_lock);
		free(c);
		errno = -ret;
		return NULL;
	}
	if (domain->type == IOMMU_DOMAIN_DMA_FQ && !fq_create(c)) {
		int err = errno;

		cookie_free(c);
		errno = err;
		return NULL;
	}
	__atomic_store_n(&domain->put_dma_cookie, iommu_dma_put_cookie, __ATOMIC_RELEASE);
	if (!__atomic_compare_exchange_n(&domain->dma_cookie, (void **)&old, c, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* Another thread won the race: use its cookie. */
		if (c->fq)
			fq_destroy(c);
		cookie_free(c);
		return old;
	}
	return c;
}

/* The cookie of @domain, created on first use; NULL with errno. */
static inline struct dma_cookie *cookie_get(struct iommu_domain *domain)
{
	struct dma_cookie *c = __atomic_load_n(&domain->dma_cookie, __ATOMIC_ACQUIRE);

	return likely(c) ? c : cookie_create(domain);
}

static inline struct dma_cookie *cookie_peek(struct iommu_domain *domain)
{
	return __atomic_load_n(&domain->dma_cookie, __ATOMIC_ACQUIRE);
}

/* --- IOVAs --- */

/*
 * Allocate @pages granules below @mask and the aperture's end. When IOVA
 * space is exhausted, ranges waiting in the flush queue are released and
 * the allocation retried. Returns the address, or 0 with errno ERANGE
 * (nothing of the aperture lies below the mask), ENOSPC or ENOMEM.
 */
static dma_addr_t iova_alloc(struct dma_cookie *c, struct device *dev, unsigned long pages,
			     uint64_t mask)
{
	unsigned long limit = limit_pfn(c, mask), pfn;

	if (unlikely(limit < c->iovad.start_pfn)) {
		ik_err("dma: %s: DMA mask %#llx lies below the IOMMU aperture", dev->name,
		       (unsigned long long)mask);
		errno = ERANGE;
		return 0;
	}
	pfn = ik_alloc_iova_fast(&c->iovad, pages, limit, true);
	if (unlikely(!pfn) && errno == ENOSPC && c->fq) {
		fq_flush_all(c);
		pfn = ik_alloc_iova_fast(&c->iovad, pages, limit, true);
	}
	if (unlikely(!pfn))
		return 0;
	return (dma_addr_t)pfn << c->shift;
}

/* Undo an unmap's worth of IOVA: queue it (lazy) or invalidate and free (strict). */
struct unmap_batch {
	struct iommu_iotlb_gather gather;
	size_t unmapped;
	bool short_unmap;
};

static inline void batch_init(struct dma_cookie *c, struct unmap_batch *b)
{
	ik_iommu_iotlb_gather_init(&b->gather);
	b->gather.queued = c->fq != NULL;
	b->unmapped = 0;
	b->short_unmap = false;
}

static inline void batch_unmap(struct dma_cookie *c, struct unmap_batch *b, dma_addr_t iova,
			       size_t len)
{
	size_t n = ik_iommu_unmap_fast(c->domain, iova, len, &b->gather);

	b->unmapped += n;
	if (unlikely(n != len))
		b->short_unmap = true;
}

/*
 * Finish an unmap of the IOVA range [iova, iova + len). Strict: sync the
 * gather (the IOTLB is clean when this returns) and free the range. Lazy:
 * queue both. A range of which nothing was mapped is not freed: it is not
 * a live mapping, and may be another's.
 */
static void batch_finish(struct device *dev, struct dma_cookie *c, struct unmap_batch *b,
			 dma_addr_t iova, size_t len)
{
	unsigned long pfn = (unsigned long)(iova >> c->shift);
	unsigned long pages = (unsigned long)(len >> c->shift);

	if (unlikely(b->short_unmap)) {
		ik_dma_debug_error("dma: %s: unmap of IOVA %#llx+%#zx: only %#zx bytes were mapped",
				   dev->name, (unsigned long long)iova, len, b->unmapped);
		if (!b->unmapped) {
			ik_iommu_iotlb_sync(c->domain, &b->gather);
			return;
		}
	}
	if (c->fq) {
		fq_queue(c, pfn, pages, &b->gather);
		return;
	}
	ik_iommu_iotlb_sync(c->domain, &b->gather);
	if (unlikely(ik_free_iova_fast(&c->iovad, pfn, pages)))
		ik_dma_debug_error("dma: %s: unmap of IOVA %#llx+%#zx: not an IOVA range as "
				   "allocated",
				   dev->name, (unsigned long long)iova, len);
}

/* --- streaming mappings --- */

static inline int dir_to_prot(struct device *dev, enum dma_data_direction dir)
{
	int prot = ik_machine_dma_coherent(dev->machine) ? IOMMU_CACHE : 0;

	switch (dir) {
	case DMA_TO_DEVICE:
		return prot | IOMMU_READ;
	case DMA_FROM_DEVICE:
		return prot | IOMMU_WRITE;
	default:
		return prot | IOMMU_READ | IOMMU_WRITE;
	}
}

static dma_addr_t dma_iommu_map_phys(struct device *dev, struct iommu_domain *domain,
				 phys_addr_t phys, size_t size, enum dma_data_direction dir)
{
	struct dma_cookie *c = cookie_get(domain);
	size_t off, len;
	dma_addr_t iova;
	int ret;

	if (unlikely(!c))
		return DMA_MAPPING_ERROR;
	off = ik_iova_offset(&c->iovad, phys);
	if (unlikely(size > SIZE_MAX - off - c->iovad.granule)) {
		errno = ENOSPC;
		return DMA_MAPPING_ERROR;
	}
	len = ik_iova_align(&c->iovad, off + size);
	iova = iova_alloc(c, dev, (unsigned long)(len >> c->shift), ik_dma_dev_mask(dev));
	if (unlikely(!iova))
		return DMA_MAPPING_ERROR;
	ret = ik_iommu_map(domain, iova, phys - off, len, dir_to_prot(dev, dir), GFP_ATOMIC);
	if (unlikely(ret)) {
		ik_free_iova_fast(&c->iovad, (unsigned long)(iova >> c->shift),
				  (unsigned long)(len >> c->shift));
		errno = -ret;
		return DMA_MAPPING_ERROR;
	}
	return iova + off;
}

static void dma_iommu_unmap_phys(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
			     size_t size, enum dma_data_direction dir)
{
	struct dma_cookie *c = cookie_peek(domain);
	struct unmap_batch b;
	size_t off, len;

	if (unlikely(!c)) {
		ik_dma_debug_error("dma: %s: unmap of %#llx: nothing was ever mapped in its domain",
				   dev->name, (unsigned long long)addr);
		return;
	}
	off = ik_iova_offset(&c->iovad, addr);
	if (unlikely(size > SIZE_MAX - off - c->iovad.granule)) {
		ik_dma_debug_error("dma: %s: unmap of %#llx+%#zx: size out of range", dev->name,
				   (unsigned long long)addr, size);
		return;
	}
	len = ik_iova_align(&c->iovad, off + size);
	batch_init(c, &b);
	batch_unmap(c, &b, addr - off, len);
	batch_finish(dev, c, &b, addr - off, len);
}

static int dma_iommu_to_phys(struct device *dev, struct iommu_domain *domain, dma_addr_t addr,
			 phys_addr_t *phys)
{
	phys_addr_t pa = ik_iommu_iova_to_phys(domain, addr);

	if (!pa)
		return -EFAULT;
	*phys = pa;
	return 0;
}

/* --- scatterlists --- */

/*
 * The IOVA layout of a list: entries follow each other, each starting on a
 * granule boundary at the offset it has in its own granule, so an entry
 * that ends on a granule boundary runs straight into a next one that
 * starts on one. An entry whose granules would cross a segment boundary
 * is moved up to that boundary (the gap stays unmapped). ik_dma_sg_check()
 * made sure each entry fits between two boundaries.
 */
struct sg_layout {
	uint64_t gmask;      /* granule - 1 */
	uint64_t bmask;      /* segment boundary mask */
	size_t pos;          /* IOVA offset where the next entry's granules may start */
};

/* Place @s: returns the offset of its first granule; *glen gets its granules' bytes. */
static inline size_t sg_place(struct sg_layout *l, const struct scatterlist *s, size_t *glen)
{
	size_t off = (size_t)(s->phys & l->gmask);
	size_t len = (size_t)ALIGN_UP((uint64_t)off + s->length, l->gmask + 1);
	size_t at = l->pos;

	if ((at & ~l->bmask) != ((at + len - 1) & ~l->bmask))
		at = (size_t)ALIGN_UP((uint64_t)at, l->bmask + 1);
	l->pos = at + len;
	*glen = len;
	return at;
}

static inline void sg_layout_init(struct sg_layout *l, struct dma_cookie *c, struct device *dev)
{
	l->gmask = c->iovad.granule - 1;
	l->bmask = ik_dma_dev_seg_boundary(dev);
	l->pos = 0;
}

/* Total IOVA bytes the layout of @sg takes; 0 if it overflows. */
static size_t sg_layout_size(struct dma_cookie *c, struct device *dev,
			     const struct scatterlist *sg, int nents)
{
	struct sg_layout l;
	size_t glen;

	sg_layout_init(&l, c, dev);
	for (int i = 0; i < nents; i++) {
		size_t before = l.pos;

		sg_place(&l, &sg[i], &glen);
		if (l.pos < before)
			return 0;
	}
	return l.pos;
}

/*
 * Fill in the DMA segments of a list mapped at @base: an entry joins the
 * open segment when it starts at offset 0 of its granule, directly after
 * the previous entry's granules, which that entry filled to the end; when
 * the join is not on a segment boundary; and when the segment stays within
 * the max segment size. Returns the number of segments.
 */
static int sg_finalise(struct dma_cookie *c, struct device *dev, struct scatterlist *sg,
		       int nents, dma_addr_t base)
{
	unsigned int max_seg = ik_dma_dev_max_seg(dev);
	struct sg_layout l;
	int count = 0;
	size_t prev_end = 0;     /* IOVA offset just past the previous entry's granules */
	bool prev_full = false;  /* the previous entry's data ended on a granule boundary */
	unsigned int cur_len = 0;

	sg_layout_init(&l, c, dev);
	for (int i = 0; i < nents; i++) {
		size_t off = (size_t)(sg[i].phys & l.gmask), glen;
		unsigned int len = sg[i].length;
		size_t at = sg_place(&l, &sg[i], &glen);
		bool join = count && prev_full && !off && at == prev_end &&
			    (at & l.bmask) && len <= max_seg - cur_len;

		/* sg[count - 1] is the open segment; entries up to i were read already. */
		if (join) {
			cur_len += len;
			sg[count - 1].dma_length = cur_len;
		} else {
			sg[count].dma_address = base + at + off;
			sg[count].dma_length = len;
			cur_len = len;
			count++;
		}
		prev_end = at + glen;
		prev_full = off + len == glen;
	}
	for (int i = count; i < nents; i++) {
		sg[i].dma_address = DMA_MAPPING_ERROR;
		sg[i].dma_length = 0;
	}
	return count;
}

static void sg_unmap_runs(struct dma_cookie *c, struct device *dev, const struct scatterlist *sg,
			  int nents, dma_addr_t base, struct unmap_batch *b, int upto)
{
	struct sg_layout l;
	size_t run_start = 0, run_end = 0, glen;

	sg_layout_init(&l, c, dev);
	for (int i = 0; i < upto && i < nents; i++) {
		size_t at = sg_place(&l, &sg[i], &glen);

		if (run_end != run_start && at == run_end) {
			run_end += glen;
			continue;
		}
		if (run_end != run_start)
			batch_unmap(c, b, base + run_start, run_end - run_start);
		run_start = at;
		run_end = at + glen;
	}
	if (run_end != run_start)
		batch_unmap(c, b, base + run_start, run_end - run_start);
}

static int dma_iommu_map_sg(struct device *dev, struct iommu_domain *domain, struct scatterlist *sg,
			int nents, enum dma_data_direction dir)
{
	struct dma_cookie *c = cookie_get(domain);
	int prot = dir_to_prot(dev, dir), ret = 0, i;
	struct sg_layout l;
	size_t total, glen;
	dma_addr_t base;

	if (unlikely(!c))
		return 0;
	total = sg_layout_size(c, dev, sg, nents);
	if (!total) {
		errno = ENOSPC;
		return 0;
	}
	base = iova_alloc(c, dev, (unsigned long)(total >> c->shift), ik_dma_dev_mask(dev));
	if (!base)
		return 0;

	/* Map runs that follow each other both in IOVA and physically in one call. */
	size_t run_at = 0, run_len = 0;
	phys_addr_t run_pa = 0;

	sg_layout_init(&l, c, dev);
	for (i = 0; i <= nents; i++) {
		size_t at = 0;
		phys_addr_t pa = 0;

		if (i < nents) {
			at = sg_place(&l, &sg[i], &glen);
			pa = sg[i].phys & ~l.gmask;
			if (run_len && at == run_at + run_len && pa == run_pa + run_len) {
				run_len += glen;
				continue;
			}
		}
		if (run_len) {
			ret = ik_iommu_map(domain, base + run_at, run_pa, run_len, prot,
					   GFP_ATOMIC);
			if (ret)
				break;
		}
		run_at = at;
		run_pa = pa;
		run_len = i < nents ? glen : 0;
	}
	if (ret) {
		/* Undo the entries before the run that failed; the device never had them. */
		struct unmap_batch b;

		batch_init(c, &b);
		b.gather.queued = false;
		sg_unmap_runs(c, dev, sg, nents, base, &b, i);
		/* The failed run left nothing behind, but entries of it came before i. */
		ik_iommu_iotlb_sync(domain, &b.gather);
		ik_free_iova_fast(&c->iovad, (unsigned long)(base >> c->shift),
				  (unsigned long)(total >> c->shift));
		errno = -ret;
		return 0;
	}
	return sg_finalise(c, dev, sg, nents, base);
}

static void dma_iommu_unmap_sg(struct device *dev, struct iommu_domain *domain,
			   struct scatterlist *sg, int nents, enum dma_data_direction dir)
{
	struct dma_cookie *c = cookie_peek(domain);
	struct unmap_batch b;
	size_t total;
	dma_addr_t base;

	if (unlikely(!c)) {
		ik_dma_debug_error("dma: %s: unmap_sg at %#llx: nothing was ever mapped in its "
				   "domain",
				   dev->name, (unsigned long long)sg[0].dma_address);
		return;
	}
	total = sg_layout_size(c, dev, sg, nents);
	base = sg[0].dma_address - ik_iova_offset(&c->iovad, sg[0].phys);
	if (!total || sg[0].dma_address == DMA_MAPPING_ERROR || !sg[0].dma_length ||
	    ik_iova_offset(&c->iovad, base)) {
		ik_dma_debug_error("dma: %s: unmap_sg of %d entries at %#llx: not a mapped list",
				   dev->name, nents, (unsigned long long)sg[0].dma_address);
		return;
	}
	batch_init(c, &b);
	sg_unmap_runs(c, dev, sg, nents, base, &b, nents);
	batch_finish(dev, c, &b, base, total);
}

/* --- coherent allocations --- */

static void coherent_release_pages(struct ik_mem *mem, const phys_addr_t *pages, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && pages[j] == pages[j - 1] + IK_PAGE_SIZE)
			j++;
		ik_mem_free_pages(mem, pages[i], j - i);
		i = j;
	}
}

/*
 * Allocate @len bytes (whole granules) in power-of-two chunks aligned to
 * their size, largest first: a chunk as large as a page size of the
 * domain can be mapped with one such page. Fills @pages with every 4 KiB
 * page in order. 0 or -ENOMEM (nothing kept).
 */
static int coherent_alloc_pages(struct dma_cookie *c, size_t len, phys_addr_t *pages)
{
	size_t granule = c->iovad.granule, done = 0;
	size_t chunk = COHERENT_MAX_CHUNK;

	if (chunk < granule)
		chunk = granule;
	while (done < len) {
		phys_addr_t pa;

		while (chunk > len - done)
			chunk >>= 1;
		while (ik_mem_alloc_pages(c->mem, chunk >> IK_PAGE_SHIFT, chunk, &pa)) {
			/* Chunks only shrink, so each stays aligned in IOVA to its size. */
			if (chunk == granule) {
				coherent_release_pages(c->mem, pages, done >> IK_PAGE_SHIFT);
				return -ENOMEM;
			}
			chunk >>= 1;
		}
		for (size_t k = 0; k < chunk >> IK_PAGE_SHIFT; k++)
			pages[(done >> IK_PAGE_SHIFT) + k] = pa + (k << IK_PAGE_SHIFT);
		done += chunk;
	}
	return 0;
}

static void *dma_iommu_alloc(struct device *dev, struct iommu_domain *domain, size_t size,
			 dma_addr_t *handle)
{
	struct dma_cookie *c = cookie_get(domain);
	struct dma_coherent *buf;
	size_t len, npages, done = 0;
	dma_addr_t iova;
	int prot = IOMMU_READ | IOMMU_WRITE, ret = 0;

	if (!c)
		return NULL;
	len = ik_iova_align(&c->iovad, size);
	npages = len >> IK_PAGE_SHIFT;
	buf = malloc(sizeof(*buf) + npages * sizeof(buf->pages[0]));
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	iova = iova_alloc(c, dev, (unsigned long)(len >> c->shift), ik_dma_dev_coherent_mask(dev));
	if (!iova)
		goto fail_buf;
	if (coherent_alloc_pages(c, len, buf->pages)) {
		ik_err("dma: %s: out of memory for a %#zx-byte coherent buffer", dev->name, len);
		errno = ENOMEM;
		goto fail_iova;
	}
	/*
	 * The pages were free: lines the CPU still caches for them are
	 * garbage, and a dirty one written back later would land in the
	 * buffer. Drop them without write-back; memory is zero already.
	 */
	if (!ik_machine_dma_coherent(dev->machine)) {
		for (size_t i = 0; i < npages; i++)
			ik_cpu_cache_invalidate(dev->machine, buf->pages[i], IK_PAGE_SIZE);
	} else {
		prot |= IOMMU_CACHE;
	}
	/* Map runs of physically adjacent pages in one call each. */
	while (done < npages && !ret) {
		size_t j = done + 1;

		while (j < npages && buf->pages[j] == buf->pages[j - 1] + IK_PAGE_SIZE)
			j++;
		ret = ik_iommu_map(domain, iova + (done << IK_PAGE_SHIFT), buf->pages[done],
				   (j - done) << IK_PAGE_SHIFT, prot, GFP_KERNEL);
		if (!ret)
			done = j;
	}
	if (ret) {
		if (done)
			ik_iommu_unmap(domain, iova, done << IK_PAGE_SHIFT);
		errno = -ret;
		goto fail_pages;
	}
	buf->cpu_addr = ik_mem_vmap(c->mem, buf->pages, npages);
	if (!buf->cpu_addr) {
		ik_iommu_unmap(domain, iova, len);
		goto fail_pages;
	}
	buf->dev = dev;
	buf->iova = iova;
	buf->len = len;
	buf->npages = npages;
	pthread_mutex_lock(&c->coherent_lock);
	list_add_tail(&buf->node, &c->coherent);
	pthread_mutex_unlock(&c->coherent_lock);
	*handle = iova;
	return buf->cpu_addr;

fail_pages:
	coherent_release_pages(c->mem, buf->pages, npages);
fail_iova:
	ik_free_iova_fast(&c->iovad, (unsigned long)(iova >> c->shift),
			  (unsigned long)(len >> c->shift));
fail_buf:
	free(buf);
	return NULL;
}

/* Unmap and free a coherent buffer taken off the cookie's list. */
static void coherent_destroy(struct dma_cookie *c, struct dma_coherent *buf, bool strict)
{
	struct unmap_batch b;

	batch_init(c, &b);
	if (strict)
		b.gather.queued = false;
	batch_unmap(c, &b, buf->iova, buf->len);
	if (strict) {
		ik_iommu_iotlb_sync(c->domain, &b.gather);
		ik_free_iova_fast(&c->iovad, (unsigned long)(buf->iova >> c->shift),
				  (unsigned long)(buf->len >> c->shift));
	} else {
		batch_finish(buf->dev, c, &b, buf->iova, buf->len);
	}
	ik_mem_vunmap(c->mem, buf->cpu_addr, buf->npages);
	coherent_release_pages(c->mem, buf->pages, buf->npages);
	free(buf);
}

static int dma_iommu_free(struct device *dev, struct iommu_domain *domain, size_t size,
		      void *cpu_addr, dma_addr_t handle)
{
	struct dma_cookie *c = cookie_peek(domain);
	struct dma_coherent *buf, *found = NULL;

	if (!c)
		return -ENOENT;
	pthread_mutex_lock(&c->coherent_lock);
	list_for_each_entry(buf, &c->coherent, node) {
		if (buf->cpu_addr != cpu_addr)
			continue;
		if (buf->dev == dev && buf->iova == handle &&
		    buf->len == ik_iova_align(&c->iovad, size)) {
			list_del_init(&buf->node);
			found = buf;
		} else {
			ik_err("dma: %s: free_coherent of %p (dma %#llx, %#zx bytes): allocated by "
			       "%s at %#llx with %#zx bytes",
			       dev->name, cpu_addr, (unsigned long long)handle, size,
			       buf->dev->name, (unsigned long long)buf->iova, buf->len);
		}
		break;
	}
	pthread_mutex_unlock(&c->coherent_lock);
	if (!found)
		return -ENOENT;
	/* The pages go back to the allocator: no stale IOTLB entry may reach them. */
	coherent_destroy(c, found, true);
	return 0;
}

/* --- teardown --- */

/* Called by the core when a DMA domain is freed, before its tables go. */
static void iommu_dma_put_cookie(struct iommu_domain *domain)
{
	struct dma_cookie *c = domain->dma_cookie;
	struct dma_coherent *buf, *tmp;

	if (!c)
		return;
	if (c->fq)
		fq_destroy(c);
	list_for_each_entry_safe(buf, tmp, &c->coherent, node) {
		ik_warn("dma: %s: coherent buffer %p (dma %#llx, %#zx bytes) still allocated "
			"when its domain is freed; freeing it",
			buf->dev->name, buf->cpu_addr, (unsigned long long)buf->iova, buf->len);
		list_del_init(&buf->node);
		coherent_destroy(c, buf, true);
	}
	cookie_free(c);
	domain->dma_cookie = NULL;
}

/* --- sharing the IOVA space (iovmm) --- */

/* See ik/dma.h: the cookie's allocator, which other users draw from with alloc_iova(). */
struct iova_domain *iommu_dma_get_iovad(struct iommu_domain *domain)
{
	struct dma_cookie *c;

	if (!domain || (domain->type & IOMMU_DOMAIN_DMA) != IOMMU_DOMAIN_DMA) {
		errno = EINVAL;
		return NULL;
	}
	c = cookie_get(domain);
	return c ? &c->iovad : NULL;
}

/* --- statistics for tests and benchmarks --- */

int ik_dma_fq_get_stats(struct iommu_domain *domain, struct ik_dma_fq_stats *stats,
			unsigned int *pending)
{
	struct dma_cookie *c = domain ? cookie_peek(domain) : NULL;
	struct dma_fq *fq = c ? c->fq : NULL;
	unsigned int total = 0;

	if (!fq)
		return -ENOENT;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	for (unsigned int i = 0; i < fq->nr_shards; i++) {
		struct fq_shard *s = &fq->shards[i];

		shard_lock(s);
		total += s->count;
		if (stats) {
			stats->queued += s->queued;
			stats->full_flushes += s->full_flushes;
			stats->timeout_flushes += s->timeout_flushes;
			stats->max_pending = ik_max(stats->max_pending, (uint64_t)s->max_pending);
		}
		shard_unlock(s);
	}
	if (stats) {
		stats->flushes = __atomic_load_n(&fq->flushes, __ATOMIC_RELAXED);
		stats->timeout_flushes += __atomic_load_n(&fq->timer_flushes, __ATOMIC_RELAXED);
	}
	if (pending)
		*pending = total;
	return 0;
}

void ik_dma_fq_flush(struct iommu_domain *domain)
{
	struct dma_cookie *c = domain ? cookie_peek(domain) : NULL;

	if (c && c->fq)
		fq_flush_all(c);
}

uint64_t ik_dma_fq_flush_begin(struct iommu_domain *domain)
{
	struct dma_cookie *c = domain ? cookie_peek(domain) : NULL;

	return c && c->fq ? fq_flush_begin(c->fq) : 0;
}

void ik_dma_fq_flush_end(struct iommu_domain *domain, uint64_t ticket)
{
	struct dma_cookie *c = domain ? cookie_peek(domain) : NULL;

	if (c && c->fq && ticket)
		fq_flush_end(c, ticket);
}

const struct ik_dma_map_ops ik_dma_iommu_ops = {
	.name = "iommu",
	.map_phys = dma_iommu_map_phys,
	.unmap_phys = dma_iommu_unmap_phys,
	.map_sg = dma_iommu_map_sg,
	.unmap_sg = dma_iommu_unmap_sg,
	.to_phys = dma_iommu_to_phys,
	.alloc = dma_iommu_alloc,
	.free = dma_iommu_free,
};
