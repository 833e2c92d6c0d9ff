#!/usr/bin/env bash
# run-fuzz.sh - builds the libFuzzer targets with clang and runs each for a bounded time from its saved corpus.
#
#   bash tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET]    (default 10; tests/run.sh uses 10)
#
# Targets: fuzz_config_file (corpus/), fuzz_stream (corpus_stream/), fuzz_text
# (corpus_text/). Each runs in a scratch copy of its corpus, so the repository's stays as
# it is; a crash is saved in the build directory as crash-<sha1> and fails the run. The
# build goes to ULM_FUZZ_BUILD_DIR (default build-fuzz). Prints each target's executions.
# A longer run: bash tests/fuzz/run-fuzz.sh 600
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-10}
build=${ULM_FUZZ_BUILD_DIR:-$root/build-fuzz}
command -v clang > /dev/null || { echo "run-fuzz.sh: clang is needed for libFuzzer"; exit 77; }

CC=clang cmake -S "$root" -B "$build" -DULM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j2 --target fuzz_config_file fuzz_stream fuzz_text > "$build/fuzz-build.log" 2>&1 ||
    { cat "$build/fuzz-build.log"; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ulm-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
total=0
for spec in fuzz_config_file:corpus:2048 fuzz_stream:corpus_stream:8192 fuzz_text:corpus_text:4096; do
    IFS=: read -r target corpus max_len <<< "$spec"
    mkdir -p "$scratch/$target"
    cp "$root/tests/fuzz/$corpus/"* "$scratch/$target/"
    log=$scratch/$target.log
    # leaks are the replays' business under valgrind; here a leak would stop the run at once
    if ! (cd "$build" && "./tests/fuzz/$target" -max_total_time="$seconds" -max_len="$max_len" \
            -print_final_stats=1 -detect_leaks=1 "$scratch/$target" > "$log" 2>&1); then
        tail -40 "$log"
        echo "run-fuzz.sh: $target failed; the input is in $build as crash-* or leak-*"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    total=$((total + runs))
    echo "fuzz: $target: $runs executions in ${seconds} s, no crash, leak or failed check"
done
echo "fuzz: $total executions in all"
