/* kvs_buf: a growable byte buffer for encoders and I/O. */
#ifndef KVS_BUF_H
#define KVS_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct kvs_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;   /* set when a growth failed; appends become no-ops */
} kvs_buf;

void kvs_buf_free(kvs_buf *b);
/* Makes room for n more bytes; returns 0 or -1 (and sets oom). */
int kvs_buf_reserve(kvs_buf *b, size_t n);
void kvs_buf_printf(kvs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void kvs_buf_append(kvs_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && kvs_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void kvs_buf_putc(kvs_buf *b, char c)
{
    if (b->cap == b->len && kvs_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
}

static inline void kvs_buf_puts(kvs_buf *b, const char *s) { kvs_buf_append(b, s, strlen(s)); }

#endif
