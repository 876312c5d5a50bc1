/* Connector `forward`: passes what one pipeline exports into the pipelines
 * that name it as a receiver, for the same signal (the Collector's forward
 * connector). Lets one receiver feed pipelines with different processors. */
#include "core/component.h"

#include <stdlib.h>

typedef struct forward {
    kvs_next *next[KVS_NSIG];
    kvs_telemetry *tel;
} forward;

static int fwd_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    static const char *const keys[] = { NULL };
    if (kvs_cfg_expect_map(ctx->cfg, err) || kvs_cfg_check_keys(ctx->cfg, keys, err))
        return KVS_E_INVALID;
    forward *f = calloc(1, sizeof *f);
    if (!f)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    for (int i = 0; i < KVS_NSIG; i++)
        f->next[i] = ctx->next[i];
    f->tel = ctx->tel;
    *state = f;
    return 0;
}

static int fwd_consume(void *state, kvs_batch *b, kvs_error *err)
{
    forward *f = state;
    kvs_next *nx = f->next[kvs_signal_index(b->signal)];
    if (!nx) {
        kvs_tel_drop(f->tel, "no_pipeline_for_signal", b->items);
        return 0;
    }
    int rc = kvs_next_consume(nx, b, err);
    if (rc == 0)
        kvs_tel_add(&f->tel->accepted, b->items);
    else
        kvs_tel_add(rc == KVS_E_REFUSED ? &f->tel->refused : &f->tel->rejected, b->items);
    return rc;
}

static void fwd_destroy(void *state) { free(state); }

const kvs_component_def kvs_connector_forward = {
    .type = "forward",
    .kind = KVS_CONNECTOR,
    .signals = KVS_SIG_ALL,
    .out_signals = KVS_SIG_ALL,
    .routes = KVS_ROUTE(KVS_SIG_TRACES, KVS_SIG_TRACES) | KVS_ROUTE(KVS_SIG_METRICS, KVS_SIG_METRICS) |
              KVS_ROUTE(KVS_SIG_LOGS, KVS_SIG_LOGS),
    .create = fwd_create,
    .wire = 1,
    .consume = fwd_consume,
    .destroy = fwd_destroy,
};
