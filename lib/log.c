/* log.c - the library's diagnostics: a message and its fields to the client's callbacks, and the JSON-lines formatter. */
#include <stdio.h>
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
    if (log->fn)
        log->fn(level, line, log->payload);
    if (!log->event_fn)
        return;
    ulm_log_event e = {.version = ULM_LOG_EVENT_VERSION,
                       .level = level,
                       .event = or_empty(fields.event),
                       .message = line,
                       .backend = or_empty(fields.backend),
                       .model = or_empty(fields.model),
                       .attempt = fields.attempt,
                       .error_class = fields.error ? ulm_error_name(fields.error) : "",
                       .http_status = fields.http_status,
                       .ms = fields.ms};
    log->event_fn(&e, log->event_payload);
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

/* "key":"value", with the value escaped and cut at 1024 bytes so that a line keeps to
 * ULM_LOG_JSON_SIZE (messages are shorter; names are the library's own). A byte that is
 * not part of valid UTF-8 becomes U+FFFD, so that the line stays JSON. */
static void put_string_member(line_sink *o, const char *key, const char *value)
{
    put(o, ",\"", 2);
    put(o, key, strlen(key));
    put(o, "\":\"", 3);
    size_t n = strlen(value);
    if (n > 1024) {
        n = 1024;
        while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
            n--; /* never cut inside a character */
    }
    const char *run = value;
    const char *end = value + n;
    for (const char *p = value; p < end;) {
        unsigned char lead = (unsigned char)*p;
        char esc[6];
        size_t len = ulm__json_escape(lead, esc);
        if (!len && lead < 0x80) {
            p++;
            continue;
        }
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        size_t have = (size_t)(end - p) < want ? (size_t)(end - p) : want;
        if (!len && ulm__utf8_invalid_at(p, have) == have) {
            p += have;
            continue;
        }
        put(o, run, (size_t)(p - run));
        if (len)
            put(o, esc, len);
        else
            put(o, "\xef\xbf\xbd", 3);
        run = ++p;
    }
    put(o, run, (size_t)(end - run));
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
        put_string_member(&o, "level", level_name(event->level));
        put_string_member(&o, "event", or_empty(event->event));
        const char *strings[][2] = {{"backend", event->backend}, {"model", event->model}};
        for (size_t i = 0; i < 2; i++)
            if (strings[i][1] && *strings[i][1])
                put_string_member(&o, strings[i][0], strings[i][1]);
        if (event->attempt)
            put_number_member(&o, "attempt", "%.0f", (double)event->attempt);
        if (event->error_class && *event->error_class)
            put_string_member(&o, "error_class", event->error_class);
        if (event->http_status)
            put_number_member(&o, "http_status", "%.0f", (double)event->http_status);
        if (event->ms >= 0)
            put_number_member(&o, "ms", "%.1f", event->ms < 1e12 ? event->ms : 1e12);
        put_string_member(&o, "message", or_empty(event->message));
        put(&o, "}\n", 2);
    }
    if (o.size)
        buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return o.len;
}
