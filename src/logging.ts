/**
 * Structured logs: one JSON object per line (Application Insights and `grep` both read them).
 * Every line passes a scrubber, a last line of defence should a token ever reach a field.
 */
export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

/** Longest log line written; longer records are shortened field by field (see capLine). */
export const MAX_LOG_LINE_LENGTH = 4096;
const MAX_FIELD_LENGTH = 256;
const REDACTED = "[redacted-jwt]";

/** Work counter for tests: characters the scrubber looked at (linear in the input). */
export interface ScrubStats {
  steps: number;
}

/**
 * Replaces JWT-like runs (`eyJ` + ≥4 base64url, `.`, ≥4 base64url, `.`, any base64url) with a
 * marker. A hand-written scan instead of a regex: the regex backtracked quadratically on
 * `eyJeyJeyJ…` (a 15 KB URL cost 0.4 s of CPU, anonymously). Each character is looked at a
 * bounded number of times: after a failed candidate the scan resumes at the segment end that made
 * it fail, because every `eyJ` inside that segment would fail at the same place.
 */
export function scrubSecrets(text: string, stats?: ScrubStats): string {
  // Every JWT starts with "eyJ": a plain substring test spares the scan on nearly every line.
  let start = text.indexOf("eyJ");
  if (start < 0) return text;
  let out = "";
  let copiedUpTo = 0;
  let steps = 0;
  const runEnd = (from: number): number => {
    let i = from;
    while (i < text.length && isBase64UrlChar(text.charCodeAt(i))) i++;
    steps += i - from + 1;
    return i;
  };
  while (start >= 0) {
    const first = runEnd(start + 3);
    let resumeAt = first;
    if (first - (start + 3) >= 4 && text.charCodeAt(first) === DOT) {
      const second = runEnd(first + 1);
      resumeAt = first + 1;
      if (second - (first + 1) >= 4 && text.charCodeAt(second) === DOT) {
        const third = runEnd(second + 1);
        out += text.slice(copiedUpTo, start) + REDACTED;
        copiedUpTo = third;
        resumeAt = third;
      }
    }
    start = text.indexOf("eyJ", resumeAt);
    steps += (start < 0 ? text.length : start) - resumeAt;
  }
  if (stats) stats.steps += steps;
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

const DOT = 0x2e;
function isBase64UrlChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

export function formatLogLine(level: LogLevel, event: string, fields: Record<string, unknown> = {}, now?: Date): string {
  const time = isoTime(now ? now.getTime() : Date.now());
  const frozenTail = Object.isFrozen(fields) ? tailOfFrozen(fields) : undefined;
  if (frozenTail !== undefined) {
    // Same bytes as below: the fields part was serialised and scrubbed once; a JWT-like run cannot
    // span the parts, since each is closed by JSON punctuation outside base64url.
    const line = linePrefix(time, level, event) + frozenTail;
    if (line.length <= MAX_LOG_LINE_LENGTH) return line;
  }
  let json: string;
  if (Object.hasOwn(fields, "time") || Object.hasOwn(fields, "level") || Object.hasOwn(fields, "event")) {
    // A field of the same name replaces the value in place, as the spread always did.
    json = JSON.stringify({ time, level, event, ...fields }, hasObjectField(fields) ? jsonReplacer : undefined);
  } else {
    // The usual case: the caller's fields object serialised as it is (no copy), spliced after the
    // three leading keys. `time` is ISO 8601 and `level` a LogLevel: neither needs escaping.
    // A replacer makes JSON.stringify call back for every key (2-3x slower); only objects can hold an Error.
    const rest = JSON.stringify(fields, hasObjectField(fields) ? jsonReplacer : undefined);
    json = `{"time":"${time}","level":"${level}","event":${JSON.stringify(event)}${rest.length > 2 ? `,${rest.slice(1)}` : "}"}`;
  }
  const line = scrubSecrets(json);
  return line.length <= MAX_LOG_LINE_LENGTH ? line : capLine(time, level, event, fields, line.length);
}

/**
 * A line over the cap (a hostile caller's input, a huge error): every field is cut to
 * MAX_FIELD_LENGTH after scrubbing (so no cut can leave part of a token the scrubber no longer
 * recognises), and the line says so. Still over: only the event and its original length remain.
 */
function capLine(time: string, level: LogLevel, event: string, fields: Record<string, unknown>, originalLength: number): string {
  const shortened: Record<string, unknown> = {};
  for (const key of Object.keys(fields).slice(0, 64)) {
    const value = fields[key];
    if (value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value, jsonReplacer);
    const scrubbed = text === undefined ? text : scrubSecrets(text);
    if (typeof value === "string" || (scrubbed !== undefined && scrubbed.length > MAX_FIELD_LENGTH)) {
      shortened[key.slice(0, MAX_FIELD_LENGTH)] =
        scrubbed!.length > MAX_FIELD_LENGTH ? `${scrubbed!.slice(0, MAX_FIELD_LENGTH)}…` : scrubbed;
    } else {
      shortened[key.slice(0, MAX_FIELD_LENGTH)] = scrubbed === undefined ? undefined : JSON.parse(scrubbed);
    }
  }
  const line = JSON.stringify({ time, level, event, ...shortened, truncated: true, originalLength });
  if (line.length <= MAX_LOG_LINE_LENGTH) return line;
  return JSON.stringify({ time, level, event: event.slice(0, MAX_FIELD_LENGTH), truncated: true, originalLength });
}

/**
 * A frozen fields object (a repeat caller's audit line: token-endpoint.ts) cannot change, so its
 * part of the line is made once: the JSON after the three leading keys, scrubbed. Only objects of
 * primitives (nothing nested could change under the freeze) without a reserved key qualify.
 */
const frozenTails = new WeakMap<object, string | null>();
function tailOfFrozen(fields: Record<string, unknown>): string | undefined {
  let tail = frozenTails.get(fields);
  if (tail === undefined) {
    const qualifies =
      !hasObjectField(fields) && !Object.hasOwn(fields, "time") && !Object.hasOwn(fields, "level") && !Object.hasOwn(fields, "event");
    const rest = qualifies ? JSON.stringify(fields) : "";
    tail = qualifies ? scrubSecrets(rest.length > 2 ? `,${rest.slice(1)}` : "}") : null;
    frozenTails.set(fields, tail);
  }
  return tail ?? undefined;
}

/** The line up to the event, made once per millisecond, level and event (lines of one event share it under load). */
let prefixTime = "";
let prefixLevel = "";
let prefixEvent = "";
let prefix = "";
function linePrefix(time: string, level: LogLevel, event: string): string {
  if (time !== prefixTime || level !== prefixLevel || event !== prefixEvent) {
    prefix = `{"time":"${time}","level":"${level}","event":${scrubSecrets(JSON.stringify(event))}`;
    prefixTime = time;
    prefixLevel = level;
    prefixEvent = event;
  }
  return prefix;
}

// Under load many lines share a millisecond: format each millisecond once (toISOString is ~1 µs).
let lastTimeMs = Number.NaN;
let lastTimeText = "";
function isoTime(ms: number): string {
  if (ms !== lastTimeMs) {
    lastTimeText = new Date(ms).toISOString();
    lastTimeMs = ms;
  }
  return lastTimeText;
}

function hasObjectField(fields: Record<string, unknown>): boolean {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === "object" && value !== null) return true;
  }
  return false;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, ...("code" in value ? { code: value.code } : {}) };
  return value;
}

/** Writes JSON lines through `write` (console.log by default; the Functions worker collects it). */
export function jsonLogger(write: (line: string) => void = console.log): Logger {
  return { log: (level, event, fields) => write(formatLogLine(level, event, fields)) };
}

export const silentLogger: Logger = { log() {} };
