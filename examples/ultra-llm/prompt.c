/* prompt.c - the prompt of a command: its operand, or standard input for "-", checked to be UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_STDIN_PROMPT (10L * 1024 * 1024)

static char *read_stdin(void)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap > (size_t)MAX_STDIN_PROMPT) {
                fprintf(stderr, "ultra-llm: the prompt on standard input exceeds 10 MiB\n");
                free(buf);
                return NULL;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* Nothing but spaces, tabs and line ends: nothing a model could answer. */
static int blank(const char *text)
{
    return text[strspn(text, " \t\r\n")] == '\0';
}

/*
 * The offset of the first byte of text that does not start a well-formed UTF-8 character
 * (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF), or -1. The
 * library refuses such text with nothing but ULM_EINVAL; a user needs to know where.
 */
static long invalid_utf8_at(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; s[i];) {
        unsigned char c = s[i];
        size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                                   : c >= 0xF0 && c <= 0xF4 ? 3 : 4;
        if (need == 4)
            return (long)i;
        unsigned char low = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned char high = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        for (size_t k = 1; k <= need; k++)
            if (s[i + k] < (k == 1 ? low : 0x80) || s[i + k] > (k == 1 ? high : 0xBF))
                return (long)i;
        i += need + 1;
    }
    return -1;
}

int cli_text_check(const char *what, const char *text)
{
    long at = invalid_utf8_at(text);
    if (at < 0)
        return 0;
    fprintf(stderr, "ultra-llm: the %s has invalid UTF-8 at byte %ld (0x%02x): nothing was sent\n",
            what, at, (unsigned char)text[at]);
    return CLI_EXIT_USAGE;
}

int cli_prompt_read(const char *operand, char **out)
{
    int from_stdin = strcmp(operand, "-") == 0;
    *out = from_stdin ? read_stdin() : strdup(operand);
    if (!*out)
        return CLI_EXIT_USAGE;
    if (blank(*out)) {
        fprintf(stderr, "ultra-llm: the prompt%s is empty: nothing was sent\n",
                from_stdin ? " on standard input" : "");
        free(*out);
        *out = NULL;
        return CLI_EXIT_USAGE;
    }
    if (cli_text_check("prompt", *out) != 0) {
        free(*out);
        *out = NULL;
        return CLI_EXIT_USAGE;
    }
    return 0;
}
