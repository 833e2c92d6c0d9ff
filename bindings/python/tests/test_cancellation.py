"""Tests of cancellation: CancelToken from another thread.

Most tests use loopback.StubServer, a stub OpenAI server of their own on 127.0.0.1 that
never answers or stalls after one piece, and sees the client close its connection. The
FaultServer* tests need ULM_TEST_FAULT_URL, the root URL of tests/servers/fault-server.mjs
(tests/run.sh sets it).

No bound here depends on the machine's speed: a cancelled call must end well before the
server's stall (minutes) or the call's own clocks would end it.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_cancellation.py -v
"""

import os
import threading
import time
import unittest

import ultrallm
from loopback import FIRST_PIECE, StubServer

# The clocks of every call here: long enough that only a cancellation ends the call.
LONG = {"connect": 60000, "first_token": 120000, "idle": 120000, "overall": 120000}
# How soon a cancelled call must have ended: far less than LONG, far more than the
# milliseconds it takes.
PROMPT_S = 20.0
KEY = "sk-test-0123456789"


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
