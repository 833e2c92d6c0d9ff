/* embed.c - `ultra-llm embed`: texts turned into vectors by a model or a fallback chain. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* The vectors and who made them: provider, model, dimensions, embeddings, usage,
 * latency_ms, attempts, and error when the call failed. */
static json_t *embedding_json(const ulm_response *r)
{
    json_t *vectors = json_array();
    for (size_t i = 0; i < ulm_response_embedding_count(r); i++) {
        const float *v = ulm_response_embedding(r, i);
        json_t *vector = json_array();
        for (size_t d = 0; d < ulm_response_dimensions(r); d++)
            json_array_append_new(vector, json_real(v[d]));
        json_array_append_new(vectors, vector);
    }
    json_t *whole = cli_response_json(r); /* for its usage, timings and attempts */
    json_t *o = json_pack("{s:s, s:s, s:I, s:o, s:O, s:O, s:O}", "provider",
                          ulm_response_provider(r), "model", ulm_response_model(r), "dimensions",
                          (json_int_t)ulm_response_dimensions(r), "embeddings", vectors, "usage",
                          json_object_get(whole, "usage"), "latency_ms",
                          json_object_get(whole, "latency_ms"), "attempts",
                          json_object_get(whole, "attempts"));
    json_t *error = json_object_get(whole, "error");
    if (error)
        json_object_set(o, "error", error);
    json_decref(whole);
    return o;
}

/* One line per input: its vector, numbers separated by spaces. */
static void print_vectors(const ulm_response *r)
{
    for (size_t i = 0; i < ulm_response_embedding_count(r); i++) {
        const float *v = ulm_response_embedding(r, i);
        for (size_t d = 0; d < ulm_response_dimensions(r); d++)
            printf("%s%.9g", d ? " " : "", (double)v[d]);
        putchar('\n');
    }
}

static int run_embed(const cli_command *self, int argc, char **argv)
{
    cli_options o;
    int code = cli_parse(self,
                         CLI_OPT_CONFIG | CLI_OPT_JSON | CLI_OPT_MODEL | CLI_OPT_CLOCKS |
                             CLI_OPT_METRICS,
                         NULL, argc, argv, &o);
    ulm_request *req = NULL;
    ulm_client *client = NULL;
    if (code != CLI_CONTINUE)
        goto out;
    if (o.operands == argc) {
        code = cli_usage_error(self, "a TEXT is needed (- reads one from standard input)");
        goto out;
    }
    if ((code = cli_request_new(&o, o.models, o.model_count, &req)) != 0)
        goto out;
    for (int i = o.operands; i < argc; i++) {
        char *text = NULL;
        if ((code = cli_prompt_read(argv[i], &text)) != 0)
            goto out;
        int rc = ulm_request_add_input(req, text);
        free(text);
        if (rc != ULM_OK) {
            fprintf(stderr, "ultra-llm: each TEXT must be UTF-8 text\n");
            code = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if ((code = cli_client_open(o.config, &client)) != 0)
        goto out;
    ulm_cancel *interrupt = NULL;
    if ((code = cli_interrupt_catch(&interrupt)) != 0)
        goto out;
    ulm_request_set_cancel(req, interrupt);
    ulm_response *resp = NULL;
    int rc = ulm_embed(&resp, client, req);
    ulm_request_set_cancel(req, NULL);
    int interrupted = cli_interrupt_release(interrupt) && rc == ULM_ECANCELLED;
    if (rc == ULM_EINVAL && resp && ulm_response_attempt_count(resp) == 0) {
        /* refused before sending: a model string no backend takes */
        fprintf(stderr, "ultra-llm: %s\n", ulm_response_error_message(resp));
        code = CLI_EXIT_USAGE;
    } else {
        if (o.json && resp)
            cli_json_print(embedding_json(resp), 0);
        else if (rc == ULM_OK)
            print_vectors(resp);
        fflush(stdout);
        if (rc != ULM_OK)
            cli_report_failure(client, resp, rc);
        code = rc == ULM_OK ? 0 : interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_FAILED;
    }
    ulm_response_free(resp);
    if (o.metrics && cli_metrics_write(client, o.metrics) != 0 && code == 0)
        code = CLI_EXIT_FAILED;
out:
    ulm_client_free(client);
    ulm_request_free(req);
    cli_options_free(&o);
    return code;
}

const cli_command cli_embed_command = {
    "embed",
    "ultra-llm embed [--config FILE] [-m MODEL]... [--json] [--metrics FILE]\n"
    "                       [--connect-timeout-ms MS] [--load-timeout-ms MS]\n"
    "                       [--first-token-timeout-ms MS] [--idle-timeout-ms MS]\n"
    "                       [--timeout-ms MS] TEXT...",
    "Turns each TEXT into a vector with MODEL's embeddings (Docker Model Runner, OpenAI,\n"
    "Gemini, an OpenAI-compatible server; Anthropic has none) and prints one line per\n"
    "TEXT: its numbers separated by spaces. TEXT - reads one text from standard input.\n"
    "MODEL is written as for chat; several -m form a fallback chain.\n"
    "--json prints {\"provider\", \"model\", \"dimensions\", \"embeddings\": [[...]], \"usage\",\n"
    "\"latency_ms\", \"attempts\"}, and \"error\" when it failed.\n"
    "The clocks and --metrics FILE are chat's (ultra-llm chat --help). Ctrl-C stops the\n"
    "call.\n"
    "Exits 0; 1 when the call failed; 2 for a usage error (nothing was sent); 130 after\n"
    "Ctrl-C.\n",
    run_embed,
};
