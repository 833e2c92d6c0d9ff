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

#include "client.h"
#include "stream.h"

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

/* What a streamed answer handed to on_delta, joined. */
typedef struct fixture_deltas {
    ulm_buf text;
    int calls;
} fixture_deltas;

static inline int fixture_collect(const char *text, size_t length, void *payload)
{
    fixture_deltas *d = payload;
    d->calls++;
    return ulm__buf_append(&d->text, text, length) == ULM_OK ? 0 : 1;
}

/*
 * Reads a 200 text/event-stream answer through the core's stream reader and provider p,
 * cut into pieces at the ascending offsets cuts[0..ncuts). Returns what the reader or
 * its finish returned; result and deltas (both cleared by the caller) hold the outcome.
 */
static inline int fixture_stream(ulm_provider *p, const char *body, size_t length,
                                 const size_t *cuts, size_t ncuts, ulm_result *result,
                                 fixture_deltas *deltas)
{
    ulm_client client;
    memset(&client, 0, sizeof client);
    client.settings.max_response_bytes = 1u << 20;
    client.settings.max_event_line_bytes = 1u << 16;
    client.settings.max_event_bytes = 1u << 16;
    ulm_clocks clocks;
    memset(&clocks, 0, sizeof clocks);
    ulm_exchange_io io = {.clocks = &clocks, .on_delta = fixture_collect, .delta_payload = deltas};
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "text/event-stream", NULL, 0);
    ulm__result_init(result);
    ulm_stream st;
    ulm__stream_init(&st, &client, p, result, &io);
    int rc = ULM_OK;
    size_t from = 0;
    for (size_t i = 0; rc == ULM_OK && i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : length;
        if (to > from)
            rc = ulm__stream_on_body(&st, &resp, body + from, to - from);
        from = to;
    }
    if (rc == ULM_OK)
        rc = ulm__stream_finish(&st, &resp);
    ulm__stream_free(&st);
    ulm__http_response_clear(&resp);
    return rc;
}

#endif /* ULM_TEST_FIXTURE_H */
