// What every test server does alike: its command line, its diagnostics, request bodies
// and JSON, abortable output, a server for stalling scenarios, and listening until
// SIGTERM. Node built-ins only, like the servers.

import http from "node:http";
import {setTimeout as sleep} from "node:timers/promises";

// The server's command line: --host, --port and --verbose, plus the options in extra
// ("--name": (opts, value, die) => void, each taking one value). A mistake prints the
// message and the usage, and exits 2. Returns {opts, die, log}; log writes to stderr
// only with --verbose.
export function startup(name, usage, argv, defaults, extra = {}) {
    const die = (message) => {
        process.stderr.write(`${name}: ${message}\nusage: ${name}.mjs ${usage}\n`);
        process.exit(2);
    };
    const opts = {port: 0, host: "127.0.0.1", verbose: false, ...defaults};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) die(`${arg} needs a value`);
            return argv[++i];
        };
        if (arg === "--port") opts.port = Number(value());
        else if (arg === "--host") opts.host = value();
        else if (arg === "--verbose") opts.verbose = true;
        else if (Object.hasOwn(extra, arg)) extra[arg](opts, value(), die);
        else die(`unknown argument ${arg}`);
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) die("bad --port");
    const log = (message) => {
        if (opts.verbose) process.stderr.write(`${name}: ${message}\n`);
    };
    return {opts, die, log};
}

// Resolves to {text, size}: the body as a string (null when it is over limit) and its
// size in bytes. An oversized body is still read to its end, so that the client, still
// sending, receives the answer that refuses it instead of a reset connection. A signal,
// when given, rejects the read once the client is gone.
export function readBody(req, limit, signal) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on("data", (chunk) => {
            size += chunk.length;
            if (size <= limit) chunks.push(chunk);
        });
        req.on("end", () => resolve({text: size > limit ? null : Buffer.concat(chunks).toString("utf8"), size}));
        req.on("error", reject);
        signal?.addEventListener("abort", () => reject(signal.reason), {once: true});
    });
}

// The parsed value, or undefined for text that is not JSON.
export function parseJSON(text) {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

// Listens, then prints exactly one stdout line, "<name> listening on http://HOST:PORT",
// which tests/servers/lib.sh waits for. A listening error exits 1; SIGTERM and SIGINT
// close the server and its connections, await close() and exit 0.
export function listen(server, name, opts, log, close = async () => {}) {
    server.listen(opts.port, opts.host, () => {
        const {port} = server.address();
        const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
        process.stdout.write(`${name} listening on http://${host}:${port}\n`);
    });
    server.on("error", (err) => {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(1);
    });
    for (const signal of ["SIGTERM", "SIGINT"]) {
        process.once(signal, async () => {
            log(`${signal}: shutting down`);
            server.close();
            server.closeAllConnections();
            await close();
            process.exit(0);
        });
    }
}

// One response's output that gives up once the client is gone: every wait and write
// rejects with the signal's reason (which also clears a pending timer), so a scenario
// stops where it is.
export class AbortableOutput {
    constructor(res, signal) {
        this.res = res;
        this.signal = signal;
    }

    pause(ms) {
        return sleep(ms, undefined, {signal: this.signal});
    }

    // Resolves once the data is handed to the socket, which also holds back a long
    // oversized line while the client is not reading.
    write(data) {
        return new Promise((resolve, reject) => {
            const onAbort = () => reject(this.signal.reason);
            if (this.signal.aborted) return onAbort();
            this.signal.addEventListener("abort", onAbort, {once: true});
            this.res.write(data, () => {
                this.signal.removeEventListener("abort", onAbort);
                resolve();
            });
        });
    }

    // Writes text, cut after the second byte of the first `split` character found in it
    // (none: in one write) with `gap` ms between the halves, so that the client has to
    // join a character split across reads.
    async writeSplit(text, split, gap) {
        const bytes = Buffer.from(text);
        const at = split ? bytes.indexOf(split) : -1;
        if (at < 0) return await this.write(bytes);
        await this.write(bytes.subarray(0, at + 2));
        await this.pause(gap);
        await this.write(bytes.subarray(at + 2));
    }
}

// A server for scenarios that stall and stream. It has no timeouts: a stall must last
// until the client gives up, which is what the tests measure. Each request's
// route(req, res, signal) gets a signal that aborts once the response is done or the
// connection is gone, so that a scenario stops where it waits. An unexpected failure is
// logged and answered by internalError(res), or cuts the connection once headers went out.
export function scenarioServer(route, log, internalError) {
    const server = http.createServer({requestTimeout: 0, headersTimeout: 24 * 3600 * 1000}, (req, res) => {
        log(`${req.method} ${req.url}`);
        const aborter = new AbortController();
        res.on("close", () => {
            if (!res.writableFinished) log(`${req.method} ${req.url}: connection closed before the end`);
            aborter.abort();
        });
        res.on("error", (err) => log(`${req.method} ${req.url}: ${err.message}`));
        route(req, res, aborter.signal).catch((err) => {
            if (err.name === "AbortError" || aborter.signal.aborted) return;
            log(`${req.method} ${req.url}: ${err.stack}`);
            if (!res.headersSent) internalError(res);
            else res.destroy();
        });
    });
    server.timeout = 0;
    return server;
}
