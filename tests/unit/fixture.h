/* fixture.h - loads recorded bodies for the adapter tests and parses them through a provider. */
#ifndef ULM_TEST_FIXTURE_H
#define ULM_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/*
 * Reads the fixture at <ULM_FIXTURES>/<name> (ULM_FIXTURES defaults to tests/fixtures)
 * into a NUL-terminated malloc'ed buffer; *length (if not NULL) gets its size. A missing
 * or unreadable fixture fails the running test.
 */
static inline char *fixture_read(const char *name, size_t *length)
{
    const char *dir = getenv("ULM_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed)
        fail_msg("cannot read fixture %s", path);
    data[len] = '\0';
    if (length)
        *length = len;
    return data;
}

/* Fills resp (zeroed first) with a status, a Content-Type (NULL: none) and a body. */
static inline void fixture_response_from(ulm_http_response *resp, int status,
                                         const char *content_type, const char *body,
                                         size_t length)
{
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    if (length)
        assert_int_equal(ulm__buf_append(&resp->body, body, length), ULM_OK);
    if (content_type) {
        resp->content_type = ulm__strdup(content_type);
        assert_non_null(resp->content_type);
    }
}

/* Fills resp with a status, a Content-Type and the body of the fixture called name. */
static inline void fixture_response(ulm_http_response *resp, int status,
                                    const char *content_type, const char *name)
{
    size_t length;
    char *body = fixture_read(name, &length);
    fixture_response_from(resp, status, content_type, body, length);
    free(body);
}


/* Parses resp through the provider, which must succeed (a classified error is a success). */
static inline void fixture_parse(ulm_provider *p, ulm_op op, ulm_http_response *resp,
                                 ulm_result *result)
{
    ulm__result_init(result);
    assert_int_equal(p->parse(p, op, resp, result), ULM_OK);
    ulm__http_response_clear(resp);
}

/* Parses a fixture file served with status and content_type. */
static inline void fixture_parse_file(ulm_provider *p, ulm_op op, int status,
                                      const char *content_type, const char *name,
                                      ulm_result *result)
{
    ulm_http_response resp;
    fixture_response(&resp, status, content_type, name);
    fixture_parse(p, op, &resp, result);
}

#endif /* ULM_TEST_FIXTURE_H */
