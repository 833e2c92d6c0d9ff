/* compare.c - `ultra-llm compare`: one prompt to several models at once, their answers side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
    OPT_SYNTHESIZE = CLI_OPT_OWN,
    OPT_QUORUM,
    OPT_ANONYMIZE,
    OPT_STREAM
};

/* compare's own options. */
typedef struct compare_options {
    const char *synthesize;
    size_t quorum;
    int anonymize;
    int stream; /* the members stream, on a pipe too (on a terminal they do anyway) */
} compare_options;

static int take_compare(int val, const char *arg, void *ctx)
{
    compare_options *c = ctx;
    double number;
    switch (val) {
    case OPT_SYNTHESIZE:
        c->synthesize = arg;
        return 1;
    case OPT_QUORUM:
        if (!cli_parse_number(arg, "--quorum", &number))
            return 0;
        if (number != (long)number || number < 1 || number > ULM_ROUND_MAX_MEMBERS) {
            fprintf(stderr, "ultra-llm: --quorum: expected a whole number from 1 to the number "
                            "of -m\n");
            return 0;
        }
        c->quorum = (size_t)number;
        return 1;
    case OPT_ANONYMIZE:
        c->anonymize = 1;
        return 1;
    case OPT_STREAM:
        c->stream = 1;
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------ the live status line */

/* What stderr shows while the round runs, when it is a terminal. */
typedef struct live_status {
    size_t count;
    size_t chunks[ULM_ROUND_MAX_MEMBERS]; /* text chunks received, per member */
    int ended[ULM_ROUND_MAX_MEMBERS];     /* 0 running, 1 answered, -1 failed */
    int state[ULM_ROUND_MAX_MEMBERS];     /* a ulm_member_state, while running */
    double drawn_at;
    int shown; /* stderr is a terminal: the status line is drawn */
} live_status;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* "[1] done  [2] streaming 12  [3] loading  [4] waiting", redrawn in place on stderr. */
static void draw_status(live_status *s)
{
    fputs("\r", stderr);
    for (size_t i = 0; i < s->count; i++) {
        fprintf(stderr, "%s[%zu] ", i ? "  " : "", i + 1);
        if (s->ended[i])
            fputs(s->ended[i] > 0 ? "done" : "failed", stderr);
        else if (s->chunks[i] || s->state[i] == ULM_MEMBER_ANSWERING)
            fprintf(stderr, "streaming %zu", s->chunks[i]);
        else if (s->state[i] == ULM_MEMBER_LOADING)
            fputs("loading", stderr);
        else if (s->state[i] == ULM_MEMBER_PULLING)
            fputs("pulling", stderr);
        else
            fputs("waiting", stderr);
    }
    fputs("\033[K", stderr);
    s->drawn_at = now_ms();
}

static int on_member_delta(size_t member, const char *text, size_t length, void *payload)
{
    (void)text, (void)length;
    live_status *s = payload;
    s->chunks[member]++;
    if (s->shown && now_ms() - s->drawn_at >= 100) /* at most ten redraws a second */
        draw_status(s);
    return 0;
}

static void on_member_state(size_t member, int state, void *payload)
{
    live_status *s = payload;
    s->state[member] = state;
    draw_status(s);
}

static int on_member_done(const ulm_round *round, size_t member, void *payload)
{
    live_status *s = payload;
    s->ended[member] = ulm_response_error(ulm_round_member(round, member)) == ULM_OK ? 1 : -1;
    draw_status(s);
    return 0;
}

/* ------------------------------------------------------------ output */

/* The member's name as answered (provider/model), else as its last attempt asked it, else
 * its -m (no backend took it). */
static void member_name(const ulm_round *round, size_t i, char *buf, size_t size)
{
    const ulm_response *m = ulm_round_member(round, i);
    size_t attempts = ulm_response_attempt_count(m);
    const ulm_attempt *last = attempts ? ulm_response_attempt(m, attempts - 1) : NULL;
    if (*ulm_response_model(m))
        snprintf(buf, size, "%s/%s", ulm_response_provider(m), ulm_response_model(m));
    else if (last)
        snprintf(buf, size, "%s/%s", ulm_attempt_provider(last), ulm_attempt_model(last));
    else
        snprintf(buf, size, "%s", ulm_round_member_spec(round, i));
}

/* "312.4 ms, 12 tokens, 38.4 tokens/s, cost unknown" of an answer, into buf. */
static void answer_figures(const ulm_response *r, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%.1f ms", ulm_response_latency_ms(r));
    long tokens = ulm_response_completion_tokens(r);
    if (tokens >= 0)
        n += snprintf(buf + n, size - (size_t)n, ", %ld tokens", tokens);
    double rate = ulm_response_tokens_per_second(r);
    if (rate >= 0)
        n += snprintf(buf + n, size - (size_t)n, ", %.1f tokens/s", rate);
    double cost = ulm_response_cost(r);
    if (cost >= 0)
        snprintf(buf + n, size - (size_t)n, ", cost %.6f", cost);
    else
        snprintf(buf + n, size - (size_t)n, ", cost unknown");
}

static void print_member_text(ulm_client *client, const ulm_round *round, size_t i)
{
    const ulm_response *m = ulm_round_member(round, i);
    char name[320], figures[160];
    member_name(round, i, name, sizeof name);
    int err = ulm_response_error(m);
    if (err != ULM_OK && !ulm_response_text_length(m)) {
        printf("== [%zu] %s: failed: %s: %s\n\n", i + 1, name, ulm_error_name(err),
               ulm_response_error_message(m));
        fflush(stdout);
        cli_report_hints(client, m);
        return;
    }
    answer_figures(m, figures, sizeof figures);
    printf("== [%zu] %s (%s)%s\n%s\n", i + 1, name, figures,
           ulm_round_member_dissents(round, i) ? ", dissents from the others" : "",
           ulm_response_text(m));
    if (err != ULM_OK) /* cut short: the text that arrived, and why it ends there */
        printf("(incomplete: %s: %s)\n", ulm_error_name(err), ulm_response_error_message(m));
    putchar('\n');
}

/* The word overlap of each pair that answered, as a table; nothing when fewer than two. */
static void print_agreement_text(const ulm_round *round)
{
    size_t n = ulm_round_member_count(round), answered = 0;
    for (size_t i = 0; i < n; i++)
        answered += ulm_response_error(ulm_round_member(round, i)) == ULM_OK;
    if (answered < 2)
        return;
    printf("agreement (word overlap, 0 to 1):\n    ");
    for (size_t j = 0; j < n; j++)
        printf("  [%2zu]", j + 1);
    putchar('\n');
    for (size_t i = 0; i < n; i++) {
        printf("[%2zu] ", i + 1);
        for (size_t j = 0; j < n; j++) {
            double a = ulm_round_agreement(round, i, j);
            if (a < 0)
                printf("  %4s", "-");
            else
                printf("  %4.2f", a);
        }
        putchar('\n');
    }
    putchar('\n');
}

static void print_round_text(ulm_client *client, const ulm_round *round)
{
    for (size_t i = 0; i < ulm_round_member_count(round); i++)
        print_member_text(client, round, i);
    print_agreement_text(round);
    const ulm_response *s = ulm_round_synthesis(round);
    if (s && ulm_response_error(s) == ULM_OK) {
        char figures[160];
        answer_figures(s, figures, sizeof figures);
        printf("== synthesis by %s/%s (%s)\n%s\n\n", ulm_response_provider(s),
               ulm_response_model(s), figures, ulm_response_text(s));
    } else if (s) {
        printf("== synthesis failed: %s: %s\n\n", ulm_error_name(ulm_response_error(s)),
               ulm_response_error_message(s));
    }
    double cost = ulm_round_cost(round);
    char cost_text[48] = "cost unknown";
    if (cost >= 0)
        snprintf(cost_text, sizeof cost_text, "cost %.6f", cost);
    size_t answered = 0;
    for (size_t i = 0; i < ulm_round_member_count(round); i++)
        answered += ulm_response_error(ulm_round_member(round, i)) == ULM_OK;
    printf("%zu of %zu answered in %.1f ms, %s\n", answered, ulm_round_member_count(round),
           ulm_round_latency_ms(round), cost_text);
}

static json_t *round_json(const ulm_round *round)
{
    size_t n = ulm_round_member_count(round);
    json_t *members = json_array(), *agreement = json_array(), *finished = json_array();
    for (size_t i = 0; i < n; i++) {
        const ulm_response *m = ulm_round_member(round, i);
        json_t *o = cli_response_json(m);
        json_object_set_new(o, "member", json_string(ulm_round_member_spec(round, i)));
        int err = ulm_response_error(m);
        json_object_set_new(o, "ok", json_boolean(err == ULM_OK));
        /* a member's error is its name, as a table of members reads best; the rest beside */
        json_object_set_new(o, "error", cli_json_error_name(err));
        json_object_set_new(o, "error_message",
                            cli_json_string_if(err != ULM_OK, ulm_response_error_message(m)));
        json_object_set_new(o, "error_http_status",
                            err == ULM_OK ? json_null()
                                          : cli_json_http_status(ulm_response_http_status(m)));
        json_object_set_new(o, "dissents", json_boolean(ulm_round_member_dissents(round, i)));
        const char *label = ulm_round_member_label(round, i);
        json_object_set_new(o, "label", cli_json_string_if(*label != '\0', label));
        json_object_set_new(o, "truncated", json_boolean(ulm_round_member_truncated(round, i)));
        json_array_append_new(members, o);
        json_t *row = json_array();
        for (size_t j = 0; j < n; j++) {
            double a = ulm_round_agreement(round, i, j);
            json_array_append_new(row, a < 0 ? json_null() : json_real(a));
        }
        json_array_append_new(agreement, row);
    }
    for (size_t k = 0; k < ulm_round_finished_count(round); k++)
        json_array_append_new(finished, json_integer((json_int_t)ulm_round_finished(round, k)));
    const ulm_response *s = ulm_round_synthesis(round);
    int err = ulm_round_error(round);
    json_t *error = err == ULM_OK ? json_null()
                                  : json_pack("{s:s, s:s}", "class", ulm_error_name(err), "message",
                                              ulm_round_error_message(round));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "members", members, "finished",
                     finished, "agreement", agreement, "synthesis",
                     s ? cli_response_json(s) : json_null(), "latency_ms",
                     cli_json_ms(ulm_round_latency_ms(round)), "cost",
                     cli_json_cost(ulm_round_cost(round)), "error", error);
}

/* ------------------------------------------------------------ the round */

/* No member sent anything: every one was refused before sending (a model string no
 * backend takes), or the round itself was (a quorum above the member count). */
static int refused_before_sending(const ulm_round *round)
{
    for (size_t i = 0; i < ulm_round_member_count(round); i++) {
        const ulm_response *m = ulm_round_member(round, i);
        if (m && ulm_response_attempt_count(m))
            return 0;
    }
    return 1;
}

static int run_round(ulm_client *client, ulm_request *req, const cli_options *o,
                     const compare_options *c)
{
    ulm_round_options opts;
    ulm_round_options_init(&opts, ULM_ROUND_OPTIONS_VERSION);
    opts.quorum = c->quorum;
    opts.synthesize = c->synthesize;
    opts.anonymize = c->anonymize;
    int live = isatty(STDERR_FILENO);
    live_status status = {.count = o->model_count, .shown = live};
    if (live || c->stream) { /* streamed: the first-token and idle clocks apply */
        opts.on_delta = on_member_delta;
        opts.delta_payload = &status;
    }
    if (live) {
        opts.on_member_done = on_member_done;
        opts.done_payload = &status;
        opts.on_member_state = on_member_state;
        opts.state_payload = &status;
        draw_status(&status);
    }
    ulm_cancel *interrupt = NULL;
    int code = cli_interrupt_catch(&interrupt);
    if (code != 0)
        return code;
    ulm_request_set_cancel(req, interrupt);
    ulm_round *round = NULL;
    int rc = ulm_round_run(&round, client, req, o->models, o->model_count, &opts);
    ulm_request_set_cancel(req, NULL);
    int interrupted = cli_interrupt_release(interrupt);
    if (live)
        fputs("\r\033[K", stderr);
    if (!round) {
        fprintf(stderr, "ultra-llm: error: %s\n", ulm_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    if (rc == ULM_EINVAL && refused_before_sending(round)) {
        fprintf(stderr, "ultra-llm: %s\n", ulm_round_error_message(round));
        ulm_round_free(round);
        return CLI_EXIT_USAGE;
    }
    if (o->json)
        cli_json_print(round_json(round), 0);
    else
        print_round_text(client, round);
    fflush(stdout);
    if (rc != ULM_OK)
        fprintf(stderr, "ultra-llm: error: %s: %s\n", ulm_error_name(rc),
                ulm_round_error_message(round));
    ulm_round_free(round);
    return interrupted ? CLI_EXIT_INTERRUPTED : rc == ULM_OK ? 0 : CLI_EXIT_FAILED;
}

static int run_compare(const cli_command *self, int argc, char **argv)
{
    static const struct option own_options[] = {
        {"synthesize", required_argument, NULL, OPT_SYNTHESIZE},
        {"quorum", required_argument, NULL, OPT_QUORUM},
        {"anonymize", no_argument, NULL, OPT_ANONYMIZE},
        {"stream", no_argument, NULL, OPT_STREAM},
        {NULL, 0, NULL, 0},
    };
    compare_options c = {0};
    const cli_own_options own = {own_options, take_compare, &c};
    cli_options o;
    int code = cli_parse(self,
                         CLI_OPT_CONFIG | CLI_OPT_JSON | CLI_OPT_MODEL | CLI_OPT_SAMPLING |
                             CLI_OPT_CLOCKS | CLI_OPT_METRICS,
                         &own, argc, argv, &o);
    char *prompt = NULL;
    ulm_request *req = NULL;
    ulm_client *client = NULL;
    if (code != CLI_CONTINUE)
        goto out;
    if (o.model_count == 0 || o.model_count > ULM_ROUND_MAX_MEMBERS) {
        code = cli_usage_error(self, o.model_count ? "at most 64 -m: one member each"
                                                   : "each member is a -m MODEL: none given");
        goto out;
    }
    if (o.operands + 1 != argc) {
        code = cli_usage_error(self, o.operands == argc
                                         ? "a PROMPT is needed (- reads it from standard input)"
                                         : "one PROMPT only: quote a prompt of several words");
        goto out;
    }
    if ((code = cli_prompt_read(argv[o.operands], &prompt)) != 0 ||
        (code = cli_request_new(&o, NULL, 0, &req)) != 0)
        goto out;
    if (ulm_request_add_message(req, ULM_ROLE_USER, prompt) != ULM_OK) {
        fprintf(stderr, "ultra-llm: the prompt and system text must be UTF-8 text\n");
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if ((code = cli_client_open(o.config, &client)) != 0)
        goto out;
    code = run_round(client, req, &o, &c);
    if (o.metrics && cli_metrics_write(client, o.metrics) != 0 && code == 0)
        code = CLI_EXIT_FAILED;
out:
    free(prompt);
    ulm_client_free(client);
    ulm_request_free(req);
    cli_options_free(&o);
    return code;
}

const cli_command cli_compare_command = {
    "compare",
    "ultra-llm compare [--config FILE] -m MODEL -m MODEL... [--synthesize MODEL]\n"
    "                         [--quorum K] [--anonymize] [--system TEXT] [--max-tokens N]\n"
    "                         [--temperature T] [--stream] [--json] [--metrics FILE]\n"
    "                         [--connect-timeout-ms MS] [--load-timeout-ms MS]\n"
    "                         [--first-token-timeout-ms MS] [--idle-timeout-ms MS]\n"
    "                         [--timeout-ms MS] PROMPT",
    "Sends PROMPT to every MODEL at once and prints their answers one after the other,\n"
    "each under a header with the model that answered, its time, tokens, tokens per\n"
    "second and cost (unknown without a price in the configuration file); a member that\n"
    "failed gets one line with its error class. Then how far each pair of answers agrees\n"
    "(the overlap of their sets of words, 0 to 1) and, with --synthesize, one answer\n"
    "combined from theirs by that model.\n"
    "Each -m is one member: a model, an alias, or a comma-separated fallback chain,\n"
    "written as for chat. A member that fails does not fail the others.\n"
    "--quorum K ends the round once K members answered and cancels the rest.\n"
    "--anonymize labels the answers \"Answer A\", \"Answer B\"... in shuffled order in the\n"
    "synthesis prompt, instead of by model.\n"
    "--timeout-ms is the whole round, synthesis included; the other options, --metrics\n"
    "FILE included, are chat's.\n"
    "On a terminal, stderr shows each member's state while the round runs; the members\n"
    "stream there, and with --stream anywhere (the first-token and idle clocks apply, and\n"
    "--json gives each member's first_token_ms).\n"
    "--json prints {\"members\": [...], \"finished\", \"agreement\": [[...]], \"synthesis\",\n"
    "\"latency_ms\", \"cost\", \"error\"}: each member is the object chat --json prints plus\n"
    "\"member\" (its -m), \"ok\", \"dissents\", \"label\" and \"truncated\", with \"error\" the\n"
    "error's name (\"cancelled\" for a member the round stopped) and its message and HTTP\n"
    "status in \"error_message\" and \"error_http_status\"; \"finished\" is the\n"
    "order the members ended in; \"agreement\" is null for a pair with a failed member.\n"
    "Ctrl-C stops the round and prints what arrived.\n"
    "Exits 0 when a member answered (and the synthesis, when asked); 1 otherwise; 2 for a\n"
    "usage error (nothing was sent); 130 after Ctrl-C.\n",
    run_compare,
};
