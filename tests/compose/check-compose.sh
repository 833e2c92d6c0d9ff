#!/usr/bin/env bash
# check-compose.sh - compose.yaml: its structure, and each service's command run with exactly the environment Compose would inject.
#
#   check-compose.sh ULTRA_LLM_PROGRAM
#
# The structure is checked by compose_env.py (a structural check written from the Compose
# specification: no npm package ships a schema that knows the models element), which must
# also refuse broken copies of the file. Then a DMR emulator of its own serves every model
# of the file (the test model under the file's names) and each service's command runs with
# no environment but PATH, the variables Compose would give it (its own environment and
# <KEY>_URL / <KEY>_MODEL per model, the URL pointing at the emulator's loopback port in
# place of model-runner.docker.internal, in the current form .../v1/ and the older
# .../engines/v1/), and ULM_DMR_CANDIDATES at a dead loopback port: a call that went to the
# discovered runner instead of Compose's would fail, and nothing leaves 127.0.0.0/8.
set -euo pipefail
cli=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/compose
file=$root/compose.yaml
gguf=${ULM_TEST_MODEL:-${ULM_SHARED:-$root/../shared}/testdata/models/stories260K.gguf}
[ -f "$gguf" ] || { echo "skipped: no test model at $gguf (set ULM_SHARED)"; exit 77; }
# the first python3 that has PyYAML: PATH's, else Debian's, where python3-yaml puts it
python=
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import yaml' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] ||
    { echo "skipped: python3-yaml is not installed (.ci/install-deps installs it)"; exit 77; }
command -v node > /dev/null || { echo "skipped: node is not installed"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ulm-compose.XXXXXX")
export ULM_ROOT=$root ULM_SERVER_LOGS=$tmp/logs
mkdir -p "$ULM_SERVER_LOGS"
# shellcheck source=tests/servers/lib.sh
source "$root/tests/servers/lib.sh"
trap 'ulm_cleanup; rm -rf "$tmp"' EXIT
passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "failed: $*"; exit 1; }
compose_env() { "$python" "$here/compose_env.py" "$@"; }

# 1. the file's structure, and the check refuses what the specification does not allow
compose_env check "$file" || fail "compose.yaml does not have the Compose structure"
ok
broken() { # NAME SED_EXPRESSION: a copy of the file changed by the expression must be refused
    sed "$2" "$file" > "$tmp/$1.yaml"
    cmp -s "$file" "$tmp/$1.yaml" && fail "the change '$2' did not apply to compose.yaml"
    if compose_env check "$tmp/$1.yaml" > "$tmp/$1.out"; then
        fail "the check accepts a file with $1"
    fi
    ok
}
broken "a model key no service may take" 's/^      - llm$/      - no-such-model/'
broken "a model without its model attribute" 's/^    model: /    image: /'
broken "an unknown model attribute" 's/^    context_size:/    context_window:/'
broken "an endpoint_var that is no variable name" 's/endpoint_var: ASSISTANT_URL/endpoint_var: 1-URL/'
broken "an unknown top-level element" 's/^models:$/model:/'

# 2. an emulator serving every model of the file
mapfile -t models < <(compose_env models "$file")
[ ${#models[@]} -gt 0 ] || fail "compose.yaml has no models"
args=()
for m in "${models[@]}"; do args+=(--model "$m=$gguf"); done
node "$root/tests/servers/dmr-server.mjs" --host 127.0.0.1 --port 0 "${args[@]}" \
    > "$ULM_SERVER_LOGS/dmr.log" 2> "$ULM_SERVER_LOGS/dmr.log.err" &
ULM_SERVER_PIDS+=($!)
ulm_wait_ready 300 0.1 "the DMR emulator" "$ULM_SERVER_LOGS/dmr.log.err" \
    ulm_listening_url "$ULM_SERVER_LOGS/dmr.log" dmr-server ULM_DMR_URL

# 3. each service's command with Compose's environment, in both URL forms
dead=http://127.0.0.1:9
in_compose() { env -i PATH="$PATH" ULM_DMR_CANDIDATES=$dead "${injected[@]}" "$cli" "$@"; }
mapfile -t services < <(compose_env services "$file")
for service in "${services[@]}"; do
    mapfile -t command < <(compose_env command "$file" "$service")
    [ ${#command[@]} -gt 0 ] || fail "service $service has no command"
    for api_root in "$ULM_DMR_URL/v1/" "$ULM_DMR_URL/engines/v1/"; do
        mapfile -t injected < <(compose_env env "$file" "$service" "$api_root")
        # the backend the library makes of the pair: the URL variable's prefix, lower-cased
        url_var=$(printf '%s\n' "${injected[@]}" | sed -n 's/^\([A-Za-z0-9_]*\)_URL=.*/\1/p')
        [ "$(printf '%s\n' "$url_var" | wc -l)" -eq 1 ] || fail "$service: one model expected"
        backend=$(printf '%s' "$url_var" | tr '[:upper:]' '[:lower:]')
        in_compose "${command[@]}" > "$tmp/out" 2> "$tmp/err" ||
            { cat "$tmp/err"; fail "$service (${api_root#"$ULM_DMR_URL"}): ${command[*]}"; }
        [ -s "$tmp/out" ] || fail "$service printed nothing"
        ok
        # the same call with --json: who answered, with which model, in one attempt
        in_compose "${command[0]}" --json "${command[@]:1}" |
            BACKEND=$backend MODEL=${models[0]} python3 -c '
import json, os, sys
d = json.load(sys.stdin)
assert d["provider"] == os.environ["BACKEND"], d
assert d["model"] == os.environ["MODEL"] + ":latest", d
assert d["text"] and len(d["attempts"]) == 1 and d["attempts"][0]["ok"], d
' || fail "$service: not answered by backend $backend"
        ok
        # doctor shows the Compose backend, its model, and its endpoint answering
        in_compose doctor --json | BACKEND=$backend URL=$api_root MODEL=${models[0]} python3 -c '
import json, os, sys
d = json.load(sys.stdin)
name, url, model = os.environ["BACKEND"], os.environ["URL"].rstrip("/"), os.environ["MODEL"]
assert {"name": name, "model": model} in d["configuration"]["compose_models"], d
b = [b for b in d["configuration"]["backends"] if b["name"] == name]
assert len(b) == 1 and b[0]["origin"] == "compose" and b[0]["type"] == "dmr", b
e = [e for e in d["endpoints"] if e["backend"] == name]
assert len(e) == 1 and e[0]["url"] == url and e[0]["reachable"], e
assert model + ":latest" in e[0]["models"], e
' || fail "$service: doctor does not show backend $backend at $api_root"
        ok
    done
done
echo "compose: $passed passed, 0 failed"
