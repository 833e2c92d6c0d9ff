/* test_dmr_manage.c - Docker Model Runner's lifecycle translation: requests built, recorded answers and pull streams read. */
#include "fixture.h"

#include <inttypes.h>

#include "dmr_manage.h"

#define DMR_TEXT "text/plain; charset=utf-8"
#define DMR_JSON "application/json"
#define MODEL_ID "sha256:bebe4644d805e65a307265e2f70a927772ef602a2cdaea6c8fa6037c96394044"

/* ------------------------------------------------------------------ helpers */

/* Bytes collected with realloc, not the library's allocator, so that a test failing the
 * library's allocations in turn never fails its own. */
typedef struct dump {
    char *data;
    size_t len;
} dump;

static void dump_bytes(dump *d, const char *s, size_t n)
{
    char *grown = realloc(d->data, d->len + n + 1);
    assert_non_null(grown);
    memcpy(grown + d->len, s, n);
    d->data = grown;
    d->len += n;
    d->data[d->len] = '\0';
}

static void dump_printf(dump *d, const char *format, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(buf, sizeof buf, format, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof buf);
    dump_bytes(d, buf, (size_t)n);
}

static void assert_same_dump(const dump *got, const dump *want, const char *what)
{
    if (got->len != want->len || memcmp(got->data, want->data, got->len) != 0)
        fail_msg("%s:\n%s\nwanted\n%s", what, got->data ? got->data : "",
                 want->data ? want->data : "");
}

/* The header "name: value" of a built request, or NULL. */
static const char *header_of(const ulm_http_request *http, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < http->header_count; i++)
        if (strncmp(http->headers[i], name, n) == 0 && http->headers[i][n] == ':')
            return http->headers[i] + n + 2;
    return NULL;
}

/* A built request: method, path, body (NULL: none) and the only header (NULL: none). */
static void assert_request(const ulm_http_request *http, const char *method, const char *path,
                           const char *body, const char *header, const char *value)
{
    assert_string_equal(http->method, method);
    assert_string_equal(http->path, path);
    if (body) {
        assert_non_null(http->body);
        json_t *got = json_loadb(http->body, http->body_len, 0, NULL);
        if (!json_is_object(got))
            fail_msg("the body is not a JSON object: %.*s", (int)http->body_len, http->body);
        fixture_assert_json(got, body);
        json_decref(got);
    } else {
        assert_null(http->body);
    }
    assert_int_equal(http->header_count, header ? 1 : 0);
    if (header)
        assert_string_equal(header_of(http, header), value);
}

/* ------------------------------------------------------------------ roots and names */

static void test_root_of_every_spelling_of_the_openai_root(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *root;
    } cases[] = {
        {"http://localhost:12434/engines/v1", "http://localhost:12434"},
        {"http://localhost:12434/engines/v1/", "http://localhost:12434"},
        {"http://model-runner.docker.internal/v1/", "http://model-runner.docker.internal"},
        {"http://172.17.0.1:12434/engines/v1/", "http://172.17.0.1:12434"},
        {"http://127.0.0.1:9/engines/llama.cpp/v1", "http://127.0.0.1:9"},
        {"http://127.0.0.1:9/proxy/dmr/engines/v1", "http://127.0.0.1:9/proxy/dmr"},
        {"http://localhost:12434", "http://localhost:12434"},
        {"http://localhost:12434/", "http://localhost:12434"},
        {"http://127.0.0.1:9/v2", "http://127.0.0.1:9/v2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = ulm__dmr_root_length(cases[i].url);
        if (n != strlen(cases[i].root) || strncmp(cases[i].url, cases[i].root, n) != 0)
            fail_msg("root of %s: %.*s, wanted %s", cases[i].url, (int)n, cases[i].url,
                     cases[i].root);
    }
}

static void test_reference_normalizes_names_and_keeps_ids(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(ulm__dmr_reference("SmolLM2", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "ai/smollm2:latest");
    assert_int_equal(ulm__dmr_reference("hf.co/Org/X-GGUF:Q4_K_M", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "hf.co/org/x-gguf:Q4_K_M");
    assert_int_equal(ulm__dmr_reference(MODEL_ID, buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, MODEL_ID);
    assert_int_equal(ulm__dmr_reference(MODEL_ID + 7, buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, MODEL_ID + 7);
    assert_int_equal(ulm__dmr_reference("bebe4644d805", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "bebe4644d805");
    assert_int_equal(ulm__dmr_reference("a b", buf, sizeof buf), ULM_EINVAL);
    assert_int_equal(ulm__dmr_reference("", buf, sizeof buf), ULM_EINVAL);
    assert_int_equal(ulm__dmr_reference(NULL, buf, sizeof buf), ULM_EINVAL);
    assert_int_equal(ulm__dmr_reference(MODEL_ID, buf, 71), ULM_EINVAL);
}

static void test_same_model_compares_normalized_names(void **state)
{
    (void)state;
    assert_true(ulm__dmr_same_model("smollm2", "ai/smollm2:latest"));
    assert_true(ulm__dmr_same_model("storyteller:v2", "AI/storyteller:v2"));
    assert_false(ulm__dmr_same_model("storyteller:v2", "ai/storyteller"));
    assert_false(ulm__dmr_same_model("ai/stories260k", "ai/storyteller:v2"));
    assert_true(ulm__dmr_same_model("not a name", "not a name")); /* as given */
    assert_false(ulm__dmr_same_model("not a name", NULL));
}

/* ------------------------------------------------------------------ requests */

static void test_get_endpoints(void **state)
{
    (void)state;
    static const struct {
        ulm_dmr_call call;
        const char *path;
    } cases[] = {
        {ULM_DMR_BANNER, "/"},
        {ULM_DMR_VERSION, "/version"},
        {ULM_DMR_STATUS, "/engines/status"},
        {ULM_DMR_DISK_USAGE, "/engines/df"},
        {ULM_DMR_PS, "/engines/ps"},
        {ULM_DMR_MODELS, "/models"},
        {ULM_DMR_OPENAI_MODELS, "/engines/v1/models"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_http_request http = {0};
        assert_int_equal(ulm__dmr_build_get(&http, cases[i].call), ULM_OK);
        assert_request(&http, "GET", cases[i].path, NULL, NULL, NULL);
        ulm__http_request_clear(&http);
    }
    const ulm_dmr_call with_arguments[] = {ULM_DMR_MODEL,    ULM_DMR_PULL,      ULM_DMR_REMOVE,
                                           ULM_DMR_UNLOAD,   ULM_DMR_CONFIGURE, ULM_DMR_PRELOAD,
                                           ULM_DMR_INFERENCE};
    for (size_t i = 0; i < sizeof with_arguments / sizeof with_arguments[0]; i++) {
        ulm_http_request http = {0};
        assert_int_equal(ulm__dmr_build_get(&http, with_arguments[i]), ULM_EINVAL);
        ulm__http_request_clear(&http);
    }
}

/* The reference goes into the path with its slashes, as DMR's "/models/{name...}" takes it. */
static void test_model_path_carries_the_reference(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *path;
    } cases[] = {
        {"smollm2", "/models/ai/smollm2:latest"},
        {"ai/storyteller:v2", "/models/ai/storyteller:v2"},
        {"huggingface.co/Org/X-GGUF:Q4_K_M", "/models/hf.co/org/x-gguf:Q4_K_M"},
        {"ai/export", "/models/ai/export:latest"}, /* never read as DMR's export action */
        {MODEL_ID, "/models/" MODEL_ID},
        {"bebe4644d805", "/models/bebe4644d805"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_http_request http = {0};
        assert_int_equal(ulm__dmr_build_model(&http, cases[i].name), ULM_OK);
        assert_request(&http, "GET", cases[i].path, NULL, NULL, NULL);
        ulm__http_request_clear(&http);
    }
    const char *refused[] = {"", "a b", "x?y", "x#y", "ai/../x", "/x", NULL};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ulm_http_request http = {0};
        assert_int_equal(ulm__dmr_build_model(&http, refused[i]), ULM_EINVAL);
        assert_int_equal(ulm__dmr_build_remove(&http, refused[i], 1), ULM_EINVAL);
        assert_null(http.path);
    }
}

static void test_remove_is_delete_with_force_when_asked(void **state)
{
    (void)state;
    ulm_http_request http = {0};
    assert_int_equal(ulm__dmr_build_remove(&http, "ai/tiny-a", 0), ULM_OK);
    assert_request(&http, "DELETE", "/models/ai/tiny-a:latest", NULL, NULL, NULL);
    ulm__http_request_clear(&http);
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_remove(&http, MODEL_ID, 1), ULM_OK);
    assert_request(&http, "DELETE", "/models/" MODEL_ID "?force=true", NULL, NULL, NULL);
    ulm__http_request_clear(&http);
}

/* The name goes as written (DMR keeps a Hugging Face name's case for the Hub), once checked. */
static void test_pull_posts_the_name_as_written_and_asks_for_raw_json(void **state)
{
    (void)state;
    ulm_http_request http = {0};
    assert_int_equal(ulm__dmr_build_pull(&http, "hf.co/Bartowski/SmolLM2-GGUF:Q4_K_M"), ULM_OK);
    assert_request(&http, "POST", "/models/create",
                   "{\"from\":\"hf.co/Bartowski/SmolLM2-GGUF:Q4_K_M\"}", "Accept",
                   "application/json");
    ulm__http_request_clear(&http);
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_pull(&http, "smollm2"), ULM_OK);
    assert_request(&http, "POST", "/models/create", "{\"from\":\"smollm2\"}", "Accept",
                   "application/json");
    ulm__http_request_clear(&http);
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_pull(&http, "Bad Name!"), ULM_EINVAL);
    assert_int_equal(ulm__dmr_build_pull(&http, NULL), ULM_EINVAL);
    assert_null(http.body);
    ulm__http_request_clear(&http);
}

static void test_unload_all_or_the_models_named(void **state)
{
    (void)state;
    ulm_http_request http = {0};
    assert_int_equal(ulm__dmr_build_unload(&http, NULL, 0), ULM_OK);
    assert_request(&http, "POST", "/engines/unload", "{\"all\":true}", NULL, NULL);
    ulm__http_request_clear(&http);
    const char *names[] = {"stories260k", "ai/storyteller:v2", MODEL_ID};
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_unload(&http, names, 3), ULM_OK);
    assert_request(&http, "POST", "/engines/unload",
                   "{\"models\":[\"ai/stories260k:latest\",\"ai/storyteller:v2\",\"" MODEL_ID
                   "\"]}",
                   NULL, NULL);
    ulm__http_request_clear(&http);
    const char *bad[] = {"ok", "not ok"};
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_unload(&http, bad, 2), ULM_EINVAL);
    assert_int_equal(ulm__dmr_build_unload(&http, NULL, 1), ULM_EINVAL);
    ulm__http_request_clear(&http);
}

static void test_configure_sends_what_is_set(void **state)
{
    (void)state;
    ulm_http_request http = {0};
    ulm_dmr_configure all = {"smollm2", 4096, "10m", "embedding"};
    assert_int_equal(ulm__dmr_build_configure(&http, &all), ULM_OK);
    assert_request(&http, "POST", "/engines/_configure",
                   "{\"model\":\"ai/smollm2:latest\",\"mode\":\"embedding\",\"context-size\":4096,"
                   "\"keep_alive\":\"10m\"}",
                   NULL, NULL);
    ulm__http_request_clear(&http);
    ulm_dmr_configure bare = {"ai/slow", 0, NULL, NULL};
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_configure(&http, &bare), ULM_OK);
    assert_request(&http, "POST", "/engines/_configure", "{\"model\":\"ai/slow:latest\"}", NULL,
                   NULL);
    ulm__http_request_clear(&http);
    ulm_dmr_configure unlimited = {"ai/slow", -1, "-1", "completion"};
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_configure(&http, &unlimited), ULM_OK);
    assert_request(&http, "POST", "/engines/_configure",
                   "{\"model\":\"ai/slow:latest\",\"mode\":\"completion\",\"context-size\":-1,"
                   "\"keep_alive\":\"-1\"}",
                   NULL, NULL);
    ulm__http_request_clear(&http);
}

/* keep_alive as DMR's ParseKeepAlive takes it: "0", "-1", or a Go duration. */
static void test_configure_checks_keep_alive_mode_and_context_size(void **state)
{
    (void)state;
    const char *good[] = {"0",     "-1",  "5m",  "10m0s",      "1h30m",      "1.5h", ".5s",
                          "300ms", "-1m", "+2h", "2\xc2\xb5s", "2\xce\xbcs", "7ns",  "7us"};
    const char *bad[] = {"", "10", "m", "10x", "1h-", "1..5h", "- 1m", "forever", "-", "1m "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ulm_http_request http = {0};
        ulm_dmr_configure c = {"ai/x", 0, good[i], NULL};
        if (ulm__dmr_build_configure(&http, &c) != ULM_OK)
            fail_msg("keep_alive \"%s\" refused", good[i]);
        ulm__http_request_clear(&http);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ulm_http_request http = {0};
        ulm_dmr_configure c = {"ai/x", 0, bad[i], NULL};
        if (ulm__dmr_build_configure(&http, &c) != ULM_EINVAL)
            fail_msg("keep_alive \"%s\" taken", bad[i]);
        ulm__http_request_clear(&http);
    }
    ulm_http_request http = {0};
    ulm_dmr_configure mode = {"ai/x", 0, NULL, "chat"};
    assert_int_equal(ulm__dmr_build_configure(&http, &mode), ULM_EINVAL);
    ulm_dmr_configure small = {"ai/x", -2, NULL, NULL};
    assert_int_equal(ulm__dmr_build_configure(&http, &small), ULM_EINVAL);
    ulm_dmr_configure big = {"ai/x", 2147483648L, NULL, NULL};
    assert_int_equal(ulm__dmr_build_configure(&http, &big), ULM_EINVAL);
    ulm_dmr_configure nameless = {NULL, 4096, NULL, NULL};
    assert_int_equal(ulm__dmr_build_configure(&http, &nameless), ULM_EINVAL);
    assert_int_equal(ulm__dmr_build_configure(&http, NULL), ULM_EINVAL);
    assert_null(http.body);
    ulm__http_request_clear(&http);
}

static void test_preload_is_an_inference_request_marked_preload_only(void **state)
{
    (void)state;
    ulm_http_request http = {0};
    assert_int_equal(ulm__dmr_build_preload(&http, "storyteller:v2", NULL), ULM_OK);
    assert_request(&http, "POST", "/engines/v1/chat/completions",
                   "{\"model\":\"ai/storyteller:v2\",\"messages\":[]}", "X-Preload-Only", "true");
    ulm__http_request_clear(&http);
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_preload(&http, "ai/embed", "embedding"), ULM_OK);
    assert_request(&http, "POST", "/engines/v1/embeddings",
                   "{\"model\":\"ai/embed:latest\",\"input\":[]}", "X-Preload-Only", "true");
    ulm__http_request_clear(&http);
    memset(&http, 0, sizeof http);
    assert_int_equal(ulm__dmr_build_preload(&http, "ai/x", "reranking"), ULM_EINVAL);
    assert_int_equal(ulm__dmr_build_preload(&http, "a b", NULL), ULM_EINVAL);
    ulm__http_request_clear(&http);
}

/* One builder of each kind, called as the allocation walk calls them. */
static int build_case(int which, ulm_http_request *http)
{
    static const char *const names[] = {"ai/a", "ai/b"};
    static const ulm_dmr_configure config = {"ai/a", 4096, "10m", "completion"};
    switch (which) {
    case 0:
        return ulm__dmr_build_get(http, ULM_DMR_PS);
    case 1:
        return ulm__dmr_build_model(http, "ai/a");
    case 2:
        return ulm__dmr_build_remove(http, "ai/a", 1);
    case 3:
        return ulm__dmr_build_pull(http, "ai/a");
    case 4:
        return ulm__dmr_build_unload(http, names, 2);
    case 5:
        return ulm__dmr_build_unload(http, NULL, 0);
    case 6:
        return ulm__dmr_build_configure(http, &config);
    default:
        return ulm__dmr_build_preload(http, "ai/a", "embedding");
    }
}

/* Every allocation of every builder failing in turn: ULM_ENOMEM, nothing leaked (valgrind,
 * ASan), until one build needs no failing allocation. */
static void test_builders_under_allocation_failures(void **state)
{
    (void)state;
    for (int which = 0; which < 8; which++) {
        int rc = ULM_ENOMEM;
        long n;
        for (n = 1; rc == ULM_ENOMEM; n++) {
            ulm_http_request http = {0};
            ulm__test_fail_alloc_after(n);
            rc = build_case(which, &http);
            ulm__test_fail_alloc_after(0);
            if (rc != ULM_OK && rc != ULM_ENOMEM)
                fail_msg("builder %d with allocation %ld failing: %s", which, n,
                         ulm_error_name(rc));
            ulm__http_request_clear(&http);
        }
        assert_true(n > 2); /* at least one allocation was made to fail */
    }
}

/* ------------------------------------------------------------------ the pull stream */

/* A reading of a pull stream: every line and the progress after it, then the outcome. */
typedef struct reading {
    dump text;     /* what was read, one line each, then the final progress and outcome */
    int rc;        /* the first failure of the reader or the progress, else ULM_OK */
    int end;       /* what ulm__dmr_pull_end() said */
    size_t lines;  /* lines read */
    int went_back; /* the percent fell after some line */
    ulm_dmr_pull_progress progress;
} reading;

static void dump_line(dump *d, const ulm_dmr_pull_line *line, const ulm_dmr_pull_progress *p)
{
    dump_printf(d,
                "kind=%d code=%d raw=%d total=%" PRIu64 " layer=%s %" PRIu64 "/%" PRIu64
                " message(%zu)=",
                (int)line->kind, line->code, line->raw, line->total, line->layer_id,
                line->layer_current, line->layer_size, line->message_length);
    dump_bytes(d, line->message, line->message_length);
    dump_printf(d, " | done=%" PRIu64 " total=%" PRIu64 " %.4f%%\n", p->done, p->total,
                ulm__dmr_pull_progress_percent(p));
}

static void reading_clear(reading *out)
{
    free(out->text.data);
    ulm__dmr_pull_progress_clear(&out->progress);
    memset(out, 0, sizeof *out);
}

/* Reads body, cut into pieces at the ascending offsets cuts[0..ncuts). */
static void read_pull(reading *out, const char *content_type, const char *body, size_t length,
                      const size_t *cuts, size_t ncuts)
{
    memset(out, 0, sizeof *out);
    ulm_dmr_pull_reader r;
    ulm__dmr_pull_reader_init(&r, content_type);
    double last_percent = 0;
    size_t from = 0;
    for (size_t i = 0; out->rc == ULM_OK && i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : length;
        const char *p = body + from;
        size_t left = to - from;
        from = to;
        while (out->rc == ULM_OK && left) {
            size_t used = 0;
            ulm_dmr_pull_line line;
            int rc = ulm__dmr_pull_read(&r, p, left, &used, &line);
            assert_true(used <= left);
            if (rc < 0) {
                out->rc = rc;
                break;
            }
            p += used;
            left -= used;
            if (rc == 0) {
                assert_int_equal(left, 0); /* 0: everything was taken inside a line */
                continue;
            }
            assert_int_equal(rc, 1);
            assert_true(used > 0);
            out->lines++;
            out->rc = ulm__dmr_pull_progress_add(&out->progress, &line);
            dump_line(&out->text, &line, &out->progress);
            double percent = ulm__dmr_pull_progress_percent(&out->progress);
            if (percent < last_percent)
                out->went_back = 1;
            last_percent = percent;
        }
    }
    ulm_dmr_error error;
    out->end = ulm__dmr_pull_end(&error, &r, &out->progress);
    const ulm_dmr_pull_progress *p = &out->progress;
    dump_printf(&out->text,
                "end=%d rc=%d state=%d cached=%d layers=%zu done_layers=%zu lines=%zu "
                "error=%d words(%zu)=",
                out->end, out->rc, (int)p->state, p->cached, ulm__dmr_pull_layer_count(p),
                p->layers_done, p->progress_lines, error.code, error.length);
    if (error.text)
        dump_bytes(&out->text, error.text, error.length);
    dump_printf(&out->text, "\n");
    ulm__dmr_pull_reader_clear(&r);
}

/* Reads name whole, then cut once at every byte, then one byte at a time: each reading
 * must say the same. The whole reading goes to *whole (cleared by the caller). */
static void read_every_cut(reading *whole, const char *content_type, const char *body,
                           size_t length, const char *name)
{
    read_pull(whole, content_type, body, length, NULL, 0);
    for (size_t cut = 0; cut <= length; cut++) {
        reading r;
        read_pull(&r, content_type, body, length, &cut, 1);
        char what[128];
        snprintf(what, sizeof what, "%s cut at %zu", name, cut);
        assert_same_dump(&r.text, &whole->text, what);
        reading_clear(&r);
    }
    size_t *cuts = malloc((length ? length : 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < length; i++)
        cuts[i] = i + 1;
    reading r;
    read_pull(&r, content_type, body, length, cuts, length);
    assert_same_dump(&r.text, &whole->text, name);
    reading_clear(&r);
    free(cuts);
}

static void read_fixture_every_cut(reading *whole, const char *content_type, const char *name)
{
    size_t length;
    char *body = fixture_read(name, &length);
    read_every_cut(whole, content_type, body, length, name);
    free(body);
}

/* Go's html.EscapeString over the lines that are JSON; the handler's text stays raw. */
static char *go_escape(const char *s, size_t n, size_t *out_length)
{
    dump d = {0};
    int json_line = 1, line_start = 1;
    for (size_t i = 0; i < n; i++) {
        if (line_start)
            json_line = s[i] == '{';
        line_start = s[i] == '\n';
        const char *e = NULL;
        if (json_line) {
            e = s[i] == '<'    ? "&lt;"
                : s[i] == '>'  ? "&gt;"
                : s[i] == '&'  ? "&amp;"
                : s[i] == '\'' ? "&#39;"
                : s[i] == '"'  ? "&#34;"
                               : NULL;
        }
        if (e)
            dump_bytes(&d, e, strlen(e));
        else
            dump_bytes(&d, s + i, 1);
    }
    *out_length = d.len;
    return d.data;
}

/* The inverse, written separately from the library's: each entity replaced in one pass. */
static char *go_unescape(const char *s, size_t n, size_t *out_length)
{
    static const char *const entities[][2] = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&#39;", "'"}, {"&#34;", "\""}};
    dump d = {0};
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        while (k < 5 && strncmp(s + i, entities[k][0], strlen(entities[k][0])) != 0)
            k++;
        if (k < 5) {
            dump_bytes(&d, entities[k][1], 1);
            i += strlen(entities[k][0]);
        } else {
            dump_bytes(&d, s + i++, 1);
        }
    }
    *out_length = d.len;
    return d.data;
}

static const ulm_dmr_pull_layer *layer_named(const ulm_dmr_pull_progress *p, const char *prefix)
{
    for (size_t i = 0; i < ulm__dmr_pull_layer_count(p); i++)
        if (strncmp(ulm__dmr_pull_layer(p, i)->id, prefix, strlen(prefix)) == 0)
            return ulm__dmr_pull_layer(p, i);
    fail_msg("no layer %s", prefix);
    return NULL;
}

/* Two layers (the GGUF and a license) interleaved over 4 steps, then success. */
static void test_pull_progress_json_two_layers_every_cut(void **state)
{
    (void)state;
    reading whole;
    read_fixture_every_cut(&whole, DMR_JSON, "dmr/pull_progress.json");
    const ulm_dmr_pull_progress *p = &whole.progress;
    assert_int_equal(whole.rc, ULM_OK);
    assert_int_equal(whole.end, ULM_OK);
    assert_int_equal(whole.lines, 9);
    assert_int_equal(p->progress_lines, 8);
    assert_int_equal(p->state, ULM_DMR_PULL_SUCCEEDED);
    assert_false(p->cached);
    assert_int_equal(p->total, 1185413);
    assert_int_equal(ulm__dmr_pull_layer_count(p), 2);
    assert_int_equal(p->layers_done, 2);
    assert_int_equal(layer_named(p, "sha256:48ed")->size, 1185383);
    assert_int_equal(layer_named(p, "sha256:48ed")->current, 1185383);
    assert_int_equal(layer_named(p, "sha256:ff4b")->size, 30);
    assert_int_equal(p->done, 1185383 + 30);
    assert_true(ulm__dmr_pull_progress_percent(p) == 100.0);
    assert_false(whole.went_back);
    /* the first line: one layer at 296346 of the model's 1185413 bytes */
    assert_non_null(strstr(whole.text.data, "done=296346 total=1185413 24.9994%"));
    reading_clear(&whole);
}

static void test_pull_progress_text_plain_every_cut(void **state)
{
    (void)state;
    reading whole;
    read_fixture_every_cut(&whole, "text/plain", "dmr/pull_progress.txt");
    const ulm_dmr_pull_progress *p = &whole.progress;
    assert_int_equal(whole.end, ULM_OK);
    assert_int_equal(p->progress_lines, 8);
    assert_int_equal(p->total, 1185439);
    assert_int_equal(ulm__dmr_pull_layer_count(p), 2);
    assert_int_equal(layer_named(p, "sha256:35ff")->size, 56);
    assert_int_equal(p->done, 1185439);
    assert_int_equal(p->layers_done, 2);
    assert_null(strstr(whole.text.data, "&#34;"));
    reading_clear(&whole);
}

/* The same bytes HTML-escaped (text/plain) or raw (application/json) read the same. */
static void test_pull_escaped_and_raw_forms_read_the_same(void **state)
{
    (void)state;
    const char *names[] = {"dmr/pull_progress.json", "dmr/pull_error.json", "dmr/pull_cached.json",
                           "dmr/pull_truncated.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t length, escaped_length;
        char *raw = fixture_read(names[i], &length);
        char *escaped = go_escape(raw, length, &escaped_length);
        reading a, b;
        read_pull(&a, DMR_JSON, raw, length, NULL, 0);
        read_pull(&b, "text/plain", escaped, escaped_length, NULL, 0);
        assert_same_dump(&b.text, &a.text, names[i]);
        reading_clear(&a);
        reading_clear(&b);
        free(raw);
        free(escaped);
    }
    const char *texts[] = {"dmr/pull_progress.txt", "dmr/pull_error.txt"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t length, raw_length;
        char *escaped = fixture_read(texts[i], &length);
        char *raw = go_unescape(escaped, length, &raw_length);
        reading a, b;
        read_pull(&a, DMR_TEXT, escaped, length, NULL, 0);
        read_pull(&b, DMR_JSON, raw, raw_length, NULL, 0);
        assert_same_dump(&b.text, &a.text, texts[i]);
        reading_clear(&a);
        reading_clear(&b);
        free(raw);
        free(escaped);
    }
}

static void test_pull_cached_is_one_success_line(void **state)
{
    (void)state;
    reading whole;
    read_fixture_every_cut(&whole, DMR_JSON, "dmr/pull_cached.json");
    assert_int_equal(whole.end, ULM_OK);
    assert_int_equal(whole.lines, 1);
    assert_true(whole.progress.cached);
    assert_int_equal(ulm__dmr_pull_layer_count(&whole.progress), 0);
    assert_true(ulm__dmr_pull_progress_percent(&whole.progress) == 100.0);
    assert_non_null(strstr(whole.text.data, "Using cached model: 1.12MiB"));
    reading_clear(&whole);
}

#define PULL_FAILURE                                                                         \
    "error while pulling model: writing image to store: writing blob: copy blob "            \
    "\"sha256:6ad7adbd85689ebfc9bc7d0a725c208b0729d63797d3efc4ed5de4cd99d5a3ae\" to store: " \
    "unexpected EOF"

/* Status 200, two steps, an error line, then the handler's raw text, which is kept. */
static void test_pull_error_after_progress(void **state)
{
    (void)state;
    const char *names[] = {"dmr/pull_error.json", "dmr/pull_error.txt"};
    const char *types[] = {DMR_JSON, "text/plain"};
    for (int i = 0; i < 2; i++) {
        reading whole;
        read_fixture_every_cut(&whole, types[i], names[i]);
        const ulm_dmr_pull_progress *p = &whole.progress;
        assert_int_equal(whole.rc, ULM_OK);
        assert_int_equal(whole.lines, 4);
        assert_int_equal(whole.end, ULM_ESERVER);
        assert_int_equal(p->state, ULM_DMR_PULL_FAILED);
        assert_int_equal(p->error, ULM_ESERVER);
        assert_true(p->text_raw);
        assert_int_equal(p->error_text.len, strlen(PULL_FAILURE));
        assert_string_equal(p->error_text.data, PULL_FAILURE);
        assert_non_null(strstr(whole.text.data, "kind=4 code=-16 raw=0"));
        assert_non_null(strstr(whole.text.data, "kind=4 code=-16 raw=1"));
        assert_int_equal(p->progress_lines, 2);
        assert_int_equal(ulm__dmr_pull_layer_count(p), 1);
        reading_clear(&whole);
    }
}

/* pull_error.txt resumed a layer: its first line starts where the earlier pull stopped. */
static void test_pull_resumed_layer_starts_where_it_stopped(void **state)
{
    (void)state;
    size_t length;
    char *body = fixture_read("dmr/pull_error.txt", &length);
    size_t first = (size_t)((char *)memchr(body, '\n', length) - body) + 1;
    reading r;
    read_pull(&r, "text/plain", body, first, NULL, 0);
    assert_int_equal(r.progress.done, 740865);
    assert_true(ulm__dmr_pull_progress_percent(&r.progress) > 62.0);
    assert_int_equal(r.end, ULM_EPROTOCOL); /* no success line yet */
    reading_clear(&r);
    free(body);
}

static void test_pull_truncated_mid_line_is_protocol(void **state)
{
    (void)state;
    reading whole;
    read_fixture_every_cut(&whole, DMR_JSON, "dmr/pull_truncated.json");
    assert_int_equal(whole.rc, ULM_OK);
    assert_int_equal(whole.lines, 1);
    assert_int_equal(whole.end, ULM_EPROTOCOL);
    assert_int_equal(whole.progress.state, ULM_DMR_PULL_RUNNING);
    assert_non_null(strstr(whole.text.data, "cut inside a line"));
    reading_clear(&whole);
}

/* Any prefix of a complete stream ends in failure; only the whole one succeeds. */
static void test_pull_every_truncation_fails(void **state)
{
    (void)state;
    const char *names[] = {"dmr/pull_progress.json", "dmr/pull_cached.json",
                           "dmr/pull_progress.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t length;
        char *body = fixture_read(names[i], &length);
        for (size_t n = 0; n <= length; n++) {
            reading r;
            read_pull(&r, i == 2 ? "text/plain" : DMR_JSON, body, n, NULL, 0);
            int want = n == length ? ULM_OK : ULM_EPROTOCOL;
            if (r.end != want)
                fail_msg("%s cut to %zu bytes: %s", names[i], n, ulm_error_name(r.end));
            reading_clear(&r);
        }
        free(body);
    }
}

/* UTF-8 characters and HTML escapes to be cut anywhere, CR LF, empty lines, a Hugging Face
 * step without a layer, and a message that holds an escape of its own ("&lt;" as text). */
#define SYNTHETIC                                                                              \
    "{\"type\":\"progress\",\"message\":\"Fetching file list...\",\"total\":0,\"layer\":"      \
    "{\"size\":0,\"current\":0},\"mode\":\"pull\"}\r\n"                                        \
    "\r\n"                                                                                     \
    "{\"type\":\"warning\",\"message\":\"caf\xc3\xa9 \xe2\x98\x95 <b>&'\\\" &lt; "             \
    "\xf0\x9f\x99\x82\",\"total\":0,\"layer\":{\"size\":0,\"current\":0},\"mode\":\"pull\"}\n" \
    "{\"type\":\"progress\",\"message\":\"\",\"total\":1000,\"layer\":{\"id\":\"f1\","         \
    "\"size\":600,\"current\":600},\"mode\":\"pull\"}\n"                                       \
    "{\"type\":\"later\",\"message\":\"a type this reader does not know\"}\n"                  \
    "{\"type\":\"success\",\"message\":\"Model pulled successfully\",\"total\":0,"             \
    "\"layer\":{\"size\":0,\"current\":0},\"mode\":\"pull\"}\r\n"

static void test_pull_utf8_and_escapes_cut_anywhere(void **state)
{
    (void)state;
    static const char text[] = SYNTHETIC;
    size_t escaped_length;
    char *escaped = go_escape(text, sizeof text - 1, &escaped_length);
    reading raw, html;
    read_every_cut(&raw, DMR_JSON, text, sizeof text - 1, "synthetic");
    read_every_cut(&html, "", escaped, escaped_length, "synthetic escaped");
    assert_same_dump(&html.text, &raw.text, "synthetic, escaped");
    assert_int_equal(raw.lines, 5);
    assert_int_equal(raw.end, ULM_OK);
    assert_non_null(
        strstr(raw.text.data, "caf\xc3\xa9 \xe2\x98\x95 <b>&'\" &lt; \xf0\x9f\x99\x82"));
    /* the file list step is no layer; a layer already in the store leaves done below total */
    assert_int_equal(ulm__dmr_pull_layer_count(&raw.progress), 1);
    assert_non_null(strstr(raw.text.data, "done=600 total=1000 60.0000%"));
    assert_int_equal(raw.progress.total, 1000);
    assert_true(ulm__dmr_pull_progress_percent(&raw.progress) == 100.0); /* success */
    assert_false(raw.progress.cached);
    reading_clear(&raw);
    reading_clear(&html);
    free(escaped);
}

static void read_text(reading *r, const char *text)
{
    read_pull(r, DMR_JSON, text, strlen(text), NULL, 0);
}

static void test_pull_malformed_lines_are_protocol_errors(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"type\":\"progress\",\"total\":\n",     /* JSON cut short */
        "[1,2]\n",                                 /* not an object */
        "{\"message\":\"no type\"}\n",             /* no type */
        "{\"type\":7}\n",                          /* a type that is not a string */
        "<html><body>Bad Gateway</body></html>\n", /* text before any JSON line */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        reading r;
        read_text(&r, lines[i]);
        assert_int_equal(r.rc, ULM_OK);
        assert_int_equal(r.lines, 1);
        if (r.end != ULM_EPROTOCOL || r.progress.error != ULM_EPROTOCOL)
            fail_msg("\"%s\": %s", lines[i], ulm_error_name(r.end));
        reading_clear(&r);
    }
    /* numbers of the wrong kind are read as absent, not as a failure */
    reading r;
    read_text(&r, "{\"type\":\"progress\",\"total\":\"big\",\"layer\":{\"id\":\"x\",\"size\":-1,"
                  "\"current\":1.5}}\n{\"type\":\"success\"}\n");
    assert_int_equal(r.end, ULM_OK);
    assert_int_equal(r.progress.total, 0);
    assert_int_equal(ulm__dmr_pull_layer(&r.progress, 0)->current, 0);
    reading_clear(&r);
}

/* The handler's text after the stream: its class from its words, its lines kept together. */
static void test_pull_handler_text_continues_and_classifies(void **state)
{
    (void)state;
    static const char joined[] =
        "{\"type\":\"progress\",\"total\":10,\"layer\":{\"id\":\"a\",\"size\":10,\"current\":5}}\n"
        "{\"type\":\"error\",\"message\":\"Error: writing blob: a\\nwriting blob: b\"}\n"
        "error while pulling model: writing image to store: writing blob: a\n"
        "writing blob: b\n";
    reading r;
    read_text(&r, joined);
    assert_int_equal(r.end, ULM_ESERVER);
    assert_string_equal(r.progress.error_text.data,
                        "error while pulling model: writing image to store: writing blob: a\n"
                        "writing blob: b");
    reading_clear(&r);

    /* a Hugging Face pull that fails after its first step: no error line, the words alone */
    read_text(&r, "{\"type\":\"progress\",\"message\":\"Fetching file list...\",\"layer\":{}}\n"
                  "Model not found\n");
    assert_int_equal(r.end, ULM_EMODEL_NOT_FOUND);
    assert_string_equal(r.progress.error_text.data, "Model not found");
    reading_clear(&r);

    read_text(&r, "{\"type\":\"progress\",\"layer\":{}}\r\nUnauthorized\r\n");
    assert_string_equal(r.progress.error_text.data, "Unauthorized"); /* CR LF taken too */
    assert_int_equal(r.end, ULM_EMODEL_NOT_FOUND);
    reading_clear(&r);

    read_text(&r, "{\"type\":\"progress\",\"layer\":{}}\nInvalid model reference\n");
    assert_int_equal(r.end, ULM_EBAD_REQUEST);
    reading_clear(&r);

    /* an error line of its own words: not found */
    read_text(&r, "{\"type\":\"error\",\"message\":\"Error: model not found\"}\n");
    assert_int_equal(r.end, ULM_EMODEL_NOT_FOUND);
    assert_string_equal(r.progress.error_text.data, "Error: model not found");
    reading_clear(&r);

    /* a cached model whose tagging failed: success, then the handler's text */
    read_text(&r, "{\"type\":\"success\",\"message\":\"Using cached model: 1MiB\"}\n"
                  "error while pulling model: tagging model: disk full\n");
    assert_int_equal(r.end, ULM_ESERVER);
    assert_int_equal(r.progress.state, ULM_DMR_PULL_FAILED);
    reading_clear(&r);

    /* a later error line does not replace the first one's words */
    read_text(&r, "{\"type\":\"error\",\"message\":\"first\"}\n"
                  "{\"type\":\"error\",\"message\":\"second\"}\n");
    assert_string_equal(r.progress.error_text.data, "first");
    reading_clear(&r);
}

static void test_pull_stream_without_an_outcome_is_protocol(void **state)
{
    (void)state;
    reading r;
    read_text(&r, "");
    assert_int_equal(r.end, ULM_EPROTOCOL);
    reading_clear(&r);
    read_text(&r, "{\"type\":\"progress\",\"total\":10,\"layer\":{\"id\":\"a\",\"size\":10,"
                  "\"current\":10}}\n");
    assert_int_equal(r.end, ULM_EPROTOCOL);
    assert_true(ulm__dmr_pull_progress_percent(&r.progress) == 100.0); /* bytes, not success */
    reading_clear(&r);
}

/* A line of len bytes (a warning whose message pads it) and its "\n". */
static char *line_of(size_t len)
{
    static const char head[] = "{\"type\":\"warning\",\"message\":\"";
    static const char tail[] = "\"}";
    char *s = malloc(len + 2);
    assert_non_null(s);
    memcpy(s, head, sizeof head - 1);
    memset(s + sizeof head - 1, 'x', len - (sizeof head - 1) - (sizeof tail - 1));
    memcpy(s + len - (sizeof tail - 1), tail, sizeof tail - 1);
    s[len] = '\n';
    s[len + 1] = '\0';
    return s;
}

static void test_pull_line_cap(void **state)
{
    (void)state;
    char *fits = line_of(ULM_DMR_PULL_MAX_LINE);
    reading r;
    read_pull(&r, DMR_JSON, fits, ULM_DMR_PULL_MAX_LINE + 1, NULL, 0);
    assert_int_equal(r.rc, ULM_OK);
    assert_int_equal(r.lines, 1);
    reading_clear(&r);
    free(fits);

    char *over = line_of(ULM_DMR_PULL_MAX_LINE + 1);
    size_t cuts[256]; /* 4 KiB pieces up to the cap */
    for (size_t i = 0; i < 256; i++)
        cuts[i] = (i + 1) * 4096;
    read_pull(&r, DMR_JSON, over, ULM_DMR_PULL_MAX_LINE + 2, NULL, 0);
    assert_int_equal(r.rc, ULM_ETOO_LARGE);
    assert_int_equal(r.end, ULM_ETOO_LARGE);
    assert_non_null(strstr(r.text.data, "longer than 1 MiB"));
    reading_clear(&r);
    read_pull(&r, DMR_JSON, over, ULM_DMR_PULL_MAX_LINE + 2, cuts, 256);
    assert_int_equal(r.rc, ULM_ETOO_LARGE);
    reading_clear(&r);
    /* the line never ends: refused once past the cap, not buffered further */
    read_pull(&r, DMR_JSON, over, ULM_DMR_PULL_MAX_LINE + 1, cuts, 256);
    assert_int_equal(r.rc, ULM_ETOO_LARGE);
    reading_clear(&r);
    free(over);

    /* a failed reader stays failed */
    ulm_dmr_pull_reader reader;
    ulm__dmr_pull_reader_init(&reader, DMR_JSON);
    char *big = line_of(ULM_DMR_PULL_MAX_LINE + 1);
    size_t used;
    ulm_dmr_pull_line line;
    assert_int_equal(ulm__dmr_pull_read(&reader, big, ULM_DMR_PULL_MAX_LINE + 2, &used, &line),
                     ULM_ETOO_LARGE);
    assert_int_equal(ulm__dmr_pull_read(&reader, "{}\n", 3, &used, &line), ULM_ETOO_LARGE);
    assert_int_equal(used, 0);
    ulm__dmr_pull_reader_clear(&reader);
    free(big);
}

/* Reads each recorded stream with every allocation failing in turn: ULM_ENOMEM, or the clean
 * reading once no allocation fails. */
static void test_pull_under_allocation_failures(void **state)
{
    (void)state;
    const char *names[] = {"dmr/pull_error.json", "dmr/pull_progress.txt"};
    const char *types[] = {DMR_JSON, "text/plain"};
    for (int i = 0; i < 2; i++) {
        size_t length;
        char *body = fixture_read(names[i], &length);
        reading clean;
        read_pull(&clean, types[i], body, length, NULL, 0);
        int rc = ULM_ENOMEM;
        long n;
        for (n = 1; rc == ULM_ENOMEM; n++) {
            reading r;
            ulm__test_fail_alloc_after(n);
            read_pull(&r, types[i], body, length, NULL, 0);
            ulm__test_fail_alloc_after(0);
            rc = r.rc;
            if (rc == ULM_OK)
                assert_same_dump(&r.text, &clean.text, names[i]);
            else if (rc != ULM_ENOMEM)
                fail_msg("%s with allocation %ld failing: %s", names[i], n, ulm_error_name(rc));
            reading_clear(&r);
        }
        assert_true(n > 3);
        reading_clear(&clean);
        free(body);
    }
}

/* ------------------------------------------------------------------ answers */

/* What any parser fills. */
typedef union parsed {
    ulm_dmr_model_list models;
    ulm_dmr_model model;
    ulm_dmr_openai_model_list openai;
    ulm_dmr_runner_list runners;
    long unloaded;
    ulm_dmr_removal_list removals;
    char *version;
    ulm_dmr_disk_usage disk;
    ulm_dmr_backend_list backends;
} parsed;

/* The parser of call over status and body; bytes of *out it fills in *size. */
static int parse_call(ulm_dmr_call call, parsed *out, ulm_dmr_error *error, int status,
                      const char *body, size_t length, size_t *size)
{
    switch (call) {
    case ULM_DMR_MODELS:
        *size = sizeof out->models;
        return ulm__dmr_parse_models(&out->models, error, status, body, length);
    case ULM_DMR_MODEL:
        *size = sizeof out->model;
        return ulm__dmr_parse_model(&out->model, error, status, body, length);
    case ULM_DMR_OPENAI_MODELS:
        *size = sizeof out->openai;
        return ulm__dmr_parse_openai_models(&out->openai, error, status, body, length);
    case ULM_DMR_PS:
        *size = sizeof out->runners;
        return ulm__dmr_parse_ps(&out->runners, error, status, body, length);
    case ULM_DMR_UNLOAD:
        *size = sizeof out->unloaded;
        return ulm__dmr_parse_unload(&out->unloaded, error, status, body, length);
    case ULM_DMR_REMOVE:
        *size = sizeof out->removals;
        return ulm__dmr_parse_remove(&out->removals, error, status, body, length);
    case ULM_DMR_VERSION:
        *size = sizeof out->version;
        return ulm__dmr_parse_version(&out->version, error, status, body, length);
    case ULM_DMR_DISK_USAGE:
        *size = sizeof out->disk;
        return ulm__dmr_parse_disk_usage(&out->disk, error, status, body, length);
    case ULM_DMR_STATUS:
        *size = sizeof out->backends;
        return ulm__dmr_parse_status(&out->backends, error, status, body, length);
    case ULM_DMR_BANNER:
        *size = 0;
        return ulm__dmr_parse_banner(error, status, body, length);
    case ULM_DMR_CONFIGURE:
    case ULM_DMR_PRELOAD:
        *size = 0;
        return ulm__dmr_parse_done(error, call, status, body, length);
    default:
        *size = 0;
        memset(error, 0, sizeof *error);
        return ulm__dmr_error_of(error, call, status, body, length);
    }
}

static void parsed_clear(ulm_dmr_call call, parsed *out)
{
    switch (call) {
    case ULM_DMR_MODELS:
        ulm__dmr_model_list_clear(&out->models);
        break;
    case ULM_DMR_MODEL:
        ulm__dmr_model_clear(&out->model);
        break;
    case ULM_DMR_OPENAI_MODELS:
        ulm__dmr_openai_model_list_clear(&out->openai);
        break;
    case ULM_DMR_PS:
        ulm__dmr_runner_list_clear(&out->runners);
        break;
    case ULM_DMR_REMOVE:
        ulm__dmr_removal_list_clear(&out->removals);
        break;
    case ULM_DMR_VERSION:
        free(out->version);
        break;
    case ULM_DMR_STATUS:
        ulm__dmr_backend_list_clear(&out->backends);
        break;
    default:
        break;
    }
}

/* Parses body for call; a failure must leave *out empty (all zero: nothing to free). */
static int parse_into(ulm_dmr_call call, parsed *out, ulm_dmr_error *error, int status,
                      const char *body, size_t length)
{
    size_t size;
    memset(out, 0xa5, sizeof *out);
    int rc = parse_call(call, out, error, status, body, length, &size);
    if (rc != ULM_OK) {
        assert_int_equal(error->code, rc);
        for (size_t i = 0; i < size; i++)
            if (((unsigned char *)out)[i] != 0)
                fail_msg("call %d failed with %s but left its output filled", (int)call,
                         ulm_error_name(rc));
    }
    return rc;
}

static int parse_file(ulm_dmr_call call, parsed *out, int status, const char *name)
{
    size_t length;
    char *body = fixture_read(name, &length);
    ulm_dmr_error error;
    int rc = parse_into(call, out, &error, status, body, length);
    free(body);
    return rc;
}

static void test_models_every_field(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_MODELS, &p, 200, "dmr/native_models.json"), ULM_OK);
    assert_int_equal(p.models.count, 1);
    const ulm_dmr_model *m = &p.models.items[0];
    assert_string_equal(m->id, MODEL_ID);
    assert_int_equal(m->tag_count, 2);
    assert_string_equal(m->tags[0], "ai/stories260k:latest");
    assert_string_equal(m->tags[1], "ai/storyteller:v2");
    assert_int_equal(m->created, 1796215121);
    assert_string_equal(m->format, "gguf");
    assert_string_equal(m->quantization, "MOSTLY_F32");
    assert_string_equal(m->parameters, "292.80K");
    assert_string_equal(m->architecture, "llama");
    assert_string_equal(m->size, "1.12MiB");
    assert_int_equal(m->context_size, 2048);
    /* any tag, the name it normalizes from, the whole, bare or short ID */
    const char *names[] = {"ai/storyteller:v2",     "storyteller:v2", "stories260k",
                           "AI/Stories260K:latest", MODEL_ID,         MODEL_ID + 7,
                           "bebe4644d805"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ulm__dmr_models_find(&p.models, names[i]) != m)
            fail_msg("%s not found", names[i]);
    assert_null(ulm__dmr_models_find(&p.models, "ai/storyteller"));
    assert_null(ulm__dmr_models_find(&p.models, "bebe4644d806"));
    assert_null(ulm__dmr_models_find(&p.models, NULL));
    parsed_clear(ULM_DMR_MODELS, &p);
}

static void test_model_one_and_fields_absent(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_MODEL, &p, 200, "dmr/native_model.json"), ULM_OK);
    assert_string_equal(p.model.id, MODEL_ID);
    assert_int_equal(p.model.tag_count, 2);
    assert_int_equal(p.model.context_size, 2048);
    parsed_clear(ULM_DMR_MODEL, &p);

    static const char bare[] = "{\"id\":\"sha256:1\",\"created\":0,\"config\":{}}\n";
    ulm_dmr_error error;
    assert_int_equal(parse_into(ULM_DMR_MODEL, &p, &error, 200, bare, sizeof bare - 1), ULM_OK);
    assert_int_equal(p.model.tag_count, 0);
    assert_null(p.model.tags);
    assert_int_equal(p.model.created, 0);
    assert_null(p.model.format);
    assert_null(p.model.size);
    assert_int_equal(p.model.context_size, -1);
    parsed_clear(ULM_DMR_MODEL, &p);

    static const char none[] = "{}";
    assert_int_equal(parse_into(ULM_DMR_MODEL, &p, &error, 200, none, 2), ULM_OK);
    assert_null(p.model.id);
    assert_int_equal(p.model.created, -1);
    parsed_clear(ULM_DMR_MODEL, &p);
}

static void test_empty_lists(void **state)
{
    (void)state;
    const ulm_dmr_call calls[] = {ULM_DMR_MODELS, ULM_DMR_PS, ULM_DMR_REMOVE};
    const char *bodies[] = {"[]\n", "null\n"};
    for (size_t i = 0; i < 3; i++)
        for (size_t b = 0; b < 2; b++) {
            parsed p;
            ulm_dmr_error error;
            assert_int_equal(parse_into(calls[i], &p, &error, 200, bodies[b], strlen(bodies[b])),
                             ULM_OK);
            assert_int_equal(p.models.count, 0); /* every list starts items, count */
            assert_null(p.models.items);
            parsed_clear(calls[i], &p);
        }
}

static void test_openai_models_context_window(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_OPENAI_MODELS, &p, 200, "dmr/openai_models_dmr.json"),
                     ULM_OK);
    assert_int_equal(p.openai.count, 1);
    const ulm_dmr_openai_model *m = &p.openai.items[0];
    assert_string_equal(m->id, "ai/stories260k:latest");
    assert_int_equal(m->created, 1796215121);
    assert_int_equal(m->context_window, 2048);
    assert_string_equal(m->architecture, "llama");
    assert_string_equal(m->parameters, "292.80K");
    assert_string_equal(m->quantization, "MOSTLY_F32");
    assert_string_equal(m->size, "1.12MiB");
    assert_int_equal(ulm__dmr_context_window(&p.openai, "stories260k"), 2048);
    assert_int_equal(ulm__dmr_context_window(&p.openai, "ai/stories260k:latest"), 2048);
    /* the model's second tag is not listed there: GET /models answers for it */
    assert_int_equal(ulm__dmr_context_window(&p.openai, "ai/storyteller:v2"), -1);
    parsed_clear(ULM_DMR_OPENAI_MODELS, &p);

    /* an older runner: no dmr object */
    assert_int_equal(parse_file(ULM_DMR_OPENAI_MODELS, &p, 200, "dmr/models.json"), ULM_OK);
    assert_int_equal(p.openai.count, 2);
    assert_string_equal(p.openai.items[1].id, "ai/llama3.2:1B-Q8_0");
    assert_int_equal(p.openai.items[1].context_window, -1);
    assert_null(p.openai.items[1].quantization);
    assert_int_equal(ulm__dmr_context_window(&p.openai, "smollm2"), -1);
    parsed_clear(ULM_DMR_OPENAI_MODELS, &p);
}

static void test_ps_idle_in_use_loading_keep_alive(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_PS, &p, 200, "dmr/ps_idle.json"), ULM_OK);
    assert_int_equal(p.runners.count, 1);
    const ulm_dmr_runner *r = &p.runners.items[0];
    assert_string_equal(r->backend, "llama.cpp");
    assert_string_equal(r->model, "storyteller:v2"); /* as the request wrote it */
    assert_string_equal(r->mode, "completion");
    assert_string_equal(r->last_used, "2026-12-02T13:55:38.638Z");
    assert_false(r->last_used_zero);
    assert_false(r->in_use);
    assert_false(r->loading);
    assert_null(r->keep_alive);
    assert_ptr_equal(ulm__dmr_runners_find(&p.runners, "ai/storyteller:v2", NULL), r);
    assert_ptr_equal(ulm__dmr_runners_find(&p.runners, "storyteller:v2", "completion"), r);
    assert_null(ulm__dmr_runners_find(&p.runners, "storyteller:v2", "embedding"));
    assert_null(ulm__dmr_runners_find(&p.runners, "ai/stories260k", NULL));
    parsed_clear(ULM_DMR_PS, &p);

    assert_int_equal(parse_file(ULM_DMR_PS, &p, 200, "dmr/ps_in_use.json"), ULM_OK);
    r = &p.runners.items[0];
    assert_true(r->in_use);
    assert_true(r->last_used_zero);
    assert_false(r->loading);
    parsed_clear(ULM_DMR_PS, &p);

    assert_int_equal(parse_file(ULM_DMR_PS, &p, 200, "dmr/ps_loading.json"), ULM_OK);
    r = &p.runners.items[0];
    assert_true(r->loading);
    assert_true(r->last_used_zero);
    assert_false(r->in_use);
    assert_string_equal(r->model, "ai/slow");
    parsed_clear(ULM_DMR_PS, &p);

    assert_int_equal(parse_file(ULM_DMR_PS, &p, 200, "dmr/ps_keep_alive.json"), ULM_OK);
    r = &p.runners.items[0];
    assert_string_equal(r->keep_alive, "10m0s");
    assert_false(r->last_used_zero);
    parsed_clear(ULM_DMR_PS, &p);

    static const char sparse[] = "[{}]";
    ulm_dmr_error error;
    assert_int_equal(parse_into(ULM_DMR_PS, &p, &error, 200, sparse, 4), ULM_OK);
    assert_string_equal(p.runners.items[0].model, "");
    assert_string_equal(p.runners.items[0].last_used, "");
    parsed_clear(ULM_DMR_PS, &p);
}

static void test_unload_remove_df_status_version_banner(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_UNLOAD, &p, 200, "dmr/unload.json"), ULM_OK);
    assert_int_equal(p.unloaded, 1);

    assert_int_equal(parse_file(ULM_DMR_REMOVE, &p, 200, "dmr/delete.json"), ULM_OK);
    assert_int_equal(p.removals.count, 2);
    assert_false(p.removals.items[0].deleted);
    assert_string_equal(p.removals.items[0].ref, "ai/tiny-a:latest");
    assert_true(p.removals.items[1].deleted);
    assert_string_equal(p.removals.items[1].ref,
                        "sha256:632720e06f4ffe74218325c0ece78bb51285b0664c92840bdfc6ff485f44aa36");
    parsed_clear(ULM_DMR_REMOVE, &p);

    assert_int_equal(parse_file(ULM_DMR_DISK_USAGE, &p, 200, "dmr/engines_df.json"), ULM_OK);
    assert_int_equal(p.disk.models, 8899818);
    assert_int_equal(p.disk.default_backend, 29580529);

    assert_int_equal(parse_file(ULM_DMR_STATUS, &p, 200, "dmr/engines_status.json"), ULM_OK);
    assert_int_equal(p.backends.count, 3);
    assert_string_equal(p.backends.items[0].name, "llama.cpp");
    assert_string_equal(p.backends.items[0].state, "Running: llama.cpp v0.4.0");
    assert_string_equal(p.backends.items[2].name, "vllm");
    assert_string_equal(p.backends.items[2].state, "Not Installed");
    parsed_clear(ULM_DMR_STATUS, &p);

    ulm_dmr_error error;
    static const char version[] = "{\"version\":\"emulator-1.1.0\"}\n";
    assert_int_equal(parse_into(ULM_DMR_VERSION, &p, &error, 200, version, sizeof version - 1),
                     ULM_OK);
    assert_string_equal(p.version, "emulator-1.1.0");
    parsed_clear(ULM_DMR_VERSION, &p);

    static const char banner[] = "Docker Model Runner is running";
    assert_int_equal(parse_into(ULM_DMR_BANNER, &p, &error, 200, banner, sizeof banner - 1),
                     ULM_OK);
    assert_int_equal(parse_into(ULM_DMR_BANNER, &p, &error, 200, "Docker Model Runner is running\n",
                                31),
                     ULM_OK);
    assert_int_equal(parse_into(ULM_DMR_BANNER, &p, &error, 200, "Ollama is running", 17),
                     ULM_EPROTOCOL);
    assert_int_equal(parse_into(ULM_DMR_BANNER, &p, &error, 200, "", 0), ULM_EPROTOCOL);
    assert_int_equal(parse_into(ULM_DMR_BANNER, &p, &error, 404, "404 page not found\n", 19),
                     ULM_EUNSUPPORTED);
}

static void test_configure_202_and_preload_200_are_done(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse_file(ULM_DMR_CONFIGURE, &p, 202, "dmr/configure_202.txt"), ULM_OK);
    ulm_dmr_error error;
    assert_int_equal(parse_into(ULM_DMR_PRELOAD, &p, &error, 200, "", 0), ULM_OK);
    assert_int_equal(error.code, ULM_OK);
    assert_null(error.text);
}

/* Each recorded error body through the parser of the call it answered. */
static void test_error_bodies_to_classes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        ulm_dmr_call call;
        int status;
        int code;
    } cases[] = {
        {"dmr/error_400_configure_invalid.txt", ULM_DMR_CONFIGURE, 400, ULM_EBAD_REQUEST},
        {"dmr/error_400_model_required.txt", ULM_DMR_PRELOAD, 400, ULM_EBAD_REQUEST},
        {"dmr/error_400_pull_invalid_body.txt", ULM_DMR_PULL, 400, ULM_EBAD_REQUEST},
        {"dmr/error_400_pull_invalid_reference.txt", ULM_DMR_PULL, 400, ULM_EBAD_REQUEST},
        {"dmr/error_400_request_too_large.txt", ULM_DMR_UNLOAD, 400, ULM_EBAD_REQUEST},
        {"dmr/error_400_unload_invalid.txt", ULM_DMR_UNLOAD, 400, ULM_EBAD_REQUEST},
        {"dmr/error_401_pull_unknown_repository.txt", ULM_DMR_PULL, 401, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_backend_not_found.txt", ULM_DMR_CONFIGURE, 404, ULM_EUNSUPPORTED},
        {"dmr/error_404_delete.txt", ULM_DMR_REMOVE, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_inference_model_not_found.txt", ULM_DMR_PRELOAD, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_model_not_found.txt", ULM_DMR_MODEL, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_native_model.txt", ULM_DMR_MODEL, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_openai_model.txt", ULM_DMR_OPENAI_MODELS, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_404_pull_model_not_found.txt", ULM_DMR_PULL, 404, ULM_EMODEL_NOT_FOUND},
        {"dmr/error_409_configure_runner_active.txt", ULM_DMR_CONFIGURE, 409, ULM_EBUSY},
        {"dmr/error_409_delete_multiple_tags.txt", ULM_DMR_REMOVE, 409, ULM_EBAD_REQUEST},
        {"dmr/error_412_backend_not_installed.txt", ULM_DMR_PRELOAD, 412, ULM_EMODEL_LOAD},
        {"dmr/error_500_configure_runtime_flag.txt", ULM_DMR_CONFIGURE, 500, ULM_ESERVER},
        {"dmr/error_500_load_gpu_memory.txt", ULM_DMR_PRELOAD, 500, ULM_EMODEL_LOAD},
        {"dmr/error_503_service_unavailable.txt", ULM_DMR_PRELOAD, 503, ULM_EUNAVAILABLE},
        {"dmr/error_503_loading_model.json", ULM_DMR_PRELOAD, 503, ULM_EMODEL_LOADING},
        {"dmr/error_500_runner_crash.json", ULM_DMR_INFERENCE, 500, ULM_ESERVER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length;
        char *body = fixture_read(cases[i].name, &length);
        parsed p;
        ulm_dmr_error error;
        int rc = parse_into(cases[i].call, &p, &error, cases[i].status, body, length);
        if (rc != cases[i].code)
            fail_msg("%s: %s, wanted %s", cases[i].name, ulm_error_name(rc),
                     ulm_error_name(cases[i].code));
        /* the backend's words, without Go's line end */
        size_t words = length && body[length - 1] == '\n' ? length - 1 : length;
        assert_ptr_equal(error.text, body);
        assert_int_equal(error.length, words);
        free(body);
    }
}

static void test_other_statuses_to_classes(void **state)
{
    (void)state;
    static const struct {
        ulm_dmr_call call;
        int status;
        const char *body;
        int code;
    } cases[] = {
        {ULM_DMR_PS, 404, "not found\n", ULM_EUNSUPPORTED},                  /* an older runner */
        {ULM_DMR_DISK_USAGE, 404, "404 page not found\n", ULM_EUNSUPPORTED}, /* not DMR */
        {ULM_DMR_UNLOAD, 405, "Method Not Allowed\n", ULM_EUNSUPPORTED},
        {ULM_DMR_MODEL, 404, "", ULM_EMODEL_NOT_FOUND},
        {ULM_DMR_UNLOAD, 401, "", ULM_EAUTH}, /* a proxy's, not Docker Hub's */
        {ULM_DMR_MODELS, 500, "boom\n", ULM_ESERVER},
        {ULM_DMR_PULL, 422, "unsupported model config type\n", ULM_EBAD_REQUEST},
        {ULM_DMR_PULL, 502, "", ULM_ESERVER},
        {ULM_DMR_STATUS, 302, "", ULM_EPROTOCOL},
        {ULM_DMR_INFERENCE, 404, "backend not found\n", ULM_EUNSUPPORTED},
        {ULM_DMR_INFERENCE, 405, "", ULM_EBAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        ulm_dmr_error error;
        int rc = parse_into(cases[i].call, &p, &error, cases[i].status, cases[i].body,
                            strlen(cases[i].body));
        if (rc != cases[i].code)
            fail_msg("call %d status %d: %s, wanted %s", (int)cases[i].call, cases[i].status,
                     ulm_error_name(rc), ulm_error_name(cases[i].code));
    }
    ulm_dmr_error error;
    assert_int_equal(ulm__dmr_error_of(&error, ULM_DMR_PULL, 502, "", 0), ULM_ESERVER);
    assert_non_null(error.text);
    assert_non_null(strstr(error.text, "empty answer"));
    assert_int_equal(ulm__dmr_error_of(&error, ULM_DMR_MODEL, 404, "", 0), ULM_EMODEL_NOT_FOUND);
    assert_null(error.text);
}

/* A 2xx whose body is not what DMR sends: ULM_EPROTOCOL, the output left empty. */
static void test_malformed_answers_are_protocol(void **state)
{
    (void)state;
    static const struct {
        ulm_dmr_call call;
        const char *body;
    } cases[] = {
        {ULM_DMR_MODELS, "["},
        {ULM_DMR_MODELS, "{}"},
        {ULM_DMR_MODELS, "[{\"id\":\"a\"},7]"},
        {ULM_DMR_MODELS, "Docker Model Runner is running"},
        {ULM_DMR_MODEL, "[]"},
        {ULM_DMR_MODEL, ""},
        {ULM_DMR_OPENAI_MODELS, "[]"},
        {ULM_DMR_OPENAI_MODELS, "{\"object\":\"list\"}"},
        {ULM_DMR_OPENAI_MODELS, "{\"data\":{}}"},
        {ULM_DMR_OPENAI_MODELS, "{\"data\":[\"x\"]}"},
        {ULM_DMR_PS, "{\"backend_name\":\"llama.cpp\"}"},
        {ULM_DMR_PS, "[[]]"},
        {ULM_DMR_UNLOAD, "{}"},
        {ULM_DMR_UNLOAD, "{\"unloaded_runners\":-1}"},
        {ULM_DMR_UNLOAD, "{\"unloaded_runners\":\"1\"}"},
        {ULM_DMR_REMOVE, "[{\"Other\":\"x\"}]"},
        {ULM_DMR_REMOVE, "[{\"Untagged\":1}]"},
        {ULM_DMR_VERSION, "{}"},
        {ULM_DMR_VERSION, "\"1.0\""},
        {ULM_DMR_DISK_USAGE, "{\"models_disk_usage\":1}"},
        {ULM_DMR_STATUS, "{\"llama.cpp\":1}"},
        {ULM_DMR_STATUS, "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        ulm_dmr_error error;
        int rc = parse_into(cases[i].call, &p, &error, 200, cases[i].body, strlen(cases[i].body));
        if (rc != ULM_EPROTOCOL)
            fail_msg("call %d, %s: %s", (int)cases[i].call, cases[i].body, ulm_error_name(rc));
        assert_non_null(error.text);
    }
}

/* Every parser over its recorded answer with every allocation failing in turn. */
static void test_parsers_under_allocation_failures(void **state)
{
    (void)state;
    static const struct {
        ulm_dmr_call call;
        const char *name;
    } cases[] = {
        {ULM_DMR_MODELS, "dmr/native_models.json"},
        {ULM_DMR_MODEL, "dmr/native_model.json"},
        {ULM_DMR_OPENAI_MODELS, "dmr/openai_models_dmr.json"},
        {ULM_DMR_PS, "dmr/ps_keep_alive.json"},
        {ULM_DMR_REMOVE, "dmr/delete.json"},
        {ULM_DMR_STATUS, "dmr/engines_status.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length;
        char *body = fixture_read(cases[i].name, &length);
        int rc = ULM_ENOMEM;
        long n;
        for (n = 1; rc == ULM_ENOMEM; n++) {
            parsed p;
            ulm_dmr_error error;
            ulm__test_fail_alloc_after(n);
            rc = parse_into(cases[i].call, &p, &error, 200, body, length);
            ulm__test_fail_alloc_after(0);
            if (rc != ULM_OK && rc != ULM_ENOMEM)
                fail_msg("%s with allocation %ld failing: %s", cases[i].name, n,
                         ulm_error_name(rc));
            if (rc == ULM_OK)
                parsed_clear(cases[i].call, &p);
        }
        assert_true(n > 2);
        free(body);
    }
    static const char version[] = "{\"version\":\"1\"}";
    parsed p;
    ulm_dmr_error error;
    ulm__test_fail_alloc_after(1);
    int rc = parse_into(ULM_DMR_VERSION, &p, &error, 200, version, sizeof version - 1);
    ulm__test_fail_alloc_after(0);
    assert_int_equal(rc, ULM_ENOMEM);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_of_every_spelling_of_the_openai_root),
        cmocka_unit_test(test_reference_normalizes_names_and_keeps_ids),
        cmocka_unit_test(test_same_model_compares_normalized_names),
        cmocka_unit_test(test_get_endpoints),
        cmocka_unit_test(test_model_path_carries_the_reference),
        cmocka_unit_test(test_remove_is_delete_with_force_when_asked),
        cmocka_unit_test(test_pull_posts_the_name_as_written_and_asks_for_raw_json),
        cmocka_unit_test(test_unload_all_or_the_models_named),
        cmocka_unit_test(test_configure_sends_what_is_set),
        cmocka_unit_test(test_configure_checks_keep_alive_mode_and_context_size),
        cmocka_unit_test(test_preload_is_an_inference_request_marked_preload_only),
        cmocka_unit_test(test_builders_under_allocation_failures),
        cmocka_unit_test(test_pull_progress_json_two_layers_every_cut),
        cmocka_unit_test(test_pull_progress_text_plain_every_cut),
        cmocka_unit_test(test_pull_escaped_and_raw_forms_read_the_same),
        cmocka_unit_test(test_pull_cached_is_one_success_line),
        cmocka_unit_test(test_pull_error_after_progress),
        cmocka_unit_test(test_pull_resumed_layer_starts_where_it_stopped),
        cmocka_unit_test(test_pull_truncated_mid_line_is_protocol),
        cmocka_unit_test(test_pull_every_truncation_fails),
        cmocka_unit_test(test_pull_utf8_and_escapes_cut_anywhere),
        cmocka_unit_test(test_pull_malformed_lines_are_protocol_errors),
        cmocka_unit_test(test_pull_handler_text_continues_and_classifies),
        cmocka_unit_test(test_pull_stream_without_an_outcome_is_protocol),
        cmocka_unit_test(test_pull_line_cap),
        cmocka_unit_test(test_pull_under_allocation_failures),
        cmocka_unit_test(test_models_every_field),
        cmocka_unit_test(test_model_one_and_fields_absent),
        cmocka_unit_test(test_empty_lists),
        cmocka_unit_test(test_openai_models_context_window),
        cmocka_unit_test(test_ps_idle_in_use_loading_keep_alive),
        cmocka_unit_test(test_unload_remove_df_status_version_banner),
        cmocka_unit_test(test_configure_202_and_preload_200_are_done),
        cmocka_unit_test(test_error_bodies_to_classes),
        cmocka_unit_test(test_other_statuses_to_classes),
        cmocka_unit_test(test_malformed_answers_are_protocol),
        cmocka_unit_test(test_parsers_under_allocation_failures),
    };
    return cmocka_run_group_tests_name("dmr_manage", tests, NULL, NULL);
}
