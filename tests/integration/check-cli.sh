#!/usr/bin/env bash
# check-cli.sh - the ultra-llm program end to end: chat, --json, --stream, models, clocks, failures.
set -euo pipefail
cli=$1
for var in ULM_TEST_DMR_URL ULM_TEST_FAULT_URL ULM_TEST_REPLAY_URL; do
    [ -n "${!var:-}" ] || { echo "skipped: $var is not set (tests/run.sh starts the servers)"; exit 77; }
done
export MODEL_RUNNER_URL=$ULM_TEST_DMR_URL DEFAULT_LOCAL_MODEL=ai/stories260k
unset OPENAI_API_KEY OPENAI_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL GEMINI_API_KEY GOOGLE_API_KEY GEMINI_BASE_URL AVAILABLE_LOCAL_MODELS ENABLE_MODEL_RUNNER LOCAL_MODEL_TIMEOUT
passed=0
ok() { passed=$((passed + 1)); }
root=$(cd "$(dirname "$0")/../.." && pwd)
gguf=${ULM_TEST_MODEL:-${ULM_SHARED:-$root/../shared}/testdata/models/stories260K.gguf}
[ -f "$gguf" ] || { echo "skipped: no test model at $gguf (set ULM_SHARED)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-cli.XXXXXX")
# the model lifecycle checks below start a DMR emulator of their own (pulls and removals
# change its store); it is stopped on every exit, a failed check's included
export ULM_SERVER_LOGS=$tmp/servers
mkdir -p "$ULM_SERVER_LOGS"
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
trap 'ulm_stop_servers; rm -rf "$tmp"' EXIT
check_json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1" || { echo "failed: $2"; exit 1; }; }

text=$("$cli" chat --max-tokens 8 --temperature 0 "Once upon a time")
[ -n "$text" ] && ok

"$cli" chat --json --max-tokens 8 -m dmr/ai/stories260k "Once upon a time" | check_json '
assert d["provider"] == "dmr" and d["model"] == "ai/stories260k:latest", d
assert d["text"] and d["finish_reason"] in ("stop", "length"), d
u = d["usage"]; assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0, u
assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u
assert d["latency_ms"] > 0 and len(d["attempts"]) == 1 and d["attempts"][0]["ok"] is True, d
a = d["attempts"][0]; assert set(a) >= {"provider", "model", "ok", "error", "http_status", "ms"}, a
assert a["http_status"] == 200, a
# milliseconds are rounded to 0.1 ms: at most one digit after the point
for ms in (d["latency_ms"], a["ms"]):
    assert isinstance(ms, float) and len(repr(ms).split(".")[1]) == 1, (ms, d)
# the timings of the call: libcurl clocks within the whole call; no first token unstreamed;
# no price in any configuration: the cost is unknown, not 0
assert 0 <= d["connect_ms"] <= d["first_byte_ms"] <= d["latency_ms"], d
assert d["first_token_ms"] is None and d["tokens_per_second"] > 0, d
assert d["retries"] == 0 and d["cost"] is None, d
' "chat --json" && ok

echo "Once upon a time" | "$cli" chat --max-tokens 4 - > /dev/null && ok

# invalid UTF-8 (a lone surrogate, past U+10FFFF, an overlong form) is refused before
# anything is sent, naming the byte
for bad in $'ok \xed\xa0\x80' $'\xf4\x90\x80\x80' $'ab\xe0\x80\xaf'; do
    status=0
    "$cli" chat -m dmr/ai/stories260k "$bad" > /dev/null 2> "$tmp/utf8.err" || status=$?
    [ "$status" -eq 2 ] && grep -q "the prompt has invalid UTF-8 at byte [0-9]" "$tmp/utf8.err" && ok
done
status=0
printf 'caf\xc3' | "$cli" chat -m dmr/ai/stories260k - > /dev/null 2> "$tmp/utf8.err" || status=$?
[ "$status" -eq 2 ] && grep -q "invalid UTF-8 at byte 3 (0xc3)" "$tmp/utf8.err" && ok
status=0
"$cli" chat --system $'x\xff' -m dmr/ai/stories260k hi > /dev/null 2> "$tmp/utf8.err" || status=$?
[ "$status" -eq 2 ] && grep -q "the system text has invalid UTF-8 at byte 1" "$tmp/utf8.err" && ok

# a dead local backend first, then the live one: the trail shows both
MODEL_RUNNER_URL=http://127.0.0.1:1 "$cli" chat --json -m dmr/ai/stories260k -m openai/gpt-4o-mini \
    "hi" > "$tmp/fail.json" 2> "$tmp/fail.err" && {
    echo "failed: a dead backend must fail"; exit 1; }
check_json '
assert [a["error"] for a in d["attempts"]] == ["connect", "not_configured"], d["attempts"]
assert d["error"]["class"] == "connect", d["error"]
# no HTTP status was received, and no backend reported token counts: null, not 0 or {}
assert [a["http_status"] for a in d["attempts"]] == [None, None], d["attempts"]
assert d["error"]["http_status"] is None and d["usage"] is None, d
' "failure --json" < "$tmp/fail.json" && ok
# one line for the error, one on how to fix it
[ "$(wc -l < "$tmp/fail.err")" -eq 2 ] || { echo "failed: two stderr lines"; cat "$tmp/fail.err"; exit 1; }
grep -q "^ultra-llm: error: connect (backend dmr, no HTTP status, 2 attempts)" \
    "$tmp/fail.err" && ok

status=0
OPENAI_API_KEY=sk-secret-value-1234567890 "$cli" chat -m dmr/ai/not-pulled "hi" \
    2> "$tmp/404.err" > /dev/null || status=$?
[ "$status" -eq 1 ] && grep -q "model_not_found (backend dmr, HTTP 404" "$tmp/404.err" && ok
! grep -q "sk-secret" "$tmp/404.err" && ok

# Docker Model Runner's failures say how to fix them: a model that is not pulled (the
# library's message says it, so no hint repeats it), and a runner that does not answer (a
# port nothing listens on)
# shellcheck disable=SC2016 # literal backquotes
grep -qF '(pull it: `docker model pull ai/not-pulled` or `ultra-llm pull ai/not-pulled`; or set ULM_AUTO_PULL=1)' \
    "$tmp/404.err" && [ "$(grep -c "docker model pull" "$tmp/404.err")" -eq 1 ] && ok
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2016 # literal backquotes
runner_hint='enable host TCP access with `docker desktop enable model-runner --tcp 12434`, or set MODEL_RUNNER_URL'
status=0
MODEL_RUNNER_URL=http://127.0.0.1:$closed "$cli" chat hi 2> "$tmp/closed.err" || status=$?
[ "$status" -eq 1 ] && grep -q "^ultra-llm: error: connect (backend dmr" "$tmp/closed.err" &&
    grep -qF "ultra-llm: hint: no Docker Model Runner answers at http://127.0.0.1:$closed/engines/v1: $runner_hint" \
        "$tmp/closed.err" && ok
MODEL_RUNNER_URL=http://127.0.0.1:$closed "$cli" models 2> "$tmp/closed.err" > /dev/null || true
grep -qF "ultra-llm: hint: no Docker Model Runner answers at http://127.0.0.1:$closed/engines/v1: $runner_hint" \
    "$tmp/closed.err" && ok
# a hint for each failure that has one, and only for Docker Model Runner's
[ "$(grep -c "hint:" "$tmp/404.err")" -eq 0 ] && [ "$(grep -c "hint:" "$tmp/closed.err")" -eq 1 ] && ok
status=0
ANTHROPIC_BASE_URL=$ULM_TEST_REPLAY_URL/anthropic/not-found ANTHROPIC_API_KEY=sk-ant-secret-1234567890 \
    "$cli" chat -m anthropic/claude-haiku-4-5 hi 2> "$tmp/cloud404.err" || status=$?
[ "$status" -eq 1 ] && grep -q "model_not_found (backend anthropic, HTTP 404" "$tmp/cloud404.err" &&
    ! grep -q "hint:" "$tmp/cloud404.err" && ok
# the quickstart, with a runner that answers but lacks the default model, says so
quickstart=$(dirname "$0")/../../examples/quickstart.sh
status=0
ULTRA_LLM=$cli DEFAULT_LOCAL_MODEL=ai/absent bash "$quickstart" > /dev/null 2> "$tmp/qs.err" ||
    status=$?
[ "$status" -eq 1 ] && grep -qF "does not have the model ai/absent; pull it with \`docker model pull ai/absent\`" \
    "$tmp/qs.err" && ok
[ -n "$(ULTRA_LLM=$cli bash "$quickstart" --max-tokens 4 "Once" 2> /dev/null)" ] && ok

status=0
LOCAL_MODEL_TIMEOUT=soon "$cli" chat hi 2> "$tmp/cfg.err" || status=$?
[ "$status" -eq 1 ] && grep -q "LOCAL_MODEL_TIMEOUT" "$tmp/cfg.err" && ok

status=0
"$cli" chat --temperature 9 hi 2> /dev/null || status=$?
[ "$status" -eq 2 ] && ok

"$cli" models --json | check_json '
b = {x["provider"]: x for x in d["backends"]}
assert "ai/stories260k:latest" in b["dmr"]["models"] and b["dmr"]["ok"], b
assert b["openai"]["error"] == "not_configured", b
' "models --json" && ok
"$cli" models 2> /dev/null | grep -qx "dmr/ai/stories260k:latest" && ok

# --stream prints the same text as a plain call; with --json the object is the last line
plain=$("$cli" chat --max-tokens 12 --temperature 0 "Once upon a time")
streamed=$("$cli" chat --stream --max-tokens 12 --temperature 0 "Once upon a time")
[ "$plain" = "$streamed" ] || { echo "failed: --stream text differs: '$plain' / '$streamed'"; exit 1; }
ok
out=$tmp/stream.out
"$cli" chat --stream --json --max-tokens 12 --temperature 0 "Once upon a time" > "$out"
[ "$(head -n 1 "$out")" = "$plain" ] && ok
tail -n 1 "$out" | PLAIN=$plain check_json '
import os
assert d["text"] == os.environ["PLAIN"] and d["incomplete"] is False, d
assert d["usage"]["completion_tokens"] > 0, d
assert 0 < d["first_token_ms"] <= d["latency_ms"], d
' "chat --stream --json" && ok

# a clock flag out of range is a usage error; a clock that fires names itself
status=0
"$cli" chat --idle-timeout-ms 0 hi 2> /dev/null || status=$?
[ "$status" -eq 2 ] && ok
status=0
MODEL_RUNNER_URL=$ULM_TEST_FAULT_URL/hang/0 "$cli" chat --load-timeout-ms 100 \
    --first-token-timeout-ms 100 hi 2> "$tmp/clock.err" > /dev/null || status=$?
[ "$status" -eq 1 ] &&
    grep -q "^ultra-llm: error: load_timeout (backend dmr" "$tmp/clock.err" && ok

# --config: an alias from the file is a model; doctor shows the file and hides keys
config=$tmp/config.json
cat > "$config" <<JSON
{"models": {"story": ["dmr/ai/stories260k"]},
 "backends": {"openai": {"type": "openai", "url": "http://127.0.0.1:1/v1", "local": false}}}
JSON
"$cli" chat --config "$config" -m story --max-tokens 4 "Once" > /dev/null && ok
OPENAI_API_KEY=sk-secret-value-1234567890 "$cli" doctor --config "$config" \
    > "$tmp/doctor.out" 2>&1 || true
grep -q "configuration file: $config" "$tmp/doctor.out" &&
    grep -q "backend openai (openai): key present" "$tmp/doctor.out" &&
    grep -q "alias story: dmr/ai/stories260k" "$tmp/doctor.out" &&
    ! grep -q "sk-secret" "$tmp/doctor.out" && ok
# the cloud refuses connections: the local model answers and the JSON says offline
OPENAI_API_KEY=sk-secret-value-1234567890 "$cli" chat --config "$config" --json \
    -m openai/gpt-4o-mini --max-tokens 4 "Once" | check_json '
assert d["offline"] is True and d["provider"] == "dmr", d
assert d["attempts"][0]["error"] == "connect", d["attempts"]
' "chat --json offline" && ok
# a mistake in the file names the file, the line and the path
printf '{\n  "models": {"fast": ["opnai/x"]}\n}\n' > "$config"
status=0
"$cli" chat --config "$config" hi 2> "$tmp/badcfg.err" || status=$?
[ "$status" -eq 1 ] &&
    grep -q "$config:2: models.fast\[0\]: unknown backend \"opnai\"" "$tmp/badcfg.err" &&
    ok

# Anthropic and Gemini (the replay server): listed with a key, streamed, and a chain of
# both that ends on the local model when they fail
export ANTHROPIC_BASE_URL=$ULM_TEST_REPLAY_URL/anthropic/ok GEMINI_BASE_URL=$ULM_TEST_REPLAY_URL/gemini/ok
ANTHROPIC_API_KEY=sk-ant-secret-1234567890 GOOGLE_API_KEY=AIzaSecretValue1234567890123456 \
    "$cli" models --json | check_json '
b = {x["provider"]: x for x in d["backends"]}
assert b["anthropic"]["ok"] and "claude-sonnet-4-5-20250929" in b["anthropic"]["models"], b
assert b["gemini"]["ok"] and "gemini-2.5-flash" in b["gemini"]["models"], b
' "models --json with cloud keys" && ok
streamed=$(ANTHROPIC_API_KEY=sk-ant-secret-1234567890 "$cli" chat --stream -m anthropic/claude-haiku-4-5 hi)
[ "$streamed" = "Hello from the replay server! Ünïcödé 🙂 done." ] && ok
ANTHROPIC_BASE_URL=$ULM_TEST_REPLAY_URL/anthropic/overloaded \
GEMINI_BASE_URL=$ULM_TEST_REPLAY_URL/gemini/unavailable \
ANTHROPIC_API_KEY=sk-ant-secret-1234567890 GEMINI_API_KEY=AIzaSecretValue1234567890123456 \
    "$cli" chat --json -m anthropic/claude-haiku-4-5 -m gemini/gemini-2.5-flash \
    -m dmr/ai/stories260k --max-tokens 4 "Once" | check_json '
assert d["provider"] == "dmr", d
assert [(a["provider"], a["error"], a["http_status"]) for a in d["attempts"][:2]] == \
    [("anthropic", "unavailable", 529), ("gemini", "unavailable", 503)], d["attempts"]
assert "secret" not in json.dumps(d).lower(), d
' "chat --json across clouds" && ok
unset ANTHROPIC_BASE_URL GEMINI_BASE_URL

# usage errors exit 2 and say what was wrong; nothing is sent (the backend is dead, so a
# call would exit 1)
usage_error() { # usage_error NAME EXPECTED_STDERR COMMAND...
    local name=$1 expected=$2 status=0
    shift 2
    MODEL_RUNNER_URL=http://127.0.0.1:1 "$@" > "$tmp/usage.out" 2> "$tmp/usage.err" || status=$?
    [ "$status" -eq 2 ] && grep -q -- "$expected" "$tmp/usage.err" ||
        { echo "failed: $name: exit $status"; cat "$tmp/usage.err"; exit 1; }
}
usage_error "unknown command" "^ultra-llm: unknown command 'bogus'$" "$cli" bogus
grep -q "^usage: ultra-llm chat" "$tmp/usage.err" && ok
usage_error "misspelt command" "^ultra-llm: unknown command 'pul'; did you mean 'pull'?$" "$cli" pul && ok
usage_error "unknown provider" 'unknown provider "bogus"' "$cli" chat -m bogus/x hi && ok
usage_error "empty prompt" "the prompt is empty" "$cli" chat "" && ok
printf ' \n' > "$tmp/blank"
usage_error "empty stdin" "the prompt on standard input is empty" "$cli" chat - < "$tmp/blank" && ok
ULM_LOG=verbose usage_error "ULM_LOG" "none, error, warn, info and debug" "$cli" chat hi && ok
ULM_LOG=info ULM_LOG_FORMAT=xml usage_error "ULM_LOG_FORMAT" "the formats are text and json" \
    "$cli" chat hi && ok
# ULM_LOG_FORMAT=json: every diagnostic a JSON object on a line of its own, with its fields
MODEL_RUNNER_URL=http://127.0.0.1:1 ULM_LOG=info ULM_LOG_FORMAT=json "$cli" chat \
    -m dmr/ai/stories260k -m openai/gpt-4o-mini "hi" > /dev/null 2> "$tmp/log.json" && {
    echo "failed: a dead backend must fail"; exit 1; }
grep '^{' "$tmp/log.json" | python3 -c '
import json, sys
events = [json.loads(line) for line in sys.stdin]
failed = next(e for e in events if e["event"] == "request.failed")
assert (failed["level"], failed["backend"], failed["attempt"], failed["error_class"]) == \
    ("warn", "dmr", 1, "connect"), failed
assert "http_status" not in failed and failed["ms"] >= 0, failed
fallback = next(e for e in events if e["event"] == "fallback")
assert fallback["message"].startswith("falling back from dmr/"), fallback
assert all(e["time"].endswith("Z") for e in events), events
' || { echo "failed: ULM_LOG_FORMAT=json"; cat "$tmp/log.json"; exit 1; }
ok
usage_error "unknown option" "unrecognized option '--bogus'" "$cli" models --bogus && ok
# every command describes itself on --help, on stdout, exit 0
for command in chat compare embed models pull ps unload rm preload doctor; do
    "$cli" $command --help > "$tmp/help.out" && grep -q "^usage: ultra-llm $command" "$tmp/help.out" ||
        { echo "failed: $command --help"; exit 1; }
done
ok

# Ctrl-C during a stream (the fault server stalls after "Hello, world!"): what arrived is
# printed, marked incomplete, ended by a newline, and the program exits 130 at once
interrupt() { # interrupt COMMAND... -> runs it, sends SIGINT once "world!" is out; the output
    python3 - "$@" > "$tmp/int.out" 2> "$tmp/int.err" <<'PY'
import os, signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
out = b""
try:
    while b"world!" not in out:
        chunk = os.read(p.stdout.fileno(), 4096)
        assert chunk, "the stream ended before the stall: %r" % out
        out += chunk
    p.send_signal(signal.SIGINT)
    out += p.communicate(timeout=30)[0]
finally:
    p.kill()
sys.stdout.buffer.write(out)
sys.exit(p.returncode)
PY
}
status=0
MODEL_RUNNER_URL=$ULM_TEST_FAULT_URL/stall-mid/120000 interrupt "$cli" chat --stream --json hi ||
    status=$?
[ "$status" -eq 130 ] || { echo "failed: Ctrl-C exit $status"; cat "$tmp/int.err"; exit 1; }
# (the last byte is a newline when $(...), which drops one, leaves nothing)
[ "$(head -n 1 "$tmp/int.out")" = "Hello, world!" ] && [ -z "$(tail -c 1 "$tmp/int.out")" ] && ok
tail -n 1 "$tmp/int.out" | check_json '
assert d["text"] == "Hello, world!" and d["incomplete"] is True, d
assert d["error"]["class"] == "cancelled", d
' "Ctrl-C --json" && ok
status=0
MODEL_RUNNER_URL=$ULM_TEST_FAULT_URL/stall-mid/120000 interrupt "$cli" chat --stream hi || status=$?
[ "$status" -eq 130 ] && [ "$(cat "$tmp/int.out")" = "Hello, world!" ] &&
    grep -q "^ultra-llm: error: cancelled" "$tmp/int.err" && ok

# ---------------------------------------------------------------- Docker Model Runner's
# models managed, embeddings and compare, against a lifecycle emulator of this test's own
# (tests/servers/lib.sh: ai/stories260k pulled; ai/two-layers, ai/fails-midway, ai/stalls,
# ai/removable... to pull)
ulm_start_dmr_lifecycle "$gguf"
life=$ULM_DMR_LIFECYCLE_URL
expect_exit() { # expect_exit STATUS NAME COMMAND... -> runs it, out and err in $tmp/run.*
    local want=$1 name=$2 status=0
    shift 2
    "$@" > "$tmp/run.out" 2> "$tmp/run.err" || status=$?
    [ "$status" -eq "$want" ] ||
        { echo "failed: $name: exit $status, not $want"; cat "$tmp/run.out" "$tmp/run.err"; exit 1; }
}
export MODEL_RUNNER_URL=$life

# pull off a terminal: plain progress lines, each layer, then the end; again: at once
expect_exit 0 "pull" "$cli" pull ai/two-layers
grep -qE '^ai/two-layers: [0-9]+% \(.* of .*, 0 of [12] layers done\)$' "$tmp/run.out" &&
    grep -qE '^ai/two-layers: 100% \(.*, 2 of 2 layers done\)$' "$tmp/run.out" &&
    tail -n 1 "$tmp/run.out" | grep -qE '^ai/two-layers: pulled \(1\.[0-9] MiB in [0-9.]+ s\)$' &&
    [ "$(grep -c '%' "$tmp/run.out")" -ge 3 ] && ! grep -q $'\r' "$tmp/run.out" && ok
expect_exit 0 "pull again" "$cli" pull ai/two-layers
[ "$(cat "$tmp/run.out")" = "ai/two-layers: already pulled" ] && ok
# on a terminal: a bar redrawn in place (dmr/ as chat's -m writes it names the runner)
cat > "$tmp/on_terminal.py" <<'PY'
# on_terminal.py COMMAND... -> runs it on a pseudo-terminal; what it wrote there, and its exit code
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError: # the terminal closed with the program
        break
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
python3 "$tmp/on_terminal.py" "$cli" pull dmr/ai/removable > "$tmp/pty.out" ||
    { echo "failed: pull on a terminal"; cat "$tmp/pty.out"; exit 1; }
grep -qF $'\rai/removable  25% [======>' "$tmp/pty.out" &&
    grep -qF $'\rai/removable 100% [========================] 1.1 MiB/1.1 MiB' "$tmp/pty.out" &&
    grep -qF 'ai/removable: pulled (' "$tmp/pty.out" && ok
# a pull that fails midway, a model the registry does not have (no "pull it" hint there)
expect_exit 1 "pull failing midway" "$cli" pull ai/fails-midway
grep -q '^ai/fails-midway: 25% ' "$tmp/run.out" &&
    grep -q '^ultra-llm: error: server: dmr: error while pulling model' "$tmp/run.err" && ok
expect_exit 1 "pull of nothing" "$cli" pull ai/nonexistent
grep -q '^ultra-llm: error: model_not_found: ' "$tmp/run.err" && ! grep -q hint "$tmp/run.err" && ok
expect_exit 2 "pull of two" "$cli" pull ai/a ai/b
expect_exit 2 "pull from a backend that is no runner" "$cli" pull --backend openai ai/a
grep -q "openai: not a Docker Model Runner backend" "$tmp/run.err" && ok
# Ctrl-C during a pull (ai/stalls stalls after its first step): stopped at once, exit 130
status=0
python3 - "$cli" pull ai/stalls > "$tmp/int.out" 2> "$tmp/int.err" <<'PY' || status=$?
import signal, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
try:
    first = p.stdout.readline()
    assert first.startswith(b"ai/stalls: "), first
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
finally:
    p.kill()
sys.exit(p.returncode)
PY
[ "$status" -eq 130 ] && grep -q "^ultra-llm: pull of ai/stalls stopped: the runner keeps what it downloaded" \
    "$tmp/int.err" && ok

# ps after a chat and an embedding: one runner of each mode; unload empties it
expect_exit 0 "chat on the lifecycle runner" "$cli" chat -m dmr/ai/stories260k --max-tokens 4 Once
expect_exit 0 "embed" "$cli" embed -m dmr/ai/stories260k "Once upon" "a time"
[ "$(wc -l < "$tmp/run.out")" -eq 2 ] &&
    [ "$(head -n 1 "$tmp/run.out" | wc -w)" -eq "$(tail -n 1 "$tmp/run.out" | wc -w)" ] && ok
"$cli" embed --json -m dmr/ai/stories260k "Once upon" "a time" | check_json '
assert d["provider"] == "dmr" and d["model"] == "ai/stories260k:latest", d
assert len(d["embeddings"]) == 2 and d["dimensions"] > 0, d
assert all(len(v) == d["dimensions"] for v in d["embeddings"]), d
assert d["embeddings"][0] != d["embeddings"][1] and d["usage"]["prompt_tokens"] > 0, d
' "embed --json" && ok
expect_exit 2 "embed of nothing" "$cli" embed -m dmr/ai/stories260k
expect_exit 2 "embed of an empty text" "$cli" embed -m dmr/ai/stories260k ""
expect_exit 1 "embed with a model not pulled" "$cli" embed -m dmr/ai/not-pulled hi
grep -q "^ultra-llm: error: model_not_found (backend dmr, HTTP 404" "$tmp/run.err" && ok
"$cli" ps --json | check_json '
modes = sorted(r["mode"] for r in d["runners"] if r["model"] == "ai/stories260k:latest")
assert d["backend"] == "dmr" and modes == ["completion", "embedding"], d
r = d["runners"][0]; assert set(r) == {"model", "engine", "mode", "in_use", "loading", "last_used", "keep_alive"}, r
assert r["engine"] == "llama.cpp" and r["in_use"] is False and r["last_used"], r
' "ps --json after chat and embed" && ok
expect_exit 0 "ps" "$cli" ps
head -n 1 "$tmp/run.out" | grep -q "^MODEL  *ENGINE  *MODE  *STATE" &&
    grep -qE "^ai/stories260k:latest +llama.cpp +completion +idle " "$tmp/run.out" && ok
expect_exit 0 "unload" "$cli" unload ai/stories260k
[ "$(cat "$tmp/run.out")" = "unloaded 2 runners of ai/stories260k" ] && ok
expect_exit 0 "ps after unload" "$cli" ps
[ "$(cat "$tmp/run.out")" = "no model is loaded" ] && ok
# a runner that does not answer: the error and how to fix it
MODEL_RUNNER_URL=http://127.0.0.1:$closed expect_exit 1 "ps without a runner" "$cli" ps
grep -q "^ultra-llm: error: connect: dmr: " "$tmp/run.err" &&
    grep -qF "ultra-llm: hint: no Docker Model Runner answers at http://127.0.0.1:$closed/engines/v1: $runner_hint" \
        "$tmp/run.err" && ok
expect_exit 2 "unload of nothing" "$cli" unload
expect_exit 2 "unload of a model and --all" "$cli" unload --all ai/stories260k
# preload with a context size and keep-alive, seen in ps; then unload --all
expect_exit 0 "preload" "$cli" preload --context-size 512 --keep-alive 10m ai/two-layers
[ "$(cat "$tmp/run.out")" = "loaded ai/two-layers" ] && ok
"$cli" ps --json | check_json '
assert [(r["model"], r["keep_alive"]) for r in d["runners"]] == [("ai/two-layers:latest", "10m0s")], d
' "ps after preload" && ok
expect_exit 0 "unload --all" "$cli" unload --all
[ "$(cat "$tmp/run.out")" = "unloaded 1 runner" ] && ok
expect_exit 2 "preload --context-size x" "$cli" preload --context-size x ai/two-layers
expect_exit 1 "preload of a model not pulled" "$cli" preload ai/not-pulled
grep -q "^ultra-llm: error: model_not_found: " "$tmp/run.err" &&
    grep -qF 'ultra-llm: hint: ai/not-pulled is not pulled on this Docker Model Runner: pull it with `ultra-llm pull ai/not-pulled`' \
        "$tmp/run.err" && ok
# rm: the model pulled on the terminal goes; again it is not there
expect_exit 0 "rm" "$cli" rm dmr/ai/removable
[ "$(cat "$tmp/run.out")" = "removed ai/removable" ] && ok
"$cli" models --json | check_json '
assert "ai/removable:latest" not in d["backends"][0]["models"], d
' "models after rm" && ok
expect_exit 1 "rm again" "$cli" rm ai/removable
grep -q "^ultra-llm: error: model_not_found: dmr: HTTP 404" "$tmp/run.err" && ok
expect_exit 2 "rm of nothing" "$cli" rm

# compare: two models answer and one is not pulled; the round succeeds, the failure is its own
"$cli" compare --json -m dmr/ai/stories260k -m dmr/ai/not-pulled -m dmr/ai/two-layers \
    --max-tokens 8 --temperature 0 "Once upon a time" | check_json '
m = d["members"]
assert [x["member"] for x in m] == ["dmr/ai/stories260k", "dmr/ai/not-pulled", "dmr/ai/two-layers"], m
assert [x["ok"] for x in m] == [True, False, True], m
assert m[1]["error"] == "model_not_found" and m[1]["error_http_status"] == 404, m[1]
assert "not pulled" in m[1]["error_message"] or "404" in m[1]["error_message"], m[1]
assert m[0]["error"] is None and m[0]["error_message"] is None, m[0]
assert m[0]["model"] == "ai/stories260k:latest" and m[0]["text"] and m[0]["usage"]["completion_tokens"] > 0, m[0]
assert m[0]["cost"] is None and m[0]["latency_ms"] > 0 and "first_byte_ms" in m[0], m[0]
assert sorted(d["finished"]) == [0, 1, 2] and d["error"] is None and d["synthesis"] is None, d
a = d["agreement"]; assert a[0][1] is None and a[1][2] is None and 0 <= a[0][2] <= 1, a
assert a[0][2] == a[2][0], a
' "compare --json with a failing member" && ok
# --quorum 1: the first answer ends the round; a member still running is "cancelled" (two
# may end in the same turn of the loop, so either answered or cancelled, never anything else)
"$cli" compare --json --quorum 1 -m dmr/ai/stories260k -m dmr/ai/two-layers --max-tokens 8 \
    "Once upon a time" | check_json '
m = d["members"]
assert sum(x["ok"] for x in m) >= 1, m
assert all(x["ok"] or (x["error"] == "cancelled" and x["error_http_status"] is None) for x in m), m
' "compare --quorum 1 --json" && ok
# --stream: the members stream off a terminal too, so each has its time to the first token
"$cli" compare --json -m dmr/ai/stories260k -m dmr/ai/two-layers --max-tokens 8 "Once upon a time" |
    check_json 'assert [x["first_token_ms"] for x in d["members"]] == [None, None], d' "compare unstreamed"
"$cli" compare --stream --json -m dmr/ai/stories260k -m dmr/ai/two-layers --max-tokens 8 \
    "Once upon a time" | check_json '
m = d["members"]
assert all(x["ok"] and x["first_token_ms"] is not None and x["first_token_ms"] > 0 for x in m), m
assert all(x["first_token_ms"] <= x["latency_ms"] for x in m), m
' "compare --stream --json" && ok
expect_exit 0 "compare" "$cli" compare -m dmr/ai/stories260k -m dmr/ai/not-pulled --max-tokens 8 \
    --synthesize dmr/ai/stories260k "Once upon a time"
grep -qE '^== \[1\] dmr/ai/stories260k:latest \([0-9.]+ ms, 8 tokens, [0-9.]+ tokens/s, cost unknown\)$' "$tmp/run.out" &&
    grep -q '^== \[2\] dmr/ai/not-pulled:latest: failed: model_not_found: dmr: HTTP 404' "$tmp/run.out" &&
    grep -q '^== synthesis by dmr/ai/stories260k:latest (' "$tmp/run.out" &&
    tail -n 1 "$tmp/run.out" | grep -qE '^1 of 2 answered in [0-9.]+ ms, cost unknown$' && ok
# on a terminal, stderr shows each member's state while the round runs, then clears it
python3 "$tmp/on_terminal.py" "$cli" compare -m dmr/ai/stories260k -m dmr/ai/not-pulled --max-tokens 8 \
    "Once upon a time" > "$tmp/pty.out" || { echo "failed: compare on a terminal"; cat "$tmp/pty.out"; exit 1; }
grep -qF $'\r[1] waiting  [2] waiting\033[K' "$tmp/pty.out" &&
    grep -qF $'\r[1] done  [2] failed\033[K\r\033[K== [1] dmr/ai/stories260k:latest (' "$tmp/pty.out" && ok
# a member whose model the runner loads first says so (ai/slow-load loads in 1.5 s); the
# same round again, with the model loaded, has no member waiting for a load
expect_exit 0 "pull before compare" "$cli" pull ai/slow-load
for loaded in no yes; do
    python3 "$tmp/on_terminal.py" "$cli" compare -m dmr/ai/slow-load -m dmr/ai/stories260k \
        --max-tokens 8 "Once upon a time" > "$tmp/pty.out" ||
        { echo "failed: compare of a model to load"; cat "$tmp/pty.out"; exit 1; }
    grep -qF $'\r[1] done  [2] done\033[K' "$tmp/pty.out" || { echo "failed: compare loading"; exit 1; }
    if [ $loaded = no ]; then
        grep -qF $'\r[1] loading  [2] ' "$tmp/pty.out" && ok
    else
        ! grep -qF '] loading' "$tmp/pty.out" && ok
    fi
done
# no member answers: exit 1, the round says why; refused before sending: exit 2
expect_exit 1 "compare, every member failing" "$cli" compare -m dmr/ai/not-pulled -m dmr/ai/x hi
grep -q "^ultra-llm: error: model_not_found: no member answered" "$tmp/run.err" && ok
expect_exit 2 "compare without -m" "$cli" compare hi
expect_exit 2 "compare, a quorum above the members" "$cli" compare --quorum 3 -m dmr/ai/stories260k -m dmr/ai/x hi
grep -q "a quorum of 3 among 2 members" "$tmp/run.err" && ok
expect_exit 2 "compare, no backend takes a member" "$cli" compare -m bogus/x -m bogus/y hi
expect_exit 2 "compare --quorum 0" "$cli" compare --quorum 0 -m dmr/ai/stories260k hi

# --metrics FILE: the run's metrics, JSON or Prometheus text by the file's name
expect_exit 0 "compare --metrics" "$cli" compare --metrics "$tmp/metrics.json" \
    -m dmr/ai/stories260k -m dmr/ai/not-pulled --max-tokens 4 Once
check_json '
m = {x["model"]: x for b in d["backends"] if b["backend"] == "dmr" for x in b["models"]}
assert m["ai/stories260k:latest"]["requests_succeeded_total"] == 1, m
assert m["ai/not-pulled:latest"]["requests_failed_total"] == {"model_not_found": 1}, m
assert d["rounds_total"] == 1 and d["round_members_total"] == 2, d
' "compare --metrics" < "$tmp/metrics.json" && ok
expect_exit 0 "chat --metrics" "$cli" chat --metrics "$tmp/metrics.prom" -m dmr/ai/stories260k \
    --max-tokens 4 Once
grep -qx 'ulm_requests_succeeded_total{backend="dmr",model="ai/stories260k:latest"} 1' \
    "$tmp/metrics.prom" && grep -q "^# TYPE ulm_requests_started_total counter" "$tmp/metrics.prom" && ok
expect_exit 1 "--metrics into a missing folder" "$cli" embed --metrics "$tmp/none/m.prom" \
    -m dmr/ai/stories260k Once
grep -q "^ultra-llm: --metrics: cannot write $tmp/none/m.prom" "$tmp/run.err" && ok

# doctor, after probing, says how each backend stands and what the runner holds loaded
expect_exit 0 "unload before doctor" "$cli" unload --all
expect_exit 0 "chat before doctor" "$cli" chat -m dmr/ai/stories260k --max-tokens 2 Once
"$cli" doctor --json | check_json '
s = {x["backend"]: x for x in d["status"]}
assert s["dmr"]["state"] == "up" and s["dmr"]["answered"] == 1, s
assert [r["model"] for r in s["dmr"]["loaded"]] == ["ai/stories260k:latest"], s
assert s["dmr"]["breakers"][0]["state"] == "closed", s
assert s["openai"]["state"] == "not_configured" and s["openai"]["loaded"] is None, s
' "doctor --json status" && ok
"$cli" doctor > "$tmp/doctor.out"
grep -qx "  dmr: up (1 of 1 endpoint answered); 1 model loaded: ai/stories260k:latest (idle)" \
    "$tmp/doctor.out" && grep -qx "  openai: not_configured" "$tmp/doctor.out" && ok
MODEL_RUNNER_URL=http://127.0.0.1:$closed "$cli" doctor > "$tmp/doctor.out" 2>&1 || true
grep -qx "  dmr: down (0 of 1 endpoint answered)" "$tmp/doctor.out" && ok
unset MODEL_RUNNER_URL

echo "$passed passed, 0 failed"
[ "$passed" -eq 85 ]
