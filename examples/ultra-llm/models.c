/* models.c - `ultra-llm models`: every model each configured backend offers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_models_json(const ulm_model_list *list)
{
    json_t *backends = json_array();
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++) {
        const char *name = ulm_model_list_backend_name(list, b);
        int err = ulm_model_list_backend_error(list, b);
        json_t *models = json_array();
        for (size_t i = 0; i < ulm_model_list_count(list); i++)
            if (strcmp(ulm_model_list_provider(list, i), name) == 0)
                json_array_append_new(models, json_string(ulm_model_list_id(list, i)));
        json_array_append_new(backends,
                              json_pack("{s:s, s:b, s:o, s:o, s:o}", "provider", name, "ok",
                                        err == ULM_OK, "error", cli_json_error_name(err), "message",
                                        cli_json_string_if(err != ULM_OK,
                                                           ulm_model_list_backend_message(list, b)),
                                        "models", models));
    }
    cli_json_print(json_pack("{s:o}", "backends", backends), 0);
}

/* One line per model; on stderr, one per endpoint that did not answer, and a line on how
 * to fix it when the fix is known. */
static void print_models_text(ulm_client *client, const ulm_model_list *list)
{
    for (size_t i = 0; i < ulm_model_list_count(list); i++)
        printf("%s/%s\n", ulm_model_list_provider(list, i), ulm_model_list_id(list, i));
    json_t *described = cli_client_describe(client);
    for (size_t b = 0; b < ulm_model_list_backend_count(list); b++) {
        const char *name = ulm_model_list_backend_name(list, b);
        int err = ulm_model_list_backend_error(list, b);
        if (err == ULM_OK)
            continue;
        fprintf(stderr, "ultra-llm: %s: %s (%s)\n", name, ulm_error_name(err),
                ulm_model_list_backend_message(list, b));
        char hint[CLI_HINT_SIZE];
        if (described && cli_hint(described, name, err, NULL, ulm_model_list_backend_url(list, b),
                                  ulm_model_list_backend_message(list, b), hint))
            fprintf(stderr, "ultra-llm: hint: %s\n", hint);
    }
    json_decref(described);
}

static int run_models(const cli_command *self, int argc, char **argv)
{
    cli_options o;
    int code = cli_parse(self, CLI_OPT_CONFIG | CLI_OPT_JSON, NULL, argc, argv, &o);
    ulm_client *client = NULL;
    if (code == CLI_CONTINUE && o.operands != argc)
        code = cli_usage_error(self, "it takes no operand");
    if (code == CLI_CONTINUE && (code = cli_client_open(o.config, &client)) == 0) {
        ulm_model_list *list = NULL;
        int rc = ulm_list_models(&list, client);
        size_t answered = 0;
        for (size_t b = 0; rc == ULM_OK && b < ulm_model_list_backend_count(list); b++)
            answered += ulm_model_list_backend_error(list, b) == ULM_OK;
        if (rc != ULM_OK)
            fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc));
        else if (o.json)
            print_models_json(list);
        else
            print_models_text(client, list);
        /* nothing to list is a failure, not an empty answer */
        code = rc == ULM_OK && answered ? 0 : CLI_EXIT_FAILED;
        ulm_model_list_free(list);
    }
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

const cli_command cli_models_command = {
    "models",
    "ultra-llm models [--config FILE] [--json]",
    "Lists the models of every configured backend, one provider/model per line, and on\n"
    "stderr one line per backend that did not answer. --json prints one object: each\n"
    "backend with its outcome and its models. Exits 1 when no backend answered.\n",
    run_models,
};
