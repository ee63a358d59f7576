/* SPDX-License-Identifier: MIT */
/*
 * iommukit/types.h - basic types shared by every public iommukit header.
 */
#ifndef IOMMUKIT_TYPES_H
#define IOMMUKIT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols the shared library exports; everything else is hidden. */
#if defined(__GNUC__)
#define IK_API __attribute__((visibility("default")))
#else
#define IK_API
#endif

/*
 * Addresses are 64-bit on every host: the modelled machines have 48-bit
 * physical and IO virtual address spaces even when the host is 32-bit.
 */
#ifndef IK_HAVE_PHYS_ADDR_T
#define IK_HAVE_PHYS_ADDR_T
typedef uint64_t phys_addr_t;
typedef uint64_t dma_addr_t;
#endif

/* Allocation context, kept for signature compatibility with Linux. */
typedef unsigned int gfp_t;
#define GFP_KERNEL 0u
#define GFP_ATOMIC 1u

/* Size-of-page helpers used throughout the API. */
#define IK_SZ_4K   0x00001000UL
#define IK_SZ_64K  0x00010000UL
#define IK_SZ_1M   0x00100000UL
#define IK_SZ_2M   0x00200000UL
#define IK_SZ_16M  0x01000000UL
#define IK_SZ_1G   0x40000000UL

#ifdef __cplusplus
}
#endif

#endif /* IOMMUKIT_TYPES_H */
