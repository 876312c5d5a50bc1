/* Typed accessors over the configuration tree (core/config.h): lookups,
 * key checks with "did you mean", strings, booleans (true/false in any of
 * the YAML 1.2 core spellings true/True/TRUE), integers and floats with
 * range checks, Collector-style durations, string lists and enums. A value
 * written in quotes is a string: never a boolean or a number. An explicit
 * null (`key:`, `~`, `null`) reads as absent: the default applies. */
#include "core/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kvs_cfg_errorf(kvs_error *err, const kvs_cfg_node *at, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!at)
        return kvs_errorf(err, KVS_E_INVALID, "%s", msg);
    if (at->path && *at->path)
        return kvs_errorf(err, KVS_E_INVALID, "%s:%d:%d: %s: %s", at->file, at->line, at->col, at->path, msg);
    return kvs_errorf(err, KVS_E_INVALID, "%s:%d:%d: %s", at->file, at->line, at->col, msg);
}

/* "a map", "a sequence", "null", "a quoted string \"x\"", "\"x\"". */
static const char *describe(const kvs_cfg_node *n, char *buf, size_t len)
{
    switch (n->type) {
    case KVS_CFG_MAP: return "a map";
    case KVS_CFG_SEQ: return "a sequence";
    case KVS_CFG_NULL: return "null";
    case KVS_CFG_SCALAR: break;
    }
    if (!*n->scalar)
        snprintf(buf, len, "an empty %s", n->quoted ? "quoted string" : "value");
    else
        snprintf(buf, len, "%s\"%.60s%s\"", n->quoted ? "a quoted string " : "", n->scalar,
                 strlen(n->scalar) > 60 ? "..." : "");
    return buf;
}

static int wrong_type(kvs_error *err, const kvs_cfg_node *n, const char *expected, const char *hint)
{
    char buf[100];
    return kvs_cfg_errorf(err, n, "expected %s, got %s%s", expected, describe(n, buf, sizeof buf), hint ? hint : "");
}

static int is_absent(const kvs_cfg_node *n) { return !n || n->type == KVS_CFG_NULL; }

const kvs_cfg_node *kvs_cfg_key(const kvs_cfg_node *map, const char *key)
{
    if (!map || map->type != KVS_CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->keys[i];
    return NULL;
}

const kvs_cfg_node *kvs_cfg_get(const kvs_cfg_node *map, const char *key)
{
    if (!map || map->type != KVS_CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->items[i];
    return NULL;
}

int kvs_cfg_expect_map(const kvs_cfg_node *node, kvs_error *err)
{
    if (is_absent(node) || node->type == KVS_CFG_MAP)
        return 0;
    return wrong_type(err, node, "a map", NULL);
}

/* Optimal string alignment distance (edits and adjacent swaps), capped. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *kvs_cfg_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = 3;
    size_t wl = strlen(word);
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d && d < wl && d < strlen(candidates[i])) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* " (did you mean \"x\"?)" or " (expected one of: a, b, c)" when short. */
static void hint_for(const char *word, const char *const *allowed, char *buf, size_t len)
{
    buf[0] = 0;
    const char *s = kvs_cfg_suggest(word, allowed);
    if (s) {
        snprintf(buf, len, " (did you mean \"%s\"?)", s);
        return;
    }
    size_t need = 0, n = 0;
    for (; allowed && allowed[n]; n++)
        need += strlen(allowed[n]) + 2;
    if (n == 0 || need + 24 > len || need > 160)
        return;
    size_t off = (size_t)snprintf(buf, len, " (expected one of: ");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", allowed[i]);
    snprintf(buf + off, len - off, ")");
}

int kvs_cfg_check_keys(const kvs_cfg_node *map, const char *const *allowed, kvs_error *err)
{
    if (is_absent(map))
        return 0;
    if (map->type != KVS_CFG_MAP)
        return kvs_cfg_expect_map(map, err);
    for (size_t i = 0; i < map->n; i++) {
        const kvs_cfg_node *k = map->keys[i];
        int ok = 0;
        for (size_t j = 0; allowed && allowed[j] && !ok; j++)
            ok = strcmp(k->scalar, allowed[j]) == 0;
        if (ok)
            continue;
        char hint[200];
        hint_for(k->scalar, allowed, hint, sizeof hint);
        /* Position of the key, path of the map it is in. */
        kvs_cfg_node at = *k;
        at.path = map->path;
        return kvs_cfg_errorf(err, &at, "unknown key \"%.100s\"%s", k->scalar, hint);
    }
    return 0;
}

int kvs_cfg_str(const kvs_cfg_node *map, const char *key, const char *def, const char **out, kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out = def;
        return 0;
    }
    if (n->type != KVS_CFG_SCALAR)
        return wrong_type(err, n, "a string", NULL);
    *out = n->scalar;
    return 0;
}

int kvs_cfg_bool(const kvs_cfg_node *map, const char *key, int def, int *out, kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out = def;
        return 0;
    }
    static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False", "FALSE" };
    if (n->type == KVS_CFG_SCALAR) {
        for (int i = 0; i < 3; i++) {
            int is_t = strcmp(n->scalar, t[i]) == 0, is_f = strcmp(n->scalar, f[i]) == 0;
            if ((is_t || is_f) && n->quoted)
                return wrong_type(err, n, "true or false", " (remove the quotes)");
            if (is_t || is_f) {
                *out = is_t;
                return 0;
            }
        }
    }
    return wrong_type(err, n, "true or false", NULL);
}

/* Decimal, 0x hex or 0o octal, with an optional sign. */
static int parse_i64(const char *s, int64_t *out)
{
    int neg = 0, base = 10;
    const char *p = s;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    if (!*p)
        return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return -1;
        if (d >= base)
            return -1;
        if (v > (lim - (uint64_t)d) / (uint64_t)base)
            return -2;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

int kvs_cfg_i64(const kvs_cfg_node *map, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out,
                kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out = def;
        return 0;
    }
    if (n->type != KVS_CFG_SCALAR)
        return wrong_type(err, n, "an integer", NULL);
    int64_t v;
    int rc = parse_i64(n->scalar, &v);
    if (n->quoted)
        return wrong_type(err, n, "an integer", rc == 0 ? " (remove the quotes)" : NULL);
    if (rc == -2)
        return kvs_cfg_errorf(err, n, "integer %.40s does not fit in 64 bits", n->scalar);
    if (rc)
        return wrong_type(err, n, "an integer", NULL);
    if (v < min || v > max) {
        if (max == INT64_MAX)
            return kvs_cfg_errorf(err, n, "must be at least %lld, got %lld", (long long)min, (long long)v);
        if (min == INT64_MIN)
            return kvs_cfg_errorf(err, n, "must be at most %lld, got %lld", (long long)max, (long long)v);
        return kvs_cfg_errorf(err, n, "must be between %lld and %lld, got %lld", (long long)min, (long long)max,
                              (long long)v);
    }
    *out = v;
    return 0;
}

int kvs_cfg_f64(const kvs_cfg_node *map, const char *key, double def, double min, double max, double *out,
                kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out = def;
        return 0;
    }
    if (n->type != KVS_CFG_SCALAR)
        return wrong_type(err, n, "a number", NULL);
    const char *s = n->scalar;
    int ok = *s != 0, digits = 0;
    for (const char *p = s; *p && ok; p++) {
        if (*p >= '0' && *p <= '9')
            digits = 1;
        else if (!strchr("+-.eE", *p))
            ok = 0;
    }
    double v = 0;
    if (ok && digits) {
        char *end;
        errno = 0;
        v = strtod(s, &end);
        ok = *end == 0 && isfinite(v) && errno != ERANGE;
    } else {
        ok = 0;
    }
    if (n->quoted)
        return wrong_type(err, n, "a number", ok ? " (remove the quotes)" : NULL);
    if (!ok)
        return wrong_type(err, n, "a number", NULL);
    if (!(v >= min && v <= max))
        return kvs_cfg_errorf(err, n, "must be between %g and %g, got %g", min, max, v);
    *out = v;
    return 0;
}

/* Go's time.ParseDuration, without negative values. */
int kvs_parse_duration(const char *s, uint64_t *out_ns)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        { "ns", 1 },
        { "us", 1000 },
        { "\xc2\xb5s", 1000 },  /* U+00B5 micro sign */
        { "\xce\xbcs", 1000 },  /* U+03BC Greek mu */
        { "ms", 1000000 },
        { "s", 1000000000ull },
        { "m", 60ull * 1000000000ull },
        { "h", 3600ull * 1000000000ull },
    };
    if (!s || !*s)
        return KVS_E_INVALID;
    const char *p = s;
    if (*p == '+')
        p++;
    if (strcmp(p, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    if (!*p)
        return KVS_E_INVALID;
    uint64_t total = 0;
    while (*p) {
        uint64_t ip = 0, frac = 0;
        double scale = 1;
        int any = 0;
        for (; *p >= '0' && *p <= '9'; p++, any = 1) {
            if (ip > (UINT64_MAX - 9) / 10)
                return KVS_E_INVALID;
            ip = ip * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            p++;
            for (; *p >= '0' && *p <= '9'; p++, any = 1)
                if (scale < 1e18) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
        }
        if (!any)
            return KVS_E_INVALID;
        const char *u = p;
        while (*p && !(*p >= '0' && *p <= '9') && *p != '.')
            p++;
        size_t ulen = (size_t)(p - u);
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
                unit = units[i].ns;
        if (!unit)
            return KVS_E_INVALID;
        if (ip > UINT64_MAX / unit)
            return KVS_E_INVALID;
        uint64_t v = ip * unit;
        if (frac) {
            double f = (double)frac * ((double)unit / scale);
            if (f >= 18446744073709551616.0 || v > UINT64_MAX - (uint64_t)f)
                return KVS_E_INVALID;
            v += (uint64_t)f;
        }
        if (total > UINT64_MAX - v)
            return KVS_E_INVALID;
        total += v;
    }
    *out_ns = total;
    return 0;
}

int kvs_cfg_duration(const kvs_cfg_node *map, const char *key, uint64_t def_ns, uint64_t *out_ns, kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out_ns = def_ns;
        return 0;
    }
    if (n->type != KVS_CFG_SCALAR)
        return wrong_type(err, n, "a duration (e.g. 5s)", NULL);
    if (kvs_parse_duration(n->scalar, out_ns) == 0)
        return 0;
    const char *s = n->scalar;
    size_t i = *s == '+' || *s == '-' ? 1 : 0, digits = 0;
    for (; s[i] && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); i++)
        digits += s[i] != '.';
    if (!s[i] && digits)
        return kvs_cfg_errorf(err, n, "duration needs a unit (e.g. 5s), got \"%.40s\"", s);
    if (*s == '-')
        return kvs_cfg_errorf(err, n, "duration cannot be negative, got \"%.40s\"", s);
    return kvs_cfg_errorf(err, n,
                          "invalid duration \"%.40s\" (expected e.g. 200ms, 5s, 1m30s, 1h; units ns, us, ms, s, m, h)",
                          s);
}

int kvs_cfg_strlist(const kvs_cfg_node *map, const char *key, const char ***out, size_t *n, kvs_error *err)
{
    const kvs_cfg_node *v = kvs_cfg_get(map, key);
    *out = NULL;
    *n = 0;
    if (is_absent(v))
        return 0;
    if (v->type == KVS_CFG_MAP)
        return wrong_type(err, v, "a string or a list of strings", NULL);
    size_t cnt = v->type == KVS_CFG_SCALAR ? 1 : v->n;
    if (cnt == 0)
        return 0;
    for (size_t i = 0; v->type == KVS_CFG_SEQ && i < cnt; i++)
        if (v->items[i]->type != KVS_CFG_SCALAR)
            return wrong_type(err, v->items[i], "a string", NULL);
    const char **list = malloc(cnt * sizeof *list);
    if (!list)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++)
        list[i] = v->type == KVS_CFG_SCALAR ? v->scalar : v->items[i]->scalar;
    *out = list;
    *n = cnt;
    return 0;
}

int kvs_cfg_enum(const kvs_cfg_node *map, const char *key, const char *const *values, int def, int *out,
                 kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    if (is_absent(n)) {
        *out = def;
        return 0;
    }
    char list[240];
    size_t off = 0;
    list[0] = 0;
    for (int i = 0; values[i]; i++) {
        if (n->type == KVS_CFG_SCALAR && strcmp(n->scalar, values[i]) == 0) {
            *out = i;
            return 0;
        }
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", values[i]);
    }
    char buf[100], hint[120] = "";
    const char *s = n->type == KVS_CFG_SCALAR ? kvs_cfg_suggest(n->scalar, values) : NULL;
    if (s)
        snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", s);
    return kvs_cfg_errorf(err, n, "must be one of %s; got %s%s", list, describe(n, buf, sizeof buf), hint);
}
