/* SPDX-License-Identifier: MIT */
/*
 * A flush-ops stub for page-table format tests: it records what the format
 * reports (leaves gathered, walks flushed, full flushes) and widens the
 * gather's range as a driver would, with no IOTLB behind it.
 */
#ifndef IK_FLUSH_STUB_H
#define IK_FLUSH_STUB_H

#include <pthread.h>
#include "ik/io-pgtable.h"

struct ik_flush_rec {
	uint64_t iova;
	size_t size;
};

struct ik_flush_stub {
	pthread_mutex_t lock;
	struct ik_flush_rec *adds; /* tlb_add_page calls; NULL: only counted */
	size_t max_adds;           /* room in @adds */
	size_t nadds;
	struct ik_flush_rec walks[64]; /* tlb_flush_walk calls (the first 64) */
	size_t nwalks;
	size_t flush_all;
};

/* The ops; their cookie is a struct ik_flush_stub. */
extern const struct iommu_flush_ops ik_flush_stub_ops;

void ik_flush_stub_reset(struct ik_flush_stub *s);

#endif /* IK_FLUSH_STUB_H */
