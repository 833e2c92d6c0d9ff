#!/usr/bin/env bash
# check-metrics-server.sh - examples/metrics-server end to end: it makes calls to the DMR
# emulator while serving /metrics; curl scrapes it, the counters say exactly those calls,
# the runner's part is there, and promtool checks the whole scrape.
#   check-metrics-server.sh PATH/TO/ulm-metrics-server
# Skips (77) without the test servers' environment (tests/run.sh) or without promtool.
set -euo pipefail
server=$1
[ -n "${ULM_TEST_DMR_URL:-}" ] ||
    { echo "skipped: ULM_TEST_DMR_URL is not set (tests/run.sh starts the servers)"; exit 77; }
command -v promtool > /dev/null 2>&1 || { echo "skipped: promtool not found"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-metrics-server.XXXXXX")
pid=
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "failed: $*"; cat "$tmp/server.err" 2>/dev/null || true; exit 1; }
passed=0
ok() { passed=$((passed + 1)); }

env -i PATH="$PATH" MODEL_RUNNER_URL="$ULM_TEST_DMR_URL" DEFAULT_LOCAL_MODEL=ai/stories260k \
    ULM_DMR_CANDIDATES=http://127.0.0.1:12434 ULM_LOG=warn \
    "$server" --port 0 --calls 3 --interval-ms 10 > "$tmp/server.out" 2> "$tmp/server.err" &
pid=$!
# it prints its port once serving, and a line after the last call (a generous bound: the
# emulator may have to load the model first)
for _ in $(seq 600); do
    grep -q "^calls done" "$tmp/server.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "the server exited"
    sleep 0.1
done
grep -qx "calls done: 3 answered, 0 failed" "$tmp/server.out" || fail "calls: $(cat "$tmp/server.out")"
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/server.out")
[ -n "$port" ] || fail "no port in: $(cat "$tmp/server.out")"
ok

curl -sS -D "$tmp/headers" -o "$tmp/metrics" "http://127.0.0.1:$port/metrics" || fail "curl /metrics"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$tmp/headers" ||
    fail "content type: $(cat "$tmp/headers")"
ok
# exactly the three calls, each one request answered by the local model
series='{backend="dmr",model="ai/stories260k:latest"}'
for want in "ulm_calls_succeeded_total$series 3" "ulm_requests_started_total$series 3" \
            "ulm_requests_succeeded_total$series 3" "ulm_request_duration_seconds_count$series 3" \
            'ulm_requests_in_flight{backend="dmr"} 0' 'ulm_dmr_up{backend="dmr"} 1'; do
    grep -qxF "$want" "$tmp/metrics" || fail "no line '$want' in the scrape"
done
grep -q '^ulm_dmr_runner_info{backend="dmr",model="ai/stories260k:latest",engine="llama.cpp",mode="completion",state="' \
    "$tmp/metrics" || fail "no ulm_dmr_runner_info for the model"
ok

# promtool: it must parse (1 otherwise); lint advice (3) only about llama.cpp's own counter
# names, which the runner chose
status=0
promtool check metrics < "$tmp/metrics" > "$tmp/promtool.out" 2>&1 || status=$?
[ "$status" = 0 ] || { [ "$status" = 3 ] && ! grep -v -e '^$' \
    -e '^ulm_dmr_runner_[a-z_]* counter metrics should have "_total" suffix$' "$tmp/promtool.out"; } ||
    { cat "$tmp/promtool.out"; fail "promtool check metrics"; }
ok

# another path is 404, another method 405
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 404 ] || fail "GET / is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" = 405 ] ||
    fail "POST /metrics is not 405"
ok

# SIGTERM ends it cleanly
kill "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
ok
echo "$passed passed, 0 failed"
[ "$passed" -eq 6 ]
