/* request.h - what the core reads of a request beyond the adapters' accessors. */
#ifndef ULM_REQUEST_H
#define ULM_REQUEST_H

#include "clocks.h"

/* The request's streaming callback (NULL: not streamed) and its payload. */
ULM_HIDDEN ulm_delta_fn ulm__request_on_delta(const ulm_request *req, void **payload);

/* What a request replaces of one backend's key and URL (ulm_request_set_backend_override). */
typedef struct ulm_backend_override {
    char *backend;
    char *api_key;  /* NULL: the backend's own */
    char *base_url; /* NULL: the backend's deployments */
} ulm_backend_override;

/* The request's override for the backend called name, or NULL. */
ULM_HIDDEN const ulm_backend_override *ulm__request_override(const ulm_request *req,
                                                             const char *backend);

/* The request's cancellation token, or NULL. */
ULM_HIDDEN ulm_cancel *ulm__request_cancel(const ulm_request *req);

/*
 * A shallow copy of req with a model's configured temperature and max_tokens where req
 * leaves them unset: the request's own values win. It shares req's memory, so it is freed
 * with free(), never ulm_request_free(); NULL when memory ran out.
 */
ULM_HIDDEN ulm_request *ulm__request_with_defaults(const ulm_request *req, int has_temperature,
                                                   double temperature, long max_tokens);

/* Copies from's sampling parameters and stop sequences into to. */
ULM_HIDDEN int ulm__request_copy_parameters(const ulm_request *from, ulm_request *to);

/*
 * Copies what from says of how it is sent, beyond its content: its clocks
 * (ulm_request_set_timeout) and its backend overrides (ulm_request_set_backend_override).
 */
ULM_HIDDEN int ulm__request_copy_call_settings(const ulm_request *from, ulm_request *to);

/* The client's clock limits with the request's overrides applied. */
ULM_HIDDEN void ulm__request_timeouts(const ulm_request *req, const ulm_timeouts *base,
                                      ulm_timeouts *out);

/* The request's target strings, in order. */
ULM_HIDDEN size_t ulm__request_model_count(const ulm_request *req);
ULM_HIDDEN const char *ulm__request_model(const ulm_request *req, size_t i);

#endif /* ULM_REQUEST_H */
