/* fuzz_config_file.c - any bytes into the configuration file parser and the JSON line scanner: a libFuzzer target, or a replayer of saved inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "json_locate.h"
#include "replay_main.h" /* main() when built without libFuzzer */

static const char *const known_types[] = {"dmr", "openai", NULL};
static const char *const builtin_backends[] = {"dmr", "openai", NULL};

/*
 * Whether message shows a string of the input that starts like an API key, quoted or as a
 * path step. Short ones are left out: "sk-ab" also occurs inside ordinary values, which
 * messages may quote.
 */
static int shows_a_key(const char *message, const char *text, size_t size)
{
    for (size_t i = 0; i + 1 < size; i++) {
        const char *s = text + i + 1;
        size_t left = size - i - 1;
        if (text[i] != '"' || !((left >= 3 && memcmp(s, "sk-", 3) == 0) ||
                                (left >= 4 && memcmp(s, "AIza", 4) == 0)))
            continue;
        char token[16];
        size_t n = 0;
        while (n < sizeof token - 1 && n < left && s[n] != '"' && s[n] != '\\' &&
               (unsigned char)s[n] >= 0x20) {
            token[n] = s[n];
            n++;
        }
        token[n] = '\0';
        if (n < 8)
            continue;
        for (const char *p = strstr(message, token); p; p = strstr(p + 1, token))
            if (p > message && (strchr(".' ", p[-1]) ||
                                (p[-1] == '"' && (p - 1 == message || p[-2] != '\\'))))
                return 1;
    }
    return 0;
}

static void check_parse(const char *text, size_t size)
{
    ulm_file_config c;
    char err[ULM_ERROR_SIZE];
    int rc = ulm__file_config_parse(text, size, "fuzz.json", known_types, builtin_backends, &c,
                                    err, sizeof err);
    if (rc == ULM_OK) {
        /* every entry is found again by its name */
        for (size_t i = 0; i < c.alias_count; i++)
            if (ulm__file_config_alias(&c, c.aliases[i].name) != &c.aliases[i] ||
                c.aliases[i].target_count == 0)
                abort();
        for (size_t i = 0; i < c.model_count; i++)
            if (ulm__file_config_model(&c, c.models[i].name) != &c.models[i])
                abort();
        for (size_t i = 0; i < c.backend_count; i++)
            if (!c.backends[i].type || c.backends[i].url_count == 0)
                abort();
    } else if (rc == ULM_ECONFIG) {
        /* jansson accepted what the scanner reads, so the scanner finds every value: a
         * line 0 means the two disagree */
        if (strncmp(err, "fuzz.json:", 10) != 0 || strncmp(err, "fuzz.json:0:", 12) == 0 ||
            shows_a_key(err, text, size))
            abort();
    } else {
        abort();
    }
    ulm__file_config_free(&c);
}

static void check_scanner(const char *text, size_t size)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    /* a key taken from the input, so that matching runs on keys that are there */
    char key[33];
    size_t key_len = size < sizeof key - 1 ? size : sizeof key - 1;
    memcpy(key, text, key_len);
    key[key_len] = '\0';
    const ulm_json_step paths[][4] = {
        {{"models", 0}, {"fast", 0}, {NULL, 1}, {NULL, 0}},
        {{"backends", 0}, {"local", 0}, {"urls", 0}, {NULL, 0}},
        {{NULL, 0}, {NULL, 3}, {"a", 0}, {"", 0}},
        {{key, 0}, {NULL, 0}, {key, 0}, {NULL, 2}},
    };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        for (size_t depth = 0; depth <= 4; depth++)
            if (ulm__json_line(text, size, paths[p], depth) > lines)
                abort();
        char where[96];
        ulm__json_path_format(paths[p], 4, where, sizeof where);
        if (strlen(where) >= sizeof where)
            abort();
    }
    char quoted[48];
    ulm__json_quote(text, size, quoted, sizeof quoted);
    if (quoted[0] != '"' || quoted[strlen(quoted) - 1] != '"')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    check_scanner((const char *)data, size);
    return 0;
}
