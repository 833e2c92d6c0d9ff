#!/bin/sh
# check-install.sh - installs the build into a scratch prefix and builds consumers against it:
# one through pkg-config (shared and static), one through CMake's find_package(UltraLLM).
set -eu
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
libdir=$(ls -d "$work"/prefix/lib*/pkgconfig | head -n 1)
export PKG_CONFIG_PATH="$libdir"

cat > "$work/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <ultrallm/ultrallm.h>
int main(void)
{
    if (ulm_version_number() != ULM_VERSION_NUMBER)
        return 1;
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK)
        return 2;
    int ok = strcmp(ulm_client_default_model(client), "dmr/ai/smollm2:latest") == 0;
    ulm_client_free(client);
    printf("consumer ok: %s\n", ulm_version_string());
    return ok ? 0 : 3;
}
C
cc -Wall -Werror $(pkg-config --cflags ultra-llm) "$work/consumer.c" -o "$work/consumer" \
    $(pkg-config --libs ultra-llm)
LD_LIBRARY_PATH="$(dirname "$libdir")" "$work/consumer"
cc -Wall -Werror -DULM_STATIC $(pkg-config --cflags ultra-llm) "$work/consumer.c" \
    -o "$work/consumer-static" "$(dirname "$libdir")/libultrallm.a" \
    $(pkg-config --libs libcurl jansson) -lpthread -lm
"$work/consumer-static"

mkdir -p "$work/cmake-consumer"
cp "$work/consumer.c" "$work/cmake-consumer/"
cat > "$work/cmake-consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(UltraLLM REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE UltraLLM::UltraLLM)
CM
cmake -S "$work/cmake-consumer" -B "$work/cmake-consumer/build" \
    -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/cmake.log"
cmake --build "$work/cmake-consumer/build" > "$work/cmake-build.log"
"$work/cmake-consumer/build/consumer"
echo "3 passed, 0 failed"
