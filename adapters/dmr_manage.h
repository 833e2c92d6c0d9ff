/* dmr_manage.h - Docker Model Runner's model lifecycle as translation: the requests to send and what the answers say. */
#ifndef ULM_ADAPTERS_DMR_MANAGE_H
#define ULM_ADAPTERS_DMR_MANAGE_H

#include <stdint.h>

#include <jansson.h>

#include "wire.h"

/*
 * Pull, list, show, remove, ps, unload, configure, preload, df, status, version and the
 * banner, without a socket: the core sends what a builder describes and hands the answer to
 * the matching parser. Facts from docker/model-runner (pkg/inference/models,
 * pkg/inference/scheduling, pkg/distribution) as ../shared/design/DMR-API.md records them.
 *
 * ROOTS. Every path built here is relative to the runner's ROOT, the URL that answers
 * "GET /" with the banner: "http://localhost:12434", not the OpenAI root
 * "http://localhost:12434/engines/v1" that chat uses (the DMR provider's base URL).
 * ulm__dmr_root_length() finds the root inside an OpenAI root, whichever of DMR's spellings
 * it has (".../engines/v1", ".../engines/llama.cpp/v1", Compose's ".../v1/").
 *
 * NAMES. A name is turned into the reference DMR's model routes take by
 * ulm__dmr_reference(): an ID ("sha256:<64 hex>", or 12 or 64 bare hex digits, which DMR
 * tries as an ID first) as given, else the name normalized by ulm__dmr_normalize_model
 * ("smollm2" -> "ai/smollm2:latest"). References hold only [A-Za-z0-9._/:@-], which a URL
 * path carries as they are: DMR's routes take the name with its slashes unescaped
 * ("/models/{name...}"), as Docker's CLI sends it. A pull alone sends the name as written,
 * once checked: DMR keeps the original case of a Hugging Face reference for the Hub's API.
 *
 * BUILDERS fill out through provider.h's setters and return ULM_OK, ULM_EINVAL (a name or
 * argument DMR would refuse: nothing to send) or ULM_ENOMEM. After a failure out may hold
 * part of a request: the caller clears it as after any build.
 *
 * PARSERS take the answer's status and body and return ULM_OK with *out filled, to be
 * freed with its _clear function; or a negative class (the ULM_E codes of ultrallm.h) with
 * *error saying why and *out left empty, with nothing to free. Any 2xx is a success;
 * another status is classified by ulm__dmr_error_of(). A success whose body is not what
 * DMR sends is ULM_EPROTOCOL. ULM_ENOMEM: memory ran out.
 *
 * MEMORY. What this file allocates comes from the library's allocator through ulm_text
 * (the allocator's public door), so the tests that fail each allocation in turn reach all
 * of it; everything is freed with free() by the _clear functions. jansson allocates on its
 * own: a body jansson cannot read for lack of memory reads as malformed (ULM_EPROTOCOL), as
 * in every adapter.
 */

/* ------------------------------------------------ calls and their failures */

/* The runner's endpoints, for classifying their failures (and for ulm__dmr_build_get). */
typedef enum ulm_dmr_call {
    ULM_DMR_BANNER = 1,    /* GET /: "Docker Model Runner is running" */
    ULM_DMR_VERSION,       /* GET /version */
    ULM_DMR_STATUS,        /* GET /engines/status: each inference backend's state */
    ULM_DMR_DISK_USAGE,    /* GET /engines/df */
    ULM_DMR_PS,            /* GET /engines/ps: loaded and loading runners */
    ULM_DMR_MODELS,        /* GET /models: pulled models, every tag and the config */
    ULM_DMR_OPENAI_MODELS, /* GET /engines/v1/models: one entry a model, with "dmr" */
    ULM_DMR_MODEL,         /* GET /models/{reference} */
    ULM_DMR_PULL,          /* POST /models/create, a progress stream */
    ULM_DMR_REMOVE,        /* DELETE /models/{reference}[?force=true] */
    ULM_DMR_UNLOAD,        /* POST /engines/unload */
    ULM_DMR_CONFIGURE,     /* POST /engines/_configure: 202, preloads in the background */
    ULM_DMR_PRELOAD,       /* POST /engines/v1/{chat/completions|embeddings} X-Preload-Only */
    ULM_DMR_INFERENCE,     /* chat, completions, embeddings (dmr.c) */
    ULM_DMR_METRICS        /* GET /metrics: the runners' llama.cpp metrics, Prometheus text */
} ulm_dmr_call;

/* Why a call failed. */
typedef struct ulm_dmr_error {
    int code;         /* the class (ULM_E...); ULM_OK when nothing failed */
    const char *text; /* the runner's words, pointing into the body (not NUL-terminated, valid
                         as long as the body), or a reason of ours (static); NULL: none */
    size_t length;    /* bytes of text */
} ulm_dmr_error;

/*
 * Classifies an answer to call whose status is not 2xx: DMR answers with Go's http.Error,
 * the words and "\n" in text/plain (a few older answers are JSON). error->text gets the body
 * without its line end; an empty 502 (DMR's proxy failing) gets an explanation of ours.
 * Returns error->code:
 *   400, 422                                    ULM_EBAD_REQUEST
 *   401 of a pull                               ULM_EMODEL_NOT_FOUND: Docker Hub answers 401
 *     for a repository that does not exist (or is private), and DMR holds no credentials
 *     of ours; ULM_EAUTH would send the user after an API key that does not exist.
 *   401, 403 of another call                    ULM_EAUTH (a proxy in front of DMR)
 *   404 "model not found" (any case), or any 404 of a pull, show, remove, preload or
 *     inference                                 ULM_EMODEL_NOT_FOUND
 *   404 "backend not found"                     ULM_EUNSUPPORTED
 *   404 "not found" / "404 page not found" of another call, 405
 *                                               ULM_EUNSUPPORTED: a runner without that
 *                                               endpoint (older, or not DMR)
 *   409 of configure ("runner already active")  ULM_EBUSY: the model's runner is serving a
 *     request, so its configuration cannot change now; it can once idle. Not
 *     ULM_EUNAVAILABLE, which would count against the whole runner's circuit.
 *   409 of remove ("must be forced")            ULM_EBAD_REQUEST: only ?force=true can do it
 *   412                                         ULM_EMODEL_LOAD (inference backend missing)
 *   500 "unable to load runner"                 ULM_EMODEL_LOAD
 *   503 "Loading model" (older runners)         ULM_EMODEL_LOADING
 *   503                                         ULM_EUNAVAILABLE
 *   other 5xx                                   ULM_ESERVER
 */
ULM_HIDDEN int ulm__dmr_error_of(ulm_dmr_error *error, ulm_dmr_call call, int status,
                                 const char *body, size_t length);

/* The class of the words DMR gave with status for call, refining generic (the class the
 * status alone gives, or what an earlier reading found); the rules of ulm__dmr_error_of. */
ULM_HIDDEN int ulm__dmr_error_class(ulm_dmr_call call, int status, int generic, const char *words,
                                    size_t length);

/* ------------------------------------------------ roots and names */

/* The length of the runner's root at the start of url, an OpenAI root or the root itself:
 * trailing slashes, "/v1" and then "/engines" or "/engines/<backend>" are left out. */
ULM_HIDDEN size_t ulm__dmr_root_length(const char *url);

/* The reference for name in buf (see NAMES above); ULM_EINVAL for a name DMR would refuse
 * or a buf too small (256 bytes are always enough). */
ULM_HIDDEN int ulm__dmr_reference(const char *name, char *buf, size_t buf_size);

/* 1 when a and b are the same reference once normalized ("smollm2" and
 * "ai/smollm2:latest"; "storyteller:v2" and "ai/storyteller:v2"), else 0. Two tags of one
 * model are different names: ulm__dmr_models_find() maps both to the model. */
ULM_HIDDEN int ulm__dmr_same_model(const char *a, const char *b);

/* ------------------------------------------------ requests */

/* GET of an endpoint without arguments: ULM_DMR_BANNER, _VERSION, _STATUS, _DISK_USAGE,
 * _PS, _MODELS, _OPENAI_MODELS, _METRICS; ULM_EINVAL for the others. */
ULM_HIDDEN int ulm__dmr_build_get(ulm_http_request *out, ulm_dmr_call call);

/* GET /models/{reference}: one pulled model (ulm__dmr_parse_model). */
ULM_HIDDEN int ulm__dmr_build_model(ulm_http_request *out, const char *name);

/* POST /models/create {"from": name} with "Accept: application/json", so that the progress
 * lines come raw, not HTML-escaped. Go compares that header exactly: the core must send no
 * other Accept value before it (Go reads the first). The answer: ulm__dmr_pull_read(). */
ULM_HIDDEN int ulm__dmr_build_pull(ulm_http_request *out, const char *name);

/* DELETE /models/{reference}, with ?force=true when force (needed to delete by ID a model
 * that has several tags). Never /models/purge: that wipes the store. */
ULM_HIDDEN int ulm__dmr_build_remove(ulm_http_request *out, const char *name, int force);

/* POST /engines/unload: {"all":true} when count is 0, else {"models":[references]}. Only
 * idle runners go; those serving a request stay (the answer counts what went). */
ULM_HIDDEN int ulm__dmr_build_unload(ulm_http_request *out, const char *const *names, size_t count);

/* What POST /engines/_configure sets for a model's runner. */
typedef struct ulm_dmr_configure {
    const char *model;      /* required */
    long context_size;      /* tokens; 0: not sent (the model's own); -1: unlimited */
    const char *keep_alive; /* NULL: not sent (5 minutes); "0" unload at once, "-1" never,
                               else a Go duration ("10m", "1h30m") */
    const char *mode;       /* NULL: not sent (completion); "completion", "embedding",
                               "reranking" or "image-generation" */
} ulm_dmr_configure;

/*
 * POST /engines/_configure {"model", "mode"?, "context-size"?, "keep_alive"?}. DMR stores
 * the configuration (replacing the runner if it is idle; 409 if it is busy), answers 202 at
 * once and starts loading in the background, silently: a model that is not pulled, or
 * fails to load, still gets 202. ulm__dmr_parse_done() reads the answer.
 */
ULM_HIDDEN int ulm__dmr_build_configure(ulm_http_request *out, const ulm_dmr_configure *config);

/*
 * Loads name without generating: POST /engines/v1/chat/completions {"model", "messages":[]}
 * (mode NULL or "completion") or /engines/v1/embeddings {"model", "input":[]} ("embedding")
 * with "X-Preload-Only: true", as Docker's CLI does. DMR answers 200 with an empty body once
 * the runner is loaded, or the error that stopped it (404 not pulled, 500 load failure).
 * ULM_EINVAL for another mode. ulm__dmr_parse_done() reads the answer.
 *
 * `preload` should send this: it waits for the load and reports its failure, which
 * _configure never does. With a context size or keep-alive, send _configure first (202),
 * then this (it joins the runner _configure started). _configure without either would
 * reset a configuration set earlier, so `preload` alone never sends it.
 */
ULM_HIDDEN int ulm__dmr_build_preload(ulm_http_request *out, const char *name, const char *mode);

/* ------------------------------------------------ the pull's progress stream */

/* The longest line the pull reader takes (a progress line is about 300 bytes). */
#define ULM_DMR_PULL_MAX_LINE ((size_t)1 << 20)

typedef enum ulm_dmr_pull_kind {
    ULM_DMR_PULL_PROGRESS = 1,
    ULM_DMR_PULL_SUCCESS,
    ULM_DMR_PULL_WARNING,
    ULM_DMR_PULL_ERROR,
    ULM_DMR_PULL_OTHER /* a type this reader does not know: nothing to do */
} ulm_dmr_pull_kind;

/* One line of the stream. Its strings belong to the reader until its next call. */
typedef struct ulm_dmr_pull_line {
    ulm_dmr_pull_kind kind;
    int code;            /* ULM_DMR_PULL_ERROR: its class; else ULM_OK */
    int raw;             /* 1: not a progress message but the handler's error text, which
                            DMR writes unescaped after the stream (see the reader) */
    const char *message; /* NUL-terminated, "" when none; message_length bytes (it may
                            hold a NUL). DMR: not for display on progress lines. */
    size_t message_length;
    uint64_t total;         /* bytes of all the model's layers; 0 when the line gives none */
    const char *layer_id;   /* "" when the line names no layer (success, error, and the
                               Hugging Face steps such as "Fetching file list...") */
    uint64_t layer_size;    /* that layer's bytes */
    uint64_t layer_current; /* that layer's bytes so far */
} ulm_dmr_pull_line;

/*
 * Reads the body of a 200 answer to a pull, in pieces cut anywhere: inside a line, a UTF-8
 * character or an HTML escape. Each line is one JSON object ending in "\n" (CR LF and
 * empty lines are taken too). Under Content-Type application/json the lines are raw; under
 * text/plain (no exact "Accept: application/json" was sent) each line went through Go's
 * html.EscapeString, whose five escapes are undone (&lt; &gt; &amp; &#39; &#34;).
 *
 * When a pull fails after the stream began, the status stays 200: DMR sends an "error"
 * line, then its handler's http.Error writes the wrapped error as plain, unescaped text,
 * "error while pulling model: ...", possibly on several lines (errors.Join). A line that is
 * not JSON after a JSON line is that text: an error line with raw = 1, classified by its
 * words (ulm__dmr_error_class with status 0: "Model not found" / "Unauthorized" ->
 * ULM_EMODEL_NOT_FOUND, "Invalid model reference" -> ULM_EBAD_REQUEST, else ULM_ESERVER);
 * the lines after it continue it and keep its class. A line that starts like JSON but is
 * not, a JSON value that is not an object with a string "type", or text before any JSON
 * line is an error line of class ULM_EPROTOCOL with a reason of ours.
 *
 * The fields of a reader are its own; start with ulm__dmr_pull_reader_init(), end with
 * ulm__dmr_pull_reader_clear().
 */
typedef struct ulm_dmr_pull_reader {
    int escaped;        /* the lines are HTML-escaped */
    int json_seen;      /* a JSON line came: text lines after it are the handler's words */
    int raw_code;       /* the class of the handler's first text line; ULM_OK before it */
    int failed;         /* ULM_ETOO_LARGE or ULM_ENOMEM: the reader takes nothing more */
    ulm_text line;      /* the line being read, without its "\n" */
    ulm_text unescaped; /* the line with its HTML escapes undone */
    json_t *held;       /* the JSON of the line handed out last */
} ulm_dmr_pull_reader;

/* content_type: the answer's Content-Type ("" or NULL: text/plain). */
ULM_HIDDEN void ulm__dmr_pull_reader_init(ulm_dmr_pull_reader *r, const char *content_type);

/*
 * Takes the bytes of data up to the end of the next line and sets *used to how many it
 * took; call again with the rest. Returns 1 when a line ended (*line filled), 0 when all of
 * data was taken inside a line, ULM_ETOO_LARGE for a line longer than
 * ULM_DMR_PULL_MAX_LINE, ULM_ENOMEM. After a failure every call returns it again.
 */
ULM_HIDDEN int ulm__dmr_pull_read(ulm_dmr_pull_reader *r, const char *data, size_t length,
                                  size_t *used, ulm_dmr_pull_line *line);

ULM_HIDDEN void ulm__dmr_pull_reader_clear(ulm_dmr_pull_reader *r);

typedef enum ulm_dmr_pull_state {
    ULM_DMR_PULL_RUNNING = 0,
    ULM_DMR_PULL_SUCCEEDED,
    ULM_DMR_PULL_FAILED
} ulm_dmr_pull_state;

/* One layer's progress. */
typedef struct ulm_dmr_pull_layer {
    char *id;         /* its digest, "sha256:..." */
    uint64_t size;    /* its bytes */
    uint64_t current; /* the latest bytes so far it reported */
} ulm_dmr_pull_layer;

/*
 * The whole pull, from its lines. Layers download side by side, each reporting its own
 * bytes: done is the sum of each layer's latest current, against total, the sum of ALL the
 * model's layers. A layer already in the store (shared with another model, or finished by
 * an earlier pull) reports nothing, so done may stay below total until success, which
 * means 100%. A resumed layer starts at the bytes it already had. A model already pulled
 * answers one success line ("Using cached model: ...") and nothing else: cached.
 *
 * Start from {0}; free with ulm__dmr_pull_progress_clear().
 */
typedef struct ulm_dmr_pull_progress {
    uint64_t total;        /* the latest total a progress line gave; 0 until one did */
    uint64_t done;         /* the sum over layers of their latest current */
    size_t layers_done;    /* layers whose current reached their size */
    size_t progress_lines; /* progress lines read */
    ulm_dmr_pull_state state;
    int cached;          /* SUCCEEDED with no progress line: nothing was downloaded (the
                            model was already pulled, or every layer was in the store) */
    int error;           /* FAILED: the class of error_text's words */
    ulm_text error_text; /* FAILED: the runner's words: the handler's text when it came (it
                            holds the whole chain of causes), else the first error line's */
    int text_raw;        /* error_text is the handler's text */
    ulm_text layers;     /* the ulm_dmr_pull_layer of each layer seen, in order of arrival */
} ulm_dmr_pull_progress;

/* Counts line in. ULM_OK or ULM_ENOMEM. An error line fails the pull even after success:
 * DMR's handler writes one when, say, tagging a cached model failed. */
ULM_HIDDEN int ulm__dmr_pull_progress_add(ulm_dmr_pull_progress *p, const ulm_dmr_pull_line *line);

/* The number of layers seen, and the i-th of them (i below that number). */
ULM_HIDDEN size_t ulm__dmr_pull_layer_count(const ulm_dmr_pull_progress *p);
ULM_HIDDEN const ulm_dmr_pull_layer *ulm__dmr_pull_layer(const ulm_dmr_pull_progress *p, size_t i);

/* 0 to 100: 100 once succeeded; done against total while running (0 while total is not
 * known); where it stopped once failed. */
ULM_HIDDEN double ulm__dmr_pull_progress_percent(const ulm_dmr_pull_progress *p);

/*
 * The pull's outcome at the end of the body: ULM_OK when it succeeded; the class and words
 * of its failure; ULM_EPROTOCOL when the body ended before a success or error line, or
 * inside a line (the connection was cut). *error says why.
 */
ULM_HIDDEN int ulm__dmr_pull_end(ulm_dmr_error *error, const ulm_dmr_pull_reader *r,
                                 const ulm_dmr_pull_progress *p);

ULM_HIDDEN void ulm__dmr_pull_progress_clear(ulm_dmr_pull_progress *p);

/* ------------------------------------------------ pulled models */

/* One model of GET /models or GET /models/{reference}; every field is optional. */
typedef struct ulm_dmr_model {
    char *id;    /* "sha256:...", NULL when absent */
    char **tags; /* its names as DMR stores them ("ai/smollm2:latest") */
    size_t tag_count;
    int64_t created;    /* Unix seconds; -1 when absent */
    char *format;       /* config: "gguf", "safetensors" ...; each NULL when absent */
    char *quantization; /* "Q4_K_M", "MOSTLY_F32" */
    char *parameters;   /* "361.82M" */
    char *architecture; /* "llama" */
    char *size;         /* "256.35MiB" */
    long context_size;  /* the context the model was packaged with; -1 when absent */
} ulm_dmr_model;

typedef struct ulm_dmr_model_list {
    ulm_dmr_model *items;
    size_t count;
} ulm_dmr_model_list;

/* GET /models (an array, [] or null when none). */
ULM_HIDDEN int ulm__dmr_parse_models(ulm_dmr_model_list *out, ulm_dmr_error *error, int status,
                                     const char *body, size_t length);
/* GET /models/{reference}; 404 "model not found" when it is not pulled. */
ULM_HIDDEN int ulm__dmr_parse_model(ulm_dmr_model *out, ulm_dmr_error *error, int status,
                                    const char *body, size_t length);
/* The model one of whose tags, or whose ID, is name; NULL when none is. */
ULM_HIDDEN const ulm_dmr_model *ulm__dmr_models_find(const ulm_dmr_model_list *list,
                                                     const char *name);
ULM_HIDDEN void ulm__dmr_model_clear(ulm_dmr_model *model);
ULM_HIDDEN void ulm__dmr_model_list_clear(ulm_dmr_model_list *list);

/* One entry of GET /engines/v1/models: a model under its FIRST tag only. */
typedef struct ulm_dmr_openai_model {
    char *id;            /* the first tag, or the ID of an untagged model */
    int64_t created;     /* Unix seconds; -1 when absent */
    long context_window; /* dmr.context_window; -1 when absent (older runners have no dmr) */
    char *architecture;  /* dmr's; each NULL when absent */
    char *parameters;
    char *quantization;
    char *size;
} ulm_dmr_openai_model;

typedef struct ulm_dmr_openai_model_list {
    ulm_dmr_openai_model *items;
    size_t count;
} ulm_dmr_openai_model_list;

ULM_HIDDEN int ulm__dmr_parse_openai_models(ulm_dmr_openai_model_list *out, ulm_dmr_error *error,
                                            int status, const char *body, size_t length);
/* The context window the list gives name, -1 when it gives none. A second tag of a model
 * is not listed: GET /models (context_size, every tag) answers for those. */
ULM_HIDDEN long ulm__dmr_context_window(const ulm_dmr_openai_model_list *list, const char *name);
ULM_HIDDEN void ulm__dmr_openai_model_list_clear(ulm_dmr_openai_model_list *list);

/* ------------------------------------------------ runners */

/*
 * One runner of GET /engines/ps: loaded ones first, then those loading. A model absent
 * from the list is not loaded: its first request loads it (the full load budget). A
 * runner loading is on its way (what is left of it); one loaded, not loading, is ready
 * (no load budget).
 */
typedef struct ulm_dmr_runner {
    char *backend;      /* "llama.cpp" */
    char *model;        /* the reference as the request that loaded it wrote it, NOT
                           normalized ("storyteller:v2"): compare with ulm__dmr_same_model */
    char *mode;         /* "completion", "embedding", "reranking", "image-generation" */
    char *last_used;    /* RFC 3339, as sent; "" when absent */
    int last_used_zero; /* last_used is Go's zero time, 0001-01-01T00:00:00Z: the runner is
                           in use or loading, so it has no idle time (not "never used") */
    int in_use;         /* serving a request; omitted by DMR when false */
    int loading;        /* being loaded; omitted when false */
    char *keep_alive;   /* its own idle timeout ("10m0s", "-1" never); NULL: the default, 5m */
} ulm_dmr_runner;

typedef struct ulm_dmr_runner_list {
    ulm_dmr_runner *items;
    size_t count;
} ulm_dmr_runner_list;

ULM_HIDDEN int ulm__dmr_parse_ps(ulm_dmr_runner_list *out, ulm_dmr_error *error, int status,
                                 const char *body, size_t length);
/* The first runner of name (ulm__dmr_same_model) in mode (NULL: any); NULL when none. */
ULM_HIDDEN const ulm_dmr_runner *ulm__dmr_runners_find(const ulm_dmr_runner_list *list,
                                                       const char *name, const char *mode);
ULM_HIDDEN void ulm__dmr_runner_list_clear(ulm_dmr_runner_list *list);

/* POST /engines/unload: {"unloaded_runners": N} into *unloaded. */
ULM_HIDDEN int ulm__dmr_parse_unload(long *unloaded, ulm_dmr_error *error, int status,
                                     const char *body, size_t length);

/* configure (202) and preload (200): a success has no body to read. */
ULM_HIDDEN int ulm__dmr_parse_done(ulm_dmr_error *error, ulm_dmr_call call, int status,
                                   const char *body, size_t length);

/* ------------------------------------------------ removal */

/* One step of DELETE /models/{reference}: a tag removed, or the model itself deleted
 * (once its last tag went). */
typedef struct ulm_dmr_removal {
    int deleted; /* 0: {"Untagged": ref}; 1: {"Deleted": "sha256:..."} */
    char *ref;
} ulm_dmr_removal;

typedef struct ulm_dmr_removal_list {
    ulm_dmr_removal *items;
    size_t count;
} ulm_dmr_removal_list;

ULM_HIDDEN int ulm__dmr_parse_remove(ulm_dmr_removal_list *out, ulm_dmr_error *error, int status,
                                     const char *body, size_t length);
ULM_HIDDEN void ulm__dmr_removal_list_clear(ulm_dmr_removal_list *list);

/* ------------------------------------------------ the runner itself */

/* GET /: ULM_OK when the body is DMR's banner, else ULM_EPROTOCOL (something else answers
 * there): the discovery probe. */
ULM_HIDDEN int ulm__dmr_parse_banner(ulm_dmr_error *error, int status, const char *body,
                                     size_t length);

/* GET /version: {"version": "..."} into *version (free() it). */
ULM_HIDDEN int ulm__dmr_parse_version(char **version, ulm_dmr_error *error, int status,
                                      const char *body, size_t length);

/* GET /engines/df, in bytes. */
typedef struct ulm_dmr_disk_usage {
    int64_t models;          /* models_disk_usage */
    int64_t default_backend; /* default_backend_disk_usage */
} ulm_dmr_disk_usage;

ULM_HIDDEN int ulm__dmr_parse_disk_usage(ulm_dmr_disk_usage *out, ulm_dmr_error *error, int status,
                                         const char *body, size_t length);

/* GET /engines/status: each inference backend and its state, sorted by name. */
typedef struct ulm_dmr_backend {
    char *name;  /* "llama.cpp", "vllm" */
    char *state; /* "Running: llama.cpp b6000", "Not Installed", "Error: ..." */
} ulm_dmr_backend;

typedef struct ulm_dmr_backend_list {
    ulm_dmr_backend *items;
    size_t count;
} ulm_dmr_backend_list;

ULM_HIDDEN int ulm__dmr_parse_status(ulm_dmr_backend_list *out, ulm_dmr_error *error, int status,
                                     const char *body, size_t length);
ULM_HIDDEN void ulm__dmr_backend_list_clear(ulm_dmr_backend_list *list);

#endif /* ULM_ADAPTERS_DMR_MANAGE_H */
