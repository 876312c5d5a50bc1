/* UTF-8 well-formedness, shared by the OTLP/JSON codec and the protobuf
 * wire scanner so that both accept exactly the strings protobuf consumers
 * (Go, Java, the Collector) accept: no overlong forms, surrogates, code
 * points past U+10FFFF, stray continuation bytes or truncated sequences. */
#ifndef KVS_UTF8_H
#define KVS_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..n) whose first byte is
 * >= 0x80 (2, 3 or 4), or 0 when it is not well formed. */
static inline size_t kvs_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* The sequence-by-sequence walk behind kvs_utf8_check. */
size_t kvs_utf8_check_slow(const unsigned char *s, size_t n);

/* Offset of the first byte of s[0..n) that does not start a well-formed
 * sequence, or n. ASCII-only strings (the common case) are settled eight
 * bytes at a time. */
static inline size_t kvs_utf8_check(const unsigned char *s, size_t n)
{
    uint64_t acc = 0;
    if (n >= 8) {
        uint64_t v;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&v, s + i, 8);
            acc |= v;
        }
        memcpy(&v, s + n - 8, 8);
        acc |= v;
    } else {
        for (size_t i = 0; i < n; i++)
            acc |= s[i];
    }
    return acc & 0x8080808080808080ull ? kvs_utf8_check_slow(s, n) : n;
}

#endif
