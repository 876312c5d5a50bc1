/* The configuration loader: libyaml events → a kvs_cfg_node tree that lives
 * in one arena owned by the document, with 1-based line/column on every
 * node and map key, dotted paths, and ${env:VAR} expansion in values.
 *
 * Decisions:
 * - Anchors (&a), aliases (*a) and merge keys are rejected with a clear
 *   message: they would give one node several paths (so an error could not
 *   say where it is) and open the door to expansion bombs.
 * - Explicit tags are rejected except !!str (a plain scalar written as a
 *   string: quoted = 1), !!map and !!seq.
 * - Block scalars (| and >) count as quoted: never a bool or a number.
 * - Env expansion applies to values (quoted or not), never to map keys.
 *   ${env:VAR:-default} uses the default only when VAR is unset (as the
 *   Collector's env provider does); a set but empty VAR stays empty.
 * - Nesting is limited to KVS_CFG_MAX_DEPTH levels and keys to
 *   KVS_CFG_MAX_KEY bytes, which bounds paths (depth x key length). */
#include "core/config.h"

#include "core/arena.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KVS_CFG_MAX_DEPTH 64
#define KVS_CFG_MAX_KEY 1024     /* bounds the length of paths */
#define KVS_CFG_MAX_FILE (64u * 1024u * 1024u)

struct kvs_cfg_doc {
    kvs_arena *arena;
    const char *file;
    kvs_cfg_node *root;
};

/* Key hash set of a map under construction, to find duplicates in O(1). */
typedef struct frame {
    kvs_cfg_node *node;
    kvs_cfg_node **keys, **items;
    size_t n, cap;
    kvs_cfg_node *key;          /* map: a key waiting for its value */
    size_t *slots;              /* open addressing over indexes + 1; 0 = empty */
    size_t nslots;
} frame;

typedef struct loader {
    kvs_cfg_doc *doc;
    const char *text;
    size_t len;
    kvs_cfg_warn_fn warn;
    void *warn_ctx;
    kvs_error *err;
    frame stack[KVS_CFG_MAX_DEPTH];
    int depth;
    int docs;
} loader;

/* ---- errors ---- */

static int errat(loader *ld, size_t line, size_t col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int errat(loader *ld, size_t line, size_t col, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        return kvs_errorf(ld->err, KVS_E_INVALID, "%s:%zu:%zu: %s: %s", ld->doc->file, line, col, path, msg);
    return kvs_errorf(ld->err, KVS_E_INVALID, "%s:%zu:%zu: %s", ld->doc->file, line, col, msg);
}

static int nomem(loader *ld)
{
    return kvs_errorf(ld->err, KVS_E_NOMEM, "%s: out of memory loading the configuration", ld->doc->file);
}

/* True when the line holding `mark` starts with whitespace containing a tab. */
static int tab_indented(const loader *ld, const yaml_mark_t *mark)
{
    size_t line = 0, i = 0;
    while (i < ld->len && line < mark->line) {
        if (ld->text[i] == '\n')
            line++;
        i++;
    }
    for (; i < ld->len && (ld->text[i] == ' ' || ld->text[i] == '\t'); i++)
        if (ld->text[i] == '\t')
            return 1;
    return 0;
}

static int syntax_error(loader *ld, const yaml_parser_t *p)
{
    const char *hint = "";
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ld);
    if (tab_indented(ld, &p->problem_mark) ||
        (p->context && tab_indented(ld, &p->context_mark) && p->context_mark.line == p->problem_mark.line))
        hint = " (tabs cannot be used for indentation; use spaces)";
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context && (p->context_mark.line != p->problem_mark.line || p->context_mark.column != p->problem_mark.column))
        return errat(ld, p->problem_mark.line + 1, p->problem_mark.column + 1, NULL,
                     "YAML syntax error: %s, %s started at line %zu, column %zu%s", problem, p->context,
                     p->context_mark.line + 1, p->context_mark.column + 1, hint);
    return errat(ld, p->problem_mark.line + 1, p->problem_mark.column + 1, NULL, "YAML syntax error: %s%s",
                 problem, hint);
}

/* ---- env expansion ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g)
            return -1;
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Expands one reference (the text between "${" and "}"); appends to out. */
static int expand_ref(loader *ld, const kvs_cfg_node *n, const char *ref, size_t len, sbuf *out)
{
    const char *orig = ref;
    size_t olen = len, i = 0;
    while (i < len && is_name_char(ref[i]))
        i++;
    const char *name = ref;
    size_t nlen = i;
    if (i < len && ref[i] == ':' && !(i + 1 < len && ref[i + 1] == '-')) {
        /* provider:rest */
        if (nlen != 3 || memcmp(ref, "env", 3) != 0) {
            if (nlen == 0)
                return errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                             "invalid reference \"${%.*s}\": expected ${env:NAME} or ${NAME}", (int)len, ref);
            return errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                         "unknown provider \"%.*s\" in \"${%.*s}\" (only env is supported)", (int)nlen, ref,
                         (int)len, ref);
        }
        name = ref + i + 1;
        i = 0;
        size_t rest = len - nlen - 1;
        while (i < rest && is_name_char(name[i]))
            i++;
        nlen = i;
        ref = name;
        len = rest;
    }
    if (nlen == 0 || !is_name_start(name[0]) || (i < len && ref[i] != ':')) {
        size_t bad = i;
        while (bad < len && ref[bad] != ':')
            bad++;
        return errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                     "invalid environment variable name \"%.*s\" in \"${%.*s}\" (letters, digits and _, "
                     "not starting with a digit)",
                     (int)bad, ref, (int)olen, orig);
    }
    if (i < len && !(i + 1 < len && ref[i + 1] == '-'))
        return errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                     "invalid reference \"${%.*s}\" (expected ${env:NAME} or ${env:NAME:-default})", (int)olen,
                     orig);
    char var[256];
    if (nlen >= sizeof var)
        return errat(ld, (size_t)n->line, (size_t)n->col, n->path, "environment variable name too long");
    memcpy(var, name, nlen);
    var[nlen] = 0;
    const char *val = getenv(var);
    if (!val && i < len) {
        /* ":-default" */
        return sbuf_add(out, ref + i + 2, len - i - 2) ? nomem(ld) : 0;
    }
    if (!val) {
        if (ld->warn) {
            char msg[600];
            if (*n->path)
                snprintf(msg, sizeof msg, "%s:%d:%d: %s: environment variable %s is not set", ld->doc->file,
                         n->line, n->col, n->path, var);
            else
                snprintf(msg, sizeof msg, "%s:%d:%d: environment variable %s is not set", ld->doc->file, n->line,
                         n->col, var);
            ld->warn(ld->warn_ctx, msg);
        }
        return 0;
    }
    return sbuf_add(out, val, strlen(val)) ? nomem(ld) : 0;
}

/* Expands ${env:VAR}, ${env:VAR:-default}, ${VAR}; "$${" is a literal "${". */
static int expand(loader *ld, kvs_cfg_node *n, const char *s, size_t len)
{
    if (!memchr(s, '$', len)) {
        n->scalar = kvs_arena_strndup(ld->doc->arena, s, len);
        return n->scalar ? 0 : nomem(ld);
    }
    sbuf out = { 0 };
    int rc = 0;
    size_t i = 0;
    while (i < len && rc == 0) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = sbuf_add(&out, "${", 2) ? nomem(ld) : 0;
            i += 3;
        } else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            const char *start = s + i + 2;
            const char *end = memchr(start, '}', len - i - 2);
            const char *nested = NULL;
            for (const char *q = start; q + 1 < (end ? end : s + len); q++)
                if (q[0] == '$' && q[1] == '{') {
                    nested = q;
                    break;
                }
            if (!end)
                rc = errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                           "unterminated \"${\" in \"%.*s\" (expected \"}\"; write $${ for a literal ${)",
                           (int)(len > 80 ? 80 : len), s);
            else if (nested)
                rc = errat(ld, (size_t)n->line, (size_t)n->col, n->path,
                           "nested \"${\" in \"${%.*s}\" is not supported", (int)(end - start), start);
            else
                rc = expand_ref(ld, n, start, (size_t)(end - start), &out);
            i = end ? (size_t)(end - s) + 1 : len;
        } else {
            size_t j = i + 1;
            while (j < len && s[j] != '$')
                j++;
            rc = sbuf_add(&out, s + i, j - i) ? nomem(ld) : 0;
            i = j;
        }
    }
    if (rc == 0) {
        n->scalar = kvs_arena_strndup(ld->doc->arena, out.p ? out.p : "", out.n);
        if (!n->scalar)
            rc = nomem(ld);
    }
    free(out.p);
    return rc;
}

/* ---- tree building ---- */

static kvs_cfg_node *node_new(loader *ld, kvs_cfg_type type, const yaml_mark_t *mark)
{
    kvs_cfg_node *n = kvs_arena_zalloc(ld->doc->arena, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->file = ld->doc->file;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    /* Path from the parent: "a.b", "a[3]" or "" for the root. */
    const char *path = "";
    if (ld->depth > 0) {
        frame *f = &ld->stack[ld->depth - 1];
        const char *pp = f->node->path;
        if (f->node->type == KVS_CFG_MAP) {
            const char *k = f->key ? f->key->scalar : "";
            size_t len = strlen(pp) + strlen(k) + 2;
            char *p = kvs_arena_alloc(ld->doc->arena, len);
            if (p)
                snprintf(p, len, "%s%s%s", pp, *pp ? "." : "", k);
            path = p;
        } else {
            size_t len = strlen(pp) + 24;
            char *p = kvs_arena_alloc(ld->doc->arena, len);
            if (p)
                snprintf(p, len, "%s[%zu]", pp, f->n);
            path = p;
        }
        if (!path)
            return NULL;
    }
    n->path = path;
    return n;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Returns the index of an existing key equal to k, or -1 after inserting k
 * (at index f->n, which the caller fills). -2 on out of memory. */
static long key_find_or_add(frame *f, kvs_cfg_node *k)
{
    if ((f->n + 1) * 2 > f->nslots) {
        size_t ns = f->nslots ? f->nslots * 2 : 16;
        size_t *slots = calloc(ns, sizeof *slots);
        if (!slots)
            return -2;
        for (size_t i = 0; i < f->n; i++) {
            size_t h = (size_t)hash_str(f->keys[i]->scalar) & (ns - 1);
            while (slots[h])
                h = (h + 1) & (ns - 1);
            slots[h] = i + 1;
        }
        free(f->slots);
        f->slots = slots;
        f->nslots = ns;
    }
    size_t h = (size_t)hash_str(k->scalar) & (f->nslots - 1);
    while (f->slots[h]) {
        size_t i = f->slots[h] - 1;
        if (strcmp(f->keys[i]->scalar, k->scalar) == 0)
            return (long)i;
        h = (h + 1) & (f->nslots - 1);
    }
    f->slots[h] = f->n + 1;
    return -1;
}

static int frame_reserve(frame *f)
{
    if (f->n < f->cap)
        return 0;
    size_t cap = f->cap ? f->cap * 2 : 8;
    kvs_cfg_node **items = realloc(f->items, cap * sizeof *items);
    if (!items)
        return -1;
    f->items = items;
    if (f->node->type == KVS_CFG_MAP) {
        kvs_cfg_node **keys = realloc(f->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        f->keys = keys;
    }
    f->cap = cap;
    return 0;
}

/* Attaches a finished value to the open collection (or makes it the root). */
static int attach(loader *ld, kvs_cfg_node *v)
{
    if (ld->depth == 0) {
        ld->doc->root = v;
        return 0;
    }
    frame *f = &ld->stack[ld->depth - 1];
    if (frame_reserve(f))
        return nomem(ld);
    if (f->node->type == KVS_CFG_MAP) {
        f->keys[f->n] = f->key;
        f->key = NULL;
    }
    f->items[f->n++] = v;
    return 0;
}

static void frame_release(frame *f)
{
    free(f->keys);
    free(f->items);
    free(f->slots);
    memset(f, 0, sizeof *f);
}

static int check_props(loader *ld, const yaml_mark_t *mark, const yaml_char_t *anchor, const yaml_char_t *tag,
                       const char *allowed_tag)
{
    if (anchor)
        return errat(ld, mark->line + 1, mark->column + 1, NULL,
                     "YAML anchors (&%s) are not supported; repeat the settings instead", (const char *)anchor);
    if (tag && strcmp((const char *)tag, allowed_tag) != 0)
        return errat(ld, mark->line + 1, mark->column + 1, NULL, "YAML tag \"%s\" is not supported",
                     (const char *)tag);
    return 0;
}

static int is_null_text(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int on_scalar(loader *ld, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const yaml_mark_t *m = &ev->start_mark;
    int rc = check_props(ld, m, ev->data.scalar.anchor, ev->data.scalar.tag, "tag:yaml.org,2002:str");
    if (rc)
        return rc;
    int quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag != NULL;
    if (memchr(s, 0, len))
        return errat(ld, m->line + 1, m->column + 1, NULL, "NUL character in a scalar");
    frame *f = ld->depth ? &ld->stack[ld->depth - 1] : NULL;
    if (f && f->node->type == KVS_CFG_MAP && !f->key) {
        /* A key. */
        if (len == 0)
            return errat(ld, m->line + 1, m->column + 1, f->node->path, "empty map key");
        if (len > KVS_CFG_MAX_KEY)
            return errat(ld, m->line + 1, m->column + 1, f->node->path, "map key longer than %d bytes",
                         KVS_CFG_MAX_KEY);
        kvs_cfg_node *k = kvs_arena_zalloc(ld->doc->arena, sizeof *k);
        if (!k || !(k->scalar = kvs_arena_strndup(ld->doc->arena, s, len)))
            return nomem(ld);
        k->type = KVS_CFG_SCALAR;
        k->file = ld->doc->file;
        k->line = (int)m->line + 1;
        k->col = (int)m->column + 1;
        k->quoted = quoted;
        f->key = k;
        long dup = key_find_or_add(f, f->key);
        if (dup == -2)
            return nomem(ld);
        if (dup >= 0)
            return errat(ld, m->line + 1, m->column + 1, f->node->path,
                         "duplicate key \"%s\" (first at line %d, column %d)", f->key->scalar, f->keys[dup]->line,
                         f->keys[dup]->col);
        /* The key's path names the entry, as its value's does. */
        const char *pp = f->node->path;
        size_t plen = strlen(pp) + len + 2;
        char *p = kvs_arena_alloc(ld->doc->arena, plen);
        if (!p)
            return nomem(ld);
        snprintf(p, plen, "%s%s%s", pp, *pp ? "." : "", f->key->scalar);
        f->key->path = p;
        /* Reserve now so the key is stored even if its value fails. */
        if (frame_reserve(f))
            return nomem(ld);
        f->keys[f->n] = f->key;
        return 0;
    }
    int null = !quoted && is_null_text(s, len);
    kvs_cfg_node *n = node_new(ld, null ? KVS_CFG_NULL : KVS_CFG_SCALAR, m);
    if (!n)
        return nomem(ld);
    if (!null) {
        n->quoted = quoted;
        rc = expand(ld, n, s, len);
        if (rc)
            return rc;
    }
    return attach(ld, n);
}

static int on_start(loader *ld, const yaml_event_t *ev, kvs_cfg_type type)
{
    const yaml_mark_t *m = &ev->start_mark;
    frame *f = ld->depth ? &ld->stack[ld->depth - 1] : NULL;
    int rc = type == KVS_CFG_MAP
                 ? check_props(ld, m, ev->data.mapping_start.anchor, ev->data.mapping_start.tag, "tag:yaml.org,2002:map")
                 : check_props(ld, m, ev->data.sequence_start.anchor, ev->data.sequence_start.tag,
                               "tag:yaml.org,2002:seq");
    if (rc)
        return rc;
    if (f && f->node->type == KVS_CFG_MAP && !f->key)
        return errat(ld, m->line + 1, m->column + 1, f->node->path, "map keys must be scalars, not a %s",
                     type == KVS_CFG_MAP ? "map" : "sequence");
    if (ld->depth == KVS_CFG_MAX_DEPTH)
        return errat(ld, m->line + 1, m->column + 1, f ? f->node->path : NULL, "nesting deeper than %d levels",
                     KVS_CFG_MAX_DEPTH);
    kvs_cfg_node *n = node_new(ld, type, m);
    if (!n)
        return nomem(ld);
    frame *nf = &ld->stack[ld->depth++];
    memset(nf, 0, sizeof *nf);
    nf->node = n;
    return 0;
}

static int on_end(loader *ld)
{
    frame *f = &ld->stack[ld->depth - 1];
    kvs_cfg_node *n = f->node;
    n->n = f->n;
    if (f->n) {
        n->items = kvs_arena_alloc(ld->doc->arena, f->n * sizeof *n->items);
        if (!n->items)
            return nomem(ld);
        memcpy(n->items, f->items, f->n * sizeof *n->items);
        if (n->type == KVS_CFG_MAP) {
            n->keys = kvs_arena_alloc(ld->doc->arena, f->n * sizeof *n->keys);
            if (!n->keys)
                return nomem(ld);
            memcpy(n->keys, f->keys, f->n * sizeof *n->keys);
        }
    }
    frame_release(f);
    ld->depth--;
    return attach(ld, n);
}

static int on_event(loader *ld, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (ld->docs++)
            return errat(ld, m->line + 1, m->column + 1, NULL,
                         "a second YAML document (\"---\"): the configuration must be one document");
        return 0;
    case YAML_ALIAS_EVENT:
        return errat(ld, m->line + 1, m->column + 1, NULL,
                     "YAML aliases (*%s) are not supported; repeat the settings instead",
                     (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(ld, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(ld, ev, KVS_CFG_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(ld, ev, KVS_CFG_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return on_end(ld);
    default:
        return 0;
    }
}

static int parse(loader *ld)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return nomem(ld);
    yaml_parser_set_input_string(&p, (const unsigned char *)ld->text, ld->len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(ld, &p);
            break;
        }
        rc = on_event(ld, &ev);
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc || end)
            break;
    }
    yaml_parser_delete(&p);
    while (ld->depth > 0)
        frame_release(&ld->stack[--ld->depth]);
    return rc;
}

/* ---- public ---- */

kvs_cfg_doc *kvs_cfg_load_string(const char *name, const char *text, size_t len, kvs_cfg_warn_fn warn,
                                 void *warn_ctx, kvs_error *err)
{
    kvs_cfg_doc *doc = calloc(1, sizeof *doc);
    if (!doc || !(doc->arena = kvs_arena_new())) {
        free(doc);
        kvs_errorf(err, KVS_E_NOMEM, "%s: out of memory", name ? name : "config");
        return NULL;
    }
    doc->file = kvs_arena_strdup(doc->arena, name ? name : "config");
    if (!doc->file) {
        kvs_cfg_free(doc);
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    loader ld = { .doc = doc, .text = text ? text : "", .len = text ? len : 0, .warn = warn,
                  .warn_ctx = warn_ctx, .err = err };
    if (parse(&ld) != 0) {
        kvs_cfg_free(doc);
        return NULL;
    }
    if (!doc->root) {
        /* No document at all (empty file or only comments): a NULL root. */
        yaml_mark_t m = { 0 };
        doc->root = node_new(&ld, KVS_CFG_NULL, &m);
        if (!doc->root) {
            nomem(&ld);
            kvs_cfg_free(doc);
            return NULL;
        }
    }
    return doc;
}

kvs_cfg_doc *kvs_cfg_load_file(const char *path, kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kvs_errorf(err, KVS_E_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16384;
            char *g = cap <= 2 * (size_t)KVS_CFG_MAX_FILE ? realloc(buf, cap) : NULL;
            if (!g) {
                free(buf);
                fclose(f);
                kvs_errorf(err, KVS_E_NOMEM, "%s: out of memory reading the file", path);
                return NULL;
            }
            buf = g;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > KVS_CFG_MAX_FILE) {
            free(buf);
            fclose(f);
            kvs_errorf(err, KVS_E_INVALID, "%s: larger than %u MiB; not a configuration file", path,
                       KVS_CFG_MAX_FILE >> 20);
            return NULL;
        }
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        kvs_errorf(err, KVS_E_IO, "%s: cannot read: %s", path, strerror(saved));
        return NULL;
    }
    kvs_cfg_doc *doc = kvs_cfg_load_string(path, buf, len, warn, warn_ctx, err);
    free(buf);
    return doc;
}

const kvs_cfg_node *kvs_cfg_root(const kvs_cfg_doc *doc) { return doc ? doc->root : NULL; }

const char *kvs_cfg_doc_file(const kvs_cfg_doc *doc) { return doc ? doc->file : NULL; }

void *kvs_cfg_doc_alloc(kvs_cfg_doc *doc, size_t n) { return kvs_arena_zalloc(doc->arena, n ? n : 1); }

void kvs_cfg_free(kvs_cfg_doc *doc)
{
    if (!doc)
        return;
    kvs_arena_free(doc->arena);
    free(doc);
}
