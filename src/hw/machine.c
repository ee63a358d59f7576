// SPDX-License-Identifier: MIT
/*
 * The simulated machine: built from a description (struct ik_machine_desc),
 * it owns physical memory, the register windows and interrupt lines of the
 * IOMMU hardware models, the drivers bound to them, and the DMA-master
 * devices behind them. Also the registries of model and driver types.
 *
 * Bring-up order, as a kernel would boot: memory; the bus; for each IOMMU
 * its hardware model (which maps its registers and wires its interrupt),
 * then its driver (which ioremaps the registers, requests the interrupt
 * and registers with the core); then each master, probed by the core if
 * an IOMMU is in front of it. Teardown is the reverse, and a failure at
 * any step unwinds all the steps before it.
 *
 * Locks: the registry lock, the MMIO table lock and the IRQ table lock
 * (src/hw/irq.c) are leaves, held only for table lookups and edits and
 * never across a call into a model, a driver or the core.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik/cpu-cache.h"
#include "ik/iommu-driver.h"
#include "ik/log.h"
#include "ik/registry.h"

/* Longest name that fits the fixed name fields (device, model, region). */
#define IK_NAME_MAX 31

/* CPU cache geometry: defaults (the Cortex-A8's, src/hw/cpu_cache.c) and bounds. */
#define IK_CACHE_LINE_DEFAULT 64u
#define IK_CACHE_SIZE_DEFAULT (256u << 10)
#define IK_CACHE_LINE_MIN     16u
#define IK_CACHE_LINE_MAX     256u
#define IK_CACHE_SIZE_MAX     (64u << 20) /* far beyond any real L2 */

/* --- registries --- */

/*
 * Built-in types, referenced strongly so that a program linking the static
 * library gets them whenever it creates a machine.
 */
static const struct ik_hw_model_type *const builtin_models[] = {
	&ik_omap_mmu_model_type,
	&ik_arm_smmu_model_type,
};
static const struct ik_iommu_driver_type *const builtin_drivers[] = {
	&ik_omap_iommu_driver_type,
	&ik_arm_smmu_driver_type,
};

struct runtime_type {
	const void *type; /* struct ik_hw_model_type or ik_iommu_driver_type */
	const char *compatible;
	unsigned int users; /* machines using it */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime_type runtime_models[IK_MAX_RUNTIME_TYPES];
static struct runtime_type runtime_drivers[IK_MAX_RUNTIME_TYPES];

/* Index of @compatible in @tab, or -1. Under registry_lock. */
static int runtime_find(const struct runtime_type *tab, const char *compatible)
{
	for (int i = 0; i < IK_MAX_RUNTIME_TYPES; i++)
		if (tab[i].type && !strcmp(tab[i].compatible, compatible))
			return i;
	return -1;
}

static int runtime_register(struct runtime_type *tab, const void *type,
			    const char *compatible, bool builtin_exists)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&registry_lock);
	if (builtin_exists || runtime_find(tab, compatible) >= 0) {
		ret = -EEXIST;
		goto out;
	}
	for (int i = 0; i < IK_MAX_RUNTIME_TYPES; i++) {
		if (!tab[i].type) {
			tab[i] = (struct runtime_type){ type, compatible, 0 };
			ret = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

static int runtime_unregister(struct runtime_type *tab, const void *type)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&registry_lock);
	for (int i = 0; i < IK_MAX_RUNTIME_TYPES; i++) {
		if (tab[i].type != type)
			continue;
		if (tab[i].users) {
			ret = -EBUSY;
		} else {
			tab[i] = (struct runtime_type){ 0 };
			ret = 0;
		}
		break;
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

static const struct ik_hw_model_type *builtin_model(const char *compatible)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_models); i++)
		if (!strcmp(builtin_models[i]->compatible, compatible))
			return builtin_models[i];
	return NULL;
}

static const struct ik_iommu_driver_type *builtin_driver(const char *compatible)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_drivers); i++)
		if (!strcmp(builtin_drivers[i]->compatible, compatible))
			return builtin_drivers[i];
	return NULL;
}

int ik_hw_model_type_register(const struct ik_hw_model_type *type)
{
	if (!type || !type->compatible || !type->create)
		return -EINVAL;
	return runtime_register(runtime_models, type, type->compatible,
				builtin_model(type->compatible) != NULL);
}

int ik_iommu_driver_type_register(const struct ik_iommu_driver_type *type)
{
	if (!type || !type->compatible || !type->probe || !type->remove)
		return -EINVAL;
	return runtime_register(runtime_drivers, type, type->compatible,
				builtin_driver(type->compatible) != NULL);
}

int ik_hw_model_type_unregister(const struct ik_hw_model_type *type)
{
	return type ? runtime_unregister(runtime_models, type) : -EINVAL;
}

int ik_iommu_driver_type_unregister(const struct ik_iommu_driver_type *type)
{
	return type ? runtime_unregister(runtime_drivers, type) : -EINVAL;
}

/* Find the model and driver for @compatible and take a reference on each. */
static int types_get(const char *compatible, const struct ik_hw_model_type **model,
		     const struct ik_iommu_driver_type **driver)
{
	int mi = -1, di = -1;

	*model = builtin_model(compatible);
	*driver = builtin_driver(compatible);

	pthread_mutex_lock(&registry_lock);
	if (!*model) {
		mi = runtime_find(runtime_models, compatible);
		if (mi >= 0)
			*model = runtime_models[mi].type;
	}
	if (!*driver) {
		di = runtime_find(runtime_drivers, compatible);
		if (di >= 0)
			*driver = runtime_drivers[di].type;
	}
	if (!*model || !*driver) {
		pthread_mutex_unlock(&registry_lock);
		*model = NULL;
		*driver = NULL;
		return -ENODEV;
	}
	if (mi >= 0)
		runtime_models[mi].users++;
	if (di >= 0)
		runtime_drivers[di].users++;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

static void runtime_put(struct runtime_type *tab, const void *type)
{
	for (int i = 0; i < IK_MAX_RUNTIME_TYPES; i++) {
		if (tab[i].type == type) {
			tab[i].users--;
			return;
		}
	}
}

static void types_put(const struct ik_hw_model_type *model,
		      const struct ik_iommu_driver_type *driver)
{
	pthread_mutex_lock(&registry_lock);
	if (model)
		runtime_put(runtime_models, model);
	if (driver)
		runtime_put(runtime_drivers, driver);
	pthread_mutex_unlock(&registry_lock);
}

/* --- the machine --- */

/* A register window, or a view of part of one (see ik_ioremap()). */
struct mmio_node {
	struct list_head node;
	struct ik_mmio io;
	const struct ik_mmio *parent; /* NULL for a window */
	uint32_t delta;               /* view: io.base - parent->base */
};

struct machine_iommu {
	char *name;
	char *compatible;
	struct ik_iommu_desc desc; /* a copy whose strings the machine owns */
	const struct ik_hw_model_type *model_type;
	const struct ik_iommu_driver_type *driver_type;
	struct ik_hw_iommu *hw;     /* created model, or NULL */
	struct iommu_device *iommu; /* bound driver instance, or NULL */
};

struct ik_machine {
	char *name;
	unsigned int flags; /* IK_MACHINE_* */
	struct ik_mem *mem;
	struct ik_cpu_cache *cpu_cache; /* non-coherent machines only */
	struct bus_type bus;

	pthread_mutex_t mmio_lock;
	struct list_head windows; /* struct mmio_node */
	struct list_head views;   /* struct mmio_node */

	struct ik_irq_table irqs;

	unsigned int nr_iommus;
	struct machine_iommu *iommus;

	unsigned int nr_devices;
	struct device *devices;
	bool *probed; /* iommu_probe_device() succeeded on devices[i] */
};

struct ik_irq_table *ik_machine_irq_table(struct ik_machine *m)
{
	return &m->irqs;
}

/* --- validating a description --- */

static bool name_ok(const char *name)
{
	return name && name[0] && strlen(name) <= IK_NAME_MAX;
}

/* Copy @udesc into @d, reading no more than the caller's size says. */
static int desc_copy(struct ik_machine_desc *d, const struct ik_machine_desc *udesc)
{
	const size_t min_size = offsetof(struct ik_machine_desc, nr_regions) +
				sizeof(udesc->nr_regions);

	/* Far larger than any version of the struct: a garbage size. */
	if (!udesc || udesc->size < min_size || udesc->size > sizeof(*d) + 1024)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	memcpy(d, udesc, ik_min(udesc->size, sizeof(*d)));
	/* A newer caller's extra fields must be unset: we cannot honour them. */
	for (size_t i = sizeof(*d); i < udesc->size; i++)
		if (((const unsigned char *)udesc)[i])
			return -EINVAL;
	return 0;
}

/* Non-empty ranges that do not wrap; compared by last byte, as one may end at 2^64. */
static bool ranges_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

static int regions_check(const struct ik_machine_desc *d)
{
	if (!d->regions || !d->nr_regions)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nr_regions; i++) {
		const struct ik_region_desc *r = &d->regions[i];

		if (!name_ok(r->name) || !r->size || !IS_ALIGNED(r->base, IK_PAGE_SIZE) ||
		    !IS_ALIGNED(r->size, IK_PAGE_SIZE) || r->base + r->size - 1 < r->base)
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(r->name, d->regions[j].name) ||
			    ranges_overlap(r->base, r->size, d->regions[j].base,
					   d->regions[j].size))
				return -EINVAL;
	}
	return 0;
}

/* Flags and CPU cache geometry; zero fields take their defaults. */
static int cache_check(const struct ik_machine_desc *d, unsigned int *line, unsigned int *size)
{
	*line = d->cache_line ? d->cache_line : IK_CACHE_LINE_DEFAULT;
	*size = d->cache_size ? d->cache_size : IK_CACHE_SIZE_DEFAULT;
	if (d->flags & ~IK_MACHINE_NONCOHERENT)
		return -EINVAL;
	if (*line < IK_CACHE_LINE_MIN || *line > IK_CACHE_LINE_MAX || (*line & (*line - 1)))
		return -EINVAL;
	if (*size % *line || *size > IK_CACHE_SIZE_MAX)
		return -EINVAL;
	return 0;
}

static int iommus_check(const struct ik_machine_desc *d)
{
	if (d->nr_iommus && !d->iommus)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nr_iommus; i++) {
		const struct ik_iommu_desc *io = &d->iommus[i];

		if (!name_ok(io->name) || !io->compatible || !io->compatible[0] ||
		    !IS_ALIGNED(io->mmio_base, 4))
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(io->name, d->iommus[j].name))
				return -EINVAL;
	}
	return 0;
}

static int masters_check(const struct ik_machine_desc *d)
{
	if (d->nr_masters && !d->masters)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nr_masters; i++) {
		const struct ik_master_desc *ms = &d->masters[i];
		bool found = !ms->iommu;

		if (!name_ok(ms->name))
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(ms->name, d->masters[j].name))
				return -EINVAL;
		for (unsigned int j = 0; j < d->nr_iommus && !found; j++)
			found = !strcmp(ms->iommu, d->iommus[j].name);
		if (!found)
			return -EINVAL;
	}
	return 0;
}

/* Register windows as the model types declare them: clear of RAM and of each other. */
static int windows_check(const struct ik_machine_desc *d, const struct machine_iommu *mi)
{
	for (unsigned int i = 0; i < d->nr_iommus; i++) {
		uint64_t base = d->iommus[i].mmio_base;
		uint64_t size = ik_max(mi[i].model_type->mmio_size, 4u);

		if (base + size - 1 < base)
			return -EINVAL;
		for (unsigned int r = 0; r < d->nr_regions; r++)
			if (ranges_overlap(base, size, d->regions[r].base, d->regions[r].size))
				return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (ranges_overlap(base, size, d->iommus[j].mmio_base,
					   ik_max(mi[j].model_type->mmio_size, 4u)))
				return -EINVAL;
	}
	return 0;
}

/* --- teardown, shared by a failed ik_machine_create() and ik_machine_destroy() --- */

static void machine_free(struct ik_machine *m)
{
	for (unsigned int i = m->nr_devices; i-- > 0;)
		if (m->probed && m->probed[i])
			iommu_release_device(&m->devices[i]);

	/* Software first, then the hardware it drove. */
	for (unsigned int i = m->nr_iommus; i-- > 0;)
		if (m->iommus[i].iommu)
			m->iommus[i].driver_type->remove(m->iommus[i].iommu);
	for (unsigned int i = m->nr_iommus; i-- > 0;)
		if (m->iommus[i].hw)
			m->iommus[i].hw->ops->destroy(m->iommus[i].hw);
	if (!list_empty(&m->bus.iommus))
		ik_warn("machine %s: an IOMMU driver left an instance registered", m->name);

	for (unsigned int i = 0; i < m->nr_iommus; i++) {
		types_put(m->iommus[i].model_type, m->iommus[i].driver_type);
		free(m->iommus[i].name);
		free(m->iommus[i].compatible);
	}
	free(m->iommus);
	free(m->devices);
	free(m->probed);

	struct mmio_node *n, *tmp;

	list_for_each_entry_safe(n, tmp, &m->views, node)
		free(n);
	list_for_each_entry_safe(n, tmp, &m->windows, node)
		free(n);
	pthread_mutex_destroy(&m->mmio_lock);
	ik_irq_table_destroy(&m->irqs);
	pthread_mutex_destroy(&m->bus.iommus_lock);
	ik_cpu_cache_destroy(m->cpu_cache);
	ik_mem_destroy(m->mem);
	free(m->name);
	free(m);
}

/* Look up the types of every IOMMU and copy its description. */
static int machine_iommus_init(struct ik_machine *m, const struct ik_machine_desc *d)
{
	if (!d->nr_iommus)
		return 0;
	m->iommus = calloc(d->nr_iommus, sizeof(*m->iommus));
	if (!m->iommus)
		return -ENOMEM;
	m->nr_iommus = d->nr_iommus;
	for (unsigned int i = 0; i < d->nr_iommus; i++) {
		struct machine_iommu *mi = &m->iommus[i];
		int ret = types_get(d->iommus[i].compatible, &mi->model_type, &mi->driver_type);

		if (ret)
			return ret;
		mi->name = strdup(d->iommus[i].name);
		mi->compatible = strdup(d->iommus[i].compatible);
		if (!mi->name || !mi->compatible)
			return -ENOMEM;
		mi->desc = d->iommus[i];
		mi->desc.name = mi->name;
		mi->desc.compatible = mi->compatible;
	}
	return windows_check(d, m->iommus);
}

/* Errno of a constructor that returned NULL, ENOMEM if it set none. */
static int ctor_error(void)
{
	return errno ? -errno : -ENOMEM;
}

static int machine_bind_iommus(struct ik_machine *m)
{
	for (unsigned int i = 0; i < m->nr_iommus; i++) {
		struct machine_iommu *mi = &m->iommus[i];

		errno = 0;
		mi->hw = mi->model_type->create(m, &mi->desc);
		if (!mi->hw)
			return ctor_error();
		errno = 0;
		mi->iommu = mi->driver_type->probe(m, &mi->desc);
		if (!mi->iommu)
			return ctor_error();
	}
	return 0;
}

static struct machine_iommu *iommu_by_name(const struct ik_machine *m, const char *name)
{
	for (unsigned int i = 0; i < m->nr_iommus; i++)
		if (!strcmp(m->iommus[i].name, name))
			return &m->iommus[i];
	return NULL;
}

static int machine_add_devices(struct ik_machine *m, const struct ik_machine_desc *d)
{
	if (!d->nr_masters)
		return 0;
	m->devices = calloc(d->nr_masters, sizeof(*m->devices));
	m->probed = calloc(d->nr_masters, sizeof(*m->probed));
	if (!m->devices || !m->probed)
		return -ENOMEM;
	m->nr_devices = d->nr_masters;
	for (unsigned int i = 0; i < d->nr_masters; i++) {
		struct device *dev = &m->devices[i];

		snprintf(dev->name, sizeof(dev->name), "%s", d->masters[i].name);
		dev->machine = m;
		dev->bus = &m->bus;
		dev->sids[0] = d->masters[i].sid;
		dev->nr_sids = 1;
		/* Linux's defaults for a platform device */
		dev->dma_mask = 0xffffffffULL;
		dev->coherent_dma_mask = 0xffffffffULL;
		dev->max_seg_size = 0x10000;
		dev->seg_boundary_mask = 0xffffffffUL;
		INIT_LIST_HEAD(&dev->group_node);
		INIT_LIST_HEAD(&dev->iommu_node);
	}
	for (unsigned int i = 0; i < d->nr_masters; i++) {
		struct device *dev = &m->devices[i];
		struct machine_iommu *mi;

		if (!d->masters[i].iommu)
			continue;
		mi = iommu_by_name(m, d->masters[i].iommu);
		dev->hw_iommu = mi->hw;
		dev->iommu = mi->iommu;
		int ret = iommu_probe_device(dev);
		if (ret)
			return ret < 0 ? ret : -EIO;
		m->probed[i] = true;
	}
	return 0;
}

/**
 * ik_machine_create - build a machine from its description
 * @udesc: the description; it need not outlive the call
 *
 * A description with IK_MACHINE_NONCOHERENT gets a modelled CPU cache of
 * cache_size bytes in cache_line-byte lines (defaults 256 KiB and 64; a
 * line is a power of two from 16 to 256 bytes, the size a multiple of it,
 * at most 64 MiB), checked on every machine.
 *
 * Return: the machine, or NULL with errno set: EINVAL for a bad
 * description (checked whole before anything is built), ENODEV when no
 * model or driver matches an IOMMU's compatible string, ENOMEM, or what a
 * model, driver or the core reported. Nothing is left behind on failure.
 */
struct ik_machine *ik_machine_create(const struct ik_machine_desc *udesc)
{
	struct ik_machine_desc d;
	struct ik_machine *m;
	unsigned int cache_line, cache_size;
	int ret = desc_copy(&d, udesc);

	if (!ret)
		ret = regions_check(&d);
	if (!ret)
		ret = cache_check(&d, &cache_line, &cache_size);
	if (!ret)
		ret = iommus_check(&d);
	if (!ret)
		ret = masters_check(&d);
	if (ret) {
		errno = -ret;
		return NULL;
	}

	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&m->mmio_lock, NULL);
	INIT_LIST_HEAD(&m->windows);
	INIT_LIST_HEAD(&m->views);
	ik_irq_table_init(&m->irqs);
	m->bus.name = "platform";
	m->bus.machine = m;
	INIT_LIST_HEAD(&m->bus.iommus);
	pthread_mutex_init(&m->bus.iommus_lock, NULL);

	m->name = strdup(d.name ? d.name : "machine");
	if (!m->name) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = machine_iommus_init(m, &d);
	if (ret)
		goto fail;
	m->mem = ik_sim_mem_create(d.regions, d.nr_regions);
	if (!m->mem) {
		ret = ctor_error();
		goto fail;
	}
	m->flags = d.flags;
	if (d.flags & IK_MACHINE_NONCOHERENT) {
		m->cpu_cache = ik_cpu_cache_create(m->mem, cache_line, cache_size,
						   IK_CPU_CACHE_WAYS);
		if (!m->cpu_cache) {
			ret = ctor_error();
			goto fail;
		}
	}
	ret = machine_bind_iommus(m);
	if (ret)
		goto fail;
	ret = machine_add_devices(m, &d);
	if (ret)
		goto fail;
	return m;
fail:
	machine_free(m);
	errno = -ret;
	return NULL;
}

/**
 * ik_machine_destroy - tear a machine down
 * @m: the machine, or NULL
 *
 * Releases every probed device, removes the drivers, destroys the models
 * and frees memory. No DMA, register access or raise may be in progress.
 */
void ik_machine_destroy(struct ik_machine *m)
{
	if (m)
		machine_free(m);
}

/* --- MMIO --- */

/* Window covering [base, base + size), under mmio_lock. */
static struct mmio_node *window_find(struct ik_machine *m, phys_addr_t base, uint64_t size)
{
	struct mmio_node *n;

	list_for_each_entry(n, &m->windows, node)
		if (base >= n->io.base && base - n->io.base < n->io.size &&
		    size <= n->io.size - (base - n->io.base))
			return n;
	return NULL;
}

/**
 * ik_machine_add_mmio - map a model's register window
 * @m: the machine
 * @base: physical address of the window (4-byte aligned)
 * @size: its size in bytes (a non-zero multiple of 4)
 * @ops: register accessors, called with @opaque and an offset into the window
 * @opaque: the model
 *
 * Return: 0; -EINVAL for bad arguments; -EBUSY if the window overlaps
 * another window or RAM; -ENOMEM.
 */
int ik_machine_add_mmio(struct ik_machine *m, phys_addr_t base, uint32_t size,
			const struct ik_mmio_ops *ops, void *opaque)
{
	if (!m || !ops || !ops->read32 || !ops->write32 || !size || !IS_ALIGNED(base, 4) ||
	    !IS_ALIGNED(size, 4) || base + size - 1 < base)
		return -EINVAL;
	for (unsigned int i = 0; m->mem && i < m->mem->nr_regions; i++)
		if (ranges_overlap(base, size, m->mem->regions[i].base, m->mem->regions[i].size))
			return -EBUSY;

	struct mmio_node *n = calloc(1, sizeof(*n)), *cur;

	if (!n)
		return -ENOMEM;
	n->io = (struct ik_mmio){ .base = base, .size = size, .ops = ops, .opaque = opaque };
	pthread_mutex_lock(&m->mmio_lock);
	list_for_each_entry(cur, &m->windows, node) {
		if (ranges_overlap(base, size, cur->io.base, cur->io.size)) {
			pthread_mutex_unlock(&m->mmio_lock);
			free(n);
			return -EBUSY;
		}
	}
	list_add_tail(&n->node, &m->windows);
	pthread_mutex_unlock(&m->mmio_lock);
	return 0;
}

/* A view passes accesses on to its window, offset by where it starts. */
static uint32_t view_read32(void *opaque, uint32_t offset)
{
	const struct mmio_node *v = opaque;

	return v->parent->ops->read32(v->parent->opaque, v->delta + offset);
}

static void view_write32(void *opaque, uint32_t offset, uint32_t value)
{
	const struct mmio_node *v = opaque;

	v->parent->ops->write32(v->parent->opaque, v->delta + offset, value);
}

static void view_write64(void *opaque, uint32_t offset, uint64_t value)
{
	const struct mmio_node *v = opaque;

	/* ik_writeq() on the window picks a 64-bit write if it has one, at its alignment. */
	ik_writeq(v->parent, v->delta + offset, value);
}

static const struct ik_mmio_ops view_ops = {
	.read32 = view_read32,
	.write32 = view_write32,
	.write64 = view_write64,
};

/**
 * ik_ioremap - the registers at [base, base + size)
 * @m: the machine
 * @base, @size: the range a driver wants to access
 *
 * Return: the window that covers the range if it starts at @base;
 * otherwise a view of that window whose offsets count from @base (kept
 * until the machine is destroyed). NULL if no window covers the range.
 */
const struct ik_mmio *ik_ioremap(struct ik_machine *m, phys_addr_t base, uint32_t size)
{
	struct mmio_node *win, *v;

	if (!m || !size)
		return NULL;
	pthread_mutex_lock(&m->mmio_lock);
	win = window_find(m, base, size);
	if (!win || win->io.base == base) {
		pthread_mutex_unlock(&m->mmio_lock);
		return win ? &win->io : NULL;
	}
	list_for_each_entry(v, &m->views, node) {
		if (v->io.base == base && v->io.size == size) {
			pthread_mutex_unlock(&m->mmio_lock);
			return &v->io;
		}
	}
	v = calloc(1, sizeof(*v));
	if (v) {
		v->parent = &win->io;
		v->delta = (uint32_t)(base - win->io.base);
		v->io = (struct ik_mmio){ .base = base, .size = size, .ops = &view_ops,
					  .opaque = v };
		list_add_tail(&v->node, &m->views);
	}
	pthread_mutex_unlock(&m->mmio_lock);
	return v ? &v->io : NULL;
}

static int mmio_lookup(struct ik_machine *m, phys_addr_t addr, const struct ik_mmio **io)
{
	struct mmio_node *n;

	if (!IS_ALIGNED(addr, 4))
		return -EINVAL;
	pthread_mutex_lock(&m->mmio_lock);
	n = window_find(m, addr, 4);
	pthread_mutex_unlock(&m->mmio_lock);
	if (!n)
		return -ENXIO;
	*io = &n->io; /* windows live as long as the machine */
	return 0;
}

/**
 * ik_machine_mmio_read32 - read a register at a physical address
 * Return: 0; -EINVAL for NULL arguments or an unaligned @addr; -ENXIO if
 * no register window decodes @addr.
 */
int ik_machine_mmio_read32(struct ik_machine *m, phys_addr_t addr, uint32_t *val)
{
	const struct ik_mmio *io;

	if (!m || !val)
		return -EINVAL;
	int ret = mmio_lookup(m, addr, &io);
	if (ret)
		return ret;
	*val = ik_readl(io, (uint32_t)(addr - io->base));
	return 0;
}

/** ik_machine_mmio_write32 - write a register; errors as ik_machine_mmio_read32() */
int ik_machine_mmio_write32(struct ik_machine *m, phys_addr_t addr, uint32_t val)
{
	const struct ik_mmio *io;

	if (!m)
		return -EINVAL;
	int ret = mmio_lookup(m, addr, &io);
	if (ret)
		return ret;
	ik_writel(io, (uint32_t)(addr - io->base), val);
	return 0;
}

/* --- lookups --- */

struct ik_mem *ik_machine_mem(struct ik_machine *m)
{
	return m ? m->mem : NULL;
}

struct bus_type *ik_machine_bus(struct ik_machine *m)
{
	return m ? &m->bus : NULL;
}

const char *ik_machine_name(const struct ik_machine *m)
{
	return m ? m->name : NULL;
}

struct ik_cpu_cache *ik_machine_cpu_cache(struct ik_machine *m)
{
	return m ? m->cpu_cache : NULL;
}

/**
 * ik_machine_dma_coherent - do devices see what the CPU wrote without maintenance?
 * @m: the machine
 *
 * Return: false for an IK_MACHINE_NONCOHERENT machine, true otherwise
 * (also for NULL: there is no cache to maintain).
 */
bool ik_machine_dma_coherent(const struct ik_machine *m)
{
	return !m || !(m->flags & IK_MACHINE_NONCOHERENT);
}

struct device *ik_machine_device(struct ik_machine *m, const char *name)
{
	if (!m || !name)
		return NULL;
	for (unsigned int i = 0; i < m->nr_devices; i++)
		if (!strcmp(m->devices[i].name, name))
			return &m->devices[i];
	return NULL;
}

struct device *ik_machine_device_at(struct ik_machine *m, unsigned int index)
{
	return m && index < m->nr_devices ? &m->devices[index] : NULL;
}

const char *ik_device_name(const struct device *dev)
{
	return dev ? dev->name : NULL;
}

uint32_t ik_device_sid(const struct device *dev)
{
	return dev && dev->nr_sids ? dev->sids[0] : 0;
}

struct ik_machine *ik_device_machine(const struct device *dev)
{
	return dev ? dev->machine : NULL;
}

const char *ik_device_iommu_name(const struct device *dev)
{
	const struct ik_machine *m = dev ? dev->machine : NULL;

	if (!m || !dev->hw_iommu)
		return NULL;
	for (unsigned int i = 0; i < m->nr_iommus; i++)
		if (m->iommus[i].hw == dev->hw_iommu)
			return m->iommus[i].name;
	return NULL;
}

unsigned int ik_machine_nr_iommus(const struct ik_machine *m)
{
	return m ? m->nr_iommus : 0;
}

const char *ik_machine_iommu_name(const struct ik_machine *m, unsigned int index)
{
	return m && index < m->nr_iommus ? m->iommus[index].name : NULL;
}

/* --- looking inside the models --- */

static int hw_by_name(struct ik_machine *m, const char *iommu, struct ik_hw_iommu **hw)
{
	if (!m || !iommu)
		return -EINVAL;
	struct machine_iommu *mi = iommu_by_name(m, iommu);
	if (!mi || !mi->hw)
		return -ENODEV;
	*hw = mi->hw;
	return 0;
}

/**
 * ik_machine_iommu_stats - a model's counters
 * Return: 0; -EINVAL for NULL arguments; -ENODEV for an unknown IOMMU.
 */
int ik_machine_iommu_stats(struct ik_machine *m, const char *iommu,
			   struct ik_iommu_hw_stats *stats)
{
	struct ik_hw_iommu *hw;
	int ret = stats ? hw_by_name(m, iommu, &hw) : -EINVAL;

	if (ret)
		return ret;
	pthread_mutex_lock(hw->stats_lock);
	*stats = hw->stats;
	pthread_mutex_unlock(hw->stats_lock);
	return 0;
}

void ik_hw_iommu_add_stats(struct ik_hw_iommu *hw, const struct ik_iommu_hw_stats *d)
{
	struct ik_iommu_hw_stats *s = &hw->stats;

	s->accesses += d->accesses;
	s->tlb_hits += d->tlb_hits;
	s->tlb_misses += d->tlb_misses;
	s->walks += d->walks;
	s->faults += d->faults;
	s->stale_accesses += d->stale_accesses;
	s->invalidations += d->invalidations;
	s->incoherent_walks += d->incoherent_walks;
}

int ik_machine_iommu_reset_stats(struct ik_machine *m, const char *iommu)
{
	struct ik_hw_iommu *hw;
	int ret = hw_by_name(m, iommu, &hw);

	if (ret)
		return ret;
	pthread_mutex_lock(hw->stats_lock);
	memset(&hw->stats, 0, sizeof(hw->stats));
	pthread_mutex_unlock(hw->stats_lock);
	return 0;
}

int ik_machine_iommu_walk(struct ik_machine *m, const char *iommu, uint32_t sid,
			  dma_addr_t iova, phys_addr_t *pa, int *prot)
{
	struct ik_hw_iommu *hw;
	int ret = pa && prot ? hw_by_name(m, iommu, &hw) : -EINVAL;

	if (ret)
		return ret;
	if (!hw->ops->walk)
		return -EOPNOTSUPP;
	return hw->ops->walk(hw, sid, iova, pa, prot);
}

int ik_machine_iommu_power(struct ik_machine *m, const char *iommu, bool on)
{
	struct ik_hw_iommu *hw;
	int ret = hw_by_name(m, iommu, &hw);

	if (ret)
		return ret;
	if (!hw->ops->power)
		return -EOPNOTSUPP;
	hw->ops->power(hw, on);
	return 0;
}
