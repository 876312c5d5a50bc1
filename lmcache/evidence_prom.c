/* Prometheus text adapter of the evidence model (see evidence.h): one
 * scrape through formats/prom_text.h. Histogram and summary families are
 * assembled per label set (without `le`/`quantile`) from their `_bucket`,
 * `_sum` and `_count` lines and added when the family ends; cumulative
 * `le` buckets become per-bucket counts. */
#include "core/error.h"
#include "formats/prom_text.h"
#include "lmcache/evidence_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 256
#define MAX_LBL 32

typedef struct hgroup {
    char *sig;                 /* label signature without le */
    kvs_lmc_label labels[MAX_LBL];
    size_t nlabels;
    char *strings;             /* backing store of the labels */
    double le[KVS_LMC_MAX_BUCKETS + 1], cum[KVS_LMC_MAX_BUCKETS + 1];
    size_t nle;
    bool has_inf;
    double inf, count, sum;
    bool has_count, has_sum, bad;
} hgroup;

typedef struct pctx {
    kvs_lmc_evidence *ev;
    int64_t t_ms;
    unsigned long rejected;
    const kvs_prom_family *fam; /* family of the pending groups; NULL before its first sample */
    char fam_name[256];
    hgroup *groups[MAX_GROUPS];
    size_t ngroups;
    int rc;
} pctx;

static void group_free(hgroup *g)
{
    free(g->sig);
    free(g->strings);
    free(g);
}

static int cmp_le(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

static int flush(pctx *c)
{
    int rc = 0;
    for (size_t i = 0; i < c->ngroups; i++) {
        hgroup *g = c->groups[i];
        if (!rc && !g->bad) {
            /* sort bounds with their cumulative counts */
            double pairs[KVS_LMC_MAX_BUCKETS + 1][2];
            for (size_t b = 0; b < g->nle; b++) {
                pairs[b][0] = g->le[b];
                pairs[b][1] = g->cum[b];
            }
            qsort(pairs, g->nle, sizeof pairs[0], cmp_le);
            double bounds[KVS_LMC_MAX_BUCKETS], counts[KVS_LMC_MAX_BUCKETS + 1];
            double prev = 0;
            for (size_t b = 0; b < g->nle; b++) {
                bounds[b] = pairs[b][0];
                double d = pairs[b][1] - prev;
                counts[b] = d > 0 ? d : 0;
                prev = pairs[b][1];
            }
            double total = g->has_inf ? g->inf : g->has_count ? g->count : prev;
            counts[g->nle] = total - prev > 0 ? total - prev : 0;
            kvs_lmc_obs o = {.name = c->fam_name, .kind = KVS_LMC_HISTOGRAM, .labels = g->labels,
                             .nlabels = g->nlabels, .t_ms = c->t_ms, .bounds = g->nle ? bounds : NULL,
                             .nbounds = g->nle, .bucket_counts = g->nle ? counts : NULL,
                             .count = g->has_count ? g->count : total, .sum = g->has_sum ? g->sum : NAN};
            if (kvs_lmc_evidence_add(c->ev, &o) == KVS_E_NOMEM)
                rc = KVS_E_NOMEM;
        }
        group_free(g);
    }
    c->ngroups = 0;
    c->fam = NULL;
    return rc;
}

static bool is_key(const kvs_prom_str *s, const char *k)
{
    return s->n == strlen(k) && memcmp(s->p, k, s->n) == 0;
}

static hgroup *group_for(pctx *c, const kvs_prom_sample *s)
{
    /* signature: labels except le / quantile, in input order */
    size_t need = 1;
    for (size_t i = 0; i < s->nlabels; i++)
        need += s->labels[i].name.n + s->labels[i].value.n + 2;
    char *sig = malloc(need);
    if (!sig)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        const kvs_prom_label *l = &s->labels[i];
        if (is_key(&l->name, "le") || is_key(&l->name, "quantile"))
            continue;
        memcpy(sig + o, l->name.p, l->name.n);
        o += l->name.n;
        sig[o++] = '\x1f';
        memcpy(sig + o, l->value.p, l->value.n);
        o += l->value.n;
        sig[o++] = '\x1e';
    }
    sig[o] = '\0';
    for (size_t i = 0; i < c->ngroups; i++)
        if (strcmp(c->groups[i]->sig, sig) == 0) {
            free(sig);
            return c->groups[i];
        }
    if (c->ngroups == MAX_GROUPS) {
        free(sig);
        return NULL;
    }
    hgroup *g = calloc(1, sizeof *g);
    char *str = g ? malloc(o + 1) : NULL;
    if (!g || !str) {
        free(g);
        free(sig);
        return NULL;
    }
    g->sig = sig;
    g->strings = str;
    /* labels point into a copy of the signature with separators as NULs */
    memcpy(str, sig, o + 1);
    char *p = str;
    while (*p && g->nlabels < MAX_LBL) {
        char *k = p, *sep = strchr(p, '\x1f');
        if (!sep)
            break;
        *sep = '\0';
        char *v = sep + 1, *end = strchr(v, '\x1e');
        if (!end)
            break;
        *end = '\0';
        g->labels[g->nlabels].key = k;
        g->labels[g->nlabels].value = v;
        g->nlabels++;
        p = end + 1;
    }
    c->groups[c->ngroups++] = g;
    return g;
}

static const kvs_prom_str *label(const kvs_prom_sample *s, const char *k)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (is_key(&s->labels[i].name, k))
            return &s->labels[i].value;
    return NULL;
}

/* Every family callback starts a new family (the parser may reuse the
 * same struct for the next one, so pointers cannot tell them apart). */
static int on_family(void *ctx, const kvs_prom_family *f)
{
    pctx *c = ctx;
    (void)f;
    if (c->ngroups)
        c->rc = flush(c);
    c->fam = NULL;
    return c->rc;
}

static int on_reject(void *ctx, const kvs_prom_reject *r)
{
    (void)r;
    ((pctx *)ctx)->rejected++;
    return 0;
}

static int scalar(pctx *c, const kvs_prom_sample *s, kvs_lmc_kind kind, bool created)
{
    kvs_lmc_label ls[MAX_LBL];
    char buf[4096];
    size_t n = 0, used = 0;
    for (size_t i = 0; i < s->nlabels && n < MAX_LBL; i++) {
        const kvs_prom_label *l = &s->labels[i];
        size_t need = l->name.n + l->value.n + 2;
        if (used + need > sizeof buf)
            return 0; /* absurd label set: skip the sample */
        char *k = buf + used;
        memcpy(k, l->name.p, l->name.n);
        k[l->name.n] = '\0';
        char *v = k + l->name.n + 1;
        memcpy(v, l->value.p, l->value.n);
        v[l->value.n] = '\0';
        used += need;
        ls[n].key = k;
        ls[n].value = v;
        n++;
    }
    kvs_lmc_obs o = {.name = s->name.p, .name_len = s->name.n, .kind = kind, .labels = ls, .nlabels = n,
                     .t_ms = c->t_ms, .value = s->value, .created = created};
    int rc = kvs_lmc_evidence_add(c->ev, &o);
    return rc == KVS_E_NOMEM ? rc : 0;
}

static int on_sample(void *ctx, const kvs_prom_sample *s)
{
    pctx *c = ctx;
    const kvs_prom_family *f = s->family;
    bool histo = f && (f->type == KVS_PROM_HISTOGRAM || f->type == KVS_PROM_GAUGEHISTOGRAM ||
                       f->type == KVS_PROM_SUMMARY);
    if (s->created || s->suffix == KVS_PROM_SFX_CREATED)
        return scalar(c, s, histo ? KVS_LMC_HISTOGRAM : KVS_LMC_COUNTER, true);
    bool bucket = s->suffix == KVS_PROM_SFX_BUCKET && label(s, "le");
    if (!histo && !bucket) {
        kvs_lmc_kind kind = KVS_LMC_GAUGE;
        if (f && f->type == KVS_PROM_COUNTER)
            kind = KVS_LMC_COUNTER;
        else if (s->suffix == KVS_PROM_SFX_TOTAL)
            kind = KVS_LMC_COUNTER;
        return scalar(c, s, kind, false);
    }
    if (f && f->type == KVS_PROM_SUMMARY && s->suffix == KVS_PROM_SFX_NONE)
        return 0; /* quantile lines: the diagnosis reads count and sum */
    if (!c->fam) {
        c->fam = f;
        const kvs_prom_str *fn = f ? &f->name : &s->name;
        size_t n = fn->n < sizeof c->fam_name - 1 ? fn->n : sizeof c->fam_name - 1;
        memcpy(c->fam_name, fn->p, n);
        c->fam_name[n] = '\0';
    }
    hgroup *g = group_for(c, s);
    if (!g)
        return 0;
    switch (s->suffix) {
    case KVS_PROM_SFX_BUCKET: {
        const kvs_prom_str *le = label(s, "le");
        double b;
        if (!le || kvs_prom_parse_float(le->p, le->n, &b) != 0 || isnan(b)) {
            g->bad = true;
            break;
        }
        if (isinf(b)) {
            g->has_inf = true;
            g->inf = s->value;
        } else if (g->nle < KVS_LMC_MAX_BUCKETS) {
            g->le[g->nle] = b;
            g->cum[g->nle] = s->value;
            g->nle++;
        } else {
            g->bad = true;
        }
        break;
    }
    case KVS_PROM_SFX_COUNT:
    case KVS_PROM_SFX_GCOUNT:
        g->has_count = true;
        g->count = s->value;
        break;
    case KVS_PROM_SFX_SUM:
    case KVS_PROM_SFX_GSUM:
        g->has_sum = true;
        g->sum = s->value;
        break;
    default:
        break;
    }
    return 0;
}

int kvs_lmc_evidence_add_prom_text(kvs_lmc_evidence *ev, const char *text, size_t len, int64_t t_ms,
                                   unsigned long *rejected)
{
    pctx *c = calloc(1, sizeof *c);
    if (!c)
        return KVS_E_NOMEM;
    c->ev = ev;
    c->t_ms = t_ms;
    kvs_prom_handler h = {.family = on_family, .sample = on_sample, .reject = on_reject, .ctx = c};
    kvs_prom_options opts = {.mode = KVS_PROM_MODE_AUTO};
    int rc = kvs_prom_parse(text, len, &opts, &h, NULL);
    int frc = flush(c);
    if (!rc)
        rc = frc;
    if (rejected)
        *rejected = c->rejected;
    free(c);
    return rc < 0 ? rc : rc ? KVS_E_NOMEM : 0;
}
