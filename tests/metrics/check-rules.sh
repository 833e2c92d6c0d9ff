#!/bin/sh
# check-rules.sh - `promtool check rules` on the shipped rules (docs/prometheus/ulm-rules.yml)
# and `promtool test rules` on their known answers (rules-test.yml).
# Exits 77 (skipped) when promtool is not installed (Debian: apt-get install prometheus).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skipped"; exit 77; }
promtool check rules "$here/../../docs/prometheus/ulm-rules.yml"
cd "$here" && promtool test rules rules-test.yml
