/* call.h - one call as a state machine: its chain of targets, retries, failovers and waits. */
#ifndef ULM_CALL_H
#define ULM_CALL_H

#include <stdatomic.h>
#include <stdint.h>

#include "dmr_pull.h"
#include "exchange.h"
#include "load_probe.h"
#include "response.h"
#include "route.h"

/*
 * A call never blocks. Each step either starts an exchange on the call's engine, or
 * waits: for a time (a retry's pause, a loading model's next poll), or for a slot in a
 * backend's limiter, which another thread may hand over. The driver (driver.c) runs the
 * engine and wakes the call when its time comes or its slot arrives; the exchange's end
 * moves it on by itself. Everything a call needs is in this struct, so one engine can
 * drive any number of calls at once.
 */

typedef enum ulm_call_state {
    ULM_CALL_IDLE = 0,   /* not started */
    ULM_CALL_SENDING,    /* an exchange is on its way */
    ULM_CALL_WAIT_SLOT,  /* in a limiter's line */
    ULM_CALL_WAIT_LOAD,  /* a local model said it is loading: ask again at wake_at */
    ULM_CALL_WAIT_RETRY, /* pausing before the target's next round, until wake_at */
    ULM_CALL_PULLING,    /* the local model was not pulled: pulling it (auto_pull) */
    ULM_CALL_DONE
} ulm_call_state;

typedef struct ulm_call ulm_call;

/* Told when a call is done (from inside the driver's loop). */
typedef void (*ulm_call_done_fn)(ulm_call *k, void *ctx);

/* Told what a running call waits for (a ulm_member_state other than ANSWERING), at each
 * step that may change it: the same state may be told again. */
typedef void (*ulm_call_state_fn)(ulm_call *k, int state, void *ctx);

struct ulm_call {
    /* set by ulm__call_init */
    ulm_client *client;
    const ulm_request *req;
    ulm_op op;                 /* ULM_OP_CHAT or ULM_OP_EMBED */
    ulm_response *resp;        /* the call's outcome, built as it goes */
    ulm_timeouts timeouts;
    double start;
    double deadline;
    ulm_delta_fn on_delta;
    void *payload;
    ulm_call_done_fn on_done;  /* may be NULL */
    void *on_done_ctx;
    ulm_call_state_fn on_state; /* may be NULL */
    void *on_state_ctx;
    ulm_engine *engine;

    ulm_call_state state;
    double wake_at;            /* WAIT_LOAD, WAIT_RETRY: when to go on */
    atomic_int poked;          /* a limiter slot was handed to the call from any thread */
    int rc;                    /* the outcome once DONE */
    uint64_t random_state;     /* backoff jitter */

    /* the chain */
    ulm_target_list targets;
    size_t index;              /* the target being tried */
    long too_small;            /* a context window found too small for this prompt */
    int skip_cloud;            /* offline: cloud targets are not asked */
    int probing;               /* this call may find out whether the network is back */
    int cloud_unreachable;     /* a cloud target could not be reached during this call */
    int cloud_asked;           /* a cloud target was actually asked */
    int locals_added;          /* offline fallbacks were appended to the chain */

    /* the target being tried */
    ulm_target target;
    char *override_url;        /* the request's base URL for its backend, as an API root */
    char *override_auth;       /* the request's key for its backend, as a header line */
    ulm_result result;
    unsigned int retry;        /* rounds after the first */
    int status;                /* HTTP status of the latest attempt */
    long retry_after_ms;       /* when the latest answer said to ask again; -1: it did not */
    size_t delivered;          /* text handed to on_delta */
    long reported_window;      /* the context window the latest failure reported, 0: none */
    int pulled;                /* auto_pull pulled (or tried to pull) the target's model */
    ulm_pull_exchange *pull;   /* while PULLING; kept for a later target's pull */
    double pull_end;           /* the pull's budget: the load budget, within the deadline */
    double pull_reported;      /* the percent last logged */

    /* the round: one attempt, and at once another per deployment when one is unwell */
    uint64_t tried;            /* deployments this round has tried */
    int last;                  /* the latest outcome of the round */

    /* the attempt */
    double attempt_start;
    double slot_at;            /* when the limiter's slot was taken */
    int holds_slot;
    int endpoint;              /* the deployment, -1 while none is picked */
    const char *attempt_url;   /* the base URL the attempt was sent to; NULL before one was
                                  picked (a refused slot, an open circuit) */
    const char *attempt_shown; /* the backend's redacted copy of attempt_url, or NULL:
                                  redacted when recorded (the request's own URL or key) */
    ulm_limiter_waiter waiter;
    ulm_request *shaped;       /* the request in the model's prompt template, or NULL */
    ulm_request *view;         /* the request with the model's parameters, or NULL */
    ulm_clocks clocks;
    double load_end;           /* a local model's load budget, kept across loading polls */
    ulm_exchange x;
    ulm_load_probe *probe;     /* beside x: is the local model loaded already; NULL when
                                  nothing is asked */
    double probe_at;           /* SENDING: when to start the probe; 0: not to */
};

/* How a call differs from what its request alone says. */
typedef struct ulm_call_setup {
    ulm_op op;              /* ULM_OP_CHAT (0 means it too) or ULM_OP_EMBED */
    const char *models;     /* comma-separated model strings; NULL: the request's */
    double deadline_cap;    /* the call ends by then at the latest; 0: no cap */
    ulm_delta_fn on_delta;  /* replaces the request's callback when not NULL */
    void *payload;
} ulm_call_setup;

/*
 * Prepares a call of req on c (setup may be NULL): the response, the clocks and the
 * targets. Returns ULM_ENOMEM only; any other failure (a bad target) makes the call DONE
 * at once with its error in the response.
 */
ULM_HIDDEN int ulm__call_init(ulm_call *k, ulm_client *c, const ulm_request *req, double now,
                              const ulm_call_setup *setup);

/* Starts a prepared call on e; it may be DONE on return. */
ULM_HIDDEN void ulm__call_begin(ulm_call *k, ulm_engine *e);

/*
 * Moves a waiting call on when its time came or its slot arrived; returns when it wants
 * to be woken next (ulm__now_ms() time; 0: it waits for no time).
 */
ULM_HIDDEN double ulm__call_tend(ulm_call *k, double now);

/*
 * Ends a running call at once with code (ULM_ECANCELLED, or ULM_ETIMEOUT for a round's
 * deadline) and message: its exchange is aborted, its place in a line given up. Text
 * already delivered stays in the response, marked incomplete.
 */
ULM_HIDDEN void ulm__call_stop(ulm_call *k, int code, const char *message);

/* The response (the caller owns it from then on), or NULL after ULM_ENOMEM. */
ULM_HIDDEN ulm_response *ulm__call_take_response(ulm_call *k);

/* Frees what the call holds; its response too unless it was taken. */
ULM_HIDDEN void ulm__call_clear(ulm_call *k);

#endif /* ULM_CALL_H */
