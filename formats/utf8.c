#include "formats/utf8.h"

size_t kvs_utf8_check_slow(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = kvs_utf8_seq(s + i, n - i);
        if (!k)
            return i;
        i += k;
    }
    return n;
}
