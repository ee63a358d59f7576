// SPDX-License-Identifier: MIT
#include "flush_stub.h"

static void stub_flush_all(void *cookie)
{
	struct ik_flush_stub *s = cookie;

	pthread_mutex_lock(&s->lock);
	s->flush_all++;
	pthread_mutex_unlock(&s->lock);
}

static void stub_flush_walk(dma_addr_t iova, size_t size, size_t granule, void *cookie)
{
	struct ik_flush_stub *s = cookie;

	(void)granule;
	pthread_mutex_lock(&s->lock);
	if (s->nwalks < sizeof(s->walks) / sizeof(s->walks[0]))
		s->walks[s->nwalks] = (struct ik_flush_rec){ iova, size };
	s->nwalks++;
	pthread_mutex_unlock(&s->lock);
}

/* Records the leaf and widens the gather's range, as a driver does. */
static void stub_add_page(struct iommu_iotlb_gather *g, dma_addr_t iova, size_t granule,
			  void *cookie)
{
	struct ik_flush_stub *s = cookie;

	pthread_mutex_lock(&s->lock);
	if (s->adds && s->nadds < s->max_adds)
		s->adds[s->nadds] = (struct ik_flush_rec){ iova, granule };
	s->nadds++;
	pthread_mutex_unlock(&s->lock);
	if (iova < g->start)
		g->start = iova;
	if (iova + granule - 1 > g->end)
		g->end = iova + granule - 1;
	g->pgsize = granule;
}

const struct iommu_flush_ops ik_flush_stub_ops = {
	.tlb_flush_all = stub_flush_all,
	.tlb_flush_walk = stub_flush_walk,
	.tlb_add_page = stub_add_page,
};

void ik_flush_stub_reset(struct ik_flush_stub *s)
{
	s->nadds = 0;
	s->nwalks = 0;
	s->flush_all = 0;
}
