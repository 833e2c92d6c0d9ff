#!/bin/sh
# check-exports.sh - the shared library exports ulm_* symbols and nothing else.
set -eu
lib=$1
exported=$(nm -D --defined-only "$lib" | awk '{print $3}')
count=$(printf '%s\n' "$exported" | grep -c '^ulm_' || true)
strays=$(printf '%s\n' "$exported" | grep -v '^ulm_' | grep -v '^$' || true)
if [ -n "$strays" ]; then
    echo "symbols exported outside ulm_:"; echo "$strays"; exit 1
fi
if printf '%s\n' "$exported" | grep -q '^ulm__'; then
    echo "internal ulm__ symbols are exported:"; printf '%s\n' "$exported" | grep '^ulm__'; exit 1
fi
[ "$count" -gt 50 ] || { echo "only $count ulm_ symbols exported"; exit 1; }
echo "1 passed, 0 failed: $count symbols, all ulm_"
