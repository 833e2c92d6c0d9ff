/* json_locate.c - finds the line where a value starts in JSON text, and writes paths and strings for messages. */
#include <stdio.h>
#include <string.h>

#include "json_locate.h"
#include "json_text.h"

/* ---------------------------------------------------------------- scanning */

/*
 * Every scanner function takes a position and returns the position after what it read,
 * never more than length, so garbage ends the scan instead of reading past the text.
 * Nothing recurses: a deeply nested input cannot exhaust the stack.
 */

static size_t skip_space(const char *t, size_t length, size_t i)
{
    while (i < length && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* i is at the opening quote. */
static size_t skip_string(const char *t, size_t length, size_t i)
{
    for (i++; i < length; i++) {
        if (t[i] == '"')
            return i + 1;
        if (t[i] == '\\' && ++i == length)
            break;
    }
    return length;
}

/* Containers are skipped by counting brackets, which is exact for valid JSON. */
static size_t skip_value(const char *t, size_t length, size_t i)
{
    if (i < length && t[i] == '"')
        return skip_string(t, length, i);
    if (i < length && (t[i] == '{' || t[i] == '[')) {
        size_t depth = 0;
        while (i < length) {
            char c = t[i];
            if (c == '"') {
                i = skip_string(t, length, i);
                continue;
            }
            i++;
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i;
            }
        }
        return length;
    }
    /* a number or a literal: everything up to the next delimiter */
    while (i < length && !strchr(",]} \t\n\r\"", t[i]))
        i++;
    return i;
}

static int hex4(const char *t, size_t length, size_t i, unsigned int *out)
{
    if (length < 4 || i > length - 4)
        return 0;
    unsigned int v = 0;
    for (size_t k = i; k < i + 4; k++) {
        char c = t[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned int)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t utf8_encode(unsigned int cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Reads the string at i (at its opening quote), decoding escapes as jansson does, and
 * sets *matches when it equals key. The text is compared as it is decoded, so nothing is
 * allocated.
 */
static size_t match_string(const char *t, size_t length, size_t i, const char *key,
                           int *matches)
{
    size_t key_len = strlen(key), matched = 0;
    int same = 1;
    for (i++; i < length && t[i] != '"';) {
        unsigned char bytes[4];
        size_t n = 1;
        if (t[i] != '\\') {
            bytes[0] = (unsigned char)t[i++];
        } else {
            if (i + 1 == length)
                break;
            char e = t[i + 1];
            i += 2;
            static const char plain[] = "\"\\/bfnrt";
            static const char value[] = "\"\\/\b\f\n\r\t";
            const char *known = strchr(plain, e);
            unsigned int cp, low;
            if (e != '\0' && known) {
                bytes[0] = (unsigned char)value[known - plain];
            } else if (e == 'u' && hex4(t, length, i, &cp)) {
                i += 4;
                /* a surrogate pair is one character: \ud83d\ude00 */
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < length && t[i] == '\\' &&
                    t[i + 1] == 'u' && hex4(t, length, i + 2, &low) && low >= 0xDC00 &&
                    low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
                n = utf8_encode(cp, bytes);
            } else {
                same = 0; /* not an escape JSON has, so not a key jansson produced */
                continue;
            }
        }
        if (same && (n > key_len - matched || memcmp(key + matched, bytes, n) != 0))
            same = 0;
        else
            matched += n;
    }
    if (i >= length)
        return length;
    *matches = same && matched == key_len;
    return i + 1;
}

/* From the value at i (an object), to the value of its first member named key. */
static size_t enter_member(const char *t, size_t length, size_t i, const char *key)
{
    if (i >= length || t[i] != '{')
        return length;
    i = skip_space(t, length, i + 1);
    while (i < length && t[i] == '"') {
        int matches = 0;
        i = skip_space(t, length, match_string(t, length, i, key, &matches));
        if (i >= length || t[i] != ':')
            return length;
        i = skip_space(t, length, i + 1);
        if (matches)
            return i;
        i = skip_space(t, length, skip_value(t, length, i));
        if (i >= length || t[i] != ',')
            return length;
        i = skip_space(t, length, i + 1);
    }
    return length;
}

/* From the value at i (an array), to its element number index. */
static size_t enter_element(const char *t, size_t length, size_t i, size_t index)
{
    if (i >= length || t[i] != '[')
        return length;
    i = skip_space(t, length, i + 1);
    for (size_t k = 0; k < index; k++) {
        if (i >= length || t[i] == ']')
            return length;
        i = skip_space(t, length, skip_value(t, length, i));
        if (i >= length || t[i] != ',')
            return length;
        i = skip_space(t, length, i + 1);
    }
    return (i < length && t[i] != ']') ? i : length;
}

size_t ulm__json_line(const char *text, size_t length, const ulm_json_step *path, size_t depth)
{
    if (!text)
        return 0;
    size_t i = skip_space(text, length, 0);
    for (size_t d = 0; d < depth && i < length; d++)
        i = path[d].key ? enter_member(text, length, i, path[d].key)
                        : enter_element(text, length, i, path[d].index);
    if (i >= length)
        return 0;
    size_t line = 1;
    for (size_t k = 0; k < i; k++)
        line += text[k] == '\n';
    return line;
}

/* ---------------------------------------------------------------- writing */

/* The bytes that show one character of s (escaped, or a whole UTF-8 sequence); returns
 * how many of the left bytes of s it covers. */
static size_t escape_char(const unsigned char *s, size_t left, char piece[8], size_t *piece_len)
{
    if ((*piece_len = ulm__json_escape(s[0], piece)) != 0)
        return 1;
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    size_t k = 1;
    while (k < n && k < left && (s[k] & 0xC0) == 0x80)
        k++;
    memcpy(piece, s, k);
    *piece_len = k;
    return k;
}

void ulm__json_quote(const char *s, size_t length, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    if (size < 6)
        return;
    const unsigned char *u = (const unsigned char *)s;
    size_t total = 0, used = 0, piece_len;
    char piece[8];
    for (size_t i = 0; i < length;) {
        i += escape_char(u + i, length - i, piece, &piece_len);
        total += piece_len;
    }
    /* the whole string when it fits with its quotes; else as much as leaves room for ..." */
    int whole = total + 3 <= size;
    size_t room = whole ? size - 2 : size - 5;
    buf[used++] = '"';
    for (size_t i = 0; i < length;) {
        size_t covered = escape_char(u + i, length - i, piece, &piece_len);
        if (used + piece_len > room)
            break;
        memcpy(buf + used, piece, piece_len);
        used += piece_len;
        i += covered;
    }
    const char *end = whole ? "\"" : "...\"";
    memcpy(buf + used, end, strlen(end) + 1);
}

static int plain_name(const char *key)
{
    if (!((*key >= 'A' && *key <= 'Z') || (*key >= 'a' && *key <= 'z') || *key == '_'))
        return 0;
    for (const char *p = key + 1; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Appends s, cut to what fits. */
static void put(char *buf, size_t size, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (n > size - 1 - *used)
        n = size - 1 - *used;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

void ulm__json_path_format(const ulm_json_step *path, size_t depth, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t d = 0; d < depth; d++) {
        /* long keys are cut on their own so that the rest of the path still shows */
        char piece[80];
        if (!path[d].key) {
            snprintf(piece, sizeof piece, "[%zu]", path[d].index);
        } else if (plain_name(path[d].key)) {
            snprintf(piece, sizeof piece, "%s%s", d ? "." : "", path[d].key);
        } else {
            char quoted[sizeof piece - 2];
            ulm__json_quote(path[d].key, strlen(path[d].key), quoted, sizeof quoted);
            snprintf(piece, sizeof piece, "[%s]", quoted);
        }
        put(buf, size, &used, piece);
    }
}
