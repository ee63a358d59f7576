// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>

#include "ik_test.h"
#include "pgtable_fx.h"

struct pgt_fx *pgt_fx_new(enum io_pgtable_fmt fmt, const struct io_pgtable_cfg *cfg,
			  phys_addr_t ram_base, uint64_t ram_size, size_t max_recs)
{
	struct pgt_fx *f = calloc(1, sizeof(*f));
	const struct ik_region_desc rd = { "ram", ram_base, ram_size };

	assert_non_null(f);
	f->mem = ik_sim_mem_create(&rd, 1);
	assert_non_null(f->mem);
	pthread_mutex_init(&f->tlb.lock, NULL);
	f->tlb.adds = calloc(max_recs, sizeof(struct ik_flush_rec));
	f->tlb.max_adds = max_recs;
	assert_non_null(f->tlb.adds);
	f->free0 = ik_mem_free_count(f->mem);
	f->cfg = *cfg;
	f->cfg.tlb = &ik_flush_stub_ops;
	f->cfg.mem = f->mem;
	f->ops = alloc_io_pgtable_ops(fmt, &f->cfg, &f->tlb);
	assert_non_null(f->ops);
	return f;
}

void pgt_fx_free(struct pgt_fx *f)
{
	free_io_pgtable_ops(f->ops);
	assert_int_equal(ik_mem_free_count(f->mem), f->free0);
	ik_mem_destroy(f->mem);
	pthread_mutex_destroy(&f->tlb.lock);
	free(f->tlb.adds);
	free(f);
}

int pgt_map(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count, int prot,
	    size_t *mapped)
{
	size_t m = 0;
	int ret = f->ops->map_pages(f->ops, iova, pa, pgsize, count, prot, GFP_KERNEL, &m);

	if (mapped)
		*mapped = m;
	return ret;
}

void pgt_map_ok(struct pgt_fx *f, uint64_t iova, uint64_t pa, size_t pgsize, size_t count)
{
	size_t m;

	assert_int_equal(pgt_map(f, iova, pa, pgsize, count, IOMMU_READ | IOMMU_WRITE, &m), 0);
	assert_int_equal(m, pgsize * count);
}

long pgt_unmap(struct pgt_fx *f, uint64_t iova, size_t pgsize, size_t count,
	       struct iommu_iotlb_gather *g)
{
	return f->ops->unmap_pages(f->ops, iova, pgsize, count, g);
}

long pgt_unmap_sync(struct pgt_fx *f, uint64_t iova, size_t pgsize, size_t count)
{
	struct iommu_iotlb_gather g;

	ik_iommu_iotlb_gather_init(&g);
	long ret = pgt_unmap(f, iova, pgsize, count, &g);
	iommu_put_pages_list(f->mem, &g);
	return ret;
}

int pgt_dump_record(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
		    const char *desc)
{
	struct pgt_dump_log *l = arg;

	if (l->n < 16) {
		l->r[l->n] = (struct pgt_dump_rec){ iova, pa, size, prot, "" };
		snprintf(l->r[l->n].desc, sizeof(l->r[l->n].desc), "%s", desc);
	}
	l->n++;
	return l->n == l->stop_at ? 7 : 0;
}
