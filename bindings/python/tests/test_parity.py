"""The parity check: every function of libultrallm's public C API has a Python binding, or
is listed in DELIBERATELY_UNBOUND with the reason it has none. A function the C library
gains fails this test until it is bound or listed; the failure says how to do either.

The public API is every ULM_EXTERN declaration of include/ultrallm/*.h and every ulm_
symbol the loaded library exports (nm -D). A function is bound when ultrallm/_native.py
declares it in FUNCTIONS and another module of the package calls it.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_parity.py -v
"""

import os
import pathlib
import re
import shutil
import subprocess
import unittest

import ultrallm
from ultrallm import _native

REPO = pathlib.Path(__file__).resolve().parents[3]
HEADERS = REPO / "include" / "ultrallm"
PACKAGE_DIR = pathlib.Path(ultrallm.__file__).resolve().parent

_READ_BACK = ("reads a request back, for adapters (provider.h); Python builds requests "
              "with Client.complete(), compare() and embed() and never reads one")
_ADAPTER = ("adapter API (provider.h), called by a C adapter's build(), parse() or "
            "parse_event() on objects the core hands it; an adapter is C code, so there is "
            "no such object in Python")

# name -> why Python has no binding of it.
DELIBERATELY_UNBOUND = {
    "ulm_request_message_count": _READ_BACK,
    "ulm_request_message_role": _READ_BACK,
    "ulm_request_message_content": _READ_BACK,
    "ulm_request_temperature": _READ_BACK,
    "ulm_request_top_p": _READ_BACK,
    "ulm_request_max_tokens": _READ_BACK,
    "ulm_request_seed": _READ_BACK,
    "ulm_request_stop_count": _READ_BACK,
    "ulm_request_stop": _READ_BACK,
    "ulm_request_input_count": _READ_BACK,
    "ulm_request_input": _READ_BACK,
    "ulm_round_delta_member": ("for a C request's own on_delta inside a round; the binding "
                               "streams a round through the round's on_delta, which passes "
                               "the member with each delta already"),
    "ulm_client_add_provider": ("takes a C vtable of function pointers (struct ulm_provider) "
                                "whose adapter must be C: it is called on the threads of the "
                                "calls, with objects only the adapter API reads"),
    "ulm_http_request_set_target": _ADAPTER,
    "ulm_http_request_add_header": _ADAPTER,
    "ulm_http_request_set_body": _ADAPTER,
    "ulm_http_response_status": _ADAPTER,
    "ulm_http_response_body": _ADAPTER,
    "ulm_http_response_content_type": _ADAPTER,
    "ulm_sse_event_name": _ADAPTER,
    "ulm_sse_event_data": _ADAPTER,
    "ulm_result_set_text": _ADAPTER,
    "ulm_result_set_finish_reason": _ADAPTER,
    "ulm_result_append_text": _ADAPTER,
    "ulm_result_end_stream": _ADAPTER,
    "ulm_result_set_usage": _ADAPTER,
    "ulm_result_set_model": _ADAPTER,
    "ulm_result_add_model_id": _ADAPTER,
    "ulm_result_add_embedding": _ADAPTER,
    "ulm_result_set_context_window": _ADAPTER,
    "ulm_result_set_error": _ADAPTER,
    "ulm_result_set_retry_after_ms": _ADAPTER,
    "ulm_result_error": _ADAPTER,
    "ulm_result_error_text": _ADAPTER,
    "ulm_result_model": _ADAPTER,
    "ulm_http_request_take_body": _ADAPTER,
    "ulm_text_append": _ADAPTER,
    "ulm_text_appendf": _ADAPTER,
    "ulm_text_append_json_string": _ADAPTER,
    "ulm_text_free": _ADAPTER,
    "ulm_error_from_http_status": ("classifies an HTTP status for an adapter's parse(); "
                                   "Python receives the class already, as the exception"),
}

HOW_TO_FIX = """
For each of them, either
  - bind it: add (name, argtypes, restype, errcheck) to FUNCTIONS in
    bindings/python/ultrallm/_native.py, call it from a public class or function of the
    package (with type hints, exported from ultrallm/__init__.py, used in
    examples/everything.py, documented in bindings/python/README.md), and test it; or
  - if Python users should not call it, add it to DELIBERATELY_UNBOUND in
    bindings/python/tests/test_parity.py with the reason."""


def declared_in_headers():
    """ulm_ function name -> the header that declares it."""
    functions = {}
    for header in sorted(HEADERS.glob("*.h")):
        text = header.read_text(encoding="utf-8")
        for name in re.findall(r"\bULM_EXTERN\b[^;{]*?\b(ulm_\w+)\s*\(", text):
            functions[name] = "include/ultrallm/" + header.name
    return functions


def exported_by_library():
    """The ulm_ symbols the loaded library exports, or None when nm cannot tell."""
    path = _native.LIBRARY.path
    nm = shutil.which("nm")
    if nm is None or not os.path.isabs(path):
        return None
    result = subprocess.run([nm, "-D", "--defined-only", path], capture_output=True,
                            text=True, check=True, timeout=60)
    return {fields[2] for fields in map(str.split, result.stdout.splitlines())
            if len(fields) == 3 and fields[2].startswith("ulm_")}


def called_by_the_package():
    """The text of every module of the package but _native, which only declares."""
    return "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE_DIR.glob("*.py")
                     if path.name != "_native.py")


class ParityTests(unittest.TestCase):
    def setUp(self):
        if not HEADERS.is_dir():
            self.skipTest("no %s: run the tests from the repository" % HEADERS)
        self.api = declared_in_headers()
        exported = exported_by_library()
        for name in sorted((exported or set()) - set(self.api)):
            self.api[name] = "exported by %s, declared in no header" % _native.LIBRARY.path
        self.declared = [entry[0] for entry in _native.FUNCTIONS]

    def test_the_api_is_found(self):
        # A parser that found nothing would make every other test pass.
        self.assertIn("ulm_complete", self.api)
        self.assertIn("ulm_client_add_provider", self.api)
        self.assertGreater(len(self.api), 50)

    def test_every_c_function_is_bound_or_deliberately_unbound(self):
        missing = [name for name in sorted(self.api)
                   if name not in self.declared and name not in DELIBERATELY_UNBOUND]
        if missing:
            self.fail("libultrallm functions without a Python binding:\n%s%s" % (
                "\n".join("  %s (%s)" % (name, self.api[name]) for name in missing),
                HOW_TO_FIX))

    def test_every_declared_function_is_called(self):
        text = called_by_the_package()
        unused = [name for name in self.declared if not re.search(r"\b%s\b" % name, text)]
        self.assertEqual(unused, [], "declared in _native.FUNCTIONS but called by no module "
                         "of the package: call them from the public API or remove them")

    def test_every_declared_function_is_in_the_api(self):
        unknown = [name for name in self.declared if name not in self.api]
        self.assertEqual(unknown, [], "declared in _native.FUNCTIONS but not part of the "
                         "public C API (a renamed or removed function?)")

    def test_the_unbound_list_stays_true(self):
        stale = sorted(set(DELIBERATELY_UNBOUND) - set(self.api))
        self.assertEqual(stale, [], "listed in DELIBERATELY_UNBOUND but no longer in the C "
                         "API: remove them from the list")
        bound = sorted(set(DELIBERATELY_UNBOUND) & set(self.declared))
        self.assertEqual(bound, [], "listed in DELIBERATELY_UNBOUND but bound in _native: "
                         "remove them from the list")
        for name, reason in DELIBERATELY_UNBOUND.items():
            self.assertTrue(reason.strip(), "%s is listed without a reason" % name)


if __name__ == "__main__":
    unittest.main()
