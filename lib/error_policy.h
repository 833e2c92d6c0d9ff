/* error_policy.h - what each class of failure means for a call: retried, failed over, fallen back. */
#ifndef ULM_ERROR_POLICY_H
#define ULM_ERROR_POLICY_H

#include "alloc.h"

typedef enum ulm_fallback {
    ULM_FALLBACK_NO = 0,   /* the chain stops with this error */
    ULM_FALLBACK_YES = 1,  /* the chain moves to its next target */
    ULM_FALLBACK_LOCAL = 2 /* it moves on from a local backend, and stops at a cloud one */
} ulm_fallback;

typedef struct ulm_error_policy {
    int retryable;        /* the same request may succeed later or elsewhere */
    int retry_here;       /* retries ask the same target again after a pause */
    int other_deployment; /* the endpoint is unwell: another deployment is tried at once */
    ulm_fallback falls_back;
    int breaker;          /* counts against the endpoint's circuit breaker */
    int unreachable;      /* the network does not reach the backend: offline mode's signal */
    long wait_ms;         /* how long before the same endpoint is asked again; -1: the
                             retry policy's backoff decides */
} ulm_error_policy;

/* The policy of an error class; an unknown code gets one that neither retries nor falls back. */
ULM_HIDDEN const ulm_error_policy *ulm__error_policy(int code);

#endif /* ULM_ERROR_POLICY_H */
