// SPDX-License-Identifier: MIT
/*
 * The IOVA allocator's range tree (the slow path) and the public API.
 *
 * Allocated, reserved and cached ranges are nodes of an AVL tree ordered by
 * pfn. Each node also records the free gap just below it and, for its
 * subtree, the largest gap and the largest gap key (iova-internal.h). Both
 * decide exactly whether a subtree holds a fit:
 *  - unaligned requests: iff its largest gap >= size;
 *  - size-aligned requests: iff its largest gap key >= iova_fit_key().
 * The limit cuts at most one gap, so the highest fit is found by looking at
 * that gap and then climbing and descending at most two root-to-leaf paths
 * (search()): O(log n) whatever the fragmentation. This replaces Linux
 * 6.1's linear walk back from a cached node, whose cost grows with it.
 *
 * Behaviour mirrors Linux's drivers/iommu/iova.c: alloc_iova() with an
 * inclusive limit_pfn, alignment to roundup_pow_of_two(size) for
 * size_aligned, free_iova() of the range containing a pfn, reserve_iova()
 * for windows; differences are listed in include/iommukit/iova.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik/compiler.h"
#include "iova/iova-internal.h"

/*
 * Node memory comes in chunks aligned to their size, headed by the domain
 * that owns them, so a struct iova pointer is checked against its domain
 * with one load (its chunk's header) instead of a walk up the tree.
 */
#define IOVA_CHUNK_BYTES (128UL << 10)

struct iova_chunk {
	struct iova_chunk *next;
	struct ik_iova_state *owner;
	struct iova_node nodes[];
};

#define IOVA_CHUNK_NODES \
	((IOVA_CHUNK_BYTES - sizeof(struct iova_chunk)) / sizeof(struct iova_node))

static inline struct iova_chunk *chunk_of(const struct iova_node *n)
{
	return (struct iova_chunk *)((uintptr_t)n & ~(IOVA_CHUNK_BYTES - 1));
}

/* The enum iova_state part of node->state. */
static inline unsigned int node_state(const struct iova_node *n)
{
	return __atomic_load_n(&n->state, __ATOMIC_RELAXED) & ~IOVA_FAST;
}

static inline bool node_fast(const struct iova_node *n)
{
	return __atomic_load_n(&n->state, __ATOMIC_RELAXED) & IOVA_FAST;
}

/* Sets the state and the fast flag together (the node is not shared yet, or is leaving). */
static inline void set_state(struct iova_node *n, unsigned int s)
{
	__atomic_store_n(&n->state, (unsigned char)s, __ATOMIC_RELAXED);
}

static inline struct ik_iova_state *domain_state(struct iova_domain *iovad)
{
	return iovad ? iovad->ik_priv : NULL;
}

/* --- node pool --- */

static struct iova_node *node_get(struct ik_iova_state *st)
{
	struct iova_node *n = st->pool;

	if (unlikely(!n)) {
		struct iova_chunk *c = aligned_alloc(IOVA_CHUNK_BYTES, IOVA_CHUNK_BYTES);

		if (!c)
			return NULL;
		c->next = st->chunks;
		c->owner = st;
		st->chunks = c;
		for (unsigned int i = 0; i < IOVA_CHUNK_NODES; i++) {
			c->nodes[i].state = IOVA_FREE;
			c->nodes[i].left = i + 1 < IOVA_CHUNK_NODES ? &c->nodes[i + 1] : NULL;
		}
		n = &c->nodes[0];
	}
	st->pool = n->left;
	return n;
}

/*
 * Freed nodes stay in the domain's pool until put, so a stale struct iova
 * pointer handed to __free_iova() reads valid memory and is refused.
 */
static void node_put(struct ik_iova_state *st, struct iova_node *n)
{
	set_state(n, IOVA_FREE);
	n->right = n->parent = NULL;
	n->left = st->pool;
	st->pool = n;
}

/* --- radix index of fast ranges (writers hold tree_lock) --- */

static struct iova_rnode *rnode_new(unsigned int shift)
{
	struct iova_rnode *r = calloc(1, sizeof(*r));

	if (r)
		r->shift = shift;
	return r;
}

static int radix_insert(struct ik_iova_state *st, unsigned long key, struct iova_node *node)
{
	struct iova_rnode *r = st->radix, *child;

	if (!r) {
		r = rnode_new(0);
		if (!r)
			return -ENOMEM;
		__atomic_store_n(&st->radix, r, __ATOMIC_RELEASE);
	}
	/* Grow upward until the root covers the key; the old root becomes slot 0. */
	while (r->shift + IOVA_RADIX_BITS < sizeof(long) * CHAR_BIT &&
	       key >> (r->shift + IOVA_RADIX_BITS)) {
		struct iova_rnode *top = rnode_new(r->shift + IOVA_RADIX_BITS);

		if (!top)
			return -ENOMEM;
		top->slot[0] = r;
		__atomic_store_n(&st->radix, top, __ATOMIC_RELEASE);
		r = top;
	}
	while (r->shift) {
		void **slot = &r->slot[(key >> r->shift) & (IOVA_RADIX_SLOTS - 1)];

		child = *slot;
		if (!child) {
			child = rnode_new(r->shift - IOVA_RADIX_BITS);
			if (!child)
				return -ENOMEM;
			__atomic_store_n(slot, child, __ATOMIC_RELEASE);
		}
		r = child;
	}
	__atomic_store_n(&r->slot[key & (IOVA_RADIX_SLOTS - 1)], node, __ATOMIC_RELEASE);
	return 0;
}

static void radix_remove(struct ik_iova_state *st, unsigned long key)
{
	struct iova_rnode *leaf = iova_radix_find_leaf(st, key);

	if (leaf)
		__atomic_store_n(&leaf->slot[key & (IOVA_RADIX_SLOTS - 1)], NULL,
				 __ATOMIC_RELEASE);
}

static struct iova_node *radix_lookup(struct ik_iova_state *st, unsigned long key)
{
	struct iova_rnode *leaf = iova_radix_find_leaf(st, key);

	return leaf ? iova_radix_leaf_get(leaf, key) : NULL;
}

static void radix_free(struct iova_rnode *r)
{
	if (!r)
		return;
	if (r->shift)
		for (unsigned int i = 0; i < IOVA_RADIX_SLOTS; i++)
			radix_free(r->slot[i]);
	free(r);
}

/* --- the augmented AVL tree --- */

static inline int height(const struct iova_node *n)
{
	return n ? n->height : 0;
}

static void set_gap(struct iova_node *n, unsigned long gap)
{
	n->gap = gap;
	n->key = iova_gap_key(n->iova.pfn_lo - gap, n->iova.pfn_lo);
}

/* Recompute @n's height and subtree aggregates from its children; returns its balance. */
static inline int pull(struct iova_node *n)
{
	const struct iova_node *l = n->left, *r = n->right;
	unsigned long mg = n->gap, mk = n->key;
	int hl = 0, hr = 0;

	if (l) {
		hl = l->height;
		mg = ik_max(mg, l->max_gap);
		mk = ik_max(mk, l->max_key);
	}
	if (r) {
		hr = r->height;
		mg = ik_max(mg, r->max_gap);
		mk = ik_max(mk, r->max_key);
	}
	n->height = (signed char)(ik_max(hl, hr) + 1);
	n->max_gap = mg;
	n->max_key = mk;
	return hl - hr;
}

static void replace_child(struct ik_iova_state *st, struct iova_node *parent,
			  struct iova_node *old, struct iova_node *new_)
{
	if (!parent)
		st->root = new_;
	else if (parent->left == old)
		parent->left = new_;
	else
		parent->right = new_;
}

/* x's right child takes x's place; returns it. */
static struct iova_node *rotate_left(struct ik_iova_state *st, struct iova_node *x)
{
	struct iova_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(st, x->parent, x, y);
	y->left = x;
	x->parent = y;
	pull(x);
	pull(y);
	return y;
}

static struct iova_node *rotate_right(struct ik_iova_state *st, struct iova_node *x)
{
	struct iova_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(st, x->parent, x, y);
	y->right = x;
	x->parent = y;
	pull(x);
	pull(y);
	return y;
}

/*
 * Walk from @n to the root recomputing heights and aggregates and
 * restoring AVL balance. Once @changed (a node on this path whose own gap
 * changed) is done, stops at a balanced node whose values did not change:
 * nothing above it depends on anything else that changed.
 */
static void fix_up(struct ik_iova_state *st, struct iova_node *n, const struct iova_node *changed)
{
	while (n) {
		signed char oh = n->height;
		unsigned long og = n->max_gap, ok = n->max_key;
		bool was_changed = n == changed;
		int bf;

		bf = pull(n);
		if (bf > 1) {
			if (height(n->left->left) < height(n->left->right))
				rotate_left(st, n->left);
			n = rotate_right(st, n);
		} else if (bf < -1) {
			if (height(n->right->right) < height(n->right->left))
				rotate_right(st, n->right);
			n = rotate_left(st, n);
		}
		if (was_changed)
			changed = NULL;
		else if (!changed && n->height == oh && n->max_gap == og && n->max_key == ok)
			return;
		n = n->parent;
	}
}

static struct iova_node *next_node(struct iova_node *n)
{
	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return n;
	}
	while (n->parent && n->parent->right == n)
		n = n->parent;
	return n->parent;
}

static struct iova_node *prev_node(struct iova_node *n)
{
	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return n;
	}
	while (n->parent && n->parent->left == n)
		n = n->parent;
	return n->parent;
}

/* The node whose range contains @pfn, or NULL. */
static struct iova_node *tree_find(struct ik_iova_state *st, unsigned long pfn)
{
	struct iova_node *n = st->root;

	while (n) {
		if (pfn < n->iova.pfn_lo)
			n = n->left;
		else if (pfn > n->iova.pfn_hi)
			n = n->right;
		else
			return n;
	}
	return NULL;
}

/* The first node whose range starts above @pfn (the anchor bounds it). */
static struct iova_node *tree_first_above(struct ik_iova_state *st, unsigned long pfn)
{
	struct iova_node *n = st->root, *best = NULL;

	while (n) {
		if (n->iova.pfn_lo > pfn) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

/*
 * Insert @n = [lo, hi], which lies inside the gap below @succ, as the
 * predecessor of @succ, and split that gap around it. @n lands in @succ's
 * left subtree, so one pass up from its parent passes @succ too.
 */
static void tree_insert_below(struct ik_iova_state *st, struct iova_node *n,
			      struct iova_node *succ)
{
	unsigned long gap_lo = succ->iova.pfn_lo - succ->gap;
	struct iova_node *parent = succ;

	n->left = n->right = NULL;
	set_gap(n, n->iova.pfn_lo - gap_lo);
	if (succ->left) {
		parent = succ->left;
		while (parent->right)
			parent = parent->right;
		parent->right = n;
	} else {
		succ->left = n;
	}
	n->parent = parent;
	pull(n);
	set_gap(succ, succ->iova.pfn_lo - n->iova.pfn_hi - 1);
	fix_up(st, parent, succ);
}

/*
 * Unlink @d from the tree; its gap and range merge into its successor's
 * gap. The successor is on the path the pass up starts from, or is the
 * child that takes @d's place (then the pass starts there).
 */
static void tree_erase(struct ik_iova_state *st, struct iova_node *d)
{
	struct iova_node *succ = next_node(d); /* never NULL: the anchor is last */
	struct iova_node *from;

	set_gap(succ, succ->gap + (d->iova.pfn_hi - d->iova.pfn_lo + 1) + d->gap);
	if (d->left && d->right) {
		/* succ is the leftmost node of d's right subtree: it takes d's place. */
		from = succ->parent;
		if (from == d) {
			from = succ;
		} else {
			from->left = succ->right;
			if (succ->right)
				succ->right->parent = from;
			succ->right = d->right;
			d->right->parent = succ;
		}
		succ->left = d->left;
		d->left->parent = succ;
		succ->parent = d->parent;
		replace_child(st, d->parent, d, succ);
		succ->height = d->height;
	} else {
		struct iova_node *child = d->left ? d->left : d->right;

		if (child)
			child->parent = d->parent;
		replace_child(st, d->parent, d, child);
		from = child == succ ? succ : d->parent;
	}
	fix_up(st, from, succ);
}

/* Remove @n from the tree and the radix index, and return it to the pool. */
static void node_remove(struct ik_iova_state *st, struct iova_node *n)
{
	if (node_fast(n))
		radix_remove(st, n->iova.pfn_lo);
	tree_erase(st, n);
	node_put(st, n);
}

/* --- the top-down search --- */

struct fit_req {
	unsigned long size;
	unsigned long align_mask; /* alignment - 1 */
	unsigned long limit;      /* highest pfn the range may use */
	unsigned long min_gap;    /* unaligned: a subtree needs a gap this long */
	unsigned long min_key;    /* aligned: a subtree needs a gap key this big */
};

/* Whether @n's gap, clipped to the limit, holds the request; *lo: where. */
static bool gap_fits(const struct iova_node *n, const struct fit_req *r, unsigned long *lo)
{
	unsigned long glo, ghi, at;

	if (!n->gap)
		return false;
	glo = n->iova.pfn_lo - n->gap;
	if (glo > r->limit)
		return false;
	ghi = ik_min(n->iova.pfn_lo - 1, r->limit);
	if (ghi - glo + 1 < r->size)
		return false;
	at = (ghi - r->size + 1) & ~r->align_mask;
	if (at < glo)
		return false;
	*lo = at;
	return true;
}

/* Whether some gap in @x's subtree holds the request (exact: see iova_gap_key()). */
static inline bool subtree_fits(const struct iova_node *x, const struct fit_req *r)
{
	return x && x->max_gap >= r->min_gap && x->max_key >= r->min_key;
}

/* The rightmost fit in @x's subtree, which holds one, no node cut by the limit. */
static struct iova_node *descend_fit(struct iova_node *x, const struct fit_req *r,
				     unsigned long *lo)
{
	while (x) {
		if (subtree_fits(x->right, r))
			x = x->right;
		else if (gap_fits(x, r, lo))
			return x;
		else
			x = x->left;
	}
	return NULL;
}

/*
 * The node whose gap takes the request: the highest fit. Only the gap
 * below b, the first node starting above the limit, can be cut by it;
 * gaps of nodes after b lie above the limit, and those before b below it,
 * where the subtree aggregates are exact. So: b's gap, then the nodes
 * before b from the highest down (b's left subtree, then each ancestor b
 * lies right of and that ancestor's left subtree), descending into the
 * first subtree that holds a fit. Two root-to-leaf paths at most.
 */
static struct iova_node *search(struct ik_iova_state *st, const struct fit_req *r,
				unsigned long *lo)
{
	struct iova_node *b = tree_first_above(st, r->limit), *x, *p;

	if (gap_fits(b, r, lo))
		return b;
	if (subtree_fits(b->left, r))
		return descend_fit(b->left, r, lo);
	for (x = b; (p = x->parent); x = p) {
		if (p->right != x)
			continue;
		if (gap_fits(p, r, lo))
			return p;
		if (subtree_fits(p->left, r))
			return descend_fit(p->left, r, lo);
	}
	return NULL;
}

/* Find and insert; tree_lock held. NULL with errno ENOSPC or ENOMEM. */
static struct iova_node *tree_alloc_locked(struct ik_iova_state *st, unsigned long size,
					   unsigned long limit, bool size_aligned, bool fast)
{
	struct fit_req req = { .size = size, .limit = limit, .min_gap = size };
	struct iova_node *succ, *n;
	unsigned long lo;

	if (size_aligned && size > 1) {
		int order = iova_log2_up(size);

		if (order >= (int)(sizeof(long) * CHAR_BIT)) {
			errno = ENOSPC;
			return NULL;
		}
		req.align_mask = (1UL << order) - 1;
		req.min_key = iova_fit_key(size, order);
	}
	succ = search(st, &req, &lo);
	if (!succ) {
		errno = ENOSPC;
		return NULL;
	}
	n = node_get(st);
	if (!n) {
		errno = ENOMEM;
		return NULL;
	}
	n->iova.pfn_lo = lo;
	n->iova.pfn_hi = lo + size - 1;
	set_state(n, IOVA_ALLOCATED);
	tree_insert_below(st, n, succ);
	/* Without an index entry the range is still freed correctly, under the lock. */
	if (fast && !radix_insert(st, lo, n))
		set_state(n, IOVA_ALLOCATED | IOVA_FAST);
	return n;
}

struct iova_node *iova_tree_alloc(struct ik_iova_state *st, unsigned long size,
				  unsigned long limit_pfn, bool size_aligned, bool fast)
{
	struct iova_node *n;

	pthread_mutex_lock(&st->tree_lock);
	n = tree_alloc_locked(st, size, ik_min(limit_pfn, ULONG_MAX - 1), size_aligned, fast);
	pthread_mutex_unlock(&st->tree_lock);
	return n;
}

/* free_iova_fast() takes the size asked of alloc_iova_fast() or the real one. */
static bool size_matches(unsigned long real, unsigned long asked)
{
	return real == asked ||
	       (asked <= IK_IOVA_RCACHE_MAX_PFNS && real == 1UL << iova_log2_up(asked));
}

int iova_tree_free_exact(struct ik_iova_state *st, unsigned long pfn, unsigned long size)
{
	struct iova_node *n;
	int ret = 0;

	pthread_mutex_lock(&st->tree_lock);
	n = tree_find(st, pfn);
	if (!n || node_state(n) == IOVA_CACHED || node_state(n) == IOVA_SENTINEL)
		ret = -ENOENT;
	else if (node_state(n) != IOVA_ALLOCATED || n->iova.pfn_lo != pfn ||
		 !size_matches(n->iova.pfn_hi - n->iova.pfn_lo + 1, size))
		ret = -EINVAL;
	else
		node_remove(st, n);
	pthread_mutex_unlock(&st->tree_lock);
	return ret;
}

void iova_tree_release_cached(struct ik_iova_state *st, const struct iova_mag_entry *e,
			      unsigned int n)
{
	if (!n)
		return;
	pthread_mutex_lock(&st->tree_lock);
	for (unsigned int i = 0; i < n; i++)
		node_remove(st, e[i].node);
	pthread_mutex_unlock(&st->tree_lock);
}

/* --- public API --- */

static bool alloc_args_ok(struct iova_domain *iovad, unsigned long size, unsigned long limit)
{
	return iovad && iovad->ik_priv && size && limit >= iovad->start_pfn;
}

int ik_init_iova_domain(struct iova_domain *iovad, unsigned long granule,
			unsigned long start_pfn)
{
	struct ik_iova_state *st;

	if (!iovad || !granule || (granule & (granule - 1)) || !start_pfn ||
	    start_pfn == ULONG_MAX)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->tree_lock, NULL);
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++)
		pthread_mutex_init(&st->depot[c].lock, NULL);
	st->start_pfn = start_pfn;

	/* Two sentinels: everything below start_pfn, and the anchor above all gaps. */
	st->lo_sentinel.iova.pfn_lo = 0;
	st->lo_sentinel.iova.pfn_hi = start_pfn - 1;
	st->lo_sentinel.state = IOVA_SENTINEL;
	set_gap(&st->lo_sentinel, 0);
	st->anchor.iova.pfn_lo = st->anchor.iova.pfn_hi = ULONG_MAX;
	st->anchor.state = IOVA_SENTINEL;
	set_gap(&st->anchor, ULONG_MAX - start_pfn);
	pull(&st->lo_sentinel);
	st->anchor.left = &st->lo_sentinel;
	st->lo_sentinel.parent = &st->anchor;
	pull(&st->anchor);
	st->root = &st->anchor;

	iovad->granule = granule;
	iovad->start_pfn = start_pfn;
	iovad->ik_priv = st;
	return 0;
}

int ik_iova_domain_init_rcaches(struct iova_domain *iovad)
{
	struct ik_iova_state *st = domain_state(iovad);

	if (!st)
		return -EINVAL;
	return iova_rcache_init(st);
}

void ik_put_iova_domain(struct iova_domain *iovad)
{
	struct ik_iova_state *st = domain_state(iovad);

	if (!st)
		return;
	iova_rcache_destroy(st);
	for (struct iova_chunk *c = st->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	radix_free(st->radix);
	for (unsigned int c = 0; c < IOVA_NR_CLASSES; c++)
		pthread_mutex_destroy(&st->depot[c].lock);
	pthread_mutex_destroy(&st->tree_lock);
	free(st);
	iovad->ik_priv = NULL;
}

struct iova *ik_alloc_iova(struct iova_domain *iovad, unsigned long size,
			   unsigned long limit_pfn, bool size_aligned)
{
	struct ik_iova_state *st;
	struct iova_node *n;

	if (!alloc_args_ok(iovad, size, limit_pfn)) {
		errno = EINVAL;
		return NULL;
	}
	st = iovad->ik_priv;
	n = iova_tree_alloc(st, size, limit_pfn, size_aligned, false);
	if (!n && errno == ENOSPC) {
		iova_rcache_flush(st);
		n = iova_tree_alloc(st, size, limit_pfn, size_aligned, false);
	}
	return n ? &n->iova : NULL;
}

/* A range users may free: allocated or reserved (not cached, not a sentinel). */
static bool is_live(const struct iova_node *n)
{
	unsigned int s = node_state(n);

	return s == IOVA_ALLOCATED || s == IOVA_RESERVED;
}

int ik___free_iova(struct iova_domain *iovad, struct iova *iova)
{
	struct ik_iova_state *st = domain_state(iovad);
	struct iova_node *n;
	int ret = -ENOENT;

	if (!st || !iova)
		return -EINVAL;
	n = container_of(iova, struct iova_node, iova);
	pthread_mutex_lock(&st->tree_lock);
	/*
	 * Freed nodes stay in the pool until put, so a stale pointer reads
	 * valid memory and is refused. Live nodes are in their chunk owner's
	 * tree (sentinels, which live elsewhere, are never live).
	 */
	if (is_live(n) && chunk_of(n)->owner == st) {
		node_remove(st, n);
		ret = 0;
	}
	pthread_mutex_unlock(&st->tree_lock);
	return ret;
}

int ik_free_iova(struct iova_domain *iovad, unsigned long pfn)
{
	struct ik_iova_state *st = domain_state(iovad);
	struct iova_node *n;
	int ret = -ENOENT;

	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->tree_lock);
	n = tree_find(st, pfn);
	if (n && is_live(n)) {
		node_remove(st, n);
		ret = 0;
	}
	pthread_mutex_unlock(&st->tree_lock);
	return ret;
}

struct iova *ik_find_iova(struct iova_domain *iovad, unsigned long pfn)
{
	struct ik_iova_state *st = domain_state(iovad);
	struct iova_node *n;

	if (!st) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&st->tree_lock);
	n = tree_find(st, pfn);
	if (n && !is_live(n))
		n = NULL;
	pthread_mutex_unlock(&st->tree_lock);
	if (!n)
		errno = ENOENT;
	return n ? &n->iova : NULL;
}

/*
 * Reserve [lo, hi] (already clipped); tree_lock held. Merges overlapping
 * reservations; *cached is set when only cached ranges were in the way.
 */
static struct iova_node *reserve_locked(struct ik_iova_state *st, unsigned long lo,
					unsigned long hi, bool *cached)
{
	struct iova_node *n, *keep = NULL, *succ;

	/* First pass: anything in the way that is not a reservation refuses. */
	n = tree_first_above(st, lo);
	n = prev_node(n); /* the last node starting at or below lo: may overlap */
	if (n->iova.pfn_hi < lo)
		n = next_node(n);
	for (struct iova_node *i = n; i->iova.pfn_lo <= hi; i = next_node(i)) {
		unsigned int s = node_state(i);

		if (s == IOVA_CACHED) {
			*cached = true;
			errno = EBUSY;
			return NULL;
		}
		if (s != IOVA_RESERVED) {
			errno = EBUSY;
			return NULL;
		}
	}
	/* Second pass: fold every overlapped reservation into the first one. */
	while (n->iova.pfn_lo <= hi) {
		struct iova_node *next = next_node(n);

		lo = ik_min(lo, n->iova.pfn_lo);
		hi = ik_max(hi, n->iova.pfn_hi);
		if (!keep)
			keep = n;
		tree_erase(st, n);
		if (n != keep)
			node_put(st, n);
		n = next;
	}
	if (!keep) {
		keep = node_get(st);
		if (!keep) {
			errno = ENOMEM;
			return NULL;
		}
		set_state(keep, IOVA_RESERVED);
	}
	keep->iova.pfn_lo = lo;
	keep->iova.pfn_hi = hi;
	succ = tree_first_above(st, hi);
	tree_insert_below(st, keep, succ);
	return keep;
}

struct iova *ik_reserve_iova(struct iova_domain *iovad, unsigned long pfn_lo,
			     unsigned long pfn_hi)
{
	struct ik_iova_state *st = domain_state(iovad);
	struct iova_node *n;
	bool cached = false;

	if (!st || pfn_lo > pfn_hi) {
		errno = EINVAL;
		return NULL;
	}
	/* Only start_pfn .. ULONG_MAX - 1 can ever be allocated. */
	pfn_lo = ik_max(pfn_lo, st->start_pfn);
	pfn_hi = ik_min(pfn_hi, ULONG_MAX - 1);
	if (pfn_lo > pfn_hi) {
		errno = ERANGE;
		return NULL;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		pthread_mutex_lock(&st->tree_lock);
		n = reserve_locked(st, pfn_lo, pfn_hi, &cached);
		pthread_mutex_unlock(&st->tree_lock);
		if (n || !cached)
			break;
		/* Freed ranges in caches are free: drain them and look again. */
		iova_rcache_flush(st);
		cached = false;
	}
	return n ? &n->iova : NULL;
}

int ik_iova_flush_rcaches(struct iova_domain *iovad)
{
	struct ik_iova_state *st = domain_state(iovad);

	if (!st)
		return -EINVAL;
	iova_rcache_flush(st);
	return 0;
}

int ik_iova_domain_report(struct iova_domain *iovad, unsigned long limit_pfn,
			  struct ik_iova_report *rep)
{
	struct ik_iova_state *st = domain_state(iovad);
	struct iova_node *n;

	if (!st || !rep || limit_pfn < st->start_pfn)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	pthread_mutex_lock(&st->tree_lock);
	for (n = &st->lo_sentinel; n; n = next_node(n)) {
		unsigned long size = n->iova.pfn_hi - n->iova.pfn_lo + 1;
		unsigned long glo = n->iova.pfn_lo - n->gap;
		unsigned long ghi = ik_min(n->iova.pfn_lo - 1, limit_pfn);

		switch (node_state(n)) {
		case IOVA_ALLOCATED:
			rep->allocated_pfns += size;
			rep->allocated_ranges++;
			break;
		case IOVA_CACHED:
			rep->cached_pfns += size;
			rep->cached_ranges++;
			break;
		case IOVA_RESERVED:
			rep->reserved_pfns += size;
			rep->reserved_ranges++;
			break;
		default:
			break;
		}
		if (n->gap && glo <= ghi) {
			rep->free_pfns += ghi - glo + 1;
			rep->free_gaps++;
			rep->largest_free_gap = ik_max(rep->largest_free_gap, ghi - glo + 1);
		}
	}
	pthread_mutex_unlock(&st->tree_lock);
	return 0;
}

/* --- invariant check for tests --- */

static int check_fail(const char *what, const struct iova_node *n)
{
	fprintf(stderr, "iova tree: %s at [%#lx, %#lx]\n", what, n->iova.pfn_lo, n->iova.pfn_hi);
	return -EIO;
}

/* Checks @n's subtree; returns its height or a negative errno. */
static int check_subtree(const struct iova_node *n, const struct iova_node *parent)
{
	unsigned long mg, mk;
	int hl, hr;

	if (!n)
		return 0;
	if (n->parent != parent)
		return check_fail("bad parent link", n);
	if (n->iova.pfn_lo > n->iova.pfn_hi)
		return check_fail("empty range", n);
	if (n->key != iova_gap_key(n->iova.pfn_lo - n->gap, n->iova.pfn_lo))
		return check_fail("stale gap key", n);
	hl = check_subtree(n->left, n);
	if (hl < 0)
		return hl;
	hr = check_subtree(n->right, n);
	if (hr < 0)
		return hr;
	if (hl - hr > 1 || hr - hl > 1)
		return check_fail("AVL balance", n);
	if (n->height != ik_max(hl, hr) + 1)
		return check_fail("stale height", n);
	mg = n->gap;
	mk = n->key;
	if (n->left) {
		mg = ik_max(mg, n->left->max_gap);
		mk = ik_max(mk, n->left->max_key);
	}
	if (n->right) {
		mg = ik_max(mg, n->right->max_gap);
		mk = ik_max(mk, n->right->max_key);
	}
	if (mg != n->max_gap || mk != n->max_key)
		return check_fail("stale subtree aggregate", n);
	return n->height;
}

int iova_tree_check(struct iova_domain *iovad)
{
	struct ik_iova_state *st = domain_state(iovad);
	const struct iova_node *n, *prev = NULL;
	int ret;

	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->tree_lock);
	ret = check_subtree(st->root, NULL);
	for (n = &st->lo_sentinel; ret >= 0 && n; n = next_node((struct iova_node *)n)) {
		unsigned long expect = prev ? n->iova.pfn_lo - prev->iova.pfn_hi - 1 : 0;

		if (prev && n->iova.pfn_lo <= prev->iova.pfn_hi)
			ret = check_fail("overlap or disorder", n);
		else if (n->gap != expect)
			ret = check_fail("gap does not match the neighbour", n);
		else if (node_state(n) == IOVA_FREE)
			ret = check_fail("pool node in the tree", n);
		else if (node_fast(n) && radix_lookup(st, n->iova.pfn_lo) != n)
			ret = check_fail("fast range missing from the radix", n);
		prev = n;
	}
	if (ret >= 0 && prev != &st->anchor)
		ret = check_fail("anchor is not last", prev);
	pthread_mutex_unlock(&st->tree_lock);
	return ret < 0 ? ret : 0;
}
