"""The version of the C library this package loaded, which may be newer than the one it
was written against (same major version)."""

from __future__ import annotations

from ._native import lib


def version() -> str:
    """Version string of the loaded C library ("0.1.0")."""
    value: bytes = lib.ulm_version_string()
    return value.decode()


def version_number() -> int:
    """MAJOR * 10000 + MINOR * 100 + PATCH of the loaded C library."""
    number: int = lib.ulm_version_number()
    return number
