/* client_lifecycle.c - ulm_client_new/free: options, the built-in and declared backends, the engine pool. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "compose_env.h"
#include "engine.h"
#include "hub.h"
#include "metrics.h"
#include "route.h"

unsigned int ulm_version_number(void)
{
    return ULM_VERSION_NUMBER;
}

const char *ulm_version_string(void)
{
    return ULM_VERSION_STRING;
}

/* The size of the options struct a caller built against version has: a caller of an
 * earlier version has a shorter struct, and nothing past its end may be read or written. */
static size_t options_size(unsigned int version)
{
    switch (version) {
    case 1:
        return offsetof(ulm_client_options, first_token_timeout_ms);
    case 2:
        return offsetof(ulm_client_options, anthropic_api_key);
    case 3:
        return offsetof(ulm_client_options, config_json);
    case 4:
        return offsetof(ulm_client_options, log_event_fn);
    default:
        return sizeof(ulm_client_options);
    }
}

int ulm_client_options_init(ulm_client_options *opts, unsigned int version)
{
    if (!opts)
        return ULM_EINVAL;
    if (version < 1 || version > ULM_CLIENT_OPTIONS_VERSION)
        return ULM_EVERSION;
    ulm_client_options init = ULM_CLIENT_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, options_size(version));
    return ULM_OK;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int valid_provider(const ulm_provider *p)
{
    return p && p->version >= 1 && p->name && *p->name && !strchr(p->name, '/') && p->build &&
           p->parse && p->destroy;
}

int ulm_client_add_provider(ulm_client *client, ulm_provider *provider, const char *base_url,
                            const char *api_key)
{
    if (!valid_provider(provider)) {
        if (provider && provider->destroy)
            provider->destroy(provider);
        return ULM_EINVAL;
    }
    if (!client || !base_url) {
        provider->destroy(provider);
        return ULM_EINVAL;
    }
    ulm_backend *b = NULL;
    int rc = ulm__client_add_backend(client, provider->name, provider, &base_url, 1, api_key,
                                     &b);
    if (rc == ULM_OK) {
        b->origin = "program";
        ulm__client_collect_secrets(client);
        rc = ulm__metrics_set_backend(client->metrics, (size_t)(b - client->backends), b);
    }
    return rc;
}

/* The value of the first of vars that is set, unless the environment is off. */
static const char *key_from_environment(const ulm_client *c, const char *const *vars)
{
    for (size_t i = 0; !c->settings.ignore_environment && vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

/* The settings the configuration file gives a backend: spreading and a request limit. */
static int apply_file_backend(ulm_backend *b, const ulm_file_backend *fb)
{
    b->balance = fb->balance;
    if (fb->local >= 0)
        b->local = fb->local;
    else if (fb->api_key_env && !b->api_key && !(b->provider->flags & ULM_PROVIDER_LOCAL))
        b->local = 0; /* a key variable named and unset: not local by its URLs */
    if (fb->max_in_flight <= 0)
        return ULM_OK;
    b->limiter = ulm__calloc(1, sizeof *b->limiter);
    if (!b->limiter)
        return ULM_ENOMEM;
    long queue = fb->max_queue >= 0 ? fb->max_queue : 4 * fb->max_in_flight;
    if (ulm__limiter_init(b->limiter, (unsigned int)fb->max_in_flight, (unsigned int)queue) !=
        ULM_OK) {
        ulm__free(b->limiter);
        b->limiter = NULL;
        return ULM_ENOMEM;
    }
    return ULM_OK;
}

static int add_builtin_backends(ulm_client *c)
{
    ulm_settings *s = &c->settings;
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++) {
        const ulm_builtin_settings *bs = &s->builtins[i];
        ulm_backend *b = NULL;
        int rc = ulm__client_add_typed_backend(c, bs->type->name, bs->type,
                                               (const char *const *)bs->urls.urls,
                                               bs->urls.count, bs->api_key, &b);
        if (rc != ULM_OK)
            return rc;
        snprintf(b->disabled, sizeof b->disabled, "%s", bs->missing_key);
        b->origin = "builtin";
        if (bs->type->flags & ULM_KIND_LOCAL_DEFAULT) {
            c->local_backend = b;
            /* no URL given: the well-known addresses are probed at first use */
            c->discovery.pending = bs->url_defaulted && s->dmr_candidates.count > 0;
            if (!s->enable_model_runner) {
                snprintf(b->disabled, sizeof b->disabled,
                         "disabled by ENABLE_MODEL_RUNNER=false");
                b->hidden = 1;
            }
        }
    }
    return ULM_OK;
}

/* Why a declared backend has no key, for its attempts' messages. */
static void missing_key(const ulm_client *c, const ulm_file_backend *fb,
                        const char *const *vars, ulm_backend *b)
{
    const char *set = NULL;
    for (size_t i = 0; c->settings.ignore_environment && vars[i] && !set; i++)
        if (getenv(vars[i]) && *getenv(vars[i]))
            set = vars[i];
    if (set)
        snprintf(b->disabled, sizeof b->disabled,
                 "%s is not read (ignore_environment); give %.24s.api_key in backend_settings",
                 set, fb->name);
    else
        ulm__backend_type_missing_key(vars, b->disabled, sizeof b->disabled);
}

/* A backend the file declares: the program's key and URLs first, then the file's. */
static int add_declared_backend(ulm_client *c, const ulm_file_backend *fb, ulm_backend **b,
                                char *errbuf, size_t errbuf_size)
{
    const ulm_backend_type *type = ulm__backend_type(fb->type);
    const char *file_var[2] = {fb->api_key_env, NULL};
    const char *const *vars = fb->api_key_env ? file_var : type->key_vars;
    const char *key = ulm__settings_program_value(&c->settings, fb->name, "api_key");
    const char *urls = ulm__settings_program_value(&c->settings, fb->name, "url");
    ulm_url_list program = {0};
    char name[96];
    snprintf(name, sizeof name, "%.64s.url", fb->name);
    int rc = urls ? ulm__url_list_parse(urls, &program, name, errbuf, errbuf_size) : ULM_OK;
    if (rc == ULM_OK)
        rc = ulm__client_add_typed_backend(
            c, fb->name, type, (const char *const *)(urls ? program.urls : fb->urls),
            urls ? program.count : fb->url_count, key ? key : key_from_environment(c, vars), b);
    ulm__url_list_clear(&program);
    if (rc != ULM_OK)
        return rc;
    /* a local backend takes no key (docs/config.md, "Local servers and keys"): the file's
     * "local" when given, else the adapter's, or a server on this machine or network
     * without a key, for which the file names no key variable */
    ulm_backend *made = *b;
    made->local = fb->local >= 0                               ? fb->local
                  : (made->provider->flags & ULM_PROVIDER_LOCAL) ? 1
                  : !made->api_key && !fb->api_key_env && ulm__urls_local(made);
    if (vars[0] && !made->api_key && !made->local)
        missing_key(c, fb, vars, made);
    return ULM_OK;
}

/*
 * Backends the configuration file declares: new names get a backend of their type; the
 * built-in names keep their URLs and keys (resolved with the right precedence already)
 * and take the file's spreading and limits.
 */
static int add_file_backends(ulm_client *c, char *errbuf, size_t errbuf_size)
{
    const ulm_file_config *f = &c->settings.file;
    for (size_t i = 0; i < f->backend_count; i++) {
        const ulm_file_backend *fb = &f->backends[i];
        ulm_backend *b = ulm__client_backend(c, fb->name);
        if (!b && c->backend_count == ULM_MAX_BACKENDS) {
            ulm__set_errbuf(errbuf, errbuf_size, "%s: backends.%.64s: more than %d backends",
                            c->settings.config_path, fb->name, ULM_MAX_BACKENDS);
            return ULM_ECONFIG;
        }
        if (!b) {
            int rc = add_declared_backend(c, fb, &b, errbuf, errbuf_size);
            if (rc != ULM_OK)
                return rc;
            b->origin = "file";
        }
        int rc = apply_file_backend(b, fb);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* A Docker Model Runner backend for each model Docker Compose injected into the environment. */
static int add_compose_backends(ulm_client *c)
{
    const ulm_settings *s = &c->settings;
    for (size_t i = 0; i < s->compose_count; i++) {
        const ulm_compose_model *m = &s->compose[i];
        ulm_backend *b = NULL;
        const char *url = m->url;
        int rc = c->backend_count == ULM_MAX_BACKENDS
                     ? ULM_ENOMEM
                     : ulm__client_add_typed_backend(c, m->name, ulm__local_backend_type(), &url,
                                                     1, NULL, &b);
        if (rc != ULM_OK)
            return rc;
        b->origin = "compose";
    }
    return ULM_OK;
}

/* Matches the file's per-model parameters to resolved targets once, not on every call. */
/* The file's entry for the backend called name, or NULL. */
static const ulm_file_backend *file_backend(const ulm_client *c, const char *name)
{
    for (size_t i = 0; i < c->settings.file.backend_count; i++)
        if (strcmp(c->settings.file.backends[i].name, name) == 0)
            return &c->settings.file.backends[i];
    return NULL;
}

/*
 * Each backend's CA file and proxy: the program's setting, else the file's, else (the CA
 * file only) ULM_CA_FILE; a proxy left unset is libcurl's, from http_proxy, https_proxy
 * and no_proxy. A CA file that cannot be read stops the client here rather than failing
 * every call with a TLS error.
 */
static int apply_network_settings(ulm_client *c, char *errbuf, size_t errbuf_size)
{
    static const char *const ca_vars[] = {"ULM_CA_FILE", NULL};
    const char *env_ca = key_from_environment(c, ca_vars);
    for (size_t i = 0; i < c->backend_count; i++) {
        ulm_backend *b = &c->backends[i];
        const ulm_file_backend *fb = file_backend(c, b->name);
        const char *ca = ulm__settings_program_value(&c->settings, b->name, "ca_file");
        const char *proxy = ulm__settings_program_value(&c->settings, b->name, "proxy");
        const char *ca_source = "backend_settings";
        if (!ca && fb && fb->ca_file)
            ca = fb->ca_file, ca_source = "the configuration file";
        if (!ca && env_ca)
            ca = env_ca, ca_source = "ULM_CA_FILE";
        if (!proxy && fb)
            proxy = fb->proxy;
        if (ca && access(ca, R_OK) != 0) {
            ulm__set_errbuf(errbuf, errbuf_size, "%s.ca_file (from %s): cannot read %.200s: %s",
                            b->name, ca_source, ca, strerror(errno));
            return ULM_ECONFIG;
        }
        if ((ca && !(b->ca_file = ulm__strdup(ca))) || (proxy && !(b->proxy = ulm__strdup(proxy))))
            return ULM_ENOMEM;
    }
    return ULM_OK;
}

static int resolve_model_params(ulm_client *c, char *errbuf, size_t errbuf_size)
{
    const ulm_file_config *f = &c->settings.file;
    if (!f->model_count)
        return ULM_OK;
    c->model_params = ulm__calloc(f->model_count, sizeof *c->model_params);
    if (!c->model_params)
        return ULM_ENOMEM;
    for (size_t i = 0; i < f->model_count; i++) {
        ulm_target t;
        char why[ULM_ERROR_SIZE];
        if (ulm__target_resolve(c, f->models[i].name, &t, why, sizeof why) != ULM_OK) {
            ulm__set_errbuf(errbuf, errbuf_size, "%s: models[\"%.64s\"]: %s",
                            c->settings.config_path, f->models[i].name, why);
            return ULM_ECONFIG;
        }
        ulm_model_params *mp = &c->model_params[c->model_param_count++];
        mp->backend = t.backend;
        memcpy(mp->model, t.model, sizeof mp->model);
        mp->file = &f->models[i];
    }
    return ULM_OK;
}

int ulm_client_new(ulm_client **out, const ulm_client_options *opts, char *errbuf,
                   size_t errbuf_size)
{
    if (errbuf && errbuf_size)
        errbuf[0] = '\0';
    if (!out) {
        ulm__set_errbuf(errbuf, errbuf_size, "out: must not be NULL");
        return ULM_EINVAL;
    }
    *out = NULL;
    if (opts && (opts->version < 1 || opts->version > ULM_CLIENT_OPTIONS_VERSION)) {
        ulm__set_errbuf(errbuf, errbuf_size,
                        "options.version: %u is not a version this library knows (1 to %d)",
                        opts->version, ULM_CLIENT_OPTIONS_VERSION);
        return ULM_EVERSION;
    }
    /* an earlier version's struct ends before the later fields: read only what it has */
    ulm_client_options full = ULM_CLIENT_OPTIONS_INIT;
    if (opts) {
        memcpy(&full, opts, options_size(opts->version));
        opts = &full;
    }
    pthread_once(&curl_once, init_curl);
    if (curl_init_result != CURLE_OK) {
        ulm__set_errbuf(errbuf, errbuf_size, "libcurl failed to initialize");
        return ULM_ETRANSPORT;
    }
    ulm_client *c = ulm__calloc(1, sizeof *c);
    if (!c) {
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        return ULM_ENOMEM;
    }
    int rc = ulm__settings_load(&c->settings, opts, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = ulm__engine_pool_new(&c->engines, c->settings.max_idle_connections);
    if (rc == ULM_OK)
        rc = ulm__hub_new(&c->hub, c->engines);
    if (rc == ULM_OK)
        rc = pthread_mutex_init(&c->policy_lock, NULL) == 0 ? ULM_OK : ULM_ENOMEM;
    if (rc == ULM_OK)
        c->policy_lock_ready = 1;
    if (rc == ULM_OK)
        rc = add_builtin_backends(c);
    if (rc == ULM_OK)
        rc = pthread_mutex_init(&c->discovery.lock, NULL) == 0 ? ULM_OK : ULM_ENOMEM;
    if (rc == ULM_OK)
        c->discovery_lock_ready = 1;
    if (rc == ULM_OK)
        rc = add_file_backends(c, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = add_compose_backends(c);
    if (rc == ULM_OK)
        rc = apply_network_settings(c, errbuf, errbuf_size);
    if (rc == ULM_OK)
        rc = resolve_model_params(c, errbuf, errbuf_size);
    if (rc == ULM_OK) {
        ulm_text model = {0};
        rc = c->settings.default_target
                 ? ulm_text_appendf(&model, "%s", c->settings.default_target)
                 : ulm_text_appendf(&model, "%s/%s", ulm__local_backend_type()->name,
                                    c->settings.default_local_model);
        c->default_model = model.data;
    }
    if (rc != ULM_OK) {
        if (rc == ULM_ENOMEM)
            ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        ulm_client_free(c);
        return rc;
    }
    ulm__client_collect_secrets(c);
    if ((rc = ulm__metrics_new(&c->metrics, c->backends, c->backend_count)) != ULM_OK) {
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        ulm_client_free(c);
        return rc;
    }
    *out = c;
    return ULM_OK;
}

void ulm_client_free(ulm_client *client)
{
    if (!client)
        return;
    ulm__metrics_free(client->metrics);
    if (client->discovery_lock_ready)
        pthread_mutex_destroy(&client->discovery.lock);
    for (size_t i = 0; i < client->discovery.tried_count; i++) {
        ulm__free(client->discovery.tried[i].url);
        ulm__free(client->discovery.tried[i].message);
    }
    ulm__free(client->discovery.tried);
    ulm__free(client->discovery.failure);
    ulm__client_clear_backends(client);
    if (client->policy_lock_ready)
        pthread_mutex_destroy(&client->policy_lock);
    ulm__free(client->model_params);
    ulm__hub_free(client->hub);
    ulm__engine_pool_free(client->engines);
    ulm__settings_clear(&client->settings);
    ulm__free(client->default_model);
    ulm__free(client);
}

const char *ulm_client_default_model(const ulm_client *client)
{
    return client ? client->default_model : "";
}
