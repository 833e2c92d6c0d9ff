#!/usr/bin/env bash
# check-dmr-emulator.sh - the DMR emulator's lifecycle endpoints against DMR's wire formats
# (shared/design/DMR-API.md): pull with progress (both content types, several layers, an
# error line, a cut connection, resume, the two-pull limit), model listings, ps, preload,
# _configure, keep_alive, unload, embeddings, metrics, delete, df, and the text/plain
# errors. Starts its own emulator and stops it on exit, also when a check fails.
# With ULM_DMR_RECORD=DIR it also writes the bodies it checks there (the fixtures of
# tests/fixtures/dmr, see its README).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export ULM_ROOT=$root ULM_SHARED=${ULM_SHARED:-$root/../shared}
model=$ULM_SHARED/testdata/models/stories260K.gguf
[ -d "$root/tests/servers/node_modules/node-llama-cpp" ] || {
    echo "skipped: tests/servers/node_modules is missing (bash .ci/install-deps)"; exit 77; }
[ -f "$model" ] || { echo "skipped: no test model at $model"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ulm-emulator.XXXXXX")
ULM_SERVER_LOGS=$work
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
background=()
cleanup() {
    local pid
    for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
    ulm_stop_servers
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAILED: $*" >&2; [ -f "$work/body" ] && { echo "--- last body:" >&2; head -c 2000 "$work/body" >&2; }; exit 1; }

# Registry models need blobs of their own (a layer already in the store is not downloaded
# again, and shows no progress), so each is a copy of the test model with a few bytes
# appended, which llama.cpp ignores; tiny-a and tiny-j also carry a license layer.
for name in a b c d e j q s; do
    cp "$model" "$work/tiny-$name.gguf"
    printf 'copy %s\n' "$name" >> "$work/tiny-$name.gguf"
done
printf 'Tiny license: use it "as is" <no warranty> & no claims.\n' > "$work/LICENSE"
printf 'Tiny license, second edition.\n' > "$work/LICENSE-j"

node "$root/tests/servers/dmr-server.mjs" --host 127.0.0.1 --port 0 \
    --model "ai/stories260k=$model" --model "ai/storyteller:v2=$model" \
    --registry "ai/tiny-a=$work/tiny-a.gguf,$work/LICENSE" --registry "ai/tiny-j=$work/tiny-j.gguf,$work/LICENSE-j" \
    --registry "ai/tiny-b=$work/tiny-b.gguf" \
    --registry "ai/tiny-c=$work/tiny-c.gguf" --registry "ai/stall-1=$work/tiny-d.gguf" \
    --registry "ai/stall-2=$work/tiny-e.gguf" --registry "ai/tiny-q=$work/tiny-q.gguf" \
    --registry "ai/slow=$work/tiny-s.gguf" \
    --pull-steps 4 --pull-step-ms 10 --pull-fault ai/tiny-b=error@2:2 --pull-fault ai/tiny-c=cut@1:1 \
    --pull-fault ai/stall-1=stall@1 --pull-fault ai/stall-2=stall@1 --load-delay ai/slow=1500 \
    > "$work/dmr.log" 2> "$work/dmr.log.err" &
ULM_SERVER_PIDS+=($!)
ulm_wait_ready 300 0.1 "the DMR emulator" "$work/dmr.log.err" ulm_listening_url "$work/dmr.log" dmr-server ULM_DMR_URL
url=$ULM_DMR_URL

# call METHOD PATH [CURL ARGS...]: the answer's status in $status, headers and body in files
call() {
    local method=$1 path=$2
    shift 2
    status=$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "$@" "$url$path")
}
# expect STATUS BODY: the last answer, byte for byte (BODY as printf %s prints it)
expect() {
    [ "$status" = "$1" ] || fail "$method_path: status $status, expected $1"
    printf '%s' "$2" | cmp -s - "$work/body" || fail "$method_path: body differs from $(printf '%q' "$2")"
}
# text_error STATUS MESSAGE: Go's http.Error answer
text_error() {
    expect "$1" "$2"$'\n'
    grep -qi '^content-type: text/plain; charset=utf-8' "$work/headers" || fail "$method_path: not text/plain"
    ok
}
header() { grep -i "^$1:" "$work/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# check_json PYTHON: runs PYTHON with d = the last body parsed, raw = its text
check_json() {
    python3 -c "import json,sys; raw=open(sys.argv[1]).read(); d=json.loads(raw); $1" "$work/body" ||
        fail "$method_path: JSON check"
    ok
}
record() { [ -z "${ULM_DMR_RECORD:-}" ] || cp "$work/body" "$ULM_DMR_RECORD/$1"; }
# wait_until TRIES CMD...: polls CMD every 0.1 s
wait_until() {
    local tries=$1
    shift
    for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
    return 1
}
ps_has() { curl -sS "$url/engines/ps" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if $1 else 1)"; }
method_path="setup"

# ---------------------------------------------------------------- banner, version, routing
method_path="GET /"; call GET /; expect 200 "Docker Model Runner is running"; ok
method_path="GET /version"; call GET /version
check_json 'assert raw == json.dumps(d, separators=(",", ":")) + "\n" and d["version"], raw'
method_path="GET /nowhere"; call GET /nowhere; text_error 404 "404 page not found"
method_path="GET /engines/nowhere"; call GET /engines/nowhere; text_error 404 "not found"
method_path="DELETE /models/purge"; call DELETE /models/purge; [ "$status" = 501 ] && ok
method_path="GET /engines/status"; call GET /engines/status
check_json 'assert list(d) == ["llama.cpp", "sglang", "vllm"] and d["llama.cpp"].startswith("Running: llama.cpp ") and not raw.endswith("\n"), raw'
record engines_status.json

# ---------------------------------------------------------------- listings
method_path="GET /models"; call GET /models
check_json '
assert raw.endswith("\n") and len(d) == 1, raw
m = d[0]
assert list(m) == ["id", "tags", "created", "config"], list(m)
assert m["id"].startswith("sha256:") and len(m["id"]) == 71 and m["tags"] == ["ai/stories260k:latest", "ai/storyteller:v2"], m
c = m["config"]
assert list(c) == ["format", "quantization", "parameters", "architecture", "size", "gguf", "context_size"], list(c)
assert (c["format"], c["quantization"], c["parameters"], c["architecture"], c["size"], c["context_size"]) == \
    ("gguf", "MOSTLY_F32", "292.80K", "llama", "1.12MiB", 2048), c
g = c["gguf"]
assert list(g) == sorted(g) and g["llama.context_length"] == "2048" and g["llama.attention.layer_norm_rms_epsilon"] == "0.000010", g
assert "tokenizer.ggml.tokens" not in g, "arrays over 50 items are left out"
'
record native_models.json
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$work/body")
cp "$work/body" "$work/models-before"
method_path="GET /models/ai/stories260k"; call GET /models/ai/stories260k
check_json 'import json as j; assert [d] == j.load(open(sys.argv[1].rsplit("/", 1)[0] + "/models-before")), d'
record native_model.json
method_path="GET /models/stories260k"; call GET /models/stories260k; [ "$status" = 200 ] && ok
method_path="GET /models/$id"; call GET "/models/$id"; [ "$status" = 200 ] && ok
method_path="GET /models/ai/nope"; call GET /models/ai/nope; text_error 404 "model not found"
record error_404_native_model.txt

for path in /engines/v1/models /v1/models /engines/llama.cpp/v1/models; do
    method_path="GET $path"; call GET "$path"
    check_json '
assert list(d) == ["object", "data"] and d["object"] == "list" and len(d["data"]) == 1, d
e = d["data"][0]
assert list(e) == ["id", "object", "created", "owned_by", "dmr"] and e["id"] == "ai/stories260k:latest", e
assert e["object"] == "model" and e["owned_by"] == "docker" and isinstance(e["created"], int), e
assert e["dmr"] == {"context_window": 2048, "architecture": "llama", "parameters": "292.80K",
                    "quantization": "MOSTLY_F32", "size": "1.12MiB"}, e["dmr"]
assert list(e["dmr"]) == ["context_window", "architecture", "parameters", "quantization", "size"]'
done
record openai_models_dmr.json
method_path="GET /engines/v1/models/ai/storyteller:v2"; call GET /engines/v1/models/ai/storyteller:v2
check_json 'assert d["id"] == "ai/stories260k:latest" and "dmr" in d, d'
method_path="GET /engines/v1/models/nope"; call GET /engines/v1/models/nope
text_error 404 "error while getting model: get model '\"nope\"': model not found"
record error_404_openai_model.txt

# ---------------------------------------------------------------- pulls
# parse_pull FILE: the progress lines of a pull (HTML-unescaped when text/plain), checked
# for DMR's field set and order; prints "<lines> <last type>"
parse_pull() {
    python3 - "$1" <<'PY'
import html, json, sys
lines = open(sys.argv[1], "rb").read().decode().split("\n")
assert lines[-1] == "", "ends with a newline"
msgs = [json.loads(html.unescape(l)) for l in lines[:-1] if l.startswith("{") or l.startswith("&")]
for m in msgs:
    assert list(m) == ["type", "message", "total", "layer", "mode"] and m["mode"] == "pull", m
    assert list(m["layer"]) == (["id", "size", "current"] if m["type"] == "progress" else ["size", "current"]), m
print(len(msgs), msgs[-1]["type"])
PY
}

# check_layers FILE GGUF LICENSE: a pull of a two-layer model: 4 steps of interleaved
# progress, each layer's current growing to its size, their sum to the total
check_layers() {
    python3 - "$@" <<'PY' || fail "progress of two layers"
import hashlib, html, json, os, sys
msgs = [json.loads(html.unescape(l)) for l in open(sys.argv[1]).read().splitlines()]
sizes = {"sha256:" + hashlib.sha256(open(p, "rb").read()).hexdigest(): os.path.getsize(p) for p in sys.argv[2:]}
progress = [m for m in msgs if m["type"] == "progress"]
assert len(progress) == 8 and msgs[-1] == {"type": "success", "message": "Model pulled successfully", "total": 0,
    "layer": {"size": 0, "current": 0}, "mode": "pull"}, msgs[-1]
ids = [m["layer"]["id"] for m in progress]
assert ids[0] != ids[1] and ids[0::2] == [ids[0]] * 4 and ids[1::2] == [ids[1]] * 4, "layers interleave"
latest = {}
for m in progress:
    assert m["total"] == sum(sizes.values()) and m["layer"]["size"] == sizes[m["layer"]["id"]], m
    assert m["layer"]["current"] >= latest.get(m["layer"]["id"], 0), "current never goes back"
    latest[m["layer"]["id"]] = m["layer"]["current"]
    assert m["message"] == "Downloaded: %.2f MB" % (m["layer"]["current"] / 1024 / 1024), m["message"]
assert sum(latest.values()) == progress[0]["total"], "the latest currents add up to the total"
PY
    ok
}

method_path="POST /models/create ai/tiny-a (text/plain)"
call POST /models/create -d '{"from": "ai/tiny-a"}'
[ "$status" = 200 ] && [ "$(header content-type)" = "text/plain" ] && ok
grep -q '"' "$work/body" && fail "text/plain progress must be HTML-escaped"
grep -q '&#34;type&#34;:&#34;progress&#34;' "$work/body" && ok
check_layers "$work/body" "$work/tiny-a.gguf" "$work/LICENSE"
record pull_progress.txt
method_path="POST /models/create ai/tiny-j (JSON)"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/tiny-j"}'
[ "$(header content-type)" = "application/json" ] && ! grep -q '&#34;' "$work/body" && ok
check_layers "$work/body" "$work/tiny-j.gguf" "$work/LICENSE-j"
record pull_progress.json


method_path="POST /models/create ai/tiny-a (cached, JSON)"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/tiny-a"}'
expect 200 '{"type":"success","message":"Using cached model: 1.12MiB","total":0,"layer":{"size":0,"current":0},"mode":"pull"}'$'\n'
[ "$(header content-type)" = "application/json" ] && ok
record pull_cached.json
method_path="chat with the pulled ai/tiny-a"
call POST /engines/v1/chat/completions -d '{"model": "ai/tiny-a", "messages": [{"role": "user", "content": "Once"}], "max_tokens": 4}'
check_json 'assert d["choices"][0]["message"]["content"] and d["usage"]["completion_tokens"] > 0, d'

method_path="POST /models/create ai/tiny-b (error line)"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/tiny-b"}'
[ "$status" = 200 ] || fail "a failure after the stream started keeps 200"
digest=sha256:$(sha256sum "$work/tiny-b.gguf" | cut -d' ' -f1)
python3 - "$work/body" "$digest" <<'PY' || fail "error line"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
cause = 'writing blob: copy blob "%s" to store: unexpected EOF' % sys.argv[2]
assert lines[-1] == "" and len(lines) == 5, lines
assert [json.loads(l)["type"] for l in lines[:3]] == ["progress", "progress", "error"], lines
assert json.loads(lines[2]) == {"type": "error", "message": "Error: " + cause, "total": 0,
                                "layer": {"size": 0, "current": 0}, "mode": "pull"}, lines[2]
assert lines[3] == "error while pulling model: writing image to store: " + cause, lines[3]
PY
ok
record pull_error.json
failed_at=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().split("\n")[1])["layer"]["current"])' "$work/body")
method_path="GET /models/ai/tiny-b after the failed pull"; call GET /models/ai/tiny-b; text_error 404 "model not found"
method_path="POST /models/create ai/tiny-b (text/plain error line, resumed)"
call POST /models/create -d '{"from": "ai/tiny-b"}'
python3 - "$work/body" "$digest" "$failed_at" <<'PY' || fail "text/plain error line"
import html, json, sys
lines = open(sys.argv[1]).read().split("\n")
cause = 'writing blob: copy blob "%s" to store: unexpected EOF' % sys.argv[2]
assert len(lines) == 5 and all('"' not in l for l in lines[:3]), "JSON lines are HTML-escaped"
msgs = [json.loads(html.unescape(l)) for l in lines[:3]]
assert msgs[0]["layer"]["current"] > int(sys.argv[3]), "a pull resumes what a failed one downloaded"
assert msgs[2]["message"] == "Error: " + cause, msgs[2]
assert lines[3] == "error while pulling model: writing image to store: " + cause, "the last line is raw text"
PY
ok
record pull_error.txt
method_path="POST /models/create ai/tiny-b (succeeds)"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/tiny-b"}'
[ "$(parse_pull "$work/body")" = "5 success" ] || fail "the third pull of ai/tiny-b succeeds"
ok

method_path="POST /models/create ai/tiny-c (cut mid-line)"
curl_status=0
curl -sS -o "$work/body" -H 'Accept: application/json' -X POST -d '{"from": "ai/tiny-c"}' \
    "$url/models/create" 2> /dev/null || curl_status=$?
[ "$curl_status" -ne 0 ] || fail "a cut connection is an error for curl"
python3 - "$work/body" <<'PY' || fail "truncated stream"
import json, sys
text = open(sys.argv[1]).read()
lines = text.split("\n")
assert len(lines) == 2 and json.loads(lines[0])["type"] == "progress", lines
assert lines[1].startswith('{"type":"progress"') and not lines[1].endswith("}"), "the last line is cut"
PY
ok
record pull_truncated.json
method_path="POST /models/create ai/tiny-c again"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/tiny-c"}'
[ "$(parse_pull "$work/body")" = "5 success" ] || fail "the pull after a cut one succeeds"
ok

method_path="POST /models/create ai/nope"
call POST /models/create -d '{"from": "ai/nope"}'; text_error 401 "Unauthorized"
record error_401_pull_unknown_repository.txt
method_path="POST /models/create ai/tiny-a:nope"
call POST /models/create -d '{"from": "ai/tiny-a:nope"}'; text_error 404 "Model not found"
record error_404_pull_model_not_found.txt
method_path="POST /models/create hf.co/nobody/nothing"
call POST /models/create -d '{"from": "hf.co/nobody/nothing"}'; text_error 404 "Model not found"
method_path="POST /models/create Bad Name!"
call POST /models/create -d '{"from": "Bad Name!"}'; text_error 400 "Invalid model reference"
record error_400_pull_invalid_reference.txt
method_path="POST /models/create (not JSON)"
call POST /models/create -d 'ai/tiny-a'; text_error 400 "invalid request body"
record error_400_pull_invalid_body.txt

# Two stalled pulls hold both pull slots: a third sends nothing, not even headers, until
# one of them ends (here: its client gives up).
method_path="two pulls at most"
curl -sS -N -o "$work/stall-1" -X POST -d '{"from": "ai/stall-1"}' "$url/models/create" 2> /dev/null &
stall1=$!; background+=("$stall1")
curl -sS -N -o "$work/stall-2" -X POST -d '{"from": "ai/stall-2"}' "$url/models/create" 2> /dev/null &
background+=($!)
wait_until 100 test -s "$work/stall-1" && wait_until 100 test -s "$work/stall-2" || fail "stalled pulls start"
: > "$work/queued.headers"
curl -sS -N -D "$work/queued.headers" -o "$work/queued" -H 'Accept: application/json' -X POST \
    -d '{"from": "ai/tiny-q"}' "$url/models/create" 2> /dev/null &
queued=$!; background+=("$queued")
sleep 1
[ ! -s "$work/queued.headers" ] || fail "a third pull must wait while two run"
ok
kill "$stall1"
wait_until 200 bash -c "! kill -0 $queued 2>/dev/null" || fail "the third pull runs once a slot frees"
[ "$(parse_pull "$work/queued")" = "5 success" ] || fail "the queued pull completes"
ok

# ---------------------------------------------------------------- ps, preload, configure, unload
method_path="POST /engines/unload (all)"
call POST /engines/unload -d '{"all": true}'; check_json 'assert list(d) == ["unloaded_runners"], d'
method_path="GET /engines/ps (none)"; call GET /engines/ps; expect 200 $'[]\n'; ok
method_path="GET /metrics (none)"; call GET /metrics; expect 200 $'# No active runners\n'; ok

method_path="X-Preload-Only"
call POST /engines/v1/chat/completions -H 'X-Preload-Only: true' -d '{"model": "storyteller:v2", "messages": []}'
expect 200 ""; ok
method_path="GET /engines/ps (idle)"; call GET /engines/ps
check_json '
assert len(d) == 1 and list(d[0]) == ["backend_name", "model_name", "mode", "last_used"], d
r = d[0]
assert (r["backend_name"], r["model_name"], r["mode"]) == ("llama.cpp", "storyteller:v2", "completion"), r
assert r["last_used"].endswith("Z") and not r["last_used"].startswith("0001"), r'
record ps_idle.json

# a long streamed generation keeps its runner in use
method_path="runner in use"
curl -sS -N -o "$work/stream" "$url/engines/v1/chat/completions" \
    -d '{"model": "ai/stories260k", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": -1, "stream": true}' \
    2> /dev/null &
streamer=$!; background+=("$streamer")
wait_until 100 grep -qs content "$work/stream" || fail "the stream starts"
call GET /engines/ps
check_json '
assert d == [{"backend_name": "llama.cpp", "model_name": "storyteller:v2", "mode": "completion",
              "last_used": "0001-01-01T00:00:00Z", "in_use": True}], d'
record ps_in_use.json
method_path="POST /engines/_configure (runner busy)"
call POST /engines/_configure -d '{"model": "ai/stories260k", "context-size": 1024}'
text_error 409 "runner already active"
record error_409_configure_runner_active.txt
method_path="POST /engines/unload (busy runner stays)"
call POST /engines/unload -d '{"models": ["ai/stories260k"]}'; expect 200 $'{"unloaded_runners":0}\n'; ok
kill "$streamer"
wait_until 100 ps_has '"in_use" not in d[0]' || fail "the runner is idle once its client is gone"
ok
method_path="POST /engines/unload (one model)"
call POST /engines/unload -d '{"all": false, "backend": "", "models": ["ai/stories260k"]}'
expect 200 $'{"unloaded_runners":1}\n'; ok
record unload.json
method_path="POST /engines/unload (not JSON)"; call POST /engines/unload -d '{'; text_error 400 "invalid request"
record error_400_unload_invalid.txt

# _configure: 202 and a background preload, which a slow model shows while it loads
method_path="POST /engines/_configure"
call POST /engines/_configure -d '{"model": "ai/slow", "mode": "completion", "context-size": 4096, "runtime-flags": ["--threads", "1"], "keep_alive": "10m"}'
expect 202 ""; ok
record configure_202.txt
method_path="POST /engines/_configure (not pulled yet: ai/slow is pulled just now)"
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/slow"}'
call POST /engines/_configure -d '{"model": "ai/slow", "context-size": 256, "keep_alive": "10m"}'
expect 202 ""; ok
call GET /engines/ps
check_json 'assert d == [{"backend_name": "llama.cpp", "model_name": "ai/slow", "mode": "completion",
                         "last_used": "0001-01-01T00:00:00Z", "loading": True}], d'
record ps_loading.json
wait_until 100 ps_has 'd and "loading" not in d[0]' || fail "the preload finishes"
call GET /engines/ps
check_json 'assert d[0]["keep_alive"] == "10m0s" and "in_use" not in d[0], d'
record ps_keep_alive.json
method_path="GET /engines/_configure"; call GET "/engines/_configure?model=ai/slow"
check_json 'assert [(e["Backend"], e["Model"], e["Mode"], e["Config"]) for e in d] == [("llama.cpp", "ai/slow:latest", "completion", {"context-size": 256, "keep_alive": "10m0s"})], d'
method_path="context size honoured"
python3 -c 'import json; print(json.dumps({"model": "ai/slow", "prompt": "Once upon a time " * 80, "max_tokens": 1}))' > "$work/long.json"
call POST /engines/v1/completions -d @"$work/long.json"
check_json 'assert d["error"]["type"] == "exceed_context_size_error" and d["error"]["n_ctx"] == 256, d'

method_path="keep_alive 0"
call POST /engines/_configure -d '{"model": "ai/tiny-q", "keep_alive": "0"}'; expect 202 ""
wait_until 100 ps_has 'not any(r["model_name"] == "ai/tiny-q" and not r.get("loading") for r in d)' &&
    [ -z "$(curl -sS "$url/engines/ps" | grep tiny-q)" ] || fail "keep_alive 0 unloads at once"
ok
method_path="keep_alive -1"
call POST /engines/_configure -d '{"model": "ai/tiny-c", "keep_alive": "-1"}'; expect 202 ""
wait_until 100 ps_has 'any(r["model_name"] == "ai/tiny-c" and r.get("keep_alive") == "-1" for r in d)' ||
    fail "keep_alive -1 is shown"
ok

method_path="POST /engines/_configure errors"
call POST /engines/_configure -d 'nope'; text_error 400 "invalid request"
record error_400_configure_invalid.txt
call POST /engines/_configure -d '{"model": "ai/slow", "keep_alive": 300}'; text_error 400 "invalid request"
call POST /engines/_configure -d '{"model": "ai/slow", "keep_alive": "5 minutes"}'; text_error 400 "invalid request"
call POST /engines/_configure -d '{"model": "ai/slow", "mode": "dreaming"}'; text_error 400 "invalid request"
call POST /engines/_configure -d '{"model": "ai/slow", "context-size": "big"}'; text_error 400 "invalid request"
call POST /engines/mlx/_configure -d '{"model": "ai/slow"}'; text_error 404 "backend not found"
record error_404_backend_not_found.txt
call POST /engines/llama.cpp/_configure -d '{"model": "ai/slow", "runtime-flags": ["--log-file", "x"]}'
text_error 500 'runtime flag "--log-file" is not allowed for backend "llama.cpp"'
record error_500_configure_runtime_flag.txt
call POST /engines/_configure -d '{"model": "ai/slow", "runtime-flags": ["--chat-template=../x"]}'
text_error 500 "invalid runtime flag \"--chat-template=../x\": paths are not allowed (contains '/' or '\\\\')"
call POST /engines/_configure -d '{"model": "ai/slow", "raw-runtime-flags": "--temp \"0.5"}'
text_error 500 "invalid runtime flags: invalid command line string"

# ---------------------------------------------------------------- embeddings
method_path="POST /engines/v1/embeddings"
call POST /engines/v1/embeddings -d '{"model": "ai/stories260k", "input": ["Once upon a time", "a cat"]}'
check_json '
assert list(d) == ["model", "object", "usage", "data"] and d["model"] == "ai/stories260k" and d["object"] == "list", d
u = d["usage"]; assert u["prompt_tokens"] > 0 and u["total_tokens"] == u["prompt_tokens"], u
assert [list(e) for e in d["data"]] == [["embedding", "index", "object"]] * 2 and [e["index"] for e in d["data"]] == [0, 1], d
v = [e["embedding"] for e in d["data"]]
assert len(v[0]) == len(v[1]) == 64 and abs(sum(x * x for x in v[0]) - 1) < 1e-6 and v[0] != v[1], "unit vectors of the model dimension"'
record embeddings.json
call POST /v1/embeddings -d '{"model": "ai/stories260k", "input": "a cat"}'
check_json 'assert len(d["data"]) == 1 and d["data"][0]["index"] == 0, d'
method_path="embedding runner in ps"; call GET /engines/ps
check_json 'assert any(r["model_name"] == "ai/stories260k" and r["mode"] == "embedding" for r in d), d'
method_path="POST /engines/v1/embeddings (no model)"
call POST /engines/v1/embeddings -d '{"input": "x"}'; text_error 400 "model is required"
record error_400_model_required.txt
call POST /engines/v1/embeddings -d '{"model": "ai/nope", "input": "x"}'
text_error 404 "error while getting model: get model '\"ai/nope\"': model not found"
record error_404_inference_model_not_found.txt
call POST /engines/v1/embeddings -d '{"model": "ai/stories260k", "input": 5}'
check_json 'assert d["error"]["code"] == 400 and d["error"]["type"] == "invalid_request_error", d'

# ---------------------------------------------------------------- metrics
method_path="GET /metrics"
call POST /engines/unload -d '{"all": true}'
call POST /engines/v1/chat/completions -d '{"model": "ai/stories260k", "messages": [{"role": "user", "content": "Once"}], "max_tokens": 6, "temperature": 0}'
cp "$work/body" "$work/chat.json"
call GET /metrics
[ "$(header content-type)" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "metrics content type"
python3 - "$work/body" "$work/chat.json" <<'PY' || fail "metrics from the requests served"
import json, sys
usage = json.load(open(sys.argv[2]))["usage"]
samples = {}
for line in open(sys.argv[1]).read().splitlines():
    if not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
labels = '{backend="llama.cpp",model="ai/stories260k",mode="completion"}'
assert samples["llamacpp:prompt_tokens_total" + labels] == usage["prompt_tokens"], samples
assert samples["llamacpp:tokens_predicted_total" + labels] == usage["completion_tokens"], samples
assert samples["llamacpp:requests_processing" + labels] == 0 and len(samples) == 11, samples
PY
ok
record metrics.txt
if command -v promtool > /dev/null; then
    # The exposition must parse (status 1 otherwise). Lint advice is status 3: llama.cpp's
    # own names break two of Prometheus' naming rules, which DMR passes on unchanged.
    promtool_status=0
    promtool check metrics < "$work/body" > "$work/promtool.out" 2>&1 || promtool_status=$?
    [ "$promtool_status" = 0 ] || { [ "$promtool_status" = 3 ] && ! grep -v \
        -e "metric names should not contain ':'" -e 'counter metrics should have "_total" suffix' \
        "$work/promtool.out"; } || { cat "$work/promtool.out"; fail "promtool check metrics"; }
    ok
fi

# ---------------------------------------------------------------- delete, df
method_path="GET /engines/df"; call GET /engines/df
check_json 'assert list(d) == ["models_disk_usage", "default_backend_disk_usage"] and d["models_disk_usage"] > 7 * 1185376 and d["default_backend_disk_usage"] > 0, d'
record engines_df.json
before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models_disk_usage"])' "$work/body")
method_path="DELETE /models/ai/tiny-a"; call DELETE /models/ai/tiny-a
check_json 'assert raw == json.dumps(d, separators=(",", ":")) + "\n" and d[0] == {"Untagged": "ai/tiny-a:latest"} and list(d[1]) == ["Deleted"] and d[1]["Deleted"].startswith("sha256:") and len(d) == 2, d'
record delete.json
method_path="DELETE /models/ai/tiny-a again"; call DELETE /models/ai/tiny-a
text_error 404 "error while deleting model: model not found"
record error_404_delete.txt
method_path="DELETE by ID with two tags"; call DELETE "/models/$id"
text_error 409 "error while deleting model: unable to delete \"$id\" (must be forced) due to multiple tag references: resource conflict"
record error_409_delete_multiple_tags.txt
method_path="DELETE one of two tags"; call DELETE /models/ai/storyteller:v2
expect 200 $'[{"Untagged":"ai/storyteller:v2"}]\n'; ok
call POST /models/create -d '{"from": "ai/stories260k"}'   # cached: tags the model again
call POST /models/create -H 'Accept: application/json' -d '{"from": "ai/storyteller:v2"}'
expect 200 '{"type":"success","message":"Using cached model: 1.12MiB","total":0,"layer":{"size":0,"current":0},"mode":"pull"}'$'\n'; ok
method_path="DELETE by ID, forced"; call DELETE "/models/$id?force=true"
expect 200 "[{\"Untagged\":\"ai/stories260k:latest\"},{\"Untagged\":\"ai/storyteller:v2\"},{\"Deleted\":\"$id\"}]"$'\n'; ok
method_path="GET /engines/df after deleting"; call GET /engines/df
check_json "assert d['models_disk_usage'] < $before, d"

echo "check-dmr-emulator: $passed checks passed"
