"""asyncio: AsyncClient, whose calls run the blocking C call on a worker thread and are
awaited on the event loop, and AsyncStream, the async iterator over a streamed answer."""

from __future__ import annotations

import asyncio
from typing import Iterable, Optional, Sequence, TypeVar, Union

from ._call import Call, Outcome, StreamBase
from ._cancel import CancelToken
from ._client import ClientBase, _check_cancel
from ._request import Message, Models, Timeouts
from ._results import ModelList, Response

T = TypeVar("T")


class _LoopCall(Call[T]):
    """A Call whose pieces and outcome go to an asyncio.Queue of the event loop that
    started it, for a coroutine to await."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.queue: asyncio.Queue[Union[str, Outcome[T]]] = asyncio.Queue()

    def _put(self, item: Union[str, Outcome[T]]) -> None:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this call any more

    async def anext(self) -> Union[str, Outcome[T]]:
        """The next piece of text, or the outcome. When the awaiting task is cancelled
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
                       cancel: Optional[CancelToken] = None) -> Response:
        """Client.complete() as a coroutine (without on_delta: stream() streams). A bad
        argument raises before anything is sent; cancelling the awaiting task cancels the
        call."""
        _check_cancel(cancel)
        call: _LoopCall[Response] = _LoopCall(asyncio.get_running_loop())
        self._start(call, cancel, (prompt, messages, model, system, temperature, top_p,
                                   max_tokens, seed, stop, timeouts), streamed=False)
        outcome = await call.anext()
        assert isinstance(outcome, Outcome)
        return outcome.result()

    def stream(self, prompt: Optional[str] = None, *,
               messages: Optional[Iterable[Message]] = None,
               model: Optional[Models] = None, system: Optional[str] = None,
               temperature: Optional[float] = None, top_p: Optional[float] = None,
               max_tokens: Optional[int] = None, seed: Optional[int] = None,
               stop: Optional[Union[str, Sequence[str]]] = None,
               timeouts: Optional[Timeouts] = None,
               cancel: Optional[CancelToken] = None) -> AsyncStream:
        """Starts a streamed chat completion and returns its AsyncStream, an async
        iterator over the pieces of text; called from a coroutine (it needs the running
        loop), not awaited. The arguments are complete()'s; a bad one raises here."""
        _check_cancel(cancel)
        call: _LoopCall[Response] = _LoopCall(asyncio.get_running_loop())
        self._start(call, cancel, (prompt, messages, model, system, temperature, top_p,
                                   max_tokens, seed, stop, timeouts), streamed=True)
        return AsyncStream(call)

    async def models(self) -> ModelList:
        """Client.models() as a coroutine. The library cannot cancel a model listing:
        cancelling the awaiting task raises CancelledError at once, and the worker
        finishes the listing (bounded by the client's clocks) and frees it."""
        call: _LoopCall[ModelList] = _LoopCall(asyncio.get_running_loop())
        call.start(self._workers, self._models)
        outcome = await call.queue.get()
        assert isinstance(outcome, Outcome)
        return outcome.result()
