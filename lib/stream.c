/* stream.c - reads a streamed answer: frames events, has the adapter translate them, delivers text. */
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "stream.h"

void ulm__stream_init(ulm_stream *st, const ulm_stream_setup *setup)
{
    memset(st, 0, sizeof *st);
    st->in = *setup;
    ulm__sse_init(&st->sse, setup->max_line, setup->max_event);
}

void ulm__stream_free(ulm_stream *st)
{
    ulm__sse_free(&st->sse);
}

/* Length of the longest prefix of s[0..len) that ends on a UTF-8 character boundary. */
static size_t whole_characters(const char *s, size_t len)
{
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--, back++;
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return back + 1 >= need ? len : i - 1;
}

/* Hands the text not yet delivered to on_delta; all of it when final. */
static int deliver(ulm_stream *st, int final)
{
    const ulm_result *r = st->in.result;
    size_t end = final ? r->text_len : whole_characters(r->text, r->text_len);
    if (end <= st->delivered)
        return ULM_OK;
    size_t from = st->delivered;
    st->delivered = end; /* given to the caller even if the caller then cancels */
    if (st->in.on_delta(r->text + from, end - from, st->in.payload) != 0) {
        ulm__set_errbuf(st->detail, sizeof st->detail, "cancelled by the on_delta callback");
        return ULM_ECANCELLED;
    }
    return ULM_OK;
}

static int is_done_marker(const ulm_sse_event *ev)
{
    return ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
}

static int on_event(void *ctx, const ulm_sse_event *ev)
{
    ulm_stream *st = ctx;
    ulm_result *r = st->in.result;
    double now = ulm__now_ms();
    st->in.clocks->last_activity = now;
    if (st->done)
        return ULM_OK; /* nothing after [DONE] means anything */
    if (is_done_marker(ev)) {
        st->done = 1;
        return ULM_OK;
    }
    size_t before = r->text_len;
    ulm_finish_reason finish_before = r->finish;
    int rc = st->in.provider->parse_event(st->in.provider, ev, r);
    if (rc != ULM_OK)
        return rc;
    if (r->error != ULM_OK)
        return r->error;
    if (r->text_len > st->in.max_text) {
        ulm__set_errbuf(st->detail, sizeof st->detail,
                        "streamed text larger than the %zu-byte cap", st->in.max_text);
        return ULM_ETOO_LARGE;
    }
    if (r->text_len > before || r->finish != finish_before)
        ulm__clocks_token(st->in.clocks, now);
    return deliver(st, 0);
}

static int keep_whole(ulm_stream *st, ulm_http_response *resp, const char *data, size_t n)
{
    int rc = ulm__keep_body(resp, data, n, st->in.max_text, st->in.clocks);
    if (rc == ULM_ETOO_LARGE)
        ulm__set_errbuf(st->detail, sizeof st->detail, "answer larger than the %zu-byte cap",
                        st->in.max_text);
    return rc;
}

static int is_event_stream(const ulm_http_response *resp)
{
    static const char type[] = "text/event-stream";
    return resp->status >= 200 && resp->status < 300 && resp->content_type &&
           strncasecmp(resp->content_type, type, sizeof type - 1) == 0;
}

int ulm__stream_on_body(void *ctx, ulm_http_response *resp, const char *data, size_t n)
{
    ulm_stream *st = ctx;
    if (st->mode == STREAM_UNDECIDED)
        st->mode = is_event_stream(resp) && ulm__provider_streams(st->in.provider) ? STREAM_EVENTS
                                                                       : STREAM_WHOLE;
    if (st->mode == STREAM_WHOLE)
        return keep_whole(st, resp, data, n);
    int rc = ulm__sse_feed(&st->sse, data, n, on_event, st);
    if (rc == ULM_ETOO_LARGE && st->sse.overflow) {
        int line = strcmp(st->sse.overflow, "line") == 0;
        ulm__set_errbuf(st->detail, sizeof st->detail,
                        "a server-sent event%s larger than the %zu-byte cap", line ? " line" : "",
                        line ? st->sse.max_line : st->sse.max_event);
    }
    return rc;
}

int ulm__stream_finish(ulm_stream *st, ulm_http_response *resp)
{
    ulm_result *r = st->in.result;
    if (st->mode == STREAM_EVENTS) {
        if (!st->done && !r->stream_ended && r->finish == ULM_FINISH_UNKNOWN) {
            ulm__set_errbuf(st->detail, sizeof st->detail,
                            "the event stream ended before its end marker");
            return ULM_EPROTOCOL;
        }
        return deliver(st, 1);
    }
    int rc = st->in.provider->parse(st->in.provider, ULM_OP_CHAT, resp, r);
    if (rc != ULM_OK)
        return rc;
    if (r->error != ULM_OK)
        return r->error;
    return deliver(st, 1);
}
