/* dmr_pull.c - a pull from Docker Model Runner as one exchange: its progress read as it comes, its outcome. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dmr_pull.h"
#include "redact.h"

ulm_pull_progress ulm__pull_report(const ulm_pull_exchange *p, int finished)
{
    return (ulm_pull_progress){
        .version = ULM_PULL_PROGRESS_VERSION,
        .model = p->model,
        .percent = ulm__dmr_pull_progress_percent(&p->progress),
        .done_bytes = p->progress.done,
        .total_bytes = p->progress.total,
        .layers = ulm__dmr_pull_layer_count(&p->progress),
        .layers_done = p->progress.layers_done,
        .finished = finished,
        .cached = finished && p->progress.cached,
    };
}

/* The pull's body: progress lines, read as they come, each one reported. */
static int on_pull_body(void *ctx, ulm_http_response *resp, const char *data, size_t n)
{
    ulm_pull_exchange *p = ctx;
    ulm__clocks_token(&p->clocks, ulm__now_ms());
    if (resp->status / 100 != 2) /* an error before the stream: kept whole for its class */
        return ulm__keep_body(resp, data, n, p->x.client->settings.max_response_bytes,
                              &p->clocks);
    if (!p->reader_ready) {
        ulm__dmr_pull_reader_init(&p->reader, resp->content_type);
        p->reader_ready = 1;
    }
    while (n) {
        size_t used = 0;
        ulm_dmr_pull_line line;
        int got = ulm__dmr_pull_read(&p->reader, data, n, &used, &line);
        if (got < 0)
            return got;
        data += used;
        n -= used;
        if (!got)
            break;
        if (ulm__dmr_pull_progress_add(&p->progress, &line) != ULM_OK)
            return ULM_ENOMEM;
        if (line.kind == ULM_DMR_PULL_PROGRESS && p->on_progress) {
            ulm_pull_progress r = ulm__pull_report(p, 0);
            if (p->on_progress(&r, p->payload) != 0)
                return ULM_ECANCELLED;
        }
    }
    return ULM_OK;
}

int ulm__pull_prepare(ulm_pull_exchange *p, ulm_client *c, const ulm_backend *b,
                      const char *base_url, const char *model, double deadline,
                      ulm_pull_progress_fn on_progress, void *payload,
                      ulm_exchange_done_fn on_done, void *ctx, char *errbuf, size_t errbuf_size)
{
    memset(p, 0, sizeof *p);
    size_t root = ulm__dmr_root_length(base_url);
    if (root >= sizeof p->root) {
        ulm__set_errbuf(errbuf, errbuf_size, "%s: the runner's URL is too long", b->name);
        return ULM_EINVAL;
    }
    memcpy(p->root, base_url, root);
    p->root[root] = '\0';
    int rc = ulm__dmr_build_pull(&p->http, model);
    if (rc != ULM_OK) {
        ulm__http_request_clear(&p->http);
        if (rc == ULM_EINVAL)
            ulm__set_errbuf(errbuf, errbuf_size, "%s: %.128s is not a name Docker Model Runner "
                            "takes", b->name, model);
        return rc;
    }
    /* waiting behind other pulls and downloading have no clock but the connection's and the
     * deadline */
    ulm_timeouts limits = c->settings.timeouts;
    double budget = deadline - ulm__now_ms();
    long whole = budget > 0 ? (long)budget + 1 : 1;
    limits.ms[ULM_CLOCK_FIRST_TOKEN] = limits.ms[ULM_CLOCK_IDLE] = whole;
    ulm__clocks_start(&p->clocks, &limits, 0, deadline, 0);
    p->model = model;
    p->on_progress = on_progress;
    p->payload = payload;
    p->x = (ulm_exchange){.client = c, .backend = b, .model = "", .base_url = p->root,
                          .clocks = &p->clocks, .on_done = on_done, .on_done_ctx = ctx,
                          .raw = &p->http, .raw_on_body = on_pull_body, .raw_on_body_ctx = p};
    return ULM_OK;
}

int ulm__runner_failure(const ulm_client *c, const ulm_backend *b, int status,
                        const ulm_dmr_error *error, char *errbuf, size_t errbuf_size)
{
    char *clean = NULL, *capped = NULL;
    if (error->text && error->length) {
        clean = ulm__redacted(&c->secrets, error->text, error->length);
        capped = clean ? ulm__cap_text(clean, strlen(clean), ULM_UPSTREAM_TEXT_CAP) : NULL;
    }
    const char *words = capped && *capped ? capped : ulm_strerror(error->code);
    if (status && status / 100 != 2)
        ulm__set_errbuf(errbuf, errbuf_size, "%s: HTTP %d: %s", b->name, status, words);
    else
        ulm__set_errbuf(errbuf, errbuf_size, "%s: %s", b->name, words);
    ulm__free(clean);
    ulm__free(capped);
    return error->code;
}

int ulm__pull_outcome(ulm_pull_exchange *p, char *errbuf, size_t errbuf_size)
{
    const ulm_exchange *x = &p->x;
    if (x->rc != ULM_OK) {
        if (x->rc == ULM_ECANCELLED && !x->errmsg[0])
            ulm__set_errbuf(errbuf, errbuf_size, "%s: the pull was stopped", x->backend->name);
        else
            ulm__set_errbuf(errbuf, errbuf_size, "%s", x->errmsg);
        return x->rc;
    }
    ulm_dmr_error error = {0};
    int rc;
    if (x->http_status / 100 != 2) {
        size_t length;
        const char *body = ulm_http_response_body(&x->resp, &length);
        rc = ulm__dmr_error_of(&error, ULM_DMR_PULL, x->http_status, body, length);
    } else if (p->reader_ready) {
        rc = ulm__dmr_pull_end(&error, &p->reader, &p->progress);
    } else { /* an empty body: read as the end of an empty stream */
        ulm_dmr_pull_reader empty;
        ulm__dmr_pull_reader_init(&empty, "application/json");
        rc = ulm__dmr_pull_end(&error, &empty, &p->progress);
        ulm__dmr_pull_reader_clear(&empty);
    }
    if (rc != ULM_OK && rc != ULM_ENOMEM)
        rc = ulm__runner_failure(x->client, x->backend, x->http_status, &error, errbuf,
                                 errbuf_size);
    return rc;
}

void ulm__pull_clear(ulm_pull_exchange *p)
{
    ulm__exchange_clear(&p->x);
    if (p->reader_ready)
        ulm__dmr_pull_reader_clear(&p->reader);
    p->reader_ready = 0;
    ulm__dmr_pull_progress_clear(&p->progress);
    ulm__http_request_clear(&p->http);
}
