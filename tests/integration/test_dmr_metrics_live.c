/* test_dmr_metrics_live.c - ulm_dmr_metrics() against the DMR emulator: models in memory, disk, the runner's own metrics. */
#define _DEFAULT_SOURCE /* mkstemp */
#include <unistd.h>

#include "live.h"

static size_t scrape(ulm_client *c, const char *backend, char *buf, size_t size, int want)
{
    size_t length = 12345;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_metrics(c, backend, buf, size, &length, err, sizeof err), want);
    if (want == ULM_OK)
        assert_string_equal(err, "");
    return length;
}

/* After a call, the runner holds the model: it is listed, and llama.cpp's counters of the
 * runner come renamed and labelled with the library's backend. */
static void a_loaded_model_and_its_counters_are_shown(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    long prompt_tokens = ulm_response_prompt_tokens(resp);
    assert_true(prompt_tokens > 0);
    ulm_response_free(resp);
    ulm_request_free(req);

    static char text[65536];
    size_t length = scrape(c, NULL, text, sizeof text, ULM_OK);
    assert_int_equal(length, strlen(text));
    assert_non_null(strstr(text, "\nulm_dmr_up{backend=\"dmr\"} 1\n"));
    assert_non_null(strstr(text, "\nulm_dmr_runner_info{backend=\"dmr\",model=\"ai/stories260k:"
                                 "latest\",engine=\"llama.cpp\",mode=\"completion\",state=\""));
    assert_non_null(strstr(text, "\n# TYPE ulm_dmr_models_disk_bytes gauge\n"));
    /* the emulator counts every prompt it served; this one's is among them */
    const char *series =
        "\nulm_dmr_runner_llamacpp_prompt_tokens_total{backend=\"dmr\","
        "engine=\"llama.cpp\",model=\"ai/stories260k:latest\",mode=\"completion\"} ";
    const char *at = strstr(text, series);
    assert_non_null(at);
    assert_true(atol(at + strlen(series)) >= prompt_tokens);
    assert_null(strstr(text, "llamacpp:"));

    /* like snprintf: what fits, NUL-terminated, and the whole length */
    char small[64];
    size_t again = scrape(c, NULL, small, sizeof small, ULM_OK);
    assert_true(again > sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, text, sizeof small - 1);
    assert_true(scrape(c, "dmr", NULL, 0, ULM_OK) > 0);
    ulm_client_free(c);
}

/* The whole scrape passes promtool; its only advice may be about llama.cpp's own counter
 * names, which the runner chose (n_tokens_max is a counter without _total). */
static void the_scrape_passes_promtool(void **state)
{
    (void)state;
    if (system("command -v promtool > /dev/null 2>&1") != 0) {
        print_message("promtool not found: skipped\n");
        skip();
    }
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    ulm_response_free(resp);
    ulm_request_free(req);
    static char text[65536];
    scrape(c, NULL, text, sizeof text, ULM_OK);
    size_t n = ulm_client_metrics(c, ULM_METRICS_PROMETHEUS, NULL, 0);
    char *library = malloc(n + 1);
    assert_non_null(library);
    ulm_client_metrics(c, ULM_METRICS_PROMETHEUS, library, n + 1);
    char path[] = "/tmp/ulm-dmr-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(library, f);
    fputs(text, f);
    fclose(f);
    /* status 1: it does not parse; 3: lint advice, of which only that one kind is allowed */
    char command[512];
    snprintf(command, sizeof command,
             "promtool check metrics < %s > %s.out 2>&1; status=$?; "
             "[ $status = 0 ] || { [ $status = 3 ] && ! grep -v -e '^$' "
             "-e '^ulm_dmr_runner_[a-z_]* counter metrics should have \"_total\" suffix$' "
             "%s.out; } || { cat %s.out; exit 1; }",
             path, path, path, path);
    int status = system(command);
    snprintf(command, sizeof command, "%s.out", path);
    unlink(command);
    unlink(path);
    assert_int_equal(status, 0);
    free(library);
    ulm_client_free(c);
}

/* A runner that does not answer is down: its error, and ulm_dmr_up 0. */
static void an_unreachable_runner_is_down(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, LIVE_DEAD_URL, NULL);
    char text[1024], err[ULM_ERROR_SIZE];
    size_t length = 0;
    assert_int_equal(ulm_dmr_metrics(c, NULL, text, sizeof text, &length, err, sizeof err),
                     ULM_ECONNECT);
    assert_int_equal(length, strlen(text));
    assert_non_null(strstr(text, "\nulm_dmr_up{backend=\"dmr\"} 0\n"));
    assert_null(strstr(text, "ulm_dmr_runners"));
    assert_true(strncmp(err, "dmr: ", 5) == 0);
    ulm_client_free(c);
}

/* A backend that is not a Docker Model Runner writes nothing. */
static void another_backend_writes_nothing(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, "sk-x");
    char text[64] = "untouched";
    size_t length = 7;
    assert_int_equal(ulm_dmr_metrics(c, "openai", text, sizeof text, &length, NULL, 0), ULM_EINVAL);
    assert_string_equal(text, "");
    assert_int_equal(length, 0);
    assert_int_equal(ulm_dmr_metrics(NULL, NULL, text, sizeof text, &length, NULL, 0), ULM_EINVAL);
    ulm_client_free(c);
}

int main(void)
{
    if (!getenv("ULM_TEST_DMR_URL")) {
        printf("skipped: ULM_TEST_DMR_URL is not set (tests/run.sh starts the servers)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_loaded_model_and_its_counters_are_shown),
        cmocka_unit_test(the_scrape_passes_promtool),
        cmocka_unit_test(an_unreachable_runner_is_down),
        cmocka_unit_test(another_backend_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
