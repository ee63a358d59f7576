// SPDX-License-Identifier: MIT
/* Library diagnostics: one replaceable sink, stderr by default. */
#include <stdarg.h>
#include <stdio.h>

#include "ik/log.h"

static ik_log_fn log_fn;
static void *log_arg;

void ik_set_log_fn(ik_log_fn fn, void *arg)
{
	__atomic_store_n(&log_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void ik_log(enum ik_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	ik_log_fn fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
	if (fn) {
		fn(level, msg, __atomic_load_n(&log_arg, __ATOMIC_RELAXED));
		return;
	}
	if (level <= IK_LOG_WARN)
		fprintf(stderr, "iommukit: %s: %s\n", names[level], msg);
}
