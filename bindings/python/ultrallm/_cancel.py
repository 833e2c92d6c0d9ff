"""Cancellation: CancelToken, which a caller triggers to stop calls from any thread, and
CallToken, the C token (ulm_cancel) that one call's request carries."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Optional

from ._native import cancel_p, lib

# Counts the fork()s into this process. A C token created before a fork shares its pipe
# with the other process: a trigger in one would make the pipe readable in the other
# without its flag, and a call there would wake over and over without ending. So a
# process neither triggers nor reuses a token created before it was forked.
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


class CancelToken:
    """Stops the calls it is given to (cancel= of Client.complete(), Client.stream(),
    AsyncClient...), from any thread, or from a signal handler.

    cancel() makes each of those calls end within milliseconds with CancelledError (the
    text already received, if any, in e.text with e.incomplete true), even while it waits
    for a connection, a first token, a retry pause or a queue slot. A token stays
    cancelled: a call given it afterwards ends at once. One token may be given to many
    calls, at once or one after the other; it holds no resource of the library, so it
    needs no closing.
    """

    def __init__(self) -> None:
        self._cancelled = False
        # The calls in flight that were given this token. Each call carries a C token of
        # its own, so that stopping one call (a stream closed early, Ctrl-C) never cancels
        # this token's other calls; cancel() triggers them all.
        self._calls: set[CallToken] = set()

    def cancel(self) -> None:
        """Cancels every call given this token, now and from now on. Idempotent."""
        # The flag first: a call that links itself after the snapshot below sees it.
        self._cancelled = True
        for call in tuple(self._calls):  # a snapshot: calls end meanwhile on other threads
            call.trigger()

    @property
    def cancelled(self) -> bool:
        """Whether cancel() was called."""
        return self._cancelled

    def _link(self, call: CallToken) -> None:
        self._calls.add(call)
        if self._cancelled:
            call.trigger()

    def _unlink(self, call: CallToken) -> None:
        self._calls.discard(call)

    def __repr__(self) -> str:
        return "<ultrallm.CancelToken %s, %d calls in flight>" % (
            "cancelled" if self._cancelled else "not cancelled", len(self._calls))


def check_cancel(cancel: object) -> None:
    """Refuses a cancel= argument that is not a CancelToken."""
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError("cancel: expected a CancelToken, got %s" % type(cancel).__name__)


class Tokens:
    """A client's spare C tokens. Every call its main thread makes carries one (for
    Ctrl-C), and a new one costs a pipe and its flags, some 15 us of system calls: a call
    that ended without being cancelled gives its token back for the next call. A
    triggered token stays triggered, so it is freed instead."""

    MAX_SPARE = 8
    # Kept on the class so that close() still reaches it during interpreter shutdown.
    _free = staticmethod(lib.ulm_cancel_free)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: list[Any] = []
        self._closed = False
        self._forks = _forks

    def take(self) -> Any:
        with self._lock:
            if self._forks != _forks:
                # Forked: the spares' pipes are the parent's too. Freeing them here closes
                # this process's copies only.
                self._forks = _forks
                stale, self._spare = self._spare, []
                for handle in stale:
                    self._free(handle)
            if self._spare:
                return self._spare.pop()
        handle = cancel_p()
        lib.ulm_cancel_new(ctypes.byref(handle))
        return handle

    def give(self, handle: Any) -> None:
        if not lib.ulm_cancel_triggered(handle):
            with self._lock:
                if not self._closed and len(self._spare) < self.MAX_SPARE:
                    self._spare.append(handle)
                    return
        self._free(handle)

    def close(self) -> None:
        """Frees the spare tokens; the tokens given back later are freed. Idempotent."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, []
        for handle in spare:
            self._free(handle)


class CallToken:
    """The C token (ulm_cancel) of one call, set on the call's request: trigger() stops
    the call within milliseconds, from any thread. release(), once the call has returned,
    gives the C token back to tokens (which may free it); a trigger() after that does
    nothing, so that whoever still holds this object never reaches another call's token,
    nor a freed one."""

    __slots__ = ("_handle", "_lock", "_link", "_tokens", "_forks", "__weakref__")

    def __init__(self, tokens: Tokens, link: Optional[CancelToken] = None) -> None:
        self._tokens = tokens
        self._handle: Any = tokens.take()
        self._forks = _forks
        # Re-entrant: a signal handler runs on the main thread between two bytecodes,
        # possibly while the main thread is inside this lock, and may trigger this token.
        self._lock = threading.RLock()
        self._link = link
        if link is not None:
            link._link(self)

    @property
    def handle(self) -> Any:
        """The ulm_cancel pointer, for ulm_request_set_cancel()."""
        return self._handle

    def trigger(self) -> None:
        with self._lock:
            # In a forked child, the call is the parent's: not this process's to stop.
            if self._handle and self._forks == _forks:
                lib.ulm_cancel_trigger(self._handle)

    def release(self) -> None:
        """Gives the C token back, or frees it; the call that carried it must have
        returned. Idempotent."""
        if self._link is not None:
            self._link._unlink(self)
            self._link = None
        with self._lock:
            handle, self._handle = self._handle, None
        if handle and self._forks == _forks:
            self._tokens.give(handle)
        elif handle:
            self._tokens._free(handle)  # the parent's: not for another call of this process
