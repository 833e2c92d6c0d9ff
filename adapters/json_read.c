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

int ulm__json_object_of(const char *body, size_t length, const char *what, ulm_result *out,
                        json_t **root)
{
    *root = json_loadb(body, length, 0, NULL);
    if (json_is_object(*root))
        return ULM_OK;
    json_decref(*root);
    *root = NULL;
    char reason[64];
    snprintf(reason, sizeof reason, "%s is not a JSON object", what);
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
