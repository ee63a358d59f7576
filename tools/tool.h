/* SPDX-License-Identifier: MIT */
/* The iommukit command-line tool: commands and their shared helpers. */
#ifndef IK_TOOL_H
#define IK_TOOL_H

#include <iommukit/iommukit.h>
#include "emit.h"

/* Exit codes. */
#define EXIT_OK      0
#define EXIT_FAILED  1
#define EXIT_USAGE   2

int cmd_dump(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Emit every mapping of @domain as a table (text) or an array (JSON). */
int emit_domain_mappings(struct emitter *e, struct iommu_domain *domain);
/* Emit an IOMMU model's hardware counters as object "iotlb" under @title. */
void emit_hw_stats(struct emitter *e, const char *title, const struct ik_iommu_hw_stats *st);
/* Parse an unsigned number with an optional K/M/G suffix; false if bad. */
bool parse_size(const char *s, uint64_t *out);

#endif /* IK_TOOL_H */
