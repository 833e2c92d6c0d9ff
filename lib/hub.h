/* hub.h - one engine that the blocking calls of every thread share, driven by a thread whose call waits. */
#ifndef ULM_HUB_H
#define ULM_HUB_H

#include "call.h"

/*
 * Blocking calls made on many threads at once run on one engine, so that one wait and
 * one pass of libcurl serve every answer that arrived, as in a round. No thread belongs to
 * the library: one of the callers drives the engine for all of them while the others
 * sleep; when its own call is done it hands the engine to a caller still waiting, and
 * returns. A call with an on_delta does not come here (its callback runs on its own
 * thread, docs/api.md), nor one made while its thread drives the hub.
 */

typedef struct ulm_hub ulm_hub;

/* A hub whose engine is borrowed from pool while calls run on it. */
ULM_HIDDEN int ulm__hub_new(ulm_hub **out, ulm_engine_pool *pool);
/* No call may be running on it. NULL is allowed. */
ULM_HIDDEN void ulm__hub_free(ulm_hub *hub);

/*
 * Whether a call of this thread may wait on the hub: not while the thread drives it
 * (a log callback calling the library).
 */
ULM_HIDDEN int ulm__hub_usable(const ulm_hub *hub);

/*
 * Runs the prepared call k (begun here) to its end beside the other threads' calls;
 * cancel (may be NULL) stops it when triggered. Its outcome is k->rc, also when the
 * engine itself failed (ULM_ENOMEM, ULM_ETRANSPORT).
 */
ULM_HIDDEN void ulm__hub_run(ulm_hub *hub, ulm_call *k, const ulm_cancel *cancel);

#endif /* ULM_HUB_H */
