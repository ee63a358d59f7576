/* SPDX-License-Identifier: MIT */
/*
 * One emitter for the tool's output: the same calls produce the human
 * table or JSON, so the two can never disagree.
 */
#ifndef IK_TOOL_EMIT_H
#define IK_TOOL_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct emitter {
	FILE *out;
	bool json;
	int depth;
	bool first[16];    /* per nesting level: no comma needed yet */
	bool indented[16]; /* per nesting level: text is indented under a title */
};

void emit_init(struct emitter *e, FILE *out, bool json);
/* Objects and arrays; @key is NULL inside arrays and at the top. */
void emit_begin_object(struct emitter *e, const char *key, const char *title);
void emit_end_object(struct emitter *e);
void emit_begin_array(struct emitter *e, const char *key, const char *title);
void emit_end_array(struct emitter *e);
void emit_u64(struct emitter *e, const char *key, const char *label, uint64_t v);
void emit_hex(struct emitter *e, const char *key, const char *label, uint64_t v);
void emit_str(struct emitter *e, const char *key, const char *label, const char *v);
void emit_double(struct emitter *e, const char *key, const char *label, double v,
		 const char *unit);
/* A table row in text mode (already formatted), ignored in JSON mode. */
void emit_text(struct emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_finish(struct emitter *e);

#endif /* IK_TOOL_EMIT_H */
