"""Structured logs: LogEvent, one diagnostic of the library as fields (ulm_log_event), read
from the C struct the log_event callback gets, and its JSON-lines record."""

from __future__ import annotations

import ctypes
import dataclasses
from typing import Any, Callable, Optional, Union

from ._enums import LogLevel, enum_or_int
from ._native import LOG_EVENT_VERSION, LOG_JSON_SIZE, LogEventStruct, lib


def _text(value: Optional[bytes]) -> str:
    return value.decode("utf-8", "replace") if value else ""


@dataclasses.dataclass(frozen=True)
class LogEvent:
    """One diagnostic (struct ulm_log_event; docs/api.md#logging lists the events): its
    level, a stable event name ("request.failed", "retry", "fallback"...), the message a
    log= callback gets for it, the backend and model ("" when none applies), the attempt of
    the call it concerns (1 for the first, 0 outside a call), the error class
    (error_name(), "" for none), the HTTP status (0 when no answer came) and the
    milliseconds it took or the pause it announces (None when it has none)."""
    level: Union[LogLevel, int]
    event: str
    message: str
    backend: str
    model: str
    attempt: int
    error_class: str
    http_status: int
    ms: Optional[float]

    def to_json(self) -> str:
        """The event as one JSON-lines record (ulm_log_event_json()): a JSON object with
        the time it is formatted, the level's name and the fields that apply, and a
        newline."""
        def b(value: str) -> bytes:
            return value.encode("utf-8", "replace")
        struct = LogEventStruct(LOG_EVENT_VERSION, int(self.level), b(self.event),
                                b(self.message), b(self.backend), b(self.model),
                                self.attempt, b(self.error_class), self.http_status,
                                -1.0 if self.ms is None else self.ms)
        buf = ctypes.create_string_buffer(LOG_JSON_SIZE)
        lib.ulm_log_event_json(ctypes.byref(struct), buf, len(buf))
        return buf.value.decode("utf-8")


# What log_event= receives.
LogEventCallback = Callable[[LogEvent], object]


def read_log_event(event: Any) -> LogEvent:
    """A LogEvent from a pointer to the C struct, valid only during the callback."""
    e = event.contents
    return LogEvent(level=enum_or_int(LogLevel, e.level), event=_text(e.event),
                    message=_text(e.message), backend=_text(e.backend), model=_text(e.model),
                    attempt=int(e.attempt), error_class=_text(e.error_class),
                    http_status=int(e.http_status), ms=None if e.ms < 0 else float(e.ms))


def log_event_adapter(log_event: LogEventCallback) -> Callable[..., None]:
    # An exception raised by log_event cannot cross into C: ctypes reports it through
    # sys.unraisablehook and the library carries on.
    def call(event: Any, _payload: Optional[int]) -> None:
        log_event(read_log_event(event))
    return call
