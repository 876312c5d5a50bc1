/* Arena allocator and batch ownership: alignment, growth, large objects,
 * reset, protobuf-c integration, refcounts, parents, copy-on-write. */
#include "core/arena.h"
#include "core/batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "unit_helpers.h"

static void arena_alignment_and_growth(void **st)
{
    (void)st;
    kvs_arena *a = kvs_arena_new();
    assert_non_null(a);
    for (size_t i = 1; i < 5000; i += 7) {
        unsigned char *p = kvs_arena_alloc(a, i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, i);
    }
    /* A large object bigger than a block. */
    unsigned char *big = kvs_arena_alloc(a, 1 << 20);
    assert_non_null(big);
    memset(big, 1, 1 << 20);
    assert_true(kvs_arena_footprint(a) >= (1u << 20));
    char *s = kvs_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    kvs_arena_reset(a);
    assert_true(kvs_arena_footprint(a) < (1u << 17));
    kvs_arena_free(a);
}

static void arena_grow_in_place(void **st)
{
    (void)st;
    kvs_arena *a = kvs_arena_new();
    int *v = NULL;
    size_t n = 0;
    for (int i = 0; i < 10000; i++) {
        v = kvs_arena_grow(a, v, n * sizeof *v, (n + 1) * sizeof *v);
        assert_non_null(v);
        v[n++] = i;
    }
    for (int i = 0; i < 10000; i++)
        assert_int_equal(v[i], i);
    /* Interleaved allocations must not corrupt a grown array. */
    int *w = NULL;
    size_t m = 0;
    for (int i = 0; i < 1000; i++) {
        w = kvs_arena_grow(a, w, m * sizeof *w, (m + 1) * sizeof *w);
        w[m++] = -i;
        char *junk = kvs_arena_alloc(a, 24);
        memset(junk, 0x5a, 24);
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(w[i], -i);
    kvs_arena_free(a);
}

static void batch_counts_and_clone(void **st)
{
    (void)st;
    kvs_batch *b = make_traces(7, "request");
    assert_int_equal(b->items, 7);
    kvs_batch *c = kvs_batch_clone(b);
    assert_non_null(c);
    assert_int_equal(c->items, 7);
    assert_string_equal(c->traces->resource_spans[0]->scope_spans[0]->spans[6]->name, "request");
    assert_int_equal(c->traces->resource_spans[0]->scope_spans[0]->spans[6]->start_time_unix_nano, 6);
    /* Packed forms are identical. */
    size_t l1 = protobuf_c_message_get_packed_size(b->msg), l2 = protobuf_c_message_get_packed_size(c->msg);
    assert_int_equal(l1, l2);
    kvs_batch_unref(c);
    kvs_batch_unref(b);
}

static void batch_copy_on_write(void **st)
{
    (void)st;
    kvs_batch *b = make_traces(3, "mp.store");
    /* Exclusively owned: same batch. */
    assert_ptr_equal(kvs_batch_writable(b), b);
    kvs_batch_ref(b); /* now shared */
    kvs_batch *w = kvs_batch_writable(b);
    assert_ptr_not_equal(w, b);
    w->traces->resource_spans[0]->scope_spans[0]->spans[0]->name = "changed";
    assert_string_equal(b->traces->resource_spans[0]->scope_spans[0]->spans[0]->name, "mp.store");
    assert_int_equal(atomic_load(&b->refs), 1);
    kvs_batch_unref(w);
    kvs_batch_unref(b);
}

static void batch_parents_keep_memory(void **st)
{
    (void)st;
    kvs_batch *p = make_traces(2, "cb.request");
    kvs_batch *m = kvs_batch_new(KVS_SIG_TRACES);
    assert_int_equal(kvs_batch_add_parent(m, p), 0);
    m->traces->resource_spans = p->traces->resource_spans;
    m->traces->n_resource_spans = 1;
    kvs_batch_unref(p); /* m still holds it */
    kvs_batch_recount(m);
    assert_int_equal(m->items, 2);
    assert_string_equal(m->traces->resource_spans[0]->scope_spans[0]->spans[1]->name, "cb.request");
    /* A batch with parents is never written in place. */
    kvs_batch *w = kvs_batch_writable(m);
    assert_ptr_not_equal(w, m);
    kvs_batch_unref(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_alignment_and_growth),
        cmocka_unit_test(arena_grow_in_place),
        cmocka_unit_test(batch_counts_and_clone),
        cmocka_unit_test(batch_copy_on_write),
        cmocka_unit_test(batch_parents_keep_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
