#!/bin/sh
# check-headers.sh - every public header compiles alone as strict C99 and as C++.
set -eu
include=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/ulm-headers.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0
for header in "$include"/ultrallm/*.h; do
    name=ultrallm/$(basename "$header")
    printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$name" "$name" > "$work/t.c"
    cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$include" -c "$work/t.c" -o "$work/t.o"
    cp "$work/t.c" "$work/t.cpp"
    c++ -std=c++11 -Wall -Wextra -pedantic -Werror -I"$include" -c "$work/t.cpp" -o "$work/t.o"
    passed=$((passed + 1))
done
echo "$passed passed, 0 failed"
