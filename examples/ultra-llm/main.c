/* main.c - the ultra-llm program: finds the command named by the first argument and runs it. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command *const commands[] = {
    &cli_chat_command,    &cli_compare_command, &cli_embed_command,  &cli_models_command,
    &cli_pull_command,    &cli_ps_command,      &cli_unload_command, &cli_rm_command,
    &cli_preload_command, &cli_doctor_command,
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

/* The edits (insert, delete, replace a letter) that turn a into b, up to 3: enough to tell a
 * typo from another word. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 16 || lb > 16)
        return 3;
    int row[17];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diagonal = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int above = row[j];
            int best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb] < 3 ? row[lb] : 3;
}

/* The command name is closest to, when it is a likely typo of one; else NULL. */
static const char *likely_command(const char *name)
{
    const char *best = NULL;
    int best_distance = 3;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        int d = edit_distance(name, commands[i]->name);
        if (d < best_distance && d < (int)strlen(commands[i]->name)) {
            best = commands[i]->name;
            best_distance = d;
        }
    }
    return best;
}

static void print_usage(FILE *out)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "%s%s\n", i ? "       " : "usage: ", commands[i]->synopsis);
    fprintf(out, "       ultra-llm --version\n\n"
                 "ultra-llm COMMAND --help describes a command and its options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("ultra-llm: no command given\n", stderr);
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->run(commands[i], argc - 1, argv + 1);
    int version = strcmp(argv[1], "--version") == 0;
    int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
               strcmp(argv[1], "help") == 0;
    if ((version || help) && argc > 2) {
        fprintf(stderr, "ultra-llm: %s takes no argument ('%s')\n", argv[1], argv[2]);
    } else if (version) {
        printf("ultra-llm %s\n", ulm_version_string());
        return 0;
    } else if (help) {
        print_usage(stdout);
        return 0;
    } else if (argv[1][0] == '-') {
        fprintf(stderr, "ultra-llm: unknown option '%s'\n", argv[1]);
    } else {
        const char *meant = likely_command(argv[1]);
        fprintf(stderr, "ultra-llm: unknown command '%s'%s%s%s\n", argv[1],
                meant ? "; did you mean '" : "", meant ? meant : "", meant ? "'?" : "");
    }
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
