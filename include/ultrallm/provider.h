/* provider.h - the adapter API: a versioned vtable that translates requests and responses. */
#ifndef ULTRALLM_PROVIDER_H
#define ULTRALLM_PROVIDER_H

#include "ultrallm.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An adapter is pure translation: it never opens a socket. The core sends what build()
 * describes to the backend's base URL, adds the API key header the adapter names (the
 * adapter never sees the key), enforces timeouts and size caps, then hands the answer
 * to parse(). What an adapter puts in an error message is redacted and capped by the
 * core before any caller sees it.
 */

#define ULM_PROVIDER_VERSION 2

typedef enum ulm_op {
    ULM_OP_CHAT = 1,        /* chat completion */
    ULM_OP_MODELS = 2,      /* list the backend's models */
    ULM_OP_CHAT_STREAM = 3, /* chat completion as server-sent events; only asked of a
                               provider with parse_event */
    ULM_OP_EMBED = 4        /* embeddings of the request's inputs (ulm_request_input) */
} ulm_op;

/* Flags of a provider. */
#define ULM_PROVIDER_LOCAL 0x1u /* a model on this machine or network: LOCAL_MODEL_TIMEOUT */

/* ------------------------------------------------ text for bodies and paths */

/*
 * A growable byte buffer for building request bodies and paths. Start from {0}; data is
 * NUL-terminated once anything was appended; free it with ulm_text_free() unless it was
 * handed to ulm_http_request_take_body(). Each append returns ULM_OK or ULM_ENOMEM.
 */
typedef struct ulm_text {
    char *data;
    size_t len;
    size_t cap;
} ulm_text;

/* Appends length bytes of data, or text formatted as by printf. */
ULM_EXTERN int ulm_text_append(ulm_text *text, const char *data, size_t length);
ULM_EXTERN int ulm_text_appendf(ulm_text *text, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/*
 * Appends the length bytes at s as a JSON string literal: between quotes, with quotes,
 * backslashes and control characters escaped (\n, \r, \t, else \u00XX). s should be
 * valid UTF-8; its bytes are copied as they are.
 */
ULM_EXTERN int ulm_text_append_json_string(ulm_text *text, const char *s, size_t length);
ULM_EXTERN void ulm_text_free(ulm_text *text);

/* ------------------------------------------------ what build() describes */

typedef struct ulm_http_request ulm_http_request;

/* method is "GET", "POST" or "DELETE"; path is appended to the backend's base URL. */
ULM_EXTERN int ulm_http_request_set_target(ulm_http_request *http, const char *method,
                                           const char *path);
/* name and value must not contain CR or LF, and at most 16 headers fit (ULM_EINVAL). */
ULM_EXTERN int ulm_http_request_add_header(ulm_http_request *http, const char *name,
                                           const char *value);
/* The body is copied; the core sends Content-Type: application/json with it. */
ULM_EXTERN int ulm_http_request_set_body(ulm_http_request *http, const char *body,
                                         size_t length);
/* The same without a copy: the request takes text's memory, and text is left empty. */
ULM_EXTERN int ulm_http_request_take_body(ulm_http_request *http, ulm_text *text);

/* ------------------------------------------------ what parse() reads */

typedef struct ulm_http_response ulm_http_response;

/* The answer's HTTP status. */
ULM_EXTERN int ulm_http_response_status(const ulm_http_response *http);
/* The body, NUL-terminated for convenience; *length excludes the NUL. Never NULL. */
ULM_EXTERN const char *ulm_http_response_body(const ulm_http_response *http, size_t *length);
/* The Content-Type header's value, "" when absent. */
ULM_EXTERN const char *ulm_http_response_content_type(const ulm_http_response *http);

/* ------------------------------------------------ what parse_event() reads */

/* One server-sent event, framed by the core: lines joined, CR LF handled, comments
 * dropped. The core consumes OpenAI's "data: [DONE]" itself. */
typedef struct ulm_sse_event ulm_sse_event;

/* The event's "event:" field, "" when it had none. */
ULM_EXTERN const char *ulm_sse_event_name(const ulm_sse_event *event);
/* Its data lines joined by LF, NUL-terminated; *length excludes the NUL. */
ULM_EXTERN const char *ulm_sse_event_data(const ulm_sse_event *event, size_t *length);

/* ------------------------------------------------ what parse() fills */

typedef struct ulm_result ulm_result;

/* The whole answer's text (copied) and why it ended. */
ULM_EXTERN int ulm_result_set_text(ulm_result *result, const char *text, size_t length);
ULM_EXTERN void ulm_result_set_finish_reason(ulm_result *result, ulm_finish_reason reason);
/* Streaming: appends one delta of text to what earlier events produced. */
ULM_EXTERN int ulm_result_append_text(ulm_result *result, const char *text, size_t length);
/* The class a failure was given so far (ULM_OK: none), so an adapter can refine it. */
ULM_EXTERN int ulm_result_error(const ulm_result *result);
/* The backend's words a failure was given, or NULL. */
ULM_EXTERN const char *ulm_result_error_text(const ulm_result *result);
/* The model the answer named so far, or NULL. */
ULM_EXTERN const char *ulm_result_model(const ulm_result *result);
/* Streaming: the backend's own end-of-stream event arrived (not needed after [DONE]). */
ULM_EXTERN void ulm_result_end_stream(ulm_result *result);
/* Token counts; -1 for one the backend did not report, which leaves the value an earlier
 * call set (a stream may report the prompt count in one event and the rest in another).
 * A total of -1 becomes prompt + completion once both are known, replacing an earlier
 * total. */
ULM_EXTERN void ulm_result_set_usage(ulm_result *result, long prompt_tokens,
                                     long completion_tokens, long total_tokens);
ULM_EXTERN int ulm_result_set_model(ulm_result *result, const char *model);
/*
 * ULM_OP_EMBED: the vector of input index (each input once, in order), dimensions floats,
 * copied. Every vector of an answer has the same dimensions; one that differs makes the
 * answer a protocol error.
 */
ULM_EXTERN int ulm_result_add_embedding(ulm_result *result, const float *values,
                                        size_t dimensions);

/* ULM_OP_MODELS: one call per model the backend offers. */
ULM_EXTERN int ulm_result_add_model_id(ulm_result *result, const char *id);
/*
 * Classifies a failure. upstream_text is the backend's own words (length bytes, need
 * not be NUL-terminated, may be NULL); the core prefixes provider and status, removes
 * secrets, folds control characters and caps it.
 */
ULM_EXTERN int ulm_result_set_error(ulm_result *result, int code, const char *upstream_text,
                                    size_t length);

/*
 * A failure's own advice on when to ask again, in milliseconds, for a backend that puts
 * it in the body (Google's RetryInfo.retryDelay) rather than in a Retry-After header; the
 * header wins when both are there. The core rounds it up to whole seconds, as a
 * Retry-After header counts (500 ms waits 1 s). Used only when retries are configured.
 */
ULM_EXTERN void ulm_result_set_retry_after_ms(ulm_result *result, long ms);

/*
 * The model's context window in tokens, when a context-length failure names it (llama.cpp's
 * exceed_context_size_error carries n_ctx). A chain then passes over later targets whose
 * configured window is no larger. Values below 1 are ignored.
 */
ULM_EXTERN void ulm_result_set_context_window(ulm_result *result, long tokens);

/* The default class of an HTTP error status: 401 -> ULM_EAUTH, 429 -> ULM_ERATE_LIMIT ... */
ULM_EXTERN int ulm_error_from_http_status(int status);

/* ------------------------------------------------ the vtable */

typedef struct ulm_provider ulm_provider;
struct ulm_provider {
    unsigned int version;   /* ULM_PROVIDER_VERSION; slots are only ever appended */
    unsigned int flags;     /* ULM_PROVIDER_* */
    const char *name;       /* the prefix of model strings: "dmr", "openai" */
    const char *auth_header; /* header that carries the key ("Authorization"), or NULL */
    const char *auth_prefix; /* put before the key ("Bearer "), or NULL */

    /* may provide (NULL: the name is used as given): rewrite a model name to the
     * backend's canonical form into buf; ULM_EINVAL for a name it cannot accept. */
    int (*normalize_model)(const ulm_provider *self, const char *name, char *buf,
                           size_t buf_size);
    /* must provide: describe the HTTP request for op; model is already normalized,
     * req is NULL for ULM_OP_MODELS. ULM_EUNSUPPORTED for an op it does not offer. */
    int (*build)(const ulm_provider *self, ulm_op op, const char *model,
                 const ulm_request *req, ulm_http_request *out);
    /* must provide: translate the answer to op into result; a failure is reported
     * with ulm_result_set_error(), and the return value is ULM_OK unless memory ran out. */
    int (*parse)(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                 ulm_result *out);
    /* must provide: free self. */
    void (*destroy)(ulm_provider *self);
    /* Slots above are valid for version 1. */

    /* may provide (NULL: the core asks for ULM_OP_CHAT and hands the whole text to
     * on_delta at once): translate one event of a ULM_OP_CHAT_STREAM answer into out,
     * with ulm_result_append_text() and the setters above. A failure inside the stream
     * is reported with ulm_result_set_error(); the return value is ULM_OK unless memory
     * ran out. An answer that is not an event stream (an error status, or JSON) goes to
     * parse() with ULM_OP_CHAT. */
    int (*parse_event)(const ulm_provider *self, const ulm_sse_event *event,
                       ulm_result *out);
    /* Slots above are valid for version 2. */
};

/*
 * A provider with this library's version and every slot NULL, to start from, as in
 *     static ulm_provider proto = ULM_PROVIDER_INIT;
 * A provider built for an earlier version keeps that version number: the core then never
 * reads the slots that version does not have (its struct may end before them).
 */
#define ULM_PROVIDER_INIT {ULM_PROVIDER_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/*
 * Adds a backend to a client before the client is shared between threads. The client
 * takes ownership of provider (also on failure) and calls its destroy. base_url is the
 * URL that build()'s paths are appended to; api_key may be NULL. A provider whose name
 * is taken replaces the built-in one.
 */
ULM_EXTERN int ulm_client_add_provider(ulm_client *client, ulm_provider *provider,
                                       const char *base_url, const char *api_key);

#ifdef __cplusplus
}
#endif

#endif /* ULTRALLM_PROVIDER_H */
