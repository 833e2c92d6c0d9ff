/* http_curl.c - the libcurl transport: a pool of kept-alive easy handles and one exchange on it. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clocks.h"

/*
 * A pooled connection context: an easy handle and the multi handle that drives it. The
 * multi handle owns the connection cache, so the pair stays together to keep a live
 * connection; the multi loop lets the core fire its clocks to the millisecond.
 */
typedef struct pooled {
    CURLM *multi;
    CURL *easy;
} pooled;

struct ulm_curl_pool {
    pthread_mutex_t lock;
    pooled *idle;
    unsigned int idle_count, max_idle;
};

static void pooled_free(pooled *p)
{
    if (p->multi)
        curl_multi_cleanup(p->multi);
    if (p->easy)
        curl_easy_cleanup(p->easy);
}

int ulm__curl_pool_new(ulm_curl_pool **out, unsigned int max_idle)
{
    ulm_curl_pool *pool = ulm__calloc(1, sizeof *pool);
    if (!pool)
        return ULM_ENOMEM;
    pool->idle = ulm__calloc(max_idle, sizeof *pool->idle);
    if (!pool->idle || pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool->idle);
        free(pool);
        return ULM_ENOMEM;
    }
    pool->max_idle = max_idle;
    *out = pool;
    return ULM_OK;
}

void ulm__curl_pool_free(ulm_curl_pool *pool)
{
    if (!pool)
        return;
    for (unsigned int i = 0; i < pool->idle_count; i++)
        pooled_free(&pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool->idle);
    free(pool);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata);
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata);
#if LIBCURL_VERSION_NUM >= 0x075000
static int on_connected(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                        int conn_primary_port, int conn_local_port);
#endif

/*
 * A new handle with the options every request shares. Pooled handles keep them, so a
 * request sets only what varies, and every one of those options on every request.
 */
static CURL *new_handle(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
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

/* A handle pair whose connection cache may already hold a live connection. */
static int pool_borrow(ulm_curl_pool *pool, pooled *out)
{
    int found = 0;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count) {
        *out = pool->idle[--pool->idle_count];
        found = 1;
    }
    pthread_mutex_unlock(&pool->lock);
    if (found)
        return ULM_OK;
    out->easy = new_handle();
    out->multi = curl_multi_init();
    if (!out->easy || !out->multi) {
        pooled_free(out);
        return ULM_ENOMEM;
    }
    return ULM_OK;
}

static void pool_return(ulm_curl_pool *pool, pooled *p)
{
    int kept = 0;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count < pool->max_idle) {
        pool->idle[pool->idle_count++] = *p;
        kept = 1;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!kept)
        pooled_free(p);
}

typedef struct sink {
    const ulm_transfer *t;
    ulm_http_response *resp;
    CURL *easy;
    int body_error;  /* what ulm__transfer_body refused with */
    int out_of_memory;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (!s->resp->status) {
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        s->resp->status = (int)status;
    }
    int rc = ulm__transfer_body(s->t, s->resp, data, n);
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
    sink *s = userdata;
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
    sink *s = userdata;
    size_t n = size * nmemb;
    ulm_clocks *k = s->t->clocks;
    double now = ulm__now_ms();
    if (!k->connected_at) /* libcurl before 7.80 has no callback for the connection */
        k->connected_at = now;
    if (n > 5 && strncmp(data, "HTTP/", 5) == 0) {
        if (!k->headers_at)
            k->headers_at = now;
        return n;
    }
    const char *v;
    size_t len;
    char **kept = header_value_slot(s->resp, data, n, &v, &len);
    if (kept) {
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        free(*kept);
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
    const char *fixed[] = {accept,
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

/* Sets the method and body explicitly, since a pooled handle remembers the last ones. */
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

static int classify(CURLcode code, const sink *s)
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
 * Drives the transfer until it ends or a clock fires. Returns the clock's code, or
 * ULM_OK with *code set to how the transfer ended.
 */
static int run_transfer(CURLM *multi, const ulm_clocks *k, CURLcode *code)
{
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            *code = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
            return ULM_OK;
        }
        if (!running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(multi, &left);
            *code = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_FAILED_INIT;
            return ULM_OK;
        }
        int fired;
        double wait = ulm__clocks_next(k, &fired) - ulm__now_ms();
        if (wait <= 0)
            return fired;
        /* wake at least each second: a callback may have moved a milestone */
        int wait_ms = wait > 1000 ? 1000 : (int)wait + (wait > (int)wait);
        curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
}

int ulm__curl_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                        char *errbuf, size_t errbuf_size)
{
    ulm_curl_pool *pool = ctx;
    pooled p = {0};
    int borrowed = pool_borrow(pool, &p);
    struct curl_slist *headers = make_headers(t);
    if (borrowed != ULM_OK || !headers) {
        if (borrowed == ULM_OK)
            pool_return(pool, &p);
        wipe_and_free_headers(headers);
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        return ULM_ENOMEM;
    }
    CURL *h = p.easy;
    sink s = {.t = t, .resp = resp, .easy = h};
    char curl_err[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(h, CURLOPT_PREREQDATA, &s);
#endif
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    set_method(h, t->http);

    int rc;
    CURLcode code = CURLE_OK;
    if (curl_multi_add_handle(p.multi, h) != CURLM_OK) {
        rc = ULM_ENOMEM;
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
    } else {
        rc = run_transfer(p.multi, t->clocks, &code);
        curl_multi_remove_handle(p.multi, h); /* mid-transfer, this closes the connection */
        if (rc != ULM_OK) {
            ulm__clocks_describe(t->clocks, rc, errbuf, errbuf_size);
        } else if (code == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->new_connections);
            resp->status = (int)status;
            if (!resp->body.data && ulm__buf_append(&resp->body, "", 0) != ULM_OK)
                rc = ULM_ENOMEM;
        } else {
            rc = classify(code, &s);
            if (rc == ULM_ETOO_LARGE && !t->on_body)
                ulm__set_errbuf(errbuf, errbuf_size, "answer larger than the %zu-byte cap",
                                t->max_response_bytes);
            else if (!s.body_error)
                ulm__set_errbuf(errbuf, errbuf_size, "%s",
                                curl_err[0] ? curl_err : curl_easy_strerror(code));
        }
    }
    /* nothing of this call may outlive it in the pooled handle */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    wipe_and_free_headers(headers);
    pool_return(pool, &p);
    return rc;
}
