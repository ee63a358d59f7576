/* SPDX-License-Identifier: MIT */
/*
 * Test support shared by every test tier: the list of driver targets the
 * generic suites run against, log capture, and small helpers.
 */
#ifndef IK_TEST_H
#define IK_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <iommukit/iommukit.h>

/*
 * A driver target: a built-in machine and a device behind the IOMMU under
 * test. The conformance suite and the cross-check run once per target;
 * a new driver joins them by adding a line to ik_test_targets[].
 */
struct ik_test_target {
	const char *name;
	const char *machine; /* ik_machine_desc_builtin() name */
	const char *device;  /* a master behind the IOMMU under test */
	const char *direct_device; /* a master with no IOMMU, or NULL */
};

extern const struct ik_test_target ik_test_targets[];
extern const unsigned int ik_test_nr_targets;

/* Library log capture (ik_set_log_fn). */
struct ik_log_capture {
	unsigned int count;      /* messages at IK_LOG_WARN or worse */
	char last[512];
};
void ik_test_log_capture_start(struct ik_log_capture *cap);
void ik_test_log_capture_stop(void);

/* xorshift64*: deterministic randomness, seeded per test. */
static inline uint64_t ik_test_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Seed from IK_TEST_SEED if set (printed, so a failure can be replayed). */
uint64_t ik_test_seed(uint64_t fallback);

/* Allocate @size bytes of physical memory aligned to @align; fails the test if it cannot. */
phys_addr_t ik_test_alloc(struct ik_machine *m, size_t size, size_t align);

#endif /* IK_TEST_H */
