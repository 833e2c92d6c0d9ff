"""Finds and opens libultrallm: $ULTRALLM_LIBRARY when it is set (nothing else is tried
then), else a copy beside the package, else the system loader; fails loudly."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import NamedTuple

from ._errors import LibraryLoadError

# Names a copy shipped beside the package may have, SONAME first.
BESIDE_NAMES = ("libultrallm.so.0", "libultrallm.so", "libultrallm.dylib", "ultrallm.dll")


class Loaded(NamedTuple):
    """The opened library, the path or name it was opened by, and which place it came
    from (for messages)."""
    lib: ctypes.CDLL
    path: str
    origin: str


def _open(path: str, origin: str) -> Loaded:
    try:
        return Loaded(ctypes.CDLL(path), path, origin)
    except OSError as e:
        raise LibraryLoadError("ultrallm: cannot load %s (%s): %s" % (path, origin, e)) from e


def load() -> Loaded:
    """Opens the first library found, or raises LibraryLoadError."""
    override = os.environ.get("ULTRALLM_LIBRARY")
    if override:
        return _open(override, "from ULTRALLM_LIBRARY")
    here = os.path.dirname(os.path.abspath(__file__))
    for name in BESIDE_NAMES:
        path = os.path.join(here, name)
        if os.path.exists(path):
            return _open(path, "beside the package")
    found = ctypes.util.find_library("ultrallm")
    # CDLL(None) would load the running program itself and fail later on a missing symbol.
    if found is None:
        raise LibraryLoadError(
            "ultrallm: libultrallm not found: set ULTRALLM_LIBRARY to the path of "
            "libultrallm.so, put a copy in %s, or install it where the system loader "
            "finds it" % here)
    return _open(found, "found by the system loader")
