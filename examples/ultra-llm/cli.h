/* cli.h - what the commands of the ultra-llm program share: exit codes, options, client, output. */
#ifndef ULTRA_LLM_CLI_H
#define ULTRA_LLM_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>

#include <ultrallm/ultrallm.h>

/* Exit codes: a call that failed, a mistake in the command line (nothing was sent), and
 * a call stopped by Ctrl-C (128 + SIGINT, as a shell reports a program Ctrl-C killed). */
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INTERRUPTED 130

/* One subcommand: `ultra-llm NAME ...`. A new command is a file that defines one of these
 * and a line in main.c's table. */
typedef struct cli_command {
    const char *name;
    const char *synopsis; /* its usage line(s), without "usage: " */
    const char *help;     /* what --help prints after the synopsis */
    int (*run)(const struct cli_command *self, int argc, char **argv); /* the exit code */
} cli_command;

/* ------------------------------------------------------------ options.c */

/* The groups of shared options a command accepts; --help is always accepted. */
#define CLI_OPT_CONFIG 0x01u   /* --config FILE */
#define CLI_OPT_JSON 0x02u     /* --json */
#define CLI_OPT_MODEL 0x04u    /* -m/--model MODEL, repeatable */
#define CLI_OPT_SAMPLING 0x08u /* --system TEXT, --max-tokens N, --temperature T */
#define CLI_OPT_CLOCKS 0x10u   /* --connect-timeout-ms ... --timeout-ms */
#define CLI_OPT_METRICS 0x20u  /* --metrics FILE */

/* getopt_long values of a command's own options start here. */
#define CLI_OPT_OWN 512

/* cli_parse() returns this when the command should go on; anything else is an exit code. */
#define CLI_CONTINUE (-1)

/* A command's own options, and what to do with each. */
typedef struct cli_own_options {
    const struct option *options; /* ends with a zeroed entry; val >= CLI_OPT_OWN */
    /* Takes one of them (arg NULL for a flag); 1, or 0 after printing why it is wrong. */
    int (*take)(int val, const char *arg, void *ctx);
    void *ctx;
} cli_own_options;

/* What the shared options said; each was checked against the library's ranges. */
typedef struct cli_options {
    const char *config;  /* --config, or NULL */
    int json;            /* --json */
    const char **models; /* each -m as written, in order */
    size_t model_count;
    const char *system; /* --system, or NULL */
    int has_max_tokens;
    long max_tokens;
    int has_temperature;
    double temperature;
    long clocks[ULM_CLOCK_OVERALL + 1]; /* by ulm_clock; 0: not set */
    const char *metrics;                /* --metrics, or NULL */
    int operands;                       /* argv index of the first operand */
} cli_options;

/*
 * Reads argv (argv[0] is the command's name) for the shared options of groups and the
 * command's own (own may be NULL). CLI_CONTINUE, or the exit code when the command is
 * done: 0 after --help, CLI_EXIT_USAGE after printing what was wrong.
 */
int cli_parse(const cli_command *cmd, unsigned int groups, const cli_own_options *own, int argc,
              char **argv, cli_options *out);
void cli_options_free(cli_options *o);

/* Parses a number for flag; 0 after printing why it is not one. */
int cli_parse_number(const char *text, const char *flag, double *out);

/*
 * A request carrying models (model_count of them, a fallback chain), the sampling
 * parameters, clocks and system text of o; the caller adds the user's message. 0, or an
 * exit code after printing why.
 */
int cli_request_new(const cli_options *o, const char *const *models, size_t model_count,
                    ulm_request **out);

/* Prints cmd's synopsis and help on stdout (--help). */
void cli_print_help(const cli_command *cmd);

/* Prints what was wrong with cmd's operands and its synopsis on stderr; CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *what);

/* ------------------------------------------------------------ client.c */

/* Opens a client on config_path (NULL: ULM_CONFIG, else none), logging to stderr at the
 * level ULM_LOG names. 0, or an exit code after printing why (CLI_EXIT_USAGE for a level
 * ULM_LOG does not name). */
int cli_client_open(const char *config_path, ulm_client **out);

/* The client's effective configuration, parsed from ulm_client_describe(); NULL without
 * memory. */
json_t *cli_client_describe(ulm_client *client);

/* ------------------------------------------------------------ metrics_out.c */

/* Writes the client's metrics to path (--metrics): JSON when the name ends in ".json",
 * else Prometheus text. 0, or CLI_EXIT_FAILED after printing why. */
int cli_metrics_write(ulm_client *client, const char *path);

/* ------------------------------------------------------------ prompt.c */

/* The prompt an operand names: the text itself, or standard input for "-". *out is
 * malloc'ed. 0, or CLI_EXIT_USAGE after printing why (an empty or blank prompt, a
 * prompt on standard input over 10 MiB, invalid UTF-8 and the offset of its first byte). */
int cli_prompt_read(const char *operand, char **out);

/* 0 when text is well-formed UTF-8, else CLI_EXIT_USAGE after naming what (the "prompt",
 * the "system text") and the offset of the first bad byte. */
int cli_text_check(const char *what, const char *text);

/* ------------------------------------------------------------ json_out.c */

/* Prints value on stdout (indented, or on one line) with a newline, and releases it. */
void cli_json_print(json_t *value, int one_line);
/* ulm_error_name(code) as a JSON string; null for ULM_OK. */
json_t *cli_json_error_name(int code);
/* text as a JSON string when present is non-zero, else null. */
json_t *cli_json_string_if(int present, const char *text);
/* Milliseconds rounded to 0.1. */
json_t *cli_json_ms(double ms);
/* Milliseconds (or any figure) rounded to 0.1; null for -1, unknown. */
json_t *cli_json_ms_if_known(double ms);
/* A cost; null for -1, unknown (never 0). */
json_t *cli_json_cost(double cost);
/* An HTTP status; null for 0, when no status was received. */
json_t *cli_json_http_status(int status);
/* The whole response: text, finish reason, who answered, usage, latency and the other
 * timings, tokens per second, retries, cost, attempts, error. */
json_t *cli_response_json(const ulm_response *r);

/* ------------------------------------------------------------ interrupt.c */

/*
 * Catches Ctrl-C until cli_interrupt_release(): *token (the caller hands it to the call)
 * is triggered by the first Ctrl-C; a second one ends the program. SIGINT stays ignored
 * where it was. 0, or an exit code after printing why.
 */
int cli_interrupt_catch(ulm_cancel **token);
/* Restores what Ctrl-C did before and frees token (NULL is allowed); non-zero when
 * Ctrl-C triggered it. */
int cli_interrupt_release(ulm_cancel *token);

/* ------------------------------------------------------------ report.c */

/* The one stderr line of a failed call (r may be NULL when memory ran out), then a line
 * on how to fix each failure that has a known fix (hints.c). */
void cli_report_failure(ulm_client *client, const ulm_response *r, int rc);
/* Only the lines on how to fix r's failures (a round's member, whose error is said
 * elsewhere). */
void cli_report_hints(ulm_client *client, const ulm_response *r);

/* ------------------------------------------------------------ hints.c */

/* Longest hint, with its NUL. */
#define CLI_HINT_SIZE 512

/*
 * How to fix a failure of class error at backend (model: the model asked, or NULL; url:
 * where, or NULL for the backend's endpoints in described; message: the failure's own
 * message, or NULL), written into hint; 0 when there is no known fix, or when message
 * already says it. described is cli_client_describe()'s configuration.
 */
int cli_hint(const json_t *described, const char *backend, int error, const char *model,
             const char *url, const char *message, char hint[CLI_HINT_SIZE]);

/* ------------------------------------------------------------ dmr_common.c */

/* The Docker Model Runner and model a lifecycle command acts on. */
typedef struct cli_runner_target_t {
    const char *backend; /* for ulm_dmr_*(): NULL is the local runner */
    char name[128];      /* the backend's name, "dmr" for the local runner */
    const char *model;   /* the model as the runner is to take it */
} cli_runner_target_t;

/*
 * Which runner and model a command means: --backend NAME (backend_flag, or NULL) and the
 * model operand as written, or an operand "NAME/model" whose NAME is a Docker Model Runner
 * backend of the configuration ("dmr/ai/smollm2", as chat's -m is written). operand may
 * be NULL (unload --all). 0, or an exit code after printing why.
 */
int cli_runner_target(ulm_client *client, const char *backend_flag, const char *operand,
                      cli_runner_target_t *out);

/* What --help says of --backend. */
#define CLI_BACKEND_HELP                                                                  \
    "--backend NAME is a Docker Model Runner backend of the configuration file (or one\n" \
    "Docker Compose declared); the default is the local runner, dmr (MODEL_RUNNER_URL).\n"

/* Prints a lifecycle call's failure (rc and its message from errbuf) and how to fix it
 * when that is known (pull_fixes: pulling the model would fix a model_not_found); the exit
 * code (CLI_EXIT_USAGE for ULM_EINVAL: a backend or name the runner does not take). */
int cli_runner_failure(ulm_client *client, const cli_runner_target_t *target, int rc,
                       const char *message, int pull_fixes);

/* ------------------------------------------------------------ the commands (main.c's table) */

extern const cli_command cli_chat_command;
extern const cli_command cli_models_command;
extern const cli_command cli_doctor_command;
extern const cli_command cli_compare_command;
extern const cli_command cli_embed_command;
extern const cli_command cli_pull_command;
extern const cli_command cli_ps_command;
extern const cli_command cli_unload_command;
extern const cli_command cli_rm_command;
extern const cli_command cli_preload_command;

#endif /* ULTRA_LLM_CLI_H */
