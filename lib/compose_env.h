/* compose_env.h - the models Docker Compose's "models:" element injects: <NAME>_URL and <NAME>_MODEL. */
#ifndef ULM_COMPOSE_ENV_H
#define ULM_COMPOSE_ENV_H

#include "alloc.h"

/* One model a service was given: a Docker Model Runner backend called name, at url. */
typedef struct ulm_compose_model {
    char *name;  /* NAME in lower case: the backend's name and an alias of its model */
    char *url;   /* used as given: it already ends in /v1/ */
    char *model; /* the model: string as written in the Compose file */
} ulm_compose_model;

/*
 * Every <NAME>_URL of env (NULL-terminated "NAME=value" strings, as environ) whose
 * <NAME>_MODEL is set too and whose value is a Docker Model Runner API root (it ends in
 * "/v1" or "/v1/", as Compose writes it), in the order of env; names taken (taken(name,
 * ctx) non-zero: a built-in or declared backend) are left out. *out is NULL when none.
 */
ULM_HIDDEN int ulm__compose_models(char *const *env, int (*taken)(const char *name, void *ctx),
                                   void *ctx, ulm_compose_model **out, size_t *count);

ULM_HIDDEN void ulm__compose_models_free(ulm_compose_model *models, size_t count);

#endif /* ULM_COMPOSE_ENV_H */
