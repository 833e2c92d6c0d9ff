/* target.c - turns a model string ("dmr/ai/smollm2", "openai/gpt-4o-mini") into a backend and model. */
#include <stdio.h>
#include <string.h>

#include "client.h"

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

/* A name without a known provider prefix is local when DMR is configured to serve it. */
static int resolve_bare(const ulm_client *c, const char *spec, ulm_target *out, char *errbuf,
                        size_t n)
{
    char canon[sizeof out->model];
    ulm_backend *dmr = ulm__client_backend(c, "dmr");
    if (dmr && ulm__dmr_normalize_model(spec, canon, sizeof canon) == ULM_OK &&
        is_local_model(c, canon)) {
        out->backend = dmr;
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
