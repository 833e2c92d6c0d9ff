/* internal.h - structures and helpers shared by the core and the built-in adapters. */
#ifndef ULM_INTERNAL_H
#define ULM_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include "ultrallm/provider.h"
#include "ultrallm/ultrallm.h"

#define ULM_HIDDEN __attribute__((visibility("hidden")))

/* How much of a backend's own error text reaches a caller. */
#define ULM_UPSTREAM_TEXT_CAP 200

/* ---------------------------------------------------------------- memory */

/*
 * Every allocation of the library goes through these, so a test can make the n-th
 * one fail and walk the out-of-memory paths.
 */
ULM_HIDDEN void *ulm__malloc(size_t size);
ULM_HIDDEN void *ulm__calloc(size_t count, size_t size);
ULM_HIDDEN void *ulm__realloc(void *ptr, size_t size);
ULM_HIDDEN char *ulm__strdup(const char *s);
ULM_HIDDEN char *ulm__strndup(const char *s, size_t n);
/* Wipes a secret before freeing it, so it does not linger in freed memory. */
ULM_HIDDEN void ulm__free_secret(char *s);

/* a + b for token counts (both >= 0), held at LONG_MAX: a backend may send any number,
 * and a sum past LONG_MAX would be undefined. */
static inline long ulm__count_sum(long a, long b)
{
    return a > LONG_MAX - b ? LONG_MAX : a + b;
}

/* Test hook: the n-th allocation from now fails (0 disables). */
ULM_HIDDEN void ulm__test_fail_alloc_after(long n);

/* Makes room for one more element after count in *items, doubling *cap when it is full. */
ULM_HIDDEN int ulm__reserve(void **items, size_t *cap, size_t count, size_t elem);

/* A growable byte buffer; data is always NUL-terminated once anything was appended. */
typedef struct ulm_buf {
    char *data;
    size_t len;
    size_t cap;
} ulm_buf;

ULM_HIDDEN int ulm__buf_append(ulm_buf *b, const void *data, size_t len);
ULM_HIDDEN int ulm__buf_appendf(ulm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
ULM_HIDDEN void ulm__buf_free(ulm_buf *b);

/* snprintf that always terminates and never overruns, for fixed error buffers. */
ULM_HIDDEN void ulm__set_errbuf(char *errbuf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- HTTP records */

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
    ulm_buf body;
    char *content_type;
    char *retry_after;    /* the Retry-After header's value, or NULL */
    long new_connections; /* connections the exchange opened: 0 when one was reused */
};

ULM_HIDDEN void ulm__http_request_clear(ulm_http_request *http);
ULM_HIDDEN void ulm__http_response_clear(ulm_http_response *http);

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
    char *error_text;    /* the backend's words, capped, not yet redacted */
    char *raw_body;      /* the answer's body, kept on success */
};

ULM_HIDDEN void ulm__result_init(ulm_result *r);
ULM_HIDDEN void ulm__result_clear(ulm_result *r);

/* ---------------------------------------------------------------- transport */

typedef struct ulm_clocks ulm_clocks;

/* Receives body bytes as they arrive; a non-zero return (an error code) ends the exchange. */
typedef int (*ulm_body_fn)(void *ctx, ulm_http_response *resp, const char *data, size_t n);

/* One HTTP exchange as the core hands it to a transport. */
typedef struct ulm_transfer {
    const char *url;
    const ulm_http_request *http;
    const char *auth_header_line; /* "Authorization: Bearer ...", or NULL */
    const char *accept;           /* media type of the answer wanted */
    size_t max_response_bytes;    /* cap on a body kept whole */
    ulm_clocks *clocks;           /* the transport records connection and status line */
    ulm_body_fn on_body;          /* NULL: the body is kept whole in the response */
    void *on_body_ctx;
} ulm_transfer;

/*
 * Performs one exchange and enforces the clocks. ULM_OK when an HTTP answer of any
 * status arrived in full; the code of the clock that fired; the code on_body returned;
 * or a transport class (ULM_ECONNECT, ULM_ETOO_LARGE, ULM_ETRANSPORT, ULM_ENOMEM) with
 * a reason in errbuf.
 */
typedef int (*ulm_transport_fn)(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                                char *errbuf, size_t errbuf_size);

/* Appends body bytes under a cap (ULM_ETOO_LARGE past it), marking body activity. */
ULM_HIDDEN int ulm__keep_body(ulm_http_response *resp, const char *data, size_t n, size_t cap,
                              ulm_clocks *clocks);

/* What a transport does with body bytes: on_body, or keep them under the cap. */
ULM_HIDDEN int ulm__transfer_body(const ulm_transfer *t, ulm_http_response *resp,
                                  const char *data, size_t n);

typedef struct ulm_curl_pool ulm_curl_pool;
ULM_HIDDEN int ulm__curl_pool_new(ulm_curl_pool **out, unsigned int max_idle);
ULM_HIDDEN void ulm__curl_pool_free(ulm_curl_pool *pool);
/* The libcurl transport; ctx is a ulm_curl_pool. */
ULM_HIDDEN int ulm__curl_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                                   char *errbuf, size_t errbuf_size);

/* ---------------------------------------------------------------- client */

/* The longest any clock may be set to: a day. */
#define ULM_MAX_TIMEOUT_MS (24L * 3600L * 1000L)

/* Limits of the clocks in milliseconds, indexed by ulm_clock. */
typedef struct ulm_timeouts {
    long ms[ULM_CLOCK_OVERALL + 1];
} ulm_timeouts;

/* Defined in client.h, with the rest of the client's insides. */
typedef struct ulm_backend ulm_backend;

/* Logs through the client's callback, if any and if level passes. */
ULM_HIDDEN void ulm__log(const ulm_client *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- targets */

typedef struct ulm_target {
    ulm_backend *backend;
    char model[256]; /* normalized */
} ulm_target;

/*
 * Resolves one model string to a backend and normalized model. On failure returns
 * ULM_EINVAL (or ULM_ENOT_CONFIGURED for an unknown provider) with a reason in errbuf.
 */
ULM_HIDDEN int ulm__target_resolve(const ulm_client *c, const char *spec, ulm_target *out,
                                   char *errbuf, size_t errbuf_size);

/* Whether s is well-formed UTF-8 (message contents, stop sequences, metric labels). */
ULM_HIDDEN int ulm__valid_utf8(const char *s);

/* The request's streaming callback (NULL: not streamed) and its payload. */
ULM_HIDDEN ulm_delta_fn ulm__request_on_delta(const ulm_request *req, void **payload);
/*
 * How a model wants the conversation: some chat templates have no system role, some
 * insist that user and assistant alternate, and a base model has no chat template at all.
 */
typedef enum ulm_prompt_template {
    ULM_TEMPLATE_CHAT = 0,     /* the messages as written */
    ULM_TEMPLATE_NO_SYSTEM,    /* system text goes in front of the first user message */
    ULM_TEMPLATE_ALTERNATING,  /* no system, and consecutive messages of a role merged */
    ULM_TEMPLATE_COMPLETION    /* one user message holding the whole conversation as text */
} ulm_prompt_template;

/* "chat", "no_system", "alternating", "completion"; NULL for anything else. */
ULM_HIDDEN const char *ulm__prompt_template_name(ulm_prompt_template t);

/*
 * A copy of req whose messages are shaped by template (every other field the same), to
 * be freed with ulm_request_free(); NULL when memory ran out.
 */
ULM_HIDDEN ulm_request *ulm__request_with_template(const ulm_request *req,
                                                   ulm_prompt_template template);

/*
 * A shallow copy of req with a model's configured temperature and max_tokens where req
 * leaves them unset: the request's own values win. It shares req's memory, so it is freed
 * with free(), never ulm_request_free(); NULL when memory ran out.
 */
ULM_HIDDEN ulm_request *ulm__request_with_defaults(const ulm_request *req, int has_temperature,
                                                   double temperature, long max_tokens);
/* The client's clock limits with the request's overrides applied. */
ULM_HIDDEN void ulm__request_timeouts(const ulm_request *req, const ulm_timeouts *base,
                                      ulm_timeouts *out);

/* The request's target strings, in order. */
ULM_HIDDEN size_t ulm__request_model_count(const ulm_request *req);
ULM_HIDDEN const char *ulm__request_model(const ulm_request *req, size_t i);

/* ---------------------------------------------------------------- one exchange */

/* What one attempt needs beyond the target and request, and what it reports back. */
typedef struct ulm_exchange_io {
    const char *base_url; /* the endpoint: one of the backend's deployments */
    ulm_clocks *clocks;   /* limits set, milestones 0 */
    ulm_delta_fn on_delta; /* NULL: not streamed */
    void *delta_payload;
    size_t delivered;     /* out: bytes of text handed to on_delta */
    long retry_after_ms;  /* out: when the answer said to ask again (its Retry-After
                             header, else advice in its body), -1 when it did not say */
} ulm_exchange_io;

/*
 * Builds, sends and parses one operation against one target. Returns the error class
 * (ULM_OK on success); *http_status receives the status when an answer came; errmsg
 * receives the redacted one-line message.
 */
ULM_HIDDEN int ulm__exchange(ulm_client *c, const ulm_target *t, ulm_op op,
                             const ulm_request *req, ulm_exchange_io *io, ulm_result *result,
                             int *http_status, char *errmsg, size_t errmsg_size);

/* Milliseconds on a monotonic clock. */
ULM_HIDDEN double ulm__now_ms(void);

/* ---------------------------------------------------------------- errors */

/* A copy of text with every configured key and anything shaped like a credential
 * replaced by [REDACTED]; NULL when memory ran out. */
ULM_HIDDEN char *ulm__redacted(const ulm_client *c, const char *text, size_t length);

/* Copies at most cap bytes of text (ending on a UTF-8 boundary), folding control
 * characters to spaces and marking a cut with "..." */
ULM_HIDDEN char *ulm__cap_text(const char *text, size_t length, size_t cap);

/* ---------------------------------------------------------------- adapters */

ULM_HIDDEN int ulm__openai_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__dmr_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__anthropic_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__gemini_provider_new(ulm_provider **out);

/* DMR's canonical model name: ai/ namespace, :latest tag, lower-cased name. */
ULM_HIDDEN int ulm__dmr_normalize_model(const char *name, char *buf, size_t buf_size);

#endif /* ULM_INTERNAL_H */
