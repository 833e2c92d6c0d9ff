"""The client: a libultrallm client (ulm_client) and the calls made through it."""

from __future__ import annotations

import contextlib
import ctypes
import json
import threading
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union, cast

from ._call import Call, Outcome, Stream
from ._cancel import CallToken, CancelToken, Tokens
from ._convert import PathArg, c_integer, c_path, c_string, strings, text
from ._enums import ErrorCode, LogLevel, enum_or_int
from ._errors import UltraLLMError, error, strerror
from ._native import (ERROR_SIZE, OPTIONS_VERSION, ClientOptions, LogFn, client_p, lib,
                      list_p, response_p)
from ._request import Message, Models, OnDelta, Request, Timeouts
from ._results import ModelList, Response, read_model_list, read_response
from ._workers import Workers

DESCRIBE_SIZE = 4096  # first buffer tried for ulm_client_describe(); grown when too small

# What log= receives: the level (a LogLevel, or an int for a level this package predates)
# and the message.
LogCallback = Callable[[Union[LogLevel, int], str], object]


# complete()'s arguments that make its request, in Request's order.
_RequestArgs = tuple[Optional[str], Optional[Iterable[Message]], Optional[Models],
                     Optional[str], Optional[float], Optional[float], Optional[int],
                     Optional[int], Optional[Union[str, Sequence[str]]], Optional[Timeouts]]


def _check_cancel(cancel: object) -> None:
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError("cancel: expected a CancelToken, got %s" % type(cancel).__name__)


def _log_adapter(log: LogCallback) -> Callable[..., None]:
    # An exception raised by log cannot cross into C: ctypes reports it through
    # sys.unraisablehook and the library carries on.
    def call(level: int, message: bytes, _payload: Optional[int]) -> None:
        log(enum_or_int(LogLevel, level), message.decode("utf-8", "replace"))
    return call


class ClientBase:
    """What Client and AsyncClient share: the C client (ulm_client) built from the options
    (Client's docstring describes them), its lifetime, its worker threads and its spare
    cancellation tokens, and the calls that do not block (default_model, describe())."""

    # Kept on the class so that __del__ still reaches it during interpreter shutdown.
    _free = staticmethod(lib.ulm_client_free)

    def __init__(self, *, openai_api_key: Optional[str] = None,
                 openai_base_url: Optional[str] = None,
                 anthropic_api_key: Optional[str] = None,
                 anthropic_base_url: Optional[str] = None,
                 gemini_api_key: Optional[str] = None, gemini_base_url: Optional[str] = None,
                 model_runner_url: Optional[str] = None,
                 default_local_model: Optional[str] = None,
                 available_local_models: Optional[Union[str, Iterable[str]]] = None,
                 local_model_timeout_ms: Optional[int] = None,
                 timeout_ms: Optional[int] = None, connect_timeout_ms: Optional[int] = None,
                 max_response_bytes: Optional[int] = None,
                 max_idle_connections: Optional[int] = None,
                 first_token_timeout_ms: Optional[int] = None,
                 idle_timeout_ms: Optional[int] = None,
                 max_event_line_bytes: Optional[int] = None,
                 max_event_bytes: Optional[int] = None,
                 enable_model_runner: Optional[bool] = None, ignore_environment: bool = False,
                 config_path: Optional[PathArg] = None,
                 use_local_models_when_offline: Optional[bool] = None,
                 log: Optional[LogCallback] = None,
                 log_level: LogLevel = LogLevel.INFO) -> None:
        self._handle: Any = None
        self._lock = threading.Lock()
        self._calls = 0
        self._closed = False
        self._workers = Workers()
        self._tokens = Tokens()

        opts = ClientOptions()
        lib.ulm_client_options_init(ctypes.byref(opts), OPTIONS_VERSION)
        local_models = None
        if available_local_models is not None:
            local_models = ",".join(strings(available_local_models))
        texts = (("openai_api_key", openai_api_key), ("openai_base_url", openai_base_url),
                 ("anthropic_api_key", anthropic_api_key),
                 ("anthropic_base_url", anthropic_base_url),
                 ("gemini_api_key", gemini_api_key), ("gemini_base_url", gemini_base_url),
                 ("model_runner_url", model_runner_url),
                 ("default_local_model", default_local_model),
                 ("available_local_models", local_models))
        for field, value in texts:
            if value is not None:
                setattr(opts, field, c_string(value, field, ErrorCode.CONFIG))
        if config_path is not None:
            opts.config_path = c_path(config_path, "config_path", ErrorCode.CONFIG)
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
        ctypes_of = dict(ClientOptions._fields_)
        for field, number in numbers:
            if number is not None:
                ctype = cast("type[ctypes._SimpleCData[int]]", ctypes_of[field])
                setattr(opts, field, c_integer(number, field, ctype, 1, ErrorCode.CONFIG))
        if enable_model_runner is not None:
            opts.enable_model_runner = 1 if enable_model_runner else -1
        if use_local_models_when_offline is not None:
            opts.use_local_models_when_offline = 1 if use_local_models_when_offline else -1
        opts.ignore_environment = 1 if ignore_environment else 0
        # The CFUNCTYPE object must outlive every C call that may log, so the client
        # holds it until the C client is freed.
        self._log_fn: Any = LogFn(_log_adapter(log)) if log is not None else None
        if self._log_fn is not None:
            opts.log_fn = self._log_fn
            opts.log_level = int(log_level)

        handle = client_p()
        errbuf = ctypes.create_string_buffer(ERROR_SIZE)
        lib.ulm_client_new(ctypes.byref(handle), ctypes.byref(opts), errbuf, len(errbuf))
        self._handle = handle

    # -- lifetime

    def close(self) -> None:
        """Frees the C client once no call is in flight. Idempotent."""
        with self._lock:
            self._closed = True
            idle = self._calls == 0
        self._workers.close()
        self._tokens.close()
        if idle:
            self._release()

    def _release(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle:
            self._free(handle)
        self._log_fn = None

    def __del__(self) -> None:
        # No call can be in flight: each holds a reference to self. __init__ may have
        # failed before _handle existed.
        workers = getattr(self, "_workers", None)
        if workers is not None:
            workers.close()
        tokens = getattr(self, "_tokens", None)
        if tokens is not None:
            tokens.close()
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            self._free(handle)

    def __repr__(self) -> str:
        # Never the options: they hold the API keys.
        state = "closed" if self._closed else "open"
        return "<ultrallm.%s %s at %#x>" % (type(self).__name__, state, id(self))

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[Any]:
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
    def default_model(self) -> str:
        """The model used when a request names none: the configuration file's
        default_model (unless the default_local_model option was given), else
        "dmr/<DEFAULT_LOCAL_MODEL>"."""
        with self._borrow() as handle:
            return text(lib.ulm_client_default_model(handle)) or ""

    def describe(self) -> dict[str, Any]:
        """The client's effective configuration (ulm_client_describe()) as a dict.

        Among its keys: "config_file" (the file's path, or None), "default_model",
        "backends" (a list: name, type, "endpoints" with each url and its breaker state,
        "key" - "present", "absent" or "not needed", never the key itself - balance,
        limits), "timeouts", "retry", "breaker", "offline" ("use_local_models",
        "probe_interval_ms", "offline_now"), "local_models", "aliases" (name -> list of
        targets), "models" (per-model parameters) and "limits". The exact set of keys is
        the library's (docs/config.md); a newer library may add some.
        """
        size = DESCRIBE_SIZE
        with self._borrow() as handle:
            while True:
                buf = ctypes.create_string_buffer(size)
                needed: int = lib.ulm_client_describe(handle, buf, size)
                if needed == 0:
                    # Only an allocation failure inside the library leaves nothing to show.
                    raise error(ErrorCode.OUT_OF_MEMORY,
                                "ulm_client_describe: %s" % strerror(ErrorCode.OUT_OF_MEMORY))
                if needed < size:
                    break
                # Breaker states and requests in flight may change between the two calls,
                # so the text may have grown again: loop until it fits.
                size = needed + 1
        described: dict[str, Any] = json.loads(buf.raw[:needed].decode("utf-8"))
        return described

    # -- what the calls of Client and AsyncClient are made of

    def _start(self, call: Call[Response], cancel: Optional[CancelToken],
               args: _RequestArgs, streamed: bool) -> None:
        """Builds the request (checking every argument) and starts call on a worker, which
        frees the request and its token once the C call has returned."""
        token = CallToken(self._tokens, cancel)
        try:
            req = Request(*args, call.deliver if streamed else None, token)
        except BaseException:
            token.release()
            raise

        def work() -> Response:
            try:
                return self._call(req)
            finally:
                req.close()
                token.release()

        try:
            call.start(self._workers, work, token)
        except BaseException:
            req.close()
            token.release()
            raise

    def _call(self, req: Request) -> Response:
        """ulm_complete() of req on this thread: its Response, or raises its error."""
        out = response_p()
        try:
            with self._borrow() as handle:
                lib.ulm_complete(ctypes.pointer(out), handle, req.handle)
            return read_response(out)
        finally:
            if out:
                lib.ulm_response_free(out)

    def _models(self) -> ModelList:
        lst = list_p()
        with self._borrow() as handle:
            lib.ulm_list_models(ctypes.byref(lst), handle)
        try:
            return read_model_list(lst)
        finally:
            lib.ulm_model_list_free(lst)


class Client(ClientBase):
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

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def complete(self, prompt: Optional[str] = None, *,
                 messages: Optional[Iterable[Message]] = None,
                 model: Optional[Models] = None, system: Optional[str] = None,
                 temperature: Optional[float] = None, top_p: Optional[float] = None,
                 max_tokens: Optional[int] = None, seed: Optional[int] = None,
                 stop: Optional[Union[str, Sequence[str]]] = None,
                 timeouts: Optional[Timeouts] = None,
                 on_delta: Optional[OnDelta] = None,
                 cancel: Optional[CancelToken] = None) -> Response:
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
        stream() is the same as an iterator.

        cancel, a CancelToken, lets another thread stop the call: once it is cancelled the
        call ends within milliseconds with CancelledError.
        """
        _check_cancel(cancel)
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta: expected a callable, got %s" % type(on_delta).__name__)
        args = (prompt, messages, model, system, temperature, top_p, max_tokens, seed, stop,
                timeouts)
        if threading.current_thread() is threading.main_thread():
            return self._complete_on_worker(args, on_delta, cancel)
        failure: Optional[UltraLLMError] = None
        token = CallToken(self._tokens, cancel) if cancel is not None else None
        try:
            with Request(*args, on_delta, token) as req:
                try:
                    response = self._call(req)
                except UltraLLMError as e:
                    if not req.raised:
                        raise
                    failure = e
        finally:
            if token is not None:
                token.release()
        if req.raised:
            # Raised outside the except block, so that a context of the user's own
            # exception is kept rather than replaced.
            user_error = req.raised[0]
            if user_error.__context__ is None and failure is not None:
                user_error.__context__ = failure
            raise user_error
        return response

    def _complete_on_worker(self, args: _RequestArgs, on_delta: Optional[OnDelta],
                            cancel: Optional[CancelToken]) -> Response:
        # The main thread: the C call goes to a worker, so that this thread waits in
        # Python, where Ctrl-C raises KeyboardInterrupt at once; the call is then
        # cancelled and waited for (milliseconds). on_delta still runs here, in lockstep
        # with the library (Call), so that it sees the text as a C callback would.
        call: Call[Response] = Call(lockstep=on_delta is not None)
        self._start(call, cancel, args, on_delta is not None)
        user_error: Optional[BaseException] = None
        try:
            item = call.next()
            while not isinstance(item, Outcome):
                assert on_delta is not None
                try:
                    on_delta(item)
                except BaseException as e:  # noqa: B036  (re-raised below, as documented)
                    user_error = e
                    break
                call.ack()
                item = call.next()
        except BaseException as e:
            call.interrupted(e)
            raise
        if user_error is None:
            assert isinstance(item, Outcome)
            return item.result()
        failure = call.stop().error
        # Raised outside the except block, so that a context of the user's own exception
        # is kept rather than replaced.
        if user_error.__context__ is None and failure is not None:
            user_error.__context__ = failure
        raise user_error

    def stream(self, prompt: Optional[str] = None, *,
               messages: Optional[Iterable[Message]] = None,
               model: Optional[Models] = None, system: Optional[str] = None,
               temperature: Optional[float] = None, top_p: Optional[float] = None,
               max_tokens: Optional[int] = None, seed: Optional[int] = None,
               stop: Optional[Union[str, Sequence[str]]] = None,
               timeouts: Optional[Timeouts] = None,
               cancel: Optional[CancelToken] = None) -> Stream:
        """Starts a streamed chat completion and returns its Stream, an iterator over the
        pieces of text as they arrive; its response is the Response once it has ended.
        The arguments are complete()'s; a bad one raises here, before anything is sent.

            with client.stream("Once upon a time", model="dmr/ai/smollm2") as stream:
                for piece in stream:
                    print(piece, end="")
            print(stream.response.finish_reason)

        The call runs on a worker thread. Breaking out of the loop and closing the stream
        (or leaving the with block, or dropping the stream) cancels it: the transfer
        stops, the worker is free again within milliseconds. A failure raises from the
        iteration, after the pieces that came before it.
        """
        _check_cancel(cancel)
        call: Call[Response] = Call()
        self._start(call, cancel, (prompt, messages, model, system, temperature, top_p,
                                   max_tokens, seed, stop, timeouts), streamed=True)
        return Stream(call)

    def models(self) -> ModelList:
        """Asks every endpoint of every backend for its models, as a ModelList; a failing
        endpoint is reported in its BackendStatus (with its url and ms), not raised.

        The library cannot cancel a listing: on the main thread it runs on a worker, so
        that Ctrl-C still raises KeyboardInterrupt at once, and the worker finishes the
        listing (bounded by the client's clocks) and frees it."""
        if threading.current_thread() is not threading.main_thread():
            return self._models()
        call: Call[ModelList] = Call()
        call.start(self._workers, self._models)
        while True:
            item = call.next()
            if isinstance(item, Outcome):
                return item.result()
