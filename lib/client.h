/* client.h - the insides of a client: settings, backends and their endpoints, policy state. */
#ifndef ULM_CLIENT_H
#define ULM_CLIENT_H

#include <pthread.h>

#include "backend_types.h"
#include "clocks.h"
#include "config_file.h"
#include "limiter.h"
#include "log.h"
#include "policy.h"
#include "redact.h"

/* The transport's pool of engines (engine.h); the client only owns it. */
typedef struct ulm_engine_pool ulm_engine_pool;

/* The engine that blocking calls of all threads share (hub.h); the client only owns it. */
typedef struct ulm_hub ulm_hub;

/* How many loads of one runner a client remembers having seen begin. */
#define ULM_LOAD_RECORDS 8

/*
 * What calls learned of one Docker Model Runner endpoint's loads (load_probe.c), guarded by
 * the client's policy_lock. The runner says which models are loaded and loading, not since
 * when: a load a call of this client saw begin is remembered, so that a later call waits
 * only for what is left of its budget.
 */
typedef struct ulm_runner_loads {
    int no_state;          /* the endpoint does not answer GET /engines/ps: not asked again */
    struct {
        char model[128];   /* "" for a free record */
        double since;      /* when the request that began the load went out */
    } begun[ULM_LOAD_RECORDS];
    unsigned int next;     /* the record to reuse when all are taken */
} ulm_runner_loads;

typedef struct ulm_backend {
    char *name;            /* the prefix of model strings: the provider's name, or the
                              backend's name in the configuration file */
    const ulm_backend_type *type; /* its built-in kind; NULL for a program's own provider */
    ulm_provider *provider;
    char **urls;           /* its deployments' base URLs, without a trailing slash */
    char **shown_urls;     /* the same as attempts and logs show them, redacted with every
                              key of the client; remade when the keys change; an entry is
                              NULL when memory ran out (each use then redacts its own) */
    ulm_endpoint_state *health; /* one per URL; guarded by the client's policy_lock */
    ulm_runner_loads *loads; /* one per URL; used for Docker Model Runner's kind only */
    size_t endpoint_count; /* at least one */
    ulm_balance balance;
    unsigned int cursor;   /* round robin over endpoints; guarded by policy_lock */
    ulm_limiter *limiter;  /* NULL: no limit on requests in flight */
    char *api_key;         /* NULL when none is configured; kept to redact it */
    char *auth_line;       /* "Header: prefix+key", made once, or NULL */
    char disabled[96];     /* why the backend may not be used; "" when it may */
    int hidden;            /* switched off by a feature flag: not listed, not probed */
    int local;             /* a model on this machine or network: a load budget, offline
                              mode's fallbacks, a missing model that moves the chain on */
    const char *origin;    /* "builtin", "file", "compose" or "program": who made it */
    char *ca_file;         /* CA certificates for TLS; NULL: libcurl's default */
    char *proxy;           /* proxy URL, "" for none; NULL: libcurl's environment proxies */
} ulm_backend;

/* What probing one candidate address of Docker Model Runner found. */
typedef struct ulm_probe_record {
    char *url;
    int outcome;           /* ULM_OK: the runner answered; else why not */
    char *message;         /* "" when it answered */
} ulm_probe_record;

/* Where Docker Model Runner turned out to be (dmr_discovery.c). */
typedef struct ulm_discovery {
    pthread_mutex_t lock;
    int pending;           /* the local backend's URL is yet to be found */
    int done;
    ulm_probe_record *tried;
    size_t tried_count;
    char *failure;         /* when no candidate answered: the message its attempts carry */
} ulm_discovery;

#define ULM_MAX_BACKENDS 16

typedef struct ulm_metrics ulm_metrics;

typedef struct ulm_url_list {
    char **urls;
    size_t count;
} ulm_url_list;

ULM_HIDDEN void ulm__url_list_clear(ulm_url_list *l);

/* One built-in backend's key and URLs, resolved: options, then the file, then the
 * environment, then the type's default. */
typedef struct ulm_builtin_settings {
    const ulm_backend_type *type;
    char *api_key;         /* NULL when none was found */
    char missing_key[96];  /* why a backend that takes a key has none; "" otherwise */
    ulm_url_list urls;     /* as written: the client applies the type's api_root */
    int url_defaulted;     /* no URL was given: the type's default stands in */
} ulm_builtin_settings;

/* A backend setting the program gave (ulm_backend_setting), copied. */
typedef struct ulm_program_setting {
    char *backend, *name, *value;
} ulm_program_setting;

typedef struct ulm_settings {
    ulm_logger log;
    int ignore_environment;
    char *config_path;   /* the configuration file read, or NULL */
    ulm_file_config file;
    ulm_builtin_settings builtins[ULM_BACKEND_TYPE_COUNT]; /* as ulm__backend_types */
    int enable_model_runner;
    char *default_local_model;
    char *default_target; /* the file's default_model: a target or an alias, or NULL */
    char **local_models; /* AVAILABLE_LOCAL_MODELS, normalized */
    size_t local_model_count;
    ulm_timeouts timeouts;
    size_t max_response_bytes;
    size_t max_event_line_bytes, max_event_bytes;
    unsigned int max_idle_connections;
    ulm_retry_policy retry;
    ulm_breaker_policy breaker;
    int use_local_models_when_offline;
    long probe_interval_ms;
    ulm_program_setting *program; /* the options' backend_settings */
    size_t program_count;
    struct ulm_compose_model *compose; /* Docker Compose's injected models (compose_env.h) */
    size_t compose_count;
    ulm_url_list dmr_candidates;  /* where to look for Docker Model Runner when no URL was given */
    int auto_pull;                /* pull a local model a call names that is not pulled */
} ulm_settings;

/* A model's parameters from the configuration file, matched to a resolved target. */
typedef struct ulm_model_params {
    const ulm_backend *backend;
    char model[256];             /* normalized */
    const ulm_file_model *file;  /* temperature, max_tokens, context_window */
} ulm_model_params;

struct ulm_client {
    ulm_settings settings;
    ulm_backend backends[ULM_MAX_BACKENDS];
    size_t backend_count;
    char *default_model; /* a target or alias: the file's, or "dmr/<DEFAULT_LOCAL_MODEL>" */
    ulm_model_params *model_params;
    size_t model_param_count;
    ulm_backend *local_backend; /* the backend of the local default kind (DMR), or NULL */
    ulm_secrets secrets;        /* every backend's key, for redaction */
    const char *secret_keys[ULM_MAX_BACKENDS];
    pthread_mutex_t policy_lock; /* endpoint health, cursors, offline state */
    int policy_lock_ready;
    ulm_offline_state offline;
    ulm_engine_pool *engines;
    ulm_hub *hub;
    ulm_metrics *metrics;        /* what the calls record (metrics.h) */
    ulm_discovery discovery;
    int discovery_lock_ready;
};

/* Resolves settings from options, then the configuration file, then the environment,
 * then defaults. */
ULM_HIDDEN int ulm__settings_load(ulm_settings *s, const ulm_client_options *opts,
                                  char *errbuf, size_t errbuf_size);
ULM_HIDDEN void ulm__settings_clear(ulm_settings *s);

/* The value the program gave backend's setting called name, or NULL. */
ULM_HIDDEN const char *ulm__settings_program_value(const ulm_settings *s, const char *backend,
                                                   const char *name);

/* A copy of count URLs. */
ULM_HIDDEN int ulm__url_list_copy(ulm_url_list *out, const char *const *urls, size_t count);

/* A comma-separated list of URLs, each checked; name says whose in a message. */
ULM_HIDDEN int ulm__url_list_parse(const char *text, ulm_url_list *out, const char *name,
                                   char *errbuf, size_t errbuf_size);

/* ---------------------------------------------------------------- backends.c */

ULM_HIDDEN ulm_backend *ulm__client_backend(const ulm_client *c, const char *name);

/* The configured parameters of a resolved target, or NULL. */
ULM_HIDDEN const ulm_file_model *ulm__client_model_params(const ulm_client *c,
                                                          const ulm_backend *b,
                                                          const char *model);

/*
 * Adds or replaces the backend called name, which sends through p (taken, also on
 * failure) to each of urls with api_key (NULL: none). *added (may be NULL) gets it.
 */
ULM_HIDDEN int ulm__client_add_backend(ulm_client *c, const char *name, ulm_provider *p,
                                       const char *const *urls, size_t url_count,
                                       const char *api_key, ulm_backend **added);

/* A backend of a built-in kind called name, its URLs written as a user wrote them. */
ULM_HIDDEN int ulm__client_add_typed_backend(ulm_client *c, const char *name,
                                             const ulm_backend_type *type,
                                             const char *const *urls, size_t url_count,
                                             const char *key, ulm_backend **added);

/* Whether every deployment of b is on this machine or a private network. */
ULM_HIDDEN int ulm__urls_local(const ulm_backend *b);

/* "Header: prefix+key" for a request to b with key; NULL when memory ran out or b's
 * provider takes no key. */
ULM_HIDDEN char *ulm__backend_auth_line(const ulm_backend *b, const char *key);

/* The base URL adapter paths are appended to, from a URL as a user wrote it for b. */
ULM_HIDDEN char *ulm__backend_api_root(const ulm_backend *b, const char *url);

/* Frees every backend. */
ULM_HIDDEN void ulm__client_clear_backends(ulm_client *c);

/* Collects the backends' keys into c->secrets, once the backends are all there. */
ULM_HIDDEN void ulm__client_collect_secrets(ulm_client *c);

#endif /* ULM_CLIENT_H */
