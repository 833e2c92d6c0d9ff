/* http_curl.c - the libcurl transport: a pool of kept-alive easy handles and one exchange on it. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct ulm_curl_pool {
    pthread_mutex_t lock;
    CURL **idle;
    unsigned int idle_count, max_idle;
};

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
        curl_easy_cleanup(pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool->idle);
    free(pool);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata);
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata);

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
    return h;
}

/* A handle whose connection cache may already hold a live connection to the backend. */
static CURL *pool_borrow(ulm_curl_pool *pool)
{
    CURL *h = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count)
        h = pool->idle[--pool->idle_count];
    pthread_mutex_unlock(&pool->lock);
    return h ? h : new_handle();
}

static void pool_return(ulm_curl_pool *pool, CURL *h)
{
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count < pool->max_idle) {
        pool->idle[pool->idle_count++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    if (h)
        curl_easy_cleanup(h);
}

typedef struct sink {
    ulm_http_response *resp;
    size_t max_bytes;
    int too_large;
    int out_of_memory;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->resp->body.len + n > s->max_bytes) {
        s->too_large = 1;
        return 0;
    }
    if (ulm__buf_append(&s->resp->body, data, n) != ULM_OK) {
        s->out_of_memory = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    static const char name[] = "content-type:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        size_t len = n - (sizeof name - 1);
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        free(s->resp->content_type);
        s->resp->content_type = ulm__strndup(v, len);
        if (!s->resp->content_type)
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
    const char *fixed[] = {"Accept: application/json",
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
    if (s->too_large)
        return ULM_ETOO_LARGE;
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return ULM_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return ULM_ETIMEOUT;
    default:
        return ULM_ETRANSPORT;
    }
}

int ulm__curl_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                        char *errbuf, size_t errbuf_size)
{
    ulm_curl_pool *pool = ctx;
    CURL *h = pool_borrow(pool);
    struct curl_slist *headers = make_headers(t);
    if (!h || !headers) {
        if (h)
            pool_return(pool, h);
        wipe_and_free_headers(headers);
        ulm__set_errbuf(errbuf, errbuf_size, "out of memory");
        return ULM_ENOMEM;
    }
    sink s = {.resp = resp, .max_bytes = t->max_response_bytes};
    char curl_err[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    set_method(h, t->http);

    CURLcode code = curl_easy_perform(h);
    int rc = ULM_OK;
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->new_connections);
        resp->status = (int)status;
        if (!resp->body.data && ulm__buf_append(&resp->body, "", 0) != ULM_OK)
            rc = ULM_ENOMEM;
    } else {
        rc = classify(code, &s);
        if (rc == ULM_ETOO_LARGE)
            ulm__set_errbuf(errbuf, errbuf_size, "answer larger than the %zu-byte cap",
                            t->max_response_bytes);
        else
            ulm__set_errbuf(errbuf, errbuf_size, "%s", curl_err[0] ? curl_err
                                                                  : curl_easy_strerror(code));
    }
    /* nothing of this call may outlive it in the pooled handle */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    wipe_and_free_headers(headers);
    pool_return(pool, h);
    return rc;
}
