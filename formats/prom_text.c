/* Streaming Prometheus 0.0.4 / OpenMetrics 1.0 text parser (see
 * prom_text.h for the promises). Lines are parsed in place from the
 * caller's chunk when they are whole in it; only a line cut by a chunk
 * boundary is copied. Unescaped strings go to one scratch buffer sized to
 * the line, so memory is O(longest line). */
#include "formats/prom_text.h"
#include "formats/prom_text_int.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool ends_with(const char *s, size_t n, const char *suf, size_t m)
{
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static bool str_eq(kvs_prom_str a, const char *s, size_t n)
{
    return a.n == n && memcmp(a.p, s, n) == 0;
}

static int reject(kvs_prom_parser *p, size_t col0, const char *reason)
{
    p->st.rejected++;
    if (!p->h.reject)
        return 0;
    size_t n = p->ln_len < p->opt.max_line ? p->ln_len : p->opt.max_line;
    kvs_prom_reject r = {p->lineno, col0 + 1, reason, {p->ln, n}};
    return p->h.reject(p->h.ctx, &r);
}

static void sniff_om(kvs_prom_parser *p)
{
    if (!p->pinned)
        p->om = true;
}

/* ---- families -------------------------------------------------------- */

static struct fam *cur_fam(kvs_prom_parser *p) { return &p->fam[p->cur]; }
static struct fam *prev_fam(kvs_prom_parser *p) { return &p->fam[p->cur ^ 1]; }

static int emit_family(kvs_prom_parser *p, struct fam *f)
{
    f->emitted = true;
    f->pub.openmetrics = p->om;
    p->st.families++;
    return p->h.family ? p->h.family(p->h.ctx, &f->pub) : 0;
}

static int close_family(kvs_prom_parser *p)
{
    struct fam *f = cur_fam(p);
    int r = 0;
    if (f->active && !f->emitted && !f->companion)
        r = emit_family(p, f);
    p->cur ^= 1;
    return r;
}

/* Is f the family that `name` (ending in _created, base length b) dates? */
static bool is_parent(const struct fam *f, const char *name, size_t b)
{
    if (!f->active)
        return false;
    switch (f->pub.type) {
    case KVS_PROM_COUNTER: case KVS_PROM_HISTOGRAM: case KVS_PROM_SUMMARY:
    case KVS_PROM_GAUGEHISTOGRAM: case KVS_PROM_UNTYPED:
        break;
    default:
        return false;
    }
    kvs_prom_str fn = f->pub.name;
    if (fn.n == b && memcmp(fn.p, name, b) == 0)
        return true;
    return fn.n == b + 6 && memcmp(fn.p, name, b) == 0 && memcmp(fn.p + b, "_total", 6) == 0;
}

static int open_family(kvs_prom_parser *p, const char *name, size_t n)
{
    int r = close_family(p);
    if (r)
        return r;
    struct fam *f = cur_fam(p);
    if (RESERVE(p, f->name, f->name_cap, n + 1))
        return KVS_E_NOMEM;
    memcpy(f->name, name, n);
    f->name[n] = 0;
    f->pub = (kvs_prom_family){.name = {f->name, n}, .type = p->om ? KVS_PROM_UNKNOWN : KVS_PROM_UNTYPED,
                               .line = p->lineno};
    f->nsamples = 0;
    f->active = true;
    f->emitted = false;
    f->companion = n > 8 && ends_with(name, n, "_created", 8) && is_parent(prev_fam(p), name, n - 8);
    return 0;
}

static const kvs_prom_label *find_label(const kvs_prom_label *l, size_t k, const char *name, size_t n)
{
    for (size_t i = 0; i < k; i++)
        if (str_eq(l[i].name, name, n))
            return &l[i];
    return NULL;
}

/* ---- metadata lines -------------------------------------------------- */

static const char *const type_names[] = {
    [KVS_PROM_UNTYPED] = "untyped", [KVS_PROM_COUNTER] = "counter", [KVS_PROM_GAUGE] = "gauge",
    [KVS_PROM_HISTOGRAM] = "histogram", [KVS_PROM_SUMMARY] = "summary",
    [KVS_PROM_GAUGEHISTOGRAM] = "gaugehistogram", [KVS_PROM_INFO] = "info",
    [KVS_PROM_STATESET] = "stateset", [KVS_PROM_UNKNOWN] = "unknown",
};

const char *kvs_prom_type_name(kvs_prom_type t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

const char *kvs_prom_suffix_name(kvs_prom_suffix s)
{
    static const char *const n[] = {"", "_total", "_bucket", "_count", "_sum", "_created", "_gcount", "_gsum", "_info"};
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "?";
}

static int parse_type(const char *s, size_t n)
{
    for (int t = 0; t < (int)(sizeof type_names / sizeof *type_names); t++)
        if (strlen(type_names[t]) == n && memcmp(type_names[t], s, n) == 0)
            return t;
    return -1;
}

/* Copies HELP text, unescaping \\ and \n (and \" under OpenMetrics). */
static int set_help(kvs_prom_parser *p, struct fam *f, const char *s, size_t n, size_t col, int *rej)
{
    if (RESERVE(p, f->help, f->help_cap, n + 1))
        return KVS_E_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char x = s[i + 1];
            if (x == 'n' || x == '\\' || (x == '"' && p->om)) {
                f->help[o++] = x == 'n' ? '\n' : x;
                i++;
                continue;
            }
            if (p->strict) {
                *rej = reject(p, col + i, "invalid escape sequence in HELP");
                return 1;
            }
        }
        f->help[o++] = c;
    }
    f->help[o] = 0;
    f->pub.help = (kvs_prom_str){f->help, o};
    f->pub.has_help = true;
    return 0;
}

enum meta_kind { M_HELP, M_TYPE, M_UNIT };

static int meta_line(kvs_prom_parser *p, const char *s, size_t n, size_t j, enum meta_kind kind)
{
    /* j is just past the keyword, at a blank or the end */
    j = p->strict ? j + 1 : kvs_prom__skip_ws(s, n, j);
    if (p->strict && j < n && is_ws((unsigned char)s[j]))
        return reject(p, j, "more than one space in descriptor");
    kvs_prom_str name;
    size_t name_col = j;
    if (j < n && s[j] == '"' && !p->strict) {
        const char *why = NULL;
        j++;
        p->scratch_len = 0;
        if (kvs_prom__scan_quoted(p, s, n, &j, &name, &why))
            return reject(p, j, why);
    } else {
        if (j >= n || !(is_alpha_((unsigned char)s[j]) || s[j] == ':'))
            return reject(p, j, "invalid or missing metric name in descriptor");
        size_t b = j;
        unsigned char m = p->strict ? C_MNAME : C_MNAME_LENIENT;
        while (j < n && (kvs_prom__cls[(unsigned char)s[j]] & m))
            j++;
        name = (kvs_prom_str){s + b, j - b};
    }
    size_t vb = j;
    if (j < n) {
        if (!is_ws((unsigned char)s[j]))
            return reject(p, j, "invalid character in metric name");
        vb = p->strict ? j + 1 : kvs_prom__skip_ws(s, n, j);
    } else if (kind == M_TYPE) {
        return reject(p, j, "missing type in # TYPE");
    } else if (p->strict && kind == M_UNIT) {
        return reject(p, j, "missing unit in # UNIT");
    }
    const char *v = s + vb;
    size_t vn = n - vb;

    int t = -1;
    if (kind == M_TYPE) {
        t = parse_type(v, vn);
        if (t < 0)
            return reject(p, vb, "unknown metric type");
        if (t == KVS_PROM_UNTYPED && p->strict)
            return reject(p, vb, "type untyped is not OpenMetrics (use unknown)");
        if (t == KVS_PROM_INFO || t == KVS_PROM_STATESET || t == KVS_PROM_GAUGEHISTOGRAM || t == KVS_PROM_UNKNOWN)
            sniff_om(p);
    } else if (kind == M_UNIT) {
        sniff_om(p);
        for (size_t i = 0; i < vn; i++)
            if (!is_lname((unsigned char)v[i]) && !(p->om && v[i] == ':'))
                return reject(p, vb + i, "invalid character in unit");
        if (p->strict && vn && !(name.n > vn + 1 && name.p[name.n - vn - 1] == '_' && ends_with(name.p, name.n, v, vn)))
            return reject(p, vb, "metric name must end with _<unit>");
    }

    struct fam *f = cur_fam(p);
    int r;
    if (!f->active || !str_eq(f->pub.name, name.p, name.n)) {
        if ((r = open_family(p, name.p, name.n)))
            return r;
        f = cur_fam(p);
    } else if (f->nsamples) {
        if (p->strict)
            return reject(p, name_col, "metadata after samples of its family");
        f->emitted = false;
    }
    switch (kind) {
    case M_HELP: {
        if (f->pub.has_help && p->strict)
            return reject(p, 2, "duplicate # HELP");
        int rej = 0;
        r = set_help(p, f, v, vn, vb, &rej);
        return r == 1 ? rej : r;
    }
    case M_TYPE:
        if (f->pub.has_type && p->strict)
            return reject(p, 2, "duplicate # TYPE");
        f->pub.type = (kvs_prom_type)t;
        f->pub.has_type = true;
        return 0;
    case M_UNIT:
        if (f->pub.has_unit && p->strict)
            return reject(p, 2, "duplicate # UNIT");
        if (RESERVE(p, f->unit, f->unit_cap, vn + 1))
            return KVS_E_NOMEM;
        memcpy(f->unit, v, vn);
        f->unit[vn] = 0;
        f->pub.unit = (kvs_prom_str){f->unit, vn};
        f->pub.has_unit = true;
        return 0;
    }
    return 0;
}

static int comment_line(kvs_prom_parser *p, const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j >= n || !is_ws((unsigned char)s[j]))
        return p->strict ? reject(p, i, "comment lines are not OpenMetrics") : 0;
    j = p->strict ? j + 1 : kvs_prom__skip_ws(s, n, j);
    size_t kb = j;
    while (j < n && !is_ws((unsigned char)s[j]))
        j++;
    const char *kw = s + kb;
    size_t kn = j - kb;
    if (kn == 4 && memcmp(kw, "HELP", 4) == 0)
        return meta_line(p, s, n, j, M_HELP);
    if (kn == 4 && memcmp(kw, "TYPE", 4) == 0)
        return meta_line(p, s, n, j, M_TYPE);
    if (kn == 4 && memcmp(kw, "UNIT", 4) == 0)
        return meta_line(p, s, n, j, M_UNIT);
    if (kn == 3 && memcmp(kw, "EOF", 3) == 0 && j == n) {
        sniff_om(p);
        p->eof_seen = true;
        return 0;
    }
    return p->strict ? reject(p, kb, "unknown descriptor (comments are not OpenMetrics)") : 0;
}

/* ---- sample lines ---------------------------------------------------- */

static int classify(const struct fam *f, const char *s, size_t n)
{
    kvs_prom_str fn = f->pub.name;
    if (n < fn.n || memcmp(s, fn.p, fn.n) != 0)
        return NOT_MEMBER;
    kvs_prom_type t = f->pub.type;
    if (n == fn.n) {
        switch (t) {
        case KVS_PROM_HISTOGRAM: case KVS_PROM_GAUGEHISTOGRAM:
            return BAD_SUFFIX;
        case KVS_PROM_COUNTER:
            return ends_with(s, n, "_total", 6) ? KVS_PROM_SFX_TOTAL : KVS_PROM_SFX_NONE;
        case KVS_PROM_INFO:
            return ends_with(s, n, "_info", 5) ? KVS_PROM_SFX_INFO : KVS_PROM_SFX_NONE;
        default:
            return KVS_PROM_SFX_NONE;
        }
    }
    const char *r = s + fn.n;
    size_t rn = n - fn.n;
#define IS(lit) (rn == sizeof(lit) - 1 && memcmp(r, lit, rn) == 0)
    switch (t) {
    case KVS_PROM_COUNTER:
        if (IS("_total")) return KVS_PROM_SFX_TOTAL;
        if (IS("_created")) return KVS_PROM_SFX_CREATED;
        break;
    case KVS_PROM_HISTOGRAM:
        if (IS("_bucket")) return KVS_PROM_SFX_BUCKET;
        if (IS("_count")) return KVS_PROM_SFX_COUNT;
        if (IS("_sum")) return KVS_PROM_SFX_SUM;
        if (IS("_created")) return KVS_PROM_SFX_CREATED;
        break;
    case KVS_PROM_SUMMARY:
        if (IS("_count")) return KVS_PROM_SFX_COUNT;
        if (IS("_sum")) return KVS_PROM_SFX_SUM;
        if (IS("_created")) return KVS_PROM_SFX_CREATED;
        break;
    case KVS_PROM_GAUGEHISTOGRAM:
        if (IS("_bucket")) return KVS_PROM_SFX_BUCKET;
        if (IS("_gcount")) return KVS_PROM_SFX_GCOUNT;
        if (IS("_gsum")) return KVS_PROM_SFX_GSUM;
        if (IS("_created")) return KVS_PROM_SFX_CREATED;
        break;
    case KVS_PROM_INFO:
        if (IS("_info")) return KVS_PROM_SFX_INFO;
        break;
    default:
        break;
    }
#undef IS
    return NOT_MEMBER;
}

/* Sample-level checks of strict OpenMetrics. NULL when fine. */
static const char *strict_check(const struct fam *f, int sfx, const kvs_prom_sample *smp)
{
    switch (f->pub.type) {
    case KVS_PROM_COUNTER:
        if (sfx == KVS_PROM_SFX_NONE)
            return "counter sample must end in _total";
        if (sfx == KVS_PROM_SFX_TOTAL && (isnan(smp->value) || smp->value < 0))
            return "counter value must be a non-negative number";
        break;
    case KVS_PROM_INFO:
        if (sfx == KVS_PROM_SFX_NONE)
            return "info sample must end in _info";
        break;
    case KVS_PROM_HISTOGRAM: case KVS_PROM_GAUGEHISTOGRAM:
        if (sfx == KVS_PROM_SFX_BUCKET && !find_label(smp->labels, smp->nlabels, "le", 2))
            return "bucket without le label";
        if ((sfx == KVS_PROM_SFX_BUCKET || sfx == KVS_PROM_SFX_COUNT || sfx == KVS_PROM_SFX_GCOUNT) &&
            (isnan(smp->value) || smp->value < 0))
            return "bucket and count values must be non-negative";
        break;
    case KVS_PROM_SUMMARY:
        if (sfx == KVS_PROM_SFX_NONE && !find_label(smp->labels, smp->nlabels, "quantile", 8))
            return "summary quantile sample without quantile label";
        break;
    default:
        break;
    }
    if (smp->exemplar && sfx != KVS_PROM_SFX_TOTAL && sfx != KVS_PROM_SFX_BUCKET)
        return "exemplars are allowed only on counter _total and histogram _bucket samples";
    return NULL;
}

static size_t label_runes(const kvs_prom_label *l, size_t k)
{
    size_t r = 0;
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < l[i].name.n; j++)
            r += ((unsigned char)l[i].name.p[j] & 0xC0) != 0x80;
        for (size_t j = 0; j < l[i].value.n; j++)
            r += ((unsigned char)l[i].value.p[j] & 0xC0) != 0x80;
    }
    return r;
}

/* Expects one separator at s[j] (exactly one space when strict). Returns
 * the index of the next token, or 0 on error. */
static size_t separator(kvs_prom_parser *p, const char *s, size_t n, size_t j)
{
    if (j >= n || !is_ws((unsigned char)s[j]))
        return 0;
    if (p->strict)
        return (s[j] == ' ' && j + 1 < n && !is_ws((unsigned char)s[j + 1])) ? j + 1 : 0;
    return kvs_prom__skip_ws(s, n, j);
}

static size_t token_end(const char *s, size_t n, size_t j)
{
    while (j < n && !is_ws((unsigned char)s[j]))
        j++;
    return j;
}

static int sample_line(kvs_prom_parser *p, const char *s, size_t n, size_t j)
{
    const char *why = NULL;
    kvs_prom_str name = {NULL, 0};
    size_t nlab = 0;
    int r;

    if (s[j] == '{') {
        if (p->strict)
            return reject(p, j, "quoted metric names are not OpenMetrics 1.0");
        r = kvs_prom__parse_labels(p, s, n, &j, &p->labels, &p->labels_cap, &nlab, &name, &why);
        if (r)
            return r < -1 ? r : reject(p, j, why);
        if (!name.p)
            return reject(p, 0, "label set without metric name");
    } else {
        if (!(is_alpha_((unsigned char)s[j]) || s[j] == ':'))
            return reject(p, j, "invalid metric name");
        size_t b = j;
        unsigned char m = p->strict ? C_MNAME : C_MNAME_LENIENT;
        while (j < n && (kvs_prom__cls[(unsigned char)s[j]] & m))
            j++;
        name = (kvs_prom_str){s + b, j - b};
        if (!p->strict) {
            /* Prometheus' own parser allows blanks before the label set */
            size_t t = kvs_prom__skip_ws(s, n, j);
            if (t < n && s[t] == '{')
                j = t;
        }
        if (j < n && s[j] == '{') {
            r = kvs_prom__parse_labels(p, s, n, &j, &p->labels, &p->labels_cap, &nlab, NULL, &why);
            if (r)
                return r < -1 ? r : reject(p, j, why);
        }
    }
    if (name.n == 0)
        return reject(p, j, "empty metric name");
    size_t vb = separator(p, s, n, j);
    if (!vb)
        return reject(p, j, j < n ? "invalid character after metric name or labels" : "missing value");
    size_t ve = token_end(s, n, vb);
    kvs_prom_sample smp = {.name = name, .labels = p->labels, .nlabels = nlab, .line = p->lineno};
    if (kvs_prom_parse_float(s + vb, ve - vb, &smp.value))
        return reject(p, vb, "invalid value");

    /* optional timestamp, optional exemplar */
    size_t tb = 0, te = 0, xb = 0;
    j = ve;
    if (j < n) {
        size_t t = separator(p, s, n, j);
        if (!t)
            return reject(p, j, "invalid separator");
        if (s[t] == '#') {
            xb = t;
        } else {
            tb = t;
            te = token_end(s, n, t);
            j = te;
            if (j < n) {
                size_t x = separator(p, s, n, j);
                if (!x || s[x] != '#')
                    return reject(p, x ? x : j, "unexpected text after timestamp");
                xb = x;
            }
        }
    }
    kvs_prom_exemplar ex;
    if (xb) {
        size_t x = xb + 1;
        size_t lb = separator(p, s, n, x);
        if (!lb || s[lb] != '{')
            return reject(p, xb, "malformed exemplar (expected '# {')");
        sniff_om(p);
        size_t k = 0;
        r = kvs_prom__parse_labels(p, s, n, &lb, &p->xlabels, &p->xlabels_cap, &k, NULL, &why);
        if (r)
            return r < -1 ? r : reject(p, lb, why);
        if (p->strict && label_runes(p->xlabels, k) > EXEMPLAR_MAX_RUNES)
            return reject(p, xb, "exemplar labels longer than 128 characters");
        int d = kvs_prom__has_dup(p, p->xlabels, k);
        if (d < 0)
            return d;
        if (d)
            return reject(p, xb, "duplicate label name in exemplar");
        size_t evb = separator(p, s, n, lb);
        if (!evb)
            return reject(p, lb, "exemplar without value");
        size_t eve = token_end(s, n, evb);
        ex = (kvs_prom_exemplar){.labels = p->xlabels, .nlabels = k};
        if (kvs_prom_parse_float(s + evb, eve - evb, &ex.value))
            return reject(p, evb, "invalid exemplar value");
        if (eve < n) {
            size_t etb = separator(p, s, n, eve);
            if (!etb)
                return reject(p, eve, "invalid separator in exemplar");
            size_t ete = token_end(s, n, etb);
            if (ete != n)
                return reject(p, ete, "unexpected text after exemplar");
            int tr = kvs_prom__ts_seconds(s + etb, ete - etb, &ex.timestamp_ns);
            if (tr)
                return reject(p, etb, tr == -2 ? "exemplar timestamp out of range" : "invalid exemplar timestamp");
            ex.has_timestamp = true;
        }
        smp.exemplar = &ex;
    }
    if (tb) {
        const char *ts = s + tb;
        size_t tn = te - tb;
        int tr;
        if (!p->om && (memchr(ts, '.', tn) || memchr(ts, 'e', tn) || memchr(ts, 'E', tn))) {
            if (p->pinned)
                return reject(p, tb, "timestamp must be integer milliseconds");
            sniff_om(p);
        }
        tr = p->om ? kvs_prom__ts_seconds(ts, tn, &smp.timestamp_ns) : kvs_prom__ts_ms(ts, tn, &smp.timestamp_ns);
        if (tr)
            return reject(p, tb, tr == -2 ? "timestamp out of range" : "invalid timestamp");
        smp.has_timestamp = true;
    }
    int d = kvs_prom__has_dup(p, p->labels, nlab);
    if (d < 0)
        return d;
    if (d)
        return reject(p, 0, "duplicate label name");

    /* which family, which role */
    struct fam *f = cur_fam(p), *owner = NULL;
    int sfx = NOT_MEMBER;
    bool created = name.n > 8 && ends_with(name.p, name.n, "_created", 8);
    if (f->active && f->companion && str_eq(f->pub.name, name.p, name.n)) {
        owner = prev_fam(p);
        sfx = KVS_PROM_SFX_CREATED;
        f->nsamples++;
    } else if (f->active) {
        sfx = classify(f, name.p, name.n);
        if (sfx == BAD_SUFFIX)
            return reject(p, 0, "sample name has no valid suffix for its family type");
        if (sfx >= 0)
            owner = f;
    }
    if (!owner && created && is_parent(f, name.p, name.n - 8)) {
        owner = f;
        sfx = KVS_PROM_SFX_CREATED;
    }
    if (!owner) {
        if ((r = open_family(p, name.p, name.n)))
            return r;
        f = cur_fam(p);
        if (f->companion) {
            owner = prev_fam(p);
            f->nsamples++;
        } else {
            owner = f;
        }
        sfx = created ? KVS_PROM_SFX_CREATED : KVS_PROM_SFX_NONE;
    }
    if (sfx == KVS_PROM_SFX_CREATED)
        created = true;
    smp.suffix = (kvs_prom_suffix)sfx;
    smp.created = created;
    smp.family = &owner->pub;
    if (p->strict && (why = strict_check(owner, sfx, &smp)))
        return reject(p, 0, why);
    if (!owner->emitted && !owner->companion && (r = emit_family(p, owner)))
        return r;
    owner->nsamples++;
    p->st.samples++;
    return p->h.sample ? p->h.sample(p->h.ctx, &smp) : 0;
}

/* ---- lines ----------------------------------------------------------- */

static int do_line(kvs_prom_parser *p, const char *s, size_t n, size_t full)
{
    p->lineno++;
    p->st.lines++;
    p->ln = s;
    p->ln_len = n;
    if (full > p->opt.max_line)
        return reject(p, p->opt.max_line, "line longer than max_line");
    if (n && s[n - 1] == '\r') {
        if (p->strict)
            return reject(p, n - 1, "carriage return before end of line");
        n--;
        p->ln_len = n;
    }
    size_t m = n;
    while (m && is_ws((unsigned char)s[m - 1]))
        m--;
    if (m != n && p->strict)
        return reject(p, m, "trailing whitespace");
    n = m;
    size_t i = 0;
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    if (i == n)
        return p->strict ? reject(p, 0, "empty line") : 0;
    if (i && p->strict)
        return reject(p, 0, "leading whitespace");
    if (p->eof_seen) {
        if (p->strict)
            return reject(p, 0, "content after # EOF");
        p->eof_seen = false;
    }
    if (RESERVE(p, p->scratch, p->scratch_cap, n + 1))
        return KVS_E_NOMEM;
    p->scratch_len = 0;
    return s[i] == '#' ? comment_line(p, s, n, i) : sample_line(p, s, n, i);
}

static int pend_append(kvs_prom_parser *p, const char *s, size_t n)
{
    p->pend_total += n;
    size_t room = p->opt.max_line - p->pend_len;
    size_t take = n < room ? n : room;
    if (take) {
        if (RESERVE(p, p->pend, p->pend_cap, p->pend_len + take))
            return KVS_E_NOMEM;
        memcpy(p->pend + p->pend_len, s, take);
        p->pend_len += take;
    }
    return 0;
}

int kvs_prom_feed(kvs_prom_parser *p, const void *data, size_t len)
{
    if (p->err)
        return p->err;
    const char *s = data, *e = s + len;
    int r = 0;
    p->st.bytes += len;
    if (p->pend_total && len) {
        const char *nl = memchr(s, '\n', len);
        size_t take = nl ? (size_t)(nl - s) : len;
        if ((r = pend_append(p, s, take)))
            return p->err = r;
        if (!nl)
            return 0;
        r = do_line(p, p->pend, p->pend_len, p->pend_total);
        p->pend_len = p->pend_total = 0;
        if (r)
            return p->err = r;
        s = nl + 1;
    }
    while (s < e) {
        const char *nl = memchr(s, '\n', (size_t)(e - s));
        if (!nl) {
            if ((r = pend_append(p, s, (size_t)(e - s))))
                return p->err = r;
            break;
        }
        if ((r = do_line(p, s, (size_t)(nl - s), (size_t)(nl - s))))
            return p->err = r;
        s = nl + 1;
    }
    return 0;
}

int kvs_prom_finish(kvs_prom_parser *p)
{
    if (p->err)
        return p->err;
    int r = 0;
    if (p->pend_total) {
        r = do_line(p, p->pend, p->pend_len, p->pend_total);
        p->pend_len = p->pend_total = 0;
        if (r)
            return p->err = r;
    }
    if ((r = close_family(p)))
        return p->err = r;
    p->st.openmetrics = p->om;
    p->st.eof_seen = p->eof_seen;
    if (p->strict && !p->eof_seen) {
        p->lineno++;
        p->ln = "";
        p->ln_len = 0;
        if ((r = reject(p, 0, "missing # EOF at end of OpenMetrics exposition")))
            return p->err = r;
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------- */

void kvs_prom_reset(kvs_prom_parser *p)
{
    size_t mem = p->st.mem_bytes, peak = p->st.mem_peak;
    p->st = (kvs_prom_stats){.mem_bytes = mem, .mem_peak = peak};
    p->strict = p->opt.mode == KVS_PROM_MODE_OPENMETRICS;
    p->om = p->strict;
    p->pinned = p->opt.mode != KVS_PROM_MODE_AUTO;
    if (p->opt.mode == KVS_PROM_MODE_AUTO && p->opt.content_type) {
        const char *ct = p->opt.content_type;
        while (*ct == ' ')
            ct++;
        if (strncmp(ct, "application/openmetrics-text", 28) == 0) {
            p->om = true;
            p->pinned = true;
        } else if (strncmp(ct, "text/plain", 10) == 0) {
            p->pinned = true;
        }
    }
    p->pend_len = p->pend_total = 0;
    for (int i = 0; i < 2; i++) {
        p->fam[i].active = false;
        p->fam[i].emitted = false;
        p->fam[i].companion = false;
    }
    p->cur = 0;
    p->lineno = 0;
    p->eof_seen = false;
    p->err = 0;
    p->st.openmetrics = p->om;
}

kvs_prom_parser *kvs_prom_new(const kvs_prom_options *opts, const kvs_prom_handler *h)
{
    kvs_prom_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (opts)
        p->opt = *opts;
    if (!p->opt.max_line)
        p->opt.max_line = DEFAULT_MAX_LINE;
    if (h)
        p->h = *h;
    p->st.mem_bytes = p->st.mem_peak = sizeof *p;
    kvs_prom_reset(p);
    return p;
}

void kvs_prom_free(kvs_prom_parser *p)
{
    if (!p)
        return;
    free(p->pend);
    free(p->scratch);
    free(p->labels);
    free(p->xlabels);
    free(p->sorted);
    for (int i = 0; i < 2; i++) {
        free(p->fam[i].name);
        free(p->fam[i].help);
        free(p->fam[i].unit);
    }
    free(p);
}

const kvs_prom_stats *kvs_prom_get_stats(const kvs_prom_parser *p)
{
    return &p->st;
}

int kvs_prom_parse(const void *data, size_t len, const kvs_prom_options *opts, const kvs_prom_handler *h,
                   kvs_prom_stats *stats_out)
{
    kvs_prom_parser *p = kvs_prom_new(opts, h);
    if (!p)
        return KVS_E_NOMEM;
    int r = kvs_prom_feed(p, data, len);
    if (!r)
        r = kvs_prom_finish(p);
    if (stats_out)
        *stats_out = p->st;
    kvs_prom_free(p);
    return r;
}
