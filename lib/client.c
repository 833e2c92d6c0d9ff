/* client.c - client lifecycle: options, backends, the connection pool, logging. */
#include <curl/curl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned int ulm_version_number(void)
{
    return ULM_VERSION_NUMBER;
}

const char *ulm_version_string(void)
{
    return ULM_VERSION_STRING;
}

int ulm_client_options_init(ulm_client_options *opts, unsigned int version)
{
    if (!opts)
        return ULM_EINVAL;
    if (version < 1 || version > ULM_CLIENT_OPTIONS_VERSION)
        return ULM_EVERSION;
    /* a caller built against version 1 has a shorter struct: write no further */
    ulm_client_options init = ULM_CLIENT_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, version == 1 ? offsetof(ulm_client_options, first_token_timeout_ms)
                                     : sizeof init);
    return ULM_OK;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ulm__log(const ulm_client *c, int level, const char *fmt, ...)
{
    if (!c || !c->settings.log_fn || level > c->settings.log_level)
        return;
    char line[ULM_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->settings.log_fn(level, line, c->settings.log_payload);
}

ulm_backend *ulm__client_backend(const ulm_client *c, const char *name)
{
    for (size_t i = 0; i < c->backend_count; i++)
        if (strcmp(c->backends[i].provider->name, name) == 0)
            return (ulm_backend *)&c->backends[i];
    return NULL;
}

void ulm__client_set_transport(ulm_client *c, ulm_transport_fn fn, void *ctx)
{
    c->transport = fn;
    c->transport_ctx = ctx;
}

static void backend_clear(ulm_backend *b)
{
    if (b->provider && b->provider->destroy)
        b->provider->destroy(b->provider);
    free(b->base_url);
    ulm__free_secret(b->api_key);
    ulm__free_secret(b->auth_line);
    memset(b, 0, sizeof *b);
}

static int backend_set(ulm_backend *b, ulm_provider *p, const char *base_url,
                       const char *api_key)
{
    memset(b, 0, sizeof *b);
    b->provider = p;
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    b->base_url = ulm__strndup(base_url, len);
    b->api_key = api_key ? ulm__strdup(api_key) : NULL;
    if (!b->base_url || (api_key && !b->api_key))
        goto nomem;
    if (p->auth_header && api_key) {
        const char *prefix = p->auth_prefix ? p->auth_prefix : "";
        size_t size = strlen(p->auth_header) + 2 + strlen(prefix) + strlen(api_key) + 1;
        if (!(b->auth_line = ulm__malloc(size)))
            goto nomem;
        snprintf(b->auth_line, size, "%s: %s%s", p->auth_header, prefix, api_key);
    }
    return ULM_OK;
nomem:
    b->provider = NULL; /* the caller still owns it */
    backend_clear(b);
    return ULM_ENOMEM;
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
    ulm_backend fresh;
    int rc = backend_set(&fresh, provider, base_url, api_key);
    if (rc != ULM_OK) {
        provider->destroy(provider);
        return rc;
    }
    ulm_backend *existing = ulm__client_backend(client, provider->name);
    if (existing) {
        backend_clear(existing);
        *existing = fresh;
        return ULM_OK;
    }
    if (client->backend_count == ULM_MAX_BACKENDS) {
        backend_clear(&fresh);
        return ULM_ENOMEM;
    }
    client->backends[client->backend_count++] = fresh;
    return ULM_OK;
}

static int add_builtin_backends(ulm_client *c)
{
    ulm_provider *p = NULL;
    int rc = ulm__dmr_provider_new(&p);
    if (rc != ULM_OK)
        return rc;
    char *dmr_url = ulm__dmr_base_url(c->settings.model_runner_url);
    if (!dmr_url) {
        p->destroy(p);
        return ULM_ENOMEM;
    }
    rc = ulm_client_add_provider(c, p, dmr_url, NULL);
    free(dmr_url);
    if (rc != ULM_OK)
        return rc;
    if (!c->settings.enable_model_runner)
        c->backends[c->backend_count - 1].disabled = "disabled by ENABLE_MODEL_RUNNER=false";

    if ((rc = ulm__openai_provider_new(&p)) != ULM_OK)
        return rc;
    rc = ulm_client_add_provider(c, p, c->settings.openai_base_url, c->settings.openai_api_key);
    if (rc != ULM_OK)
        return rc;
    if (!c->settings.openai_api_key)
        c->backends[c->backend_count - 1].disabled = "OPENAI_API_KEY is not set";
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
    /* a version 1 struct ends before the version 2 fields: read only what it has */
    ulm_client_options full = ULM_CLIENT_OPTIONS_INIT;
    if (opts) {
        memcpy(&full, opts, opts->version == 1 ? offsetof(ulm_client_options,
                                                          first_token_timeout_ms)
                                               : sizeof full);
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
        rc = ulm__curl_pool_new(&c->pool, c->settings.max_idle_connections);
    if (rc == ULM_OK)
        rc = add_builtin_backends(c);
    if (rc == ULM_OK) {
        ulm_buf model = {0};
        rc = ulm__buf_appendf(&model, "dmr/%s", c->settings.default_local_model);
        c->default_model = model.data;
    }
    if (rc != ULM_OK) {
        if (rc == ULM_ENOMEM)
            ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        ulm_client_free(c);
        return rc;
    }
    c->transport = ulm__curl_transport;
    c->transport_ctx = c->pool;
    *out = c;
    return ULM_OK;
}

void ulm_client_free(ulm_client *client)
{
    if (!client)
        return;
    for (size_t i = 0; i < client->backend_count; i++)
        backend_clear(&client->backends[i]);
    ulm__curl_pool_free(client->pool);
    ulm__settings_clear(&client->settings);
    free(client->default_model);
    free(client);
}

const char *ulm_client_default_model(const ulm_client *client)
{
    return client ? client->default_model : "";
}
