"""Docker Model Runner's models, managed from Python: the C calls (ulm_dmr_pull, ulm_dmr_list,
ulm_dmr_ps, ulm_dmr_unload, ulm_dmr_remove, ulm_dmr_preload, ulm_dmr_metrics) made on the
calling thread,
and ModelRunner, what Client.dmr gives (AsyncClient's is in _async)."""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._call import GO, Call, Event, raise_first, wait
from ._cancel import CallToken, CancelToken, check_cancel
from ._convert import c_integer, c_string
from ._errors import UltraLLMError, error, strerror
from ._native import (ERROR_SIZE, PullProgressFn, dmr_models_p, dmr_runners_p, lib)
from ._results import (PulledModel, PullProgress, Runner, read_pull_progress,
                       read_pulled_models, read_runners)

if TYPE_CHECKING:
    from ._client import Client, ClientBase

# What pull() takes: each progress report as the runner sends it.
OnProgress = Callable[[PullProgress], object]


class Names:
    """The backend and model of a Docker Model Runner call, checked and encoded for C."""

    def __init__(self, backend: Optional[str], model: Optional[str] = None) -> None:
        self.backend = None if backend is None else c_string(backend, "backend")
        self.model = None if model is None else c_string(model, "model")


def _errbuf() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(ERROR_SIZE)


def pull(client: ClientBase, names: Names, forward: Optional[OnProgress],
         token: Optional[CallToken], raised: list[BaseException]) -> PullProgress:
    """ulm_dmr_pull() on this thread: the last progress report (finished), or raises.
    forward, if any, receives each report on this thread; what it raises stops the pull
    and is kept in raised, for the caller to raise."""
    last: list[PullProgress] = []

    def progress(report: Any, _payload: Optional[int]) -> int:
        if raised:
            return 1
        try:
            last[:] = [read_pull_progress(report.contents)]
            if forward is not None:
                forward(last[0])
        except BaseException as e:  # noqa: B036  (re-raised by pull())
            raised.append(e)
            return 1
        return 0

    # The CFUNCTYPE object lives in this frame, as long as the C call.
    progress_fn = PullProgressFn(progress)
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_pull(handle, names.backend, names.model, progress_fn, None,
                         token.handle if token is not None else None, errbuf, len(errbuf))
    if not last:
        # The library reports the end of every pull that succeeded.
        raise RuntimeError("ultrallm: the pull succeeded without a final report")
    return last[-1]


def list_models(client: ClientBase, names: Names) -> list[PulledModel]:
    out = dmr_models_p()
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_list(ctypes.byref(out), handle, names.backend, errbuf, len(errbuf))
    try:
        return read_pulled_models(out)
    finally:
        lib.ulm_dmr_models_free(out)


def ps(client: ClientBase, names: Names) -> list[Runner]:
    out = dmr_runners_p()
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_ps(ctypes.byref(out), handle, names.backend, errbuf, len(errbuf))
    try:
        return read_runners(out)
    finally:
        lib.ulm_dmr_runners_free(out)


# The first buffer tried for ulm_dmr_metrics(); grown when the text needs more.
METRICS_SIZE = 16384


def metrics(client: ClientBase, names: Names) -> str:
    """ulm_dmr_metrics() on this thread: the runner's state and metrics as Prometheus
    text; raises only when the library wrote nothing (not a runner backend, not
    configured, out of memory)."""
    size = METRICS_SIZE
    while True:
        buf = ctypes.create_string_buffer(size)
        length = ctypes.c_size_t(0)
        errbuf = _errbuf()
        with client._borrow() as handle:
            code: int = lib.ulm_dmr_metrics(handle, names.backend, buf, size,
                                            ctypes.byref(length), errbuf, len(errbuf))
        if length.value == 0 and code < 0:
            raise error(code, errbuf.value.decode("utf-8", "replace") or strerror(code))
        if length.value < size:
            return buf.value.decode("utf-8", "replace")
        size = length.value + length.value // 4 + 1


def unload(client: ClientBase, names: Names) -> int:
    unloaded = ctypes.c_long(0)
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_unload(handle, names.backend, names.model, ctypes.byref(unloaded), errbuf,
                           len(errbuf))
    return unloaded.value


def remove(client: ClientBase, names: Names, force: bool) -> None:
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_remove(handle, names.backend, names.model, 1 if force else 0, errbuf,
                           len(errbuf))


class Preload:
    """preload()'s runner settings, checked and encoded for C."""

    def __init__(self, context_size: Optional[int], keep_alive: Optional[str]) -> None:
        # 0 is the model's own context size, -1 unlimited.
        self.context_size = 0 if context_size is None else c_integer(
            context_size, "context_size", ctypes.c_long, -1)
        self.keep_alive = None if keep_alive is None else c_string(keep_alive, "keep_alive")


def preload(client: ClientBase, names: Names, settings: Preload) -> None:
    errbuf = _errbuf()
    with client._borrow() as handle:
        lib.ulm_dmr_preload(handle, names.backend, names.model, settings.context_size,
                            settings.keep_alive, errbuf, len(errbuf))


class ModelRunner:
    """The models of a Docker Model Runner, as `docker model` manages them: client.dmr.

    Every call takes backend, a backend of the Docker Model Runner kind ("dmr", or one
    the configuration file declares); None is the local one, "dmr". A failure raises
    UltraLLMError (ModelNotFoundError for a model the runner or its registry does not
    have, ConnectError for a runner that does not answer, ...) with the library's
    message. docs/dmr.md describes them.

    pull() can be stopped: by cancel=, by on_progress raising, and by Ctrl-C on the main
    thread, which raise at once, the transfer dropped; the runner keeps what it
    downloaded and the next pull resumes it. The other calls cannot be cancelled in the
    library: on the main thread Ctrl-C still raises at once, and a worker finishes the
    call (bounded by the client's clocks).
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<ultrallm.ModelRunner of %r>" % self._client

    def _run(self, work: Callable[[], Any]) -> Any:
        """work() on a worker when this is the main thread (Ctrl-C), else here."""
        if threading.current_thread() is not threading.main_thread():
            return work()
        call: Call[Any] = Call()
        call.start(self._client._workers, work)
        return wait(call, cancellable=False)

    def pull(self, model: str, *, on_progress: Optional[OnProgress] = None,
             backend: Optional[str] = None,
             cancel: Optional[CancelToken] = None) -> PullProgress:
        """Pulls model ("ai/smollm2") into the runner and returns the last progress
        report (finished; cached when nothing had to be downloaded). on_progress, a
        callable(PullProgress), receives each report as the runner sends it, on this
        thread; if it raises, the pull stops and that exception is raised. cancel, a
        CancelToken, stops the pull from another thread (CancelledError)."""
        check_cancel(cancel)
        if on_progress is not None and not callable(on_progress):
            raise TypeError("on_progress: expected a callable, got %s"
                            % type(on_progress).__name__)
        names = Names(backend, model)
        client = self._client
        if threading.current_thread() is not threading.main_thread():
            token = CallToken(client._tokens, cancel) if cancel is not None else None
            raised: list[BaseException] = []
            failure: Optional[UltraLLMError] = None
            result: Optional[PullProgress] = None
            try:
                result = pull(client, names, on_progress, token, raised)
            except UltraLLMError as e:
                if not raised:
                    raise
                failure = e
            finally:
                if token is not None:
                    token.release()
            if raised:
                raise_first(raised, failure)
            assert result is not None
            return result
        # The main thread: the pull runs on a worker, on_progress here in lockstep.
        pull_token = CallToken(client._tokens, cancel)
        call: Call[PullProgress] = Call(lockstep=on_progress is not None)

        def work() -> PullProgress:
            try:
                return pull(client, names, call.deliver if on_progress is not None else None,
                            pull_token, [])
            finally:
                pull_token.release()

        def handle(event: Event) -> int:
            assert on_progress is not None and isinstance(event, PullProgress)
            on_progress(event)
            return GO

        try:
            call.start(client._workers, work, pull_token)
        except BaseException:
            pull_token.release()
            raise
        return wait(call, handle if on_progress is not None else None)

    def models(self, *, backend: Optional[str] = None) -> list[PulledModel]:
        """The models pulled into the runner, with what it knows of each."""
        names = Names(backend)
        result: list[PulledModel] = self._run(lambda: list_models(self._client, names))
        return result

    def ps(self, *, backend: Optional[str] = None) -> list[Runner]:
        """The runners it has loaded or is loading (`docker model ps`)."""
        names = Names(backend)
        result: list[Runner] = self._run(lambda: ps(self._client, names))
        return result

    def metrics(self, *, backend: Optional[str] = None) -> str:
        """What the runner holds, as Prometheus text to serve beside Client.metrics()
        (ulm_dmr_metrics(), docs/metrics.md): ulm_dmr_up, the models in memory by state
        and one ulm_dmr_runner_info each, the bytes its models take on disk, and the
        runner's own metrics renamed ulm_dmr_runner_<name>. A runner that does not answer
        gives ulm_dmr_up 0; raises for a backend that is not a Docker Model Runner or is
        not configured."""
        names = Names(backend)
        result: str = self._run(lambda: metrics(self._client, names))
        return result

    def unload(self, model: Optional[str] = None, *, backend: Optional[str] = None) -> int:
        """Unloads model's idle runners, or every idle runner when model is None, and
        returns how many went; runners serving a request stay."""
        names = Names(backend, model)
        result: int = self._run(lambda: unload(self._client, names))
        return result

    def remove(self, model: str, *, force: bool = False,
               backend: Optional[str] = None) -> None:
        """Removes a pulled model (force: also by ID when it has several tags)."""
        names = Names(backend, model)
        self._run(lambda: remove(self._client, names, force))

    def preload(self, model: str, *, context_size: Optional[int] = None,
                keep_alive: Optional[str] = None, backend: Optional[str] = None) -> None:
        """Loads model now, so that the first request does not wait for it, and returns
        once it is loaded. context_size: tokens, -1 unlimited, None the model's own;
        keep_alive: its idle timeout ("10m", "-1" never, "0"), None the runner's 5
        minutes."""
        names = Names(backend, model)
        settings = Preload(context_size, keep_alive)
        self._run(lambda: preload(self._client, names, settings))
