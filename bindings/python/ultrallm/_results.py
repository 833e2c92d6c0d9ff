"""What a call returns: the result classes, and how each is read from the library's
response or model list."""

from __future__ import annotations

import ctypes
import dataclasses
from typing import Any, Iterator, Optional, Union

from ._convert import text
from ._enums import ErrorCode, enum_or_int
from ._errors import error, error_name
from ._native import lib

# How much of a text a repr shows.
_REPR_TEXT = 60


def _trail(attempts: list[Attempt]) -> str:
    return "[%s]" % ", ".join("%s: %s" % (a.provider, a.error or "ok") for a in attempts)


def _short(value: str) -> str:
    if len(value) <= _REPR_TEXT:
        return repr(value)
    return "%r... (%d characters)" % (value[:_REPR_TEXT], len(value))


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One backend asked during a call: ok, or why not (error is the error name)."""
    provider: str
    model: str
    ok: bool
    error: Optional[str]
    code: Union[ErrorCode, int]
    http_status: int
    ms: float
    message: str


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts as the backend reported them; None for a count it did not report."""
    prompt_tokens: Optional[int]
    completion_tokens: Optional[int]
    total_tokens: Optional[int]


@dataclasses.dataclass(frozen=True)
class Response:
    """A successful completion. usage is None when the backend reported no count.

    raw_json is None for a streamed answer (on_delta given). incomplete mirrors
    ulm_response_incomplete(), which is only ever true for a failed call: a Response is
    always complete, and a stream that broke off raises with e.incomplete and e.text.
    offline (ulm_response_offline()) is true when the call was served offline: the cloud
    backends could not be reached (or were known not to be, from earlier calls) and a
    local model answered instead; see use_local_models_when_offline of Client.
    """
    text: str
    finish_reason: str
    provider: str
    model: str
    usage: Optional[Usage]
    latency_ms: float
    attempts: list[Attempt]
    raw_json: Optional[str]
    incomplete: bool = False
    offline: bool = False

    def __repr__(self) -> str:
        # The text shortened and the raw JSON left out: a repr is for a log line.
        return ("Response(text=%s, finish_reason=%r, provider=%r, model=%r, usage=%r, "
                "latency_ms=%.1f, attempts=%s, offline=%r)"
                % (_short(self.text), self.finish_reason, self.provider, self.model,
                   self.usage, self.latency_ms, _trail(self.attempts), self.offline))


@dataclasses.dataclass(frozen=True)
class BackendStatus:
    """The outcome of asking one endpoint of a backend for its models.

    name is the backend's name ("dmr", "openai", or one declared in the configuration
    file); a backend with several deployments has one BackendStatus per endpoint, all with
    the same name. url is the endpoint's base URL (None if the library gave none) and ms
    how long the endpoint took to answer or fail, in milliseconds (next to nothing when
    nothing was sent, e.g. for a backend without its API key).
    """
    name: str
    ok: bool
    error: Optional[str]
    code: Union[ErrorCode, int]
    message: str
    url: Optional[str] = None
    ms: float = 0.0


@dataclasses.dataclass(frozen=True)
class ModelList:
    """models: (provider, id) pairs; backends: one BackendStatus per endpoint asked (a
    backend with several URLs has one per URL), in the client's order."""
    models: list[tuple[str, str]]
    backends: list[BackendStatus]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def errors(self) -> list[BackendStatus]:
        """The endpoints that could not list their models."""
        return [b for b in self.backends if not b.ok]

    def __repr__(self) -> str:
        return "ModelList(models=%d, backends=%r)" % (
            len(self.models), ["%s:%s" % (b.name, "ok" if b.ok else b.error)
                               for b in self.backends])


def _str(value: Optional[bytes]) -> str:
    return text(value) or ""


def _count(n: int) -> Optional[int]:
    return None if n < 0 else n


def _outcome(code: int) -> tuple[Union[ErrorCode, int], Optional[str]]:
    """A C error code as (code, error name or None when OK)."""
    value = enum_or_int(ErrorCode, code)
    return value, None if value == ErrorCode.OK else error_name(value)


def read_attempts(resp: Any) -> list[Attempt]:
    attempts = []
    for i in range(lib.ulm_response_attempt_count(resp)):
        a = lib.ulm_response_attempt(resp, i)
        code, name = _outcome(lib.ulm_attempt_error(a))
        attempts.append(Attempt(
            provider=_str(lib.ulm_attempt_provider(a)),
            model=_str(lib.ulm_attempt_model(a)),
            ok=name is None,
            error=name,
            code=code,
            http_status=lib.ulm_attempt_http_status(a),
            ms=lib.ulm_attempt_ms(a),
            message=_str(lib.ulm_attempt_error_message(a)),
        ))
    return attempts


def _response_text(resp: Any) -> str:
    data = ctypes.string_at(lib.ulm_response_text(resp), lib.ulm_response_text_length(resp))
    return data.decode("utf-8", "replace")


def read_response(resp: Any) -> Response:
    """A Response from a successful ulm_response, else raises its error."""
    attempts = read_attempts(resp)
    code: int = lib.ulm_response_error(resp)
    incomplete = bool(lib.ulm_response_incomplete(resp))
    if code != ErrorCode.OK:
        raise error(code, _str(lib.ulm_response_error_message(resp)),
                    lib.ulm_response_http_status(resp),
                    text(lib.ulm_response_provider(resp)) or None, attempts,
                    incomplete, _response_text(resp) if incomplete else "")
    counts = (_count(lib.ulm_response_prompt_tokens(resp)),
              _count(lib.ulm_response_completion_tokens(resp)),
              _count(lib.ulm_response_total_tokens(resp)))
    return Response(
        text=_response_text(resp),
        finish_reason=_str(lib.ulm_finish_reason_name(lib.ulm_response_finish_reason(resp))),
        provider=_str(lib.ulm_response_provider(resp)),
        model=_str(lib.ulm_response_model(resp)),
        usage=None if counts == (None, None, None) else Usage(*counts),
        latency_ms=lib.ulm_response_latency_ms(resp),
        attempts=attempts,
        raw_json=text(lib.ulm_response_raw_json(resp)),
        incomplete=incomplete,
        offline=bool(lib.ulm_response_offline(resp)),
    )


def read_model_list(lst: Any) -> ModelList:
    models = [(_str(lib.ulm_model_list_provider(lst, i)), _str(lib.ulm_model_list_id(lst, i)))
              for i in range(lib.ulm_model_list_count(lst))]
    backends = []
    for i in range(lib.ulm_model_list_backend_count(lst)):
        code, name = _outcome(lib.ulm_model_list_backend_error(lst, i))
        backends.append(BackendStatus(
            name=_str(lib.ulm_model_list_backend_name(lst, i)),
            ok=name is None,
            error=name,
            code=code,
            message=_str(lib.ulm_model_list_backend_message(lst, i)),
            url=text(lib.ulm_model_list_backend_url(lst, i)),
            ms=lib.ulm_model_list_backend_ms(lst, i),
        ))
    return ModelList(models, backends)
