/* test_dmr_lifecycle_live.c - pull, list, ps, unload, remove and preload against the DMR emulator. */
#include <pthread.h>

#include "live.h"

/* A client whose local backend is the lifecycle emulator (ulm_start_dmr_lifecycle). */
static ulm_client *lifecycle_client(void)
{
    return live_client(live_url("ULM_TEST_DMR_LIFECYCLE_URL"), LIVE_DEAD_URL, NULL);
}

/* What a pull reported. */
typedef struct reports {
    int count;
    int finished;
    int cached;
    double last_percent;
    uint64_t total;
    size_t max_layers;
    int went_down;      /* a report had less done than the one before */
    uint64_t last_done;
    int stop_after;     /* non-zero: ask to stop at this report */
} reports;

static int note(const ulm_pull_progress *p, void *payload)
{
    reports *r = payload;
    assert_int_equal(p->version, ULM_PULL_PROGRESS_VERSION);
    assert_true(p->percent >= 0 && p->percent <= 100);
    r->count++;
    r->went_down |= p->done_bytes < r->last_done;
    r->last_done = p->done_bytes;
    r->last_percent = p->percent;
    r->total = p->total_bytes;
    r->max_layers = p->layers > r->max_layers ? p->layers : r->max_layers;
    r->finished = p->finished;
    r->cached = p->cached;
    return r->stop_after && r->count >= r->stop_after;
}

static int pulled(ulm_client *c, const char *model)
{
    ulm_dmr_models *m = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_list(&m, c, NULL, err, sizeof err), ULM_OK);
    int found = 0;
    for (size_t i = 0; i < ulm_dmr_models_count(m); i++)
        for (size_t t = 0; t < ulm_dmr_models_tag_count(m, i); t++)
            found |= strcmp(ulm_dmr_models_tag(m, i, t), model) == 0;
    ulm_dmr_models_free(m);
    return found;
}

static void a_pull_reports_progress_then_is_cached(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    reports r = {.count = 0};
    char err[ULM_ERROR_SIZE];
    assert_false(pulled(c, "ai/two-layers:latest"));
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/two-layers", note, &r, NULL, err, sizeof err),
                     ULM_OK);
    assert_string_equal(err, "");
    assert_true(r.count >= 3);      /* progress lines, then the end */
    assert_true(r.finished);
    assert_false(r.cached);
    assert_true(r.last_percent == 100);
    assert_int_equal(r.max_layers, 2); /* the model and its license, side by side */
    assert_true(r.total > 0);
    assert_false(r.went_down);
    assert_true(pulled(c, "ai/two-layers:latest"));

    reports again = {.count = 0};
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/two-layers", note, &again, NULL, err, sizeof err),
                     ULM_OK);
    assert_int_equal(again.count, 1); /* only the end: nothing downloaded */
    assert_true(again.finished && again.cached);
    ulm_client_free(c);
}

static void pull_failures_have_their_class(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/fails-midway", NULL, NULL, NULL, err, sizeof err),
                     ULM_ESERVER);
    assert_non_null(strstr(err, "dmr: "));
    assert_false(pulled(c, "ai/fails-midway:latest"));
    /* a repository that does not exist */
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/no-such-model", NULL, NULL, NULL, err, sizeof err),
                     ULM_EMODEL_NOT_FOUND);
    /* a stream cut mid-line is a broken transfer; the next pull resumes and succeeds */
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/cut-once", NULL, NULL, NULL, err, sizeof err),
                     ULM_ETRANSPORT);
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/cut-once", NULL, NULL, NULL, err, sizeof err),
                     ULM_OK);
    assert_true(pulled(c, "ai/cut-once:latest"));
    assert_int_equal(ulm_dmr_pull(c, NULL, "", NULL, NULL, NULL, err, sizeof err), ULM_EINVAL);
    assert_int_equal(ulm_dmr_pull(c, "nosuch", "ai/x", NULL, NULL, NULL, err, sizeof err),
                     ULM_EINVAL);
    assert_non_null(strstr(err, "not a Docker Model Runner backend"));
    ulm_client_free(c);
}

typedef struct stopper {
    ulm_cancel *cancel;
} stopper;

static void *stop_soon(void *arg)
{
    stopper *s = arg;
    struct timespec wait = {0, 300 * 1000000L};
    nanosleep(&wait, NULL);
    ulm_cancel_trigger(s->cancel);
    return NULL;
}

static void a_stalled_pull_is_stopped(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    /* by the progress callback */
    reports r = {.stop_after = 1};
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/stalls", note, &r, NULL, err, sizeof err),
                     ULM_ECANCELLED);
    /* by another thread, while the runner sends nothing */
    stopper s;
    assert_int_equal(ulm_cancel_new(&s.cancel), ULM_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_soon, &s), 0);
    double start = live_now_ms();
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/stalls", NULL, NULL, s.cancel, err, sizeof err),
                     ULM_ECANCELLED);
    assert_true(live_now_ms() - start < 300 + live_tolerance_ms() + 1000);
    assert_int_equal(pthread_join(t, NULL), 0);
    ulm_cancel_free(s.cancel);
    ulm_client_free(c);
}

static void the_pulled_models_are_listed_with_their_metadata(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    ulm_dmr_models *m = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_list(&m, c, "dmr", err, sizeof err), ULM_OK);
    size_t found = ulm_dmr_models_count(m);
    for (size_t i = 0; i < ulm_dmr_models_count(m); i++)
        if (strcmp(ulm_dmr_models_tag(m, i, 0), "ai/stories260k:latest") == 0)
            found = i;
    assert_true(found < ulm_dmr_models_count(m));
    assert_true(strncmp(ulm_dmr_models_id(m, found), "sha256:", 7) == 0);
    assert_string_equal(ulm_dmr_models_format(m, found), "gguf");
    assert_string_equal(ulm_dmr_models_architecture(m, found), "llama");
    assert_true(strlen(ulm_dmr_models_size(m, found)) > 0);
    assert_true(strlen(ulm_dmr_models_parameters(m, found)) > 0);
    assert_true(ulm_dmr_models_context_size(m, found) > 0);
    assert_string_equal(ulm_dmr_models_tag(m, found, 99), "");
    assert_string_equal(ulm_dmr_models_id(m, 9999), "");
    ulm_dmr_models_free(m);
    ulm_client_free(c);
}

/* The runner named model, or -1. */
static long runner_of(const ulm_dmr_runners *r, const char *model)
{
    for (size_t i = 0; i < ulm_dmr_runners_count(r); i++)
        if (strstr(ulm_dmr_runners_model(r, i), model))
            return (long)i;
    return -1;
}

static void preload_ps_and_unload(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    long unloaded = -1;
    assert_int_equal(ulm_dmr_unload(c, NULL, NULL, &unloaded, err, sizeof err), ULM_OK);
    assert_int_equal(ulm_dmr_preload(c, NULL, "ai/stories260k", 512, "10m", err, sizeof err),
                     ULM_OK);
    ulm_dmr_runners *r = NULL;
    assert_int_equal(ulm_dmr_ps(&r, c, NULL, err, sizeof err), ULM_OK);
    long i = runner_of(r, "stories260k");
    assert_true(i >= 0);
    assert_string_equal(ulm_dmr_runners_engine(r, (size_t)i), "llama.cpp");
    assert_string_equal(ulm_dmr_runners_mode(r, (size_t)i), "completion");
    assert_false(ulm_dmr_runners_loading(r, (size_t)i));
    assert_string_equal(ulm_dmr_runners_keep_alive(r, (size_t)i), "10m0s");
    assert_true(strlen(ulm_dmr_runners_last_used(r, (size_t)i)) > 0);
    ulm_dmr_runners_free(r);
    assert_int_equal(ulm_dmr_unload(c, NULL, "ai/stories260k", &unloaded, err, sizeof err),
                     ULM_OK);
    assert_int_equal(unloaded, 1);
    assert_int_equal(ulm_dmr_ps(&r, c, NULL, err, sizeof err), ULM_OK);
    assert_true(runner_of(r, "stories260k") < 0);
    ulm_dmr_runners_free(r);
    /* a model that is not pulled cannot be preloaded */
    assert_int_equal(ulm_dmr_preload(c, NULL, "ai/not-pulled", 0, NULL, err, sizeof err),
                     ULM_EMODEL_NOT_FOUND);
    assert_int_equal(ulm_dmr_preload(c, NULL, "ai/stories260k", 0, "ten minutes", err,
                                     sizeof err),
                     ULM_EINVAL);
    ulm_client_free(c);
}

typedef struct loader {
    ulm_client *c;
    int rc;
} loader;

static void *load_slowly(void *arg)
{
    loader *l = arg;
    char err[ULM_ERROR_SIZE];
    l->rc = ulm_dmr_preload(l->c, NULL, "ai/slow-load", 0, NULL, err, sizeof err);
    return NULL;
}

static void a_loading_model_shows_as_loading(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/slow-load", NULL, NULL, NULL, err, sizeof err),
                     ULM_OK);
    loader l = {.c = c};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_slowly, &l), 0);
    int seen_loading = 0;
    for (int i = 0; i < 100 && !seen_loading; i++) {
        ulm_dmr_runners *r = NULL;
        assert_int_equal(ulm_dmr_ps(&r, c, NULL, err, sizeof err), ULM_OK);
        long k = runner_of(r, "slow-load");
        seen_loading = k >= 0 && ulm_dmr_runners_loading(r, (size_t)k);
        if (seen_loading)
            assert_string_equal(ulm_dmr_runners_last_used(r, (size_t)k), "");
        ulm_dmr_runners_free(r);
        struct timespec wait = {0, 20 * 1000000L};
        nanosleep(&wait, NULL);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rc, ULM_OK);
    assert_true(seen_loading);
    ulm_client_free(c);
}

/* Runs a round of slow-load and stories260k (streamed or not) and keeps what it told. */
static void round_of_two(ulm_client *c, int streamed, live_told *t)
{
    static const char *const members[] = {"dmr/ai/slow-load", "dmr/ai/stories260k"};
    *t = (live_told){.count = {0}};
    ulm_round_options opts;
    assert_int_equal(ulm_round_options_init(&opts, ULM_ROUND_OPTIONS_VERSION), ULM_OK);
    opts.on_member_state = live_keep_state;
    opts.state_payload = t;
    opts.on_delta = streamed ? live_ignore_delta : NULL;
    ulm_request *req = live_request(members[0], "Once upon a time");
    assert_int_equal(ulm_request_set_max_tokens(req, 4), ULM_OK);
    ulm_round *round = NULL;
    int rc = ulm_round_run(&round, c, req, members, 2, &opts);
    if (rc != ULM_OK)
        fail_msg("%s", ulm_round_error_message(round));
    ulm_round_free(round);
    ulm_request_free(req);
}

static void expect_told(const live_told *t, size_t member, const int *states, size_t count)
{
    int same = t->count[member] == count;
    for (size_t i = 0; same && i < count; i++)
        same = t->states[member][i] == states[i];
    if (!same) {
        char told[64] = "";
        for (size_t i = 0; i < t->count[member]; i++)
            snprintf(told + strlen(told), sizeof told - strlen(told), " %d",
                     t->states[member][i]);
        fail_msg("member %zu was told:%s; expected %zu states, the first %d", member, told,
                 count, count ? states[0] : -1);
    }
}

static void a_round_tells_which_members_wait_for_a_load(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/slow-load", NULL, NULL, NULL, err, sizeof err),
                     ULM_OK);
    static const int loading_then_answering[] = {ULM_MEMBER_LOADING, ULM_MEMBER_ANSWERING};
    static const int answering[] = {ULM_MEMBER_ANSWERING};
    for (int i = 0; i < 4; i++) {
        long unloaded = -1;
        assert_int_equal(ulm_dmr_unload(c, NULL, "ai/slow-load", &unloaded, err, sizeof err),
                         ULM_OK);
        /* slow-load takes 1.5 s to load: its member is told it waits for the load, then
         * (streamed) that its answer arrives */
        live_told t;
        int streamed = i % 2 == 0;
        round_of_two(c, streamed, &t);
        expect_told(&t, 0, loading_then_answering, streamed ? 2 : 1);
        if (streamed)
            assert_int_equal(t.states[1][t.count[1] - 1], ULM_MEMBER_ANSWERING);
        /* now both are loaded: no member waits for a load */
        round_of_two(c, 1, &t);
        expect_told(&t, 0, answering, 1);
        expect_told(&t, 1, answering, 1);
    }
    ulm_client_free(c);
}

static void a_pulled_model_is_removed(void **state)
{
    (void)state;
    ulm_client *c = lifecycle_client();
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_dmr_pull(c, NULL, "ai/removable", NULL, NULL, NULL, err, sizeof err),
                     ULM_OK);
    assert_true(pulled(c, "ai/removable:latest"));
    assert_int_equal(ulm_dmr_remove(c, NULL, "ai/removable", 0, err, sizeof err), ULM_OK);
    assert_false(pulled(c, "ai/removable:latest"));
    assert_int_equal(ulm_dmr_remove(c, NULL, "ai/removable", 0, err, sizeof err),
                     ULM_EMODEL_NOT_FOUND);
    assert_non_null(strstr(err, "dmr: HTTP 404"));
    ulm_client_free(c);
}

static void an_unreachable_runner_fails_at_once(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, LIVE_DEAD_URL, NULL);
    char err[ULM_ERROR_SIZE];
    ulm_dmr_runners *r = NULL;
    assert_int_equal(ulm_dmr_ps(&r, c, NULL, err, sizeof err), ULM_ECONNECT);
    assert_null(r);
    assert_non_null(strstr(err, "dmr: "));
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_pull_reports_progress_then_is_cached),
        cmocka_unit_test(pull_failures_have_their_class),
        cmocka_unit_test(a_stalled_pull_is_stopped),
        cmocka_unit_test(the_pulled_models_are_listed_with_their_metadata),
        cmocka_unit_test(preload_ps_and_unload),
        cmocka_unit_test(a_loading_model_shows_as_loading),
        cmocka_unit_test(a_round_tells_which_members_wait_for_a_load),
        cmocka_unit_test(a_pulled_model_is_removed),
        cmocka_unit_test(an_unreachable_runner_fails_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
