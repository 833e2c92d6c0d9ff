/* test_runner_metrics.c - a Docker Model Runner's state and metrics written as ulm_dmr_ Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runner_metrics.h"

static char *write_scrape(const ulm_runner_scrape *scrape)
{
    ulm_text out = {0};
    assert_int_equal(ulm__runner_metrics_write(&out, scrape), ULM_OK);
    assert_non_null(out.data);
    return out.data;
}

/* The runners of /engines/ps by state, one info series each; labels escaped. */
static void the_state_is_counted_and_listed(void **state)
{
    (void)state;
    ulm_dmr_runner items[] = {
        {.backend = "llama.cpp", .model = "ai/smollm2", .mode = "completion", .in_use = 1},
        {.backend = "llama.cpp",
         .model = "ai/\"odd\"\\name",
         .mode = "embedding",
         .keep_alive = "10m0s"},
        {.backend = "llama.cpp", .model = "ai/big", .mode = "completion", .loading = 1},
    };
    ulm_dmr_runner_list runners = {items, 3};
    ulm_runner_scrape scrape = {
        .backend = "dmr", .up = 1, .runners = &runners, .disk_bytes = 123456789};
    char *text = write_scrape(&scrape);
    const char *want =
        "# HELP ulm_dmr_up Whether the Docker Model Runner answered GET /engines/ps (1) or not "
        "(0).\n"
        "# TYPE ulm_dmr_up gauge\n"
        "ulm_dmr_up{backend=\"dmr\"} 1\n"
        "# HELP ulm_dmr_runners Models the Docker Model Runner holds in memory, by state: "
        "loading, in_use (serving a request) or idle.\n"
        "# TYPE ulm_dmr_runners gauge\n"
        "ulm_dmr_runners{backend=\"dmr\",state=\"loading\"} 1\n"
        "ulm_dmr_runners{backend=\"dmr\",state=\"in_use\"} 1\n"
        "ulm_dmr_runners{backend=\"dmr\",state=\"idle\"} 1\n"
        "# HELP ulm_dmr_runner_info A model the Docker Model Runner holds in memory: its name, "
        "inference engine, mode and state (always 1).\n"
        "# TYPE ulm_dmr_runner_info gauge\n"
        "ulm_dmr_runner_info{backend=\"dmr\",model=\"ai/smollm2\",engine=\"llama.cpp\","
        "mode=\"completion\",state=\"in_use\",keep_alive=\"\"} 1\n"
        "ulm_dmr_runner_info{backend=\"dmr\",model=\"ai/\\\"odd\\\"\\\\name\",engine=\"llama.cpp\","
        "mode=\"embedding\",state=\"idle\",keep_alive=\"10m0s\"} 1\n"
        "ulm_dmr_runner_info{backend=\"dmr\",model=\"ai/big\",engine=\"llama.cpp\","
        "mode=\"completion\",state=\"loading\",keep_alive=\"\"} 1\n"
        "# HELP ulm_dmr_models_disk_bytes Bytes the models pulled into the Docker Model Runner "
        "take on its disk.\n"
        "# TYPE ulm_dmr_models_disk_bytes gauge\n"
        "ulm_dmr_models_disk_bytes{backend=\"dmr\"} 123456789\n";
    assert_string_equal(text, want);
    ulm_text_free(&(ulm_text){text, 0, 0});
}

/* A runner that did not answer is down, and nothing else is said of it. */
static void a_runner_down_says_only_that(void **state)
{
    (void)state;
    ulm_runner_scrape scrape = {.backend = "my \"dmr\"", .up = 0, .disk_bytes = -1};
    char *text = write_scrape(&scrape);
    assert_string_equal(text, "# HELP ulm_dmr_up Whether the Docker Model Runner answered GET "
                              "/engines/ps (1) or not (0).\n"
                              "# TYPE ulm_dmr_up gauge\n"
                              "ulm_dmr_up{backend=\"my \\\"dmr\\\"\"} 0\n");
    ulm_text_free(&(ulm_text){text, 0, 0});
}

/* The runner's own families: renamed under the prefix with ':' made '_', DMR's backend
 * label renamed engine, the library's backend added; what does not parse is left out. */
static void the_runners_metrics_are_renamed_and_relabelled(void **state)
{
    (void)state;
    const char *runner =
        "# No active runners? a comment that is neither HELP nor TYPE\n"
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        "llamacpp:prompt_tokens_total{backend=\"llama.cpp\",model=\"ai/x\",mode=\"completion\"} 117\n"
        "llamacpp:prompt_tokens_total{ model=\"a,b}\\\"c\" , backend=\"llama.cpp\" ,} 1e3 1700000000000\r\n"
        "plain_metric 4.5\n"
        "\n"
        "   \n"
        "bad-name 1\n"
        "no_value{a=\"1\"}\n"
        "not_a_number{a=\"1\"} twelve\n"
        "unclosed{a=\"1} 3\n"
        "bad_label{1a=\"x\"} 3\n"
        "nan_is_fine NaN\n"
        "# TYPE";
    ulm_dmr_runner_list none = {0};
    ulm_runner_scrape scrape = {.backend = "dmr",
                                .up = 1,
                                .runners = &none,
                                .disk_bytes = -1,
                                .metrics = runner,
                                .metrics_length = strlen(runner)};
    char *text = write_scrape(&scrape);
    const char *own = strstr(text, "# HELP ulm_dmr_runner_llamacpp");
    assert_non_null(own);
    assert_string_equal(
        own,
        "# HELP ulm_dmr_runner_llamacpp_prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE ulm_dmr_runner_llamacpp_prompt_tokens_total counter\n"
        "ulm_dmr_runner_llamacpp_prompt_tokens_total{backend=\"dmr\",engine=\"llama.cpp\","
        "model=\"ai/x\",mode=\"completion\"} 117\n"
        "ulm_dmr_runner_llamacpp_prompt_tokens_total{backend=\"dmr\",model=\"a,b}\\\"c\","
        "engine=\"llama.cpp\"} 1e3 1700000000000\n"
        "ulm_dmr_runner_plain_metric{backend=\"dmr\"} 4.5\n"
        "ulm_dmr_runner_nan_is_fine{backend=\"dmr\"} NaN\n");
    ulm_text_free(&(ulm_text){text, 0, 0});
}

/* Out of memory at each append is reported, never a crash or a leak. */
static void out_of_memory_is_reported(void **state)
{
    (void)state;
    const char *runner = "# HELP a:b help\n# TYPE a:b gauge\na:b{backend=\"x\"} 1\n";
    ulm_dmr_runner item = {.backend = "llama.cpp", .model = "m", .mode = "completion"};
    ulm_dmr_runner_list runners = {&item, 1};
    ulm_runner_scrape scrape = {.backend = "dmr",
                                .up = 1,
                                .runners = &runners,
                                .disk_bytes = 1,
                                .metrics = runner,
                                .metrics_length = strlen(runner)};
    for (long n = 1;; n++) {
        ulm_text out = {0};
        ulm__test_fail_alloc_after(n);
        int rc = ulm__runner_metrics_write(&out, &scrape);
        ulm__test_fail_alloc_after(0);
        ulm_text_free(&out);
        if (rc == ULM_OK)
            break;
        assert_int_equal(rc, ULM_ENOMEM);
        assert_true(n < 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_state_is_counted_and_listed),
        cmocka_unit_test(a_runner_down_says_only_that),
        cmocka_unit_test(the_runners_metrics_are_renamed_and_relabelled),
        cmocka_unit_test(out_of_memory_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
