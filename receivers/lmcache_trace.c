/* Receiver `lmcache_trace`: LMCache `.lct` trace recordings (and the
 * outputs of `lmcache trace info` / `lmcache trace replay`) as evidence.
 *
 * Recordings matched by `include` (minus `exclude`) are streamed through
 * formats/lct (constant memory) into lmcache/lct_analysis. Per recording it
 * emits a log record `kvscope.lmcache.trace` (header, validity, op mix,
 * time span, call-pair latencies, prefetch hits, unfinished writes,
 * truncation and skipped records), one `kvscope.lmcache.trace.request` per
 * request reconstructed by external_request_id, and metrics
 * (kvscope.lmcache.trace.*). Files matched by `replay_include` are parsed
 * by formats/lct_replay and emitted as `kvscope.lmcache.trace.replay`,
 * tied to the recording whose header has the same sm_config_digest.
 *
 * Replay (kvscope replay / diagnose): every file once, in name order, then
 * done. Otherwise it follows: every `poll_interval` new recordings are
 * picked up and growing ones are read on from the last complete frame (a
 * partial frame at the end is waited for, not reported, until the file is
 * gone); the summary is re-emitted after a poll that read records. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/lct.h"
#include "formats/lct_replay.h"
#include "lmcache/lct_analysis.h"
#include "receivers/evrx.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCOPE "kvscope/lmcache_trace"
#define TAKE_EVERY 256
#define REQ_BATCH 512
#define MAX_SKIPS_SHOWN 5

typedef struct recfile {
    char *path;
    dev_t dev;
    ino_t ino;
    int seen, bad, dirty, done;
    kvs_lct_header h;
    char error[512];
    uint64_t offset, next_index;
    kvs_lct_stats st;              /* cumulative */
    int tail_partial;
    kvs_lcta *an;
    char skips[MAX_SKIPS_SHOWN][220];
    size_t nskips;
} recfile;

typedef struct replayfile {
    char *path;
    off_t size;
    time_t mtime;
} replayfile;

typedef struct lmctrace {
    const char *id;
    kvs_evrx_sender out;
    const char **include, **exclude, **replay_include;
    size_t ninclude, nexclude, nreplay_include;
    uint64_t poll_ns;
    size_t max_frame;
    int emit_requests;
    kvs_lcta_opts aopts;
    int replay;
    recfile *files;
    size_t nfiles;
    replayfile *rfiles;
    size_t nrfiles;
    kvs_lcta_request *reqbuf;
    pthread_t thread;
    int running;
    uint64_t start_wall;
} lmctrace;

static const char *const keys[] = { "include", "exclude", "replay_include", "poll_interval", "max_frame_size",
                                    "emit_requests", "max_requests", "request_idle_timeout", "max_tracked_keys",
                                    NULL };

static void lt_free(lmctrace *t)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        kvs_lcta_free(t->files[i].an);
        free(t->files[i].path);
    }
    for (size_t i = 0; i < t->nrfiles; i++)
        free(t->rfiles[i].path);
    free(t->files);
    free(t->rfiles);
    free(t->reqbuf);
    free(t->include);
    free(t->exclude);
    free(t->replay_include);
    free(t);
}

static int lt_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    lmctrace *t = calloc(1, sizeof *t);
    if (!t)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int64_t max_frame, max_requests, max_keys;
    uint64_t idle_ns;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_strlist(c, "include", &t->include, &t->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &t->exclude, &t->nexclude, err) ||
        kvs_cfg_strlist(c, "replay_include", &t->replay_include, &t->nreplay_include, err) ||
        kvs_cfg_duration(c, "poll_interval", KVS_SEC, &t->poll_ns, err) ||
        kvs_cfg_i64(c, "max_frame_size", 16 << 20, 4096, 1LL << 32, &max_frame, err) ||
        kvs_cfg_bool(c, "emit_requests", 1, &t->emit_requests, err) ||
        kvs_cfg_i64(c, "max_requests", 4096, 16, 1 << 20, &max_requests, err) ||
        kvs_cfg_duration(c, "request_idle_timeout", 30 * KVS_SEC, &idle_ns, err) ||
        kvs_cfg_i64(c, "max_tracked_keys", 65536, 1024, 1 << 26, &max_keys, err)) {
        lt_free(t);
        return KVS_E_INVALID;
    }
    if (t->ninclude == 0 && t->nreplay_include == 0) {
        lt_free(t);
        return kvs_cfg_errorf(err, c, "%s: `include` (.lct recordings) or `replay_include` is required", ctx->id);
    }
    if (t->poll_ns < 10 * KVS_MS)
        t->poll_ns = 10 * KVS_MS;
    t->max_frame = (size_t)max_frame;
    t->aopts.max_requests = (size_t)max_requests;
    t->aopts.key_slots = (size_t)max_keys;
    t->aopts.request_idle_s = idle_ns ? (double)idle_ns / 1e9 : 30;
    t->reqbuf = calloc(REQ_BATCH, sizeof *t->reqbuf);
    if (!t->reqbuf) {
        lt_free(t);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
    t->id = ctx->id;
    kvs_evrx_sender_init(&t->out, ctx);
    t->replay = kvs_host_replay(ctx->host);
    if (t->replay)
        kvs_host_replay_join(ctx->host);
    *state = t;
    return 0;
}

/* ---- requests ---- */

static void send_requests(lmctrace *t, recfile *f, int end)
{
    for (;;) {
        size_t n = kvs_lcta_take(f->an, t->reqbuf, REQ_BATCH, end);
        if (!n)
            return;
        if (!t->emit_requests || !kvs_evrx_wired(&t->out, KVS_SIG_LOGS))
            continue;
        kvs_evrx_out o;
        if (kvs_evrx_begin(&o, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0)
            return;
        for (size_t i = 0; i < n; i++) {
            const kvs_lcta_request *r = &t->reqbuf[i];
            char body[320];
            snprintf(body, sizeof body, "request %s: %llu calls [%s]", r->id, (unsigned long long)r->calls, r->ops);
            uint64_t ts = r->first_wall > 0 && r->first_wall < 1e11 ? (uint64_t)(r->first_wall * 1e9) : 0;
            kvs_evrx_log(&o, ts, "kvscope.lmcache.trace.request", 9, "INFO", body, strlen(body));
            kvs_evrx_str(&o, "kvscope.evidence.kind", "lct_request");
            kvs_evrx_str(&o, "lmcache.trace.file", f->path);
            kvs_evrx_str(&o, "lmcache.request.id", r->id);
            kvs_evrx_int(&o, "lmcache.request.calls", (int64_t)r->calls);
            kvs_evrx_str(&o, "lmcache.request.ops", r->ops);
            kvs_evrx_int(&o, "lmcache.request.keys_requested", (int64_t)r->keys_requested);
            if (r->has_handle) {
                kvs_evrx_int(&o, "lmcache.request.l1_prefix_hits", (int64_t)r->l1_prefix_hits);
                kvs_evrx_int(&o, "lmcache.request.total_requested_keys", (int64_t)r->total_requested_keys);
                if (r->total_requested_keys)
                    kvs_evrx_dbl(&o, "lmcache.request.hit_ratio",
                               (double)r->l1_prefix_hits / (double)r->total_requested_keys);
            }
            kvs_evrx_int(&o, "lmcache.request.read_keys", (int64_t)r->read_keys);
            kvs_evrx_int(&o, "lmcache.request.reserved_keys", (int64_t)r->reserved_keys);
            kvs_evrx_int(&o, "lmcache.request.stored_keys", (int64_t)r->stored_keys);
            if (r->prefetch_read_ms >= 0)
                kvs_evrx_dbl(&o, "lmcache.request.prefetch_read_ms", r->prefetch_read_ms);
            if (r->write_ms >= 0)
                kvs_evrx_dbl(&o, "lmcache.request.write_ms", r->write_ms);
            kvs_evrx_dbl(&o, "lmcache.request.duration_ms", (r->last_mono - r->first_mono) * 1000.0);
            kvs_evrx_str(&o, "lmcache.request.closed_by", r->why);
        }
        kvs_evrx_flush(&t->out, &o);
    }
}

/* ---- reading a recording ---- */

static void read_recording(lmctrace *t, recfile *f, int final)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        KVS_WARN(t->id, "cannot open %s: %s", f->path, strerror(errno));
        kvs_tel_add(&t->out.tel->errors, 1);
        return;
    }
    struct stat st;
    uint64_t base = f->offset;
    if (fstat(fd, &st) != 0 || ((uint64_t)st.st_size <= base && !(final && base == 0))) {
        close(fd);
        return;
    }
    kvs_lct_reader *r = kvs_lct_reader_fd(fd, t->max_frame);
    if (!r) {
        close(fd);
        return;
    }
    kvs_error err = { 0 };
    if (f->offset == 0) {
        if (kvs_lct_read_header(r, &f->h, &err) != 0) {
            /* A recording still being created may not hold its header yet. */
            if (!final && st.st_size < 4096 && strstr(err.msg, "truncated")) {
                kvs_lct_reader_free(r);
                close(fd);
                return;
            }
            f->bad = 1;
            f->dirty = 1;
            snprintf(f->error, sizeof f->error, "%s", err.msg);
            KVS_WARN(t->id, "%s: %s", f->path, err.msg);
            kvs_tel_add(&t->out.tel->errors, 1);
            kvs_lct_reader_free(r);
            close(fd);
            return;
        }
        f->next_index = 0;
        f->dirty = 1;
    } else {
        lseek(fd, (off_t)f->offset, SEEK_SET);
        kvs_lct_reader_resume(r, f->offset, f->next_index);
    }
    kvs_lct_record rec;
    kvs_lct_issue is;
    int k;
    uint64_t n = 0;
    while (!kvs_host_stopping(t->out.host) && (k = kvs_lct_next(r, &rec, &is, &err)) > 0) {
        f->dirty = 1;
        if (k == KVS_LCT_RECORD) {
            kvs_lcta_add(f->an, &rec);
            f->next_index = rec.index + 1;
        } else {
            kvs_lcta_skipped(f->an);
            f->next_index = is.index + 1;
            if (f->nskips < MAX_SKIPS_SHOWN)
                snprintf(f->skips[f->nskips++], sizeof f->skips[0], "record %llu at offset %llu: %s",
                         (unsigned long long)is.index, (unsigned long long)is.offset, is.reason);
            KVS_DEBUG(t->id, "%s: record %llu at offset %llu skipped: %s", f->path, (unsigned long long)is.index,
                      (unsigned long long)is.offset, is.reason);
            kvs_tel_add(&t->out.tel->errors, 1);
        }
        if (++n % TAKE_EVERY == 0)
            send_requests(t, f, 0);
    }
    if (k < 0) {
        KVS_WARN(t->id, "%s: %s", f->path, err.msg);
        kvs_tel_add(&t->out.tel->errors, 1);
    }
    const kvs_lct_stats *s = kvs_lct_get_stats(r);
    kvs_host_progress(t->out.host, s->bytes, 0);
    f->st.records += s->records;
    f->st.skipped += s->skipped;
    f->st.unknown_tags += s->unknown_tags;
    f->tail_partial = s->truncated;
    if (s->truncated) {
        f->offset = s->truncated_offset;     /* wait for the rest of that frame */
        f->st.truncated_offset = s->truncated_offset;
        f->st.truncated_have = s->truncated_have;
        f->st.truncated_want = s->truncated_want;
    } else {
        f->offset = base + s->bytes;
    }
    f->st.bytes = f->offset;
    kvs_lct_reader_free(r);
    close(fd);
}

/* ---- evidence ---- */

static void pair_attrs(kvs_evrx_out *o, const kvs_lcta_summary *s, int p)
{
    char k[80];
    const char *name = kvs_lcta_pair_name(p);
    const kvs_lcta_latency *l = &s->pairs[p];
#define PK(suffix) (snprintf(k, sizeof k, "lmcache.trace.%s.%s", name, suffix), k)
    kvs_evrx_int(o, PK("pairs"), (int64_t)l->count);
    kvs_evrx_int(o, PK("unmatched"), (int64_t)s->unmatched[p]);
    if (l->count) {
        kvs_evrx_dbl(o, PK("mean_ms"), l->sum_ms / (double)l->count);
        kvs_evrx_dbl(o, PK("p50_ms"), kvs_lcta_quantile(l, 0.5));
        kvs_evrx_dbl(o, PK("p99_ms"), kvs_lcta_quantile(l, 0.99));
        kvs_evrx_dbl(o, PK("max_ms"), l->max_ms);
    }
#undef PK
}

static void emit_summary(lmctrace *t, recfile *f, int final)
{
    const kvs_lcta_summary *s = kvs_lcta_get(f->an);
    int truncated = f->tail_partial && final;
    kvs_evrx_out o;
    if (kvs_evrx_begin(&o, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0)
        return;
    char body[512];
    uint64_t ts = f->h.t_wall_start > 0 && f->h.t_wall_start < 1e11 ? (uint64_t)(f->h.t_wall_start * 1e9) : 0;
    if (f->bad) {
        snprintf(body, sizeof body, "%.200s: not a readable LMCache trace: %.270s", f->path, f->error);
        kvs_evrx_log(&o, 0, "kvscope.lmcache.trace", 17, "ERROR", body, strlen(body));
    } else {
        snprintf(body, sizeof body, "%s: %llu records over %.3f s, %llu skipped%s", f->path,
                 (unsigned long long)s->records, s->records ? s->last_mono - s->first_mono : 0.0,
                 (unsigned long long)s->skipped, truncated ? ", truncated tail" : "");
        int warn = truncated || s->skipped;
        kvs_evrx_log(&o, ts, "kvscope.lmcache.trace", warn ? 13 : 9, warn ? "WARN" : "INFO", body, strlen(body));
    }
    kvs_evrx_str(&o, "kvscope.evidence.kind", "lct");
    kvs_evrx_str(&o, "lmcache.trace.file", f->path);
    kvs_evrx_bool(&o, "lmcache.trace.valid", !f->bad);
    if (f->bad) {
        kvs_evrx_str(&o, "lmcache.trace.error", f->error);
        kvs_evrx_flush(&t->out, &o);
        return;
    }
    kvs_evrx_int(&o, "lmcache.trace.format_version", f->h.format_version);
    kvs_evrx_int(&o, "lmcache.trace.schema_version", f->h.trace_schema_version);
    if (f->h.lmcache_version[0])
        kvs_evrx_str(&o, "lmcache.trace.lmcache_version", f->h.lmcache_version);
    kvs_evrx_bool(&o, "lmcache.trace.replayable", f->h.trace_schema_version == 2);
    kvs_evrx_str(&o, "lmcache.trace.level", f->h.level);
    kvs_evrx_str(&o, "lmcache.trace.sm_config_digest", f->h.sm_config_digest);
    kvs_evrx_bool(&o, "lmcache.trace.sm_config_present", f->h.sm_config_json_len > 0);
    kvs_evrx_int(&o, "lmcache.trace.records", (int64_t)s->records);
    kvs_evrx_int(&o, "lmcache.trace.skipped", (int64_t)s->skipped);
    kvs_evrx_int(&o, "lmcache.trace.unknown_tags", (int64_t)f->st.unknown_tags);
    kvs_evrx_int(&o, "lmcache.trace.bytes", (int64_t)f->st.bytes);
    kvs_evrx_bool(&o, "lmcache.trace.truncated", truncated);
    if (truncated) {
        kvs_evrx_int(&o, "lmcache.trace.truncated_offset", (int64_t)f->st.truncated_offset);
        kvs_evrx_int(&o, "lmcache.trace.truncated_frame_bytes", (int64_t)f->st.truncated_have);
    }
    if (!final)
        kvs_evrx_bool(&o, "lmcache.trace.in_progress", 1);
    const char *sk[MAX_SKIPS_SHOWN];
    for (size_t i = 0; i < f->nskips; i++)
        sk[i] = f->skips[i];
    if (f->nskips)
        kvs_evrx_strs(&o, "lmcache.trace.skipped_records", sk, f->nskips);
    if (s->records) {
        kvs_evrx_dbl(&o, "lmcache.trace.duration_s", s->last_mono - s->first_mono);
        kvs_evrx_dbl(&o, "lmcache.trace.first_t_wall", s->first_wall);
        kvs_evrx_dbl(&o, "lmcache.trace.last_t_wall", s->last_wall);
    }
    const char *names[KVS_LCTA_MAX_OPS];
    int64_t calls[KVS_LCTA_MAX_OPS], nkeys[KVS_LCTA_MAX_OPS];
    for (size_t i = 0; i < s->nops; i++)
        names[i] = s->ops[i].name, calls[i] = (int64_t)s->ops[i].calls, nkeys[i] = (int64_t)s->ops[i].keys;
    kvs_evrx_int_map(&o, "lmcache.trace.op_counts", names, calls, s->nops);
    kvs_evrx_int_map(&o, "lmcache.trace.op_keys", names, nkeys, s->nops);
    if (s->other_calls)
        kvs_evrx_int(&o, "lmcache.trace.other_op_calls", (int64_t)s->other_calls);
    for (int p = 0; p < KVS_LCTA_NPAIRS; p++)
        pair_attrs(&o, s, p);
    kvs_evrx_int(&o, "lmcache.trace.write.unfinished_keys", (int64_t)s->write_unfinished_keys);
    kvs_evrx_int(&o, "lmcache.trace.prefetch.submits", (int64_t)s->prefetch_submits);
    kvs_evrx_int(&o, "lmcache.trace.prefetch.keys", (int64_t)s->prefetch_keys);
    kvs_evrx_int(&o, "lmcache.trace.prefetch.read_keys", (int64_t)s->prefetch_read_keys);
    kvs_evrx_int(&o, "lmcache.trace.prefetch.handles", (int64_t)s->handles);
    if (s->handles) {
        kvs_evrx_int(&o, "lmcache.trace.prefetch.l1_prefix_hits", (int64_t)s->handle_hits);
        kvs_evrx_int(&o, "lmcache.trace.prefetch.total_requested_keys", (int64_t)s->handle_total_keys);
    }
    double ratio = s->handle_total_keys ? (double)s->handle_hits / (double)s->handle_total_keys
                   : s->prefetch_keys  ? (double)s->prefetch_read_keys / (double)s->prefetch_keys
                                       : NAN;
    if (!isnan(ratio)) {
        kvs_evrx_dbl(&o, "lmcache.trace.prefetch.hit_ratio", ratio);
        kvs_evrx_str(&o, "lmcache.trace.prefetch.hit_ratio_source", s->handle_total_keys ? "prefetch_handles" : "read_keys");
    }
    kvs_evrx_int(&o, "lmcache.trace.requests", (int64_t)s->requests);
    if (s->requests_lost)
        kvs_evrx_int(&o, "lmcache.trace.requests_lost", (int64_t)s->requests_lost);
    const char *models[KVS_LCTA_MAX_MODELS];
    for (size_t i = 0; i < s->nmodels; i++)
        models[i] = s->models[i];
    kvs_evrx_strs(&o, "lmcache.trace.models", models, s->nmodels);
    kvs_evrx_int(&o, "lmcache.trace.salted_keys", (int64_t)s->salted_keys);
    if (s->keys_forgotten)
        kvs_evrx_int(&o, "lmcache.trace.keys_forgotten", (int64_t)s->keys_forgotten);
    kvs_evrx_flush(&t->out, &o);

    if (!kvs_evrx_wired(&t->out, KVS_SIG_METRICS))
        return;
    kvs_evrx_out m;
    if (kvs_evrx_begin(&m, KVS_SIG_METRICS, SCOPE, NULL, 0) != 0)
        return;
    uint64_t now = kvs_wall_ns();
    kvs_evrx_sum(&m, "kvscope.lmcache.trace.records", "{record}", "records read from the recording", t->start_wall,
               now, (double)s->records);
    kvs_evrx_str(&m, "lmcache.trace.file", f->path);
    kvs_evrx_sum(&m, "kvscope.lmcache.trace.skipped", "{record}", "undecodable records skipped", t->start_wall, now,
               (double)s->skipped);
    kvs_evrx_str(&m, "lmcache.trace.file", f->path);
    for (size_t i = 0; i < s->nops; i++) {
        kvs_evrx_sum(&m, "kvscope.lmcache.trace.ops", "{call}", "traced StorageManager calls", t->start_wall, now,
                   (double)s->ops[i].calls);
        kvs_evrx_str(&m, "lmcache.trace.file", f->path);
        kvs_evrx_str(&m, "lmcache.trace.op", s->ops[i].name);
    }
    static const double q[] = { 0.5, 0.99, 1.0 };
    for (int p = 0; p < KVS_LCTA_NPAIRS; p++) {
        const kvs_lcta_latency *l = &s->pairs[p];
        if (!l->count)
            continue;
        double qv[] = { kvs_lcta_quantile(l, 0.5), kvs_lcta_quantile(l, 0.99), l->max_ms };
        kvs_evrx_summary(&m, "kvscope.lmcache.trace.pair.latency", "ms", "latency between paired calls",
                       t->start_wall, now, l->count, l->sum_ms, q, qv, 3);
        kvs_evrx_str(&m, "lmcache.trace.file", f->path);
        kvs_evrx_str(&m, "lmcache.trace.pair", kvs_lcta_pair_name(p));
    }
    kvs_evrx_gauge(&m, "kvscope.lmcache.trace.write.unfinished_keys", "{key}", "keys reserved for write, never finished",
                 now, (double)s->write_unfinished_keys);
    kvs_evrx_str(&m, "lmcache.trace.file", f->path);
    if (!isnan(ratio)) {
        kvs_evrx_gauge(&m, "kvscope.lmcache.trace.prefetch.hit_ratio", "1", "prefetch prefix hits / keys asked", now,
                     ratio);
        kvs_evrx_str(&m, "lmcache.trace.file", f->path);
    }
    kvs_evrx_gauge(&m, "kvscope.lmcache.trace.truncated", "1", "1 when the recording ends inside a frame", now,
                 truncated);
    kvs_evrx_str(&m, "lmcache.trace.file", f->path);
    kvs_evrx_flush(&t->out, &m);
}

/* ---- replay outputs ---- */

static void emit_replay(lmctrace *t, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        KVS_WARN(t->id, "cannot open %s: %s", path, strerror(errno));
        kvs_tel_add(&t->out.tel->errors, 1);
        return;
    }
    size_t cap = 64u << 20, len = 0;
    char *text = malloc(cap);
    if (text)
        len = fread(text, 1, cap, fp);
    fclose(fp);
    kvs_lctr *r = malloc(sizeof *r);
    if (!text || !r || kvs_lctr_parse(path, text, len, r) != 0) {
        free(text);
        free(r);
        return;
    }
    free(text);
    kvs_host_progress(t->out.host, len, 1);
    kvs_evrx_out o;
    if (kvs_evrx_begin(&o, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0) {
        free(r);
        return;
    }
    const recfile *match = NULL;
    for (size_t i = 0; i < t->nfiles && r->sm_config_digest[0]; i++)
        if (!t->files[i].bad && strcmp(t->files[i].h.sm_config_digest, r->sm_config_digest) == 0)
            match = &t->files[i];
    char body[512];
    snprintf(body, sizeof body, "%s: %s, %zu ops, %llu rows, %llu failed, %llu errors%s%s", path,
             kvs_lctr_kind_name(r->kind), r->nops, (unsigned long long)r->rows_seen,
             (unsigned long long)r->failed_rows, (unsigned long long)r->error_count,
             match ? ", recording " : "", match ? match->path : "");
    int warn = r->error_count || r->failed_rows;
    kvs_evrx_log(&o, 0, "kvscope.lmcache.trace.replay", warn ? 13 : 9, warn ? "WARN" : "INFO", body, strlen(body));
    kvs_evrx_str(&o, "kvscope.evidence.kind", "lct_replay");
    kvs_evrx_str(&o, "lmcache.replay.file", path);
    kvs_evrx_str(&o, "lmcache.replay.kind", kvs_lctr_kind_name(r->kind));
    if (r->level[0])
        kvs_evrx_str(&o, "lmcache.replay.level", r->level);
    if (r->format_version >= 0)
        kvs_evrx_int(&o, "lmcache.replay.format_version", r->format_version);
    if (r->trace_schema_version >= 0)
        kvs_evrx_int(&o, "lmcache.replay.trace_schema_version", r->trace_schema_version);
    if (r->total_records >= 0)
        kvs_evrx_int(&o, "lmcache.replay.total_records", r->total_records);
    if (!isnan(r->duration_s))
        kvs_evrx_dbl(&o, "lmcache.replay.duration_s", r->duration_s);
    if (r->sm_config_digest[0])
        kvs_evrx_str(&o, "lmcache.replay.sm_config_digest", r->sm_config_digest);
    kvs_evrx_int(&o, "lmcache.replay.rows", (int64_t)r->rows_seen);
    kvs_evrx_int(&o, "lmcache.replay.failed_rows", (int64_t)r->failed_rows);
    const char *names[KVS_LCTR_MAX_OPS];
    int64_t counts[KVS_LCTR_MAX_OPS], errs[KVS_LCTR_MAX_OPS];
    for (size_t i = 0; i < r->nops; i++)
        names[i] = r->ops[i].qualname, counts[i] = (int64_t)r->ops[i].count, errs[i] = (int64_t)r->ops[i].errors;
    kvs_evrx_int_map(&o, "lmcache.replay.op_counts", names, counts, r->nops);
    kvs_evrx_int_map(&o, "lmcache.replay.op_errors", names, errs, r->nops);
    for (int s = 0; s < KVS_LCTR_NSTATS; s++) {
        const char *sn[KVS_LCTR_MAX_OPS];
        double sv[KVS_LCTR_MAX_OPS];
        size_t n = 0;
        for (size_t i = 0; i < r->nops; i++)
            if (!isnan(r->ops[i].stat[s]))
                sn[n] = r->ops[i].qualname, sv[n++] = r->ops[i].stat[s];
        if (n) {
            char key[64];
            snprintf(key, sizeof key, "lmcache.replay.op_%s", kvs_lctr_stat_name(s));
            kvs_evrx_dbl_map(&o, key, sn, sv, n);
        }
    }
    const char *errors[KVS_LCTR_MAX_ERRORS];
    for (size_t i = 0; i < r->nerrors; i++)
        errors[i] = r->errors[i];
    if (r->nerrors)
        kvs_evrx_strs(&o, "lmcache.replay.parse_errors", errors, r->nerrors);
    kvs_evrx_int(&o, "lmcache.replay.error_count", (int64_t)r->error_count);
    kvs_evrx_bool(&o, "lmcache.replay.digest_match", match != NULL);
    if (match) {
        kvs_evrx_str(&o, "lmcache.replay.recording", match->path);
        if (r->total_records >= 0)
            kvs_evrx_bool(&o, "lmcache.replay.records_match", (uint64_t)r->total_records == match->st.records);
    }
    kvs_evrx_flush(&t->out, &o);
    free(r);
}

/* ---- discovery ---- */

static recfile *track(lmctrace *t, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i].dev == st.st_dev && t->files[i].ino == st.st_ino) {
            t->files[i].seen = 1;
            return &t->files[i];
        }
    recfile *g = realloc(t->files, (t->nfiles + 1) * sizeof *g);
    if (!g)
        return NULL;
    t->files = g;
    recfile *f = &t->files[t->nfiles];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->an = kvs_lcta_new(&t->aopts);
    if (!f->path || !f->an) {
        free(f->path);
        kvs_lcta_free(f->an);
        return NULL;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->seen = 1;
    t->nfiles++;
    return f;
}

static void poll_files(lmctrace *t, int final)
{
    for (size_t i = 0; i < t->nfiles; i++)
        t->files[i].seen = 0;
    char **paths;
    size_t n = kvs_evrx_glob((const char *const *)t->include, t->ninclude, (const char *const *)t->exclude,
                           t->nexclude, &paths);
    for (size_t i = 0; i < n && !kvs_host_stopping(t->out.host); i++) {
        recfile *f = track(t, paths[i]);
        if (!f || f->done)
            continue;
        if (!f->bad)
            read_recording(t, f, final);
        if (final)
            kvs_host_progress(t->out.host, 0, 1);
    }
    kvs_evrx_paths_free(paths, n);
    for (size_t i = 0; i < t->nfiles; i++) {
        recfile *f = &t->files[i];
        int gone = !f->seen && !f->done;
        if (f->done || (!f->dirty && !gone && !final))
            continue;
        send_requests(t, f, final || gone);
        emit_summary(t, f, final || gone);
        f->dirty = 0;
        if (final || gone)
            f->done = 1;
    }
    /* Following: recordings that are gone are let go (their inode may be
     * reused by a new one). */
    for (size_t i = 0; !final && i < t->nfiles;) {
        if (t->files[i].done) {
            kvs_lcta_free(t->files[i].an);
            free(t->files[i].path);
            memmove(&t->files[i], &t->files[i + 1], (t->nfiles - i - 1) * sizeof t->files[0]);
            t->nfiles--;
        } else {
            i++;
        }
    }
    /* replay outputs: each new or changed file */
    n = kvs_evrx_glob((const char *const *)t->replay_include, t->nreplay_include, NULL, 0, &paths);
    for (size_t i = 0; i < n && !kvs_host_stopping(t->out.host); i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            continue;
        replayfile *rf = NULL;
        for (size_t j = 0; j < t->nrfiles && !rf; j++)
            if (strcmp(t->rfiles[j].path, paths[i]) == 0)
                rf = &t->rfiles[j];
        if (rf && rf->size == st.st_size && rf->mtime == st.st_mtime)
            continue;
        if (!rf) {
            replayfile *g = realloc(t->rfiles, (t->nrfiles + 1) * sizeof *g);
            if (!g)
                continue;
            t->rfiles = g;
            rf = &t->rfiles[t->nrfiles];
            if (!(rf->path = strdup(paths[i])))
                continue;
            t->nrfiles++;
        }
        rf->size = st.st_size;
        rf->mtime = st.st_mtime;
        emit_replay(t, paths[i]);
    }
    kvs_evrx_paths_free(paths, n);
}

static void *lt_main(void *arg)
{
    lmctrace *t = arg;
    t->start_wall = kvs_wall_ns();
    if (t->replay) {
        poll_files(t, 1);
    } else {
        while (!kvs_host_stopping(t->out.host)) {
            poll_files(t, 0);
            kvs_evrx_sleep(t->out.host, t->poll_ns);
        }
    }
    if (t->replay)
        kvs_host_receiver_done(t->out.host);
    return NULL;
}

static int lt_start(void *state, kvs_error *err)
{
    lmctrace *t = state;
    if (pthread_create(&t->thread, NULL, lt_main, t) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the reader thread", t->id);
    t->running = 1;
    return 0;
}

static void lt_shutdown(void *state, uint64_t deadline_ns)
{
    lmctrace *t = state;
    (void)deadline_ns;
    if (t->running) {
        pthread_join(t->thread, NULL);
        t->running = 0;
    }
}

static void lt_destroy(void *state) { lt_free(state); }

const kvs_component_def kvs_receiver_lmcache_trace = {
    .type = "lmcache_trace",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_LOGS | KVS_SIG_METRICS,
    .create = lt_create,
    .start = lt_start,
    .shutdown = lt_shutdown,
    .destroy = lt_destroy,
};
