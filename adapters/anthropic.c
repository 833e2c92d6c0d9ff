/* anthropic.c - the Anthropic adapter: the Messages API, its event stream and its errors. */
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json_read.h"
#include "json_write.h"
#include "turns.h"

/* The API version every request names; Anthropic changes wire formats only under a new one. */
#define ANTHROPIC_VERSION "2023-06-01"

/* The Messages API requires max_tokens. 4096 is the largest output every current Claude
 * model accepts, so a caller who sets none is never refused for asking too much. */
#define DEFAULT_MAX_TOKENS 4096L

/* ---------------------------------------------------------------- the request */

/* {"type":"text","text":...} */
static int append_block(ulm_text *b, const char *text)
{
    int rc = ulm__json_literal(b, "{\"type\":\"text\",\"text\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(b, text);
    return rc == ULM_OK ? ulm__json_literal(b, "}") : rc;
}

/*
 * The messages listed in index as one content value: a plain string for one message,
 * else an array of text blocks, which keeps the messages apart without inventing a
 * separator.
 */
static int append_content(ulm_text *b, const ulm_request *req, const size_t *index, size_t count)
{
    if (count == 1)
        return ulm__json_string(b, ulm_request_message_content(req, index[0]));
    int rc = ulm__json_literal(b, "[");
    for (size_t i = 0; rc == ULM_OK && i < count; i++) {
        if (i)
            rc = ulm__json_literal(b, ",");
        if (rc == ULM_OK)
            rc = append_block(b, ulm_request_message_content(req, index[i]));
    }
    return rc == ULM_OK ? ulm__json_literal(b, "]") : rc;
}

/* The system messages, wherever they stand, go in the top-level "system" field: the API
 * has no system role inside "messages". */
static int append_system(ulm_text *b, const ulm_request *req, size_t *scratch)
{
    size_t count = ulm__system_messages(req, scratch);
    if (!count)
        return ULM_OK;
    int rc = ulm__json_key(b, "system");
    return rc == ULM_OK ? append_content(b, req, scratch, count) : rc;
}

/* The conversation as alternating turns, as the API requires; consecutive messages of one
 * role are one turn. ULM_EINVAL when nothing is left to send. */
static int append_messages(ulm_text *b, const ulm_request *req, size_t *scratch)
{
    size_t at = 0, turns = 0, count;
    ulm_role role;
    int rc = ulm__json_key(b, "messages");
    if (rc == ULM_OK)
        rc = ulm__json_literal(b, "[");
    while (rc == ULM_OK && (count = ulm__next_turn(req, &at, scratch, &role)) > 0) {
        rc = ulm_text_appendf(b, "%s{\"role\":\"%s\",\"content\":", turns++ ? "," : "",
                              role == ULM_ROLE_ASSISTANT ? "assistant" : "user");
        if (rc == ULM_OK)
            rc = append_content(b, req, scratch, count);
        if (rc == ULM_OK)
            rc = ulm__json_literal(b, "}");
    }
    if (rc == ULM_OK && turns == 0)
        return ULM_EINVAL;
    return rc == ULM_OK ? ulm__json_literal(b, "]") : rc;
}

/* Anthropic's temperature scale ends at 1 where OpenAI's and Gemini's end at 2. */
#define MAX_TEMPERATURE 1.0

/*
 * Sampling parameters the caller set. The API has no seed: a seed is not sent. A
 * temperature past Anthropic's range is sent as its maximum rather than refused: a chain
 * shares one request across providers, and a 400 here would stop the whole chain over a
 * value every other provider accepts.
 */
static int append_parameters(ulm_text *b, const ulm_request *req)
{
    double real;
    int rc = ULM_OK;
    if (ulm_request_temperature(req, &real) && (rc = ulm__json_key(b, "temperature")) == ULM_OK)
        rc = ulm__json_real(b, real > MAX_TEMPERATURE ? MAX_TEMPERATURE : real);
    if (rc == ULM_OK && ulm_request_top_p(req, &real) &&
        (rc = ulm__json_key(b, "top_p")) == ULM_OK)
        rc = ulm__json_real(b, real);
    if (rc == ULM_OK && ulm_request_stop_count(req) &&
        (rc = ulm__json_key(b, "stop_sequences")) == ULM_OK)
        rc = ulm__json_stops(b, req);
    return rc;
}

static int build_messages(const char *model, const ulm_request *req, int stream,
                          ulm_http_request *out)
{
    size_t *scratch = calloc(ulm_request_message_count(req) + 1, sizeof *scratch);
    if (!scratch)
        return ULM_ENOMEM;
    long max_tokens = DEFAULT_MAX_TOKENS;
    ulm_request_max_tokens(req, &max_tokens);
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"model\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, model);
    if (rc == ULM_OK)
        rc = ulm_text_appendf(&body, ",\"max_tokens\":%ld", max_tokens);
    if (rc == ULM_OK)
        rc = append_system(&body, req, scratch);
    if (rc == ULM_OK)
        rc = append_messages(&body, req, scratch);
    if (rc == ULM_OK)
        rc = append_parameters(&body, req);
    if (rc == ULM_OK && stream)
        rc = ulm__json_literal(&body, ",\"stream\":true");
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "}");
    free(scratch);
    if (rc == ULM_OK)
        rc = ulm_http_request_add_header(out, "anthropic-version", ANTHROPIC_VERSION);
    if (rc == ULM_OK)
        return ulm__json_send(&body, "POST", "/v1/messages", out);
    ulm_text_free(&body);
    return rc;
}

static int anthropic_build(const ulm_provider *self, ulm_op op, const char *model,
                           const ulm_request *req, ulm_http_request *out)
{
    (void)self;
    switch (op) {
    case ULM_OP_CHAT:
    case ULM_OP_CHAT_STREAM:
        return req && model ? build_messages(model, req, op == ULM_OP_CHAT_STREAM, out)
                            : ULM_EINVAL;
    case ULM_OP_MODELS: {
        /* the list is paged; 1000 is the largest page and holds every model there is */
        int rc = ulm_http_request_add_header(out, "anthropic-version", ANTHROPIC_VERSION);
        return rc == ULM_OK ? ulm_http_request_set_target(out, "GET", "/v1/models?limit=1000")
                            : rc;
    }
    case ULM_OP_EMBED: /* Anthropic has no embeddings API (it points to Voyage AI) */
        break;
    }
    return ULM_EUNSUPPORTED;
}

/* ---------------------------------------------------------------- the answer */

static ulm_finish_reason finish_from(const char *reason)
{
    static const ulm_name_code reasons[] = {
        {"end_turn", ULM_FINISH_STOP},
        {"stop_sequence", ULM_FINISH_STOP},
        {"max_tokens", ULM_FINISH_LENGTH},
        {"model_context_window_exceeded", ULM_FINISH_LENGTH},
        {"tool_use", ULM_FINISH_TOOL_CALLS},
        {"refusal", ULM_FINISH_CONTENT_FILTER},
    };
    /* pause_turn, and whatever a later API adds, is unknown */
    return (ulm_finish_reason)ulm__code_of(reasons, sizeof reasons / sizeof reasons[0], reason,
                                           ULM_FINISH_UNKNOWN);
}

/*
 * The prompt is what was read: input_tokens counts only the part after the last cache
 * breakpoint, so the tokens written to and read from the cache are added back. A usage
 * object without input_tokens (a stream's message_delta may carry only output_tokens)
 * leaves the prompt count as it was.
 */
static void set_usage(json_t *usage, ulm_result *out)
{
    if (!json_is_object(usage))
        return;
    long prompt = ulm__json_count(usage, "input_tokens");
    if (prompt >= 0) {
        long created = ulm__json_count(usage, "cache_creation_input_tokens");
        long read = ulm__json_count(usage, "cache_read_input_tokens");
        prompt = ulm__wire_count_sum(prompt, created > 0 ? created : 0);
        prompt = ulm__wire_count_sum(prompt, read > 0 ? read : 0);
    }
    /* the total is left to the core: prompt + completion, from whichever events gave them */
    ulm_result_set_usage(out, prompt, ulm__json_count(usage, "output_tokens"), -1);
}

static int has_type(json_t *object, const char *type)
{
    const char *t = json_string_value(json_object_get(object, "type"));
    return t && strcmp(t, type) == 0;
}

/* The text blocks of a message, in order; tool calls and thinking are not text. */
static int take_text_blocks(json_t *content, ulm_result *out)
{
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block) {
        json_t *text = json_object_get(block, "text");
        if (!has_type(block, "text") || !json_is_string(text))
            continue;
        int rc = ulm_result_append_text(out, json_string_value(text), json_string_length(text));
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

static int parse_message(json_t *root, ulm_result *out)
{
    json_t *content = json_object_get(root, "content");
    if (!json_is_array(content))
        return ulm__protocol_error(out, "the message has no content array");
    int rc = take_text_blocks(content, out);
    if (rc != ULM_OK)
        return rc;
    ulm_result_set_finish_reason(out, finish_from(json_string_value(
                                          json_object_get(root, "stop_reason"))));
    set_usage(json_object_get(root, "usage"), out);
    const char *model = json_string_value(json_object_get(root, "model"));
    return model ? ulm_result_set_model(out, model) : ULM_OK;
}

/* ---------------------------------------------------------------- errors */

/* The class of an error type; the status's class when the type is not one we know. */
static int class_from_type(int status_class, const char *type)
{
    static const ulm_name_code types[] = {
        {"invalid_request_error", ULM_EBAD_REQUEST},
        {"authentication_error", ULM_EAUTH},
        {"permission_error", ULM_EAUTH},
        {"not_found_error", ULM_EMODEL_NOT_FOUND},
        {"request_too_large", ULM_EBAD_REQUEST},
        {"rate_limit_error", ULM_ERATE_LIMIT},
        {"billing_error", ULM_EQUOTA},
        {"api_error", ULM_ESERVER},
        {"timeout_error", ULM_ESERVER},
        {"overloaded_error", ULM_EUNAVAILABLE},
    };
    return ulm__code_of(types, sizeof types / sizeof types[0], type, status_class);
}

/*
 * Some failures arrive under a general type but change what a caller does: a prompt too
 * long for the window (another model may take it), and an account out of credit or past
 * its spending limit (another backend may serve it; waiting for a 429 to pass does not).
 * The details' error_code or the message is the only place that tells them apart.
 */
static int refine(int code, json_t *error, const char *message)
{
    const char *detail =
        json_string_value(json_object_get(json_object_get(error, "details"), "error_code"));
    if (detail && strcmp(detail, "enforced_spend_limit_reached") == 0)
        return ULM_EQUOTA;
    if (code != ULM_EBAD_REQUEST || !message)
        return code;
    if (strstr(message, "prompt is too long"))
        return ULM_ECONTEXT_LENGTH;
    if (strstr(message, "credit balance is too low") ||
        strstr(message, "reached your specified API usage limits"))
        return ULM_EQUOTA;
    return code;
}

/* {"type":"error","error":{"type":...,"message":...}}, as an answer or a stream event. */
static int set_error_object(json_t *error, int status_class, ulm_result *out)
{
    json_t *message = json_object_get(error, "message");
    int code = class_from_type(status_class, json_string_value(json_object_get(error, "type")));
    code = refine(code, error, json_string_value(message));
    return ulm__error_with_message(out, code, message);
}

static int parse_error(const ulm_http_response *in, ulm_result *out)
{
    size_t len;
    const char *body = ulm_http_response_body(in, &len);
    int status_class = ulm_error_from_http_status(ulm_http_response_status(in));
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    int rc = json_is_object(error) ? set_error_object(error, status_class, out)
                                   : ulm_result_set_error(out, status_class, body, len);
    json_decref(root);
    return rc;
}

static int anthropic_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                           ulm_result *out)
{
    (void)self;
    int status = ulm_http_response_status(in);
    if (status < 200 || status >= 300)
        return parse_error(in, out);
    size_t len;
    const char *body = ulm_http_response_body(in, &len);
    json_t *root;
    int rc = ulm__json_object_of(body, len, "the answer", out, &root);
    if (!root)
        return rc;
    rc = op == ULM_OP_MODELS ? ulm__json_model_ids(root, out) : parse_message(root, out);
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- the event stream */

/*
 * One event of a streamed message. The sequence is message_start, then per content
 * block a start, deltas and a stop, then message_delta (stop reason, output tokens) and
 * message_stop; ping may come anywhere. Only text_delta carries answer text: tool input
 * and thinking deltas are not text. Event types this adapter does not know are skipped,
 * as Anthropic asks of clients, so a new event type does not break old programs.
 */
static int translate_event(const char *type, json_t *root, ulm_result *out)
{
    if (strcmp(type, "content_block_delta") == 0) {
        json_t *delta = json_object_get(root, "delta");
        json_t *text = json_object_get(delta, "text");
        if (has_type(delta, "text_delta") && json_is_string(text))
            return ulm_result_append_text(out, json_string_value(text),
                                          json_string_length(text));
        return ULM_OK;
    }
    if (strcmp(type, "message_start") == 0) {
        json_t *message = json_object_get(root, "message");
        set_usage(json_object_get(message, "usage"), out);
        const char *model = json_string_value(json_object_get(message, "model"));
        return model ? ulm_result_set_model(out, model) : ULM_OK;
    }
    if (strcmp(type, "message_delta") == 0) {
        const char *reason =
            json_string_value(json_object_get(json_object_get(root, "delta"), "stop_reason"));
        if (reason)
            ulm_result_set_finish_reason(out, finish_from(reason));
        set_usage(json_object_get(root, "usage"), out);
        return ULM_OK;
    }
    if (strcmp(type, "message_stop") == 0) {
        ulm_result_end_stream(out);
        return ULM_OK;
    }
    if (strcmp(type, "error") == 0) /* a failure after the 200 status was sent */
        return set_error_object(json_object_get(root, "error"), ULM_ESERVER, out);
    return ULM_OK;
}

static int anthropic_parse_event(const ulm_provider *self, const ulm_sse_event *event,
                                 ulm_result *out)
{
    (void)self;
    size_t len;
    const char *data = ulm_sse_event_data(event, &len);
    json_t *root;
    int rc = ulm__json_object_of(data, len, "a stream event", out, &root);
    if (!root)
        return rc;
    /* the data names its type too; the event line is the fallback for terse servers */
    const char *type = json_string_value(json_object_get(root, "type"));
    rc = translate_event(type ? type : ulm_sse_event_name(event), root, out);
    json_decref(root);
    return rc;
}

static void anthropic_destroy(ulm_provider *self)
{
    free(self);
}

int ulm__anthropic_provider_new(ulm_provider **out)
{
    ulm_provider *p = calloc(1, sizeof *p);
    if (!p)
        return ULM_ENOMEM;
    p->version = ULM_PROVIDER_VERSION;
    p->name = "anthropic";
    p->auth_header = "x-api-key";
    p->build = anthropic_build;
    p->parse = anthropic_parse;
    p->parse_event = anthropic_parse_event;
    p->destroy = anthropic_destroy;
    *out = p;
    return ULM_OK;
}
