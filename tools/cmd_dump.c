// SPDX-License-Identifier: MIT
/*
 * iommukit dump: build the default OMAP3 machine, give the ISP and the
 * IVA2 (DSP) a domain each with mappings of every page size the OMAP MMU
 * has, and print the page tables as the hardware holds them.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

struct scenario_map {
	dma_addr_t iova;
	size_t size;
	size_t align; /* physical alignment, so the map can use large pages */
};

/* Each chosen so the core picks one page size: 16M, 1M, 64K and 4K leaves. */
static const struct scenario_map isp_maps[] = {
	{ 0x01000000, 0x1000000, 0x1000000 }, /* one supersection */
	{ 0x02000000, 0x100000, 0x100000 },   /* one section */
	{ 0x02100000, 0x20000, 0x10000 },     /* two large pages */
	{ 0x02200000, 0x3000, 0x1000 },       /* three small pages */
};
static const struct scenario_map iva_maps[] = {
	{ 0x11000000, 0x200000, 0x100000 },   /* two sections */
	{ 0x11f00000, 0x1000, 0x1000 },       /* one small page */
};

struct scenario_domain {
	const char *device;
	const struct scenario_map *maps;
	size_t nr_maps;
	struct iommu_domain *domain;
	struct device *dev;
};

static int setup_domain(struct ik_machine *m, struct scenario_domain *sd)
{
	struct ik_mem *mem = ik_machine_mem(m);
	sd->dev = ik_machine_device(m, sd->device);
	if (!sd->dev) {
		fprintf(stderr, "iommukit: machine has no device '%s'\n", sd->device);
		return -1;
	}
	sd->domain = iommu_paging_domain_alloc(sd->dev);
	if (!sd->domain) {
		perror("iommukit: domain allocation");
		return -1;
	}
	int ret = iommu_attach_device(sd->domain, sd->dev);
	if (ret) {
		fprintf(stderr, "iommukit: attach %s: %s\n", sd->device, strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < sd->nr_maps; i++) {
		const struct scenario_map *sm = &sd->maps[i];
		phys_addr_t pa;
		ret = ik_mem_alloc_pages(mem, sm->size >> 12, sm->align, &pa);
		if (!ret)
			ret = iommu_map(sd->domain, sm->iova, pa, sm->size, IOMMU_READ | IOMMU_WRITE,
					GFP_KERNEL);
		if (ret) {
			fprintf(stderr, "iommukit: map %#llx on %s: %s\n",
				(unsigned long long)sm->iova, sd->device, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static void dump_usage(FILE *out)
{
	fputs("usage: iommukit dump [--json]\n"
	      "Sets up the built-in scenario on the default OMAP3 machine (ISP and IVA2\n"
	      "domains with 16M, 1M, 64K and 4K mappings) and prints each domain's page\n"
	      "tables as the hardware holds them.\n"
	      "  --json   machine-readable output\n", out);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': dump_usage(stdout); return EXIT_OK;
		default: dump_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "iommukit dump: unexpected argument '%s'\n", argv[optind]);
		dump_usage(stderr);
		return EXIT_USAGE;
	}

	struct ik_machine *m = ik_machine_create_default();
	if (!m) {
		perror("iommukit: machine");
		return EXIT_FAILED;
	}
	struct scenario_domain doms[] = {
		{ "isp", isp_maps, sizeof(isp_maps) / sizeof(isp_maps[0]), NULL, NULL },
		{ "iva", iva_maps, sizeof(iva_maps) / sizeof(iva_maps[0]), NULL, NULL },
	};
	int status = EXIT_OK;
	struct emitter e;

	for (size_t i = 0; i < 2 && status == EXIT_OK; i++)
		if (setup_domain(m, &doms[i]))
			status = EXIT_FAILED;
	if (status == EXIT_OK) {
		emit_init(&e, stdout, json);
		emit_begin_object(&e, NULL, NULL);
		emit_str(&e, "machine", "machine", ik_machine_name(m));
		emit_begin_array(&e, "domains", NULL);
		for (size_t i = 0; i < 2; i++) {
			struct scenario_domain *sd = &doms[i];
			const struct iommu_domain_geometry *g = iommu_domain_get_geometry(sd->domain);
			char title[96];
			snprintf(title, sizeof(title), "domain of %s (behind %s):", sd->device,
				 ik_device_iommu_name(sd->dev));
			emit_text(&e, "\n");
			emit_begin_object(&e, NULL, title);
			emit_str(&e, "device", "device", sd->device);
			emit_str(&e, "iommu", "iommu", ik_device_iommu_name(sd->dev));
			emit_hex(&e, "aperture_start", "aperture start", g->aperture_start);
			emit_hex(&e, "aperture_end", "aperture end", g->aperture_end);
			emit_hex(&e, "pgsize_bitmap", "page sizes",
				 iommu_domain_pgsize_bitmap(sd->domain));
			if (emit_domain_mappings(&e, sd->domain))
				status = EXIT_FAILED;
			emit_end_object(&e);
		}
		emit_end_array(&e);
		emit_end_object(&e);
		emit_finish(&e);
	}
	for (size_t i = 0; i < 2; i++) {
		if (!doms[i].domain)
			continue;
		iommu_detach_device(doms[i].domain, doms[i].dev);
		iommu_domain_free(doms[i].domain);
	}
	ik_machine_destroy(m);
	return status;
}
