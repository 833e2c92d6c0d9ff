"""The client: a libultrallm client (ulm_client) and the calls made through it."""

from __future__ import annotations

import collections.abc
import contextlib
import ctypes
import json
import threading
from typing import (Any, Callable, Iterable, Iterator, Literal, Mapping, Optional, Sequence,
                    TypeVar, Union, cast, overload)

from ._call import END, GO, Call, Event, Stream, raise_first, wait
from ._cancel import CallToken, CancelToken, Tokens, check_cancel
from ._convert import PathArg, c_integer, c_path, c_string, strings, text
from ._dmr import ModelRunner
from ._enums import ErrorCode, LogLevel, MemberState, enum_or_int
from ._errors import UltraLLMError, error, strerror
from ._log import LogEventCallback, log_event_adapter
from ._native import (ERROR_SIZE, METRICS_JSON, METRICS_PROMETHEUS, OPTIONS_VERSION,
                      BackendSetting, ClientOptions, LogEventFn, LogFn, client_p, lib, list_p, response_p)
from ._request import (BackendOverrides, Message, Models, OnDelta, Request, RequestArgs,
                       Timeouts)
from ._results import (Embeddings, Member, MemberDelta, MemberStateChange, ModelList, Response,
                       Round, read_embeddings, read_model_list, read_response)
from ._round import (MemberSpec, OnMemberDelta, OnMemberDone, OnMemberState, OnSynthesisDelta,
                     RoundSpec)
from ._workers import Workers

DESCRIBE_SIZE = 4096  # first buffer tried for ulm_client_describe(); grown when too small
METRICS_SIZE = 16384  # first buffer tried for ulm_client_metrics(); grown when too small
METRICS_FORMATS = {"prometheus": METRICS_PROMETHEUS, "json": METRICS_JSON}

T = TypeVar("T")

# backend name -> {setting name ("api_key", "url") -> value}: Client(backend_settings=...).
BackendSettings = Mapping[str, Mapping[str, str]]

# What log= receives: the level (a LogLevel, or an int for a level this package predates)
# and the message.
LogCallback = Callable[[Union[LogLevel, int], str], object]


def check_callable(value: object, what: str) -> None:
    if value is not None and not callable(value):
        raise TypeError("%s: expected a callable, got %s" % (what, type(value).__name__))


def _backend_settings(settings: object) -> Any:
    """backend_settings as the C array of ulm_backend_setting (None when empty); the C
    strings live in the array's objects until ulm_client_new() has copied them."""
    if not isinstance(settings, collections.abc.Mapping):
        raise TypeError("backend_settings: expected a mapping of backend name to "
                        "{setting name: value}, got %s" % type(settings).__name__)
    rows = []
    for backend, named in settings.items():
        what = "backend_settings[%r]" % (backend,)
        if not isinstance(named, collections.abc.Mapping):
            raise TypeError("%s: expected a mapping of setting name (api_key, url) to value, "
                            "got %s" % (what, type(named).__name__))
        for name, value in named.items():
            # The message names the setting, never its value: it may be a key.
            rows.append(BackendSetting(c_string(backend, what, ErrorCode.CONFIG),
                                       c_string(name, "%s: a setting name" % what,
                                                ErrorCode.CONFIG),
                                       c_string(value, "%s[%r]" % (what, name),
                                                ErrorCode.CONFIG)))
    return (BackendSetting * len(rows))(*rows) if rows else None


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
                 config_json: Optional[Union[str, Mapping[str, Any]]] = None,
                 backend_settings: Optional[BackendSettings] = None,
                 use_local_models_when_offline: Optional[bool] = None,
                 log: Optional[LogCallback] = None,
                 log_level: LogLevel = LogLevel.INFO,
                 log_event: Optional[LogEventCallback] = None) -> None:
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
        if config_json is not None:
            if isinstance(config_json, collections.abc.Mapping):
                config_json = json.dumps(config_json)
            opts.config_json = c_string(config_json, "config_json", ErrorCode.CONFIG)
        # A local of this frame: the array lives until ulm_client_new() has copied it.
        settings = None
        if backend_settings is not None:
            settings = _backend_settings(backend_settings)
            if settings is not None:
                opts.backend_settings = settings
                opts.backend_setting_count = len(settings)
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
        self._log_event_fn: Any = None
        if log_event is not None:
            self._log_event_fn = LogEventFn(log_event_adapter(log_event))
            opts.log_event_fn = self._log_event_fn
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
        self._log_event_fn = None

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

    def reset_breakers(self, backend: Optional[str] = None) -> None:
        """Closes the circuit breakers of backend's endpoints (None: of every backend) and
        forgets their failures, so that the next call tries them at once
        (ulm_client_reset_breakers()). Raises UltraLLMError (invalid_argument) for a backend
        the client does not have."""
        name = None if backend is None else c_string(backend, "backend")
        with self._borrow() as handle:
            rc: int = lib.ulm_client_reset_breakers(handle, name)
        if rc < 0:
            raise error(rc, "reset_breakers: the client has no backend %r" % backend)

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

    @overload
    def metrics(self, format: Literal["prometheus"] = ...) -> str: ...

    @overload
    def metrics(self, format: Literal["json"]) -> dict[str, Any]: ...

    def metrics(self, format: str = "prometheus") -> Union[str, dict[str, Any]]:
        """The client's metrics (ulm_client_metrics(), docs/metrics.md): requests,
        failures by error class, fallbacks, latency and token histograms, requests in
        flight, queues, breakers, the heap and connections the library holds. format
        "prometheus" (the default) returns the Prometheus text exposition format 0.0.4
        as a str; "json" returns the same numbers parsed, as a dict ({} when the library
        exports nothing). It does not block, and may run while other threads make
        calls: counters never go down."""
        code = METRICS_FORMATS.get(format) if isinstance(format, str) else None
        if code is None:
            raise error(ErrorCode.INVALID_ARGUMENT, "metrics: format %r is not one of %s"
                        % (format, ", ".join(METRICS_FORMATS)))
        size = METRICS_SIZE
        with self._borrow() as handle:
            while True:
                buf = ctypes.create_string_buffer(size)
                needed: int = lib.ulm_client_metrics(handle, code, buf, size)
                if needed < size:
                    break
                # Calls on other threads may add series in between: ask with room to spare.
                size = needed + needed // 4 + 1
        exported = buf.raw[:needed].decode("utf-8", "replace")
        if code == METRICS_JSON:
            # A library that keeps no metrics for the client exports nothing at all.
            numbers: dict[str, Any] = json.loads(exported) if exported else {}
            return numbers
        return exported

    # -- what the calls of Client and AsyncClient are made of

    def _start(self, call: Call[T], cancel: Optional[CancelToken], args: RequestArgs,
               on_delta: Optional[OnDelta], run: Callable[[Request, CallToken], T]) -> None:
        """Builds the request (checking every argument) and starts run(request, token) on
        a worker, which frees the request and its token once the C call has returned."""
        token = CallToken(self._tokens, cancel)
        try:
            req = Request(args, on_delta, token)
        except BaseException:
            token.release()
            raise

        def work() -> T:
            try:
                return run(req, token)
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

    def _embed(self, req: Request) -> Embeddings:
        """ulm_embed() of req on this thread: its Embeddings, or raises its error."""
        out = response_p()
        try:
            with self._borrow() as handle:
                lib.ulm_embed(ctypes.pointer(out), handle, req.handle)
            return read_embeddings(out)
        finally:
            if out:
                lib.ulm_response_free(out)

    def _round(self, spec: RoundSpec, req: Request, token: CallToken,
               raised: list[BaseException], on_delta: Optional[OnMemberDelta],
               on_member_done: Optional[OnMemberDone],
               on_synthesis_delta: Optional[OnSynthesisDelta],
               on_member_state: Optional[OnMemberState]) -> Round:
        """ulm_round_run() of req on this thread (RoundSpec.run())."""
        with self._borrow() as handle:
            return spec.run(handle, req, token, raised, on_delta, on_member_done,
                            on_synthesis_delta, on_member_state)

    def _round_on_worker(self, call: Call[Round], spec: RoundSpec,
                         cancel: Optional[CancelToken], args: RequestArgs,
                         on_delta: Optional[OnMemberDelta],
                         on_member_done: Optional[OnMemberDone],
                         on_synthesis_delta: Optional[OnSynthesisDelta],
                         on_member_state: Optional[OnMemberState]) -> None:
        """Starts the round on a worker, its callables' events delivered to call's
        consumer (see round_events())."""
        def member_delta(member: int, piece: str) -> None:
            call.deliver(MemberDelta(member, piece))

        def member_state(member: int, state: Union[MemberState, int]) -> None:
            call.deliver(MemberStateChange(member, state))

        def member_done(member: Member) -> bool:
            return call.deliver(member) == END

        def run(req: Request, token: CallToken) -> Round:
            return self._round(spec, req, token, [],
                               member_delta if on_delta is not None else None,
                               member_done if on_member_done is not None else None,
                               call.deliver if on_synthesis_delta is not None else None,
                               member_state if on_member_state is not None else None)

        self._start(call, cancel, args, None, run)

    def _models(self) -> ModelList:
        lst = list_p()
        with self._borrow() as handle:
            lib.ulm_list_models(ctypes.byref(lst), handle)
        try:
            return read_model_list(lst)
        finally:
            lib.ulm_model_list_free(lst)


def round_events(on_delta: Optional[OnMemberDelta], on_member_done: Optional[OnMemberDone],
                 on_synthesis_delta: Optional[OnSynthesisDelta],
                 on_member_state: Optional[OnMemberState]
                 ) -> Optional[Callable[[Event], int]]:
    """How a round's consumer runs the events its worker delivers: each with its
    callable, answering END when on_member_done asked to end the round; None when there
    is no callable (then nothing is delivered)."""
    if (on_delta is None and on_member_done is None and on_synthesis_delta is None and
            on_member_state is None):
        return None

    def handle(event: Event) -> int:
        if isinstance(event, MemberDelta):
            assert on_delta is not None
            on_delta(event.member, event.text)
        elif isinstance(event, MemberStateChange):
            assert on_member_state is not None
            on_member_state(event.member, event.state)
        elif isinstance(event, Member):
            assert on_member_done is not None
            return END if on_member_done(event) else GO
        else:
            assert on_synthesis_delta is not None and isinstance(event, str)
            on_synthesis_delta(event)
        return GO
    return handle


class Client(ClientBase):
    """A libultrallm client (ulm_client): configuration, backends and a connection pool.

    Each setting comes from the first of: the option given here, the configuration file,
    the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY,
    MODEL_RUNNER_URL, LOCAL_MODEL_TIMEOUT, ...), the
    library's default; ignore_environment=True reads no environment variable at all
    (ULM_CONFIG and the variables a file's api_key_env names included). log is a
    callable(level, message) receiving diagnostics up to log_level; it may be called from
    any thread that uses the client. log_event is a callable(LogEvent) receiving the same
    diagnostics as structured fields (event name, backend, model, attempt, error class,
    HTTP status, milliseconds; LogEvent.to_json() gives a JSON-lines record), for a
    structured logger; with both, each gets every diagnostic.

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
                 backend_overrides: Optional[BackendOverrides] = None,
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

        backend_overrides gives this call its own key and/or base URL for a backend, for
        hosts that serve many tenants with one client: {"openai": {"api_key": ...,
        "base_url": ...}} (either may be left out). The key is never logged and is
        removed from messages.

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
        check_cancel(cancel)
        check_callable(on_delta, "on_delta")
        args = RequestArgs(prompt, messages, model, system, temperature, top_p, max_tokens,
                           seed, stop, timeouts, backend_overrides)
        if threading.current_thread() is threading.main_thread():
            # The C call goes to a worker, so that this thread waits in Python, where
            # Ctrl-C raises KeyboardInterrupt at once; on_delta still runs here, in
            # lockstep with the library, so that it sees the text as a C callback would.
            call: Call[Response] = Call(lockstep=on_delta is not None)
            self._start(call, cancel, args, call.deliver if on_delta is not None else None,
                        lambda req, token: self._call(req))

            def handle(event: Event) -> int:
                assert on_delta is not None and isinstance(event, str)
                on_delta(event)
                return GO
            return wait(call, handle if on_delta is not None else None)
        failure: Optional[UltraLLMError] = None
        response: Optional[Response] = None
        token = CallToken(self._tokens, cancel) if cancel is not None else None
        try:
            with Request(args, on_delta, token) as req:
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
            raise_first(req.raised, failure)
        assert response is not None
        return response

    def stream(self, prompt: Optional[str] = None, *,
               messages: Optional[Iterable[Message]] = None,
               model: Optional[Models] = None, system: Optional[str] = None,
               temperature: Optional[float] = None, top_p: Optional[float] = None,
               max_tokens: Optional[int] = None, seed: Optional[int] = None,
               stop: Optional[Union[str, Sequence[str]]] = None,
               timeouts: Optional[Timeouts] = None,
               backend_overrides: Optional[BackendOverrides] = None,
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
        check_cancel(cancel)
        call: Call[Response] = Call()
        self._start(call, cancel, RequestArgs(prompt, messages, model, system, temperature,
                                              top_p, max_tokens, seed, stop, timeouts,
                                              backend_overrides),
                    call.deliver, lambda req, token: self._call(req))
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
        return wait(call, cancellable=False)

    def compare(self, prompt: Optional[str] = None, *, models: Sequence[MemberSpec],
                messages: Optional[Iterable[Message]] = None, system: Optional[str] = None,
                temperature: Optional[float] = None, top_p: Optional[float] = None,
                max_tokens: Optional[int] = None, seed: Optional[int] = None,
                stop: Optional[Union[str, Sequence[str]]] = None,
                timeouts: Optional[Timeouts] = None,
                backend_overrides: Optional[BackendOverrides] = None,
                quorum: Optional[int] = None, timeout_ms: Optional[int] = None,
                take_what_arrived: bool = False, synthesize: Optional[Models] = None,
                synthesis_template: Optional[str] = None, anonymize: bool = False,
                shuffle_seed: Optional[int] = None, answer_budget_bytes: Optional[int] = None,
                synthesis_share_pct: Optional[int] = None,
                on_delta: Optional[OnMemberDelta] = None,
                on_member_done: Optional[OnMemberDone] = None,
                on_synthesis_delta: Optional[OnSynthesisDelta] = None,
                on_member_state: Optional[OnMemberState] = None,
                cancel: Optional[CancelToken] = None) -> Round:
        """Asks several models the same thing at once and returns the Round: every
        member's answer (or failure), how far they agree, and optionally a synthesis.

        models lists the members (at most 64): each a model string, an alias, or a
        fallback chain (a list, or a str with commas) with its own retries and clocks, as
        complete() would run it. The conversation and its parameters are complete()'s
        (there is no model=: models are the members). A member that fails fails alone:
        its Member has the error.

        quorum k ends the round as soon as k members answered, cancelling the rest (None:
        wait for every member). timeout_ms is the whole round's deadline, synthesis
        included (None: the overall clock of timeouts=, else the client's); a deadline or
        a cancellation that ends the round before its quorum raises, unless
        take_what_arrived is true and a member answered. synthesize names the model (or
        alias, or chain) that combines the answers into one, with synthesis_template
        (None: the configuration file's, else the library's; it must hold {answers} and
        may hold {question}), anonymize (answers labelled "Answer A", "Answer B"... in an
        order shuffled by shuffle_seed, None: differently each time),
        answer_budget_bytes (the most of one answer the prompt holds, None: 8000) and
        synthesis_share_pct (the share of the round's time kept for the synthesis, 1 to
        90, None: 30).

        on_delta(member, text) streams each member's answer as it arrives, with the
        member's index; on_member_done(member) is told of each Member as it ends, in the
        order they end, and ends the round when it returns a true value (the members still
        running are cancelled, with their text kept); on_synthesis_delta(text) streams the
        synthesis; on_member_state(member, state) is told what a running member now waits
        for, a MemberState (LOADING: its Docker Model Runner loads the model first;
        ANSWERING: its streamed answer is arriving; every member starts WAITING, untold).
        They run on this thread; if one raises, the round is cancelled and compare()
        raises that exception.

        A round that fails (no member answered, the quorum not met in time, the synthesis
        failed) raises the UltraLLMError of its class, whose round attribute is the Round
        with what had arrived. cancel, a CancelToken, cancels the whole round; on the main
        thread, Ctrl-C does too, and raises KeyboardInterrupt at once.
        """
        check_cancel(cancel)
        for value, what in ((on_delta, "on_delta"), (on_member_done, "on_member_done"),
                            (on_synthesis_delta, "on_synthesis_delta"),
                            (on_member_state, "on_member_state")):
            check_callable(value, what)
        spec = RoundSpec(models, quorum, timeout_ms, take_what_arrived, synthesize,
                         synthesis_template, anonymize, shuffle_seed, answer_budget_bytes,
                         synthesis_share_pct)
        args = RequestArgs(prompt, messages, None, system, temperature, top_p, max_tokens,
                           seed, stop, timeouts, backend_overrides)
        if threading.current_thread() is threading.main_thread():
            handle = round_events(on_delta, on_member_done, on_synthesis_delta,
                                  on_member_state)
            call: Call[Round] = Call(lockstep=handle is not None)
            self._round_on_worker(call, spec, cancel, args, on_delta, on_member_done,
                                  on_synthesis_delta, on_member_state)
            return wait(call, handle)
        # Another thread: the round runs here, its callables too. It always carries a
        # token, through which a callable that raises cancels the whole round.
        raised: list[BaseException] = []
        failure: Optional[UltraLLMError] = None
        result: Optional[Round] = None
        token = CallToken(self._tokens, cancel)
        try:
            with Request(args, None, token) as req:
                result = self._round(spec, req, token, raised, on_delta, on_member_done,
                                     on_synthesis_delta, on_member_state)
        except UltraLLMError as e:
            if not raised:
                raise
            failure = e
        finally:
            token.release()
        if raised:
            raise_first(raised, failure)
        assert result is not None
        return result

    def embed(self, texts: Union[str, Iterable[str]], *, model: Optional[Models] = None,
              timeouts: Optional[Timeouts] = None,
              backend_overrides: Optional[BackendOverrides] = None,
              cancel: Optional[CancelToken] = None) -> Embeddings:
        """Embeds texts (a str, or an iterable of non-empty str) and returns Embeddings:
        one vector (a list of floats) per text, in order, with their dimensions, the
        provider and model that answered, usage and attempts. model is a model string,
        alias or fallback chain as for complete() (a backend without embeddings,
        Anthropic, fails its attempt with UnsupportedError and the chain moves on);
        timeouts, backend_overrides and cancel are complete()'s. Ctrl-C on the main
        thread cancels it and raises KeyboardInterrupt at once."""
        check_cancel(cancel)
        args = RequestArgs(model=model, timeouts=timeouts,
                           backend_overrides=backend_overrides, inputs=texts)
        if threading.current_thread() is threading.main_thread():
            call: Call[Embeddings] = Call()
            self._start(call, cancel, args, None, lambda req, token: self._embed(req))
            return wait(call)
        token = CallToken(self._tokens, cancel) if cancel is not None else None
        try:
            with Request(args, None, token) as req:
                return self._embed(req)
        finally:
            if token is not None:
                token.release()

    @property
    def dmr(self) -> ModelRunner:
        """The models of the Docker Model Runner backends (ModelRunner): pull, list, ps,
        unload, remove, preload."""
        return ModelRunner(self)
