/* Exporter `evidence`: turns what lmcache_diagnose emits (logs pipeline)
 * into an evidence directory, each file written atomically (temp file +
 * rename: a reader never sees half a report):
 *   lmcache_compat_report.json, observability_coverage.json,
 *   bottleneck_diagnosis.json, lmcache_findings.json, summary.txt
 *                         the latest `kvscope.report` record of each file;
 *   findings.jsonl        the current findings, one JSON object per line
 *                         (a finding leaves when `kvscope.finding.resolved`);
 *   packet_manifest.json  the diagnosis part sent by the connector, plus
 *                         `artifacts` (files written here), `sources` and
 *                         `scrape_errors` (the configured `inputs`).
 * Records that are not kvscope's are counted as dropped with a reason.
 * Output is deterministic: the same records give byte-identical files. */
#include "core/buf.h"
#include "core/component.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

typedef struct entry {
    char *key;     /* file name, or finding code */
    char *text;
} entry;

typedef struct entries {
    entry *v;
    size_t n;
} entries;

typedef struct input {
    const char *path, *kind, *status, *detail;
} input;

typedef struct evidence {
    const char *id;
    const char *dir;
    kvs_telemetry *tel;
    input *inputs;
    size_t ninputs;
    pthread_mutex_t lock;
    entries reports, findings;
    int dirty_findings;
    char *manifest;            /* the connector's part */
} evidence;

static const char *const keys[] = { "directory", "inputs", NULL };
static const char *const input_keys[] = { "path", "kind", "status", "detail", NULL };

static void entries_free(entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].key);
        free(e->v[i].text);
    }
    free(e->v);
}

static int entries_set(entries *e, const char *key, const char *text)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].key, key) == 0) {
            char *t = strdup(text);
            if (!t)
                return -1;
            free(e->v[i].text);
            e->v[i].text = t;
            return 0;
        }
    entry *g = realloc(e->v, (e->n + 1) * sizeof *g);
    if (!g)
        return -1;
    e->v = g;
    g[e->n].key = strdup(key);
    g[e->n].text = strdup(text);
    if (!g[e->n].key || !g[e->n].text) {
        free(g[e->n].key);
        free(g[e->n].text);
        return -1;
    }
    e->n++;
    return 0;
}

static int entries_del(entries *e, const char *key)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].key, key) == 0) {
            free(e->v[i].key);
            free(e->v[i].text);
            memmove(&e->v[i], &e->v[i + 1], (e->n - i - 1) * sizeof *e->v);
            e->n--;
            return 1;
        }
    return 0;
}

static int ev_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    const char *dir;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "directory", NULL, &dir, err))
        return KVS_E_INVALID;
    if (!dir || !*dir)
        return kvs_cfg_errorf(err, c, "%s: `directory` is required", ctx->id);
    evidence *e = calloc(1, sizeof *e);
    if (!e)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    const kvs_cfg_node *in = kvs_cfg_get(c, "inputs");
    if (in && in->type != KVS_CFG_NULL) {
        if (in->type != KVS_CFG_SEQ) {
            free(e);
            return kvs_cfg_errorf(err, in, "expected a list of {path, kind, status, detail}");
        }
        e->inputs = calloc(in->n ? in->n : 1, sizeof *e->inputs);
        for (size_t i = 0; e->inputs && i < in->n; i++) {
            const kvs_cfg_node *it = in->items[i];
            input *x = &e->inputs[i];
            if (kvs_cfg_expect_map(it, err) || kvs_cfg_check_keys(it, input_keys, err) ||
                kvs_cfg_str(it, "path", NULL, &x->path, err) || kvs_cfg_str(it, "kind", "unknown", &x->kind, err) ||
                kvs_cfg_str(it, "status", "read", &x->status, err) || kvs_cfg_str(it, "detail", NULL, &x->detail, err) ||
                (!x->path && kvs_cfg_errorf(err, it, "an input needs a `path`"))) {
                free(e->inputs);
                free(e);
                return KVS_E_INVALID;
            }
            e->ninputs++;
        }
    }
    e->id = ctx->id;
    e->dir = dir;
    e->tel = ctx->tel;
    pthread_mutex_init(&e->lock, NULL);
    *state = e;
    return 0;
}

/* ---- writing ---- */

static int mkdirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        mkdir(p, 0777);
        *s = '/';
    }
    int rc = mkdir(p, 0777) == 0 || errno == EEXIST ? 0 : -1;
    free(p);
    return rc;
}

/* Writes name atomically in the directory: temp file, fsync, rename. */
static int write_atomic(evidence *e, const char *name, const char *data, size_t len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", e->dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", e->dir, name, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        KVS_ERROR(e->id, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        KVS_ERROR(e->id, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Re-emits a yajl tree (object keys in the order given). */
static void gen_value(yajl_gen g, yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            yajl_gen_string(g, (const unsigned char *)v->u.object.keys[i], strlen(v->u.object.keys[i]));
            gen_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            gen_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(g);
    }
}

static void gen_str(yajl_gen g, const char *s)
{
    if (s)
        yajl_gen_string(g, (const unsigned char *)s, strlen(s));
    else
        yajl_gen_null(g);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* The manifest: the connector's keys plus artifacts, sources and
 * scrape_errors, all keys sorted. */
static void write_manifest(evidence *e)
{
    char ebuf[256];
    yajl_val base = e->manifest ? yajl_tree_parse(e->manifest, ebuf, sizeof ebuf) : NULL;
    if (base && !YAJL_IS_OBJECT(base)) {
        yajl_tree_free(base);
        base = NULL;
    }
    static const char *const mine[] = { "artifacts", "scrape_errors", "sources" };
    size_t nbase = base ? base->u.object.len : 0;
    /* Merge-sort the keys: base keys (sorted) and ours. */
    entry *order = calloc(nbase + 3, sizeof *order);
    if (!order) {
        yajl_tree_free(base);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < nbase; i++)
        order[n++] = (entry){ (char *)base->u.object.keys[i], (char *)base->u.object.values[i] };
    for (int i = 0; i < 3; i++)
        order[n++] = (entry){ (char *)mine[i], NULL };
    qsort(order, n, sizeof *order, by_key);
    entry *files = malloc((e->reports.n + 2) * sizeof *files);
    size_t nfiles = 0;
    for (size_t i = 0; files && i < e->reports.n; i++)
        files[nfiles++] = e->reports.v[i];
    if (files)
        files[nfiles++] = (entry){ "findings.jsonl", NULL };
    if (files)
        qsort(files, nfiles, sizeof *files, by_key);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    for (size_t i = 0; i < n; i++) {
        gen_str(g, order[i].key);
        if (order[i].text) {
            gen_value(g, (yajl_val)order[i].text);
        } else if (strcmp(order[i].key, "artifacts") == 0) {
            yajl_gen_map_open(g);
            for (size_t k = 0; k < nfiles; k++) {
                gen_str(g, files[k].key);
                gen_str(g, files[k].key);
            }
            yajl_gen_map_close(g);
        } else if (strcmp(order[i].key, "sources") == 0) {
            yajl_gen_array_open(g);
            for (size_t k = 0; k < e->ninputs; k++) {
                yajl_gen_map_open(g);
                gen_str(g, "detail");
                gen_str(g, e->inputs[k].detail);
                gen_str(g, "kind");
                gen_str(g, e->inputs[k].kind);
                gen_str(g, "path");
                gen_str(g, e->inputs[k].path);
                gen_str(g, "status");
                gen_str(g, e->inputs[k].status);
                yajl_gen_map_close(g);
            }
            yajl_gen_array_close(g);
        } else {
            yajl_gen_array_open(g);
            for (size_t k = 0; k < e->ninputs; k++) {
                if (strcmp(e->inputs[k].status, "read") == 0)
                    continue;
                yajl_gen_map_open(g);
                gen_str(g, "error");
                gen_str(g, e->inputs[k].detail ? e->inputs[k].detail : e->inputs[k].status);
                gen_str(g, "source");
                gen_str(g, e->inputs[k].path);
                gen_str(g, "source_name");
                gen_str(g, e->inputs[k].kind);
                yajl_gen_map_close(g);
            }
            yajl_gen_array_close(g);
        }
    }
    yajl_gen_map_close(g);
    const unsigned char *out;
    size_t len;
    if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok)
        write_atomic(e, "packet_manifest.json", (const char *)out, len);
    yajl_gen_free(g);
    free(files);
    free(order);
    yajl_tree_free(base);
}

/* Appends a JSON text on one line: whitespace outside strings dropped. */
static void put_compact(kvs_buf *b, const char *json)
{
    int in_str = 0, esc = 0;
    for (const char *p = json; *p; p++) {
        char c = *p;
        if (in_str) {
            in_str = esc || c != '"';
            esc = !esc && c == '\\';
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        kvs_buf_putc(b, c);
    }
}

static void write_findings(evidence *e)
{
    kvs_buf b = { 0 };
    for (size_t i = 0; i < e->findings.n; i++) {
        put_compact(&b, e->findings.v[i].text);
        kvs_buf_putc(&b, '\n');
    }
    if (!b.oom)
        write_atomic(e, "findings.jsonl", b.data ? b.data : "", b.len);
    kvs_buf_free(&b);
}

/* ---- consuming ---- */

static const char *attr(const kvs_log_record *r, const char *key)
{
    for (size_t i = 0; i < r->n_attributes; i++) {
        const kvs_kv *kv = r->attributes[i];
        if (kv->key && strcmp(kv->key, key) == 0 && kv->value &&
            kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv->value->string_value;
    }
    return NULL;
}

static const char *body(const kvs_log_record *r)
{
    return r->body && r->body->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
               ? r->body->string_value : NULL;
}

static int ev_consume(void *state, kvs_batch *b, kvs_error *err)
{
    evidence *e = state;
    uint64_t ignored = 0, taken = 0;
    int changed_reports = 0, changed_manifest = 0;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < b->logs->n_resource_logs; i++)
        for (size_t j = 0; j < b->logs->resource_logs[i]->n_scope_logs; j++) {
            const kvs_scope_logs *sl = b->logs->resource_logs[i]->scope_logs[j];
            for (size_t k = 0; k < sl->n_log_records; k++) {
                const kvs_log_record *r = sl->log_records[k];
                const char *ev = r->event_name ? r->event_name : "";
                const char *file = attr(r, "kvscope.report.file"), *code = attr(r, "kvscope.finding.code");
                if (strcmp(ev, "kvscope.report") == 0 && file && body(r) && !strchr(file, '/')) {
                    if (strcmp(file, "packet_manifest.json") == 0) {
                        free(e->manifest);
                        e->manifest = strdup(body(r));
                        changed_manifest = 1;
                    } else if (entries_set(&e->reports, file, body(r)) == 0) {
                        changed_reports = 1;
                    }
                } else if (strcmp(ev, "kvscope.finding") == 0 && code && attr(r, "kvscope.finding.json")) {
                    entries_set(&e->findings, code, attr(r, "kvscope.finding.json"));
                    e->dirty_findings = 1;
                } else if (strcmp(ev, "kvscope.finding.resolved") == 0 && code) {
                    e->dirty_findings |= entries_del(&e->findings, code);
                } else {
                    ignored++;
                    continue;
                }
                taken++;
            }
        }
    int rc = 0;
    if (changed_reports || changed_manifest || e->dirty_findings) {
        if (mkdirs(e->dir) != 0) {
            rc = kvs_errorf(err, KVS_E_IO, "%s: cannot create %s: %s", e->id, e->dir, strerror(errno));
        } else {
            for (size_t i = 0; changed_reports && i < e->reports.n; i++)
                write_atomic(e, e->reports.v[i].key, e->reports.v[i].text, strlen(e->reports.v[i].text));
            write_findings(e);
            e->dirty_findings = 0;
            write_manifest(e);
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (ignored)
        kvs_tel_drop(e->tel, "not_a_kvscope_diagnosis_record", ignored);
    kvs_tel_add(rc == 0 ? &e->tel->exported : &e->tel->failed, taken);
    return rc;
}

static void ev_destroy(void *state)
{
    evidence *e = state;
    entries_free(&e->reports);
    entries_free(&e->findings);
    free(e->manifest);
    free(e->inputs);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

const kvs_component_def kvs_exporter_evidence = {
    .type = "evidence",
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_LOGS,
    .create = ev_create,
    .consume = ev_consume,
    .destroy = ev_destroy,
};
