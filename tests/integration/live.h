/* live.h - shared setup of the integration tests: servers from the environment, or skip. */
#ifndef ULM_LIVE_H
#define ULM_LIVE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <ultrallm/ultrallm.h>

#include "../attempt_check.h"

/* The model the DMR emulator serves in tests/run.sh. */
#define LIVE_LOCAL_MODEL "dmr/ai/stories260k"
/* A port nothing listens on: connection refused at once. */
#define LIVE_DEAD_URL "http://127.0.0.1:1"
/* The answer tests/servers/fault-server.mjs always gives. */
#define FAULT_TEXT "Hello, world! \xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xf0\x9f\x99\x82 done."

/* Milliseconds on a monotonic clock, to time a call from outside. */
static inline double live_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* How far past its limit a clock may fire. Generous, because CI shares its machine with
 * other work and a test must not depend on its speed: every bound it widens stays well
 * short of the wrong behaviour it rules out (a wait of seconds, a serial round). Valgrind
 * runs widen it further through the environment. */
static inline double live_tolerance_ms(void)
{
    const char *v = getenv("ULM_TEST_TOLERANCE_MS");
    return v && *v ? atof(v) : 1000.0;
}

/* What a streamed call handed to on_delta (live_collect), and how the caller behaved. */
typedef struct live_deltas {
    char text[4096];
    size_t len;
    int calls;
    double last_at; /* when the latest delta arrived */
    int cancel_after; /* 0: never cancel */
    long hold_ms;     /* how long the caller keeps each delta before returning */
} live_deltas;

static inline int live_valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (!need || i + need > n)
            return 0;
        for (size_t k = 1; k < need; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need;
    }
    return 1;
}

/* on_delta for tests: joins the text, checks each piece is non-empty whole UTF-8, notes
 * when it came, holds it hold_ms, and cancels after cancel_after pieces. */
static inline int live_collect(const char *text, size_t length, void *payload)
{
    live_deltas *d = payload;
    assert_true(length > 0);
    assert_true(live_valid_utf8(text, length)); /* a character split across reads arrives whole */
    assert_true(d->len + length < sizeof d->text);
    memcpy(d->text + d->len, text, length);
    d->len += length;
    d->text[d->len] = '\0';
    d->calls++;
    d->last_at = live_now_ms();
    if (d->hold_ms) {
        struct timespec hold = {d->hold_ms / 1000, d->hold_ms % 1000 * 1000000L};
        nanosleep(&hold, NULL);
    }
    return d->cancel_after && d->calls >= d->cancel_after;
}

/* The ulm_member_state values a round told each of its first LIVE_TOLD_MEMBERS members, in
 * order (live_keep_state is its on_member_state). */
#define LIVE_TOLD_MEMBERS 4
typedef struct live_told {
    int states[LIVE_TOLD_MEMBERS][8];
    size_t count[LIVE_TOLD_MEMBERS];
} live_told;

static inline void live_keep_state(size_t member, int state, void *payload)
{
    live_told *t = payload;
    assert_true(member < LIVE_TOLD_MEMBERS && t->count[member] < 8);
    t->states[member][t->count[member]++] = state;
}

/* A round's on_delta that only makes its members stream. */
static inline int live_ignore_delta(size_t member, const char *text, size_t length,
                                    void *payload)
{
    (void)member, (void)text, (void)length, (void)payload;
    return 0;
}

/* Exits with ctest's skip code when a server the test needs was not started. */
static inline const char *live_url(const char *var)
{
    const char *v = getenv(var);
    if (!v || !*v) {
        fprintf(stderr, "skipped: %s is not set (tests/run.sh starts the servers)\n", var);
        exit(77);
    }
    return v;
}

/* Options of a test client: no environment, the given backends, 30 s budgets. */
static inline ulm_client_options live_options(const char *dmr_url, const char *openai_url,
                                              const char *openai_key)
{
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = dmr_url;
    opts.openai_base_url = openai_url;
    opts.openai_api_key = openai_key;
    opts.default_local_model = "ai/stories260k";
    opts.local_model_timeout_ms = 30000;
    opts.timeout_ms = 30000;
    return opts;
}

static inline ulm_client *live_client_with(const ulm_client_options *opts)
{
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    int rc = ulm_client_new(&c, opts, err, sizeof err);
    if (rc != ULM_OK)
        fail_msg("client: %s", err);
    return c;
}

static inline ulm_client *live_client(const char *dmr_url, const char *openai_url,
                                      const char *openai_key)
{
    ulm_client_options opts = live_options(dmr_url, openai_url, openai_key);
    return live_client_with(&opts);
}

static inline ulm_request *live_request(const char *models, const char *prompt)
{
    ulm_request *r = NULL;
    assert_int_equal(ulm_request_new(&r), ULM_OK);
    if (models)
        assert_int_equal(ulm_request_add_model(r, models), ULM_OK);
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, prompt), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(r, 24), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(r, 0.0), ULM_OK);
    return r;
}

#endif /* ULM_LIVE_H */
