/* backend_types.h - the built-in kinds of backend: adapter, key variables, URL conventions. */
#ifndef ULM_BACKEND_TYPES_H
#define ULM_BACKEND_TYPES_H

#include "alloc.h"
#include "ultrallm/provider.h"

/* What the core needs to know of a kind of backend, so that it never names one. */
#define ULM_KIND_LOCAL_DEFAULT 0x1u /* the local backend: bare model names, DEFAULT_LOCAL_MODEL,
                                       AVAILABLE_LOCAL_MODELS and offline mode's fallbacks go
                                       to it, ENABLE_MODEL_RUNNER switches it off */

typedef struct ulm_backend_type {
    const char *name;      /* the type in the configuration file, and the name of the
                              backend that exists without being declared */
    unsigned int flags;    /* ULM_KIND_* */
    int (*provider_new)(ulm_provider **out);
    /* the canonical form of a model name (NULL: names are used as written) */
    int (*normalize_model)(const char *name, char *buf, size_t buf_size);
    const char *key_vars[3]; /* variables that may hold the key, first set wins; none:
                                the backend takes no key */
    const char *url_var;   /* the variable that overrides the default URL */
    const char *default_url;
    /* The base URL adapter paths are appended to, from a URL a user wrote (NULL when
     * memory ran out); NULL: the URL as written, without a trailing slash. */
    char *(*api_root)(const char *url);
} ulm_backend_type;

/* How many kinds there are: the table's size, which the compiler holds the table to. */
#define ULM_BACKEND_TYPE_COUNT 4

/* Every type, in the order the client creates its built-in backends, and their names as
 * the NULL-terminated list the configuration file's parser takes. */
ULM_HIDDEN extern const ulm_backend_type ulm__backend_types[ULM_BACKEND_TYPE_COUNT];
ULM_HIDDEN extern const char *const ulm__backend_type_names[ULM_BACKEND_TYPE_COUNT + 1];

/* The type called name, or NULL. */
ULM_HIDDEN const ulm_backend_type *ulm__backend_type(const char *name);

/* The type flagged ULM_KIND_LOCAL_DEFAULT. */
ULM_HIDDEN const ulm_backend_type *ulm__local_backend_type(void);

/* The DMR base URL for a MODEL_RUNNER_URL value: root, /engines/v1 or Compose's /v1/. */
ULM_HIDDEN char *ulm__dmr_base_url(const char *url);

/* "A is not set" or "A or B is not set", for a backend without a key. */
ULM_HIDDEN void ulm__backend_type_missing_key(const char *const *vars, char *buf, size_t size);

#endif /* ULM_BACKEND_TYPES_H */
