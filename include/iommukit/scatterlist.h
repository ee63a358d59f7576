/* SPDX-License-Identifier: MIT */
/*
 * iommukit/scatterlist.h - scatter-gather lists of physical memory.
 *
 * A flat array of entries, as Linux's sg_table without chaining: entry i
 * describes @length bytes of physical memory starting at @phys (which
 * already includes the in-page offset). The mapping layers fill in
 * @dma_address and @dma_length.
 */
#ifndef IOMMUKIT_SCATTERLIST_H
#define IOMMUKIT_SCATTERLIST_H

#include <iommukit/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct scatterlist {
	phys_addr_t phys;        /* physical address of the first byte */
	unsigned int length;     /* bytes */
	unsigned int dma_length; /* bytes at dma_address, set by mapping */
	dma_addr_t dma_address;  /* device address, set by mapping */
};

static inline void sg_init_table(struct scatterlist *sg, unsigned int nents)
{
	for (unsigned int i = 0; i < nents; i++) {
		sg[i].phys = 0;
		sg[i].length = 0;
		sg[i].dma_length = 0;
		sg[i].dma_address = 0;
	}
}

static inline void sg_set_phys(struct scatterlist *sg, phys_addr_t phys,
			       unsigned int length)
{
	sg->phys = phys;
	sg->length = length;
}

static inline phys_addr_t sg_phys(const struct scatterlist *sg)
{
	return sg->phys;
}

#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg)     ((sg)->dma_length)

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_SCATTERLIST_H */
