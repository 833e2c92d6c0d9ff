"""One C call (ulm_complete, ulm_round_run, ulm_dmr_pull, ...) that a worker thread makes
for another thread, which takes what its callbacks report and its outcome from a queue;
wait(), how a blocking call's thread takes them; and Stream, the iterator over a streamed
answer."""

from __future__ import annotations

import queue
from typing import Callable, Generic, NoReturn, Optional, TypeVar, Union, cast

from ._cancel import CallToken
from ._results import Member, MemberDelta, MemberStateChange, PullProgress, Response
from ._workers import Workers

T = TypeVar("T")

# What a C call's callbacks report on the worker, for the consumer's thread: a piece of
# text (a streamed answer, or a round's synthesis), a piece of a round member's answer, what
# a round member now waits for, a round member that ended, a pull's progress.
Event = Union[str, MemberDelta, MemberStateChange, Member, PullProgress]

# The consumer's answer to an event, in lockstep: go on; go on, and the event's callback
# asked to end (a round's on_member_done); stop the call.
GO, END, STOP = 0, 1, -1

# The longest a thread waiting for a call goes without running Python's signal handlers:
# a signal the kernel delivered to another thread (not a worker: they block them) still
# raises within this delay, e.g. KeyboardInterrupt on the main thread.
WAIT_S = 0.1


class Outcome(Generic[T]):
    """How a call ended: what it returned, or the exception it raised."""

    __slots__ = ("value", "error")

    def __init__(self, value: Optional[T], error: Optional[BaseException]) -> None:
        self.value = value
        self.error = error

    def result(self) -> T:
        if self.error is not None:
            raise self.error
        # None is a value too: the result of a call that returns nothing (remove()).
        return cast(T, self.value)


class _Stopped(BaseException):
    """Raised by Call.deliver() on the worker when the consumer refused a piece, so that
    the request's callback returns non-zero and the library calls it no more."""


def take(items: queue.SimpleQueue[Union[Event, Outcome[T]]]) -> Union[Event, Outcome[T]]:
    """The next item, waited for in slices of WAIT_S, in each of which a signal for this
    thread (SIGINT on the main thread) interrupts the wait at once."""
    while True:
        try:
            return items.get(timeout=WAIT_S)
        except queue.Empty:
            pass


class Call(Generic[T]):
    """One C call run by a worker (a Job of _workers) for the thread that started it: each
    event its callbacks report (deliver(): a piece of text of its request's on_delta, a
    round's member, a pull's progress), then its Outcome, go to items, for that thread to
    take with next().

    In lockstep, the worker waits for the consumer's ack() of each event before the
    library goes on, and a refused event stops the call at once (complete(on_delta=...),
    whose callback runs on the caller's thread but must see the text exactly as a callback
    of the library would). Otherwise the events queue up while the consumer is busy (a
    Stream). The work given to start() owns what the C call uses (the request, the token)
    and frees it once the call has returned, whether or not anyone still waits for it.
    """

    def __init__(self, lockstep: bool = False) -> None:
        self.items: queue.SimpleQueue[Union[Event, Outcome[T]]] = queue.SimpleQueue()
        self._acks: Optional[queue.SimpleQueue[int]] = queue.SimpleQueue() if lockstep else None
        self._unacked = False
        self._work: Optional[Callable[[], T]] = None
        self._token: Optional[CallToken] = None
        self.outcome: Optional[Outcome[T]] = None

    # -- the worker's side

    def _put(self, item: Union[Event, Outcome[T]]) -> None:
        """Hands an item to the consumer."""
        self.items.put(item)

    def deliver(self, event: Event) -> int:
        """A callback of the C call (the request's on_delta, ...): hands an event to the
        consumer; in lockstep, returns its answer (GO or END) once it has taken it, or
        raises _Stopped when it refused it."""
        self._put(event)
        if self._acks is None:
            return GO
        answer = self._acks.get()
        if answer == STOP:
            raise _Stopped()
        return answer

    def start(self, workers: Workers, work: Callable[[], T],
              token: Optional[CallToken] = None) -> None:
        """Runs work() on a worker; token, if any, is the one its C call carries, for
        cancel(). When this raises (a closed client), work() never runs."""
        self._work, self._token = work, token
        workers.submit(self)

    def run(self) -> None:
        work = self._work
        assert work is not None
        self._work = None
        outcome: Outcome[T]
        try:
            outcome = Outcome(work(), None)
        except BaseException as e:  # noqa: B036  (handed to the consumer, who raises it)
            outcome = Outcome(None, e)
        self._put(outcome)

    def cancel(self) -> None:
        """Stops the call from any thread; it ends within milliseconds."""
        token = self._token
        if token is not None:
            token.trigger()
        if self._acks is not None:
            self._acks.put(STOP)  # a worker waiting for an ack stops at once

    # -- the consumer's side

    def next(self) -> Union[Event, Outcome[T]]:
        """The next event, or the outcome; in lockstep, ack() each event."""
        item = take(self.items)
        if isinstance(item, Outcome):
            self.outcome = item
        else:
            self._unacked = self._acks is not None
        return item

    def ack(self, answer: int = GO) -> None:
        """In lockstep: lets the library go on after the event next() returned, with the
        answer of the event's callback (END: it asked to end the round)."""
        if self._acks is not None and self._unacked:
            self._unacked = False
            self._acks.put(answer)

    def interrupted(self, interruption: BaseException) -> None:
        """Stops the call because waiting for it raised interruption (Ctrl-C:
        KeyboardInterrupt), whose context becomes how the call ended (CancelledError),
        unless it has one already; the caller then lets it propagate."""
        error = self.stop().error
        if interruption.__context__ is None and error is not None:
            interruption.__context__ = error

    def stop(self) -> Outcome[T]:
        """Cancels the call, if it is still running, and waits for its end (milliseconds):
        its outcome. The pieces not taken yet are dropped."""
        if self.outcome is not None:
            return self.outcome
        self.cancel()
        while True:
            item = take(self.items)
            if isinstance(item, Outcome):
                self.outcome = item
                return item
            if self._acks is not None:
                self._acks.put(STOP)


def raise_first(raised: list[BaseException], failure: Optional[BaseException]) -> NoReturn:
    """Raises the first exception a callable raised inside a C call made on this thread,
    with how the call ended (failure: CancelledError, as the callable stopped it) as its
    context, unless it has one. Call it outside any except block, so that a context of
    the callable's own exception is kept rather than replaced."""
    user_error = raised[0]
    if user_error.__context__ is None and failure is not None:
        user_error.__context__ = failure
    raise user_error


def wait(call: Call[T], handle: Optional[Callable[[Event], int]] = None,
         cancellable: bool = True) -> T:
    """The outcome of call, taken on the thread that started it (the main thread, where
    Ctrl-C raises KeyboardInterrupt at once): handle(event) runs each event there, in
    lockstep with the library, and answers it (GO or END).

    When handle raises, the call is stopped (cancelled and waited for, milliseconds) and
    that exception is raised, with how the call ended as its context (unless it has one).
    When the wait itself is interrupted (Ctrl-C), a cancellable call is stopped the same
    way before the interruption propagates; a call the library cannot cancel (a model
    listing) is left to its worker, which finishes it.
    """
    user_error: Optional[BaseException] = None
    try:
        item = call.next()
        while not isinstance(item, Outcome):
            assert handle is not None
            try:
                answer = handle(item)
            except BaseException as e:  # noqa: B036  (re-raised below, as documented)
                user_error = e
                break
            call.ack(answer)
            item = call.next()
    except BaseException as e:
        if cancellable:
            call.interrupted(e)
        raise
    if user_error is None:
        assert isinstance(item, Outcome)
        return item.result()
    raise_first([user_error], call.stop().error)


class StreamBase:
    """What Stream and AsyncStream share: the state of a streamed call seen by its
    consumer, its response, and the cancellation of a stream that is dropped."""

    def __init__(self, call: Call[Response]) -> None:
        self._call = call
        self._response: Optional[Response] = None
        self._ended = False

    def _end(self, outcome: Outcome[Response]) -> None:
        """The iteration reached the outcome: keeps the response, or raises the error."""
        self._ended = True
        self._response = outcome.result()

    @property
    def response(self) -> Response:
        """The whole Response, once the iteration has ended; before that, or when the
        stream failed or was closed early, raises ValueError."""
        if self._response is None:
            raise ValueError("ultrallm: the stream has no response: %s" % (
                "it failed" if self._ended else
                "it was closed before its end" if self._call.outcome is not None else
                "iterate it to its end first"))
        return self._response

    @property
    def closed(self) -> bool:
        """Whether the call is over: the stream ended, failed or was closed."""
        return self._ended or self._call.outcome is not None

    def __del__(self) -> None:
        # Only the trigger: a collector may run this on any thread, even the worker of
        # this very call, which must not wait for itself; the worker frees everything.
        call = getattr(self, "_call", None)
        if call is not None and call.outcome is None:
            call.cancel()

    def __repr__(self) -> str:
        state = ("ended" if self._response is not None else "failed" if self._ended else
                 "closed" if self._call.outcome is not None else "open")
        return "<ultrallm.%s %s at %#x>" % (type(self).__name__, state, id(self))


class Stream(StreamBase):
    """The text of a streamed answer, piece by piece: Client.stream() returns it.

        with client.stream("Once upon a time", model="dmr/ai/smollm2") as stream:
            for piece in stream:
                print(piece, end="", flush=True)
        print(stream.response.usage)

    Iterating yields each piece of text (a str of whole characters) as it arrives, then
    ends; response is then the whole Response, whose text is the pieces joined. A failed
    call raises its exception (UltraLLMError, with the attempts) from the iteration, after
    the pieces received before the failure (e.incomplete and e.text say which).

    The call runs on a worker thread from the moment stream() returns. close() (also at
    the end of a with block, or when waiting for the next piece is interrupted, e.g. by
    Ctrl-C) cancels the call through its cancellation token and waits for its end, which
    takes milliseconds: the transfer stops, the worker is free again, nothing stays
    allocated. Dropping the stream (a break out of "for piece in client.stream(...)")
    cancels it too, without waiting.
    """

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        if self.closed:
            raise StopIteration
        try:
            item = self._call.next()
        except BaseException as e:
            self._call.interrupted(e)
            raise
        if isinstance(item, str):
            return item
        assert isinstance(item, Outcome)  # a stream's only events are pieces of text
        self._end(item)
        raise StopIteration

    def close(self) -> None:
        """Cancels the call if it is still running and waits for its end (milliseconds).
        Idempotent; the pieces not read yet are dropped."""
        self._call.stop()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
