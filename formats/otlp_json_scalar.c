/* Scalar text for OTLP/JSON, both ways: JSON numbers to exact integers and
 * correctly rounded doubles, doubles to their shortest round-tripping text,
 * hex ids, base64, UTF-8 well-formedness. Pure functions, no allocation. */
#include "formats/otlp_json_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON number split into its parts: [-] int_p[int_n] [. frac_p[frac_n]] [e exp] */
typedef struct jnum {
    int neg;
    const char *int_p, *frac_p;
    size_t int_n, frac_n;
    long exp;
} jnum;

/* 0 when s[0..n) is exactly a JSON number (RFC 8259 grammar). */
static int split_num(const char *s, size_t n, jnum *j)
{
    size_t i = 0;
    memset(j, 0, sizeof *j);
    if (i < n && s[i] == '-')
        j->neg = 1, i++;
    j->int_p = s + i;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    j->int_n = (size_t)(s + i - j->int_p);
    if (!j->int_n)
        return -1;
    if (i < n && s[i] == '.') {
        j->frac_p = s + ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        j->frac_n = (size_t)(s + i - j->frac_p);
        if (!j->frac_n)
            return -1;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t d0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        d0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (j->exp < 100000)
                j->exp = j->exp * 10 + (s[i] - '0');
            i++;
        }
        if (i == d0)
            return -1;
        if (eneg)
            j->exp = -j->exp;
    }
    return i == n ? 0 : -1;
}

/* Digit k of the significand int_p ++ frac_p. */
static int jdigit(const jnum *j, size_t k)
{
    return (k < j->int_n ? j->int_p[k] : j->frac_p[k - j->int_n]) - '0';
}

int kvs_ojson_parse_int(const char *s, size_t n, int *neg, uint64_t *mag)
{
    size_t i = 0;
    uint64_t v = 0;
    *neg = 0;
    if (n && s[0] == '-')
        *neg = 1, i = 1;
    /* Fast path: plain digits. */
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 19)
        v = v * 10 + (uint64_t)(s[i++] - '0');
    if (i == n && i > d0 && (s[d0] != '0' || i - d0 == 1)) {
        *mag = v;
        return KVS_OJ_NUM_OK;
    }
    jnum j;
    if (split_num(s, n, &j) != 0)
        return KVS_OJ_NUM_SYNTAX;
    size_t nd = j.int_n + j.frac_n, first = 0, last = nd;
    while (first < nd && jdigit(&j, first) == 0)
        first++;
    if (first == nd) {
        *mag = 0;
        return KVS_OJ_NUM_OK;
    }
    while (jdigit(&j, last - 1) == 0)
        last--;
    /* value = digits[first..last) * 10^e */
    long e = j.exp - (long)j.frac_n + (long)(nd - last);
    if (e < 0)
        return KVS_OJ_NUM_FRACTION;
    if ((long)(last - first) + e > 20)
        return KVS_OJ_NUM_RANGE;
    v = 0;
    for (size_t k = first; k < last + (size_t)e; k++) {
        unsigned dg = k < last ? (unsigned)jdigit(&j, k) : 0;
        if (v > (UINT64_MAX - dg) / 10)
            return KVS_OJ_NUM_RANGE;
        v = v * 10 + dg;
    }
    *mag = v;
    return KVS_OJ_NUM_OK;
}

static const double k_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int kvs_ojson_parse_double(const char *s, size_t n, char *scratch, double *out)
{
    jnum j;
    if (split_num(s, n, &j) != 0)
        return KVS_OJ_NUM_SYNTAX;
    uint64_t m = 0;
    size_t sig = 0, nd = j.int_n + j.frac_n;
    for (size_t k = 0; k < nd; k++) {
        int dg = jdigit(&j, k);
        if (m || dg)
            sig++;
        m = m * 10 + (uint64_t)dg;
        if (sig > 19)
            break;
    }
    long e = j.exp - (long)j.frac_n;
    if (sig <= 19 && m <= (1ull << 53) && e >= -22 && e <= 22) {
        double v = (double)m;
        v = e >= 0 ? v * k_pow10[e] : v / k_pow10[-e];
        *out = j.neg ? -v : v;
        return KVS_OJ_NUM_OK;
    }
    char small[KVS_OJ_NUM_INLINE], *z = n < sizeof small ? small : scratch;
    memcpy(z, s, n);
    z[n] = 0;
    double v = strtod(z, NULL);
    if (isinf(v))
        return KVS_OJ_NUM_RANGE;
    *out = v;
    return KVS_OJ_NUM_OK;
}

static inline int b64val(unsigned c)
{
    if (c - 'A' < 26) return (int)(c - 'A');
    if (c - 'a' < 26) return (int)(c - 'a' + 26);
    if (c - '0' < 10) return (int)(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static const int8_t k_hexval[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

size_t kvs_ojson_hex_decode(const unsigned char *s, size_t nbytes, uint8_t *out)
{
    int bad = 0;
    for (size_t i = 0; i < nbytes; i++) {
        int hi = k_hexval[s[2 * i]], lo = k_hexval[s[2 * i + 1]];
        bad |= hi | lo;
        out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
    }
    if (bad >= 0)
        return KVS_OJ_OK_POS;
    for (size_t i = 0; i < 2 * nbytes; i++)
        if (k_hexval[s[i]] < 0)
            return i;
    return KVS_OJ_OK_POS;
}

size_t kvs_ojson_b64_decode(const unsigned char *s, size_t n, uint8_t *out, size_t *out_len)
{
    size_t full = n;
    while (n && s[n - 1] == '=' && full - n < 2)
        n--;
    if ((n != full && (full & 3)) || (n & 3) == 1)
        return n;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return i;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return KVS_OJ_OK_POS;
}

/* ---- values to text ---------------------------------------------------- */

__extension__ typedef unsigned __int128 u128;

static const uint64_t k_p10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

static const double k_dp10[16] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

static const double k_dnp10[8] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};

/* m * 10^-k as plain decimal text ("0.000123", "49.5", "7"); k <= 22. */
static size_t fmt_fixed(char *o, uint64_t m, int k)
{
    char dg[20];
    int L = 0;
    while (m % 10 == 0 && k > 0)
        m /= 10, k--;
    do {
        dg[19 - L++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    const char *d = dg + 20 - L;
    size_t n = 0;
    if (L > k) {
        memcpy(o, d, (size_t)(L - k));
        n = (size_t)(L - k);
        if (k) {
            o[n++] = '.';
            memcpy(o + n, d + L - k, (size_t)k);
            n += (size_t)k;
        }
    } else {
        o[n++] = '0';
        o[n++] = '.';
        memset(o + n, '0', (size_t)(k - L));
        n += (size_t)(k - L);
        memcpy(o + n, d, (size_t)L);
        n += (size_t)L;
    }
    return n;
}

/* For 1e-6 <= v < 1e15: the nearest decimal of 15, then 16, then 17
 * significant digits that reads back as v, decided exactly in 128-bit
 * integer arithmetic (v = f / 2^s, so v * 10^k = f * 10^k / 2^s). With 15
 * digits at most one candidate can read back, so trimming its zeros gives
 * the shortest. Returns the length, or 0 when v is outside that range. */
static size_t fmt_shortest(char *o, double v)
{
    if (!(v >= 1e-6 && v < 1e15))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t f = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int s = 1075 - (int)(bits >> 52 & 0x7ff);    /* 3..72 in this range */
    int e10 = 0;                                   /* 10^e10 <= v < 10^(e10+1) */
    if (v >= 1) {
        while (e10 < 15 && v >= k_dp10[e10 + 1])
            e10++;
    } else {
        e10 = -1;
        while (e10 > -7 && v < k_dnp10[-e10])
            e10--;
    }
    for (int p = 15; p <= 17; p++) {
        int k = p - 1 - e10;
        if (k < 0 || k > 22)
            continue;
        u128 p10 = k <= 19 ? (u128)k_p10[k] : (u128)k_p10[19] * k_p10[k - 19];
        u128 x = (u128)f * p10;
        u128 one = (u128)1 << s, rem = x & (one - 1), q = x >> s, m = q, diff = rem;
        if (rem > one / 2 || (rem == one / 2 && (q & 1)))
            m = q + 1, diff = one - rem;
        /* |m / 10^k - v| = diff / (10^k * 2^s): reads back as v when within
         * half a gap to the neighbouring double (ties go to even f); the gap
         * below a power of two is half as wide. */
        u128 twice = diff << 1;
        if (m == q && rem && f == (1ull << 52))
            twice <<= 1;
        if ((twice < p10 || (twice == p10 && !(f & 1))) && m < ((u128)1 << 64))
            return fmt_fixed(o, (uint64_t)m, k);
    }
    return 0;
}

size_t kvs_ojson_format_double(char *out, double v)
{
    char *o = out;
    if (isnan(v)) {
        memcpy(out, "\"NaN\"", 5);
        return 5;
    }
    if (isinf(v)) {
        if (v > 0) {
            memcpy(out, "\"Infinity\"", 10);
            return 10;
        }
        memcpy(out, "\"-Infinity\"", 11);
        return 11;
    }
    if (signbit(v))
        *o++ = '-';
    v = fabs(v);
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v) {
        uint64_t u = (uint64_t)v;
        char dg[20];
        int L = 0;
        do {
            dg[19 - L++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        memcpy(o, dg + 20 - L, (size_t)L);
        return (size_t)(o - out) + (size_t)L;
    }
    size_t n = fmt_shortest(o, v);
    if (n)
        return (size_t)(o - out) + n;
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(o, KVS_OJ_DOUBLE_MAX - 1, "%.*g", prec, v);
        if (prec == 17 || strtod(o, NULL) == v)
            break;
    }
    return (size_t)(o - out) + (size_t)len;
}

size_t kvs_ojson_b64_encode(const uint8_t *p, size_t n, char *out)
{
    static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = k_b64[v >> 18];
        *o++ = k_b64[(v >> 12) & 63];
        *o++ = k_b64[(v >> 6) & 63];
        *o++ = k_b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = k_b64[v >> 18];
        *o++ = k_b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = k_b64[v >> 18];
        *o++ = k_b64[(v >> 12) & 63];
        *o++ = k_b64[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}
