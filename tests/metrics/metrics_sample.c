/* metrics_sample.c - prints the export of a realistic mix of recordings: Prometheus, or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/*
 * The mix a client sees in a day: local models that load, stream and fail now and then,
 * a cloud backend that rate-limits and falls back, a model cap overflowing, names that
 * need escaping, an open breaker, a queue, fan-out rounds.
 */
static void record_mix(ulm_metrics *m)
{
    enum { DMR, OPENAI, GEMINI };
    const char *local[] = {"ai/smollm2:latest", "ai/qwen2.5:7B-Q4_K_M", "ai/gemma3:latest"};
    for (int i = 0; i < 300; i++) {
        const char *model = local[i % 3];
        int streamed = i % 2;
        ulm__metrics_in_flight(m, DMR, +1);
        ulm__metrics_request_started(m, DMR, model);
        int error = i % 29 == 0 ? ULM_EMODEL_LOAD : i % 31 == 0 ? ULM_ECANCELLED : ULM_OK;
        double ms = 80.0 + (i * 37) % 9000;
        ulm__metrics_request_finished(m, DMR, model, error, ms, streamed ? ms / 5 : -1,
                                      i % 50 == 0 ? 12000.0 : -1, 40 + i % 300, 10 + i % 400);
        ulm__metrics_in_flight(m, DMR, -1);
        ulm__metrics_call_finished(m, DMR, model, error, ms + 3);
    }
    for (int i = 0; i < 120; i++) {
        const char *model = i % 4 ? "gpt-4o-mini" : "gpt-4o";
        ulm__metrics_request_started(m, OPENAI, model);
        int error = i % 6 == 0 ? ULM_ERATE_LIMIT : i % 17 == 0 ? ULM_ECONNECT : ULM_OK;
        ulm__metrics_request_finished(m, OPENAI, model, error, 400.0 + i * 11, 250.0 + i, -1,
                                      120, 300);
        if (error == ULM_ERATE_LIMIT) {
            ulm__metrics_retry(m, OPENAI, model);
            ulm__metrics_fallback(m, OPENAI, DMR);
            ulm__metrics_call_finished(m, DMR, "ai/smollm2:latest", ULM_OK, 2500.0);
        } else if (error == ULM_ECONNECT) {
            ulm__metrics_served_offline(m, DMR, "ai/smollm2:latest");
            ulm__metrics_call_finished(m, DMR, "ai/smollm2:latest", ULM_OK, 900.0);
        } else {
            ulm__metrics_call_finished(m, OPENAI, model, ULM_OK, 400.0 + i * 11);
        }
    }
    /* more models than the cap, and names a label must escape */
    char name[64];
    for (int i = 0; i < ULM_METRICS_MODEL_CAP + 5; i++) {
        snprintf(name, sizeof name, "tuned/model-%02d", i);
        ulm__metrics_request_started(m, GEMINI, name);
        ulm__metrics_request_finished(m, GEMINI, name, ULM_EQUOTA, 90.0, -1, -1, -1, -1);
    }
    const char *odd[] = {"with \"quotes\"", "back\\slash", "line\nfeed", "caf\xc3\xa9 \\\"\n",
                         "tab\tand spaces"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        ulm__metrics_request_started(m, DMR, odd[i]);
        ulm__metrics_request_finished(m, DMR, odd[i], ULM_OK, 1000.0, 300.0, 0.0, 5, 6);
    }
    ulm__metrics_queued(m, OPENAI, +1);
    ulm__metrics_queue_rejected(m, OPENAI);
    ulm__metrics_breaker(m, OPENAI, 0, ULM_BREAKER_OPEN);
    ulm__metrics_breaker(m, OPENAI, 1, ULM_BREAKER_HALF_OPEN);
    for (int i = 0; i < 10; i++)
        ulm__metrics_round(m, 3, i % 4 != 0, i % 4 != 0 ? 1 : 0);
}

int main(int argc, char **argv)
{
    int format = argc > 1 && strcmp(argv[1], "--json") == 0 ? ULM_METRICS_JSON
                                                              : ULM_METRICS_PROMETHEUS;
    char *dmr_urls[] = {"http://127.0.0.1:12434/engines/v1"};
    char *openai_urls[] = {"http://127.0.0.1:8080/v1", "http://user:pw@127.0.0.2:8080/v1"};
    char *gemini_urls[] = {"http://127.0.0.1:8081"};
    ulm_backend backends[3] = {{0}};
    backends[0].name = "dmr";
    backends[0].urls = dmr_urls;
    backends[0].endpoint_count = 1;
    backends[1].name = "openai";
    backends[1].urls = openai_urls;
    backends[1].endpoint_count = 2;
    backends[2].name = "gemini";
    backends[2].urls = gemini_urls;
    backends[2].endpoint_count = 1;
    ulm_metrics *m = NULL;
    if (ulm__metrics_new(&m, backends, 3) != ULM_OK) {
        fputs("metrics_sample: out of memory\n", stderr);
        return 1;
    }
    record_mix(m);
    size_t len = ulm__metrics_write(m, NULL, format, NULL, 0);
    char *text = malloc(len + 1);
    if (!text || ulm__metrics_write(m, NULL, format, text, len + 1) != len) {
        fputs("metrics_sample: the export changed size or memory ran out\n", stderr);
        return 1;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    ulm__metrics_free(m);
    return 0;
}
