/* openai_wire.c - builds and parses the OpenAI chat-completions and models wire format. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"
#include "json_write.h"
#include "openai_scan.h"
#include "openai_wire.h"

static const char *role_name(ulm_role role)
{
    switch (role) {
    case ULM_ROLE_SYSTEM:
        return "system";
    case ULM_ROLE_ASSISTANT:
        return "assistant";
    case ULM_ROLE_USER:
        break;
    }
    return "user";
}

/* Adds the sampling parameters the caller set; unset ones are left to the backend. */
static int append_parameters(ulm_text *b, const ulm_request *req)
{
    double real;
    long count;
    int64_t seed;
    int rc = ULM_OK;
    if (ulm_request_temperature(req, &real) && (rc = ulm__json_key(b, "temperature")) == ULM_OK)
        rc = ulm__json_real(b, real);
    if (rc == ULM_OK && ulm_request_top_p(req, &real) &&
        (rc = ulm__json_key(b, "top_p")) == ULM_OK)
        rc = ulm__json_real(b, real);
    if (rc == ULM_OK && ulm_request_max_tokens(req, &count) &&
        (rc = ulm__json_key(b, "max_tokens")) == ULM_OK)
        rc = ulm__json_integer(b, count);
    if (rc == ULM_OK && ulm_request_seed(req, &seed) && (rc = ulm__json_key(b, "seed")) == ULM_OK)
        rc = ulm__json_integer(b, seed);
    if (rc == ULM_OK && ulm_request_stop_count(req) && (rc = ulm__json_key(b, "stop")) == ULM_OK)
        rc = ulm__json_stops(b, req);
    return rc;
}

static int build_chat(const char *model, const ulm_request *req, int stream,
                      ulm_http_request *out)
{
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"model\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, model);
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, ",\"messages\":[");
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_message_count(req); i++) {
        rc = i ? ulm__json_literal(&body, ",{\"role\":") : ulm__json_literal(&body, "{\"role\":");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, role_name(ulm_request_message_role(req, i)));
        if (rc == ULM_OK)
            rc = ulm__json_literal(&body, ",\"content\":");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, ulm_request_message_content(req, i));
        if (rc == ULM_OK)
            rc = ulm__json_literal(&body, "}");
    }
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "]");
    if (rc == ULM_OK)
        rc = append_parameters(&body, req);
    if (rc == ULM_OK && stream) /* without include_usage a stream reports no token counts */
        rc = ulm__json_literal(&body,
                               ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "}");
    if (rc == ULM_OK)
        return ulm__json_send(&body, "POST", "/chat/completions", out);
    ulm_text_free(&body);
    return rc;
}

/* POST /embeddings {"model", "input": [texts]}. */
static int build_embeddings(const char *model, const ulm_request *req, ulm_http_request *out)
{
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"model\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, model);
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, ",\"input\":[");
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_input_count(req); i++) {
        if (i)
            rc = ulm__json_literal(&body, ",");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, ulm_request_input(req, i));
    }
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "]}");
    if (rc == ULM_OK)
        return ulm__json_send(&body, "POST", "/embeddings", out);
    ulm_text_free(&body);
    return rc;
}

int ulm__openai_build(ulm_op op, const char *model, const ulm_request *req,
                      ulm_http_request *out)
{
    switch (op) {
    case ULM_OP_CHAT:
    case ULM_OP_CHAT_STREAM:
        return req && model ? build_chat(model, req, op == ULM_OP_CHAT_STREAM, out)
                            : ULM_EINVAL;
    case ULM_OP_MODELS:
        return ulm_http_request_set_target(out, "GET", "/models");
    case ULM_OP_EMBED:
        return req && model ? build_embeddings(model, req, out) : ULM_EINVAL;
    }
    return ULM_EUNSUPPORTED;
}

static ulm_finish_reason finish_from(const char *reason)
{
    static const ulm_name_code reasons[] = {
        {"stop", ULM_FINISH_STOP},
        {"length", ULM_FINISH_LENGTH},
        {"content_filter", ULM_FINISH_CONTENT_FILTER},
        {"tool_calls", ULM_FINISH_TOOL_CALLS},
        {"function_call", ULM_FINISH_TOOL_CALLS},
    };
    return (ulm_finish_reason)ulm__code_of(reasons, sizeof reasons / sizeof reasons[0], reason,
                                           ULM_FINISH_UNKNOWN);
}

/* usage's counts; a count it does not give (or no usage at all) is -1 */
static void set_usage(json_t *usage, ulm_result *out)
{
    ulm_result_set_usage(out, ulm__json_count(usage, "prompt_tokens"),
                         ulm__json_count(usage, "completion_tokens"),
                         ulm__json_count(usage, "total_tokens"));
}

static int parse_chat(json_t *root, ulm_result *out)
{
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    if (!json_is_object(choice))
        return ulm__protocol_error(out, "the answer has no choices");
    json_t *message = json_object_get(choice, "message");
    if (!json_is_object(message))
        return ulm__protocol_error(out, "the first choice has no message");
    json_t *content = json_object_get(message, "content");
    if (content && !json_is_string(content) && !json_is_null(content))
        return ulm__protocol_error(out, "the message content is not a string");
    int rc = ulm_result_set_text(out, json_is_string(content) ? json_string_value(content) : "",
                                 json_is_string(content) ? json_string_length(content) : 0);
    if (rc != ULM_OK)
        return rc;
    ulm_result_set_finish_reason(out, finish_from(json_string_value(
                                          json_object_get(choice, "finish_reason"))));
    set_usage(json_object_get(root, "usage"), out);
    const char *model = json_string_value(json_object_get(root, "model"));
    return model ? ulm_result_set_model(out, model) : ULM_OK;
}

/* Refines the status class with the error's own code: these change what a caller does. */
static int class_from_code(int status_class, const char *code)
{
    static const ulm_name_code codes[] = {
        {"context_length_exceeded", ULM_ECONTEXT_LENGTH},
        {"exceed_context_size_error", ULM_ECONTEXT_LENGTH},
        {"insufficient_quota", ULM_EQUOTA},
        {"rate_limit_exceeded", ULM_ERATE_LIMIT},
        {"model_not_found", ULM_EMODEL_NOT_FOUND},
        {"invalid_api_key", ULM_EAUTH},
        /* a prompt refused by a safety system: OpenAI's moderation, Azure's content filter */
        {"content_policy_violation", ULM_ECONTENT_FILTER},
        {"content_filter", ULM_ECONTENT_FILTER},
    };
    return ulm__code_of(codes, sizeof codes / sizeof codes[0], code, status_class);
}

/* An error object, in an error answer or inside a stream, into a class and message. */
static int set_error_object(json_t *error, int status_class, ulm_result *out)
{
    int code = class_from_code(status_class, json_string_value(json_object_get(error, "code")));
    code = class_from_code(code, json_string_value(json_object_get(error, "type")));
    json_t *n_ctx = json_object_get(error, "n_ctx"); /* llama.cpp's server names its window */
    if (code == ULM_ECONTEXT_LENGTH && json_is_integer(n_ctx) &&
        json_integer_value(n_ctx) <= LONG_MAX)
        ulm_result_set_context_window(out, (long)json_integer_value(n_ctx));
    return ulm__error_with_message(out, code, json_object_get(error, "message"));
}

static int parse_error(const ulm_http_response *in, ulm_result *out)
{
    size_t len;
    const char *body = ulm_http_response_body(in, &len);
    int code = ulm_error_from_http_status(ulm_http_response_status(in));
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    if (!json_is_object(error)) {
        /* a crashed DMR runner answers {"type":"error","message":...}; DMR's own
         * failures are text/plain, passed on as they are */
        json_t *message = json_object_get(root, "message");
        int rc = json_is_string(message)
                     ? ulm_result_set_error(out, code, json_string_value(message),
                                            json_string_length(message))
                     : ulm_result_set_error(out, code, body, len);
        json_decref(root);
        return rc;
    }
    int rc = set_error_object(error, code, out);
    json_decref(root);
    return rc;
}

/* {"data": [{"embedding": [...], "index": i}, ...], "usage": {...}}: the vectors in the
 * order of their index (servers may answer in any order), each index once. */
static int parse_embeddings(json_t *root, ulm_result *out)
{
    json_t *data = json_object_get(root, "data");
    size_t n = json_array_size(data);
    if (!json_is_array(data) || n == 0)
        return ulm__protocol_error(out, "the answer has no embeddings");
    for (size_t want = 0; want < n; want++) {
        json_t *found = NULL;
        for (size_t i = 0; i < n && !found; i++) {
            json_t *item = json_array_get(data, i);
            json_t *index = json_object_get(item, "index");
            /* an answer without indexes is in order */
            if (index ? json_is_integer(index) && (size_t)json_integer_value(index) == want
                      : i == want)
                found = item;
        }
        if (!found)
            return ulm__protocol_error(out, "the embeddings' indexes are not 0 to n-1");
        int rc = ulm__json_add_vector(out, json_object_get(found, "embedding"));
        if (rc != ULM_OK || ulm_result_error(out) != ULM_OK)
            return rc;
    }
    set_usage(json_object_get(root, "usage"), out);
    const char *model = json_string_value(json_object_get(root, "model"));
    return model ? ulm_result_set_model(out, model) : ULM_OK;
}

/* A span's text with its escapes resolved, handed to put (ulm_result_set_text or
 * ulm_result_append_text). */
static int put_text(const ulm_openai_span *text, int escaped, ulm_result *out,
                    int (*put)(ulm_result *, const char *, size_t))
{
    if (!escaped)
        return put(out, text->data ? text->data : "", text->len);
    char small[512], *plain = small;
    if (text->len > sizeof small && !(plain = malloc(text->len)))
        return ULM_ENOMEM;
    size_t n = ulm__openai_unescape(text, plain);
    int rc = put(out, plain, n);
    if (plain != small)
        free(plain);
    return rc;
}

/* A finish reason's span into the result, as finish_from() reads its name. */
static void set_finish_of(const ulm_openai_span *finish, ulm_result *out)
{
    char name[64];
    const char *reason = NULL;
    if (finish->data) {
        /* longer than any reason finish_from() knows: the same "unknown" as for jansson */
        size_t n = finish->len < sizeof name ? finish->len : sizeof name - 1;
        memcpy(name, finish->data, n);
        name[n] = '\0';
        reason = name;
    }
    ulm_result_set_finish_reason(out, finish_from(reason));
}

/* A model's span into the result. */
static int set_model_of(const ulm_openai_span *model, ulm_result *out)
{
    char small[256], *name = small;
    if (model->len >= sizeof small && !(name = malloc(model->len + 1)))
        return ULM_ENOMEM;
    memcpy(name, model->data, model->len);
    name[model->len] = '\0';
    int rc = ulm_result_set_model(out, name);
    if (name != small)
        free(name);
    return rc;
}

/* A completion the scanner read, applied as parse_chat() applies jansson's tree. */
static int apply_completion(const ulm_openai_completion *c, ulm_result *out)
{
    int rc = put_text(&c->content, c->content_escaped, out, ulm_result_set_text);
    if (rc != ULM_OK)
        return rc;
    set_finish_of(&c->finish, out);
    ulm_result_set_usage(out, c->prompt_tokens, c->completion_tokens, c->total_tokens);
    return c->model.data ? set_model_of(&c->model, out) : ULM_OK;
}

int ulm__openai_parse(ulm_op op, const ulm_http_response *in, ulm_result *out)
{
    int status = ulm_http_response_status(in);
    if (op == ULM_OP_CHAT && status >= 200 && status < 300) {
        size_t len;
        const char *body = ulm_http_response_body(in, &len);
        ulm_openai_completion answer;
        if (ulm__openai_scan_completion(body, len, &answer))
            return apply_completion(&answer, out);
    }
    return ulm__openai_parse_json(op, in, out);
}

int ulm__openai_parse_json(ulm_op op, const ulm_http_response *in, ulm_result *out)
{
    int status = ulm_http_response_status(in);
    if (status < 200 || status >= 300)
        return parse_error(in, out);
    size_t len;
    const char *body = ulm_http_response_body(in, &len);
    json_t *root;
    int rc = ulm__json_object_of(body, len, "the answer", out, &root);
    if (!root)
        return rc;
    rc = op == ULM_OP_MODELS  ? ulm__json_model_ids(root, out)
         : op == ULM_OP_EMBED ? parse_embeddings(root, out)
                              : parse_chat(root, out);
    json_decref(root);
    return rc;
}

/* The text of choices[0].delta.content, with its length; NULL when the chunk has none. */
static const char *delta_content(json_t *choice, size_t *len)
{
    json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
    *len = json_string_length(content);
    return json_string_value(content);
}

/* A chunk the scanner read, applied as the jansson path below applies it. */
static int apply_chunk(const ulm_openai_chunk *c, ulm_result *out)
{
    int rc = ULM_OK;
    if (c->content.data && c->content.len)
        rc = put_text(&c->content, c->content_escaped, out, ulm_result_append_text);
    if (c->finish.data)
        set_finish_of(&c->finish, out);
    if (rc == ULM_OK && c->model.data && !ulm_result_model(out))
        rc = set_model_of(&c->model, out);
    return rc;
}

int ulm__openai_parse_event(const ulm_sse_event *event, ulm_result *out)
{
    size_t len;
    const char *data = ulm_sse_event_data(event, &len);
    ulm_openai_chunk chunk;
    if (ulm__openai_scan_chunk(data, len, &chunk))
        return apply_chunk(&chunk, out);
    return ulm__openai_parse_event_json(event, out);
}

int ulm__openai_parse_event_json(const ulm_sse_event *event, ulm_result *out)
{
    size_t len;
    const char *data = ulm_sse_event_data(event, &len);
    json_t *root;
    int rc = ulm__json_object_of(data, len, "a stream event", out, &root);
    if (!root)
        return rc;
    json_t *error = json_object_get(root, "error");
    if (json_is_object(error)) { /* a failure after the 200 status was sent */
        rc = set_error_object(error, ULM_ESERVER, out);
        json_decref(root);
        return rc;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    size_t text_len;
    const char *text = delta_content(choice, &text_len);
    if (text && text_len)
        rc = ulm_result_append_text(out, text, text_len);
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish)
        ulm_result_set_finish_reason(out, finish_from(finish));
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage))
        set_usage(usage, out);
    const char *model = json_string_value(json_object_get(root, "model"));
    if (rc == ULM_OK && model && !ulm_result_model(out))
        rc = ulm_result_set_model(out, model);
    json_decref(root);
    return rc;
}
