// The DMR emulator's model store, as docker/model-runner's pkg/distribution keeps it:
// model names and references, artifacts (what a registry serves: config, layers, an ID
// derived from their content) and the local store (models, their tags, layer blobs,
// partial downloads).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import {fileDigest, ggufConfig} from "./dmr-gguf.mjs";
import {goJSON} from "./go-wire.mjs";

// ---------------------------------------------------------------- names

// DMR's normalizeModelName: hf.co is huggingface.co; no namespace means ai/ (unless the
// name starts with a registry host); no tag means :latest; the name is lower-cased, the
// tag kept. A short (12 hex) or full ID, or a "sha256:" digest, resolves to the full ID
// of a stored model when there is one.
export function normalizeModelName(raw, store) {
    let model = String(raw).trim();
    if (model === "") return model;
    if (model.startsWith("hf.co/")) model = "huggingface.co/" + model.slice("hf.co/".length);
    if (/^([0-9a-f]{12}|[0-9a-f]{64}|sha256:[0-9a-f]{64})$/.test(model)) return store?.resolveID(model) ?? model;
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

// The grammar of distribution/reference (which DMR's registry client parses names
// with): an optional registry host, lower-case path components, a tag.
const DOMAIN = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?";
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*:[\\w][\\w.-]{0,127}$`);

export function isValidReference(normalized) {
    return normalized.length <= 255 + 129 && REFERENCE.test(normalized) &&
        normalized.slice(0, normalized.lastIndexOf(":")).length <= 255;
}

// The repository part of a normalized name ("ai/smollm2" of "ai/smollm2:latest").
export function repositoryOf(normalized) {
    return normalized.slice(0, normalized.lastIndexOf(":"));
}

// Docker Hub names carry no registry host; Docker Hub answers an unknown repository
// with 401, as it cannot tell it from a private one.
export function isDockerHubName(normalized) {
    const first = normalized.split("/")[0];
    return !first.includes(".") && !first.includes(":") && first !== "localhost";
}

// ---------------------------------------------------------------- artifacts

const MEDIA_TYPES = {gguf: "application/vnd.docker.ai.gguf.v3", license: "application/vnd.docker.ai.license",
    template: "application/vnd.docker.ai.chat.template.jinja", file: "application/vnd.docker.ai.model.file"};

function mediaTypeOf(file) {
    if (file.endsWith(".gguf")) return MEDIA_TYPES.gguf;
    if (/license/i.test(path.basename(file))) return MEDIA_TYPES.license;
    if (file.endsWith(".jinja")) return MEDIA_TYPES.template;
    return MEDIA_TYPES.file;
}

const artifactsByFiles = new Map(); // "path,path" -> artifact, so one file set is one model

// An artifact is what a registry serves and the store keeps: the model config, its
// layers (one per file: the GGUF first, then extra files such as a license) and an ID,
// the digest of a manifest naming the config and layer digests. The same files give
// the same artifact, hence the same ID, under every name.
export async function loadArtifact(files) {
    const key = files.join(",");
    if (!artifactsByFiles.has(key)) artifactsByFiles.set(key, describeArtifact(files));
    return await artifactsByFiles.get(key);
}

async function describeArtifact(files) {
    const layers = [];
    for (const file of files) {
        const stat = fs.statSync(file); // a missing file is a startup error
        layers.push({digest: await fileDigest(file), size: stat.size, mediaType: mediaTypeOf(file), path: file});
    }
    const created = Math.floor(fs.statSync(files[0]).mtimeMs / 1000);
    const config = ggufConfig(files[0]);
    const configBlob = goJSON({config, descriptor: {created: new Date(created * 1000).toISOString()},
        rootfs: {type: "rootfs", diff_ids: layers.map((l) => l.digest)}});
    const manifest = goJSON({schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.docker.ai.model.config.v0.1+json", size: Buffer.byteLength(configBlob),
            digest: sha256(configBlob)},
        layers: layers.map((l) => ({mediaType: l.mediaType, size: l.size, digest: l.digest}))});
    return {id: sha256(manifest), created, config, layers, ggufPath: files[0],
        metadataBytes: Buffer.byteLength(configBlob) + Buffer.byteLength(manifest)};
}

function sha256(text) {
    return "sha256:" + crypto.createHash("sha256").update(text).digest("hex");
}

// ---------------------------------------------------------------- the local store

// The models pulled so far (each with its tags), the layer blobs on disk and the bytes
// of interrupted downloads, which a later pull resumes from.
export class Store {
    constructor() {
        this.models = new Map(); // id -> {artifact, tags: []}, in the order they arrived
        this.tags = new Map(); // normalized name -> id
        this.blobs = new Map(); // layer digest -> size, for the layers fully downloaded
        this.partial = new Map(); // layer digest -> bytes downloaded by an interrupted pull
    }

    // Adds (or moves) a tag to the artifact, storing it and its blobs if new.
    tag(artifact, name) {
        if (!this.models.has(artifact.id)) this.models.set(artifact.id, {artifact, tags: []});
        for (const layer of artifact.layers) {
            this.blobs.set(layer.digest, layer.size);
            this.partial.delete(layer.digest);
        }
        const previous = this.tags.get(name);
        if (previous === artifact.id) return;
        if (previous !== undefined) this.untag(name);
        this.tags.set(name, artifact.id);
        this.models.get(artifact.id).tags.push(name);
    }

    untag(name) {
        const id = this.tags.get(name);
        this.tags.delete(name);
        const model = this.models.get(id);
        model.tags = model.tags.filter((t) => t !== name);
    }

    // Removes a model and the blobs no other model uses; returns the tags it had.
    remove(id) {
        const {artifact, tags} = this.models.get(id);
        for (const tag of tags) this.tags.delete(tag);
        this.models.delete(id);
        const used = new Set([...this.models.values()].flatMap((m) => m.artifact.layers.map((l) => l.digest)));
        for (const layer of artifact.layers) if (!used.has(layer.digest)) this.blobs.delete(layer.digest);
        return tags;
    }

    // store.Read: a model by normalized name or by full ID.
    read(normalized) {
        const id = this.models.has(normalized) ? normalized : this.tags.get(normalized);
        return id === undefined ? undefined : {id, ...this.models.get(id)};
    }

    // The model a reference names, as DMR's GetModel finds it (normalized name or ID).
    get(ref) {
        return this.read(normalizeModelName(ref, this));
    }

    // manager.ResolveID: the model's ID, or the reference itself when none matches.
    resolveID(ref) {
        const short = ref.replace(/^sha256:/, "");
        for (const id of this.models.keys()) {
            const hex = id.slice("sha256:".length);
            if (hex === short || (short.length === 12 && hex.startsWith(short))) return id;
        }
        return undefined;
    }

    idOf(ref) {
        return this.get(ref)?.id ?? ref;
    }

    list() {
        return [...this.models.entries()].map(([id, model]) => ({id, ...model}));
    }

    // Bytes the store holds: blobs, partial downloads, configs and manifests.
    diskUsage() {
        let total = 0;
        for (const size of this.blobs.values()) total += size;
        for (const bytes of this.partial.values()) total += bytes;
        for (const {artifact} of this.models.values()) total += artifact.metadataBytes;
        return total;
    }
}
