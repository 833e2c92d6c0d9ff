/* http_records.c - the HTTP request, HTTP response and parse result that adapters read and fill. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http_records.h"
#include "redact.h"

static int has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

int ulm_http_request_set_target(ulm_http_request *http, const char *method, const char *path)
{
    if (!http || !method || !path || path[0] != '/' || has_line_break(path) ||
        strlen(method) >= sizeof http->method)
        return ULM_EINVAL;
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
        strcmp(method, "DELETE") != 0)
        return ULM_EINVAL;
    char *copy = ulm__strdup(path);
    if (!copy)
        return ULM_ENOMEM;
    ulm__free(http->path);
    http->path = copy;
    strcpy(http->method, method);
    return ULM_OK;
}

int ulm_http_request_add_header(ulm_http_request *http, const char *name, const char *value)
{
    if (!http || !name || !value || !*name || has_line_break(name) || has_line_break(value) ||
        strchr(name, ':'))
        return ULM_EINVAL;
    if (http->header_count == ULM_MAX_HEADERS)
        return ULM_EINVAL;
    ulm_text line = {0};
    if (ulm_text_appendf(&line, "%s: %s", name, value) != ULM_OK)
        return ULM_ENOMEM;
    http->headers[http->header_count++] = line.data;
    return ULM_OK;
}

int ulm_http_request_set_body(ulm_http_request *http, const char *body, size_t length)
{
    if (!http || (!body && length))
        return ULM_EINVAL;
    char *copy = ulm__strndup(body ? body : "", length);
    if (!copy)
        return ULM_ENOMEM;
    ulm__free(http->body);
    http->body = copy;
    http->body_len = length;
    return ULM_OK;
}

int ulm_http_request_take_body(ulm_http_request *http, ulm_text *text)
{
    if (!http || !text)
        return ULM_EINVAL;
    ulm__free(http->body);
    http->body = text->data;
    http->body_len = text->len;
    *text = (ulm_text){0};
    return ULM_OK;
}

void ulm__http_request_clear(ulm_http_request *http)
{
    ulm__free(http->path);
    for (size_t i = 0; i < http->header_count; i++)
        ulm__free(http->headers[i]);
    ulm__free(http->body);
    memset(http, 0, sizeof *http);
}

int ulm_http_response_status(const ulm_http_response *http)
{
    return http ? http->status : 0;
}

const char *ulm_http_response_body(const ulm_http_response *http, size_t *length)
{
    if (length)
        *length = http && http->body.data ? http->body.len : 0;
    return http && http->body.data ? http->body.data : "";
}

const char *ulm_http_response_content_type(const ulm_http_response *http)
{
    return http && http->content_type ? http->content_type : "";
}

int ulm__keep_body(ulm_http_response *resp, const char *data, size_t n, size_t cap,
                   ulm_clocks *clocks)
{
    if (resp->body.len + n > cap)
        return ULM_ETOO_LARGE;
    ulm__clocks_token(clocks, ulm__now_ms());
    return ulm_text_append(&resp->body, data, n) == ULM_OK ? ULM_OK : ULM_ENOMEM;
}

void ulm__http_response_clear(ulm_http_response *http)
{
    ulm_text_free(&http->body);
    ulm__free(http->content_type);
    ulm__free(http->retry_after);
    memset(http, 0, sizeof *http);
}

void ulm__result_init(ulm_result *r)
{
    memset(r, 0, sizeof *r);
    r->prompt_tokens = r->completion_tokens = r->total_tokens = -1;
    r->retry_after_ms = -1;
}

void ulm__result_clear(ulm_result *r)
{
    ulm__free(r->text);
    ulm__free(r->model);
    for (size_t i = 0; i < r->model_id_count; i++)
        ulm__free(r->model_ids[i]);
    ulm__free(r->model_ids);
    ulm__free(r->error_text);
    ulm__free(r->raw_body);
    ulm__free(r->embeddings);
    ulm__result_init(r);
}

int ulm_result_set_text(ulm_result *result, const char *text, size_t length)
{
    if (!result || (!text && length))
        return ULM_EINVAL;
    char *copy = ulm__strndup(text ? text : "", length);
    if (!copy)
        return ULM_ENOMEM;
    ulm__free(result->text);
    result->text = copy;
    result->text_len = length;
    result->text_cap = length + 1;
    return ULM_OK;
}

int ulm_result_append_text(ulm_result *result, const char *text, size_t length)
{
    if (!result || (!text && length))
        return ULM_EINVAL;
    ulm_text kept = {result->text, result->text_len, result->text_cap};
    if (ulm_text_append(&kept, text, length) != ULM_OK)
        return ULM_ENOMEM;
    result->text = kept.data;
    result->text_len = kept.len;
    result->text_cap = kept.cap;
    return ULM_OK;
}

void ulm_result_end_stream(ulm_result *result)
{
    if (result)
        result->stream_ended = 1;
}

void ulm_result_set_finish_reason(ulm_result *result, ulm_finish_reason reason)
{
    if (result)
        result->finish = reason;
}

void ulm_result_set_usage(ulm_result *result, long prompt_tokens, long completion_tokens,
                          long total_tokens)
{
    if (!result)
        return;
    /* a stream may report the prompt count in one event and the rest in another */
    if (prompt_tokens >= 0)
        result->prompt_tokens = prompt_tokens;
    if (completion_tokens >= 0)
        result->completion_tokens = completion_tokens;
    if (total_tokens >= 0)
        result->total_tokens = total_tokens;
    else if (result->prompt_tokens >= 0 && result->completion_tokens >= 0)
        result->total_tokens = ulm__count_sum(result->prompt_tokens, result->completion_tokens);
}

int ulm_result_set_model(ulm_result *result, const char *model)
{
    if (!result || !model)
        return ULM_EINVAL;
    char *copy = ulm__strdup(model);
    if (!copy)
        return ULM_ENOMEM;
    ulm__free(result->model);
    result->model = copy;
    return ULM_OK;
}

int ulm_result_add_embedding(ulm_result *result, const float *values, size_t dimensions)
{
    if (!result || !values || !dimensions || dimensions > ((size_t)1 << 20))
        return ULM_EINVAL;
    if (result->embedding_count && dimensions != result->dimensions) {
        char why[96];
        snprintf(why, sizeof why, "embedding %zu has %zu dimensions, the first %zu",
                 result->embedding_count, dimensions, result->dimensions);
        return ulm_result_set_error(result, ULM_EPROTOCOL, why, strlen(why));
    }
    if (result->embedding_count == result->embedding_cap) {
        size_t cap = result->embedding_cap ? result->embedding_cap * 2 : 4;
        float *grown = ulm__realloc(result->embeddings, cap * dimensions * sizeof *grown);
        if (!grown)
            return ULM_ENOMEM;
        result->embeddings = grown;
        result->embedding_cap = cap;
    }
    memcpy(result->embeddings + result->embedding_count * dimensions, values,
           dimensions * sizeof *values);
    result->dimensions = dimensions;
    result->embedding_count++;
    return ULM_OK;
}

int ulm_result_add_model_id(ulm_result *result, const char *id)
{
    if (!result || !id)
        return ULM_EINVAL;
    if (result->model_id_count == result->model_id_cap) {
        size_t cap = result->model_id_cap ? result->model_id_cap * 2 : 16;
        char **grown = ulm__realloc(result->model_ids, cap * sizeof *grown);
        if (!grown)
            return ULM_ENOMEM;
        result->model_ids = grown;
        result->model_id_cap = cap;
    }
    char *copy = ulm__strdup(id);
    if (!copy)
        return ULM_ENOMEM;
    result->model_ids[result->model_id_count++] = copy;
    return ULM_OK;
}

int ulm_result_set_error(ulm_result *result, int code, const char *upstream_text,
                         size_t length)
{
    if (!result || code >= 0)
        return ULM_EINVAL;
    result->error = code;
    char *kept = NULL;
    if (upstream_text && length) {
        /* keep room past the cap so a key that straddles it is still whole for redaction */
        size_t keep = length < ULM_UPSTREAM_TEXT_CAP + 1024 ? length
                                                            : ULM_UPSTREAM_TEXT_CAP + 1024;
        if (!(kept = ulm__strndup(upstream_text, keep))) {
            ulm__free(result->error_text);
            result->error_text = NULL;
            return ULM_ENOMEM;
        }
    }
    /* copied first: an adapter refining a class passes the text it already set */
    ulm__free(result->error_text);
    result->error_text = kept;
    return ULM_OK;
}

int ulm_result_error(const ulm_result *result)
{
    return result ? result->error : ULM_OK;
}

const char *ulm_result_error_text(const ulm_result *result)
{
    return result ? result->error_text : NULL;
}

const char *ulm_result_model(const ulm_result *result)
{
    return result ? result->model : NULL;
}

void ulm_result_set_retry_after_ms(ulm_result *result, long ms)
{
    if (result && ms >= 0)
        result->retry_after_ms = ms;
}

void ulm_result_set_context_window(ulm_result *result, long tokens)
{
    if (result && tokens > 0)
        result->context_window = tokens;
}
