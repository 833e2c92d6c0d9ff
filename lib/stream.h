/* stream.h - reads a streamed answer: frames events, has the adapter translate them, delivers text. */
#ifndef ULM_STREAM_H
#define ULM_STREAM_H

#include "clocks.h"
#include "http_records.h"
#include "sse.h"

typedef enum stream_mode {
    STREAM_UNDECIDED = 0, /* no body bytes yet */
    STREAM_EVENTS,        /* a 2xx text/event-stream answer */
    STREAM_WHOLE          /* anything else: kept whole for parse() */
} stream_mode;

/* What a stream reader works with: the adapter, where its text goes, and the caps. */
typedef struct ulm_stream_setup {
    const ulm_provider *provider;
    ulm_result *result;
    ulm_clocks *clocks;
    ulm_delta_fn on_delta;
    void *payload;
    size_t max_text;       /* cap on the streamed text, and on a body kept whole */
    size_t max_line;       /* cap on one event line */
    size_t max_event;      /* cap on one event's data */
} ulm_stream_setup;

typedef struct ulm_stream {
    ulm_stream_setup in;
    ulm_sse sse;
    stream_mode mode;
    int done;              /* "data: [DONE]" arrived */
    size_t delivered;      /* bytes of result->text handed to on_delta */
    char detail[160];      /* why the stream failed, when the adapter did not say */
} ulm_stream;

ULM_HIDDEN void ulm__stream_init(ulm_stream *st, const ulm_stream_setup *setup);
ULM_HIDDEN void ulm__stream_free(ulm_stream *st);

/* The transport's body callback (ulm_body_fn) for a streamed exchange. */
ULM_HIDDEN int ulm__stream_on_body(void *ctx, ulm_http_response *resp, const char *data,
                                   size_t n);

/*
 * Ends a stream whose transfer completed: checks that the event stream reached its end,
 * or has parse() read an answer kept whole; then delivers what is left of the text.
 */
ULM_HIDDEN int ulm__stream_finish(ulm_stream *st, ulm_http_response *resp);

#endif /* ULM_STREAM_H */
