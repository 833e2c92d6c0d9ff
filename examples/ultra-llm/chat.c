/* chat.c - `ultra-llm chat`: one prompt to a model or a fallback chain, printed or streamed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_STREAM = CLI_OPT_OWN
};

static int print_delta(const char *text, size_t length, void *payload)
{
    (void)payload;
    fwrite(text, 1, length, stdout);
    return fflush(stdout) == 0 ? 0 : 1; /* a closed pipe ends the call */
}

static int take_stream(int val, const char *arg, void *ctx)
{
    (void)val, (void)arg;
    *(int *)ctx = 1;
    return 1;
}

/* A call that failed before anything was sent, on a model string no backend takes: the
 * command line's mistake, not a backend's. */
static int refused_before_sending(const ulm_response *resp, int rc)
{
    return rc == ULM_EINVAL && resp && ulm_response_attempt_count(resp) == 0;
}

/*
 * Sends req and prints the answer (or streams it, then ends its line) and any failure;
 * the exit code. A Ctrl-C during the call ends it: what arrived is printed, marked
 * incomplete, and the exit code is 130.
 */
static int send_and_print(ulm_client *client, ulm_request *req, int json, int stream)
{
    ulm_cancel *interrupt = NULL;
    if (cli_interrupt_catch(&interrupt) != 0)
        return CLI_EXIT_FAILED;
    ulm_request_set_cancel(req, interrupt);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, client, req);
    ulm_request_set_cancel(req, NULL);
    int interrupted = cli_interrupt_release(interrupt) && rc == ULM_ECANCELLED;

    if (refused_before_sending(resp, rc)) {
        fprintf(stderr, "ultra-llm: %s\n", ulm_response_error_message(resp));
        ulm_response_free(resp);
        return CLI_EXIT_USAGE;
    }
    if (stream && resp && ulm_response_text_length(resp))
        fputc('\n', stdout); /* end the streamed line before any error */
    if (json && resp) {
        json_t *o = cli_response_json(resp);
        if (interrupted) /* whatever arrived, the answer was not finished */
            json_object_set_new(o, "incomplete", json_true());
        cli_json_print(o, stream);
    } else if (rc == ULM_OK && !stream) {
        printf("%s\n", ulm_response_text(resp));
    }
    fflush(stdout);
    if (rc != ULM_OK)
        cli_report_failure(client, resp, rc);
    ulm_response_free(resp);
    return rc == ULM_OK ? 0 : interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_FAILED;
}

static int run_chat(const cli_command *self, int argc, char **argv)
{
    static const struct option own_options[] = {
        {"stream", no_argument, NULL, OPT_STREAM},
        {NULL, 0, NULL, 0},
    };
    int stream = 0;
    const cli_own_options own = {own_options, take_stream, &stream};
    cli_options o;
    int code = cli_parse(self,
                         CLI_OPT_CONFIG | CLI_OPT_JSON | CLI_OPT_MODEL | CLI_OPT_SAMPLING |
                             CLI_OPT_CLOCKS | CLI_OPT_METRICS,
                         &own, argc, argv, &o);
    char *prompt = NULL;
    ulm_request *req = NULL;
    ulm_client *client = NULL;
    if (code != CLI_CONTINUE)
        goto out;
    if (o.operands + 1 != argc) {
        code = cli_usage_error(self, o.operands == argc
                                         ? "a PROMPT is needed (- reads it from standard input)"
                                         : "one PROMPT only: quote a prompt of several words");
        goto out;
    }
    if ((code = cli_prompt_read(argv[o.operands], &prompt)) != 0 ||
        (code = cli_request_new(&o, o.models, o.model_count, &req)) != 0)
        goto out;
    if (stream)
        ulm_request_set_on_delta(req, print_delta, NULL);
    if (ulm_request_add_message(req, ULM_ROLE_USER, prompt) != ULM_OK) {
        fprintf(stderr, "ultra-llm: the prompt and system text must be UTF-8 text\n");
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if ((code = cli_client_open(o.config, &client)) != 0)
        goto out;
    code = send_and_print(client, req, o.json, stream);
    if (o.metrics && cli_metrics_write(client, o.metrics) != 0 && code == 0)
        code = CLI_EXIT_FAILED;
out:
    free(prompt);
    ulm_client_free(client);
    ulm_request_free(req);
    cli_options_free(&o);
    return code;
}

const cli_command cli_chat_command = {
    "chat",
    "ultra-llm chat [--config FILE] [-m MODEL]... [--system TEXT] [--max-tokens N]\n"
    "                      [--temperature T] [--stream] [--json] [--metrics FILE]\n"
    "                      [--connect-timeout-ms MS] [--load-timeout-ms MS]\n"
    "                      [--first-token-timeout-ms MS] [--idle-timeout-ms MS]\n"
    "                      [--timeout-ms MS] PROMPT",
    "Sends PROMPT to MODEL and prints the answer.\n"
    "\n"
    "MODEL is dmr/<name>, openai/<name>, anthropic/<name>, gemini/<name>, <backend>/<name>\n"
    "for a backend of the configuration file, an alias from that file, or a local model\n"
    "listed in AVAILABLE_LOCAL_MODELS; several -m form a fallback chain, tried in order.\n"
    "Without -m: the default model (the file's default_model, else DEFAULT_LOCAL_MODEL).\n"
    "PROMPT - reads the prompt from standard input; an empty prompt is refused.\n"
    "--config FILE is the JSON configuration file (same as ULM_CONFIG; docs/config.md).\n"
    "--json prints the answer, who gave it, its timings, retries and cost, and every\n"
    "attempt as one JSON object.\n"
    "--metrics FILE writes the run's metrics there (docs/metrics.md): JSON when FILE ends\n"
    "in .json, else Prometheus text.\n"
    "--stream prints the answer as it arrives; with --json, the JSON object follows it on\n"
    "one line. Ctrl-C stops the call and prints what arrived, marked incomplete.\n"
    "--system TEXT comes before the prompt; --max-tokens N (>= 1) and --temperature T\n"
    "(0 to 2) are sent only when given.\n"
    "The clocks, MS in milliseconds from 1 to 86400000: --connect-timeout-ms,\n"
    "--load-timeout-ms (a local model's load budget), --first-token-timeout-ms,\n"
    "--idle-timeout-ms, --timeout-ms (the whole call, fallbacks included). A local model\n"
    "that sends nothing is waited for its load budget plus the first-token timeout\n"
    "(docs/streaming.md).\n"
    "ULM_LOG=debug (or info, warn, error, none) prints diagnostics on stderr;\n"
    "ULM_LOG_FORMAT=json prints them as JSON lines.\n"
    "Exits 0; 1 when the call failed; 2 for a usage error (nothing was sent); 130 after\n"
    "Ctrl-C.\n",
    run_chat,
};
