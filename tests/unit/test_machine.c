// SPDX-License-Identifier: MIT
/*
 * The simulated machine (src/hw/machine.c, irq.c, machine_builtin.c):
 * type registries, description checks, bring-up and teardown order,
 * unwinding after a failure at every step, MMIO windows, interrupt lines,
 * dispatch to the models, and the built-in OMAP3 machine.
 *
 * A fake IOMMU (model and driver, registered at run time, test-only) makes
 * the machine's side observable: every create/probe/remove/destroy call
 * is appended to an event log, and each can be told to fail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ik_test.h"
#include "ik/iommu-driver.h"
#include "ik/omap-mmu-regs.h"
#include "ik/registry.h"

/* --- event log and failure injection --- */

static char events[1024];
static int fail_model_at = -1;    /* fail the n-th model create (0-based) */
static int fail_driver_at = -1;   /* fail the n-th driver probe */
static const char *fail_probe_dev; /* the core's probe of this device fails */
static int model_creates, driver_probes;

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	size_t len = strlen(events);
	va_list ap;

	if (len && len < sizeof(events) - 1)
		events[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(events + len, sizeof(events) - len, fmt, ap);
	va_end(ap);
}

static void reset_fakes(void)
{
	events[0] = 0;
	fail_model_at = fail_driver_at = -1;
	fail_probe_dev = NULL;
	model_creates = driver_probes = 0;
}

/* --- the fake IOMMU hardware model --- */

#define FAKE_COMPAT     "test,fake-iommu"
#define FAKE_WINDOW     0x40u
#define FAKE_REG_ID     0x00u /* read-only: 0x1d000000 | TLB entries */
#define FAKE_REG_SCRATCH 0x04u
#define FAKE_REG_RAISE  0x08u /* write: raise the interrupt (a test hook) */
#define FAKE_ID_BASE    0x1d000000u
#define FAKE_OFFSET     0x40000000ULL /* translate: pa = iova + offset */

struct fake_hw {
	struct ik_hw_iommu hw;
	pthread_mutex_t lock; /* the model lock, which also covers the stats */
	unsigned int irq;
	unsigned int tlb_entries;
	uint32_t scratch;
	bool powered;
	unsigned int power_calls;
};

static uint32_t fake_read32(void *opaque, uint32_t off)
{
	struct fake_hw *f = opaque;

	switch (off) {
	case FAKE_REG_ID:
		return FAKE_ID_BASE | f->tlb_entries;
	case FAKE_REG_SCRATCH:
		return f->scratch;
	default:
		return 0;
	}
}

static void fake_write32(void *opaque, uint32_t off, uint32_t val)
{
	struct fake_hw *f = opaque;

	if (off == FAKE_REG_SCRATCH)
		f->scratch = val;
	else if (off == FAKE_REG_RAISE)
		ik_irq_raise(f->hw.machine, f->irq);
}

static const struct ik_mmio_ops fake_mmio_ops = { .read32 = fake_read32, .write32 = fake_write32 };

static int fake_translate(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr, bool write,
			  unsigned int attrs, struct ik_hw_xlate *out)
{
	pthread_mutex_lock(hw->stats_lock);
	ik_hw_iommu_add_stats(hw, &(struct ik_iommu_hw_stats){ .accesses = 1 });
	pthread_mutex_unlock(hw->stats_lock);
	out->pa = addr + FAKE_OFFSET;
	out->page_mask = IK_PAGE_SIZE - 1;
	return 0;
}

static int fake_walk(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t iova, phys_addr_t *pa,
		     int *prot)
{
	if (iova >= 0x100000000ULL)
		return -ENOENT;
	*pa = iova + FAKE_OFFSET + sid;
	*prot = IOMMU_READ | IOMMU_WRITE;
	return 0;
}

static void fake_power(struct ik_hw_iommu *hw, bool on)
{
	struct fake_hw *f = container_of(hw, struct fake_hw, hw);

	f->powered = on;
	f->power_calls++;
}

static void fake_destroy(struct ik_hw_iommu *hw)
{
	event("destroy:%s", hw->name);
	pthread_mutex_destroy(hw->stats_lock);
	free(container_of(hw, struct fake_hw, hw));
}

static const struct ik_hw_iommu_ops fake_hw_ops = {
	.translate = fake_translate,
	.walk = fake_walk,
	.power = fake_power,
	.destroy = fake_destroy,
};

static struct ik_hw_iommu *fake_create(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	if (model_creates++ == fail_model_at) {
		event("create-fail:%s", desc->name);
		errno = EIO;
		return NULL;
	}
	struct fake_hw *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->hw.ops = &fake_hw_ops;
	f->hw.machine = m;
	snprintf(f->hw.name, sizeof(f->hw.name), "%s", desc->name);
	pthread_mutex_init(&f->lock, NULL);
	f->hw.stats_lock = &f->lock;
	f->irq = desc->irq;
	f->tlb_entries = desc->tlb_entries ? desc->tlb_entries : 4;
	f->powered = true;
	int ret = ik_machine_add_mmio(m, desc->mmio_base, FAKE_WINDOW, &fake_mmio_ops, f);
	if (ret) {
		pthread_mutex_destroy(&f->lock);
		free(f);
		errno = -ret;
		return NULL;
	}
	event("create:%s", desc->name);
	return &f->hw;
}

static const struct ik_hw_model_type fake_model_type = {
	.compatible = FAKE_COMPAT,
	.create = fake_create,
	.mmio_size = FAKE_WINDOW,
};

/* --- the fake IOMMU driver --- */

struct fake_drv {
	struct iommu_device iommu;
	struct ik_machine *m;
	const struct ik_mmio *io;
	unsigned int irq;
	unsigned int irqs_seen;
	uint32_t id;
	char name[32];
};

static void fake_isr(unsigned int irq, void *arg)
{
	struct fake_drv *d = arg;

	__atomic_fetch_add(&d->irqs_seen, 1, __ATOMIC_RELAXED);
}

static struct iommu_domain *fake_domain_alloc(struct iommu_device *iommu, unsigned int type)
{
	errno = EOPNOTSUPP;
	return NULL;
}

static int fake_probe_device(struct iommu_device *iommu, struct device *dev)
{
	if (fail_probe_dev && !strcmp(fail_probe_dev, dev->name)) {
		event("probe-fail:%s", dev->name);
		return -EACCES;
	}
	event("probe:%s", dev->name);
	return 0;
}

static void fake_release_device(struct device *dev)
{
	event("release:%s", dev->name);
}

static const struct iommu_ops fake_iommu_ops = {
	.name = "fake",
	.domain_alloc = fake_domain_alloc,
	.probe_device = fake_probe_device,
	.release_device = fake_release_device,
	.device_group = generic_device_group,
};

static struct iommu_device *fake_drv_probe(struct ik_machine *m, const struct ik_iommu_desc *desc)
{
	if (driver_probes++ == fail_driver_at) {
		event("bind-fail:%s", desc->name);
		errno = EPERM;
		return NULL;
	}
	struct fake_drv *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->m = m;
	d->irq = desc->irq;
	snprintf(d->name, sizeof(d->name), "%s", desc->name);
	d->io = ik_ioremap(m, desc->mmio_base, FAKE_WINDOW);
	if (!d->io) {
		free(d);
		errno = ENODEV;
		return NULL;
	}
	d->id = ik_readl(d->io, FAKE_REG_ID);
	int ret = ik_request_irq(m, d->irq, fake_isr, d);
	if (!ret) {
		ret = iommu_device_register(&d->iommu, &fake_iommu_ops, m, d->name);
		if (ret)
			ik_free_irq(m, d->irq, fake_isr, d);
	}
	if (ret) {
		free(d);
		errno = -ret;
		return NULL;
	}
	event("bind:%s", desc->name);
	return &d->iommu;
}

static void fake_drv_remove(struct iommu_device *iommu)
{
	struct fake_drv *d = container_of(iommu, struct fake_drv, iommu);

	event("unbind:%s", d->name);
	iommu_device_unregister(iommu);
	ik_free_irq(d->m, d->irq, fake_isr, d);
	free(d);
}

static const struct ik_iommu_driver_type fake_driver_type = {
	.compatible = FAKE_COMPAT,
	.probe = fake_drv_probe,
	.remove = fake_drv_remove,
};

static struct fake_drv *fake_drv_of(struct device *dev)
{
	return container_of(dev->iommu, struct fake_drv, iommu);
}

/* --- a machine built on the fakes --- */

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (16ULL << 20)
#define MMU0_BASE 0x48000000ULL
#define MMU1_BASE 0x48001000ULL

static const struct ik_region_desc fake_regions[] = {
	{ .name = "dram", .base = RAM_BASE, .size = RAM_SIZE },
};

static const struct ik_iommu_desc fake_iommus[] = {
	{ "mmu0", FAKE_COMPAT, MMU0_BASE, 40, 8 },
	{ "mmu1", FAKE_COMPAT, MMU1_BASE, 41, 0 },
};

/* a and b share mmu0 and a source ID (one group); c is alone; d is direct. */
static const struct ik_master_desc fake_masters[] = {
	{ "a", "mmu0", 1 },
	{ "b", "mmu0", 1 },
	{ "c", "mmu1", 2 },
	{ "d", NULL, 0 },
};

static struct ik_machine_desc fake_desc(void)
{
	return (struct ik_machine_desc){
		.size = sizeof(struct ik_machine_desc),
		.name = "fakebox",
		.regions = fake_regions,
		.nr_regions = ARRAY_SIZE(fake_regions),
		.iommus = fake_iommus,
		.nr_iommus = ARRAY_SIZE(fake_iommus),
		.masters = fake_masters,
		.nr_masters = ARRAY_SIZE(fake_masters),
	};
}

static int setup_types(void **state)
{
	(void)state;
	reset_fakes();
	if (ik_hw_model_type_register(&fake_model_type) ||
	    ik_iommu_driver_type_register(&fake_driver_type))
		return -1;
	return 0;
}

static int teardown_types(void **state)
{
	(void)state;
	/* Succeeds only if no machine kept a reference: checks unwinding too. */
	int a = ik_hw_model_type_unregister(&fake_model_type);
	int b = ik_iommu_driver_type_unregister(&fake_driver_type);

	return a || b ? -1 : 0;
}

/* --- registries --- */

static struct ik_hw_iommu *null_create(struct ik_machine *m, const struct ik_iommu_desc *d)
{
	return NULL;
}

static struct iommu_device *null_probe(struct ik_machine *m, const struct ik_iommu_desc *d)
{
	return NULL;
}

static void null_remove(struct iommu_device *iommu)
{
}

static void test_registry(void **state)
{
	(void)state;
	struct ik_hw_model_type no_create = { .compatible = "x,y" };
	struct ik_hw_model_type no_compat = { .create = null_create };
	struct ik_hw_model_type dup = { .compatible = FAKE_COMPAT, .create = null_create };
	struct ik_iommu_driver_type omap_dup = { "ti,omap2-iommu", null_probe, null_remove };
	struct ik_iommu_driver_type no_remove = { "x,y", null_probe, NULL };

	assert_int_equal(ik_hw_model_type_register(NULL), -EINVAL);
	assert_int_equal(ik_hw_model_type_register(&no_create), -EINVAL);
	assert_int_equal(ik_hw_model_type_register(&no_compat), -EINVAL);
	assert_int_equal(ik_iommu_driver_type_register(NULL), -EINVAL);
	assert_int_equal(ik_iommu_driver_type_register(&no_remove), -EINVAL);
	/* A compatible string is taken once, by a built-in or a registered type. */
	assert_int_equal(ik_hw_model_type_register(&dup), -EEXIST);
	assert_int_equal(ik_hw_model_type_register(&fake_model_type), -EEXIST);
	assert_int_equal(ik_iommu_driver_type_register(&omap_dup), -EEXIST);
	assert_int_equal(ik_hw_model_type_unregister(&dup), -ENOENT);
	assert_int_equal(ik_hw_model_type_unregister(NULL), -EINVAL);

	/* The table is finite; unregistering frees slots. */
	static struct ik_hw_model_type many[IK_MAX_RUNTIME_TYPES];
	static char names[IK_MAX_RUNTIME_TYPES][16];
	int n = 0;
	for (; n < IK_MAX_RUNTIME_TYPES; n++) {
		snprintf(names[n], sizeof(names[n]), "t,%d", n);
		many[n] = (struct ik_hw_model_type){ .compatible = names[n],
						     .create = null_create };
		int ret = ik_hw_model_type_register(&many[n]);
		if (ret) {
			assert_int_equal(ret, -ENOSPC);
			break;
		}
	}
	/* fake_model_type holds one slot already. */
	assert_int_equal(n, IK_MAX_RUNTIME_TYPES - 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(ik_hw_model_type_unregister(&many[i]), 0);
	assert_int_equal(ik_hw_model_type_unregister(&many[0]), -ENOENT);

	/* A type in use cannot go. */
	struct ik_machine_desc d = fake_desc();
	struct ik_machine *m = ik_machine_create(&d);
	assert_non_null(m);
	assert_int_equal(ik_hw_model_type_unregister(&fake_model_type), -EBUSY);
	assert_int_equal(ik_iommu_driver_type_unregister(&fake_driver_type), -EBUSY);
	ik_machine_destroy(m);
}

/* --- description checks --- */

static void expect_reject(const struct ik_machine_desc *d, int err, const char *what)
{
	errno = 0;
	struct ik_machine *m = ik_machine_create(d);
	if (m) {
		ik_machine_destroy(m);
		fail_msg("accepted: %s", what);
	}
	if (errno != err)
		fail_msg("%s: errno %d, expected %d", what, errno, err);
	/* Nothing was built: not even the first model. */
	if (events[0])
		fail_msg("%s: built something: %s", what, events);
}

/* A two-region, two-IOMMU or two-master variant of the fake machine. */
static void region_case(const char *what, struct ik_region_desc r0, struct ik_region_desc r1)
{
	struct ik_region_desc r[2] = { r0, r1 };
	struct ik_machine_desc d = fake_desc();

	d.regions = r;
	d.nr_regions = 2;
	expect_reject(&d, EINVAL, what);
}

static void iommu_case(const char *what, int err, struct ik_iommu_desc i0,
		       struct ik_iommu_desc i1)
{
	struct ik_iommu_desc io[2] = { i0, i1 };
	struct ik_machine_desc d = fake_desc();

	d.iommus = io;
	d.masters = NULL;
	d.nr_masters = 0;
	expect_reject(&d, err, what);
}

static void master_case(const char *what, struct ik_master_desc m0, struct ik_master_desc m1)
{
	struct ik_master_desc ms[2] = { m0, m1 };
	struct ik_machine_desc d = fake_desc();

	d.masters = ms;
	d.nr_masters = 2;
	expect_reject(&d, EINVAL, what);
}

#define R(...)  ((struct ik_region_desc){ __VA_ARGS__ })
#define IO(...) ((struct ik_iommu_desc){ __VA_ARGS__ })
#define MS(...) ((struct ik_master_desc){ __VA_ARGS__ })

static void test_create_rejects_bad_descriptions(void **state)
{
	(void)state;
	struct ik_machine_desc d;
	const struct ik_region_desc r0 = { "r0", 0x80000000, 0x10000 };
	const struct ik_iommu_desc io0 = { "mmu0", FAKE_COMPAT, MMU0_BASE, 1, 0 };
	const struct ik_master_desc m0 = { "a", "mmu0", 0 };

	expect_reject(NULL, EINVAL, "NULL");
	d = fake_desc();
	d.size = offsetof(struct ik_machine_desc, nr_regions);
	expect_reject(&d, EINVAL, "size short of nr_regions");
	d = fake_desc();
	d.size = 1u << 20;
	expect_reject(&d, EINVAL, "absurd size");

	d = fake_desc();
	d.nr_regions = 0;
	expect_reject(&d, EINVAL, "no regions");
	d = fake_desc();
	d.regions = NULL;
	expect_reject(&d, EINVAL, "NULL regions");
	region_case("overlapping regions", r0, R("r1", 0x8000f000, 0x10000));
	region_case("misaligned base", r0, R("r1", 0x90000800, 0x10000));
	region_case("size not a page multiple", r0, R("r1", 0x90000000, 0x10001));
	region_case("empty region", r0, R("r1", 0x90000000, 0));
	region_case("duplicate region names", r0, R("r0", 0x90000000, 0x10000));
	region_case("unnamed region", r0, R(NULL, 0x90000000, 0x10000));
	region_case("empty region name", r0, R("", 0x90000000, 0x10000));
	region_case("region name too long", r0,
		    R("0123456789abcdef0123456789abcdef", 0x90000000, 0x10000));
	region_case("region wraps", r0, R("r1", 0xfffffffffffff000ULL, 0x2000));

	d = fake_desc();
	d.iommus = NULL;
	expect_reject(&d, EINVAL, "NULL iommus");
	iommu_case("unnamed IOMMU", EINVAL, io0, IO(NULL, FAKE_COMPAT, MMU1_BASE, 2, 0));
	iommu_case("duplicate IOMMU names", EINVAL, io0, IO("mmu0", FAKE_COMPAT, MMU1_BASE, 2, 0));
	iommu_case("no compatible", EINVAL, io0, IO("mmu1", NULL, MMU1_BASE, 2, 0));
	iommu_case("unknown compatible", ENODEV, io0, IO("mmu1", "acme,nothing", MMU1_BASE, 2, 0));
	iommu_case("unaligned registers", EINVAL, io0,
		   IO("mmu1", FAKE_COMPAT, MMU1_BASE + 2, 2, 0));
	/* The fake model maps 0x40 bytes: 0x20 apart overlaps. */
	iommu_case("overlapping windows", EINVAL, io0,
		   IO("mmu1", FAKE_COMPAT, MMU0_BASE + 0x20, 2, 0));
	iommu_case("registers in RAM", EINVAL, io0,
		   IO("mmu1", FAKE_COMPAT, RAM_BASE + 0x1000, 2, 0));
	iommu_case("window runs into RAM", EINVAL, io0,
		   IO("mmu1", FAKE_COMPAT, RAM_BASE - 0x20, 2, 0));

	d = fake_desc();
	d.masters = NULL;
	expect_reject(&d, EINVAL, "NULL masters");
	master_case("unnamed master", m0, MS(NULL, "mmu0", 1));
	master_case("duplicate master names", m0, MS("a", "mmu1", 1));
	master_case("master behind an unknown IOMMU", m0, MS("b", "mmu9", 1));
	master_case("master name too long", m0, MS("0123456789abcdef0123456789abcdef", NULL, 1));
}

/* A caller built against an older, shorter struct: fields past its size are not read. */
static void test_create_honours_desc_size(void **state)
{
	(void)state;
	struct ik_machine_desc d = fake_desc();

	d.size = offsetof(struct ik_machine_desc, nr_regions) + sizeof(d.nr_regions);
	d.iommus = (const struct ik_iommu_desc *)(uintptr_t)8; /* would crash if read */
	d.nr_iommus = 5;
	d.masters = (const struct ik_master_desc *)(uintptr_t)8;
	d.nr_masters = 7;
	struct ik_machine *m = ik_machine_create(&d);
	assert_non_null(m);
	assert_int_equal(ik_machine_nr_iommus(m), 0);
	assert_null(ik_machine_device_at(m, 0));
	assert_string_equal(events, "");
	ik_machine_destroy(m);

	/* A newer caller's extra fields are accepted only when unset. */
	struct {
		struct ik_machine_desc d;
		uint64_t future[2];
	} big = { fake_desc(), { 0, 0 } };
	big.d.size = sizeof(big);
	m = ik_machine_create(&big.d);
	assert_non_null(m);
	ik_machine_destroy(m);
	reset_fakes();
	big.future[1] = 1;
	expect_reject(&big.d, EINVAL, "unknown field set");
}

/* --- bring-up and teardown --- */

static int group_id_of(struct device *dev)
{
	struct iommu_group *g = ik_iommu_group_get(dev);
	int id = g ? ik_iommu_group_id(g) : -1;

	ik_iommu_group_put(g);
	return id;
}

static void test_lifecycle(void **state)
{
	(void)state;
	struct ik_machine_desc d = fake_desc();
	struct ik_machine *m = ik_machine_create(&d);

	assert_non_null(m);
	/* Model then driver per IOMMU, then the core probes masters behind one. */
	assert_string_equal(events, "create:mmu0 bind:mmu0 create:mmu1 bind:mmu1 "
				    "probe:a probe:b probe:c");

	assert_string_equal(ik_machine_name(m), "fakebox");
	assert_int_equal(ik_machine_nr_iommus(m), 2);
	assert_string_equal(ik_machine_iommu_name(m, 0), "mmu0");
	assert_string_equal(ik_machine_iommu_name(m, 1), "mmu1");
	assert_null(ik_machine_iommu_name(m, 2));

	struct bus_type *bus = ik_machine_bus(m);
	assert_non_null(bus);
	assert_string_equal(bus->name, "platform");
	assert_ptr_equal(bus->machine, m);
	unsigned int nr_bus_iommus = 0;
	struct iommu_device *iommu;
	list_for_each_entry(iommu, &bus->iommus, node)
		nr_bus_iommus++;
	assert_int_equal(nr_bus_iommus, 2);
	assert_non_null(ik_machine_mem(m));
	assert_int_equal(ik_mem_free_count(ik_machine_mem(m)), RAM_SIZE / IK_PAGE_SIZE);

	const char *names[] = { "a", "b", "c", "d" };
	const char *mmus[] = { "mmu0", "mmu0", "mmu1", NULL };
	const uint32_t sids[] = { 1, 1, 2, 0 };
	for (unsigned int i = 0; i < 4; i++) {
		struct device *dev = ik_machine_device(m, names[i]);
		assert_non_null(dev);
		assert_ptr_equal(ik_machine_device_at(m, i), dev);
		assert_string_equal(ik_device_name(dev), names[i]);
		assert_int_equal(ik_device_sid(dev), sids[i]);
		assert_ptr_equal(ik_device_machine(dev), m);
		assert_ptr_equal(dev->bus, bus);
		assert_int_equal(dev->nr_sids, 1);
		if (mmus[i]) {
			assert_string_equal(ik_device_iommu_name(dev), mmus[i]);
			assert_string_equal(dev->hw_iommu->name, mmus[i]);
			assert_string_equal(fake_drv_of(dev)->name, mmus[i]);
			/* The driver saw the model's ID register through its window. */
			assert_int_equal(fake_drv_of(dev)->id,
					 FAKE_ID_BASE | (i < 2 ? 8u : 4u));
			assert_true(ik_device_iommu_mapped(dev));
		} else {
			assert_null(ik_device_iommu_name(dev));
			assert_null(dev->hw_iommu);
			assert_null(dev->iommu);
			assert_false(ik_device_iommu_mapped(dev));
		}
	}
	assert_null(ik_machine_device(m, "e"));
	assert_null(ik_machine_device(m, NULL));
	assert_null(ik_machine_device_at(m, 4));

	/* a and b share a source ID behind mmu0: one group. c has its own; d none. */
	int ga = group_id_of(ik_machine_device(m, "a"));
	int gb = group_id_of(ik_machine_device(m, "b"));
	int gc = group_id_of(ik_machine_device(m, "c"));
	assert_true(ga >= 0 && gc >= 0);
	assert_int_equal(ga, gb);
	assert_int_not_equal(ga, gc);
	errno = 0;
	assert_null(ik_iommu_group_get(ik_machine_device(m, "d")));

	events[0] = 0;
	ik_machine_destroy(m);
	/* Reverse order: devices, then drivers, then the hardware. */
	assert_string_equal(events, "release:c release:b release:a unbind:mmu1 unbind:mmu0 "
				    "destroy:mmu1 destroy:mmu0");
	ik_machine_destroy(NULL);
}

static void test_lookups_reject_null(void **state)
{
	(void)state;
	assert_null(ik_machine_mem(NULL));
	assert_null(ik_machine_bus(NULL));
	assert_null(ik_machine_name(NULL));
	assert_null(ik_machine_device(NULL, "a"));
	assert_null(ik_machine_device_at(NULL, 0));
	assert_null(ik_device_name(NULL));
	assert_int_equal(ik_device_sid(NULL), 0);
	assert_null(ik_device_iommu_name(NULL));
	assert_null(ik_device_machine(NULL));
	assert_int_equal(ik_machine_nr_iommus(NULL), 0);
	assert_null(ik_machine_iommu_name(NULL, 0));
}

/*
 * A failure at any step of bring-up undoes exactly the steps before it
 * (ASan checks that nothing leaks; teardown_types that no type reference
 * is kept) and reports that step's error.
 */
static void test_create_unwinds(void **state)
{
	(void)state;
	static const struct {
		int model_at, driver_at;
		const char *dev;
		int err;
		const char *log;
	} cases[] = {
		{ 0, -1, NULL, EIO, "create-fail:mmu0" },
		{ -1, 0, NULL, EPERM, "create:mmu0 bind-fail:mmu0 destroy:mmu0" },
		{ 1, -1, NULL, EIO,
		  "create:mmu0 bind:mmu0 create-fail:mmu1 unbind:mmu0 destroy:mmu0" },
		{ -1, 1, NULL, EPERM,
		  "create:mmu0 bind:mmu0 create:mmu1 bind-fail:mmu1 unbind:mmu0 destroy:mmu1 "
		  "destroy:mmu0" },
		{ -1, -1, "a", EACCES,
		  "create:mmu0 bind:mmu0 create:mmu1 bind:mmu1 probe-fail:a unbind:mmu1 "
		  "unbind:mmu0 destroy:mmu1 destroy:mmu0" },
		{ -1, -1, "c", EACCES,
		  "create:mmu0 bind:mmu0 create:mmu1 bind:mmu1 probe:a probe:b probe-fail:c "
		  "release:b release:a unbind:mmu1 unbind:mmu0 destroy:mmu1 destroy:mmu0" },
	};
	struct ik_machine_desc d = fake_desc();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reset_fakes();
		fail_model_at = cases[i].model_at;
		fail_driver_at = cases[i].driver_at;
		fail_probe_dev = cases[i].dev;
		errno = 0;
		assert_null(ik_machine_create(&d));
		assert_int_equal(errno, cases[i].err);
		if (strcmp(events, cases[i].log))
			fail_msg("case %zu:\n got  %s\n want %s", i, events, cases[i].log);
	}
}

/*
 * A model type that does not declare its window size: the description
 * check sees only the bases, so a collision shows when the second model
 * maps its window (-EBUSY), and bring-up unwinds.
 */
static void test_create_unwinds_on_window_collision(void **state)
{
	(void)state;
	const struct ik_hw_model_type unsized = { "test,unsized", fake_create, 0 };
	const struct ik_iommu_driver_type unsized_drv = { "test,unsized", fake_drv_probe,
							  fake_drv_remove };
	const struct ik_iommu_desc io[2] = {
		{ "mmu0", "test,unsized", MMU0_BASE, 1, 0 },
		{ "mmu1", "test,unsized", MMU0_BASE + 0x20, 2, 0 },
	};
	struct ik_machine_desc d = fake_desc();

	assert_int_equal(ik_hw_model_type_register(&unsized), 0);
	assert_int_equal(ik_iommu_driver_type_register(&unsized_drv), 0);
	d.iommus = io;
	d.masters = NULL;
	d.nr_masters = 0;
	errno = 0;
	assert_null(ik_machine_create(&d));
	assert_int_equal(errno, EBUSY);
	assert_string_equal(events, "create:mmu0 bind:mmu0 unbind:mmu0 destroy:mmu0");
	assert_int_equal(ik_hw_model_type_unregister(&unsized), 0);
	assert_int_equal(ik_iommu_driver_type_unregister(&unsized_drv), 0);
}

/* --- MMIO --- */

static uint32_t rd_only(void *o, uint32_t off)
{
	return 0xabcd0000u | off;
}

static void wr_ignore(void *o, uint32_t off, uint32_t v)
{
}

static const struct ik_mmio_ops plain_ops = { .read32 = rd_only, .write32 = wr_ignore };
static const struct ik_mmio_ops no_write_ops = { .read32 = rd_only, .write32 = NULL };

static void test_mmio(void **state)
{
	(void)state;
	struct ik_machine_desc d = fake_desc();
	struct ik_machine *m = ik_machine_create(&d);
	uint32_t v = 0;

	assert_non_null(m);
	/* Registers at physical addresses decode to the model behind them. */
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE + FAKE_REG_ID, &v), 0);
	assert_int_equal(v, FAKE_ID_BASE | 8);
	assert_int_equal(ik_machine_mmio_read32(m, MMU1_BASE + FAKE_REG_ID, &v), 0);
	assert_int_equal(v, FAKE_ID_BASE | 4);
	assert_int_equal(ik_machine_mmio_write32(m, MMU1_BASE + FAKE_REG_SCRATCH, 0x12345678), 0);
	assert_int_equal(ik_machine_mmio_read32(m, MMU1_BASE + FAKE_REG_SCRATCH, &v), 0);
	assert_int_equal(v, 0x12345678);
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE + FAKE_REG_SCRATCH, &v), 0);
	assert_int_equal(v, 0); /* the other instance's register is its own */

	/* Unaligned, undecoded, just past a window, in RAM, NULL. */
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE + 2, &v), -EINVAL);
	assert_int_equal(ik_machine_mmio_write32(m, MMU0_BASE + 1, 0), -EINVAL);
	assert_int_equal(ik_machine_mmio_read32(m, 0x10000000, &v), -ENXIO);
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE + FAKE_WINDOW, &v), -ENXIO);
	assert_int_equal(ik_machine_mmio_write32(m, MMU0_BASE + FAKE_WINDOW, 0), -ENXIO);
	assert_int_equal(ik_machine_mmio_read32(m, RAM_BASE, &v), -ENXIO);
	assert_int_equal(ik_machine_mmio_read32(NULL, MMU0_BASE, &v), -EINVAL);
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE, NULL), -EINVAL);
	assert_int_equal(ik_machine_mmio_write32(NULL, MMU0_BASE, 0), -EINVAL);

	/* Adding windows. */
	assert_int_equal(ik_machine_add_mmio(m, MMU0_BASE + 0x3c, 8, &plain_ops, NULL), -EBUSY);
	assert_int_equal(ik_machine_add_mmio(m, MMU0_BASE - 4, 8, &plain_ops, NULL), -EBUSY);
	assert_int_equal(ik_machine_add_mmio(m, RAM_BASE + RAM_SIZE - 4, 8, &plain_ops, NULL),
			 -EBUSY);
	assert_int_equal(ik_machine_add_mmio(m, 0x50000002, 8, &plain_ops, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(m, 0x50000000, 6, &plain_ops, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(m, 0x50000000, 0, &plain_ops, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(m, 0x50000000, 8, NULL, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(m, 0x50000000, 8, &no_write_ops, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(m, UINT64_MAX - 3, 8, &plain_ops, NULL), -EINVAL);
	assert_int_equal(ik_machine_add_mmio(NULL, 0x50000000, 8, &plain_ops, NULL), -EINVAL);
	/* Right after another window: fine. */
	assert_int_equal(ik_machine_add_mmio(m, MMU0_BASE + FAKE_WINDOW, 0x100, &plain_ops, NULL),
			 0);
	assert_int_equal(ik_machine_mmio_read32(m, MMU0_BASE + FAKE_WINDOW + 0x18, &v), 0);
	assert_int_equal(v, 0xabcd0018);
	/* An access straddling two windows is unaligned anyway; 4 aligned bytes never do. */

	/* ioremap: the window itself, a view of part of it, or nothing. */
	struct device *a = ik_machine_device(m, "a");
	const struct ik_mmio *w = ik_ioremap(m, MMU0_BASE, FAKE_WINDOW);
	assert_ptr_equal(w, fake_drv_of(a)->io);
	assert_int_equal(w->base, MMU0_BASE);
	assert_int_equal(w->size, FAKE_WINDOW);
	assert_ptr_equal(ik_ioremap(m, MMU0_BASE, 4), w);
	const struct ik_mmio *view = ik_ioremap(m, MMU0_BASE + FAKE_REG_SCRATCH, 8);
	assert_non_null(view);
	assert_ptr_not_equal(view, w);
	assert_int_equal(view->base, MMU0_BASE + FAKE_REG_SCRATCH);
	ik_writel(view, 0, 0xcafe); /* offset 0 of the view is SCRATCH */
	assert_int_equal(ik_readl(w, FAKE_REG_SCRATCH), 0xcafe);
	assert_int_equal(ik_readl(view, 0), 0xcafe);
	assert_ptr_equal(ik_ioremap(m, MMU0_BASE + FAKE_REG_SCRATCH, 8), view);
	assert_null(ik_ioremap(m, MMU0_BASE + 0x20, FAKE_WINDOW)); /* runs past the end */
	assert_null(ik_ioremap(m, 0x10000000, 4));
	assert_null(ik_ioremap(m, MMU0_BASE, 0));
	assert_null(ik_ioremap(NULL, MMU0_BASE, 4));
	ik_machine_destroy(m);
}

/* --- interrupts --- */

struct irq_probe {
	struct ik_machine *m;
	char log[256];
	unsigned int calls;
};

static void irq_note(struct irq_probe *p, const char *what)
{
	size_t len = strlen(p->log);

	snprintf(p->log + len, sizeof(p->log) - len, "%s%s", len ? " " : "", what);
	p->calls++;
}

static void h1(unsigned int irq, void *arg) { irq_note(arg, "h1"); }
static void h2(unsigned int irq, void *arg) { irq_note(arg, "h2"); }
static void h3(unsigned int irq, void *arg) { irq_note(arg, "h3"); }

static void h_free_self(unsigned int irq, void *arg)
{
	struct irq_probe *p = arg;

	irq_note(p, "self");
	ik_free_irq(p->m, irq, h_free_self, p);
}

static void h_free_h2(unsigned int irq, void *arg)
{
	struct irq_probe *p = arg;

	irq_note(p, "kill");
	ik_free_irq(p->m, irq, h2, p);
}

static void h_add_h3(unsigned int irq, void *arg)
{
	struct irq_probe *p = arg;

	irq_note(p, "add");
	if (ik_request_irq(p->m, irq, h3, p))
		irq_note(p, "add-failed");
}

static void h_raise_other(unsigned int irq, void *arg)
{
	struct irq_probe *p = arg;

	irq_note(p, "outer");
	ik_irq_raise(p->m, irq + 1); /* a nested raise of another line */
}

static struct ik_machine *ram_only_machine(void)
{
	struct ik_machine_desc d = fake_desc();

	d.iommus = NULL;
	d.nr_iommus = 0;
	d.masters = NULL;
	d.nr_masters = 0;
	return ik_machine_create(&d);
}

static void test_irq_shared_lines(void **state)
{
	(void)state;
	struct ik_machine *m = ram_only_machine();
	struct irq_probe p = { .m = m };
	struct irq_probe q = { .m = m };

	assert_non_null(m);
	assert_int_equal(ik_request_irq(m, 7, h1, &p), 0);
	assert_int_equal(ik_request_irq(m, 7, h2, &p), 0);
	assert_int_equal(ik_request_irq(m, 7, h1, &q), 0); /* same function, other argument */
	assert_int_equal(ik_request_irq(m, 8, h3, &p), 0);
	assert_int_equal(ik_request_irq(m, 7, h1, &p), -EEXIST);
	assert_int_equal(ik_request_irq(m, 7, NULL, &p), -EINVAL);
	assert_int_equal(ik_request_irq(NULL, 7, h1, &p), -EINVAL);

	ik_irq_raise(m, 7);
	assert_string_equal(p.log, "h1 h2"); /* registration order */
	assert_string_equal(q.log, "h1");
	ik_irq_raise(m, 9); /* nobody listens */
	ik_irq_raise(NULL, 7);
	ik_irq_raise(m, 8);
	assert_string_equal(p.log, "h1 h2 h3");

	ik_free_irq(m, 7, h1, &p);
	p.log[0] = q.log[0] = 0;
	ik_irq_raise(m, 7);
	assert_string_equal(p.log, "h2");
	assert_string_equal(q.log, "h1");

	/* Freeing what is not registered is reported, and changes nothing. */
	struct ik_log_capture cap;
	ik_test_log_capture_start(&cap);
	ik_free_irq(m, 7, h1, &p);
	ik_free_irq(m, 8, h2, &p);
	ik_test_log_capture_stop();
	assert_int_equal(cap.count, 2);
	ik_free_irq(NULL, 7, h1, &p);
	p.log[0] = 0;
	ik_irq_raise(m, 7);
	ik_irq_raise(m, 8);
	assert_string_equal(p.log, "h2 h3");
	ik_machine_destroy(m); /* frees the handlers still registered */
}

static void test_irq_handlers_edit_the_line(void **state)
{
	(void)state;
	struct ik_machine *m = ram_only_machine();
	struct irq_probe p = { .m = m };

	assert_non_null(m);
	/* A handler that frees itself runs once. */
	assert_int_equal(ik_request_irq(m, 1, h_free_self, &p), 0);
	assert_int_equal(ik_request_irq(m, 1, h1, &p), 0);
	ik_irq_raise(m, 1);
	ik_irq_raise(m, 1);
	assert_string_equal(p.log, "self h1 h1");
	ik_free_irq(m, 1, h1, &p);

	/* A handler that frees a later one: that one does not run. */
	p.log[0] = 0;
	assert_int_equal(ik_request_irq(m, 2, h_free_h2, &p), 0);
	assert_int_equal(ik_request_irq(m, 2, h2, &p), 0);
	ik_irq_raise(m, 2);
	assert_string_equal(p.log, "kill");
	ik_free_irq(m, 2, h_free_h2, &p);

	/* A handler added during a raise first runs on the next one. */
	p.log[0] = 0;
	assert_int_equal(ik_request_irq(m, 3, h_add_h3, &p), 0);
	ik_irq_raise(m, 3);
	assert_string_equal(p.log, "add");
	ik_free_irq(m, 3, h_add_h3, &p);
	ik_irq_raise(m, 3);
	assert_string_equal(p.log, "add h3");
	ik_free_irq(m, 3, h3, &p);

	/* Raising from a handler. */
	p.log[0] = 0;
	assert_int_equal(ik_request_irq(m, 4, h_raise_other, &p), 0);
	assert_int_equal(ik_request_irq(m, 5, h1, &p), 0);
	ik_irq_raise(m, 4);
	assert_string_equal(p.log, "outer h1");
	ik_machine_destroy(m);
}

/* More handlers on a line than the raise's on-stack snapshot holds. */
static void count_call(unsigned int irq, void *arg)
{
	(*(unsigned int *)arg)++;
}

static void test_irq_many_handlers(void **state)
{
	(void)state;
	struct ik_machine *m = ram_only_machine();
	unsigned int counts[40] = { 0 };

	assert_non_null(m);
	for (int i = 0; i < 40; i++)
		assert_int_equal(ik_request_irq(m, 11, count_call, &counts[i]), 0);
	ik_irq_raise(m, 11);
	ik_irq_raise(m, 11);
	for (int i = 0; i < 40; i++)
		assert_int_equal(counts[i], 2);
	for (int i = 0; i < 40; i += 2)
		ik_free_irq(m, 11, count_call, &counts[i]);
	ik_irq_raise(m, 11);
	for (int i = 0; i < 40; i++)
		assert_int_equal(counts[i], 2 + (i % 2));
	ik_machine_destroy(m);
}

/* The fake model raises its line when its RAISE register is written. */
static void test_irq_from_model(void **state)
{
	(void)state;
	struct ik_machine_desc d = fake_desc();
	struct ik_machine *m = ik_machine_create(&d);

	assert_non_null(m);
	struct fake_drv *d0 = fake_drv_of(ik_machine_device(m, "a"));
	struct fake_drv *d1 = fake_drv_of(ik_machine_device(m, "c"));
	assert_int_equal(ik_machine_mmio_write32(m, MMU0_BASE + FAKE_REG_RAISE, 1), 0);
	assert_int_equal(d0->irqs_seen, 1);
	assert_int_equal(d1->irqs_seen, 0);
	ik_irq_raise(m, 41);
	assert_int_equal(d1->irqs_seen, 1);
	ik_machine_destroy(m);
}

/* ik_free_irq() waits for a call running on another thread. */
struct slow_irq {
	struct ik_machine *m;
	int entered, release, finished, free_returned, finished_at_free_return;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void slow_handler(unsigned int irq, void *arg)
{
	struct slow_irq *s = arg;

	__atomic_store_n(&s->entered, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&s->release, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	__atomic_store_n(&s->finished, 1, __ATOMIC_SEQ_CST);
}

static void *raiser(void *arg)
{
	struct slow_irq *s = arg;

	ik_irq_raise(s->m, 12);
	return NULL;
}

static void *freer(void *arg)
{
	struct slow_irq *s = arg;

	ik_free_irq(s->m, 12, slow_handler, s);
	__atomic_store_n(&s->finished_at_free_return,
			 __atomic_load_n(&s->finished, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->free_returned, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_irq_free_waits_for_running_handler(void **state)
{
	(void)state;
	struct slow_irq s = { .m = ram_only_machine() };
	pthread_t tr, tf;

	assert_non_null(s.m);
	assert_int_equal(ik_request_irq(s.m, 12, slow_handler, &s), 0);
	assert_int_equal(pthread_create(&tr, NULL, raiser, &s), 0);
	while (!__atomic_load_n(&s.entered, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	assert_int_equal(pthread_create(&tf, NULL, freer, &s), 0);
	sleep_ms(50);
	/* The handler is still running: ik_free_irq() has not returned. */
	assert_int_equal(__atomic_load_n(&s.free_returned, __ATOMIC_SEQ_CST), 0);
	__atomic_store_n(&s.release, 1, __ATOMIC_SEQ_CST);
	pthread_join(tr, NULL);
	pthread_join(tf, NULL);
	assert_int_equal(s.free_returned, 1);
	assert_int_equal(s.finished_at_free_return, 1);
	/* Gone: a new raise calls nothing. */
	s.entered = 0;
	ik_irq_raise(s.m, 12);
	assert_int_equal(s.entered, 0);
	ik_machine_destroy(s.m);
}

/* Raises and handler churn on two threads (for TSan/ASan). */
struct churn {
	struct ik_machine *m;
	unsigned int counter;
	int stop;
};

static void churn_handler(unsigned int irq, void *arg)
{
	__atomic_fetch_add(&((struct churn *)arg)->counter, 1, __ATOMIC_RELAXED);
}

static void *churn_raiser(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST))
		ik_irq_raise(c->m, 13);
	return NULL;
}

static void test_irq_concurrent_request_free(void **state)
{
	(void)state;
	struct churn c = { .m = ram_only_machine() };
	struct churn *mine = malloc(sizeof(*mine));
	pthread_t t;

	assert_non_null(c.m);
	assert_non_null(mine);
	*mine = (struct churn){ .m = c.m };
	assert_int_equal(ik_request_irq(c.m, 13, churn_handler, &c), 0);
	assert_int_equal(pthread_create(&t, NULL, churn_raiser, &c), 0);
	while (!__atomic_load_n(&c.counter, __ATOMIC_RELAXED))
		sleep_ms(1); /* the raiser is running */
	for (int i = 0; i < 2000; i++) {
		/* After ik_free_irq() returns, the argument may be freed and reused. */
		assert_int_equal(ik_request_irq(c.m, 13, churn_handler, mine), 0);
		ik_free_irq(c.m, 13, churn_handler, mine);
		free(mine);
		mine = malloc(sizeof(*mine));
		assert_non_null(mine);
		*mine = (struct churn){ .m = c.m };
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	free(mine);
	ik_machine_destroy(c.m);
}

/* --- looking inside the models --- */

static void test_model_dispatch(void **state)
{
	(void)state;
	struct ik_machine_desc d = fake_desc();
	struct ik_machine *m = ik_machine_create(&d);
	struct ik_iommu_hw_stats st;
	phys_addr_t pa = 0;
	int prot = 0;

	assert_non_null(m);
	struct device *c = ik_machine_device(m, "c");
	struct ik_hw_xlate x;
	for (int i = 0; i < 3; i++)
		assert_int_equal(c->hw_iommu->ops->translate(c->hw_iommu, 2, 0x1000, false, 0, &x),
				 0);
	assert_int_equal(ik_machine_iommu_stats(m, "mmu1", &st), 0);
	assert_int_equal(st.accesses, 3);
	assert_int_equal(ik_machine_iommu_stats(m, "mmu0", &st), 0);
	assert_int_equal(st.accesses, 0);
	assert_int_equal(ik_machine_iommu_reset_stats(m, "mmu1"), 0);
	assert_int_equal(ik_machine_iommu_stats(m, "mmu1", &st), 0);
	assert_int_equal(st.accesses, 0);

	assert_int_equal(ik_machine_iommu_walk(m, "mmu1", 2, 0x5000, &pa, &prot), 0);
	assert_int_equal(pa, 0x5000 + FAKE_OFFSET + 2);
	assert_int_equal(prot, IOMMU_READ | IOMMU_WRITE);
	assert_int_equal(ik_machine_iommu_walk(m, "mmu1", 2, 0x100000000ULL, &pa, &prot), -ENOENT);

	struct fake_hw *f = container_of(c->hw_iommu, struct fake_hw, hw);
	assert_int_equal(ik_machine_iommu_power(m, "mmu1", false), 0);
	assert_false(f->powered);
	assert_int_equal(ik_machine_iommu_power(m, "mmu1", true), 0);
	assert_true(f->powered);
	assert_int_equal(f->power_calls, 2);

	/* Unknown instance, NULL arguments. */
	assert_int_equal(ik_machine_iommu_stats(m, "mmu7", &st), -ENODEV);
	assert_int_equal(ik_machine_iommu_reset_stats(m, "mmu7"), -ENODEV);
	assert_int_equal(ik_machine_iommu_walk(m, "mmu7", 0, 0, &pa, &prot), -ENODEV);
	assert_int_equal(ik_machine_iommu_power(m, "mmu7", true), -ENODEV);
	assert_int_equal(ik_machine_iommu_stats(m, "mmu1", NULL), -EINVAL);
	assert_int_equal(ik_machine_iommu_stats(m, NULL, &st), -EINVAL);
	assert_int_equal(ik_machine_iommu_stats(NULL, "mmu1", &st), -EINVAL);
	assert_int_equal(ik_machine_iommu_reset_stats(NULL, "mmu1"), -EINVAL);
	assert_int_equal(ik_machine_iommu_walk(m, "mmu1", 0, 0, NULL, &prot), -EINVAL);
	assert_int_equal(ik_machine_iommu_walk(m, "mmu1", 0, 0, &pa, NULL), -EINVAL);
	assert_int_equal(ik_machine_iommu_power(NULL, "mmu1", true), -EINVAL);
	assert_int_equal(f->power_calls, 2);
	ik_machine_destroy(m);
}

/* --- built-in machines --- */

/*
 * Expected values come from the OMAP3 documentation, not from our table:
 * SDRAM (SDRC CS0) at 0x80000000 (OMAP36xx TRM SWPU177N 2.2); camera MMU
 * at 0x480bd400, IRQ 24, 8 TLB entries; IVA2.2 MMU at 0x5d000000, IRQ 28,
 * 32 TLB entries (Linux arch/arm/mach-omap2/omap-iommu.c; TRM table 15-7).
 */
static void test_builtin_omap3_description(void **state)
{
	(void)state;
	const struct ik_machine_desc *d = ik_machine_desc_builtin(NULL);

	assert_non_null(d);
	assert_ptr_equal(ik_machine_desc_builtin("omap3"), d);
	assert_int_equal(d->size, sizeof(struct ik_machine_desc));
	assert_string_equal(d->name, "omap3");

	assert_int_equal(d->nr_regions, 1);
	assert_string_equal(d->regions[0].name, "dram");
	assert_int_equal(d->regions[0].base, 0x80000000ULL);
	assert_int_equal(d->regions[0].size, 512ULL << 20);

	assert_int_equal(d->nr_iommus, 2);
	assert_string_equal(d->iommus[0].name, "isp-mmu");
	assert_string_equal(d->iommus[0].compatible, "ti,omap2-iommu");
	assert_int_equal(d->iommus[0].mmio_base, 0x480bd400ULL);
	assert_int_equal(d->iommus[0].irq, 24);
	assert_int_equal(d->iommus[0].tlb_entries, 8);
	assert_string_equal(d->iommus[1].name, "iva-mmu");
	assert_string_equal(d->iommus[1].compatible, "ti,omap2-iommu");
	assert_int_equal(d->iommus[1].mmio_base, 0x5d000000ULL);
	assert_int_equal(d->iommus[1].irq, 28);
	assert_int_equal(d->iommus[1].tlb_entries, 32);

	assert_int_equal(d->nr_masters, 3);
	assert_string_equal(d->masters[0].name, "isp");
	assert_string_equal(d->masters[0].iommu, "isp-mmu");
	assert_int_equal(d->masters[0].sid, 0);
	assert_string_equal(d->masters[1].name, "iva");
	assert_string_equal(d->masters[1].iommu, "iva-mmu");
	assert_int_equal(d->masters[1].sid, 0);
	assert_string_equal(d->masters[2].name, "sdma");
	assert_null(d->masters[2].iommu);

	errno = 0;
	assert_null(ik_machine_desc_builtin("omap4"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(ik_machine_desc_builtin(""));
	assert_int_equal(errno, ENOENT);
}

static void test_default_machine(void **state)
{
	(void)state;
	struct ik_machine *m = ik_machine_create_default();

	assert_non_null(m);
	assert_string_equal(ik_machine_name(m), "omap3");
	assert_int_equal(ik_machine_nr_iommus(m), 2);
	assert_string_equal(ik_machine_iommu_name(m, 0), "isp-mmu");
	assert_string_equal(ik_machine_iommu_name(m, 1), "iva-mmu");

	struct device *isp = ik_machine_device(m, "isp");
	struct device *iva = ik_machine_device(m, "iva");
	struct device *sdma = ik_machine_device(m, "sdma");
	assert_non_null(isp);
	assert_non_null(iva);
	assert_non_null(sdma);
	assert_ptr_equal(ik_machine_device_at(m, 0), isp);
	assert_ptr_equal(ik_machine_device_at(m, 2), sdma);
	assert_null(ik_machine_device_at(m, 3));
	assert_string_equal(ik_device_iommu_name(isp), "isp-mmu");
	assert_string_equal(ik_device_iommu_name(iva), "iva-mmu");
	assert_null(ik_device_iommu_name(sdma));
	assert_true(ik_device_iommu_mapped(isp));
	assert_true(ik_device_iommu_mapped(iva));
	assert_false(ik_device_iommu_mapped(sdma));

	/* One group per MMU; none for the system DMA. */
	int gi = group_id_of(isp), gv = group_id_of(iva);
	assert_true(gi >= 0 && gv >= 0);
	assert_int_not_equal(gi, gv);
	assert_int_equal(group_id_of(sdma), -1);

	/* The MMUs answer at their documented addresses: REVISION reads 0x11
	 * on OMAP3 (omap-mmu-regs.h), in 512 MiB of RAM at 0x80000000. */
	uint32_t rev = 0;
	assert_int_equal(ik_machine_mmio_read32(m, 0x480bd400 + OMAP_MMU_REVISION, &rev), 0);
	assert_int_equal(rev, OMAP_MMU_REVISION_OMAP3);
	assert_int_equal(ik_machine_mmio_read32(m, 0x5d000000 + OMAP_MMU_REVISION, &rev), 0);
	assert_int_equal(rev, OMAP_MMU_REVISION_OMAP3);
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), 0x80000000, 0, 1), 0);
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), 0x80000000 + (512u << 20) - 1, 0, 1), 0);
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), 0x80000000 + (512u << 20), 0, 1),
			 -EFAULT);

	struct ik_iommu_hw_stats st;
	assert_int_equal(ik_machine_iommu_stats(m, "isp-mmu", &st), 0);
	assert_int_equal(ik_machine_iommu_stats(m, "iva-mmu", &st), 0);

	/* The system DMA master sees physical addresses. */
	uint32_t word = 0x600df00d, back = 0;
	assert_int_equal(ik_dma_write(sdma, 0x80001000, &word, 4), 0);
	assert_int_equal(ik_mem_read(ik_machine_mem(m), 0x80001000, &back, 4), 0);
	assert_int_equal(back, word);
	ik_machine_destroy(m);
}

/* The OMAP model declares its register window, so collisions are caught up front. */
static void test_omap_windows_checked(void **state)
{
	(void)state;
	const struct ik_machine_desc *def = ik_machine_desc_builtin(NULL);
	struct ik_iommu_desc io[2] = { def->iommus[0], def->iommus[1] };
	struct ik_machine_desc d = *def;

	d.iommus = io;
	io[1].mmio_base = io[0].mmio_base + 0x80; /* inside isp-mmu's register window */
	expect_reject(&d, EINVAL, "OMAP windows overlap");
	io[1] = def->iommus[1];
	io[0].mmio_base = def->regions[0].base + def->regions[0].size - 0x40; /* end of DRAM */
	expect_reject(&d, EINVAL, "OMAP window in RAM");
	io[0] = def->iommus[0];
	struct ik_machine *m = ik_machine_create(&d);
	assert_non_null(m);
	ik_machine_destroy(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_types, teardown_types)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_registry),
		T(test_create_rejects_bad_descriptions),
		T(test_create_honours_desc_size),
		T(test_lifecycle),
		T(test_lookups_reject_null),
		T(test_create_unwinds),
		T(test_create_unwinds_on_window_collision),
		T(test_mmio),
		T(test_irq_shared_lines),
		T(test_irq_handlers_edit_the_line),
		T(test_irq_many_handlers),
		T(test_irq_from_model),
		T(test_irq_free_waits_for_running_handler),
		T(test_irq_concurrent_request_free),
		T(test_model_dispatch),
		T(test_builtin_omap3_description),
		T(test_default_machine),
		T(test_omap_windows_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
