"""The exceptions: one class per error code of the library, the class a code maps to, and
the checks that turn a failing C call into the right exception."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from ._enums import ErrorCode, enum_or_int

if TYPE_CHECKING:
    from ._results import Attempt, Round


def _library() -> ctypes.CDLL:
    # _native loads the library and gives its functions the checks at the end of this
    # module, so it imports this module; importing it here, when first used, keeps the
    # dependency one-way at import time.
    from ._native import lib
    return lib


def strerror(code: int) -> str:
    """English description of an error code (ulm_strerror)."""
    text: bytes = _library().ulm_strerror(code)
    return text.decode()


def error_name(code: int) -> str:
    """Short stable identifier of an error code, "rate_limit" (ulm_error_name)."""
    text: bytes = _library().ulm_error_name(code)
    return text.decode()


def error_is_retryable(code: int) -> bool:
    """Whether a request failing with code may succeed later or elsewhere
    (ulm_error_is_retryable)."""
    return bool(_library().ulm_error_is_retryable(code))


class LibraryLoadError(ImportError):
    """libultrallm was not found, could not be loaded, or is of an unsupported version."""


class UltraLLMError(Exception):
    """A failure reported by libultrallm; the subclass tells the error class apart.

    code is an ErrorCode, name its stable identifier ("connect"), message the library's
    one-line explanation, http_status the last HTTP status (0 when none), provider the
    backend that failed (None when no backend was asked), attempts the Attempt trail.
    incomplete is true when a streamed answer broke off after text had been handed to
    on_delta; text is then exactly that text (else "").

    round is the Round of a failed Client.compare() (what the members answered before it
    failed: a deadline, a quorum not met, a failed synthesis), else None.
    """

    # Set on the exception compare() raises, after construction: not one of its args.
    round: Optional[Round] = None
    code: Union[ErrorCode, int]
    name: str
    message: str
    http_status: int
    provider: Optional[str]
    attempts: list[Attempt]
    incomplete: bool
    text: str

    def __init__(self, code: int, name: Optional[str] = None, message: str = "",
                 http_status: int = 0, provider: Optional[str] = None,
                 attempts: Iterable[Attempt] = (), incomplete: bool = False,
                 text: str = "") -> None:
        code = enum_or_int(ErrorCode, code)
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

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        # The message has the library's secrets removed; the text may be long.
        return "%s(name=%r, message=%r, http_status=%d, provider=%r, attempts=%d%s)" % (
            type(self).__name__, self.name, self.message, self.http_status, self.provider,
            len(self.attempts),
            ", incomplete=True, text=<%d characters>" % len(self.text) if self.incomplete
            else "")

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later or at another backend."""
        return error_is_retryable(self.code)


class InvalidArgumentError(UltraLLMError, ValueError):
    """A bad argument or request field; nothing was sent."""


class OutOfMemoryError(UltraLLMError):
    """An allocation in the library failed."""


class ConfigError(UltraLLMError):
    """Invalid configuration; the message names the option or variable at fault."""


class OptionsVersionError(UltraLLMError):
    """The library does not know the options struct version this package passes."""


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
    """The call was cancelled: through its CancelToken, or by its on_delta callback (which
    raised; complete() re-raises that)."""


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


ERROR_CLASSES: dict[int, type[UltraLLMError]] = {
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


def error(code: int, message: str = "", http_status: int = 0, provider: Optional[str] = None,
          attempts: Iterable[Attempt] = (), incomplete: bool = False,
          text: str = "") -> UltraLLMError:
    """The exception of code's class (UltraLLMError itself for a code this package does
    not know)."""
    cls = ERROR_CLASSES.get(code, UltraLLMError)
    return cls(code, error_name(code), message, http_status, provider, attempts, incomplete,
               text)


# ------------------------------------------------------------------ errcheck functions

def _describe_call(func: Any, args: tuple[Any, ...]) -> str:
    # The request setters return a bare ULM_EINVAL: the function name and the Python
    # values passed are the only detail there is to report.
    shown = []
    for arg in args:
        if isinstance(arg, bytes):
            text = arg.decode("utf-8", "replace")
            shown.append(repr(text if len(text) <= 64 else text[:64] + "..."))
        elif isinstance(arg, (int, float)):
            shown.append(repr(arg))
    return "%s(%s)" % (func.__name__, ", ".join(shown))


def check_code(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """A function returning ULM_OK or a negative code: raises for the code."""
    if result < 0:
        raise error(result, "%s: %s" % (_describe_call(func, args), strerror(result)))
    return result


def check_client_new(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """ulm_client_new(): the message is in the error buffer, its third argument."""
    if result < 0:
        message: Optional[bytes] = args[2].value
        raise error(result, message.decode("utf-8", "replace") if message else "")
    return result


def check_request(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """A request setter: the library's reason (ulm_request_error_message(), which never
    holds a key) names what was refused."""
    if result < 0:
        reason: Optional[bytes] = _library().ulm_request_error_message(args[0])
        raise error(result, "%s: %s" % (func.__name__, (reason or b"").decode("utf-8", "replace")
                                        or strerror(result)))
    return result


def check_override(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """ulm_request_set_backend_override(): names the backend only, never the key."""
    if result < 0:
        backend = args[1].decode("utf-8", "replace") if isinstance(args[1], bytes) else "?"
        raise error(result, "%s(%r): %s" % (func.__name__, backend, strerror(result)))
    return result


def check_errbuf(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """A function that writes its message into an error buffer (the Docker Model Runner
    calls): the message is that buffer's, which the library has cleared of secrets."""
    if result < 0:
        buffers = [arg for arg in args if isinstance(arg, ctypes.Array)]
        message: bytes = buffers[0].value if buffers else b""
        raise error(result, message.decode("utf-8", "replace") or
                    "%s: %s" % (func.__name__, strerror(result)))
    return result


def check_round_run(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """ulm_round_run() leaves *out NULL only for out of memory and NULL arguments;
    otherwise the caller reads the failure, and what the members answered, from the
    round."""
    if result < 0 and not args[0].contents:
        raise error(result, "%s: %s" % (func.__name__, strerror(result)))
    return result


def check_complete(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """ulm_complete() leaves *out NULL only when it could not build a response at all;
    otherwise the caller reads the failure, attempts included, from the response."""
    if result < 0 and not args[0].contents:
        raise error(result, "%s: %s" % (func.__name__, strerror(result)))
    return result
