"""The C side: the library's structs and callback types, and one table of every C
function this package calls (name, argtypes, restype, errcheck), applied to the library
_loader found; a library of another major version or lacking a function is refused."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional

from ._errors import LibraryLoadError, check_client_new, check_code, check_complete
from ._loader import Loaded, load

# The C library's major version this package was written against; a library of another
# major version may have changed any signature below, so it is refused at import.
SUPPORTED_MAJOR = 0
OPTIONS_VERSION = 3         # ULM_CLIENT_OPTIONS_VERSION, the layout ClientOptions mirrors
ERROR_SIZE = 512            # ULM_ERROR_SIZE
MAX_TIMEOUT_MS = 86400000   # the longest clock ulm_request_set_timeout() accepts, 24 h


class Client(ctypes.Structure):
    """Opaque ulm_client; distinct pointer types let ctypes refuse a mixed-up handle."""


class Request(ctypes.Structure):
    """Opaque ulm_request."""


class Response(ctypes.Structure):
    """Opaque ulm_response."""


class Attempt(ctypes.Structure):
    """Opaque ulm_attempt."""


class ModelList(ctypes.Structure):
    """Opaque ulm_model_list."""


class Cancel(ctypes.Structure):
    """Opaque ulm_cancel."""


# void (*ulm_log_fn)(int level, const char *message, void *payload)
LogFn = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

# int (*ulm_delta_fn)(const char *text, size_t length, void *payload); the text is not
# NUL-terminated, so a void pointer read by length: c_char_p would run past its end.
DeltaFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class ClientOptions(ctypes.Structure):
    """struct ulm_client_options, version 3: same fields, same order, same C types."""
    _fields_ = [
        ("version", ctypes.c_uint),
        ("log_fn", LogFn),
        ("log_payload", ctypes.c_void_p),
        ("log_level", ctypes.c_int),
        ("ignore_environment", ctypes.c_int),
        ("openai_api_key", ctypes.c_char_p),
        ("openai_base_url", ctypes.c_char_p),
        ("enable_model_runner", ctypes.c_int),
        ("model_runner_url", ctypes.c_char_p),
        ("default_local_model", ctypes.c_char_p),
        ("available_local_models", ctypes.c_char_p),
        ("local_model_timeout_ms", ctypes.c_long),
        ("timeout_ms", ctypes.c_long),
        ("connect_timeout_ms", ctypes.c_long),
        ("max_response_bytes", ctypes.c_size_t),
        ("max_idle_connections", ctypes.c_uint),
        # Fields above exist since version 1.
        ("first_token_timeout_ms", ctypes.c_long),
        ("idle_timeout_ms", ctypes.c_long),
        ("max_event_line_bytes", ctypes.c_size_t),
        ("max_event_bytes", ctypes.c_size_t),
        ("config_path", ctypes.c_char_p),
        ("use_local_models_when_offline", ctypes.c_int),
        # Fields above exist since version 2.
        ("anthropic_api_key", ctypes.c_char_p),
        ("anthropic_base_url", ctypes.c_char_p),
        ("gemini_api_key", ctypes.c_char_p),
        ("gemini_base_url", ctypes.c_char_p),
    ]


_c_int, _c_uint, _c_long, _c_size_t = ctypes.c_int, ctypes.c_uint, ctypes.c_long, ctypes.c_size_t
_c_double, _c_str = ctypes.c_double, ctypes.c_char_p
_P = ctypes.POINTER
client_p, request_p, response_p = _P(Client), _P(Request), _P(Response)
attempt_p, list_p, cancel_p = _P(Attempt), _P(ModelList), _P(Cancel)

_Check = Optional[Callable[[int, Any, "tuple[Any, ...]"], int]]

# (name, argtypes, restype, errcheck) of every C function this package calls.
FUNCTIONS: tuple[tuple[str, tuple[Any, ...], Any, _Check], ...] = (
    ("ulm_version_number", (), _c_uint, None),
    ("ulm_version_string", (), _c_str, None),
    ("ulm_strerror", (_c_int,), _c_str, None),
    ("ulm_error_name", (_c_int,), _c_str, None),
    ("ulm_error_is_retryable", (_c_int,), _c_int, None),

    ("ulm_client_options_init", (_P(ClientOptions), _c_uint), _c_int, check_code),
    ("ulm_client_new", (_P(client_p), _P(ClientOptions), _c_str, _c_size_t), _c_int,
     check_client_new),
    ("ulm_client_free", (client_p,), None, None),
    ("ulm_client_default_model", (client_p,), _c_str, None),
    # The buffer is written by the library, so a pointer to char rather than c_char_p.
    ("ulm_client_describe", (client_p, _P(ctypes.c_char), _c_size_t), _c_size_t, None),

    ("ulm_request_new", (_P(request_p),), _c_int, check_code),
    ("ulm_request_free", (request_p,), None, None),
    ("ulm_request_add_model", (request_p, _c_str), _c_int, check_code),
    ("ulm_request_add_message", (request_p, _c_int, _c_str), _c_int, check_code),
    ("ulm_request_set_temperature", (request_p, _c_double), _c_int, check_code),
    ("ulm_request_set_top_p", (request_p, _c_double), _c_int, check_code),
    ("ulm_request_set_max_tokens", (request_p, _c_long), _c_int, check_code),
    ("ulm_request_set_seed", (request_p, ctypes.c_int64), _c_int, check_code),
    ("ulm_request_add_stop", (request_p, _c_str), _c_int, check_code),
    ("ulm_request_set_on_delta", (request_p, DeltaFn, ctypes.c_void_p), _c_int, check_code),
    ("ulm_request_set_timeout", (request_p, _c_int, _c_long), _c_int, check_code),
    ("ulm_request_set_cancel", (request_p, cancel_p), _c_int, check_code),

    ("ulm_cancel_new", (_P(cancel_p),), _c_int, check_code),
    ("ulm_cancel_free", (cancel_p,), None, None),
    ("ulm_cancel_trigger", (cancel_p,), None, None),
    ("ulm_cancel_triggered", (cancel_p,), _c_int, None),

    ("ulm_complete", (_P(response_p), client_p, request_p), _c_int, check_complete),
    ("ulm_response_free", (response_p,), None, None),
    ("ulm_response_error", (response_p,), _c_int, None),
    ("ulm_response_error_message", (response_p,), _c_str, None),
    ("ulm_response_http_status", (response_p,), _c_int, None),
    # The text is read by length, so a void pointer: c_char_p would stop at a NUL.
    ("ulm_response_text", (response_p,), ctypes.c_void_p, None),
    ("ulm_response_text_length", (response_p,), _c_size_t, None),
    ("ulm_response_finish_reason", (response_p,), _c_int, None),
    ("ulm_finish_reason_name", (_c_int,), _c_str, None),
    ("ulm_response_prompt_tokens", (response_p,), _c_long, None),
    ("ulm_response_completion_tokens", (response_p,), _c_long, None),
    ("ulm_response_total_tokens", (response_p,), _c_long, None),
    ("ulm_response_provider", (response_p,), _c_str, None),
    ("ulm_response_model", (response_p,), _c_str, None),
    ("ulm_response_latency_ms", (response_p,), _c_double, None),
    ("ulm_response_raw_json", (response_p,), _c_str, None),
    ("ulm_response_incomplete", (response_p,), _c_int, None),
    ("ulm_response_offline", (response_p,), _c_int, None),
    ("ulm_response_attempt_count", (response_p,), _c_size_t, None),
    ("ulm_response_attempt", (response_p, _c_size_t), attempt_p, None),
    ("ulm_attempt_provider", (attempt_p,), _c_str, None),
    ("ulm_attempt_model", (attempt_p,), _c_str, None),
    ("ulm_attempt_error", (attempt_p,), _c_int, None),
    ("ulm_attempt_http_status", (attempt_p,), _c_int, None),
    ("ulm_attempt_ms", (attempt_p,), _c_double, None),
    ("ulm_attempt_error_message", (attempt_p,), _c_str, None),

    ("ulm_list_models", (_P(list_p), client_p), _c_int, check_code),
    ("ulm_model_list_free", (list_p,), None, None),
    ("ulm_model_list_count", (list_p,), _c_size_t, None),
    ("ulm_model_list_provider", (list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_id", (list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_count", (list_p,), _c_size_t, None),
    ("ulm_model_list_backend_name", (list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_url", (list_p, _c_size_t), _c_str, None),
    ("ulm_model_list_backend_ms", (list_p, _c_size_t), _c_double, None),
    ("ulm_model_list_backend_error", (list_p, _c_size_t), _c_int, None),
    ("ulm_model_list_backend_message", (list_p, _c_size_t), _c_str, None),
)


def _bind(loaded: Loaded) -> ctypes.CDLL:
    lib = loaded.lib
    missing = []
    for name, argtypes, restype, errcheck in FUNCTIONS:
        try:
            func = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        func.argtypes = argtypes
        func.restype = restype
        if errcheck is not None:
            func.errcheck = errcheck
    # Checked before the missing names: another major version explains them better.
    if "ulm_version_number" not in missing:
        number: int = lib.ulm_version_number()
        if number // 10000 != SUPPORTED_MAJOR:
            raise LibraryLoadError(
                "ultrallm: %s (%s) is libultrallm %d.%d.%d; this package needs major version "
                "%d" % (loaded.path, loaded.origin, number // 10000, number // 100 % 100,
                        number % 100, SUPPORTED_MAJOR))
    if missing:
        raise LibraryLoadError("ultrallm: %s (%s) lacks %s"
                               % (loaded.path, loaded.origin, ", ".join(missing)))
    return lib


LIBRARY = load()
lib = _bind(LIBRARY)
