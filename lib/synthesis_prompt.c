/* synthesis_prompt.c - the prompt that asks one model to combine several answers: template and request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "synthesis_prompt.h"

typedef enum piece_kind { PIECE_TEXT, PIECE_QUESTION, PIECE_ANSWERS, PIECE_COUNT } piece_kind;

static const struct {
    const char *name;
    piece_kind kind;
} placeholders[] = {
    {"question", PIECE_QUESTION},
    {"answers", PIECE_ANSWERS},
    {"count", PIECE_COUNT},
};

/* The placeholder "{name}" at t (t[0] == '{'), with *len set to its length; -1 if none. */
static int placeholder_at(const char *t, size_t *len)
{
    const char *close = strchr(t, '}');
    if (!close)
        return -1;
    for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++) {
        size_t n = strlen(placeholders[i].name);
        if ((size_t)(close - t - 1) == n && strncmp(t + 1, placeholders[i].name, n) == 0) {
            *len = n + 2;
            return (int)placeholders[i].kind;
        }
    }
    return -1;
}

/*
 * Walks the template: each piece of literal text (braces unescaped) or placeholder goes to
 * emit; returns ULM_EINVAL with a reason at the first brace that is neither.
 */
typedef int (*piece_fn)(void *ctx, piece_kind kind, const char *text, size_t length);

static int walk_template(const char *t, piece_fn emit, void *ctx, char *errbuf, size_t size)
{
    const char *run = t;
    for (const char *p = t; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            int rc = emit(ctx, PIECE_TEXT, run, (size_t)(p - run) + 1);
            if (rc != ULM_OK)
                return rc;
            p += 2;
            run = p;
            continue;
        }
        if (*p == '}') {
            ulm__set_errbuf(errbuf, size, "synthesis template: a lone \"}\" at byte %zu "
                            "(write \"}}\" for a brace)", (size_t)(p - t));
            return ULM_EINVAL;
        }
        if (*p != '{') {
            p++;
            continue;
        }
        size_t len = 0;
        int kind = placeholder_at(p, &len);
        if (kind < 0) {
            const char *close = strchr(p, '}');
            size_t shown = close ? (size_t)(close - p) + 1 : strlen(p);
            ulm__set_errbuf(errbuf, size,
                            "synthesis template: unknown placeholder \"%.*s\" at byte %zu "
                            "(known: {question}, {answers}, {count}; \"{{\" for a brace)",
                            (int)(shown > 40 ? 40 : shown), p, (size_t)(p - t));
            return ULM_EINVAL;
        }
        int rc = emit(ctx, PIECE_TEXT, run, (size_t)(p - run));
        if (rc == ULM_OK)
            rc = emit(ctx, (piece_kind)kind, NULL, 0);
        if (rc != ULM_OK)
            return rc;
        p += len;
        run = p;
    }
    return emit(ctx, PIECE_TEXT, run, strlen(run));
}

static int ignore_piece(void *ctx, piece_kind kind, const char *text, size_t length)
{
    (void)ctx, (void)kind, (void)text, (void)length;
    return ULM_OK;
}

int ulm__synthesis_template_check(const char *template, char *errbuf, size_t errbuf_size)
{
    if (!template || !*template) {
        ulm__set_errbuf(errbuf, errbuf_size, "synthesis template: empty");
        return ULM_EINVAL;
    }
    return walk_template(template, ignore_piece, NULL, errbuf, errbuf_size);
}

/* ------------------------------------------------------------ filling it */

typedef struct filling {
    ulm_text out;
    const char *question;
    const ulm_synthesis_answer *answers;
    size_t count, budget;
    int *truncated;
} filling;

/* The longest prefix of text no longer than budget that ends on a UTF-8 boundary. */
static size_t cut_length(const char *text, size_t length, size_t budget)
{
    if (length <= budget)
        return length;
    size_t n = budget;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static int append_answers(filling *f)
{
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < f->count; i++) {
        const ulm_synthesis_answer *a = &f->answers[i];
        size_t shown = cut_length(a->text, a->length, f->budget);
        f->truncated[i] = shown < a->length;
        rc = ulm_text_appendf(&f->out, "%s### %s\n", i ? "\n\n" : "", a->label);
        if (rc == ULM_OK)
            rc = ulm_text_append(&f->out, a->text, shown);
        if (rc == ULM_OK && f->truncated[i])
            rc = ulm_text_appendf(&f->out, "\n[... cut: %zu more bytes]", a->length - shown);
    }
    return rc;
}

static int fill_piece(void *ctx, piece_kind kind, const char *text, size_t length)
{
    filling *f = ctx;
    switch (kind) {
    case PIECE_TEXT:
        return ulm_text_append(&f->out, text, length);
    case PIECE_QUESTION:
        return ulm_text_append(&f->out, f->question, strlen(f->question));
    case PIECE_COUNT:
        return ulm_text_appendf(&f->out, "%zu", f->count);
    case PIECE_ANSWERS:
        return append_answers(f);
    }
    return ULM_EINVAL;
}

void ulm__synthesis_label(size_t k, char *out, size_t size)
{
    char letters[16];
    size_t n = sizeof letters;
    letters[--n] = '\0';
    /* bijective base 26: A..Z are 1..26, so there is no zero digit and no leading "A" */
    for (size_t v = k + 1; v > 0 && n > 0; v = (v - 1) / 26)
        letters[--n] = (char)('A' + (v - 1) % 26);
    snprintf(out, size, "Answer %s", letters + n);
}

int ulm__synthesis_request(ulm_request **out, const ulm_request *req, const char *template,
                           const ulm_synthesis_answer *answers, size_t count, size_t budget,
                           int *truncated, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    size_t n = ulm_request_message_count(req), last_user = n;
    for (size_t i = 0; i < n; i++)
        if (ulm_request_message_role(req, i) == ULM_ROLE_USER)
            last_user = i;
    if (last_user == n) {
        ulm__set_errbuf(errbuf, errbuf_size, "synthesis: the request has no user message");
        return ULM_EINVAL;
    }
    filling f = {.question = ulm_request_message_content(req, last_user), .answers = answers,
                 .count = count, .budget = budget, .truncated = truncated};
    int rc = walk_template(template, fill_piece, &f, errbuf, errbuf_size);
    ulm_request *s = NULL;
    if (rc == ULM_OK)
        rc = ulm_request_new(&s);
    for (size_t i = 0; rc == ULM_OK && i < n; i++)
        rc = ulm_request_add_message(s, ulm_request_message_role(req, i),
                                     i == last_user ? f.out.data : ulm_request_message_content(req, i));
    if (rc == ULM_OK)
        rc = ulm__request_copy_parameters(req, s);
    ulm_text_free(&f.out);
    if (rc != ULM_OK) {
        ulm_request_free(s);
        return rc;
    }
    *out = s;
    return ULM_OK;
}
