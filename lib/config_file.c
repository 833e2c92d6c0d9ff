/* config_file.c - reads the JSON configuration file into a ulm_file_config, refusing anything unknown, out of range or secret. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config_file.h"
#include "json_locate.h"
#include "synthesis_prompt.h"

#define MAX_DELAY_MS 600000L /* ten minutes: a longer backoff is an outage, not a retry */

/* The deepest path a message names: backends.NAME.urls[i]. */
#define MAX_DEPTH 4

#define KEEP_KEYS_OUT "put it in an environment variable and name that in api_key_env"

/* The walk over the parsed tree; path is where it is, for messages. */
typedef struct walk {
    const char *text;
    size_t length;
    const char *source;
    const char *const *known_types;
    const char *const *builtin_backends;
    json_t *backends; /* the sections others refer to, whatever order the file has */
    json_t *models;
    ulm_json_step path[MAX_DEPTH];
    size_t depth;
    char *errbuf;
    size_t errbuf_size;
} walk;

/* ---------------------------------------------------------------- messages */

/* "SOURCE:LINE: PATH: what"; the line is the one of the value at the whole path, while
 * only the first shown steps are written (a name that must not be shown is left out). */
static int vfail(walk *w, size_t shown, const char *fmt, va_list ap)
{
    char what[256], where[192];
    vsnprintf(what, sizeof what, fmt, ap);
    ulm__json_path_format(w->path, shown, where, sizeof where);
    size_t line = ulm__json_line(w->text, w->length, w->path, w->depth);
    if (shown)
        ulm__set_errbuf(w->errbuf, w->errbuf_size, "%s:%zu: %s: %s", w->source, line, where,
                        what);
    else
        ulm__set_errbuf(w->errbuf, w->errbuf_size, "%s:%zu: %s", w->source, line, what);
    return ULM_ECONFIG;
}

static int fail(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(walk *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(w, w->depth, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_in_parent(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_in_parent(walk *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(w, w->depth - 1, fmt, ap);
    va_end(ap);
    return rc;
}

/* The prefixes of OpenAI ("sk-", Anthropic's "sk-ant-" too) and Google API keys. */
static int looks_like_key(const char *s)
{
    return strncmp(s, "sk-", 3) == 0 || strncmp(s, "AIza", 4) == 0;
}

/* jansson names the token where it stopped, which may be a key pasted into the file. */
static void hide_key_in_json_error(char *text)
{
    char *near = strstr(text, " near '");
    if (near && (strstr(near, "sk-") || strstr(near, "AIza")))
        *near = '\0';
}

/* ---------------------------------------------------------------- walking */

static int push_key(walk *w, const char *key)
{
    w->path[w->depth].key = key;
    w->path[w->depth].index = 0;
    w->depth++;
    /* the path names the key in every message below it, so a key must not be a secret */
    if (looks_like_key(key))
        return fail_in_parent(w, "a name looks like an API key; " KEEP_KEYS_OUT);
    return ULM_OK;
}

static void push_index(walk *w, size_t index)
{
    w->path[w->depth].key = NULL;
    w->path[w->depth].index = index;
    w->depth++;
}

typedef int (*member_fn)(walk *w, const char *key, json_t *value, void *target);

/* Calls fn for each member of obj in the order of the file, with the path at the member. */
static int walk_object(walk *w, json_t *obj, member_fn fn, void *target)
{
    if (!json_is_object(obj))
        return fail(w, "expected an object");
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int rc = push_key(w, key);
        if (rc == ULM_OK)
            rc = fn(w, key, value, target);
        if (rc != ULM_OK)
            return rc;
        w->depth--;
    }
    return ULM_OK;
}

static int unknown_key(walk *w, json_t *value)
{
    /* "api_key": "sk-..." deserves the reason it can never be right */
    if (json_is_string(value) && looks_like_key(json_string_value(value)))
        return fail(w, "looks like an API key; " KEEP_KEYS_OUT);
    return fail(w, "unknown key");
}

static int read_string(walk *w, json_t *value, const char **out)
{
    if (!json_is_string(value))
        return fail(w, "expected a string");
    if (looks_like_key(json_string_value(value)))
        return fail(w, "looks like an API key; " KEEP_KEYS_OUT);
    *out = json_string_value(value);
    return ULM_OK;
}

static int copy_string(const char *s, char **out)
{
    *out = ulm__strdup(s);
    return *out ? ULM_OK : ULM_ENOMEM;
}

/* A whole-number setting, stored as a long at offset in its struct. */
typedef struct whole_setting {
    const char *key;
    long min, max;
    size_t offset;
} whole_setting;

static const whole_setting *find_setting(const whole_setting *table, const char *key)
{
    for (; table->key; table++)
        if (strcmp(table->key, key) == 0)
            return table;
    return NULL;
}

static int read_setting(walk *w, const whole_setting *setting, json_t *value, void *target)
{
    if (!json_is_integer(value) || json_integer_value(value) < setting->min ||
        json_integer_value(value) > setting->max)
        return fail(w, "expected a whole number from %ld to %ld", setting->min, setting->max);
    *(long *)((char *)target + setting->offset) = (long)json_integer_value(value);
    return ULM_OK;
}

/* The members of a section of whole numbers. */
typedef struct settings_target {
    const whole_setting *table;
    void *base;
} settings_target;

static int settings_member(walk *w, const char *key, json_t *value, void *target)
{
    settings_target *t = target;
    const whole_setting *setting = find_setting(t->table, key);
    return setting ? read_setting(w, setting, value, t->base) : unknown_key(w, value);
}

/* ---------------------------------------------------------------- model strings */

static int known_backend(const walk *w, const char *name, size_t length)
{
    for (const char *const *b = w->builtin_backends; b && *b; b++)
        if (strlen(*b) == length && strncmp(*b, name, length) == 0)
            return 1;
    return json_object_getn(w->backends, name, length) != NULL;
}

static int is_alias(const walk *w, const char *name)
{
    return json_is_array(json_object_get(w->models, name));
}

/* "backend/model" whose backend is declared or built in. */
static int check_model_string(walk *w, const char *s)
{
    char quoted[80];
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash[1] == '\0') {
        ulm__json_quote(s, strlen(s), quoted, sizeof quoted);
        return fail(w, "expected \"backend/model\", got %s", quoted);
    }
    if (!known_backend(w, s, (size_t)(slash - s))) {
        ulm__json_quote(s, (size_t)(slash - s), quoted, sizeof quoted);
        return fail(w, "unknown backend %s", quoted);
    }
    return ULM_OK;
}

/* ---------------------------------------------------------------- backends */

static int valid_url(const char *url)
{
    size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                    : strncasecmp(url, "https://", 8) == 0 ? 8
                                                           : 0;
    if (scheme == 0 || url[scheme] == '\0')
        return 0;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

static int read_url(walk *w, json_t *value, char **out)
{
    const char *url = NULL;
    if (!json_is_string(value))
        return fail(w, "expected an http:// or https:// URL without spaces");
    int rc = read_string(w, value, &url);
    if (rc != ULM_OK)
        return rc;
    if (!valid_url(url))
        return fail(w, "expected an http:// or https:// URL without spaces");
    return copy_string(url, out);
}

static int read_urls(walk *w, json_t *value, ulm_file_backend *b)
{
    if (!json_is_array(value) || json_array_size(value) == 0)
        return fail(w, "expected a non-empty array of URLs");
    if (!(b->urls = ulm__calloc(json_array_size(value), sizeof *b->urls)))
        return ULM_ENOMEM;
    b->url_count = json_array_size(value);
    for (size_t i = 0; i < b->url_count; i++) {
        push_index(w, i);
        int rc = read_url(w, json_array_get(value, i), &b->urls[i]);
        if (rc != ULM_OK)
            return rc;
        w->depth--;
    }
    return ULM_OK;
}

static int read_type(walk *w, json_t *value, ulm_file_backend *b)
{
    const char *type = NULL;
    int rc = read_string(w, value, &type);
    if (rc != ULM_OK)
        return rc;
    char known[128] = "";
    size_t used = 0;
    for (const char *const *t = w->known_types; t && *t; t++) {
        if (strcmp(*t, type) == 0)
            return copy_string(type, &b->type);
        int n = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", *t);
        if (n < 0 || (size_t)n >= sizeof known - used)
            break;
        used += (size_t)n;
    }
    char quoted[80];
    ulm__json_quote(type, strlen(type), quoted, sizeof quoted);
    return fail(w, "unknown type %s (known: %s)", quoted, known);
}

static int env_var_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static int read_api_key_env(walk *w, json_t *value, ulm_file_backend *b)
{
    const char *name = NULL;
    if (json_is_string(value) && looks_like_key(json_string_value(value)))
        return fail(w, "looks like a key itself; name the environment variable that holds it");
    int rc = read_string(w, value, &name);
    if (rc != ULM_OK)
        return rc;
    if (!env_var_name(name))
        return fail(w, "expected the name of an environment variable, such as OPENAI_API_KEY");
    return copy_string(name, &b->api_key_env);
}

static int read_balance(walk *w, json_t *value, ulm_file_backend *b)
{
    const char *balance = NULL;
    int rc = read_string(w, value, &balance);
    if (rc != ULM_OK)
        return rc;
    if (strcmp(balance, "round_robin") == 0) {
        b->balance = ULM_BALANCE_ROUND_ROBIN;
    } else if (strcmp(balance, "least_in_flight") == 0) {
        b->balance = ULM_BALANCE_LEAST_IN_FLIGHT;
    } else {
        char quoted[80];
        ulm__json_quote(balance, strlen(balance), quoted, sizeof quoted);
        return fail(w, "unknown balance %s (known: round_robin, least_in_flight)", quoted);
    }
    return ULM_OK;
}

static const whole_setting backend_settings[] = {
    {"max_in_flight", 0, 10000, offsetof(ulm_file_backend, max_in_flight)},
    {"max_queue", 0, 100000, offsetof(ulm_file_backend, max_queue)},
    {NULL, 0, 0, 0},
};

static int backend_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_backend *b = target;
    if (strcmp(key, "type") == 0)
        return read_type(w, value, b);
    if (strcmp(key, "url") == 0) {
        if (!(b->urls = ulm__calloc(1, sizeof *b->urls)))
            return ULM_ENOMEM;
        b->url_count = 1;
        return read_url(w, value, &b->urls[0]);
    }
    if (strcmp(key, "urls") == 0)
        return read_urls(w, value, b);
    if (strcmp(key, "api_key_env") == 0)
        return read_api_key_env(w, value, b);
    if (strcmp(key, "balance") == 0)
        return read_balance(w, value, b);
    if (strcmp(key, "ca_file") == 0 || strcmp(key, "proxy") == 0) {
        const char *text = NULL;
        int rc = read_string(w, value, &text);
        if (rc != ULM_OK)
            return rc;
        if (key[0] == 'c' && !*text)
            return fail(w, "expected the path of a file of CA certificates");
        return copy_string(text, key[0] == 'c' ? &b->ca_file : &b->proxy);
    }
    if (strcmp(key, "local") == 0) {
        if (!json_is_boolean(value))
            return fail(w, "expected true or false");
        b->local = json_is_true(value);
        return ULM_OK;
    }
    const whole_setting *setting = find_setting(backend_settings, key);
    return setting ? read_setting(w, setting, value, b) : unknown_key(w, value);
}

static int backend_entry(walk *w, const char *name, json_t *value, void *target)
{
    ulm_file_config *c = target;
    if (name[0] == '\0')
        return fail(w, "a backend name cannot be empty");
    if (strchr(name, '/'))
        return fail(w, "a backend name cannot contain \"/\"");
    ulm_file_backend *b = &c->backends[c->backend_count++];
    b->max_queue = -1;
    b->local = -1;
    int rc = copy_string(name, &b->name);
    if (rc != ULM_OK)
        return rc;
    /* checked first: walking both would fill urls twice */
    if (json_object_get(value, "url") && json_object_get(value, "urls"))
        return fail(w, "\"url\" and \"urls\" are alternatives; give one");
    if ((rc = walk_object(w, value, backend_member, b)) != ULM_OK)
        return rc;
    if (!b->type)
        return fail(w, "missing \"type\"");
    if (!b->urls)
        return fail(w, "missing \"url\" or \"urls\"");
    return ULM_OK;
}

static int walk_backends(walk *w, json_t *value, ulm_file_config *c)
{
    if (!json_is_object(value))
        return fail(w, "expected an object");
    if (json_object_size(value) &&
        !(c->backends = ulm__calloc(json_object_size(value), sizeof *c->backends)))
        return ULM_ENOMEM;
    return walk_object(w, value, backend_entry, c);
}

/* ---------------------------------------------------------------- models and aliases */

static const whole_setting model_settings[] = {
    {"max_tokens", 1, 10000000, offsetof(ulm_file_model, max_tokens)},
    {"context_window", 1, 100000000, offsetof(ulm_file_model, context_window)},
    {NULL, 0, 0, 0},
};

static int read_template(walk *w, json_t *value, ulm_file_model *m)
{
    const char *name = NULL;
    int rc = read_string(w, value, &name);
    if (rc != ULM_OK)
        return rc;
    for (int t = ULM_TEMPLATE_CHAT; t <= ULM_TEMPLATE_COMPLETION; t++) {
        if (strcmp(name, ulm__prompt_template_name((ulm_prompt_template)t)) == 0) {
            m->prompt_template = (ulm_prompt_template)t;
            return ULM_OK;
        }
    }
    char quoted[80];
    ulm__json_quote(name, strlen(name), quoted, sizeof quoted);
    return fail(w, "unknown template %s (known: chat, no_system, alternating, completion)",
                quoted);
}

/* "price": {"input_per_million": 0.15, "output_per_million": 0.6}, both required. */
static int price_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_model *m = target;
    double *slot = strcmp(key, "input_per_million") == 0    ? &m->input_price
                   : strcmp(key, "output_per_million") == 0 ? &m->output_price
                                                            : NULL;
    if (!slot)
        return unknown_key(w, value);
    if (!json_is_number(value) || json_number_value(value) < 0 ||
        json_number_value(value) > 1e9)
        return fail(w, "expected a price per million tokens, a number from 0 to 1e9");
    *slot = json_number_value(value);
    return ULM_OK;
}

static int read_price(walk *w, json_t *value, ulm_file_model *m)
{
    if (!json_is_object(value))
        return fail(w, "expected an object with input_per_million and output_per_million");
    int rc = walk_object(w, value, price_member, m);
    if (rc != ULM_OK)
        return rc;
    if (!json_object_get(value, "input_per_million") ||
        !json_object_get(value, "output_per_million"))
        return fail(w, "needs both input_per_million and output_per_million");
    m->has_price = 1;
    return ULM_OK;
}

static int model_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_model *m = target;
    if (strcmp(key, "template") == 0)
        return read_template(w, value, m);
    if (strcmp(key, "price") == 0)
        return read_price(w, value, m);
    if (strcmp(key, "temperature") == 0) {
        if (!json_is_number(value) || json_number_value(value) < 0 ||
            json_number_value(value) > 2)
            return fail(w, "expected a number from 0 to 2");
        m->has_temperature = 1;
        m->temperature = json_number_value(value);
        return ULM_OK;
    }
    const whole_setting *setting = find_setting(model_settings, key);
    return setting ? read_setting(w, setting, value, m) : unknown_key(w, value);
}

static int read_alias(walk *w, const char *name, json_t *value, ulm_file_alias *a)
{
    if (name[0] == '\0')
        return fail(w, "an alias name cannot be empty");
    if (strchr(name, '/'))
        return fail(w, "an alias name cannot contain \"/\"");
    if (json_array_size(value) == 0)
        return fail(w, "an alias needs at least one target");
    int rc = copy_string(name, &a->name);
    if (rc != ULM_OK)
        return rc;
    if (!(a->targets = ulm__calloc(json_array_size(value), sizeof *a->targets)))
        return ULM_ENOMEM;
    a->target_count = json_array_size(value);
    for (size_t i = 0; i < a->target_count; i++) {
        const char *target = NULL;
        push_index(w, i);
        if ((rc = read_string(w, json_array_get(value, i), &target)) != ULM_OK)
            return rc;
        if (!strchr(target, '/') && is_alias(w, target)) {
            char quoted[80];
            ulm__json_quote(target, strlen(target), quoted, sizeof quoted);
            /* one level keeps a chain what it looks like in the file */
            return fail(w, "%s is an alias; an alias cannot name another alias", quoted);
        }
        if ((rc = check_model_string(w, target)) != ULM_OK ||
            (rc = copy_string(target, &a->targets[i])) != ULM_OK)
            return rc;
        w->depth--;
    }
    return ULM_OK;
}

static int model_entry(walk *w, const char *name, json_t *value, void *target)
{
    ulm_file_config *c = target;
    if (json_is_array(value))
        return read_alias(w, name, value, &c->aliases[c->alias_count++]);
    if (!json_is_object(value))
        return fail(w, "expected an object (a model's parameters) or an array (an alias)");
    int rc = check_model_string(w, name);
    if (rc != ULM_OK)
        return rc;
    ulm_file_model *m = &c->models[c->model_count++];
    if ((rc = copy_string(name, &m->name)) != ULM_OK)
        return rc;
    return walk_object(w, value, model_member, m);
}

static int walk_models(walk *w, json_t *value, ulm_file_config *c)
{
    if (!json_is_object(value))
        return fail(w, "expected an object");
    size_t models = 0, aliases = 0;
    const char *key;
    json_t *entry;
    json_object_foreach(value, key, entry) {
        models += json_is_object(entry);
        aliases += json_is_array(entry);
    }
    if (models && !(c->models = ulm__calloc(models, sizeof *c->models)))
        return ULM_ENOMEM;
    if (aliases && !(c->aliases = ulm__calloc(aliases, sizeof *c->aliases)))
        return ULM_ENOMEM;
    return walk_object(w, value, model_entry, c);
}

/* ---------------------------------------------------------------- the other sections */

static const whole_setting retry_settings[] = {
    {"max_retries", 0, 10, offsetof(ulm_file_config, max_retries)},
    {"base_delay_ms", 1, MAX_DELAY_MS, offsetof(ulm_file_config, base_delay_ms)},
    {"max_delay_ms", 1, MAX_DELAY_MS, offsetof(ulm_file_config, max_delay_ms)},
    {NULL, 0, 0, 0},
};

static const whole_setting breaker_settings[] = {
    {"failures", 1, ULM_BREAKER_MAX_FAILURES, offsetof(ulm_file_config, breaker_failures)},
    {"window_ms", 1, ULM_MAX_TIMEOUT_MS, offsetof(ulm_file_config, breaker_window_ms)},
    {"cooldown_ms", 1, ULM_MAX_TIMEOUT_MS, offsetof(ulm_file_config, breaker_cooldown_ms)},
    {NULL, 0, 0, 0},
};

static const whole_setting timeout_settings[] = {
    {"connect_ms", 1, ULM_MAX_TIMEOUT_MS,
     offsetof(ulm_file_config, timeouts) + ULM_CLOCK_CONNECT * sizeof(long)},
    {"load_ms", 1, ULM_MAX_TIMEOUT_MS,
     offsetof(ulm_file_config, timeouts) + ULM_CLOCK_LOAD * sizeof(long)},
    {"first_token_ms", 1, ULM_MAX_TIMEOUT_MS,
     offsetof(ulm_file_config, timeouts) + ULM_CLOCK_FIRST_TOKEN * sizeof(long)},
    {"idle_ms", 1, ULM_MAX_TIMEOUT_MS,
     offsetof(ulm_file_config, timeouts) + ULM_CLOCK_IDLE * sizeof(long)},
    {"overall_ms", 1, ULM_MAX_TIMEOUT_MS,
     offsetof(ulm_file_config, timeouts) + ULM_CLOCK_OVERALL * sizeof(long)},
    {NULL, 0, 0, 0},
};

static const whole_setting offline_settings[] = {
    {"probe_interval_ms", 1, ULM_MAX_TIMEOUT_MS, offsetof(ulm_file_config, probe_interval_ms)},
    {NULL, 0, 0, 0},
};

static int offline_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_config *c = target;
    if (strcmp(key, "use_local_models") == 0) {
        if (!json_is_boolean(value))
            return fail(w, "expected true or false");
        c->use_local_models_when_offline = json_is_true(value);
        return ULM_OK;
    }
    settings_target t = {offline_settings, c};
    return settings_member(w, key, value, &t);
}

static int walk_retry(walk *w, json_t *value, ulm_file_config *c)
{
    settings_target t = {retry_settings, c};
    int rc = walk_object(w, value, settings_member, &t);
    if (rc == ULM_OK && c->base_delay_ms > 0 && c->max_delay_ms > 0 &&
        c->max_delay_ms < c->base_delay_ms) {
        (void)push_key(w, "max_delay_ms"); /* a fixed name: never refused */
        return fail(w, "smaller than base_delay_ms");
    }
    return rc;
}

static int read_default_model(walk *w, json_t *value, ulm_file_config *c)
{
    const char *model = NULL;
    int rc = read_string(w, value, &model);
    if (rc != ULM_OK)
        return rc;
    if (!strchr(model, '/') && !is_alias(w, model)) {
        char quoted[80];
        ulm__json_quote(model, strlen(model), quoted, sizeof quoted);
        return fail(w, "%s is neither \"backend/model\" nor an alias", quoted);
    }
    if (strchr(model, '/') && (rc = check_model_string(w, model)) != ULM_OK)
        return rc;
    return copy_string(model, &c->default_model);
}

static int synthesis_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_config *c = target;
    if (strcmp(key, "template") != 0)
        return unknown_key(w, value);
    const char *text = NULL;
    int rc = read_string(w, value, &text);
    if (rc != ULM_OK)
        return rc;
    char why[ULM_ERROR_SIZE];
    if (ulm__synthesis_template_check(text, why, sizeof why) != ULM_OK)
        return fail(w, "%s", why);
    return copy_string(text, &c->synthesis_template);
}

/* "model_runner": {"candidates": [URLs], "auto_pull": true}. */
static int runner_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_config *c = target;
    if (strcmp(key, "auto_pull") == 0) {
        if (!json_is_boolean(value))
            return fail(w, "expected true or false");
        c->auto_pull = json_is_true(value);
        return ULM_OK;
    }
    if (strcmp(key, "candidates") != 0)
        return unknown_key(w, value);
    if (!json_is_array(value) || json_array_size(value) == 0)
        return fail(w, "expected a non-empty array of URLs");
    if (!(c->runner_candidates = ulm__calloc(json_array_size(value), sizeof(char *))))
        return ULM_ENOMEM;
    for (size_t i = 0; i < json_array_size(value); i++) {
        push_index(w, i);
        int rc = read_url(w, json_array_get(value, i), &c->runner_candidates[i]);
        if (rc != ULM_OK)
            return rc;
        c->runner_candidate_count = i + 1;
        w->depth--;
    }
    return ULM_OK;
}

static int root_member(walk *w, const char *key, json_t *value, void *target)
{
    ulm_file_config *c = target;
    settings_target breaker = {breaker_settings, c}, timeouts = {timeout_settings, c};
    if (strcmp(key, "backends") == 0)
        return walk_backends(w, value, c);
    if (strcmp(key, "models") == 0)
        return walk_models(w, value, c);
    if (strcmp(key, "retry") == 0)
        return walk_retry(w, value, c);
    if (strcmp(key, "breaker") == 0)
        return walk_object(w, value, settings_member, &breaker);
    if (strcmp(key, "timeouts") == 0)
        return walk_object(w, value, settings_member, &timeouts);
    if (strcmp(key, "offline") == 0)
        return walk_object(w, value, offline_member, c);
    if (strcmp(key, "default_model") == 0)
        return read_default_model(w, value, c);
    if (strcmp(key, "synthesis") == 0)
        return walk_object(w, value, synthesis_member, c);
    if (strcmp(key, "model_runner") == 0)
        return walk_object(w, value, runner_member, c);
    return unknown_key(w, value);
}

/* ---------------------------------------------------------------- entry points */

int ulm__file_config_parse(const char *text, size_t length, const char *source,
                           const char *const *known_types, const char *const *builtin_backends,
                           ulm_file_config *out, char *errbuf, size_t errbuf_size)
{
    memset(out, 0, sizeof *out);
    ulm__set_errbuf(errbuf, errbuf_size, "%s", "");
    if (!text) {
        text = "";
        length = 0;
    }
    json_error_t error;
    json_t *root = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        if (json_error_code(&error) == json_error_out_of_memory) {
            ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
            return ULM_ENOMEM;
        }
        hide_key_in_json_error(error.text);
        ulm__set_errbuf(errbuf, errbuf_size, "%s:%d: invalid JSON: %s", source,
                        error.line > 0 ? error.line : 1, error.text);
        return ULM_ECONFIG;
    }

    out->max_retries = out->base_delay_ms = out->max_delay_ms = -1;
    out->breaker_failures = out->breaker_window_ms = out->breaker_cooldown_ms = -1;
    for (size_t i = 0; i <= ULM_CLOCK_OVERALL; i++)
        out->timeouts[i] = -1;
    out->use_local_models_when_offline = -1;
    out->probe_interval_ms = -1;
    out->auto_pull = -1;

    walk w = {.text = text,
              .length = length,
              .source = source,
              .known_types = known_types,
              .builtin_backends = builtin_backends,
              .backends = json_object_get(root, "backends"),
              .models = json_object_get(root, "models"),
              .errbuf = errbuf,
              .errbuf_size = errbuf_size};
    int rc = walk_object(&w, root, root_member, out);
    json_decref(root);
    if (rc != ULM_OK) {
        ulm__file_config_free(out);
        if (rc == ULM_ENOMEM)
            ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
    }
    return rc;
}

int ulm__file_config_load(const char *path, const char *const *known_types,
                          const char *const *builtin_backends, ulm_file_config *out,
                          char *errbuf, size_t errbuf_size)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        ulm__set_errbuf(errbuf, errbuf_size, "cannot read %s: %s", path, strerror(errno));
        return ULM_ECONFIG;
    }
    /* one byte more than allowed tells a file of exactly the cap from a larger one */
    char *text = ulm__malloc(ULM_CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        return ULM_ENOMEM;
    }
    size_t got = fread(text, 1, ULM_CONFIG_MAX_BYTES + 1, f);
    int read_error = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    int rc = ULM_ECONFIG;
    if (read_error)
        ulm__set_errbuf(errbuf, errbuf_size, "cannot read %s: %s", path, strerror(read_error));
    else if (got > ULM_CONFIG_MAX_BYTES)
        ulm__set_errbuf(errbuf, errbuf_size, "%s: larger than 1 MiB", path);
    else
        rc = ulm__file_config_parse(text, got, path, known_types, builtin_backends, out, errbuf,
                                    errbuf_size);
    ulm__free(text);
    return rc;
}

void ulm__file_config_free(ulm_file_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->backend_count; i++) {
        ulm_file_backend *b = &c->backends[i];
        ulm__free(b->name);
        ulm__free(b->type);
        for (size_t u = 0; u < b->url_count; u++)
            ulm__free(b->urls[u]);
        ulm__free(b->urls);
        ulm__free(b->api_key_env);
        ulm__free(b->ca_file);
        ulm__free_secret(b->proxy);
    }
    ulm__free(c->backends);
    for (size_t i = 0; i < c->model_count; i++)
        ulm__free(c->models[i].name);
    ulm__free(c->models);
    for (size_t i = 0; i < c->alias_count; i++) {
        for (size_t t = 0; t < c->aliases[i].target_count; t++)
            ulm__free(c->aliases[i].targets[t]);
        ulm__free(c->aliases[i].targets);
        ulm__free(c->aliases[i].name);
    }
    ulm__free(c->aliases);
    ulm__free(c->default_model);
    ulm__free(c->synthesis_template);
    for (size_t i = 0; i < c->runner_candidate_count; i++)
        ulm__free(c->runner_candidates[i]);
    ulm__free(c->runner_candidates);
    memset(c, 0, sizeof *c);
}

const ulm_file_alias *ulm__file_config_alias(const ulm_file_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->alias_count; i++)
        if (strcmp(c->aliases[i].name, name) == 0)
            return &c->aliases[i];
    return NULL;
}

const ulm_file_model *ulm__file_config_model(const ulm_file_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->model_count; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return &c->models[i];
    return NULL;
}
