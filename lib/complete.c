/* complete.c - ulm_complete(): resolve the targets, then try them in order until one answers. */
#include <stdlib.h>
#include <string.h>

#include <time.h>

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
 * the same way elsewhere or hide a mistake, so they stop the call.
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
    resp->provider = ulm__strdup(t->backend->provider->name);
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

/* Resolves every target before anything is sent, so a typo fails the call at once. */
static int resolve_targets(ulm_client *c, const ulm_request *req, ulm_target **out,
                           size_t *count, char *errmsg, size_t errmsg_size)
{
    size_t n = ulm__request_model_count(req);
    *count = n ? n : 1;
    *out = ulm__calloc(*count, sizeof **out);
    if (!*out)
        return ULM_ENOMEM;
    for (size_t i = 0; i < *count; i++) {
        const char *spec = n ? ulm__request_model(req, i) : c->default_model;
        int rc = ulm__target_resolve(c, spec, &(*out)[i], errmsg, errmsg_size);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
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

static int fail_chain(ulm_response *resp)
{
    const ulm_attempt *a = &resp->attempts[reported_attempt(resp)];
    free(resp->provider);
    resp->provider = ulm__strdup(a->provider);
    resp->http_status = a->http_status;
    if (!resp->provider)
        return ULM_ENOMEM;
    return fail(resp, a->error, a->message);
}

/* One call in progress: what every attempt shares. */
typedef struct call {
    ulm_client *client;
    const ulm_request *req;
    ulm_response *resp;
    ulm_timeouts timeouts;
    double deadline;
    ulm_delta_fn on_delta;
    void *payload;
} call;

static void pause_ms(double ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1e3),
                          .tv_nsec = (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/*
 * One target. A local model that answers "still loading" is asked again until it
 * answers or its load budget runs out: loading is waiting, not failing.
 */
static int attempt_target(call *k, const ulm_target *t, ulm_exchange_io *io,
                          ulm_result *result, int *status, char *errmsg, size_t errmsg_size)
{
    int local = (t->backend->provider->flags & ULM_PROVIDER_LOCAL) != 0;
    ulm_clocks clocks;
    double load_end = 0;
    for (;;) {
        ulm__clocks_start(&clocks, &k->timeouts, local, k->deadline, load_end);
        load_end = clocks.load_end;
        io->clocks = &clocks;
        int rc = ulm__exchange(k->client, t, ULM_OP_CHAT, k->req, io, result, status, errmsg,
                               errmsg_size);
        if (rc != ULM_EMODEL_LOADING || !local || io->delivered)
            return rc;
        double now = ulm__now_ms();
        double left = (load_end < k->deadline ? load_end : k->deadline) - now;
        if (left <= 0) {
            rc = load_end < k->deadline ? ULM_ELOAD_TIMEOUT : ULM_ETIMEOUT;
            ulm__set_errbuf(errmsg, errmsg_size, "%s: the model was still loading when %s ran out",
                            t->backend->provider->name,
                            rc == ULM_ELOAD_TIMEOUT ? "the load budget" : "the call's deadline");
            return rc;
        }
        ulm__log(k->client, ULM_LOG_DEBUG, "%s/%s is loading; asking again", 
                 t->backend->provider->name, t->model);
        ulm__result_clear(result);
        pause_ms(left < LOADING_POLL_MS ? left : LOADING_POLL_MS);
    }
}

/* A stream that broke after delivering text: the response keeps exactly that text. */
static int fail_incomplete(ulm_response *resp, const ulm_target *t, int code, int status,
                           const ulm_result *r, size_t delivered, const char *why)
{
    resp->incomplete = 1;
    resp->http_status = status;
    resp->text = ulm__strndup(r->text, delivered);
    resp->text_len = delivered;
    resp->provider = ulm__strdup(t->backend->provider->name);
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
                    k->timeouts.ms[ULM_CLOCK_OVERALL], next->backend->provider->name,
                    next->model);
    free(resp->provider);
    resp->provider = ulm__strdup(next->backend->provider->name);
    if (!resp->provider)
        return ULM_ENOMEM;
    return fail(resp, ULM_ETIMEOUT, message);
}

static int run_chain(call *k, const ulm_target *targets, size_t count)
{
    ulm_response *resp = k->resp;
    char errmsg[ULM_ERROR_SIZE];
    int rc = ULM_OK;
    for (size_t i = 0; i < count; i++) {
        const ulm_target *t = &targets[i];
        if (ulm__now_ms() >= k->deadline)
            return fail_deadline(resp, k, t);
        ulm_result result;
        ulm__result_init(&result);
        ulm_exchange_io io = {.on_delta = k->on_delta, .delta_payload = k->payload};
        int status = 0;
        double start = ulm__now_ms();
        rc = attempt_target(k, t, &io, &result, &status, errmsg, sizeof errmsg);
        double ms = ulm__now_ms() - start;

        int add = ulm__response_add_attempt(resp, t->backend->provider->name, t->model, rc,
                                            status, ms, rc == ULM_OK ? "" : errmsg);
        if (add == ULM_OK && rc == ULM_OK)
            add = take_result(resp, t, status, &result);
        else if (add == ULM_OK && io.delivered)
            add = fail_incomplete(resp, t, rc, status, &result, io.delivered, errmsg);
        ulm__result_clear(&result);
        if (add == ULM_ENOMEM || rc == ULM_ENOMEM)
            return ULM_ENOMEM;
        if (rc == ULM_OK || io.delivered)
            return rc;
        int next = i + 1 < count && falls_through(rc, t->backend);
        if (next)
            ulm__log(k->client, ULM_LOG_INFO, "falling back from %s/%s to %s/%s",
                     t->backend->provider->name, t->model,
                     targets[i + 1].backend->provider->name, targets[i + 1].model);
        if (!next)
            return fail_chain(resp);
    }
    return rc;
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

    int rc;
    ulm_target *targets = NULL;
    size_t count = 0;
    char errmsg[ULM_ERROR_SIZE];
    if (ulm_request_message_count(req) == 0) {
        rc = fail(resp, ULM_EINVAL, "request: no messages");
    } else {
        rc = resolve_targets(client, req, &targets, &count, errmsg, sizeof errmsg);
        if (rc == ULM_OK)
            rc = run_chain(&k, targets, count);
        else if (rc != ULM_ENOMEM)
            rc = fail(resp, rc, errmsg);
    }
    free(targets);
    resp->latency_ms = ulm__now_ms() - start;
    if (rc == ULM_ENOMEM) {
        ulm_response_free(resp);
        return ULM_ENOMEM;
    }
    *out = resp;
    return rc;
}
