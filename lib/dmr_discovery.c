/* dmr_discovery.c - where Docker Model Runner is when no URL was given: the candidates probed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../adapters/dmr_manage.h"
#include "clock.h"
#include "dmr_discovery.h"
#include "exchange.h"
#include "redact.h"

/* A candidate that does not accept a connection this soon is not there. */
#define PROBE_CONNECT_MS 500L
#define PROBE_TOTAL_MS 2000L

typedef struct probe {
    ulm_exchange x;
    ulm_clocks clocks;
    int done;
} probe;

static void on_probe_done(ulm_exchange *x, void *ctx)
{
    (void)x;
    ((probe *)ctx)->done = 1;
}

/* GET / of url: ULM_OK when it is the runner's banner; else why not, in *message. */
static int ask_candidate(ulm_client *c, ulm_engine *e, const ulm_backend *b, const char *url,
                         char **message)
{
    ulm_http_request http = {0};
    int rc = ulm__dmr_build_get(&http, ULM_DMR_BANNER);
    probe p = {.done = 0};
    ulm_timeouts limits = c->settings.timeouts;
    limits.ms[ULM_CLOCK_CONNECT] = PROBE_CONNECT_MS;
    limits.ms[ULM_CLOCK_FIRST_TOKEN] = limits.ms[ULM_CLOCK_IDLE] = PROBE_TOTAL_MS;
    ulm__clocks_start(&p.clocks, &limits, 0, ulm__now_ms() + PROBE_TOTAL_MS, 0);
    size_t root = ulm__dmr_root_length(url);
    char base[1024];
    snprintf(base, sizeof base, "%.*s", (int)(root < sizeof base ? root : sizeof base - 1), url);
    p.x = (ulm_exchange){.client = c, .backend = b, .model = "", .base_url = base,
                         .clocks = &p.clocks, .on_done = on_probe_done, .on_done_ctx = &p,
                         .raw = &http};
    if (rc == ULM_OK)
        rc = ulm__exchange_start(&p.x, e);
    while (rc == ULM_OK && !p.done)
        rc = ulm__engine_run(e, 0, NULL, 0);
    if (rc == ULM_OK)
        rc = p.x.rc;
    if (rc == ULM_OK) {
        size_t length;
        const char *body = ulm_http_response_body(&p.x.resp, &length);
        ulm_dmr_error error = {0};
        rc = ulm__dmr_parse_banner(&error, p.x.http_status, body, length);
        if (rc != ULM_OK)
            snprintf(p.x.errmsg, sizeof p.x.errmsg, "HTTP %d there, but not the runner's "
                     "banner", p.x.http_status);
    }
    *message = ulm__strdup(rc == ULM_OK ? "" : p.x.errmsg);
    ulm__exchange_clear(&p.x);
    ulm__http_request_clear(&http);
    return rc;
}

/* The message every attempt at the backend carries when no candidate answered. */
static char *no_runner_message(const ulm_discovery *d)
{
    ulm_text m = {0};
    int rc = ulm_text_appendf(&m, "no Docker Model Runner answered at");
    for (size_t i = 0; rc == ULM_OK && i < d->tried_count; i++) {
        char *shown = ulm__redacted_url(d->tried[i].url);
        rc = shown ? ulm_text_appendf(&m, "%s %s", i ? "," : "", shown) : ULM_ENOMEM;
        ulm__free(shown);
    }
    if (rc == ULM_OK)
        rc = ulm_text_appendf(&m, ": enable host TCP access (docker desktop enable model-runner "
                              "--tcp 12434), or set MODEL_RUNNER_URL (from a container: "
                              "http://model-runner.docker.internal, or "
                              "http://172.17.0.1:12434 on Docker Engine)");
    if (rc != ULM_OK) {
        ulm_text_free(&m);
        return NULL;
    }
    return m.data;
}

static int probe_candidates(ulm_client *c)
{
    ulm_discovery *d = &c->discovery;
    ulm_backend *b = c->local_backend;
    const ulm_url_list *candidates = &c->settings.dmr_candidates;
    if (!(d->tried = ulm__calloc(candidates->count ? candidates->count : 1, sizeof *d->tried)))
        return ULM_ENOMEM;
    ulm_engine *e = NULL;
    if (ulm__engine_borrow(c->engines, &e) != ULM_OK)
        return ULM_ENOMEM;
    int found = -1, rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && found < 0 && i < candidates->count; i++) {
        ulm_probe_record *r = &d->tried[d->tried_count++];
        if (!(r->url = ulm__strdup(candidates->urls[i]))) {
            rc = ULM_ENOMEM;
            break;
        }
        r->outcome = ask_candidate(c, e, b, r->url, &r->message);
        if (!r->message || r->outcome == ULM_ENOMEM)
            rc = ULM_ENOMEM;
        else if (r->outcome == ULM_OK)
            found = (int)i;
        ulm_log_fields fields = {.event = "dmr.discovery",
                                 .backend = b->name,
                                 .error = r->outcome,
                                 .ms = -1};
        ulm__log_event(&c->settings.log, ULM_LOG_INFO, fields, "Docker Model Runner at %s: %s",
                       r->url, r->outcome == ULM_OK ? "answered" : r->message);
    }
    ulm__engine_return(c->engines, e);
    if (rc != ULM_OK)
        return rc;
    if (found < 0 && !(d->failure = no_runner_message(d)))
        return ULM_ENOMEM;
    /* none answered: its attempts go to the first candidate, and say what was tried */
    char *root = candidates->count
                     ? ulm__backend_api_root(b, candidates->urls[found < 0 ? 0 : found])
                     : NULL;
    if (!candidates->count)
        return ULM_OK;
    if (!root)
        return ULM_ENOMEM;
    ulm__free(b->urls[0]);
    b->urls[0] = root;
    return ULM_OK;
}

int ulm__dmr_discover(ulm_client *c)
{
    ulm_discovery *d = &c->discovery;
    pthread_mutex_lock(&d->lock);
    int rc = ULM_OK;
    if (d->pending && !d->done) {
        rc = probe_candidates(c);
        d->done = rc == ULM_OK;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}
