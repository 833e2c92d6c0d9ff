/* metrics_out.c - the run's metrics written to a file (--metrics), for scripts and CI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_metrics_write(ulm_client *client, const char *path)
{
    size_t length = strlen(path);
    int format = length > 5 && strcmp(path + length - 5, ".json") == 0 ? ULM_METRICS_JSON
                                                                       : ULM_METRICS_PROMETHEUS;
    size_t size = 64 * 1024, need;
    char *text = malloc(size);
    while (text && (need = ulm_client_metrics(client, format, text, size)) >= size) {
        free(text);
        size = need + need / 4 + 1; /* the numbers may grow in between */
        text = malloc(size);
    }
    if (!text) {
        fprintf(stderr, "ultra-llm: --metrics: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    FILE *f = fopen(path, "w");
    int written = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        written = 0;
    free(text);
    if (!written) {
        fprintf(stderr, "ultra-llm: --metrics: cannot write %s: %s\n", path, strerror(errno));
        return CLI_EXIT_FAILED;
    }
    return 0;
}
