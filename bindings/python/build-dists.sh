#!/usr/bin/env bash
# build-dists.sh - builds the Python package's distributions, offline: the sdist (pure
# Python; it uses an installed libultrallm) and the wheel that bundles the libultrallm.so.0
# a CMake build made, tagged for this platform (setup.py). Each is built from a scratch
# copy of bindings/python, so the source tree gets no build/ or egg-info directory, and
# the library never reaches the sdist.
#
# Usage: bash bindings/python/build-dists.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR  the CMake build directory holding libultrallm.so.0 (default: build)
#   OUT_DIR    where the two files go (default: BUILD_DIR/python-dist)
# Environment: ULM_PYTHON, the interpreter (see python-for-build.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=${2:-$build/python-dist}
# shellcheck source=bindings/python/python-for-build.sh
source "$here/python-for-build.sh"
ulm_find_python

library=$build/libultrallm.so.0
[ -f "$library" ] || { echo "build-dists.sh: no $library; build the library first" >&2; exit 2; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/ulm-python-dists.XXXXXX")
trap 'rm -rf "$stage"' EXIT
copy_sources() {
    mkdir -p "$1"
    cp "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$1/"
    cp -r "$here/ultrallm" "$1/"
    rm -rf "$1/ultrallm/__pycache__" "$1"/ultrallm/libultrallm*
}
mkdir -p "$out"
copy_sources "$stage/sdist"
# build_in KIND: runs python -m build --KIND in $stage/KIND and prints the file it made.
build_in() {
    "$ULM_PYTHON" -m build --no-isolation "--$1" --outdir "$out" "$stage/$1" \
        > "$stage/$1.log" 2>&1 || { cat "$stage/$1.log" >&2; return 1; }
    echo "$out/$(sed -n 's/^Successfully built //p' "$stage/$1.log")"
}
copy_sources "$stage/sdist"
build_in sdist
copy_sources "$stage/wheel"
cp -L "$library" "$stage/wheel/ultrallm/libultrallm.so.0"
build_in wheel
