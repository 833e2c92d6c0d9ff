/* synthesis_prompt.h - the prompt that asks one model to combine several answers: template and request. */
#ifndef ULM_SYNTHESIS_PROMPT_H
#define ULM_SYNTHESIS_PROMPT_H

#include "alloc.h"

/*
 * A template is text with named placeholders in braces, filled from the round:
 *   {question}  the text of the conversation's last user message
 *   {answers}   the answers that arrived, each under its label, each within its budget
 *   {count}     how many answers there are
 * "{{" and "}}" stand for literal braces. Any other name in braces, or a lone brace, is an
 * error before anything is sent: a model is never sent an unfilled placeholder.
 */
#define ULM_SYNTHESIS_DEFAULT_TEMPLATE                                                        \
    "Several assistants answered the question below. Combine their answers into one best "  \
    "answer. Where they agree, say it once; where they disagree, say so, and say which is "  \
    "more likely right and why. Do not mention the assistants by name.\n\n"                  \
    "Question:\n{question}\n\n{count} answers:\n\n{answers}"

/* Checks a template; on failure ULM_EINVAL with the reason (and its offset) in errbuf. */
ULM_HIDDEN int ulm__synthesis_template_check(const char *template, char *errbuf,
                                             size_t errbuf_size);

/* One answer as the synthesis prompt shows it. */
typedef struct ulm_synthesis_answer {
    const char *label;  /* "Answer A", or the model that answered */
    const char *text;
    size_t length;
} ulm_synthesis_answer;

/*
 * The anonymous label of the k-th answer shown (k from 0): "Answer A" to "Answer Z", then
 * "Answer AA" to "Answer AZ", "Answer BA" and so on, as spreadsheet columns are named, so
 * that no two answers share a label however many there are. size of 32 always suffices.
 */
ULM_HIDDEN void ulm__synthesis_label(size_t k, char *out, size_t size);

/*
 * A request for the synthesizer: req's messages, its last user message replaced by the
 * template filled with that message's text and the answers (its system messages and
 * earlier turns kept as they are), and req's sampling parameters. Each answer is cut to
 * budget bytes on a UTF-8 boundary, marked "[... cut: N more bytes]"; truncated[i] says
 * whether answer i was. The models are not copied (the caller adds the synthesizer's).
 * ULM_EINVAL (with a reason) for a bad template or a request without a user message.
 */
ULM_HIDDEN int ulm__synthesis_request(ulm_request **out, const ulm_request *req,
                                      const char *template, const ulm_synthesis_answer *answers,
                                      size_t count, size_t budget, int *truncated,
                                      char *errbuf, size_t errbuf_size);

#endif /* ULM_SYNTHESIS_PROMPT_H */
