/* SPDX-License-Identifier: MIT */
/*
 * A page-table format on its own, for the format tests: fresh simulated
 * memory, the recording flush-ops stub (flush_stub.h), and map/unmap
 * helpers that free what an unmap queued as the core would after its sync.
 */
#ifndef IK_PGTABLE_FX_H
#define IK_PGTABLE_FX_H

#include "flush_stub.h"
#include "ik/io-pgtable.h"
#include "ik/iommu-driver.h"

struct pgt_fx {
	struct ik_mem *mem;
	struct ik_flush_stub tlb;
	struct io_pgtable_cfg cfg;
	struct io_pgtable_ops *ops;
	size_t free0; /* free pages before the tables were allocated */
};

/*
 * Format @fmt configured as @cfg (tlb and mem are filled in) over @ram_size
 * bytes of RAM at @ram_base; the stub records up to @max_recs leaves.
 */
struct pgt_fx *pgt_fx_new(enum io_pgtable_fmt fmt, const struct io_pgtable_cfg *cfg,
			  phys_addr_t ram_base, uint64_t ram_size, size_t max_recs);
/* Free the tables and check that every table page went back to the allocator. */
void pgt_fx_free(struct pgt_fx *f);

int pgt_map(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count, int prot,
	    size_t *mapped);
/* Map read-write, asserting that all of it was mapped. */
void pgt_map_ok(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count);
long pgt_unmap(struct pgt_fx *f, uint64_t iova, size_t pgsize, size_t count,
	       struct iommu_iotlb_gather *g);
/* Unmap and "sync": free the queued tables as the core would. */
long pgt_unmap_sync(struct pgt_fx *f, uint64_t iova, size_t pgsize, size_t count);

/* What a format's dump reported, leaf by leaf (the first 16). */
struct pgt_dump_rec {
	uint64_t iova, pa;
	size_t size;
	int prot;
	char desc[48];
};

struct pgt_dump_log {
	struct pgt_dump_rec r[16];
	unsigned int n, stop_at; /* stop (return 7) after @stop_at leaves; 0: never */
};

/* An io_pgtable_dump_fn recording into a struct pgt_dump_log (@arg). */
int pgt_dump_record(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		    const char *desc);

#endif /* IK_PGTABLE_FX_H */
