/* SPDX-License-Identifier: MIT */
/* Library diagnostics, routed to the function set by ik_set_log_fn(). */
#ifndef IK_LOG_H
#define IK_LOG_H

#include <iommukit/iommu.h>

void ik_log(enum ik_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ik_err(...)   ik_log(IK_LOG_ERR, __VA_ARGS__)
#define ik_warn(...)  ik_log(IK_LOG_WARN, __VA_ARGS__)
#define ik_info(...)  ik_log(IK_LOG_INFO, __VA_ARGS__)
#define ik_dbg(...)   ik_log(IK_LOG_DEBUG, __VA_ARGS__)

#endif /* IK_LOG_H */
