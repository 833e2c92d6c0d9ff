# lib.sh - starts and stops the local test servers; sourced by tests/run.sh and the quickstart.

ULM_ROOT=${ULM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ULM_SHARED=${ULM_SHARED:-$ULM_ROOT/../shared}
ULM_SERVER_PIDS=()
# The servers' logs stay in ULM_SERVER_LOGS when the caller sets it; else they go to a
# directory of their own that ulm_cleanup removes.
ULM_SERVER_LOGS_TEMPORARY=0
if [ -z "${ULM_SERVER_LOGS:-}" ]; then
    ULM_SERVER_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/ulm-servers.XXXXXX")
    ULM_SERVER_LOGS_TEMPORARY=1
fi

ulm_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ulm_wait_ready TRIES PAUSE WHAT LOG CHECK... -> runs CHECK until it succeeds, the server
# started last exits, or TRIES run out; on failure shows LOG.
ulm_wait_ready() {
    local tries=$1 pause=$2 what=$3 log=$4
    shift 4
    for _ in $(seq 1 "$tries"); do
        "$@" && return 0
        kill -0 "${ULM_SERVER_PIDS[-1]}" 2>/dev/null || break
        sleep "$pause"
    done
    echo "$what did not start:" >&2
    cat "$log" >&2
    return 1
}

# ulm_start_dmr MODEL_NAME GGUF_PATH -> sets ULM_DMR_URL to the emulator's root URL
ulm_start_dmr() {
    local name=$1 gguf=$2 log=$ULM_SERVER_LOGS/dmr.log
    node "$ULM_ROOT/tests/servers/dmr-server.mjs" --host 127.0.0.1 --port 0 \
        --model "$name=$gguf" > "$log" 2> "$log.err" &
    ULM_SERVER_PIDS+=($!)
    ulm_wait_ready 300 0.1 "the DMR emulator" "$log.err" \
        ulm_listening_url "$log" dmr-server ULM_DMR_URL
}

# ulm_start_dmr_lifecycle GGUF_PATH -> sets ULM_DMR_LIFECYCLE_URL: a second emulator for the
# model lifecycle tests (pull, remove, unload change its store, so no other test shares it),
# holding GGUF_PATH as ai/stories260k and a registry of models to pull, each a copy of
# GGUF_PATH with a line appended (a blob of its own) that llama.cpp ignores:
#   ai/two-layers (model and a license), ai/fails-midway (an error line after 2 steps),
#   ai/cut-once (its first pull is cut mid-line), ai/stalls (stalls after a step),
#   ai/removable, ai/slow-load (loads in 1.5 s, to be seen loading), and ai/auto-pulled
#   (pulled by calls with auto_pull, removed by the same test).
ulm_start_dmr_lifecycle() {
    local gguf=$1 dir=$ULM_SERVER_LOGS/registry log=$ULM_SERVER_LOGS/dmr-lifecycle.log
    mkdir -p "$dir"
    local name
    for name in two-layers fails-midway cut-once stalls removable slow-load auto-pulled; do
        cp "$gguf" "$dir/$name.gguf"
        printf 'copy %s\n' "$name" >> "$dir/$name.gguf"
    done
    printf 'A license for the test model.\n' > "$dir/LICENSE"
    node "$ULM_ROOT/tests/servers/dmr-server.mjs" --host 127.0.0.1 --port 0 \
        --model "ai/stories260k=$gguf" \
        --registry "ai/two-layers=$dir/two-layers.gguf,$dir/LICENSE" \
        --registry "ai/fails-midway=$dir/fails-midway.gguf" \
        --registry "ai/cut-once=$dir/cut-once.gguf" --registry "ai/stalls=$dir/stalls.gguf" \
        --registry "ai/removable=$dir/removable.gguf" --registry "ai/slow-load=$dir/slow-load.gguf" \
        --registry "ai/auto-pulled=$dir/auto-pulled.gguf" \
        --pull-steps 4 --pull-step-ms 20 --pull-fault ai/fails-midway=error@2 \
        --pull-fault ai/cut-once=cut@1:1 --pull-fault ai/stalls=stall@1 \
        --load-delay ai/slow-load=1500 > "$log" 2> "$log.err" &
    ULM_SERVER_PIDS+=($!)
    ulm_wait_ready 300 0.1 "the DMR lifecycle emulator" "$log.err" \
        ulm_listening_url "$log" dmr-server ULM_DMR_LIFECYCLE_URL
}

# ulm_listening_url LOG SERVER VAR -> sets VAR from the "SERVER listening on URL" line a
# server prints on stdout once it is ready; fails while the line is not there.
ulm_listening_url() {
    local url
    url=$(sed -n "s/^$2 listening on \(http:[^ ]*\).*/\1/p" "$1")
    [ -n "$url" ] && printf -v "$3" '%s' "$url"
}

# ulm_start_fault_server -> sets ULM_FAULT_URL to the fault server's root URL; a test's base URL
# adds /SCENARIO/N to it (see fault-server.mjs).
ulm_start_fault_server() {
    local log=$ULM_SERVER_LOGS/fault.log
    node "$ULM_ROOT/tests/servers/fault-server.mjs" --host 127.0.0.1 --port 0 > "$log" 2> "$log.err" &
    ULM_SERVER_PIDS+=($!)
    ulm_wait_ready 100 0.1 "the fault server" "$log.err" \
        ulm_listening_url "$log" fault-server ULM_FAULT_URL
}

# ulm_start_replay_server -> sets ULM_REPLAY_URL to the replay server's root URL; a test's base
# URL adds /anthropic/SCENARIO or /gemini/SCENARIO to it (see replay-server.mjs).
ulm_start_replay_server() {
    local log=$ULM_SERVER_LOGS/replay.log
    node "$ULM_ROOT/tests/servers/replay-server.mjs" --host 127.0.0.1 --port 0 > "$log" 2> "$log.err" &
    ULM_SERVER_PIDS+=($!)
    ulm_wait_ready 100 0.1 "the replay server" "$log.err" \
        ulm_listening_url "$log" replay-server ULM_REPLAY_URL
}

# Any HTTP status means the server answers (prism says 401 to a request without a key).
ulm_http_answers() {
    curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null | grep -q '^[1-5]'
}

# ulm_start_prism SPEC -> sets ULM_PRISM_URL
ulm_start_prism() {
    local spec=$1 port log
    port=$(ulm_free_port)
    log=$ULM_SERVER_LOGS/prism-$port.log
    node "$ULM_ROOT/tests/servers/node_modules/@stoplight/prism-cli/dist/index.js" mock \
        -h 127.0.0.1 -p "$port" -v warn "$spec" > "$log" 2>&1 &
    ULM_SERVER_PIDS+=($!)
    ULM_PRISM_URL=http://127.0.0.1:$port
    # prism takes about 15 s to read the OpenAI spec
    ulm_wait_ready 240 0.5 "prism on $spec" "$log" ulm_http_answers "$ULM_PRISM_URL/models"
}

ulm_stop_servers() {
    local pid
    for pid in "${ULM_SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${ULM_SERVER_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    ULM_SERVER_PIDS=()
}

# ulm_cleanup -> stops the servers and removes the logs' temporary directory; whoever sources
# this file runs it on exit: trap ulm_cleanup EXIT
ulm_cleanup() {
    ulm_stop_servers
    if [ "$ULM_SERVER_LOGS_TEMPORARY" = 1 ]; then
        rm -rf "$ULM_SERVER_LOGS"
    fi
}

# ulm_start_fault_proxy UPSTREAM_URL -> sets ULM_PROXY_429_URL and ULM_PROXY_401_URL: nginx in
# front of a prism mock, one port asking prism for the spec's 429 answer, one stripping the key.
ulm_start_fault_proxy() {
    local upstream=$1 dir=$ULM_SERVER_LOGS/nginx p429 p401
    p429=$(ulm_free_port)
    p401=$(ulm_free_port)
    mkdir -p "$dir"
    cat > "$dir/nginx.conf" <<CONF
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$p429;
        location / { proxy_set_header Prefer "code=429"; proxy_pass $upstream; }
    }
    server {
        listen 127.0.0.1:$p401;
        location / { proxy_set_header Authorization ""; proxy_pass $upstream; }
    }
}
CONF
    nginx -c "$dir/nginx.conf" -p "$dir" &
    ULM_SERVER_PIDS+=($!)
    ULM_PROXY_429_URL=http://127.0.0.1:$p429
    ULM_PROXY_401_URL=http://127.0.0.1:$p401
    ulm_wait_ready 50 0.1 "the nginx fault proxy" "$dir/error.log" \
        ulm_http_answers "$ULM_PROXY_429_URL/models"
}
