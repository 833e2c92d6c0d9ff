"""The worker threads that make C calls on behalf of another thread: a stream's consumer,
the main thread (which must stay free to take Ctrl-C) or an event loop."""

from __future__ import annotations

import atexit
import os
import queue
import signal
import threading
import time
import weakref
from typing import Optional, Protocol

# How many workers of one client wait for the next job; the others end with their job.
MAX_IDLE = 4
# How long interpreter exit waits for the calls it cancelled, each of which ends within
# milliseconds of its token. A model listing cannot be cancelled: its worker is left in C
# (in a poll; the library has no destructor to race with) when the process exits.
EXIT_WAIT_S = 1.0

# The asynchronous signals a program may handle in Python. Blocked on the workers, so that
# the kernel delivers them to a thread that runs Python's handlers promptly (the main
# thread), never to a worker sitting in C; the threads libcurl starts inherit the mask.
_BLOCKED = {getattr(signal, name) for name in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGCHLD",
    "SIGWINCH") if hasattr(signal, name)}


class Job(Protocol):
    """What a worker runs: run() makes the call and hands its outcome over, exception
    included (it never raises); cancel() stops it from another thread (at interpreter
    exit)."""

    def run(self) -> None: ...

    def cancel(self) -> None: ...


class Workers:
    """A client's worker threads. A job goes to an idle worker, or to a new one when none
    is idle, so that a job never waits for another (a stream may last minutes); up to
    MAX_IDLE workers then wait for the next job, the others end with theirs. close() ends
    the idle workers at once and the busy ones after their job. The workers are daemon
    threads: a forgotten client does not keep the interpreter alive, and at exit the calls
    still running are cancelled and waited for (nothing is left inside C)."""

    def __init__(self) -> None:
        self._reset()
        _ALL.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Optional[Job]] = queue.SimpleQueue()
        self._idle = 0
        self._closed = False
        self._running: set[Job] = set()
        self._threads: set[threading.Thread] = set()

    def submit(self, job: Job) -> None:
        """Runs job on a worker; raises ValueError once closed."""
        with self._lock:
            if self._closed:
                raise ValueError("ultrallm: the client is closed")
            self._running.add(job)
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        thread = threading.Thread(target=self._work, args=(job,), name="ultrallm-worker",
                                  daemon=True)
        with self._lock:
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads.discard(thread)
                self._running.discard(job)
            raise

    def _work(self, job: Optional[Job]) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        try:
            while job is not None:
                job.run()
                with self._lock:
                    self._running.discard(job)
                    stay = not self._closed and self._idle < MAX_IDLE
                    if stay:
                        self._idle += 1
                job = self._jobs.get() if stay else None
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def close(self) -> None:
        """Ends the idle workers; the busy ones end after their job. Idempotent."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)

    def _exit(self, deadline: float) -> None:
        self.close()
        with self._lock:
            running, threads = list(self._running), list(self._threads)
        for job in running:
            job.cancel()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _after_fork(self) -> None:
        # The child has none of the parent's threads: start afresh.
        self._reset()


_ALL: weakref.WeakSet[Workers] = weakref.WeakSet()


@atexit.register
def _exit_all() -> None:
    deadline = time.monotonic() + EXIT_WAIT_S
    for workers in list(_ALL):
        workers._exit(deadline)


def _after_fork_in_child() -> None:
    for workers in list(_ALL):
        workers._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
