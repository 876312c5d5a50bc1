/* The configuration tree: pipeline.yaml loaded with libyaml into nodes that
 * remember where they came from (file, line, column), after ${env:VAR} and
 * ${env:VAR:-default} expansion ($${ is a literal ${).
 *
 * Components read their own section with the typed accessors below; every
 * accessor error names "file:line:column: path: reason". A component lists
 * its allowed keys with kvs_cfg_check_keys so unknown keys are rejected. */
#ifndef KVS_CONFIG_H
#define KVS_CONFIG_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

typedef enum kvs_cfg_type {
    KVS_CFG_NULL,     /* `key:` with no value, or `~` / `null` */
    KVS_CFG_SCALAR,
    KVS_CFG_MAP,
    KVS_CFG_SEQ,
} kvs_cfg_type;

typedef struct kvs_cfg_node kvs_cfg_node;
struct kvs_cfg_node {
    kvs_cfg_type type;
    const char *file;        /* owned by the document */
    int line, col;           /* 1-based, of the node's first character */
    const char *path;        /* e.g. "exporters.file/out.rotation.max_megabytes" */
    const char *scalar;      /* SCALAR: the expanded value; NULL otherwise */
    int quoted;              /* SCALAR: written in quotes (never a bool/number) */
    size_t n;                /* MAP: pairs; SEQ: items */
    kvs_cfg_node **keys;     /* MAP: key nodes (scalars) */
    kvs_cfg_node **items;    /* MAP: values (items[i] belongs to keys[i]); SEQ: items */
};

typedef struct kvs_cfg_doc kvs_cfg_doc;

/* Warnings found while loading (e.g. an unset env var) are reported through
 * this callback when given; may be NULL. */
typedef void (*kvs_cfg_warn_fn)(void *ctx, const char *msg);

kvs_cfg_doc *kvs_cfg_load_file(const char *path, kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err);
kvs_cfg_doc *kvs_cfg_load_string(const char *name, const char *text, size_t len,
                                 kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err);
const kvs_cfg_node *kvs_cfg_root(const kvs_cfg_doc *doc);
void kvs_cfg_free(kvs_cfg_doc *doc);
/* The file name the document was loaded under (owned by the document). */
const char *kvs_cfg_doc_file(const kvs_cfg_doc *doc);
/* Zeroed memory that lives as long as the document (NULL when out of memory). */
void *kvs_cfg_doc_alloc(kvs_cfg_doc *doc, size_t n);
/* The candidate (NULL-terminated list) within edit distance 2 of word, or NULL. */
const char *kvs_cfg_suggest(const char *word, const char *const *candidates);

/* Formats "file:line:column: path: <fmt>" into err, returns KVS_E_INVALID.
 * `at` may be NULL (then only the message). */
int kvs_cfg_errorf(kvs_error *err, const kvs_cfg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lookups. `map` may be NULL or a NULL node (an empty section): absent. */
const kvs_cfg_node *kvs_cfg_get(const kvs_cfg_node *map, const char *key);
const kvs_cfg_node *kvs_cfg_key(const kvs_cfg_node *map, const char *key);
/* A section must be a map (or empty). */
int kvs_cfg_expect_map(const kvs_cfg_node *node, kvs_error *err);
/* Rejects a key not in `allowed` (NULL-terminated), naming the first one found. */
int kvs_cfg_check_keys(const kvs_cfg_node *map, const char *const *allowed, kvs_error *err);

/* Typed getters: absent key (or an explicit null: `key:`, `~`) → default;
 * wrong type or out of range → error. */
int kvs_cfg_str(const kvs_cfg_node *map, const char *key, const char *def, const char **out, kvs_error *err);
int kvs_cfg_bool(const kvs_cfg_node *map, const char *key, int def, int *out, kvs_error *err);
int kvs_cfg_i64(const kvs_cfg_node *map, const char *key, int64_t def, int64_t min, int64_t max,
                int64_t *out, kvs_error *err);
int kvs_cfg_f64(const kvs_cfg_node *map, const char *key, double def, double min, double max,
                double *out, kvs_error *err);
/* Durations as the Collector writes them: "200ms", "5s", "1m30s", "1h",
 * "1.5s", "250us", "10ns"; a bare 0 means zero. */
int kvs_cfg_duration(const kvs_cfg_node *map, const char *key, uint64_t def_ns, uint64_t *out_ns,
                     kvs_error *err);
int kvs_parse_duration(const char *s, uint64_t *out_ns);
/* A string or a sequence of strings. *out is malloc'd (pointers into the
 * document): free(*out) when done. Absent → n = 0. */
int kvs_cfg_strlist(const kvs_cfg_node *map, const char *key, const char ***out, size_t *n, kvs_error *err);
/* One of the listed values (NULL-terminated); returns its index in *out. */
int kvs_cfg_enum(const kvs_cfg_node *map, const char *key, const char *const *values, int def,
                 int *out, kvs_error *err);

#endif
