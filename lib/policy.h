/* policy.h - the pure parts of the routing policy: backoff, Retry-After, breakers, spreading, offline. */
#ifndef ULM_POLICY_H
#define ULM_POLICY_H

#include <stdint.h>
#include <time.h>

#include "clocks.h"

/*
 * Every function here takes the time as an argument (milliseconds on the monotonic clock
 * unless a name says otherwise) and keeps no hidden state, so tests drive them with a fake
 * clock. The state structs are guarded by the caller's lock.
 */

/* ---------------------------------------------------------------- retries */

typedef struct ulm_retry_policy {
    unsigned int max_retries; /* retries of one target after its first attempt */
    long base_delay_ms;       /* the cap of the first backoff */
    long max_delay_ms;        /* no backoff cap grows past this */
} ulm_retry_policy;

/*
 * The pause before retry number retry (0 for the first retry): "full jitter", uniform in
 * [0, min(max_delay_ms, base_delay_ms * 2^retry)], drawn with random01 in [0, 1).
 */
ULM_HIDDEN double ulm__backoff_ms(const ulm_retry_policy *p, unsigned int retry,
                                  double random01);

/*
 * A Retry-After header value in milliseconds from now: delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", the two obsolete forms RFC 9110 says to
 * accept, and what else libcurl's curl_getdate() reads as a date), against now_epoch
 * (wall-clock seconds). A date in the past is 0; a pause is capped at a day. Returns -1 for
 * a value that is neither.
 */
ULM_HIDDEN long ulm__parse_retry_after(const char *value, time_t now_epoch);

/* ---------------------------------------------------------------- circuit breaker */

typedef struct ulm_breaker_policy {
    unsigned int failures; /* this many failures within window_ms open the circuit */
    long window_ms;
    long cooldown_ms;      /* how long an open circuit skips its endpoint */
} ulm_breaker_policy;

typedef enum ulm_breaker_state {
    ULM_BREAKER_CLOSED = 0, /* requests flow */
    ULM_BREAKER_OPEN,       /* cooling down: requests skip the endpoint */
    ULM_BREAKER_HALF_OPEN   /* cooled down: one trial request decides */
} ulm_breaker_state;

#define ULM_BREAKER_MAX_FAILURES 64

typedef struct ulm_breaker {
    ulm_breaker_state state;
    double failure_at[ULM_BREAKER_MAX_FAILURES]; /* ring of the latest failure times */
    unsigned int failure_count;                  /* entries in the ring */
    unsigned int failure_next;                   /* next slot to write */
    double opened_at;
    int trial_in_flight; /* half-open: the one trial request is out */
} ulm_breaker;

/*
 * Whether a request may go to the endpoint now. An open breaker whose cooldown has passed
 * turns half-open and lets exactly one trial through (the caller must record its outcome);
 * further requests are refused until that trial is recorded.
 */
ULM_HIDDEN int ulm__breaker_allow(ulm_breaker *b, const ulm_breaker_policy *p, double now);

/*
 * Records the outcome of a request that ulm__breaker_allow let through. A success closes
 * the breaker and forgets failures; a failure in half-open reopens it for a new cooldown;
 * failures closed count within the window and open it at p->failures.
 */
ULM_HIDDEN void ulm__breaker_record(ulm_breaker *b, const ulm_breaker_policy *p, double now,
                                    int success);

/* A request the breaker let through was given up by its caller: it says nothing of the
 * endpoint's health, but a half-open breaker's trial must not stay out for ever. */
ULM_HIDDEN void ulm__breaker_abandon(ulm_breaker *b);

/* Closes the breaker and forgets its failures, as if the endpoint had never failed
 * (ulm_client_reset_breakers); a trial still out is recorded as any closed request. */
ULM_HIDDEN void ulm__breaker_reset(ulm_breaker *b);

/* When an open breaker will let a trial through; now when it already would. */
ULM_HIDDEN double ulm__breaker_ready_at(const ulm_breaker *b, const ulm_breaker_policy *p,
                                        double now);

/* ---------------------------------------------------------------- deployments */

typedef enum ulm_balance {
    ULM_BALANCE_ROUND_ROBIN = 0,
    ULM_BALANCE_LEAST_IN_FLIGHT = 1
} ulm_balance;

/* One URL of a backend's deployments, and its health. */
typedef struct ulm_endpoint_state {
    ulm_breaker breaker;
    unsigned int in_flight;
} ulm_endpoint_state;

/*
 * Picks the endpoint for the next request among n, skipping those whose breaker refuses
 * (ulm__breaker_allow is called on the pick only, so a half-open trial is taken only by
 * the endpoint chosen). Round robin advances *cursor; least-in-flight takes the lowest
 * in_flight, ties broken by round robin. Endpoints whose bit is set in exclude (the first
 * 64) are passed over: a call failing over tries each deployment once. Returns the index,
 * or -1 when every endpoint is cooling down or excluded.
 */
ULM_HIDDEN int ulm__pick_endpoint(ulm_endpoint_state *eps, size_t n, ulm_balance balance,
                                  unsigned int *cursor, const ulm_breaker_policy *p,
                                  double now, uint64_t exclude);

/* ---------------------------------------------------------------- offline mode */

/*
 * Offline mode: after cloud backends fail to connect (DNS or connection failures, not
 * HTTP errors), calls go to local models without waiting for the cloud each time. Every
 * probe_interval_ms one call is let through to the cloud to see whether the network is
 * back; a cloud answer of any HTTP status ends offline mode.
 */
typedef struct ulm_offline_state {
    int offline;
    double since;
    double next_probe_at;
    int probe_in_flight;
} ulm_offline_state;

/* A cloud attempt ended: connect_failed for DNS / connect failures, else it got through. */
ULM_HIDDEN void ulm__offline_note_cloud(ulm_offline_state *s, double now, int connect_failed,
                                        long probe_interval_ms);

/*
 * Whether this call should skip cloud targets. While offline, one call per probe
 * interval is let through as the probe (returns 0 and marks the probe in flight).
 */
ULM_HIDDEN int ulm__offline_skip_cloud(ulm_offline_state *s, double now);

#endif /* ULM_POLICY_H */
