/* agreement.c - how much two answers agree, measured cheaply: the overlap of their word sets. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agreement.h"

typedef struct word {
    const char *at;
    size_t len;
} word;

static int word_byte(unsigned char ch)
{
    return isalnum(ch) || ch >= 0x80;
}

static int compare_words(const word *x, const word *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++) {
        int cx = tolower((unsigned char)x->at[i]), cy = tolower((unsigned char)y->at[i]);
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return x->len < y->len ? -1 : x->len > y->len;
}

static int by_word(const void *x, const void *y)
{
    return compare_words(x, y);
}

/* The distinct words of text, sorted; *count gets how many. NULL when memory ran out. */
static word *word_set(const char *text, size_t length, size_t *count)
{
    size_t cap = 0;
    for (size_t i = 0; i < length; i++)
        cap += word_byte((unsigned char)text[i]) &&
               (i == 0 || !word_byte((unsigned char)text[i - 1]));
    word *words = ulm__calloc(cap ? cap : 1, sizeof *words);
    if (!words)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < length;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < length && word_byte((unsigned char)text[i]))
            i++;
        words[n++] = (word){text + start, i - start};
    }
    qsort(words, n, sizeof *words, by_word);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!distinct || compare_words(&words[distinct - 1], &words[i]) != 0)
            words[distinct++] = words[i];
    *count = distinct;
    return words;
}

double ulm__agreement(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t na = 0, nb = 0;
    word *wa = word_set(a, a_len, &na);
    word *wb = wa ? word_set(b, b_len, &nb) : NULL;
    if (!wa || !wb) {
        free(wa);
        return -1;
    }
    size_t common = 0;
    for (size_t i = 0, j = 0; i < na && j < nb;) {
        int c = compare_words(&wa[i], &wb[j]);
        common += c == 0;
        i += c <= 0;
        j += c >= 0;
    }
    free(wa);
    free(wb);
    size_t either = na + nb - common;
    return either ? (double)common / (double)either : 1.0;
}
