/* Lookup-hash JSONL rows and their running summary (see lookup_hash.h). */
#include "formats/lookup_hash.h"

#include "formats/json_tree.h"
#include "formats/lmcache_http.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define MAX_DEPTH 32

static void copy(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 1)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    dst[n] = 0;
}

/* Integer coercion: int, float (truncated), decimal-integer string. */
static int as_int(yajl_val v, int64_t *out)
{
    if (YAJL_IS_INTEGER(v)) {
        *out = v->u.number.i;
        return 0;
    }
    if (YAJL_IS_DOUBLE(v) && isfinite(v->u.number.d) && fabs(v->u.number.d) < 9.0e18) {
        *out = (int64_t)v->u.number.d;
        return 0;
    }
    if (YAJL_IS_STRING(v)) {
        const char *s = v->u.string;
        while (isspace((unsigned char)*s))
            s++;
        const char *d = s + (*s == '-' || *s == '+');
        if (!isdigit((unsigned char)*d))
            return -1;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || errno)
            return -1;
        *out = x;
        return 0;
    }
    return -1;
}

/* A scalar setting as text; "" when null/empty/not scalar. */
static void scalar_text(yajl_val v, char *dst, size_t cap)
{
    if (YAJL_IS_STRING(v))
        copy(dst, cap, v->u.string);
    else if (YAJL_IS_NUMBER(v))
        copy(dst, cap, v->u.number.r);
    else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        copy(dst, cap, YAJL_IS_TRUE(v) ? "true" : "false");
}

static void config_from(yajl_val o, kvs_lh_config *c)
{
    static const char *const dir[] = { "lookup_hash_log_dir", "--lookup-hash-log-dir", "lookup-hash-log-dir", NULL };
    static const char *const ival[] = { "lookup_hash_rotation_interval", "lookup_hash_log_rotation_interval",
                                        "--lookup-hash-log-rotation-interval", NULL };
    static const char *const size[] = { "lookup_hash_max_size", "lookup_hash_log_rotation_max_size",
                                        "--lookup-hash-log-rotation-max-size", NULL };
    static const char *const files[] = { "lookup_hash_max_files", "lookup_hash_log_max_files",
                                         "--lookup-hash-log-max-files", NULL };
    static const char *const *const all[] = { dir, ival, size, files };
    char *dst[] = { c->log_dir, c->rotation_interval, c->rotation_max_size, c->max_files };
    size_t cap[] = { sizeof c->log_dir, sizeof c->rotation_interval, sizeof c->rotation_max_size,
                     sizeof c->max_files };
    for (int k = 0; k < 4; k++)
        for (int i = 0; all[k][i]; i++) {
            char tmp[256] = "";
            scalar_text(kvs_json_get(o, all[k][i]), tmp, cap[k] < sizeof tmp ? cap[k] : sizeof tmp);
            if (tmp[0])
                memcpy(dst[k], tmp, strlen(tmp) + 1);
        }
}

/* Compact JSON of a small value (dtypes, shapes), truncated to cap. */
static void gen_value(yajl_gen g, yajl_val v, int depth)
{
    if (depth > 8)
        return;
    if (YAJL_IS_STRING(v))
        yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    else if (YAJL_IS_NUMBER(v))
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len && i < 20; i++)
            gen_value(g, v->u.array.values[i], depth + 1);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len && i < 30; i++) {
            yajl_gen_string(g, (const unsigned char *)v->u.object.keys[i], strlen(v->u.object.keys[i]));
            gen_value(g, v->u.object.values[i], depth + 1);
        }
        yajl_gen_map_close(g);
    } else {
        yajl_gen_null(g);
    }
}

static void compact(yajl_val v, char *dst, size_t cap)
{
    dst[0] = 0;
    if (!v)
        return;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return;
    gen_value(g, v, 0);
    const unsigned char *buf;
    size_t len;
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        if (len > cap - 1) {
            len = cap - 4;
            memcpy(dst, buf, len);
            memcpy(dst + len, "...", 4);
        } else {
            memcpy(dst, buf, len);
            dst[len] = 0;
        }
    }
    yajl_gen_free(g);
}

int kvs_lh_parse_line(const char *line, size_t n, kvs_lh_row *row, char *err, size_t errcap)
{
    memset(row, 0, sizeof *row);
    size_t b = 0;
    while (b < n && isspace((unsigned char)line[b]))
        b++;
    if (b == n)
        return 1;
    if (memchr(line, 0, n) || !kvs_lmc_json_depth_ok(line, n, MAX_DEPTH)) {
        snprintf(err, errcap, "invalid JSON (NUL byte or nesting deeper than %d)", MAX_DEPTH);
        return -1;
    }
    char *z = malloc(n + 1);
    if (!z) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    memcpy(z, line, n);
    z[n] = 0;
    char ebuf[128] = "";
    yajl_val v = yajl_tree_parse(z, ebuf, sizeof ebuf);
    free(z);
    if (!v) {
        for (char *c = ebuf; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        snprintf(err, errcap, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
        return -1;
    }
    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        snprintf(err, errcap, "expected object");
        return -1;
    }
    yajl_val f;
    if ((f = kvs_json_get(v, "model_name")) && YAJL_IS_STRING(f))
        copy(row->model_name, sizeof row->model_name, f->u.string);
    row->has_chunk_size = as_int(kvs_json_get(v, "chunk_size"), &row->chunk_size) == 0;
    row->has_seq_len = as_int(kvs_json_get(v, "seq_len"), &row->seq_len) == 0;
    static const char *const rid[] = { "request_id", "req_id", "external_request_id", NULL };
    for (int i = 0; rid[i]; i++)
        if ((f = kvs_json_get(v, rid[i])) && (YAJL_IS_STRING(f) || YAJL_IS_NUMBER(f))) {
            scalar_text(f, row->request_id, sizeof row->request_id);
            break;
        }
    static const char *const ts[] = { "timestamp", "time", "ts", NULL };
    for (int i = 0; ts[i]; i++)
        if ((f = kvs_json_get(v, ts[i])) && (YAJL_IS_STRING(f) || YAJL_IS_NUMBER(f))) {
            scalar_text(f, row->timestamp, sizeof row->timestamp);
            double t = YAJL_IS_INTEGER(f) ? (double)f->u.number.i : YAJL_IS_DOUBLE(f) ? f->u.number.d : 0;
            if (isfinite(t) && t > 0) {
                row->has_time = 1;
                row->time_s = t;
                if (row->time_s > 1e12)        /* milliseconds */
                    row->time_s /= 1000.0;
            }
            break;
        }
    if ((f = kvs_json_get(v, "chunk_hashes"))) {
        row->has_chunk_hashes = 1;
        if (YAJL_IS_ARRAY(f))
            row->chunk_hash_count = (int64_t)f->u.array.len;
        else if (YAJL_IS_OBJECT(f))
            row->chunk_hash_count = (int64_t)f->u.object.len;
        else if (YAJL_IS_NULL(f) || (YAJL_IS_STRING(f) && !f->u.string[0]))
            row->chunk_hash_count = 0;
        else
            row->chunk_hash_count = 1;
    }
    compact(kvs_json_get(v, "dtypes"), row->dtypes, sizeof row->dtypes);
    compact(kvs_json_get(v, "shapes"), row->shapes, sizeof row->shapes);
    config_from(v, &row->config);
    config_from(kvs_json_get(v, "config"), &row->config);
    yajl_tree_free(v);
    return 0;
}

void kvs_lh_summary_init(kvs_lh_summary *s) { memset(s, 0, sizeof *s); }

static void int_add(kvs_lh_int_summary *s, int64_t v)
{
    if (s->count == 0 || v < s->min)
        s->min = v;
    if (s->count == 0 || v > s->max)
        s->max = v;
    s->count++;
    if ((v > 0 && s->total > INT64_MAX - v) || (v < 0 && s->total < INT64_MIN - v))
        s->total = v > 0 ? INT64_MAX : INT64_MIN;
    else
        s->total += v;
}

static void config_merge(kvs_lh_config *dst, const kvs_lh_config *src)
{
    if (src->log_dir[0])
        memcpy(dst->log_dir, src->log_dir, sizeof dst->log_dir);
    if (src->rotation_interval[0])
        memcpy(dst->rotation_interval, src->rotation_interval, sizeof dst->rotation_interval);
    if (src->rotation_max_size[0])
        memcpy(dst->rotation_max_size, src->rotation_max_size, sizeof dst->rotation_max_size);
    if (src->max_files[0])
        memcpy(dst->max_files, src->max_files, sizeof dst->max_files);
}

void kvs_lh_summary_add(kvs_lh_summary *s, const kvs_lh_row *r)
{
    s->rows++;
    if (r->model_name[0]) {
        size_t i = 0;
        while (i < s->nmodels && strcmp(s->models[i], r->model_name) != 0)
            i++;
        if (i == s->nmodels) {
            if (s->nmodels < KVS_LH_MAX_SET)
                memcpy(s->models[s->nmodels++], r->model_name, sizeof s->models[0]);
            else
                s->more_models++;
        }
    }
    if (r->has_chunk_size) {
        size_t i = 0;
        while (i < s->nchunk_sizes && s->chunk_sizes[i] < r->chunk_size)
            i++;
        if ((i == s->nchunk_sizes || s->chunk_sizes[i] != r->chunk_size) && s->nchunk_sizes < KVS_LH_MAX_SET) {
            memmove(&s->chunk_sizes[i + 1], &s->chunk_sizes[i], (s->nchunk_sizes - i) * sizeof s->chunk_sizes[0]);
            s->chunk_sizes[i] = r->chunk_size;
            s->nchunk_sizes++;
        }
    }
    if (r->has_seq_len)
        int_add(&s->seq_len, r->seq_len);
    if (r->has_chunk_hashes)
        int_add(&s->chunk_hash_count, r->chunk_hash_count);
    if (r->has_time) {
        if (s->first_time == 0 || r->time_s < s->first_time)
            s->first_time = r->time_s;
        if (r->time_s > s->last_time)
            s->last_time = r->time_s;
    }
    config_merge(&s->config, &r->config);
}
