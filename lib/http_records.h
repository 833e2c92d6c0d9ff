/* http_records.h - the HTTP request, HTTP response and parse result that adapters read and fill. */
#ifndef ULM_HTTP_RECORDS_H
#define ULM_HTTP_RECORDS_H

#include "alloc.h"
#include "clocks.h"
#include "ultrallm/provider.h"

#define ULM_MAX_HEADERS 16

struct ulm_http_request {
    char method[8];
    char *path;
    char *headers[ULM_MAX_HEADERS]; /* "Name: value" */
    size_t header_count;
    char *body;
    size_t body_len;
};

struct ulm_http_response {
    int status;
    ulm_text body;
    char *content_type;
    char *retry_after;    /* the Retry-After header's value, or NULL */
    long new_connections; /* connections the exchange opened: 0 when one was reused */
    double connect_ms;    /* libcurl's timings from the request's start: connected, and */
    double first_byte_ms; /* the first byte of the answer; -1 when unknown */
};

ULM_HIDDEN void ulm__http_request_clear(ulm_http_request *http);
ULM_HIDDEN void ulm__http_response_clear(ulm_http_response *http);

/* Appends body bytes under a cap (ULM_ETOO_LARGE past it), marking body activity. */
ULM_HIDDEN int ulm__keep_body(ulm_http_response *resp, const char *data, size_t n, size_t cap,
                              ulm_clocks *clocks);

/* What parse() produced, before it becomes a response or a model list. */
struct ulm_result {
    char *text;
    size_t text_len, text_cap;
    int stream_ended;    /* the adapter saw the backend's end-of-stream event */
    ulm_finish_reason finish;
    long prompt_tokens, completion_tokens, total_tokens;
    char *model;
    char **model_ids;
    size_t model_id_count, model_id_cap;
    int error;           /* ULM_OK unless set_error was called */
    long retry_after_ms; /* the body's advice on when to ask again; -1 without one */
    long context_window; /* the model's context, as a context-length failure gave it; 0: not */
    char *error_text;    /* the backend's words, capped, not yet redacted */
    char *raw_body;      /* the answer's body, kept on success */
    float *embeddings;   /* embedding_count vectors of dimensions floats, one after another */
    size_t embedding_count, embedding_cap, dimensions;
};

ULM_HIDDEN void ulm__result_init(ulm_result *r);
ULM_HIDDEN void ulm__result_clear(ulm_result *r);

/*
 * Whether a provider reads event streams. parse_event is a version 2 slot: a version 1
 * provider's struct ends before it, so the version is checked before the slot is read.
 */
static inline int ulm__provider_streams(const ulm_provider *p)
{
    return p->version >= 2 && p->parse_event != NULL;
}

#endif /* ULM_HTTP_RECORDS_H */
