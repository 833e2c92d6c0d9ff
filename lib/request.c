/* request.c - the request builder: messages, targets and sampling parameters, validated as set. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "utf8.h"

#define MAX_STOPS 4

typedef struct message {
    ulm_role role;
    char *content;
} message;

struct ulm_request {
    message *messages;
    size_t message_count, message_cap;
    char **models;
    size_t model_count, model_cap;
    char *stops[MAX_STOPS];
    size_t stop_count;
    unsigned int set; /* SET_* bits */
    double temperature, top_p;
    long max_tokens;
    int64_t seed;
    ulm_delta_fn on_delta;
    void *delta_payload;
    ulm_cancel *cancel;
    long timeouts[ULM_CLOCK_OVERALL + 1]; /* 0: the client's */
    ulm_backend_override *overrides;
    size_t override_count, override_cap;
    char **inputs;
    size_t input_count, input_cap;
    char error[200]; /* why the latest setter refused its argument; "" when it did not */
};

enum { SET_TEMPERATURE = 1, SET_TOP_P = 2, SET_MAX_TOKENS = 4, SET_SEED = 8 };

/* A setter refuses its argument: ULM_EINVAL, with the reason kept for
 * ulm_request_error_message(). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int refuse(ulm_request *req, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(req->error, sizeof req->error, format, args);
    va_end(args);
    return ULM_EINVAL;
}

/* Every setter starts here: a setter that succeeds leaves no message behind. */
static int begin(ulm_request *req)
{
    if (!req)
        return 0;
    req->error[0] = '\0';
    return 1;
}

/* Refuses text that is not valid UTF-8, naming what it is and the first bad byte. */
static int check_utf8(ulm_request *req, const char *what, const char *text)
{
    size_t n = strlen(text), bad = ulm__utf8_invalid_at(text, n);
    return bad == n ? ULM_OK : refuse(req, "%s is not valid UTF-8 (at byte %zu)", what, bad);
}

const char *ulm_request_error_message(const ulm_request *req)
{
    return req ? req->error : "";
}

int ulm_request_new(ulm_request **out)
{
    if (!out)
        return ULM_EINVAL;
    *out = ulm__calloc(1, sizeof **out);
    return *out ? ULM_OK : ULM_ENOMEM;
}

void ulm_request_free(ulm_request *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->message_count; i++)
        ulm__free(req->messages[i].content);
    ulm__free(req->messages);
    for (size_t i = 0; i < req->model_count; i++)
        ulm__free(req->models[i]);
    ulm__free(req->models);
    for (size_t i = 0; i < req->stop_count; i++)
        ulm__free(req->stops[i]);
    for (size_t i = 0; i < req->override_count; i++) {
        ulm__free(req->overrides[i].backend);
        ulm__free_secret(req->overrides[i].api_key);
        ulm__free(req->overrides[i].base_url);
    }
    ulm__free(req->overrides);
    for (size_t i = 0; i < req->input_count; i++)
        ulm__free(req->inputs[i]);
    ulm__free(req->inputs);
    ulm__free(req);
}

int ulm_request_add_input(ulm_request *req, const char *text)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!text || !*text)
        return refuse(req, "an input to embed may not be %s", text ? "empty" : "NULL");
    if (check_utf8(req, "the input", text) != ULM_OK)
        return ULM_EINVAL;
    if (ulm__reserve((void **)&req->inputs, &req->input_cap, req->input_count,
                     sizeof *req->inputs) != ULM_OK)
        return ULM_ENOMEM;
    if (!(req->inputs[req->input_count] = ulm__strdup(text)))
        return ULM_ENOMEM;
    req->input_count++;
    return ULM_OK;
}

size_t ulm_request_input_count(const ulm_request *req)
{
    return req ? req->input_count : 0;
}

const char *ulm_request_input(const ulm_request *req, size_t i)
{
    return req && i < req->input_count ? req->inputs[i] : NULL;
}

static int plain_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return 0;
    return 1;
}

int ulm_request_set_backend_override(ulm_request *req, const char *backend,
                                     const char *api_key, const char *base_url)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!backend || !*backend)
        return refuse(req, "a backend override needs a backend's name");
    if (!api_key && !base_url)
        return refuse(req, "the override of %.64s gives neither a key nor a base URL", backend);
    if (api_key && (!*api_key || !plain_text(api_key))) /* the key itself is never shown */
        return refuse(req, "the key of %.64s's override is %s", backend,
                      *api_key ? "not plain text (a control character)" : "empty");
    if (base_url && strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return refuse(req, "the base URL of %.64s's override is not http:// or https://",
                      backend);
    if (base_url && (!plain_text(base_url) || strchr(base_url, ' ')))
        return refuse(req, "the base URL of %.64s's override holds a space or control character",
                      backend);
    ulm_backend_override *o = NULL;
    for (size_t i = 0; i < req->override_count && !o; i++)
        if (strcmp(req->overrides[i].backend, backend) == 0)
            o = &req->overrides[i];
    if (!o) {
        if (ulm__reserve((void **)&req->overrides, &req->override_cap, req->override_count,
                         sizeof *req->overrides) != ULM_OK)
            return ULM_ENOMEM;
        o = &req->overrides[req->override_count];
        *o = (ulm_backend_override){.backend = ulm__strdup(backend)};
        if (!o->backend)
            return ULM_ENOMEM;
        req->override_count++;
    }
    char *key = api_key ? ulm__strdup(api_key) : NULL;
    char *url = base_url ? ulm__strdup(base_url) : NULL;
    if ((api_key && !key) || (base_url && !url)) {
        ulm__free_secret(key);
        ulm__free(url);
        return ULM_ENOMEM;
    }
    if (key) {
        ulm__free_secret(o->api_key);
        o->api_key = key;
    }
    if (url) {
        ulm__free(o->base_url);
        o->base_url = url;
    }
    return ULM_OK;
}

const ulm_backend_override *ulm__request_override(const ulm_request *req, const char *backend)
{
    for (size_t i = 0; i < req->override_count; i++)
        if (strcmp(req->overrides[i].backend, backend) == 0)
            return &req->overrides[i];
    return NULL;
}

static int add_one_model(ulm_request *req, const char *spec, size_t len)
{
    while (len && (*spec == ' ' || *spec == '\t'))
        spec++, len--;
    while (len && (spec[len - 1] == ' ' || spec[len - 1] == '\t'))
        len--;
    if (len == 0)
        return refuse(req, "a model string may not be empty (nor an entry of a comma-separated "
                           "list)");
    int rc = ulm__reserve((void **)&req->models, &req->model_cap, req->model_count,
                     sizeof *req->models);
    if (rc != ULM_OK)
        return rc;
    char *copy = ulm__strndup(spec, len);
    if (!copy)
        return ULM_ENOMEM;
    req->models[req->model_count++] = copy;
    return ULM_OK;
}

int ulm_request_add_model(ulm_request *req, const char *model)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!model || !*model)
        return refuse(req, "the model string is %s", model ? "empty" : "NULL");
    size_t before = req->model_count;
    for (const char *p = model;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = add_one_model(req, p, len);
        if (rc != ULM_OK) {
            /* all or nothing: a list with one bad entry adds none of it */
            while (req->model_count > before)
                ulm__free(req->models[--req->model_count]);
            return rc;
        }
        if (!comma)
            return ULM_OK;
        p = comma + 1;
    }
}

int ulm_request_add_message(ulm_request *req, ulm_role role, const char *content)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (role < ULM_ROLE_SYSTEM || role > ULM_ROLE_ASSISTANT)
        return refuse(req, "role %d is not a ulm_role: ULM_ROLE_SYSTEM (1) to "
                           "ULM_ROLE_ASSISTANT (3)", (int)role);
    if (!content)
        return refuse(req, "a message's content may not be NULL");
    if (check_utf8(req, "the message's content", content) != ULM_OK)
        return ULM_EINVAL;
    int rc = ulm__reserve((void **)&req->messages, &req->message_cap, req->message_count,
                     sizeof *req->messages);
    if (rc != ULM_OK)
        return rc;
    char *copy = ulm__strdup(content);
    if (!copy)
        return ULM_ENOMEM;
    req->messages[req->message_count].role = role;
    req->messages[req->message_count].content = copy;
    req->message_count++;
    return ULM_OK;
}

int ulm_request_set_temperature(ulm_request *req, double temperature)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!isfinite(temperature) || temperature < 0.0 || temperature > 2.0)
        return refuse(req, "temperature %g is out of range: 0 to 2", temperature);
    req->temperature = temperature;
    req->set |= SET_TEMPERATURE;
    return ULM_OK;
}

int ulm_request_set_top_p(ulm_request *req, double top_p)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!isfinite(top_p) || top_p < 0.0 || top_p > 1.0)
        return refuse(req, "top_p %g is out of range: 0 to 1", top_p);
    req->top_p = top_p;
    req->set |= SET_TOP_P;
    return ULM_OK;
}

int ulm_request_set_max_tokens(ulm_request *req, long max_tokens)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (max_tokens < 1)
        return refuse(req, "max_tokens %ld is out of range: 1 or more", max_tokens);
    req->max_tokens = max_tokens;
    req->set |= SET_MAX_TOKENS;
    return ULM_OK;
}

int ulm_request_set_on_delta(ulm_request *req, ulm_delta_fn on_delta, void *payload)
{
    if (!begin(req))
        return ULM_EINVAL;
    req->on_delta = on_delta;
    req->delta_payload = on_delta ? payload : NULL;
    return ULM_OK;
}

int ulm_request_set_timeout(ulm_request *req, ulm_clock clock, long ms)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (clock < ULM_CLOCK_CONNECT || clock > ULM_CLOCK_OVERALL)
        return refuse(req, "clock %d is not a ulm_clock: ULM_CLOCK_CONNECT (1) to "
                           "ULM_CLOCK_OVERALL (5)", (int)clock);
    if (ms < 1 || ms > ULM_MAX_TIMEOUT_MS)
        return refuse(req, "%ld ms is out of range for a clock: 1 to %ld", ms,
                      (long)ULM_MAX_TIMEOUT_MS);
    req->timeouts[clock] = ms;
    return ULM_OK;
}

ulm_request *ulm__request_with_defaults(const ulm_request *req, int has_temperature,
                                        double temperature, long max_tokens)
{
    ulm_request *view = ulm__malloc(sizeof *view);
    if (!view)
        return NULL;
    *view = *req; /* shares messages, models and stops: read only, never freed through view */
    if (has_temperature && !(req->set & SET_TEMPERATURE)) {
        view->temperature = temperature;
        view->set |= SET_TEMPERATURE;
    }
    if (max_tokens > 0 && !(req->set & SET_MAX_TOKENS)) {
        view->max_tokens = max_tokens;
        view->set |= SET_MAX_TOKENS;
    }
    return view;
}

int ulm_request_set_cancel(ulm_request *req, ulm_cancel *cancel)
{
    if (!begin(req))
        return ULM_EINVAL;
    req->cancel = cancel;
    return ULM_OK;
}

ulm_cancel *ulm__request_cancel(const ulm_request *req)
{
    return req->cancel;
}

int ulm__request_copy_parameters(const ulm_request *from, ulm_request *to)
{
    int rc = ULM_OK;
    if (from->set & SET_TEMPERATURE)
        rc = ulm_request_set_temperature(to, from->temperature);
    if (rc == ULM_OK && (from->set & SET_TOP_P))
        rc = ulm_request_set_top_p(to, from->top_p);
    if (rc == ULM_OK && (from->set & SET_MAX_TOKENS))
        rc = ulm_request_set_max_tokens(to, from->max_tokens);
    if (rc == ULM_OK && (from->set & SET_SEED))
        rc = ulm_request_set_seed(to, from->seed);
    for (size_t i = 0; rc == ULM_OK && i < from->stop_count; i++)
        rc = ulm_request_add_stop(to, from->stops[i]);
    return rc;
}

int ulm__request_copy_call_settings(const ulm_request *from, ulm_request *to)
{
    memcpy(to->timeouts, from->timeouts, sizeof to->timeouts);
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < from->override_count; i++) {
        const ulm_backend_override *o = &from->overrides[i];
        rc = ulm_request_set_backend_override(to, o->backend, o->api_key, o->base_url);
    }
    return rc;
}

ulm_delta_fn ulm__request_on_delta(const ulm_request *req, void **payload)
{
    *payload = req->delta_payload;
    return req->on_delta;
}

void ulm__request_timeouts(const ulm_request *req, const ulm_timeouts *base, ulm_timeouts *out)
{
    *out = *base;
    for (int i = ULM_CLOCK_CONNECT; i <= ULM_CLOCK_OVERALL; i++)
        if (req->timeouts[i])
            out->ms[i] = req->timeouts[i];
}

int ulm_request_set_seed(ulm_request *req, int64_t seed)
{
    if (!begin(req))
        return ULM_EINVAL;
    req->seed = seed;
    req->set |= SET_SEED;
    return ULM_OK;
}

int ulm_request_add_stop(ulm_request *req, const char *stop)
{
    if (!begin(req))
        return ULM_EINVAL;
    if (!stop || !*stop)
        return refuse(req, "a stop sequence may not be %s", stop ? "empty" : "NULL");
    if (req->stop_count == MAX_STOPS)
        return refuse(req, "a request takes at most %d stop sequences", MAX_STOPS);
    if (check_utf8(req, "the stop sequence", stop) != ULM_OK)
        return ULM_EINVAL;
    char *copy = ulm__strdup(stop);
    if (!copy)
        return ULM_ENOMEM;
    req->stops[req->stop_count++] = copy;
    return ULM_OK;
}

size_t ulm_request_message_count(const ulm_request *req)
{
    return req ? req->message_count : 0;
}

ulm_role ulm_request_message_role(const ulm_request *req, size_t i)
{
    return req && i < req->message_count ? req->messages[i].role : (ulm_role)0;
}

const char *ulm_request_message_content(const ulm_request *req, size_t i)
{
    return req && i < req->message_count ? req->messages[i].content : NULL;
}

int ulm_request_temperature(const ulm_request *req, double *out)
{
    if (!req || !(req->set & SET_TEMPERATURE))
        return 0;
    if (out)
        *out = req->temperature;
    return 1;
}

int ulm_request_top_p(const ulm_request *req, double *out)
{
    if (!req || !(req->set & SET_TOP_P))
        return 0;
    if (out)
        *out = req->top_p;
    return 1;
}

int ulm_request_max_tokens(const ulm_request *req, long *out)
{
    if (!req || !(req->set & SET_MAX_TOKENS))
        return 0;
    if (out)
        *out = req->max_tokens;
    return 1;
}

int ulm_request_seed(const ulm_request *req, int64_t *out)
{
    if (!req || !(req->set & SET_SEED))
        return 0;
    if (out)
        *out = req->seed;
    return 1;
}

size_t ulm_request_stop_count(const ulm_request *req)
{
    return req ? req->stop_count : 0;
}

const char *ulm_request_stop(const ulm_request *req, size_t i)
{
    return req && i < req->stop_count ? req->stops[i] : NULL;
}

size_t ulm__request_model_count(const ulm_request *req)
{
    return req->model_count;
}

const char *ulm__request_model(const ulm_request *req, size_t i)
{
    return i < req->model_count ? req->models[i] : NULL;
}
