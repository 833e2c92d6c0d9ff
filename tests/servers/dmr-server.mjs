#!/usr/bin/env node
// Docker Model Runner (DMR) emulator for ultra-llm's integration tests.
//
// No Docker engine exists on the test machines, so this server stands in for
// DMR: it speaks DMR's HTTP API (routes, model names, status codes, error
// bodies, lazy loading, idle unloading, runner slots) and runs real GGUF models
// in-process through node-llama-cpp (real llama.cpp), so tests get real
// inference with real token counts. API facts come from
// ../../../shared/design/DMR-API.md and the docker/model-runner source.
//
// Usage:
//   node tests/servers/dmr-server.mjs --port 12434 [--host 127.0.0.1]
//        --model ai/stories260k=/path/stories260K.gguf [--model NAME=PATH ...]
//        [--registry NAME=PATH ...] [--idle-unload-ms 300000] [--verbose]
//   --model     a model already pulled at start.
//   --registry  a model that only exists "remotely": POST /models/create pulls it.
//   --idle-unload-ms  how long an idle runner stays loaded (DMR: 5 minutes);
//               negative means never.
//   --port 0    picks a free port. Once ready, exactly one line goes to stdout:
//               "dmr-server listening on http://HOST:PORT". Diagnostics go to
//               stderr, and only with --verbose.
//
// Install: cd tests/servers && npm install --no-package-lock --omit=optional --no-audit --no-fund
//   npm 11 warns that node-llama-cpp's postinstall script was not run. Nothing
//   is lost: that script only checks for (or compiles) a llama.cpp binary,
//   while this server uses the prebuilt one from @node-llama-cpp/linux-x64
//   with getLlama({build: "never"}), which never compiles or downloads.
//
// Where this emulator knowingly differs from DMR:
// - Chat prompts: the test model (TinyStories) has no chat template, so the
//   prompt is the text of all messages joined with "\n", without role labels
//   (llama.cpp would fall back to a ChatML template).
// - max_tokens defaults to 128 (llama.cpp generates until the context is full,
//   about 8 s for this model); -1 asks for that unbounded behaviour.
// - One llama.cpp context per runner with min(CPUs, 8) sequences: that many
//   generations of one model run at once, the rest queue. DMR's runner slots
//   (at most min(CPUs, 8) loaded runners, idle ones evicted to make room) are
//   emulated as well.
// - Backends: "llama.cpp" is installed; "vllm" and "sglang" answer 412 (not
//   installed, as on a CPU-only Linux DMR); any other name, "mlx" included,
//   answers 404 "backend not found".
// - GET /engines/ps names a runner by its normalized model name.
// - A pull streams a few synthetic progress lines (no real download).

import http from "node:http";
import os from "node:os";
import fs from "node:fs";
import crypto from "node:crypto";
import {getLlama, LlamaLogLevel, readGgufFileInfo} from "node-llama-cpp";

import {listen, parseJSON, readBody, startup} from "./common.mjs";

const MAX_BODY_BYTES = 10 * 1024 * 1024; // DMR's maximumOpenAIInferenceRequestSize
const SLOTS = Math.min(os.availableParallelism(), 8); // DMR: min(runtime.NumCPU(), 8)
const DEFAULT_MAX_TOKENS = 128;
const MAX_DEFAULT_CONTEXT = 4096; // bounds KV memory for models trained on long contexts
const BACKEND = "llama.cpp";
const UNINSTALLED_BACKENDS = new Set(["vllm", "sglang"]);
const VERSION = "emulator-1.0.0";

// ---------------------------------------------------------------- options

// NAME=PATH of --model and --registry
function modelArg(list) {
    return (o, text, die) => {
        const eq = text.indexOf("=");
        if (eq <= 0 || eq === text.length - 1) die(`expected NAME=PATH, got ${text}`);
        o[list].push({name: text.slice(0, eq), path: text.slice(eq + 1)});
    };
}

const {opts, die, log} = startup("dmr-server",
    "--port N [--host H] --model NAME=PATH [--model ...] [--registry NAME=PATH ...] " +
    "[--idle-unload-ms MS] [--verbose]",
    process.argv.slice(2), {port: 12434, models: [], registry: [], idleUnloadMs: 300000}, {
        "--model": modelArg("models"),
        "--registry": modelArg("registry"),
        "--idle-unload-ms": (o, value) => {
            o.idleUnloadMs = Number(value);
        },
    });
if (!Number.isFinite(opts.idleUnloadMs)) die("bad --idle-unload-ms");

// ---------------------------------------------------------------- model names and store

// DMR's normalizeModelName: hf.co is huggingface.co; no namespace means ai/
// (unless the name starts with a registry host); no tag means :latest; the
// name is lower-cased while the tag is kept as given.
function normalizeModelName(raw) {
    let model = String(raw).trim();
    if (model === "") return model;
    if (model.startsWith("hf.co/")) model = "huggingface.co/" + model.slice("hf.co/".length);
    const lastSlash = model.lastIndexOf("/");
    const lastColon = model.lastIndexOf(":");
    let name = model;
    let tag = "latest";
    if (lastColon > lastSlash) {
        name = model.slice(0, lastColon);
        tag = model.slice(lastColon + 1) || "latest";
    }
    const firstSlash = name.indexOf("/");
    const hasRegistry = firstSlash > 0 && name.slice(0, firstSlash).includes(".");
    if (!hasRegistry && !name.includes("/")) name = "ai/" + name;
    return name.toLowerCase() + ":" + tag;
}

const pulled = new Map();  // normalized name -> model entry (DMR's local store)
const catalog = new Map(); // normalized name -> model entry that a pull can fetch

// A model entry holds what DMR's listings show; the GGUF header is read once
// here so that listing never touches llama.cpp. A file that is not a valid GGUF
// stays listed and fails when loaded, like a corrupt model in DMR.
async function describeModel(name, path) {
    const stat = fs.statSync(path, {throwIfNoEntry: false});
    const size = stat ? stat.size : 0;
    const config = {format: "gguf", size: formatBytes(size)};
    try {
        Object.assign(config, ggufConfig(await readGgufFileInfo(path, {readTensorInfo: true})));
    } catch (err) {
        log(`${path}: not a readable GGUF (${err.message}); loading it will fail`);
    }
    return {
        name,
        path,
        sizeBytes: size,
        id: "sha256:" + crypto.createHash("sha256").update(`${name}\n${path}\n${size}`).digest("hex"),
        created: stat ? Math.floor(stat.mtimeMs / 1000) : 0,
        config,
    };
}

const FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"};

function ggufConfig(info) {
    const general = info.metadata.general ?? {};
    const params = info.tensorInfo.reduce((sum, t) => sum + t.dimensions.reduce((n, d) => n * Number(d), 1), 0);
    const allF32 = info.tensorInfo.every((t) => t.ggmlType === 0);
    return {
        quantization: FILE_TYPES[general.file_type] ?? (allF32 ? "F32" : undefined),
        parameters: formatCount(params),
        architecture: general.architecture,
        gguf: flattenScalars(info.metadata),
    };
}

// DMR's config.gguf is a flat map of metadata keys to strings; arrays (the
// vocabulary) are left out because they are huge.
function flattenScalars(object, prefix = "", out = {}) {
    for (const [key, value] of Object.entries(object)) {
        const path = prefix + key;
        if (value !== null && typeof value === "object" && !Array.isArray(value)) flattenScalars(value, path + ".", out);
        else if (!Array.isArray(value)) out[path] = String(value);
    }
    return out;
}

function formatBytes(n) {
    const units = [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
    for (const [unit, scale] of units) if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
    return `${n} B`;
}

function formatCount(n) {
    const units = [["B", 1e9], ["M", 1e6], ["K", 1e3]];
    for (const [unit, scale] of units) if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
    return String(n);
}

function nativeModel(entry) {
    return {id: entry.id, tags: [entry.name], created: entry.created, config: entry.config};
}

function openAIModel(entry) {
    return {id: entry.name, object: "model", created: entry.created, owned_by: "docker"};
}

// The text DMR's model manager answers when a name is not in its store.
function notFoundText(normalized) {
    return `error while getting model: get model '"${normalized}"': model not found`;
}

// ---------------------------------------------------------------- runners

// A runner is one loaded (model, mode) pair, as in DMR's loader. refs counts
// the requests using it (including those waiting for it to load); a runner
// with refs === 0 is idle and may be evicted.
const runners = new Map(); // "name|mode" -> runner
const runnerConfigs = new Map(); // normalized name -> {contextSize, keepAliveMs} from _configure
let slotWaiters = []; // resolvers of requests waiting for a free runner slot
let llama;

const stats = {promptTokens: 0, predictedTokens: 0, processing: 0};

async function acquireRunner(entry, mode) {
    const key = `${entry.name}|${mode}`;
    for (;;) {
        const existing = runners.get(key);
        if (existing) return await joinRunner(existing);
        if (runners.size >= SLOTS) evictUnused(() => true);
        if (runners.size < SLOTS) return await joinRunner(startRunner(entry, mode, key));
        await new Promise((resolve) => slotWaiters.push(resolve));
    }
}

async function joinRunner(runner) {
    runner.refs++;
    clearTimeout(runner.idleTimer);
    try {
        await runner.ready;
        return runner;
    } catch (err) {
        runner.refs--;
        throw err;
    }
}

function startRunner(entry, mode, key) {
    const config = mode === "completion" ? runnerConfigs.get(entry.name) ?? {} : {};
    const runner = {key, name: entry.name, mode, refs: 0, loading: true, lastUsed: new Date(),
        keepAliveMs: config.keepAliveMs, idleTimer: undefined, model: undefined, context: undefined,
        freeSequences: [], sequenceWaiters: [], embedQueue: Promise.resolve()};
    runners.set(key, runner);
    log(`loading ${entry.name} (${mode})`);
    runner.ready = loadRunner(runner, entry, config.contextSize).then(() => {
        runner.loading = false;
    }, (err) => {
        log(`loading ${entry.name} failed: ${err.message}`);
        if (runners.get(key) === runner) runners.delete(key);
        wakeSlotWaiters();
        throw new Error("failed to load model");
    });
    return runner;
}

// threads: 1 matters: on these 2-core machines the default thread count made
// generation about a thousand times slower.
async function loadRunner(runner, entry, contextSize) {
    const started = Date.now();
    runner.model = await llama.loadModel({modelPath: entry.path});
    try {
        await createRunnerContext(runner, contextSize);
    } catch (err) {
        await runner.model.dispose();
        throw err;
    }
    log(`loaded ${entry.name} (${runner.mode}, n_ctx ${runner.contextSize}) in ${Date.now() - started} ms`);
}

async function createRunnerContext(runner, contextSize) {
    const size = contextSize ?? Math.min(runner.model.trainContextSize, MAX_DEFAULT_CONTEXT);
    if (runner.mode === "embedding") {
        runner.context = await runner.model.createEmbeddingContext({threads: 1, contextSize: size, batchSize: size});
        runner.contextSize = size;
    } else {
        runner.context = await runner.model.createContext({threads: 1, contextSize: size, sequences: SLOTS});
        runner.contextSize = runner.context.contextSize;
        for (let i = 0; i < SLOTS; i++) runner.freeSequences.push(runner.context.getSequence());
    }
}

function releaseRunner(runner) {
    runner.refs--;
    if (runner.refs > 0) return;
    runner.lastUsed = new Date();
    const keepAlive = runner.keepAliveMs ?? opts.idleUnloadMs;
    if (keepAlive >= 0) {
        // setTimeout fires at once for delays past 2^31-1 ms, so long keep_alives are capped (~24 days).
        runner.idleTimer = setTimeout(() => runner.refs === 0 && unloadRunner(runner), Math.min(keepAlive, 2 ** 31 - 1));
        runner.idleTimer.unref();
    }
    wakeSlotWaiters();
}

function unloadRunner(runner) {
    if (runners.get(runner.key) !== runner) return;
    runners.delete(runner.key);
    clearTimeout(runner.idleTimer);
    log(`unloading ${runner.name} (${runner.mode})`);
    disposeRunner(runner);
    wakeSlotWaiters();
}

function disposeRunner(runner) {
    return runner.ready
        .then(() => runner.context.dispose())
        .then(() => runner.model.dispose())
        .catch(() => {}); // a runner that never loaded has nothing to free
}

// Unloads the idle runners that match; runners in use are left alone, as DMR
// does. Returns how many were unloaded.
function evictUnused(matches) {
    let count = 0;
    for (const runner of [...runners.values()]) {
        if (runner.refs === 0 && matches(runner)) {
            unloadRunner(runner);
            count++;
        }
    }
    return count;
}

function wakeSlotWaiters() {
    const waiters = slotWaiters;
    slotWaiters = [];
    for (const wake of waiters) wake();
}

async function acquireSequence(runner) {
    if (runner.freeSequences.length > 0) return runner.freeSequences.pop();
    return await new Promise((resolve) => runner.sequenceWaiters.push(resolve));
}

async function releaseSequence(runner, sequence) {
    await sequence.clearHistory();
    const next = runner.sequenceWaiters.shift();
    if (next) next(sequence);
    else runner.freeSequences.push(sequence);
}

// ---------------------------------------------------------------- generation

class ApiError extends Error {
    constructor(status, body) {
        super(body.error.message);
        this.status = status;
        this.body = body;
    }
}

// llama.cpp's JSON error shape; its message texts are kept verbatim.
function llamaError(status, message, type, extra = {}) {
    return new ApiError(status, {error: {code: status, message, type, ...extra}});
}

function promptTokens(model, text) {
    const tokens = model.tokenize(text, true); // llama.cpp parses special tokens in prompts
    return model.tokens.shouldPrependBosToken ? [model.tokens.bos, ...tokens] : tokens;
}

function checkContext(runner, tokens) {
    if (tokens.length >= runner.contextSize) {
        throw llamaError(400, "the request exceeds the available context size, try increasing it",
            "exceed_context_size_error", {n_prompt_tokens: tokens.length, n_ctx: runner.contextSize});
    }
}

// llama.cpp's sampling defaults; temperature 0 means greedy and deterministic.
function samplingOptions(body) {
    const num = (value, fallback) => (typeof value === "number" ? value : fallback);
    const options = {temperature: Math.max(0, num(body.temperature, 0.8)), topK: num(body.top_k, 40),
        topP: num(body.top_p, 0.95), minP: num(body.min_p, 0.05)};
    if (Number.isInteger(body.seed) && body.seed >= 0) options.seed = body.seed;
    return options;
}

function maxTokens(body) {
    const value = body.max_completion_tokens ?? body.max_tokens ?? body.n_predict;
    if (value === -1) return Infinity;
    return Number.isInteger(value) && value >= 0 ? value : DEFAULT_MAX_TOKENS;
}

function stopStrings(stop) {
    const list = typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop : [];
    return list.filter((s) => typeof s === "string" && s !== "");
}

// Length of the longest end of text that could still grow into a stop string;
// that part is held back from a stream until it is known not to be one.
function pendingStopLength(text, stops) {
    let longest = 0;
    for (const stop of stops) {
        for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
            if (text.endsWith(stop.slice(0, n))) {
                longest = n;
                break;
            }
        }
    }
    return longest;
}

// Generates a completion on a free sequence of the runner (waiting for one if
// all are busy). onText receives text as it becomes final. Returns the text,
// token counts, finish reason and llama.cpp-style timings.
async function generate(runner, tokens, body, onText, signal) {
    const sequence = await acquireSequence(runner);
    const started = performance.now();
    stats.processing++;
    let result;
    try {
        result = await sample(runner, sequence, tokens, body, onText, signal);
    } finally {
        stats.processing--;
        await releaseSequence(runner, sequence);
    }
    const ms = performance.now() - started;
    stats.promptTokens += tokens.length;
    stats.predictedTokens += result.count;
    return {text: result.text, finish: result.finish, promptTokens: tokens.length, completionTokens: result.count,
        timings: {prompt_n: tokens.length, predicted_n: result.count, predicted_ms: round(ms),
            predicted_per_second: round(result.count / (ms / 1000))}};
}

// The token loop. The text is re-detokenized whole at each token, because a
// token's piece depends on its neighbours (leading spaces, UTF-8 split across
// byte tokens); only the part that can no longer change or turn out to be a
// stop string is handed to onText.
async function sample(runner, sequence, tokens, body, onText, signal) {
    const stops = stopStrings(body.stop);
    const limit = Math.min(maxTokens(body), runner.contextSize - tokens.length);
    if (limit <= 0) return {text: "", count: 0, finish: "length"};
    const before = tokens.slice(-8); // lets detokenize keep the first token's leading space
    const generated = [];
    let text = "";
    let sent = 0;
    let finish = "stop";
    for await (const token of sequence.evaluate(tokens, samplingOptions(body))) {
        generated.push(token);
        text = runner.model.detokenize(generated, false, before);
        const stopAt = firstStop(text, stops);
        if (stopAt >= 0) {
            text = text.slice(0, stopAt);
            break;
        }
        sent = emitFinal(text, sent, stops, onText);
        if (generated.length >= limit) {
            finish = "length";
            break;
        }
        if (signal.aborted) break;
    }
    if (text.length > sent) onText(text.slice(sent));
    return {text, count: generated.length, finish};
}

// Hands onText the text past `sent` except what may still become a stop
// string or is an incomplete UTF-8 character (U+FFFD); returns the new `sent`.
function emitFinal(text, sent, stops, onText) {
    let ready = text.length - pendingStopLength(text, stops);
    while (ready > sent && text[ready - 1] === "\uFFFD") ready--;
    if (ready <= sent) return sent;
    onText(text.slice(sent, ready));
    return ready;
}

function firstStop(text, stops) {
    let at = -1;
    for (const stop of stops) {
        const i = text.indexOf(stop);
        if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    return at;
}

function round(n) {
    return Math.round(n * 100) / 100;
}

function usageOf(result) {
    return {prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens,
        total_tokens: result.promptTokens + result.completionTokens};
}

// ---------------------------------------------------------------- OpenAI endpoints

// The test model has no chat template, so the prompt is the messages' text in
// order: system and user text flow straight into the story.
function chatPrompt(messages) {
    if (!Array.isArray(messages) || messages.length === 0) {
        throw llamaError(400, "'messages' is required", "invalid_request_error");
    }
    return messages.map((m) => messageText(m?.content)).filter((t) => t !== "").join("\n");
}

function messageText(content) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) return content.filter((p) => p?.type === "text").map((p) => String(p.text ?? "")).join("");
    return "";
}

function completionPrompt(prompt) {
    if (typeof prompt === "string") return prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") return prompt[0];
    throw llamaError(400, "\"prompt\" must be a string or an array with one string", "invalid_request_error");
}

function checkSingleChoice(body) {
    if (body.n !== undefined && body.n !== 1) {
        throw llamaError(400, "Only one completion choice is allowed", "invalid_request_error");
    }
}

async function handleTextGeneration(req, res, ctx, chat) {
    const {body, runner, entry} = ctx;
    checkSingleChoice(body);
    const prompt = chat ? chatPrompt(body.messages) : completionPrompt(body.prompt);
    const tokens = promptTokens(runner.model, prompt);
    checkContext(runner, tokens);
    const id = (chat ? "chatcmpl-" : "cmpl-") + crypto.randomBytes(16).toString("hex");
    const base = {id, object: chat ? "chat.completion" : "text_completion", created: nowSeconds(), model: entry.name};
    if (body.stream === true) return await streamGeneration(res, ctx, tokens, base, chat);
    const result = await generate(runner, tokens, body, () => {}, ctx.signal);
    const choice = chat
        ? {index: 0, message: {role: "assistant", content: result.text}, finish_reason: result.finish}
        : {index: 0, text: result.text, logprobs: null, finish_reason: result.finish};
    sendJSON(res, 200, {...base, choices: [choice], usage: usageOf(result), timings: result.timings});
}

async function streamGeneration(res, ctx, tokens, base, chat) {
    const {body, runner} = ctx;
    const object = chat ? "chat.completion.chunk" : "text_completion";
    const chunk = (choices, extra = {}) => {
        if (!res.destroyed) res.write(`data: ${JSON.stringify({...base, object, choices, ...extra})}\n\n`);
    };
    const piece = (text, finish = null) => chat
        ? {index: 0, delta: text === undefined ? {} : {content: text}, finish_reason: finish}
        : {index: 0, text: text ?? "", logprobs: null, finish_reason: finish};
    res.writeHead(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive"});
    if (chat) chunk([{index: 0, delta: {role: "assistant", content: null}, finish_reason: null}]);
    const result = await generate(runner, tokens, body, (text) => chunk([piece(text)]), ctx.signal);
    chunk([piece(undefined, result.finish)], {timings: result.timings});
    if (body.stream_options?.include_usage === true) chunk([], {usage: usageOf(result)});
    res.end("data: [DONE]\n\n");
}

async function handleEmbeddings(req, res, ctx) {
    const {body, runner, entry} = ctx;
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((s) => typeof s === "string")) {
        throw llamaError(400, "\"input\" must be a string or an array of strings", "invalid_request_error");
    }
    const data = [];
    let total = 0;
    for (const [index, input] of inputs.entries()) {
        const tokens = promptTokens(runner.model, input);
        if (tokens.length > runner.contextSize) {
            throw llamaError(500, `input (${tokens.length} tokens) is too large to process. increase the physical ` +
                `batch size (current batch size: ${runner.contextSize})`, "server_error");
        }
        data.push({object: "embedding", index, embedding: normalize(await embed(runner, tokens))});
        total += tokens.length;
    }
    stats.promptTokens += total;
    sendJSON(res, 200, {model: entry.name, object: "list", usage: {prompt_tokens: total, total_tokens: total}, data});
}

// One embedding at a time per runner: the embedding context has a single sequence.
function embed(runner, tokens) {
    const result = runner.embedQueue.then(() => runner.context.getEmbeddingFor(tokens));
    runner.embedQueue = result.catch(() => {});
    return result.then((embedding) => [...embedding.vector]);
}

// llama.cpp's OpenAI endpoint returns unit-length (L2-normalized) embeddings.
function normalize(vector) {
    const norm = Math.hypot(...vector) || 1;
    return vector.map((x) => x / norm);
}

const INFERENCE = {
    "chat/completions": {mode: "completion", handle: (req, res, ctx) => handleTextGeneration(req, res, ctx, true)},
    "completions": {mode: "completion", handle: (req, res, ctx) => handleTextGeneration(req, res, ctx, false)},
    "embeddings": {mode: "embedding", handle: handleEmbeddings},
};

// The steps and error texts of DMR's handleOpenAIInference, in its order:
// backend, body size, JSON, model name, local store, backend installed, runner.
async function handleInference(req, res, params) {
    const backend = params[0];
    if (backend !== undefined && backend !== BACKEND && !UNINSTALLED_BACKENDS.has(backend)) {
        return sendText(res, 404, "backend not found");
    }
    const {text: raw} = await readBody(req, MAX_BODY_BYTES);
    if (raw === null) return sendText(res, 400, "request too large");
    const body = parseJSON(raw);
    if (body === undefined || (body !== null && (typeof body !== "object" || Array.isArray(body)))) {
        return sendText(res, 400, "invalid request");
    }
    if (body?.model != null && typeof body.model !== "string") return sendText(res, 400, "invalid request");
    if (!body?.model) return sendText(res, 400, "model is required");
    const name = normalizeModelName(body.model);
    const entry = pulled.get(name);
    if (!entry) return sendText(res, 404, notFoundText(name));
    if (backend !== undefined && backend !== BACKEND) {
        return sendText(res, 412, `backend "${backend}" is not installed; run: docker model install-runner --backend ${backend}`);
    }
    const endpoint = INFERENCE[params[1]];
    let runner;
    try {
        runner = await acquireRunner(entry, endpoint.mode);
    } catch (err) {
        return sendText(res, 500, `unable to load runner: error waiting for runner to be ready: ${err.message}`);
    }
    try {
        if (req.headers["x-preload-only"] === "true") return res.end();
        const signal = {aborted: false};
        res.on("close", () => { signal.aborted = !res.writableFinished; });
        await endpoint.handle(req, res, {body, runner, entry, signal});
    } catch (err) {
        sendError(res, err);
    } finally {
        releaseRunner(runner);
    }
}

function sendError(res, err) {
    const status = err instanceof ApiError ? err.status : 500;
    const body = err instanceof ApiError ? err.body : {error: {code: 500, message: err.message, type: "server_error"}};
    if (!res.headersSent) return sendJSON(res, status, body);
    res.end(`data: ${JSON.stringify(body)}\n\n`); // the stream has started: report in-band, as llama.cpp does
}

// ---------------------------------------------------------------- model management endpoints

function listOpenAIModels(req, res) {
    sendJSON(res, 200, {object: "list", data: [...pulled.values()].map(openAIModel)}, true);
}

function getOpenAIModel(req, res, params) {
    const name = normalizeModelName(params[1]);
    const entry = pulled.get(name);
    if (!entry) return sendText(res, 404, notFoundText(name));
    sendJSON(res, 200, openAIModel(entry), true);
}

function listNativeModels(req, res) {
    sendJSON(res, 200, [...pulled.values()].map(nativeModel), true);
}

// DMR looks a name up as given, then normalized, then by its bare name part
// ("smollm2" finds "myorg/smollm2:v1"); the last miss answers "model not found".
function getNativeModel(req, res, params) {
    const ref = params[0];
    const entry = pulled.get(normalizeModelName(ref)) ??
        [...pulled.values()].find((e) => e.name.slice(0, e.name.lastIndexOf(":")).split("/").pop() === ref);
    if (!entry) return sendText(res, 404, "model not found");
    sendJSON(res, 200, nativeModel(entry), true);
}

async function deleteModel(req, res, params) {
    const entry = pulled.get(normalizeModelName(params[0]));
    if (!entry) return sendText(res, 404, "model not found");
    evictUnused((r) => r.name === entry.name);
    pulled.delete(entry.name);
    log(`deleted ${entry.name}`);
    sendJSON(res, 200, [{Untagged: entry.name}, {Deleted: entry.id}], true);
}

// A pull streams DMR's progress messages, one JSON object per line. Like DMR,
// the lines are HTML-escaped in the default text/plain response and raw only
// when the client sends "Accept: application/json".
async function createModel(req, res) {
    const body = parseJSON((await readBody(req, Infinity)).text);
    if (body === undefined || body === null || typeof body !== "object") return sendText(res, 400, "invalid request body");
    if (typeof body.from !== "string" || body.from.trim() === "") return sendText(res, 400, "Invalid model reference");
    const name = normalizeModelName(body.from);
    const remote = catalog.get(name);
    if (!remote) return sendText(res, 404, "Model not found");
    const asJSON = req.headers.accept === "application/json";
    res.writeHead(200, {"Content-Type": asJSON ? "application/json" : "text/plain",
        "Cache-Control": "no-cache", "Connection": "keep-alive"});
    const line = (message) => res.write((asJSON ? JSON.stringify(message) : escapeHTML(JSON.stringify(message))) + "\n");
    if (pulled.has(name)) {
        line(progressMessage("success", `Using cached model: ${remote.config.size}`));
        return res.end();
    }
    const total = remote.sizeBytes;
    for (const fraction of [0.25, 0.5, 0.75, 1]) {
        const current = Math.round(total * fraction);
        line(progressMessage("progress", `Downloaded: ${(current / 1024 / 1024).toFixed(2)} MB`, total,
            {id: remote.id, size: total, current}));
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    pulled.set(name, remote);
    log(`pulled ${name}`);
    line(progressMessage("success", "Model pulled successfully"));
    res.end();
}

function progressMessage(type, message, total = 0, layer = {size: 0, current: 0}) {
    return {type, message, total, layer, mode: "pull"};
}

// Go's html.EscapeString.
function escapeHTML(text) {
    const map = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", "\"": "&#34;"};
    return text.replace(/[<>&'"]/g, (c) => map[c]);
}

// ---------------------------------------------------------------- scheduler endpoints

function listRunners(req, res) {
    const list = [...runners.values()].map((r) => {
        // DMR reports Go's zero time while a runner is in use, and omits
        // in_use and loading when they are false (omitempty).
        const status = {backend_name: BACKEND, model_name: r.name, mode: r.mode,
            last_used: r.refs > 0 ? "0001-01-01T00:00:00Z" : r.lastUsed.toISOString()};
        if (r.refs > 0) status.in_use = true;
        if (r.loading) status.loading = true;
        return status;
    });
    sendJSON(res, 200, list, true);
}

async function unload(req, res) {
    const {text: raw} = await readBody(req, MAX_BODY_BYTES);
    if (raw === null) return sendText(res, 400, "request too large");
    const body = parseJSON(raw);
    if (body === undefined || (body !== null && typeof body !== "object")) return sendText(res, 400, "invalid request");
    const request = body ?? {};
    const backendMatches = !request.backend || request.backend === BACKEND;
    let count = 0;
    if (request.all === true) {
        runnerConfigs.clear();
        count = evictUnused(() => true);
    } else if (Array.isArray(request.models) && backendMatches) {
        const names = new Set(request.models.map(normalizeModelName));
        for (const name of names) runnerConfigs.delete(name);
        count = evictUnused((r) => names.has(r.name));
    }
    sendJSON(res, 200, {unloaded_runners: count}, true);
}

// DMR stores the configuration (replacing the runner if it is idle, 409 if it
// is busy), answers 202 and preloads the model in the background. Like DMR,
// it answers 202 even for a model that is not pulled: that preload then fails.
async function configure(req, res, params) {
    if (params[0] !== undefined && params[0] !== BACKEND && !UNINSTALLED_BACKENDS.has(params[0])) {
        return sendText(res, 404, "backend not found");
    }
    const {text: raw} = await readBody(req, MAX_BODY_BYTES);
    if (raw === null) return sendText(res, 400, "request too large");
    const body = parseJSON(raw);
    const config = body && typeof body === "object" ? runnerConfig(body) : undefined;
    if (config === undefined || typeof body.model !== "string") return sendText(res, 400, "invalid request");
    const name = normalizeModelName(body.model);
    if (JSON.stringify(runnerConfigs.get(name)) !== JSON.stringify(config)) {
        const runner = runners.get(`${name}|completion`);
        if (runner && runner.refs === 0) unloadRunner(runner);
        if (runners.has(`${name}|completion`)) return sendText(res, 409, "runner already active");
        runnerConfigs.set(name, config);
    }
    res.writeHead(202).end();
    preload(name);
}

function runnerConfig(body) {
    const size = body["context-size"];
    if (size !== undefined && size !== null && !(Number.isInteger(size) && size > 0)) return undefined;
    const keepAliveMs = body.keep_alive === undefined ? undefined : parseKeepAlive(body.keep_alive);
    if (keepAliveMs === null) return undefined;
    return {contextSize: size ?? undefined, keepAliveMs};
}

// keep_alive as DMR and Ollama take it: a Go duration ("5m", "1h30m", "0",
// "-1") or a number of seconds. Negative means never unload; null is invalid.
function parseKeepAlive(value) {
    if (typeof value === "number") return value < 0 ? -1 : value * 1000;
    if (typeof value !== "string") return null;
    if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value) < 0 ? -1 : Number(value) * 1000;
    const units = {ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000};
    const match = /^(-?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(value);
    if (!match) return null;
    let ms = 0;
    for (const [, n, unit] of match[2].matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * units[unit];
    return match[1] === "-" ? -1 : ms;
}

async function preload(name) {
    const entry = pulled.get(name);
    if (!entry) return log(`background preload of ${name} failed: model not found`);
    try {
        releaseRunner(await acquireRunner(entry, "completion"));
    } catch (err) {
        log(`background preload of ${name} failed: ${err.message}`);
    }
}

// ---------------------------------------------------------------- misc endpoints

function root(req, res) {
    sendText(res, 200, "Docker Model Runner is running", false);
}

function version(req, res) {
    sendJSON(res, 200, {version: VERSION}, true);
}

function metrics(req, res) {
    const lines = [
        ["llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.", stats.promptTokens],
        ["llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.", stats.predictedTokens],
        ["llamacpp:requests_processing", "gauge", "Number of requests processing.", stats.processing],
        ["dmr:runners_loaded", "gauge", "Number of loaded runners.", runners.size],
    ].map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`);
    res.writeHead(200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}).end(lines.join(""));
}

// ---------------------------------------------------------------- HTTP plumbing

const INFERENCE_PATH = "(chat/completions|completions|embeddings)";
const ROUTES = [
    ["GET", /^\/$/, root],
    ["GET", /^\/version$/, version],
    ["GET", /^\/metrics$/, metrics],
    ["GET", /^\/models$/, listNativeModels],
    ["POST", /^\/models\/create$/, createModel],
    ["GET", /^\/models\/(.+)$/, getNativeModel],
    ["DELETE", /^\/models\/(.+)$/, deleteModel],
    ["GET", /^\/engines\/ps$/, listRunners],
    ["POST", /^\/engines\/unload$/, unload],
    ["POST", /^\/engines(?:\/([^/]+))?\/_configure$/, configure],
    ["GET", /^(?:\/engines(?:\/([^/]+))?)?\/v1\/models$/, listOpenAIModels],
    ["GET", /^(?:\/engines(?:\/([^/]+))?)?\/v1\/models\/(.+)$/, getOpenAIModel],
    ["POST", new RegExp(`^(?:/engines(?:/([^/]+))?)?/v1/${INFERENCE_PATH}$`), handleInference],
];

async function route(req, res) {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const allowed = [];
    for (const [method, pattern, handler] of ROUTES) {
        const match = pattern.exec(path);
        if (!match) continue;
        if (method === req.method) return await handler(req, res, match.slice(1));
        allowed.push(method);
    }
    if (allowed.length > 0) {
        res.setHeader("Allow", allowed.join(", "));
        return sendText(res, 405, "Method Not Allowed");
    }
    sendText(res, 404, "not found");
}

// Go's http.Error: text/plain with a trailing newline.
function sendText(res, status, message, goError = true) {
    const headers = {"Content-Type": "text/plain; charset=utf-8"};
    if (goError) headers["X-Content-Type-Options"] = "nosniff";
    res.writeHead(status, headers).end(goError ? message + "\n" : message);
}

// DMR's own endpoints encode with Go's json.Encoder, which ends with a newline;
// llama.cpp's responses do not.
function sendJSON(res, status, value, newline = false) {
    res.writeHead(status, {"Content-Type": "application/json"}).end(JSON.stringify(value) + (newline ? "\n" : ""));
}

function nowSeconds() {
    return Math.floor(Date.now() / 1000);
}

// ---------------------------------------------------------------- startup and shutdown

async function main() {
    llama = await getLlama({build: "never", gpu: false, logLevel: opts.verbose ? LlamaLogLevel.warn : LlamaLogLevel.error});
    for (const {name, path} of opts.registry) {
        const entry = await describeModel(normalizeModelName(name), path);
        catalog.set(entry.name, entry);
    }
    for (const {name, path} of opts.models) {
        const entry = await describeModel(normalizeModelName(name), path);
        pulled.set(entry.name, entry);
        catalog.set(entry.name, entry);
    }
    const server = http.createServer((req, res) => {
        route(req, res).catch((err) => {
            log(`${req.method} ${req.url}: ${err.stack}`);
            if (!res.headersSent) sendText(res, 500, "internal server error");
            else res.destroy();
        });
    });
    listen(server, "dmr-server", opts, log, async () => {
        await Promise.all([...runners.values()].map(disposeRunner));
        await llama.dispose();
    });
}

main().catch((err) => {
    process.stderr.write(`dmr-server: ${err.stack}\n`);
    process.exit(1);
});
