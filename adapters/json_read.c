/* json_read.c - the pieces of answer parsing that every adapter does alike. */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "json_read.h"

int ulm__code_of(const ulm_name_code *table, size_t count, const char *name, int fallback)
{
    for (size_t i = 0; name && i < count; i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].code;
    return fallback;
}

long ulm__json_count(json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v) : -1;
}

int ulm__protocol_error(ulm_result *out, const char *what)
{
    return ulm_result_set_error(out, ULM_EPROTOCOL, what, strlen(what));
}

int ulm__error_with_message(ulm_result *out, int code, json_t *message)
{
    return json_is_string(message) ? ulm_result_set_error(out, code, json_string_value(message),
                                                          json_string_length(message))
                                   : ulm_result_set_error(out, code, NULL, 0);
}

/*
 * Whether body is server-sent events: its first line, after blank space, is one of the
 * fields of an event or a comment. No JSON text starts that way, so a body that failed to
 * parse and does is a stream sent to a request that did not ask for one.
 */
static int is_event_stream(const char *body, size_t length)
{
    static const char *const starts[] = {"data:", "event:", "id:", "retry:", ":"};
    size_t i = 0;
    while (i < length && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
        size_t n = strlen(starts[k]);
        if (length - i >= n && memcmp(body + i, starts[k], n) == 0)
            return 1;
    }
    return 0;
}

int ulm__json_object_of(const char *body, size_t length, const char *what, ulm_result *out,
                        json_t **root)
{
    json_error_t error;
    *root = json_loadb(body, length, 0, &error);
    if (json_is_object(*root))
        return ULM_OK;
    json_decref(*root);
    char reason[96];
    if (!*root && is_event_stream(body, length)) {
        snprintf(reason, sizeof reason, "%s is an event stream where JSON was expected", what);
    } else if (!*root && json_error_code(&error) == json_error_invalid_utf8 &&
               error.position >= 0 && (size_t)error.position < length) {
        /* jansson's position is the offset of the sequence's first byte */
        snprintf(reason, sizeof reason, "%s has invalid UTF-8 at byte %d (0x%02x)", what,
                 error.position, (unsigned char)body[error.position]);
    } else {
        snprintf(reason, sizeof reason, "%s is not a JSON object", what);
    }
    *root = NULL;
    return ulm__protocol_error(out, reason);
}

int ulm__json_model_ids(json_t *root, ulm_result *out)
{
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data))
        return ulm__protocol_error(out, "the model list has no data array");
    size_t i;
    json_t *entry;
    json_array_foreach(data, i, entry) {
        const char *id = json_string_value(json_object_get(entry, "id"));
        if (!id)
            return ulm__protocol_error(out, "a model entry has no id");
        int rc = ulm_result_add_model_id(out, id);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

int ulm__json_add_vector(ulm_result *out, json_t *array)
{
    size_t n = json_array_size(array);
    if (!json_is_array(array) || n == 0)
        return ulm__protocol_error(out, "an embedding is not an array of numbers");
    float *values = malloc(n * sizeof *values);
    if (!values)
        return ULM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(array, i);
        if (!json_is_number(v)) {
            free(values);
            return ulm__protocol_error(out, "an embedding is not an array of numbers");
        }
        values[i] = (float)json_number_value(v);
    }
    int rc = ulm_result_add_embedding(out, values, n);
    free(values);
    return rc;
}
