#!/usr/bin/env bash
# quickstart.sh - the main job: build ultra-llm and get a real completion from a local model,
# from Docker Model Runner when one answers, else from the project's DMR emulator.
#
#   bash examples/quickstart.sh [ultra-llm chat options] [PROMPT]
#
# Environment: MODEL_RUNNER_URL (where to look for Docker Model Runner, default
# http://localhost:12434), ULM_DEV_MODEL (the GGUF file the emulator serves when no Docker
# Model Runner answers; default ../shared/testdata/models/stories260K.gguf), ULTRA_LLM (an
# ultra-llm program to use instead of building one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ULM_BUILD_DIR:-$root/build}
export ULM_ROOT=$root
export ULM_SHARED=${ULM_SHARED:-$root/../shared}

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--max-tokens 48 "Once upon a time")

ultra_llm=${ULTRA_LLM:-}
if [ -z "$ultra_llm" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
    cmake --build "$build" -j2 --target ultra-llm > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
    ultra_llm=$build/examples/ultra-llm
fi

runner=${MODEL_RUNNER_URL:-http://localhost:12434}
runner=${runner%/}
# the library asks this address and no other: no discovery probe (inside a container its
# candidates include addresses off this machine)
export MODEL_RUNNER_URL=$runner
case "$runner" in
    */v1) api=$runner ;;
    *) api=$runner/engines/v1 ;;
esac
# names_a_model ARG... -> whether the chat's arguments choose the model themselves
names_a_model() {
    local arg
    for arg in "$@"; do
        case $arg in -m* | --model* | --config*) return 0 ;; esac
    done
    return 1
}

if listed=$(curl -fsS -m 3 "$api/models" 2>/dev/null); then
    echo "quickstart: Docker Model Runner answers at $runner" >&2
    # the default model as the library names it ("dmr/ai/smollm2:latest"): is it pulled?
    model=$(ULM_LOG='' "$ultra_llm" doctor 2>/dev/null | sed -n 's|^default model: dmr/||p') || true
    if ! names_a_model "${args[@]}" && [ -n "$model" ] && ! grep -qF "\"$model\"" <<< "$listed"; then
        short=${model%:latest}
        echo "quickstart: Docker Model Runner at $runner does not have the model $short;" \
             "pull it with \`docker model pull $short\` (or \`ultra-llm pull $short\`), or set" \
             "DEFAULT_LOCAL_MODEL to a model it has (\`docker model ls\`)" >&2
        exit 1
    fi
    exec "$ultra_llm" chat "${args[@]}"
fi

model=${ULM_DEV_MODEL:-$ULM_SHARED/testdata/models/stories260K.gguf}
if [ ! -f "$model" ]; then
    echo "quickstart: no Docker Model Runner at $runner, and no GGUF model at $model;" \
         "set ULM_DEV_MODEL to a .gguf file" >&2
    exit 1
fi
if [ ! -d "$root/tests/servers/node_modules/node-llama-cpp" ]; then
    echo "quickstart: the local server's packages are missing: run bash .ci/install-deps" >&2
    exit 1
fi
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
trap ulm_cleanup EXIT
name=$(basename "$model" .gguf | tr 'A-Z' 'a-z' | tr -c 'a-z0-9._\n-' '-')
ulm_start_dmr "ai/$name" "$model"
echo "quickstart: no Docker Model Runner at $runner; serving $model as ai/$name at $ULM_DMR_URL" >&2
MODEL_RUNNER_URL=$ULM_DMR_URL DEFAULT_LOCAL_MODEL=ai/$name "$ultra_llm" chat "${args[@]}"
