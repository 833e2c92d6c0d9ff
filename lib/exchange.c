/* exchange.c - one operation against one endpoint: build, send on an engine, parse, a safe message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "exchange.h"
#include "redact.h"

/*
 * Writes "<provider>: [HTTP <status>: ]<reason>" where reason is the backend's own words,
 * redacted and capped, or the class description when it gave none.
 */
static void compose_error(const ulm_exchange *x, char *out, size_t size, const char *provider,
                          int status, int code, const char *text)
{
    const ulm_client *c = x->client;
    char *capped = NULL;
    if (text && *text) {
        const char *keys[ULM_MAX_BACKENDS + 1];
        ulm_secrets secrets = c->secrets;
        if (x->extra_secret) { /* the request's own key besides the client's */
            memcpy(keys, c->secrets.keys, c->secrets.count * sizeof *keys);
            keys[secrets.count++] = x->extra_secret;
            secrets.keys = keys;
        }
        char *clean = ulm__redacted(&secrets, text, strlen(text));
        if (clean) {
            capped = ulm__cap_text(clean, strlen(clean), ULM_UPSTREAM_TEXT_CAP);
            ulm__free(clean);
        }
    }
    const char *reason = capped && *capped ? capped : ulm_strerror(code);
    if (status)
        ulm__set_errbuf(out, size, "%s: HTTP %d: %s", provider, status, reason);
    else
        ulm__set_errbuf(out, size, "%s: %s", provider, reason);
    ulm__free(capped);
}

char *ulm__exchange_shown_url(const ulm_exchange *x, const char *url)
{
    const char *keys[ULM_MAX_BACKENDS + 1];
    ulm_secrets secrets = x->client->secrets;
    if (x->extra_secret) {
        memcpy(keys, secrets.keys, secrets.count * sizeof *keys);
        keys[secrets.count++] = x->extra_secret;
        secrets.keys = keys;
    }
    return ulm__redacted(&secrets, url, strlen(url)); /* userinfo too */
}

/* Whether this exchange streams: the caller wants deltas and the adapter can read events. */
static int streams(const ulm_provider *p, const ulm_exchange *x)
{
    return x->op == ULM_OP_CHAT && x->on_delta && ulm__provider_streams(p);
}

/* The message of a failed exchange, from the most specific source there is. */
static void describe_failure(ulm_exchange *x)
{
    const char *name = x->backend->name;
    const ulm_result *result = x->result;
    int in_stream = x->delivers && x->stream.mode == STREAM_EVENTS;
    const char *detail = x->delivers ? x->stream.detail : NULL;
    if (result->error != ULM_OK && result->error == x->rc)
        compose_error(x, x->errmsg, sizeof x->errmsg, name, in_stream ? 0 : x->resp.status,
                      x->rc, result->error_text);
    else if (detail && *detail)
        ulm__set_errbuf(x->errmsg, sizeof x->errmsg, "%s: %s", name, detail);
    else if (x->transfer.reason[0])
        compose_error(x, x->errmsg, sizeof x->errmsg, name, 0, x->rc, x->transfer.reason);
    else
        ulm__set_errbuf(x->errmsg, sizeof x->errmsg, "%s: %s", name, ulm_strerror(x->rc));
}

/* Frees what the exchange held for its transfer; the outputs stay, and so does a raw
 * exchange's answer, for its caller. */
static void release(ulm_exchange *x)
{
    if (x->delivers)
        ulm__stream_free(&x->stream);
    if (!x->raw)
        ulm__http_response_clear(&x->resp);
    ulm__http_request_clear(&x->http);
    ulm_text_free(&x->url);
    x->delivers = 0;
}

void ulm__exchange_clear(ulm_exchange *x)
{
    ulm__http_response_clear(&x->resp);
}

/* The fields of a log event about x, which ended with error (ULM_OK: it answered). */
static ulm_log_fields exchange_fields(const ulm_exchange *x, const char *event, int error)
{
    return (ulm_log_fields){.event = event,
                            .backend = x->backend->name,
                            .model = x->model,
                            .attempt = x->attempt,
                            .error = error,
                            .http_status = x->resp.status,
                            .ms = x->sent_at > 0 ? ulm__now_ms() - x->sent_at : -1};
}

/* A raw exchange's outcome: how the transfer ended; its answer stays for the caller. */
static void finish_raw(ulm_exchange *x)
{
    x->rc = x->transfer.rc;
    x->http_status = x->resp.status;
    x->connect_ms = x->resp.connect_ms;
    x->first_byte_ms = x->resp.first_byte_ms;
    if (x->rc != ULM_OK && x->rc != ULM_ENOMEM) {
        compose_error(x, x->errmsg, sizeof x->errmsg, x->backend->name, 0, x->rc,
                      x->transfer.reason);
        if (!x->quiet)
            ulm__log_event(&x->client->settings.log, ULM_LOG_WARN,
                           exchange_fields(x, "request.failed", x->rc), "%s", x->errmsg);
    } else if (x->rc == ULM_OK && !x->quiet) {
        ulm_log_fields fields = exchange_fields(x, "request.done", ULM_OK);
        ulm__log_event(&x->client->settings.log, ULM_LOG_DEBUG, fields,
                       "%s: %s %s -> HTTP %d in %.1f ms", x->backend->name, x->raw->method,
                       x->url.data, x->resp.status, fields.ms);
    }
    release(x);
}

/* Turns how the transfer ended and what came back into the exchange's outcome. */
static void finish(ulm_exchange *x)
{
    ulm_client *c = x->client;
    const ulm_backend *b = x->backend;
    const ulm_provider *p = b->provider;
    int rc = x->transfer.rc;
    if (rc == ULM_OK && ulm__log_wanted(&c->settings.log, ULM_LOG_DEBUG)) {
        ulm_log_fields fields = exchange_fields(x, "request.done", ULM_OK);
        ulm__log_event(&c->settings.log, ULM_LOG_DEBUG, fields,
                       "%s: %s %s -> HTTP %d, %zu bytes in %.1f ms (%s connection)", b->name,
                       x->http.method, x->url.data, x->resp.status, x->resp.body.len, fields.ms,
                       x->resp.new_connections ? "new" : "reused");
    }
    if (x->resp.retry_after)
        x->retry_after_ms = ulm__parse_retry_after(x->resp.retry_after, time(NULL));
    if (rc == ULM_OK || x->resp.status)
        x->http_status = x->resp.status;
    x->connect_ms = x->resp.connect_ms;
    x->first_byte_ms = x->resp.first_byte_ms;
    if (rc == ULM_OK) {
        if (x->delivers)
            rc = ulm__stream_finish(&x->stream, &x->resp);
        else if ((rc = p->parse(p, x->op, &x->resp, x->result)) == ULM_OK)
            rc = x->result->error;
    }
    if (rc == ULM_OK && x->op == ULM_OP_EMBED &&
        x->result->embedding_count != ulm_request_input_count(x->req)) {
        char why[96];
        snprintf(why, sizeof why, "%zu vectors for %zu inputs", x->result->embedding_count,
                 ulm_request_input_count(x->req));
        rc = ulm_result_set_error(x->result, ULM_EPROTOCOL, why, strlen(why));
        if (rc == ULM_OK)
            rc = ULM_EPROTOCOL;
    }
    /* advice from the body counts as a Retry-After would, in whole seconds rounded up;
     * a header, when there is one, wins */
    if (!x->resp.retry_after && x->result->retry_after_ms >= 0)
        x->retry_after_ms = (x->result->retry_after_ms + 999) / 1000 * 1000;
    if (rc == ULM_OK && !x->delivers) {
        x->result->raw_body = x->resp.body.data; /* the caller may want the backend's own JSON */
        x->resp.body.data = NULL;
    }
    x->rc = rc;
    if (rc == ULM_ENOMEM) {
        ulm__set_errbuf(x->errmsg, sizeof x->errmsg, "%s: %s", b->name, ulm_strerror(rc));
    } else if (rc != ULM_OK) {
        describe_failure(x);
        ulm__log_event(&c->settings.log, ULM_LOG_WARN, exchange_fields(x, "request.failed", rc),
                       "%s", x->errmsg);
    }
    if (x->delivers)
        x->delivered = x->stream.delivered;
    release(x);
}

static void on_transfer_done(ulm_transfer *t, void *ctx)
{
    (void)t;
    ulm_exchange *x = ctx;
    if (x->raw)
        finish_raw(x);
    else
        finish(x);
    x->on_done(x, x->on_done_ctx);
}

/* Ends the exchange before anything was sent. */
static int fail_early(ulm_exchange *x, int rc, const char *why)
{
    x->rc = rc;
    ulm__set_errbuf(x->errmsg, sizeof x->errmsg, "%s: %s", x->backend->name, why);
    release(x);
    return rc;
}

int ulm__exchange_start(ulm_exchange *x, ulm_engine *e)
{
    ulm_client *c = x->client;
    const ulm_backend *b = x->backend;
    const ulm_provider *p = b->provider;
    x->rc = ULM_OK;
    x->http_status = 0;
    x->delivered = 0;
    x->retry_after_ms = -1;
    x->errmsg[0] = '\0';
    memset(&x->http, 0, sizeof x->http);
    memset(&x->resp, 0, sizeof x->resp);
    x->resp.connect_ms = x->resp.first_byte_ms = -1;
    x->connect_ms = x->first_byte_ms = -1;
    memset(&x->url, 0, sizeof x->url);
    x->delivers = 0;
    if (b->disabled[0])
        return fail_early(x, ULM_ENOT_CONFIGURED, b->disabled);

    x->streamed = !x->raw && streams(p, x);
    int rc = x->raw ? ULM_OK
                    : p->build(p, x->streamed ? ULM_OP_CHAT_STREAM : x->op, x->model, x->req,
                               &x->http);
    const ulm_http_request *http = x->raw ? x->raw : &x->http;
    if (rc == ULM_OK && !http->path)
        rc = ULM_EPROTOCOL;
    if (rc != ULM_OK) {
        char why[ULM_ERROR_SIZE];
        ulm__set_errbuf(why, sizeof why, "cannot build the request: %s", ulm_strerror(rc));
        return fail_early(x, rc, why);
    }
    if (ulm_text_append(&x->url, x->base_url, strlen(x->base_url)) != ULM_OK ||
        ulm_text_append(&x->url, http->path, strlen(http->path)) != ULM_OK)
        return fail_early(x, ULM_ENOMEM, ulm_strerror(ULM_ENOMEM));

    /* a caller of a backend that cannot stream still gets its text through on_delta */
    x->delivers = x->op == ULM_OP_CHAT && x->on_delta;
    if (x->delivers) {
        const ulm_settings *s = &c->settings;
        ulm_stream_setup setup = {
            .provider = p, .result = x->result, .clocks = x->clocks,
            .on_delta = x->on_delta, .payload = x->delta_payload,
            .max_text = s->max_response_bytes, .max_line = s->max_event_line_bytes,
            .max_event = s->max_event_bytes};
        ulm__stream_init(&x->stream, &setup);
    }
    x->transfer = (ulm_transfer){
        .url = x->url.data,
        .http = http,
        .auth_header_line = x->auth_line ? x->auth_line : b->auth_line,
        .accept = x->streamed ? "text/event-stream" : "application/json",
        .ca_file = b->ca_file,
        .proxy = b->proxy,
        .max_response_bytes = c->settings.max_response_bytes,
        .clocks = x->clocks,
        .on_body = x->delivers ? ulm__stream_on_body : x->raw_on_body,
        .on_body_ctx = x->delivers ? &x->stream : x->raw_on_body_ctx,
        .on_done = on_transfer_done,
        .on_done_ctx = x,
        .resp = &x->resp,
    };
    x->sent_at = ulm__now_ms();
    if (ulm__engine_start(e, &x->transfer) != ULM_OK)
        return fail_early(x, ULM_ENOMEM, ulm_strerror(ULM_ENOMEM));
    return ULM_OK;
}

void ulm__exchange_abort(ulm_exchange *x, ulm_engine *e)
{
    if (!x->transfer.slot)
        return;
    ulm__engine_abort(e, &x->transfer);
    if (x->delivers)
        x->delivered = x->stream.delivered;
    release(x);
}
