/* kvs_arena: a bump allocator. Everything decoded into a batch lives in its
 * arena and is freed in one call. Plugs into protobuf-c as a
 * ProtobufCAllocator (free is a no-op; memory goes back with the arena).
 * Not thread-safe: one arena has one writer at a time. */
#ifndef KVS_ARENA_H
#define KVS_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct kvs_arena kvs_arena;

kvs_arena *kvs_arena_new(void);
void kvs_arena_free(kvs_arena *a);
/* Frees all blocks but the first; the arena is empty and reusable. */
void kvs_arena_reset(kvs_arena *a);
/* 16-byte aligned; NULL only when the system is out of memory. */
void *kvs_arena_alloc(kvs_arena *a, size_t n);
void *kvs_arena_zalloc(kvs_arena *a, size_t n);
/* Copies n bytes and appends a NUL. */
char *kvs_arena_strndup(kvs_arena *a, const char *s, size_t n);
char *kvs_arena_strdup(kvs_arena *a, const char *s);
/* Grows an array allocated in the arena (copying when it cannot extend
 * in place). Returns the new pointer or NULL. */
void *kvs_arena_grow(kvs_arena *a, void *old, size_t old_n, size_t new_n);
/* Bytes handed out from the system (for memory accounting). */
size_t kvs_arena_footprint(const kvs_arena *a);
/* A protobuf-c allocator backed by this arena. */
ProtobufCAllocator *kvs_arena_allocator(kvs_arena *a);

#endif
