#!/bin/sh
# check-exports.sh - the shared library exports ulm_* functions and nothing else, and exactly
# those of the baseline (symbols.txt): none disappears unless the SOVERSION was raised, none
# appears without being recorded. --update records the library's list in the baseline.
#
#   check-exports.sh [--update] LIBRARY BASELINE VERSION
#
# VERSION is the project's version, the one a symbol new to the baseline is recorded with.
set -eu
update=0
if [ "${1:-}" = --update ]; then
    update=1
    shift
fi
[ $# -eq 3 ] || { echo "usage: check-exports.sh [--update] LIBRARY BASELINE VERSION" >&2; exit 2; }
lib=$1
baseline=$2
version=$3
update_command="sh $0 --update $lib $baseline $version"

exported=$(nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | LC_ALL=C sort)
strays=$(printf '%s\n' "$exported" | grep -v '^ulm_' | grep -v '^$' || true)
if [ -n "$strays" ]; then
    echo "symbols exported outside ulm_:"; echo "$strays"; exit 1
fi
internal=$(printf '%s\n' "$exported" | grep '^ulm__' || true)
if [ -n "$internal" ]; then
    echo "internal ulm__ symbols are exported:"; echo "$internal"; exit 1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
soversion=${soname##*.so.}
recorded_soversion=$(awk '$1 == "soversion" {print $2}' "$baseline")

# Symbols of the baseline the library lacks, with the version that introduced each.
removed=$(printf '%s\n' "$exported" |
    awk 'NR == FNR {have[$1] = 1; next} /^ulm_/ && !($1 in have) {print $1 " (since " $2 ")"}' \
        - "$baseline")
# Symbols the library exports that the baseline does not list.
added=$(printf '%s\n' "$exported" |
    awk 'NR == FNR {if ($1 ~ /^ulm_/) known[$1] = 1; next} $1 != "" && !($1 in known)' \
        "$baseline" -)

if [ "$update" = 1 ]; then
    if [ -n "$removed" ] && [ "$soversion" = "$recorded_soversion" ]; then
        echo "refusing to drop these from the baseline while the SOVERSION is still $soversion:"
        printf '%s\n' "$removed" | sed 's/^/  /'
        echo "Removing an exported function needs a raised SOVERSION (docs/abi.md)."
        exit 1
    fi
    {
        echo "# The functions libultrallm.so exports, each with the version that introduced it,"
        echo "# for the SOVERSION on the next line. tests/packaging/check-exports.sh (ctest"
        echo "# packaging.exports) holds the library to it; docs/abi.md says when and how to update."
        echo "soversion $soversion"
        printf '%s\n' "$exported" |
            awk -v v="$version" 'NR == FNR {if ($1 ~ /^ulm_/) since[$1] = $2; next}
                                 {print $1, ($1 in since ? since[$1] : v)}' "$baseline" -
    } > "$baseline.new"
    mv "$baseline.new" "$baseline"
    [ -z "$added" ] || { echo "recorded as new in $version:"; printf '%s\n' "$added" | sed 's/^/  /'; }
    [ -z "$removed" ] || { echo "dropped (SOVERSION $recorded_soversion -> $soversion):"; printf '%s\n' "$removed" | sed 's/^/  /'; }
    echo "$baseline: $(printf '%s\n' "$exported" | grep -c .) symbols, SOVERSION $soversion"
    exit 0
fi

failed=0
if [ "$soversion" != "$recorded_soversion" ]; then
    echo "The library is $soname, but the baseline $baseline"
    echo "was recorded for SOVERSION $recorded_soversion. A raised SOVERSION may drop symbols;"
    echo "record the new ABI with:"
    echo "  $update_command"
    failed=1
elif [ -n "$removed" ]; then
    echo "$soname no longer exports these functions of the baseline $baseline:"
    printf '%s\n' "$removed" | sed 's/^/  /'
    echo "Programs linked against $soname that call them would no longer load. Export them"
    echo "again; or, if the break is intended, raise ULM_SOVERSION in CMakeLists.txt"
    echo "(docs/abi.md), rebuild, and record the new ABI with:"
    echo "  $update_command"
    failed=1
fi
if [ -n "$added" ]; then
    echo "$soname exports functions the baseline $baseline does not list:"
    printf '%s\n' "$added" | sed 's/^/  /'
    echo "An exported function is ABI for as long as the SOVERSION lasts (docs/abi.md). If it"
    echo "is meant to be public, declare it with ULM_EXTERN in include/ultrallm/, add it to"
    echo "CHANGELOG.md, and record it (as introduced in $version) with:"
    echo "  $update_command"
    echo "If it is not, give it the internal ulm__ prefix and no ULM_EXTERN."
    failed=1
fi
[ "$failed" = 0 ] || exit 1
echo "1 passed, 0 failed: $(printf '%s\n' "$exported" | grep -c .) symbols, all ulm_ and all in the baseline (SOVERSION $soversion)"
