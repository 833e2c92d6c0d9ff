/* test_config_file.c - the JSON configuration file: a full file, every message with its line, lookups, out of memory, and the line scanner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_file.h"
#include "json_locate.h"

static const char *const known_types[] = {"dmr", "openai", NULL};
static const char *const builtin_backends[] = {"dmr", "openai", NULL};

/* The example of config_file.h, as a user would write it. */
static const char full_example[] =
    "{\n"
    "  \"backends\": {\n"
    "    \"local\":  {\"type\": \"dmr\", \"urls\": [\"http://a:12434\", \"http://b:12434\"],\n"
    "               \"balance\": \"least_in_flight\", \"max_in_flight\": 4, \"max_queue\": 32},\n"
    "    \"openai\": {\"type\": \"openai\", \"url\": \"https://api.openai.com/v1\",\n"
    "               \"api_key_env\": \"OPENAI_API_KEY\"}\n"
    "  },\n"
    "  \"models\": {\n"
    "    \"local/ai/smollm2\": {\"temperature\": 0.2, \"max_tokens\": 256, "
    "\"context_window\": 8192, \"template\": \"no_system\"},\n"
    "    \"fast\": [\"local/ai/smollm2\", \"openai/gpt-4o-mini\"]\n"
    "  },\n"
    "  \"retry\":    {\"max_retries\": 2, \"base_delay_ms\": 200, \"max_delay_ms\": 5000},\n"
    "  \"breaker\":  {\"failures\": 5, \"window_ms\": 30000, \"cooldown_ms\": 30000},\n"
    "  \"timeouts\": {\"connect_ms\": 10000, \"load_ms\": 60000, \"first_token_ms\": 60000,\n"
    "               \"idle_ms\": 30000, \"overall_ms\": 300000},\n"
    "  \"offline\":  {\"use_local_models\": true, \"probe_interval_ms\": 30000},\n"
    "  \"default_model\": \"local/ai/smollm2\"\n"
    "}\n";

static int parse(const char *json, ulm_file_config *c, char *err)
{
    return ulm__file_config_parse(json, strlen(json), "ultra.json", known_types,
                                  builtin_backends, c, err, ULM_ERROR_SIZE);
}

static int is_empty(const ulm_file_config *c)
{
    ulm_file_config empty;
    memset(&empty, 0, sizeof empty);
    return memcmp(c, &empty, sizeof empty) == 0;
}

static void expect_error(const char *json, const char *message)
{
    ulm_file_config c;
    memset(&c, 0x5a, sizeof c); /* the parser must empty it, not rely on the caller */
    char err[ULM_ERROR_SIZE];
    assert_int_equal(parse(json, &c, err), ULM_ECONFIG);
    assert_string_equal(err, message);
    assert_true(is_empty(&c));
}

/* A file in /tmp holding length bytes of text; the caller unlinks path. */
static void write_file(char path[64], const char *text, size_t length)
{
    strcpy(path, "/tmp/ulm-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, length), (ssize_t)length);
    close(fd);
}

static void check_full_example(const ulm_file_config *c)
{
    assert_int_equal(c->backend_count, 2);
    const ulm_file_backend *local = &c->backends[0], *openai = &c->backends[1];
    assert_string_equal(local->name, "local");
    assert_string_equal(local->type, "dmr");
    assert_int_equal(local->url_count, 2);
    assert_string_equal(local->urls[0], "http://a:12434");
    assert_string_equal(local->urls[1], "http://b:12434");
    assert_null(local->api_key_env);
    assert_int_equal(local->balance, ULM_BALANCE_LEAST_IN_FLIGHT);
    assert_int_equal(local->max_in_flight, 4);
    assert_int_equal(local->max_queue, 32);
    assert_string_equal(openai->name, "openai");
    assert_string_equal(openai->type, "openai");
    assert_int_equal(openai->url_count, 1);
    assert_string_equal(openai->urls[0], "https://api.openai.com/v1");
    assert_string_equal(openai->api_key_env, "OPENAI_API_KEY");
    assert_int_equal(openai->balance, ULM_BALANCE_ROUND_ROBIN);
    assert_int_equal(openai->max_in_flight, 0);
    assert_int_equal(openai->max_queue, -1);

    assert_int_equal(c->model_count, 1);
    assert_string_equal(c->models[0].name, "local/ai/smollm2");
    assert_true(c->models[0].has_temperature);
    assert_true(c->models[0].temperature == 0.2);
    assert_int_equal(c->models[0].max_tokens, 256);
    assert_int_equal(c->models[0].context_window, 8192);
    assert_int_equal(c->models[0].prompt_template, ULM_TEMPLATE_NO_SYSTEM);
    assert_int_equal(c->alias_count, 1);
    assert_string_equal(c->aliases[0].name, "fast");
    assert_int_equal(c->aliases[0].target_count, 2);
    assert_string_equal(c->aliases[0].targets[0], "local/ai/smollm2");
    assert_string_equal(c->aliases[0].targets[1], "openai/gpt-4o-mini");

    assert_int_equal(c->max_retries, 2);
    assert_int_equal(c->base_delay_ms, 200);
    assert_int_equal(c->max_delay_ms, 5000);
    assert_int_equal(c->breaker_failures, 5);
    assert_int_equal(c->breaker_window_ms, 30000);
    assert_int_equal(c->breaker_cooldown_ms, 30000);
    assert_int_equal(c->timeouts[0], -1);
    assert_int_equal(c->timeouts[ULM_CLOCK_CONNECT], 10000);
    assert_int_equal(c->timeouts[ULM_CLOCK_LOAD], 60000);
    assert_int_equal(c->timeouts[ULM_CLOCK_FIRST_TOKEN], 60000);
    assert_int_equal(c->timeouts[ULM_CLOCK_IDLE], 30000);
    assert_int_equal(c->timeouts[ULM_CLOCK_OVERALL], 300000);
    assert_int_equal(c->use_local_models_when_offline, 1);
    assert_int_equal(c->probe_interval_ms, 30000);
    assert_string_equal(c->default_model, "local/ai/smollm2");
}

/* ---------------------------------------------------------------- valid files */

static void full_example_parses(void **state)
{
    (void)state;
    ulm_file_config c;
    char err[ULM_ERROR_SIZE] = "left over";
    assert_int_equal(parse(full_example, &c, err), ULM_OK);
    assert_string_equal(err, "");
    check_full_example(&c);
    ulm__file_config_free(&c);
    assert_true(is_empty(&c));
    ulm__file_config_free(&c); /* a freed config may be freed again */
}

static void full_example_loads_from_a_file(void **state)
{
    (void)state;
    char path[64];
    write_file(path, full_example, strlen(full_example));
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm__file_config_load(path, known_types, builtin_backends, &c, err,
                                           sizeof err),
                     ULM_OK);
    check_full_example(&c);
    ulm__file_config_free(&c);
    unlink(path);
}

static void sections_are_optional(void **state)
{
    (void)state;
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(parse("{}", &c, err), ULM_OK);
    assert_int_equal(c.backend_count + c.model_count + c.alias_count, 0);
    assert_null(c.backends);
    assert_null(c.models);
    assert_null(c.aliases);
    assert_null(c.default_model);
    assert_int_equal(c.max_retries, -1);
    assert_int_equal(c.breaker_failures, -1);
    assert_int_equal(c.timeouts[ULM_CLOCK_IDLE], -1);
    assert_int_equal(c.use_local_models_when_offline, -1);
    assert_int_equal(c.probe_interval_ms, -1);
    ulm__file_config_free(&c);

    assert_int_equal(parse("{\n"
                           "  \"retry\": {\"max_retries\": 0},\n"
                           "  \"timeouts\": {\"idle_ms\": 1},\n"
                           "  \"offline\": {\"use_local_models\": false},\n"
                           "  \"models\": {\"openai/gpt-4o\": {}}\n"
                           "}\n",
                           &c, err),
                     ULM_OK);
    assert_int_equal(c.max_retries, 0);
    assert_int_equal(c.base_delay_ms, -1);
    assert_int_equal(c.timeouts[ULM_CLOCK_IDLE], 1);
    assert_int_equal(c.timeouts[ULM_CLOCK_CONNECT], -1);
    assert_int_equal(c.use_local_models_when_offline, 0);
    assert_int_equal(c.model_count, 1);
    assert_false(c.models[0].has_temperature);
    assert_int_equal(c.models[0].max_tokens, 0);
    assert_int_equal(c.models[0].context_window, 0);
    ulm__file_config_free(&c);
}

static void references_do_not_depend_on_order(void **state)
{
    (void)state;
    /* models before the backends they use; an alias before the model it names; the default
     * an alias; built-in backends without a declaration */
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(parse("{\n"
                           "  \"default_model\": \"chain\",\n"
                           "  \"models\": {\n"
                           "    \"chain\": [\"gpu/llama\", \"dmr/ai/smollm2\", \"openai/gpt-4o\"],\n"
                           "    \"gpu/llama\": {\"temperature\": 0}\n"
                           "  },\n"
                           "  \"backends\": {\"gpu\": {\"type\": \"dmr\", \"url\": \"HTTPS://gpu\"}}\n"
                           "}\n",
                           &c, err),
                     ULM_OK);
    assert_string_equal(c.default_model, "chain");
    assert_int_equal(c.aliases[0].target_count, 3);
    assert_true(c.models[0].has_temperature);
    assert_true(c.models[0].temperature == 0.0);
    ulm__file_config_free(&c);
}

static void lookups_find_aliases_and_models(void **state)
{
    (void)state;
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(parse("{\"models\": {\n"
                           "  \"a\": [\"dmr/x\"],\n"
                           "  \"dmr/x\": {\"max_tokens\": 5},\n"
                           "  \"b\": [\"openai/y\", \"dmr/x\"],\n"
                           "  \"openai/y\": {\"context_window\": 9}\n"
                           "}}",
                           &c, err),
                     ULM_OK);
    const ulm_file_alias *b = ulm__file_config_alias(&c, "b");
    assert_non_null(b);
    assert_string_equal(b->name, "b");
    assert_int_equal(b->target_count, 2);
    assert_string_equal(b->targets[1], "dmr/x");
    assert_ptr_equal(ulm__file_config_alias(&c, "a"), &c.aliases[0]);
    assert_null(ulm__file_config_alias(&c, "c"));
    assert_null(ulm__file_config_alias(&c, "dmr/x"));
    assert_null(ulm__file_config_alias(NULL, "a"));

    const ulm_file_model *y = ulm__file_config_model(&c, "openai/y");
    assert_non_null(y);
    assert_int_equal(y->context_window, 9);
    assert_int_equal(ulm__file_config_model(&c, "dmr/x")->max_tokens, 5);
    assert_null(ulm__file_config_model(&c, "a"));
    assert_null(ulm__file_config_model(&c, "dmr/y"));
    assert_null(ulm__file_config_model(&c, NULL));
    ulm__file_config_free(&c);
}

static void file_of_exactly_the_cap_loads(void **state)
{
    (void)state;
    size_t size = 1024 * 1024;
    char *text = malloc(size);
    memset(text, ' ', size);
    memcpy(text + size - 3, "{}\n", 3);
    char path[64];
    write_file(path, text, size);
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm__file_config_load(path, known_types, builtin_backends, &c, err,
                                           sizeof err),
                     ULM_OK);
    ulm__file_config_free(&c);
    unlink(path);
    free(text);
}

/* ---------------------------------------------------------------- one test per message */

static void invalid_json(void **state)
{
    (void)state;
    expect_error("{\n"
                 "  \"retry\": {\n"
                 "    \"max_retries\": 2,\n"
                 "  }\n"
                 "}\n",
                 "ultra.json:4: invalid JSON: string or '}' expected near '}'");
    expect_error("", "ultra.json:1: invalid JSON: '[' or '{' expected near end of file");
    expect_error("{\"a\": 1} x", "ultra.json:1: invalid JSON: end of file expected near 'x'");
    /* jansson quotes the token where it stopped: not when that may be a key */
    expect_error("{\n"
                 "  \"api_key\" \"sk-proj-abcdef\"\n"
                 "}\n",
                 "ultra.json:2: invalid JSON: ':' expected");
}

static void duplicate_keys_are_refused(void **state)
{
    (void)state;
    /* jansson would keep the last; a file saying two things is refused instead */
    expect_error("{\n"
                 "  \"retry\": {\"max_retries\": 1},\n"
                 "  \"retry\": {\"max_retries\": 2}\n"
                 "}\n",
                 "ultra.json:3: invalid JSON: duplicate object key near '\"retry\"'");
    expect_error("{\"backends\": {\n"
                 "  \"local\": {\"type\": \"dmr\",\n"
                 "            \"type\": \"openai\", \"url\": \"http://x\"}\n"
                 "}}\n",
                 "ultra.json:3: invalid JSON: duplicate object key near '\"type\"'");
}

static void expected_an_object(void **state)
{
    (void)state;
    expect_error("\n[1, 2]", "ultra.json:2: expected an object");
    expect_error("{\n"
                 "  \"retry\":\n"
                 "    5\n"
                 "}\n",
                 "ultra.json:3: retry: expected an object");
    expect_error("{\"backends\": {\n"
                 "  \"local\": \"dmr\"\n"
                 "}}\n",
                 "ultra.json:2: backends.local: expected an object");
    expect_error("{\"backends\": [],\n"
                 " \"models\": null}\n",
                 "ultra.json:1: backends: expected an object");
    expect_error("{\"models\":\n"
                 " null}\n",
                 "ultra.json:2: models: expected an object");
    expect_error("{\"breaker\": {}, \"timeouts\": {}, \"offline\": \"yes\"}",
                 "ultra.json:1: offline: expected an object");
}

static void unknown_key(void **state)
{
    (void)state;
    expect_error("{\n"
                 "  \"backends\": {\n"
                 "    \"local\": {\n"
                 "      \"type\": \"dmr\",\n"
                 "      \"max_queue\": 8,\n"
                 "      \"urll\":\n"
                 "        \"http://a:12434\"\n"
                 "    }\n"
                 "  }\n"
                 "}\n",
                 "ultra.json:7: backends.local.urll: unknown key");
    expect_error("{\n"
                 "  \"retries\": {}\n"
                 "}\n",
                 "ultra.json:2: retries: unknown key");
    expect_error("{\"backends\": {\n"
                 "  \"openai\": {\"type\": \"openai\", \"url\": \"https://x\",\n"
                 "             \"api_key\": \"${OPENAI_API_KEY}\"}\n"
                 "}}\n",
                 "ultra.json:3: backends.openai.api_key: unknown key");
    expect_error("{\"backends\": {\"b\": {\"key\": 1}}}", "ultra.json:1: backends.b.key: unknown key");
    expect_error("{\"models\": {\n"
                 "  \"dmr/x\": {\"temperature\": 1,\n"
                 "            \"top_p\": 0.5}\n"
                 "}}\n",
                 "ultra.json:3: models[\"dmr/x\"].top_p: unknown key");
    expect_error("{\"retry\": {\"max_retires\": 1}}", "ultra.json:1: retry.max_retires: unknown key");
    expect_error("{\"breaker\": {\"threshold\": 1}}", "ultra.json:1: breaker.threshold: unknown key");
    expect_error("{\"timeouts\": {\"read_ms\": 1}}", "ultra.json:1: timeouts.read_ms: unknown key");
    expect_error("{\"offline\": {\"probe_ms\": 1}}", "ultra.json:1: offline.probe_ms: unknown key");
}

/* Prices and the synthesis template, the fan-out's settings. */
static void prices_and_the_synthesis_template(void **state)
{
    (void)state;
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(parse("{\"models\": {\"openai/gpt-4o-mini\": {\"price\":"
                           " {\"input_per_million\": 0.15, \"output_per_million\": 0.6}}},"
                           " \"synthesis\": {\"template\": \"Combine: {answers}\"}}",
                           &c, err),
                     ULM_OK);
    const ulm_file_model *m = ulm__file_config_model(&c, "openai/gpt-4o-mini");
    assert_non_null(m);
    assert_true(m->has_price && m->input_price == 0.15 && m->output_price == 0.6);
    assert_string_equal(c.synthesis_template, "Combine: {answers}");
    ulm__file_config_free(&c);
    expect_error("{\"models\": {\"openai/x\": {\"price\": {\"input_per_million\": 1}}}}",
                 "ultra.json:1: models[\"openai/x\"].price: needs both input_per_million and "
                 "output_per_million");
    expect_error("{\"models\": {\"openai/x\": {\"price\": {\"input_per_million\": -1,"
                 " \"output_per_million\": 1}}}}",
                 "ultra.json:1: models[\"openai/x\"].price.input_per_million: expected a price "
                 "per million tokens, a number from 0 to 1e9");
    expect_error("{\"synthesis\": {\"template\": \"Reconcile {original_prompt}\"}}",
                 "ultra.json:1: synthesis.template: synthesis template: unknown placeholder "
                 "\"{original_prompt}\" at byte 10 (known: {question}, {answers}, {count}; "
                 "\"{{\" for a brace)");
    expect_error("{\"synthesis\": {\"model\": \"x\"}}",
                 "ultra.json:1: synthesis.model: unknown key");
}

static void a_name_like_a_key_is_not_shown(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"sk-proj-abcdef\":\n"
                 "    {}\n"
                 "}}\n",
                 "ultra.json:3: backends: a name looks like an API key; put it in an "
                 "environment variable and name that in api_key_env");
    expect_error("{\"AIzaSyAbc\": 1}",
                 "ultra.json:1: a name looks like an API key; put it in an environment variable "
                 "and name that in api_key_env");
}

static void a_value_like_a_key_is_not_shown(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"openai\": {\"type\": \"openai\", \"url\": \"https://x\",\n"
                 "             \"api_key\": \"sk-proj-abcdef\"}\n"
                 "}}\n",
                 "ultra.json:3: backends.openai.api_key: looks like an API key; put it in an "
                 "environment variable and name that in api_key_env");
    expect_error("{\"backends\": {\"g\": {\"type\": \"AIzaSyAbc\"}}}",
                 "ultra.json:1: backends.g.type: looks like an API key; put it in an environment "
                 "variable and name that in api_key_env");
    expect_error("{\"backends\": {\"g\": {\"urls\": [\"http://x\",\n"
                 "  \"sk-ant-abc\"]}}}",
                 "ultra.json:2: backends.g.urls[1]: looks like an API key; put it in an "
                 "environment variable and name that in api_key_env");
    expect_error("{\"models\": {\"fast\": [\"sk-abc\"]}}",
                 "ultra.json:1: models.fast[0]: looks like an API key; put it in an environment "
                 "variable and name that in api_key_env");
    expect_error("{\"default_model\": \"sk-abc\"}",
                 "ultra.json:1: default_model: looks like an API key; put it in an environment "
                 "variable and name that in api_key_env");
}

static void api_key_env_holding_a_key(void **state)
{
    (void)state;
    expect_error("{\n"
                 "  \"backends\": {\n"
                 "    \"openai\": {\"type\": \"openai\", \"url\": \"https://api.openai.com/v1\",\n"
                 "               \"api_key_env\": \"sk-proj-abcdef\"}\n"
                 "  }\n"
                 "}\n",
                 "ultra.json:4: backends.openai.api_key_env: looks like a key itself; name the "
                 "environment variable that holds it");
    expect_error("{\"backends\": {\"g\": {\"api_key_env\": \"AIzaSyAbc\"}}}",
                 "ultra.json:1: backends.g.api_key_env: looks like a key itself; name the "
                 "environment variable that holds it");
}

static void expected_a_string(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\"b\": {\n"
                 "  \"type\": 5}}}",
                 "ultra.json:2: backends.b.type: expected a string");
    expect_error("{\"backends\": {\"b\": {\"balance\": true}}}",
                 "ultra.json:1: backends.b.balance: expected a string");
    expect_error("{\"backends\": {\"b\": {\"api_key_env\": null}}}",
                 "ultra.json:1: backends.b.api_key_env: expected a string");
    expect_error("{\"models\": {\"fast\": [\"dmr/a\",\n"
                 "  3]}}",
                 "ultra.json:2: models.fast[1]: expected a string");
    expect_error("{\"default_model\": [\"dmr/a\"]}",
                 "ultra.json:1: default_model: expected a string");
}

static void expected_a_whole_number(void **state)
{
    (void)state;
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{\"retry\": {\"max_retries\": 11}}",
         "ultra.json:1: retry.max_retries: expected a whole number from 0 to 10"},
        {"{\"retry\": {\"max_retries\": 2.0}}",
         "ultra.json:1: retry.max_retries: expected a whole number from 0 to 10"},
        {"{\"retry\": {\"base_delay_ms\": 0}}",
         "ultra.json:1: retry.base_delay_ms: expected a whole number from 1 to 600000"},
        {"{\"retry\": {\"max_delay_ms\": 600001}}",
         "ultra.json:1: retry.max_delay_ms: expected a whole number from 1 to 600000"},
        {"{\"breaker\": {\"failures\": 65}}",
         "ultra.json:1: breaker.failures: expected a whole number from 1 to 64"},
        {"{\"breaker\": {\"window_ms\": 0}}",
         "ultra.json:1: breaker.window_ms: expected a whole number from 1 to 86400000"},
        {"{\"breaker\": {\"cooldown_ms\": \"5\"}}",
         "ultra.json:1: breaker.cooldown_ms: expected a whole number from 1 to 86400000"},
        {"{\"timeouts\": {\"connect_ms\": 86400001}}",
         "ultra.json:1: timeouts.connect_ms: expected a whole number from 1 to 86400000"},
        {"{\"timeouts\": {\"load_ms\": -1}}",
         "ultra.json:1: timeouts.load_ms: expected a whole number from 1 to 86400000"},
        {"{\"timeouts\": {\"first_token_ms\": null}}",
         "ultra.json:1: timeouts.first_token_ms: expected a whole number from 1 to 86400000"},
        {"{\"timeouts\": {\"idle_ms\": 1e3}}",
         "ultra.json:1: timeouts.idle_ms: expected a whole number from 1 to 86400000"},
        {"{\"timeouts\": {\"overall_ms\": 0}}",
         "ultra.json:1: timeouts.overall_ms: expected a whole number from 1 to 86400000"},
        {"{\"offline\": {\"probe_interval_ms\": true}}",
         "ultra.json:1: offline.probe_interval_ms: expected a whole number from 1 to 86400000"},
        {"{\"backends\": {\"b\": {\"max_in_flight\": -1}}}",
         "ultra.json:1: backends.b.max_in_flight: expected a whole number from 0 to 10000"},
        {"{\"backends\": {\"b\": {\"max_queue\": 100001}}}",
         "ultra.json:1: backends.b.max_queue: expected a whole number from 0 to 100000"},
        {"{\"models\": {\"dmr/x\": {\"max_tokens\": 0}}}",
         "ultra.json:1: models[\"dmr/x\"].max_tokens: expected a whole number from 1 to 10000000"},
        {"{\"models\": {\"dmr/x\": {\"context_window\": 100000001}}}",
         "ultra.json:1: models[\"dmr/x\"].context_window: expected a whole number from 1 to "
         "100000000"},
        {"{\"models\": {\"dmr/x\": {\n"
         "  \"context_window\": 9223372036854775807}}}",
         "ultra.json:2: models[\"dmr/x\"].context_window: expected a whole number from 1 to "
         "100000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].json, cases[i].message);
}

static void unknown_prompt_template(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"dmr/x\": {\"template\": \"chatml\"}}}",
                 "ultra.json:2: models[\"dmr/x\"].template: unknown template \"chatml\" (known: "
                 "chat, no_system, alternating, completion)");
    expect_error("{\"models\": {\"dmr/x\": {\"template\": 1}}}",
                 "ultra.json:1: models[\"dmr/x\"].template: expected a string");
}

static void expected_a_temperature(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"openai/gpt-4o\": {\"temperature\": 2.5}}}",
                 "ultra.json:2: models[\"openai/gpt-4o\"].temperature: expected a number from 0 "
                 "to 2");
    expect_error("{\"models\": {\"dmr/x\": {\"temperature\": -0.1}}}",
                 "ultra.json:1: models[\"dmr/x\"].temperature: expected a number from 0 to 2");
    expect_error("{\"models\": {\"dmr/x\": {\"temperature\": \"0.5\"}}}",
                 "ultra.json:1: models[\"dmr/x\"].temperature: expected a number from 0 to 2");
}

static void expected_true_or_false(void **state)
{
    (void)state;
    expect_error("{\"offline\": {\n"
                 "  \"use_local_models\": 1}}",
                 "ultra.json:2: offline.use_local_models: expected true or false");
}

static void backend_name_empty(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"\": {\"type\": \"dmr\", \"url\": \"http://x\"}}}",
                 "ultra.json:2: backends[\"\"]: a backend name cannot be empty");
}

static void backend_name_with_a_slash(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"my/dmr\": {\"type\": \"dmr\", \"url\": \"http://x\"}}}",
                 "ultra.json:2: backends[\"my/dmr\"]: a backend name cannot contain \"/\"");
}

static void url_and_urls_together(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"local\": {\"type\": \"dmr\", \"url\": \"http://x\",\n"
                 "            \"urls\": [\"http://y\"]}}}",
                 "ultra.json:2: backends.local: \"url\" and \"urls\" are alternatives; give one");
}

static void url_missing(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"local\": {\n"
                 "    \"type\": \"dmr\"}}}",
                 "ultra.json:2: backends.local: missing \"url\" or \"urls\"");
}

static void type_missing(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\n"
                 "  \"openai\":\n"
                 "    {\"url\": \"https://x\"}}}",
                 "ultra.json:3: backends.openai: missing \"type\"");
}

static void unknown_type(void **state)
{
    (void)state;
    expect_error("{\n"
                 "  \"backends\": {\n"
                 "    \"local\": {\n"
                 "      \"type\": \"dmrr\",\n"
                 "      \"url\": \"http://x\"}}}",
                 "ultra.json:4: backends.local.type: unknown type \"dmrr\" (known: dmr, openai)");
    /* a value is shown as JSON, so that what it holds is plain */
    expect_error("{\"backends\": {\"l\": {\"type\": \"dm\\nr\\\"\"}}}",
                 "ultra.json:1: backends.l.type: unknown type \"dm\\nr\\\"\" (known: dmr, openai)");
}

static void url_not_http(void **state)
{
    (void)state;
    static const char *const bad[] = {"\"ftp://x\"", "\"http://\"", "\"http://a b\"",
                                      "\"localhost:12434\"", "12434", "[\"http://x\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"backends\": {\"l\": {\"type\": \"dmr\",\n\"url\": %s}}}",
                 bad[i]);
        expect_error(json, "ultra.json:2: backends.l.url: expected an http:// or https:// URL "
                           "without spaces");
    }
    expect_error("{\"backends\": {\"l\": {\"type\": \"dmr\", \"urls\": [\n"
                 "  \"http://a\",\n"
                 "  \"http://b\\t\"]}}}",
                 "ultra.json:3: backends.l.urls[1]: expected an http:// or https:// URL without "
                 "spaces");
    expect_error("{\"backends\": {\"l\": {\"type\": \"dmr\", \"urls\": [\n"
                 "  {}]}}}",
                 "ultra.json:2: backends.l.urls[0]: expected an http:// or https:// URL without "
                 "spaces");
}

static void urls_not_a_non_empty_array(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\"l\": {\"type\": \"dmr\",\n"
                 "  \"urls\": []}}}",
                 "ultra.json:2: backends.l.urls: expected a non-empty array of URLs");
    expect_error("{\"backends\": {\"l\": {\"type\": \"dmr\",\n"
                 "  \"urls\": \"http://x\"}}}",
                 "ultra.json:2: backends.l.urls: expected a non-empty array of URLs");
}

static void api_key_env_not_a_variable_name(void **state)
{
    (void)state;
    static const char *const bad[] = {"OPENAI-API-KEY", "1KEY", "", "$OPENAI_API_KEY",
                                      "OPENAI API KEY"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"backends\": {\"o\": {\"type\": \"openai\", \"url\": \"https://x\",\n"
                 "  \"api_key_env\": \"%s\"}}}",
                 bad[i]);
        expect_error(json, "ultra.json:2: backends.o.api_key_env: expected the name of an "
                           "environment variable, such as OPENAI_API_KEY");
    }
}

static void unknown_balance(void **state)
{
    (void)state;
    expect_error("{\"backends\": {\"l\": {\"type\": \"dmr\", \"url\": \"http://x\",\n"
                 "  \"balance\": \"random\"}}}",
                 "ultra.json:2: backends.l.balance: unknown balance \"random\" (known: "
                 "round_robin, least_in_flight)");
}

static void model_entry_neither_object_nor_array(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"fast\": \"dmr/ai/smollm2\"}}",
                 "ultra.json:2: models.fast: expected an object (a model's parameters) or an "
                 "array (an alias)");
}

static void not_backend_slash_model(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"smollm2\": {\"temperature\": 1}}}",
                 "ultra.json:2: models.smollm2: expected \"backend/model\", got \"smollm2\"");
    expect_error("{\"models\": {\"/x\": {}}}",
                 "ultra.json:1: models[\"/x\"]: expected \"backend/model\", got \"/x\"");
    expect_error("{\"models\": {\"fast\": [\"dmr/a\",\n"
                 "  \"openai/\"]}}",
                 "ultra.json:2: models.fast[1]: expected \"backend/model\", got \"openai/\"");
    expect_error("{\"models\": {\"fast\": [\"\"]}}",
                 "ultra.json:1: models.fast[0]: expected \"backend/model\", got \"\"");
    expect_error("{\"models\": {\"fast\": [\"gpt-4o\"]}}",
                 "ultra.json:1: models.fast[0]: expected \"backend/model\", got \"gpt-4o\"");
    expect_error("{\"default_model\": \"/gpt-4o\"}",
                 "ultra.json:1: default_model: expected \"backend/model\", got \"/gpt-4o\"");
}

static void unknown_backend(void **state)
{
    (void)state;
    expect_error("{\n"
                 "  \"models\": {\n"
                 "    \"opnai/gpt-4o\": {\"temperature\": 0.5}\n"
                 "  }\n"
                 "}\n",
                 "ultra.json:3: models[\"opnai/gpt-4o\"]: unknown backend \"opnai\"");
    expect_error("{\n"
                 "  \"models\": {\n"
                 "    \"fast\": [\n"
                 "      \"dmr/ai/smollm2\",\n"
                 "      \"opnai/gpt-4o-mini\"\n"
                 "    ]\n"
                 "  }\n"
                 "}\n",
                 "ultra.json:5: models.fast[1]: unknown backend \"opnai\"");
    expect_error("{\"backends\": {\"local\": {\"type\": \"dmr\", \"url\": \"http://x\"}},\n"
                 " \"default_model\": \"locl/ai/smollm2\"}",
                 "ultra.json:2: default_model: unknown backend \"locl\"");
}

static void alias_name_empty(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"\": [\"dmr/a\"]}}",
                 "ultra.json:2: models[\"\"]: an alias name cannot be empty");
}

static void alias_name_with_a_slash(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"dmr/fast\": [\"dmr/a\"]}}",
                 "ultra.json:2: models[\"dmr/fast\"]: an alias name cannot contain \"/\"");
}

static void alias_without_targets(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"fast\": [\n"
                 "  ]}}",
                 "ultra.json:2: models.fast: an alias needs at least one target");
}

static void alias_naming_an_alias(void **state)
{
    (void)state;
    expect_error("{\"models\": {\n"
                 "  \"fast\": [\"dmr/a\",\n"
                 "           \"cheap\"],\n"
                 "  \"cheap\": [\"openai/gpt-4o-mini\"]}}",
                 "ultra.json:3: models.fast[1]: \"cheap\" is an alias; an alias cannot name "
                 "another alias");
}

static void default_model_neither(void **state)
{
    (void)state;
    expect_error("{\"models\": {\"fast\": [\"dmr/a\"]},\n"
                 " \"default_model\": \"smollm2\"}",
                 "ultra.json:2: default_model: \"smollm2\" is neither \"backend/model\" nor an "
                 "alias");
}

static void max_delay_below_base_delay(void **state)
{
    (void)state;
    expect_error("{\"retry\": {\n"
                 "  \"max_delay_ms\": 100,\n"
                 "  \"base_delay_ms\": 200}}",
                 "ultra.json:2: retry.max_delay_ms: smaller than base_delay_ms");
}

static void unreadable_file(void **state)
{
    (void)state;
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm__file_config_load("/nonexistent/ultra.json", known_types,
                                           builtin_backends, &c, err, sizeof err),
                     ULM_ECONFIG);
    assert_string_equal(err, "cannot read /nonexistent/ultra.json: No such file or directory");
    assert_true(is_empty(&c));
    assert_int_equal(ulm__file_config_load("/tmp", known_types, builtin_backends, &c, err,
                                           sizeof err),
                     ULM_ECONFIG);
    assert_string_equal(err, "cannot read /tmp: Is a directory");
    assert_true(is_empty(&c));
}

static void file_larger_than_the_cap(void **state)
{
    (void)state;
    size_t size = 1024 * 1024 + 1;
    char *text = malloc(size);
    memset(text, ' ', size);
    memcpy(text, "{}", 2);
    char path[64];
    write_file(path, text, size);
    ulm_file_config c;
    char err[ULM_ERROR_SIZE], expected[ULM_ERROR_SIZE];
    assert_int_equal(ulm__file_config_load(path, known_types, builtin_backends, &c, err,
                                           sizeof err),
                     ULM_ECONFIG);
    snprintf(expected, sizeof expected, "%s: larger than 1 MiB", path);
    assert_string_equal(err, expected);
    assert_true(is_empty(&c));
    unlink(path);
    free(text);
}

static void errors_in_a_loaded_file_name_it(void **state)
{
    (void)state;
    char path[64], expected[ULM_ERROR_SIZE];
    const char *text = "{\n  \"retry\": {\"max_retries\": -1}\n}\n";
    write_file(path, text, strlen(text));
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm__file_config_load(path, known_types, builtin_backends, &c, err,
                                           sizeof err),
                     ULM_ECONFIG);
    snprintf(expected, sizeof expected,
             "%s:2: retry.max_retries: expected a whole number from 0 to 10", path);
    assert_string_equal(err, expected);
    unlink(path);
}

/* ---------------------------------------------------------------- out of memory */

static void out_of_memory_anywhere_is_clean(void **state)
{
    (void)state;
    /* Fail each allocation in turn, loading the full example from a file: every run ends
     * in ULM_ENOMEM with nothing left behind, until one needs no failing allocation (the
     * sanitizer and valgrind runs check for leaks). */
    char path[64];
    write_file(path, full_example, strlen(full_example));
    int saw_oom = 0, saw_ok = 0;
    for (long n = 1; n < 200 && !saw_ok; n++) {
        ulm_file_config c;
        char err[ULM_ERROR_SIZE];
        ulm__test_fail_alloc_after(n);
        int rc = ulm__file_config_load(path, known_types, builtin_backends, &c, err,
                                       sizeof err);
        ulm__test_fail_alloc_after(0);
        if (rc == ULM_ENOMEM) {
            assert_true(is_empty(&c));
            assert_string_equal(err, "out of memory");
            saw_oom = 1;
        } else {
            assert_int_equal(rc, ULM_OK);
            check_full_example(&c);
            ulm__file_config_free(&c);
            saw_ok = 1;
        }
    }
    assert_true(saw_oom);
    assert_true(saw_ok);
    unlink(path);
}

/* ---------------------------------------------------------------- the line scanner */

static size_t line_of(const char *text, const ulm_json_step *path, size_t depth)
{
    return ulm__json_line(text, strlen(text), path, depth);
}

static void lines_of_nested_paths(void **state)
{
    (void)state;
    const char *text = "\n"                              /* 1 */
                       "{\n"                             /* 2 */
                       "  \"a\": {\n"                    /* 3 */
                       "    \"list\": [\n"               /* 4 */
                       "      1.5e3, \"x,]}\",\n"        /* 5 */
                       "      {\"b\": [true,\n"          /* 6 */
                       "             null]},\n"          /* 7 */
                       "      [[], {}],\n"               /* 8 */
                       "      -2\n"                      /* 9 */
                       "    ],\n"                        /* 10 */
                       "    \"z\":\n"                    /* 11 */
                       "\n"                              /* 12 */
                       "      false\n"                   /* 13 */
                       "  }\n"                           /* 14 */
                       "}\n";
    ulm_json_step p[4] = {{"a", 0}, {"list", 0}, {NULL, 0}, {NULL, 0}};
    assert_int_equal(line_of(text, p, 0), 2);
    assert_int_equal(line_of(text, p, 1), 3);
    assert_int_equal(line_of(text, p, 2), 4);
    assert_int_equal(line_of(text, p, 3), 5);
    p[2].index = 1;
    assert_int_equal(line_of(text, p, 3), 5);
    p[2].index = 2;
    assert_int_equal(line_of(text, p, 3), 6);
    p[3] = (ulm_json_step){"b", 0};
    assert_int_equal(line_of(text, p, 4), 6);
    p[2].index = 3;
    assert_int_equal(line_of(text, p, 3), 8);
    p[2].index = 4;
    assert_int_equal(line_of(text, p, 3), 9);
    ulm_json_step z[2] = {{"a", 0}, {"z", 0}};
    assert_int_equal(line_of(text, z, 2), 13);

    /* the second element of b, in an object in an array */
    ulm_json_step deep[5] = {{"a", 0}, {"list", 0}, {NULL, 2}, {"b", 0}, {NULL, 1}};
    assert_int_equal(line_of(text, deep, 5), 7);
}

static void lines_of_escaped_keys(void **state)
{
    (void)state;
    const char *text = "{\"q\\\"uote\": 1,\n"                       /* 1 */
                       " \"back\\\\slash\": 2,\n"                   /* 2 */
                       " \"\\u00e9t\\u00E9\": 3,\n"                 /* 3 */
                       " \"smile\\ud83d\\ude00\": 4,\n"             /* 4 */
                       " \"local\\/ai\": 5,\n"                      /* 5 */
                       " \"tab\\there\\n\": 6,\n"                   /* 6 */
                       " \"\xc3\xa9t\xc3\xa9\": 7,\n"               /* 7: raw UTF-8 */
                       " \"q\": 8}\n";                              /* 8 */
    static const struct {
        const char *key;
        size_t line;
    } cases[] = {
        {"q\"uote", 1},     {"back\\slash", 2},          {"\xc3\xa9t\xc3\xa9", 3},
        {"smile\xf0\x9f\x98\x80", 4}, {"local/ai", 5}, {"tab\there\n", 6}, {"q", 8},
        {"q\"", 0},         {"back", 0},                  {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_json_step p = {cases[i].key, 0};
        assert_int_equal(line_of(text, &p, 1), cases[i].line);
    }
}

static void lines_of_arrays_of_objects(void **state)
{
    (void)state;
    const char *text = "[\n"
                       "  {\"name\": \"a\"},\n"
                       "  {\"name\": \"b\",\n"
                       "   \"tags\": [\"x\", \"y\"]},\n"
                       "  {}\n"
                       "]";
    ulm_json_step p[3] = {{NULL, 1}, {"tags", 0}, {NULL, 1}};
    assert_int_equal(line_of(text, p, 3), 4);
    p[0].index = 2;
    assert_int_equal(line_of(text, p, 1), 5);
    assert_int_equal(line_of(text, p, 2), 0); /* {} has no tags */
}

static void missing_paths_are_line_zero(void **state)
{
    (void)state;
    const char *text = "{\"a\": {\"b\": [1, 2]}, \"s\": \"str\"}";
    ulm_json_step none[] = {{"x", 0}};
    ulm_json_step past_end[] = {{"a", 0}, {"b", 0}, {NULL, 2}};
    ulm_json_step key_in_array[] = {{"a", 0}, {"b", 0}, {"c", 0}};
    ulm_json_step index_in_object[] = {{"a", 0}, {NULL, 0}};
    ulm_json_step into_string[] = {{"s", 0}, {NULL, 0}};
    assert_int_equal(line_of(text, none, 1), 0);
    assert_int_equal(line_of(text, past_end, 3), 0);
    assert_int_equal(line_of(text, key_in_array, 3), 0);
    assert_int_equal(line_of(text, index_in_object, 2), 0);
    assert_int_equal(line_of(text, into_string, 2), 0);
    assert_int_equal(ulm__json_line(NULL, 0, none, 1), 0);
    assert_int_equal(ulm__json_line(text, 0, none, 0), 0);
    ulm_json_step empty_array[] = {{NULL, 0}};
    assert_int_equal(line_of("[ ]", empty_array, 1), 0);
}

static void repeated_keys_take_the_first(void **state)
{
    (void)state;
    const char *text = "{\"k\": 1,\n\"k\": 2}";
    ulm_json_step p = {"k", 0};
    assert_int_equal(line_of(text, &p, 1), 1);
}

static void garbage_never_reads_past_the_end(void **state)
{
    (void)state;
    /* Each is cut at every length and scanned from a copy of exactly that size, so the
     * sanitizers see any read past it. */
    static const char *const inputs[] = {
        "{\"a\": [1, {\"b\": \"x\\",        "{\"a\\u12", "{\"a\\ud83d\\u", "[[[[[[[[[[",
        "{\"a\" 1, \"b\": 2}",              "]]]}}}",     "{\"a\": \"\\",   "{\"a\":[,,,]}",
        "{\"\\u0000\": 1}",                 "{\"\\x\": 1, \"a\": {\"b\": 2}}",
    };
    ulm_json_step paths[][3] = {
        {{"a", 0}, {NULL, 1}, {"b", 0}},
        {{NULL, 3}, {NULL, 0}, {NULL, 0}},
        {{"a", 0}, {NULL, 2}, {NULL, 0}},
        {{"", 0}, {"a", 0}, {"b", 0}},
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t length = strlen(inputs[i]);
        for (size_t cut = 0; cut <= length; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, inputs[i], cut);
            for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
                for (size_t depth = 0; depth <= 3; depth++)
                    assert_true(ulm__json_line(copy, cut, paths[p], depth) <= 2);
            free(copy);
        }
    }
    ulm_json_step nul_key = {"", 0};
    assert_int_equal(line_of("{\"\\u0000\": 1}", &nul_key, 1), 0);
    ulm_json_step later = {"a", 0};
    assert_int_equal(line_of("{\"\\x\": 1, \"a\": 2}", &later, 1), 1);
}

/* ---------------------------------------------------------------- writing paths */

static void path_format(ulm_json_step *p, size_t depth, const char *expected)
{
    char buf[128];
    ulm__json_path_format(p, depth, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

static void paths_are_written_as_messages_show_them(void **state)
{
    (void)state;
    ulm_json_step alias[] = {{"models", 0}, {"fast", 0}, {NULL, 1}};
    path_format(alias, 3, "models.fast[1]");
    path_format(alias, 0, "");
    ulm_json_step model[] = {{"models", 0}, {"local/ai/smollm2", 0}, {"temperature", 0}};
    path_format(model, 3, "models[\"local/ai/smollm2\"].temperature");
    ulm_json_step names[] = {{"_x-1", 0}, {"1x", 0}, {"", 0}, {"a b", 0}, {"q\"\n\x01", 0},
                             {"\xc3\xa9", 0}};
    path_format(names, 6, "_x-1[\"1x\"][\"\"][\"a b\"][\"q\\\"\\n\\u0001\"][\"\xc3\xa9\"]");
    ulm_json_step top_index[] = {{NULL, 0}, {"a", 0}, {NULL, 12}, {NULL, 3}};
    path_format(top_index, 4, "[0].a[12][3]");

    /* cut to the buffer, always terminated */
    char small[8];
    ulm__json_path_format(alias, 3, small, sizeof small);
    assert_string_equal(small, "models.");
    ulm__json_path_format(alias, 3, small, 1);
    assert_string_equal(small, "");
    /* a long key is cut on its own, so the steps after it still show */
    char key[300], buf[256];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    key[0] = '/';
    ulm_json_step long_key[] = {{"models", 0}, {key, 0}, {"max_tokens", 0}};
    ulm__json_path_format(long_key, 3, buf, sizeof buf);
    assert_true(strstr(buf, "...\"].max_tokens") != NULL);
    assert_true(strlen(buf) < 100);
}

static void strings_are_quoted_and_cut(void **state)
{
    (void)state;
    char buf[16];
    ulm__json_quote("dmr", 3, buf, sizeof buf);
    assert_string_equal(buf, "\"dmr\"");
    ulm__json_quote("opnai/gpt", 5, buf, sizeof buf);
    assert_string_equal(buf, "\"opnai\"");
    ulm__json_quote("a\0b", 3, buf, sizeof buf);
    assert_string_equal(buf, "\"a\\u0000b\"");
    ulm__json_quote("0123456789abcdef", 16, buf, sizeof buf);
    assert_string_equal(buf, "\"0123456789...\"");
    ulm__json_quote("0123456789abc", 13, buf, sizeof buf); /* exactly fits */
    assert_string_equal(buf, "\"0123456789abc\"");
    /* cut before a UTF-8 sequence, never inside it */
    ulm__json_quote("0123456789\xe2\x82\xac", 13, buf, sizeof buf);
    assert_string_equal(buf, "\"0123456789\xe2\x82\xac\"");
    ulm__json_quote("012345678\xe2\x82\xac!!!", 15, buf, sizeof buf);
    assert_string_equal(buf, "\"012345678...\"");
    ulm__json_quote("abc", 3, buf, 5);
    assert_string_equal(buf, "");
    ulm__json_quote("abcdef", 6, buf, 6);
    assert_string_equal(buf, "\"...\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_example_parses),
        cmocka_unit_test(full_example_loads_from_a_file),
        cmocka_unit_test(sections_are_optional),
        cmocka_unit_test(references_do_not_depend_on_order),
        cmocka_unit_test(lookups_find_aliases_and_models),
        cmocka_unit_test(file_of_exactly_the_cap_loads),
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(duplicate_keys_are_refused),
        cmocka_unit_test(expected_an_object),
        cmocka_unit_test(unknown_key),
        cmocka_unit_test(prices_and_the_synthesis_template),
        cmocka_unit_test(a_name_like_a_key_is_not_shown),
        cmocka_unit_test(a_value_like_a_key_is_not_shown),
        cmocka_unit_test(api_key_env_holding_a_key),
        cmocka_unit_test(expected_a_string),
        cmocka_unit_test(expected_a_whole_number),
        cmocka_unit_test(expected_a_temperature),
        cmocka_unit_test(unknown_prompt_template),
        cmocka_unit_test(expected_true_or_false),
        cmocka_unit_test(backend_name_empty),
        cmocka_unit_test(backend_name_with_a_slash),
        cmocka_unit_test(url_and_urls_together),
        cmocka_unit_test(url_missing),
        cmocka_unit_test(type_missing),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(url_not_http),
        cmocka_unit_test(urls_not_a_non_empty_array),
        cmocka_unit_test(api_key_env_not_a_variable_name),
        cmocka_unit_test(unknown_balance),
        cmocka_unit_test(model_entry_neither_object_nor_array),
        cmocka_unit_test(not_backend_slash_model),
        cmocka_unit_test(unknown_backend),
        cmocka_unit_test(alias_name_empty),
        cmocka_unit_test(alias_name_with_a_slash),
        cmocka_unit_test(alias_without_targets),
        cmocka_unit_test(alias_naming_an_alias),
        cmocka_unit_test(default_model_neither),
        cmocka_unit_test(max_delay_below_base_delay),
        cmocka_unit_test(unreadable_file),
        cmocka_unit_test(file_larger_than_the_cap),
        cmocka_unit_test(errors_in_a_loaded_file_name_it),
        cmocka_unit_test(out_of_memory_anywhere_is_clean),
        cmocka_unit_test(lines_of_nested_paths),
        cmocka_unit_test(lines_of_escaped_keys),
        cmocka_unit_test(lines_of_arrays_of_objects),
        cmocka_unit_test(missing_paths_are_line_zero),
        cmocka_unit_test(repeated_keys_take_the_first),
        cmocka_unit_test(garbage_never_reads_past_the_end),
        cmocka_unit_test(paths_are_written_as_messages_show_them),
        cmocka_unit_test(strings_are_quoted_and_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
