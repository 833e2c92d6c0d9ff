"""Finds and opens libultrallm. The places, in the order they are tried:

1. $ULTRALLM_LIBRARY, the path of the library; when it is set nothing else is tried.
2. A copy beside the package (the wheel ships libultrallm.so.0 there).
3. The library directory that `cmake --install` recorded when it installed this package
   (_config.LIBDIR).
4. The dynamic loader, by the library's SONAME: LD_LIBRARY_PATH, ld.so.cache (the system's
   and /etc/ld.so.conf's directories).
5. The libdir of pkg-config's ultra-llm package (`pkg-config --variable=libdir ultra-llm`),
   for an install under a prefix the loader does not search (PKG_CONFIG_PATH).

A library found but not loadable is reported at once rather than passed over for the next
place; when no place has one, LibraryLoadError lists what each place said.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from typing import NamedTuple, Optional

from . import _config
from ._errors import LibraryLoadError

# The name the dynamic loader knows the library of major version 0 by.
SONAME = "libultrallm.0.dylib" if sys.platform == "darwin" else "libultrallm.so.0"
# Names a copy beside the package may have, SONAME first.
BESIDE_NAMES = (SONAME, "libultrallm.so", "libultrallm.dylib", "ultrallm.dll")
PKG_CONFIG_PACKAGE = "ultra-llm"


class Loaded(NamedTuple):
    """The opened library, the path or name it was opened by, and which place it came
    from (a phrase of the lookup order, for messages)."""
    lib: ctypes.CDLL
    path: str
    origin: str


def _open(path: str, origin: str) -> Loaded:
    try:
        return Loaded(ctypes.CDLL(path), path, origin)
    except OSError as e:
        raise LibraryLoadError("ultrallm: cannot load %s (%s): %s" % (path, origin, e)) from e


def _pkg_config_libdir() -> tuple[Optional[str], str]:
    """pkg-config's libdir of ultra-llm, else None and why not."""
    exe = shutil.which("pkg-config")
    if exe is None:
        return None, "pkg-config is not installed"
    try:
        result = subprocess.run([exe, "--variable=libdir", PKG_CONFIG_PACKAGE],
                                capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "pkg-config failed: %s" % e
    libdir = result.stdout.strip()
    if result.returncode != 0 or not libdir:
        # pkgconf says nothing on stderr for --variable of an unknown package.
        why = result.stderr.strip().splitlines()
        return None, why[0] if why else ("no %s.pc on pkg-config's search path "
                                         "(PKG_CONFIG_PATH)" % PKG_CONFIG_PACKAGE)
    # ultra-llm.pc names it relative to itself: <prefix>/lib/pkgconfig/../../lib.
    return os.path.normpath(libdir), ""


def load() -> Loaded:
    """Opens the first library of the lookup order, or raises LibraryLoadError."""
    override = os.environ.get("ULTRALLM_LIBRARY")
    if override:
        return _open(override, "from ULTRALLM_LIBRARY")
    tried = ["$ULTRALLM_LIBRARY: not set"]

    here = os.path.dirname(os.path.abspath(__file__))
    for name in BESIDE_NAMES:
        path = os.path.join(here, name)
        if os.path.exists(path):
            return _open(path, "beside the package")
    tried.append("beside the package: no %s in %s" % (" or ".join(BESIDE_NAMES), here))

    if _config.LIBDIR is not None:
        path = os.path.join(_config.LIBDIR, SONAME)
        if os.path.exists(path):
            return _open(path, "the libdir of cmake --install")
        tried.append("the libdir of cmake --install: no %s" % path)
    else:
        tried.append("the libdir of cmake --install: this package was not installed by it")

    # A bare name, never None: CDLL(None) would open the running program itself.
    try:
        return Loaded(ctypes.CDLL(SONAME), SONAME, "found by the dynamic loader")
    except OSError as e:
        tried.append("the dynamic loader: %s" % e)

    libdir, why = _pkg_config_libdir()
    if libdir is not None:
        path = os.path.join(libdir, SONAME)
        if os.path.exists(path):
            return _open(path, "in pkg-config's libdir")
        why = "no %s in its libdir %s" % (SONAME, libdir)
    tried.append("pkg-config --variable=libdir %s: %s" % (PKG_CONFIG_PACKAGE, why))

    raise LibraryLoadError(
        "ultrallm: libultrallm not found; tried, in order:\n%s\nSet ULTRALLM_LIBRARY to the "
        "path of %s, install the library (cmake --install) where the loader or pkg-config "
        "finds it, or install the wheel that bundles it."
        % ("\n".join("  %d. %s" % (i, line) for i, line in enumerate(tried, 1)), SONAME))
