/* config_file.h - the JSON configuration file: parsed, checked, and errors with path and line. */
#ifndef ULM_CONFIG_FILE_H
#define ULM_CONFIG_FILE_H

#include "policy.h"
#include "prompt_template.h"

/*
 * The file (the path in ULM_CONFIG or ulm_client_options.config_path):
 *
 * {
 *   "backends": {
 *     "local":  {"type": "dmr", "urls": ["http://a:12434", "http://b:12434"],
 *                "balance": "least_in_flight", "max_in_flight": 4, "max_queue": 32},
 *     "openai": {"type": "openai", "url": "https://api.openai.com/v1",
 *                "api_key_env": "OPENAI_API_KEY"}
 *   },
 *   "models": {
 *     "local/ai/smollm2": {"temperature": 0.2, "max_tokens": 256, "context_window": 8192,
 *                          "template": "no_system"},
 *     "fast": ["local/ai/smollm2", "openai/gpt-4o-mini"]
 *   },
 *   "retry":    {"max_retries": 2, "base_delay_ms": 200, "max_delay_ms": 5000},
 *   "breaker":  {"failures": 5, "window_ms": 30000, "cooldown_ms": 30000},
 *   "timeouts": {"connect_ms": 10000, "load_ms": 60000, "first_token_ms": 60000,
 *                "idle_ms": 30000, "overall_ms": 300000},
 *   "offline":  {"use_local_models": true, "probe_interval_ms": 30000},
 *   "default_model": "local/ai/smollm2"
 * }
 *
 * Every section is optional. Under "models", an object gives a model's parameters and an
 * array is an alias that expands to a fallback chain. A backend's "type" is a provider
 * name ("dmr", "openai"); "url" and "urls" are alternatives; a key is never in the file,
 * only the name of the environment variable that holds it ("api_key_env").
 */

typedef struct ulm_file_backend {
    char *name;          /* the key under "backends": the prefix of model strings */
    char *type;          /* "dmr", "openai" */
    char **urls;         /* at least one */
    size_t url_count;
    char *api_key_env;   /* NULL: the type's usual variable */
    ulm_balance balance;
    long max_in_flight;  /* 0: unlimited */
    long max_queue;      /* -1: unset (the default applies) */
    int local;           /* -1: unset (a server without a key on a local URL is local) */
    char *ca_file;       /* NULL: unset */
    char *proxy;         /* NULL: unset; "" for no proxy at all */
} ulm_file_backend;

typedef struct ulm_file_model {
    char *name;              /* "backend/model" as written */
    int has_temperature;
    double temperature;
    long max_tokens;         /* 0: unset */
    long context_window;     /* 0: unset */
    ulm_prompt_template prompt_template; /* how the messages are shaped for this model */
    int has_price;           /* the prices below were given */
    double input_price, output_price; /* per million prompt and completion tokens */
} ulm_file_model;

typedef struct ulm_file_alias {
    char *name;
    char **targets; /* each "backend/model"; another alias's name is not allowed (no nesting) */
    size_t target_count;
} ulm_file_alias;

typedef struct ulm_file_config {
    ulm_file_backend *backends;
    size_t backend_count;
    ulm_file_model *models;
    size_t model_count;
    ulm_file_alias *aliases;
    size_t alias_count;
    /* numbers below are -1 when the file does not set them */
    long max_retries, base_delay_ms, max_delay_ms;
    long breaker_failures, breaker_window_ms, breaker_cooldown_ms;
    long timeouts[ULM_CLOCK_OVERALL + 1]; /* indexed by ulm_clock; -1 unset */
    int use_local_models_when_offline;    /* -1 unset, 0, 1 */
    long probe_interval_ms;
    char *default_model;                  /* NULL: unset */
    char *synthesis_template;             /* NULL: unset; checked when read */
    char **runner_candidates;             /* model_runner.candidates; NULL: unset */
    size_t runner_candidate_count;
    int auto_pull;                        /* model_runner.auto_pull: -1 unset, 0, 1 */
} ulm_file_config;

/* The most bytes a configuration may have, as a file or as options.config_json. */
#define ULM_CONFIG_MAX_BYTES (1024L * 1024L)

/*
 * Parses and checks text (length bytes; source names it in messages, e.g. the path).
 * known_types lists the provider names a backend's "type" may take, and builtin_backends
 * the backend names that exist without being declared ("dmr", "openai"), both ending
 * with NULL; alias targets
 * must name a declared or built-in backend. On failure returns ULM_ECONFIG with a message
 * in errbuf such as
 *   "ultra.json:12: models.fast[1]: unknown backend \"opnai\""
 * (ULM_ENOMEM when memory ran out), and *out is left empty.
 */
ULM_HIDDEN int ulm__file_config_parse(const char *text, size_t length, const char *source,
                                      const char *const *known_types,
                                      const char *const *builtin_backends,
                                      ulm_file_config *out, char *errbuf, size_t errbuf_size);

/* Reads the file at path and parses it; a file that cannot be read is ULM_ECONFIG too. */
ULM_HIDDEN int ulm__file_config_load(const char *path, const char *const *known_types,
                                     const char *const *builtin_backends, ulm_file_config *out,
                                     char *errbuf, size_t errbuf_size);

ULM_HIDDEN void ulm__file_config_free(ulm_file_config *c);

/* The alias called name, or NULL. */
ULM_HIDDEN const ulm_file_alias *ulm__file_config_alias(const ulm_file_config *c,
                                                        const char *name);
/* The parameters of the model "backend/model", or NULL. */
ULM_HIDDEN const ulm_file_model *ulm__file_config_model(const ulm_file_config *c,
                                                        const char *name);

#endif /* ULM_CONFIG_FILE_H */
