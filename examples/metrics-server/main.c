/* main.c - ulm-metrics-server: a client making calls while libmicrohttpd serves its metrics on /metrics for Prometheus. */
#define _POSIX_C_SOURCE 200809L /* sigaction, nanosleep */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <ultrallm/ultrallm.h>

static const char usage[] =
    "usage: ulm-metrics-server [--port N] [--calls N] [--interval-ms MS] [--model MODEL]\n"
    "                          [--prompt TEXT]\n"
    "Serves the metrics of a libultrallm client on http://127.0.0.1:PORT/metrics\n"
    "(Prometheus text: the library's ulm_* series, and ulm_dmr_* for the local Docker\n"
    "Model Runner), and makes --calls calls (default 0) to MODEL (default: the client's\n"
    "default model), one every --interval-ms (default 1000), then keeps serving until\n"
    "SIGINT or SIGTERM. --port 0 (the default 9464 otherwise) takes a free port. The client\n"
    "is configured as the ultra-llm program's is: ULM_CONFIG, MODEL_RUNNER_URL, the keys.\n"
    "ULM_LOG=info (or debug, warn, error) prints the library's diagnostics on stderr as\n"
    "JSON lines.\n"
    "On stdout: \"listening on http://127.0.0.1:PORT\" once serving, and \"calls done: N\n"
    "answered, M failed\" after the last call.\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* ---------------------------------------------------------------- the diagnostics */

static void log_json(const ulm_log_event *event, void *payload)
{
    (void)payload;
    char line[ULM_LOG_JSON_SIZE];
    ulm_log_event_json(event, line, sizeof line);
    fputs(line, stderr);
}

static int log_level_from_env(void)
{
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};
    const char *v = getenv("ULM_LOG");
    for (int i = 0; v && i <= ULM_LOG_DEBUG; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    return ULM_LOG_NONE;
}

/* ---------------------------------------------------------------- serving /metrics */

/*
 * The client's metrics and the local runner's, in one malloc'd text. Each part is asked
 * with a buffer grown until it fits: the numbers may grow between two asks.
 */
static char *scrape(ulm_client *client, size_t *out_length)
{
    size_t size = 64 * 1024;
    char *text = malloc(size);
    size_t length;
    while (text &&
           (length = ulm_client_metrics(client, ULM_METRICS_PROMETHEUS, text, size)) >= size) {
        size = length + length / 4 + 1;
        free(text);
        text = malloc(size);
    }
    if (!text)
        return NULL;
    /* the runner's part after it; a backend switched off (ULM_ENOT_CONFIGURED) has none */
    for (;;) {
        size_t room = size - length, runner = 0;
        ulm_dmr_metrics(client, NULL, text + length, room, &runner, NULL, 0);
        if (runner < room) {
            length += runner;
            break;
        }
        size = length + runner + runner / 4 + 1;
        char *bigger = realloc(text, size);
        if (!bigger) {
            free(text);
            return NULL;
        }
        text = bigger;
    }
    *out_length = length;
    return text;
}

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned int status,
                             const char *content_type, char *body, size_t length,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(length, body, mode);
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_state)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_state;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "only GET and HEAD\n";
    ulm_client *client = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                     not_allowed, strlen(not_allowed), MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(connection, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
                     strlen(not_found), MHD_RESPMEM_PERSISTENT);
    size_t length = 0;
    char *text = scrape(client, &length);
    if (!text)
        return MHD_NO; /* out of memory: the connection is closed */
    return reply(connection, MHD_HTTP_OK, ULM_METRICS_PROMETHEUS_CONTENT_TYPE, text, length,
                 MHD_RESPMEM_MUST_FREE);
}

/* ---------------------------------------------------------------- making calls */

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (!stopping && nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* Makes calls on this thread, one every interval_ms, until done or stopped. */
static void make_calls(ulm_client *client, long calls, long interval_ms, const char *model,
                       const char *prompt)
{
    long answered = 0, failed = 0;
    for (long i = 0; i < calls && !stopping; i++) {
        if (i)
            sleep_ms(interval_ms);
        ulm_request *req = NULL;
        ulm_response *resp = NULL;
        int rc = ulm_request_new(&req);
        if (rc == ULM_OK)
            rc = ulm_request_add_model(req, model ? model : ulm_client_default_model(client));
        if (rc == ULM_OK)
            rc = ulm_request_add_message(req, ULM_ROLE_USER, prompt);
        if (rc == ULM_OK)
            rc = ulm_request_set_max_tokens(req, 32);
        if (rc == ULM_OK)
            rc = ulm_complete(&resp, client, req);
        if (rc == ULM_OK)
            answered++;
        else
            failed++;
        ulm_response_free(resp);
        ulm_request_free(req);
    }
    printf("calls done: %ld answered, %ld failed\n", answered, failed);
    fflush(stdout);
}

/* ---------------------------------------------------------------- main */

static int number_arg(const char *name, const char *value, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || *end || end == value || v < min || v > max) {
        fprintf(stderr, "ulm-metrics-server: %s: expected a whole number from %ld to %ld\n", name,
                min, max);
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    long port = 9464, calls = 0, interval_ms = 1000;
    const char *model = NULL, *prompt = "Once upon a time";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(arg, "--port") == 0) {
            ok = number_arg(arg, value, 0, 65535, &port);
        } else if (strcmp(arg, "--calls") == 0) {
            ok = number_arg(arg, value, 0, 1000000, &calls);
        } else if (strcmp(arg, "--interval-ms") == 0) {
            ok = number_arg(arg, value, 0, 86400000, &interval_ms);
        } else if (strcmp(arg, "--model") == 0 && value) {
            model = value;
        } else if (strcmp(arg, "--prompt") == 0 && value) {
            prompt = value;
        } else {
            fputs(usage, stderr);
            return 2;
        }
        if (!ok)
            return 2;
        i++;
    }

    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.log_level = log_level_from_env();
    opts.log_event_fn = opts.log_level ? log_json : NULL;
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ulm-metrics-server: configuration error: %s\n", err);
        return 1;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* loopback only: metrics say which models and backends a host uses */
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                                                 0, NULL, NULL, on_request, client,
                                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                                 MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "ulm-metrics-server: cannot listen on 127.0.0.1:%ld\n", port);
        ulm_client_free(client);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://127.0.0.1:%u\n", info ? (unsigned int)info->port : 0u);
    fflush(stdout);

    make_calls(client, calls, interval_ms, model, prompt);
    while (!stopping)
        sleep_ms(200);
    MHD_stop_daemon(daemon); /* no request is served after this: the client can go */
    ulm_client_free(client);
    return 0;
}
