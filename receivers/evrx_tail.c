/* kvs_evrx_tail (see evrx.h): follows the files matched by include
 * globs, line by line, across rotations.
 *
 * Files are tracked by (device, inode) with an open descriptor, in the
 * order they were first seen. Each round globs again: a tracked file found
 * under another name (app.log -> app.log.1, both matched) keeps its
 * position; a tracked file no longer matched (renamed away or removed) is
 * read to its end, a last line without newline included, and let go; a
 * file whose size fell below the read position was truncated (copytruncate)
 * and is read again from the start; a new file starts at its beginning,
 * or at its end when it existed at start and start_at is end. A file whose
 * first bytes changed was rewritten in place (truncated and written past
 * the old position between two polls) and is read again from the start
 * too. Reading goes
 * through one buffer shared by all files; a line longer than max_line is
 * delivered cut to max_line and the rest of it skipped.
 *
 * kvs_evrx_follower, at the end, is the receiver around the tailer that
 * filelog and lmcache_lookup_hash share: config, reader thread, batching. */
#include "receivers/evrx.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kvs_evrx_tail {
    kvs_evrx_tail_opts o;
    const char *id;
    kvs_host *host;
    kvs_telemetry *tel;
    kvs_evrx_file *files;
    size_t nfiles;
    char *buf;
    size_t cap;
    int warned_limit, warned_none;
};

kvs_evrx_tail *kvs_evrx_tail_new(const kvs_evrx_tail_opts *o, const char *id, kvs_host *host, kvs_telemetry *tel)
{
    kvs_evrx_tail *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->o = *o;
    if (!t->o.max_files)
        t->o.max_files = 512;
    if (t->o.max_line < 256)
        t->o.max_line = 256;
    t->id = id;
    t->host = host;
    t->tel = tel;
    return t;
}

static void let_go(kvs_evrx_tail *t, size_t i, kvs_evrx_close_fn on_close, void *ctx)
{
    kvs_evrx_file *f = &t->files[i];
    if (on_close)
        on_close(ctx, f);
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    memmove(f, f + 1, (t->nfiles - i - 1) * sizeof *f);
    t->nfiles--;
}

void kvs_evrx_tail_free(kvs_evrx_tail *t, kvs_evrx_close_fn on_close, void *ctx)
{
    if (!t)
        return;
    while (t->nfiles)
        let_go(t, t->nfiles - 1, on_close, ctx);
    free(t->files);
    free(t->buf);
    free(t);
}

/* Reads the complete lines of f from its offset; `to_end`: also a last
 * line without newline (the file will not grow any more). */
static size_t read_lines(kvs_evrx_tail *t, kvs_evrx_file *f, int to_end, kvs_evrx_line_fn fn, void *ctx)
{
    struct stat st;
    unsigned char head[sizeof f->head];
    ssize_t hl = pread(f->fd, head, sizeof head, 0);
    size_t cmp = hl > 0 && (size_t)hl < f->head_len ? (size_t)hl : f->head_len;
    if ((fstat(f->fd, &st) == 0 && st.st_size < f->offset) || (cmp && memcmp(head, f->head, cmp) != 0)) {
        KVS_INFO(t->id, "%s was truncated or rewritten: reading it again from the start", f->path);
        f->offset = 0;
        f->line = 0;
    }
    if (hl > 0) {
        memcpy(f->head, head, (size_t)hl);
        f->head_len = (size_t)hl;
    }
    size_t delivered = 0, have = 0;
    off_t pos = f->offset;        /* file offset of buf[0] */
    int eof = 0, skipping = 0;
    while (!eof && !kvs_host_stopping(t->host)) {
        if (t->cap - have < 4096) {
            size_t ncap = t->cap ? t->cap * 2 : 64 * 1024;
            if (ncap < t->o.max_line + 4096)
                ncap = t->o.max_line + 4096;
            char *g = realloc(t->buf, ncap);
            if (!g) {
                KVS_ERROR(t->id, "%s: out of memory for the line buffer", f->path);
                break;
            }
            t->buf = g;
            t->cap = ncap;
        }
        ssize_t r = pread(f->fd, t->buf + have, t->cap - have, pos + (off_t)have);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            KVS_WARN(t->id, "read %s: %s", f->path, strerror(errno));
            kvs_tel_add(&t->tel->errors, 1);
            break;
        }
        eof = r == 0;
        kvs_host_progress(t->host, (uint64_t)r, 0);
        have += (size_t)r;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(t->buf + start, '\n', have - start);
            size_t end;
            if (nl)
                end = (size_t)(nl - t->buf);
            else if (eof && to_end && start < have)
                end = have;
            else
                break;
            size_t n = end - start;
            if (skipping) {
                skipping = 0;       /* the rest of a cut line */
            } else {
                if (n && t->buf[start + n - 1] == '\r')
                    n--;
                f->line++;
                fn(ctx, f, t->buf + start, n, (uint64_t)pos + start, 0);
                delivered++;
            }
            start = end + (nl ? 1 : 0);
            f->offset = pos + (off_t)start;
        }
        if (start) {
            memmove(t->buf, t->buf + start, have - start);
            pos += (off_t)start;
            have -= start;
        }
        if (have > t->o.max_line) {
            /* Deliver the beginning of the over-long line, skip the rest. */
            f->line++;
            fn(ctx, f, t->buf, t->o.max_line, (uint64_t)pos, 1);
            delivered++;
            pos += (off_t)have;
            f->offset = pos;
            have = 0;
            skipping = 1;
        }
    }
    if (skipping && eof) {
        /* The cut line has no end yet: resume after what was skipped. */
        f->offset = pos;
    }
    if (t->cap > (8u << 20) && t->cap > t->o.max_line * 2) {
        free(t->buf);
        t->buf = NULL;
        t->cap = 0;
    }
    return delivered;
}

static kvs_evrx_file *find(kvs_evrx_tail *t, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i].dev == dev && t->files[i].ino == ino)
            return &t->files[i];
    return NULL;
}

static void pick_up(kvs_evrx_tail *t, const char *path, int first)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        KVS_WARN(t->id, "cannot open %s: %s", path, strerror(errno));
        kvs_tel_add(&t->tel->errors, 1);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    kvs_evrx_file *known = find(t, st.st_dev, st.st_ino);
    if (known) {
        /* renamed within the globs: same file, same position */
        char *p = strdup(path);
        if (p) {
            free(known->path);
            known->path = p;
        }
        known->seen = 1;
        close(fd);
        return;
    }
    if (t->nfiles >= t->o.max_files) {
        if (!t->warned_limit++)
            KVS_WARN(t->id, "following %zu files already: %s and further ones are not read", t->nfiles, path);
        close(fd);
        return;
    }
    kvs_evrx_file *g = realloc(t->files, (t->nfiles + 1) * sizeof *g);
    char *p = strdup(path);
    if (!g || !p) {
        free(p);
        if (g)
            t->files = g;
        close(fd);
        return;
    }
    t->files = g;
    kvs_evrx_file *f = &t->files[t->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = p;
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->seen = 1;
    f->offset = first && t->o.start_at_end ? st.st_size : 0;
}

size_t kvs_evrx_tail_poll(kvs_evrx_tail *t, int first, int final, kvs_evrx_line_fn fn, kvs_evrx_close_fn on_close, void *ctx)
{
    for (size_t i = 0; i < t->nfiles; i++)
        t->files[i].seen = 0;
    char **paths;
    size_t n = kvs_evrx_glob(t->o.include, t->o.ninclude, t->o.exclude, t->o.nexclude, &paths);
    if (first && n == 0 && !t->warned_none++)
        KVS_WARN(t->id, "no file matches include");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            continue;
        kvs_evrx_file *f = find(t, st.st_dev, st.st_ino);
        if (f) {
            if (strcmp(f->path, paths[i]) != 0) {
                char *p = strdup(paths[i]);
                if (p) {
                    free(f->path);
                    f->path = p;
                }
            }
            f->seen = 1;
        } else {
            pick_up(t, paths[i], first);
        }
    }
    kvs_evrx_paths_free(paths, n);
    /* In the order first seen: a rotated file is finished before the new
     * file that replaced it is read. */
    size_t delivered = 0;
    for (size_t i = 0; i < t->nfiles && !kvs_host_stopping(t->host);) {
        kvs_evrx_file *f = &t->files[i];
        int gone = !f->seen;
        delivered += read_lines(t, f, final || gone, fn, ctx);
        if (gone || final) {
            if (final)
                kvs_host_progress(t->host, 0, 1);
            let_go(t, i, on_close, ctx);
        } else {
            i++;
        }
    }
    return delivered;
}

void kvs_evrx_tail_each(kvs_evrx_tail *t, void (*fn)(void *ctx, kvs_evrx_file *f), void *ctx)
{
    for (size_t i = 0; i < t->nfiles; i++)
        fn(ctx, &t->files[i]);
}

/* ---- kvs_evrx_follower: a receiver that follows files ---- */

int kvs_evrx_follower_config(kvs_evrx_follower *fw, const kvs_create_ctx *ctx, const kvs_evrx_follow_defaults *d,
                             const char *scope, kvs_error *err)
{
    /* the default first, so an error lists it first */
    static const char *const end_first[] = { "end", "beginning", NULL };
    static const char *const beginning_first[] = { "beginning", "end", NULL };
    const kvs_cfg_node *c = ctx->cfg;
    int start;
    int64_t max_line, max_batch, max_files;
    if (kvs_cfg_strlist(c, "include", &fw->include, &fw->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &fw->exclude, &fw->nexclude, err) ||
        kvs_cfg_enum(c, "start_at", d->start_at_end ? end_first : beginning_first, 0, &start, err) ||
        kvs_cfg_duration(c, "poll_interval", d->poll_ns, &fw->poll_ns, err) ||
        kvs_cfg_i64(c, "max_line_size", d->max_line, d->max_line_min, d->max_line_max, &max_line, err) ||
        kvs_cfg_i64(c, "max_batch", 1000, 1, 1 << 20, &max_batch, err) ||
        kvs_cfg_i64(c, "max_files", 512, 1, 1 << 16, &max_files, err))
        return KVS_E_INVALID;
    if (fw->ninclude == 0)
        return kvs_cfg_errorf(err, c, "%s: `include` is required %s", ctx->id, d->include_hint);
    if (fw->poll_ns < KVS_MS)
        fw->poll_ns = KVS_MS;
    fw->max_batch = (size_t)max_batch;
    fw->replay = kvs_host_replay(ctx->host);
    int at_end = d->start_at_end ? start == 0 : start == 1;
    fw->topts = (kvs_evrx_tail_opts){
        .include = (const char *const *)fw->include,
        .ninclude = fw->ninclude,
        .exclude = (const char *const *)fw->exclude,
        .nexclude = fw->nexclude,
        .start_at_end = at_end && !fw->replay,
        .max_line = (size_t)max_line,
        .max_files = (size_t)max_files,
    };
    fw->id = ctx->id;
    kvs_evrx_sender_init(&fw->out, ctx);
    fw->scope = scope;
    if (fw->replay)
        kvs_host_replay_join(ctx->host);
    return 0;
}

static void *follow_main(void *arg)
{
    kvs_evrx_follower *fw = arg;
    fw->start_wall = kvs_wall_ns();
    for (int first = 1;; first = 0) {
        size_t n = kvs_evrx_tail_poll(fw->tail, first, fw->replay, fw->on_line, fw->on_close, fw->ctx);
        if (fw->on_round)
            fw->on_round(fw->ctx, n);
        kvs_evrx_flush(&fw->out, &fw->batch);
        if (fw->replay || kvs_host_stopping(fw->out.host))
            break;
        kvs_evrx_sleep(fw->out.host, fw->poll_ns);
        if (kvs_host_stopping(fw->out.host))
            break;
    }
    if (fw->replay)
        kvs_host_receiver_done(fw->out.host);
    return NULL;
}

int kvs_evrx_follower_start(kvs_evrx_follower *fw, kvs_evrx_line_fn on_line, kvs_evrx_close_fn on_close,
                            kvs_evrx_round_fn on_round, void *cb_ctx, kvs_error *err)
{
    fw->on_line = on_line;
    fw->on_close = on_close;
    fw->on_round = on_round;
    fw->ctx = cb_ctx;
    fw->tail = kvs_evrx_tail_new(&fw->topts, fw->id, fw->out.host, fw->out.tel);
    if (!fw->tail)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    if (pthread_create(&fw->thread, NULL, follow_main, fw) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the reader thread", fw->id);
    fw->running = 1;
    return 0;
}

void kvs_evrx_follower_join(kvs_evrx_follower *fw)
{
    if (fw->running) {
        pthread_join(fw->thread, NULL);
        fw->running = 0;
    }
}

void kvs_evrx_follower_close(kvs_evrx_follower *fw)
{
    kvs_evrx_tail_free(fw->tail, fw->on_close, fw->ctx);
    fw->tail = NULL;
    kvs_evrx_flush(&fw->out, &fw->batch);
}

void kvs_evrx_follower_free(kvs_evrx_follower *fw)
{
    kvs_evrx_tail_free(fw->tail, NULL, NULL);
    fw->tail = NULL;
    kvs_evrx_discard(&fw->batch);
    free(fw->include);
    free(fw->exclude);
    fw->include = fw->exclude = NULL;
}

kvs_evrx_out *kvs_evrx_follower_batch(kvs_evrx_follower *fw)
{
    if (!fw->batch.b && kvs_evrx_begin(&fw->batch, KVS_SIG_LOGS, fw->scope, NULL, 0) != 0)
        return NULL;
    return &fw->batch;
}

void kvs_evrx_follower_added(kvs_evrx_follower *fw)
{
    if (kvs_evrx_count(&fw->batch) >= fw->max_batch)
        kvs_evrx_flush(&fw->out, &fw->batch);
}
