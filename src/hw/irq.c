// SPDX-License-Identifier: MIT
/*
 * Interrupt lines of the simulated machine.
 *
 * A line has any number of handlers (shared interrupts, as Linux's
 * IRQF_SHARED), identified by (line, function, argument). A model raises a
 * line from whichever thread caused the event, usually a DMA access that
 * faulted, after dropping its own lock.
 *
 * Delivery: ik_irq_raise() snapshots the line's handlers under the table
 * lock, drops the lock and calls each handler in the raising thread, in
 * registration order. No iommukit lock is held while a handler runs, so a
 * handler may do anything: read and write model registers, call
 * iommu_map()/iommu_unmap(), request or free interrupt handlers (its own
 * included). A handler added during a raise first runs on the next raise;
 * a handler freed during a raise is not called afterwards.
 *
 * Removal: as Linux's free_irq(), ik_free_irq() returns only when no other
 * thread is still running the handler, so the caller may free the
 * handler's argument afterwards. Called from inside the handler itself it
 * cannot wait for its own call: it waits for the other threads only, and
 * the handler is released when the raise that is running it moves on. Do
 * not call ik_free_irq() while holding a lock the handler takes.
 */
#include <errno.h>
#include <stdlib.h>

#include "ik/log.h"
#include "ik/registry.h"

struct ik_irq_action {
	struct list_head node; /* on ik_irq_table.actions while registered */
	unsigned int irq;
	ik_irq_handler_t fn;
	void *arg;
	unsigned int inflight; /* raises holding it in their snapshot; under lock */
	bool removed;          /* freed: skip it (atomic, set under lock) */
	bool waiting;          /* ik_free_irq() waits for inflight to drop; under lock */
};

/*
 * A raise in progress on this thread: the handlers it still holds are
 * acts[next_put .. nr). ik_free_irq() consults this chain so that a
 * handler freeing itself (or a later handler of the same raise) does not
 * wait for the very call it is running in.
 */
struct irq_frame {
	struct irq_frame *outer;
	struct ik_irq_action **acts;
	unsigned int nr;
	unsigned int next_put;
};

static _Thread_local struct irq_frame *irq_frames;

/* Snapshot size that needs no allocation. */
#define IRQ_STACK_ACTIONS 8

void ik_irq_table_init(struct ik_irq_table *t)
{
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->idle, NULL);
	INIT_LIST_HEAD(&t->actions);
}

void ik_irq_table_destroy(struct ik_irq_table *t)
{
	struct ik_irq_action *act, *tmp;

	list_for_each_entry_safe(act, tmp, &t->actions, node) {
		list_del_init(&act->node);
		free(act);
	}
	pthread_cond_destroy(&t->idle);
	pthread_mutex_destroy(&t->lock);
}

/**
 * ik_request_irq - add a handler to an interrupt line
 * @m: the machine
 * @irq: the line
 * @fn: called with (@irq, @arg) on every raise of the line
 * @arg: passed to @fn; with @fn it identifies the handler for ik_free_irq()
 *
 * Return: 0; -EINVAL for a NULL @m or @fn; -EEXIST if (@irq, @fn, @arg) is
 * already registered; -ENOMEM.
 */
int ik_request_irq(struct ik_machine *m, unsigned int irq, ik_irq_handler_t fn, void *arg)
{
	if (!m || !fn)
		return -EINVAL;
	struct ik_irq_table *t = ik_machine_irq_table(m);
	struct ik_irq_action *act = calloc(1, sizeof(*act));
	struct ik_irq_action *cur;

	if (!act)
		return -ENOMEM;
	act->irq = irq;
	act->fn = fn;
	act->arg = arg;
	pthread_mutex_lock(&t->lock);
	list_for_each_entry(cur, &t->actions, node) {
		if (cur->irq == irq && cur->fn == fn && cur->arg == arg) {
			pthread_mutex_unlock(&t->lock);
			free(act);
			return -EEXIST;
		}
	}
	list_add_tail(&act->node, &t->actions);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* References to @act that raises on this thread still hold. */
static unsigned int held_by_this_thread(const struct ik_irq_action *act)
{
	unsigned int n = 0;

	for (const struct irq_frame *f = irq_frames; f; f = f->outer)
		for (unsigned int i = f->next_put; i < f->nr; i++)
			n += f->acts[i] == act;
	return n;
}

/**
 * ik_free_irq - remove a handler from an interrupt line
 * @m: the machine
 * @irq, @fn, @arg: the handler, as given to ik_request_irq()
 *
 * Returns once no other thread runs the handler (see the top of this file).
 * Freeing a handler that is not registered is reported through the log.
 */
void ik_free_irq(struct ik_machine *m, unsigned int irq, ik_irq_handler_t fn, void *arg)
{
	if (!m)
		return;
	struct ik_irq_table *t = ik_machine_irq_table(m);
	struct ik_irq_action *act, *found = NULL;

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(act, &t->actions, node) {
		if (act->irq == irq && act->fn == fn && act->arg == arg) {
			found = act;
			break;
		}
	}
	if (!found) {
		pthread_mutex_unlock(&t->lock);
		ik_warn("irq %u: freeing a handler that is not registered", irq);
		return;
	}
	list_del_init(&found->node);
	__atomic_store_n(&found->removed, true, __ATOMIC_RELAXED);

	unsigned int mine = held_by_this_thread(found);
	found->waiting = true;
	while (found->inflight > mine)
		pthread_cond_wait(&t->idle, &t->lock);
	found->waiting = false;
	/* Otherwise this thread's raise frees it when it lets go. */
	if (found->inflight == 0)
		free(found);
	pthread_mutex_unlock(&t->lock);
}

/* A raise is done with @act. */
static void irq_action_put(struct ik_irq_table *t, struct ik_irq_action *act)
{
	pthread_mutex_lock(&t->lock);
	act->inflight--;
	if (__atomic_load_n(&act->removed, __ATOMIC_RELAXED)) {
		if (act->waiting)
			pthread_cond_broadcast(&t->idle);
		else if (act->inflight == 0)
			free(act);
	}
	pthread_mutex_unlock(&t->lock);
}

/**
 * ik_irq_raise - deliver an interrupt now, in this thread
 * @m: the machine
 * @irq: the line
 *
 * Calls every handler registered on @irq when the raise began, with no
 * iommukit lock held. Never call it with a model lock held.
 */
void ik_irq_raise(struct ik_machine *m, unsigned int irq)
{
	if (!m)
		return;
	struct ik_irq_table *t = ik_machine_irq_table(m);
	struct ik_irq_action *stack_acts[IRQ_STACK_ACTIONS];
	struct ik_irq_action **acts = stack_acts;
	struct ik_irq_action *act;
	unsigned int nr = 0, cap = IRQ_STACK_ACTIONS;

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(act, &t->actions, node)
		nr += act->irq == irq;
	if (nr > IRQ_STACK_ACTIONS) {
		struct ik_irq_action **heap = malloc(nr * sizeof(*heap));
		if (heap) {
			acts = heap;
			cap = nr;
		} else {
			ik_err("irq %u: out of memory, %u of %u handlers not run", irq,
			       nr - cap, nr);
		}
	}
	nr = 0;
	list_for_each_entry(act, &t->actions, node) {
		if (act->irq != irq || nr == cap)
			continue;
		act->inflight++;
		acts[nr++] = act;
	}
	pthread_mutex_unlock(&t->lock);

	struct irq_frame frame = { .outer = irq_frames, .acts = acts, .nr = nr };

	irq_frames = &frame;
	for (unsigned int i = 0; i < nr; i++) {
		act = acts[i];
		if (!__atomic_load_n(&act->removed, __ATOMIC_RELAXED))
			act->fn(irq, act->arg);
		frame.next_put = i + 1;
		irq_action_put(t, act);
	}
	irq_frames = frame.outer;
	if (acts != stack_acts)
		free(acts);
}
