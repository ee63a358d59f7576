// SPDX-License-Identifier: MIT
/* The tool's output emitter: human-readable text or JSON from one call sequence. */
#include <stdarg.h>
#include <string.h>

#include "emit.h"

void emit_init(struct emitter *e, FILE *out, bool json)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->json = json;
	e->first[0] = true;
}

static void indent(struct emitter *e)
{
	for (int i = 1; i <= e->depth; i++)
		if (e->json || e->indented[i])
			fputs("  ", e->out);
}

/* JSON: separator, newline, indentation and the key of the next member. */
static void json_member(struct emitter *e, const char *key)
{
	if (!e->first[e->depth])
		fputc(',', e->out);
	if (e->depth)
		fputc('\n', e->out);
	e->first[e->depth] = false;
	indent(e);
	if (key)
		fprintf(e->out, "\"%s\": ", key);
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void open_container(struct emitter *e, const char *key, const char *title, char brace)
{
	if (e->json) {
		json_member(e, key);
		fputc(brace, e->out);
	} else if (title) {
		indent(e);
		fprintf(e->out, "%s\n", title);
	}
	if (e->depth < 15)
		e->depth++;
	e->first[e->depth] = true;
	e->indented[e->depth] = title != NULL;
}

static void close_container(struct emitter *e, char brace)
{
	bool empty = e->first[e->depth];
	if (e->depth)
		e->depth--;
	if (e->json) {
		if (!empty) {
			fputc('\n', e->out);
			indent(e);
		}
		fputc(brace, e->out);
	}
}

void emit_begin_object(struct emitter *e, const char *key, const char *title)
{
	open_container(e, key, title, '{');
}

void emit_end_object(struct emitter *e)
{
	close_container(e, '}');
}

void emit_begin_array(struct emitter *e, const char *key, const char *title)
{
	open_container(e, key, title, '[');
}

void emit_end_array(struct emitter *e)
{
	close_container(e, ']');
}

void emit_u64(struct emitter *e, const char *key, const char *label, uint64_t v)
{
	if (e->json) {
		json_member(e, key);
		fprintf(e->out, "%llu", (unsigned long long)v);
	} else {
		indent(e);
		fprintf(e->out, "%-28s %llu\n", label, (unsigned long long)v);
	}
}

void emit_hex(struct emitter *e, const char *key, const char *label, uint64_t v)
{
	if (e->json) {
		json_member(e, key);
		fprintf(e->out, "%llu", (unsigned long long)v);
	} else {
		indent(e);
		fprintf(e->out, "%-28s %#llx\n", label, (unsigned long long)v);
	}
}

void emit_str(struct emitter *e, const char *key, const char *label, const char *v)
{
	if (e->json) {
		json_member(e, key);
		json_string(e->out, v);
	} else {
		indent(e);
		fprintf(e->out, "%-28s %s\n", label, v);
	}
}

void emit_double(struct emitter *e, const char *key, const char *label, double v,
		 const char *unit)
{
	if (e->json) {
		json_member(e, key);
		fprintf(e->out, "%.6g", v);
	} else {
		indent(e);
		fprintf(e->out, "%-28s %.3f %s\n", label, v, unit);
	}
}

void emit_text(struct emitter *e, const char *fmt, ...)
{
	va_list ap;
	if (e->json)
		return;
	indent(e);
	va_start(ap, fmt);
	vfprintf(e->out, fmt, ap);
	va_end(ap);
}

void emit_finish(struct emitter *e)
{
	if (e->json)
		fputc('\n', e->out);
	fflush(e->out);
}
