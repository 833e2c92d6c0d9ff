/* openai_wire.h - the OpenAI chat wire format, shared by the openai and dmr adapters. */
#ifndef ULM_OPENAI_WIRE_H
#define ULM_OPENAI_WIRE_H

#include "wire.h"

/* POST /chat/completions with the request as JSON (streamed, with usage, for
 * ULM_OP_CHAT_STREAM), or GET /models. */
ULM_HIDDEN int ulm__openai_build(ulm_op op, const char *model, const ulm_request *req,
                                 ulm_http_request *out);

/* A success body into text, finish reason, usage and model; an error body into a class.
 * A chat completion of the common shape is read by the scanner of openai_scan.c. */
ULM_HIDDEN int ulm__openai_parse(ulm_op op, const ulm_http_response *in, ulm_result *out);

/* The same, always with jansson: what an answer the scanner does not read goes through,
 * and what tests hold the scanner's results to. */
ULM_HIDDEN int ulm__openai_parse_json(ulm_op op, const ulm_http_response *in, ulm_result *out);

/* One chunk of a streamed answer: a text delta, the finish reason, usage, or an error.
 * The common chunk is read by openai_scan.c, any other by ulm__openai_parse_event_json. */
ULM_HIDDEN int ulm__openai_parse_event(const ulm_sse_event *event, ulm_result *out);

/* The same, always with jansson: what a chunk the scanner does not read goes through, and
 * what the tests hold the scanner's results to. */
ULM_HIDDEN int ulm__openai_parse_event_json(const ulm_sse_event *event, ulm_result *out);

#endif /* ULM_OPENAI_WIRE_H */
