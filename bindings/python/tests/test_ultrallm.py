"""Tests of the ultrallm Python bindings: loading, options layout, errors, configuration
files, and real calls.

Everything but LocalServerTests, OfflineModeLiveTests, FaultServerTests and
CloudReplayTests runs without a server: failures are provoked with a dead port (http://127.0.0.1:1), a port that never
answers, and a missing API key. LocalServerTests and OfflineModeLiveTests need
ULM_TEST_DMR_URL, the base URL of a Docker Model Runner (or the emulator in tests/servers/)
serving ai/stories260k; FaultServerTests needs ULM_TEST_FAULT_URL, the root URL of
tests/servers/fault-server.mjs; CloudReplayTests needs ULM_TEST_REPLAY_URL, the root URL of
tests/servers/replay-server.mjs (tests/run.sh sets all three).

The tests import whichever ultrallm is importable: the source tree's with PYTHONPATH, or
an installed one (bindings/python/tests/check-package.sh runs them against the wheel, the
sdist and cmake --install).

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \
        python3 -m unittest discover -s bindings/python/tests -v
"""

import ctypes
import ctypes.util
import dataclasses
import json
import os
import pathlib
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import ultrallm
from ultrallm import _client, _errors, _native

# The directory the package under test was imported from, for the subprocesses.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(ultrallm.__file__)))

DEAD_URL = "http://127.0.0.1:1"  # port 1 refuses connections at once
KEY = "sk-test-0123456789"
# The repository, when the tests run from it (the header, for the layout tests).
REPO = pathlib.Path(__file__).resolve().parents[3]


def offline_client(**options):
    """A client that reads no environment variable and whose DMR is unreachable."""
    options.setdefault("model_runner_url", DEAD_URL)
    return ultrallm.Client(ignore_environment=True, **options)


def write_config(test, content, name="ultra.json"):
    """Writes content (a str as is, else as JSON) to a file removed after the test."""
    directory = tempfile.TemporaryDirectory(prefix="ultrallm-test-")
    test.addCleanup(directory.cleanup)
    path = os.path.join(directory.name, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def strings_in(value):
    """Every str inside a parsed JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


class LoadingTests(unittest.TestCase):
    def test_major_version_is_supported(self):
        number = ultrallm.version_number()
        self.assertEqual(number // 10000, 0)
        self.assertEqual(ultrallm.version(),
                         "%d.%d.%d" % (number // 10000, number // 100 % 100, number % 100))

    def import_with_library(self, path):
        env = dict(os.environ, ULTRALLM_LIBRARY=path, PYTHONPATH=PACKAGE_PARENT)
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
        classes = {type(_errors.error(code)) for code in ultrallm.ErrorCode
                   if code != ultrallm.ErrorCode.OK}
        self.assertEqual(len(classes), len(ultrallm.ErrorCode) - 1)
        self.assertIs(type(_errors.error(-1000)), ultrallm.UltraLLMError)

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
        error = _errors.error(ultrallm.ErrorCode.IDLE_TIMEOUT, "dmr: stalled", 200, "dmr",
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
            error = _errors.error(value, "why")
            self.assertIs(type(error), cls, name)
            self.assertEqual((error.code, error.name, str(error)), (code, name, "why"))
            self.assertIsInstance(error, ultrallm.UltraLLMError)

    def test_queue_and_breaker_codes_map_to_their_classes(self):
        expected = {
            -27: ("resource_exhausted", ultrallm.ResourceExhaustedError),  # ULM_EBUSY
            -28: ("circuit_open", ultrallm.CircuitOpenError),              # ULM_ECIRCUIT_OPEN
        }
        for value, (name, cls) in expected.items():
            code = ultrallm.ErrorCode(value)
            self.assertEqual(code.name.lower(), name)
            self.assertEqual(ultrallm.error_name(value), name)
            error = _errors.error(value, "openai: why")
            self.assertIs(type(error), cls, name)
            self.assertEqual((error.code, error.name, str(error)), (code, name, "openai: why"))
            self.assertIsInstance(error, ultrallm.UltraLLMError)
            self.assertNotIsInstance(error, ultrallm.RequestTimeoutError)
            # Another endpoint, target or a later try may succeed.
            self.assertTrue(error.retryable, name)
            copy = pickle.loads(pickle.dumps(error))
            self.assertIs(type(copy), cls)
            self.assertEqual((copy.code, str(copy)), (code, "openai: why"))
        self.assertIs(ultrallm.ErrorCode.RESOURCE_EXHAUSTED, ultrallm.ErrorCode(-27))
        self.assertIs(ultrallm.ErrorCode.CIRCUIT_OPEN, ultrallm.ErrorCode(-28))

    def test_content_filter_is_its_own_class_and_final(self):
        error = _errors.error(-29, "gemini: prompt blocked: SAFETY")
        self.assertIs(type(error), ultrallm.ContentFilterError)
        self.assertEqual(error.name, "content_filter")
        self.assertIs(error.code, ultrallm.ErrorCode.CONTENT_FILTER)
        # The same prompt is refused again: neither a retry nor another backend is tried.
        self.assertFalse(error.retryable)

    def test_every_timeout_is_a_request_timeout(self):
        # The overall deadline is RequestTimeoutError itself; each other clock has a
        # subclass, so one except clause (or the built-in TimeoutError) catches them all.
        self.assertIs(type(_errors.error(ultrallm.ErrorCode.TIMEOUT)),
                      ultrallm.RequestTimeoutError)
        for code in (ultrallm.ErrorCode.TIMEOUT, ultrallm.ErrorCode.CONNECT_TIMEOUT,
                     ultrallm.ErrorCode.LOAD_TIMEOUT, ultrallm.ErrorCode.FIRST_TOKEN_TIMEOUT,
                     ultrallm.ErrorCode.IDLE_TIMEOUT):
            error = _errors.error(code)
            self.assertIsInstance(error, ultrallm.RequestTimeoutError)
            self.assertIsInstance(error, TimeoutError)
            self.assertTrue(error.retryable, code.name)
        for code in (ultrallm.ErrorCode.CANCELLED, ultrallm.ErrorCode.MODEL_LOADING,
                     ultrallm.ErrorCode.CONNECT):
            self.assertNotIsInstance(_errors.error(code), ultrallm.RequestTimeoutError)
        self.assertFalse(_errors.error(ultrallm.ErrorCode.CANCELLED).retryable)


class OptionsLayoutTests(unittest.TestCase):
    # struct ulm_client_options (version 5) laid out by the System V x86_64 ABI (also
    # aarch64 Linux): pointers, long and size_t take 8 bytes aligned to 8, int and
    # unsigned int 4 aligned to 4. version (4) is padded to 8 before log_fn; log_level and
    # ignore_environment share one 8-byte slot; enable_model_runner (4) is padded to 8;
    # max_idle_connections at 112 is padded to 120, where the version 2 fields start; the
    # int at 160 is padded to 168, where the version 3 fields (four pointers) start; the
    # version 4 fields (two pointers and a size_t) start at 200, the version 5 fields (two
    # pointers) at 224.
    LP64_OFFSETS = {
        "version": 0, "log_fn": 8, "log_payload": 16, "log_level": 24,
        "ignore_environment": 28, "openai_api_key": 32, "openai_base_url": 40,
        "enable_model_runner": 48, "model_runner_url": 56, "default_local_model": 64,
        "available_local_models": 72, "local_model_timeout_ms": 80, "timeout_ms": 88,
        "connect_timeout_ms": 96, "max_response_bytes": 104, "max_idle_connections": 112,
        "first_token_timeout_ms": 120, "idle_timeout_ms": 128, "max_event_line_bytes": 136,
        "max_event_bytes": 144, "config_path": 152, "use_local_models_when_offline": 160,
        "anthropic_api_key": 168, "anthropic_base_url": 176, "gemini_api_key": 184,
        "gemini_base_url": 192, "config_json": 200, "backend_settings": 208,
        "backend_setting_count": 216, "log_event_fn": 224, "log_event_payload": 232,
    }

    def test_struct_matches_the_c_layout_on_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_long) != 8:
            self.skipTest("the expected layout is computed for LP64 platforms")
        opts = _native.ClientOptions
        self.assertEqual([name for name, _ in opts._fields_], list(self.LP64_OFFSETS))
        for name, offset in self.LP64_OFFSETS.items():
            self.assertEqual(getattr(opts, name).offset, offset, name)
        self.assertEqual(ctypes.sizeof(opts), 240)

    def test_bindings_pass_version_5(self):
        self.assertEqual(_native.OPTIONS_VERSION, 5)

    def test_options_init_sets_the_version_and_zeroes_the_rest(self):
        opts = _native.ClientOptions()
        opts.connect_timeout_ms = 5
        opts.idle_timeout_ms = 7
        opts.max_event_bytes = 9
        _native.lib.ulm_client_options_init(ctypes.byref(opts), 2)
        self.assertEqual(opts.version, 2)
        self.assertEqual((opts.connect_timeout_ms, opts.idle_timeout_ms, opts.max_event_bytes),
                         (0, 0, 0))
        self.assertIsNone(opts.model_runner_url)

    def test_versions_1_to_4_are_still_accepted(self):
        for version in (1, 2, 3, 4):
            opts = _native.ClientOptions()
            _native.lib.ulm_client_options_init(ctypes.byref(opts), version)
            self.assertEqual(opts.version, version)

    def test_version_1_is_still_accepted(self):
        opts = _native.ClientOptions()
        _native.lib.ulm_client_options_init(ctypes.byref(opts), 1)
        self.assertEqual(opts.version, 1)

    def test_an_unknown_options_version_is_refused(self):
        opts = _native.ClientOptions()
        with self.assertRaises(ultrallm.OptionsVersionError):
            _native.lib.ulm_client_options_init(ctypes.byref(opts), 99)


# The structs _native mirrors, and its class for each.
MIRRORED_STRUCTS = {"ulm_client_options": "ClientOptions", "ulm_round_options": "RoundOptions",
                    "ulm_pull_progress": "PullProgressStruct",
                    "ulm_backend_setting": "BackendSetting",
                    "ulm_log_event": "LogEventStruct"}


class StructLayoutTests(unittest.TestCase):
    """Each struct _native mirrors has the offsets and size the C compiler gives it, with
    ultrallm.h as it is in the repository (skipped without the header or a compiler)."""

    def test_mirrored_structs_match_the_compiler(self):
        header = REPO / "include" / "ultrallm" / "ultrallm.h"
        compiler = shutil.which("cc") or shutil.which("gcc")
        if not header.is_file() or compiler is None:
            self.skipTest("needs include/ultrallm/ultrallm.h and a C compiler")
        lines = []
        for struct, name in MIRRORED_STRUCTS.items():
            lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (struct, struct))
            for field, _ in getattr(_native, name)._fields_:
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));'
                             % (struct, field, struct, field))
        source = ("#include <stddef.h>\n#include <stdio.h>\n#include <ultrallm/ultrallm.h>\n"
                  "int main(void) {\n%s\nreturn 0;\n}\n" % "\n".join(lines))
        with tempfile.TemporaryDirectory(prefix="ultrallm-layout-") as directory:
            program = os.path.join(directory, "layout")
            compiled = subprocess.run([compiler, "-x", "c", "-I", str(header.parent.parent),
                                       "-o", program, "-"], input=source, text=True,
                                      capture_output=True, timeout=120)
            self.assertEqual(compiled.returncode, 0, compiled.stderr)
            output = subprocess.run([program], capture_output=True, text=True, check=True,
                                    timeout=60).stdout
        for line in output.splitlines():
            struct, field, value = line.split()
            mirror = getattr(_native, MIRRORED_STRUCTS[struct])
            if field == "sizeof":
                self.assertEqual(ctypes.sizeof(mirror), int(value), struct)
            else:
                self.assertEqual(getattr(mirror, field).offset, int(value),
                                 "%s.%s" % (struct, field))

    def test_the_mirrored_member_states_are_the_headers(self):
        header = REPO / "include" / "ultrallm" / "ultrallm.h"
        if not header.is_file():
            self.skipTest("needs include/ultrallm/ultrallm.h")
        states = dict(re.findall(r"ULM_MEMBER_([A-Z]+) = (\d+)",
                                 header.read_text(encoding="utf-8")))
        self.assertEqual({name: int(value) for name, value in states.items()},
                         {state.name: state.value for state in ultrallm.MemberState})

    def test_the_mirrored_versions_are_the_headers(self):
        header = REPO / "include" / "ultrallm" / "ultrallm.h"
        if not header.is_file():
            self.skipTest("needs include/ultrallm/ultrallm.h")
        text = header.read_text(encoding="utf-8")
        for macro, value in (("ULM_CLIENT_OPTIONS_VERSION", _native.OPTIONS_VERSION),
                             ("ULM_ROUND_OPTIONS_VERSION", _native.ROUND_OPTIONS_VERSION),
                             ("ULM_PULL_PROGRESS_VERSION", _native.PULL_PROGRESS_VERSION),
                             ("ULM_LOG_EVENT_VERSION", _native.LOG_EVENT_VERSION),
                             ("ULM_LOG_JSON_SIZE", _native.LOG_JSON_SIZE),
                             ("ULM_ROUND_MAX_MEMBERS", _native.ROUND_MAX_MEMBERS)):
            self.assertRegex(text, r"#define %s %d\b" % (macro, value))


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
        # Since options version 4 the library names a backend's URL by its setting,
        # "dmr.url", whether the option or backend_settings gave it.
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(model_runner_url="ftp://example.com")
        self.assertIn("dmr.url", str(caught.exception))

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


class OptionsVersion4Tests(unittest.TestCase):
    """config_json and backend_settings, the options of version 4; no server."""

    # A backend on a host nobody resolves: creating a client sends nothing.
    CONFIG = {"backends": {"tenant": {"type": "openai", "url": "https://api.example.invalid/v1"}},
              "models": {"fast": ["tenant/gpt-4o-mini"]}, "default_model": "fast"}

    def backend(self, client, name):
        return next(b for b in client.describe()["backends"] if b["name"] == name)

    def test_config_json_as_a_string_or_a_dict(self):
        for config in (json.dumps(self.CONFIG), self.CONFIG):
            with offline_client(config_json=config) as client:
                self.assertEqual(client.default_model, "fast")
                self.assertEqual(client.describe()["aliases"]["fast"], ["tenant/gpt-4o-mini"])

    def test_a_mistake_in_config_json_is_named(self):
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_json='{"models": {"fast": ["opnai/x"]}}')
        self.assertIn('unknown backend "opnai"', str(caught.exception))
        with self.assertRaises(ultrallm.ConfigError):
            offline_client(config_json="{not json")

    def test_config_json_and_config_path_are_alternatives(self):
        path = write_config(self, self.CONFIG)
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_path=path, config_json=self.CONFIG)
        self.assertIn("alternatives", str(caught.exception))

    def test_backend_settings_give_a_declared_backend_its_key(self):
        with offline_client(config_json=self.CONFIG) as client:
            self.assertEqual(self.backend(client, "tenant")["key"], "absent")
        with offline_client(config_json=self.CONFIG,
                            backend_settings={"tenant": {"api_key": KEY}}) as client:
            self.assertEqual(self.backend(client, "tenant")["key"], "present")
            self.assertNotIn(KEY, json.dumps(client.describe()))
            self.assertNotIn(KEY, repr(client))

    def test_backend_settings_set_a_built_in_backends_url(self):
        url = "https://openai.example.invalid/v1"
        with offline_client(backend_settings={"openai": {"url": url, "api_key": KEY}}) as client:
            openai = self.backend(client, "openai")
            self.assertEqual([e["url"] for e in openai["endpoints"]], [url])
            self.assertEqual(openai["key"], "present")

    def test_a_setting_beats_the_option_of_versions_1_to_3(self):
        url = "https://setting.example.invalid/v1"
        with offline_client(openai_base_url="https://option.example.invalid/v1",
                            backend_settings={"openai": {"url": url}}) as client:
            self.assertEqual([e["url"] for e in self.backend(client, "openai")["endpoints"]],
                             [url])

    def test_bad_settings_are_named(self):
        cases = [({"openai": {"colour": "blue"}}, "unknown setting"),
                 ({"nosuch": {"api_key": KEY}}, 'unknown backend "nosuch"'),
                 ({"dmr": {"url": "ftp://x"}}, "dmr.url"),
                 ({"openai": {"api_key": "sk-\x01"}}, "control character")]
        for settings, expected in cases:
            with self.assertRaises(ultrallm.ConfigError) as caught:
                offline_client(backend_settings=settings)
            self.assertIn(expected, str(caught.exception))
        with self.assertRaises(TypeError):
            offline_client(backend_settings={"openai": "sk-a-bare-key"})
        with self.assertRaises(TypeError):
            offline_client(backend_settings={"openai": {"api_key": 42}})
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(backend_settings={"openai": {"api_key": "sk-secret\0x"}})
        self.assertNotIn("sk-secret", str(caught.exception))

    def test_an_empty_mapping_sets_nothing(self):
        offline_client(backend_settings={}).close()


class BackendOverrideArgumentTests(unittest.TestCase):
    """backend_overrides= is checked before anything is sent, and never shows the key."""

    def setUp(self):
        self.client = offline_client(openai_api_key=KEY, openai_base_url=DEAD_URL,
                                     enable_model_runner=False,
                                     use_local_models_when_offline=False)
        self.addCleanup(self.client.close)

    def test_bad_overrides_are_refused(self):
        secret = "sk-tenant-secret-0123"
        cases = [({"openai": {}}, "neither"),
                 ({"openai": {"url": "http://x"}}, "unknown name 'url'"),
                 ({"openai": {"base_url": "ftp://x"}}, "not an http:// or https:// URL"),
                 ({"openai": {"base_url": "http://a b"}}, "not an http:// or https:// URL"),
                 ({"openai": {"api_key": ""}}, "empty"),
                 ({"openai": {"api_key": secret + "\n"}}, "control character"),
                 ({"": {"api_key": secret}}, "not a backend name")]
        for overrides, expected in cases:
            with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
                self.client.complete("hi", model="openai/x", backend_overrides=overrides)
            self.assertIn(expected, str(caught.exception))
            self.assertNotIn(secret, str(caught.exception))
            self.assertNotIn(secret, repr(caught.exception))
        for overrides in ({"openai": "http://x"}, ["openai"], {1: {"api_key": secret}}):
            with self.assertRaises(TypeError):
                self.client.complete("hi", model="openai/x", backend_overrides=overrides)

    def test_a_key_override_is_never_shown(self):
        secret = "sk-tenant-secret-0123"
        with self.assertRaises(ultrallm.ConnectError) as caught:
            self.client.complete("hi", model="openai/x",
                                 backend_overrides={"openai": {"api_key": secret}})
        for shown in (str(caught.exception), repr(caught.exception),
                      repr(caught.exception.attempts)):
            self.assertNotIn(secret, shown)


class MetricsTests(unittest.TestCase):
    def test_metrics_in_both_formats(self):
        with offline_client() as client:
            with self.assertRaises(ultrallm.ConnectError):
                client.complete("hi", model="dmr/ai/x")
            text = client.metrics()
            self.assertIsInstance(text, str)
            self.assertEqual(text, client.metrics("prometheus"))
            series = [line for line in text.splitlines() if line and not line.startswith("#")]
            for line in series:
                self.assertTrue(line.startswith("ulm_"), line)
            # the failed call is counted: one request started, one call failed to connect
            started = [line for line in series if line.startswith("ulm_requests_started_total{")
                       and 'backend="dmr"' in line]
            self.assertEqual([line.rsplit(" ", 1)[1] for line in started], ["1"])
            failed = [line for line in series if line.startswith("ulm_calls_failed_total{")
                      and 'backend="dmr"' in line and 'class="connect"' in line]
            self.assertEqual([line.rsplit(" ", 1)[1] for line in failed], ["1"])
            numbers = client.metrics("json")
            self.assertIsInstance(numbers, dict)
            dmr = [b for b in numbers["backends"] if b["backend"] == "dmr"]
            self.assertEqual(len(dmr), 1)
            models = dmr[0]["models"]
            self.assertEqual(sum(m["requests_started_total"] for m in models), 1)
            self.assertEqual(sum(m["calls_failed_total"].get("connect", 0) for m in models), 1)
            # what the library holds: its heap (this client at least), no connection left
            # open by a call that could not connect, no engine borrowed
            self.assertGreater(numbers["heap_bytes"], 0)
            self.assertEqual(numbers["connections_open"], 0)
            self.assertGreaterEqual(numbers["engines_idle"], 1)

    def test_an_unknown_format_is_refused(self):
        with offline_client() as client:
            for fmt in ("xml", "", None):
                with self.assertRaises(ultrallm.InvalidArgumentError):
                    client.metrics(fmt)

    def test_a_closed_client_has_no_metrics(self):
        client = offline_client()
        client.close()
        with self.assertRaises(ValueError):
            client.metrics()


class ConfigFileTests(unittest.TestCase):
    FAST = ["dmr/ai/smollm2", "openai/gpt-4o-mini"]
    CONFIG = {"models": {"fast": FAST}, "retry": {"max_retries": 1}}

    def client(self, **options):
        client = offline_client(**options)
        self.addCleanup(client.close)
        return client

    def test_describe_shows_the_file_aliases_and_retry(self):
        path = write_config(self, self.CONFIG)
        described = self.client(config_path=path).describe()
        self.assertEqual(described["config_file"], path)
        self.assertEqual(described["aliases"], {"fast": self.FAST})
        self.assertEqual(described["retry"]["max_retries"], 1)
        self.assertEqual([b["name"] for b in described["backends"]],
                         ["dmr", "openai", "anthropic", "gemini"])
        self.assertTrue(described["backends"][0]["endpoints"][0]["url"].startswith(DEAD_URL))

    def test_describe_never_shows_a_key(self):
        secret = "sk-secret-123456789"
        path = write_config(self, self.CONFIG)
        client = self.client(config_path=path, openai_api_key=secret)
        described = client.describe()
        openai = [b for b in described["backends"] if b["name"] == "openai"][0]
        self.assertEqual(openai["key"], "present")
        for text in strings_in(described):
            self.assertNotIn("123456789", text)
            self.assertNotIn("sk-secret", text)
        # Also the raw text the library wrote, not only what json.loads made of it.
        size = 1 << 16
        buf = ctypes.create_string_buffer(size)
        with client._borrow() as handle:
            length = _native.lib.ulm_client_describe(handle, buf, size)
        self.assertLess(length, size)
        self.assertNotIn(b"123456789", buf.raw)
        self.assertEqual(json.loads(buf.raw[:length]), described)
        without_key = self.client(config_path=path).describe()
        self.assertEqual([b["key"] for b in without_key["backends"]],
                         ["not needed", "absent", "absent", "absent"])

    def test_path_like_config_path(self):
        path = write_config(self, self.CONFIG)
        described = self.client(config_path=pathlib.Path(path)).describe()
        self.assertEqual(described["config_file"], path)
        self.assertEqual(described["aliases"]["fast"], self.FAST)
        with self.assertRaises(TypeError):
            offline_client(config_path=42)
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_path="ultra\0.json")
        self.assertIn("config_path", str(caught.exception))

    def test_no_config_file(self):
        self.assertIsNone(self.client().describe()["config_file"])
        self.assertIsNone(self.client(config_path="").describe()["config_file"])

    def test_the_alias_and_retries_drive_a_call(self):
        path = write_config(self, dict(self.CONFIG, default_model="fast"))
        client = self.client(config_path=path)
        self.assertEqual(client.default_model, "fast")
        for model in ("fast", None):
            with self.assertRaises(ultrallm.ConnectError) as caught:
                client.complete("hi", model=model)
            # One retry of the dead DMR (max_retries 1), then the alias's second target.
            self.assertEqual([(a.provider, a.error) for a in caught.exception.attempts],
                             [("dmr", "connect"), ("dmr", "connect"),
                              ("openai", "not_configured")])

    def test_an_error_in_the_file_names_the_file_line_and_path(self):
        path = write_config(self, '{\n  "models": {\n    "fast": ["opnai/x"]\n  }\n}\n')
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_path=path)
        error = caught.exception
        self.assertEqual((error.code, error.name), (ultrallm.ErrorCode.CONFIG, "config"))
        self.assertIn(path, str(error))
        self.assertIn('%s:3: models.fast[0]: unknown backend "opnai"' % path, str(error))

    def test_invalid_json_and_a_missing_file_name_the_file(self):
        path = write_config(self, '{\n  "retry": {"max_retries": }\n}\n')
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_path=path)
        self.assertIn(path + ":2:", str(caught.exception))
        missing = os.path.join(os.path.dirname(path), "missing.json")
        with self.assertRaises(ultrallm.ConfigError) as caught:
            offline_client(config_path=missing)
        self.assertIn(missing, str(caught.exception))

    def test_use_local_models_when_offline(self):
        for value, expected in ((None, True), (True, True), (False, False)):
            described = self.client(use_local_models_when_offline=value).describe()
            self.assertIs(described["offline"]["use_local_models"], expected, value)
            self.assertIs(described["offline"]["offline_now"], False)
        # The option wins over the file; None leaves the file's choice.
        path = write_config(self, {"offline": {"use_local_models": False}})
        for value, expected in ((None, False), (True, True), (False, False)):
            described = self.client(config_path=path,
                                    use_local_models_when_offline=value).describe()
            self.assertIs(described["offline"]["use_local_models"], expected, value)

    def test_ulm_config_is_read_unless_the_environment_is_ignored(self):
        path = write_config(self, self.CONFIG)
        other = write_config(self, {"retry": {"max_retries": 2}}, "other.json")
        with mock.patch.dict(os.environ, {"ULM_CONFIG": path}):
            with ultrallm.Client(model_runner_url=DEAD_URL) as client:
                self.assertEqual(client.describe()["config_file"], path)
            with ultrallm.Client(model_runner_url=DEAD_URL, config_path=other) as client:
                self.assertEqual(client.describe()["retry"]["max_retries"], 2)
            self.assertIsNone(self.client().describe()["config_file"])

    def test_reset_breakers_closes_an_open_circuit(self):
        config = {"breaker": {"failures": 1, "cooldown_ms": 86400000}}
        client = self.client(config_path=write_config(self, config))

        def dmr_breaker():
            return client.describe()["backends"][0]["endpoints"][0]["breaker"]

        with self.assertRaises(ultrallm.UltraLLMError):
            client.complete("hi", model="dmr/ai/smollm2")  # DEAD_URL refuses it
        self.assertEqual(dmr_breaker(), "open")
        with self.assertRaises(ultrallm.UltraLLMError) as caught:
            client.reset_breakers("nosuch")
        self.assertEqual(caught.exception.code, ultrallm.ErrorCode.INVALID_ARGUMENT)
        self.assertIn("nosuch", str(caught.exception))
        self.assertEqual(dmr_breaker(), "open")
        client.reset_breakers("dmr")
        self.assertEqual(dmr_breaker(), "closed")

    def test_describe_grows_its_buffer(self):
        client = self.client(config_path=write_config(self, self.CONFIG))
        expected = client.describe()
        for size in (1, 8, 64):
            with mock.patch.object(_client, "DESCRIBE_SIZE", size):
                self.assertEqual(client.describe(), expected)

    def test_describe_of_a_closed_client(self):
        client = offline_client()
        client.close()
        with self.assertRaises(ValueError):
            client.describe()


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
        self.assertIn("temperature 3 is out of range: 0 to 2", str(caught.exception))

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
        self.assertEqual(error.attempts[0].url, DEAD_URL + "/engines/v1")  # its API root
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

    def test_log_event_callback_gets_the_fields(self):
        events, lines = [], []
        with offline_client(log=lambda level, message: lines.append(message),
                            log_event=events.append,
                            log_level=ultrallm.LogLevel.INFO) as client:
            with self.assertRaises(ultrallm.ConnectError):
                client.complete("hi", model=["dmr/ai/smollm2", "openai/gpt-4o-mini"])
        self.assertEqual([e.message for e in events], lines)
        failed = next(e for e in events if e.event == "request.failed")
        self.assertEqual((failed.level, failed.backend, failed.model, failed.attempt,
                          failed.error_class, failed.http_status),
                         (ultrallm.LogLevel.WARN, "dmr", "ai/smollm2:latest", 1, "connect", 0))
        self.assertIsNotNone(failed.ms)
        fallback = next(e for e in events if e.event == "fallback")
        self.assertEqual((fallback.backend, fallback.attempt, fallback.error_class),
                         ("dmr", 2, "connect"))
        self.assertIsNone(fallback.ms)
        record = json.loads(fallback.to_json())
        self.assertTrue(fallback.to_json().endswith("}\n"))
        self.assertRegex(record.pop("time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(record, {"level": "info", "event": "fallback", "backend": "dmr",
                                  "model": "ai/smollm2:latest", "attempt": 2,
                                  "error_class": "connect", "message": fallback.message})

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
        req = _native.request_p()
        _native.lib.ulm_request_new(ctypes.byref(req))
        self.addCleanup(_native.lib.ulm_request_free, req)
        for clock in ultrallm.Clock:
            _native.lib.ulm_request_set_timeout(req, clock, 1)
            _native.lib.ulm_request_set_timeout(req, clock, _native.MAX_TIMEOUT_MS)
        for clock, ms in ((ultrallm.Clock.IDLE, _native.MAX_TIMEOUT_MS + 1),
                          (ultrallm.Clock.IDLE, 0), (0, 1000), (6, 1000)):
            with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
                _native.lib.ulm_request_set_timeout(req, clock, ms)
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
                         [("dmr", "connect"), ("openai", "not_configured"),
                          ("anthropic", "not_configured"), ("gemini", "not_configured")])
        self.assertEqual(len(listing.errors), 4)

    def test_models_reports_each_endpoint_url_and_time(self):
        dmr, openai, anthropic, gemini = self.client.models().backends
        self.assertTrue(dmr.url.startswith(DEAD_URL), dmr.url)
        # the defaults, not asked without a key
        self.assertEqual(openai.url, "https://api.openai.com/v1")
        self.assertEqual(anthropic.url, "https://api.anthropic.com")
        self.assertEqual(gemini.url, "https://generativelanguage.googleapis.com")
        for backend in (dmr, openai, anthropic, gemini):
            self.assertIsInstance(backend.ms, float)
            self.assertGreaterEqual(backend.ms, 0.0)

    def test_result_types_stay_backward_compatible(self):
        # The fields added with the configuration file come last and have defaults, so
        # code that builds these positionally still works.
        status = ultrallm.BackendStatus("dmr", True, None, ultrallm.ErrorCode.OK, "")
        self.assertEqual((status.url, status.ms), (None, 0.0))
        response = ultrallm.Response("hi", "stop", "dmr", "ai/x", None, 1.0, [], None)
        self.assertEqual((response.incomplete, response.offline), (False, False))


class ReprTests(unittest.TestCase):
    SECRET = "sk-secret-0123456789"

    def test_client_repr_never_shows_a_key(self):
        client = offline_client(openai_api_key=self.SECRET, anthropic_api_key=self.SECRET,
                                gemini_api_key=self.SECRET)
        self.addCleanup(client.close)
        for shown in (repr(client), str(client)):
            self.assertNotIn("0123456789", shown)
            self.assertIn("open", shown)
        client.close()
        self.assertIn("closed", repr(client))

    def test_error_repr_shows_the_fields_and_the_size_of_the_text(self):
        attempt = ultrallm.Attempt("dmr", "ai/x", False, "idle_timeout", -25, 200, 5.0,
                                   "dmr: stalled")
        error = _errors.error(ultrallm.ErrorCode.IDLE_TIMEOUT, "dmr: stalled", 200, "dmr",
                              [attempt], True, "Once upon a time")
        self.assertEqual(repr(error),
                         "IdleTimeoutError(name='idle_timeout', message='dmr: stalled', "
                         "http_status=200, provider='dmr', attempts=1, incomplete=True, "
                         "text=<16 characters>)")

    def test_response_repr_is_one_short_line(self):
        attempts = [ultrallm.Attempt("openai", "gpt-4o-mini", False, "connect", -6, 0, 1.0,
                                     "openai: refused"),
                    ultrallm.Attempt("dmr", "ai/x", True, None, 0, 200, 2.0, "")]
        response = ultrallm.Response("x" * 500, "stop", "dmr", "ai/x",
                                     ultrallm.Usage(1, 2, 3), 1.5, attempts,
                                     '{"raw": "body"}')
        shown = repr(response)
        self.assertNotIn("\n", shown)
        self.assertLess(len(shown), 400)
        self.assertIn("(500 characters)", shown)
        self.assertIn("attempts=[openai: connect, dmr: ok]", shown)
        self.assertIn("usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)",
                      shown)
        self.assertNotIn("raw", shown)
        listing = ultrallm.ModelList([("dmr", "ai/x")], [ultrallm.BackendStatus(
            "dmr", True, None, 0, ""), ultrallm.BackendStatus(
            "openai", False, "not_configured", -5, "openai: no key")])
        self.assertEqual(repr(listing),
                         "ModelList(models=1, backends=['dmr:ok', 'openai:not_configured'])")

    def test_results_are_frozen_dataclasses(self):
        usage = ultrallm.Usage(1, 2, 3)
        for cls in (ultrallm.Attempt, ultrallm.Usage, ultrallm.Response,
                    ultrallm.BackendStatus, ultrallm.ModelList):
            self.assertTrue(dataclasses.is_dataclass(cls), cls)
        self.assertEqual(usage, ultrallm.Usage(1, 2, 3))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            usage.total_tokens = 4


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
        self.assertIs(response.offline, False)

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
        self.assertIn("ai/stories260k:latest", listing.backends[0].models)
        self.assertEqual(listing.backends[0].name, "dmr")
        self.assertTrue(listing.backends[0].url.startswith(
            os.environ["ULM_TEST_DMR_URL"].rstrip("/")), listing.backends[0].url)
        self.assertGreater(listing.backends[0].ms, 0.0)

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


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_DMR_URL to a Docker Model Runner (or tests/servers/"
                     "dmr-server.mjs) serving ai/stories260k to run the offline mode tests")
class OfflineModeLiveTests(unittest.TestCase):
    """An OpenAI backend that refuses connections (a loopback port nothing listens on,
    declared not local, so that the test sends nothing off 127.0.0.0/8, DNS included), with
    its key in an environment variable named by the file, and a real local model."""

    KEY_VAR = "ULM_PY_TEST_OPENAI_KEY"
    # Variables the library reads that would otherwise leak in from the test's environment.
    LIBRARY_VARS = ("ULM_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "MODEL_RUNNER_URL",
                    "ENABLE_MODEL_RUNNER", "DEFAULT_LOCAL_MODEL", "AVAILABLE_LOCAL_MODELS",
                    "LOCAL_MODEL_TIMEOUT", "USE_LOCAL_MODELS_WHEN_OFFLINE")

    def setUp(self):
        self.path = write_config(self, {"backends": {"openai": {
            "type": "openai", "url": "http://127.0.0.1:1/v1", "local": False,
            "api_key_env": self.KEY_VAR}}})
        # The file's api_key_env is read from the environment, so ignore_environment stays
        # False; the variable exists only during the test (patch.dict restores os.environ).
        patcher = mock.patch.dict(os.environ, {self.KEY_VAR: "sk-test-0123456789"})
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in self.LIBRARY_VARS:
            os.environ.pop(name, None)

    def client(self, **options):
        client = ultrallm.Client(config_path=self.path, default_local_model="ai/stories260k",
                                 model_runner_url=os.environ["ULM_TEST_DMR_URL"],
                                 connect_timeout_ms=5000, **options)
        self.addCleanup(client.close)
        return client

    def test_an_unreachable_cloud_is_served_by_the_local_model(self):
        client = self.client()
        openai = [b for b in client.describe()["backends"] if b["name"] == "openai"][0]
        self.assertEqual(openai["key"], "present")
        self.assertEqual(openai["endpoints"][0]["url"], "http://127.0.0.1:1/v1")
        response = client.complete("Once upon a time", model="openai/gpt-4o-mini",
                                   max_tokens=8)
        self.assertIs(response.offline, True)
        self.assertEqual(response.provider, "dmr")
        self.assertTrue(response.model.startswith("ai/stories260k"), response.model)
        self.assertTrue(response.text)
        self.assertEqual([(a.provider, a.error) for a in response.attempts],
                         [("openai", "connect"), ("dmr", None)])
        self.assertIs(client.describe()["offline"]["offline_now"], True)
        # Now known to be offline: the next call skips the cloud and is offline too.
        again = client.complete("Once upon a time", model="openai/gpt-4o-mini", max_tokens=8)
        self.assertIs(again.offline, True)
        self.assertEqual(again.provider, "dmr")

    def test_offline_fallback_can_be_turned_off(self):
        client = self.client(use_local_models_when_offline=False)
        self.assertIs(client.describe()["offline"]["use_local_models"], False)
        with self.assertRaises(ultrallm.ConnectError) as caught:
            client.complete("Once upon a time", model="openai/gpt-4o-mini", max_tokens=8)
        self.assertEqual([(a.provider, a.error) for a in caught.exception.attempts],
                         [("openai", "connect")])


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

    def test_timings_of_an_answer(self):
        response = self.client_for("ok/0").complete("hi", model="openai/fault-model")
        self.assertGreaterEqual(response.connect_ms, 0)
        self.assertGreaterEqual(response.first_byte_ms, response.connect_ms)
        self.assertLessEqual(response.first_byte_ms, response.latency_ms)
        self.assertIsNone(response.first_token_ms)  # not streamed
        self.assertGreater(response.tokens_per_second, 0)
        self.assertEqual(response.retries, 0)
        self.assertIsNone(response.cost)  # no price configured: unknown, not 0
        streamed = self.client_for("slow/50").complete("hi", model="openai/fault-model",
                                                       on_delta=lambda piece: None)
        self.assertGreater(streamed.first_token_ms, 0)
        self.assertLessEqual(streamed.first_token_ms, streamed.latency_ms)

    def test_cost_and_retries_from_the_configuration(self):
        root = os.environ["ULM_TEST_FAULT_URL"].rstrip("/")
        config = {"backends": {"down": {"type": "openai", "url": DEAD_URL}},
                  "models": {"openai/fault-model": {"price": {"input_per_million": 1.5,
                                                              "output_per_million": 4}}},
                  "retry": {"max_retries": 0}, "offline": {"use_local_models": False}}
        with ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             config_json=config,
                             backend_settings={"openai": {"url": root + "/ok/0/v1",
                                                          "api_key": KEY},
                                               "down": {"api_key": KEY}}) as client:
            response = client.complete("hi", model=["down/m", "openai/fault-model"])
        # the fault server's usage: 7 prompt and 5 completion tokens
        self.assertAlmostEqual(response.cost, (7 * 1.5 + 5 * 4) / 1e6)
        self.assertEqual(response.retries, 1)
        self.assertEqual([a.error for a in response.attempts], ["connect", None])
        self.assertIn("cost=", repr(response))

    def test_a_backend_override_changes_the_url_of_one_call(self):
        root = os.environ["ULM_TEST_FAULT_URL"].rstrip("/")
        with ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             openai_base_url=DEAD_URL, openai_api_key=KEY,
                             use_local_models_when_offline=False) as client:
            with self.assertRaises(ultrallm.ConnectError):
                client.complete("hi", model="openai/fault-model")
            overrides = {"openai": {"base_url": root + "/ok/0/v1",
                                    "api_key": "sk-tenant-0123456789"}}
            response = client.complete("hi", model="openai/fault-model",
                                       backend_overrides=overrides)
            self.assertEqual(response.text, "".join(self.DELTAS))
            self.assertEqual(response.provider, "openai")
            pieces = []
            with client.stream("hi", model="openai/fault-model",
                               backend_overrides=overrides) as stream:
                pieces.extend(stream)
            self.assertEqual(pieces, self.DELTAS)
            # the override was this call's only: the client's URL is still the dead one
            with self.assertRaises(ultrallm.ConnectError):
                client.complete("hi", model="openai/fault-model")

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


@unittest.skipUnless(os.environ.get("ULM_TEST_REPLAY_URL"),
                     "set ULM_TEST_REPLAY_URL to tests/servers/replay-server.mjs to run the "
                     "Anthropic and Gemini tests")
class CloudReplayTests(unittest.TestCase):
    TEXT = "Hello from the replay server! Ünïcödé 🙂 done."

    def client_for(self, scenario):
        root = os.environ["ULM_TEST_REPLAY_URL"].rstrip("/")
        client = ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                                 anthropic_api_key="sk-ant-test-0123456789",
                                 anthropic_base_url="%s/anthropic/%s" % (root, scenario),
                                 gemini_api_key="gemini-test-0123456789",
                                 gemini_base_url="%s/gemini/%s" % (root, scenario))
        self.addCleanup(client.close)
        return client

    def test_keys_and_urls_given_as_options_reach_both_providers(self):
        client = self.client_for("ok")
        for model in ("anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"):
            chunks = []
            response = client.complete("hi", model=model, on_delta=chunks.append)
            self.assertEqual(response.text, self.TEXT)
            self.assertEqual("".join(chunks), self.TEXT)
            self.assertEqual(response.provider, model.split("/")[0])
            self.assertEqual((response.usage.prompt_tokens, response.usage.completion_tokens),
                             (12, 9))

    def test_a_blocked_prompt_raises_content_filter_error(self):
        with self.assertRaises(ultrallm.ContentFilterError) as caught:
            self.client_for("blocked").complete("hi", model="gemini/gemini-2.5-flash")
        self.assertFalse(caught.exception.retryable)
        self.assertIn("prompt blocked", str(caught.exception))

    def test_an_overloaded_anthropic_is_unavailable(self):
        with self.assertRaises(ultrallm.UnavailableError) as caught:
            self.client_for("overloaded").complete("hi", model="anthropic/claude-haiku-4-5")
        self.assertEqual(caught.exception.http_status, 529)
        for shown in (str(caught.exception), repr(caught.exception)):
            self.assertNotIn("sk-ant-test", shown)


if __name__ == "__main__":
    unittest.main()
