/* models.c - ulm_list_models(): ask every backend which models it offers. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "clocks.h"

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
        free(list->models[i].id);
    free(list->models);
    for (size_t i = 0; i < list->backend_count; i++) {
        free(list->backends[i].name);
        free(list->backends[i].url);
        free(list->backends[i].message);
    }
    free(list->backends);
    free(list);
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
        if (listed(list, provider, r->model_ids[i]))
            continue;
        grown[list->model_count].provider = provider;
        grown[list->model_count++].id = r->model_ids[i];
        r->model_ids[i] = NULL;
    }
    r->model_id_count = 0;
    return ULM_OK;
}

static int ask_endpoint(ulm_client *c, ulm_backend *b, const char *url, ulm_model_list *list)
{
    backend_status *st = &list->backends[list->backend_count];
    st->name = ulm__strdup(b->name);
    st->url = ulm__strdup(url);
    list->backend_count++;
    if (!st->name || !st->url)
        return ULM_ENOMEM;

    ulm_target target = {.backend = b};
    ulm_result result;
    ulm__result_init(&result);
    char errmsg[ULM_ERROR_SIZE];
    int status = 0;
    const ulm_timeouts *tm = &c->settings.timeouts;
    ulm_clocks clocks;
    ulm__clocks_start(&clocks, tm, (b->provider->flags & ULM_PROVIDER_LOCAL) != 0,
                      ulm__now_ms() + (double)tm->ms[ULM_CLOCK_OVERALL], 0);
    ulm_exchange_io io = {.base_url = url, .clocks = &clocks};
    double start = ulm__now_ms();
    st->error = ulm__exchange(c, &target, ULM_OP_MODELS, NULL, &io, &result, &status, errmsg,
                              sizeof errmsg);
    st->ms = ulm__now_ms() - start;
    int rc = st->error == ULM_ENOMEM ? ULM_ENOMEM : ULM_OK;
    if (st->error == ULM_OK)
        rc = take_models(list, st->name, &result);
    else if (rc == ULM_OK && !(st->message = ulm__strdup(errmsg)))
        rc = ULM_ENOMEM;
    ulm__result_clear(&result);
    return rc;
}

int ulm_list_models(ulm_model_list **out, ulm_client *client)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    if (!client)
        return ULM_EINVAL;
    ulm_model_list *list = ulm__calloc(1, sizeof *list);
    if (!list)
        return ULM_ENOMEM;
    size_t endpoints = 0;
    for (size_t i = 0; i < client->backend_count; i++)
        endpoints += client->backends[i].endpoint_count;
    list->backends = ulm__calloc(endpoints ? endpoints : 1, sizeof *list->backends);
    int rc = list->backends ? ULM_OK : ULM_ENOMEM;
    for (size_t i = 0; rc == ULM_OK && i < client->backend_count; i++) {
        ulm_backend *b = &client->backends[i];
        for (size_t e = 0; rc == ULM_OK && !b->hidden && e < b->endpoint_count; e++)
            rc = ask_endpoint(client, b, b->urls[e], list);
    }
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
