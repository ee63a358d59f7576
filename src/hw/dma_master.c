// SPDX-License-Identifier: MIT
/*
 * DMA masters: devices reading and writing memory at bus addresses,
 * through the IOMMU in front of them, as a DMA engine's burst would.
 *
 * An access is done in two phases. First every page it touches is
 * translated, in address order, and the physical result checked against
 * RAM; then, only if all of that succeeded, bytes move. So an access that
 * faults anywhere (or that the IOMMU sends outside RAM, a bus error) is
 * aborted whole and leaves memory untouched: the model has latched and
 * signalled the fault, and the caller gets -EFAULT. Translations stop at
 * the first failure, as hardware aborts the burst there.
 *
 * The physical ranges found are kept in a plan of host ranges, merged when
 * adjacent; small accesses fit a plan on the stack, so the common path
 * allocates nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ik/machine.h"

#define PLAN_STACK_CHUNKS 16

/* A host range that one or more translated pages map to. */
struct dma_chunk {
	uint8_t *host;
	size_t len;
};

struct dma_plan {
	struct dma_chunk *c;
	unsigned int nr;
	unsigned int cap;
	struct dma_chunk stack[PLAN_STACK_CHUNKS];
};

static void plan_init(struct dma_plan *p)
{
	p->c = p->stack;
	p->nr = 0;
	p->cap = PLAN_STACK_CHUNKS;
}

static void plan_release(struct dma_plan *p)
{
	if (p->c != p->stack)
		free(p->c);
}

static int plan_add(struct dma_plan *p, uint8_t *host, size_t len)
{
	if (p->nr && p->c[p->nr - 1].host + p->c[p->nr - 1].len == host) {
		p->c[p->nr - 1].len += len;
		return 0;
	}
	if (p->nr == p->cap) {
		struct dma_chunk *c;

		if (p->cap > UINT32_MAX / 2)
			return -ENOMEM;
		if (p->c == p->stack) {
			c = malloc(2 * p->cap * sizeof(*c));
			if (c)
				memcpy(c, p->stack, sizeof(p->stack));
		} else {
			c = realloc(p->c, 2 * p->cap * sizeof(*c));
		}
		if (!c)
			return -ENOMEM;
		p->c = c;
		p->cap *= 2;
	}
	p->c[p->nr++] = (struct dma_chunk){ host, len };
	return 0;
}

/* Add physical [pa, pa + len) to @p, split at RAM region ends; -EFAULT outside RAM. */
static int plan_add_phys(struct dma_plan *p, struct ik_mem *mem, phys_addr_t pa, size_t len)
{
	while (len) {
		struct ik_mem_region *r = ik_mem_region_of(mem, pa);

		if (!r)
			return -EFAULT;
		size_t n = ik_min(len, r->size - (pa - r->base));
		int ret = plan_add(p, r->host + (pa - r->base), n);
		if (ret)
			return ret;
		pa += n;
		len -= n;
	}
	return 0;
}

/*
 * Translate all of [addr, addr + len) for @dev into @p.
 * Returns 0, -EFAULT (fault, or a bus error), -EIO (the model reported an
 * error of its own, or an impossible translation) or -ENOMEM.
 */
static int dma_translate(struct device *dev, dma_addr_t addr, size_t len, bool write,
			 unsigned int attrs, struct dma_plan *p)
{
	struct ik_hw_iommu *hw = dev->hw_iommu;
	struct ik_mem *mem = ik_machine_mem(dev->machine);

	if (len - 1 > UINT64_MAX - addr)
		return -EFAULT; /* wraps the bus address space */
	if (!hw)
		return plan_add_phys(p, mem, addr, len);

	while (len) {
		struct ik_hw_xlate x;
		int ret = hw->ops->translate(hw, dev->sids[0], addr, write, attrs, &x);

		if (ret)
			return ret == -EIO ? -EIO : -EFAULT;
		/* Pages are 4 KiB or larger powers of two. */
		if (x.page_mask < IK_PAGE_SIZE - 1 || (x.page_mask & (x.page_mask + 1)))
			return -EIO;
		uint64_t rest = x.page_mask - (addr & x.page_mask); /* bytes left - 1 */
		size_t n = len - 1 <= rest ? len : (size_t)rest + 1;

		if (x.pa + (n - 1) < x.pa)
			return -EFAULT;
		ret = plan_add_phys(p, mem, x.pa, n);
		if (ret)
			return ret;
		addr += n;
		len -= n;
	}
	return 0;
}

static int dma_args_check(const struct device *dev, const void *buf, size_t len)
{
	if (!dev || !dev->machine || !ik_machine_mem(dev->machine))
		return -EINVAL;
	if (len && !buf)
		return -EINVAL;
	return 0;
}

/**
 * ik_dma_rw - a device's DMA access
 * @dev: the master
 * @addr: bus address (an IOVA when an IOMMU is in front of @dev)
 * @buf: where read data goes, or written data comes from
 * @len: bytes
 * @write: direction
 * @attrs: IK_DMA_ATTR_*
 *
 * Return: 0 when all @len bytes moved; otherwise no byte moved and:
 * -EINVAL for a NULL @dev or @buf; -EFAULT if a page faulted or translated
 * outside RAM; -EIO if the IOMMU reported an error; -ENOMEM.
 */
int ik_dma_rw(struct device *dev, dma_addr_t addr, void *buf, size_t len, bool write,
	      unsigned int attrs)
{
	struct dma_plan p;
	int ret = dma_args_check(dev, buf, len);

	if (ret || !len)
		return ret;
	plan_init(&p);
	ret = dma_translate(dev, addr, len, write, attrs, &p);
	if (!ret) {
		uint8_t *b = buf;

		for (unsigned int i = 0; i < p.nr; i++) {
			if (write)
				memcpy(p.c[i].host, b, p.c[i].len);
			else
				memcpy(b, p.c[i].host, p.c[i].len);
			b += p.c[i].len;
		}
	}
	plan_release(&p);
	return ret;
}

int ik_dma_read(struct device *dev, dma_addr_t addr, void *buf, size_t len)
{
	return ik_dma_rw(dev, addr, buf, len, false, 0);
}

int ik_dma_write(struct device *dev, dma_addr_t addr, const void *buf, size_t len)
{
	/* Written, never stored to: the cast only serves the shared signature. */
	return ik_dma_rw(dev, addr, (void *)buf, len, true, 0);
}

/** ik_dma_fill - a device writes @len bytes of @byte at @addr; errors as ik_dma_rw() */
int ik_dma_fill(struct device *dev, dma_addr_t addr, int byte, size_t len)
{
	struct dma_plan p;
	int ret = dma_args_check(dev, &p, len);

	if (ret || !len)
		return ret;
	plan_init(&p);
	ret = dma_translate(dev, addr, len, true, 0, &p);
	for (unsigned int i = 0; !ret && i < p.nr; i++)
		memset(p.c[i].host, byte, p.c[i].len);
	plan_release(&p);
	return ret;
}

static bool chunks_intersect(const struct dma_chunk *a, const struct dma_chunk *b)
{
	return a->host < b->host + b->len && b->host < a->host + a->len;
}

/* Might a write through @dst change bytes @src still has to read? */
static bool plans_overlap(const struct dma_plan *src, const struct dma_plan *dst)
{
	uint8_t *slo = src->c[0].host, *shi = slo, *dlo = dst->c[0].host, *dhi = dlo;

	for (unsigned int i = 0; i < src->nr; i++) {
		slo = ik_min(slo, src->c[i].host);
		shi = ik_max(shi, src->c[i].host + src->c[i].len);
	}
	for (unsigned int i = 0; i < dst->nr; i++) {
		dlo = ik_min(dlo, dst->c[i].host);
		dhi = ik_max(dhi, dst->c[i].host + dst->c[i].len);
	}
	if (shi <= dlo || dhi <= slo)
		return false;
	if ((uint64_t)src->nr * dst->nr > 4096)
		return true; /* too many to compare: assume they do */
	for (unsigned int i = 0; i < src->nr; i++)
		for (unsigned int j = 0; j < dst->nr; j++)
			if (chunks_intersect(&src->c[i], &dst->c[j]))
				return true;
	return false;
}

/* Copy between two plans of equal length, piece by piece. */
static void plans_copy(const struct dma_plan *dst, const struct dma_plan *src)
{
	unsigned int i = 0, j = 0;
	size_t soff = 0, doff = 0;

	while (i < src->nr && j < dst->nr) {
		size_t n = ik_min(src->c[i].len - soff, dst->c[j].len - doff);

		memcpy(dst->c[j].host + doff, src->c[i].host + soff, n);
		soff += n;
		doff += n;
		if (soff == src->c[i].len) {
			i++;
			soff = 0;
		}
		if (doff == dst->c[j].len) {
			j++;
			doff = 0;
		}
	}
}

/**
 * ik_dma_copy - a device copies @len bytes from bus address @src to @dst
 *
 * Every source page (for reading) and then every destination page (for
 * writing) is translated before any byte moves. The result is as if the
 * whole source were read before anything was written, even when the two
 * overlap in physical memory. Errors as ik_dma_rw().
 */
int ik_dma_copy(struct device *dev, dma_addr_t dst, dma_addr_t src, size_t len)
{
	struct dma_plan sp, dp;
	int ret = dma_args_check(dev, &sp, len);

	if (ret || !len)
		return ret;
	plan_init(&sp);
	plan_init(&dp);
	ret = dma_translate(dev, src, len, false, 0, &sp);
	if (!ret)
		ret = dma_translate(dev, dst, len, true, 0, &dp);
	if (!ret && plans_overlap(&sp, &dp)) {
		struct dma_chunk bounce = { malloc(len), len };
		struct dma_plan bp = { .c = &bounce, .nr = 1, .cap = 1 };

		if (!bounce.host) {
			ret = -ENOMEM;
		} else {
			plans_copy(&bp, &sp);
			plans_copy(&dp, &bp);
			free(bounce.host);
		}
	} else if (!ret) {
		plans_copy(&dp, &sp);
	}
	plan_release(&sp);
	plan_release(&dp);
	return ret;
}
