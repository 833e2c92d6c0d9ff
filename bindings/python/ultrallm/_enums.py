"""The library's enumerations as Python enums: error codes, log levels, clocks, the states
of a round's members."""

from __future__ import annotations

import enum
from typing import TypeVar, Union


class ErrorCode(enum.IntEnum):
    """enum ulm_error; each member is named after ulm_error_name() of its value."""
    OK = 0
    INVALID_ARGUMENT = -1
    OUT_OF_MEMORY = -2
    CONFIG = -3
    VERSION = -4
    NOT_CONFIGURED = -5
    CONNECT = -6
    TIMEOUT = -7
    AUTH = -8
    RATE_LIMIT = -9
    QUOTA = -10
    BAD_REQUEST = -11
    MODEL_NOT_FOUND = -12
    MODEL_LOAD = -13
    CONTEXT_LENGTH = -14
    UNAVAILABLE = -15
    SERVER = -16
    PROTOCOL = -17
    TOO_LARGE = -18
    TRANSPORT = -19
    UNSUPPORTED = -20
    CANCELLED = -21
    CONNECT_TIMEOUT = -22
    LOAD_TIMEOUT = -23
    FIRST_TOKEN_TIMEOUT = -24
    IDLE_TIMEOUT = -25
    MODEL_LOADING = -26
    RESOURCE_EXHAUSTED = -27  # ULM_EBUSY
    CIRCUIT_OPEN = -28        # ULM_ECIRCUIT_OPEN
    CONTENT_FILTER = -29      # ULM_ECONTENT_FILTER


class LogLevel(enum.IntEnum):
    """enum ulm_log_level."""
    NONE = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


class Clock(enum.IntEnum):
    """enum ulm_clock: the clocks of one call. complete(timeouts=...) names them by the
    lower-case member name ("first_token") or takes the member itself."""
    CONNECT = 1      # connecting to a backend -> ConnectTimeoutError
    LOAD = 2         # a local model loading -> LoadTimeoutError
    FIRST_TOKEN = 3  # waiting for the first token -> FirstTokenTimeoutError
    IDLE = 4         # a gap inside the answer -> IdleTimeoutError
    OVERALL = 5      # the whole call, all attempts -> RequestTimeoutError itself


class MemberState(enum.IntEnum):
    """enum ulm_member_state: what a running member of compare() waits for, as
    on_member_state is told it (every member starts WAITING, untold)."""
    WAITING = 0    # asked, queued for a slot, or pausing before a retry: nothing arrived
    LOADING = 1    # its Docker Model Runner is loading the model first
    PULLING = 2    # its Docker Model Runner is pulling the model (auto_pull)
    ANSWERING = 3  # its streamed answer is arriving


_Enum = TypeVar("_Enum", bound=enum.IntEnum)


def enum_or_int(kind: type[_Enum], value: int) -> Union[_Enum, int]:
    """The member of kind with that value, else the value itself: codes are append-only
    in C, so a newer library may return one this package predates."""
    try:
        return kind(value)
    except ValueError:
        return value
