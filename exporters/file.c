/* Exporter `file`: writes every request as one line of OTLP/JSON (the
 * Collector's file exporter format, which the otlpjsonfile receiver reads
 * back). Encoding happens outside the lock so concurrent pipelines encode
 * in parallel; writes are serialised. Optional size-based rotation keeps
 * `max_backups` older files as PATH.1 .. PATH.N. Flushed every
 * `flush_interval` and on shutdown. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/otlp_json.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct file_exp {
    const char *id;
    const char *path;
    int append;
    uint64_t rotate_bytes;   /* 0 = never */
    int64_t max_backups;
    uint64_t flush_ns;
    kvs_telemetry *tel;

    pthread_mutex_t lock;
    FILE *f;
    char *iobuf;
    kvs_buf spare;           /* an encode buffer kept for the next batch */
    uint64_t written;        /* bytes in the current file */
    uint64_t last_flush;
} file_exp;

static const char *const keys[] = { "path", "append", "rotation", "flush_interval", "format", NULL };
static const char *const rot_keys[] = { "max_megabytes", "max_backups", NULL };
static const char *const formats[] = { "json", NULL };

static int file_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    const char *path;
    int append, fmt;
    int64_t mb = 0, backups = 0;
    uint64_t flush;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "path", NULL, &path, err) || kvs_cfg_bool(c, "append", 0, &append, err) ||
        kvs_cfg_duration(c, "flush_interval", KVS_SEC, &flush, err) ||
        kvs_cfg_enum(c, "format", formats, 0, &fmt, err))
        return KVS_E_INVALID;
    if (!path || !*path)
        return kvs_cfg_errorf(err, c, "%s: `path` is required", ctx->id);
    const kvs_cfg_node *rot = kvs_cfg_get(c, "rotation");
    if (rot && (kvs_cfg_expect_map(rot, err) || kvs_cfg_check_keys(rot, rot_keys, err) ||
                kvs_cfg_i64(rot, "max_megabytes", 100, 1, 1 << 20, &mb, err) ||
                kvs_cfg_i64(rot, "max_backups", 100, 0, 100000, &backups, err)))
        return KVS_E_INVALID;
    file_exp *x = calloc(1, sizeof *x);
    if (!x)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    x->id = ctx->id;
    x->path = path;
    x->append = append;
    x->rotate_bytes = rot ? (uint64_t)mb << 20 : 0;
    x->max_backups = backups;
    x->flush_ns = flush;
    x->tel = ctx->tel;
    pthread_mutex_init(&x->lock, NULL);
    *state = x;
    return 0;
}

/* Creates the missing parent directories of path (mkdir -p of its dirname). */
static void make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return;
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        mkdir(p, 0777);
        *s = '/';
    }
    free(p);
}

static int open_file(file_exp *x, const char *mode, kvs_error *err)
{
    make_parents(x->path);
    x->f = fopen(x->path, mode);
    if (!x->f)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot open %s: %s", x->id, x->path, strerror(errno));
    if (!x->iobuf)
        x->iobuf = malloc(1 << 20);
    if (x->iobuf)
        setvbuf(x->f, x->iobuf, _IOFBF, 1 << 20);
    x->written = 0;
    if (mode[0] == 'a') {
        long pos = ftell(x->f);
        x->written = pos > 0 ? (uint64_t)pos : 0;
    }
    x->last_flush = kvs_now_ns();
    return 0;
}

static int file_start(void *state, kvs_error *err)
{
    file_exp *x = state;
    return open_file(x, x->append ? "a" : "w", err);
}

/* PATH.(n-1) -> PATH.n ... PATH -> PATH.1, dropping the oldest. */
static int rotate(file_exp *x, kvs_error *err)
{
    fclose(x->f);
    x->f = NULL;
    size_t len = strlen(x->path) + 24;
    char *from = malloc(len), *to = malloc(len);
    if (!from || !to) {
        free(from);
        free(to);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
    if (x->max_backups == 0) {
        remove(x->path);
    } else {
        snprintf(to, len, "%s.%lld", x->path, (long long)x->max_backups);
        remove(to);
        for (long long i = x->max_backups - 1; i >= 1; i--) {
            snprintf(from, len, "%s.%lld", x->path, i);
            snprintf(to, len, "%s.%lld", x->path, i + 1);
            rename(from, to);
        }
        snprintf(to, len, "%s.1", x->path);
        rename(x->path, to);
    }
    free(from);
    free(to);
    return open_file(x, "w", err);
}

/* Encode buffers are reused: a batch's JSON is megabytes, and growing a
 * fresh buffer each time costs copies and page faults. One is cached; a
 * concurrent consumer that finds none takes a new one. */
static kvs_buf take_buf(file_exp *x)
{
    pthread_mutex_lock(&x->lock);
    kvs_buf b = x->spare;
    x->spare = (kvs_buf){ 0 };
    pthread_mutex_unlock(&x->lock);
    b.len = 0;
    return b;
}

static void give_buf(file_exp *x, kvs_buf *b)
{
    /* Keep at most 64 MiB cached: one huge batch should not pin its buffer. */
    if (!x->spare.data && !b->oom && b->cap <= (64u << 20)) {
        x->spare = *b;
        *b = (kvs_buf){ 0 };
    }
    kvs_buf_free(b);
}

static int file_consume(void *state, kvs_batch *b, kvs_error *err)
{
    file_exp *x = state;
    kvs_buf buf = take_buf(x);
    if (kvs_otlp_json_encode(b->signal, b->msg, &buf) != 0 || buf.oom) {
        kvs_buf_free(&buf);
        kvs_tel_add(&x->tel->failed, b->items);
        return kvs_errorf(err, KVS_E_REFUSED, "out of memory encoding %zu %s", b->items,
                          kvs_signal_unit(b->signal));
    }
    kvs_buf_putc(&buf, '\n');
    int rc = 0;
    pthread_mutex_lock(&x->lock);
    if (x->f && x->rotate_bytes && x->written > 0 && x->written + buf.len > x->rotate_bytes)
        rc = rotate(x, err);
    if (rc == 0 && !x->f)
        rc = kvs_errorf(err, KVS_E_IO, "%s: %s is not open", x->id, x->path);
    if (rc == 0 && fwrite(buf.data, 1, buf.len, x->f) != buf.len)
        rc = kvs_errorf(err, KVS_E_IO, "%s: write to %s failed: %s", x->id, x->path, strerror(errno));
    if (rc == 0) {
        x->written += buf.len;
        uint64_t now = kvs_now_ns();
        if (now - x->last_flush >= x->flush_ns) {
            fflush(x->f);
            x->last_flush = now;
        }
    }
    give_buf(x, &buf);
    pthread_mutex_unlock(&x->lock);
    kvs_tel_add(rc == 0 ? &x->tel->exported : &x->tel->failed, b->items);
    return rc;
}

static void file_shutdown(void *state, uint64_t deadline_ns)
{
    file_exp *x = state;
    pthread_mutex_lock(&x->lock);
    if (x->f) {
        if (fclose(x->f) != 0)
            KVS_ERROR(x->id, "closing %s failed: %s", x->path, strerror(errno));
        x->f = NULL;
    }
    pthread_mutex_unlock(&x->lock);
}

static void file_destroy(void *state)
{
    file_exp *x = state;
    if (x->f)
        fclose(x->f);
    free(x->iobuf);
    kvs_buf_free(&x->spare);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

const kvs_component_def kvs_exporter_file = {
    .type = "file",
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_ALL,
    .create = file_create,
    .start = file_start,
    .consume = file_consume,
    .shutdown = file_shutdown,
    .destroy = file_destroy,
};
