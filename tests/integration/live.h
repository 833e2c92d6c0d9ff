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

#include <cmocka.h>
#include <ultrallm/ultrallm.h>

#include "../attempt_check.h"

/* The model the DMR emulator serves in tests/run.sh. */
#define LIVE_LOCAL_MODEL "dmr/ai/stories260k"
/* A port nothing listens on: connection refused at once. */
#define LIVE_DEAD_URL "http://127.0.0.1:1"

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
