/* kvs_lmc_json: a tiny JSON document builder and writer for the report
 * files.
 *
 * Promises: values are built in an arena (no free calls); the writer
 * emits objects with their keys sorted by byte order (a later duplicate
 * key replaces the earlier one), 2-space indentation and a trailing
 * newline, like the peer tool's files, so the same document always gives
 * the same bytes. Numbers: integral values below 2^53 print without a
 * fraction, others in the shortest form that reads back to the same
 * double; NaN and infinities print as null (never invalid JSON). Strings
 * are escaped as ASCII (\uXXXX for control and non-ASCII characters;
 * invalid UTF-8 bytes become \ufffd). Out-of-memory while building is
 * remembered by the containers that lost a value; the writer then sets
 * the buffer's oom flag, so a truncated document is never taken as
 * complete. */
#ifndef KVS_LMC_JSON_OUT_H
#define KVS_LMC_JSON_OUT_H

#include "core/arena.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct kvs_lmc_json kvs_lmc_json;

kvs_lmc_json *kvs_lmc_json_object(kvs_arena *a);
kvs_lmc_json *kvs_lmc_json_array(kvs_arena *a);
kvs_lmc_json *kvs_lmc_json_str(kvs_arena *a, const char *s);   /* NULL s: null */
kvs_lmc_json *kvs_lmc_json_num(kvs_arena *a, double v);
kvs_lmc_json *kvs_lmc_json_bool(kvs_arena *a, bool b);
kvs_lmc_json *kvs_lmc_json_null(kvs_arena *a);

/* obj/arr may be NULL (then nothing happens). Keys are copied. */
void kvs_lmc_json_put(kvs_lmc_json *obj, const char *key, kvs_lmc_json *v);
void kvs_lmc_json_push(kvs_lmc_json *arr, kvs_lmc_json *v);
/* Shorthands. */
void kvs_lmc_json_put_str(kvs_lmc_json *obj, const char *key, const char *s);
void kvs_lmc_json_put_num(kvs_lmc_json *obj, const char *key, double v);
void kvs_lmc_json_put_bool(kvs_lmc_json *obj, const char *key, bool b);
/* An array of strings. */
kvs_lmc_json *kvs_lmc_json_strs(kvs_arena *a, const char *const *v, size_t n);

/* Appends the document (pretty, sorted, newline-terminated). */
void kvs_lmc_json_write(const kvs_lmc_json *v, kvs_buf *out);
/* Appends one number as the writer formats it. */
void kvs_lmc_json_write_num(double v, kvs_buf *out);

#endif
