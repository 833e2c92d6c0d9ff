/* bench_alloc.h - counts every heap allocation of a benchmark process (library, libcurl, jansson, libc) by interposing malloc. */
#ifndef ULM_BENCH_ALLOC_H
#define ULM_BENCH_ALLOC_H

/*
 * The library has no public allocator hook, and its internal one (lib/alloc.c) does not
 * see what libcurl and jansson allocate on its behalf: parsing an answer is mostly
 * jansson's allocations. So a benchmark that includes this header (once, in its main
 * file) defines malloc, calloc, realloc, free and the aligned allocators itself; the
 * dynamic linker binds every caller in the process to these (the executable comes first
 * in the lookup order), and they forward to glibc's __libc_* entry points. Both sides of
 * a ratio are counted the same way, so allocations per call compare like with like.
 *
 * Counters are atomic (relaxed), so threads may allocate at once. Bytes are the usable
 * size of each block (malloc_usable_size), what the heap really hands out.
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

/* The build hides symbols by default; these must be seen by the shared libraries. */
#define BENCH_EXPORT __attribute__((visibility("default")))

typedef struct alloc_counts {
    long long calls; /* malloc, calloc, realloc and aligned allocations */
    long long bytes; /* usable bytes they handed out */
    long long live;  /* usable bytes allocated and not yet freed */
    long long peak;  /* the most live bytes since bench_alloc_reset_peak() */
} alloc_counts;

static _Atomic long long alloc_calls, alloc_bytes, alloc_live, alloc_peak;

static void alloc_note(void *p, size_t old_usable)
{
    long long got = p ? (long long)malloc_usable_size(p) : 0;
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&alloc_bytes, got, memory_order_relaxed);
    long long live = atomic_fetch_add_explicit(&alloc_live, got - (long long)old_usable,
                                               memory_order_relaxed) +
                     got - (long long)old_usable;
    long long peak = atomic_load_explicit(&alloc_peak, memory_order_relaxed);
    while (live > peak &&
           !atomic_compare_exchange_weak_explicit(&alloc_peak, &peak, live, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

BENCH_EXPORT void *malloc(size_t size)
{
    void *p = __libc_malloc(size);
    alloc_note(p, 0);
    return p;
}

BENCH_EXPORT void *calloc(size_t count, size_t size)
{
    void *p = __libc_calloc(count, size);
    alloc_note(p, 0);
    return p;
}

BENCH_EXPORT void *realloc(void *ptr, size_t size)
{
    size_t old = ptr ? malloc_usable_size(ptr) : 0;
    void *p = __libc_realloc(ptr, size);
    if (p || size == 0) /* a failed realloc leaves the old block in place */
        alloc_note(p, old);
    return p;
}

BENCH_EXPORT void *memalign(size_t alignment, size_t size)
{
    void *p = __libc_memalign(alignment, size);
    alloc_note(p, 0);
    return p;
}

BENCH_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return memalign(alignment, size);
}

BENCH_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p = memalign(alignment, size);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

BENCH_EXPORT void free(void *ptr)
{
    if (!ptr)
        return;
    atomic_fetch_sub_explicit(&alloc_live, (long long)malloc_usable_size(ptr),
                              memory_order_relaxed);
    __libc_free(ptr);
}

static inline alloc_counts bench_alloc_now(void)
{
    return (alloc_counts){atomic_load(&alloc_calls), atomic_load(&alloc_bytes),
                          atomic_load(&alloc_live), atomic_load(&alloc_peak)};
}

/* The peak starts again from what is live now. */
static inline void bench_alloc_reset_peak(void)
{
    atomic_store(&alloc_peak, atomic_load(&alloc_live));
}

#endif /* ULM_BENCH_ALLOC_H */
