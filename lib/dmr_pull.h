/* dmr_pull.h - a pull from Docker Model Runner as one exchange: its progress read as it comes, its outcome. */
#ifndef ULM_DMR_PULL_H
#define ULM_DMR_PULL_H

#include "../adapters/dmr_manage.h"
#include "exchange.h"

/*
 * A pull streams progress lines for as long as the download takes, and may wait behind
 * two other pulls first: it has no first-token or idle clock of its own, only the
 * connection's and its deadline. ulm_dmr_pull() drives one to its end; a call that finds
 * its model missing (auto_pull) drives one on its own engine beside other calls.
 */
typedef struct ulm_pull_exchange {
    ulm_exchange x;
    ulm_clocks clocks;
    ulm_http_request http;
    char root[1024];               /* the runner's root URL */
    const char *model;
    ulm_dmr_pull_reader reader;
    int reader_ready;
    ulm_dmr_pull_progress progress;
    ulm_pull_progress_fn on_progress; /* each progress line; nonzero stops the pull */
    void *payload;
} ulm_pull_exchange;

/*
 * Prepares p to pull model from backend b, whose endpoint is base_url, by deadline;
 * on_done (with ctx) is told when the exchange ends. Start it with
 * ulm__exchange_start(&p->x, engine). ULM_OK, ULM_EINVAL with errbuf saying why (a name
 * the runner refuses, a URL too long), or ULM_ENOMEM.
 */
ULM_HIDDEN int ulm__pull_prepare(ulm_pull_exchange *p, ulm_client *c, const ulm_backend *b,
                                 const char *base_url, const char *model, double deadline,
                                 ulm_pull_progress_fn on_progress, void *payload,
                                 ulm_exchange_done_fn on_done, void *ctx, char *errbuf,
                                 size_t errbuf_size);

/* The progress so far as the public struct; finished once the pull succeeded. */
ULM_HIDDEN ulm_pull_progress ulm__pull_report(const ulm_pull_exchange *p, int finished);

/*
 * Once the exchange ended: ULM_OK when the model is pulled, else the class of the failure
 * with "<backend>: ..." in errbuf (the runner's words redacted and capped).
 */
ULM_HIDDEN int ulm__pull_outcome(ulm_pull_exchange *p, char *errbuf, size_t errbuf_size);

/* The runner's words about a failure, as "<backend>: [HTTP <status>: ]<words>" in errbuf;
 * returns error->code. */
ULM_HIDDEN int ulm__runner_failure(const ulm_client *c, const ulm_backend *b, int status,
                                   const ulm_dmr_error *error, char *errbuf,
                                   size_t errbuf_size);

/* Frees what p holds; safe after a failed prepare. The exchange must have ended or been
 * aborted. */
ULM_HIDDEN void ulm__pull_clear(ulm_pull_exchange *p);

#endif /* ULM_DMR_PULL_H */
