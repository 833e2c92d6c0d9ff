/* prompt_template.c - reshapes a conversation for models whose chat template differs. */
#include <stdlib.h>
#include <string.h>

#include "prompt_template.h"
#include "request.h"

static const char *const template_names[] = {"chat", "no_system", "alternating", "completion"};

const char *ulm__prompt_template_name(ulm_prompt_template t)
{
    return (unsigned int)t < sizeof template_names / sizeof template_names[0] ? template_names[t]
                                                                               : NULL;
}

/* Appends text to b, after a blank line when b already holds something. */
static int append_paragraph(ulm_text *b, const char *text)
{
    if (b->len && ulm_text_append(b, "\n\n", 2) != ULM_OK)
        return ULM_ENOMEM;
    return ulm_text_append(b, text, strlen(text));
}

/* The whole conversation as one text, for a base model that continues what it reads. */
static int shape_completion(const ulm_request *req, ulm_request *out)
{
    static const char *const speaker[] = {"", "System: ", "User: ", "Assistant: "};
    ulm_text text = {0};
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_message_count(req); i++) {
        ulm_role role = ulm_request_message_role(req, i);
        if (text.len)
            rc = ulm_text_append(&text, "\n\n", 2);
        if (rc == ULM_OK)
            rc = ulm_text_appendf(&text, "%s%s", speaker[role],
                                  ulm_request_message_content(req, i));
    }
    if (rc == ULM_OK)
        rc = ulm_text_append(&text, "\n\nAssistant:", 12);
    if (rc == ULM_OK)
        rc = ulm_request_add_message(out, ULM_ROLE_USER, text.data);
    ulm_text_free(&text);
    return rc;
}

/*
 * System text moves in front of the first user message (or becomes one); with merge,
 * consecutive messages of one role become one, so user and assistant alternate.
 */
static int shape_messages(const ulm_request *req, int merge, ulm_request *out)
{
    ulm_text system = {0}, pending = {0};
    ulm_role pending_role = ULM_ROLE_USER;
    int rc = ULM_OK, user_seen = 0;
    size_t n = ulm_request_message_count(req);
    for (size_t i = 0; rc == ULM_OK && i < n; i++)
        if (ulm_request_message_role(req, i) == ULM_ROLE_SYSTEM)
            rc = append_paragraph(&system, ulm_request_message_content(req, i));
    for (size_t i = 0; rc == ULM_OK && i < n; i++) {
        ulm_role role = ulm_request_message_role(req, i);
        if (role == ULM_ROLE_SYSTEM)
            continue;
        if (pending.len && (!merge || role != pending_role)) {
            rc = ulm_request_add_message(out, pending_role, pending.data);
            pending.len = 0;
        }
        if (rc == ULM_OK && role == ULM_ROLE_USER && !user_seen && system.len) {
            rc = append_paragraph(&pending, system.data);
            user_seen = 1;
        }
        user_seen |= role == ULM_ROLE_USER;
        pending_role = role;
        if (rc == ULM_OK)
            rc = append_paragraph(&pending, ulm_request_message_content(req, i));
    }
    if (rc == ULM_OK && pending.len)
        rc = ulm_request_add_message(out, pending_role, pending.data);
    if (rc == ULM_OK && !user_seen && system.len) /* only system text: it is the question */
        rc = ulm_request_add_message(out, ULM_ROLE_USER, system.data);
    ulm_text_free(&system);
    ulm_text_free(&pending);
    return rc;
}

ulm_request *ulm__request_with_template(const ulm_request *req, ulm_prompt_template template)
{
    ulm_request *out = NULL;
    if (ulm_request_new(&out) != ULM_OK)
        return NULL;
    int rc = ulm__request_copy_parameters(req, out);
    if (rc == ULM_OK) {
        switch (template) {
        case ULM_TEMPLATE_COMPLETION:
            rc = shape_completion(req, out);
            break;
        case ULM_TEMPLATE_NO_SYSTEM:
        case ULM_TEMPLATE_ALTERNATING:
            rc = shape_messages(req, template == ULM_TEMPLATE_ALTERNATING, out);
            break;
        case ULM_TEMPLATE_CHAT:
            for (size_t i = 0; rc == ULM_OK && i < ulm_request_message_count(req); i++)
                rc = ulm_request_add_message(out, ulm_request_message_role(req, i),
                                             ulm_request_message_content(req, i));
            break;
        }
    }
    if (rc != ULM_OK) {
        ulm_request_free(out);
        return NULL;
    }
    return out;
}
