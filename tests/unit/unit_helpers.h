/* Small helpers the unit tests share: files of the source tree, a private
 * temporary directory, bounded waits, the drop reasons of an instance's telemetry, and a traces
 * batch to feed components. Header-only; include after cmocka.h. */
#ifndef KVS_TEST_UNIT_HELPERS_H
#define KVS_TEST_UNIT_HELPERS_H

#include "core/batch.h"
#include "core/clock.h"
#include "core/telemetry.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Fails the test unless the string hay holds needle. */
#define assert_contains(hay, needle)                                                              \
    do {                                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                                   \
        if (!h_ || !strstr(h_, n_)) {                                                             \
            print_error("expected \"%s\"\n  to contain \"%s\"\n", h_ ? h_ : "(null)", n_);        \
            fail();                                                                               \
        }                                                                                         \
    } while (0)

/* A path under $KVS_SOURCE_DIR (`.` when unset); the last four results
 * stay valid. */
__attribute__((unused)) static const char *src(const char *rel)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    const char *root = getenv("KVS_SOURCE_DIR");
    snprintf(p[k], sizeof p[k], "%s/%s", root ? root : ".", rel);
    return p[k];
}

/* A whole file, NUL terminated (malloc'd); the test fails when it cannot
 * be read. */
__attribute__((unused)) static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* Makes a private directory $TMPDIR/<prefix>_XXXXXX (TMPDIR: /tmp when
 * unset) into dir; for a group setup: 0 or -1. */
__attribute__((unused)) static int tmpdir_make(char *dir, size_t cap, const char *prefix)
{
    snprintf(dir, cap, "%s/%s_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes the directory and what it holds; for a group teardown: 0 or -1. */
__attribute__((unused)) static int tmpdir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

__attribute__((unused)) static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Polls until *c reaches want or 5 s pass; returns the last value. */
__attribute__((unused)) static uint64_t wait_counter(const atomic_uint_fast64_t *c, uint64_t want)
{
    uint64_t end = kvs_now_ns() + 5 * KVS_SEC;
    while (kvs_tel_get(c) < want && kvs_now_ns() < end)
        sleep_ms(1);
    return kvs_tel_get(c);
}

/* Items the instance dropped for this reason. */
__attribute__((unused)) static uint64_t reason_count(kvs_telemetry *t, const char *reason)
{
    uint64_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->nreasons; i++)
        if (strcmp(t->reasons[i].reason, reason) == 0)
            n = t->reasons[i].count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* A traces request of n spans named `name` in one resource and scope:
 * span i starts at i ns, its trace id is 01 00.., its span id 00..(i+1). */
__attribute__((unused)) static kvs_batch *make_traces(size_t n, const char *name)
{
    kvs_batch *b = kvs_batch_new(KVS_SIG_TRACES);
    kvs_arena *a = b->arena;
    kvs_resource_spans *rs = kvs_arena_zalloc(a, sizeof *rs);
    kvs_scope_spans *ss = kvs_arena_zalloc(a, sizeof *ss);
    kvs_span *sp = kvs_arena_zalloc(a, (n ? n : 1) * sizeof *sp);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->spans = kvs_arena_zalloc(a, (n ? n : 1) * sizeof *ss->spans);
    for (ss->n_spans = 0; ss->n_spans < n; ss->n_spans++) {
        kvs_span *s = ss->spans[ss->n_spans] = &sp[ss->n_spans];
        opentelemetry__proto__trace__v1__span__init(s);
        s->name = kvs_arena_strdup(a, name);
        s->start_time_unix_nano = ss->n_spans;
        s->trace_id = (ProtobufCBinaryData){ 16, kvs_arena_zalloc(a, 16) };
        s->span_id = (ProtobufCBinaryData){ 8, kvs_arena_zalloc(a, 8) };
        s->trace_id.data[0] = 1, s->span_id.data[7] = (uint8_t)(ss->n_spans + 1);
    }
    rs->scope_spans = kvs_arena_zalloc(a, sizeof *rs->scope_spans);
    rs->scope_spans[0] = ss, rs->n_scope_spans = 1;
    b->traces->resource_spans = kvs_arena_zalloc(a, sizeof *b->traces->resource_spans);
    b->traces->resource_spans[0] = rs, b->traces->n_resource_spans = 1;
    kvs_batch_recount(b);
    return b;
}

/* The same request in wire form: packed, the batch holding the bytes. */
__attribute__((unused)) static kvs_batch *make_traces_wire(size_t n, const char *name)
{
    kvs_batch *d = make_traces(n, name);
    size_t len = protobuf_c_message_get_packed_size(d->msg);
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    protobuf_c_message_pack(d->msg, p);
    kvs_batch_unref(d);
    kvs_batch *b = kvs_batch_adopt_wire(KVS_SIG_TRACES, p, len, n);
    assert_non_null(b);
    return b;
}

#endif
