"""Tests of Client.dmr and AsyncClient.dmr: a Docker Model Runner's models pulled, listed,
loaded, unloaded and removed (ulm_dmr_pull, ulm_dmr_list, ulm_dmr_ps, ulm_dmr_unload,
ulm_dmr_remove, ulm_dmr_preload).

LifecycleTests need ULM_TEST_DMR_LIFECYCLE_URL, the second DMR emulator tests/run.sh starts
(tests/servers/lib.sh's ulm_start_dmr_lifecycle): ai/stories260k pulled, and a registry of
ai/two-layers (a model and a license), ai/fails-midway (an error line mid-pull),
ai/stalls (stalls after one step), ... to pull. Each test leaves the emulator's store as it
found it: the C lifecycle tests, and this suite's other runs (check-package.sh runs it
once per installed copy), share it. Nothing here depends on the machine's speed: a
stalled pull would stall forever.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_dmr.py -v
"""

import asyncio
import os
import threading
import time
import unittest

import ultrallm

DEAD_URL = "http://127.0.0.1:1"  # port 1 refuses connections at once
PROMPT_S = 20.0  # how soon a cancelled pull must have ended: it would stall forever
LOCAL = "ai/stories260k"


def lifecycle_client(cls=ultrallm.Client):
    return cls(ignore_environment=True,
               model_runner_url=os.environ["ULM_TEST_DMR_LIFECYCLE_URL"])


def pulled(client, tag):
    return any(tag in model.tags for model in client.dmr.models())


class ArgumentTests(unittest.TestCase):
    def test_arguments_are_checked_before_anything_is_sent(self):
        with ultrallm.Client(ignore_environment=True, model_runner_url=DEAD_URL) as client:
            with self.assertRaises(TypeError):
                client.dmr.pull(42)
            with self.assertRaises(TypeError):
                client.dmr.pull("ai/x", on_progress="print")
            with self.assertRaises(TypeError):
                client.dmr.pull("ai/x", cancel=True)
            with self.assertRaises(TypeError):
                client.dmr.ps(backend=1)
            with self.assertRaises(ultrallm.InvalidArgumentError):
                client.dmr.preload("ai/x", context_size=-2)
            with self.assertRaises(TypeError):
                client.dmr.preload("ai/x", keep_alive=600)

    def test_an_unreachable_runner_fails_at_once(self):
        with ultrallm.Client(ignore_environment=True, model_runner_url=DEAD_URL) as client:
            for call in (client.dmr.ps, client.dmr.models, client.dmr.unload,
                         lambda: client.dmr.pull("ai/x")):
                with self.assertRaises(ultrallm.ConnectError) as caught:
                    call()
                self.assertIn("dmr: ", str(caught.exception))

    def test_metrics_of_an_unreachable_runner_say_it_is_down(self):
        with ultrallm.Client(ignore_environment=True, model_runner_url=DEAD_URL) as client:
            self.assertEqual(client.dmr.metrics().splitlines()[-1], 'ulm_dmr_up{backend="dmr"} 0')
            with self.assertRaises(ultrallm.InvalidArgumentError):
                client.dmr.metrics(backend="openai")  # not a Docker Model Runner


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_LIFECYCLE_URL"),
                     "set ULM_TEST_DMR_LIFECYCLE_URL to tests/servers/lib.sh's lifecycle "
                     "emulator (ulm_start_dmr_lifecycle) to run the model lifecycle tests")
class LifecycleTests(unittest.TestCase):
    def setUp(self):
        self.client = lifecycle_client()
        self.addCleanup(self.client.close)

    def remove_if_pulled(self, model):
        if pulled(self.client, model + ":latest"):
            self.client.dmr.remove(model, force=True)

    def test_a_pull_reports_progress_then_is_cached(self):
        model = "ai/two-layers"
        self.remove_if_pulled(model)  # a run that failed midway may have left it
        self.addCleanup(self.remove_if_pulled, model)
        reports = []
        last = self.client.dmr.pull(model, on_progress=reports.append)
        self.assertGreaterEqual(len(reports), 3)  # progress, then the end
        self.assertIsInstance(last, ultrallm.PullProgress)
        self.assertEqual(last, reports[-1])
        self.assertEqual((last.finished, last.cached, last.percent), (True, False, 100.0))
        self.assertEqual(last.model, model)
        self.assertEqual((last.layers, last.layers_done), (2, 2))  # the model, its license
        self.assertGreater(last.total_bytes, 0)
        self.assertEqual(last.done_bytes, last.total_bytes)
        self.assertFalse(any(r.finished for r in reports[:-1]))
        done = [r.done_bytes for r in reports]
        self.assertEqual(done, sorted(done))
        self.assertTrue(pulled(self.client, model + ":latest"))

        again = []
        cached = self.client.dmr.pull(model, on_progress=again.append)
        self.assertEqual(again, [cached])  # only the end: nothing downloaded
        self.assertTrue(cached.finished and cached.cached)

        self.client.dmr.remove(model)
        self.assertFalse(pulled(self.client, model + ":latest"))
        with self.assertRaises(ultrallm.ModelNotFoundError) as caught:
            self.client.dmr.remove(model)
        self.assertIn("404", str(caught.exception))

    def test_pull_failures_have_their_class(self):
        with self.assertRaises(ultrallm.ModelNotFoundError):
            self.client.dmr.pull("ai/no-such-model")
        with self.assertRaises(ultrallm.ServerError) as caught:
            self.client.dmr.pull("ai/fails-midway")
        self.assertIn("dmr: ", str(caught.exception))
        self.assertFalse(pulled(self.client, "ai/fails-midway:latest"))
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.dmr.pull("")
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.dmr.pull("ai/x", backend="nosuch")
        self.assertIn("not a Docker Model Runner backend", str(caught.exception))

    def stalled_pull(self, **options):
        """Pulls ai/stalls, which reports one step and then nothing; returns the reports,
        the exception and how long after the first report the pull ended."""
        reports = []
        first = []

        def on_progress(report):
            reports.append(report)
            if not first:
                first.append(time.monotonic())
                if "then" in options:
                    options["then"]()

        started = time.monotonic()
        call_options = {k: v for k, v in options.items() if k != "then"}
        with self.assertRaises(BaseException) as caught:
            self.client.dmr.pull("ai/stalls", on_progress=on_progress, **call_options)
        self.assertLess(time.monotonic() - started, PROMPT_S)
        self.assertFalse(pulled(self.client, "ai/stalls:latest"))
        return reports, caught.exception

    def test_a_cancel_token_stops_a_stalled_pull(self):
        token = ultrallm.CancelToken()
        reports, error = self.stalled_pull(
            cancel=token, then=lambda: threading.Timer(0.2, token.cancel).start())
        self.assertIsInstance(error, ultrallm.CancelledError)
        self.assertGreaterEqual(len(reports), 1)
        self.assertFalse(reports[-1].finished)

    def test_on_progress_raising_stops_the_pull(self):
        class Enough(Exception):
            pass

        def stop():
            raise Enough()

        reports, error = self.stalled_pull(then=stop)
        self.assertIsInstance(error, Enough)
        self.assertIsInstance(error.__context__, ultrallm.CancelledError)
        self.assertEqual(len(reports), 1)

    def test_a_pull_on_another_thread_is_cancelled_too(self):
        token = ultrallm.CancelToken()
        reports = []
        outcome = {}

        def run():
            try:
                self.client.dmr.pull("ai/stalls", on_progress=reports.append, cancel=token)
            except ultrallm.UltraLLMError as e:
                outcome["error"] = e

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + PROMPT_S
        while not reports and time.monotonic() < deadline:
            time.sleep(0.01)
        token.cancel()
        thread.join(PROMPT_S)
        self.assertFalse(thread.is_alive())
        self.assertIsInstance(outcome["error"], ultrallm.CancelledError)

    def test_the_pulled_models_are_listed_with_their_metadata(self):
        models = self.client.dmr.models(backend="dmr")
        local = next(m for m in models if LOCAL + ":latest" in m.tags)
        self.assertIsInstance(local, ultrallm.PulledModel)
        self.assertTrue(local.id.startswith("sha256:"), local.id)
        self.assertEqual((local.format, local.architecture), ("gguf", "llama"))
        self.assertTrue(local.size and local.parameters and local.quantization)
        self.assertGreater(local.context_size, 0)

    def runner_of(self, model):
        return next((r for r in self.client.dmr.ps() if model in r.model), None)

    def test_preload_ps_and_unload(self):
        self.client.dmr.unload()  # every idle runner
        self.assertIsNone(self.runner_of("stories260k"))
        self.client.dmr.preload(LOCAL, context_size=512, keep_alive="10m")
        runner = self.runner_of("stories260k")
        self.assertIsInstance(runner, ultrallm.Runner)
        self.assertEqual((runner.engine, runner.mode), ("llama.cpp", "completion"))
        self.assertFalse(runner.loading)
        self.assertFalse(runner.in_use)
        self.assertEqual(runner.keep_alive, "10m0s")
        self.assertTrue(runner.last_used)
        self.assertEqual(self.client.dmr.unload(LOCAL), 1)
        self.assertIsNone(self.runner_of("stories260k"))
        with self.assertRaises(ultrallm.ModelNotFoundError):
            self.client.dmr.preload("ai/not-pulled")
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.dmr.preload(LOCAL, keep_alive="ten minutes")

    def test_metrics_show_the_models_in_memory(self):
        self.client.dmr.unload()
        text = self.client.dmr.metrics()
        self.assertIn('ulm_dmr_up{backend="dmr"} 1\n', text)
        self.assertIn('ulm_dmr_runners{backend="dmr",state="idle"} 0\n', text)
        self.assertRegex(text, r'\nulm_dmr_models_disk_bytes\{backend="dmr"\} [1-9][0-9]*\n')
        self.client.dmr.preload(LOCAL, keep_alive="10m")
        text = self.client.dmr.metrics()
        self.assertIn('ulm_dmr_runners{backend="dmr",state="idle"} 1\n', text)
        self.assertIn('ulm_dmr_runner_info{backend="dmr",model="%s:latest",engine="llama.cpp",'
                      'mode="completion",state="idle",keep_alive="10m0s"} 1\n' % LOCAL, text)

    def test_the_calls_as_coroutines(self):
        async def main():
            async with lifecycle_client(ultrallm.AsyncClient) as client:
                await client.dmr.preload(LOCAL, keep_alive="5m")
                runners = await client.dmr.ps()
                metrics = await client.dmr.metrics()
                unloaded = await client.dmr.unload(LOCAL)
                models = await client.dmr.models()
                cached = await client.dmr.pull(LOCAL)
                with self.assertRaises(ultrallm.ModelNotFoundError):
                    await client.dmr.remove("ai/not-pulled")
                return runners, metrics, unloaded, models, cached

        runners, metrics, unloaded, models, cached = asyncio.run(main())
        self.assertTrue(any("stories260k" in r.model for r in runners))
        self.assertIn('ulm_dmr_runners{backend="dmr",state="idle"} 1\n', metrics)
        self.assertEqual(unloaded, 1)
        self.assertTrue(any(LOCAL + ":latest" in m.tags for m in models))
        self.assertTrue(cached.finished and cached.cached)

    def test_cancelling_the_task_cancels_the_pull(self):
        async def main():
            async with lifecycle_client(ultrallm.AsyncClient) as client:
                progressed = asyncio.Event()
                on_loop = []

                def on_progress(report):
                    on_loop.append(asyncio.get_running_loop() is not None)
                    progressed.set()

                task = asyncio.ensure_future(client.dmr.pull("ai/stalls",
                                                             on_progress=on_progress))
                await asyncio.wait_for(progressed.wait(), PROMPT_S)
                started = time.monotonic()
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                return time.monotonic() - started, on_loop

        took, on_loop = asyncio.run(main())
        self.assertLess(took, PROMPT_S)
        self.assertEqual(on_loop, [True])


if __name__ == "__main__":
    unittest.main()
