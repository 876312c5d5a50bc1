#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kvs_errorf(kvs_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void kvs_error_prefix(kvs_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t h = strlen(head);
    if (h + 2 >= sizeof err->msg)
        h = sizeof err->msg - 3;
    memcpy(err->msg, head, h);
    memcpy(err->msg + h, ": ", 2);
    size_t room = sizeof err->msg - h - 3;
    size_t o = strnlen(old, room);
    memcpy(err->msg + h + 2, old, o);
    err->msg[h + 2 + o] = 0;
}
