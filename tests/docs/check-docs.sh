#!/usr/bin/env bash
# check-docs.sh - holds README.md and docs/*.md to the program: compiles every C snippet
# against the installed library, runs every shell command of a ```sh block (or says in the
# table below why it is not run), compares each block marked
# `<!-- docs-test: output of COMMAND -->` with what COMMAND prints, a block marked
# `<!-- docs-test: layout -->` with the tree, and loads each block marked
# `<!-- docs-test: configuration file -->` into a client.
#
#   check-docs.sh BUILD_DIR
#
# The build is installed into a scratch prefix (headers, library, pkg-config file, the
# ultra-llm program first on PATH). Commands run with bash in a scratch directory that
# holds the repository's top-level entries (linked; build is BUILD_DIR) and the C blocks
# marked `<!-- docs-test: save as NAME -->`, against a DMR emulator of its own that serves
# the test model under the docs' model name, ai/smollm2; every other URL is loopback. A
# whole C program is also run there. Needs the test servers' environment (tests/run.sh):
# without ULM_TEST_DMR_URL it skips (77).
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -n "${ULM_TEST_DMR_URL:-}" ] ||
    { echo "skipped: ULM_TEST_DMR_URL is not set (tests/run.sh starts the servers)"; exit 77; }
model=${ULM_TEST_MODEL:-${ULM_SHARED:-$root/../shared}/testdata/models/stories260K.gguf}
[ -f "$model" ] || { echo "skipped: no test model at $model (set ULM_SHARED)"; exit 77; }

# Commands not run, and why: a case pattern (the command's start) and its reason.
not_run() {
    case $1 in
    "bash .ci/install-deps"*) echo "installs Debian and npm packages: needs root and the network" ;;
    "bash tests/run.sh"*) echo "the whole suite, minutes long; it runs this test itself" ;;
    "node tests/servers/dmr-server.mjs --port 12434"*)
        echo "serves on the fixed port 12434 until stopped, and needs /tmp/tiny.gguf;" \
             "check-dmr-emulator.sh runs the emulator with each of these options" ;;
    "sh tests/packaging/check-exports.sh --update"*)
        echo "rewrites the symbol baseline; ctest packaging.exports runs the same script" \
             "without --update" ;;
    *) return 1 ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ulm-docs.XXXXXX")
export ULM_SERVER_LOGS=$work/logs
mkdir -p "$ULM_SERVER_LOGS"
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
trap 'ulm_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log" 2>&1 ||
    { cat "$work/install.log"; echo "failed: cmake --install"; exit 1; }
pcdir=$(dirname "$(find "$work/prefix" -name ultra-llm.pc)")
ulm_start_dmr ai/smollm2 "$model"

# The environment of every command and program: the installed library and program, the
# emulator as Docker Model Runner, no key, every cloud URL on loopback.
unset OPENAI_API_KEY ANTHROPIC_API_KEY GEMINI_API_KEY GOOGLE_API_KEY ULM_CONFIG ULM_LOG \
    DEFAULT_LOCAL_MODEL AVAILABLE_LOCAL_MODELS LOCAL_MODEL_TIMEOUT ENABLE_MODEL_RUNNER \
    USE_LOCAL_MODELS_WHEN_OFFLINE
export PATH=$work/prefix/bin:$PATH PKG_CONFIG_PATH=$pcdir MODEL_RUNNER_URL=$ULM_DMR_URL
export OPENAI_BASE_URL=${ULM_TEST_OPENAI_URL:-http://127.0.0.1:9/v1}
export ANTHROPIC_BASE_URL=${ULM_TEST_REPLAY_URL:-http://127.0.0.1:9}/anthropic/ok
export GEMINI_BASE_URL=${ULM_TEST_REPLAY_URL:-http://127.0.0.1:9}/gemini/ok

run=$work/run
mkdir -p "$run" "$work/blocks"
for entry in "$root"/* "$root"/.ci; do
    [ "$(basename "$entry")" = build ] || ln -s "$entry" "$run/$(basename "$entry")"
done
ln -s "$build" "$run/build"

# check_layout BLOCK -> the paths a layout block names that are not in the tree, and the
# entries of the tree it does not name (the top level, tests/*/ and examples/), one a line
check_layout() {
    local named entry name
    named=$(grep -v '^[[:space:]]' "$1" | awk '{print $1}')
    for name in $named; do
        [ -e "$root/$name" ] || echo "named but not in the tree: $name"
    done
    for entry in "$root"/* "$root"/.ci "$root"/tests/*/ "$root"/examples/*; do
        name=${entry#"$root/"}
        name=${name%/}
        case $name in build | build-* | examples/CMakeLists.txt) continue ;; esac
        [ -d "$entry" ] && name=$name/
        # a folder is named by itself or by a path inside it
        printf '%s\n' "$named" | awk -v e="$name" '$0 == e || (e ~ /\/$/ && index($0, e) == 1) { found = 1 }
            END { exit !found }' || echo "in the tree but not named: $name"
    done
}

# load_config FILE: exits 0 when a client accepts FILE as its configuration file, else
# prints why; nothing is sent anywhere
cat > "$work/load_config.c" <<'C'
#include <stdio.h>
#include <ultrallm/ultrallm.h>

int main(int argc, char **argv)
{
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.config_path = argc > 1 ? argv[1] : "";
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ulm_client_free(client);
    return 0;
}
C

failed=0 compiled=0 ran=0 skipped=0
fail() { echo "FAILED $1: $2"; [ -z "${3:-}" ] || sed 's/^/    /' "$3"; failed=$((failed + 1)); }
cflags=$(pkg-config --cflags ultra-llm)
libs=$(pkg-config --libs ultra-llm)
rpath=$(pkg-config --variable=libdir ultra-llm)
# shellcheck disable=SC2086 # pkg-config's words
cc -std=c11 -Wall -Wextra -Werror $cflags -o "$work/load_config" "$work/load_config.c" $libs \
    -Wl,-rpath,"$rpath"

# Every block, in the documents' order, with the files it saves written first.
(cd "$root" && python3 "$root/tests/docs/docs_blocks.py" "$work/blocks" README.md docs/*.md) \
    > "$work/blocks.tsv"
while IFS=$'\t' read -r kind id where detail; do
    [ "$kind" = save ] && cp "$work/blocks/$id.raw" "$run/$detail"
done < "$work/blocks.tsv"

while IFS=$'\t' read -r kind id where detail; do
    case $kind in
    c-program | c-fragment)
        flags=(-std=c11 -Wall -Wextra -Werror)
        # a fragment stands for a place in a program: what it leaves unused is not a mistake
        [ "$kind" = c-program ] ||
            flags+=(-Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function
                    -Wno-unused-parameter)
        # shellcheck disable=SC2086 # pkg-config's words
        if ! cc "${flags[@]}" $cflags -o "$work/blocks/$id" "$work/blocks/$id.c" $libs \
            -Wl,-rpath,"$rpath" > "$work/blocks/$id.log" 2>&1; then
            fail "$where" "the C snippet does not compile" "$work/blocks/$id.log"
            continue
        fi
        compiled=$((compiled + 1))
        if [ "$kind" = c-program ]; then
            (cd "$run" && timeout 120 "$work/blocks/$id") > "$work/blocks/$id.log" 2>&1 ||
                { fail "$where" "the program exits $?" "$work/blocks/$id.log"; continue; }
            ran=$((ran + 1))
        fi
        ;;
    output)
        (cd "$run" && timeout 120 bash -euo pipefail -c "$detail") > "$work/blocks/$id.got" 2>&1 ||
            { fail "$where" "exits $?: $detail" "$work/blocks/$id.got"; continue; }
        diff -u "$work/blocks/$id.out" "$work/blocks/$id.got" > "$work/blocks/$id.log" ||
            { fail "$where" "differs from what $detail prints" "$work/blocks/$id.log"; continue; }
        ran=$((ran + 1))
        ;;
    config)
        "$work/load_config" "$work/blocks/$id.json" > "$work/blocks/$id.log" 2>&1 ||
            { fail "$where" "a client refuses this configuration file" "$work/blocks/$id.log"; continue; }
        ran=$((ran + 1))
        ;;
    layout)
        check_layout "$work/blocks/$id.out" > "$work/blocks/$id.log"
        [ ! -s "$work/blocks/$id.log" ] ||
            { fail "$where" "the layout differs from the tree" "$work/blocks/$id.log"; continue; }
        ran=$((ran + 1))
        ;;
    c-skipped)
        echo "not compiled $where: $detail"
        skipped=$((skipped + 1))
        ;;
    sh)
        command=$(cat "$work/blocks/$id.sh")
        if reason=$(not_run "$command"); then
            echo "not run $where: $detail"
            echo "    why: $reason"
            skipped=$((skipped + 1))
            continue
        fi
        # nothing reaches past loopback: a command naming another host must be in the table
        if grep -oE '[a-z]+://[^/ :"]+' "$work/blocks/$id.sh" | grep -vqE '://(127\.[0-9.]+|localhost)$'; then
            fail "$where" "names a host off loopback; run it against loopback or add it to not_run"
            continue
        fi
        (cd "$run" && timeout 120 bash -euo pipefail "$work/blocks/$id.sh") \
            > "$work/blocks/$id.log" 2>&1 ||
            { fail "$where" "exits $?: $detail" "$work/blocks/$id.log"; continue; }
        ran=$((ran + 1))
        ;;
    esac
done < "$work/blocks.tsv"

echo "docs: $compiled C snippets compiled, $ran programs and commands run, $skipped not run, $failed failed"
[ "$failed" -eq 0 ] && [ "$compiled" -gt 0 ] && [ "$ran" -gt 0 ]
