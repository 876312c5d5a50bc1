/* Receiver `lmcache_lookup_hash`: LMCache lookup-hash logs
 * (`lookup_hashes_*.jsonl` under --lookup-hash-log-dir) as evidence.
 *
 * A receiver of its own rather than a filelog mode: its input is
 * structured (one JSON object per line), its evidence is per file (row
 * counts, sequence lengths, chunk sizes, the logger's rotation settings)
 * and its privacy rule is specific (chunk hashes are counted, never
 * copied). It shares filelog's rotation-safe tailer, which the logger's
 * own rotation (new files by interval or size, at most max-files kept)
 * needs.
 *
 * Each row becomes a log record (event kvscope.lmcache.lookup_hash) with
 * the request id, model, chunk size, sequence length, dtypes, shapes and
 * the number of chunk hashes (emit_rows: false turns these off); each file
 * gets a summary record (kvscope.lmcache.lookup_hash.summary) when it is
 * let go (end of replay, rotated away) and, while followed, after a poll
 * that read rows. A malformed line is reported as file:line with its byte
 * offset and reason, counted, and skipped. No raw hash reaches any output:
 * formats/lookup_hash never keeps one. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/lookup_hash.h"
#include "receivers/evrx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE "kvscope/lmcache_lookup_hash"
#define MAX_REPORTED 20      /* malformed lines logged per file */

typedef struct lhfile {
    kvs_lh_summary s;
    int dirty;
} lhfile;

typedef struct lookuphash {
    kvs_evrx_follower fw;
    int emit_rows;
    uint64_t files_seen;
} lookuphash;

static const char *const keys[] = { "include", "exclude", "start_at", "poll_interval", "max_line_size",
                                    "emit_rows", "max_batch", NULL };
static const kvs_evrx_follow_defaults defaults = {
    .start_at_end = 0,
    .poll_ns = KVS_SEC,
    .max_line = 16 << 20,
    .max_line_min = 1024,
    .max_line_max = 1LL << 30,
    .include_hint = "(e.g. [/var/log/lmcache/lookup_hashes_*.jsonl])",
};

static int lk_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    lookuphash *l = calloc(1, sizeof *l);
    if (!l)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_bool(c, "emit_rows", 1, &l->emit_rows, err) ||
        kvs_evrx_follower_config(&l->fw, ctx, &defaults, SCOPE, err)) {
        kvs_evrx_follower_free(&l->fw);
        free(l);
        return KVS_E_INVALID;
    }
    *state = l;
    return 0;
}

static lhfile *state_of(lookuphash *l, kvs_evrx_file *f)
{
    if (!f->user) {
        lhfile *s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        kvs_lh_summary_init(&s->s);
        f->user = s;
        l->files_seen++;
    }
    return f->user;
}

static void on_line(void *ctx, kvs_evrx_file *f, const char *line, size_t len, uint64_t offset, int cut)
{
    lookuphash *l = ctx;
    lhfile *s = state_of(l, f);
    if (!s)
        return;
    kvs_lh_row row;
    char why[160];
    int rc = cut ? -1 : kvs_lh_parse_line(line, len, &row, why, sizeof why);
    if (rc == 1)
        return;
    s->dirty = 1;
    if (rc < 0) {
        if (cut)
            snprintf(why, sizeof why, "line longer than max_line_size");
        s->s.malformed++;
        kvs_tel_add(&l->fw.out.tel->errors, 1);
        if (s->s.malformed <= MAX_REPORTED)
            KVS_WARN(l->fw.id, "%s:%llu: %s (byte offset %llu); line skipped", f->path, (unsigned long long)f->line,
                     why, (unsigned long long)offset);
        return;
    }
    kvs_lh_summary_add(&s->s, &row);
    if (!l->emit_rows)
        return;
    kvs_evrx_out *o = kvs_evrx_follower_batch(&l->fw);
    if (!o)
        return;
    char body[400];
    snprintf(body, sizeof body, "lookup %s: %s seq_len %lld, %lld chunk hashes (redacted)",
             row.request_id[0] ? row.request_id : "-", row.model_name[0] ? row.model_name : "-",
             (long long)(row.has_seq_len ? row.seq_len : -1), (long long)row.chunk_hash_count);
    kvs_evrx_log(o, row.has_time && row.time_s < 1e11 ? (uint64_t)(row.time_s * 1e9) : 0,
               "kvscope.lmcache.lookup_hash", 9, "INFO", body, strlen(body));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lookup_hash");
    kvs_evrx_str(o, "lmcache.lookup_hash.file", f->path);
    kvs_evrx_int(o, "lmcache.lookup_hash.line", (int64_t)f->line);
    if (row.request_id[0])
        kvs_evrx_str(o, "lmcache.request.id", row.request_id);
    if (row.model_name[0])
        kvs_evrx_str(o, "lmcache.model_name", row.model_name);
    if (row.timestamp[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.timestamp", row.timestamp);
    if (row.has_chunk_size)
        kvs_evrx_int(o, "lmcache.chunk_size", row.chunk_size);
    if (row.has_seq_len)
        kvs_evrx_int(o, "lmcache.lookup_hash.seq_len", row.seq_len);
    kvs_evrx_int(o, "lmcache.lookup_hash.chunk_hash_count", row.chunk_hash_count);
    kvs_evrx_bool(o, "lmcache.lookup_hash.chunk_hashes_redacted", 1);
    if (row.dtypes[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.dtypes", row.dtypes);
    if (row.shapes[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.shapes", row.shapes);
    kvs_evrx_follower_added(&l->fw);
}

static void summary(lookuphash *l, kvs_evrx_file *f, int final)
{
    lhfile *st = f->user;
    if (!st || (!st->dirty && !final))
        return;
    st->dirty = 0;
    kvs_evrx_out *o = kvs_evrx_follower_batch(&l->fw);
    if (!o)
        return;
    const kvs_lh_summary *s = &st->s;
    const kvs_lh_config *c = &s->config;
    int rotation = c->rotation_interval[0] || c->rotation_max_size[0] || c->max_files[0];
    char body[512];
    snprintf(body, sizeof body, "%.300s: %llu rows, %llu malformed, %zu models, rotation %s", f->path,
             (unsigned long long)s->rows, (unsigned long long)s->malformed, s->nmodels,
             rotation ? "configured" : "not configured");
    kvs_evrx_log(o, 0, "kvscope.lmcache.lookup_hash.summary", s->malformed ? 13 : 9, s->malformed ? "WARN" : "INFO",
               body, strlen(body));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lookup_hash");
    kvs_evrx_str(o, "lmcache.lookup_hash.file", f->path);
    kvs_evrx_bool(o, "lmcache.lookup_hash.final", final);
    kvs_evrx_int(o, "lmcache.lookup_hash.rows", (int64_t)s->rows);
    kvs_evrx_int(o, "lmcache.lookup_hash.malformed_rows", (int64_t)s->malformed);
    const char *models[KVS_LH_MAX_SET];
    for (size_t i = 0; i < s->nmodels; i++)
        models[i] = s->models[i];
    kvs_evrx_strs(o, "lmcache.lookup_hash.models", models, s->nmodels);
    char sizes[KVS_LH_MAX_SET][24];
    const char *sz[KVS_LH_MAX_SET];
    for (size_t i = 0; i < s->nchunk_sizes; i++) {
        snprintf(sizes[i], sizeof sizes[i], "%lld", (long long)s->chunk_sizes[i]);
        sz[i] = sizes[i];
    }
    kvs_evrx_strs(o, "lmcache.lookup_hash.chunk_sizes", sz, s->nchunk_sizes);
    if (s->seq_len.count) {
        kvs_evrx_int(o, "lmcache.lookup_hash.seq_len.count", (int64_t)s->seq_len.count);
        kvs_evrx_int(o, "lmcache.lookup_hash.seq_len.min", s->seq_len.min);
        kvs_evrx_int(o, "lmcache.lookup_hash.seq_len.max", s->seq_len.max);
        kvs_evrx_int(o, "lmcache.lookup_hash.seq_len.total", s->seq_len.total);
    }
    kvs_evrx_int(o, "lmcache.lookup_hash.chunk_hash_count.total", s->chunk_hash_count.total);
    if (c->log_dir[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.config.log_dir", c->log_dir);
    if (c->rotation_interval[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.config.rotation_interval", c->rotation_interval);
    if (c->rotation_max_size[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.config.rotation_max_size", c->rotation_max_size);
    if (c->max_files[0])
        kvs_evrx_str(o, "lmcache.lookup_hash.config.max_files", c->max_files);
    kvs_evrx_bool(o, "lmcache.lookup_hash.rotation_configured", rotation);
    kvs_evrx_int(o, "lmcache.lookup_hash.files_seen", (int64_t)l->files_seen);
    if (s->first_time > 0) {
        kvs_evrx_dbl(o, "lmcache.lookup_hash.first_time", s->first_time);
        kvs_evrx_dbl(o, "lmcache.lookup_hash.last_time", s->last_time);
    }
    if (kvs_evrx_wired(&l->fw.out, KVS_SIG_METRICS)) {
        kvs_evrx_out m;
        if (kvs_evrx_begin(&m, KVS_SIG_METRICS, SCOPE, NULL, 0) == 0) {
            uint64_t now = kvs_wall_ns();
            kvs_evrx_sum(&m, "kvscope.lmcache.lookup_hash.rows", "{row}", "lookup-hash rows read", l->fw.start_wall,
                       now, (double)s->rows);
            kvs_evrx_str(&m, "lmcache.lookup_hash.file", f->path);
            kvs_evrx_sum(&m, "kvscope.lmcache.lookup_hash.malformed_rows", "{row}", "malformed lookup-hash lines",
                       l->fw.start_wall, now, (double)s->malformed);
            kvs_evrx_str(&m, "lmcache.lookup_hash.file", f->path);
            kvs_evrx_sum(&m, "kvscope.lmcache.lookup_hash.chunk_hashes", "{hash}", "chunk hashes looked up (counted)",
                       l->fw.start_wall, now, (double)s->chunk_hash_count.total);
            kvs_evrx_str(&m, "lmcache.lookup_hash.file", f->path);
            kvs_evrx_flush(&l->fw.out, &m);
        }
    }
}

static void on_close(void *ctx, kvs_evrx_file *f)
{
    lookuphash *l = ctx;
    if (f->user)
        summary(l, f, 1);
    free(f->user);
    f->user = NULL;
}

static void progress(void *ctx, kvs_evrx_file *f) { summary(ctx, f, 0); }

/* After each poll: a summary of every file that had rows. */
static void on_round(void *ctx, size_t lines)
{
    lookuphash *l = ctx;
    (void)lines;
    kvs_evrx_tail_each(l->fw.tail, progress, l);
}

static int lk_start(void *state, kvs_error *err)
{
    lookuphash *l = state;
    return kvs_evrx_follower_start(&l->fw, on_line, on_close, on_round, l, err);
}

static void lk_shutdown(void *state, uint64_t deadline_ns)
{
    lookuphash *l = state;
    (void)deadline_ns;
    kvs_evrx_follower_join(&l->fw);
    /* files still followed: their last summaries */
    kvs_evrx_follower_close(&l->fw);
}

static void lk_destroy(void *state)
{
    lookuphash *l = state;
    kvs_evrx_follower_free(&l->fw);
    free(l);
}

const kvs_component_def kvs_receiver_lmcache_lookup_hash = {
    .type = "lmcache_lookup_hash",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_LOGS | KVS_SIG_METRICS,
    .create = lk_create,
    .start = lk_start,
    .shutdown = lk_shutdown,
    .destroy = lk_destroy,
};
