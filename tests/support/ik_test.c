// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"

const struct ik_test_target ik_test_targets[] = {
	{ "omap3-isp-mmu", "omap3", "isp", "sdma" },
	{ "omap3-iva-mmu", "omap3", "iva", "sdma" },
	{ "smmu-gpu", "smmu", "gpu", "dma" },
	{ "smmu-nc-gpu", "smmu-noncoherent", "gpu", "dma" },
};
const unsigned int ik_test_nr_targets = sizeof(ik_test_targets) / sizeof(ik_test_targets[0]);

static void capture_fn(enum ik_log_level level, const char *msg, void *arg)
{
	struct ik_log_capture *cap = arg;
	if (level <= IK_LOG_WARN) {
		cap->count++;
		snprintf(cap->last, sizeof(cap->last), "%s", msg);
	}
}

void ik_test_log_capture_start(struct ik_log_capture *cap)
{
	memset(cap, 0, sizeof(*cap));
	ik_set_log_fn(capture_fn, cap);
}

void ik_test_log_capture_stop(void)
{
	ik_set_log_fn(NULL, NULL);
}

uint64_t ik_test_seed(uint64_t fallback)
{
	const char *s = getenv("IK_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : fallback;
	if (!seed)
		seed = 1;
	printf("# seed %#" PRIx64 " (set IK_TEST_SEED to replay)\n", seed);
	return seed;
}

phys_addr_t ik_test_alloc(struct ik_machine *m, size_t size, size_t align)
{
	phys_addr_t pa = 0;
	int ret = ik_mem_alloc_pages(ik_machine_mem(m), (size + 0xfff) >> 12,
				     align < 0x1000 ? 0x1000 : align, &pa);
	if (ret)
		fail_msg("cannot allocate %#zx bytes aligned to %#zx: %d", size, align, ret);
	return pa;
}
