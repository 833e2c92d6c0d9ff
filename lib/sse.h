/* sse.h - the incremental server-sent events framer: bytes in any chunking, whole events out. */
#ifndef ULM_SSE_H
#define ULM_SSE_H

#include "alloc.h"

struct ulm_sse_event {
    const char *name; /* NUL-terminated, "" when the event had no "event:" field */
    const char *data; /* NUL-terminated */
    size_t data_len;
};

/* Receives one event; a non-zero return stops the framer and is returned by feed. */
typedef int (*ulm_sse_emit_fn)(void *ctx, const ulm_sse_event *event);

typedef struct ulm_sse {
    ulm_text line;       /* a line whose end has not arrived yet */
    ulm_text data;       /* data lines of the current event, joined by LF */
    ulm_text name;       /* event field of the current event */
    int has_data;       /* the current event has a data field, maybe empty */
    int after_cr;       /* the last chunk ended in CR: a leading LF belongs to it */
    int seen_line;      /* a line was processed: a byte order mark can no longer come */
    size_t max_line;    /* longest line accepted */
    size_t max_event;   /* most data bytes in one event */
    const char *overflow; /* "line" or "event" once a cap was passed */
} ulm_sse;

ULM_HIDDEN void ulm__sse_init(ulm_sse *s, size_t max_line, size_t max_event);
ULM_HIDDEN void ulm__sse_free(ulm_sse *s);

/*
 * Frames n more bytes of the stream, calling emit for each event they complete. Returns
 * ULM_OK, ULM_ETOO_LARGE past a cap (s->overflow says which), ULM_ENOMEM, or the first
 * non-zero value emit returned. An event still open when the stream ends is dropped,
 * as the SSE specification says.
 */
ULM_HIDDEN int ulm__sse_feed(ulm_sse *s, const char *bytes, size_t n, ulm_sse_emit_fn emit,
                             void *ctx);

#endif /* ULM_SSE_H */
