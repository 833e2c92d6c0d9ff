/* json_out.c - the program's JSON output: printing, and a response as one object. */
#include <stdio.h>

#include "cli.h"

void cli_json_print(json_t *value, int one_line)
{
    /* 15 significant digits print a number rounded to 0.1 as written (12.3, not
     * 12.300000000000001) up to 10^13 */
    json_dumpf(value, stdout,
               (one_line ? JSON_COMPACT : JSON_INDENT(2)) | JSON_ENSURE_ASCII |
                   JSON_REAL_PRECISION(15));
    fputc('\n', stdout);
    json_decref(value);
}

json_t *cli_json_error_name(int code)
{
    return code == ULM_OK ? json_null() : json_string(ulm_error_name(code));
}

json_t *cli_json_string_if(int present, const char *text)
{
    return present ? json_string(text) : json_null();
}

json_t *cli_json_ms(double ms)
{
    return json_real(ms >= 0 ? (double)(long long)(ms * 10 + 0.5) / 10 : 0);
}

json_t *cli_json_ms_if_known(double ms)
{
    return ms < 0 ? json_null() : cli_json_ms(ms);
}

json_t *cli_json_cost(double cost)
{
    return cost < 0 ? json_null() : json_real(cost);
}

json_t *cli_json_http_status(int status)
{
    return status ? json_integer(status) : json_null();
}

/* The token counts, each null when the backend did not report it; null when it reported
 * none of them. */
static json_t *usage_json(const ulm_response *r)
{
    long counts[3] = {ulm_response_prompt_tokens(r), ulm_response_completion_tokens(r),
                      ulm_response_total_tokens(r)};
    if (counts[0] < 0 && counts[1] < 0 && counts[2] < 0)
        return json_null();
    json_t *usage = json_object();
    const char *keys[3] = {"prompt_tokens", "completion_tokens", "total_tokens"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(usage, keys[i], counts[i] < 0 ? json_null() : json_integer(counts[i]));
    return usage;
}

static json_t *attempts_json(const ulm_response *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < ulm_response_attempt_count(r); i++) {
        const ulm_attempt *a = ulm_response_attempt(r, i);
        int err = ulm_attempt_error(a);
        json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "provider", ulm_attempt_provider(a),
                              "model", ulm_attempt_model(a), "ok", err == ULM_OK, "error",
                              cli_json_error_name(err), "http_status",
                              cli_json_http_status(ulm_attempt_http_status(a)), "ms",
                              cli_json_ms(ulm_attempt_ms(a)));
        if (err != ULM_OK)
            json_object_set_new(o, "message", json_string(ulm_attempt_error_message(a)));
        json_array_append_new(list, o);
    }
    return list;
}

json_t *cli_response_json(const ulm_response *r)
{
    int err = ulm_response_error(r);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "text", ulm_response_text(r),
                          "finish_reason", ulm_finish_reason_name(ulm_response_finish_reason(r)),
                          "provider", ulm_response_provider(r), "model", ulm_response_model(r),
                          "usage", usage_json(r), "latency_ms",
                          cli_json_ms(ulm_response_latency_ms(r)), "attempts", attempts_json(r));
    json_object_set_new(o, "connect_ms", cli_json_ms_if_known(ulm_response_connect_ms(r)));
    json_object_set_new(o, "first_byte_ms", cli_json_ms_if_known(ulm_response_first_byte_ms(r)));
    json_object_set_new(o, "first_token_ms", cli_json_ms_if_known(ulm_response_first_token_ms(r)));
    json_object_set_new(o, "tokens_per_second",
                        cli_json_ms_if_known(ulm_response_tokens_per_second(r)));
    json_object_set_new(o, "retries", json_integer((json_int_t)ulm_response_retries(r)));
    json_object_set_new(o, "cost", cli_json_cost(ulm_response_cost(r)));
    json_object_set_new(o, "incomplete", json_boolean(ulm_response_incomplete(r)));
    json_object_set_new(o, "offline", json_boolean(ulm_response_offline(r)));
    if (err != ULM_OK) {
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s, s:o}", "class", ulm_error_name(err), "message",
                                      ulm_response_error_message(r), "http_status",
                                      cli_json_http_status(ulm_response_http_status(r))));
    }
    return o;
}
