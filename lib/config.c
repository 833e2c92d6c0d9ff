/* config.c - resolves client settings: options first, then environment variables, then defaults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "compose_env.h"
#include "url_local.h"

#define DEFAULT_LOCAL_MODEL "ai/smollm2"
#define DEFAULT_LOCAL_TIMEOUT_MS 60000L
#define DEFAULT_OVERALL_TIMEOUT_MS 300000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_FIRST_TOKEN_TIMEOUT_MS 60000L
#define DEFAULT_IDLE_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE_BYTES (8u * 1024u * 1024u)
#define DEFAULT_MAX_EVENT_LINE_BYTES (1u * 1024u * 1024u)
#define DEFAULT_MAX_EVENT_BYTES (4u * 1024u * 1024u)
#define DEFAULT_MAX_IDLE_CONNECTIONS 8u
#define DEFAULT_MAX_RETRIES 0
#define DEFAULT_BASE_DELAY_MS 250L
#define DEFAULT_MAX_DELAY_MS 8000L
#define DEFAULT_BREAKER_FAILURES 5u
#define DEFAULT_BREAKER_WINDOW_MS 30000L
#define DEFAULT_BREAKER_COOLDOWN_MS 30000L
#define DEFAULT_PROBE_INTERVAL_MS 30000L

static const char *env(const ulm_client_options *opts, const char *name)
{
    if (opts && opts->ignore_environment)
        return NULL;
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

/* Option value when given, else the variable, else the default. */
static const char *pick(const ulm_client_options *opts, const char *option, const char *var,
                        const char *fallback)
{
    if (option && *option)
        return option;
    const char *v = env(opts, var);
    return v ? v : fallback;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 1;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 1;
    }
    return 0;
}

static int parse_ms(const char *v, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || n <= 0 || n > ULM_MAX_TIMEOUT_MS)
        return 0;
    *out = n;
    return 1;
}

static int valid_url(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return 0;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

static int valid_secret(const char *key)
{
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return 0;
    return 1;
}

static const ulm_file_backend *file_backend(const ulm_settings *s, const char *name)
{
    for (size_t i = 0; i < s->file.backend_count; i++)
        if (strcmp(s->file.backends[i].name, name) == 0)
            return &s->file.backends[i];
    return NULL;
}

int ulm__url_list_copy(ulm_url_list *out, const char *const *urls, size_t count)
{
    out->count = 0;
    if (!(out->urls = ulm__calloc(count ? count : 1, sizeof *out->urls)))
        return ULM_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (!(out->urls[i] = ulm__strdup(urls[i])))
            return ULM_ENOMEM;
        out->count = i + 1;
    }
    return ULM_OK;
}

int ulm__url_list_parse(const char *text, ulm_url_list *out, const char *name, char *errbuf,
                        size_t n)
{
    size_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    out->count = 0;
    if (!(out->urls = ulm__calloc(count, sizeof *out->urls)))
        return ULM_ENOMEM;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        char *url = ulm__strndup(p, len);
        if (!url)
            return ULM_ENOMEM;
        out->urls[out->count++] = url;
        if (!valid_url(url)) {
            ulm__set_errbuf(errbuf, n, "%s: expected http:// or https:// URLs without spaces, "
                            "separated by commas", name);
            return ULM_ECONFIG;
        }
        if (!comma)
            return ULM_OK;
        p = comma + 1;
    }
}

/*
 * A built-in backend's URLs: the option's (one URL, or the program's comma-separated
 * deployments), else the file's list, else the variable's one URL, else the default. The
 * file's URLs were checked by its parser.
 */
static int set_urls(ulm_url_list *dst, const char *option, const ulm_file_backend *file,
                    const char *var, const char *fallback, const char *name, char *errbuf,
                    size_t n)
{
    const char *one = option && *option ? option : NULL;
    if (one && strchr(one, ','))
        return ulm__url_list_parse(one, dst, name, errbuf, n);
    if (!one && file) {
        dst->urls = ulm__calloc(file->url_count, sizeof *dst->urls);
        if (!dst->urls)
            return ULM_ENOMEM;
        for (size_t i = 0; i < file->url_count; i++) {
            if (!(dst->urls[i] = ulm__strdup(file->urls[i])))
                return ULM_ENOMEM;
            dst->count = i + 1;
        }
        return ULM_OK;
    }
    if (!one)
        one = var ? var : fallback;
    if (!valid_url(one)) {
        ulm__set_errbuf(errbuf, n, "%s: expected an http:// or https:// URL without spaces", name);
        return ULM_ECONFIG;
    }
    dst->urls = ulm__calloc(1, sizeof *dst->urls);
    if (!dst->urls || !(dst->urls[0] = ulm__strdup(one)))
        return ULM_ENOMEM;
    dst->count = 1;
    return ULM_OK;
}

void ulm__url_list_clear(ulm_url_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        ulm__free(l->urls[i]);
    ulm__free(l->urls);
}

/* The file named by the options or ULM_CONFIG, parsed into s->file; none is fine. */
static int load_file(ulm_settings *s, const ulm_client_options *opts, char *errbuf, size_t n)
{
    const char *json = opts && opts->config_json ? opts->config_json : NULL;
    if (json && opts->config_path && *opts->config_path) {
        ulm__set_errbuf(errbuf, n, "options: config_path and config_json are alternatives; "
                        "give one");
        return ULM_ECONFIG;
    }
    if (json) {
        /* the cap a file has, looked for without reading past it */
        const char *end = memchr(json, '\0', (size_t)ULM_CONFIG_MAX_BYTES + 1);
        if (!end) {
            ulm__set_errbuf(errbuf, n, "options.config_json: larger than 1 MiB (%ld bytes), "
                            "the most a configuration may have", ULM_CONFIG_MAX_BYTES);
            return ULM_ECONFIG;
        }
        if (!(s->config_path = ulm__strdup("options.config_json")))
            return ULM_ENOMEM;
        return ulm__file_config_parse(json, (size_t)(end - json), s->config_path,
                                      ulm__backend_type_names, ulm__backend_type_names, &s->file,
                                      errbuf, n);
    }
    const char *path = opts && opts->config_path && *opts->config_path ? opts->config_path
                                                                       : env(opts, "ULM_CONFIG");
    if (!path) {
        ulm_file_config empty = {0};
        s->file = empty;
        s->file.max_retries = s->file.base_delay_ms = s->file.max_delay_ms = -1;
        s->file.breaker_failures = s->file.breaker_window_ms = s->file.breaker_cooldown_ms = -1;
        s->file.use_local_models_when_offline = -1;
        s->file.probe_interval_ms = -1;
        s->file.auto_pull = -1;
        for (int i = 0; i <= ULM_CLOCK_OVERALL; i++)
            s->file.timeouts[i] = -1;
        return ULM_OK;
    }
    if (!(s->config_path = ulm__strdup(path)))
        return ULM_ENOMEM;
    /* every type is also a backend that exists without being declared */
    return ulm__file_config_load(path, ulm__backend_type_names, ulm__backend_type_names,
                                 &s->file, errbuf, n);
}

static int load_local_models(ulm_settings *s, const char *list, char *errbuf, size_t n)
{
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    s->local_models = ulm__calloc(count, sizeof *s->local_models);
    if (!s->local_models)
        return ULM_ENOMEM;
    const char *p = list;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char name[256], canon[256];
        if (len == 0 || len >= sizeof name) {
            ulm__set_errbuf(errbuf, n, "AVAILABLE_LOCAL_MODELS: entry %zu is %s", i + 1,
                            len ? "too long" : "empty");
            return ULM_ECONFIG;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (ulm__local_backend_type()->normalize_model(name, canon, sizeof canon) != ULM_OK) {
            ulm__set_errbuf(errbuf, n, "AVAILABLE_LOCAL_MODELS: entry %zu (\"%.64s\") is not a "
                            "Docker Model Runner model name", i + 1, name);
            return ULM_ECONFIG;
        }
        s->local_models[i] = ulm__strdup(canon);
        if (!s->local_models[i])
            return ULM_ENOMEM;
        s->local_model_count = i + 1;
        p = end ? end + 1 : p + len;
    }
    return ULM_OK;
}

const char *ulm__settings_program_value(const ulm_settings *s, const char *backend,
                                        const char *name)
{
    for (size_t i = 0; i < s->program_count; i++)
        if (strcmp(s->program[i].backend, backend) == 0 && strcmp(s->program[i].name, name) == 0)
            return s->program[i].value;
    return NULL;
}

/* The names a backend setting may have (ulm_backend_setting). */
static const char *const setting_names[] = {"api_key", "url", "ca_file", "proxy",
                                            "candidates", "auto_pull", NULL};

/* Copies the program's backend settings, each checked but for its backend's name, which
 * is known only once the file is read (check_program_backends). */
static int copy_program_settings(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                                 size_t n)
{
    size_t count = opts ? opts->backend_setting_count : 0;
    if (!count)
        return ULM_OK;
    if (!opts->backend_settings) {
        ulm__set_errbuf(errbuf, n, "options.backend_settings: NULL with a count of %zu", count);
        return ULM_ECONFIG;
    }
    if (!(s->program = ulm__calloc(count, sizeof *s->program)))
        return ULM_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const ulm_backend_setting *in = &opts->backend_settings[i];
        if (!in->backend || !in->name || !in->value) {
            ulm__set_errbuf(errbuf, n, "options.backend_settings[%zu]: backend, name and value "
                            "are all needed", i);
            return ULM_ECONFIG;
        }
        size_t k = 0;
        while (setting_names[k] && strcmp(setting_names[k], in->name) != 0)
            k++;
        if (!setting_names[k]) {
            ulm__set_errbuf(errbuf, n, "options.backend_settings[%zu]: unknown setting \"%.32s\" "
                            "(known: api_key, url, ca_file, proxy; for Docker Model Runner "
                            "also candidates, auto_pull)", i, in->name);
            return ULM_ECONFIG;
        }
        if (k == 0 && !valid_secret(in->value)) {
            ulm__set_errbuf(errbuf, n, "options.backend_settings[%zu]: %.32s.api_key contains a "
                            "control character", i, in->backend);
            return ULM_ECONFIG;
        }
        ulm_program_setting *out = &s->program[s->program_count++];
        out->backend = ulm__strdup(in->backend);
        out->name = ulm__strdup(in->name);
        out->value = ulm__strdup(in->value);
        if (!out->backend || !out->name || !out->value)
            return ULM_ENOMEM;
    }
    return ULM_OK;
}

/* Every program setting names a built-in backend or one the file declares. */
static int check_program_backends(const ulm_settings *s, char *errbuf, size_t n)
{
    for (size_t i = 0; i < s->program_count; i++) {
        const char *name = s->program[i].backend;
        if (!ulm__backend_type(name) && !file_backend(s, name)) {
            ulm__set_errbuf(errbuf, n, "options.backend_settings[%zu]: unknown backend \"%.32s\" "
                            "(the built-in dmr, openai, anthropic, gemini, or one the "
                            "configuration declares)", i, name);
            return ULM_ECONFIG;
        }
        /* where the runner is and whether it pulls are the local backend's alone: taken
         * from another backend, they would be ignored without a word */
        const char *setting = s->program[i].name;
        const char *local = ulm__local_backend_type()->name;
        if ((strcmp(setting, "candidates") == 0 || strcmp(setting, "auto_pull") == 0) &&
            strcmp(name, local) != 0) {
            ulm__set_errbuf(errbuf, n, "options.backend_settings[%zu]: %s is a setting of the "
                            "%s backend only, not of \"%.32s\"", i, setting, local, name);
            return ULM_ECONFIG;
        }
    }
    return ULM_OK;
}

static int urls_local(const ulm_url_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (!ulm__url_is_local(l->urls[i]))
            return 0;
    return l->count > 0;
}

/* The options' key and URL for the built-in backend called name: a backend setting, else
 * the field versions 1 to 3 of the options have for it. */
static void builtin_options(const ulm_settings *s, const ulm_client_options *opts,
                            const char *name, const char **key, const char **url)
{
    *key = ulm__settings_program_value(s, name, "api_key");
    *url = ulm__settings_program_value(s, name, "url");
    if (!opts || (*key && *url))
        return;
    const char *field_key = NULL, *field_url = NULL;
    if (strcmp(name, "dmr") == 0) {
        field_url = opts->model_runner_url;
    } else if (strcmp(name, "openai") == 0) {
        field_key = opts->openai_api_key;
        field_url = opts->openai_base_url;
    } else if (strcmp(name, "anthropic") == 0) {
        field_key = opts->anthropic_api_key;
        field_url = opts->anthropic_base_url;
    } else if (strcmp(name, "gemini") == 0) {
        field_key = opts->gemini_api_key;
        field_url = opts->gemini_base_url;
    }
    if (!*key)
        *key = field_key;
    if (!*url)
        *url = field_url;
}

/* The first of vars that is set, or NULL; *found names it. */
static const char *first_var(const ulm_client_options *opts, const char *const *vars,
                             const char **found)
{
    for (size_t i = 0; vars[i]; i++) {
        const char *v = env(opts, vars[i]);
        if (v) {
            *found = vars[i];
            return v;
        }
    }
    return NULL;
}

/* A built-in backend's key (the option, else the variable the file names, else the
 * type's variables) and URLs; a key is never in the file itself. */
static int load_builtin(ulm_settings *s, ulm_builtin_settings *bs, const ulm_backend_type *type,
                        const ulm_client_options *opts, char *errbuf, size_t n)
{
    bs->type = type;
    const char *key_option, *url_option;
    builtin_options(s, opts, type->name, &key_option, &url_option);
    const ulm_file_backend *declared = file_backend(s, type->name);
    const char *file_var[2] = {declared ? declared->api_key_env : NULL, NULL};
    const char *const *vars = file_var[0] ? file_var : type->key_vars;
    char option_name[32];
    snprintf(option_name, sizeof option_name, "options.%s_api_key", type->name);
    const char *var = option_name;
    const char *key = key_option && *key_option ? key_option : first_var(opts, vars, &var);
    if (key) {
        if (!valid_secret(key)) {
            ulm__set_errbuf(errbuf, n, "%s: contains a control character", var);
            return ULM_ECONFIG;
        }
        if (!(bs->api_key = ulm__strdup(key)))
            return ULM_ENOMEM;
    }
    /* a bad URL is named where it came from: the program's setting, or the variable */
    char url_name[48];
    snprintf(url_name, sizeof url_name, "%s.url", type->name);
    int rc = set_urls(&bs->urls, url_option, declared, env(opts, type->url_var),
                      type->default_url, url_option && *url_option ? url_name : type->url_var,
                      errbuf, n);
    bs->url_defaulted = !(url_option && *url_option) && !declared && !env(opts, type->url_var);
    /* a local backend takes no key (docs/config.md, "Local servers and keys"): the file's
     * "local" when given, else a server on this machine or network (llama.cpp's, vLLM,
     * Ollama) for which the file names no key variable */
    int local = declared && declared->local >= 0
                    ? declared->local
                    : !(declared && declared->api_key_env) && urls_local(&bs->urls);
    if (rc == ULM_OK && !key && vars[0] && !local)
        ulm__backend_type_missing_key(vars, bs->missing_key, sizeof bs->missing_key);
    return rc;
}

/* A name Compose may not take: a built-in backend's or one the file declares. */
static int name_taken(const char *name, void *ctx)
{
    return ulm__backend_type(name) || file_backend(ctx, name);
}

/* The well-known addresses of Docker Model Runner, in the order they are tried: the host's
 * port, and only inside a container the names Docker gives the host there. */
static int default_candidates(ulm_url_list *out)
{
    static const char *const host[] = {"http://localhost:12434"};
    static const char *const container[] = {"http://localhost:12434",
                                            "http://model-runner.docker.internal",
                                            "http://model-runner.docker.internal:12434",
                                            "http://172.17.0.1:12434"};
    int inside = access("/.dockerenv", F_OK) == 0 || access("/run/.containerenv", F_OK) == 0;
    const char *const *list = inside ? container : host;
    size_t count = inside ? 4 : 1;
    if (!(out->urls = ulm__calloc(count, sizeof *out->urls)))
        return ULM_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (!(out->urls[i] = ulm__strdup(list[i])))
            return ULM_ENOMEM;
        out->count = i + 1;
    }
    return ULM_OK;
}

/*
 * Where Docker Model Runner is, when no URL was given for it: the Compose models in the
 * environment, and the candidate addresses to probe (the program's setting, the file's
 * model_runner.candidates, ULM_DMR_CANDIDATES, else the well-known ones); and auto-pull.
 */
static int load_discovery(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                          size_t n)
{
    const char *local = ulm__local_backend_type()->name;
    extern char **environ;
    int rc = ulm__compose_models(opts && opts->ignore_environment ? NULL : environ, name_taken,
                                 s, &s->compose, &s->compose_count);
    /* one Compose model and no default of the caller's own: it is the default */
    int default_given = (opts && opts->default_local_model && *opts->default_local_model) ||
                        s->file.default_model || env(opts, "DEFAULT_LOCAL_MODEL");
    if (rc == ULM_OK && s->compose_count == 1 && !default_given) {
        ulm_text target = {0};
        rc = ulm_text_appendf(&target, "%s/%s", s->compose[0].name, s->compose[0].model);
        ulm__free(s->default_target);
        s->default_target = target.data;
    }
    const char *program = ulm__settings_program_value(s, local, "candidates");
    const char *variable = env(opts, "ULM_DMR_CANDIDATES");
    if (rc == ULM_OK && program)
        rc = ulm__url_list_parse(program, &s->dmr_candidates, "dmr.candidates", errbuf, n);
    else if (rc == ULM_OK && s->file.runner_candidate_count)
        rc = ulm__url_list_copy(&s->dmr_candidates,
                                (const char *const *)s->file.runner_candidates,
                                s->file.runner_candidate_count);
    else if (rc == ULM_OK && variable)
        rc = ulm__url_list_parse(variable, &s->dmr_candidates, "ULM_DMR_CANDIDATES", errbuf, n);
    else if (rc == ULM_OK)
        rc = default_candidates(&s->dmr_candidates);
    const char *pull = ulm__settings_program_value(s, local, "auto_pull");
    const char *pull_var = env(opts, "ULM_AUTO_PULL");
    if (rc == ULM_OK && pull && !parse_bool(pull, &s->auto_pull)) {
        ulm__set_errbuf(errbuf, n, "dmr.auto_pull: expected true or false");
        rc = ULM_ECONFIG;
    } else if (rc == ULM_OK && !pull && s->file.auto_pull >= 0) {
        s->auto_pull = s->file.auto_pull;
    } else if (rc == ULM_OK && !pull && pull_var && !parse_bool(pull_var, &s->auto_pull)) {
        ulm__set_errbuf(errbuf, n, "ULM_AUTO_PULL: expected true or false");
        rc = ULM_ECONFIG;
    }
    return rc;
}

static int load_strings(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                        size_t n)
{
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++) {
        int rc = load_builtin(s, &s->builtins[i], &ulm__backend_types[i], opts, errbuf, n);
        if (rc != ULM_OK)
            return rc;
    }

    /* the file names a whole target ("local/ai/smollm2", or an alias); DEFAULT_LOCAL_MODEL
     * a local model. Options beat the file, and the file beats the environment. */
    if (s->file.default_model && !(opts && opts->default_local_model && *opts->default_local_model) &&
        !(s->default_target = ulm__strdup(s->file.default_model)))
        return ULM_ENOMEM;
    const char *model = pick(opts, opts ? opts->default_local_model : NULL,
                             "DEFAULT_LOCAL_MODEL", DEFAULT_LOCAL_MODEL);
    char canon[256];
    if (ulm__local_backend_type()->normalize_model(model, canon, sizeof canon) != ULM_OK) {
        ulm__set_errbuf(errbuf, n, "DEFAULT_LOCAL_MODEL: \"%.64s\" is not a Docker Model "
                        "Runner model name", model);
        return ULM_ECONFIG;
    }
    if (!(s->default_local_model = ulm__strdup(canon)))
        return ULM_ENOMEM;

    const char *list = pick(opts, opts ? opts->available_local_models : NULL,
                            "AVAILABLE_LOCAL_MODELS", NULL);
    int rc = list ? load_local_models(s, list, errbuf, n) : ULM_OK;
    if (rc == ULM_OK)
        rc = load_discovery(s, opts, errbuf, n);
    return rc;
}

/* The file's value when it set one, else the default. */
static long file_or(long file_value, long fallback)
{
    return file_value >= 0 ? file_value : fallback;
}

/* Retries, breakers and offline mode: options, then the file, then the environment. */
static int load_policy(ulm_settings *s, const ulm_client_options *opts, char *errbuf, size_t n)
{
    const ulm_file_config *f = &s->file;
    s->retry.max_retries = (unsigned int)file_or(f->max_retries, DEFAULT_MAX_RETRIES);
    s->retry.base_delay_ms = file_or(f->base_delay_ms, DEFAULT_BASE_DELAY_MS);
    s->retry.max_delay_ms = file_or(f->max_delay_ms, DEFAULT_MAX_DELAY_MS);
    s->breaker.failures = (unsigned int)file_or(f->breaker_failures, DEFAULT_BREAKER_FAILURES);
    s->breaker.window_ms = file_or(f->breaker_window_ms, DEFAULT_BREAKER_WINDOW_MS);
    s->breaker.cooldown_ms = file_or(f->breaker_cooldown_ms, DEFAULT_BREAKER_COOLDOWN_MS);
    s->probe_interval_ms = file_or(f->probe_interval_ms, DEFAULT_PROBE_INTERVAL_MS);

    s->use_local_models_when_offline = 1;
    const char *var = env(opts, "USE_LOCAL_MODELS_WHEN_OFFLINE");
    if (opts && opts->use_local_models_when_offline) {
        s->use_local_models_when_offline = opts->use_local_models_when_offline > 0;
    } else if (f->use_local_models_when_offline >= 0) {
        s->use_local_models_when_offline = f->use_local_models_when_offline;
    } else if (var && !parse_bool(var, &s->use_local_models_when_offline)) {
        ulm__set_errbuf(errbuf, n, "USE_LOCAL_MODELS_WHEN_OFFLINE: expected true or false");
        return ULM_ECONFIG;
    }
    return ULM_OK;
}

static int load_numbers(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                        size_t n)
{
    s->enable_model_runner = 1;
    if (opts && opts->enable_model_runner) {
        s->enable_model_runner = opts->enable_model_runner > 0;
    } else if (env(opts, "ENABLE_MODEL_RUNNER")) {
        if (!parse_bool(env(opts, "ENABLE_MODEL_RUNNER"), &s->enable_model_runner)) {
            ulm__set_errbuf(errbuf, n, "ENABLE_MODEL_RUNNER: expected true or false");
            return ULM_ECONFIG;
        }
    }

    long *ms = s->timeouts.ms;
    const long *file_ms = s->file.timeouts;
    ms[ULM_CLOCK_LOAD] = DEFAULT_LOCAL_TIMEOUT_MS;
    if (opts && opts->local_model_timeout_ms) {
        ms[ULM_CLOCK_LOAD] = opts->local_model_timeout_ms;
    } else if (file_ms[ULM_CLOCK_LOAD] > 0) {
        ms[ULM_CLOCK_LOAD] = file_ms[ULM_CLOCK_LOAD];
    } else if (env(opts, "LOCAL_MODEL_TIMEOUT")) {
        if (!parse_ms(env(opts, "LOCAL_MODEL_TIMEOUT"), &ms[ULM_CLOCK_LOAD])) {
            ulm__set_errbuf(errbuf, n, "LOCAL_MODEL_TIMEOUT: expected milliseconds, a whole "
                            "number from 1 to %ld", ULM_MAX_TIMEOUT_MS);
            return ULM_ECONFIG;
        }
    }

    const struct {
        ulm_clock clock;
        long option, fallback;
        const char *name;
    } clocks[] = {
        {ULM_CLOCK_OVERALL, opts ? opts->timeout_ms : 0, DEFAULT_OVERALL_TIMEOUT_MS,
         "timeout_ms"},
        {ULM_CLOCK_CONNECT, opts ? opts->connect_timeout_ms : 0, DEFAULT_CONNECT_TIMEOUT_MS,
         "connect_timeout_ms"},
        {ULM_CLOCK_FIRST_TOKEN, opts ? opts->first_token_timeout_ms : 0,
         DEFAULT_FIRST_TOKEN_TIMEOUT_MS, "first_token_timeout_ms"},
        {ULM_CLOCK_IDLE, opts ? opts->idle_timeout_ms : 0, DEFAULT_IDLE_TIMEOUT_MS,
         "idle_timeout_ms"},
        {ULM_CLOCK_LOAD, ms[ULM_CLOCK_LOAD], 0, "local_model_timeout_ms"},
    };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        long file_value = file_ms[clocks[i].clock];
        long v = clocks[i].option           ? clocks[i].option
                 : file_value > 0 && clocks[i].clock != ULM_CLOCK_LOAD ? file_value
                                            : clocks[i].fallback;
        if (v <= 0 || v > ULM_MAX_TIMEOUT_MS) {
            ulm__set_errbuf(errbuf, n, "%s: expected 1 to %ld milliseconds", clocks[i].name,
                            ULM_MAX_TIMEOUT_MS);
            return ULM_ECONFIG;
        }
        ms[clocks[i].clock] = v;
    }

    s->max_response_bytes = opts && opts->max_response_bytes ? opts->max_response_bytes
                                                             : DEFAULT_MAX_RESPONSE_BYTES;
    s->max_event_line_bytes = opts && opts->max_event_line_bytes ? opts->max_event_line_bytes
                                                                 : DEFAULT_MAX_EVENT_LINE_BYTES;
    s->max_event_bytes = opts && opts->max_event_bytes ? opts->max_event_bytes
                                                       : DEFAULT_MAX_EVENT_BYTES;
    s->max_idle_connections = opts && opts->max_idle_connections
                                  ? opts->max_idle_connections
                                  : DEFAULT_MAX_IDLE_CONNECTIONS;
    return load_policy(s, opts, errbuf, n);
}

int ulm__settings_load(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                       size_t errbuf_size)
{
    memset(s, 0, sizeof *s);
    if (opts) {
        s->log.fn = opts->log_fn;
        s->log.payload = opts->log_payload;
        s->log.event_fn = opts->log_event_fn;
        s->log.event_payload = opts->log_event_payload;
        s->log.level = opts->log_level;
        s->ignore_environment = opts->ignore_environment;
        if ((s->log.fn || s->log.event_fn) && s->log.level == ULM_LOG_NONE)
            s->log.level = ULM_LOG_WARN; /* a callback that never hears anything is a mistake */
    }
    int rc = copy_program_settings(s, opts, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = load_file(s, opts, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = check_program_backends(s, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = load_numbers(s, opts, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = load_strings(s, opts, errbuf, errbuf_size);
    if (rc == ULM_ENOMEM)
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
    if (rc != ULM_OK)
        ulm__settings_clear(s);
    return rc;
}

void ulm__settings_clear(ulm_settings *s)
{
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++) {
        ulm__free_secret(s->builtins[i].api_key);
        ulm__url_list_clear(&s->builtins[i].urls);
    }
    for (size_t i = 0; i < s->program_count; i++) {
        ulm__free(s->program[i].backend);
        ulm__free(s->program[i].name);
        ulm__free_secret(s->program[i].value);
    }
    ulm__free(s->program);
    ulm__compose_models_free(s->compose, s->compose_count);
    ulm__url_list_clear(&s->dmr_candidates);
    ulm__free(s->default_local_model);
    ulm__free(s->default_target);
    ulm__free(s->config_path);
    ulm__file_config_free(&s->file);
    for (size_t i = 0; i < s->local_model_count; i++)
        ulm__free(s->local_models[i]);
    ulm__free(s->local_models);
    memset(s, 0, sizeof *s);
}
