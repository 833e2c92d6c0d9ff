/* complete.c - ulm_complete(): one call, driven to its end on an engine of the client's pool. */
#include "clock.h"
#include "driver.h"
#include "request.h"

int ulm_complete(ulm_response **out, ulm_client *client, const ulm_request *req)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client || !req)
        return ULM_EINVAL;
    ulm_call k;
    int rc = ulm__call_init(&k, client, req, ulm__now_ms(), NULL);
    ulm_engine *engine = NULL;
    if (rc == ULM_OK)
        rc = ulm__engine_borrow(client->engines, &engine);
    if (rc == ULM_OK) {
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
