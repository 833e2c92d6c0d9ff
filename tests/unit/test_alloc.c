/* test_alloc.c - the library's allocator counts every byte it holds, and nothing twice. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"

/* Each allocation adds its block's usable size, each free takes it away again. */
static void allocations_are_counted_by_usable_size(void **state)
{
    (void)state;
    size_t start = ulm__heap_held();
    char *a = ulm__malloc(100);
    assert_non_null(a);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(a));
    int *b = ulm__calloc(10, sizeof *b);
    assert_non_null(b);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(a) + malloc_usable_size(b));
    char *c = ulm__strdup("a copy");
    assert_non_null(c);
    size_t all = malloc_usable_size(a) + malloc_usable_size(b) + malloc_usable_size(c);
    assert_int_equal(ulm__heap_held(), start + all);
    ulm__free(b);
    ulm__free(c);
    ulm__free(NULL);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(a));
    ulm__free(a);
    assert_int_equal(ulm__heap_held(), start);
}

/* A block that grows or shrinks counts its new size only; a failed realloc, its old one. */
static void realloc_moves_the_count(void **state)
{
    (void)state;
    size_t start = ulm__heap_held();
    char *p = ulm__realloc(NULL, 16);
    assert_non_null(p);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(p));
    p = ulm__realloc(p, 100000);
    assert_non_null(p);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(p));
    ulm__test_fail_alloc_after(1);
    assert_null(ulm__realloc(p, 200000));
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(p));
    p = ulm__realloc(p, 8);
    assert_non_null(p);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(p));
    ulm__free(p);
    assert_int_equal(ulm__heap_held(), start);
}

/* ulm_text, the buffer adapters and programs build with, counts as it grows and frees. */
static void text_buffers_are_counted(void **state)
{
    (void)state;
    size_t start = ulm__heap_held();
    ulm_text t = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ulm_text_appendf(&t, "line %d of a growing buffer\n", i), ULM_OK);
    assert_int_equal(ulm__heap_held(), start + malloc_usable_size(t.data));
    ulm_text_free(&t);
    char *secret = ulm__strdup("sk-secret-0123456789");
    ulm__free_secret(secret);
    assert_int_equal(ulm__heap_held(), start);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_are_counted_by_usable_size),
        cmocka_unit_test(realloc_moves_the_count),
        cmocka_unit_test(text_buffers_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
