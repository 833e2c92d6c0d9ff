/* agreement.h - how much two answers agree, measured cheaply: the overlap of their word sets. */
#ifndef ULM_AGREEMENT_H
#define ULM_AGREEMENT_H

#include "alloc.h"

/* Two answers agree when their score reaches this; a member dissents when it agrees with
 * fewer than half of the other members that answered. */
#define ULM_AGREEMENT_THRESHOLD 0.5

/* The distinct words of one text, built once so that comparing n answers pairwise reads
 * each answer once, not n - 1 times. */
typedef struct ulm_word_set ulm_word_set;

/* The word set of text (which it does not keep); NULL when memory ran out. */
ULM_HIDDEN ulm_word_set *ulm__word_set_new(const char *text, size_t length);
ULM_HIDDEN void ulm__word_set_free(ulm_word_set *set);

/*
 * The Jaccard index of the two texts' sets of words: |A and B| / |A or B|, from 0 (no word
 * in common) to 1 (the same words). A word is a run of letters and digits (ASCII compared
 * without case, other bytes as they are). Two texts without words score 1. It measures the
 * same vocabulary, not the same meaning: a paraphrase scores low, a contradiction that
 * reuses the other's words scores high.
 */
ULM_HIDDEN double ulm__word_set_agreement(const ulm_word_set *a, const ulm_word_set *b);

/* The same for two texts; -1 when memory ran out. */
ULM_HIDDEN double ulm__agreement(const char *a, size_t a_len, const char *b, size_t b_len);

#endif /* ULM_AGREEMENT_H */
