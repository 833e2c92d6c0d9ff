/* ultrallm.h - the application API of libultrallm: one call to local and cloud LLMs. */
#ifndef ULTRALLM_H
#define ULTRALLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ULM_STATIC)
#define ULM_EXTERN
#elif defined(__GNUC__) || defined(__clang__)
#define ULM_EXTERN __attribute__((visibility("default")))
#else
#define ULM_EXTERN
#endif

/* ---------------------------------------------------------------- version */

#define ULM_VERSION_MAJOR 0
#define ULM_VERSION_MINOR 1
#define ULM_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with ulm_version_number(). */
#define ULM_VERSION_NUMBER \
    (ULM_VERSION_MAJOR * 10000 + ULM_VERSION_MINOR * 100 + ULM_VERSION_PATCH)
#define ULM_VERSION_STRING "0.1.0"

/* The version of the library actually loaded, which may be newer than the header. */
ULM_EXTERN unsigned int ulm_version_number(void);
ULM_EXTERN const char *ulm_version_string(void);

/* ----------------------------------------------------------------- errors */

/*
 * Every function that can fail returns ULM_OK (0) or one of these negative codes.
 * Values are stable and only ever appended; never renumbered.
 */
typedef enum ulm_error {
    ULM_OK = 0,
    ULM_EINVAL = -1,             /* a bad argument or request field; nothing was sent */
    ULM_ENOMEM = -2,             /* an allocation failed */
    ULM_ECONFIG = -3,            /* invalid configuration (options, file or environment) */
    ULM_EVERSION = -4,           /* an options struct of a version this library does not know */
    ULM_ENOT_CONFIGURED = -5,    /* backend disabled or missing its API key; nothing was sent */
    ULM_ECONNECT = -6,           /* could not connect: refused, unreachable, DNS */
    ULM_ETIMEOUT = -7,           /* the call's overall deadline passed */
    ULM_EAUTH = -8,              /* the backend refused the credentials (401, 403) */
    ULM_ERATE_LIMIT = -9,        /* too many requests (429) */
    ULM_EQUOTA = -10,            /* the account is out of quota or credit */
    ULM_EBAD_REQUEST = -11,      /* the backend rejected the request (400, 413, 422, another
                                    4xx without a class of its own) */
    ULM_EMODEL_NOT_FOUND = -12,  /* the backend does not have that model (404) */
    ULM_EMODEL_LOAD = -13,       /* a local model failed to load */
    ULM_ECONTEXT_LENGTH = -14,   /* the prompt does not fit the model's context window */
    ULM_EUNAVAILABLE = -15,      /* the backend is overloaded or starting (503, 529, 408) */
    ULM_ESERVER = -16,           /* the backend failed (other 5xx) */
    ULM_EPROTOCOL = -17,         /* the answer was not what the protocol promises */
    ULM_ETOO_LARGE = -18,        /* an answer exceeded the configured size cap */
    ULM_ETRANSPORT = -19,        /* another transport failure (TLS, reset connection) */
    ULM_EUNSUPPORTED = -20,      /* the backend does not offer that operation */
    ULM_ECANCELLED = -21,        /* the caller stopped the call: on_delta's return, a cancel
                                    token, or a round that no longer needed it */
    ULM_ECONNECT_TIMEOUT = -22,  /* no connection within the connect timeout */
    ULM_ELOAD_TIMEOUT = -23,     /* a local model did not answer within its load budget */
    ULM_EFIRST_TOKEN_TIMEOUT = -24, /* no first token within the first-token timeout */
    ULM_EIDLE_TIMEOUT = -25,     /* the answer stalled longer than the idle timeout */
    ULM_EMODEL_LOADING = -26,    /* a local model is still loading; the core waits for it */
    ULM_EBUSY = -27,             /* resource exhausted: a backend's request queue is full,
                                    or no slot came before the deadline */
    ULM_ECIRCUIT_OPEN = -28,     /* every endpoint of a backend is cooling down after failures */
    ULM_ECONTENT_FILTER = -29    /* the provider's safety filter refused the prompt */
} ulm_error;

/* A static, never NULL English description of an error code. */
ULM_EXTERN const char *ulm_strerror(int code);

/* A short stable identifier of an error code ("rate_limit"), for logs and JSON. */
ULM_EXTERN const char *ulm_error_name(int code);

/*
 * Non-zero when the same request may succeed later or at another backend: connection
 * failures and transport errors, timeouts of every clock, 429, 5xx (503 and 529
 * included), local model loads, a full queue (ULM_EBUSY) and an open circuit.
 */
ULM_EXTERN int ulm_error_is_retryable(int code);

/* Size of a buffer that always holds a whole error message of this library. */
#define ULM_ERROR_SIZE 512

/* ---------------------------------------------------------------- logging */

typedef enum ulm_log_level {
    ULM_LOG_NONE = 0,
    ULM_LOG_ERROR = 1,
    ULM_LOG_WARN = 2,
    ULM_LOG_INFO = 3,
    ULM_LOG_DEBUG = 4
} ulm_log_level;

/*
 * Receives the library's diagnostics; message is NUL-terminated, holds no secret, and
 * is valid only during the call. May be called from any thread that uses the client.
 */
typedef void (*ulm_log_fn)(int level, const char *message, void *payload);

#define ULM_LOG_EVENT_VERSION 1

/*
 * One diagnostic as structured fields, beside its message, for a host that sends them to
 * its own logger (docs/api.md#logging lists the events). Every string is non-NULL ("" when the
 * field does not apply), holds no secret, and is valid only during the call. Fields may be
 * appended in later versions; version says which the struct has.
 */
typedef struct ulm_log_event {
    unsigned int version;     /* ULM_LOG_EVENT_VERSION */
    int level;                /* ulm_log_level */
    const char *event;        /* a stable name: "request.failed", "retry", "fallback"... */
    const char *message;      /* the line a ulm_log_fn receives for the same diagnostic */
    const char *backend;      /* the backend's name */
    const char *model;        /* the resolved model */
    unsigned int attempt;     /* the attempt of the call it concerns, 1 for the first; 0
                                 outside a call */
    const char *error_class;  /* ulm_error_name() of the failure */
    int http_status;          /* the answer's status; 0 when none came */
    double ms;                /* how long it took, or the pause it announces; -1 for none */
} ulm_log_event;

/* Receives each diagnostic as an event; may be called from any thread using the client. */
typedef void (*ulm_log_event_fn)(const ulm_log_event *event, void *payload);

/*
 * Formats event as one JSON-lines record: a JSON object holding the time it is written
 * (UTC, RFC 3339 with milliseconds), the level's name and every field that applies, and a
 * line feed. Writes what fits into buf, always NUL-terminated when size > 0, and returns
 * the length the whole line needs without the NUL, like snprintf; 0 for a NULL event.
 * Bytes that are not UTF-8 become U+FFFD; long values are cut on a character (the message
 * at 2048 bytes once escaped, the other strings at 384), so that a line never needs more
 * than ULM_LOG_JSON_SIZE bytes.
 */
ULM_EXTERN size_t ulm_log_event_json(const ulm_log_event *event, char *buf, size_t size);

#define ULM_LOG_JSON_SIZE 4096

/* ---------------------------------------------------------------- client */

typedef struct ulm_client ulm_client;

#define ULM_CLIENT_OPTIONS_VERSION 5

/*
 * One setting of one backend, given by the program: the way in for every per-backend
 * setting from version 4 on, so that a new backend or setting never needs a new field.
 * backend is a built-in backend ("dmr", "openai", "anthropic", "gemini") or one the
 * configuration declares; name is one of:
 *   "api_key"  the key (never logged; wins over the file's api_key_env and the environment)
 *   "url"      the base URL, or several comma-separated deployments (wins over the file
 *              and the environment)
 *   "ca_file"  a file of CA certificates (PEM) to verify its TLS with (wins over the file
 *              and ULM_CA_FILE); one that cannot be read is ULM_ECONFIG
 *   "proxy"    the proxy its requests go through; "" for none (without it: the file's,
 *              else libcurl's http_proxy, https_proxy and no_proxy)
 * An unknown backend or name stops client creation with ULM_ECONFIG naming it.
 */
typedef struct ulm_backend_setting {
    const char *backend;
    const char *name;
    const char *value;
} ulm_backend_setting;

/*
 * Options of a client. Zero / NULL means "take it from the environment, else the
 * default"; what is set here overrides the environment. Strings are copied.
 * A struct filled for an earlier version is still accepted; the fields it does not have
 * take their defaults. The clocks are described in docs/streaming.md.
 */
typedef struct ulm_client_options {
    unsigned int version;          /* ULM_CLIENT_OPTIONS_VERSION */

    ulm_log_fn log_fn;             /* NULL: the library stays silent */
    void *log_payload;
    int log_level;                 /* most verbose level passed to log_fn (and to
                                      log_event_fn); ULM_LOG_NONE with either set means
                                      ULM_LOG_WARN */

    int ignore_environment;        /* non-zero: read no environment variable */

    const char *openai_api_key;    /* OPENAI_API_KEY */
    const char *openai_base_url;   /* OPENAI_BASE_URL, default https://api.openai.com/v1 */

    int enable_model_runner;       /* ENABLE_MODEL_RUNNER: 0 env/default (on), 1 on, -1 off */
    const char *model_runner_url;  /* MODEL_RUNNER_URL; none: discovered (docs/dmr.md) */
    const char *default_local_model;    /* DEFAULT_LOCAL_MODEL, default ai/smollm2 */
    const char *available_local_models; /* AVAILABLE_LOCAL_MODELS, comma-separated */
    long local_model_timeout_ms;   /* LOCAL_MODEL_TIMEOUT: load budget, default 60000 */

    long timeout_ms;               /* overall deadline of one call, all attempts, 300000 */
    long connect_timeout_ms;       /* default 10000 */
    size_t max_response_bytes;     /* cap on one answer (body, or streamed text), 8 MiB */
    unsigned int max_idle_connections; /* engines (each a libcurl multi handle with its
                                          kept-alive connections) kept in the pool, 8 */
    /* Fields above exist since version 1. */

    long first_token_timeout_ms;   /* wait for the first token, default 60000 */
    long idle_timeout_ms;          /* longest gap inside an answer, default 30000 */
    size_t max_event_line_bytes;   /* cap on one server-sent event line, default 1 MiB */
    size_t max_event_bytes;        /* cap on one server-sent event's data, default 4 MiB */
    const char *config_path;       /* ULM_CONFIG: a JSON configuration file (docs/config.md) */
    int use_local_models_when_offline; /* USE_LOCAL_MODELS_WHEN_OFFLINE: 0 env/file/default
                                          (on), 1 on, -1 off */
    /* Fields above exist since version 2. */

    const char *anthropic_api_key;  /* ANTHROPIC_API_KEY */
    const char *anthropic_base_url; /* ANTHROPIC_BASE_URL, default https://api.anthropic.com */
    const char *gemini_api_key;     /* GEMINI_API_KEY, else GOOGLE_API_KEY */
    const char *gemini_base_url;    /* GEMINI_BASE_URL, default
                                       https://generativelanguage.googleapis.com */
    /* Fields above exist since version 3. */

    const char *config_json;        /* the configuration file's content as a string (same
                                       format, docs/config.md), instead of config_path; at
                                       most 1 MiB, as a file */
    const ulm_backend_setting *backend_settings; /* count of them below; copied */
    size_t backend_setting_count;
    /* Fields above exist since version 4. The per-backend fields of versions 1 to 3
     * (openai_api_key ...) stay, and mean the same as the settings they name. */

    ulm_log_event_fn log_event_fn; /* each diagnostic as structured fields, up to log_level;
                                      with log_fn too, both get every diagnostic */
    void *log_event_payload;
    /* Fields above exist since version 5. */
} ulm_client_options;

#define ULM_CLIENT_OPTIONS_INIT                                                          \
    {                                                                                    \
        ULM_CLIENT_OPTIONS_VERSION, NULL, NULL, ULM_LOG_NONE, 0, NULL, NULL, 0, NULL, \
            NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL, NULL, NULL,      \
            NULL, NULL, 0, NULL, NULL                                                    \
    }

/* Fills opts with ULM_CLIENT_OPTIONS_INIT; ULM_EVERSION for an unknown version. */
ULM_EXTERN int ulm_client_options_init(ulm_client_options *opts, unsigned int version);

/*
 * Creates a client. opts may be NULL for all defaults. On failure *out is NULL and,
 * when errbuf is not NULL, errbuf holds a message naming the field or variable at fault
 * (ULM_ERROR_SIZE bytes are always enough). The client may then be used from several
 * threads at once.
 */
ULM_EXTERN int ulm_client_new(ulm_client **out, const ulm_client_options *opts,
                              char *errbuf, size_t errbuf_size);

/* Frees a client and closes its connections. NULL is allowed. No other thread may be
 * inside a call on this client any more. */
ULM_EXTERN void ulm_client_free(ulm_client *client);

/* The model used when a request names none: "dmr/" and the options' default_local_model
 * when it is set, else the configuration file's default_model, else "dmr/" and
 * DEFAULT_LOCAL_MODEL (default ai/smollm2), as DMR normalizes it
 * ("dmr/ai/smollm2:latest"). */
ULM_EXTERN const char *ulm_client_default_model(const ulm_client *client);

/*
 * Writes the client's effective configuration as one JSON object into buf (always
 * NUL-terminated when size > 0): the configuration file, every backend with its URLs,
 * whether a key is present (never the key), the clocks, retries, breakers, offline mode,
 * aliases and model parameters. Returns the length the whole text needs, without the NUL,
 * like snprintf; call again with a larger buf when it is >= size.
 */
ULM_EXTERN size_t ulm_client_describe(ulm_client *client, char *buf, size_t size);

/*
 * Closes the circuit breakers of backend's endpoints (NULL: of every backend) and forgets
 * their failures, so that the next call tries them at once: for a program that knows an
 * outage is over (a breaker opens after 5 failures within 30 s and cools down for 30 s
 * unless the configuration's "breaker" says otherwise, docs/config.md). Safe while other
 * threads make calls. ULM_EINVAL for a NULL client or a backend the client does not have.
 */
ULM_EXTERN int ulm_client_reset_breakers(ulm_client *client, const char *backend);

/* ---------------------------------------------------------------- request */

typedef enum ulm_role {
    ULM_ROLE_SYSTEM = 1,
    ULM_ROLE_USER = 2,
    ULM_ROLE_ASSISTANT = 3
} ulm_role;

typedef struct ulm_request ulm_request;

/* A new, empty request (ULM_ENOMEM when memory ran out); free it with ulm_request_free(),
 * which accepts NULL. */
ULM_EXTERN int ulm_request_new(ulm_request **out);
ULM_EXTERN void ulm_request_free(ulm_request *req);

/*
 * Why the latest setter called on req (ulm_request_add_*, ulm_request_set_*) returned
 * ULM_EINVAL: "temperature 3 is out of range: 0 to 2", "the message's content is not valid
 * UTF-8 (at byte 5)"; "" when that setter succeeded. Never NULL ("" for a NULL req); it
 * never holds a key. Valid until the next setter call on req or ulm_request_free().
 */
ULM_EXTERN const char *ulm_request_error_message(const ulm_request *req);

/*
 * Appends targets in fallback order. A target is "provider/model" (dmr/ai/smollm2,
 * openai/gpt-4o-mini) or a bare name listed in AVAILABLE_LOCAL_MODELS or equal to
 * DEFAULT_LOCAL_MODEL. A comma-separated list appends each in turn. With no target at
 * all, the client's default model is used.
 */
ULM_EXTERN int ulm_request_add_model(ulm_request *req, const char *model);

/* Appends a message; content is copied and must be valid UTF-8 without NUL bytes. */
ULM_EXTERN int ulm_request_add_message(ulm_request *req, ulm_role role, const char *content);

/*
 * Sampling parameters; each is sent only when set. On ULM_EINVAL,
 * ulm_request_error_message() names the range. Where a
 * provider differs (docs/providers.md): Anthropic requires max_tokens and gets 4096 when
 * none is set, takes a temperature up to 1 (a larger one is sent as 1), and has no seed.
 */
ULM_EXTERN int ulm_request_set_temperature(ulm_request *req, double temperature); /* 0..2 */
ULM_EXTERN int ulm_request_set_top_p(ulm_request *req, double top_p);             /* 0..1 */
ULM_EXTERN int ulm_request_set_max_tokens(ulm_request *req, long max_tokens);     /* >= 1 */
ULM_EXTERN int ulm_request_set_seed(ulm_request *req, int64_t seed);
ULM_EXTERN int ulm_request_add_stop(ulm_request *req, const char *stop);          /* up to 4 */

/*
 * Receives the answer as it is generated: length bytes of text, not NUL-terminated,
 * always whole UTF-8 characters. Returning non-zero stops the call with ULM_ECANCELLED.
 * Called on the thread that called ulm_complete(), never after it returned; it may call
 * ulm_complete() itself.
 */
typedef int (*ulm_delta_fn)(const char *text, size_t length, void *payload);

/*
 * Streams the answer to on_delta (NULL turns streaming off). A call that fails before
 * any text was delivered never called on_delta, and may have fallen back to the next
 * target; once text was delivered there is no fallback and no text is delivered twice.
 */
ULM_EXTERN int ulm_request_set_on_delta(ulm_request *req, ulm_delta_fn on_delta,
                                        void *payload);

/*
 * A cancellation token. A call whose request carries it ends soon after
 * ulm_cancel_trigger() with ULM_ECANCELLED (text already delivered stays in the response,
 * marked incomplete); its transfers are aborted at once and nothing is left running.
 */
typedef struct ulm_cancel ulm_cancel;

/* A new token, not triggered. */
ULM_EXTERN int ulm_cancel_new(ulm_cancel **out);
/* Frees a token; no call may be using it any more. NULL is allowed. */
ULM_EXTERN void ulm_cancel_free(ulm_cancel *cancel);
/* Stops every call using the token, now and from then on (a token is not reset). Safe to
 * call from any thread and from a signal handler. */
ULM_EXTERN void ulm_cancel_trigger(ulm_cancel *cancel);
/* Non-zero once the token was triggered. */
ULM_EXTERN int ulm_cancel_triggered(const ulm_cancel *cancel);

/*
 * For hosts that serve many tenants: this request's calls to backend (a backend's name, as
 * in model strings) use api_key and/or base_url (NULL keeps the client's) instead of the
 * client's, without a client per tenant. The key is never logged and is redacted from
 * messages; a base URL is taken as a user writes it (DMR's root, an API root). ULM_EINVAL
 * for an empty backend, neither value, an empty key, a key with control characters, or a
 * URL that is not http:// or https://.
 */
ULM_EXTERN int ulm_request_set_backend_override(ulm_request *req, const char *backend,
                                                const char *api_key, const char *base_url);

/* Lets the request's calls be cancelled through cancel (NULL: not cancellable). The token
 * is not copied: it must outlive every call that uses the request. */
ULM_EXTERN int ulm_request_set_cancel(ulm_request *req, ulm_cancel *cancel);

/* The clocks of a call; see docs/streaming.md for where each starts and stops. */
typedef enum ulm_clock {
    ULM_CLOCK_CONNECT = 1,     /* connecting to a backend -> ULM_ECONNECT_TIMEOUT */
    ULM_CLOCK_LOAD = 2,        /* a local model loading -> ULM_ELOAD_TIMEOUT */
    ULM_CLOCK_FIRST_TOKEN = 3, /* waiting for the first token -> ULM_EFIRST_TOKEN_TIMEOUT */
    ULM_CLOCK_IDLE = 4,        /* a gap inside the answer -> ULM_EIDLE_TIMEOUT */
    ULM_CLOCK_OVERALL = 5      /* the whole call, all attempts -> ULM_ETIMEOUT */
} ulm_clock;

/* Overrides one of the client's clocks for this request; ms from 1 to 86400000. */
ULM_EXTERN int ulm_request_set_timeout(ulm_request *req, ulm_clock clock, long ms);

/* Appends a text to embed (ulm_embed); copied, valid UTF-8, not empty. */
ULM_EXTERN int ulm_request_add_input(ulm_request *req, const char *text);
ULM_EXTERN size_t ulm_request_input_count(const ulm_request *req);
ULM_EXTERN const char *ulm_request_input(const ulm_request *req, size_t i);

/* Read access, used by adapters (provider.h). The parameter getters return 1 and
 * store the value when it was set, else return 0 and leave *out alone. */
ULM_EXTERN size_t ulm_request_message_count(const ulm_request *req);
ULM_EXTERN ulm_role ulm_request_message_role(const ulm_request *req, size_t i);
ULM_EXTERN const char *ulm_request_message_content(const ulm_request *req, size_t i);
ULM_EXTERN int ulm_request_temperature(const ulm_request *req, double *out);
ULM_EXTERN int ulm_request_top_p(const ulm_request *req, double *out);
ULM_EXTERN int ulm_request_max_tokens(const ulm_request *req, long *out);
ULM_EXTERN int ulm_request_seed(const ulm_request *req, int64_t *out);
ULM_EXTERN size_t ulm_request_stop_count(const ulm_request *req);
ULM_EXTERN const char *ulm_request_stop(const ulm_request *req, size_t i);

/* ---------------------------------------------------------------- response */

typedef enum ulm_finish_reason {
    ULM_FINISH_UNKNOWN = 0,
    ULM_FINISH_STOP = 1,           /* natural end or a stop sequence */
    ULM_FINISH_LENGTH = 2,         /* max_tokens or the context window was reached */
    ULM_FINISH_CONTENT_FILTER = 3, /* the backend withheld content */
    ULM_FINISH_TOOL_CALLS = 4      /* the model asked for a tool */
} ulm_finish_reason;

/* "stop", "length", "content_filter", "tool_calls" or "unknown". */
ULM_EXTERN const char *ulm_finish_reason_name(ulm_finish_reason reason);

typedef struct ulm_response ulm_response;
typedef struct ulm_attempt ulm_attempt;

/*
 * Sends req to its first target and falls back along the rest on retryable failures.
 * req is only read: several threads may use one request at once (its on_delta then runs
 * on each of them, with the same payload). May be called from an on_delta callback: the
 * nested call runs to its end while the outer call waits. Calls without on_delta made on
 * several threads at once share one engine, which one of the waiting threads moves for
 * all (docs/api.md).
 *
 * *out receives a response in every case but two (out of memory, or out/client/req
 * NULL), also when the call fails: it holds the error detail and the attempt trail.
 * Free it with ulm_response_free(). Returns ULM_OK or the error of the last attempt.
 */
ULM_EXTERN int ulm_complete(ulm_response **out, ulm_client *client, const ulm_request *req);

/* Frees a response, its text and attempts with it. NULL is allowed. */
ULM_EXTERN void ulm_response_free(ulm_response *resp);

/*
 * Embeds the request's inputs (ulm_request_add_input) with its models, a fallback chain as
 * for ulm_complete(): the same policy, clocks and attempt trail. A backend without
 * embeddings (Anthropic) fails its attempt with ULM_EUNSUPPORTED and the chain moves on.
 * The vectors are read with ulm_response_embedding(). ULM_EINVAL: no input.
 */
ULM_EXTERN int ulm_embed(ulm_response **out, ulm_client *client, const ulm_request *req);

/* ULM_OK when a backend answered; else the error of the call. */
ULM_EXTERN int ulm_response_error(const ulm_response *resp);
/* Never NULL: "" on success, else a one-line message with secrets removed. */
ULM_EXTERN const char *ulm_response_error_message(const ulm_response *resp);
/* HTTP status of the last attempt, 0 when none was received. */
ULM_EXTERN int ulm_response_http_status(const ulm_response *resp);

/* The generated text ("" when none); valid until ulm_response_free(). */
ULM_EXTERN const char *ulm_response_text(const ulm_response *resp);
ULM_EXTERN size_t ulm_response_text_length(const ulm_response *resp);
ULM_EXTERN ulm_finish_reason ulm_response_finish_reason(const ulm_response *resp);
/* Token counts as the backend reported them; -1 when it reported none. */
ULM_EXTERN long ulm_response_prompt_tokens(const ulm_response *resp);
ULM_EXTERN long ulm_response_completion_tokens(const ulm_response *resp);
ULM_EXTERN long ulm_response_total_tokens(const ulm_response *resp);
/*
 * The provider (backend's name: "dmr", "openai") that answered, or on failure the one of
 * the attempt whose error the call reports (the last backend actually asked, or the
 * target the deadline stopped). The model is the one the server reported in its answer
 * when it named one ("gpt-4o-mini-2024-07-18" for "gpt-4o-mini"), else the one that was
 * sent; on failure, the one that was sent to that attempt. ulm_attempt_model() is always
 * the model that was sent.
 */
ULM_EXTERN const char *ulm_response_provider(const ulm_response *resp);
ULM_EXTERN const char *ulm_response_model(const ulm_response *resp);
/* Wall-clock milliseconds of the whole call, all attempts included. */
ULM_EXTERN double ulm_response_latency_ms(const ulm_response *resp);
/* The answering backend's JSON body as received; NULL on failure and for a stream. */
ULM_EXTERN const char *ulm_response_raw_json(const ulm_response *resp);
/*
 * Non-zero when a streamed answer broke off after text had been delivered: the error
 * says why, and ulm_response_text() holds exactly the text that was delivered.
 */
ULM_EXTERN int ulm_response_incomplete(const ulm_response *resp);
/*
 * Non-zero when the call was served offline: cloud backends were unreachable (or known
 * to be, from earlier calls) and a local model answered instead (docs/config.md).
 */
ULM_EXTERN int ulm_response_offline(const ulm_response *resp);

/* ulm_embed(): how many vectors (one per input, in order), their common dimensions, and
 * vector i (NULL when out of range; valid until ulm_response_free()). */
ULM_EXTERN size_t ulm_response_embedding_count(const ulm_response *resp);
ULM_EXTERN size_t ulm_response_dimensions(const ulm_response *resp);
ULM_EXTERN const float *ulm_response_embedding(const ulm_response *resp, size_t i);

/*
 * How the answer came, for comparing backends. Milliseconds, -1 when unknown:
 * connect and first byte are libcurl's, from the start of the request that answered;
 * first token is from the start of the call, for a streamed call only.
 */
ULM_EXTERN double ulm_response_connect_ms(const ulm_response *resp);
ULM_EXTERN double ulm_response_first_byte_ms(const ulm_response *resp);
ULM_EXTERN double ulm_response_first_token_ms(const ulm_response *resp);
/* Completion tokens over the time they took to arrive (from the first token when streamed,
 * else the answering request's whole time); -1 when the backend reported no count. */
ULM_EXTERN double ulm_response_tokens_per_second(const ulm_response *resp);
/* Attempts after the first: retries, other deployments and fallbacks together. */
ULM_EXTERN size_t ulm_response_retries(const ulm_response *resp);
/*
 * What the answer cost, from the configuration file's per-model prices (input and output
 * per million tokens, docs/config.md); -1 when the model has no price or the backend
 * reported no token counts: unknown, never 0.
 */
ULM_EXTERN double ulm_response_cost(const ulm_response *resp);

/* The attempts of the call, in order: one per request sent, and one per target skipped
 * (not configured, an open circuit, offline), each with what it found. */
ULM_EXTERN size_t ulm_response_attempt_count(const ulm_response *resp);
/* NULL when i is out of range; valid until ulm_response_free(). */
ULM_EXTERN const ulm_attempt *ulm_response_attempt(const ulm_response *resp, size_t i);
ULM_EXTERN const char *ulm_attempt_provider(const ulm_attempt *attempt);
ULM_EXTERN const char *ulm_attempt_model(const ulm_attempt *attempt); /* as sent */
ULM_EXTERN int ulm_attempt_error(const ulm_attempt *attempt); /* ULM_OK: it answered */
ULM_EXTERN int ulm_attempt_http_status(const ulm_attempt *attempt);
ULM_EXTERN double ulm_attempt_ms(const ulm_attempt *attempt);
ULM_EXTERN const char *ulm_attempt_error_message(const ulm_attempt *attempt);
/*
 * The deployment the attempt was sent to: its API root (one of the backend's URLs, or the
 * request's override, as the adapter completes it: "http://localhost:12434/engines/v1" for
 * DMR's root), with a user:password@ part shown as [REDACTED]@ and keys redacted;
 * "" when the attempt sent nothing (skipped, not configured, an open circuit, a full
 * queue). Tells two deployments of one backend apart.
 */
ULM_EXTERN const char *ulm_attempt_url(const ulm_attempt *attempt);

/* ---------------------------------------------------------------- many models at once */

/*
 * A round sends one request to several members at once, on the calling thread, and keeps
 * every member's answer: each member is a model string, an alias or a comma-separated
 * fallback chain with its own retries, breakers, limits and clocks, exactly as
 * ulm_complete() would run it. Optionally one more chain, the synthesizer, combines the
 * answers into one. docs/rounds.md describes it all.
 */
typedef struct ulm_round ulm_round;

/* The most members one round takes. */
#define ULM_ROUND_MAX_MEMBERS 64

/* Receives member's text as it is generated (see ulm_delta_fn); non-zero cancels that
 * member only. */
typedef int (*ulm_member_delta_fn)(size_t member, const char *text, size_t length,
                                   void *payload);

/*
 * Told as each member ends, in the order they end (answered or not); the round so far can
 * be read through the accessors below. Non-zero ends the round at once: the members still
 * running are cancelled (ULM_ECANCELLED, their text kept). Once the round was ended so, or
 * by its quorum, the members cancelled for it are not told. "Two answers agree" is such a
 * predicate.
 */
typedef int (*ulm_member_done_fn)(const ulm_round *round, size_t member, void *payload);

/* What a running member waits for, as on_member_state tells it. */
typedef enum ulm_member_state {
    ULM_MEMBER_WAITING = 0,   /* asked, in a line for a slot, or pausing before a retry or
                                 its next target: nothing of its answer has arrived */
    ULM_MEMBER_LOADING = 1,   /* its Docker Model Runner is loading the model first */
    ULM_MEMBER_PULLING = 2,   /* its Docker Model Runner is pulling the model (auto_pull) */
    ULM_MEMBER_ANSWERING = 3  /* its answer is arriving (streamed members) */
} ulm_member_state;

/*
 * Told when a running member's state changes (every member starts WAITING, untold), on the
 * calling thread; not told once it ended. LOADING comes from the runner's own word: its
 * list of runners (GET /engines/ps) says the model is loading or not loaded yet, or the
 * request was answered "loading".
 */
typedef void (*ulm_member_state_fn)(size_t member, int state, void *payload);

#define ULM_ROUND_OPTIONS_VERSION 2

typedef struct ulm_round_options {
    unsigned int version;       /* ULM_ROUND_OPTIONS_VERSION */
    size_t quorum;              /* 0: wait for every member; k: the round ends as soon as k
                                   members answered, and the rest are cancelled; and as
                                   soon as too many failed for k to be reached, it fails
                                   at once with their class (not with take_what_arrived) */
    long timeout_ms;            /* the whole round, synthesis included; 0: the request's
                                   overall clock (ULM_CLOCK_OVERALL), else the client's */
    int take_what_arrived;      /* non-zero: a deadline or cancellation that ends the round
                                   before its quorum is not a failure when a member answered */
    ulm_member_delta_fn on_delta;   /* NULL: members are not streamed, unless the request
                                       has an on_delta of its own, which they then use
                                       (ulm_round_delta_member() tells it the member) */
    void *delta_payload;
    ulm_member_done_fn on_member_done; /* may be NULL */
    void *done_payload;

    const char *synthesize;     /* NULL: no synthesis; else the synthesizer's model string,
                                   alias or comma-separated chain, sent with the request's
                                   clocks and backend overrides as the members are */
    const char *synthesis_template; /* NULL: the configuration file's, else the default */
    int anonymize;              /* non-zero: answers are labelled "Answer A", "Answer B"... in
                                   shuffled order, not by model (ulm_round_member_label);
                                   after "Answer Z" come "Answer AA", "Answer AB"... */
    size_t answer_budget_bytes; /* the most of one answer the synthesis prompt holds; 0: 8000 */
    unsigned int synthesis_share_pct; /* share of the round's time kept for synthesis,
                                   1..90; 0: 30 */
    ulm_delta_fn synthesis_on_delta; /* NULL: the synthesis is not streamed */
    void *synthesis_payload;
    uint64_t shuffle_seed;      /* with anonymize: 0 shuffles differently each round */
    /* version 2 */
    ulm_member_state_fn on_member_state; /* may be NULL */
    void *state_payload;
} ulm_round_options;

#define ULM_ROUND_OPTIONS_INIT                                                             \
    {                                                                                      \
        ULM_ROUND_OPTIONS_VERSION, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0,   \
            NULL, NULL, 0, NULL, NULL                                                      \
    }

/* Fills the fields of version (1 or 2) of opts with ULM_ROUND_OPTIONS_INIT's, and no more:
 * a struct built against version 1 is shorter. ULM_EVERSION for an unknown version. */
ULM_EXTERN int ulm_round_options_init(ulm_round_options *opts, unsigned int version);

/*
 * Asks req (its messages and parameters; its models are not used) of members[0..count)
 * at once and waits as the options say. *out receives the round in every case but out of
 * memory, NULL arguments (out, client, req, a member string, or members with a count) and
 * an options version it does not know; then it is NULL. Nothing is sent, and the round's
 * message says why, on ULM_EINVAL for no member, more than ULM_ROUND_MAX_MEMBERS, a request
 * without messages or with only empty ones, a quorum above count, a synthesis share or
 * timeout out of range, or a bad synthesis template or synthesizer. A member that fails (a
 * model string that does not resolve included) fails alone; the round returns ULM_OK when
 * at least one member answered, the quorum was met (without one: no member ran out of
 * time and the round was not cancelled) or take_what_arrived is set, and the synthesis,
 * when asked, answered (docs/rounds.md has the exact rules). The request's cancel token
 * (ulm_request_set_cancel) cancels the whole round.
 */
ULM_EXTERN int ulm_round_run(ulm_round **out, ulm_client *client, const ulm_request *req,
                             const char *const *members, size_t count,
                             const ulm_round_options *opts);

/* Frees a round and the responses of its members and synthesis. NULL is allowed. */
ULM_EXTERN void ulm_round_free(ulm_round *round);

/* ULM_OK, or why the round failed; the message is "" on success, never NULL. */
ULM_EXTERN int ulm_round_error(const ulm_round *round);
ULM_EXTERN const char *ulm_round_error_message(const ulm_round *round);
/* Wall-clock milliseconds of the whole round, synthesis included. */
ULM_EXTERN double ulm_round_latency_ms(const ulm_round *round);

/* How many members the round has; a member's index is its place in members. */
ULM_EXTERN size_t ulm_round_member_count(const ulm_round *round);
/* The member string as given. */
ULM_EXTERN const char *ulm_round_member_spec(const ulm_round *round, size_t i);
/*
 * Member i's outcome as a full response (text, usage, provider, model, latency, timings,
 * cost, error, attempts, incomplete); NULL while it runs (in on_member_done: for members
 * that have not ended) or when i is out of range. A member stopped by the quorum, the
 * deadline or a cancellation keeps the text that had arrived, marked incomplete.
 */
ULM_EXTERN const ulm_response *ulm_round_member(const ulm_round *round, size_t i);
/* The label the synthesis prompt gave member i ("Answer B", or provider/model), "" when
 * its answer was left out (it failed) or there was no synthesis. */
ULM_EXTERN const char *ulm_round_member_label(const ulm_round *round, size_t i);
/* Non-zero when member i's answer was cut to the answer budget in the synthesis prompt. */
ULM_EXTERN int ulm_round_member_truncated(const ulm_round *round, size_t i);

/* How many members have ended, and which ended k-th (k from 0), in order of ending. */
ULM_EXTERN size_t ulm_round_finished_count(const ulm_round *round);
ULM_EXTERN size_t ulm_round_finished(const ulm_round *round, size_t k);

/*
 * How far members i and j agree, from 0 to 1: the overlap of their sets of words (the
 * Jaccard index, docs/rounds.md says exactly what it is and is not); -1 when either did
 * not answer.
 */
ULM_EXTERN double ulm_round_agreement(const ulm_round *round, size_t i, size_t j);
/* Non-zero when member i answered and agrees (score >= 0.5) with fewer than half of the
 * other members that answered. */
ULM_EXTERN int ulm_round_member_dissents(const ulm_round *round, size_t i);
/* What ulm_round_delta_member() returns outside a member's text. */
#define ULM_ROUND_NO_MEMBER ((size_t)-1)

/*
 * Inside an on_delta callback (the round's, or the request's when the round has none)
 * called with a member's text: that member's index. Anywhere else, on the synthesis's text
 * and on ulm_complete()'s included: ULM_ROUND_NO_MEMBER. It reads the calling thread's
 * state only, so it is safe from any thread; a round run inside the callback restores it.
 */
ULM_EXTERN size_t ulm_round_delta_member(void);

/* The round's cost: the sum of its members' costs and the synthesis's; -1 when any of
 * them is unknown. A member that failed before any attempt reached a model (no key, no
 * connection, a breaker open, no slot) costs 0; one that failed or was stopped after its
 * request was sent (cancelled by the quorum included) is unknown (docs/rounds.md). */
ULM_EXTERN double ulm_round_cost(const ulm_round *round);

/* The synthesis, or NULL when none was asked or it never started (the members' outcome was
 * a failure, the round was cancelled, or the prompt could not be built). */
ULM_EXTERN const ulm_response *ulm_round_synthesis(const ulm_round *round);

/* ---------------------------------------------------------------- Docker Model Runner */

/*
 * Managing the models of a Docker Model Runner: pull, list, load state, unload, remove,
 * preload. backend names a backend of the Docker Model Runner kind ("dmr", or one the
 * configuration declares or Docker Compose injected); NULL is the local one ("dmr"). Each
 * returns ULM_OK or an error class, with a one-line message in errbuf (may be NULL;
 * ULM_ERROR_SIZE bytes always suffice), secrets removed. docs/dmr.md describes them.
 */

#define ULM_PULL_PROGRESS_VERSION 1

/* Where a pull is; fields may be appended in later versions. */
typedef struct ulm_pull_progress {
    unsigned int version;   /* ULM_PULL_PROGRESS_VERSION */
    const char *model;      /* the model as asked */
    double percent;         /* 0 to 100 */
    uint64_t done_bytes;    /* downloaded so far, summed over the layers */
    uint64_t total_bytes;   /* the model's size; 0 until the runner said */
    size_t layers;          /* layers seen so far */
    size_t layers_done;
    int finished;           /* the last report: the pull succeeded */
    int cached;             /* with finished: nothing had to be downloaded */
} ulm_pull_progress;

/* Receives a pull's progress as the runner reports it; non-zero stops the pull
 * (ULM_ECANCELLED). Called on the thread that called ulm_dmr_pull(). */
typedef int (*ulm_pull_progress_fn)(const ulm_pull_progress *progress, void *payload);

/*
 * Pulls model into the runner, reporting progress to on_progress (may be NULL). A model
 * already pulled returns at once (one report, cached). cancel (may be NULL) stops it from
 * another thread or a signal handler; the runner keeps what it downloaded and resumes it
 * next time. A model that does not exist is ULM_EMODEL_NOT_FOUND.
 */
ULM_EXTERN int ulm_dmr_pull(ulm_client *client, const char *backend, const char *model,
                            ulm_pull_progress_fn on_progress, void *payload, ulm_cancel *cancel,
                            char *errbuf, size_t errbuf_size);

/* The models pulled into a runner, with what the runner knows of each. */
typedef struct ulm_dmr_models ulm_dmr_models;

/* Lists the runner's pulled models (`docker model ls`) into *out, read with the getters
 * below and freed with ulm_dmr_models_free() (NULL allowed). */
ULM_EXTERN int ulm_dmr_list(ulm_dmr_models **out, ulm_client *client, const char *backend,
                            char *errbuf, size_t errbuf_size);
ULM_EXTERN void ulm_dmr_models_free(ulm_dmr_models *models);
/* How many models the list holds. */
ULM_EXTERN size_t ulm_dmr_models_count(const ulm_dmr_models *models);
/* "sha256:..."; each string "" when the runner did not say, and for i out of range. */
ULM_EXTERN const char *ulm_dmr_models_id(const ulm_dmr_models *models, size_t i);
ULM_EXTERN size_t ulm_dmr_models_tag_count(const ulm_dmr_models *models, size_t i);
ULM_EXTERN const char *ulm_dmr_models_tag(const ulm_dmr_models *models, size_t i, size_t tag);
ULM_EXTERN const char *ulm_dmr_models_format(const ulm_dmr_models *models, size_t i);
ULM_EXTERN const char *ulm_dmr_models_quantization(const ulm_dmr_models *models, size_t i);
ULM_EXTERN const char *ulm_dmr_models_parameters(const ulm_dmr_models *models, size_t i);
ULM_EXTERN const char *ulm_dmr_models_architecture(const ulm_dmr_models *models, size_t i);
ULM_EXTERN const char *ulm_dmr_models_size(const ulm_dmr_models *models, size_t i);
/* The context window the model was packaged with; -1 when the runner did not say. */
ULM_EXTERN long ulm_dmr_models_context_size(const ulm_dmr_models *models, size_t i);

/* The runners a runner has loaded or is loading (`docker model ps`). */
typedef struct ulm_dmr_runners ulm_dmr_runners;

/* Lists the runner's runners into *out, read with the getters below and freed with
 * ulm_dmr_runners_free() (NULL allowed). */
ULM_EXTERN int ulm_dmr_ps(ulm_dmr_runners **out, ulm_client *client, const char *backend,
                          char *errbuf, size_t errbuf_size);
ULM_EXTERN void ulm_dmr_runners_free(ulm_dmr_runners *runners);
/* How many runners the list holds. */
ULM_EXTERN size_t ulm_dmr_runners_count(const ulm_dmr_runners *runners);
/* The model as the request that loaded it named it; "" for i out of range. */
ULM_EXTERN const char *ulm_dmr_runners_model(const ulm_dmr_runners *runners, size_t i);
/* The inference engine ("llama.cpp"). */
ULM_EXTERN const char *ulm_dmr_runners_engine(const ulm_dmr_runners *runners, size_t i);
/* "completion", "embedding", "reranking" or "image-generation". */
ULM_EXTERN const char *ulm_dmr_runners_mode(const ulm_dmr_runners *runners, size_t i);
ULM_EXTERN int ulm_dmr_runners_in_use(const ulm_dmr_runners *runners, size_t i);
ULM_EXTERN int ulm_dmr_runners_loading(const ulm_dmr_runners *runners, size_t i);
/* RFC 3339; "" while in use or loading. */
ULM_EXTERN const char *ulm_dmr_runners_last_used(const ulm_dmr_runners *runners, size_t i);
/* Its idle timeout ("10m0s", "-1" never); "" for the runner's default (5 minutes). */
ULM_EXTERN const char *ulm_dmr_runners_keep_alive(const ulm_dmr_runners *runners, size_t i);

/* Unloads model's idle runners, or every idle runner when model is NULL; *unloaded (may be
 * NULL) gets how many went. Runners serving a request stay. */
ULM_EXTERN int ulm_dmr_unload(ulm_client *client, const char *backend, const char *model,
                              long *unloaded, char *errbuf, size_t errbuf_size);

/* Removes a pulled model (force: also by ID when it has several tags). */
ULM_EXTERN int ulm_dmr_remove(ulm_client *client, const char *backend, const char *model,
                              int force, char *errbuf, size_t errbuf_size);

/*
 * Loads model now, so that the first request does not wait, and returns once it is loaded
 * (or failed to load). context_size (tokens; 0: the model's own, -1: unlimited) and
 * keep_alive ("10m", "-1" never, "0"; NULL: the runner's 5 minutes) configure its runner.
 */
ULM_EXTERN int ulm_dmr_preload(ulm_client *client, const char *backend, const char *model,
                               long context_size, const char *keep_alive, char *errbuf,
                               size_t errbuf_size);

/*
 * What backend's runner holds, for a metrics scrape beside ulm_client_metrics(), as
 * Prometheus text (docs/metrics.md#docker-model-runner): ulm_dmr_up; the models it holds in
 * memory, by state and one ulm_dmr_runner_info each (GET /engines/ps); the bytes its models
 * take on disk (GET /engines/df); and the runner's own metrics (GET /metrics: llama.cpp's
 * tokens and throughput) renamed ulm_dmr_runner_<name>; every series labelled
 * backend="<backend's name>". Writes what fits into buf, always NUL-terminated when
 * size > 0, and stores the length the whole text needs in *length (may be NULL), like
 * snprintf: with *length >= size, call again with a larger buf (the runner is asked
 * again). Returns ULM_OK; the error of GET /engines/ps, with ulm_dmr_up 0 written, when the
 * runner did not answer; or ULM_EINVAL, ULM_ENOT_CONFIGURED or ULM_ENOMEM with nothing
 * written. A part the runner does not answer (an older runner without /metrics) is left
 * out.
 */
ULM_EXTERN int ulm_dmr_metrics(ulm_client *client, const char *backend, char *buf, size_t size,
                               size_t *length, char *errbuf, size_t errbuf_size);

/* ---------------------------------------------------------------- models */

typedef struct ulm_model_list ulm_model_list;

/*
 * Asks every configured backend for the models it offers. A backend that fails does
 * not fail the call: its error is kept in the list. *out is NULL only on ULM_ENOMEM
 * or NULL arguments.
 */
ULM_EXTERN int ulm_list_models(ulm_model_list **out, ulm_client *client);
ULM_EXTERN void ulm_model_list_free(ulm_model_list *list);

/* The models the backends offer: backend i's name (as in model strings) and the model's
 * id, each model once per backend; NULL for i out of range. */
ULM_EXTERN size_t ulm_model_list_count(const ulm_model_list *list);
ULM_EXTERN const char *ulm_model_list_provider(const ulm_model_list *list, size_t i);
ULM_EXTERN const char *ulm_model_list_id(const ulm_model_list *list, size_t i);

/*
 * One entry per endpoint asked (a backend with several deployments has one per URL), in
 * the client's order, with its outcome, its base URL and how long it took to answer.
 */
ULM_EXTERN size_t ulm_model_list_backend_count(const ulm_model_list *list);
ULM_EXTERN const char *ulm_model_list_backend_name(const ulm_model_list *list, size_t i);
ULM_EXTERN const char *ulm_model_list_backend_url(const ulm_model_list *list, size_t i);
ULM_EXTERN double ulm_model_list_backend_ms(const ulm_model_list *list, size_t i);
ULM_EXTERN int ulm_model_list_backend_error(const ulm_model_list *list, size_t i);
ULM_EXTERN const char *ulm_model_list_backend_message(const ulm_model_list *list, size_t i);
/* The models endpoint i itself offers (ulm_model_list_id() lists a backend's models once,
 * whichever of its deployments offers them), in the order it named them; 0 and NULL for
 * an endpoint that failed and out of range. */
ULM_EXTERN size_t ulm_model_list_backend_model_count(const ulm_model_list *list, size_t i);
ULM_EXTERN const char *ulm_model_list_backend_model(const ulm_model_list *list, size_t i,
                                                    size_t k);

/* ---------------------------------------------------------------- metrics */

/* The formats ulm_client_metrics() writes. */
typedef enum ulm_metrics_format {
    ULM_METRICS_PROMETHEUS = 1, /* Prometheus text exposition format 0.0.4 */
    ULM_METRICS_JSON = 2        /* one JSON object holding the same numbers */
} ulm_metrics_format;

/* The Content-Type to serve ULM_METRICS_PROMETHEUS text with. */
#define ULM_METRICS_PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Writes the client's metrics (docs/metrics.md: requests, failures by error class,
 * fallbacks, latency and token histograms, requests in flight, queues, breakers) in format
 * into buf, always NUL-terminated when size > 0. Returns the length the whole text needs,
 * without the NUL, like snprintf; call again with a larger buf when it is >= size, with
 * some room to spare, since the numbers may have grown in between. Returns 0 for a NULL
 * client or an unknown format. Allocates nothing, takes no lock, and may be called while
 * other threads make calls: counters never go down, and each series is read once, so a
 * histogram's +Inf bucket always equals its count.
 */
ULM_EXTERN size_t ulm_client_metrics(ulm_client *client, int format, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ULTRALLM_H */
