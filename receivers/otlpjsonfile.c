/* Receiver `otlpjsonfile`: reads OTLP/JSON files, one Export*ServiceRequest
 * per line (the Collector file exporter's format), or a single
 * pretty-printed request per file.
 *
 * Replay (kvscope replay / diagnose): the files (from the command line, or
 * `include` minus `exclude`) are read once, in name order, then the
 * receiver reports done. Otherwise it follows: new files matching `include`
 * are picked up and growing files are read as lines complete, every
 * `poll_interval`; a file replaced or truncated is read again from the start.
 *
 * Memory is bounded by the largest line (capped by `max_line_size`), never
 * by the file. A malformed line is reported as file:line:column with its
 * byte offset and reason, counted, and skipped; the lines around it go on.
 * When the pipeline refuses (backpressure), the line is retried, not lost. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/otlp_json.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPORTED_ERRORS 50      /* per file; the rest are counted */
#define PRETTY_MAX (256u << 20)     /* largest single pretty-printed document */

typedef struct tracked {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t offset;        /* after the last complete line */
    uint64_t line;       /* lines consumed so far */
} tracked;

typedef struct jsonfile {
    const char *id;
    kvs_host *host;
    kvs_telemetry *tel;
    kvs_next *next[KVS_NSIG];
    const char **include, **exclude;
    size_t ninclude, nexclude;
    int start_at_end;
    uint64_t poll_ns;
    uint64_t max_line;
    int replay;

    pthread_t thread;
    int running;
    tracked *files;
    size_t nfiles;
    char *buf;           /* line buffer */
    size_t cap;
    uint64_t warned_signals;
} jsonfile;

static const char *const keys[] = { "include", "exclude", "start_at", "poll_interval", "max_line_size", NULL };
static const char *const starts[] = { "beginning", "end", NULL };

static void jf_free(jsonfile *j)
{
    free(j->include);
    free(j->exclude);
    for (size_t i = 0; i < j->nfiles; i++)
        free(j->files[i].path);
    free(j->files);
    free(j->buf);
    free(j);
}

static int jf_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    jsonfile *j = calloc(1, sizeof *j);
    if (!j)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int start;
    int64_t max_line;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_strlist(c, "include", &j->include, &j->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &j->exclude, &j->nexclude, err) ||
        kvs_cfg_enum(c, "start_at", starts, 0, &start, err) ||
        kvs_cfg_duration(c, "poll_interval", 200 * KVS_MS, &j->poll_ns, err) ||
        kvs_cfg_i64(c, "max_line_size", 64 << 20, 1024, 1LL << 32, &max_line, err)) {
        jf_free(j);
        return KVS_E_INVALID;
    }
    size_t nreplay;
    kvs_host_replay_files(ctx->host, &nreplay);
    j->replay = kvs_host_replay(ctx->host);
    if (j->ninclude == 0 && !(j->replay && nreplay)) {
        jf_free(j);
        return kvs_cfg_errorf(err, c, "%s: `include` is required (a list of file globs)", ctx->id);
    }
    if (j->poll_ns == 0)
        j->poll_ns = 200 * KVS_MS;
    j->id = ctx->id;
    j->host = ctx->host;
    j->tel = ctx->tel;
    j->start_at_end = start == 1;
    j->max_line = (uint64_t)max_line;
    memcpy(j->next, ctx->next, sizeof j->next);
    if (j->replay)
        kvs_host_replay_join(ctx->host);
    *state = j;
    return 0;
}

/* ---- delivery ---- */

static void deliver(jsonfile *j, kvs_batch *b)
{
    kvs_next *nx = j->next[kvs_signal_index(b->signal)];
    if (!nx) {
        /* A request of a signal no pipeline of this receiver carries. */
        kvs_tel_drop(j->tel, "signal_not_in_pipeline", b->items);
        if (!(j->warned_signals & b->signal)) {
            j->warned_signals |= b->signal;
            KVS_WARN(j->id, "input holds %s but no %s pipeline uses this receiver: they are dropped",
                     kvs_signal_name(b->signal), kvs_signal_name(b->signal));
        }
        return;
    }
    uint64_t backoff = KVS_MS;
    for (;;) {
        kvs_error err;
        int rc = kvs_next_consume(nx, b, &err);
        if (rc == 0) {
            kvs_tel_add(&j->tel->accepted, b->items);
            return;
        }
        if (rc != KVS_E_REFUSED) {
            kvs_tel_add(&j->tel->rejected, b->items);
            KVS_WARN(j->id, "pipeline rejected %zu %s: %s", b->items, kvs_signal_unit(b->signal), err.msg);
            return;
        }
        if (kvs_host_stopping(j->host)) {
            kvs_tel_add(&j->tel->refused, b->items);
            KVS_WARN(j->id, "shutting down while the pipeline refuses: %zu %s not delivered",
                     b->items, kvs_signal_unit(b->signal));
            return;
        }
        struct timespec ts = { 0, (long)backoff };
        nanosleep(&ts, NULL);
        if (backoff < 100 * KVS_MS)
            backoff *= 2;
    }
}

/* Decodes one document and sends what it holds. Returns 0, or -1 with jerr. */
static int handle_doc(jsonfile *j, const char *p, size_t n, kvs_json_error *jerr)
{
    kvs_arena *a = kvs_arena_new();
    if (!a) {
        snprintf(jerr->msg, sizeof jerr->msg, "out of memory");
        jerr->offset = 0;
        return -1;
    }
    kvs_otlp_doc doc = { 0 };
    if (kvs_otlp_json_decode(p, n, a, &doc, jerr) != 0) {
        kvs_arena_free(a);
        return -1;
    }
    ProtobufCMessage *msgs[KVS_NSIG] = { (ProtobufCMessage *)doc.traces, (ProtobufCMessage *)doc.metrics,
                                          (ProtobufCMessage *)doc.logs };
    kvs_batch *owner = NULL;
    for (int s = 0; s < KVS_NSIG; s++) {
        if (!msgs[s])
            continue;
        kvs_batch *b;
        if (!owner) {
            b = owner = kvs_batch_wrap(kvs_signal_at(s), a, msgs[s]);
            if (!b) {
                kvs_arena_free(a);
                snprintf(jerr->msg, sizeof jerr->msg, "out of memory");
                return -1;
            }
            kvs_batch_ref(owner);
        } else {
            b = kvs_batch_new(kvs_signal_at(s));
            if (!b || kvs_batch_add_parent(b, owner) != 0) {
                kvs_batch_unref(b);
                continue;
            }
            b->msg = msgs[s];
            kvs_batch_recount(b);
        }
        if (b->items)
            deliver(j, b);
        kvs_batch_unref(b);
    }
    if (owner)
        kvs_batch_unref(owner);
    else
        kvs_arena_free(a);
    return 0;
}

static void report(jsonfile *j, const char *path, uint64_t line, off_t line_start, const kvs_json_error *e,
                   uint64_t *nerr)
{
    kvs_tel_add(&j->tel->errors, 1);
    if (++*nerr <= MAX_REPORTED_ERRORS)
        KVS_WARN(j->id, "%s:%llu:%llu: %s (byte offset %llu); line skipped", path, (unsigned long long)line,
                 (unsigned long long)e->offset + 1, e->msg,
                 (unsigned long long)((uint64_t)line_start + e->offset));
    else if (*nerr == MAX_REPORTED_ERRORS + 1)
        KVS_WARN(j->id, "%s: more malformed lines; further ones are counted, not printed", path);
}

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* Reads the rest of fd from `at` into a fresh allocation (pretty JSON). */
static char *slurp(int fd, off_t at, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size - at > (off_t)PRETTY_MAX || st.st_size < at)
        return NULL;
    size_t n = (size_t)(st.st_size - at);
    char *p = malloc(n + 1);
    size_t got = 0;
    while (p && got < n) {
        ssize_t r = pread(fd, p + got, n - got, at + (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (!p || got != n) {
        free(p);
        return NULL;
    }
    *len = n;
    return p;
}

/* Reads complete lines of t from its offset. At EOF a final line without
 * newline counts only when `final` (replay); otherwise it waits for more. */
static void read_lines(jsonfile *j, tracked *t, int final)
{
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        KVS_WARN(j->id, "cannot open %s: %s", t->path, strerror(errno));
        kvs_tel_add(&j->tel->errors, 1);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        if (st.st_ino != t->ino || st.st_dev != t->dev || st.st_size < t->offset) {
            t->ino = st.st_ino, t->dev = st.st_dev;
            t->offset = 0, t->line = 0;
        }
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    size_t have = 0;      /* bytes in buf not yet consumed */
    off_t pos = t->offset;/* file offset of buf[0] */
    uint64_t nerr = 0;
    int eof = 0, skipping = 0;
    while (!eof && !kvs_host_stopping(j->host)) {
        if (j->cap - have < (1u << 20)) {
            size_t ncap = j->cap ? j->cap * 2 : (4u << 20);
            char *g = realloc(j->buf, ncap);
            if (!g) {
                KVS_ERROR(j->id, "%s: out of memory for a line buffer of %zu bytes", t->path, ncap);
                break;
            }
            j->buf = g, j->cap = ncap;
        }
        ssize_t r = pread(fd, j->buf + have, j->cap - have, pos + (off_t)have);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            KVS_WARN(j->id, "read %s: %s", t->path, strerror(errno));
            kvs_tel_add(&j->tel->errors, 1);
            break;
        }
        if (r == 0)
            eof = 1;
        kvs_host_progress(j->host, (uint64_t)r, 0);
        have += (size_t)r;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(j->buf + start, '\n', have - start);
            size_t end;
            if (nl)
                end = (size_t)(nl - j->buf);
            else if (eof && final && start < have)
                end = have;
            else
                break;
            size_t n = end - start;
            const char *line = j->buf + start;
            off_t line_start = pos + (off_t)start;
            t->line++;
            if (skipping) {
                skipping = 0; /* the tail of an over-long line */
            } else if (!is_blank(line, n)) {
                kvs_json_error e;
                if (handle_doc(j, line, n, &e) != 0) {
                    if (line_start == 0 && e.offset + 1 >= n) {
                        /* The first line ended mid-document: maybe one
                         * pretty-printed request over many lines. */
                        size_t len;
                        char *all = slurp(fd, line_start, &len);
                        kvs_json_error e2;
                        if (all && handle_doc(j, all, len, &e2) == 0) {
                            kvs_host_progress(j->host, (uint64_t)len - (uint64_t)(have - start), 0);
                            t->offset = line_start + (off_t)len;
                            free(all);
                            close(fd);
                            return;
                        }
                        free(all);
                    }
                    report(j, t->path, t->line, line_start, &e, &nerr);
                }
            }
            start = end + (nl ? 1 : 0);
            t->offset = pos + (off_t)start;
        }
        /* Keep the partial line at the front of the buffer. */
        if (start > 0) {
            memmove(j->buf, j->buf + start, have - start);
            pos += (off_t)start;
            have -= start;
        }
        if (have > j->max_line) {
            kvs_json_error e = { .offset = 0 };
            snprintf(e.msg, sizeof e.msg, "line longer than max_line_size (%llu bytes)",
                     (unsigned long long)j->max_line);
            report(j, t->path, t->line + 1, pos, &e, &nerr);
            pos += (off_t)have;
            have = 0;
            skipping = 1;
        }
    }
    if (nerr > MAX_REPORTED_ERRORS)
        KVS_WARN(j->id, "%s: %llu malformed lines in all", t->path, (unsigned long long)nerr);
    /* Shrink a buffer that one huge line inflated. */
    if (j->cap > (16u << 20)) {
        free(j->buf);
        j->buf = NULL;
        j->cap = 0;
    }
    close(fd);
}

/* ---- file discovery ---- */

static int excluded(const jsonfile *j, const char *path)
{
    for (size_t i = 0; i < j->nexclude; i++)
        if (fnmatch(j->exclude[i], path, FNM_PATHNAME) == 0)
            return 1;
    return 0;
}

static tracked *track(jsonfile *j, const char *path, int at_end)
{
    for (size_t i = 0; i < j->nfiles; i++)
        if (strcmp(j->files[i].path, path) == 0)
            return &j->files[i];
    tracked *g = realloc(j->files, (j->nfiles + 1) * sizeof *g);
    if (!g)
        return NULL;
    j->files = g;
    tracked *t = &j->files[j->nfiles];
    memset(t, 0, sizeof *t);
    if (!(t->path = strdup(path)))
        return NULL;
    j->nfiles++;
    struct stat st;
    if (stat(path, &st) == 0) {
        t->dev = st.st_dev, t->ino = st.st_ino;
        if (at_end)
            t->offset = st.st_size;
    }
    return t;
}

/* Globs `include` (each pattern's matches sorted), minus `exclude`, and reads
 * what is new in each file. */
static void scan(jsonfile *j, int initial)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < j->ninclude; i++) {
        int rc = glob(j->include[i], i ? GLOB_APPEND : 0, NULL, &g);
        if (rc != 0 && rc != GLOB_NOMATCH && initial)
            KVS_WARN(j->id, "include pattern %s: glob failed", j->include[i]);
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i];
        struct stat st;
        if (excluded(j, p) || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        tracked *t = track(j, p, initial && j->start_at_end && !j->replay);
        if (t)
            read_lines(j, t, j->replay);
        if (j->replay) {
            kvs_host_progress(j->host, 0, 1);
            if (kvs_host_stopping(j->host))
                break;
        }
    }
    if (initial && g.gl_pathc == 0)
        KVS_WARN(j->id, "no file matches include");
    globfree(&g);
}

static void *jf_main(void *arg)
{
    jsonfile *j = arg;
    size_t nreplay;
    const char *const *files = kvs_host_replay_files(j->host, &nreplay);
    if (j->replay && nreplay) {
        for (size_t i = 0; i < nreplay && !kvs_host_stopping(j->host); i++) {
            tracked *t = track(j, files[i], 0);
            struct stat st;
            if (stat(files[i], &st) != 0) {
                KVS_ERROR(j->id, "cannot read %s: %s", files[i], strerror(errno));
                kvs_tel_add(&j->tel->errors, 1);
            } else if (t) {
                read_lines(j, t, 1);
            }
            kvs_host_progress(j->host, 0, 1);
        }
    } else {
        scan(j, 1);
        while (!j->replay && !kvs_host_stopping(j->host)) {
            struct timespec ts = kvs_timespec(j->poll_ns);
            nanosleep(&ts, NULL);
            scan(j, 0);
        }
    }
    if (j->replay)
        kvs_host_receiver_done(j->host);
    return NULL;
}

static int jf_start(void *state, kvs_error *err)
{
    jsonfile *j = state;
    if (pthread_create(&j->thread, NULL, jf_main, j) != 0)
        return kvs_errorf(err, KVS_E_IO, "cannot start the reader thread");
    j->running = 1;
    return 0;
}

static void jf_shutdown(void *state, uint64_t deadline_ns)
{
    jsonfile *j = state;
    if (j->running) {
        pthread_join(j->thread, NULL);
        j->running = 0;
    }
}

static void jf_destroy(void *state) { jf_free(state); }

const kvs_component_def kvs_receiver_otlpjsonfile = {
    .type = "otlpjsonfile",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_ALL,
    .create = jf_create,
    .start = jf_start,
    .shutdown = jf_shutdown,
    .destroy = jf_destroy,
};
