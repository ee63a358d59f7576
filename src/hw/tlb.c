// SPDX-License-Identifier: MIT
/*
 * The tagged TLB engine the hardware models share (see ik/tlb.h): a small
 * fully associative array searched linearly, as a CAM is, with a lock
 * base and a replacement policy. Models wrap it with their own registers
 * and policies; nothing here knows about any one IOMMU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik/tlb.h"

int ik_tlb_init(struct ik_tlb *tlb, unsigned int nr, enum ik_tlb_policy policy)
{
	if (!tlb || nr == 0 || (policy != IK_TLB_ROUND_ROBIN && policy != IK_TLB_LRU))
		return -EINVAL;
	struct ik_tlb_entry *e = calloc(nr, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*tlb = (struct ik_tlb){ .e = e, .nr = nr, .policy = policy };
	return 0;
}

void ik_tlb_destroy(struct ik_tlb *tlb)
{
	if (!tlb)
		return;
	free(tlb->e);
	tlb->e = NULL;
	tlb->nr = 0;
}

static bool entry_ok(const struct ik_tlb_entry *e)
{
	return e && (e->mask & (e->mask + 1)) == 0 && !(e->flags & ~IK_TLB_STORED_FLAGS);
}

static inline bool entry_matches(const struct ik_tlb_entry *e, uint64_t addr, uint32_t tag)
{
	return (e->flags & IK_TLB_VALID) && ((addr ^ e->va) & ~e->mask) == 0 &&
	       ((tag ^ e->tag) & e->tag_mask) == 0;
}

unsigned int ik_tlb_lookup(const struct ik_tlb *tlb, uint64_t addr, uint32_t tag,
			   unsigned int *first)
{
	unsigned int hits = 0;

	for (unsigned int i = 0; i < tlb->nr; i++) {
		if (!entry_matches(&tlb->e[i], addr, tag))
			continue;
		if (hits++ == 0 && first)
			*first = i;
	}
	return hits;
}

void ik_tlb_touch(struct ik_tlb *tlb, unsigned int idx)
{
	if (idx < tlb->nr)
		tlb->e[idx].last_use = ++tlb->clock;
}

static void fill(struct ik_tlb *tlb, unsigned int idx, const struct ik_tlb_entry *e)
{
	tlb->e[idx] = *e;
	tlb->e[idx].last_use = ++tlb->clock;
}

/* The entry replacement picks, or -ENOSPC when all are locked. */
static int pick_victim(const struct ik_tlb *tlb)
{
	unsigned int base = tlb->lock_base;

	if (base >= tlb->nr)
		return -ENOSPC;
	if (tlb->policy == IK_TLB_ROUND_ROBIN)
		return tlb->victim >= base && tlb->victim < tlb->nr ? (int)tlb->victim : (int)base;

	unsigned int oldest = base;
	for (unsigned int i = base; i < tlb->nr; i++) {
		if (!(tlb->e[i].flags & IK_TLB_VALID))
			return (int)i;
		if (tlb->e[i].last_use < tlb->e[oldest].last_use)
			oldest = i;
	}
	return (int)oldest;
}

int ik_tlb_insert(struct ik_tlb *tlb, const struct ik_tlb_entry *e)
{
	if (!entry_ok(e))
		return -EINVAL;
	int idx = pick_victim(tlb);
	if (idx < 0)
		return idx;
	fill(tlb, (unsigned int)idx, e);
	tlb->victim = (unsigned int)idx + 1 < tlb->nr ? (unsigned int)idx + 1 : tlb->lock_base;
	return idx;
}

int ik_tlb_write(struct ik_tlb *tlb, unsigned int idx, const struct ik_tlb_entry *e)
{
	if (idx >= tlb->nr || !entry_ok(e))
		return -EINVAL;
	fill(tlb, idx, e);
	return 0;
}

const struct ik_tlb_entry *ik_tlb_get(const struct ik_tlb *tlb, unsigned int idx)
{
	return idx < tlb->nr ? &tlb->e[idx] : NULL;
}

uint32_t ik_tlb_flags(const struct ik_tlb *tlb, unsigned int idx)
{
	if (idx >= tlb->nr)
		return 0;
	return tlb->e[idx].flags | (idx < tlb->lock_base ? IK_TLB_LOCKED : 0);
}

static inline bool inv_selects(const struct ik_tlb_entry *e, const struct ik_tlb_inv *inv)
{
	if (inv->match & IK_TLB_INV_RANGE) {
		uint64_t first = e->va & ~e->mask, last = first | e->mask;
		if (first > inv->last || last < inv->start)
			return false;
	}
	if (inv->match & IK_TLB_INV_TAG) {
		if ((inv->match & IK_TLB_INV_TAGGED_ONLY) && !e->tag_mask)
			return false;
		if ((inv->tag ^ e->tag) & e->tag_mask)
			return false;
	}
	return true;
}

unsigned int ik_tlb_invalidate(struct ik_tlb *tlb, const struct ik_tlb_inv *inv)
{
	unsigned int dropped = 0;

	if (!inv || ((inv->match & IK_TLB_INV_RANGE) && inv->start > inv->last))
		return 0;
	for (unsigned int i = 0; i < tlb->nr; i++) {
		struct ik_tlb_entry *e = &tlb->e[i];
		if (!(e->flags & IK_TLB_VALID) || !inv_selects(e, inv))
			continue;
		/* Flags are looked up only for what is selected: most invalidations spare nothing. */
		if (inv->spare && (ik_tlb_flags(tlb, i) & inv->spare))
			continue;
		e->flags &= ~IK_TLB_VALID;
		dropped++;
	}
	return dropped;
}

unsigned int ik_tlb_invalidate_all(struct ik_tlb *tlb, uint32_t spare)
{
	return ik_tlb_invalidate(tlb, &(struct ik_tlb_inv){ .spare = spare });
}

unsigned int ik_tlb_invalidate_range(struct ik_tlb *tlb, uint64_t start, uint64_t last,
				     uint32_t spare)
{
	return ik_tlb_invalidate(tlb, &(struct ik_tlb_inv){
		.match = IK_TLB_INV_RANGE, .start = start, .last = last, .spare = spare });
}

unsigned int ik_tlb_invalidate_tag(struct ik_tlb *tlb, uint32_t tag, uint32_t spare)
{
	return ik_tlb_invalidate(tlb, &(struct ik_tlb_inv){
		.match = IK_TLB_INV_TAG | IK_TLB_INV_TAGGED_ONLY, .tag = tag, .spare = spare });
}

void ik_tlb_reset(struct ik_tlb *tlb)
{
	memset(tlb->e, 0, tlb->nr * sizeof(*tlb->e));
	tlb->lock_base = 0;
	tlb->victim = 0;
	tlb->clock = 0;
}
