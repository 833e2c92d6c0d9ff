/* main.c - the ultra-llm program: finds the command named by the first argument and runs it. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command *const commands[] = {
    &cli_chat_command,     &cli_compare_command, &cli_embed_command,
    &cli_models_command,   &cli_pull_command,    &cli_ps_command,
    &cli_unload_command,   &cli_rm_command,      &cli_preload_command,
    &cli_doctor_command,
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

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
    } else {
        fprintf(stderr, "ultra-llm: unknown %s '%s'\n", argv[1][0] == '-' ? "option" : "command",
                argv[1]);
    }
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
