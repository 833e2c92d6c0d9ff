/* test_policy_live.c - the routing policy against real servers: deployments, retries, offline. */
#define _DEFAULT_SOURCE /* mkstemps, usleep */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "live.h"

/* ------------------------------------------------------------ servers of our own */

/* A fault server this test starts, so it can kill it. */
typedef struct own_server {
    pid_t pid;
    char url[256];
} own_server;

/* Starts tests/servers/fault-server.mjs on port (0: any) and reads its URL. */
static void own_server_start(own_server *s, int port)
{
    char script[1024], port_text[16];
    snprintf(script, sizeof script, "%s/tests/servers/fault-server.mjs", live_url("ULM_ROOT"));
    snprintf(port_text, sizeof port_text, "%d", port);
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t parent = getpid();
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        /* A failed assertion ends this test without own_server_kill: the server must not
         * outlive it, nor keep ctest's output pipe open. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execlp("node", "node", script, "--host", "127.0.0.1", "--port", port_text, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t len = 0;
    while (len + 1 < sizeof line && read(out[0], line + len, 1) == 1 && line[len] != '\n')
        len++;
    line[len] = '\0';
    close(out[0]);
    const char *prefix = "fault-server listening on ";
    if (strncmp(line, prefix, strlen(prefix)) != 0)
        fail_msg("the fault server did not start: \"%s\"", line);
    snprintf(s->url, sizeof s->url, "%s", line + strlen(prefix));
}

static void own_server_kill(own_server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* A port nothing listens on now, for a server started later. */
static int free_port(void)
{
    own_server probe;
    own_server_start(&probe, 0);
    int port = atoi(strrchr(probe.url, ':') + 1);
    own_server_kill(&probe);
    return port;
}

/* ------------------------------------------------------------ configuration files */

/* Writes json to a fresh temporary file; the caller unlinks it. */
static char *write_config(const char *json)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ulm-policy-XXXXXX.json");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    return path;
}

/* A client of a configuration file written from fmt. */
static ulm_client *client_from(const char *dmr_url, const char *fmt, ...)
{
    char json[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    char *path = write_config(json);
    ulm_client_options o = live_options(dmr_url, NULL, NULL);
    o.config_path = path;
    o.timeout_ms = 0; /* the file's overall deadline, or the default */
    o.ignore_environment = 0; /* the file names the variables that hold the keys */
    ulm_client *c = live_client_with(&o);
    unlink(path);
    return c;
}

static ulm_response *ask(ulm_client *c, const char *models, int *rc)
{
    ulm_request *req = live_request(models, "Once upon a time");
    ulm_response *resp = NULL;
    *rc = ulm_complete(&resp, c, req);
    assert_non_null(resp);
    ulm_request_free(req);
    return resp;
}

static void assert_ok(int rc, const ulm_response *resp)
{
    if (rc != ULM_OK)
        fail_msg("the call failed: %s: %s", ulm_error_name(rc), ulm_response_error_message(resp));
}

/* ------------------------------------------------------------ tests */

/* Two deployments of one model; one dies mid-run: no call fails while the other lives. */
static void killed_deployment_fails_over_without_a_failed_call(void **state)
{
    (void)state;
    own_server a, b;
    own_server_start(&a, 0);
    own_server_start(&b, 0);
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    ulm_client *c = client_from(LIVE_DEAD_URL,
                                "{\"backends\": {\"farm\": {\"type\": \"openai\","
                                " \"urls\": [\"%s/ok/0/v1\", \"%s/ok/0/v1\"],"
                                " \"api_key_env\": \"ULM_TEST_FARM_KEY\"}},"
                                " \"offline\": {\"use_local_models\": false}}",
                                a.url, b.url);
    int failovers = 0;
    for (int i = 0; i < 20; i++) {
        if (i == 8)
            own_server_kill(&a);
        int rc;
        ulm_response *resp = ask(c, "farm/fault-model", &rc);
        assert_ok(rc, resp);
        assert_string_equal(ulm_response_provider(resp), "farm");
        if (ulm_response_attempt_count(resp) == 2) {
            assert_attempt_is(resp, 0, "farm", ULM_ECONNECT);
            failovers++;
        }
        assert_true(i >= 8 || ulm_response_attempt_count(resp) == 1);
        ulm_response_free(resp);
    }
    /* round robin reached the dead one until its breaker opened (5 failures by default) */
    assert_true(failovers >= 1 && failovers <= 5);
    ulm_client_free(c);
    own_server_kill(&b);
}

/* A client whose openai backend answers 429 with "Retry-After: seconds" once, then OK. */
static ulm_client *rate_limited_client(int seconds, const char *extra)
{
    char tag[64];
    snprintf(tag, sizeof tag, "run-%ld-%.0f", (long)getpid(), live_now_ms());
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    return client_from(LIVE_DEAD_URL,
                       "{\"backends\": {\"openai\": {\"type\": \"openai\","
                       " \"url\": \"%s/retry-after/%d/%s/v1\", \"api_key_env\": \"ULM_TEST_FARM_KEY\"}},"
                       " \"retry\": {\"max_retries\": 2, \"base_delay_ms\": 10}%s}",
                       live_url("ULM_TEST_FAULT_URL"), seconds, tag, extra);
}

static void retry_after_is_honoured(void **state)
{
    (void)state;
    ulm_client *c = rate_limited_client(1, "");
    double start = live_now_ms();
    int rc;
    ulm_response *resp = ask(c, "openai/fault-model", &rc);
    double ms = live_now_ms() - start;
    assert_ok(rc, resp);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt_is(resp, 0, "openai", ULM_ERATE_LIMIT);
    if (ms < 1000.0 || ms > 1000.0 + live_tolerance_ms())
        fail_msg("Retry-After: 1 gave a pause of %.0f ms", ms);
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void retry_after_past_the_deadline_is_not_waited_for(void **state)
{
    (void)state;
    ulm_client *c = rate_limited_client(5, ", \"timeouts\": {\"overall_ms\": 2000}");
    double start = live_now_ms();
    int rc;
    ulm_response *resp = ask(c, "openai/fault-model", &rc);
    assert_int_equal(rc, ULM_ERATE_LIMIT);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    /* it gave up rather than wait 5 s, which the 2 s overall clock would have ended */
    assert_true(live_now_ms() - start < 1900);
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* A cloud that cannot be reached (a refused loopback port, declared not local, so no test
 * leaves 127.0.0.0/8, DNS included): local models take over, then the cloud is skipped. */
static void unresolvable_cloud_goes_offline(void **state)
{
    (void)state;
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    ulm_client *c = client_from(live_url("ULM_TEST_DMR_URL"),
                                "{\"backends\": {\"openai\": {\"type\": \"openai\","
                                " \"url\": \"http://127.0.0.1:1/v1\", \"local\": false,"
                                " \"api_key_env\": \"ULM_TEST_FARM_KEY\"}},"
                                " \"timeouts\": {\"connect_ms\": 3000}}");
    int rc;
    ulm_response *first = ask(c, "openai/gpt-4o-mini", &rc);
    assert_ok(rc, first);
    assert_true(ulm_response_offline(first));
    assert_string_equal(ulm_response_provider(first), "dmr");
    assert_attempt_is(first, 0, "openai", ULM_ECONNECT);
    ulm_response_free(first);

    ulm_response *second = ask(c, "openai/gpt-4o-mini", &rc);
    assert_ok(rc, second);
    assert_true(ulm_response_offline(second));
    assert_attempt_is(second, 0, "openai", ULM_ECONNECT);
    assert_true(ulm_attempt_ms(ulm_response_attempt(second, 0)) == 0.0); /* skipped, not asked */
    assert_non_null(strstr(ulm_attempt_error_message(ulm_response_attempt(second, 0)),
                           "skipped: offline"));
    ulm_response_free(second);
    ulm_client_free(c);
}

/* The network comes back: a probe finds the cloud, and offline mode ends. */
static void offline_mode_ends_when_the_cloud_answers_again(void **state)
{
    (void)state;
    int port = free_port();
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    ulm_client *c = client_from(live_url("ULM_TEST_DMR_URL"),
                                "{\"backends\": {\"openai\": {\"type\": \"openai\","
                                " \"url\": \"http://127.0.0.1:%d/ok/0/v1\","
                                " \"api_key_env\": \"ULM_TEST_FARM_KEY\"}},"
                                " \"offline\": {\"probe_interval_ms\": 60000}}",
                                port);
    int rc;
    ulm_response *resp = ask(c, "openai/fault-model", &rc);
    assert_ok(rc, resp);
    assert_true(ulm_response_offline(resp));
    ulm_response_free(resp);

    own_server cloud;
    own_server_start(&cloud, port);
    resp = ask(c, "openai/fault-model", &rc); /* within the probe interval: still offline */
    assert_ok(rc, resp);
    assert_true(ulm_response_offline(resp));
    ulm_response_free(resp);

    /* the probe interval passes on the library's clock, however slow the machine is */
    ulm__test_advance_clock(61000);
    resp = ask(c, "openai/fault-model", &rc); /* the probe */
    assert_ok(rc, resp);
    assert_false(ulm_response_offline(resp));
    assert_string_equal(ulm_response_provider(resp), "openai");
    ulm_response_free(resp);
    resp = ask(c, "openai/fault-model", &rc);
    assert_ok(rc, resp);
    assert_string_equal(ulm_response_provider(resp), "openai");
    ulm_response_free(resp);
    ulm_client_free(c);
    own_server_kill(&cloud);
}

/* A dead endpoint's circuit opens after the configured failures and skips it. */
static void breaker_opens_and_the_chain_fails_fast(void **state)
{
    (void)state;
    ulm_client *c = client_from(LIVE_DEAD_URL,
                                "{\"breaker\": {\"failures\": 2, \"window_ms\": 10000,"
                                " \"cooldown_ms\": 60000}}");
    int rc;
    for (int i = 0; i < 2; i++) {
        ulm_response *resp = ask(c, LIVE_LOCAL_MODEL, &rc);
        assert_int_equal(rc, ULM_ECONNECT);
        ulm_response_free(resp);
    }
    double start = live_now_ms();
    ulm_response *resp = ask(c, LIVE_LOCAL_MODEL, &rc);
    assert_int_equal(rc, ULM_ECIRCUIT_OPEN);
    assert_true(live_now_ms() - start < live_tolerance_ms()); /* at once, not after a wait */
    assert_non_null(strstr(ulm_response_error_message(resp), "every target is cooling down"));
    assert_non_null(strstr(ulm_response_error_message(resp), "dmr: cooling down"));
    ulm_response_free(resp);
    ulm_client_free(c);
}

typedef struct busy_call {
    ulm_client *client;
    int rc;
} busy_call;

static void *hold_the_slot(void *arg)
{
    busy_call *b = arg;
    ulm_response *resp = ask(b->client, "slow/fault-model", &b->rc);
    ulm_response_free(resp);
    return NULL;
}

/* One request in flight and no queue: a second one fails at once, resource exhausted. */
static void full_queue_is_resource_exhausted(void **state)
{
    (void)state;
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    ulm_client *c = client_from(LIVE_DEAD_URL,
                                "{\"backends\": {\"slow\": {\"type\": \"openai\","
                                " \"url\": \"%s/delay-first-byte/800/v1\","
                                " \"api_key_env\": \"ULM_TEST_FARM_KEY\","
                                " \"max_in_flight\": 1, \"max_queue\": 0}}}",
                                live_url("ULM_TEST_FAULT_URL"));
    busy_call first = {.client = c};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_the_slot, &first), 0);
    usleep(200 * 1000); /* the first call is waiting for its answer */
    double start = live_now_ms();
    int rc;
    ulm_response *resp = ask(c, "slow/fault-model", &rc);
    assert_int_equal(rc, ULM_EBUSY);
    assert_true(live_now_ms() - start < live_tolerance_ms()); /* at once, not after a wait */
    ulm_response_free(resp);
    pthread_join(t, NULL);
    assert_int_equal(first.rc, ULM_OK);
    ulm_client_free(c);
}

/* An alias is a chain; a context window too small moves past the targets no larger. */
static void alias_chain_skips_windows_no_larger(void **state)
{
    (void)state;
    setenv("ULM_TEST_FARM_KEY", "sk-farm-test", 1);
    ulm_client *c = client_from(live_url("ULM_TEST_DMR_URL"),
                                "{\"backends\": {\"small\": {\"type\": \"openai\","
                                " \"url\": \"%s/ok/0/v1\", \"api_key_env\": \"ULM_TEST_FARM_KEY\"},"
                                " \"big\": {\"type\": \"openai\", \"url\": \"%s/ok/0/v1\","
                                " \"api_key_env\": \"ULM_TEST_FARM_KEY\"}},"
                                " \"models\": {\"dmr/ai/stories260k\": {\"context_window\": 512},"
                                " \"small/fault-model\": {\"context_window\": 256},"
                                " \"big/fault-model\": {\"context_window\": 128000},"
                                " \"long\": [\"dmr/ai/stories260k\", \"small/fault-model\","
                                " \"big/fault-model\"]}}",
                                live_url("ULM_TEST_FAULT_URL"), live_url("ULM_TEST_FAULT_URL"));
    /* far more than the emulator's context window for this model */
    size_t size = 60000;
    char *prompt = malloc(size + 1);
    assert_non_null(prompt);
    for (size_t i = 0; i < size; i++)
        prompt[i] = "once upon a time "[i % 17];
    prompt[size] = '\0';
    ulm_request *req = live_request("long", prompt);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    assert_ok(rc, resp);
    assert_string_equal(ulm_response_provider(resp), "big");
    assert_attempt_is(resp, 0, "dmr", ULM_ECONTEXT_LENGTH);
    assert_attempt_is(resp, 1, "small", ULM_ECONTEXT_LENGTH);
    assert_non_null(strstr(ulm_attempt_error_message(ulm_response_attempt(resp, 1)), "skipped"));
    assert_attempt_is(resp, 2, "big", ULM_OK);
    ulm_response_free(resp);
    ulm_request_free(req);
    free(prompt);
    ulm_client_free(c);
}

static void mistakes_in_the_file_name_path_and_line(void **state)
{
    (void)state;
    char *path = write_config("{\n"
                              "  \"models\": {\n"
                              "    \"fast\": [\"dmr/ai/smollm2\",\n"
                              "             \"opnai/gpt-4o-mini\"]\n"
                              "  }\n"
                              "}\n");
    ulm_client_options o = live_options(LIVE_DEAD_URL, NULL, NULL);
    o.config_path = path;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE], want[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &o, err, sizeof err), ULM_ECONFIG);
    assert_null(c);
    snprintf(want, sizeof want, "%s:4: models.fast[1]: unknown backend \"opnai\"", path);
    assert_string_equal(err, want);
    unlink(path);
}

int main(void)
{
    live_url("ULM_TEST_DMR_URL");
    live_url("ULM_TEST_FAULT_URL");
    live_url("ULM_ROOT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_deployment_fails_over_without_a_failed_call),
        cmocka_unit_test(retry_after_is_honoured),
        cmocka_unit_test(retry_after_past_the_deadline_is_not_waited_for),
        cmocka_unit_test(unresolvable_cloud_goes_offline),
        cmocka_unit_test(offline_mode_ends_when_the_cloud_answers_again),
        cmocka_unit_test(breaker_opens_and_the_chain_fails_fast),
        cmocka_unit_test(full_queue_is_resource_exhausted),
        cmocka_unit_test(alias_chain_skips_windows_no_larger),
        cmocka_unit_test(mistakes_in_the_file_name_path_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
