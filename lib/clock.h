/* clock.h - the library's one monotonic clock, which tests may move forward. */
#ifndef ULM_CLOCK_H
#define ULM_CLOCK_H

#include "alloc.h"

/* Milliseconds on a monotonic clock, plus whatever a test advanced it by. */
ULM_HIDDEN double ulm__now_ms(void);

/*
 * Test hook: moves the library's clock ms forward from now on, so a test can pass an
 * interval (a breaker's cooldown, offline mode's probe interval) without waiting for it.
 * Call it only while no call is running.
 */
ULM_HIDDEN void ulm__test_advance_clock(double ms);

#endif /* ULM_CLOCK_H */
