/* Trace info / trace replay outputs (see lct_replay.h). */
#include "formats/lct_replay.h"

#include "formats/json_tree.h"
#include "formats/lmcache_http.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define MAX_DEPTH 32

static const char *const stat_names[KVS_LCTR_NSTATS] = { "mean_ms", "p50_ms", "p90_ms", "p99_ms", "min_ms",
                                                         "max_ms" };

const char *kvs_lctr_stat_name(int s) { return s >= 0 && s < KVS_LCTR_NSTATS ? stat_names[s] : ""; }

const char *kvs_lctr_kind_name(kvs_lctr_kind k)
{
    static const char *const n[] = { "trace_info", "json", "jsonl", "ops_csv" };
    return k <= KVS_LCTR_OPS_CSV ? n[k] : "trace_info";
}

static void err(kvs_lctr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err(kvs_lctr *r, const char *fmt, ...)
{
    r->error_count++;
    if (r->nerrors == KVS_LCTR_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errors[r->nerrors], sizeof r->errors[0], fmt, ap);
    va_end(ap);
    for (char *c = r->errors[r->nerrors]; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    r->nerrors++;
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    dst[n] = 0;
}

static kvs_lctr_op *op_get(kvs_lctr *r, const char *q, size_t n)
{
    while (n && isspace((unsigned char)*q))
        q++, n--;
    while (n && isspace((unsigned char)q[n - 1]))
        n--;
    if (!n)
        return NULL;
    if (n > sizeof r->ops[0].qualname - 1)
        n = sizeof r->ops[0].qualname - 1;
    for (size_t i = 0; i < r->nops; i++)
        if (strlen(r->ops[i].qualname) == n && memcmp(r->ops[i].qualname, q, n) == 0)
            return &r->ops[i];
    if (r->nops == KVS_LCTR_MAX_OPS) {
        r->more_ops++;
        return NULL;
    }
    kvs_lctr_op *op = &r->ops[r->nops++];
    memset(op, 0, sizeof *op);
    copy(op->qualname, sizeof op->qualname, q, n);
    for (int s = 0; s < KVS_LCTR_NSTATS; s++)
        op->stat[s] = NAN;
    return op;
}

/* "128.5", "128.5s", "1500ms" -> seconds; -1 when not a duration. */
static double seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (!*end || strcmp(end, "s") == 0)
        return v;
    if (strcmp(end, "ms") == 0)
        return v / 1000.0;
    return -1;
}

static int as_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

/* A replay_info field by (normalised) key; 1 when it was one. */
static int info_field(kvs_lctr *r, const char *key, const char *val)
{
    int64_t v;
    if (strcmp(key, "level") == 0)
        copy(r->level, sizeof r->level, val, strlen(val));
    else if (strcmp(key, "format_version") == 0)
        r->format_version = as_int(val, &v) == 0 ? v : r->format_version;
    else if (strcmp(key, "trace_schema_version") == 0)
        r->trace_schema_version = as_int(val, &v) == 0 ? v : r->trace_schema_version;
    else if (strcmp(key, "total_records") == 0)
        r->total_records = as_int(val, &v) == 0 ? v : r->total_records;
    else if (strcmp(key, "sm_config_digest") == 0)
        copy(r->sm_config_digest, sizeof r->sm_config_digest, val, strlen(val));
    else if (strcmp(key, "duration") == 0 || strcmp(key, "duration_s") == 0) {
        double d = seconds(val);
        if (d >= 0)
            r->duration_s = d;
    } else
        return 0;
    return 1;
}

/* ---- trace_info text ---- */

static void trace_info(kvs_lctr *r, const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && t[e] != '\n')
            e++;
        char line[512];
        copy(line, sizeof line, t + i, e - i);
        i = e + 1;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            s[--n] = 0;
        if (!n || *s == '#')
            continue;
        char *sep = strchr(s, ':');
        if (!sep)
            sep = strchr(s, '=');
        if (!sep) {
            sep = strrchr(s, ' ');
            if (!sep)
                sep = strrchr(s, '\t');
        }
        if (!sep)
            continue;
        *sep = 0;
        char *val = sep + 1, *key = s;
        while (isspace((unsigned char)*val))
            val++;
        size_t kn = strlen(key);
        while (kn && isspace((unsigned char)key[kn - 1]))
            key[--kn] = 0;
        char norm[128];
        size_t m = 0;
        for (size_t k = 0; k < kn && m < sizeof norm - 1; k++)
            norm[m++] = key[k] == ' ' ? '_' : (char)tolower((unsigned char)key[k]);
        norm[m] = 0;
        if (info_field(r, norm, val))
            continue;
        int64_t cnt;
        if (as_int(val, &cnt) == 0 && cnt >= 0 &&
            (strchr(key, '.') || !strncmp(key, "StorageManager", 14) || !strncasecmp(key, "lmcache", 7))) {
            kvs_lctr_op *op = op_get(r, key, kn);
            if (op)
                op->count += (uint64_t)cnt;
        }
    }
}

/* ---- JSON ---- */

static int truthy(yajl_val v)
{
    double d;
    if (YAJL_IS_TRUE(v))
        return 1;
    if (YAJL_IS_STRING(v))
        return v->u.string[0] != 0;
    return kvs_json_num(v, &d) == 0 && d != 0;
}

static void scalar(yajl_val v, char *dst, size_t cap)
{
    dst[0] = 0;
    if (YAJL_IS_STRING(v))
        copy(dst, cap, v->u.string, strlen(v->u.string));
    else if (YAJL_IS_NUMBER(v))
        copy(dst, cap, v->u.number.r, strlen(v->u.number.r));
}

static void info_from(kvs_lctr *r, yajl_val o)
{
    static const char *const keys[] = { "level", "format_version", "trace_schema_version", "sm_config_digest",
                                        "total_records", "duration_s", "duration", NULL };
    for (int i = 0; keys[i]; i++) {
        char val[128];
        scalar(kvs_json_get(o, keys[i]), val, sizeof val);
        if (val[0])
            info_field(r, keys[i], val);
    }
}

static void op_stats(kvs_lctr_op *op, yajl_val o)
{
    double d;
    for (int s = 0; s < KVS_LCTR_NSTATS; s++)
        if (kvs_json_num(kvs_json_get(o, stat_names[s]), &d) == 0)
            op->stat[s] = d;
    if (isnan(op->stat[KVS_LCTR_MEAN]) && kvs_json_num(kvs_json_get(o, "latency_ms"), &d) == 0)
        op->stat[KVS_LCTR_MEAN] = d;
}

static void op_object(kvs_lctr *r, yajl_val o, const char *name)
{
    yajl_val q = kvs_json_get(o, "qualname");
    if (!YAJL_IS_STRING(q))
        q = kvs_json_get(o, "name");
    const char *qs = YAJL_IS_STRING(q) ? q->u.string : name;
    if (!qs || !qs[0])
        return;
    kvs_lctr_op *op = op_get(r, qs, strlen(qs));
    if (!op)
        return;
    double d;
    op->count += kvs_json_num(kvs_json_get(o, "count"), &d) == 0 && d >= 0 && d < 1e18 ? (uint64_t)d : 1;
    static const char *const errs[] = { "errors", "failed", "failures", NULL };
    for (int i = 0; errs[i]; i++)
        if (kvs_json_num(kvs_json_get(o, errs[i]), &d) == 0 && d >= 0 && d < 1e18) {
            op->errors += (uint64_t)d;
            r->failed_rows += (uint64_t)d;
            break;
        }
    op_stats(op, o);
}

static yajl_val parse(const char *t, size_t len, char *ebuf, size_t ecap)
{
    if (memchr(t, 0, len) || !kvs_lmc_json_depth_ok(t, len, MAX_DEPTH)) {
        snprintf(ebuf, ecap, "NUL byte or nesting deeper than %d", MAX_DEPTH);
        return NULL;
    }
    char *z = malloc(len + 1);
    if (!z) {
        snprintf(ebuf, ecap, "out of memory");
        return NULL;
    }
    memcpy(z, t, len);
    z[len] = 0;
    ebuf[0] = 0;
    yajl_val v = yajl_tree_parse(z, ebuf, ecap);
    free(z);
    if (!v && !ebuf[0])
        snprintf(ebuf, ecap, "parse error");
    return v;
}

static void json(kvs_lctr *r, const char *t, size_t len)
{
    char ebuf[160];
    yajl_val v = parse(t, len, ebuf, sizeof ebuf);
    if (!v) {
        err(r, "invalid JSON: %s", ebuf);
        return;
    }
    yajl_val ops = NULL;
    if (YAJL_IS_ARRAY(v)) {
        ops = v;
    } else if (YAJL_IS_OBJECT(v)) {
        info_from(r, v);
        ops = kvs_json_get(v, "ops");
        if (!ops)
            ops = kvs_json_get(v, "operations");
    } else {
        err(r, "json_root_not_object");
    }
    if (YAJL_IS_ARRAY(ops)) {
        for (size_t i = 0; i < ops->u.array.len; i++) {
            r->rows_seen++;
            if (YAJL_IS_OBJECT(ops->u.array.values[i]))
                op_object(r, ops->u.array.values[i], NULL);
            else
                err(r, "ops[%zu]: expected object", i);
        }
    } else if (YAJL_IS_OBJECT(ops)) {
        for (size_t i = 0; i < ops->u.object.len; i++) {
            yajl_val x = ops->u.object.values[i];
            const char *q = ops->u.object.keys[i];
            double d;
            r->rows_seen++;
            if (YAJL_IS_OBJECT(x)) {
                op_object(r, x, q);
            } else if (kvs_json_num(x, &d) == 0 && d >= 0 && d < 1e18) {
                kvs_lctr_op *op = op_get(r, q, strlen(q));
                if (op)
                    op->count += (uint64_t)d;
            } else {
                err(r, "ops.%.60s: expected a count or an object", q);
            }
        }
    }
    yajl_tree_free(v);
}

static void jsonl(kvs_lctr *r, const char *t, size_t len)
{
    size_t i = 0, lineno = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && t[e] != '\n')
            e++;
        lineno++;
        const char *l = t + i;
        size_t n = e - i;
        i = e + 1;
        size_t b = 0;
        while (b < n && isspace((unsigned char)l[b]))
            b++;
        if (b == n)
            continue;
        char ebuf[160];
        yajl_val v = parse(l, n, ebuf, sizeof ebuf);
        if (!v) {
            err(r, "line %zu: %s", lineno, ebuf);
            continue;
        }
        yajl_val q = kvs_json_get(v, "qualname");
        if (!YAJL_IS_STRING(q))
            q = kvs_json_get(v, "name");
        if (!YAJL_IS_OBJECT(v)) {
            err(r, "line %zu: expected object", lineno);
        } else if (!YAJL_IS_STRING(q) || !q->u.string[0]) {
            err(r, "line %zu: missing qualname", lineno);
        } else {
            r->rows_seen++;
            kvs_lctr_op *op = op_get(r, q->u.string, strlen(q->u.string));
            double d;
            if (op) {
                op->count++;
                if (truthy(kvs_json_get(v, "failed")))
                    op->errors++;
                if (kvs_json_num(kvs_json_get(v, "latency_ms"), &d) == 0) {
                    if (!op->samples || d < op->stat[KVS_LCTR_MIN])
                        op->stat[KVS_LCTR_MIN] = d;
                    if (!op->samples || d > op->stat[KVS_LCTR_MAX])
                        op->stat[KVS_LCTR_MAX] = d;
                    op->samples++;
                    op->sample_sum += d;
                    op->stat[KVS_LCTR_MEAN] = op->sample_sum / (double)op->samples;
                }
            }
            if (truthy(kvs_json_get(v, "failed")))
                r->failed_rows++;
        }
        yajl_tree_free(v);
    }
}

/* ---- CSV ---- */

/* Splits one CSV line into at most max fields (quotes with "" escapes). */
static size_t csv_fields(const char *l, size_t n, char fields[][160], size_t max)
{
    size_t nf = 0, i = 0;
    while (nf < max) {
        size_t o = 0;
        int quoted = i < n && l[i] == '"';
        if (quoted)
            i++;
        while (i < n) {
            if (quoted && l[i] == '"') {
                if (i + 1 < n && l[i + 1] == '"') {
                    i++;
                } else {
                    quoted = 0;
                    i++;
                    continue;
                }
            } else if (!quoted && l[i] == ',') {
                break;
            }
            if (o < 159)
                fields[nf][o++] = l[i];
            i++;
        }
        while (o && isspace((unsigned char)fields[nf][o - 1]))
            o--;
        fields[nf][o] = 0;
        char *s = fields[nf];
        size_t lead = strspn(s, " \t");
        memmove(s, s + lead, strlen(s + lead) + 1);
        nf++;
        if (i >= n)
            break;
        i++;
    }
    return nf;
}

static void csv(kvs_lctr *r, const char *t, size_t len)
{
    enum { MAXF = 24 };
    char (*f)[160] = malloc(sizeof(char[MAXF][160]));
    if (!f)
        return;
    int col[3 + KVS_LCTR_NSTATS];   /* qualname, count, errors, stats */
    for (size_t k = 0; k < sizeof col / sizeof col[0]; k++)
        col[k] = -1;
    size_t i = 0, lineno = 0;
    int have_header = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && t[e] != '\n')
            e++;
        lineno++;
        size_t n = e - i;
        const char *l = t + i;
        i = e + 1;
        if (n && l[n - 1] == '\r')
            n--;
        if (!n)
            continue;
        size_t nf = csv_fields(l, n, f, MAXF);
        if (!have_header) {
            have_header = 1;
            for (size_t k = 0; k < nf; k++) {
                if (!strcmp(f[k], "qualname") || !strcmp(f[k], "name"))
                    col[0] = (int)k;
                else if (!strcmp(f[k], "count"))
                    col[1] = (int)k;
                else if (!strcmp(f[k], "errors") || !strcmp(f[k], "failed"))
                    col[2] = (int)k;
                for (int s = 0; s < KVS_LCTR_NSTATS; s++)
                    if (!strcmp(f[k], stat_names[s]))
                        col[3 + s] = (int)k;
            }
            if (col[0] < 0) {
                err(r, "csv_missing_header");
                break;
            }
            continue;
        }
        r->rows_seen++;
        if ((size_t)col[0] >= nf || !f[col[0]][0]) {
            err(r, "row %zu: missing qualname", lineno);
            continue;
        }
        kvs_lctr_op *op = op_get(r, f[col[0]], strlen(f[col[0]]));
        if (!op)
            continue;
        int64_t v;
        if (col[1] >= 0 && (size_t)col[1] < nf && as_int(f[col[1]], &v) == 0 && v >= 0)
            op->count += (uint64_t)v;
        if (col[2] >= 0 && (size_t)col[2] < nf && as_int(f[col[2]], &v) == 0 && v > 0) {
            op->errors += (uint64_t)v;
            r->failed_rows += (uint64_t)v;
        }
        for (int s = 0; s < KVS_LCTR_NSTATS; s++) {
            char *end;
            if (col[3 + s] < 0 || (size_t)col[3 + s] >= nf)
                continue;
            double d = strtod(f[col[3 + s]], &end);
            if (end != f[col[3 + s]] && !*end && isfinite(d))
                op->stat[s] = d;
        }
    }
    free(f);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int kvs_lctr_parse(const char *name, const char *text, size_t len, kvs_lctr *r)
{
    memset(r, 0, sizeof *r);
    r->format_version = r->trace_schema_version = r->total_records = -1;
    r->duration_s = NAN;
    if (!name)
        name = "";
    size_t b = 0;
    while (b < len && isspace((unsigned char)text[b]))
        b++;
    if (ends_with(name, ".csv"))
        r->kind = KVS_LCTR_OPS_CSV;
    else if (ends_with(name, ".jsonl"))
        r->kind = KVS_LCTR_JSONL;
    else if (ends_with(name, ".json") || (b < len && (text[b] == '{' || text[b] == '[')))
        r->kind = KVS_LCTR_JSON;
    else
        r->kind = KVS_LCTR_TRACE_INFO;
    if (b == len) {
        err(r, "empty_replay_file");
        return 0;
    }
    switch (r->kind) {
    case KVS_LCTR_OPS_CSV: csv(r, text, len); break;
    case KVS_LCTR_JSONL: jsonl(r, text, len); break;
    case KVS_LCTR_JSON: json(r, text, len); break;
    default: trace_info(r, text, len); break;
    }
    return 0;
}
