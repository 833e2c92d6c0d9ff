#!/usr/bin/env bash
# run.sh - the whole test suite: build, start the test servers, run ctest and the Python
# package's tests (bindings/python/tests/check-package.sh) and a short run of the benchmarks
# (tests/perf/run --quick), then the unit and integration
# tests again under valgrind, and under AddressSanitizer and UndefinedBehaviorSanitizer,
# and the threads tests under ThreadSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ULM_BUILD_DIR:-$root/build}
asan_build=${ULM_ASAN_BUILD_DIR:-$root/build-asan}
export ULM_ROOT=$root
# Docker Model Runner's discovery probes only loopback in the tests (inside a container its
# well-known addresses include a DNS name and 172.17.0.1, which tests must never reach)
export ULM_DMR_CANDIDATES=${ULM_DMR_CANDIDATES:-http://127.0.0.1:12434}
export ULM_SHARED=${ULM_SHARED:-$root/../shared}
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
trap ulm_cleanup EXIT

model=${ULM_TEST_MODEL:-$ULM_SHARED/testdata/models/stories260K.gguf}
openai_spec=$ULM_SHARED/testdata/specs/openai-openapi.yaml
gemini_spec=$ULM_SHARED/testdata/specs/gemini-native.openapi.json
for f in "$model" "$openai_spec" "$gemini_spec"; do
    [ -f "$f" ] || { echo "run.sh: missing test data $f (set ULM_SHARED)" >&2; exit 1; }
done
[ -d "$root/tests/servers/node_modules/node-llama-cpp" ] || {
    echo "run.sh: tests/servers/node_modules is missing: run bash .ci/install-deps" >&2; exit 1; }

echo "== build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DULM_WERROR=ON > /dev/null
cmake --build "$build" -j2 > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }

# The servers keep state (models pulled, faults used up, loads seen): each pass of the tests
# below gets them fresh, as a first run would.
start_servers() {
    ulm_start_dmr ai/stories260k "$model"
    ulm_start_dmr_lifecycle "$model"
    ulm_start_prism "$openai_spec"
    export ULM_TEST_OPENAI_URL=$ULM_PRISM_URL
    ulm_start_fault_proxy "$ULM_PRISM_URL"
    ulm_start_prism "$gemini_spec"
    export ULM_TEST_GEMINI_URL=$ULM_PRISM_URL
    ulm_start_fault_server
    ulm_start_replay_server
    export ULM_TEST_DMR_URL=$ULM_DMR_URL
    export ULM_TEST_DMR_LIFECYCLE_URL=$ULM_DMR_LIFECYCLE_URL
    export ULM_TEST_OPENAI_429_URL=$ULM_PROXY_429_URL
    export ULM_TEST_OPENAI_401_URL=$ULM_PROXY_401_URL
    export ULM_TEST_FAULT_URL=$ULM_FAULT_URL
    export ULM_TEST_REPLAY_URL=$ULM_REPLAY_URL
    echo "dmr emulator $ULM_TEST_DMR_URL, prism $ULM_TEST_OPENAI_URL (OpenAI) and $ULM_TEST_GEMINI_URL (Gemini),"
    echo "fault server $ULM_TEST_FAULT_URL, replay server $ULM_TEST_REPLAY_URL"
}

echo "== starting servers"
start_servers

echo "== ctest"
(cd "$build" && ctest --output-on-failure -j2)
# the fault matrix's cells and outcomes, as the run above printed them
grep -A4 "^fault matrix:" "$build/Testing/Temporary/LastTest.log" || true

echo "== fuzzing: each libFuzzer target for 10 s from its corpus (tests/fuzz/run-fuzz.sh)"
status=0
bash "$root/tests/fuzz/run-fuzz.sh" 10 || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 77 ] || exit 1

echo "== benchmarks, a --quick smoke run (each runs and reads the expected answers; no speed is checked)"
# its raw outputs stay in the build tree, not in /tmp
ULM_PERF_LOG_DIR=$build/perf-logs "$root/tests/perf/run" --quick "$build"

echo "== python package: sdist, bundled wheel and cmake --install, each tested installed"
bash "$root/bindings/python/tests/check-package.sh" "$build"

echo "== valgrind (unit and integration tests), on servers started again"
ulm_stop_servers
start_servers
# the clocks fire on time under valgrind, but the code around them runs far slower
export ULM_TEST_TOLERANCE_MS=1500
# the connection test's meaning is in the closes, not the count, which is what takes time here
export ULM_TEST_CONNECTION_CALLS=150
for test in "$build"/tests/test_* "$build"/tests/itest_*; do
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --error-exitcode=9 "$test" > "$build/valgrind-$(basename "$test").log" 2>&1 || {
        cat "$build/valgrind-$(basename "$test").log"; echo "valgrind: $(basename "$test") failed"; exit 1; }
    echo "valgrind clean: $(basename "$test")"
done

echo "== sanitizers (ASan + UBSan), on servers started again"
ulm_stop_servers
start_servers
cmake -S "$root" -B "$asan_build" -DCMAKE_BUILD_TYPE=Debug -DULM_SANITIZE=ON -DULM_WERROR=ON \
    > /dev/null
cmake --build "$asan_build" -j2 > "$asan_build/build.log" 2>&1 || { cat "$asan_build/build.log"; exit 1; }
(cd "$asan_build" && ULM_TEST_TOLERANCE_MS=1500 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2 -R '^(unit|integration)\.')
echo "== ThreadSanitizer (one client shared by threads, the shared engine, the request limiter, the metrics)"
tsan_build=${ULM_TSAN_BUILD_DIR:-$root/build-tsan}
cmake -S "$root" -B "$tsan_build" -DCMAKE_BUILD_TYPE=Debug -DULM_WERROR=ON \
    -DCMAKE_C_FLAGS=-fsanitize=thread \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    > /dev/null
cmake --build "$tsan_build" -j2 --target itest_threads_live itest_hub_live test_limiter test_metrics \
    > "$tsan_build/build.log" 2>&1 || { cat "$tsan_build/build.log"; exit 1; }
TSAN_OPTIONS=halt_on_error=1 "$tsan_build/tests/itest_threads_live"
TSAN_OPTIONS=halt_on_error=1 "$tsan_build/tests/itest_hub_live"
TSAN_OPTIONS=halt_on_error=1 "$tsan_build/tests/test_limiter"
TSAN_OPTIONS=halt_on_error=1 "$tsan_build/tests/test_metrics"
echo "== all tests passed"
