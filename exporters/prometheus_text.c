/* OTLP -> Prometheus text for the `prometheus` exporter: metric and label
 * naming, the series store (chained hash maps of families and series,
 * latest point per series, delta -> cumulative, expiration) and the 0.0.4
 * rendering. See exporters/prometheus_text.h for what it promises. */
#include "exporters/prometheus_text.h"

#include "core/arena.h"
#include "core/batch.h"
#include "core/clock.h"
#include "core/error.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_RECORDED_VALUE 1u   /* DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK */
#define SWEEP_EVERY_NS KVS_SEC

/* ---- naming ---- */

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

typedef struct unit_map {
    const char *otel, *prom;
} unit_map;

/* The Collector's translator tables (pkg/translator/prometheus). */
static const unit_map main_units[] = {
    { "d", "days" },          { "h", "hours" },          { "min", "minutes" },      { "s", "seconds" },
    { "ms", "milliseconds" }, { "us", "microseconds" },  { "ns", "nanoseconds" },   { "By", "bytes" },
    { "KiBy", "kibibytes" },  { "MiBy", "mebibytes" },   { "GiBy", "gibibytes" },   { "TiBy", "tibibytes" },
    { "KBy", "kilobytes" },   { "MBy", "megabytes" },    { "GBy", "gigabytes" },    { "TBy", "terabytes" },
    { "m", "meters" },        { "V", "volts" },          { "A", "amperes" },        { "J", "joules" },
    { "W", "watts" },         { "g", "grams" },          { "Cel", "celsius" },      { "Hz", "hertz" },
    { "1", "" },              { "%", "percent" },        { NULL, NULL },
};

static const unit_map per_units[] = {
    { "s", "second" }, { "m", "minute" }, { "h", "hour" }, { "d", "day" },
    { "w", "week" },   { "mo", "month" }, { "y", "year" }, { NULL, NULL },
};

typedef struct tok {
    const char *p;
    size_t n;
} tok;

typedef struct toks {
    tok *v;
    size_t n, cap;
    tok inline_v[24];
} toks;

static void toks_push(toks *t, const char *p, size_t n)
{
    if (t->n == t->cap) {
        size_t cap = t->cap * 2;
        tok *v = t->v == t->inline_v ? malloc(cap * sizeof *v) : realloc(t->v, cap * sizeof *v);
        if (!v)
            return;
        if (t->v == t->inline_v)
            memcpy(v, t->inline_v, sizeof t->inline_v);
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (tok){ p, n };
}

static void toks_free(toks *t)
{
    if (t->v != t->inline_v)
        free(t->v);
}

static bool tok_is(tok t, const char *s, size_t n) { return t.n == n && memcmp(t.p, s, n) == 0; }

static bool toks_contain(const toks *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->n; i++)
        if (tok_is(t->v[i], s, n))
            return true;
    return false;
}

static void toks_remove(toks *t, const char *s)
{
    size_t n = strlen(s), j = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!tok_is(t->v[i], s, n))
            t->v[j++] = t->v[i];
    t->n = j;
}

/* Splits [p, p+n) on every character that is not an ASCII letter or digit. */
static void split_alnum(toks *t, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !is_alnum((unsigned char)p[i]))
            i++;
        size_t s = i;
        while (i < n && is_alnum((unsigned char)p[i]))
            i++;
        if (i > s)
            toks_push(t, p + s, i - s);
    }
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* The Prometheus word of one side of a unit, cleaned (its alphanumeric
 * runs joined with `_`), into `out`; empty when it adds nothing. `{word}`
 * alone gives `word`; other braces make the unit unusable. */
static void unit_word(const char *p, size_t n, const unit_map *map, kvs_buf *out)
{
    trim(&p, &n);
    if (!n)
        return;
    const char *word = NULL;
    size_t wn = 0;
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}' && !memchr(p + 1, '{', n - 2) && !memchr(p + 1, '}', n - 2)) {
        word = p + 1;
        wn = n - 2;
    } else if (memchr(p, '{', n) || memchr(p, '}', n)) {
        return;
    } else {
        word = p;
        wn = n;
        for (const unit_map *m = map; m->otel; m++)
            if (strlen(m->otel) == n && memcmp(m->otel, p, n) == 0) {
                word = m->prom;
                wn = strlen(m->prom);
                break;
            }
    }
    toks t = { .v = NULL, .cap = 24 };
    t.v = t.inline_v;
    split_alnum(&t, word, wn);
    for (size_t i = 0; i < t.n; i++) {
        if (i)
            kvs_buf_putc(out, '_');
        kvs_buf_append(out, t.v[i].p, t.v[i].n);
    }
    toks_free(&t);
}

void kvs_promx_metric_name(const char *name, const char *unit, kvs_promx_type type, const char *ns,
                           bool add_suffixes, kvs_buf *out)
{
    size_t start = out->len;
    if (!name)
        name = "";
    if (!unit)
        unit = "";
    if (!add_suffixes) {
        /* only forbidden characters go: runs of [A-Za-z0-9_:] joined by `_` */
        if (ns && *ns) {
            kvs_buf_puts(out, ns);
            kvs_buf_putc(out, '_');
        }
        size_t body = out->len;
        const char *p = name;
        bool first = true;
        while (*p) {
            while (*p && !(is_alnum((unsigned char)*p) || *p == '_' || *p == ':'))
                p++;
            const char *s = p;
            while (*p && (is_alnum((unsigned char)*p) || *p == '_' || *p == ':'))
                p++;
            if (p > s) {
                if (!first)
                    kvs_buf_putc(out, '_');
                kvs_buf_append(out, s, (size_t)(p - s));
                first = false;
            }
        }
        if (out->len > body && body == start && is_digit((unsigned char)out->data[start])) {
            kvs_buf_putc(out, '_');
            memmove(out->data + start + 1, out->data + start, out->len - start - 1);
            out->data[start] = '_';
        }
        return;
    }
    toks t = { .v = NULL, .cap = 24 };
    t.v = t.inline_v;
    split_alnum(&t, name, strlen(name));
    kvs_buf mainw = { 0 }, perw = { 0 };
    const char *slash = strchr(unit, '/');
    unit_word(unit, slash ? (size_t)(slash - unit) : strlen(unit), main_units, &mainw);
    if (mainw.len && !toks_contain(&t, mainw.data, mainw.len))
        toks_push(&t, mainw.data, mainw.len);
    if (slash) {
        unit_word(slash + 1, strlen(slash + 1), per_units, &perw);
        if (perw.len && !toks_contain(&t, perw.data, perw.len)) {
            toks_push(&t, "per", 3);
            toks_push(&t, perw.data, perw.len);
        }
    }
    if (type == KVS_PROMX_COUNTER) {
        toks_remove(&t, "total");
        toks_push(&t, "total", 5);
    }
    if (type == KVS_PROMX_GAUGE && strcmp(unit, "1") == 0) {
        toks_remove(&t, "ratio");
        toks_push(&t, "ratio", 5);
    }
    if (ns && *ns)
        kvs_buf_puts(out, ns);
    for (size_t i = 0; i < t.n; i++) {
        if (out->len > start)
            kvs_buf_putc(out, '_');
        kvs_buf_append(out, t.v[i].p, t.v[i].n);
    }
    if (out->len > start && !out->oom && is_digit((unsigned char)out->data[start])) {
        kvs_buf_putc(out, '_');
        if (!out->oom) {
            memmove(out->data + start + 1, out->data + start, out->len - start - 1);
            out->data[start] = '_';
        }
    }
    kvs_buf_free(&mainw);
    kvs_buf_free(&perw);
    toks_free(&t);
}

void kvs_promx_label_name(const char *key, kvs_buf *out)
{
    if (!key || !*key)
        return;
    if (is_digit((unsigned char)key[0]))
        kvs_buf_puts(out, "key_");
    else if (key[0] == '_' && key[1] != '_')
        kvs_buf_puts(out, "key");
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (is_alnum(*p) || *p == '_')
            kvs_buf_putc(out, (char)*p);
        else if ((*p & 0xC0) != 0x80)   /* one `_` per UTF-8 character */
            kvs_buf_putc(out, '_');
    }
}

/* ---- values ---- */

static void put_double(kvs_buf *b, double v)
{
    if (isnan(v)) {
        kvs_buf_puts(b, "NaN");
    } else if (isinf(v)) {
        kvs_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    } else {
        char t[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(t, sizeof t, "%.*g", prec, v);
            if (strtod(t, NULL) == v)
                break;
        }
        kvs_buf_puts(b, t);
    }
}

static void json_string(kvs_buf *b, const char *s, size_t n)
{
    kvs_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            kvs_buf_putc(b, '\\');
            kvs_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            kvs_buf_printf(b, "\\u%04x", c);
        } else {
            kvs_buf_putc(b, (char)c);
        }
    }
    kvs_buf_putc(b, '"');
}

static void base64(kvs_buf *b, const uint8_t *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        kvs_buf_putc(b, tab[v >> 18 & 63]);
        kvs_buf_putc(b, tab[v >> 12 & 63]);
        kvs_buf_putc(b, i + 1 < n ? tab[v >> 6 & 63] : '=');
        kvs_buf_putc(b, i + 2 < n ? tab[v & 63] : '=');
    }
}

/* AnyValue as a string, as the Collector's pcommon Value.AsString. */
static void any_string(kvs_buf *b, const kvs_any *v, bool json, int depth)
{
    if (!v || depth > 32) {
        if (json)
            kvs_buf_puts(b, "null");
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        if (json)
            json_string(b, v->string_value, strlen(v->string_value));
        else
            kvs_buf_puts(b, v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        kvs_buf_puts(b, v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        kvs_buf_printf(b, "%" PRId64, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (json && !isfinite(v->double_value)) {
            kvs_buf_putc(b, '"');
            put_double(b, v->double_value);
            kvs_buf_putc(b, '"');
        } else {
            put_double(b, v->double_value);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        if (json)
            kvs_buf_putc(b, '"');
        base64(b, v->bytes_value.data, v->bytes_value.len);
        if (json)
            kvs_buf_putc(b, '"');
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        kvs_buf_putc(b, '[');
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            if (i)
                kvs_buf_putc(b, ',');
            any_string(b, v->array_value->values[i], true, depth + 1);
        }
        kvs_buf_putc(b, ']');
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        kvs_buf_putc(b, '{');
        for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            const kvs_kv *kv = v->kvlist_value->values[i];
            if (i)
                kvs_buf_putc(b, ',');
            json_string(b, kv->key, strlen(kv->key));
            kvs_buf_putc(b, ':');
            any_string(b, kv->value, true, depth + 1);
        }
        kvs_buf_putc(b, '}');
        break;
    default:
        if (json)
            kvs_buf_puts(b, "null");
        break;
    }
}

static void escape_label_value(kvs_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            kvs_buf_putc(b, '\\');
            kvs_buf_putc(b, *s);
        } else if (*s == '\n') {
            kvs_buf_puts(b, "\\n");
        } else {
            kvs_buf_putc(b, *s);
        }
    }
}

static void escape_help(kvs_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            kvs_buf_puts(b, "\\\\");
        else if (*s == '\n')
            kvs_buf_puts(b, "\\n");
        else
            kvs_buf_putc(b, *s);
    }
}

/* ---- the store ---- */

typedef struct family {
    struct family *next;
    uint64_t hash;
    char *name;
    char *help;
    kvs_promx_type type;
    size_t nseries;
} family;

typedef struct series {
    struct series *next;
    uint64_t hash;
    family *fam;
    char *labels;            /* `a="x",b="y"`, sorted by name; "" when none */
    uint64_t updated_ns;     /* caller's monotonic clock */
    uint64_t time_ns, start_ns;
    bool is_int;
    int64_t i;
    double d;
    uint64_t count;          /* histogram, summary */
    double sum;
    size_t nb;               /* histogram: explicit bounds; summary: quantiles */
    double *bounds;          /* histogram bounds or summary quantiles */
    uint64_t *counts;        /* histogram: nb + 1 bucket counts (not cumulative) */
    double *qvals;           /* summary: values of the quantiles */
} series;

/* A label candidate: its sanitized name, the key it came from, its value,
 * and the priority of its source (a higher one wins a name). */
typedef struct lab {
    const char *name, *key, *value;
    int prio;
} lab;

enum { P_RESOURCE, P_POINT, P_JOBINST, P_SCOPE, P_CONST };

struct kvs_promx_store {
    pthread_mutex_t lock;
    char *ns;
    bool r2t, send_ts, suffixes;
    uint64_t expiration_ns;
    lab *consts;
    size_t nconsts;
    char **const_strs;

    family **fb;
    size_t fcap, fn;
    series **sb;
    size_t scap, sn;
    uint64_t last_sweep;

    kvs_arena *res_a, *pt_a;   /* scratch: per resource, per point */
    lab *rlabs, *labs;         /* resource-level candidates; one point's */
    size_t nrlabs, rlabs_cap, labs_cap;
    kvs_buf name, text, tmp;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
    if (!h)
        h = UINT64_C(1469598103934665603);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xFF51AFD7ED558CCD);
    x ^= x >> 33;
    return x;
}

kvs_promx_store *kvs_promx_new(const kvs_promx_options *o)
{
    kvs_promx_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->r2t = o->resource_to_telemetry;
    s->send_ts = o->send_timestamps;
    s->suffixes = o->add_metric_suffixes;
    s->expiration_ns = o->expiration_ns;
    s->fcap = 64;
    s->scap = 1024;
    s->fb = calloc(s->fcap, sizeof *s->fb);
    s->sb = calloc(s->scap, sizeof *s->sb);
    s->res_a = kvs_arena_new();
    s->pt_a = kvs_arena_new();
    s->ns = o->ns && *o->ns ? strdup(o->ns) : NULL;
    s->consts = calloc(o->nconst_labels + 1, sizeof *s->consts);
    s->const_strs = calloc(o->nconst_labels * 3 + 1, sizeof *s->const_strs);
    if (!s->fb || !s->sb || !s->res_a || !s->pt_a || (o->ns && *o->ns && !s->ns) || !s->consts || !s->const_strs) {
        kvs_promx_free(s);
        return NULL;
    }
    for (size_t i = 0; i < o->nconst_labels; i++) {
        kvs_buf n = { 0 };
        kvs_promx_label_name(o->const_labels[i].name, &n);
        kvs_buf_putc(&n, 0);
        char *key = strdup(o->const_labels[i].name), *val = strdup(o->const_labels[i].value);
        s->const_strs[3 * i] = n.data;
        s->const_strs[3 * i + 1] = key;
        s->const_strs[3 * i + 2] = val;
        if (n.oom || !key || !val) {
            s->nconsts = i + 1;
            kvs_promx_free(s);
            return NULL;
        }
        s->consts[i] = (lab){ n.data, key, val, P_CONST };
    }
    s->nconsts = o->nconst_labels;
    return s;
}

static void series_free(series *sr)
{
    free(sr->labels);
    free(sr->bounds);
    free(sr->counts);
    free(sr->qvals);
    free(sr);
}

void kvs_promx_free(kvs_promx_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->sb && i < s->scap; i++)
        for (series *sr = s->sb[i], *nx; sr; sr = nx) {
            nx = sr->next;
            series_free(sr);
        }
    for (size_t i = 0; s->fb && i < s->fcap; i++)
        for (family *f = s->fb[i], *nx; f; f = nx) {
            nx = f->next;
            free(f->name);
            free(f->help);
            free(f);
        }
    for (size_t i = 0; s->const_strs && i < s->nconsts * 3; i++)
        free(s->const_strs[i]);
    free(s->const_strs);
    free(s->consts);
    free(s->fb);
    free(s->sb);
    free(s->ns);
    free(s->rlabs);
    free(s->labs);
    kvs_arena_free(s->res_a);
    kvs_arena_free(s->pt_a);
    kvs_buf_free(&s->name);
    kvs_buf_free(&s->text);
    kvs_buf_free(&s->tmp);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* -- families -- */

static family *family_find(kvs_promx_store *s, const char *name, uint64_t h)
{
    for (family *f = s->fb[h & (s->fcap - 1)]; f; f = f->next)
        if (f->hash == h && strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static void grow_families(kvs_promx_store *s)
{
    size_t cap = s->fcap * 2;
    family **nb = calloc(cap, sizeof *nb);
    if (!nb)
        return;   /* longer chains, still correct */
    for (size_t i = 0; i < s->fcap; i++)
        for (family *f = s->fb[i], *nx; f; f = nx) {
            nx = f->next;
            f->next = nb[f->hash & (cap - 1)];
            nb[f->hash & (cap - 1)] = f;
        }
    free(s->fb);
    s->fb = nb;
    s->fcap = cap;
}

static family *family_get(kvs_promx_store *s, const char *name, const char *help, kvs_promx_type type,
                          bool *conflict)
{
    *conflict = false;
    uint64_t h = mix(hash_str(0, name));
    family *f = family_find(s, name, h);
    if (f && f->type != type) {
        if (f->nseries) {
            *conflict = true;
            return NULL;
        }
        f->type = type;
    }
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f || !(f->name = strdup(name))) {
            free(f);
            return NULL;
        }
        f->hash = h;
        f->type = type;
        if (s->fn + 1 > s->fcap)
            grow_families(s);
        f->next = s->fb[h & (s->fcap - 1)];
        s->fb[h & (s->fcap - 1)] = f;
        s->fn++;
    }
    if (!help || !*help)
        help = name;
    if (!f->help || strcmp(f->help, help) != 0) {
        char *nh = strdup(help);
        if (nh) {
            free(f->help);
            f->help = nh;
        }
    }
    return f;
}

static void family_release(kvs_promx_store *s, family *f)
{
    if (--f->nseries)
        return;
    family **pp = &s->fb[f->hash & (s->fcap - 1)];
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    s->fn--;
    free(f->name);
    free(f->help);
    free(f);
}

/* -- series -- */

static void grow_series(kvs_promx_store *s)
{
    size_t cap = s->scap * 2;
    series **nb = calloc(cap, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < s->scap; i++)
        for (series *sr = s->sb[i], *nx; sr; sr = nx) {
            nx = sr->next;
            sr->next = nb[sr->hash & (cap - 1)];
            nb[sr->hash & (cap - 1)] = sr;
        }
    free(s->sb);
    s->sb = nb;
    s->scap = cap;
}

static uint64_t series_hash(const family *f, const char *labels) { return mix(hash_str(f->hash, labels)); }

static series *series_find(kvs_promx_store *s, family *f, const char *labels, uint64_t h, series ***at)
{
    series **pp = &s->sb[h & (s->scap - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->fam == f && strcmp((*pp)->labels, labels) == 0) {
            if (at)
                *at = pp;
            return *pp;
        }
    return NULL;
}

static series *series_get(kvs_promx_store *s, family *f, const char *labels, bool *created)
{
    uint64_t h = series_hash(f, labels);
    series *sr = series_find(s, f, labels, h, NULL);
    *created = false;
    if (sr)
        return sr;
    sr = calloc(1, sizeof *sr);
    if (!sr || !(sr->labels = strdup(labels))) {
        free(sr);
        return NULL;
    }
    sr->hash = h;
    sr->fam = f;
    if (s->sn + 1 > s->scap)
        grow_series(s);
    sr->next = s->sb[h & (s->scap - 1)];
    s->sb[h & (s->scap - 1)] = sr;
    s->sn++;
    f->nseries++;
    *created = true;
    return sr;
}

static void series_remove(kvs_promx_store *s, series **at)
{
    series *sr = *at;
    *at = sr->next;
    s->sn--;
    family_release(s, sr->fam);
    series_free(sr);
}

static void sweep(kvs_promx_store *s, uint64_t now)
{
    s->last_sweep = now;
    if (!s->expiration_ns)
        return;
    for (size_t i = 0; i < s->scap; i++) {
        series **pp = &s->sb[i];
        while (*pp) {
            if (now > (*pp)->updated_ns && now - (*pp)->updated_ns > s->expiration_ns)
                series_remove(s, pp);
            else
                pp = &(*pp)->next;
        }
    }
}

/* -- labels -- */

static int push_lab(lab **v, size_t *n, size_t *cap, lab l)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        lab *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = l;
    return 0;
}

/* Adds attributes as candidates, their names sanitized and values as
 * strings, allocated in `a`. Empty names are skipped. */
static int add_attr_labs(kvs_promx_store *s, kvs_arena *a, lab **v, size_t *n, size_t *cap, kvs_kv *const *kv,
                         size_t nkv, int prio, bool skip_service)
{
    for (size_t i = 0; i < nkv; i++) {
        const char *k = kv[i]->key;
        if (!k || !*k)
            continue;
        if (skip_service && (strcmp(k, "service.name") == 0 || strcmp(k, "service.namespace") == 0 ||
                             strcmp(k, "service.instance.id") == 0))
            continue;
        s->tmp.len = 0;
        kvs_promx_label_name(k, &s->tmp);
        char *name = kvs_arena_strndup(a, s->tmp.data ? s->tmp.data : "", s->tmp.len);
        s->tmp.len = 0;
        any_string(&s->tmp, kv[i]->value, false, 0);
        char *val = kvs_arena_strndup(a, s->tmp.data ? s->tmp.data : "", s->tmp.len);
        if (!name || !val || s->tmp.oom || push_lab(v, n, cap, (lab){ name, k, val, prio }))
            return -1;
    }
    return 0;
}

static int cmp_lab(const void *x, const void *y)
{
    const lab *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    if (a->prio != b->prio)
        return a->prio < b->prio ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Sorts the candidates and writes `a="x",b="y"` into s->text (NUL
 * terminated): per name, the highest-priority source wins; several keys of
 * that source sharing the name have their values joined with `;`. */
static int render_labels(kvs_promx_store *s, lab *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_lab);
    s->text.len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(v[j].name, v[i].name) == 0)
            j++;
        int top = v[j - 1].prio;
        size_t first = i;
        while (v[first].prio != top)
            first++;
        if (s->text.len)
            kvs_buf_putc(&s->text, ',');
        kvs_buf_puts(&s->text, v[i].name);
        kvs_buf_puts(&s->text, "=\"");
        for (size_t k = first; k < j; k++) {
            if (k > first)
                kvs_buf_putc(&s->text, ';');
            escape_label_value(&s->text, v[k].value);
        }
        kvs_buf_putc(&s->text, '"');
        i = j;
    }
    kvs_buf_putc(&s->text, 0);
    return s->text.oom ? -1 : 0;
}

static const char *attr_str(kvs_kv *const *kv, size_t n, const char *key, kvs_arena *a, kvs_buf *tmp)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0) {
            tmp->len = 0;
            any_string(tmp, kv[i]->value, false, 0);
            return kvs_arena_strndup(a, tmp->data ? tmp->data : "", tmp->len);
        }
    return NULL;
}

/* -- points -- */

static bool contiguous(const series *sr, uint64_t start) { return start == 0 || start == sr->time_ns; }

static void set_number(series *sr, const kvs_number_point *p, bool delta, bool created, uint64_t t)
{
    bool is_int = p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    if (delta && !created && contiguous(sr, p->start_time_unix_nano)) {
        if (sr->is_int && is_int) {
            sr->i += p->as_int;
        } else {
            double cur = sr->is_int ? (double)sr->i : sr->d;
            sr->d = cur + (is_int ? (double)p->as_int : p->as_double);
            sr->is_int = false;
        }
    } else {
        sr->is_int = is_int;
        sr->i = is_int ? p->as_int : 0;
        sr->d = is_int ? 0 : p->as_double;
        sr->start_ns = p->start_time_unix_nano;
    }
    sr->time_ns = t;
}

static int set_histogram(series *sr, const kvs_histogram_point *p, bool delta, bool created, uint64_t t)
{
    size_t nb = p->n_bucket_counts ? p->n_explicit_bounds : 0;
    bool same = sr->counts && sr->nb == nb &&
                (nb == 0 || memcmp(sr->bounds, p->explicit_bounds, nb * sizeof *sr->bounds) == 0);
    if (delta && !created && same && contiguous(sr, p->start_time_unix_nano)) {
        for (size_t i = 0; i <= nb && p->n_bucket_counts; i++)
            sr->counts[i] += p->bucket_counts[i];
        sr->count += p->count;
        sr->sum += p->_sum_case ? p->sum : 0;
    } else {
        double *b = nb ? malloc(nb * sizeof *b) : NULL;
        uint64_t *c = malloc((nb + 1) * sizeof *c);
        if ((nb && !b) || !c) {
            free(b);
            free(c);
            return -1;
        }
        if (nb)
            memcpy(b, p->explicit_bounds, nb * sizeof *b);
        if (p->n_bucket_counts)
            memcpy(c, p->bucket_counts, (nb + 1) * sizeof *c);
        else
            c[0] = p->count;
        free(sr->bounds);
        free(sr->counts);
        sr->bounds = b;
        sr->counts = c;
        sr->nb = nb;
        sr->count = p->count;
        sr->sum = p->_sum_case ? p->sum : 0;
        sr->start_ns = p->start_time_unix_nano;
    }
    sr->time_ns = t;
    return 0;
}

static int set_summary(series *sr, const kvs_summary_point *p, uint64_t t)
{
    size_t n = p->n_quantile_values;
    double *q = n ? malloc(n * sizeof *q) : NULL, *v = n ? malloc(n * sizeof *v) : NULL;
    if (n && (!q || !v)) {
        free(q);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        q[i] = p->quantile_values[i]->quantile;
        v[i] = p->quantile_values[i]->value;
    }
    free(sr->bounds);
    free(sr->qvals);
    sr->bounds = q;
    sr->qvals = v;
    sr->nb = n;
    sr->count = p->count;
    sr->sum = p->sum;
    sr->start_ns = p->start_time_unix_nano;
    sr->time_ns = t;
    return 0;
}

/* Histogram bucket counts must fit the bounds and add up to the count. */
static bool histogram_ok(const kvs_histogram_point *p)
{
    if (!p->n_bucket_counts)
        return true;
    if (p->n_bucket_counts != p->n_explicit_bounds + 1)
        return false;
    uint64_t total = 0;
    for (size_t i = 0; i < p->n_bucket_counts; i++)
        total += p->bucket_counts[i];
    for (size_t i = 1; i < p->n_explicit_bounds; i++)
        if (!(p->explicit_bounds[i] > p->explicit_bounds[i - 1]))
            return false;
    return total == p->count;
}

typedef struct metric_ctx {
    family *fam;
    kvs_promx_type type;
    bool delta;
    int data_case;
} metric_ctx;

/* One data point: its labels, its series, its value. */
static void add_point(kvs_promx_store *s, const metric_ctx *mc, kvs_kv *const *attrs, size_t nattrs, uint32_t flags,
                      uint64_t time, const void *pt, uint64_t now, kvs_promx_stats *st)
{
    kvs_arena_reset(s->pt_a);
    size_t n = 0;
    for (size_t i = 0; i < s->nrlabs; i++)
        if (push_lab(&s->labs, &n, &s->labs_cap, s->rlabs[i]))
            goto nomem;
    if (add_attr_labs(s, s->pt_a, &s->labs, &n, &s->labs_cap, attrs, nattrs, P_POINT, false))
        goto nomem;
    if (render_labels(s, s->labs, n))
        goto nomem;
    if (flags & NO_RECORDED_VALUE) {
        series **at;
        uint64_t h = series_hash(mc->fam, s->text.data);
        if (series_find(s, mc->fam, s->text.data, h, &at))
            series_remove(s, at);
        st->stale++;
        return;
    }
    bool created;
    series *sr = series_get(s, mc->fam, s->text.data, &created);
    if (!sr)
        goto nomem;
    if (!time)
        time = kvs_wall_ns();
    if (!created && time < sr->time_ns) {
        st->out_of_order++;
        return;
    }
    int r = 0;
    switch (mc->type) {
    case KVS_PROMX_GAUGE: case KVS_PROMX_COUNTER: set_number(sr, pt, mc->delta, created, time); break;
    case KVS_PROMX_HISTOGRAM: r = set_histogram(sr, pt, mc->delta, created, time); break;
    case KVS_PROMX_SUMMARY: r = set_summary(sr, pt, time); break;
    }
    if (r) {
        if (created) {
            series **at;
            if (series_find(s, mc->fam, sr->labels, sr->hash, &at))
                series_remove(s, at);
        }
        goto nomem;
    }
    sr->updated_ns = now;
    st->stored++;
    return;
nomem:
    st->invalid++;
}

static void add_metric(kvs_promx_store *s, const kvs_metric *m, uint64_t now, kvs_promx_stats *st)
{
    metric_ctx mc = { .data_case = m->data_case };
    size_t npts = kvs_metric_points(m);
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        mc.type = KVS_PROMX_GAUGE;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        mc.type = m->sum->is_monotonic ? KVS_PROMX_COUNTER : KVS_PROMX_GAUGE;
        mc.delta = m->sum->aggregation_temporality ==
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        mc.type = KVS_PROMX_HISTOGRAM;
        mc.delta = m->histogram->aggregation_temporality ==
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        mc.type = KVS_PROMX_SUMMARY;
        break;
    default:
        st->unsupported += npts ? npts : 1;
        return;
    }
    s->name.len = 0;
    kvs_promx_metric_name(m->name, m->unit, mc.type, s->ns, s->suffixes, &s->name);
    kvs_buf_putc(&s->name, 0);
    if (s->name.oom || !s->name.data[0]) {
        st->invalid += npts;
        return;
    }
    bool conflict;
    mc.fam = family_get(s, s->name.data, m->description, mc.type, &conflict);
    if (!mc.fam) {
        if (conflict)
            st->type_conflict += npts;
        else
            st->invalid += npts;
        return;
    }
    mc.fam->nseries++;   /* hold the family while its points are added */
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        for (size_t i = 0; i < m->gauge->n_data_points; i++) {
            const kvs_number_point *p = m->gauge->data_points[i];
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        for (size_t i = 0; i < m->sum->n_data_points; i++) {
            const kvs_number_point *p = m->sum->data_points[i];
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        for (size_t i = 0; i < m->histogram->n_data_points; i++) {
            const kvs_histogram_point *p = m->histogram->data_points[i];
            if (!(p->flags & NO_RECORDED_VALUE) && !histogram_ok(p)) {
                st->invalid++;
                continue;
            }
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        for (size_t i = 0; i < m->summary->n_data_points; i++) {
            const kvs_summary_point *p = m->summary->data_points[i];
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    default:
        break;
    }
    family_release(s, mc.fam);
}

/* target_info for one resource: its attributes but the service identity,
 * with job, instance and the constant labels. */
static void add_target_info(kvs_promx_store *s, const kvs_resource *r, const char *job, const char *inst,
                            uint64_t now, kvs_promx_stats *st)
{
    kvs_arena_reset(s->pt_a);
    size_t n = 0;
    if (add_attr_labs(s, s->pt_a, &s->labs, &n, &s->labs_cap, r->attributes, r->n_attributes, P_RESOURCE, true))
        return;
    if (n == 0)
        return;   /* nothing beyond job and instance */
    if ((job && push_lab(&s->labs, &n, &s->labs_cap, (lab){ "job", "job", job, P_JOBINST })) ||
        (inst && push_lab(&s->labs, &n, &s->labs_cap, (lab){ "instance", "instance", inst, P_JOBINST })))
        return;
    for (size_t i = 0; i < s->nconsts; i++)
        if (push_lab(&s->labs, &n, &s->labs_cap, s->consts[i]))
            return;
    if (render_labels(s, s->labs, n))
        return;
    bool conflict, created;
    family *f = family_get(s, "target_info", "Target metadata", KVS_PROMX_GAUGE, &conflict);
    if (!f) {
        st->type_conflict += conflict;
        return;
    }
    f->nseries++;
    series *sr = series_get(s, f, s->text.data, &created);
    if (sr) {
        sr->is_int = true;
        sr->i = 1;
        sr->time_ns = kvs_wall_ns();
        sr->updated_ns = now;
    }
    family_release(s, f);
}

void kvs_promx_add(kvs_promx_store *s, const kvs_metrics_req *req, uint64_t now, kvs_promx_stats *st)
{
    kvs_promx_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&s->lock);
    if (s->expiration_ns && now - s->last_sweep >= SWEEP_EVERY_NS)
        sweep(s, now);
    for (size_t ri = 0; ri < req->n_resource_metrics; ri++) {
        const kvs_resource_metrics *rm = req->resource_metrics[ri];
        const kvs_resource *res = rm->resource;
        kvs_kv *const *rattrs = res ? res->attributes : NULL;
        size_t nr = res ? res->n_attributes : 0;
        kvs_arena_reset(s->res_a);
        const char *svc = attr_str(rattrs, nr, "service.name", s->res_a, &s->tmp);
        const char *svns = attr_str(rattrs, nr, "service.namespace", s->res_a, &s->tmp);
        const char *inst = attr_str(rattrs, nr, "service.instance.id", s->res_a, &s->tmp);
        const char *job = svc;
        if (svc && svns) {
            size_t l = strlen(svns) + 1 + strlen(svc) + 1;
            char *j = kvs_arena_alloc(s->res_a, l);
            if (j)
                snprintf(j, l, "%s/%s", svns, svc);
            job = j;
        }
        if (res && (job || inst))
            add_target_info(s, res, job, inst, now, st);
        for (size_t si = 0; si < rm->n_scope_metrics; si++) {
            const kvs_scope_metrics *sm = rm->scope_metrics[si];
            /* resource-level candidates: resource attributes, job/instance,
             * scope, constant labels */
            s->nrlabs = 0;
            if (s->r2t &&
                add_attr_labs(s, s->res_a, &s->rlabs, &s->nrlabs, &s->rlabs_cap, rattrs, nr, P_RESOURCE, false))
                continue;
            if (job)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, (lab){ "job", "job", job, P_JOBINST });
            if (inst)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, (lab){ "instance", "instance", inst, P_JOBINST });
            if (sm->scope && sm->scope->name && *sm->scope->name) {
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap,
                         (lab){ "otel_scope_name", "otel_scope_name", sm->scope->name, P_SCOPE });
                if (sm->scope->version && *sm->scope->version)
                    push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap,
                             (lab){ "otel_scope_version", "otel_scope_version", sm->scope->version, P_SCOPE });
            }
            for (size_t i = 0; i < s->nconsts; i++)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, s->consts[i]);
            for (size_t mi = 0; mi < sm->n_metrics; mi++)
                add_metric(s, sm->metrics[mi], now, st);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- rendering ---- */

static int cmp_series(const void *x, const void *y)
{
    const series *a = *(series *const *)x, *b = *(series *const *)y;
    if (a->fam != b->fam) {
        int c = strcmp(a->fam->name, b->fam->name);
        if (c)
            return c;
    }
    return strcmp(a->labels, b->labels);
}

static void put_ts(kvs_promx_store *s, kvs_buf *o, const series *sr)
{
    if (s->send_ts && sr->time_ns)
        kvs_buf_printf(o, " %" PRIu64, sr->time_ns / KVS_MS);
}

/* name[suffix]{labels[,extra="v"]} */
static void put_head(kvs_buf *o, const series *sr, const char *suffix, const char *extra, double ev)
{
    kvs_buf_puts(o, sr->fam->name);
    kvs_buf_puts(o, suffix);
    if (!sr->labels[0] && !extra)
        return;
    kvs_buf_putc(o, '{');
    kvs_buf_puts(o, sr->labels);
    if (extra) {
        if (sr->labels[0])
            kvs_buf_putc(o, ',');
        kvs_buf_puts(o, extra);
        kvs_buf_puts(o, "=\"");
        put_double(o, ev);
        kvs_buf_putc(o, '"');
    }
    kvs_buf_putc(o, '}');
}

static void render_series(kvs_promx_store *s, kvs_buf *o, const series *sr)
{
    switch (sr->fam->type) {
    case KVS_PROMX_GAUGE:
    case KVS_PROMX_COUNTER:
        put_head(o, sr, "", NULL, 0);
        kvs_buf_putc(o, ' ');
        if (sr->is_int)
            kvs_buf_printf(o, "%" PRId64, sr->i);
        else
            put_double(o, sr->d);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        break;
    case KVS_PROMX_HISTOGRAM: {
        uint64_t cum = 0;
        for (size_t i = 0; sr->counts && i < sr->nb; i++) {
            cum += sr->counts[i];
            put_head(o, sr, "_bucket", "le", sr->bounds[i]);
            kvs_buf_printf(o, " %" PRIu64, cum);
            put_ts(s, o, sr);
            kvs_buf_putc(o, '\n');
        }
        put_head(o, sr, "_bucket", "le", INFINITY);
        kvs_buf_printf(o, " %" PRIu64, sr->count);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        put_head(o, sr, "_sum", NULL, 0);
        kvs_buf_putc(o, ' ');
        put_double(o, sr->sum);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        put_head(o, sr, "_count", NULL, 0);
        kvs_buf_printf(o, " %" PRIu64, sr->count);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        break;
    }
    case KVS_PROMX_SUMMARY:
        for (size_t i = 0; i < sr->nb; i++) {
            put_head(o, sr, "", "quantile", sr->bounds[i]);
            kvs_buf_putc(o, ' ');
            put_double(o, sr->qvals[i]);
            put_ts(s, o, sr);
            kvs_buf_putc(o, '\n');
        }
        put_head(o, sr, "_sum", NULL, 0);
        kvs_buf_putc(o, ' ');
        put_double(o, sr->sum);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        put_head(o, sr, "_count", NULL, 0);
        kvs_buf_printf(o, " %" PRIu64, sr->count);
        put_ts(s, o, sr);
        kvs_buf_putc(o, '\n');
        break;
    }
}

static const char *type_name(kvs_promx_type t)
{
    switch (t) {
    case KVS_PROMX_COUNTER: return "counter";
    case KVS_PROMX_HISTOGRAM: return "histogram";
    case KVS_PROMX_SUMMARY: return "summary";
    default: return "gauge";
    }
}

int kvs_promx_render(kvs_promx_store *s, uint64_t now, kvs_buf *o)
{
    pthread_mutex_lock(&s->lock);
    sweep(s, now);
    series **all = malloc((s->sn ? s->sn : 1) * sizeof *all);
    if (!all) {
        pthread_mutex_unlock(&s->lock);
        return KVS_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->scap; i++)
        for (series *sr = s->sb[i]; sr; sr = sr->next)
            all[n++] = sr;
    qsort(all, n, sizeof *all, cmp_series);
    const family *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const series *sr = all[i];
        if (sr->fam != cur) {
            cur = sr->fam;
            kvs_buf_puts(o, "# HELP ");
            kvs_buf_puts(o, cur->name);
            kvs_buf_putc(o, ' ');
            escape_help(o, cur->help ? cur->help : cur->name);
            kvs_buf_puts(o, "\n# TYPE ");
            kvs_buf_puts(o, cur->name);
            kvs_buf_putc(o, ' ');
            kvs_buf_puts(o, type_name(cur->type));
            kvs_buf_putc(o, '\n');
        }
        render_series(s, o, sr);
    }
    free(all);
    pthread_mutex_unlock(&s->lock);
    return o->oom ? KVS_E_NOMEM : 0;
}

size_t kvs_promx_series_count(kvs_promx_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->sn;
    pthread_mutex_unlock(&s->lock);
    return n;
}
