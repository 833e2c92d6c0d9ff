/* load_probe.c - whether Docker Model Runner has a call's model loaded, asked beside the call's request. */
#include <stdio.h>
#include <string.h>

#include "../adapters/dmr_manage.h"
#include "backend_types.h"
#include "clock.h"
#include "load_probe.h"

/* The runner's list answers in a moment when it answers at all: a busy runner is not waited
 * for past this, the attempt keeps its whole budget. */
#define PROBE_ANSWER_MS 2000

/* The record of a load of model this client saw begin, or NULL. policy_lock held. */
static int begun_index(const ulm_runner_loads *l, const char *model)
{
    for (int i = 0; i < ULM_LOAD_RECORDS; i++)
        if (l->begun[i].model[0] && ulm__dmr_same_model(l->begun[i].model, model))
            return i;
    return -1;
}

/* Remembers that a load of model begins now (at since). policy_lock held. */
static void remember_begun(ulm_runner_loads *l, const char *model, double since)
{
    int i = begun_index(l, model);
    if (i < 0) {
        for (i = 0; i < ULM_LOAD_RECORDS && l->begun[i].model[0]; i++)
            ;
        if (i == ULM_LOAD_RECORDS)
            i = (int)(l->next++ % ULM_LOAD_RECORDS);
    }
    snprintf(l->begun[i].model, sizeof l->begun[i].model, "%s", model);
    l->begun[i].since = since;
}

/* The attempt's clocks set by the runner's list of runners; whether the model is loading
 * (or about to: not loaded). policy_lock held. */
static int apply(ulm_load_probe *p, ulm_runner_loads *l, const ulm_dmr_runner_list *runners)
{
    ulm_clocks *k = p->attempt;
    const ulm_dmr_runner *r = ulm__dmr_runners_find(runners, p->model, p->mode);
    if (!r) {
        remember_begun(l, p->model, k->attempt_start);
        return 1;
    }
    int i = begun_index(l, p->model);
    if (!r->loading) {
        if (i >= 0)
            l->begun[i].model[0] = '\0';
        k->load_end = 0; /* ready: the first token is owed from the connection on */
        return 0;
    }
    if (i >= 0) {
        double left_until = l->begun[i].since + (double)k->load_ms;
        if (left_until < k->load_end)
            k->load_end = left_until;
    }
    return 1;
}

static void on_probe_done(ulm_exchange *x, void *ctx)
{
    ulm_load_probe *p = ctx;
    p->running = 0;
    ulm_client *c = x->client;
    size_t length;
    const char *body = ulm_http_response_body(&x->resp, &length);
    ulm_dmr_runner_list runners = {0};
    ulm_dmr_error error = {0};
    int parsed = x->rc == ULM_OK ? ulm__dmr_parse_ps(&runners, &error, x->http_status, body,
                                                     length)
                                 : x->rc;
    int loading = 0;
    pthread_mutex_lock(&c->policy_lock);
    ulm_runner_loads *l = &p->backend->loads[p->endpoint];
    if (parsed == ULM_OK) {
        if (!p->attempt->headers_at) /* else the answer came first: it changes nothing */
            loading = apply(p, l, &runners);
    } else if (x->rc == ULM_OK && parsed != ULM_ENOMEM && x->http_status / 100 != 5) {
        l->no_state = 1; /* an answer, but no list of runners: this is not a runner that has one */
    }
    pthread_mutex_unlock(&c->policy_lock);
    ulm__dmr_runner_list_clear(&runners);
    ulm__exchange_clear(x);
    ulm__http_request_clear(&p->http);
    if (loading && p->on_loading)
        p->on_loading(p->loading_ctx);
}

int ulm__load_probe_wanted(ulm_client *c, ulm_backend *b, int endpoint, const char *base_url)
{
    if (b->type != ulm__local_backend_type() || endpoint < 0 ||
        ulm__dmr_root_length(base_url) >= sizeof((ulm_load_probe *)0)->root)
        return 0;
    pthread_mutex_lock(&c->policy_lock);
    int no_state = b->loads[endpoint].no_state;
    pthread_mutex_unlock(&c->policy_lock);
    return !no_state;
}

int ulm__load_probe_start(ulm_load_probe **out, ulm_client *c, ulm_backend *b, int endpoint,
                          const char *base_url, const char *model, const char *mode,
                          ulm_clocks *attempt, ulm_engine *e)
{
    *out = NULL;
    if (!ulm__load_probe_wanted(c, b, endpoint, base_url))
        return ULM_OK;
    size_t root = ulm__dmr_root_length(base_url);
    ulm_load_probe *p = ulm__calloc(1, sizeof *p);
    if (!p)
        return ULM_ENOMEM;
    memcpy(p->root, base_url, root);
    p->root[root] = '\0';
    int rc = ulm__dmr_build_get(&p->http, ULM_DMR_PS);
    if (rc != ULM_OK) {
        ulm__http_request_clear(&p->http);
        ulm__free(p);
        return rc;
    }
    ulm_timeouts limits = c->settings.timeouts;
    limits.ms[ULM_CLOCK_FIRST_TOKEN] = limits.ms[ULM_CLOCK_IDLE] = PROBE_ANSWER_MS;
    double deadline = ulm__now_ms() + (double)limits.ms[ULM_CLOCK_CONNECT] + PROBE_ANSWER_MS;
    ulm__clocks_start(&p->clocks, &limits, 0, deadline, 0);
    p->attempt = attempt;
    p->backend = b;
    p->endpoint = endpoint;
    p->model = model;
    p->mode = mode;
    p->x = (ulm_exchange){.client = c, .backend = b, .model = "", .base_url = p->root,
                          .clocks = &p->clocks, .on_done = on_probe_done, .on_done_ctx = p,
                          .raw = &p->http, .quiet = 1};
    if (ulm__exchange_start(&p->x, e) != ULM_OK) {
        rc = p->x.rc == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK; /* no probe: the whole budget */
        ulm__exchange_clear(&p->x);
        ulm__http_request_clear(&p->http);
        ulm__free(p);
        return rc;
    }
    p->running = 1;
    *out = p;
    return ULM_OK;
}

void ulm__load_probe_stop(ulm_load_probe **probe, ulm_engine *e)
{
    ulm_load_probe *p = *probe;
    if (!p)
        return;
    if (p->running) {
        ulm__exchange_abort(&p->x, e);
        p->running = 0;
    }
    ulm__exchange_clear(&p->x);
    ulm__http_request_clear(&p->http);
    ulm__free(p);
    *probe = NULL;
}
