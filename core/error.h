/* kvs_error: errors are values. A function that can fail returns int
 * (0 = ok, negative = failure) and fills a kvs_error with a message that
 * names the place (file:line:column, byte offset, field) when it knows it. */
#ifndef KVS_ERROR_H
#define KVS_ERROR_H

#include <stddef.h>

enum {
    KVS_OK = 0,
    KVS_E_INVALID = -1,   /* bad input or config: permanent */
    KVS_E_REFUSED = -2,   /* backpressure / overload: retryable */
    KVS_E_IO = -3,        /* an operating-system or network failure */
    KVS_E_NOMEM = -4,
};

typedef struct kvs_error {
    int code;
    char msg[512];
} kvs_error;

/* Sets err (when not NULL) and returns code. */
int kvs_errorf(kvs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (keeps the code). */
void kvs_error_prefix(kvs_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
