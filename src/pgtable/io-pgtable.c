// SPDX-License-Identifier: MIT
/*
 * The page-table format factory: one table from format to its allocator,
 * so drivers ask for "the tables of format X" and never name a format's
 * functions. A new format adds one line to io_pgtable_init_table.
 */
#include <errno.h>
#include <stddef.h>

#include "ik/io-pgtable.h"

static const struct io_pgtable_init_fns *const io_pgtable_init_table[IO_PGTABLE_NUM_FMTS] = {
	[OMAP_IOMMU_PGTABLE] = &io_pgtable_omap_init_fns,
	[ARM_64_LPAE_S1] = &io_pgtable_arm_64_lpae_s1_init_fns,
};

/**
 * alloc_io_pgtable_ops() - allocate the tables of one format
 * @fmt: the format
 * @cfg: what is wanted; the format updates its out fields (pgsize_bitmap,
 *       ias/oas, the format-specific table base)
 * @cookie: passed back to @cfg->tlb's callbacks
 *
 * Return: the ops, or NULL with errno set: EINVAL for an unknown format,
 * a missing @cfg, @cfg->mem or @cfg->tlb, or a configuration the format
 * rejects; ENOMEM when the tables cannot be allocated.
 */
struct io_pgtable_ops *alloc_io_pgtable_ops(enum io_pgtable_fmt fmt,
					    struct io_pgtable_cfg *cfg, void *cookie)
{
	const struct io_pgtable_init_fns *fns;
	struct io_pgtable *iop;

	if ((unsigned int)fmt >= IO_PGTABLE_NUM_FMTS || !cfg || !cfg->mem || !cfg->tlb) {
		errno = EINVAL;
		return NULL;
	}
	fns = io_pgtable_init_table[fmt];
	if (!fns || !fns->alloc || !fns->free) {
		errno = EINVAL;
		return NULL;
	}
	iop = fns->alloc(cfg, cookie);
	if (!iop)
		return NULL; /* the format set errno */
	iop->fmt = fmt;
	iop->cookie = cookie;
	iop->cfg = *cfg;
	return &iop->ops;
}

/**
 * free_io_pgtable_ops() - free every table of a format instance
 * @ops: from alloc_io_pgtable_ops(), or NULL (nothing happens)
 *
 * The caller has made sure the hardware no longer walks the tables.
 */
void free_io_pgtable_ops(struct io_pgtable_ops *ops)
{
	struct io_pgtable *iop;

	if (!ops)
		return;
	iop = io_pgtable_ops_to_pgtable(ops);
	if ((unsigned int)iop->fmt < IO_PGTABLE_NUM_FMTS && io_pgtable_init_table[iop->fmt])
		io_pgtable_init_table[iop->fmt]->free(iop);
}
