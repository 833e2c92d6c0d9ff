#!/usr/bin/env bash
# check-guard.sh GUARD.so - the loopback guard stops what it must (a connection and a name
# lookup off loopback, before anything is sent) and lets loopback through.
set -uo pipefail
guard=$1
fail() { echo "check-guard: $*"; exit 1; }

# expect_abort NAME PYTHON: the snippet, run with the guard, must end in the guard's abort
expect_abort() {
    local out status=0
    out=$(LD_PRELOAD=$guard python3 -c "$2" 2>&1) || status=$?
    [ "$status" -eq 134 ] || fail "$1: exit $status, not the guard's abort: $out"
    grep -q "loopback_only: a test tried to leave 127.0.0.0/8" <<< "$out" || fail "$1: $out"
}
# 192.0.2.1 is TEST-NET-1 (documentation only); the guard aborts before connect(2) is made
expect_abort "connect off loopback" "import socket; socket.create_connection(('192.0.2.1', 9), timeout=1)"
expect_abort "IPv6 off loopback" "import socket; s = socket.socket(socket.AF_INET6); s.connect(('2001:db8::1', 9))"
# example.com is reserved for documentation: a lookup of it would still reach the resolver
expect_abort "a name lookup" "import socket; socket.getaddrinfo('ulm-guard.example.com', 80)"

# a name under .invalid (RFC 6761) fails at once, as a resolver answers it, with no query
LD_PRELOAD=$guard python3 -c "
import socket
for name in ('ulm-guard.invalid', 'x.INVALID.'):
    try:
        socket.getaddrinfo(name, 80)
    except socket.gaierror as e:
        assert e.errno == socket.EAI_NONAME, e
    else:
        raise SystemExit(name + ' resolved')
" || fail "a name under .invalid did not fail as a missing name"

# loopback passes: a refused port on 127.0.0.1 is the connection's own failure, not the guard's
LD_PRELOAD=$guard python3 -c "
import socket
for host in ('127.0.0.1', 'localhost'):
    try:
        socket.create_connection((host, 1), timeout=1)
    except OSError:
        pass
" || fail "loopback was stopped"
echo "check-guard: 5 passed"
