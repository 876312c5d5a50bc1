/* Receiver `promfile`: saved Prometheus / OpenMetrics scrapes as OTLP
 * metrics. Each file is one scrape, or a JSON-lines timeline of
 * {"ts": <time>, "text": "<exposition>"} objects (one scrape per line).
 * A scrape's time is, in order: the line's `ts`; a 10/13/16/19-digit number
 * in the file name (seconds, ms, µs or ns since the epoch — e.g.
 * scrape-1748736015000.prom); the file's modification time. Samples keep
 * their own timestamps when they have one.
 *
 * Files in one directory (or one timeline file) are one target: scrapes are
 * delivered in time order through one series state, so counter start times
 * and resets are tracked across the timeline as a live scrape would.
 *
 * Replay reads everything once and reports done; otherwise new files are
 * picked up every `poll_interval` once they stopped changing. Every
 * rejected line is reported as file:line:column with its reason and
 * counted; the rest of the scrape is kept. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/prom_otlp.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_tree.h>

#define MAX_REPORTED 50
#define MAX_SCRAPE (512u << 20)

typedef struct target {
    char *key;                      /* directory, or timeline file */
    kvs_prom_series_state *state;
} target;

typedef struct seen {
    char *path;
    off_t size;
    time_t mtime;
    int done;
} seen;

typedef struct promfile {
    const char *id;
    kvs_host *host;
    kvs_telemetry *tel;
    kvs_next *next;
    const char **include, **exclude;
    size_t ninclude, nexclude;
    kvs_prom_mode mode;
    const char *job;
    uint64_t poll_ns;
    int replay;

    pthread_t thread;
    int running;
    target *targets;
    size_t ntargets;
    seen *files;
    size_t nfiles;
} promfile;

static const char *const keys[] = { "include", "exclude", "format", "job", "poll_interval", NULL };
static const char *const modes[] = { "auto", "prometheus", "openmetrics", NULL };

static void pf_free(promfile *p)
{
    free(p->include);
    free(p->exclude);
    for (size_t i = 0; i < p->ntargets; i++) {
        free(p->targets[i].key);
        kvs_prom_series_state_free(p->targets[i].state);
    }
    free(p->targets);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i].path);
    free(p->files);
    free(p);
}

static int pf_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    promfile *p = calloc(1, sizeof *p);
    if (!p)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int mode;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_strlist(c, "include", &p->include, &p->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &p->exclude, &p->nexclude, err) ||
        kvs_cfg_enum(c, "format", modes, 0, &mode, err) || kvs_cfg_str(c, "job", NULL, &p->job, err) ||
        kvs_cfg_duration(c, "poll_interval", KVS_SEC, &p->poll_ns, err)) {
        pf_free(p);
        return KVS_E_INVALID;
    }
    if (p->ninclude == 0) {
        pf_free(p);
        return kvs_cfg_errorf(err, c, "%s: `include` is required (a list of file globs)", ctx->id);
    }
    p->mode = mode == 1 ? KVS_PROM_MODE_PROMETHEUS : mode == 2 ? KVS_PROM_MODE_OPENMETRICS : KVS_PROM_MODE_AUTO;
    if (!p->poll_ns)
        p->poll_ns = KVS_SEC;
    p->id = ctx->id;
    p->host = ctx->host;
    p->tel = ctx->tel;
    p->next = ctx->next[kvs_signal_index(KVS_SIG_METRICS)];
    p->replay = kvs_host_replay(ctx->host);
    if (p->replay)
        kvs_host_replay_join(ctx->host);
    *state = p;
    return 0;
}

static kvs_prom_series_state *target_state(promfile *p, const char *key)
{
    for (size_t i = 0; i < p->ntargets; i++)
        if (strcmp(p->targets[i].key, key) == 0)
            return p->targets[i].state;
    target *g = realloc(p->targets, (p->ntargets + 1) * sizeof *g);
    if (!g)
        return NULL;
    p->targets = g;
    target *t = &g[p->ntargets];
    t->key = strdup(key);
    t->state = kvs_prom_series_state_new(0);
    if (!t->key || !t->state) {
        free(t->key);
        kvs_prom_series_state_free(t->state);
        return NULL;
    }
    p->ntargets++;
    return t->state;
}

/* ---- one scrape ---- */

typedef struct reject_ctx {
    promfile *p;
    const char *path;
    unsigned long line_base;   /* timeline: lines before this scrape's text */
    unsigned long n;
} reject_ctx;

static int on_reject(void *ctx, const kvs_prom_reject *r)
{
    reject_ctx *rc = ctx;
    kvs_tel_add(&rc->p->tel->errors, 1);
    if (++rc->n <= MAX_REPORTED)
        KVS_WARN(rc->p->id, "%s:%lu:%lu: %s: \"%.*s\"; line skipped", rc->path, rc->line_base + r->line, r->column,
                 r->reason, (int)(r->text.n > 120 ? 120 : r->text.n), r->text.p);
    return 0;
}

static void deliver(promfile *p, kvs_batch *b)
{
    uint64_t backoff = KVS_MS;
    for (;;) {
        kvs_error err;
        int rc = kvs_next_consume(p->next, b, &err);
        if (rc == 0) {
            kvs_tel_add(&p->tel->accepted, b->items);
            return;
        }
        if (rc != KVS_E_REFUSED || kvs_host_stopping(p->host)) {
            kvs_tel_add(rc == KVS_E_REFUSED ? &p->tel->refused : &p->tel->rejected, b->items);
            KVS_WARN(p->id, "%zu metric points not delivered: %s", b->items, err.msg);
            return;
        }
        struct timespec ts = kvs_timespec(backoff);
        nanosleep(&ts, NULL);
        if (backoff < 100 * KVS_MS)
            backoff *= 2;
    }
}

static void scrape(promfile *p, const char *path, const char *target_key, const char *text, size_t len,
                   uint64_t time_ns, unsigned long line_base)
{
    kvs_arena *a = kvs_arena_new();
    if (!a)
        return;
    kvs_prom_options po = { .mode = p->mode };
    kvs_prom_conv_options co = { .scrape_time_ns = time_ns, .state = target_state(p, target_key),
                                 .job = p->job };
    reject_ctx rc = { .p = p, .path = path, .line_base = line_base };
    kvs_metrics_req *req = NULL;
    kvs_prom_stats ps;
    kvs_error err;
    if (kvs_prom_to_otlp(text, len, &po, &co, a, &req, on_reject, &rc, &ps, NULL, &err) != 0 || !req) {
        KVS_WARN(p->id, "%s: %s", path, err.msg);
        kvs_tel_add(&p->tel->errors, 1);
        kvs_arena_free(a);
        return;
    }
    if (rc.n > MAX_REPORTED)
        KVS_WARN(p->id, "%s: %lu rejected lines in all", path, rc.n);
    kvs_batch *b = kvs_batch_wrap(KVS_SIG_METRICS, a, &req->base);
    if (!b) {
        kvs_arena_free(a);
        return;
    }
    if (b->items && p->next)
        deliver(p, b);
    kvs_batch_unref(b);
}

/* ---- scrape times ---- */

/* Scales a run of digits to ns by its length: s, ms, µs, ns. */
static uint64_t digits_to_ns(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    switch (n) {
    case 10: return v * KVS_SEC;
    case 13: return v * KVS_MS;
    case 16: return v * 1000;
    case 19: return v;
    default: return 0;
    }
}

static uint64_t name_time_ns(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *s = base; *s;) {
        if (*s >= '0' && *s <= '9') {
            const char *e = s;
            while (*e >= '0' && *e <= '9')
                e++;
            uint64_t t = digits_to_ns(s, (size_t)(e - s));
            if (t)
                return t;
            s = e;
        } else {
            s++;
        }
    }
    return 0;
}

/* `ts` of a timeline line: a number (s, ms or ns by magnitude) or a digit string. */
static uint64_t json_time_ns(yajl_val v)
{
    if (YAJL_IS_NUMBER(v)) {
        double d = YAJL_GET_DOUBLE(v);
        if (d > 1e17)
            return (uint64_t)d;
        if (d > 1e11)
            return (uint64_t)(d * 1e6);
        return d > 0 ? (uint64_t)(d * 1e9) : 0;
    }
    if (YAJL_IS_STRING(v)) {
        const char *s = YAJL_GET_STRING(v);
        size_t n = strspn(s, "0123456789");
        if (n && !s[n])
            return digits_to_ns(s, n);
    }
    return 0;
}

/* ---- files ---- */

static char *read_file(const char *path, size_t *len, kvs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kvs_errorf(err, KVS_E_IO, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size > (off_t)MAX_SCRAPE) {
        fclose(f);
        kvs_errorf(err, KVS_E_INVALID, "larger than %u MiB: not a scrape", MAX_SCRAPE >> 20);
        return NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!b) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

static int is_timeline(const char *path, const char *text, size_t len)
{
    size_t pl = strlen(path);
    if (pl > 6 && strcmp(path + pl - 6, ".jsonl") == 0)
        return 1;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    return i < len && text[i] == '{';
}

static void read_timeline(promfile *p, const char *path, char *text, size_t len)
{
    unsigned long lineno = 0;
    char *s = text, *end = text + len;
    while (s < end && !kvs_host_stopping(p->host)) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        lineno++;
        s[n] = 0;
        if (strspn(s, " \t\r") != n) {
            char ebuf[256];
            yajl_val v = yajl_tree_parse(s, ebuf, sizeof ebuf);
            const char *tp[] = { "ts", NULL }, *xp[] = { "text", NULL };
            yajl_val ts = v ? yajl_tree_get(v, tp, yajl_t_any) : NULL;
            yajl_val tx = v ? yajl_tree_get(v, xp, yajl_t_string) : NULL;
            uint64_t t = ts ? json_time_ns(ts) : 0;
            if (!v || !tx || !t) {
                kvs_tel_add(&p->tel->errors, 1);
                KVS_WARN(p->id, "%s:%lu:1: %s; line skipped", path, lineno,
                         !v ? "not a JSON object" : !tx ? "no string field `text`" : "no usable `ts` (seconds, ms or ns)");
            } else {
                const char *body = YAJL_GET_STRING(tx);
                scrape(p, path, path, body, strlen(body), t, 0);
            }
            yajl_tree_free(v);
        }
        s += n + 1;
    }
}

static void read_one(promfile *p, const char *path)
{
    kvs_error err;
    size_t len;
    char *text = read_file(path, &len, &err);
    if (!text) {
        kvs_tel_add(&p->tel->errors, 1);
        KVS_WARN(p->id, "%s: %s", path, err.msg);
        return;
    }
    kvs_host_progress(p->host, len, 0);
    if (is_timeline(path, text, len)) {
        read_timeline(p, path, text, len);
    } else {
        uint64_t t = name_time_ns(path);
        struct stat st;
        if (!t && stat(path, &st) == 0)
            t = (uint64_t)st.st_mtim.tv_sec * KVS_SEC + (uint64_t)st.st_mtim.tv_nsec;
        char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash)
            *slash = 0;
        scrape(p, path, dir && slash ? dir : ".", text, len, t, 0);
        free(dir);
    }
    free(text);
}

typedef struct entry {
    const char *path;
    uint64_t t;
} entry;

static int by_dir_then_time(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    const char *sx = strrchr(x->path, '/'), *sy = strrchr(y->path, '/');
    size_t dx = sx ? (size_t)(sx - x->path) : 0, dy = sy ? (size_t)(sy - y->path) : 0;
    int c = strncmp(x->path, y->path, dx < dy ? dx : dy);
    if (c || dx != dy)
        return c ? c : (dx < dy ? -1 : 1);
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int excluded(const promfile *p, const char *path)
{
    for (size_t i = 0; i < p->nexclude; i++)
        if (fnmatch(p->exclude[i], path, FNM_PATHNAME) == 0)
            return 1;
    return 0;
}

static seen *find_seen(promfile *p, const char *path)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (strcmp(p->files[i].path, path) == 0)
            return &p->files[i];
    seen *g = realloc(p->files, (p->nfiles + 1) * sizeof *g);
    if (!g)
        return NULL;
    p->files = g;
    seen *s = &g[p->nfiles];
    memset(s, 0, sizeof *s);
    if (!(s->path = strdup(path)))
        return NULL;
    p->nfiles++;
    return s;
}

/* One pass: every matching file not read yet (and, when following, whose
 * size and mtime did not change since the previous pass), in target/time order. */
static void scan(promfile *p, int initial)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < p->ninclude; i++)
        glob(p->include[i], i ? GLOB_APPEND : 0, NULL, &g);
    entry *todo = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof *todo);
    size_t n = 0;
    for (size_t i = 0; todo && i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        struct stat st;
        if (excluded(p, path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        seen *s = find_seen(p, path);
        if (!s || s->done)
            continue;
        int stable = p->replay || (s->size == st.st_size && s->mtime == st.st_mtime && s->size > 0);
        s->size = st.st_size;
        s->mtime = st.st_mtime;
        if (!stable)
            continue;
        s->done = 1;
        todo[n].path = path;
        todo[n].t = name_time_ns(path);
        if (!todo[n].t)
            todo[n].t = (uint64_t)st.st_mtim.tv_sec * KVS_SEC + (uint64_t)st.st_mtim.tv_nsec;
        n++;
    }
    if (initial && g.gl_pathc == 0)
        KVS_WARN(p->id, "no file matches include");
    qsort(todo, n, sizeof *todo, by_dir_then_time);
    for (size_t i = 0; i < n && !kvs_host_stopping(p->host); i++) {
        read_one(p, todo[i].path);
        kvs_host_progress(p->host, 0, 1);
    }
    free(todo);
    globfree(&g);
}

static void *pf_main(void *arg)
{
    promfile *p = arg;
    scan(p, 1);
    while (!p->replay && !kvs_host_stopping(p->host)) {
        struct timespec ts = kvs_timespec(p->poll_ns);
        nanosleep(&ts, NULL);
        scan(p, 0);
    }
    if (p->replay)
        kvs_host_receiver_done(p->host);
    return NULL;
}

static int pf_start(void *state, kvs_error *err)
{
    promfile *p = state;
    if (pthread_create(&p->thread, NULL, pf_main, p) != 0)
        return kvs_errorf(err, KVS_E_IO, "cannot start the reader thread");
    p->running = 1;
    return 0;
}

static void pf_shutdown(void *state, uint64_t deadline_ns)
{
    promfile *p = state;
    if (p->running) {
        pthread_join(p->thread, NULL);
        p->running = 0;
    }
}

static void pf_destroy(void *state) { pf_free(state); }

const kvs_component_def kvs_receiver_promfile = {
    .type = "promfile",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_METRICS,
    .create = pf_create,
    .start = pf_start,
    .shutdown = pf_shutdown,
    .destroy = pf_destroy,
};
