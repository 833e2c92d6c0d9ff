/* interrupt.c - Ctrl-C during a call: a cancel token the first Ctrl-C triggers; the second ends the program. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The token of the call under way, and how SIGINT was handled before it. */
static ulm_cancel *interrupt_token;
static struct sigaction previous_action;

static void on_interrupt(int signal_number)
{
    (void)signal_number;
    ulm_cancel_trigger(interrupt_token); /* safe in a signal handler */
}

int cli_interrupt_catch(ulm_cancel **token)
{
    *token = NULL;
    if (ulm_cancel_new(&interrupt_token) != ULM_OK ||
        sigaction(SIGINT, NULL, &previous_action) != 0) {
        fprintf(stderr, "ultra-llm: cannot catch Ctrl-C: out of resources\n");
        ulm_cancel_free(interrupt_token);
        interrupt_token = NULL;
        return CLI_EXIT_FAILED;
    }
    /* a background job of a shell without job control ignores SIGINT: it stays deaf to
     * the terminal's Ctrl-C */
    if (previous_action.sa_handler != SIG_IGN) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_interrupt;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND; /* the second Ctrl-C is not caught */
        sigaction(SIGINT, &action, NULL);
    }
    *token = interrupt_token;
    return 0;
}

int cli_interrupt_release(ulm_cancel *token)
{
    if (!token)
        return 0;
    sigaction(SIGINT, &previous_action, NULL);
    int interrupted = ulm_cancel_triggered(token);
    ulm_cancel_free(token);
    interrupt_token = NULL;
    return interrupted;
}
