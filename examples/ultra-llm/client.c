/* client.c - opening the library's client for a command: the configuration file and ULM_LOG. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "cli.h"

static const char *const level_names[] = {"none", "error", "warn", "info", "debug"};

static void log_to_stderr(int level, const char *message, void *payload)
{
    (void)payload;
    fprintf(stderr, "ultra-llm: %s: %s\n",
            level_names[level > 0 && level <= ULM_LOG_DEBUG ? level : 0], message);
}

/* The level ULM_LOG names (unset or empty: none); -1 after saying it names none. */
static int log_level_from_env(void)
{
    const char *v = getenv("ULM_LOG");
    if (!v || !*v)
        return ULM_LOG_NONE;
    for (int i = 0; i <= ULM_LOG_DEBUG; i++)
        if (strcasecmp(v, level_names[i]) == 0)
            return i;
    fprintf(stderr,
            "ultra-llm: ULM_LOG: unknown level \"%.32s\"; the levels are none, error, "
            "warn, info and debug\n",
            v);
    return -1;
}

int cli_client_open(const char *config_path, ulm_client **out)
{
    *out = NULL;
    int level = log_level_from_env();
    if (level < 0)
        return CLI_EXIT_USAGE;
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.config_path = config_path;
    opts.log_level = level;
    opts.log_fn = level ? log_to_stderr : NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(out, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ultra-llm: configuration error: %s\n", err);
        return CLI_EXIT_FAILED;
    }
    return 0;
}

json_t *cli_client_describe(ulm_client *client)
{
    size_t size = 4096;
    for (;;) {
        char *text = malloc(size);
        if (!text)
            return NULL;
        size_t need = ulm_client_describe(client, text, size);
        if (need < size) {
            json_t *root = json_loads(text, 0, NULL);
            free(text);
            return root;
        }
        free(text);
        size = need + 1;
    }
}
