/* dmr_manage.c - Docker Model Runner's lifecycle endpoints: the requests built and the answers read, without I/O. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin.h"
#include "dmr_manage.h"
#include "json_write.h"

/* ------------------------------------------------------------ memory */

/*
 * Arrays and strings grow in a ulm_text: it is the adapters' door to the library's
 * allocator, so that the tests failing each allocation in turn reach every one made here.
 * Its memory comes from realloc, aligned for any item, and goes back through release(),
 * so that the library's count of the heap it holds stays true.
 */
static int push(ulm_text *vec, const void *item, size_t size)
{
    return ulm_text_append(vec, (const char *)item, size);
}

/* Frees what push() or copy_of() made (NULL allowed). */
static void release(void *p)
{
    ulm_text t = {.data = p};
    ulm_text_free(&t);
}

static char *copy_of(const char *s, size_t n)
{
    ulm_text t = {0};
    return ulm_text_append(&t, s, n) == ULM_OK ? t.data : NULL;
}

/* object[key] copied into *dst when it is a string; else *dst is fallback copied, or NULL
 * when fallback is. ULM_OK or ULM_ENOMEM. */
static int copy_string(char **dst, json_t *object, const char *key, const char *fallback)
{
    json_t *v = json_object_get(object, key);
    if (json_is_string(v))
        *dst = copy_of(json_string_value(v), json_string_length(v));
    else if (fallback)
        *dst = copy_of(fallback, strlen(fallback));
    else
        return ULM_OK;
    return *dst ? ULM_OK : ULM_ENOMEM;
}

/* object[key] when it is a whole number, else absent. */
static int64_t integer_or(json_t *object, const char *key, int64_t absent)
{
    json_t *v = json_object_get(object, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : absent;
}

/* object[key] as a byte count: a whole number >= 0, else 0. */
static uint64_t bytes_of(json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* ------------------------------------------------------------ failures */

static int fail(ulm_dmr_error *error, int code, const char *reason)
{
    error->code = code;
    error->text = reason;
    error->length = reason ? strlen(reason) : 0;
    return code;
}

/* n without the line end and blanks Go's http.Error (Fprintln) leaves at the end. */
static size_t trimmed(const char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

/* needle occurs in the n bytes at s, letters in any case. */
static int has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

static int is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/*
 * DMR answers most failures in text/plain, and a few statuses mean something more precise
 * than their generic class: a 500 that failed to start the runner is a model load failure
 * (another backend may serve), 412 a missing inference backend, a 404 a model not pulled
 * unless it names the inference backend or the endpoint is missing, and older releases
 * answer 503 "Loading model" while a model loads (wait, do not fail).
 */
int ulm__dmr_error_class(ulm_dmr_call call, int status, int generic, const char *words,
                         size_t length)
{
    words = words ? words : "";
    switch (status) {
    case 0: /* the handler's words inside a pull's stream, which has no status of its own */
        if (has(words, length, "model not found") || is(words, length, "Unauthorized"))
            return ULM_EMODEL_NOT_FOUND;
        return is(words, length, "Invalid model reference") ? ULM_EBAD_REQUEST : generic;
    case 401:
        return call == ULM_DMR_PULL ? ULM_EMODEL_NOT_FOUND : generic;
    case 404:
        if (has(words, length, "backend not found"))
            return ULM_EUNSUPPORTED;
        if (has(words, length, "model not found") || call == ULM_DMR_PULL ||
            call == ULM_DMR_MODEL || call == ULM_DMR_REMOVE || call == ULM_DMR_PRELOAD ||
            call == ULM_DMR_INFERENCE)
            return ULM_EMODEL_NOT_FOUND;
        return ULM_EUNSUPPORTED; /* the router's "not found": no such endpoint here */
    case 405:
        return call == ULM_DMR_INFERENCE ? generic : ULM_EUNSUPPORTED;
    case 409:
        if (call == ULM_DMR_CONFIGURE)
            return ULM_EBUSY;
        return call == ULM_DMR_REMOVE ? ULM_EBAD_REQUEST : generic;
    case 412:
        return ULM_EMODEL_LOAD;
    case 500:
        return has(words, length, "unable to load runner") ? ULM_EMODEL_LOAD : generic;
    case 503:
        return has(words, length, "Loading model") ? ULM_EMODEL_LOADING : generic;
    default:
        return generic;
    }
}

int ulm__dmr_error_of(ulm_dmr_error *error, ulm_dmr_call call, int status, const char *body,
                      size_t length)
{
    size_t n = trimmed(body ? body : "", body ? length : 0);
    if (n == 0 && status == 502)
        return fail(error, ULM_ESERVER, "Docker Model Runner's proxy failed (empty answer)");
    int generic = ulm_error_from_http_status(status);
    if (generic == ULM_OK)
        generic = ULM_EPROTOCOL; /* a success is not a failure to classify */
    error->code = ulm__dmr_error_class(call, status, generic, body, n);
    error->text = n ? body : NULL;
    error->length = n;
    return error->code;
}

/* ------------------------------------------------------------ roots and names */

size_t ulm__dmr_root_length(const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    if (n >= 3 && strncmp(url + n - 3, "/v1", 3) == 0) {
        n -= 3;
        size_t last = n; /* where the last path segment starts */
        while (last && url[last - 1] != '/')
            last--;
        if (n - last == 7 && strncmp(url + last, "engines", 7) == 0)
            n = last - 1;
        else if (last >= 9 && strncmp(url + last - 9, "/engines/", 9) == 0)
            n = last - 9; /* /engines/<backend>/v1 */
        while (n && url[n - 1] == '/')
            n--;
    }
    return n;
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

/* An ID as DMR's store looks one up: sha256:<64 hex>, or 64 or 12 (short) hex digits. */
static int is_model_id(const char *name)
{
    size_t n = strlen(name);
    if (n == 71 && strncmp(name, "sha256:", 7) == 0)
        return all_hex(name + 7, 64);
    return (n == 64 || n == 12) && all_hex(name, n);
}

int ulm__dmr_reference(const char *name, char *buf, size_t buf_size)
{
    if (!name || !buf)
        return ULM_EINVAL;
    if (!is_model_id(name))
        return ulm__dmr_normalize_model(name, buf, buf_size);
    size_t n = strlen(name);
    if (n >= buf_size)
        return ULM_EINVAL;
    memcpy(buf, name, n + 1);
    return ULM_OK;
}

int ulm__dmr_same_model(const char *a, const char *b)
{
    char ra[256], rb[256];
    if (!a || !b)
        return 0;
    if (ulm__dmr_reference(a, ra, sizeof ra) != ULM_OK ||
        ulm__dmr_reference(b, rb, sizeof rb) != ULM_OK)
        return strcmp(a, b) == 0;
    return strcmp(ra, rb) == 0;
}

/* ------------------------------------------------------------ requests */

static const struct {
    ulm_dmr_call call;
    const char *path;
} get_paths[] = {
    {ULM_DMR_BANNER, "/"},
    {ULM_DMR_VERSION, "/version"},
    {ULM_DMR_STATUS, "/engines/status"},
    {ULM_DMR_DISK_USAGE, "/engines/df"},
    {ULM_DMR_PS, "/engines/ps"},
    {ULM_DMR_MODELS, "/models"},
    {ULM_DMR_OPENAI_MODELS, "/engines/v1/models"},
    {ULM_DMR_METRICS, "/metrics"},
};

int ulm__dmr_build_get(ulm_http_request *out, ulm_dmr_call call)
{
    for (size_t i = 0; i < sizeof get_paths / sizeof get_paths[0]; i++)
        if (get_paths[i].call == call)
            return ulm_http_request_set_target(out, "GET", get_paths[i].path);
    return ULM_EINVAL;
}

/* method /models/<reference of name><query> */
static int model_target(ulm_http_request *out, const char *method, const char *name,
                        const char *query)
{
    char ref[256];
    int rc = ulm__dmr_reference(name, ref, sizeof ref);
    if (rc != ULM_OK)
        return rc;
    ulm_text path = {0};
    rc = ulm_text_appendf(&path, "/models/%s%s", ref, query);
    if (rc == ULM_OK)
        rc = ulm_http_request_set_target(out, method, path.data);
    ulm_text_free(&path);
    return rc;
}

int ulm__dmr_build_model(ulm_http_request *out, const char *name)
{
    return model_target(out, "GET", name, "");
}

int ulm__dmr_build_remove(ulm_http_request *out, const char *name, int force)
{
    return model_target(out, "DELETE", name, force ? "?force=true" : "");
}

/* Sends body (taken, also on failure) with method to path, and one header when name. */
static int send_body(ulm_http_request *out, ulm_text *body, int rc, const char *method,
                     const char *path, const char *name, const char *value)
{
    if (rc != ULM_OK) {
        ulm_text_free(body);
        return rc;
    }
    rc = ulm__json_send(body, method, path, out);
    return rc == ULM_OK && name ? ulm_http_request_add_header(out, name, value) : rc;
}

int ulm__dmr_build_pull(ulm_http_request *out, const char *name)
{
    char checked[256];
    if (!name || ulm__dmr_normalize_model(name, checked, sizeof checked) != ULM_OK)
        return ULM_EINVAL;
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"from\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, name);
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "}");
    return send_body(out, &body, rc, "POST", "/models/create", "Accept", "application/json");
}

int ulm__dmr_build_unload(ulm_http_request *out, const char *const *names, size_t count)
{
    if (count && !names)
        return ULM_EINVAL;
    ulm_text body = {0};
    int rc = count ? ulm__json_literal(&body, "{\"models\":[")
                   : ulm__json_literal(&body, "{\"all\":true}");
    for (size_t i = 0; rc == ULM_OK && i < count; i++) {
        char ref[256];
        rc = ulm__dmr_reference(names[i], ref, sizeof ref);
        if (rc == ULM_OK && i)
            rc = ulm__json_literal(&body, ",");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, ref);
    }
    if (rc == ULM_OK && count)
        rc = ulm__json_literal(&body, "]}");
    return send_body(out, &body, rc, "POST", "/engines/unload", NULL, NULL);
}

static int known_mode(const char *mode)
{
    static const char *const modes[] = {"completion", "embedding", "reranking", "image-generation"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(mode, modes[i]) == 0)
            return 1;
    return 0;
}

/* A unit of Go's time.ParseDuration. */
static int duration_unit(const char *u, size_t n)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s", "m", "h"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i]) == n && memcmp(u, units[i], n) == 0)
            return 1;
    return 0;
}

/* What DMR's ParseKeepAlive takes: "0", "-1", or a Go duration ("10m", "1h30m", "1.5h"). */
static int valid_keep_alive(const char *s)
{
    if (strcmp(s, "0") == 0 || strcmp(s, "-1") == 0)
        return 1;
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    while (*s) {
        int digits = 0;
        for (; isdigit((unsigned char)*s); s++)
            digits++;
        if (*s == '.')
            for (s++; isdigit((unsigned char)*s); s++)
                digits++;
        const char *unit = s;
        while (*s && *s != '.' && !isdigit((unsigned char)*s))
            s++;
        if (!digits || !duration_unit(unit, (size_t)(s - unit)))
            return 0;
    }
    return 1;
}

int ulm__dmr_build_configure(ulm_http_request *out, const ulm_dmr_configure *config)
{
    char ref[256];
    if (!config || ulm__dmr_reference(config->model, ref, sizeof ref) != ULM_OK)
        return ULM_EINVAL;
    /* DMR reads context-size as an int32 */
    if (config->context_size < -1 || config->context_size > 2147483647L)
        return ULM_EINVAL;
    if ((config->keep_alive && !valid_keep_alive(config->keep_alive)) ||
        (config->mode && !known_mode(config->mode)))
        return ULM_EINVAL;
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"model\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, ref);
    if (rc == ULM_OK && config->mode) {
        rc = ulm__json_key(&body, "mode");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, config->mode);
    }
    if (rc == ULM_OK && config->context_size) {
        rc = ulm__json_key(&body, "context-size");
        if (rc == ULM_OK)
            rc = ulm_text_appendf(&body, "%ld", config->context_size);
    }
    if (rc == ULM_OK && config->keep_alive) {
        rc = ulm__json_key(&body, "keep_alive");
        if (rc == ULM_OK)
            rc = ulm__json_string(&body, config->keep_alive);
    }
    if (rc == ULM_OK)
        rc = ulm__json_literal(&body, "}");
    return send_body(out, &body, rc, "POST", "/engines/_configure", NULL, NULL);
}

int ulm__dmr_build_preload(ulm_http_request *out, const char *name, const char *mode)
{
    const char *path, *rest;
    if (!mode || strcmp(mode, "completion") == 0) {
        path = "/engines/v1/chat/completions";
        rest = ",\"messages\":[]}";
    } else if (strcmp(mode, "embedding") == 0) {
        path = "/engines/v1/embeddings";
        rest = ",\"input\":[]}";
    } else {
        return ULM_EINVAL;
    }
    char ref[256];
    if (ulm__dmr_reference(name, ref, sizeof ref) != ULM_OK)
        return ULM_EINVAL;
    ulm_text body = {0};
    int rc = ulm__json_literal(&body, "{\"model\":");
    if (rc == ULM_OK)
        rc = ulm__json_string(&body, ref);
    if (rc == ULM_OK)
        rc = ulm_text_append(&body, rest, strlen(rest));
    return send_body(out, &body, rc, "POST", path, "X-Preload-Only", "true");
}

/* ------------------------------------------------------------ the pull's stream */

static int is_json_type(const char *content_type)
{
    static const char json[] = "application/json";
    if (!content_type || strncasecmp(content_type, json, sizeof json - 1) != 0)
        return 0;
    char next = content_type[sizeof json - 1];
    return next == '\0' || next == ';' || next == ' ';
}

void ulm__dmr_pull_reader_init(ulm_dmr_pull_reader *r, const char *content_type)
{
    memset(r, 0, sizeof *r);
    r->escaped = !is_json_type(content_type);
}

void ulm__dmr_pull_reader_clear(ulm_dmr_pull_reader *r)
{
    ulm_text_free(&r->line);
    ulm_text_free(&r->unescaped);
    json_decref(r->held);
    memset(r, 0, sizeof *r);
}

/* The n bytes at s with Go's html.EscapeString undone, into out (emptied first). */
static int unescape_html(ulm_text *out, const char *s, size_t n)
{
    static const struct {
        const char *entity;
        char ch;
    } escapes[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&#39;", '\''}, {"&#34;", '"'}};
    out->len = 0;
    int rc = ulm_text_append(out, "", 0); /* so that an empty line still has data */
    size_t from = 0;
    for (size_t i = 0; rc == ULM_OK && i < n; i++) {
        if (s[i] != '&')
            continue;
        for (size_t k = 0; k < sizeof escapes / sizeof escapes[0]; k++) {
            size_t len = strlen(escapes[k].entity);
            if (n - i < len || memcmp(s + i, escapes[k].entity, len) != 0)
                continue;
            rc = ulm_text_append(out, s + from, i - from);
            if (rc == ULM_OK)
                rc = ulm_text_append(out, &escapes[k].ch, 1);
            i += len - 1;
            from = i + 1;
            break;
        }
    }
    return rc == ULM_OK ? ulm_text_append(out, s + from, n - from) : rc;
}

static int protocol_line(ulm_dmr_pull_line *line, const char *reason)
{
    line->kind = ULM_DMR_PULL_ERROR;
    line->code = ULM_EPROTOCOL;
    line->message = reason;
    line->message_length = strlen(reason);
    return 1;
}

static ulm_dmr_pull_kind kind_of(const char *type)
{
    static const struct {
        const char *name;
        ulm_dmr_pull_kind kind;
    } kinds[] = {{"progress", ULM_DMR_PULL_PROGRESS},
                 {"success", ULM_DMR_PULL_SUCCESS},
                 {"warning", ULM_DMR_PULL_WARNING},
                 {"error", ULM_DMR_PULL_ERROR}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(type, kinds[i].name) == 0)
            return kinds[i].kind;
    return ULM_DMR_PULL_OTHER;
}

/* The complete line of n bytes in r->line into *line: 1, or ULM_ENOMEM. */
static int take_line(ulm_dmr_pull_reader *r, size_t n, ulm_dmr_pull_line *line)
{
    char *text = r->line.data;
    text[n] = '\0';
    const char *json_text = text;
    size_t json_length = n;
    if (r->escaped) {
        if (unescape_html(&r->unescaped, text, n) != ULM_OK)
            return r->failed = ULM_ENOMEM;
        json_text = r->unescaped.data;
        json_length = r->unescaped.len;
    }
    size_t lead = 0;
    while (lead < json_length && (json_text[lead] == ' ' || json_text[lead] == '\t'))
        lead++;
    if (lead < json_length && (json_text[lead] == '{' || json_text[lead] == '[')) {
        json_t *root = json_loadb(json_text, json_length, 0, NULL);
        json_t *type = json_object_get(root, "type");
        if (!json_is_string(type)) {
            const char *reason = root ? "a pull progress line is not an object with a type"
                                      : "a pull progress line is not valid JSON";
            json_decref(root);
            return protocol_line(line, reason);
        }
        r->held = root;
        r->json_seen = 1;
        line->kind = kind_of(json_string_value(type));
        json_t *message = json_object_get(root, "message");
        if (json_is_string(message)) {
            line->message = json_string_value(message);
            line->message_length = json_string_length(message);
        }
        line->total = bytes_of(root, "total");
        json_t *layer = json_object_get(root, "layer");
        const char *id = json_string_value(json_object_get(layer, "id"));
        line->layer_id = id ? id : "";
        line->layer_size = bytes_of(layer, "size");
        line->layer_current = bytes_of(layer, "current");
        if (line->kind == ULM_DMR_PULL_ERROR)
            line->code = ulm__dmr_error_class(ULM_DMR_PULL, 0, ULM_ESERVER, line->message,
                                              line->message_length);
        return 1;
    }
    /* text: DMR's http.Error after the stream began, written raw, maybe on several lines */
    if (!r->json_seen)
        return protocol_line(line, "the pull answer is not a stream of progress lines");
    if (r->raw_code == ULM_OK)
        r->raw_code = ulm__dmr_error_class(ULM_DMR_PULL, 0, ULM_ESERVER, text, n);
    line->kind = ULM_DMR_PULL_ERROR;
    line->code = r->raw_code;
    line->raw = 1;
    line->message = text;
    line->message_length = n;
    return 1;
}

int ulm__dmr_pull_read(ulm_dmr_pull_reader *r, const char *data, size_t length, size_t *used,
                       ulm_dmr_pull_line *line)
{
    *used = 0;
    if (r->failed)
        return r->failed;
    json_decref(r->held);
    r->held = NULL;
    memset(line, 0, sizeof *line);
    line->message = "";
    line->layer_id = "";
    while (*used < length) {
        const char *start = data + *used;
        const char *end = memchr(start, '\n', length - *used);
        size_t take = end ? (size_t)(end - start) : length - *used;
        if (take > ULM_DMR_PULL_MAX_LINE - r->line.len)
            return r->failed = ULM_ETOO_LARGE;
        if (ulm_text_append(&r->line, start, take) != ULM_OK)
            return r->failed = ULM_ENOMEM;
        *used += take + (end ? 1 : 0);
        if (!end)
            return 0;
        size_t n = r->line.len;
        if (n && r->line.data[n - 1] == '\r')
            n--;
        r->line.len = 0; /* the next line overwrites this one: *line is valid until then */
        if (n)
            return take_line(r, n, line);
    }
    return 0;
}

/* ------------------------------------------------------------ the pull's progress */

size_t ulm__dmr_pull_layer_count(const ulm_dmr_pull_progress *p)
{
    return p->layers.len / sizeof(ulm_dmr_pull_layer);
}

const ulm_dmr_pull_layer *ulm__dmr_pull_layer(const ulm_dmr_pull_progress *p, size_t i)
{
    return (const ulm_dmr_pull_layer *)p->layers.data + i;
}

static int count_layer(ulm_dmr_pull_progress *p, const ulm_dmr_pull_line *line)
{
    ulm_dmr_pull_layer *layers = (ulm_dmr_pull_layer *)p->layers.data;
    size_t count = ulm__dmr_pull_layer_count(p), i = 0;
    while (i < count && strcmp(layers[i].id, line->layer_id) != 0)
        i++;
    if (i == count) {
        ulm_dmr_pull_layer added = {copy_of(line->layer_id, strlen(line->layer_id)), 0, 0};
        if (!added.id || push(&p->layers, &added, sizeof added) != ULM_OK) {
            release(added.id);
            return ULM_ENOMEM;
        }
        layers = (ulm_dmr_pull_layer *)p->layers.data;
    }
    if (line->layer_size)
        layers[i].size = line->layer_size;
    layers[i].current = line->layer_current;
    p->done = 0;
    p->layers_done = 0;
    for (size_t k = 0; k < ulm__dmr_pull_layer_count(p); k++) {
        p->done = layers[k].current > UINT64_MAX - p->done ? UINT64_MAX
                                                           : p->done + layers[k].current;
        if (layers[k].size && layers[k].current >= layers[k].size)
            p->layers_done++;
    }
    return ULM_OK;
}

static int set_error_text(ulm_dmr_pull_progress *p, const ulm_dmr_pull_line *line, int append)
{
    if (!append)
        p->error_text.len = 0;
    else if (ulm_text_append(&p->error_text, "\n", 1) != ULM_OK)
        return ULM_ENOMEM;
    return ulm_text_append(&p->error_text, line->message, line->message_length);
}

int ulm__dmr_pull_progress_add(ulm_dmr_pull_progress *p, const ulm_dmr_pull_line *line)
{
    switch (line->kind) {
    case ULM_DMR_PULL_PROGRESS:
        p->progress_lines++;
        if (line->total)
            p->total = line->total;
        return *line->layer_id ? count_layer(p, line) : ULM_OK;
    case ULM_DMR_PULL_SUCCESS:
        if (p->state == ULM_DMR_PULL_RUNNING) {
            p->state = ULM_DMR_PULL_SUCCEEDED;
            p->cached = p->progress_lines == 0;
        }
        return ULM_OK;
    case ULM_DMR_PULL_ERROR:
        /* the first failure; or the handler's text, which comes last and names the whole
         * chain of causes: it replaces the error line's message */
        if (p->state != ULM_DMR_PULL_FAILED || (line->raw && !p->text_raw)) {
            p->state = ULM_DMR_PULL_FAILED;
            p->error = line->code;
            p->text_raw = line->raw;
            return set_error_text(p, line, 0);
        }
        /* the handler's text goes on (errors.Join puts one cause a line) */
        return line->raw ? set_error_text(p, line, 1) : ULM_OK;
    default:
        return ULM_OK;
    }
}

double ulm__dmr_pull_progress_percent(const ulm_dmr_pull_progress *p)
{
    if (p->state == ULM_DMR_PULL_SUCCEEDED)
        return 100.0;
    if (!p->total)
        return 0.0;
    double percent = 100.0 * (double)p->done / (double)p->total;
    return percent > 100.0 ? 100.0 : percent;
}

int ulm__dmr_pull_end(ulm_dmr_error *error, const ulm_dmr_pull_reader *r,
                      const ulm_dmr_pull_progress *p)
{
    if (p->state == ULM_DMR_PULL_FAILED) {
        error->code = p->error;
        error->text = p->error_text.data;
        error->length = p->error_text.len;
        return error->code;
    }
    if (r->failed == ULM_ETOO_LARGE)
        return fail(error, ULM_ETOO_LARGE, "a pull progress line is longer than 1 MiB");
    if (r->failed)
        return fail(error, r->failed, NULL);
    if (r->line.len)
        return fail(error, ULM_EPROTOCOL, "the pull stream was cut inside a line");
    if (p->state == ULM_DMR_PULL_SUCCEEDED)
        return fail(error, ULM_OK, NULL);
    return fail(error, ULM_EPROTOCOL, "the pull stream ended before its success line");
}

void ulm__dmr_pull_progress_clear(ulm_dmr_pull_progress *p)
{
    for (size_t i = 0; i < ulm__dmr_pull_layer_count(p); i++)
        release(((ulm_dmr_pull_layer *)p->layers.data)[i].id);
    ulm_text_free(&p->layers);
    ulm_text_free(&p->error_text);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ answers */

/* The JSON of a 2xx answer into *root (decref it); another status is classified. */
static int answer_json(json_t **root, ulm_dmr_error *error, ulm_dmr_call call, int status,
                       const char *body, size_t length)
{
    *root = NULL;
    memset(error, 0, sizeof *error);
    if (status < 200 || status > 299)
        return ulm__dmr_error_of(error, call, status, body, length);
    *root = json_loadb(body, length, JSON_DECODE_ANY, NULL); /* a list may be null */
    return *root ? ULM_OK : fail(error, ULM_EPROTOCOL, "the answer is not JSON");
}

/* The same for an answer that is an object. */
static int answer_object(json_t **root, ulm_dmr_error *error, ulm_dmr_call call, int status,
                         const char *body, size_t length)
{
    int rc = answer_json(root, error, call, status, body, length);
    if (rc != ULM_OK || json_is_object(*root))
        return rc;
    json_decref(*root);
    *root = NULL;
    return fail(error, ULM_EPROTOCOL, "the answer is not a JSON object");
}

/* The items a list answer can hold, so that one reader fills any of them. */
typedef union dmr_item {
    ulm_dmr_model model;
    ulm_dmr_openai_model openai;
    ulm_dmr_runner runner;
    ulm_dmr_removal removal;
} dmr_item;

/* Each element of array read by read_item (ULM_OK, ULM_EPROTOCOL or ULM_ENOMEM; it frees
 * what it took when it fails) and pushed into vec. */
static int read_items(ulm_text *vec, json_t *array, size_t size,
                      int (*read_item)(void *item, json_t *value), void (*clear_item)(void *item))
{
    size_t i;
    json_t *value;
    json_array_foreach(array, i, value) {
        dmr_item item;
        int rc = read_item(&item, value);
        if (rc == ULM_OK && push(vec, &item, size) != ULM_OK) {
            clear_item(&item);
            rc = ULM_ENOMEM;
        }
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

/* A list answer: a JSON array (or null: none) at key of an object answer, or the answer
 * itself when key is NULL, read into vec; what it read is cleared when it fails. */
static int read_list(ulm_text *vec, ulm_dmr_error *error, ulm_dmr_call call, int status,
                     const char *body, size_t length, const char *key, size_t size,
                     int (*read_item)(void *, json_t *), void (*clear_item)(void *),
                     const char *what)
{
    json_t *root;
    int rc = key ? answer_object(&root, error, call, status, body, length)
                 : answer_json(&root, error, call, status, body, length);
    if (rc != ULM_OK)
        return rc;
    json_t *array = key ? json_object_get(root, key) : root;
    if (json_is_array(array))
        rc = read_items(vec, array, size, read_item, clear_item);
    else if (!json_is_null(array))
        rc = ULM_EPROTOCOL;
    json_decref(root);
    if (rc == ULM_OK)
        return ULM_OK;
    for (size_t i = 0; i < vec->len / size; i++)
        clear_item(vec->data + i * size);
    ulm_text_free(vec);
    return fail(error, rc, rc == ULM_EPROTOCOL ? what : NULL);
}

/* ------------------------------------------------------------ pulled models */

void ulm__dmr_model_clear(ulm_dmr_model *m)
{
    release(m->id);
    for (size_t i = 0; i < m->tag_count; i++)
        release(m->tags[i]);
    release(m->tags);
    release(m->format);
    release(m->quantization);
    release(m->parameters);
    release(m->architecture);
    release(m->size);
    memset(m, 0, sizeof *m);
}

static void clear_model(void *item)
{
    ulm__dmr_model_clear(item);
}

static int read_tags(ulm_dmr_model *m, json_t *tags)
{
    ulm_text vec = {0};
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag) {
        if (!json_is_string(tag))
            continue;
        char *copy = copy_of(json_string_value(tag), json_string_length(tag));
        if (!copy || push(&vec, &copy, sizeof copy) != ULM_OK) {
            release(copy);
            m->tags = (char **)vec.data;
            m->tag_count = vec.len / sizeof copy;
            return ULM_ENOMEM;
        }
    }
    m->tags = (char **)vec.data;
    m->tag_count = vec.len / sizeof(char *);
    return ULM_OK;
}

static int read_model(void *item, json_t *value)
{
    ulm_dmr_model *m = item;
    memset(m, 0, sizeof *m);
    m->created = -1;
    m->context_size = -1;
    if (!json_is_object(value))
        return ULM_EPROTOCOL;
    json_t *config = json_object_get(value, "config");
    int rc = copy_string(&m->id, value, "id", NULL);
    if (rc == ULM_OK)
        rc = read_tags(m, json_object_get(value, "tags"));
    m->created = integer_or(value, "created", -1);
    m->context_size = (long)integer_or(config, "context_size", -1);
    if (rc == ULM_OK)
        rc = copy_string(&m->format, config, "format", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->quantization, config, "quantization", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->parameters, config, "parameters", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->architecture, config, "architecture", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->size, config, "size", NULL);
    if (rc != ULM_OK)
        ulm__dmr_model_clear(m);
    return rc;
}

int ulm__dmr_parse_models(ulm_dmr_model_list *out, ulm_dmr_error *error, int status,
                          const char *body, size_t length)
{
    ulm_text vec = {0};
    memset(out, 0, sizeof *out);
    int rc = read_list(&vec, error, ULM_DMR_MODELS, status, body, length, NULL,
                       sizeof(ulm_dmr_model), read_model, clear_model,
                       "the model list is not an array of objects");
    out->items = (ulm_dmr_model *)vec.data;
    out->count = vec.len / sizeof(ulm_dmr_model);
    return rc;
}

int ulm__dmr_parse_model(ulm_dmr_model *out, ulm_dmr_error *error, int status, const char *body,
                         size_t length)
{
    json_t *root;
    memset(out, 0, sizeof *out);
    int rc = answer_object(&root, error, ULM_DMR_MODEL, status, body, length);
    if (rc != ULM_OK)
        return rc;
    rc = read_model(out, root);
    json_decref(root);
    return rc == ULM_OK ? ULM_OK : fail(error, rc, NULL);
}

/* name is the model's ID, whole, bare or short (its first 12 hex digits). */
static int id_matches(const char *id, const char *name)
{
    if (!id || strncmp(id, "sha256:", 7) != 0 || !is_model_id(name))
        return 0;
    size_t n = strlen(name);
    return n == 71 ? strcmp(id, name) == 0 : strncmp(id + 7, name, n) == 0;
}

const ulm_dmr_model *ulm__dmr_models_find(const ulm_dmr_model_list *list, const char *name)
{
    for (size_t i = 0; name && i < list->count; i++) {
        const ulm_dmr_model *m = &list->items[i];
        if (id_matches(m->id, name))
            return m;
        for (size_t t = 0; t < m->tag_count; t++)
            if (ulm__dmr_same_model(m->tags[t], name))
                return m;
    }
    return NULL;
}

void ulm__dmr_model_list_clear(ulm_dmr_model_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        ulm__dmr_model_clear(&list->items[i]);
    release(list->items);
    memset(list, 0, sizeof *list);
}

static void clear_openai(void *item)
{
    ulm_dmr_openai_model *m = item;
    release(m->id);
    release(m->architecture);
    release(m->parameters);
    release(m->quantization);
    release(m->size);
    memset(m, 0, sizeof *m);
}

static int read_openai(void *item, json_t *value)
{
    ulm_dmr_openai_model *m = item;
    memset(m, 0, sizeof *m);
    if (!json_is_object(value))
        return ULM_EPROTOCOL;
    json_t *dmr = json_object_get(value, "dmr");
    m->created = integer_or(value, "created", -1);
    m->context_window = (long)integer_or(dmr, "context_window", -1);
    int rc = copy_string(&m->id, value, "id", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->architecture, dmr, "architecture", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->parameters, dmr, "parameters", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->quantization, dmr, "quantization", NULL);
    if (rc == ULM_OK)
        rc = copy_string(&m->size, dmr, "size", NULL);
    if (rc != ULM_OK)
        clear_openai(m);
    return rc;
}

int ulm__dmr_parse_openai_models(ulm_dmr_openai_model_list *out, ulm_dmr_error *error, int status,
                                 const char *body, size_t length)
{
    ulm_text vec = {0};
    memset(out, 0, sizeof *out);
    int rc = read_list(&vec, error, ULM_DMR_OPENAI_MODELS, status, body, length, "data",
                       sizeof(ulm_dmr_openai_model), read_openai, clear_openai,
                       "the model list has no data array of objects");
    out->items = (ulm_dmr_openai_model *)vec.data;
    out->count = vec.len / sizeof(ulm_dmr_openai_model);
    return rc;
}

long ulm__dmr_context_window(const ulm_dmr_openai_model_list *list, const char *name)
{
    for (size_t i = 0; name && i < list->count; i++)
        if (list->items[i].id && ulm__dmr_same_model(list->items[i].id, name))
            return list->items[i].context_window;
    return -1;
}

void ulm__dmr_openai_model_list_clear(ulm_dmr_openai_model_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        clear_openai(&list->items[i]);
    release(list->items);
    memset(list, 0, sizeof *list);
}

/* ------------------------------------------------------------ runners */

static void clear_runner(void *item)
{
    ulm_dmr_runner *r = item;
    release(r->backend);
    release(r->model);
    release(r->mode);
    release(r->last_used);
    release(r->keep_alive);
    memset(r, 0, sizeof *r);
}

static int read_runner(void *item, json_t *value)
{
    ulm_dmr_runner *r = item;
    memset(r, 0, sizeof *r);
    if (!json_is_object(value))
        return ULM_EPROTOCOL;
    r->in_use = json_is_true(json_object_get(value, "in_use"));
    r->loading = json_is_true(json_object_get(value, "loading"));
    int rc = copy_string(&r->backend, value, "backend_name", "");
    if (rc == ULM_OK)
        rc = copy_string(&r->model, value, "model_name", "");
    if (rc == ULM_OK)
        rc = copy_string(&r->mode, value, "mode", "");
    if (rc == ULM_OK)
        rc = copy_string(&r->last_used, value, "last_used", "");
    if (rc == ULM_OK)
        rc = copy_string(&r->keep_alive, value, "keep_alive", NULL);
    if (rc != ULM_OK) {
        clear_runner(r);
        return rc;
    }
    r->last_used_zero = strncmp(r->last_used, "0001-01-01T00:00:00", 19) == 0;
    return ULM_OK;
}

int ulm__dmr_parse_ps(ulm_dmr_runner_list *out, ulm_dmr_error *error, int status, const char *body,
                      size_t length)
{
    ulm_text vec = {0};
    memset(out, 0, sizeof *out);
    int rc = read_list(&vec, error, ULM_DMR_PS, status, body, length, NULL, sizeof(ulm_dmr_runner),
                       read_runner, clear_runner, "the runner list is not an array of objects");
    out->items = (ulm_dmr_runner *)vec.data;
    out->count = vec.len / sizeof(ulm_dmr_runner);
    return rc;
}

const ulm_dmr_runner *ulm__dmr_runners_find(const ulm_dmr_runner_list *list, const char *name,
                                            const char *mode)
{
    for (size_t i = 0; name && i < list->count; i++) {
        const ulm_dmr_runner *r = &list->items[i];
        if (ulm__dmr_same_model(r->model, name) && (!mode || strcmp(r->mode, mode) == 0))
            return r;
    }
    return NULL;
}

void ulm__dmr_runner_list_clear(ulm_dmr_runner_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        clear_runner(&list->items[i]);
    release(list->items);
    memset(list, 0, sizeof *list);
}

int ulm__dmr_parse_unload(long *unloaded, ulm_dmr_error *error, int status, const char *body,
                          size_t length)
{
    json_t *root;
    *unloaded = 0;
    int rc = answer_object(&root, error, ULM_DMR_UNLOAD, status, body, length);
    if (rc != ULM_OK)
        return rc;
    json_t *count = json_object_get(root, "unloaded_runners");
    if (json_is_integer(count) && json_integer_value(count) >= 0)
        *unloaded = (long)json_integer_value(count);
    else
        rc = fail(error, ULM_EPROTOCOL, "the answer has no unloaded_runners count");
    json_decref(root);
    return rc;
}

int ulm__dmr_parse_done(ulm_dmr_error *error, ulm_dmr_call call, int status, const char *body,
                        size_t length)
{
    memset(error, 0, sizeof *error);
    if (status < 200 || status > 299)
        return ulm__dmr_error_of(error, call, status, body, length);
    return ULM_OK;
}

/* ------------------------------------------------------------ removal */

static void clear_removal(void *item)
{
    ulm_dmr_removal *d = item;
    release(d->ref);
    memset(d, 0, sizeof *d);
}

static int read_removal(void *item, json_t *value)
{
    ulm_dmr_removal *d = item;
    memset(d, 0, sizeof *d);
    json_t *untagged = json_object_get(value, "Untagged");
    json_t *deleted = json_object_get(value, "Deleted");
    json_t *ref = json_is_string(untagged) ? untagged : deleted;
    if (!json_is_string(ref))
        return ULM_EPROTOCOL;
    d->deleted = ref == deleted;
    d->ref = copy_of(json_string_value(ref), json_string_length(ref));
    return d->ref ? ULM_OK : ULM_ENOMEM;
}

int ulm__dmr_parse_remove(ulm_dmr_removal_list *out, ulm_dmr_error *error, int status,
                          const char *body, size_t length)
{
    ulm_text vec = {0};
    memset(out, 0, sizeof *out);
    int rc = read_list(&vec, error, ULM_DMR_REMOVE, status, body, length, NULL,
                       sizeof(ulm_dmr_removal), read_removal, clear_removal,
                       "the removal is not a list of Untagged and Deleted entries");
    out->items = (ulm_dmr_removal *)vec.data;
    out->count = vec.len / sizeof(ulm_dmr_removal);
    return rc;
}

void ulm__dmr_removal_list_clear(ulm_dmr_removal_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        clear_removal(&list->items[i]);
    release(list->items);
    memset(list, 0, sizeof *list);
}

/* ------------------------------------------------------------ the runner itself */

int ulm__dmr_parse_banner(ulm_dmr_error *error, int status, const char *body, size_t length)
{
    static const char banner[] = "Docker Model Runner is running";
    memset(error, 0, sizeof *error);
    if (status < 200 || status > 299)
        return ulm__dmr_error_of(error, ULM_DMR_BANNER, status, body, length);
    if (trimmed(body, length) != sizeof banner - 1 || memcmp(body, banner, sizeof banner - 1))
        return fail(error, ULM_EPROTOCOL, "the answer to GET / is not Docker Model Runner's");
    return ULM_OK;
}

int ulm__dmr_parse_version(char **version, ulm_dmr_error *error, int status, const char *body,
                           size_t length)
{
    json_t *root;
    *version = NULL;
    int rc = answer_object(&root, error, ULM_DMR_VERSION, status, body, length);
    if (rc != ULM_OK)
        return rc;
    if (!json_is_string(json_object_get(root, "version")))
        rc = fail(error, ULM_EPROTOCOL, "the answer has no version");
    else if (copy_string(version, root, "version", NULL) != ULM_OK)
        rc = fail(error, ULM_ENOMEM, NULL);
    json_decref(root);
    return rc;
}

int ulm__dmr_parse_disk_usage(ulm_dmr_disk_usage *out, ulm_dmr_error *error, int status,
                              const char *body, size_t length)
{
    json_t *root;
    memset(out, 0, sizeof *out);
    int rc = answer_object(&root, error, ULM_DMR_DISK_USAGE, status, body, length);
    if (rc != ULM_OK)
        return rc;
    out->models = integer_or(root, "models_disk_usage", -1);
    out->default_backend = integer_or(root, "default_backend_disk_usage", -1);
    if (out->models < 0 || out->default_backend < 0) {
        memset(out, 0, sizeof *out);
        rc = fail(error, ULM_EPROTOCOL, "the answer has no disk usage counts");
    }
    json_decref(root);
    return rc;
}

int ulm__dmr_parse_status(ulm_dmr_backend_list *out, ulm_dmr_error *error, int status,
                          const char *body, size_t length)
{
    json_t *root;
    memset(out, 0, sizeof *out);
    int rc = answer_object(&root, error, ULM_DMR_STATUS, status, body, length);
    if (rc != ULM_OK)
        return rc;
    ulm_text vec = {0};
    const char *name;
    json_t *state;
    json_object_foreach(root, name, state) {
        if (!json_is_string(state)) {
            rc = ULM_EPROTOCOL;
            break;
        }
        ulm_dmr_backend b = {copy_of(name, strlen(name)),
                             copy_of(json_string_value(state), json_string_length(state))};
        if (!b.name || !b.state || push(&vec, &b, sizeof b) != ULM_OK) {
            release(b.name);
            release(b.state);
            rc = ULM_ENOMEM;
            break;
        }
    }
    json_decref(root);
    out->items = (ulm_dmr_backend *)vec.data;
    out->count = vec.len / sizeof(ulm_dmr_backend);
    if (rc == ULM_OK)
        return ULM_OK;
    ulm__dmr_backend_list_clear(out);
    return fail(error, rc, rc == ULM_EPROTOCOL ? "a backend's status is not a string" : NULL);
}

void ulm__dmr_backend_list_clear(ulm_dmr_backend_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        release(list->items[i].name);
        release(list->items[i].state);
    }
    release(list->items);
    memset(list, 0, sizeof *list);
}
