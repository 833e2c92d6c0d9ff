#!/usr/bin/env bash
# check-canary.sh - a distinct secret in every place a key can be given, and none of them in anything the program or the library prints.
#
#   check-canary.sh ULTRA_LLM
#
# Keys go in each backend's key variable, a variable the configuration file names by
# api_key_env, a URL's userinfo and a URL's query; the fault server's echo/N scenario
# repeats the URL and the key headers it was sent, in errors and in a stream's error
# event. Every mode runs (ULM_LOG=debug, plain and --json errors, --stream, doctor, models)
# and all it printed is searched for every secret: 0 occurrences, and each backend's
# echo must be there, redacted, so that the search looked at real output.
set -euo pipefail
cli=$1
for var in ULM_TEST_DMR_URL ULM_TEST_FAULT_URL; do
    [ -n "${!var:-}" ] || { echo "skipped: $var is not set (tests/run.sh starts the servers)"; exit 77; }
done
unset OPENAI_BASE_URL ANTHROPIC_BASE_URL GEMINI_BASE_URL AVAILABLE_LOCAL_MODELS ENABLE_MODEL_RUNNER \
    LOCAL_MODEL_TIMEOUT GOOGLE_API_KEY ULM_CONFIG
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-canary.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fault=$ULM_TEST_FAULT_URL
hostport=${fault#http://}
tag=$$-$RANDOM

export MODEL_RUNNER_URL=$ULM_TEST_DMR_URL DEFAULT_LOCAL_MODEL=ai/stories260k
export OPENAI_API_KEY=sk-canary-openai-$tag-0123456789
export ANTHROPIC_API_KEY=sk-ant-canary-anthropic-$tag-0123456789
export GEMINI_API_KEY=AIzaCanaryGemini$tag-0123456789abcdef
export CANARY_FILE_KEY=canary-file-key-$tag-0123456789
userinfo_secret=canary-userinfo-$tag-0123456789
query_secret=canary-query-$tag-0123456789
# libcurl sends userinfo as Basic credentials, which an echo repeats
basic=$(printf 'proxyuser:%s' "$userinfo_secret" | base64 -w0 | tr -d =)
secrets=("$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" "$GEMINI_API_KEY" "$CANARY_FILE_KEY"
         "$userinfo_secret" "$query_secret" "$basic")

export OPENAI_BASE_URL=$fault/echo/401/v1
export ANTHROPIC_BASE_URL=$fault/echo/500
export GEMINI_BASE_URL=$fault/echo/500/v1beta
config=$tmp/config.json
cat > "$config" <<JSON
{"backends": {
  "filekey": {"type": "openai", "url": "$fault/echo/500/v1", "api_key_env": "CANARY_FILE_KEY"},
  "userinfo": {"type": "openai", "url": "http://proxyuser:$userinfo_secret@$hostport/echo/502/v1"},
  "query": {"type": "openai", "url": "$fault/echo/503/v1?api_key=$query_secret"},
  "streamed": {"type": "openai", "url": "$fault/echo/200/v1", "api_key_env": "CANARY_FILE_KEY"}}}
JSON

out=$tmp/all.out
run() { "$cli" "$@" >> "$out" 2>&1 || true; }
models=(openai/fault-model anthropic/claude-canary gemini/gemini-canary filekey/fault-model
        userinfo/fault-model query/fault-model streamed/fault-model)
for level in debug warn; do
    for model in "${models[@]}"; do
        ULM_LOG=$level run chat --config "$config" -m "$model" --max-tokens 4 "hi"
        ULM_LOG=$level run chat --config "$config" -m "$model" --max-tokens 4 --json "hi"
        ULM_LOG=$level run chat --config "$config" -m "$model" --max-tokens 4 --stream "hi"
        ULM_LOG=$level run chat --config "$config" -m "$model" --max-tokens 4 --stream --json "hi"
    done
    # a chain through every keyed backend, ending at the local model
    ULM_LOG=$level run chat --config "$config" --json --max-tokens 4 \
        -m filekey/fault-model -m userinfo/fault-model -m query/fault-model -m dmr/ai/stories260k "hi"
    ULM_LOG=$level run doctor --config "$config"
    ULM_LOG=$level run doctor --config "$config" --json
    ULM_LOG=$level run models --config "$config"
    ULM_LOG=$level run models --config "$config" --json
done

found=0
for secret in "${secrets[@]}"; do
    n=$(grep -cF -- "$secret" "$out" || true)
    if [ "$n" -ne 0 ]; then
        echo "canary: a secret appears $n times:"
        grep -nF -- "$secret" "$out" | head -5
        found=$((found + n))
    fi
done
# the search looked at real output: the backends' echoes and the URLs are there, redacted
for expected in "Bearer [REDACTED]" "x-api-key: [REDACTED]" "x-goog-api-key: [REDACTED]" \
                "http://[REDACTED]@$hostport/echo/502/v1" "api_key=[REDACTED]" "configuration file: $config"; do
    grep -qF -- "$expected" "$out" || { echo "canary: nothing shows \"$expected\""; found=$((found + 1)); }
done
echo "canary: ${#secrets[@]} secrets, $(wc -l < "$out") lines of output in $((2 * (4 * ${#models[@]} + 5))) runs, $found occurrences"
[ "$found" -eq 0 ]
