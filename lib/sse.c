/* sse.c - the incremental server-sent events framer (WHATWG HTML, "event stream" parsing). */
#include <string.h>

#include "sse.h"

void ulm__sse_init(ulm_sse *s, size_t max_line, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_line = max_line;
    s->max_event = max_event;
}

void ulm__sse_free(ulm_sse *s)
{
    ulm_text_free(&s->line);
    ulm_text_free(&s->data);
    ulm_text_free(&s->name);
}

const char *ulm_sse_event_name(const ulm_sse_event *event)
{
    return event && event->name ? event->name : "";
}

const char *ulm_sse_event_data(const ulm_sse_event *event, size_t *length)
{
    if (length)
        *length = event && event->data ? event->data_len : 0;
    return event && event->data ? event->data : "";
}

static void reset_event(ulm_sse *s)
{
    s->data.len = 0;
    s->name.len = 0;
    s->has_data = 0;
}

static int dispatch(ulm_sse *s, ulm_sse_emit_fn emit, void *ctx)
{
    if (!s->has_data) {
        reset_event(s);
        return ULM_OK;
    }
    ulm_sse_event event = {
        .name = s->name.len ? s->name.data : "",
        .data = s->data.data ? s->data.data : "",
        .data_len = s->data.len,
    };
    int rc = emit(ctx, &event);
    reset_event(s);
    return rc;
}

static int set_field(ulm_text *b, const char *value, size_t len)
{
    b->len = 0;
    if (ulm_text_append(b, value, len) != ULM_OK)
        return ULM_ENOMEM;
    return ULM_OK;
}

static int process_line(ulm_sse *s, const char *line, size_t len, ulm_sse_emit_fn emit,
                        void *ctx)
{
    if (!s->seen_line) { /* the specification drops one UTF-8 byte order mark at the start */
        s->seen_line = 1;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
            line += 3, len -= 3;
    }
    if (len == 0)
        return dispatch(s, emit, ctx);
    if (line[0] == ':')
        return ULM_OK; /* a comment, often a keep-alive */
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = len - (size_t)(value - line);
    if (value_len && *value == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        size_t joined = s->data.len + (s->has_data ? 1 : 0) + value_len;
        if (joined > s->max_event) {
            s->overflow = "event";
            return ULM_ETOO_LARGE;
        }
        if ((s->has_data && ulm_text_append(&s->data, "\n", 1) != ULM_OK) ||
            ulm_text_append(&s->data, value, value_len) != ULM_OK)
            return ULM_ENOMEM;
        s->has_data = 1;
        return ULM_OK;
    }
    if (name_len == 5 && memcmp(line, "event", 5) == 0)
        return set_field(&s->name, value, value_len);
    return ULM_OK; /* id, retry and unknown fields mean nothing to a one-shot request */
}

/* The first CR or LF in p[0..n), or NULL. */
static const char *find_line_end(const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);
    return cr ? cr : lf;
}

static int keep_partial_line(ulm_sse *s, const char *p, size_t n)
{
    if (s->line.len + n > s->max_line) {
        s->overflow = "line";
        return ULM_ETOO_LARGE;
    }
    return ulm_text_append(&s->line, p, n) == ULM_OK ? ULM_OK : ULM_ENOMEM;
}

int ulm__sse_feed(ulm_sse *s, const char *bytes, size_t n, ulm_sse_emit_fn emit, void *ctx)
{
    size_t i = 0;
    if (s->after_cr && n && bytes[0] == '\n')
        i = 1;
    if (n)
        s->after_cr = 0;
    while (i < n) {
        const char *start = bytes + i;
        const char *end = find_line_end(start, n - i);
        if (!end)
            return keep_partial_line(s, start, n - i);
        size_t len = (size_t)(end - start);
        const char *line = start;
        if (s->line.len) { /* the line began in an earlier chunk */
            int rc = keep_partial_line(s, start, len);
            if (rc != ULM_OK)
                return rc;
            line = s->line.data;
            len = s->line.len;
        } else if (len > s->max_line) {
            s->overflow = "line";
            return ULM_ETOO_LARGE;
        }
        i = (size_t)(end - bytes) + 1;
        if (*end == '\r') {
            if (i < n && bytes[i] == '\n')
                i++;
            else if (i == n)
                s->after_cr = 1;
        }
        int rc = process_line(s, line, len, emit, ctx);
        s->line.len = 0;
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}
