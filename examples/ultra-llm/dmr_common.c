/* dmr_common.c - what the Docker Model Runner commands share: the runner and model an operand names, and their failures. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The type of backend name in the described configuration, or NULL. */
static const char *backend_type(const json_t *described, const char *name, size_t name_length)
{
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(described, "backends"), i, b) {
        const char *n = json_string_value(json_object_get(b, "name"));
        if (n && strlen(n) == name_length && strncmp(n, name, name_length) == 0)
            return json_string_value(json_object_get(b, "type"));
    }
    return NULL;
}

int cli_runner_target(ulm_client *client, const char *backend_flag, const char *operand,
                      cli_runner_target_t *out)
{
    memset(out, 0, sizeof *out);
    out->model = operand;
    if (backend_flag) {
        snprintf(out->name, sizeof out->name, "%s", backend_flag);
        out->backend = out->name;
        return 0;
    }
    snprintf(out->name, sizeof out->name, "dmr");
    const char *slash = operand ? strchr(operand, '/') : NULL;
    if (!slash || (size_t)(slash - operand) >= sizeof out->name)
        return 0;
    /* "dmr/ai/smollm2", as chat's -m takes it: the runner, then the model */
    json_t *described = cli_client_describe(client);
    if (!described) {
        fprintf(stderr, "ultra-llm: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    const char *type = backend_type(described, operand, (size_t)(slash - operand));
    if (type && strcmp(type, "dmr") == 0) {
        snprintf(out->name, sizeof out->name, "%.*s", (int)(slash - operand), operand);
        out->backend = out->name;
        out->model = slash + 1;
    }
    json_decref(described);
    return 0;
}

int cli_runner_failure(ulm_client *client, const cli_runner_target_t *target, int rc,
                       const char *message, int pull_fixes)
{
    fprintf(stderr, "ultra-llm: error: %s: %s\n", ulm_error_name(rc),
            *message ? message : ulm_strerror(rc));
    json_t *described = cli_client_describe(client);
    char hint[CLI_HINT_SIZE];
    if (described && rc != ULM_ECANCELLED && (pull_fixes || rc != ULM_EMODEL_NOT_FOUND) &&
        cli_hint(described, target->name, rc, target->model, NULL, message, hint))
        fprintf(stderr, "ultra-llm: hint: %s\n", hint);
    json_decref(described);
    /* a backend that is not a runner, a name the runner does not take: the command line's
     * mistake */
    return rc == ULM_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
}
