/* `kvscope diagnose DIR`: see cmd/diagnose.h. The folder is scanned
 * (recursively, sorted, the output folder and dot-files skipped), every
 * file is classified by name and content, and a pipeline is generated as
 * YAML text and loaded through the same validation as any pipeline.yaml:
 *
 *   traces:        otlpjsonfile -> lmcache_correlate -> lmcache_diagnose
 *   metrics:       promfile, otlpjsonfile, lmcache_http -> lmcache_diagnose
 *   logs:          otlpjsonfile, filelog, lmcache_trace, lmcache_http,
 *                  lmcache_lookup_hash -> lmcache_diagnose
 *   logs/kvscope:  lmcache_diagnose -> evidence (DIR/kvscope)
 *
 * so `kvscope replay` of the same pipeline gives the same reports. */
#include "cmd/diagnose.h"

#include "cmd/cli.h"
#include "core/buf.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/lmcache_http.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static const char usage[] =
    "usage: kvscope diagnose DIR [options]\n"
    "\n"
    "Reads an LMCache evidence folder (Prometheus scrapes and scrape timelines, OTLP/JSON\n"
    "span/metric/log exports, LMCache HTTP payloads, .lct recordings, engine and LMCache\n"
    "logs, lookup-hash logs), writes the reports to DIR/kvscope/ and prints a summary.\n"
    "\n"
    "  --output DIR                  where the reports go (default DIR/kvscope)\n"
    "  --expect-mode mp|embedded|auto  the mode you believe is deployed (default auto)\n"
    "  --l2-configured               an L2 backend is configured (L2 families become required)\n"
    "  --tracing-enabled             LMCache runs with --enable-tracing (spans are expected)\n"
    "  --trace-recording-enabled     LMCache records .lct traces (a recording is expected)\n"
    "  --fail-on WHAT                exit 1 on: missing-required, warning (or worse), critical\n"
    "  --json                        print lmcache_compat_report.json instead of the summary\n"
    "  --log-level LEVEL             debug, info, warn, error (default warn)\n";

enum kind { K_OTLP, K_PROM, K_HTTP, K_LCT, K_LOG, K_LOOKUP, K_UNKNOWN, K_NKINDS };
static const char *const kind_names[] = { "otlp_json", "prometheus", "lmcache_http", "lmcache_trace",
                                          "log", "lookup_hash", "unknown" };
static const char *const kind_receivers[] = { "otlpjsonfile", "promfile", "lmcache_http", "lmcache_trace",
                                              "filelog", "lmcache_lookup_hash", NULL };

typedef struct input {
    char *path;
    enum kind kind;
    const char *status;      /* "read", "unreadable", "skipped" */
    char detail[160];
} input;

typedef struct scan {
    input *v;
    size_t n;
    const char *skip_dir;
} scan;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- classification ---- */

static enum kind classify(const char *path, const char *head, size_t n, const char *rel)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot ? (size_t)(dot - base) : strlen(base);
    kvs_lmc_ep ep;
    int in_http = strncmp(rel, "http/", 5) == 0 || strstr(rel, "/http/") != NULL;
    if (ends_with(base, ".lct"))
        return K_LCT;
    if (strncmp(base, "lookup_hashes", 13) == 0 && ends_with(base, ".jsonl"))
        return K_LOOKUP;
    if (ends_with(base, ".prom") || ends_with(base, ".metrics") || ends_with(base, ".openmetrics"))
        return K_PROM;
    if (ends_with(base, ".log"))
        return K_LOG;
    int json = ends_with(base, ".json") || ends_with(base, ".jsonl") || ends_with(base, ".ndjson");
    if (json && (memmem(head, n, "\"resourceSpans\"", 15) || memmem(head, n, "\"resourceMetrics\"", 17) ||
                 memmem(head, n, "\"resourceLogs\"", 14) || memmem(head, n, "\"resource_spans\"", 16)))
        return K_OTLP;
    if (json && memmem(head, n, "\"ts\"", 4) && memmem(head, n, "\"text\"", 6))
        return K_PROM; /* a scrape timeline */
    if ((in_http || json) && kvs_lmc_ep_from_name(base, stem, &ep) == 0)
        return K_HTTP;
    if (in_http)
        return K_HTTP;
    if (ends_with(base, ".txt") && (memmem(head, n, "# TYPE ", 7) || memmem(head, n, "# HELP ", 7)))
        return K_PROM;
    if (ends_with(base, ".txt"))
        return K_LOG;
    return K_UNKNOWN;
}

static int add_input(scan *s, const char *path, enum kind k, const char *status, const char *detail)
{
    input *g = realloc(s->v, (s->n + 1) * sizeof *g);
    if (!g)
        return -1;
    s->v = g;
    input *in = &g[s->n];
    memset(in, 0, sizeof *in);
    if (!(in->path = strdup(path)))
        return -1;
    in->kind = k;
    in->status = status;
    if (detail)
        snprintf(in->detail, sizeof in->detail, "%s", detail);
    s->n++;
    return 0;
}

static void visit(scan *s, const char *root, const char *dir, int depth)
{
    if (depth > 6)
        return;
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        add_input(s, dir, K_UNKNOWN, "unreadable", strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        struct stat st;
        if (nm[0] == '.' || strcmp(path, s->skip_dir) == 0 || stat(path, &st) != 0) {
            free(names[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            /* A folder of earlier kvscope reports is output, not evidence. */
            char marker[4200];
            snprintf(marker, sizeof marker, "%s/packet_manifest.json", path);
            if (access(marker, F_OK) == 0)
                add_input(s, path, K_UNKNOWN, "skipped", "earlier kvscope reports");
            else
                visit(s, root, path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            FILE *f = fopen(path, "rb");
            if (!f) {
                add_input(s, path, K_UNKNOWN, "unreadable", strerror(errno));
            } else {
                char head[65536];
                size_t got = fread(head, 1, sizeof head, f);
                fclose(f);
                enum kind k = classify(path, head, got, path + strlen(root) + 1);
                if (strcmp(nm, "expected.json") == 0)
                    k = K_UNKNOWN; /* test expectations beside fixtures */
                const char *rx = kind_receivers[k];
                if (k == K_UNKNOWN)
                    add_input(s, path, k, "skipped", "not a kind of evidence kvscope reads");
                else if (!kvs_component_find(KVS_RECEIVER, rx, strlen(rx)))
                    add_input(s, path, k, "skipped", "no receiver for this kind in this build");
                else
                    add_input(s, path, k, "read", NULL);
            }
        }
        free(names[i]);
    }
    free(names);
}

/* ---- the generated pipeline ---- */

static void yq(kvs_buf *b, const char *s)
{
    kvs_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            kvs_buf_putc(b, '\\');
        kvs_buf_putc(b, *s);
    }
    kvs_buf_putc(b, '"');
}

static int has(const scan *s, enum kind k)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].kind == k && strcmp(s->v[i].status, "read") == 0)
            return 1;
    return 0;
}

static void include_list(kvs_buf *b, const scan *s, enum kind k)
{
    kvs_buf_puts(b, "    include: [");
    int first = 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].kind == k && strcmp(s->v[i].status, "read") == 0) {
            if (!first)
                kvs_buf_puts(b, ", ");
            yq(b, s->v[i].path);
            first = 0;
        }
    kvs_buf_puts(b, "]\n");
}

typedef struct opts {
    const char *dir, *out, *expect, *fail_on, *log_level;
    int l2, json, tracing, recording;
} opts;

/* Which receivers feed which pipeline. */
static const unsigned kind_signals[] = {
    [K_OTLP] = KVS_SIG_TRACES | KVS_SIG_METRICS | KVS_SIG_LOGS,
    [K_PROM] = KVS_SIG_METRICS,
    [K_HTTP] = KVS_SIG_METRICS | KVS_SIG_LOGS,
    [K_LCT] = KVS_SIG_LOGS,
    [K_LOG] = KVS_SIG_LOGS,
    [K_LOOKUP] = KVS_SIG_LOGS,
};

static void pipeline_yaml(kvs_buf *b, const scan *s, const opts *o)
{
    int present[K_UNKNOWN], any = 0;
    for (int k = 0; k < K_UNKNOWN; k++)
        any |= present[k] = has(s, (enum kind)k);
    kvs_buf_puts(b, "receivers:\n");
    for (int k = 0; k < K_UNKNOWN; k++)
        if (present[k]) {
            kvs_buf_printf(b, "  %s:\n", kind_receivers[k]);
            include_list(b, s, (enum kind)k);
        }
    if (!any) {
        /* An empty folder still gets its reports (everything missing). */
        kvs_buf_puts(b, "  otlpjsonfile:\n    include: [\"/nonexistent/kvscope-empty-evidence-folder\"]\n");
        present[K_OTLP] = 1;
    }
    int correlate = present[K_OTLP] && kvs_component_find(KVS_PROCESSOR, "lmcache_correlate", 17);
    if (correlate)
        kvs_buf_puts(b, "processors:\n  lmcache_correlate:\n");
    kvs_buf_puts(b, "connectors:\n  lmcache_diagnose:\n");
    kvs_buf_printf(b, "    expect_mode: %s\n    l2_configured: %s\n    tracing_enabled: %s\n    trace_recording_enabled: %s\n",
                   o->expect, o->l2 ? "true" : "false", o->tracing ? "true" : "false", o->recording ? "true" : "false");
    kvs_buf_puts(b, "exporters:\n  evidence:\n    directory: ");
    yq(b, o->out);
    kvs_buf_puts(b, "\n    inputs:\n");
    for (size_t i = 0; i < s->n; i++) {
        kvs_buf_puts(b, "      - {path: ");
        yq(b, s->v[i].path);
        kvs_buf_printf(b, ", kind: %s, status: %s", kind_names[s->v[i].kind], s->v[i].status);
        if (s->v[i].detail[0]) {
            kvs_buf_puts(b, ", detail: ");
            yq(b, s->v[i].detail);
        }
        kvs_buf_puts(b, "}\n");
    }
    kvs_buf_puts(b, "service:\n  telemetry: {logs: {level: warn}}\n  pipelines:\n");
    for (int sig = 0; sig < KVS_NSIG; sig++) {
        unsigned bit = 1u << sig;
        int n = 0;
        for (int k = 0; k < K_UNKNOWN; k++)
            if (present[k] && (kind_signals[k] & bit))
                n++;
        if (!n)
            continue;
        kvs_buf_printf(b, "    %s:\n      receivers: [", kvs_signal_name((kvs_signal)bit));
        n = 0;
        for (int k = 0; k < K_UNKNOWN; k++)
            if (present[k] && (kind_signals[k] & bit))
                kvs_buf_printf(b, "%s%s", n++ ? ", " : "", kind_receivers[k]);
        kvs_buf_puts(b, "]\n");
        if (bit == KVS_SIG_TRACES && correlate)
            kvs_buf_puts(b, "      processors: [lmcache_correlate]\n");
        kvs_buf_puts(b, "      exporters: [lmcache_diagnose]\n");
    }
    kvs_buf_puts(b, "    logs/kvscope:\n      receivers: [lmcache_diagnose]\n      exporters: [evidence]\n");
}

/* ---- after the run ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    kvs_buf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        kvs_buf_append(&b, chunk, n);
    fclose(f);
    kvs_buf_putc(&b, 0);
    if (b.oom) {
        kvs_buf_free(&b);
        return NULL;
    }
    *len = b.len - 1;
    return b.data;
}

/* 1 when the --fail-on condition holds. */
static int failing(const opts *o)
{
    char path[4200];
    size_t len;
    if (strcmp(o->fail_on, "missing-required") == 0) {
        snprintf(path, sizeof path, "%s/observability_coverage.json", o->out);
        char *text = read_all(path, &len);
        if (!text)
            return 1;
        char ebuf[128];
        yajl_val v = yajl_tree_parse(text, ebuf, sizeof ebuf);
        const char *p[] = { "failure_reasons", NULL };
        yajl_val reasons = v ? yajl_tree_get(v, p, yajl_t_array) : NULL;
        int fail = !v || (reasons && reasons->u.array.len > 0);
        yajl_tree_free(v);
        free(text);
        return fail;
    }
    int critical_only = strcmp(o->fail_on, "critical") == 0;
    snprintf(path, sizeof path, "%s/findings.jsonl", o->out);
    char *text = read_all(path, &len);
    if (!text)
        return 1;
    int fail = 0;
    for (char *line = strtok(text, "\n"); line && !fail; line = strtok(NULL, "\n")) {
        char ebuf[128];
        yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
        const char *p[] = { "severity", NULL };
        yajl_val sev = v ? yajl_tree_get(v, p, yajl_t_string) : NULL;
        const char *s = sev ? YAJL_GET_STRING(sev) : "";
        fail = strcmp(s, "critical") == 0 || (!critical_only && strcmp(s, "warning") == 0);
        yajl_tree_free(v);
    }
    free(text);
    return fail;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->expect = "auto";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--output") == 0 && val) {
            o->out = val, i++;
        } else if (strcmp(a, "--expect-mode") == 0 && val) {
            if (strcmp(val, "mp") && strcmp(val, "embedded") && strcmp(val, "auto")) {
                fprintf(stderr, "kvscope diagnose: --expect-mode takes mp, embedded or auto\n");
                return -1;
            }
            o->expect = val, i++;
        } else if (strcmp(a, "--fail-on") == 0 && val) {
            if (strcmp(val, "missing-required") && strcmp(val, "warning") && strcmp(val, "critical")) {
                fprintf(stderr, "kvscope diagnose: --fail-on takes missing-required, warning or critical\n");
                return -1;
            }
            o->fail_on = val, i++;
        } else if (strcmp(a, "--log-level") == 0 && val) {
            o->log_level = val, i++;
        } else if (strcmp(a, "--l2-configured") == 0) {
            o->l2 = 1;
        } else if (strcmp(a, "--tracing-enabled") == 0) {
            o->tracing = 1;
        } else if (strcmp(a, "--trace-recording-enabled") == 0) {
            o->recording = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (a[0] != '-' && !o->dir) {
            o->dir = a;
        } else {
            fprintf(stderr, "kvscope diagnose: unexpected argument %s\n\n%s", a, usage);
            return -1;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "%s", usage);
        return -1;
    }
    return 0;
}

int kvs_cmd_diagnose(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, &o) != 0)
        return KVS_EXIT_CONFIG;
    kvs_log_set_level(KVS_LOG_WARN);
    if (o.log_level && kvs_cli_set_log_level(o.log_level) != 0)
        return KVS_EXIT_CONFIG;
    char dir[2048], out[2100];
    size_t dl = strlen(o.dir);
    while (dl > 1 && o.dir[dl - 1] == '/')
        dl--;
    snprintf(dir, sizeof dir, "%.*s", (int)dl, o.dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kvscope diagnose: %s is not a readable folder\n", dir);
        return KVS_EXIT_CONFIG;
    }
    if (o.out)
        snprintf(out, sizeof out, "%.2047s", o.out);
    else
        snprintf(out, sizeof out, "%.2047s/kvscope", dir);
    o.out = out;
    scan s = { .skip_dir = out };
    visit(&s, dir, dir, 0);

    kvs_buf yaml = { 0 };
    pipeline_yaml(&yaml, &s, &o);
    kvs_buf_putc(&yaml, 0);
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = yaml.oom ? NULL : kvs_service_cfg_parse("diagnose", yaml.data, yaml.len - 1, NULL, NULL, &err);
    int status = KVS_EXIT_CONFIG;
    if (!cfg) {
        fprintf(stderr, "kvscope diagnose: internal pipeline rejected: %s\n", err.msg);
        KVS_DEBUG("diagnose", "pipeline:\n%s", yaml.data ? yaml.data : "");
    } else {
        KVS_DEBUG("diagnose", "pipeline:\n%s", yaml.data);
        kvs_cli_signals();
        kvs_engine_opts eo = { .replay = 1 };
        status = kvs_cli_run(cfg, &eo, NULL, &err);
        if (status == KVS_EXIT_CONFIG)
            fprintf(stderr, "kvscope diagnose: %s\n", err.msg);
        kvs_service_cfg_free(cfg);
    }
    kvs_buf_free(&yaml);
    if (status != KVS_EXIT_CONFIG) {
        size_t read = 0, skipped = 0;
        for (size_t i = 0; i < s.n; i++)
            strcmp(s.v[i].status, "read") == 0 ? read++ : skipped++;
        char path[4200];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", out, o.json ? "lmcache_compat_report.json" : "summary.txt");
        char *text = read_all(path, &len);
        if (!o.json)
            printf("kvscope diagnose %s: %zu inputs read, %zu skipped%s\n\n", dir, read, skipped,
                   status == KVS_EXIT_REJECTED ? " (some lines were rejected: see the warnings above)" : "");
        if (text)
            fwrite(text, 1, len, stdout);
        else
            fprintf(stderr, "kvscope diagnose: no report was written to %s\n", out);
        if (!o.json)
            printf("\nReports: %s/\n", out);
        free(text);
        /* Rejected lines are reported, not a failure of the diagnosis. */
        status = KVS_EXIT_CLEAN;
        if (o.fail_on && failing(&o))
            status = KVS_EXIT_REJECTED;
        if (!text)
            status = KVS_EXIT_CONFIG;
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i].path);
    free(s.v);
    return status;
}
