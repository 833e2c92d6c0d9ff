/* test_template.c - prompt templates: how a conversation is reshaped for a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prompt_template.h"

typedef struct line {
    ulm_role role;
    const char *text;
} line;

static ulm_request *conversation(const line *lines, size_t n)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ulm_request_add_message(req, lines[i].role, lines[i].text), ULM_OK);
    return req;
}

static void assert_shaped(const ulm_request *req, ulm_prompt_template t, const line *want,
                          size_t n)
{
    ulm_request *shaped = ulm__request_with_template(req, t);
    assert_non_null(shaped);
    assert_int_equal(ulm_request_message_count(shaped), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ulm_request_message_role(shaped, i), want[i].role);
        assert_string_equal(ulm_request_message_content(shaped, i), want[i].text);
    }
    ulm_request_free(shaped);
}

static const line talk[] = {
    {ULM_ROLE_SYSTEM, "Be brief."},
    {ULM_ROLE_USER, "Hi."},
    {ULM_ROLE_USER, "Are you there?"},
    {ULM_ROLE_ASSISTANT, "Yes."},
    {ULM_ROLE_SYSTEM, "Answer in French."},
    {ULM_ROLE_USER, "Why?"},
};

static void chat_keeps_the_messages(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 6);
    assert_shaped(req, ULM_TEMPLATE_CHAT, talk, 6);
    ulm_request_free(req);
}

static void no_system_puts_system_text_before_the_first_user_message(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 6);
    static const line want[] = {
        {ULM_ROLE_USER, "Be brief.\n\nAnswer in French.\n\nHi."},
        {ULM_ROLE_USER, "Are you there?"},
        {ULM_ROLE_ASSISTANT, "Yes."},
        {ULM_ROLE_USER, "Why?"},
    };
    assert_shaped(req, ULM_TEMPLATE_NO_SYSTEM, want, 4);
    ulm_request_free(req);
}

static void alternating_merges_runs_of_one_role(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 6);
    static const line want[] = {
        {ULM_ROLE_USER, "Be brief.\n\nAnswer in French.\n\nHi.\n\nAre you there?"},
        {ULM_ROLE_ASSISTANT, "Yes."},
        {ULM_ROLE_USER, "Why?"},
    };
    assert_shaped(req, ULM_TEMPLATE_ALTERNATING, want, 3);
    ulm_request_free(req);
}

static void completion_writes_one_transcript(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 4);
    static const line want[] = {
        {ULM_ROLE_USER, "System: Be brief.\n\nUser: Hi.\n\nUser: Are you there?\n\n"
                        "Assistant: Yes.\n\nAssistant:"},
    };
    assert_shaped(req, ULM_TEMPLATE_COMPLETION, want, 1);
    ulm_request_free(req);
}

static void only_system_text_becomes_the_question(void **state)
{
    (void)state;
    static const line alone[] = {{ULM_ROLE_SYSTEM, "Say hello."}};
    ulm_request *req = conversation(alone, 1);
    static const line want[] = {{ULM_ROLE_USER, "Say hello."}};
    assert_shaped(req, ULM_TEMPLATE_NO_SYSTEM, want, 1);
    assert_shaped(req, ULM_TEMPLATE_ALTERNATING, want, 1);
    ulm_request_free(req);
}

/* Everything but the messages travels with the shaped request. */
static void parameters_are_kept(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 2);
    assert_int_equal(ulm_request_set_temperature(req, 0.5), ULM_OK);
    assert_int_equal(ulm_request_set_top_p(req, 0.9), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 12), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, 42), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "END"), ULM_OK);
    ulm_request *shaped = ulm__request_with_template(req, ULM_TEMPLATE_COMPLETION);
    assert_non_null(shaped);
    double real;
    long count;
    int64_t seed;
    assert_true(ulm_request_temperature(shaped, &real) && real == 0.5);
    assert_true(ulm_request_top_p(shaped, &real) && real == 0.9);
    assert_true(ulm_request_max_tokens(shaped, &count) && count == 12);
    assert_true(ulm_request_seed(shaped, &seed) && seed == 42);
    assert_int_equal(ulm_request_stop_count(shaped), 1);
    assert_string_equal(ulm_request_stop(shaped, 0), "END");
    ulm_request_free(shaped);
    ulm_request_free(req);
}

static void names_round_trip(void **state)
{
    (void)state;
    assert_string_equal(ulm__prompt_template_name(ULM_TEMPLATE_CHAT), "chat");
    assert_string_equal(ulm__prompt_template_name(ULM_TEMPLATE_NO_SYSTEM), "no_system");
    assert_string_equal(ulm__prompt_template_name(ULM_TEMPLATE_ALTERNATING), "alternating");
    assert_string_equal(ulm__prompt_template_name(ULM_TEMPLATE_COMPLETION), "completion");
    assert_null(ulm__prompt_template_name((ulm_prompt_template)4));
}

static void out_of_memory_gives_null_and_leaks_nothing(void **state)
{
    (void)state;
    ulm_request *req = conversation(talk, 6);
    int saw_null = 0;
    for (long n = 1; n < 200; n++) {
        ulm__test_fail_alloc_after(n);
        ulm_request *shaped = ulm__request_with_template(req, ULM_TEMPLATE_ALTERNATING);
        ulm__test_fail_alloc_after(0);
        if (shaped) {
            ulm_request_free(shaped);
            break;
        }
        saw_null = 1;
    }
    assert_true(saw_null);
    ulm_request_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chat_keeps_the_messages),
        cmocka_unit_test(no_system_puts_system_text_before_the_first_user_message),
        cmocka_unit_test(alternating_merges_runs_of_one_role),
        cmocka_unit_test(completion_writes_one_transcript),
        cmocka_unit_test(only_system_text_becomes_the_question),
        cmocka_unit_test(parameters_are_kept),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(out_of_memory_gives_null_and_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
