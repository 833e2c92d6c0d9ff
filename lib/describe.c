/* describe.c - ulm_client_describe(): the effective configuration as JSON, keys never shown. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compose_env.h"
#include "redact.h"

/* A URL as describe may show it: its credentials replaced (redact.h); null without memory. */
static json_t *shown_url(const char *url)
{
    char *shown = ulm__redacted_url(url);
    json_t *s = shown ? json_string(shown) : json_null();
    ulm__free(shown);
    return s;
}

static const char *breaker_state_name(ulm_breaker_state state)
{
    switch (state) {
    case ULM_BREAKER_OPEN:
        return "open";
    case ULM_BREAKER_HALF_OPEN:
        return "half_open";
    case ULM_BREAKER_CLOSED:
        break;
    }
    return "closed";
}

/* Whether a key is there, never the key: "present", "absent", or "not needed". */
static const char *key_presence(const ulm_backend *b)
{
    if (!b->provider->auth_header)
        return "not needed";
    return b->api_key ? "present" : "absent";
}

static json_t *backend_json(ulm_client *c, const ulm_backend *b)
{
    json_t *endpoints = json_array();
    pthread_mutex_lock(&c->policy_lock);
    for (size_t i = 0; i < b->endpoint_count; i++)
        json_array_append_new(endpoints,
                              json_pack("{s:o, s:s, s:i}", "url", shown_url(b->urls[i]), "breaker",
                                        breaker_state_name(b->health[i].breaker.state),
                                        "in_flight", (int)b->health[i].in_flight));
    pthread_mutex_unlock(&c->policy_lock);
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "name", b->name, "type",
                          b->provider->name, "endpoints", endpoints, "key", key_presence(b),
                          "balance",
                          b->balance == ULM_BALANCE_LEAST_IN_FLIGHT ? "least_in_flight"
                                                                    : "round_robin");
    json_object_set_new(o, "disabled", b->disabled[0] ? json_string(b->disabled) : json_null());
    json_object_set_new(o, "origin", json_string(b->origin ? b->origin : "builtin"));
    json_object_set_new(o, "local", json_boolean(b->local));
    json_object_set_new(o, "max_in_flight",
                        json_integer(b->limiter ? (json_int_t)b->limiter->max_in_flight : 0));
    json_object_set_new(o, "max_queue",
                        json_integer(b->limiter ? (json_int_t)b->limiter->max_queue : 0));
    json_object_set_new(o, "ca_file", b->ca_file ? json_string(b->ca_file) : json_null());
    char *proxy = b->proxy ? ulm__redacted_url(b->proxy) : NULL; /* null: libcurl's */
    json_object_set_new(o, "proxy", proxy ? json_string(proxy) : json_null());
    ulm__free(proxy);
    return o;
}

static json_t *strings_json(char *const *items, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *urls_json(char *const *urls, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, shown_url(urls[i]));
    return a;
}

/* Where Docker Model Runner was looked for, and what each address said. */
static json_t *discovery_json(ulm_client *c)
{
    ulm_discovery *d = &c->discovery;
    json_t *candidates = urls_json(c->settings.dmr_candidates.urls,
                                   c->settings.dmr_candidates.count);
    json_t *tried = json_array();
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->tried_count; i++)
        json_array_append_new(tried, json_pack("{s:o, s:s, s:s}", "url", shown_url(d->tried[i].url),
                                               "outcome", ulm_error_name(d->tried[i].outcome),
                                               "message", d->tried[i].message));
    json_t *o = json_pack("{s:b, s:b, s:o, s:o}", "needed", d->pending, "done", d->done,
                          "candidates", candidates, "tried", tried);
    json_object_set_new(o, "failure", d->failure ? json_string(d->failure) : json_null());
    pthread_mutex_unlock(&d->lock);
    json_object_set_new(o, "auto_pull", json_boolean(c->settings.auto_pull));
    return o;
}

static json_t *describe(ulm_client *c)
{
    const ulm_settings *s = &c->settings;
    const long *ms = s->timeouts.ms;
    json_t *backends = json_array();
    for (size_t i = 0; i < c->backend_count; i++)
        if (!c->backends[i].hidden)
            json_array_append_new(backends, backend_json(c, &c->backends[i]));
    json_t *aliases = json_object();
    for (size_t i = 0; i < s->file.alias_count; i++)
        json_object_set_new(aliases, s->file.aliases[i].name,
                            strings_json(s->file.aliases[i].targets,
                                         s->file.aliases[i].target_count));
    json_t *models = json_object();
    for (size_t i = 0; i < s->file.model_count; i++) {
        const ulm_file_model *m = &s->file.models[i];
        json_t *o = json_object();
        if (m->has_temperature)
            json_object_set_new(o, "temperature", json_real(m->temperature));
        if (m->max_tokens)
            json_object_set_new(o, "max_tokens", json_integer(m->max_tokens));
        if (m->context_window)
            json_object_set_new(o, "context_window", json_integer(m->context_window));
        json_object_set_new(o, "template",
                            json_string(ulm__prompt_template_name(m->prompt_template)));
        json_object_set_new(models, m->name, o);
    }
    json_t *compose = json_array();
    for (size_t i = 0; i < s->compose_count; i++)
        json_array_append_new(compose, json_pack("{s:s, s:s}", "name", s->compose[i].name,
                                                 "model", s->compose[i].model));
    pthread_mutex_lock(&c->policy_lock);
    int offline_now = c->offline.offline;
    pthread_mutex_unlock(&c->policy_lock);
    json_t *root = json_pack(
        "{s:s, s:o, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I},"
        " s:{s:I, s:I, s:I}, s:{s:b, s:I, s:b}, s:{s:s, s:o}, s:o, s:o,"
        " s:{s:I, s:I, s:I}}",
        "version", ULM_VERSION_STRING, "config_file",
        s->config_path ? json_string(s->config_path) : json_null(), "default_model",
        c->default_model, "backends", backends, "timeouts", "connect_ms",
        (json_int_t)ms[ULM_CLOCK_CONNECT], "load_ms", (json_int_t)ms[ULM_CLOCK_LOAD],
        "first_token_ms", (json_int_t)ms[ULM_CLOCK_FIRST_TOKEN], "idle_ms",
        (json_int_t)ms[ULM_CLOCK_IDLE], "overall_ms", (json_int_t)ms[ULM_CLOCK_OVERALL], "retry",
        "max_retries", (json_int_t)s->retry.max_retries, "base_delay_ms",
        (json_int_t)s->retry.base_delay_ms, "max_delay_ms", (json_int_t)s->retry.max_delay_ms,
        "breaker", "failures", (json_int_t)s->breaker.failures, "window_ms",
        (json_int_t)s->breaker.window_ms, "cooldown_ms", (json_int_t)s->breaker.cooldown_ms,
        "offline", "use_local_models", s->use_local_models_when_offline, "probe_interval_ms",
        (json_int_t)s->probe_interval_ms, "offline_now", offline_now, "local_models",
        "default", s->default_local_model, "available",
        strings_json(s->local_models, s->local_model_count), "aliases", aliases, "models",
        models, "limits", "max_response_bytes", (json_int_t)s->max_response_bytes,
        "max_event_line_bytes", (json_int_t)s->max_event_line_bytes, "max_event_bytes",
        (json_int_t)s->max_event_bytes);
    json_object_set_new(root, "compose_models", compose);
    json_object_set_new(root, "model_runner_discovery", discovery_json(c));
    return root;
}

size_t ulm_client_describe(ulm_client *client, char *buf, size_t size)
{
    if (buf && size)
        buf[0] = '\0';
    if (!client)
        return 0;
    json_t *root = describe(client);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(root);
    if (!text)
        return 0; /* out of memory: nothing to describe with */
    size_t len = strlen(text);
    if (buf && size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    free(text); /* json_dumps() allocated it, outside the library's count */
    return len;
}
