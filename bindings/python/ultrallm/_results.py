"""What a call returns: the result classes, and how each is read from the library's
response, model list, round, pull progress, or Docker Model Runner listing."""

from __future__ import annotations

import ctypes
import dataclasses
from typing import Any, Iterator, NamedTuple, Optional, Union

from ._convert import text
from ._enums import ErrorCode, MemberState, enum_or_int
from ._errors import UltraLLMError, error, error_name
from ._native import PullProgressStruct, lib

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
    url: str = ""  # the deployment asked, a credential in it hidden; "" when none was


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

    How the answer came, for comparing backends (None when unknown): connect_ms and
    first_byte_ms are libcurl's, from the start of the request that answered;
    first_token_ms is from the start of the call, for a streamed call only;
    tokens_per_second is the completion tokens over the time they took (None when the
    backend reported no count). retries counts the attempts after the first (retries,
    other deployments and fallbacks together). cost is what the answer cost from the
    configuration file's per-model prices, None when the model has no price or the
    backend reported no token counts: unknown, never 0.
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
    connect_ms: Optional[float] = None
    first_byte_ms: Optional[float] = None
    first_token_ms: Optional[float] = None
    tokens_per_second: Optional[float] = None
    retries: int = 0
    cost: Optional[float] = None

    def __repr__(self) -> str:
        # The text shortened and the raw JSON left out: a repr is for a log line.
        return ("Response(text=%s, finish_reason=%r, provider=%r, model=%r, usage=%r, "
                "latency_ms=%.1f, attempts=%s, offline=%r%s)"
                % (_short(self.text), self.finish_reason, self.provider, self.model,
                   self.usage, self.latency_ms, _trail(self.attempts), self.offline,
                   "" if self.cost is None else ", cost=%g" % self.cost))


@dataclasses.dataclass(frozen=True)
class Embeddings:
    """What Client.embed() returns: one vector (a list of floats) per text, in the order
    of the texts, each of dimensions floats. Iterating, len() and [i] reach the vectors.
    cost and retries are Response's."""
    vectors: list[list[float]]
    dimensions: int
    provider: str
    model: str
    usage: Optional[Usage]
    latency_ms: float
    attempts: list[Attempt]
    retries: int = 0
    cost: Optional[float] = None

    def __iter__(self) -> Iterator[list[float]]:
        return iter(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, i: int) -> list[float]:
        return self.vectors[i]

    def __repr__(self) -> str:
        return ("Embeddings(vectors=%d, dimensions=%d, provider=%r, model=%r, usage=%r, "
                "latency_ms=%.1f, attempts=%s)"
                % (len(self.vectors), self.dimensions, self.provider, self.model, self.usage,
                   self.latency_ms, _trail(self.attempts)))


@dataclasses.dataclass(frozen=True)
class Member:
    """One member of a Client.compare() round, once it has ended.

    index is its place in the models given, spec the model string as given there.
    response is its answer, or None when it failed; then error says why (not raised): an
    UltraLLMError with its attempts, and, for a member the round stopped (the quorum, the
    deadline, a cancellation), e.incomplete and e.text with the text that had arrived.
    """
    index: int
    spec: str
    response: Optional[Response]
    error: Optional[UltraLLMError]

    @property
    def ok(self) -> bool:
        """Whether the member answered."""
        return self.response is not None

    @property
    def text(self) -> str:
        """The answer's text, or the text that had arrived before the member failed."""
        if self.response is not None:
            return self.response.text
        return self.error.text if self.error is not None else ""

    def __repr__(self) -> str:
        outcome = ("ok %s/%s %s" % (self.response.provider, self.response.model,
                                    _short(self.response.text))
                   if self.response is not None else
                   "error %s" % (self.error.name if self.error is not None else None))
        return "Member(%d, %r, %s)" % (self.index, self.spec, outcome)


@dataclasses.dataclass(frozen=True)
class Round:
    """What Client.compare() returns: every member's outcome, and how they compare.

    members: one Member per model given, in that order. finish_order: the members'
    indexes in the order they ended. agreement[i][j]: how far members i and j agree, from
    0 to 1 (the overlap of their sets of words), None when either did not answer.
    dissenters: the members that answered and agree (0.5 or more) with fewer than half of
    the others that answered. labels[i]: what the synthesis prompt called member i
    ("Answer B", or provider/model), "" when its answer was left out or there was no
    synthesis; truncated[i]: whether its answer was cut to the answer budget there.
    synthesis: the synthesizer's Response, None when none was asked or it never started;
    a synthesis that failed makes compare() raise, with this round as e.round and the
    failure as synthesis_error. cost: the members' and the synthesis's, None when any is
    unknown (a member that failed or was cancelled after its request was sent is; one
    that reached no model costs 0). latency_ms: the whole round, synthesis included.
    """
    members: list[Member]
    finish_order: list[int]
    agreement: list[list[Optional[float]]]
    dissenters: list[int]
    labels: list[str]
    truncated: list[bool]
    synthesis: Optional[Response]
    synthesis_error: Optional[UltraLLMError]
    cost: Optional[float]
    latency_ms: float

    @property
    def answered(self) -> list[Member]:
        """The members that answered, in the order of the models given."""
        return [m for m in self.members if m.ok]

    @property
    def responses(self) -> list[Response]:
        """The answers of the members that answered, in the order of the models given."""
        return [m.response for m in self.members if m.response is not None]

    def __repr__(self) -> str:
        return "Round(members=[%s], finish_order=%r, synthesis=%s, cost=%r, latency_ms=%.1f)" % (
            ", ".join("%s: %s" % (m.spec, "ok" if m.ok else m.error.name if m.error else "?")
                      for m in self.members), self.finish_order,
            "none" if self.synthesis is None else _short(self.synthesis.text), self.cost,
            self.latency_ms)


class MemberDelta(NamedTuple):
    """A piece of member's streamed answer, on its way to compare()'s on_delta."""
    member: int
    text: str


class MemberStateChange(NamedTuple):
    """What member now waits for, on its way to compare()'s on_member_state."""
    member: int
    state: Union[MemberState, int]


@dataclasses.dataclass(frozen=True)
class PullProgress:
    """Where a pull (ModelRunner.pull()) is, as the runner reported it: percent (0 to 100),
    done_bytes of total_bytes (0 until the runner said), layers seen and layers_done.
    The last report has finished true; cached then says that nothing had to be
    downloaded."""
    model: str
    percent: float
    done_bytes: int
    total_bytes: int
    layers: int
    layers_done: int
    finished: bool
    cached: bool


@dataclasses.dataclass(frozen=True)
class PulledModel:
    """A model pulled into a Docker Model Runner (ModelRunner.models()): its id
    ("sha256:..."), its tags ("ai/smollm2:latest"), and what the runner knows of it, each
    "" when the runner did not say; context_size is None then."""
    id: str
    tags: list[str]
    format: str
    quantization: str
    parameters: str
    architecture: str
    size: str
    context_size: Optional[int]


@dataclasses.dataclass(frozen=True)
class Runner:
    """A model a Docker Model Runner has loaded or is loading (ModelRunner.ps()): model as
    the request that loaded it named it, engine ("llama.cpp"), mode ("completion",
    "embedding", "reranking", "image-generation"), in_use, loading, last_used (RFC 3339;
    None while in use or loading) and keep_alive, its idle timeout ("10m0s", "-1" never;
    None for the runner's default, 5 minutes)."""
    model: str
    engine: str
    mode: str
    in_use: bool
    loading: bool
    last_used: Optional[str]
    keep_alive: Optional[str]


@dataclasses.dataclass(frozen=True)
class BackendStatus:
    """The outcome of asking one endpoint of a backend for its models.

    name is the backend's name ("dmr", "openai", or one declared in the configuration
    file); a backend with several deployments has one BackendStatus per endpoint, all with
    the same name. url is the endpoint's base URL (None if the library gave none) and ms
    how long the endpoint took to answer or fail, in milliseconds (next to nothing when
    nothing was sent, e.g. for a backend without its API key). models are the ids this
    endpoint itself offers (ModelList.models names each of a backend's models once).
    """
    name: str
    ok: bool
    error: Optional[str]
    code: Union[ErrorCode, int]
    message: str
    url: Optional[str] = None
    ms: float = 0.0
    models: tuple[str, ...] = ()  # the ids this endpoint itself offers


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


def _known(value: float) -> Optional[float]:
    """A measure the library gives as -1 when unknown."""
    return None if value < 0 else value


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
            url=_str(lib.ulm_attempt_url(a)),
        ))
    return attempts


def _response_text(resp: Any) -> str:
    data = ctypes.string_at(lib.ulm_response_text(resp), lib.ulm_response_text_length(resp))
    return data.decode("utf-8", "replace")


def _failure(resp: Any, attempts: list[Attempt]) -> Optional[UltraLLMError]:
    """The error of a failed ulm_response (not raised), or None when it answered."""
    code: int = lib.ulm_response_error(resp)
    if code == ErrorCode.OK:
        return None
    incomplete = bool(lib.ulm_response_incomplete(resp))
    return error(code, _str(lib.ulm_response_error_message(resp)),
                 lib.ulm_response_http_status(resp),
                 text(lib.ulm_response_provider(resp)) or None, attempts,
                 incomplete, _response_text(resp) if incomplete else "")


def _usage(resp: Any) -> Optional[Usage]:
    counts = (_count(lib.ulm_response_prompt_tokens(resp)),
              _count(lib.ulm_response_completion_tokens(resp)),
              _count(lib.ulm_response_total_tokens(resp)))
    return None if counts == (None, None, None) else Usage(*counts)


def read_response(resp: Any) -> Response:
    """A Response from a successful ulm_response, else raises its error."""
    outcome = read_outcome(resp)
    if isinstance(outcome, UltraLLMError):
        raise outcome
    return outcome


def read_outcome(resp: Any) -> Union[Response, UltraLLMError]:
    """A Response from a successful ulm_response, else its error (not raised)."""
    attempts = read_attempts(resp)
    failure = _failure(resp, attempts)
    if failure is not None:
        return failure
    return Response(
        text=_response_text(resp),
        finish_reason=_str(lib.ulm_finish_reason_name(lib.ulm_response_finish_reason(resp))),
        provider=_str(lib.ulm_response_provider(resp)),
        model=_str(lib.ulm_response_model(resp)),
        usage=_usage(resp),
        latency_ms=lib.ulm_response_latency_ms(resp),
        attempts=attempts,
        raw_json=text(lib.ulm_response_raw_json(resp)),
        incomplete=bool(lib.ulm_response_incomplete(resp)),
        offline=bool(lib.ulm_response_offline(resp)),
        connect_ms=_known(lib.ulm_response_connect_ms(resp)),
        first_byte_ms=_known(lib.ulm_response_first_byte_ms(resp)),
        first_token_ms=_known(lib.ulm_response_first_token_ms(resp)),
        tokens_per_second=_known(lib.ulm_response_tokens_per_second(resp)),
        retries=lib.ulm_response_retries(resp),
        cost=_known(lib.ulm_response_cost(resp)),
    )


def read_embeddings(resp: Any) -> Embeddings:
    """The Embeddings of a successful ulm_embed() response, else raises its error."""
    attempts = read_attempts(resp)
    failure = _failure(resp, attempts)
    if failure is not None:
        raise failure
    dimensions: int = lib.ulm_response_dimensions(resp)
    vectors = []
    for i in range(lib.ulm_response_embedding_count(resp)):
        floats = lib.ulm_response_embedding(resp, i)
        vectors.append(floats[:dimensions] if floats else [])
    return Embeddings(
        vectors=vectors,
        dimensions=dimensions,
        provider=_str(lib.ulm_response_provider(resp)),
        model=_str(lib.ulm_response_model(resp)),
        usage=_usage(resp),
        latency_ms=lib.ulm_response_latency_ms(resp),
        attempts=attempts,
        retries=lib.ulm_response_retries(resp),
        cost=_known(lib.ulm_response_cost(resp)),
    )


def read_member(rnd: Any, i: int) -> Member:
    """Member i of a round, which must have ended."""
    resp = lib.ulm_round_member(rnd, i)
    if not resp:
        raise RuntimeError("ultrallm: member %d of the round has not ended" % i)
    outcome = read_outcome(resp)
    response = outcome if isinstance(outcome, Response) else None
    failure = outcome if isinstance(outcome, UltraLLMError) else None
    return Member(i, _str(lib.ulm_round_member_spec(rnd, i)), response, failure)


def read_round(rnd: Any) -> Round:
    n: int = lib.ulm_round_member_count(rnd)
    synthesis: Optional[Response] = None
    synthesis_error: Optional[UltraLLMError] = None
    resp = lib.ulm_round_synthesis(rnd)
    if resp:
        outcome = read_outcome(resp)
        if isinstance(outcome, Response):
            synthesis = outcome
        else:
            synthesis_error = outcome
    return Round(
        members=[read_member(rnd, i) for i in range(n)],
        finish_order=[lib.ulm_round_finished(rnd, k)
                      for k in range(lib.ulm_round_finished_count(rnd))],
        agreement=[[_known(lib.ulm_round_agreement(rnd, i, j)) for j in range(n)]
                   for i in range(n)],
        dissenters=[i for i in range(n) if lib.ulm_round_member_dissents(rnd, i)],
        labels=[_str(lib.ulm_round_member_label(rnd, i)) for i in range(n)],
        truncated=[bool(lib.ulm_round_member_truncated(rnd, i)) for i in range(n)],
        synthesis=synthesis,
        synthesis_error=synthesis_error,
        cost=_known(lib.ulm_round_cost(rnd)),
        latency_ms=lib.ulm_round_latency_ms(rnd),
    )


def read_pull_progress(p: PullProgressStruct) -> PullProgress:
    return PullProgress(
        model=_str(p.model),
        percent=p.percent,
        done_bytes=p.done_bytes,
        total_bytes=p.total_bytes,
        layers=p.layers,
        layers_done=p.layers_done,
        finished=bool(p.finished),
        cached=bool(p.cached),
    )


def read_pulled_models(models: Any) -> list[PulledModel]:
    pulled = []
    for i in range(lib.ulm_dmr_models_count(models)):
        context_size: int = lib.ulm_dmr_models_context_size(models, i)
        pulled.append(PulledModel(
            id=_str(lib.ulm_dmr_models_id(models, i)),
            tags=[_str(lib.ulm_dmr_models_tag(models, i, t))
                  for t in range(lib.ulm_dmr_models_tag_count(models, i))],
            format=_str(lib.ulm_dmr_models_format(models, i)),
            quantization=_str(lib.ulm_dmr_models_quantization(models, i)),
            parameters=_str(lib.ulm_dmr_models_parameters(models, i)),
            architecture=_str(lib.ulm_dmr_models_architecture(models, i)),
            size=_str(lib.ulm_dmr_models_size(models, i)),
            context_size=None if context_size < 0 else context_size,
        ))
    return pulled


def read_runners(runners: Any) -> list[Runner]:
    return [Runner(
        model=_str(lib.ulm_dmr_runners_model(runners, i)),
        engine=_str(lib.ulm_dmr_runners_engine(runners, i)),
        mode=_str(lib.ulm_dmr_runners_mode(runners, i)),
        in_use=bool(lib.ulm_dmr_runners_in_use(runners, i)),
        loading=bool(lib.ulm_dmr_runners_loading(runners, i)),
        last_used=_str(lib.ulm_dmr_runners_last_used(runners, i)) or None,
        keep_alive=_str(lib.ulm_dmr_runners_keep_alive(runners, i)) or None,
    ) for i in range(lib.ulm_dmr_runners_count(runners))]


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
            models=tuple(_str(lib.ulm_model_list_backend_model(lst, i, k))
                         for k in range(lib.ulm_model_list_backend_model_count(lst, i))),
        ))
    return ModelList(models, backends)
