"""asyncio: AsyncClient, whose calls run the blocking C call on a worker thread and are
awaited on the event loop; AsyncStream, the async iterator over a streamed answer; and
AsyncModelRunner, AsyncClient.dmr."""

from __future__ import annotations

import asyncio
from typing import Callable, Iterable, Optional, Sequence, TypeVar, Union

from . import _dmr
from ._call import GO, STOP, Call, Event, Outcome, StreamBase, raise_first
from ._cancel import CallToken, CancelToken, check_cancel
from ._client import ClientBase, check_callable, round_events
from ._request import BackendOverrides, Message, Models, RequestArgs, Timeouts
from ._results import Embeddings, ModelList, PulledModel, PullProgress, Response, Round, Runner
from ._round import (MemberSpec, OnMemberDelta, OnMemberDone, OnMemberState, OnSynthesisDelta,
                     RoundSpec)

T = TypeVar("T")


class _LoopCall(Call[T]):
    """A Call whose pieces and outcome go to an asyncio.Queue of the event loop that
    started it, for a coroutine to await."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lockstep: bool = False) -> None:
        super().__init__(lockstep)
        self._loop = loop
        self.queue: asyncio.Queue[Union[Event, Outcome[T]]] = asyncio.Queue()

    def _put(self, item: Union[Event, Outcome[T]]) -> None:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this call any more

    async def anext(self) -> Union[Event, Outcome[T]]:
        """The next event, or the outcome; in lockstep, ack() each event. When the awaiting
        task is cancelled
        (task.cancel(), a timeout), the C call is cancelled through its token and its end
        awaited (milliseconds) before CancelledError propagates: no worker is left
        running the call."""
        try:
            item = await self.queue.get()
        except BaseException:
            await self.astop()
            raise
        if isinstance(item, Outcome):
            self.outcome = item
        else:
            self._unacked = self._acks is not None
        return item

    async def astop(self) -> Outcome[T]:
        """Cancels the call if it is still running and awaits its end (milliseconds),
        without blocking the loop; a cancellation of the awaiting task meanwhile is raised
        once the call has ended."""
        if self.outcome is not None:
            return self.outcome
        self.cancel()
        cancelled: Optional[asyncio.CancelledError] = None
        while True:
            try:
                item = await self.queue.get()
            except asyncio.CancelledError as e:
                cancelled = e
                continue
            if isinstance(item, Outcome):
                self.outcome = item
                if cancelled is not None:
                    raise cancelled
                return item
            if self._acks is not None:
                self._acks.put(STOP)


async def await_outcome(call: _LoopCall[T],
                        handle: Optional[Callable[[Event], int]] = None) -> T:
    """The outcome of call, awaited: wait() of _call for the event loop. handle(event)
    runs each event on the loop, in lockstep with the library; when it raises, the call
    is stopped and awaited, and that exception raised. Cancelling the awaiting task
    cancels the call and awaits its end."""
    user_error: Optional[BaseException] = None
    item = await call.anext()
    while not isinstance(item, Outcome):
        assert handle is not None
        try:
            answer = handle(item)
        except BaseException as e:  # noqa: B036  (re-raised below, as documented)
            user_error = e
            break
        call.ack(answer)
        item = await call.anext()
    if user_error is None:
        assert isinstance(item, Outcome)
        return item.result()
    raise_first([user_error], (await call.astop()).error)


class AsyncStream(StreamBase):
    """The text of a streamed answer, piece by piece, for asyncio: AsyncClient.stream()
    returns it.

        async with client.stream("Once upon a time", model="dmr/ai/smollm2") as stream:
            async for piece in stream:
                print(piece, end="", flush=True)
        print(stream.response.usage)

    As Stream: the pieces, then response once the iteration has ended; a failure raises
    from the iteration. aclose() (also at the end of an async with block, or when the task
    awaiting the next piece is cancelled) cancels the call and awaits its end
    (milliseconds). Dropping the stream, e.g. a break out of "async for piece in
    client.stream(...)", cancels it without waiting: use async with to be sure that it
    has ended.
    """

    _call: _LoopCall[Response]

    def __init__(self, call: _LoopCall[Response]) -> None:
        super().__init__(call)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> str:
        if self.closed:
            raise StopAsyncIteration
        item = await self._call.anext()
        if isinstance(item, str):
            return item
        assert isinstance(item, Outcome)  # a stream's only events are pieces of text
        self._end(item)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Cancels the call if it is still running and awaits its end (milliseconds).
        Idempotent; the pieces not read yet are dropped."""
        await self._call.astop()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncClient(ClientBase):
    """A libultrallm client for asyncio. It takes the options of Client (configuration
    file, environment, keys, URLs, clocks, log), and its calls are coroutines:

        async with ultrallm.AsyncClient() as client:
            r = await client.complete("Once upon a time", model="dmr/ai/smollm2")
            async for piece in client.stream("Once upon a time", model="dmr/ai/smollm2"):
                print(piece, end="")

    Each call runs the blocking C call on a worker thread of the client, so the event
    loop never blocks, and many tasks may call one client at once (the C client is
    thread-safe; each call in flight has its worker). Cancelling the task (task.cancel(),
    asyncio.wait_for's timeout, Ctrl-C under asyncio.run) cancels the C call through its
    cancellation token: the call ends within milliseconds, and CancelledError propagates
    once it has ended, so no thread is left running it. describe() and default_model do
    not block and are plain. close() (also at the end of async with) frees the C client
    once the calls in flight have returned.
    """

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def complete(self, prompt: Optional[str] = None, *,
                       messages: Optional[Iterable[Message]] = None,
                       model: Optional[Models] = None, system: Optional[str] = None,
                       temperature: Optional[float] = None, top_p: Optional[float] = None,
                       max_tokens: Optional[int] = None, seed: Optional[int] = None,
                       stop: Optional[Union[str, Sequence[str]]] = None,
                       timeouts: Optional[Timeouts] = None,
                       backend_overrides: Optional[BackendOverrides] = None,
                       cancel: Optional[CancelToken] = None) -> Response:
        """Client.complete() as a coroutine (without on_delta: stream() streams). A bad
        argument raises before anything is sent; cancelling the awaiting task cancels the
        call."""
        check_cancel(cancel)
        call: _LoopCall[Response] = _LoopCall(asyncio.get_running_loop())
        self._start(call, cancel, RequestArgs(prompt, messages, model, system, temperature,
                                              top_p, max_tokens, seed, stop, timeouts,
                                              backend_overrides),
                    None, lambda req, token: self._call(req))
        return await await_outcome(call)

    def stream(self, prompt: Optional[str] = None, *,
               messages: Optional[Iterable[Message]] = None,
               model: Optional[Models] = None, system: Optional[str] = None,
               temperature: Optional[float] = None, top_p: Optional[float] = None,
               max_tokens: Optional[int] = None, seed: Optional[int] = None,
               stop: Optional[Union[str, Sequence[str]]] = None,
               timeouts: Optional[Timeouts] = None,
               backend_overrides: Optional[BackendOverrides] = None,
               cancel: Optional[CancelToken] = None) -> AsyncStream:
        """Starts a streamed chat completion and returns its AsyncStream, an async
        iterator over the pieces of text; called from a coroutine (it needs the running
        loop), not awaited. The arguments are complete()'s; a bad one raises here."""
        check_cancel(cancel)
        call: _LoopCall[Response] = _LoopCall(asyncio.get_running_loop())
        self._start(call, cancel, RequestArgs(prompt, messages, model, system, temperature,
                                              top_p, max_tokens, seed, stop, timeouts,
                                              backend_overrides),
                    call.deliver, lambda req, token: self._call(req))
        return AsyncStream(call)

    async def models(self) -> ModelList:
        """Client.models() as a coroutine. The library cannot cancel a model listing:
        cancelling the awaiting task raises CancelledError at once, and the worker
        finishes the listing (bounded by the client's clocks) and frees it."""
        return await self._uncancellable(self._models)

    async def _uncancellable(self, work: Callable[[], T]) -> T:
        """work(), a call the library cannot cancel, on a worker: a cancelled task raises
        at once, and the worker finishes the call."""
        call: _LoopCall[T] = _LoopCall(asyncio.get_running_loop())
        call.start(self._workers, work)
        outcome = await call.queue.get()
        assert isinstance(outcome, Outcome)
        return outcome.result()

    async def compare(self, prompt: Optional[str] = None, *, models: Sequence[MemberSpec],
                      messages: Optional[Iterable[Message]] = None,
                      system: Optional[str] = None, temperature: Optional[float] = None,
                      top_p: Optional[float] = None, max_tokens: Optional[int] = None,
                      seed: Optional[int] = None,
                      stop: Optional[Union[str, Sequence[str]]] = None,
                      timeouts: Optional[Timeouts] = None,
                      backend_overrides: Optional[BackendOverrides] = None,
                      quorum: Optional[int] = None, timeout_ms: Optional[int] = None,
                      take_what_arrived: bool = False, synthesize: Optional[Models] = None,
                      synthesis_template: Optional[str] = None, anonymize: bool = False,
                      shuffle_seed: Optional[int] = None,
                      answer_budget_bytes: Optional[int] = None,
                      synthesis_share_pct: Optional[int] = None,
                      on_delta: Optional[OnMemberDelta] = None,
                      on_member_done: Optional[OnMemberDone] = None,
                      on_synthesis_delta: Optional[OnSynthesisDelta] = None,
                      on_member_state: Optional[OnMemberState] = None,
                      cancel: Optional[CancelToken] = None) -> Round:
        """Client.compare() as a coroutine. The callables run on the event loop, in
        lockstep with the library; cancelling the awaiting task cancels the whole round
        and awaits its end."""
        check_cancel(cancel)
        for value, what in ((on_delta, "on_delta"), (on_member_done, "on_member_done"),
                            (on_synthesis_delta, "on_synthesis_delta"),
                            (on_member_state, "on_member_state")):
            check_callable(value, what)
        spec = RoundSpec(models, quorum, timeout_ms, take_what_arrived, synthesize,
                         synthesis_template, anonymize, shuffle_seed, answer_budget_bytes,
                         synthesis_share_pct)
        handle = round_events(on_delta, on_member_done, on_synthesis_delta, on_member_state)
        call: _LoopCall[Round] = _LoopCall(asyncio.get_running_loop(),
                                           lockstep=handle is not None)
        self._round_on_worker(call, spec, cancel,
                              RequestArgs(prompt, messages, None, system, temperature, top_p,
                                          max_tokens, seed, stop, timeouts,
                                          backend_overrides),
                              on_delta, on_member_done, on_synthesis_delta, on_member_state)
        return await await_outcome(call, handle)

    async def embed(self, texts: Union[str, Iterable[str]], *,
                    model: Optional[Models] = None, timeouts: Optional[Timeouts] = None,
                    backend_overrides: Optional[BackendOverrides] = None,
                    cancel: Optional[CancelToken] = None) -> Embeddings:
        """Client.embed() as a coroutine; cancelling the awaiting task cancels the call."""
        check_cancel(cancel)
        call: _LoopCall[Embeddings] = _LoopCall(asyncio.get_running_loop())
        self._start(call, cancel, RequestArgs(model=model, timeouts=timeouts,
                                              backend_overrides=backend_overrides,
                                              inputs=texts),
                    None, lambda req, token: self._embed(req))
        return await await_outcome(call)

    @property
    def dmr(self) -> AsyncModelRunner:
        """The models of the Docker Model Runner backends, for asyncio (AsyncModelRunner)."""
        return AsyncModelRunner(self)


class AsyncModelRunner:
    """ModelRunner (Client.dmr) for asyncio: the same calls, as coroutines. Cancelling the
    task awaiting pull() cancels the pull and awaits its end (milliseconds); on_progress
    runs on the event loop. The other calls cannot be cancelled in the library: a
    cancelled task raises at once, and the worker finishes the call."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<ultrallm.AsyncModelRunner of %r>" % self._client

    async def pull(self, model: str, *, on_progress: Optional[_dmr.OnProgress] = None,
                   backend: Optional[str] = None,
                   cancel: Optional[CancelToken] = None) -> PullProgress:
        """ModelRunner.pull() as a coroutine."""
        check_cancel(cancel)
        check_callable(on_progress, "on_progress")
        names = _dmr.Names(backend, model)
        client = self._client
        token = CallToken(client._tokens, cancel)
        call: _LoopCall[PullProgress] = _LoopCall(asyncio.get_running_loop(),
                                                  lockstep=on_progress is not None)

        def work() -> PullProgress:
            try:
                return _dmr.pull(client, names,
                                 call.deliver if on_progress is not None else None, token, [])
            finally:
                token.release()

        def handle(event: Event) -> int:
            assert on_progress is not None and isinstance(event, PullProgress)
            on_progress(event)
            return GO

        try:
            call.start(client._workers, work, token)
        except BaseException:
            token.release()
            raise
        return await await_outcome(call, handle if on_progress is not None else None)

    async def models(self, *, backend: Optional[str] = None) -> list[PulledModel]:
        """ModelRunner.models() as a coroutine."""
        names = _dmr.Names(backend)
        return await self._client._uncancellable(lambda: _dmr.list_models(self._client, names))

    async def ps(self, *, backend: Optional[str] = None) -> list[Runner]:
        """ModelRunner.ps() as a coroutine."""
        names = _dmr.Names(backend)
        return await self._client._uncancellable(lambda: _dmr.ps(self._client, names))

    async def metrics(self, *, backend: Optional[str] = None) -> str:
        """ModelRunner.metrics() as a coroutine."""
        names = _dmr.Names(backend)
        return await self._client._uncancellable(lambda: _dmr.metrics(self._client, names))

    async def unload(self, model: Optional[str] = None, *,
                     backend: Optional[str] = None) -> int:
        """ModelRunner.unload() as a coroutine."""
        names = _dmr.Names(backend, model)
        return await self._client._uncancellable(lambda: _dmr.unload(self._client, names))

    async def remove(self, model: str, *, force: bool = False,
                     backend: Optional[str] = None) -> None:
        """ModelRunner.remove() as a coroutine."""
        names = _dmr.Names(backend, model)
        await self._client._uncancellable(lambda: _dmr.remove(self._client, names, force))

    async def preload(self, model: str, *, context_size: Optional[int] = None,
                      keep_alive: Optional[str] = None, backend: Optional[str] = None) -> None:
        """ModelRunner.preload() as a coroutine."""
        names = _dmr.Names(backend, model)
        settings = _dmr.Preload(context_size, keep_alive)
        await self._client._uncancellable(
            lambda: _dmr.preload(self._client, names, settings))
