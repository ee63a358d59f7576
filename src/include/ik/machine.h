/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine, library-internal view: the bus between software
 * (core, drivers) and hardware models.
 *
 * Drivers reach hardware only through MMIO windows (ik_readl/ik_writel)
 * and physical memory; models register those windows, raise interrupt
 * lines, and serve DMA translations for the masters behind them. Models
 * never call driver or core code.
 *
 * Lock order (outermost first):
 *   group->lock  >  domain-level driver locks  >  model lock  >  mem->lock
 * Interrupt handlers run in the thread that raised the line, after the
 * model dropped its lock, so a handler may program the model and a fault
 * handler may call iommu_map()/iommu_unmap().
 * The machine's own locks (type registry, MMIO window table, IRQ handler
 * table) are leaves: held only to look up or edit a table, never while a
 * model, driver, core function or interrupt handler runs (src/hw/irq.c).
 */
#ifndef IK_MACHINE_H
#define IK_MACHINE_H

#include <pthread.h>
#include <iommukit/iommu.h>
#include <iommukit/platform.h>
#include "ik/list.h"
#include "ik/mem.h"

/* --- MMIO --- */

struct ik_mmio_ops {
	uint32_t (*read32)(void *opaque, uint32_t offset);
	void (*write32)(void *opaque, uint32_t offset, uint32_t value);
	/*
	 * Optional: one 64-bit write at an 8-byte aligned @offset, as a CPU's
	 * single 64-bit store (AArch64 drivers write 64-bit registers so).
	 * NULL: ik_writeq() makes two 32-bit writes, low word first.
	 */
	void (*write64)(void *opaque, uint32_t offset, uint64_t value);
};

/* A register window: what a driver gets from ik_ioremap(). */
struct ik_mmio {
	phys_addr_t base;
	uint32_t size;
	const struct ik_mmio_ops *ops;
	void *opaque;
};

static inline uint32_t ik_readl(const struct ik_mmio *io, uint32_t off)
{
	return io->ops->read32(io->opaque, off);
}
static inline void ik_writel(const struct ik_mmio *io, uint32_t off, uint32_t val)
{
	io->ops->write32(io->opaque, off, val);
}
/* 64-bit registers as two 32-bit accesses, low word first. */
static inline uint64_t ik_readq(const struct ik_mmio *io, uint32_t off)
{
	uint64_t lo = ik_readl(io, off);
	return lo | ((uint64_t)ik_readl(io, off + 4) << 32);
}
static inline void ik_writeq(const struct ik_mmio *io, uint32_t off, uint64_t val)
{
	if (io->ops->write64 && !(off & 7)) {
		io->ops->write64(io->opaque, off, val);
		return;
	}
	ik_writel(io, off, (uint32_t)val);
	ik_writel(io, off + 4, (uint32_t)(val >> 32));
}

/* Models: add a register window. -EBUSY if it overlaps another. */
int ik_machine_add_mmio(struct ik_machine *m, phys_addr_t base, uint32_t size,
			const struct ik_mmio_ops *ops, void *opaque);
/* Drivers: the window that covers [base, base + size), or NULL. */
const struct ik_mmio *ik_ioremap(struct ik_machine *m, phys_addr_t base, uint32_t size);

/* --- interrupts --- */

typedef void (*ik_irq_handler_t)(unsigned int irq, void *arg);
/* Several handlers may share a line; each runs on every raise. */
int ik_request_irq(struct ik_machine *m, unsigned int irq, ik_irq_handler_t fn, void *arg);
void ik_free_irq(struct ik_machine *m, unsigned int irq, ik_irq_handler_t fn, void *arg);
/* Models: deliver @irq now, in this thread. Never call with a model lock held. */
void ik_irq_raise(struct ik_machine *m, unsigned int irq);

/* --- IOMMU hardware models --- */

struct ik_hw_iommu;

/* A translation, in the shape QEMU's IOMMU models answer. */
struct ik_hw_xlate {
	phys_addr_t pa;     /* physical address of the byte asked for */
	uint64_t page_mask; /* size - 1 of the page (or block) that holds it */
};

struct ik_hw_iommu_ops {
	/*
	 * Translate one access of a master with source ID @sid. On a fault
	 * the model latches it in its registers, raises its interrupt after
	 * dropping its lock, and returns -EFAULT; the access must be aborted.
	 */
	int (*translate)(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr, bool write,
			 unsigned int attrs, struct ik_hw_xlate *out);
	/* Side-effect-free walk from memory (see ik_machine_iommu_walk()). */
	int (*walk)(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t iova, phys_addr_t *pa,
		    int *prot);
	void (*power)(struct ik_hw_iommu *hw, bool on);
	void (*destroy)(struct ik_hw_iommu *hw);
};

/* Common part of every model; models embed it. */
struct ik_hw_iommu {
	const struct ik_hw_iommu_ops *ops;
	struct ik_machine *machine;
	char name[32];
	struct ik_iommu_hw_stats stats;
	/* The model's own lock, which it holds while it counts (no second lock per access). */
	pthread_mutex_t *stats_lock;
};

/* Fold @d into @hw->stats; the caller holds *hw->stats_lock. */
void ik_hw_iommu_add_stats(struct ik_hw_iommu *hw, const struct ik_iommu_hw_stats *d);

/* Model constructors, one per compatible string. */
struct ik_hw_model_type {
	const char *compatible;
	struct ik_hw_iommu *(*create)(struct ik_machine *m, const struct ik_iommu_desc *desc);
	/*
	 * Bytes of the register window create() maps at desc->mmio_base, so
	 * that ik_machine_create() can check a description (windows clear of
	 * RAM and of each other) before building anything. 0: only the base.
	 */
	uint32_t mmio_size;
};

/* --- drivers --- */

struct iommu_device;
struct ik_iommu_driver_type {
	const char *compatible;
	/* Bind to the hardware described by @desc; register with the core. */
	struct iommu_device *(*probe)(struct ik_machine *m, const struct ik_iommu_desc *desc);
	void (*remove)(struct iommu_device *iommu);
};

extern const struct ik_hw_model_type ik_omap_mmu_model_type;
extern const struct ik_hw_model_type ik_arm_smmu_model_type; /* "arm,smmu-v2" */
extern const struct ik_iommu_driver_type ik_omap_iommu_driver_type;
extern const struct ik_iommu_driver_type ik_arm_smmu_driver_type;

/* --- devices and the bus --- */

struct bus_type {
	const char *name;
	struct ik_machine *machine;
	struct list_head iommus; /* struct iommu_device, under iommus_lock */
	pthread_mutex_t iommus_lock;
	int next_group_id;
};

#define IK_MAX_SIDS 4
struct device {
	char name[32];
	struct ik_machine *machine;
	struct bus_type *bus;
	/* hardware side: the model that translates this master's DMA */
	struct ik_hw_iommu *hw_iommu;
	uint32_t sids[IK_MAX_SIDS];
	unsigned int nr_sids;
	/* software side, owned by the core and the driver */
	struct iommu_device *iommu;
	void *iommu_priv;
	struct iommu_group *iommu_group;
	struct list_head group_node; /* on iommu_group.devices, core-owned */
	struct list_head iommu_node; /* on iommu_device.devices, core-owned */
	/* DMA limits (Linux's dma_mask, coherent_dma_mask and dma_parms) */
	uint64_t dma_mask;           /* default 32 bits */
	uint64_t coherent_dma_mask;  /* default 32 bits */
	unsigned int max_seg_size;   /* default 64 KiB */
	unsigned long seg_boundary_mask; /* default 0xffffffff */
};

struct ik_machine *ik_device_machine(const struct device *dev);

#endif /* IK_MACHINE_H */
