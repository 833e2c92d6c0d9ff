"""Tests of the ultrallm Python bindings: loading, options layout, errors, and real calls.

Everything but LocalServerTests and FaultServerTests runs without a server: failures are
provoked with a dead port (http://127.0.0.1:1), a port that never answers, and a missing
API key. LocalServerTests needs ULM_TEST_DMR_URL, the base URL of a Docker Model Runner
(or the emulator in tests/servers/) serving ai/stories260k; FaultServerTests needs
ULM_TEST_FAULT_URL, the root URL of tests/servers/fault-server.mjs (tests/run.sh sets both).

    ULTRALLM_LIBRARY=build/libultrallm.so python3 -m unittest discover -s bindings/python/tests -v
"""

import ctypes
import ctypes.util
import os
import pickle
import socket
import subprocess
import sys
import unittest
from unittest import mock

BINDINGS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BINDINGS_DIR)

import ultrallm  # noqa: E402  (needs the path above)

DEAD_URL = "http://127.0.0.1:1"  # port 1 refuses connections at once


def offline_client(**options):
    """A client that reads no environment variable and whose DMR is unreachable."""
    options.setdefault("model_runner_url", DEAD_URL)
    return ultrallm.Client(ignore_environment=True, **options)


class LoadingTests(unittest.TestCase):
    def test_major_version_is_supported(self):
        number = ultrallm.version_number()
        self.assertEqual(number // 10000, 0)
        self.assertEqual(ultrallm.version(),
                         "%d.%d.%d" % (number // 10000, number // 100 % 100, number % 100))

    def import_with_library(self, path):
        env = dict(os.environ, ULTRALLM_LIBRARY=path, PYTHONPATH=BINDINGS_DIR)
        return subprocess.run([sys.executable, "-c", "import ultrallm"], env=env,
                              capture_output=True, text=True, timeout=60)

    def test_missing_library_fails_loudly(self):
        result = self.import_with_library("/nonexistent/libultrallm.so")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LibraryLoadError", result.stderr)
        self.assertIn("/nonexistent/libultrallm.so", result.stderr)

    def test_a_library_other_than_ultrallm_is_refused(self):
        libc = ctypes.util.find_library("c")
        if libc is None:
            self.skipTest("no C library found to stand in for a wrong library")
        result = self.import_with_library(libc)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("lacks ulm_version_number", result.stderr)


class ErrorTests(unittest.TestCase):
    def test_error_codes_mirror_the_c_enum(self):
        for code in ultrallm.ErrorCode:
            self.assertEqual(ultrallm.error_name(code).upper(), code.name)
            self.assertTrue(ultrallm.strerror(code))
        self.assertEqual(ultrallm.error_name(-1000), "unknown")

    def test_retryable_classification(self):
        self.assertTrue(ultrallm.error_is_retryable(ultrallm.ErrorCode.CONNECT))
        self.assertTrue(ultrallm.error_is_retryable(ultrallm.ErrorCode.RATE_LIMIT))
        self.assertFalse(ultrallm.error_is_retryable(ultrallm.ErrorCode.AUTH))
        self.assertFalse(ultrallm.error_is_retryable(ultrallm.ErrorCode.INVALID_ARGUMENT))

    def test_every_code_has_its_own_exception_class(self):
        classes = {type(ultrallm._error(code)) for code in ultrallm.ErrorCode
                   if code != ultrallm.ErrorCode.OK}
        self.assertEqual(len(classes), len(ultrallm.ErrorCode) - 1)
        self.assertIs(type(ultrallm._error(-1000)), ultrallm.UltraLLMError)

    def test_exception_survives_pickling(self):
        error = ultrallm.ConnectError(ultrallm.ErrorCode.CONNECT, "connect", "dmr: refused",
                                      0, "dmr", ())
        copy = pickle.loads(pickle.dumps(error))
        self.assertIsInstance(copy, ultrallm.ConnectError)
        self.assertEqual((copy.code, copy.name, str(copy), copy.provider),
                         (error.code, "connect", "dmr: refused", "dmr"))
        self.assertEqual((copy.incomplete, copy.text), (False, ""))

    def test_timeout_exception_survives_pickling(self):
        # The timeouts are also OSErrors (via TimeoutError), which pickle differently.
        error = ultrallm._error(ultrallm.ErrorCode.IDLE_TIMEOUT, "dmr: stalled", 200, "dmr",
                                (), True, "Once upon")
        copy = pickle.loads(pickle.dumps(error))
        self.assertIsInstance(copy, ultrallm.IdleTimeoutError)
        self.assertEqual((copy.code, copy.name, str(copy), copy.http_status, copy.provider,
                          copy.incomplete, copy.text),
                         (ultrallm.ErrorCode.IDLE_TIMEOUT, "idle_timeout", "dmr: stalled", 200,
                          "dmr", True, "Once upon"))

    def test_new_codes_map_to_their_classes(self):
        expected = {
            -21: ("cancelled", ultrallm.CancelledError),
            -22: ("connect_timeout", ultrallm.ConnectTimeoutError),
            -23: ("load_timeout", ultrallm.LoadTimeoutError),
            -24: ("first_token_timeout", ultrallm.FirstTokenTimeoutError),
            -25: ("idle_timeout", ultrallm.IdleTimeoutError),
            -26: ("model_loading", ultrallm.ModelLoadingError),
        }
        for value, (name, cls) in expected.items():
            code = ultrallm.ErrorCode(value)
            self.assertEqual(code.name.lower(), name)
            error = ultrallm._error(value, "why")
            self.assertIs(type(error), cls, name)
            self.assertEqual((error.code, error.name, str(error)), (code, name, "why"))
            self.assertIsInstance(error, ultrallm.UltraLLMError)

    def test_every_timeout_is_a_request_timeout(self):
        # The overall deadline is RequestTimeoutError itself; each other clock has a
        # subclass, so one except clause (or the built-in TimeoutError) catches them all.
        self.assertIs(type(ultrallm._error(ultrallm.ErrorCode.TIMEOUT)),
                      ultrallm.RequestTimeoutError)
        for code in (ultrallm.ErrorCode.TIMEOUT, ultrallm.ErrorCode.CONNECT_TIMEOUT,
                     ultrallm.ErrorCode.LOAD_TIMEOUT, ultrallm.ErrorCode.FIRST_TOKEN_TIMEOUT,
                     ultrallm.ErrorCode.IDLE_TIMEOUT):
            error = ultrallm._error(code)
            self.assertIsInstance(error, ultrallm.RequestTimeoutError)
            self.assertIsInstance(error, TimeoutError)
            self.assertTrue(error.retryable, code.name)
        for code in (ultrallm.ErrorCode.CANCELLED, ultrallm.ErrorCode.MODEL_LOADING,
                     ultrallm.ErrorCode.CONNECT):
            self.assertNotIsInstance(ultrallm._error(code), ultrallm.RequestTimeoutError)
        self.assertFalse(ultrallm._error(ultrallm.ErrorCode.CANCELLED).retryable)


class OptionsLayoutTests(unittest.TestCase):
    # struct ulm_client_options (version 2) laid out by the System V x86_64 ABI (also
    # aarch64 Linux): pointers, long and size_t take 8 bytes aligned to 8, int and
    # unsigned int 4 aligned to 4. version (4) is padded to 8 before log_fn; log_level and
    # ignore_environment share one 8-byte slot; enable_model_runner (4) is padded to 8;
    # max_idle_connections at 112 is padded to 120, where the version 2 fields start; the
    # last ends at 152, a multiple of the struct's 8-byte alignment.
    LP64_OFFSETS = {
        "version": 0, "log_fn": 8, "log_payload": 16, "log_level": 24,
        "ignore_environment": 28, "openai_api_key": 32, "openai_base_url": 40,
        "enable_model_runner": 48, "model_runner_url": 56, "default_local_model": 64,
        "available_local_models": 72, "local_model_timeout_ms": 80, "timeout_ms": 88,
        "connect_timeout_ms": 96, "max_response_bytes": 104, "max_idle_connections": 112,
        "first_token_timeout_ms": 120, "idle_timeout_ms": 128, "max_event_line_bytes": 136,
        "max_event_bytes": 144,
    }

    def test_struct_matches_the_c_layout_on_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_long) != 8:
            self.skipTest("the expected layout is computed for LP64 platforms")
        opts = ultrallm._ClientOptions
        self.assertEqual([name for name, _ in opts._fields_], list(self.LP64_OFFSETS))
        for name, offset in self.LP64_OFFSETS.items():
            self.assertEqual(getattr(opts, name).offset, offset, name)
        self.assertEqual(ctypes.sizeof(opts), 152)

    def test_bindings_pass_version_2(self):
        self.assertEqual(ultrallm._OPTIONS_VERSION, 2)

    def test_options_init_sets_the_version_and_zeroes_the_rest(self):
        opts = ultrallm._ClientOptions()
        opts.connect_timeout_ms = 5
        opts.idle_timeout_ms = 7
        opts.max_event_bytes = 9
        ultrallm._lib.ulm_client_options_init(ctypes.byref(opts), 2)
        self.assertEqual(opts.version, 2)
        self.assertEqual((opts.connect_timeout_ms, opts.idle_timeout_ms, opts.max_event_bytes),
                         (0, 0, 0))
        self.assertIsNone(opts.model_runner_url)

    def test_version_1_is_still_accepted(self):
        opts = ultrallm._ClientOptions()
        ultrallm._lib.ulm_client_options_init(ctypes.byref(opts), 1)
        self.assertEqual(opts.version, 1)

    def test_an_unknown_options_version_is_refused(self):
        opts = ultrallm._ClientOptions()
        with self.assertRaises(ultrallm.OptionsVersionError):
            ultrallm._lib.ulm_client_options_init(ctypes.byref(opts), 99)


class ClientConfigurationTests(unittest.TestCase):
    def test_bad_environment_variable_is_named(self):
        with mock.patch.dict(os.environ, {"LOCAL_MODEL_TIMEOUT": "abc"}):
            with self.assertRaises(ultrallm.ConfigError) as caught:
                ultrallm.Client()
        self.assertIn("LOCAL_MODEL_TIMEOUT", str(caught.exception))
        self.assertEqual(caught.exception.name, "config")

    def test_options_win_over_the_environment(self):
        with mock.patch.dict(os.environ, {"LOCAL_MODEL_TIMEOUT": "abc"}):
            ultrallm.Client(local_model_timeout_ms=1000).close()
            ultrallm.Client(ignore_environment=True).close()

    def test_bad_option_is_named(self):
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(model_runner_url="ftp://example.com")
        self.assertIn("MODEL_RUNNER_URL", str(caught.exception))

    def test_numeric_options_are_range_checked(self):
        for value in (0, -5, 1 << 70):
            with self.assertRaises(ultrallm.ConfigError) as caught:
                offline_client(connect_timeout_ms=value)
            self.assertIn("connect_timeout_ms", str(caught.exception))
        with self.assertRaises(TypeError):
            offline_client(timeout_ms="10")

    def test_version_2_options_are_accepted_and_range_checked(self):
        offline_client(timeout_ms=1000, first_token_timeout_ms=2000, idle_timeout_ms=3000,
                       max_event_line_bytes=4096, max_event_bytes=8192).close()
        for field in ("timeout_ms", "first_token_timeout_ms", "idle_timeout_ms",
                      "max_event_line_bytes", "max_event_bytes"):
            with self.assertRaises(ultrallm.ConfigError) as caught:
                offline_client(**{field: 0})
            self.assertIn(field, str(caught.exception))
        with self.assertRaises(TypeError):
            offline_client(cloud_timeout_ms=1000)  # renamed timeout_ms in version 2

    def test_default_model(self):
        with offline_client(default_local_model="ai/stories260k") as client:
            self.assertTrue(client.default_model.startswith("dmr/ai/stories260k"),
                            client.default_model)

    def test_close_is_idempotent_and_final(self):
        client = offline_client()
        client.close()
        client.close()
        with self.assertRaises(ValueError):
            client.complete("hi")


class OfflineCompletionTests(unittest.TestCase):
    def setUp(self):
        self.client = offline_client()
        self.addCleanup(self.client.close)

    def test_unknown_provider_fails_before_any_request(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.complete("hi", model="nosuch/model")
        error = caught.exception
        self.assertEqual(error.code, ultrallm.ErrorCode.INVALID_ARGUMENT)
        self.assertEqual(error.name, "invalid_argument")
        self.assertIn("nosuch", str(error))
        self.assertEqual(error.attempts, [])
        self.assertIsInstance(error, ValueError)

    def test_out_of_range_parameter_names_the_setter(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.complete("hi", temperature=3)
        self.assertIn("temperature", str(caught.exception))

    def test_bad_messages_are_refused(self):
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.complete(messages=[("tool", "x")])
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.complete("a\0b")
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.complete()
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.complete("hi", stop=["a", "b", "c", "d", "e"])

    def test_dead_port_gives_connect_error_with_one_attempt(self):
        with self.assertRaises(ultrallm.ConnectError) as caught:
            self.client.complete("hi", model="dmr/ai/smollm2")
        error = caught.exception
        self.assertEqual(error.name, "connect")
        self.assertEqual(error.provider, "dmr")
        self.assertTrue(error.retryable)
        self.assertEqual(len(error.attempts), 1)
        attempt = error.attempts[0]
        self.assertEqual((attempt.provider, attempt.ok, attempt.error, attempt.http_status),
                         ("dmr", False, "connect", 0))
        self.assertTrue(attempt.message)

    def test_fallback_chain_records_both_attempts(self):
        for model in (["dmr/ai/smollm2", "openai/gpt-4o-mini"],
                      "dmr/ai/smollm2,openai/gpt-4o-mini"):
            with self.assertRaises(ultrallm.UltraLLMError) as caught:
                self.client.complete("hi", model=model)
            error = caught.exception
            self.assertEqual([(a.provider, a.error) for a in error.attempts],
                             [("dmr", "connect"), ("openai", "not_configured")])
            # The library reports the backend that was really asked, not the keyless one.
            self.assertIsInstance(error, ultrallm.ConnectError)

    def test_log_callback_sees_the_fallback(self):
        lines = []
        with offline_client(log=lambda level, message: lines.append((level, message)),
                            log_level=ultrallm.LogLevel.INFO) as client:
            with self.assertRaises(ultrallm.ConnectError):
                client.complete("hi", model=["dmr/ai/smollm2", "openai/gpt-4o-mini"])
        self.assertTrue(any("falling back" in message for _, message in lines), lines)
        self.assertTrue(all(isinstance(level, ultrallm.LogLevel) for level, _ in lines))

    def test_timeouts_are_checked_before_anything_is_sent(self):
        # Each of these fails in _fill(); the connect error of the dead port would come
        # with one attempt, so an empty trail shows that nothing was sent.
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.complete("hi", model="dmr/ai/smollm2", timeouts={"read": 1000})
        self.assertIn("read", str(caught.exception))
        self.assertIn("first_token", str(caught.exception))
        self.assertEqual(caught.exception.attempts, [])
        for ms in (0, -1, 86400001, 1 << 70):
            with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
                self.client.complete("hi", model="dmr/ai/smollm2", timeouts={"idle": ms})
            self.assertIn("timeouts['idle']", str(caught.exception))
            self.assertEqual(caught.exception.attempts, [])
        with self.assertRaises(TypeError):
            self.client.complete("hi", timeouts={"idle": "5s"})
        with self.assertRaises(TypeError):
            self.client.complete("hi", timeouts={"idle": True})
        with self.assertRaises(TypeError):
            self.client.complete("hi", timeouts=[("idle", 1000)])

    def test_library_range_of_set_timeout(self):
        # The bound checked in Python is the library's own: the C setter agrees.
        req = ultrallm._request_p()
        ultrallm._lib.ulm_request_new(ctypes.byref(req))
        self.addCleanup(ultrallm._lib.ulm_request_free, req)
        for clock in ultrallm.Clock:
            ultrallm._lib.ulm_request_set_timeout(req, clock, 1)
            ultrallm._lib.ulm_request_set_timeout(req, clock, ultrallm._MAX_TIMEOUT_MS)
        for clock, ms in ((ultrallm.Clock.IDLE, ultrallm._MAX_TIMEOUT_MS + 1),
                          (ultrallm.Clock.IDLE, 0), (0, 1000), (6, 1000)):
            with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
                ultrallm._lib.ulm_request_set_timeout(req, clock, ms)
            self.assertIn("ulm_request_set_timeout", str(caught.exception))

    def test_valid_timeouts_reach_the_call(self):
        # Names, Clock members and None (leave the clock alone) are all accepted.
        with self.assertRaises(ultrallm.ConnectError):
            self.client.complete("hi", model="dmr/ai/smollm2", timeouts={
                "connect": 2000, "load": 1000, ultrallm.Clock.FIRST_TOKEN: 1000,
                "idle": None, "overall": 86400000})

    def test_each_clock_raises_its_own_timeout(self):
        # A port that accepts connections (the kernel's backlog) but never answers: the
        # request is sent and then only the clocks can end the call.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        cases = (
            ("dmr/ai/smollm2", {"load": 100, "first_token": 100}, ultrallm.LoadTimeoutError),
            ("dmr/ai/smollm2", {"load": 5000, "overall": 150}, ultrallm.RequestTimeoutError),
            ("openai/gpt-4o-mini", {"first_token": 150}, ultrallm.FirstTokenTimeoutError),
        )
        with ultrallm.Client(ignore_environment=True, model_runner_url=url,
                             openai_base_url=url + "/v1",
                             openai_api_key="sk-test-0123456789") as client:
            for model, timeouts, cls in cases:
                chunks = []
                with self.assertRaises(cls) as caught:
                    client.complete("hi", model=model, timeouts=timeouts,
                                    on_delta=chunks.append)
                error = caught.exception
                self.assertIs(type(error), cls, (model, timeouts, error))
                self.assertIsInstance(error, TimeoutError)
                self.assertTrue(error.retryable)
                self.assertFalse(error.incomplete)
                self.assertEqual(chunks, [])
                self.assertEqual([a.error for a in error.attempts], [error.name])

    def test_on_delta_is_not_called_when_the_backend_is_dead(self):
        chunks = []
        with self.assertRaises(ultrallm.ConnectError) as caught:
            self.client.complete("hi", model="dmr/ai/smollm2", on_delta=chunks.append)
        self.assertEqual(chunks, [])
        self.assertFalse(caught.exception.incomplete)
        self.assertEqual(caught.exception.text, "")
        self.assertEqual([a.error for a in caught.exception.attempts], ["connect"])

    def test_on_delta_must_be_callable(self):
        with self.assertRaises(TypeError):
            self.client.complete("hi", on_delta="print")

    def test_models_reports_each_backend_error(self):
        listing = self.client.models()
        self.assertEqual(listing.models, [])
        self.assertEqual([(b.name, b.error) for b in listing.backends],
                         [("dmr", "connect"), ("openai", "not_configured")])
        self.assertEqual(len(listing.errors), 2)


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_DMR_URL to a Docker Model Runner (or tests/servers/"
                     "dmr-server.mjs) serving ai/stories260k to run the local server tests")
class LocalServerTests(unittest.TestCase):
    MODEL = "dmr/ai/stories260k"

    def setUp(self):
        self.client = ultrallm.Client(ignore_environment=True,
                                      model_runner_url=os.environ["ULM_TEST_DMR_URL"])
        self.addCleanup(self.client.close)

    def test_complete(self):
        response = self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                        temperature=0)
        self.assertTrue(response.text)
        self.assertEqual(response.provider, "dmr")
        self.assertTrue(response.model.startswith("ai/stories260k"), response.model)
        self.assertIn(response.finish_reason, ("stop", "length"))
        self.assertGreater(response.usage.prompt_tokens, 0)
        self.assertGreater(response.usage.completion_tokens, 0)
        self.assertGreater(response.usage.total_tokens, 0)
        self.assertGreater(response.latency_ms, 0)
        self.assertEqual([(a.provider, a.ok, a.http_status) for a in response.attempts],
                         [("dmr", True, 200)])
        self.assertIn('"choices"', response.raw_json)

    def test_conversation_and_parameters(self):
        response = self.client.complete(
            "Then", model=self.MODEL, system="A story.", max_tokens=8, temperature=0.5,
            top_p=0.9, seed=42, stop=["\n\n"],
            messages=[{"role": "user", "content": "Once"}, ("assistant", "upon a time")])
        self.assertTrue(response.text)

    def test_missing_local_model(self):
        with self.assertRaises(ultrallm.ModelNotFoundError) as caught:
            self.client.complete("hi", model="dmr/ai/no-such-model")
        self.assertEqual(caught.exception.http_status, 404)

    def test_models(self):
        listing = self.client.models()
        self.assertIn(("dmr", "ai/stories260k:latest"), listing.models)
        self.assertTrue(listing.backends[0].ok)

    def test_stream(self):
        chunks = []
        response = self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                        temperature=0, on_delta=chunks.append,
                                        timeouts={"first_token": 60000, "idle": 30000})
        self.assertTrue(chunks)
        self.assertTrue(all(isinstance(chunk, str) for chunk in chunks))
        self.assertEqual("".join(chunks), response.text)
        self.assertTrue(response.text)
        self.assertFalse(response.incomplete)
        self.assertIsNone(response.raw_json)  # a stream has no JSON body
        self.assertIn(response.finish_reason, ("stop", "length"))
        self.assertEqual([(a.provider, a.ok) for a in response.attempts], [("dmr", True)])
        # Greedy decoding: the stream says what the plain call says.
        plain = self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                     temperature=0)
        self.assertEqual(plain.text, response.text)
        self.assertFalse(plain.incomplete)

    def test_raising_in_on_delta_cancels_and_reraises(self):
        class Stop(Exception):
            pass

        chunks = []

        def on_delta(chunk):
            chunks.append(chunk)
            raise Stop("enough")

        with self.assertRaises(Stop) as caught:
            self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                 temperature=0, on_delta=on_delta)
        self.assertEqual(str(caught.exception), "enough")
        self.assertEqual(len(chunks), 1)  # never called again once it raised
        cancelled = caught.exception.__context__
        self.assertIsInstance(cancelled, ultrallm.CancelledError)
        self.assertEqual((cancelled.code, cancelled.name),
                         (ultrallm.ErrorCode.CANCELLED, "cancelled"))
        # The chunk was handed over before the callback stopped the call.
        self.assertTrue(cancelled.incomplete)
        self.assertEqual(cancelled.text, chunks[0])
        self.assertEqual([a.error for a in cancelled.attempts], ["cancelled"])
        # The client is still usable afterwards.
        self.assertTrue(self.client.complete("Once", model=self.MODEL, max_tokens=4).text)

    def test_keyboard_interrupt_in_on_delta_is_reraised(self):
        def on_delta(chunk):
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            self.client.complete("Once upon a time", model=self.MODEL, max_tokens=16,
                                 on_delta=on_delta)


@unittest.skipUnless(os.environ.get("ULM_TEST_FAULT_URL"),
                     "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs to run the "
                     "streaming fault tests")
class FaultServerTests(unittest.TestCase):
    # What fault-server.mjs always streams, in these deltas.
    DELTAS = ["Hello", ", world!", " Ünïcödé", " 🙂", " done."]

    def client_for(self, scenario):
        base = "%s/%s/v1" % (os.environ["ULM_TEST_FAULT_URL"].rstrip("/"), scenario)
        client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                 openai_base_url=base, openai_api_key="sk-test-0123456789")
        self.addCleanup(client.close)
        return client

    def test_characters_split_across_reads_arrive_whole(self):
        chunks = []
        response = self.client_for("ok/0").complete("hi", model="openai/fault-model",
                                                    on_delta=chunks.append)
        self.assertEqual("".join(chunks), "".join(self.DELTAS))
        self.assertIn(" 🙂", chunks)  # the emoji was sent in two writes, split inside it
        self.assertEqual(response.text, "".join(self.DELTAS))
        self.assertFalse(response.incomplete)

    def test_a_stall_mid_stream_is_an_incomplete_idle_timeout(self):
        chunks = []
        with self.assertRaises(ultrallm.IdleTimeoutError) as caught:
            self.client_for("stall-mid/3000").complete(
                "hi", model="openai/fault-model", on_delta=chunks.append,
                timeouts={"idle": 300})
        error = caught.exception
        self.assertTrue(error.incomplete)
        self.assertEqual(error.text, "Hello, world!")
        self.assertEqual("".join(chunks), error.text)
        self.assertIn("incomplete", str(error))
        self.assertEqual([a.error for a in error.attempts], ["idle_timeout"])


if __name__ == "__main__":
    unittest.main()
