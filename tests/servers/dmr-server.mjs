#!/usr/bin/env node
// Docker Model Runner (DMR) emulator for ultra-llm's integration tests.
//
// No Docker engine exists on the test machines, so this server stands in for
// DMR: it speaks DMR's HTTP API (routes, model names, status codes, error
// bodies, lazy loading, idle unloading, runner slots, the model lifecycle) and
// runs real GGUF models in-process through node-llama-cpp (real llama.cpp), so
// tests get real inference with real token counts. API facts come from
// ../../../shared/design/DMR-API.md and the docker/model-runner source.
//
// Usage:
//   node tests/servers/dmr-server.mjs --port 12434 [--host 127.0.0.1]
//        --model ai/stories260k=/path/stories260K.gguf [--model NAME=PATH ...]
//        [--registry NAME=PATH[,FILE...] ...] [--pull-steps 4] [--pull-step-ms 20]
//        [--pull-fault NAME=KIND[@STEP][:TIMES] ...] [--load-delay NAME=MS ...]
//        [--idle-unload-ms 300000] [--verbose]
//   --model     a model already pulled at start.
//   --registry  a model that only exists "remotely": POST /models/create pulls it.
//               Extra files after commas (a license, a chat template) are extra
//               layers, which download side by side with the GGUF.
//   --pull-steps, --pull-step-ms  the pace of a pull: every layer reports its
//               progress in that many steps, one step every that many ms.
//   --pull-fault  makes pulls of NAME fail: "error" sends DMR's error line after
//               STEP steps (default: half), "cut" closes the connection in the
//               middle of a line, "stall" sends nothing more until the client
//               gives up; TIMES limits it to the first TIMES pulls (default: all).
//               What an interrupted pull downloaded is resumed by the next one.
//   --load-delay  makes loading NAME take MS longer, as a big model would, so that
//               tests can see a runner while it loads.
//   --idle-unload-ms  how long an idle runner stays loaded (DMR: 5 minutes);
//               negative means never; keep_alive from _configure overrides it.
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
//   (llama.cpp would fall back to a ChatML template). Chat answers name the
//   model by its normalized name; llama.cpp repeats the request's.
// - max_tokens defaults to 128 (llama.cpp generates until the context is full,
//   about 8 s for this model); -1 asks for that unbounded behaviour.
// - Runners are in-process llama.cpp contexts, not llama-server processes: one
//   context per runner with min(CPUs, 8) sequences: that many generations of
//   one model run at once, the rest queue. DMR's runner slots (at most
//   min(CPUs, 8) loaded runners, idle ones evicted to make room) are emulated.
//   Without a configured context size a runner gets the model's trained
//   context capped at 4096 tokens (to bound memory); a configured one
//   (_configure "context-size", or "--ctx-size" in runtime-flags) is honoured.
// - Backends: "llama.cpp" is installed; "vllm" and "sglang" answer 412 (not
//   installed, as on a CPU-only Linux DMR); any other name, "mlx" included,
//   answers 404 "backend not found".
// - Pulls come from the --registry files, not from a registry: progress is
//   paced by --pull-steps/--pull-step-ms (DMR reports every 100 ms or MiB);
//   Hugging Face names pull like the others (DMR's native Hugging Face pull
//   also sends "Fetching file list..." lines with an empty layer id); an
//   unknown Docker Hub repository answers 401, an unknown tag of a known one
//   404. The model ID is the digest of a manifest built from the files.
// - Runtime flags are checked against a subset of DMR's llama.cpp allowlist;
//   only --ctx-size/-c has an effect. The background preload after _configure
//   has no one-minute limit.
// - GET /metrics aggregates the runners' llama.cpp metrics as DMR's code
//   intends; at the revision read, DMR matches runners by ID against the name
//   they were loaded by, so it answers "# No active runners" unless a model was
//   requested by its ID. The counters are this server's own, from the requests
//   it served (llama_decode() calls are counted as one per prompt and one per
//   generated token fed back).
// - Embeddings come from node-llama-cpp's embedding context of the GGUF model,
//   L2-normalized like llama.cpp's; llama.cpp's OpenAI endpoint may refuse a
//   model whose pooling type is "none", the emulator always answers.
// - Not emulated: DELETE /models/purge (refused with 501, never wipes
//   anything), tag/push/repackage/export/load of models, ?remote=true lookups,
//   the Ollama and Anthropic APIs, /engines/requests, backend installation,
//   CORS, a runner crash.

import http from "node:http";
import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

import {listen, parseJSON, readBody, startup} from "./common.mjs";
import {loadArtifact, normalizeModelName, Store} from "./dmr-store.mjs";
import {parsePullFault, Puller} from "./dmr-pull.mjs";
import {cppStreamDouble, goDurationString, goFloatG, goJSON, goQuote, goTime, goTypes, goUnmarshal, httpError,
    parseGoDuration} from "./go-wire.mjs";

const MAX_BODY_BYTES = 10 * 1024 * 1024; // DMR's maximumOpenAIInferenceRequestSize
const SLOTS = Math.min(os.availableParallelism(), 8); // DMR: min(runtime.NumCPU(), 8)
const DEFAULT_MAX_TOKENS = 128;
const MAX_DEFAULT_CONTEXT = 4096; // bounds KV memory for models trained on long contexts
const BACKEND = "llama.cpp";
const UNINSTALLED_BACKENDS = new Set(["vllm", "sglang"]);
const MODES = new Set(["completion", "embedding", "reranking", "image-generation"]);
const VERSION = "emulator-1.1.0";

// ---------------------------------------------------------------- options

// NAME=PATH of --model, NAME=PATH[,FILE...] of --registry
function modelArg(list) {
    return (o, text, die) => {
        const eq = text.indexOf("=");
        if (eq <= 0 || eq === text.length - 1) die(`expected NAME=PATH, got ${text}`);
        const files = text.slice(eq + 1).split(",");
        if (list === "models" && files.length > 1) die(`--model takes one file, got ${text}`);
        o[list].push({name: text.slice(0, eq), files});
    };
}

function numberArg(key, valid) {
    return (o, value, die) => {
        o[key] = Number(value);
        if (!valid(o[key])) die(`bad value ${value}`);
    };
}

const {opts, die, log} = startup("dmr-server",
    "--port N [--host H] --model NAME=PATH [--model ...] [--registry NAME=PATH[,FILE...] ...] " +
    "[--pull-steps N] [--pull-step-ms MS] [--pull-fault NAME=KIND[@STEP][:TIMES] ...] " +
    "[--load-delay NAME=MS ...] [--idle-unload-ms MS] [--verbose]",
    process.argv.slice(2),
    {port: 12434, models: [], registry: [], idleUnloadMs: 300000, pullSteps: 4, pullStepMs: 20, pullFaults: [], loadDelays: []}, {
        "--model": modelArg("models"),
        "--registry": modelArg("registry"),
        "--idle-unload-ms": numberArg("idleUnloadMs", Number.isFinite),
        "--pull-steps": numberArg("pullSteps", (n) => Number.isInteger(n) && n > 0),
        "--pull-step-ms": numberArg("pullStepMs", (n) => Number.isFinite(n) && n >= 0),
        "--pull-fault": (o, text) => o.pullFaults.push(text),
        "--load-delay": (o, text, die) => {
            const eq = text.indexOf("=");
            const ms = Number(text.slice(eq + 1));
            if (eq <= 0 || !(ms >= 0)) die(`expected --load-delay NAME=MS, got ${text}`);
            o.loadDelays.push([text.slice(0, eq), ms]);
        },
    });
const loadDelays = new Map(opts.loadDelays.map(([name, ms]) => [normalizeModelName(name), ms]));

const store = new Store();
const pullFaults = new Map();
for (const text of opts.pullFaults) {
    const eq = text.indexOf("=");
    const fault = eq > 0 ? parsePullFault(text.slice(eq + 1), opts.pullSteps) : undefined;
    if (!fault) die(`expected --pull-fault NAME=KIND[@STEP][:TIMES] (KIND: error, cut, stall), got ${text}`);
    pullFaults.set(normalizeModelName(text.slice(0, eq)), fault);
}
const puller = new Puller(store, {steps: opts.pullSteps, stepMs: opts.pullStepMs, faults: pullFaults, log});

// ---------------------------------------------------------------- runners

// A runner is one loaded (model, mode) pair, as in DMR's loader, keyed by the
// model's ID and named by the reference that first loaded it. refs counts the
// requests using it (including those waiting for it to load); a loaded runner
// with refs === 0 is idle and may be evicted.
const runners = new Map(); // "id|mode" -> runner, loading ones included
const runnerConfigs = new Map(); // "id|mode" -> {backend, modelID, mode, config} from _configure
let slotWaiters = []; // resolvers of requests waiting for a free runner slot
let llama;

function runnerKey(modelID, mode) {
    return `${modelID}|${mode}`;
}

async function acquireRunner(model, modelRef, mode) {
    const key = runnerKey(model.id, mode);
    for (;;) {
        const existing = runners.get(key);
        if (existing) return await joinRunner(existing);
        if (runners.size >= SLOTS) evictUnused(() => true);
        if (runners.size < SLOTS) return await joinRunner(startRunner(model, modelRef, mode, key));
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

function startRunner(model, modelRef, mode, key) {
    const config = runnerConfigs.get(key)?.config ?? {};
    const runner = {key, modelID: model.id, modelRef, mode, refs: 0, loading: true, lastUsed: new Date(),
        idleTimer: undefined, model: undefined, context: undefined, freeSequences: [], sequenceWaiters: [],
        embedQueue: Promise.resolve(), stats: newStats()};
    runners.set(key, runner);
    log(`loading ${modelRef} (${mode})`);
    runner.ready = loadRunner(runner, model, config).then(() => {
        runner.loading = false;
    }, (err) => {
        log(`loading ${modelRef} failed: ${err.message}`);
        if (runners.get(key) === runner) runners.delete(key);
        wakeSlotWaiters();
        throw new Error("failed to load model");
    });
    return runner;
}

function newStats() {
    return {promptTokens: 0, promptMs: 0, predictedTokens: 0, predictedMs: 0, decodes: 0, busySlots: 0, maxTokens: 0,
        processing: 0, deferred: 0, bucket: {promptTokens: 0, promptMs: 0, predictedTokens: 0, predictedMs: 0}};
}

// threads: 1 matters: on these 2-core machines the default thread count made
// generation about a thousand times slower.
async function loadRunner(runner, model, config) {
    const started = Date.now();
    const delay = Math.max(0, ...model.tags.map((t) => loadDelays.get(t) ?? 0));
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    runner.model = await llama.loadModel({modelPath: model.artifact.ggufPath});
    try {
        await createRunnerContext(runner, contextSizeFor(model, config, runner.model.trainContextSize));
    } catch (err) {
        await runner.model.dispose();
        throw err;
    }
    log(`loaded ${runner.modelRef} (${runner.mode}, n_ctx ${runner.contextSize}) in ${Date.now() - started} ms`);
}

// DMR passes --ctx-size from the configuration (when positive or -1), else from the
// model's packaged context size, then the runtime flags, where a later --ctx-size wins.
function contextSizeFor(model, config, trainContextSize) {
    let size = config.contextSize > 0 || config.contextSize === -1 ? config.contextSize : undefined;
    const flag = lastFlagValue(config.runtimeFlags ?? [], ["-c", "--ctx-size"]);
    if (flag !== undefined) size = flag;
    if (size === undefined) return Math.min(model.artifact.config.context_size ?? trainContextSize, MAX_DEFAULT_CONTEXT);
    return size > 0 ? size : trainContextSize;
}

function lastFlagValue(flags, names) {
    let value;
    flags.forEach((flag, i) => {
        for (const name of names) {
            if (flag === name && i + 1 < flags.length) value = Number(flags[i + 1]);
            else if (flag.startsWith(name + "=")) value = Number(flag.slice(name.length + 1));
        }
    });
    return Number.isInteger(value) ? value : undefined;
}

async function createRunnerContext(runner, size) {
    if (runner.mode === "embedding") {
        runner.context = await runner.model.createEmbeddingContext({threads: 1, contextSize: size, batchSize: size});
        runner.contextSize = size;
    } else {
        runner.context = await runner.model.createContext({threads: 1, contextSize: size, sequences: SLOTS});
        runner.contextSize = runner.context.contextSize;
        for (let i = 0; i < SLOTS; i++) runner.freeSequences.push(runner.context.getSequence());
    }
}

// The idle timeout of a runner: its keep_alive from _configure, else the default.
function keepAliveMs(runner) {
    return runnerConfigs.get(runner.key)?.config.keepAlive ?? opts.idleUnloadMs;
}

function releaseRunner(runner) {
    runner.refs--;
    if (runner.refs > 0) return;
    runner.lastUsed = new Date();
    const keepAlive = keepAliveMs(runner);
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
    log(`unloading ${runner.modelRef} (${runner.mode})`);
    disposeRunner(runner);
    wakeSlotWaiters();
}

function disposeRunner(runner) {
    return runner.ready
        .then(() => runner.context.dispose())
        .then(() => runner.model.dispose())
        .catch(() => {}); // a runner that never loaded has nothing to free
}

// Unloads the idle runners that match; runners in use or loading are left alone, as
// DMR does. Returns how many were unloaded.
function evictUnused(matches) {
    let count = 0;
    for (const runner of [...runners.values()]) {
        if (runner.refs === 0 && !runner.loading && matches(runner)) {
            unloadRunner(runner);
            count++;
        }
    }
    return count;
}

function loadedRunners() {
    return [...runners.values()].filter((r) => !r.loading);
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
    runner.stats.deferred++;
    const sequence = await acquireSequence(runner);
    runner.stats.deferred--;
    const started = performance.now();
    runner.stats.processing++;
    let result;
    let promptMs;
    try {
        result = await sample(runner, sequence, tokens, body, onText, signal, (ms) => { promptMs = ms; });
    } finally {
        runner.stats.processing--;
        await releaseSequence(runner, sequence);
    }
    const ms = performance.now() - started;
    countGeneration(runner.stats, tokens.length, promptMs ?? ms, result.count, ms - (promptMs ?? ms));
    return {text: result.text, finish: result.finish, promptTokens: tokens.length, completionTokens: result.count,
        timings: {prompt_n: tokens.length, predicted_n: result.count, predicted_ms: round(ms),
            predicted_per_second: round(result.count / (ms / 1000))}};
}

// The counters llama.cpp's /metrics reports, from what this runner served: tokens and
// milliseconds of prompt processing and generation, and its llama_decode() calls (one
// for the prompt, one for each generated token fed back). The bucket holds the same
// since the last scrape, which llama.cpp's throughput gauges cover.
function countGeneration(stats, promptTokens, promptMs, predicted, predictedMs) {
    stats.promptTokens += promptTokens;
    stats.promptMs += promptMs;
    stats.predictedTokens += predicted;
    stats.predictedMs += predictedMs;
    const decodes = 1 + Math.max(0, predicted - 1);
    stats.decodes += decodes;
    stats.busySlots += decodes * Math.max(1, stats.processing + 1);
    stats.maxTokens = Math.max(stats.maxTokens, promptTokens);
    stats.bucket.promptTokens += promptTokens;
    stats.bucket.promptMs += promptMs;
    stats.bucket.predictedTokens += predicted;
    stats.bucket.predictedMs += predictedMs;
}

// The token loop. The text is re-detokenized whole at each token, because a
// token's piece depends on its neighbours (leading spaces, UTF-8 split across
// byte tokens); only the part that can no longer change or turn out to be a
// stop string is handed to onText.
async function sample(runner, sequence, tokens, body, onText, signal, onPromptDone) {
    const stops = stopStrings(body.stop);
    const limit = Math.min(maxTokens(body), runner.contextSize - tokens.length);
    if (limit <= 0) return {text: "", count: 0, finish: "length"};
    const before = tokens.slice(-8); // lets detokenize keep the first token's leading space
    const generated = [];
    let text = "";
    let sent = 0;
    let finish = "stop";
    const started = performance.now();
    for await (const token of sequence.evaluate(tokens, samplingOptions(body))) {
        if (generated.length === 0) onPromptDone(performance.now() - started);
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
    const {body, runner} = ctx;
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
        runner.stats.processing++;
        const started = performance.now();
        try {
            data.push({embedding: normalize(await embed(runner, tokens)), index, object: "embedding"});
        } finally {
            runner.stats.processing--;
        }
        countGeneration(runner.stats, tokens.length, performance.now() - started, 0, 0);
        total += tokens.length;
    }
    // llama.cpp names the model as the request did
    sendJSON(res, 200, {model: body.model, object: "list", usage: {prompt_tokens: total, total_tokens: total}, data});
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
        return httpError(res, 404, "backend not found");
    }
    const {text: raw} = await readBody(req, MAX_BODY_BYTES);
    if (raw === null) return httpError(res, 400, "request too large");
    const body = parseJSON(raw);
    if (body === undefined || (body !== null && (typeof body !== "object" || Array.isArray(body)))) {
        return httpError(res, 400, "invalid request");
    }
    if (body?.model != null && typeof body.model !== "string") return httpError(res, 400, "invalid request");
    if (!body?.model) return httpError(res, 400, "model is required");
    const model = store.get(body.model);
    if (!model) return httpError(res, 404, notFoundText(body.model));
    if (backend !== undefined && backend !== BACKEND) {
        return httpError(res, 412, `backend "${backend}" is not installed; run: docker model install-runner --backend ${backend}`);
    }
    const endpoint = INFERENCE[params[1]];
    let runner;
    try {
        runner = await acquireRunner(model, body.model, endpoint.mode);
    } catch (err) {
        return httpError(res, 500, `unable to load runner: error waiting for runner to be ready: ${err.message}`);
    }
    try {
        if (req.headers["x-preload-only"] === "true") return res.writeHead(200, {"Content-Length": 0}).end();
        const signal = {aborted: false};
        res.on("close", () => { signal.aborted = !res.writableFinished; });
        const entry = {name: normalizeModelName(body.model, store)};
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

// The text DMR's model manager answers when a reference is not in its store.
function notFoundText(ref) {
    return `error while getting model: get model '${goQuote(ref)}': model not found`;
}

// ---------------------------------------------------------------- model management endpoints

// GET /models entries: DMR's Model (tags omitted when none).
function nativeModel(model) {
    const out = {id: model.id};
    if (model.tags.length > 0) out.tags = model.tags;
    out.created = model.artifact.created;
    out.config = model.artifact.config;
    return out;
}

// /v1/models entries: named by the first tag, with DMR's metadata.
function openAIModel(model) {
    const {config} = model.artifact;
    const dmr = {};
    if (config.context_size !== undefined) dmr.context_window = config.context_size;
    for (const key of ["architecture", "parameters", "quantization", "size"]) if (config[key]) dmr[key] = config[key];
    return {id: model.tags[0] ?? model.id, object: "model", created: model.artifact.created, owned_by: "docker", dmr};
}

function listOpenAIModels(req, res) {
    sendGo(res, 200, {object: "list", data: store.list().map(openAIModel)});
}

function getOpenAIModel(req, res, params) {
    const model = store.get(params[1]);
    if (!model) return httpError(res, 404, notFoundText(params[1]));
    sendGo(res, 200, openAIModel(model));
}

function listNativeModels(req, res) {
    sendGo(res, 200, store.list().map(nativeModel));
}

// DMR looks a name up as given, then normalized, then by its bare name part
// ("smollm2" finds "myorg/smollm2:v1"); the last miss answers "model not found".
function getNativeModel(req, res, params) {
    const ref = params[0];
    const model = store.get(ref) ??
        store.list().find((m) => m.tags.some((t) => repositoryPart(t).split("/").pop() === ref));
    if (!model) return httpError(res, 404, "model not found");
    sendGo(res, 200, nativeModel(model));
}

function repositoryPart(tag) {
    const colon = tag.lastIndexOf(":");
    return colon < 0 ? tag : tag.slice(0, colon);
}

// DMR's DeleteModel: a tag is untagged, and the model deleted once no tag is left; a
// model named by ID with several tags needs ?force. Runners are left loaded, as in DMR.
function deleteModel(req, res, params) {
    const ref = params[0];
    const force = boolQuery(req, "force");
    const normalized = normalizeModelName(ref, store);
    const model = store.read(normalized);
    if (!model) return httpError(res, 404, "error while deleting model: model not found");
    const actions = [];
    const isTag = model.id !== normalized && !ref.includes("@");
    if (isTag) {
        store.untag(normalized);
        actions.push({Untagged: normalized});
        if (model.tags.length > 1) return sendGo(res, 200, actions);
    }
    if (model.tags.length > 1 && !force) {
        return httpError(res, 409, `error while deleting model: unable to delete ${goQuote(ref)} (must be forced) ` +
            "due to multiple tag references: resource conflict");
    }
    for (const tag of store.remove(model.id)) actions.push({Untagged: tag});
    actions.push({Deleted: model.id});
    log(`deleted ${model.id}`);
    sendGo(res, 200, actions);
}

// DMR's parseBoolQueryParam: present and empty is true; otherwise strconv.ParseBool.
function boolQuery(req, name) {
    const query = new URL(req.url, "http://x").searchParams;
    if (!query.has(name)) return false;
    const value = query.get(name);
    return value === "" || ["1", "t", "T", "TRUE", "true", "True"].includes(value);
}

function refusePurge(req, res) {
    httpError(res, 501, "the DMR emulator does not purge its model store");
}

// ---------------------------------------------------------------- scheduler endpoints

// DMR's BackendStatus: loaded runners, then those loading. last_used is Go's zero time
// while a runner is in use or loading; in_use, loading and keep_alive are omitted when
// false or unset (omitempty).
function listRunners(req, res) {
    const loaded = loadedRunners().map((r) => {
        const status = {backend_name: BACKEND, model_name: r.modelRef, mode: r.mode,
            last_used: goTime(r.refs > 0 ? undefined : r.lastUsed)};
        if (r.refs > 0) status.in_use = true;
        const keepAlive = runnerConfigs.get(r.key)?.config.keepAlive;
        if (keepAlive !== undefined) status.keep_alive = keepAliveText(keepAlive);
        return status;
    });
    const loading = [...runners.values()].filter((r) => r.loading).map((r) => ({backend_name: BACKEND,
        model_name: r.modelRef, mode: r.mode, last_used: goTime(undefined), loading: true}));
    sendGo(res, 200, [...loaded, ...loading]);
}

function keepAliveText(ms) {
    return ms < 0 ? "-1" : goDurationString(ms);
}

// Reads a scheduler request body as DMR does (at most 10 MiB); answers the error and
// returns undefined when it cannot.
async function schedulerBody(req, res) {
    const {text} = await readBody(req, MAX_BODY_BYTES);
    if (text === null) httpError(res, 400, "request too large");
    return text ?? undefined;
}

// DMR's loader.Unload: configurations are forgotten (for models: only those of the
// backend named, so none when "backend" is empty), idle runners evicted; the answer
// counts the loaded runners that went.
async function unload(req, res) {
    const text = await schedulerBody(req, res);
    if (text === undefined) return;
    const request = goUnmarshal(text, {all: goTypes.bool, backend: goTypes.string, models: goTypes.strings});
    if (request === undefined) return httpError(res, 400, "invalid request");
    const backend = request.backend ?? "";
    const before = loadedRunners().length;
    if (request.all) {
        runnerConfigs.clear();
        evictUnused(() => true);
    } else {
        for (const ref of request.models ?? []) {
            const modelID = store.idOf(ref);
            for (const [key, entry] of runnerConfigs) {
                if (entry.backend === backend && entry.modelID === modelID) runnerConfigs.delete(key);
            }
            evictUnused((r) => r.modelID === modelID && (backend === "" || backend === BACKEND));
        }
    }
    sendGo(res, 200, {unloaded_runners: before - loadedRunners().length});
}

// The part of DMR's llama.cpp runtime-flag allowlist that a test or a user of this
// library may send; everything else is refused with DMR's message.
const ALLOWED_FLAGS = {
    [BACKEND]: new Set(["-t", "--threads", "-tb", "--threads-batch", "-c", "--ctx-size", "-n", "--predict",
        "--n-predict", "--keep", "-b", "--batch-size", "-ub", "--ubatch-size", "-fa", "--flash-attn", "-s", "--seed",
        "--temp", "--temperature", "--top-k", "--top-p", "--min-p", "--typical", "--repeat-last-n",
        "--repeat-penalty", "--presence-penalty", "--frequency-penalty", "--mirostat", "--ignore-eos", "-ngl",
        "--gpu-layers", "--n-gpu-layers", "-ctk", "--cache-type-k", "-ctv", "--cache-type-v", "--mlock", "--mmap",
        "--no-mmap", "--context-shift", "--no-context-shift", "-np", "--parallel", "-cb", "--cont-batching",
        "-nocb", "--no-cont-batching", "--warmup", "--no-warmup", "-to", "--timeout", "--cache-reuse", "--jinja",
        "--no-jinja", "--chat-template", "--pooling", "--reasoning-format", "--reasoning-budget", "--metrics",
        "--embedding", "--embeddings", "--rerank", "--reranking", "-v", "--verbose"]),
};

// DMR's ValidateRuntimeFlags: allowlisted keys, no flag hidden in a value, no paths.
function runtimeFlagsError(backend, flags) {
    const allowed = ALLOWED_FLAGS[backend] ?? new Set();
    for (const flag of flags) {
        if (!flag.startsWith("-")) continue;
        const key = flag.includes("=") ? flag.slice(0, flag.indexOf("=")) : flag;
        if (!allowed.has(key)) return `runtime flag ${goQuote(key)} is not allowed for backend ${goQuote(backend)}`;
    }
    for (const flag of flags) {
        const eq = flag.indexOf("=");
        const value = eq < 0 ? "" : flag.slice(eq + 1);
        if (eq >= 0 && value.startsWith("-") && !/^-[0-9]/.test(value)) {
            return `invalid flag ${goQuote(flag)}: value cannot start with '-' unless followed by a digit`;
        }
    }
    const withPath = flags.find((f) => f.includes("/") || f.includes("\\"));
    if (withPath !== undefined) {
        return `invalid runtime flag ${goQuote(withPath)}: paths are not allowed (contains '/' or '\\\\')`;
    }
    return undefined;
}

// go-shellwords' Parse, for "raw-runtime-flags": words split on blanks, quotes and
// backslashes honoured; undefined for an unclosed quote.
function shellWords(text) {
    const words = [];
    let word = "";
    let inWord = false;
    let quote;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quote) {
            if (c === quote) quote = undefined;
            else if (c === "\\" && quote === "\"" && i + 1 < text.length) word += text[++i];
            else word += c;
        } else if (c === "'" || c === "\"") {
            quote = c;
            inWord = true;
        } else if (c === "\\" && i + 1 < text.length) {
            word += text[++i];
            inWord = true;
        } else if (/\s/.test(c)) {
            if (inWord) words.push(word);
            word = "";
            inWord = false;
        } else {
            word += c;
            inWord = true;
        }
    }
    if (quote) return undefined;
    if (inWord) words.push(word);
    return words;
}

// keep_alive as DMR's KeepAlive decodes it: a JSON string, "0", "-1" or a Go duration
// (any negative one meaning never); milliseconds, -1 for never.
function keepAliveArg(value) {
    if (typeof value !== "string") return undefined;
    if (value === "0") return 0;
    if (value === "-1") return -1;
    const ms = parseGoDuration(value);
    if (ms === undefined) return undefined;
    return ms < 0 ? -1 : ms;
}

// DMR stores the configuration (replacing the runner if it is idle, 409 if it is
// busy), answers 202 and preloads the model in the background as a chat request would
// (so in completion mode, whatever mode was configured). Like DMR, it answers 202
// even for a model that is not pulled: that preload then fails.
async function configure(req, res, params) {
    const backend = params[0] ?? BACKEND;
    if (backend !== BACKEND && !UNINSTALLED_BACKENDS.has(backend)) return httpError(res, 404, "backend not found");
    const text = await schedulerBody(req, res);
    if (text === undefined) return;
    const request = goUnmarshal(text, {"model": goTypes.string,
        "mode": (v) => (typeof v === "string" && MODES.has(v) ? v : undefined),
        "raw-runtime-flags": goTypes.string, "context-size": goTypes.int32, "runtime-flags": goTypes.strings,
        "speculative": goTypes.object, "keep_alive": keepAliveArg, "vllm": goTypes.object, "llamacpp": goTypes.object});
    if (request === undefined) return httpError(res, 400, "invalid request");
    let flags = request["runtime-flags"] ?? [];
    if (flags.length === 0 && request["raw-runtime-flags"]) {
        flags = shellWords(request["raw-runtime-flags"]);
        if (flags === undefined) return httpError(res, 500, "invalid runtime flags: invalid command line string");
    }
    const flagsError = runtimeFlagsError(backend, flags);
    if (flagsError) return httpError(res, 500, flagsError);
    const mode = request.mode ?? (flags.includes("--embeddings") ? "embedding" : "completion");
    const modelRef = request.model ?? "";
    const modelID = store.idOf(modelRef);
    const config = {contextSize: request["context-size"], runtimeFlags: flags.length > 0 ? flags : undefined,
        speculative: request.speculative, keepAlive: request.keep_alive, vllm: request.vllm,
        llamacpp: request.llamacpp};
    const key = runnerKey(modelID, mode);
    if (JSON.stringify(runnerConfigs.get(key)?.config) !== JSON.stringify(config)) {
        const runner = runners.get(key);
        if (runner && !runner.loading && runner.refs === 0) unloadRunner(runner);
        if (runners.get(key) && !runners.get(key).loading) return httpError(res, 409, "runner already active");
        runnerConfigs.set(key, {backend, modelID, mode, config});
    }
    res.writeHead(202, {"Content-Length": 0}).end();
    preload(modelRef, backend);
}

async function preload(modelRef, backend) {
    const model = store.get(modelRef);
    if (!modelRef || !model || backend !== BACKEND) return log(`background preload of ${modelRef} failed`);
    try {
        releaseRunner(await acquireRunner(model, modelRef, "completion"));
    } catch (err) {
        log(`background preload of ${modelRef} failed: ${err.message}`);
    }
}

// GET /engines/_configure: DMR's ModelConfigEntry list (Go field names, no JSON tags),
// for the models still in the store; ?model= keeps that model's.
function listConfigs(req, res) {
    const wanted = new URL(req.url, "http://x").searchParams.get("model");
    const wantedID = wanted ? store.idOf(wanted) : undefined;
    const entries = [];
    for (const {backend, modelID, mode, config} of runnerConfigs.values()) {
        const model = store.get(modelID);
        if (!model || (wantedID !== undefined && modelID !== wantedID)) continue;
        const out = {};
        if (config.contextSize !== undefined) out["context-size"] = config.contextSize;
        if (config.runtimeFlags) out["runtime-flags"] = config.runtimeFlags;
        if (config.speculative) out.speculative = config.speculative;
        if (config.keepAlive !== undefined) out.keep_alive = keepAliveText(config.keepAlive);
        if (config.vllm) out.vllm = config.vllm;
        if (config.llamacpp) out.llamacpp = config.llamacpp;
        entries.push({Backend: backend, Model: model.tags[0] ?? "", ModelID: modelID, Mode: mode, Config: out});
    }
    sendGo(res, 200, entries);
}

let backendDiskUsage = 0; // bytes of the llama.cpp build in use, measured at start

function diskUsage(req, res) {
    sendGo(res, 200, {models_disk_usage: store.diskUsage(), default_backend_disk_usage: backendDiskUsage});
}

// GET /engines/status: json.Marshal of a map (sorted keys, no trailing newline).
function backendStatus(req, res) {
    const release = llama.llamaCppRelease.release;
    sendGo(res, 200, {[BACKEND]: `Running: llama.cpp ${release}`, sglang: "Not Installed", vllm: "Not Installed"}, false);
}

// ---------------------------------------------------------------- misc endpoints

function root(req, res) {
    res.writeHead(200, {"Content-Type": "text/plain; charset=utf-8"}).end("Docker Model Runner is running");
}

function version(req, res) {
    sendGo(res, 200, {version: VERSION});
}

// llama.cpp's /metrics families, in its order: name, help, type, value from a runner's
// counters. Throughputs cover the time since the last scrape, as in llama.cpp.
const METRICS = [
    ["prompt_tokens_total", "Number of prompt tokens processed.", "counter", (s) => s.promptTokens],
    ["prompt_seconds_total", "Prompt process time", "counter", (s) => Math.floor(s.promptMs) / 1e3],
    ["tokens_predicted_total", "Number of generation tokens processed.", "counter", (s) => s.predictedTokens],
    ["tokens_predicted_seconds_total", "Predict process time", "counter", (s) => Math.floor(s.predictedMs) / 1e3],
    ["n_decode_total", "Total number of llama_decode() calls", "counter", (s) => s.decodes],
    ["n_tokens_max", "Largest observed n_tokens.", "counter", (s) => s.maxTokens],
    ["prompt_tokens_seconds", "Average prompt throughput in tokens/s.", "gauge",
        (s) => (s.bucket.promptTokens ? 1e3 / Math.max(s.bucket.promptMs, 1e-3) * s.bucket.promptTokens : 0)],
    ["predicted_tokens_seconds", "Average generation throughput in tokens/s.", "gauge",
        (s) => (s.bucket.predictedTokens ? 1e3 / Math.max(s.bucket.predictedMs, 1e-3) * s.bucket.predictedTokens : 0)],
    ["requests_processing", "Number of requests processing.", "gauge", (s) => s.processing],
    ["requests_deferred", "Number of requests deferred.", "gauge", (s) => s.deferred],
    ["n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call", "gauge",
        (s) => s.busySlots / Math.max(s.decodes, 1)],
];

// DMR's aggregated metrics: each loaded runner's llama.cpp metrics (which llama.cpp
// writes with 6 significant digits), labelled with backend, model and mode, re-encoded
// by Prometheus' Go encoder; "# No active runners" when none is loaded.
function metrics(req, res) {
    const headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"};
    const active = loadedRunners();
    if (active.length === 0) return res.writeHead(200, headers).end("# No active runners\n");
    const lines = [];
    for (const [name, help, type, value] of METRICS) {
        lines.push(`# HELP llamacpp:${name} ${help}`, `# TYPE llamacpp:${name} ${type}`);
        for (const r of active) {
            const labels = `backend="${labelValue(BACKEND)}",model="${labelValue(r.modelRef)}",mode="${r.mode}"`;
            lines.push(`llamacpp:${name}{${labels}} ${goFloatG(cppStreamDouble(value(r.stats)))}`);
        }
    }
    for (const r of active) r.stats.bucket = newStats().bucket;
    res.writeHead(200, headers).end(lines.join("\n") + "\n");
}

function labelValue(text) {
    return text.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c));
}

// ---------------------------------------------------------------- HTTP plumbing

const INFERENCE_PATH = "(chat/completions|completions|embeddings)";
const ROUTES = [
    ["*", /^\/$/, root],
    ["*", /^\/version$/, version],
    ["GET", /^\/metrics$/, metrics],
    ["GET", /^\/models$/, listNativeModels],
    ["POST", /^\/models\/create$/, (req, res) => puller.handle(req, res)],
    ["DELETE", /^\/models\/purge$/, refusePurge],
    ["GET", /^\/models\/(.+)$/, getNativeModel],
    ["DELETE", /^\/models\/(.+)$/, deleteModel],
    ["GET", /^\/engines\/ps$/, listRunners],
    ["GET", /^\/engines\/df$/, diskUsage],
    ["GET", /^\/engines\/status$/, backendStatus],
    ["POST", /^\/engines\/unload$/, unload],
    ["GET", /^\/engines\/_configure$/, listConfigs],
    ["POST", /^\/engines(?:\/([^/]+))?\/_configure$/, configure],
    ["GET", /^(?:\/engines(?:\/([^/]+))?)?\/v1\/models$/, listOpenAIModels],
    ["GET", /^(?:\/engines(?:\/([^/]+))?)?\/v1\/models\/(.+)$/, getOpenAIModel],
    ["POST", new RegExp(`^(?:/engines(?:/([^/]+))?)?/v1/${INFERENCE_PATH}$`), handleInference],
];

// Go's ServeMux: a path with routes for other methods answers 405 with Allow; an
// unknown path under /models or /engines gets the sub-router's "not found", any other
// http.NotFound's "404 page not found".
async function route(req, res) {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const allowed = [];
    for (const [method, pattern, handler] of ROUTES) {
        const match = pattern.exec(path);
        if (!match) continue;
        if (method === req.method || method === "*") return await handler(req, res, match.slice(1));
        allowed.push(method);
    }
    if (allowed.length > 0) {
        res.setHeader("Allow", allowed.join(", "));
        return httpError(res, 405, "Method Not Allowed");
    }
    const subRouter = /^\/(models|engines)(\/|$)/.test(path);
    httpError(res, 404, subRouter ? "not found" : "404 page not found");
}

// llama.cpp's answers: plain JSON, no trailing newline.
function sendJSON(res, status, value) {
    res.writeHead(status, {"Content-Type": "application/json"}).end(JSON.stringify(value));
}

// DMR's own answers: Go's JSON (json.Encoder ends with a newline, json.Marshal does not).
function sendGo(res, status, value, newline = true) {
    res.writeHead(status, {"Content-Type": "application/json"}).end(goJSON(value) + (newline ? "\n" : ""));
}

function nowSeconds() {
    return Math.floor(Date.now() / 1000);
}

// Bytes under a directory, as DMR's diskusage.Size counts them.
function directorySize(dir) {
    let total = 0;
    for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) total += directorySize(full);
        else if (entry.isFile()) total += fs.statSync(full).size;
    }
    return total;
}

// ---------------------------------------------------------------- startup and shutdown

async function main() {
    llama = await getLlama({build: "never", gpu: false, logLevel: opts.verbose ? LlamaLogLevel.warn : LlamaLogLevel.error});
    backendDiskUsage = directorySize(new URL("./node_modules/@node-llama-cpp/linux-x64", import.meta.url).pathname);
    for (const {name, files} of opts.registry) {
        puller.offer(normalizeModelName(name), await loadArtifact(files.map((f) => path.resolve(f))));
    }
    for (const {name, files} of opts.models) {
        const artifact = await loadArtifact(files.map((f) => path.resolve(f)));
        store.tag(artifact, normalizeModelName(name));
        puller.offer(normalizeModelName(name), artifact);
    }
    const server = http.createServer((req, res) => {
        route(req, res).catch((err) => {
            log(`${req.method} ${req.url}: ${err.stack}`);
            if (!res.headersSent) httpError(res, 500, "internal server error");
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
