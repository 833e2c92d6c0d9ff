/* doctor.c - `ultra-llm doctor`: the effective configuration and every endpoint's reachability. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Each endpoint: whether it answered, how fast, and the models it offers. */
static json_t *reachability_json(const ulm_model_list *list)
{
    json_t *out = json_array();
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++) {
        const char *name = ulm_model_list_backend_name(list, b);
        int err = ulm_model_list_backend_error(list, b);
        json_t *models = json_array();
        for (size_t k = 0; k < ulm_model_list_backend_model_count(list, b); k++) /* its own */
            json_array_append_new(models, json_string(ulm_model_list_backend_model(list, b, k)));
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "backend", name, "url",
                      ulm_model_list_backend_url(list, b), "reachable", err == ULM_OK, "ms",
                      cli_json_ms(ulm_model_list_backend_ms(list, b)), "error",
                      cli_json_error_name(err), "message",
                      cli_json_string_if(err != ULM_OK, ulm_model_list_backend_message(list, b)),
                      "models", models));
    }
    return out;
}

static void print_configuration_text(const json_t *config)
{
    const json_t *file = json_object_get(config, "config_file");
    printf("configuration file: %s\n",
           json_is_string(file) ? json_string_value(file) : "none (environment and defaults)");
    printf("default model: %s\n", json_string_value(json_object_get(config, "default_model")));
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(config, "backends"), i, b) {
        const json_t *disabled = json_object_get(b, "disabled");
        printf("backend %s (%s): key %s%s%s\n", json_string_value(json_object_get(b, "name")),
               json_string_value(json_object_get(b, "type")),
               json_string_value(json_object_get(b, "key")),
               json_is_string(disabled) ? "; not usable: " : "",
               json_is_string(disabled) ? json_string_value(disabled) : "");
    }
}

/* Each endpoint on a line, and under one that did not answer how to fix it when the fix
 * is known. */
static void print_endpoints_text(const json_t *config, const json_t *endpoints,
                                 const ulm_model_list *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(endpoints, i, e) {
        const char *name = json_string_value(json_object_get(e, "backend"));
        const char *url = json_string_value(json_object_get(e, "url"));
        double ms = json_real_value(json_object_get(e, "ms"));
        const char *error = json_string_value(json_object_get(e, "error"));
        if (error && strcmp(error, "not_configured") == 0) { /* nothing was sent */
            printf("  %s %s: not asked: %s\n", name, url,
                   json_string_value(json_object_get(e, "message")));
            continue;
        }
        if (!json_is_true(json_object_get(e, "reachable"))) {
            printf("  %s %s: unreachable after %.1f ms: %s\n", name, url, ms,
                   json_string_value(json_object_get(e, "message")));
            char hint[CLI_HINT_SIZE];
            if (cli_hint(config, name, ulm_model_list_backend_error(list, i), NULL, url, hint))
                printf("    hint: %s\n", hint);
            continue;
        }
        json_t *models = json_object_get(e, "models");
        printf("  %s %s: reachable in %.1f ms, %zu model%s", name, url, ms, json_array_size(models),
               json_array_size(models) == 1 ? "" : "s");
        size_t m;
        json_t *id;
        json_array_foreach(models, m, id)
            printf("%s%s", m ? ", " : ": ", json_string_value(id));
        putchar('\n');
    }
}

static void print_policy_text(const json_t *config)
{
    const json_t *t = json_object_get(config, "timeouts");
    printf("clocks (ms): connect %lld, load %lld, first token %lld, idle %lld, overall %lld\n",
           (long long)json_integer_value(json_object_get(t, "connect_ms")),
           (long long)json_integer_value(json_object_get(t, "load_ms")),
           (long long)json_integer_value(json_object_get(t, "first_token_ms")),
           (long long)json_integer_value(json_object_get(t, "idle_ms")),
           (long long)json_integer_value(json_object_get(t, "overall_ms")));
    const json_t *r = json_object_get(config, "retry"), *br = json_object_get(config, "breaker");
    printf("retries: %lld (backoff up to %lld ms); breaker: %lld failures in %lld ms, cooldown "
           "%lld ms\n",
           (long long)json_integer_value(json_object_get(r, "max_retries")),
           (long long)json_integer_value(json_object_get(r, "max_delay_ms")),
           (long long)json_integer_value(json_object_get(br, "failures")),
           (long long)json_integer_value(json_object_get(br, "window_ms")),
           (long long)json_integer_value(json_object_get(br, "cooldown_ms")));
    const json_t *off = json_object_get(config, "offline");
    printf("offline mode: %s\n", json_is_true(json_object_get(off, "use_local_models"))
                                     ? "local models take over when the cloud is unreachable"
                                     : "off");
    const char *alias;
    json_t *targets;
    json_object_foreach(json_object_get(config, "aliases"), alias, targets) {
        printf("alias %s:", alias);
        size_t k;
        json_t *target;
        json_array_foreach(targets, k, target)
            printf("%s %s", k ? "," : "", json_string_value(target));
        putchar('\n');
    }
}

/* Prints the configuration and the endpoints; the exit code (1 when none answered). */
static int diagnose(ulm_client *client, int json)
{
    json_t *described = cli_client_describe(client);
    ulm_model_list *list = NULL;
    int rc = ulm_list_models(&list, client);
    if (!described || rc != ULM_OK) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc != ULM_OK ? rc : ULM_ENOMEM));
        json_decref(described);
        return CLI_EXIT_FAILED;
    }
    json_t *endpoints = reachability_json(list);
    size_t answered = 0;
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++)
        answered += ulm_model_list_backend_error(list, b) == ULM_OK;
    if (json) {
        cli_json_print(json_pack("{s:O, s:O}", "configuration", described, "endpoints", endpoints),
                       0);
    } else {
        print_configuration_text(described);
        print_endpoints_text(described, endpoints, list);
        print_policy_text(described);
    }
    json_decref(endpoints);
    json_decref(described);
    ulm_model_list_free(list);
    return answered ? 0 : CLI_EXIT_FAILED;
}

static int run_doctor(const cli_command *self, int argc, char **argv)
{
    cli_options o;
    int code = cli_parse(self, CLI_OPT_CONFIG | CLI_OPT_JSON, NULL, argc, argv, &o);
    ulm_client *client = NULL;
    if (code == CLI_CONTINUE && o.operands != argc)
        code = cli_usage_error(self, "it takes no operand");
    if (code == CLI_CONTINUE && (code = cli_client_open(o.config, &client)) == 0)
        code = diagnose(client, o.json);
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

const cli_command cli_doctor_command = {
    "doctor",
    "ultra-llm doctor [--config FILE] [--json]",
    "Prints the effective configuration (keys as present or absent, never their value),\n"
    "then asks every endpoint for its models: whether it answered, how fast, and what it\n"
    "offers. --json prints both as one object. Exits 1 when no endpoint answered.\n",
    run_doctor,
};
