#!/usr/bin/env node
// Fault-injecting OpenAI chat-completions server for ultra-llm's integration tests.
//
// The real backends (the DMR emulator, prism) answer well and at once, so the
// client's streaming parser and timeouts are never exercised on the paths that
// break in the field: stalls, slow streams, dropped connections, broken events,
// characters split across reads, servers still loading a model. This server
// speaks the OpenAI wire format and injects one such fault per request, chosen
// by the URL, so a test only has to pick a base URL. It has no dependencies
// (node 18+ built-ins only).
//
// Usage:
//   node tests/servers/fault-server.mjs [--host 127.0.0.1] [--port 0] [--verbose]
//   --port 0 picks a free port. Once listening, exactly one line goes to stdout:
//   "fault-server listening on http://HOST:PORT". Diagnostics go to stderr, and
//   only with --verbose.
//
// URL scheme: /<scenario>/<n>/<rest>, n a non-negative integer parameter. The
// client appends its API path to a base URL, so <rest> is matched by suffix:
//   POST .../chat/completions  a chat request, answered as the scenario says
//   GET  .../models            {"object":"list","data":[{"id":"fault-model",...}]}
// e.g. OpenAI-style base URL http://H:P/stall-mid/2000/v1, or DMR-style base URL
// http://H:P/loading/1500 (the client appends /engines/v1). Anything else is a
// 404 JSON error; an unknown scenario or a bad n is a 400 JSON error naming it.
// Outside the scheme:
//   GET  /_stats  {"requests":{"<scenario>/<n>":count,...},"reset":count}: chat
//                 requests seen per scenario, so a test can tell whether the client
//                 retried, and the requests close-idle reset (not counted in
//                 "requests").
//   POST /_reset  forgets when each loading/<n> started and what each tag has seen
//                 (answers {}).
// Docker Model Runner's list of runners, GET .../engines/ps under any scenario, says what
// the path's tag (the segments between n and "engines") asks of the model "fault-model":
//   loaded               loaded and idle, ready at once;
//   loading              being loaded;
//   absent-then-loading  not loaded at the first ps of that path, loading after;
// any other path has no list (404), as a server that is not a runner.
//
// The answer text is always TEXT below, streamed as the deltas in DELTAS, and
// usage is always USAGE; the C tests hard-code them:
//   TEXT   = "Hello, world! Ünïcödé 🙂 done."
//   DELTAS = "Hello" | ", world!" | " Ünïcödé" | " 🙂" | " done."
//   USAGE  = {"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}
//
// A request with "stream": true gets SSE as OpenAI sends it: a role chunk, one
// chunk per delta, a finish_reason "stop" chunk, a usage chunk ("choices":[])
// only if stream_options.include_usage is true, then "data: [DONE]". Events are
// 20 ms apart so that the client reads them separately, and the event of " 🙂"
// goes out in two writes 20 ms apart, split inside the emoji's UTF-8 bytes.
// Otherwise the answer is one chat.completion JSON object with Content-Length.
// The request body is read whole first (over 1 MiB: 413).
//
// Scenarios ("head" is the role chunk and the first two deltas, "Hello" and
// ", world!"; "tail" is the rest of the normal stream):
//   ok/0                the normal answer.
//   delay-first-byte/N  nothing (not even headers) for N ms, then the normal answer.
//   slow/N              the normal stream with N ms between events; JSON: normal.
//   stall-mid/N         head, N ms of silence, tail. JSON: headers and the first
//                       half of the body, N ms of silence, the rest.
//   close-mid/N         head, then the socket is destroyed (no terminating
//                       chunk). JSON: headers and half the body, then the same.
//   malformed/N         head, the broken event 'data: {"choices":[{"delta":{"content":',
//                       then tail on the same connection. JSON: a complete 200
//                       response whose body is the first half of the JSON.
//   oversized-line/N    the role chunk, then "data: " and N bytes of "x" without
//                       a newline, then the end of the response. JSON: a
//                       chat.completion whose content is N "x"s.
//   loading/N           503 {"error":{"message":"Loading model","type":"unavailable_error"}}
//                       until N ms after the first request to loading/N, then
//                       the normal answer (as DMR answers while loading a model).
//                       Path segments between N and the API path tag a separate
//                       loading period: /loading/800/run-42/engines/v1/....
//   hang/0              reads the request and never answers; the connection
//                       stays open until the client closes it.
//   error-json/N        HTTP status N (200-599) with
//                       {"error":{"message":"fault-server error N","type":"server_error","code":null}}.
//   stream-error/0      head, then the event
//                       data: {"error":{"message":"fault-server stream error","type":"server_error"}}
//                       and the end of the response, without [DONE]. JSON: that
//                       error object with status 200.
//   no-done/0           the role chunk and the deltas, then the end of the
//                       response: no finish, usage or [DONE]. JSON: normal.
//   retry-after/N       per tag (path segments between N and the API path, as for
//                       loading), the first request gets 429 with "Retry-After: N"
//                       (seconds) and a rate_limit_exceeded error; later ones the
//                       normal answer.
//   fail-first/N        per tag, the first N requests get 503 with a server_error;
//                       later ones the normal answer.
//   quota/0             429 with OpenAI's insufficient_quota error, which waiting
//                       does not fix (no Retry-After).
//   crlf/0              the normal stream with every line ending in \r\n, and the
//                       lines ": keep-alive" and "event: message" before the
//                       first data line. JSON: normal.
//   close-after/P       the normal answer, advertising keep-alive ("Connection:
//                       keep-alive", "Keep-Alive: timeout=5"; JSON with Content-Length,
//                       SSE chunked), then the server closes the connection as soon as
//                       the answer is sent, with probability P percent (0-100; 100:
//                       after every answer). Which answers close is a hash of the tag
//                       (path segments between P and the API path, as for loading) and
//                       the request's index under it, so the same requests close the
//                       same connections on every run; another tag, another sequence.
//                       A client that reuses the connection before it sees the close
//                       sends its next request into a dead connection.
//   close-idle/N        the normal answer, advertising keep-alive as close-after does,
//                       then the connection is closed N ms after the answer. A request
//                       that arrives on it meanwhile (any request, any scenario) is
//                       never answered: the connection is reset (RST) as soon as its
//                       headers are in, as a server's kernel answers a request sent on
//                       an idle keep-alive connection the server has just closed. A
//                       client still sending a long body then fails to send; one that
//                       sent it all fails to receive.
//                       Both stream their events back to back, without the 20 ms
//                       pauses or the split emoji, so that a test can make thousands
//                       of calls.
//   reset/0             reads the request, then resets the connection (RST): no answer.
//   stall-headers/N     the status line and headers at once, then N ms of silence
//                       before the first byte of the body, then the normal answer.
//   retry-date/N        as retry-after/N, with Retry-After as an HTTP date N s ahead.
//   text-error/N        HTTP status N (200-599) with a text/plain body, as Docker Model
//                       Runner writes its own errors: "fault-server text error N\n".
//   garbage/0           bytes that are not HTTP ("\x00\xffNOT HTTP AT ALL\r\n\r\n"),
//                       then the connection is closed.
//   bad-utf8/0          the normal answer with an invalid UTF-8 byte (0xFF) in its text:
//                       "Hello, world!" then 0xFF in the third delta's place.
//   big/N               an answer of N MiB of text: "x"s, in one JSON string, or streamed
//                       as 64 KiB deltas.
//   many-events/N       the role chunk, N deltas of "x" each its own event, the finish
//                       chunk and [DONE], back to back. JSON: N "x"s.
//   byte-split/0        the normal stream, every byte of it its own write. JSON: normal.
//   echo/N              a backend that repeats what it was sent, credentials included:
//                       HTTP status N with an error whose message holds the request's URL
//                       and its authorization, x-api-key and x-goog-api-key headers; with
//                       N 200 and a streamed request, the head of the stream and then that
//                       error as an event.
// n is ignored where the list has it as 0 (and by close-mid, malformed).

import {AbortableOutput, listen, parseJSON, readBody, scenarioServer, startup} from "./common.mjs";

const TEXT = "Hello, world! Ünïcödé 🙂 done.";
const DELTAS = ["Hello", ", world!", " Ünïcödé", " 🙂", " done."];
const USAGE = {prompt_tokens: 7, completion_tokens: 5, total_tokens: 12};
const MODEL = "fault-model";
const MAX_BODY_BYTES = 1024 * 1024;
const EVENT_GAP_MS = 20;
const SPLIT_CHAR = Buffer.from("🙂");
const MAX_N = 2 ** 31 - 1; // longer timers fire at once in node
const WRITE_PIECE = 64 * 1024;
const SCENARIOS = new Set(["ok", "delay-first-byte", "slow", "stall-mid", "close-mid", "malformed",
    "oversized-line", "loading", "hang", "error-json", "stream-error", "no-done", "crlf",
    "retry-after", "fail-first", "quota", "close-after", "close-idle", "reset", "stall-headers",
    "retry-date", "text-error", "garbage", "bad-utf8", "big", "many-events", "byte-split", "echo"]);
const MIB = 1024 * 1024;

// ---------------------------------------------------------------- options

const {opts, log} = startup("fault-server", "[--host H] [--port N] [--verbose]",
    process.argv.slice(2), {});

// ---------------------------------------------------------------- answers

const requestCounts = new Map(); // "<scenario>/<n>" -> chat requests seen
const loadingSince = new Map(); // "/loading/<n>[/tag...]" -> time of its first request
const taggedCounts = new Map(); // "/<scenario>/<n>[/tag...]" -> chat requests seen
const psSeen = new Set(); // paths whose list of runners was asked for
const closingSockets = new WeakSet(); // connections close-idle is about to close
let resetRequests = 0; // requests that arrived on one of them

function chunk(delta, finishReason = null) {
    return {id: "chatcmpl-fault", object: "chat.completion.chunk", created: 0, model: MODEL,
        choices: [{index: 0, delta, finish_reason: finishReason}]};
}

// The normal stream's events, each with its "\n\n"; the first is the role
// chunk and the next two are the deltas "Hello" and ", world!".
function normalEvents(includeUsage) {
    const chunks = [chunk({role: "assistant", content: ""}), ...DELTAS.map((content) => chunk({content})),
        chunk({}, "stop")];
    if (includeUsage) chunks.push({id: "chatcmpl-fault", object: "chat.completion.chunk", created: 0, model: MODEL,
        choices: [], usage: USAGE});
    return [...chunks.map(sseData), "data: [DONE]\n\n"];
}

function sseData(value) {
    return `data: ${JSON.stringify(value)}\n\n`;
}

function completion(content = TEXT) {
    return {id: "chatcmpl-fault", object: "chat.completion", created: 0, model: MODEL,
        choices: [{index: 0, message: {role: "assistant", content}, finish_reason: "stop"}], usage: USAGE};
}

function errorBody(message, type, extra = {}) {
    return {error: {message, type, ...extra}};
}

// One response's output, paced: SSE events `gap` ms apart.
class Output extends AbortableOutput {
    constructor(res, signal, gap) {
        super(res, signal);
        this.gap = gap;
        this.started = false;
    }

    // Sends an SSE event `pause` ms after the previous one (the first goes out
    // with the headers at once). The " 🙂" event is cut after the emoji's second
    // byte, so that the client has to join a character split across reads.
    async event(text, pause = this.gap) {
        if (this.started) await this.pause(pause);
        else this.startStream();
        await this.writeSplit(text, SPLIT_CHAR, EVENT_GAP_MS);
    }

    async events(list) {
        for (const text of list) await this.event(text);
    }

    startStream() {
        this.res.writeHead(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"});
        this.started = true;
    }

    async end(text = "") {
        await this.pause(this.gap);
        this.res.end(text);
    }
}

async function chat(req, res, signal, scenario, n) {
    const key = `${scenario}/${n}`;
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
    const arrived = Date.now();
    // a tag between n and the API path ("/loading/800/run-42/engines/v1") starts a fresh
    // loading period, so each test run can load anew on a server that keeps running
    const loadKey = req.url.slice(0, req.url.lastIndexOf("/chat/completions"));
    if (scenario === "loading" && !loadingSince.has(loadKey)) loadingSince.set(loadKey, arrived);
    const seenBefore = taggedCounts.get(loadKey) ?? 0;
    taggedCounts.set(loadKey, seenBefore + 1);

    const {text: raw} = await readBody(req, MAX_BODY_BYTES, signal);
    if (raw === null) return sendJSON(res, 413, errorBody("request body over 1 MiB", "invalid_request_error"));
    const body = parseJSON(raw);
    if (body === null || typeof body !== "object") {
        return sendJSON(res, 400, errorBody("request body is not a JSON object", "invalid_request_error"));
    }
    const stream = body.stream === true;
    const events = normalEvents(body.stream_options?.include_usage === true);
    const head = events.slice(0, 3);
    const tail = events.slice(3);
    const out = new Output(res, signal, scenario === "slow" ? n : EVENT_GAP_MS);
    if (scenario === "close-after" || scenario === "close-idle") {
        closeAfterAnswer(req, res, scenario, n, loadKey, seenBefore);
        if (stream) return await streamAtOnce(out, events);
    }

    switch (scenario) {
    case "hang":
        req.socket.setTimeout(0);
        return log(`${key}: not answering`);
    case "reset":
        return req.socket.resetAndDestroy();
    case "echo": {
        const said = ["authorization", "x-api-key", "x-goog-api-key"]
            .map((name) => `${name}: ${req.headers[name] ?? "-"}`).join(", ");
        const error = errorBody(`you sent ${req.url} with ${said}`, "invalid_request_error");
        if (n !== 200 || !stream) return sendJSON(res, n, error);
        await out.events(head);
        return await out.end(sseData(error));
    }
    case "garbage":
        req.socket.end(Buffer.from("\x00\xffNOT HTTP AT ALL\r\n\r\n", "latin1"));
        return;
    case "text-error": {
        const text = Buffer.from(`fault-server text error ${n}\n`);
        return res.writeHead(n, {"Content-Type": "text/plain; charset=utf-8",
            "Content-Length": text.length}).end(text);
    }
    case "retry-date":
        if (seenBefore === 0) {
            res.setHeader("Retry-After", new Date(Date.now() + n * 1000).toUTCString());
            return sendJSON(res, 429, errorBody("fault-server rate limit", "requests",
                {code: "rate_limit_exceeded"}));
        }
        break;
    case "stall-headers":
        res.writeHead(200, {"Content-Type": stream ? "text/event-stream" : "application/json"});
        res.flushHeaders();
        await out.pause(n);
        if (!stream) return res.end(JSON.stringify(completion()));
        out.started = true;
        return await finish(out, events);
    case "bad-utf8":
        return badUtf8(res, out, stream, events);
    case "big":
        return await bigAnswer(res, out, stream, n);
    case "many-events":
        if (!stream) return sendJSON(res, 200, completion("x".repeat(n)));
        return await streamAtOnce(out, [events[0], ...Array(n).fill(sseData(chunk({content: "x"}))),
            sseData(chunk({}, "stop")), "data: [DONE]\n\n"]);
    case "byte-split":
        if (!stream) break;
        out.startStream();
        for (const byte of Buffer.from(events.join(""))) await out.write(Buffer.from([byte]));
        return res.end();
    case "error-json":
        return sendJSON(res, n, errorBody(`fault-server error ${n}`, "server_error", {code: null}));
    case "retry-after":
        if (seenBefore === 0) {
            res.setHeader("Retry-After", String(n));
            return sendJSON(res, 429, errorBody("fault-server rate limit", "requests",
                {code: "rate_limit_exceeded"}));
        }
        break;
    case "fail-first":
        if (seenBefore < n) return sendJSON(res, 503, errorBody("fault-server failure", "server_error"));
        break;
    case "quota":
        return sendJSON(res, 429, errorBody("You exceeded your current quota, please check your plan " +
            "and billing details.", "insufficient_quota", {code: "insufficient_quota"}));
    case "loading":
        if (arrived - loadingSince.get(loadKey) < n) {
            return sendJSON(res, 503, errorBody("Loading model", "unavailable_error"));
        }
        break;
    case "delay-first-byte":
        await out.pause(n);
        break;
    }
    if (!stream) return await answerJSON(res, out, scenario, n);

    switch (scenario) {
    case "stall-mid":
        await out.events(head);
        await out.event(tail[0], n);
        return await finish(out, tail.slice(1));
    case "close-mid":
        await out.events(head);
        await out.pause(out.gap);
        return res.socket.destroy();
    case "malformed":
        await out.events([...head, 'data: {"choices":[{"delta":{"content":\n\n', ...tail.slice(0, -1)]);
        return await out.end(tail.at(-1));
    case "oversized-line":
        await out.event(events[0]);
        await out.event("data: ");
        for (let left = n; left > 0; left -= WRITE_PIECE) {
            await out.write(Buffer.alloc(Math.min(left, WRITE_PIECE), "x"));
        }
        return res.end();
    case "stream-error":
        await out.events(head);
        return await out.end(sseData(errorBody("fault-server stream error", "server_error")));
    case "no-done":
        await out.events(events.slice(0, 1 + DELTAS.length));
        return await out.end();
    case "crlf":
        events[0] = ": keep-alive\nevent: message\n" + events[0];
        return await finish(out, events.map((text) => text.replaceAll("\n", "\r\n")));
    default:
        return await finish(out, events);
    }
}

// The normal answer with the byte 0xFF where the third delta would be.
function badUtf8(res, out, stream, events) {
    const marker = "@@BAD@@";
    const swap = (text) => Buffer.concat(text.split(marker).flatMap((part, i) =>
        i ? [Buffer.from([0xff]), Buffer.from(part)] : [Buffer.from(part)]));
    if (!stream) {
        const body = swap(JSON.stringify(completion(`Hello, world!${marker}`)));
        return res.writeHead(200, {"Content-Type": "application/json", "Content-Length": body.length}).end(body);
    }
    out.startStream();
    const list = [...events.slice(0, 3), sseData(chunk({content: marker})), ...events.slice(4)];
    res.end(Buffer.concat(list.map(swap)));
}

// N MiB of "x": one JSON string, or 64 KiB deltas streamed back to back.
async function bigAnswer(res, out, stream, n) {
    const piece = "x".repeat(64 * 1024);
    if (!stream) { // written in pieces: building it whole would hold the server up for seconds
        const [before, after] = JSON.stringify(completion("@@TEXT@@")).split("@@TEXT@@");
        res.writeHead(200, {"Content-Type": "application/json",
            "Content-Length": Buffer.byteLength(before) + n * MIB + Buffer.byteLength(after)});
        await out.write(before);
        for (let i = 0; i < n * 16; i++) await out.write(piece);
        return res.end(after);
    }
    out.startStream();
    await out.write(sseData(chunk({role: "assistant", content: ""})));
    const event = sseData(chunk({content: piece}));
    for (let i = 0; i < n * 16; i++) await out.write(event);
    await out.write(sseData(chunk({}, "stop")));
    res.end("data: [DONE]\n\n");
}

// Advertises keep-alive on the answer, then closes its connection once the answer is
// sent: close-after/P at once, for P percent of the requests under the tag; close-idle/N
// N ms later, or at once with a reset if a request arrives on it meanwhile (see route).
function closeAfterAnswer(req, res, scenario, n, tag, index) {
    res.setHeader("Connection", "keep-alive");
    res.setHeader("Keep-Alive", "timeout=5");
    const socket = req.socket; // the response lets go of it once finished
    if (scenario === "close-after") {
        if (chance(`${tag}#${index}`) * 100 >= n) return;
        res.once("finish", () => {
            log(`${scenario}/${n}: closing the connection after answer ${index}`);
            socket.destroy();
        });
        return;
    }
    res.once("finish", () => {
        closingSockets.add(socket);
        setTimeout(() => socket.destroy(), n);
    });
}

// A number in [0, 1) that depends only on text (FNV-1a, then murmur3's finalizer to
// spread the bits), so that a "random" choice repeats from run to run.
function chance(text) {
    let h = 0x811c9dc5;
    for (const byte of Buffer.from(text)) h = Math.imul(h ^ byte, 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

// The whole stream at once: the events back to back, each its own chunk.
async function streamAtOnce(out, list) {
    out.startStream();
    for (const text of list) await out.write(text);
    out.res.end();
}

// Streams all of `list` but the last, which goes out with the end of the response.
async function finish(out, list) {
    await out.events(list.slice(0, -1));
    await out.end(list.at(-1));
}

async function answerJSON(res, out, scenario, n) {
    const full = Buffer.from(JSON.stringify(completion()));
    const half = full.subarray(0, full.length >> 1);
    const headers = (length) => ({"Content-Type": "application/json", "Content-Length": length});
    switch (scenario) {
    case "stall-mid":
        res.writeHead(200, headers(full.length));
        await out.write(half);
        await out.pause(n);
        return res.end(full.subarray(half.length));
    case "close-mid":
        res.writeHead(200, headers(full.length));
        await out.write(half);
        await out.pause(out.gap);
        return res.socket.destroy();
    case "malformed":
        return res.writeHead(200, headers(half.length)).end(half);
    case "oversized-line":
        return sendJSON(res, 200, completion("x".repeat(n)));
    case "stream-error":
        return sendJSON(res, 200, errorBody("fault-server stream error", "server_error"));
    default:
        return sendJSON(res, 200, completion());
    }
}

// ---------------------------------------------------------------- HTTP plumbing

const NO_ROUTE = errorBody("no route", "invalid_request_error");

async function route(req, res, signal) {
    if (closingSockets.has(req.socket)) {
        resetRequests++;
        log(`${req.method} ${req.url}: resetting the closing connection it came on`);
        return req.socket.resetAndDestroy();
    }
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/_stats" && req.method === "GET") {
        return sendJSON(res, 200, {requests: Object.fromEntries(requestCounts), reset: resetRequests});
    }
    if (path === "/_reset" && req.method === "POST") {
        loadingSince.clear();
        taggedCounts.clear();
        psSeen.clear();
        return sendJSON(res, 200, {});
    }
    const [, scenario, param, ...rest] = path.split("/");
    if (scenario === "" || rest.length === 0) return sendJSON(res, 404, NO_ROUTE);
    if (!SCENARIOS.has(scenario)) {
        return sendJSON(res, 400, errorBody(`unknown fault scenario '${scenario}'`, "invalid_request_error"));
    }
    const n = /^\d{1,10}$/.test(param) ? Number(param) : NaN;
    if (!(n <= MAX_N) || ((scenario === "error-json" || scenario === "text-error" || scenario === "echo") &&
        (n < 200 || n > 599)) ||
        (scenario === "close-after" && n > 100)) {
        return sendJSON(res, 400, errorBody(`bad parameter '${param}' for fault scenario '${scenario}'`,
            "invalid_request_error"));
    }
    const suffix = "/" + rest.join("/");
    if (suffix.endsWith("/chat/completions") && req.method === "POST") return await chat(req, res, signal, scenario, n);
    if (suffix.endsWith("/engines/ps") && req.method === "GET") return runners(res, path, rest);
    if (suffix.endsWith("/models") && req.method === "GET") {
        return sendJSON(res, 200, {object: "list", data: [{id: MODEL, object: "model", created: 0, owned_by: "fault"}]});
    }
    sendJSON(res, 404, NO_ROUTE);
}

// GET .../engines/ps: the runner list the tag asks for (see the header), as DMR writes it.
function runners(res, path, rest) {
    const tag = rest.slice(0, rest.indexOf("engines")).join("/");
    const first = !psSeen.has(path);
    psSeen.add(path);
    const runner = (extra) => [{backend_name: "llama.cpp", model_name: `ai/${MODEL}`, mode: "completion",
        last_used: "0001-01-01T00:00:00Z", ...extra}];
    switch (tag) {
    case "loaded": return sendJSON(res, 200, runner({last_used: "2026-01-01T00:00:00Z"}));
    case "loading": return sendJSON(res, 200, runner({loading: true}));
    case "absent-then-loading": return sendJSON(res, 200, first ? [] : runner({loading: true}));
    default: return sendJSON(res, 404, NO_ROUTE);
    }
}

function sendJSON(res, status, value) {
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {"Content-Type": "application/json", "Content-Length": body.length}).end(body);
}

// ---------------------------------------------------------------- startup and shutdown

const server = scenarioServer(route, log,
    (res) => sendJSON(res, 500, errorBody("internal error", "server_error")));
listen(server, "fault-server", opts, log);
