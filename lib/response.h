/* response.h - the layout of a response, shared by the call loop that fills it and its accessors. */
#ifndef ULM_RESPONSE_H
#define ULM_RESPONSE_H

#include "http_records.h"

struct ulm_attempt {
    char *provider;
    char *model;
    char *url;      /* the endpoint, redacted; "" when none was picked */
    int error;
    int http_status;
    double ms;
    char *message;
};

struct ulm_response {
    int error;
    char *error_message;
    int http_status;
    char *text;
    size_t text_len;
    ulm_finish_reason finish;
    long prompt_tokens, completion_tokens, total_tokens;
    char *provider;
    char *model;
    double latency_ms;
    char *raw_json;
    int incomplete;
    int offline;
    double connect_ms, first_byte_ms, first_token_ms; /* -1: unknown */
    double tokens_per_second;                         /* -1: unknown */
    double cost;                                      /* -1: unknown */
    float *embeddings;   /* ulm_embed(): embedding_count vectors of dimensions floats */
    size_t embedding_count, dimensions;
    ulm_attempt *attempts;
    size_t attempt_count, attempt_cap;
};

/* A response with nothing in it yet: no error, every count and time unknown. */
ULM_HIDDEN ulm_response *ulm__response_new(void);

/* Appends an attempt; url (NULL: none was picked) is shown as given, so it must be
 * redacted already. */
ULM_HIDDEN int ulm__response_add_attempt(ulm_response *resp, const char *provider,
                                         const char *model, const char *url, int error,
                                         int http_status, double ms, const char *message);

#endif /* ULM_RESPONSE_H */
