// SPDX-License-Identifier: MIT
/*
 * A program outside the tree, built against the installed library through
 * pkg-config: it must compile with only the public headers and link with
 * only the exported symbols, using the Linux names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <iommukit/iommukit.h>

int main(void)
{
	struct ik_machine *m = ik_machine_create_default();
	if (!m) {
		perror("ik_machine_create_default");
		return 1;
	}
	struct device *isp = ik_machine_device(m, "isp");
	struct iommu_domain *d = iommu_paging_domain_alloc(isp);
	phys_addr_t buf;
	int ret = -1;

	if (!d || iommu_attach_device(d, isp))
		goto out;
	if (ik_mem_alloc_pages(ik_machine_mem(m), 16, 0x10000, &buf))
		goto out;
	if (iommu_map(d, 0x10000000, buf, 0x10000, IOMMU_READ | IOMMU_WRITE, GFP_KERNEL))
		goto out;
	const char msg[] = "consumer";
	char back[sizeof(msg)];
	if (ik_dma_write(isp, 0x10000010, msg, sizeof(msg)) ||
	    ik_mem_read(ik_machine_mem(m), buf + 0x10, back, sizeof(back)) ||
	    memcmp(msg, back, sizeof(msg)))
		goto out;
	if (iommu_iova_to_phys(d, 0x10000010) != buf + 0x10)
		goto out;
	if (iommu_unmap(d, 0x10000000, 0x10000) != 0x10000)
		goto out;
	ret = 0;
out:
	if (d) {
		iommu_detach_device(d, isp);
		iommu_domain_free(d);
	}
	ik_machine_destroy(m);
	printf("consumer: %s\n", ret ? "FAILED" : "ok");
	return ret ? 1 : 0;
}
