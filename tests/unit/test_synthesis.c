/* test_synthesis.c - the synthesis prompt's template and request, and the agreement score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agreement.h"
#include "synthesis_prompt.h"

static void templates_are_checked_before_use(void **state)
{
    (void)state;
    char why[ULM_ERROR_SIZE];
    assert_int_equal(ulm__synthesis_template_check(ULM_SYNTHESIS_DEFAULT_TEMPLATE, why,
                                                   sizeof why), ULM_OK);
    assert_int_equal(ulm__synthesis_template_check("{question} {answers} {count} {{x}}", why,
                                                   sizeof why), ULM_OK);
    const struct {
        const char *template;
        const char *reason;
    } bad[] = {
        {"", "empty"},
        {"Combine {original_prompt}", "unknown placeholder \"{original_prompt}\" at byte 8"},
        {"{answers} {Question}", "unknown placeholder \"{Question}\""},
        {"{answers", "unknown placeholder \"{answers\""},
        {"a } b", "a lone \"}\" at byte 2"},
        {"{ answers }", "unknown placeholder"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ulm__synthesis_template_check(bad[i].template, why, sizeof why),
                         ULM_EINVAL);
        if (!strstr(why, bad[i].reason))
            fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].template, why, bad[i].reason);
    }
    assert_int_equal(ulm__synthesis_template_check(NULL, why, sizeof why), ULM_EINVAL);
}

static ulm_request *conversation(void)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_SYSTEM, "Be brief."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "First question"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_ASSISTANT, "First answer"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "What is 2+2?"), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 50), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(req, 0.25), ULM_OK);
    return req;
}

static void the_request_keeps_the_conversation_and_fills_the_last_question(void **state)
{
    (void)state;
    ulm_request *req = conversation();
    ulm_synthesis_answer answers[] = {{"Answer A", "Four.", 5},
                                      {"openai/gpt-4o-mini", "It is 4 {not a placeholder}", 27}};
    int truncated[2] = {-1, -1};
    ulm_request *out = NULL;
    char why[ULM_ERROR_SIZE];
    assert_int_equal(ulm__synthesis_request(&out, req, "Q: {question}\n{count}:\n{answers}\n{{done}}",
                                            answers, 2, 100, truncated, why, sizeof why),
                     ULM_OK);
    assert_int_equal(ulm_request_message_count(out), 4);
    assert_string_equal(ulm_request_message_content(out, 0), "Be brief.");
    assert_string_equal(ulm_request_message_content(out, 2), "First answer");
    assert_int_equal(ulm_request_message_role(out, 3), ULM_ROLE_USER);
    assert_string_equal(ulm_request_message_content(out, 3),
                        "Q: What is 2+2?\n2:\n### Answer A\nFour.\n\n### openai/gpt-4o-mini\n"
                        "It is 4 {not a placeholder}\n{done}");
    assert_int_equal(truncated[0], 0);
    assert_int_equal(truncated[1], 0);
    long max_tokens = 0;
    double temperature = 0;
    assert_true(ulm_request_max_tokens(out, &max_tokens) && max_tokens == 50);
    assert_true(ulm_request_temperature(out, &temperature) && temperature == 0.25);
    ulm_request_free(out);
    ulm_request_free(req);
}

static void long_answers_are_cut_on_a_character_and_marked(void **state)
{
    (void)state;
    ulm_request *req = conversation();
    const char *text = "abc\xe2\x82\xac" "def"; /* the euro sign's 3 bytes at 3..5 */
    ulm_synthesis_answer answers[] = {{"A", text, strlen(text)}, {"B", "ok", 2}};
    int truncated[2];
    ulm_request *out = NULL;
    char why[ULM_ERROR_SIZE];
    assert_int_equal(ulm__synthesis_request(&out, req, "{answers}", answers, 2, 5, truncated,
                                            why, sizeof why),
                     ULM_OK);
    assert_string_equal(ulm_request_message_content(out, 3),
                        "### A\nabc\n[... cut: 6 more bytes]\n\n### B\nok");
    assert_int_equal(truncated[0], 1);
    assert_int_equal(truncated[1], 0);
    ulm_request_free(out);
    ulm_request_free(req);
}

static void no_user_message_or_a_bad_template_is_refused(void **state)
{
    (void)state;
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_SYSTEM, "only a system text"), ULM_OK);
    ulm_synthesis_answer one = {"A", "x", 1};
    int truncated;
    ulm_request *out = NULL;
    char why[ULM_ERROR_SIZE];
    assert_int_equal(ulm__synthesis_request(&out, req, "{answers}", &one, 1, 10, &truncated,
                                            why, sizeof why),
                     ULM_EINVAL);
    assert_non_null(strstr(why, "no user message"));
    ulm_request_free(req);
    req = conversation();
    assert_int_equal(ulm__synthesis_request(&out, req, "{answer}", &one, 1, 10, &truncated, why,
                                            sizeof why),
                     ULM_EINVAL);
    assert_null(out);
    ulm_request_free(req);
}

static double agree(const char *a, const char *b)
{
    return ulm__agreement(a, strlen(a), b, strlen(b));
}

/* Labels run A..Z, then AA..AZ, BA..: no two of the most answers a round takes are alike. */
static void anonymous_labels_stay_distinct_past_z(void **state)
{
    (void)state;
    const struct {
        size_t k;
        const char *label;
    } known[] = {{0, "Answer A"},   {25, "Answer Z"},  {26, "Answer AA"}, {51, "Answer AZ"},
                 {52, "Answer BA"}, {59, "Answer BH"}, {701, "Answer ZZ"}, {702, "Answer AAA"}};
    char label[32];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ulm__synthesis_label(known[i].k, label, sizeof label);
        assert_string_equal(label, known[i].label);
    }
    char seen[ULM_ROUND_MAX_MEMBERS][32];
    for (size_t k = 0; k < ULM_ROUND_MAX_MEMBERS; k++) {
        ulm__synthesis_label(k, seen[k], sizeof seen[k]);
        for (size_t j = 0; j < k; j++)
            assert_string_not_equal(seen[j], seen[k]);
    }
}

static void agreement_is_the_overlap_of_word_sets(void **state)
{
    (void)state;
    assert_true(agree("the cat sat", "the cat sat") == 1.0);
    assert_true(agree("The Cat, sat!", "the cat sat") == 1.0); /* case and punctuation */
    assert_true(agree("the cat", "the dog") == 1.0 / 3.0);       /* {the} of {the, cat, dog} */
    assert_true(agree("a a a b", "a b b b") == 1.0);             /* sets, not counts */
    assert_true(agree("one two", "three four") == 0.0);
    assert_true(agree("", "") == 1.0);
    assert_true(agree("", "words") == 0.0);
    assert_true(agree("Ünïcödé 42", "ünïcödé 42") == 1.0 / 3.0); /* only ASCII ignores case */
    assert_true(agree("x1 y2", "x1 y2 z3 w4") == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_are_checked_before_use),
        cmocka_unit_test(the_request_keeps_the_conversation_and_fills_the_last_question),
        cmocka_unit_test(long_answers_are_cut_on_a_character_and_marked),
        cmocka_unit_test(no_user_message_or_a_bad_template_is_refused),
        cmocka_unit_test(anonymous_labels_stay_distinct_past_z),
        cmocka_unit_test(agreement_is_the_overlap_of_word_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
