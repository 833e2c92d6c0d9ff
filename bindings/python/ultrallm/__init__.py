"""ultrallm - Python bindings of libultrallm over ctypes: one call to local and cloud LLMs.

Standard library only. The package finds and loads the C library at import (the order of
the places it tries is in _loader), turns the library's error codes into exceptions, and
wraps its handles in Python objects that free them.

    import ultrallm
    with ultrallm.Client() as client:
        print(client.complete("Say hi", model="dmr/ai/smollm2").text)
        client.complete("Once upon a time", model="dmr/ai/smollm2",
                        on_delta=lambda chunk: print(chunk, end="", flush=True),
                        timeouts={"first_token": 30000, "idle": 5000})
        token = ultrallm.CancelToken()      # token.cancel() from another thread stops
        client.complete("Hi", model="dmr/ai/smollm2", cancel=token)     # the call
        with client.stream("Once upon a time", model="dmr/ai/smollm2") as stream:
            for piece in stream:            # breaking out cancels the call
                print(piece, end="", flush=True)
        print(stream.response.usage)
        r = client.compare("Say hi", models=["dmr/ai/smollm2", "openai/gpt-4o-mini"],
                           quorum=1, on_delta=lambda member, text: print(member, text))
        print([m.text for m in r.members], r.agreement)
        vectors = client.embed(["one text", "another"], model="dmr/ai/smollm2").vectors
        client.dmr.pull("ai/smollm2", on_progress=lambda p: print(p.percent))
        print(client.metrics())             # Prometheus text; metrics("json") a dict

    async def main():                   # asyncio: the same calls, awaited
        async with ultrallm.AsyncClient() as client:
            r = await client.complete("Say hi", model="dmr/ai/smollm2")
            async for piece in client.stream("Once upon a time", model="dmr/ai/smollm2"):
                print(piece, end="")

Modules: _native declares the C functions and types (one table) and loads the library
through _loader; _client, _async, _request, _round, _dmr, _cancel, _call, _results,
_errors and _enums hold the public classes, re-exported here; _workers runs the C calls
made for another thread.
"""

from ._async import AsyncClient, AsyncModelRunner, AsyncStream
from ._call import Stream
from ._cancel import CancelToken
from ._client import Client
from ._dmr import ModelRunner
from ._enums import Clock, ErrorCode, LogLevel, MemberState
from ._errors import (AuthError, BadRequestError, CancelledError, CircuitOpenError,
                      ConfigError, ConnectError, ConnectTimeoutError, ContentFilterError,
                      ContextLengthError, FirstTokenTimeoutError, IdleTimeoutError,
                      InvalidArgumentError, LibraryLoadError, LoadTimeoutError,
                      ModelLoadError, ModelLoadingError, ModelNotFoundError,
                      NotConfiguredError, OptionsVersionError, OutOfMemoryError,
                      ProtocolError, QuotaError, RateLimitError, RequestTimeoutError,
                      ResourceExhaustedError, ServerError, TooLargeError, TransportError,
                      UltraLLMError, UnavailableError, UnsupportedError, error_is_retryable,
                      error_name, strerror)
from ._library import version, version_number
from ._log import LogEvent
from ._results import (Attempt, BackendStatus, Embeddings, Member, ModelList, PulledModel,
                       PullProgress, Response, Round, Runner, Usage)
from ._version import __version__

__all__ = [
    "AsyncClient", "AsyncModelRunner", "AsyncStream", "Attempt", "AuthError",
    "BackendStatus", "BadRequestError", "CancelToken", "CancelledError", "CircuitOpenError",
    "Client", "Clock", "ConfigError", "ConnectError", "ConnectTimeoutError",
    "ContentFilterError", "ContextLengthError", "Embeddings", "ErrorCode",
    "FirstTokenTimeoutError", "IdleTimeoutError", "InvalidArgumentError", "LibraryLoadError",
    "LoadTimeoutError", "LogEvent", "LogLevel", "Member", "MemberState", "ModelList",
    "ModelLoadError", "ModelLoadingError", "ModelNotFoundError", "ModelRunner",
    "NotConfiguredError",
    "OptionsVersionError", "OutOfMemoryError", "ProtocolError", "PullProgress", "PulledModel",
    "QuotaError", "RateLimitError", "RequestTimeoutError", "ResourceExhaustedError",
    "Response", "Round", "Runner", "ServerError", "Stream", "TooLargeError", "TransportError",
    "UltraLLMError", "UnavailableError", "UnsupportedError", "Usage", "__version__",
    "error_is_retryable", "error_name", "strerror", "version", "version_number",
]
