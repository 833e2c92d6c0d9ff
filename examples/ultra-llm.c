/* ultra-llm.c - the command-line program: chat with a fallback chain, list models. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ultrallm/ultrallm.h>

#define EXIT_CALL_FAILED 1
#define EXIT_USAGE 2
#define MAX_STDIN_PROMPT (10L * 1024 * 1024)

static const char usage_text[] =
    "usage: ultra-llm chat [--config FILE] [-m MODEL]... [--system TEXT] [--max-tokens N]\n"
    "                      [--temperature T] [--stream] [--json] [CLOCKS] PROMPT\n"
    "       ultra-llm models [--config FILE] [--json]\n"
    "       ultra-llm doctor [--config FILE] [--json]\n"
    "       ultra-llm --version\n"
    "\n"
    "MODEL is dmr/<name>, openai/<name>, anthropic/<name>, gemini/<name>, <backend>/<name>\n"
    "for a backend of the configuration file, an alias from that file, or a local model\n"
    "listed in AVAILABLE_LOCAL_MODELS;\n"
    "several -m form a fallback chain, tried in order. Without -m: the default model.\n"
    "--config FILE is the JSON configuration file (same as ULM_CONFIG; docs/config.md).\n"
    "PROMPT - reads the prompt from standard input. ULM_LOG=debug prints diagnostics.\n"
    "--stream prints the answer as it arrives; with --json, the JSON object follows it on\n"
    "one line. CLOCKS, in milliseconds: --connect-timeout-ms, --load-timeout-ms (a local\n"
    "model's load budget), --first-token-timeout-ms, --idle-timeout-ms, --timeout-ms (the\n"
    "whole call, fallbacks included).\n";

static void log_to_stderr(int level, const char *message, void *payload)
{
    static const char *names[] = {"", "error", "warn", "info", "debug"};
    (void)payload;
    fprintf(stderr, "ultra-llm: %s: %s\n", names[level > 0 && level <= 4 ? level : 0], message);
}

static int log_level_from_env(void)
{
    const char *v = getenv("ULM_LOG");
    static const char *names[] = {"none", "error", "warn", "info", "debug"};
    for (int i = 0; v && i <= ULM_LOG_DEBUG; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    return ULM_LOG_NONE;
}

static ulm_client *open_client(const char *config_path)
{
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.config_path = config_path;
    opts.log_level = log_level_from_env();
    opts.log_fn = opts.log_level ? log_to_stderr : NULL;
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ultra-llm: configuration error: %s\n", err);
        return NULL;
    }
    return client;
}

static char *read_stdin(void)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap > (size_t)MAX_STDIN_PROMPT) {
                fprintf(stderr, "ultra-llm: the prompt on standard input exceeds 10 MiB\n");
                free(buf);
                return NULL;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

static json_t *usage_json(const ulm_response *r)
{
    json_t *usage = json_object();
    long counts[3] = {ulm_response_prompt_tokens(r), ulm_response_completion_tokens(r),
                      ulm_response_total_tokens(r)};
    const char *keys[3] = {"prompt_tokens", "completion_tokens", "total_tokens"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(usage, keys[i], counts[i] < 0 ? json_null() : json_integer(counts[i]));
    return usage;
}

static json_t *attempts_json(const ulm_response *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < ulm_response_attempt_count(r); i++) {
        const ulm_attempt *a = ulm_response_attempt(r, i);
        int err = ulm_attempt_error(a);
        json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:i, s:f}", "provider",
                              ulm_attempt_provider(a), "model", ulm_attempt_model(a), "ok",
                              err == ULM_OK, "error",
                              err == ULM_OK ? json_null() : json_string(ulm_error_name(err)),
                              "http_status", ulm_attempt_http_status(a), "ms", ulm_attempt_ms(a));
        if (err != ULM_OK)
            json_object_set_new(o, "message", json_string(ulm_attempt_error_message(a)));
        json_array_append_new(list, o);
    }
    return list;
}

static void print_json_response(const ulm_response *r, int one_line)
{
    int err = ulm_response_error(r);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:f, s:o}", "text", ulm_response_text(r),
                          "finish_reason", ulm_finish_reason_name(ulm_response_finish_reason(r)),
                          "provider", ulm_response_provider(r), "model", ulm_response_model(r),
                          "usage", usage_json(r), "latency_ms", ulm_response_latency_ms(r),
                          "attempts", attempts_json(r));
    json_object_set_new(o, "incomplete", json_boolean(ulm_response_incomplete(r)));
    json_object_set_new(o, "offline", json_boolean(ulm_response_offline(r)));
    if (err != ULM_OK) {
        json_object_set_new(o, "error", json_pack("{s:s, s:s, s:i}", "class", ulm_error_name(err),
                                                  "message", ulm_response_error_message(r),
                                                  "http_status", ulm_response_http_status(r)));
    }
    json_dumpf(o, stdout, (one_line ? JSON_COMPACT : JSON_INDENT(2)) | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(o);
}

static int print_delta(const char *text, size_t length, void *payload)
{
    (void)payload;
    fwrite(text, 1, length, stdout);
    return fflush(stdout) == 0 ? 0 : 1; /* a closed pipe ends the call */
}

static void print_failure(const ulm_response *r, int rc)
{
    if (!r) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc));
        return;
    }
    char status[32] = "no HTTP status";
    if (ulm_response_http_status(r))
        snprintf(status, sizeof status, "HTTP %d", ulm_response_http_status(r));
    fprintf(stderr, "ultra-llm: error: %s (backend %s, %s, %zu attempt%s): %s\n",
            ulm_error_name(rc), *ulm_response_provider(r) ? ulm_response_provider(r) : "none",
            status, ulm_response_attempt_count(r), ulm_response_attempt_count(r) == 1 ? "" : "s",
            ulm_response_error_message(r));
}

static int parse_number(const char *text, const char *flag, double *out)
{
    char *end = NULL;
    errno = 0;
    *out = strtod(text, &end);
    if (errno || end == text || *end) {
        fprintf(stderr, "ultra-llm: %s: not a number: %s\n", flag, text);
        return 0;
    }
    return 1;
}

typedef struct chat_args {
    ulm_request *req;
    const char *config;
    const char *system;
    int json;
    int stream;
} chat_args;

/* The clock flags, in the order of ulm_clock, after the options that come before them. */
enum {
    OPT_SYSTEM = 256,
    OPT_MAX_TOKENS,
    OPT_TEMPERATURE,
    OPT_JSON,
    OPT_STREAM,
    OPT_CONFIG,
    OPT_CLOCK
};

static int set_clock(ulm_request *req, int opt, const char *flag, const char *text)
{
    double number;
    if (!parse_number(text, flag, &number))
        return 0;
    if (number != (long)number ||
        ulm_request_set_timeout(req, (ulm_clock)(opt - OPT_CLOCK + ULM_CLOCK_CONNECT),
                                (long)number) != ULM_OK) {
        fprintf(stderr, "ultra-llm: %s: expected whole milliseconds from 1 to 86400000\n", flag);
        return 0;
    }
    return 1;
}

static int parse_chat_args(int argc, char **argv, chat_args *a)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"system", required_argument, NULL, OPT_SYSTEM},
        {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
        {"temperature", required_argument, NULL, OPT_TEMPERATURE},
        {"json", no_argument, NULL, OPT_JSON},
        {"stream", no_argument, NULL, OPT_STREAM},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"connect-timeout-ms", required_argument, NULL, OPT_CLOCK + 0},
        {"load-timeout-ms", required_argument, NULL, OPT_CLOCK + 1},
        {"first-token-timeout-ms", required_argument, NULL, OPT_CLOCK + 2},
        {"idle-timeout-ms", required_argument, NULL, OPT_CLOCK + 3},
        {"timeout-ms", required_argument, NULL, OPT_CLOCK + 4},
        {NULL, 0, NULL, 0},
    };
    int opt, index = 0;
    double number;
    while ((opt = getopt_long(argc, argv, "m:", longs, &index)) != -1) {
        if (opt >= OPT_CLOCK) {
            char flag[40];
            snprintf(flag, sizeof flag, "--%s", longs[index].name);
            if (!set_clock(a->req, opt, flag, optarg))
                return 0;
            continue;
        }
        switch (opt) {
        case 'm':
            if (ulm_request_add_model(a->req, optarg) != ULM_OK) {
                fprintf(stderr, "ultra-llm: -m: not a model list: '%s'\n", optarg);
                return 0;
            }
            break;
        case OPT_SYSTEM:
            a->system = optarg;
            break;
        case OPT_MAX_TOKENS:
            if (!parse_number(optarg, "--max-tokens", &number))
                return 0;
            if (number != (long)number || ulm_request_set_max_tokens(a->req, (long)number)) {
                fprintf(stderr, "ultra-llm: --max-tokens: expected a whole number >= 1\n");
                return 0;
            }
            break;
        case OPT_TEMPERATURE:
            if (!parse_number(optarg, "--temperature", &number))
                return 0;
            if (ulm_request_set_temperature(a->req, number) != ULM_OK) {
                fprintf(stderr, "ultra-llm: --temperature: expected 0 to 2\n");
                return 0;
            }
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_CONFIG:
            a->config = optarg;
            break;
        case OPT_STREAM:
            a->stream = 1;
            ulm_request_set_on_delta(a->req, print_delta, NULL);
            break;
        default:
            return 0;
        }
    }
    return 1;
}

static int cmd_chat(int argc, char **argv)
{
    chat_args a = {0};
    if (ulm_request_new(&a.req) != ULM_OK)
        return EXIT_CALL_FAILED;
    int code = EXIT_USAGE;
    char *prompt = NULL;
    ulm_client *client = NULL;
    if (!parse_chat_args(argc, argv, &a))
        goto out;
    if (optind + 1 != argc) {
        fputs(usage_text, stderr);
        goto out;
    }
    prompt = strcmp(argv[optind], "-") == 0 ? read_stdin() : strdup(argv[optind]);
    if (!prompt)
        goto out;
    if ((a.system && ulm_request_add_message(a.req, ULM_ROLE_SYSTEM, a.system) != ULM_OK) ||
        ulm_request_add_message(a.req, ULM_ROLE_USER, prompt) != ULM_OK) {
        fprintf(stderr, "ultra-llm: the prompt and system text must be UTF-8 text\n");
        goto out;
    }
    code = EXIT_CALL_FAILED;
    if (!(client = open_client(a.config)))
        goto out;
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, client, a.req);
    if (a.stream && resp && ulm_response_text_length(resp))
        fputc('\n', stdout), fflush(stdout); /* end the streamed line before any error */
    if (a.json && resp)
        print_json_response(resp, a.stream);
    else if (rc == ULM_OK && !a.stream)
        printf("%s\n", ulm_response_text(resp));
    if (rc != ULM_OK)
        print_failure(resp, rc);
    else
        code = 0;
    ulm_response_free(resp);
out:
    free(prompt);
    ulm_client_free(client);
    ulm_request_free(a.req);
    return code;
}

static int print_models_json(const ulm_model_list *list)
{
    json_t *backends = json_array();
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++) {
        const char *name = ulm_model_list_backend_name(list, b);
        int err = ulm_model_list_backend_error(list, b);
        json_t *models = json_array();
        for (size_t i = 0; i < ulm_model_list_count(list); i++)
            if (strcmp(ulm_model_list_provider(list, i), name) == 0)
                json_array_append_new(models, json_string(ulm_model_list_id(list, i)));
        json_array_append_new(
            backends,
            json_pack("{s:s, s:b, s:o, s:o, s:o}", "provider", name, "ok", err == ULM_OK, "error",
                      err == ULM_OK ? json_null() : json_string(ulm_error_name(err)), "message",
                      err == ULM_OK ? json_null()
                                    : json_string(ulm_model_list_backend_message(list, b)),
                      "models", models));
    }
    json_t *root = json_pack("{s:o}", "backends", backends);
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(root);
    return 0;
}

/* The options models and doctor share: --config FILE and --json. */
static int parse_listing_args(int argc, char **argv, const char **config, int *json)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            *config = optarg;
        else if (opt == OPT_JSON)
            *json = 1;
        else
            return 0;
    }
    if (optind != argc) {
        fputs(usage_text, stderr);
        return 0;
    }
    return 1;
}

/* Reads the arguments of models and doctor and opens their client; 0, or an exit code. */
static int open_listing_client(int argc, char **argv, int *json, ulm_client **client)
{
    const char *config = NULL;
    *json = 0;
    if (!parse_listing_args(argc, argv, &config, json))
        return EXIT_USAGE;
    *client = open_client(config);
    return *client ? 0 : EXIT_CALL_FAILED;
}

static int cmd_models(int argc, char **argv)
{
    int json;
    ulm_client *client = NULL;
    int opened = open_listing_client(argc, argv, &json, &client);
    if (opened)
        return opened;
    ulm_model_list *list = NULL;
    int rc = ulm_list_models(&list, client);
    int code = rc == ULM_OK ? 0 : EXIT_CALL_FAILED;
    size_t answered = 0;
    for (size_t b = 0; rc == ULM_OK && b < ulm_model_list_backend_count(list); b++)
        answered += ulm_model_list_backend_error(list, b) == ULM_OK;
    if (rc == ULM_OK && answered == 0)
        code = EXIT_CALL_FAILED; /* nothing to list is a failure, not an empty answer */
    if (rc != ULM_OK) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc));
    } else if (json) {
        print_models_json(list);
    } else {
        for (size_t i = 0; i < ulm_model_list_count(list); i++)
            printf("%s/%s\n", ulm_model_list_provider(list, i), ulm_model_list_id(list, i));
        for (size_t b = 0; b < ulm_model_list_backend_count(list); b++)
            if (ulm_model_list_backend_error(list, b) != ULM_OK)
                fprintf(stderr, "ultra-llm: %s: %s (%s)\n", ulm_model_list_backend_name(list, b),
                        ulm_error_name(ulm_model_list_backend_error(list, b)),
                        ulm_model_list_backend_message(list, b));
    }
    ulm_model_list_free(list);
    ulm_client_free(client);
    return code;
}

/* The client's effective configuration, parsed from ulm_client_describe(). */
static json_t *describe_client(ulm_client *client)
{
    size_t size = 4096;
    for (;;) {
        char *text = malloc(size);
        if (!text)
            return NULL;
        size_t need = ulm_client_describe(client, text, size);
        if (need < size) {
            json_t *root = json_loads(text, 0, NULL);
            free(text);
            return root;
        }
        free(text);
        size = need + 1;
    }
}

/* Each endpoint: whether it answered, how fast, and the models it offers. */
static json_t *reachability_json(const ulm_model_list *list)
{
    json_t *out = json_array();
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++) {
        const char *name = ulm_model_list_backend_name(list, b);
        int err = ulm_model_list_backend_error(list, b);
        json_t *models = json_array();
        for (size_t i = 0; err == ULM_OK && i < ulm_model_list_count(list); i++)
            if (strcmp(ulm_model_list_provider(list, i), name) == 0)
                json_array_append_new(models, json_string(ulm_model_list_id(list, i)));
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:b, s:f, s:o, s:o, s:o}", "backend", name, "url",
                           ulm_model_list_backend_url(list, b), "reachable", err == ULM_OK, "ms",
                           ulm_model_list_backend_ms(list, b), "error",
                           err == ULM_OK ? json_null() : json_string(ulm_error_name(err)),
                           "message",
                           err == ULM_OK ? json_null()
                                         : json_string(ulm_model_list_backend_message(list, b)),
                           "models", models));
    }
    return out;
}

static void print_doctor_text(const json_t *config, const json_t *endpoints)
{
    const json_t *file = json_object_get(config, "config_file");
    printf("configuration file: %s\n", json_is_string(file) ? json_string_value(file)
                                                            : "none (environment and defaults)");
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
            continue;
        }
        json_t *models = json_object_get(e, "models");
        printf("  %s %s: reachable in %.1f ms, %zu model%s", name, url, ms, json_array_size(models),
               json_array_size(models) == 1 ? "" : "s");
        size_t m;
        json_t *id;
        json_array_foreach(models, m, id) printf("%s%s", m ? ", " : ": ", json_string_value(id));
        putchar('\n');
    }
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
        json_array_foreach(targets, k, target) printf("%s %s", k ? "," : "", json_string_value(target));
        putchar('\n');
    }
}

/*
 * The effective configuration (keys as present or absent, never their value), then
 * every endpoint's reachability, latency and models. Exits 1 when none answered.
 */
static int cmd_doctor(int argc, char **argv)
{
    int json;
    ulm_client *client = NULL;
    int opened = open_listing_client(argc, argv, &json, &client);
    if (opened)
        return opened;
    json_t *described = describe_client(client);
    ulm_model_list *list = NULL;
    int rc = ulm_list_models(&list, client);
    if (!described || rc != ULM_OK) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc != ULM_OK ? rc : ULM_ENOMEM));
        json_decref(described);
        ulm_client_free(client);
        return EXIT_CALL_FAILED;
    }
    json_t *endpoints = reachability_json(list);
    size_t answered = 0;
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++)
        answered += ulm_model_list_backend_error(list, b) == ULM_OK;
    if (json) {
        json_t *root = json_pack("{s:O, s:O}", "configuration", described, "endpoints", endpoints);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        fputc('\n', stdout);
        json_decref(root);
    } else {
        print_doctor_text(described, endpoints);
    }
    json_decref(endpoints);
    json_decref(described);
    ulm_model_list_free(list);
    ulm_client_free(client);
    return answered ? 0 : EXIT_CALL_FAILED;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "chat") == 0)
        return cmd_chat(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "models") == 0)
        return cmd_models(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "doctor") == 0)
        return cmd_doctor(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("ultra-llm %s\n", ulm_version_string());
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
