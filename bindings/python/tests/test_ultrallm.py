"""Tests of the ultrallm Python bindings: loading, options layout, errors, and one real call.

Everything but LocalServerTests runs without a server: failures are provoked with a dead
port (http://127.0.0.1:1) and a missing API key. LocalServerTests needs ULM_TEST_DMR_URL,
the base URL of a Docker Model Runner (or the emulator in tests/servers/) serving
ai/stories260k.

    ULTRALLM_LIBRARY=build/libultrallm.so python3 -m unittest discover -s bindings/python/tests -v
"""

import ctypes
import ctypes.util
import os
import pickle
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


class OptionsLayoutTests(unittest.TestCase):
    # struct ulm_client_options laid out by the System V x86_64 ABI (also aarch64 Linux):
    # pointers, long and size_t take 8 bytes aligned to 8, int and unsigned int 4 aligned
    # to 4. version (4) is padded to 8 before log_fn; log_level and ignore_environment
    # share one 8-byte slot; enable_model_runner (4) is padded to 8; max_idle_connections
    # at 112 is padded to the struct's 8-byte alignment: 120 in all.
    LP64_OFFSETS = {
        "version": 0, "log_fn": 8, "log_payload": 16, "log_level": 24,
        "ignore_environment": 28, "openai_api_key": 32, "openai_base_url": 40,
        "enable_model_runner": 48, "model_runner_url": 56, "default_local_model": 64,
        "available_local_models": 72, "local_model_timeout_ms": 80, "cloud_timeout_ms": 88,
        "connect_timeout_ms": 96, "max_response_bytes": 104, "max_idle_connections": 112,
    }

    def test_struct_matches_the_c_layout_on_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_long) != 8:
            self.skipTest("the expected layout is computed for LP64 platforms")
        opts = ultrallm._ClientOptions
        self.assertEqual([name for name, _ in opts._fields_], list(self.LP64_OFFSETS))
        for name, offset in self.LP64_OFFSETS.items():
            self.assertEqual(getattr(opts, name).offset, offset, name)
        self.assertEqual(ctypes.sizeof(opts), 120)

    def test_options_init_sets_the_version_and_zeroes_the_rest(self):
        opts = ultrallm._ClientOptions()
        opts.connect_timeout_ms = 5
        ultrallm._lib.ulm_client_options_init(ctypes.byref(opts), 1)
        self.assertEqual(opts.version, 1)
        self.assertEqual(opts.connect_timeout_ms, 0)
        self.assertIsNone(opts.model_runner_url)

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
            offline_client(cloud_timeout_ms="10")

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


if __name__ == "__main__":
    unittest.main()
