/* call.c - one call as a state machine: its chain of targets, retries, failovers and waits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "call.h"
#include "clock.h"
#include "dmr_discovery.h"
#include "error_policy.h"
#include "metrics.h"
#include "prompt_template.h"
#include "redact.h"
#include "request.h"

/*
 * A call is three nested loops turned inside out, so that none of them blocks:
 *   the chain     tries its targets in order (target_ended moves to the next);
 *   a target      has rounds, with a pause between them when retries are configured
 *                 (round_ended decides);
 *   a round       has attempts, one per deployment while deployments fail in a way that
 *                 says the endpoint is unwell (attempt_ended decides).
 * An attempt takes a slot in the backend's limiter, picks a deployment, and sends; a local
 * model that answers "still loading" is asked again on the same deployment until its load
 * budget runs out. A Docker Model Runner model that is not pulled is pulled, when auto_pull
 * is on, and asked again.
 */

static void next_target(ulm_call *k);
static void start_round(ulm_call *k);
static void begin_attempt(ulm_call *k);

static double random01(ulm_call *k)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    k->random_state ^= k->random_state >> 12;
    k->random_state ^= k->random_state << 25;
    k->random_state ^= k->random_state >> 27;
    return (double)((k->random_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static const ulm_logger *logger(const ulm_call *k)
{
    return &k->client->settings.log;
}

/* The fields of an event about the call's current target: attempt is the number of the
 * attempt it concerns (the trail's attempts so far are those that ended). */
static ulm_log_fields target_fields(const ulm_call *k, const char *event, unsigned int attempt,
                                    int error, double ms)
{
    return (ulm_log_fields){.event = event,
                            .backend = k->target.backend->name,
                            .model = k->target.model,
                            .attempt = attempt,
                            .error = error,
                            .ms = ms};
}

/* The number of the attempt that runs now, or that comes next once one ended. */
static unsigned int next_attempt(const ulm_call *k)
{
    return (unsigned int)k->resp->attempt_count + 1;
}

/* The client's metrics registry, and a backend's index in it. */
static ulm_metrics *metrics(const ulm_call *k)
{
    return k->client->metrics;
}

static size_t backend_index(const ulm_call *k, const ulm_backend *b)
{
    return (size_t)(b - k->client->backends);
}

/* ------------------------------------------------------------ the response */

static int fail(ulm_response *resp, int code, const char *message)
{
    resp->error = code;
    ulm__free(resp->error_message);
    /* a message may quote a URL with its credentials, from any layer below */
    resp->error_message = ulm__redacted(NULL, message, strlen(message));
    return resp->error_message ? code : ULM_ENOMEM;
}

static int take_result(ulm_response *resp, const ulm_target *t, int status, ulm_result *r)
{
    resp->error = ULM_OK;
    resp->http_status = status;
    ulm__free(resp->provider);
    resp->provider = ulm__strdup(t->backend->name);
    resp->text = r->text ? r->text : ulm__strdup("");
    resp->text_len = r->text ? r->text_len : 0;
    r->text = NULL;
    resp->finish = r->finish;
    resp->prompt_tokens = r->prompt_tokens;
    resp->completion_tokens = r->completion_tokens;
    resp->total_tokens = r->total_tokens;
    resp->model = r->model ? r->model : ulm__strdup(t->model);
    r->model = NULL;
    resp->raw_json = r->raw_body;
    r->raw_body = NULL;
    resp->embeddings = r->embeddings;
    resp->embedding_count = r->embedding_count;
    resp->dimensions = r->dimensions;
    r->embeddings = NULL;
    r->embedding_count = r->embedding_cap = 0;
    return resp->text && resp->model && resp->provider ? ULM_OK : ULM_ENOMEM;
}

/* A stream that broke after delivering text: the response keeps exactly that text. */
static int fail_incomplete(ulm_response *resp, const ulm_target *t, int code, int status,
                           const ulm_result *r, size_t delivered, const char *why)
{
    resp->incomplete = 1;
    resp->http_status = status;
    ulm__free(resp->text);
    ulm__free(resp->provider);
    ulm__free(resp->model);
    resp->text = ulm__strndup(r->text, delivered);
    resp->text_len = delivered;
    resp->provider = ulm__strdup(t->backend->name);
    resp->model = ulm__strdup(t->model);
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message, "output incomplete after %zu bytes: %s",
                    delivered, why);
    if (!resp->text || !resp->provider || !resp->model)
        return ULM_ENOMEM;
    return fail(resp, code, message);
}

static int fail_deadline(ulm_response *resp, const ulm_call *k, const ulm_target *next)
{
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message,
                    "the call's deadline of %ld ms passed before %s/%s could be tried",
                    k->timeouts.ms[ULM_CLOCK_OVERALL], next->backend->name, next->model);
    ulm__free(resp->provider);
    ulm__free(resp->model);
    resp->provider = ulm__strdup(next->backend->name);
    resp->model = ulm__strdup(next->model);
    if (!resp->provider || !resp->model)
        return ULM_ENOMEM;
    return fail(resp, ULM_ETIMEOUT, message);
}

/*
 * The error a failed chain reports: the last one from a backend that was actually asked,
 * since "dmr refused the connection" says more than "openai has no key" after it.
 */
static size_t reported_attempt(const ulm_response *resp)
{
    for (size_t i = resp->attempt_count; i-- > 0;)
        if (resp->attempts[i].error != ULM_ENOT_CONFIGURED)
            return i;
    return resp->attempt_count - 1;
}

/* When every target was cooling down, one message names them all. */
static int all_cooling_down(const ulm_response *resp, char *out, size_t size)
{
    for (size_t i = 0; i < resp->attempt_count; i++)
        if (resp->attempts[i].error != ULM_ECIRCUIT_OPEN)
            return 0;
    size_t used = (size_t)snprintf(out, size, "every target is cooling down:");
    for (size_t i = 0; i < resp->attempt_count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s %s", i ? ";" : "",
                                 resp->attempts[i].message);
    return 1;
}

/*
 * When offline mode ended the chain on local models and they failed too, the local failure
 * alone hides why the cloud was not used: the first cloud attempt that found the network
 * down (or was skipped as offline), or NULL.
 */
static const ulm_attempt *offline_cause(const ulm_call *k, size_t reported)
{
    const ulm_response *resp = k->resp;
    const ulm_backend *last = ulm__client_backend(k->client, resp->attempts[reported].provider);
    if (!(k->locals_added && (k->skip_cloud || k->cloud_unreachable)) || !last || !last->local)
        return NULL;
    for (size_t i = 0; i < reported; i++) {
        const ulm_attempt *a = &resp->attempts[i];
        const ulm_backend *b = ulm__client_backend(k->client, a->provider);
        if (b && !b->local && ulm__error_policy(a->error)->unreachable)
            return a;
    }
    return NULL;
}

static int fail_chain(const ulm_call *k)
{
    ulm_response *resp = k->resp;
    size_t reported = reported_attempt(resp);
    const ulm_attempt *a = &resp->attempts[reported];
    ulm__free(resp->provider);
    ulm__free(resp->model);
    resp->provider = ulm__strdup(a->provider);
    resp->model = ulm__strdup(a->model);
    resp->http_status = a->http_status;
    if (!resp->provider || !resp->model)
        return ULM_ENOMEM;
    char listed[ULM_ERROR_SIZE];
    if (all_cooling_down(resp, listed, sizeof listed))
        return fail(resp, ULM_ECIRCUIT_OPEN, listed);
    const ulm_attempt *cloud = offline_cause(k, reported);
    if (cloud) {
        char both[ULM_ERROR_SIZE];
        ulm__set_errbuf(both, sizeof both,
                        "offline: %s/%s could not be reached (%.200s), and the local "
                        "fallback %s/%s failed too: %s",
                        cloud->provider, cloud->model, cloud->message, a->provider, a->model,
                        a->message);
        return fail(resp, a->error, both);
    }
    return fail(resp, a->error, a->message);
}

/* ------------------------------------------------------------ offline mode */

/* Decides at the start of a call whether the cloud is skipped as offline. */
static int start_offline_mode(ulm_call *k)
{
    ulm_client *c = k->client;
    const ulm_target_list *l = &k->targets;
    int has_cloud = 0;
    for (size_t i = 0; i < l->count; i++)
        has_cloud |= !ulm__target_is_local(&l->items[i]) && !l->items[i].backend->disabled[0];
    if (!has_cloud || !c->settings.use_local_models_when_offline)
        return ULM_OK;
    pthread_mutex_lock(&c->policy_lock);
    int was_offline = c->offline.offline;
    k->skip_cloud = ulm__offline_skip_cloud(&c->offline, ulm__now_ms());
    k->probing = was_offline && !k->skip_cloud;
    pthread_mutex_unlock(&c->policy_lock);
    if (k->skip_cloud) {
        k->locals_added = 1;
        return ulm__route_add_local_models(c, &k->targets);
    }
    return ULM_OK;
}

/* A probe call that never reached the cloud must not keep other calls from probing. */
static void end_offline_mode(ulm_call *k)
{
    if (!k->probing || k->cloud_asked)
        return;
    pthread_mutex_lock(&k->client->policy_lock);
    k->client->offline.probe_in_flight = 0;
    pthread_mutex_unlock(&k->client->policy_lock);
}

/* ------------------------------------------------------------ the end */

static void finish(ulm_call *k, int rc)
{
    if (k->state == ULM_CALL_DONE)
        return;
    end_offline_mode(k);
    ulm__result_clear(&k->result);
    k->rc = rc;
    k->state = ULM_CALL_DONE;
    k->resp->latency_ms = ulm__now_ms() - k->start;
    if (k->target.backend) { /* calls that ended before they had a target are not counted */
        size_t b = backend_index(k, k->target.backend);
        const char *model = k->target.model; /* the resolved name, as the requests' series */
        ulm__metrics_call_finished(metrics(k), b, model, rc, k->resp->latency_ms);
        if (rc == ULM_OK && k->resp->offline)
            ulm__metrics_served_offline(metrics(k), b, model);
    }
    if (k->on_done)
        k->on_done(k, k->on_done_ctx);
}

/* ------------------------------------------------------------ an attempt at an endpoint */

/* Gives back the limiter's slot, with how long it was held. */
static void release_slot(ulm_call *k)
{
    if (!k->holds_slot)
        return;
    k->holds_slot = 0;
    ulm__limiter_release(k->target.backend->limiter, ulm__now_ms() - k->slot_at);
}

static void free_views(ulm_call *k)
{
    ulm__free(k->view);
    ulm_request_free(k->shaped);
    k->view = NULL;
    k->shaped = NULL;
}

/* Records what an attempt says about its endpoint's health and about the network. */
static void note_outcome(ulm_call *k, int rc)
{
    ulm_client *c = k->client;
    ulm_backend *b = k->target.backend;
    const ulm_error_policy *p = ulm__error_policy(rc);
    int local = ulm__target_is_local(&k->target);
    double now = ulm__now_ms();
    pthread_mutex_lock(&c->policy_lock);
    ulm_endpoint_state *e = &b->health[k->endpoint];
    e->in_flight--;
    ulm__breaker_record(&e->breaker, &c->settings.breaker, now, !p->breaker);
    ulm_breaker_state state = e->breaker.state;
    if (!local && c->settings.use_local_models_when_offline)
        ulm__offline_note_cloud(&c->offline, now, p->unreachable, c->settings.probe_interval_ms);
    pthread_mutex_unlock(&c->policy_lock);
    ulm__metrics_breaker(metrics(k), backend_index(k, b), (size_t)k->endpoint, state);
    ulm__metrics_in_flight(metrics(k), backend_index(k, b), -1);
    if (!local) {
        k->cloud_asked = 1;
        k->cloud_unreachable |= p->unreachable;
    }
    k->endpoint = -1;
}

/* An attempt cut short by the caller says nothing of its endpoint's health. */
static void abandon_endpoint(ulm_call *k)
{
    ulm_client *c = k->client;
    pthread_mutex_lock(&c->policy_lock);
    ulm_endpoint_state *e = &k->target.backend->health[k->endpoint];
    e->in_flight--;
    ulm__breaker_abandon(&e->breaker);
    pthread_mutex_unlock(&c->policy_lock);
    ulm__metrics_in_flight(metrics(k), backend_index(k, k->target.backend), -1);
    k->endpoint = -1;
}

static void round_attempt_ended(ulm_call *k, int rc, int status, size_t delivered,
                                long retry_after_ms);

/* Tells the call's owner what it waits for now (a ulm_member_state). */
static void tell_state(ulm_call *k, int state)
{
    if (k->on_state)
        k->on_state(k, state, k->on_state_ctx);
}

/* The load probe found the attempt's model loading, or not loaded: its request waits for
 * the load. */
static void probe_saw_loading(void *ctx)
{
    ulm_call *k = ctx;
    if (k->state == ULM_CALL_SENDING && !k->x.delivered)
        tell_state(k, ULM_MEMBER_LOADING);
}

/* Whether a model missing from the target's runner is pulled rather than failed. */
static int pulls_missing(const ulm_call *k)
{
    return k->target.backend->type == ulm__local_backend_type() && k->client->settings.auto_pull;
}

/* The target's model as a person types it: DMR's default ":latest" tag left out. */
static int typed_length(const char *model)
{
    size_t len = strlen(model), tag = strlen(":latest");
    if (len > tag && strcmp(model + len - tag, ":latest") == 0)
        len -= tag;
    return len > 200 ? 200 : (int)len;
}

/* A message that says what is wrong says how to put it right, where the library knows. */
static void name_the_fix(ulm_call *k, int rc)
{
    const ulm_discovery *d = &k->client->discovery;
    const ulm_backend *b = k->target.backend;
    char *msg = k->x.errmsg;
    if ((rc == ULM_ECONNECT || rc == ULM_ECONNECT_TIMEOUT) && d->failure &&
        b == k->client->local_backend) /* say what was looked for, and how */
        ulm__set_errbuf(msg, sizeof k->x.errmsg, "%s: %s", b->name, d->failure);
    if (rc == ULM_EMODEL_NOT_FOUND && b->type == ulm__local_backend_type() && !pulls_missing(k)) {
        size_t used = strlen(msg);
        const char *m = k->target.model;
        int n = typed_length(m);
        snprintf(msg + used, sizeof k->x.errmsg - used,
                 " (pull it: `docker model pull %.*s` or `ultra-llm pull %.*s`; or set "
                 "ULM_AUTO_PULL=1)", n, m, n, m);
    }
}

/* An attempt that got an endpoint ended: counted, its health noted, its slot given back. */
static void attempt_ended(ulm_call *k, int rc)
{
    k->probe_at = 0;
    ulm__load_probe_stop(&k->probe, k->engine);
    name_the_fix(k, rc);
    k->reported_window = rc == ULM_ECONTEXT_LENGTH ? k->result.context_window : 0;
    const ulm_clocks *clocks = &k->clocks;
    double now = ulm__now_ms();
    double first_token = k->on_delta && clocks->first_token_at
                             ? clocks->first_token_at - clocks->attempt_start : -1;
    double load_wait = k->target.backend->local && clocks->headers_at
                           ? clocks->headers_at - clocks->attempt_start : -1;
    ulm__metrics_request_finished(metrics(k), backend_index(k, k->target.backend),
                                  k->target.model, rc, now - k->attempt_start, first_token,
                                  load_wait, k->result.prompt_tokens,
                                  k->result.completion_tokens);
    free_views(k);
    note_outcome(k, rc);
    release_slot(k);
    round_attempt_ended(k, rc, k->x.http_status, k->x.delivered, k->x.retry_after_ms);
}

/* Asks the runner whether the attempt's model is loaded, beside its request. */
static void start_probe(ulm_call *k)
{
    if (ulm__load_probe_start(&k->probe, k->client, k->target.backend, k->endpoint,
                              k->x.base_url, k->target.model,
                              k->op == ULM_OP_EMBED ? "embedding" : "completion", &k->clocks,
                              k->engine) != ULM_OK)
        ulm__log_event(logger(k), ULM_LOG_DEBUG,
                       target_fields(k, "load_probe.skipped", next_attempt(k), ULM_ENOMEM, -1),
                       "%s: no memory to ask whether %s is loaded", k->target.backend->name,
                       k->target.model);
    else if (k->probe) {
        k->probe->on_loading = probe_saw_loading;
        k->probe->loading_ctx = k;
    }
}

/* Sends the attempt's request to its endpoint (again, for a loading model). */
static void send(ulm_call *k)
{
    int local = ulm__target_is_local(&k->target);
    int again = k->load_end != 0; /* a loading model asked again: its state is known */
    ulm__clocks_start(&k->clocks, &k->timeouts, local, k->deadline, k->load_end);
    k->load_end = k->clocks.load_end;
    ulm__result_clear(&k->result);
    k->state = ULM_CALL_SENDING;
    if (!again)
        tell_state(k, ULM_MEMBER_WAITING);
    if (ulm__exchange_start(&k->x, k->engine) != ULM_OK) {
        attempt_ended(k, k->x.rc);
        return;
    }
    k->probe_at = local && !again && ulm__load_probe_wanted(k->client, k->target.backend,
                                                            k->endpoint, k->x.base_url)
                      ? k->clocks.attempt_start + ULM_LOAD_PROBE_AFTER_MS
                      : 0;
}

static void on_exchange_done(ulm_exchange *x, void *ctx)
{
    ulm_call *k = ctx;
    int rc = x->rc;
    /* loading is waiting, not failing: ask again until the load budget runs out */
    if (rc == ULM_EMODEL_LOADING && ulm__target_is_local(&k->target) && !x->delivered) {
        double now = ulm__now_ms();
        double left = (k->load_end < k->deadline ? k->load_end : k->deadline) - now;
        if (left > 0) {
            ulm__log_event(logger(k), ULM_LOG_DEBUG,
                           target_fields(k, "model.loading", next_attempt(k),
                                          ULM_EMODEL_LOADING, now - k->attempt_start),
                           "%s/%s is loading; asking again", k->target.backend->name,
                           k->target.model);
            double poll = (double)ulm__error_policy(ULM_EMODEL_LOADING)->wait_ms;
            k->state = ULM_CALL_WAIT_LOAD;
            k->wake_at = now + (left < poll ? left : poll);
            tell_state(k, ULM_MEMBER_LOADING);
            return;
        }
        rc = k->load_end < k->deadline ? ULM_ELOAD_TIMEOUT : ULM_ETIMEOUT;
        ulm__set_errbuf(x->errmsg, sizeof x->errmsg,
                        "%s: the model was still loading when %s ran out",
                        k->target.backend->name,
                        rc == ULM_ELOAD_TIMEOUT ? "the load budget" : "the call's deadline");
        x->rc = rc;
    }
    attempt_ended(k, rc);
}

/* The model's configured parameters and prompt template, applied to the request. */
static int prepare_request(ulm_call *k)
{
    const ulm_file_model *params = ulm__client_model_params(k->client, k->target.backend,
                                                            k->target.model);
    if (!params)
        return ULM_OK;
    if (params->prompt_template != ULM_TEMPLATE_CHAT &&
        !(k->shaped = ulm__request_with_template(k->req, params->prompt_template)))
        return ULM_ENOMEM;
    k->view = ulm__request_with_defaults(k->shaped ? k->shaped : k->req,
                                         params->has_temperature, params->temperature,
                                         params->max_tokens);
    return k->view ? ULM_OK : ULM_ENOMEM;
}

/* With a slot in hand: a healthy deployment, and the request sent to it. */
static void slot_ready(ulm_call *k)
{
    ulm_client *c = k->client;
    ulm_backend *b = k->target.backend;
    double now = ulm__now_ms();
    k->slot_at = now;
    pthread_mutex_lock(&c->policy_lock);
    unsigned int cursor = b->cursor;
    int e = ulm__pick_endpoint(b->health, b->endpoint_count, b->balance, &b->cursor,
                               &c->settings.breaker, now, k->tried);
    if (k->tried)
        b->cursor = cursor; /* a failover is not a turn: the next call keeps the rotation */
    double ready_at = now;
    ulm_breaker_state state = ULM_BREAKER_CLOSED;
    if (e >= 0) {
        b->health[e].in_flight++;
        k->tried |= e < 64 ? (uint64_t)1 << e : 0;
        state = b->health[e].breaker.state; /* read under the lock: other threads record */
    } else {
        ready_at = ulm__breaker_ready_at(&b->health[0].breaker, &c->settings.breaker, now);
        for (size_t i = 1; i < b->endpoint_count; i++) {
            double r = ulm__breaker_ready_at(&b->health[i].breaker, &c->settings.breaker, now);
            ready_at = r < ready_at ? r : ready_at;
        }
    }
    pthread_mutex_unlock(&c->policy_lock);
    if (e < 0) {
        ulm__set_errbuf(k->x.errmsg, sizeof k->x.errmsg,
                        "%s: cooling down after repeated failures (next try in %.1f s)",
                        b->name, (ready_at - now) / 1e3);
        release_slot(k);
        round_attempt_ended(k, ULM_ECIRCUIT_OPEN, 0, 0, -1);
        return;
    }
    k->endpoint = e;
    k->load_end = 0;
    size_t bi = backend_index(k, b);
    ulm__metrics_in_flight(metrics(k), bi, +1);
    ulm__metrics_breaker(metrics(k), bi, (size_t)e, state);
    ulm__metrics_request_started(metrics(k), bi, k->target.model);
    if (prepare_request(k) != ULM_OK) {
        ulm__set_errbuf(k->x.errmsg, sizeof k->x.errmsg, "%s: %s", b->name,
                        ulm_strerror(ULM_ENOMEM));
        k->x.rc = ULM_ENOMEM;
        k->x.http_status = 0;
        k->x.delivered = 0;
        k->x.retry_after_ms = -1;
        attempt_ended(k, ULM_ENOMEM);
        return;
    }
    k->x.req = k->view ? k->view : k->req;
    k->x.base_url = k->override_url ? k->override_url : b->urls[e];
    k->attempt_url = k->x.base_url;
    k->x.auth_line = k->override_auth;
    const ulm_backend_override *o = ulm__request_override(k->req, b->name);
    k->x.extra_secret = o ? o->api_key : NULL;
    k->attempt_shown = k->override_url || k->x.extra_secret ? NULL : b->shown_urls[e];
    send(k);
}

static void on_slot(void *ctx)
{
    ulm_call *k = ctx;
    atomic_store(&k->poked, 1);
    ulm__engine_wakeup(k->engine);
}

/* An attempt: a slot in the backend's limit first, unless the backend is switched off. */
static void begin_attempt(ulm_call *k)
{
    ulm_backend *b = k->target.backend;
    k->attempt_start = ulm__now_ms();
    k->endpoint = -1;
    k->attempt_url = NULL;
    k->attempt_shown = NULL;
    k->x = (ulm_exchange){
        .client = k->client,
        .backend = b,
        .model = k->target.model,
        .op = k->op,
        .req = k->req,
        .base_url = b->urls[0],
        .clocks = &k->clocks,
        .on_delta = k->on_delta,
        .delta_payload = k->payload,
        .result = &k->result,
        .on_done = on_exchange_done,
        .on_done_ctx = k,
        .retry_after_ms = -1,
        .attempt = next_attempt(k),
    };
    if (b->disabled[0]) { /* nothing to send: no slot, no endpoint, no health to record */
        ulm__exchange_start(&k->x, k->engine);
        round_attempt_ended(k, k->x.rc, 0, 0, -1);
        return;
    }
    if (!b->limiter) {
        slot_ready(k);
        return;
    }
    k->waiter = (ulm_limiter_waiter){.notify = on_slot, .ctx = k};
    atomic_store(&k->poked, 0);
    int rc = ulm__limiter_acquire(b->limiter, &k->waiter, k->attempt_start, k->deadline);
    if (rc == ULM_OK) {
        k->holds_slot = 1;
        slot_ready(k);
    } else if (rc == ULM_LIMITER_QUEUED) {
        k->state = ULM_CALL_WAIT_SLOT;
        tell_state(k, ULM_MEMBER_WAITING);
        ulm__metrics_queued(metrics(k), backend_index(k, b), +1);
    } else {
        ulm__set_errbuf(k->x.errmsg, sizeof k->x.errmsg,
                        "%s: %u requests in flight and %u waiting: no slot before the deadline",
                        b->name, b->limiter->max_in_flight, b->limiter->max_queue);
        ulm__metrics_queue_rejected(metrics(k), backend_index(k, b));
        round_attempt_ended(k, ULM_EBUSY, 0, 0, -1);
    }
}

/* ------------------------------------------------------------ a round, a target */

static void target_ended(ulm_call *k, int rc);

/* The pull's progress in the log, every tenth of the way. */
static int on_pull_progress(const ulm_pull_progress *p, void *ctx)
{
    ulm_call *k = ctx;
    if (p->percent >= k->pull_reported + 10) {
        k->pull_reported = p->percent - (double)((long)p->percent % 10);
        ulm__log_event(logger(k), ULM_LOG_INFO,
                       target_fields(k, "model.pull.progress", next_attempt(k), ULM_OK,
                                      ulm__now_ms() - k->attempt_start),
                       "%s: pulling %.*s: %.0f%% (%.1f of %.1f MB)", k->target.backend->name, typed_length(k->target.model), k->target.model,
                 p->percent, p->done_bytes / 1e6, p->total_bytes / 1e6);
    }
    return 0;
}

/* The pull failed: an attempt in the trail says why, and the chain decides. */
static void pull_failed(ulm_call *k, int rc, const char *why)
{
    const ulm_target *t = &k->target;
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message, "%s: %.*s is not pulled, and pulling it failed: %s",
                    t->backend->name, typed_length(t->model), t->model, why);
    ulm_log_fields fields = target_fields(k, "model.pull.failed", next_attempt(k), rc,
                                          ulm__now_ms() - k->attempt_start);
    fields.http_status = k->pull ? k->pull->x.http_status : 0;
    ulm__log_event(logger(k), ULM_LOG_WARN, fields, "%s", message);
    if (rc == ULM_ENOMEM || ulm__response_add_attempt(k->resp, t->backend->name, t->model, NULL, rc,
                                                      k->pull ? k->pull->x.http_status : 0,
                                                      ulm__now_ms() - k->attempt_start,
                                                      message) != ULM_OK) {
        finish(k, ULM_ENOMEM);
        return;
    }
    k->last = rc;
    target_ended(k, rc);
}

static void on_pull_done(ulm_exchange *x, void *ctx)
{
    (void)x;
    ulm_call *k = ctx;
    char why[ULM_ERROR_SIZE];
    int rc = ulm__pull_outcome(k->pull, why, sizeof why);
    if (rc == ULM_ETIMEOUT && k->pull_end < k->deadline) {
        rc = ULM_ELOAD_TIMEOUT;
        ulm__set_errbuf(why, sizeof why, "not done within the load budget of %ld ms",
                        k->timeouts.ms[ULM_CLOCK_LOAD]);
    }
    ulm__pull_clear(k->pull);
    if (rc != ULM_OK) {
        pull_failed(k, rc, why);
        return;
    }
    double pull_ms = ulm__now_ms() - k->attempt_start;
    ulm__log_event(logger(k), ULM_LOG_INFO,
                   target_fields(k, "model.pulled", next_attempt(k), ULM_OK, pull_ms),
                   "%s: pulled %.*s in %.1f s; asking again", k->target.backend->name,
                   typed_length(k->target.model), k->target.model, pull_ms / 1e3);
    start_round(k); /* afresh: the deployment that had no model is the one to ask */
}

/*
 * The target's runner does not have its model: pull it now, within the load budget (a
 * model must be there before it can load), then ask again. One pull per target.
 */
static void start_pull(ulm_call *k)
{
    const ulm_target *t = &k->target;
    k->pulled = 1;
    if (!k->pull && !(k->pull = ulm__calloc(1, sizeof *k->pull))) {
        finish(k, ULM_ENOMEM);
        return;
    }
    double now = ulm__now_ms();
    k->attempt_start = now;
    k->pull_end = now + (double)k->timeouts.ms[ULM_CLOCK_LOAD];
    if (k->deadline < k->pull_end)
        k->pull_end = k->deadline;
    k->pull_reported = 0;
    ulm__log_event(logger(k), ULM_LOG_INFO,
                   target_fields(k, "model.pull.started", next_attempt(k), ULM_OK, -1),
                   "%s: %.*s is not pulled; pulling it (auto_pull)", t->backend->name,
                   typed_length(t->model), t->model);
    char why[ULM_ERROR_SIZE];
    int rc = ulm__pull_prepare(k->pull, k->client, t->backend, k->x.base_url, t->model,
                               k->pull_end, on_pull_progress, k, on_pull_done, k, why,
                               sizeof why);
    if (rc == ULM_OK && ulm__exchange_start(&k->pull->x, k->engine) != ULM_OK)
        rc = ulm__pull_outcome(k->pull, why, sizeof why);
    if (rc != ULM_OK) {
        ulm__pull_clear(k->pull);
        pull_failed(k, rc, why);
        return;
    }
    k->state = ULM_CALL_PULLING;
    tell_state(k, ULM_MEMBER_PULLING);
}

/* How long to wait before retrying: what the server asked for (asked >= 0), else backoff
 * with jitter. */
static double retry_pause(ulm_call *k, long asked)
{
    if (asked >= 0)
        return (double)asked;
    return ulm__backoff_ms(&k->client->settings.retry, k->retry, random01(k));
}

/* A target's round ended with rc: another round after a pause, or the chain decides. */
static void round_ended(ulm_call *k, int rc)
{
    if (rc == ULM_OK || rc == ULM_ENOMEM || k->delivered ||
        k->retry >= k->client->settings.retry.max_retries || !ulm__error_policy(rc)->retry_here) {
        target_ended(k, rc);
        return;
    }
    double pause = retry_pause(k, k->retry_after_ms);
    double now = ulm__now_ms();
    if (now + pause >= k->deadline) {
        ulm__log_event(logger(k), ULM_LOG_INFO,
                       target_fields(k, "retry.abandoned", next_attempt(k) - 1, rc, pause),
                       "%s/%s: no time left for a retry in %.0f ms", k->target.backend->name,
                       k->target.model, pause);
        target_ended(k, rc);
        return;
    }
    ulm__log_event(logger(k), ULM_LOG_INFO, target_fields(k, "retry", next_attempt(k), rc, pause),
                   "%s/%s: retry %u in %.0f ms", k->target.backend->name, k->target.model,
                   k->retry + 1, pause);
    ulm__metrics_retry(metrics(k), backend_index(k, k->target.backend), k->target.model);
    ulm__result_clear(&k->result);
    k->retry++;
    k->state = ULM_CALL_WAIT_RETRY;
    k->wake_at = now + pause;
    tell_state(k, ULM_MEMBER_WAITING);
}

/* The attempt's URL as its record shows it, redacted; NULL when none was picked, or when
 * memory ran out (k->attempt_url is then set). When the backend's copy, redacted once,
 * does not serve, *made gets one for the caller to free. */
static const char *shown_attempt_url(const ulm_call *k, char **made)
{
    *made = NULL;
    if (!k->attempt_url)
        return NULL;
    if (k->attempt_shown)
        return k->attempt_shown;
    return *made = ulm__exchange_shown_url(&k->x, k->attempt_url);
}

/*
 * One attempt of the round ended. When a deployment failed in a way that says the
 * endpoint is unwell, the same request goes at once to each other deployment that is not
 * cooling down; every try is an attempt in the trail.
 */
static void round_attempt_ended(ulm_call *k, int rc, int status, size_t delivered,
                                long retry_after_ms)
{
    const ulm_target *t = &k->target;
    if (rc == ULM_ECIRCUIT_OPEN && k->tried) { /* no other deployment to fail over to */
        round_ended(k, k->last);
        return;
    }
    k->status = status;
    k->delivered = delivered;
    k->retry_after_ms = retry_after_ms;
    double ms = ulm__now_ms() - k->attempt_start;
    char *made = NULL;
    const char *url = shown_attempt_url(k, &made);
    int added = rc == ULM_ENOMEM || (k->attempt_url && !url)
                    ? ULM_ENOMEM
                    : ulm__response_add_attempt(k->resp, t->backend->name, t->model, url, rc,
                                                status, ms, rc == ULM_OK ? "" : k->x.errmsg);
    ulm__free(made);
    k->attempt_url = NULL; /* recorded: a later cancellation is not this attempt's */
    k->attempt_shown = NULL;
    if (added != ULM_OK) {
        finish(k, ULM_ENOMEM);
        return;
    }
    k->last = rc;
    if (rc == ULM_EMODEL_NOT_FOUND && !delivered && !k->pulled && pulls_missing(k)) {
        start_pull(k);
        return;
    }
    if (rc == ULM_OK || delivered || !ulm__error_policy(rc)->other_deployment ||
        t->backend->endpoint_count < 2) {
        round_ended(k, rc);
        return;
    }
    ulm__log_event(logger(k), ULM_LOG_INFO, target_fields(k, "failover", next_attempt(k), rc, -1),
                   "%s/%s: trying another deployment", t->backend->name, t->model);
    ulm__result_clear(&k->result);
    begin_attempt(k);
}

static void start_round(ulm_call *k)
{
    k->tried = 0;
    k->last = ULM_OK;
    k->status = 0;
    begin_attempt(k);
}

/* ------------------------------------------------------------ the chain */

/* Records a target the policy passed over without sending anything. */
static int skip_target(ulm_call *k, const ulm_target *t, int code, const char *why)
{
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message, "%s: skipped: %s", t->backend->name, why);
    ulm_log_fields fields = {.event = "target.skipped",
                             .backend = t->backend->name,
                             .model = t->model,
                             .attempt = next_attempt(k),
                             .error = code,
                             .ms = -1};
    ulm__log_event(logger(k), ULM_LOG_INFO, fields, "%s", message);
    return ulm__response_add_attempt(k->resp, t->backend->name, t->model, NULL, code, 0, 0,
                                     message);
}

/* The context window the configuration gives a target, 0 when unknown. */
static long context_window(const ulm_client *c, const ulm_target *t)
{
    const ulm_file_model *m = ulm__client_model_params(c, t->backend, t->model);
    return m ? m->context_window : 0;
}

/* Whether a failure at a target moves the call to the next one (docs/errors.md). */
static int falls_through(int code, const ulm_target *t)
{
    ulm_fallback f = ulm__error_policy(code)->falls_back;
    return f == ULM_FALLBACK_YES || (f == ULM_FALLBACK_LOCAL && ulm__target_is_local(t));
}

/* The answer's timings and cost, for comparing backends. */
static void account(const ulm_call *k, ulm_response *resp)
{
    const ulm_clocks *clocks = &k->clocks;
    double end = ulm__now_ms();
    resp->connect_ms = k->x.connect_ms;
    resp->first_byte_ms = k->x.first_byte_ms;
    if (k->on_delta && clocks->first_token_at)
        resp->first_token_ms = clocks->first_token_at - k->start;
    /* streamed tokens arrive from the first one on; a whole answer in the request's time */
    double from = k->on_delta && clocks->first_token_at ? clocks->first_token_at
                                                         : clocks->attempt_start;
    if (resp->completion_tokens >= 0 && end > from)
        resp->tokens_per_second = (double)resp->completion_tokens / ((end - from) / 1e3);
    const ulm_file_model *m = ulm__client_model_params(k->client, k->target.backend,
                                                       k->target.model);
    if (m && m->has_price && resp->prompt_tokens >= 0 && resp->completion_tokens >= 0)
        resp->cost = ((double)resp->prompt_tokens * m->input_price +
                      (double)resp->completion_tokens * m->output_price) / 1e6;
}

/* A target's last round ended: the answer, a broken stream, or the next target. */
static void target_ended(ulm_call *k, int rc)
{
    ulm_client *c = k->client;
    ulm_response *resp = k->resp;
    const ulm_target t = k->target;
    int add = ULM_OK;
    if (rc == ULM_OK) {
        add = take_result(resp, &t, k->status, &k->result);
        resp->offline = ulm__target_is_local(&t) && (k->skip_cloud || k->cloud_unreachable);
        account(k, resp);
    } else if (k->delivered && rc != ULM_ENOMEM) {
        add = fail_incomplete(resp, &t, rc, k->status, &k->result, k->delivered, k->x.errmsg);
    }
    ulm__result_clear(&k->result);
    if (add == ULM_ENOMEM || rc == ULM_ENOMEM) {
        finish(k, ULM_ENOMEM);
        return;
    }
    if (rc == ULM_OK || k->delivered) {
        finish(k, rc);
        return;
    }
    long window = context_window(c, &t);
    if (!window)
        window = k->reported_window; /* the server named it in its refusal */
    if (rc == ULM_ECONTEXT_LENGTH && window > k->too_small)
        k->too_small = window;
    if (k->cloud_unreachable && !k->locals_added && c->settings.use_local_models_when_offline) {
        k->locals_added = 1; /* the network is down: end the chain on local models */
        if (ulm__route_add_local_models(c, &k->targets) != ULM_OK) {
            finish(k, ULM_ENOMEM);
            return;
        }
    }
    size_t i = k->index;
    int next = i + 1 < k->targets.count && falls_through(rc, &t);
    if (!next) {
        finish(k, fail_chain(k));
        return;
    }
    ulm_log_fields fields = {.event = "fallback",
                             .backend = t.backend->name,
                             .model = t.model,
                             .attempt = next_attempt(k),
                             .error = rc,
                             .ms = -1};
    ulm__log_event(logger(k), ULM_LOG_INFO, fields, "falling back from %s/%s to %s/%s",
                   t.backend->name, t.model, k->targets.items[i + 1].backend->name,
                   k->targets.items[i + 1].model);
    ulm__metrics_fallback(metrics(k), backend_index(k, t.backend),
                          backend_index(k, k->targets.items[i + 1].backend));
    k->index = i + 1;
    next_target(k);
}

static void drop_override(ulm_call *k)
{
    ulm__free(k->override_url);
    ulm__free_secret(k->override_auth);
    k->override_url = k->override_auth = NULL;
}

/* The request's own URL and key for the target's backend (multi-tenant hosts), if any. */
static int take_override(ulm_call *k)
{
    drop_override(k);
    const ulm_backend *b = k->target.backend;
    const ulm_backend_override *o = ulm__request_override(k->req, b->name);
    if (!o)
        return ULM_OK;
    if (o->base_url && !(k->override_url = ulm__backend_api_root(b, o->base_url)))
        return ULM_ENOMEM;
    if (o->api_key && b->provider->auth_header &&
        !(k->override_auth = ulm__backend_auth_line(b, o->api_key)))
        return ULM_ENOMEM;
    return ULM_OK;
}

/* Tries the chain's targets from k->index on, passing over those the policy skips. */
static void next_target(ulm_call *k)
{
    ulm_client *c = k->client;
    for (; k->index < k->targets.count; k->index++) {
        const ulm_target t = k->targets.items[k->index]; /* a copy: appending may move it */
        if (ulm__now_ms() >= k->deadline) {
            finish(k, fail_deadline(k->resp, k, &t));
            return;
        }
        long window = context_window(c, &t);
        int offline_skip = k->skip_cloud && !ulm__target_is_local(&t);
        if (offline_skip || (k->too_small && window && window <= k->too_small)) {
            int code = offline_skip ? ULM_ECONNECT : ULM_ECONTEXT_LENGTH;
            if (skip_target(k, &t, code,
                            offline_skip ? "offline: the cloud is unreachable"
                                         : "its context window is no larger") != ULM_OK) {
                finish(k, ULM_ENOMEM);
                return;
            }
            continue;
        }
        k->target = t;
        ulm__result_clear(&k->result);
        k->retry = 0;
        k->delivered = 0;
        k->pulled = 0;
        /* the local backend's address, when none was given, is found once per client: the
         * first call to need it waits for the probes, which are bounded and short */
        if ((t.backend == c->local_backend && c->discovery.pending &&
             ulm__dmr_discover(c) != ULM_OK) ||
            take_override(k) != ULM_OK) {
            finish(k, ULM_ENOMEM);
            return;
        }
        start_round(k);
        return;
    }
    finish(k, k->resp->attempt_count ? fail_chain(k) : ULM_OK);
}

/* ------------------------------------------------------------ driving it */



int ulm__call_init(ulm_call *k, ulm_client *c, const ulm_request *req, double now,
                   const ulm_call_setup *setup)
{
    static const ulm_call_setup plain = {0};
    if (!setup)
        setup = &plain;
    memset(k, 0, sizeof *k);
    k->client = c;
    k->req = req;
    k->op = setup->op ? setup->op : ULM_OP_CHAT;
    k->start = now;
    k->endpoint = -1;
    ulm__result_init(&k->result);
    if (!(k->resp = ulm__response_new()))
        return ULM_ENOMEM;
    ulm__request_timeouts(req, &c->settings.timeouts, &k->timeouts);
    k->deadline = now + (double)k->timeouts.ms[ULM_CLOCK_OVERALL];
    if (setup->deadline_cap > 0 && setup->deadline_cap < k->deadline)
        k->deadline = setup->deadline_cap;
    k->on_delta = setup->on_delta ? setup->on_delta : ulm__request_on_delta(req, &k->payload);
    if (setup->on_delta)
        k->payload = setup->payload;
    if (k->op != ULM_OP_CHAT)
        k->on_delta = NULL; /* only text streams */
    k->random_state = (uint64_t)(now * 1e3) ^ (uint64_t)(uintptr_t)k ^ 0x9E3779B97F4A7C15ULL;

    char errmsg[ULM_ERROR_SIZE];
    int rc;
    if (k->op == ULM_OP_CHAT && ulm_request_message_count(req) == 0)
        rc = fail(k->resp, ULM_EINVAL, "request: no messages");
    else if (k->op == ULM_OP_EMBED && ulm_request_input_count(req) == 0)
        rc = fail(k->resp, ULM_EINVAL, "request: no input to embed");
    else if ((rc = ulm__route(c, req, setup->models, &k->targets, errmsg, sizeof errmsg)) !=
                 ULM_OK &&
             rc != ULM_ENOMEM)
        rc = fail(k->resp, rc, errmsg);
    if (rc == ULM_ENOMEM)
        return ULM_ENOMEM;
    if (rc != ULM_OK) {
        k->rc = rc;
        k->state = ULM_CALL_DONE;
        k->resp->latency_ms = ulm__now_ms() - now;
    }
    return ULM_OK;
}

void ulm__call_begin(ulm_call *k, ulm_engine *e)
{
    k->engine = e;
    if (k->state == ULM_CALL_DONE) {
        if (k->on_done)
            k->on_done(k, k->on_done_ctx);
        return;
    }
    if (start_offline_mode(k) != ULM_OK) {
        finish(k, ULM_ENOMEM);
        return;
    }
    k->index = 0;
    next_target(k);
}

static double wake_at(const ulm_call *k)
{
    switch (k->state) {
    case ULM_CALL_SENDING:
        return k->probe_at;
    case ULM_CALL_WAIT_LOAD:
    case ULM_CALL_WAIT_RETRY:
        return k->wake_at;
    case ULM_CALL_WAIT_SLOT:
        return k->deadline;
    default:
        return 0;
    }
}

static void wake(ulm_call *k, double now)
{
    switch (k->state) {
    case ULM_CALL_SENDING:
        if (k->probe_at && now >= k->probe_at) {
            k->probe_at = 0;
            if (!k->clocks.headers_at) /* else the model is answering: nothing to ask */
                start_probe(k);
        }
        break;
    case ULM_CALL_WAIT_LOAD:
        if (now >= k->wake_at)
            send(k);
        break;
    case ULM_CALL_WAIT_RETRY:
        if (now >= k->wake_at)
            start_round(k);
        break;
    case ULM_CALL_WAIT_SLOT: {
        ulm_limiter *l = k->target.backend->limiter;
        if (atomic_exchange(&k->poked, 0) && ulm__limiter_granted(l, &k->waiter)) {
            ulm__metrics_queued(metrics(k), backend_index(k, k->target.backend), -1);
            k->holds_slot = 1;
            slot_ready(k);
        } else if (now >= k->deadline) {
            ulm__metrics_queued(metrics(k), backend_index(k, k->target.backend), -1);
            ulm__metrics_queue_rejected(metrics(k), backend_index(k, k->target.backend));
            ulm__limiter_leave(l, &k->waiter);
            ulm__set_errbuf(k->x.errmsg, sizeof k->x.errmsg,
                            "%s: %u requests in flight and %u waiting: no slot before the "
                            "deadline", k->target.backend->name, l->max_in_flight, l->max_queue);
            round_attempt_ended(k, ULM_EBUSY, 0, 0, -1);
        }
        break;
    }
    default:
        break;
    }
}

double ulm__call_tend(ulm_call *k, double now)
{
    double at = wake_at(k);
    if ((at && now >= at) || atomic_load_explicit(&k->poked, memory_order_relaxed)) {
        wake(k, now);
        at = wake_at(k);
    }
    return at;
}

void ulm__call_stop(ulm_call *k, int code, const char *message)
{
    size_t delivered = k->delivered;
    switch (k->state) {
    case ULM_CALL_DONE:
        return;
    case ULM_CALL_SENDING:
        ulm__exchange_abort(&k->x, k->engine);
        delivered = k->x.delivered;
        /* fall through */
    case ULM_CALL_WAIT_LOAD:
        ulm__load_probe_stop(&k->probe, k->engine);
        ulm__metrics_request_finished(metrics(k), backend_index(k, k->target.backend),
                                      k->target.model, code, ulm__now_ms() - k->attempt_start,
                                      -1, -1, -1, -1);
        free_views(k);
        abandon_endpoint(k);
        release_slot(k);
        break;
    case ULM_CALL_WAIT_SLOT:
        ulm__metrics_queued(metrics(k), backend_index(k, k->target.backend), -1);
        ulm__limiter_leave(k->target.backend->limiter, &k->waiter);
        break;
    case ULM_CALL_PULLING:
        ulm__exchange_abort(&k->pull->x, k->engine);
        ulm__pull_clear(k->pull);
        break;
    default:
        break;
    }
    int rc = code;
    if (k->state != ULM_CALL_IDLE) {
        const ulm_target *t = &k->target;
        char why[ULM_ERROR_SIZE];
        ulm__set_errbuf(why, sizeof why, "%s: %s", t->backend->name, message);
        char *made = NULL;
        const char *url = shown_attempt_url(k, &made);
        int added = k->attempt_url && !url
                        ? ULM_ENOMEM
                        : ulm__response_add_attempt(k->resp, t->backend->name, t->model, url,
                                                    code, 0, ulm__now_ms() - k->attempt_start,
                                                    why);
        ulm__free(made);
        if (added != ULM_OK)
            rc = ULM_ENOMEM;
        else if (delivered)
            rc = fail_incomplete(k->resp, t, code, 0, &k->result, delivered, why);
        else
            rc = fail(k->resp, code, why);
        if (rc == code && !delivered) {
            ulm__free(k->resp->provider);
            if (!(k->resp->provider = ulm__strdup(t->backend->name)))
                rc = ULM_ENOMEM;
        }
    } else if (fail(k->resp, code, message) != code) {
        rc = ULM_ENOMEM;
    }
    finish(k, rc == code ? code : ULM_ENOMEM);
}

ulm_response *ulm__call_take_response(ulm_call *k)
{
    ulm_response *resp = k->rc == ULM_ENOMEM ? NULL : k->resp;
    if (resp)
        k->resp = NULL;
    return resp;
}

void ulm__call_clear(ulm_call *k)
{
    if (k->pull)
        ulm__pull_clear(k->pull);
    ulm__free(k->pull);
    k->pull = NULL;
    drop_override(k);
    ulm__result_clear(&k->result);
    ulm__target_list_clear(&k->targets);
    free_views(k);
    ulm_response_free(k->resp);
    k->resp = NULL;
}
