/* libFuzzer target: Prometheus / OpenMetrics text -> parser (all three
 * modes, chunked as the first byte says) -> OTLP conversion -> protobuf
 * pack, plus the name bridge on every sample name. Finds crashes, leaks,
 * undefined behaviour and chunking-dependent results. */
#include "core/arena.h"
#include "formats/prom_otlp.h"
#include "formats/prom_text.h"
#include "lmcache/metric_names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    kvs_prom_conv *conv;
    uint64_t digest;   /* order-sensitive summary of what the parser said */
};

static void mix(struct ctx *c, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        c->digest = (c->digest ^ b[i]) * 0x100000001B3u;
}

static int on_sample(void *vc, const kvs_prom_sample *s)
{
    struct ctx *c = vc;
    mix(c, s->name.p, s->name.n);
    mix(c, &s->line, sizeof s->line);
    mix(c, &s->suffix, sizeof s->suffix);
    for (size_t i = 0; i < s->nlabels; i++) {
        mix(c, s->labels[i].name.p, s->labels[i].name.n);
        mix(c, s->labels[i].value.p, s->labels[i].value.n);
    }
    (void)kvs_metric_canonical(s->name.p, s->name.n, s->family->unit.n ? "1" : NULL);
    return c->conv ? kvs_prom_conv_sample(c->conv, s) : 0;
}

static int on_reject(void *vc, const kvs_prom_reject *r)
{
    struct ctx *c = vc;
    mix(c, &r->line, sizeof r->line);
    mix(c, &r->column, sizeof r->column);
    mix(c, r->reason, strlen(r->reason));
    return 0;
}

static uint64_t run(const uint8_t *data, size_t size, kvs_prom_mode mode, size_t chunk, bool convert)
{
    kvs_arena *a = kvs_arena_new();
    kvs_prom_series_state *st = kvs_prom_series_state_new(2);
    /* Live scrapes name the resource after their job (identity_from_scrape),
     * saved ones after target_info: both paths, chosen by the input. */
    kvs_prom_conv_options co = {.scrape_time_ns = 1, .state = st, .job = "j", .instance = "i",
                                .identity_from_scrape = size % 2 == 1};
    struct ctx c = {.conv = convert ? kvs_prom_conv_new(a, &co) : NULL, .digest = 1469598103934665603u};
    kvs_prom_options o = {.mode = mode, .max_line = 4096};
    kvs_prom_handler h = {.sample = on_sample, .reject = on_reject, .ctx = &c};
    kvs_prom_parser *p = kvs_prom_new(&o, &h);
    for (size_t i = 0; i < size; i += chunk)
        if (kvs_prom_feed(p, data + i, size - i < chunk ? size - i : chunk))
            abort();
    if (kvs_prom_finish(p))
        abort();
    if (c.conv) {
        kvs_metrics_req *req = NULL;
        kvs_error err;
        if (kvs_prom_conv_finish(c.conv, &req, &err) == 0) {
            size_t n = protobuf_c_message_get_packed_size(&req->base);
            uint8_t *buf = malloc(n ? n : 1);
            if (protobuf_c_message_pack(&req->base, buf) != n)
                abort();
            free(buf);
        }
        kvs_prom_conv_free(c.conv);
    }
    kvs_prom_free(p);
    kvs_prom_series_state_free(st);
    kvs_arena_free(a);
    return c.digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    for (int m = 0; m < 3; m++) {
        uint64_t whole = run(data, size, (kvs_prom_mode)m, size ? size : 1, m == 0);
        uint64_t parts = run(data, size, (kvs_prom_mode)m, chunk, false);
        if (whole != parts)
            abort(); /* the result must not depend on the chunking */
    }
    return 0;
}
