/* compose_env.c - the models Docker Compose's "models:" element injects: <NAME>_URL and <NAME>_MODEL. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "compose_env.h"

/* The value of the variable called name (length bytes) in env, or NULL. */
static const char *value_of(char *const *env, const char *name, size_t length)
{
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], name, length) == 0 && env[i][length] == '=')
            return env[i] + length + 1;
    return NULL;
}

/* Whether url is what Compose injects: a runner's API root ending in /v1 (or /v1/). */
static int api_root(const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    return (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) && n > 3 &&
           strncmp(url + n - 3, "/v1", 3) == 0;
}

void ulm__compose_models_free(ulm_compose_model *models, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        ulm__free(models[i].name);
        ulm__free(models[i].url);
        ulm__free(models[i].model);
    }
    ulm__free(models);
}

int ulm__compose_models(char *const *env, int (*taken)(const char *name, void *ctx), void *ctx,
                        ulm_compose_model **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t cap = 0;
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        size_t len = eq ? (size_t)(eq - env[i]) : 0;
        if (len <= 4 || strncmp(eq - 4, "_URL", 4) != 0 || !api_root(eq + 1))
            continue;
        char model_var[256];
        size_t base = len - 4;
        if (base + 6 >= sizeof model_var)
            continue;
        memcpy(model_var, env[i], base);
        memcpy(model_var + base, "_MODEL", 7);
        const char *model = value_of(env, model_var, base + 6);
        if (!model || !*model)
            continue;
        char name[128];
        if (base >= sizeof name)
            continue;
        for (size_t k = 0; k < base; k++)
            name[k] = (char)tolower((unsigned char)env[i][k]);
        name[base] = '\0';
        if (taken(name, ctx))
            continue;
        if (ulm__reserve((void **)out, &cap, *count, sizeof **out) != ULM_OK)
            goto nomem;
        ulm_compose_model *m = &(*out)[*count];
        *m = (ulm_compose_model){ulm__strdup(name), ulm__strdup(eq + 1), ulm__strdup(model)};
        (*count)++;
        if (!m->name || !m->url || !m->model)
            goto nomem;
    }
    return ULM_OK;
nomem:
    ulm__compose_models_free(*out, *count);
    *out = NULL;
    *count = 0;
    return ULM_ENOMEM;
}
