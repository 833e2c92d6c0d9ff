#!/bin/sh
# check-format.sh - lists the C files under lib/, adapters/, include/, examples/ and tests/
# that clang-format would change with .clang-format, and fails when there is one.
#
#   sh tests/check-format.sh [CLANG_FORMAT]
#
# The style is tuned for clang-format 14 (Debian 12's); another version may format some
# lines differently. CLANG_FORMAT defaults to clang-format-14, else clang-format.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
clang_format=${1:-}
if [ -z "$clang_format" ]; then
    if command -v clang-format-14 > /dev/null 2>&1; then
        clang_format=clang-format-14
    else
        clang_format=clang-format
    fi
fi
command -v "$clang_format" > /dev/null 2>&1 || {
    echo "check-format.sh: $clang_format not found (Debian: apt-get install clang-format-14)" >&2
    exit 2
}
version=$("$clang_format" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$version" = 14 ] ||
    echo "check-format.sh: $clang_format is version $version, not 14; some lines may differ" >&2

files=$(find lib adapters include examples tests -name node_modules -prune -o \
             \( -name '*.c' -o -name '*.h' \) -print | LC_ALL=C sort)
checked=$(printf '%s\n' "$files" | grep -c .)
# One run over every file; --dry-run names each place it would change.
# shellcheck disable=SC2086 # the file names hold no spaces
report=$("$clang_format" --style=file --dry-run --Werror $files 2>&1) && status=0 || status=$?
unformatted=$(printf '%s\n' "$report" |
    sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | uniq)
if [ -z "$unformatted" ]; then
    [ "$status" = 0 ] || { printf '%s\n' "$report" >&2; exit 2; }
    echo "$checked files, all formatted"
    exit 0
fi
echo "clang-format would change:"
printf '%s\n' "$unformatted" | sed 's/^/  /'
echo "$(printf '%s\n' "$unformatted" | grep -c .) of $checked files are not formatted;" \
     "fix with: $clang_format -i FILE..."
exit 1
