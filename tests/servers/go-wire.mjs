// How Go's standard library writes values on the wire, for the DMR emulator, whose
// original is written in Go: encoding/json, time.Duration and time.Time strings,
// strconv's float formats, html.EscapeString and net/http's error bodies.

// encoding/json: like JSON.stringify, but <, >, & and U+2028/U+2029 are escaped as
// \u00XX (json.Marshal's default HTML-safe escaping).
export function goJSON(value) {
    return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g,
        (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

// fmt's %q for the strings the runner quotes (printable text: JSON's escaping agrees).
export function goQuote(text) {
    return JSON.stringify(String(text));
}

// html.EscapeString.
export function htmlEscape(text) {
    const map = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", "\"": "&#34;"};
    return text.replace(/[<>&'"]/g, (c) => map[c]);
}

// http.Error: text/plain, nosniff, the message and a newline. extraHeaders are those
// the handler had set before failing (they survive http.Error).
export function httpError(res, status, message, extraHeaders = {}) {
    res.writeHead(status, {...extraHeaders, "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff"}).end(message + "\n");
}

// strconv.FormatFloat(x, 'f', digits, 64): like toFixed, except that an exact tie
// rounds to even (toFixed rounds it up).
export function goFixed(x, digits) {
    const scale = 10 ** digits;
    const scaled = x * scale;
    const floor = Math.floor(scaled);
    if (scaled - floor === 0.5 && scaled / scale === x) {
        const even = floor % 2 === 0 ? floor : floor + 1;
        return (even / scale).toFixed(digits);
    }
    return x.toFixed(digits);
}

// strconv.FormatFloat(x, 'g', -1, 64): the shortest digits, in exponent form (with a
// signed exponent of at least two digits) when the exponent is below -4 or at least 6.
export function goFloatG(x) {
    if (x === 0) return Object.is(x, -0) ? "-0" : "0";
    if (Number.isNaN(x)) return "NaN";
    if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
    const [mantissa, exponentText] = x.toExponential().split("e");
    const exponent = Number(exponentText);
    if (exponent < -4 || exponent >= 6) {
        const sign = exponent < 0 ? "-" : "+";
        return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
    }
    return String(x); // JS writes the same shortest digits in plain form in this range
}

// C++ iostream's default double output (%g, 6 significant digits), as llama.cpp writes
// its metrics: the value such a line carries.
export function cppStreamDouble(x) {
    return Number(x.toPrecision(6));
}

const DURATION_UNITS = {ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000};

// time.ParseDuration, in milliseconds; undefined when Go would refuse the text.
export function parseGoDuration(text) {
    if (typeof text !== "string") return undefined;
    const match = /^([-+]?)(.*)$/.exec(text);
    const body = match[2];
    if (body === "0") return 0;
    if (body === "" || !/^((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/.test(body)) return undefined;
    let ms = 0;
    for (const [, number, unit] of body.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
        ms += Number(number) * DURATION_UNITS[unit];
    }
    return match[1] === "-" ? -ms : ms;
}

// time.Duration.String of a duration in milliseconds: "5m0s", "1h30m0s", "1.5s",
// "100ms", "0s".
export function goDurationString(ms) {
    if (ms === 0) return "0s";
    const sign = ms < 0 ? "-" : "";
    let rest = Math.abs(ms);
    if (rest < 1000) {
        if (rest >= 1) return sign + trimFraction(rest) + "ms";
        if (rest >= 1e-3) return sign + trimFraction(rest * 1e3) + "µs";
        return sign + trimFraction(rest * 1e6) + "ns";
    }
    const hours = Math.floor(rest / 3600000);
    rest -= hours * 3600000;
    const minutes = Math.floor(rest / 60000);
    rest -= minutes * 60000;
    let text = trimFraction(rest / 1000) + "s";
    if (hours > 0 || minutes > 0) text = minutes + "m" + text;
    if (hours > 0) text = hours + "h" + text;
    return sign + text;
}

function trimFraction(n) {
    return String(Number(n.toFixed(9)));
}

// time.Time's JSON form (RFC 3339 with the fraction's trailing zeros dropped), in UTC;
// the zero time is Go's "0001-01-01T00:00:00Z".
export function goTime(date) {
    if (date === undefined) return "0001-01-01T00:00:00Z";
    return date.toISOString().replace(/\.?0+Z$/, "Z").replace(/\.Z$/, "Z");
}

// json.Unmarshal into a struct: fields maps each field's JSON name to a decoder that
// returns the Go value or undefined for a JSON value of the wrong type. Keys match
// case-insensitively (an exact match first), unknown keys are ignored, a null leaves a
// field unset. Returns the fields that were set, or undefined where Go would fail.
export function goUnmarshal(text, fields) {
    let value;
    try {
        value = JSON.parse(text);
    } catch {
        return undefined;
    }
    if (value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) return undefined;
    const names = Object.keys(fields);
    const out = {};
    for (const [key, item] of Object.entries(value)) {
        const name = names.find((n) => n === key) ?? names.find((n) => n.toLowerCase() === key.toLowerCase());
        if (name === undefined || item === null) continue;
        const decoded = fields[name](item);
        if (decoded === undefined) return undefined;
        out[name] = decoded;
    }
    return out;
}

// Decoders for goUnmarshal.
export const goTypes = {
    bool: (v) => (typeof v === "boolean" ? v : undefined),
    string: (v) => (typeof v === "string" ? v : undefined),
    strings: (v) => (Array.isArray(v) && v.every((s) => s === null || typeof s === "string")
        ? v.map((s) => s ?? "") : undefined),
    int32: (v) => (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? v : undefined),
    object: (v) => (typeof v === "object" && !Array.isArray(v) ? v : undefined),
};
