/* alloc.h - the library's allocator, growable buffers and fixed error buffers: the bottom layer. */
#ifndef ULM_ALLOC_H
#define ULM_ALLOC_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>

#include "ultrallm/provider.h"

#define ULM_HIDDEN __attribute__((visibility("hidden")))

/*
 * Every allocation of the library goes through these, so a test can make the n-th
 * one fail and walk the out-of-memory paths, and so that the library knows how much heap
 * it holds. What they allocate is freed with ulm__free(), never free(): the count would
 * drift. Memory that libcurl, jansson or the adapters allocate is theirs, freed their way.
 */
ULM_HIDDEN void *ulm__malloc(size_t size);
ULM_HIDDEN void *ulm__calloc(size_t count, size_t size);
ULM_HIDDEN void *ulm__realloc(void *ptr, size_t size);
ULM_HIDDEN char *ulm__strdup(const char *s);
ULM_HIDDEN char *ulm__strndup(const char *s, size_t n);
ULM_HIDDEN void ulm__free(void *p);

/* The usable bytes (malloc_usable_size) of every block the functions above allocated and
 * ulm__free() has not freed yet, in the whole process: clients, requests, responses and
 * round results a program holds included. */
ULM_HIDDEN size_t ulm__heap_held(void);
/* Wipes a secret before freeing it, so it does not linger in freed memory. */
ULM_HIDDEN void ulm__free_secret(char *s);

/* Test hook: the n-th allocation from now fails (0 disables). */
ULM_HIDDEN void ulm__test_fail_alloc_after(long n);

/* a + b for token counts (both >= 0), held at LONG_MAX: a backend may send any number,
 * and a sum past LONG_MAX would be undefined. */
static inline long ulm__count_sum(long a, long b)
{
    return a > LONG_MAX - b ? LONG_MAX : a + b;
}

/* Makes room for one more element after count in *items, doubling *cap when it is full. */
ULM_HIDDEN int ulm__reserve(void **items, size_t *cap, size_t count, size_t elem);

/* The core's growable byte buffer is ulm_text, the one adapters build bodies with
 * (provider.h); alloc.c implements it. */

/* snprintf that always terminates and never overruns, for fixed error buffers. */
ULM_HIDDEN void ulm__set_errbuf(char *errbuf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ULM_ALLOC_H */
