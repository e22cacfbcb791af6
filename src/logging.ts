/**
 * Structured logs: one JSON object per line (Application Insights and `grep` both read them).
 * Every line passes a scrubber, a last line of defence should a token ever reach a field.
 */
export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

export function scrubSecrets(text: string): string {
  // Every JWT starts with "eyJ": a plain substring test spares the regex on nearly every line.
  return text.includes("eyJ") ? text.replace(JWT_LIKE, "[redacted-jwt]") : text;
}

export function formatLogLine(level: LogLevel, event: string, fields: Record<string, unknown> = {}, now?: Date): string {
  const record = { time: isoTime(now ? now.getTime() : Date.now()), level, event, ...fields };
  // A replacer makes JSON.stringify call back for every key (2-3x slower); only objects can hold an Error.
  return scrubSecrets(JSON.stringify(record, hasObjectField(fields) ? jsonReplacer : undefined));
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
