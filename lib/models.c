/* models.c - ulm_list_models(): ask every backend at once which models it offers. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dmr_discovery.h"
#include "exchange.h"
#include "redact.h"

typedef struct model_entry {
    const char *provider; /* points into the backend status list */
    char *id;
} model_entry;

/* One endpoint of one backend, as asked. */
typedef struct backend_status {
    char *name;
    char *url;
    int error;
    char *message;
    double ms;
    char **ids;     /* the models this endpoint itself offers */
    size_t id_count;
} backend_status;

struct ulm_model_list {
    model_entry *models;
    size_t model_count;
    backend_status *backends;
    size_t backend_count;
};

void ulm_model_list_free(ulm_model_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->model_count; i++)
        ulm__free(list->models[i].id);
    ulm__free(list->models);
    for (size_t i = 0; i < list->backend_count; i++) {
        ulm__free(list->backends[i].name);
        ulm__free(list->backends[i].url);
        ulm__free(list->backends[i].message);
        for (size_t k = 0; k < list->backends[i].id_count; k++)
            ulm__free(list->backends[i].ids[k]);
        ulm__free(list->backends[i].ids);
    }
    ulm__free(list->backends);
    ulm__free(list);
}

static int listed(const ulm_model_list *list, const char *provider, const char *id)
{
    for (size_t i = 0; i < list->model_count; i++)
        if (strcmp(list->models[i].provider, provider) == 0 && strcmp(list->models[i].id, id) == 0)
            return 1;
    return 0;
}

/* Moves the ids of result into list, tagged with the backend's name; a model that
 * several deployments of one backend offer is listed once. */
static int take_models(ulm_model_list *list, const char *provider, ulm_result *r)
{
    if (!r->model_id_count)
        return ULM_OK;
    model_entry *grown = ulm__realloc(list->models,
                                      (list->model_count + r->model_id_count) * sizeof *grown);
    if (!grown)
        return ULM_ENOMEM;
    list->models = grown;
    for (size_t i = 0; i < r->model_id_count; i++) {
        if (listed(list, provider, r->model_ids[i])) {
            ulm__free(r->model_ids[i]); /* another deployment's copy is listed */
            r->model_ids[i] = NULL;
            continue;
        }
        grown[list->model_count].provider = provider;
        grown[list->model_count++].id = r->model_ids[i];
        r->model_ids[i] = NULL;
    }
    r->model_id_count = 0;
    return ULM_OK;
}

/* One endpoint being asked, and what it answered. */
typedef struct probe {
    ulm_exchange x;
    ulm_clocks clocks;
    ulm_result result;
    backend_status *status;
    double start, ms;
    int done;
} probe;

static void on_probe_done(ulm_exchange *x, void *ctx)
{
    (void)x;
    probe *p = ctx;
    p->done = 1;
    p->ms = ulm__now_ms() - p->start;
}

/* Starts asking one endpoint; one that cannot be asked at all is done at once. */
static void start_probe(ulm_client *c, ulm_engine *e, ulm_backend *b, const char *url, probe *p)
{
    const ulm_timeouts *tm = &c->settings.timeouts;
    ulm__result_init(&p->result);
    p->start = ulm__now_ms();
    ulm__clocks_start(&p->clocks, tm, b->local,
                      p->start + (double)tm->ms[ULM_CLOCK_OVERALL], 0);
    p->x = (ulm_exchange){.client = c, .backend = b, .model = "", .op = ULM_OP_MODELS,
                          .base_url = url, .clocks = &p->clocks, .result = &p->result,
                          .on_done = on_probe_done, .on_done_ctx = p};
    if (ulm__exchange_start(&p->x, e) != ULM_OK)
        on_probe_done(&p->x, p);
}

/* Copies the ids an endpoint answered into its own status, before the list takes them. */
static int keep_endpoint_ids(backend_status *st, const ulm_result *r)
{
    if (!r->model_id_count)
        return ULM_OK;
    if (!(st->ids = ulm__calloc(r->model_id_count, sizeof *st->ids)))
        return ULM_ENOMEM;
    for (size_t i = 0; i < r->model_id_count; i++) {
        if (!(st->ids[i] = ulm__strdup(r->model_ids[i])))
            return ULM_ENOMEM;
        st->id_count++;
    }
    return ULM_OK;
}

/* Moves what an endpoint answered into the list. */
static int take_probe(ulm_model_list *list, probe *p)
{
    backend_status *st = p->status;
    st->error = p->x.rc;
    int rc = st->error == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK;
    if (st->error == ULM_OK && (rc = keep_endpoint_ids(st, &p->result)) == ULM_OK)
        rc = take_models(list, st->name, &p->result);
    else if (rc == ULM_OK && !(st->message = ulm__strdup(p->x.errmsg)))
        rc = ULM_ENOMEM;
    return rc;
}

static int all_probed(const probe *probes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!probes[i].done)
            return 0;
    return 1;
}

/* Asks every endpoint at once on one engine, so the slowest decides how long it takes. */
static int ask_all(ulm_client *c, ulm_model_list *list, probe *probes)
{
    ulm_engine *e = NULL;
    if (ulm__engine_borrow(c->engines, &e) != ULM_OK)
        return ULM_ENOMEM;
    size_t n = 0;
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < c->backend_count; i++) {
        ulm_backend *b = &c->backends[i];
        for (size_t u = 0; rc == ULM_OK && !b->hidden && u < b->endpoint_count; u++) {
            backend_status *st = &list->backends[list->backend_count++];
            st->name = ulm__strdup(b->name);
            st->url = ulm__redacted_url(b->urls[u]); /* shown, never used to connect */
            if (!st->name || !st->url) {
                rc = ULM_ENOMEM;
                break;
            }
            probes[n].status = st;
            start_probe(c, e, b, b->urls[u], &probes[n++]);
        }
    }
    while (rc == ULM_OK && !all_probed(probes, n))
        rc = ulm__engine_run(e, 0, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        ulm__exchange_abort(&probes[i].x, e);
        probes[i].status->ms = probes[i].ms;
        if (rc == ULM_OK && probes[i].done)
            rc = take_probe(list, &probes[i]);
        ulm__result_clear(&probes[i].result);
    }
    ulm__engine_return(c->engines, e);
    return rc;
}

int ulm_list_models(ulm_model_list **out, ulm_client *client)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client)
        return ULM_EINVAL;
    if (client->discovery.pending && ulm__dmr_discover(client) != ULM_OK)
        return ULM_ENOMEM;
    ulm_model_list *list = ulm__calloc(1, sizeof *list);
    if (!list)
        return ULM_ENOMEM;
    size_t endpoints = 0;
    for (size_t i = 0; i < client->backend_count; i++)
        endpoints += client->backends[i].endpoint_count;
    list->backends = ulm__calloc(endpoints ? endpoints : 1, sizeof *list->backends);
    probe *probes = ulm__calloc(endpoints ? endpoints : 1, sizeof *probes);
    int rc = list->backends && probes ? ask_all(client, list, probes) : ULM_ENOMEM;
    ulm__free(probes);
    if (rc != ULM_OK) {
        ulm_model_list_free(list);
        return rc;
    }
    *out = list;
    return ULM_OK;
}

size_t ulm_model_list_count(const ulm_model_list *list)
{
    return list ? list->model_count : 0;
}

const char *ulm_model_list_provider(const ulm_model_list *list, size_t i)
{
    return list && i < list->model_count ? list->models[i].provider : NULL;
}

const char *ulm_model_list_id(const ulm_model_list *list, size_t i)
{
    return list && i < list->model_count ? list->models[i].id : NULL;
}

size_t ulm_model_list_backend_count(const ulm_model_list *list)
{
    return list ? list->backend_count : 0;
}

const char *ulm_model_list_backend_name(const ulm_model_list *list, size_t i)
{
    return list && i < list->backend_count ? list->backends[i].name : NULL;
}

int ulm_model_list_backend_error(const ulm_model_list *list, size_t i)
{
    return list && i < list->backend_count ? list->backends[i].error : ULM_EINVAL;
}

const char *ulm_model_list_backend_message(const ulm_model_list *list, size_t i)
{
    if (!list || i >= list->backend_count)
        return NULL;
    return list->backends[i].message ? list->backends[i].message : "";
}

const char *ulm_model_list_backend_url(const ulm_model_list *list, size_t i)
{
    return list && i < list->backend_count ? list->backends[i].url : NULL;
}

double ulm_model_list_backend_ms(const ulm_model_list *list, size_t i)
{
    return list && i < list->backend_count ? list->backends[i].ms : 0.0;
}

size_t ulm_model_list_backend_model_count(const ulm_model_list *list, size_t i)
{
    return list && i < list->backend_count ? list->backends[i].id_count : 0;
}

const char *ulm_model_list_backend_model(const ulm_model_list *list, size_t i, size_t k)
{
    if (!list || i >= list->backend_count || k >= list->backends[i].id_count)
        return NULL;
    return list->backends[i].ids[k];
}
