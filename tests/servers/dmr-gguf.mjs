// What Docker Model Runner's packager records about a GGUF file: the model config that
// GET /models and the `dmr` object of /v1/models show (format, quantization, parameters,
// architecture, size, context_size, and the metadata map `gguf`), and the file's sha256,
// which is the layer's digest. DMR computes these with gpustack/gguf-parser-go (the
// version its go.mod pins), whose formats are reproduced here.
//
// The header is read here rather than with node-llama-cpp's readGgufFileInfo because Go
// formats a value by its GGUF type (a float32 as "%f", "10000.000000"), which that
// reader does not keep.

import crypto from "node:crypto";
import fs from "node:fs";

import {goFixed} from "./go-wire.mjs";

const TYPE = {UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8,
    ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12};
const MAX_ARRAY_IN_MAP = 50; // longer arrays (the vocabulary) are left out of the map

// gguf-parser-go's GGUFFileType names (the stringer of the pinned version).
const FILE_TYPES = ["MOSTLY_F32", "MOSTLY_F16", "MOSTLY_Q4_0", "MOSTLY_Q4_1", "MOSTLY_Q4_1_SOME_F16", "MOSTLY_Q4_2",
    "MOSTLY_Q4_3", "MOSTLY_Q8_0", "MOSTLY_Q5_0", "MOSTLY_Q5_1", "MOSTLY_Q2_K", "MOSTLY_Q3_K_S", "MOSTLY_Q3_K_M",
    "MOSTLY_Q3_K_L", "MOSTLY_Q4_K_S", "MOSTLY_Q4_K_M", "MOSTLY_Q5_K_S", "MOSTLY_Q5_K_M", "MOSTLY_Q6_K",
    "MOSTLY_IQ2_XXS", "MOSTLY_IQ2_XS", "MOSTLY_Q2_K_S", "MOSTLY_IQ3_XS", "MOSTLY_IQ3_XXS", "MOSTLY_IQ1_S",
    "MOSTLY_IQ4_NL", "MOSTLY_IQ3_S", "MOSTLY_IQ3_M", "MOSTLY_IQ2_S", "MOSTLY_IQ2_M", "MOSTLY_IQ4_XS", "MOSTLY_IQ1_M",
    "MOSTLY_BF16", "MOSTLY_Q4_0_4_4", "MOSTLY_Q4_0_4_8", "MOSTLY_Q4_0_8_8", "MOSTLY_TQ1_0", "MOSTLY_TQ2_0",
    "MOSTLY_MXFP4"];

// When general.file_type is missing, gguf-parser-go guesses it from the most common
// tensor type; this maps a ggml tensor type to the file type it stands for (its finer
// rules for the K-quant mixes are followed for Q4_K and Q5_K only).
const FILE_TYPE_OF_GGML_TYPE = {0: 0, 1: 1, 2: 2, 3: 3, 6: 8, 7: 9, 8: 7, 10: 10, 11: 11, 12: 15, 13: 17, 14: 18,
    16: 19, 17: 20, 18: 23, 19: 24, 20: 25, 21: 26, 22: 28, 23: 30, 29: 31, 30: 32, 34: 36, 35: 37, 39: 38};

// The sha256 of a file, as "sha256:<hex>".
export async function fileDigest(path) {
    const hash = crypto.createHash("sha256");
    for await (const chunk of fs.createReadStream(path)) hash.update(chunk);
    return "sha256:" + hash.digest("hex");
}

// DMR's config for the GGUF file at path; a file that cannot be parsed gets
// {format: "gguf"} only, as in DMR.
export function ggufConfig(path) {
    let header;
    try {
        header = readHeader(path);
    } catch {
        return {format: "gguf"};
    }
    const kv = new Map(header.kvs.map((e) => [e.key, e]));
    const architecture = kv.get("general.architecture")?.value ?? "llama";
    const params = header.tensors.reduce((sum, t) => sum + t.dims.reduce((n, d) => n * d, 1), 0);
    const config = {format: "gguf"};
    const quantization = fileType(kv, header.tensors);
    if (quantization) config.quantization = quantization;
    if (params > 0) config.parameters = unitless(formatParameters(params));
    config.architecture = architecture;
    config.size = unitless(formatBytes(header.fileSize - header.tensorDataStart));
    config.gguf = Object.fromEntries(header.kvs
        .filter((e) => e.type !== TYPE.ARRAY || e.value.length <= MAX_ARRAY_IN_MAP)
        .map((e) => [e.key, formatValue(e)])
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))); // Go sorts a map's keys
    const contextLength = Number(kv.get(`${architecture}.context_length`)?.value ?? 0);
    if (contextLength > 0 && contextLength <= 2 ** 31 - 1) config.context_size = contextLength;
    return config;
}

function fileType(kv, tensors) {
    const declared = kv.get("general.file_type");
    let type = declared ? Number(declared.value) : undefined;
    if (type === undefined || type >= FILE_TYPES.length) {
        const counts = new Map();
        for (const t of tensors) {
            if (!t.name.startsWith("token_embd") && !t.name.startsWith("blk.") && !t.name.includes("_norm") &&
                !t.name.endsWith(".weight")) continue;
            counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
        }
        const ranked = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a));
        const top = ranked[0] === 0 && ranked.length > 1 ? ranked[1] : ranked[0]; // F32 norms do not count
        const many = (ggml) => (counts.get(ggml) ?? 0) > 1;
        if (top === 12) type = many(14) ? 15 : many(11) ? 12 : 14; // Q4_K: _M with Q6_K, _S without
        else if (top === 13) type = many(14) ? 17 : 16; // Q5_K likewise
        else type = top === undefined ? undefined : FILE_TYPE_OF_GGML_TYPE[top];
    }
    return type === undefined ? undefined : FILE_TYPES[type];
}

// GGUFParametersScalar.String: decimal units, two decimals with ".00" dropped.
function formatParameters(n) {
    const units = [[1e15, "Q"], [1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    const [base, unit] = units.find(([b]) => n >= b) ?? [1, ""];
    return goFixed(n / base, 2).replace(/\.00$/, "") + " " + unit;
}

// GGUFBytesScalar.String: the first of Pi, P, Ti, T, Gi, G, Mi, M, Ki, K (binary and
// decimal interleaved, as the parser has them) that fits.
function formatBytes(n) {
    if (n === 0) return "0 B";
    const units = [[2 ** 50, "Pi"], [1e15, "P"], [2 ** 40, "Ti"], [1e12, "T"], [2 ** 30, "Gi"], [1e9, "G"],
        [2 ** 20, "Mi"], [1e6, "M"], [2 ** 10, "Ki"], [1e3, "K"]];
    const [base, unit] = units.find(([b]) => n >= b) ?? [1, ""];
    return goFixed(n / base, 2).replace(/\.00$/, "") + " " + unit + "B";
}

// DMR's normalizeUnitString: no space between a number and its unit.
function unitless(text) {
    return text.trim().replace(/([0-9]+(?:\.[0-9]+)?)\s+([A-Za-z]+)/g, "$1$2");
}

function formatValue({type, value, itemType}) {
    if (type === TYPE.ARRAY) return value.map((v) => (itemType === TYPE.ARRAY ? "" : formatScalar(itemType, v))).join(", ");
    return formatScalar(type, value);
}

function formatScalar(type, value) {
    if (type === TYPE.FLOAT32 || type === TYPE.FLOAT64) return goFixed(value, 6); // Go's %f
    return String(value);
}

// The GGUF header: typed key/value pairs, tensor infos, and where tensor data starts
// by gguf-parser-go's reckoning (which pads a full alignment when already aligned).
function readHeader(path) {
    const fd = fs.openSync(path, "r");
    try {
        const fileSize = fs.fstatSync(fd).size;
        const reader = new HeaderReader(fd);
        if (reader.bytes(4).toString("latin1") !== "GGUF") throw new Error("not a GGUF file");
        const version = reader.u32();
        if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
        const tensorCount = Number(reader.u64());
        const kvCount = Number(reader.u64());
        const kvs = [];
        for (let i = 0; i < kvCount; i++) {
            const key = reader.string();
            const type = reader.u32();
            if (type === TYPE.ARRAY) {
                const itemType = reader.u32();
                const length = Number(reader.u64());
                const value = [];
                for (let j = 0; j < length; j++) value.push(reader.value(itemType));
                kvs.push({key, type, itemType, value});
            } else {
                kvs.push({key, type, value: reader.value(type)});
            }
        }
        const tensors = [];
        for (let i = 0; i < tensorCount; i++) {
            const name = reader.string();
            const dims = [];
            for (let n = reader.u32(); n > 0; n--) dims.push(Number(reader.u64()));
            tensors.push({name, dims, type: reader.u32()});
            reader.u64(); // offset
        }
        const alignment = Number(kvs.find((e) => e.key === "general.alignment")?.value ?? 32);
        const tensorDataStart = reader.offset + alignment - (reader.offset % alignment);
        return {kvs, tensors, fileSize, tensorDataStart};
    } finally {
        fs.closeSync(fd);
    }
}

class HeaderReader {
    constructor(fd) {
        this.fd = fd;
        this.offset = 0;
    }

    bytes(n) {
        const buffer = Buffer.alloc(n);
        if (fs.readSync(this.fd, buffer, 0, n, this.offset) !== n) throw new Error("truncated GGUF header");
        this.offset += n;
        return buffer;
    }

    u32() {
        return this.bytes(4).readUInt32LE();
    }

    u64() {
        return this.bytes(8).readBigUInt64LE();
    }

    string() {
        return this.bytes(Number(this.u64())).toString("utf8");
    }

    value(type) {
        switch (type) {
            case TYPE.UINT8: return this.bytes(1).readUInt8();
            case TYPE.INT8: return this.bytes(1).readInt8();
            case TYPE.UINT16: return this.bytes(2).readUInt16LE();
            case TYPE.INT16: return this.bytes(2).readInt16LE();
            case TYPE.UINT32: return this.u32();
            case TYPE.INT32: return this.bytes(4).readInt32LE();
            case TYPE.FLOAT32: return this.bytes(4).readFloatLE();
            case TYPE.BOOL: return this.bytes(1).readUInt8() !== 0;
            case TYPE.STRING: return this.string();
            case TYPE.UINT64: return this.u64();
            case TYPE.INT64: return this.bytes(8).readBigInt64LE();
            case TYPE.FLOAT64: return this.bytes(8).readDoubleLE();
            default: throw new Error(`unknown GGUF value type ${type}`);
        }
    }
}
