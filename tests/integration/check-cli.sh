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
' "chat --json" && ok

echo "Once upon a time" | "$cli" chat --max-tokens 4 - > /dev/null && ok

# a dead local backend first, then the live one: the trail shows both
MODEL_RUNNER_URL=http://127.0.0.1:1 "$cli" chat --json -m dmr/ai/stories260k -m openai/gpt-4o-mini \
    "hi" > "$tmp/fail.json" 2> "$tmp/fail.err" && {
    echo "failed: a dead backend must fail"; exit 1; }
check_json '
assert [a["error"] for a in d["attempts"]] == ["connect", "not_configured"], d["attempts"]
assert d["error"]["class"] == "connect", d["error"]
' "failure --json" < "$tmp/fail.json" && ok
[ "$(wc -l < "$tmp/fail.err")" -eq 1 ] || { echo "failed: one stderr line"; exit 1; }
grep -q "^ultra-llm: error: connect (backend dmr, no HTTP status, 2 attempts)" \
    "$tmp/fail.err" && ok

status=0
OPENAI_API_KEY=sk-secret-value-1234567890 "$cli" chat -m dmr/ai/not-pulled "hi" \
    2> "$tmp/404.err" > /dev/null || status=$?
[ "$status" -eq 1 ] && grep -q "model_not_found (backend dmr, HTTP 404" "$tmp/404.err" && ok
! grep -q "sk-secret" "$tmp/404.err" && ok

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

echo "$passed passed, 0 failed"
[ "$passed" -eq 23 ]
