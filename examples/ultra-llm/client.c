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

/* One JSON object a line on stderr, for a log collector (ULM_LOG_FORMAT=json). */
static void log_json_to_stderr(const ulm_log_event *event, void *payload)
{
    (void)payload;
    char line[ULM_LOG_JSON_SIZE];
    ulm_log_event_json(event, line, sizeof line);
    fputs(line, stderr);
}

/* Whether ULM_LOG_FORMAT asks for JSON lines (1), text (0, also when unset), or names
 * neither (-1, after saying so). */
static int log_json_from_env(void)
{
    const char *v = getenv("ULM_LOG_FORMAT");
    if (!v || !*v || strcasecmp(v, "text") == 0)
        return 0;
    if (strcasecmp(v, "json") == 0)
        return 1;
    fprintf(stderr, "ultra-llm: ULM_LOG_FORMAT: unknown format \"%.32s\"; the formats are text "
                    "and json\n",
            v);
    return -1;
}

int cli_client_open(const char *config_path, ulm_client **out)
{
    *out = NULL;
    int level = log_level_from_env();
    int json = log_json_from_env();
    if (level < 0 || json < 0)
        return CLI_EXIT_USAGE;
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.config_path = config_path;
    opts.log_level = level;
    opts.log_fn = level && !json ? log_to_stderr : NULL;
    opts.log_event_fn = level && json ? log_json_to_stderr : NULL;
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
