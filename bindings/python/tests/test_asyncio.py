"""Tests of AsyncClient: its coroutines and async streams, the event loop never blocked,
and task cancellation, which must cancel the C call rather than leave a thread running.

AsyncCancelTests use loopback.StubServer (no variable needed); LocalAsyncTests need
ULM_TEST_DMR_URL, the DMR emulator serving ai/stories260k (tests/run.sh sets it).

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_asyncio.py -v
"""

import asyncio
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


async def wait_for(test, condition, what, timeout=PROMPT_S):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            test.fail("%s: not within %.0f s" % (what, timeout))
        await asyncio.sleep(0.01)


async def settle(test, tasks):
    """Waits for the tasks to end, and fails if they do not within PROMPT_S (without
    cancelling them: a task that ignored its cancellation would hang in that)."""
    _, pending = await asyncio.wait(tasks, timeout=PROMPT_S)
    test.assertFalse(pending, "not ended within %.0f s" % PROMPT_S)


class AsyncCancelTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.servers = {}

    def client(self, mode):
        server = StubServer(mode)
        self.addCleanup(server.stop)
        client = ultrallm.AsyncClient(ignore_environment=True, enable_model_runner=False,
                                      openai_base_url=server.url, openai_api_key=KEY)
        self.addCleanup(client.close)
        return client, server

    async def assert_no_worker_left(self, client):
        client.close()
        await wait_for(self, lambda: not workers(), "the workers end once the client is closed")

    async def test_cancelling_the_task_cancels_the_call(self):
        client, server = self.client("silent")
        task = asyncio.ensure_future(client.complete("hi", model="openai/stub-model",
                                                     timeouts=LONG))
        await wait_for(self, server.request_seen.is_set, "the request reaches the server")
        task.cancel()
        await settle(self, [task])
        self.assertTrue(task.cancelled())
        # The task ended once the C call had: the transfer is already dropped.
        await wait_for(self, server.closed.is_set, "the server sees the connection closed")
        await self.assert_no_worker_left(client)

    async def test_a_timeout_cancels_the_call(self):
        client, server = self.client("silent")
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(client.complete("hi", model="openai/stub-model",
                                                   timeouts=LONG), 0.5)
        await wait_for(self, server.closed.is_set, "the server sees the connection closed")

    async def test_the_loop_runs_while_a_call_waits(self):
        client, server = self.client("silent")
        task = asyncio.ensure_future(client.complete("hi", model="openai/stub-model",
                                                     timeouts=LONG))
        await wait_for(self, server.request_seen.is_set, "the request reaches the server")
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1
        self.assertEqual(ticks, 10)
        self.assertFalse(task.done())
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task

    async def test_a_cancel_token_from_another_thread(self):
        client, server = self.client("silent")
        token = ultrallm.CancelToken()
        task = asyncio.ensure_future(client.complete("hi", model="openai/stub-model",
                                                     timeouts=LONG, cancel=token))
        await wait_for(self, server.request_seen.is_set, "the request reaches the server")
        threading.Thread(target=token.cancel).start()
        with self.assertRaises(ultrallm.CancelledError) as caught:
            await asyncio.wait_for(task, PROMPT_S)
        self.assertEqual([a.error for a in caught.exception.attempts], ["cancelled"])

    async def test_cancelling_the_task_iterating_a_stream(self):
        client, server = self.client("stall")
        pieces = []

        async def consume(stream):
            async for piece in stream:
                pieces.append(piece)

        stream = client.stream("hi", model="openai/stub-model", timeouts=LONG)
        task = asyncio.ensure_future(consume(stream))
        await wait_for(self, lambda: pieces, "the first piece")
        self.assertEqual(pieces, [FIRST_PIECE])
        task.cancel()
        await settle(self, [task])
        self.assertTrue(task.cancelled())
        self.assertTrue(stream.closed)
        self.assertIn("closed", repr(stream))
        with self.assertRaisesRegex(ValueError, "closed before its end"):
            stream.response
        await wait_for(self, server.closed.is_set, "the server sees the connection closed")
        await self.assert_no_worker_left(client)

    async def test_breaking_out_of_an_async_for_cancels_the_call(self):
        client, server = self.client("stall")
        async for piece in client.stream("hi", model="openai/stub-model", timeouts=LONG):
            self.assertEqual(piece, FIRST_PIECE)
            break
        await wait_for(self, server.closed.is_set, "the server sees the connection closed")
        await self.assert_no_worker_left(client)

    async def test_async_with_closes_the_stream(self):
        client, server = self.client("stall")
        async with client.stream("hi", model="openai/stub-model", timeouts=LONG) as stream:
            self.assertEqual(await stream.__anext__(), FIRST_PIECE)
        self.assertTrue(stream.closed)
        await wait_for(self, server.closed.is_set, "the server sees the connection closed")
        self.assertEqual([piece async for piece in stream], [])
        await stream.aclose()  # idempotent

    async def test_bad_arguments_raise_before_anything_is_sent(self):
        client, server = self.client("silent")
        with self.assertRaises(ultrallm.InvalidArgumentError):
            await client.complete("hi", model="openai/stub-model", temperature=-1)
        with self.assertRaises(TypeError):
            client.stream("hi", model="openai/stub-model", cancel="no")
        self.assertEqual(server.requests, 0)
        self.assertEqual(workers(), [])

    def test_stream_needs_a_running_loop(self):
        client, server = self.client("silent")
        with self.assertRaises(RuntimeError):
            client.stream("hi", model="openai/stub-model")
        self.assertEqual(server.requests, 0)


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_DMR_URL to a Docker Model Runner (or tests/servers/"
                     "dmr-server.mjs) serving ai/stories260k to run the asyncio tests")
class LocalAsyncTests(unittest.IsolatedAsyncioTestCase):
    MODEL = "dmr/ai/stories260k"

    def client(self):
        client = ultrallm.AsyncClient(ignore_environment=True,
                                      model_runner_url=os.environ["ULM_TEST_DMR_URL"])
        self.addCleanup(client.close)
        return client

    def in_flight(self, client):
        """The client's requests in flight to the local model (describe())."""
        dmr = [b for b in client.describe()["backends"] if b["name"] == "dmr"][0]
        return sum(endpoint["in_flight"] for endpoint in dmr["endpoints"])

    async def test_fifty_concurrent_calls_half_cancelled_once_started(self):
        # The threads of the test process, not counting the workers that earlier tests'
        # clients may still be ending.
        threads = threading.active_count() - len(workers())
        async with self.client() as client:
            # 25 answers that would run until the model's context is full (seconds each;
            # the emulator generates two at a time), all in flight before 25 short ones.
            long = [asyncio.ensure_future(client.complete(
                "Once upon a time", model=self.MODEL, max_tokens=100000)) for _ in range(25)]
            await wait_for(self, lambda: self.in_flight(client) == 25,
                           "25 long calls in flight")
            short = [asyncio.ensure_future(client.complete(
                "Once upon a time", model=self.MODEL, max_tokens=4)) for _ in range(25)]
            # The short ones wait behind the long ones at the emulator.
            await wait_for(self, lambda: self.in_flight(client) == 50,
                           "all 50 calls in flight")
            for task in long:
                self.assertTrue(task.cancel())
            # Each task ends once its C call has: promptly, far sooner than the long
            # answers (25 of some seconds each, two at a time) would take.
            await settle(self, long)
            self.assertTrue(all(task.cancelled() for task in long))
            responses = await asyncio.wait_for(asyncio.gather(*short), PROMPT_S)
            for response in responses:
                self.assertTrue(response.text)
                self.assertEqual(response.usage.completion_tokens, 4)
            self.assertEqual(self.in_flight(client), 0)
        await wait_for(self, lambda: not workers() and threading.active_count() <= threads,
                       "no thread left running")

    async def test_complete_stream_and_models(self):
        async with self.client() as client:
            response = await client.complete("Once upon a time", model=self.MODEL,
                                             max_tokens=16, temperature=0)
            self.assertTrue(response.text)
            self.assertEqual([(a.provider, a.ok) for a in response.attempts], [("dmr", True)])
            pieces = []
            async with client.stream("Once upon a time", model=self.MODEL, max_tokens=16,
                                     temperature=0) as stream:
                async for piece in stream:
                    pieces.append(piece)
            self.assertEqual("".join(pieces), stream.response.text)
            self.assertEqual(stream.response.text, response.text)  # greedy: the same text
            self.assertIn("ended", repr(stream))
            listing = await client.models()
            self.assertIn(("dmr", "ai/stories260k:latest"), listing.models)
            self.assertTrue(client.default_model)
            self.assertIn("backends", client.describe())
            self.assertIn("AsyncClient open", repr(client))
        self.assertIn("AsyncClient closed", repr(client))

    async def test_a_failure_raises_from_the_await_and_the_iteration(self):
        async with self.client() as client:
            with self.assertRaises(ultrallm.ModelNotFoundError) as caught:
                await client.complete("hi", model="dmr/ai/no-such-model")
            self.assertEqual([a.error for a in caught.exception.attempts],
                             ["model_not_found"])
            stream = client.stream("hi", model="dmr/ai/no-such-model")
            with self.assertRaises(ultrallm.ModelNotFoundError):
                async for _ in stream:
                    pass
            self.assertIn("failed", repr(stream))

    async def test_concurrent_streams(self):
        async with self.client() as client:
            async def one():
                async with client.stream("Once upon a time", model=self.MODEL,
                                         max_tokens=8) as stream:
                    text = "".join([piece async for piece in stream])
                return text, stream.response.text

            for text, response_text in await asyncio.gather(*(one() for _ in range(10))):
                self.assertTrue(text)
                self.assertEqual(text, response_text)


if __name__ == "__main__":
    unittest.main()
