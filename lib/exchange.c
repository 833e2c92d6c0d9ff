/* exchange.c - one operation against one backend: build, send, parse, and a safe error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

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

static int send_request(ulm_client *c, const ulm_backend *b, const ulm_http_request *http,
                        ulm_http_response *resp, char *errmsg, size_t errmsg_size)
{
    const ulm_provider *p = b->provider;
    ulm_buf url = {0};
    if (ulm__buf_appendf(&url, "%s%s", b->base_url, http->path) != ULM_OK)
        return ULM_ENOMEM;
    ulm_transfer transfer = {
        .url = url.data,
        .http = http,
        .auth_header_line = b->auth_line,
        .timeout_ms = b->timeout_ms,
        .connect_timeout_ms = c->settings.connect_timeout_ms,
        .max_response_bytes = c->settings.max_response_bytes,
    };
    char reason[ULM_ERROR_SIZE] = "";
    double start = ulm__now_ms();
    int rc = c->transport(c->transport_ctx, &transfer, resp, reason, sizeof reason);
    if (rc == ULM_OK)
        ulm__log(c, ULM_LOG_DEBUG, "%s: %s %s -> HTTP %d, %zu bytes in %.1f ms (%s connection)",
                 p->name, http->method, url.data, resp->status, resp->body.len,
                 ulm__now_ms() - start, resp->new_connections ? "new" : "reused");
    else
        compose_error(c, errmsg, errmsg_size, p->name, 0, rc, reason);
    ulm__buf_free(&url);
    return rc;
}

int ulm__exchange(ulm_client *c, const ulm_target *t, ulm_op op, const ulm_request *req,
                  ulm_result *result, int *http_status, char *errmsg, size_t errmsg_size)
{
    const ulm_backend *b = t->backend;
    const ulm_provider *p = b->provider;
    *http_status = 0;
    errmsg[0] = '\0';
    if (b->disabled) {
        ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", p->name, b->disabled);
        return ULM_ENOT_CONFIGURED;
    }

    ulm_http_request http = {0};
    int rc = p->build(p, op, t->model, req, &http);
    if (rc == ULM_OK && !http.path)
        rc = ULM_EPROTOCOL;
    if (rc != ULM_OK) {
        ulm__set_errbuf(errmsg, errmsg_size, "%s: cannot build the request: %s", p->name,
                        ulm_strerror(rc));
        ulm__http_request_clear(&http);
        return rc;
    }

    ulm_http_response resp = {0};
    rc = send_request(c, b, &http, &resp, errmsg, errmsg_size);
    if (rc == ULM_OK) {
        *http_status = resp.status;
        rc = p->parse(p, op, &resp, result);
        if (rc == ULM_OK && result->error != ULM_OK) {
            rc = result->error;
            compose_error(c, errmsg, errmsg_size, p->name, resp.status, rc, result->error_text);
        } else if (rc != ULM_OK) {
            ulm__set_errbuf(errmsg, errmsg_size, "%s: %s", p->name, ulm_strerror(rc));
        } else {
            result->raw_body = resp.body.data; /* the caller may want the backend's own JSON */
            resp.body.data = NULL;
        }
    }
    if (rc != ULM_OK)
        ulm__log(c, ULM_LOG_WARN, "%s", errmsg);
    ulm__http_response_clear(&resp);
    ulm__http_request_clear(&http);
    return rc;
}
