/* turns.c - groups a request's messages into system text and alternating turns. */
#include "turns.h"

/* A message that belongs to the conversation: user or assistant, with text. */
static int in_conversation(const ulm_request *req, size_t i)
{
    return ulm_request_message_role(req, i) != ULM_ROLE_SYSTEM &&
           *ulm_request_message_content(req, i) != '\0';
}

size_t ulm__system_messages(const ulm_request *req, size_t *index)
{
    size_t count = 0;
    for (size_t i = 0; i < ulm_request_message_count(req); i++)
        if (ulm_request_message_role(req, i) == ULM_ROLE_SYSTEM &&
            *ulm_request_message_content(req, i) != '\0')
            index[count++] = i;
    return count;
}

size_t ulm__next_turn(const ulm_request *req, size_t *at, size_t *index, ulm_role *role)
{
    size_t n = ulm_request_message_count(req), i = *at, count = 0;
    while (i < n && !in_conversation(req, i))
        i++;
    if (i < n)
        *role = ulm_request_message_role(req, i);
    for (; i < n; i++) {
        if (!in_conversation(req, i))
            continue; /* system text or an empty message does not end a turn */
        if (ulm_request_message_role(req, i) != *role)
            break;
        index[count++] = i;
    }
    *at = i;
    return count;
}
