/* driver.c - runs calls on one engine until they are done: the loop behind every blocking API. */
#include "cancel.h"
#include "clock.h"
#include "driver.h"
#include "hub.h"
#include "request.h"

void ulm__driver_stop_all(ulm_driver *d, int code, const char *message)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->calls[i]->state != ULM_CALL_DONE)
            ulm__call_stop(d->calls[i], code, message);
}

static int all_done(const ulm_driver *d)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->calls[i]->state != ULM_CALL_DONE)
            return 0;
    return 1;
}

/* Wakes the calls whose time came or whose slot arrived; returns the next wake-up time. */
static double wake_calls(ulm_driver *d, double now)
{
    double next = d->deadline;
    for (size_t i = 0; i < d->count; i++) {
        double at = ulm__call_tend(d->calls[i], now);
        if (at && (!next || at < next))
            next = at;
    }
    return next;
}

int ulm__driver_run(ulm_driver *d)
{
    for (size_t i = 0; i < d->count; i++)
        if (!d->calls[i]->engine) /* not begun, though it may be done already */
            ulm__call_begin(d->calls[i], d->engine);
    int fd = d->cancel ? ulm__cancel_fd(d->cancel) : -1;
    while (!all_done(d)) {
        if (d->cancel && ulm_cancel_triggered(d->cancel)) {
            ulm__driver_stop_all(d, ULM_ECANCELLED, "cancelled by the caller");
            break;
        }
        if (d->should_stop && d->should_stop(d->ctx)) {
            ulm__driver_stop_all(d, ULM_ECANCELLED, "cancelled: the round no longer needs it");
            break;
        }
        double now = ulm__now_ms();
        if (d->deadline && now >= d->deadline) {
            ulm__driver_stop_all(d, d->deadline_code, d->deadline_message);
            break;
        }
        double wake_at = wake_calls(d, now);
        if (all_done(d))
            break;
        int rc = ulm__engine_run(d->engine, wake_at, fd >= 0 ? &fd : NULL, fd >= 0);
        if (rc != ULM_OK) {
            ulm__driver_stop_all(d, rc, "the transport failed");
            return rc;
        }
    }
    return ULM_OK;
}

int ulm__run_one(ulm_response **out, ulm_client *client, const ulm_request *req,
                 const ulm_call_setup *setup)
{
    *out = NULL;
    ulm_call k;
    int rc = ulm__call_init(&k, client, req, ulm__now_ms(), setup);
    ulm_engine *engine = NULL;
    if (rc == ULM_OK && !k.on_delta && ulm__hub_usable(client->hub)) {
        ulm__hub_run(client->hub, &k, ulm__request_cancel(req));
        rc = k.rc;
    } else if (rc == ULM_OK && (rc = ulm__engine_borrow(client->engines, &engine)) == ULM_OK) {
        ulm_call *calls[1] = {&k};
        ulm_driver d = {.engine = engine, .calls = calls, .count = 1,
                        .cancel = ulm__request_cancel(req)};
        ulm__driver_run(&d);
        ulm__engine_return(client->engines, engine);
        rc = k.rc;
    }
    ulm_response *resp = rc == ULM_ENOMEM ? NULL : ulm__call_take_response(&k);
    ulm__call_clear(&k);
    if (!resp)
        return ULM_ENOMEM;
    *out = resp;
    return rc;
}
