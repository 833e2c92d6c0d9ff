/* openai.c - the OpenAI adapter: the shared wire format with a bearer key. */
#include <stdlib.h>

#include "builtin.h"
#include "openai_wire.h"

static int openai_build(const ulm_provider *self, ulm_op op, const char *model,
                        const ulm_request *req, ulm_http_request *out)
{
    (void)self;
    return ulm__openai_build(op, model, req, out);
}

static int openai_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                        ulm_result *out)
{
    (void)self;
    return ulm__openai_parse(op, in, out);
}

static int openai_parse_event(const ulm_provider *self, const ulm_sse_event *event,
                              ulm_result *out)
{
    (void)self;
    return ulm__openai_parse_event(event, out);
}

static void openai_destroy(ulm_provider *self)
{
    free(self);
}

int ulm__openai_provider_new(ulm_provider **out)
{
    ulm_provider *p = calloc(1, sizeof *p);
    if (!p)
        return ULM_ENOMEM;
    p->version = ULM_PROVIDER_VERSION;
    p->name = "openai";
    p->auth_header = "Authorization";
    p->auth_prefix = "Bearer ";
    p->build = openai_build;
    p->parse = openai_parse;
    p->parse_event = openai_parse_event;
    p->destroy = openai_destroy;
    *out = p;
    return ULM_OK;
}
