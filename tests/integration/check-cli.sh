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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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
' "chat --json" && ok

echo "Once upon a time" | "$cli" chat --max-tokens 4 - > /dev/null && ok

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

# Docker Model Runner's failures say how to fix them: a model that is not pulled, and a
# runner that does not answer (a port nothing listens on)
# shellcheck disable=SC2016 # literal backquotes
grep -qF 'ultra-llm: hint: ai/not-pulled is not pulled on this Docker Model Runner: pull it with `ultra-llm pull ai/not-pulled` or `docker model pull ai/not-pulled`' \
    "$tmp/404.err" && ok
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
[ "$(grep -c "hint:" "$tmp/404.err")" -eq 1 ] && ok
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
 "backends": {"openai": {"type": "openai", "url": "http://ulm-test.invalid/v1"}}}
JSON
"$cli" chat --config "$config" -m story --max-tokens 4 "Once" > /dev/null && ok
OPENAI_API_KEY=sk-secret-value-1234567890 "$cli" doctor --config "$config" \
    > "$tmp/doctor.out" 2>&1 || true
grep -q "configuration file: $config" "$tmp/doctor.out" &&
    grep -q "backend openai (openai): key present" "$tmp/doctor.out" &&
    grep -q "alias story: dmr/ai/stories260k" "$tmp/doctor.out" &&
    ! grep -q "sk-secret" "$tmp/doctor.out" && ok
# the cloud does not resolve: the local model answers and the JSON says offline
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
usage_error "unknown provider" 'unknown provider "bogus"' "$cli" chat -m bogus/x hi && ok
usage_error "empty prompt" "the prompt is empty" "$cli" chat "" && ok
printf ' \n' > "$tmp/blank"
usage_error "empty stdin" "the prompt on standard input is empty" "$cli" chat - < "$tmp/blank" && ok
ULM_LOG=verbose usage_error "ULM_LOG" "none, error, warn, info and debug" "$cli" chat hi && ok
# --metrics FILE: the run's metrics, Prometheus text or JSON by the file's name
"$cli" chat --max-tokens 4 --metrics "$tmp/run.prom" "Once upon a time" > /dev/null
grep -qxF 'ulm_calls_succeeded_total{backend="dmr",model="ai/stories260k:latest"} 1' "$tmp/run.prom" ||
    { echo "failed: --metrics FILE"; cat "$tmp/run.prom"; exit 1; }
! command -v promtool > /dev/null || promtool check metrics < "$tmp/run.prom" ||
    { echo "failed: --metrics FILE: promtool"; exit 1; }
"$cli" chat --max-tokens 4 --metrics "$tmp/run.json" "Once upon a time" > /dev/null
check_json '
m = next(b for b in d["backends"] if b["backend"] == "dmr")["models"]
assert [(x["model"], x["calls_succeeded_total"]) for x in m] == [("ai/stories260k:latest", 1)], m
' "--metrics FILE.json" < "$tmp/run.json" && ok
usage_error "--metrics ''" "a file name is needed" "$cli" chat --metrics "" hi && ok
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
for command in chat models doctor; do
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

echo "$passed passed, 0 failed"
[ "$passed" -eq 44 ]
