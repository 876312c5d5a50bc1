/* Receiver `filelog`: engine and LMCache log files as classified evidence.
 *
 * Tails (or, in replay, reads once) the files matched by `include` minus
 * `exclude`, rotation-safe (receivers/evrx_tail.c). Each line has its
 * ANSI escapes removed and is classified by formats/log_classify; it
 * becomes an OTLP log record (event kvscope.lmcache.log) with the line as
 * body, severity from its level word, and attributes kvscope.log.category
 * (the first matching category, `other` when none), kvscope.log.categories,
 * kvscope.log.source (lmcache / vllm / sglang by the line's format or
 * words, else by the file name, else `source`), log.file.path/name, the
 * line number, and the connector, mode candidates and config hints found
 * on it. Lines of no category are passed too unless only_classified.
 * With a metrics pipeline it also counts lines per category and source
 * (kvscope.lmcache.log.lines). */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/log_classify.h"
#include "receivers/evrx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE "kvscope/filelog"

typedef struct filelog {
    const char *id;
    kvs_evrx_sender out;
    kvs_evrx_tail_opts topts;
    const char **include, **exclude;
    size_t ninclude, nexclude;
    uint64_t poll_ns;
    int only_classified;
    kvs_logc_source forced;       /* `source` option; unknown = auto */
    size_t max_batch;
    int replay;
    kvs_evrx_tail *tail;
    kvs_evrx_out batch;
    char *clean;                  /* stripped line */
    uint64_t counts[KVS_LOGC_NCAT + 1][4];
    uint64_t skipped_unclassified;
    int counted;
    uint64_t start_wall;
    pthread_t thread;
    int running;
} filelog;

static const char *const keys[] = { "include", "exclude", "start_at", "poll_interval", "max_line_size",
                                    "only_classified", "source", "max_batch", "max_files", NULL };
static const char *const starts[] = { "end", "beginning", NULL };
static const char *const sources[] = { "auto", "lmcache", "vllm", "sglang", NULL };

static void fl_free(filelog *f)
{
    kvs_evrx_tail_free(f->tail, NULL, NULL);
    kvs_evrx_discard(&f->batch);
    free(f->clean);
    free(f->include);
    free(f->exclude);
    free(f);
}

static int fl_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    filelog *f = calloc(1, sizeof *f);
    if (!f)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int start, src;
    int64_t max_line, max_batch, max_files;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_strlist(c, "include", &f->include, &f->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &f->exclude, &f->nexclude, err) ||
        kvs_cfg_enum(c, "start_at", starts, 0, &start, err) ||
        kvs_cfg_duration(c, "poll_interval", 200 * KVS_MS, &f->poll_ns, err) ||
        kvs_cfg_i64(c, "max_line_size", 64 << 10, 256, 64LL << 20, &max_line, err) ||
        kvs_cfg_bool(c, "only_classified", 0, &f->only_classified, err) ||
        kvs_cfg_enum(c, "source", sources, 0, &src, err) ||
        kvs_cfg_i64(c, "max_batch", 1000, 1, 1 << 20, &max_batch, err) ||
        kvs_cfg_i64(c, "max_files", 512, 1, 1 << 16, &max_files, err)) {
        fl_free(f);
        return KVS_E_INVALID;
    }
    if (f->ninclude == 0) {
        fl_free(f);
        return kvs_cfg_errorf(err, c, "%s: `include` is required (a list of file globs)", ctx->id);
    }
    if (f->poll_ns < KVS_MS)
        f->poll_ns = KVS_MS;
    f->forced = (kvs_logc_source)src;    /* auto = KVS_LOGC_SRC_UNKNOWN */
    f->max_batch = (size_t)max_batch;
    f->replay = kvs_host_replay(ctx->host);
    f->topts = (kvs_evrx_tail_opts){
        .include = (const char *const *)f->include,
        .ninclude = f->ninclude,
        .exclude = (const char *const *)f->exclude,
        .nexclude = f->nexclude,
        .start_at_end = start == 0 && !f->replay,
        .max_line = (size_t)max_line,
        .max_files = (size_t)max_files,
    };
    f->clean = malloc((size_t)max_line + 1);
    if (!f->clean) {
        fl_free(f);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
    f->id = ctx->id;
    kvs_evrx_sender_init(&f->out, ctx);
    if (f->replay)
        kvs_host_replay_join(ctx->host);
    *state = f;
    return 0;
}

static int first_category(uint32_t cats)
{
    for (int c = 0; c < KVS_LOGC_NCAT; c++)
        if (cats & (1u << c))
            return c;
    return KVS_LOGC_NCAT;
}

static void on_line(void *ctx, kvs_evrx_file *file, const char *line, size_t len, uint64_t offset, int cut)
{
    filelog *f = ctx;
    (void)offset;
    size_t n = kvs_logc_strip(line, len, f->clean);
    size_t b = 0;
    while (b < n && (f->clean[b] == ' ' || f->clean[b] == '\t'))
        b++;
    if (b == n)
        return;                                  /* blank */
    kvs_logc_source hint = f->forced != KVS_LOGC_SRC_UNKNOWN ? f->forced : kvs_logc_source_from_path(file->path);
    kvs_logc_result r;
    kvs_logc_classify(f->clean, n, hint, &r);
    int primary = first_category(r.categories);
    f->counts[primary][r.source]++;
    f->counted = 1;
    if (!r.categories && f->only_classified) {
        f->skipped_unclassified++;
        return;
    }
    if (!f->batch.b && kvs_evrx_begin(&f->batch, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0)
        return;
    kvs_evrx_out *o = &f->batch;
    kvs_evrx_log(o, 0, "kvscope.lmcache.log", r.severity_number, r.severity_text, f->clean, n);
    kvs_evrx_str(o, "kvscope.evidence.kind", "log");
    kvs_evrx_str(o, "kvscope.log.category", kvs_logc_category_name(primary));
    if (r.categories) {
        const char *cats[KVS_LOGC_NCAT];
        size_t nc = 0;
        for (int c = 0; c < KVS_LOGC_NCAT; c++)
            if (r.categories & (1u << c))
                cats[nc++] = kvs_logc_category_name(c);
        kvs_evrx_strs(o, "kvscope.log.categories", cats, nc);
    }
    kvs_evrx_str(o, "kvscope.log.source", kvs_logc_source_name(r.source));
    kvs_evrx_str(o, "log.file.path", file->path);
    const char *base = strrchr(file->path, '/');
    kvs_evrx_str(o, "log.file.name", base ? base + 1 : file->path);
    kvs_evrx_int(o, "kvscope.log.line", (int64_t)file->line);
    if (cut)
        kvs_evrx_bool(o, "kvscope.log.truncated", 1);
    if (r.connectors) {
        const char *conns[4];
        size_t nc = 0;
        for (unsigned bit = 1; bit <= KVS_LOGC_CONN_BARE; bit <<= 1)
            if (r.connectors & bit)
                conns[nc++] = kvs_logc_connector_name(bit);
        kvs_evrx_strs(o, "kvscope.lmcache.connectors", conns, nc);
    }
    if (r.stale_connector)
        kvs_evrx_bool(o, "kvscope.lmcache.stale_connector", 1);
    if (r.modes) {
        const char *modes[4];
        size_t nm = 0;
        for (unsigned bit = 1; bit <= KVS_LOGC_MODE_DISAGG; bit <<= 1)
            if (r.modes & bit)
                modes[nm++] = kvs_logc_mode_name(bit);
        kvs_evrx_strs(o, "kvscope.lmcache.mode_candidates", modes, nm);
    }
    if (r.hashseed[0])
        kvs_evrx_str(o, "kvscope.lmcache.pythonhashseed", r.hashseed);
    if (r.enable_p2p >= 0)
        kvs_evrx_bool(o, "kvscope.lmcache.enable_p2p", r.enable_p2p);
    if (r.enable_pd >= 0)
        kvs_evrx_bool(o, "kvscope.lmcache.enable_pd", r.enable_pd);
    if (r.enable_async_loading >= 0)
        kvs_evrx_bool(o, "kvscope.lmcache.enable_async_loading", r.enable_async_loading);
    if (r.has_speed) {
        kvs_evrx_dbl(o, "kvscope.log.speed", r.speed_value);
        kvs_evrx_str(o, "kvscope.log.speed_unit", r.speed_unit);
    }
    if (kvs_evrx_count(o) >= f->max_batch)
        kvs_evrx_flush(&f->out, o);
}

static void counts(filelog *f)
{
    if (!f->counted || !kvs_evrx_wired(&f->out, KVS_SIG_METRICS))
        return;
    kvs_evrx_out m;
    if (kvs_evrx_begin(&m, KVS_SIG_METRICS, SCOPE, NULL, 0) != 0)
        return;
    uint64_t now = kvs_wall_ns();
    for (int c = 0; c <= KVS_LOGC_NCAT; c++)
        for (int s = 0; s < 4; s++) {
            if (!f->counts[c][s])
                continue;
            kvs_evrx_sum(&m, "kvscope.lmcache.log.lines", "{line}", "log lines by evidence category and source",
                       f->start_wall, now, (double)f->counts[c][s]);
            kvs_evrx_str(&m, "kvscope.log.category", kvs_logc_category_name(c));
            kvs_evrx_str(&m, "kvscope.log.source", kvs_logc_source_name((kvs_logc_source)s));
        }
    kvs_evrx_flush(&f->out, &m);
    f->counted = 0;
}

static void *fl_main(void *arg)
{
    filelog *f = arg;
    f->start_wall = kvs_wall_ns();
    for (int first = 1;; first = 0) {
        size_t n = kvs_evrx_tail_poll(f->tail, first, f->replay, on_line, NULL, f);
        kvs_evrx_flush(&f->out, &f->batch);
        if (n || f->replay)
            counts(f);
        if (f->replay || kvs_host_stopping(f->out.host))
            break;
        kvs_evrx_sleep(f->out.host, f->poll_ns);
        if (kvs_host_stopping(f->out.host))
            break;
    }
    if (f->skipped_unclassified)
        KVS_DEBUG(f->id, "%llu unclassified lines not passed (only_classified)",
                  (unsigned long long)f->skipped_unclassified);
    if (f->replay)
        kvs_host_receiver_done(f->out.host);
    return NULL;
}

static int fl_start(void *state, kvs_error *err)
{
    filelog *f = state;
    f->tail = kvs_evrx_tail_new(&f->topts, f->id, f->out.host, f->out.tel);
    if (!f->tail)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    if (pthread_create(&f->thread, NULL, fl_main, f) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the reader thread", f->id);
    f->running = 1;
    return 0;
}

static void fl_shutdown(void *state, uint64_t deadline_ns)
{
    filelog *f = state;
    (void)deadline_ns;
    if (f->running) {
        pthread_join(f->thread, NULL);
        f->running = 0;
    }
}

static void fl_destroy(void *state) { fl_free(state); }

const kvs_component_def kvs_receiver_filelog = {
    .type = "filelog",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_LOGS | KVS_SIG_METRICS,
    .create = fl_create,
    .start = fl_start,
    .shutdown = fl_shutdown,
    .destroy = fl_destroy,
};
