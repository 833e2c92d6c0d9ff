/* bench_text.h - what the streaming benchmarks write: a growable buffer, the answer's tokens, JSON strings, files for nginx to serve. */
#ifndef ULM_BENCH_TEXT_H
#define ULM_BENCH_TEXT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h" /* die() */

typedef struct sbuf {
    char *data;
    size_t len, cap;
} sbuf;

static inline void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(b->data = realloc(b->data, cap))) {
            fputs("benchmark: out of memory\n", stderr);
            exit(2);
        }
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Tokens as a tokenizer cuts English text, 3 to 8 bytes each (checked at start). */
static const char *const vocab[] = {
    " the",   " and",    " model", " token", " stream", " server", " client", " parse",
    "ing",    " data",   " event", " with",  " that",   " from",   " each",   " which",
    ", and",  ". The",   " is",    " byte",  " JSON",   " line",   " value",  " it's",
    " (see",  "ers",     " fast",  " 42",    " 3.14",   ".\n\n",   ":\n\n-",  " \"ok\"",
    " a\\b",  "\tx = 1", " café",  " naïve", " —",      " 東京",   " über",   " 😀",
    " the end",
};
#define VOCAB_SIZE (sizeof vocab / sizeof vocab[0])

/* The seed of the answer's token sequence: both benchmarks stream the same text. */
#define BENCH_TOKEN_SEED 0x2545F491u

/* The next token of the answer; xorshift32, so the text is the same on every machine. */
static inline const char *next_token(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    *state = x;
    return vocab[x % VOCAB_SIZE];
}

/* A JSON string as the providers write one: UTF-8 raw, not \\u-escaped. */
static inline void json_string_into(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_add(b, esc, 2);
        } else if (c == '\n') {
            sb_add(b, "\\n", 2);
        } else if (c == '\t') {
            sb_add(b, "\\t", 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_add(b, esc, 6);
        } else {
            sb_add(b, p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

/* Writes b to dir/name (a stream for nginx to serve), or dies. */
static inline void write_file(const char *dir, const char *name, const sbuf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

#endif /* ULM_BENCH_TEXT_H */
