/* url_local.c - whether a URL names this machine or a private network: a local server, no key needed. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "url_local.h"

static int private_ipv4(const char *host)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return 0;
    unsigned char *b = (unsigned char *)&a.s_addr;
    return b[0] == 127 || b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) ||
           (b[0] == 192 && b[1] == 168);
}

static int private_ipv6(const char *host)
{
    char bare[64];
    size_t n = strlen(host);
    if (n < 2 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof bare)
        return 0;
    memcpy(bare, host + 1, n - 2);
    bare[n - 2] = '\0';
    struct in6_addr a;
    if (inet_pton(AF_INET6, bare, &a) != 1)
        return 0;
    static const unsigned char loopback[16] = {[15] = 1};
    return memcmp(a.s6_addr, loopback, 16) == 0 || (a.s6_addr[0] & 0xFE) == 0xFC;
}

static int local_name(const char *host)
{
    static const char *const names[] = {"localhost", "host.docker.internal",
                                        "model-runner.docker.internal"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(host, names[i]) == 0)
            return 1;
    size_t n = strlen(host);
    return n > 6 && strcasecmp(host + n - 6, ".local") == 0;
}

int ulm__url_is_local(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    int local = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        local = local_name(host) || private_ipv4(host) || private_ipv6(host);
    curl_free(host);
    curl_url_cleanup(u);
    return local;
}
