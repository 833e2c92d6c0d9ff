/* clock.c - the library's one monotonic clock, which tests may move forward. */
#include <stdatomic.h>
#include <time.h>

#include "clock.h"

/* Microseconds a test moved the clock forward; read by every thread that asks the time. */
static _Atomic long long advanced_us;

double ulm__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 +
           (double)atomic_load_explicit(&advanced_us, memory_order_relaxed) / 1e3;
}

void ulm__test_advance_clock(double ms)
{
    atomic_fetch_add(&advanced_us, (long long)(ms * 1e3));
}
