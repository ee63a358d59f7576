/* SPDX-License-Identifier: MIT */
/*
 * A tagged TLB engine shared by the IOMMU hardware models.
 *
 * An entry maps one naturally sized page: the input addresses whose bits
 * above @mask equal those of @va go to @pa with the same bits below @mask.
 * The bits of @va and @pa below @mask are kept as written (so a model can
 * read back its CAM/RAM words exactly) but never take part in a match or a
 * translation. Entries carry a tag (ASID, domain ID, stream ID) matched
 * under a per-entry tag mask: a mask of 0 makes a global entry that every
 * tag hits, which is how a model without tags uses the engine.
 *
 * Entries [0, lock_base) are locked: replacement never picks them (OMAP's
 * MMU_LOCK.BASEVALUE). Round-robin replacement walks a victim pointer
 * through [lock_base, nr) (OMAP's MMU_LOCK.CURRENTVICTIM); LRU replaces an
 * invalid entry first, then the least recently used one.
 *
 * The engine has no lock of its own: the model's lock protects it. Lookup
 * and invalidation never allocate.
 */
#ifndef IK_TLB_H
#define IK_TLB_H

#include <stdbool.h>
#include <stdint.h>

/* Entry flags. */
#define IK_TLB_VALID     (1u << 0)
#define IK_TLB_PRESERVED (1u << 1) /* survives a flush that spares preserved entries */
#define IK_TLB_WALKED    (1u << 2) /* filled by a hardware table walk */
/*
 * Not stored: an entry is in the locked region when its index is below
 * lock_base. ik_tlb_flags() reports it, and invalidations accept it in
 * their spare mask.
 */
#define IK_TLB_LOCKED    (1u << 3)
#define IK_TLB_STORED_FLAGS (IK_TLB_VALID | IK_TLB_PRESERVED | IK_TLB_WALKED)

struct ik_tlb_entry {
	uint64_t va;       /* input base; bits below @mask are ignored */
	uint64_t pa;       /* output base; bits below @mask are ignored */
	uint64_t mask;     /* page size - 1 (a power of two minus one) */
	uint32_t tag;      /* ASID / domain / stream */
	uint32_t tag_mask; /* tag bits that must match; 0: matches every tag */
	uint32_t attrs;    /* model-defined attribute word */
	uint32_t flags;    /* IK_TLB_VALID | IK_TLB_PRESERVED | IK_TLB_WALKED */
	uint64_t last_use; /* LRU clock at the last hit or fill */
};

enum ik_tlb_policy {
	IK_TLB_ROUND_ROBIN, /* victim pointer, wraps to lock_base */
	IK_TLB_LRU,         /* an invalid entry, else the least recently used */
};

struct ik_tlb {
	struct ik_tlb_entry *e;
	unsigned int nr;
	/*
	 * Replacement state. Either may hold values a register field allows
	 * but the array does not have (>= nr): replacement then falls back
	 * to lock_base, as a hardware pointer wraps.
	 */
	unsigned int lock_base;
	unsigned int victim;
	enum ik_tlb_policy policy;
	uint64_t clock; /* LRU time */
};

/* Invalidation filter (see ik_tlb_invalidate()). */
#define IK_TLB_INV_RANGE       (1u << 0) /* only entries overlapping [start, last] */
#define IK_TLB_INV_TAG         (1u << 1) /* only entries whose tag matches @tag */
#define IK_TLB_INV_TAGGED_ONLY (1u << 2) /* with INV_TAG: global entries do not match */

struct ik_tlb_inv {
	unsigned int match; /* IK_TLB_INV_* */
	uint64_t start;     /* IK_TLB_INV_RANGE: first address */
	uint64_t last;      /* IK_TLB_INV_RANGE: last address (inclusive) */
	uint32_t tag;       /* IK_TLB_INV_TAG */
	uint32_t spare;     /* entries with any of these flags survive (IK_TLB_PRESERVED/LOCKED) */
};

/**
 * ik_tlb_init() - set up an empty TLB
 * @tlb: the engine to initialise
 * @nr: number of entries, 1 or more
 * @policy: replacement policy
 *
 * Return: 0, -EINVAL for a bad @nr or @policy, -ENOMEM.
 */
int ik_tlb_init(struct ik_tlb *tlb, unsigned int nr, enum ik_tlb_policy policy);
/* Free the entries; @tlb may then be initialised again. */
void ik_tlb_destroy(struct ik_tlb *tlb);

/**
 * ik_tlb_lookup() - find the valid entries that translate @addr for @tag
 * @tlb: the TLB
 * @addr: input address
 * @tag: the access's tag (ignored by entries with tag_mask 0)
 * @first: set to the lowest matching index when there is a match
 *
 * Return: how many valid entries match; more than one is a multi-hit.
 */
unsigned int ik_tlb_lookup(const struct ik_tlb *tlb, uint64_t addr, uint32_t tag,
			   unsigned int *first);

/* Record a hit on entry @idx (for LRU). */
void ik_tlb_touch(struct ik_tlb *tlb, unsigned int idx);

/* The output address of @addr through entry @e (which must match it). */
static inline uint64_t ik_tlb_entry_pa(const struct ik_tlb_entry *e, uint64_t addr)
{
	return (e->pa & ~e->mask) | (addr & e->mask);
}

/**
 * ik_tlb_insert() - fill an entry chosen by the replacement policy
 * @tlb: the TLB
 * @e: the new contents (va, pa, mask, tag, tag_mask, attrs, flags)
 *
 * Never replaces an entry below lock_base. Round robin writes the entry
 * at the victim pointer (lock_base if the pointer lies outside
 * [lock_base, nr)) and moves the pointer to the next entry, wrapping to
 * lock_base.
 *
 * Return: the index written, -EINVAL for a bad entry (mask not of the form
 * 2^n - 1), -ENOSPC if every entry is locked.
 */
int ik_tlb_insert(struct ik_tlb *tlb, const struct ik_tlb_entry *e);

/**
 * ik_tlb_write() - write entry @idx directly, locked or not
 *
 * Return: 0, -EINVAL for a bad index or entry.
 */
int ik_tlb_write(struct ik_tlb *tlb, unsigned int idx, const struct ik_tlb_entry *e);

/* Entry @idx, or NULL if out of range. */
const struct ik_tlb_entry *ik_tlb_get(const struct ik_tlb *tlb, unsigned int idx);
/* Flags of entry @idx including IK_TLB_LOCKED; 0 if out of range. */
uint32_t ik_tlb_flags(const struct ik_tlb *tlb, unsigned int idx);

/**
 * ik_tlb_invalidate() - drop the valid entries an invalidation selects
 * @tlb: the TLB
 * @inv: which entries (all when inv->match is 0) and which to spare
 *
 * Return: the number of entries dropped.
 */
unsigned int ik_tlb_invalidate(struct ik_tlb *tlb, const struct ik_tlb_inv *inv);

/* Drop every valid entry except those with a flag in @spare. */
unsigned int ik_tlb_invalidate_all(struct ik_tlb *tlb, uint32_t spare);
/* Drop every valid entry overlapping [start, last], except those with a flag in @spare. */
unsigned int ik_tlb_invalidate_range(struct ik_tlb *tlb, uint64_t start, uint64_t last,
				     uint32_t spare);
/* Drop every tagged entry whose tag matches @tag (global entries stay). */
unsigned int ik_tlb_invalidate_tag(struct ik_tlb *tlb, uint32_t tag, uint32_t spare);

/* Forget every entry, locked and preserved ones too; replacement state to 0. */
void ik_tlb_reset(struct ik_tlb *tlb);

#endif /* IK_TLB_H */
