/* Shared by the evidence receivers (lmcache_http, lmcache_trace, filelog,
 * lmcache_lookup_hash); not a component.
 *
 *  - kvs_evrx_out builds one OTLP logs or metrics request in a batch's arena:
 *    log records (or metric points) are appended, and attributes go to the
 *    last record or point added.
 *  - kvs_evrx_sender delivers a batch to the pipeline of its signal with the
 *    file receivers' rules: a refused batch is retried with backoff (never
 *    dropped) until the engine drains; a signal no pipeline carries is
 *    counted as dropped with a reason.
 *  - kvs_evrx_tail follows files matched by include/exclude globs: line by
 *    line, rotation-safe (files are tracked by device and inode with an open
 *    descriptor, so a renamed or removed file is read to its end before it
 *    is let go, a renamed file is not read twice, and a truncated file is
 *    read again from the start), `start_at: end` for files present at
 *    start, lines over max_line delivered cut.
 *  - kvs_evrx_follower is a receiver built on kvs_evrx_tail (filelog,
 *    lmcache_lookup_hash): the shared keys of its config, its reader
 *    thread (poll, deliver, sleep; once to the end in replay) and one log
 *    request filled line by line and sent every max_batch records. */
#ifndef KVS_RECEIVERS_EVRX_H
#define KVS_RECEIVERS_EVRX_H

#include "core/component.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- building OTLP ---- */

typedef struct kvs_evrx_out {
    kvs_signal sig;
    kvs_batch *b;
    kvs_arena *a;
    void *scope;                  /* kvs_scope_logs * or kvs_scope_metrics * */
    size_t cap;                   /* of its records / metrics array */
    kvs_kv ***attrs;              /* where attributes go */
    size_t *nattrs;
    size_t attr_cap;
    kvs_metric *metric;           /* the metric points are added to */
    size_t point_cap;
    int oom;
} kvs_evrx_out;

/* A new request of `sig` (KVS_SIG_LOGS or KVS_SIG_METRICS) with one
 * resource and one scope `scope_name` (version: kvscope's). Resource
 * attributes: `nres` key/value string pairs (res[2i], res[2i+1]). */
int kvs_evrx_begin(kvs_evrx_out *o, kvs_signal sig, const char *scope_name, const char *const *res, size_t nres);
/* The request as a batch (items counted); NULL when empty or out of
 * memory (then freed). The out is reset. */
kvs_batch *kvs_evrx_finish(kvs_evrx_out *o);
/* Frees an unfinished request. */
void kvs_evrx_discard(kvs_evrx_out *o);
size_t kvs_evrx_count(const kvs_evrx_out *o);

/* A log record; body may be NULL. severity 0 = unspecified. */
kvs_log_record *kvs_evrx_log(kvs_evrx_out *o, uint64_t time_ns, const char *event_name, int severity,
                           const char *severity_text, const char *body, size_t body_len);

/* Metric points: the metric `name` is found or added (type fixed by the
 * first call), then a point is appended. */
void kvs_evrx_gauge(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t time_ns,
                  double v);
void kvs_evrx_sum(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t start_ns,
                uint64_t time_ns, double v);
/* A summary point: count, sum and (quantile, value) pairs. */
void kvs_evrx_summary(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t start_ns,
                    uint64_t time_ns, uint64_t count, double sum, const double *q, const double *qv, size_t nq);

/* Attributes of the last record or point. Strings are copied. */
void kvs_evrx_str(kvs_evrx_out *o, const char *key, const char *v);
void kvs_evrx_strn(kvs_evrx_out *o, const char *key, const char *v, size_t n);
void kvs_evrx_int(kvs_evrx_out *o, const char *key, int64_t v);
void kvs_evrx_dbl(kvs_evrx_out *o, const char *key, double v);
void kvs_evrx_bool(kvs_evrx_out *o, const char *key, int v);
void kvs_evrx_strs(kvs_evrx_out *o, const char *key, const char *const *v, size_t n);
/* A map attribute of int values (op -> count); keys copied. */
void kvs_evrx_int_map(kvs_evrx_out *o, const char *key, const char *const *keys, const int64_t *vals, size_t n);
/* A map attribute of double values. */
void kvs_evrx_dbl_map(kvs_evrx_out *o, const char *key, const char *const *keys, const double *vals, size_t n);

/* ---- delivery ---- */

typedef struct kvs_evrx_sender {
    const char *id;
    kvs_host *host;
    kvs_telemetry *tel;
    kvs_next *next[KVS_NSIG];
    unsigned warned;              /* signals already warned about */
} kvs_evrx_sender;

void kvs_evrx_sender_init(kvs_evrx_sender *s, const kvs_create_ctx *ctx);
/* Whether a pipeline of this signal uses the receiver. */
int kvs_evrx_wired(const kvs_evrx_sender *s, kvs_signal sig);
/* Sends and releases the batch (NULL is ignored). */
void kvs_evrx_send(kvs_evrx_sender *s, kvs_batch *b);
/* kvs_evrx_finish + kvs_evrx_send. */
void kvs_evrx_flush(kvs_evrx_sender *s, kvs_evrx_out *o);

/* ---- following files ---- */

typedef struct kvs_evrx_file {
    char *path;
    dev_t dev;
    ino_t ino;
    int fd;
    off_t offset;                 /* after the last complete line */
    uint64_t line;                /* lines consumed */
    int seen;                     /* matched by the last glob */
    void *user;                   /* per-file state of the receiver */
    unsigned char head[64];       /* first bytes, to notice a rewrite in place */
    size_t head_len;
} kvs_evrx_file;

typedef struct kvs_evrx_tail_opts {
    const char *const *include;
    size_t ninclude;
    const char *const *exclude;
    size_t nexclude;
    int start_at_end;
    size_t max_line;
    size_t max_files;             /* files followed at once (0: 512) */
} kvs_evrx_tail_opts;

/* One line of a file (without its newline). cut: the line was longer than
 * max_line and this is its beginning. */
typedef void (*kvs_evrx_line_fn)(void *ctx, kvs_evrx_file *f, const char *line, size_t len, uint64_t offset, int cut);
/* A file is let go (rotated away, removed, or at the end of a replay):
 * the receiver frees f->user. */
typedef void (*kvs_evrx_close_fn)(void *ctx, kvs_evrx_file *f);

typedef struct kvs_evrx_tail kvs_evrx_tail;

kvs_evrx_tail *kvs_evrx_tail_new(const kvs_evrx_tail_opts *o, const char *id, kvs_host *host, kvs_telemetry *tel);
void kvs_evrx_tail_free(kvs_evrx_tail *t, kvs_evrx_close_fn on_close, void *ctx);
/* One round: glob, pick up new files, read what is new. first: the first
 * round (start_at applies). final: replay: read every file to its end
 * (a last line without newline included) and let go of all. Returns the
 * number of lines delivered. */
size_t kvs_evrx_tail_poll(kvs_evrx_tail *t, int first, int final, kvs_evrx_line_fn fn, kvs_evrx_close_fn on_close,
                        void *ctx);

/* Calls fn for every file followed now. */
void kvs_evrx_tail_each(kvs_evrx_tail *t, void (*fn)(void *ctx, kvs_evrx_file *f), void *ctx);

/* ---- a receiver that follows files ---- */

/* Defaults and limits of the keys every follower reads: include (required),
 * exclude, start_at, poll_interval, max_line_size, max_batch, max_files. */
typedef struct kvs_evrx_follow_defaults {
    int start_at_end;             /* start_at: end by default (else beginning) */
    uint64_t poll_ns;
    int64_t max_line, max_line_min, max_line_max;
    const char *include_hint;     /* after "`include` is required " */
} kvs_evrx_follow_defaults;

/* Called once per round, after the poll and before the round's log
 * request is sent; lines: how many the poll delivered. */
typedef void (*kvs_evrx_round_fn)(void *ctx, size_t lines);

typedef struct kvs_evrx_follower {
    const char *id;
    kvs_evrx_sender out;
    kvs_evrx_tail_opts topts;
    const char **include, **exclude;
    size_t ninclude, nexclude;
    uint64_t poll_ns;
    size_t max_batch;
    int replay;
    uint64_t start_wall;          /* when the reader thread started (wall clock) */
    kvs_evrx_tail *tail;
    kvs_evrx_out batch;           /* the log request being filled */
    const char *scope;            /* of the requests */
    kvs_evrx_line_fn on_line;
    kvs_evrx_close_fn on_close;   /* may be NULL */
    kvs_evrx_round_fn on_round;   /* may be NULL */
    void *ctx;                    /* of the callbacks: the receiver */
    pthread_t thread;
    int running;
} kvs_evrx_follower;

/* Reads the shared keys and joins a replay; the receiver checks the key
 * set and reads its own keys first, so a key written wrong is reported
 * before a missing `include`. `scope` names the requests. Errors name
 * file:line:column. */
int kvs_evrx_follower_config(kvs_evrx_follower *fw, const kvs_create_ctx *ctx, const kvs_evrx_follow_defaults *d,
                             const char *scope, kvs_error *err);
/* Starts following and the reader thread, which calls on_line for every
 * line, on_close (may be NULL) for every file let go and on_round (may be
 * NULL) after every poll, each with cb_ctx. */
int kvs_evrx_follower_start(kvs_evrx_follower *fw, kvs_evrx_line_fn on_line, kvs_evrx_close_fn on_close,
                            kvs_evrx_round_fn on_round, void *cb_ctx, kvs_error *err);
/* Waits for the reader thread (which stops when the engine drains). */
void kvs_evrx_follower_join(kvs_evrx_follower *fw);
/* After the join: lets go of every file followed (on_close sees each) and
 * sends what the log request holds. */
void kvs_evrx_follower_close(kvs_evrx_follower *fw);
/* Frees what the follower holds; an unsent request is dropped. */
void kvs_evrx_follower_free(kvs_evrx_follower *fw);
/* The log request to add a record to, begun when needed; NULL when out of
 * memory. */
kvs_evrx_out *kvs_evrx_follower_batch(kvs_evrx_follower *fw);
/* After a record was added: sends the request once it holds max_batch. */
void kvs_evrx_follower_added(kvs_evrx_follower *fw);

/* ---- misc ---- */

/* Sleeps up to ns, waking early when the engine drains. */
void kvs_evrx_sleep(kvs_host *host, uint64_t ns);
/* Expands include globs (each pattern's matches sorted), minus exclude;
 * regular files only. *out is malloc'd (strings too); free with
 * kvs_evrx_paths_free. */
size_t kvs_evrx_glob(const char *const *include, size_t ninclude, const char *const *exclude, size_t nexclude,
                   char ***out);
void kvs_evrx_paths_free(char **paths, size_t n);

#endif
