/* doctor.c - `ultra-llm doctor`: the effective configuration, every endpoint's reachability, each backend's status. */
#include <stdio.h>
#include <stdlib.h>
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
    /* where Docker Model Runner was looked for: which address answered, why others did not */
    json_t *tried;
    json_array_foreach(json_object_get(json_object_get(config, "model_runner_discovery"), "tried"),
                       i, tried) {
        const char *message = json_string_value(json_object_get(tried, "message"));
        printf("Docker Model Runner at %s: %s\n", json_string_value(json_object_get(tried, "url")),
               message && *message ? message : "answered");
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
            if (cli_hint(config, name, ulm_model_list_backend_error(list, i), NULL, url,
                         ulm_model_list_backend_message(list, i), hint))
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

/* The client's metrics as JSON (docs/metrics.md); NULL without memory. */
static json_t *metrics_json(ulm_client *client)
{
    size_t size = 16 * 1024;
    for (;;) {
        char *text = malloc(size);
        if (!text)
            return NULL;
        size_t need = ulm_client_metrics(client, ULM_METRICS_JSON, text, size);
        if (need < size) {
            json_t *root = json_loads(text, 0, NULL);
            free(text);
            return root;
        }
        free(text);
        size = need + need / 4 + 1; /* the numbers may grow in between */
    }
}

static const char *breaker_name(json_int_t state)
{
    return state == 2 ? "open" : state == 1 ? "half_open" : "closed";
}

/* backend's breakers from the metrics: [{"endpoint", "state"}]. */
static json_t *breakers_json(const json_t *metrics, const char *backend)
{
    json_t *out = json_array();
    size_t i, e;
    const json_t *b, *breaker;
    json_array_foreach(json_object_get(metrics, "backends"), i, b) {
        const char *name = json_string_value(json_object_get(b, "backend"));
        if (!name || strcmp(name, backend) != 0)
            continue;
        json_array_foreach(json_object_get(b, "breaker_state"), e, breaker)
            json_array_append_new(
                out,
                json_pack("{s:O, s:s}", "endpoint", json_object_get(breaker, "endpoint"), "state",
                          breaker_name(json_integer_value(json_object_get(breaker, "state")))));
    }
    return out;
}

/* A Docker Model Runner backend's loaded models ([{"model", "state"}]), or null when its
 * runner did not say. */
static json_t *loaded_json(ulm_client *client, const char *backend)
{
    ulm_dmr_runners *runners = NULL;
    if (ulm_dmr_ps(&runners, client, backend, NULL, 0) != ULM_OK)
        return json_null();
    json_t *out = json_array();
    for (size_t i = 0; i < ulm_dmr_runners_count(runners); i++)
        json_array_append_new(out, json_pack("{s:s, s:s}", "model",
                                             ulm_dmr_runners_model(runners, i), "state",
                                             ulm_dmr_runners_loading(runners, i)  ? "loading"
                                             : ulm_dmr_runners_in_use(runners, i) ? "in use"
                                                                                  : "idle"));
    ulm_dmr_runners_free(runners);
    return out;
}

/*
 * Each backend's status after the probe: "up" when every endpoint answered, "degraded"
 * when some did, "down" when none did, "not_configured" when it could not be asked; its
 * breakers; and for a Docker Model Runner that answered, the models it holds loaded.
 */
static json_t *status_json(ulm_client *client, const json_t *described, const ulm_model_list *list)
{
    json_t *metrics = metrics_json(client), *out = json_array();
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(described, "backends"), i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *type = json_string_value(json_object_get(b, "type"));
        size_t endpoints = 0, answered = 0, unasked = 0;
        for (size_t e = 0; name && e < ulm_model_list_backend_count(list); e++) {
            if (strcmp(ulm_model_list_backend_name(list, e), name) != 0)
                continue;
            int err = ulm_model_list_backend_error(list, e);
            endpoints++;
            answered += err == ULM_OK;
            unasked += err == ULM_ENOT_CONFIGURED;
        }
        if (!name || !endpoints)
            continue;
        const char *state = unasked == endpoints    ? "not_configured"
                            : answered == endpoints ? "up"
                            : answered              ? "degraded"
                                                    : "down";
        json_t *loaded = answered && type && strcmp(type, "dmr") == 0 ? loaded_json(client, name)
                                                                      : json_null();
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "backend", name,
                                             "state", state, "endpoints", (json_int_t)endpoints,
                                             "answered", (json_int_t)answered, "breakers",
                                             breakers_json(metrics, name), "loaded", loaded));
    }
    json_decref(metrics);
    return out;
}

static void print_status_text(const json_t *status)
{
    printf("status after probing:\n");
    size_t i, k;
    const json_t *s, *item;
    json_array_foreach(status, i, s) {
        const char *state = json_string_value(json_object_get(s, "state"));
        printf("  %s: %s", json_string_value(json_object_get(s, "backend")), state);
        if (strcmp(state, "not_configured") != 0)
            printf(" (%lld of %lld endpoint%s answered)",
                   (long long)json_integer_value(json_object_get(s, "answered")),
                   (long long)json_integer_value(json_object_get(s, "endpoints")),
                   json_integer_value(json_object_get(s, "endpoints")) == 1 ? "" : "s");
        json_array_foreach(json_object_get(s, "breakers"), k, item) {
            const char *breaker = json_string_value(json_object_get(item, "state"));
            if (strcmp(breaker, "closed") != 0)
                printf("; breaker %s at %s", breaker,
                       json_string_value(json_object_get(item, "endpoint")));
        }
        const json_t *loaded = json_object_get(s, "loaded");
        if (json_is_array(loaded)) {
            printf("; %zu model%s loaded", json_array_size(loaded),
                   json_array_size(loaded) == 1 ? "" : "s");
            json_array_foreach(loaded, k, item)
                printf("%s%s (%s)", k ? ", " : ": ",
                       json_string_value(json_object_get(item, "model")),
                       json_string_value(json_object_get(item, "state")));
        }
        putchar('\n');
    }
}

/* Prints the configuration and the endpoints; the exit code (1 when none answered). */
static int diagnose(ulm_client *client, int json)
{
    /* the models first: asking them finds Docker Model Runner, which the description shows */
    ulm_model_list *list = NULL;
    int rc = ulm_list_models(&list, client);
    json_t *described = rc == ULM_OK ? cli_client_describe(client) : NULL;
    if (!described || rc != ULM_OK) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc != ULM_OK ? rc : ULM_ENOMEM));
        json_decref(described);
        ulm_model_list_free(list);
        return CLI_EXIT_FAILED;
    }
    json_t *endpoints = reachability_json(list);
    json_t *status = status_json(client, described, list);
    size_t answered = 0;
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++)
        answered += ulm_model_list_backend_error(list, b) == ULM_OK;
    if (json) {
        cli_json_print(json_pack("{s:O, s:O, s:O}", "configuration", described, "endpoints",
                                 endpoints, "status", status),
                       0);
    } else {
        print_configuration_text(described);
        print_endpoints_text(described, endpoints, list);
        print_status_text(status);
        print_policy_text(described);
    }
    json_decref(status);
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
    "offers, then each backend's status: up, degraded (some endpoints answered), down or\n"
    "not_configured, any circuit breaker not closed, and the models a Docker Model Runner\n"
    "holds loaded. --json prints all three as one object (\"configuration\", \"endpoints\",\n"
    "\"status\"). Exits 1 when no endpoint answered.\n",
    run_doctor,
};
