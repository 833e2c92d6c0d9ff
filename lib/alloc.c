/* alloc.c - the library's allocator (counting what it holds; a hook fails the n-th allocation in tests) and text buffers. */
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static long fail_countdown; /* 0: never fail; tests only, so no lock */

/* The usable bytes of every block allocated here and not freed yet, in the whole process.
 * Relaxed: a gauge read now and then, never a decision. */
static _Atomic size_t held_bytes;

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&held_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

size_t ulm__heap_held(void)
{
    return atomic_load_explicit(&held_bytes, memory_order_relaxed);
}

void ulm__free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&held_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

void ulm__test_fail_alloc_after(long n)
{
    fail_countdown = n;
}

static int should_fail(void)
{
    if (fail_countdown <= 0)
        return 0;
    return --fail_countdown == 0;
}

void *ulm__malloc(size_t size)
{
    return should_fail() ? NULL : counted(malloc(size ? size : 1));
}

void *ulm__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : counted(calloc(count ? count : 1, size ? size : 1));
}

void *ulm__realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    size_t before = ptr ? malloc_usable_size(ptr) : 0;
    void *grown = realloc(ptr, size ? size : 1);
    if (!grown)
        return NULL; /* ptr is still there, as counted */
    atomic_fetch_sub_explicit(&held_bytes, before, memory_order_relaxed);
    return counted(grown);
}

char *ulm__strndup(const char *s, size_t n)
{
    char *copy = ulm__malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

char *ulm__strdup(const char *s)
{
    return s ? ulm__strndup(s, strlen(s)) : NULL;
}

void ulm__free_secret(char *s)
{
    if (!s)
        return;
    /* volatile so that the compiler cannot drop the wipe of memory about to be freed */
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    ulm__free(s);
}

int ulm__reserve(void **items, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return ULM_OK;
    size_t grown = *cap ? *cap * 2 : 4;
    void *p = ulm__realloc(*items, grown * elem);
    if (!p)
        return ULM_ENOMEM;
    *items = p;
    *cap = grown;
    return ULM_OK;
}

int ulm_text_append(ulm_text *b, const char *data, size_t len)
{
    if (!b || (!data && len))
        return ULM_EINVAL;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = ulm__realloc(b->data, cap);
        if (!grown)
            return ULM_ENOMEM;
        b->data = grown;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return ULM_OK;
}

int ulm_text_appendf(ulm_text *b, const char *fmt, ...)
{
    if (!b || !fmt)
        return ULM_EINVAL;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ULM_EINVAL;
    if ((size_t)n < sizeof small)
        return ulm_text_append(b, small, (size_t)n);
    char *big = ulm__malloc((size_t)n + 1);
    if (!big)
        return ULM_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ulm_text_append(b, big, (size_t)n);
    ulm__free(big);
    return rc;
}

void ulm_text_free(ulm_text *b)
{
    if (!b)
        return;
    ulm__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ulm__set_errbuf(char *errbuf, size_t size, const char *fmt, ...)
{
    if (!errbuf || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, size, fmt, ap);
    va_end(ap);
}
