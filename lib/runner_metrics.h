/* runner_metrics.h - a Docker Model Runner's state and own metrics as Prometheus text, under the ulm_dmr_ prefix. */
#ifndef ULM_RUNNER_METRICS_H
#define ULM_RUNNER_METRICS_H

#include "../adapters/dmr_manage.h"
#include "alloc.h"

/* What one scrape of a runner found; a part it could not get is left out. */
typedef struct ulm_runner_scrape {
    const char *backend;                /* the library's name of the backend: its label */
    int up;                             /* GET /engines/ps answered */
    const ulm_dmr_runner_list *runners; /* with up */
    int64_t disk_bytes;                 /* GET /engines/df's models_disk_usage; -1: unknown */
    const char *metrics;                /* GET /metrics's text; NULL: none came */
    size_t metrics_length;
} ulm_runner_scrape;

/*
 * Appends the scrape to out as Prometheus text: ulm_dmr_up, ulm_dmr_runners by state,
 * ulm_dmr_runner_info per runner, ulm_dmr_models_disk_bytes, then the runner's own
 * families renamed ulm_dmr_runner_<name> (a character a metric name may not have, ':'
 * included, becomes '_'), their backend label (DMR's inference engine) renamed engine and
 * backend="<the library's backend>" added first. Lines that do not parse are left out,
 * so that one odd line does not spoil the scrape. ULM_OK or ULM_ENOMEM.
 */
ULM_HIDDEN int ulm__runner_metrics_write(ulm_text *out, const ulm_runner_scrape *scrape);

#endif /* ULM_RUNNER_METRICS_H */
