/* report.c - what the program says on stderr when a call failed. */
#include <stdio.h>

#include "cli.h"

void cli_report_failure(const ulm_response *r, int rc)
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
}
