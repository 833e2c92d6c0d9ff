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
#include <jansson.h>

#include "builtin.h"
#include "stream.h"

/* The answer text of the Anthropic and Gemini documentation fixtures (messages_end_turn,
 * generate_stop and their streams). */
#define FIXTURE_DOCS_TEXT                                                                  \
    "Bonjour ! Un caf\xc3\xa9 ? Caf\xc3\xa9 \xf0\x9f\x99\x82 \xe2\x80\x94 "                \
    "voil\xc3\xa0, c'est pr\xc3\xaat."

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
        assert_int_equal(ulm_text_append(&resp->body, body, length), ULM_OK);
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

/* error.message of a provider's error fixture, read independently of the library; the
 * caller frees it. */
static inline char *fixture_error_message(const char *name)
{
    size_t len;
    char *text = fixture_read(name, &len);
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    const char *message =
        json_string_value(json_object_get(json_object_get(root, "error"), "message"));
    assert_non_null(message);
    char *copy = strdup(message);
    json_decref(root);
    return copy;
}

/* A request of n messages with these roles and texts. */
static inline ulm_request *fixture_request_of(const ulm_role *roles, const char *const *texts,
                                              size_t n)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ulm_request_add_message(req, roles[i], texts[i]), ULM_OK);
    return req;
}

/* Builds op for model into http (cleared by the caller) and returns the body parsed. */
static inline json_t *fixture_build_json(ulm_provider *p, ulm_op op, const char *model,
                                         const ulm_request *req, ulm_http_request *http)
{
    memset(http, 0, sizeof *http);
    assert_int_equal(p->build(p, op, model, req, http), ULM_OK);
    json_error_t jerr;
    json_t *body = json_loadb(http->body, http->body_len, 0, &jerr);
    if (!json_is_object(body))
        fail_msg("the built body is not a JSON object: %s", jerr.text);
    return body;
}

/*
 * Builds a streamed chat for model with every allocation failing in turn, until one build
 * needs no failing allocation: each earlier one must end in ULM_ENOMEM (the valgrind and
 * sanitizer runs check that nothing leaks). The request has system text, two user
 * messages in a row, an assistant message, a temperature and a stop sequence.
 */
static inline void fixture_build_under_allocation_failures(ulm_provider *p, const char *model)
{
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_USER, ULM_ROLE_USER, ULM_ROLE_ASSISTANT};
    const char *texts[] = {"s", "a", "b", "c"};
    ulm_request *req = fixture_request_of(roles, texts, 4);
    assert_int_equal(ulm_request_set_temperature(req, 1.0), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "x"), ULM_OK);
    int rc = ULM_ENOMEM;
    for (long n = 1; rc == ULM_ENOMEM; n++) {
        ulm_http_request http = {0};
        ulm__test_fail_alloc_after(n);
        rc = p->build(p, ULM_OP_CHAT_STREAM, model, req, &http);
        ulm__test_fail_alloc_after(0);
        assert_true(rc == ULM_OK || rc == ULM_ENOMEM);
        ulm__http_request_clear(&http);
    }
    ulm_request_free(req);
}

/* body equals the JSON text expected, member order aside; else the test fails showing both. */
static inline void fixture_assert_json(json_t *body, const char *expected)
{
    json_t *want = json_loads(expected, 0, NULL);
    assert_non_null(want);
    if (!json_equal(body, want)) {
        char *got = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("body %s\nwanted %s", got, expected);
    }
    json_decref(want);
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
    ulm_text text;
    int calls;
} fixture_deltas;

/* Grows with realloc, not the library's allocator, so that a test failing the library's
 * allocations in turn never fails the collector's own. */
static inline int fixture_collect(const char *text, size_t length, void *payload)
{
    fixture_deltas *d = payload;
    d->calls++;
    char *grown = realloc(d->text.data, d->text.len + length + 1);
    assert_non_null(grown);
    memcpy(grown + d->text.len, text, length);
    d->text.data = grown;
    d->text.len += length;
    d->text.data[d->text.len] = '\0';
    d->text.cap = d->text.len + 1;
    return 0;
}

/* Test hook of fixture_stream(): the n-th allocation of the reading fails (0: none). */
static long fixture_stream_fail_after;

/*
 * Reads a 200 text/event-stream answer through the core's stream reader and provider p,
 * cut into pieces at the ascending offsets cuts[0..ncuts). Returns what the reader or
 * its finish returned; result and deltas (both cleared by the caller) hold the outcome.
 */
static inline int fixture_stream(ulm_provider *p, const char *body, size_t length,
                                 const size_t *cuts, size_t ncuts, ulm_result *result,
                                 fixture_deltas *deltas)
{
    ulm_clocks clocks;
    memset(&clocks, 0, sizeof clocks);
    ulm_stream_setup setup = {.provider = p, .result = result, .clocks = &clocks,
                              .on_delta = fixture_collect, .payload = deltas,
                              .max_text = 1u << 20, .max_line = 1u << 16, .max_event = 1u << 16};
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "text/event-stream", NULL, 0);
    ulm__result_init(result);
    ulm_stream st;
    ulm__test_fail_alloc_after(fixture_stream_fail_after); /* the reading's own, not the setup's */
    ulm__stream_init(&st, &setup);
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
    ulm__test_fail_alloc_after(0);
    ulm__stream_free(&st);
    ulm__http_response_clear(&resp);
    return rc;
}
/* What a test checks of a recorded stream once it has been read. */
typedef void (*fixture_stream_check)(const ulm_result *r, const fixture_deltas *d);

/*
 * Reads the recorded stream called name through p cut once at every byte, then one byte
 * at a time: each reading must end in expected and pass check.
 */
static inline void fixture_stream_every_cut(ulm_provider *p, const char *name, int expected,
                                            fixture_stream_check check)
{
    size_t len;
    char *body = fixture_read(name, &len);
    for (size_t cut = 0; cut <= len; cut++) {
        ulm_result r;
        fixture_deltas d = {0};
        int rc = fixture_stream(p, body, len, &cut, 1, &r, &d);
        if (rc != expected)
            fail_msg("%s cut at %zu: %s", name, cut, ulm_error_name(rc));
        check(&r, &d);
        ulm__result_clear(&r);
        ulm_text_free(&d.text);
    }
    size_t *cuts = malloc(len * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(p, body, len, cuts, len, &r, &d), expected);
    check(&r, &d);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
    free(cuts);
    free(body);
}

/*
 * Reads the recorded stream called name with every allocation of the library failing in
 * turn, until one reading needs no failing allocation and ends in expected: each earlier
 * one must end in ULM_ENOMEM (valgrind and the sanitizers check that nothing leaks).
 */
static inline void fixture_stream_under_allocation_failures(ulm_provider *p, const char *name,
                                                            int expected)
{
    size_t len;
    char *body = fixture_read(name, &len);
    ulm_result clean;
    fixture_deltas clean_deltas = {0};
    assert_int_equal(fixture_stream(p, body, len, NULL, 0, &clean, &clean_deltas), expected);
    int rc = ULM_ENOMEM;
    for (long n = 1; rc == ULM_ENOMEM; n++) {
        ulm_result r;
        fixture_deltas d = {0};
        fixture_stream_fail_after = n;
        rc = fixture_stream(p, body, len, NULL, 0, &r, &d);
        fixture_stream_fail_after = 0;
        if (rc != ULM_ENOMEM && rc != expected)
            fail_msg("%s with allocation %ld failing: %s", name, n, ulm_error_name(rc));
        /* a failure nobody reported would show as a reading unlike the clean one */
        if (rc == expected && (r.text_len != clean.text_len ||
                               (r.text_len && memcmp(r.text, clean.text, r.text_len) != 0)))
            fail_msg("%s with allocation %ld failing: the text differs", name, n);
        ulm__result_clear(&r);
        ulm_text_free(&d.text);
    }
    ulm__result_clear(&clean);
    ulm_text_free(&clean_deltas.text);
    free(body);
}

#endif /* ULM_TEST_FIXTURE_H */
