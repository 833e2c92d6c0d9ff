/* test_error_policy.c - docs/errors.md's table says what lib/error.c's policy table does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error_policy.h"

/* The classes a chain never ends an attempt with: their "falls back" cell is "—". */
static int outside_the_chain(int code)
{
    return code == ULM_EINVAL || code == ULM_ENOMEM || code == ULM_ECONFIG ||
           code == ULM_EVERSION || code == ULM_EMODEL_LOADING;
}

/* The cell after the n-th '|' of a table row, trimmed, into out. */
static void cell(const char *row, int n, char *out, size_t size)
{
    const char *p = row;
    for (int i = 0; i < n && p; i++)
        p = strchr(p + 1, '|');
    assert_non_null(p);
    p++;
    const char *end = strchr(p, '|');
    assert_non_null(end);
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    snprintf(out, size, "%.*s", (int)(end - p), p);
}

static void the_docs_table_matches_the_policy(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/errors.md", getenv("ULM_DOCS") ? getenv("ULM_DOCS") : "docs");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s (ULM_DOCS names the docs directory)", path);
    char row[2048];
    int seen[64] = {0};
    while (fgets(row, sizeof row, f)) {
        int code;
        if (sscanf(row, "| %d |", &code) != 1)
            continue;
        assert_true(code <= 0 && -code < 64);
        seen[-code] = 1;
        char name[64], retryable[32], falls[64];
        cell(row, 1, name, sizeof name);
        cell(row, 2, retryable, sizeof retryable);
        cell(row, 3, falls, sizeof falls);
        char quoted[80];
        snprintf(quoted, sizeof quoted, "`%s`", ulm_error_name(code));
        if (strcmp(name, quoted) != 0)
            fail_msg("errors.md: %d is %s, the library calls it %s", code, name, quoted);
        const ulm_error_policy *p = ulm__error_policy(code);
        if (strcmp(retryable, p->retryable ? "yes" : "no") != 0)
            fail_msg("errors.md: %s retryable \"%s\", the table says %d", name, retryable,
                     p->retryable);
        const char *expected = outside_the_chain(code)                   ? "—"
                               : p->falls_back == ULM_FALLBACK_YES        ? "yes"
                               : p->falls_back == ULM_FALLBACK_LOCAL      ? "local: yes, cloud: **no**"
                                                                          : NULL;
        if (expected ? strcmp(falls, expected) != 0
                     : strcmp(falls, "no") != 0 && strcmp(falls, "**no**") != 0)
            fail_msg("errors.md: %s falls back \"%s\", the table says %s", name, falls,
                     expected ? expected : "no");
    }
    fclose(f);
    /* every class the library has is in the table */
    for (int code = 0; code > -64; code--)
        if (strcmp(ulm_error_name(code), "unknown") != 0 && !seen[-code] && code != ULM_OK)
            fail_msg("errors.md has no row for %d (%s)", code, ulm_error_name(code));
}

/* What the routing policy needs of the table, as rules. */
static void the_policy_is_consistent(void **state)
{
    (void)state;
    for (int code = 0; code > -64; code--) {
        if (strcmp(ulm_error_name(code), "unknown") == 0)
            continue;
        const ulm_error_policy *p = ulm__error_policy(code);
        if (p->retry_here)
            assert_true(p->retryable); /* only what may succeed later is asked again */
        if (p->other_deployment)
            assert_true(p->breaker); /* another deployment when this one is unwell */
        if (p->unreachable)
            assert_true(p->other_deployment);
    }
    /* the overall deadline ends the call everywhere */
    assert_int_equal(ulm__error_policy(ULM_ETIMEOUT)->falls_back, ULM_FALLBACK_NO);
    assert_int_equal(ulm__error_policy(ULM_ETIMEOUT)->other_deployment, 0);
    assert_int_equal(ulm__error_policy(ULM_EMODEL_LOADING)->wait_ms, 500);
    assert_int_equal(ulm__error_policy(-1000)->falls_back, ULM_FALLBACK_NO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_docs_table_matches_the_policy),
        cmocka_unit_test(the_policy_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
