/* core/sending_queue with a scripted fake send: backpressure when full,
 * retries with backoff, permanent errors, Retry-After, max_elapsed_time,
 * the byte bound, the synchronous mode, shutdown draining and the counting
 * of leftovers, config parsing. Every wait is bounded (5 s). */
#include "core/clock.h"
#include "core/sending_queue.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit_helpers.h"

#define ITEMS 7
#define MAXCALLS 64

typedef struct fake {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    kvs_sending_queue *q;
    kvs_send_result script[MAXCALLS];  /* result of call i; OK past nscript */
    uint64_t retry_after[MAXCALLS];
    int nscript;
    kvs_send_result always;            /* used when always_set */
    int always_set;
    int hang;                          /* block each call until its deadline */
    int block;                         /* block until cleared */
    int calls;
    uint64_t call_ns[MAXCALLS];
    int workers_made, workers_freed;
    uint64_t rejected;                 /* partial success on OK */
} fake;

static kvs_send_result fake_send(void *exp, void **worker, kvs_batch *b, uint64_t deadline_ns,
                                 kvs_send_info *info, kvs_error *err)
{
    fake *f = exp;
    pthread_mutex_lock(&f->lock);
    if (!*worker) {
        *worker = &f->workers_made;
        f->workers_made++;
    }
    int i = f->calls++;
    if (i < MAXCALLS)
        f->call_ns[i] = kvs_now_ns();
    pthread_cond_broadcast(&f->cond);
    while (f->block)
        pthread_cond_wait(&f->cond, &f->lock);
    int hang = f->hang;
    kvs_send_result r = f->always_set ? f->always : i < f->nscript ? f->script[i] : KVS_SEND_OK;
    if (i < f->nscript)
        info->retry_after_ns = f->retry_after[i];
    if (r == KVS_SEND_OK)
        info->rejected = f->rejected;
    pthread_mutex_unlock(&f->lock);
    if (hang) {
        /* A well-behaved send: ends by its deadline or the shutdown's. */
        uint64_t stop = kvs_now_ns() + 5 * KVS_SEC;
        while (kvs_now_ns() < deadline_ns && kvs_now_ns() < kvs_sending_queue_deadline(f->q) && kvs_now_ns() < stop) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    if (r != KVS_SEND_OK)
        kvs_errorf(err, KVS_E_IO, "fake failure %d", i);
    return r;
}

static void fake_worker_free(void *exp, void *worker)
{
    fake *f = exp;
    pthread_mutex_lock(&f->lock);
    f->workers_freed++;
    pthread_mutex_unlock(&f->lock);
}

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
}

static void fake_destroy(fake *f)
{
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
}

static void fake_set_block(fake *f, int on)
{
    pthread_mutex_lock(&f->lock);
    f->block = on;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static int fake_calls(fake *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static int wait_calls(fake *f, int want)
{
    uint64_t end = kvs_now_ns() + 5 * KVS_SEC;
    while (fake_calls(f) < want && kvs_now_ns() < end)
        sleep_ms(1);
    return fake_calls(f);
}

static kvs_batch *mkbatch(void)
{
    kvs_batch *b = kvs_batch_new(KVS_SIG_TRACES);
    assert_non_null(b);
    b->items = ITEMS; /* the queue only counts; the fake never reads the request */
    return b;
}

/* Fast defaults for tests: 1 ms backoff. */
static kvs_sending_queue_cfg fast_cfg(int consumers, int size)
{
    kvs_sending_queue_cfg c = {
        .timeout_ns = 5 * KVS_SEC,
        .queue_enabled = 1,
        .num_consumers = consumers,
        .queue_size = size,
        .retry_enabled = 1,
        .initial_interval_ns = KVS_MS,
        .randomization_factor = 0.5,
        .multiplier = 1.5,
        .max_interval_ns = 5 * KVS_MS,
        .max_elapsed_ns = 5 * KVS_SEC,
    };
    return c;
}

typedef struct rig {
    fake f;
    kvs_telemetry tel;
    kvs_sending_queue *q;
} rig;

static void rig_up(rig *r, const kvs_sending_queue_cfg *c)
{
    fake_init(&r->f);
    kvs_telemetry_init(&r->tel, "otlp/test", "exporter");
    kvs_sending_queue_ops ops = { &r->f, fake_send, fake_worker_free };
    kvs_error err;
    r->q = kvs_sending_queue_new("otlp/test", c, &ops, &r->tel, &err);
    assert_non_null(r->q);
    r->f.q = r->q;
    assert_int_equal(kvs_sending_queue_start(r->q, &err), 0);
}

static void rig_down(rig *r)
{
    kvs_sending_queue_shutdown(r->q, kvs_now_ns() + 5 * KVS_SEC);
    kvs_sending_queue_free(r->q);
    assert_int_equal(r->f.workers_made, r->f.workers_freed);
    kvs_telemetry_destroy(&r->tel);
    fake_destroy(&r->f);
}

static void consume_one(rig *r, int want)
{
    kvs_batch *b = mkbatch();
    kvs_error err;
    assert_int_equal(kvs_sending_queue_consume(r->q, b, &err), want);
    kvs_batch_unref(b);
}

static void test_queue_full_refuses(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 2);
    rig_up(&r, &c);
    fake_set_block(&r.f, 1);
    consume_one(&r, 0);
    assert_int_equal(wait_calls(&r.f, 1), 1); /* the consumer holds batch 1 */
    consume_one(&r, 0);
    consume_one(&r, 0);
    kvs_queue_stats s;
    kvs_sending_queue_stats(r.q, &s);
    assert_int_equal(s.size, 2);
    assert_int_equal(s.capacity, 2);
    assert_int_equal(s.in_flight, 1);
    consume_one(&r, KVS_E_REFUSED);
    consume_one(&r, KVS_E_REFUSED);
    assert_int_equal(kvs_tel_get(&r.tel.refused), 2 * ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.dropped), 0);
    fake_set_block(&r.f, 0);
    assert_int_equal(wait_counter(&r.tel.exported, 3 * ITEMS), 3 * ITEMS);
    consume_one(&r, 0); /* room again */
    assert_int_equal(wait_counter(&r.tel.exported, 4 * ITEMS), 4 * ITEMS);
    rig_down(&r);
}

static void test_retryable_is_retried(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(2, 10);
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.script[0] = r.f.script[1] = r.f.script[2] = KVS_SEND_RETRYABLE;
    r.f.nscript = 3;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.exported, ITEMS), ITEMS);
    assert_int_equal(fake_calls(&r.f), 4);
    assert_int_equal(kvs_tel_get(&r.tel.failed), 0);
    assert_int_equal(kvs_tel_get(&r.tel.dropped), 0);
    rig_down(&r);
}

static void test_permanent_not_retried(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 10);
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.script[0] = KVS_SEND_PERMANENT;
    r.f.nscript = 1;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.failed, ITEMS), ITEMS);
    consume_one(&r, 0); /* the next batch goes through: the first was not retried */
    assert_int_equal(wait_counter(&r.tel.exported, ITEMS), ITEMS);
    assert_int_equal(fake_calls(&r.f), 2);
    assert_int_equal(reason_count(&r.tel, "send_failed_permanent"), ITEMS);
    rig_down(&r);
}

static void test_retry_after_honoured(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 10);
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.script[0] = KVS_SEND_RETRYABLE;
    r.f.retry_after[0] = 150 * KVS_MS; /* far above the 1-5 ms backoff */
    r.f.nscript = 1;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.exported, ITEMS), ITEMS);
    assert_int_equal(fake_calls(&r.f), 2);
    assert_true(r.f.call_ns[1] - r.f.call_ns[0] >= 150 * KVS_MS);
    rig_down(&r);
}

static void test_max_elapsed_gives_up(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 10);
    c.max_elapsed_ns = 40 * KVS_MS;
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.always = KVS_SEND_RETRYABLE;
    r.f.always_set = 1;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.failed, ITEMS), ITEMS);
    assert_true(fake_calls(&r.f) >= 2);
    assert_int_equal(reason_count(&r.tel, "retries_exhausted"), ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.exported), 0);
    rig_down(&r);
}

static void test_retry_disabled(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 10);
    c.retry_enabled = 0;
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.script[0] = KVS_SEND_RETRYABLE;
    r.f.nscript = 1;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.failed, ITEMS), ITEMS);
    assert_int_equal(reason_count(&r.tel, "retry_disabled"), ITEMS);
    assert_int_equal(fake_calls(&r.f), 1);
    rig_down(&r);
}

static void test_partial_success_counted(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 10);
    rig_up(&r, &c);
    r.f.rejected = 2;
    consume_one(&r, 0);
    assert_int_equal(wait_counter(&r.tel.exported, ITEMS - 2), ITEMS - 2);
    assert_int_equal(kvs_tel_get(&r.tel.failed), 2);
    assert_int_equal(reason_count(&r.tel, "rejected_by_backend"), 2);
    rig_down(&r);
}

static void test_shutdown_drains(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 100);
    rig_up(&r, &c);
    fake_set_block(&r.f, 1);
    for (int i = 0; i < 20; i++)
        consume_one(&r, 0);
    fake_set_block(&r.f, 0);
    kvs_sending_queue_shutdown(r.q, kvs_now_ns() + 5 * KVS_SEC);
    assert_int_equal(kvs_tel_get(&r.tel.exported), 20 * ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.dropped), 0);
    consume_one(&r, KVS_E_REFUSED); /* no longer accepting */
    rig_down(&r);
}

static void test_shutdown_deadline_counts_leftovers(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 100);
    c.timeout_ns = 30 * KVS_SEC; /* only the shutdown deadline can end the attempt */
    rig_up(&r, &c);
    pthread_mutex_lock(&r.f.lock);
    r.f.hang = 1;
    r.f.always = KVS_SEND_RETRYABLE;
    r.f.always_set = 1;
    pthread_mutex_unlock(&r.f.lock);
    for (int i = 0; i < 4; i++)
        consume_one(&r, 0);
    assert_int_equal(wait_calls(&r.f, 1), 1);
    uint64_t t0 = kvs_now_ns();
    kvs_sending_queue_shutdown(r.q, t0 + 50 * KVS_MS);
    assert_true(kvs_now_ns() - t0 < 5 * KVS_SEC);
    assert_int_equal(kvs_tel_get(&r.tel.exported), 0);
    assert_int_equal(reason_count(&r.tel, "shutdown_timeout"), 4 * ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.dropped), 4 * ITEMS);
    kvs_queue_stats s;
    kvs_sending_queue_stats(r.q, &s);
    assert_int_equal(s.size, 0);
    rig_down(&r);
}

static void test_byte_bound(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(1, 100);
    c.max_bytes = 1 << 20;
    rig_up(&r, &c);
    fake_set_block(&r.f, 1);
    kvs_batch *big[3];
    kvs_error err;
    for (int i = 0; i < 3; i++) {
        big[i] = mkbatch();
        assert_non_null(kvs_arena_alloc(big[i]->arena, (size_t)3 << 19)); /* 1.5 MiB */
    }
    assert_int_equal(kvs_sending_queue_consume(r.q, big[0], &err), 0);
    assert_int_equal(wait_calls(&r.f, 1), 1);
    /* An empty queue takes one batch whatever its size; then it is full. */
    assert_int_equal(kvs_sending_queue_consume(r.q, big[1], &err), 0);
    assert_int_equal(kvs_sending_queue_consume(r.q, big[2], &err), KVS_E_REFUSED);
    kvs_queue_stats s;
    kvs_sending_queue_stats(r.q, &s);
    assert_true(s.bytes >= (uint64_t)3 << 19);
    assert_int_equal(s.bytes_capacity, 1 << 20);
    fake_set_block(&r.f, 0);
    assert_int_equal(wait_counter(&r.tel.exported, 2 * ITEMS), 2 * ITEMS);
    for (int i = 0; i < 3; i++)
        kvs_batch_unref(big[i]);
    rig_down(&r);
}

static void test_sync_mode_maps_results(void **st)
{
    rig r;
    kvs_sending_queue_cfg c = fast_cfg(2, 10);
    c.queue_enabled = 0;
    c.max_elapsed_ns = 20 * KVS_MS;
    rig_up(&r, &c);
    consume_one(&r, 0);
    assert_int_equal(kvs_tel_get(&r.tel.exported), ITEMS);
    pthread_mutex_lock(&r.f.lock);
    r.f.script[1] = KVS_SEND_PERMANENT;
    r.f.script[2] = KVS_SEND_RETRYABLE;
    r.f.nscript = 3;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, KVS_E_INVALID);
    consume_one(&r, 0); /* retried in the caller's thread, then delivered */
    assert_int_equal(fake_calls(&r.f), 4);
    pthread_mutex_lock(&r.f.lock);
    r.f.always = KVS_SEND_RETRYABLE;
    r.f.always_set = 1;
    pthread_mutex_unlock(&r.f.lock);
    consume_one(&r, KVS_E_REFUSED); /* retries exhausted: the caller hears it */
    assert_int_equal(kvs_tel_get(&r.tel.exported), 2 * ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.failed), 2 * ITEMS);
    assert_int_equal(kvs_tel_get(&r.tel.dropped), 0); /* errors went upstream: nothing lost here */
    kvs_queue_stats s;
    kvs_sending_queue_stats(r.q, &s);
    assert_int_equal(s.capacity, 0);
    assert_int_equal(r.f.workers_made, 1); /* the worker slot is reused */
    rig_down(&r);
}

static int parse(const char *yaml, kvs_sending_queue_cfg *out, kvs_error *err)
{
    kvs_cfg_doc *doc = kvs_cfg_load_string("test.yaml", yaml, strlen(yaml), NULL, NULL, err);
    assert_non_null(doc);
    int rc = kvs_sending_queue_parse(kvs_cfg_root(doc), out, err);
    kvs_cfg_free(doc);
    return rc;
}

static void test_parse_config(void **st)
{
    kvs_sending_queue_cfg c;
    kvs_error err;
    assert_int_equal(parse("endpoint: x\n", &c, &err), 0);
    assert_int_equal(c.timeout_ns, 5 * KVS_SEC);
    assert_true(c.queue_enabled && c.retry_enabled);
    assert_int_equal(c.num_consumers, 10);
    assert_int_equal(c.queue_size, 1000);
    assert_int_equal(c.max_bytes, 0);
    assert_int_equal(c.initial_interval_ns, 5 * KVS_SEC);
    assert_int_equal(c.max_interval_ns, 30 * KVS_SEC);
    assert_int_equal(c.max_elapsed_ns, 300 * KVS_SEC);
    assert_true(c.randomization_factor == 0.5 && c.multiplier == 1.5);
    assert_int_equal(parse("timeout: 2s\nsending_queue: {enabled: false, num_consumers: 3, queue_size: 7, "
                           "max_size_mib: 2}\nretry_on_failure: {initial_interval: 10ms, max_interval: 1s, "
                           "max_elapsed_time: 0, multiplier: 2, randomization_factor: 0}\n",
                           &c, &err),
                     0);
    assert_int_equal(c.timeout_ns, 2 * KVS_SEC);
    assert_false(c.queue_enabled);
    assert_int_equal(c.num_consumers, 3);
    assert_int_equal(c.queue_size, 7);
    assert_int_equal(c.max_bytes, 2 << 20);
    assert_int_equal(c.initial_interval_ns, 10 * KVS_MS);
    assert_int_equal(c.max_elapsed_ns, 0);
    assert_int_equal(parse("sending_queue: {queue_sise: 3}\n", &c, &err), KVS_E_INVALID);
    assert_non_null(strstr(err.msg, "queue_sise"));
    assert_non_null(strstr(err.msg, "test.yaml:1:"));
    assert_int_equal(parse("sending_queue: {num_consumers: 0}\n", &c, &err), KVS_E_INVALID);
    assert_int_equal(parse("retry_on_failure: {initial_interval: 10s, max_interval: 1s}\n", &c, &err), KVS_E_INVALID);
    assert_non_null(strstr(err.msg, "max_interval"));
    assert_int_equal(parse("retry_on_failure: {randomization_factor: 2}\n", &c, &err), KVS_E_INVALID);
    assert_int_equal(parse("timeout: 5\n", &c, &err), KVS_E_INVALID);
}

static void test_rpc_status_decode(void **st)
{
    /* google.rpc.Status{code: 8, message: "slow down",
     *   details: [Any{type_url: ".../google.rpc.RetryInfo", value: RetryInfo{retry_delay: {seconds: 2, nanos: 5}}}]} */
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    uint8_t dur[] = { 0x08, 0x02, 0x10, 0x05 };
    uint8_t ri[2 + sizeof dur] = { 0x0a, sizeof dur };
    memcpy(ri + 2, dur, sizeof dur);
    uint8_t any[2 + sizeof url - 1 + 2 + sizeof ri];
    size_t n = 0;
    any[n++] = 0x0a;
    any[n++] = sizeof url - 1;
    memcpy(any + n, url, sizeof url - 1);
    n += sizeof url - 1;
    any[n++] = 0x12;
    any[n++] = sizeof ri;
    memcpy(any + n, ri, sizeof ri);
    n += sizeof ri;
    uint8_t st_buf[128];
    size_t m = 0;
    st_buf[m++] = 0x08;
    st_buf[m++] = 8;
    st_buf[m++] = 0x12;
    st_buf[m++] = 9;
    memcpy(st_buf + m, "slow down", 9);
    m += 9;
    st_buf[m++] = 0x1a;
    st_buf[m++] = (uint8_t)n;
    memcpy(st_buf + m, any, n);
    m += n;
    int code;
    char msg[64];
    uint64_t retry;
    assert_int_equal(kvs_rpc_status_decode(st_buf, m, &code, msg, sizeof msg, &retry), 0);
    assert_int_equal(code, 8);
    assert_string_equal(msg, "slow down");
    assert_int_equal(retry, 2 * KVS_SEC + 5);
    assert_int_equal(kvs_rpc_status_decode(st_buf, m - 3, &code, msg, sizeof msg, &retry), -1);
    uint8_t junk[] = { 0xff, 0xff, 0xff };
    assert_int_equal(kvs_rpc_status_decode(junk, sizeof junk, &code, msg, sizeof msg, &retry), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_full_refuses),
        cmocka_unit_test(test_retryable_is_retried),
        cmocka_unit_test(test_permanent_not_retried),
        cmocka_unit_test(test_retry_after_honoured),
        cmocka_unit_test(test_max_elapsed_gives_up),
        cmocka_unit_test(test_retry_disabled),
        cmocka_unit_test(test_partial_success_counted),
        cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_shutdown_deadline_counts_leftovers),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_sync_mode_maps_results),
        cmocka_unit_test(test_parse_config),
        cmocka_unit_test(test_rpc_status_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
