/* gemini.c - the Google Gemini adapter: generateContent, its SSE stream and Google's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json_read.h"
#include "json_write.h"
#include "turns.h"

/* ---------------------------------------------------------------- model names */

/*
 * The model goes into the URL path, so only the characters of Google's model ids pass:
 * a "/", "?" or "%" would change which resource is asked. "models/gemini-2.0-flash", the
 * resource name the model list gives, is accepted as "gemini-2.0-flash".
 */
static int gemini_normalize_model(const ulm_provider *self, const char *name, char *buf,
                                  size_t buf_size)
{
    (void)self;
    static const char prefix[] = "models/";
    if (strncmp(name, prefix, sizeof prefix - 1) == 0)
        name += sizeof prefix - 1;
    size_t len = strlen(name);
    if (len == 0 || len >= buf_size)
        return ULM_EINVAL;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
        if (!ok)
            return ULM_EINVAL;
    }
    memcpy(buf, name, len + 1);
    return ULM_OK;
}

/* ---------------------------------------------------------------- the request */

/* "parts":[{"text":...},...] for the messages listed in index. */
static int append_parts(ulm_text *b, const ulm_request *req, const size_t *index, size_t count)
{
    int rc = ulm__json_literal(b, "\"parts\":[");
    for (size_t i = 0; rc == ULM_OK && i < count; i++) {
        rc = i ? ulm__json_literal(b, ",{\"text\":") : ulm__json_literal(b, "{\"text\":");
        if (rc == ULM_OK)
            rc = ulm__json_string(b, ulm_request_message_content(req, index[i]));
        if (rc == ULM_OK)
            rc = ulm__json_literal(b, "}");
    }
    return rc == ULM_OK ? ulm__json_literal(b, "]") : rc;
}

/*
 * "contents": the conversation with roles user and model. Consecutive messages of one
 * role become one turn with a part each, since Gemini expects the roles to alternate.
 * ULM_EINVAL when nothing is left to send.
 */
static int append_contents(ulm_text *b, const ulm_request *req, size_t *scratch)
{
    size_t at = 0, turns = 0, count;
    ulm_role role;
    int rc = ulm__json_literal(b, "\"contents\":[");
    while (rc == ULM_OK && (count = ulm__next_turn(req, &at, scratch, &role)) > 0) {
        rc = ulm_text_appendf(b, "%s{\"role\":\"%s\",", turns++ ? "," : "",
                              role == ULM_ROLE_ASSISTANT ? "model" : "user");
        if (rc == ULM_OK)
            rc = append_parts(b, req, scratch, count);
        if (rc == ULM_OK)
            rc = ulm__json_literal(b, "}");
    }
    if (rc == ULM_OK && turns == 0)
        return ULM_EINVAL;
    return rc == ULM_OK ? ulm__json_literal(b, "]") : rc;
}

/* The system messages, wherever they stand, as systemInstruction: one part each. */
static int append_system(ulm_text *b, const ulm_request *req, size_t *scratch)
{
    size_t count = ulm__system_messages(req, scratch);
    if (!count)
        return ULM_OK;
    int rc = ulm__json_literal(b, ",\"systemInstruction\":{");
    if (rc == ULM_OK)
        rc = append_parts(b, req, scratch, count);
    return rc == ULM_OK ? ulm__json_literal(b, "}") : rc;
}

/* "generationConfig" with the parameters the caller set; absent when none was. */
static int append_generation_config(ulm_text *b, const ulm_request *req)
{
    ulm_text config = {0};
    double real;
    long count;
    int64_t seed;
    int rc = ULM_OK;
    if (ulm_request_temperature(req, &real) &&
        (rc = ulm__json_key(&config, "temperature")) == ULM_OK)
        rc = ulm__json_real(&config, real);
    if (rc == ULM_OK && ulm_request_top_p(req, &real) &&
        (rc = ulm__json_key(&config, "topP")) == ULM_OK)
        rc = ulm__json_real(&config, real);
    if (rc == ULM_OK && ulm_request_max_tokens(req, &count) &&
        (rc = ulm__json_key(&config, "maxOutputTokens")) == ULM_OK)
        rc = ulm_text_appendf(&config, "%ld", count);
    if (rc == ULM_OK && ulm_request_seed(req, &seed) &&
        (rc = ulm__json_key(&config, "seed")) == ULM_OK)
        rc = ulm_text_appendf(&config, "%lld", (long long)seed);
    if (rc == ULM_OK && ulm_request_stop_count(req) &&
        (rc = ulm__json_key(&config, "stopSequences")) == ULM_OK)
        rc = ulm__json_stops(&config, req);
    /* each member was written with a leading comma: the first one's opens the object */
    if (rc == ULM_OK && config.len)
        rc = ulm_text_appendf(b, ",\"generationConfig\":{%s}", config.data + 1);
    ulm_text_free(&config);
    return rc;
}

static int build_generate(const char *model, const ulm_request *req, int stream,
                          ulm_http_request *out)
{
    size_t *scratch = calloc(ulm_request_message_count(req) + 1, sizeof *scratch);
    if (!scratch)
        return ULM_ENOMEM;
    ulm_text body = {0}, path = {0};
    int rc = ulm__json_literal(&body, "{");
    if (rc == ULM_OK)
        rc = append_contents(&body, req, scratch);
    if (rc == ULM_OK)
        rc = append_system(&body, req, scratch);
    if (rc == ULM_OK)
        rc = append_generation_config(&body, req);
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "}");
    free(scratch);
    /* without alt=sse the stream is one JSON array that arrives in pieces */
    if (rc == ULM_OK)
        rc = ulm_text_appendf(&path, "/v1beta/models/%s:%s", model,
                              stream ? "streamGenerateContent?alt=sse" : "generateContent");
    if (rc == ULM_OK)
        rc = ulm__json_send(&body, "POST", path.data, out);
    else
        ulm_text_free(&body);
    ulm_text_free(&path);
    return rc;
}

/*
 * POST /v1beta/models/{model}:batchEmbedContents
 * {"requests": [{"model": "models/{model}", "content": {"parts": [{"text": ...}]}}, ...]}:
 * one request per input, each naming the model again, as the API requires.
 */
static int build_embeddings(const char *model, const ulm_request *req, ulm_http_request *out)
{
    ulm_text body = {0}, path = {0};
    int rc = ulm__json_literal(&body, "{\"requests\":[");
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_input_count(req); i++) {
        rc = ulm_text_appendf(&body, "%s{\"model\":\"models/%s\",\"content\":{\"parts\":"
                              "[{\"text\":", i ? "," : "", model);
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, ulm_request_input(req, i));
        if (rc == ULM_OK)
            rc = ulm__json_literal(&body, "}]}}");
    }
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "]}");
    if (rc == ULM_OK)
        rc = ulm_text_appendf(&path, "/v1beta/models/%s:batchEmbedContents", model);
    if (rc == ULM_OK)
        rc = ulm__json_send(&body, "POST", path.data, out);
    else
        ulm_text_free(&body);
    ulm_text_free(&path);
    return rc;
}

/* {"embeddings": [{"values": [...]}, ...]}, in the order of the requests. */
static int parse_embeddings(json_t *root, ulm_result *out)
{
    json_t *embeddings = json_object_get(root, "embeddings");
    if (!json_is_array(embeddings) || json_array_size(embeddings) == 0)
        return ulm__protocol_error(out, "the answer has no embeddings");
    for (size_t i = 0; i < json_array_size(embeddings); i++) {
        int rc = ulm__json_add_vector(out, json_object_get(json_array_get(embeddings, i),
                                                           "values"));
        if (rc != ULM_OK || ulm_result_error(out) != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

static int gemini_build(const ulm_provider *self, ulm_op op, const char *model,
                        const ulm_request *req, ulm_http_request *out)
{
    (void)self;
    switch (op) {
    case ULM_OP_CHAT:
    case ULM_OP_CHAT_STREAM:
        return req && model ? build_generate(model, req, op == ULM_OP_CHAT_STREAM, out)
                            : ULM_EINVAL;
    case ULM_OP_MODELS:
        /* the list is paged; 1000 is the largest page and holds every model there is */
        return ulm_http_request_set_target(out, "GET", "/v1beta/models?pageSize=1000");
    case ULM_OP_EMBED:
        return req && model ? build_embeddings(model, req, out) : ULM_EINVAL;
    }
    return ULM_EUNSUPPORTED;
}

/* ---------------------------------------------------------------- the answer */

static ulm_finish_reason finish_from(const char *reason)
{
    static const ulm_name_code reasons[] = {
        {"STOP", ULM_FINISH_STOP},
        {"MAX_TOKENS", ULM_FINISH_LENGTH},
        {"SAFETY", ULM_FINISH_CONTENT_FILTER},
        {"RECITATION", ULM_FINISH_CONTENT_FILTER},
        {"BLOCKLIST", ULM_FINISH_CONTENT_FILTER},
        {"PROHIBITED_CONTENT", ULM_FINISH_CONTENT_FILTER},
        {"SPII", ULM_FINISH_CONTENT_FILTER},
        {"IMAGE_SAFETY", ULM_FINISH_CONTENT_FILTER},
        {"IMAGE_PROHIBITED_CONTENT", ULM_FINISH_CONTENT_FILTER},
        {"IMAGE_RECITATION", ULM_FINISH_CONTENT_FILTER},
    };
    /* LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, ... are unknown */
    return (ulm_finish_reason)ulm__code_of(reasons, sizeof reasons / sizeof reasons[0], reason,
                                           ULM_FINISH_UNKNOWN);
}

/* The completion counts the thinking a model did too: it is generated and billed as output,
 * as OpenAI's completion_tokens counts reasoning tokens. */
static void set_usage(json_t *usage, ulm_result *out)
{
    if (!json_is_object(usage))
        return;
    long completion = ulm__json_count(usage, "candidatesTokenCount");
    long thoughts = ulm__json_count(usage, "thoughtsTokenCount");
    if (thoughts > 0)
        completion = ulm__wire_count_sum(completion > 0 ? completion : 0, thoughts);
    ulm_result_set_usage(out, ulm__json_count(usage, "promptTokenCount"), completion,
                         ulm__json_count(usage, "totalTokenCount"));
}

/* The answer's text parts, in order; a model's thoughts and function calls are not text.
 * *calls is set when the model asked for a function. */
static int take_text_parts(json_t *parts, ulm_result *out, int *calls)
{
    size_t i;
    json_t *part;
    json_array_foreach(parts, i, part) {
        if (json_object_get(part, "functionCall"))
            *calls = 1;
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(text) || json_is_true(json_object_get(part, "thought")))
            continue;
        int rc = ulm_result_append_text(out, json_string_value(text), json_string_length(text));
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* A prompt the safety filters refused: no candidates, and promptFeedback says why. */
static int set_blocked(json_t *feedback, ulm_result *out)
{
    const char *reason = json_string_value(json_object_get(feedback, "blockReason"));
    char text[96];
    snprintf(text, sizeof text, "prompt blocked: %.64s", reason ? reason : "unspecified");
    return ulm_result_set_error(out, ULM_ECONTENT_FILTER, text, strlen(text));
}

/*
 * One GenerateContentResponse: the whole answer, or one chunk of a stream, whose text
 * parts follow the earlier ones. A finish reason is the stream's last chunk: Gemini
 * sends no end marker.
 */
static int take_response(json_t *root, ulm_result *out, int streamed)
{
    json_t *candidate = json_array_get(json_object_get(root, "candidates"), 0);
    json_t *feedback = json_object_get(root, "promptFeedback");
    if (!candidate && json_object_get(feedback, "blockReason"))
        return set_blocked(feedback, out);
    if (!json_is_object(candidate) && !streamed)
        return ulm__protocol_error(out, "the answer has no candidates");
    int calls = 0, rc = ULM_OK;
    json_t *parts = json_object_get(json_object_get(candidate, "content"), "parts");
    if (json_is_array(parts))
        rc = take_text_parts(parts, out, &calls);
    if (rc != ULM_OK)
        return rc;
    const char *reason = json_string_value(json_object_get(candidate, "finishReason"));
    if (reason) {
        ulm_finish_reason finish = finish_from(reason);
        /* Gemini says STOP when the model asks for a function; the caller must act */
        ulm_result_set_finish_reason(out, calls && finish == ULM_FINISH_STOP
                                              ? ULM_FINISH_TOOL_CALLS : finish);
        if (streamed)
            ulm_result_end_stream(out);
    } else if (calls) {
        ulm_result_set_finish_reason(out, ULM_FINISH_TOOL_CALLS);
    }
    set_usage(json_object_get(root, "usageMetadata"), out);
    const char *model = json_string_value(json_object_get(root, "modelVersion"));
    return model && !ulm_result_model(out) ? ulm_result_set_model(out, model) : ULM_OK;
}

/* "models/gemini-2.0-flash" as "gemini-2.0-flash", for models that can generate text. */
static int parse_models(json_t *root, ulm_result *out)
{
    json_t *models = json_object_get(root, "models");
    if (!models)
        return ULM_OK; /* an account with no models gets an empty object */
    if (!json_is_array(models))
        return ulm__protocol_error(out, "the model list has no models array");
    size_t i;
    json_t *entry;
    json_array_foreach(models, i, entry) {
        const char *name = json_string_value(json_object_get(entry, "name"));
        if (!name)
            return ulm__protocol_error(out, "a model entry has no name");
        json_t *methods = json_object_get(entry, "supportedGenerationMethods");
        int generates = !json_is_array(methods);
        size_t m;
        json_t *method;
        json_array_foreach(methods, m, method) {
            const char *s = json_string_value(method);
            generates |= s && strcmp(s, "generateContent") == 0;
        }
        if (!generates)
            continue; /* embedding models cannot answer a chat */
        if (strncmp(name, "models/", 7) == 0)
            name += 7;
        int rc = ulm_result_add_model_id(out, name);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* ---------------------------------------------------------------- errors */

/* Google's canonical status names; the HTTP status's class for one not listed. */
static int class_from_status(int status_class, const char *status)
{
    static const ulm_name_code statuses[] = {
        {"INVALID_ARGUMENT", ULM_EBAD_REQUEST},
        {"FAILED_PRECONDITION", ULM_EBAD_REQUEST},
        {"OUT_OF_RANGE", ULM_EBAD_REQUEST},
        {"UNAUTHENTICATED", ULM_EAUTH},
        {"PERMISSION_DENIED", ULM_EAUTH},
        {"NOT_FOUND", ULM_EMODEL_NOT_FOUND},
        {"RESOURCE_EXHAUSTED", ULM_ERATE_LIMIT},
        {"UNAVAILABLE", ULM_EUNAVAILABLE},
        {"INTERNAL", ULM_ESERVER},
        {"UNKNOWN", ULM_ESERVER},
        {"DEADLINE_EXCEEDED", ULM_ESERVER},
        {"ABORTED", ULM_ESERVER},
    };
    return ulm__code_of(statuses, sizeof statuses / sizeof statuses[0], status, status_class);
}

/* Whether one of the error's details is an ErrorInfo with this reason. */
static int has_reason(json_t *error, const char *reason)
{
    size_t i;
    json_t *detail;
    json_array_foreach(json_object_get(error, "details"), i, detail) {
        const char *r = json_string_value(json_object_get(detail, "reason"));
        if (r && strcmp(r, reason) == 0)
            return 1;
    }
    return 0;
}

/*
 * Google reports a bad key and a prompt longer than the window as INVALID_ARGUMENT, like
 * any bad request; the first is told by its ErrorInfo reason, the second only by its
 * message, and both change what a caller does.
 */
static int refine(int code, json_t *error, const char *message)
{
    if (code != ULM_EBAD_REQUEST)
        return code;
    if (has_reason(error, "API_KEY_INVALID"))
        return ULM_EAUTH;
    if (message && strstr(message, "exceeds the maximum number of tokens"))
        return ULM_ECONTEXT_LENGTH;
    return code;
}

/*
 * A google.protobuf.Duration in JSON, "43s" or "0.5s", in milliseconds rounded up; -1 when
 * it is not one. A day at most: longer advice is as good as "not now".
 */
static long duration_ms(const char *s)
{
    const long day_ms = 24L * 3600L * 1000L;
    long ms = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((ms = ms * 10 + (*p - '0') * 1000L) > day_ms)
            ms = day_ms; /* stop growing: a long run of digits cannot overflow */
    if (p == s)
        return -1;
    if (*p == '.') {
        const char *digits = ++p;
        long scale = 100;
        int beyond = 0; /* a non-zero digit past the milliseconds */
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale) {
                ms += (*p - '0') * scale;
                scale /= 10;
            } else {
                beyond |= *p != '0';
            }
        }
        if (p == digits)
            return -1;
        ms += beyond; /* rounded up: asking again early only earns another 429 */
    }
    return p[0] == 's' && p[1] == '\0' ? (ms > day_ms ? day_ms : ms) : -1;
}

/* The RetryInfo detail's retryDelay: when Google says to ask again. */
static void set_retry_delay(json_t *error, ulm_result *out)
{
    size_t i;
    json_t *detail;
    json_array_foreach(json_object_get(error, "details"), i, detail) {
        const char *type = json_string_value(json_object_get(detail, "@type"));
        const char *delay = json_string_value(json_object_get(detail, "retryDelay"));
        if (type && strstr(type, "google.rpc.RetryInfo") && delay)
            ulm_result_set_retry_after_ms(out, duration_ms(delay));
    }
}

/* {"error":{"code":...,"message":...,"status":...,"details":[...]}} */
static int set_error_object(json_t *error, int status_class, ulm_result *out)
{
    set_retry_delay(error, out);
    json_t *message = json_object_get(error, "message");
    int code = class_from_status(status_class, json_string_value(json_object_get(error, "status")));
    code = refine(code, error, json_string_value(message));
    return ulm__error_with_message(out, code, message);
}

static int parse_error(const ulm_http_response *in, ulm_result *out)
{
    size_t len;
    const char *body = ulm_http_response_body(in, &len);
    int status_class = ulm_error_from_http_status(ulm_http_response_status(in));
    json_t *root = json_loadb(body, len, 0, NULL);
    /* a stream asked for without alt=sse wraps its error in an array */
    json_t *error = json_object_get(json_is_array(root) ? json_array_get(root, 0) : root, "error");
    int rc = json_is_object(error) ? set_error_object(error, status_class, out)
                                   : ulm_result_set_error(out, status_class, body, len);
    json_decref(root);
    return rc;
}

static int gemini_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
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
    rc = op == ULM_OP_MODELS  ? parse_models(root, out)
         : op == ULM_OP_EMBED ? parse_embeddings(root, out)
                              : take_response(root, out, 0);
    json_decref(root);
    return rc;
}

/* One event of ?alt=sse: a GenerateContentResponse chunk, or an error after the 200. */
static int gemini_parse_event(const ulm_provider *self, const ulm_sse_event *event,
                              ulm_result *out)
{
    (void)self;
    size_t len;
    const char *data = ulm_sse_event_data(event, &len);
    json_t *root;
    int rc = ulm__json_object_of(data, len, "a stream event", out, &root);
    if (!root)
        return rc;
    json_t *error = json_object_get(root, "error");
    rc = json_is_object(error) ? set_error_object(error, ULM_ESERVER, out)
                                   : take_response(root, out, 1);
    json_decref(root);
    return rc;
}

static void gemini_destroy(ulm_provider *self)
{
    free(self);
}

int ulm__gemini_provider_new(ulm_provider **out)
{
    ulm_provider *p = calloc(1, sizeof *p);
    if (!p)
        return ULM_ENOMEM;
    p->version = ULM_PROVIDER_VERSION;
    p->name = "gemini";
    p->auth_header = "x-goog-api-key"; /* never ?key=: a URL ends up in logs */
    p->normalize_model = gemini_normalize_model;
    p->build = gemini_build;
    p->parse = gemini_parse;
    p->parse_event = gemini_parse_event;
    p->destroy = gemini_destroy;
    *out = p;
    return ULM_OK;
}
