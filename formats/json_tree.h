/* Readers over yajl trees (yajl_tree_parse) that the JSON-reading codecs
 * share (formats/lmcache_http.c, lookup_hash.c, lct_replay.c): a member of
 * an object by key, a finite number. Header-only. */
#ifndef KVS_FORMATS_JSON_TREE_H
#define KVS_FORMATS_JSON_TREE_H

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* The member `key` of an object (the first, when repeated); NULL when
 * absent or when obj is not an object. */
static inline yajl_val kvs_json_get(yajl_val obj, const char *key)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

/* An integer or double as a finite double: 0, or -1 (not a number, or
 * NaN / infinite). */
static inline int kvs_json_num(yajl_val v, double *out)
{
    if (YAJL_IS_INTEGER(v))
        *out = (double)v->u.number.i;
    else if (YAJL_IS_DOUBLE(v))
        *out = v->u.number.d;
    else
        return -1;
    return isfinite(*out) ? 0 : -1;
}

#endif
