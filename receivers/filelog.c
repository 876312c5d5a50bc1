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

#include <stdlib.h>
#include <string.h>

#define SCOPE "kvscope/filelog"

typedef struct filelog {
    kvs_evrx_follower fw;
    int only_classified;
    kvs_logc_source forced;       /* `source` option; unknown = auto */
    char *clean;                  /* stripped line */
    uint64_t counts[KVS_LOGC_NCAT + 1][4];
    uint64_t skipped_unclassified;
    int counted;
} filelog;

static const char *const keys[] = { "include", "exclude", "start_at", "poll_interval", "max_line_size",
                                    "only_classified", "source", "max_batch", "max_files", NULL };
static const char *const sources[] = { "auto", "lmcache", "vllm", "sglang", NULL };
static const kvs_evrx_follow_defaults defaults = {
    .start_at_end = 1,
    .poll_ns = 200 * KVS_MS,
    .max_line = 64 << 10,
    .max_line_min = 256,
    .max_line_max = 64LL << 20,
    .include_hint = "(a list of file globs)",
};

static void fl_free(filelog *f)
{
    kvs_evrx_follower_free(&f->fw);
    free(f->clean);
    free(f);
}

static int fl_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    filelog *f = calloc(1, sizeof *f);
    if (!f)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int src;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_bool(c, "only_classified", 0, &f->only_classified, err) ||
        kvs_cfg_enum(c, "source", sources, 0, &src, err) ||
        kvs_evrx_follower_config(&f->fw, ctx, &defaults, SCOPE, err)) {
        fl_free(f);
        return KVS_E_INVALID;
    }
    f->forced = (kvs_logc_source)src;    /* auto = KVS_LOGC_SRC_UNKNOWN */
    f->clean = malloc(f->fw.topts.max_line + 1);
    if (!f->clean) {
        fl_free(f);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
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

/* A list attribute of the names of the bits set in `bits` (1 to `last`). */
static void put_bit_names(kvs_evrx_out *o, const char *key, unsigned bits, unsigned last,
                          const char *(*name)(unsigned bit))
{
    const char *names[8];
    size_t n = 0;
    for (unsigned bit = 1; bit <= last && n < 8; bit <<= 1)
        if (bits & bit)
            names[n++] = name(bit);
    kvs_evrx_strs(o, key, names, n);
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
    kvs_evrx_out *o = kvs_evrx_follower_batch(&f->fw);
    if (!o)
        return;
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
    if (r.connectors)
        put_bit_names(o, "kvscope.lmcache.connectors", r.connectors, KVS_LOGC_CONN_BARE, kvs_logc_connector_name);
    if (r.stale_connector)
        kvs_evrx_bool(o, "kvscope.lmcache.stale_connector", 1);
    if (r.modes)
        put_bit_names(o, "kvscope.lmcache.mode_candidates", r.modes, KVS_LOGC_MODE_DISAGG, kvs_logc_mode_name);
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
    kvs_evrx_follower_added(&f->fw);
}

static void counts(filelog *f)
{
    if (!f->counted || !kvs_evrx_wired(&f->fw.out, KVS_SIG_METRICS))
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
                       f->fw.start_wall, now, (double)f->counts[c][s]);
            kvs_evrx_str(&m, "kvscope.log.category", kvs_logc_category_name(c));
            kvs_evrx_str(&m, "kvscope.log.source", kvs_logc_source_name((kvs_logc_source)s));
        }
    kvs_evrx_flush(&f->fw.out, &m);
    f->counted = 0;
}

/* After each poll: the lines read so far go out, then the line counts. */
static void on_round(void *ctx, size_t lines)
{
    filelog *f = ctx;
    kvs_evrx_flush(&f->fw.out, &f->fw.batch);
    if (lines || f->fw.replay)
        counts(f);
}

static int fl_start(void *state, kvs_error *err)
{
    filelog *f = state;
    return kvs_evrx_follower_start(&f->fw, on_line, NULL, on_round, f, err);
}

static void fl_shutdown(void *state, uint64_t deadline_ns)
{
    filelog *f = state;
    (void)deadline_ns;
    kvs_evrx_follower_join(&f->fw);
    if (f->skipped_unclassified)
        KVS_DEBUG(f->fw.id, "%llu unclassified lines not passed (only_classified)",
                  (unsigned long long)f->skipped_unclassified);
    f->skipped_unclassified = 0;
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
