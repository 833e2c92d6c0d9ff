/* response.c - the normalized response a call returns, with its attempt trail. */
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "response.h"

void ulm_response_free(ulm_response *resp)
{
    if (!resp)
        return;
    for (size_t i = 0; i < resp->attempt_count; i++) {
        ulm__free(resp->attempts[i].provider);
        ulm__free(resp->attempts[i].model);
        ulm__free(resp->attempts[i].url);
        ulm__free(resp->attempts[i].message);
    }
    ulm__free(resp->attempts);
    ulm__free(resp->error_message);
    ulm__free(resp->text);
    ulm__free(resp->provider);
    ulm__free(resp->model);
    ulm__free(resp->raw_json);
    ulm__free(resp->embeddings);
    ulm__free(resp);
}

ulm_response *ulm__response_new(void)
{
    ulm_response *resp = ulm__calloc(1, sizeof *resp);
    if (resp) {
        resp->prompt_tokens = resp->completion_tokens = resp->total_tokens = -1;
        resp->connect_ms = resp->first_byte_ms = resp->first_token_ms = -1;
        resp->tokens_per_second = resp->cost = -1;
    }
    return resp;
}

int ulm__response_add_attempt(ulm_response *resp, const char *provider, const char *model,
                              const char *url, int error, int http_status, double ms,
                              const char *message)
{
    if (ulm__reserve((void **)&resp->attempts, &resp->attempt_cap, resp->attempt_count,
                     sizeof *resp->attempts) != ULM_OK)
        return ULM_ENOMEM;
    ulm_attempt *a = &resp->attempts[resp->attempt_count];
    a->provider = ulm__strdup(provider);
    a->model = ulm__strdup(model);
    a->url = ulm__strdup(url ? url : "");
    /* a message may quote a URL with its credentials, from any layer below */
    a->message = message && *message ? ulm__redacted(NULL, message, strlen(message))
                                     : ulm__strdup("");
    a->error = error;
    a->http_status = http_status;
    a->ms = ms;
    if (!a->provider || !a->model || !a->url || !a->message) {
        ulm__free(a->provider);
        ulm__free(a->model);
        ulm__free(a->url);
        ulm__free(a->message);
        return ULM_ENOMEM;
    }
    resp->attempt_count++;
    return ULM_OK;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int ulm_response_error(const ulm_response *resp)
{
    return resp ? resp->error : ULM_EINVAL;
}

const char *ulm_response_error_message(const ulm_response *resp)
{
    return resp ? or_empty(resp->error_message) : "";
}

int ulm_response_http_status(const ulm_response *resp)
{
    return resp ? resp->http_status : 0;
}

const char *ulm_response_text(const ulm_response *resp)
{
    return resp ? or_empty(resp->text) : "";
}

size_t ulm_response_text_length(const ulm_response *resp)
{
    return resp ? resp->text_len : 0;
}

ulm_finish_reason ulm_response_finish_reason(const ulm_response *resp)
{
    return resp ? resp->finish : ULM_FINISH_UNKNOWN;
}

long ulm_response_prompt_tokens(const ulm_response *resp)
{
    return resp ? resp->prompt_tokens : -1;
}

long ulm_response_completion_tokens(const ulm_response *resp)
{
    return resp ? resp->completion_tokens : -1;
}

long ulm_response_total_tokens(const ulm_response *resp)
{
    return resp ? resp->total_tokens : -1;
}

const char *ulm_response_provider(const ulm_response *resp)
{
    return resp ? or_empty(resp->provider) : "";
}

const char *ulm_response_model(const ulm_response *resp)
{
    return resp ? or_empty(resp->model) : "";
}

double ulm_response_latency_ms(const ulm_response *resp)
{
    return resp ? resp->latency_ms : 0.0;
}

const char *ulm_response_raw_json(const ulm_response *resp)
{
    return resp ? resp->raw_json : NULL;
}

int ulm_response_incomplete(const ulm_response *resp)
{
    return resp ? resp->incomplete : 0;
}

int ulm_response_offline(const ulm_response *resp)
{
    return resp ? resp->offline : 0;
}

size_t ulm_response_embedding_count(const ulm_response *resp)
{
    return resp ? resp->embedding_count : 0;
}

size_t ulm_response_dimensions(const ulm_response *resp)
{
    return resp ? resp->dimensions : 0;
}

const float *ulm_response_embedding(const ulm_response *resp, size_t i)
{
    return resp && i < resp->embedding_count ? resp->embeddings + i * resp->dimensions : NULL;
}

double ulm_response_connect_ms(const ulm_response *resp)
{
    return resp ? resp->connect_ms : -1;
}

double ulm_response_first_byte_ms(const ulm_response *resp)
{
    return resp ? resp->first_byte_ms : -1;
}

double ulm_response_first_token_ms(const ulm_response *resp)
{
    return resp ? resp->first_token_ms : -1;
}

double ulm_response_tokens_per_second(const ulm_response *resp)
{
    return resp ? resp->tokens_per_second : -1;
}

size_t ulm_response_retries(const ulm_response *resp)
{
    return resp && resp->attempt_count ? resp->attempt_count - 1 : 0;
}

double ulm_response_cost(const ulm_response *resp)
{
    return resp ? resp->cost : -1;
}

size_t ulm_response_attempt_count(const ulm_response *resp)
{
    return resp ? resp->attempt_count : 0;
}

const ulm_attempt *ulm_response_attempt(const ulm_response *resp, size_t i)
{
    return resp && i < resp->attempt_count ? &resp->attempts[i] : NULL;
}

const char *ulm_attempt_provider(const ulm_attempt *attempt)
{
    return attempt ? attempt->provider : "";
}

const char *ulm_attempt_model(const ulm_attempt *attempt)
{
    return attempt ? attempt->model : "";
}

const char *ulm_attempt_url(const ulm_attempt *attempt)
{
    return attempt ? attempt->url : "";
}

int ulm_attempt_error(const ulm_attempt *attempt)
{
    return attempt ? attempt->error : ULM_EINVAL;
}

int ulm_attempt_http_status(const ulm_attempt *attempt)
{
    return attempt ? attempt->http_status : 0;
}

double ulm_attempt_ms(const ulm_attempt *attempt)
{
    return attempt ? attempt->ms : 0.0;
}

const char *ulm_attempt_error_message(const ulm_attempt *attempt)
{
    return attempt ? attempt->message : "";
}

const char *ulm_finish_reason_name(ulm_finish_reason reason)
{
    switch (reason) {
    case ULM_FINISH_STOP:
        return "stop";
    case ULM_FINISH_LENGTH:
        return "length";
    case ULM_FINISH_CONTENT_FILTER:
        return "content_filter";
    case ULM_FINISH_TOOL_CALLS:
        return "tool_calls";
    case ULM_FINISH_UNKNOWN:
        break;
    }
    return "unknown";
}
