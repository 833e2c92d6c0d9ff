/* engine.h - the transport: many HTTP exchanges at once on one thread, over libcurl's multi interface. */
#ifndef ULM_ENGINE_H
#define ULM_ENGINE_H

#include "clocks.h"
#include "http_records.h"

/*
 * An engine is one libcurl multi handle with its connection cache and a few configured
 * easy handles. Whoever drives calls borrows one engine from the client's pool, starts
 * transfers on it and runs it until its calls are done; nothing in it blocks except the
 * wait in ulm__engine_run, which returns at the earliest of: a transfer ended, a clock
 * fired, the caller's own wake-up time, a wake-up from another thread, or a cancel fd.
 * Engines go back to the pool with their live connections, so calls reuse them.
 */

typedef struct ulm_engine ulm_engine;
typedef struct ulm_engine_pool ulm_engine_pool;
typedef struct ulm_transfer ulm_transfer;

/* Receives body bytes as they arrive; a non-zero return (an error code) ends the exchange. */
typedef int (*ulm_body_fn)(void *ctx, ulm_http_response *resp, const char *data, size_t n);

/* Told that a transfer ended; t->rc and t->reason say how. */
typedef void (*ulm_transfer_done_fn)(ulm_transfer *t, void *ctx);

/*
 * Performs one exchange at once instead of the network (tests): ULM_OK when an answer of
 * any status was put in resp (through ulm__transfer_body), else an error class with a
 * reason in errbuf.
 */
typedef int (*ulm_transport_fn)(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                                char *errbuf, size_t errbuf_size);

/* What the engine needs to keep of one easy handle's transfer; private to engine.c. */
typedef struct ulm_transfer_slot ulm_transfer_slot;

/* One HTTP exchange. The caller fills the first part and keeps the struct alive until the
 * exchange ended (on_done) or was aborted. */
struct ulm_transfer {
    const char *url;
    const ulm_http_request *http;
    const char *auth_header_line; /* "Authorization: Bearer ...", or NULL */
    const char *accept;           /* media type of the answer wanted */
    const char *ca_file;          /* CA certificates to verify TLS with; NULL: libcurl's */
    const char *proxy;            /* proxy URL ("" none); NULL: libcurl's, which reads
                                     http_proxy, https_proxy and no_proxy */
    size_t max_response_bytes;    /* cap on a body kept whole */
    ulm_clocks *clocks;           /* limits; the engine records connection and status line */
    ulm_body_fn on_body;          /* NULL: the body is kept whole in resp */
    void *on_body_ctx;
    ulm_transfer_done_fn on_done;
    void *on_done_ctx;
    ulm_http_response *resp;      /* filled as the answer arrives */

    /* How it ended: ULM_OK when an HTTP answer of any status arrived in full; the code of
     * the clock that fired; the code on_body returned; or a transport class (ULM_ECONNECT,
     * ULM_ETOO_LARGE, ULM_ETRANSPORT, ULM_ENOMEM) with a reason. */
    int rc;
    char reason[ULM_ERROR_SIZE];

    ulm_transfer_slot *slot;      /* the engine's; NULL when not running */
};

/* What a transport does with body bytes: on_body, or keep them under the cap. */
ULM_HIDDEN int ulm__transfer_body(const ulm_transfer *t, ulm_http_response *resp,
                                  const char *data, size_t n);

/* A pool that keeps up to max_idle engines, with their connections, between calls. */
ULM_HIDDEN int ulm__engine_pool_new(ulm_engine_pool **out, unsigned int max_idle);
ULM_HIDDEN void ulm__engine_pool_free(ulm_engine_pool *pool);

/* The sockets the pool's engines hold open (connections in flight and kept alive), and
 * the engines idle in it; for the metrics. */
ULM_HIDDEN long ulm__engine_pool_sockets(ulm_engine_pool *pool);
ULM_HIDDEN unsigned int ulm__engine_pool_idle(ulm_engine_pool *pool);

/* Test hook: engines of this pool answer every transfer through fn, without the network. */
ULM_HIDDEN void ulm__engine_pool_set_transport(ulm_engine_pool *pool, ulm_transport_fn fn,
                                               void *ctx);

/* An engine for this thread's calls: an idle one with its connections, or a new one. */
ULM_HIDDEN int ulm__engine_borrow(ulm_engine_pool *pool, ulm_engine **out);
/* Gives an engine back; it must have no transfer running. */
ULM_HIDDEN void ulm__engine_return(ulm_engine_pool *pool, ulm_engine *engine);

/*
 * Starts t. ULM_OK: it runs, and on_done will be called from ulm__engine_run (also when
 * it failed to connect). ULM_ENOMEM: it never started, and on_done will not be called.
 */
ULM_HIDDEN int ulm__engine_start(ulm_engine *e, ulm_transfer *t);

/* Ends t at once if it is still running (its connection is closed); on_done is not called. */
ULM_HIDDEN void ulm__engine_abort(ulm_engine *e, ulm_transfer *t);

/* The longest a wait lasts when some descriptors it should watch could not be (no memory
 * for them): the caller looks at them itself between waits. */
#define ULM_UNWATCHED_WAIT_MS 50.0

/*
 * Moves the transfers on: performs I/O, ends those whose clock fired, and calls on_done of
 * each that ended. Waits first, at most until wake_at (ulm__now_ms() time; 0: no wait) or
 * until one of fds (may be NULL) becomes readable or ulm__engine_wakeup is called. Returns
 * ULM_OK, or ULM_ENOMEM / ULM_ETRANSPORT when libcurl's multi handle itself failed.
 */
ULM_HIDDEN int ulm__engine_run(ulm_engine *e, double wake_at, const int *fds, size_t fd_count);

/* Interrupts the engine's wait from any thread. */
ULM_HIDDEN void ulm__engine_wakeup(ulm_engine *e);

/* Transfers started and not yet ended or aborted. */
ULM_HIDDEN size_t ulm__engine_running(const ulm_engine *e);

#endif /* ULM_ENGINE_H */
