#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KVS_ARENA_BLOCK (64u * 1024u - 64u)

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct kvs_arena {
    struct block *head;        /* current block; older ones follow */
    size_t footprint;
    ProtobufCAllocator pb;
    unsigned char *last;       /* last allocation, for in-place growth */
    size_t last_n;
};

/* A block of at least `min` bytes; `exact` sizes it to min (large objects
 * that get a block of their own), otherwise to the standard block size. */
static struct block *block_new(size_t min, int exact)
{
    size_t size = exact || min > KVS_ARENA_BLOCK ? min : KVS_ARENA_BLOCK;
    struct block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

static void *pb_alloc(void *data, size_t n) { return kvs_arena_alloc(data, n); }
static void pb_free(void *data, void *p) { (void)data; (void)p; }

kvs_arena *kvs_arena_new(void)
{
    kvs_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->head = block_new(0, 0);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->footprint = sizeof *a + sizeof *a->head + a->head->size;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
    return a;
}

void kvs_arena_reset(kvs_arena *a)
{
    struct block *b = a->head;
    while (b->next) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    b->used = 0;
    a->head = b;
    a->footprint = sizeof *a + sizeof *b + b->size;
    a->last = NULL;
    a->last_n = 0;
}

void kvs_arena_free(kvs_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void *kvs_arena_alloc(kvs_arena *a, size_t n)
{
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n)
        return NULL;
    struct block *b = a->head;
    if (b->size - b->used < need) {
        int large = need > KVS_ARENA_BLOCK / 4 && b->size - b->used > 1024;
        struct block *nb = block_new(need, large);
        if (!nb)
            return NULL;
        a->footprint += sizeof *nb + nb->size;
        if (large) {
            /* A large object: keep filling the current block afterwards. */
            nb->next = b->next;
            b->next = nb;
            nb->used = need;
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->last = p;
    a->last_n = need;
    return p;
}

void *kvs_arena_zalloc(kvs_arena *a, size_t n)
{
    void *p = kvs_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *kvs_arena_strndup(kvs_arena *a, const char *s, size_t n)
{
    char *p = kvs_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *kvs_arena_strdup(kvs_arena *a, const char *s)
{
    return kvs_arena_strndup(a, s, strlen(s));
}

void *kvs_arena_grow(kvs_arena *a, void *old, size_t old_n, size_t new_n)
{
    if (old && old == a->last) {
        struct block *b = a->head;
        size_t need = (new_n + 15u) & ~(size_t)15u;
        unsigned char *start = old;
        if (start >= b->data && start + a->last_n == b->data + b->used &&
            (size_t)(start - b->data) + need <= b->size) {
            b->used = (size_t)(start - b->data) + need;
            a->last_n = need;
            return old;
        }
    }
    void *p = kvs_arena_alloc(a, new_n);
    if (p && old && old_n)
        memcpy(p, old, old_n < new_n ? old_n : new_n);
    return p;
}

size_t kvs_arena_footprint(const kvs_arena *a) { return a->footprint; }

ProtobufCAllocator *kvs_arena_allocator(kvs_arena *a) { return &a->pb; }
