/* test_policy_loop.c - the routing policy inside ulm_complete(), over a scripted transport. */
#define _DEFAULT_SOURCE /* mkstemps, usleep */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "../attempt_check.h"
#include "client.h"
#include "engine.h"
#include "route.h"

#define OK_BODY "{\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}"
#define BUSY_BODY "{\"error\":{\"message\":\"busy\"}}"

/* ------------------------------------------------------------ scripted transport */

/* How one host answers: after `failures` failures (a transport error, or an HTTP status
 * with an error body), it answers OK_BODY. */
typedef struct host {
    const char *name;       /* matched in the URL */
    long failures;          /* -1: fails for ever */
    int transport_error;    /* ULM_OK: fail with http_status instead */
    int http_status;
    const char *retry_after;
    long calls;
    double first_at, last_at; /* when its first and latest requests came */
    const char *error_body;   /* NULL: BUSY_BODY */
} host;

typedef struct script {
    host hosts[4];
    size_t count;
    double gate_ms; /* each answer waits this long: a request stays in flight */
} script;

static double now_ms(void)
{
    return ulm__now_ms();
}

/* Slack for the time the code itself takes; valgrind runs widen it through the environment. */
static double tolerance_ms(void)
{
    const char *v = getenv("ULM_TEST_TOLERANCE_MS");
    return v && *v ? atof(v) : 50.0;
}

static int scripted_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                              char *errbuf, size_t errbuf_size)
{
    script *s = ctx;
    for (size_t i = 0; i < s->count; i++) {
        host *h = &s->hosts[i];
        if (!strstr(t->url, h->name))
            continue;
        double now = now_ms();
        if (!h->calls++)
            h->first_at = now;
        h->last_at = now;
        if (s->gate_ms > 0)
            usleep((useconds_t)(s->gate_ms * 1000));
        int failing = h->failures < 0 || h->calls <= h->failures;
        if (failing && h->transport_error != ULM_OK) {
            snprintf(errbuf, errbuf_size, "scripted failure at %s", h->name);
            return h->transport_error;
        }
        resp->status = failing ? h->http_status : 200;
        if (failing && h->retry_after)
            resp->retry_after = ulm__strdup(h->retry_after);
        const char *body = !failing ? OK_BODY : h->error_body ? h->error_body : BUSY_BODY;
        return ulm__transfer_body(t, resp, body, strlen(body));
    }
    fail_msg("unexpected request to %s", t->url);
    return ULM_ETRANSPORT;
}

/* ------------------------------------------------------------ clients */

static ulm_client *client_with_config(script *s, const char *json)
{
    char path[] = "/tmp/ulm-loop-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    setenv("ULM_LOOP_KEY", "sk-loop-test", 1);
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.model_runner_url = "http://local.test";
    opts.default_local_model = "ai/local";
    opts.config_path = path;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    int rc = ulm_client_new(&c, &opts, err, sizeof err);
    unlink(path);
    if (rc != ULM_OK)
        fail_msg("client: %s", err);
    ulm__engine_pool_set_transport(c->engines, scripted_transport, s);
    return c;
}

static ulm_response *call(ulm_client *c, const char *models, int *rc)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, models), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hello"), ULM_OK);
    ulm_response *resp = NULL;
    *rc = ulm_complete(&resp, c, req);
    assert_non_null(resp);
    ulm_request_free(req);
    return resp;
}

#define FARM(urls, extra)                                                                   \
    "{\"backends\": {\"farm\": {\"type\": \"openai\", \"urls\": [" urls "],"              \
    " \"api_key_env\": \"ULM_LOOP_KEY\"" extra "}}"

/* ------------------------------------------------------------ the load probe */

static void a_model_that_answers_at_once_is_not_probed(void **state)
{
    (void)state;
    /* the runner's list of runners would be asked only if an answer took
     * ULM_LOAD_PROBE_AFTER_MS to begin; these come at once, so it never is */
    script s = {{{"/engines/ps", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL},
                 {"local.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}},
                2,
                0};
    ulm_client *c = client_with_config(&s, "{}");
    for (int i = 0; i < 10; i++) {
        int rc;
        ulm_response *resp = call(c, "dmr/ai/local", &rc);
        assert_int_equal(rc, ULM_OK);
        ulm_response_free(resp);
    }
    assert_int_equal(s.hosts[1].calls, 10);
    assert_int_equal(s.hosts[0].calls, 0);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ retries */

static void retries_stop_at_the_limit_within_the_backoff_caps(void **state)
{
    (void)state;
    script s = {{{"a.test", -1, ULM_OK, 503, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"retry\": {\"max_retries\": 2, \"base_delay_ms\": 40,"
                                          " \"max_delay_ms\": 60}}");
    int rc;
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_EUNAVAILABLE);
    assert_int_equal(s.hosts[0].calls, 3);
    assert_int_equal(ulm_response_attempt_count(resp), 3);
    /* two pauses drawn from [0, 40] and [0, 60] (80 capped to the maximum) */
    assert_true(s.hosts[0].last_at - s.hosts[0].first_at <= 100.0 + tolerance_ms());
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void retry_succeeds_after_a_failure(void **state)
{
    (void)state;
    script s = {{{"a.test", 1, ULM_OK, 500, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"retry\": {\"max_retries\": 3, \"base_delay_ms\": 1}}");
    int rc;
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt_is(resp, 0, "farm", ULM_ESERVER);
    assert_attempt_is(resp, 1, "farm", ULM_OK);
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void retry_after_sets_the_pause_and_the_deadline_cuts_it(void **state)
{
    (void)state;
    script s = {{{"a.test", 1, ULM_OK, 429, "1", 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"retry\": {\"max_retries\": 1, \"base_delay_ms\": 1},"
                                          " \"timeouts\": {\"overall_ms\": 5000}}");
    int rc;
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_true(s.hosts[0].last_at - s.hosts[0].first_at >= 999.0); /* not the 1 ms backoff */
    ulm_response_free(resp);
    ulm_client_free(c);

    script late = {{{"a.test", 1, ULM_OK, 429, "30", 0, 0, 0, NULL}}, 1, 0};
    c = client_with_config(
        &late, FARM("\"http://a.test\"", "") ", \"retry\": {\"max_retries\": 1},"
                                             " \"timeouts\": {\"overall_ms\": 5000}}");
    resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_ERATE_LIMIT); /* 30 s is past the deadline: no retry */
    assert_int_equal(late.hosts[0].calls, 1);
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ deployments */

static void deployments_share_the_load_round_robin(void **state)
{
    (void)state;
    script s = {{{"a.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL},
                 {"b.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL},
                 {"c.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}},
                3,
                0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\", \"http://b.test\", \"http://c.test\"", "") "}");
    for (int i = 0; i < 9; i++) {
        int rc;
        ulm_response *resp = call(c, "farm/m", &rc);
        assert_int_equal(rc, ULM_OK);
        ulm_response_free(resp);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.hosts[i].calls, 3);
    ulm_client_free(c);
}

static void failed_deployment_fails_over_to_another(void **state)
{
    (void)state;
    script s = {{{"a.test", -1, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL},
                 {"b.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}},
                2,
                0};
    ulm_client *c = client_with_config(&s, FARM("\"http://a.test\", \"http://b.test\"", "") "}");
    for (int i = 0; i < 7; i++) {
        int rc;
        ulm_response *resp = call(c, "farm/m", &rc);
        assert_int_equal(rc, ULM_OK);
        ulm_response_free(resp);
    }
    assert_int_equal(s.hosts[1].calls, 7);
    /* a failover does not take a turn: a keeps its place in the rotation, every other call */
    assert_int_equal(s.hosts[0].calls, 4);
    ulm_client_free(c);
}

/* Each attempt names its deployment, a credential in the URL hidden; a failed call names
 * the model its reported attempt sent. */
static void attempts_name_their_deployment(void **state)
{
    (void)state;
    script s = {{{"a.test", -1, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL},
                 {"b.test", -1, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL}},
                2,
                0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\", \"http://user:pw@b.test/v1\"", "") ","
                " \"offline\": {\"use_local_models\": false}}");
    int rc;
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_ECONNECT);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_string_equal(ulm_attempt_url(ulm_response_attempt(resp, 0)), "http://a.test");
    assert_string_equal(ulm_attempt_url(ulm_response_attempt(resp, 1)), "http://[REDACTED]@b.test/v1");
    assert_string_equal(ulm_attempt_url(NULL), "");
    assert_string_equal(ulm_response_provider(resp), "farm");
    assert_string_equal(ulm_response_model(resp), "m");
    ulm_response_free(resp);
    /* a target skipped without a request names no URL */
    unsetenv("OPENAI_API_KEY");
    resp = call(c, "openai/gpt-x", &rc);
    assert_int_equal(rc, ULM_ENOT_CONFIGURED);
    assert_string_equal(ulm_attempt_url(ulm_response_attempt(resp, 0)), "");
    assert_string_equal(ulm_response_model(resp), "gpt-x");
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* Each deployment answers its own model list; anything else cannot be reached. */
static int model_lists_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                                 char *errbuf, size_t errbuf_size)
{
    (void)ctx;
    const char *body = strstr(t->url, "a.test")   ? "{\"data\":[{\"id\":\"a-only\"},{\"id\":\"both\"}]}"
                       : strstr(t->url, "b.test") ? "{\"data\":[{\"id\":\"both\"},{\"id\":\"b-only\"}]}"
                                                  : NULL;
    if (!body) {
        snprintf(errbuf, errbuf_size, "no such host");
        return ULM_ECONNECT;
    }
    resp->status = 200;
    return ulm__transfer_body(t, resp, body, strlen(body));
}

static void model_lists_are_kept_per_deployment(void **state)
{
    (void)state;
    script s = {{{"unused.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(&s, FARM("\"http://a.test\", \"http://b.test\"", "") "}");
    ulm__engine_pool_set_transport(c->engines, model_lists_transport, NULL);
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    size_t a = SIZE_MAX, b = SIZE_MAX, farm_models = 0;
    for (size_t i = 0; i < ulm_model_list_backend_count(list); i++) {
        const char *url = ulm_model_list_backend_url(list, i);
        if (strcmp(url, "http://a.test") == 0)
            a = i;
        else if (strcmp(url, "http://b.test") == 0)
            b = i;
        else
            assert_int_equal(ulm_model_list_backend_model_count(list, i), 0);
    }
    assert_true(a != SIZE_MAX && b != SIZE_MAX);
    assert_int_equal(ulm_model_list_backend_model_count(list, a), 2);
    assert_string_equal(ulm_model_list_backend_model(list, a, 0), "a-only");
    assert_string_equal(ulm_model_list_backend_model(list, a, 1), "both");
    assert_null(ulm_model_list_backend_model(list, a, 2));
    assert_int_equal(ulm_model_list_backend_model_count(list, b), 2);
    assert_string_equal(ulm_model_list_backend_model(list, b, 0), "both");
    assert_string_equal(ulm_model_list_backend_model(list, b, 1), "b-only");
    /* the backend's list names each model once */
    for (size_t i = 0; i < ulm_model_list_count(list); i++)
        farm_models += strcmp(ulm_model_list_provider(list, i), "farm") == 0;
    assert_int_equal(farm_models, 3);
    assert_int_equal(ulm_model_list_backend_model_count(NULL, 0), 0);
    assert_null(ulm_model_list_backend_model(list, ulm_model_list_backend_count(list), 0));
    ulm_model_list_free(list);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ TLS and proxy */

typedef struct network_seen {
    char ca_file[256], proxy[256];
    int calls;
} network_seen;

static int network_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                             char *errbuf, size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    network_seen *seen = ctx;
    seen->calls++;
    snprintf(seen->ca_file, sizeof seen->ca_file, "%s", t->ca_file ? t->ca_file : "(none)");
    snprintf(seen->proxy, sizeof seen->proxy, "%s", t->proxy ? t->proxy : "(none)");
    resp->status = 200;
    return ulm__transfer_body(t, resp, OK_BODY, strlen(OK_BODY));
}

/* The file's ca_file and proxy reach every transfer of their backend, the program's beat
 * them, describe hides a proxy's password, and a CA file that cannot be read stops the
 * client with its name. */
static void ca_file_and_proxy_reach_the_transfer(void **state)
{
    (void)state;
    char ca[] = "/tmp/ulm-loop-ca-XXXXXX.pem";
    int fd = mkstemps(ca, 4);
    assert_true(fd >= 0);
    close(fd);
    char json[1024];
    snprintf(json, sizeof json,
             FARM("\"http://a.test\"", ", \"ca_file\": \"%s\","
                                       " \"proxy\": \"http://user:pw@proxy.test:3128\"") "}",
             ca);
    script s = {{{"unused.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(&s, json);
    network_seen seen = {0};
    ulm__engine_pool_set_transport(c->engines, network_transport, &seen);
    int rc;
    ulm_response_free(call(c, "farm/m", &rc));
    assert_int_equal(rc, ULM_OK);
    assert_string_equal(seen.ca_file, ca);
    assert_string_equal(seen.proxy, "http://user:pw@proxy.test:3128");
    char described[16384];
    assert_true(ulm_client_describe(c, described, sizeof described) < sizeof described);
    assert_non_null(strstr(described, "\"http://[REDACTED]@proxy.test:3128\""));
    assert_null(strstr(described, "user:pw"));
    /* a backend without them leaves libcurl's own */
    ulm_response_free(call(c, "dmr/ai/local", &rc));
    assert_string_equal(seen.ca_file, "(none)");
    assert_string_equal(seen.proxy, "(none)");
    ulm_client_free(c);

    /* the program's settings beat the file's */
    char path[] = "/tmp/ulm-loop-XXXXXX.json";
    fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    ulm_backend_setting settings[] = {{"farm", "proxy", ""},
                                      {"farm", "api_key", "sk-loop-test"},
                                      {"farm", "ca_file", "/nonexistent/ca.pem"}};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.config_path = path;
    opts.backend_settings = settings;
    opts.backend_setting_count = 2;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, network_transport, &seen);
    int calls = seen.calls;
    ulm_response_free(call(c, "farm/m", &rc));
    assert_int_equal(seen.calls, calls + 1);
    assert_string_equal(seen.proxy, ""); /* no proxy at all, whatever the environment says */
    ulm_client_free(c);
    opts.backend_setting_count = 3;
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_null(c);
    assert_string_equal(err, "farm.ca_file (from backend_settings): cannot read "
                             "/nonexistent/ca.pem: No such file or directory");
    unlink(path);
    unlink(ca);
}

/* libcurl is given the proxy: the call goes to the proxy's port, not the server's. */
static void a_proxy_is_where_libcurl_connects(void **state)
{
    (void)state;
    ulm_backend_setting settings[] = {{"dmr", "url", "http://127.0.0.1:2"},
                                      {"dmr", "proxy", "http://127.0.0.1:1"}};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.backend_settings = settings;
    opts.backend_setting_count = 2;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    int rc;
    ulm_response *resp = call(c, "dmr/ai/x", &rc);
    assert_int_equal(rc, ULM_ECONNECT);
    assert_non_null(strstr(ulm_response_error_message(resp), "port 1"));
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ breaker */

static void breaker_opens_then_one_trial_closes_it(void **state)
{
    (void)state;
    script s = {{{"a.test", 2, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"breaker\": {\"failures\": 2, \"window_ms\": 10000,"
                                          " \"cooldown_ms\": 100},"
                                          " \"offline\": {\"use_local_models\": false}}");
    int rc;
    for (int i = 0; i < 2; i++)
        ulm_response_free(call(c, "farm/m", &rc));
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_ECIRCUIT_OPEN);
    assert_int_equal(s.hosts[0].calls, 2); /* nothing was sent */
    assert_non_null(strstr(ulm_response_error_message(resp), "every target is cooling down"));
    ulm_response_free(resp);
    usleep(120 * 1000);
    resp = call(c, "farm/m", &rc); /* the trial */
    assert_int_equal(rc, ULM_OK);
    ulm_response_free(resp);
    resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_int_equal(s.hosts[0].calls, 4);
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void a_reset_breaker_lets_the_next_call_through_at_once(void **state)
{
    (void)state;
    script s = {{{"a.test", 2, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"breaker\": {\"failures\": 2, \"window_ms\": 10000,"
                                          " \"cooldown_ms\": 86400000},"
                                          " \"offline\": {\"use_local_models\": false}}");
    int rc;
    for (int i = 0; i < 2; i++)
        ulm_response_free(call(c, "farm/m", &rc));
    ulm_response_free(call(c, "farm/m", &rc));
    assert_int_equal(rc, ULM_ECIRCUIT_OPEN); /* open for a day */
    assert_int_equal(ulm_client_reset_breakers(c, "nosuch"), ULM_EINVAL);
    assert_int_equal(ulm_client_reset_breakers(NULL, NULL), ULM_EINVAL);
    ulm_response_free(call(c, "farm/m", &rc));
    assert_int_equal(rc, ULM_ECIRCUIT_OPEN); /* a refused reset changed nothing */
    assert_int_equal(ulm_client_reset_breakers(c, "farm"), ULM_OK);
    ulm_response *resp = call(c, "farm/m", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_int_equal(s.hosts[0].calls, 3);
    ulm_response_free(resp);
    assert_int_equal(ulm_client_reset_breakers(c, NULL), ULM_OK);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ offline mode */

/* The cloud unreachable and the local fallback failing too: the error names both. */
static void an_offline_failure_names_the_cloud_and_the_local_cause(void **state)
{
    (void)state;
    script s = {{{"cloud.test", -1, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL},
                 {"local.test", -1, ULM_OK, 500, NULL, 0, 0, 0, "{\"error\":{\"message\":\"local broke\"}}"}},
                2,
                0};
    ulm_client *c = client_with_config(
        &s, "{\"backends\": {\"openai\": {\"type\": \"openai\", \"url\": \"http://cloud.test/v1\","
            " \"api_key_env\": \"ULM_LOOP_KEY\"}}}");
    for (int i = 0; i < 2; i++) { /* asked, then skipped as known to be offline */
        int rc;
        ulm_response *resp = call(c, "openai/m", &rc);
        assert_int_equal(rc, ULM_ESERVER); /* the class is the local failure's */
        const char *message = ulm_response_error_message(resp);
        assert_non_null(strstr(message, "offline: openai/m could not be reached ("));
        assert_non_null(strstr(message, i == 0 ? "scripted failure at cloud.test"
                                               : "offline: the cloud is unreachable"));
        assert_non_null(strstr(message, "the local fallback dmr/ai/local:latest failed too: "
                                        "dmr: HTTP 500: local broke"));
        assert_string_equal(ulm_response_provider(resp), "dmr");
        ulm_response_free(resp);
    }
    assert_int_equal(s.hosts[0].calls, 1);
    ulm_client_free(c);
}

static void offline_mode_skips_the_cloud_and_probes_it(void **state)
{
    (void)state;
    script s = {{{"cloud.test", 2, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL},
                 {"local.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}},
                2,
                0};
    ulm_client *c = client_with_config(
        &s, "{\"backends\": {\"openai\": {\"type\": \"openai\", \"url\": \"http://cloud.test/v1\","
            " \"api_key_env\": \"ULM_LOOP_KEY\"}},"
            " \"offline\": {\"probe_interval_ms\": 100}}");
    int rc;
    ulm_response *resp = call(c, "openai/m", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_true(ulm_response_offline(resp));
    assert_attempt_is(resp, 0, "openai", ULM_ECONNECT);
    assert_attempt_is(resp, 1, "dmr", ULM_OK);
    ulm_response_free(resp);

    resp = call(c, "openai/m", &rc); /* skipped: no request to the cloud */
    assert_int_equal(rc, ULM_OK);
    assert_true(ulm_response_offline(resp));
    assert_int_equal(s.hosts[0].calls, 1);
    ulm_response_free(resp);

    usleep(120 * 1000);
    resp = call(c, "openai/m", &rc); /* the probe: the cloud still fails */
    assert_int_equal(rc, ULM_OK);
    assert_int_equal(s.hosts[0].calls, 2);
    ulm_response_free(resp);
    resp = call(c, "openai/m", &rc); /* the failed probe pushed the next one on */
    assert_int_equal(s.hosts[0].calls, 2);
    ulm_response_free(resp);

    usleep(120 * 1000);
    resp = call(c, "openai/m", &rc); /* the next probe: the network is back */
    assert_int_equal(rc, ULM_OK);
    assert_false(ulm_response_offline(resp));
    assert_string_equal(ulm_response_provider(resp), "openai");
    ulm_response_free(resp);
    ulm_client_free(c);
}

static void offline_mode_can_be_turned_off(void **state)
{
    (void)state;
    script s = {{{"cloud.test", -1, ULM_ECONNECT, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, "{\"backends\": {\"openai\": {\"type\": \"openai\", \"url\": \"http://cloud.test/v1\","
            " \"api_key_env\": \"ULM_LOOP_KEY\"}}, \"offline\": {\"use_local_models\": false}}");
    int rc;
    ulm_response *resp = call(c, "openai/m", &rc);
    assert_int_equal(rc, ULM_ECONNECT);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_false(ulm_response_offline(resp));
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* ------------------------------------------------------------ parameters, windows, aliases */

static void context_length_skips_windows_no_larger(void **state)
{
    (void)state;
    script s = {{{"a.test", -1, ULM_OK, 400, NULL, 0, 0, 0,
                  "{\"error\":{\"message\":\"too long\",\"code\":\"context_length_exceeded\"}}"},
                 {"b.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL},
                 {"c.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}},
                3,
                0};
    ulm_client *c = client_with_config(
        &s, "{\"backends\": {"
            " \"a\": {\"type\": \"openai\", \"url\": \"http://a.test\", \"api_key_env\": \"ULM_LOOP_KEY\"},"
            " \"b\": {\"type\": \"openai\", \"url\": \"http://b.test\", \"api_key_env\": \"ULM_LOOP_KEY\"},"
            " \"c\": {\"type\": \"openai\", \"url\": \"http://c.test\", \"api_key_env\": \"ULM_LOOP_KEY\"}},"
            " \"models\": {\"a/m\": {\"context_window\": 4096}, \"b/m\": {\"context_window\": 4096},"
            " \"c/m\": {\"context_window\": 32768}, \"chain\": [\"a/m\", \"b/m\", \"c/m\"]}}");
    int rc;
    ulm_response *resp = call(c, "chain", &rc);
    assert_int_equal(rc, ULM_OK);
    assert_string_equal(ulm_response_provider(resp), "c");
    assert_attempt_is(resp, 0, "a", ULM_ECONTEXT_LENGTH);
    assert_attempt_is(resp, 1, "b", ULM_ECONTEXT_LENGTH); /* skipped: 4096 is no larger */
    assert_int_equal(s.hosts[1].calls, 0);
    assert_attempt_is(resp, 2, "c", ULM_OK);
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* A model's configured defaults and template reach the wire; the request's own values win. */
static char last_body[1024];

static int body_keeping_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                                  char *errbuf, size_t errbuf_size)
{
    snprintf(last_body, sizeof last_body, "%.*s", (int)t->http->body_len, t->http->body);
    return scripted_transport(ctx, t, resp, errbuf, errbuf_size);
}

static void model_parameters_fill_what_the_request_leaves_unset(void **state)
{
    (void)state;
    script s = {{{"a.test", 0, ULM_OK, 0, NULL, 0, 0, 0, NULL}}, 1, 0};
    ulm_client *c = client_with_config(
        &s, FARM("\"http://a.test\"", "") ", \"models\": {\"farm/m\": {\"temperature\": 0.25,"
                                          " \"max_tokens\": 77, \"template\": \"completion\"}}}");
    ulm__engine_pool_set_transport(c->engines, body_keeping_transport, &s);
    int rc;
    ulm_response_free(call(c, "farm/m", &rc));
    assert_int_equal(rc, ULM_OK);
    assert_non_null(strstr(last_body, "\"temperature\":0.25"));
    assert_non_null(strstr(last_body, "\"max_tokens\":77"));
    /* the model's template: the conversation as one transcript for a base model */
    assert_non_null(strstr(last_body, "[{\"role\":\"user\",\"content\":\"User: hello\\n\\nAssistant:\"}]"));

    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "farm/m"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hello"), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 5), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_non_null(strstr(last_body, "\"max_tokens\":5"));
    assert_non_null(strstr(last_body, "\"temperature\":0.25"));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_model_that_answers_at_once_is_not_probed),
        cmocka_unit_test(retries_stop_at_the_limit_within_the_backoff_caps),
        cmocka_unit_test(retry_succeeds_after_a_failure),
        cmocka_unit_test(retry_after_sets_the_pause_and_the_deadline_cuts_it),
        cmocka_unit_test(deployments_share_the_load_round_robin),
        cmocka_unit_test(failed_deployment_fails_over_to_another),
        cmocka_unit_test(attempts_name_their_deployment),
        cmocka_unit_test(ca_file_and_proxy_reach_the_transfer),
        cmocka_unit_test(a_proxy_is_where_libcurl_connects),
        cmocka_unit_test(model_lists_are_kept_per_deployment),
        cmocka_unit_test(breaker_opens_then_one_trial_closes_it),
        cmocka_unit_test(a_reset_breaker_lets_the_next_call_through_at_once),
        cmocka_unit_test(an_offline_failure_names_the_cloud_and_the_local_cause),
        cmocka_unit_test(offline_mode_skips_the_cloud_and_probes_it),
        cmocka_unit_test(offline_mode_can_be_turned_off),
        cmocka_unit_test(context_length_skips_windows_no_larger),
        cmocka_unit_test(model_parameters_fill_what_the_request_leaves_unset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
