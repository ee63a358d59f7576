// SPDX-License-Identifier: MIT
/*
 * Per-thread range caches behind alloc_iova_fast()/free_iova_fast():
 * Bonwick's magazines (Bonwick & Adams, "Magazines and Vmem: Extending the
 * Slab Allocator to Many CPUs and Arbitrary Resources", USENIX 2001), with a
 * fixed magazine size as Linux's iova.c uses. Each thread has, per domain
 * and per size class (1, 2, 4, ... 64 pfns), a loaded and a previous
 * magazine; the previous one is always full or empty. A shared depot per domain and class keeps full
 * and empty magazines under a mutex. Freed ranges stay in the tree marked
 * IOVA_CACHED, so the slow path never hands them out; alloc marks them
 * IOVA_ALLOCATED again.
 *
 * Fast path: a warm alloc/free pair takes no lock and no atomic
 * read-modify-write. The thread finds its cache for the domain through
 * tls_last (initial-exec TLS: one %fs-relative load), then
 *   alloc: pop (pfn, node) from the loaded magazine;
 *   free:  look the pfn up in the domain's radix index (through the radix
 *          leaf it used last), check the node is an allocated range of that
 *          size starting there, push it.
 *
 * Draining another thread's magazines (ENOSPC, flush, reserve_iova) uses
 * asymmetric fences, as liburcu's membarrier flavour does: the owner brackets
 * each cache operation with plain stores to tc->busy and reads tc->drain_req
 * after a compiler-only barrier; the drainer sets drain_req, runs
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) (a full barrier on every
 * running thread of the process, see membarrier(2)), then waits for busy to
 * be 0. After that the owner either finished its operation (and the drainer
 * sees its work) or will see drain_req and wait on the registry lock. Where
 * membarrier is unavailable both sides use seq_cst store and load instead
 * (an xchg on x86 for the owner): every cache then carries DIVERT_FENCED in
 * drain_req, so the hot paths, which only test drain_req for zero, always
 * hand over to the out-of-line paths that do this.
 *
 * Lifetime: a thread's caches go back to the depot (full magazines) or the
 * tree when it exits (pthread key destructor). put_iova_domain() frees the
 * caches of threads still running and marks them dead; the owner frees the
 * small dead record on its next lookup or at exit. Lock order: registry ->
 * tree -> nothing; registry -> depot; a cache operation (busy) may take a
 * depot lock only, so a drainer never waits for busy while holding one.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __NR_membarrier
#include <linux/membarrier.h>
#endif

#include "ik/compiler.h"
#include "iova/iova-internal.h"

#define IK_TLS __thread __attribute__((tls_model("initial-exec")))

/* tc_free_slow() result: not handled by the cache, use the tree. */
#define IOVA_NOT_CACHED 1

struct iova_class_cache {
	struct iova_mag *loaded, *prev;
};

/* One thread's cache for one domain. */
struct iova_tcache {
	struct iova_domain *iovad; /* atomic: the domain; TC_DEAD once put */
	unsigned int busy;         /* atomic: the owner is inside a cache operation */
	unsigned int drain_req;    /* atomic: DIVERT_* bits; 0 lets the hot paths run */
	unsigned int fenced;       /* DIVERT_FENCED when made in fence mode, else 0 */
	struct ik_iova_state *st;
	unsigned long leaf_key;    /* pfn >> IOVA_RADIX_BITS covered by @leaf */
	struct iova_rnode *leaf;   /* radix leaf free used last */
	struct iova_class_cache cls[IOVA_NR_CLASSES];
	struct iova_tcache *dom_next, *dom_prev; /* the domain's list; registry lock */
	struct iova_tcache *thr_next;            /* this thread's list; owner only */
};

/*
 * tc->iovad of a cache whose domain was put: not NULL, so that no domain
 * argument (not even a NULL one) matches it.
 */
static const char dead_domain;
#define TC_DEAD ((struct iova_domain *)&dead_domain)

/* What tls_last points to before a thread has any cache: it matches nothing. */
static struct iova_tcache tc_none = { .iovad = TC_DEAD, .leaf_key = ULONG_MAX };

static IK_TLS struct iova_tcache *tls_last = &tc_none; /* cache of the domain used last */
static IK_TLS struct iova_tcache *tls_list; /* all of this thread's caches */

/* Guards every domain's tcaches list, tc->iovad changes, and draining. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t rcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool exit_key_ok;
static bool membarrier_ok;
static int fence_mode; /* atomic: no membarrier, owners fence themselves */

/* drain_req bits */
#define DIVERT_DRAIN  1u /* a drainer is emptying the magazines */
#define DIVERT_FENCED 2u /* this cache runs the seq_cst protocol, out of line */

static void tcache_thread_exit(void *arg);

static void rcache_setup(void)
{
	exit_key_ok = !pthread_key_create(&exit_key, tcache_thread_exit);
#ifdef __NR_membarrier
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    !syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0)) {
		membarrier_ok = true;
		return;
	}
#endif
	__atomic_store_n(&fence_mode, 1, __ATOMIC_RELAXED);
}

/*
 * Drainer side, after its seq_cst stores of drain_req: with membarrier,
 * every thread runs a full barrier, so an owner's earlier store to busy is
 * visible. Caches in fence mode use seq_cst accesses on both sides (Dekker
 * in the C11 model) and need nothing more.
 */
static void drain_barrier(void)
{
#ifdef __NR_membarrier
	if (membarrier_ok)
		syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}

/*
 * Owner side, hot paths: mark busy, then go on only if nothing diverts.
 * The compiler keeps the order; membarrier in the drainer orders the CPU.
 */
static inline bool tc_enter(struct iova_tcache *tc)
{
	__atomic_store_n(&tc->busy, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (likely(!__atomic_load_n(&tc->drain_req, __ATOMIC_ACQUIRE)))
		return true;
	__atomic_store_n(&tc->busy, 0, __ATOMIC_RELEASE);
	return false;
}

static inline void tc_exit(struct iova_tcache *tc)
{
	__atomic_store_n(&tc->busy, 0, __ATOMIC_RELEASE);
}

/*
 * Owner side, out of line: enter in this cache's mode, waiting out any
 * drain (a drainer holds the registry lock for the whole drain).
 */
static void tc_enter_slow(struct iova_tcache *tc)
{
	for (;;) {
		unsigned int req;

		if (tc->fenced) {
			__atomic_store_n(&tc->busy, 1, __ATOMIC_SEQ_CST);
			req = __atomic_load_n(&tc->drain_req, __ATOMIC_SEQ_CST);
		} else {
			__atomic_store_n(&tc->busy, 1, __ATOMIC_RELAXED);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			req = __atomic_load_n(&tc->drain_req, __ATOMIC_ACQUIRE);
		}
		if (!(req & DIVERT_DRAIN))
			return;
		__atomic_store_n(&tc->busy, 0, __ATOMIC_RELEASE);
		pthread_mutex_lock(&registry_lock);
		pthread_mutex_unlock(&registry_lock);
	}
}

/* A fast range changes hands: IOVA_ALLOCATED <-> IOVA_CACHED, still indexed. */
static inline void mark(struct iova_node *n, unsigned int state)
{
	__atomic_store_n(&n->state, (unsigned char)(state | IOVA_FAST), __ATOMIC_RELAXED);
}

/* --- magazines and the depot --- */

static struct iova_mag *mag_new(void)
{
	struct iova_mag *m = malloc(sizeof(*m));

	if (m)
		m->n = 0;
	return m;
}

static struct iova_mag *depot_take_empty(struct iova_depot *d)
{
	struct iova_mag *m;

	pthread_mutex_lock(&d->lock);
	m = d->empty;
	if (m) {
		d->empty = m->next;
		d->nr_empty--;
	}
	pthread_mutex_unlock(&d->lock);
	return m;
}

static void depot_put_empty(struct iova_depot *d, struct iova_mag *m)
{
	pthread_mutex_lock(&d->lock);
	if (d->nr_empty < IOVA_DEPOT_MAX_EMPTY) {
		m->next = d->empty;
		d->empty = m;
		d->nr_empty++;
		m = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	free(m);
}

/* Give a full magazine to the depot; false if the depot is full. */
static bool depot_put_full(struct iova_depot *d, struct iova_mag *m)
{
	bool ok;

	pthread_mutex_lock(&d->lock);
	ok = d->nr_full < IOVA_DEPOT_MAX_FULL;
	if (ok) {
		m->next = d->full;
		d->full = m;
		d->nr_full++;
	}
	pthread_mutex_unlock(&d->lock);
	return ok;
}

/* Return every range in the depot to the tree. */
static void depot_drain(struct ik_iova_state *st)
{
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
		struct iova_depot *d = &st->depot[c];
		struct iova_mag *m, *next;

		pthread_mutex_lock(&d->lock);
		m = d->full;
		d->full = NULL;
		d->nr_full = 0;
		pthread_mutex_unlock(&d->lock);
		for (; m; m = next) {
			next = m->next;
			iova_tree_release_cached(st, m->e, m->n);
			m->n = 0;
			depot_put_empty(d, m);
		}
	}
}

/*
 * Size class (log2 of the size rounded up to a power of two) of 1..64 pfns,
 * and that rounded size minus one: table lookups keep the hot paths short.
 */
#define CLS2(c) c, c
#define CLS4(c) CLS2(c), CLS2(c)
#define CLS8(c) CLS4(c), CLS4(c)
#define CLS16(c) CLS8(c), CLS8(c)
#define CLS32(c) CLS16(c), CLS16(c)
static const unsigned char size_class[IK_IOVA_RCACHE_MAX_PFNS + 1] = {
	0, 0, 1, CLS2(2), CLS4(3), CLS8(4), CLS16(5), CLS32(6),
};
static const unsigned char class_last[IK_IOVA_RCACHE_MAX_PFNS + 1] = {
	0, 0, 1, CLS2(3), CLS4(7), CLS8(15), CLS16(31), CLS32(63),
};
_Static_assert(IOVA_MAX_CLASS == 6, "size_class[] covers 1..64 pfns");

/* --- finding this thread's cache --- */

static void tc_free_mags(struct iova_tcache *tc)
{
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
		free(tc->cls[c].loaded);
		free(tc->cls[c].prev);
		tc->cls[c].loaded = tc->cls[c].prev = NULL;
	}
}

/*
 * Slow lookup: walk this thread's caches (dropping those of put domains),
 * or make one. NULL if the domain has no caches or memory ran out.
 */
static struct iova_tcache *__attribute__((noinline)) tcache_get(struct iova_domain *iovad)
{
	struct ik_iova_state *st = iovad->ik_priv;
	struct iova_tcache **pp, *tc;

	if (!__atomic_load_n(&st->rcaches, __ATOMIC_ACQUIRE))
		return NULL;
	for (pp = &tls_list; (tc = *pp);) {
		struct iova_domain *d = __atomic_load_n(&tc->iovad, __ATOMIC_ACQUIRE);

		if (d == TC_DEAD) {
			/* put_iova_domain() already freed its magazines. */
			*pp = tc->thr_next;
			if (tls_last == tc)
				tls_last = &tc_none;
			free(tc);
			continue;
		}
		if (d == iovad) {
			tls_last = tc;
			return tc;
		}
		pp = &tc->thr_next;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->st = st;
	tc->leaf_key = ULONG_MAX; /* no pfn >> IOVA_RADIX_BITS is this */
	if (__atomic_load_n(&fence_mode, __ATOMIC_RELAXED))
		tc->fenced = tc->drain_req = DIVERT_FENCED;
	/* Every class gets its two magazines now, so the hot paths need not check. */
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
		tc->cls[c].loaded = mag_new();
		tc->cls[c].prev = mag_new();
		if (!tc->cls[c].loaded || !tc->cls[c].prev)
			goto fail;
	}
	/* Any non-NULL value makes the destructor run at thread exit. */
	if (!tls_list && pthread_setspecific(exit_key, tc))
		goto fail;
	pthread_mutex_lock(&registry_lock);
	__atomic_store_n(&tc->iovad, iovad, __ATOMIC_RELAXED);
	tc->dom_next = st->tcaches;
	if (st->tcaches)
		st->tcaches->dom_prev = tc;
	st->tcaches = tc;
	pthread_mutex_unlock(&registry_lock);
	tc->thr_next = tls_list;
	tls_list = tc;
	tls_last = tc;
	return tc;
fail:
	tc_free_mags(tc);
	free(tc);
	return NULL;
}

static inline struct iova_tcache *tcache_of(struct iova_domain *iovad)
{
	struct iova_tcache *tc = tls_last;

	if (likely(__atomic_load_n(&tc->iovad, __ATOMIC_RELAXED) == iovad))
		return tc;
	return tcache_get(iovad);
}

/* --- alloc --- */

/*
 * Loaded magazine empty, or its top above the limit: swap in the previous
 * magazine or a full one from the depot, then take the topmost range that
 * fits. busy is held. 0 if the cache has nothing suitable.
 */
static unsigned long __attribute__((noinline)) tc_alloc_slow(struct iova_tcache *tc, unsigned int c,
							      unsigned long limit)
{
	struct iova_class_cache *cc = &tc->cls[c];
	unsigned long last = (1UL << c) - 1;
	struct iova_mag *m = cc->loaded;

	if (!m->n) {
		if (cc->prev->n) {
			cc->loaded = cc->prev;
			cc->prev = m;
		} else {
			struct iova_depot *d = &tc->st->depot[c];
			struct iova_mag *full, *drop = NULL;

			pthread_mutex_lock(&d->lock);
			full = d->full;
			if (full) {
				d->full = full->next;
				d->nr_full--;
				/* Both of ours are empty: keep one, give the other back. */
				if (d->nr_empty < IOVA_DEPOT_MAX_EMPTY) {
					cc->prev->next = d->empty;
					d->empty = cc->prev;
					d->nr_empty++;
				} else {
					drop = cc->prev;
				}
				cc->prev = m;
				cc->loaded = full;
			}
			pthread_mutex_unlock(&d->lock);
			free(drop);
			if (!full)
				return 0;
		}
		m = cc->loaded;
	}
	for (unsigned int i = m->n; i-- > 0;) {
		struct iova_mag_entry e = m->e[i];

		if (e.pfn + last <= limit) {
			m->e[i] = m->e[--m->n];
			mark(e.node, IOVA_ALLOCATED);
			return e.pfn;
		}
	}
	return 0;
}

/* Cache, then tree, then (with flush_rcache) drain and tree again. */
static unsigned long __attribute__((noinline)) alloc_fast_slow(struct iova_domain *iovad,
							       unsigned long size,
							       unsigned long limit_pfn,
							       bool flush_rcache)
{
	struct ik_iova_state *st;
	struct iova_node *n;
	bool fast = false;

	if (!iovad || !iovad->ik_priv || !size || limit_pfn < iovad->start_pfn) {
		errno = EINVAL;
		return 0;
	}
	if (size <= IK_IOVA_RCACHE_MAX_PFNS) {
		unsigned int c = size_class[size];
		struct iova_tcache *tc = tcache_of(iovad);

		if (tc) {
			unsigned long pfn;

			tc_enter_slow(tc);
			pfn = tc_alloc_slow(tc, c, limit_pfn);
			tc_exit(tc);
			if (pfn)
				return pfn;
			fast = true;
		}
		size = 1UL << c;
	}
	st = iovad->ik_priv;
	n = iova_tree_alloc(st, size, limit_pfn, true, fast);
	if (!n && errno == ENOSPC && flush_rcache) {
		iova_rcache_flush(st);
		n = iova_tree_alloc(st, size, limit_pfn, true, fast);
	}
	return n ? n->iova.pfn_lo : 0;
}

/*
 * The hot path: this thread's cache for the domain it used last, and the
 * top of the loaded magazine. Everything else is in alloc_fast_slow(), so
 * this stays a leaf function without a stack frame.
 */
unsigned long ik_alloc_iova_fast(struct iova_domain *iovad, unsigned long size,
				 unsigned long limit_pfn, bool flush_rcache)
{
	struct iova_tcache *tc = tls_last;

	if (likely(__atomic_load_n(&tc->iovad, __ATOMIC_RELAXED) == iovad &&
		   size - 1 < IK_IOVA_RCACHE_MAX_PFNS)) {
		unsigned int c = size_class[size];

		if (likely(tc_enter(tc))) {
			struct iova_mag *m = tc->cls[c].loaded;

			if (likely(m->n)) {
				struct iova_mag_entry *e = &m->e[m->n - 1];
				unsigned long pfn = e->pfn;

				/* pfn >= start_pfn, so a limit below it never passes. */
				if (likely(pfn + class_last[size] <= limit_pfn)) {
					m->n--;
					mark(e->node, IOVA_ALLOCATED);
					tc_exit(tc);
					return pfn;
				}
			}
			tc_exit(tc);
		}
	}
	return alloc_fast_slow(iovad, size, limit_pfn, flush_rcache);
}

/* --- free --- */

static struct iova_node *__attribute__((noinline)) tc_lookup_slow(struct iova_tcache *tc,
								  unsigned long pfn)
{
	struct iova_rnode *leaf = iova_radix_find_leaf(tc->st, pfn);

	if (!leaf)
		return NULL;
	tc->leaf = leaf;
	tc->leaf_key = pfn >> IOVA_RADIX_BITS;
	return iova_radix_leaf_get(leaf, pfn);
}

/*
 * Loaded magazine full: swap with an empty previous one, or
 * move the full previous one to the depot and load an empty one. When the
 * depot is full too, that magazine's ranges go back to the tree. busy is
 * held on entry and released here.
 */
static int __attribute__((noinline)) tc_free_slow(struct iova_tcache *tc, unsigned int c,
						  unsigned long pfn, struct iova_node *node)
{
	struct iova_class_cache *cc = &tc->cls[c];
	struct iova_depot *d = &tc->st->depot[c];
	struct iova_mag *m, *spill = NULL;

	if (!cc->prev->n) {
		m = cc->loaded;
		cc->loaded = cc->prev;
		cc->prev = m;
	} else {
		m = depot_take_empty(d);
		if (!m)
			m = mag_new();
		if (!m) {
			tc_exit(tc);
			return IOVA_NOT_CACHED;
		}
		if (!depot_put_full(d, cc->prev))
			spill = cc->prev;
		cc->prev = cc->loaded;
		cc->loaded = m;
	}
	m = cc->loaded;
	mark(node, IOVA_CACHED);
	m->e[m->n].pfn = pfn;
	m->e[m->n].node = node;
	m->n++;
	tc_exit(tc);
	if (spill) {
		iova_tree_release_cached(tc->st, spill->e, spill->n);
		spill->n = 0;
		depot_put_empty(d, spill);
	}
	return 0;
}

/*
 * The whole check of a node found in the radix: an allocated range of
 * @last + 1 pfns starting at @pfn.
 */
static inline bool node_is_fast_alloc(const struct iova_node *node, unsigned long pfn,
				      unsigned long last)
{
	return node && node->iova.pfn_lo == pfn && node->iova.pfn_hi - pfn == last &&
	       __atomic_load_n(&node->state, __ATOMIC_RELAXED) == (IOVA_ALLOCATED | IOVA_FAST);
}

/* Cache via a full radix walk and magazine exchange, else the tree's exact checks. */
static int __attribute__((noinline)) free_fast_slow(struct iova_domain *iovad, unsigned long pfn,
						    unsigned long size)
{
	if (!iovad || !iovad->ik_priv || !size)
		return -EINVAL;
	if (size <= IK_IOVA_RCACHE_MAX_PFNS) {
		unsigned int c = size_class[size];
		struct iova_tcache *tc = tcache_of(iovad);

		if (tc) {
			struct iova_node *node;
			struct iova_mag *m;

			tc_enter_slow(tc);
			node = tc_lookup_slow(tc, pfn);
			/* Not an allocated range of this class at pfn: the tree decides. */
			if (!node_is_fast_alloc(node, pfn, class_last[size])) {
				tc_exit(tc);
				return iova_tree_free_exact(iovad->ik_priv, pfn, size);
			}
			m = tc->cls[c].loaded;
			if (m->n < IOVA_MAG_SIZE) {
				mark(node, IOVA_CACHED);
				m->e[m->n].pfn = pfn;
				m->e[m->n].node = node;
				m->n++;
				tc_exit(tc);
				return 0;
			}
			if (!tc_free_slow(tc, c, pfn, node)) /* releases busy */
				return 0;
		}
	}
	return iova_tree_free_exact(iovad->ik_priv, pfn, size);
}

/*
 * The hot path: the radix leaf this thread used last, and the loaded
 * magazine with room. Everything else is in free_fast_slow().
 */
int ik_free_iova_fast(struct iova_domain *iovad, unsigned long pfn, unsigned long size)
{
	struct iova_tcache *tc = tls_last;

	if (likely(__atomic_load_n(&tc->iovad, __ATOMIC_RELAXED) == iovad &&
		   size - 1 < IK_IOVA_RCACHE_MAX_PFNS && pfn >> IOVA_RADIX_BITS == tc->leaf_key)) {
		unsigned int c = size_class[size];

		if (likely(tc_enter(tc))) {
			struct iova_node *node = iova_radix_leaf_get(tc->leaf, pfn);
			struct iova_mag *m = tc->cls[c].loaded;

			if (likely(node_is_fast_alloc(node, pfn, class_last[size]) &&
				   m->n < IOVA_MAG_SIZE)) {
				mark(node, IOVA_CACHED);
				m->e[m->n].pfn = pfn;
				m->e[m->n].node = node;
				m->n++;
				tc_exit(tc);
				return 0;
			}
			tc_exit(tc);
		}
	}
	return free_fast_slow(iovad, pfn, size);
}

/* --- draining --- */

/* Move a cache's ranges to the tree; the caller owns the magazines (drain or exit). */
static void tc_drain_to_tree(struct iova_tcache *tc)
{
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
		struct iova_class_cache *cc = &tc->cls[c];

		struct iova_mag *mags[2] = { cc->loaded, cc->prev };

		for (int i = 0; i < 2; i++) {
			if (!mags[i])
				continue;
			iova_tree_release_cached(tc->st, mags[i]->e, mags[i]->n);
			mags[i]->n = 0;
		}
	}
}

void iova_rcache_flush(struct ik_iova_state *st)
{
	struct iova_tcache *tc;

	if (!__atomic_load_n(&st->rcaches, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&registry_lock);
	if (st->tcaches) {
		for (tc = st->tcaches; tc; tc = tc->dom_next)
			__atomic_store_n(&tc->drain_req, tc->fenced | DIVERT_DRAIN,
					 __ATOMIC_SEQ_CST);
		drain_barrier();
		for (tc = st->tcaches; tc; tc = tc->dom_next) {
			/* An operation under way finishes without any lock we hold. */
			while (__atomic_load_n(&tc->busy, __ATOMIC_SEQ_CST))
				sched_yield();
			tc_drain_to_tree(tc);
			__atomic_store_n(&tc->drain_req, tc->fenced, __ATOMIC_RELEASE);
		}
	}
	depot_drain(st);
	pthread_mutex_unlock(&registry_lock);
}

/* Unlink @tc from its domain's list; registry lock held. */
static void tc_unlink(struct iova_tcache *tc)
{
	if (tc->dom_prev)
		tc->dom_prev->dom_next = tc->dom_next;
	else
		tc->st->tcaches = tc->dom_next;
	if (tc->dom_next)
		tc->dom_next->dom_prev = tc->dom_prev;
	tc->dom_next = tc->dom_prev = NULL;
}

/* Thread exit: full magazines to the depot, other ranges to the tree. */
static void tcache_thread_exit(void *arg)
{
	struct iova_tcache *tc, *next;

	(void)arg;
	pthread_mutex_lock(&registry_lock);
	for (tc = tls_list; tc; tc = tc->thr_next) {
		if (__atomic_load_n(&tc->iovad, __ATOMIC_RELAXED) == TC_DEAD)
			continue; /* its domain was put */
		for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
			struct iova_class_cache *cc = &tc->cls[c];
			struct iova_mag **mags[2] = { &cc->loaded, &cc->prev };

			for (int i = 0; i < 2; i++) {
				struct iova_mag *m = *mags[i];

				if (m && m->n == IOVA_MAG_SIZE &&
				    depot_put_full(&tc->st->depot[c], m))
					*mags[i] = NULL;
			}
		}
		tc_drain_to_tree(tc);
		tc_unlink(tc);
		__atomic_store_n(&tc->iovad, TC_DEAD, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&registry_lock);
	for (tc = tls_list; tc; tc = next) {
		next = tc->thr_next;
		tc_free_mags(tc);
		free(tc);
	}
	tls_list = NULL;
	tls_last = &tc_none;
}

int iova_rcache_init(struct ik_iova_state *st)
{
	pthread_once(&rcache_once, rcache_setup);
	if (!exit_key_ok)
		return -EAGAIN;
	__atomic_store_n(&st->rcaches, true, __ATOMIC_RELEASE);
	return 0;
}

void iova_rcache_destroy(struct ik_iova_state *st)
{
	struct iova_tcache *tc, *next, **pp;

	pthread_mutex_lock(&registry_lock);
	for (tc = st->tcaches; tc; tc = next) {
		next = tc->dom_next;
		/* The ranges die with the tree; only the magazines need freeing. */
		tc_free_mags(tc);
		tc->dom_next = tc->dom_prev = NULL;
		__atomic_store_n(&tc->iovad, TC_DEAD, __ATOMIC_RELEASE);
	}
	st->tcaches = NULL;
	pthread_mutex_unlock(&registry_lock);

	/* This thread's dead records can go now; other threads drop theirs later. */
	for (pp = &tls_list; (tc = *pp);) {
		if (__atomic_load_n(&tc->iovad, __ATOMIC_ACQUIRE) != TC_DEAD) {
			pp = &tc->thr_next;
			continue;
		}
		*pp = tc->thr_next;
		if (tls_last == tc)
			tls_last = &tc_none;
		free(tc);
	}

	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++) {
		struct iova_depot *d = &st->depot[c];

		for (struct iova_mag *m = d->full, *n; m; m = n) {
			n = m->next;
			free(m);
		}
		for (struct iova_mag *m = d->empty, *n; m; m = n) {
			n = m->next;
			free(m);
		}
		d->full = d->empty = NULL;
		d->nr_full = d->nr_empty = 0;
	}
}

int iova_rcache_set_fence_mode(bool on)
{
	pthread_once(&rcache_once, rcache_setup);
	if (!on && !membarrier_ok)
		return -EOPNOTSUPP;
	__atomic_store_n(&fence_mode, on ? 1 : 0, __ATOMIC_RELAXED);
	return 0;
}
