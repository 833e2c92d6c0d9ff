/* policy.c - the routing policy: backoff, Retry-After, breakers, endpoint picks, offline mode. */
#include <curl/curl.h>
#include <limits.h>
#include <string.h>

#include <stdint.h>

#include "policy.h"

/* ---------------------------------------------------------------- retries */

/*
 * min(max_delay, base * 2^retry) without computing 2^retry: once base exceeds what max
 * shifted down by retry leaves, the doubling has passed max, and the shift is never made.
 */
static long backoff_cap_ms(const ulm_retry_policy *p, unsigned int retry)
{
    long base = p->base_delay_ms, max = p->max_delay_ms;
    if (base <= 0 || max <= 0)
        return 0;
    if (retry >= sizeof(long) * CHAR_BIT - 1 || base > (max >> retry))
        return max;
    return base << retry;
}

double ulm__backoff_ms(const ulm_retry_policy *p, unsigned int retry, double random01)
{
    return random01 * (double)backoff_cap_ms(p, retry);
}

/* ---------------------------------------------------------------- Retry-After */

/* A server's pause longer than this is capped: no caller waits more than a day anyway. */
#define MAX_RETRY_AFTER_S (ULM_MAX_TIMEOUT_MS / 1000L)

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static long seconds_to_ms(long long seconds)
{
    return (long)(seconds > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : seconds) * 1000L;
}

long ulm__parse_retry_after(const char *value, time_t now_epoch)
{
    if (!value)
        return -1;
    const char *at = value, *end = value + strlen(value);
    while (at < end && is_ows(*at))
        at++;
    while (end > at && is_ows(end[-1]))
        end--;
    if (at == end)
        return -1;
    if (*at >= '0' && *at <= '9') {
        long long seconds = 0;
        for (; at < end; at++) {
            if (*at < '0' || *at > '9')
                return -1;
            /* Stop growing past the cap so a long run of digits cannot overflow. */
            if (seconds <= MAX_RETRY_AFTER_S)
                seconds = seconds * 10 + (*at - '0');
        }
        return seconds_to_ms(seconds);
    }
    /* An HTTP-date in any of RFC 9110's three forms, read by libcurl (as it reads cookie
     * and If-Modified-Since dates); a date in the past, 1970 included, means now. */
    time_t when = curl_getdate(value, NULL);
    if (when == -1)
        return -1;
    return when <= now_epoch ? 0 : seconds_to_ms((long long)(when - now_epoch));
}

/* ---------------------------------------------------------------- circuit breaker */

/* A policy asking for more failures than the ring holds is held to what the ring can see. */
static unsigned int failure_threshold(const ulm_breaker_policy *p)
{
    return p->failures > ULM_BREAKER_MAX_FAILURES ? ULM_BREAKER_MAX_FAILURES : p->failures;
}

static unsigned int failures_within_window(const ulm_breaker *b, const ulm_breaker_policy *p,
                                           double now)
{
    unsigned int recent = 0;
    /* The ring fills from slot 0, so its entries are always the first failure_count slots. */
    for (unsigned int i = 0; i < b->failure_count; i++) {
        double at = b->failure_at[i];
        if (at >= now - (double)p->window_ms && at <= now)
            recent++;
    }
    return recent;
}

static void remember_failure(ulm_breaker *b, double now)
{
    b->failure_at[b->failure_next] = now;
    b->failure_next = (b->failure_next + 1) % ULM_BREAKER_MAX_FAILURES;
    if (b->failure_count < ULM_BREAKER_MAX_FAILURES)
        b->failure_count++;
}

static void open_circuit(ulm_breaker *b, double now)
{
    b->state = ULM_BREAKER_OPEN;
    b->opened_at = now;
    b->trial_in_flight = 0;
}

static double cooldown_end(const ulm_breaker *b, const ulm_breaker_policy *p)
{
    return b->opened_at + (double)p->cooldown_ms;
}

/* What ulm__breaker_allow would answer, without taking the half-open trial. */
static int breaker_would_allow(const ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    switch (b->state) {
    case ULM_BREAKER_OPEN:
        return now >= cooldown_end(b, p);
    case ULM_BREAKER_HALF_OPEN:
        return !b->trial_in_flight;
    default:
        return 1;
    }
}

int ulm__breaker_allow(ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    if (!breaker_would_allow(b, p, now))
        return 0;
    if (b->state != ULM_BREAKER_CLOSED) {
        b->state = ULM_BREAKER_HALF_OPEN;
        b->trial_in_flight = 1;
    }
    return 1;
}

void ulm__breaker_record(ulm_breaker *b, const ulm_breaker_policy *p, double now, int success)
{
    if (success) {
        *b = (ulm_breaker){.state = ULM_BREAKER_CLOSED};
        return;
    }
    remember_failure(b, now);
    switch (b->state) {
    case ULM_BREAKER_HALF_OPEN:
        open_circuit(b, now);
        break;
    case ULM_BREAKER_CLOSED:
        /* A policy of 0 failures never opens: "open at no failures" would mean never closed. */
        if (p->failures > 0 && failures_within_window(b, p, now) >= failure_threshold(p))
            open_circuit(b, now);
        break;
    default:
        /* Open: a late failure of a request sent before it opened leaves the cooldown be. */
        break;
    }
}

void ulm__breaker_abandon(ulm_breaker *b)
{
    if (b->state == ULM_BREAKER_HALF_OPEN)
        b->trial_in_flight = 0;
}

void ulm__breaker_reset(ulm_breaker *b)
{
    *b = (ulm_breaker){.state = ULM_BREAKER_CLOSED};
}

double ulm__breaker_ready_at(const ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    switch (b->state) {
    case ULM_BREAKER_OPEN: {
        double end = cooldown_end(b, p);
        return end > now ? end : now;
    }
    case ULM_BREAKER_HALF_OPEN:
        /*
         * With the trial out, nothing passes until its outcome is recorded; should it fail,
         * the next trial is a whole cooldown away, so that is the time to plan for.
         */
        return b->trial_in_flight ? now + (double)p->cooldown_ms : now;
    default:
        return now;
    }
}

/* ---------------------------------------------------------------- deployments */

int ulm__pick_endpoint(ulm_endpoint_state *eps, size_t n, ulm_balance balance,
                       unsigned int *cursor, const ulm_breaker_policy *p, double now,
                       uint64_t exclude)
{
    if (n == 0)
        return -1;
    size_t start = *cursor % n;
    size_t chosen = n; /* none yet */
    /* Scanning from the cursor makes the first of equals the round-robin choice. */
    for (size_t step = 0; step < n; step++) {
        size_t i = (start + step) % n;
        if ((i < 64 && (exclude >> i) & 1) || !breaker_would_allow(&eps[i].breaker, p, now))
            continue;
        if (chosen == n || eps[i].in_flight < eps[chosen].in_flight)
            chosen = i;
        if (balance == ULM_BALANCE_ROUND_ROBIN)
            break;
    }
    if (chosen == n)
        return -1;
    ulm__breaker_allow(&eps[chosen].breaker, p, now);
    *cursor = (unsigned int)((chosen + 1) % n);
    return (int)chosen;
}

/* ---------------------------------------------------------------- offline mode */

void ulm__offline_note_cloud(ulm_offline_state *s, double now, int connect_failed,
                             long probe_interval_ms)
{
    if (!connect_failed) {
        *s = (ulm_offline_state){0};
        return;
    }
    if (!s->offline) {
        s->offline = 1;
        s->since = now;
    }
    /* Going offline and a failed probe alike: the next look at the cloud is an interval on. */
    s->next_probe_at = now + (double)probe_interval_ms;
    s->probe_in_flight = 0;
}

int ulm__offline_skip_cloud(ulm_offline_state *s, double now)
{
    if (!s->offline)
        return 0;
    if (s->probe_in_flight || now < s->next_probe_at)
        return 1;
    s->probe_in_flight = 1;
    return 0;
}
