"""One call's request: the C ulm_request built from the arguments of complete(), stream(),
compare() and embed(), and the bridge that hands streamed text from C to a Python
callable."""

from __future__ import annotations

import collections.abc
import ctypes
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

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
# backend name -> {"api_key": ..., "base_url": ...}, either of them (or None) left out.
BackendOverrides = Mapping[str, Mapping[str, Optional[str]]]
OVERRIDE_NAMES = ("api_key", "base_url")


class RequestArgs(NamedTuple):
    """The arguments a call's request is made of, as its caller received them; Request
    checks each of them."""
    prompt: Optional[str] = None
    messages: Optional[Iterable[Message]] = None
    model: Optional[Models] = None
    system: Optional[str] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    max_tokens: Optional[int] = None
    seed: Optional[int] = None
    stop: Optional[Union[str, Sequence[str]]] = None
    timeouts: Optional[Timeouts] = None
    backend_overrides: Optional[BackendOverrides] = None
    inputs: Optional[Union[str, Iterable[str]]] = None  # the texts to embed


def _plain(value: str) -> bool:
    """No control character: what ulm_request_set_backend_override() requires."""
    return not any(ord(c) < 0x20 or ord(c) == 0x7f for c in value)


def _override(req: Any, backend: object, values: object) -> None:
    """One backend's override, checked here so that the library's bare ULM_EINVAL never
    has to be explained, and so that no message ever shows the key."""
    if not isinstance(backend, str):
        raise TypeError("backend_overrides: a backend name must be a str, got %s"
                        % type(backend).__name__)
    what = "backend_overrides[%r]" % backend
    if not backend or "\0" in backend:
        raise error(ErrorCode.INVALID_ARGUMENT, "%s: not a backend name" % what)
    if not isinstance(values, collections.abc.Mapping):
        raise TypeError("%s: expected a mapping of api_key and base_url, got %s"
                        % (what, type(values).__name__))
    unknown = [name for name in values if name not in OVERRIDE_NAMES]
    if unknown:
        raise error(ErrorCode.INVALID_ARGUMENT, "%s: unknown name %r, not one of %s"
                    % (what, unknown[0], ", ".join(OVERRIDE_NAMES)))
    api_key, base_url = values.get("api_key"), values.get("base_url")
    if api_key is None and base_url is None:
        raise error(ErrorCode.INVALID_ARGUMENT, "%s: neither api_key nor base_url" % what)
    key = None
    if api_key is not None:
        key = c_string(api_key, what + "['api_key']")
        if not api_key or not _plain(api_key):
            raise error(ErrorCode.INVALID_ARGUMENT, "%s['api_key']: empty, or holds a control "
                        "character" % what)
    url = None
    if base_url is not None:
        url = c_string(base_url, what + "['base_url']")
        if (not base_url.startswith(("http://", "https://")) or not _plain(base_url)
                or " " in base_url):
            raise error(ErrorCode.INVALID_ARGUMENT, "%s['base_url']: %r is not an http:// or "
                        "https:// URL" % (what, base_url))
    lib.ulm_request_set_backend_override(req, c_string(backend, what), key, url)


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
    """An ulm_request owned by Python, filled from a call's arguments (checked before
    anything is sent) and freed by close(), or at the end of a with block.

    raised holds what on_delta raised, for the caller to re-raise after the call. The
    request keeps the C callback object alive as long as C may call it. cancel, when
    given, is set on the request (ulm_request_set_cancel()); the caller releases it after
    the call.
    """

    handle: Any
    raised: list[BaseException]

    def __init__(self, args: RequestArgs, on_delta: Optional[OnDelta] = None,
                 cancel: Optional[CallToken] = None) -> None:
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta: expected a callable, got %s" % type(on_delta).__name__)
        self.raised = []
        self._delta_fn: Any = None
        self.handle = request_p()
        lib.ulm_request_new(ctypes.byref(self.handle))
        try:
            self._fill(args)
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

    def _fill(self, args: RequestArgs) -> None:
        (prompt, messages, model, system, temperature, top_p, max_tokens, seed, stop,
         timeouts, backend_overrides, inputs) = args
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
        if backend_overrides is not None:
            if not isinstance(backend_overrides, collections.abc.Mapping):
                raise TypeError("backend_overrides: expected a mapping of backend name to "
                                "{'api_key': ..., 'base_url': ...}, got %s"
                                % type(backend_overrides).__name__)
            for backend, values in backend_overrides.items():
                _override(req, backend, values)
        if inputs is not None:
            for i, input_text in enumerate(strings(inputs)):
                if input_text == "":
                    raise error(ErrorCode.INVALID_ARGUMENT, "texts[%d]: empty" % i)
                lib.ulm_request_add_input(req, c_string(input_text, "texts[%d]" % i))
