/* config.c - resolves client settings: options first, then environment variables, then defaults. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define DEFAULT_OPENAI_BASE_URL "https://api.openai.com/v1"
#define DEFAULT_MODEL_RUNNER_URL "http://localhost:12434"
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

static int set_url(char **dst, const char *value, const char *name, char *errbuf, size_t n)
{
    if (!valid_url(value)) {
        ulm__set_errbuf(errbuf, n, "%s: expected an http:// or https:// URL without spaces", name);
        return ULM_ECONFIG;
    }
    *dst = ulm__strdup(value);
    return *dst ? ULM_OK : ULM_ENOMEM;
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
        if (ulm__dmr_normalize_model(name, canon, sizeof canon) != ULM_OK) {
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

static int load_strings(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                        size_t n)
{
    int rc;
    const char *key = pick(opts, opts ? opts->openai_api_key : NULL, "OPENAI_API_KEY", NULL);
    if (key) {
        if (!valid_secret(key)) {
            ulm__set_errbuf(errbuf, n, "OPENAI_API_KEY: contains a control character");
            return ULM_ECONFIG;
        }
        if (!(s->openai_api_key = ulm__strdup(key)))
            return ULM_ENOMEM;
    }
    rc = set_url(&s->openai_base_url,
                 pick(opts, opts ? opts->openai_base_url : NULL, "OPENAI_BASE_URL",
                      DEFAULT_OPENAI_BASE_URL),
                 "OPENAI_BASE_URL", errbuf, n);
    if (rc != ULM_OK)
        return rc;
    rc = set_url(&s->model_runner_url,
                 pick(opts, opts ? opts->model_runner_url : NULL, "MODEL_RUNNER_URL",
                      DEFAULT_MODEL_RUNNER_URL),
                 "MODEL_RUNNER_URL", errbuf, n);
    if (rc != ULM_OK)
        return rc;

    const char *model = pick(opts, opts ? opts->default_local_model : NULL,
                             "DEFAULT_LOCAL_MODEL", DEFAULT_LOCAL_MODEL);
    char canon[256];
    if (ulm__dmr_normalize_model(model, canon, sizeof canon) != ULM_OK) {
        ulm__set_errbuf(errbuf, n, "DEFAULT_LOCAL_MODEL: \"%.64s\" is not a Docker Model "
                        "Runner model name", model);
        return ULM_ECONFIG;
    }
    if (!(s->default_local_model = ulm__strdup(canon)))
        return ULM_ENOMEM;

    const char *list = pick(opts, opts ? opts->available_local_models : NULL,
                            "AVAILABLE_LOCAL_MODELS", NULL);
    return list ? load_local_models(s, list, errbuf, n) : ULM_OK;
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
    ms[ULM_CLOCK_LOAD] = DEFAULT_LOCAL_TIMEOUT_MS;
    if (opts && opts->local_model_timeout_ms) {
        ms[ULM_CLOCK_LOAD] = opts->local_model_timeout_ms;
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
        long v = clocks[i].option ? clocks[i].option : clocks[i].fallback;
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
    return ULM_OK;
}

int ulm__settings_load(ulm_settings *s, const ulm_client_options *opts, char *errbuf,
                       size_t errbuf_size)
{
    memset(s, 0, sizeof *s);
    if (opts) {
        s->log_fn = opts->log_fn;
        s->log_payload = opts->log_payload;
        s->log_level = opts->log_level;
        if (s->log_fn && s->log_level == ULM_LOG_NONE)
            s->log_level = ULM_LOG_WARN; /* a callback that never hears anything is a mistake */
    }
    int rc = load_numbers(s, opts, errbuf, errbuf_size);
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
    ulm__free_secret(s->openai_api_key);
    free(s->openai_base_url);
    free(s->model_runner_url);
    free(s->default_local_model);
    for (size_t i = 0; i < s->local_model_count; i++)
        free(s->local_models[i]);
    free(s->local_models);
    memset(s, 0, sizeof *s);
}

char *ulm__dmr_base_url(const char *url)
{
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    /* Compose injects ".../v1/" and users copy ".../engines/v1" from Docker's docs:
     * both already name the API root, and another /v1 would break every path. */
    if (len >= 3 && strncmp(url + len - 3, "/v1", 3) == 0)
        return ulm__strndup(url, len);
    ulm_buf b = {0};
    if (ulm__buf_append(&b, url, len) != ULM_OK ||
        ulm__buf_append(&b, "/engines/v1", 11) != ULM_OK) {
        ulm__buf_free(&b);
        return NULL;
    }
    return b.data;
}
