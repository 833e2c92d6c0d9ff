"""The C side: the library's structs and callback types, and one table of every C
function this package calls (name, argtypes, restype, errcheck), applied to the library
_loader found; a library of another major version or lacking a function is refused."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional

from ._errors import (LibraryLoadError, check_client_new, check_code, check_complete,
                      check_errbuf, check_override, check_request, check_round_run)
from ._loader import Loaded, load

# The C library's major version this package was written against; a library of another
# major version may have changed any signature below, so it is refused at import.
SUPPORTED_MAJOR = 0
OPTIONS_VERSION = 5         # ULM_CLIENT_OPTIONS_VERSION, the layout ClientOptions mirrors
ROUND_OPTIONS_VERSION = 2   # ULM_ROUND_OPTIONS_VERSION, the layout RoundOptions mirrors
PULL_PROGRESS_VERSION = 1   # ULM_PULL_PROGRESS_VERSION, the layout PullProgressStruct mirrors
LOG_EVENT_VERSION = 1       # ULM_LOG_EVENT_VERSION, the layout LogEventStruct mirrors
LOG_JSON_SIZE = 4096        # ULM_LOG_JSON_SIZE: a JSON-lines record always fits
ROUND_MAX_MEMBERS = 64      # ULM_ROUND_MAX_MEMBERS
ERROR_SIZE = 512            # ULM_ERROR_SIZE
MAX_TIMEOUT_MS = 86400000   # the longest clock ulm_request_set_timeout() accepts, 24 h
METRICS_PROMETHEUS = 1      # ULM_METRICS_PROMETHEUS
METRICS_JSON = 2            # ULM_METRICS_JSON


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


class Round(ctypes.Structure):
    """Opaque ulm_round."""


class DmrModels(ctypes.Structure):
    """Opaque ulm_dmr_models."""


class DmrRunners(ctypes.Structure):
    """Opaque ulm_dmr_runners."""


# void (*ulm_log_fn)(int level, const char *message, void *payload)
LogFn = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

class LogEventStruct(ctypes.Structure):
    """struct ulm_log_event, version 1 (the library may append fields: only these are
    read)."""
    _fields_ = [
        ("version", ctypes.c_uint),
        ("level", ctypes.c_int),
        ("event", ctypes.c_char_p),
        ("message", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("model", ctypes.c_char_p),
        ("attempt", ctypes.c_uint),
        ("error_class", ctypes.c_char_p),
        ("http_status", ctypes.c_int),
        ("ms", ctypes.c_double),
    ]


# void (*ulm_log_event_fn)(const ulm_log_event *event, void *payload)
LogEventFn = ctypes.CFUNCTYPE(None, ctypes.POINTER(LogEventStruct), ctypes.c_void_p)

# int (*ulm_delta_fn)(const char *text, size_t length, void *payload); the text is not
# NUL-terminated, so a void pointer read by length: c_char_p would run past its end.
DeltaFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class BackendSetting(ctypes.Structure):
    """struct ulm_backend_setting: one setting ("api_key", "url") of one backend."""
    _fields_ = [
        ("backend", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("value", ctypes.c_char_p),
    ]


class ClientOptions(ctypes.Structure):
    """struct ulm_client_options, version 5: same fields, same order, same C types."""
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
        # Fields above exist since version 3.
        ("config_json", ctypes.c_char_p),
        ("backend_settings", ctypes.POINTER(BackendSetting)),
        ("backend_setting_count", ctypes.c_size_t),
        # Fields above exist since version 4.
        ("log_event_fn", LogEventFn),
        ("log_event_payload", ctypes.c_void_p),
    ]


# int (*ulm_member_delta_fn)(size_t member, const char *text, size_t length, void *payload)
MemberDeltaFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.c_void_p)

# int (*ulm_member_done_fn)(const ulm_round *round, size_t member, void *payload)
MemberDoneFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(Round), ctypes.c_size_t,
                                ctypes.c_void_p)

# void (*ulm_member_state_fn)(size_t member, int state, void *payload)
MemberStateFn = ctypes.CFUNCTYPE(None, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p)


class RoundOptions(ctypes.Structure):
    """struct ulm_round_options, version 2: same fields, same order, same C types."""
    _fields_ = [
        ("version", ctypes.c_uint),
        ("quorum", ctypes.c_size_t),
        ("timeout_ms", ctypes.c_long),
        ("take_what_arrived", ctypes.c_int),
        ("on_delta", MemberDeltaFn),
        ("delta_payload", ctypes.c_void_p),
        ("on_member_done", MemberDoneFn),
        ("done_payload", ctypes.c_void_p),
        ("synthesize", ctypes.c_char_p),
        ("synthesis_template", ctypes.c_char_p),
        ("anonymize", ctypes.c_int),
        ("answer_budget_bytes", ctypes.c_size_t),
        ("synthesis_share_pct", ctypes.c_uint),
        ("synthesis_on_delta", DeltaFn),
        ("synthesis_payload", ctypes.c_void_p),
        ("shuffle_seed", ctypes.c_uint64),
        ("on_member_state", MemberStateFn),
        ("state_payload", ctypes.c_void_p),
    ]


class PullProgressStruct(ctypes.Structure):
    """struct ulm_pull_progress, version 1 (the library may append fields: only these are
    read)."""
    _fields_ = [
        ("version", ctypes.c_uint),
        ("model", ctypes.c_char_p),
        ("percent", ctypes.c_double),
        ("done_bytes", ctypes.c_uint64),
        ("total_bytes", ctypes.c_uint64),
        ("layers", ctypes.c_size_t),
        ("layers_done", ctypes.c_size_t),
        ("finished", ctypes.c_int),
        ("cached", ctypes.c_int),
    ]


# int (*ulm_pull_progress_fn)(const ulm_pull_progress *progress, void *payload)
PullProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(PullProgressStruct),
                                  ctypes.c_void_p)


_c_int, _c_uint, _c_long, _c_size_t = ctypes.c_int, ctypes.c_uint, ctypes.c_long, ctypes.c_size_t
_c_double, _c_str = ctypes.c_double, ctypes.c_char_p
_P = ctypes.POINTER
client_p, request_p, response_p = _P(Client), _P(Request), _P(Response)
attempt_p, list_p, cancel_p = _P(Attempt), _P(ModelList), _P(Cancel)
round_p, dmr_models_p, dmr_runners_p = _P(Round), _P(DmrModels), _P(DmrRunners)
_errbuf = _P(ctypes.c_char)  # a buffer the library writes a message into

_Check = Optional[Callable[[int, Any, "tuple[Any, ...]"], int]]

# (name, argtypes, restype, errcheck) of every C function this package calls.
FUNCTIONS: tuple[tuple[str, tuple[Any, ...], Any, _Check], ...] = (
    ("ulm_version_number", (), _c_uint, None),
    ("ulm_version_string", (), _c_str, None),
    ("ulm_strerror", (_c_int,), _c_str, None),
    ("ulm_error_name", (_c_int,), _c_str, None),
    ("ulm_error_is_retryable", (_c_int,), _c_int, None),
    # The buffer is written by the library, so a pointer to char rather than c_char_p.
    ("ulm_log_event_json", (_P(LogEventStruct), _P(ctypes.c_char), _c_size_t), _c_size_t, None),

    ("ulm_client_options_init", (_P(ClientOptions), _c_uint), _c_int, check_code),
    ("ulm_client_new", (_P(client_p), _P(ClientOptions), _c_str, _c_size_t), _c_int,
     check_client_new),
    ("ulm_client_free", (client_p,), None, None),
    ("ulm_client_default_model", (client_p,), _c_str, None),
    # The buffer is written by the library, so a pointer to char rather than c_char_p.
    ("ulm_client_describe", (client_p, _P(ctypes.c_char), _c_size_t), _c_size_t, None),
    ("ulm_client_metrics", (client_p, _c_int, _P(ctypes.c_char), _c_size_t), _c_size_t, None),
    ("ulm_client_reset_breakers", (client_p, _c_str), _c_int, None),

    ("ulm_request_new", (_P(request_p),), _c_int, check_code),
    ("ulm_request_free", (request_p,), None, None),
    ("ulm_request_error_message", (request_p,), _c_str, None),
    ("ulm_request_add_model", (request_p, _c_str), _c_int, check_request),
    ("ulm_request_add_message", (request_p, _c_int, _c_str), _c_int, check_request),
    ("ulm_request_set_temperature", (request_p, _c_double), _c_int, check_request),
    ("ulm_request_set_top_p", (request_p, _c_double), _c_int, check_request),
    ("ulm_request_set_max_tokens", (request_p, _c_long), _c_int, check_request),
    ("ulm_request_set_seed", (request_p, ctypes.c_int64), _c_int, check_code),
    ("ulm_request_add_stop", (request_p, _c_str), _c_int, check_request),
    ("ulm_request_set_on_delta", (request_p, DeltaFn, ctypes.c_void_p), _c_int, check_code),
    ("ulm_request_set_timeout", (request_p, _c_int, _c_long), _c_int, check_request),
    ("ulm_request_set_cancel", (request_p, cancel_p), _c_int, check_code),
    # Its own check: the common one would show the arguments, and one of them is a key.
    ("ulm_request_set_backend_override", (request_p, _c_str, _c_str, _c_str), _c_int,
     check_override),
    ("ulm_request_add_input", (request_p, _c_str), _c_int, check_request),

    ("ulm_cancel_new", (_P(cancel_p),), _c_int, check_code),
    ("ulm_cancel_free", (cancel_p,), None, None),
    ("ulm_cancel_trigger", (cancel_p,), None, None),
    ("ulm_cancel_triggered", (cancel_p,), _c_int, None),

    ("ulm_complete", (_P(response_p), client_p, request_p), _c_int, check_complete),
    ("ulm_response_free", (response_p,), None, None),
    ("ulm_embed", (_P(response_p), client_p, request_p), _c_int, check_complete),
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
    ("ulm_response_connect_ms", (response_p,), _c_double, None),
    ("ulm_response_first_byte_ms", (response_p,), _c_double, None),
    ("ulm_response_first_token_ms", (response_p,), _c_double, None),
    ("ulm_response_tokens_per_second", (response_p,), _c_double, None),
    ("ulm_response_retries", (response_p,), _c_size_t, None),
    ("ulm_response_cost", (response_p,), _c_double, None),
    ("ulm_response_embedding_count", (response_p,), _c_size_t, None),
    ("ulm_response_dimensions", (response_p,), _c_size_t, None),
    ("ulm_response_embedding", (response_p, _c_size_t), _P(ctypes.c_float), None),
    ("ulm_response_attempt_count", (response_p,), _c_size_t, None),
    ("ulm_response_attempt", (response_p, _c_size_t), attempt_p, None),
    ("ulm_attempt_provider", (attempt_p,), _c_str, None),
    ("ulm_attempt_model", (attempt_p,), _c_str, None),
    ("ulm_attempt_error", (attempt_p,), _c_int, None),
    ("ulm_attempt_http_status", (attempt_p,), _c_int, None),
    ("ulm_attempt_ms", (attempt_p,), _c_double, None),
    ("ulm_attempt_error_message", (attempt_p,), _c_str, None),
    ("ulm_attempt_url", (attempt_p,), _c_str, None),

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
    ("ulm_model_list_backend_model_count", (list_p, _c_size_t), _c_size_t, None),
    ("ulm_model_list_backend_model", (list_p, _c_size_t, _c_size_t), _c_str, None),

    ("ulm_round_options_init", (_P(RoundOptions), _c_uint), _c_int, check_code),
    ("ulm_round_run", (_P(round_p), client_p, request_p, _P(_c_str), _c_size_t,
                       _P(RoundOptions)), _c_int, check_round_run),
    ("ulm_round_free", (round_p,), None, None),
    ("ulm_round_error", (round_p,), _c_int, None),
    ("ulm_round_error_message", (round_p,), _c_str, None),
    ("ulm_round_latency_ms", (round_p,), _c_double, None),
    ("ulm_round_member_count", (round_p,), _c_size_t, None),
    ("ulm_round_member_spec", (round_p, _c_size_t), _c_str, None),
    # Responses the round owns: read, never freed.
    ("ulm_round_member", (round_p, _c_size_t), response_p, None),
    ("ulm_round_member_label", (round_p, _c_size_t), _c_str, None),
    ("ulm_round_member_truncated", (round_p, _c_size_t), _c_int, None),
    ("ulm_round_finished_count", (round_p,), _c_size_t, None),
    ("ulm_round_finished", (round_p, _c_size_t), _c_size_t, None),
    ("ulm_round_agreement", (round_p, _c_size_t, _c_size_t), _c_double, None),
    ("ulm_round_member_dissents", (round_p, _c_size_t), _c_int, None),
    ("ulm_round_cost", (round_p,), _c_double, None),
    ("ulm_round_synthesis", (round_p,), response_p, None),

    ("ulm_dmr_pull", (client_p, _c_str, _c_str, PullProgressFn, ctypes.c_void_p, cancel_p,
                      _errbuf, _c_size_t), _c_int, check_errbuf),
    ("ulm_dmr_list", (_P(dmr_models_p), client_p, _c_str, _errbuf, _c_size_t), _c_int,
     check_errbuf),
    ("ulm_dmr_models_free", (dmr_models_p,), None, None),
    ("ulm_dmr_models_count", (dmr_models_p,), _c_size_t, None),
    ("ulm_dmr_models_id", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_tag_count", (dmr_models_p, _c_size_t), _c_size_t, None),
    ("ulm_dmr_models_tag", (dmr_models_p, _c_size_t, _c_size_t), _c_str, None),
    ("ulm_dmr_models_format", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_quantization", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_parameters", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_architecture", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_size", (dmr_models_p, _c_size_t), _c_str, None),
    ("ulm_dmr_models_context_size", (dmr_models_p, _c_size_t), _c_long, None),
    ("ulm_dmr_ps", (_P(dmr_runners_p), client_p, _c_str, _errbuf, _c_size_t), _c_int,
     check_errbuf),
    ("ulm_dmr_runners_free", (dmr_runners_p,), None, None),
    ("ulm_dmr_runners_count", (dmr_runners_p,), _c_size_t, None),
    ("ulm_dmr_runners_model", (dmr_runners_p, _c_size_t), _c_str, None),
    ("ulm_dmr_runners_engine", (dmr_runners_p, _c_size_t), _c_str, None),
    ("ulm_dmr_runners_mode", (dmr_runners_p, _c_size_t), _c_str, None),
    ("ulm_dmr_runners_in_use", (dmr_runners_p, _c_size_t), _c_int, None),
    ("ulm_dmr_runners_loading", (dmr_runners_p, _c_size_t), _c_int, None),
    ("ulm_dmr_runners_last_used", (dmr_runners_p, _c_size_t), _c_str, None),
    ("ulm_dmr_runners_keep_alive", (dmr_runners_p, _c_size_t), _c_str, None),
    ("ulm_dmr_unload", (client_p, _c_str, _c_str, _P(_c_long), _errbuf, _c_size_t), _c_int,
     check_errbuf),
    ("ulm_dmr_remove", (client_p, _c_str, _c_str, _c_int, _errbuf, _c_size_t), _c_int,
     check_errbuf),
    ("ulm_dmr_preload", (client_p, _c_str, _c_str, _c_long, _c_str, _errbuf, _c_size_t), _c_int,
     check_errbuf),
    # No errcheck: a runner that does not answer still gives text (ulm_dmr_up 0); _dmr
    # raises only when nothing was written.
    ("ulm_dmr_metrics", (client_p, _c_str, _P(ctypes.c_char), _c_size_t, _P(_c_size_t), _errbuf,
                         _c_size_t), _c_int, None),
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
