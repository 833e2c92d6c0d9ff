/* dmr_discovery.h - where Docker Model Runner is when no URL was given: the candidates probed once. */
#ifndef ULM_DMR_DISCOVERY_H
#define ULM_DMR_DISCOVERY_H

#include "client.h"

/*
 * When the local backend's URL was not given (MODEL_RUNNER_URL, an option, the file),
 * tries each candidate (c->settings.dmr_candidates) in order, once per client, with a short
 * connect timeout: the first whose GET / answers with the runner's banner becomes the
 * backend's URL. When none does, the backend keeps the first candidate and its attempts
 * fail with a message that names the candidates and how to fix it. Safe from any thread;
 * the first caller probes, the others wait for it. Returns ULM_OK or ULM_ENOMEM.
 */
ULM_HIDDEN int ulm__dmr_discover(ulm_client *c);

#endif /* ULM_DMR_DISCOVERY_H */
