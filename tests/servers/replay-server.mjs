#!/usr/bin/env node
// Replay server for ultra-llm's integration tests: Anthropic Messages and Google Gemini.
//
// The cloud providers cannot be called from the test suite (keys, cost, flakiness)
// and the OpenAPI mocks only produce schema-shaped JSON: they do not stream the
// documented event sequences, do not reject the requests the real services reject,
// and cannot be asked for a 529 or a prompt blocked by a safety filter. This
// server replays both APIs as their public documentation describes them, checks
// every request as strictly as the real service (so that a request bug in the
// client shows up as an error, not as a passing test), and answers with one fixed
// text or with the error picked by the URL. It has no dependencies (node 18+
// built-ins only).
//
// Usage:
//   node tests/servers/replay-server.mjs [--host 127.0.0.1] [--port 0] [--verbose]
//   --port 0 picks a free port. Once listening, exactly one line goes to stdout:
//   "replay-server listening on http://HOST:PORT". Diagnostics go to stderr, and
//   only with --verbose.
//
// URL scheme: /<provider>/<scenario>[/<tag>...]/<API path>. The client appends its
// API path to a base URL, so the API path is matched by suffix and everything
// between the scenario and it is a tag (one or more segments) that only gives a
// test its own request counter.
//   Anthropic, base URL http://H:P/anthropic/<scenario>[/<tag>]:
//     POST .../v1/messages          a message, JSON or SSE ("stream": true)
//     GET  .../v1/models            3 models, paginated (limit, after_id, before_id)
//     GET  .../v1/models/<id>       one of them
//   Gemini, base URL http://H:P/gemini/<scenario>[/<tag>]:
//     POST .../v1beta/models/<model>:generateContent
//     POST .../v1beta/models/<model>:streamGenerateContent?alt=sse
//     GET  .../v1beta/models        3 models (one an embedding model), pageSize/pageToken
//     GET  .../v1beta/models/<model>
//   An unknown scenario is a 400 naming it, an unknown API path a 404, both in the
//   provider's error shape. Outside the scheme:
//     GET  /_stats   {"requests":{"anthropic/<scenario>[/<tag>]":count,...}}: generation
//                    requests (messages, generateContent, streamGenerateContent; not
//                    model listings) seen, valid or not, so a test can tell whether
//                    the client retried.
//     POST /_reset   forgets the counts (answers {}).
//
// The answer (the C tests hard-code these):
//   TEXT   = "Hello from the replay server! Ünïcödé 🙂 done."
//   DELTAS = "Hello" | " from the replay server!" | " Ünïcödé" | " 🙂" | " done."
//   Anthropic: usage input_tokens 12, output_tokens 9; "model" echoes the request's
//     model; stop_reason "end_turn", stop_sequence null.
//   Gemini: usageMetadata promptTokenCount 12, candidatesTokenCount 9,
//     totalTokenCount 21; finishReason "STOP"; modelVersion = the model in the path.
//
// Wire layout (as each provider sends it):
//   Anthropic SSE, LF line ends, every event named:
//     event: message_start        message with empty content, usage {input_tokens:12,
//                                 ..., output_tokens:1} (1, not 9: the start count)
//     event: content_block_start  index 0, {"type":"text","text":""}
//     event: ping
//     event: content_block_delta  one per delta, {"type":"text_delta","text":...}
//     event: content_block_stop
//     event: message_delta        delta {stop_reason, stop_sequence}, usage with the
//                                 final cumulative output_tokens 9
//     event: message_stop
//   Anthropic JSON and SSE data are compact JSON.
//   Gemini SSE: "data: <GenerateContentResponse>\r\n\r\n" per chunk (CRLF, as Google
//     sends it), no "event:" lines, no [DONE]: the response just ends. One chunk per
//     delta, each with the candidate's role "model", index 0 and a cumulative
//     usageMetadata (candidatesTokenCount 1, 5, 7, 8, 9); the last one carries
//     finishReason "STOP" along with its text. The data JSON has Google's spacing
//     ({"key": value,"key2": value}); Gemini JSON bodies (answers and errors) are
//     pretty-printed with two spaces, as Google's are.
//   Streaming events are 15 ms apart, and the " 🙂" event goes out in two writes 20 ms
//   apart, split inside the emoji's UTF-8 bytes, so that the client has to join a
//   character split across reads. JSON answers have a Content-Length.
//
// Request checks, done before the scenario is looked at (a bad request is reported
// as such even in scenario "ok"):
//   Anthropic: headers x-api-key non-empty (401 authentication_error),
//   anthropic-version (400), Content-Type application/json (400); body (400
//   invalid_request_error, pydantic-style messages such as "seed: Extra inputs are
//   not permitted"): model string; max_tokens integer >= 1, required; messages a
//   non-empty array of {role, content}, role "user" or "assistant" (a "system" role
//   is refused with a pointer to the top-level system parameter), the first one
//   "user", roles strictly alternating; content a non-empty string or a non-empty
//   array of {"type":"text","text":non-empty} blocks (only the final assistant
//   message may be empty, to prefill); optional system (string or text blocks),
//   temperature 0..1, top_p 0..1, top_k >= 0, stop_sequences (strings with
//   non-whitespace), stream (bool), metadata ({user_id}), and the other documented
//   parameters (tools, tool_choice, thinking, service_tier, container,
//   inference_geo, output_config, cache_control), checked for type only. Any other
//   top-level key is "<key>: Extra inputs are not permitted". Body over 32 MiB: 413
//   request_too_large.
//   Gemini: header x-goog-api-key non-empty (else 403 PERMISSION_DENIED); a key=
//   query parameter is a 400 INVALID_ARGUMENT (Google accepts it, but the client
//   must never put the key in a URL, where logs keep it); :streamGenerateContent
//   without alt=sse is a 400 (Google would answer with a JSON array, which the
//   client does not parse). Body (400 INVALID_ARGUMENT with Google's messages, e.g.
//   'Invalid JSON payload received. Unknown name "x" at 'generation_config': Cannot
//   find field.'): contents a non-empty array of {role?, parts}, role "user" or
//   "model" when set, parts non-empty, each part with exactly one data field (text
//   a non-empty string, or inlineData, fileData, functionCall, ...); optional
//   systemInstruction (a Content with text parts, role ignored), generationConfig
//   (its documented fields only: temperature 0..2, topP 0..1, topK, candidateCount
//   1..8, maxOutputTokens >= 1, stopSequences up to 5 strings, seed, penalties,
//   responseMimeType, responseSchema, responseJsonSchema, responseModalities,
//   responseLogprobs, logprobs, thinkingConfig {includeThoughts, thinkingBudget,
//   thinkingLevel}, ...), safetySettings, tools, toolConfig, cachedContent. Field
//   names may be lowerCamel or snake_case, as proto JSON allows. Any other field is
//   an "Unknown name" error. Body over 20 MiB: 400.
//   Model listings need the same headers (Anthropic: x-api-key, anthropic-version).
//   A wrong HTTP method is a 405 (Anthropic) or 404 (Gemini). Anthropic errors are
//   {"type":"error","error":{"type":...,"message":...},"request_id":"req_..."} with
//   a request-id header; Gemini errors {"error":{"code","message","status",details?}}.
// Deliberately stricter than the services, to catch client bugs: Anthropic now
// merges consecutive same-role turns and no longer documents the user-first rule
// (here both are 400s); Anthropic image/document/tool blocks are refused (the
// client sends text only); Gemini's key= parameter and streaming without alt=sse,
// which Google accepts, are refused.
//
// Scenarios. Error scenarios answer requests (stream or not, and model listings)
// with a status and a JSON error before anything is streamed.
//   name           Anthropic                                 Gemini
//   ok             the answer                                the answer
//   echo           the answer's text is the request body as received, re-serialised
//                  as compact JSON (so 1.0 reads 1); streamed as a single delta
//   thinking       -                                         a {"thought":true} part
//                  (its own chunk when streaming) before the answer; usageMetadata
//                  adds thoughtsTokenCount 4, so totalTokenCount is 25
//   overloaded     529 overloaded_error "Overloaded"         -
//   rate-limit     429 rate_limit_error, retry-after: 1      429 RESOURCE_EXHAUSTED with
//                                                            QuotaFailure, Help and
//                                                            RetryInfo retryDelay "1s"
//   unavailable    -                                         503 UNAVAILABLE "The model is
//                                                            overloaded. Please try again later."
//   auth           401 authentication_error                  400 INVALID_ARGUMENT "API key not
//                  "invalid x-api-key"                       valid. Please pass a valid API key."
//                                                            (ErrorInfo reason API_KEY_INVALID)
//   denied         403 permission_error                      403 PERMISSION_DENIED (service
//                                                            disabled, ErrorInfo SERVICE_DISABLED)
//   not-found      404 not_found_error "model: <model>"      404 NOT_FOUND "models/<model> is not
//                                                            found for API version v1beta, ..."
//   invalid        400 invalid_request_error                 400 INVALID_ARGUMENT
//   too-long       400 "prompt is too long: 215000 tokens    400 "The input token count (1200000)
//                  > 200000 maximum"                         exceeds the maximum number of tokens
//                                                            allowed (1048576)."
//   credit         400 "Your credit balance is too low ..."  -
//   server         500 api_error                             500 INTERNAL
//   blocked        -                                         200, promptFeedback {blockReason
//                                                            "SAFETY", safetyRatings}, no
//                                                            candidates (streaming: one chunk)
//   safety         -                                         text "Hello", finishReason "SAFETY"
//                                                            with safetyRatings (streaming:
//                                                            "Hello", then a chunk with no
//                                                            content and finishReason SAFETY)
//   stream-error   message_start, content_block_start,       chunks "Hello" and " from the
//                  ping, "Hello", " from the replay          replay server!", then the
//                  server!", then "event: error" with        connection is destroyed (no
//                  overloaded_error and the end of the       finishReason, no end of the
//                  response. Not streaming: the normal       chunked body). Not streaming:
//                  answer.                                   the normal answer.
//   max-tokens     stop_reason "max_tokens"                  finishReason "MAX_TOKENS"
//   stop-sequence  stop_reason "stop_sequence",              finishReason "STOP" (Gemini does
//                  stop_sequence = the request's first       not tell a stop sequence from a
//                  stop sequence, or "###" without one       natural stop)
// Text and usage are TEXT and the usage above in every scenario with an answer,
// except echo (text), thinking (usage), safety ("Hello", 1 token) and blocked.
// A "-" scenario is unknown for that provider (400).

import {randomBytes} from "node:crypto";

import {AbortableOutput, listen, parseJSON, readBody, scenarioServer, startup} from "./common.mjs";

const TEXT = "Hello from the replay server! Ünïcödé 🙂 done.";
const DELTAS = ["Hello", " from the replay server!", " Ünïcödé", " 🙂", " done."];
const DELTA_TOKENS = [1, 4, 2, 1, 1]; // sums to OUTPUT_TOKENS; cumulative counts in Gemini chunks
const SPLIT_DELTA = " 🙂"; // the event written in two pieces
const SPLIT_CHAR = Buffer.from("🙂");
const INPUT_TOKENS = 12;
const OUTPUT_TOKENS = 9;
const THOUGHT_TOKENS = 4;
const THOUGHT_TEXT = "**Choosing a reply**\n\nThe user wants a short greeting, so the fixed replay text will do.";
const DEFAULT_STOP_SEQUENCE = "###";
const EVENT_GAP_MS = 15;
const SPLIT_GAP_MS = 20;
const ANTHROPIC_MAX_BODY = 32 * 1024 * 1024;
const GEMINI_MAX_BODY = 20 * 1024 * 1024;

const ANTHROPIC_SCENARIOS = new Set(["ok", "echo", "overloaded", "rate-limit", "auth", "denied", "not-found",
    "invalid", "too-long", "credit", "server", "stream-error", "max-tokens", "stop-sequence"]);
const GEMINI_SCENARIOS = new Set(["ok", "echo", "thinking", "rate-limit", "unavailable", "auth", "denied",
    "not-found", "invalid", "too-long", "server", "blocked", "safety", "stream-error", "max-tokens",
    "stop-sequence"]);

// Newest first, as Anthropic lists them.
const ANTHROPIC_MODELS = [
    {id: "claude-haiku-4-5-20251001", display_name: "Claude Haiku 4.5", created_at: "2025-10-15T00:00:00Z"},
    {id: "claude-sonnet-4-5-20250929", display_name: "Claude Sonnet 4.5", created_at: "2025-09-29T00:00:00Z"},
    {id: "claude-opus-4-1-20250805", display_name: "Claude Opus 4.1", created_at: "2025-08-05T00:00:00Z"},
].map((m) => ({type: "model", ...m, max_input_tokens: 200000, max_tokens: 64000}));

const GEMINI_MODELS = [
    {name: "models/gemini-2.0-flash", baseModelId: "gemini-2.0-flash", version: "2.0", displayName: "Gemini 2.0 Flash",
        description: "Fast multimodal model for everyday tasks.", inputTokenLimit: 1048576, outputTokenLimit: 8192,
        supportedGenerationMethods: ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
        temperature: 1, topP: 0.95, topK: 40, maxTemperature: 2},
    {name: "models/gemini-2.5-flash", baseModelId: "gemini-2.5-flash", version: "001", displayName: "Gemini 2.5 Flash",
        description: "Hybrid reasoning model with a 1M token context window.", inputTokenLimit: 1048576,
        outputTokenLimit: 65536,
        supportedGenerationMethods: ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
        temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2, thinking: true},
    {name: "models/text-embedding-004", version: "004", displayName: "Text Embedding 004",
        description: "Obtain a distributed representation of a text.", inputTokenLimit: 2048, outputTokenLimit: 1,
        supportedGenerationMethods: ["embedContent"]},
];

// ---------------------------------------------------------------- options

const {opts, log} = startup("replay-server", "[--host H] [--port N] [--verbose]",
    process.argv.slice(2), {});

// ---------------------------------------------------------------- shared helpers

const requestCounts = new Map(); // "<provider>/<scenario>[/<tag>]" -> generation requests seen

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64URL = BASE62 + "-_";

// Random ids in the providers' formats; the tests must not depend on them.
function randomId(length, alphabet = BASE62) {
    return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v) => Number.isSafeInteger(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

// One response's output: SSE events EVENT_GAP_MS apart, with the given headers.
class Output extends AbortableOutput {
    constructor(res, signal, headers) {
        super(res, signal);
        this.headers = headers;
        this.started = false;
    }

    // Sends one SSE event EVENT_GAP_MS after the previous one (the first goes out
    // with the headers at once). A split event is cut after the emoji's second
    // byte and sent in two writes, so that the client has to join a character
    // split across reads.
    async event({text, split = false}) {
        if (this.started) await this.pause(EVENT_GAP_MS);
        else this.start();
        await this.writeSplit(text, split ? SPLIT_CHAR : null, SPLIT_GAP_MS);
    }

    start() {
        this.res.writeHead(200, this.headers);
        this.started = true;
    }

    // All events of `list`, then the end of the response.
    async stream(list) {
        for (const event of list) await this.event(event);
        if (!this.started) this.start();
        this.res.end();
    }
}

function sendBody(res, status, contentType, text, headers = {}) {
    const body = Buffer.from(text);
    res.writeHead(status, {...headers, "Content-Type": contentType, "Content-Length": body.length}).end(body);
}

function sendJSON(res, status, value, headers = {}) {
    sendBody(res, status, "application/json", JSON.stringify(value), headers);
}

function count(provider, scenario, tag) {
    const key = [provider, scenario, tag].filter(Boolean).join("/");
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
}

// A request rejected by a check: the handler throws it and the provider's error
// writer turns it into a response.
class Reject {
    constructor(status, kind, message, extra = {}) {
        Object.assign(this, {status, kind, message, extra});
    }
}

// ---------------------------------------------------------------- Anthropic

function anthropicHeaders(extra = {}) {
    return {"request-id": "req_011C" + randomId(20), ...extra};
}

function sendAnthropicError(res, {status, kind, message, extra}) {
    const headers = anthropicHeaders(extra.headers);
    sendJSON(res, status, {type: "error", error: {type: kind, message}, request_id: headers["request-id"]}, headers);
}

const anthropicReject = (message, status = 400, kind = "invalid_request_error") => new Reject(status, kind, message);

// The error a scenario answers with, or null for a scenario with an answer.
function anthropicScenarioError(scenario, model) {
    switch (scenario) {
    case "overloaded":
        return new Reject(529, "overloaded_error", "Overloaded");
    case "rate-limit": {
        const reset = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, "Z");
        return new Reject(429, "rate_limit_error", "This request would exceed the rate limit for your organization " +
            "of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can " +
            "see the response headers for current usage. Please reduce the request rate or try again later.",
        {headers: {"retry-after": "1", "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}});
    }
    case "auth":
        return new Reject(401, "authentication_error", "invalid x-api-key");
    case "denied":
        return new Reject(403, "permission_error",
            "Your API key does not have permission to use the specified resource.");
    case "not-found":
        return new Reject(404, "not_found_error", model === null ? "Not found" : `model: ${model}`);
    case "invalid":
        return anthropicReject(`max_tokens: 1000000 > 64000, which is the maximum allowed number of output tokens ` +
            `for ${model ?? "claude-sonnet-4-5-20250929"}`);
    case "too-long":
        return anthropicReject("prompt is too long: 215000 tokens > 200000 maximum");
    case "credit":
        return anthropicReject("Your credit balance is too low to access the Anthropic API. Please go to Plans & " +
            "Billing to upgrade or purchase credits.");
    case "server":
        return new Reject(500, "api_error", "Internal server error");
    default:
        return null;
    }
}

// Headers every Anthropic endpoint needs; `needsBody` adds the Content-Type check.
function checkAnthropicHeaders(req, needsBody) {
    if (!req.headers["x-api-key"]) return anthropicReject("x-api-key header is required", 401, "authentication_error");
    if (!req.headers["anthropic-version"]) return anthropicReject("anthropic-version: header is required");
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (needsBody && type !== "application/json") {
        const got = req.headers["content-type"] ?? "";
        return anthropicReject(`Invalid content-type "${got}": expected application/json`);
    }
    return null;
}

const ANTHROPIC_PARAMS = new Set(["model", "messages", "max_tokens", "system", "temperature", "top_p", "top_k",
    "stop_sequences", "stream", "metadata", "tools", "tool_choice", "thinking", "service_tier", "container",
    "inference_geo", "output_config", "cache_control"]);
const TEXT_BLOCK_KEYS = new Set(["type", "text", "cache_control", "citations"]);

// Throws a Reject for the first problem, in the order the fields are listed in
// the API reference. The messages are pydantic-style, as Anthropic's are.
function validateAnthropic(body) {
    if (!isObject(body)) throw anthropicReject("Input should be a valid dictionary");
    for (const key of Object.keys(body)) {
        if (!ANTHROPIC_PARAMS.has(key)) throw anthropicReject(`${key}: Extra inputs are not permitted`);
    }
    for (const key of ["model", "messages", "max_tokens"]) {
        if (!(key in body)) throw anthropicReject(`${key}: Field required`);
    }
    if (typeof body.model !== "string") throw anthropicReject("model: Input should be a valid string");
    if (!isInt(body.max_tokens)) throw anthropicReject("max_tokens: Input should be a valid integer");
    if (body.max_tokens < 1) throw anthropicReject("max_tokens: Input should be greater than or equal to 1");
    validateAnthropicMessages(body.messages);
    if ("system" in body) validateTextContent(body.system, "system", false);
    checkRange(body, "temperature", 0, 1);
    checkRange(body, "top_p", 0, 1);
    if ("top_k" in body) {
        if (!isInt(body.top_k)) throw anthropicReject("top_k: Input should be a valid integer");
        if (body.top_k < 0) throw anthropicReject("top_k: Input should be greater than or equal to 0");
    }
    if ("stop_sequences" in body) {
        if (!Array.isArray(body.stop_sequences)) throw anthropicReject("stop_sequences: Input should be a valid list");
        body.stop_sequences.forEach((s, i) => {
            if (typeof s !== "string") throw anthropicReject(`stop_sequences.${i}: Input should be a valid string`);
            if (s.trim() === "") {
                throw anthropicReject("stop_sequences: each stop sequence must contain non-whitespace");
            }
        });
    }
    if ("stream" in body && typeof body.stream !== "boolean") {
        throw anthropicReject("stream: Input should be a valid boolean");
    }
    if ("metadata" in body) {
        if (!isObject(body.metadata)) throw anthropicReject("metadata: Input should be a valid dictionary");
        for (const [key, value] of Object.entries(body.metadata)) {
            if (key !== "user_id") throw anthropicReject(`metadata.${key}: Extra inputs are not permitted`);
            if (value !== null && typeof value !== "string") {
                throw anthropicReject("metadata.user_id: Input should be a valid string");
            }
        }
    }
    // The rest are documented but never sent by the client: their type only.
    const kinds = {tools: "list", tool_choice: "dictionary", thinking: "dictionary", output_config: "dictionary",
        service_tier: "string", inference_geo: "string"};
    for (const [key, kind] of Object.entries(kinds)) {
        if (!(key in body)) continue;
        const ok = kind === "list" ? Array.isArray(body[key]) : kind === "string" ? typeof body[key] === "string"
            : isObject(body[key]);
        if (!ok) throw anthropicReject(`${key}: Input should be a valid ${kind}`);
    }
}

function checkRange(body, key, min, max) {
    if (!(key in body)) return;
    if (!isNumber(body[key])) throw anthropicReject(`${key}: Input should be a valid number`);
    if (body[key] < min) throw anthropicReject(`${key}: Input should be greater than or equal to ${min}`);
    if (body[key] > max) throw anthropicReject(`${key}: Input should be less than or equal to ${max}`);
}

function validateAnthropicMessages(messages) {
    if (!Array.isArray(messages)) throw anthropicReject("messages: Input should be a valid list");
    if (messages.length === 0) throw anthropicReject("messages: at least one message is required");
    messages.forEach((message, i) => {
        const at = `messages.${i}`;
        if (!isObject(message)) throw anthropicReject(`${at}: Input should be a valid dictionary`);
        for (const key of Object.keys(message)) {
            if (key !== "role" && key !== "content") {
                throw anthropicReject(`${at}.${key}: Extra inputs are not permitted`);
            }
        }
        if (!("role" in message)) throw anthropicReject(`${at}.role: Field required`);
        if (!("content" in message)) throw anthropicReject(`${at}.content: Field required`);
        if (message.role === "system") {
            throw anthropicReject('messages: Unexpected role "system". The Messages API accepts a top-level `system` ' +
                'parameter, not "system" as an input message role.');
        }
        if (message.role !== "user" && message.role !== "assistant") {
            throw anthropicReject(`${at}.role: Input should be 'user' or 'assistant'`);
        }
        if (i === 0 && message.role !== "user") {
            throw anthropicReject('messages: first message must use the "user" role');
        }
        if (i > 0 && message.role === messages[i - 1].role) {
            throw anthropicReject(`messages: roles must alternate between "user" and "assistant", but found multiple ` +
                `"${message.role}" roles in a row`);
        }
        const prefill = i === messages.length - 1 && message.role === "assistant";
        validateTextContent(message.content, `${at}.content`, prefill);
    });
}

// A string or a list of text blocks. Only a final assistant message (a prefill)
// may be empty, as the API reference says.
function validateTextContent(content, at, mayBeEmpty) {
    const empty = () => anthropicReject(at === "system" ? "system: text content blocks must be non-empty"
        : `${at.replace(/\.content$/, "")}: all messages must have non-empty content except for the optional ` +
          "final assistant message");
    if (typeof content === "string") {
        if (content === "" && !mayBeEmpty) throw empty();
        return;
    }
    if (!Array.isArray(content)) throw anthropicReject(`${at}: Input should be a valid string or a valid list`);
    if (content.length === 0 && !mayBeEmpty && at !== "system") throw empty();
    content.forEach((block, j) => {
        const bat = `${at}.${j}`;
        if (!isObject(block)) throw anthropicReject(`${bat}: Input should be a valid dictionary`);
        if (block.type !== "text") {
            // image, document, tool_use... blocks exist, but the client sends text
            // only and this server cannot check them as the API would
            throw anthropicReject(`${bat}.type: replay-server replays text content blocks only, not ` +
                `${JSON.stringify(block.type ?? null)}`);
        }
        for (const key of Object.keys(block)) {
            if (!TEXT_BLOCK_KEYS.has(key)) throw anthropicReject(`${bat}.${key}: Extra inputs are not permitted`);
        }
        if (typeof block.text !== "string") throw anthropicReject(`${bat}.text: Input should be a valid string`);
        if (block.text === "") throw anthropicReject(`${at.split(".")[0]}: text content blocks must be non-empty`);
    });
}

function anthropicUsage(outputTokens) {
    return {input_tokens: INPUT_TOKENS, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
        output_tokens: outputTokens};
}

async function anthropicMessages(req, res, signal, scenario, tag) {
    count("anthropic", scenario, tag);
    const {text: raw} = await readBody(req, ANTHROPIC_MAX_BODY, signal);
    const headerError = checkAnthropicHeaders(req, true);
    if (headerError) return sendAnthropicError(res, headerError);
    if (raw === null) {
        return sendAnthropicError(res, anthropicReject("Request exceeds the maximum allowed number of bytes.", 413,
            "request_too_large"));
    }
    const body = parseJSON(raw);
    if (body === undefined) {
        const reason = "There was an error parsing the body of your request: invalid JSON";
        return sendAnthropicError(res, anthropicReject(reason));
    }
    try {
        validateAnthropic(body);
    } catch (err) {
        if (err instanceof Reject) return sendAnthropicError(res, err);
        throw err;
    }
    const scenarioError = anthropicScenarioError(scenario, body.model);
    if (scenarioError) return sendAnthropicError(res, scenarioError);

    const deltas = scenario === "echo" ? [JSON.stringify(body)] : DELTAS;
    const stopReason = {"max-tokens": "max_tokens", "stop-sequence": "stop_sequence"}[scenario] ?? "end_turn";
    const stopSequence = scenario === "stop-sequence" ? body.stop_sequences?.[0] ?? DEFAULT_STOP_SEQUENCE : null;
    const id = "msg_01" + randomId(22);
    if (body.stream !== true) {
        return sendJSON(res, 200, {id, type: "message", role: "assistant", model: body.model,
            content: [{type: "text", text: deltas.join("")}], stop_reason: stopReason, stop_sequence: stopSequence,
            usage: {...anthropicUsage(OUTPUT_TOKENS), service_tier: "standard"}}, anthropicHeaders());
    }

    const event = (name, data, split = false) => ({text: `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, split});
    const events = [
        event("message_start", {type: "message_start", message: {id, type: "message", role: "assistant",
            model: body.model, content: [], stop_reason: null, stop_sequence: null,
            usage: {...anthropicUsage(1), service_tier: "standard"}}}),
        event("content_block_start", {type: "content_block_start", index: 0, content_block: {type: "text", text: ""}}),
        event("ping", {type: "ping"}),
    ];
    const deltaEvents = deltas.map((text) => event("content_block_delta",
        {type: "content_block_delta", index: 0, delta: {type: "text_delta", text}}, text === SPLIT_DELTA));
    if (scenario === "stream-error") {
        events.push(...deltaEvents.slice(0, 2),
            event("error", {type: "error", error: {type: "overloaded_error", message: "Overloaded"}}));
    } else {
        events.push(...deltaEvents,
            event("content_block_stop", {type: "content_block_stop", index: 0}),
            event("message_delta", {type: "message_delta",
                delta: {stop_reason: stopReason, stop_sequence: stopSequence}, usage: anthropicUsage(OUTPUT_TOKENS)}),
            event("message_stop", {type: "message_stop"}));
    }
    await new Output(res, signal, anthropicHeaders({"Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache"})).stream(events);
}

// GET /v1/models with Anthropic's cursor pagination; GET /v1/models/<id>.
async function anthropicModels(req, res, signal, scenario, id) {
    await readBody(req, ANTHROPIC_MAX_BODY, signal);
    const headerError = checkAnthropicHeaders(req, false) ?? anthropicScenarioError(scenario, null);
    if (headerError) return sendAnthropicError(res, headerError);
    if (id !== undefined) {
        const model = ANTHROPIC_MODELS.find((m) => m.id === id);
        if (!model) return sendAnthropicError(res, new Reject(404, "not_found_error", `model: ${id}`));
        return sendJSON(res, 200, model, anthropicHeaders());
    }
    const query = new URL(req.url, "http://x").searchParams;
    let limit = 20;
    if (query.has("limit")) {
        limit = Number(query.get("limit"));
        const problem = !isInt(limit) ? "a valid integer" : limit < 1 ? "greater than or equal to 1"
            : limit > 1000 ? "less than or equal to 1000" : null;
        if (problem) return sendAnthropicError(res, anthropicReject(`limit: Input should be ${problem}`));
    }
    const index = (cursor) => {
        const at = ANTHROPIC_MODELS.findIndex((m) => m.id === cursor);
        if (at < 0) throw anthropicReject(`Invalid pagination cursor: ${cursor}`);
        return at;
    };
    let page;
    let more;
    try {
        if (query.has("before_id")) {
            const end = index(query.get("before_id"));
            page = ANTHROPIC_MODELS.slice(Math.max(0, end - limit), end);
            more = end - limit > 0;
        } else {
            const start = query.has("after_id") ? index(query.get("after_id")) + 1 : 0;
            page = ANTHROPIC_MODELS.slice(start, start + limit);
            more = start + limit < ANTHROPIC_MODELS.length;
        }
    } catch (err) {
        if (err instanceof Reject) return sendAnthropicError(res, err);
        throw err;
    }
    sendJSON(res, 200, {data: page, has_more: more, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null},
        anthropicHeaders());
}

// ---------------------------------------------------------------- Gemini

const GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 503: "UNAVAILABLE"};
const GOOGLE_JSON = "application/json; charset=UTF-8";

// Google's SSE data spacing: a space after each colon, none after commas.
function googleCompact(value) {
    if (Array.isArray(value)) return `[${value.map(googleCompact).join(",")}]`;
    if (isObject(value)) {
        return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${googleCompact(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

function sendGoogle(res, status, value) {
    sendBody(res, status, GOOGLE_JSON, JSON.stringify(value, null, 2) + "\n");
}

function sendGoogleError(res, {status, message, extra}) {
    const error = {code: status, message, status: GOOGLE_STATUS[status]};
    if (extra.details) error.details = extra.details;
    sendGoogle(res, status, {error});
}

const googleReject = (message, status = 400, details) => new Reject(status, null, message, details ? {details} : {});

const apiKeyInvalid = () => googleReject("API key not valid. Please pass a valid API key.", 400, [
    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com",
        metadata: {service: "generativelanguage.googleapis.com"}},
    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US",
        message: "API key not valid. Please pass a valid API key."}]);

function geminiScenarioError(scenario, model) {
    switch (scenario) {
    case "rate-limit":
        return googleReject("You exceeded your current quota, please check your plan and billing details. For more " +
            "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.", 429, [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{
                quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                quotaDimensions: {location: "global", model: model ?? "gemini-2.0-flash"}, quotaValue: "15"}]},
            {"@type": "type.googleapis.com/google.rpc.Help", links: [{description: "Learn more about Gemini API quotas",
                url: "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s"}]);
    case "unavailable":
        return googleReject("The model is overloaded. Please try again later.", 503);
    case "auth":
        return apiKeyInvalid();
    case "denied":
        return googleReject("Generative Language API has not been used in project 123456789012 before or it is " +
            "disabled. Enable it by visiting https://console.developers.google.com/apis/api/" +
            "generativelanguage.googleapis.com/overview?project=123456789012 then retry.", 403, [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "SERVICE_DISABLED", domain: "googleapis.com",
                metadata: {service: "generativelanguage.googleapis.com", consumer: "projects/123456789012"}}]);
    case "not-found":
        return googleReject(model === null ? "Requested entity was not found." : `models/${model} is not found for ` +
            "API version v1beta, or is not supported for generateContent. Call ListModels to see the list of " +
            "available models and their supported methods.", 404);
    case "invalid":
        return googleReject("Request contains an invalid argument.");
    case "too-long":
        return googleReject("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).");
    case "server":
        return googleReject("An internal error has occurred. Please retry or report in " +
            "https://developers.generativeai.google/guide/troubleshooting", 500);
    default:
        return null;
    }
}

// The key goes in the x-goog-api-key header only.
function checkGeminiKey(req) {
    if (new URL(req.url, "http://x").searchParams.has("key")) {
        return googleReject("replay-server: the API key was sent in the URL (key= query parameter); send it in the " +
            "x-goog-api-key header instead, URLs end up in logs.");
    }
    if (!req.headers["x-goog-api-key"]) {
        return googleReject("Method doesn't allow unregistered callers (callers without established identity). " +
            "Please use API Key or other form of API consumer identity to call this API.", 403);
    }
    return null;
}

// Proto JSON accepts a field's lowerCamel name and its original snake_case name.
const snake = (name) => name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// Returns `obj` with its keys in lowerCamel, or throws Google's "Unknown name"
// error for a key that is not in `known`; `at` is the snake_case path of obj.
function knownFields(obj, known, at) {
    const out = {};
    for (const [key, value] of Object.entries(obj)) {
        const name = known.has(key) ? key : known.has(camel(key)) ? camel(key) : null;
        if (name === null) {
            const message = `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}` +
                `${at ? ` at '${at}'` : ""}: Cannot find field.`;
            throw googleReject(message, 400, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                fieldViolations: [at ? {field: at, description: message} : {description: message}]}]);
        }
        out[name] = value;
    }
    return out;
}

const proto = (name) => `type.googleapis.com/google.ai.generativelanguage.v1beta.${name}`;
const invalidValue = (at, type, value) => googleReject(`Invalid value at '${at}' (${type}), ${JSON.stringify(value)}`);
const fieldError = (at, message) => googleReject(`* GenerateContentRequest.${at}: ${message}\n`);

const REQUEST_FIELDS = new Set(["contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
    "toolConfig", "cachedContent"]);
const CONTENT_FIELDS = new Set(["role", "parts"]);
const PART_DATA = ["text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult"];
const PART_FIELDS = new Set([...PART_DATA, "thought", "thoughtSignature", "videoMetadata", "partMetadata",
    "mediaResolution"]);
const GENERATION_FIELDS = new Set(["stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed",
    "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers",
    "speechConfig", "thinkingConfig", "imageConfig", "mediaResolution"]);
const THINKING_FIELDS = new Set(["includeThoughts", "thinkingBudget", "thinkingLevel"]);

function validateGemini(body) {
    if (!isObject(body)) throw googleReject("Invalid JSON payload received. Root element must be a message.");
    const request = knownFields(body, REQUEST_FIELDS, "");
    const {contents} = request;
    if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
        throw fieldError("contents", "contents is not specified");
    }
    if (!Array.isArray(contents)) throw invalidValue("contents", proto("Content"), contents);
    contents.forEach((content, i) => validateContent(content, `contents[${i}]`, true));
    if (request.systemInstruction !== undefined) {
        validateContent(request.systemInstruction, "system_instruction", false);
    }
    if (request.generationConfig !== undefined) validateGenerationConfig(request.generationConfig);
    for (const key of ["safetySettings", "tools"]) {
        if (request[key] !== undefined && !Array.isArray(request[key])) {
            throw invalidValue(snake(key), "TYPE_MESSAGE", request[key]);
        }
    }
    if (request.toolConfig !== undefined && !isObject(request.toolConfig)) {
        throw invalidValue("tool_config", "TYPE_MESSAGE", request.toolConfig);
    }
    if (request.cachedContent !== undefined && typeof request.cachedContent !== "string") {
        throw invalidValue("cached_content", "TYPE_STRING", request.cachedContent);
    }
}

// A Content: {role?, parts}. The role matters in contents only; Google ignores
// it in systemInstruction.
function validateContent(content, at, checkRole) {
    if (!isObject(content)) throw invalidValue(at, proto("Content"), content);
    const {role, parts} = knownFields(content, CONTENT_FIELDS, at);
    if (role !== undefined && typeof role !== "string") throw invalidValue(`${at}.role`, "TYPE_STRING", role);
    if (checkRole && role !== undefined && role !== "" && role !== "user" && role !== "model") {
        throw googleReject("Please use a valid role: user, model.");
    }
    if (parts === undefined || (Array.isArray(parts) && parts.length === 0)) {
        throw fieldError(`${at}.parts`, "contents.parts must not be empty.");
    }
    if (!Array.isArray(parts)) throw invalidValue(`${at}.parts`, proto("Part"), parts);
    parts.forEach((part, j) => {
        const pat = `${at}.parts[${j}]`;
        if (!isObject(part)) throw invalidValue(pat, proto("Part"), part);
        const fields = knownFields(part, PART_FIELDS, pat);
        if (fields.text !== undefined && typeof fields.text !== "string") {
            throw invalidValue(`${pat}.text`, "TYPE_STRING", fields.text);
        }
        if (fields.thought !== undefined && typeof fields.thought !== "boolean") {
            throw invalidValue(`${pat}.thought`, "TYPE_BOOL", fields.thought);
        }
        // an empty string leaves the oneof unset, as proto3 JSON treats it
        const data = PART_DATA.filter((name) => fields[name] !== undefined && fields[name] !== "");
        if (data.length === 0) {
            throw fieldError(`${pat}.data`, "required oneof field 'data' must have one initialized field");
        }
        if (data.length > 1) {
            throw googleReject("Invalid JSON payload received. Oneof field 'data' is already set. " +
                `Cannot set '${data[1]}'`);
        }
    });
}

function validateGenerationConfig(config) {
    if (!isObject(config)) throw invalidValue("generation_config", proto("GenerationConfig"), config);
    const c = knownFields(config, GENERATION_FIELDS, "generation_config");
    const at = (name) => `generation_config.${snake(name)}`;
    for (const name of ["temperature", "topP", "presencePenalty", "frequencyPenalty"]) {
        if (c[name] !== undefined && !isNumber(c[name])) throw invalidValue(at(name), "TYPE_FLOAT", c[name]);
    }
    for (const name of ["candidateCount", "maxOutputTokens", "topK", "seed", "logprobs"]) {
        if (c[name] !== undefined && !isInt(c[name])) throw invalidValue(at(name), "TYPE_INT32", c[name]);
    }
    for (const name of ["responseLogprobs", "enableEnhancedCivicAnswers"]) {
        if (c[name] !== undefined && typeof c[name] !== "boolean") throw invalidValue(at(name), "TYPE_BOOL", c[name]);
    }
    if (c.temperature !== undefined && (c.temperature < 0 || c.temperature > 2)) {
        throw fieldError(at("temperature"), "temperature must be in the range [0.0, 2.0]");
    }
    if (c.topP !== undefined && (c.topP < 0 || c.topP > 1)) {
        throw fieldError(at("topP"), "top_p must be in the range [0.0, 1.0]");
    }
    if (c.topK !== undefined && c.topK < 1) throw fieldError(at("topK"), "top_k must be positive");
    if (c.candidateCount !== undefined && (c.candidateCount < 1 || c.candidateCount > 8)) {
        throw fieldError(at("candidateCount"), "candidate_count must be between 1 and 8");
    }
    if (c.maxOutputTokens !== undefined && c.maxOutputTokens < 1) {
        throw fieldError(at("maxOutputTokens"), "max_output_tokens must be positive");
    }
    if (c.stopSequences !== undefined) {
        if (!Array.isArray(c.stopSequences)) throw invalidValue(at("stopSequences"), "TYPE_STRING", c.stopSequences);
        c.stopSequences.forEach((s, i) => {
            if (typeof s !== "string") throw invalidValue(`${at("stopSequences")}[${i}]`, "TYPE_STRING", s);
        });
        if (c.stopSequences.length > 5) throw fieldError(at("stopSequences"), "at most 5 stop sequences are allowed");
    }
    if (c.responseMimeType !== undefined && typeof c.responseMimeType !== "string") {
        throw invalidValue(at("responseMimeType"), "TYPE_STRING", c.responseMimeType);
    }
    if (c.thinkingConfig !== undefined) {
        const tat = at("thinkingConfig");
        if (!isObject(c.thinkingConfig)) throw invalidValue(tat, proto("ThinkingConfig"), c.thinkingConfig);
        const t = knownFields(c.thinkingConfig, THINKING_FIELDS, tat);
        if (t.includeThoughts !== undefined && typeof t.includeThoughts !== "boolean") {
            throw invalidValue(`${tat}.include_thoughts`, "TYPE_BOOL", t.includeThoughts);
        }
        if (t.thinkingBudget !== undefined && !isInt(t.thinkingBudget)) {
            throw invalidValue(`${tat}.thinking_budget`, "TYPE_INT32", t.thinkingBudget);
        }
    }
}

const SAFETY_RATINGS = [
    {category: "HARM_CATEGORY_SEXUALLY_EXPLICIT", probability: "NEGLIGIBLE"},
    {category: "HARM_CATEGORY_HATE_SPEECH", probability: "NEGLIGIBLE"},
    {category: "HARM_CATEGORY_HARASSMENT", probability: "NEGLIGIBLE"},
    {category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true},
];

function geminiUsage(candidates, thoughts = 0) {
    const usage = {promptTokenCount: INPUT_TOKENS};
    if (candidates > 0) usage.candidatesTokenCount = candidates;
    usage.totalTokenCount = INPUT_TOKENS + candidates + thoughts;
    usage.promptTokensDetails = [{modality: "TEXT", tokenCount: INPUT_TOKENS}];
    if (thoughts > 0) usage.thoughtsTokenCount = thoughts;
    return usage;
}

// The GenerateContentResponses of a scenario with an answer: one per streamed
// chunk, and `whole` for generateContent. `split` marks the chunk cut in two.
function geminiAnswer(scenario, body, model, responseId) {
    const envelope = (extra) => ({...extra, modelVersion: model, responseId});
    const candidate = (parts, finishReason, extra = {}) => {
        const c = {};
        if (parts) c.content = {parts, role: "model"};
        if (finishReason) c.finishReason = finishReason;
        c.index = 0;
        return {...c, ...extra};
    };
    if (scenario === "blocked") {
        const blocked = envelope({promptFeedback: {blockReason: "SAFETY", safetyRatings: SAFETY_RATINGS},
            usageMetadata: geminiUsage(0)});
        return {chunks: [{value: blocked}], whole: blocked};
    }
    if (scenario === "safety") {
        const stop = candidate(null, "SAFETY", {safetyRatings: SAFETY_RATINGS});
        return {
            chunks: [{value: envelope({candidates: [candidate([{text: "Hello"}])], usageMetadata: geminiUsage(1)})},
                {value: envelope({candidates: [stop], usageMetadata: geminiUsage(1)})}],
            whole: envelope({candidates: [candidate([{text: "Hello"}], "SAFETY", {safetyRatings: SAFETY_RATINGS})],
                usageMetadata: geminiUsage(1)}),
        };
    }
    const deltas = scenario === "echo" ? [JSON.stringify(body)] : DELTAS;
    const tokens = scenario === "echo" ? [OUTPUT_TOKENS] : DELTA_TOKENS;
    const finish = scenario === "max-tokens" ? "MAX_TOKENS" : "STOP";
    const thoughts = scenario === "thinking" ? THOUGHT_TOKENS : 0;
    const chunks = [];
    if (thoughts) {
        chunks.push({value: envelope({candidates: [candidate([{text: THOUGHT_TEXT, thought: true}])],
            usageMetadata: geminiUsage(0, thoughts)})});
    }
    let sofar = 0;
    deltas.forEach((text, i) => {
        sofar += tokens[i];
        const last = i === deltas.length - 1;
        chunks.push({value: envelope({candidates: [candidate([{text}], last ? finish : null)],
            usageMetadata: geminiUsage(sofar, thoughts)}), split: text === SPLIT_DELTA});
    });
    const parts = [...(thoughts ? [{text: THOUGHT_TEXT, thought: true}] : []), {text: deltas.join("")}];
    const whole = envelope({candidates: [candidate(parts, finish)],
        usageMetadata: {...geminiUsage(OUTPUT_TOKENS, thoughts),
            candidatesTokensDetails: [{modality: "TEXT", tokenCount: OUTPUT_TOKENS}]}});
    return {chunks, whole};
}

async function geminiGenerate(req, res, signal, scenario, tag, model, method) {
    count("gemini", scenario, tag);
    const {text: raw, size} = await readBody(req, GEMINI_MAX_BODY, signal);
    const streaming = method === "streamGenerateContent";
    const problem = checkGeminiKey(req) ?? (streaming && new URL(req.url, "http://x").searchParams.get("alt") !== "sse"
        ? googleReject("replay-server: streamGenerateContent without alt=sse answers with a JSON array; ask for " +
            "server-sent events with ?alt=sse.") : null);
    if (problem) return sendGoogleError(res, problem);
    if (raw === null) {
        return sendGoogleError(res, googleReject(`Request payload size exceeds the limit: ${GEMINI_MAX_BODY} bytes.`));
    }
    log(`gemini ${method} ${model}: ${size} bytes`);
    const body = parseJSON(raw);
    if (body === undefined) {
        return sendGoogleError(res, googleReject("Invalid JSON payload received. Unexpected token."));
    }
    try {
        validateGemini(body);
    } catch (err) {
        if (err instanceof Reject) return sendGoogleError(res, err);
        throw err;
    }
    const scenarioError = geminiScenarioError(scenario, model);
    if (scenarioError) return sendGoogleError(res, scenarioError);

    const {chunks, whole} = geminiAnswer(scenario, body, model, randomId(22, BASE64URL));
    if (!streaming) return sendGoogle(res, 200, whole);
    const events = chunks.map(({value, split}) => ({text: `data: ${googleCompact(value)}\r\n\r\n`, split}));
    const out = new Output(res, signal, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"});
    if (scenario !== "stream-error") return await out.stream(events);
    for (const event of events.slice(0, 2)) await out.event(event);
    await out.pause(EVENT_GAP_MS);
    res.socket.destroy(); // no finishReason chunk and no end of the chunked body
}

// GET /v1beta/models (pageSize, pageToken) and GET /v1beta/models/<model>.
async function geminiModels(req, res, signal, scenario, model) {
    await readBody(req, GEMINI_MAX_BODY, signal);
    const problem = checkGeminiKey(req) ?? geminiScenarioError(scenario, null);
    if (problem) return sendGoogleError(res, problem);
    if (model !== undefined) {
        const found = GEMINI_MODELS.find((m) => m.name === `models/${model}`);
        if (!found) {
            return sendGoogleError(res, googleReject(`models/${model} is not found for API version v1beta`, 404));
        }
        return sendGoogle(res, 200, found);
    }
    const query = new URL(req.url, "http://x").searchParams;
    const pageSize = query.has("pageSize") ? Number(query.get("pageSize")) : 50;
    if (!isInt(pageSize) || pageSize < 0) {
        return sendGoogleError(res, invalidValue("page_size", "TYPE_INT32", query.get("pageSize")));
    }
    let start = 0;
    if (query.get("pageToken")) {
        const decoded = /^offset:(\d+)$/.exec(Buffer.from(query.get("pageToken"), "base64url").toString());
        if (!decoded) return sendGoogleError(res, googleReject("Invalid page token."));
        start = Number(decoded[1]);
    }
    const end = start + Math.min(pageSize || 50, 1000);
    const answer = {models: GEMINI_MODELS.slice(start, end)};
    if (end < GEMINI_MODELS.length) answer.nextPageToken = Buffer.from(`offset:${end}`).toString("base64url");
    sendGoogle(res, 200, answer);
}

// ---------------------------------------------------------------- routing

// Splits "/<provider>/<scenario>/<tag...>/<api...>" at the first position where
// the rest is a known API path; returns {tag, api} or null.
function splitApi(rest, isApi) {
    for (let i = 0; i < rest.length; i++) {
        if (isApi(rest.slice(i))) return {tag: rest.slice(0, i).join("/"), api: rest.slice(i)};
    }
    return null;
}

async function routeAnthropic(req, res, signal, scenario, rest) {
    const notFound = () => sendAnthropicError(res, new Reject(404, "not_found_error", "Not Found"));
    if (!ANTHROPIC_SCENARIOS.has(scenario)) {
        return sendAnthropicError(res, anthropicReject(`replay-server: unknown anthropic scenario '${scenario}'`));
    }
    const split = splitApi(rest, (api) => api[0] === "v1" && (api.length === 2 || api.length === 3) &&
        (api[1] === "models" || (api[1] === "messages" && api.length === 2)));
    if (!split) return notFound();
    const {tag, api} = split;
    if (api[1] === "messages") {
        if (req.method !== "POST") return sendAnthropicError(res, anthropicReject("Method Not Allowed", 405));
        return await anthropicMessages(req, res, signal, scenario, tag);
    }
    if (req.method !== "GET") return sendAnthropicError(res, anthropicReject("Method Not Allowed", 405));
    return await anthropicModels(req, res, signal, scenario, api[2]);
}

async function routeGemini(req, res, signal, scenario, rest) {
    const notFound = () => sendGoogleError(res, googleReject(`replay-server: no route for ${req.method} ` +
        new URL(req.url, "http://x").pathname, 404));
    if (!GEMINI_SCENARIOS.has(scenario)) {
        return sendGoogleError(res, googleReject(`replay-server: unknown gemini scenario '${scenario}'`));
    }
    const split = splitApi(rest, (api) => api[0] === "v1beta" && api[1] === "models" && api.length <= 3);
    if (!split) return notFound();
    const {tag, api} = split;
    if (api.length === 2) return req.method === "GET" ? await geminiModels(req, res, signal, scenario) : notFound();
    const [model, method, ...more] = api[2].split(":");
    if (model === "" || more.length > 0) return notFound();
    if (method === undefined) {
        return req.method === "GET" ? await geminiModels(req, res, signal, scenario, model) : notFound();
    }
    const generates = method === "generateContent" || method === "streamGenerateContent";
    if (req.method !== "POST" || !generates) return notFound();
    return await geminiGenerate(req, res, signal, scenario, tag, model, method);
}

async function route(req, res, signal) {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/_stats" && req.method === "GET") {
        return sendJSON(res, 200, {requests: Object.fromEntries(requestCounts)});
    }
    if (path === "/_reset" && req.method === "POST") {
        requestCounts.clear();
        return sendJSON(res, 200, {});
    }
    // clients may percent-encode the ':' of ":generateContent"
    const [, provider, scenario, ...rest] = path.split("/").map((s) => {
        try {
            return decodeURIComponent(s);
        } catch {
            return s;
        }
    });
    if (provider === "anthropic" && scenario) return await routeAnthropic(req, res, signal, scenario, rest);
    if (provider === "gemini" && scenario) return await routeGemini(req, res, signal, scenario, rest);
    sendJSON(res, 404, {error: `replay-server: no route for ${req.method} ${path}`});
}

// ---------------------------------------------------------------- startup and shutdown

const server = scenarioServer(route, log, (res) => sendJSON(res, 500, {error: "replay-server internal error"}));
listen(server, "replay-server", opts, log);
