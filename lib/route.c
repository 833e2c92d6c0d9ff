/* route.c - which backends and models a request goes to, in order: model strings, aliases, offline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose_env.h"
#include "request.h"
#include "route.h"

static int printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int is_local_model(const ulm_client *c, const char *canon)
{
    if (strcmp(canon, c->settings.default_local_model) == 0)
        return 1;
    for (size_t i = 0; i < c->settings.local_model_count; i++)
        if (strcmp(canon, c->settings.local_models[i]) == 0)
            return 1;
    return 0;
}

static void list_providers(const ulm_client *c, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->backend_count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                         c->backends[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* A name without a known provider prefix is local when the local backend (DMR) is configured
 * to serve it. */
static int resolve_bare(const ulm_client *c, const char *spec, ulm_target *out, char *errbuf,
                        size_t n)
{
    char canon[sizeof out->model];
    ulm_backend *local = c->local_backend;
    if (local && local->type->normalize_model(spec, canon, sizeof canon) == ULM_OK &&
        is_local_model(c, canon)) {
        out->backend = local;
        strcpy(out->model, canon);
        return ULM_OK;
    }
    char known[128];
    list_providers(c, known, sizeof known);
    const char *slash = strchr(spec, '/');
    if (slash)
        ulm__set_errbuf(errbuf, n, "model \"%.64s\": unknown provider \"%.*s\" (known: %s)", spec,
                        (int)(slash - spec > 32 ? 32 : slash - spec), spec, known);
    else
        ulm__set_errbuf(errbuf, n, "model \"%.64s\": name a provider, as in dmr/%.64s (known: %s)",
                        spec, spec, known);
    return ULM_EINVAL;
}

int ulm__target_resolve(const ulm_client *c, const char *spec, ulm_target *out, char *errbuf,
                        size_t n)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(spec, '/');
    ulm_backend *backend = NULL;
    if (slash) {
        char prefix[64];
        size_t plen = (size_t)(slash - spec);
        if (plen < sizeof prefix) {
            memcpy(prefix, spec, plen);
            prefix[plen] = '\0';
            backend = ulm__client_backend(c, prefix);
        }
    }
    if (!backend)
        return resolve_bare(c, spec, out, errbuf, n);

    const char *model = slash + 1;
    const ulm_provider *p = backend->provider;
    if (!*model) {
        ulm__set_errbuf(errbuf, n, "model \"%.64s\": no model name after \"%s/\"", spec,
                        backend->name);
        return ULM_EINVAL;
    }
    if (p->normalize_model) {
        if (p->normalize_model(p, model, out->model, sizeof out->model) != ULM_OK) {
            ulm__set_errbuf(errbuf, n, "model \"%.64s\": not a valid %s model name", spec,
                            backend->name);
            return ULM_EINVAL;
        }
    } else if (strlen(model) >= sizeof out->model) {
        ulm__set_errbuf(errbuf, n, "model \"%.64s...\": name too long", spec);
        return ULM_EINVAL;
    } else if (!printable_ascii(model)) {
        ulm__set_errbuf(errbuf, n, "model \"%.64s\": names are printable ASCII without spaces",
                        spec);
        return ULM_EINVAL;
    } else {
        strcpy(out->model, model);
    }
    out->backend = backend;
    return ULM_OK;
}

/* ------------------------------------------------------------ a request's targets */

static int append_target(ulm_target_list *l, const ulm_target *t)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].backend == t->backend && strcmp(l->items[i].model, t->model) == 0)
            return ULM_OK; /* an alias and a name may say the same target twice */
    if (ulm__reserve((void **)&l->items, &l->cap, l->count, sizeof *l->items) != ULM_OK)
        return ULM_ENOMEM;
    l->items[l->count++] = *t;
    return ULM_OK;
}

/* Appends the targets one model string names: an alias's chain, a model Docker Compose
 * injected (called by its name), or one target. */
static int add_spec(ulm_client *c, const char *spec, ulm_target_list *l, char *errmsg,
                    size_t errmsg_size)
{
    for (size_t i = 0; !strchr(spec, '/') && i < c->settings.compose_count; i++) {
        const ulm_compose_model *m = &c->settings.compose[i];
        if (strcmp(spec, m->name) != 0)
            continue;
        char target[512];
        snprintf(target, sizeof target, "%s/%s", m->name, m->model);
        ulm_target t;
        int rc = ulm__target_resolve(c, target, &t, errmsg, errmsg_size);
        return rc == ULM_OK ? append_target(l, &t) : rc;
    }
    const ulm_file_alias *alias = strchr(spec, '/') ? NULL
                                                    : ulm__file_config_alias(&c->settings.file,
                                                                             spec);
    size_t n = alias ? alias->target_count : 1;
    for (size_t i = 0; i < n; i++) {
        ulm_target t;
        int rc = ulm__target_resolve(c, alias ? alias->targets[i] : spec, &t, errmsg,
                                     errmsg_size);
        if (rc == ULM_OK)
            rc = append_target(l, &t);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* Appends each target of a comma-separated list of model strings. */
static int add_specs(ulm_client *c, const char *specs, ulm_target_list *l, char *errmsg,
                     size_t errmsg_size)
{
    for (const char *p = specs;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char spec[512];
        if (len == 0 || len >= sizeof spec) {
            ulm__set_errbuf(errmsg, errmsg_size, "model \"%.64s\": %s", specs,
                            len ? "a model string too long" : "an empty model string");
            return ULM_EINVAL;
        }
        memcpy(spec, p, len);
        spec[len] = '\0';
        int rc = add_spec(c, spec, l, errmsg, errmsg_size);
        if (rc != ULM_OK || !comma)
            return rc;
        p = comma + 1;
    }
}

int ulm__route(ulm_client *c, const ulm_request *req, const char *models, ulm_target_list *l,
               char *errmsg, size_t errmsg_size)
{
    if (models)
        return add_specs(c, models, l, errmsg, errmsg_size);
    size_t n = ulm__request_model_count(req);
    if (!n)
        return add_spec(c, c->default_model, l, errmsg, errmsg_size);
    for (size_t i = 0; i < n; i++) {
        int rc = add_spec(c, ulm__request_model(req, i), l, errmsg, errmsg_size);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

int ulm__route_add_local_models(ulm_client *c, ulm_target_list *l)
{
    ulm_backend *local = c->local_backend;
    if (!local || local->disabled[0])
        return ULM_OK;
    const ulm_settings *s = &c->settings;
    for (size_t i = 0; i <= s->local_model_count; i++) {
        ulm_target t = {.backend = local};
        const char *model = i == 0 ? s->default_local_model : s->local_models[i - 1];
        if (strlen(model) >= sizeof t.model)
            continue;
        strcpy(t.model, model);
        int rc = append_target(l, &t);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

void ulm__target_list_clear(ulm_target_list *l)
{
    ulm__free(l->items);
    *l = (ulm_target_list){0};
}
