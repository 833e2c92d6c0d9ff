"""Conversions between Python values and the C types of the library's calls, each checked
so that C never receives a value it would misread (a NUL inside a string, an integer that
ctypes would wrap around)."""

from __future__ import annotations

import ctypes
import os
from typing import Iterable, Optional, Union

from ._enums import ErrorCode
from ._errors import error

# What config_path= accepts.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def text(value: Optional[bytes]) -> Optional[str]:
    """A C string as str (None for NULL); invalid UTF-8 is replaced, never raised."""
    return None if value is None else value.decode("utf-8", "replace")


def c_string(value: object, what: str, code: int = ErrorCode.INVALID_ARGUMENT) -> bytes:
    """A str as the NUL-terminated UTF-8 C expects; what names it in an error."""
    if not isinstance(value, str):
        raise TypeError("%s: expected a str, got %s" % (what, type(value).__name__))
    # C would silently stop at the NUL and send a truncated string.
    if "\0" in value:
        raise error(code, "%s: contains a NUL character" % what)
    return value.encode("utf-8")


def c_path(value: object, what: str, code: int = ErrorCode.INVALID_ARGUMENT) -> bytes:
    """A str, bytes or os.PathLike path as the bytes C expects (os.fsencode: the file
    system's encoding, so that any name the OS gave Python round-trips)."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError("%s: expected a str or os.PathLike, got %s"
                        % (what, type(value).__name__))
    path = os.fsencode(value)
    if b"\0" in path:
        raise error(code, "%s: contains a NUL character" % what)
    return path


def c_integer(value: object, what: str, ctype: type[ctypes._SimpleCData[int]], minimum: int,
              code: int = ErrorCode.INVALID_ARGUMENT, maximum: Optional[int] = None) -> int:
    """An int that fits ctype, from minimum to maximum (default: the largest ctype holds)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("%s: expected an int, got %s" % (what, type(value).__name__))
    # ctypes wraps an out-of-range int around instead of refusing it.
    bits = 8 * ctypes.sizeof(ctype)
    largest = (1 << (bits - 1)) - 1 if ctype(-1).value < 0 else (1 << bits) - 1
    maximum = largest if maximum is None else min(maximum, largest)
    if not minimum <= value <= maximum:
        raise error(code, "%s: expected a whole number from %d to %d, got %d"
                    % (what, minimum, maximum, value))
    return value


def c_float(value: object, what: str) -> float:
    """An int or float (not a bool) as a C double."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError("%s: expected a number, got %s" % (what, type(value).__name__))
    return float(value)


def strings(value: Union[str, Iterable[str]]) -> list[str]:
    """A str or an iterable of str, as a list."""
    return [value] if isinstance(value, str) else list(value)
