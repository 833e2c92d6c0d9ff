/* attempt_check.h - one assertion on a response's attempt trail, for unit and integration tests. */
#ifndef ULM_ATTEMPT_CHECK_H
#define ULM_ATTEMPT_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ultrallm/ultrallm.h>

/* Attempt i was made at provider and ended with error, else the test fails saying why. */
static inline void assert_attempt_is(const ulm_response *resp, size_t i, const char *provider,
                                     int error)
{
    const ulm_attempt *a = ulm_response_attempt(resp, i);
    assert_non_null(a);
    assert_string_equal(ulm_attempt_provider(a), provider);
    if (ulm_attempt_error(a) != error)
        fail_msg("attempt %zu: expected %s, got %s: %s", i, ulm_error_name(error),
                 ulm_error_name(ulm_attempt_error(a)), ulm_attempt_error_message(a));
}

#endif /* ULM_ATTEMPT_CHECK_H */
