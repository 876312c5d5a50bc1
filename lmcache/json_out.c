/* JSON builder and writer (see json_out.h). */
#include "lmcache/json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct member {
    const char *key;
    kvs_lmc_json *v;
} member;

struct kvs_lmc_json {
    int t;
    bool b;
    double n;
    const char *s;
    kvs_arena *arena;
    member *m;          /* objects */
    kvs_lmc_json **a;   /* arrays */
    size_t len, cap;
    bool oom;           /* a put / push was lost */
};

static kvs_lmc_json *node(kvs_arena *a, int t)
{
    kvs_lmc_json *j = a ? kvs_arena_zalloc(a, sizeof *j) : NULL;
    if (j) {
        j->t = t;
        j->arena = a;
    }
    return j;
}

kvs_lmc_json *kvs_lmc_json_object(kvs_arena *a) { return node(a, J_OBJ); }
kvs_lmc_json *kvs_lmc_json_array(kvs_arena *a) { return node(a, J_ARR); }
kvs_lmc_json *kvs_lmc_json_null(kvs_arena *a) { return node(a, J_NULL); }

kvs_lmc_json *kvs_lmc_json_str(kvs_arena *a, const char *s)
{
    if (!s)
        return node(a, J_NULL);
    kvs_lmc_json *j = node(a, J_STR);
    if (j && !(j->s = kvs_arena_strdup(a, s)))
        return NULL;
    return j;
}

kvs_lmc_json *kvs_lmc_json_num(kvs_arena *a, double v)
{
    kvs_lmc_json *j = node(a, J_NUM);
    if (j)
        j->n = v;
    return j;
}

kvs_lmc_json *kvs_lmc_json_bool(kvs_arena *a, bool b)
{
    kvs_lmc_json *j = node(a, J_BOOL);
    if (j)
        j->b = b;
    return j;
}

static bool reserve(kvs_lmc_json *c, size_t elem)
{
    if (c->len < c->cap)
        return true;
    size_t nc = c->cap ? c->cap * 2 : 8;
    void *old = c->t == J_OBJ ? (void *)c->m : (void *)c->a;
    void *nv = kvs_arena_grow(c->arena, old, c->cap * elem, nc * elem);
    if (!nv)
        return false;
    if (c->t == J_OBJ)
        c->m = nv;
    else
        c->a = nv;
    c->cap = nc;
    return true;
}

void kvs_lmc_json_put(kvs_lmc_json *obj, const char *key, kvs_lmc_json *v)
{
    if (!obj || obj->t != J_OBJ || !key)
        return;
    if (!v)
        obj->oom = true;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->m[i].key, key) == 0) {
            obj->m[i].v = v;
            return;
        }
    const char *k = reserve(obj, sizeof *obj->m) ? kvs_arena_strdup(obj->arena, key) : NULL;
    if (!k) {
        obj->oom = true;
        return;
    }
    obj->m[obj->len].key = k;
    obj->m[obj->len].v = v;
    obj->len++;
}

void kvs_lmc_json_push(kvs_lmc_json *arr, kvs_lmc_json *v)
{
    if (!arr || arr->t != J_ARR)
        return;
    if (!v || !reserve(arr, sizeof *arr->a)) {
        arr->oom = true;
        return;
    }
    arr->a[arr->len++] = v;
}

void kvs_lmc_json_put_str(kvs_lmc_json *o, const char *k, const char *s)
{
    if (o)
        kvs_lmc_json_put(o, k, kvs_lmc_json_str(o->arena, s));
}

void kvs_lmc_json_put_num(kvs_lmc_json *o, const char *k, double v)
{
    if (o)
        kvs_lmc_json_put(o, k, kvs_lmc_json_num(o->arena, v));
}

void kvs_lmc_json_put_bool(kvs_lmc_json *o, const char *k, bool b)
{
    if (o)
        kvs_lmc_json_put(o, k, kvs_lmc_json_bool(o->arena, b));
}

kvs_lmc_json *kvs_lmc_json_strs(kvs_arena *a, const char *const *v, size_t n)
{
    kvs_lmc_json *arr = kvs_lmc_json_array(a);
    for (size_t i = 0; i < n; i++)
        kvs_lmc_json_push(arr, kvs_lmc_json_str(a, v[i]));
    return arr;
}

/* ---- writing ---- */

void kvs_lmc_json_write_num(double v, kvs_buf *out)
{
    char b[40];
    if (isnan(v) || isinf(v)) {
        kvs_buf_puts(out, "null");
        return;
    }
    if (v == 0) {
        kvs_buf_putc(out, '0');
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(b, sizeof b, "%.0f", v);
        kvs_buf_puts(out, b);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v)
            break;
    }
    kvs_buf_puts(out, b);
}

static unsigned utf8_decode(const unsigned char *s, size_t n, size_t *used)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || len > n) {
        *used = 1;
        return 0xFFFD;
    }
    unsigned cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *used = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned minv[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minv[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *used = 1;
        return 0xFFFD;
    }
    *used = len;
    return cp;
}

static void write_str(const char *s, kvs_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    kvs_buf_putc(out, '"');
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            kvs_buf_putc(out, (char)c);
            i++;
            continue;
        }
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc) {
            kvs_buf_puts(out, esc);
            i++;
            continue;
        }
        size_t used;
        unsigned cp = c < 0x80 ? c : utf8_decode((const unsigned char *)s + i, n - i, &used);
        if (c < 0x80)
            used = 1;
        i += used;
        unsigned units[2] = {cp, 0};
        int nu = 1;
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            units[0] = 0xD800 + (cp >> 10);
            units[1] = 0xDC00 + (cp & 0x3FF);
            nu = 2;
        }
        for (int u = 0; u < nu; u++) {
            char e[7] = {'\\', 'u', hex[(units[u] >> 12) & 15], hex[(units[u] >> 8) & 15], hex[(units[u] >> 4) & 15],
                         hex[units[u] & 15], 0};
            kvs_buf_puts(out, e);
        }
    }
    kvs_buf_putc(out, '"');
}

static void indent(kvs_buf *out, int depth)
{
    kvs_buf_putc(out, '\n');
    for (int i = 0; i < depth; i++)
        kvs_buf_puts(out, "  ");
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const member *)a)->key, ((const member *)b)->key);
}

static void write_val(const kvs_lmc_json *v, kvs_buf *out, int depth)
{
    if (!v || v->oom) { /* a value or member the builder could not allocate */
        out->oom = 1;
        if (!v) {
            kvs_buf_puts(out, "null");
            return;
        }
    }
    switch (v->t) {
    case J_BOOL: kvs_buf_puts(out, v->b ? "true" : "false"); return;
    case J_NUM: kvs_lmc_json_write_num(v->n, out); return;
    case J_STR: write_str(v->s, out); return;
    case J_ARR:
        if (!v->len) {
            kvs_buf_puts(out, "[]");
            return;
        }
        kvs_buf_putc(out, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                kvs_buf_putc(out, ',');
            indent(out, depth + 1);
            write_val(v->a[i], out, depth + 1);
        }
        indent(out, depth);
        kvs_buf_putc(out, ']');
        return;
    case J_OBJ: {
        if (!v->len) {
            kvs_buf_puts(out, "{}");
            return;
        }
        member *sorted = malloc(v->len * sizeof *sorted);
        if (!sorted) {
            out->oom = 1;
            kvs_buf_puts(out, "null");
            return;
        }
        memcpy(sorted, v->m, v->len * sizeof *sorted);
        qsort(sorted, v->len, sizeof *sorted, cmp_member);
        kvs_buf_putc(out, '{');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                kvs_buf_putc(out, ',');
            indent(out, depth + 1);
            write_str(sorted[i].key, out);
            kvs_buf_puts(out, ": ");
            write_val(sorted[i].v, out, depth + 1);
        }
        free(sorted);
        indent(out, depth);
        kvs_buf_putc(out, '}');
        return;
    }
    default: kvs_buf_puts(out, "null"); return;
    }
}

void kvs_lmc_json_write(const kvs_lmc_json *v, kvs_buf *out)
{
    write_val(v, out, 0);
    kvs_buf_putc(out, '\n');
}
