/* gen_correlate_fixture: writes the lmcache_correlate ground-truth fixture
 * (fixtures/correlate/correlate_gen.h) as OTLP/JSON lines, and optionally
 * the truth as a tab-separated table (one request per line).
 *
 *   gen_correlate_fixture --requests N --out FILE [--truth FILE]
 *                         [--seed N] [--per-line N]
 *
 * Deterministic for (seed, requests, per-line). */
#include "fixtures/correlate/correlate_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: gen_correlate_fixture --requests N --out FILE [--truth FILE] [--seed N] [--per-line N]\n");
    exit(2);
}

static void hex(FILE *f, const uint8_t *id, size_t n)
{
    char h[33];
    cg_hex(h, id, n);
    fputs(h, f);
}

int main(int argc, char **argv)
{
    unsigned long long n = 0, seed = 1, per_line = 200;
    const char *out = NULL, *truth = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--requests") == 0)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--per-line") == 0)
            per_line = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--truth") == 0)
            truth = argv[++i];
        else
            usage();
    }
    if (!n || !out || !per_line)
        usage();
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    FILE *t = truth ? fopen(truth, "w") : NULL;
    if (!f || (truth && !t)) {
        perror("gen_correlate_fixture");
        return 1;
    }
    if (t)
        fputs("session\tkind\tengine\tstore_only\trequested\thit\tl1\tl2\tretrieve_bytes\tstore_bytes\ttimeouts"
              "\tgarbage\tspans\ttrace\troot_span\tengine_trace\tengine_span\n",
              t);
    cg_list l = { 0 };
    cg_truth tr;
    for (unsigned long long i = 0; i < n; i++) {
        cg_request(seed, i, &tr, cg_collect, &l);
        if (t) {
            fprintf(t, "%s\t%s\t%s\t%d\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%d\t%d\t%d\t", tr.session,
                    tr.cb ? "cacheblend" : "mp",
                    tr.engine == CG_ENGINE_SAME ? "same_trace" : tr.engine == CG_ENGINE_CROSS ? "cross_trace" : "none",
                    tr.store_only, (long long)tr.requested, (long long)tr.hit, (long long)tr.l1, (long long)tr.l2,
                    (long long)tr.retrieve_bytes, (long long)tr.store_bytes, tr.timeouts, tr.garbage, tr.nspans);
            hex(t, tr.trace, 16), fputc('\t', t), hex(t, tr.root_span, 8), fputc('\t', t);
            hex(t, tr.engine_trace, 16), fputc('\t', t), hex(t, tr.engine_span, 8), fputc('\n', t);
        }
    }
    size_t spans = l.n, lines = cg_write_lines(&l, per_line, f);
    cg_list_free(&l);
    if (f != stdout)
        fclose(f);
    if (t)
        fclose(t);
    fprintf(stderr, "gen_correlate_fixture: requests=%llu spans=%zu lines=%zu seed=%llu\n", n, spans, lines, seed);
    return 0;
}
