"""Tests of Client.compare() and AsyncClient.compare(): many models at once (ulm_round_run).

ArgumentTests need no server; StubRoundTests use loopback.StubServer, a stub OpenAI server
of their own that never answers or stalls after one piece. FaultServerRoundTests need
ULM_TEST_FAULT_URL, the root URL of tests/servers/fault-server.mjs; SynthesisTests need it
and ULM_TEST_DMR_URL, a Docker Model Runner (or its emulator) serving ai/stories260k
(tests/run.sh sets both).

No bound here depends on the machine's speed: a member that stalls would stall for
minutes, far longer than any bound asserted.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_compare.py -v
"""

import asyncio
import os
import threading
import time
import unittest

import ultrallm
from loopback import FIRST_PIECE, StubServer

KEY = "sk-test-0123456789"
DEAD_URL = "http://127.0.0.1:1"  # port 1 refuses connections at once
# What fault-server.mjs always answers, in these deltas.
DELTAS = ["Hello", ", world!", " Ünïcödé", " 🙂", " done."]
TEXT = "".join(DELTAS)
# The fault server's stall, and how soon a round must end that does not wait for it.
STALL_MS = 120000
PROMPT_S = 20.0
LONG = {"connect": 60000, "first_token": 120000, "idle": 120000, "overall": 120000}


def offline_client(**options):
    options.setdefault("model_runner_url", DEAD_URL)
    return ultrallm.Client(ignore_environment=True, **options)


class Outcome:
    """What a call made on another thread returned or raised."""

    def __init__(self, function, *args, **kwargs):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(function, args, kwargs))
        self.thread.start()

    def _run(self, function, args, kwargs):
        try:
            self.result = function(*args, **kwargs)
        except BaseException as e:  # noqa: B036  (inspected by the test)
            self.error = e

    def wait(self, test, timeout=PROMPT_S):
        self.thread.join(timeout)
        test.assertFalse(self.thread.is_alive(), "the call did not end in %.0f s" % timeout)
        return self


class ArgumentTests(unittest.TestCase):
    """Bad rounds are refused before anything is sent."""

    def setUp(self):
        self.client = offline_client()
        self.addCleanup(self.client.close)

    def test_members_are_checked(self):
        with self.assertRaises(TypeError):
            self.client.compare("hi", models="dmr/ai/x")  # one str is not a list of members
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.compare("hi", models=[])
        self.assertIn("no member", str(caught.exception))
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.compare("hi", models=["dmr/ai/x"] * 65)
        self.assertIn("more than 64", str(caught.exception))
        with self.assertRaises(TypeError):
            self.client.compare("hi", models=["dmr/ai/x", 7])
        with self.assertRaises(TypeError):
            self.client.compare("hi", model="dmr/ai/x")  # members are models=

    def test_options_are_checked(self):
        models = ["dmr/ai/x", "dmr/ai/y"]
        for options in ({"quorum": 0}, {"quorum": 3}, {"timeout_ms": 0},
                        {"synthesis_share_pct": 91}, {"synthesis_share_pct": 0},
                        {"answer_budget_bytes": 0}, {"shuffle_seed": -1}):
            with self.assertRaises(ultrallm.InvalidArgumentError, msg=options):
                self.client.compare("hi", models=models, **options)
        for options in ({"quorum": "1"}, {"on_delta": 1}, {"on_member_done": "x"},
                        {"on_member_state": 2},
                        {"on_synthesis_delta": 2}, {"cancel": object()}):
            with self.assertRaises(TypeError, msg=options):
                self.client.compare("hi", models=models, **options)

    def test_the_library_refuses_a_bad_template_with_the_round(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.compare("hi", models=["dmr/ai/x"], synthesize="dmr/ai/x",
                                synthesis_template="Combine {answers} for {the question}")
        self.assertIn("{the question}", str(caught.exception))
        self.assertEqual(caught.exception.round.members, [])  # nothing was sent

    def test_a_round_without_a_prompt_is_refused(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.compare(models=["dmr/ai/x"], messages=[("user", "")])
        self.assertIn("no prompt", str(caught.exception))

    def test_members_that_do_not_resolve_fail_alone(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.compare("hi", models=["nosuch/model", "other/model"])
        self.assertIn("no member answered", str(caught.exception))
        members = caught.exception.round.members
        self.assertEqual([(m.spec, m.ok, m.error.name) for m in members],
                         [("nosuch/model", False, "invalid_argument"),
                          ("other/model", False, "invalid_argument")])
        self.assertEqual([m.error.attempts for m in members], [[], []])


class StubRoundTests(unittest.TestCase):
    """Cancellation of a whole round, against members that never answer."""

    def client_for(self, server):
        client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                 openai_base_url=server.url, openai_api_key=KEY)
        self.addCleanup(client.close)
        return client

    def assert_cancelled_round(self, error, members=2):
        self.assertIsInstance(error, ultrallm.CancelledError)
        self.assertEqual(len(error.round.members), members)
        for member in error.round.members:
            self.assertIsInstance(member.error, ultrallm.CancelledError)

    def test_a_cancel_token_ends_the_round(self):
        with StubServer("silent") as server:
            client = self.client_for(server)
            token = ultrallm.CancelToken()
            call = Outcome(client.compare, "hi", models=["openai/a", "openai/b"],
                           timeouts=LONG, cancel=token)
            deadline = time.monotonic() + PROMPT_S
            while server.requests < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            token.cancel()
            self.assert_cancelled_round(call.wait(self).error)
            self.assertTrue(server.closed.wait(PROMPT_S))  # the transfers were dropped

    def test_an_exception_in_on_delta_stops_the_round_and_is_raised(self):
        class Stop(Exception):
            pass

        def on_delta(member, text):
            raise Stop(member, text)

        with StubServer("stall") as server:
            client = self.client_for(server)
            started = time.monotonic()
            with self.assertRaises(Stop) as caught:
                client.compare("hi", models=["openai/a", "openai/b"], timeouts=LONG,
                               on_delta=on_delta)
            self.assertLess(time.monotonic() - started, PROMPT_S)
            self.assertIn(caught.exception.args, [(0, FIRST_PIECE), (1, FIRST_PIECE)])
            context = caught.exception.__context__
            self.assertIsInstance(context, ultrallm.CancelledError)
            self.assertEqual(len(context.round.members), 2)

    def test_on_another_thread_the_callables_run_there(self):
        threads = set()

        def on_delta(member, text):
            threads.add(threading.current_thread())
            raise KeyError(text)

        with StubServer("stall") as server:
            client = self.client_for(server)
            call = Outcome(client.compare, "hi", models=["openai/a"], timeouts=LONG,
                           on_delta=on_delta).wait(self)
            self.assertIsInstance(call.error, KeyError)
            self.assertEqual(threads, {call.thread})
            self.assertIsInstance(call.error.__context__, ultrallm.CancelledError)

    def test_cancelling_the_task_cancels_the_round(self):
        async def main(url):
            async with ultrallm.AsyncClient(ignore_environment=True, enable_model_runner=False,
                                            openai_base_url=url, openai_api_key=KEY) as client:
                task = asyncio.ensure_future(client.compare(
                    "hi", models=["openai/a", "openai/b"], timeouts=LONG))
                while server.requests < 2:
                    await asyncio.sleep(0.01)
                started = time.monotonic()
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                return time.monotonic() - started

        with StubServer("silent") as server:
            took = asyncio.run(asyncio.wait_for(main(server.url), PROMPT_S * 2))
            self.assertLess(took, PROMPT_S)
            self.assertTrue(server.closed.wait(PROMPT_S))


def round_config(root, **extra):
    """A configuration whose backends are scenarios of the fault server: fast answers at
    once, stalled sends nothing for STALL_MS, streaming streams its deltas 40 ms apart;
    down refuses connections. A member that cannot connect fails as it is, not served
    offline, and is not retried."""
    config = {"backends": {
        "fast": {"type": "openai", "url": root + "/ok/0/v1"},
        "stalled": {"type": "openai", "url": "%s/delay-first-byte/%d/v1" % (root, STALL_MS)},
        "streaming": {"type": "openai", "url": root + "/slow/40/v1"},
        "down": {"type": "openai", "url": DEAD_URL}},
        "retry": {"max_retries": 0}, "offline": {"use_local_models": False}}
    config.update(extra)
    return config


# The keys of round_config()'s backends, given as backend settings: the environment is
# ignored, and a configuration never holds a key.
ROUND_KEYS = {name: {"api_key": KEY} for name in ("fast", "stalled", "streaming", "down")}


@unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL"),
                     "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs to run the "
                     "round tests")
class FaultServerRoundTests(unittest.TestCase):
    def setUp(self):
        self.root = os.environ["ULM_TEST_FAULT_URL"].rstrip("/")
        self.client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                      config_json=round_config(self.root),
                                      backend_settings=ROUND_KEYS)
        self.addCleanup(self.client.close)

    def test_three_members_one_down_quorum_one(self):
        deltas = {}
        done = []
        started = time.monotonic()
        result = self.client.compare(
            "Once upon a time", models=["fast/m", "stalled/m", "down/m"], quorum=1,
            timeouts=LONG, on_delta=lambda i, text: deltas.setdefault(i, []).append(text),
            on_member_done=done.append)
        self.assertLess(time.monotonic() - started, PROMPT_S)  # not the stall's minutes
        self.assertIsInstance(result, ultrallm.Round)
        fast, stalled, down = result.members
        self.assertEqual([m.spec for m in result.members], ["fast/m", "stalled/m", "down/m"])
        self.assertEqual([m.index for m in result.members], [0, 1, 2])
        self.assertTrue(fast.ok)
        self.assertEqual(fast.text, TEXT)
        self.assertEqual((fast.response.provider, fast.response.model), ("fast", "fault-model"))
        self.assertIsInstance(stalled.error, ultrallm.CancelledError)  # by the quorum
        self.assertIsNone(stalled.response)
        self.assertIsInstance(down.error, ultrallm.ConnectError)
        self.assertEqual([a.error for a in down.error.attempts], ["connect"])
        # member 0 streamed through on_delta, the others sent nothing
        self.assertEqual(deltas, {0: DELTAS})
        # on_member_done was told of the members that ended before the quorum, in order
        self.assertIn(0, [m.index for m in done])
        self.assertTrue(all(isinstance(m, ultrallm.Member) for m in done))
        self.assertEqual([m.index for m in done], result.finish_order[:len(done)])
        self.assertEqual(sorted(result.finish_order), [0, 1, 2])
        self.assertEqual(result.finish_order[-1], 1)  # the stalled member ended last
        self.assertEqual(result.agreement, [[1.0, None, None], [None, None, None],
                                            [None, None, None]])
        self.assertEqual(result.dissenters, [])
        self.assertEqual([m.index for m in result.answered], [0])
        self.assertEqual(result.responses, [fast.response])
        self.assertIsNone(result.synthesis)
        self.assertIsNone(result.cost)  # no price configured
        self.assertGreaterEqual(result.latency_ms, fast.response.latency_ms)
        self.assertIn("fast/m: ok", repr(result))

    def test_on_member_done_ends_the_round(self):
        told = []

        def first_answer_ends_it(member):
            told.append(member.index)
            return member.ok

        result = self.client.compare("hi", models=["fast/m", "stalled/a", "stalled/b"],
                                     timeouts=LONG, on_member_done=first_answer_ends_it)
        self.assertEqual(told, [0])  # the others ended as cancelled, untold
        self.assertEqual([m.error.name for m in result.members[1:]], ["cancelled"] * 2)

    def test_a_deadline_raises_with_what_arrived_unless_it_is_taken(self):
        models = ["fast/m", "stalled/m"]
        with self.assertRaises(ultrallm.RequestTimeoutError) as caught:
            self.client.compare("hi", models=models, timeout_ms=800)
        self.assertIs(type(caught.exception), ultrallm.RequestTimeoutError)
        self.assertIn("deadline", str(caught.exception))
        partial = caught.exception.round
        self.assertEqual(partial.members[0].text, TEXT)
        self.assertIsInstance(partial.members[1].error, ultrallm.RequestTimeoutError)
        result = self.client.compare("hi", models=models, timeout_ms=800,
                                     take_what_arrived=True)
        self.assertTrue(result.members[0].ok)
        self.assertFalse(result.members[1].ok)

    def test_members_tell_what_they_wait_for(self):
        # "loading" is a Docker Model Runner whose list of runners says the model is
        # loading, and whose answer begins after 600 ms: the member is told LOADING (from
        # the list), then ANSWERING; a cloud member is told only ANSWERING
        config = round_config(self.root)
        config["backends"]["loading"] = {"type": "dmr",
                                         "url": self.root + "/delay-first-byte/600/loading"}
        with ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             config_json=config, backend_settings=ROUND_KEYS) as client:
            for on_worker in (True, False):  # the main thread's path, and another thread's
                told = []
                kwargs = dict(models=["loading/ai/fault-model", "fast/m"], timeouts=LONG,
                              on_delta=lambda i, text: None,
                              on_member_state=lambda i, state: told.append((i, state)))
                if on_worker:
                    result = client.compare("hi", **kwargs)
                else:
                    box = []
                    thread = threading.Thread(
                        target=lambda: box.append(client.compare("hi", **kwargs)))
                    thread.start()
                    thread.join()
                    result = box[0]
                self.assertTrue(all(m.ok for m in result.members), result)
                self.assertEqual([state for i, state in told if i == 0],
                                 [ultrallm.MemberState.LOADING, ultrallm.MemberState.ANSWERING])
                self.assertEqual([state for i, state in told if i == 1],
                                 [ultrallm.MemberState.ANSWERING])
                self.assertTrue(all(isinstance(state, ultrallm.MemberState)
                                    for _, state in told))

    def test_a_raising_on_member_state_cancels_the_round(self):
        def refuse(member, state):
            raise KeyError("no states")

        with self.assertRaises(KeyError):
            self.client.compare("hi", models=["streaming/a", "stalled/b"], timeouts=LONG,
                                on_delta=lambda i, text: None, on_member_state=refuse)

    def test_streaming_members_interleave(self):
        events = []
        result = self.client.compare("hi", models=["streaming/a", "streaming/b"],
                                     on_delta=lambda i, text: events.append((i, text)))
        for i in (0, 1):
            self.assertEqual("".join(text for j, text in events if j == i),
                             result.members[i].text)
            self.assertGreater(result.members[i].response.first_token_ms, 0)
        switches = sum(1 for a, b in zip(events, events[1:]) if a[0] != b[0])
        self.assertGreaterEqual(switches, 2, events)
        self.assertEqual(result.agreement[0][1], 1.0)  # the same text

    def test_a_member_is_a_fallback_chain(self):
        result = self.client.compare("hi", models=[["down/x", "fast/m"], "down/y,fast/n"])
        for member in result.members:
            self.assertTrue(member.ok)
            self.assertEqual(member.response.retries, 1)
            self.assertEqual([a.error for a in member.response.attempts], ["connect", None])
        self.assertEqual([m.spec for m in result.members], ["down/x,fast/m", "down/y,fast/n"])

    def test_the_round_costs_what_its_answers_cost(self):
        price = {"price": {"input_per_million": 2, "output_per_million": 10}}
        with ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             config_json=round_config(self.root, models={"fast/m": price}),
                             backend_settings=ROUND_KEYS) as client:
            result = client.compare("hi", models=["fast/m", "fast/m"])
            one = (7 * 2 + 5 * 10) / 1e6  # the fault server's usage: 7 and 5 tokens
            self.assertEqual([m.response.cost for m in result.members], [one, one])
            self.assertAlmostEqual(result.cost, 2 * one)
            self.assertIsNone(client.compare("hi", models=["fast/m", "fast/x"]).cost)

    def test_a_failed_synthesis_raises_and_keeps_the_answers(self):
        with self.assertRaises(ultrallm.ConnectError) as caught:
            self.client.compare("hi", models=["fast/a", "fast/b"], synthesize="down/s")
        self.assertIn("synthesis: down", str(caught.exception))
        partial = caught.exception.round
        self.assertEqual([m.text for m in partial.members], [TEXT, TEXT])
        self.assertIsNone(partial.synthesis)
        self.assertIsInstance(partial.synthesis_error, ultrallm.ConnectError)
        self.assertEqual(partial.agreement[0][1], 1.0)

    def test_on_another_thread(self):
        deltas = []
        call = Outcome(self.client.compare, "hi", models=["fast/m", "down/m"],
                       on_delta=lambda i, text: deltas.append((i, text))).wait(self)
        self.assertIsNone(call.error)
        self.assertEqual(call.result.members[0].text, TEXT)
        self.assertEqual([text for _, text in deltas], DELTAS)

    def test_async_compare_runs_the_callables_on_the_loop(self):
        async def main():
            async with ultrallm.AsyncClient(ignore_environment=True, enable_model_runner=False,
                                            config_json=round_config(self.root),
                                            backend_settings=ROUND_KEYS) as client:
                loop_thread = threading.current_thread()
                seen = set()

                def on_delta(i, text):
                    seen.add(threading.current_thread() is loop_thread)

                def on_member_done(member):
                    seen.add(threading.current_thread() is loop_thread)

                result = await client.compare("hi", models=["streaming/a", "fast/b", "down/c"],
                                              on_delta=on_delta, on_member_done=on_member_done)
                return result, seen

        result, seen = asyncio.run(main())
        self.assertEqual(seen, {True})
        self.assertEqual([m.ok for m in result.members], [True, True, False])


@unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL") and os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_FAULT_URL and ULM_TEST_DMR_URL to run the synthesis tests")
class SynthesisTests(unittest.TestCase):
    LOCAL = "dmr/ai/stories260k"

    def test_the_local_model_combines_the_answers(self):
        root = os.environ["ULM_TEST_FAULT_URL"].rstrip("/")
        with ultrallm.Client(ignore_environment=True,
                             model_runner_url=os.environ["ULM_TEST_DMR_URL"],
                             config_json=round_config(root),
                             backend_settings=ROUND_KEYS) as client:
            pieces = []
            result = client.compare("Once upon a time", models=[self.LOCAL, "fast/m", "down/m"],
                                    max_tokens=16, synthesize=self.LOCAL, anonymize=True,
                                    shuffle_seed=7, answer_budget_bytes=10,
                                    synthesis_share_pct=50, on_synthesis_delta=pieces.append)
        self.assertEqual([m.ok for m in result.members], [True, True, False])
        synthesis = result.synthesis
        self.assertIsNotNone(synthesis)
        self.assertEqual(synthesis.provider, "dmr")
        self.assertTrue(synthesis.text)
        self.assertEqual("".join(pieces), synthesis.text)  # the synthesis streamed
        self.assertIsNone(result.synthesis_error)
        # the two answers are labelled A and B in some order; the failed one is left out
        self.assertEqual(sorted(result.labels[:2]), ["Answer A", "Answer B"])
        self.assertEqual(result.labels[2], "")
        self.assertEqual(result.truncated, [True, True, False])  # every answer > 10 bytes
        self.assertIsNotNone(result.agreement[0][1])
        self.assertGreaterEqual(result.latency_ms, synthesis.latency_ms)


if __name__ == "__main__":
    unittest.main()
