/* backends.c - a client's backends: adding, replacing, finding, their parameters and their keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "url_local.h"

ulm_backend *ulm__client_backend(const ulm_client *c, const char *name)
{
    for (size_t i = 0; i < c->backend_count; i++)
        if (strcmp(c->backends[i].name, name) == 0)
            return (ulm_backend *)&c->backends[i];
    return NULL;
}

const ulm_file_model *ulm__client_model_params(const ulm_client *c, const ulm_backend *b,
                                               const char *model)
{
    for (size_t i = 0; i < c->model_param_count; i++)
        if (c->model_params[i].backend == b && strcmp(c->model_params[i].model, model) == 0)
            return c->model_params[i].file;
    return NULL;
}

int ulm__urls_local(const ulm_backend *b)
{
    for (size_t i = 0; i < b->endpoint_count; i++)
        if (!ulm__url_is_local(b->urls[i]))
            return 0;
    return b->endpoint_count > 0;
}

char *ulm__backend_auth_line(const ulm_backend *b, const char *key)
{
    const ulm_provider *p = b->provider;
    if (!p->auth_header)
        return NULL;
    const char *prefix = p->auth_prefix ? p->auth_prefix : "";
    size_t size = strlen(p->auth_header) + 2 + strlen(prefix) + strlen(key) + 1;
    char *line = ulm__malloc(size);
    if (line)
        snprintf(line, size, "%s: %s%s", p->auth_header, prefix, key);
    return line;
}

char *ulm__backend_api_root(const ulm_backend *b, const char *url)
{
    if (b->type && b->type->api_root)
        return b->type->api_root(url);
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    return ulm__strndup(url, len);
}

static void backend_clear(ulm_backend *b)
{
    if (b->provider && b->provider->destroy)
        b->provider->destroy(b->provider);
    ulm__free(b->name);
    for (size_t i = 0; i < b->endpoint_count; i++) {
        ulm__free(b->urls[i]);
        if (b->shown_urls)
            ulm__free(b->shown_urls[i]);
    }
    ulm__free(b->urls);
    ulm__free(b->shown_urls);
    ulm__free(b->health);
    ulm__free(b->loads);
    if (b->limiter) {
        ulm__limiter_destroy(b->limiter);
        ulm__free(b->limiter);
    }
    ulm__free_secret(b->api_key);
    ulm__free_secret(b->auth_line);
    ulm__free(b->ca_file);
    ulm__free_secret(b->proxy); /* it may hold a proxy's password */
    memset(b, 0, sizeof *b);
}

void ulm__client_clear_backends(ulm_client *c)
{
    for (size_t i = 0; i < c->backend_count; i++)
        backend_clear(&c->backends[i]);
    c->backend_count = 0;
}

/* A backend called name that sends through p to each of urls; the caller keeps p on
 * failure. */
static int backend_set(ulm_backend *b, const char *name, ulm_provider *p,
                       const char *const *urls, size_t url_count, const char *api_key)
{
    memset(b, 0, sizeof *b);
    b->name = ulm__strdup(name);
    b->urls = ulm__calloc(url_count, sizeof *b->urls);
    b->shown_urls = ulm__calloc(url_count, sizeof *b->shown_urls);
    b->health = ulm__calloc(url_count, sizeof *b->health);
    b->loads = ulm__calloc(url_count, sizeof *b->loads);
    b->api_key = api_key ? ulm__strdup(api_key) : NULL;
    if (!b->name || !b->urls || !b->shown_urls || !b->health || !b->loads ||
        (api_key && !b->api_key))
        goto nomem;
    for (size_t i = 0; i < url_count; i++) {
        size_t len = strlen(urls[i]);
        while (len && urls[i][len - 1] == '/')
            len--;
        if (!(b->urls[i] = ulm__strndup(urls[i], len)))
            goto nomem;
        b->endpoint_count = i + 1;
    }
    b->provider = p;
    if (p->auth_header && api_key && !(b->auth_line = ulm__backend_auth_line(b, api_key))) {
        b->provider = NULL; /* the caller keeps p */
        goto nomem;
    }
    return ULM_OK;
nomem:
    backend_clear(b);
    return ULM_ENOMEM;
}

int ulm__client_add_backend(ulm_client *c, const char *name, ulm_provider *p,
                            const char *const *urls, size_t url_count, const char *api_key,
                            ulm_backend **added)
{
    ulm_backend fresh;
    int rc = backend_set(&fresh, name, p, urls, url_count, api_key);
    if (rc != ULM_OK) {
        p->destroy(p);
        return rc;
    }
    ulm_backend *slot = ulm__client_backend(c, name);
    if (slot) {
        /* a program's provider replacing a built-in one keeps its kind's role, so that
         * bare local model names still go to it */
        fresh.type = slot->type;
        backend_clear(slot);
    } else if (c->backend_count == ULM_MAX_BACKENDS) {
        backend_clear(&fresh);
        return ULM_ENOMEM;
    } else {
        slot = &c->backends[c->backend_count++];
    }
    /* a provider that says it is local is; so is a server without a key on this machine or
     * network (llama.cpp's server, vLLM, Ollama): a key says a service, even on loopback */
    fresh.local = (p->flags & ULM_PROVIDER_LOCAL) || (!api_key && ulm__urls_local(&fresh));
    *slot = fresh;
    if (added)
        *added = slot;
    return ULM_OK;
}

/* The type's API roots of urls as a user wrote them: DMR's root, /engines/v1 or Compose's
 * /v1/, or a cloud URL that already names the API version, each becomes what adapter
 * paths are appended to. */
static int api_roots(const ulm_backend_type *type, const char *const *urls, size_t count,
                     ulm_url_list *out)
{
    out->count = 0;
    out->urls = ulm__calloc(count, sizeof *out->urls);
    if (!out->urls)
        return ULM_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        out->urls[i] = type->api_root ? type->api_root(urls[i]) : ulm__strdup(urls[i]);
        if (!out->urls[i])
            return ULM_ENOMEM;
        out->count = i + 1;
    }
    return ULM_OK;
}

int ulm__client_add_typed_backend(ulm_client *c, const char *name, const ulm_backend_type *type,
                                  const char *const *urls, size_t url_count, const char *key,
                                  ulm_backend **added)
{
    ulm_provider *p = NULL;
    int rc = type->provider_new(&p);
    if (rc != ULM_OK)
        return rc;
    ulm_url_list roots = {0};
    if ((rc = api_roots(type, urls, url_count, &roots)) != ULM_OK) {
        ulm__url_list_clear(&roots);
        p->destroy(p);
        return rc;
    }
    ulm_backend *b = NULL;
    rc = ulm__client_add_backend(c, name, p, (const char *const *)roots.urls, roots.count, key,
                                 &b);
    ulm__url_list_clear(&roots);
    if (rc == ULM_OK) {
        b->type = type;
        if (added)
            *added = b;
    }
    return rc;
}

void ulm__client_collect_secrets(ulm_client *c)
{
    c->secrets.keys = c->secret_keys;
    c->secrets.count = 0;
    c->settings.log.secrets = &c->secrets;
    for (size_t i = 0; i < c->backend_count; i++)
        if (c->backends[i].api_key && *c->backends[i].api_key)
            c->secret_keys[c->secrets.count++] = c->backends[i].api_key;
    /* made here once: redacting the URL on every attempt cost a fan-out member 4% of its CPU */
    for (size_t i = 0; i < c->backend_count; i++) {
        ulm_backend *b = &c->backends[i];
        for (size_t e = 0; e < b->endpoint_count; e++) {
            ulm__free(b->shown_urls[e]);
            b->shown_urls[e] = ulm__redacted(&c->secrets, b->urls[e], strlen(b->urls[e]));
        }
    }
}
