/* The kvs_promx store as Prometheus text exposition 0.0.4
 * (exporters/prometheus_text.h): values and attribute values as text,
 * escaping, and the page itself, families by name with their HELP and
 * TYPE, series by label text. */
#include "exporters/prometheus_text_int.h"

#include "core/clock.h"
#include "core/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

void kvs_promx_put_double(kvs_buf *b, double v)
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
            kvs_promx_put_double(b, v->double_value);
            kvs_buf_putc(b, '"');
        } else {
            kvs_promx_put_double(b, v->double_value);
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

void kvs_promx_any_string(kvs_buf *b, const kvs_any *v) { any_string(b, v, false, 0); }

void kvs_promx_escape_label_value(kvs_buf *b, const char *s)
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

/* ---- rendering ---- */

static int cmp_series(const void *x, const void *y)
{
    const kvs_promx_series *a = *(kvs_promx_series *const *)x, *b = *(kvs_promx_series *const *)y;
    if (a->fam != b->fam) {
        int c = strcmp(a->fam->name, b->fam->name);
        if (c)
            return c;
    }
    return strcmp(a->labels, b->labels);
}

static void put_ts(kvs_promx_store *s, kvs_buf *o, const kvs_promx_series *sr)
{
    if (s->send_ts && sr->time_ns)
        kvs_buf_printf(o, " %" PRIu64, sr->time_ns / KVS_MS);
}

/* name[suffix]{labels[,extra="v"]} */
static void put_head(kvs_buf *o, const kvs_promx_series *sr, const char *suffix, const char *extra, double ev)
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
        kvs_promx_put_double(o, ev);
        kvs_buf_putc(o, '"');
    }
    kvs_buf_putc(o, '}');
}

/* The end of a sample line: its timestamp when sent, the newline. */
static void end_line(kvs_promx_store *s, kvs_buf *o, const kvs_promx_series *sr)
{
    put_ts(s, o, sr);
    kvs_buf_putc(o, '\n');
}

/* The _sum and _count lines of a histogram or a summary. */
static void put_sum_count(kvs_promx_store *s, kvs_buf *o, const kvs_promx_series *sr)
{
    put_head(o, sr, "_sum", NULL, 0);
    kvs_buf_putc(o, ' ');
    kvs_promx_put_double(o, sr->sum);
    end_line(s, o, sr);
    put_head(o, sr, "_count", NULL, 0);
    kvs_buf_printf(o, " %" PRIu64, sr->count);
    end_line(s, o, sr);
}

static void render_series(kvs_promx_store *s, kvs_buf *o, const kvs_promx_series *sr)
{
    switch (sr->fam->type) {
    case KVS_PROMX_GAUGE:
    case KVS_PROMX_COUNTER:
        put_head(o, sr, "", NULL, 0);
        kvs_buf_putc(o, ' ');
        if (sr->is_int)
            kvs_buf_printf(o, "%" PRId64, sr->i);
        else
            kvs_promx_put_double(o, sr->d);
        end_line(s, o, sr);
        break;
    case KVS_PROMX_HISTOGRAM: {
        uint64_t cum = 0;
        for (size_t i = 0; sr->counts && i < sr->nb; i++) {
            cum += sr->counts[i];
            put_head(o, sr, "_bucket", "le", sr->bounds[i]);
            kvs_buf_printf(o, " %" PRIu64, cum);
            end_line(s, o, sr);
        }
        put_head(o, sr, "_bucket", "le", INFINITY);
        kvs_buf_printf(o, " %" PRIu64, sr->count);
        end_line(s, o, sr);
        put_sum_count(s, o, sr);
        break;
    }
    case KVS_PROMX_SUMMARY:
        for (size_t i = 0; i < sr->nb; i++) {
            put_head(o, sr, "", "quantile", sr->bounds[i]);
            kvs_buf_putc(o, ' ');
            kvs_promx_put_double(o, sr->qvals[i]);
            end_line(s, o, sr);
        }
        put_sum_count(s, o, sr);
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
    kvs_promx_sweep(s, now);
    kvs_promx_series **all = malloc((s->sn ? s->sn : 1) * sizeof *all);
    if (!all) {
        pthread_mutex_unlock(&s->lock);
        return KVS_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->scap; i++)
        for (kvs_promx_series *sr = s->sb[i]; sr; sr = sr->next)
            all[n++] = sr;
    qsort(all, n, sizeof *all, cmp_series);
    const kvs_promx_family *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const kvs_promx_series *sr = all[i];
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
