/* complete.c - ulm_complete(): one chat call, driven to its end on an engine of the client's pool. */
#include "driver.h"

int ulm_complete(ulm_response **out, ulm_client *client, const ulm_request *req)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client || !req)
        return ULM_EINVAL;
    return ulm__run_one(out, client, req, NULL);
}
