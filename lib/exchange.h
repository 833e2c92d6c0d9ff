/* exchange.h - one operation against one endpoint: build, send on an engine, parse, a safe message. */
#ifndef ULM_EXCHANGE_H
#define ULM_EXCHANGE_H

#include "client.h"
#include "engine.h"
#include "stream.h"

typedef struct ulm_exchange ulm_exchange;

/* Told that an exchange ended; x->rc and the other outputs say how. */
typedef void (*ulm_exchange_done_fn)(ulm_exchange *x, void *ctx);

/*
 * One exchange. The caller fills the inputs, starts it on an engine, and keeps the struct
 * where it is until on_done was called or it was aborted.
 */
struct ulm_exchange {
    /* inputs */
    ulm_client *client;
    const ulm_backend *backend;
    const char *model;       /* normalized */
    ulm_op op;
    const ulm_request *req;  /* NULL for ULM_OP_MODELS */
    const char *base_url;    /* the endpoint: one of the backend's deployments */
    const char *auth_line;   /* "Header: key" for this exchange; NULL: the backend's */
    const char *extra_secret; /* a key the request gave, redacted like the client's; or NULL */
    ulm_clocks *clocks;      /* limits set, milestones 0 */
    ulm_delta_fn on_delta;   /* NULL: not streamed */
    void *delta_payload;
    ulm_result *result;      /* initialized by the caller; filled by the adapter */
    ulm_exchange_done_fn on_done;
    void *on_done_ctx;
    /* A request an adapter already built for an operation outside the vtable (Docker
     * Model Runner's lifecycle): sent as it is; the answer is not parsed but kept in resp
     * for on_done to read, until ulm__exchange_clear(). NULL: op, req and result apply. */
    const ulm_http_request *raw;
    ulm_body_fn raw_on_body; /* with raw: reads the body as it arrives (NULL: kept whole) */
    void *raw_on_body_ctx;
    int quiet;               /* with raw: a side request the log does not show */
    unsigned int attempt;    /* the call's attempt it is, for the log; 0 outside a call */

    /* outputs */
    int rc;                  /* the error class, ULM_OK on success */
    int http_status;         /* the status when an answer came, else 0 */
    size_t delivered;        /* bytes of text handed to on_delta */
    long retry_after_ms;     /* when the answer said to ask again (its Retry-After header,
                                else advice in its body), -1 when it did not say */
    char errmsg[ULM_ERROR_SIZE]; /* the redacted one-line message of a failure */
    double connect_ms;       /* libcurl's time to connect and to the answer's first byte, */
    double first_byte_ms;    /* from the request's start; -1 when unknown */

    /* the exchange's own */
    ulm_http_request http;
    ulm_http_response resp;
    ulm_transfer transfer;
    ulm_stream stream;
    int delivers;            /* the text goes to on_delta through the stream reader */
    int streamed;            /* asked as an event stream */
    ulm_text url;
    double sent_at;
};

/*
 * Builds and sends x on e. ULM_OK: it is on its way and on_done will be called from
 * ulm__engine_run. Anything else: it ended before anything was sent (x->rc and x->errmsg
 * say why, as they would in on_done), and on_done will not be called.
 */
ULM_HIDDEN int ulm__exchange_start(ulm_exchange *x, ulm_engine *e);

/* url (an endpoint of x's backend) as an attempt may show it: a user:password@ part
 * replaced by [REDACTED]@, the client's keys and the request's own key redacted; NULL when
 * memory ran out. */
ULM_HIDDEN char *ulm__exchange_shown_url(const ulm_exchange *x, const char *url);

/* Ends x at once if it is on its way; on_done is not called. Safe on an ended exchange. */
ULM_HIDDEN void ulm__exchange_abort(ulm_exchange *x, ulm_engine *e);

/* Frees the answer a raw exchange kept for its caller. */
ULM_HIDDEN void ulm__exchange_clear(ulm_exchange *x);

#endif /* ULM_EXCHANGE_H */
