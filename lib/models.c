/* models.c - ulm_list_models(): ask every backend which models it offers. */
#include <stdlib.h>
#include <string.h>

#include "clocks.h"

typedef struct model_entry {
    const char *provider; /* points into the backend status list */
    char *id;
} model_entry;

typedef struct backend_status {
    char *name;
    int error;
    char *message;
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
        free(list->backends[i].message);
    }
    free(list->backends);
    free(list);
}

/* Moves the ids of result into list, tagged with the backend's name. */
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
        grown[list->model_count].provider = provider;
        grown[list->model_count++].id = r->model_ids[i];
        r->model_ids[i] = NULL;
    }
    r->model_id_count = 0;
    return ULM_OK;
}

static int ask_backend(ulm_client *c, ulm_backend *b, ulm_model_list *list)
{
    backend_status *st = &list->backends[list->backend_count];
    st->name = ulm__strdup(b->provider->name);
    if (!st->name)
        return ULM_ENOMEM;
    list->backend_count++;

    ulm_target target = {.backend = b};
    ulm_result result;
    ulm__result_init(&result);
    char errmsg[ULM_ERROR_SIZE];
    int status = 0;
    const ulm_timeouts *tm = &c->settings.timeouts;
    ulm_clocks clocks;
    ulm__clocks_start(&clocks, tm, (b->provider->flags & ULM_PROVIDER_LOCAL) != 0,
                      ulm__now_ms() + (double)tm->ms[ULM_CLOCK_OVERALL], 0);
    ulm_exchange_io io = {.clocks = &clocks};
    st->error = ulm__exchange(c, &target, ULM_OP_MODELS, NULL, &io, &result, &status, errmsg,
                              sizeof errmsg);
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
    list->backends = ulm__calloc(client->backend_count, sizeof *list->backends);
    int rc = list->backends ? ULM_OK : ULM_ENOMEM;
    for (size_t i = 0; rc == ULM_OK && i < client->backend_count; i++)
        rc = ask_backend(client, &client->backends[i], list);
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
