/* dmr_lifecycle.c - Docker Model Runner's models managed: pull with progress, list, ps, unload, remove, preload; its resources for a metrics scrape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../adapters/dmr_manage.h"
#include "cancel.h"
#include "clock.h"
#include "dmr_discovery.h"
#include "dmr_pull.h"
#include "exchange.h"
#include "runner_metrics.h"

/* ------------------------------------------------------------ one exchange with the runner */

/* The runner asked, and the exchange with it. */
typedef struct runner_call {
    ulm_client *client;
    const ulm_backend *backend;
    char root[1024];          /* the runner's root URL: what answers GET / */
    ulm_exchange x;
    ulm_clocks clocks;
    int done;
    char *errbuf;
    size_t errbuf_size;
} runner_call;

static int fail(runner_call *k, int code, const char *why)
{
    ulm__set_errbuf(k->errbuf, k->errbuf_size, "%s: %s", k->backend ? k->backend->name : "dmr",
                    why);
    return code;
}

/* The backend called name (NULL: the local one), which must be of DMR's kind. */
static int find_runner(runner_call *k, ulm_client *c, const char *name, char *errbuf,
                       size_t errbuf_size)
{
    *k = (runner_call){.client = c, .errbuf = errbuf, .errbuf_size = errbuf_size};
    ulm__set_errbuf(errbuf, errbuf_size, "%s", "");
    if (!c)
        return ULM_EINVAL;
    const ulm_backend *b = name ? ulm__client_backend(c, name) : c->local_backend;
    if (!b || b->type != ulm__local_backend_type()) {
        ulm__set_errbuf(errbuf, errbuf_size, "%.64s: not a Docker Model Runner backend",
                        name ? name : "the local backend");
        return ULM_EINVAL;
    }
    k->backend = b;
    if (b == c->local_backend && c->discovery.pending && ulm__dmr_discover(c) != ULM_OK)
        return ULM_ENOMEM;
    if (b->disabled[0])
        return fail(k, ULM_ENOT_CONFIGURED, b->disabled);
    size_t root = ulm__dmr_root_length(b->urls[0]);
    if (root >= sizeof k->root)
        return fail(k, ULM_EINVAL, "the runner's URL is too long");
    memcpy(k->root, b->urls[0], root);
    k->root[root] = '\0';
    return ULM_OK;
}

static void on_runner_done(ulm_exchange *x, void *ctx)
{
    (void)x;
    ((runner_call *)ctx)->done = 1;
}

/*
 * Runs x, already prepared with on_runner_done and k, on an engine of the client's pool
 * until it ended; cancel may stop it. Returns the transfer's outcome: ULM_OK when any
 * answer came (its status is the caller's to read).
 */
static int drive(runner_call *k, ulm_exchange *x, const ulm_cancel *cancel)
{
    ulm_client *c = k->client;
    k->done = 0;
    ulm_engine *e = NULL;
    if (ulm__engine_borrow(c->engines, &e) != ULM_OK)
        return ULM_ENOMEM;
    int rc = ulm__exchange_start(x, e);
    int fd = cancel ? ulm__cancel_fd(cancel) : -1;
    while (rc == ULM_OK && !k->done) {
        if (cancel && ulm_cancel_triggered(cancel)) {
            ulm__exchange_abort(x, e);
            ulm__set_errbuf(x->errmsg, sizeof x->errmsg, "%s: cancelled by the caller",
                            k->backend->name);
            x->rc = rc = ULM_ECANCELLED;
            break;
        }
        rc = ulm__engine_run(e, 0, fd >= 0 ? &fd : NULL, fd >= 0);
    }
    if (rc == ULM_OK)
        rc = x->rc;
    ulm__engine_return(c->engines, e);
    if (rc != ULM_OK)
        ulm__set_errbuf(k->errbuf, k->errbuf_size, "%s", x->errmsg);
    return rc;
}

/*
 * Sends http to the runner and waits for the whole answer, which stays in k->x.resp.
 * long_wait: a load may take minutes, so no clock but the connection and the whole
 * call's.
 */
static int send_to_runner(runner_call *k, const ulm_http_request *http, int long_wait)
{
    ulm_client *c = k->client;
    const ulm_timeouts *tm = &c->settings.timeouts;
    ulm_timeouts limits = *tm;
    if (long_wait)
        limits.ms[ULM_CLOCK_FIRST_TOKEN] = limits.ms[ULM_CLOCK_IDLE] = tm->ms[ULM_CLOCK_OVERALL];
    double now = ulm__now_ms();
    ulm__clocks_start(&k->clocks, &limits, 0, now + (double)tm->ms[ULM_CLOCK_OVERALL], 0);
    k->x = (ulm_exchange){.client = c, .backend = k->backend, .model = "", .base_url = k->root,
                          .clocks = &k->clocks, .on_done = on_runner_done, .on_done_ctx = k,
                          .raw = http};
    return drive(k, &k->x, NULL);
}

/* A parser's failure, as "<backend>: HTTP <status>: <the runner's words>". */
static int fail_answer(runner_call *k, const ulm_dmr_error *error)
{
    return ulm__runner_failure(k->client, k->backend, k->x.http_status, error, k->errbuf,
                               k->errbuf_size);
}

/* Sends a request built by fill and hands the whole answer to read. */
typedef int (*read_fn)(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                       void *out);

static int ask(runner_call *k, const ulm_http_request *http, read_fn read, void *out)
{
    int rc = send_to_runner(k, http, 0);
    if (rc == ULM_OK) {
        size_t length;
        const char *body = ulm_http_response_body(&k->x.resp, &length);
        ulm_dmr_error error = {0};
        rc = read(k, &error, body, length, out);
        if (rc != ULM_OK && rc != ULM_ENOMEM)
            rc = fail_answer(k, &error);
    }
    ulm__exchange_clear(&k->x);
    return rc;
}

/* What building a request gave: ULM_OK, or why nothing can be sent. */
static int built(runner_call *k, int rc)
{
    if (rc == ULM_EINVAL)
        return fail(k, rc, "not a name or value Docker Model Runner takes");
    if (rc != ULM_OK)
        ulm__set_errbuf(k->errbuf, k->errbuf_size, "%s", ulm_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------ pull */

int ulm_dmr_pull(ulm_client *client, const char *backend, const char *model,
                 ulm_pull_progress_fn on_progress, void *payload, ulm_cancel *cancel,
                 char *errbuf, size_t errbuf_size)
{
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    if (!model || !*model)
        return fail(&k, ULM_EINVAL, "no model to pull");
    ulm_pull_exchange p;
    double deadline = ulm__now_ms() + (double)client->settings.timeouts.ms[ULM_CLOCK_OVERALL];
    rc = ulm__pull_prepare(&p, client, k.backend, k.root, model, deadline, on_progress, payload,
                           on_runner_done, &k, errbuf, errbuf_size);
    if (rc == ULM_OK && (rc = drive(&k, &p.x, cancel)) != ULM_ENOMEM)
        rc = ulm__pull_outcome(&p, errbuf, errbuf_size); /* the transfer's end, or the pull's */
    if (rc == ULM_OK && on_progress) {
        ulm_pull_progress r = ulm__pull_report(&p, 1);
        on_progress(&r, payload);
    }
    ulm__pull_clear(&p);
    return rc;
}

/* ------------------------------------------------------------ list */

struct ulm_dmr_models {
    ulm_dmr_model_list list;
};

static int read_models(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                       void *out)
{
    return ulm__dmr_parse_models(out, error, k->x.http_status, body, length);
}

int ulm_dmr_list(ulm_dmr_models **out, ulm_client *client, const char *backend, char *errbuf,
                 size_t errbuf_size)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    ulm_dmr_models *models = ulm__calloc(1, sizeof *models);
    ulm_http_request http = {0};
    rc = models ? built(&k, ulm__dmr_build_get(&http, ULM_DMR_MODELS)) : ULM_ENOMEM;
    if (rc == ULM_OK)
        rc = ask(&k, &http, read_models, &models->list);
    ulm__http_request_clear(&http);
    if (rc != ULM_OK) {
        ulm_dmr_models_free(models);
        return rc;
    }
    *out = models;
    return ULM_OK;
}

void ulm_dmr_models_free(ulm_dmr_models *models)
{
    if (!models)
        return;
    ulm__dmr_model_list_clear(&models->list);
    ulm__free(models);
}

size_t ulm_dmr_models_count(const ulm_dmr_models *models)
{
    return models ? models->list.count : 0;
}

static const ulm_dmr_model *model_at(const ulm_dmr_models *models, size_t i)
{
    return models && i < models->list.count ? &models->list.items[i] : NULL;
}

static const char *text_or_empty(const char *s)
{
    return s ? s : "";
}

const char *ulm_dmr_models_id(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->id : NULL);
}

size_t ulm_dmr_models_tag_count(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return m ? m->tag_count : 0;
}

const char *ulm_dmr_models_tag(const ulm_dmr_models *models, size_t i, size_t tag)
{
    const ulm_dmr_model *m = model_at(models, i);
    return m && tag < m->tag_count ? m->tags[tag] : "";
}

const char *ulm_dmr_models_format(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->format : NULL);
}

const char *ulm_dmr_models_quantization(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->quantization : NULL);
}

const char *ulm_dmr_models_parameters(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->parameters : NULL);
}

const char *ulm_dmr_models_architecture(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->architecture : NULL);
}

const char *ulm_dmr_models_size(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return text_or_empty(m ? m->size : NULL);
}

long ulm_dmr_models_context_size(const ulm_dmr_models *models, size_t i)
{
    const ulm_dmr_model *m = model_at(models, i);
    return m ? m->context_size : -1;
}

/* ------------------------------------------------------------ ps */

struct ulm_dmr_runners {
    ulm_dmr_runner_list list;
};

static int read_runners(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                        void *out)
{
    return ulm__dmr_parse_ps(out, error, k->x.http_status, body, length);
}

int ulm_dmr_ps(ulm_dmr_runners **out, ulm_client *client, const char *backend, char *errbuf,
               size_t errbuf_size)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    ulm_dmr_runners *runners = ulm__calloc(1, sizeof *runners);
    ulm_http_request http = {0};
    rc = runners ? built(&k, ulm__dmr_build_get(&http, ULM_DMR_PS)) : ULM_ENOMEM;
    if (rc == ULM_OK)
        rc = ask(&k, &http, read_runners, &runners->list);
    ulm__http_request_clear(&http);
    if (rc != ULM_OK) {
        ulm_dmr_runners_free(runners);
        return rc;
    }
    *out = runners;
    return ULM_OK;
}

void ulm_dmr_runners_free(ulm_dmr_runners *runners)
{
    if (!runners)
        return;
    ulm__dmr_runner_list_clear(&runners->list);
    ulm__free(runners);
}

size_t ulm_dmr_runners_count(const ulm_dmr_runners *runners)
{
    return runners ? runners->list.count : 0;
}

static const ulm_dmr_runner *runner_at(const ulm_dmr_runners *runners, size_t i)
{
    return runners && i < runners->list.count ? &runners->list.items[i] : NULL;
}

const char *ulm_dmr_runners_model(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return text_or_empty(r ? r->model : NULL);
}

const char *ulm_dmr_runners_engine(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return text_or_empty(r ? r->backend : NULL);
}

const char *ulm_dmr_runners_mode(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return text_or_empty(r ? r->mode : NULL);
}

int ulm_dmr_runners_in_use(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return r ? r->in_use : 0;
}

int ulm_dmr_runners_loading(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return r ? r->loading : 0;
}

const char *ulm_dmr_runners_last_used(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return r && !r->last_used_zero ? text_or_empty(r->last_used) : "";
}

const char *ulm_dmr_runners_keep_alive(const ulm_dmr_runners *runners, size_t i)
{
    const ulm_dmr_runner *r = runner_at(runners, i);
    return text_or_empty(r ? r->keep_alive : NULL);
}

/* ------------------------------------------------------------ unload, remove, preload */

static int read_unload(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                       void *out)
{
    return ulm__dmr_parse_unload(out, error, k->x.http_status, body, length);
}

int ulm_dmr_unload(ulm_client *client, const char *backend, const char *model, long *unloaded,
                   char *errbuf, size_t errbuf_size)
{
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    ulm_http_request http = {0};
    long count = 0;
    rc = built(&k, ulm__dmr_build_unload(&http, model ? &model : NULL, model ? 1 : 0));
    if (rc == ULM_OK)
        rc = ask(&k, &http, read_unload, &count);
    ulm__http_request_clear(&http);
    if (rc == ULM_OK && unloaded)
        *unloaded = count;
    return rc;
}

static int read_removal(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                        void *out)
{
    return ulm__dmr_parse_remove(out, error, k->x.http_status, body, length);
}

int ulm_dmr_remove(ulm_client *client, const char *backend, const char *model, int force,
                   char *errbuf, size_t errbuf_size)
{
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    if (!model || !*model)
        return fail(&k, ULM_EINVAL, "no model to remove");
    ulm_http_request http = {0};
    ulm_dmr_removal_list removed = {0};
    rc = built(&k, ulm__dmr_build_remove(&http, model, force));
    if (rc == ULM_OK)
        rc = ask(&k, &http, read_removal, &removed);
    ulm__dmr_removal_list_clear(&removed);
    ulm__http_request_clear(&http);
    return rc;
}

typedef struct done_call {
    ulm_dmr_call call;
} done_call;

static int read_done(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                     void *out)
{
    const done_call *d = out;
    return ulm__dmr_parse_done(error, d->call, k->x.http_status, body, length);
}

int ulm_dmr_preload(ulm_client *client, const char *backend, const char *model,
                    long context_size, const char *keep_alive, char *errbuf, size_t errbuf_size)
{
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    if (!model || !*model)
        return fail(&k, ULM_EINVAL, "no model to preload");
    ulm_http_request http = {0};
    /* _configure alone would reset an earlier configuration: only when asked to set one */
    if (context_size || keep_alive) {
        ulm_dmr_configure config = {.model = model, .context_size = context_size,
                                    .keep_alive = keep_alive};
        done_call configure = {ULM_DMR_CONFIGURE};
        rc = built(&k, ulm__dmr_build_configure(&http, &config));
        if (rc == ULM_OK)
            rc = ask(&k, &http, read_done, &configure);
        ulm__http_request_clear(&http);
    }
    done_call preload = {ULM_DMR_PRELOAD};
    if (rc == ULM_OK)
        rc = built(&k, ulm__dmr_build_preload(&http, model, NULL));
    if (rc == ULM_OK) {
        rc = send_to_runner(&k, &http, 1);
        if (rc == ULM_OK) {
            size_t length;
            const char *body = ulm_http_response_body(&k.x.resp, &length);
            ulm_dmr_error error = {0};
            rc = read_done(&k, &error, body, length, &preload);
            if (rc != ULM_OK && rc != ULM_ENOMEM)
                rc = fail_answer(&k, &error);
        }
        ulm__exchange_clear(&k.x);
    }
    ulm__http_request_clear(&http);
    return rc;
}

/* ------------------------------------------------------------ resource metrics */

static int read_disk_usage(runner_call *k, ulm_dmr_error *error, const char *body, size_t length,
                           void *out)
{
    return ulm__dmr_parse_disk_usage(out, error, k->x.http_status, body, length);
}

/* GET /metrics into text when the runner answers 200 (*got set); a runner without the
 * endpoint, or one that fails it, just has none. ULM_OK or ULM_ENOMEM. */
static int fetch_runner_metrics(runner_call *k, ulm_text *text, int *got)
{
    ulm_http_request http = {0};
    int rc = ulm__dmr_build_get(&http, ULM_DMR_METRICS);
    if (rc == ULM_OK)
        rc = send_to_runner(k, &http, 0);
    if (rc == ULM_OK && k->x.http_status == 200) {
        size_t length;
        const char *body = ulm_http_response_body(&k->x.resp, &length);
        rc = ulm_text_append(text, body, length);
        *got = rc == ULM_OK;
    }
    ulm__exchange_clear(&k->x);
    ulm__http_request_clear(&http);
    return rc == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK;
}

/* GET /engines/df's models_disk_usage, -1 when the runner did not say. ULM_OK or
 * ULM_ENOMEM. */
static int fetch_disk_usage(runner_call *k, int64_t *bytes)
{
    ulm_dmr_disk_usage disk = {0};
    ulm_http_request http = {0};
    int rc = built(k, ulm__dmr_build_get(&http, ULM_DMR_DISK_USAGE));
    if (rc == ULM_OK)
        rc = ask(k, &http, read_disk_usage, &disk);
    ulm__http_request_clear(&http);
    *bytes = rc == ULM_OK ? disk.models : -1;
    return rc == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK;
}

int ulm_dmr_metrics(ulm_client *client, const char *backend, char *buf, size_t size,
                    size_t *length, char *errbuf, size_t errbuf_size)
{
    if (length)
        *length = 0;
    if (buf && size)
        buf[0] = '\0';
    runner_call k;
    int rc = find_runner(&k, client, backend, errbuf, errbuf_size);
    if (rc != ULM_OK)
        return rc;
    ulm_dmr_runner_list runners = {0};
    ulm_http_request http = {0};
    int ps = built(&k, ulm__dmr_build_get(&http, ULM_DMR_PS));
    if (ps == ULM_OK)
        ps = ask(&k, &http, read_runners, &runners);
    ulm__http_request_clear(&http);
    char ps_error[ULM_ERROR_SIZE] = "";
    if (errbuf && errbuf_size)
        ulm__set_errbuf(ps_error, sizeof ps_error, "%s", errbuf);
    ulm_runner_scrape scrape = {.backend = k.backend->name, .up = ps == ULM_OK,
                                .runners = &runners, .disk_bytes = -1};
    ulm_text metrics = {0}, out = {0};
    int got_metrics = 0;
    rc = ps == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK;
    if (ps == ULM_OK && (rc = fetch_disk_usage(&k, &scrape.disk_bytes)) == ULM_OK)
        rc = fetch_runner_metrics(&k, &metrics, &got_metrics);
    if (got_metrics) {
        scrape.metrics = metrics.data;
        scrape.metrics_length = metrics.len;
    }
    if (rc == ULM_OK)
        rc = ulm__runner_metrics_write(&out, &scrape);
    if (rc == ULM_OK) {
        if (buf && size) {
            size_t n = out.len < size ? out.len : size - 1;
            memcpy(buf, out.data, n);
            buf[n] = '\0';
        }
        if (length)
            *length = out.len;
        rc = ps;
    }
    /* the state's failure is the one to tell; the others only leave their part out */
    ulm__set_errbuf(errbuf, errbuf_size, "%s",
                    rc == ULM_ENOMEM ? ulm_strerror(rc) : rc == ULM_OK ? "" : ps_error);
    ulm__dmr_runner_list_clear(&runners);
    ulm_text_free(&metrics);
    ulm_text_free(&out);
    return rc;
}
