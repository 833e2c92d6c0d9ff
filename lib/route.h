/* route.h - which backends and models a request goes to, in order: model strings, aliases, offline. */
#ifndef ULM_ROUTE_H
#define ULM_ROUTE_H

#include "client.h"

typedef struct ulm_target {
    ulm_backend *backend;
    char model[256]; /* normalized */
} ulm_target;

/* A call's targets in the order they are tried. */
typedef struct ulm_target_list {
    ulm_target *items;
    size_t count, cap;
} ulm_target_list;

/*
 * Resolves one model string to a backend and normalized model. On failure returns
 * ULM_EINVAL with a reason in errbuf.
 */
ULM_HIDDEN int ulm__target_resolve(const ulm_client *c, const char *spec, ulm_target *out,
                                   char *errbuf, size_t errbuf_size);

/*
 * The targets of a call, each model string expanded (an alias to its chain): those of
 * models, a comma-separated list, when it is not NULL, else the request's, else the
 * client's default model; a target named twice is tried once. Every target is resolved
 * before anything is sent, so a typo fails the call at once.
 */
ULM_HIDDEN int ulm__route(ulm_client *c, const ulm_request *req, const char *models,
                          ulm_target_list *out, char *errmsg, size_t errmsg_size);

/* Appends offline mode's fallbacks: the local default model, then the other local models. */
ULM_HIDDEN int ulm__route_add_local_models(ulm_client *c, ulm_target_list *l);

ULM_HIDDEN void ulm__target_list_clear(ulm_target_list *l);

static inline int ulm__target_is_local(const ulm_target *t)
{
    return t->backend->local;
}

#endif /* ULM_ROUTE_H */
