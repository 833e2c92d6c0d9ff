/* url_local.h - whether a URL names this machine or a private network: a local server, no key needed. */
#ifndef ULM_URL_LOCAL_H
#define ULM_URL_LOCAL_H

#include "alloc.h"

/*
 * Non-zero when url's host is this machine (localhost, 127.0.0.0/8, ::1), a private
 * network (10/8, 172.16/12, 192.168/16, fc00::/7) or Docker's names for the host
 * (host.docker.internal, model-runner.docker.internal, *.local). Read with libcurl's URL
 * parser; a URL it cannot read is not local.
 */
ULM_HIDDEN int ulm__url_is_local(const char *url);

#endif /* ULM_URL_LOCAL_H */
