/* SPDX-License-Identifier: MIT */
/*
 * The modelled CPU data cache of a non-coherent machine (src/hw/cpu_cache.c),
 * library-internal view.
 *
 * A write-back, write-allocate, physically indexed and tagged cache in
 * front of physical memory, seen only by CPU accesses (ik_cpu_read/
 * ik_cpu_write). Devices and ik_mem_* access memory itself. The machine
 * creates one when its description sets IK_MACHINE_NONCOHERENT.
 */
#ifndef IK_CPU_CACHE_H
#define IK_CPU_CACHE_H

#include <iommukit/platform.h>
#include "ik/mem.h"

struct ik_cpu_cache;

/* Default associativity, as the Cortex-A8's L2 (see src/hw/cpu_cache.c). */
#define IK_CPU_CACHE_WAYS 8

/*
 * A cache of @size bytes in @line-byte lines (a power of two; @size a
 * multiple of it) with up to @ways ways per set, in front of @mem (which
 * then records it in mem->cpu_cache: one per memory). The ways actually
 * used are the largest power of two not above @ways that divides the
 * number of lines. NULL with errno EINVAL, EBUSY or ENOMEM.
 */
struct ik_cpu_cache *ik_cpu_cache_create(struct ik_mem *mem, unsigned int line,
					 unsigned int size, unsigned int ways);
void ik_cpu_cache_destroy(struct ik_cpu_cache *c);

/* CPU access through the cache; the range must be RAM (-EFAULT otherwise). */
int ik_cpu_cache_access(struct ik_cpu_cache *c, phys_addr_t pa, void *buf, size_t len,
			bool write);

/*
 * Hold [@pa, @pa + @len) (whole pages, just allocated) in the cache until
 * it is freed: never evicted, seen by the CPU at the region's cpu_host
 * (ik_mem_cpu_va()). Page-table formats hold their tables so. 0; -EINVAL
 * for a misaligned range; -EFAULT outside RAM.
 */
int ik_cpu_cache_hold(struct ik_cpu_cache *c, phys_addr_t pa, size_t len);

/*
 * Whether a device reading [@pa, @pa + @len) (within one line) from memory
 * would miss data the CPU wrote and did not clean. For checkers only.
 */
bool ik_cpu_cache_device_stale(struct ik_cpu_cache *c, phys_addr_t pa, size_t len);

/* Maintenance by physical range, over every line the range touches. */
#define IK_CPU_CACHE_CLEAN      (1u << 0) /* write dirty lines back, keep them */
#define IK_CPU_CACHE_INVALIDATE (1u << 1) /* drop lines; after a clean if both */
int ik_cpu_cache_maint(struct ik_cpu_cache *c, phys_addr_t pa, size_t len, unsigned int op);

struct ik_cpu_cache_geometry {
	unsigned int line;   /* bytes */
	unsigned int size;   /* bytes */
	unsigned int ways;
	unsigned int sets;   /* a line at pa goes to set (pa / line) % sets */
};
void ik_cpu_cache_get_geometry(const struct ik_cpu_cache *c, struct ik_cpu_cache_geometry *g);

/* State of the line holding @pa. */
enum ik_cpu_line_state {
	IK_CPU_LINE_ABSENT,
	IK_CPU_LINE_CLEAN,
	IK_CPU_LINE_DIRTY,
};
enum ik_cpu_line_state ik_cpu_cache_line_state(struct ik_cpu_cache *c, phys_addr_t pa);

void ik_cpu_cache_get_stats(struct ik_cpu_cache *c, struct ik_cpu_cache_stats *stats);
void ik_cpu_cache_reset_stats(struct ik_cpu_cache *c);

/* The machine's cache; NULL on a coherent machine (src/hw/machine.c). */
struct ik_cpu_cache *ik_machine_cpu_cache(struct ik_machine *m);

#endif /* IK_CPU_CACHE_H */
