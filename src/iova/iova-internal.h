/* SPDX-License-Identifier: MIT */
/*
 * Private to src/iova/ (and the allocator's tests): the tree node, the
 * per-domain state, and what the range tree (iova.c) and the per-thread
 * magazine caches (iova_rcache.c) call of each other.
 *
 * Who may touch what:
 *  - tree_lock guards the tree, the node pool and the radix index's
 *    writers. A node's pfn_lo/pfn_hi/fast never change while it is in the
 *    tree (except a reservation growing by a merge; reservations are never
 *    in the radix), so the lock-free fast path may read them.
 *  - node->state is the only node field written without tree_lock (by the
 *    fast path: ALLOCATED <-> CACHED); it is always accessed atomically.
 *  - The radix index maps the pfn_lo of every range made by
 *    alloc_iova_fast() to its node; readers are lock-free (nodes of the
 *    index are published with release stores and freed only by put).
 */
#ifndef IK_IOVA_INTERNAL_H
#define IK_IOVA_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <iommukit/iova.h>

/* What a node in the tree is. */
enum iova_state {
	IOVA_FREE,      /* in the node pool, not in the tree */
	IOVA_ALLOCATED, /* handed out */
	IOVA_CACHED,    /* freed into a magazine or the depot */
	IOVA_RESERVED,  /* reserve_iova() */
	IOVA_SENTINEL,  /* below start_pfn, or the anchor at ULONG_MAX */
};

/*
 * A range in the tree: an AVL tree ordered by pfn, augmented so that a
 * top-down, aligned fit below a limit is found in O(log n). Each node
 * records the free gap just below it (between its predecessor's pfn_hi
 * and its pfn_lo); the sentinels make every free pfn part of some gap.
 */
struct iova_node {
	struct iova iova;        /* pfn_hi, pfn_lo: what users see */
	struct iova_node *left, *right, *parent; /* left: pool link when free */
	unsigned long gap;       /* free pfns just below pfn_lo */
	unsigned long max_gap;   /* largest gap in this subtree */
	signed char height;      /* AVL height; a leaf is 1 */
	signed char order;       /* largest aligned 2^k block in this gap, -1: empty */
	signed char max_order;   /* largest order in this subtree */
	unsigned char state;     /* enum iova_state; atomic */
	unsigned char fast;      /* indexed by the radix (made by alloc_iova_fast) */
};

/* The size classes the caches serve: 2^0 .. 2^IOVA_MAX_CLASS pfns. */
#define IOVA_MAX_CLASS  6
#define IOVA_NR_CLASSES (IOVA_MAX_CLASS + 1)
_Static_assert((1UL << IOVA_MAX_CLASS) == IK_IOVA_RCACHE_MAX_PFNS, "classes vs public max");

/*
 * Magazine: a stack of cached ranges. It carries the pfn beside the node so
 * a cache hit hands out the pfn without touching the node first; 1 KiB.
 */
#define IOVA_MAG_SIZE 63
struct iova_mag_entry {
	unsigned long pfn;
	struct iova_node *node;
};
struct iova_mag {
	unsigned int n;
	struct iova_mag *next; /* depot lists */
	struct iova_mag_entry e[IOVA_MAG_SIZE];
};

/* Full magazines the depot keeps per class before ranges go back to the tree. */
#define IOVA_DEPOT_MAX_FULL  32
#define IOVA_DEPOT_MAX_EMPTY 32

struct iova_depot {
	pthread_mutex_t lock;
	struct iova_mag *full, *empty;
	unsigned int nr_full, nr_empty;
} __attribute__((aligned(64)));

/* Radix index pfn_lo -> node of fast ranges: 512-way, height grows on demand. */
#define IOVA_RADIX_BITS  9
#define IOVA_RADIX_SLOTS (1U << IOVA_RADIX_BITS)
struct iova_rnode {
	unsigned int shift; /* key bits below this node's index; a leaf has 0 */
	void *slot[IOVA_RADIX_SLOTS]; /* children, or nodes in a leaf; atomic */
};

struct iova_tcache;

struct ik_iova_state {
	pthread_mutex_t tree_lock;
	struct iova_node *root;
	struct iova_node *pool;        /* free nodes, linked through ->left */
	void *chunks;                  /* node memory, freed by put */
	struct iova_rnode *radix;      /* atomic root */
	struct iova_node lo_sentinel;  /* 0 .. start_pfn - 1 */
	struct iova_node anchor;       /* ULONG_MAX: every gap has a node above it */
	unsigned long start_pfn;
	bool rcaches;                  /* atomic: per-thread caches enabled */
	struct iova_tcache *tcaches;   /* threads' caches; registry lock */
	struct iova_depot depot[IOVA_NR_CLASSES];
};

/* --- gap arithmetic (exposed for tests) --- */

/* floor(log2(x)) for x > 0. */
static inline int iova_log2(unsigned long x)
{
	return (int)(sizeof(long) * CHAR_BIT - 1) - __builtin_clzl(x);
}

/* ceil(log2(x)) for x > 0. */
static inline int iova_log2_up(unsigned long x)
{
	return x == 1 ? 0 : iova_log2(x - 1) + 1;
}

/**
 * iova_gap_order - order of the largest naturally aligned power-of-two
 * block inside [lo, end)
 * @lo: first pfn of the gap
 * @end: one past the last pfn; @end <= ULONG_MAX
 *
 * Let p be the highest bit in which lo and end - 1 differ and c the value
 * in the gap with the most trailing zeros (end - 1 with bits below p
 * cleared). Every aligned block of order <= p in the gap ends at or starts
 * at c, and [c - 2^p, c + 2^p) is the only candidate of order p + 1.
 *
 * Return: the order, or -1 for an empty gap.
 */
static inline int iova_gap_order(unsigned long lo, unsigned long end)
{
	unsigned long hi, c, half;
	int p, up, down;

	if (lo >= end)
		return -1;
	hi = end - 1;
	if (lo == hi)
		return 0;
	p = iova_log2(lo ^ hi);
	half = 1UL << p;
	c = hi & ~(half - 1);
	if (c - lo == half && end - c == half)
		return p + 1;
	up = iova_log2(end - c);
	down = iova_log2(c - lo);
	return up > down ? up : down;
}

/* --- radix lookup (lock-free readers) --- */

static inline struct iova_node *iova_radix_leaf_get(struct iova_rnode *leaf, unsigned long key)
{
	return __atomic_load_n(&leaf->slot[key & (IOVA_RADIX_SLOTS - 1)], __ATOMIC_ACQUIRE);
}

/* The leaf that would hold @key, or NULL. */
static inline struct iova_rnode *iova_radix_find_leaf(struct ik_iova_state *st, unsigned long key)
{
	struct iova_rnode *n = __atomic_load_n(&st->radix, __ATOMIC_ACQUIRE);

	if (!n)
		return NULL;
	if (n->shift + IOVA_RADIX_BITS < sizeof(long) * CHAR_BIT &&
	    key >> (n->shift + IOVA_RADIX_BITS))
		return NULL;
	while (n && n->shift)
		n = __atomic_load_n(&n->slot[(key >> n->shift) & (IOVA_RADIX_SLOTS - 1)],
				    __ATOMIC_ACQUIRE);
	return n;
}

/* --- between iova.c and iova_rcache.c --- */

/* Tree: allocate a range; @fast also indexes it for free_iova_fast(). NULL+errno. */
struct iova_node *iova_tree_alloc(struct ik_iova_state *st, unsigned long size,
				  unsigned long limit_pfn, bool size_aligned, bool fast);
/*
 * Tree: free the allocated range starting at @pfn whose size is @size or,
 * up to IK_IOVA_RCACHE_MAX_PFNS, @size rounded up to a power of two
 * (free_iova_fast() without a cache). -ENOENT or -EINVAL as free_iova_fast().
 */
int iova_tree_free_exact(struct ik_iova_state *st, unsigned long pfn, unsigned long size);
/* Tree: give back @n cached ranges (state IOVA_CACHED) from a magazine. */
void iova_tree_release_cached(struct ik_iova_state *st, const struct iova_mag_entry *e,
			      unsigned int n);

/* Caches: drain every thread's magazines and the depot into the tree. */
void iova_rcache_flush(struct ik_iova_state *st);
/* Caches: enable them for @st (registers the thread-exit hook, membarrier). */
int iova_rcache_init(struct ik_iova_state *st);
/* Caches: free all cache memory of @st, including live threads' (put). */
void iova_rcache_destroy(struct ik_iova_state *st);

/*
 * Tests: make cache owners issue a full fence instead of relying on
 * membarrier (the fallback for kernels without it). Only while no thread
 * is inside a cache operation. -EOPNOTSUPP to turn it off without membarrier.
 */
int iova_rcache_set_fence_mode(bool on);

/* Check every tree invariant; 0 or a negative errno with a message on stderr (tests). */
int iova_tree_check(struct iova_domain *iovad);

#endif /* IK_IOVA_INTERNAL_H */
