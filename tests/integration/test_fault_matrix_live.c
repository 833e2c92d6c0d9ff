/* test_fault_matrix_live.c - every fault against the blocking and the streamed call, alone and first of a chain: one right outcome each. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <unistd.h>

#include "live.h"

#define FAULT_HEAD "Hello, world!"

/* The clocks every cell runs with; the stalls last longer than any of them. */
#define CONNECT_MS 2000
#define FIRST_TOKEN_MS 2000
#define IDLE_MS 1500
#define OVERALL_MS 20000 /* no cell should reach it; valgrind makes the 64 MiB cells take 12 s */
#define STALL "6000"

/* What a fault does to a call: its class, whether a chain moves on to its second target,
 * the clock that ends it (0: none), and the text a streamed call delivered before it
 * ("many": 10,000 "x"s; "big": only "x"s). */
typedef struct outcome {
    int error;
    int falls_back;
    long clock_ms;
    const char *streamed_text; /* NULL: nothing */
} outcome;

/* The scenario of a name that does not resolve: a host under .invalid, which the loopback
 * guard (tests/guard) fails as a resolver must (RFC 6761), without a query. */
static const char DNS_FAILURE[] = "(dns)";

typedef struct fault {
    const char *name;
    const char *scenario; /* the fault server's path; NULL: a refused port; DNS_FAILURE */
    outcome blocking;
    outcome streamed;
} fault;

static const fault faults[] = {
    {"refused", NULL, {ULM_ECONNECT, 1, 0, NULL}, {ULM_ECONNECT, 1, 0, NULL}},
    {"DNS failure", DNS_FAILURE, {ULM_ECONNECT, 1, 0, NULL}, {ULM_ECONNECT, 1, 0, NULL}},
    {"reset", "reset/0", {ULM_ETRANSPORT, 1, 0, NULL}, {ULM_ETRANSPORT, 1, 0, NULL}},
    {"closed after each answer", "close-after/100", {ULM_OK, 0, 0, NULL},
     {ULM_OK, 0, 0, FAULT_TEXT}},
    {"stall before the status line", "delay-first-byte/" STALL,
     {ULM_EFIRST_TOKEN_TIMEOUT, 1, FIRST_TOKEN_MS, NULL},
     {ULM_EFIRST_TOKEN_TIMEOUT, 1, FIRST_TOKEN_MS, NULL}},
    {"stall before the first body byte", "stall-headers/" STALL,
     {ULM_EFIRST_TOKEN_TIMEOUT, 1, FIRST_TOKEN_MS, NULL},
     {ULM_EFIRST_TOKEN_TIMEOUT, 1, FIRST_TOKEN_MS, NULL}},
    {"stall mid-stream", "stall-mid/" STALL, {ULM_EIDLE_TIMEOUT, 1, IDLE_MS, NULL},
     {ULM_EIDLE_TIMEOUT, 0, IDLE_MS, FAULT_HEAD}},
    {"drop mid-stream", "close-mid/0", {ULM_ETRANSPORT, 1, 0, NULL},
     {ULM_ETRANSPORT, 0, 0, FAULT_HEAD}},
    {"truncated body", "malformed/0", {ULM_EPROTOCOL, 1, 0, NULL},
     {ULM_EPROTOCOL, 0, 0, FAULT_HEAD}},
    {"429, Retry-After in seconds", "retry-after/1", {ULM_ERATE_LIMIT, 1, 0, NULL},
     {ULM_ERATE_LIMIT, 1, 0, NULL}},
    {"429, Retry-After as a date", "retry-date/1", {ULM_ERATE_LIMIT, 1, 0, NULL},
     {ULM_ERATE_LIMIT, 1, 0, NULL}},
    {"429 without Retry-After", "error-json/429", {ULM_ERATE_LIMIT, 1, 0, NULL},
     {ULM_ERATE_LIMIT, 1, 0, NULL}},
    {"500, text/plain", "text-error/500", {ULM_ESERVER, 1, 0, NULL}, {ULM_ESERVER, 1, 0, NULL}},
    {"502, text/plain", "text-error/502", {ULM_ESERVER, 1, 0, NULL}, {ULM_ESERVER, 1, 0, NULL}},
    {"503, text/plain", "text-error/503", {ULM_EUNAVAILABLE, 1, 0, NULL},
     {ULM_EUNAVAILABLE, 1, 0, NULL}},
    {"503 Loading", "loading/600000", {ULM_EUNAVAILABLE, 1, 0, NULL},
     {ULM_EUNAVAILABLE, 1, 0, NULL}},
    {"404, model not found", "error-json/404", {ULM_EMODEL_NOT_FOUND, 0, 0, NULL},
     {ULM_EMODEL_NOT_FOUND, 0, 0, NULL}},
    {"garbage", "garbage/0", {ULM_ETRANSPORT, 1, 0, NULL}, {ULM_ETRANSPORT, 1, 0, NULL}},
    {"invalid UTF-8", "bad-utf8/0", {ULM_EPROTOCOL, 1, 0, NULL},
     {ULM_EPROTOCOL, 0, 0, FAULT_HEAD}},
    {"64 MiB body", "big/64", {ULM_ETOO_LARGE, 0, 0, NULL}, {ULM_ETOO_LARGE, 0, 0, "big"}},
    {"10,000-event stream", "many-events/10000", {ULM_OK, 0, 0, NULL}, {ULM_OK, 0, 0, "many"}},
    {"event split at every byte", "byte-split/0", {ULM_OK, 0, 0, NULL},
     {ULM_OK, 0, 0, FAULT_TEXT}},
};
#define FAULT_COUNT (sizeof faults / sizeof faults[0])

/* How a cell's call went, seen from on_delta and around ulm_complete(). */
typedef struct cell_run {
    live_deltas seen;
    int returned;          /* ulm_complete() has returned */
    int delta_after_return;
} cell_run;

static int on_delta(const char *text, size_t length, void *payload)
{
    cell_run *r = payload;
    if (r->returned)
        r->delta_after_return = 1;
    /* a 64 MiB or 10,000-event answer is counted, not kept */
    if (r->seen.len + length >= sizeof r->seen.text) {
        r->seen.calls++;
        r->seen.len = sizeof r->seen.text; /* marks "more than fits" */
        return 0;
    }
    return live_collect(text, length, &r->seen);
}

/* cells per mode (streamed, chained) and class (minus the error code) */
static int counts[2][2][64];
static unsigned cells_run, cells_failed;

static const char *mode_name(int streamed, int chained)
{
    return streamed ? (chained ? "streamed, chain" : "streamed") : (chained ? "blocking, chain" : "blocking");
}

/* Checks one cell; returns a description of what was wrong, or NULL. */
static const char *check_cell(const outcome *want, int streamed, int chained,
                              int rc, const ulm_response *resp, const cell_run *run,
                              double ms, char *why, size_t size)
{
    int fell_back = chained && strcmp(ulm_response_provider(resp), "dmr") == 0 &&
                    ulm_response_attempt_count(resp) == 2;
    int want_error = chained && want->falls_back ? ULM_OK : want->error;
    double tolerance = live_tolerance_ms() < 1000 ? 1000 : live_tolerance_ms();
    if (run->delta_after_return)
        return "on_delta was called after ulm_complete() returned";
    if (rc != want_error || ulm_response_error(resp) != rc) {
        snprintf(why, size, "expected %s, got %s: %s", ulm_error_name(want_error),
                 ulm_error_name(rc), ulm_response_error_message(resp));
        return why;
    }
    if (chained && fell_back != want->falls_back) {
        snprintf(why, size, "fallback %s, expected %s", fell_back ? "taken" : "not taken",
                 want->falls_back ? "taken" : "not taken");
        return why;
    }
    if (!chained || !want->falls_back) {
        /* the attempt that failed is the only one, with the class the call returned */
        size_t n = ulm_response_attempt_count(resp);
        if (n != 1 || ulm_attempt_error(ulm_response_attempt(resp, 0)) != want->error) {
            snprintf(why, size, "%zu attempts, the first %s", n,
                     n ? ulm_error_name(ulm_attempt_error(ulm_response_attempt(resp, 0))) : "none");
            return why;
        }
    }
    if (want->clock_ms && !fell_back && (ms < want->clock_ms - 1 || ms > want->clock_ms + tolerance)) {
        snprintf(why, size, "ended after %.0f ms, its clock is %ld ms", ms, want->clock_ms);
        return why;
    }
    if (ms > OVERALL_MS + tolerance) {
        snprintf(why, size, "took %.0f ms, past the overall clock", ms);
        return why;
    }
    if (!streamed)
        return NULL;
    /* what on_delta got is what the response holds: no text twice, none lost */
    const char *text = ulm_response_text(resp);
    if (run->seen.len < sizeof run->seen.text && strcmp(run->seen.text, text) != 0) {
        snprintf(why, size, "on_delta got \"%.40s\", the response holds \"%.40s\"", run->seen.text, text);
        return why;
    }
    const char *delivered = fell_back ? "(local)" : want->streamed_text;
    if (!delivered && run->seen.len) {
        snprintf(why, size, "text was delivered: \"%.40s\"", run->seen.text);
        return why;
    }
    if (delivered && strcmp(delivered, "many") == 0) {
        if (strlen(text) != 10000 || strspn(text, "x") != 10000)
            return "the 10,000 events did not make 10,000 \"x\"s";
    } else if (delivered && strcmp(delivered, "big") == 0) {
        if (strspn(text, "x") != strlen(text))
            return "the big answer's text is not all \"x\"";
    } else if (delivered && strcmp(delivered, "(local)") == 0) {
        if (!run->seen.len)
            return "the fallback's text was not streamed";
    } else if (delivered && strcmp(run->seen.text, delivered) != 0) {
        snprintf(why, size, "on_delta got \"%.40s\", expected \"%.40s\"", run->seen.text, delivered);
        return why;
    }
    return NULL;
}

static void run_cell(const char *fault_url, const char *dmr_url, size_t index, int streamed,
                     int chained)
{
    const fault *f = &faults[index];
    const outcome *want = streamed ? &f->streamed : &f->blocking;
    char base[512];
    if (f->scenario == DNS_FAILURE)
        snprintf(base, sizeof base, "http://ulm-fault-matrix.invalid:9/v1");
    else if (f->scenario)
        snprintf(base, sizeof base, "%s/%s/matrix-%ld-%zu-%d%d/v1", fault_url, f->scenario,
                 (long)getpid(), index, streamed, chained);
    else
        snprintf(base, sizeof base, "%s/v1", LIVE_DEAD_URL);
    ulm_client_options o = live_options(dmr_url, base, "sk-matrix-0123456789");
    o.use_local_models_when_offline = -1; /* a fallback is the chain's, not offline mode's */
    ulm_client *c = live_client_with(&o);
    ulm_request *req = live_request(chained ? "openai/fault-model,dmr/ai/stories260k"
                                            : "openai/fault-model",
                                    "Once upon a time");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_CONNECT, CONNECT_MS), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, FIRST_TOKEN_MS), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_IDLE, IDLE_MS), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_OVERALL, OVERALL_MS), ULM_OK);
    cell_run run = {0};
    if (streamed)
        assert_int_equal(ulm_request_set_on_delta(req, on_delta, &run), ULM_OK);
    ulm_response *resp = NULL;
    double start = live_now_ms();
    int rc = ulm_complete(&resp, c, req);
    double ms = live_now_ms() - start;
    run.returned = 1;
    assert_non_null(resp);
    char why[512];
    const char *wrong = check_cell(want, streamed, chained, rc, resp, &run, ms, why, sizeof why);
    cells_run++;
    counts[streamed][chained][-rc < 64 && rc <= 0 ? -rc : 63]++;
    printf("  %-34s %-16s %-22s %7.0f ms%s%s\n", f->name, mode_name(streamed, chained),
           ulm_error_name(rc), ms, wrong ? "  WRONG: " : "", wrong ? wrong : "");
    if (wrong)
        cells_failed++;
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void every_fault_has_one_right_outcome_in_every_mode(void **state)
{
    (void)state;
    const char *fault_url = live_url("ULM_TEST_FAULT_URL");
    const char *dmr_url = live_url("ULM_TEST_DMR_URL");
    const char *only = getenv("ULM_TEST_MATRIX_ONLY"); /* one fault by name, when debugging */
    /* without the guard (the sanitizer builds, valgrind) a lookup would reach the resolver */
    int lookups_fail_here = dlsym(RTLD_DEFAULT, "ulm_loopback_guard") != NULL;
    size_t faults_run = 0;
    for (size_t i = 0; i < FAULT_COUNT; i++) {
        if (faults[i].scenario == DNS_FAILURE && !lookups_fail_here) {
            printf("  %-34s skipped: the loopback guard is not loaded\n", faults[i].name);
            continue;
        }
        faults_run++;
        for (int streamed = 0; streamed < 2; streamed++)
            for (int chained = 0; chained < 2; chained++)
                if (!only || strcmp(only, faults[i].name) == 0)
                    run_cell(fault_url, dmr_url, i, streamed, chained);
    }
    printf("fault matrix: %zu faults x 4 modes = %u cells, %u wrong; outcomes per mode:\n",
           faults_run, cells_run, cells_failed);
    for (int streamed = 0; streamed < 2; streamed++)
        for (int chained = 0; chained < 2; chained++) {
            printf("  %-16s", mode_name(streamed, chained));
            for (int e = 0; e < 64; e++)
                if (counts[streamed][chained][e])
                    printf(" %s=%d", ulm_error_name(-e), counts[streamed][chained][e]);
            printf("\n");
        }
    assert_int_equal(cells_failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_fault_has_one_right_outcome_in_every_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
