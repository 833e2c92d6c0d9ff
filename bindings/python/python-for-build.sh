# shellcheck shell=bash
# python-for-build.sh - sourced by build-dists.sh and tests/check-package.sh: sets ULM_PYTHON
# to an interpreter that can build this package and install it into a virtual environment
# offline: $ULM_PYTHON when set, else the first of python3 and /usr/bin/python3 (Debian's,
# which python3-build, python3-setuptools, python3-wheel and python3-venv extend) that
# has the modules build, setuptools, wheel, venv and ensurepip.
ulm_find_python() {
    local candidate check='import build, setuptools, wheel, venv, ensurepip'
    if [ -n "${ULM_PYTHON:-}" ]; then
        "$ULM_PYTHON" -c "$check" && return 0
        echo "ULM_PYTHON=$ULM_PYTHON lacks one of: build setuptools wheel venv ensurepip" >&2
        return 1
    fi
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" > /dev/null && "$candidate" -c "$check" 2> /dev/null; then
            ULM_PYTHON=$(command -v "$candidate")
            return 0
        fi
    done
    echo "no python3 with build, setuptools, wheel, venv and ensurepip: apt-get install" \
        "python3-build python3-setuptools python3-wheel python3-venv (bash .ci/install-deps)," \
        "or set ULM_PYTHON" >&2
    return 1
}
