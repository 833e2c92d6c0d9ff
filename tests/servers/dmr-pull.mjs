// POST /models/create for the DMR emulator: pulls a model from the emulated registry
// into the store, streaming DMR's progress messages (pkg/distribution's progress
// reporter, the model manager's pull handler): one JSON object a line, raw with
// "Accept: application/json" and HTML-escaped in text/plain otherwise; layers progress
// side by side; at most two pulls at once. The pace is set by options so that tests are
// fast and deterministic, and faults (an error line, a connection cut mid-line, a
// stall) can be injected per model.

import {AbortableOutput, readBody} from "./common.mjs";
import {goFixed, goJSON, goQuote, goTypes, goUnmarshal, htmlEscape, httpError} from "./go-wire.mjs";
import {isDockerHubName, isValidReference, normalizeModelName, repositoryOf} from "./dmr-store.mjs";

const MAXIMUM_CONCURRENT_PULLS = 2; // DMR's maximumConcurrentModelPulls
const STREAM_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive"};

// "--pull-fault NAME=KIND[@STEP][:TIMES]": KIND is error, cut or stall; STEP the number
// of progress steps sent first (default: half); TIMES how many pulls fail (default: all).
export function parsePullFault(text, steps) {
    const match = /^(error|cut|stall)(?:@(\d+))?(?::(\d+))?$/.exec(text);
    if (!match) return undefined;
    return {kind: match[1], step: match[2] === undefined ? Math.floor(steps / 2) : Number(match[2]),
        times: match[3] === undefined ? Infinity : Number(match[3])};
}

export class Puller {
    // options: {steps, stepMs, faults: Map of normalized name -> fault, log}
    constructor(store, options) {
        this.store = store;
        this.options = options;
        this.catalog = new Map(); // normalized name -> artifact a pull can fetch
        this.freeTokens = MAXIMUM_CONCURRENT_PULLS;
        this.tokenWaiters = [];
    }

    offer(name, artifact) {
        this.catalog.set(name, artifact);
    }

    async handle(req, res) {
        const aborter = new AbortController();
        res.on("close", () => aborter.abort());
        const {text} = await readBody(req, Infinity);
        const request = goUnmarshal(text, {"from": goTypes.string, "bearer-token": goTypes.string});
        if (request === undefined) return httpError(res, 400, "invalid request body");
        if (!await this.takeToken(aborter.signal)) return this.options.log("pull canceled while waiting for its turn");
        try {
            await this.pull(request.from ?? "", req, res, aborter.signal);
        } catch (err) {
            if (!aborter.signal.aborted) throw err;
        } finally {
            this.giveToken();
        }
    }

    takeToken(signal) {
        if (this.freeTokens > 0) {
            this.freeTokens--;
            return true;
        }
        return new Promise((resolve) => {
            const onAbort = () => {
                this.tokenWaiters = this.tokenWaiters.filter((w) => w !== wake);
                resolve(false);
            };
            const wake = () => {
                signal.removeEventListener("abort", onAbort);
                resolve(true);
            };
            this.tokenWaiters.push(wake);
            signal.addEventListener("abort", onAbort, {once: true});
        });
    }

    giveToken() {
        const next = this.tokenWaiters.shift();
        if (next) next();
        else this.freeTokens++;
    }

    async pull(from, req, res, signal) {
        const name = normalizeModelName(from, this.store);
        if (!isValidReference(name)) return httpError(res, 400, "Invalid model reference", STREAM_HEADERS);
        const artifact = this.catalog.get(name);
        if (!artifact) {
            const knownRepository = [...this.catalog.keys()].some((k) => repositoryOf(k) === repositoryOf(name));
            if (!knownRepository && isDockerHubName(name)) return httpError(res, 401, "Unauthorized", STREAM_HEADERS);
            return httpError(res, 404, "Model not found", STREAM_HEADERS);
        }
        const asJSON = req.headers.accept === "application/json";
        res.writeHead(200, {...STREAM_HEADERS, "Content-Type": asJSON ? "application/json" : "text/plain"});
        const out = new AbortableOutput(res, signal);
        const encode = (message) => (asJSON ? goJSON(message) : htmlEscape(goJSON(message))) + "\n";
        const send = (message) => out.write(encode(message));
        if (this.store.models.has(artifact.id)) {
            this.store.tag(artifact, name);
            await send(finalMessage("success", `Using cached model: ${artifact.config.size}`));
            return res.end();
        }
        const layers = artifact.layers.filter((l) => !this.store.blobs.has(l.digest))
            .map((layer) => ({layer, start: this.store.partial.get(layer.digest) ?? 0}));
        for (const l of layers) l.current = l.start;
        const total = artifact.layers.reduce((sum, l) => sum + l.size, 0);
        const fault = this.takeFault(name);
        const {steps, stepMs} = this.options;
        try {
            for (let step = 0; ; step++) {
                if (fault && fault.step === step) return await this.fail(fault, layers, total, out, encode, res);
                if (step === steps) break;
                await out.pause(stepMs);
                for (const l of layers) {
                    l.current = l.start + Math.round((l.layer.size - l.start) * (step + 1) / steps);
                    await send(progressMessage(l, total));
                }
            }
        } catch (err) {
            this.keepPartial(layers);
            throw err;
        }
        this.store.tag(artifact, name);
        this.options.log(`pulled ${name}`);
        await send(finalMessage("success", "Model pulled successfully"));
        res.end();
    }

    takeFault(name) {
        const fault = this.options.faults.get(name);
        if (!fault || fault.times <= 0) return undefined;
        fault.times--;
        return fault;
    }

    // What an interrupted pull leaves in DMR's store: finished layers as blobs, the
    // others as partial downloads that the next pull resumes.
    keepPartial(layers) {
        for (const {layer, current} of layers) {
            if (current >= layer.size) this.store.blobs.set(layer.digest, layer.size);
            else if (current > 0) this.store.partial.set(layer.digest, current);
        }
    }

    async fail(fault, layers, total, out, encode, res) {
        this.keepPartial(layers);
        if (fault.kind === "stall") {
            // nothing more until the client gives up, which rejects the pause
            await out.pause(2 ** 31 - 1);
        } else if (fault.kind === "cut") {
            const next = layers.find((l) => l.current < l.layer.size) ?? layers[0];
            const line = Buffer.from(encode(progressMessage({...next, current: next.current + 1}, total)));
            await out.write(line.subarray(0, Math.floor(line.length / 2)));
            res.destroy();
        } else {
            // The store's error, then (the handler's http.Error after the stream has
            // begun) the manager's wrapped error as a raw, unescaped text line.
            const failing = layers.find((l) => l.current < l.layer.size) ?? layers[0];
            const cause = `writing blob: copy blob ${goQuote(failing?.layer.digest ?? "")} to store: unexpected EOF`;
            await out.write(encode(finalMessage("error", `Error: ${cause}`)));
            res.end(`error while pulling model: writing image to store: ${cause}\n`);
        }
    }
}

// pkg/distribution's ProgressMessage, field for field (layer.id is omitted when empty).
function progressMessage({layer, current}, total) {
    return {type: "progress", message: `Downloaded: ${goFixed(current / 1024 / 1024, 2)} MB`, total,
        layer: {id: layer.digest, size: layer.size, current}, mode: "pull"};
}

function finalMessage(type, message) {
    return {type, message, total: 0, layer: {size: 0, current: 0}, mode: "pull"};
}
