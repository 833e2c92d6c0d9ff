/* backend_types.c - the table of built-in backend kinds and their URL conventions. */
#include <stdio.h>
#include <string.h>

#include "../adapters/builtin.h"
#include "backend_types.h"

/* A URL without trailing slashes and without suffix at its end: users copy base URLs
 * that already name the API version, and the adapter's paths add it again. */
static char *without_suffix(const char *url, const char *suffix)
{
    size_t len = strlen(url), slen = strlen(suffix);
    while (len && url[len - 1] == '/')
        len--;
    if (len > slen && strncmp(url + len - slen, suffix, slen) == 0)
        len -= slen;
    while (len && url[len - 1] == '/')
        len--;
    return ulm__strndup(url, len);
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
    ulm_text b = {0};
    if (ulm_text_append(&b, url, len) != ULM_OK ||
        ulm_text_append(&b, "/engines/v1", 11) != ULM_OK) {
        ulm_text_free(&b);
        return NULL;
    }
    return b.data;
}

static char *anthropic_root(const char *url)
{
    return without_suffix(url, "/v1");
}

static char *gemini_root(const char *url)
{
    return without_suffix(url, "/v1beta");
}

const ulm_backend_type ulm__backend_types[ULM_BACKEND_TYPE_COUNT] = {
    {"dmr", ULM_KIND_LOCAL_DEFAULT, ulm__dmr_provider_new, ulm__dmr_normalize_model, {NULL},
     "MODEL_RUNNER_URL", "http://localhost:12434", ulm__dmr_base_url},
    {"openai", 0, ulm__openai_provider_new, NULL, {"OPENAI_API_KEY", NULL}, "OPENAI_BASE_URL",
     "https://api.openai.com/v1", NULL},
    {"anthropic", 0, ulm__anthropic_provider_new, NULL, {"ANTHROPIC_API_KEY", NULL},
     "ANTHROPIC_BASE_URL", "https://api.anthropic.com", anthropic_root},
    {"gemini", 0, ulm__gemini_provider_new, NULL, {"GEMINI_API_KEY", "GOOGLE_API_KEY", NULL},
     "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com", gemini_root},
};

const char *const ulm__backend_type_names[ULM_BACKEND_TYPE_COUNT + 1] = {"dmr", "openai",
                                                                        "anthropic", "gemini",
                                                                        NULL};

const ulm_backend_type *ulm__backend_type(const char *name)
{
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++)
        if (strcmp(ulm__backend_types[i].name, name) == 0)
            return &ulm__backend_types[i];
    return NULL;
}

const ulm_backend_type *ulm__local_backend_type(void)
{
    for (size_t i = 0; i < ULM_BACKEND_TYPE_COUNT; i++)
        if (ulm__backend_types[i].flags & ULM_KIND_LOCAL_DEFAULT)
            return &ulm__backend_types[i];
    return NULL;
}

void ulm__backend_type_missing_key(const char *const *vars, char *buf, size_t size)
{
    if (vars[0] && vars[1])
        snprintf(buf, size, "%s or %s is not set", vars[0], vars[1]);
    else
        snprintf(buf, size, "%s is not set", vars[0] ? vars[0] : "the key");
}
