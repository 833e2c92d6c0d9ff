/* agreement.c - how much two answers agree, measured cheaply: the overlap of their word sets. */
#include <stdlib.h>
#include <string.h>

#include "agreement.h"

typedef struct word {
    const char *at; /* in the set's folded copy of the text */
    size_t len;
} word;

struct ulm_word_set {
    size_t count; /* distinct words, sorted */
    word *words;
    char *folded; /* the text with ASCII letters in lower case, so words compare by memcmp */
};

static int word_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch >= 0x80;
}

static int compare_words(const word *x, const word *y)
{
    int c = memcmp(x->at, y->at, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int by_word(const void *x, const void *y)
{
    return compare_words(x, y);
}

ulm_word_set *ulm__word_set_new(const char *text, size_t length)
{
    size_t cap = 0;
    for (size_t i = 0; i < length; i++)
        cap += word_byte((unsigned char)text[i]) &&
               (i == 0 || !word_byte((unsigned char)text[i - 1]));
    /* one block: the set, its words, then the folded text */
    size_t words_at = sizeof(ulm_word_set);
    size_t text_at = words_at + (cap ? cap : 1) * sizeof(word);
    ulm_word_set *set = ulm__malloc(text_at + length + 1);
    if (!set)
        return NULL;
    set->words = (word *)((char *)set + words_at);
    set->folded = (char *)set + text_at;
    for (size_t i = 0; i < length; i++) {
        unsigned char ch = (unsigned char)text[i];
        set->folded[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
    }
    set->folded[length] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < length;) {
        if (!word_byte((unsigned char)set->folded[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < length && word_byte((unsigned char)set->folded[i]))
            i++;
        set->words[n++] = (word){set->folded + start, i - start};
    }
    qsort(set->words, n, sizeof *set->words, by_word);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!distinct || compare_words(&set->words[distinct - 1], &set->words[i]) != 0)
            set->words[distinct++] = set->words[i];
    set->count = distinct;
    return set;
}

void ulm__word_set_free(ulm_word_set *set)
{
    ulm__free(set);
}

double ulm__word_set_agreement(const ulm_word_set *a, const ulm_word_set *b)
{
    size_t common = 0;
    for (size_t i = 0, j = 0; i < a->count && j < b->count;) {
        int c = compare_words(&a->words[i], &b->words[j]);
        common += c == 0;
        i += c <= 0;
        j += c >= 0;
    }
    size_t either = a->count + b->count - common;
    return either ? (double)common / (double)either : 1.0;
}

double ulm__agreement(const char *a, size_t a_len, const char *b, size_t b_len)
{
    ulm_word_set *wa = ulm__word_set_new(a, a_len);
    ulm_word_set *wb = wa ? ulm__word_set_new(b, b_len) : NULL;
    double score = wa && wb ? ulm__word_set_agreement(wa, wb) : -1;
    ulm__word_set_free(wa);
    ulm__word_set_free(wb);
    return score;
}
