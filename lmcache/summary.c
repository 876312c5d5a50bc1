#include "lmcache/summary.h"

#include <math.h>
#include <string.h>

static void candidate(kvs_buf *o, const char *name, const kvs_lmc_candidate *c)
{
    kvs_buf_printf(o, "  %-16s %s", name, c->candidate ? "yes" : "no");
    if (c->candidate) {
        kvs_buf_printf(o, " (%s", kvs_lmc_claim_name(c->claim));
        for (size_t i = 0; i < c->nsignals; i++)
            kvs_buf_printf(o, "%s%s", i ? ", " : ": ", c->signals[i]);
        kvs_buf_puts(o, ")");
    }
    kvs_buf_putc(o, '\n');
}

static void families(kvs_buf *o, const kvs_lmc_diagnosis *d)
{
    kvs_buf_puts(o, "\nEvidence families (populated / zero / missing / not applicable)\n");
    for (int s = 0; s < KVS_LMC_FS__COUNT; s++) {
        const kvs_lmc_surface_row *sr = &d->surfaces[s];
        if (sr->family_count == 0)
            continue;
        kvs_buf_printf(o, "  %-28s %3zu / %3zu / %3zu / %3zu   %s\n", kvs_lmc_fsurface_name(sr->surface),
                       sr->populated, sr->zero, sr->missing, sr->not_applicable, kvs_lmc_sstatus_name(sr->status));
        /* Name the families a person has to look at: missing ones, then zero. */
        for (int want = KVS_LMC_ST_MISSING; want >= KVS_LMC_ST_ZERO; want--) {
            size_t shown = 0, total = 0;
            for (size_t i = 0; i < d->nrows; i++) {
                const kvs_lmc_family_row *r = &d->rows[i];
                if (r->def->surface != sr->surface || (int)r->status != want)
                    continue;
                total++;
                if (shown < 8) {
                    kvs_buf_printf(o, "%s%s", shown ? ", " : want == KVS_LMC_ST_MISSING ? "      missing: " : "      zero:    ",
                                   r->def->name);
                    shown++;
                }
            }
            if (total > shown)
                kvs_buf_printf(o, " (+%zu more)", total - shown);
            if (total)
                kvs_buf_putc(o, '\n');
        }
    }
}

static void findings(kvs_buf *o, const kvs_lmc_diagnosis *d)
{
    if (d->nfindings == 0) {
        kvs_buf_puts(o, "\nFindings: none\n");
        return;
    }
    kvs_buf_printf(o, "\nFindings (%zu)\n", d->nfindings);
    for (int sev = KVS_LMC_SEV_CRITICAL; sev >= KVS_LMC_SEV_INFO; sev--)
        for (size_t i = 0; i < d->nfindings; i++) {
            const kvs_lmc_finding *f = &d->findings[i];
            if ((int)f->severity != sev)
                continue;
            kvs_buf_printf(o, "  [%s] %s: %s\n", kvs_lmc_severity_name(f->severity), f->code,
                           f->message ? f->message : "");
            if (f->recommendation && *f->recommendation)
                kvs_buf_printf(o, "      -> %s\n", f->recommendation);
            if (f->ntraces) {
                kvs_buf_puts(o, "      example traces:");
                for (size_t t = 0; t < f->ntraces; t++)
                    kvs_buf_printf(o, " %s", f->trace_ids[t]);
                kvs_buf_putc(o, '\n');
            }
        }
}

void kvs_lmc_summary_write(const kvs_lmc_diagnosis *d, kvs_buf *o)
{
    const kvs_lmc_mode_result *m = &d->mode;
    kvs_buf_printf(o, "LMCache mode     %s (%s, from %s)\n", kvs_lmc_mode_name(m->mode),
                   kvs_lmc_claim_name(m->mode_claim), m->mode_source ? m->mode_source : "none");
    kvs_buf_printf(o, "Architecture     %s (%s)", kvs_lmc_arch_name(m->arch), kvs_lmc_claim_name(m->arch_claim));
    for (size_t i = 0; i < m->narch_signals; i++)
        kvs_buf_printf(o, "%s%s", i ? ", " : "\n  because        ", m->arch_signals[i]);
    kvs_buf_putc(o, '\n');
    candidate(o, "P2P candidate", &m->p2p);
    candidate(o, "PD candidate", &m->pd);
    candidate(o, "controller-only", &m->controller_only);
    if (d->requests.count) {
        double rate = d->requests.requested_tokens > 0 ? d->requests.hit_tokens / d->requests.requested_tokens : NAN;
        kvs_buf_printf(o, "Requests         %lu correlated, hit rate %s", d->requests.count,
                       isnan(rate) ? "n/a" : "");
        if (!isnan(rate))
            kvs_buf_printf(o, "%.1f%%", rate * 100);
        kvs_buf_printf(o, " (%.0f of %.0f tokens), %lu timeouts, %lu store-only\n", d->requests.hit_tokens,
                       d->requests.requested_tokens, d->requests.timeouts, d->requests.store_only);
    }
    families(o, d);
    findings(o, d);
}
