// SPDX-License-Identifier: MIT
/* Helpers shared by the tool's commands. */
#include <errno.h>
#include <stdlib.h>

#include "tool.h"

struct mapping_emit {
	struct emitter *e;
	unsigned long count;
};

static const char *size_name(size_t size, char *buf, size_t len)
{
	if (size >= (1UL << 30) && !(size & ((1UL << 30) - 1)))
		snprintf(buf, len, "%zuG", size >> 30);
	else if (size >= (1UL << 20) && !(size & ((1UL << 20) - 1)))
		snprintf(buf, len, "%zuM", size >> 20);
	else
		snprintf(buf, len, "%zuK", size >> 10);
	return buf;
}

static int emit_one_mapping(void *arg, dma_addr_t iova, phys_addr_t pa, size_t size, int prot,
			    const char *desc)
{
	struct mapping_emit *me = arg;
	struct emitter *e = me->e;
	char sz[32];

	me->count++;
	if (!e->json) {
		emit_text(e, "%#010llx-%#010llx -> %#011llx  %5s  %c%c  %s\n",
			  (unsigned long long)iova, (unsigned long long)(iova + size - 1),
			  (unsigned long long)pa, size_name(size, sz, sizeof(sz)),
			  (prot & IOMMU_READ) ? 'r' : '-', (prot & IOMMU_WRITE) ? 'w' : '-',
			  desc);
		return 0;
	}
	emit_begin_object(e, NULL, NULL);
	emit_u64(e, "iova", NULL, iova);
	emit_u64(e, "pa", NULL, pa);
	emit_u64(e, "size", NULL, size);
	emit_str(e, "perm", NULL, (prot & IOMMU_WRITE) ? ((prot & IOMMU_READ) ? "rw" : "w") :
		 ((prot & IOMMU_READ) ? "r" : ""));
	emit_str(e, "descriptor", NULL, desc);
	emit_end_object(e);
	return 0;
}

int emit_domain_mappings(struct emitter *e, struct iommu_domain *domain)
{
	struct mapping_emit me = { .e = e };
	emit_begin_array(e, "mappings", "mappings (iova range -> physical, size, perm, descriptor):");
	int ret = ik_iommu_domain_for_each_mapping(domain, emit_one_mapping, &me);
	if (!me.count)
		emit_text(e, "(none)\n");
	emit_end_array(e);
	return ret;
}

void emit_hw_stats(struct emitter *e, const char *title, const struct ik_iommu_hw_stats *st)
{
	emit_begin_object(e, "iotlb", title);
	emit_u64(e, "translations", "translations", st->accesses);
	emit_u64(e, "hits", "hits", st->tlb_hits);
	emit_u64(e, "misses", "misses", st->tlb_misses);
	emit_u64(e, "walks", "table walks", st->walks);
	emit_u64(e, "faults", "faults", st->faults);
	emit_u64(e, "stale_accesses", "stale-IOTLB accesses", st->stale_accesses);
	emit_u64(e, "invalidations", "entries invalidated", st->invalidations);
	emit_u64(e, "incoherent_walks", "walks of uncleaned tables", st->incoherent_walks);
	emit_end_object(e);
}

bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return false;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return false;
	*out = v;
	return true;
}
