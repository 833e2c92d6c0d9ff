#!/usr/bin/env bash
# check-package.sh - tests the Python package as its users get it, in a scratch directory
# removed at exit: builds the sdist and the wheel that bundles libultrallm (build-dists.sh),
# installs the wheel into a fresh venv (no variable, no installed library), the sdist into
# another (the library cmake --install put in a scratch prefix, found through pkg-config),
# and the package by cmake --install itself (found through its recorded libdir); runs the
# binding's test suite (the parity check included) against each installed copy from a
# directory where the source tree is not importable, and examples/everything.py; then
# mypy --strict on the package and the example, and on the example against the installed
# wheel (its py.typed).
#
# Usage: bash bindings/python/tests/check-package.sh [BUILD_DIR]   (default: build)
# The live tests and the example's run need the servers tests/run.sh starts
# (ULM_TEST_DMR_URL, ULM_TEST_DMR_LIFECYCLE_URL, ULM_TEST_FAULT_URL, ULM_TEST_REPLAY_URL,
# ULM_TEST_OPENAI_URL); without them they skip.
# Environment: ULM_PYTHON, the interpreter (see bindings/python/python-for-build.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python_dir=$(cd "$here/.." && pwd)
repo=$(cd "$python_dir/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
# shellcheck source=bindings/python/python-for-build.sh
source "$python_dir/python-for-build.sh"
ulm_find_python
echo "python: $ULM_PYTHON ($("$ULM_PYTHON" --version))"
command -v mypy > /dev/null ||
    { echo "check-package.sh: no mypy (apt-get install mypy, or bash .ci/install-deps)" >&2; exit 2; }
[ -n "${ULM_TEST_DMR_URL:-}" ] || echo "ULM_TEST_DMR_URL is not set: the live tests skip"

work=$(mktemp -d "${TMPDIR:-/tmp}/ulm-check-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/run" # the tests' working directory: nothing importable in it

# What could let a run find the package or the library another way than the one tested.
clean=(env -u ULTRALLM_LIBRARY -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH -u PYTHONPATH
       -u PYTHONHOME)

# check_import LABEL DIR ORIGIN PYTHON [VAR=VALUE...]: PYTHON, with the variables, imports
# the package from DIR and the library from ORIGIN (a phrase of ultrallm/_loader.py).
check_import() {
    local label=$1 dir=$2 origin=$3
    shift 3
    (cd "$work/run" && "${clean[@]}" "${@:2}" "$1" - "$dir" "$origin" <<'PY') || {
import os, sys
import ultrallm
from ultrallm import _native
where, want_dir, want_origin = os.path.realpath(ultrallm.__file__), *sys.argv[1:]
if not where.startswith(os.path.realpath(want_dir) + os.sep):
    sys.exit("imported %s, not the package in %s" % (where, want_dir))
if _native.LIBRARY.origin != want_origin:
    sys.exit("libultrallm %s (%s), not %s" % (_native.LIBRARY.path, _native.LIBRARY.origin,
                                               want_origin))
print("  ultrallm %s from %s, libultrallm %s %s (%s)" % (
    ultrallm.__version__, os.path.dirname(where), ultrallm.version(), _native.LIBRARY.path,
    _native.LIBRARY.origin))
PY
        echo "check-package.sh: $label: wrong package or library" >&2
        return 1
    }
}

# run_suite LABEL DIR ORIGIN PYTHON [VAR=VALUE...]: check_import, then the test suite.
run_suite() {
    echo "== $1: the test suite"
    check_import "$@"
    shift 3
    (cd "$work/run" && "${clean[@]}" "${@:2}" "$1" -m unittest discover -s "$here" -t "$here")
}

new_venv() {
    "$ULM_PYTHON" -m venv "$1"
    echo "  venv $1"
}

echo "== building the sdist and the wheel"
mapfile -t dists < <(bash "$python_dir/build-dists.sh" "$build" "$work/dist")
sdist=${dists[0]} wheel=${dists[1]}
echo "  $(basename "$sdist"), $(basename "$wheel")"
case $(basename "$wheel") in
*-py3-none-any.whl) echo "check-package.sh: the bundled wheel is tagged pure Python" >&2; exit 1 ;;
esac
"$ULM_PYTHON" -m zipfile -l "$wheel" | grep '^ultrallm/libultrallm.so.0 ' > /dev/null ||
    { echo "check-package.sh: the wheel lacks ultrallm/libultrallm.so.0" >&2; exit 1; }
if tar tzf "$sdist" | grep 'libultrallm' > /dev/null; then
    echo "check-package.sh: the sdist holds a copy of the library" >&2
    exit 1
fi

echo "== cmake --install into a scratch prefix"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
site=$(sed -n 's/^ULM_PYTHON_INSTALL_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ -z "$site" ] || [ ! -f "$work/prefix/$site/ultrallm/_config.py" ]; then
    echo "check-package.sh: cmake --install did not install the Python package" \
         "(ULM_INSTALL_PYTHON, python3 at configure time)" >&2
    exit 1
fi
libdir=$(dirname "$(find "$work/prefix" -name libultrallm.so.0 | head -n 1)")

# A library on the loader's path would be found before pkg-config's: then that is tested.
pkg_config_origin="in pkg-config's libdir"
if "${clean[@]}" "$ULM_PYTHON" -c 'import ctypes; ctypes.CDLL("libultrallm.so.0")' 2> /dev/null; then
    echo "  an installed libultrallm.so.0 is on the loader's path: the sdist uses it"
    pkg_config_origin="found by the dynamic loader"
fi

echo "== the wheel, in a fresh venv"
new_venv "$work/venv-wheel"
"$work/venv-wheel/bin/pip" install --quiet --no-index "$wheel"
run_suite "wheel" "$work/venv-wheel" "beside the package" "$work/venv-wheel/bin/python"

echo "== the sdist, in a fresh venv"
new_venv "$work/venv-sdist"
# Offline, the venv builds the sdist with its own setuptools and Debian's wheel package.
"$work/venv-sdist/bin/pip" install --quiet --no-index --find-links /usr/share/python-wheels wheel
"$work/venv-sdist/bin/pip" install --quiet --no-index --no-build-isolation "$sdist"
run_suite "sdist" "$work/venv-sdist" "$pkg_config_origin" "$work/venv-sdist/bin/python" \
    PKG_CONFIG_PATH="$libdir/pkgconfig"
echo "== the sdist, the library on LD_LIBRARY_PATH"
check_import "sdist" "$work/venv-sdist" "found by the dynamic loader" \
    "$work/venv-sdist/bin/python" LD_LIBRARY_PATH="$libdir"

run_suite "cmake --install" "$work/prefix/$site" "the libdir of cmake --install" \
    "$ULM_PYTHON" PYTHONPATH="$work/prefix/$site"

if [ -n "${ULM_TEST_DMR_URL:-}" ]; then
    echo "== examples/everything.py, with the wheel, against the DMR emulator"
    # Only the runner's URL from the environment: no key, so no cloud is ever asked.
    (cd "$work/run" && env -i PATH="$PATH" MODEL_RUNNER_URL="$ULM_TEST_DMR_URL" \
        "$work/venv-wheel/bin/python" "$python_dir/examples/everything.py" \
        dmr/ai/stories260k > "$work/everything.log") ||
        { cat "$work/everything.log"; exit 1; }
    echo "  ran: $(grep -c . "$work/everything.log") lines of output"
fi

echo "== mypy --strict: the package and the example"
(cd "$python_dir" && mypy --cache-dir "$work/mypy-cache" --config-file pyproject.toml)
echo "== mypy --strict: the example against the installed wheel (py.typed)"
(cd "$work/run" && mypy --strict --cache-dir "$work/mypy-cache-wheel" \
    --python-executable "$work/venv-wheel/bin/python" "$python_dir/examples/everything.py")
echo "check-package.sh: all passed"
