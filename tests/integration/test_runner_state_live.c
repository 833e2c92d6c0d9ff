/* test_runner_state_live.c - calls that use what Docker Model Runner knows: pulls, loads, context windows. */
#include <pthread.h>

#include "live.h"

/* The log lines a client wrote, joined. */
typedef struct log_lines {
    pthread_mutex_t lock;
    char text[16384];
    size_t used;
} log_lines;

static void keep_line(int level, const char *message, void *payload)
{
    (void)level;
    log_lines *l = payload;
    pthread_mutex_lock(&l->lock);
    int n = snprintf(l->text + l->used, sizeof l->text - l->used, "%s\n", message);
    if (n > 0 && (size_t)n < sizeof l->text - l->used)
        l->used += (size_t)n;
    pthread_mutex_unlock(&l->lock);
}

/* A client of the lifecycle emulator; auto_pull on or off; its log kept in lines. */
static ulm_client *runner_client(int auto_pull, log_lines *lines)
{
    ulm_backend_setting setting = {"dmr", "auto_pull", auto_pull ? "true" : "false"};
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_LIFECYCLE_URL"), LIVE_DEAD_URL,
                                           NULL);
    opts.backend_settings = &setting;
    opts.backend_setting_count = 1;
    if (lines) {
        opts.log_fn = keep_line;
        opts.log_payload = lines;
        opts.log_level = ULM_LOG_INFO;
    }
    return live_client_with(&opts);
}

/* Fails with the whole message when it lacks needle. */
static void expect_in(const char *message, const char *needle)
{
    if (!strstr(message, needle))
        fail_msg("\"%s\" is not in \"%s\"", needle, message);
}

static int ask(ulm_client *c, const char *model, ulm_response **resp)
{
    ulm_request *req = live_request(model, "Once upon a time");
    int rc = ulm_complete(resp, c, req);
    ulm_request_free(req);
    return rc;
}

static void expect_answer(int rc, const ulm_response *resp)
{
    if (rc != ULM_OK)
        fail_msg("%s: %s", ulm_strerror(rc), resp ? ulm_response_error_message(resp) : "-");
}

static void a_missing_model_names_the_fix(void **state)
{
    (void)state;
    ulm_client *c = runner_client(0, NULL);
    for (int i = 0; i < 3; i++) { /* the same on every call of the client */
        ulm_response *resp = NULL;
        assert_int_equal(ask(c, "dmr/ai/auto-pulled", &resp), ULM_EMODEL_NOT_FOUND);
        const char *m = ulm_response_error_message(resp);
        expect_in(m, "dmr: HTTP 404");
        expect_in(m, "`docker model pull ai/auto-pulled`");
        expect_in(m, "`ultra-llm pull ai/auto-pulled`");
        expect_in(m, "ULM_AUTO_PULL=1");
        assert_int_equal(ulm_response_attempt_count(resp), 1); /* nothing was pulled */
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

static void auto_pull_pulls_then_answers(void **state)
{
    (void)state;
    log_lines lines = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ulm_client *c = runner_client(1, &lines);
    char err[ULM_ERROR_SIZE];
    int rc;
    for (int round = 0; round < 2; round++) { /* pulled, used, removed; and again */
        ulm_response *resp = NULL;
        lines.used = 0;
        lines.text[0] = '\0';
        rc = ask(c, "dmr/ai/auto-pulled", &resp);
        expect_answer(rc, resp);
        assert_true(ulm_response_text_length(resp) > 0);
        /* the trail: not pulled, then the answer after the pull */
        assert_int_equal(ulm_response_attempt_count(resp), 2);
        assert_int_equal(ulm_attempt_error(ulm_response_attempt(resp, 0)), ULM_EMODEL_NOT_FOUND);
        assert_int_equal(ulm_attempt_error(ulm_response_attempt(resp, 1)), ULM_OK);
        ulm_response_free(resp);
        expect_in(lines.text, "dmr: ai/auto-pulled is not pulled; pulling it");
        expect_in(lines.text, "dmr: pulling ai/auto-pulled: 100%");
        expect_in(lines.text, "dmr: pulled ai/auto-pulled in");
        /* pulled now: the next call is answered at once */
        rc = ask(c, "dmr/ai/auto-pulled", &resp);
        expect_answer(rc, resp);
        assert_int_equal(ulm_response_attempt_count(resp), 1);
        ulm_response_free(resp);
        long unloaded = 0;
        assert_int_equal(ulm_dmr_unload(c, NULL, "ai/auto-pulled", &unloaded, err, sizeof err),
                         ULM_OK);
        if (ulm_dmr_remove(c, NULL, "ai/auto-pulled", 1, err, sizeof err) != ULM_OK)
            fail_msg("remove: %s", err);
    }
    ulm_client_free(c);
}

static void a_failed_auto_pull_says_why(void **state)
{
    (void)state;
    ulm_client *c = runner_client(1, NULL);
    for (int i = 0; i < 2; i++) {
        ulm_response *resp = NULL;
        /* not in the registry: the pull itself is refused */
        assert_int_equal(ask(c, "dmr/ai/nowhere", &resp), ULM_EMODEL_NOT_FOUND);
        const char *m = ulm_response_error_message(resp);
        expect_in(m, "dmr: ai/nowhere is not pulled, and pulling it failed: ");
        assert_int_equal(ulm_response_attempt_count(resp), 2);
        ulm_response_free(resp);
        /* an error line in the middle of the download */
        int rc = ask(c, "dmr/ai/fails-midway", &resp);
        assert_int_not_equal(rc, ULM_OK);
        m = ulm_response_error_message(resp);
        expect_in(m, "dmr: ai/fails-midway is not pulled, and pulling it failed: ");
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

/* A client of the fault server as a runner at path, with tight load and first-token clocks. */
static ulm_client *fault_runner(const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", live_url("ULM_TEST_FAULT_URL"), path);
    ulm_client_options opts = live_options(url, LIVE_DEAD_URL, NULL);
    opts.default_local_model = "ai/fault-model";
    return live_client_with(&opts);
}

static int ask_with_clocks(ulm_client *c, long load_ms, long first_token_ms, ulm_response **resp)
{
    ulm_request *req = live_request("dmr/ai/fault-model", "hi");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_LOAD, load_ms), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, first_token_ms), ULM_OK);
    int rc = ulm_complete(resp, c, req);
    ulm_request_free(req);
    return rc;
}

static void a_loaded_model_gets_no_load_budget(void **state)
{
    (void)state;
    /* the server never answers; the runner's list says the model is loaded, so the call
     * waits for the first token only, not for a load budget it would otherwise get */
    ulm_client *c = fault_runner("/hang/0/loaded");
    for (int i = 0; i < 3; i++) {
        ulm_response *resp = NULL;
        assert_int_equal(ask_with_clocks(c, 600000, 300, &resp), ULM_EFIRST_TOKEN_TIMEOUT);
        expect_in(ulm_response_error_message(resp), "no first token within 300 ms");
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

static void without_a_runner_list_the_load_budget_stays(void **state)
{
    (void)state;
    /* a server with no GET /engines/ps (llama.cpp's own, an older runner): the whole
     * budget, on every call */
    ulm_client *c = fault_runner("/hang/0");
    for (int i = 0; i < 2; i++) {
        ulm_response *resp = NULL;
        assert_int_equal(ask_with_clocks(c, 400, 300, &resp), ULM_ELOAD_TIMEOUT);
        ulm_response_free(resp);
    }
    ulm_client_free(c);
    /* nor does a model that another program is loading lose any of it */
    c = fault_runner("/hang/0/loading");
    ulm_response *resp = NULL;
    assert_int_equal(ask_with_clocks(c, 400, 300, &resp), ULM_ELOAD_TIMEOUT);
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void a_load_seen_beginning_is_not_waited_for_twice(void **state)
{
    (void)state;
    /* the first call finds the model absent: its request begins the load, and the client
     * remembers when. The second finds it loading and waits only for what is left of the
     * budget, which the first call used up: it ends without waiting a whole budget more. */
    const long load_ms = 3000, first_token_ms = 200;
    ulm_client *c = fault_runner("/hang/0/absent-then-loading");
    ulm_response *resp = NULL;
    double started = live_now_ms();
    assert_int_equal(ask_with_clocks(c, load_ms, first_token_ms, &resp), ULM_ELOAD_TIMEOUT);
    assert_true(live_now_ms() - started >= (double)(load_ms + first_token_ms) - 1);
    ulm_response_free(resp);
    started = live_now_ms();
    assert_int_equal(ask_with_clocks(c, load_ms, first_token_ms, &resp), ULM_ELOAD_TIMEOUT);
    assert_true(live_now_ms() - started < (double)load_ms); /* a whole budget is 3.2 s */
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* A prompt far past the emulator's 2048-token window. */
static char *long_prompt(void)
{
    size_t len = 40000;
    char *prompt = malloc(len + 1);
    assert_non_null(prompt);
    for (size_t i = 0; i < len; i += 4)
        memcpy(prompt + i, "cat ", 4);
    prompt[len] = '\0';
    return prompt;
}

static void the_window_a_runner_reports_moves_the_chain_past_smaller_ones(void **state)
{
    (void)state;
    const char *url = live_url("ULM_TEST_DMR_URL");
    char config[1024];
    /* "small" is the same runner under another name, with a window no larger than the
     * 2048 tokens the runner reports: a prompt too long for one is too long for it */
    snprintf(config, sizeof config,
             "{\"backends\": {\"small\": {\"type\": \"dmr\", \"url\": \"%s\"}},"
             " \"models\": {\"small/ai/stories260k\": {\"context_window\": 1024}}}",
             url);
    ulm_client_options opts = live_options(url, LIVE_DEAD_URL, NULL);
    opts.config_json = config;
    ulm_client *c = live_client_with(&opts);
    char *prompt = long_prompt();
    for (int i = 0; i < 2; i++) {
        ulm_request *req = live_request("dmr/ai/stories260k,small/ai/stories260k", prompt);
        ulm_response *resp = NULL;
        assert_int_equal(ulm_complete(&resp, c, req), ULM_ECONTEXT_LENGTH);
        assert_int_equal(ulm_response_attempt_count(resp), 2);
        const ulm_attempt *skipped = ulm_response_attempt(resp, 1);
        assert_int_equal(ulm_attempt_http_status(skipped), 0); /* nothing was sent */
        expect_in(ulm_attempt_error_message(skipped), "skipped: its context window is no larger");
        ulm_response_free(resp);
        ulm_request_free(req);
    }
    free(prompt);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_missing_model_names_the_fix),
        cmocka_unit_test(auto_pull_pulls_then_answers),
        cmocka_unit_test(a_failed_auto_pull_says_why),
        cmocka_unit_test(a_loaded_model_gets_no_load_budget),
        cmocka_unit_test(without_a_runner_list_the_load_budget_stays),
        cmocka_unit_test(a_load_seen_beginning_is_not_waited_for_twice),
        cmocka_unit_test(the_window_a_runner_reports_moves_the_chain_past_smaller_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
