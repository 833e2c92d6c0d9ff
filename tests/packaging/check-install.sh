#!/bin/sh
# check-install.sh - installs the build into a scratch prefix and uses it as its users would:
# the installed ultra-llm program from an empty environment, in place and after the tree is
# moved; then a consumer built against the moved tree through pkg-config (shared and
# --static) and through CMake's find_package(UltraLLM) (UltraLLM::UltraLLM and
# UltraLLM::UltraLLMStatic), each run from an empty environment.
#
#   check-install.sh BUILD_DIR WORK_DIR     (WORK_DIR is removed when it ends, pass or fail)
set -eu
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0

fail() {
    echo "failed: $*"
    exit 1
}
ok() { passed=$((passed + 1)); }
# logged NAME COMMAND... -> runs COMMAND with its output in $work/NAME.log, shown if it fails
logged() {
    name=$1
    shift
    "$@" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "$name"; }
}
# clean [NAME=VALUE]... PROGRAM ARGS... -> runs PROGRAM with nothing of this environment
clean() { env -i PATH=/usr/bin:/bin "$@"; }
# needs_libultrallm PROGRAM -> whether PROGRAM loads libultrallm.so at run time
needs_libultrallm() { readelf -d "$1" | grep -q 'NEEDED.*libultrallm\.so'; }

logged install cmake --install "$build" --prefix "$work/prefix"
pcdir=$(dirname "$(find "$work/prefix" -name ultra-llm.pc)")
pcdir=${pcdir#"$work/prefix/"}
version=$(PKG_CONFIG_PATH=$work/prefix/$pcdir pkg-config --modversion ultra-llm)

# The program finds the library through its RUNPATH, $ORIGIN-relative, not the build tree.
program=$work/prefix/bin/ultra-llm
runpath=$(readelf -d "$program" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p')
# shellcheck disable=SC2016 # a literal $ORIGIN
case $runpath in
    '$ORIGIN/'*) ;;
    *) fail "ultra-llm's RUNPATH is '$runpath', not \$ORIGIN/..." ;;
esac
out=$(clean "$program" --version) || fail "installed ultra-llm --version (from env -i) exited $?"
[ "$out" = "ultra-llm $version" ] || fail "installed ultra-llm --version said '$out'"
ok

mv "$work/prefix" "$work/moved"
prefix=$work/moved
program=$prefix/bin/ultra-llm
out=$(clean "$program" --version) || fail "moved ultra-llm --version (from env -i) exited $?"
[ "$out" = "ultra-llm $version" ] || fail "moved ultra-llm --version said '$out'"
clean ldd "$program" | grep libultrallm | grep -qF " => $prefix/" ||
    { clean ldd "$program"; fail "moved ultra-llm does not load the moved library"; }
ok

cat > "$work/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <ultrallm/ultrallm.h>

/* ULM_STATIC comes from pkg-config --static or from UltraLLM::UltraLLMStatic. */
#ifdef ULM_STATIC
static const char linkage[] = "static";
#else
static const char linkage[] = "shared";
#endif

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], linkage) != 0) {
        fprintf(stderr, "consumer: built %s, expected %s\n", linkage, argc == 2 ? argv[1] : "?");
        return 4;
    }
    if (ulm_version_number() != ULM_VERSION_NUMBER)
        return 1;
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "consumer: %s\n", err);
        return 2;
    }
    int ok = strcmp(ulm_client_default_model(client), "dmr/ai/smollm2:latest") == 0;
    ulm_client_free(client);
    printf("consumer (%s) ok: %s\n", linkage, ulm_version_string());
    return ok ? 0 : 3;
}
C

export PKG_CONFIG_PATH="$prefix/$pcdir"
libdir=$(pkg-config --variable=libdir ultra-llm)

# shellcheck disable=SC2046 # pkg-config's flags are meant to be split
logged pc-shared cc -Wall -Wextra -Werror $(pkg-config --cflags ultra-llm) "$work/consumer.c" \
    -o "$work/pc-shared" $(pkg-config --libs ultra-llm)
needs_libultrallm "$work/pc-shared" || fail "pc-shared does not load libultrallm.so"
clean LD_LIBRARY_PATH="$libdir" "$work/pc-shared" shared || fail "pc-shared exited $?"
ok

# The archive by path, libcurl and jansson as shared libraries: --static --libs would also
# list libcurl's own private dependencies, which Debian's libcurl package does not install.
# shellcheck disable=SC2046
logged pc-static cc -Wall -Wextra -Werror $(pkg-config --static --cflags ultra-llm) \
    "$work/consumer.c" -o "$work/pc-static" "$libdir/libultrallm.a" \
    $(pkg-config --libs libcurl jansson) -lpthread -lm
! needs_libultrallm "$work/pc-static" || fail "pc-static loads libultrallm.so"
clean "$work/pc-static" static || fail "pc-static exited $?"
ok

mkdir -p "$work/cmake-consumer"
cp "$work/consumer.c" "$work/cmake-consumer/"
cat > "$work/cmake-consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(UltraLLM 0.1 REQUIRED)
add_executable(consumer-shared consumer.c)
target_link_libraries(consumer-shared PRIVATE UltraLLM::UltraLLM)
add_executable(consumer-static consumer.c)
target_link_libraries(consumer-static PRIVATE UltraLLM::UltraLLMStatic)
CM
logged cmake-configure cmake -S "$work/cmake-consumer" -B "$work/cmake-consumer/build" \
    -DCMAKE_PREFIX_PATH="$prefix"
logged cmake-build cmake --build "$work/cmake-consumer/build"
shared=$work/cmake-consumer/build/consumer-shared
static=$work/cmake-consumer/build/consumer-static
needs_libultrallm "$shared" || fail "consumer-shared does not load libultrallm.so"
clean "$shared" shared || fail "CMake consumer-shared exited $?"
ok
! needs_libultrallm "$static" || fail "consumer-static loads libultrallm.so"
clean "$static" static || fail "CMake consumer-static exited $?"
ok

echo "$passed passed, 0 failed"
