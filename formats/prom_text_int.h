/* Internal to the Prometheus text parser (formats/prom_text*.c): the parser
 * state and the scanners shared by its translation units. Not a public API. */
#ifndef KVS_PROM_TEXT_INT_H
#define KVS_PROM_TEXT_INT_H

#include "formats/prom_text.h"

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEFAULT_MAX_LINE ((size_t)1 << 20)
#define EXEMPLAR_MAX_RUNES 128

enum { NOT_MEMBER = -1, BAD_SUFFIX = -2 };

struct fam {
    kvs_prom_family pub;
    char *name, *help, *unit;
    size_t name_cap, help_cap, unit_cap;
    unsigned long nsamples;
    bool active;     /* names a family */
    bool emitted;    /* family callback made for the current metadata */
    bool companion;  /* a 0.0.4 `<x>_created` family describing the previous one */
};

struct kvs_prom_parser {
    kvs_prom_options opt;
    kvs_prom_handler h;
    bool strict;     /* explicit OpenMetrics */
    bool om;         /* OpenMetrics rules in force */
    bool pinned;     /* auto mode pinned by a Content-Type */
    char *pend;      /* partial line (at most max_line bytes kept) */
    size_t pend_len, pend_cap, pend_total;
    char *scratch;
    size_t scratch_cap, scratch_len;
    kvs_prom_label *labels, *xlabels, *sorted;
    size_t labels_cap, xlabels_cap, sorted_cap;
    struct fam fam[2];
    int cur;
    unsigned long lineno;
    bool eof_seen;
    int err;
    const char *ln;  /* the line being parsed, for rejects */
    size_t ln_len;
    kvs_prom_stats st;
};

/* Character classes: 1 label name, 2 metric name, 4 lenient metric name
 * (also '.'), 8 blank, 16 ends a quoted run ('"' or backslash). */
enum { C_LNAME = 1, C_MNAME = 2, C_MNAME_LENIENT = 4, C_WS = 8, C_QUOTE = 16 };
extern const unsigned char kvs_prom__cls[256];

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha_(unsigned char c) { return (kvs_prom__cls[c] & C_LNAME) && !is_digit(c); }
static inline bool is_lname(unsigned char c) { return kvs_prom__cls[c] & C_LNAME; }
static inline bool is_mname(unsigned char c) { return kvs_prom__cls[c] & C_MNAME; }
static inline bool is_ws(unsigned char c) { return kvs_prom__cls[c] & C_WS; }

void kvs_prom__account(kvs_prom_parser *p, size_t old_cap, size_t new_cap);
/* Returns buf grown to hold at least `need` elements of size `el` (and
 * updates *cap), or buf unchanged (and *cap < need) when out of memory. */
void *kvs_prom__grow(kvs_prom_parser *p, void *buf, size_t *cap, size_t need, size_t el);
/* 0, or KVS_E_NOMEM with arr untouched. */
#define RESERVE(p, arr, cap, need)                                                     \
    ((need) <= (cap) ? 0                                                               \
                     : ((arr) = kvs_prom__grow((p), (arr), &(cap), (need), sizeof *(arr)), \
                        (cap) >= (need) ? 0 : KVS_E_NOMEM))
static inline size_t kvs_prom__skip_ws(const char *s, size_t n, size_t j)
{
    while (j < n && is_ws((unsigned char)s[j]))
        j++;
    return j;
}
/* s[*pos] is just past an opening quote; unescapes into the scratch buffer
 * only when needed. 0, or -1 with *why and *pos set. */
int kvs_prom__scan_quoted(kvs_prom_parser *p, const char *s, size_t n, size_t *pos, kvs_prom_str *out,
                          const char **why);
/* Parses `{...}` at s[*pos]; qname != NULL accepts a quoted metric name item. */
int kvs_prom__parse_labels(kvs_prom_parser *p, const char *s, size_t n, size_t *pos, kvs_prom_label **arr,
                           size_t *cap, size_t *cnt, kvs_prom_str *qname, const char **why);
/* 1 when two labels share a name, 0 when not, KVS_E_NOMEM. */
int kvs_prom__has_dup(kvs_prom_parser *p, const kvs_prom_label *l, size_t k);

/* 0 ok, -1 malformed, -2 out of range. */
int kvs_prom__ts_ms(const char *s, size_t n, int64_t *ns);
int kvs_prom__ts_seconds(const char *s, size_t n, int64_t *ns);

#endif
