/* turns.h - a request's conversation as turns, for APIs that want user and assistant to alternate. */
#ifndef ULM_TURNS_H
#define ULM_TURNS_H

#include "wire.h"

/*
 * Anthropic and Gemini keep system text apart from the conversation and expect user and
 * assistant turns to alternate; both refuse empty text. These read a request that way.
 * index must have room for every message of the request.
 */

/* The indexes of the non-empty system messages, in order; returns how many. */
ULM_HIDDEN size_t ulm__system_messages(const ulm_request *req, size_t *index);

/*
 * The next turn from message *at on: the non-empty user or assistant messages of one role
 * up to the first message of the other role, system and empty messages skipped. Stores
 * their indexes and the role, moves *at past them and returns how many; 0 at the end.
 */
ULM_HIDDEN size_t ulm__next_turn(const ulm_request *req, size_t *at, size_t *index,
                                 ulm_role *role);

#endif /* ULM_TURNS_H */
