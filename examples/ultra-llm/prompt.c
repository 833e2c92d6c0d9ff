/* prompt.c - the prompt of a command: its operand, or standard input for "-". */
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
    return 0;
}
