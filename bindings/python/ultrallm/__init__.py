"""ultrallm - Python bindings of libultrallm over ctypes: one call to local and cloud LLMs.

Finds and loads the C library, declares every C function used here in one table, turns
the library's error codes into exceptions, and wraps its handles in Python objects that
free them. Standard library only.

    import ultrallm
    with ultrallm.Client() as client:
        print(client.complete("Say hi", model="dmr/ai/smollm2").text)
        client.complete("Once upon a time", model="dmr/ai/smollm2",
                        on_delta=lambda chunk: print(chunk, end="", flush=True),
                        timeouts={"first_token": 30000, "idle": 5000})
"""

import collections.abc
import contextlib
import ctypes
import ctypes.util
import dataclasses
import enum
import json
import os
import threading
from typing import Optional

__all__ = [
    "Attempt", "AuthError", "BackendStatus", "BadRequestError", "CancelledError",
    "CircuitOpenError", "Client", "Clock", "ConfigError", "ConnectError",
    "ConnectTimeoutError", "ContentFilterError", "ContextLengthError", "ErrorCode", "FirstTokenTimeoutError",
    "IdleTimeoutError", "InvalidArgumentError", "LibraryLoadError", "LoadTimeoutError",
    "LogLevel", "ModelList", "ModelLoadError", "ModelLoadingError", "ModelNotFoundError",
    "NotConfiguredError", "OptionsVersionError", "OutOfMemoryError", "ProtocolError",
    "QuotaError", "RateLimitError", "RequestTimeoutError", "ResourceExhaustedError",
    "Response", "ServerError", "TooLargeError", "TransportError", "UltraLLMError",
    "UnavailableError", "UnsupportedError", "Usage", "error_is_retryable", "error_name",
    "strerror", "version", "version_number",
]

# The C library's major version these bindings were written against; a library of another
# major version may have changed any signature below, so it is refused at import.
_SUPPORTED_MAJOR = 0
_OPTIONS_VERSION = 3  # ULM_CLIENT_OPTIONS_VERSION, the layout _ClientOptions mirrors
_ERROR_SIZE = 512     # ULM_ERROR_SIZE
_MAX_TIMEOUT_MS = 86400000  # the longest clock ulm_request_set_timeout() accepts, 24 h
_DESCRIBE_SIZE = 4096  # first buffer tried for ulm_client_describe(); grown when too small

# Names a copy shipped beside the package may have, SONAME first.
_BESIDE_NAMES = ("libultrallm.so.0", "libultrallm.so", "libultrallm.dylib", "ultrallm.dll")


# ------------------------------------------------------------------ enums

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


_ROLES = {"system": 1, "user": 2, "assistant": 3}  # enum ulm_role
_CLOCKS = {clock.name.lower(): clock for clock in Clock}


def _enum_or_int(kind, value):
    # Codes are append-only in C: a newer library may return one this module predates.
    try:
        return kind(value)
    except ValueError:
        return value


# ------------------------------------------------------------------ exceptions

class LibraryLoadError(ImportError):
    """libultrallm was not found, could not be loaded, or is of an unsupported version."""


class UltraLLMError(Exception):
    """A failure reported by libultrallm; the subclass tells the error class apart.

    code is an ErrorCode, name its stable identifier ("connect"), message the library's
    one-line explanation, http_status the last HTTP status (0 when none), provider the
    backend that failed (None when no backend was asked), attempts the Attempt trail.
    incomplete is true when a streamed answer broke off after text had been handed to
    on_delta; text is then exactly that text (else "").
    """

    def __init__(self, code, name=None, message="", http_status=0, provider=None,
                 attempts=(), incomplete=False, text=""):
        code = _enum_or_int(ErrorCode, code)
        name = name or error_name(code)
        attempts = tuple(attempts)
        incomplete = bool(incomplete)
        # All fields go to args so that the exception survives pickling (multiprocessing).
        super().__init__(code, name, message, http_status, provider, attempts, incomplete,
                         text)
        self.code = code
        self.name = name
        self.message = message or strerror(code)
        self.http_status = http_status
        self.provider = provider
        self.attempts = list(attempts)
        self.incomplete = incomplete
        self.text = text

    def __str__(self):
        return self.message

    @property
    def retryable(self):
        """Whether the same request may succeed later or at another backend."""
        return error_is_retryable(self.code)


class InvalidArgumentError(UltraLLMError, ValueError):
    """A bad argument or request field; nothing was sent."""


class OutOfMemoryError(UltraLLMError):
    """An allocation in the library failed."""


class ConfigError(UltraLLMError):
    """Invalid configuration; the message names the option or variable at fault."""


class OptionsVersionError(UltraLLMError):
    """The library does not know the options struct version these bindings pass."""


class NotConfiguredError(UltraLLMError):
    """The backend is disabled or has no API key; nothing was sent."""


class ConnectError(UltraLLMError):
    """Could not connect to the backend: refused, unreachable, DNS."""


class RequestTimeoutError(UltraLLMError, TimeoutError):
    """A clock of the call ran out; this class itself is the overall deadline (timeout).

    The base of every timeout: its subclasses name the other clocks, so that catching
    RequestTimeoutError (or the built-in TimeoutError) catches them all.
    """


class AuthError(UltraLLMError):
    """The backend refused the credentials (401, 403)."""


class RateLimitError(UltraLLMError):
    """Too many requests (429)."""


class QuotaError(UltraLLMError):
    """The account is out of quota or credit."""


class BadRequestError(UltraLLMError):
    """The backend rejected the request (400, 422)."""


class ModelNotFoundError(UltraLLMError):
    """The backend does not have that model (404)."""


class ModelLoadError(UltraLLMError):
    """A local model failed to load."""


class ContextLengthError(UltraLLMError):
    """The prompt does not fit the model's context window."""


class UnavailableError(UltraLLMError):
    """The backend is overloaded or starting (503, 529)."""


class ServerError(UltraLLMError):
    """The backend failed (another 5xx)."""


class ProtocolError(UltraLLMError):
    """The backend's answer was not what the protocol promises."""


class TooLargeError(UltraLLMError):
    """An answer exceeded max_response_bytes."""


class TransportError(UltraLLMError):
    """Another transport failure (TLS, reset connection)."""


class UnsupportedError(UltraLLMError):
    """The backend does not offer that operation."""


class CancelledError(UltraLLMError):
    """The on_delta callback stopped the call (it raised; complete() re-raises that)."""


class ConnectTimeoutError(RequestTimeoutError):
    """No connection to the backend within the connect timeout."""


class LoadTimeoutError(RequestTimeoutError):
    """A local model did not answer within its load budget (local_model_timeout_ms)."""


class FirstTokenTimeoutError(RequestTimeoutError):
    """No first token within the first-token timeout."""


class IdleTimeoutError(RequestTimeoutError):
    """The answer stalled longer than the idle timeout."""


class ModelLoadingError(UltraLLMError):
    """A local model is still loading (the library waits for it within its load budget)."""


class ResourceExhaustedError(UltraLLMError):
    """A backend's request queue is full (max_in_flight and max_queue of the configuration
    file), or the wait for a slot would pass the call's deadline; nothing was sent to it.
    Code RESOURCE_EXHAUSTED, ULM_EBUSY in C."""


class CircuitOpenError(UltraLLMError):
    """Every endpoint of a backend is cooling down after repeated failures (its circuit
    breaker is open); nothing was sent to it. Code CIRCUIT_OPEN."""


class ContentFilterError(UltraLLMError):
    """The provider's safety filter refused the prompt (Gemini's promptFeedback.blockReason);
    the chain stops here rather than send the same prompt elsewhere. Code CONTENT_FILTER."""


_ERROR_CLASSES = {
    ErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    ErrorCode.OUT_OF_MEMORY: OutOfMemoryError,
    ErrorCode.CONFIG: ConfigError,
    ErrorCode.VERSION: OptionsVersionError,
    ErrorCode.NOT_CONFIGURED: NotConfiguredError,
    ErrorCode.CONNECT: ConnectError,
    ErrorCode.TIMEOUT: RequestTimeoutError,
    ErrorCode.AUTH: AuthError,
    ErrorCode.RATE_LIMIT: RateLimitError,
    ErrorCode.QUOTA: QuotaError,
    ErrorCode.BAD_REQUEST: BadRequestError,
    ErrorCode.MODEL_NOT_FOUND: ModelNotFoundError,
    ErrorCode.MODEL_LOAD: ModelLoadError,
    ErrorCode.CONTEXT_LENGTH: ContextLengthError,
    ErrorCode.UNAVAILABLE: UnavailableError,
    ErrorCode.SERVER: ServerError,
    ErrorCode.PROTOCOL: ProtocolError,
    ErrorCode.TOO_LARGE: TooLargeError,
    ErrorCode.TRANSPORT: TransportError,
    ErrorCode.UNSUPPORTED: UnsupportedError,
    ErrorCode.CANCELLED: CancelledError,
    ErrorCode.CONNECT_TIMEOUT: ConnectTimeoutError,
    ErrorCode.LOAD_TIMEOUT: LoadTimeoutError,
    ErrorCode.FIRST_TOKEN_TIMEOUT: FirstTokenTimeoutError,
    ErrorCode.IDLE_TIMEOUT: IdleTimeoutError,
    ErrorCode.MODEL_LOADING: ModelLoadingError,
    ErrorCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    ErrorCode.CIRCUIT_OPEN: CircuitOpenError,
    ErrorCode.CONTENT_FILTER: ContentFilterError,
}


def _error(code, message="", http_status=0, provider=None, attempts=(), incomplete=False,
           text=""):
    cls = _ERROR_CLASSES.get(code, UltraLLMError)
    return cls(code, error_name(code), message, http_status, provider, attempts, incomplete,
               text)


# ------------------------------------------------------------------ C types

class _Client(ctypes.Structure):
    """Opaque ulm_client; distinct pointer types let ctypes refuse a mixed-up handle."""


class _Request(ctypes.Structure):
    """Opaque ulm_request."""


class _Response(ctypes.Structure):
    """Opaque ulm_response."""


class _Attempt(ctypes.Structure):
    """Opaque ulm_attempt."""


class _ModelList(ctypes.Structure):
    """Opaque ulm_model_list."""


# void (*ulm_log_fn)(int level, const char *message, void *payload)
_LogFn = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

# int (*ulm_delta_fn)(const char *text, size_t length, void *payload); the text is not
# NUL-terminated, so a void pointer read by length: c_char_p would run past its end.
_DeltaFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class _ClientOptions(ctypes.Structure):
    """struct ulm_client_options, version 3: same fields, same order, same C types."""
    _fields_ = [
        ("version", ctypes.c_uint),
        ("log_fn", _LogFn),
        ("log_payload", ctypes.c_void_p),
        ("log_level", ctypes.c_int),
        ("ignore_environment", ctypes.c_int),
        ("openai_api_key", ctypes.c_char_p),
        ("openai_base_url", ctypes.c_char_p),
        ("enable_model_runner", ctypes.c_int),
        ("model_runner_url", ctypes.c_char_p),
        ("default_local_model", ctypes.c_char_p),
        ("available_local_models", ctypes.c_char_p),
        ("local_model_timeout_ms", ctypes.c_long),
        ("timeout_ms", ctypes.c_long),
        ("connect_timeout_ms", ctypes.c_long),
        ("max_response_bytes", ctypes.c_size_t),
        ("max_idle_connections", ctypes.c_uint),
        # Fields above exist since version 1.
        ("first_token_timeout_ms", ctypes.c_long),
        ("idle_timeout_ms", ctypes.c_long),
        ("max_event_line_bytes", ctypes.c_size_t),
        ("max_event_bytes", ctypes.c_size_t),
        ("config_path", ctypes.c_char_p),
        ("use_local_models_when_offline", ctypes.c_int),
        # Fields above exist since version 2.
        ("anthropic_api_key", ctypes.c_char_p),
        ("anthropic_base_url", ctypes.c_char_p),
        ("gemini_api_key", ctypes.c_char_p),
        ("gemini_base_url", ctypes.c_char_p),
    ]


# ------------------------------------------------------------------ errcheck

def _describe_call(func, args):
    # The request setters return a bare ULM_EINVAL: the function name and the Python
    # values passed are the only detail there is to report.
    shown = []
    for arg in args:
        if isinstance(arg, bytes):
            arg = arg.decode("utf-8", "replace")
            shown.append(repr(arg if len(arg) <= 64 else arg[:64] + "..."))
        elif isinstance(arg, (int, float)):
            shown.append(repr(arg))
    return "%s(%s)" % (func.__name__, ", ".join(shown))


def _check_code(result, func, args):
    if result < 0:
        raise _error(result, "%s: %s" % (_describe_call(func, args), strerror(result)))
    return result


def _check_client_new(result, func, args):
    if result < 0:
        raise _error(result, _text(args[2].value) or strerror(result))
    return result


def _check_complete(result, func, args):
    # ulm_complete() leaves *out NULL only when it could not build a response at all;
    # otherwise the caller reads the failure, attempts included, from the response.
    if result < 0 and not args[0].contents:
        raise _error(result, "%s: %s" % (func.__name__, strerror(result)))
    return result


# ------------------------------------------------------------------ function table

_c_int, _c_uint, _c_long, _c_size_t = ctypes.c_int, ctypes.c_uint, ctypes.c_long, ctypes.c_size_t
_c_double, _c_str = ctypes.c_double, ctypes.c_char_p
_P = ctypes.POINTER
_client_p, _request_p, _response_p = _P(_Client), _P(_Request), _P(_Response)
_attempt_p, _list_p = _P(_Attempt), _P(_ModelList)

# (name, argtypes, restype, errcheck) of every C function these bindings call.
_FUNCTIONS = (
    ("ulm_version_number", (), _c_uint, None),
    ("ulm_version_string", (), _c_str, None),
    ("ulm_strerror", (_c_int,), _c_str, None),
    ("ulm_error_name", (_c_int,), _c_str, None),
    ("ulm_error_is_retryable", (_c_int,), _c_int, None),

    ("ulm_client_options_init", (_P(_ClientOptions), _c_uint), _c_int, _check_code),
    ("ulm_client_new", (_P(_client_p), _P(_ClientOptions), _c_str, _c_size_t), _c_int,
     _check_client_new),
    ("ulm_client_free", (_client_p,), None, None),
    ("ulm_client_default_model", (_client_p,), _c_str, None),
    # The buffer is written by the library, so a pointer to char rather than c_char_p.
    ("ulm_client_describe", (_client_p, _P(ctypes.c_char), _c_size_t), _c_size_t, None),

    ("ulm_request_new", (_P(_request_p),), _c_int, _check_code),
    ("ulm_request_free", (_request_p,), None, None),
    ("ulm_request_add_model", (_request_p, _c_str), _c_int, _check_code),
    ("ulm_request_add_message", (_request_p, _c_int, _c_str), _c_int, _check_code),
    ("ulm_request_set_temperature", (_request_p, _c_double), _c_int, _check_code),
    ("ulm_request_set_top_p", (_request_p, _c_double), _c_int, _check_code),
    ("ulm_request_set_max_tokens", (_request_p, _c_long), _c_int, _check_code),
    ("ulm_request_set_seed", (_request_p, ctypes.c_int64), _c_int, _check_code),
    ("ulm_request_add_stop", (_request_p, _c_str), _c_int, _check_code),
    ("ulm_request_set_on_delta", (_request_p, _DeltaFn, ctypes.c_void_p), _c_int,
     _check_code),
    ("ulm_request_set_timeout", (_request_p, _c_int, _c_long), _c_int, _check_code),

    ("ulm_complete", (_P(_response_p), _client_p, _request_p), _c_int, _check_complete),
    ("ulm_response_free", (_response_p,), None, None),
    ("ulm_response_error", (_response_p,), _c_int, None),
    ("ulm_response_error_message", (_response_p,), _c_str, None),
    ("ulm_response_http_status", (_response_p,), _c_int, None),
    # The text is read by length, so a void pointer: c_char_p would stop at a NUL.
    ("ulm_response_text", (_response_p,), ctypes.c_void_p, None),
    ("ulm_response_text_length", (_response_p,), _c_size_t, None),
    ("ulm_response_finish_reason", (_response_p,), _c_int, None),
    ("ulm_finish_reason_name", (_c_int,), _c_str, None),
    ("ulm_response_prompt_tokens", (_response_p,), _c_long, None),
    ("ulm_response_completion_tokens", (_response_p,), _c_long, None),
    ("ulm_response_total_tokens", (_response_p,), _c_long, None),
    ("ulm_response_provider", (_response_p,), _c_str, None),
    ("ulm_response_model", (_response_p,), _c_str, None),
    ("ulm_response_latency_ms", (_response_p,), _c_double, None),
    ("ulm_response_raw_json", (_response_p,), _c_str, None),
    ("ulm_response_incomplete", (_response_p,), _c_int, None),
    ("ulm_response_offline", (_response_p,), _c_int, None),
    ("ulm_response_attempt_count", (_response_p,), _c_size_t, None),
    ("ulm_response_attempt", (_response_p, _c_size_t), _attempt_p, None),
    ("ulm_attempt_provider", (_attempt_p,), _c_str, None),
    ("ulm_attempt_model", (_attempt_p,), _c_str, None),
    ("ulm_attempt_error", (_attempt_p,), _c_int, None),
    ("ulm_attempt_http_status", (_attempt_p,), _c_int, None),
    ("ulm_attempt_ms", (_attempt_p,), _c_double, None),
    ("ulm_attempt_error_message", (_attempt_p,), _c_str, None),

    ("ulm_list_models", (_P(_list_p), _client_p), _c_int, _check_code),
    ("ulm_model_list_free", (_list_p,), None, None),
    ("ulm_model_list_count", (_list_p,), _c_size_t, None),
    ("ulm_model_list_provider", (_list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_id", (_list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_count", (_list_p,), _c_size_t, None),
    ("ulm_model_list_backend_name", (_list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_url", (_list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_ms", (_list_p, _c_size_t), _c_double, None),
    ("ulm_model_list_backend_error", (_list_p, _c_size_t), _c_int, None),
    ("ulm_model_list_backend_message", (_list_p, _c_size_t), _c_str, None),
)


# ------------------------------------------------------------------ loading

def _open(path, origin):
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise LibraryLoadError("ultrallm: cannot load %s (%s): %s" % (path, origin, e)) from e


def _find_library():
    override = os.environ.get("ULTRALLM_LIBRARY")
    if override:
        return _open(override, "from ULTRALLM_LIBRARY")
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _BESIDE_NAMES:
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


def _bind(lib):
    missing = []
    for name, argtypes, restype, errcheck in _FUNCTIONS:
        try:
            func = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        func.argtypes = argtypes
        func.restype = restype
        if errcheck is not None:
            func.errcheck = errcheck
    # Checked before the missing names: another major version explains them better.
    if "ulm_version_number" not in missing:
        number = lib.ulm_version_number()
        if number // 10000 != _SUPPORTED_MAJOR:
            raise LibraryLoadError(
                "ultrallm: %s is libultrallm %d.%d.%d; these bindings need major version %d"
                % (lib._name, number // 10000, number // 100 % 100, number % 100,
                   _SUPPORTED_MAJOR))
    if missing:
        raise LibraryLoadError("ultrallm: %s lacks %s" % (lib._name, ", ".join(missing)))
    return lib


_lib = _bind(_find_library())


# ------------------------------------------------------------------ conversions

def _text(value):
    return None if value is None else value.decode("utf-8", "replace")


def _c_string(value, what, code=ErrorCode.INVALID_ARGUMENT):
    if not isinstance(value, str):
        raise TypeError("%s: expected a str, got %s" % (what, type(value).__name__))
    # C would silently stop at the NUL and send a truncated string.
    if "\0" in value:
        raise _error(code, "%s: contains a NUL character" % what)
    return value.encode("utf-8")


def _c_path(value, what, code=ErrorCode.INVALID_ARGUMENT):
    """A str, bytes or os.PathLike path as the bytes C expects (os.fsencode: the file
    system's encoding, so that any name the OS gave Python round-trips)."""
    try:
        path = os.fspath(value)
    except TypeError:
        raise TypeError("%s: expected a str or os.PathLike, got %s"
                        % (what, type(value).__name__)) from None
    path = os.fsencode(path)
    if b"\0" in path:
        raise _error(code, "%s: contains a NUL character" % what)
    return path


def _c_integer(value, what, ctype, minimum, code=ErrorCode.INVALID_ARGUMENT, maximum=None):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("%s: expected an int, got %s" % (what, type(value).__name__))
    # ctypes wraps an out-of-range int around instead of refusing it.
    bits = 8 * ctypes.sizeof(ctype)
    largest = (1 << (bits - 1)) - 1 if ctype(-1).value < 0 else (1 << bits) - 1
    maximum = largest if maximum is None else min(maximum, largest)
    if not minimum <= value <= maximum:
        raise _error(code, "%s: expected a whole number from %d to %d, got %d"
                     % (what, minimum, maximum, value))
    return value


def _c_float(value, what):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError("%s: expected a number, got %s" % (what, type(value).__name__))
    return float(value)


def _strings(value):
    """A str or an iterable of str, as a list."""
    return [value] if isinstance(value, str) else list(value)


# ------------------------------------------------------------------ module functions

def version():
    """Version string of the loaded C library ("0.1.0")."""
    return _lib.ulm_version_string().decode()


def version_number():
    """MAJOR * 10000 + MINOR * 100 + PATCH of the loaded C library."""
    return _lib.ulm_version_number()


def strerror(code):
    """English description of an error code (ulm_strerror)."""
    return _lib.ulm_strerror(code).decode()


def error_name(code):
    """Short stable identifier of an error code, "rate_limit" (ulm_error_name)."""
    return _lib.ulm_error_name(code).decode()


def error_is_retryable(code):
    """Whether a request failing with code may succeed later or elsewhere."""
    return bool(_lib.ulm_error_is_retryable(code))


# ------------------------------------------------------------------ results

@dataclasses.dataclass(frozen=True)
class Attempt:
    """One backend asked during a call: ok, or why not (error is the error name)."""
    provider: str
    model: str
    ok: bool
    error: Optional[str]
    code: int
    http_status: int
    ms: float
    message: str


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts as the backend reported them; None for a count it did not report."""
    prompt_tokens: Optional[int]
    completion_tokens: Optional[int]
    total_tokens: Optional[int]


@dataclasses.dataclass(frozen=True)
class Response:
    """A successful completion. usage is None when the backend reported no count.

    raw_json is None for a streamed answer (on_delta given). incomplete mirrors
    ulm_response_incomplete(), which is only ever true for a failed call: a Response is
    always complete, and a stream that broke off raises with e.incomplete and e.text.
    offline (ulm_response_offline()) is true when the call was served offline: the cloud
    backends could not be reached (or were known not to be, from earlier calls) and a
    local model answered instead; see use_local_models_when_offline of Client.
    """
    text: str
    finish_reason: str
    provider: str
    model: str
    usage: Optional[Usage]
    latency_ms: float
    attempts: list
    raw_json: Optional[str]
    incomplete: bool = False
    offline: bool = False


@dataclasses.dataclass(frozen=True)
class BackendStatus:
    """The outcome of asking one endpoint of a backend for its models.

    name is the backend's name ("dmr", "openai", or one declared in the configuration
    file); a backend with several deployments has one BackendStatus per endpoint, all with
    the same name. url is the endpoint's base URL (None if the library gave none) and ms
    how long the endpoint took to answer or fail, in milliseconds (next to nothing when
    nothing was sent, e.g. for a backend without its API key).
    """
    name: str
    ok: bool
    error: Optional[str]
    code: int
    message: str
    url: Optional[str] = None
    ms: float = 0.0


@dataclasses.dataclass(frozen=True)
class ModelList:
    """models: (provider, id) pairs; backends: one BackendStatus per endpoint asked (a
    backend with several URLs has one per URL), in the client's order."""
    models: list
    backends: list

    def __iter__(self):
        return iter(self.models)

    def __len__(self):
        return len(self.models)

    @property
    def errors(self):
        """The endpoints that could not list their models."""
        return [b for b in self.backends if not b.ok]


def _read_attempts(resp):
    attempts = []
    for i in range(_lib.ulm_response_attempt_count(resp)):
        a = _lib.ulm_response_attempt(resp, i)
        code = _enum_or_int(ErrorCode, _lib.ulm_attempt_error(a))
        attempts.append(Attempt(
            provider=_text(_lib.ulm_attempt_provider(a)),
            model=_text(_lib.ulm_attempt_model(a)),
            ok=code == ErrorCode.OK,
            error=None if code == ErrorCode.OK else error_name(code),
            code=code,
            http_status=_lib.ulm_attempt_http_status(a),
            ms=_lib.ulm_attempt_ms(a),
            message=_text(_lib.ulm_attempt_error_message(a)) or "",
        ))
    return attempts


def _count(n):
    return None if n < 0 else n


def _response_text(resp):
    text = ctypes.string_at(_lib.ulm_response_text(resp), _lib.ulm_response_text_length(resp))
    return text.decode("utf-8", "replace")


def _read_response(resp):
    """A Response from a successful ulm_response, else raises its error."""
    attempts = _read_attempts(resp)
    code = _lib.ulm_response_error(resp)
    incomplete = bool(_lib.ulm_response_incomplete(resp))
    if code != ErrorCode.OK:
        raise _error(code, _text(_lib.ulm_response_error_message(resp)),
                     _lib.ulm_response_http_status(resp),
                     _text(_lib.ulm_response_provider(resp)) or None, attempts,
                     incomplete, _response_text(resp) if incomplete else "")
    counts = (_count(_lib.ulm_response_prompt_tokens(resp)),
              _count(_lib.ulm_response_completion_tokens(resp)),
              _count(_lib.ulm_response_total_tokens(resp)))
    return Response(
        text=_response_text(resp),
        finish_reason=_lib.ulm_finish_reason_name(_lib.ulm_response_finish_reason(resp)).decode(),
        provider=_text(_lib.ulm_response_provider(resp)),
        model=_text(_lib.ulm_response_model(resp)),
        usage=None if counts == (None, None, None) else Usage(*counts),
        latency_ms=_lib.ulm_response_latency_ms(resp),
        attempts=attempts,
        raw_json=_text(_lib.ulm_response_raw_json(resp)),
        incomplete=incomplete,
        offline=bool(_lib.ulm_response_offline(resp)),
    )


def _read_model_list(lst):
    models = [(_text(_lib.ulm_model_list_provider(lst, i)), _text(_lib.ulm_model_list_id(lst, i)))
              for i in range(_lib.ulm_model_list_count(lst))]
    backends = []
    for i in range(_lib.ulm_model_list_backend_count(lst)):
        code = _enum_or_int(ErrorCode, _lib.ulm_model_list_backend_error(lst, i))
        backends.append(BackendStatus(
            name=_text(_lib.ulm_model_list_backend_name(lst, i)),
            ok=code == ErrorCode.OK,
            error=None if code == ErrorCode.OK else error_name(code),
            code=code,
            message=_text(_lib.ulm_model_list_backend_message(lst, i)) or "",
            url=_text(_lib.ulm_model_list_backend_url(lst, i)),
            ms=_lib.ulm_model_list_backend_ms(lst, i),
        ))
    return ModelList(models, backends)


# ------------------------------------------------------------------ client

def _log_adapter(log):
    # An exception raised by log cannot cross into C: ctypes reports it through
    # sys.unraisablehook and the library carries on.
    def call(level, message, _payload):
        log(_enum_or_int(LogLevel, level), message.decode("utf-8", "replace"))
    return call


def _delta_adapter(on_delta, raised):
    # An exception cannot cross into C either, and must not be lost: the first one is
    # kept in raised, the call is stopped (non-zero: ULM_ECANCELLED), and complete()
    # raises it once ulm_complete() has returned. BaseException too, so that Ctrl-C
    # during a stream stops it. What on_delta returns is ignored.
    def call(text, length, _payload):
        if raised:
            return 1
        try:
            chunk = ctypes.string_at(text, length) if length else b""
            on_delta(chunk.decode("utf-8", "replace"))
        except BaseException as e:  # noqa: B036  (re-raised by complete())
            raised.append(e)
            return 1
        return 0
    return call


class Client:
    """A libultrallm client (ulm_client): configuration, backends and a connection pool.

    Each setting comes from the first of: the option given here, the configuration file,
    the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY,
    MODEL_RUNNER_URL, LOCAL_MODEL_TIMEOUT, ...), the
    library's default; ignore_environment=True reads no environment variable at all
    (ULM_CONFIG and the variables a file's api_key_env names included). log is a
    callable(level, message) receiving diagnostics up to log_level; it may be called from
    any thread that uses the client.

    config_path (a str, bytes or os.PathLike; default ULM_CONFIG) names a JSON configuration
    file: backends and their deployments, model aliases ("fast": a fallback chain),
    per-model parameters, retries, circuit breakers, queues, timeouts, offline mode and
    default_model (docs/config.md). A mistake in it raises ConfigError naming the file,
    the line and the JSON path ("ultra.json:3: models.fast[0]: unknown backend ...").
    An empty string is the same as None.

    use_local_models_when_offline: True or False overrides the file's
    offline.use_local_models and USE_LOCAL_MODELS_WHEN_OFFLINE; None leaves it to them
    (default on). When on and a cloud backend cannot be reached at all (DNS, refused,
    connect timeout, not an HTTP error), the call ends on the local models instead, later
    calls skip the cloud until a periodic probe reaches it again, and the Response says
    offline=True. describe() shows the configuration in effect.

    The clocks, in milliseconds: timeout_ms is the overall deadline of one call, all
    attempts included (default 300000); connect_timeout_ms (10000); local_model_timeout_ms
    the load budget of a local model (60000); first_token_timeout_ms (60000);
    idle_timeout_ms the longest gap inside an answer (30000). max_response_bytes caps one
    answer (8 MiB), max_event_line_bytes one server-sent event line (1 MiB),
    max_event_bytes one event's data (4 MiB). complete(timeouts=...) overrides the clocks
    for one call.

    One client may serve several threads at once; close() waits for none of them but
    defers freeing the C client until the last call in flight returns.
    """

    # Kept on the class so that __del__ still reaches it during interpreter shutdown.
    _free = staticmethod(_lib.ulm_client_free)

    def __init__(self, *, openai_api_key=None, openai_base_url=None, anthropic_api_key=None,
                 anthropic_base_url=None, gemini_api_key=None, gemini_base_url=None,
                 model_runner_url=None,
                 default_local_model=None, available_local_models=None,
                 local_model_timeout_ms=None, timeout_ms=None, connect_timeout_ms=None,
                 max_response_bytes=None, max_idle_connections=None,
                 first_token_timeout_ms=None, idle_timeout_ms=None, max_event_line_bytes=None,
                 max_event_bytes=None, enable_model_runner=None, ignore_environment=False,
                 config_path=None, use_local_models_when_offline=None, log=None,
                 log_level=LogLevel.INFO):
        self._handle = None
        self._lock = threading.Lock()
        self._calls = 0
        self._closed = False

        opts = _ClientOptions()
        _lib.ulm_client_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        if available_local_models is not None:
            available_local_models = ",".join(
                _strings(available_local_models))
        strings = (("openai_api_key", openai_api_key), ("openai_base_url", openai_base_url),
                   ("anthropic_api_key", anthropic_api_key),
                   ("anthropic_base_url", anthropic_base_url),
                   ("gemini_api_key", gemini_api_key), ("gemini_base_url", gemini_base_url),
                   ("model_runner_url", model_runner_url),
                   ("default_local_model", default_local_model),
                   ("available_local_models", available_local_models))
        for field, value in strings:
            if value is not None:
                setattr(opts, field, _c_string(value, field, ErrorCode.CONFIG))
        if config_path is not None:
            opts.config_path = _c_path(config_path, "config_path", ErrorCode.CONFIG)
        # Zero means "environment or default" in C, so an explicit value must be >= 1.
        numbers = (("local_model_timeout_ms", local_model_timeout_ms),
                   ("timeout_ms", timeout_ms),
                   ("connect_timeout_ms", connect_timeout_ms),
                   ("max_response_bytes", max_response_bytes),
                   ("max_idle_connections", max_idle_connections),
                   ("first_token_timeout_ms", first_token_timeout_ms),
                   ("idle_timeout_ms", idle_timeout_ms),
                   ("max_event_line_bytes", max_event_line_bytes),
                   ("max_event_bytes", max_event_bytes))
        ctypes_of = dict(_ClientOptions._fields_)
        for field, value in numbers:
            if value is not None:
                setattr(opts, field,
                        _c_integer(value, field, ctypes_of[field], 1, ErrorCode.CONFIG))
        if enable_model_runner is not None:
            opts.enable_model_runner = 1 if enable_model_runner else -1
        if use_local_models_when_offline is not None:
            opts.use_local_models_when_offline = 1 if use_local_models_when_offline else -1
        opts.ignore_environment = 1 if ignore_environment else 0
        # The CFUNCTYPE object must outlive every C call that may log, so the client
        # holds it until the C client is freed.
        self._log_fn = _LogFn(_log_adapter(log)) if log is not None else None
        if self._log_fn is not None:
            opts.log_fn = self._log_fn
            opts.log_level = int(log_level)

        handle = _client_p()
        errbuf = ctypes.create_string_buffer(_ERROR_SIZE)
        _lib.ulm_client_new(ctypes.byref(handle), ctypes.byref(opts), errbuf, len(errbuf))
        self._handle = handle

    # -- lifetime

    def close(self):
        """Frees the C client once no call is in flight. Idempotent."""
        with self._lock:
            self._closed = True
            idle = self._calls == 0
        if idle:
            self._release()

    def _release(self):
        with self._lock:
            handle, self._handle = self._handle, None
        if handle:
            self._free(handle)
        self._log_fn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # No call can be in flight: each holds a reference to self. __init__ may have
        # failed before _handle existed.
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            self._free(handle)

    @contextlib.contextmanager
    def _borrow(self):
        with self._lock:
            if self._closed:
                raise ValueError("ultrallm: the client is closed")
            self._calls += 1
        try:
            yield self._handle
        finally:
            with self._lock:
                self._calls -= 1
                last = self._closed and self._calls == 0
            if last:
                self._release()

    # -- operations

    @property
    def default_model(self):
        """The model used when a request names none: the configuration file's
        default_model (unless the default_local_model option was given), else
        "dmr/<DEFAULT_LOCAL_MODEL>"."""
        with self._borrow() as handle:
            return _text(_lib.ulm_client_default_model(handle))

    def describe(self):
        """The client's effective configuration (ulm_client_describe()) as a dict.

        Among its keys: "config_file" (the file's path, or None), "default_model",
        "backends" (a list: name, type, "endpoints" with each url and its breaker state,
        "key" - "present", "absent" or "not needed", never the key itself - balance,
        limits), "timeouts", "retry", "breaker", "offline" ("use_local_models",
        "probe_interval_ms", "offline_now"), "local_models", "aliases" (name -> list of
        targets), "models" (per-model parameters) and "limits". The exact set of keys is
        the library's (docs/config.md); a newer library may add some.
        """
        size = _DESCRIBE_SIZE
        with self._borrow() as handle:
            while True:
                buf = ctypes.create_string_buffer(size)
                needed = _lib.ulm_client_describe(handle, buf, size)
                if needed == 0:
                    # Only an allocation failure inside the library leaves nothing to show.
                    raise _error(ErrorCode.OUT_OF_MEMORY,
                                 "ulm_client_describe: %s" % strerror(ErrorCode.OUT_OF_MEMORY))
                if needed < size:
                    break
                # Breaker states and requests in flight may change between the two calls,
                # so the text may have grown again: loop until it fits.
                size = needed + 1
        return json.loads(buf.raw[:needed].decode("utf-8"))

    def complete(self, prompt=None, *, messages=None, model=None, system=None,
                 temperature=None, top_p=None, max_tokens=None, seed=None, stop=None,
                 timeouts=None, on_delta=None):
        """Sends one chat completion and returns a Response, or raises UltraLLMError.

        The conversation is system (if given), then messages, a sequence of
        (role, content) pairs or {"role": ..., "content": ...} mappings, then prompt as
        a user message. model is "provider/model", a configured local name, an alias of
        the configuration file, or a list of them tried in order as a fallback chain; None
        uses default_model. stop is a str or a list of up to 4. The exception's attempts
        list every backend asked.

        timeouts overrides the client's clocks for this call: a mapping of clock name
        ("connect", "load", "first_token", "idle", "overall") or Clock to milliseconds,
        1 to 86400000; a None value leaves that clock alone.

        on_delta, a callable(str), streams the answer: it is called on this thread with
        each piece of text as it arrives (whole characters), and the pieces joined are
        the Response's text. Its return value is ignored. If it raises, the call is
        cancelled and complete() raises that same exception once the library returned,
        with the library's CancelledError as its __context__ (unless it had a context
        already). A stream that breaks off after text was delivered raises the error
        with incomplete true and the delivered text in e.text; no fallback follows then.
        """
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta: expected a callable, got %s" % type(on_delta).__name__)
        req = _request_p()
        _lib.ulm_request_new(ctypes.byref(req))
        raised = []  # what on_delta raised
        # The CFUNCTYPE object must outlive ulm_complete(): this local holds it until the
        # request that points to it has been freed.
        delta_fn = None
        try:
            self._fill(req, prompt, messages, model, system, temperature, top_p, max_tokens,
                       seed, stop, timeouts)
            if on_delta is not None:
                delta_fn = _DeltaFn(_delta_adapter(on_delta, raised))
                _lib.ulm_request_set_on_delta(req, delta_fn, None)
            out = _response_p()
            try:
                with self._borrow() as handle:
                    _lib.ulm_complete(ctypes.pointer(out), handle, req)
                response = _read_response(out)
            except UltraLLMError as error:
                if not raised:
                    raise
                failure = error
            else:
                failure = None
            finally:
                if out:
                    _lib.ulm_response_free(out)
        finally:
            _lib.ulm_request_free(req)
        if raised:
            # Raised outside the except block, so that a context of the user's own
            # exception is kept rather than replaced.
            user_error = raised[0]
            if user_error.__context__ is None and failure is not None:
                user_error.__context__ = failure
            raise user_error
        return response

    @staticmethod
    def _fill(req, prompt, messages, model, system, temperature, top_p, max_tokens, seed, stop,
              timeouts):
        if model is not None:
            for i, name in enumerate(_strings(model)):
                _lib.ulm_request_add_model(req, _c_string(name, "model[%d]" % i))
        conversation = []  # (role, content, what to call it in an error)
        if system is not None:
            conversation.append(("system", system, "system"))
        for i, message in enumerate(messages or ()):
            if isinstance(message, dict):
                message = (message.get("role"), message.get("content"))
            role, content = message
            if role not in _ROLES:
                raise _error(ErrorCode.INVALID_ARGUMENT, "messages[%d]: role %r is not one of "
                             "%s" % (i, role, ", ".join(_ROLES)))
            conversation.append((role, content, "messages[%d]" % i))
        if prompt is not None:
            conversation.append(("user", prompt, "prompt"))
        for role, content, what in conversation:
            _lib.ulm_request_add_message(req, _ROLES[role], _c_string(content, what))
        if temperature is not None:
            _lib.ulm_request_set_temperature(req, _c_float(temperature, "temperature"))
        if top_p is not None:
            _lib.ulm_request_set_top_p(req, _c_float(top_p, "top_p"))
        if max_tokens is not None:
            _lib.ulm_request_set_max_tokens(
                req, _c_integer(max_tokens, "max_tokens", ctypes.c_long, 1))
        if seed is not None:
            _lib.ulm_request_set_seed(
                req, _c_integer(seed, "seed", ctypes.c_int64, -(1 << 63)))
        if stop is not None:
            for i, text in enumerate(_strings(stop)):
                _lib.ulm_request_add_stop(req, _c_string(text, "stop[%d]" % i))
        if timeouts is not None:
            if not isinstance(timeouts, collections.abc.Mapping):
                raise TypeError("timeouts: expected a mapping of clock name to milliseconds, "
                                "got %s" % type(timeouts).__name__)
            for key, ms in timeouts.items():
                clock = key if isinstance(key, Clock) else _CLOCKS.get(key)
                if clock is None:
                    raise _error(ErrorCode.INVALID_ARGUMENT, "timeouts: unknown clock %r, not "
                                 "one of %s" % (key, ", ".join(_CLOCKS)))
                if ms is not None:
                    _lib.ulm_request_set_timeout(req, clock, _c_integer(
                        ms, "timeouts[%r]" % clock.name.lower(), ctypes.c_long, 1,
                        maximum=_MAX_TIMEOUT_MS))

    def models(self):
        """Asks every endpoint of every backend for its models, as a ModelList; a failing
        endpoint is reported in its BackendStatus (with its url and ms), not raised."""
        lst = _list_p()
        with self._borrow() as handle:
            _lib.ulm_list_models(ctypes.byref(lst), handle)
        try:
            return _read_model_list(lst)
        finally:
            _lib.ulm_model_list_free(lst)
