"""everything.py - a tour of every public call of the ultrallm package, type-checked with
mypy --strict by bindings/python/tests/check-package.sh and run there against the DMR
emulator.

Usage: MODEL_RUNNER_URL=http://127.0.0.1:12434 python3 everything.py [MODEL]
MODEL defaults to dmr/ai/smollm2; any model the runner serves will do. It preloads and
unloads that model and pulls it again (cached), but removes nothing.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Optional, Union

import ultrallm

DEAD_URL = "http://127.0.0.1:1"  # refuses connections at once


def on_log(level: Union[ultrallm.LogLevel, int], message: str) -> None:
    if level <= ultrallm.LogLevel.WARN:
        print("log %r: %s" % (level, message), file=sys.stderr)


def show_attempts(attempts: list[ultrallm.Attempt]) -> None:
    for a in attempts:
        print("  attempt %s %s: ok=%s error=%s code=%d http=%d %.1f ms %s"
              % (a.provider, a.model, a.ok, a.error, a.code, a.http_status, a.ms, a.message))


def show_usage(usage: Optional[ultrallm.Usage]) -> None:
    if usage is not None:
        print("  tokens: %s prompt, %s completion, %s total"
              % (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens))


def show_timings(r: ultrallm.Response) -> None:
    print("  connect %s ms, first byte %s ms, first token %s ms, %s tokens/s, %d retries, "
          "cost %s" % (r.connect_ms, r.first_byte_ms, r.first_token_ms, r.tokens_per_second,
                       r.retries, r.cost))


def show_round(result: ultrallm.Round) -> None:
    print(repr(result))
    for member in result.members:
        print("  member %d %s: ok=%s %r label=%r truncated=%s"
              % (member.index, member.spec, member.ok, member.text[:40],
                 result.labels[member.index], result.truncated[member.index]))
        if member.response is not None:
            show_timings(member.response)
        elif member.error is not None:
            print("  failed: %s" % member.error.name)
    print("  finished in order %s, agreement %s, dissenters %s, cost %s, %.1f ms, %d answered"
          % (result.finish_order, result.agreement, result.dissenters, result.cost,
             result.latency_ms, len(result.answered)))
    print("  responses:", [r.provider for r in result.responses])
    if result.synthesis is not None:
        print("  synthesis: %r" % result.synthesis.text[:60])
    if result.synthesis_error is not None:
        print("  synthesis failed: %s" % result.synthesis_error.name)


def library() -> None:
    print("package %s, library %s (%d)" % (ultrallm.__version__, ultrallm.version(),
                                            ultrallm.version_number()))
    for code in (ultrallm.ErrorCode.CONNECT, ultrallm.ErrorCode.CONTENT_FILTER):
        print("%s: %s, retryable: %s" % (ultrallm.error_name(code), ultrallm.strerror(code),
                                          ultrallm.error_is_retryable(code)))


def calls(client: ultrallm.Client, model: str) -> None:
    print("default model:", client.default_model)
    config = client.describe()
    print("backends:", [backend["name"] for backend in config["backends"]])

    listing: ultrallm.ModelList = client.models()
    print("%d models" % len(listing), [m for _, m in listing][:5])
    for status in listing.backends:
        print("  %s %s: ok=%s error=%s code=%d %.1f ms %s"
              % (status.name, status.url, status.ok, status.error, status.code, status.ms,
                 status.message))
    print("endpoints that failed:", [status.name for status in listing.errors])

    r: ultrallm.Response = client.complete(
        "Once upon a time", model=model, system="You tell short stories.", max_tokens=16,
        temperature=0.0, top_p=0.9, seed=7, stop=["\n\n"],
        timeouts={"first_token": 60000, ultrallm.Clock.IDLE: 30000, "overall": None})
    print(repr(r))
    print("  %r finish=%s by %s %s in %.1f ms, offline=%s, incomplete=%s, json: %d bytes"
          % (r.text, r.finish_reason, r.provider, r.model, r.latency_ms, r.offline,
             r.incomplete, len(r.raw_json or "")))
    show_usage(r.usage)
    show_attempts(r.attempts)
    show_timings(r)

    pieces: list[str] = []
    streamed = client.complete(
        messages=[("user", "Once upon a time"), {"role": "assistant", "content": "there"}],
        model=[model], max_tokens=16, on_delta=pieces.append)
    assert "".join(pieces) == streamed.text
    print("streamed %d pieces: %r" % (len(pieces), streamed.text))

    stream: ultrallm.Stream
    with client.stream("Once upon a time", model=model, max_tokens=16) as stream:
        for piece in stream:
            print(piece, end="|")
    print("\nstream %s: %r" % ("closed" if stream.closed else "open", stream.response))
    for count, _ in enumerate(client.stream("Once upon a time", model=model)):
        if count == 2:
            break                                   # cancels the rest of the answer

    # A CancelToken stops the calls given it, from any thread; it stays cancelled.
    token = ultrallm.CancelToken()
    client.complete("Once upon a time", model=model, max_tokens=4, cancel=token)
    token.cancel()
    try:
        client.complete("Once upon a time", model=model, max_tokens=4, cancel=token)
    except ultrallm.CancelledError as e:
        print("cancelled: %s (token cancelled: %s, incomplete: %s)"
              % (e, token.cancelled, e.incomplete))

    # One call's own base URL for a backend (its key too, for a multi-tenant host).
    try:
        client.complete("Once upon a time", model=model,
                        backend_overrides={"dmr": {"base_url": DEAD_URL}})
    except ultrallm.ConnectError as e:
        print("the override was used:", e.name)

    print("metrics: %d characters of Prometheus text, %d JSON keys"
          % (len(client.metrics()), len(client.metrics("json"))))


def many_models(client: ultrallm.Client, model: str) -> None:
    def on_delta(member: int, text: str) -> None:
        print("[%d]%s" % (member, text), end="")

    def on_member_done(member: ultrallm.Member) -> bool:
        print("\nmember %d done: %s" % (member.index, member.ok))
        return False                                # True would end the round here

    result = client.compare("Once upon a time", models=[model, [model], "nosuch/model"],
                            max_tokens=16, quorum=2, timeout_ms=120000,
                            take_what_arrived=True, on_delta=on_delta,
                            on_member_done=on_member_done)
    show_round(result)
    result = client.compare(messages=[("user", "Once upon a time")], models=[model, model],
                            max_tokens=16, synthesize=model,
                            synthesis_template="Combine: {answers}\nThe question: {question}",
                            anonymize=True, shuffle_seed=7, answer_budget_bytes=400,
                            synthesis_share_pct=40,
                            on_synthesis_delta=lambda text: print(text, end="|"))
    print()
    show_round(result)
    try:
        client.compare("Once upon a time", models=[model], synthesize="nosuch/model")
    except ultrallm.UltraLLMError as e:
        print("round failed: %s; its members: %s" % (e.name, e.round.members if e.round
                                                        else None))


def embeddings(client: ultrallm.Client, model: str) -> None:
    vectors: ultrallm.Embeddings = client.embed(["Once upon a time", "there was a dragon"],
                                                model=model, timeouts={"overall": 60000})
    print(repr(vectors))
    print("  %d vectors of %d: %s... by %s %s, %s, %.1f ms, %d retries, cost %s"
          % (len(vectors), vectors.dimensions, vectors[0][:3], vectors.provider,
             vectors.model, vectors.usage, vectors.latency_ms, vectors.retries, vectors.cost))
    show_attempts(vectors.attempts)


def model_runner(client: ultrallm.Client, model: str) -> None:
    name = model[len("dmr/"):] if model.startswith("dmr/") else model
    runner: ultrallm.ModelRunner = client.dmr
    for pulled in runner.models():
        print("pulled %s %s: %s %s %s %s %s, context %s"
              % (pulled.id[:19], pulled.tags, pulled.format, pulled.quantization,
                 pulled.parameters, pulled.architecture, pulled.size, pulled.context_size))

    def on_progress(p: ultrallm.PullProgress) -> None:
        print("  pull %s: %.0f%%, %d of %d bytes, %d/%d layers, finished %s, cached %s"
              % (p.model, p.percent, p.done_bytes, p.total_bytes, p.layers_done, p.layers,
                 p.finished, p.cached))

    last = runner.pull(name, on_progress=on_progress, backend="dmr",
                       cancel=ultrallm.CancelToken())
    print("pulled:", last.finished)
    runner.preload(name, context_size=512, keep_alive="5m")
    for loaded in runner.ps():
        print("runner %s %s %s in_use=%s loading=%s last used %s keep alive %s"
              % (loaded.model, loaded.engine, loaded.mode, loaded.in_use, loaded.loading,
                 loaded.last_used, loaded.keep_alive))
    print("unloaded:", runner.unload(name), runner.unload())
    try:
        runner.remove("ai/not-pulled-here", force=False)
    except ultrallm.ModelNotFoundError as e:
        print("remove:", e)


def options_v4(model: str) -> None:
    # The configuration as a string or a dict, and per-backend settings by name.
    config: dict[str, Any] = {"models": {"local": [model],
                                         model: {"price": {"input_per_million": 0.1,
                                                           "output_per_million": 0.2}}},
                              "retry": {"max_retries": 1}}
    with ultrallm.Client(config_json=config, timeout_ms=120000,
                         backend_settings={"openai": {"url": DEAD_URL + "/v1"}}) as client:
        r = client.complete("Once upon a time", model="local", max_tokens=8)
        print("priced: %r costs %s" % (r.text, r.cost))


async def async_calls(model: str) -> None:
    async with ultrallm.AsyncClient(timeout_ms=120000) as client:
        print(client, client.default_model, len(client.describe()["backends"]))
        r = await client.complete("Once upon a time", model=model, max_tokens=8)
        print("async: %r" % r.text)
        stream: ultrallm.AsyncStream
        async with client.stream("Once upon a time", model=model, max_tokens=8) as stream:
            async for piece in stream:
                print(piece, end="|")
        print("\nasync stream %s: %s" % ("closed" if stream.closed else "open",
                                          stream.response.finish_reason))
        await stream.aclose()
        print("async models:", len(await client.models()))
        result = await client.compare("Once upon a time", models=[model, model], max_tokens=8,
                                      on_delta=lambda member, text: None)
        print("async round:", [m.ok for m in result.members])
        print("async embed:", len(await client.embed("Once upon a time", model=model)))
        dmr: ultrallm.AsyncModelRunner = client.dmr
        print("async runners:", len(await dmr.ps()), len(await dmr.models()))
        name = model[len("dmr/"):] if model.startswith("dmr/") else model
        print("async pull:", (await dmr.pull(name, on_progress=lambda p: None)).finished)
        await dmr.preload(name)
        print("async unload:", await dmr.unload(name))
        try:
            await dmr.remove("ai/not-pulled-here")
        except ultrallm.ModelNotFoundError:
            print("async remove: not pulled")
        # Cancelling the task cancels the C call; the task ends once it has.
        task = asyncio.ensure_future(client.complete("Once upon a time", model=model))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            print("task cancelled")
        results = await asyncio.gather(*(client.complete("Once", model=model, max_tokens=4)
                                         for _ in range(4)))
        print("4 concurrent calls:", [result.text for result in results])


def failures(model: str) -> None:
    with ultrallm.Client(ignore_environment=True, model_runner_url="http://127.0.0.1:1",
                         enable_model_runner=True, connect_timeout_ms=2000) as dead:
        try:
            dead.complete("hi", model=model)
        except ultrallm.RequestTimeoutError as e:      # every clock; also TimeoutError
            print("timed out:", e)
        except ultrallm.ConnectError as e:
            print("%r: %s, code %s, http %d, provider %s, retryable %s, incomplete %s %r"
                  % (e, e.name, e.code, e.http_status, e.provider, e.retryable,
                     e.incomplete, e.text))
            show_attempts(e.attempts)
    try:
        ultrallm.Client(ignore_environment=True, model_runner_url="ftp://nowhere")
    except ultrallm.ConfigError as e:
        print("config:", e)


def main() -> int:
    model = sys.argv[1] if len(sys.argv) > 1 else "dmr/ai/smollm2"
    library()
    with ultrallm.Client(log=on_log, log_level=ultrallm.LogLevel.WARN,
                         timeout_ms=120000, first_token_timeout_ms=60000,
                         idle_timeout_ms=30000, max_response_bytes=1 << 20,
                         use_local_models_when_offline=True) as client:
        print(client)
        try:
            calls(client, model)
            many_models(client, model)
            embeddings(client, model)
            model_runner(client, model)
        except ultrallm.UltraLLMError as e:
            print("%s failed: %s" % (model, e), file=sys.stderr)
            show_attempts(e.attempts)
            return 1
    options_v4(model)
    asyncio.run(async_calls(model))
    failures(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
