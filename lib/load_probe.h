/* load_probe.h - whether Docker Model Runner has a call's model loaded, asked beside the call's request. */
#ifndef ULM_LOAD_PROBE_H
#define ULM_LOAD_PROBE_H

#include "exchange.h"

/*
 * A local model's first request may have to wait for the model to load, so an attempt at
 * Docker Model Runner gets a load budget before its first-token clock starts. That budget
 * is only needed when the model is not loaded yet. When the request has had no answer for
 * ULM_LOAD_PROBE_AFTER_MS, the probe asks the runner's GET /engines/ps, on the same
 * engine, and then sets the attempt's clocks by what the runner says:
 *
 *   loaded, not loading     no load budget: the first-token clock runs from the connection
 *   loading                 what is left of the budget of a load this client saw begin;
 *                           the whole budget when another program began it
 *   absent                  the whole budget: this request begins the load (remembered)
 *   no answer, no list      the whole budget; an endpoint that does not list runners
 *                           (404, not JSON) is not asked again by this client
 *
 * An answer that comes after the first token changes nothing. The probe never fails the
 * attempt and is never part of its trail.
 */
/* A call asks only once its answer has not begun this long after it was sent: a model that
 * answers sooner is loaded, and asking would cost a request for nothing. A probe still on
 * its way when the attempt ends is cut short, which closes its connection; a runner's list
 * comes in about a millisecond, so that is rare unless answers take about this long. */
#define ULM_LOAD_PROBE_AFTER_MS 20

typedef struct ulm_load_probe {
    ulm_exchange x;
    ulm_clocks clocks;          /* the probe's own */
    ulm_http_request http;
    char root[1024];            /* the runner's root URL: what answers GET / */
    ulm_clocks *attempt;        /* the attempt's clocks, set when the answer comes */
    ulm_backend *backend;
    int endpoint;
    const char *model;
    const char *mode;           /* the runner mode the attempt's model runs in */
    int running;
    void (*on_loading)(void *ctx); /* may be NULL: told when the runner says the model is
                                      loading or not loaded, before the first byte came */
    void *loading_ctx;
} ulm_load_probe;

/*
 * Whether an attempt at endpoint of backend b (base_url: the URL the attempt uses) would be
 * probed: b is of Docker Model Runner's kind and the endpoint was not found to have no list
 * of runners. A call that will not probe need not wake up to start one.
 */
ULM_HIDDEN int ulm__load_probe_wanted(ulm_client *c, ulm_backend *b, int endpoint,
                                      const char *base_url);

/*
 * Starts a probe for an attempt at endpoint of backend b (base_url: the URL the attempt
 * uses) asking for model in mode ("completion" or "embedding"), whose clocks are attempt
 * and were just started; *out gets it, or NULL when there is nothing to ask: the backend
 * is not Docker Model Runner's kind, or the endpoint does not list runners. A probe is
 * allocated only then, so that a call carries none of its 3 KB otherwise. Returns ULM_OK
 * or ULM_ENOMEM.
 */
ULM_HIDDEN int ulm__load_probe_start(ulm_load_probe **out, ulm_client *c, ulm_backend *b,
                                     int endpoint, const char *base_url, const char *model,
                                     const char *mode, ulm_clocks *attempt, ulm_engine *e);

/* Ends *p if it is still asking, frees it and sets *p to NULL. NULL *p is allowed. */
ULM_HIDDEN void ulm__load_probe_stop(ulm_load_probe **p, ulm_engine *e);

#endif /* ULM_LOAD_PROBE_H */
