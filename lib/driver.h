/* driver.h - runs calls on one engine until they are done: the loop behind every blocking API. */
#ifndef ULM_DRIVER_H
#define ULM_DRIVER_H

#include "call.h"

typedef struct ulm_driver {
    ulm_engine *engine;
    ulm_call **calls;
    size_t count;
    const ulm_cancel *cancel;  /* when triggered, every running call stops (ULM_ECANCELLED) */
    double deadline;           /* 0: none; when it passes, running calls stop with
                                  deadline_code and deadline_message */
    int deadline_code;
    const char *deadline_message;
    /* Asked after calls end: non-zero stops the calls still running, as cancelled. */
    int (*should_stop)(void *ctx);
    void *ctx;
} ulm_driver;

/*
 * Begins the calls that are not started, then moves them on until each is DONE. Returns
 * ULM_OK, or the engine's own failure (ULM_ENOMEM, ULM_ETRANSPORT), after which the calls
 * still running were stopped with it.
 */
ULM_HIDDEN int ulm__driver_run(ulm_driver *d);

/*
 * One call of req (as setup says; NULL: a chat call) driven to its end on an engine of
 * the client's pool: what ulm_complete() and ulm_embed() are. *out gets the response, also
 * of a failed call; NULL only with ULM_ENOMEM. Returns the call's outcome.
 */
ULM_HIDDEN int ulm__run_one(ulm_response **out, ulm_client *client, const ulm_request *req,
                            const ulm_call_setup *setup);

/* Stops every call of d still running with code and message. */
ULM_HIDDEN void ulm__driver_stop_all(ulm_driver *d, int code, const char *message);

#endif /* ULM_DRIVER_H */
