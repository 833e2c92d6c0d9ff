/* engine.c - the transport: many HTTP exchanges at once on one thread, over libcurl's multi interface. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"

/* Configured easy handles an engine keeps for its next transfers at least; as many as
 * transfers ran on it at once when that is more (a handle made and cleaned up per transfer
 * was most of what a round of 64 cost beyond its baseline). */
#define MAX_IDLE_HANDLES 16

/* Idle connections an engine keeps at least; more when more transfers ran at once, so that
 * as many are there for the next ones. libcurl's default is four per transfer added at the
 * moment one ends, so a round's last members, ending when the others were taken out
 * already, closed most of the connections the next round would have used; and 256 calls
 * at once on an engine that kept 64 opened and closed 192 connections each time round. */
#define MAX_IDLE_CONNECTIONS 64L

/* The longest single wait: a wake-up time far away is approached in steps. */
#define MAX_WAIT_MS 1000.0

typedef enum slot_state {
    SLOT_RUNNING = 1, /* added to the multi handle */
    SLOT_ENDED        /* ended, on_done not yet called */
} slot_state;

struct ulm_transfer_slot {
    ulm_transfer *t;
    CURL *easy;
    struct curl_slist *headers;
    slot_state state;
    int body_error;     /* what ulm__transfer_body refused with */
    int out_of_memory;  /* a header could not be kept */
    int answered;       /* a byte of the answer (status line, header or body) arrived */
    int resent;         /* sent again once on a fresh connection */
    int own_network;    /* a CA file or proxy was set: the handle is not kept for others */
    char curl_err[CURL_ERROR_SIZE];
    ulm_transfer_slot *next; /* in the engine's list of slots */
};

/*
 * The engine waits itself, on the sockets libcurl names (its socket callback), and tells
 * libcurl which of them are ready (curl_multi_socket_action()), so that a turn of the loop
 * costs libcurl work for the transfers that moved only. curl_multi_perform() instead asks
 * every running transfer's socket again, one poll() each: with 256 transfers in flight, 256
 * system calls per turn.
 */
typedef struct watch_list {
    struct pollfd *fds;        /* [0] the wake-up pipe, then libcurl's sockets, then the
                                  caller's descriptors of one wait */
    size_t count;              /* the pipe and libcurl's sockets */
    size_t capacity;
    struct pollfd *ready;      /* libcurl's sockets that one wait found ready, as many as
                                  fds */
} watch_list;

struct ulm_engine {
    CURLM *multi;
    ulm_transfer_slot *slots;  /* running and ended transfers */
    size_t running;
    watch_list watch;
    int wake_pipe[2];          /* a byte written wakes the wait; from any thread, or a signal
                                  handler */
    int timer_set;             /* libcurl asked to be told at timer_at (its timer callback) */
    double timer_at;
    int callback_failed;       /* the socket callback could not keep a socket */
    long max_connects;         /* libcurl's CURLMOPT_MAXCONNECTS: the most transfers that
                                  ran at once, at least MAX_IDLE_CONNECTIONS */
    CURL **idle;               /* configured handles for the next transfers */
    size_t idle_count;
    size_t idle_capacity;      /* the most transfers that ran at once, at least
                                  MAX_IDLE_HANDLES */
    ulm_transport_fn fake;     /* tests: answers instead of the network */
    void *fake_ctx;
    atomic_long *sockets;      /* the pool's count of open sockets */
};

struct ulm_engine_pool {
    pthread_mutex_t lock;
    ulm_engine **idle;
    unsigned int idle_count, max_idle;
    ulm_transport_fn fake;
    void *fake_ctx;
    atomic_long sockets;       /* opened by its engines' transfers and not closed yet: the
                                  connections in flight and those kept alive */
};

/* ------------------------------------------------------------ body and headers */

int ulm__transfer_body(const ulm_transfer *t, ulm_http_response *resp, const char *data,
                       size_t n)
{
    if (t->on_body)
        return t->on_body(t->on_body_ctx, resp, data, n);
    return ulm__keep_body(resp, data, n, t->max_response_bytes, t->clocks);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    ulm_transfer_slot *s = userdata;
    size_t n = size * nmemb;
    s->answered = 1;
    ulm_http_response *resp = s->t->resp;
    if (!resp->status) {
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
    }
    int rc = ulm__transfer_body(s->t, resp, data, n);
    if (rc != ULM_OK) {
        s->body_error = rc;
        return 0;
    }
    return n;
}

#if LIBCURL_VERSION_NUM >= 0x075000
static int on_connected(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                        int conn_primary_port, int conn_local_port)
{
    (void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
    ulm_transfer_slot *s = userdata;
    if (!s->t->clocks->connected_at)
        s->t->clocks->connected_at = ulm__now_ms();
    return CURL_PREREQFUNC_OK;
}
#endif

/*
 * Where the value of a header the core keeps goes (Content-Type, Retry-After), with
 * *value and *len set past the name and colon; NULL for any other header.
 */
static char **header_value_slot(ulm_http_response *resp, const char *line, size_t n,
                                const char **value, size_t *len)
{
    const struct {
        const char *name;
        size_t len;
        char **slot;
    } kept[] = {
        {"content-type:", 13, &resp->content_type},
        {"retry-after:", 12, &resp->retry_after},
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        if (n > kept[i].len && strncasecmp(line, kept[i].name, kept[i].len) == 0) {
            *value = line + kept[i].len;
            *len = n - kept[i].len;
            return kept[i].slot;
        }
    }
    return NULL;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    ulm_transfer_slot *s = userdata;
    size_t n = size * nmemb;
    s->answered = 1;
    ulm_clocks *k = s->t->clocks;
    int status_line = n > 5 && strncmp(data, "HTTP/", 5) == 0;
    if (!k->connected_at || (status_line && !k->headers_at)) { /* the clock read once */
        double now = ulm__now_ms();
        if (!k->connected_at) /* libcurl before 7.80 has no callback for the connection */
            k->connected_at = now;
        if (status_line && !k->headers_at)
            k->headers_at = now;
    }
    if (status_line)
        return n;
    const char *v;
    size_t len;
    char **kept = header_value_slot(s->t->resp, data, n, &v, &len);
    if (kept) {
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        ulm__free(*kept);
        *kept = ulm__strndup(v, len);
        if (!*kept)
            s->out_of_memory = 1;
    }
    return n;
}

static void wipe_and_free_headers(struct curl_slist *list)
{
    for (struct curl_slist *it = list; it; it = it->next) {
        volatile char *p = it->data;
        while (*p)
            *p++ = '\0';
    }
    curl_slist_free_all(list);
}

static struct curl_slist *make_headers(const ulm_transfer *t)
{
    struct curl_slist *list = NULL, *next;
    char accept[64];
    ulm__set_errbuf(accept, sizeof accept, "Accept: %s", t->accept ? t->accept : "application/json");
    /* a server may read only the first Accept (Go does): the request's own comes alone */
    for (size_t i = 0; i < t->http->header_count; i++)
        if (strncasecmp(t->http->headers[i], "Accept:", 7) == 0)
            accept[0] = '\0';
    const char *fixed[] = {accept[0] ? accept : NULL,
                           t->http->body ? "Content-Type: application/json" : NULL,
                           "Expect:", /* no 100-continue round trip before the body */
                           t->auth_header_line};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!fixed[i])
            continue;
        if (!(next = curl_slist_append(list, fixed[i])))
            goto nomem;
        list = next;
    }
    for (size_t i = 0; i < t->http->header_count; i++) {
        if (!(next = curl_slist_append(list, t->http->headers[i])))
            goto nomem;
        list = next;
    }
    return list;
nomem:
    wipe_and_free_headers(list);
    return NULL;
}

/* ------------------------------------------------------------ easy handles */

/* libcurl's socket, made as libcurl makes it, and counted. */
static curl_socket_t open_socket(void *counter, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd != CURL_SOCKET_BAD)
        atomic_fetch_add_explicit((atomic_long *)counter, 1, memory_order_relaxed);
    return fd;
}

static int close_socket(void *counter, curl_socket_t fd)
{
    atomic_fetch_sub_explicit((atomic_long *)counter, 1, memory_order_relaxed);
    return close(fd);
}

/*
 * A new handle with the options every request shares. Idle handles keep them, so a
 * request sets only what varies, and every one of those options on every request.
 */
static CURL *new_handle(ulm_engine *e)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    /* a connection keeps the callbacks of the handle that opened it, and the pool outlives
     * every connection of its engines */
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, e->sockets);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, e->sockets);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* signals are process-wide; we run in threads */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must not carry the key away */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ultra-llm/" ULM_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_connected);
#endif
    /* the core's clocks decide; curl's own 300 s connect default must not cut first */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    return h;
}

static CURL *take_handle(ulm_engine *e)
{
    return e->idle_count ? e->idle[--e->idle_count] : new_handle(e);
}

/* Nothing of a transfer may outlive it in a handle kept for the next one. */
static void put_handle(ulm_engine *e, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 0L);
    if (e->idle_count < e->idle_capacity)
        e->idle[e->idle_count++] = h;
    else
        curl_easy_cleanup(h);
}

/* Sets the method and body explicitly, since a kept handle remembers the last ones. */
static void set_method(CURL *h, const ulm_http_request *http)
{
    int is_post = strcmp(http->method, "POST") == 0;
    if (http->body || is_post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, http->body ? http->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)http->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                     is_post || strcmp(http->method, "GET") == 0 ? NULL : http->method);
}

/* ------------------------------------------------------------ what the engine waits for */

/* Room for n descriptors in the list; ULM_ENOMEM leaves it as it was. */
static int watch_reserve(watch_list *w, size_t n)
{
    if (n <= w->capacity)
        return ULM_OK;
    size_t capacity = w->capacity * 2 > n ? w->capacity * 2 : n;
    struct pollfd *fds = ulm__realloc(w->fds, capacity * sizeof *fds);
    if (!fds)
        return ULM_ENOMEM;
    w->fds = fds;
    struct pollfd *ready = ulm__realloc(w->ready, capacity * sizeof *ready);
    if (!ready)
        return ULM_ENOMEM;
    w->ready = ready;
    w->capacity = capacity;
    return ULM_OK;
}

/* libcurl's socket callback: which events of fd it waits for, or that it no longer does. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *engine, void *socketp)
{
    (void)easy, (void)socketp;
    ulm_engine *e = engine;
    watch_list *w = &e->watch;
    size_t i = 1;
    while (i < w->count && w->fds[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < w->count)
            w->fds[i] = w->fds[--w->count];
        return 0;
    }
    if (i == w->count) {
        if (watch_reserve(w, w->count + 1) != ULM_OK) {
            e->callback_failed = 1;
            return -1;
        }
        w->count++;
    }
    w->fds[i] = (struct pollfd){
        .fd = fd,
        .events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0))};
    return 0;
}

/* libcurl's timer callback: when to tell it that time passed (a negative: never). */
static int on_timer(CURLM *multi, long timeout_ms, void *engine)
{
    (void)multi;
    ulm_engine *e = engine;
    e->timer_set = timeout_ms >= 0;
    e->timer_at = e->timer_set ? ulm__now_ms() + (double)timeout_ms : 0;
    return 0;
}

/* ------------------------------------------------------------ engines and the pool */

static void engine_free(ulm_engine *e)
{
    if (!e)
        return;
    if (e->multi)
        curl_multi_cleanup(e->multi); /* may still tell on_socket, so the list goes after */
    for (size_t i = 0; i < e->idle_count; i++)
        curl_easy_cleanup(e->idle[i]);
    ulm__free(e->idle);
    for (int i = 0; i < 2; i++)
        if (e->wake_pipe[i] >= 0)
            close(e->wake_pipe[i]);
    ulm__free(e->watch.fds);
    ulm__free(e->watch.ready);
    ulm__free(e);
}

static int open_wake_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int flags = fcntl(fds[i], F_GETFL);
        if (flags < 0 || fcntl(fds[i], F_SETFL, flags | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1;
    }
    return 0;
}

static ulm_engine *engine_new(ulm_engine_pool *pool)
{
    ulm_engine *e = ulm__calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->fake = pool->fake;
    e->fake_ctx = pool->fake_ctx;
    e->sockets = &pool->sockets;
    e->wake_pipe[0] = e->wake_pipe[1] = -1;
    e->idle_capacity = MAX_IDLE_HANDLES;
    if (!(e->idle = ulm__calloc(e->idle_capacity, sizeof *e->idle)) ||
        open_wake_pipe(e->wake_pipe) != 0 || watch_reserve(&e->watch, 8) != ULM_OK ||
        !(e->multi = curl_multi_init())) {
        engine_free(e);
        return NULL;
    }
    e->watch.fds[0] = (struct pollfd){.fd = e->wake_pipe[0], .events = POLLIN};
    e->watch.count = 1;
    e->max_connects = MAX_IDLE_CONNECTIONS;
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, e->max_connects);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    return e;
}

int ulm__engine_pool_new(ulm_engine_pool **out, unsigned int max_idle)
{
    ulm_engine_pool *pool = ulm__calloc(1, sizeof *pool);
    if (!pool)
        return ULM_ENOMEM;
    atomic_init(&pool->sockets, 0);
    pool->idle = ulm__calloc(max_idle, sizeof *pool->idle);
    if (!pool->idle || pthread_mutex_init(&pool->lock, NULL) != 0) {
        ulm__free(pool->idle);
        ulm__free(pool);
        return ULM_ENOMEM;
    }
    pool->max_idle = max_idle;
    *out = pool;
    return ULM_OK;
}

void ulm__engine_pool_free(ulm_engine_pool *pool)
{
    if (!pool)
        return;
    for (unsigned int i = 0; i < pool->idle_count; i++)
        engine_free(pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
    ulm__free(pool->idle);
    ulm__free(pool);
}

long ulm__engine_pool_sockets(ulm_engine_pool *pool)
{
    return atomic_load_explicit(&pool->sockets, memory_order_relaxed);
}

unsigned int ulm__engine_pool_idle(ulm_engine_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    unsigned int n = pool->idle_count;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void ulm__engine_pool_set_transport(ulm_engine_pool *pool, ulm_transport_fn fn, void *ctx)
{
    pool->fake = fn;
    pool->fake_ctx = ctx;
    for (unsigned int i = 0; i < pool->idle_count; i++) {
        pool->idle[i]->fake = fn;
        pool->idle[i]->fake_ctx = ctx;
    }
}

int ulm__engine_borrow(ulm_engine_pool *pool, ulm_engine **out)
{
    ulm_engine *e = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count)
        e = pool->idle[--pool->idle_count];
    pthread_mutex_unlock(&pool->lock);
    if (!e && !(e = engine_new(pool)))
        return ULM_ENOMEM;
    *out = e;
    return ULM_OK;
}

void ulm__engine_return(ulm_engine_pool *pool, ulm_engine *e)
{
    int kept = 0;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count < pool->max_idle) {
        pool->idle[pool->idle_count++] = e;
        kept = 1;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!kept)
        engine_free(e);
}

/* ------------------------------------------------------------ transfers */

static void unlink_slot(ulm_engine *e, ulm_transfer_slot *s)
{
    for (ulm_transfer_slot **p = &e->slots; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

/* Takes the slot out of the engine and gives its handle back for the next transfer. */
static void release_slot(ulm_engine *e, ulm_transfer_slot *s)
{
    if (s->state == SLOT_RUNNING) {
        curl_multi_remove_handle(e->multi, s->easy); /* mid-transfer, this closes the connection */
        e->running--;
    }
    unlink_slot(e, s);
    if (s->easy && s->own_network)
        curl_easy_cleanup(s->easy); /* a kept handle would carry them to the next transfer */
    else if (s->easy)
        put_handle(e, s->easy);
    wipe_and_free_headers(s->headers);
    s->t->slot = NULL;
    ulm__free(s);
}

static int classify(CURLcode code, const ulm_transfer_slot *s)
{
    if (s->out_of_memory || code == CURLE_OUT_OF_MEMORY)
        return ULM_ENOMEM;
    if (s->body_error)
        return s->body_error;
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return ULM_ECONNECT;
    default:
        return ULM_ETRANSPORT;
    }
}

/*
 * A kept-alive connection the server had closed fails the request sent on it before any
 * byte of the answer arrives. Nothing of it was processed, so it is always safe to send
 * again, once, on a new connection. libcurl does this itself only partly: from 7.72 to
 * 8.16 it counts such retries over the easy handle's whole life and gives up at the sixth
 * ("Connection died, tried 5 times"), and no version retries a request whose long body was
 * cut off while being sent.
 */
static int resend_on_fresh_connection(ulm_engine *e, ulm_transfer_slot *s, CURLcode code)
{
    long connects = -1;
    if (s->resent || s->answered || s->body_error ||
        (code != CURLE_SEND_ERROR && code != CURLE_RECV_ERROR && code != CURLE_GOT_NOTHING) ||
        curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK ||
        connects != 0)
        return 0;
    curl_multi_remove_handle(e->multi, s->easy);
    s->resent = 1;
    s->curl_err[0] = '\0';
    curl_easy_setopt(s->easy, CURLOPT_FRESH_CONNECT, 1L);
    if (curl_multi_add_handle(e->multi, s->easy) != CURLM_OK) {
        e->running--;
        s->state = SLOT_ENDED;
        s->t->rc = ULM_ENOMEM;
        ulm__set_errbuf(s->t->reason, sizeof s->t->reason, "out of memory");
    }
    return 1;
}

/* Records how a transfer that libcurl finished ended, and stops it running. */
static void end_transfer(ulm_engine *e, ulm_transfer_slot *s, CURLcode code)
{
    ulm_transfer *t = s->t;
    if (resend_on_fresh_connection(e, s, code))
        return;
    curl_multi_remove_handle(e->multi, s->easy);
    e->running--;
    s->state = SLOT_ENDED;
    if (code == CURLE_OK) {
        long status = 0;
        curl_off_t connect_us = -1, first_byte_us = -1;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &t->resp->new_connections);
        curl_easy_getinfo(s->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
        curl_easy_getinfo(s->easy, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us);
        t->resp->connect_ms = connect_us >= 0 ? (double)connect_us / 1e3 : -1;
        t->resp->first_byte_ms = first_byte_us >= 0 ? (double)first_byte_us / 1e3 : -1;
        t->resp->status = (int)status;
        t->rc = ULM_OK;
        if (!t->resp->body.data && ulm_text_append(&t->resp->body, "", 0) != ULM_OK)
            t->rc = ULM_ENOMEM;
        return;
    }
    t->rc = classify(code, s);
    if (t->rc == ULM_ENOMEM)
        ulm__set_errbuf(t->reason, sizeof t->reason, "out of memory");
    else if (t->rc == ULM_ETOO_LARGE && !t->on_body)
        ulm__set_errbuf(t->reason, sizeof t->reason, "answer larger than the %zu-byte cap",
                        t->max_response_bytes);
    else if (!s->body_error)
        ulm__set_errbuf(t->reason, sizeof t->reason, "%s",
                        s->curl_err[0] ? s->curl_err : curl_easy_strerror(code));
}

/* Ends a running transfer whose clock fired, with that clock's code. */
static void end_by_clock(ulm_engine *e, ulm_transfer_slot *s, int code)
{
    curl_multi_remove_handle(e->multi, s->easy); /* mid-transfer, this closes the connection */
    e->running--;
    s->state = SLOT_ENDED;
    s->t->rc = code;
    ulm__clocks_describe(s->t->clocks, code, s->t->reason, sizeof s->t->reason);
}

/* A transfer answered at once by the test transport. */
static int start_fake(ulm_engine *e, ulm_transfer_slot *s)
{
    ulm_transfer *t = s->t;
    t->clocks->connected_at = t->clocks->headers_at = ulm__now_ms();
    t->rc = e->fake(e->fake_ctx, t, t->resp, t->reason, sizeof t->reason);
    s->state = SLOT_ENDED;
    if (t->rc == ULM_OK && !t->resp->body.data && ulm_text_append(&t->resp->body, "", 0) != ULM_OK)
        t->rc = ULM_ENOMEM;
    return ULM_OK;
}

int ulm__engine_start(ulm_engine *e, ulm_transfer *t)
{
    t->rc = ULM_OK;
    t->reason[0] = '\0';
    ulm_transfer_slot *s = ulm__calloc(1, sizeof *s);
    if (!s)
        return ULM_ENOMEM;
    s->t = t;
    t->slot = s;
    s->next = e->slots;
    e->slots = s;
    if (e->fake)
        return start_fake(e, s);
    s->headers = make_headers(t);
    s->easy = s->headers ? take_handle(e) : NULL;
    if (!s->easy) {
        release_slot(e, s);
        return ULM_ENOMEM;
    }
    CURL *h = s->easy;
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(h, CURLOPT_PREREQDATA, s);
#endif
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    if (t->ca_file || t->proxy) {
        s->own_network = 1;
        if (t->ca_file)
            curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
        if (t->proxy)
            curl_easy_setopt(h, CURLOPT_PROXY, t->proxy);
    }
    set_method(h, t->http);
    if (curl_multi_add_handle(e->multi, h) != CURLM_OK) {
        release_slot(e, s);
        return ULM_ENOMEM;
    }
    s->state = SLOT_RUNNING;
    e->running++;
    if ((long)e->running > e->max_connects) {
        e->max_connects = (long)e->running;
        curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, e->max_connects);
    }
    if (e->running > e->idle_capacity) { /* when it cannot grow, the extra handles go */
        CURL **idle = ulm__realloc(e->idle, e->running * sizeof *idle);
        if (idle) {
            e->idle = idle;
            e->idle_capacity = e->running;
        }
    }
    return ULM_OK;
}

void ulm__engine_abort(ulm_engine *e, ulm_transfer *t)
{
    if (t->slot)
        release_slot(e, t->slot);
}

size_t ulm__engine_running(const ulm_engine *e)
{
    return e->running;
}

void ulm__engine_wakeup(ulm_engine *e)
{
    ssize_t n = write(e->wake_pipe[1], "", 1);
    (void)n; /* a full pipe has a wake-up waiting already */
}

/* Collects what libcurl finished. */
static void read_ended(ulm_engine *e)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        ulm_transfer_slot *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (s && s->state == SLOT_RUNNING)
            end_transfer(e, s, msg->data.result);
    }
}

/* Ends the transfers whose clock passed; returns the earliest moment a clock still waits for. */
static double fire_clocks(ulm_engine *e, double now)
{
    double next = 0;
    for (ulm_transfer_slot *s = e->slots; s; s = s->next) {
        if (s->state != SLOT_RUNNING)
            continue;
        int code;
        double at = ulm__clocks_next(s->t->clocks, &code);
        if (at <= now)
            end_by_clock(e, s, code);
        else if (!next || at < next)
            next = at;
    }
    return next;
}

static int any_ended(const ulm_engine *e)
{
    for (const ulm_transfer_slot *s = e->slots; s; s = s->next)
        if (s->state == SLOT_ENDED)
            return 1;
    return 0;
}

/*
 * Calls on_done of every ended transfer, one at a time from the list's head: a callback
 * may start or abort other transfers, which changes the list under it.
 */
static void dispatch_ended(ulm_engine *e)
{
    for (;;) {
        ulm_transfer_slot *s = e->slots;
        while (s && s->state != SLOT_ENDED)
            s = s->next;
        if (!s)
            return;
        ulm_transfer *t = s->t;
        release_slot(e, s);
        t->on_done(t, t->on_done_ctx);
    }
}

/* Tells libcurl that fd is ready (bits), or with CURL_SOCKET_TIMEOUT that its time came;
 * then collects what it finished. */
static int act(ulm_engine *e, curl_socket_t fd, int bits)
{
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(e->multi, fd, bits, &running);
    if (mc != CURLM_OK || e->callback_failed) {
        int rc = e->callback_failed || mc == CURLM_OUT_OF_MEMORY ? ULM_ENOMEM : ULM_ETRANSPORT;
        e->callback_failed = 0;
        return rc;
    }
    read_ended(e);
    return ULM_OK;
}

/* libcurl's timer, when it came. */
static int act_on_time(ulm_engine *e, double now)
{
    if (!e->timer_set || e->timer_at > now)
        return ULM_OK;
    e->timer_set = 0;
    return act(e, CURL_SOCKET_TIMEOUT, 0);
}

static void drain_wake_pipe(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/*
 * Waits up to wait_ms for libcurl's sockets, the wake-up pipe and fds (the list has room
 * for them), then tells libcurl which sockets became ready.
 */
static int wait_and_act(ulm_engine *e, int wait_ms, const int *fds, size_t extra)
{
    watch_list *w = &e->watch;
    size_t own = w->count;
    for (size_t i = 0; i < extra; i++)
        w->fds[own + i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int n = poll(w->fds, (nfds_t)(own + extra), wait_ms);
    if (n < 0 && errno != EINTR)
        return ULM_ETRANSPORT;
    if (n <= 0)
        return ULM_OK;
    if (w->fds[0].revents)
        drain_wake_pipe(e->wake_pipe[0]);
    /* taken first: telling libcurl changes the list */
    size_t ready = 0;
    for (size_t i = 1; i < own; i++)
        if (w->fds[i].revents)
            w->ready[ready++] = w->fds[i];
    for (size_t i = 0; i < ready; i++) {
        short r = w->ready[i].revents;
        int rc = act(e, w->ready[i].fd,
                     (r & (POLLIN | POLLHUP | POLLERR) ? CURL_CSELECT_IN : 0) |
                         (r & (POLLOUT | POLLERR) ? CURL_CSELECT_OUT : 0));
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

int ulm__engine_run(ulm_engine *e, double wake_at, const int *fds, size_t fd_count)
{
    int rc;
    double now = ulm__now_ms();
    if (e->running && (rc = act_on_time(e, now)) != ULM_OK)
        return rc;
    double clock_at = fire_clocks(e, now);
    if (!any_ended(e)) {
        double until = wake_at;
        if (clock_at && (!until || clock_at < until))
            until = clock_at;
        if (e->running && e->timer_set && (!until || e->timer_at < until))
            until = e->timer_at;
        double wait = until ? until - now : 0;
        if (wait > 0 || (!until && e->running)) {
            if (!until || wait > MAX_WAIT_MS)
                wait = MAX_WAIT_MS;
            if (fd_count && watch_reserve(&e->watch, e->watch.count + fd_count) != ULM_OK) {
                fd_count = 0; /* the caller looks at them when the short wait ends */
                if (wait > ULM_UNWATCHED_WAIT_MS)
                    wait = ULM_UNWATCHED_WAIT_MS;
            }
            int wait_ms = (int)wait + (wait > (int)wait);
            if ((rc = wait_and_act(e, wait_ms, fds, fd_count)) != ULM_OK)
                return rc;
            now = ulm__now_ms();
            if (e->running && (rc = act_on_time(e, now)) != ULM_OK)
                return rc;
            fire_clocks(e, now);
        }
    }
    dispatch_ended(e);
    return ULM_OK;
}
