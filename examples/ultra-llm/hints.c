/* hints.c - one line on how to fix a failure whose fix is known: Docker Model Runner's. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* backend's entry in the described configuration, or NULL. */
static const json_t *backend_of(const json_t *described, const char *backend)
{
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(described, "backends"), i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        if (name && strcmp(name, backend) == 0)
            return b;
    }
    return NULL;
}

/* The URLs of b's endpoints, joined by ", ", into buf. */
static void endpoint_urls(const json_t *b, char *buf, size_t size)
{
    size_t i, used = 0;
    const json_t *e;
    buf[0] = '\0';
    json_array_foreach(json_object_get(b, "endpoints"), i, e) {
        const char *url = json_string_value(json_object_get(e, "url"));
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", url ? url : "?");
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

/* model without DMR's default ":latest" tag, as one would type it, into buf. */
static void typed_model(const char *model, char *buf, size_t size)
{
    size_t len = strlen(model), tag = strlen(":latest");
    if (len > tag && strcmp(model + len - tag, ":latest") == 0)
        len -= tag;
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), model);
}

int cli_hint(const json_t *described, const char *backend, int error, const char *model,
             const char *url, const char *message, char hint[CLI_HINT_SIZE])
{
    const json_t *b = backend_of(described, backend);
    const char *type = json_string_value(json_object_get(b, "type"));
    if (!type || strcmp(type, "dmr") != 0)
        return 0;
    /* the library's own message may already name the fix: said once is enough */
    if (error == ULM_EMODEL_NOT_FOUND && model && *model &&
        !(message && strstr(message, "docker model pull"))) {
        char name[128]; /* three times in the hint: a longer name is cut */
        typed_model(model, name, sizeof name);
        snprintf(hint, CLI_HINT_SIZE,
                 "%s is not pulled on this Docker Model Runner: pull it with `ultra-llm pull "
                 "%s` or `docker model pull %s`",
                 name, name, name);
        return 1;
    }
    if ((error == ULM_ECONNECT || error == ULM_ECONNECT_TIMEOUT) &&
        !(message && strstr(message, "enable model-runner"))) {
        char urls[200];
        if (url)
            snprintf(urls, sizeof urls, "%s", url);
        else
            endpoint_urls(b, urls, sizeof urls);
        int builtin = strcmp(backend, "dmr") == 0;
        snprintf(hint, CLI_HINT_SIZE,
                 "no Docker Model Runner answers at %s: enable host TCP access with `docker "
                 "desktop enable model-runner --tcp 12434`, or %s%s%s",
                 urls,
                 builtin ? "set MODEL_RUNNER_URL to where it listens"
                         : "correct the url of backend \"",
                 builtin ? "" : backend, builtin ? "" : "\" in the configuration file");
        return 1;
    }
    return 0;
}
