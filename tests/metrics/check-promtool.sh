#!/bin/sh
# check-promtool.sh - `promtool check metrics` on a real export (metrics_sample), and what
# promtool does not check: no series twice, buckets that never go down, +Inf equal to _count.
# Exits 77 (skipped) when promtool is not installed (Debian: apt-get install prometheus).
set -eu
sample=$1
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ulm-promtool.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$sample" > "$work/metrics.prom"
# promtool parses the text (exit 1) and lints names, units, help and suffixes (exit 3)
promtool check metrics < "$work/metrics.prom"
awk '
    /^#/ { next }
    {
        series = $0; sub(/ [^ ]*$/, "", series)        # the value is the last field
        value = $0; sub(/.* /, "", value)
        if (seen[series]++) { print "twice: " series; bad = 1 }
        if (match(series, /_bucket\{.*,le="[^"]*"\}$/)) {
            key = series; sub(/,le="[^"]*"\}$/, "}", key); sub(/_bucket\{/, "{", key)
            if (key == last_key && value + 0 < last_value + 0) {
                print "goes down: " series; bad = 1
            }
            last_key = key; last_value = value
            if (series ~ /,le="\+Inf"\}$/) inf[key] = value
        } else if (match(series, /_count\{/)) {
            key = series; sub(/_count\{/, "{", key); count[key] = value
        }
    }
    END {
        for (key in inf) if (!(key in count) || count[key] != inf[key]) {
            print "+Inf bucket differs from _count: " key; bad = 1
        }
        n = 0; for (key in inf) n++
        if (n == 0) { print "no histogram in the sample"; bad = 1 }
        exit bad
    }' "$work/metrics.prom"
echo "1 passed, 0 failed: $(grep -vc '^#' "$work/metrics.prom") samples checked"
