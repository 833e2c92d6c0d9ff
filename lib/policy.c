/* policy.c - the routing policy: backoff, Retry-After, breakers, endpoint picks, offline mode. */
#define _DEFAULT_SOURCE /* timegm: UTC broken-down time to epoch seconds */

#include <limits.h>
#include <string.h>

#include <stdint.h>

#include "policy.h"

/* ---------------------------------------------------------------- retries */

/*
 * min(max_delay, base * 2^retry) without computing 2^retry: once base exceeds what max
 * shifted down by retry leaves, the doubling has passed max, and the shift is never made.
 */
static long backoff_cap_ms(const ulm_retry_policy *p, unsigned int retry)
{
    long base = p->base_delay_ms, max = p->max_delay_ms;
    if (base <= 0 || max <= 0)
        return 0;
    if (retry >= sizeof(long) * CHAR_BIT - 1 || base > (max >> retry))
        return max;
    return base << retry;
}

double ulm__backoff_ms(const ulm_retry_policy *p, unsigned int retry, double random01)
{
    return random01 * (double)backoff_cap_ms(p, retry);
}

/* ---------------------------------------------------------------- Retry-After */

/* A server's pause longer than this is capped: no caller waits more than a day anyway. */
#define MAX_RETRY_AFTER_S (ULM_MAX_TIMEOUT_MS / 1000L)

/* What is left of the header value to parse. */
typedef struct reader {
    const char *at;
    const char *end;
} reader;

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int take_literal(reader *c, const char *literal)
{
    size_t n = strlen(literal);
    if ((size_t)(c->end - c->at) < n || memcmp(c->at, literal, n) != 0)
        return 0;
    c->at += n;
    return 1;
}

/* Exactly count digits (count <= 4), so a field never swallows its neighbour. */
static int take_digits(reader *c, int count, int *value)
{
    if (c->end - c->at < count)
        return 0;
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!is_digit(c->at[i]))
            return 0;
        v = v * 10 + (c->at[i] - '0');
    }
    c->at += count;
    *value = v;
    return 1;
}

/* The index of the name in names[count] that the text starts with; names are case-sensitive. */
static int take_name(reader *c, const char *const *names, int count, int *index)
{
    for (int i = 0; i < count; i++) {
        if (take_literal(c, names[i])) {
            *index = i;
            return 1;
        }
    }
    return 0;
}

static const char *const short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int take_month(reader *c, int *month)
{
    return take_name(c, months, 12, month);
}

/* hour ":" minute ":" second; 60 seconds is a leap second, which RFC 9110 allows. */
static int take_time_of_day(reader *c, struct tm *tm)
{
    return take_digits(c, 2, &tm->tm_hour) && take_literal(c, ":") &&
           take_digits(c, 2, &tm->tm_min) && take_literal(c, ":") &&
           take_digits(c, 2, &tm->tm_sec) && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
           tm->tm_sec <= 60;
}

static int is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* tm_year holds the full year here until the end, where struct tm's offset is applied. */
static int day_exists(const struct tm *tm)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int days = month_days[tm->tm_mon] + (tm->tm_mon == 1 && is_leap_year(tm->tm_year));
    return tm->tm_mday >= 1 && tm->tm_mday <= days;
}

/* "06 Nov 1994 08:49:37 GMT", after "Sun, " (IMF-fixdate). */
static int take_imf_fixdate(reader *c, struct tm *tm)
{
    return take_digits(c, 2, &tm->tm_mday) && take_literal(c, " ") && take_month(c, &tm->tm_mon) &&
           take_literal(c, " ") && take_digits(c, 4, &tm->tm_year) && take_literal(c, " ") &&
           take_time_of_day(c, tm) && take_literal(c, " GMT");
}

/*
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is the
 * most recent past year with those digits. Years are compared, not whole timestamps.
 */
static int full_year(int two_digits, time_t now_epoch)
{
    struct tm now;
    int this_year = gmtime_r(&now_epoch, &now) ? now.tm_year + 1900 : 1970;
    int year = this_year - this_year % 100 + two_digits;
    if (year > this_year + 50)
        year -= 100;
    else if (year + 100 <= this_year + 50)
        year += 100;
    return year;
}

/* "06-Nov-94 08:49:37 GMT", after "Sunday, " (the obsolete RFC 850 form). */
static int take_rfc850_date(reader *c, struct tm *tm, time_t now_epoch)
{
    int two_digit_year;
    if (!(take_digits(c, 2, &tm->tm_mday) && take_literal(c, "-") && take_month(c, &tm->tm_mon) &&
          take_literal(c, "-") && take_digits(c, 2, &two_digit_year) && take_literal(c, " ") &&
          take_time_of_day(c, tm) && take_literal(c, " GMT")))
        return 0;
    tm->tm_year = full_year(two_digit_year, now_epoch);
    return 1;
}

/* "Nov  6 08:49:37 1994", after "Sun " (C's asctime() form): the day is padded with a space. */
static int take_asctime_date(reader *c, struct tm *tm)
{
    if (!(take_month(c, &tm->tm_mon) && take_literal(c, " ")))
        return 0;
    int day_ok = take_literal(c, " ") ? take_digits(c, 1, &tm->tm_mday)
                                      : take_digits(c, 2, &tm->tm_mday);
    return day_ok && take_literal(c, " ") && take_time_of_day(c, tm) && take_literal(c, " ") &&
           take_digits(c, 4, &tm->tm_year);
}

/* An HTTP-date in any of its three forms, as epoch seconds in *when. */
static int parse_http_date(reader c, time_t now_epoch, time_t *when)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    /* The day name is checked for form only: a wrong weekday does not move the moment. */
    int weekday, ok;
    /* Long names first: "Sunday" also starts with "Sun". */
    if (take_name(&c, long_days, 7, &weekday))
        ok = take_literal(&c, ", ") && take_rfc850_date(&c, &tm, now_epoch);
    else if (take_name(&c, short_days, 7, &weekday))
        ok = take_literal(&c, ", ") ? take_imf_fixdate(&c, &tm)
                                    : take_literal(&c, " ") && take_asctime_date(&c, &tm);
    else
        return 0;
    if (!ok || c.at != c.end || !day_exists(&tm))
        return 0;
    tm.tm_year -= 1900;
    /* timegm's -1 is 1969 or a year time_t cannot hold: in the past either way. */
    *when = timegm(&tm);
    return 1;
}

static long seconds_to_ms(long long seconds)
{
    return (long)(seconds > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : seconds) * 1000L;
}

long ulm__parse_retry_after(const char *value, time_t now_epoch)
{
    if (!value)
        return -1;
    reader c = {value, value + strlen(value)};
    while (c.at < c.end && is_ows(*c.at))
        c.at++;
    while (c.end > c.at && is_ows(c.end[-1]))
        c.end--;
    if (c.at == c.end)
        return -1;
    if (is_digit(*c.at)) {
        long long seconds = 0;
        for (; c.at < c.end; c.at++) {
            if (!is_digit(*c.at))
                return -1;
            /* Stop growing past the cap so a long run of digits cannot overflow. */
            if (seconds <= MAX_RETRY_AFTER_S)
                seconds = seconds * 10 + (*c.at - '0');
        }
        return seconds_to_ms(seconds);
    }
    time_t when;
    if (!parse_http_date(c, now_epoch, &when))
        return -1;
    return when <= now_epoch ? 0 : seconds_to_ms((long long)(when - now_epoch));
}

/* ---------------------------------------------------------------- circuit breaker */

/* A policy asking for more failures than the ring holds is held to what the ring can see. */
static unsigned int failure_threshold(const ulm_breaker_policy *p)
{
    return p->failures > ULM_BREAKER_MAX_FAILURES ? ULM_BREAKER_MAX_FAILURES : p->failures;
}

static unsigned int failures_within_window(const ulm_breaker *b, const ulm_breaker_policy *p,
                                           double now)
{
    unsigned int recent = 0;
    /* The ring fills from slot 0, so its entries are always the first failure_count slots. */
    for (unsigned int i = 0; i < b->failure_count; i++) {
        double at = b->failure_at[i];
        if (at >= now - (double)p->window_ms && at <= now)
            recent++;
    }
    return recent;
}

static void remember_failure(ulm_breaker *b, double now)
{
    b->failure_at[b->failure_next] = now;
    b->failure_next = (b->failure_next + 1) % ULM_BREAKER_MAX_FAILURES;
    if (b->failure_count < ULM_BREAKER_MAX_FAILURES)
        b->failure_count++;
}

static void open_circuit(ulm_breaker *b, double now)
{
    b->state = ULM_BREAKER_OPEN;
    b->opened_at = now;
    b->trial_in_flight = 0;
}

static double cooldown_end(const ulm_breaker *b, const ulm_breaker_policy *p)
{
    return b->opened_at + (double)p->cooldown_ms;
}

/* What ulm__breaker_allow would answer, without taking the half-open trial. */
static int breaker_would_allow(const ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    switch (b->state) {
    case ULM_BREAKER_OPEN:
        return now >= cooldown_end(b, p);
    case ULM_BREAKER_HALF_OPEN:
        return !b->trial_in_flight;
    default:
        return 1;
    }
}

int ulm__breaker_allow(ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    if (!breaker_would_allow(b, p, now))
        return 0;
    if (b->state != ULM_BREAKER_CLOSED) {
        b->state = ULM_BREAKER_HALF_OPEN;
        b->trial_in_flight = 1;
    }
    return 1;
}

void ulm__breaker_record(ulm_breaker *b, const ulm_breaker_policy *p, double now, int success)
{
    if (success) {
        *b = (ulm_breaker){.state = ULM_BREAKER_CLOSED};
        return;
    }
    remember_failure(b, now);
    switch (b->state) {
    case ULM_BREAKER_HALF_OPEN:
        open_circuit(b, now);
        break;
    case ULM_BREAKER_CLOSED:
        /* A policy of 0 failures never opens: "open at no failures" would mean never closed. */
        if (p->failures > 0 && failures_within_window(b, p, now) >= failure_threshold(p))
            open_circuit(b, now);
        break;
    default:
        /* Open: a late failure of a request sent before it opened leaves the cooldown be. */
        break;
    }
}

void ulm__breaker_abandon(ulm_breaker *b)
{
    if (b->state == ULM_BREAKER_HALF_OPEN)
        b->trial_in_flight = 0;
}

double ulm__breaker_ready_at(const ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    switch (b->state) {
    case ULM_BREAKER_OPEN: {
        double end = cooldown_end(b, p);
        return end > now ? end : now;
    }
    case ULM_BREAKER_HALF_OPEN:
        /*
         * With the trial out, nothing passes until its outcome is recorded; should it fail,
         * the next trial is a whole cooldown away, so that is the time to plan for.
         */
        return b->trial_in_flight ? now + (double)p->cooldown_ms : now;
    default:
        return now;
    }
}

/* ---------------------------------------------------------------- deployments */

int ulm__pick_endpoint(ulm_endpoint_state *eps, size_t n, ulm_balance balance,
                       unsigned int *cursor, const ulm_breaker_policy *p, double now,
                       uint64_t exclude)
{
    if (n == 0)
        return -1;
    size_t start = *cursor % n;
    size_t chosen = n; /* none yet */
    /* Scanning from the cursor makes the first of equals the round-robin choice. */
    for (size_t step = 0; step < n; step++) {
        size_t i = (start + step) % n;
        if ((i < 64 && (exclude >> i) & 1) || !breaker_would_allow(&eps[i].breaker, p, now))
            continue;
        if (chosen == n || eps[i].in_flight < eps[chosen].in_flight)
            chosen = i;
        if (balance == ULM_BALANCE_ROUND_ROBIN)
            break;
    }
    if (chosen == n)
        return -1;
    ulm__breaker_allow(&eps[chosen].breaker, p, now);
    *cursor = (unsigned int)((chosen + 1) % n);
    return (int)chosen;
}

/* ---------------------------------------------------------------- offline mode */

void ulm__offline_note_cloud(ulm_offline_state *s, double now, int connect_failed,
                             long probe_interval_ms)
{
    if (!connect_failed) {
        *s = (ulm_offline_state){0};
        return;
    }
    if (!s->offline) {
        s->offline = 1;
        s->since = now;
    }
    /* Going offline and a failed probe alike: the next look at the cloud is an interval on. */
    s->next_probe_at = now + (double)probe_interval_ms;
    s->probe_in_flight = 0;
}

int ulm__offline_skip_cloud(ulm_offline_state *s, double now)
{
    if (!s->offline)
        return 0;
    if (s->probe_in_flight || now < s->next_probe_at)
        return 1;
    s->probe_in_flight = 1;
    return 0;
}
