/* breakers.c - ulm_client_reset_breakers(): a program declares endpoints healthy again. */
#include <string.h>

#include "client.h"
#include "metrics.h"

/* Closes every breaker of one backend; called with the client's policy_lock held. */
static void reset_backend(ulm_backend *b)
{
    for (size_t e = 0; e < b->endpoint_count; e++)
        ulm__breaker_reset(&b->health[e].breaker);
}

int ulm_client_reset_breakers(ulm_client *client, const char *backend)
{
    if (!client)
        return ULM_EINVAL;
    size_t first = 0, end = client->backend_count;
    if (backend) {
        while (first < end && strcmp(client->backends[first].name, backend) != 0)
            first++;
        if (first == end)
            return ULM_EINVAL;
        end = first + 1;
    }
    pthread_mutex_lock(&client->policy_lock);
    for (size_t i = first; i < end; i++)
        reset_backend(&client->backends[i]);
    pthread_mutex_unlock(&client->policy_lock);
    for (size_t i = first; i < end; i++)
        for (size_t e = 0; e < client->backends[i].endpoint_count; e++)
            ulm__metrics_breaker(client->metrics, i, e, ULM_BREAKER_CLOSED);
    return ULM_OK;
}
