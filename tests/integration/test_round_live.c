/* test_round_live.c - many models at once against real servers: quorum, stragglers, streams, synthesis. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "live.h"

#define KEY "sk-round-test-key-0123456789"

/* A client with backends on the fault server (ok, slow, stalled, down), the DMR emulator,
 * prism for OpenAI and the replay server for Anthropic and Gemini. */
static ulm_client *round_client(void)
{
    const char *fault = live_url("ULM_TEST_FAULT_URL");
    char json[8192];
    snprintf(json, sizeof json,
             "{\"backends\": {"
             "\"fast\": {\"type\": \"openai\", \"url\": \"%s/ok/0/v1\", \"api_key_env\": \"ULM_ROUND_KEY\"},"
             "\"slow\": {\"type\": \"openai\", \"url\": \"%s/delay-first-byte/500/v1\", \"api_key_env\": \"ULM_ROUND_KEY\"},"
             "\"stalled\": {\"type\": \"openai\", \"url\": \"%s/delay-first-byte/60000/v1\", \"api_key_env\": \"ULM_ROUND_KEY\"},"
             "\"streaming\": {\"type\": \"openai\", \"url\": \"%s/slow/40/v1\", \"api_key_env\": \"ULM_ROUND_KEY\"},"
             "\"down\": {\"type\": \"openai\", \"url\": \"%s\", \"api_key_env\": \"ULM_ROUND_KEY\"}},"
             /* a member that cannot connect fails as it is, not served offline */
             "\"offline\": {\"use_local_models\": false},"
             "\"models\": {\"fast/m\": {\"price\": {\"input_per_million\": 1, \"output_per_million\": 2}},"
             "\"stalled/m\": {\"price\": {\"input_per_million\": 1, \"output_per_million\": 2}}}}",
             fault, fault, fault, fault, LIVE_DEAD_URL);
    char path[] = "/tmp/ulm-round-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    setenv("ULM_ROUND_KEY", KEY, 1);
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"),
                                           live_url("ULM_TEST_OPENAI_URL"), KEY);
    opts.ignore_environment = 0; /* the file's backends take their key from ULM_ROUND_KEY */
    opts.config_path = path;
    char replay[512];
    snprintf(replay, sizeof replay, "%s/anthropic/ok", live_url("ULM_TEST_REPLAY_URL"));
    opts.anthropic_base_url = replay;
    opts.anthropic_api_key = KEY;
    char gemini[512];
    snprintf(gemini, sizeof gemini, "%s/gemini/ok", live_url("ULM_TEST_REPLAY_URL"));
    opts.gemini_base_url = gemini;
    opts.gemini_api_key = KEY;
    ulm_client *c = live_client_with(&opts);
    unlink(path);
    return c;
}

static ulm_request *prompt(void)
{
    return live_request(NULL, "Once upon a time");
}

static const ulm_response *member(const ulm_round *r, size_t i)
{
    const ulm_response *resp = ulm_round_member(r, i);
    assert_non_null(resp);
    return resp;
}

/* Every member ended once, and the finishing order names each exactly once. */
static void assert_order_complete(const ulm_round *r)
{
    size_t n = ulm_round_member_count(r);
    assert_int_equal(ulm_round_finished_count(r), n);
    int seen[ULM_ROUND_MAX_MEMBERS] = {0};
    for (size_t k = 0; k < n; k++) {
        size_t i = ulm_round_finished(r, k);
        assert_true(i < n);
        assert_false(seen[i]);
        seen[i] = 1;
    }
}

/* ------------------------------------------------------------ local and cloud at once */

static void members_across_local_and_cloud_with_one_down(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {LIVE_LOCAL_MODEL, "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5",
                             "gemini/gemini-2.5-flash", "down/gpt-4o-mini"};
    ulm_round *r = NULL;
    int rc = ulm_round_run(&r, c, req, members, 5, NULL);
    assert_int_equal(rc, ULM_OK);
    assert_string_equal(ulm_round_error_message(r), "");
    assert_order_complete(r);
    for (size_t i = 0; i < 4; i++) {
        const ulm_response *m = member(r, i);
        if (ulm_response_error(m) != ULM_OK)
            fail_msg("member %zu (%s): %s", i, members[i], ulm_response_error_message(m));
        assert_true(ulm_response_attempt_count(m) >= 1);
        assert_true(ulm_response_latency_ms(m) > 0);
        assert_true(ulm_response_latency_ms(m) <= ulm_round_latency_ms(r));
    }
    assert_string_equal(ulm_response_provider(member(r, 0)), "dmr");
    assert_string_equal(ulm_response_provider(member(r, 2)), "anthropic");
    assert_int_equal(ulm_response_error(member(r, 4)), ULM_ECONNECT);
    assert_attempt_is(member(r, 4), 0, "down", ULM_ECONNECT);
    /* the agreement table: symmetric, 1 on the diagonal, -1 with the member that failed */
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = 0; j < 5; j++) {
            double a = ulm_round_agreement(r, i, j);
            assert_true(a == ulm_round_agreement(r, j, i));
            if (i == 4 || j == 4)
                assert_true(a == -1);
            else
                assert_true(a >= 0 && a <= 1);
        }
        if (i < 4)
            assert_true(ulm_round_agreement(r, i, i) == 1);
    }
    /* the replay server gives Anthropic and Gemini the same text */
    assert_true(ulm_round_agreement(r, 2, 3) == 1);
    assert_false(ulm_round_member_dissents(r, 4));
    assert_null(ulm_round_synthesis(r));
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ concurrency */

/* Eight members whose server waits 500 ms before answering are asked at once. */
static void eight_slow_members_run_at_once(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[8] = {"slow/m1", "slow/m2", "slow/m3", "slow/m4",
                              "slow/m5", "slow/m6", "slow/m7", "slow/m8"};
    double start = live_now_ms();
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 8, NULL), ULM_OK);
    double took = live_now_ms() - start;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(ulm_response_error(member(r, i)), ULM_OK);
    /* one after another they would take 4 s; at once, 500 ms and the work around it */
    if (took >= 2000 + live_tolerance_ms())
        fail_msg("8 members of 500 ms took %.0f ms", took);
    assert_true(took >= 450);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ quorum and stragglers */

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The inode numbers of the process's open sockets, sorted, into ids (at most cap);
 * returns how many. */
static size_t open_sockets(unsigned long *ids, size_t cap)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        unsigned long id;
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &id) == 1 && n < cap) {
            size_t at = n++;
            while (at > 0 && ids[at - 1] > id) { /* insertion: a few dozen at most */
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = id;
        }
    }
    closedir(d);
    return n;
}

/* Round after round goes on the first round's connections: none is closed at the end of
 * a round and opened again at the start of the next (libcurl's default cache, four per
 * transfer still added, closed most of them as the last members ended). */
static void rounds_reuse_their_connections(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[8] = {"fast/m1", "fast/m2", "fast/m3", "fast/m4",
                              "fast/m5", "fast/m6", "fast/m7", "fast/m8"};
    unsigned long first[64], now[64];
    size_t first_count = 0;
    for (int round = 0; round < 6; round++) {
        ulm_round *r = NULL;
        assert_int_equal(ulm_round_run(&r, c, req, members, 8, NULL), ULM_OK);
        for (size_t i = 0; i < 8; i++)
            assert_int_equal(ulm_response_error(member(r, i)), ULM_OK);
        ulm_round_free(r);
        if (round == 0) {
            first_count = open_sockets(first, 64);
            assert_true(first_count >= 8); /* the eight connections, at least */
            continue;
        }
        size_t count = open_sockets(now, 64);
        if (count != first_count || memcmp(now, first, count * sizeof *now) != 0)
            fail_msg("round %d: %zu sockets, not the first round's %zu", round + 1, count,
                     first_count);
    }
    ulm_request_free(req);
    ulm_client_free(c);
}

/* Quorum 1: the fast member answers, the stalled one is cancelled at once, and its
 * connection is closed rather than left open. */
static void quorum_one_cancels_the_stalled_member(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"stalled/m", "fast/m"};
    ulm_round_options o;
    assert_int_equal(ulm_round_options_init(&o, ULM_ROUND_OPTIONS_VERSION), ULM_OK);
    o.quorum = 1;
    ulm_round *r = NULL;
    /* a first round opens the engine's connections; the second is measured */
    assert_int_equal(ulm_round_run(&r, c, req, members + 1, 1, &o), ULM_OK);
    ulm_round_free(r);
    int fds_before = open_fds();
    double start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
    double took = live_now_ms() - start;
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_ECANCELLED);
    assert_non_null(strstr(ulm_response_error_message(member(r, 0)), "cancelled"));
    assert_int_equal(ulm_round_finished(r, 0), 1); /* the fast one ended first */
    assert_order_complete(r);
    if (took >= 1000 + live_tolerance_ms())
        fail_msg("the round waited %.0f ms for a member it did not need", took);
    /* the stalled member's connection was closed with its transfer */
    assert_true(open_fds() <= fds_before);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

static int stop_after_first(const ulm_round *round, size_t i, void *payload)
{
    (void)i;
    int *calls = payload;
    (*calls)++;
    return ulm_response_error(ulm_round_member(round, i)) == ULM_OK;
}

/* The caller's predicate ends the round as a member ends. */
static void a_predicate_ends_the_round(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"fast/m", "stalled/m", "stalled/n"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    int calls = 0;
    o.on_member_done = stop_after_first;
    o.done_payload = &calls;
    ulm_round *r = NULL;
    double start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, &o), ULM_OK);
    assert_true(live_now_ms() - start < 1000 + live_tolerance_ms());
    assert_int_equal(calls, 1); /* told of the first only: the others ended as cancelled */
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ECANCELLED);
    assert_int_equal(ulm_response_error(member(r, 2)), ULM_ECANCELLED);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ deadlines */

static void the_deadline_keeps_what_arrived(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"fast/m", "stalled/m"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.timeout_ms = 800;
    ulm_round *r = NULL;
    double start = live_now_ms();
    /* without take_what_arrived, a round its deadline cut short fails... */
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_ETIMEOUT);
    assert_true(live_now_ms() - start < 800 + live_tolerance_ms());
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_OK); /* ...and keeps its answers */
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ETIMEOUT);
    assert_non_null(strstr(ulm_round_error_message(r), "deadline"));
    ulm_round_free(r);
    o.take_what_arrived = 1;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ETIMEOUT);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* Quorum 2 of 3 after two members failed: the third cannot make it up, so the round ends
 * at once with the failures' class instead of waiting for its deadline. */
static void a_lost_quorum_ends_the_round_at_once(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"down/a", "stalled/m", "down/b"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.quorum = 2;
    o.timeout_ms = 30000;
    ulm_round *r = NULL;
    double start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, &o), ULM_ECONNECT);
    double took = live_now_ms() - start;
    if (took >= 5000)
        fail_msg("the round waited %.0f ms for a quorum it could no longer reach", took);
    assert_non_null(strstr(ulm_round_error_message(r), "down/a"));
    assert_null(strstr(ulm_round_error_message(r), "deadline"));
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_ECONNECT);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ECANCELLED);
    assert_int_equal(ulm_response_error(member(r, 2)), ULM_ECONNECT);
    assert_int_equal(ulm_round_finished(r, 2), 1); /* the stalled one ended last */
    assert_order_complete(r);
    ulm_round_free(r);

    /* a quorum of 3 among 4 is out of reach once two failed, whether the fast member had
     * answered by then (it keeps its answer) or was cancelled with the stalled one */
    const char *three[] = {"fast/m", "down/a", "stalled/m", "down/b"};
    o.quorum = 3;
    start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, three, 4, &o), ULM_ECONNECT);
    assert_true(live_now_ms() - start < 5000);
    const char *why = ulm_round_error_message(r);
    if (ulm_response_error(member(r, 0)) == ULM_OK) {
        if (!strstr(why, "the quorum of 3 can no longer be reached: 2 of 4 members failed: "))
            fail_msg("%s", why);
    } else {
        assert_int_equal(ulm_response_error(member(r, 0)), ULM_ECANCELLED);
        assert_non_null(strstr(why, "no member answered"));
    }
    assert_int_equal(ulm_response_error(member(r, 2)), ULM_ECANCELLED);
    ulm_round_free(r);

    /* taking what arrives, the round still waits for the members that can answer */
    const char *slow[] = {"fast/m", "down/a", "slow/m"};
    o.take_what_arrived = 1;
    assert_int_equal(ulm_round_run(&r, c, req, slow, 3, &o), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 2)), ULM_OK);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* A round's cost is known only when every member's is: a member stopped after its
 * request was sent may have been billed, so it makes the sum unknown, not smaller. */
static void cost_is_unknown_when_a_member_cost_is(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    /* the fault server counts 7 prompt and 5 completion tokens: (7 x 1 + 5 x 2) / 1e6 */
    const double one = 17e-6;
    const char *members[] = {"fast/m", "down/m", "fast/m"};
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, NULL), ULM_OK);
    assert_true(ulm_response_cost(member(r, 0)) == one);
    assert_true(ulm_response_cost(member(r, 1)) == -1);
    /* the member that could not connect sent nothing: it costs nothing */
    assert_true(fabs(ulm_round_cost(r) - 2 * one) < 1e-12);
    ulm_round_free(r);

    /* the stalled member (priced) was cancelled while its request was out: unknown */
    const char *quorum[] = {"fast/m", "stalled/m"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.quorum = 1;
    assert_int_equal(ulm_round_run(&r, c, req, quorum, 2, &o), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ECANCELLED);
    assert_true(ulm_round_cost(r) == -1);
    ulm_round_free(r);

    /* no member answered, none reached a model: that is known to cost nothing */
    const char *down[] = {"down/a", "down/b"};
    assert_int_equal(ulm_round_run(&r, c, req, down, 2, NULL), ULM_ECONNECT);
    assert_true(ulm_round_cost(r) == 0);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ chains inside members */

static void a_member_fails_over_inside_its_chain(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"down/x," LIVE_LOCAL_MODEL, "fast/m"};
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, NULL), ULM_OK);
    const ulm_response *m = member(r, 0);
    assert_int_equal(ulm_response_error(m), ULM_OK);
    assert_string_equal(ulm_response_provider(m), "dmr");
    assert_int_equal(ulm_response_attempt_count(m), 2);
    assert_attempt_is(m, 0, "down", ULM_ECONNECT);
    assert_attempt_is(m, 1, "dmr", ULM_OK);
    assert_int_equal(ulm_response_retries(m), 1);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ streaming members */

typedef struct interleaving {
    size_t members[256];
    size_t count;
    char text[2][512];
    size_t len[2];
} interleaving;

static int note_delta(size_t i, const char *text, size_t length, void *payload)
{
    interleaving *s = payload;
    assert_true(i < 2);
    assert_true(live_valid_utf8(text, length));
    if (s->count < 256)
        s->members[s->count++] = i;
    assert_true(s->len[i] + length < sizeof s->text[i]);
    memcpy(s->text[i] + s->len[i], text, length);
    s->len[i] += length;
    return 0;
}

static void streaming_members_interleave(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"streaming/a", "streaming/b"};
    interleaving s = {.count = 0};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.on_delta = note_delta;
    o.delta_payload = &s;
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
    for (size_t i = 0; i < 2; i++) {
        const ulm_response *m = member(r, i);
        assert_int_equal(ulm_response_error(m), ULM_OK);
        /* each member's deltas make its whole text, once */
        assert_int_equal(s.len[i], ulm_response_text_length(m));
        assert_memory_equal(s.text[i], ulm_response_text(m), s.len[i]);
        assert_true(ulm_response_first_token_ms(m) > 0);
    }
    /* both streamed at once: the deltas of one came between those of the other */
    size_t switches = 0;
    for (size_t k = 1; k < s.count; k++)
        switches += s.members[k] != s.members[k - 1];
    if (switches < 2)
        fail_msg("the two streams did not interleave (%zu switches in %zu deltas)", switches,
                 s.count);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void cloud_members_are_told_only_that_they_answer(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    /* one answers at once, one fails over from a backend that is down, one streams slowly */
    const char *members[] = {"fast/m", "down/m,fast/m", "streaming/m"};
    for (int i = 0; i < 6; i++) {
        int streamed = i % 2 == 0;
        live_told t = {.count = {0}};
        ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
        o.on_member_state = live_keep_state;
        o.state_payload = &t;
        o.on_delta = streamed ? live_ignore_delta : NULL;
        ulm_round *r = NULL;
        assert_int_equal(ulm_round_run(&r, c, req, members, 3, &o), ULM_OK);
        /* no cloud member waits for a load; streamed ones are told when their text comes,
         * once; unstreamed ones are told nothing (WAITING, untold, until they end) */
        for (size_t m = 0; m < 3; m++) {
            assert_int_equal(ulm_response_error(member(r, m)), ULM_OK);
            assert_int_equal(t.count[m], streamed ? 1 : 0);
            if (streamed)
                assert_int_equal(t.states[m][0], ULM_MEMBER_ANSWERING);
        }
        ulm_round_free(r);
    }
    ulm_request_free(req);
    ulm_client_free(c);
}

/* A program built against version 1 of the options has a shorter struct: a round reads
 * nothing past it (the garbage there would be called as on_member_state). */
static void version_1_options_are_read_no_further(void **state)
{
    (void)state;
    size_t v1_size = offsetof(ulm_round_options, on_member_state);
    ulm_round_options o;
    memset(&o, 0x5a, sizeof o);
    assert_int_equal(ulm_round_options_init(&o, 1), ULM_OK);
    assert_int_equal(o.version, 1);
    const unsigned char *tail = (const unsigned char *)&o + v1_size;
    for (size_t i = 0; i < sizeof o - v1_size; i++)
        assert_int_equal(tail[i], 0x5a);
    o.on_delta = live_ignore_delta;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"fast/m", "streaming/m"};
    for (int i = 0; i < 3; i++) {
        ulm_round *r = NULL;
        assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
        ulm_round_free(r);
    }
    o.version = ULM_ROUND_OPTIONS_VERSION + 1;
    ulm_round *r = (ulm_round *)&o;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_EVERSION);
    assert_null(r);
    assert_int_equal(ulm_round_options_init(&o, 0), ULM_EVERSION);
    assert_int_equal(ulm_round_options_init(&o, ULM_ROUND_OPTIONS_VERSION + 1), ULM_EVERSION);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* The request's own on_delta, which has no member argument, asks whose text it got. */
static int note_request_delta(const char *text, size_t length, void *payload)
{
    interleaving *s = payload;
    size_t i = ulm_round_delta_member();
    if (i >= 2)
        fail_msg("a member's delta came with member %zu", i);
    assert_true(s->len[i] + length < sizeof s->text[i]);
    memcpy(s->text[i] + s->len[i], text, length);
    s->len[i] += length;
    return 0;
}

static int note_synthesis_delta(const char *text, size_t length, void *payload)
{
    (void)text;
    (void)length;
    *(size_t *)payload = ulm_round_delta_member();
    return 0;
}

static void the_requests_on_delta_learns_the_member(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    interleaving s = {.count = 0};
    assert_int_equal(ulm_request_set_on_delta(req, note_request_delta, &s), ULM_OK);
    const char *members[] = {"streaming/a", "fast/b"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.synthesize = "fast/synth";
    size_t synthesis_member = 0;
    o.synthesis_on_delta = note_synthesis_delta;
    o.synthesis_payload = &synthesis_member;
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
    for (size_t i = 0; i < 2; i++) {
        const ulm_response *m = member(r, i);
        assert_int_equal(s.len[i], ulm_response_text_length(m));
        assert_memory_equal(s.text[i], ulm_response_text(m), s.len[i]);
    }
    assert_true(synthesis_member == ULM_ROUND_NO_MEMBER); /* the synthesis is no member */
    assert_true(ulm_round_delta_member() == ULM_ROUND_NO_MEMBER); /* nor is outside */
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ synthesis */

static void synthesis_combines_local_answers(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {LIVE_LOCAL_MODEL, "fast/m", "down/m"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.synthesize = LIVE_LOCAL_MODEL;
    o.anonymize = 1;
    o.shuffle_seed = 7;
    o.answer_budget_bytes = 10; /* every answer is longer: each is cut and marked */
    live_deltas d = {.len = 0};
    o.synthesis_on_delta = live_collect;
    o.synthesis_payload = &d;
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, &o), ULM_OK);
    const ulm_response *s = ulm_round_synthesis(r);
    assert_non_null(s);
    assert_int_equal(ulm_response_error(s), ULM_OK);
    assert_string_equal(ulm_response_provider(s), "dmr");
    assert_true(ulm_response_text_length(s) > 0);
    assert_int_equal(d.len, ulm_response_text_length(s)); /* the synthesis streamed */
    /* the two answers are labelled A and B in some order; the failed member is left out */
    const char *a = ulm_round_member_label(r, 0), *b = ulm_round_member_label(r, 1);
    assert_true((strcmp(a, "Answer A") == 0 && strcmp(b, "Answer B") == 0) ||
                (strcmp(a, "Answer B") == 0 && strcmp(b, "Answer A") == 0));
    assert_string_equal(ulm_round_member_label(r, 2), "");
    assert_true(ulm_round_member_truncated(r, 0));
    assert_true(ulm_round_member_truncated(r, 1));
    assert_false(ulm_round_member_truncated(r, 2));
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void a_failed_synthesis_keeps_the_answers(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[] = {"fast/a", "fast/b"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.synthesize = "down/synth";
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_ECONNECT);
    assert_non_null(strstr(ulm_round_error_message(r), "synthesis: down"));
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_OK);
    assert_int_equal(ulm_response_error(ulm_round_synthesis(r)), ULM_ECONNECT);
    assert_true(ulm_round_agreement(r, 0, 1) == 1); /* the fault server answers alike */
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* The synthesizer is sent as the round's request says: with its backend overrides (the
 * URL that reaches "down" here) and its clocks (a first-token clock that ends a stalled
 * synthesizer long before the round's deadline). */
static void the_synthesis_keeps_the_requests_overrides_and_clocks(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    char url[512];
    snprintf(url, sizeof url, "%s/ok/0/v1", live_url("ULM_TEST_FAULT_URL"));
    assert_int_equal(ulm_request_set_backend_override(req, "down", NULL, url), ULM_OK);
    const char *members[] = {"fast/a", "down/b"};
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.synthesize = "down/synth";
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_OK); /* the override, as before */
    assert_int_equal(ulm_response_error(ulm_round_synthesis(r)), ULM_OK);
    assert_string_equal(ulm_response_provider(ulm_round_synthesis(r)), "down");
    ulm_round_free(r);
    ulm_request_free(req);

    req = prompt();
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, 300), ULM_OK);
    const char *fast[] = {"fast/a"};
    o.synthesize = "stalled/synth";
    o.timeout_ms = 20000;
    double start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, fast, 1, &o), ULM_EFIRST_TOKEN_TIMEOUT);
    assert_true(live_now_ms() - start < 10000);
    assert_int_equal(ulm_response_error(ulm_round_synthesis(r)), ULM_EFIRST_TOKEN_TIMEOUT);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* Sixty anonymized answers: every label is different (past "Answer Z" come "Answer AA",
 * "Answer AB", ...), and the map from label to member is one to one. */
static void sixty_anonymized_answers_keep_distinct_labels(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    enum { COUNT = 60 };
    const char *members[COUNT];
    for (size_t i = 0; i < COUNT; i++)
        members[i] = "fast/m";
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.synthesize = "fast/synth";
    o.anonymize = 1;
    o.shuffle_seed = 3;
    o.answer_budget_bytes = 16;
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, COUNT, &o), ULM_OK);
    for (size_t i = 0; i < COUNT; i++) {
        const char *label = ulm_round_member_label(r, i);
        assert_true(strncmp(label, "Answer ", 7) == 0 && label[7]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(label, ulm_round_member_label(r, j)) == 0)
                fail_msg("members %zu and %zu are both \"%s\"", j, i, label);
    }
    int seen_z = 0, seen_aa = 0, seen_bh = 0; /* the 26th, 27th and 60th labels */
    for (size_t i = 0; i < COUNT; i++) {
        seen_z |= strcmp(ulm_round_member_label(r, i), "Answer Z") == 0;
        seen_aa |= strcmp(ulm_round_member_label(r, i), "Answer AA") == 0;
        seen_bh |= strcmp(ulm_round_member_label(r, i), "Answer BH") == 0;
    }
    assert_true(seen_z && seen_aa && seen_bh);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ cancellation */

typedef struct canceller {
    ulm_cancel *cancel;
    long after_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;
    struct timespec wait = {k->after_ms / 1000, k->after_ms % 1000 * 1000000L};
    nanosleep(&wait, NULL);
    ulm_cancel_trigger(k->cancel);
    return NULL;
}

static void another_thread_cancels_the_round(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    canceller k = {.after_ms = 300};
    assert_int_equal(ulm_cancel_new(&k.cancel), ULM_OK);
    assert_int_equal(ulm_request_set_cancel(req, k.cancel), ULM_OK);
    const char *members[] = {"stalled/a", "stalled/b", "fast/m"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    ulm_round *r = NULL;
    double start = live_now_ms();
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, NULL), ULM_ECANCELLED);
    double took = live_now_ms() - start;
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(took >= 250 && took < 300 + live_tolerance_ms() + 500);
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_ECANCELLED);
    assert_int_equal(ulm_response_error(member(r, 1)), ULM_ECANCELLED);
    assert_int_equal(ulm_response_error(member(r, 2)), ULM_OK);
    ulm_round_free(r);
    ulm_request_free(req);
    ulm_cancel_free(k.cancel);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ threads */

static void *rounds_on_a_thread(void *arg)
{
    ulm_client *c = arg;
    ulm_request *req = prompt();
    const char *members[] = {"fast/a", "fast/b", "fast/c"};
    for (int i = 0; i < 5; i++) {
        ulm_round *r = NULL;
        if (ulm_round_run(&r, c, req, members, 3, NULL) != ULM_OK)
            fail_msg("a round failed: %s", ulm_round_error_message(r));
        ulm_round_free(r);
    }
    ulm_request_free(req);
    return NULL;
}

static void threads_run_rounds_on_one_client(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, rounds_on_a_thread, c), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ bad input */

static void bad_rounds_are_refused_before_anything_is_sent(void **state)
{
    (void)state;
    ulm_client *c = round_client();
    ulm_request *req = prompt();
    const char *members[ULM_ROUND_MAX_MEMBERS + 1];
    for (size_t i = 0; i <= ULM_ROUND_MAX_MEMBERS; i++)
        members[i] = "fast/m";
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 0, NULL), ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "no member"));
    ulm_round_free(r);
    assert_int_equal(ulm_round_run(&r, c, req, members, ULM_ROUND_MAX_MEMBERS + 1, NULL),
                     ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "more than"));
    ulm_round_free(r);
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.quorum = 3;
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "quorum"));
    ulm_round_free(r);
    o = (ulm_round_options)ULM_ROUND_OPTIONS_INIT;
    o.synthesize = "fast/m";
    o.synthesis_template = "Combine {answers} for {the question}";
    assert_int_equal(ulm_round_run(&r, c, req, members, 2, &o), ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "{the question}"));
    assert_int_equal(ulm_round_member_count(r), 0); /* nothing was sent */
    ulm_round_free(r);

    ulm_request *empty = NULL;
    assert_int_equal(ulm_request_new(&empty), ULM_OK);
    assert_int_equal(ulm_request_add_message(empty, ULM_ROLE_USER, ""), ULM_OK);
    assert_int_equal(ulm_round_run(&r, c, empty, members, 2, NULL), ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "no prompt"));
    ulm_round_free(r);
    ulm_request_free(empty);

    /* an unknown model fails its member, not the round... */
    const char *mixed[] = {"nosuch/model", "fast/m"};
    assert_int_equal(ulm_round_run(&r, c, req, mixed, 2, NULL), ULM_OK);
    assert_int_equal(ulm_response_error(member(r, 0)), ULM_EINVAL);
    assert_int_equal(ulm_response_attempt_count(member(r, 0)), 0);
    ulm_round_free(r);
    /* ...unless every member fails that way */
    const char *wrong[] = {"nosuch/model", "other/model"};
    assert_int_equal(ulm_round_run(&r, c, req, wrong, 2, NULL), ULM_EINVAL);
    assert_non_null(strstr(ulm_round_error_message(r), "no member answered"));
    ulm_round_free(r);
    assert_int_equal(ulm_round_run(NULL, c, req, members, 2, NULL), ULM_EINVAL);
    assert_int_equal(ulm_round_run(&r, NULL, req, members, 2, NULL), ULM_EINVAL);
    assert_null(r);
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(members_across_local_and_cloud_with_one_down),
        cmocka_unit_test(eight_slow_members_run_at_once),
        cmocka_unit_test(rounds_reuse_their_connections),
        cmocka_unit_test(quorum_one_cancels_the_stalled_member),
        cmocka_unit_test(a_predicate_ends_the_round),
        cmocka_unit_test(the_deadline_keeps_what_arrived),
        cmocka_unit_test(a_lost_quorum_ends_the_round_at_once),
        cmocka_unit_test(cost_is_unknown_when_a_member_cost_is),
        cmocka_unit_test(a_member_fails_over_inside_its_chain),
        cmocka_unit_test(streaming_members_interleave),
        cmocka_unit_test(the_requests_on_delta_learns_the_member),
        cmocka_unit_test(cloud_members_are_told_only_that_they_answer),
        cmocka_unit_test(version_1_options_are_read_no_further),
        cmocka_unit_test(synthesis_combines_local_answers),
        cmocka_unit_test(a_failed_synthesis_keeps_the_answers),
        cmocka_unit_test(the_synthesis_keeps_the_requests_overrides_and_clocks),
        cmocka_unit_test(sixty_anonymized_answers_keep_distinct_labels),
        cmocka_unit_test(another_thread_cancels_the_round),
        cmocka_unit_test(threads_run_rounds_on_one_client),
        cmocka_unit_test(bad_rounds_are_refused_before_anything_is_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
