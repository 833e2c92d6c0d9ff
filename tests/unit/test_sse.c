/* test_sse.c - the SSE framer: same events under every chunking, the spec's edge cases, caps, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "sse.h"

/* ------------------------------------------------------------ recordings */

/* Payloads are macros so that a recording and its expected events share one spelling. */
#define OA_HEAD "{\"id\":\"chatcmpl-9xQ\",\"object\":\"chat.completion.chunk\",\"created\":1718000000," \
                "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_0ba0d124f1\","
#define OA_ROLE OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}," \
                        "\"logprobs\":null,\"finish_reason\":null}]}"
#define OA_HELLO OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}," \
                         "\"logprobs\":null,\"finish_reason\":null}]}"
#define OA_UNICODE OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\", Ünïcödé\"}," \
                           "\"logprobs\":null,\"finish_reason\":null}]}"
#define OA_EMOJI OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 🚀 liftoff\"}," \
                         "\"logprobs\":null,\"finish_reason\":null}]}"
#define OA_FINISH OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null," \
                          "\"finish_reason\":\"stop\"}]}"
#define OA_USAGE OA_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5," \
                         "\"total_tokens\":14}}"

/* An OpenAI chat completion as it arrives: one unnamed event per chunk, then [DONE]. */
static const char openai_recording[] =
    "data: " OA_ROLE "\n\n"
    "data: " OA_HELLO "\n\n"
    "data: " OA_UNICODE "\n\n"
    "data: " OA_EMOJI "\n\n"
    "data: " OA_FINISH "\n\n"
    "data: " OA_USAGE "\n\n"
    "data: [DONE]\n\n";

#define AN_START "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\"," \
                 "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-sonnet\"," \
                 "\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}"
#define AN_BLOCK "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"
#define AN_PING "{\"type\": \"ping\"}"
#define AN_DELTA1 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Grüße, \"}}"
#define AN_DELTA2 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"日本語 😀\"}}"
#define AN_STOP "{\"type\":\"content_block_stop\",\"index\":0}"
#define AN_MDELTA "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}," \
                  "\"usage\":{\"output_tokens\":15}}"
#define AN_MSTOP "{\"type\":\"message_stop\"}"

/* Anthropic-style: every event is named. */
static const char anthropic_recording[] =
    "event: message_start\ndata: " AN_START "\n\n"
    "event: content_block_start\ndata: " AN_BLOCK "\n\n"
    "event: ping\ndata: " AN_PING "\n\n"
    "event: content_block_delta\ndata: " AN_DELTA1 "\n\n"
    "event: content_block_delta\ndata: " AN_DELTA2 "\n\n"
    "event: content_block_stop\ndata: " AN_STOP "\n\n"
    "event: message_delta\ndata: " AN_MDELTA "\n\n"
    "event: message_stop\ndata: " AN_MSTOP "\n\n";

/* Everything else the specification allows, with CRLF, lone CR and LF line ends mixed. */
static const char edge_recording[] =
    ": keep-alive\r\n"
    "\r\n"                          /* a blank line with no data dispatches nothing */
    "id: 7\r\n"
    "retry: 3000\r\n"
    "event: greeting\r\n"
    "data: first line\r\n"
    "data:second line\r\n"          /* no space after the colon */
    "\r\n"
    "data: lone CR ends this\r"
    "field-without-colon\r"         /* an unknown field, ignored */
    "\r"
    "event: orphan\n"
    "id: 8\n"
    "dataset: not a data field\n"  /* unknown although it begins with "data" */
    "\n"                            /* a name but no data: not dispatched */
    "data:  two spaces\n"           /* only the first space goes */
    ": comment\r\n"
    "\n"
    "data\r\n"                      /* the field name alone: data with an empty value */
    "\r\n"
    "data: {\"mixed\":\"endings\"}\r\n"
    "\n"
    "data: [DONE]\r\n\r\n"
    "event: unfinished\ndata: never dispatched"; /* open at the end: dropped */

typedef struct expected_event {
    const char *name;
    const char *data;
} expected_event;

static const expected_event openai_events[] = {
    {"", OA_ROLE}, {"", OA_HELLO}, {"", OA_UNICODE}, {"", OA_EMOJI},
    {"", OA_FINISH}, {"", OA_USAGE}, {"", "[DONE]"},
};

static const expected_event anthropic_events[] = {
    {"message_start", AN_START},         {"content_block_start", AN_BLOCK},
    {"ping", AN_PING},                   {"content_block_delta", AN_DELTA1},
    {"content_block_delta", AN_DELTA2},  {"content_block_stop", AN_STOP},
    {"message_delta", AN_MDELTA},        {"message_stop", AN_MSTOP},
};

static const expected_event edge_events[] = {
    {"greeting", "first line\nsecond line"},
    {"", "lone CR ends this"},
    {"", " two spaces"},
    {"", ""},
    {"", "{\"mixed\":\"endings\"}"},
    {"", "[DONE]"},
};

typedef struct recording {
    const char *label;
    const char *bytes;
    size_t len;
    const expected_event *events;
    size_t event_count;
} recording;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const recording recordings[] = {
    {"openai", openai_recording, sizeof openai_recording - 1, openai_events, COUNT(openai_events)},
    {"anthropic", anthropic_recording, sizeof anthropic_recording - 1, anthropic_events,
     COUNT(anthropic_events)},
    {"edge", edge_recording, sizeof edge_recording - 1, edge_events, COUNT(edge_events)},
};

/* ------------------------------------------------------------ recording what the framer emits */

typedef struct seen_event {
    char *name;
    char *data;
    size_t data_len;
} seen_event;

/* Events the framer emitted. Plain malloc, so the allocation-failure hook sees only the framer's. */
typedef struct event_log {
    seen_event *items;
    size_t count, cap;
    size_t stop_after; /* when non-zero, emit returns stop_code once this many were seen */
    int stop_code;
} event_log;

static char *copy_bytes(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    assert_non_null(c);
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

static int record_event(void *ctx, const ulm_sse_event *ev)
{
    event_log *log = ctx;
    size_t len = 12345;
    const char *data = ulm_sse_event_data(ev, &len);
    assert_int_equal(len, ev->data_len);
    assert_int_equal(data[len], '\0'); /* the framer promises NUL-terminated data */
    if (log->count == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 8;
        log->items = realloc(log->items, log->cap * sizeof *log->items);
        assert_non_null(log->items);
    }
    seen_event *e = &log->items[log->count++];
    e->name = copy_bytes(ulm_sse_event_name(ev), strlen(ulm_sse_event_name(ev)));
    e->data = copy_bytes(data, len); /* copied: the framer reuses its buffers */
    e->data_len = len;
    if (log->stop_after && log->count == log->stop_after)
        return log->stop_code;
    return ULM_OK;
}

static void log_clear(event_log *log)
{
    for (size_t i = 0; i < log->count; i++) {
        free(log->items[i].name);
        free(log->items[i].data);
    }
    free(log->items);
    memset(log, 0, sizeof *log);
}

static void assert_logs_equal(const event_log *want, const event_log *got, const char *how)
{
    if (got->count != want->count)
        fail_msg("%s: %zu events, want %zu", how, got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        const seen_event *w = &want->items[i], *g = &got->items[i];
        if (strcmp(w->name, g->name) != 0 || w->data_len != g->data_len ||
            memcmp(w->data, g->data, w->data_len) != 0)
            fail_msg("%s: event %zu is [%s] \"%s\", want [%s] \"%s\"", how, i, g->name, g->data,
                     w->name, w->data);
    }
}

static void assert_log_is(const event_log *got, const expected_event *want, size_t count)
{
    assert_int_equal(got->count, count);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(got->items[i].name, want[i].name);
        assert_int_equal(got->items[i].data_len, strlen(want[i].data));
        assert_memory_equal(got->items[i].data, want[i].data, strlen(want[i].data));
    }
}

/* Caps far above the recordings, for tests not about caps. */
#define ROOMY 65536

/* Feeds bytes cut at the ascending offsets cuts[0..ncuts) into a fresh framer. */
static void feed_cut(const recording *r, const size_t *cuts, size_t ncuts, event_log *log)
{
    ulm_sse s;
    ulm__sse_init(&s, ROOMY, ROOMY);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : r->len;
        int rc = ulm__sse_feed(&s, r->bytes + from, to - from, record_event, log);
        if (rc != ULM_OK)
            fail_msg("%s: feeding [%zu,%zu) returned %d", r->label, from, to, rc);
        from = to;
    }
    assert_null(s.overflow);
    ulm__sse_free(&s);
}

static void feed_whole(const char *bytes, size_t len, event_log *log)
{
    recording r = {"whole", bytes, len, NULL, 0};
    feed_cut(&r, NULL, 0, log);
}

/* A fixed-seed xorshift, so a failing chunking can be reproduced. */
static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* ------------------------------------------------------------ chunk boundaries */

static void whole_recordings_give_the_expected_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(recordings); i++) {
        event_log log = {0};
        feed_cut(&recordings[i], NULL, 0, &log);
        assert_log_is(&log, recordings[i].events, recordings[i].event_count);
        log_clear(&log);
    }
}

static void every_two_way_split_gives_the_same_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(recordings); i++) {
        const recording *r = &recordings[i];
        event_log want = {0};
        feed_cut(r, NULL, 0, &want);
        for (size_t k = 0; k <= r->len; k++) {
            event_log got = {0};
            feed_cut(r, &k, 1, &got);
            char how[64];
            snprintf(how, sizeof how, "%s split at %zu", r->label, k);
            assert_logs_equal(&want, &got, how);
            log_clear(&got);
        }
        log_clear(&want);
    }
}

static void three_way_splits_give_the_same_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(recordings); i++) {
        const recording *r = &recordings[i];
        event_log want = {0};
        feed_cut(r, NULL, 0, &want);
        size_t step = r->len / 60 + 1; /* coarse, and not a divisor of typical line lengths */
        for (size_t a = 0; a <= r->len; a += step) {
            for (size_t b = a; b <= r->len; b += step) {
                size_t cuts[2] = {a, b};
                event_log got = {0};
                feed_cut(r, cuts, 2, &got);
                char how[64];
                snprintf(how, sizeof how, "%s split at %zu and %zu", r->label, a, b);
                assert_logs_equal(&want, &got, how);
                log_clear(&got);
            }
        }
        log_clear(&want);
    }
}

static void one_byte_at_a_time_gives_the_same_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(recordings); i++) {
        const recording *r = &recordings[i];
        size_t *cuts = malloc(r->len * sizeof *cuts);
        assert_non_null(cuts);
        for (size_t k = 1; k < r->len; k++)
            cuts[k - 1] = k;
        event_log got = {0};
        feed_cut(r, cuts, r->len - 1, &got);
        assert_log_is(&got, r->events, r->event_count);
        log_clear(&got);
        free(cuts);
    }
}

static void random_chunkings_give_the_same_events(void **state)
{
    (void)state;
    uint32_t seed = 0x9E3779B9u;
    for (size_t i = 0; i < COUNT(recordings); i++) {
        const recording *r = &recordings[i];
        event_log want = {0};
        feed_cut(r, NULL, 0, &want);
        size_t *cuts = malloc((r->len + 1) * sizeof *cuts);
        assert_non_null(cuts);
        for (int round = 0; round < 500; round++) {
            /* half the rounds in tiny chunks, half in chunks up to a few lines long */
            uint32_t most = round % 2 ? 8 : 400;
            size_t n = 0;
            for (size_t at = 0;;) {
                at += 1 + xorshift32(&seed) % most;
                if (at >= r->len)
                    break;
                cuts[n++] = at;
            }
            event_log got = {0};
            feed_cut(r, cuts, n, &got);
            char how[64];
            snprintf(how, sizeof how, "%s random round %d (%zu cuts)", r->label, round, n);
            assert_logs_equal(&want, &got, how);
            log_clear(&got);
        }
        free(cuts);
        log_clear(&want);
    }
}

static void utf8_split_inside_a_character_arrives_whole(void **state)
{
    (void)state;
    static const char stream[] = "data: rocket \xF0\x9F\x9A\x80 up\n\n";
    static const char want[] = "rocket \xF0\x9F\x9A\x80 up";
    const char *emoji = strstr(stream, "\xF0");
    size_t at = (size_t)(emoji - stream);
    recording r = {"utf8", stream, sizeof stream - 1, NULL, 0};
    /* a cut after each of the emoji's first three bytes, then all three at once */
    size_t all[3] = {at + 1, at + 2, at + 3};
    for (size_t k = 0; k < 4; k++) {
        event_log got = {0};
        if (k < 3)
            feed_cut(&r, &all[k], 1, &got);
        else
            feed_cut(&r, all, 3, &got);
        assert_int_equal(got.count, 1);
        assert_int_equal(got.items[0].data_len, sizeof want - 1);
        assert_memory_equal(got.items[0].data, want, sizeof want - 1);
        log_clear(&got);
    }
}

static void crlf_split_between_cr_and_lf_is_one_line_end(void **state)
{
    (void)state;
    ulm_sse s;
    ulm__sse_init(&s, ROOMY, ROOMY);
    event_log log = {0};
    assert_int_equal(ulm__sse_feed(&s, "data: a\r", 8, record_event, &log), ULM_OK);
    assert_int_equal(ulm__sse_feed(&s, "", 0, record_event, &log), ULM_OK); /* keeps the CR */
    assert_int_equal(ulm__sse_feed(&s, "\n", 1, record_event, &log), ULM_OK);
    assert_int_equal(log.count, 0); /* that LF finished "data: a", it is no blank line */
    assert_int_equal(ulm__sse_feed(&s, "\n", 1, record_event, &log), ULM_OK);
    assert_int_equal(log.count, 1);
    assert_string_equal(log.items[0].data, "a");
    ulm__sse_free(&s);
    log_clear(&log);
}

/* ------------------------------------------------------------ the specification's rules */

static void open_event_at_end_of_input_is_not_dispatched(void **state)
{
    (void)state;
    ulm_sse s;
    ulm__sse_init(&s, ROOMY, ROOMY);
    event_log log = {0};
    assert_int_equal(ulm__sse_feed(&s, "data: a\n", 8, record_event, &log), ULM_OK);
    assert_int_equal(log.count, 0);
    /* it was pending, not lost: the blank line would still dispatch it */
    assert_int_equal(ulm__sse_feed(&s, "\n", 1, record_event, &log), ULM_OK);
    assert_int_equal(log.count, 1);
    assert_string_equal(log.items[0].data, "a");
    ulm__sse_free(&s);
    log_clear(&log);
}

static void empty_data_dispatches_an_empty_event(void **state)
{
    (void)state;
    static const char stream[] = "data:\n\ndata: \n\n";
    event_log log = {0};
    feed_whole(stream, sizeof stream - 1, &log);
    static const expected_event want[] = {{"", ""}, {"", ""}};
    assert_log_is(&log, want, COUNT(want));
    log_clear(&log);
}

/* The specification drops one byte order mark at the start, even split across chunks. */
static void leading_byte_order_mark_is_dropped(void **state)
{
    (void)state;
    static const char stream[] = "\xEF\xBB\xBF" "data: x\n\n\xEF\xBB\xBF" "data: y\n\n";
    static const expected_event want[] = {{"", "x"}};
    for (size_t cut = 0; cut <= sizeof stream - 1; cut++) {
        recording r = {"bom", stream, sizeof stream - 1, NULL, 0};
        event_log log = {0};
        feed_cut(&r, &cut, 1, &log);
        assert_log_is(&log, want, COUNT(want)); /* a later mark is part of a field name */
        log_clear(&log);
    }
}

static void blank_line_separates_events(void **state)
{
    (void)state;
    static const char stream[] = "data: a\ndata: b\n\ndata: c\n\n";
    event_log log = {0};
    feed_whole(stream, sizeof stream - 1, &log);
    static const expected_event want[] = {{"", "a\nb"}, {"", "c"}};
    assert_log_is(&log, want, COUNT(want));
    log_clear(&log);
}

static void event_name_resets_between_events(void **state)
{
    (void)state;
    /* the second event has no name of its own; the dropped third's name must not reach the fourth */
    static const char stream[] = "event: x\ndata: 1\n\ndata: 2\n\nevent: lost\n\ndata: 3\n\n"
                                 "event: long-name\ndata: 4\n\nevent: y\ndata: 5\n\n";
    event_log log = {0};
    feed_whole(stream, sizeof stream - 1, &log);
    static const expected_event want[] = {
        {"x", "1"}, {"", "2"}, {"", "3"}, {"long-name", "4"}, {"y", "5"}};
    assert_log_is(&log, want, COUNT(want));
    log_clear(&log);
}

static void emit_error_stops_the_feed(void **state)
{
    (void)state;
    static const int codes[] = {ULM_ECANCELLED, 7};
    for (size_t i = 0; i < COUNT(codes); i++) {
        ulm_sse s;
        ulm__sse_init(&s, ROOMY, ROOMY);
        event_log log = {.stop_after = 2, .stop_code = codes[i]};
        int rc = ulm__sse_feed(&s, openai_recording, sizeof openai_recording - 1, record_event,
                               &log);
        assert_int_equal(rc, codes[i]);
        assert_int_equal(log.count, 2); /* nothing framed after the refusal */
        assert_string_equal(log.items[1].data, OA_HELLO);
        ulm__sse_free(&s);
        log_clear(&log);
    }
}

/* ------------------------------------------------------------ caps */

static void line_at_the_cap_passes_and_one_byte_more_fails(void **state)
{
    (void)state;
    static const char fits[] = "data: 0123456789\n\n"; /* a 16-byte line */
    static const char over[] = "data: 0123456789A\n\n";
    event_log log = {0};
    ulm_sse s;
    ulm__sse_init(&s, 16, ROOMY);
    assert_int_equal(ulm__sse_feed(&s, fits, sizeof fits - 1, record_event, &log), ULM_OK);
    assert_null(s.overflow);
    assert_int_equal(log.count, 1);
    assert_int_equal(ulm__sse_feed(&s, over, sizeof over - 1, record_event, &log),
                     ULM_ETOO_LARGE);
    assert_non_null(s.overflow);
    assert_string_equal(s.overflow, "line");
    assert_int_equal(log.count, 1);
    ulm__sse_free(&s);

    /* the same two lines, one byte at a time: the cap must not depend on chunking */
    ulm__sse_init(&s, 16, ROOMY);
    for (size_t i = 0; i < sizeof fits - 1; i++)
        assert_int_equal(ulm__sse_feed(&s, fits + i, 1, record_event, &log), ULM_OK);
    assert_int_equal(log.count, 2);
    int rc = ULM_OK;
    size_t i = 0;
    while (rc == ULM_OK && i < sizeof over - 1)
        rc = ulm__sse_feed(&s, over + i++, 1, record_event, &log);
    assert_int_equal(rc, ULM_ETOO_LARGE);
    assert_int_equal(i, 17); /* the 17th byte of the line is the one too many */
    assert_string_equal(s.overflow, "line");
    ulm__sse_free(&s);
    log_clear(&log);
}

static void long_line_in_one_chunk_is_refused(void **state)
{
    (void)state;
    size_t len = 10000;
    char *line = malloc(len + 1);
    assert_non_null(line);
    memcpy(line, "data: ", 6);
    memset(line + 6, 'x', len - 7);
    line[len - 1] = '\n';
    ulm_sse s;
    ulm__sse_init(&s, 64, ROOMY);
    event_log log = {0};
    /* with its end in the chunk, and without */
    assert_int_equal(ulm__sse_feed(&s, line, len, record_event, &log), ULM_ETOO_LARGE);
    assert_string_equal(s.overflow, "line");
    assert_true(s.line.len <= 64);
    ulm__sse_free(&s);
    ulm__sse_init(&s, 64, ROOMY);
    assert_int_equal(ulm__sse_feed(&s, line, len - 1, record_event, &log), ULM_ETOO_LARGE);
    assert_string_equal(s.overflow, "line");
    assert_true(s.line.len <= 64);
    assert_int_equal(log.count, 0);
    ulm__sse_free(&s);
    free(line);
}

static void long_line_growing_across_chunks_is_refused_at_the_cap(void **state)
{
    (void)state;
    ulm_sse s;
    ulm__sse_init(&s, 64, ROOMY);
    event_log log = {0};
    assert_int_equal(ulm__sse_feed(&s, "data: ", 6, record_event, &log), ULM_OK);
    int rc = ULM_OK;
    size_t fed = 6;
    while (rc == ULM_OK && fed < 100000) {
        rc = ulm__sse_feed(&s, "xxxxxxx", 7, record_event, &log);
        fed += 7;
    }
    assert_int_equal(rc, ULM_ETOO_LARGE);
    assert_string_equal(s.overflow, "line");
    assert_true(fed <= 64 + 7); /* refused as soon as the cap was passed, not later */
    assert_true(s.line.len <= 64); /* and the refused bytes were not kept */
    ulm__sse_free(&s);

    /* a line kept in part, whose end then arrives in a chunk that overruns the cap */
    ulm__sse_init(&s, 16, ROOMY);
    assert_int_equal(ulm__sse_feed(&s, "data: 0123", 10, record_event, &log), ULM_OK);
    assert_int_equal(ulm__sse_feed(&s, "456789AB\n\n", 10, record_event, &log), ULM_ETOO_LARGE);
    assert_string_equal(s.overflow, "line");
    assert_true(s.line.len <= 16);
    assert_int_equal(log.count, 0);
    ulm__sse_free(&s);
}

static void event_data_over_the_cap_is_refused(void **state)
{
    (void)state;
    /* 5 + the joining LF + 4 = 10 bytes: exactly the cap */
    static const char fits[] = "data: 12345\ndata: 6789\n\n";
    static const char over[] = "data: 12345\ndata: 67890\n\n";
    ulm_sse s;
    ulm__sse_init(&s, ROOMY, 10);
    event_log log = {0};
    assert_int_equal(ulm__sse_feed(&s, fits, sizeof fits - 1, record_event, &log), ULM_OK);
    assert_null(s.overflow);
    assert_int_equal(log.count, 1);
    assert_string_equal(log.items[0].data, "12345\n6789");
    assert_int_equal(ulm__sse_feed(&s, over, sizeof over - 1, record_event, &log),
                     ULM_ETOO_LARGE);
    assert_string_equal(s.overflow, "event");
    assert_int_equal(log.count, 1);
    assert_true(s.data.len <= 10);
    ulm__sse_free(&s);
    log_clear(&log);
}

/* ------------------------------------------------------------ memory */

static void out_of_memory_is_reported_and_leaks_nothing(void **state)
{
    (void)state;
    static const size_t chunk = 7; /* small, so partial lines go through the line buffer */
    const recording *r = &recordings[0];
    event_log want = {0};
    feed_cut(r, NULL, 0, &want);
    int saw_oom = 0, saw_ok = 0;
    for (long n = 1; n < 100 && !saw_ok; n++) {
        ulm_sse s;
        ulm__sse_init(&s, ROOMY, ROOMY);
        event_log got = {0};
        int rc = ULM_OK;
        ulm__test_fail_alloc_after(n);
        for (size_t at = 0; at < r->len && rc == ULM_OK; at += chunk) {
            size_t n_bytes = r->len - at < chunk ? r->len - at : chunk;
            rc = ulm__sse_feed(&s, r->bytes + at, n_bytes, record_event, &got);
        }
        ulm__test_fail_alloc_after(0);
        if (rc == ULM_OK) {
            assert_logs_equal(&want, &got, "after the last allocation failure");
            saw_ok = 1;
        } else {
            assert_int_equal(rc, ULM_ENOMEM);
            assert_null(s.overflow);
            /* what came before the failure was right, just cut short */
            assert_true(got.count < want.count);
            event_log prefix = want;
            prefix.count = got.count;
            assert_logs_equal(&prefix, &got, "before an allocation failure");
            saw_oom = 1;
        }
        ulm__sse_free(&s); /* the sanitizer and valgrind runs check that this freed all */
        log_clear(&got);
    }
    assert_true(saw_oom);
    assert_true(saw_ok);
    log_clear(&want);
}

/* ------------------------------------------------------------ public accessors */

static void accessors_accept_null(void **state)
{
    (void)state;
    size_t len = 99;
    assert_string_equal(ulm_sse_event_name(NULL), "");
    assert_string_equal(ulm_sse_event_data(NULL, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(ulm_sse_event_data(NULL, NULL), "");

    ulm_sse_event bare = {NULL, NULL, 5}; /* no name, no data: data_len must not leak out */
    len = 99;
    assert_string_equal(ulm_sse_event_name(&bare), "");
    assert_string_equal(ulm_sse_event_data(&bare, &len), "");
    assert_int_equal(len, 0);

    ulm_sse_event full = {"delta", "abc", 3};
    assert_string_equal(ulm_sse_event_name(&full), "delta");
    assert_ptr_equal(ulm_sse_event_data(&full, NULL), full.data);
    len = 99;
    ulm_sse_event_data(&full, &len);
    assert_int_equal(len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_recordings_give_the_expected_events),
        cmocka_unit_test(every_two_way_split_gives_the_same_events),
        cmocka_unit_test(three_way_splits_give_the_same_events),
        cmocka_unit_test(one_byte_at_a_time_gives_the_same_events),
        cmocka_unit_test(random_chunkings_give_the_same_events),
        cmocka_unit_test(utf8_split_inside_a_character_arrives_whole),
        cmocka_unit_test(crlf_split_between_cr_and_lf_is_one_line_end),
        cmocka_unit_test(open_event_at_end_of_input_is_not_dispatched),
        cmocka_unit_test(empty_data_dispatches_an_empty_event),
        cmocka_unit_test(leading_byte_order_mark_is_dropped),
        cmocka_unit_test(blank_line_separates_events),
        cmocka_unit_test(event_name_resets_between_events),
        cmocka_unit_test(emit_error_stops_the_feed),
        cmocka_unit_test(line_at_the_cap_passes_and_one_byte_more_fails),
        cmocka_unit_test(long_line_in_one_chunk_is_refused),
        cmocka_unit_test(long_line_growing_across_chunks_is_refused_at_the_cap),
        cmocka_unit_test(event_data_over_the_cap_is_refused),
        cmocka_unit_test(out_of_memory_is_reported_and_leaks_nothing),
        cmocka_unit_test(accessors_accept_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
