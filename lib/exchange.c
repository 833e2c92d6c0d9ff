/* exchange.c - one operation against one backend: build, send, parse, and a safe error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "stream.h"

/*
 * Writes "<provider>: [HTTP <status>: ]<reason>" where reason is the backend's own words,
 * redacted and capped, or the class description when it gave none.
 */
static void compose_error(const ulm_client *c, char *out, size_t size, const char *provider,
                          int status, int code, const char *text)
{
    char *capped = NULL;
    if (text && *text) {
        char *clean = ulm__redacted(c, text, strlen(text));
        if (clean) {
            capped = ulm__cap_text(clean, strlen(clean), ULM_UPSTREAM_TEXT_CAP);
            free(clean);
        }
    }
    const char *reason = capped && *capped ? capped : ulm_strerror(code);
    if (status)
        ulm__set_errbuf(out, size, "%s: HTTP %d: %s", provider, status, reason);
    else
        ulm__set_errbuf(out, size, "%s: %s", provider, reason);
    free(capped);
}

double ulm__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int ulm__keep_body(ulm_http_response *resp, const char *data, size_t n, size_t cap,
                   ulm_clocks *clocks)
{
    if (resp->body.len + n > cap)
        return ULM_ETOO_LARGE;
    ulm__clocks_token(clocks, ulm__now_ms());
    return ulm__buf_append(&resp->body, data, n) == ULM_OK ? ULM_OK : ULM_ENOMEM;
}

int ulm__transfer_body(const ulm_transfer *t, ulm_http_response *resp, const char *data,
                       size_t n)
{
    if (t->on_body)
        return t->on_body(t->on_body_ctx, resp, data, n);
    return ulm__keep_body(resp, data, n, t->max_response_bytes, t->clocks);
}

/* Whether this exchange streams: the caller wants deltas and the adapter can read events. */
static int streams(const ulm_provider *p, ulm_op op, const ulm_exchange_io *io)
{
    return op == ULM_OP_CHAT && io->on_delta && p->version >= 2 && p->parse_event;
}

static int send_request(ulm_client *c, const ulm_backend *b, const char *base_url,
                        ulm_transfer *transfer, ulm_http_response *resp, char *reason,
                        size_t reason_size)
{
    const ulm_http_request *http = transfer->http;
    ulm_buf url = {0};
    if (ulm__buf_appendf(&url, "%s%s", base_url, http->path) != ULM_OK)
        return ULM_ENOMEM;
    transfer->url = url.data;
    transfer->auth_header_line = b->auth_line;
    transfer->max_response_bytes = c->settings.max_response_bytes;
    double start = ulm__now_ms();
    int rc = c->transport(c->transport_ctx, transfer, resp, reason, reason_size);
    if (rc == ULM_OK)
        ulm__log(c, ULM_LOG_DEBUG, "%s: %s %s -> HTTP %d, %zu bytes in %.1f ms (%s connection)",
                 b->name, http->method, url.data, resp->status, resp->body.len,
                 ulm__now_ms() - start, resp->new_connections ? "new" : "reused");
    ulm__buf_free(&url);
    transfer->url = NULL;
    return rc;
}

/* The message of a failed exchange, from the most specific source there is. */
static void describe_failure(const ulm_client *c, const ulm_backend *b, int rc,
                             const ulm_result *result, const ulm_http_response *resp,
                             int in_stream, const char *detail, const char *reason,
                             char *errmsg, size_t errmsg_size)
{
    if (result->error != ULM_OK && result->error == rc)
        compose_error(c, errmsg, errmsg_size, b->name, in_stream ? 0 : resp->status, rc,
                      result->error_text);
    else if (detail && *detail)
        ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", b->name, detail);
    else if (reason && *reason)
        compose_error(c, errmsg, errmsg_size, b->name, 0, rc, reason);
    else
        ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", b->name, ulm_strerror(rc));
}

int ulm__exchange(ulm_client *c, const ulm_target *t, ulm_op op, const ulm_request *req,
                  ulm_exchange_io *io, ulm_result *result, int *http_status, char *errmsg,
                  size_t errmsg_size)
{
    const ulm_backend *b = t->backend;
    const ulm_provider *p = b->provider;
    *http_status = 0;
    errmsg[0] = '\0';
    io->retry_after_ms = -1;
    if (b->disabled[0]) {
        ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", b->name, b->disabled);
        return ULM_ENOT_CONFIGURED;
    }

    int streamed = streams(p, op, io);
    ulm_http_request http = {0};
    int rc = p->build(p, streamed ? ULM_OP_CHAT_STREAM : op, t->model, req, &http);
    if (rc == ULM_OK && !http.path)
        rc = ULM_EPROTOCOL;
    if (rc != ULM_OK) {
        ulm__set_errbuf(errmsg, errmsg_size, "%s: cannot build the request: %s", b->name,
                        ulm_strerror(rc));
        ulm__http_request_clear(&http);
        return rc;
    }

    /* a caller of a backend that cannot stream still gets its text through on_delta */
    int delivers = op == ULM_OP_CHAT && io->on_delta;
    ulm_stream st;
    if (delivers)
        ulm__stream_init(&st, c, p, result, io);
    ulm_transfer transfer = {
        .http = &http,
        .accept = streamed ? "text/event-stream" : "application/json",
        .clocks = io->clocks,
        .on_body = delivers ? ulm__stream_on_body : NULL,
        .on_body_ctx = delivers ? &st : NULL,
    };
    ulm_http_response resp = {0};
    char reason[ULM_ERROR_SIZE] = "";
    rc = send_request(c, b, io->base_url ? io->base_url : b->urls[0], &transfer,
                      &resp, reason, sizeof reason);
    if (resp.retry_after)
        io->retry_after_ms = ulm__parse_retry_after(resp.retry_after, time(NULL));
    if (rc == ULM_OK) {
        *http_status = resp.status;
        if (delivers)
            rc = ulm__stream_finish(&st, &resp);
        else if ((rc = p->parse(p, op, &resp, result)) == ULM_OK)
            rc = result->error;
    } else if (resp.status) {
        *http_status = resp.status;
    }
    /* advice from the body counts as a Retry-After would, in whole seconds rounded up;
     * a header, when there is one, wins */
    if (!resp.retry_after && result->retry_after_ms >= 0)
        io->retry_after_ms = (result->retry_after_ms + 999) / 1000 * 1000;
    if (rc == ULM_OK && !delivers) {
        result->raw_body = resp.body.data; /* the caller may want the backend's own JSON */
        resp.body.data = NULL;
    }
    if (rc != ULM_OK && rc != ULM_ENOMEM) {
        int in_stream = delivers && st.mode == STREAM_EVENTS;
        describe_failure(c, b, rc, result, &resp, in_stream, delivers ? st.detail : NULL,
                         reason, errmsg, errmsg_size);
        ulm__log(c, ULM_LOG_WARN, "%s", errmsg);
    } else if (rc == ULM_ENOMEM) {
        ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", b->name, ulm_strerror(rc));
    }
    if (delivers) {
        io->delivered = st.delivered;
        ulm__stream_free(&st);
    }
    ulm__http_response_clear(&resp);
    ulm__http_request_clear(&http);
    return rc;
}
