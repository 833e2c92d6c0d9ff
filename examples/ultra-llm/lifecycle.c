/* lifecycle.c - `ultra-llm ps`, `unload`, `rm` and `preload`: Docker Model Runner's loaded and pulled models managed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_BACKEND = CLI_OPT_OWN,
    OPT_ALL,
    OPT_FORCE,
    OPT_CONTEXT_SIZE,
    OPT_KEEP_ALIVE
};

/* The own options of these commands, as given. */
typedef struct lifecycle_options {
    const char *backend;
    int all;
    int force;
    int has_context_size;
    long context_size;
    const char *keep_alive;
} lifecycle_options;

static int take_lifecycle(int val, const char *arg, void *ctx)
{
    lifecycle_options *l = ctx;
    double number;
    switch (val) {
    case OPT_BACKEND:
        l->backend = arg;
        return 1;
    case OPT_ALL:
        l->all = 1;
        return 1;
    case OPT_FORCE:
        l->force = 1;
        return 1;
    case OPT_CONTEXT_SIZE:
        if (!cli_parse_number(arg, "--context-size", &number))
            return 0;
        if (number != (long)number || number < -1 || number > 1e9) {
            fprintf(stderr, "ultra-llm: --context-size: expected a whole number of tokens "
                            "(0: the model's own, -1: unlimited)\n");
            return 0;
        }
        l->has_context_size = 1;
        l->context_size = (long)number;
        return 1;
    case OPT_KEEP_ALIVE:
        l->keep_alive = arg;
        return 1;
    default:
        return 0;
    }
}

static const struct option backend_option = {"backend", required_argument, NULL, OPT_BACKEND};

/*
 * Reads the command line (own: the options past --backend, zero-terminated), checks that
 * it has from min to max operands, and opens the client. CLI_CONTINUE, or the exit code.
 */
static int begin(const cli_command *self, unsigned int groups, const struct option *own_extra,
                 int argc, char **argv, size_t min, size_t max, const char *operands_wrong,
                 cli_options *o, lifecycle_options *l, ulm_client **client)
{
    struct option table[4] = {backend_option}; /* --backend, at most two more, the end */
    for (size_t i = 0; own_extra && own_extra[i].name; i++)
        table[i + 1] = own_extra[i];
    memset(l, 0, sizeof *l);
    const cli_own_options own = {table, take_lifecycle, l};
    *client = NULL;
    int code = cli_parse(self, groups, &own, argc, argv, o);
    if (code != CLI_CONTINUE)
        return code;
    size_t count = (size_t)(argc - o->operands);
    if (count < min || count > max)
        return cli_usage_error(self, operands_wrong);
    code = cli_client_open(o->config, client);
    return code ? code : CLI_CONTINUE;
}

/* The runners as one JSON object. */
static json_t *runners_json(const char *backend, const ulm_dmr_runners *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < ulm_dmr_runners_count(r); i++) {
        const char *last_used = ulm_dmr_runners_last_used(r, i);
        const char *keep_alive = ulm_dmr_runners_keep_alive(r, i);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:o}", "model",
                            ulm_dmr_runners_model(r, i), "engine", ulm_dmr_runners_engine(r, i),
                            "mode", ulm_dmr_runners_mode(r, i), "in_use",
                            ulm_dmr_runners_in_use(r, i), "loading", ulm_dmr_runners_loading(r, i),
                            "last_used", cli_json_string_if(*last_used != '\0', last_used),
                            "keep_alive", cli_json_string_if(*keep_alive != '\0', keep_alive)));
    }
    return json_pack("{s:s, s:o}", "backend", backend, "runners", list);
}

static void print_runners_text(const ulm_dmr_runners *r)
{
    if (ulm_dmr_runners_count(r) == 0) {
        printf("no model is loaded\n");
        return;
    }
    printf("%-32s %-10s %-11s %-8s %-26s %s\n", "MODEL", "ENGINE", "MODE", "STATE", "LAST USED",
           "KEEP ALIVE");
    for (size_t i = 0; i < ulm_dmr_runners_count(r); i++) {
        const char *keep_alive = ulm_dmr_runners_keep_alive(r, i);
        const char *last_used = ulm_dmr_runners_last_used(r, i);
        printf("%-32s %-10s %-11s %-8s %-26s %s\n", ulm_dmr_runners_model(r, i),
               ulm_dmr_runners_engine(r, i), ulm_dmr_runners_mode(r, i),
               ulm_dmr_runners_loading(r, i)  ? "loading"
               : ulm_dmr_runners_in_use(r, i) ? "in use"
                                              : "idle",
               *last_used ? last_used : "-", *keep_alive ? keep_alive : "default (5m)");
    }
}

static int run_ps(const cli_command *self, int argc, char **argv)
{
    cli_options o;
    lifecycle_options l;
    ulm_client *client;
    int code = begin(self, CLI_OPT_CONFIG | CLI_OPT_JSON, NULL, argc, argv, 0, 0,
                     "it takes no operand", &o, &l, &client);
    if (code == CLI_CONTINUE) {
        cli_runner_target_t target;
        ulm_dmr_runners *runners = NULL;
        char err[ULM_ERROR_SIZE];
        int rc = ULM_OK;
        if ((code = cli_runner_target(client, l.backend, NULL, &target)) == 0 &&
            (rc = ulm_dmr_ps(&runners, client, target.backend, err, sizeof err)) != ULM_OK)
            code = cli_runner_failure(client, &target, rc, err, 0);
        else if (code == 0 && o.json)
            cli_json_print(runners_json(target.name, runners), 0);
        else if (code == 0)
            print_runners_text(runners);
        ulm_dmr_runners_free(runners);
    }
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

static int run_unload(const cli_command *self, int argc, char **argv)
{
    static const struct option extra[] = {{"all", no_argument, NULL, OPT_ALL}, {NULL, 0, NULL, 0}};
    cli_options o;
    lifecycle_options l;
    ulm_client *client;
    int code = begin(self, CLI_OPT_CONFIG, extra, argc, argv, 0, 1, "one MODEL, or --all", &o, &l,
                     &client);
    if (code == CLI_CONTINUE && l.all == (o.operands < argc))
        code = cli_usage_error(self, l.all ? "a MODEL or --all, not both" : "a MODEL or --all");
    if (code == CLI_CONTINUE) {
        cli_runner_target_t target;
        const char *operand = l.all ? NULL : argv[o.operands];
        char err[ULM_ERROR_SIZE];
        long unloaded = 0;
        int rc = ULM_OK;
        if ((code = cli_runner_target(client, l.backend, operand, &target)) == 0 &&
            (rc = ulm_dmr_unload(client, target.backend, target.model, &unloaded, err,
                                 sizeof err)) != ULM_OK)
            code = cli_runner_failure(client, &target, rc, err, 0);
        else if (code == 0)
            printf("unloaded %ld runner%s%s%s\n", unloaded, unloaded == 1 ? "" : "s",
                   operand ? " of " : "", operand ? target.model : "");
    }
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

static int run_rm(const cli_command *self, int argc, char **argv)
{
    static const struct option extra[] = {{"force", no_argument, NULL, OPT_FORCE},
                                          {NULL, 0, NULL, 0}};
    cli_options o;
    lifecycle_options l;
    ulm_client *client;
    int code = begin(self, CLI_OPT_CONFIG, extra, argc, argv, 1, 1, "one MODEL is needed", &o, &l,
                     &client);
    if (code == CLI_CONTINUE) {
        cli_runner_target_t target;
        char err[ULM_ERROR_SIZE];
        int rc = ULM_OK;
        if ((code = cli_runner_target(client, l.backend, argv[o.operands], &target)) == 0 &&
            (rc = ulm_dmr_remove(client, target.backend, target.model, l.force, err, sizeof err)) !=
                ULM_OK)
            code = cli_runner_failure(client, &target, rc, err, 0);
        else if (code == 0)
            printf("removed %s\n", target.model);
    }
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

static int run_preload(const cli_command *self, int argc, char **argv)
{
    static const struct option extra[] = {{"context-size", required_argument, NULL,
                                           OPT_CONTEXT_SIZE},
                                          {"keep-alive", required_argument, NULL, OPT_KEEP_ALIVE},
                                          {NULL, 0, NULL, 0}};
    cli_options o;
    lifecycle_options l;
    ulm_client *client;
    int code = begin(self, CLI_OPT_CONFIG, extra, argc, argv, 1, 1, "one MODEL is needed", &o, &l,
                     &client);
    if (code == CLI_CONTINUE) {
        cli_runner_target_t target;
        char err[ULM_ERROR_SIZE];
        int rc = ULM_OK;
        if ((code = cli_runner_target(client, l.backend, argv[o.operands], &target)) == 0 &&
            (rc = ulm_dmr_preload(client, target.backend, target.model,
                                  l.has_context_size ? l.context_size : 0, l.keep_alive, err,
                                  sizeof err)) != ULM_OK)
            code = cli_runner_failure(client, &target, rc, err, 1);
        else if (code == 0)
            printf("loaded %s\n", target.model);
    }
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

const cli_command cli_ps_command = {
    "ps",
    "ultra-llm ps [--config FILE] [--backend NAME] [--json]",
    "Lists the models Docker Model Runner has loaded or is loading: engine, mode\n"
    "(completion, embedding...), state (loading, in use, idle), when last used, and how long\n"
    "an idle one stays loaded. --json prints {\"backend\", \"runners\": [{\"model\", \"engine\",\n"
    "\"mode\", \"in_use\", \"loading\", \"last_used\", \"keep_alive\"}]}.\n" CLI_BACKEND_HELP
    "Exits 0; 1 when the runner did not answer; 2 for a usage error.\n",
    run_ps,
};

const cli_command cli_unload_command = {
    "unload",
    "ultra-llm unload [--config FILE] [--backend NAME] MODEL | --all",
    "Unloads MODEL's idle runners, or with --all every idle runner, freeing their memory;\n"
    "a runner serving a request stays. Prints how many went.\n" CLI_BACKEND_HELP
    "Exits 0; 1 when the runner did not answer; 2 for a usage error.\n",
    run_unload,
};

const cli_command cli_rm_command = {
    "rm",
    "ultra-llm rm [--config FILE] [--backend NAME] [--force] MODEL",
    "Removes a pulled MODEL from Docker Model Runner (--force: also a model named by an ID\n"
    "that has several tags).\n" CLI_BACKEND_HELP
    "Exits 0; 1 when it failed (model_not_found: it is not pulled); 2 for a usage error.\n",
    run_rm,
};

const cli_command cli_preload_command = {
    "preload",
    "ultra-llm preload [--config FILE] [--backend NAME] [--context-size N]\n"
    "                         [--keep-alive D] MODEL",
    "Loads MODEL now, so that the first request does not wait for it, and returns once it\n"
    "is loaded. --context-size N sets its context window in tokens (0: the model's own,\n"
    "-1: unlimited); --keep-alive D how long it stays loaded when idle (10m, 1h, 0, -1:\n"
    "forever; default: the runner's 5 minutes).\n" CLI_BACKEND_HELP
    "Exits 0; 1 when it failed to load; 2 for a usage error.\n",
    run_preload,
};
