/* test_config.c - client settings from options and environment, and the messages for bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "route.h"

static const char *vars[] = {"ENABLE_MODEL_RUNNER",    "MODEL_RUNNER_URL",
                             "DEFAULT_LOCAL_MODEL",    "AVAILABLE_LOCAL_MODELS",
                             "LOCAL_MODEL_TIMEOUT",    "OPENAI_API_KEY",
                             "OPENAI_BASE_URL",        "ULM_CONFIG",
                             "USE_LOCAL_MODELS_WHEN_OFFLINE", "ANTHROPIC_API_KEY",
                             "ANTHROPIC_BASE_URL",     "GEMINI_API_KEY",
                             "GOOGLE_API_KEY",         "GEMINI_BASE_URL",
                             "MY_CLAUDE_KEY"};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

/* Creates a client from the environment and returns its error message (static). */
static int create(ulm_client **out, char *err)
{
    *out = NULL;
    return ulm_client_new(out, NULL, err, ULM_ERROR_SIZE);
}

static void expect_config_error(const char *var, const char *value, const char *message)
{
    setenv(var, value, 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_ECONFIG);
    assert_null(c);
    assert_string_equal(err, message);
    unsetenv(var);
}

static void defaults_without_environment(void **state)
{
    (void)state;
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    assert_string_equal(err, "");
    assert_string_equal(ulm_client_default_model(c), "dmr/ai/smollm2:latest");
    ulm_backend *dmr = ulm__client_backend(c, "dmr");
    assert_string_equal(dmr->urls[0], "http://localhost:12434/engines/v1");
    assert_string_equal(dmr->disabled, "");
    assert_int_equal(c->settings.timeouts.ms[ULM_CLOCK_LOAD], 60000);
    ulm_backend *openai = ulm__client_backend(c, "openai");
    assert_string_equal(openai->urls[0], "https://api.openai.com/v1");
    assert_string_equal(openai->disabled, "OPENAI_API_KEY is not set");
    ulm_backend *anthropic = ulm__client_backend(c, "anthropic");
    assert_string_equal(anthropic->urls[0], "https://api.anthropic.com");
    assert_string_equal(anthropic->disabled, "ANTHROPIC_API_KEY is not set");
    ulm_backend *gemini = ulm__client_backend(c, "gemini");
    assert_string_equal(gemini->urls[0], "https://generativelanguage.googleapis.com");
    assert_string_equal(gemini->disabled, "GEMINI_API_KEY or GOOGLE_API_KEY is not set");
    ulm_client_free(c);
}

/* The parser's list of type names is the table's names, in its order, NULL-terminated. */
static void type_names_follow_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++) {
        assert_non_null(ulm__backend_types[i].name);
        assert_string_equal(ulm__backend_type_names[i], ulm__backend_types[i].name);
        assert_ptr_equal(ulm__backend_type(ulm__backend_types[i].name), &ulm__backend_types[i]);
    }
    assert_null(ulm__backend_type_names[ULM_BACKEND_TYPE_COUNT]);
    assert_null(ulm__backend_type("nosuch"));
}

/* Each cloud backend sends its key in its own header; a URL copied with the API version
 * in it loses the version, which the adapter's paths add. */
static void cloud_keys_and_urls(void **state)
{
    (void)state;
    setenv("ANTHROPIC_API_KEY", "sk-ant-test", 1);
    setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:5000/anthropic/ok/v1/", 1);
    setenv("GOOGLE_API_KEY", "google-key", 1);
    setenv("GEMINI_BASE_URL", "http://127.0.0.1:5000/gemini/ok/v1beta", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    ulm_backend *anthropic = ulm__client_backend(c, "anthropic");
    assert_string_equal(anthropic->disabled, "");
    assert_string_equal(anthropic->urls[0], "http://127.0.0.1:5000/anthropic/ok");
    assert_string_equal(anthropic->auth_line, "x-api-key: sk-ant-test");
    ulm_backend *gemini = ulm__client_backend(c, "gemini");
    assert_string_equal(gemini->urls[0], "http://127.0.0.1:5000/gemini/ok");
    assert_string_equal(gemini->auth_line, "x-goog-api-key: google-key");
    ulm_client_free(c);

    /* GEMINI_API_KEY wins over GOOGLE_API_KEY; options win over both */
    setenv("GEMINI_API_KEY", "gemini-key", 1);
    assert_int_equal(create(&c, err), ULM_OK);
    assert_string_equal(ulm__client_backend(c, "gemini")->auth_line, "x-goog-api-key: gemini-key");
    ulm_client_free(c);
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.gemini_api_key = "option-key";
    opts.gemini_base_url = "http://gemini.test";
    opts.anthropic_api_key = "option-ant";
    opts.anthropic_base_url = "http://anthropic.test/v1";
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    assert_string_equal(ulm__client_backend(c, "gemini")->auth_line, "x-goog-api-key: option-key");
    assert_string_equal(ulm__client_backend(c, "gemini")->urls[0], "http://gemini.test");
    assert_string_equal(ulm__client_backend(c, "anthropic")->auth_line, "x-api-key: option-ant");
    assert_string_equal(ulm__client_backend(c, "anthropic")->urls[0], "http://anthropic.test");
    ulm_client_free(c);
    opts.anthropic_api_key = "bad\nkey";
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_string_equal(err, "options.anthropic_api_key: contains a control character");
}

static void environment_is_read(void **state)
{
    (void)state;
    setenv("MODEL_RUNNER_URL", "http://model-runner.docker.internal/v1/", 1);
    setenv("DEFAULT_LOCAL_MODEL", "Gemma3", 1);
    setenv("AVAILABLE_LOCAL_MODELS", "smollm2, ai/llama3.2:1B-Q8_0", 1);
    setenv("LOCAL_MODEL_TIMEOUT", "1500", 1);
    setenv("OPENAI_API_KEY", "sk-test", 1);
    setenv("OPENAI_BASE_URL", "http://127.0.0.1:4010/", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    assert_string_equal(ulm_client_default_model(c), "dmr/ai/gemma3:latest");
    ulm_backend *dmr = ulm__client_backend(c, "dmr");
    /* Compose's URL already ends in /v1/: no second /v1, no /engines */
    assert_string_equal(dmr->urls[0], "http://model-runner.docker.internal/v1");
    assert_int_equal(c->settings.timeouts.ms[ULM_CLOCK_LOAD], 1500);
    assert_int_equal(c->settings.local_model_count, 2);
    assert_string_equal(c->settings.local_models[0], "ai/smollm2:latest");
    assert_string_equal(c->settings.local_models[1], "ai/llama3.2:1B-Q8_0");
    ulm_backend *openai = ulm__client_backend(c, "openai");
    assert_string_equal(openai->disabled, "");
    assert_string_equal(openai->urls[0], "http://127.0.0.1:4010");
    assert_string_equal(openai->auth_line, "Authorization: Bearer sk-test");
    ulm_client_free(c);
}

static void options_override_environment(void **state)
{
    (void)state;
    setenv("LOCAL_MODEL_TIMEOUT", "not a number", 1);
    setenv("MODEL_RUNNER_URL", "http://ignored:1", 1);
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.local_model_timeout_ms = 2500;
    opts.model_runner_url = "http://127.0.0.1:9999/engines/llama.cpp/v1";
    opts.enable_model_runner = -1;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    ulm_backend *dmr = ulm__client_backend(c, "dmr");
    assert_string_equal(dmr->urls[0], "http://127.0.0.1:9999/engines/llama.cpp/v1");
    assert_int_equal(c->settings.timeouts.ms[ULM_CLOCK_LOAD], 2500);
    assert_string_equal(dmr->disabled, "disabled by ENABLE_MODEL_RUNNER=false");
    ulm_client_free(c);
}

static void ignore_environment_reads_nothing(void **state)
{
    (void)state;
    setenv("OPENAI_API_KEY", "sk-from-env", 1);
    setenv("LOCAL_MODEL_TIMEOUT", "oops", 1);
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    assert_null(ulm__client_backend(c, "openai")->api_key);
    ulm_client_free(c);
}

static void model_runner_url_forms(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"http://localhost:12434", "http://localhost:12434/engines/v1"},
        {"http://localhost:12434/", "http://localhost:12434/engines/v1"},
        {"http://localhost:12434/engines/v1", "http://localhost:12434/engines/v1"},
        {"http://localhost:12434/engines/v1/", "http://localhost:12434/engines/v1"},
        {"http://model-runner.docker.internal/v1/", "http://model-runner.docker.internal/v1"},
        {"http://172.17.0.1:12434", "http://172.17.0.1:12434/engines/v1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *url = ulm__dmr_base_url(cases[i][0]);
        assert_string_equal(url, cases[i][1]);
        free(url);
    }
}

static void bad_values_name_their_variable(void **state)
{
    (void)state;
    expect_config_error("ENABLE_MODEL_RUNNER", "maybe",
                        "ENABLE_MODEL_RUNNER: expected true or false");
    expect_config_error("LOCAL_MODEL_TIMEOUT", "60s",
                        "LOCAL_MODEL_TIMEOUT: expected milliseconds, a whole number from 1 to "
                        "86400000");
    expect_config_error("LOCAL_MODEL_TIMEOUT", "-5",
                        "LOCAL_MODEL_TIMEOUT: expected milliseconds, a whole number from 1 to "
                        "86400000");
    expect_config_error("MODEL_RUNNER_URL", "localhost:12434",
                        "MODEL_RUNNER_URL: expected an http:// or https:// URL without spaces");
    expect_config_error("OPENAI_BASE_URL", "ftp://x",
                        "OPENAI_BASE_URL: expected an http:// or https:// URL without spaces");
    expect_config_error("DEFAULT_LOCAL_MODEL", "Bad Name",
                        "DEFAULT_LOCAL_MODEL: \"Bad Name\" is not a Docker Model Runner model name");
    expect_config_error("AVAILABLE_LOCAL_MODELS", "smollm2,,gemma3",
                        "AVAILABLE_LOCAL_MODELS: entry 2 is empty");
    expect_config_error("AVAILABLE_LOCAL_MODELS", "smollm2,a b",
                        "AVAILABLE_LOCAL_MODELS: entry 2 (\"a b\") is not a Docker Model Runner "
                        "model name");
    expect_config_error("OPENAI_API_KEY", "sk-abc\r\nX-Injected: 1",
                        "OPENAI_API_KEY: contains a control character");
    expect_config_error("GOOGLE_API_KEY", "AIza\r\nX-Injected: 1",
                        "GOOGLE_API_KEY: contains a control character");
    expect_config_error("GEMINI_BASE_URL", "generativelanguage.googleapis.com",
                        "GEMINI_BASE_URL: expected an http:// or https:// URL without spaces");
    expect_config_error("ANTHROPIC_BASE_URL", "http://a b",
                        "ANTHROPIC_BASE_URL: expected an http:// or https:// URL without spaces");
}

static void boolean_spellings(void **state)
{
    (void)state;
    const char *off[] = {"false", "FALSE", "0", "no", "off"};
    for (size_t i = 0; i < 5; i++) {
        setenv("ENABLE_MODEL_RUNNER", off[i], 1);
        ulm_client *c;
        char err[ULM_ERROR_SIZE];
        assert_int_equal(create(&c, err), ULM_OK);
        assert_string_not_equal(ulm__client_backend(c, "dmr")->disabled, "");
        ulm_client_free(c);
    }
    setenv("ENABLE_MODEL_RUNNER", "yes", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    assert_string_equal(ulm__client_backend(c, "dmr")->disabled, "");
    ulm_client_free(c);
}

static void bare_local_names_resolve_to_dmr(void **state)
{
    (void)state;
    setenv("AVAILABLE_LOCAL_MODELS", "ai/stories260k,gemma3", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    ulm_target t;
    assert_int_equal(ulm__target_resolve(c, "stories260k", &t, err, sizeof err), ULM_OK);
    assert_string_equal(t.backend->provider->name, "dmr");
    assert_string_equal(t.model, "ai/stories260k:latest");
    assert_int_equal(ulm__target_resolve(c, "smollm2", &t, err, sizeof err), ULM_OK);
    assert_int_equal(ulm__target_resolve(c, "dmr/hf.co/org/Model", &t, err, sizeof err), ULM_OK);
    assert_string_equal(t.model, "hf.co/org/model:latest");
    assert_int_equal(ulm__target_resolve(c, "llama3", &t, err, sizeof err), ULM_EINVAL);
    assert_string_equal(err, "model \"llama3\": name a provider, as in dmr/llama3 (known: dmr, "
                             "openai, anthropic, gemini)");
    assert_int_equal(ulm__target_resolve(c, "openai/", &t, err, sizeof err), ULM_EINVAL);
    assert_string_equal(err, "model \"openai/\": no model name after \"openai/\"");
    assert_int_equal(ulm__target_resolve(c, "dmr/Not Valid", &t, err, sizeof err), ULM_EINVAL);
    assert_string_equal(err, "model \"dmr/Not Valid\": not a valid dmr model name");
    ulm_client_free(c);
}

/* ENABLE_MODEL_RUNNER=false removes DMR: nothing lists it, describes it or asks it. */
static void disabled_model_runner_is_not_listed(void **state)
{
    (void)state;
    setenv("ENABLE_MODEL_RUNNER", "false", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    for (size_t i = 0; i < ulm_model_list_backend_count(list); i++)
        assert_string_not_equal(ulm_model_list_backend_name(list, i), "dmr");
    assert_int_equal(ulm_model_list_backend_count(list), 3); /* the clouds, without keys */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ulm_model_list_backend_error(list, i), ULM_ENOT_CONFIGURED);
    ulm_model_list_free(list);
    char text[4096];
    assert_true(ulm_client_describe(c, text, sizeof text) < sizeof text);
    assert_null(strstr(text, "\"name\":\"dmr\""));
    ulm_client_free(c);
}

/* A configuration file declares Anthropic and Gemini backends like any other: a name, a
 * type, URLs (the API version dropped) and the variable that holds the key. */
static void file_backends_of_the_cloud_types(void **state)
{
    (void)state;
    char path[64] = "/tmp/ulm-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char json[] =
        "{\"backends\": {\n"
        "  \"claude\": {\"type\": \"anthropic\", \"url\": \"http://proxy.test/anthropic/v1\",\n"
        "             \"api_key_env\": \"MY_CLAUDE_KEY\"},\n"
        "  \"google\": {\"type\": \"gemini\", \"urls\": [\"http://g1.test/v1beta/\", \"http://g2.test\"]},\n"
        "  \"anthropic\": {\"type\": \"anthropic\", \"url\": \"http://anthropic.test\"}\n"
        "}}\n";
    assert_int_equal(write(fd, json, sizeof json - 1), (ssize_t)(sizeof json - 1));
    close(fd);
    setenv("ULM_CONFIG", path, 1);
    setenv("GOOGLE_API_KEY", "google-key", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    ulm_backend *claude = ulm__client_backend(c, "claude");
    assert_string_equal(claude->provider->name, "anthropic");
    assert_string_equal(claude->urls[0], "http://proxy.test/anthropic");
    assert_string_equal(claude->disabled, "MY_CLAUDE_KEY is not set");
    ulm_backend *google = ulm__client_backend(c, "google");
    assert_int_equal(google->endpoint_count, 2);
    assert_string_equal(google->urls[0], "http://g1.test");
    assert_string_equal(google->urls[1], "http://g2.test");
    assert_string_equal(google->auth_line, "x-goog-api-key: google-key");
    assert_string_equal(ulm__client_backend(c, "anthropic")->urls[0], "http://anthropic.test");
    ulm_target t;
    assert_int_equal(ulm__target_resolve(c, "google/models/gemini-2.5-pro", &t, err, sizeof err),
                     ULM_OK);
    assert_string_equal(t.model, "gemini-2.5-pro");
    ulm_client_free(c);

    setenv("MY_CLAUDE_KEY", "sk-ant-file", 1);
    assert_int_equal(create(&c, err), ULM_OK);
    assert_string_equal(ulm__client_backend(c, "claude")->auth_line, "x-api-key: sk-ant-file");
    ulm_client_free(c);
    unlink(path);
}

/* The effective configuration says whether a key is there, never what it is. */
/* The program's way in: the configuration as a string, keys and URLs per backend. */
static void backend_settings_and_config_json(void **state)
{
    (void)state;
    setenv("FLAKY_KEY", "sk-from-the-environment-0000", 1);
    ulm_backend_setting settings[] = {
        {"openai", "api_key", "sk-program-key-0123456789"},
        {"openai", "url", "http://127.0.0.1:9/v1"},
        {"flaky", "api_key", "sk-flaky-program-key-012345"},
        {"farm", "url", "http://127.0.0.1:10/v1, http://127.0.0.1:11/v1"},
    };
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1; /* a secrets manager, not the environment */
    opts.config_json = "{\"backends\": {"
                       "\"flaky\": {\"type\": \"openai\", \"url\": \"http://127.0.0.1:8/v1\","
                       " \"api_key_env\": \"FLAKY_KEY\"},"
                       "\"farm\": {\"type\": \"openai\", \"url\": \"http://127.0.0.1:7/v1\","
                       " \"api_key_env\": \"FLAKY_KEY\"}}}";
    opts.backend_settings = settings;
    opts.backend_setting_count = 4;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm_backend *openai = ulm__client_backend(c, "openai");
    assert_string_equal(openai->api_key, "sk-program-key-0123456789");
    assert_string_equal(openai->urls[0], "http://127.0.0.1:9/v1");
    ulm_backend *flaky = ulm__client_backend(c, "flaky");
    assert_string_equal(flaky->api_key, "sk-flaky-program-key-012345");
    assert_string_equal(flaky->disabled, "");
    ulm_backend *farm = ulm__client_backend(c, "farm");
    assert_int_equal(farm->endpoint_count, 2); /* the program's URLs beat the file's */
    assert_string_equal(farm->urls[1], "http://127.0.0.1:11/v1");
    /* with the environment ignored, a key the file names there says why it is missing */
    assert_string_equal(farm->disabled, "FLAKY_KEY is not read (ignore_environment); give "
                                        "farm.api_key in backend_settings");
    ulm_client_free(c);
    unsetenv("FLAKY_KEY");
}

/* llama.cpp's server, vLLM, Ollama: a server on this machine or network takes no key and
 * counts as local; a key, or the file, says otherwise. */
static void local_servers_need_no_key(void **state)
{
    (void)state;
    const struct {
        const char *url;
        const char *key;
        int disabled, local;
    } cases[] = {
        {"http://127.0.0.1:8080/v1", NULL, 0, 1},
        {"http://localhost:11434/v1", NULL, 0, 1},
        {"http://192.168.1.20:8000/v1", NULL, 0, 1},
        {"http://[::1]:8000/v1", NULL, 0, 1},
        {"http://model-runner.docker.internal/engines/v1", NULL, 0, 1},
        {"http://127.0.0.1:4000/v1", "sk-litellm-proxy-key-0123", 0, 0}, /* a key: a service */
        {"https://api.openai.com/v1", NULL, 1, 0},
        {"http://172.32.0.1/v1", NULL, 1, 0}, /* outside 172.16/12 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
        opts.ignore_environment = 1;
        opts.openai_base_url = cases[i].url;
        opts.openai_api_key = cases[i].key;
        ulm_client *c = NULL;
        char err[ULM_ERROR_SIZE];
        assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
        ulm_backend *b = ulm__client_backend(c, "openai");
        if ((b->disabled[0] != 0) != cases[i].disabled || b->local != cases[i].local)
            fail_msg("%s: disabled \"%s\", local %d", cases[i].url, b->disabled, b->local);
        ulm_client_free(c);
    }
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.config_json = "{\"backends\": {\"vllm\": {\"type\": \"openai\","
                       " \"url\": \"http://10.0.0.5:8000/v1\"},"
                       "\"lab\": {\"type\": \"openai\", \"url\": \"http://10.0.0.6:8000/v1\","
                       " \"local\": false}}}";
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    assert_true(ulm__client_backend(c, "vllm")->local);
    assert_string_equal(ulm__client_backend(c, "vllm")->disabled, "");
    assert_false(ulm__client_backend(c, "lab")->local); /* the file decides */
    ulm_client_free(c);
}

/* One rule: a backend whose type takes a key needs one exactly when it is not local, and
 * the file's "local" decides locality whatever the URLs. */
static void the_files_local_decides_whether_a_key_is_needed(void **state)
{
    (void)state;
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.config_json =
        "{\"backends\": {"
        "\"tunnel\": {\"type\": \"openai\", \"url\": \"https://gpu.example.net/v1\", \"local\": true},"
        "\"openai\": {\"type\": \"openai\", \"url\": \"https://llm.example.org/v1\", \"local\": true},"
        "\"lab\": {\"type\": \"openai\", \"url\": \"http://10.0.0.6:8000/v1\", \"local\": false},"
        "\"proxy\": {\"type\": \"openai\", \"url\": \"http://127.0.0.1:4000/v1\","
        " \"api_key_env\": \"ULM_TEST_PROXY_KEY_UNSET\"},"
        "\"remote\": {\"type\": \"anthropic\", \"url\": \"https://claude.example.com\"}}}";
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&c, &opts, err, sizeof err) != ULM_OK)
        fail_msg("%s", err);
    const struct {
        const char *name;
        int local, disabled;
    } cases[] = {
        {"tunnel", 1, 0}, /* "local": true: no key needed, whatever the URL */
        {"openai", 1, 0}, /* a built-in backend the file declares the same */
        {"lab", 0, 1},    /* "local": false on a private address: a service, so a key */
        {"proxy", 0, 1},  /* a key variable named and unset: not local by its URL */
        {"remote", 0, 1}, /* a remote URL without "local": a key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ulm_backend *b = ulm__client_backend(c, cases[i].name);
        assert_non_null(b);
        if (b->local != cases[i].local || (b->disabled[0] != 0) != cases[i].disabled)
            fail_msg("%s: local %d, disabled \"%s\"", cases[i].name, b->local, b->disabled);
    }
    assert_non_null(strstr(ulm__client_backend(c, "proxy")->disabled, "ULM_TEST_PROXY_KEY_UNSET"));
    ulm_client_free(c);
}

static void bad_backend_settings_are_named(void **state)
{
    (void)state;
    const struct {
        ulm_backend_setting setting;
        const char *message;
    } cases[] = {
        {{"nosuch", "api_key", "k"},
         "options.backend_settings[0]: unknown backend \"nosuch\" (the built-in dmr, openai, "
         "anthropic, gemini, or one the configuration declares)"},
        {{"openai", "apikey", "k"},
         "options.backend_settings[0]: unknown setting \"apikey\" (known: api_key, url, "
         "ca_file, proxy; for Docker Model Runner also candidates, auto_pull)"},
        {{"openai", "url", "ftp://x"},
         "openai.url: expected an http:// or https:// URL without spaces"},
        {{"openai", "api_key", "a\nb"},
         "options.backend_settings[0]: openai.api_key contains a control character"},
        {{"openai", NULL, "k"},
         "options.backend_settings[0]: backend, name and value are all needed"},
        {{"openai", "candidates", "http://127.0.0.1:9"},
         "options.backend_settings[0]: candidates is a setting of the dmr backend only, not "
         "of \"openai\""},
        {{"gemini", "auto_pull", "true"},
         "options.backend_settings[0]: auto_pull is a setting of the dmr backend only, not of "
         "\"gemini\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
        opts.ignore_environment = 1;
        opts.backend_settings = &cases[i].setting;
        opts.backend_setting_count = 1;
        ulm_client *c = NULL;
        char err[ULM_ERROR_SIZE];
        assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
        assert_null(c);
        assert_string_equal(err, cases[i].message);
    }
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.config_json = "{}";
    opts.config_path = "/nonexistent.json";
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_string_equal(err, "options: config_path and config_json are alternatives; give one");
    opts.config_path = NULL;
    opts.config_json = "{\"retry\": {\"max_retries\": 99}}";
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_non_null(strstr(err, "options.config_json:1: retry.max_retries"));
}

/* options.config_json has the cap a file has: 1 MiB, the message saying so. */
static void config_json_is_capped_as_a_file_is(void **state)
{
    (void)state;
    const size_t cap = 1024 * 1024;
    char *json = malloc(cap + 2);
    assert_non_null(json);
    memset(json, ' ', cap + 1);
    json[0] = '{';
    json[cap - 1] = '}'; /* exactly 1 MiB: accepted */
    json[cap] = '\0';
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.config_json = json;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm_client_free(c);
    json[cap] = ' '; /* one byte more: refused before it is parsed */
    json[cap + 1] = '\0';
    c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_null(c);
    assert_string_equal(err, "options.config_json: larger than 1 MiB (1048576 bytes), the "
                             "most a configuration may have");
    free(json);
}

static void describe_shows_keys_as_present_only(void **state)
{
    (void)state;
    setenv("OPENAI_API_KEY", "sk-describe-secret-123456", 1);
    setenv("LOCAL_MODEL_TIMEOUT", "4321", 1);
    ulm_client *c;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(create(&c, err), ULM_OK);
    size_t need = ulm_client_describe(c, NULL, 0);
    assert_true(need > 100);
    char *text = malloc(need + 1);
    assert_non_null(text);
    assert_int_equal(ulm_client_describe(c, text, need + 1), need);
    assert_int_equal(strlen(text), need);
    assert_null(strstr(text, "describe-secret"));
    assert_non_null(strstr(text, "\"key\":\"present\""));
    assert_non_null(strstr(text, "\"load_ms\":4321"));
    char small[16];
    assert_int_equal(ulm_client_describe(c, small, sizeof small), need); /* cut, terminated */
    assert_int_equal(strlen(small), sizeof small - 1);
    free(text);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_without_environment, clear_env),
        cmocka_unit_test_setup(environment_is_read, clear_env),
        cmocka_unit_test_setup(cloud_keys_and_urls, clear_env),
        cmocka_unit_test(type_names_follow_the_table),
        cmocka_unit_test_setup(file_backends_of_the_cloud_types, clear_env),
        cmocka_unit_test_setup(options_override_environment, clear_env),
        cmocka_unit_test_setup(ignore_environment_reads_nothing, clear_env),
        cmocka_unit_test_setup(model_runner_url_forms, clear_env),
        cmocka_unit_test_setup(bad_values_name_their_variable, clear_env),
        cmocka_unit_test_setup(boolean_spellings, clear_env),
        cmocka_unit_test_setup(bare_local_names_resolve_to_dmr, clear_env),
        cmocka_unit_test_setup(disabled_model_runner_is_not_listed, clear_env),
        cmocka_unit_test_setup(backend_settings_and_config_json, clear_env),
        cmocka_unit_test_setup(bad_backend_settings_are_named, clear_env),
        cmocka_unit_test_setup(local_servers_need_no_key, clear_env),
        cmocka_unit_test_setup(the_files_local_decides_whether_a_key_is_needed, clear_env),
        cmocka_unit_test_setup(config_json_is_capped_as_a_file_is, clear_env),
        cmocka_unit_test_setup(describe_shows_keys_as_present_only, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
