#!/bin/sh
# check-exports-test.sh - check-exports.sh fails when it should: on small libraries built here
# with known exports, against baselines that lack a symbol, list one too many, or were
# recorded for another SOVERSION; and --update records what the rules allow.
#
#   check-exports-test.sh CHECK_EXPORTS_SH WORK_DIR     (WORK_DIR is removed when it ends)
set -eu
check=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0

# library SOVERSION SYMBOL... -> $work/libultrallm.so.SOVERSION exporting each SYMBOL
library() {
    so=$1
    shift
    : > "$work/lib.c"
    for symbol in "$@"; do
        printf '__attribute__((visibility("default"))) int %s(void) { return 0; }\n' \
            "$symbol" >> "$work/lib.c"
    done
    printf 'int ulm__hidden(void) { return 1; }\n' >> "$work/lib.c"
    cc -shared -fPIC -fvisibility=hidden -Wl,-soname,"libultrallm.so.$so" "$work/lib.c" \
        -o "$work/libultrallm.so.$so"
}

# baseline SOVERSION LINE... -> $work/symbols.txt
baseline() {
    printf '# test baseline\nsoversion %s\n' "$1" > "$work/symbols.txt"
    shift
    printf '%s\n' "$@" >> "$work/symbols.txt"
}

# expect STATUS SAYS CHECK_ARGS... -> check-exports.sh exits STATUS (0 or 1) saying SAYS
expect() {
    status=$1 says=$2
    shift 2
    got=0
    sh "$check" "$@" > "$work/out" 2>&1 || got=$?
    if [ "$got" != "$status" ] || ! grep -qF -- "$says" "$work/out"; then
        cat "$work/out"
        echo "failed: check-exports.sh $*: exit $got (wanted $status) or no '$says'"
        exit 1
    fi
    passed=$((passed + 1))
}

library 0 ulm_a ulm_b
baseline 0 "ulm_a 0.1.0" "ulm_b 0.1.0"
expect 0 "2 symbols, all ulm_ and all in the baseline" "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0

baseline 0 "ulm_a 0.1.0" "ulm_b 0.1.0" "ulm_c 0.1.0"
expect 1 "ulm_c (since 0.1.0)" "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0
expect 1 "raise ULM_SOVERSION" "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0
expect 1 "refusing to drop" --update "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0
grep -q '^ulm_c 0.1.0$' "$work/symbols.txt" || { echo "failed: a refused update wrote"; exit 1; }

baseline 0 "ulm_a 0.1.0"
expect 1 "  ulm_b" "$work/libultrallm.so.0" "$work/symbols.txt" 0.2.0
expect 1 "--update $work/libultrallm.so.0 $work/symbols.txt 0.2.0" \
    "$work/libultrallm.so.0" "$work/symbols.txt" 0.2.0
expect 0 "recorded as new in 0.2.0" --update "$work/libultrallm.so.0" "$work/symbols.txt" 0.2.0
if ! grep -q '^ulm_a 0.1.0$' "$work/symbols.txt" || ! grep -q '^ulm_b 0.2.0$' "$work/symbols.txt"
then
    cat "$work/symbols.txt"; echo "failed: --update kept 0.1.0 and added 0.2.0"; exit 1
fi
expect 0 "all in the baseline" "$work/libultrallm.so.0" "$work/symbols.txt" 0.2.0

# SOVERSION 1 drops ulm_b: refused until the baseline is recorded for it, then passes.
library 1 ulm_a
expect 1 "recorded for SOVERSION 0" "$work/libultrallm.so.1" "$work/symbols.txt" 0.3.0
expect 0 "dropped (SOVERSION 0 -> 1)" --update "$work/libultrallm.so.1" "$work/symbols.txt" 0.3.0
if ! grep -q '^soversion 1$' "$work/symbols.txt" || grep -q '^ulm_b' "$work/symbols.txt"; then
    cat "$work/symbols.txt"; echo "failed: the SOVERSION 1 baseline"; exit 1
fi
expect 0 "SOVERSION 1" "$work/libultrallm.so.1" "$work/symbols.txt" 0.3.0

library 0 ulm_a stray
baseline 0 "ulm_a 0.1.0"
expect 1 "symbols exported outside ulm_" "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0

library 0 ulm_a ulm__leak
expect 1 "internal ulm__ symbols are exported" "$work/libultrallm.so.0" "$work/symbols.txt" 0.1.0

echo "$passed passed, 0 failed"
