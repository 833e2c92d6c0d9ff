/* loopback_only.c - preloaded into the tests: a connection or name lookup that would leave 127.0.0.0/8 ends the test. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The project's tests may talk only to loopback: not a connection attempt, not a DNS query
 * elsewhere, even one a feature would make (Docker Model Runner's in-container candidates,
 * a cloud backend's default URL). A test that tries is a broken test, so this does not
 * refuse politely: it names what was tried and aborts, and the test fails whatever it
 * would have concluded from the refusal. ctest preloads it (LD_PRELOAD) into the unit and
 * integration tests, and so into every program those start.
 */

static void forbidden(const char *what)
{
    char line[512];
    int n = snprintf(line, sizeof line,
                     "loopback_only: a test tried to leave 127.0.0.0/8: %s (tests/guard)\n", what);
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    abort();
}

static int loopback_v4(const struct in_addr *a)
{
    return (ntohl(a->s_addr) >> 24) == 127;
}

static int loopback_v6(const struct in6_addr *a)
{
    if (IN6_IS_ADDR_LOOPBACK(a))
        return 1;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        struct in_addr v4;
        memcpy(&v4, &a->s6_addr[12], sizeof v4);
        return loopback_v4(&v4);
    }
    return 0;
}

/* Exported whatever the build's default visibility: the dynamic loader must find these
 * before libc's. */
#define GUARD_EXPORT __attribute__((visibility("default")))

GUARD_EXPORT int connect(int fd, const struct sockaddr *to, socklen_t length)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    char text[INET6_ADDRSTRLEN] = "?";
    if (to && to->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)to;
        if (!loopback_v4(&in->sin_addr)) {
            inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
            forbidden(text);
        }
    } else if (to && to->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)to;
        if (!loopback_v6(&in6->sin6_addr)) {
            inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
            forbidden(text);
        }
    }
    return real(fd, to, length); /* loopback, or a local socket (AF_UNIX, netlink) */
}

/* There only when the guard is loaded: a test that needs a lookup to fail (the fault
 * matrix's DNS failure) finds it with dlsym() before it makes one. */
GUARD_EXPORT const int ulm_loopback_guard = 1;

/* Whether node is under .invalid, the top-level domain that RFC 6761 (6.4) keeps from ever
 * resolving: "name resolution APIs ... SHOULD recognize these names as special and SHOULD
 * always return immediately indicating that the queried name does not exist". */
static int reserved_invalid(const char *node)
{
    size_t n = strlen(node);
    while (n && node[n - 1] == '.') /* a fully qualified "x.invalid." */
        n--;
    return (n == 7 && strncasecmp(node, "invalid", 7) == 0) ||
           (n > 8 && strncasecmp(node + n - 8, ".invalid", 8) == 0);
}

/* A name is looked up only when it is a loopback address written out, or "localhost"
 * (which /etc/hosts answers); a name under .invalid does not exist, as RFC 6761 says a
 * resolver answers it without a query, so that a test can fail a lookup without leaving
 * the machine; any other name could send a query to the resolver. */
GUARD_EXPORT int getaddrinfo(const char *node, const char *service,
                             const struct addrinfo *hints, struct addrinfo **result)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real)
        real = (int (*)(const char *, const char *, const struct addrinfo *,
                        struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
    if (node) {
        struct in_addr v4;
        struct in6_addr v6;
        int numeric_loopback = (inet_pton(AF_INET, node, &v4) == 1 && loopback_v4(&v4)) ||
                               (inet_pton(AF_INET6, node, &v6) == 1 && loopback_v6(&v6));
        if (!numeric_loopback && reserved_invalid(node))
            return EAI_NONAME;
        if (!numeric_loopback && strcmp(node, "localhost") != 0) {
            char what[300];
            snprintf(what, sizeof what, "a lookup of the name \"%.256s\"", node);
            forbidden(what);
        }
    }
    return real(node, service, hints, result);
}
