/* utf8.c - strict UTF-8 (RFC 3629): what text the library accepts from a caller. */
#include "utf8.h"

/*
 * RFC 3629's table: after the lead byte, the second byte's range is narrowed for the
 * leads where overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF
 * (F4) would otherwise slip through; every later byte is 80..BF.
 */
static size_t character_length(const unsigned char *s, size_t left)
{
    unsigned char lead = s[0];
    size_t need;
    unsigned char low = 0x80, high = 0xBF;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else {
        return 0;
    }
    if (left < need || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

size_t ulm__utf8_invalid_at(const char *s, size_t length)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < length) {
        size_t n = character_length(u + i, length - i);
        if (!n)
            return i;
        i += n;
    }
    return length;
}
