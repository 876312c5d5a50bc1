/* Scanning for the Prometheus text parser: quoted strings and label sets
 * (zero-copy unless a string has escapes), and numbers: floats with an exact fast
 * path (Clinger: mantissa <= 2^53 and |exp10| <= 22 gives the correctly
 * rounded result with one multiplication or division), strtod otherwise;
 * timestamps as 0.0.4 integer milliseconds or OpenMetrics seconds (exact
 * decimal to nanoseconds when there is no exponent). */
#include "formats/prom_text.h"
#include "formats/prom_text_int.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != lit[i])
            return false;
    return true;
}

static int slow_float(const char *s, size_t n, double *out)
{
    char buf[512];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (end != buf + n)
        return -1;
    *out = d;
    return 0;
}

int kvs_prom_parse_float(const char *s, size_t n, double *out)
{
    if (n == 0)
        return -1;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    unsigned char c0 = (unsigned char)s[i];
    if (c0 != '.' && (c0 < '0' || c0 > '9')) {
        /* Go's ParseFloat: [+-]inf, [+-]infinity, nan; any case. */
        if (ieq(s + i, n - i, "inf") || ieq(s + i, n - i, "infinity")) {
            *out = neg ? -INFINITY : INFINITY;
            return 0;
        }
        if (i == 0 && ieq(s, n, "nan")) {
            *out = NAN;
            return 0;
        }
        return -1;
    }
    uint64_t mant = 0;
    int ndig = 0, exp10 = 0;
    bool any = false, slow = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        any = true;
        if (ndig < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant)
                ndig++;
        } else {
            slow = true;
        }
        i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            any = true;
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant)
                    ndig++;
                exp10--;
            } else {
                slow = true;
            }
            i++;
        }
    }
    if (!any)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i == n)
            return -1;
        int e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
            i++;
        }
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return -1;
    if (!slow) {
        if (mant == 0) {
            *out = neg ? -0.0 : 0.0;
            return 0;
        }
        if (mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
            double d = (double)mant;
            d = exp10 < 0 ? d / pow10_tab[-exp10] : d * pow10_tab[exp10];
            *out = neg ? -d : d;
            return 0;
        }
    }
    return slow_float(s, n, out);
}

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

int kvs_prom__ts_ms(const char *s, size_t n, int64_t *ns)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (INT64_MAX / NS_PER_MS) / 10)
            return -2;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT64_MAX / NS_PER_MS)
        return -2;
    *ns = (neg ? -v : v) * NS_PER_MS;
    return 0;
}

int kvs_prom__ts_seconds(const char *s, size_t n, int64_t *ns)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    int64_t sec = 0, frac = 0;
    int fd = 0;
    bool any = false, exact = true;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (sec > INT64_MAX / NS_PER_S)
            return -2;
        sec = sec * 10 + (s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (fd < 9) {
                frac = frac * 10 + (s[i] - '0');
                fd++;
            }
        }
    }
    if (i != n)
        exact = false;
    if (exact) {
        if (!any)
            return -1;
        while (fd < 9) {
            frac *= 10;
            fd++;
        }
        if (sec > (INT64_MAX - frac) / NS_PER_S)
            return -2;
        int64_t v = sec * NS_PER_S + frac;
        *ns = neg ? -v : v;
        return 0;
    }
    double d;
    if (kvs_prom_parse_float(s, n, &d) != 0 || isnan(d))
        return -1;
    if (!(fabs(d) < 9.2e9))
        return -2;
    *ns = (int64_t)llround(d * 1e9);
    return 0;
}

const unsigned char kvs_prom__cls[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     8,  0, 16,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  6,  0,  0,  0,  0,  0,
     0,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  0, 16,  0,  0,  7,
     0,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

/* ---- memory ---------------------------------------------------------- */

void kvs_prom__account(kvs_prom_parser *p, size_t old_cap, size_t new_cap)
{
    p->st.mem_bytes += new_cap - old_cap;
    if (p->st.mem_bytes > p->st.mem_peak)
        p->st.mem_peak = p->st.mem_bytes;
}

void *kvs_prom__grow(kvs_prom_parser *p, void *buf, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return buf;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *nb = realloc(buf, n * el);
    if (!nb)
        return buf;
    kvs_prom__account(p, *cap * el, n * el);
    *cap = n;
    return nb;
}

/* ---- quoted strings and labels --------------------------------------- */

/* s[*pos] is just past an opening quote. Unescapes into scratch when the
 * string has a backslash; otherwise points into the line. */
int kvs_prom__scan_quoted(kvs_prom_parser *p, const char *s, size_t n, size_t *pos, kvs_prom_str *out,
                       const char **why)
{
    const char *b = s + *pos, *e = s + n, *q = b;
    while (q < e && !(kvs_prom__cls[(unsigned char)*q] & C_QUOTE))
        q++;
    if (q == e) {
        *why = "unterminated quoted string";
        *pos = n;
        return -1;
    }
    if (*q == '"') {
        *out = (kvs_prom_str){b, (size_t)(q - b)};
        *pos = (size_t)(q - s) + 1;
        return 0;
    }
    char *d0 = p->scratch + p->scratch_len, *d = d0;
    const char *c = b;
    while (c < e && *c != '"') {
        if (*c != '\\') {
            *d++ = *c++;
            continue;
        }
        if (c + 1 >= e)
            break;
        char x = c[1];
        if (x == 'n') {
            *d++ = '\n';
        } else if (x == '\\' || x == '"') {
            *d++ = x;
        } else if (p->strict) {
            *why = "invalid escape sequence (only \\\\, \\\" and \\n)";
            *pos = (size_t)(c - s);
            return -1;
        } else {
            *d++ = '\\';
            *d++ = x;
        }
        c += 2;
    }
    if (c >= e) {
        *why = "unterminated quoted string";
        *pos = n;
        return -1;
    }
    *out = (kvs_prom_str){d0, (size_t)(d - d0)};
    p->scratch_len += (size_t)(d - d0);
    *pos = (size_t)(c - s) + 1;
    return 0;
}

/* Parses `{...}` at s[*pos]. With qname != NULL a bare quoted string as an
 * item names the metric (Prometheus 3 text). Fills *arr and *cnt. Returns 0,
 * -1 with *why and *pos set, or KVS_E_NOMEM. */
int kvs_prom__parse_labels(kvs_prom_parser *p, const char *s, size_t n, size_t *pos, kvs_prom_label **arr,
                        size_t *cap, size_t *cnt, kvs_prom_str *qname, const char **why)
{
    size_t j = *pos + 1, k = 0;
    bool comma = false, need_sep = false;
    for (;;) {
        if (!p->strict)
            j = kvs_prom__skip_ws(s, n, j);
        if (j >= n) {
            *why = "unterminated label set";
            *pos = j;
            return -1;
        }
        if (s[j] == '}') {
            if (comma && p->strict) {
                *why = "trailing comma in label set";
                *pos = j;
                return -1;
            }
            j++;
            break;
        }
        if (need_sep) {
            *why = "expected ',' or '}' in label set";
            *pos = j;
            return -1;
        }
        kvs_prom_str name;
        bool is_metric_name = false;
        if (s[j] == '"' && !p->strict) {
            j++;
            if (kvs_prom__scan_quoted(p, s, n, &j, &name, why)) {
                *pos = j;
                return -1;
            }
            size_t t = kvs_prom__skip_ws(s, n, j);
            if (qname && t < n && (s[t] == ',' || s[t] == '}')) {
                if (qname->p) {
                    *why = "metric name given twice";
                    *pos = t;
                    return -1;
                }
                *qname = name;
                is_metric_name = true;
                j = t;
            }
        } else {
            if (!is_alpha_((unsigned char)s[j])) {
                *why = s[j] == '"' ? "quoted label names are not OpenMetrics 1.0" : "invalid label name";
                *pos = j;
                return -1;
            }
            size_t b = j;
            while (j < n && is_lname((unsigned char)s[j]))
                j++;
            name = (kvs_prom_str){s + b, j - b};
        }
        if (!is_metric_name) {
            if (!p->strict)
                j = kvs_prom__skip_ws(s, n, j);
            if (j >= n || s[j] != '=') {
                *why = "expected '=' after label name";
                *pos = j;
                return -1;
            }
            j++;
            if (!p->strict)
                j = kvs_prom__skip_ws(s, n, j);
            if (j >= n || s[j] != '"') {
                *why = "expected '\"' to open label value";
                *pos = j;
                return -1;
            }
            j++;
            kvs_prom_str val;
            if (kvs_prom__scan_quoted(p, s, n, &j, &val, why)) {
                *pos = j;
                return -1;
            }
            if (k == *cap) {
                *arr = kvs_prom__grow(p, *arr, cap, k + 1, sizeof **arr);
                if (k == *cap)
                    return KVS_E_NOMEM;
            }
            (*arr)[k++] = (kvs_prom_label){name, val};
        }
        if (!p->strict)
            j = kvs_prom__skip_ws(s, n, j);
        comma = j < n && s[j] == ',';
        if (comma)
            j++;
        need_sep = !comma;
    }
    *pos = j;
    *cnt = k;
    return 0;
}

static int cmp_label(const void *a, const void *b)
{
    const kvs_prom_label *x = a, *y = b;
    size_t m = x->name.n < y->name.n ? x->name.n : y->name.n;
    int c = memcmp(x->name.p, y->name.p, m);
    return c ? c : (x->name.n > y->name.n) - (x->name.n < y->name.n);
}

/* 1 when two labels share a name, 0 when not, <0 on OOM. */
int kvs_prom__has_dup(kvs_prom_parser *p, const kvs_prom_label *l, size_t k)
{
    if (k <= 16) {
        for (size_t i = 1; i < k; i++)
            for (size_t j = 0; j < i; j++)
                if (l[i].name.n == l[j].name.n && memcmp(l[i].name.p, l[j].name.p, l[i].name.n) == 0)
                    return 1;
        return 0;
    }
    if (RESERVE(p, p->sorted, p->sorted_cap, k))
        return KVS_E_NOMEM;
    memcpy(p->sorted, l, k * sizeof *l);
    qsort(p->sorted, k, sizeof *l, cmp_label);
    for (size_t i = 1; i < k; i++)
        if (cmp_label(&p->sorted[i - 1], &p->sorted[i]) == 0)
            return 1;
    return 0;
}

