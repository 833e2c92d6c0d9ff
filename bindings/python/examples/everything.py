"""everything.py - a tour of every public call of the ultrallm package, type-checked with
mypy --strict by bindings/python/tests/check-package.sh and run there against the DMR
emulator.

Usage: MODEL_RUNNER_URL=http://127.0.0.1:12434 python3 everything.py [MODEL]
MODEL defaults to dmr/ai/smollm2; any model the runner serves will do.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Optional, Union

import ultrallm


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
        except ultrallm.UltraLLMError as e:
            print("%s failed: %s" % (model, e), file=sys.stderr)
            show_attempts(e.attempts)
            return 1
    asyncio.run(async_calls(model))
    failures(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
