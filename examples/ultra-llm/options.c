/* options.c - the option reader every command shares: --config, -m, --json, sampling, clocks, --metrics, --help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* getopt_long values of the shared options; the clocks follow in the order of ulm_clock. */
enum {
    OPT_HELP = 'h',
    OPT_MODEL = 'm',
    OPT_CONFIG = 256,
    OPT_JSON,
    OPT_SYSTEM,
    OPT_MAX_TOKENS,
    OPT_TEMPERATURE,
    OPT_METRICS,
    OPT_CLOCK
};

static const struct shared_option {
    unsigned int group;
    struct option option;
} shared[] = {
    {CLI_OPT_CONFIG, {"config", required_argument, NULL, OPT_CONFIG}},
    {CLI_OPT_MODEL, {"model", required_argument, NULL, OPT_MODEL}},
    {CLI_OPT_JSON, {"json", no_argument, NULL, OPT_JSON}},
    {CLI_OPT_SAMPLING, {"system", required_argument, NULL, OPT_SYSTEM}},
    {CLI_OPT_SAMPLING, {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS}},
    {CLI_OPT_SAMPLING, {"temperature", required_argument, NULL, OPT_TEMPERATURE}},
    {CLI_OPT_METRICS, {"metrics", required_argument, NULL, OPT_METRICS}},
    {CLI_OPT_CLOCKS, {"connect-timeout-ms", required_argument, NULL, OPT_CLOCK + 0}},
    {CLI_OPT_CLOCKS, {"load-timeout-ms", required_argument, NULL, OPT_CLOCK + 1}},
    {CLI_OPT_CLOCKS, {"first-token-timeout-ms", required_argument, NULL, OPT_CLOCK + 2}},
    {CLI_OPT_CLOCKS, {"idle-timeout-ms", required_argument, NULL, OPT_CLOCK + 3}},
    {CLI_OPT_CLOCKS, {"timeout-ms", required_argument, NULL, OPT_CLOCK + 4}},
};
#define SHARED_COUNT (sizeof shared / sizeof shared[0])

int cli_parse_number(const char *text, const char *flag, double *out)
{
    char *end = NULL;
    errno = 0;
    *out = strtod(text, &end);
    if (errno || end == text || *end) {
        fprintf(stderr, "ultra-llm: %s: not a number: %s\n", flag, text);
        return 0;
    }
    return 1;
}

/* The long options of groups and own, then --help and the zeroed end; NULL without memory. */
static struct option *option_table(unsigned int groups, const cli_own_options *own)
{
    size_t own_count = 0;
    while (own && own->options[own_count].name)
        own_count++;
    struct option *table = calloc(SHARED_COUNT + own_count + 2, sizeof *table);
    if (!table)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < SHARED_COUNT; i++)
        if (shared[i].group & groups)
            table[n++] = shared[i].option;
    for (size_t i = 0; i < own_count; i++)
        table[n++] = own->options[i];
    table[n] = (struct option){"help", no_argument, NULL, OPT_HELP};
    return table;
}

static int add_model(cli_options *o, ulm_request *scratch, const char *model)
{
    if (ulm_request_add_model(scratch, model) != ULM_OK) {
        fprintf(stderr, "ultra-llm: -m: not a model list: '%s'\n", model);
        return 0;
    }
    const char **grown = realloc(o->models, (o->model_count + 1) * sizeof *grown);
    if (!grown) {
        fprintf(stderr, "ultra-llm: out of memory\n");
        return 0;
    }
    o->models = grown;
    o->models[o->model_count++] = model;
    return 1;
}

static int set_clock(cli_options *o, ulm_request *scratch, ulm_clock clock, const char *flag,
                     const char *text)
{
    double number;
    if (!cli_parse_number(text, flag, &number))
        return 0;
    if (number != (long)number || ulm_request_set_timeout(scratch, clock, (long)number) != ULM_OK) {
        fprintf(stderr, "ultra-llm: %s: expected whole milliseconds from 1 to 86400000\n", flag);
        return 0;
    }
    o->clocks[clock] = (long)number;
    return 1;
}

/* Takes one shared option; 1, or 0 after printing why it is wrong. scratch is a request
 * that only serves to check values against the library's ranges. */
static int take_shared(cli_options *o, ulm_request *scratch, int opt, const char *name,
                       const char *arg)
{
    double number;
    if (opt >= OPT_CLOCK) {
        char flag[40];
        snprintf(flag, sizeof flag, "--%s", name);
        return set_clock(o, scratch, (ulm_clock)(opt - OPT_CLOCK + ULM_CLOCK_CONNECT), flag, arg);
    }
    switch (opt) {
    case OPT_MODEL:
        return add_model(o, scratch, arg);
    case OPT_CONFIG:
        o->config = arg;
        return 1;
    case OPT_JSON:
        o->json = 1;
        return 1;
    case OPT_SYSTEM:
        o->system = arg;
        return 1;
    case OPT_METRICS:
        o->metrics = arg;
        return 1;
    case OPT_MAX_TOKENS:
        if (!cli_parse_number(arg, "--max-tokens", &number))
            return 0;
        if (number != (long)number || ulm_request_set_max_tokens(scratch, (long)number)) {
            fprintf(stderr, "ultra-llm: --max-tokens: expected a whole number >= 1\n");
            return 0;
        }
        o->has_max_tokens = 1;
        o->max_tokens = (long)number;
        return 1;
    case OPT_TEMPERATURE:
        if (!cli_parse_number(arg, "--temperature", &number))
            return 0;
        if (ulm_request_set_temperature(scratch, number) != ULM_OK) {
            fprintf(stderr, "ultra-llm: --temperature: expected 0 to 2\n");
            return 0;
        }
        o->has_temperature = 1;
        o->temperature = number;
        return 1;
    default:
        return 0; /* getopt_long has said what was wrong */
    }
}

int cli_parse(const cli_command *cmd, unsigned int groups, const cli_own_options *own, int argc,
              char **argv, cli_options *out)
{
    memset(out, 0, sizeof *out);
    struct option *table = option_table(groups, own);
    ulm_request *scratch = NULL;
    if (!table || ulm_request_new(&scratch) != ULM_OK) {
        free(table);
        fprintf(stderr, "ultra-llm: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    /* getopt_long names the program in its messages: "ultra-llm chat", not "chat" */
    char *name = argv[0], program[64];
    snprintf(program, sizeof program, "ultra-llm %s", cmd->name);
    argv[0] = program;
    int code = CLI_CONTINUE, opt, index = 0;
    optind = 1;
    while (code == CLI_CONTINUE &&
           (opt = getopt_long(argc, argv, groups & CLI_OPT_MODEL ? "hm:" : "h", table, &index)) !=
               -1) {
        if (opt == OPT_HELP) {
            cli_print_help(cmd);
            code = 0;
        } else if (opt >= CLI_OPT_OWN
                       ? !own->take(opt, optarg, own->ctx)
                       : !take_shared(out, scratch, opt, table[index].name, optarg)) {
            fprintf(stderr, "ultra-llm %s --help describes its options.\n", cmd->name);
            code = CLI_EXIT_USAGE;
        }
    }
    argv[0] = name;
    out->operands = optind;
    ulm_request_free(scratch);
    free(table);
    return code;
}

void cli_options_free(cli_options *o)
{
    free(o->models);
    o->models = NULL;
    o->model_count = 0;
}

int cli_request_new(const cli_options *o, const char *const *models, size_t model_count,
                    ulm_request **out)
{
    ulm_request *req = NULL;
    if (ulm_request_new(&req) != ULM_OK) {
        fprintf(stderr, "ultra-llm: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < model_count; i++)
        rc = ulm_request_add_model(req, models[i]);
    if (rc == ULM_OK && o->has_max_tokens)
        rc = ulm_request_set_max_tokens(req, o->max_tokens);
    if (rc == ULM_OK && o->has_temperature)
        rc = ulm_request_set_temperature(req, o->temperature);
    for (int clock = ULM_CLOCK_CONNECT; rc == ULM_OK && clock <= ULM_CLOCK_OVERALL; clock++)
        if (o->clocks[clock])
            rc = ulm_request_set_timeout(req, (ulm_clock)clock, o->clocks[clock]);
    if (rc == ULM_OK && o->system) {
        if (cli_text_check("system text", o->system) != 0) {
            ulm_request_free(req);
            return CLI_EXIT_USAGE;
        }
        rc = ulm_request_add_message(req, ULM_ROLE_SYSTEM, o->system);
        if (rc == ULM_EINVAL) {
            fprintf(stderr, "ultra-llm: the prompt and system text must be UTF-8 text\n");
            ulm_request_free(req);
            return CLI_EXIT_USAGE;
        }
    }
    if (rc != ULM_OK) { /* every value was checked by cli_parse(): only memory is left */
        fprintf(stderr, "ultra-llm: %s\n", ulm_strerror(rc));
        ulm_request_free(req);
        return CLI_EXIT_FAILED;
    }
    *out = req;
    return 0;
}

void cli_print_help(const cli_command *cmd)
{
    printf("usage: %s\n\n%s", cmd->synopsis, cmd->help);
}

int cli_usage_error(const cli_command *cmd, const char *what)
{
    fprintf(stderr, "ultra-llm %s: %s\nusage: %s\n", cmd->name, what, cmd->synopsis);
    return CLI_EXIT_USAGE;
}
