/* embed.c - ulm_embed(): the request's inputs embedded, through a fallback chain like a chat call. */
#include "driver.h"

int ulm_embed(ulm_response **out, ulm_client *client, const ulm_request *req)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client || !req)
        return ULM_EINVAL;
    ulm_call_setup setup = {.op = ULM_OP_EMBED};
    return ulm__run_one(out, client, req, &setup);
}
