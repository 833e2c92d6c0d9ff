/* clocks.h - the time budget of one attempt: which clock fires next, and when. */
#ifndef ULM_CLOCKS_H
#define ULM_CLOCKS_H

#include "alloc.h"

/* The longest any clock may be set to: a day. */
#define ULM_MAX_TIMEOUT_MS (24L * 3600L * 1000L)

/* Limits of the clocks in milliseconds, indexed by ulm_clock. */
typedef struct ulm_timeouts {
    long ms[ULM_CLOCK_OVERALL + 1];
} ulm_timeouts;

/*
 * Milestones and limits of one attempt, in ulm__now_ms() time. The transport records
 * the connection and the status line; whoever reads the body records tokens and
 * activity. A milestone is 0 until it happens.
 */
typedef struct ulm_clocks {
    double deadline;        /* the call's overall deadline */
    double attempt_start;
    double load_end;        /* local backends: end of the load budget; 0 for cloud ones */
    long connect_ms, load_ms, first_token_ms, idle_ms;

    double connected_at;    /* the request could be sent */
    double headers_at;      /* the status line arrived */
    double first_token_at;  /* the first token (or, without streaming, the first byte) */
    double last_activity;   /* the latest event or body bytes */
} ulm_clocks;

/*
 * Starts the clocks of one attempt now. A local backend's load budget ends at load_end,
 * or, when that is 0, the load timeout from now; a cloud backend has none.
 */
ULM_HIDDEN void ulm__clocks_start(ulm_clocks *k, const ulm_timeouts *tm, int local,
                                  double deadline, double load_end);

/*
 * The moment the next clock fires and, in *code, the error it fires with
 * (ULM_ETIMEOUT, ULM_ECONNECT_TIMEOUT, ULM_ELOAD_TIMEOUT, ULM_EFIRST_TOKEN_TIMEOUT or
 * ULM_EIDLE_TIMEOUT).
 */
ULM_HIDDEN double ulm__clocks_next(const ulm_clocks *k, int *code);

/* Marks body activity at now, and the first token when it is the first. */
ULM_HIDDEN void ulm__clocks_token(ulm_clocks *k, double now);

/* One line saying which limit passed, for the error message. */
ULM_HIDDEN void ulm__clocks_describe(const ulm_clocks *k, int code, char *out, size_t size);

#endif /* ULM_CLOCKS_H */
