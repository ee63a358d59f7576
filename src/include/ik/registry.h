/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine's registries and the pieces of struct ik_machine
 * that src/hw/machine.c and src/hw/irq.c share.
 *
 * Registries: ik_machine_create() finds the hardware model and the driver
 * of each IOMMU by its compatible string, first among the built-in types
 * (ik_omap_mmu_model_type, ik_omap_iommu_driver_type), then among types
 * registered at run time with the functions below. A registered type is
 * referenced, not copied, and must stay valid until it is unregistered;
 * unregistering a type that a live machine uses fails with -EBUSY.
 */
#ifndef IK_REGISTRY_H
#define IK_REGISTRY_H

#include <pthread.h>
#include "ik/list.h"
#include "ik/machine.h"

/* Room for types registered at run time (built-in types are not counted). */
#define IK_MAX_RUNTIME_TYPES 16

/*
 * Register a type. -EINVAL for NULL or a type without a compatible string
 * or constructor, -EEXIST if a type (built-in or not) already has that
 * compatible string, -ENOSPC when the table is full.
 */
int ik_hw_model_type_register(const struct ik_hw_model_type *type);
int ik_iommu_driver_type_register(const struct ik_iommu_driver_type *type);
/* Unregister a type: -ENOENT if it is not registered, -EBUSY while a machine uses it. */
int ik_hw_model_type_unregister(const struct ik_hw_model_type *type);
int ik_iommu_driver_type_unregister(const struct ik_iommu_driver_type *type);

/* --- interrupt lines (src/hw/irq.c) --- */

/*
 * Every handler of every line of one machine. The lock is a leaf: it is
 * held only to edit or snapshot the list, never while a handler runs.
 */
struct ik_irq_table {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* a removed handler's last running call returned */
	struct list_head actions; /* struct ik_irq_action, in registration order */
};

void ik_irq_table_init(struct ik_irq_table *t);
/* Frees every handler still registered. No raise may be in progress. */
void ik_irq_table_destroy(struct ik_irq_table *t);
struct ik_irq_table *ik_machine_irq_table(struct ik_machine *m);

#endif /* IK_REGISTRY_H */
