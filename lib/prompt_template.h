/* prompt_template.h - reshapes a conversation for models whose chat template differs. */
#ifndef ULM_PROMPT_TEMPLATE_H
#define ULM_PROMPT_TEMPLATE_H

#include "alloc.h"

/*
 * How a model wants the conversation: some chat templates have no system role, some
 * insist that user and assistant alternate, and a base model has no chat template at all.
 */
typedef enum ulm_prompt_template {
    ULM_TEMPLATE_CHAT = 0,     /* the messages as written */
    ULM_TEMPLATE_NO_SYSTEM,    /* system text goes in front of the first user message */
    ULM_TEMPLATE_ALTERNATING,  /* no system, and consecutive messages of a role merged */
    ULM_TEMPLATE_COMPLETION    /* one user message holding the whole conversation as text */
} ulm_prompt_template;

/* "chat", "no_system", "alternating", "completion"; NULL for anything else. */
ULM_HIDDEN const char *ulm__prompt_template_name(ulm_prompt_template t);

/*
 * A copy of req whose messages are shaped by template (every other field the same), to
 * be freed with ulm_request_free(); NULL when memory ran out.
 */
ULM_HIDDEN ulm_request *ulm__request_with_template(const ulm_request *req,
                                                   ulm_prompt_template template);

#endif /* ULM_PROMPT_TEMPLATE_H */
