/* error.c - error names and the error policy: what each class of failure means for a call. */
#include <stddef.h>

#include "error_policy.h"

/* Shorthands for the policy columns of the table below. */
#define RETRY 1, 1   /* retryable, and asked again at the same target after a pause */
#define FINAL 0, 0   /* neither */
#define ONCE 1, 0    /* retryable elsewhere, but not worth asking here again */

typedef struct error_entry {
    int code;
    const char *name;
    const char *text;
    ulm_error_policy policy;
} error_entry;

/*
 * One row per class. The policy columns are, in order: retryable (ulm_error_is_retryable),
 * retry_here, other_deployment, falls_back, breaker, unreachable, wait_ms. docs/errors.md
 * is checked against this table by tests/unit/test_error_policy.c.
 */
static const error_entry error_table[] = {
    {ULM_OK, "ok", "success", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_EINVAL, "invalid_argument", "invalid argument", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ENOMEM, "out_of_memory", "out of memory", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ECONFIG, "config", "invalid configuration", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_EVERSION, "version", "unknown options version", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ENOT_CONFIGURED, "not_configured", "backend not configured",
     {FINAL, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_ECONNECT, "connect", "could not connect to the backend",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 1, -1}},
    /* the whole call's budget is spent: nothing more may be tried anywhere */
    {ULM_ETIMEOUT, "timeout", "the call's deadline passed", {ONCE, 0, ULM_FALLBACK_NO, 1, 0, -1}},
    {ULM_EAUTH, "auth", "the backend refused the credentials",
     {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ERATE_LIMIT, "rate_limit", "rate limited by the backend",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_EQUOTA, "quota", "account quota exhausted", {FINAL, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_EBAD_REQUEST, "bad_request", "the backend rejected the request",
     {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    /* a local model not pulled says nothing about the request; a cloud name that does not
     * exist is a mistake that falling back would hide */
    {ULM_EMODEL_NOT_FOUND, "model_not_found", "model not found",
     {FINAL, 0, ULM_FALLBACK_LOCAL, 0, 0, -1}},
    {ULM_EMODEL_LOAD, "model_load", "the local model failed to load",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_ECONTEXT_LENGTH, "context_length", "the prompt exceeds the model's context window",
     {FINAL, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_EUNAVAILABLE, "unavailable", "the backend is unavailable or overloaded",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_ESERVER, "server", "the backend failed", {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_EPROTOCOL, "protocol", "malformed answer from the backend",
     {FINAL, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_ETOO_LARGE, "too_large", "the answer exceeds the size cap",
     {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ETRANSPORT, "transport", "transport failure", {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    /* another backend may offer it: embeddings where a provider has none */
    {ULM_EUNSUPPORTED, "unsupported", "operation not supported by the backend",
     {FINAL, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_ECANCELLED, "cancelled", "cancelled by the caller", {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
    {ULM_ECONNECT_TIMEOUT, "connect_timeout", "no connection within the connect timeout",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 1, -1}},
    {ULM_ELOAD_TIMEOUT, "load_timeout", "the local model did not load within its budget",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_EFIRST_TOKEN_TIMEOUT, "first_token_timeout", "no first token in time",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    {ULM_EIDLE_TIMEOUT, "idle_timeout", "the answer stalled past the idle timeout",
     {RETRY, 1, ULM_FALLBACK_YES, 1, 0, -1}},
    /* loading is waiting, not failing: the same endpoint is asked again every 500 ms, as DMR
     * polls its own runner */
    {ULM_EMODEL_LOADING, "model_loading", "the local model is still loading",
     {RETRY, 0, ULM_FALLBACK_YES, 0, 0, 500}},
    {ULM_EBUSY, "resource_exhausted", "the backend's request queue is full",
     {ONCE, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_ECIRCUIT_OPEN, "circuit_open", "the backend is cooling down after failures",
     {ONCE, 0, ULM_FALLBACK_YES, 0, 0, -1}},
    {ULM_ECONTENT_FILTER, "content_filter", "the provider's safety filter refused the prompt",
     {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1}},
};

static const error_entry *find_error(int code)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
        if (error_table[i].code == code)
            return &error_table[i];
    return NULL;
}

const ulm_error_policy *ulm__error_policy(int code)
{
    static const ulm_error_policy unknown = {FINAL, 0, ULM_FALLBACK_NO, 0, 0, -1};
    const error_entry *e = find_error(code);
    return e ? &e->policy : &unknown;
}

const char *ulm_strerror(int code)
{
    const error_entry *e = find_error(code);
    return e ? e->text : "unknown error";
}

const char *ulm_error_name(int code)
{
    const error_entry *e = find_error(code);
    return e ? e->name : "unknown";
}

int ulm_error_is_retryable(int code)
{
    return ulm__error_policy(code)->retryable;
}

int ulm_error_from_http_status(int status)
{
    if (status >= 200 && status < 300)
        return ULM_OK;
    switch (status) {
    case 400:
    case 413:
    case 422:
        return ULM_EBAD_REQUEST;
    case 401:
    case 403:
        return ULM_EAUTH;
    case 404:
        return ULM_EMODEL_NOT_FOUND;
    case 429:
        return ULM_ERATE_LIMIT;
    case 408: /* the server gave up waiting: ETIMEOUT is our own deadline, not theirs */
    case 503:
    case 529:
        return ULM_EUNAVAILABLE;
    default:
        break;
    }
    if (status >= 500)
        return ULM_ESERVER;
    if (status >= 400)
        return ULM_EBAD_REQUEST;
    return ULM_EPROTOCOL;
}
