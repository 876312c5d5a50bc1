/* Prometheus names for the `prometheus` exporter: an OTLP metric's name,
 * unit and type become a Prometheus metric name (the Collector's
 * translator: alphanumeric runs joined with `_`, unit words, `_total`,
 * `_ratio`), an attribute key a label name. See exporters/prometheus_text.h
 * for the rules. Pure functions, no state. */
#include "exporters/prometheus_text.h"

#include <stdlib.h>
#include <string.h>

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
