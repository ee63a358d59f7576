// SPDX-License-Identifier: MIT
/*
 * DMA masters (src/hw/dma_master.c): accesses through an IOMMU are
 * translated page by page, every page before any byte moves; a fault,
 * a model error or a bus error aborts the whole access untouched.
 *
 * The IOMMU here is a test double: a model that maps each page of size
 * PS (its page size, settable) to its neighbour, IOVA page n to physical
 * page n ^ 1 above RAM_BASE, so that pieces of one access land apart and
 * a wrong chunk boundary shows up as misplaced bytes. Ranges can be set
 * to fault, to fail with -EIO or another error, or to translate outside
 * RAM. It records every translation asked for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include "ik/machine.h"

#define RAM_BASE  0x80000000ULL
#define RAM_SIZE  (8ULL << 20)
#define RAM2_BASE (RAM_BASE + RAM_SIZE) /* adjacent to the first region */
#define RAM2_SIZE (4ULL << 20)
#define FAR_BASE  0x100000000ULL
#define FAR_SIZE  (1ULL << 20)
#define XLATE_IRQ 33

/* IOVAs at or above this translate to a physical address outside RAM. */
#define BUS_ERROR_IOVA 0x400000ULL

struct xlate_rec {
	dma_addr_t addr;
	bool write;
	unsigned int attrs;
};

struct fake_mmu {
	struct ik_hw_iommu hw;
	uint64_t page_mask;           /* what translate reports */
	dma_addr_t fault_lo, fault_hi; /* [lo, hi) faults */
	dma_addr_t eio_lo, eio_hi;     /* [lo, hi) fails with -EIO */
	dma_addr_t einval_lo, einval_hi; /* [lo, hi) fails with -EINVAL */
	unsigned int calls;
	struct xlate_rec rec[64];
	uint32_t last_sid;
};

static struct fake_mmu mmu;
static struct ik_machine *m;
static struct device *direct; /* the machine's master without an IOMMU */
static struct device dev;     /* the same master, put behind the fake MMU */

static int fake_translate(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr, bool write,
			  unsigned int attrs, struct ik_hw_xlate *out)
{
	struct fake_mmu *f = container_of(hw, struct fake_mmu, hw);

	if (f->calls < ARRAY_SIZE(f->rec))
		f->rec[f->calls] = (struct xlate_rec){ addr, write, attrs };
	f->calls++;
	f->last_sid = sid;
	if (addr >= f->fault_lo && addr < f->fault_hi) {
		/* As a model does: latch, then raise the line with no lock held. */
		ik_irq_raise(hw->machine, XLATE_IRQ);
		return -EFAULT;
	}
	if (addr >= f->eio_lo && addr < f->eio_hi)
		return -EIO;
	if (addr >= f->einval_lo && addr < f->einval_hi)
		return -EINVAL;
	uint64_t ps = f->page_mask + 1;
	if (addr >= BUS_ERROR_IOVA) {
		out->pa = 0x40000000ULL + (addr & f->page_mask); /* not RAM */
	} else {
		uint64_t page = addr & ~f->page_mask;
		out->pa = RAM_BASE + (page ^ ps) + (addr & f->page_mask);
	}
	out->page_mask = f->page_mask;
	return 0;
}

static const struct ik_hw_iommu_ops fake_ops = { .translate = fake_translate };

/* Where the fake MMU puts IOVA @iova (page size @ps), worked out independently. */
static phys_addr_t expect_pa(dma_addr_t iova, uint64_t ps)
{
	uint64_t n = iova / ps;

	return RAM_BASE + (n % 2 ? n - 1 : n + 1) * ps + iova % ps;
}

static int setup(void **state)
{
	(void)state;
	static const struct ik_region_desc regions[] = {
		{ "dram", RAM_BASE, RAM_SIZE },
		{ "dram2", RAM2_BASE, RAM2_SIZE },
		{ "far", FAR_BASE, FAR_SIZE },
	};
	static const struct ik_master_desc masters[] = { { "dma", NULL, 7 } };
	struct ik_machine_desc d = {
		.size = sizeof(d),
		.name = "dmabox",
		.regions = regions,
		.nr_regions = ARRAY_SIZE(regions),
		.masters = masters,
		.nr_masters = ARRAY_SIZE(masters),
	};

	m = ik_machine_create(&d);
	if (!m)
		return -1;
	direct = ik_machine_device(m, "dma");
	memset(&mmu, 0, sizeof(mmu));
	mmu.hw.ops = &fake_ops;
	mmu.hw.machine = m;
	mmu.page_mask = IK_PAGE_SIZE - 1;
	dev = *direct;
	dev.hw_iommu = &mmu.hw;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ik_machine_destroy(m);
	m = NULL;
	return 0;
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* RAM at @pa holds @len bytes of @byte. */
static void assert_ram_is(phys_addr_t pa, int byte, size_t len)
{
	uint8_t *p = ik_mem_ptr(ik_machine_mem(m), pa, len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)byte)
			fail_msg("RAM at %#llx is %#x, expected %#x",
				 (unsigned long long)(pa + i), p[i], byte);
}

/* --- arguments --- */

static void test_arguments(void **state)
{
	(void)state;
	uint8_t b[8] = { 0 };
	struct device orphan = *direct;

	orphan.machine = NULL;
	assert_int_equal(ik_dma_read(NULL, RAM_BASE, b, 8), -EINVAL);
	assert_int_equal(ik_dma_write(NULL, RAM_BASE, b, 8), -EINVAL);
	assert_int_equal(ik_dma_fill(NULL, RAM_BASE, 0, 8), -EINVAL);
	assert_int_equal(ik_dma_copy(NULL, RAM_BASE, RAM_BASE + 64, 8), -EINVAL);
	assert_int_equal(ik_dma_read(&dev, 0, NULL, 8), -EINVAL);
	assert_int_equal(ik_dma_write(&dev, 0, NULL, 8), -EINVAL);
	assert_int_equal(ik_dma_read(&orphan, RAM_BASE, b, 8), -EINVAL);
	/* Zero bytes: nothing to do, nothing translated. */
	assert_int_equal(ik_dma_read(&dev, 0, b, 0), 0);
	assert_int_equal(ik_dma_write(&dev, 0, NULL, 0), 0);
	assert_int_equal(ik_dma_fill(&dev, 0, 0, 0), 0);
	assert_int_equal(ik_dma_copy(&dev, 0, 0x1000, 0), 0);
	assert_int_equal(mmu.calls, 0);
}

/* --- no IOMMU: bus address = physical address --- */

static void test_direct(void **state)
{
	(void)state;
	uint8_t out[256], in[256];
	struct ik_mem *mem = ik_machine_mem(m);

	fill_pattern(out, sizeof(out), 1);
	assert_int_equal(ik_dma_write(direct, RAM_BASE + 0x123, out, sizeof(out)), 0);
	assert_int_equal(ik_mem_read(mem, RAM_BASE + 0x123, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
	memset(in, 0, sizeof(in));
	assert_int_equal(ik_dma_read(direct, RAM_BASE + 0x123, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));

	/* From one RAM region into the adjacent one: all of it is RAM. */
	assert_int_equal(ik_dma_write(direct, RAM2_BASE - 100, out, sizeof(out)), 0);
	assert_int_equal(ik_mem_read(mem, RAM2_BASE - 100, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));

	/* Past the end of RAM, into a hole, below RAM: bus error, nothing written. */
	assert_int_equal(ik_dma_fill(direct, RAM2_BASE + RAM2_SIZE - 16, 0xee, 32), -EFAULT);
	assert_ram_is(RAM2_BASE + RAM2_SIZE - 16, 0, 16);
	assert_int_equal(ik_dma_write(direct, FAR_BASE + FAR_SIZE - 8, out, 16), -EFAULT);
	assert_ram_is(FAR_BASE + FAR_SIZE - 8, 0, 8);
	assert_int_equal(ik_dma_read(direct, 0x40000000, in, 4), -EFAULT);
	memset(in, 0x5a, sizeof(in));
	assert_int_equal(ik_dma_read(direct, RAM_BASE - 4, in, 8), -EFAULT);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(in[i], 0x5a); /* the buffer is untouched too */
	/* An access that wraps the bus address space. */
	assert_int_equal(ik_dma_read(direct, UINT64_MAX - 3, in, 8), -EFAULT);
}

/* --- through the IOMMU --- */

static void test_scatter_4k(void **state)
{
	(void)state;
	uint8_t out[3 * 4096], in[3 * 4096];
	const dma_addr_t iova = 0x800; /* pages 0..3 of IOVA space */

	fill_pattern(out, sizeof(out), 3);
	assert_int_equal(ik_dma_write(&dev, iova, out, sizeof(out)), 0);
	/*
	 * IOVA [0x800, 0x3800) spans pages 0, 1, 2, 3; the fake maps page n to
	 * n ^ 1: bytes 0..0x7ff of the buffer go to physical page 1 at 0x800,
	 * the next 0x1000 to page 0, the next 0x1000 to page 3, the last
	 * 0x800 to page 2 offset 0.
	 */
	uint8_t *ram = ik_mem_ptr(ik_machine_mem(m), RAM_BASE, 4 * 4096);
	assert_memory_equal(ram + 0x1800, out, 0x800);
	assert_memory_equal(ram + 0x0000, out + 0x800, 0x1000);
	assert_memory_equal(ram + 0x3000, out + 0x1800, 0x1000);
	assert_memory_equal(ram + 0x2000, out + 0x2800, 0x800);
	assert_ram_is(RAM_BASE + 0x1000, 0, 0x800);    /* page 1 below the offset */
	assert_ram_is(RAM_BASE + 0x2800, 0, 0x800);    /* page 2 past the end */

	/* One translation per page, in order, for the device's source ID. */
	assert_int_equal(mmu.calls, 4);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(mmu.rec[i].addr, i == 0 ? iova : i * 4096);
		assert_true(mmu.rec[i].write);
	}
	assert_int_equal(mmu.last_sid, 7);

	mmu.calls = 0;
	assert_int_equal(ik_dma_read(&dev, iova, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(mmu.calls, 4);
	assert_false(mmu.rec[0].write);
	assert_int_equal(mmu.rec[0].attrs, 0);

	/* Attributes reach the model. */
	mmu.calls = 0;
	assert_int_equal(ik_dma_rw(&dev, 0x10, in, 16, false, IK_DMA_ATTR_PRIV | IK_DMA_ATTR_EXEC),
			 0);
	assert_int_equal(mmu.calls, 1);
	assert_int_equal(mmu.rec[0].attrs, IK_DMA_ATTR_PRIV | IK_DMA_ATTR_EXEC);
}

/* A chunk runs to the end of the page the model reports, whatever its size. */
static void test_large_pages(void **state)
{
	(void)state;
	const uint64_t ps = 64 * 1024;
	static uint8_t out[100 * 1024], in[100 * 1024];
	const dma_addr_t iova = 0x1000;

	mmu.page_mask = ps - 1;
	fill_pattern(out, sizeof(out), 9);
	assert_int_equal(ik_dma_write(&dev, iova, out, sizeof(out)), 0);
	/* [0x1000, 0x10000) is in 64K page 0, the rest in page 1: two translations. */
	assert_int_equal(mmu.calls, 2);
	assert_int_equal(mmu.rec[1].addr, 0x10000);
	for (size_t off = 0; off < sizeof(out); off += 4096) {
		uint8_t b;
		assert_int_equal(ik_mem_read(ik_machine_mem(m), expect_pa(iova + off, ps), &b, 1),
				 0);
		assert_int_equal(b, out[off]);
	}
	assert_int_equal(ik_dma_read(&dev, iova, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));

	/* A 1 GiB "page" covering everything: one translation for 1 MiB. */
	mmu.page_mask = (1ULL << 30) - 1;
	mmu.calls = 0;
	assert_int_equal(ik_dma_fill(&dev, 0x2000, 0x3c, 1 << 20), -EFAULT);
	/* page 0 ^ 1 GiB is beyond RAM: a bus error, and nothing was written */
	assert_int_equal(mmu.calls, 1);
}

static void test_fault_aborts_everything(void **state)
{
	(void)state;
	static uint8_t buf[4 * 4096];
	uint8_t keep[sizeof(buf)];

	/* Known contents under pages 0..3. */
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), RAM_BASE, 0x11, 4 * 4096), 0);
	mmu.fault_lo = 2 * 4096;
	mmu.fault_hi = 3 * 4096;

	fill_pattern(buf, sizeof(buf), 5);
	assert_int_equal(ik_dma_write(&dev, 0, buf, sizeof(buf)), -EFAULT);
	assert_ram_is(RAM_BASE, 0x11, 4 * 4096); /* pages 0 and 1 were fine: still not written */
	assert_int_equal(mmu.calls, 3);          /* stopped at the faulting page */
	assert_int_equal(mmu.rec[2].addr, 2 * 4096);

	memcpy(keep, buf, sizeof(buf));
	assert_int_equal(ik_dma_read(&dev, 0, buf, sizeof(buf)), -EFAULT);
	assert_memory_equal(buf, keep, sizeof(buf)); /* the buffer is untouched */
	/* Pages 0 and 1 only: fine. One byte more reaches page 2: nothing is written. */
	assert_int_equal(ik_dma_fill(&dev, 0x800, 0, 0x1000), 0);
	assert_ram_is(RAM_BASE + 0x1800, 0, 0x800);
	assert_int_equal(ik_dma_fill(&dev, 0x1800, 0x99, 0x800 + 1), -EFAULT);
	assert_ram_is(RAM_BASE + 0x0800, 0x11, 0x800);
}

/* The fault interrupt runs in the DMA thread, unlocked: it can repair the mapping. */
static void fixup_handler(unsigned int irq, void *arg)
{
	unsigned int *count = arg;

	(*count)++;
	mmu.fault_lo = mmu.fault_hi = 0; /* "map" the page */
}

static void test_fault_irq_fixup_and_retry(void **state)
{
	(void)state;
	unsigned int count = 0;
	uint8_t buf[64] = { 1, 2, 3 };

	assert_int_equal(ik_request_irq(m, XLATE_IRQ, fixup_handler, &count), 0);
	mmu.fault_lo = 0x5000;
	mmu.fault_hi = 0x6000;
	assert_int_equal(ik_dma_write(&dev, 0x5ff0, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(count, 1);
	assert_int_equal(ik_dma_write(&dev, 0x5ff0, buf, sizeof(buf)), 0); /* the device retries */
	assert_int_equal(count, 1);
	uint8_t b[3];
	assert_int_equal(ik_mem_read(ik_machine_mem(m), expect_pa(0x5ff0, 4096), b, 3), 0);
	assert_int_equal(b[2], 3);
	ik_free_irq(m, XLATE_IRQ, fixup_handler, &count);
}

static void test_model_errors(void **state)
{
	(void)state;
	uint8_t buf[2 * 4096] = { 0 };

	assert_int_equal(ik_mem_fill(ik_machine_mem(m), RAM_BASE, 0x22, 4 * 4096), 0);
	mmu.eio_lo = 0x1000;
	mmu.eio_hi = 0x2000;
	assert_int_equal(ik_dma_write(&dev, 0x800, buf, sizeof(buf)), -EIO);
	mmu.eio_lo = mmu.eio_hi = 0;
	/* Any other model error is a fault to the device. */
	mmu.einval_lo = 0x1000;
	mmu.einval_hi = 0x2000;
	assert_int_equal(ik_dma_write(&dev, 0x800, buf, sizeof(buf)), -EFAULT);
	mmu.einval_lo = mmu.einval_hi = 0;
	/* Impossible translations: pages below 4 KiB, or not a power of two. */
	mmu.page_mask = 0x7ff;
	assert_int_equal(ik_dma_write(&dev, 0x800, buf, sizeof(buf)), -EIO);
	mmu.page_mask = 0x2fff;
	assert_int_equal(ik_dma_write(&dev, 0x800, buf, sizeof(buf)), -EIO);
	mmu.page_mask = 0xfff;
	assert_ram_is(RAM_BASE, 0x22, 4 * 4096);
}

static void test_bus_error(void **state)
{
	(void)state;
	uint8_t buf[3 * 4096];

	fill_pattern(buf, sizeof(buf), 7);
	assert_int_equal(ik_mem_fill(ik_machine_mem(m), RAM_BASE, 0x33, 4 * 4096), 0);
	/* Last page of the access translates outside RAM. */
	assert_int_equal(ik_dma_write(&dev, BUS_ERROR_IOVA - 2 * 4096, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(mmu.calls, 3);
	/* The two good pages would have gone to RAM: they were not written. */
	phys_addr_t pa = expect_pa(BUS_ERROR_IOVA - 2 * 4096, 4096);
	uint8_t b;
	assert_int_equal(ik_mem_read(ik_machine_mem(m), pa, &b, 1), 0);
	assert_int_equal(b, 0);
	/* A bus address that wraps is refused before any translation. */
	mmu.calls = 0;
	assert_int_equal(ik_dma_read(&dev, UINT64_MAX - 0xff, buf, 0x200), -EFAULT);
	assert_int_equal(mmu.calls, 0);
}

/* An access of many scattered pages: more chunks than fit on the stack. */
static void test_huge_scattered_access(void **state)
{
	(void)state;
	const size_t len = 1 << 20; /* 256 pages, none adjacent to the next in RAM */
	uint8_t *out = malloc(len), *in = malloc(len);

	assert_non_null(out);
	assert_non_null(in);
	fill_pattern(out, len, 11);
	assert_int_equal(ik_dma_write(&dev, 0x100000, out, len), 0);
	assert_int_equal(mmu.calls, 256);
	for (size_t off = 0; off < len; off += 4096) {
		uint8_t b[2];
		assert_int_equal(ik_mem_read(ik_machine_mem(m), expect_pa(0x100000 + off, 4096) + 5,
					     b, 2),
				 0);
		assert_memory_equal(b, out + off + 5, 2);
	}
	memset(in, 0, len);
	assert_int_equal(ik_dma_read(&dev, 0x100000, in, len), 0);
	assert_memory_equal(in, out, len);
	/* The same size faulting on its last page: nothing written. */
	assert_int_equal(ik_dma_fill(&dev, 0x100000, 0, len), 0);
	mmu.fault_lo = 0x100000 + len - 4096;
	mmu.fault_hi = 0x100000 + len;
	assert_int_equal(ik_dma_write(&dev, 0x100000, out, len), -EFAULT);
	assert_int_equal(ik_dma_read(&dev, 0x100000, in, len - 4096), 0);
	for (size_t i = 0; i < len - 4096; i++)
		if (in[i])
			fail_msg("byte %zu written by an aborted access", i);
	free(out);
	free(in);
}

static void test_fill(void **state)
{
	(void)state;
	assert_int_equal(ik_dma_fill(&dev, 0xf00, 0xab, 0x300), 0);
	/* IOVA [0xf00, 0x1000) -> page 1 at 0xf00; [0x1000, 0x1200) -> page 0 at 0. */
	assert_ram_is(RAM_BASE + 0x1f00, 0xab, 0x100);
	assert_ram_is(RAM_BASE + 0x0000, 0xab, 0x200);
	assert_ram_is(RAM_BASE + 0x0200, 0x00, 0x10);
	assert_ram_is(RAM_BASE + 0x1ef0, 0x00, 0x10);
}

static void test_copy(void **state)
{
	(void)state;
	uint8_t src[3 * 4096], got[3 * 4096];

	fill_pattern(src, sizeof(src), 13);
	assert_int_equal(ik_dma_write(&dev, 0x10800, src, sizeof(src)), 0);
	mmu.calls = 0;
	assert_int_equal(ik_dma_copy(&dev, 0x20400, 0x10800, sizeof(src)), 0);
	/* Source pages (reads) first, then destination pages (writes). */
	assert_int_equal(mmu.calls, 8);
	for (unsigned int i = 0; i < 4; i++) {
		assert_false(mmu.rec[i].write);
		assert_true(mmu.rec[4 + i].write);
	}
	assert_int_equal(mmu.rec[0].addr, 0x10800);
	assert_int_equal(mmu.rec[4].addr, 0x20400);
	assert_int_equal(ik_dma_read(&dev, 0x20400, got, sizeof(got)), 0);
	assert_memory_equal(got, src, sizeof(src));

	/* A destination fault: every source page was read-translated, nothing written. */
	assert_int_equal(ik_dma_fill(&dev, 0x30000, 0x77, 3 * 4096), 0);
	mmu.fault_lo = 0x31000;
	mmu.fault_hi = 0x32000;
	mmu.calls = 0;
	assert_int_equal(ik_dma_copy(&dev, 0x30000, 0x10800, sizeof(src)), -EFAULT);
	assert_int_equal(mmu.calls, 4 + 2);
	mmu.fault_lo = mmu.fault_hi = 0;
	assert_int_equal(ik_dma_read(&dev, 0x30000, got, sizeof(got)), 0);
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0x77);

	/* A source fault: the destination is not even translated. */
	mmu.fault_lo = 0x11000;
	mmu.fault_hi = 0x12000;
	mmu.calls = 0;
	assert_int_equal(ik_dma_copy(&dev, 0x30000, 0x10800, sizeof(src)), -EFAULT);
	assert_int_equal(mmu.calls, 2);
	assert_false(mmu.rec[1].write);
}

/* Overlapping source and destination behave as if all was read first. */
static void test_copy_overlap(void **state)
{
	(void)state;
	static uint8_t a[3 * 4096], want[3 * 4096 + 0x100], got[sizeof(want)];

	/* Direct: physical ranges overlap in one piece each. */
	fill_pattern(a, sizeof(a), 17);
	assert_int_equal(ik_dma_write(direct, RAM_BASE, a, sizeof(a)), 0);
	assert_int_equal(ik_dma_copy(direct, RAM_BASE + 0x100, RAM_BASE, sizeof(a)), 0);
	assert_int_equal(ik_dma_read(direct, RAM_BASE + 0x100, got, sizeof(a)), 0);
	assert_memory_equal(got, a, sizeof(a));
	assert_int_equal(ik_dma_write(direct, RAM_BASE, a, sizeof(a)), 0);
	assert_int_equal(ik_dma_copy(direct, RAM_BASE, RAM_BASE + 0x100, sizeof(a) - 0x100), 0);
	assert_int_equal(ik_dma_read(direct, RAM_BASE, got, sizeof(a) - 0x100), 0);
	assert_memory_equal(got, a + 0x100, sizeof(a) - 0x100);

	/* Through the IOMMU: scattered pieces that overlap in RAM. */
	assert_int_equal(ik_dma_write(&dev, 0, a, sizeof(a)), 0);
	memcpy(want, a, sizeof(a));
	assert_int_equal(ik_dma_copy(&dev, 0x100, 0, sizeof(a)), 0);
	assert_int_equal(ik_dma_read(&dev, 0x100, got, sizeof(a)), 0);
	assert_memory_equal(got, want, sizeof(a));
}

/* Two threads doing DMA through the same model (for TSan). */
struct worker {
	uint64_t base;
	int bad;
};

static pthread_mutex_t mmu_calls_lock = PTHREAD_MUTEX_INITIALIZER;

static int locked_translate(struct ik_hw_iommu *hw, uint32_t sid, dma_addr_t addr, bool write,
			    unsigned int attrs, struct ik_hw_xlate *out)
{
	pthread_mutex_lock(&mmu_calls_lock);
	int ret = fake_translate(hw, sid, addr, write, attrs, out);
	pthread_mutex_unlock(&mmu_calls_lock);
	return ret;
}

static const struct ik_hw_iommu_ops locked_ops = { .translate = locked_translate };

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	uint8_t out[6000], in[6000];

	for (int i = 0; i < 200; i++) {
		fill_pattern(out, sizeof(out), (uint8_t)(i + w->base));
		if (ik_dma_write(&dev, w->base, out, sizeof(out)) ||
		    ik_dma_read(&dev, w->base, in, sizeof(in)) || memcmp(in, out, sizeof(in)))
			w->bad++;
	}
	return NULL;
}

static void test_concurrent_masters(void **state)
{
	(void)state;
	struct worker w[2] = { { 0x40000, 0 }, { 0x80000, 0 } };
	pthread_t t[2];

	mmu.hw.ops = &locked_ops;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_fn, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_arguments),
		T(test_direct),
		T(test_scatter_4k),
		T(test_large_pages),
		T(test_fault_aborts_everything),
		T(test_fault_irq_fixup_and_retry),
		T(test_model_errors),
		T(test_bus_error),
		T(test_huge_scattered_access),
		T(test_fill),
		T(test_copy),
		T(test_copy_overlap),
		T(test_concurrent_masters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
