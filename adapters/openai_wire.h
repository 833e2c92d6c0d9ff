/* openai_wire.h - the OpenAI chat wire format, shared by the openai and dmr adapters. */
#ifndef ULM_OPENAI_WIRE_H
#define ULM_OPENAI_WIRE_H

#include "../lib/internal.h"

/* POST /chat/completions with the request as JSON, or GET /models. */
ULM_HIDDEN int ulm__openai_build(ulm_op op, const char *model, const ulm_request *req,
                                 ulm_http_request *out);

/* A success body into text, finish reason, usage and model; an error body into a class. */
ULM_HIDDEN int ulm__openai_parse(ulm_op op, const ulm_http_response *in, ulm_result *out);

#endif /* ULM_OPENAI_WIRE_H */
