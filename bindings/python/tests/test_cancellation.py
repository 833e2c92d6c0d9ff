"""Tests of cancellation: CancelToken from another thread, and Ctrl-C (SIGINT sent to a
subprocess) during a blocking call: complete(), a stream, compare(), dmr.pull().

Most tests use loopback.StubServer, a stub OpenAI server of their own on 127.0.0.1 that
never answers or stalls after one piece, and sees the client close its connection. The
FaultServer* tests need ULM_TEST_FAULT_URL, the root URL of tests/servers/fault-server.mjs;
the pull's needs ULM_TEST_DMR_LIFECYCLE_URL, tests/servers/lib.sh's lifecycle emulator,
whose ai/stalls stalls mid-pull (tests/run.sh sets both).

No bound here depends on the machine's speed: a cancelled call must end well before the
server's stall (minutes) or the call's own clocks would end it.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_cancellation.py -v
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import ultrallm
from loopback import FIRST_PIECE, StubServer

# The clocks of every call here: long enough that only a cancellation ends the call.
LONG = {"connect": 60000, "first_token": 120000, "idle": 120000, "overall": 120000}
# How soon a cancelled call must have ended: far less than LONG, far more than the
# milliseconds it takes.
PROMPT_S = 20.0
KEY = "sk-test-0123456789"
# How soon a process that got SIGINT during a call must have exited, interpreter exit
# included.
EXIT_S = 10.0
# The directory the package under test was imported from, for the subprocesses.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(ultrallm.__file__)))

# What the subprocess of the Ctrl-C tests runs: one blocking call (argv[2]) to the OpenAI
# base URL argv[1], printing each piece it receives. On KeyboardInterrupt it prints how
# the C call ended (the exception's context: CancelledError when it was cancelled, not
# timed out), closes the client, waits for its workers to end, prints how many threads
# are left and lets the exception end the process.
CHILD = """
import signal, sys, threading, time
# A shell runs a background job with SIGINT ignored, and Python then keeps ignoring it:
# the test needs Python's own handler, as in an interactive program.
signal.signal(signal.SIGINT, signal.default_int_handler)
import ultrallm

def piece(text):
    print("piece:", text, flush=True)

base, mode = sys.argv[1], sys.argv[2]
if mode == "pull":  # base is a Docker Model Runner's
    client = ultrallm.Client(ignore_environment=True, model_runner_url=base)
else:
    client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             openai_base_url=base, openai_api_key="sk-test-0123456789")
clocks = {"connect": 60000, "first_token": 120000, "idle": 120000, "overall": 120000}
try:
    print("calling", flush=True)
    if mode == "compare":
        client.compare("hi", models=["openai/a", "openai/b"], timeouts=clocks,
                       on_delta=lambda member, text: piece("%d %s" % (member, text)))
    elif mode == "pull":
        client.dmr.pull("ai/stalls", on_progress=lambda p: piece("%.0f%%" % p.percent))
    elif mode == "stream":
        for text in client.stream("hi", model="openai/fault-model", timeouts=clocks):
            piece(text)
    elif mode == "on_delta":
        client.complete("hi", model="openai/fault-model", timeouts=clocks, on_delta=piece)
    elif mode == "asyncio":
        import asyncio

        async def main():
            async with ultrallm.AsyncClient(ignore_environment=True,
                                            enable_model_runner=False, openai_base_url=base,
                                            openai_api_key="sk-test-0123456789") as aclient:
                await aclient.complete("hi", model="openai/fault-model", timeouts=clocks)

        asyncio.run(main())
    else:
        client.complete("hi", model="openai/fault-model", timeouts=clocks)
    print("the call returned", flush=True)
except KeyboardInterrupt as e:
    print("KeyboardInterrupt in", threading.current_thread().name, flush=True)
    print("the C call:", repr(e.__context__), flush=True)
    client.close()
    deadline = time.monotonic() + 10
    while (any(t.name == "ultrallm-worker" for t in threading.enumerate())
           and time.monotonic() < deadline):
        time.sleep(0.01)
    print("threads left:", threading.active_count(), flush=True)
    raise
"""


def openai_client(base_url):
    return ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                           openai_base_url=base_url, openai_api_key=KEY)


class Outcome:
    """What a call made on another thread returned or raised, and when it ended."""

    def __init__(self, function, *args, **kwargs):
        self.result = self.error = self.ended = None
        self.thread = threading.Thread(target=self._run, args=(function, args, kwargs))
        self.thread.start()

    def _run(self, function, args, kwargs):
        try:
            self.result = function(*args, **kwargs)
        except BaseException as e:  # noqa: B036  (inspected by the test)
            self.error = e
        self.ended = time.monotonic()

    def wait(self, test, timeout=PROMPT_S):
        self.thread.join(timeout)
        test.assertFalse(self.thread.is_alive(), "the call did not end in %.0f s" % timeout)
        return self


class CancelTokenTests(unittest.TestCase):
    def setUp(self):
        self.server = StubServer("silent")
        self.addCleanup(self.server.stop)
        self.client = openai_client(self.server.url)
        self.addCleanup(self.client.close)

    def complete(self, **kwargs):
        return self.client.complete("hi", model="openai/stub-model", timeouts=LONG, **kwargs)

    def test_the_token_and_its_repr(self):
        token = ultrallm.CancelToken()
        self.assertFalse(token.cancelled)
        self.assertIn("not cancelled", repr(token))
        token.cancel()
        token.cancel()  # idempotent
        self.assertTrue(token.cancelled)
        self.assertIn("cancelled", repr(token))

    def test_cancel_must_be_a_cancel_token(self):
        with self.assertRaises(TypeError):
            self.complete(cancel="stop")
        self.assertEqual(self.server.requests, 0)

    def test_a_cancelled_token_stops_a_call_before_it_sends(self):
        token = ultrallm.CancelToken()
        token.cancel()
        start = time.monotonic()
        with self.assertRaises(ultrallm.CancelledError) as caught:
            self.complete(cancel=token)
        self.assertLess(time.monotonic() - start, PROMPT_S)
        error = caught.exception
        self.assertEqual((error.code, error.name), (ultrallm.ErrorCode.CANCELLED, "cancelled"))
        self.assertFalse(error.incomplete)
        self.assertFalse(error.retryable)
        self.assertEqual(self.server.requests, 0)

    def test_cancel_from_another_thread_while_waiting_for_the_first_byte(self):
        token = ultrallm.CancelToken()
        call = Outcome(self.complete, cancel=token)
        self.assertTrue(self.server.request_seen.wait(PROMPT_S))
        cancelled_at = time.monotonic()
        token.cancel()
        call.wait(self)
        self.assertIsInstance(call.error, ultrallm.CancelledError)
        self.assertFalse(call.error.incomplete)
        self.assertEqual(call.error.text, "")
        self.assertEqual([a.error for a in call.error.attempts], ["cancelled"])
        self.assertLess(call.ended - cancelled_at, PROMPT_S)
        # The transfer was dropped: the server sees the connection closed.
        self.assertTrue(self.server.closed.wait(PROMPT_S))

    def test_one_token_cancels_every_call_given_it(self):
        token = ultrallm.CancelToken()
        calls = [Outcome(self.complete, cancel=token) for _ in range(3)]
        deadline = time.monotonic() + PROMPT_S
        while self.server.requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.server.requests, 3)
        token.cancel()
        for call in calls:
            self.assertIsInstance(call.wait(self).error, ultrallm.CancelledError)
        # A token stays cancelled: a later call ends at once, without sending anything.
        with self.assertRaises(ultrallm.CancelledError):
            self.complete(cancel=token)
        self.assertEqual(self.server.requests, 3)

    def test_a_token_does_not_touch_the_calls_not_given_it(self):
        token = ultrallm.CancelToken()
        other = ultrallm.CancelToken()
        cancelled = Outcome(self.complete, cancel=token)
        untouched = Outcome(self.complete, cancel=other)
        deadline = time.monotonic() + PROMPT_S
        while self.server.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        token.cancel()
        self.assertIsInstance(cancelled.wait(self).error, ultrallm.CancelledError)
        self.assertTrue(untouched.thread.is_alive())
        other.cancel()
        self.assertIsInstance(untouched.wait(self).error, ultrallm.CancelledError)


@unittest.skipUnless(hasattr(os, "fork"), "no os.fork()")
class ForkTests(unittest.TestCase):
    def test_a_forked_child_neither_triggers_nor_reuses_the_parents_tokens(self):
        # A C token's pipe is shared with a forked child: a trigger there would wake the
        # parent's call over and over without its flag, so the child must leave it alone.
        from ultrallm import _native
        with StubServer("silent") as server:
            client = openai_client(server.url)
            self.addCleanup(client.close)
            token = ultrallm.CancelToken()
            call = Outcome(self.complete_on(client), cancel=token)
            self.assertTrue(server.request_seen.wait(PROMPT_S))
            linked = list(token._calls)
            self.assertEqual(len(linked), 1)
            # Spare tokens, as calls that ended without being cancelled leave them.
            tokens = client._tokens
            spare = [tokens.take(), tokens.take()]
            for handle in spare:
                tokens.give(handle)
            self.assertEqual(len(tokens._spare), 2)
            pid = os.fork()
            if pid == 0:  # the child: report through the exit status only
                status = 1
                try:
                    token.cancel()
                    untouched = not _native.lib.ulm_cancel_triggered(linked[0].handle)
                    fresh = tokens.take()
                    status = 0 if untouched and not tokens._spare and fresh else 2
                finally:
                    os._exit(status)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
            self.assertTrue(call.thread.is_alive())  # the child did not stop it
            token.cancel()
            self.assertIsInstance(call.wait(self).error, ultrallm.CancelledError)

    @staticmethod
    def complete_on(client):
        return lambda **kwargs: client.complete("hi", model="openai/stub-model",
                                                timeouts=LONG, **kwargs)


class StalledStreamCancelTests(unittest.TestCase):
    def setUp(self):
        self.server = StubServer("stall")
        self.addCleanup(self.server.stop)
        self.client = openai_client(self.server.url)
        self.addCleanup(self.client.close)

    def test_cancel_during_a_stream_keeps_the_text_received(self):
        token = ultrallm.CancelToken()
        pieces = []
        first = threading.Event()

        def on_delta(piece):
            pieces.append(piece)
            first.set()

        call = Outcome(self.client.complete, "hi", model="openai/stub-model", timeouts=LONG,
                       on_delta=on_delta, cancel=token)
        self.assertTrue(first.wait(PROMPT_S))
        cancelled_at = time.monotonic()
        token.cancel()
        error = call.wait(self).error
        self.assertIsInstance(error, ultrallm.CancelledError)
        self.assertLess(call.ended - cancelled_at, PROMPT_S)
        self.assertTrue(error.incomplete)
        self.assertEqual(error.text, FIRST_PIECE)
        self.assertEqual(pieces, [FIRST_PIECE])
        self.assertTrue(self.server.closed.wait(PROMPT_S))


class CtrlCTests(unittest.TestCase):
    """SIGINT, as Ctrl-C sends it, to a process blocked in a call on its main thread."""

    def setUp(self):
        directory = tempfile.TemporaryDirectory(prefix="ultrallm-test-")
        self.addCleanup(directory.cleanup)
        self.script = os.path.join(directory.name, "child.py")
        with open(self.script, "w", encoding="utf-8") as f:
            f.write(CHILD)

    def interrupt(self, base_url, mode, ready):
        """Runs CHILD's call, sends SIGINT once ready(lines read so far) is true, and
        returns (the lines printed, stderr, the exit status, seconds from SIGINT to
        exit)."""
        path = [PACKAGE_PARENT] + [p for p in os.environ.get("PYTHONPATH", "").split(":")
                                   if p]
        env = dict(os.environ, PYTHONPATH=":".join(path))
        child = subprocess.Popen([sys.executable, self.script, base_url, mode], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        self.addCleanup(child.stdout.close)
        self.addCleanup(child.stderr.close)
        lines = []  # what the child printed so far (it flushes every line)
        reader = threading.Thread(target=lambda: lines.extend(
            line.rstrip("\n") for line in child.stdout))
        reader.start()
        deadline = time.monotonic() + PROMPT_S
        while not ready(list(lines)):
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                reader.join()
                self.fail("the child was not ready: %r %r" % (lines, child.stderr.read()))
            time.sleep(0.01)
        time.sleep(0.2)  # well inside the call: it waits minutes for the server
        interrupted_at = time.monotonic()
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=EXIT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            reader.join()
            self.fail("no exit %.0f s after SIGINT: %r %r" % (EXIT_S, lines,
                                                                child.stderr.read()))
        elapsed = time.monotonic() - interrupted_at
        reader.join()
        return lines, child.stderr.read(), child.returncode, elapsed

    def assert_interrupted(self, lines, err, status, elapsed, context=True):
        self.assertEqual(status, -signal.SIGINT, (lines, err))  # how Python ends on it
        self.assertLess(elapsed, EXIT_S)
        self.assertIn("KeyboardInterrupt", err.splitlines()[-1], err)
        self.assertNotIn("the call returned", lines)
        self.assertNotIn("Exception ignored", err)
        self.assertIn("KeyboardInterrupt in MainThread", lines)
        if context:
            # The C call was cancelled, and had ended, before KeyboardInterrupt was
            # raised: its CancelledError is the context.
            self.assertTrue([line for line in lines if line.startswith(
                "the C call: CancelledError(")], lines)
        self.assertEqual(lines[-1], "threads left: 1", lines)

    def test_ctrl_c_during_a_stream(self):
        with StubServer("stall") as server:
            result = self.interrupt(server.url, "stream",
                                    lambda lines: "piece: " + FIRST_PIECE in lines)
            self.assert_interrupted(*result)
            self.assertTrue(server.closed.wait(PROMPT_S))  # the transfer was dropped

    def test_ctrl_c_during_a_callback_stream(self):
        with StubServer("stall") as server:
            result = self.interrupt(server.url, "on_delta",
                                    lambda lines: "piece: " + FIRST_PIECE in lines)
            self.assert_interrupted(*result)
            self.assertTrue(server.closed.wait(PROMPT_S))

    def test_ctrl_c_while_waiting_for_the_first_byte(self):
        with StubServer("silent") as server:
            result = self.interrupt(server.url, "complete",
                                    lambda lines: server.request_seen.is_set())
            self.assert_interrupted(*result)
            self.assertTrue(server.closed.wait(PROMPT_S))

    def test_ctrl_c_under_asyncio_run(self):
        # asyncio.run() turns SIGINT into the cancellation of its task, which cancels the
        # C call; then it raises KeyboardInterrupt.
        with StubServer("silent") as server:
            result = self.interrupt(server.url, "asyncio",
                                    lambda lines: server.request_seen.is_set())
            self.assert_interrupted(*result, context=False)
            self.assertTrue(server.closed.wait(PROMPT_S))

    def test_ctrl_c_during_a_round(self):
        # Both members stall after their first piece: the round is in flight once both
        # pieces arrived.
        with StubServer("stall") as server:
            result = self.interrupt(server.url, "compare", lambda lines: {
                "piece: 0 " + FIRST_PIECE, "piece: 1 " + FIRST_PIECE} <= set(lines))
            self.assert_interrupted(*result)
            deadline = time.monotonic() + PROMPT_S
            while len(server.closes) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(len(server.closes), 2)  # both members' transfers dropped

    @unittest.skipUnless(os.environ.get("ULM_TEST_DMR_LIFECYCLE_URL"),
                         "set ULM_TEST_DMR_LIFECYCLE_URL to tests/servers/lib.sh's "
                         "lifecycle emulator")
    def test_ctrl_c_during_a_pull(self):
        # ai/stalls reports one step of its pull, then sends nothing more.
        self.assert_interrupted(*self.interrupt(
            os.environ["ULM_TEST_DMR_LIFECYCLE_URL"], "pull",
            lambda lines: any(line.startswith("piece: ") for line in lines)))

    @unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL"),
                         "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs")
    def test_ctrl_c_against_the_fault_server(self):
        root = os.environ["ULM_TEST_FAULT_URL"].rstrip("/")
        # A delay of its own, so that the fault server's count of its requests says when
        # this call is in flight.
        delay = "delay-first-byte/%d" % random.randrange(200000, 900000)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def in_flight(lines):
            with opener.open(root + "/_stats", timeout=PROMPT_S) as answer:
                return json.load(answer)["requests"].get(delay, 0) > 0

        self.assert_interrupted(*self.interrupt("%s/%s/v1" % (root, delay), "complete",
                                                in_flight))
        self.assert_interrupted(*self.interrupt(
            root + "/stall-mid/120000/v1", "stream", lambda lines: "piece: , world!" in lines))


@unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL"),
                     "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs to run the "
                     "fault server's cancellation tests")
class FaultServerCancelTests(unittest.TestCase):
    # fault-server.mjs's scenarios, each stalling for STALL_MS.
    STALL_MS = 120000

    def client_for(self, scenario):
        base = "%s/%s/v1" % (os.environ["ULM_TEST_FAULT_URL"].rstrip("/"), scenario)
        client = openai_client(base)
        self.addCleanup(client.close)
        return client

    def test_cancel_during_a_stall_mid_stream(self):
        client = self.client_for("stall-mid/%d" % self.STALL_MS)
        token = ultrallm.CancelToken()
        pieces = []
        call = Outcome(client.complete, "hi", model="openai/fault-model", timeouts=LONG,
                       on_delta=pieces.append, cancel=token)
        deadline = time.monotonic() + PROMPT_S
        while "".join(pieces) != "Hello, world!" and time.monotonic() < deadline:
            time.sleep(0.01)
        cancelled_at = time.monotonic()
        token.cancel()
        error = call.wait(self).error
        self.assertIsInstance(error, ultrallm.CancelledError)
        self.assertLess(call.ended - cancelled_at, PROMPT_S)
        self.assertTrue(error.incomplete)
        self.assertEqual(error.text, "Hello, world!")
        self.assertEqual("".join(pieces), error.text)

    def test_cancel_while_the_server_delays_its_first_byte(self):
        client = self.client_for("delay-first-byte/%d" % self.STALL_MS)
        token = ultrallm.CancelToken()
        call = Outcome(client.complete, "hi", model="openai/fault-model", timeouts=LONG,
                       cancel=token)
        time.sleep(0.2)  # usually in flight by now; cancelled before it is, it ends too
        cancelled_at = time.monotonic()
        token.cancel()
        error = call.wait(self).error
        self.assertIsInstance(error, ultrallm.CancelledError)
        self.assertLess(call.ended - cancelled_at, PROMPT_S)
        self.assertFalse(error.incomplete)


if __name__ == "__main__":
    unittest.main()
