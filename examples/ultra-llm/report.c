/* report.c - what the program says on stderr when a call failed. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* At most this many different hints follow one failure. */
#define MAX_HINTS 4

/* A line on how to fix each attempt's failure that has a known fix, each said once. */
void cli_report_hints(ulm_client *client, const ulm_response *r)
{
    json_t *described = cli_client_describe(client);
    char said[MAX_HINTS][CLI_HINT_SIZE];
    size_t count = 0;
    for (size_t i = 0; described && i < ulm_response_attempt_count(r) && count < MAX_HINTS; i++) {
        const ulm_attempt *a = ulm_response_attempt(r, i);
        char *hint = said[count];
        if (!cli_hint(described, ulm_attempt_provider(a), ulm_attempt_error(a),
                      ulm_attempt_model(a), NULL, ulm_attempt_error_message(a), hint))
            continue;
        size_t k = 0;
        while (k < count && strcmp(said[k], hint) != 0)
            k++;
        if (k == count) {
            fprintf(stderr, "ultra-llm: hint: %s\n", hint);
            count++;
        }
    }
    json_decref(described);
}

void cli_report_failure(ulm_client *client, const ulm_response *r, int rc)
{
    if (!r) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc));
        return;
    }
    char status[32] = "no HTTP status";
    if (ulm_response_http_status(r))
        snprintf(status, sizeof status, "HTTP %d", ulm_response_http_status(r));
    fprintf(stderr, "ultra-llm: error: %s (backend %s, %s, %zu attempt%s): %s\n",
            ulm_error_name(rc), *ulm_response_provider(r) ? ulm_response_provider(r) : "none",
            status, ulm_response_attempt_count(r), ulm_response_attempt_count(r) == 1 ? "" : "s",
            ulm_response_error_message(r));
    if (rc != ULM_ECANCELLED) /* the user stopped it: nothing to fix */
        cli_report_hints(client, r);
}
