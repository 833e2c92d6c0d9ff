/* complete.c - ulm_complete(): resolve the targets, then run the routing policy over them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "clocks.h"
#include "response.h"

/* How often to ask again while a local model answers that it is still loading (DMR polls
 * its runner every 500 ms). */
#define LOADING_POLL_MS 500.0

/*
 * Whether a failure at one target should move the call to the next. Retryable classes
 * do; so do failures that say nothing about the request itself: a backend without a
 * key, an exhausted account, a context window too small, a local model not pulled. An
 * invalid request, refused credentials or a cloud model that does not exist would fail
 * the same way elsewhere or hide a mistake, so they stop the call; a prompt a safety filter
 * refused stops it too, rather than be sent around the filter to the next provider.
 */
static int falls_through(int code, const ulm_backend *b)
{
    if (code == ULM_ETIMEOUT)
        return 0; /* the whole call's budget is spent */
    if (ulm_error_is_retryable(code))
        return 1;
    switch (code) {
    case ULM_ENOT_CONFIGURED:
    case ULM_EQUOTA:
    case ULM_ECONTEXT_LENGTH:
    case ULM_EPROTOCOL:
        return 1;
    case ULM_EMODEL_NOT_FOUND:
        return (b->provider->flags & ULM_PROVIDER_LOCAL) != 0;
    default:
        return 0;
    }
}

/* Whether a failure says the endpoint itself is unwell: its circuit breaker counts it. */
static int hurts_endpoint(int code)
{
    switch (code) {
    case ULM_ECONNECT:
    case ULM_ECONNECT_TIMEOUT:
    case ULM_ETRANSPORT:
    case ULM_ESERVER:
    case ULM_EUNAVAILABLE:
    case ULM_ERATE_LIMIT:
    case ULM_EMODEL_LOAD:
    case ULM_ELOAD_TIMEOUT:
    case ULM_EFIRST_TOKEN_TIMEOUT:
    case ULM_EIDLE_TIMEOUT:
    case ULM_ETIMEOUT:
        return 1;
    default:
        return 0;
    }
}

/* A network that does not reach the backend, as opposed to an answer from it. */
static int unreachable(int code)
{
    return code == ULM_ECONNECT || code == ULM_ECONNECT_TIMEOUT;
}

static int is_local(const ulm_target *t)
{
    return (t->backend->provider->flags & ULM_PROVIDER_LOCAL) != 0;
}

static int fail(ulm_response *resp, int code, const char *message)
{
    resp->error = code;
    free(resp->error_message);
    resp->error_message = ulm__strdup(message);
    return resp->error_message ? code : ULM_ENOMEM;
}

static int take_result(ulm_response *resp, const ulm_target *t, int status, ulm_result *r)
{
    resp->error = ULM_OK;
    resp->http_status = status;
    free(resp->provider);
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
    return resp->text && resp->model && resp->provider ? ULM_OK : ULM_ENOMEM;
}

/* ------------------------------------------------------------ targets */

typedef struct target_list {
    ulm_target *items;
    size_t count, cap;
} target_list;

static int append_target(target_list *l, const ulm_target *t)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].backend == t->backend && strcmp(l->items[i].model, t->model) == 0)
            return ULM_OK; /* an alias and a name may say the same target twice */
    if (ulm__reserve((void **)&l->items, &l->cap, l->count, sizeof *l->items) != ULM_OK)
        return ULM_ENOMEM;
    l->items[l->count++] = *t;
    return ULM_OK;
}

/* Appends the targets one model string names: an alias's chain, or one target. */
static int add_spec(ulm_client *c, const char *spec, target_list *l, char *errmsg,
                    size_t errmsg_size)
{
    const ulm_file_alias *alias = strchr(spec, '/') ? NULL
                                                    : ulm__file_config_alias(&c->settings.file,
                                                                             spec);
    size_t n = alias ? alias->target_count : 1;
    for (size_t i = 0; i < n; i++) {
        ulm_target t;
        int rc = ulm__target_resolve(c, alias ? alias->targets[i] : spec, &t, errmsg,
                                     errmsg_size);
        if (rc == ULM_OK)
            rc = append_target(l, &t);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* Resolves every target before anything is sent, so a typo fails the call at once. */
static int resolve_targets(ulm_client *c, const ulm_request *req, target_list *l,
                           char *errmsg, size_t errmsg_size)
{
    size_t n = ulm__request_model_count(req);
    if (!n)
        return add_spec(c, c->default_model, l, errmsg, errmsg_size);
    for (size_t i = 0; i < n; i++) {
        int rc = add_spec(c, ulm__request_model(req, i), l, errmsg, errmsg_size);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* Offline mode's fallbacks: DEFAULT_LOCAL_MODEL, then AVAILABLE_LOCAL_MODELS, on DMR. */
static int append_local_models(ulm_client *c, target_list *l)
{
    ulm_backend *dmr = ulm__client_backend(c, "dmr");
    if (!dmr || dmr->disabled[0])
        return ULM_OK;
    const ulm_settings *s = &c->settings;
    for (size_t i = 0; i <= s->local_model_count; i++) {
        ulm_target t = {.backend = dmr};
        const char *model = i == 0 ? s->default_local_model : s->local_models[i - 1];
        if (strlen(model) >= sizeof t.model)
            continue;
        strcpy(t.model, model);
        int rc = append_target(l, &t);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* ------------------------------------------------------------ one call */

/* One call in progress: what every attempt shares. */
typedef struct call {
    ulm_client *client;
    const ulm_request *req;
    ulm_response *resp;
    ulm_timeouts timeouts;
    double deadline;
    ulm_delta_fn on_delta;
    void *payload;
    uint64_t random_state;  /* backoff jitter */
    int skip_cloud;         /* offline: cloud targets are not asked */
    int probing;            /* this call may find out whether the network is back */
    int cloud_unreachable;  /* a cloud target could not be reached during this call */
    int cloud_asked;        /* a cloud target was actually asked */
    int locals_added;       /* offline fallbacks were appended to the chain */
} call;

static double random01(call *k)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    k->random_state ^= k->random_state >> 12;
    k->random_state ^= k->random_state << 25;
    k->random_state ^= k->random_state >> 27;
    return (double)((k->random_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void pause_ms(double ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1e3),
                          .tv_nsec = (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/*
 * One request to one endpoint. A local model that answers "still loading" is asked
 * again until it answers or its load budget runs out: loading is waiting, not failing.
 */
static int ask_endpoint(call *k, const ulm_target *t, const ulm_request *req,
                        ulm_exchange_io *io, ulm_result *result, int *status, char *errmsg,
                        size_t errmsg_size)
{
    int local = is_local(t);
    double load_end = 0;
    for (;;) {
        ulm__clocks_start(io->clocks, &k->timeouts, local, k->deadline, load_end);
        load_end = io->clocks->load_end;
        int rc = ulm__exchange(k->client, t, ULM_OP_CHAT, req, io, result, status, errmsg,
                               errmsg_size);
        if (rc != ULM_EMODEL_LOADING || !local || io->delivered)
            return rc;
        double now = ulm__now_ms();
        double left = (load_end < k->deadline ? load_end : k->deadline) - now;
        if (left <= 0) {
            rc = load_end < k->deadline ? ULM_ELOAD_TIMEOUT : ULM_ETIMEOUT;
            ulm__set_errbuf(errmsg, errmsg_size, "%s: the model was still loading when %s ran out",
                            t->backend->name,
                            rc == ULM_ELOAD_TIMEOUT ? "the load budget" : "the call's deadline");
            return rc;
        }
        ulm__log(k->client, ULM_LOG_DEBUG, "%s/%s is loading; asking again", t->backend->name,
                 t->model);
        ulm__result_clear(result);
        pause_ms(left < LOADING_POLL_MS ? left : LOADING_POLL_MS);
    }
}

/* Records what an attempt says about its endpoint's health and about the network. */
static void note_outcome(call *k, ulm_backend *b, int endpoint, int rc)
{
    ulm_client *c = k->client;
    double now = ulm__now_ms();
    pthread_mutex_lock(&c->policy_lock);
    ulm_endpoint_state *e = &b->health[endpoint];
    e->in_flight--;
    ulm__breaker_record(&e->breaker, &c->settings.breaker, now, !hurts_endpoint(rc));
    if (!(b->provider->flags & ULM_PROVIDER_LOCAL) && c->settings.use_local_models_when_offline)
        ulm__offline_note_cloud(&c->offline, now, unreachable(rc), c->settings.probe_interval_ms);
    pthread_mutex_unlock(&c->policy_lock);
    if (!(b->provider->flags & ULM_PROVIDER_LOCAL)) {
        k->cloud_asked = 1;
        k->cloud_unreachable |= unreachable(rc);
    }
}

/*
 * One attempt at a target: a slot in the backend's limit, a healthy endpoint among its
 * deployments, the request with the model's configured parameters, and the outcome
 * recorded for the breaker and offline mode.
 */
static int attempt(call *k, const ulm_target *t, uint64_t *tried, ulm_exchange_io *io,
                   ulm_result *result, int *status, char *errmsg, size_t errmsg_size)
{
    ulm_client *c = k->client;
    ulm_backend *b = t->backend;
    if (b->disabled[0]) /* nothing to send: no slot, no endpoint, no health to record */
        return ulm__exchange(c, t, ULM_OP_CHAT, k->req, io, result, status, errmsg,
                             errmsg_size);
    if (b->limiter && ulm__limiter_acquire(b->limiter, k->deadline, NULL) != ULM_OK) {
        ulm__set_errbuf(errmsg, errmsg_size,
                        "%s: %u requests in flight and %u waiting: no slot before the deadline",
                        b->name, b->limiter->max_in_flight, b->limiter->max_queue);
        return ULM_EBUSY;
    }
    double now = ulm__now_ms();
    pthread_mutex_lock(&c->policy_lock);
    unsigned int cursor = b->cursor;
    int e = ulm__pick_endpoint(b->health, b->endpoint_count, b->balance, &b->cursor,
                               &c->settings.breaker, now, *tried);
    if (*tried)
        b->cursor = cursor; /* a failover is not a turn: the next call keeps the rotation */
    double ready_at = now;
    if (e >= 0) {
        b->health[e].in_flight++;
        *tried |= e < 64 ? (uint64_t)1 << e : 0;
    } else {
        ready_at = ulm__breaker_ready_at(&b->health[0].breaker, &c->settings.breaker, now);
        for (size_t i = 1; i < b->endpoint_count; i++) {
            double r = ulm__breaker_ready_at(&b->health[i].breaker, &c->settings.breaker, now);
            ready_at = r < ready_at ? r : ready_at;
        }
    }
    pthread_mutex_unlock(&c->policy_lock);
    int rc;
    if (e < 0) {
        ulm__set_errbuf(errmsg, errmsg_size,
                        "%s: cooling down after repeated failures (next try in %.1f s)", b->name,
                        (ready_at - now) / 1e3);
        rc = ULM_ECIRCUIT_OPEN;
    } else {
        const ulm_file_model *params = ulm__client_model_params(c, b, t->model);
        ulm_request *shaped = params && params->prompt_template != ULM_TEMPLATE_CHAT
                                  ? ulm__request_with_template(k->req, params->prompt_template)
                                  : NULL;
        const ulm_request *base = shaped ? shaped : k->req;
        ulm_request *view = params ? ulm__request_with_defaults(base, params->has_temperature,
                                                                params->temperature,
                                                                params->max_tokens)
                                   : NULL;
        if (params && (!view || (params->prompt_template != ULM_TEMPLATE_CHAT && !shaped))) {
            rc = ULM_ENOMEM;
        } else {
            io->base_url = b->urls[e];
            rc = ask_endpoint(k, t, view ? view : k->req, io, result, status, errmsg,
                              errmsg_size);
        }
        free(view);
        ulm_request_free(shaped);
        note_outcome(k, b, e, rc);
    }
    if (b->limiter)
        ulm__limiter_release(b->limiter, ulm__now_ms() - now);
    return rc;
}

/* How long to wait before retrying: what the server asked for (asked >= 0), else backoff
 * with jitter. */
static double retry_pause(call *k, unsigned int retry, long asked)
{
    if (asked >= 0)
        return (double)asked;
    return ulm__backoff_ms(&k->client->settings.retry, retry, random01(k));
}

/*
 * One round at a target: an attempt, and when a deployment fails in a way that says the
 * endpoint is unwell, the same request at once on each other deployment that is not
 * cooling down. Each try is an attempt in the trail; *retry_after_ms gets when the last
 * answer said to ask again (-1: it did not say).
 */
static int run_round(call *k, const ulm_target *t, ulm_result *result, int *status,
                     size_t *delivered, long *retry_after_ms, char *errmsg,
                     size_t errmsg_size)
{
    uint64_t tried = 0;
    int last = ULM_OK;
    for (;;) {
        ulm_clocks clocks = {0}; /* started by ask_endpoint, per request it sends */
        ulm_exchange_io io = {.clocks = &clocks, .on_delta = k->on_delta,
                              .delta_payload = k->payload, .retry_after_ms = -1};
        int last_status = *status;
        *status = 0;
        double start = ulm__now_ms();
        int rc = attempt(k, t, &tried, &io, result, status, errmsg, errmsg_size);
        double ms = ulm__now_ms() - start;
        if (rc == ULM_ECIRCUIT_OPEN && tried) { /* no other deployment to fail over to */
            *status = last_status;
            return last;
        }
        *delivered = io.delivered;
        *retry_after_ms = io.retry_after_ms;
        if (rc == ULM_ENOMEM ||
            ulm__response_add_attempt(k->resp, t->backend->name, t->model, rc, *status, ms,
                                      rc == ULM_OK ? "" : errmsg) != ULM_OK)
            return ULM_ENOMEM;
        last = rc;
        if (rc == ULM_OK || io.delivered || rc == ULM_ETIMEOUT || !hurts_endpoint(rc) ||
            t->backend->endpoint_count < 2)
            return rc;
        ulm__log(k->client, ULM_LOG_INFO, "%s/%s: trying another deployment", t->backend->name,
                 t->model);
        ulm__result_clear(result);
    }
}

/* A target with its retries. Returns the last outcome; *delivered says whether text
 * reached the caller (then nothing is tried again). */
static int run_target(call *k, const ulm_target *t, ulm_result *result, int *status,
                      size_t *delivered, char *errmsg, size_t errmsg_size)
{
    const ulm_retry_policy *policy = &k->client->settings.retry;
    long retry_after_ms;
    for (unsigned int retry = 0;; retry++) {
        *status = 0;
        int rc = run_round(k, t, result, status, delivered, &retry_after_ms, errmsg,
                           errmsg_size);
        if (rc == ULM_OK || rc == ULM_ENOMEM || *delivered || retry >= policy->max_retries ||
            rc == ULM_ETIMEOUT || rc == ULM_ECIRCUIT_OPEN || rc == ULM_EBUSY ||
            !ulm_error_is_retryable(rc))
            return rc;
        double pause = retry_pause(k, retry, retry_after_ms);
        if (ulm__now_ms() + pause >= k->deadline) {
            ulm__log(k->client, ULM_LOG_INFO, "%s/%s: no time left for a retry in %.0f ms",
                     t->backend->name, t->model, pause);
            return rc;
        }
        ulm__log(k->client, ULM_LOG_INFO, "%s/%s: retry %u in %.0f ms", t->backend->name,
                 t->model, retry + 1, pause);
        ulm__result_clear(result);
        pause_ms(pause);
    }
}

/* ------------------------------------------------------------ the chain */

/* A stream that broke after delivering text: the response keeps exactly that text. */
static int fail_incomplete(ulm_response *resp, const ulm_target *t, int code, int status,
                           const ulm_result *r, size_t delivered, const char *why)
{
    resp->incomplete = 1;
    resp->http_status = status;
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

static int fail_deadline(ulm_response *resp, const call *k, const ulm_target *next)
{
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message,
                    "the call's deadline of %ld ms passed before %s/%s could be tried",
                    k->timeouts.ms[ULM_CLOCK_OVERALL], next->backend->name, next->model);
    free(resp->provider);
    resp->provider = ulm__strdup(next->backend->name);
    if (!resp->provider)
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

static int fail_chain(ulm_response *resp)
{
    const ulm_attempt *a = &resp->attempts[reported_attempt(resp)];
    free(resp->provider);
    resp->provider = ulm__strdup(a->provider);
    resp->http_status = a->http_status;
    if (!resp->provider)
        return ULM_ENOMEM;
    char listed[ULM_ERROR_SIZE];
    if (all_cooling_down(resp, listed, sizeof listed))
        return fail(resp, ULM_ECIRCUIT_OPEN, listed);
    return fail(resp, a->error, a->message);
}

/* Records a target the policy passed over without sending anything. */
static int skip_target(call *k, const ulm_target *t, int code, const char *why)
{
    char message[ULM_ERROR_SIZE];
    ulm__set_errbuf(message, sizeof message, "%s: skipped: %s", t->backend->name, why);
    ulm__log(k->client, ULM_LOG_INFO, "%s", message);
    return ulm__response_add_attempt(k->resp, t->backend->name, t->model, code, 0, 0, message);
}

/* The context window the configuration gives a target, 0 when unknown. */
static long context_window(const ulm_client *c, const ulm_target *t)
{
    const ulm_file_model *m = ulm__client_model_params(c, t->backend, t->model);
    return m ? m->context_window : 0;
}

static int run_chain(call *k, target_list *l)
{
    ulm_client *c = k->client;
    ulm_response *resp = k->resp;
    char errmsg[ULM_ERROR_SIZE];
    int rc = ULM_OK;
    long too_small = 0; /* a context window that was too small for this prompt */
    for (size_t i = 0; i < l->count; i++) {
        const ulm_target t = l->items[i]; /* a copy: appending may move the list */
        if (ulm__now_ms() >= k->deadline)
            return fail_deadline(resp, k, &t);
        long window = context_window(c, &t);
        if ((k->skip_cloud && !is_local(&t)) || (too_small && window && window <= too_small)) {
            rc = k->skip_cloud && !is_local(&t) ? ULM_ECONNECT : ULM_ECONTEXT_LENGTH;
            if (skip_target(k, &t, rc, rc == ULM_ECONNECT
                                           ? "offline: the cloud is unreachable"
                                           : "its context window is no larger") != ULM_OK)
                return ULM_ENOMEM;
            continue;
        }
        ulm_result result;
        ulm__result_init(&result);
        int status = 0;
        size_t delivered = 0;
        rc = run_target(k, &t, &result, &status, &delivered, errmsg, sizeof errmsg);
        int add = ULM_OK;
        if (rc == ULM_OK) {
            add = take_result(resp, &t, status, &result);
            resp->offline = is_local(&t) && (k->skip_cloud || k->cloud_unreachable);
        } else if (delivered && rc != ULM_ENOMEM) {
            add = fail_incomplete(resp, &t, rc, status, &result, delivered, errmsg);
        }
        ulm__result_clear(&result);
        if (add == ULM_ENOMEM || rc == ULM_ENOMEM)
            return ULM_ENOMEM;
        if (rc == ULM_OK || delivered)
            return rc;
        if (rc == ULM_ECONTEXT_LENGTH && window > too_small)
            too_small = window;
        if (k->cloud_unreachable && !k->locals_added && c->settings.use_local_models_when_offline) {
            k->locals_added = 1; /* the network is down: end the chain on local models */
            if (append_local_models(c, l) != ULM_OK)
                return ULM_ENOMEM;
        }
        int next = i + 1 < l->count && falls_through(rc, t.backend);
        if (next)
            ulm__log(c, ULM_LOG_INFO, "falling back from %s/%s to %s/%s", t.backend->name,
                     t.model, l->items[i + 1].backend->name, l->items[i + 1].model);
        if (!next)
            return fail_chain(resp);
    }
    return resp->attempt_count ? fail_chain(resp) : rc;
}

/* Decides at the start of a call whether the cloud is skipped as offline. */
static int start_offline_mode(call *k, target_list *l)
{
    ulm_client *c = k->client;
    int has_cloud = 0;
    for (size_t i = 0; i < l->count; i++)
        has_cloud |= !is_local(&l->items[i]) && !l->items[i].backend->disabled[0];
    if (!has_cloud || !c->settings.use_local_models_when_offline)
        return ULM_OK;
    pthread_mutex_lock(&c->policy_lock);
    int was_offline = c->offline.offline;
    k->skip_cloud = ulm__offline_skip_cloud(&c->offline, ulm__now_ms());
    k->probing = was_offline && !k->skip_cloud;
    pthread_mutex_unlock(&c->policy_lock);
    if (k->skip_cloud) {
        k->locals_added = 1;
        return append_local_models(c, l);
    }
    return ULM_OK;
}

/* A probe call that never reached the cloud must not keep other calls from probing. */
static void end_offline_mode(call *k)
{
    if (!k->probing || k->cloud_asked)
        return;
    pthread_mutex_lock(&k->client->policy_lock);
    k->client->offline.probe_in_flight = 0;
    pthread_mutex_unlock(&k->client->policy_lock);
}

int ulm_complete(ulm_response **out, ulm_client *client, const ulm_request *req)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client || !req)
        return ULM_EINVAL;
    ulm_response *resp = ulm__calloc(1, sizeof *resp);
    if (!resp)
        return ULM_ENOMEM;
    resp->prompt_tokens = resp->completion_tokens = resp->total_tokens = -1;
    double start = ulm__now_ms();
    call k = {.client = client, .req = req, .resp = resp};
    ulm__request_timeouts(req, &client->settings.timeouts, &k.timeouts);
    k.deadline = start + (double)k.timeouts.ms[ULM_CLOCK_OVERALL];
    k.on_delta = ulm__request_on_delta(req, &k.payload);
    k.random_state = (uint64_t)(start * 1e3) ^ (uint64_t)(uintptr_t)&k ^ 0x9E3779B97F4A7C15ULL;

    int rc;
    target_list targets = {0};
    char errmsg[ULM_ERROR_SIZE];
    if (ulm_request_message_count(req) == 0) {
        rc = fail(resp, ULM_EINVAL, "request: no messages");
    } else {
        rc = resolve_targets(client, req, &targets, errmsg, sizeof errmsg);
        if (rc == ULM_OK)
            rc = start_offline_mode(&k, &targets);
        if (rc == ULM_OK) {
            rc = run_chain(&k, &targets);
            end_offline_mode(&k);
        } else if (rc != ULM_ENOMEM) {
            rc = fail(resp, rc, errmsg);
        }
    }
    free(targets.items);
    resp->latency_ms = ulm__now_ms() - start;
    if (rc == ULM_ENOMEM) {
        ulm_response_free(resp);
        return ULM_ENOMEM;
    }
    *out = resp;
    return rc;
}
