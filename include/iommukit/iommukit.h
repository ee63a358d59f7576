/* SPDX-License-Identifier: MIT */
/* iommukit/iommukit.h - everything public, in one include. */
#ifndef IOMMUKIT_IOMMUKIT_H
#define IOMMUKIT_IOMMUKIT_H

#include <iommukit/types.h>
#include <iommukit/scatterlist.h>
#include <iommukit/iommu.h>
#include <iommukit/platform.h>
#include <iommukit/omap-iommu.h>
#include <iommukit/iova.h>
#include <iommukit/dma-mapping.h>
#include <iommukit/iovmm.h>

#endif /* IOMMUKIT_IOMMUKIT_H */
