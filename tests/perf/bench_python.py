"""bench_python.py - measures the CPU one Client.complete() call costs in Python against
the fixed-answer loopback server of ulm-bench-complete, next to the C ulm_complete() call
itself (ulm-bench-complete, run in each round), the same C call made through ctypes with no
wrapper, and Python's standard library doing the same request: urllib.request + json (a
new connection per request, as urllib makes) and http.client + json (one kept-alive
connection, as the library keeps). Client.complete() is measured twice: on the main
thread, where the package hands the C call to a worker thread so that Ctrl-C stays
prompt, and on a thread of its own ("thread"), where it makes the C call itself.

Usage: python3 bench_python.py --url http://127.0.0.1:PORT --c-bench PATH
                               [--requests N] [--rounds R] [--warmup W]

run-bench.sh --python starts nginx (nginx.conf), sets PYTHONPATH and ULTRALLM_LIBRARY to
the build's package and library, and runs this. N requests per side are made in R rounds;
each round runs every side's block of N/R requests, the first side rotating from round to
round, and ulm-bench-complete --rounds 1 for the C numbers. CPU is the process's user +
system time (time.process_time(), the C bench's CLOCK_PROCESS_CPUTIME_ID). Every answer is
checked against the one nginx serves, so no side can skip reading it.

Output: per side, the median over the rounds of CPU microseconds per call, the lowest and
highest round, and the median wall microseconds per call; then Client.complete() against
each other side: the median, lowest and highest of the rounds' CPU ratios, and the median
of the rounds' differences in microseconds per call.
Exit status: 0 when every request succeeded (the ratios are numbers to report, not a
test), 1 when a request failed or an answer differed, 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Callable, NamedTuple

import ultrallm
from ultrallm import _native

MODEL = "dmr/ai/smollm2"
WIRE_MODEL = "ai/smollm2:latest"  # what the DMR adapter sends for MODEL
PROMPT = "Say hello in one short sentence."
MAX_TOKENS = 16
PATH = "/engines/v1/chat/completions"
# What nginx.conf answers, as each side must read it: text, finish reason, token counts.
EXPECTED = ("Hello! I am a small language model, happy to help you today.", "length",
            31, 16, 47)
# The library's defaults for a local backend, so that every side waits as long.
TIMEOUT_S = 60.0

Answer = tuple[str, str, int, int, int]


class Side(NamedTuple):
    name: str
    one: Callable[[], Answer]
    # Whether the block of calls runs on a thread of its own rather than the main thread.
    thread: bool = False


def client_side(url: str, thread: bool = False) -> Side:
    client = ultrallm.Client(ignore_environment=True, model_runner_url=url)

    def one() -> Answer:
        r = client.complete(PROMPT, model=MODEL, max_tokens=MAX_TOKENS)
        usage = r.usage
        assert usage is not None and usage.prompt_tokens is not None
        assert usage.completion_tokens is not None and usage.total_tokens is not None
        return (r.text, r.finish_reason, usage.prompt_tokens, usage.completion_tokens,
                usage.total_tokens)
    return Side("Client.complete(), thread" if thread else "Client.complete()", one, thread)


def ctypes_side(url: str) -> Side:
    """ulm_complete() through ctypes as ulm-bench-complete calls it: one request built
    once, the same fields read, no wrapper."""
    lib = _native.lib
    opts = _native.ClientOptions()
    lib.ulm_client_options_init(ctypes.byref(opts), _native.OPTIONS_VERSION)
    opts.ignore_environment = 1
    opts.model_runner_url = url.encode()
    client = _native.client_p()
    errbuf = ctypes.create_string_buffer(_native.ERROR_SIZE)
    lib.ulm_client_new(ctypes.byref(client), ctypes.byref(opts), errbuf, len(errbuf))
    req = _native.request_p()
    lib.ulm_request_new(ctypes.byref(req))
    lib.ulm_request_add_model(req, MODEL.encode())
    lib.ulm_request_add_message(req, 2, PROMPT.encode())  # ULM_ROLE_USER
    lib.ulm_request_set_max_tokens(req, MAX_TOKENS)

    def one() -> Answer:
        out = _native.response_p()
        try:
            if lib.ulm_complete(ctypes.byref(out), client, req) != 0:
                raise RuntimeError(lib.ulm_response_error_message(out).decode())
            text = ctypes.string_at(lib.ulm_response_text(out),
                                    lib.ulm_response_text_length(out)).decode()
            finish = lib.ulm_finish_reason_name(lib.ulm_response_finish_reason(out)).decode()
            return (text, finish, lib.ulm_response_prompt_tokens(out),
                    lib.ulm_response_completion_tokens(out), lib.ulm_response_total_tokens(out))
        finally:
            lib.ulm_response_free(out)
    return Side("ctypes ulm_complete()", one)


def _body() -> bytes:
    return json.dumps({"model": WIRE_MODEL, "messages": [{"role": "user", "content": PROMPT}],
                       "max_tokens": MAX_TOKENS}, separators=(",", ":")).encode()


def _read(data: bytes) -> Answer:
    answer = json.loads(data)
    choice = answer["choices"][0]
    usage = answer["usage"]
    return (choice["message"]["content"] or "", choice["finish_reason"],
            usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])


HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def urllib_side(url: str) -> Side:
    # No proxy: the request must go to loopback whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    target = url.rstrip("/") + PATH

    def one() -> Answer:
        request = urllib.request.Request(target, data=_body(), headers=HEADERS)
        with opener.open(request, timeout=TIMEOUT_S) as response:
            return _read(response.read())
    return Side("urllib+json", one)


def http_client_side(url: str) -> Side:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=TIMEOUT_S)
    path = parts.path.rstrip("/") + PATH

    def one() -> Answer:
        connection.request("POST", path, _body(), HEADERS)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError("HTTP %d" % response.status)
        return _read(data)
    return Side("http.client+json", one)


def c_round(c_bench: str, url: str, n: int, warmup: int) -> dict[str, tuple[float, float]]:
    """One ulm-bench-complete run of n requests a side: name -> (CPU, wall) us per call."""
    result = subprocess.run([c_bench, "--url", url, "--requests", str(n), "--rounds", "1",
                             "--warmup", str(warmup)], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        sys.exit("bench_python: %s failed:\n%s" % (c_bench, result.stderr))
    numbers = {}
    for name, label in (("ulm_complete()", "C ulm_complete()"),
                        ("libcurl+jansson", "C libcurl+jansson")):
        match = re.search(r"^\s+%s\s+([\d.]+)\s+[\d.]+\s+([\d.]+)$" % re.escape(name),
                          result.stdout, re.M)
        if match is None:
            sys.exit("bench_python: no %s line in:\n%s" % (name, result.stdout))
        numbers[label] = (float(match.group(1)), float(match.group(2)))
    return numbers


def timed_block(side: Side, n: int) -> tuple[float, float]:
    """CPU and wall microseconds per call over n calls, each answer checked; on a thread
    of its own (started before the clocks, joined after them) for a thread side."""
    failures: list[BaseException] = []
    go, done = threading.Event(), threading.Event()

    def block() -> None:
        try:
            for _ in range(n):
                got = side.one()
                if got != EXPECTED:
                    raise RuntimeError("%s read %r, not %r" % (side.name, got, EXPECTED))
        except BaseException as e:  # noqa: B036  (raised on the main thread)
            failures.append(e)

    if side.thread:
        def run() -> None:
            go.wait()
            block()
            done.set()
        thread = threading.Thread(target=run)
        thread.start()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if side.thread:
        go.set()
        done.wait()
    else:
        block()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    if side.thread:
        thread.join()
    if failures:
        raise failures[0]
    return (cpu1 - cpu0) * 1e6 / n, (wall1 - wall0) * 1e6 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--c-bench", required=True, help="the ulm-bench-complete program")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    if args.requests < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--requests and --rounds must be at least 1, --warmup at least 0")
    rounds = min(args.rounds, args.requests)
    n = args.requests // rounds

    sides = [client_side(args.url), client_side(args.url, thread=True), ctypes_side(args.url),
             http_client_side(args.url), urllib_side(args.url)]
    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    try:
        for side in sides:
            for _ in range(args.warmup):
                side.one()
        for r in range(rounds):
            # The first side rotates, so that drift and noise fall on every side alike.
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                c, w = timed_block(side, n)
                cpu.setdefault(side.name, []).append(c)
                wall.setdefault(side.name, []).append(w)
            for name, (c, w) in c_round(args.c_bench, args.url, n, args.warmup).items():
                cpu.setdefault(name, []).append(c)
                wall.setdefault(name, []).append(w)
    except (ultrallm.UltraLLMError, OSError, RuntimeError, KeyError, ValueError) as e:
        print("bench_python: %s" % e, file=sys.stderr)
        return 1

    print("bench_python: %d requests per side in %d rounds of %d, %d warm-up, %s, "
          "Python %s, libultrallm %s" % (n * rounds, rounds, n, args.warmup, args.url,
                                         platform.python_version(), ultrallm.version()))
    print("  %-26s %11s %17s %13s" % ("", "CPU us/call", "rounds min-max", "wall us/call"))
    order = ["C ulm_complete()", "C libcurl+jansson", "ctypes ulm_complete()",
             "Client.complete()", "Client.complete(), thread", "http.client+json",
             "urllib+json"]
    median = {name: statistics.median(cpu[name]) for name in order}
    for name in order:
        print("  %-26s %11.1f %8.1f-%-8.1f %13.1f" % (
            name, median[name], min(cpu[name]), max(cpu[name]),
            statistics.median(wall[name])))
    # Ratios within each round, whose sides ran minutes apart at most: drift cancels.
    python = cpu["Client.complete()"]
    for name in ("C ulm_complete()", "ctypes ulm_complete()", "Client.complete(), thread",
                 "http.client+json", "urllib+json"):
        ratios = [p / o for p, o in zip(python, cpu[name])]
        extra = [p - o for p, o in zip(python, cpu[name])]
        print("  Client.complete() / %-26s %5.2f (rounds %.2f-%.2f), %+7.1f us a call"
              % (name + ":", statistics.median(ratios), min(ratios), max(ratios),
                 statistics.median(extra)))
    # The rows of tests/perf/run's table (bench_common.h: table_row): Python's cost
    # against C's and against the standard library's.
    for base_name in ("C ulm_complete()", "http.client+json"):
        ratios = sorted(p / o for p, o in zip(python, cpu[base_name]))
        q = [ratios[round(f * (len(ratios) - 1))] for f in (0.25, 0.75)]
        print("@row\tPython Client.complete() vs %s, CPU per call\tus\t%.6g\t%.6g\t%.4f\t"
              "%.4f-%.4f\t-" % (base_name, median["Client.complete()"], median[base_name],
                                statistics.median(ratios), q[0], q[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
