"""Tests of Client.stream(), the iterator over a streamed answer: its pieces and response,
its errors, and the cancellation of its call when the loop is left early.

StreamCancelTests use loopback.StubServer (no variable needed); the others need
ULM_TEST_DMR_URL (the DMR emulator serving ai/stories260k) or ULM_TEST_FAULT_URL
(tests/servers/fault-server.mjs), as tests/run.sh sets them.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_stream.py -v
"""

import gc
import os
import threading
import time
import unittest

import ultrallm
from loopback import FIRST_PIECE, StubServer

LONG = {"connect": 60000, "first_token": 120000, "idle": 120000, "overall": 120000}
PROMPT_S = 20.0  # far more than a cancelled call takes, far less than LONG
KEY = "sk-test-0123456789"


def workers():
    """The package's worker threads alive now."""
    return [t for t in threading.enumerate() if t.name == "ultrallm-worker"]


def wait_for(test, condition, what, timeout=PROMPT_S):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            test.fail("%s: not within %.0f s" % (what, timeout))
        time.sleep(0.01)


class StreamCancelTests(unittest.TestCase):
    def setUp(self):
        self.server = StubServer("stall")
        self.addCleanup(self.server.stop)
        self.client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                      openai_base_url=self.server.url, openai_api_key=KEY)
        self.addCleanup(self.client.close)

    def stream(self, **kwargs):
        return self.client.stream("hi", model="openai/stub-model", timeouts=LONG, **kwargs)

    def assert_no_worker_left(self):
        self.client.close()
        wait_for(self, lambda: not workers(), "the workers end once the client is closed")

    def test_breaking_out_of_the_loop_cancels_the_call(self):
        pieces = []
        start = time.monotonic()
        for piece in self.stream():
            pieces.append(piece)
            break
        self.assertEqual(pieces, [FIRST_PIECE])
        # The transfer is dropped (the server sees its connection closed), long before
        # any clock of the call would end it.
        self.assertTrue(self.server.closed.wait(PROMPT_S))
        self.assertLess(time.monotonic() - start, PROMPT_S)
        self.assert_no_worker_left()

    def test_close_cancels_and_waits_for_the_end(self):
        stream = self.stream()
        self.assertEqual(next(stream), FIRST_PIECE)
        self.assertFalse(stream.closed)
        self.assertIn("open", repr(stream))
        stream.close()
        self.assertTrue(stream.closed)
        self.assertIn("closed", repr(stream))
        self.assertTrue(self.server.closed.wait(PROMPT_S))
        with self.assertRaisesRegex(ValueError, "closed before its end"):
            stream.response
        self.assertEqual(list(stream), [])  # a closed stream yields nothing more
        stream.close()  # idempotent
        self.assert_no_worker_left()

    def test_leaving_the_with_block_cancels_the_call(self):
        with self.stream() as stream:
            self.assertEqual(next(stream), FIRST_PIECE)
        self.assertTrue(stream.closed)
        self.assertTrue(self.server.closed.wait(PROMPT_S))

    def test_dropping_the_stream_cancels_the_call(self):
        stream = self.stream()
        self.assertEqual(next(stream), FIRST_PIECE)
        del stream
        gc.collect()
        self.assertTrue(self.server.closed.wait(PROMPT_S))
        self.assert_no_worker_left()

    def test_a_stream_closed_before_its_first_piece(self):
        stream = self.stream()
        self.assertTrue(self.server.request_seen.wait(PROMPT_S))
        stream.close()
        self.assertTrue(self.server.closed.wait(PROMPT_S))
        self.assertEqual(list(stream), [])

    def test_a_cancel_token_from_another_thread_ends_the_iteration(self):
        token = ultrallm.CancelToken()
        stream = self.stream(cancel=token)
        self.assertEqual(next(stream), FIRST_PIECE)
        threading.Timer(0.05, token.cancel).start()
        start = time.monotonic()
        with self.assertRaises(ultrallm.CancelledError) as caught:
            next(stream)
        self.assertLess(time.monotonic() - start, PROMPT_S)
        self.assertTrue(caught.exception.incomplete)
        self.assertEqual(caught.exception.text, FIRST_PIECE)
        self.assertEqual([a.error for a in caught.exception.attempts], ["cancelled"])
        self.assertTrue(stream.closed)
        self.assertIn("failed", repr(stream))
        with self.assertRaisesRegex(ValueError, "failed"):
            stream.response
        self.assertEqual(list(stream), [])

    def test_many_streams_at_once_each_have_a_worker(self):
        streams = [self.stream() for _ in range(6)]
        for stream in streams:
            self.assertEqual(next(stream), FIRST_PIECE)
        self.assertGreaterEqual(len(workers()), 6)
        for stream in streams:
            stream.close()
        wait_for(self, lambda: len(self.server.closes) == 6, "every connection closed")
        self.assert_no_worker_left()

    def test_bad_arguments_raise_before_anything_is_sent(self):
        # The workers of an earlier test's closed client may still be ending: only a new
        # one would be this test's.
        before = set(workers())
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.stream(max_tokens=0)
        with self.assertRaises(TypeError):
            self.stream(cancel=object())
        self.assertEqual(self.server.requests, 0)
        self.assertLessEqual(set(workers()), before)

    def test_a_closed_client_refuses_streams(self):
        self.client.close()
        with self.assertRaises(ValueError):
            self.stream()
        self.assertEqual(self.server.requests, 0)


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_DMR_URL to a Docker Model Runner (or tests/servers/"
                     "dmr-server.mjs) serving ai/stories260k to run the local stream tests")
class LocalStreamTests(unittest.TestCase):
    MODEL = "dmr/ai/stories260k"

    def setUp(self):
        self.client = ultrallm.Client(ignore_environment=True,
                                      model_runner_url=os.environ["ULM_TEST_DMR_URL"])
        self.addCleanup(self.client.close)

    def test_the_pieces_make_the_response(self):
        with self.client.stream("Once upon a time", model=self.MODEL, max_tokens=16,
                                temperature=0) as stream:
            pieces = list(stream)
        self.assertTrue(pieces)
        self.assertTrue(all(isinstance(piece, str) and piece for piece in pieces))
        response = stream.response
        self.assertEqual("".join(pieces), response.text)
        self.assertIsNone(response.raw_json)
        self.assertIn(response.finish_reason, ("stop", "length"))
        self.assertEqual([(a.provider, a.ok) for a in response.attempts], [("dmr", True)])
        self.assertIn("ended", repr(stream))
        self.assertEqual(list(stream), [])  # ended: nothing more
        # Greedy decoding: the same text as a plain call.
        plain = self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                     temperature=0)
        self.assertEqual(plain.text, response.text)

    def test_the_response_is_there_only_at_the_end(self):
        stream = self.client.stream("Once upon a time", model=self.MODEL, max_tokens=16)
        with self.assertRaisesRegex(ValueError, "iterate it to its end"):
            stream.response
        for _ in stream:
            pass
        self.assertTrue(stream.response.text)

    def test_a_failure_raises_from_the_iteration_with_the_attempts(self):
        stream = self.client.stream("hi", model=["dmr/ai/no-such-model"])
        with self.assertRaises(ultrallm.ModelNotFoundError) as caught:
            next(stream)
        self.assertEqual(caught.exception.http_status, 404)
        self.assertEqual([a.error for a in caught.exception.attempts], ["model_not_found"])
        self.assertFalse(caught.exception.incomplete)

    def test_breaking_out_of_a_long_answer(self):
        # An answer that would run until the model's context is full: leaving the loop
        # stops it, and the client serves the next call at once.
        start = time.monotonic()
        for count, _ in enumerate(self.client.stream("Once upon a time", model=self.MODEL,
                                                     max_tokens=100000)):
            if count == 3:
                break
        again = self.client.complete("Once", model=self.MODEL, max_tokens=4)
        self.assertTrue(again.text)
        self.assertLess(time.monotonic() - start, PROMPT_S)


@unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL"),
                     "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs to run the "
                     "streaming fault tests")
class FaultServerStreamTests(unittest.TestCase):
    def client_for(self, scenario):
        base = "%s/%s/v1" % (os.environ["ULM_TEST_FAULT_URL"].rstrip("/"), scenario)
        client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                 openai_base_url=base, openai_api_key=KEY)
        self.addCleanup(client.close)
        return client

    def test_the_pieces_arrive_whole(self):
        with self.client_for("ok/0").stream("hi", model="openai/fault-model") as stream:
            pieces = list(stream)
        self.assertEqual(pieces, ["Hello", ", world!", " Ünïcödé", " 🙂", " done."])
        self.assertEqual(stream.response.text, "".join(pieces))

    def test_a_stall_raises_after_the_pieces_received(self):
        pieces = []
        stream = self.client_for("stall-mid/3000").stream(
            "hi", model="openai/fault-model", timeouts={"idle": 300})
        with self.assertRaises(ultrallm.IdleTimeoutError) as caught:
            for piece in stream:
                pieces.append(piece)
        self.assertEqual(pieces, ["Hello", ", world!"])
        self.assertTrue(caught.exception.incomplete)
        self.assertEqual(caught.exception.text, "Hello, world!")


if __name__ == "__main__":
    unittest.main()
