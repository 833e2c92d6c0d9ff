/* pull.c - `ultra-llm pull`: a model pulled into Docker Model Runner, with a progress bar on a terminal. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
    OPT_BACKEND = CLI_OPT_OWN
};

#define BAR_WIDTH 24

/* What the progress display has shown so far. */
typedef struct pull_view {
    int terminal;   /* stdout is a terminal: one line redrawn in place */
    double started; /* seconds, monotonic */
    int drawn;      /* the terminal line holds a bar */
    int last_tenth; /* plain lines: the last tenth of the way printed */
    size_t last_layers_done;
} pull_view;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* bytes as "12.3 MiB", into buf. */
static void format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* "  45% [==========>         ] 1.2 MiB/2.6 MiB  350.0 KiB/s  ETA 4s", redrawn in place. */
static void draw_bar(pull_view *v, const ulm_pull_progress *p)
{
    char done[32], total[32], rate[32] = "", eta[32] = "";
    format_bytes((double)p->done_bytes, done, sizeof done);
    format_bytes((double)p->total_bytes, total, sizeof total);
    double elapsed = now_seconds() - v->started;
    if (elapsed > 0.2 && p->done_bytes) {
        double per_second = (double)p->done_bytes / elapsed;
        format_bytes(per_second, rate, sizeof rate - 2);
        strcat(rate, "/s");
        if (p->total_bytes > p->done_bytes)
            snprintf(eta, sizeof eta, "  ETA %.0fs",
                     (double)(p->total_bytes - p->done_bytes) / per_second);
    }
    int filled = (int)(p->percent / 100 * BAR_WIDTH + 0.5);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
    bar[BAR_WIDTH] = '\0';
    printf("\r%s %3.0f%% [%s] %s/%s  %s%s\033[K", p->model, p->percent, bar, done, total, rate,
           eta);
    fflush(stdout);
    v->drawn = 1;
}

/* Off a terminal: a line each tenth of the way and each layer finished. */
static void print_line(pull_view *v, const ulm_pull_progress *p)
{
    int percent = (int)(p->percent + 0.5), tenth = percent / 10;
    if (tenth == v->last_tenth && p->layers_done == v->last_layers_done)
        return;
    v->last_tenth = tenth;
    v->last_layers_done = p->layers_done;
    char done[32], total[32];
    format_bytes((double)p->done_bytes, done, sizeof done);
    format_bytes((double)p->total_bytes, total, sizeof total);
    printf("%s: %d%% (%s of %s, %zu of %zu layers done)\n", p->model, percent, done, total,
           p->layers_done, p->layers);
    fflush(stdout);
}

static int on_progress(const ulm_pull_progress *p, void *payload)
{
    pull_view *v = payload;
    if (p->finished) {
        if (v->drawn && !p->cached)
            draw_bar(v, p); /* the bar at 100% stays on screen */
        if (v->drawn)
            putchar('\n');
        v->drawn = 0;
        char total[32];
        format_bytes((double)p->total_bytes, total, sizeof total);
        if (p->cached)
            printf("%s: already pulled\n", p->model);
        else
            printf("%s: pulled (%s in %.1f s)\n", p->model, total, now_seconds() - v->started);
    } else if (v->terminal) {
        draw_bar(v, p);
    } else {
        print_line(v, p);
    }
    return ferror(stdout) ? 1 : 0; /* a closed pipe stops the pull */
}

static int take_backend(int val, const char *arg, void *ctx)
{
    (void)val;
    *(const char **)ctx = arg;
    return 1;
}

static int run_pull(const cli_command *self, int argc, char **argv)
{
    static const struct option own_options[] = {
        {"backend", required_argument, NULL, OPT_BACKEND},
        {NULL, 0, NULL, 0},
    };
    const char *backend = NULL;
    const cli_own_options own = {own_options, take_backend, &backend};
    cli_options o;
    int code = cli_parse(self, CLI_OPT_CONFIG, &own, argc, argv, &o);
    ulm_client *client = NULL;
    cli_runner_target_t target;
    if (code == CLI_CONTINUE && o.operands + 1 != argc)
        code = cli_usage_error(self,
                               o.operands == argc ? "a MODEL is needed" : "one MODEL at a time");
    if (code != CLI_CONTINUE || (code = cli_client_open(o.config, &client)) != 0 ||
        (code = cli_runner_target(client, backend, argv[o.operands], &target)) != 0)
        goto out;
    ulm_cancel *interrupt = NULL;
    if ((code = cli_interrupt_catch(&interrupt)) != 0)
        goto out;
    pull_view view = {isatty(STDOUT_FILENO), now_seconds(), 0, -1, 0};
    char err[ULM_ERROR_SIZE];
    int rc = ulm_dmr_pull(client, target.backend, target.model, on_progress, &view, interrupt, err,
                          sizeof err);
    int interrupted = cli_interrupt_release(interrupt) && rc == ULM_ECANCELLED;
    if (view.drawn)
        putchar('\n'); /* the bar's line ends before any message */
    fflush(stdout);
    if (interrupted) {
        fprintf(stderr,
                "ultra-llm: pull of %s stopped: the runner keeps what it downloaded, "
                "and the next pull resumes it\n",
                target.model);
        code = CLI_EXIT_INTERRUPTED;
    } else if (rc != ULM_OK) {
        code = cli_runner_failure(client, &target, rc, err, 0);
    }
out:
    ulm_client_free(client);
    cli_options_free(&o);
    return code;
}

const cli_command cli_pull_command = {
    "pull",
    "ultra-llm pull [--config FILE] [--backend NAME] MODEL",
    "Pulls MODEL (ai/smollm2, or dmr/ai/smollm2 as chat's -m writes it) into Docker Model\n"
    "Runner. On a terminal a bar shows the percent, bytes, rate and time left; otherwise a\n"
    "line is printed each tenth of the way and each layer done. A model already pulled\n"
    "returns at once. Ctrl-C stops the pull; the runner keeps what it downloaded and the\n"
    "next pull resumes it.\n" CLI_BACKEND_HELP
    "Exits 0; 1 when the pull failed; 2 for a usage error; 130 after Ctrl-C.\n",
    run_pull,
};
