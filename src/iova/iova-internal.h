/* SPDX-License-Identifier: MIT */
/*
 * Private to src/iova/ (and the allocator's tests): the tree node, the
 * per-domain state, and what the range tree (iova.c) and the per-thread
 * magazine caches (iova_rcache.c) call of each other.
 *
 * Who may touch what:
 *  - tree_lock guards the tree, the node pool and the radix index's
 *    writers. A node's pfn_lo/pfn_hi never change while it is in the
 *    tree (except a reservation growing by a merge; reservations are never
 *    in the radix), so the lock-free fast path may read them.
 *  - node->state is the only node field written without tree_lock (by the
 *    fast path: ALLOCATED <-> CACHED, keeping IOVA_FAST); it is always
 *    accessed atomically.
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

/* In node->state beside the enum: the range is indexed by the radix. */
#define IOVA_FAST 0x80

/*
 * A range in the tree: an AVL tree ordered by pfn, augmented so that a
 * top-down, aligned fit below a limit is found in O(log n). Each node
 * records the free gap just below it (between its predecessor's pfn_hi
 * and its pfn_lo); the sentinels make every free pfn part of some gap.
 * Subtrees keep the largest gap (unaligned requests) and the largest gap
 * key (aligned requests, see iova_gap_key()). The fields the search and
 * the aggregates read fill the first 64 bytes.
 */
struct iova_node {
	struct iova iova;        /* pfn_hi, pfn_lo: what users see */
	struct iova_node *left, *right; /* left: pool link when free */
	unsigned long max_gap;   /* largest gap in this subtree */
	unsigned long max_key;   /* largest gap key in this subtree */
	unsigned long gap;       /* free pfns just below pfn_lo */
	unsigned long key;       /* iova_gap_key() of that gap */
	struct iova_node *parent;
	signed char height;      /* AVL height; a leaf is 1 */
	unsigned char state;     /* enum iova_state | IOVA_FAST; atomic */
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

static inline int ik_iova_max_int(int a, int b)
{
	return a > b ? a : b;
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

/*
 * Gap keys decide size-aligned requests exactly. A request of s pfns
 * aligned to A = 2^a (s <= A) fits a gap iff the gap holds an aligned block
 * of order a, or, when s is not a power of two (so s > A/2), the gap's
 * order is exactly a - 1 and at least s pfns follow the multiple of A in it
 * (a gap of order a - 1 holds at most one multiple of A: two would enclose
 * an order-a block). So a gap's key is the pair (order, pfns after the
 * multiple of 2^(order+1) in it), compared lexicographically, packed as
 * (order + 1) << 58 | min(pfns, 2^58 - 1); the largest key in a subtree
 * says exactly whether any gap there fits (for s < 2^58 - 1).
 */
#define IOVA_KEY_SHIFT 58
#define IOVA_KEY_TAIL  ((1UL << IOVA_KEY_SHIFT) - 1)

/**
 * iova_gap_key - the key of the gap [lo, end)
 * @lo: first pfn of the gap, >= 1
 * @end: one past the last pfn, <= ULONG_MAX
 *
 * With p and c as in iova_gap_order(), the gap's order k is the larger of
 * log2(c - lo) and log2(end - c), or p + 1 when both are 2^p. If k < p, c
 * is the one multiple of 2^(k+1) in the gap and end - c pfns follow it. If
 * k == p, c is an odd multiple of 2^p, so the only candidates are c - 2^p
 * (in the gap exactly when c - lo == 2^p: then the tail is all of it) and
 * c + 2^p >= end. If the gap is exactly an aligned 2^(p+1) block, the
 * multiple of 2^(p+2) can only be its start.
 *
 * Return: (k + 1) << IOVA_KEY_SHIFT | min(tail, IOVA_KEY_TAIL); 0 if empty.
 */
static inline unsigned long iova_gap_key(unsigned long lo, unsigned long end)
{
	unsigned long hi, half, c, up, down, tail;
	int p, k;

	if (lo >= end)
		return 0;
	hi = end - 1;
	if (lo == hi)
		return 1UL << IOVA_KEY_SHIFT | (~lo & 1);
	p = iova_log2(lo ^ hi);
	half = 1UL << p;
	c = hi & ~(half - 1);
	down = c - lo;
	up = end - c;
	if (down == half && up == half) {
		/* Such a gap is at most 2^62 pfns (gaps lie in 1 .. ULONG_MAX - 1): no overflow. */
		k = p + 1;
		tail = lo & ((half << 2) - 1) ? 0 : 2 * half;
	} else if (down == half) {
		k = p; /* lo = c - 2^p is a multiple of 2^(p+1) */
		tail = end - lo;
	} else {
		k = ik_iova_max_int(iova_log2(up), iova_log2(down)); /* c > lo: down >= 1 */
		tail = k < p ? up : 0;
	}
	return (unsigned long)(k + 1) << IOVA_KEY_SHIFT |
	       (tail < IOVA_KEY_TAIL ? tail : IOVA_KEY_TAIL);
}

/*
 * The smallest key of a gap that holds @size pfns aligned to 2^@order.
 * Sizes that are not powers of two and at least IOVA_KEY_TAIL (2^58 pfns)
 * ask for a whole aligned block, as the key cannot tell their tails apart.
 */
static inline unsigned long iova_fit_key(unsigned long size, int order)
{
	if (!(size & (size - 1)) || size >= IOVA_KEY_TAIL)
		return (unsigned long)(order + 1) << IOVA_KEY_SHIFT;
	return (unsigned long)order << IOVA_KEY_SHIFT | size;
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
 * Tests: caches made from now on use the seq_cst protocol instead of
 * relying on membarrier (the fallback for kernels without it). Call it
 * only while no thread has a cache. -EOPNOTSUPP to turn it off without
 * membarrier.
 */
int iova_rcache_set_fence_mode(bool on);

/* Check every tree invariant; 0 or a negative errno with a message on stderr (tests). */
int iova_tree_check(struct iova_domain *iovad);

#endif /* IK_IOVA_INTERNAL_H */
