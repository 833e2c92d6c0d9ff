/* log.c - the library's diagnostics: a message, redacted, and its fields to the client's callbacks, and the JSON-lines formatter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_text.h"
#include "log.h"
#include "utf8.h"

int ulm__log_wanted(const ulm_logger *log, int level)
{
    return log && (log->fn || log->event_fn) && level <= log->level;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void ulm__log_event(const ulm_logger *log, int level, ulm_log_fields fields, const char *fmt, ...)
{
    if (!ulm__log_wanted(log, level))
        return;
    char line[ULM_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* every line, whatever it was made of: a URL with credentials, a backend's words */
    char *clean = ulm__redacted(log->secrets, line, strlen(line));
    if (!clean)
        return; /* out of memory: a line that might hold a key is not worth the risk */
    if (log->fn)
        log->fn(level, clean, log->payload);
    if (!log->event_fn) {
        ulm__free(clean);
        return;
    }
    ulm_log_event e = {.version = ULM_LOG_EVENT_VERSION,
                       .level = level,
                       .event = or_empty(fields.event),
                       .message = clean,
                       .backend = or_empty(fields.backend),
                       .model = or_empty(fields.model),
                       .attempt = fields.attempt,
                       .error_class = fields.error ? ulm_error_name(fields.error) : "",
                       .http_status = fields.http_status,
                       .ms = fields.ms};
    log->event_fn(&e, log->event_payload);
    ulm__free(clean);
}

/* ---------------------------------------------------------------- JSON lines */

/* The caller's buffer, snprintf-like: what fits is written, len counts everything. */
typedef struct line_sink {
    char *buf;
    size_t size;
    size_t len;
} line_sink;

static void put(line_sink *o, const char *s, size_t n)
{
    if (o->len + 1 < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

/* The most bytes a value takes in a line once escaped: the message, and each other field.
 * With the keys, numbers and time, a line stays under ULM_LOG_JSON_SIZE. */
#define MESSAGE_BUDGET 2048
#define FIELD_BUDGET 384

/* "key":"value", with the value escaped and cut, on a character, where its escaped form
 * would pass budget. A byte that is not part of valid UTF-8 becomes U+FFFD, so that the
 * line stays JSON. */
static void put_string_member(line_sink *o, const char *key, const char *value, size_t budget)
{
    put(o, ",\"", 2);
    put(o, key, strlen(key));
    put(o, "\":\"", 3);
    const char *end = value + strlen(value);
    size_t used = 0;
    for (const char *p = value; p < end;) {
        unsigned char lead = (unsigned char)*p;
        char esc[6];
        const char *piece = esc;
        size_t len = ulm__json_escape(lead, esc), step = 1;
        if (!len) {
            size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            size_t have = (size_t)(end - p) < want ? (size_t)(end - p) : want;
            if (lead < 0x80 || ulm__utf8_invalid_at(p, have) == have) {
                piece = p; /* as itself: ASCII, or a whole valid character */
                len = step = lead < 0x80 ? 1 : have;
            } else {
                piece = "\xef\xbf\xbd";
                len = 3;
            }
        }
        if (used + len > budget)
            break;
        put(o, piece, len);
        used += len;
        p += step;
    }
    put(o, "\"", 1);
}

static void put_number_member(line_sink *o, const char *key, const char *format, double v)
{
    char text[64];
    int n = snprintf(text, sizeof text, format, v);
    put(o, ",\"", 2);
    put(o, key, strlen(key));
    put(o, "\":", 2);
    put(o, text, (size_t)n);
}

static const char *level_name(int level)
{
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};
    return level >= ULM_LOG_NONE && level <= ULM_LOG_DEBUG ? names[level] : "unknown";
}

size_t ulm_log_event_json(const ulm_log_event *event, char *buf, size_t size)
{
    line_sink o = {.buf = buf, .size = buf ? size : 0};
    if (event) {
        struct timespec now;
        struct tm utc;
        char stamp[40] = "1970-01-01T00:00:00";
        timespec_get(&now, TIME_UTC);
        if (gmtime_r(&now.tv_sec, &utc))
            strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
        char time_text[64];
        int n = snprintf(time_text, sizeof time_text, "{\"time\":\"%s.%03ldZ\"", stamp,
                         now.tv_nsec / 1000000);
        put(&o, time_text, (size_t)n);
        put_string_member(&o, "level", level_name(event->level), FIELD_BUDGET);
        put_string_member(&o, "event", or_empty(event->event), FIELD_BUDGET);
        const char *strings[][2] = {{"backend", event->backend}, {"model", event->model}};
        for (size_t i = 0; i < 2; i++)
            if (strings[i][1] && *strings[i][1])
                put_string_member(&o, strings[i][0], strings[i][1], FIELD_BUDGET);
        if (event->attempt)
            put_number_member(&o, "attempt", "%.0f", (double)event->attempt);
        if (event->error_class && *event->error_class)
            put_string_member(&o, "error_class", event->error_class, FIELD_BUDGET);
        if (event->http_status)
            put_number_member(&o, "http_status", "%.0f", (double)event->http_status);
        if (event->ms >= 0)
            put_number_member(&o, "ms", "%.1f", event->ms < 1e12 ? event->ms : 1e12);
        put_string_member(&o, "message", or_empty(event->message), MESSAGE_BUDGET);
        put(&o, "}\n", 2);
    }
    if (o.size)
        buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return o.len;
}
