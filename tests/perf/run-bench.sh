#!/usr/bin/env bash
# run-bench.sh - runs a benchmark against a loopback nginx (nginx.conf) and stops that
# nginx when done: ulm-bench-complete (a fixed chat completion), or with --stream
# ulm-bench-stream (event streams the bench first writes into nginx's html/ directory).
# With --adapters it runs ulm-bench-adapters, which reads in memory and then, against the
# same nginx, over loopback (the OpenAI, Anthropic and Gemini streams it writes first).
# With --load it runs ulm-bench-load (many calls at once, and memory) against the same
# nginx, which then also answers after a delay (Debian's nginx echo module), as JSON and as
# an event stream, and serves the largest answer from a file the bench writes first.
# With --python it runs bench_python.py: Python's Client.complete() against C
# ulm_complete() (ulm-bench-complete) and Python's urllib and http.client, same nginx.
#
# Usage: bash tests/perf/run-bench.sh [build-dir | bench-binary]
#                                     [--stream | --adapters | --load | --python]
#                                     [bench options...]
#   build-dir     default: build (the binary is <build-dir>/tests/perf/ulm-bench-complete,
#                 ulm-bench-stream with --stream, ulm-bench-adapters with --adapters)
#   --stream      streaming throughput and time to first token (implied when
#                 bench-binary is named ulm-bench-stream)
#   --adapters    one answer streamed in the OpenAI, Anthropic and Gemini wire formats,
#                 read through each adapter in memory and over loopback (implied when
#                 bench-binary is named ulm-bench-adapters)
#   --load        1 to 256 calls at once from threads and fan-out rounds against raw
#                 libcurl multi, heap per call in flight, the largest answer, RSS
#   --python      the Python overhead per call (needs build-dir: its libultrallm.so, and
#                 the package of bindings/python)
#   bench options passed on, e.g. --requests 5000 --rounds 20 (see ulm-bench-complete -h,
#                 ulm-bench-stream -h, ulm-bench-adapters -h)
# Examples:
#   bash tests/perf/run-bench.sh build --requests 5000
#   bash tests/perf/run-bench.sh build --stream --requests 500
#   bash tests/perf/run-bench.sh build --adapters --rounds 25
#   bash tests/perf/run-bench.sh build --load --levels 1,8,64,256 --calls 2000
#   bash tests/perf/run-bench.sh build --python --requests 2000 --rounds 10
# Environment:
#   ULM_BENCH_PORT  loopback port for nginx; default: the first free one from 18080
#   ULM_BENCH_PIN   1 (default, with 2+ CPUs): nginx on CPU 1, the bench on CPU 0; 0: no pinning
#   ULM_PYTHON      the interpreter of --python (default: python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

target=$repo/build
if [[ $# -gt 0 && $1 != -* ]]; then
    target=$1
    shift
fi
stream=0 adapters=0 python=0 load=0
if [[ $# -gt 0 && $1 == --stream ]]; then
    stream=1
    shift
elif [[ $# -gt 0 && $1 == --adapters ]]; then
    adapters=1
    shift
elif [[ $# -gt 0 && $1 == --load ]]; then
    load=1
    shift
elif [[ $# -gt 0 && $1 == --python ]]; then
    python=1
    shift
    [[ -d $target ]] || { echo "run-bench.sh: --python needs a build directory" >&2; exit 2; }
fi
if [[ -d $target ]]; then
    name=ulm-bench-complete
    if ((stream)); then
        name=ulm-bench-stream
    elif ((adapters)); then
        name=ulm-bench-adapters
    elif ((load)); then
        name=ulm-bench-load
    fi
    bench=$target/tests/perf/$name
else
    bench=$target
    case $(basename "$bench") in
    ulm-bench-stream) stream=1 ;;
    ulm-bench-adapters) adapters=1 ;;
    ulm-bench-load) load=1 ;;
    esac
fi
if [[ ! -x $bench ]]; then
    echo "run-bench.sh: no benchmark at $bench; build first:" >&2
    echo "  cmake -S . -B build && cmake --build build" >&2
    exit 2
fi

# Pinning keeps the two processes from sharing or trading a core mid-block, the main
# source of run-to-run noise on a small machine; the in-memory bench alone stays on its
# core too.
pin_server=() pin_bench=()
if [[ ${ULM_BENCH_PIN:-1} == 1 ]] && command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    pin_server=(taskset -c 1) pin_bench=(taskset -c 0)
fi

nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $nginx ]]; then
    echo "run-bench.sh: nginx not found (apt-get install nginx-light)" >&2
    exit 2
fi

# A port is taken when something accepts a connection on it.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=${ULM_BENCH_PORT:-}
if [[ -z $port ]]; then
    for p in $(seq 18080 18179); do
        if ! port_in_use "$p"; then
            port=$p
            break
        fi
    done
    [[ -n $port ]] || { echo "run-bench.sh: no free port in 18080-18179" >&2; exit 2; }
elif port_in_use "$port"; then
    echo "run-bench.sh: port $port is already in use" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-bench.XXXXXX")
nginx_pid=
cleanup() {
    if [[ -n $nginx_pid ]]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/tmp" "$tmp/html"
sed "s/@PORT@/$port/g" "$here/nginx.conf" >"$tmp/nginx.conf"
# the streams nginx serves, from the same options (--events) the bench then runs with
if ((stream || adapters)); then
    "$bench" --write-stream "$tmp/html" "$@"
fi
if ((load)); then
    "$bench" --write-large "$tmp/html"
fi
# The delayed answer needs the echo module (libnginx-mod-http-echo); without it the load
# bench runs against the fixed answer only.
: >"$tmp/modules.conf"
: >"$tmp/delay.conf"
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
delay_args=()
if [[ -f $echo_module ]]; then
    echo "load_module $echo_module;" >"$tmp/modules.conf"
    # the body of the fixed answer, from the same configuration
    answer=$(sed -n "s/^ *return 200 '\(.*\)';$/\1/p" "$here/nginx.conf")
    # the same answer as an event stream (ulm-bench-load's streamed calls): its text in one
    # chunk, then its finish reason and usage, as OpenAI streams with include_usage
    head='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"ai/smollm2:latest","choices":['
    text=$(printf '%s' "$answer" | sed -n 's/.*"content":"\([^"]*\)".*/\1/p')
    finish=$(printf '%s' "$answer" | sed -n 's/.*"finish_reason":"\([^"]*\)".*/\1/p')
    usage=$(printf '%s' "$answer" | sed -n 's/.*"usage":\({[^}]*}\).*/\1/p')
    sse_text="$head"'{"index":0,"delta":{"role":"assistant","content":"'"$text"'"},"finish_reason":null}]}'
    sse_end="$head"'{"index":0,"delta":{},"finish_reason":"'"$finish"'"}],"usage":'"$usage"'}'
    cat >"$tmp/delay.conf" <<EOF
location = /delay/engines/v1/chat/completions {
    default_type application/json;
    echo_read_request_body;
    echo_sleep 0.05;
    echo '$answer';
}
location = /slow/engines/v1/chat/completions {
    default_type application/json;
    echo_read_request_body;
    echo_sleep 0.5;
    echo '$answer';
}
location = /delay-sse/engines/v1/chat/completions {
    default_type text/event-stream;
    echo_read_request_body;
    echo_sleep 0.05;
    echo 'data: $sse_text';
    echo '';
    echo 'data: $sse_end';
    echo '';
    echo 'data: [DONE]';
    echo '';
}
EOF
elif ((load)); then
    echo "run-bench.sh: no nginx echo module ($echo_module): no delayed server" >&2
    delay_args=(--no-delay)
fi
# -e: nginx opens its error log before it reads the configuration; keep that in tmp too
"${pin_server[@]}" "$nginx" -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
nginx_pid=$!

for _ in $(seq 50); do
    port_in_use "$port" && break
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "run-bench.sh: nginx failed to start:" >&2
        cat "$tmp/error.log" >&2 || true
        nginx_pid=
        exit 2
    fi
    sleep 0.1
done
port_in_use "$port" || { echo "run-bench.sh: nginx does not answer on $port" >&2; exit 2; }

if ((python)); then
    # the package from the source tree, on the library of this build
    "${pin_bench[@]}" env PYTHONPATH="$repo/bindings/python" \
        ULTRALLM_LIBRARY="$target/libultrallm.so" "${ULM_PYTHON:-python3}" \
        "$here/bench_python.py" --url "http://127.0.0.1:$port" --c-bench "$bench" "$@"
else
    "${pin_bench[@]}" "$bench" --url "http://127.0.0.1:$port" ${delay_args[@]+"${delay_args[@]}"} "$@"
fi
