"""One call's request: the C ulm_request built from complete()'s arguments, and the
bridge that hands streamed text from C to a Python callable."""

from __future__ import annotations

import collections.abc
import ctypes
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from ._cancel import CallToken
from ._convert import c_float, c_integer, c_string, strings
from ._enums import Clock, ErrorCode
from ._errors import error
from ._native import MAX_TIMEOUT_MS, DeltaFn, lib, request_p

ROLES = {"system": 1, "user": 2, "assistant": 3}  # enum ulm_role
CLOCKS = {clock.name.lower(): clock for clock in Clock}

# The types complete() accepts, for its signature.
Message = Union["tuple[str, str]", Mapping[str, str]]
Models = Union[str, Iterable[str]]
Timeouts = Mapping[Union[str, Clock], Optional[int]]
OnDelta = Callable[[str], object]


def _delta_adapter(on_delta: OnDelta, raised: list[BaseException]) -> Callable[..., int]:
    # An exception cannot cross into C and must not be lost: the first one is kept in
    # raised, the call is stopped (non-zero: ULM_ECANCELLED), and complete() raises it
    # once ulm_complete() has returned. BaseException too, so that Ctrl-C during a
    # stream stops it. What on_delta returns is ignored.
    def call(data: Optional[int], length: int, _payload: Optional[int]) -> int:
        if raised:
            return 1
        try:
            chunk = ctypes.string_at(data, length) if data and length else b""
            on_delta(chunk.decode("utf-8", "replace"))
        except BaseException as e:  # noqa: B036  (re-raised by complete())
            raised.append(e)
            return 1
        return 0
    return call


class Request:
    """An ulm_request owned by Python, filled from complete()'s arguments (checked before
    anything is sent) and freed by close(), or at the end of a with block.

    raised holds what on_delta raised, for the caller to re-raise after the call. The
    request keeps the C callback object alive as long as C may call it. cancel, when
    given, is set on the request (ulm_request_set_cancel()); the caller releases it after
    the call.
    """

    handle: Any
    raised: list[BaseException]

    def __init__(self, prompt: Optional[str], messages: Optional[Iterable[Message]],
                 model: Optional[Models], system: Optional[str],
                 temperature: Optional[float], top_p: Optional[float],
                 max_tokens: Optional[int], seed: Optional[int],
                 stop: Optional[Union[str, Sequence[str]]], timeouts: Optional[Timeouts],
                 on_delta: Optional[OnDelta], cancel: Optional[CallToken] = None) -> None:
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta: expected a callable, got %s" % type(on_delta).__name__)
        self.raised = []
        self._delta_fn: Any = None
        self.handle = request_p()
        lib.ulm_request_new(ctypes.byref(self.handle))
        try:
            self._fill(prompt, messages, model, system, temperature, top_p, max_tokens,
                       seed, stop, timeouts)
            if on_delta is not None:
                self._delta_fn = DeltaFn(_delta_adapter(on_delta, self.raised))
                lib.ulm_request_set_on_delta(self.handle, self._delta_fn, None)
            if cancel is not None:
                lib.ulm_request_set_cancel(self.handle, cancel.handle)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle:
            lib.ulm_request_free(handle)
        self._delta_fn = None

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fill(self, prompt: Optional[str], messages: Optional[Iterable[Message]],
              model: Optional[Models], system: Optional[str], temperature: Optional[float],
              top_p: Optional[float], max_tokens: Optional[int], seed: Optional[int],
              stop: Optional[Union[str, Sequence[str]]],
              timeouts: Optional[Timeouts]) -> None:
        req = self.handle
        if model is not None:
            for i, name in enumerate(strings(model)):
                lib.ulm_request_add_model(req, c_string(name, "model[%d]" % i))
        # (role, content, what to call it in an error); c_string() checks each content.
        conversation: list[tuple[str, object, str]] = []
        if system is not None:
            conversation.append(("system", system, "system"))
        for i, message in enumerate(messages or ()):
            role: object
            content: object
            if isinstance(message, collections.abc.Mapping):
                role, content = message.get("role"), message.get("content")
            else:
                role, content = message
            if not isinstance(role, str) or role not in ROLES:
                raise error(ErrorCode.INVALID_ARGUMENT, "messages[%d]: role %r is not one of "
                            "%s" % (i, role, ", ".join(ROLES)))
            conversation.append((role, content, "messages[%d]" % i))
        if prompt is not None:
            conversation.append(("user", prompt, "prompt"))
        for role, content, what in conversation:
            lib.ulm_request_add_message(req, ROLES[role], c_string(content, what))
        if temperature is not None:
            lib.ulm_request_set_temperature(req, c_float(temperature, "temperature"))
        if top_p is not None:
            lib.ulm_request_set_top_p(req, c_float(top_p, "top_p"))
        if max_tokens is not None:
            lib.ulm_request_set_max_tokens(
                req, c_integer(max_tokens, "max_tokens", ctypes.c_long, 1))
        if seed is not None:
            lib.ulm_request_set_seed(
                req, c_integer(seed, "seed", ctypes.c_int64, -(1 << 63)))
        if stop is not None:
            for i, stop_text in enumerate(strings(stop)):
                lib.ulm_request_add_stop(req, c_string(stop_text, "stop[%d]" % i))
        if timeouts is not None:
            if not isinstance(timeouts, collections.abc.Mapping):
                raise TypeError("timeouts: expected a mapping of clock name to milliseconds, "
                                "got %s" % type(timeouts).__name__)
            for key, ms in timeouts.items():
                clock = key if isinstance(key, Clock) else CLOCKS.get(key)
                if clock is None:
                    raise error(ErrorCode.INVALID_ARGUMENT, "timeouts: unknown clock %r, not "
                                "one of %s" % (key, ", ".join(CLOCKS)))
                if ms is not None:
                    lib.ulm_request_set_timeout(req, clock, c_integer(
                        ms, "timeouts[%r]" % clock.name.lower(), ctypes.c_long, 1,
                        maximum=MAX_TIMEOUT_MS))
