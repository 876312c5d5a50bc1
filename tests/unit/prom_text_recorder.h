/* Shared by the Prometheus / OpenMetrics text parser tests
 * (test_prom_text_syntax.c, test_prom_text_robustness.c): a handler that
 * records every callback as one text line, runners that feed a text whole
 * or in chunks, and HAS / HASNT assertions on the record. Header-only;
 * include after cmocka.h. */
#ifndef KVS_TEST_PROM_TEXT_RECORDER_H
#define KVS_TEST_PROM_TEXT_RECORDER_H

#include "core/buf.h"
#include "formats/prom_text.h"

#include <stddef.h>
#include <string.h>

/* ---- a recorder: every callback becomes one text line ---- */

struct rec {
    kvs_buf out;
    int abort_at_sample;   /* >0: return 99 from the n-th sample */
    int nsamples;
};

__attribute__((unused)) static void put_str(kvs_buf *b, kvs_prom_str s) { kvs_buf_append(b, s.p, s.n); }

__attribute__((unused)) static void put_labels(kvs_buf *b, const kvs_prom_label *l, size_t n)
{
    kvs_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kvs_buf_putc(b, ',');
        put_str(b, l[i].name);
        kvs_buf_puts(b, "=\"");
        put_str(b, l[i].value);
        kvs_buf_putc(b, '"');
    }
    kvs_buf_putc(b, '}');
}

__attribute__((unused)) static int on_family(void *ctx, const kvs_prom_family *f)
{
    kvs_buf *b = &((struct rec *)ctx)->out;
    kvs_buf_puts(b, "F ");
    put_str(b, f->name);
    kvs_buf_printf(b, " %s", kvs_prom_type_name(f->type));
    if (f->has_help) {
        kvs_buf_puts(b, " help=");
        put_str(b, f->help);
    }
    if (f->has_unit) {
        kvs_buf_puts(b, " unit=");
        put_str(b, f->unit);
    }
    kvs_buf_puts(b, f->openmetrics ? " om\n" : "\n");
    return 0;
}

__attribute__((unused)) static int on_sample(void *ctx, const kvs_prom_sample *s)
{
    struct rec *r = ctx;
    kvs_buf *b = &r->out;
    kvs_buf_printf(b, "S %lu ", s->line);
    put_str(b, s->name);
    put_labels(b, s->labels, s->nlabels);
    kvs_buf_printf(b, " %.17g fam=", s->value);
    put_str(b, s->family->name);
    kvs_buf_printf(b, " %s", kvs_prom_type_name(s->family->type));
    if (s->suffix)
        kvs_buf_printf(b, " sfx=%s", kvs_prom_suffix_name(s->suffix));
    if (s->has_timestamp)
        kvs_buf_printf(b, " ts=%lld", (long long)s->timestamp_ns);
    if (s->created)
        kvs_buf_puts(b, " created");
    if (s->exemplar) {
        kvs_buf_puts(b, " ex=");
        put_labels(b, s->exemplar->labels, s->exemplar->nlabels);
        kvs_buf_printf(b, ":%.17g", s->exemplar->value);
        if (s->exemplar->has_timestamp)
            kvs_buf_printf(b, "@%lld", (long long)s->exemplar->timestamp_ns);
    }
    kvs_buf_putc(b, '\n');
    if (r->abort_at_sample && ++r->nsamples == r->abort_at_sample)
        return 99;
    return 0;
}

__attribute__((unused)) static int on_reject(void *ctx, const kvs_prom_reject *rj)
{
    kvs_buf *b = &((struct rec *)ctx)->out;
    kvs_buf_printf(b, "R %lu:%lu %s [", rj->line, rj->column, rj->reason);
    put_str(b, rj->text);
    kvs_buf_puts(b, "]\n");
    return 0;
}

/* Parses text fed in chunks of `chunk` bytes (0: whole); returns the
 * recorded lines (caller frees). */
__attribute__((unused)) static char *run(const char *text, size_t len, kvs_prom_mode mode, const char *ctype,
                                         size_t chunk, kvs_prom_stats *st)
{
    struct rec r = {0};
    kvs_prom_options o = {.mode = mode, .content_type = ctype};
    kvs_prom_handler h = {on_family, on_sample, on_reject, &r};
    kvs_prom_parser *p = kvs_prom_new(&o, &h);
    assert_non_null(p);
    if (!chunk)
        chunk = len ? len : 1;
    for (size_t i = 0; i < len; i += chunk)
        assert_int_equal(kvs_prom_feed(p, text + i, len - i < chunk ? len - i : chunk), 0);
    assert_int_equal(kvs_prom_finish(p), 0);
    if (st)
        *st = *kvs_prom_get_stats(p);
    kvs_prom_free(p);
    kvs_buf_putc(&r.out, 0);
    return r.out.data;
}

__attribute__((unused)) static char *run_s(const char *text, kvs_prom_mode mode, kvs_prom_stats *st)
{
    return run(text, strlen(text), mode, NULL, 0, st);
}

#define HAS(out, needle)                                                                   \
    do {                                                                                   \
        if (!strstr((out), (needle)))                                                      \
            fail_msg("missing:\n  %s\nin:\n%s", (needle), (out));                          \
    } while (0)
#define HASNT(out, needle)                                                                 \
    do {                                                                                   \
        if (strstr((out), (needle)))                                                       \
            fail_msg("unexpected:\n  %s\nin:\n%s", (needle), (out));                       \
    } while (0)

#endif
