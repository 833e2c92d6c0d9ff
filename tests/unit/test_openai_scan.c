/* test_openai_scan.c - the fast reader of OpenAI answers and stream chunks: it reads the common shapes, and whatever it reads or leaves to jansson, the result is jansson's. */
#include "fixture.h"
#include "openai_scan.h"
#include "openai_wire.h"
#include "sse.h"

/* Each of a sequence of chunks applied to one result by one path. */
typedef int (*parse_fn)(const ulm_sse_event *event, ulm_result *out);

static int apply(parse_fn parse, const char *data, size_t len, ulm_result *r)
{
    char *copy = malloc(len + 1); /* the framer hands over NUL-terminated data */
    assert_non_null(copy);
    memcpy(copy, data, len);
    copy[len] = '\0';
    ulm_sse_event ev = {.name = "", .data = copy, .data_len = len};
    int rc = parse(&ev, r);
    free(copy);
    return rc;
}

static void assert_same_result(const ulm_result *a, const ulm_result *b, const char *what)
{
    if (a->text_len != b->text_len || (a->text_len && memcmp(a->text, b->text, a->text_len)) ||
        a->finish != b->finish || a->prompt_tokens != b->prompt_tokens ||
        a->completion_tokens != b->completion_tokens || a->total_tokens != b->total_tokens ||
        a->error != b->error || (!a->model != !b->model) ||
        (a->model && strcmp(a->model, b->model) != 0) || (!a->error_text != !b->error_text) ||
        (a->error_text && strcmp(a->error_text, b->error_text) != 0) ||
        a->context_window != b->context_window) {
        print_error("the two paths read differently: %s\n", what);
        fail();
    }
}

/* Applies one chunk to a result through each path (after prefix, a chunk that set a
 * model and some text) and holds the two results and return codes equal. */
static void assert_paths_agree(const char *data, size_t len)
{
    static const char prefix[] =
        "{\"model\":\"first\",\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}";
    for (int with_prefix = 0; with_prefix < 2; with_prefix++) {
        ulm_result fast, slow;
        ulm__result_init(&fast);
        ulm__result_init(&slow);
        if (with_prefix) {
            apply(ulm__openai_parse_event_json, prefix, sizeof prefix - 1, &fast);
            apply(ulm__openai_parse_event_json, prefix, sizeof prefix - 1, &slow);
        }
        int rc_fast = apply(ulm__openai_parse_event, data, len, &fast);
        int rc_slow = apply(ulm__openai_parse_event_json, data, len, &slow);
        if (rc_fast != rc_slow) {
            print_error("return codes %d and %d for: %.*s\n", rc_fast, rc_slow, (int)len, data);
            fail();
        }
        assert_same_result(&fast, &slow, data);
        ulm__result_clear(&fast);
        ulm__result_clear(&slow);
    }
}

static int scans(const char *data)
{
    ulm_openai_chunk c;
    return ulm__openai_scan_chunk(data, strlen(data), &c);
}

#define HEAD                                                                               \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"  \
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0," \
    "\"delta\":"
#define TAIL ",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"

/* Chunks the scanner reads itself: the common shapes. */
static const char *const fast_chunks[] = {
    HEAD "{\"role\":\"assistant\",\"content\":\"\"}" TAIL,
    HEAD "{\"content\":\"Hello\"}" TAIL,
    HEAD "{\"content\":\" caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"}" TAIL,
    HEAD "{\"content\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}" TAIL,
    HEAD "{\"content\":null}" TAIL,
    HEAD "{}" TAIL,
    "{\"model\":\"m\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}",
    "{\"model\":\"m\",\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}",
    "{\"model\":\"m\",\"choices\":[{\"delta\":{},\"finish_reason\":\"something new\"}]}",
    " {\"choices\" : [ { \"delta\" : { \"content\" : \"x\" } } , {\"delta\":{\"content\":\"y\"}} ] } \r\n",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"},\"extra\":[1,-2,true,false,null,{\"a\":[]}]}],"
    "\"model\":null}",
    "{\"model\":\"\",\"choices\":[{\"delta\":{\"content\":\"x\",\"tool_calls\":null}}]}",
};

/* Chunks it leaves to jansson, valid or not. */
static const char *const slow_chunks[] = {
    HEAD "{\"content\":\"caf\\u00e9 \\ud83d\\ude42\"}" TAIL, /* \u escapes */
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21}}",
    "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"error\":null}",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"created\":1.5}",            /* a real */
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"n\":12345678901234567890}", /* too big */
    "{\"choices\":[{\"delta\":{\"content\":\"x\",\"content\":\"y\"}}]}",          /* repeated */
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"choices\":[]}",
    "{\"model\":\"a\",\"model\":\"b\",\"choices\":[{\"delta\":{}}]}",
    "{\"choices\":[{\"delta\":\"x\"}]}",
    "{\"choices\":[{\"delta\":{\"content\":5}}]}",
    "{\"choices\":[{\"delta\":{},\"finish_reason\":1}]}",
    "{\"choices\":[1]}",
    "{\"choices\":{}}",
    "{\"mod\\u0065l\":\"x\",\"choices\":[{\"delta\":{}}]}",           /* escaped key */
    "{\"model\":\"a\\nb\",\"choices\":[{\"delta\":{}}]}",             /* escaped model */
    "{\"delta\":{\"content\":\"x\"}}",                                /* no choices */
    "{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\"}}]}",          /* cut UTF-8 */
    "{\"choices\":[{\"delta\":{\"content\":\"\xed\xa0\x80\"}}]}",     /* surrogate */
    "{\"choices\":[{\"delta\":{\"content\":\"\xc0\xaf\"}}]}",         /* overlong */
    "{\"choices\":[{\"delta\":{\"content\":\"\xf4\x90\x80\x80\"}}]}", /* > U+10FFFF */
    "{\"choices\":[{\"delta\":{\"content\":\"a\tb\"}}]}",             /* raw tab */
    "{\"choices\":[{\"delta\":{\"content\":\"a\\qb\"}}]}",            /* bad escape */
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]} x",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],}",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"n\":01}",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"n\":tru}",
    "[{\"choices\":[]}]",
    "",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
};

/* What is read two ways: a stream chunk, or a whole answer. */
typedef struct two_paths {
    int (*scans)(const char *data);                /* the scanner reads it itself */
    void (*agree)(const char *data, size_t len);   /* both paths read it alike */
} two_paths;

/* Each of items[0, count) is read by the scanner itself (scanned) or left to jansson, and
 * both paths read it alike. */
static void expect_paths(const two_paths *t, const char *const *items, size_t count,
                         int scanned)
{
    for (size_t i = 0; i < count; i++) {
        if (!t->scans(items[i]) != !scanned) {
            print_error(scanned ? "the scanner does not read: %s\n"
                                : "the scanner reads what it should leave to jansson: %s\n",
                        items[i]);
            fail();
        }
        t->agree(items[i], strlen(items[i]));
    }
}

/* Every byte of each seed replaced by bytes that matter to JSON and UTF-8, and every
 * prefix: whichever path reads the result, it is what jansson makes of it. */
static void expect_mutations_agree(const two_paths *t, const char *const *seeds, size_t count)
{
    static const char bytes[] = "\"\\{}[],: 0-9eE.tnx/u\t\n\x01\x80\xc3\xed\xf4\xff";
    for (size_t s = 0; s < count; s++) {
        size_t len = strlen(seeds[s]);
        char *m = malloc(len + 1);
        assert_non_null(m);
        for (size_t at = 0; at < len; at++) {
            for (size_t b = 0; b < sizeof bytes - 1; b++) {
                memcpy(m, seeds[s], len + 1);
                m[at] = bytes[b];
                t->agree(m, len);
            }
            t->agree(seeds[s], at); /* cut short */
        }
        free(m);
    }
}

static const two_paths chunk_paths = {scans, assert_paths_agree};

static void test_common_chunks_take_the_fast_path_and_agree(void **state)
{
    (void)state;
    expect_paths(&chunk_paths, fast_chunks, sizeof fast_chunks / sizeof fast_chunks[0], 1);
}

static void test_other_chunks_are_left_to_jansson_and_agree(void **state)
{
    (void)state;
    expect_paths(&chunk_paths, slow_chunks, sizeof slow_chunks / sizeof slow_chunks[0], 0);
}

static void test_mutated_chunks_agree(void **state)
{
    (void)state;
    const char *const seeds[] = {fast_chunks[1], fast_chunks[2], fast_chunks[3], fast_chunks[6]};
    expect_mutations_agree(&chunk_paths, seeds, sizeof seeds / sizeof seeds[0]);
}

/* The fixture stream, chunk by chunk, through each path into one result each. */
static void test_fixture_stream_reads_the_same(void **state)
{
    (void)state;
    size_t len;
    char *stream = fixture_read("openai/stream_chat.txt", &len);
    ulm_result fast, slow;
    ulm__result_init(&fast);
    ulm__result_init(&slow);
    size_t fast_read = 0;
    for (char *line = stream; line && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 6 && strncmp(line, "data: ", 6) == 0 && strncmp(line + 6, "[DONE]", 6) != 0) {
            ulm_openai_chunk c;
            fast_read += (size_t)ulm__openai_scan_chunk(line + 6, n - 6, &c);
            assert_int_equal(apply(ulm__openai_parse_event, line + 6, n - 6, &fast),
                             apply(ulm__openai_parse_event_json, line + 6, n - 6, &slow));
        }
        line = end ? end + 1 : NULL;
    }
    assert_same_result(&fast, &slow, "openai/stream_chat.txt");
    assert_string_equal(fast.text, "Hello! Caf\xc3\xa9 \xf0\x9f\x99\x82 How can I help?");
    assert_int_equal(fast.total_tokens, 21);
    assert_int_equal(fast_read, 4); /* role, two content chunks and the finish; not \u or usage */
    ulm__result_clear(&fast);
    ulm__result_clear(&slow);
    free(stream);
}

/* ------------------------------------------------------------ whole answers */

/* One answer read by ulm__openai_parse (scanner first) and by jansson alone, as the body
 * of a 200: the same return code and result. */
static void assert_answer_paths_agree(const char *body, size_t len)
{
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "application/json", body, len);
    ulm_result fast, slow;
    ulm__result_init(&fast);
    ulm__result_init(&slow);
    int rc_fast = ulm__openai_parse(ULM_OP_CHAT, &resp, &fast);
    int rc_slow = ulm__openai_parse_json(ULM_OP_CHAT, &resp, &slow);
    if (rc_fast != rc_slow) {
        print_error("return codes %d and %d for: %.*s\n", rc_fast, rc_slow, (int)len, body);
        fail();
    }
    assert_same_result(&fast, &slow, body);
    ulm__result_clear(&fast);
    ulm__result_clear(&slow);
    ulm__http_response_clear(&resp);
}

static int scans_answer(const char *data)
{
    ulm_openai_completion c;
    return ulm__openai_scan_completion(data, strlen(data), &c);
}

#define ANSWER_HEAD                                                                        \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1694268190,"        \
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,"  \
    "\"message\":"
#define ANSWER_TAIL                                                                        \
    ",\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"        \
    "\"completion_tokens\":12,\"total_tokens\":21}}"

/* Answers the scanner reads itself: the common shapes. */
static const char *const fast_answers[] = {
    ANSWER_HEAD "{\"role\":\"assistant\",\"content\":\"Hello there\",\"refusal\":null}"
        ANSWER_TAIL,
    ANSWER_HEAD "{\"role\":\"assistant\",\"content\":\" caf\xc3\xa9 \xf0\x9f\x98\x80\"}"
        ANSWER_TAIL,
    ANSWER_HEAD "{\"content\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}" ANSWER_TAIL,
    ANSWER_HEAD "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\"}]}"
        ANSWER_TAIL,
    ANSWER_HEAD "{}" ANSWER_TAIL,
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"length\"}],"
    "\"usage\":null,\"model\":null}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"new\"}],"
    "\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":\"7\",\"total_tokens\":-0}}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":[1,2]}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
    "\"usage\":{\"prompt_tokens\":999999999999999999}}",
    " {\"choices\" : [ {\"message\" : {\"content\" : \"x\"} } , {\"message\":5} ] } \r\n",
};

/* Answers it leaves to jansson, valid or not. */
static const char *const slow_answers[] = {
    ANSWER_HEAD "{\"content\":\"caf\\u00e9\"}" ANSWER_TAIL,                  /* \u escape */
    "{\"choices\":[]}",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",                          /* no message */
    "{\"choices\":[{\"message\":\"x\"}]}",
    "{\"choices\":[{\"message\":{\"content\":5}}]}",
    "{\"choices\":[{\"message\":{\"content\":\"x\",\"content\":\"y\"}}]}",  /* repeated */
    "{\"choices\":[{\"message\":{\"content\":\"x\"},\"message\":{}}]}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"total_tokens\":1.5}}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"total_tokens\":1,"
    "\"total_tokens\":2}}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"total_tokens\":"
    "1234567890123456789}}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{},\"usage\":{}}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"error\":null}",
    "{\"choices\":[{\"message\":{}}],\"model\":\"a\\nb\"}",                /* escaped model */
    "{\"choices\":[{\"message\":{}}],\"model\":5}",
    "{\"choices\":[{\"message\":{}, \"finish_reason\":\"st\\u006fp\"}]}",
    "{\"choices\":[{\"message\":{\"content\":\"a\tb\"}}]}",                 /* raw tab */
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}]} x",
    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],}",
    "{\"mess\\u0061ge\":1,\"choices\":[{\"message\":{}}]}",                  /* escaped key */
    "[]",
    "",
};

static const two_paths answer_paths = {scans_answer, assert_answer_paths_agree};

static void test_common_answers_take_the_fast_path_and_agree(void **state)
{
    (void)state;
    expect_paths(&answer_paths, fast_answers, sizeof fast_answers / sizeof fast_answers[0], 1);
}

static void test_other_answers_are_left_to_jansson_and_agree(void **state)
{
    (void)state;
    expect_paths(&answer_paths, slow_answers, sizeof slow_answers / sizeof slow_answers[0], 0);
}

static void test_mutated_answers_agree(void **state)
{
    (void)state;
    const char *const seeds[] = {fast_answers[0], fast_answers[1], fast_answers[2],
                                 fast_answers[7]};
    expect_mutations_agree(&answer_paths, seeds, sizeof seeds / sizeof seeds[0]);
}

/* The recorded answers of tests/fixtures read the same both ways, the common one fast. */
static void test_fixture_answers_read_the_same(void **state)
{
    (void)state;
    static const char *const names[] = {
        "openai/chat_stop.json",           "openai/chat_length.json",
        "openai/chat_content_filter.json", "openai/chat_no_usage.json",
        "openai/chat_tool_calls.json",     "openai/chat_usage_without_total.json",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t len;
        char *body = fixture_read(names[i], &len);
        assert_answer_paths_agree(body, len);
        ulm_openai_completion c;
        if (i == 0 && !ulm__openai_scan_completion(body, len, &c))
            fail_msg("the scanner does not read %s", names[i]);
        free(body);
    }
}

static int parse_event_with_jansson(const ulm_provider *self, const ulm_sse_event *event,
                                    ulm_result *out)
{
    (void)self;
    return ulm__openai_parse_event_json(event, out);
}

/* A stream cut once at every byte reads the same through the OpenAI adapter (scanner
 * first) as through the same adapter reading every chunk with jansson: the same return
 * code, result and deltas. */
static void test_every_cut_of_a_stream_reads_the_same(void **state)
{
    (void)state;
    static const char body[] =
        "data: " HEAD "{\"role\":\"assistant\",\"content\":\"\"}" TAIL "\n\n"
        "data: " HEAD "{\"content\":\"Caf\xc3\xa9 \\\"q\\\" \"}" TAIL "\r\n\r\n"
        "data: " HEAD "{\"content\":\"\\u00e9\\n\xf0\x9f\x98\x80\"}" TAIL "\n\n"
        ": a comment\n\n"
        "data: {\"model\":\"m\",\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
        "\"total_tokens\":7}}\n\n"
        "data: [DONE]\n\n";
    size_t len = sizeof body - 1;
    ulm_provider *fast, *slow;
    assert_int_equal(ulm__openai_provider_new(&fast), ULM_OK);
    assert_int_equal(ulm__openai_provider_new(&slow), ULM_OK);
    slow->parse_event = parse_event_with_jansson;
    for (size_t cut = 0; cut <= len; cut++) {
        ulm_result a, b;
        fixture_deltas da = {0}, db = {0};
        int rc_a = fixture_stream(fast, body, len, &cut, 1, &a, &da);
        int rc_b = fixture_stream(slow, body, len, &cut, 1, &b, &db);
        char what[64];
        snprintf(what, sizeof what, "the stream cut at byte %zu", cut);
        assert_int_equal(rc_a, rc_b);
        assert_same_result(&a, &b, what);
        assert_int_equal(da.text.len, db.text.len);
        assert_memory_equal(da.text.data, db.text.data, da.text.len);
        assert_int_equal(a.finish, ULM_FINISH_LENGTH);
        assert_int_equal(a.total_tokens, 7);
        ulm__result_clear(&a);
        ulm__result_clear(&b);
        ulm_text_free(&da.text);
        ulm_text_free(&db.text);
    }
    fast->destroy(fast);
    slow->destroy(slow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_chunks_take_the_fast_path_and_agree),
        cmocka_unit_test(test_other_chunks_are_left_to_jansson_and_agree),
        cmocka_unit_test(test_mutated_chunks_agree),
        cmocka_unit_test(test_fixture_stream_reads_the_same),
        cmocka_unit_test(test_common_answers_take_the_fast_path_and_agree),
        cmocka_unit_test(test_other_answers_are_left_to_jansson_and_agree),
        cmocka_unit_test(test_mutated_answers_agree),
        cmocka_unit_test(test_fixture_answers_read_the_same),
        cmocka_unit_test(test_every_cut_of_a_stream_reads_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
