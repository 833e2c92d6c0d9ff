#!/bin/sh
# check-min-versions.sh - configuring the project stops with a message naming the minimum when
# libcurl is older than 7.80.0 or jansson older than 2.14, and goes through at 7.80.0: the
# versions are faked with a curl/curlver.h and a jansson.pc that say so.
#
#   check-min-versions.sh SOURCE_DIR WORK_DIR     (WORK_DIR is removed when it ends)
set -eu
src=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0

# fake_curl VERSION -> an include directory whose curl headers say VERSION
fake_curl() {
    mkdir -p "$work/curl-$1/curl"
    printf '#define LIBCURL_VERSION "%s"\n' "$1" > "$work/curl-$1/curl/curlver.h"
    : > "$work/curl-$1/curl/curl.h"
    echo "$work/curl-$1"
}

# configure NAME ARGS... -> configures into $work/NAME, output in $work/NAME.log; its status
configure() {
    name=$1
    shift
    cmake -S "$src" -B "$work/$name" -DBUILD_TESTING=OFF -DULM_BUILD_EXAMPLES=OFF "$@" \
        > "$work/$name.log" 2>&1
}

# expect_refusal NAME MESSAGE ARGS... -> configuring fails and says MESSAGE
expect_refusal() {
    name=$1 message=$2
    shift 2
    if configure "$name" "$@"; then
        cat "$work/$name.log"; echo "failed: $name: configuring went through"; exit 1
    fi
    grep -qF "$message" "$work/$name.log" || {
        cat "$work/$name.log"; echo "failed: $name: no '$message'"; exit 1; }
    passed=$((passed + 1))
}

expect_refusal curl-7.79.0 "ultra-llm needs libcurl 7.80.0 or newer" \
    -DCURL_INCLUDE_DIR="$(fake_curl 7.79.0)"

configure curl-7.80.0 -DCURL_INCLUDE_DIR="$(fake_curl 7.80.0)" || {
    cat "$work/curl-7.80.0.log"; echo "failed: libcurl 7.80.0 refused"; exit 1; }
passed=$((passed + 1))

mkdir -p "$work/pkgconfig"
cat > "$work/pkgconfig/jansson.pc" <<'PC'
Name: Jansson
Description: Library for encoding, decoding and manipulating JSON data
Version: 2.13.1
Libs: -ljansson
Cflags:
PC
export PKG_CONFIG_PATH="$work/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
expect_refusal jansson-2.13.1 "ultra-llm needs jansson 2.14 or newer"

echo "$passed passed, 0 failed"
