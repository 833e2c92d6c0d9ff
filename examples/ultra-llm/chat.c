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

/* Sends req and prints the answer (or streams it, then ends its line) and any failure. */
static int send_and_print(ulm_client *client, const ulm_request *req, int json, int stream)
{
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, client, req);
    if (stream && resp && ulm_response_text_length(resp))
        fputc('\n', stdout), fflush(stdout); /* end the streamed line before any error */
    if (json && resp)
        cli_json_print(cli_response_json(resp), stream);
    else if (rc == ULM_OK && !stream)
        printf("%s\n", ulm_response_text(resp));
    if (rc != ULM_OK)
        cli_report_failure(resp, rc);
    ulm_response_free(resp);
    return rc == ULM_OK ? 0 : CLI_EXIT_FAILED;
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
                             CLI_OPT_CLOCKS,
                         &own, argc, argv, &o);
    char *prompt = NULL;
    ulm_request *req = NULL;
    ulm_client *client = NULL;
    if (code != CLI_CONTINUE)
        goto out;
    if (o.operands + 1 != argc) {
        code = cli_usage_error(self);
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
    "                      [--temperature T] [--stream] [--json] [CLOCKS] PROMPT",
    "Sends PROMPT to MODEL and prints the answer.\n"
    "\n"
    "MODEL is dmr/<name>, openai/<name>, anthropic/<name>, gemini/<name>, <backend>/<name>\n"
    "for a backend of the configuration file, an alias from that file, or a local model\n"
    "listed in AVAILABLE_LOCAL_MODELS; several -m form a fallback chain, tried in order.\n"
    "Without -m: the default model.\n"
    "PROMPT - reads the prompt from standard input.\n"
    "--config FILE is the JSON configuration file (same as ULM_CONFIG; docs/config.md).\n"
    "--stream prints the answer as it arrives; with --json, the JSON object follows it on\n"
    "one line. --json prints the answer, who gave it and every attempt as one JSON object.\n"
    "CLOCKS, in milliseconds: --connect-timeout-ms, --load-timeout-ms (a local model's load\n"
    "budget), --first-token-timeout-ms, --idle-timeout-ms, --timeout-ms (the whole call,\n"
    "fallbacks included).\n"
    "ULM_LOG=debug prints diagnostics. Exits 0, 1 when the call failed, 2 for a usage error.\n",
    run_chat,
};
